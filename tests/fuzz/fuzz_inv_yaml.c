/* tests/fuzz/fuzz_inv_yaml.c: libFuzzer harness for the YAML inventory
 * reader and the vars-file reader (the same bytes go to both), with the
 * merged variables of the hosts it made. */
#include "err.h"
#include "inv_yaml.h"
#include "inventory.h"
#include "log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
    inv_load_buffer(inv, "fuzz.yml", (const char *)data, size, INV_FORMAT_YAML,
                    &e);
    for (size_t i = 0; i < inv_host_count(inv) && i < 64; i++)
        inv_host_vars(inv, inv_host_at(inv, i));
    const struct inv_host **hosts;
    size_t nh;
    struct err pe = {0};
    if (inv_select(inv, "all:!ungrouped", &hosts, &nh, &pe) == ERR_OK)
        free(hosts);
    inv_free(inv);
    json_t *vars = NULL;
    struct err ve = {0};
    inv_yaml_vars("fuzz.yml", (const char *)data, size, &vars, &ve);
    json_decref(vars);
    return 0;
}
