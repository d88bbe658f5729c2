/* coordinator/runner.c: transports, prober and engine for one deploy. */
#include "runner.h"

#include "agentconn.h"
#include "health.h"
#include "log.h"
#include "loop.h"
#include "rollout.h"
#include "session.h"
#include "transports.h"

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

/* The transports the rollout's hosts need, in the set: a transport
 * nobody uses is not created, so its key need not exist. */
static enum err_code runner_transports(const struct rollout *ro,
                                       struct transport *set, struct err *e)
{
    for (size_t i = 0; i < ro->nhosts; i++)
        transports_want(set, ro->hosts[i].addr.kind);
    return transports_open(set, e);
}

enum runner_outcome runner_run(const struct rollout *ro, struct loop *loop,
                               struct session *sess, struct runner_options *o,
                               struct deploy_result *res)
{
    struct err e = {0};
    struct health *health = NULL;
    struct transport_options to = {.ssh = o->ssh, .agent = o->agent};
    struct transport *t = transports_new(loop, &to), *local = NULL;
    struct deploy *d = NULL;
    enum runner_outcome outcome = RUNNER_BROKEN;
    memset(res, 0, sizeof(*res));
    res->verdict = DV_FAILED;
    o->agent->epoch = session_epoch(sess);
    o->agent->deploy_id = session_deploy_id(sess);
    o->agent->who = session_who(sess);
    if ((health = health_new(loop, &e)) == NULL ||
        (local = transports_local(t, &e)) == NULL)
        goto fail;
    if (runner_transports(ro, t, &e) != ERR_OK) {
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
    session_end(sess, res);
    transport_free(t); /* after session_end: local steps' children */
    health_free(health);
    return outcome;
}
