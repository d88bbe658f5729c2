/* common/buf.h: the one growable byte buffer (curl dynbuf, git strbuf).
 * A buffer has a limit: bytes past it are dropped and counted, never
 * silently lost, so captured host output can report its cap. The data is
 * always NUL-terminated. A small value type: embed it, buf_init/buf_release. */
#ifndef DROVER_BUF_H
#define DROVER_BUF_H

#include <stdbool.h>
#include <stddef.h>

enum { BUF_UNLIMITED = 0 };

struct buf {
    char *data;     /* owned, NUL-terminated; NULL until the first append */
    size_t len;     /* bytes held, excluding the NUL */
    size_t alloc;   /* bytes allocated */
    size_t limit;   /* most bytes held; BUF_UNLIMITED for none */
    size_t dropped; /* bytes refused because of the limit */
};

/* Empty buffer holding at most limit bytes (BUF_UNLIMITED: no limit). */
void buf_init(struct buf *b, size_t limit);

/* Free the data (wiped first when the buffer held secrets: see buf_wipe). */
void buf_release(struct buf *b);

/* Zero the bytes held, then release. For buffers that held secrets. */
void buf_wipe(struct buf *b);

/* Forget the contents, keep the allocation and the limit. */
void buf_reset(struct buf *b);

/* Append n bytes; what does not fit under the limit is dropped and counted.
 * Returns false when anything was dropped. */
bool buf_add(struct buf *b, const void *p, size_t n);
bool buf_adds(struct buf *b, const char *s);
bool buf_addc(struct buf *b, char c);
bool buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The contents as a C string; "" for an empty buffer. Borrowed. */
const char *buf_cstr(const struct buf *b);

/* Take ownership of the contents (caller frees); the buffer becomes empty. */
char *buf_detach(struct buf *b);

/* Remove the first n bytes. */
void buf_consume(struct buf *b, size_t n);

#endif
