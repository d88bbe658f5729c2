/* coordinator/runner.h: run a resolved deploy under a session: build the
 * transports its hosts need (ssh, agent, local behind one mux), the health
 * prober, Ctrl-C handling, run the engine, record the end. Shared by
 * `drover deploy` and the commands that continue a deploy (resume.h). */
#ifndef DROVER_RUNNER_H
#define DROVER_RUNNER_H

#include "deploy.h"

struct agent_options;
struct loop;
struct rollout;
struct session;
struct ssh_options;

struct runner_options {
    const struct ssh_options *ssh; /* SSH flags */
    struct agent_options *agent;   /* agent flags (epoch set here) */
    struct deploy_options deploy;  /* engine options (store, id, epoch
                                      and local are filled in here) */
};

/* How runner_run ended; the command maps it to its exit status
 * (cmd_runner_status). */
enum runner_outcome {
    RUNNER_RAN,          /* the engine ran: res->verdict says how it ended */
    RUNNER_NO_TRANSPORT, /* a transport the hosts need could not be made
                            (a key or a flag: the message is logged) */
    RUNNER_BROKEN        /* the system failed (the message is logged) */
};

/* Run ro on loop under sess (which runner_run ends, whatever happens).
 * res is filled when the engine ran, and says "not run" otherwise. */
enum runner_outcome runner_run(const struct rollout *ro, struct loop *loop,
                               struct session *sess, struct runner_options *o,
                               struct deploy_result *res);

#endif
