/* coordinator/local.h: the local transport: runs commands on the
 * coordinator's own machine (`on: local` steps, single-node use, tests).
 * Same semantics as the others: `/bin/sh -c COMMAND` in its own process
 * group, stdin fed from exec_spec.input, output streamed, the whole group
 * killed on timeout or cancel (TERM, then KILL after a grace period). */
#ifndef DROVER_LOCAL_H
#define DROVER_LOCAL_H

#include "transport.h"

struct loop;

enum { LOCAL_KILL_GRACE_MS = 2000 };

/* The local transport on loop l. It takes SIGCHLD through the loop: one
 * local transport per process. NULL with e set on failure. */
struct transport *local_transport_new(struct loop *l, struct err *e);

#endif
