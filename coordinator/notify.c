/* coordinator/notify.c: webhook POSTs on one curl multi handle driven by
 * the loop: curl says which sockets to watch (notify_sock_cb) and when to
 * wake it (notify_timer_cb); finished transfers are judged in
 * notify_drain. The same pattern as health.c, kept separate so a slow
 * webhook never shares a connection cache or a deadline with probes. */
#include "notify.h"

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "loop.h"
#include "redact.h"

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

struct notify_sock {
    struct loop_io io;        /* its loop item */
    struct notify *n;         /* owner */
    curl_socket_t fd;         /* the socket */
    struct notify_sock *next; /* in n->socks */
    struct notify_sock *prev; /* in n->socks */
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
    CURLM *multi;              /* the one multi handle */
    struct loop *loop;         /* drives it */
    struct loop_timer timer;   /* curl's timeout */
    struct notify_hook *hooks; /* subscribed webhooks */
    size_t nhooks;             /* entries in hooks */
    struct notify_sock *socks; /* watched sockets */
    struct notify_req *reqs;   /* in flight */
    size_t ninflight;          /* entries in reqs */
    size_t failures;           /* deliveries that failed */
    int64_t timeout_ms;        /* per request */
};

static const char *const notify_words[] = {"start", "success", "failure",
                                           "rollback"};

const char *notify_event_str(enum notify_event ev)
{
    for (size_t i = 0; i < 4; i++)
        if ((unsigned)ev == 1u << i)
            return notify_words[i];
    return "?";
}

enum err_code notify_event_parse(const char *word, unsigned *bit, struct err *e)
{
    for (size_t i = 0; i < 4; i++)
        if (strcmp(word, notify_words[i]) == 0) {
            *bit = 1u << i;
            return ERR_OK;
        }
    return err_set(e, ERR_INVALID,
                   "notify: unknown event '%s' (use start, success, failure, "
                   "rollback)",
                   word);
}

static void notify_drain(struct notify *n);

/* --- curl callbacks -------------------------------------------------------
 */

static void notify_sock_free(struct notify_sock *s)
{
    struct notify *n = s->n;
    loop_io_stop(n->loop, &s->io);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        n->socks = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    free(s);
}

static void notify_sock_ready(struct loop *l, struct loop_io *io,
                              unsigned revents, void *arg)
{
    (void)l;
    (void)io;
    struct notify_sock *s = arg;
    struct notify *n = s->n;
    int ev = 0;
    if (revents & LOOP_READ)
        ev |= CURL_CSELECT_IN;
    if (revents & LOOP_WRITE)
        ev |= CURL_CSELECT_OUT;
    if (revents & LOOP_ERROR)
        ev |= CURL_CSELECT_ERR;
    int running;
    /* s may be freed inside (CURL_POLL_REMOVE) */
    curl_multi_socket_action(n->multi, s->fd, ev, &running);
    notify_drain(n);
}

static int notify_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
                          void *socketp)
{
    (void)easy;
    struct notify *n = userp;
    struct notify_sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            curl_multi_assign(n->multi, fd, NULL);
            notify_sock_free(s);
        }
        return 0;
    }
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->n = n;
        s->fd = fd;
        loop_io_init_fd(&s->io, fd, notify_sock_ready, s);
        s->next = n->socks;
        if (n->socks != NULL)
            n->socks->prev = s;
        n->socks = s;
        curl_multi_assign(n->multi, fd, s);
    }
    unsigned ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= LOOP_READ;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= LOOP_WRITE;
    loop_io_start(n->loop, &s->io, ev);
    return 0;
}

static void notify_timer_fire(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct notify *n = arg;
    int running;
    curl_multi_socket_action(n->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    notify_drain(n);
}

static int notify_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct notify *n = userp;
    if (timeout_ms < 0)
        loop_timer_stop(n->loop, &n->timer);
    else
        loop_timer_start(n->loop, &n->timer, timeout_ms);
    return 0;
}

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
    static bool global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            err_set(e, ERR_SYS, "notify: curl_global_init failed");
            return NULL;
        }
        global_done = true;
    }
    struct notify *n = xcalloc(1, sizeof(*n));
    n->loop = l;
    n->timeout_ms = NOTIFY_TIMEOUT_MS;
    n->multi = curl_multi_init();
    if (n->multi == NULL) {
        free(n);
        err_set(e, ERR_SYS, "notify: curl_multi_init failed");
        return NULL;
    }
    loop_timer_init(&n->timer, notify_timer_fire, n);
    curl_multi_setopt(n->multi, CURLMOPT_SOCKETFUNCTION, notify_sock_cb);
    curl_multi_setopt(n->multi, CURLMOPT_SOCKETDATA, n);
    curl_multi_setopt(n->multi, CURLMOPT_TIMERFUNCTION, notify_timer_cb);
    curl_multi_setopt(n->multi, CURLMOPT_TIMERDATA, n);
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
    curl_multi_cleanup(n->multi);
    while (n->socks != NULL)
        notify_sock_free(n->socks);
    loop_timer_stop(n->loop, &n->timer);
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
                                            "is rolling back"};
        size_t v = ev == NOTIFY_START     ? 0
                   : ev == NOTIFY_SUCCESS ? 1
                   : ev == NOTIFY_FAILURE ? 2
                                          : 3;
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
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s == NULL)
        return xstrdup("{\"text\":\"drover: notification\"}");
    /* redact the encoded body: JSON-escaped forms are registered too */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_adds(&b, s);
    free(s);
    redact_buf(redact_global(), &b);
    redact_patterns(&b);
    return buf_detach(&b);
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

static void notify_drain(struct notify *n)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(n->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct notify_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r == NULL)
            continue;
        CURLcode rc = m->data.result;
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
