/* tests/unit/common/test_log.c: level filtering, one line per event, and
 * redaction of every line (the default hook and a custom one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "log.h"
#include "redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Captured log output: each test logs into a fresh tmpfile. */
static FILE *cap;

static int cap_setup(void **state)
{
    (void)state;
    cap = tmpfile();
    if (cap == NULL)
        return -1;
    log_set_stream(cap);
    log_set_level(LOG_INFO);
    log_set_ident("drover");
    log_set_redactor(NULL, NULL);
    return 0;
}

static int cap_teardown(void **state)
{
    (void)state;
    log_set_stream(NULL);
    log_set_level(LOG_INFO);
    log_set_redactor(NULL, NULL);
    fclose(cap);
    cap = NULL;
    return 0;
}

/* Everything logged so far; caller frees. */
static char *cap_text(void)
{
    fflush(cap);
    long n = ftell(cap);
    assert_true(n >= 0);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    rewind(cap);
    assert_int_equal(fread(s, 1, (size_t)n, cap), (size_t)n);
    s[n] = '\0';
    fseek(cap, 0, SEEK_END);
    return s;
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_log_level_filtering(void **state)
{
    (void)state;
    assert_int_equal(log_get_level(), LOG_INFO);
    log_error("e=%d", 1);
    log_warn("w=%d", 2);
    log_info("i=%d", 3);
    log_debug("d=%d", 4);
    log_trace("t=%d", 5);
    char *s = cap_text();
    assert_string_equal(s, "drover: error: e=1\n"
                           "drover: warn: w=2\n"
                           "drover: i=3\n");
    free(s);

    log_set_level(LOG_ERROR);
    assert_int_equal(log_get_level(), LOG_ERROR);
    log_warn("hidden");
    log_error("shown");
    s = cap_text();
    assert_null(strstr(s, "hidden"));
    assert_non_null(strstr(s, "drover: error: shown\n"));
    free(s);
}

static void test_log_debug_carries_call_site(void **state)
{
    (void)state;
    log_set_level(LOG_DEBUG);
    log_set_ident("drover-agent");
    int line = __LINE__ + 1;
    log_debug("host=%s step=%s", "web01", "pull");
    log_trace("not at debug");
    char *s = cap_text();
    assert_int_equal(count_char(s, '\n'), 1);
    /* "HH:MM:SS.mmm ident level file:line func: message" */
    assert_int_equal(s[2], ':');
    assert_int_equal(s[5], ':');
    assert_int_equal(s[8], '.');
    assert_int_equal(s[12], ' ');
    char want[256];
    snprintf(want, sizeof(want),
             " drover-agent debug %s:%d %s: host=web01 step=pull\n", __FILE__,
             line, "test_log_debug_carries_call_site");
    assert_string_equal(s + 12, want);
    free(s);
}

static void test_log_one_line_per_event(void **state)
{
    (void)state;
    log_info("out=%s", "line1\nline2\r\nforged: error: root\n");
    log_warn("second");
    char *s = cap_text();
    assert_string_equal(s, "drover: out=line1 line2  forged: error: root \n"
                           "drover: warn: second\n");
    free(s);
}

static void test_log_long_line(void **state)
{
    (void)state;
    /* far past the line cap: still one line, terminated, and the cut is
     * reported instead of silent */
    size_t n = 100000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'q', n);
    big[n] = '\0';
    log_info("big=%s", big);
    log_info("next");
    char *s = cap_text();
    assert_int_equal(count_char(s, '\n'), 2);
    char *nl = strchr(s, '\n');
    assert_true(nl - s < 20000);
    assert_true(nl - s > 10000);
    assert_non_null(strstr(s, "bytes cut]\n"));
    assert_non_null(strstr(s, "\ndrover: next\n"));
    free(s);
    free(big);
}

static void test_log_secret_at_the_cut(void **state)
{
    (void)state;
    /* a secret straddling the line cap is redacted before the cut, so
     * no prefix of it is written */
    redact_add(redact_global(), "straddling-secret-value");
    for (size_t pad = 16300; pad < 16400; pad += 7) {
        char *p = malloc(pad + 1);
        assert_non_null(p);
        memset(p, '.', pad);
        p[pad] = '\0';
        log_info("%s straddling-secret-value tail", p);
        free(p);
    }
    char *s = cap_text();
    assert_null(strstr(s, "straddl"));
    free(s);
}

static void test_log_default_redaction(void **state)
{
    (void)state;
    redact_add(redact_global(), "hunter2-password");
    log_info("user=ops password=%s", "hunter2-password");
    log_error("auth header: %s", "aHVudGVyMi1wYXNzd29yZA==");
    log_warn("twice: hunter2-password hunter2-password");
    char *s = cap_text();
    assert_null(strstr(s, "hunter2"));
    assert_null(strstr(s, "aHVudGVyMi1wYXNzd29yZA"));
    assert_string_equal(s, "drover: user=ops password=[redacted]\n"
                           "drover: error: auth header: [redacted]==\n"
                           "drover: warn: twice: [redacted] [redacted]\n");
    free(s);
}

/* Results (log_out) and text encoded after (log_redacted) pass the same
 * redaction as log lines, patterns included; results keep no prefix. */
static void test_log_out_redacts(void **state)
{
    (void)state;
    redact_add(redact_global(), "canary-out-secret");
    redact_set_patterns(redact_global(), true);
    log_out(cap, "h1: %s and https://u:pw-in-url@h/ and %s",
            "canary-out-secret", "Authorization: Bearer abc.def");
    char *s = cap_text();
    assert_string_equal(s, "h1: [redacted] and https://u:[redacted]@h/ and "
                           "Authorization: [redacted]\n");
    free(s);
    char *r = log_redacted("token=abc canary-out-secret", 27);
    assert_string_equal(r, "token=[redacted] [redacted]");
    free(r);
    redact_set_patterns(redact_global(), false);
}

static void test_log_multiline_secret(void **state)
{
    (void)state;
    /* a key whose middle line is too short to be a pattern of its own must
     * still not appear: the whole value is matched before newlines are
     * flattened */
    const char *key = "-----BEGIN K-----\nQz\n-----END K-----";
    redact_add(redact_global(), key);
    log_info("key=%s;", key);
    char *s = cap_text();
    assert_string_equal(s, "drover: key=[redacted];\n");
    free(s);
}

/* A custom hook: upper-cases nothing, counts calls, replaces "tok". */
struct hook_state {
    int calls;     /* lines seen */
    char last[64]; /* start of the last line seen */
};

static void hook_fn(struct buf *line, void *arg)
{
    struct hook_state *h = arg;
    h->calls++;
    snprintf(h->last, sizeof(h->last), "%s", buf_cstr(line));
    char *p = strstr(line->data, "tok");
    if (p != NULL)
        memcpy(p, "***", 3);
}

static void test_log_custom_redactor(void **state)
{
    (void)state;
    struct hook_state h = {0};
    redact_add(redact_global(), "global-only-secret");
    log_set_redactor(hook_fn, &h);
    log_info("a tok b");
    log_debug("filtered lines never reach the hook");
    log_warn("global-only-secret");
    assert_int_equal(h.calls, 2);
    assert_string_equal(h.last, "drover: warn: global-only-secret");
    /* NULL restores the default hook (the global set) */
    log_set_redactor(NULL, NULL);
    log_info("global-only-secret tok");
    assert_int_equal(h.calls, 2);
    char *s = cap_text();
    assert_string_equal(s, "drover: a *** b\n"
                           "drover: warn: global-only-secret\n"
                           "drover: [redacted] tok\n");
    free(s);
}

static void test_log_vmsg(void **state)
{
    (void)state;
    log_msg(LOG_WARN, "x.c", 7, "f", "%s=%d", "k", 9);
    log_msg(LOG_DEBUG, "x.c", 8, "f", "dropped");
    char *s = cap_text();
    assert_string_equal(s, "drover: warn: k=9\n");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_level_filtering, cap_setup,
                                        cap_teardown),
        cmocka_unit_test_setup_teardown(test_log_debug_carries_call_site,
                                        cap_setup, cap_teardown),
        cmocka_unit_test_setup_teardown(test_log_one_line_per_event, cap_setup,
                                        cap_teardown),
        cmocka_unit_test_setup_teardown(test_log_long_line, cap_setup,
                                        cap_teardown),
        cmocka_unit_test_setup_teardown(test_log_secret_at_the_cut, cap_setup,
                                        cap_teardown),
        cmocka_unit_test_setup_teardown(test_log_default_redaction, cap_setup,
                                        cap_teardown),
        cmocka_unit_test_setup_teardown(test_log_out_redacts, cap_setup,
                                        cap_teardown),
        cmocka_unit_test_setup_teardown(test_log_multiline_secret, cap_setup,
                                        cap_teardown),
        cmocka_unit_test_setup_teardown(test_log_custom_redactor, cap_setup,
                                        cap_teardown),
        cmocka_unit_test_setup_teardown(test_log_vmsg, cap_setup, cap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
