/* coordinator/notify.c: webhook POSTs on a curl multi handle of their own
 * driven by the loop (coordinator/curlloop.c, as health.c does), so a slow
 * webhook never shares a connection cache or a deadline with probes;
 * finished transfers are judged in notify_done. */
#include "notify.h"

#include "buf.h"
#include "clock.h"
#include "curlloop.h"
#include "jsonout.h"
#include "log.h"
#include "loop.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NOTIFY_BODY_MAX = 4096 /* bytes of an answer kept */ };

struct notify_hook {
    char *url;       /* owned */
    char label[128]; /* scheme://host[:port], for logs */
    unsigned events; /* subscribed NOTIFY_* bits */
};

struct notify_req {
    struct notify *n;               /* owner */
    CURL *easy;                     /* the transfer */
    struct curl_slist *hdrs;        /* Content-Type */
    const struct notify_hook *hook; /* where it goes */
    enum notify_event ev;           /* what it says */
    struct buf answer;              /* response body, capped */
    struct notify_req *next;        /* in n->reqs */
    struct notify_req *prev;        /* in n->reqs */
    char errbuf[CURL_ERROR_SIZE];   /* curl's words */
};

struct notify {
    struct curlloop *cl;       /* the multi handle on the loop */
    CURLM *multi;              /* curlloop_multi(cl) */
    struct loop *loop;         /* drives it */
    struct notify_hook *hooks; /* subscribed webhooks */
    size_t nhooks;             /* entries in hooks */
    struct notify_req *reqs;   /* in flight */
    size_t ninflight;          /* entries in reqs */
    size_t failures;           /* deliveries that failed */
    int64_t timeout_ms;        /* per request */
};

static const char *const notify_words[] = {"start", "success", "failure",
                                           "rollback", "pause"};
enum { NOTIFY_NWORDS = sizeof(notify_words) / sizeof(notify_words[0]) };

const char *notify_event_str(enum notify_event ev)
{
    for (size_t i = 0; i < NOTIFY_NWORDS; i++)
        if ((unsigned)ev == 1u << i)
            return notify_words[i];
    return "?";
}

enum err_code notify_event_parse(const char *word, unsigned *bit, struct err *e)
{
    for (size_t i = 0; i < NOTIFY_NWORDS; i++)
        if (strcmp(word, notify_words[i]) == 0) {
            *bit = 1u << i;
            return ERR_OK;
        }
    return err_set(e, ERR_INVALID,
                   "notify event '%s' is not one of start, success, failure, "
                   "rollback, pause",
                   word);
}

static void notify_done(CURL *easy, CURLcode rc, void *arg);

static size_t notify_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    struct notify_req *r = arg;
    /* the answer only matters for a log line: keep the start, drop the
     * rest without failing the transfer */
    buf_add(&r->answer, data, size * nmemb);
    return size * nmemb;
}

/* --- lifecycle ------------------------------------------------------------
 */

struct notify *notify_new(struct loop *l, struct err *e)
{
    struct notify *n = xcalloc(1, sizeof(*n));
    n->loop = l;
    n->timeout_ms = NOTIFY_TIMEOUT_MS;
    n->cl = curlloop_new(l, notify_done, n, e);
    if (n->cl == NULL) {
        free(n);
        return NULL;
    }
    n->multi = curlloop_multi(n->cl);
    return n;
}

static void notify_req_free(struct notify_req *r)
{
    struct notify *n = r->n;
    if (r->easy != NULL) {
        curl_multi_remove_handle(n->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->hdrs);
    buf_release(&r->answer);
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        n->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    n->ninflight--;
    free(r);
}

void notify_free(struct notify *n)
{
    if (n == NULL)
        return;
    while (n->reqs != NULL)
        notify_req_free(n->reqs);
    curlloop_free(n->cl);
    for (size_t i = 0; i < n->nhooks; i++) {
        explicit_bzero(n->hooks[i].url, strlen(n->hooks[i].url));
        free(n->hooks[i].url);
    }
    free(n->hooks);
    free(n);
}

void notify_set_timeout(struct notify *n, int64_t ms)
{
    n->timeout_ms = ms > 0 ? ms : NOTIFY_TIMEOUT_MS;
}

size_t notify_inflight(const struct notify *n)
{
    return n->ninflight;
}

size_t notify_failures(const struct notify *n)
{
    return n->failures;
}

enum err_code notify_add(struct notify *n, const char *url, unsigned events,
                         struct err *e)
{
    const char *rest = NULL;
    if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    if (rest == NULL || *rest == '\0' || *rest == '/')
        return err_set(e, ERR_INVALID,
                       "notify: webhook must be an http:// or https:// URL "
                       "with a host");
    n->hooks = xrealloc(n->hooks, (n->nhooks + 1) * sizeof(*n->hooks));
    struct notify_hook *h = &n->hooks[n->nhooks++];
    h->url = xstrdup(url);
    h->events = events != 0 ? events : NOTIFY_ALL;
    /* scheme://host[:port] without user info: the path and the query
     * often are the secret (Slack, Teams webhooks) */
    size_t hn = strcspn(rest, "/?#");
    const char *at = memchr(rest, '@', hn);
    const char *host = at != NULL ? at + 1 : rest;
    snprintf(h->label, sizeof(h->label), "%.*s%.*s", (int)(rest - url), url,
             (int)(hn - (size_t)(host - rest)), host);
    return ERR_OK;
}

/* --- sending --------------------------------------------------------------
 */

static char *notify_body(enum notify_event ev, const struct notify_info *in)
{
    struct buf text;
    buf_init(&text, BUF_UNLIMITED);
    if (in->text != NULL) {
        buf_adds(&text, in->text);
    } else {
        static const char *const verbs[] = {"started", "succeeded", "failed",
                                            "rolled back", "is paused"};
        size_t v = ev == NOTIFY_START      ? 0
                   : ev == NOTIFY_SUCCESS  ? 1
                   : ev == NOTIFY_FAILURE  ? 2
                   : ev == NOTIFY_ROLLBACK ? 3
                                           : 4;
        buf_printf(&text, "drover: deploy %s of %s %s %s",
                   in->deploy ? in->deploy : "?", in->plan ? in->plan : "?",
                   in->version ? in->version : "", verbs[v]);
        if (in->user != NULL)
            buf_printf(&text, " (by %s)", in->user);
        if (in->result != NULL && *in->result != '\0' && ev != NOTIFY_START)
            buf_printf(&text, ": %s", in->result);
    }
    json_t *o = json_object();
    json_object_set_new(o, "text", json_string(buf_cstr(&text)));
    json_object_set_new(o, "event", json_string(notify_event_str(ev)));
    if (in->deploy != NULL)
        json_object_set_new(o, "deploy", json_string(in->deploy));
    if (in->plan != NULL)
        json_object_set_new(o, "plan", json_string(in->plan));
    if (in->version != NULL)
        json_object_set_new(o, "version", json_string(in->version));
    if (in->user != NULL)
        json_object_set_new(o, "user", json_string(in->user));
    if (in->result != NULL && *in->result != '\0')
        json_object_set_new(o, "result", json_string(in->result));
    buf_release(&text);
    /* string by string, as every JSON drover sends (jsonout.h): a pass
     * over the encoded body would let a to-the-end-of-line rule eat the
     * closing quotes */
    jsonout_scrub(o);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s == NULL)
        return xstrdup("{\"text\":\"drover: notification\"}");
    return s;
}

void notify_send(struct notify *n, enum notify_event ev,
                 const struct notify_info *in)
{
    char *body = NULL;
    for (size_t i = 0; i < n->nhooks; i++) {
        const struct notify_hook *h = &n->hooks[i];
        if (!(h->events & (unsigned)ev))
            continue;
        if (body == NULL)
            body = notify_body(ev, in);
        CURL *easy = curl_easy_init();
        if (easy == NULL) {
            n->failures++;
            log_warn("notify %s: %s: curl_easy_init failed", h->label,
                     notify_event_str(ev));
            continue;
        }
        struct notify_req *r = xcalloc(1, sizeof(*r));
        r->n = n;
        r->easy = easy;
        r->hook = h;
        r->ev = ev;
        buf_init(&r->answer, NOTIFY_BODY_MAX);
        r->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(easy, CURLOPT_URL, h->url);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, r->hdrs);
        curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)n->timeout_ms);
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(n->timeout_ms < NOTIFY_CONNECT_TIMEOUT_MS
                                    ? n->timeout_ms
                                    : NOTIFY_CONNECT_TIMEOUT_MS));
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, notify_write_cb);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->errbuf);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, r);
        curl_easy_setopt(easy, CURLOPT_USERAGENT, "drover");
        r->next = n->reqs;
        if (n->reqs != NULL)
            n->reqs->prev = r;
        n->reqs = r;
        n->ninflight++;
        if (curl_multi_add_handle(n->multi, easy) != CURLM_OK) {
            n->failures++;
            log_warn("notify %s: %s: cannot start the request", h->label,
                     notify_event_str(ev));
            notify_req_free(r);
        }
    }
    free(body);
}

/* A request ended: log how (never an error for the deploy). */
static void notify_done(CURL *easy, CURLcode rc, void *arg)
{
    struct notify *n = arg;
    struct notify_req *r = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
    if (r == NULL)
        return;
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        n->failures++;
        log_warn("notify %s: %s not delivered: %s (the deploy goes on)",
                 r->hook->label, notify_event_str(r->ev),
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
    } else if (status < 200 || status > 299) {
        n->failures++;
        log_warn("notify %s: %s not delivered: status %ld: %.120s (the "
                 "deploy goes on)",
                 r->hook->label, notify_event_str(r->ev), status,
                 buf_cstr(&r->answer));
    } else {
        log_debug("notify %s: %s delivered (status %ld)", r->hook->label,
                  notify_event_str(r->ev), status);
    }
    notify_req_free(r);
}

enum err_code notify_flush(struct notify *n, int64_t max_ms, struct err *e)
{
    int64_t deadline = clock_mono_ms() + max_ms;
    while (n->ninflight > 0) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            break;
        if (loop_run_once(n->loop, left, e) != 0)
            return e->code;
    }
    while (n->reqs != NULL) {
        n->failures++;
        log_warn("notify %s: %s abandoned after %lldms (the deploy goes on)",
                 n->reqs->hook->label, notify_event_str(n->reqs->ev),
                 (long long)max_ms);
        notify_req_free(n->reqs);
    }
    return ERR_OK;
}
