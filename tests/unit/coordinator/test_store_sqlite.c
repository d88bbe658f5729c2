/* tests/unit/coordinator/test_store_sqlite.c: the SQLite journal passes
 * the store conformance suite (store_conformance.h), and what is its own:
 * the file is 0600 and in WAL mode, a newer schema is refused, secret
 * canaries never reach the database bytes (main file, WAL, shm), long
 * output keeps its tail, a deploy's -e variables come back (secret ones by
 * name only, their values never in the file), a schema 1 journal opens
 * and gains the vars column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "redact.h"
#include "store.h"
#include "store_conformance.h"
#include "store_sqlite.h"

#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;
static char *db;

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-store-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    dir = xstrdup(tmpl);
    db = xasprintf("%s/%s", dir, STORE_SQLITE_FILE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(dir);
    free(db);
    return 0;
}

static struct store *conf_open(void)
{
    struct store *s = NULL;
    struct err e = {0};
    if (store_sqlite_open(db, false, &s, &e) != ERR_OK)
        fail_msg("open: %s", e.msg);
    return s;
}

static struct store *open_rw(void)
{
    return conf_open();
}

static void test_store_sqlite_open(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err e = {0};
    assert_int_equal(store_sqlite_open(db, true, &s, &e), ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "no deploy has run"));
    assert_null(s);
    s = open_rw();
    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    store_free(s);
    /* schema and WAL mode persist; a read-only open works now */
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(
        sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &q, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(raw);
    assert_int_equal(store_sqlite_open(db, true, &s, &e), ERR_OK);
    store_free(s);
    store_free(NULL);
}

static void test_store_sqlite_newer_schema(void **state)
{
    (void)state;
    store_free(open_rw());
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(raw);
    struct store *s = NULL;
    struct err e = {0};
    assert_int_equal(store_sqlite_open(db, false, &s, &e), ERR_STORE);
    assert_non_null(strstr(e.msg, "schema version 99"));
    assert_non_null(strstr(e.msg, "upgrade drover"));
}

static bool files_hold(const char *needle)
{
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char *path = xasprintf("%s%s", db, suffix[i]);
        FILE *f = fopen(path, "rb");
        free(path);
        if (f == NULL)
            continue;
        char *data = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
            if (len == cap) {
                cap = cap ? cap * 2 : 65536;
                data = realloc(data, cap);
                assert_non_null(data);
            }
            size_t r = fread(data + len, 1, cap - len, f);
            if (r == 0)
                break;
            len += r;
        }
        fclose(f);
        bool hit = len > 0 && memmem(data, len, needle, strlen(needle));
        free(data);
        if (hit)
            return true;
    }
    return false;
}

static void test_store_sqlite_canaries(void **state)
{
    (void)state;
    const char *single = "CANARY-single-9f8e7d";
    const char *multi = "-----BEGIN CANARY-----\nCANARYline1xyz\n"
                        "CANARYline2abc\n-----END CANARY-----";
    struct redact *rs = redact_new();
    redact_add(rs, single);
    redact_add(rs, multi);
    struct store *s = open_rw();
    store_set_redact(s, rs);
    struct err e = {0};
    char id[STORE_ID_MAX];
    char *changes = xasprintf("deploy with %s", single);
    struct store_deploy_info in = {.plan = "sms",
                                   .reason = single,
                                   .changes = changes,
                                   .started_ms = DAY1};
    assert_int_equal(store_deploy_begin(s, &in, id, &e), ERR_OK);
    free(changes);
    int64_t step;
    /* unregistered secrets caught by the pattern rules */
    struct store_step st = {
        .host = "web1",
        .name = "migrate",
        .command = "DATABASE_URL=postgres://app:CANARYurlpw@db/app "
                   "DB_PASSWORD=CANARYnamed curl -H 'Authorization: Bearer "
                   "CANARYbearer' http://x/"};
    assert_int_equal(store_step_intent(s, id, &st, &step, &e), ERR_OK);
    /* output holding the values, a line of the multi-line value, and the
     * base64 of the single one */
    char *out = xasprintf("echo %s\nkey:\n%s\nline: CANARYline2abc\n"
                          "b64: Q0FOQVJZLXNpbmdsZS05ZjhlN2Q=\n",
                          single, multi);
    struct store_step_outcome o = {.outcome = "failed", .output = out};
    assert_int_equal(store_step_outcome(s, step, &o, &e), ERR_OK);
    free(out);
    assert_int_equal(store_decision(s, id, single, &e), ERR_OK);
    assert_int_equal(store_issue(s, id, "token=CANARYtoken in log", &e),
                     ERR_OK);
    struct store_check ck = {.host = "web1",
                             .name = "/health",
                             .verdict = "fail",
                             .reason = "body: {\"password\": \"CANARYjson\"}"};
    assert_int_equal(store_check(s, id, &ck, &e), ERR_OK);
    const char *needles[] = {single,           "CANARYline1xyz",
                             "CANARYline2abc", "Q0FOQVJZLXNpbmdsZS05ZjhlN2Q",
                             "CANARYurlpw",    "CANARYnamed",
                             "CANARYbearer",   "CANARYtoken",
                             "CANARYjson"};
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
        if (files_hold(needles[i]))
            fail_msg("canary %s reached the journal (WAL)", needles[i]);
    /* the rows are there, redacted */
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    assert_non_null(strstr(r->steps[0].command, "postgres://app:[redacted]@"));
    assert_non_null(strstr(r->steps[0].output, "line: [redacted]"));
    assert_string_equal(r->decisions[0].text, "[redacted]");
    store_record_free(r);
    store_free(s);
    /* after the checkpoint into the main file too */
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
        if (files_hold(needles[i]))
            fail_msg("canary %s reached the journal", needles[i]);
    assert_true(files_hold("DEP-2026-11-22-001"));
    redact_free(rs);
}

static const struct store_var_row *var_row(const struct store_record *r,
                                           const char *name)
{
    for (size_t i = 0; i < r->nvars; i++)
        if (strcmp(r->vars[i].name, name) == 0)
            return &r->vars[i];
    fail_msg("no variable %s in the record", name);
    return NULL;
}

static void test_store_sqlite_vars(void **state)
{
    (void)state;
    struct redact *rs = redact_new();
    redact_add(rs, "CANARYregistered42"); /* a plan's secret_env value */
    json_error_t je;
    json_t *vars = json_loads(
        "{\"color\": \"blue\", \"api_token\": \"CANARYtoken-s3cr3t\","
        " \"replicas\": 3, \"labels\": {\"tier\": \"web\"},"
        " \"db\": {\"password\": \"CANARYnested77\"},"
        " \"dsn\": \"postgres://app:CANARYurlpw9@db/app\","
        " \"upstream\": \"CANARYregistered42\", \"version\": \"2.1.0\"}",
        0, &je);
    assert_non_null(vars);
    struct store *s = open_rw();
    store_set_redact(s, rs);
    struct err e = {0};
    char id[STORE_ID_MAX], bare[STORE_ID_MAX];
    struct store_deploy_info in = {
        .plan = "sms", .version = "2.1.0", .vars = vars, .started_ms = DAY1};
    assert_int_equal(store_deploy_begin(s, &in, id, &e), ERR_OK);
    begin(s, "sms", "2.1.1", DAY1 + 1000, bare); /* no vars at all */
    json_decref(vars);
    const char *needles[] = {
        "CANARYtoken-s3cr3t", "Q0FOQVJZdG9rZW4tczNjcjN0", /* its base64 */
        "CANARYnested77", "CANARYurlpw9", "CANARYregistered42"};
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
            if (files_hold(needles[i]))
                fail_msg("secret %s reached the journal (pass %d)", needles[i],
                         pass);
        /* what is not secret is there: the search can find it */
        assert_true(files_hold("\"color\":\"blue\""));
        struct store_record *r = NULL;
        assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
        assert_true(r->vars_journaled);
        assert_int_equal(r->nvars, 7); /* version has a field of its own */
        static const char *const order[] = {"api_token", "color",  "db",
                                            "dsn",       "labels", "replicas",
                                            "upstream"};
        for (size_t i = 0; i < r->nvars; i++)
            assert_string_equal(r->vars[i].name, order[i]);
        assert_string_equal(var_row(r, "color")->value, "\"blue\"");
        assert_string_equal(var_row(r, "replicas")->value, "3");
        assert_string_equal(var_row(r, "labels")->value, "{\"tier\":\"web\"}");
        assert_false(var_row(r, "color")->secret);
        static const char *const secret[] = {"api_token", "db", "dsn",
                                             "upstream"};
        for (size_t i = 0; i < 4; i++) {
            assert_true(var_row(r, secret[i])->secret);
            assert_null(var_row(r, secret[i])->value);
        }
        assert_string_equal(r->version, "2.1.0");
        store_record_free(r);
        assert_int_equal(store_get_record(s, bare, &r, &e), ERR_OK);
        assert_false(r->vars_journaled);
        assert_int_equal(r->nvars, 0);
        store_record_free(r);
        store_free(s); /* the checkpoint: the main file on the next pass */
        s = open_rw();
        store_set_redact(s, rs);
    }
    store_free(s);
    redact_free(rs);
}

/* A journal of schema version 1 (tests/data/store/journal-v1.sql). */
static void old_journal(void)
{
    const char *top = getenv("TOP") != NULL ? getenv("TOP") : ".";
    char *path = xasprintf("%s/tests/data/store/journal-v1.sql", top);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot read %s", path);
    free(path);
    char sql[16384];
    size_t n = fread(sql, 1, sizeof(sql) - 1, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof(sql) - 1);
    sql[n] = '\0';
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
}

static int raw_int(const char *sql)
{
    sqlite3 *raw;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(raw, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(raw);
    return v;
}

static void test_store_sqlite_old_schema(void **state)
{
    (void)state;
    old_journal();
    static const char has_vars[] =
        "SELECT count(*) FROM pragma_table_info('deploys') WHERE name = 'vars'";
    assert_int_equal(raw_int(has_vars), 0);
    /* a reader (show, history, resume's look-up) reads it as it is */
    struct store *s = NULL;
    struct err e = {0};
    assert_int_equal(store_sqlite_open(db, true, &s, &e), ERR_OK);
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(s, "DEP-2026-11-22-001", &r, &e), ERR_OK);
    assert_string_equal(r->version, "2.1.0");
    assert_false(r->vars_journaled);
    assert_int_equal(r->nsteps, 1);
    assert_int_equal(r->steps[0].step, -1); /* no index: not journaled */
    store_record_free(r);
    store_free(s);
    assert_int_equal(raw_int("PRAGMA user_version"), 1);
    /* a writer migrates it: the column is added, the old deploy stays */
    s = open_rw();
    assert_int_equal(raw_int("PRAGMA user_version"), STORE_SQLITE_SCHEMA);
    assert_int_equal(raw_int(has_vars), 1);
    char *version = NULL;
    assert_int_equal(store_last_success(s, "sms", &version, NULL, &e), ERR_OK);
    assert_string_equal(version, "2.1.0");
    free(version);
    json_t *vars = json_pack("{s:s}", "color", "blue");
    char id[STORE_ID_MAX];
    struct store_deploy_info in = {
        .plan = "sms", .vars = vars, .started_ms = DAY1 + 5000};
    assert_int_equal(store_deploy_begin(s, &in, id, &e), ERR_OK);
    json_decref(vars);
    assert_string_equal(id, "DEP-2026-11-22-002");
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    assert_int_equal(r->nvars, 1);
    assert_string_equal(r->vars[0].value, "\"blue\"");
    store_record_free(r);
    assert_int_equal(store_get_record(s, "DEP-2026-11-22-001", &r, &e), ERR_OK);
    assert_false(r->vars_journaled);
    assert_int_equal(r->steps[0].step, -1); /* migrated: still unknown */
    store_record_free(r);
    store_free(s);
    /* and it opens again as it is now */
    store_free(open_rw());
}

static void test_store_sqlite_output_cap(void **state)
{
    (void)state;
    struct store *s = open_rw();
    struct err e = {0};
    char id[STORE_ID_MAX];
    begin(s, "sms", "1", DAY1, id);
    size_t n = STORE_SQLITE_TEXT_MAX + 1000;
    char *big = xmalloc(n + 1);
    memset(big, 'a', n);
    memcpy(big + n - 4, "END\n", 4);
    big[n] = '\0';
    int64_t step;
    struct store_step st = {.name = "chatty"};
    assert_int_equal(store_step_intent(s, id, &st, &step, &e), ERR_OK);
    struct store_step_outcome o = {.outcome = "ok", .output = big};
    assert_int_equal(store_step_outcome(s, step, &o, &e), ERR_OK);
    free(big);
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    assert_non_null(strstr(r->steps[0].output, "[1000 bytes cut]\n"));
    size_t len = strlen(r->steps[0].output);
    assert_string_equal(r->steps[0].output + len - 4, "END\n");
    assert_null(r->steps[0].host);
    assert_int_equal(r->steps[0].wave, 0);
    store_record_free(r);
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_store_sqlite_open),       T(test_store_sqlite_newer_schema),
        T(test_store_sqlite_canaries),   CONFORMANCE_TESTS(setup, teardown),
        T(test_store_sqlite_output_cap), T(test_store_sqlite_vars),
        T(test_store_sqlite_old_schema),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
