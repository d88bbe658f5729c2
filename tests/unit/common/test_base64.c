/* tests/unit/common/test_base64.c: base64 over libcrypto. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base64.h"

#include <stdlib.h>
#include <string.h>

/* RFC 4648 section 10. */
static const char *const base64_vectors[][2] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_base64_rfc4648(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(base64_vectors) / sizeof(*base64_vectors);
         i++) {
        const char *plain = base64_vectors[i][0], *enc = base64_vectors[i][1];
        char *e = base64_encode(plain, strlen(plain));
        assert_string_equal(e, enc);
        free(e);
        size_t n = 99;
        unsigned char *d = base64_decode(enc, strlen(enc), &n);
        assert_non_null(d);
        assert_int_equal(n, strlen(plain));
        assert_memory_equal(d, plain, n);
        free(d);
    }
}

/* Line breaks and blanks are skipped, the text ends at '=', a lone last
 * character carries no byte. */
static void test_base64_decode_lenient(void **state)
{
    (void)state;
    size_t n = 0;
    unsigned char *d = base64_decode("\nZm9v\r\n Ym Fy\n", 15, &n);
    assert_int_equal(n, 6);
    assert_memory_equal(d, "foobar", 6);
    free(d);
    d = base64_decode("Zm8=Zm9v", 8, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(d, "fo", 2);
    free(d);
    d = base64_decode("Zm9vY", 5, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(d, "foo", 3);
    free(d);
    d = base64_decode("Zm9v", 2, &n); /* only len bytes are read */
    assert_int_equal(n, 1);
    assert_memory_equal(d, "f", 1);
    free(d);
}

/* Longer than one chunk: every byte value survives the round trip. */
static void test_base64_round_trip_long(void **state)
{
    (void)state;
    unsigned char in[3001];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 7 + 3);
    char *e = base64_encode(in, sizeof(in));
    assert_int_equal(strlen(e), (sizeof(in) + 2) / 3 * 4);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    base64_add(&b, in, 999);
    base64_add(&b, in + 999, 2001 - 999);
    assert_memory_equal(b.data, e, 2001 / 3 * 4);
    buf_release(&b);
    size_t n = 0;
    unsigned char *d = base64_decode(e, strlen(e), &n);
    assert_int_equal(n, sizeof(in));
    assert_memory_equal(d, in, n);
    free(d);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_base64_decode_lenient),
        cmocka_unit_test(test_base64_round_trip_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
