/* coordinator/runner.c: transports, prober and engine for one deploy. */
#include "runner.h"

#include "agentconn.h"
#include "health.h"
#include "local.h"
#include "log.h"
#include "loop.h"
#include "mux.h"
#include "rollout.h"
#include "session.h"
#include "ssh.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* Ctrl-C pauses after the steps in flight (twice: cancels them); SIGTERM,
 * how CI systems cancel a job, cancels them at once (docs/deploy.md). */
static void runner_on_signal(struct loop *l, int signo, void *arg)
{
    (void)l;
    if (signo == SIGTERM)
        deploy_terminate(arg);
    else
        deploy_interrupt(arg);
}

/* After the engine: a Ctrl-C while notifications flush just hurries. */
static void runner_on_late_signal(struct loop *l, int signo, void *arg)
{
    (void)signo;
    (void)arg;
    loop_stop(l);
}

/* The transports the rollout's hosts need, behind one mux: a transport
 * nobody uses is not created, so its key need not exist. */
static enum err_code
runner_transports(const struct rollout *ro, struct loop *loop,
                  const struct runner_options *o, struct transport *local,
                  struct transport **sshx, struct transport **agentx,
                  struct transport **mux, struct err *e)
{
    bool need_ssh = false, need_agent = false;
    for (size_t i = 0; i < ro->nhosts; i++) {
        const char *k = ro->hosts[i].kind;
        if (k == NULL || strcmp(k, "ssh") == 0)
            need_ssh = true;
        else if (strcmp(k, "agent") == 0)
            need_agent = true;
    }
    if (need_ssh && (*sshx = ssh_transport_new(loop, o->ssh, e)) == NULL)
        return e->code;
    if (need_agent &&
        (*agentx = agentconn_transport_new(loop, o->agent, e)) == NULL)
        return e->code;
    *mux = mux_transport_new(loop, *sshx, *agentx, local);
    return ERR_OK;
}

enum runner_outcome runner_run(const struct rollout *ro, struct loop *loop,
                               struct session *sess, struct runner_options *o,
                               struct deploy_result *res)
{
    struct err e = {0};
    struct health *health = NULL;
    struct transport *local = NULL, *sshx = NULL, *agentx = NULL, *t = NULL;
    struct deploy *d = NULL;
    enum runner_outcome outcome = RUNNER_BROKEN;
    memset(res, 0, sizeof(*res));
    res->verdict = DV_FAILED;
    o->agent->epoch = session_epoch(sess);
    o->agent->deploy_id = session_deploy_id(sess);
    o->agent->who = session_who(sess);
    if ((health = health_new(loop, &e)) == NULL ||
        (local = local_transport_new(loop, &e)) == NULL)
        goto fail;
    if (runner_transports(ro, loop, o, local, &sshx, &agentx, &t, &e) !=
        ERR_OK) {
        outcome = RUNNER_NO_TRANSPORT;
        goto fail;
    }
    struct deploy_options dopt = o->deploy;
    dopt.local = local;
    dopt.store = session_store(sess);
    dopt.deploy_id = session_deploy_id(sess);
    dopt.epoch = session_epoch(sess);
    dopt.who = session_who(sess);
    size_t nsup = 0;
    const struct deploy_orphan *sup = session_orphans(sess, &nsup);
    if (nsup > 0) { /* else: a resume's own (resume_point) */
        dopt.orphans = sup;
        dopt.norphans = nsup;
    }
    d = deploy_new(loop, ro, t, health, &dopt);
    if (loop_signal(loop, SIGINT, runner_on_signal, d, &e) < 0 ||
        loop_signal(loop, SIGTERM, runner_on_signal, d, &e) < 0 ||
        deploy_run(d, res, &e) != ERR_OK)
        goto fail;
    outcome = RUNNER_RAN;
    goto out;
fail:
    log_out(stderr, "drover: %s", e.msg);
    snprintf(res->decision, sizeof(res->decision), "not run: %s", e.msg);
out:
    if (d != NULL) {
        struct err se = {0};
        loop_signal(loop, SIGINT, runner_on_late_signal, NULL, &se);
        loop_signal(loop, SIGTERM, runner_on_late_signal, NULL, &se);
    }
    deploy_free(d);
    transport_free(t);
    transport_free(sshx);
    transport_free(agentx);
    session_end(sess, res);
    transport_free(local);
    health_free(health);
    return outcome;
}
