/* tests/unit/agent/test_client.c: `drover-agent exec`'s client against a
 * real agent in a child process: exit status, stored result, refusal by
 * epoch, and an unauthenticated connection timing out with advice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agentd.h"
#include "client.h"
#include "job.h"
#include "keyfile.h"
#include "loop.h"
#include "zap.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

static char dir[64], endpoint[64];
static struct keypair akey, ckey;
static pid_t agent;

static int setup(void **state)
{
    (void)state;
    struct err e = {0};
    /* mkdtemp's template: six 'X' the call replaces */
    int tn = snprintf(dir, sizeof(dir), "/tmp/test_client.");
    memset(dir + tn, 'X', 6);
    dir[tn + 6] = '\0';
    if (mkdtemp(dir) == NULL)
        return -1;
    keyfile_generate(&akey, &e);
    keyfile_generate(&ckey, &e);
    int p[2];
    if (pipe(p) != 0)
        return -1;
    agent = fork();
    if (agent == 0) {
        close(p[0]);
        struct loop *l = loop_new(&e);
        void *ctx = zmq_ctx_new();
        struct keyfile_set *set = keyfile_set_new();
        uint8_t bin[32];
        zmq_z85_decode(bin, ckey.public_z85);
        keyfile_set_add(set, bin);
        struct job_table *jt = job_table_new(l, &e);
        zap_new(l, ctx, set, &e);
        char sdir[128];
        snprintf(sdir, sizeof(sdir), "%s/state", dir);
        struct agentd_options o = {.name = "t",
                                   .listen = "tcp://127.0.0.1:*",
                                   .key = &akey,
                                   .state_dir = sdir};
        struct agentd *a =
            agentd_new(agentd_sock_new(l, ctx, 0, &e), jt, &o, &e);
        if (a == NULL)
            _exit(1);
        char ep[64];
        snprintf(ep, sizeof(ep), "%s", agentd_endpoint(a));
        if (write(p[1], ep, sizeof(ep)) != sizeof(ep))
            _exit(1);
        loop_run(l, &e);
        _exit(0);
    }
    close(p[1]);
    ssize_t n = read(p[0], endpoint, sizeof(endpoint));
    close(p[0]);
    return n == sizeof(endpoint) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kill(agent, SIGKILL);
    waitpid(agent, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static void test_client_exec_and_replay(void **state)
{
    (void)state;
    const char *env[] = {"X=1", NULL};
    struct client_options o = {.endpoint = endpoint,
                               .server_key = akey.public_z85,
                               .key = &ckey,
                               .job = "c1",
                               .epoch = 2,
                               .command = "exit 9",
                               .env = env,
                               .connect_timeout_ms = 3000};
    assert_int_equal(client_run(&o), 9);
    o.command = "exit 1"; /* same job id: the stored 9 comes back */
    assert_int_equal(client_run(&o), 9);
    o.job = "c2";
    o.command = "kill -TERM $$";
    assert_int_equal(client_run(&o), 128 + SIGTERM);
    o.job = "c3";
    o.command = "sleep 5";
    o.timeout_ms = 100;
    assert_int_equal(client_run(&o), CLIENT_EXIT_TIMEOUT);
    o.epoch = 1; /* lower than 2 */
    o.job = "c4";
    assert_int_equal(client_run(&o), CLIENT_EXIT_REFUSED);
    o.epoch = 2;
    o.query = true;
    o.job = "c1";
    assert_int_equal(client_run(&o), 9);
}

static void test_client_unauthenticated(void **state)
{
    (void)state;
    struct keypair stranger;
    keyfile_generate(&stranger, NULL);
    struct client_options o = {.endpoint = endpoint,
                               .server_key = akey.public_z85,
                               .key = &stranger,
                               .job = "x1",
                               .command = "true",
                               .connect_timeout_ms = 500};
    assert_int_equal(client_run(&o), CLIENT_EXIT_CONNECT);
}

/* Once our secret is in libzmq, whose copies cannot be wiped, the process
 * is not dumpable: no core file, no ptrace or /proc/PID/mem reader. */
static void test_client_not_dumpable(void **state)
{
    (void)state;
    struct client_options o = {.endpoint = endpoint,
                               .server_key = akey.public_z85,
                               .key = &ckey,
                               .job = "d1",
                               .epoch = 2,
                               .command = "true",
                               .connect_timeout_ms = 3000};
    assert_int_equal(client_run(&o), 0);
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_exec_and_replay),
        cmocka_unit_test(test_client_unauthenticated),
        cmocka_unit_test(test_client_not_dumpable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
