/* tests/unit/proto/test_msgcheck.c: the non-allocating validator against
 * well-formed frames and the hostile inputs of docs/dependencies.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "msgcheck.h"

#include <string.h>

static const struct msgcheck_limits lim = {
    .depth_max = MSGCHECK_DEPTH_MAX,
    .objects_max = MSGCHECK_OBJECTS_MAX,
    .str_max = 1024,
};

static enum err_code check(const void *p, size_t n)
{
    struct err e = {0};
    return msgcheck_frame(p, n, &lim, &e);
}

static void test_msgcheck_accepts_wellformed(void **state)
{
    (void)state;
    /* {"a": [1, -1, nil, true, 1.5f, "xy", bin"\x00"], "b": {}} */
    static const uint8_t ok[] = {0x82, 0xa1, 'a',  0x97, 0x01, 0xff, 0xc0, 0xc3,
                                 0xca, 0x3f, 0xc0, 0x00, 0x00, 0xa2, 'x',  'y',
                                 0xc4, 0x01, 0x00, 0xa1, 'b',  0x80};
    assert_int_equal(check(ok, sizeof(ok)), ERR_OK);
    static const uint8_t u64[] = {0xcf, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(check(u64, sizeof(u64)), ERR_OK);
    static const uint8_t empty_arr[] = {0x90};
    assert_int_equal(check(empty_arr, 1), ERR_OK);
}

static void test_msgcheck_refuses_huge_counts(void **state)
{
    (void)state;
    /* array32 and map32 claiming 10^8 elements */
    static const uint8_t arr[] = {0xdd, 0x05, 0xf5, 0xe1, 0x00, 0xc0};
    static const uint8_t map[] = {0xdf, 0x05, 0xf5, 0xe1, 0x00, 0xc0, 0xc0};
    static const uint8_t arr16[] = {0xdc, 0xff, 0xff};
    struct err e = {0};
    assert_int_equal(msgcheck_frame(arr, sizeof(arr), &lim, &e), ERR_PROTO);
    assert_non_null(strstr(e.msg, "claims"));
    assert_int_equal(check(map, sizeof(map)), ERR_PROTO);
    assert_int_equal(check(arr16, sizeof(arr16)), ERR_PROTO);
    /* a map of 2 pairs needs 4 objects: 3 bytes left is too few */
    static const uint8_t map2[] = {0x82, 0xc0, 0xc0, 0xc0};
    assert_int_equal(check(map2, sizeof(map2)), ERR_PROTO);
}

static void test_msgcheck_refuses_nested_claims(void **state)
{
    (void)state;
    /* 32 nested array16 headers each claiming 4 elements: the sum of the
     * claims exceeds the frame long before the depth does */
    uint8_t p[32 * 3 + 1];
    for (size_t i = 0; i < 32; i++) {
        p[3 * i] = 0xdc;
        p[3 * i + 1] = 0x00;
        p[3 * i + 2] = 0x04;
    }
    p[96] = 0xc0;
    assert_int_equal(check(p, sizeof(p)), ERR_PROTO);
}

static void test_msgcheck_depth(void **state)
{
    (void)state;
    uint8_t p[40];
    /* depth 16 is allowed, 17 is not */
    memset(p, 0x91, 16);
    p[16] = 0xc0;
    assert_int_equal(check(p, 17), ERR_OK);
    memset(p, 0x91, 17);
    p[17] = 0xc0;
    struct err e = {0};
    assert_int_equal(msgcheck_frame(p, 18, &lim, &e), ERR_PROTO);
    assert_non_null(strstr(e.msg, "deeper"));
    memset(p, 0x91, 32);
    p[32] = 0xc0;
    assert_int_equal(check(p, 33), ERR_PROTO);
}

static void test_msgcheck_refuses_bad_strings(void **state)
{
    (void)state;
    static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t bin32[] = {0xc6, 0x00, 0x00, 0x00, 0x10, 'a'};
    static const uint8_t str8_short[] = {0xd9, 0x05, 'a', 'b'};
    static const uint8_t trunc_len[] = {0xda, 0x01};
    assert_int_equal(check(str32, sizeof(str32)), ERR_PROTO);
    assert_int_equal(check(bin32, sizeof(bin32)), ERR_PROTO);
    assert_int_equal(check(str8_short, sizeof(str8_short)), ERR_PROTO);
    assert_int_equal(check(trunc_len, sizeof(trunc_len)), ERR_PROTO);
    /* over str_max even when the bytes are there */
    uint8_t big[3 + 2000];
    big[0] = 0xda;
    big[1] = 0x07;
    big[2] = 0xd0;
    memset(big + 3, 'x', 2000);
    assert_int_equal(check(big, sizeof(big)), ERR_PROTO);
}

static void test_msgcheck_refuses_bad_bytes(void **state)
{
    (void)state;
    static const uint8_t c1[] = {0xc1};
    static const uint8_t ext[] = {0xd4, 0x01, 0x00};
    static const uint8_t trailing[] = {0x80, 0x00};
    static const uint8_t trunc_int[] = {0xcf, 0x00};
    static const uint8_t missing[] = {0x92, 0x01};
    assert_int_equal(check(c1, 1), ERR_PROTO);
    assert_int_equal(check(ext, sizeof(ext)), ERR_PROTO);
    assert_int_equal(check(trailing, sizeof(trailing)), ERR_PROTO);
    assert_int_equal(check(trunc_int, sizeof(trunc_int)), ERR_PROTO);
    assert_int_equal(check(missing, sizeof(missing)), ERR_PROTO);
    assert_int_equal(check("", 0), ERR_PROTO);
}

static void test_msgcheck_object_cap(void **state)
{
    (void)state;
    struct msgcheck_limits small = lim;
    small.objects_max = 4;
    static const uint8_t arr[] = {0x94, 1, 2, 3, 4};
    struct err e = {0};
    assert_int_equal(msgcheck_frame(arr, sizeof(arr), &small, &e), ERR_PROTO);
    small.objects_max = 5;
    assert_int_equal(msgcheck_frame(arr, sizeof(arr), &small, &e), ERR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msgcheck_accepts_wellformed),
        cmocka_unit_test(test_msgcheck_refuses_huge_counts),
        cmocka_unit_test(test_msgcheck_refuses_nested_claims),
        cmocka_unit_test(test_msgcheck_depth),
        cmocka_unit_test(test_msgcheck_refuses_bad_strings),
        cmocka_unit_test(test_msgcheck_refuses_bad_bytes),
        cmocka_unit_test(test_msgcheck_object_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
