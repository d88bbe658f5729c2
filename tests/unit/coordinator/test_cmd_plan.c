/* tests/unit/coordinator/test_cmd_plan.c: `drover plan` in-process over a
 * small INI inventory: waves with the canary, commands as they will run,
 * skips, the singleton holder, thresholds in words, the JSON shape, the
 * seed, secrets never printed, and the errors with their exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd_capture.h"
#include "redact.h"

#include <jansson.h>

static char cplan_dir[64];
static char cplan_inv[128];

static void cplan_write(const char *name, const char *text, char *path,
                        size_t len)
{
    snprintf(path, len, "%s/%s", cplan_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int cplan_setup(void **state)
{
    (void)state;
    /* as drover's main() does: the pattern rules on every output line */
    redact_set_patterns(redact_global(), true);
    /* mkdtemp's template: six 'X' the call replaces */
    int n = snprintf(cplan_dir, sizeof(cplan_dir), "/tmp/drover-test-cmdplan-");
    memset(cplan_dir + n, 'X', 6);
    cplan_dir[n + 6] = '\0';
    if (mkdtemp(cplan_dir) == NULL)
        return -1;
    cplan_write("hosts.ini",
                "[web]\n"
                "w1 ansible_host=127.0.9.1 tier=web\n"
                "w2 ansible_host=127.0.9.2 tier=web\n"
                "w3 ansible_host=127.0.9.3 tier=api\n"
                "w4 ansible_host=127.0.9.4 tier=web api_token=tok-SECRET-1\n",
                cplan_inv, sizeof(cplan_inv));
    return 0;
}

static int cplan_teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", cplan_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char cplan_yaml[] =
    "name: shop\n"
    "hosts: web\n"
    "strategy: {canary: 1, waves: [\"50%\"], max_fail: 1, max_fail_total: "
    "\"50%\"}\n"
    "before: [{name: migrate, run: 'migrate {{ version }}'}]\n"
    "steps:\n"
    "  - {name: deploy, run: 'deploy {{ version | quote }} on {{ wave }}',\n"
    "     secret_env: [SHOP_KEY], env: {TOKEN: '{{ api_token | default(none) "
    "}}'}}\n"
    "  - {name: api only, run: 'echo api', when: tier == 'api'}\n"
    "health: {checks: [{http: 'http://{{ address }}/h', headers: "
    "{Authorization: 'Bearer {{ api_token | default(x) }}'}}]}\n"
    "singleton: {role: cron, env: RUN_CRON}\n";

static void test_cmd_plan_text(void **state)
{
    (void)state;
    char plan[128];
    cplan_write("shop.yml", cplan_yaml, plan, sizeof(plan));
    setenv("SHOP_KEY", "shop-key-SECRET-value", 1);
    const char *args[] = {"plan", "-i",          cplan_inv, plan,
                          "-e",   "version=4.2", NULL};
    char *out, *err;
    assert_int_equal(capture_run(&cmd_plan, args, &out, &err), EXIT_OK);
    static const char *const want[] = {
        "plan 'shop' (",
        "version 4.2: 4 hosts in 3 waves",
        "wave 1, canary (1 host): w1",
        "wave 2 (2 hosts): w2 w3",
        "wave 3 (1 host): w4",
        "before wave 1, on w1:",
        "run migrate: migrate 4.2",
        "step deploy: deploy 4.2 on 2",
        "step api only: skipped (when: tier == 'api')",
        "step api only: echo api",
        "SHOP_KEY=[redacted]",
        "RUN_CRON=false",
        "RUN_CRON=true",
        "w4 (wave 3, 127.0.9.4) holds the singleton role 'cron'",
        "health: GET http://127.0.9.2/h expects status 200",
        "header Authorization: [redacted]",
        "stops if more than 1 host of a wave fails (max_fail 1)",
        "stops if more than 2 hosts fail across the deploy (max_fail_total "
        "50% of 4)",
        "counts an unreachable host as failed",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(out, want[i]) == NULL)
            fail_msg("want '%s' in:\n%s", want[i], out);
    /* secrets: the coordinator's value and a secret-looking inventory var */
    assert_null(strstr(out, "shop-key-SECRET-value"));
    assert_null(strstr(out, "tok-SECRET-1"));
    assert_string_equal(err, "");
    free(out);
    free(err);
    unsetenv("SHOP_KEY");
}

static void test_cmd_plan_json(void **state)
{
    (void)state;
    char plan[128];
    cplan_write("shuf.yml",
                "hosts: web\nstrategy: {order: shuffle, seed: 99, waves: "
                "[2], max_fail: \"100%\"}\nsteps: [{run: 'x {{ "
                "inventory_hostname }}'}]\nhealth: {checks: [{command: "
                "'pgrep app'}]}\n",
                plan, sizeof(plan));
    const char *args[] = {"plan", "--json", "-i", cplan_inv, plan, NULL};
    char *out, *err;
    assert_int_equal(capture_run(&cmd_plan, args, &out, &err), EXIT_OK);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (j == NULL)
        fail_msg("not JSON (%s): %s", je.text, out);
    assert_int_equal(json_integer_value(json_object_get(j, "seed")), 99);
    json_t *waves = json_object_get(j, "waves");
    assert_int_equal(json_array_size(waves), 2);
    assert_int_equal(json_array_size(json_array_get(waves, 0)), 2);
    const char *h0 =
        json_string_value(json_array_get(json_array_get(waves, 0), 0));
    json_t *steps = json_object_get(json_object_get(j, "steps"), h0);
    char want[64];
    snprintf(want, sizeof(want), "x %s", h0);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(steps, 0), "command")),
        want);
    json_t *health = json_object_get(json_object_get(j, "health"), h0);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(health, 0), "command")),
                        "pgrep app");
    json_t *words = json_object_get(json_object_get(j, "thresholds"), "words");
    assert_non_null(strstr(json_string_value(json_array_get(words, 0)),
                           "never stops for failed hosts"));
    /* the same seed gives the same JSON */
    char *out2, *err2;
    assert_int_equal(capture_run(&cmd_plan, args, &out2, &err2), EXIT_OK);
    assert_string_equal(out, out2);
    json_decref(j);
    free(out);
    free(err);
    free(out2);
    free(err2);
}

static void test_cmd_plan_errors(void **state)
{
    (void)state;
    char big[128], undef[128], bad[128], vars[128];
    cplan_write("big.yml",
                "hosts: web\nstrategy: {canary: 5}\nsteps: [{run: "
                "x}]\n",
                big, sizeof(big));
    cplan_write("undef.yml", "hosts: web\nsteps: [{run: 'x {{ nope }}'}]\n",
                undef, sizeof(undef));
    cplan_write("bad.yml", "steps: [{runn: x}]\n", bad, sizeof(bad));
    cplan_write("vars.yml", "a: [\n", vars, sizeof(vars));
    char *out, *err;
    const char *a1[] = {"plan", "-i", cplan_inv, big, NULL};
    assert_int_equal(capture_run(&cmd_plan, a1, &out, &err), EXIT_INPUT);
    assert_non_null(strstr(err, "big.yml:2:20: strategy.canary is 5 hosts "
                                "but hosts 'web' selects only 4"));
    free(out);
    free(err);
    const char *a2[] = {"plan", "-i", cplan_inv, undef, NULL};
    assert_int_equal(capture_run(&cmd_plan, a2, &out, &err), EXIT_INPUT);
    assert_non_null(strstr(err, "host w1: undefined variable 'nope'"));
    /* past 3 hosts the same problem is summed up */
    assert_non_null(
        strstr(err, "and 1 more host (w4): undefined variable 'nope'"));
    free(out);
    free(err);
    const char *a3[] = {"plan", "-i", cplan_inv, bad, NULL};
    assert_int_equal(capture_run(&cmd_plan, a3, &out, &err), EXIT_INPUT);
    assert_non_null(strstr(err, "bad.yml:1:10: unknown key 'runn' in a step; "
                                "did you mean 'run'?"));
    free(out);
    free(err);
    char arg[160];
    snprintf(arg, sizeof(arg), "@%s", vars);
    const char *a4[] = {"plan", "-i", cplan_inv, "-e", arg, undef, NULL};
    assert_int_equal(capture_run(&cmd_plan, a4, &out, &err), EXIT_INPUT);
    assert_non_null(strstr(err, "vars.yml:2:1:"));
    free(out);
    free(err);
    const char *a5[] = {"plan", undef, NULL};
    assert_int_equal(capture_run(&cmd_plan, a5, &out, &err), EXIT_USAGE);
    assert_non_null(strstr(err, "no inventory (-i)"));
    free(out);
    free(err);
    const char *a6[] = {"plan", "-i", cplan_inv, "-e", "=x", undef, NULL};
    assert_int_equal(capture_run(&cmd_plan, a6, &out, &err), EXIT_USAGE);
    free(out);
    free(err);
    const char *a7[] = {"plan", "-i", "/nonexistent/inv.ini", undef, NULL};
    assert_int_equal(capture_run(&cmd_plan, a7, &out, &err), EXIT_INPUT);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_plan_text),
        cmocka_unit_test(test_cmd_plan_json),
        cmocka_unit_test(test_cmd_plan_errors),
    };
    return cmocka_run_group_tests(tests, cplan_setup, cplan_teardown);
}
