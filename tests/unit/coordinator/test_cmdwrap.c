/* tests/unit/coordinator/test_cmdwrap.c: env prefix and secrets on stdin,
 * checked by running the wrapped command in a real /bin/sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmdwrap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Run w in sh with its input; return stdout (caller frees). */
static char *run_sh(const struct cmdwrap *w)
{
    char in_path[] = "/tmp/drover-cmdwrap-XX"
                     "XX"
                     "XX";
    int fd = mkstemp(in_path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    if (w->input_len)
        fwrite(w->input, 1, w->input_len, f);
    fclose(f);
    char *q = NULL;
    /* the command goes through a file so no quoting is needed here */
    char cmd_path[] = "/tmp/drover-cmdwrap-cmd-XX"
                      "XX"
                      "XX";
    int cfd = mkstemp(cmd_path);
    FILE *cf = fdopen(cfd, "w");
    fputs(w->command, cf);
    fclose(cf);
    assert_true(asprintf(&q, "sh %s < %s", cmd_path, in_path) > 0);
    FILE *p = popen(q, "r");
    char out[4096];
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    free(q);
    remove(in_path);
    remove(cmd_path);
    return strdup(out);
}

static void test_cmdwrap_env_and_secrets(void **state)
{
    (void)state;
    json_t *env =
        json_pack("{s:s, s:i}", "APP_DIR", "/opt/it's here", "WORKERS", 4);
    const char *names[] = {"SECRET_KEY", "MULTI"};
    const char *values[] = {"s3cr3t-'$(rm -rf /)'", "line1\nline2"};
    struct cmdwrap w;
    struct err e = {0};
    assert_int_equal(cmdwrap_build(&w,
                                   "printf '%s|%s|%s|%s' \"$APP_DIR\" "
                                   "\"$WORKERS\" \"$SECRET_KEY\" \"$MULTI\"",
                                   env, names, values, 2, &e),
                     ERR_OK);
    /* no secret on the command line, in any form */
    assert_null(strstr(w.command, "s3cr3t"));
    assert_null(strstr(w.command, "line1"));
    assert_non_null(w.input);
    char *out = run_sh(&w);
    assert_string_equal(out, "/opt/it's here|4|s3cr3t-'$(rm -rf /)'|"
                             "line1\nline2");
    free(out);
    cmdwrap_release(&w);
    json_decref(env);
}

static void test_cmdwrap_plain(void **state)
{
    (void)state;
    struct cmdwrap w;
    struct err e = {0};
    assert_int_equal(cmdwrap_build(&w, "echo hi", NULL, NULL, NULL, 0, &e),
                     ERR_OK);
    assert_string_equal(w.command, "echo hi");
    assert_null(w.input);
    assert_int_equal(w.input_len, 0);
    cmdwrap_release(&w);
}

static void test_cmdwrap_bad_names(void **state)
{
    (void)state;
    struct cmdwrap w;
    struct err e = {0};
    const char *names[] = {"BAD-NAME"};
    const char *values[] = {"x"};
    assert_int_equal(cmdwrap_build(&w, "true", NULL, names, values, 1, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "BAD-NAME"));
    json_t *env = json_pack("{s:s}", "1X", "v");
    struct err e2 = {0};
    assert_int_equal(cmdwrap_build(&w, "true", env, NULL, NULL, 0, &e2),
                     ERR_INVALID);
    json_decref(env);
    assert_true(cmdwrap_valid_name("_ok9"));
    assert_false(cmdwrap_valid_name(""));
    assert_false(cmdwrap_valid_name("a b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmdwrap_env_and_secrets),
        cmocka_unit_test(test_cmdwrap_plain),
        cmocka_unit_test(test_cmdwrap_bad_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
