/* tests/unit/coordinator/test_cmd_keygen.c: `drover keygen` writes a key
 * pair (secret 0600), refuses to overwrite without --force, refuses bad
 * arguments, and honours XDG_CONFIG_HOME for its default path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd.h"
#include "keyfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    /* mkdtemp's template: six 'X' the call replaces */
    int tn = snprintf(dir, sizeof(dir), "/tmp/test_cmd_keygen.");
    memset(dir + tn, 'X', 6);
    dir[tn + 6] = '\0';
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static int run(int argc, const char **argv)
{
    return cmd_keygen.run(argc, (char **)argv);
}

static void test_cmd_keygen_file(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/c.key", dir);
    const char *argv[] = {"keygen", "-f", path, NULL};
    assert_int_equal(run(3, argv), EXIT_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    struct keypair kp;
    struct err e = {0};
    assert_int_equal(keyfile_load_secret(path, &kp, &e), ERR_OK);
    keyfile_wipe(&kp);
    /* no overwrite without --force */
    assert_int_equal(run(3, argv), EXIT_USAGE);
    const char *force[] = {"keygen", "-f", path, "--force", NULL};
    assert_int_equal(run(4, force), EXIT_OK);
    const char *bad[] = {"keygen", "extra", NULL};
    assert_int_equal(run(2, bad), EXIT_USAGE);
    const char *unknown[] = {"keygen", "--bogus", NULL};
    assert_int_equal(run(2, unknown), EXIT_USAGE);
}

static void test_cmd_keygen_default_path(void **state)
{
    (void)state;
    setenv("XDG_CONFIG_HOME", dir, 1);
    const char *argv[] = {"keygen", NULL};
    assert_int_equal(run(1, argv), EXIT_OK);
    char path[128];
    snprintf(path, sizeof(path), "%s/drover/coordinator.key.pub", dir);
    assert_int_equal(access(path, R_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_keygen_file),
        cmocka_unit_test(test_cmd_keygen_default_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
