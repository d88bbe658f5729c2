/* proto/keyfile.c: reading and writing CURVE keys, authorized_keys and
 * known_agents. Secrets are wiped from every buffer that held them. */
#include "keyfile.h"

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

static FILE *keyfile_open(const char *path, struct err *e)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT)
            err_set(e, ERR_NOTFOUND, "%s: no such file", path);
        else
            err_sys(e, "open %s", path);
    }
    return f;
}

enum err_code keyfile_load_secret(const char *path, struct keypair *kp,
                                  struct err *e)
{
    memset(kp, 0, sizeof(*kp));
    FILE *f = keyfile_open(path, e);
    if (f == NULL)
        return e ? e->code : ERR_SYS;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
        fclose(f);
        return err_set(e, ERR_INVALID,
                       "%s: permissions %04o are too open for a secret key; "
                       "run `chmod 600 %s`",
                       path, (unsigned)(st.st_mode & 07777), path);
    }
    char line[256];
    int lineno = 0;
    enum err_code rc = ERR_OK;
    while (rc == ERR_OK && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        const char *p = keyfile_ws(line);
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        char *dst = NULL;
        if (strncmp(p, "public", 6) == 0)
            dst = kp->public_z85;
        else if (strncmp(p, "secret", 6) == 0)
            dst = kp->secret_z85;
        else
            rc = err_set(e, ERR_PARSE,
                         "%s:%d:%d: expected 'public KEY' or 'secret KEY'",
                         path, lineno, (int)(p - line) + 1);
        if (dst != NULL)
            rc = keyfile_token(path, lineno, line, keyfile_ws(p + 6), dst, e);
    }
    explicit_bzero(line, sizeof(line));
    fclose(f);
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
    FILE *f = keyfile_open(path, e);
    if (f == NULL)
        return e ? e->code : ERR_SYS;
    char line[256];
    int lineno = 0;
    enum err_code rc = ERR_NOTFOUND;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        const char *p = keyfile_ws(line);
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        if (strncmp(p, "public", 6) == 0)
            p = keyfile_ws(p + 6);
        rc = keyfile_token(path, lineno, line, p, out, e);
        break;
    }
    fclose(f);
    if (rc == ERR_NOTFOUND)
        err_set(e, ERR_PARSE, "%s: no key in the file", path);
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
    FILE *f = keyfile_open(path, e);
    if (f == NULL)
        return NULL;
    struct keyfile_set *s = keyfile_set_new();
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        const char *p = keyfile_ws(line);
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        char z85[KEYFILE_Z85_LEN + 1];
        uint8_t bin[KEYFILE_BIN_LEN];
        if (keyfile_token(path, lineno, line, p, z85, e) != ERR_OK) {
            keyfile_set_free(s);
            fclose(f);
            return NULL;
        }
        zmq_z85_decode(bin, z85);
        keyfile_set_add(s, bin);
    }
    fclose(f);
    return s;
}

/* --- known_agents -------------------------------------------------------- */

enum err_code keyfile_known_lookup(const char *path, const char *host, int port,
                                   char *out, struct err *e)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return ERR_NOTFOUND;
    char want[300];
    snprintf(want, sizeof(want), "%s:%d", host, port);
    size_t wn = strlen(want);
    char line[512];
    int lineno = 0;
    enum err_code rc = ERR_NOTFOUND;
    while (rc == ERR_NOTFOUND && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        const char *p = keyfile_ws(line);
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        size_t n = strcspn(p, " \t\r\n");
        const char *k = keyfile_ws(p + n);
        if (*k == '\n' || *k == '\0') {
            rc = err_set(e, ERR_PARSE, "%s:%d:%d: expected 'HOST:PORT KEY'",
                         path, lineno, (int)(k - line) + 1);
            break;
        }
        char key[KEYFILE_Z85_LEN + 1];
        if (keyfile_token(path, lineno, line, k, key, e) != ERR_OK) {
            rc = ERR_PARSE;
            break;
        }
        if (n == wn && memcmp(p, want, n) == 0) {
            memcpy(out, key, sizeof(key));
            rc = ERR_OK;
        }
    }
    fclose(f);
    return rc;
}

enum err_code keyfile_known_add(const char *path, const char *host, int port,
                                const char *key, struct err *e)
{
    if (!keyfile_z85_valid(key, strlen(key)))
        return err_set(e, ERR_INVALID, "not a Z85 key");
    char text[400];
    snprintf(text, sizeof(text), "%s:%d %s\n", host, port, key);
    return keyfile_put(path, O_CREAT | O_APPEND, 0600, text, e);
}

/* --- known_agents, loaded --------------------------------------------------
 */

struct keyfile_known_entry {
    char *hostport;                /* "host:port" */
    char key[KEYFILE_Z85_LEN + 1]; /* its key */
};

struct keyfile_known {
    struct keyfile_known_entry *v; /* sorted by hostport */
    size_t n;                      /* entries */
    size_t cap;                    /* allocated */
};

static int keyfile_known_cmp(const void *a, const void *b)
{
    const struct keyfile_known_entry *x = a, *y = b;
    return strcmp(x->hostport, y->hostport);
}

static void keyfile_known_append(struct keyfile_known *k, char *hostport,
                                 const char *key)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 64;
        k->v = xrealloc(k->v, k->cap * sizeof(*k->v));
    }
    k->v[k->n].hostport = hostport;
    memcpy(k->v[k->n].key, key, KEYFILE_Z85_LEN + 1);
    k->n++;
}

struct keyfile_known *keyfile_known_load(const char *path, struct err *e)
{
    struct keyfile_known *k = xcalloc(1, sizeof(*k));
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return k;
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        const char *p = keyfile_ws(line);
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        size_t n = strcspn(p, " \t\r\n");
        const char *kp = keyfile_ws(p + n);
        char key[KEYFILE_Z85_LEN + 1];
        if (*kp == '\n' || *kp == '\0') {
            err_set(e, ERR_PARSE, "%s:%d:%d: expected 'HOST:PORT KEY'", path,
                    lineno, (int)(kp - line) + 1);
        } else if (keyfile_token(path, lineno, line, kp, key, e) == ERR_OK) {
            keyfile_known_append(k, xstrndup(p, n), key);
            continue;
        }
        fclose(f);
        keyfile_known_free(k);
        return NULL;
    }
    fclose(f);
    /* a later line for the same host wins: sort keeps file order stable
     * enough for lookups, and duplicates are rare */
    qsort(k->v, k->n, sizeof(*k->v), keyfile_known_cmp);
    return k;
}

const char *keyfile_known_get(const struct keyfile_known *k, const char *host,
                              int port)
{
    if (k->n == 0)
        return NULL;
    char want[300];
    snprintf(want, sizeof(want), "%s:%d", host, port);
    struct keyfile_known_entry key = {.hostport = want};
    const struct keyfile_known_entry *hit =
        bsearch(&key, k->v, k->n, sizeof(*k->v), keyfile_known_cmp);
    return hit ? hit->key : NULL;
}

void keyfile_known_put(struct keyfile_known *k, const char *host, int port,
                       const char *key)
{
    keyfile_known_append(k, xasprintf("%s:%d", host, port), key);
    qsort(k->v, k->n, sizeof(*k->v), keyfile_known_cmp);
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
