/* tests/unit/coordinator/test_runner.c: a whole deploy under a session,
 * over hosts reached through the local transport (drover_transport=local):
 * the journal ends with the verdict, exit statuses map as documented. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agentconn.h"
#include "cmd.h"
#include "loop.h"
#include "plan.h"
#include "rollout.h"
#include "runner.h"
#include "session.h"
#include "ssh.h"
#include "store.h"
#include "transports.h"
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_runner_status_table(void **state)
{
    (void)state;
    assert_int_equal(cmd_verdict_status(DV_SUCCESS), EXIT_OK);
    assert_int_equal(cmd_verdict_status(DV_FAILED), EXIT_FAILED);
    assert_int_equal(cmd_verdict_status(DV_ROLLED_BACK), EXIT_FAILED);
    assert_int_equal(cmd_verdict_status(DV_ROLLBACK_FAILED),
                     EXIT_ROLLBACK_FAILED);
    assert_int_equal(cmd_verdict_status(DV_PAUSED), EXIT_PAUSED);
    assert_int_equal(cmd_verdict_status(DV_REFUSED), EXIT_REFUSED);
}

static void test_runner_local_hosts_journaled(void **state)
{
    (void)state;
    char dir[] = "/tmp/drover-runner-XX"
                 "XX"
                 "XX";
    assert_non_null(mkdtemp(dir));
    struct err e = {0};
    const char *yaml = "name: local-shop\nsteps:\n  - name: touch\n"
                       "    run: x\n";
    struct plan *plan = NULL;
    assert_int_equal(
        plan_load_buffer("shop.yml", yaml, strlen(yaml), &plan, NULL, &e),
        ERR_OK);
    const struct transport_kind *kind = transport_kind_find("local", &e);
    char addr[] = "localhost";
    char cmd1[128], cmd2[128];
    snprintf(cmd1, sizeof(cmd1), "echo a >> %s/ran", dir);
    snprintf(cmd2, sizeof(cmd2), "echo b >> %s/ran", dir);
    struct rollout_cmd steps[2] = {{.step = &plan->steps[0], .command = cmd1},
                                   {.step = &plan->steps[0], .command = cmd2}};
    struct rollout_host hosts[2] = {{.name = "a",
                                     .addr = {.address = addr, .kind = kind},
                                     .steps = &steps[0]},
                                    {.name = "b",
                                     .addr = {.address = addr, .kind = kind},
                                     .steps = &steps[1],
                                     .wave = 1}};
    size_t sizes[2] = {1, 1};
    struct rollout ro = {.plan = plan,
                         .hosts = hosts,
                         .nhosts = 2,
                         .wave_sizes = sizes,
                         .nwaves = 2};
    struct loop *loop = loop_new(&e);
    struct session_options so = {.state_dir = dir, .version = "9"};
    struct session *sess = NULL;
    enum session_refusal why;
    assert_int_equal(session_begin(plan, NULL, &so, loop, &sess, &why, &e),
                     ERR_OK);
    char id[STORE_ID_MAX];
    snprintf(id, sizeof(id), "%s", session_deploy_id(sess));
    struct ssh_options sshopt;
    ssh_options_init(&sshopt);
    struct agent_options ao;
    agent_options_init(&ao);
    FILE *out = tmpfile();
    struct runner_options o = {
        .ssh = &sshopt, .agent = &ao, .deploy = {.forks = 4, .out = out}};
    struct deploy_result res;
    enum runner_outcome outcome = runner_run(&ro, loop, sess, &o, &res);
    assert_int_equal(cmd_runner_status(outcome, &res), EXIT_OK);
    fclose(out);
    assert_int_equal(res.healthy, 2);

    struct store *st = NULL;
    assert_int_equal(store_open_state(dir, true, &st, NULL, &e), ERR_OK);
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(st, id, &r, &e), ERR_OK);
    assert_int_equal(r->result, STORE_RESULT_SUCCESS);
    assert_int_equal(r->nsteps, 2);
    assert_string_equal(r->steps[0].outcome, "ok");
    assert_non_null(strstr(r->steps[0].job_id, ":a:deploy:0:0:"));
    assert_string_equal(r->steps[0].phase, "deploy");
    assert_int_equal(r->steps[0].step, 0);
    assert_int_equal(r->steps[0].attempt, 0);
    assert_true(r->steps[0].gen >= 1);
    store_record_free(r);
    store_free(st);
    loop_free(loop);
    plan_free(plan);
    char rm[96];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    assert_int_equal(system(rm), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runner_status_table),
        cmocka_unit_test(test_runner_local_hosts_journaled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
