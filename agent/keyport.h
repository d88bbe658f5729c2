/* agent/keyport.h: the key announcement port (the agent port + 1). A CURVE
 * client must know the server's key before connecting, and the handshake
 * never sends it, so first-use trust (`drover --accept-new`, like SSH's)
 * needs the key told in the clear: on connect this port writes one line,
 * "DROVER-AGENT-KEY 1 <Z85 public key>\n", and closes. It is public data;
 * a coordinator that pinned the key never asks. */
#ifndef DROVER_KEYPORT_H
#define DROVER_KEYPORT_H

#include "err.h"

struct loop;
struct keyport;

/* Listen on host:port (host "0.0.0.0", "127.0.0.1", "::", ...). */
struct keyport *keyport_new(struct loop *l, const char *host, int port,
                            const char *public_z85, struct err *e);
/* NULL is a no-op. */
void keyport_free(struct keyport *k);

#endif
