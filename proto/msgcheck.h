/* proto/msgcheck.h: a non-allocating msgpack validator. It walks a frame
 * before msgpack-c sees it, because msgpack-c reserves memory from the
 * counts in container headers before any element arrives
 * (docs/dependencies.md): a few hostile bytes would reserve gigabytes. Only
 * frames this accepts are handed to msgpack_unpack_next. */
#ifndef DROVER_MSGCHECK_H
#define DROVER_MSGCHECK_H

#include "err.h"

#include <stddef.h>

/* Default limits for drover frames (PROTOCOL.md, "Limits"). */
enum {
    MSGCHECK_DEPTH_MAX = 16,     /* nested containers */
    MSGCHECK_OBJECTS_MAX = 4096, /* objects in one frame */
};

struct msgcheck_limits {
    size_t depth_max;   /* deepest container nesting allowed (<= 16) */
    size_t objects_max; /* most objects, containers included */
    size_t str_max;     /* longest str or bin */
};

/* Check that p[0..n) is exactly one well-formed msgpack object within the
 * limits: every container count fits in the bytes left (a map's pairs in
 * half of them), every str/bin length fits in the bytes left and under
 * str_max, no ext types, no 0xc1, no trailing bytes. Allocates nothing.
 * ERR_PROTO with the byte offset on failure. */
enum err_code msgcheck_frame(const void *p, size_t n,
                             const struct msgcheck_limits *lim, struct err *e);

#endif
