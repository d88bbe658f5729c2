/* tests/unit/common/test_yamlscalar.c: the one typing of YAML scalars
 * (PyYAML's YAML 1.1): plain words and numbers, quoted text, tags, JSON's
 * rules for a JSON file, and the values it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "yamlscalar.h"

#include <stdlib.h>
#include <string.h>

/* The JSON text of s typed (plain unless quoted, tag may be NULL). */
static char *typed(const char *s, bool plain, const char *tag, bool json)
{
    struct yamlscalar ys = {
        .text = s, .len = strlen(s), .tag = tag, .plain = plain, .json = json};
    json_t *v = NULL;
    struct err e = {0};
    if (yamlscalar_json(&ys, &v, &e) != ERR_OK)
        fail_msg("'%s': %s", s, e.msg);
    char *out = json_dumps(v, JSON_ENCODE_ANY);
    json_decref(v);
    return out;
}

static void typed_is(const char *s, bool plain, const char *tag, bool json,
                     const char *want)
{
    char *got = typed(s, plain, tag, json);
    if (strcmp(got, want) != 0)
        fail_msg("'%s' typed as %s, want %s", s, got, want);
    free(got);
}

static void test_yamlscalar_plain(void **state)
{
    (void)state;
    typed_is("yes", true, NULL, false, "true");
    typed_is("On", true, NULL, false, "true");
    typed_is("OFF", true, NULL, false, "false");
    typed_is("0755", true, NULL, false, "493");
    typed_is("0x1F", true, NULL, false, "31");
    typed_is("1:30", true, NULL, false, "90");
    typed_is("1_000", true, NULL, false, "1000");
    typed_is("1.5", true, NULL, false, "1.5");
    typed_is("1e5", true, NULL, false, "\"1e5\"");
    typed_is("~", true, NULL, false, "null");
    typed_is("", true, NULL, false, "null");
    typed_is("2001-12-14", true, NULL, false, "\"2001-12-14\"");
    typed_is("99999999999999999999", true, NULL, false,
             "\"99999999999999999999\"");
    typed_is("text", true, NULL, false, "\"text\"");
}

static void test_yamlscalar_quoted_tagged_json(void **state)
{
    (void)state;
    typed_is("yes", false, NULL, false, "\"yes\"");
    typed_is("0755", false, NULL, false, "\"0755\"");
    typed_is("yes", true, "tag:yaml.org,2002:str", false, "\"yes\"");
    typed_is("1", true, "tag:yaml.org,2002:float", false, "1.0");
    typed_is("yEs", true, "tag:yaml.org,2002:bool", false, "true");
    typed_is("x", true, "!unsafe", false, "\"x\"");
    /* a JSON file: JSON's numbers and words */
    typed_is("1e5", true, NULL, true, "100000.0");
    typed_is("yes", true, NULL, true, "\"yes\"");
}

static void test_yamlscalar_refused(void **state)
{
    (void)state;
    struct {
        const char *s, *tag;
        enum err_code code;
        const char *why;
    } bad[] = {
        {"x", "!custom", ERR_PARSE, "unknown YAML tag: '!custom'"},
        {"x", "!vault", ERR_INVALID, "vault-encrypted values"},
        {"abc", "tag:yaml.org,2002:int", ERR_PARSE,
         "value does not match its tag !!int"},
        {"2001-02-30", NULL, ERR_PARSE, "not a valid date"},
        {"=", NULL, ERR_PARSE, "'=' alone is YAML's value key"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct yamlscalar ys = {.text = bad[i].s,
                                .len = strlen(bad[i].s),
                                .tag = bad[i].tag,
                                .plain = true};
        json_t *v = NULL;
        struct err e = {0};
        assert_int_equal(yamlscalar_json(&ys, &v, &e), bad[i].code);
        assert_null(v);
        if (strstr(e.msg, bad[i].why) == NULL)
            fail_msg("'%s': '%s', want '%s'", bad[i].s, e.msg, bad[i].why);
    }
    assert_true(yamlscalar_is_null("NULL"));
    assert_false(yamlscalar_is_null("nil"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yamlscalar_plain),
        cmocka_unit_test(test_yamlscalar_quoted_tagged_json),
        cmocka_unit_test(test_yamlscalar_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
