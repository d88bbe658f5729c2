/* tests/unit/coordinator/test_store.c: the store interface itself: result
 * names, the record's string pool, redaction of every field on the way in
 * (through the SQLite backend), the global set as the default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "redact.h"
#include "store.h"
#include "store_sqlite.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_store_results(void **state)
{
    (void)state;
    const enum store_result all[] = {
        STORE_RESULT_SUCCESS,     STORE_RESULT_FAILED,
        STORE_RESULT_ROLLED_BACK, STORE_RESULT_ROLLBACK_FAILED,
        STORE_RESULT_ABORTED,     STORE_RESULT_REFUSED};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const char *s = store_result_str(all[i]);
        assert_true(*s != '\0');
        assert_int_equal(store_result_parse(s), all[i]);
    }
    assert_string_equal(store_result_str(STORE_RESULT_ROLLED_BACK),
                        "rolled back");
    assert_string_equal(store_result_str(STORE_RESULT_NONE), "");
    assert_int_equal(store_result_parse(NULL), STORE_RESULT_NONE);
    assert_int_equal(store_result_parse("bogus"), STORE_RESULT_NONE);
}

static void test_store_record_pool(void **state)
{
    (void)state;
    struct store_record *r = xcalloc(1, sizeof(*r));
    char *a = store_record_str(r, "alpha");
    assert_string_equal(a, "alpha");
    assert_null(store_record_str(r, NULL));
    assert_int_equal(r->npool, 1);
    store_record_free(r);
    store_record_free(NULL);
}

static void test_store_redacts_every_field(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-storeif-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    char *db = xasprintf("%s/j.db", tmpl);
    struct store *s = NULL;
    struct err e = {0};
    assert_int_equal(store_sqlite_open(db, false, &s, &e), ERR_OK);
    /* the default set is the global one */
    redact_add(redact_global(), "glob4l-s3cret");
    const char *k = "glob4l-s3cret";
    char id[STORE_ID_MAX];
    struct store_deploy_info in = {.plan = k,
                                   .plan_file = k,
                                   .inventory = k,
                                   .lock = k,
                                   .version = k,
                                   .previous_version = k,
                                   .user = k,
                                   .host = k,
                                   .ticket = k,
                                   .approver = k,
                                   .reason = k,
                                   .git_commit = k,
                                   .git_tag = k,
                                   .changes = k};
    assert_int_equal(store_deploy_begin(s, &in, id, &e), ERR_OK);
    const char *hosts[] = {k};
    assert_int_equal(store_wave_plan(s, id, 0, hosts, 1, &e), ERR_OK);
    assert_int_equal(store_host_state(s, id, k, "failed", k, &e), ERR_OK);
    assert_int_equal(store_precheck(s, id, k, k, false, k, &e), ERR_OK);
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    const char *fields[] = {r->plan,
                            r->plan_file,
                            r->inventory,
                            r->lock,
                            r->version,
                            r->previous_version,
                            r->user,
                            r->host,
                            r->ticket,
                            r->approver,
                            r->reason,
                            r->git_commit,
                            r->git_tag,
                            r->changes,
                            r->hosts[0].host,
                            r->hosts[0].reason,
                            r->prechecks[0].name,
                            r->prechecks[0].host,
                            r->prechecks[0].evidence};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        assert_string_equal(fields[i], REDACT_MARK);
    store_record_free(r);
    /* a plan name is required */
    struct store_deploy_info none = {0};
    err_clear(&e);
    assert_int_equal(store_deploy_begin(s, &none, id, &e), ERR_INVALID);
    store_free(s);
    char *cmd = xasprintf("rm -rf '%s'", tmpl);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(db);
}

/* Secret -e variables: journaled as a keyed hash (key file 0600 made by
 * a writable open, read by a read-only one), compared by store_var_same;
 * a state directory without the key cannot tell. */
static void test_store_secret_var_hash(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-storekey-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    struct store *s = NULL;
    struct err e = {0};
    assert_int_equal(store_open_state(tmpl, false, &s, NULL, &e), ERR_OK);
    json_t *vars = json_pack("{s:s, s:s}", "color", "blue", "db_password",
                             "hunter2-canary");
    char id[STORE_ID_MAX];
    struct store_deploy_info in = {.plan = "p", .vars = vars};
    assert_int_equal(store_deploy_begin(s, &in, id, &e), ERR_OK);
    store_free(s);
    s = NULL;
    assert_int_equal(store_open_state(tmpl, true, &s, NULL, &e), ERR_OK);
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    assert_int_equal(r->nvars, 2);
    const struct store_var_row *pw = &r->vars[1];
    assert_string_equal(pw->name, "db_password");
    assert_true(pw->secret);
    assert_null(pw->value);
    assert_non_null(pw->hash);
    assert_null(strstr(r->vars_text, "hunter2"));
    json_t *same = json_string("hunter2-canary"), *other = json_string("x");
    assert_int_equal(store_var_same(r, pw, same), 1);
    assert_int_equal(store_var_same(r, pw, other), 0);
    /* the hash covers the name: another variable with that value differs */
    char h1[STORE_VARS_HASH_HEX + 1], h2[STORE_VARS_HASH_HEX + 1];
    store_var_hash(r->vars_key, "db_password", "\"v\"", h1);
    store_var_hash(r->vars_key, "api_token", "\"v\"", h2);
    assert_string_not_equal(h1, h2);
    store_record_free(r);
    store_free(s);
    /* without the key file nothing can be compared */
    char *key = xasprintf("%s/%s", tmpl, STORE_VARS_KEY_FILE);
    assert_int_equal(unlink(key), 0);
    assert_int_equal(store_open_state(tmpl, true, &s, NULL, &e), ERR_OK);
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    assert_int_equal(store_var_same(r, &r->vars[1], same), -1);
    store_record_free(r);
    store_free(s);
    json_decref(same);
    json_decref(other);
    json_decref(vars);
    free(key);
    char *cmd = xasprintf("rm -rf '%s'", tmpl);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_results),
        cmocka_unit_test(test_store_record_pool),
        cmocka_unit_test(test_store_redacts_every_field),
        cmocka_unit_test(test_store_secret_var_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
