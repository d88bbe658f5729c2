/* coordinator/health.h: HTTP health probes through libcurl's multi
 * interface, driven by the common loop (CURLMOPT_SOCKETFUNCTION and
 * CURLMOPT_TIMERFUNCTION; no threads, no curl_multi_wait). One probe is one
 * request with a verdict: pass, not yet (503, connection refused: the host
 * is still starting) or fail. Redirects are never followed. */
#ifndef DROVER_HEALTH_H
#define DROVER_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct loop;
struct health;
struct probe;

/* A json equality of an http check: the value at key (a dotted path into
 * the body's JSON object, "status" or "app.db") must read value. Strings
 * compare as they are; numbers, true, false and null by their JSON text. */
struct check_json {
    const char *key;   /* dotted path */
    const char *value; /* expected value */
};

/* One range of statuses that pass: [lo, hi] (lo == hi: one code). */
struct check_status {
    long lo; /* lowest */
    long hi; /* highest */
};

/* One HTTP check, already templated for its host (strings borrowed for
 * the duration of the probe; check_http.c renders it). Only http is
 * required; every other field left zero keeps its default. Body conditions are
 * judged only once the status has passed, in the order json, body_contains,
 * body_regex, version. */
struct check_spec {
    const char *http;              /* URL to request */
    long expect_status;            /* status that passes; 0 means 200 */
    long expect_status_max;        /* with expect_status, a range
                                      [expect_status, max]; 0: exact */
    int64_t timeout_ms;            /* whole request; 0 means
                                      HEALTH_DEFAULT_TIMEOUT_MS */
    int64_t connect_timeout_ms;    /* TCP (+TLS) connect; 0 means
                                      min(timeout, default connect) */
    const char *method;            /* "GET" when NULL; "HEAD" has no body */
    const char *const *headers;    /* "Name: value" lines sent */
    size_t nheaders;               /* entries in headers */
    const struct check_json *json; /* equalities on the JSON body */
    size_t njson;                  /* entries in json */
    const char *body_contains;     /* substring the body must hold */
    const char *body_regex;        /* POSIX extended regex the body must
                                      match */
    const char *version;           /* the version the host must serve: the
                                      body's JSON "version" field, or the
                                      whole body trimmed */
    const char *label;             /* name in evidence; NULL: URL path */

    /* expect.status as a list: with nstatuses > 0 any of these ranges
     * passes, and expect_status is not consulted */
    const struct check_status *statuses;
    size_t nstatuses;         /* entries in statuses */
    const char *expect_words; /* the list in the plan's words, for evidence
                                 ("200, 204 or 3xx"); NULL: none */
};

enum {
    HEALTH_DEFAULT_TIMEOUT_MS = 5000,
    HEALTH_DEFAULT_CONNECT_TIMEOUT_MS = 2000,
    HEALTH_BODY_MAX = 64 * 1024
};

enum probe_verdict {
    PROBE_PASS,    /* the expected answer */
    PROBE_NOT_YET, /* 503, connection refused, timeout: may still come up */
    PROBE_FAIL     /* any other answer: wrong status, redirect, bad URL */
};

/* The evidence of one probe. */
struct probe_result {
    enum probe_verdict verdict; /* what it means */
    long status;                /* HTTP status, 0 if none */
    int64_t latency_ms;         /* request time */
    char reason[160];           /* "status 503", "connection refused", ... */
    const char *body;           /* the body (NUL-terminated, at most
                                   HEALTH_BODY_MAX bytes); borrowed during
                                   the callback only, "" if none */
    size_t body_len;            /* bytes in body */
    bool body_capped;           /* the body was longer and was cut */
};

typedef void probe_done_fn(const struct probe_result *r, void *arg);

/* curl multi on loop l; NULL with e set on failure. */
struct health *health_new(struct loop *l, struct err *e);
/* Cancels outstanding probes without calling back. NULL is a no-op. Not
 * from inside a probe callback. */
void health_free(struct health *h);

/* Probes in flight (tests, accounting). */
size_t health_inflight(const struct health *h);

/* The words of a verdict: "pass", "not yet", "fail". */
const char *probe_verdict_str(enum probe_verdict v);

/* The name of a check in evidence: its label, else its URL's path
 * ("/health/ready"; never credentials or the query), into out. */
const char *health_check_label(const struct check_spec *c, char *out,
                               size_t outlen);

/* Start one probe; fn is called exactly once, from the loop (never from
 * inside health_probe), unless the probe is cancelled first. The probe is
 * freed after fn returns; fn may start and cancel other probes. Never
 * NULL: a bad spec is reported through fn as PROBE_FAIL. */
struct probe *health_probe(struct health *h, const struct check_spec *c,
                           probe_done_fn *fn, void *arg);
/* Abandon a probe in flight; fn is not called. */
void probe_cancel(struct probe *p);

#endif
