/* tests/unit/common/test_linefile.c: whole lines or an error, never a
 * piece of a line read as a line of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "linefile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write n bytes to a temporary file; its path is static. */
static const char *write_file(const char *text, size_t n)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/test_linefile.%d", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
    return path;
}

static void test_linefile_lines(void **state)
{
    (void)state;
    static const char text[] = "# comment\n\n  \t\n  one two\r\n"
                               "   # indented comment\nlast";
    const char *path = write_file(text, sizeof(text) - 1);
    struct linefile r;
    struct err e = {0};
    assert_true(linefile_open(&r, path, &e));
    char *p;
    assert_int_equal(linefile_next(&r, &p, &e), ERR_OK);
    assert_string_equal(p, "one two");
    assert_int_equal(r.lineno, 4);
    assert_int_equal(linefile_next(&r, &p, &e), ERR_OK);
    assert_string_equal(p, "last");
    assert_int_equal(r.lineno, 6);
    assert_int_equal(linefile_next(&r, &p, &e), ERR_NOTFOUND);
    assert_int_equal(e.code, ERR_OK);
    linefile_close(&r);
    linefile_close(&r); /* idempotent */
    unlink(path);
}

/* A comment of any length is one line; a line past LINEFILE_MAX that is
 * not a comment is an error at its own line and column. */
static void test_linefile_long(void **state)
{
    (void)state;
    size_t n = 3 * LINEFILE_MAX;
    char *text = malloc(2 * n);
    assert_non_null(text);
    text[0] = '#';
    memset(text + 1, 'k', n);
    size_t k = n + 1;
    k += (size_t)snprintf(text + k, 16, "\nvalue\n");
    memset(text + k, 'v', LINEFILE_MAX); /* exactly the limit: read */
    k += LINEFILE_MAX;
    text[k++] = '\n';
    memset(text + k, 'w', LINEFILE_MAX + 1); /* one more: refused */
    k += LINEFILE_MAX + 1;
    k += (size_t)snprintf(text + k, 16, "\nafter\n");
    const char *path = write_file(text, k);
    struct linefile r;
    struct err e = {0};
    assert_true(linefile_open(&r, path, &e));
    char *p;
    assert_int_equal(linefile_next(&r, &p, &e), ERR_OK);
    assert_string_equal(p, "value");
    assert_int_equal(r.lineno, 2);
    assert_int_equal(linefile_next(&r, &p, &e), ERR_OK);
    assert_int_equal(strlen(p), LINEFILE_MAX);
    assert_int_equal(linefile_next(&r, &p, &e), ERR_PARSE);
    char want[128];
    snprintf(want, sizeof(want), "%s:4:%d: line longer than %d bytes", path,
             LINEFILE_MAX + 1, LINEFILE_MAX);
    if (strncmp(e.msg, want, strlen(want)) != 0)
        fail_msg("'%s' is not '%s...'", e.msg, want);
    linefile_close(&r);
    for (size_t i = 0; i < sizeof(r.line); i++)
        assert_int_equal(r.line[i], 0);
    for (size_t i = 0; i < sizeof(r.io); i++)
        assert_int_equal(r.io[i], 0);
    unlink(path);
    free(text);
}

static void test_linefile_errors(void **state)
{
    (void)state;
    static const char text[] = "# a NUL in a comment \0 is fine\nab\0cd\n";
    const char *path = write_file(text, sizeof(text) - 1);
    struct linefile r;
    struct err e = {0};
    assert_true(linefile_open(&r, path, &e));
    char *p;
    assert_int_equal(linefile_next(&r, &p, &e), ERR_PARSE);
    char want[96];
    snprintf(want, sizeof(want), "%s:2:3: NUL byte in the line", path);
    assert_string_equal(e.msg, want);
    linefile_close(&r);
    unlink(path);

    err_clear(&e);
    assert_false(linefile_open(&r, "/nonexistent/file", &e));
    assert_int_equal(e.code, ERR_NOTFOUND);
    assert_string_equal(e.msg, "/nonexistent/file: no such file");

    /* a directory opens but cannot be read: an error, not an empty file */
    err_clear(&e);
    assert_true(linefile_open(&r, "/", &e));
    assert_int_equal(linefile_next(&r, &p, &e), ERR_SYS);
    assert_non_null(strstr(e.msg, "read /"));
    linefile_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linefile_lines),
        cmocka_unit_test(test_linefile_long),
        cmocka_unit_test(test_linefile_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
