/* tests/unit/coordinator/test_jsonout.c: JSON output redacted string by
 * string (jsonout.c): registered values and pattern rules at any depth,
 * and the encoded line still parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jsonout.h"
#include "log.h"
#include "redact.h"

#include <stdlib.h>
#include <string.h>

static void test_jsonout_print(void **state)
{
    (void)state;
    redact_set_patterns(redact_global(), true);
    redact_add(redact_global(), "jsonout-canary-77");
    json_t *ev = json_pack(
        "{s:s, s:[s, {s:s}], s:i}", "line", "Authorization: Bearer abc.def",
        "list", "x jsonout-canary-77 y", "url", "https://u:pw@h/", "n", 3);
    FILE *f = tmpfile();
    assert_non_null(f);
    jsonout_print(f, ev, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(ev);
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    assert_string_equal(s, "{\"line\":\"Authorization: [redacted]\","
                           "\"list\":[\"x [redacted] y\",{\"url\":"
                           "\"https://u:[redacted]@h/\"}],\"n\":3}\n");
    json_error_t je;
    json_t *back = json_loads(s, 0, &je);
    assert_non_null(back);
    json_decref(back);
    free(s);
    redact_set_patterns(redact_global(), false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonout_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
