/* tests/unit/coordinator/test_fence.c: the host-side step wrapper run by
 * real shells (dash and bash) on a real directory, as a host runs it: the
 * fence is raised, a lower epoch refused with who acted, the highest kept
 * under concurrent runs; a step is recorded, runs detached and survives
 * its wrapper's death; asking again replays or follows it and never runs
 * it twice; a step with no record under a fresh fence cannot be told;
 * an end that holds no number is no end; a step longer than a second is
 * streamed while it runs; checks are fenced and run in place; the first
 * line parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fence.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *top, *dir;

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-fence-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    top = xstrdup(tmpl);
    dir = xasprintf("%s/host", tmpl);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", top);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(top);
    free(dir);
    return 0;
}

struct run {
    const char *sh;       /* shell running the wrapper */
    const char *id;       /* step id */
    uint64_t epoch;       /* coordinator's epoch */
    enum fence_mode mode; /* run, resume, check */
    const char *cmd;      /* the step */
    const char *input;    /* its stdin */
    const char *who;      /* NULL: state directory aa11 */
};

/* Start the wrapper in a process group of its own (as sshd does); its
 * stdout and stderr go to *fd. */
static pid_t start(const struct run *r, int *fd)
{
    struct err e = {0};
    struct fence_step s = {.dir = dir,
                           .id = r->id,
                           .epoch = r->epoch,
                           .who = r->who != NULL ? r->who
                                                 : "state_dir=aa11 "
                                                   "coordinator=build1 "
                                                   "deploy=DEP-1",
                           .mode = r->mode,
                           .command = r->cmd,
                           .input = r->input != NULL};
    char *cmd = fence_command(&s, &e);
    assert_non_null(cmd);
    int out[2], in[2];
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(in), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setsid();
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl(r->sh, r->sh, "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    free(cmd);
    if (r->input != NULL)
        assert_int_equal(write(in[1], r->input, strlen(r->input)),
                         (ssize_t)strlen(r->input));
    close(in[1]);
    *fd = out[0];
    return pid;
}

/* Wait for it; *out: everything it printed. Returns the exit status, or
 * 128 + the signal. */
static int finish(pid_t pid, int fd, char **out)
{
    char buf[8192];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) - 1 &&
           (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    *out = xstrdup(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run(const struct run *r, char **out)
{
    int fd;
    pid_t pid = start(r, &fd);
    return finish(pid, fd, out);
}

static char *slurp(const char *rel)
{
    char *path = xasprintf("%s/%s", dir, rel);
    FILE *f = fopen(path, "r");
    free(path);
    if (f == NULL)
        return NULL;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return xstrdup(buf);
}

static uint64_t fence_epoch(void)
{
    char *s = slurp("fence");
    uint64_t v = s != NULL ? strtoull(s, NULL, 10) : 0;
    free(s);
    return v;
}

/* Lines of the ran file: how many times steps ran. */
static int ran_count(void)
{
    char *s = slurp("ran");
    int n = 0;
    for (const char *p = s; p != NULL && *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

static void fence_sequence(const char *sh)
{
    char *out, *cmd = xasprintf("echo out; echo err >&2; echo x >>%s/ran; "
                                "exit 3",
                                dir);
    struct run r = {sh,  "DEP-1:web1:deploy:0:0:5", 5, FENCE_RUN, cmd, NULL,
                    NULL};
    assert_int_equal(run(&r, &out), 3);
    assert_non_null(strstr(out, "drover-step: run\n"));
    assert_non_null(strstr(out, "out\n"));
    assert_non_null(strstr(out, "err\n"));
    free(out);
    assert_int_equal(fence_epoch(), 5);
    char *fence = slurp("fence");
    assert_non_null(strstr(fence, "state_dir=aa11 coordinator=build1"));
    free(fence);
    char *end = slurp("steps/DEP-1:web1:deploy:0:0:5/end");
    assert_string_equal(end, "3\n");
    free(end);
    /* the same id again (a resume): replayed, not run again */
    r.mode = FENCE_RESUME;
    assert_int_equal(run(&r, &out), 3);
    assert_non_null(strstr(out, "drover-step: attach ended"));
    assert_non_null(strstr(out, "out\n"));
    free(out);
    assert_int_equal(ran_count(), 1);
    /* a stale coordinator: refused, names who acted, runs nothing */
    struct run stale = {sh,  "DEP-0:web1:deploy:0:0:4", 4, FENCE_RUN, cmd, NULL,
                        NULL};
    assert_int_equal(run(&stale, &out), FENCE_EXIT_REFUSED);
    const char *rest = NULL;
    const char *line = strstr(out, "drover-step: ");
    assert_non_null(line);
    assert_int_equal(fence_head_parse(line, strcspn(line, "\n"), &rest),
                     FENCE_HEAD_REFUSED);
    struct err e = {0};
    assert_int_equal(fence_refused("web1", 4, rest, &e), ERR_LOCKED);
    assert_non_null(
        strstr(e.msg, "host web1: fenced at epoch 5 by state_dir=aa11"));
    assert_non_null(strstr(e.msg, "coordinator=build1"));
    assert_non_null(strstr(e.msg, "ours is 4"));
    assert_non_null(strstr(e.msg, "deploy=DEP-1"));
    assert_non_null(strstr(e.msg, "--take-over-fence 5"));
    free(out);
    assert_int_equal(ran_count(), 1);
    assert_int_equal(fence_epoch(), 5);
    /* the same epoch from another state directory: another coordinator */
    struct run twin = {sh,
                       "DEP-9:web1:deploy:0:0:5",
                       5,
                       FENCE_RUN,
                       cmd,
                       NULL,
                       "state_dir=bb22 coordinator=laptop deploy=DEP-9"};
    assert_int_equal(run(&twin, &out), FENCE_EXIT_REFUSED);
    assert_non_null(strstr(out, "state_dir=aa11"));
    free(out);
    assert_int_equal(ran_count(), 1);
    /* a check is fenced and runs in place */
    struct run chk = {sh,          "DEP-1:web1:check:1:9:5", 5,
                      FENCE_CHECK, "echo probing; exit 7",   NULL,
                      NULL};
    assert_int_equal(run(&chk, &out), 7);
    assert_non_null(strstr(out, "drover-step: check\n"));
    assert_non_null(strstr(out, "probing"));
    free(out);
    chk.epoch = 2;
    assert_int_equal(run(&chk, &out), FENCE_EXIT_REFUSED);
    assert_null(strstr(out, "probing"));
    free(out);
    free(cmd);
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

/* Secrets arrive on stdin and reach the step; a signal is reported as
 * one. */
static void test_fence_input_and_signal(void **state)
{
    (void)state;
    char *out;
    struct run r = {"/bin/sh",
                    "D:h:deploy:0:0:1",
                    1,
                    FENCE_RUN,
                    "IFS= read -r s; echo \"got $s\"; kill -9 $$",
                    "sekrit\n",
                    NULL};
    assert_int_equal(run(&r, &out), 128 + SIGKILL);
    assert_non_null(strstr(out, "got sekrit"));
    free(out);
    /* the secret is nowhere in the host's record but the step's output */
    char *start = slurp("steps/D:h:deploy:0:0:1/start");
    assert_null(strstr(start, "sekrit"));
    free(start);
}

/* The wrapper dies (the coordinator and its channel are gone): the step
 * runs on to its end; asked again it is followed, then collected. */
static void test_fence_survives_and_resumes(void **state)
{
    (void)state;
    char *cmd =
        xasprintf("echo a; echo x >>%s/ran; sleep 1; echo b; exit 5", dir);
    struct run r = {"/bin/sh", "D:h:rollback:0:0:1", 1, FENCE_RUN, cmd, NULL,
                    NULL};
    int fd;
    pid_t pid = start(&r, &fd);
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(-pid, SIGKILL);
    char *out;
    finish(pid, fd, &out);
    free(out);
    /* a newer coordinator of the same deploy asks: still running */
    r.mode = FENCE_RESUME;
    r.epoch = 2;
    assert_int_equal(run(&r, &out), 5);
    assert_non_null(strstr(out, "drover-step: attach running"));
    assert_non_null(strstr(out, "a\n"));
    assert_non_null(strstr(out, "b\n"));
    free(out);
    assert_int_equal(ran_count(), 1);
    free(cmd);
}

/* Resume of a step the host has no record of: under an existing fence it
 * never started (it runs now); with no fence at all the host cannot tell;
 * a started step whose runner is gone cannot be told either. */
static void test_fence_resume_unknown(void **state)
{
    (void)state;
    char *out;
    struct run r = {
        "/bin/sh", "D:h:before:1:0:3", 3, FENCE_RESUME, "echo ran", NULL, NULL};
    assert_int_equal(run(&r, &out), FENCE_EXIT_UNKNOWN);
    assert_non_null(strstr(out, "drover-step: unknown"));
    assert_null(strstr(out, "ran"));
    free(out);
    struct run first = {
        "/bin/sh", "D:h:before:0:0:3", 3, FENCE_RUN, "true", NULL, NULL};
    assert_int_equal(run(&first, &out), 0);
    free(out);
    assert_int_equal(run(&r, &out), 0);
    assert_non_null(strstr(out, "drover-step: run\nran\n"));
    free(out);
    /* the runner died without an end record (a host restart) */
    char *c = xasprintf("rm -f '%s/steps/D:h:before:1:0:3/end'", dir);
    assert_int_equal(system(c), 0);
    free(c);
    assert_int_equal(run(&r, &out), FENCE_EXIT_UNKNOWN);
    assert_non_null(strstr(out, "it is not running"));
    free(out);
}

/* An end that holds no number once the runner is gone (a host crash while
 * it wrote the status) is no end: the host cannot tell, it does not
 * report a status it never recorded. */
static void test_fence_end_without_number(void **state)
{
    (void)state;
    char *out;
    struct run r = {
        "/bin/sh", "D:h:deploy:0:0:2", 2, FENCE_RUN, "echo ran", NULL, NULL};
    assert_int_equal(run(&r, &out), 0);
    free(out);
    char *c = xasprintf(": >'%s/steps/D:h:deploy:0:0:2/end'", dir);
    assert_int_equal(system(c), 0);
    free(c);
    r.mode = FENCE_RESUME;
    assert_int_equal(run(&r, &out), FENCE_EXIT_UNKNOWN);
    assert_non_null(strstr(out, "drover-step: unknown"));
    assert_non_null(strstr(out, "it is not running"));
    free(out);
}

/* A step that runs for more than a second is streamed while it runs:
 * what it printed first arrives before it ends. */
static void test_fence_streams_long_step(void **state)
{
    (void)state;
    struct run r = {"/bin/bash",
                    "D:h:deploy:0:0:3",
                    3,
                    FENCE_RUN,
                    "echo first; sleep 3; echo last",
                    NULL,
                    NULL};
    int fd;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = start(&r, &fd);
    char buf[4096] = "";
    size_t len = 0;
    ssize_t n;
    while (strstr(buf, "first\n") == NULL && len < sizeof(buf) - 1 &&
           (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
        len += (size_t)n;
        buf[len] = '\0';
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_non_null(strstr(buf, "first\n"));
    assert_null(strstr(buf, "last"));
    double s = (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(s < 2.5);
    char *out;
    assert_int_equal(finish(pid, fd, &out), 0);
    assert_non_null(strstr(out, "last\n"));
    free(out);
}

static void test_fence_concurrent_keeps_max(void **state)
{
    (void)state;
    pid_t pids[16];
    for (int k = 0; k < 16; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            char *out, id[32];
            snprintf(id, sizeof(id), "D:h:deploy:%d:0:1", k);
            struct run r = {"/bin/sh", id,     (uint64_t)(k * 7 % 16 + 1),
                            FENCE_RUN, "true", NULL,
                            NULL};
            int rc = run(&r, &out);
            _exit(rc == 0 || rc == FENCE_EXIT_REFUSED ? 0 : 1);
        }
    }
    for (int k = 0; k < 16; k++) {
        int st;
        assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(fence_epoch(), 16);
}

static void test_fence_damaged_file(void **state)
{
    (void)state;
    char *out;
    struct run r = {"/bin/sh", "D:h:deploy:0:0:1", 1, FENCE_RUN, "true", NULL,
                    NULL};
    assert_int_equal(run(&r, &out), 0);
    free(out);
    char *path = xasprintf("%s/fence", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("garbage\n", f);
    fclose(f);
    free(path);
    r.id = "D:h:deploy:1:0:1";
    assert_int_equal(run(&r, &out), FENCE_EXIT_ERROR);
    assert_non_null(strstr(out, "drover-step: error"));
    assert_non_null(strstr(out, "holds no epoch number"));
    free(out);
}

static void test_fence_bad_input(void **state)
{
    (void)state;
    struct err e = {0};
    struct fence_step s = {
        .dir = "/tmp/x'; rm -rf /", .id = "a:b", .command = "true"};
    assert_null(fence_command(&s, &e));
    assert_non_null(strstr(e.msg, "drover_fence_dir"));
    s.dir = "relative";
    assert_null(fence_command(&s, &e));
    s.dir = NULL;
    s.id = "a/b";
    assert_null(fence_command(&s, &e));
    s.id = "a:b";
    char *c = fence_command(&s, &e);
    assert_non_null(strstr(c, "_dr_d='" FENCE_DIR "'"));
    free(c);
    char *who = fence_who("ab12", "build 1;rm", NULL);
    assert_string_equal(who, "state_dir=ab12 coordinator=build_1_rm deploy=-");
    free(who);
    const char *rest;
    assert_int_equal(fence_head_parse("drover-step: run", 16, &rest),
                     FENCE_HEAD_RUN);
    assert_int_equal(fence_head_parse("drover-step: running", 20, &rest),
                     FENCE_HEAD_NONE);
    assert_int_equal(fence_head_parse("hello", 5, &rest), FENCE_HEAD_NONE);
}

/* The wait for another coordinator's step: a quoted path under the
 * fence directory; unsafe ids and directories are refused. */
static void test_fence_wait_append(void **state)
{
    (void)state;
    struct err e = {0};
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(fence_wait_append(&b, NULL, "D:h1:deploy:0:0:3", &e),
                     ERR_OK);
    assert_non_null(
        strstr(buf_cstr(&b), "_dr_s='" FENCE_DIR "/steps/D:h1:deploy:0:0:3'"));
    assert_non_null(strstr(buf_cstr(&b), "flock \"$_dr_s/run.lock\" true"));
    assert_int_equal(fence_wait_append(&b, "/x", "a'b", &e), ERR_INVALID);
    assert_int_equal(fence_wait_append(&b, "rel", "a", &e), ERR_INVALID);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fence_dash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fence_bash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fence_input_and_signal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fence_survives_and_resumes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fence_resume_unknown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fence_end_without_number, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fence_streams_long_step, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fence_concurrent_keeps_max, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fence_damaged_file, setup,
                                        teardown),
        cmocka_unit_test(test_fence_bad_input),
        cmocka_unit_test(test_fence_wait_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
