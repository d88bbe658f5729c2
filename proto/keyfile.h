/* proto/keyfile.h: CURVE key files shared by drover and drover-agent.
 * A key pair is two files: NAME (the secret, mode 0600, refused when group
 * or others may read it) and NAME.pub (the public key). Keys are Z85 text,
 * 40 characters. authorized_keys (the agent's list of coordinator keys) and
 * known_agents (the coordinator's pinned agent keys) are line files, all
 * read by common/linefile.h: a line is read whole or refused, never split
 * (a '#' comment of any length is skipped whole, any other line over
 * LINEFILE_MAX bytes or holding a NUL byte is an error); every error
 * names file:line:col. */
#ifndef DROVER_KEYFILE_H
#define DROVER_KEYFILE_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    KEYFILE_Z85_LEN = 40, /* a 32-byte key in Z85 */
    KEYFILE_BIN_LEN = 32, /* a key in bytes */
};

struct keypair {
    char public_z85[KEYFILE_Z85_LEN + 1]; /* public key, NUL-terminated */
    char secret_z85[KEYFILE_Z85_LEN + 1]; /* secret key; wipe with
                                             keyfile_wipe */
};

/* A new random key pair (zmq_curve_keypair). */
enum err_code keyfile_generate(struct keypair *kp, struct err *e);

/* Zero the secret. */
void keyfile_wipe(struct keypair *kp);

/* Write kp to path (secret, 0600, created exclusively unless force) and
 * path.pub (0644). The directory must exist. */
enum err_code keyfile_write(const char *path, const struct keypair *kp,
                            bool force, struct err *e);

/* Read a secret key file into kp. Refused when its mode lets group or
 * others read it (say which chmod fixes it). */
enum err_code keyfile_load_secret(const char *path, struct keypair *kp,
                                  struct err *e);

/* Read a public key file (NAME.pub: the key alone, or a 'public KEY'
 * line). out gets 41 bytes. */
enum err_code keyfile_load_public(const char *path, char *out, struct err *e);

/* True when s is exactly 40 characters of valid Z85. */
bool keyfile_z85_valid(const char *s, size_t n);

/* A set of public keys (authorized_keys). Owned; keyfile_set_free. */
struct keyfile_set;

/* Parse an authorized_keys file: one Z85 key per line, optionally
 * followed by whitespace and a comment; '#' lines and blank lines skipped.
 * A missing file is ERR_NOTFOUND. */
struct keyfile_set *keyfile_set_load(const char *path, struct err *e);
/* An empty set (tests, --simulate). */
struct keyfile_set *keyfile_set_new(void);
/* Add a 32-byte key. */
void keyfile_set_add(struct keyfile_set *s, const uint8_t *key);
bool keyfile_set_has(const struct keyfile_set *s, const uint8_t *key);
size_t keyfile_set_count(const struct keyfile_set *s);
/* NULL is a no-op. */
void keyfile_set_free(struct keyfile_set *s);

/* known_agents: lines "HOST:PORT Z85KEY [comment]"; when several lines
 * name one HOST:PORT, the last one wins (a key is rotated by appending).
 * Look up host:port (keyfile_known_load, then _get): ERR_OK with the key
 * in out (41 bytes), ERR_NOTFOUND when absent (also when the file is
 * missing), ERR_PARSE on a bad line. */
enum err_code keyfile_known_lookup(const char *path, const char *host, int port,
                                   char *out, struct err *e);

/* known_agents read once, for many lookups (a fleet of thousands). */
struct keyfile_known;
/* Read path; a missing file is an empty set. NULL with e set on a bad line
 * (file:line:col) or an unreadable file. */
struct keyfile_known *keyfile_known_load(const char *path, struct err *e);
/* The key of host:port, borrowed; NULL if unknown. */
const char *keyfile_known_get(const struct keyfile_known *k, const char *host,
                              int port);
/* Remember host:port (after keyfile_known_add appended it: it replaces an
 * earlier key, as the appended line does in the file). */
void keyfile_known_put(struct keyfile_known *k, const char *host, int port,
                       const char *key);
/* NULL is a no-op. */
void keyfile_known_free(struct keyfile_known *k);

/* Append "HOST:PORT KEY" to known_agents (created 0600) as a line of its
 * own, also when the file's last line lacks its newline. */
enum err_code keyfile_known_add(const char *path, const char *host, int port,
                                const char *key, struct err *e);

#endif
