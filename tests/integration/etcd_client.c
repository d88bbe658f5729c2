/* tests/integration/etcd_client.c: a small command over coordinator/etcd.c
 * for tests/integration/test_etcd_client.sh, which runs it against a real
 * etcd (tests/integration/lib/etcd.sh). Built as $BUILD/tests/etcd-client:
 *
 *   etcd-client ENDPOINTS get KEY           value on stdout; 1 if absent
 *   etcd-client ENDPOINTS put KEY VALUE [LEASE]
 *   etcd-client ENDPOINTS create KEY VALUE [LEASE]
 *       txn: put only if KEY is absent; 0 created, 3 held (holder's value)
 *   etcd-client ENDPOINTS grant TTL         "LEASE TTL" on stdout
 *   etcd-client ENDPOINTS keep LEASE TTL SECONDS
 *       keepalive from loop timers every TTL/3 for SECONDS
 *   etcd-client ENDPOINTS revoke LEASE
 *
 * Each call prints the endpoint that answered on stderr ("via URL"). */
#include "etcd.h"

#include "err.h"
#include "loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keepalive rounds of `keep`. */
struct keeper {
    struct etcd *c;         /* the client */
    struct loop *l;         /* its loop */
    struct loop_timer tick; /* the next round */
    struct loop_timer end;  /* when to stop */
    int64_t lease;          /* the lease kept */
    int64_t every_ms;       /* TTL/3 */
    int failed;             /* a round failed: exit 1 */
};

static void keeper_done(struct etcd *c, struct etcd_reply *r,
                        const struct err *e, void *arg)
{
    (void)c;
    struct keeper *k = arg;
    if (e->code != ERR_OK) {
        fprintf(stderr, "keepalive: %s\n", e->msg);
        k->failed = 1;
        loop_stop(k->l);
        return;
    }
    fprintf(stderr, "keepalive ttl=%lld via %s\n", (long long)r->ttl,
            etcd_endpoint(k->c));
}

static void keeper_tick(struct loop *l, struct loop_timer *t, void *arg)
{
    struct keeper *k = arg;
    struct etcd_req q = {.call = ETCD_KEEPALIVE, .lease = k->lease};
    struct err e = {0};
    if (etcd_send(k->c, &q, keeper_done, k, &e) != ERR_OK) {
        fprintf(stderr, "keepalive: %s\n", e.msg);
        k->failed = 1;
    }
    loop_timer_start(l, t, k->every_ms);
}

static void keeper_end(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)t;
    struct keeper *k = arg;
    loop_timer_stop(l, &k->tick);
    loop_stop(l);
}

static int usage(void)
{
    fprintf(stderr, "usage: etcd-client ENDPOINTS "
                    "get|put|create|grant|keep|revoke ARGS...\n");
    return 2;
}

static int64_t num(const char *s)
{
    return strtoll(s, NULL, 10);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct etcd *c = l != NULL ? etcd_new(l, argv[1], 0, &e) : NULL;
    if (c == NULL) {
        fprintf(stderr, "etcd-client: %s\n", e.msg);
        loop_free(l);
        return 2;
    }
    const char *cmd = argv[2];
    struct etcd_req q = {0};
    struct etcd_reply r = {0};
    int rc = 0;
    if (strcmp(cmd, "get") == 0 && argc == 4) {
        q.call = ETCD_RANGE;
        q.op.key = argv[3];
    } else if (strcmp(cmd, "put") == 0 && (argc == 5 || argc == 6)) {
        q.call = ETCD_PUT;
        q.op = (struct etcd_op){.key = argv[3],
                                .value = argv[4],
                                .lease = argc == 6 ? num(argv[5]) : 0};
    } else if (strcmp(cmd, "create") == 0 && (argc == 5 || argc == 6)) {
        static struct etcd_cmp cmp;
        static struct etcd_op put, get;
        cmp = (struct etcd_cmp){.key = argv[3], .target = ETCD_CMP_CREATE};
        put = (struct etcd_op){.call = ETCD_PUT,
                               .key = argv[3],
                               .value = argv[4],
                               .lease = argc == 6 ? num(argv[5]) : 0};
        get = (struct etcd_op){.call = ETCD_RANGE, .key = argv[3]};
        q = (struct etcd_req){.call = ETCD_TXN,
                              .cmp = &cmp,
                              .ncmp = 1,
                              .then = &put,
                              .nthen = 1,
                              .orelse = &get,
                              .norelse = 1};
    } else if (strcmp(cmd, "grant") == 0 && argc == 4) {
        q.call = ETCD_GRANT;
        q.ttl = num(argv[3]);
    } else if (strcmp(cmd, "revoke") == 0 && argc == 4) {
        q.call = ETCD_REVOKE;
        q.lease = num(argv[3]);
    } else if (strcmp(cmd, "keep") == 0 && argc == 6) {
        struct keeper k = {.c = c, .l = l, .lease = num(argv[3])};
        k.every_ms = num(argv[4]) * 1000 / 3;
        loop_timer_init(&k.tick, keeper_tick, &k);
        loop_timer_init(&k.end, keeper_end, &k);
        loop_timer_start(l, &k.tick, 0);
        loop_timer_start(l, &k.end, num(argv[5]) * 1000);
        if (loop_run(l, &e) != 0)
            fprintf(stderr, "etcd-client: %s\n", e.msg);
        etcd_free(c);
        loop_free(l);
        return k.failed;
    } else {
        etcd_free(c);
        loop_free(l);
        return usage();
    }
    if (etcd_call(c, &q, &r, &e) != ERR_OK) {
        fprintf(stderr, "etcd-client: %s\n", e.msg);
        rc = 1;
    } else {
        fprintf(stderr, "via %s\n", etcd_endpoint(c));
        if (q.call == ETCD_RANGE) {
            if (r.nkv == 0)
                rc = 1;
            else
                printf("%s\n", r.kv[0].value);
        } else if (q.call == ETCD_TXN && !r.succeeded) {
            printf("%s\n", r.nkv > 0 ? r.kv[0].value : "");
            rc = 3;
        } else if (q.call == ETCD_GRANT) {
            printf("%lld %lld\n", (long long)r.lease, (long long)r.ttl);
        }
    }
    etcd_reply_release(&r);
    etcd_free(c);
    loop_free(l);
    return rc;
}
