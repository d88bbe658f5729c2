/* tests/unit/common/test_redact.c: secret values and their derived forms
 * (base64, each line) are replaced wherever they appear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "redact.h"

#include <stdlib.h>
#include <string.h>

/* Redact s with r and compare with want. */
static void check(const struct redact *r, const char *s, const char *want)
{
    char *got = redact_str(r, s);
    assert_string_equal(got, want);
    free(got);
}

static void test_redact_exact_value(void **state)
{
    (void)state;
    struct redact *r = redact_new();
    assert_int_equal(redact_count(r), 0);
    check(r, "password=hunter22", "password=hunter22");
    redact_add(r, "hunter22");
    /* the value, its base64 form, and the parts of its base64 that are the
     * same at offsets 0, 1, 2 of a longer base64 text */
    assert_int_equal(redact_count(r), 6);
    check(r, "password=hunter22", "password=[redacted]");
    check(r, "hunter22", "[redacted]");
    check(r, "hunter2", "hunter2");
    check(r, "", "");
    check(r, "HUNTER22", "HUNTER22");
    /* adding the same value again adds nothing */
    redact_add(r, "hunter22");
    assert_int_equal(redact_count(r), 6);
    redact_free(r);
    redact_free(NULL);
}

static void test_redact_base64_forms(void **state)
{
    (void)state;
    struct redact *r = redact_new();
    /* lengths 3k, 3k+1, 3k+2: no padding, "==", "=" */
    redact_add(r, "abcdef");  /* YWJjZGVm */
    redact_add(r, "s3cret7"); /* czNjcmV0Nw== */
    redact_add(r, "token99");
    redact_add(r, "tokenXYZ"); /* dG9rZW5YWVo= */
    check(r, "auth YWJjZGVm end", "auth [redacted] end");
    check(r, "auth czNjcmV0Nw== end", "auth [redacted]== end");
    check(r, "auth czNjcmV0Nw end", "auth [redacted] end");
    check(r, "x=dG9rZW5YWVo=", "x=[redacted]=");
    check(r, "x=dG9rZW5YWVo", "x=[redacted]");
    /* inside a longer base64 text at every alignment: Basic auth of
     * "ops:s3cret7", "ops1:s3cret7", "ops12:s3cret7" */
    check(r, "Basic b3BzOnMzY3JldDc=", "Basic b3BzOn[redacted]=");
    check(r, "Basic b3BzMTpzM2NyZXQ3", "Basic b3BzMTp[redacted]");
    check(r, "Basic b3BzMTI6czNjcmV0Nw==", "Basic b3BzMTI6[redacted]==");
    /* followed by more data, the last partial character cannot be known:
     * "ops:s3cret7!" */
    check(r, "b3BzOnMzY3JldDch", "b3BzOn[redacted]h");
    /* base64 of a different value is left alone */
    check(r, "YWJjZGVn", "YWJjZGVn");
    redact_free(r);
}

static void test_redact_multiline_value(void **state)
{
    (void)state;
    struct redact *r = redact_new();
    const char *key = "-----BEGIN KEY-----\nMIIEowIBAAKCAQEA\r\nqQ+x9\n"
                      "-----END KEY-----\n";
    redact_add(r, key);
    /* the whole value, one line at a time, and the lines out of order */
    char *whole = malloc(strlen(key) + 16);
    memcpy(whole, "k=", 2);
    memcpy(whole + 2, key, strlen(key) + 1);
    check(r, whole, "k=[redacted]");
    free(whole);
    check(r, "line: MIIEowIBAAKCAQEA", "line: [redacted]");
    check(r, "qQ+x9 then -----END KEY-----", "[redacted] then [redacted]");
    check(r, "-----BEGIN KEY----- MIIEowIBAAKCAQEA", "[redacted] [redacted]");
    redact_free(r);

    /* a value whose lines end in CR only is still split into lines */
    r = redact_new();
    redact_add(r, "first-line\rsecond-line");
    check(r, "> second-line <", "> [redacted] <");
    redact_free(r);
}

static void test_redact_longest_first(void **state)
{
    (void)state;
    struct redact *r = redact_new();
    redact_add(r, "pass");
    redact_add(r, "password123");
    /* one mark for the longer secret, not "[redacted]word123" */
    check(r, "pw=password123", "pw=[redacted]");
    check(r, "pw=pass", "pw=[redacted]");
    redact_free(r);
}

static void test_redact_overlapping(void **state)
{
    (void)state;
    struct redact *r = redact_new();
    redact_add(r, "abcdef");
    redact_add(r, "defghi");
    /* two secrets sharing bytes: none of either survives */
    check(r, "<abcdefghi>", "<[redacted]>");
    check(r, "<defghiabcdef>", "<[redacted]>");
    redact_free(r);

    /* a secret overlapping itself */
    r = redact_new();
    redact_add(r, "abab");
    check(r, "xababab", "x[redacted]");
    redact_free(r);

    /* a short secret that also occurs inside the mark itself: the mark is
     * not shredded, and the secret is still gone */
    r = redact_new();
    redact_add(r, "longsecret");
    redact_add(r, "act");
    check(r, "longsecret act", "[redacted] [redacted]");
    redact_free(r);
}

static void test_redact_min_length(void **state)
{
    (void)state;
    struct redact *r = redact_new();
    redact_add(r, "");
    redact_add(r, "a");
    redact_add(r, "ab");
    assert_int_equal(REDACT_MIN, 3);
    /* "ab" is too short; its base64 "YWI" is long enough; the cores
     * inside longer base64 are too short to keep */
    assert_int_equal(redact_count(r), 1);
    check(r, "a b ab abc", "a b ab abc");
    check(r, "YWI=", "[redacted]=");
    redact_add(r, "abc");
    check(r, "a b ab abc", "a b ab [redacted]");
    /* short lines of a multi-line value are skipped, long ones kept */
    struct redact *m = redact_new();
    redact_add(m, "xy\nlonger");
    check(m, "xy longer", "xy [redacted]");
    redact_free(m);
    redact_free(r);
}

static void test_redact_many_occurrences(void **state)
{
    (void)state;
    struct redact *r = redact_new();
    redact_add(r, "tok3n");
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%d:tok3n;", i);
    buf_adds(&b, "tok3ntok3n");
    redact_buf(r, &b);
    const char *s = buf_cstr(&b);
    assert_null(strstr(s, "tok3n"));
    size_t marks = 0;
    for (const char *p = s; (p = strstr(p, REDACT_MARK)) != NULL; p++)
        marks++;
    /* adjacent occurrences merge into one mark */
    assert_int_equal(marks, 1001);
    assert_non_null(strstr(s, "0:[redacted];1:[redacted];"));
    assert_non_null(strstr(s, "999:[redacted];[redacted]"));
    buf_release(&b);
    redact_free(r);
}

static void test_redact_buf_keeps_limit(void **state)
{
    (void)state;
    struct redact *r = redact_new();
    redact_add(r, "xyz");
    struct buf b;
    buf_init(&b, 64);
    buf_adds(&b, "a xyz b");
    redact_buf(r, &b);
    assert_string_equal(buf_cstr(&b), "a [redacted] b");
    assert_int_equal(b.limit, 64);
    assert_int_equal(b.len, strlen("a [redacted] b"));
    buf_release(&b);
    /* a capped capture keeps its count of dropped bytes */
    buf_init(&b, 8);
    assert_false(buf_adds(&b, "xyz 12345678"));
    assert_int_equal(b.dropped, 4);
    redact_buf(r, &b);
    assert_string_equal(buf_cstr(&b), "[redacted] 1234");
    assert_int_equal(b.dropped, 4);
    assert_int_equal(b.limit, 8);
    buf_release(&b);
    /* an empty buffer and a NULL set are left alone */
    buf_init(&b, BUF_UNLIMITED);
    redact_buf(r, &b);
    assert_int_equal(b.len, 0);
    buf_adds(&b, "xyz");
    redact_buf(NULL, &b);
    assert_string_equal(buf_cstr(&b), "xyz");
    buf_release(&b);
    char *s = redact_str(NULL, "xyz");
    assert_string_equal(s, "xyz");
    free(s);
    redact_free(r);
}

static void test_redact_global(void **state)
{
    (void)state;
    struct redact *g = redact_global();
    assert_non_null(g);
    assert_ptr_equal(g, redact_global());
    size_t before = redact_count(g);
    redact_add(g, "global-secret");
    assert_true(redact_count(g) > before);
    check(g, "v=global-secret", "v=[redacted]");
}

static void test_redact_binary_safe(void **state)
{
    (void)state;
    struct redact *r = redact_new();
    redact_add(r, "k3y");
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_add(&b, "a\0k3y\0b", 7);
    redact_buf(r, &b);
    assert_int_equal(b.len, 2 + strlen(REDACT_MARK) + 2);
    assert_memory_equal(b.data, "a\0[redacted]\0b", b.len);
    buf_release(&b);
    redact_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_exact_value),
        cmocka_unit_test(test_redact_base64_forms),
        cmocka_unit_test(test_redact_multiline_value),
        cmocka_unit_test(test_redact_longest_first),
        cmocka_unit_test(test_redact_overlapping),
        cmocka_unit_test(test_redact_min_length),
        cmocka_unit_test(test_redact_many_occurrences),
        cmocka_unit_test(test_redact_buf_keeps_limit),
        cmocka_unit_test(test_redact_global),
        cmocka_unit_test(test_redact_binary_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
