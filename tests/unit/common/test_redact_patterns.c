/* tests/unit/common/test_redact_patterns.c: the redaction rules that need
 * no registered value (bearer tokens, Authorization headers, URL
 * credentials, secret-looking names) and the JSON-escaped and URL-encoded
 * forms of registered values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "redact.h"

#include <stdlib.h>
#include <string.h>

static void pat(const char *s, const char *want)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_adds(&b, s);
    redact_patterns(&b);
    assert_string_equal(buf_cstr(&b), want);
    buf_release(&b);
}

static void check(const struct redact *r, const char *s, const char *want)
{
    char *got = redact_str(r, s);
    assert_string_equal(got, want);
    free(got);
}

static void test_redact_names(void **state)
{
    (void)state;
    assert_true(redact_name_is_secret("DB_PASSWORD"));
    assert_true(redact_name_is_secret("passwd"));
    assert_true(redact_name_is_secret("client_secret"));
    assert_true(redact_name_is_secret("GITHUB_TOKEN"));
    assert_true(redact_name_is_secret("SECRET_KEY"));
    assert_true(redact_name_is_secret("api_key"));
    assert_true(redact_name_is_secret("ssh-key"));
    assert_false(redact_name_is_secret("keyboard"));
    assert_false(redact_name_is_secret("version"));
    assert_false(redact_name_is_secret("_key"));
    assert_false(redact_name_is_secret(""));
    struct redact *r = redact_new();
    assert_false(redact_add_named(r, "app_dir", "/opt/sms"));
    assert_int_equal(redact_count(r), 0);
    assert_true(redact_add_named(r, "DB_PASSWORD", "s3cr3t-pw"));
    check(r, "connecting with s3cr3t-pw", "connecting with [redacted]");
    redact_free(r);
}

static void test_redact_pattern_rules(void **state)
{
    (void)state;
    pat("curl -H 'Authorization: Bearer abc.def-ghi' http://x/",
        "curl -H 'Authorization: [redacted]");
    pat("token is Bearer eyJhbGciOi.xyz= ok", "token is Bearer [redacted] ok");
    pat("Authorization: Basic dXNlcjpwYXNz\nnext line",
        "Authorization: [redacted]\nnext line");
    pat("{\"Authorization\":\"Bearer x1\",\"a\":1}",
        "{\"Authorization\":\"[redacted]\",\"a\":1}");
    pat("DATABASE_URL=postgres://app:hunter2@db:5432/app",
        "DATABASE_URL=postgres://app:[redacted]@db:5432/app");
    pat("see https://example.com/a:b@c", "see https://example.com/a:b@c");
    pat("git clone https://user@host/repo", "git clone https://user@host/repo");
    pat("DB_PASSWORD=pw123 next=1", "DB_PASSWORD=[redacted] next=1");
    pat("export API_KEY='a b c'; echo", "export API_KEY='[redacted]'; echo");
    pat("{\"password\": \"p\\\"w\", \"user\": \"bob\"}",
        "{\"password\": \"[redacted]\", \"user\": \"bob\"}");
    pat("secret_key: abc", "secret_key: [redacted]");
    pat("url?token=abc&x=1", "url?token=[redacted]&x=1");
    /* already redacted stays one mark */
    pat("PASSWORD=[redacted] x", "PASSWORD=[redacted] x");
    /* lists and objects name secrets, variable references point at them */
    pat("{\"secret_env\": [\"DB_PASSWORD\"], \"x\": 1}",
        "{\"secret_env\": [\"DB_PASSWORD\"], \"x\": 1}");
    pat("secret_env: {a: 1}", "secret_env: {a: 1}");
    pat("DB_PASSWORD=$DB_PASS ./migrate", "DB_PASSWORD=$DB_PASS ./migrate");
    /* a placeholder of dots is drover's own wording, not a value */
    pat("needs -e db_password=... again", "needs -e db_password=... again");
    pat("password=...x", "password=[redacted]");
    /* ordinary text is left alone */
    pat("host=web1 step=restart version=2", "host=web1 step=restart version=2");
    pat("the token was rotated", "the token was rotated");
    pat("", "");
}

static void test_redact_patterns_switch(void **state)
{
    (void)state;
    struct redact *r = redact_new();
    check(r, "PASSWORD=x1y2", "PASSWORD=x1y2");
    redact_set_patterns(r, true);
    check(r, "PASSWORD=x1y2", "PASSWORD=[redacted]");
    redact_add(r, "canary-7f3a");
    check(r, "out: canary-7f3a and token=zz9",
          "out: [redacted] and token=[redacted]");
    redact_set_patterns(r, false);
    check(r, "PASSWORD=x1y2", "PASSWORD=x1y2");
    redact_free(r);
}

static void test_redact_escaped_forms(void **state)
{
    (void)state;
    struct redact *r = redact_new();
    redact_add(r, "p@ss w\"rd/1");
    /* JSON-escaped */
    check(r, "{\"v\":\"p@ss w\\\"rd/1\"}", "{\"v\":\"[redacted]\"}");
    /* URL-encoded, upper and lower hex, + for space */
    check(r, "?pw=p%40ss%20w%22rd%2F1&x", "?pw=[redacted]&x");
    check(r, "?pw=p%40ss+w%22rd%2f1&x", "?pw=[redacted]&x");
    redact_free(r);
    /* a multi-line value escaped into JSON */
    r = redact_new();
    redact_add(r, "line-one\nline-two");
    check(r, "\"line-one\\nline-two\"", "\"[redacted]\"");
    redact_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_names),
        cmocka_unit_test(test_redact_pattern_rules),
        cmocka_unit_test(test_redact_patterns_switch),
        cmocka_unit_test(test_redact_escaped_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
