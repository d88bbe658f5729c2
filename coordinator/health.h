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

/* One check, already templated for its host (strings borrowed for the
 * duration of the probe or gate). */
struct check_spec {
    const char *http;   /* URL to GET */
    long expect_status; /* status that passes; 0 means 200 */
    int64_t timeout_ms; /* whole request; 0 means HEALTH_DEFAULT_TIMEOUT_MS */
};

enum { HEALTH_DEFAULT_TIMEOUT_MS = 5000, HEALTH_BODY_MAX = 64 * 1024 };

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
};

typedef void probe_done_fn(const struct probe_result *r, void *arg);

/* curl multi on loop l; NULL with e set on failure. */
struct health *health_new(struct loop *l, struct err *e);
/* Cancels outstanding probes without calling back. NULL is a no-op. */
void health_free(struct health *h);

/* Start one probe; fn is called exactly once, from the loop (never from
 * inside health_probe), unless the probe is cancelled first. */
struct probe *health_probe(struct health *h, const struct check_spec *c,
                           probe_done_fn *fn, void *arg);
/* Abandon a probe in flight; fn is not called. */
void probe_cancel(struct probe *p);

#endif
