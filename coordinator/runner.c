/* coordinator/runner.c: transports, prober and engine for one deploy. */
#include "runner.h"

#include "agentconn.h"
#include "cmd.h"
#include "health.h"
#include "local.h"
#include "loop.h"
#include "mux.h"
#include "plan.h"
#include "redact.h"
#include "rollout.h"
#include "session.h"
#include "ssh.h"

#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Register a step's env values whose names look secret (*password*,
 * *token*, *_key, ...) for redaction. */
static void runner_secret_env(const struct rollout_cmd *c, size_t n)
{
    for (size_t i = 0; c != NULL && i < n; i++) {
        const char *key;
        json_t *val;
        if (c[i].env == NULL)
            continue;
        json_object_foreach(c[i].env, key, val)
        {
            if (json_is_string(val))
                redact_add_named(redact_global(), key, json_string_value(val));
        }
    }
}

/* Every secret of the deploy is redacted from all output, the journal and
 * the record from now on: secret_env values, and env values and plan or
 * -e variables whose names look secret. */
void runner_secrets(const struct rollout *ro)
{
    json_t *extra = ro->extra;
    const struct plan *p = ro->plan;
    const struct plan_step *lists[] = {p->prechecks, p->before, p->steps,
                                       p->rollback_steps};
    const size_t counts[] = {p->nprechecks, p->nbefore, p->nsteps,
                             p->nrollback_steps};
    for (size_t l = 0; l < 4; l++)
        for (size_t i = 0; i < counts[l]; i++)
            for (size_t k = 0; k < lists[l][i].nsecret_env; k++) {
                const char *v = getenv(lists[l][i].secret_env[k]);
                if (v != NULL)
                    redact_add(redact_global(), v);
            }
    for (size_t i = 0; i < ro->nhosts; i++) {
        runner_secret_env(ro->hosts[i].steps, p->nsteps);
        runner_secret_env(ro->hosts[i].rollback, p->nrollback_steps);
        runner_secret_env(ro->hosts[i].prechecks, p->nprechecks);
    }
    for (size_t i = 0; i < ro->nbefore; i++)
        runner_secret_env(&ro->before[i].cmd, 1);
    for (size_t i = 0; i < ro->nprechecks_once; i++)
        runner_secret_env(&ro->prechecks_once[i].cmd, 1);
    json_t *objs[] = {p->vars, extra};
    for (size_t o = 0; o < 2; o++) {
        const char *key;
        json_t *val;
        json_object_foreach(objs[o], key, val)
        {
            if (json_is_string(val))
                redact_add_named(redact_global(), key, json_string_value(val));
        }
    }
}

int runner_status(enum deploy_verdict v)
{
    switch (v) {
    case DV_SUCCESS:
        return EXIT_OK;
    case DV_ROLLBACK_FAILED:
        return EXIT_ROLLBACK_FAILED;
    case DV_PAUSED:
        return EXIT_PAUSED;
    case DV_REFUSED:
        return EXIT_REFUSED;
    case DV_FAILED:
    case DV_ROLLED_BACK:
    default:
        return EXIT_FAILED;
    }
}

static void runner_on_signal(struct loop *l, int signo, void *arg)
{
    (void)l;
    (void)signo;
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

int runner_run(const struct rollout *ro, struct loop *loop,
               struct session *sess, struct runner_options *o,
               struct deploy_result *res)
{
    struct err e = {0};
    struct health *health = NULL;
    struct transport *local = NULL, *sshx = NULL, *agentx = NULL, *t = NULL;
    struct deploy *d = NULL;
    int status = EXIT_INTERNAL;
    memset(res, 0, sizeof(*res));
    res->verdict = DV_FAILED;
    runner_secrets(ro);
    o->agent->epoch = session_epoch(sess);
    o->agent->deploy_id = session_deploy_id(sess);
    if ((health = health_new(loop, &e)) == NULL ||
        (local = local_transport_new(loop, &e)) == NULL)
        goto fail;
    if (runner_transports(ro, loop, o, local, &sshx, &agentx, &t, &e) !=
        ERR_OK) {
        status = EXIT_USAGE;
        goto fail;
    }
    struct deploy_options dopt = o->deploy;
    dopt.local = local;
    dopt.store = session_store(sess);
    dopt.deploy_id = session_deploy_id(sess);
    dopt.epoch = session_epoch(sess);
    d = deploy_new(loop, ro, t, health, &dopt);
    if (loop_signal(loop, SIGINT, runner_on_signal, d, &e) < 0 ||
        loop_signal(loop, SIGTERM, runner_on_signal, d, &e) < 0 ||
        deploy_run(d, res, &e) != ERR_OK)
        goto fail;
    status = runner_status(res->verdict);
    goto out;
fail:
    fprintf(stderr, "drover: %s\n", e.msg);
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
    return status;
}
