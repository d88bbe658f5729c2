/* agent/zap.h: the ZAP handler that makes CURVE authenticate clients.
 * Without one, a CURVE server accepts any client that knows its public key
 * (docs/dependencies.md). It must be bound on inproc://zeromq.zap.01 in the
 * server socket's context before the server socket is bound; it answers from
 * the loop, allowing only coordinator keys in the authorized set. */
#ifndef DROVER_ZAP_H
#define DROVER_ZAP_H

#include "err.h"
#include "keyfile.h"

#include <stdint.h>

struct loop;
struct zap;

/* Bind the handler in zctx. allowed is borrowed while the handler lives.
 * NULL with e set if the endpoint is taken (another handler). */
struct zap *zap_new(struct loop *l, void *zctx,
                    const struct keyfile_set *allowed, struct err *e);
/* NULL is a no-op. */
void zap_free(struct zap *z);

/* Requests answered 200 / refused since zap_new. */
uint64_t zap_accepted(const struct zap *z);
uint64_t zap_refused(const struct zap *z);

/* Start-up self-test: connect a client with a fresh random key to
 * endpoint (a CURVE server with public key server_z85 in the same context)
 * and run the loop until the handler has refused it. ERR_AUTH if the
 * handler was not consulted or let the client in: the caller must exit. */
enum err_code zap_selftest(struct zap *z, struct loop *l, void *zctx,
                           const char *endpoint, const char *server_z85,
                           struct err *e);

#endif
