/* proto/keyfile.c: reading and writing CURVE keys, authorized_keys and
 * known_agents. Secrets are wiped from every buffer that held them. */
#include "keyfile.h"

#include "linefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static const char keyfile_z85_chars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ".-:+=^!/*?&<>()[]{}@%$#";

bool keyfile_z85_valid(const char *s, size_t n)
{
    static bool ok[256];
    static bool init;
    if (!init) {
        for (const char *c = keyfile_z85_chars; *c; c++)
            ok[(unsigned char)*c] = true;
        init = true;
    }
    if (n != KEYFILE_Z85_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!ok[(unsigned char)s[i]])
            return false;
    return true;
}

enum err_code keyfile_generate(struct keypair *kp, struct err *e)
{
    if (zmq_curve_keypair(kp->public_z85, kp->secret_z85) != 0)
        return err_set(e, ERR_SYS, "zmq_curve_keypair: %s",
                       zmq_strerror(errno));
    return ERR_OK;
}

void keyfile_wipe(struct keypair *kp)
{
    explicit_bzero(kp->secret_z85, sizeof(kp->secret_z85));
}

static enum err_code keyfile_put(const char *path, int flags, mode_t mode,
                                 const char *text, struct err *e)
{
    int fd = open(path, flags | O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return err_set(e, ERR_INVALID,
                           "%s exists; remove it or pass --force", path);
        return err_sys(e, "open %s", path);
    }
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    if (w != (ssize_t)n || fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        err_sys(e, "write %s", path);
        close(fd);
        return ERR_SYS;
    }
    if (close(fd) != 0)
        return err_sys(e, "close %s", path);
    return ERR_OK;
}

enum err_code keyfile_write(const char *path, const struct keypair *kp,
                            bool force, struct err *e)
{
    int excl = force ? O_TRUNC : O_EXCL;
    char text[256];
    snprintf(text, sizeof(text),
             "# drover CURVE secret key: keep it private (mode 0600)\n"
             "public %s\nsecret %s\n",
             kp->public_z85, kp->secret_z85);
    enum err_code rc = keyfile_put(path, O_CREAT | excl, 0600, text, e);
    explicit_bzero(text, sizeof(text));
    if (rc != ERR_OK)
        return rc;
    char *pub = xasprintf("%s.pub", path);
    snprintf(text, sizeof(text), "%s\n", kp->public_z85);
    rc = keyfile_put(pub, O_CREAT | excl, 0644, text, e);
    free(pub);
    return rc;
}

/* Skip blanks. */
static const char *keyfile_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* A key token starting at p (the rest of the line is whitespace or a
 * comment); copy it to out (41 bytes). */
static enum err_code keyfile_token(const char *file, int line, const char *bol,
                                   const char *p, char *out, struct err *e)
{
    size_t n = strcspn(p, " \t\r\n");
    if (!keyfile_z85_valid(p, n))
        return err_set(e, ERR_PARSE,
                       "%s:%d:%d: expected a 40-character Z85 CURVE key "
                       "(from `drover keygen` or `drover-agent keygen`)",
                       file, line, (int)(p - bol) + 1);
    memcpy(out, p, n);
    out[n] = '\0';
    return ERR_OK;
}

enum err_code keyfile_load_secret(const char *path, struct keypair *kp,
                                  struct err *e)
{
    memset(kp, 0, sizeof(*kp));
    struct linefile r;
    if (!linefile_open(&r, path, e))
        return e ? e->code : ERR_SYS;
    struct stat st;
    if (fstat(fileno(r.f), &st) == 0 && (st.st_mode & 077) != 0) {
        linefile_close(&r);
        return err_set(e, ERR_INVALID,
                       "%s: permissions %04o are too open for a secret key; "
                       "run `chmod 600 %s`",
                       path, (unsigned)(st.st_mode & 07777), path);
    }
    char *p;
    enum err_code rc;
    while ((rc = linefile_next(&r, &p, e)) == ERR_OK) {
        char *dst = NULL;
        if (strncmp(p, "public", 6) == 0)
            dst = kp->public_z85;
        else if (strncmp(p, "secret", 6) == 0)
            dst = kp->secret_z85;
        else
            rc = err_set(e, ERR_PARSE,
                         "%s:%d:%d: expected 'public KEY' or 'secret KEY'",
                         path, r.lineno, (int)(p - r.line) + 1);
        if (dst != NULL)
            rc = keyfile_token(path, r.lineno, r.line, keyfile_ws(p + 6), dst,
                               e);
        if (rc != ERR_OK)
            break;
    }
    linefile_close(&r);
    if (rc == ERR_NOTFOUND) /* the end of the file */
        rc = ERR_OK;
    if (rc == ERR_OK &&
        (kp->public_z85[0] == '\0' || kp->secret_z85[0] == '\0'))
        rc = err_set(e, ERR_PARSE, "%s: needs a 'public' and a 'secret' line",
                     path);
    if (rc == ERR_OK) {
        /* the public key must belong to the secret */
        char derived[KEYFILE_Z85_LEN + 1];
        if (zmq_curve_public(derived, kp->secret_z85) != 0 ||
            strcmp(derived, kp->public_z85) != 0)
            rc = err_set(e, ERR_INVALID,
                         "%s: the public key does not match the secret key",
                         path);
    }
    if (rc != ERR_OK)
        keyfile_wipe(kp);
    return rc;
}

enum err_code keyfile_load_public(const char *path, char *out, struct err *e)
{
    struct linefile r;
    if (!linefile_open(&r, path, e))
        return e ? e->code : ERR_SYS;
    char *p;
    enum err_code rc = linefile_next(&r, &p, e);
    if (rc == ERR_OK) {
        const char *k = p;
        if (strncmp(k, "public", 6) == 0)
            k = keyfile_ws(k + 6);
        rc = keyfile_token(path, r.lineno, r.line, k, out, e);
    }
    linefile_close(&r);
    if (rc == ERR_NOTFOUND)
        rc = err_set(e, ERR_PARSE, "%s: no key in the file", path);
    return rc;
}

/* --- key sets ------------------------------------------------------------ */

struct keyfile_set {
    uint8_t (*keys)[KEYFILE_BIN_LEN]; /* the keys */
    size_t n;                         /* keys held */
    size_t cap;                       /* keys allocated */
};

struct keyfile_set *keyfile_set_new(void)
{
    return xcalloc(1, sizeof(struct keyfile_set));
}

void keyfile_set_add(struct keyfile_set *s, const uint8_t *key)
{
    if (keyfile_set_has(s, key))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->keys = xrealloc(s->keys, s->cap * sizeof(*s->keys));
    }
    memcpy(s->keys[s->n++], key, KEYFILE_BIN_LEN);
}

bool keyfile_set_has(const struct keyfile_set *s, const uint8_t *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(s->keys[i], key, KEYFILE_BIN_LEN) == 0)
            return true;
    return false;
}

size_t keyfile_set_count(const struct keyfile_set *s)
{
    return s->n;
}

void keyfile_set_free(struct keyfile_set *s)
{
    if (s == NULL)
        return;
    free(s->keys);
    free(s);
}

struct keyfile_set *keyfile_set_load(const char *path, struct err *e)
{
    struct linefile r;
    if (!linefile_open(&r, path, e))
        return NULL;
    struct keyfile_set *s = keyfile_set_new();
    char *p;
    enum err_code rc;
    while ((rc = linefile_next(&r, &p, e)) == ERR_OK) {
        char z85[KEYFILE_Z85_LEN + 1];
        uint8_t bin[KEYFILE_BIN_LEN];
        if ((rc = keyfile_token(path, r.lineno, r.line, p, z85, e)) != ERR_OK)
            break;
        zmq_z85_decode(bin, z85);
        keyfile_set_add(s, bin);
    }
    linefile_close(&r);
    if (rc != ERR_NOTFOUND) {
        keyfile_set_free(s);
        return NULL;
    }
    return s;
}

/* --- known_agents -------------------------------------------------------- */

/* Whether path's last line lacks its newline (a line appended then would
 * be read as that line's comment). */
static bool keyfile_ends_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    char last = '\n';
    if (fstat(fd, &st) == 0 && st.st_size > 0 &&
        pread(fd, &last, 1, st.st_size - 1) != 1)
        last = '\n';
    close(fd);
    return last != '\n';
}

enum err_code keyfile_known_add(const char *path, const char *host, int port,
                                const char *key, struct err *e)
{
    if (!keyfile_z85_valid(key, strlen(key)))
        return err_set(e, ERR_INVALID, "not a Z85 key");
    char text[400];
    snprintf(text, sizeof(text), "%s%s:%d %s\n",
             keyfile_ends_open(path) ? "\n" : "", host, port, key);
    return keyfile_put(path, O_CREAT | O_APPEND, 0600, text, e);
}

struct keyfile_known_entry {
    char *hostport;                /* "host:port" */
    size_t line;                   /* order in the file: the last one wins */
    char key[KEYFILE_Z85_LEN + 1]; /* its key */
};

struct keyfile_known {
    struct keyfile_known_entry *v; /* sorted by hostport, one per host */
    size_t n;                      /* entries */
    size_t cap;                    /* allocated */
};

/* By host:port, then by line (qsort is not stable). */
static int keyfile_known_cmp(const void *a, const void *b)
{
    const struct keyfile_known_entry *x = a, *y = b;
    int c = strcmp(x->hostport, y->hostport);
    if (c != 0)
        return c;
    return (x->line > y->line) - (x->line < y->line);
}

static int keyfile_known_cmp_host(const void *a, const void *b)
{
    const struct keyfile_known_entry *x = a, *y = b;
    return strcmp(x->hostport, y->hostport);
}

static void keyfile_known_append(struct keyfile_known *k, char *hostport,
                                 size_t line, const char *key)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 64;
        k->v = xrealloc(k->v, k->cap * sizeof(*k->v));
    }
    k->v[k->n].hostport = hostport;
    k->v[k->n].line = line;
    memcpy(k->v[k->n].key, key, KEYFILE_Z85_LEN + 1);
    k->n++;
}

/* Sort, and of the lines for one host keep the last (a key rotated by
 * appending a line must not keep trusting the old one). */
static void keyfile_known_index(struct keyfile_known *k)
{
    if (k->n == 0) /* no array at all: qsort wants one */
        return;
    qsort(k->v, k->n, sizeof(*k->v), keyfile_known_cmp);
    size_t out = 0;
    for (size_t i = 0; i < k->n; i++) {
        if (i + 1 < k->n &&
            strcmp(k->v[i].hostport, k->v[i + 1].hostport) == 0) {
            free(k->v[i].hostport);
            continue;
        }
        k->v[out++] = k->v[i];
    }
    k->n = out;
}

struct keyfile_known *keyfile_known_load(const char *path, struct err *e)
{
    struct keyfile_known *k = xcalloc(1, sizeof(*k));
    struct linefile r;
    struct err oe = {0};
    if (!linefile_open(&r, path, &oe)) {
        if (oe.code == ERR_NOTFOUND)
            return k;
        if (e != NULL)
            *e = oe;
        keyfile_known_free(k);
        return NULL;
    }
    char *p;
    enum err_code rc;
    while ((rc = linefile_next(&r, &p, e)) == ERR_OK) {
        size_t n = strcspn(p, " \t");
        const char *kp = keyfile_ws(p + n);
        char key[KEYFILE_Z85_LEN + 1];
        if (*kp == '\0') {
            rc = err_set(e, ERR_PARSE, "%s:%d:%d: expected 'HOST:PORT KEY'",
                         path, r.lineno, (int)(kp - r.line) + 1);
            break;
        }
        if ((rc = keyfile_token(path, r.lineno, r.line, kp, key, e)) != ERR_OK)
            break;
        keyfile_known_append(k, xstrndup(p, n), (size_t)r.lineno, key);
    }
    linefile_close(&r);
    if (rc != ERR_NOTFOUND) {
        keyfile_known_free(k);
        return NULL;
    }
    keyfile_known_index(k);
    return k;
}

/* The entry of host:port, or NULL. */
static struct keyfile_known_entry *
keyfile_known_find(const struct keyfile_known *k, const char *host, int port)
{
    if (k->n == 0)
        return NULL;
    char want[300];
    snprintf(want, sizeof(want), "%s:%d", host, port);
    struct keyfile_known_entry key = {.hostport = want};
    return bsearch(&key, k->v, k->n, sizeof(*k->v), keyfile_known_cmp_host);
}

const char *keyfile_known_get(const struct keyfile_known *k, const char *host,
                              int port)
{
    const struct keyfile_known_entry *hit = keyfile_known_find(k, host, port);
    return hit ? hit->key : NULL;
}

void keyfile_known_put(struct keyfile_known *k, const char *host, int port,
                       const char *key)
{
    struct keyfile_known_entry *hit = keyfile_known_find(k, host, port);
    if (hit != NULL) { /* the line just appended: it wins */
        memcpy(hit->key, key, KEYFILE_Z85_LEN + 1);
        return;
    }
    keyfile_known_append(k, xasprintf("%s:%d", host, port), SIZE_MAX, key);
    /* insert it in order: one pass, not a sort per host */
    struct keyfile_known_entry e = k->v[k->n - 1];
    size_t i = k->n - 1;
    for (; i > 0 && strcmp(k->v[i - 1].hostport, e.hostport) > 0; i--)
        k->v[i] = k->v[i - 1];
    k->v[i] = e;
}

enum err_code keyfile_known_lookup(const char *path, const char *host, int port,
                                   char *out, struct err *e)
{
    struct keyfile_known *k = keyfile_known_load(path, e);
    if (k == NULL)
        return e ? e->code : ERR_PARSE;
    const char *key = keyfile_known_get(k, host, port);
    if (key != NULL)
        memcpy(out, key, KEYFILE_Z85_LEN + 1);
    keyfile_known_free(k);
    return key != NULL ? ERR_OK : ERR_NOTFOUND;
}

void keyfile_known_free(struct keyfile_known *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i].hostport);
    free(k->v);
    free(k);
}
