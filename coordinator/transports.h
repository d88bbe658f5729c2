/* coordinator/transports.h: the transports drover knows, as a table of
 * kinds (the inventory's `drover_transport`: ssh, agent, local), and the
 * set a command builds from it: one transport over several, where each
 * host is reached by the transport of its kind, so a fleet may mix SSH and
 * agent hosts and the engine and `drover run` see a single transport.
 * What a kind does differently is in its transport_ops caps, never in its
 * name. Adding a transport is one file and one row of the table
 * (docs/hacking.md). */
#ifndef DROVER_TRANSPORTS_H
#define DROVER_TRANSPORTS_H

#include "transport.h"

#include <stdbool.h>

struct agent_options;
struct loop;
struct ssh_options;

/* The settings every kind is made from (borrowed while the set lives). */
struct transport_options {
    const struct ssh_options *ssh;     /* the ssh transport's flags */
    const struct agent_options *agent; /* the agent transport's flags */
};

/* One kind of transport: a row of the table. */
struct transport_kind {
    const char *name;     /* its drover_transport value */
    const char *port_var; /* the inventory variable of a host's port */
    bool ssh_config;      /* a host's address is an ssh config alias that
                             the config maps (hostaddr_map) */
    /* A new transport of this kind on l (transport_free frees it), or
     * NULL with e set: a missing key fails here, before any host. */
    struct transport *(*new)(struct loop *l, const struct transport_options *o,
                             struct err *e);
};

/* The kind named name (NULL: the default, ssh). NULL with ERR_INVALID
 * naming every kind when there is none: "drover_transport 'x' is not
 * ssh, agent or local". */
const struct transport_kind *transport_kind_find(const char *name,
                                                 struct err *e);

/* An empty set on l: a transport that routes each target to the
 * transport of target.kind (NULL: the default) in the set. A target whose
 * kind has no transport in the set fails to open, from the loop, saying
 * what is missing. transport_free frees the set and every transport in
 * it, after all their conns are closed. */
struct transport *transports_new(struct loop *l,
                                 const struct transport_options *o);

/* Kind k is needed by a host (call it for every host's kind): a
 * transport no host needs is never created, so its key need not exist. */
void transports_want(struct transport *set, const struct transport_kind *k);

/* Create every wanted transport the set lacks, in the table's order (ssh,
 * then agent, ...): the first failure stops and is returned. */
enum err_code transports_open(struct transport *set, struct err *e);

/* The set's local transport, added if missing: what `on: local` steps
 * run with. NULL with e set on failure. */
struct transport *transports_local(struct transport *set, struct err *e);

#endif
