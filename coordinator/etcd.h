/* coordinator/etcd.h: a client for etcd's v3 JSON gateway (etcd 3.4,
 * /v3/kv/..., /v3/lease/...) over libcurl, driven by the common loop
 * through coordinator/curlloop.c, so a lease keepalive can run from a loop
 * timer while a deploy goes on. Requests are built and replies parsed by
 * pure functions (etcd_body, etcd_parse) that the golden-reply tests run
 * over texts captured from a real etcd (tests/data/etcd/); docs/ha.md
 * says which shapes the gateway sends. */
#ifndef DROVER_ETCD_H
#define DROVER_ETCD_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct etcd;

/* Limits. */
enum {
    ETCD_REPLY_MAX = 4 << 20,       /* bytes of one reply body we accept */
    ETCD_ENDPOINTS_MAX = 16,        /* endpoints of one client */
    ETCD_TIMEOUT_MS = 5000,         /* default whole-request timeout */
    ETCD_CONNECT_TIMEOUT_MS = 1000, /* connect timeout per endpoint */
};

/* The gateway calls the client makes. */
enum etcd_call {
    ETCD_RANGE,     /* kv/range: one key, or every key under a prefix */
    ETCD_PUT,       /* kv/put, optionally attached to a lease */
    ETCD_DELETE,    /* kv/deleterange: one key, or a prefix */
    ETCD_TXN,       /* kv/txn: compares, then success or failure ops */
    ETCD_GRANT,     /* lease/grant */
    ETCD_KEEPALIVE, /* lease/keepalive (one round) */
    ETCD_REVOKE,    /* lease/revoke */
};

/* What a txn compare looks at; the result is always EQUAL. */
enum etcd_target {
    ETCD_CMP_CREATE, /* the key's create_revision (0: absent) */
    ETCD_CMP_MOD,    /* the key's mod_revision */
    ETCD_CMP_VALUE,  /* the key's value */
};

/* One txn compare: key's target == rev (or == value). Borrowed strings. */
struct etcd_cmp {
    const char *key;         /* the key compared */
    enum etcd_target target; /* what is compared */
    int64_t rev;             /* CREATE and MOD: the revision */
    const char *value;       /* VALUE: the value */
};

/* One txn operation (ETCD_RANGE, ETCD_PUT or ETCD_DELETE). Borrowed. */
struct etcd_op {
    enum etcd_call call; /* which operation */
    const char *key;     /* its key, or prefix */
    bool prefix;         /* range/delete: every key starting with key */
    const char *value;   /* put: the value */
    int64_t lease;       /* put: the lease to attach, 0 for none */
};

/* A request. Strings and arrays are borrowed for the call only. */
struct etcd_req {
    enum etcd_call call;          /* which call */
    struct etcd_op op;            /* RANGE, PUT, DELETE: the operation */
    const struct etcd_cmp *cmp;   /* TXN: compares, all must hold */
    size_t ncmp;                  /* number of compares */
    const struct etcd_op *then;   /* TXN: ops when they all hold */
    size_t nthen;                 /* number of them */
    const struct etcd_op *orelse; /* TXN: ops otherwise */
    size_t norelse;               /* number of them */
    int64_t ttl;                  /* GRANT: seconds asked */
    int64_t lease;                /* KEEPALIVE, REVOKE: the lease */
};

/* One key-value as etcd returns it. key and value are decoded from
 * base64, owned by the reply, NUL-terminated (they may hold NULs: use the
 * lengths). Fields etcd leaves out (zero, empty) are 0 and "". */
struct etcd_kv {
    char *key;               /* the key */
    size_t key_len;          /* its length */
    char *value;             /* the value */
    size_t value_len;        /* its length */
    int64_t create_revision; /* revision that created it */
    int64_t mod_revision;    /* revision of its last change */
    int64_t version;         /* changes since it was created */
    int64_t lease;           /* lease it is attached to, 0 for none */
};

/* A parsed reply; fields a call does not return stay 0. */
struct etcd_reply {
    int64_t revision;   /* header.revision: the store's revision */
    bool succeeded;     /* TXN: the compares held */
    struct etcd_kv *kv; /* RANGE, and a TXN's range ops in order: owned */
    size_t nkv;         /* number of them */
    int64_t count;      /* RANGE: keys in the range */
    int64_t deleted;    /* DELETE, and a TXN's delete ops: keys deleted */
    int64_t lease;      /* GRANT, KEEPALIVE: the lease id */
    int64_t ttl;        /* GRANT, KEEPALIVE: the TTL the server chose */
};

/* Free what r holds and zero it. */
void etcd_reply_release(struct etcd_reply *r);

/* The gateway path of a call ("/v3/kv/range"). */
const char *etcd_path(enum etcd_call call);

/* The JSON body of q (keys and values in base64, int64 as strings);
 * caller frees. */
char *etcd_body(const struct etcd_req *q);

/* Parse the reply to call: HTTP status and body. On ERR_OK r is filled
 * (release it). An error reply ({"error", "code"}) is ERR_NOTFOUND for
 * etcd's NotFound (a lease that is gone), else ERR_STORE, with etcd's
 * message; a keepalive of a dead lease (no TTL) is ERR_NOTFOUND too, with
 * r filled (ttl 0). A body that is not the gateway's JSON is ERR_PROTO. */
enum err_code etcd_parse(enum etcd_call call, long status, const char *body,
                         size_t len, struct etcd_reply *r, struct err *e);

/* A client of the comma-separated endpoints ("HOST:PORT" for http, or
 * "http://HOST:PORT"), driven by loop l; timeout_ms bounds each request
 * (0: ETCD_TIMEOUT_MS). NULL with e set on a bad list. */
struct etcd *etcd_new(struct loop *l, const char *endpoints, int64_t timeout_ms,
                      struct err *e);

/* Cancel the requests in flight (their callbacks are not called) and free
 * the client. NULL is a no-op. */
void etcd_free(struct etcd *c);

/* The endpoint requests go to now (after failovers), "http://H:P". */
const char *etcd_endpoint(const struct etcd *c);

/* A request ended: e->code is ERR_OK and r the reply, or e says why
 * (ERR_UNREACHABLE: no endpoint answered). r is released after the call
 * unless the callee takes its contents (copies it and zeroes it); e is
 * borrowed. Called from the loop; it may send further requests. */
typedef void etcd_done_fn(struct etcd *c, struct etcd_reply *r,
                          const struct err *e, void *arg);

/* Send q; done is called from the loop when it ends. Failover: a request
 * that could not connect goes to the next endpoint, which becomes the
 * current one; a read (RANGE, KEEPALIVE) also moves on after any
 * transport error, but a write that may have reached the server does not
 * (it fails with ERR_UNREACHABLE: its outcome is unknown). */
enum err_code etcd_send(struct etcd *c, const struct etcd_req *q,
                        etcd_done_fn *done, void *arg, struct err *e);

/* Send q and run loop turns until it ends: for commands and tests that
 * have nothing else to do. Not from a loop callback (turns do not nest).
 * On ERR_OK r is filled (release it). */
enum err_code etcd_call(struct etcd *c, const struct etcd_req *q,
                        struct etcd_reply *r, struct err *e);

#endif
