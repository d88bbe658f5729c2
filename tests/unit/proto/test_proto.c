/* tests/unit/proto/test_proto.c: every message type round-trips; hostile
 * frames are refused by proto_decode without a large allocation (the
 * biggest single allocation and the peak RSS are checked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "proto.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define S(x) ((char *)(x))

/* Interpose malloc to record the largest single request (not under ASan,
 * whose allocator must own every block). */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_TRACK_ALLOC 0
#else
#define TEST_TRACK_ALLOC 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t s);
extern void *__libc_realloc(void *p, size_t n);
static size_t test_biggest;
void *malloc(size_t n)
{
    if (n > test_biggest)
        test_biggest = n;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t s)
{
    if (s != 0 && n <= SIZE_MAX / s && n * s > test_biggest)
        test_biggest = n * s;
    return __libc_calloc(n, s);
}
void *realloc(void *p, size_t n)
{
    if (n > test_biggest)
        test_biggest = n;
    return __libc_realloc(p, n);
}
#endif

static struct proto_msg roundtrip(const struct proto_msg *in)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    struct err e = {0};
    assert_int_equal(proto_encode(in, &b, &e), ERR_OK);
    struct proto_msg out;
    enum err_code rc = proto_decode(b.data, b.len, &out, &e);
    if (rc != ERR_OK)
        fail_msg("decode: %s", e.msg);
    buf_release(&b);
    assert_int_equal(out.version, PROTO_VERSION);
    assert_int_equal(out.type, in->type);
    assert_int_equal(out.req, in->req);
    assert_int_equal(out.epoch, in->epoch);
    return out;
}

static void test_proto_roundtrip_exec(void **state)
{
    (void)state;
    struct proto_env env[] = {{S("A"), S("1")}, {S("SECRET"), S("s3cr3t")}};
    struct proto_msg m = {
        .type = PROTO_EXEC,
        .req = 77,
        .deploy = S("DEP-2026-11-22-001"),
        .epoch = 12,
        .job = S("DEP-1:web1:3"),
        .command = S("echo hi"),
        .env = env,
        .nenv = 2,
        .input = S("stdin\0bytes"),
        .input_len = 11,
        .timeout_ms = 5000,
        .output_max = 4096,
    };
    struct proto_msg o = roundtrip(&m);
    assert_string_equal(o.deploy, "DEP-2026-11-22-001");
    assert_string_equal(o.job, "DEP-1:web1:3");
    assert_string_equal(o.command, "echo hi");
    assert_int_equal(o.nenv, 2);
    assert_string_equal(o.env[1].name, "SECRET");
    assert_string_equal(o.env[1].value, "s3cr3t");
    assert_int_equal(o.input_len, 11);
    assert_memory_equal(o.input, "stdin\0bytes", 11);
    assert_int_equal(o.timeout_ms, 5000);
    assert_int_equal(o.output_max, 4096);
    proto_msg_release(&o);
}

static void test_proto_roundtrip_all_types(void **state)
{
    (void)state;
    struct proto_msg hello = {.type = PROTO_HELLO,
                              .req = 1,
                              .epoch = 3,
                              .who = S("state_dir=ab coordinator=c1")};
    struct proto_msg welcome = {
        .type = PROTO_WELCOME, .req = 1, .epoch = 9, .text = S("agent 0.1")};
    struct proto_msg ping = {.type = PROTO_PING, .req = 2};
    struct proto_msg pong = {.type = PROTO_PONG, .req = 2};
    struct proto_msg out = {.type = PROTO_OUTPUT,
                            .job = S("j1"),
                            .stream = 2,
                            .seq = 5,
                            .data = S("line\n"),
                            .data_len = 5};
    struct proto_msg ack = {.type = PROTO_OUTPUT_ACK, .job = S("j1"), .seq = 5};
    struct proto_msg res = {.type = PROTO_RESULT,
                            .job = S("j1"),
                            .end = PROTO_END_SIGNALED,
                            .code = -1,
                            .signal = S("KILL"),
                            .elapsed_ms = 1234,
                            .dropped = 99,
                            .replayed = true};
    struct proto_msg cancel = {.type = PROTO_CANCEL, .job = S("j1")};
    struct proto_msg query = {.type = PROTO_JOB_QUERY, .job = S("j1")};
    struct proto_msg status = {
        .type = PROTO_JOB_STATUS, .job = S("j1"), .state = PROTO_JOB_RUNNING};
    struct proto_msg error = {.type = PROTO_ERROR,
                              .code = PROTO_E_FENCED,
                              .text = S("epoch 3 is lower than 9"),
                              .who = S("state_dir=cd at=2026")};
    const struct proto_msg *all[] = {&hello, &welcome, &ping, &pong,
                                     &out,   &ack,     &res,  &cancel,
                                     &query, &status,  &error};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        struct proto_msg o = roundtrip(all[i]);
        assert_string_not_equal(proto_type_name(o.type), "?");
        proto_msg_release(&o);
    }
    struct proto_msg o = roundtrip(&res);
    assert_int_equal(o.end, PROTO_END_SIGNALED);
    assert_int_equal(o.code, -1);
    assert_string_equal(o.signal, "KILL");
    assert_int_equal(o.elapsed_ms, 1234);
    assert_int_equal(o.dropped, 99);
    assert_true(o.replayed);
    proto_msg_release(&o);
    o = roundtrip(&out);
    assert_int_equal(o.stream, 2);
    assert_int_equal(o.seq, 5);
    assert_memory_equal(o.data, "line\n", 5);
    proto_msg_release(&o);
    o = roundtrip(&error);
    assert_int_equal(o.code, PROTO_E_FENCED);
    assert_string_equal(o.text, "epoch 3 is lower than 9");
    assert_string_equal(o.who, "state_dir=cd at=2026");
    proto_msg_release(&o);
    o = roundtrip(&hello);
    assert_string_equal(o.who, "state_dir=ab coordinator=c1");
    proto_msg_release(&o);
    o = roundtrip(&welcome);
    assert_string_equal(o.text, "agent 0.1");
    assert_null(o.who); /* optional: absent stays absent */
    proto_msg_release(&o);
}

static void test_proto_encode_refuses_incomplete(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    struct err e = {0};
    struct proto_msg m = {.type = PROTO_EXEC, .command = S("true")};
    assert_int_equal(proto_encode(&m, &b, &e), ERR_INVALID);
    struct proto_msg big = {.type = PROTO_OUTPUT, .job = S("j"), .stream = 1};
    big.data_len = PROTO_FRAME_MAX + 1;
    big.data = calloc(1, big.data_len);
    assert_int_equal(proto_encode(&big, &b, &e), ERR_LIMIT);
    assert_int_equal(b.len, 0);
    free(big.data);
    buf_release(&b);
}

/* Encode a map by hand so fields can be given the wrong types. */
struct test_pk {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void test_pk_init(struct test_pk *t, size_t nkeys, uint64_t type)
{
    msgpack_sbuffer_init(&t->sb);
    msgpack_packer_init(&t->pk, &t->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&t->pk, nkeys);
    msgpack_pack_str_with_body(&t->pk, "v", 1);
    msgpack_pack_uint64(&t->pk, 1);
    msgpack_pack_str_with_body(&t->pk, "t", 1);
    msgpack_pack_uint64(&t->pk, type);
    msgpack_pack_str_with_body(&t->pk, "req", 3);
    msgpack_pack_uint64(&t->pk, 1);
    msgpack_pack_str_with_body(&t->pk, "ep", 2);
    msgpack_pack_uint64(&t->pk, 1);
}

static enum err_code test_pk_decode(struct test_pk *t, char *msg, size_t len)
{
    struct proto_msg m;
    struct err e = {0};
    enum err_code rc = proto_decode(t->sb.data, t->sb.size, &m, &e);
    proto_msg_release(&m);
    msgpack_sbuffer_destroy(&t->sb);
    if (msg != NULL)
        snprintf(msg, len, "%s", e.msg);
    return rc;
}

static void test_proto_refuses_wrong_fields(void **state)
{
    (void)state;
    struct test_pk t;
    char msg[256];

    /* minimal PING decodes */
    test_pk_init(&t, 4, PROTO_PING);
    assert_int_equal(test_pk_decode(&t, NULL, 0), ERR_OK);

    /* `who` over its cap */
    test_pk_init(&t, 5, PROTO_HELLO);
    msgpack_pack_str_with_body(&t.pk, "who", 3);
    {
        char big[PROTO_WHO_MAX + 1];
        memset(big, 'w', sizeof(big));
        msgpack_pack_str_with_body(&t.pk, big, sizeof(big));
    }
    assert_int_equal(test_pk_decode(&t, msg, sizeof(msg)), ERR_PROTO);
    assert_non_null(strstr(msg, "'who'"));

    /* unknown type */
    test_pk_init(&t, 4, 99);
    assert_int_equal(test_pk_decode(&t, msg, sizeof(msg)), ERR_PROTO);
    assert_non_null(strstr(msg, "unknown message type 99"));

    /* EXEC with cmd as an integer */
    test_pk_init(&t, 6, PROTO_EXEC);
    msgpack_pack_str_with_body(&t.pk, "job", 3);
    msgpack_pack_str_with_body(&t.pk, "j1", 2);
    msgpack_pack_str_with_body(&t.pk, "cmd", 3);
    msgpack_pack_uint64(&t.pk, 5);
    assert_int_equal(test_pk_decode(&t, msg, sizeof(msg)), ERR_PROTO);
    assert_non_null(strstr(msg, "'cmd'"));

    /* EXEC with an embedded NUL in the command */
    test_pk_init(&t, 6, PROTO_EXEC);
    msgpack_pack_str_with_body(&t.pk, "job", 3);
    msgpack_pack_str_with_body(&t.pk, "j1", 2);
    msgpack_pack_str_with_body(&t.pk, "cmd", 3);
    msgpack_pack_str_with_body(&t.pk, "rm\0x", 4);
    assert_int_equal(test_pk_decode(&t, msg, sizeof(msg)), ERR_PROTO);
    assert_non_null(strstr(msg, "NUL"));

    /* EXEC without its command */
    test_pk_init(&t, 5, PROTO_EXEC);
    msgpack_pack_str_with_body(&t.pk, "job", 3);
    msgpack_pack_str_with_body(&t.pk, "j1", 2);
    assert_int_equal(test_pk_decode(&t, NULL, 0), ERR_PROTO);

    /* a job id that would escape the job store */
    test_pk_init(&t, 5, PROTO_CANCEL);
    msgpack_pack_str_with_body(&t.pk, "job", 3);
    msgpack_pack_str_with_body(&t.pk, "../../etc", 9);
    assert_int_equal(test_pk_decode(&t, NULL, 0), ERR_PROTO);

    /* duplicate key */
    test_pk_init(&t, 5, PROTO_PING);
    msgpack_pack_str_with_body(&t.pk, "ep", 2);
    msgpack_pack_uint64(&t.pk, 9);
    assert_int_equal(test_pk_decode(&t, msg, sizeof(msg)), ERR_PROTO);
    assert_non_null(strstr(msg, "twice"));

    /* epoch as a negative number */
    msgpack_sbuffer_init(&t.sb);
    msgpack_packer_init(&t.pk, &t.sb, msgpack_sbuffer_write);
    msgpack_pack_map(&t.pk, 4);
    msgpack_pack_str_with_body(&t.pk, "v", 1);
    msgpack_pack_uint64(&t.pk, 1);
    msgpack_pack_str_with_body(&t.pk, "t", 1);
    msgpack_pack_uint64(&t.pk, PROTO_PING);
    msgpack_pack_str_with_body(&t.pk, "req", 3);
    msgpack_pack_uint64(&t.pk, 1);
    msgpack_pack_str_with_body(&t.pk, "ep", 2);
    msgpack_pack_int64(&t.pk, -5);
    assert_int_equal(test_pk_decode(&t, NULL, 0), ERR_PROTO);

    /* version 2 */
    msgpack_sbuffer_init(&t.sb);
    msgpack_packer_init(&t.pk, &t.sb, msgpack_sbuffer_write);
    msgpack_pack_map(&t.pk, 4);
    msgpack_pack_str_with_body(&t.pk, "v", 1);
    msgpack_pack_uint64(&t.pk, 2);
    msgpack_pack_str_with_body(&t.pk, "t", 1);
    msgpack_pack_uint64(&t.pk, PROTO_PING);
    msgpack_pack_str_with_body(&t.pk, "req", 3);
    msgpack_pack_uint64(&t.pk, 1);
    msgpack_pack_str_with_body(&t.pk, "ep", 2);
    msgpack_pack_uint64(&t.pk, 1);
    assert_int_equal(test_pk_decode(&t, msg, sizeof(msg)), ERR_PROTO);
    assert_non_null(strstr(msg, "version 2"));

    /* an unknown key is ignored */
    test_pk_init(&t, 5, PROTO_PING);
    msgpack_pack_str_with_body(&t.pk, "future", 6);
    msgpack_pack_array(&t.pk, 0);
    assert_int_equal(test_pk_decode(&t, NULL, 0), ERR_OK);

    /* a top level that is not a map */
    static const uint8_t arr[] = {0x91, 0x01};
    struct proto_msg m;
    assert_int_equal(proto_decode(arr, sizeof(arr), &m, NULL), ERR_PROTO);
    proto_msg_release(&m);
}

static void test_proto_hostile_frames_allocate_little(void **state)
{
    (void)state;
    static const uint8_t arr[] = {0xdd, 0x05, 0xf5, 0xe1, 0x00};
    static const uint8_t map[] = {0xdf, 0x05, 0xf5, 0xe1, 0x00};
    static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t c1[] = {0xc1};
    static const uint8_t trailing[] = {0x80, 0xc0};
    /* the 11-byte input that made msgpack-c call malloc(0x4000000008) */
    static const uint8_t eleven[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xdd,
                                     0xff, 0xff, 0xff, 0xff, 0x00};
    uint8_t nested[32 * 5 + 1];
    for (size_t i = 0; i < 32; i++) {
        nested[5 * i] = 0xdd;
        nested[5 * i + 1] = 0x00;
        nested[5 * i + 2] = 0x00;
        nested[5 * i + 3] = 0x10;
        nested[5 * i + 4] = 0x00;
    }
    nested[160] = 0xc0;
    uint8_t deep[18];
    memset(deep, 0x81, 17);
    deep[17] = 0xc0;
    const struct {
        const uint8_t *p;
        size_t n;
    } cases[] = {
        {arr, sizeof(arr)},           {map, sizeof(map)},
        {str32, sizeof(str32)},       {c1, sizeof(c1)},
        {trailing, sizeof(trailing)}, {eleven, sizeof(eleven)},
        {nested, sizeof(nested)},     {deep, sizeof(deep)},
    };
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
#if TEST_TRACK_ALLOC
    test_biggest = 0;
#endif
    for (int round = 0; round < 1000; round++)
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct proto_msg m;
            struct err e = {0};
            assert_int_equal(proto_decode(cases[i].p, cases[i].n, &m, &e),
                             ERR_PROTO);
            proto_msg_release(&m);
        }
#if TEST_TRACK_ALLOC
    /* nothing was allocated for any of them beyond small bookkeeping */
    assert_true(test_biggest < 4096);
#endif
    getrusage(RUSAGE_SELF, &after);
    assert_true(after.ru_maxrss - before.ru_maxrss < 8 * 1024); /* KiB */
}

/* Empty strings and bytes, whose data pointer msgpack-c leaves NULL (a
 * memcpy from NULL that only the sanitized build reports): an empty key,
 * an empty env name and value, empty output bytes. */
static void test_proto_empty_strings(void **state)
{
    (void)state;
    static const uint8_t empty_key[] = {0x81, 0xa0, 0x00};
    struct proto_msg m;
    struct err e = {0};
    assert_int_equal(proto_decode(empty_key, sizeof(empty_key), &m, &e),
                     ERR_PROTO);
    proto_msg_release(&m);

    struct test_pk t;
    char msg[256];
    test_pk_init(&t, 7, PROTO_EXEC);
    msgpack_pack_str_with_body(&t.pk, "job", 3);
    msgpack_pack_str_with_body(&t.pk, "j1", 2);
    msgpack_pack_str_with_body(&t.pk, "cmd", 3);
    msgpack_pack_str_with_body(&t.pk, "", 0);
    msgpack_pack_str_with_body(&t.pk, "env", 3);
    msgpack_pack_map(&t.pk, 1);
    msgpack_pack_str_with_body(&t.pk, "", 0);
    msgpack_pack_str_with_body(&t.pk, "", 0);
    assert_int_equal(test_pk_decode(&t, msg, sizeof(msg)), ERR_PROTO);
    assert_non_null(strstr(msg, "empty"));

    test_pk_init(&t, 8, PROTO_OUTPUT);
    msgpack_pack_str_with_body(&t.pk, "job", 3);
    msgpack_pack_str_with_body(&t.pk, "j1", 2);
    msgpack_pack_str_with_body(&t.pk, "st", 2);
    msgpack_pack_uint64(&t.pk, 1);
    msgpack_pack_str_with_body(&t.pk, "seq", 3);
    msgpack_pack_uint64(&t.pk, 0);
    msgpack_pack_str_with_body(&t.pk, "data", 4);
    msgpack_pack_bin_with_body(&t.pk, "", 0);
    assert_int_equal(test_pk_decode(&t, msg, sizeof(msg)), ERR_OK);
}

static void test_proto_frame_limit(void **state)
{
    (void)state;
    size_t n = PROTO_FRAME_MAX + 1;
    uint8_t *p = calloc(1, n);
    struct proto_msg m;
    struct err e = {0};
    assert_int_equal(proto_decode(p, n, &m, &e), ERR_PROTO);
    assert_non_null(strstr(e.msg, "over the limit"));
    proto_msg_release(&m);
    free(p);
}

static void test_proto_id_valid(void **state)
{
    (void)state;
    assert_true(proto_id_valid("DEP-2026-11-22-001:web1:3"));
    assert_false(proto_id_valid(""));
    assert_false(proto_id_valid(NULL));
    assert_false(proto_id_valid(".hidden"));
    assert_true(proto_id_valid("DEP-1/web1/deploy/0/0"));
    assert_false(proto_id_valid("a%2Fb"));
    assert_false(proto_id_valid("a b"));
    char longid[PROTO_ID_MAX + 2];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_false(proto_id_valid(longid));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_roundtrip_exec),
        cmocka_unit_test(test_proto_roundtrip_all_types),
        cmocka_unit_test(test_proto_encode_refuses_incomplete),
        cmocka_unit_test(test_proto_refuses_wrong_fields),
        cmocka_unit_test(test_proto_hostile_frames_allocate_little),
        cmocka_unit_test(test_proto_empty_strings),
        cmocka_unit_test(test_proto_frame_limit),
        cmocka_unit_test(test_proto_id_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
