/* tests/unit/coordinator/test_etcd.c: etcd_parse over replies captured
 * from a real etcd 3.4 (tests/data/etcd/, see its README): omitted false
 * and zero fields, int64 as strings, base64 keys and values, a failed txn
 * with no "succeeded", a dead lease's keepalive with no TTL, a TTL raised
 * to the server's minimum, error replies; and the request bodies. */
#include "etcd.h"

#include "readfile.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Parse tests/data/etcd/NAME.json ($TOP/..., tests/run.sh sets TOP) as
 * the reply to call with HTTP status. */
static enum err_code golden(const char *name, enum etcd_call call, long status,
                            struct etcd_reply *r, struct err *e)
{
    const char *top = getenv("TOP") != NULL ? getenv("TOP") : ".";
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/data/etcd/%s.json", top, name);
    char *text;
    size_t len;
    if (readfile(path, 1 << 20, READFILE_REGULAR, &text, &len) != READFILE_OK)
        fail_msg("cannot read %s", path);
    enum err_code rc = etcd_parse(call, status, text, len, r, e);
    free(text);
    return rc;
}

static void range_one(void **state)
{
    (void)state;
    struct etcd_reply r;
    struct err e = {0};
    assert_int_equal(golden("range_one", ETCD_RANGE, 200, &r, &e), ERR_OK);
    assert_int_equal(r.revision, 3);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.nkv, 1);
    assert_string_equal(r.kv[0].key, "/t/a");
    assert_int_equal(r.kv[0].key_len, 4);
    assert_string_equal(r.kv[0].value, "hello");
    assert_int_equal(r.kv[0].create_revision, 2);
    assert_int_equal(r.kv[0].mod_revision, 2);
    assert_int_equal(r.kv[0].version, 1);
    assert_int_equal(r.kv[0].lease, 0); /* omitted: no lease */
    etcd_reply_release(&r);
}

/* An empty range has neither kvs nor count. */
static void range_empty(void **state)
{
    (void)state;
    struct etcd_reply r;
    struct err e = {0};
    assert_int_equal(golden("range_empty", ETCD_RANGE, 200, &r, &e), ERR_OK);
    assert_int_equal(r.nkv, 0);
    assert_int_equal(r.count, 0);
    assert_int_equal(r.revision, 3);
    etcd_reply_release(&r);
}

/* An empty value is omitted: it reads as "". */
static void range_empty_value(void **state)
{
    (void)state;
    struct etcd_reply r;
    struct err e = {0};
    assert_int_equal(golden("range_empty_value", ETCD_RANGE, 200, &r, &e),
                     ERR_OK);
    assert_int_equal(r.nkv, 1);
    assert_string_equal(r.kv[0].key, "/t/w");
    assert_string_equal(r.kv[0].value, "");
    assert_int_equal(r.kv[0].value_len, 0);
    etcd_reply_release(&r);
}

/* Lease ids are int64 beyond a double's 53 bits: parsed exactly. */
static void range_prefix(void **state)
{
    (void)state;
    struct etcd_reply r;
    struct err e = {0};
    assert_int_equal(golden("range_prefix", ETCD_RANGE, 200, &r, &e), ERR_OK);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.nkv, 2);
    assert_string_equal(r.kv[1].key, "/t/lease");
    assert_string_equal(r.kv[1].value, "held");
    assert_true(r.kv[1].lease == INT64_C(1734908758903762182));
    etcd_reply_release(&r);
}

static void put_and_delete(void **state)
{
    (void)state;
    struct etcd_reply r;
    struct err e = {0};
    assert_int_equal(golden("put", ETCD_PUT, 200, &r, &e), ERR_OK);
    assert_int_equal(r.revision, 2);
    etcd_reply_release(&r);
    assert_int_equal(golden("delete", ETCD_DELETE, 200, &r, &e), ERR_OK);
    assert_int_equal(r.deleted, 1);
    etcd_reply_release(&r);
    /* nothing deleted: "deleted" is left out */
    assert_int_equal(golden("delete_none", ETCD_DELETE, 200, &r, &e), ERR_OK);
    assert_int_equal(r.deleted, 0);
    assert_int_equal(r.revision, 5);
    etcd_reply_release(&r);
}

static void txn_succeeded(void **state)
{
    (void)state;
    struct etcd_reply r;
    struct err e = {0};
    assert_int_equal(golden("txn_ok", ETCD_TXN, 200, &r, &e), ERR_OK);
    assert_true(r.succeeded);
    assert_int_equal(r.revision, 4);
    assert_int_equal(r.nkv, 0);
    etcd_reply_release(&r);
    assert_int_equal(golden("txn_value_mod_ok", ETCD_TXN, 200, &r, &e), ERR_OK);
    assert_true(r.succeeded);
    assert_int_equal(r.deleted, 1);
    etcd_reply_release(&r);
}

/* A failed txn has no "succeeded"; its failure range names the holder. */
static void txn_failed(void **state)
{
    (void)state;
    struct etcd_reply r;
    struct err e = {0};
    assert_int_equal(golden("txn_fail", ETCD_TXN, 200, &r, &e), ERR_OK);
    assert_false(r.succeeded);
    assert_int_equal(r.nkv, 1);
    assert_string_equal(r.kv[0].key, "/t/lock");
    assert_string_equal(r.kv[0].value, "me");
    assert_int_equal(r.kv[0].create_revision, 4);
    assert_true(r.kv[0].lease == INT64_C(1734908758903762182));
    etcd_reply_release(&r);
    /* no failure ops: no responses at all */
    assert_int_equal(golden("txn_value_mod", ETCD_TXN, 200, &r, &e), ERR_OK);
    assert_false(r.succeeded);
    assert_int_equal(r.nkv, 0);
    etcd_reply_release(&r);
}

/* A TTL under the server's minimum comes back raised (1 -> 2). */
static void lease_grant(void **state)
{
    (void)state;
    struct etcd_reply r;
    struct err e = {0};
    assert_int_equal(golden("lease_grant", ETCD_GRANT, 200, &r, &e), ERR_OK);
    assert_true(r.lease == INT64_C(1734908758903762182));
    assert_int_equal(r.ttl, 5);
    etcd_reply_release(&r);
    assert_int_equal(golden("lease_grant_min", ETCD_GRANT, 200, &r, &e),
                     ERR_OK);
    assert_int_equal(r.ttl, 2);
    etcd_reply_release(&r);
}

/* A keepalive is wrapped in "result"; a dead lease's has no TTL. */
static void lease_keepalive(void **state)
{
    (void)state;
    struct etcd_reply r;
    struct err e = {0};
    assert_int_equal(golden("lease_keepalive", ETCD_KEEPALIVE, 200, &r, &e),
                     ERR_OK);
    assert_int_equal(r.ttl, 5);
    assert_int_equal(r.revision, 4);
    etcd_reply_release(&r);
    assert_int_equal(
        golden("lease_keepalive_dead", ETCD_KEEPALIVE, 200, &r, &e),
        ERR_NOTFOUND);
    assert_true(r.lease == INT64_C(1734908758903762182));
    assert_int_equal(r.ttl, 0);
    assert_non_null(strstr(e.msg, "expired or was revoked"));
    etcd_reply_release(&r);
}

/* Error replies: NotFound (code 5, HTTP 404) and others. */
static void errors(void **state)
{
    (void)state;
    struct etcd_reply r;
    struct err e = {0};
    assert_int_equal(golden("lease_revoke", ETCD_REVOKE, 200, &r, &e), ERR_OK);
    etcd_reply_release(&r);
    assert_int_equal(golden("lease_revoke_dead", ETCD_REVOKE, 404, &r, &e),
                     ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "requested lease not found"));
    etcd_reply_release(&r);
    struct err e2 = {0};
    assert_int_equal(golden("put_bad_lease", ETCD_PUT, 404, &r, &e2),
                     ERR_NOTFOUND);
    etcd_reply_release(&r);
    struct err e3 = {0};
    const char *bad = "{\"error\":\"invalid character\",\"code\":3}";
    assert_int_equal(etcd_parse(ETCD_PUT, 400, bad, strlen(bad), &r, &e3),
                     ERR_STORE);
    assert_non_null(strstr(e3.msg, "code 3, HTTP 400"));
    etcd_reply_release(&r);
}

/* What is not the gateway's JSON is a protocol error, never a crash. */
static void malformed(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "",
        "<html>",
        "[]",
        "{\"kvs\":[]}", /* no header */
        "{\"header\":{\"revision\":\"x\"}}",
        "{\"header\":{},\"kvs\":{}}",
        "{\"header\":{},\"kvs\":[{\"key\":7}]}",
        "{\"header\":{},\"kvs\":[1]}",
        "{\"header\":{},\"count\":\"99999999999999999999\"}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct etcd_reply r;
        struct err e = {0};
        assert_int_equal(
            etcd_parse(ETCD_RANGE, 200, bodies[i], strlen(bodies[i]), &r, &e),
            ERR_PROTO);
        assert_int_equal(r.nkv, 0);
        etcd_reply_release(&r);
    }
}

/* Request bodies: base64, int64 strings, prefix range ends. */
static void bodies(void **state)
{
    (void)state;
    struct etcd_req q = {.call = ETCD_RANGE,
                         .op = {.key = "/t/", .prefix = true}};
    char *s = etcd_body(&q);
    assert_string_equal(s, "{\"key\":\"L3Qv\",\"range_end\":\"L3Qw\"}");
    free(s);
    q = (struct etcd_req){.call = ETCD_PUT,
                          .op = {.key = "k", .value = "v", .lease = 42}};
    s = etcd_body(&q);
    assert_string_equal(s, "{\"key\":\"aw==\",\"value\":\"dg==\","
                           "\"lease\":\"42\"}");
    free(s);
    struct etcd_cmp cmp = {.key = "k", .target = ETCD_CMP_CREATE};
    struct etcd_op put = {.call = ETCD_PUT, .key = "k", .value = "v"};
    struct etcd_op get = {.call = ETCD_RANGE, .key = "k"};
    q = (struct etcd_req){.call = ETCD_TXN,
                          .cmp = &cmp,
                          .ncmp = 1,
                          .then = &put,
                          .nthen = 1,
                          .orelse = &get,
                          .norelse = 1};
    s = etcd_body(&q);
    assert_string_equal(
        s, "{\"compare\":[{\"key\":\"aw==\",\"target\":\"CREATE\","
           "\"result\":\"EQUAL\",\"create_revision\":\"0\"}],"
           "\"success\":[{\"request_put\":{\"key\":\"aw==\",\"value\":"
           "\"dg==\"}}],\"failure\":[{\"request_range\":{\"key\":"
           "\"aw==\"}}]}");
    free(s);
    q = (struct etcd_req){.call = ETCD_KEEPALIVE,
                          .lease = INT64_C(1734908758903762182)};
    s = etcd_body(&q);
    assert_string_equal(s, "{\"ID\":\"1734908758903762182\"}");
    free(s);
}

/* Endpoint lists. */
static void endpoints(void **state)
{
    (void)state;
    struct err e = {0};
    assert_null(etcd_new(NULL, "", 0, &e));
    assert_int_equal(e.code, ERR_USAGE);
    struct err e2 = {0};
    assert_null(etcd_new(NULL, "a:1,,b:2", 0, &e2));
    assert_non_null(strstr(e2.msg, "an empty endpoint"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(range_one),         cmocka_unit_test(range_empty),
        cmocka_unit_test(range_empty_value), cmocka_unit_test(range_prefix),
        cmocka_unit_test(put_and_delete),    cmocka_unit_test(txn_succeeded),
        cmocka_unit_test(txn_failed),        cmocka_unit_test(lease_grant),
        cmocka_unit_test(lease_keepalive),   cmocka_unit_test(errors),
        cmocka_unit_test(malformed),         cmocka_unit_test(bodies),
        cmocka_unit_test(endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
