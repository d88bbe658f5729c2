/* tests/fuzz/fuzz_inv_ini.c: libFuzzer harness for the INI inventory
 * reader. The input is an inventory; its first line doubles as a host
 * pattern, and every host's merged variables are built, so the pattern
 * code and the precedence code see what the reader made. */
#include "err.h"
#include "inventory.h"
#include "log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hosts one input may make: ranges are refused past it before they are
 * built, so no input allocates much. */
enum { FUZZ_HOSTS = 2000 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (devnull == NULL) {
        devnull = fopen("/dev/null", "w");
        log_set_stream(devnull);
    }
    struct inventory *inv = inv_new();
    inv_set_host_limit(inv, FUZZ_HOSTS);
    struct err e = {0};
    inv_load_buffer(inv, "fuzz.ini", (const char *)data, size, INV_FORMAT_INI,
                    &e);
    size_t n = 0;
    while (n < size && n < 64 && data[n] != '\n' && data[n] != '\0')
        n++;
    char *pattern = xstrndup((const char *)data, n);
    const struct inv_host **hosts;
    size_t nh;
    struct err pe = {0};
    if (inv_select(inv, pattern, &hosts, &nh, &pe) == ERR_OK)
        free(hosts);
    for (size_t i = 0; i < inv_host_count(inv) && i < 64; i++)
        inv_host_vars(inv, inv_host_at(inv, i));
    free(pattern);
    inv_free(inv);
    return 0;
}
