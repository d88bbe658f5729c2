/* coordinator/etcd.c: etcd's v3 JSON gateway over libcurl. etcd_body and
 * etcd_parse turn requests into bodies and replies into struct etcd_reply
 * (with etcd's omitted fields, int64 strings and base64 bytes); the client
 * sends them on coordinator/curlloop.c's multi handle and fails over
 * between endpoints (etcd_pending_done). */
#include "etcd.h"

#include "base64.h"
#include "buf.h"
#include "curlloop.h"
#include "log.h"
#include "loop.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A request in flight. */
struct etcd_pending {
    struct etcd *c;               /* owner */
    CURL *easy;                   /* its transfer */
    struct curl_slist *hdrs;      /* Content-Type */
    enum etcd_call call;          /* what was asked */
    char *body;                   /* the JSON body, kept for a failover */
    struct buf answer;            /* the reply body */
    char errbuf[CURL_ERROR_SIZE]; /* curl's message */
    size_t tries;                 /* endpoints tried */
    etcd_done_fn *done;           /* told when it ends */
    void *arg;                    /* passed to done */
    struct etcd_pending *prev;    /* in c->pending */
    struct etcd_pending *next;    /* in c->pending */
};

struct etcd {
    struct loop *loop;             /* drives the transfers */
    struct curlloop *cl;           /* the multi handle on it */
    char *url[ETCD_ENDPOINTS_MAX]; /* "http://H:P", owned */
    size_t nurl;                   /* number of endpoints */
    size_t cur;                    /* the endpoint in use */
    int64_t timeout_ms;            /* per request */
    struct etcd_pending *pending;  /* in flight */
};

/* --- request bodies --------------------------------------------------- */

const char *etcd_path(enum etcd_call call)
{
    switch (call) {
    case ETCD_RANGE:
        return "/v3/kv/range";
    case ETCD_PUT:
        return "/v3/kv/put";
    case ETCD_DELETE:
        return "/v3/kv/deleterange";
    case ETCD_TXN:
        return "/v3/kv/txn";
    case ETCD_GRANT:
        return "/v3/lease/grant";
    case ETCD_KEEPALIVE:
        return "/v3/lease/keepalive";
    case ETCD_REVOKE:
        return "/v3/lease/revoke";
    }
    return "/v3/kv/range";
}

/* Set o[name] to the base64 of n bytes at p. */
static void etcd_set_b64(json_t *o, const char *name, const void *p, size_t n)
{
    char *s = base64_encode(p, n);
    json_object_set_new(o, name, json_string(s));
    free(s);
}

/* Set o[name] to v as a JSON string, as the gateway wants int64s. */
static void etcd_set_int(json_t *o, const char *name, int64_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%lld", (long long)v);
    json_object_set_new(o, name, json_string(s));
}

/* Set key (and range_end, for a prefix: the key with its last byte that
 * is not 0xff raised by one; "\0" for every key) on o. */
static void etcd_set_key(json_t *o, const char *key, bool prefix)
{
    size_t n = strlen(key);
    etcd_set_b64(o, "key", key, n);
    if (!prefix)
        return;
    unsigned char *end = xmalloc(n + 1);
    memcpy(end, key, n);
    while (n > 0 && end[n - 1] == 0xff)
        n--;
    if (n == 0) {
        end[0] = 0;
        n = 1;
    } else {
        end[n - 1]++;
    }
    etcd_set_b64(o, "range_end", end, n);
    free(end);
}

/* The body of one operation (request_range etc. inside a txn, or a whole
 * request of its own). */
static json_t *etcd_op_json(const struct etcd_op *op)
{
    json_t *o = json_object();
    etcd_set_key(o, op->key, op->prefix && op->call != ETCD_PUT);
    if (op->call == ETCD_PUT) {
        const char *v = op->value != NULL ? op->value : "";
        etcd_set_b64(o, "value", v, strlen(v));
        if (op->lease != 0)
            etcd_set_int(o, "lease", op->lease);
    }
    return o;
}

static const char *etcd_op_name(enum etcd_call call)
{
    if (call == ETCD_PUT)
        return "request_put";
    if (call == ETCD_DELETE)
        return "request_delete_range";
    return "request_range";
}

static json_t *etcd_ops_json(const struct etcd_op *ops, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *w = json_object();
        json_object_set_new(w, etcd_op_name(ops[i].call),
                            etcd_op_json(&ops[i]));
        json_array_append_new(a, w);
    }
    return a;
}

static json_t *etcd_cmp_json(const struct etcd_cmp *c)
{
    static const char *const targets[] = {"CREATE", "MOD", "VALUE"};
    json_t *o = json_object();
    etcd_set_b64(o, "key", c->key, strlen(c->key));
    json_object_set_new(o, "target", json_string(targets[c->target]));
    json_object_set_new(o, "result", json_string("EQUAL"));
    if (c->target == ETCD_CMP_CREATE)
        etcd_set_int(o, "create_revision", c->rev);
    else if (c->target == ETCD_CMP_MOD)
        etcd_set_int(o, "mod_revision", c->rev);
    else
        etcd_set_b64(o, "value", c->value != NULL ? c->value : "",
                     c->value != NULL ? strlen(c->value) : 0);
    return o;
}

char *etcd_body(const struct etcd_req *q)
{
    json_t *o;
    switch (q->call) {
    case ETCD_RANGE:
    case ETCD_PUT:
    case ETCD_DELETE: {
        struct etcd_op op = q->op;
        op.call = q->call;
        o = etcd_op_json(&op);
        break;
    }
    case ETCD_TXN: {
        o = json_object();
        json_t *a = json_array();
        for (size_t i = 0; i < q->ncmp; i++)
            json_array_append_new(a, etcd_cmp_json(&q->cmp[i]));
        json_object_set_new(o, "compare", a);
        json_object_set_new(o, "success", etcd_ops_json(q->then, q->nthen));
        json_object_set_new(o, "failure", etcd_ops_json(q->orelse, q->norelse));
        break;
    }
    case ETCD_GRANT:
        o = json_object();
        etcd_set_int(o, "TTL", q->ttl);
        break;
    default: /* KEEPALIVE, REVOKE */
        o = json_object();
        etcd_set_int(o, "ID", q->lease);
        break;
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s != NULL ? s : xstrdup("{}");
}

/* --- replies ---------------------------------------------------------- */

void etcd_reply_release(struct etcd_reply *r)
{
    for (size_t i = 0; i < r->nkv; i++) {
        free(r->kv[i].key);
        free(r->kv[i].value);
    }
    free(r->kv);
    memset(r, 0, sizeof(*r));
}

/* o[name] as an int64: absent is 0 (etcd omits zeros); a string of digits
 * (how the gateway sends int64) or a JSON integer. */
static enum err_code etcd_get_int(const json_t *o, const char *name, int64_t *v,
                                  struct err *e)
{
    const json_t *j = json_object_get(o, name);
    *v = 0;
    if (j == NULL)
        return ERR_OK;
    if (json_is_integer(j)) {
        *v = json_integer_value(j);
        return ERR_OK;
    }
    const char *s = json_string_value(j);
    if (s == NULL || *s == '\0')
        return err_set(e, ERR_PROTO, "etcd: %s is not an integer", name);
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return err_set(e, ERR_PROTO, "etcd: %s \"%.40s\" is not an int64", name,
                       s);
    *v = n;
    return ERR_OK;
}

/* o[name] decoded from base64 into *p (owned, NUL-terminated), *n its
 * length; absent is "" (etcd omits empty values). */
static enum err_code etcd_get_bytes(const json_t *o, const char *name, char **p,
                                    size_t *n, struct err *e)
{
    const json_t *j = json_object_get(o, name);
    *p = NULL;
    *n = 0;
    if (j != NULL && !json_is_string(j))
        return err_set(e, ERR_PROTO, "etcd: %s is not a string", name);
    const char *s = j != NULL ? json_string_value(j) : "";
    size_t len = strlen(s);
    unsigned char *d = NULL;
    size_t dn = 0;
    if (len > 0) {
        d = base64_decode(s, len, &dn);
        if (d == NULL)
            return err_set(e, ERR_PROTO, "etcd: %s is not base64", name);
    }
    *p = xmalloc(dn + 1);
    if (dn > 0)
        memcpy(*p, d, dn);
    (*p)[dn] = '\0';
    *n = dn;
    free(d);
    return ERR_OK;
}

/* Append the kvs array of o (absent: none) to r. */
static enum err_code etcd_get_kvs(const json_t *o, struct etcd_reply *r,
                                  struct err *e)
{
    const json_t *a = json_object_get(o, "kvs");
    if (a == NULL)
        return ERR_OK;
    if (!json_is_array(a))
        return err_set(e, ERR_PROTO, "etcd: kvs is not an array");
    size_t n = json_array_size(a);
    r->kv = xrealloc(r->kv, (r->nkv + n + 1) * sizeof(*r->kv));
    for (size_t i = 0; i < n; i++) {
        const json_t *j = json_array_get(a, i);
        struct etcd_kv *kv = &r->kv[r->nkv];
        memset(kv, 0, sizeof(*kv));
        if (!json_is_object(j))
            return err_set(e, ERR_PROTO, "etcd: a kv is not an object");
        r->nkv++;
        if (etcd_get_bytes(j, "key", &kv->key, &kv->key_len, e) ||
            etcd_get_bytes(j, "value", &kv->value, &kv->value_len, e) ||
            etcd_get_int(j, "create_revision", &kv->create_revision, e) ||
            etcd_get_int(j, "mod_revision", &kv->mod_revision, e) ||
            etcd_get_int(j, "version", &kv->version, e) ||
            etcd_get_int(j, "lease", &kv->lease, e))
            return e->code;
    }
    return ERR_OK;
}

/* An error reply: {"error": "...", "code": N} (unary calls) or
 * {"error": {"grpc_code": N, "message": "..."}} (a stream's). */
static enum err_code etcd_error(const json_t *o, enum etcd_call call,
                                long status, struct err *e)
{
    const json_t *er = json_object_get(o, "error");
    const char *msg = json_string_value(json_object_get(o, "message"));
    int64_t code = 0;
    if (json_is_object(er)) {
        msg = json_string_value(json_object_get(er, "message"));
        etcd_get_int(er, "grpc_code", &code, e);
    } else {
        if (msg == NULL)
            msg = json_string_value(er);
        etcd_get_int(o, "code", &code, e);
    }
    if (msg == NULL)
        msg = "no message";
    /* gRPC NotFound: a lease that expired or was revoked */
    return err_set(e, code == 5 ? ERR_NOTFOUND : ERR_STORE,
                   "etcd %s: %s (code %lld, HTTP %ld)", etcd_path(call) + 4,
                   msg, (long long)code, status);
}

/* The responses of a txn: range kvs appended in order, deletes summed. */
static enum err_code etcd_get_responses(const json_t *o, struct etcd_reply *r,
                                        struct err *e)
{
    const json_t *a = json_object_get(o, "responses");
    if (a == NULL)
        return ERR_OK;
    if (!json_is_array(a))
        return err_set(e, ERR_PROTO, "etcd: responses is not an array");
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *w = json_array_get(a, i);
        const json_t *rr = json_object_get(w, "response_range");
        const json_t *rd = json_object_get(w, "response_delete_range");
        int64_t n;
        if (rr != NULL && etcd_get_kvs(rr, r, e) != ERR_OK)
            return e->code;
        if (rd != NULL) {
            if (etcd_get_int(rd, "deleted", &n, e) != ERR_OK)
                return e->code;
            r->deleted += n;
        }
    }
    return ERR_OK;
}

enum err_code etcd_parse(enum etcd_call call, long status, const char *body,
                         size_t len, struct etcd_reply *r, struct err *e)
{
    memset(r, 0, sizeof(*r));
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return err_set(e, ERR_PROTO,
                       "etcd %s: HTTP %ld, not the gateway's JSON: %.60s",
                       etcd_path(call) + 4, status, len > 0 ? body : "(empty)");
    }
    const json_t *o = root;
    /* a keepalive is a stream: each message comes as {"result": ...} */
    if (call == ETCD_KEEPALIVE && json_is_object(json_object_get(o, "result")))
        o = json_object_get(o, "result");
    enum err_code rc = ERR_OK;
    if (json_object_get(o, "error") != NULL || status < 200 || status > 299) {
        rc = etcd_error(o, call, status, e);
        goto out;
    }
    const json_t *hdr = json_object_get(o, "header");
    if (!json_is_object(hdr)) {
        rc = err_set(e, ERR_PROTO, "etcd %s: no header in the reply",
                     etcd_path(call) + 4);
        goto out;
    }
    if ((rc = etcd_get_int(hdr, "revision", &r->revision, e)) != ERR_OK)
        goto out;
    switch (call) {
    case ETCD_RANGE:
        if ((rc = etcd_get_kvs(o, r, e)) == ERR_OK)
            rc = etcd_get_int(o, "count", &r->count, e);
        break;
    case ETCD_DELETE:
        rc = etcd_get_int(o, "deleted", &r->deleted, e);
        break;
    case ETCD_TXN:
        /* a failed txn has no "succeeded" at all */
        r->succeeded = json_is_true(json_object_get(o, "succeeded"));
        rc = etcd_get_responses(o, r, e);
        break;
    case ETCD_GRANT:
    case ETCD_KEEPALIVE:
        if ((rc = etcd_get_int(o, "ID", &r->lease, e)) == ERR_OK)
            rc = etcd_get_int(o, "TTL", &r->ttl, e);
        /* a dead lease's keepalive has no TTL: the lease is gone */
        if (rc == ERR_OK && r->ttl <= 0)
            rc = err_set(e, ERR_NOTFOUND,
                         "etcd lease %lld has expired or was revoked",
                         (long long)r->lease);
        break;
    default: /* PUT, REVOKE: the header only */
        break;
    }
out:
    json_decref(root);
    if (rc != ERR_OK &&
        !(call == ETCD_KEEPALIVE && rc == ERR_NOTFOUND && r->lease != 0)) {
        int64_t rev = r->revision;
        etcd_reply_release(r);
        r->revision = rev;
    }
    return rc;
}

/* --- the client ------------------------------------------------------- */

static void etcd_pending_free(struct etcd_pending *p)
{
    struct etcd *c = p->c;
    if (p->easy != NULL) {
        curl_multi_remove_handle(curlloop_multi(c->cl), p->easy);
        curl_easy_cleanup(p->easy);
    }
    curl_slist_free_all(p->hdrs);
    free(p->body);
    buf_release(&p->answer);
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        c->pending = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    free(p);
}

static size_t etcd_write_cb(char *ptr, size_t size, size_t n, void *arg)
{
    struct etcd_pending *p = arg;
    if (!buf_add(&p->answer, ptr, size * n))
        return 0; /* over ETCD_REPLY_MAX: curl fails the transfer */
    return size * n;
}

/* Start p's transfer to the current endpoint. */
static enum err_code etcd_pending_start(struct etcd_pending *p, struct err *e)
{
    struct etcd *c = p->c;
    if (p->easy != NULL) {
        curl_multi_remove_handle(curlloop_multi(c->cl), p->easy);
        curl_easy_cleanup(p->easy);
    }
    buf_reset(&p->answer);
    p->errbuf[0] = '\0';
    p->easy = curl_easy_init();
    if (p->easy == NULL)
        return err_set(e, ERR_SYS, "etcd: curl_easy_init failed");
    char url[512];
    snprintf(url, sizeof(url), "%s%s", c->url[c->cur], etcd_path(p->call));
    CURL *easy = p->easy;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, p->hdrs);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(c->timeout_ms < ETCD_CONNECT_TIMEOUT_MS
                                ? c->timeout_ms
                                : ETCD_CONNECT_TIMEOUT_MS));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, etcd_write_cb);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, p->errbuf);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, p);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "drover");
    if (curl_multi_add_handle(curlloop_multi(c->cl), easy) != CURLM_OK)
        return err_set(e, ERR_SYS, "etcd: cannot start the request");
    p->tries++;
    return ERR_OK;
}

/* The request surely did not reach the server. */
static bool etcd_not_sent(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_COULDNT_RESOLVE_PROXY;
}

/* A transfer ended: fail over, or parse and tell the caller. */
static void etcd_pending_done(CURL *easy, CURLcode rc, void *arg)
{
    struct etcd *c = arg;
    struct etcd_pending *p = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&p);
    if (p == NULL)
        return;
    struct err e = {0};
    struct etcd_reply r = {0};
    bool read_only = p->call == ETCD_RANGE || p->call == ETCD_KEEPALIVE;
    curl_off_t connected = 0;
    curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connected);
    if (rc != CURLE_OK &&
        (etcd_not_sent(rc) || read_only ||
         (rc == CURLE_OPERATION_TIMEDOUT && connected == 0)) &&
        p->tries < c->nurl) {
        log_warn("etcd: %s: %s; trying the next endpoint", c->url[c->cur],
                 p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
        c->cur = (c->cur + 1) % c->nurl;
        if (etcd_pending_start(p, &e) == ERR_OK)
            return;
    } else if (rc != CURLE_OK) {
        err_set(&e, ERR_UNREACHABLE, "etcd %s: %s%s", c->url[c->cur],
                p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc),
                read_only || etcd_not_sent(rc)
                    ? " (no endpoint answered)"
                    : " (the write's outcome is unknown)");
    } else {
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        etcd_parse(p->call, status,
                   p->answer.data != NULL ? p->answer.data : "", p->answer.len,
                   &r, &e);
    }
    etcd_done_fn *done = p->done;
    void *darg = p->arg;
    etcd_pending_free(p);
    done(c, &r, &e, darg);
    etcd_reply_release(&r);
}

struct etcd *etcd_new(struct loop *l, const char *endpoints, int64_t timeout_ms,
                      struct err *e)
{
    struct etcd *c = xcalloc(1, sizeof(*c));
    c->loop = l;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : ETCD_TIMEOUT_MS;
    const char *s = endpoints;
    while (s != NULL && *s != '\0') {
        const char *comma = strchr(s, ',');
        size_t n = comma != NULL ? (size_t)(comma - s) : strlen(s);
        if (n == 0 || n > 200 || c->nurl == ETCD_ENDPOINTS_MAX) {
            err_set(e, ERR_USAGE, "etcd endpoints \"%.80s\": %s", endpoints,
                    n == 0 ? "an empty endpoint" : "too many or too long");
            etcd_free(c);
            return NULL;
        }
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        if (strstr(s, "://") == NULL || strstr(s, "://") > s + n)
            buf_adds(&b, "http://");
        buf_add(&b, s, n);
        c->url[c->nurl++] = buf_detach(&b);
        s = comma != NULL ? comma + 1 : NULL;
    }
    if (c->nurl == 0) {
        err_set(e, ERR_USAGE, "no etcd endpoint given");
        etcd_free(c);
        return NULL;
    }
    c->cl = curlloop_new(l, etcd_pending_done, c, e);
    if (c->cl == NULL) {
        etcd_free(c);
        return NULL;
    }
    return c;
}

void etcd_free(struct etcd *c)
{
    if (c == NULL)
        return;
    while (c->pending != NULL)
        etcd_pending_free(c->pending);
    curlloop_free(c->cl);
    for (size_t i = 0; i < c->nurl; i++)
        free(c->url[i]);
    free(c);
}

const char *etcd_endpoint(const struct etcd *c)
{
    return c->url[c->cur];
}

enum err_code etcd_send(struct etcd *c, const struct etcd_req *q,
                        etcd_done_fn *done, void *arg, struct err *e)
{
    struct etcd_pending *p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->call = q->call;
    p->body = etcd_body(q);
    p->done = done;
    p->arg = arg;
    buf_init(&p->answer, ETCD_REPLY_MAX);
    p->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    p->next = c->pending;
    if (c->pending != NULL)
        c->pending->prev = p;
    c->pending = p;
    if (etcd_pending_start(p, e) != ERR_OK) {
        etcd_pending_free(p);
        return e->code;
    }
    return ERR_OK;
}

/* etcd_call's wait: the reply (or error) lands here. */
struct etcd_wait {
    bool over;            /* done was called */
    struct etcd_reply *r; /* where the reply goes */
    struct err e;         /* how it ended */
};

static void etcd_wait_done(struct etcd *c, struct etcd_reply *r,
                           const struct err *e, void *arg)
{
    (void)c;
    struct etcd_wait *w = arg;
    w->over = true;
    w->e = *e;
    /* move the reply's memory over: the caller releases it */
    *w->r = *r;
    memset(r, 0, sizeof(*r));
}

enum err_code etcd_call(struct etcd *c, const struct etcd_req *q,
                        struct etcd_reply *r, struct err *e)
{
    struct etcd_wait w = {.r = r};
    memset(r, 0, sizeof(*r));
    if (etcd_send(c, q, etcd_wait_done, &w, e) != ERR_OK)
        return e->code;
    while (!w.over)
        if (loop_run_once(c->loop, -1, e) != 0)
            return e->code;
    if (w.e.code != ERR_OK) {
        *e = w.e;
        return e->code;
    }
    return ERR_OK;
}
