/* coordinator/mux.h: one transport over several: each host is reached by
 * the transport its inventory names (`drover_transport`: ssh, agent,
 * local), so a fleet may mix SSH and agent hosts and the engine and
 * `drover run` see a single transport. */
#ifndef DROVER_MUX_H
#define DROVER_MUX_H

#include "transport.h"

struct loop;

/* A transport that routes connect() by target.kind to ssh, agent or local
 * (borrowed; any may be NULL: hosts of that kind then fail to open with a
 * message saying what is missing). Frees none of them. */
struct transport *mux_transport_new(struct loop *l, struct transport *ssh,
                                    struct transport *agent,
                                    struct transport *local);

/* ERR_INVALID unless kind is NULL, "ssh", "agent" or "local". */
enum err_code mux_check_kind(const char *kind, struct err *e);

#endif
