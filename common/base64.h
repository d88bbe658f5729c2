/* common/base64.h: standard base64 (RFC 4648, '+' '/' and '=' padding),
 * done by libcrypto's EVP_EncodeBlock/EVP_DecodeBlock. Used for secrets
 * sent on a command's stdin, their redaction patterns, known_hosts keys
 * and fingerprints, and OpenSSH private keys: every scratch copy is wiped
 * before it is freed. */
#ifndef DROVER_BASE64_H
#define DROVER_BASE64_H

#include "buf.h"

#include <stddef.h>

/* Append the base64 of n bytes at p to b, padded with '='. */
void base64_add(struct buf *b, const void *p, size_t n);

/* The base64 of n bytes at p, padded with '=', NUL-terminated; caller
 * frees (wipe it first if p was a secret). */
char *base64_encode(const void *p, size_t n);

/* Decode the base64 in len bytes at p: bytes that are not base64
 * characters (line breaks, blanks) are skipped, and the text ends at the
 * first '=' or at len. A last group of one character carries no whole
 * byte and is dropped. Returns a new buffer (caller wipes and frees: it
 * may hold a key) with *n its length; NULL (*n 0) when libcrypto refuses. */
unsigned char *base64_decode(const char *p, size_t len, size_t *n);

#endif
