/* tests/unit/coordinator/test_fence.c: the SSH epoch check run by real
 * shells (dash and bash) on a real directory: it raises the epoch, refuses
 * a lower one, keeps the highest under concurrent runs, and reports a
 * damaged file; the verdicts name the host and the epochs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-fence-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    dir = xasprintf("%s/var/lib/drover", tmpl);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *top = xstrndup(dir, strlen(dir) - strlen("/var/lib/drover"));
    char *cmd = xasprintf("rm -rf '%s'", top);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(top);
    free(dir);
    return 0;
}

/* Run the fence command for epoch with shell sh; *out gets its output. */
static int run(const char *sh, uint64_t epoch, char **out)
{
    char *cmd = fence_command(dir, epoch);
    assert_non_null(cmd);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        execl(sh, sh, "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    free(cmd);
    char buf[4096];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof(buf) - 1 &&
           (r = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    *out = xstrdup(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static uint64_t on_host(void)
{
    char *path = xasprintf("%s/epoch", dir);
    FILE *f = fopen(path, "r");
    free(path);
    unsigned long long v = 0;
    if (f != NULL) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static void fence_sequence(const char *sh)
{
    char *out;
    struct err e = {0};
    int rc = run(sh, 5, &out);
    assert_int_equal(rc, 0);
    assert_int_equal(fence_verdict("web1", 5, rc, out, &e), ERR_OK);
    free(out);
    assert_int_equal(on_host(), 5);
    /* the same epoch again (the second check of a deploy): fine */
    rc = run(sh, 5, &out);
    assert_int_equal(fence_verdict("web1", 5, rc, out, &e), ERR_OK);
    free(out);
    /* a stale coordinator */
    rc = run(sh, 4, &out);
    assert_int_equal(rc, FENCE_EXIT_REFUSED);
    assert_int_equal(fence_verdict("web1", 4, rc, out, &e), ERR_LOCKED);
    assert_non_null(strstr(e.msg, "host web1: fenced"));
    assert_non_null(strstr(e.msg, "epoch 5 seen, ours is 4"));
    free(out);
    assert_int_equal(on_host(), 5);
    rc = run(sh, 12, &out);
    assert_int_equal(rc, 0);
    free(out);
    assert_int_equal(on_host(), 12);
}

static void test_fence_dash(void **state)
{
    (void)state;
    fence_sequence("/bin/sh");
}

static void test_fence_bash(void **state)
{
    (void)state;
    fence_sequence("/bin/bash");
}

static void test_fence_damaged_file(void **state)
{
    (void)state;
    char *out;
    struct err e = {0};
    assert_int_equal(run("/bin/sh", 1, &out), 0);
    free(out);
    char *path = xasprintf("%s/epoch", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("garbage\n", f);
    fclose(f);
    free(path);
    int rc = run("/bin/sh", 2, &out);
    assert_int_equal(rc, FENCE_EXIT_ERROR);
    assert_int_equal(fence_verdict("db1", 2, rc, out, &e), ERR_EXEC);
    assert_non_null(strstr(e.msg, "host db1: the epoch check failed"));
    assert_non_null(strstr(e.msg, "holds no epoch number"));
    free(out);
    /* output without our line, e.g. the shell could not run it */
    err_clear(&e);
    assert_int_equal(fence_verdict("db1", 2, 127, "sh: flock: not found\n", &e),
                     ERR_EXEC);
    assert_non_null(strstr(e.msg, "flock: not found"));
    /* exit 0 without the ok line is not a pass */
    err_clear(&e);
    assert_int_equal(fence_verdict("db1", 2, 0, "", &e), ERR_EXEC);
}

static void test_fence_concurrent_keeps_max(void **state)
{
    (void)state;
    pid_t pids[16];
    for (int k = 0; k < 16; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            char *out;
            int rc = run("/bin/sh", (uint64_t)(k * 7 % 16 + 1), &out);
            _exit(rc == 0 || rc == FENCE_EXIT_REFUSED ? 0 : 1);
        }
    }
    for (int k = 0; k < 16; k++) {
        int st;
        assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(on_host(), 16);
}

static void test_fence_quoting(void **state)
{
    (void)state;
    assert_null(fence_command("/tmp/x'; rm -rf /", 1));
    assert_null(fence_command("relative", 1));
    assert_null(fence_command("", 1));
    char *c = fence_command(NULL, 9);
    assert_non_null(strstr(c, "d='/var/lib/drover'; new=9;"));
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fence_dash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fence_bash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fence_damaged_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fence_concurrent_keeps_max, setup,
                                        teardown),
        cmocka_unit_test(test_fence_quoting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
