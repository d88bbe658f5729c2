/* coordinator/check_http.h: the http check kind: an HTTP request from the
 * coordinator, judged on its status and body by health.c (docs/health.md).
 * Its keys: http (the URL), method, headers, expect (status, json, body,
 * body_regex, version). */
#ifndef DROVER_CHECK_HTTP_H
#define DROVER_CHECK_HTTP_H

#include "check.h"
#include "health.h"

#include <jansson.h>
#include <stdbool.h>

struct plan_check;

/* One element of an expect.status list: a code (lo == hi), a range, or a
 * class ("3xx": cls, lo 300, hi 399). */
struct check_http_status {
    long lo;  /* lowest status that passes */
    long hi;  /* highest */
    bool cls; /* written as a class, shown as one */
};

/* The keys of an http check as the plan writes them (plan_check.data). */
struct check_http {
    char *http;              /* URL template */
    long expect_status;      /* status that passes; default 200 */
    long expect_status_max;  /* with expect_status, a range; 0: exact */
    char *method;            /* HTTP method; NULL: GET */
    json_t *headers;         /* object: header -> value template, or NULL */
    json_t *expect_json;     /* object: field -> expected value, or NULL */
    char *expect_body;       /* substring the body must hold, or NULL */
    char *expect_body_regex; /* POSIX extended regex the body must match, or
                                NULL */
    char *expect_version;    /* version template the host must serve */

    /* expect.status as a list: any element passes (expect_status and
     * expect_status_max hold the first); NULL for a single value */
    struct check_http_status *statuses;
    size_t nstatuses; /* elements of statuses */
};

/* An http check rendered for one host (rollout_check.host). */
struct check_http_host {
    struct check_spec spec; /* what health_probe takes; its strings are
                               the fields below or the plan's */
    char *url;              /* rendered URL */
    char **headers;         /* "Name: value" lines */
    size_t nheaders;        /* entries in headers */
    char *version;          /* rendered expected version, or NULL */
    char *body;             /* rendered expect.body, or NULL */
    json_t *json;           /* expect.json with every string value rendered, or
                               NULL */
    struct check_json *jsons;      /* spec.json: json as key/text pairs */
    char **texts;                  /* the texts jsons point to */
    struct check_status *statuses; /* spec.statuses */
    char *words;                   /* spec.expect_words */
};

extern const struct check_kind check_http;

/* The keys of c (an http check). */
const struct check_http *check_http_of(const struct plan_check *c);

/* The statuses c expects, in words: "200", "200-299", "2xx", "200, 204 or
 * 3xx" (drover plan, and the evidence of a failed probe). Caller frees. */
char *check_http_status_words(const struct check_http *c);

/* Set the status of c on expect (an object) as `drover plan --json` shows
 * it: "status": 200 (and "status_max": 299 for a range), or for a list
 * "status": [200, 204, "3xx", "500-503"]. */
void check_http_status_json(const struct check_http *c, json_t *expect);

#endif
