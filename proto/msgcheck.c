/* proto/msgcheck.c: the validator. One pass over the bytes with a fixed
 * stack of open containers; every claim a header makes is checked against
 * the bytes that remain before the walk moves on. */
#include "msgcheck.h"

#include <stdbool.h>
#include <stdint.h>

struct msgcheck_walk {
    const uint8_t *p; /* the frame */
    size_t n;         /* its length */
    size_t off;       /* next byte to read */
    size_t pending;   /* objects announced by headers but not yet read */
    size_t objects;   /* objects read so far */
};

static uint64_t msgcheck_be(const uint8_t *p, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Read a big-endian length of len bytes at off; false if the frame ends. */
static bool msgcheck_len(struct msgcheck_walk *w, size_t len, uint64_t *out)
{
    if (w->n - w->off < len)
        return false;
    *out = msgcheck_be(w->p + w->off, len);
    w->off += len;
    return true;
}

enum err_code msgcheck_frame(const void *p, size_t n,
                             const struct msgcheck_limits *lim, struct err *e)
{
    struct msgcheck_walk w = {.p = p, .n = n, .pending = 1};
    /* Objects still to read in each open container, innermost last. */
    uint64_t left[MSGCHECK_DEPTH_MAX + 1];
    size_t depth = 0;
    size_t depth_max = lim->depth_max < MSGCHECK_DEPTH_MAX ? lim->depth_max
                                                           : MSGCHECK_DEPTH_MAX;

    if (n == 0)
        return err_set(e, ERR_PROTO, "empty frame");
    while (w.pending > 0) {
        size_t at = w.off;
        if (w.off >= w.n)
            return err_set(e, ERR_PROTO,
                           "frame ends at byte %zu with %zu objects missing",
                           at, w.pending);
        if (++w.objects > lim->objects_max)
            return err_set(e, ERR_PROTO, "byte %zu: more than %zu objects", at,
                           lim->objects_max);
        w.pending--;
        if (depth > 0)
            left[depth - 1]--;
        uint8_t b = w.p[w.off++];
        uint64_t count = 0; /* children of a container */
        uint64_t body = 0;  /* bytes of a scalar's payload */
        bool container = false, is_map = false;
        size_t lenlen = 0;

        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool: no payload */
        } else if (b >= 0x80 && b <= 0x8f) {
            container = is_map = true;
            count = b & 0x0f;
        } else if (b >= 0x90 && b <= 0x9f) {
            container = true;
            count = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            body = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: /* bin 8/16/32 */
            case 0xd9: /* str 8/16/32 */
                lenlen = 1;
                break;
            case 0xc5:
            case 0xda:
                lenlen = 2;
                break;
            case 0xc6:
            case 0xdb:
                lenlen = 4;
                break;
            case 0xca: /* float32 */
                body = 4;
                break;
            case 0xcb: /* float64 */
                body = 8;
                break;
            case 0xcc: /* uint/int 8..64 */
            case 0xd0:
                body = 1;
                break;
            case 0xcd:
            case 0xd1:
                body = 2;
                break;
            case 0xce:
            case 0xd2:
                body = 4;
                break;
            case 0xcf:
            case 0xd3:
                body = 8;
                break;
            case 0xdc: /* array 16/32 */
                container = true;
                if (!msgcheck_len(&w, 2, &count))
                    return err_set(e, ERR_PROTO,
                                   "byte %zu: truncated array header", at);
                break;
            case 0xdd:
                container = true;
                if (!msgcheck_len(&w, 4, &count))
                    return err_set(e, ERR_PROTO,
                                   "byte %zu: truncated array header", at);
                break;
            case 0xde: /* map 16/32 */
                container = is_map = true;
                if (!msgcheck_len(&w, 2, &count))
                    return err_set(e, ERR_PROTO,
                                   "byte %zu: truncated map header", at);
                break;
            case 0xdf:
                container = is_map = true;
                if (!msgcheck_len(&w, 4, &count))
                    return err_set(e, ERR_PROTO,
                                   "byte %zu: truncated map header", at);
                break;
            default: /* 0xc1 (never used), ext and fixext */
                return err_set(e, ERR_PROTO,
                               "byte %zu: type 0x%02x not allowed", at, b);
            }
            if (lenlen > 0) {
                if (!msgcheck_len(&w, lenlen, &body))
                    return err_set(e, ERR_PROTO, "byte %zu: truncated length",
                                   at);
                if (body > lim->str_max)
                    return err_set(e, ERR_PROTO,
                                   "byte %zu: string of %llu bytes over the "
                                   "limit of %zu",
                                   at, (unsigned long long)body, lim->str_max);
            }
        }
        size_t rest = w.n - w.off;
        if (!container) {
            if (body > rest)
                return err_set(e, ERR_PROTO,
                               "byte %zu: %llu bytes claimed, %zu left", at,
                               (unsigned long long)body, rest);
            w.off += (size_t)body;
        } else {
            uint64_t objs = is_map ? count * 2 : count;
            /* Each object takes at least one byte, so everything already
             * announced plus this container's children must fit. */
            if (objs > rest || w.pending + objs > rest)
                return err_set(e, ERR_PROTO,
                               "byte %zu: container claims %llu objects, "
                               "%zu bytes left",
                               at, (unsigned long long)objs, rest);
            if (objs > 0) {
                if (depth >= depth_max)
                    return err_set(e, ERR_PROTO,
                                   "byte %zu: nesting deeper than %zu", at,
                                   depth_max);
                left[depth++] = objs;
                w.pending += (size_t)objs;
            }
        }
        while (depth > 0 && left[depth - 1] == 0)
            depth--;
    }
    if (w.off != w.n)
        return err_set(e, ERR_PROTO, "%zu trailing bytes after byte %zu",
                       w.n - w.off, w.off);
    return ERR_OK;
}
