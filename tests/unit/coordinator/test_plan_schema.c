/* tests/unit/coordinator/test_plan_schema.c: the whole plan schema (every
 * key issue 4 names, read into struct plan), its validation (each problem
 * with its line:col, all in one pass), when: conditions, the canary and
 * host order in wave.c, and the rollout built on them: canary_hosts,
 * on_host, when: skips, the singleton holder, the seed, -e @file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "check_command.h"
#include "check_http.h"
#include "inventory.h"
#include "notify.h"
#include "plan.h"
#include "window.h"
#include "rollout.h"
#include "template.h"
#include "when.h"
#include "wave.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct plan *schema_load(const char *yaml, struct buf *diags)
{
    struct plan *p = NULL;
    struct err e = {0};
    enum err_code rc =
        plan_load_buffer("p.yml", yaml, strlen(yaml), &p, diags, &e);
    if (diags == NULL && rc != ERR_OK)
        fail_msg("plan: %s", e.msg);
    return p;
}

static const char schema_full[] =
    "name: erp\n"
    "lock: erp-prod\n"
    "hosts: web\n"
    "require: {ticket: true, approver: yes, env: [DATABASE_URL, JWT]}\n"
    "windows: [\"Mon-Fri 09:00-16:00 Europe/Berlin\", \"22:00-02:00\"]\n"
    "strategy:\n"
    "  canary: 10%\n"
    "  canary_hosts: web\n"
    "  pause_after_canary: true\n"
    "  waves: [2, \"50%\"]\n"
    "  order: shuffle\n"
    "  seed: 18446744073709551615\n"
    "  max_fail: \"100%\"\n"
    "  max_fail_total: 3\n"
    "  unreachable: pause\n"
    "  pause: manual\n"
    "prechecks:\n"
    "  - {name: backup, run: 'test -e /b', on: once, on_host: 'web[0]'}\n"
    "  - {name: local, run: 'true', on: local}\n"
    "  - {name: each, run: df, when: \"tier == 'web' and not down\"}\n"
    "before:\n"
    "  - {name: migrate, run: alembic upgrade head, irreversible: true}\n"
    "steps:\n"
    "  - name: pull\n"
    "    run: docker pull app:{{ version }}\n"
    "    timeout: 5m\n"
    "    retries: 3\n"
    "    delay: 10s\n"
    "    ignore_errors: true\n"
    "    idempotent: true\n"
    "    env: {A: '{{ x }}', B: plain}\n"
    "    secret_env: [JWT]\n"
    "health:\n"
    "  checks:\n"
    "    - name: h\n"
    "      http: http://{{ address }}/h\n"
    "      method: HEAD\n"
    "      headers: {X-Token: abc}\n"
    "      expect: {status: 200-204, json: {status: ok}, body: fine, "
    "version: '{{ version }}'}\n"
    "    - {command: 'pgrep app', timeout: 3s}\n"
    "    - {http: 'http://x/', expect: {status: 2xx}}\n"
    "  progress_deadline: 10m\n"
    "singleton: {role: scheduler, env: ENABLE_SCHEDULER, check: {command: "
    "'pgrep sched'}}\n"
    "smoke: [{http: 'http://{{ address }}/login'}]\n"
    "rollback: {auto: false, steps: [{run: 'ln -s {{ previous_version }}'}]}\n"
    "notify: [{webhook: 'https://hooks.example.com/x', on: [start, "
    "rollback]}, {webhook: 'http://h/'}]\n";

static void test_schema_every_key(void **state)
{
    (void)state;
    struct plan *p = schema_load(schema_full, NULL);
    assert_string_equal(p->lock, "erp-prod");
    assert_true(p->require_ticket);
    assert_true(p->require_approver);
    assert_int_equal(p->nrequire_env, 2);
    assert_string_equal(p->require_env[1], "JWT");
    assert_int_equal(p->nwindows, 2);
    assert_int_equal(p->canary.percent, 10);
    assert_string_equal(p->canary_hosts, "web");
    assert_int_equal(p->canary_pos.line, 7);
    assert_true(p->pause_after_canary);
    assert_int_equal(p->nwaves, 2);
    assert_int_equal(p->order, PLAN_ORDER_SHUFFLE);
    assert_true(p->seed_set);
    assert_true(p->seed == UINT64_MAX);
    assert_int_equal(p->max_fail.percent, 100);
    assert_true(p->max_fail_total_set);
    assert_int_equal(p->max_fail_total.count, 3);
    assert_int_equal(p->unreachable, PLAN_UNREACHABLE_PAUSE);
    assert_true(p->pause_manual);

    assert_int_equal(p->nprechecks, 3);
    assert_int_equal(p->prechecks[0].on, PLAN_ON_ONCE);
    assert_string_equal(p->prechecks[0].on_host, "web[0]");
    assert_int_equal(p->prechecks[1].on, PLAN_ON_LOCAL);
    assert_int_equal(p->prechecks[2].on, PLAN_ON_EACH);
    assert_string_equal(p->prechecks[2].when, "tier == 'web' and not down");
    assert_int_equal(p->nbefore, 1);
    assert_int_equal(p->before[0].on, PLAN_ON_ONCE); /* before's default */
    assert_true(p->before[0].irreversible);

    const struct plan_step *st = &p->steps[0];
    assert_int_equal(st->timeout_ms, 300000);
    assert_int_equal(st->retries, 3);
    assert_int_equal(st->delay_ms, 10000);
    assert_true(st->ignore_errors);
    assert_true(st->idempotent);
    assert_false(st->irreversible);
    assert_string_equal(json_string_value(json_object_get(st->env, "A")),
                        "{{ x }}");
    assert_int_equal(st->nsecret_env, 1);
    assert_string_equal(st->secret_env[0], "JWT");

    assert_int_equal(p->nchecks, 3);
    const struct plan_check *pc = &p->checks[0];
    const struct check_http *c = check_http_of(pc);
    assert_ptr_equal(pc->kind, &check_http);
    assert_string_equal(c->method, "HEAD");
    assert_int_equal(c->expect_status, 200);
    assert_int_equal(c->expect_status_max, 204);
    assert_string_equal(c->expect_body, "fine");
    assert_string_equal(c->expect_version, "{{ version }}");
    assert_string_equal(
        json_string_value(json_object_get(c->expect_json, "status")), "ok");
    assert_string_equal(
        json_string_value(json_object_get(c->headers, "X-Token")), "abc");
    assert_ptr_equal(p->checks[1].kind, &check_command);
    assert_string_equal(p->checks[1].data, "pgrep app");
    assert_int_equal(p->checks[1].timeout_ms, 3000);
    assert_int_equal(check_http_of(&p->checks[2])->expect_status, 200);
    assert_int_equal(check_http_of(&p->checks[2])->expect_status_max, 299);
    assert_int_equal(p->progress_deadline_ms, 600000);

    assert_string_equal(p->singleton_role, "scheduler");
    assert_string_equal(p->singleton_env, "ENABLE_SCHEDULER");
    assert_non_null(p->singleton_check);
    assert_ptr_equal(p->singleton_check->kind, &check_command);
    assert_int_equal(p->nsmoke, 1);
    assert_false(p->rollback_auto);
    assert_int_equal(p->nrollback_steps, 1);
    assert_int_equal(p->nnotify, 2);
    assert_int_equal(p->notify[0].on, NOTIFY_START | NOTIFY_ROLLBACK);
    assert_int_equal(p->notify[1].on, NOTIFY_ALL);
    plan_free(p);
}

static void test_schema_defaults(void **state)
{
    (void)state;
    struct plan *p = schema_load("name: app\nsteps: [{run: x}]\n", NULL);
    assert_string_equal(p->lock, "app"); /* the lock is the plan name */
    assert_true(p->rollback_auto);
    assert_int_equal(p->order, PLAN_ORDER_INVENTORY);
    assert_int_equal(p->unreachable, PLAN_UNREACHABLE_FAIL);
    assert_int_equal(p->canary.count, 0);
    assert_int_equal(p->max_fail.count, 0);
    assert_false(p->max_fail_total_set);
    assert_int_equal(p->steps[0].on, PLAN_ON_EACH);
    assert_null(p->singleton_role);
    plan_free(p);
}

static void test_schema_when_list(void **state)
{
    (void)state;
    /* a list of conditions must all hold, as in Ansible */
    struct plan *p = schema_load("steps:\n  - run: x\n    when:\n"
                                 "      - tier == 'web'\n"
                                 "      - n > 1 or m is defined\n",
                                 NULL);
    assert_string_equal(p->steps[0].when,
                        "(tier == 'web') and (n > 1 or m is defined)");
    plan_free(p);
    struct buf d;
    buf_init(&d, BUF_UNLIMITED);
    assert_null(schema_load("steps: [{run: x, when: []}, {run: y, when: "
                            "[a, [b]]}, {run: z, when: [a ==]}]\n",
                            &d));
    assert_string_equal(buf_cstr(&d),
                        "p.yml:1:24: step 'when' is an empty list\n"
                        "p.yml:1:48: a 'when' condition must be a string, "
                        "not a list\n"
                        "p.yml:1:71: step 'when': column 5: expected a name, "
                        "a 'string' or a number in 'a =='\n");
    buf_release(&d);
}

static void test_schema_status_list(void **state)
{
    (void)state;
    struct plan *p = schema_load(
        "steps: [{run: x}]\n"
        "health:\n  checks:\n"
        "    - {http: 'http://h/', expect: {status: [200, 204, 3xx, "
        "'500-503']}}\n"
        "    - {http: 'http://h/', expect: {status: 200-299}}\n"
        "    - {http: 'http://h/', expect: {status: 4xx}}\n"
        "    - {http: 'http://h/', expect: {status: [2xx]}}\n",
        NULL);
    const struct check_http *c = check_http_of(&p->checks[0]);
    assert_int_equal(c->nstatuses, 4);
    assert_int_equal(c->statuses[2].lo, 300);
    assert_int_equal(c->statuses[2].hi, 399);
    assert_true(c->statuses[2].cls);
    assert_int_equal(c->statuses[3].lo, 500);
    assert_int_equal(c->statuses[3].hi, 503);
    assert_false(c->statuses[3].cls);
    /* the first element, for readers of the single value */
    assert_int_equal(c->expect_status, 200);
    assert_int_equal(c->expect_status_max, 0);
    /* a single class reads as its range, as it always has */
    static const char *const words[] = {"200, 204, 3xx or 500-503", "200-299",
                                        "400-499", "2xx"};
    static const char *const jsons[] = {
        "{\"status\": [200, 204, \"3xx\", \"500-503\"]}",
        "{\"status\": 200, \"status_max\": 299}",
        "{\"status\": 400, \"status_max\": 499}", "{\"status\": [\"2xx\"]}"};
    for (size_t i = 0; i < 4; i++) {
        char *w = check_http_status_words(check_http_of(&p->checks[i]));
        assert_string_equal(w, words[i]);
        free(w);
        json_t *ex = json_object();
        check_http_status_json(check_http_of(&p->checks[i]), ex);
        char *js = json_dumps(ex, JSON_SORT_KEYS);
        assert_string_equal(js, jsons[i]);
        free(js);
        json_decref(ex);
    }
    plan_free(p);
}

/* One invalid plan and the exact problems it must give, in order. */
struct schema_bad {
    const char *yaml;
    const char *want;
};

static const struct schema_bad schema_bads[] = {
    {"steps: [{run: x, on: everywhere}]\n",
     "p.yml:1:22: step 'on' must be each, once or local, not 'everywhere'\n"},
    {"steps: [{run: x, on: once}]\n",
     "p.yml:1:22: a step in 'steps' cannot run 'on: once' (steps run on every "
     "host of a wave: put once-per-deploy steps in 'before')\n"},
    {"steps: [{run: x, on_host: web}]\n",
     "p.yml:1:27: on_host picks the host of an 'on: once' step; this step "
     "runs on: each\n"},
    {"steps: [{run: x, when: 'a ==', retries: 101, delay: 2q}]\n",
     "p.yml:1:24: step 'when': column 5: expected a name, a 'string' or a "
     "number in 'a =='\n"
     "p.yml:1:41: step 'retries' must be between 0 and 100, not 101\n"
     "p.yml:1:53: step 'delay': bad duration '2q': unknown unit (expected "
     "e.g. 500ms, 2s, 5m, 1h, 1m30s)\n"},
    {"steps: [{run: x, env: {A: [1]}, secret_env: [A, 'B C'], "
     "ignore_errors: maybe}]\n",
     "p.yml:1:27: step 'env': the value of 'A' must be a string, not a list\n"
     "p.yml:1:49: step 'secret_env': 'B C' is not a variable name (letters, "
     "digits, '_')\n"
     "p.yml:1:72: step 'ignore_errors' must be true or false, not 'maybe'\n"},
    {"steps: [{run: x, env: {K: v}, secret_env: [K]}]\n",
     "p.yml:1:43: 'K' is in both env and secret_env of this step: a secret's "
     "value never goes in the plan\n"},
    {"steps: [{run: 'echo {{ x'}]\n",
     "p.yml:1:15: step 'run': column 6: '{{' without a closing '}}'\n"},
    {"strategy: {canary: 0, canary_hosts: web}\nsteps: [{run: x}]\n",
     "p.yml:1:37: strategy.canary_hosts is set but canary is 0\n"},
    {"strategy: {pause_after_canary: true, order: random, seed: 5, "
     "max_fail: 101%, max_fail_total: -1, unreachable: skip, pause: soon}\n"
     "steps: [{run: x}]\n",
     "p.yml:1:32: strategy.pause_after_canary needs a canary "
     "(strategy.canary or strategy.canary_hosts)\n"
     "p.yml:1:45: strategy.order must be inventory, sorted, reverse_sorted "
     "or shuffle, not 'random'\n"
     "p.yml:1:59: strategy.seed only applies to order: shuffle\n"
     "p.yml:1:72: strategy.max_fail '101%' must be a whole percentage from "
     "0% to 100%\n"
     "p.yml:1:94: strategy.max_fail_total must be between 0 and 1000000, not "
     "-1\n"
     "p.yml:1:111: strategy.unreachable must be fail or pause, not 'skip'\n"
     "p.yml:1:124: strategy.pause must be a duration (30s, 5m) or manual: "
     "bad duration 'soon': expected a number (expected e.g. 500ms, 2s, 5m, "
     "1h, 1m30s)\n"},
    {"strategy: {canary: 1.5}\nsteps: [{run: x}]\n",
     "p.yml:1:20: strategy.canary must be a whole number of hosts or \"N%\", "
     "not '1.5'\n"},
    {"strategy: {canry: 1}\nsteps: [{run: x}]\n",
     "p.yml:1:12: unknown key 'canry' in strategy; did you mean 'canary'?\n"},
    {"steps: [{run: x}]\nhealth:\n  checks:\n"
     "    - {http: h, command: c}\n"
     "    - {command: c, method: GET, expect: {status: 200}}\n"
     "    - {http: 'ftp://h/', method: FETCH, expect: {status: 600-700}}\n",
     "p.yml:4:14: check 'http' must be an http:// or https:// URL, not 'h'\n"
     "p.yml:4:26: a check has either 'http' or 'command', not both (write "
     "two checks)\n"
     "p.yml:5:28: 'method' applies to http checks only\n"
     "p.yml:5:41: 'expect' applies to http checks only (a command check "
     "passes when it exits 0)\n"
     "p.yml:6:14: check 'http' must be an http:// or https:// URL, not "
     "'ftp://h/'\n"
     "p.yml:6:34: check 'method' 'FETCH' is not one of GET, HEAD, POST, PUT, "
     "PATCH, DELETE, OPTIONS\n"
     "p.yml:6:58: expect.status range '600-700' must lie within 100-599, low "
     "to high\n"},
    {"steps: [{run: x}]\nhealth: {healthy_deadline: 5m, progress_deadline: "
     "1m}\n",
     "p.yml:2:51: health.progress_deadline is shorter than "
     "health.healthy_deadline: a wave would time out before its hosts may\n"},
    {"steps: [{run: x}]\nbefore: [{run: y, on: each}]\n",
     "p.yml:2:23: a step in 'before' cannot run 'on: each' (before runs once "
     "per deploy: use once or local; put per-host checks in prechecks)\n"},
    {"steps: [{run: x}]\nprechecks: [{run: y, on: local, when: a}]\n",
     "p.yml:2:39: 'when' tests host variables; an 'on: local' step has no "
     "host\n"},
    {"steps: [{run: x}]\nsingleton: {role: s, env: 'not ok'}\n",
     "p.yml:2:27: singleton.env 'not ok' is not a variable name\n"},
    {"steps: [{run: x}]\nsingleton: {}\n",
     "p.yml:2:12: singleton needs a 'role' (e.g. role: scheduler)\n"
     "p.yml:2:12: singleton needs an 'env' variable that tells each host "
     "whether it holds the role (e.g. env: ENABLE_SCHEDULER)\n"},
    {"steps: [{run: x}]\nrollback: {auto: sometimes}\n",
     "p.yml:2:11: rollback needs 'steps' (the commands that put a host back "
     "on previous_version)\n"
     "p.yml:2:18: rollback.auto must be true or false, not 'sometimes'\n"},
    {"steps: [{run: x}]\nnotify: [{webhook: 'ftp://x', on: [deploy]}, {}]\n",
     "p.yml:2:20: notify 'webhook' must be an http:// or https:// URL\n"
     "p.yml:2:36: notify event 'deploy' is not one of start, success, "
     "failure, rollback, pause\n"
     "p.yml:2:46: a notification needs a 'webhook' URL\n"},
    {"steps: [{run: x}]\nrequire: {ticket: 1, env: SECRET}\n",
     "p.yml:2:19: require.ticket must be true or false, not '1'\n"
     "p.yml:2:27: require.env must be a list of names such as "
     "[SECRET_KEY]\n"},
    {"steps: [{run: x}]\nwindows: [\"Mon-Fri 9-5\", \"Sun-Mon 23:00-01:00 "
     "Nowhere/City\"]\n",
     "p.yml:2:11: window 'Mon-Fri 9-5': expected a time range HH:MM-HH:MM "
     "(24-hour, e.g. 09:00-16:00)\n"
     "p.yml:2:26: window 'Sun-Mon 23:00-01:00 Nowhere/City': unknown time "
     "zone 'Nowhere/City' (a name from the tz database such as "
     "Europe/Berlin, or UTC)\n"},
};

static void test_schema_problems(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(schema_bads) / sizeof(schema_bads[0]); i++) {
        struct buf d;
        buf_init(&d, BUF_UNLIMITED);
        struct plan *p = schema_load(schema_bads[i].yaml, &d);
        if (p != NULL)
            fail_msg("case %zu loaded: %s", i, schema_bads[i].yaml);
        if (strcmp(buf_cstr(&d), schema_bads[i].want) != 0) {
            print_error("case %zu:\n%s\ngot:\n%s\nwant:\n%s", i,
                        schema_bads[i].yaml, buf_cstr(&d), schema_bads[i].want);
            failed++;
        }
        buf_release(&d);
    }
    assert_int_equal(failed, 0);
}

static void test_schema_windows(void **state)
{
    (void)state;
    struct window w;
    struct err e = {0};
    assert_int_equal(window_parse("Mon-Fri 09:00-16:00 UTC", &w, &e), ERR_OK);
    assert_int_equal(w.days, 0x3e); /* bit d: weekday d, 0 = Sunday */
    assert_int_equal(w.start_min, 540);
    assert_int_equal(w.end_min, 960);
    assert_string_equal(w.tz, "UTC");
    /* ranges wrap past Sunday, lists combine, no zone means UTC */
    assert_int_equal(window_parse("Sat-Mon,Wed 22:00-02:00", &w, &e), ERR_OK);
    assert_int_equal(w.days, (1u << 6) | 1u | (1u << 1) | (1u << 3));
    assert_int_equal(w.end_min, 120);
    assert_string_equal(w.tz, "UTC");
    assert_int_equal(window_parse("09:00-09:00", &w, &e), ERR_PARSE);
    assert_int_equal(window_parse("Mon 09:00-10:00 ../../etc/passwd", &w, &e),
                     ERR_PARSE);
    assert_int_equal(window_parse("Mon 24:30-25:00", &w, &e), ERR_PARSE);
}

/* when: conditions over a fixed set of variables. */
static json_t *schema_vars;

static json_t *schema_lookup(const char *name, void *arg)
{
    (void)arg;
    return json_object_get(schema_vars, name);
}

static void test_schema_conditions(void **state)
{
    (void)state;
    schema_vars =
        json_pack("{s:s,s:i,s:b,s:s,s:[s,s],s:n}", "tier", "web", "n", 3,
                  "flag", 0, "empty", "", "groups", "web", "db", "nothing");
    static const struct {
        const char *cond;
        bool want;
    } cases[] = {
        {"tier == 'web'", true},
        {"tier != \"web\"", false},
        {"n > 2 and n <= 3", true},
        {"n >= 4 or flag", false},
        {"not flag", true},
        {"empty", false},
        {"'db' in groups", true},
        {"'x' not in groups", true},
        {"'we' in tier", true},
        {"missing is defined", false},
        {"missing is not defined and tier == 'web'", true},
        {"(n == 3) and (tier in ['web', 'api'])", true},
        {"n == 3.0", true},
        {"nothing", false},
        {"true and not false", true},
        /* short-circuit: the undefined name is never looked at */
        {"flag and missing == 1", false},
        {"tier == 'web' or missing", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = !cases[i].want;
        struct err e = {0};
        if (when_eval(cases[i].cond, schema_lookup, NULL, &got, &e) != ERR_OK)
            fail_msg("%s: %s", cases[i].cond, e.msg);
        if (got != cases[i].want)
            fail_msg("%s: got %d", cases[i].cond, got);
    }
    static const struct {
        const char *cond;
        enum err_code rc;
        const char *msg;
    } bad[] = {
        {"missing == 1", ERR_NOTFOUND,
         "undefined variable 'missing' in condition 'missing == 1' (test it "
         "with 'missing is defined' or define it)"},
        {"", ERR_PARSE, "column 1: empty condition in ''"},
        {"tier ==", ERR_PARSE,
         "column 8: expected a name, a 'string' or a number in 'tier =='"},
        {"{{ tier }}", ERR_PARSE,
         "column 1: a condition is written without '{{ }}' (when: name == "
         "'x') in '{{ tier }}'"},
        {"tier is empty", ERR_PARSE,
         "column 9: expected 'defined' after 'is' in 'tier is empty'"},
        {"tier 'web'", ERR_PARSE,
         "column 6: unexpected text (combine tests with 'and', 'or', 'not') "
         "in 'tier 'web''"},
        {"n < 'a'", ERR_PARSE,
         "column 8: cannot order these values (compare numbers or strings) in "
         "'n < 'a''"},
        {"(tier", ERR_PARSE, "column 6: expected ')' in '(tier'"},
        {"'open", ERR_PARSE, "column 1: unterminated string in ''open'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bool got;
        struct err e = {0};
        enum err_code rc =
            when_eval(bad[i].cond, schema_lookup, NULL, &got, &e);
        if (rc != bad[i].rc || strcmp(e.msg, bad[i].msg) != 0)
            fail_msg("%s: rc %d '%s'", bad[i].cond, rc, e.msg);
    }
    /* deep nesting is an error, not a stack overflow */
    char deep[200];
    memset(deep, '(', 100);
    deep[100] = 'n';
    memset(deep + 101, ')', 98);
    deep[199] = '\0';
    bool got;
    struct err e = {0};
    assert_int_equal(when_eval(deep, schema_lookup, NULL, &got, &e), ERR_PARSE);
    json_decref(schema_vars);
}

/* (hosts, canary, waves) -> sizes: the canary is a wave of its own and
 * the spec's percentages stay percentages of every host targeted. */
static void test_schema_canary_waves(void **state)
{
    (void)state;
    static const struct {
        size_t nhosts;
        struct plan_wave canary;
        struct plan_wave spec[3];
        size_t nspec;
        const char *want;
    } cases[] = {
        {10, {1, 0}, {{0, 0}}, 0, "1 9"},
        {10, {1, 0}, {{2, 0}, {0, 50}}, 2, "1 2 5 2"},
        {10, {0, 10}, {{0, 30}}, 1, "1 3 3 3"},
        {5, {0, 10}, {{1, 0}}, 1, "1 1 1 1 1"}, /* 10% of 5 floors to 1 */
        {1, {1, 0}, {{0, 0}}, 0, "1"},          /* single-node canary */
        {3, {3, 0}, {{1, 0}}, 1, "3"},
        {4, {0, 0}, {{0, 25}, {0, 50}}, 2, "1 2 1"},
        {7, {2, 0}, {{0, 100}}, 1, "2 5"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t nc = wave_canary_size(&cases[c].canary, cases[c].nhosts);
        size_t nw = 0;
        size_t *s = wave_sizes_canary(cases[c].nhosts, nc, cases[c].spec,
                                      cases[c].nspec, &nw);
        char got[128] = "";
        size_t len = 0;
        for (size_t i = 0; i < nw; i++)
            len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%zu",
                                    i ? " " : "", s[i]);
        if (strcmp(got, cases[c].want) != 0)
            fail_msg("case %zu: got '%s' want '%s'", c, got, cases[c].want);
        free(s);
    }
    struct plan_wave none = {0, 0}, big = {5, 0};
    assert_int_equal(wave_canary_size(&none, 10), 0);
    assert_int_equal(wave_canary_size(&big, 3), 5); /* caller reports */
}

static void test_schema_body_regex(void **state)
{
    (void)state;
    struct plan *p = schema_load(
        "steps: [{run: x}]\n"
        "health:\n"
        "  checks:\n"
        "    - http: http://h/health\n"
        "      expect: {body_regex: '\"status\": *\"(ok|healthy)\"'}\n",
        NULL);
    assert_string_equal(check_http_of(&p->checks[0])->expect_body_regex,
                        "\"status\": *\"(ok|healthy)\"");
    plan_free(p);
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    assert_null(schema_load("steps: [{run: x}]\n"
                            "health:\n"
                            "  checks:\n"
                            "    - http: http://h/health\n"
                            "      expect: {body_regex: 'ok(('}\n",
                            &diags));
    assert_non_null(strstr(buf_cstr(&diags), "p.yml:5:"));
    assert_non_null(strstr(buf_cstr(&diags), "expect.body_regex:"));
    buf_release(&diags);
}

static void test_schema_order(void **state)
{
    (void)state;
    const char *names[] = {"web10", "web2", "db1", "web1", "api"};
    size_t idx[5];
    char got[64];
#define ORDER(o, seed)                                                         \
    do {                                                                       \
        for (size_t i = 0; i < 5; i++)                                         \
            idx[i] = i;                                                        \
        wave_order(idx, names, 5, (o), (seed));                                \
        size_t len = 0;                                                        \
        for (size_t i = 0; i < 5; i++)                                         \
            len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s",      \
                                    i ? " " : "", names[idx[i]]);              \
    } while (0)
    ORDER(PLAN_ORDER_INVENTORY, 0);
    assert_string_equal(got, "web10 web2 db1 web1 api");
    ORDER(PLAN_ORDER_SORTED, 0);
    assert_string_equal(got, "api db1 web1 web10 web2");
    ORDER(PLAN_ORDER_REVERSE_SORTED, 0);
    assert_string_equal(got, "web2 web10 web1 db1 api");
    ORDER(PLAN_ORDER_SHUFFLE, 42);
    char first[64];
    memcpy(first, got, sizeof(got));
    ORDER(PLAN_ORDER_SHUFFLE, 42);
    assert_string_equal(got, first); /* same seed, same order */
    /* a permutation: every host exactly once */
    bool seen[5] = {false};
    for (size_t i = 0; i < 5; i++) {
        assert_false(seen[idx[i]]);
        seen[idx[i]] = true;
    }
    /* different seeds reach different orders */
    bool differs = false;
    for (uint64_t s = 1; s < 20 && !differs; s++) {
        ORDER(PLAN_ORDER_SHUFFLE, s);
        differs = strcmp(got, first) != 0;
    }
    assert_true(differs);
#undef ORDER
}

static const char schema_ini[] = "[web]\n"
                                 "w1 tier=web\n"
                                 "w2 tier=web\n"
                                 "w3 tier=api\n"
                                 "w4 tier=web\n"
                                 "[pick]\n"
                                 "w3\n"
                                 "w4\n"
                                 "[other]\n"
                                 "x1\n";

static struct inventory *schema_inventory(void)
{
    struct inventory *inv = inv_new();
    struct err e = {0};
    if (inv_load_buffer(inv, "hosts.ini", schema_ini, strlen(schema_ini),
                        INV_FORMAT_INI, &e) != ERR_OK)
        fail_msg("inventory: %s", e.msg);
    return inv;
}

static void test_schema_rollout(void **state)
{
    (void)state;
    struct inventory *inv = schema_inventory();
    struct plan *p = schema_load(
        "hosts: web\n"
        "strategy: {canary: 1, canary_hosts: pick, waves: [2]}\n"
        "prechecks:\n"
        "  - {name: once, run: 'echo {{ inventory_hostname }}', on: once,\n"
        "     on_host: 'w2:w4'}\n"
        "  - {name: here, run: 'echo {{ inventory_hostname }} "
        "{{ deploy_id }}', on: local}\n"
        "before: [{run: 'migrate {{ version }}'}]\n"
        "steps:\n"
        "  - {name: a, run: 'echo {{ tier }}', when: \"tier == 'web'\"}\n"
        "  - {name: b, run: 'echo {{ undefined_but_skipped }}',\n"
        "     when: tier == 'none'}\n"
        "  - {name: c, run: 'run', env: {W: 'wave{{ wave }}'}}\n"
        "health: {checks: [{http: 'http://{{ address }}/', headers: {X: "
        "'{{ tier }}'}, expect: {version: '{{ version }}'}}]}\n"
        "singleton: {role: s, env: S}\n"
        "rollback: {steps: [{run: 'back {{ previous_version }}'}]}\n",
        NULL);
    json_t *extra = json_pack("{s:s}", "version", "9");
    struct rollout_input in = {
        .extra = extra, .previous_version = "8", .deploy_id = "DEP-1"};
    struct rollout *ro = NULL;
    struct err e = {0};
    struct buf d;
    buf_init(&d, BUF_UNLIMITED);
    if (rollout_new_input(p, inv, &in, &ro, &d, &e) != ERR_OK)
        fail_msg("rollout: %s", buf_cstr(&d));
    /* canary: the first host in order that `pick` matches, alone */
    assert_true(ro->has_canary);
    assert_int_equal(ro->nwaves, 3);
    assert_int_equal(ro->wave_sizes[0], 1);
    assert_string_equal(ro->hosts[0].name, "w3");
    assert_string_equal(ro->hosts[1].name, "w1");
    assert_string_equal(ro->hosts[2].name, "w2");
    assert_string_equal(ro->hosts[3].name, "w4");
    /* when: skipped steps are not rendered, so undefined names are fine */
    assert_true(ro->hosts[0].steps[0].skip);
    assert_null(ro->hosts[0].steps[0].command);
    assert_false(ro->hosts[1].steps[0].skip);
    assert_string_equal(ro->hosts[1].steps[0].command, "echo web");
    assert_string_equal(ro->hosts[1].steps[0].command, "echo web");
    assert_true(ro->hosts[1].steps[1].skip);
    assert_string_equal(
        json_string_value(json_object_get(ro->hosts[3].steps[2].env, "W")),
        "wave3");
    /* once: the first host in wave order that on_host matches */
    assert_int_equal(ro->nprechecks_once, 2);
    assert_int_equal(ro->prechecks_once[0].host, 2);
    assert_string_equal(ro->prechecks_once[0].cmd.command, "echo w2");
    assert_int_equal(ro->prechecks_once[1].host, -1);
    assert_string_equal(ro->prechecks_once[1].cmd.command,
                        "echo localhost DEP-1");
    assert_int_equal(ro->nbefore, 1);
    assert_int_equal(ro->before[0].host, 0);
    assert_string_equal(ro->before[0].cmd.command, "migrate 9");
    /* checks */
    const struct check_http_host *hc = ro->hosts[0].health[0].host;
    assert_string_equal(hc->url, "http://w3/");
    assert_string_equal(hc->url, "http://w3/");
    assert_int_equal(hc->nheaders, 1);
    assert_string_equal(hc->headers[0], "X: api");
    assert_string_equal(hc->version, "9");
    assert_string_equal(ro->hosts[2].rollback[0].command, "back 8");
    /* any host may hold the role; without a check the last one does */
    assert_int_equal(ro->singleton_host, 3);
    assert_true(ro->hosts[3].singleton);
    assert_false(ro->hosts[0].singleton);
    for (size_t i = 0; i < ro->nhosts; i++)
        assert_true(ro->hosts[i].singleton_eligible);
    rollout_free(ro);
    /* singleton.hosts: only the hosts it matches may hold it */
    plan_free(p);
    p = schema_load("hosts: web\nsteps: [{run: x}]\n"
                    "singleton: {role: s, env: S, hosts: 'w1:w2'}\n",
                    NULL);
    assert_string_equal(p->singleton_hosts, "w1:w2");
    assert_int_equal(p->singleton_hosts_pos.line, 3);
    if (rollout_new_input(p, inv, &in, &ro, &d, &e) != ERR_OK)
        fail_msg("rollout: %s", buf_cstr(&d));
    for (size_t i = 0; i < ro->nhosts; i++)
        assert_int_equal(ro->hosts[i].singleton_eligible,
                         strcmp(ro->hosts[i].name, "w1") == 0 ||
                             strcmp(ro->hosts[i].name, "w2") == 0);
    assert_true(ro->hosts[ro->singleton_host].singleton_eligible);
    rollout_free(ro);
    plan_free(p);
    json_decref(extra);
    buf_release(&d);
    inv_free(inv);
}

/* Contradictions only the inventory can reveal, each at file:line:col. */
static void test_schema_rollout_problems(void **state)
{
    (void)state;
    struct inventory *inv = schema_inventory();
    static const struct {
        const char *yaml;
        const char *want;
    } cases[] = {
        {"hosts: web\nstrategy: {canary: 5}\nsteps: [{run: x}]\n",
         "p.yml:2:20: strategy.canary is 5 hosts but hosts 'web' selects "
         "only 4\n"},
        {"hosts: web\nstrategy: {canary_hosts: other}\nsteps: [{run: x}]\n",
         "p.yml:2:26: strategy.canary_hosts 'other' matches none of the "
         "hosts this plan targets\n"},
        {"hosts: web\nstrategy: {canary: 3, canary_hosts: pick}\n"
         "steps: [{run: x}]\n",
         "p.yml:2:20: strategy.canary is 3 hosts but canary_hosts 'pick' "
         "matches only 2\n"},
        {"hosts: web\nbefore: [{run: x, on_host: x1}]\nsteps: [{run: x}]\n",
         "p.yml:2:10: on_host, host x1: the pattern matches none of the "
         "hosts this plan targets\n"},
        {"hosts: 'w1'\nsteps: [{run: x, when: nope == 1}]\n",
         "p.yml:2:9: step 'x', host w1: undefined variable 'nope' in "
         "condition 'nope == 1' (test it with 'nope is defined' or define "
         "it)\n"},
        {"hosts: web\nsteps: [{run: x}]\n"
         "singleton: {role: s, env: S, hosts: other}\n",
         "p.yml:3:37: singleton.hosts 'other' matches none of the hosts "
         "this plan targets (hosts 'web'): no host could hold the role\n"},
        {"hosts: 'w1'\nsteps: [{run: x}]\n"
         "rollback: {steps: [{run: 'v {{ previous_version }}'}]}\n",
         "p.yml:3:20: rollback step 'v {{ previous_version }}', host w1: "
         "previous_version is unknown: no successful deploy of plan 'plan' "
         "is recorded yet; pass -e previous_version=RELEASE (the release a "
         "rollback restores)\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct plan *p = schema_load(cases[i].yaml, NULL);
        struct rollout *ro = NULL;
        struct err e = {0};
        struct buf d;
        buf_init(&d, BUF_UNLIMITED);
        assert_int_not_equal(rollout_new(p, inv, NULL, &ro, &d, &e), ERR_OK);
        assert_null(ro);
        if (strcmp(buf_cstr(&d), cases[i].want) != 0)
            fail_msg("case %zu: got\n%s\nwant\n%s", i, buf_cstr(&d),
                     cases[i].want);
        buf_release(&d);
        plan_free(p);
    }
    inv_free(inv);
}

static void test_schema_shuffle_seed(void **state)
{
    (void)state;
    struct inventory *inv = schema_inventory();
    struct plan *p = schema_load("hosts: web\nstrategy: {order: shuffle, "
                                 "seed: 7, waves: [1]}\nsteps: [{run: x}]\n",
                                 NULL);
    struct rollout *a = NULL, *b = NULL;
    struct err e = {0};
    assert_int_equal(rollout_new(p, inv, NULL, &a, NULL, &e), ERR_OK);
    assert_int_equal(rollout_new(p, inv, NULL, &b, NULL, &e), ERR_OK);
    assert_true(a->seed == 7);
    for (size_t i = 0; i < a->nhosts; i++)
        assert_string_equal(a->hosts[i].name, b->hosts[i].name);
    rollout_free(a);
    rollout_free(b);
    plan_free(p);
    /* without a seed one is chosen and recorded */
    p = schema_load("hosts: web\nstrategy: {order: shuffle}\n"
                    "steps: [{run: x}]\n",
                    NULL);
    assert_int_equal(rollout_new(p, inv, NULL, &a, NULL, &e), ERR_OK);
    uint64_t seed = a->seed;
    rollout_free(a);
    plan_free(p);
    char yaml[160];
    snprintf(yaml, sizeof(yaml),
             "hosts: web\nstrategy: {order: shuffle, seed: %llu}\n"
             "steps: [{run: x}]\n",
             (unsigned long long)seed);
    p = schema_load(yaml, NULL);
    assert_int_equal(rollout_new(p, inv, NULL, &b, NULL, &e), ERR_OK);
    assert_true(b->seed == seed);
    rollout_free(b);
    plan_free(p);
    inv_free(inv);
}

static void test_schema_extra_files(void **state)
{
    (void)state;
    /* mkdtemp's template: six 'X' the call replaces */
    char dir[64];
    int n = snprintf(dir, sizeof(dir), "/tmp/drover-test-schema-");
    memset(dir + n, 'X', 6);
    dir[n + 6] = '\0';
    assert_non_null(mkdtemp(dir));
    char yml[128], jsn[128], bad[128];
    snprintf(yml, sizeof(yml), "%s/v.yml", dir);
    snprintf(jsn, sizeof(jsn), "%s/v.json", dir);
    snprintf(bad, sizeof(bad), "%s/bad.yml", dir);
    FILE *f = fopen(yml, "w");
    fputs("version: 2.0\nlist: [a, b]\nname: from-yaml\n", f);
    fclose(f);
    f = fopen(jsn, "w");
    fputs("{\"name\": \"from-json\", \"n\": 3}", f);
    fclose(f);
    f = fopen(bad, "w");
    fputs("a: 1\n  b: [\n", f);
    fclose(f);
    json_t *obj = json_object();
    struct err e = {0};
    char arg[160];
    snprintf(arg, sizeof(arg), "@%s", yml);
    assert_int_equal(rollout_extra_var(obj, arg, &e), ERR_OK);
    assert_true(json_is_real(json_object_get(obj, "version")));
    assert_int_equal(json_array_size(json_object_get(obj, "list")), 2);
    /* later -e win, as on Ansible's command line */
    snprintf(arg, sizeof(arg), "@%s", jsn);
    assert_int_equal(rollout_extra_var(obj, arg, &e), ERR_OK);
    assert_string_equal(json_string_value(json_object_get(obj, "name")),
                        "from-json");
    assert_int_equal(rollout_extra_var(obj, "name=cli", &e), ERR_OK);
    assert_string_equal(json_string_value(json_object_get(obj, "name")), "cli");
    snprintf(arg, sizeof(arg), "@%s", bad);
    assert_int_equal(rollout_extra_var(obj, arg, &e), ERR_PARSE);
    assert_non_null(strstr(e.msg, "bad.yml:2:"));
    struct err e2 = {0};
    assert_int_equal(rollout_extra_var(obj, "@/nonexistent/v.yml", &e2),
                     ERR_SYS);
    struct err e3 = {0};
    assert_int_equal(rollout_extra_var(obj, "@", &e3), ERR_USAGE);
    json_decref(obj);
    unlink(yml);
    unlink(jsn);
    unlink(bad);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_every_key),
        cmocka_unit_test(test_schema_defaults),
        cmocka_unit_test(test_schema_when_list),
        cmocka_unit_test(test_schema_status_list),
        cmocka_unit_test(test_schema_problems),
        cmocka_unit_test(test_schema_windows),
        cmocka_unit_test(test_schema_conditions),
        cmocka_unit_test(test_schema_canary_waves),
        cmocka_unit_test(test_schema_order),
        cmocka_unit_test(test_schema_body_regex),
        cmocka_unit_test(test_schema_rollout),
        cmocka_unit_test(test_schema_rollout_problems),
        cmocka_unit_test(test_schema_shuffle_seed),
        cmocka_unit_test(test_schema_extra_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
