/* coordinator/ssh_key.c: private keys for the ssh transport. The OpenSSH
 * format (PROTOCOL.key in OpenSSH's sources) is base64 between armour
 * lines: "openssh-key-v1\0", cipher, kdf, kdf options, the number of
 * keys, the first public key blob, then the private section (two equal
 * check ints, key type, key parts). ssh_key_blob_open walks it once. */
#include "ssh_key.h"

#include "base64.h"
#include "buf.h"
#include "readfile.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The parts of an "openssh-key-v1" blob; pointers into blob. */
struct ssh_key_blob {
    unsigned char *blob;       /* the decoded blob (wiped at close) */
    size_t n;                  /* its length */
    bool encrypted;            /* the cipher is not "none" */
    const unsigned char *pub;  /* the first public key blob */
    size_t publ;               /* its length */
    const unsigned char *type; /* its key type ("ssh-ed25519"), in pub */
    size_t typel;              /* its length */
    const unsigned char *priv; /* the private section, NULL if missing */
    size_t privl;              /* its length */
};

/* Does needle stand in the len bytes of text? */
static bool ssh_key_text_has(const char *text, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(text + i, needle, n) == 0)
            return true;
    return false;
}

/* Read an SSH string at *off of b (n bytes); NULL when truncated. */
static const unsigned char *ssh_key_str(const unsigned char *b, size_t n,
                                        size_t *off, size_t *len)
{
    if (*off + 4 > n)
        return NULL;
    size_t l = (size_t)b[*off] << 24 | (size_t)b[*off + 1] << 16 |
               (size_t)b[*off + 2] << 8 | b[*off + 3];
    if (l > n - *off - 4)
        return NULL;
    const unsigned char *p = b + *off + 4;
    *off += 4 + l;
    *len = l;
    return p;
}

/* Decode the OpenSSH key between begin and end (z) and walk it to the
 * private section: false when it is damaged (kb is to be closed either
 * way). */
static bool ssh_key_blob_open(const char *b, const char *z,
                              struct ssh_key_blob *kb)
{
    kb->blob = base64_decode(b, (size_t)(z - b), &kb->n);
    static const char magic[] = "openssh-key-v1";
    const unsigned char *blob = kb->blob, *cipher;
    size_t n = kb->n, off = sizeof(magic), l = 0, poff = 0;
    if (n < sizeof(magic) || memcmp(blob, magic, sizeof(magic)) != 0 ||
        (cipher = ssh_key_str(blob, n, &off, &l)) == NULL)
        return false;
    kb->encrypted = !(l == 4 && memcmp(cipher, "none", 4) == 0);
    if (ssh_key_str(blob, n, &off, &l) == NULL || /* kdf */
        ssh_key_str(blob, n, &off, &l) == NULL || off + 4 > n)
        return false;
    off += 4; /* number of keys: we use the first */
    kb->pub = ssh_key_str(blob, n, &off, &kb->publ);
    kb->type =
        kb->pub ? ssh_key_str(kb->pub, kb->publ, &poff, &kb->typel) : NULL;
    if (kb->type == NULL)
        return false;
    kb->priv = ssh_key_str(blob, n, &off, &kb->privl);
    return true;
}

/* Wipe and free the blob kb walked; kb is left empty. */
static void ssh_key_blob_close(struct ssh_key_blob *kb)
{
    if (kb->blob != NULL) {
        explicit_bzero(kb->blob, kb->n);
        free(kb->blob);
    }
    memset(kb, 0, sizeof(*kb));
}

/* ssh_key_check's verdict on text; an OpenSSH key's walked blob is left
 * in kb (kb->blob NULL for a PEM key), to be closed by the caller. */
static enum err_code ssh_key_inspect(const char *text, size_t len,
                                     const char *path, struct ssh_key_blob *kb,
                                     struct err *e)
{
    static const char rsa_msg[] =
        "%s: libssh2 1.10 cannot sign with rsa-sha2; use an ed25519 key";
    static const char dsa_msg[] =
        "%s: DSA keys are refused by OpenSSH; use an ed25519 key";
    if (ssh_key_text_has(text, len, "BEGIN RSA PRIVATE KEY"))
        return err_set(e, ERR_AUTH, rsa_msg, path);
    if (ssh_key_text_has(text, len, "BEGIN DSA PRIVATE KEY"))
        return err_set(e, ERR_AUTH, dsa_msg, path);
    if (ssh_key_text_has(text, len, "BEGIN EC PRIVATE KEY") ||
        ssh_key_text_has(text, len, "BEGIN PRIVATE KEY"))
        return ERR_OK;
    if (ssh_key_text_has(text, len, "BEGIN ENCRYPTED PRIVATE KEY"))
        return err_set(e, ERR_AUTH,
                       "%s: the key is protected by a passphrase; load it "
                       "into ssh-agent and leave out --key",
                       path);
    static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
    static const char end[] = "-----END OPENSSH PRIVATE KEY-----";
    const char *b = memmem(text, len, begin, sizeof(begin) - 1);
    const char *z =
        b ? memmem(b, len - (size_t)(b - text), end, sizeof(end) - 1) : NULL;
    if (b == NULL || z == NULL)
        return err_set(e, ERR_PARSE,
                       "%s: not a private key (expected an OpenSSH or PEM "
                       "ed25519/ECDSA key)",
                       path);
    b += sizeof(begin) - 1;
    if (!ssh_key_blob_open(b, z, kb))
        return err_set(e, ERR_PARSE, "%s: damaged OpenSSH private key", path);
    const unsigned char *type = kb->type;
    size_t tlen = kb->typel;
    if (tlen == 7 && memcmp(type, "ssh-rsa", 7) == 0)
        return err_set(e, ERR_AUTH, rsa_msg, path);
    if (tlen == 7 && memcmp(type, "ssh-dss", 7) == 0)
        return err_set(e, ERR_AUTH, dsa_msg, path);
    if (!(tlen == 11 && memcmp(type, "ssh-ed25519", 11) == 0) &&
        !(tlen > 11 && memcmp(type, "ecdsa-sha2-", 11) == 0))
        return err_set(e, ERR_AUTH,
                       "%s: key type %.*s is not supported by libssh2 1.10; "
                       "use an ed25519 key",
                       path, (int)tlen, (const char *)type);
    if (kb->encrypted)
        return err_set(e, ERR_AUTH,
                       "%s: the key is protected by a passphrase; load it into "
                       "ssh-agent and leave out --key",
                       path);
    return ERR_OK;
}

enum err_code ssh_key_check(const char *text, size_t len, const char *path,
                            struct err *e)
{
    struct ssh_key_blob kb = {0};
    enum err_code rc = ssh_key_inspect(text, len, path, &kb, e);
    ssh_key_blob_close(&kb);
    return rc;
}

/* An ECDSA key from its OpenSSH parts: curve ("nistp256"), public point,
 * private scalar. NULL if OpenSSL refuses them. */
static EVP_PKEY *ssh_key_ecdsa(const unsigned char *curve, size_t cl,
                               const unsigned char *q, size_t ql,
                               const unsigned char *d, size_t dl,
                               const EVP_MD **md)
{
    const char *group = NULL;
    if (cl == 8 && memcmp(curve, "nistp256", 8) == 0) {
        group = "P-256";
        *md = EVP_sha256();
    } else if (cl == 8 && memcmp(curve, "nistp384", 8) == 0) {
        group = "P-384";
        *md = EVP_sha384();
    } else if (cl == 8 && memcmp(curve, "nistp521", 8) == 0) {
        group = "P-521";
        *md = EVP_sha512();
    } else {
        return NULL;
    }
    EVP_PKEY *pk = NULL;
    BIGNUM *bn = BN_bin2bn(d, (int)dl, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (bn != NULL && bld != NULL && pctx != NULL &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                        0) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, ql) ==
            1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
        EVP_PKEY_fromdata_init(pctx) == 1)
        EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_KEYPAIR, params);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(bn);
    return pk;
}

/* An unencrypted ed25519 or ECDSA key is parsed once here, and we sign
 * for libssh2 (ssh_key_sign): libssh2 1.10 would parse the key for every
 * host, through OpenSSL 3's decoders first, which cost more CPU per host
 * than the rest of the connection (docs/ssh.md; and its ECDSA path
 * leaks). Other keys (PEM files) are left to libssh2. */
static void ssh_key_signer(struct ssh_key *t, const struct ssh_key_blob *kb)
{
    const unsigned char *priv = kb->priv, *type;
    size_t privl = kb->privl, l = 0, tl = 0;
    if (kb->encrypted || priv == NULL || privl < 8 ||
        memcmp(priv, priv + 4, 4) != 0) /* the two check ints must agree */
        return;
    size_t poff = 8;
    if ((type = ssh_key_str(priv, privl, &poff, &tl)) == NULL)
        return;
    if (tl == 11 && memcmp(type, "ssh-ed25519", 11) == 0) {
        const unsigned char *sk = NULL;
        if (ssh_key_str(priv, privl, &poff, &l) == NULL || l != 32 ||
            (sk = ssh_key_str(priv, privl, &poff, &l)) == NULL || l != 64)
            return;
        /* sk: the 32-byte seed, then the public key again. */
        t->sign_key =
            EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
        t->sign_md = NULL;
    } else if (tl > 11 && memcmp(type, "ecdsa-sha2-", 11) == 0) {
        size_t cl = 0, ql = 0, dl = 0;
        const unsigned char *curve = ssh_key_str(priv, privl, &poff, &cl);
        const unsigned char *q = ssh_key_str(priv, privl, &poff, &ql);
        const unsigned char *d = ssh_key_str(priv, privl, &poff, &dl);
        if (curve == NULL || q == NULL || d == NULL)
            return;
        t->sign_key = ssh_key_ecdsa(curve, cl, q, ql, d, dl, &t->sign_md);
    }
    if (t->sign_key != NULL) {
        t->pub_blob = xmalloc(kb->publ);
        memcpy(t->pub_blob, kb->pub, kb->publ);
        t->pub_len = kb->publ;
        t->self = t;
    }
}

/* Read k->path (origin says where it was named, for messages). */
static enum err_code ssh_key_read(struct ssh_key *t, const char *origin,
                                  struct err *e)
{
    switch (readfile(t->path, SSH_KEY_MAX, 0, &t->data, &t->len)) {
    case READFILE_OK:
        break;
    case READFILE_OPEN:
        return err_sys(e, "%s: cannot read the private key%s", t->path, origin);
    case READFILE_READ:
        return err_sys(e, "%s: cannot read the private key", t->path);
    default:
        return err_set(e, ERR_PARSE, "%s: not a private key (size)", t->path);
    }
    if (t->len == 0)
        return err_set(e, ERR_PARSE, "%s: not a private key (size)", t->path);
    struct ssh_key_blob kb = {0};
    enum err_code rc = ssh_key_inspect(t->data, t->len, t->path, &kb, e);
    if (rc == ERR_OK && kb.blob != NULL)
        ssh_key_signer(t, &kb);
    ssh_key_blob_close(&kb);
    return rc;
}

struct ssh_key *ssh_key_new(const char *path, const char *origin)
{
    struct ssh_key *k = xcalloc(1, sizeof(*k));
    k->path = xstrdup(path);
    if (ssh_key_read(k, origin, &k->err) != ERR_OK && k->data != NULL) {
        explicit_bzero(k->data, k->len);
        free(k->data);
        k->data = NULL;
    }
    return k;
}

void ssh_key_free(struct ssh_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->sign_key);
    free(k->pub_blob);
    if (k->data != NULL) {
        explicit_bzero(k->data, k->len);
        free(k->data);
    }
    free(k->path);
    free(k);
}

/* Append a big-endian unsigned integer as an SSH mpint. */
static void ssh_key_put_mpint(struct buf *b, const BIGNUM *v)
{
    unsigned char n[80];
    int len = BN_num_bytes(v);
    if (len < 0 || len > (int)sizeof(n))
        len = 0;
    BN_bn2bin(v, n);
    bool pad = len > 0 && (n[0] & 0x80);
    uint32_t l = (uint32_t)len + (pad ? 1 : 0);
    unsigned char h[4] = {(unsigned char)(l >> 24), (unsigned char)(l >> 16),
                          (unsigned char)(l >> 8), (unsigned char)l};
    buf_add(b, h, 4);
    if (pad)
        buf_addc(b, '\0');
    buf_add(b, n, (size_t)len);
}

/* libssh2's sign callback for our pre-parsed key: the signature without
 * the method name, which libssh2 adds (ed25519: the 64 raw bytes; ECDSA:
 * mpint r, mpint s), allocated with malloc (libssh2's default allocator
 * frees it). */
static int ssh_key_sign(LIBSSH2_SESSION *s, unsigned char **sig,
                        size_t *sig_len, const unsigned char *data,
                        size_t data_len, void **abstract)
{
    (void)s;
    struct ssh_key *t = *abstract;
    unsigned char raw[160];
    size_t n = sizeof(raw);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok =
        ctx != NULL &&
        EVP_DigestSignInit(ctx, NULL, t->sign_md, NULL, t->sign_key) == 1 &&
        EVP_DigestSign(ctx, raw, &n, data, data_len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    if (t->sign_md == NULL) {
        buf_add(&b, raw, n);
    } else {
        /* OpenSSL gives DER; SSH wants two mpints. */
        const unsigned char *p = raw;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        if (es == NULL)
            return -1;
        const BIGNUM *r = NULL, *sv = NULL;
        ECDSA_SIG_get0(es, &r, &sv);
        ssh_key_put_mpint(&b, r);
        ssh_key_put_mpint(&b, sv);
        ECDSA_SIG_free(es);
    }
    *sig_len = b.len;
    *sig = (unsigned char *)buf_detach(&b);
    return 0;
}

int ssh_key_auth(struct ssh_key *k, LIBSSH2_SESSION *s, const char *user)
{
    if (k->sign_key != NULL)
        return libssh2_userauth_publickey(s, user, k->pub_blob, k->pub_len,
                                          ssh_key_sign, &k->self);
    return libssh2_userauth_publickey_frommemory(s, user, strlen(user), NULL, 0,
                                                 k->data, k->len, NULL);
}
