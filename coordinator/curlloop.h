/* coordinator/curlloop.h: one libcurl multi handle driven by the common
 * loop through curl's socket interface (CURLMOPT_SOCKETFUNCTION,
 * CURLMOPT_TIMERFUNCTION, curl_multi_socket_action; Debian 12's curl 7.88
 * has no curl_multi_waitfds). Its users (health probes, notifications) add
 * easy handles to curlloop_multi() and hear about each finished transfer. */
#ifndef DROVER_CURLLOOP_H
#define DROVER_CURLLOOP_H

#include <curl/curl.h>

struct err;
struct loop;
struct curlloop;

/* A transfer finished with rc; the callee removes (and may reuse or free)
 * easy. Called from the loop; it may add and remove other handles. */
typedef void curlloop_done_fn(CURL *easy, CURLcode rc, void *arg);

/* A multi handle on loop l (curl_global_init is done once per process).
 * NULL with e set on failure. */
struct curlloop *curlloop_new(struct loop *l, curlloop_done_fn *done, void *arg,
                              struct err *e);

/* The multi handle, to add and remove easy handles. Borrowed. */
CURLM *curlloop_multi(const struct curlloop *c);

/* Clean the multi handle up (closing cached connections) and stop
 * watching its sockets and timer. Remove the easy handles first. NULL is a
 * no-op. */
void curlloop_free(struct curlloop *c);

#endif
