/* coordinator/knownhosts.h: OpenSSH known_hosts for the ssh transport.
 * Reads plain, hashed (|1|salt|hash) and [host]:port entries through
 * libssh2's parser, one line at a time so one line it cannot parse (a
 * marker, an unsupported key type) is skipped with a note instead of
 * hiding the whole file. Tells which key types a host is known by (the
 * host key preference must be set from them before the handshake), checks
 * a server's key, and appends new hosts for --accept-new. */
#ifndef DROVER_KNOWNHOSTS_H
#define DROVER_KNOWNHOSTS_H

#include "err.h"

#include <stddef.h>

struct knownhosts;

enum { KNOWNHOSTS_FP_MAX = 64, KNOWNHOSTS_METHODS_MAX = 160 };

/* The outcome of checking a server's key. */
enum knownhosts_status {
    KNOWNHOSTS_MATCH,    /* known, and the key is the one on file */
    KNOWNHOSTS_MISMATCH, /* known with this key type, but another key */
    KNOWNHOSTS_NOTFOUND  /* no entry of this key type for the host */
};

/* Read path (a missing file is an empty list). Lines libssh2 cannot parse
 * are skipped and logged at debug level with path:line. NULL with e set
 * (ERR_SYS: unreadable) on failure; knownhosts_free releases it. */
struct knownhosts *knownhosts_load(const char *path, struct err *e);

/* NULL is a no-op. */
void knownhosts_free(struct knownhosts *kh);

/* The file this list was read from. Borrowed. */
const char *knownhosts_path(const struct knownhosts *kh);

/* Number of entries read or added. */
size_t knownhosts_count(const struct knownhosts *kh);

/* Comma-separated host key methods ("ssh-ed25519,ecdsa-sha2-nistp256")
 * of the key types known_hosts holds for host:port, most preferred first,
 * into out; out is "" when none is known. Returns out. */
const char *knownhosts_methods(struct knownhosts *kh, const char *host,
                               int port, char *out, size_t outlen);

/* Check the server key (raw blob as sent, libssh2 LIBSSH2_HOSTKEY_TYPE_*
 * type) for host:port. */
enum knownhosts_status knownhosts_check(struct knownhosts *kh, const char *host,
                                        int port, const unsigned char *key,
                                        size_t len, int hostkey_type);

/* Add host:port with key to the list and append it to the file (created
 * 0600, its directory 0700, if missing). ERR_SYS names the file. */
enum err_code knownhosts_append(struct knownhosts *kh, const char *host,
                                int port, const unsigned char *key, size_t len,
                                int hostkey_type, struct err *e);

/* The method name of a LIBSSH2_HOSTKEY_TYPE_* ("ssh-ed25519"), or NULL
 * for an unknown type. */
const char *knownhosts_method_name(int hostkey_type);

/* "SHA256:<base64, no padding>" of a 32-byte SHA-256 digest into out (at
 * least KNOWNHOSTS_FP_MAX bytes); returns out. */
const char *knownhosts_fp_format(const unsigned char sha256[32], char *out,
                                 size_t outlen);

/* The name known_hosts files use: "host" on port 22, else "[host]:port",
 * host in ssh's form (sshconfig_canon_host: Web1.Example.COM is looked up
 * and written as web1.example.com), into out; returns out. Every function
 * here looks hosts up by this name. */
const char *knownhosts_name(const char *host, int port, char *out,
                            size_t outlen);

#endif
