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

/* With -i the plan is also resolved: what only hosts reveal is checked. */
static void test_cmd_validate_inventory(void **state)
{
    (void)state;
    int n = snprintf(validate_dir, sizeof(validate_dir),
                     "/tmp/drover-test-validate-");
    memset(validate_dir + n, 'X', 6);
    validate_dir[n + 6] = '\0';
    assert_non_null(mkdtemp(validate_dir));
    char inv[128], plan[128], big[128];
    validate_write("hosts.ini", "[web]\nw1\nw2\n", inv, sizeof(inv));
    validate_write("p.yml", "hosts: web\nsteps: [{run: 'v {{ version }}'}]\n",
                   plan, sizeof(plan));
    validate_write("big.yml",
                   "hosts: web\nstrategy: {canary: 3}\nsteps: [{run: x}]\n",
                   big, sizeof(big));
    char *out, *err;
    /* without -i both are valid plans */
    const char *a0[] = {"validate", plan, big, NULL};
    assert_int_equal(capture_run(&cmd_validate, a0, &out, &err), EXIT_OK);
    free(out);
    free(err);
    const char *a1[] = {"validate", "-i", inv, plan, big, NULL};
    assert_int_equal(capture_run(&cmd_validate, a1, &out, &err), EXIT_INPUT);
    assert_non_null(strstr(err, "p.yml:2:9: step 'v {{ version }}', host w1: "
                                "undefined variable 'version'"));
    assert_non_null(strstr(err, "big.yml:2:20: strategy.canary is 3 hosts "
                                "but hosts 'web' selects only 2"));
    free(out);
    free(err);
    const char *a2[] = {"validate", "-i", inv, "-e", "version=1", plan, NULL};
    assert_int_equal(capture_run(&cmd_validate, a2, &out, &err), EXIT_OK);
    assert_non_null(strstr(out, "p.yml: ok (plan 'plan', 1 step, 2 hosts in "
                                "1 wave)"));
    free(out);
    free(err);
    const char *a3[] = {"validate", "-i", "/nonexistent.ini", plan, NULL};
    assert_int_equal(capture_run(&cmd_validate, a3, &out, &err), EXIT_INPUT);
    free(out);
    free(err);
    const char *a4[] = {"validate", "-e", "no-equals", plan, NULL};
    assert_int_equal(capture_run(&cmd_validate, a4, &out, &err), EXIT_USAGE);
    free(out);
    free(err);
    unlink(inv);
    unlink(plan);
    unlink(big);
    rmdir(validate_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_validate_ok_and_bad),
        cmocka_unit_test(test_cmd_validate_inventory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
