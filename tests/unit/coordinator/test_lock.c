/* tests/unit/coordinator/test_lock.c: one holder at a time, across
 * processes racing for it; the loser names the holder; kill -9 frees the
 * lock; epochs strictly increase and survive a restart; --lock-wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lock.h"
#include "statedir.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-lock-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    dir = xstrdup(tmpl);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(dir);
    return 0;
}

static void test_lock_epochs_increase(void **state)
{
    (void)state;
    struct err e = {0};
    struct lock *lk = NULL;
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(lock_acquire(dir, "sms", NULL, 0, &lk, NULL, &e),
                         ERR_OK);
        assert_true(lock_epoch(lk) > last);
        last = lock_epoch(lk);
        assert_string_equal(lock_name(lk), "sms");
        lock_release(lk);
    }
    assert_int_equal(last, 5);
    /* "restart": only the files are left; the next epoch follows them */
    uint64_t on_disk = 0;
    assert_int_equal(lock_epoch_read(dir, "sms", &on_disk, &e), ERR_OK);
    assert_int_equal(on_disk, 5);
    assert_int_equal(lock_acquire(dir, "sms", "DEP-1", 0, &lk, NULL, &e),
                     ERR_OK);
    assert_int_equal(lock_epoch(lk), 6);
    lock_release(lk);
    /* epochs grow across names too: one counter per state directory */
    assert_int_equal(lock_acquire(dir, "other", NULL, 0, &lk, NULL, &e),
                     ERR_OK);
    assert_int_equal(lock_epoch(lk), 7);
    lock_release(lk);
    assert_int_equal(lock_acquire(dir, "sms", NULL, 0, &lk, NULL, &e), ERR_OK);
    assert_int_equal(lock_epoch(lk), 8);
    lock_release(lk);
    assert_int_equal(lock_epoch_read(dir, "other", &on_disk, &e), ERR_OK);
    assert_int_equal(on_disk, 7);
    lock_release(NULL);
}

static void test_lock_second_holder_refused(void **state)
{
    (void)state;
    struct err e = {0};
    struct lock *a = NULL, *b = NULL;
    assert_int_equal(lock_acquire(dir, "web", NULL, 0, &a, NULL, &e), ERR_OK);
    assert_int_equal(lock_set_deploy(a, "DEP-2026-11-22-001", &e), ERR_OK);
    /* a second acquisition (its own open file description) is refused,
     * even in the same process */
    struct lock_holder h;
    assert_int_equal(lock_acquire(dir, "web", NULL, 0, &b, &h, &e), ERR_LOCKED);
    assert_null(b);
    assert_int_equal(h.pid, (long)getpid());
    assert_string_equal(h.deploy, "DEP-2026-11-22-001");
    assert_int_equal(h.epoch, lock_epoch(a));
    char pid[32];
    snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
    assert_non_null(strstr(e.msg, pid));
    assert_non_null(strstr(e.msg, "DEP-2026-11-22-001"));
    assert_non_null(strstr(e.msg, "--lock-wait"));
    bool held = false;
    struct lock_holder ph;
    assert_int_equal(lock_probe(dir, "web", &held, &ph, &e), ERR_OK);
    assert_true(held);
    assert_int_equal(ph.epoch, lock_epoch(a));
    char **names = NULL;
    assert_int_equal(lock_names(dir, &names, &e), ERR_OK);
    assert_non_null(names[0]);
    lock_names_free(names);
    lock_release(a);
    assert_int_equal(lock_probe(dir, "web", &held, &ph, &e), ERR_OK);
    assert_false(held);
    assert_int_equal(lock_probe(dir, "never-taken", &held, &ph, &e), ERR_OK);
    assert_false(held);
    /* the failed attempt did not take an epoch */
    assert_int_equal(lock_acquire(dir, "web", NULL, 0, &b, NULL, &e), ERR_OK);
    assert_int_equal(lock_epoch(b), h.epoch + 1);
    lock_release(b);
}

static void test_lock_bad_names(void **state)
{
    (void)state;
    struct err e = {0};
    struct lock *lk = NULL;
    assert_int_equal(lock_acquire(dir, "../x", NULL, 0, &lk, NULL, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "`lock:`"));
    err_clear(&e);
    assert_int_equal(lock_acquire(dir, "", NULL, 0, &lk, NULL, &e),
                     ERR_INVALID);
    assert_null(lk);
}

static void test_lock_corrupt_epoch(void **state)
{
    (void)state;
    struct err e = {0};
    struct lock *lk = NULL;
    assert_int_equal(lock_acquire(dir, "cx", NULL, 0, &lk, NULL, &e), ERR_OK);
    lock_release(lk);
    char *path = xasprintf("%s/epochs/cx", dir);
    assert_int_equal(statedir_write_durable(path, "garbage\n", 8, &e), ERR_OK);
    lk = NULL;
    assert_int_equal(lock_acquire(dir, "cx", NULL, 0, &lk, NULL, &e),
                     ERR_PARSE);
    assert_null(lk);
    assert_non_null(strstr(e.msg, ":1:1: not an epoch number"));
    free(path);
    /* the lock itself was released again */
    bool held = true;
    struct lock_holder h;
    err_clear(&e);
    assert_int_equal(lock_probe(dir, "cx", &held, &h, &e), ERR_OK);
    assert_false(held);
}

/* One round: two children start together; each reports "W" (won) or
 * "L<message>" (lost) on its own pipe. The winner holds the lock until
 * the parent closes `hold`. */
static void race_child(int go, int hold, int res)
{
    char c;
    if (read(go, &c, 1) < 0)
        _exit(3);
    struct err e = {0};
    struct lock *lk = NULL;
    enum err_code rc = lock_acquire(dir, "race", NULL, 0, &lk, NULL, &e);
    if (rc == ERR_OK) {
        if (write(res, "W", 1) != 1)
            _exit(3);
        while (read(hold, &c, 1) > 0)
            ;
        lock_release(lk);
        _exit(0);
    }
    char msg[300];
    int n = snprintf(msg, sizeof(msg), "L%d %s", (int)rc, e.msg);
    if (write(res, msg, (size_t)n) != n)
        _exit(3);
    _exit(1);
}

static void test_lock_race_100(void **state)
{
    (void)state;
    uint64_t last_epoch = 0;
    for (int round = 0; round < 100; round++) {
        int go[2], hold[2], res[2][2];
        assert_int_equal(pipe(go), 0);
        assert_int_equal(pipe(hold), 0);
        pid_t pid[2];
        for (int k = 0; k < 2; k++) {
            assert_int_equal(pipe(res[k]), 0);
            pid[k] = fork();
            assert_true(pid[k] >= 0);
            if (pid[k] == 0) {
                close(go[1]);
                close(hold[1]);
                close(res[k][0]);
                race_child(go[0], hold[0], res[k][1]);
            }
            close(res[k][1]);
        }
        close(go[0]);
        close(hold[0]);
        close(go[1]); /* both start now */
        char out[2][400];
        for (int k = 0; k < 2; k++) {
            ssize_t n = read(res[k][0], out[k], sizeof(out[k]) - 1);
            assert_true(n > 0);
            out[k][n] = '\0';
        }
        int winners = (out[0][0] == 'W') + (out[1][0] == 'W');
        assert_int_equal(winners, 1);
        int w = out[0][0] == 'W' ? 0 : 1;
        const char *lost = out[1 - w];
        assert_int_equal(lost[0], 'L');
        /* ERR_LOCKED, naming the winner's pid */
        char want[64];
        snprintf(want, sizeof(want), "L%d ", (int)ERR_LOCKED);
        assert_memory_equal(lost, want, strlen(want));
        snprintf(want, sizeof(want), "pid %ld,", (long)pid[w]);
        if (strstr(lost, want) == NULL)
            fail_msg("round %d: loser did not name pid %ld: %s", round,
                     (long)pid[w], lost);
        close(hold[1]);
        for (int k = 0; k < 2; k++) {
            int st;
            assert_int_equal(waitpid(pid[k], &st, 0), pid[k]);
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), k == w ? 0 : 1);
            close(res[k][0]);
        }
        uint64_t ep = 0;
        struct err e = {0};
        assert_int_equal(lock_epoch_read(dir, "race", &ep, &e), ERR_OK);
        assert_int_equal(ep, last_epoch + 1);
        last_epoch = ep;
    }
}

static void test_lock_free_after_kill9(void **state)
{
    (void)state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct err e = {0};
        struct lock *lk = NULL;
        if (lock_acquire(dir, "k9", "DEP-K", 0, &lk, NULL, &e) != ERR_OK)
            _exit(2);
        if (write(ready[1], "x", 1) != 1)
            _exit(3);
        for (;;)
            pause();
    }
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    struct err e = {0};
    struct lock *lk = NULL;
    assert_int_equal(lock_acquire(dir, "k9", NULL, 0, &lk, NULL, &e),
                     ERR_LOCKED);
    assert_non_null(strstr(e.msg, "DEP-K"));
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    /* the kernel dropped the lock; the holder's stale identity is ours to
     * overwrite, and the epoch moves on */
    err_clear(&e);
    assert_int_equal(lock_acquire(dir, "k9", NULL, 0, &lk, NULL, &e), ERR_OK);
    assert_int_equal(lock_epoch(lk), 2);
    bool held = false;
    struct lock_holder h;
    assert_int_equal(lock_probe(dir, "k9", &held, &h, &e), ERR_OK);
    assert_true(held);
    assert_int_equal(h.pid, (long)getpid());
    lock_release(lk);
}

static void test_lock_wait(void **state)
{
    (void)state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct err e = {0};
        struct lock *lk = NULL;
        if (lock_acquire(dir, "wt", NULL, 0, &lk, NULL, &e) != ERR_OK)
            _exit(2);
        if (write(ready[1], "x", 1) != 1)
            _exit(3);
        usleep(300 * 1000);
        lock_release(lk);
        _exit(0);
    }
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    struct err e = {0};
    struct lock *lk = NULL;
    /* a short wait is not enough */
    assert_int_equal(lock_acquire(dir, "wt", NULL, 50, &lk, NULL, &e),
                     ERR_LOCKED);
    err_clear(&e);
    assert_int_equal(lock_acquire(dir, "wt", NULL, 5000, &lk, NULL, &e),
                     ERR_OK);
    assert_int_equal(lock_epoch(lk), 2);
    lock_release(lk);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Ten names taken at once: ten distinct epochs, 1..10. */
static void test_lock_names_race_distinct_epochs(void **state)
{
    (void)state;
    int go[2], res[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(res), 0);
    pid_t pids[10];
    for (int k = 0; k < 10; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) < 0)
                _exit(3);
            char name[16];
            snprintf(name, sizeof(name), "n%d", k);
            struct err e = {0};
            struct lock *lk = NULL;
            if (lock_acquire(dir, name, NULL, 0, &lk, NULL, &e) != ERR_OK)
                _exit(2);
            unsigned char ep = (unsigned char)lock_epoch(lk);
            if (write(res[1], &ep, 1) != 1)
                _exit(3);
            lock_release(lk);
            _exit(0);
        }
    }
    close(go[0]);
    close(res[1]);
    close(go[1]);
    unsigned seen = 0;
    for (int k = 0; k < 10; k++) {
        unsigned char ep = 0;
        assert_int_equal(read(res[0], &ep, 1), 1);
        assert_true(ep >= 1 && ep <= 10);
        assert_false(seen & (1u << ep));
        seen |= 1u << ep;
    }
    close(res[0]);
    for (int k = 0; k < 10; k++) {
        int st;
        assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
}

static void test_lock_holder_str(void **state)
{
    (void)state;
    struct lock_holder h = {.user = "ops",
                            .host = "build1",
                            .pid = 4242,
                            .deploy = "DEP-2026-11-22-001",
                            .since_ms = 1795341600000LL,
                            .epoch = 7};
    char out[256];
    lock_holder_str(&h, out, sizeof(out));
    assert_string_equal(out, "ops@build1 pid 4242, deploy DEP-2026-11-22-001, "
                             "since 2026-11-22 10:00:00Z, epoch 7");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock_epochs_increase, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lock_second_holder_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lock_bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_corrupt_epoch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lock_race_100, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_free_after_kill9, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lock_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_names_race_distinct_epochs,
                                        setup, teardown),
        cmocka_unit_test(test_lock_holder_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
