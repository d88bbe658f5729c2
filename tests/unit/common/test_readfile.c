/* tests/unit/common/test_readfile.c: the capped whole-file read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "readfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A scratch directory per run. */
static char readfile_dir[64];

static int readfile_setup(void **state)
{
    (void)state;
    snprintf(readfile_dir, sizeof(readfile_dir), "/tmp/test_readfile.XXXXXX");
    return mkdtemp(readfile_dir) != NULL ? 0 : -1;
}

static int readfile_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", readfile_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* dir/name holding n bytes of c; the path in out. */
static void readfile_make(const char *name, char c, size_t n, char *out,
                          size_t outlen)
{
    snprintf(out, outlen, "%s/%s", readfile_dir, name);
    FILE *f = fopen(out, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc(c, f);
    assert_int_equal(fclose(f), 0);
}

static void test_readfile_whole_and_capped(void **state)
{
    (void)state;
    char path[128];
    char *data;
    size_t len;
    readfile_make("ten", 'x', 10, path, sizeof(path));
    assert_int_equal(readfile(path, 10, 0, &data, &len), READFILE_OK);
    assert_int_equal(len, 10);
    assert_string_equal(data, "xxxxxxxxxx");
    free(data);
    assert_int_equal(readfile(path, 9, 0, &data, &len), READFILE_BIG);
    assert_null(data);
    readfile_make("empty", 'x', 0, path, sizeof(path));
    assert_int_equal(readfile(path, 10, 0, &data, &len), READFILE_OK);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    free(data);
    readfile_make("big", 'y', 100000, path, sizeof(path));
    assert_int_equal(readfile(path, 100000, 0, &data, &len), READFILE_OK);
    assert_int_equal(len, 100000);
    assert_int_equal(strspn(data, "y"), 100000);
    free(data);
}

static void test_readfile_stages(void **state)
{
    (void)state;
    char path[128], link[160];
    char *data;
    size_t len;
    snprintf(path, sizeof(path), "%s/missing", readfile_dir);
    assert_int_equal(readfile(path, 10, 0, &data, &len), READFILE_OPEN);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(readfile(readfile_dir, 10, 0, &data, &len), READFILE_READ);
    assert_int_equal(errno, EISDIR);
    assert_int_equal(readfile(readfile_dir, 10, READFILE_REGULAR, &data, &len),
                     READFILE_NOTREG);
    readfile_make("target", 'z', 3, path, sizeof(path));
    snprintf(link, sizeof(link), "%s/link", readfile_dir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(readfile(link, 10, 0, &data, &len), READFILE_OK);
    free(data);
    assert_int_equal(readfile(link, 10, READFILE_NOFOLLOW, &data, &len),
                     READFILE_OPEN);
    assert_int_equal(errno, ELOOP);
}

/* Not a regular file: the size is unknown until the end, and the cap
 * still holds. */
static void test_readfile_pipe_grows_under_the_cap(void **state)
{
    (void)state;
    char path[128], cmd[256];
    snprintf(path, sizeof(path), "%s/fifo", readfile_dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(cmd, sizeof(cmd), "head -c 20000 /dev/zero | tr '\\0' q > '%s' &",
             path);
    assert_int_equal(system(cmd), 0);
    char *data;
    size_t len;
    assert_int_equal(readfile(path, 20000, 0, &data, &len), READFILE_OK);
    assert_int_equal(len, 20000);
    assert_int_equal(strspn(data, "q"), 20000);
    free(data);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(readfile(path, 19999, 0, &data, &len), READFILE_BIG);
    assert_null(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readfile_whole_and_capped),
        cmocka_unit_test(test_readfile_stages),
        cmocka_unit_test(test_readfile_pipe_grows_under_the_cap),
    };
    return cmocka_run_group_tests(tests, readfile_setup, readfile_teardown);
}
