/* tests/unit/coordinator/record_fixture.h: a journal holding one deploy
 * that failed in its second wave and was rolled back, written through the
 * store API as the engine would; shared by the record and command tests. */
#ifndef DROVER_TEST_RECORD_FIXTURE_H
#define DROVER_TEST_RECORD_FIXTURE_H

#include "store.h"

#include <stdlib.h>

/* 2026-11-02 10:00:00 UTC */
#define FIXTURE_T0 1793613600000LL

#define FX(call)                                                               \
    do {                                                                       \
        if ((call) != ERR_OK)                                                  \
            fail_msg("%s: %s", #call, e.msg);                                  \
    } while (0)

/* Write the rolled-back deploy into s, as deploy.c journals one (no
 * store_issue: the record derives its issues); its id into id. */
static inline void fixture_rolled_back(struct store *s, char id[STORE_ID_MAX])
{
    struct err e = {0};
    struct store_deploy_info in = {
        .plan = "sms",
        .plan_file = "examples/sms/plan.yml",
        .inventory = "inventory.ini",
        .lock = "sms",
        .epoch = 7,
        .version = "2.1.0",
        .previous_version = "2.0.3",
        .user = "ops",
        .host = "build1",
        .ticket = "CHG-1234",
        .approver = "Jane Doe",
        .git_commit = "0a1b2c3d4e5f",
        .git_tag = "v2.1.0",
        .changes = "fix login redirect\nfaster grade reports",
        .started_ms = FIXTURE_T0,
    };
    FX(store_deploy_begin(s, &in, id, &e));
    FX(store_precheck(s, id, "backup fresh", NULL, true,
                      "/srv/backups/db.sql.gz 2h old", &e));
    const char *w0[] = {"web1"}, *w1[] = {"web2", "web3"};
    FX(store_wave_plan(s, id, 0, w0, 1, &e));
    FX(store_wave_plan(s, id, 1, w1, 2, &e));
    FX(store_wave_state(s, id, 0, "running", &e));
    FX(store_host_state(s, id, "web1", "running", NULL, &e));
    int64_t step;
    struct store_step st = {.host = "web1",
                            .wave = 0,
                            .phase = "deploy",
                            .name = "restart",
                            .job_id = "DEP-x/web1/1",
                            .command = "systemctl restart sms"};
    FX(store_step_intent(s, id, &st, &step, &e));
    struct store_step_outcome ok = {.outcome = "ok", .exit_code = 0};
    FX(store_step_outcome(s, step, &ok, &e));
    struct store_check c1 = {.host = "web1",
                             .phase = "deploy",
                             .name = "/health",
                             .verdict = "pass",
                             .status = 200,
                             .latency_ms = 4,
                             .reason = "status 200"};
    FX(store_check(s, id, &c1, &e));
    struct store_check g1 = {.host = "web1",
                             .phase = "deploy",
                             .name = "gate",
                             .verdict = "healthy",
                             .status = 200,
                             .latency_ms = 900};
    FX(store_check(s, id, &g1, &e));
    FX(store_host_state(s, id, "web1", "healthy", NULL, &e));
    FX(store_wave_state(s, id, 0, "done", &e));
    FX(store_wave_state(s, id, 1, "running", &e));
    FX(store_host_state(s, id, "web2", "running", NULL, &e));
    FX(store_host_state(s, id, "web3", "running", NULL, &e));
    st.host = "web2";
    st.wave = 1;
    st.job_id = "DEP-x/web2/1";
    FX(store_step_intent(s, id, &st, &step, &e));
    FX(store_step_outcome(s, step, &ok, &e));
    struct store_check c2 = {.host = "web2",
                             .phase = "deploy",
                             .name = "/health/ready",
                             .verdict = "fail",
                             .status = 503,
                             .latency_ms = 3,
                             .reason = "status 503 after the 2m deadline"};
    FX(store_check(s, id, &c2, &e));
    struct store_check g2 = {.host = "web2",
                             .phase = "deploy",
                             .name = "gate",
                             .verdict = "failed",
                             .status = 503,
                             .latency_ms = 120000,
                             .reason = "status 503 after the 2m deadline"};
    FX(store_check(s, id, &g2, &e));
    FX(store_host_state(s, id, "web2", "failed",
                        "health gate: status 503 after the 2m deadline", &e));
    st.host = "web3";
    st.job_id = "DEP-x/web3/1";
    FX(store_step_intent(s, id, &st, &step, &e));
    struct store_step_outcome bad = {
        .outcome = "failed", .exit_code = 1, .output = "unit sms not found\n"};
    FX(store_step_outcome(s, step, &bad, &e));
    FX(store_host_state(s, id, "web3", "failed", "step restart: exit 1", &e));
    FX(store_wave_state(s, id, 1, "failed", &e));
    FX(store_decision(
        s, id, "wave 2 stopped: 2 of 2 hosts failed, max_fail is 0", &e));
    FX(store_decision(s, id, "rolling back waves 2..1 to 2.0.3 (rollback.auto)",
                      &e));
    FX(store_deploy_state(s, id, "rolling back", &e));
    const char *hosts[] = {"web3", "web2", "web1"};
    for (int i = 0; i < 3; i++) {
        st.host = hosts[i];
        st.phase = "rollback";
        st.name = "rollback";
        st.job_id = NULL;
        FX(store_step_intent(s, id, &st, &step, &e));
        FX(store_step_outcome(s, step, &ok, &e));
        FX(store_host_state(s, id, hosts[i], "rolled back", NULL, &e));
    }
    FX(store_wave_state(s, id, 1, "rolled back", &e));
    FX(store_wave_state(s, id, 0, "rolled back", &e));
    FX(store_deploy_end(s, id, STORE_RESULT_ROLLED_BACK, true, &e));
}

#endif
