/* tests/unit/coordinator/test_cmd_validate.c: `drover validate` in-process:
 * valid plans say ok, a broken one lists every problem at file:line:col
 * with exit 3, usage errors exit 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd_capture.h"

static char validate_dir[64];

static void validate_write(const char *name, const char *text, char *path,
                           size_t len)
{
    snprintf(path, len, "%s/%s", validate_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_cmd_validate_ok_and_bad(void **state)
{
    (void)state;
    /* mkdtemp's template: six 'X' the call replaces */
    int n = snprintf(validate_dir, sizeof(validate_dir),
                     "/tmp/drover-test-validate-");
    memset(validate_dir + n, 'X', 6);
    validate_dir[n + 6] = '\0';
    assert_non_null(mkdtemp(validate_dir));
    char good[128], bad[128];
    validate_write("good.yml", "name: app\nsteps: [{run: 'true'}]\n", good,
                   sizeof(good));
    validate_write("bad.yml",
                   "name: app\nstrategy: {canary: x, order: up}\n"
                   "steps: [{run: 'true', on: elsewhere}]\n",
                   bad, sizeof(bad));
    char *out, *err;
    const char *ok[] = {"validate", good, NULL};
    assert_int_equal(capture_run(&cmd_validate, ok, &out, &err), EXIT_OK);
    assert_non_null(strstr(out, "good.yml: ok (plan 'app', 1 step)"));
    assert_string_equal(err, "");
    free(out);
    free(err);

    /* every problem of every plan, and the good one still says ok */
    const char *both[] = {"validate", bad, good, NULL};
    assert_int_equal(capture_run(&cmd_validate, both, &out, &err), EXIT_INPUT);
    assert_non_null(strstr(err, "bad.yml:2:20: strategy.canary must be an "
                                "integer, not 'x'"));
    assert_non_null(strstr(err, "bad.yml:2:30: strategy.order must be "
                                "inventory, sorted, reverse_sorted or "
                                "shuffle, not 'up'"));
    assert_non_null(strstr(err, "bad.yml:3:27: step 'on' must be each, once "
                                "or local, not 'elsewhere'"));
    assert_non_null(strstr(out, "good.yml: ok"));
    free(out);
    free(err);

    const char *quiet[] = {"validate", "-q", good, NULL};
    assert_int_equal(capture_run(&cmd_validate, quiet, &out, &err), EXIT_OK);
    assert_string_equal(out, "");
    free(out);
    free(err);

    char missing[160];
    snprintf(missing, sizeof(missing), "%s/none.yml", validate_dir);
    const char *gone[] = {"validate", missing, NULL};
    assert_int_equal(capture_run(&cmd_validate, gone, &out, &err), EXIT_INPUT);
    assert_non_null(strstr(err, "cannot open plan"));
    free(out);
    free(err);

    const char *none[] = {"validate", NULL};
    assert_int_equal(capture_run(&cmd_validate, none, &out, &err), EXIT_USAGE);
    assert_non_null(strstr(err, "no PLAN given"));
    free(out);
    free(err);
    const char *flag[] = {"validate", "--bogus", good, NULL};
    assert_int_equal(capture_run(&cmd_validate, flag, &out, &err), EXIT_USAGE);
    free(out);
    free(err);
    unlink(good);
    unlink(bad);
    rmdir(validate_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_validate_ok_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
