/* coordinator/health.c: HTTP health probes on one curl multi handle driven
 * by the common loop (coordinator/curlloop.c); finished transfers are
 * judged (health_judge) and reported from health_done. The multi handle
 * keeps its connection cache, so a gate's probes of one host reuse a
 * connection. */
#include "health.h"

#include "buf.h"
#include "clock.h"
#include "curlloop.h"
#include "err.h"
#include "log.h"
#include "loop.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    HEALTH_IDLE_EASY_MAX = 256, /* easy handles kept for reuse */
    HEALTH_REDIRECT_MAX = 96    /* bytes of a Location shown in a reason */
};

struct health {
    struct curlloop *cl;              /* the multi handle on the loop */
    CURLM *multi;                     /* curlloop_multi(cl) */
    struct loop *loop;                /* drives it */
    struct probe *probes;             /* in flight, doubly linked */
    size_t ninflight;                 /* probes in the list */
    CURL *idle[HEALTH_IDLE_EASY_MAX]; /* easy handles ready for reuse */
    size_t nidle;                     /* entries in idle */
};

struct probe {
    struct health *h;             /* owner */
    CURL *easy;                   /* the transfer, NULL when reported early */
    bool added;                   /* easy is in the multi handle */
    struct check_spec spec;       /* shallow copy; strings borrowed */
    struct curl_slist *hdrs;      /* request headers */
    struct buf body;              /* response body, capped */
    probe_done_fn *fn;            /* completion */
    void *arg;                    /* passed to fn */
    int64_t started_ms;           /* monotonic start */
    struct loop_timer early;      /* reports a spec error from the loop */
    struct probe_result res;      /* the early verdict */
    struct probe *prev;           /* in h->probes */
    struct probe *next;           /* in h->probes */
    char errbuf[CURL_ERROR_SIZE]; /* curl's words for a failure */
};

const char *probe_verdict_str(enum probe_verdict v)
{
    switch (v) {
    case PROBE_PASS:
        return "pass";
    case PROBE_NOT_YET:
        return "not yet";
    case PROBE_FAIL:
        return "fail";
    }
    return "?";
}

size_t health_inflight(const struct health *h)
{
    return h->ninflight;
}

const char *health_check_label(const struct check_spec *c, char *out,
                               size_t outlen)
{
    if (c->label != NULL) {
        snprintf(out, outlen, "%s", c->label);
        return out;
    }
    const char *u = c->http != NULL ? c->http : "";
    const char *p = strstr(u, "://");
    p = p != NULL ? strchr(p + 3, '/') : NULL;
    if (p == NULL) {
        snprintf(out, outlen, "/");
        return out;
    }
    size_t n = strcspn(p, "?#");
    snprintf(out, outlen, "%.*s", (int)n, p);
    return out;
}

static size_t health_write_cb(char *data, size_t size, size_t n, void *arg)
{
    struct probe *p = arg;
    /* Past the cap the transfer stops (a write error curl reports as
     * CURLE_WRITE_ERROR); the verdict then uses what was kept. */
    if (!buf_add(&p->body, data, size * n))
        return 0;
    return size * n;
}

/* --- lifecycle ----------------------------------------------------------- */

static void health_done(CURL *easy, CURLcode rc, void *arg);

struct health *health_new(struct loop *l, struct err *e)
{
    struct health *h = xcalloc(1, sizeof(*h));
    h->loop = l;
    h->cl = curlloop_new(l, health_done, h, e);
    if (h->cl == NULL) {
        free(h);
        return NULL;
    }
    h->multi = curlloop_multi(h->cl);
    return h;
}

/* Unlink and free p; its easy handle goes back to the idle list. */
static void health_probe_free(struct probe *p)
{
    struct health *h = p->h;
    loop_timer_stop(h->loop, &p->early);
    if (p->easy != NULL) {
        if (p->added)
            curl_multi_remove_handle(h->multi, p->easy);
        if (h->nidle < HEALTH_IDLE_EASY_MAX)
            h->idle[h->nidle++] = p->easy;
        else
            curl_easy_cleanup(p->easy);
    }
    curl_slist_free_all(p->hdrs);
    buf_release(&p->body);
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        h->probes = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    h->ninflight--;
    free(p);
}

void health_free(struct health *h)
{
    if (h == NULL)
        return;
    while (h->probes != NULL)
        health_probe_free(h->probes);
    for (size_t i = 0; i < h->nidle; i++)
        curl_easy_cleanup(h->idle[i]);
    curlloop_free(h->cl);
    free(h);
}

void probe_cancel(struct probe *p)
{
    if (p != NULL)
        health_probe_free(p);
}

/* --- judging ------------------------------------------------------------- */

static void health_reason(struct probe_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void health_reason(struct probe_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
}

/* The JSON text of v for comparison: strings bare, others encoded. */
static char *health_json_text(const json_t *v)
{
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    return s != NULL ? s : xstrdup("?");
}

/* Follow a dotted path in an object; NULL when absent. */
static json_t *health_json_get(json_t *root, const char *path)
{
    json_t *cur = root;
    const char *p = path;
    while (cur != NULL) {
        size_t n = strcspn(p, ".");
        char key[128];
        if (n >= sizeof(key) || !json_is_object(cur))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        if (p[n] == '\0')
            return cur;
        p += n + 1;
    }
    return NULL;
}

/* Body conditions, once the status passed: false with r's reason set. */
static bool health_judge_body(const struct check_spec *c, const char *body,
                              size_t len, struct probe_result *r)
{
    json_t *root = NULL;
    bool parsed = false, ok = true;
    if (c->njson > 0 || c->version != NULL) {
        json_error_t jerr;
        root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
        parsed = root != NULL;
        if (c->njson > 0 && !json_is_object(root)) {
            health_reason(r, "body is not a JSON object%s%s",
                          parsed ? "" : ": ", parsed ? "" : jerr.text);
            json_decref(root);
            return false;
        }
    }
    for (size_t i = 0; ok && i < c->njson; i++) {
        json_t *v = health_json_get(root, c->json[i].key);
        if (v == NULL) {
            health_reason(r, "json %s: missing (want \"%s\")", c->json[i].key,
                          c->json[i].value);
            ok = false;
            break;
        }
        char *got = health_json_text(v);
        if (strcmp(got, c->json[i].value) != 0) {
            health_reason(r, "json %s: \"%.40s\" (want \"%s\")", c->json[i].key,
                          got, c->json[i].value);
            ok = false;
        }
        free(got);
    }
    if (ok && c->body_contains != NULL &&
        strstr(body, c->body_contains) == NULL) {
        health_reason(r, "body lacks \"%s\"", c->body_contains);
        ok = false;
    }
    if (ok && c->body_regex != NULL) {
        regex_t re;
        int rc = regcomp(&re, c->body_regex, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[80];
            regerror(rc, &re, msg, sizeof(msg));
            health_reason(r, "bad body_regex: %s", msg);
            ok = false;
        } else {
            if (regexec(&re, body, 0, NULL, 0) != 0) {
                health_reason(r, "body does not match /%.60s/", c->body_regex);
                ok = false;
            }
            regfree(&re);
        }
    }
    if (ok && c->version != NULL) {
        json_t *v =
            json_is_object(root) ? json_object_get(root, "version") : NULL;
        char *got;
        if (v != NULL) {
            got = health_json_text(v);
        } else {
            size_t a = 0, b = len;
            while (a < b && strchr(" \t\r\n", body[a]) != NULL)
                a++;
            while (b > a && strchr(" \t\r\n", body[b - 1]) != NULL)
                b--;
            got = xstrndup(body + a, b - a);
        }
        if (strcmp(got, c->version) != 0) {
            health_reason(r, "version \"%.40s\" (want \"%s\")", got,
                          c->version);
            ok = false;
        }
        free(got);
    }
    json_decref(root);
    return ok;
}

/* Whether status passes c: in its list, else in [expect_status, max]. */
static bool health_status_ok(const struct check_spec *c, long status)
{
    for (size_t i = 0; i < c->nstatuses; i++)
        if (status >= c->statuses[i].lo && status <= c->statuses[i].hi)
            return true;
    if (c->nstatuses > 0)
        return false;
    long lo = c->expect_status ? c->expect_status : 200;
    long hi = c->expect_status_max ? c->expect_status_max : lo;
    return status >= lo && status <= hi;
}

/* Whether a transfer that ended in rc reached a server that answered
 * with something other than HTTP. Once connected, curl's "unsupported
 * protocol" is its refusal of the answer ("Received HTTP/0.9 when not
 * allowed": no status line), not a fault of the URL. */
static bool health_not_http(struct probe *p, CURLcode rc)
{
    if (rc == CURLE_WEIRD_SERVER_REPLY)
        return true;
    char *ip = NULL;
    curl_easy_getinfo(p->easy, CURLINFO_PRIMARY_IP, &ip);
    return rc == CURLE_UNSUPPORTED_PROTOCOL && ip != NULL && *ip != '\0';
}

/* The verdict of a finished transfer. */
static void health_judge(struct probe *p, CURLcode rc, struct probe_result *r)
{
    const struct check_spec *c = &p->spec;
    long lo = c->expect_status ? c->expect_status : 200;
    long hi = c->expect_status_max ? c->expect_status_max : lo;
    bool capped = p->body.dropped > 0;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &r->status);

    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && capped)) {
        if (health_status_ok(c, r->status)) {
            r->verdict = PROBE_PASS;
            health_reason(r, "status %ld", r->status);
            if (!health_judge_body(c, buf_cstr(&p->body), p->body.len, r))
                r->verdict = PROBE_FAIL;
        } else if (r->status == 503) {
            r->verdict = PROBE_NOT_YET;
            health_reason(r, "status 503");
        } else if (r->status >= 300 && r->status < 400) {
            /* Only the path of the target: a full URL may carry
             * credentials copied from the check's URL. */
            char *loc = NULL, where[HEALTH_REDIRECT_MAX] = "";
            curl_easy_getinfo(p->easy, CURLINFO_REDIRECT_URL, &loc);
            if (loc != NULL) {
                struct check_spec tmp = {.http = loc};
                health_check_label(&tmp, where, sizeof(where));
            }
            r->verdict = PROBE_FAIL;
            health_reason(r, "redirect %ld to %s (not followed)", r->status,
                          where[0] ? where : "?");
        } else {
            r->verdict = PROBE_FAIL;
            if (c->nstatuses > 0)
                health_reason(r, "expected %s, got %ld",
                              c->expect_words ? c->expect_words
                                              : "another status",
                              r->status);
            else if (lo == hi)
                health_reason(r, "status %ld (want %ld)", r->status, lo);
            else
                health_reason(r, "status %ld (want %ld-%ld)", r->status, lo,
                              hi);
        }
        if (capped) {
            size_t n = strlen(r->reason);
            snprintf(r->reason + n, sizeof(r->reason) - n,
                     " (body cut at %d bytes)", HEALTH_BODY_MAX);
        }
        return;
    }
    long oserr = 0;
    curl_easy_getinfo(p->easy, CURLINFO_OS_ERRNO, &oserr);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        r->verdict = PROBE_NOT_YET;
        if (oserr == ECONNREFUSED)
            health_reason(r, "connection refused");
        else
            health_reason(r, "cannot connect: %s",
                          oserr ? strerror((int)oserr) : p->errbuf);
        break;
    case CURLE_OPERATION_TIMEDOUT: {
        /* A reused connection has no connect time; a request that went
         * out has a pretransfer time. */
        curl_off_t connected = 0, sent = 0;
        curl_easy_getinfo(p->easy, CURLINFO_CONNECT_TIME_T, &connected);
        curl_easy_getinfo(p->easy, CURLINFO_PRETRANSFER_TIME_T, &sent);
        connected += sent;
        r->verdict = PROBE_NOT_YET;
        if (connected == 0)
            health_reason(r, "no connection within %lldms",
                          (long long)c->connect_timeout_ms);
        else
            health_reason(r, "no answer within %lldms",
                          (long long)c->timeout_ms);
        break;
    }
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_WEIRD_SERVER_REPLY:
        r->verdict = PROBE_FAIL;
        if (health_not_http(p, rc))
            health_reason(r, "the server did not answer with HTTP (%s)",
                          p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
        else
            health_reason(r, "bad URL: %s",
                          p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
        break;
    default:
        r->verdict = PROBE_FAIL;
        health_reason(r, "%s",
                      p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
        break;
    }
}

/* Report a finished transfer. The callback may start and cancel probes. */
static void health_done(CURL *easy, CURLcode rc, void *arg)
{
    struct health *h = arg;
    struct probe *p = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&p);
    if (p == NULL)
        return;
    struct probe_result r;
    memset(&r, 0, sizeof(r));
    health_judge(p, rc, &r);
    r.latency_ms = clock_mono_ms() - p->started_ms;
    r.body = buf_cstr(&p->body);
    r.body_len = p->body.len;
    r.body_capped = p->body.dropped > 0;
    curl_multi_remove_handle(h->multi, easy);
    p->added = false;
    if (log_get_level() >= LOG_DEBUG) {
        /* The path only: a URL may carry credentials. */
        char lbl[96];
        log_debug("probe %s: %s (%s, %lldms)",
                  health_check_label(&p->spec, lbl, sizeof(lbl)),
                  probe_verdict_str(r.verdict), r.reason,
                  (long long)r.latency_ms);
    }
    p->fn(&r, p->arg);
    health_probe_free(p);
}

/* --- starting ------------------------------------------------------------ */

static void health_early_fire(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct probe *p = arg;
    p->res.body = "";
    p->fn(&p->res, p->arg);
    health_probe_free(p);
}

/* Report a spec error through the loop, as the contract promises. */
static struct probe *health_fail_early(struct probe *p, const char *why)
{
    p->res.verdict = PROBE_FAIL;
    health_reason(&p->res, "%s", why);
    loop_timer_start(p->h->loop, &p->early, 0);
    return p;
}

static CURL *health_easy_get(struct health *h)
{
    if (h->nidle > 0) {
        CURL *e = h->idle[--h->nidle];
        curl_easy_reset(e);
        return e;
    }
    return curl_easy_init();
}

struct probe *health_probe(struct health *h, const struct check_spec *c,
                           probe_done_fn *fn, void *arg)
{
    struct probe *p = xcalloc(1, sizeof(*p));
    p->h = h;
    p->spec = *c;
    p->fn = fn;
    p->arg = arg;
    p->started_ms = clock_mono_ms();
    buf_init(&p->body, HEALTH_BODY_MAX);
    loop_timer_init(&p->early, health_early_fire, p);
    p->next = h->probes;
    if (h->probes != NULL)
        h->probes->prev = p;
    h->probes = p;
    h->ninflight++;

    struct check_spec *s = &p->spec;
    if (s->timeout_ms <= 0)
        s->timeout_ms = HEALTH_DEFAULT_TIMEOUT_MS;
    if (s->connect_timeout_ms <= 0)
        s->connect_timeout_ms =
            s->timeout_ms < HEALTH_DEFAULT_CONNECT_TIMEOUT_MS
                ? s->timeout_ms
                : HEALTH_DEFAULT_CONNECT_TIMEOUT_MS;
    if (s->http == NULL || s->http[0] == '\0')
        return health_fail_early(p, "bad URL: empty");
    p->easy = health_easy_get(h);
    if (p->easy == NULL)
        return health_fail_early(p, "curl_easy_init failed");

    CURL *e = p->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_setopt(e, CURLOPT_URL, s->http) != CURLE_OK)
        return health_fail_early(p, "bad URL: too long");
    if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        return health_fail_early(p, "curl lacks http/https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* Health is judged on the host itself, never through a proxy from the
     * coordinator's environment. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "drover-health/1");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, health_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    if (s->method != NULL && strcmp(s->method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (s->method != NULL && strcmp(s->method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->method);
    for (size_t i = 0; i < s->nheaders; i++) {
        struct curl_slist *n = curl_slist_append(p->hdrs, s->headers[i]);
        if (n == NULL)
            return health_fail_early(p, "cannot add a header");
        p->hdrs = n;
    }
    if (p->hdrs != NULL)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->hdrs);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
        return health_fail_early(p, "curl_multi_add_handle failed");
    p->added = true;
    return p;
}
