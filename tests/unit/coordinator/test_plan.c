/* tests/unit/coordinator/test_plan.c: the plan reader against the fixtures
 * in tests/data/plan/. Each X.yml has an X.expect: for ok_* the plan as
 * read (every field, defaults included), for bad_* the exact diagnostic
 * lines. Both plan_load and plan_load_buffer must give the same. The
 * remaining tests cover what fixtures cannot: I/O errors and limits.
 *
 * When the plan language changes on purpose, PLAN_FIXTURES_UPDATE=1 rewrites
 * every .expect from what the reader says now: review `git diff` after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "check_command.h"
#include "check_http.h"
#include "plan.h"

#include "extravars.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Fixtures are named relative to this directory, which the tests chdir to
 * ($TOP/tests/data/plan; tests/run.sh sets TOP). */
static const char plan_data_dir[] = "tests/data/plan";

static int plan_setup(void **state)
{
    (void)state;
    const char *top = getenv("TOP");
    if (top != NULL && chdir(top) != 0)
        return -1;
    if (chdir(plan_data_dir) != 0) {
        fprintf(stderr,
                "test_plan: cannot find %s (run from the top of the "
                "tree or set TOP)\n",
                plan_data_dir);
        return -1;
    }
    return 0;
}

static char *plan_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    if (len != NULL)
        *len = b.len;
    if (b.data == NULL)
        buf_adds(&b, "");
    return buf_detach(&b);
}

static void plan_dump_ms(struct buf *b, const char *what, int64_t ms)
{
    buf_printf(b, "%s: %" PRId64 "ms\n", what, ms);
}

static void plan_dump_json(struct buf *b, const char *what, const json_t *v)
{
    if (v == NULL)
        return;
    char *s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    buf_printf(b, "%s: %s\n", what, s);
    free(s);
}

static void plan_dump_str(struct buf *b, const char *what, const char *s)
{
    if (s != NULL)
        buf_printf(b, "%s: %s\n", what, s);
}

static void plan_dump_count(struct buf *b, const char *what,
                            const struct plan_wave *w)
{
    if (w->percent > 0)
        buf_printf(b, "%s: %d%%\n", what, w->percent);
    else
        buf_printf(b, "%s: %d\n", what, w->count);
}

static void plan_dump_names(struct buf *b, const char *what, char *const *v,
                            size_t n)
{
    if (n == 0)
        return;
    buf_printf(b, "%s:", what);
    for (size_t i = 0; i < n; i++)
        buf_printf(b, " %s", v[i]);
    buf_adds(b, "\n");
}

static void plan_dump_steps(struct buf *b, const char *list,
                            const struct plan_step *steps, size_t n)
{
    static const char *const on[] = {"each", "once", "local"};
    for (size_t i = 0; i < n; i++) {
        const struct plan_step *st = &steps[i];
        buf_printf(b, "%s %zu at %d:%d\n  name: %s\n  run: %s\n  on: %s\n",
                   list, i + 1, st->pos.line, st->pos.col, st->name, st->run,
                   on[st->on]);
        plan_dump_ms(b, "  timeout", st->timeout_ms);
        plan_dump_str(b, "  on_host", st->on_host);
        plan_dump_str(b, "  when", st->when);
        if (st->retries != 0 || st->delay_ms != 0) {
            buf_printf(b, "  retries: %d\n", st->retries);
            plan_dump_ms(b, "  delay", st->delay_ms);
        }
        plan_dump_json(b, "  env", st->env);
        plan_dump_names(b, "  secret_env", st->secret_env, st->nsecret_env);
        if (st->ignore_errors || st->idempotent || st->irreversible)
            buf_printf(b, "  flags:%s%s%s\n",
                       st->ignore_errors ? " ignore_errors" : "",
                       st->idempotent ? " idempotent" : "",
                       st->irreversible ? " irreversible" : "");
    }
}

static void plan_dump_check(struct buf *b, const char *what, size_t i,
                            const struct plan_check *c)
{
    buf_printf(b, "%s %zu at %d:%d\n", what, i + 1, c->pos.line, c->pos.col);
    /* a command check shows the http fields' defaults, as it did when
     * every check had them */
    static const struct check_http none = {.expect_status = 200};
    const struct check_http *h =
        c->kind == &check_http ? check_http_of(c) : &none;
    plan_dump_str(b, "  name", c->name);
    plan_dump_str(b, "  http", h->http);
    plan_dump_str(b, "  command",
                  c->kind == &check_command ? (const char *)c->data : NULL);
    buf_printf(b, "  kind: %s\n", c->kind == &check_http ? "http" : "command");
    plan_dump_str(b, "  method", h->method);
    plan_dump_json(b, "  headers", h->headers);
    if (h->expect_status_max != 0)
        buf_printf(b, "  status: %ld-%ld\n", h->expect_status,
                   h->expect_status_max);
    else
        buf_printf(b, "  status: %ld\n", h->expect_status);
    if (h->nstatuses > 0) {
        char *words = check_http_status_words(h);
        json_t *ex = json_object();
        check_http_status_json(h, ex);
        char *js = json_dumps(ex, JSON_COMPACT);
        buf_printf(b, "  status list: %s = %s\n", words, js);
        free(js);
        json_decref(ex);
        free(words);
    }
    plan_dump_json(b, "  expect.json", h->expect_json);
    plan_dump_str(b, "  expect.body", h->expect_body);
    plan_dump_str(b, "  expect.version", h->expect_version);
    plan_dump_ms(b, "  timeout", c->timeout_ms);
}

/* The plan as text: every field, in a fixed order; optional fields only
 * when set, so the basic fixtures stay short. */
static void plan_dump(const struct plan *p, struct buf *b)
{
    static const char *const order[] = {"inventory", "sorted", "reverse_sorted",
                                        "shuffle"};
    buf_printf(b, "file: %s\nname: %s\nhosts: %s\n", p->file, p->name,
               p->hosts);
    if (strcmp(p->lock, p->name) != 0)
        buf_printf(b, "lock: %s\n", p->lock);
    plan_dump_json(b, "vars", p->vars);
    if (p->require_ticket || p->require_approver || p->nrequire_env)
        buf_printf(b, "require: ticket=%d approver=%d\n", p->require_ticket,
                   p->require_approver);
    plan_dump_names(b, "require.env", p->require_env, p->nrequire_env);
    for (size_t i = 0; i < p->nwindows; i++)
        buf_printf(b, "window: %s\n", p->windows[i]);
    buf_adds(b, "waves:");
    for (size_t i = 0; i < p->nwaves; i++) {
        if (p->waves[i].percent > 0)
            buf_printf(b, " %d%%", p->waves[i].percent);
        else
            buf_printf(b, " %d", p->waves[i].count);
    }
    buf_adds(b, p->nwaves == 0 ? " (one wave)\n" : "\n");
    if (p->canary.count || p->canary.percent || p->canary_hosts) {
        plan_dump_count(b, "canary", &p->canary);
        plan_dump_str(b, "canary_hosts", p->canary_hosts);
        buf_printf(b, "pause_after_canary: %d\n", p->pause_after_canary);
    }
    buf_printf(b, "order: %s\n", order[p->order]);
    if (p->seed_set)
        buf_printf(b, "seed: %" PRIu64 "\n", p->seed);
    plan_dump_count(b, "max_fail", &p->max_fail);
    if (p->max_fail_total_set)
        plan_dump_count(b, "max_fail_total", &p->max_fail_total);
    buf_printf(b, "unreachable: %s\n",
               p->unreachable == PLAN_UNREACHABLE_FAIL ? "fail" : "pause");
    if (p->pause_manual)
        buf_adds(b, "pause: manual\n");
    else if (p->pause_ms != 0)
        plan_dump_ms(b, "pause", p->pause_ms);
    plan_dump_steps(b, "precheck", p->prechecks, p->nprechecks);
    plan_dump_steps(b, "before", p->before, p->nbefore);
    plan_dump_steps(b, "step", p->steps, p->nsteps);
    for (size_t i = 0; i < p->nchecks; i++)
        plan_dump_check(b, "check", i, &p->checks[i]);
    plan_dump_ms(b, "interval", p->interval_ms);
    plan_dump_ms(b, "min_healthy_time", p->min_healthy_ms);
    plan_dump_ms(b, "healthy_deadline", p->healthy_deadline_ms);
    if (p->progress_deadline_ms != 0)
        plan_dump_ms(b, "progress_deadline", p->progress_deadline_ms);
    for (size_t i = 0; i < p->nsmoke; i++)
        plan_dump_check(b, "smoke", i, &p->smoke[i]);
    plan_dump_str(b, "singleton.role", p->singleton_role);
    plan_dump_str(b, "singleton.env", p->singleton_env);
    if (p->singleton_check != NULL)
        plan_dump_check(b, "singleton.check", 0, p->singleton_check);
    if (!p->rollback_auto)
        buf_adds(b, "rollback.auto: 0\n");
    plan_dump_steps(b, "rollback", p->rollback_steps, p->nrollback_steps);
    for (size_t i = 0; i < p->nnotify; i++)
        buf_printf(b, "notify %zu: %s on 0x%x\n", i + 1, p->notify[i].webhook,
                   p->notify[i].on);
}

static int plan_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What one fixture gives, as text; returns the load result. */
static enum err_code plan_run_fixture(const char *yml, bool from_buffer,
                                      struct buf *got, struct err *e)
{
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct plan *p = (struct plan *)&diags; /* must be reset to NULL */
    enum err_code rc;
    if (from_buffer) {
        size_t len = 0;
        char *data = plan_slurp(yml, &len);
        assert_non_null(data);
        rc = plan_load_buffer(yml, data, len, &p, &diags, e);
        free(data);
    } else {
        rc = plan_load(yml, &p, &diags, e);
    }
    if (rc == ERR_OK) {
        assert_non_null(p);
        assert_int_equal(diags.len, 0);
        plan_dump(p, got);
        plan_free(p);
    } else {
        assert_null(p);
        buf_adds(got, buf_cstr(&diags));
    }
    buf_release(&diags);
    return rc;
}

static void plan_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void plan_check_fixture(const char *yml)
{
    size_t n = strlen(yml);
    char expect_path[512];
    snprintf(expect_path, sizeof(expect_path), "%.*s.expect", (int)(n - 4),
             yml);
    const char *update = getenv("PLAN_FIXTURES_UPDATE");
    if (update != NULL && strcmp(update, "1") == 0) {
        struct buf got;
        buf_init(&got, BUF_UNLIMITED);
        struct err e = {0};
        plan_run_fixture(yml, false, &got, &e);
        plan_write_file(expect_path, buf_cstr(&got));
        buf_release(&got);
    }
    char *want = plan_slurp(expect_path, NULL);
    if (want == NULL)
        fail_msg("%s has no %s", yml, expect_path);
    bool bad = strncmp(yml, "bad_", 4) == 0;
    if (!bad && strncmp(yml, "ok_", 3) != 0)
        fail_msg("%s: fixtures are named ok_*.yml or bad_*.yml", yml);

    for (int from_buffer = 0; from_buffer < 2; from_buffer++) {
        struct buf got;
        buf_init(&got, BUF_UNLIMITED);
        struct err e = {0};
        enum err_code rc = plan_run_fixture(yml, from_buffer, &got, &e);
        if (bad && rc != ERR_PARSE)
            fail_msg("%s: loaded (%d), want ERR_PARSE", yml, rc);
        if (!bad && rc != ERR_OK)
            fail_msg("%s: %s", yml, e.msg);
        if (strcmp(buf_cstr(&got), want) != 0) {
            /* whole texts: cmocka cuts long failure messages */
            fprintf(stderr, "%s (%s): got\n%s-- want (%s)\n%s--\n", yml,
                    from_buffer ? "buffer" : "file", buf_cstr(&got),
                    expect_path, want);
            fail_msg("%s: not as in %s", yml, expect_path);
        }
        if (bad) {
            /* e holds the first problem, as printed first */
            size_t first = strcspn(want, "\n");
            assert_int_equal(e.code, ERR_PARSE);
            if (strlen(e.msg) != first || strncmp(e.msg, want, first) != 0)
                fail_msg("%s: e.msg '%s' is not the first line", yml, e.msg);
        }
        buf_release(&got);
    }
    free(want);
}

static void test_plan_fixtures(void **state)
{
    (void)state;
    DIR *d = opendir(".");
    assert_non_null(d);
    char *names[256];
    size_t n = 0, nbad = 0, nok = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".yml") == 0) {
            assert_true(n < sizeof(names) / sizeof(names[0]));
            names[n++] = xstrdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), plan_name_cmp);
    for (size_t i = 0; i < n; i++) {
        print_message("fixture %s\n", names[i]);
        plan_check_fixture(names[i]);
        if (strncmp(names[i], "bad_", 4) == 0)
            nbad++;
        else
            nok++;
        free(names[i]);
    }
    /* the fixtures really were found */
    assert_true(nok >= 3);
    assert_true(nbad >= 20);
}

static struct plan *plan_ok(const char *yaml)
{
    struct plan *p = NULL;
    struct err e = {0};
    if (plan_load_buffer("mem.yml", yaml, strlen(yaml), &p, NULL, &e) != ERR_OK)
        fail_msg("%s", e.msg);
    return p;
}

static void test_plan_defaults(void **state)
{
    (void)state;
    struct plan *p = plan_ok("steps:\n  - run: 'true'\n");
    assert_string_equal(p->file, "mem.yml");
    assert_string_equal(p->name, "plan");
    assert_string_equal(p->hosts, "all");
    assert_true(json_is_object(p->vars));
    assert_int_equal(json_object_size(p->vars), 0);
    assert_int_equal(p->nwaves, 0);
    assert_null(p->waves);
    assert_int_equal(p->nsteps, 1);
    assert_string_equal(p->steps[0].name, "true"); /* the command */
    assert_string_equal(p->steps[0].run, "true");
    assert_int_equal(p->steps[0].timeout_ms, 0);
    assert_int_equal(p->nchecks, 0);
    assert_int_equal(p->interval_ms, 2000);
    assert_int_equal(p->min_healthy_ms, 0);
    assert_int_equal(p->healthy_deadline_ms, 120000);
    plan_free(p);

    /* a check's defaults */
    p = plan_ok("steps: [{run: x}]\nhealth: {checks: [{http: 'http://h/'}]}");
    assert_int_equal(p->nchecks, 1);
    assert_int_equal(check_http_of(&p->checks[0])->expect_status, 200);
    assert_int_equal(p->checks[0].timeout_ms, 0);
    assert_int_equal(p->checks[0].pos.line, 2);
    assert_int_equal(p->checks[0].pos.col, 19);
    plan_free(p);
    plan_free(NULL);
}

static void test_plan_vars_types(void **state)
{
    (void)state;
    struct plan *p = plan_ok("vars:\n"
                             "  i: 42\n  neg: -7\n  f: 2.5\n  t: true\n"
                             "  y: yes\n  n: no\n  nul: ~\n  s: '42'\n"
                             "  word: hello\n  list: [1, a]\n"
                             "  version: \"{{ x }}\"\n"
                             "steps: [{run: x}]\n");
    json_t *v = p->vars;
    assert_true(json_is_integer(json_object_get(v, "i")));
    assert_int_equal(json_integer_value(json_object_get(v, "i")), 42);
    assert_int_equal(json_integer_value(json_object_get(v, "neg")), -7);
    assert_true(json_is_real(json_object_get(v, "f")));
    assert_true(json_is_true(json_object_get(v, "t")));
    assert_true(json_is_true(json_object_get(v, "y")));
    assert_true(json_is_false(json_object_get(v, "n")));
    assert_true(json_is_null(json_object_get(v, "nul")));
    /* quoted scalars stay strings */
    assert_true(json_is_string(json_object_get(v, "s")));
    assert_string_equal(json_string_value(json_object_get(v, "word")), "hello");
    assert_int_equal(json_array_size(json_object_get(v, "list")), 2);
    /* templates in vars stay unrendered */
    assert_string_equal(json_string_value(json_object_get(v, "version")),
                        "{{ x }}");
    plan_free(p);
}

static void test_plan_io_errors(void **state)
{
    (void)state;
    struct plan *p = (struct plan *)&p;
    struct err e = {0};
    assert_int_equal(plan_load("no_such_plan.yml", &p, NULL, &e), ERR_SYS);
    assert_null(p);
    assert_non_null(strstr(e.msg, "cannot open plan no_such_plan.yml"));
    assert_non_null(strstr(e.msg, "No such file"));

    /* a directory opens but does not read */
    err_clear(&e);
    assert_int_equal(plan_load(".", &p, NULL, &e), ERR_SYS);
    assert_null(p);
    assert_non_null(strstr(e.msg, "cannot read plan ."));
}

static void test_plan_too_large(void **state)
{
    (void)state;
    char path[] = "/tmp/drover-test-plan-XX"
                  "XX"
                  "XX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("steps:\n  - run: x\n", f);
    /* a comment that takes the file past 4 MiB */
    fputc('#', f);
    for (int i = 0; i < 4 * 1024 * 1024; i++)
        fputc('x', f);
    fputc('\n', f);
    fclose(f);
    struct plan *p = NULL;
    struct err e = {0};
    assert_int_equal(plan_load(path, &p, NULL, &e), ERR_LIMIT);
    assert_null(p);
    assert_non_null(strstr(e.msg, "plan larger than 4194304 bytes"));
    unlink(path);
}

static void plan_vars_file(char *path, const char *text);

/* 100,000 nested lists (200 KB) are refused as they are parsed, at the
 * list past 64 levels: libyaml's document loader took 24 s over them. */
static void test_plan_too_deep(void **state)
{
    (void)state;
    enum { N = 100000 };
    static const char head[] = "name: deep\nsteps: [{run: x}]\nvars:\n  a: ";
    size_t h = sizeof(head) - 1;
    char *y = malloc(h + 2 * N + 2);
    assert_non_null(y);
    memcpy(y, head, h);
    memset(y + h, '[', N);
    memset(y + h + N, ']', N);
    memcpy(y + h + 2 * N, "\n", 2);
    struct plan *p = NULL;
    struct err e = {0};
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(plan_load_buffer("deep.yml", y, strlen(y), &p, &diags, &e),
                     ERR_LIMIT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 1);
    assert_null(p);
    /* the root mapping, vars, then the 63rd '[' */
    assert_string_equal(e.msg, "deep.yml:4:68: YAML nested deeper than 64 "
                               "levels");
    assert_string_equal(buf_cstr(&diags), "deep.yml:4:68: YAML nested deeper "
                                          "than 64 levels\n");
    buf_release(&diags);

    /* a variables file (-e @FILE) too */
    char path[] = "/tmp/drover-test-vars-XX"
                  "XX"
                  "XX.yml";
    plan_vars_file(path, y + h - 3);
    json_t *v = NULL;
    err_clear(&e);
    assert_int_equal(extravars_load(path, &v, NULL, &e), ERR_LIMIT);
    assert_null(v);
    assert_non_null(strstr(e.msg, ":1:67: YAML nested deeper than 64 levels"));
    unlink(path);
    free(y);
}

static void test_plan_many_problems(void **state)
{
    (void)state;
    /* 150 unknown keys: the first 100 are listed, the rest counted */
    struct buf y;
    buf_init(&y, BUF_UNLIMITED);
    buf_adds(&y, "steps: [{run: x}]\n");
    for (int i = 0; i < 150; i++)
        buf_printf(&y, "key%03d: 1\n", i);
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct plan *p = NULL;
    struct err e = {0};
    assert_int_equal(
        plan_load_buffer("many.yml", y.data, y.len, &p, &diags, &e), ERR_PARSE);
    size_t lines = 0;
    for (const char *c = buf_cstr(&diags); *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 101);
    assert_non_null(strstr(buf_cstr(&diags),
                           "many.yml:2:1: unknown key 'key000' in the plan\n"));
    assert_non_null(
        strstr(buf_cstr(&diags), "many.yml:101:1: unknown key 'key099'"));
    assert_null(strstr(buf_cstr(&diags), "key100"));
    assert_non_null(
        strstr(buf_cstr(&diags), "many.yml: 50 more problems not shown\n"));
    assert_string_equal(e.msg,
                        "many.yml:2:1: unknown key 'key000' in the plan");
    buf_release(&diags);
    buf_release(&y);
}

static void test_plan_no_diags(void **state)
{
    (void)state;
    /* diags is optional: e alone still says what and where */
    const char *y = "steps:\n  - name: a\n";
    struct plan *p = NULL;
    struct err e = {0};
    assert_int_equal(plan_load_buffer("x.yml", y, strlen(y), &p, NULL, &e),
                     ERR_PARSE);
    assert_string_equal(e.msg, "x.yml:2:5: step 1 has no 'run' command");

    /* a syntax error too */
    err_clear(&e);
    y = "steps: [\n";
    assert_int_equal(plan_load_buffer("x.yml", y, strlen(y), &p, NULL, &e),
                     ERR_PARSE);
    assert_null(p);
    assert_true(strncmp(e.msg, "x.yml:2:1: ", 11) == 0);

    /* NUL bytes and control characters are reader errors with a place */
    err_clear(&e);
    const char nul[] = "steps:\n  - run: a\0b\n";
    assert_int_equal(
        plan_load_buffer("x.yml", nul, sizeof(nul) - 1, &p, NULL, &e),
        ERR_PARSE);
    assert_string_equal(e.msg, "x.yml:2:11: control characters are not "
                               "allowed (a plan must be UTF-8 text)");
}

static void plan_vars_file(char *path, const char *text)
{
    int fd = mkstemps(path, (int)strlen(strrchr(path, '.')));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_fixtures),
        cmocka_unit_test(test_plan_defaults),
        cmocka_unit_test(test_plan_vars_types),
        cmocka_unit_test(test_plan_io_errors),
        cmocka_unit_test(test_plan_too_large),
        cmocka_unit_test(test_plan_too_deep),
        cmocka_unit_test(test_plan_many_problems),
        cmocka_unit_test(test_plan_no_diags),
    };
    return cmocka_run_group_tests(tests, plan_setup, NULL);
}
