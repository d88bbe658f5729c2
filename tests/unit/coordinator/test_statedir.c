/* tests/unit/coordinator/test_statedir.c: where the state directory is,
 * that it is created private, refused when others can write it, and that
 * durable writes leave 0600 files with the whole content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "statedir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/drover-statedir-XX"
                  "XX"
                  "XX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return xstrdup(d);
}

static void rmrf(const char *d)
{
    char *cmd = xasprintf("rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void test_statedir_default(void **state)
{
    (void)state;
    setenv("DROVER_STATE_DIR", "/srv/drover-state", 1);
    char *d = statedir_default();
    assert_string_equal(d, "/srv/drover-state");
    free(d);
    unsetenv("DROVER_STATE_DIR");
    d = statedir_default();
    if (geteuid() == 0) {
        assert_string_equal(d, "/var/lib/drover");
    } else {
        setenv("XDG_STATE_HOME", "/x/state", 1);
        free(d);
        d = statedir_default();
        assert_string_equal(d, "/x/state/drover");
    }
    free(d);
}

static void test_statedir_open_creates_private(void **state)
{
    (void)state;
    char *base = tmpdir();
    char *want = xasprintf("%s/a/b/drover", base);
    char *got = NULL;
    struct err e = {0};
    assert_int_equal(statedir_open(want, &got, &e), ERR_OK);
    assert_string_equal(got, want);
    struct stat st;
    assert_int_equal(stat(got, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    char *sub = NULL;
    assert_int_equal(statedir_sub(got, "locks", &sub, &e), ERR_OK);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    free(sub);
    /* opening again is fine */
    free(got);
    assert_int_equal(statedir_open(want, &got, &e), ERR_OK);
    free(got);
    free(want);
    rmrf(base);
    free(base);
}

static void test_statedir_refuses_open_modes(void **state)
{
    (void)state;
    char *base = tmpdir();
    assert_int_equal(chmod(base, 0777), 0);
    char *got = NULL;
    struct err e = {0};
    /* the operator's to fix: a usage error (exit 2), not an internal one */
    assert_int_equal(statedir_open(base, &got, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "writable by group or others"));
    assert_non_null(strstr(e.msg, "chmod 700"));
    assert_null(got);
    /* a file is not a directory */
    char *file = xasprintf("%s/f", base);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    err_clear(&e);
    assert_int_equal(statedir_open(file, &got, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "not a directory"));
    err_clear(&e);
    assert_int_equal(statedir_open("", &got, &e), ERR_USAGE);
    /* a reader creates nothing and refuses the same */
    err_clear(&e);
    assert_int_equal(statedir_find(base, &got, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "writable by group or others"));
    err_clear(&e);
    assert_int_equal(statedir_find(file, &got, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "not a directory"));
    char *under = xasprintf("%s/x", file);
    err_clear(&e);
    assert_int_equal(statedir_find(under, &got, &e), ERR_USAGE);
    /* one that cannot be created, or looked at, is as unusable: exit 2,
     * not 70 (an internal error) */
    err_clear(&e);
    assert_int_equal(statedir_open(under, &got, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "cannot create"));
    assert_non_null(strstr(e.msg, "--state-dir DIR"));
    char *loop = xasprintf("%s/loop", base);
    assert_int_equal(symlink(loop, loop), 0);
    err_clear(&e);
    assert_int_equal(statedir_open(loop, &got, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "--state-dir DIR"));
    err_clear(&e);
    assert_int_equal(statedir_find(loop, &got, &e), ERR_USAGE);
    assert_null(got);
    free(loop);
    free(under);
    char *missing = xasprintf("%s/missing", base);
    err_clear(&e);
    assert_int_equal(statedir_find(missing, &got, &e), ERR_OK);
    assert_string_equal(got, missing);
    assert_int_equal(access(missing, F_OK), -1);
    free(got);
    free(missing);
    assert_int_equal(chmod(base, 0700), 0);
    err_clear(&e);
    assert_int_equal(statedir_find(base, &got, &e), ERR_OK);
    assert_string_equal(got, base);
    free(got);
    got = NULL;
    free(file);
    rmrf(base);
    free(base);
}

static void test_statedir_write_durable(void **state)
{
    (void)state;
    char *base = tmpdir();
    char *path = xasprintf("%s/epoch", base);
    struct err e = {0};
    char *text = NULL;
    assert_int_equal(statedir_read(path, &text, &e), ERR_NOTFOUND);
    err_clear(&e);
    assert_int_equal(statedir_write_durable(path, "41\n", 3, &e), ERR_OK);
    assert_int_equal(statedir_write_durable(path, "42\n", 3, &e), ERR_OK);
    assert_int_equal(statedir_read(path, &text, &e), ERR_OK);
    assert_string_equal(text, "42\n");
    free(text);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* no temporary file is left behind */
    char *cmd = xasprintf("test $(ls '%s' | wc -l) -eq 1", base);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    /* a directory that does not exist: an error naming the file */
    char *bad = xasprintf("%s/nope/epoch", base);
    assert_int_equal(statedir_write_durable(bad, "1", 1, &e), ERR_SYS);
    assert_non_null(strstr(e.msg, "nope/epoch"));
    free(bad);
    free(path);
    rmrf(base);
    free(base);
}

static void test_statedir_name_ok(void **state)
{
    (void)state;
    assert_true(statedir_name_ok("sms"));
    assert_true(statedir_name_ok("web-prod_2.eu"));
    assert_false(statedir_name_ok(""));
    assert_false(statedir_name_ok(".hidden"));
    assert_false(statedir_name_ok("../etc"));
    assert_false(statedir_name_ok("a/b"));
    assert_false(statedir_name_ok("a b"));
    char long_name[70];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_false(statedir_name_ok(long_name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statedir_default),
        cmocka_unit_test(test_statedir_open_creates_private),
        cmocka_unit_test(test_statedir_refuses_open_modes),
        cmocka_unit_test(test_statedir_write_durable),
        cmocka_unit_test(test_statedir_name_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
