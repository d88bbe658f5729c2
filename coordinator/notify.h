/* coordinator/notify.h: deploy notifications to webhooks (the plan's
 * `notify: [{webhook: URL, on: [start, success, failure, rollback,
 * pause]}]`).
 * Each is a JSON POST with a Slack-compatible "text" field, sent through
 * libcurl's multi interface on the common loop (the socket and timer
 * callbacks, as health.c does), with a timeout. A notification that fails
 * is logged (with the webhook's scheme and host only: its path is often
 * the secret) and never fails the deploy. Every text is redacted. */
#ifndef DROVER_NOTIFY_H
#define DROVER_NOTIFY_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct notify;

/* Events a webhook can subscribe to (bits). */
enum notify_event {
    NOTIFY_START = 1 << 0,    /* the deploy started */
    NOTIFY_SUCCESS = 1 << 1,  /* it ended well */
    NOTIFY_FAILURE = 1 << 2,  /* it failed (whether or not rolled back) */
    NOTIFY_ROLLBACK = 1 << 3, /* a rollback ran (automatic or a human's) */
    NOTIFY_PAUSE = 1 << 4,    /* it stopped for a human (canary, manual
                                 pause, rollback.auto false, ...) */
    NOTIFY_ALL = 0x1f         /* every event (no `on:` list) */
};

enum {
    NOTIFY_TIMEOUT_MS = 5000,         /* whole request, by default */
    NOTIFY_CONNECT_TIMEOUT_MS = 2000, /* TCP (+TLS) connect at most */
    NOTIFY_FLUSH_MS = 10000           /* notify_flush's usual wait */
};

/* What a notification says. Strings borrowed, NULL if not known. */
struct notify_info {
    const char *deploy;  /* DEP-... */
    const char *plan;    /* plan name */
    const char *version; /* version deployed */
    const char *user;    /* who deploys */
    const char *result;  /* store_result_str, for the end events */
    const char *text;    /* one line for people; NULL: made from the rest */
};

/* Notifications on loop l; NULL with e set when curl cannot start. */
struct notify *notify_new(struct loop *l, struct err *e);

/* Abandon requests in flight. NULL is a no-op. Not from a callback of
 * the loop that is running a notify request. */
void notify_free(struct notify *n);

/* Subscribe url (http or https) to events (0 means NOTIFY_ALL).
 * ERR_INVALID for another scheme. url is copied. */
enum err_code notify_add(struct notify *n, const char *url, unsigned events,
                         struct err *e);

/* The bit of an `on:` word ("start", "success", "failure", "rollback",
 * "pause");
 * ERR_INVALID naming the accepted words otherwise. */
enum err_code notify_event_parse(const char *word, unsigned *bit,
                                 struct err *e);

/* Name of an event ("start", ...). */
const char *notify_event_str(enum notify_event ev);

/* Whole-request timeout (default NOTIFY_TIMEOUT_MS). */
void notify_set_timeout(struct notify *n, int64_t ms);

/* POST event ev to every webhook subscribed to it; returns at once, the
 * requests complete on the loop. Never fails: problems are logged. */
void notify_send(struct notify *n, enum notify_event ev,
                 const struct notify_info *in);

/* Requests in flight. */
size_t notify_inflight(const struct notify *n);

/* Deliveries that failed so far (refused, timed out, a non-2xx answer). */
size_t notify_failures(const struct notify *n);

/* Run the loop until no request is in flight or max_ms has passed (the
 * rest are abandoned and logged). For the end of a deploy, when nothing
 * else runs on the loop; never from inside a loop callback. */
enum err_code notify_flush(struct notify *n, int64_t max_ms, struct err *e);

#endif
