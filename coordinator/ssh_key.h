/* coordinator/ssh_key.h: the ssh transport's private keys, and drover's
 * one reader of OpenSSH's "openssh-key-v1" format. A key file is read and
 * its blob walked once per process however many hosts use it: the walk
 * both decides whether libssh2 1.10 can use the key (ssh_key_check) and,
 * for an unencrypted ed25519 or ECDSA key, builds the EVP_PKEY we sign
 * with ourselves (libssh2 would parse the file again for every host). */
#ifndef DROVER_SSH_KEY_H
#define DROVER_SSH_KEY_H

#include "err.h"

#include <libssh2.h>
#include <openssl/evp.h>
#include <stddef.h>

enum { SSH_KEY_MAX = 64 * 1024 /* largest private key file read */ };

/* A private key file. */
struct ssh_key {
    char *path;              /* the file */
    char *data;              /* its contents (wiped at free), NULL when
                                it could not be used */
    size_t len;              /* bytes in data */
    const EVP_MD *sign_md;   /* ECDSA: its digest; ed25519: NULL */
    EVP_PKEY *sign_key;      /* key we sign with ourselves, or NULL:
                                libssh2 parses data per host */
    unsigned char *pub_blob; /* sign_key's SSH public key blob */
    size_t pub_len;          /* its length */
    void *self;              /* this key, for libssh2's abstract */
    struct err err;          /* why it cannot be used (data NULL) */
};

/* Read and check the key at path (copied); origin says where it was named,
 * for messages (" (--key)"). Never NULL: a key that cannot be used has
 * data NULL and err set (err.sys_errno ENOENT: there is no such file).
 * Free with ssh_key_free. */
struct ssh_key *ssh_key_new(const char *path, const char *origin);

/* Wipe and free k; NULL is a no-op. */
void ssh_key_free(struct ssh_key *k);

/* One step of public key authentication of user with k on s (k usable):
 * libssh2's return (0, LIBSSH2_ERROR_EAGAIN, or an error). */
int ssh_key_auth(struct ssh_key *k, LIBSSH2_SESSION *s, const char *user);

/* Check that the private key text is one libssh2 1.10 can sign with
 * (ed25519, ECDSA): ERR_AUTH naming path for RSA and DSA keys, ERR_PARSE
 * for text that is no private key. */
enum err_code ssh_key_check(const char *text, size_t len, const char *path,
                            struct err *e);

#endif
