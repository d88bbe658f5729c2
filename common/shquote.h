/* common/shquote.h: quoting for a POSIX shell, the one place drover turns
 * a string into a shell word (template's `quote` filter, a command's
 * environment, the ssh wrapper's eval, the fence script). Single quotes,
 * with each ' written as '\'' : nothing inside is expanded by sh, bash or
 * dash. */
#ifndef DROVER_SHQUOTE_H
#define DROVER_SHQUOTE_H

#include "buf.h"

/* Append s single-quoted to b, always: "it's" -> 'it'\''s', "" -> ''. */
void shquote_add(struct buf *b, const char *s);

/* s as one shell word, caller frees: s itself when it is not empty and
 * holds only A-Za-z0-9 and @%+=:,./-_ (nothing a shell would touch),
 * else shquote_add's form. */
char *shquote(const char *s);

#endif
