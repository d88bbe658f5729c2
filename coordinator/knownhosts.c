/* coordinator/knownhosts.c: known_hosts over libssh2's knownhost API. Names
 * are always looked up in OpenSSH's written form ("[host]:port" unless the
 * port is 22) with port -1, so a plain "host" entry never vouches for
 * another port (libssh2 would otherwise fall back to it; OpenSSH does not).
 * The host is the name ssh would use (lowercase: sshconfig_canon_host), and
 * plain names read from the file are lowercased, as ssh compares them
 * (libssh2 compares them as they are). */
#include "knownhosts.h"

#include "base64.h"
#include "log.h"
#include "sshconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct knownhosts {
    LIBSSH2_SESSION *session;  /* owns hosts; never connected */
    LIBSSH2_KNOWNHOSTS *hosts; /* the entries */
    char *path;                /* the file */
    size_t count;              /* entries read or added */
};

/* Host key types we negotiate, most preferred first. */
static const struct {
    int hostkey;        /* LIBSSH2_HOSTKEY_TYPE_* */
    int mask;           /* LIBSSH2_KNOWNHOST_KEY_* */
    const char *method; /* the SSH name */
} knownhosts_types[] = {
    {LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519,
     "ssh-ed25519"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256,
     "ecdsa-sha2-nistp256"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
     "ecdsa-sha2-nistp384"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521,
     "ecdsa-sha2-nistp521"},
    {LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa"},
};
enum {
    KNOWNHOSTS_NTYPES = sizeof(knownhosts_types) / sizeof(knownhosts_types[0])
};

static int knownhosts_mask(int hostkey_type)
{
    for (size_t i = 0; i < KNOWNHOSTS_NTYPES; i++)
        if (knownhosts_types[i].hostkey == hostkey_type)
            return knownhosts_types[i].mask;
    return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

const char *knownhosts_method_name(int hostkey_type)
{
    for (size_t i = 0; i < KNOWNHOSTS_NTYPES; i++)
        if (knownhosts_types[i].hostkey == hostkey_type)
            return knownhosts_types[i].method;
    return NULL;
}

const char *knownhosts_name(const char *host, int port, char *out,
                            size_t outlen)
{
    char *canon = sshconfig_canon_host(host);
    if (port <= 0 || port == 22)
        snprintf(out, outlen, "%s", canon);
    else
        snprintf(out, outlen, "[%s]:%d", canon, port);
    free(canon);
    return out;
}

const char *knownhosts_fp_format(const unsigned char sha256[32], char *out,
                                 size_t outlen)
{
    char *b = base64_encode(sha256, 32);
    /* OpenSSH writes fingerprints without the padding */
    snprintf(out, outlen, "SHA256:%.*s", (int)strcspn(b, "="), b);
    free(b);
    return out;
}

struct knownhosts *knownhosts_load(const char *path, struct err *e)
{
    struct knownhosts *kh = xcalloc(1, sizeof(*kh));
    kh->path = xstrdup(path);
    kh->session = libssh2_session_init();
    if (kh->session != NULL)
        kh->hosts = libssh2_knownhost_init(kh->session);
    if (kh->hosts == NULL) {
        err_set(e, ERR_SSH, "%s: libssh2 could not start", path);
        knownhosts_free(kh);
        return NULL;
    }
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT)
            return kh;
        err_sys(e, "%s: cannot read known hosts", path);
        knownhosts_free(kh);
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        /* libssh2 reads the key up to the NUL, whatever len says. */
        line[len] = '\0';
        const char *p = line;
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        if (len == 0 || *p == '#')
            continue;
        if (*p == '@') {
            /* Markers (@cert-authority, @revoked): libssh2 has no notion
             * of them. Skipping never makes a key acceptable. */
            log_debug("%s:%d:1: known_hosts marker line skipped", path, lineno);
            continue;
        }
        if (*p != '|') /* plain names (hashed ones are of lowercase) */
            for (char *q = line + (p - line);
                 *q != '\0' && *q != ' ' && *q != '\t'; q++)
                if (*q >= 'A' && *q <= 'Z')
                    *q = (char)(*q - 'A' + 'a');
        if (libssh2_knownhost_readline(kh->hosts, p, len,
                                       LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0) {
            /* Markers (@cert-authority, @revoked) and key types libssh2
             * does not know: OpenSSH would use them, we cannot. Such a
             * line never makes a key acceptable, so skipping is safe. */
            log_debug("%s:%d:1: known_hosts line skipped (libssh2 cannot "
                      "parse it)",
                      path, lineno);
            continue;
        }
        kh->count++;
    }
    free(line);
    fclose(f);
    return kh;
}

void knownhosts_free(struct knownhosts *kh)
{
    if (kh == NULL)
        return;
    if (kh->hosts != NULL)
        libssh2_knownhost_free(kh->hosts);
    if (kh->session != NULL)
        libssh2_session_free(kh->session);
    free(kh->path);
    free(kh);
}

const char *knownhosts_path(const struct knownhosts *kh)
{
    return kh->path;
}

size_t knownhosts_count(const struct knownhosts *kh)
{
    return kh->count;
}

/* Check a raw key blob. We encode it ourselves: libssh2 1.10's own RAW
 * encoding does not compare equal to what it read from the file. */
static int knownhosts_checkp(struct knownhosts *kh, const char *host, int port,
                             const unsigned char *key, size_t len, int mask)
{
    char name[300];
    knownhosts_name(host, port, name, sizeof(name));
    char *b64 = base64_encode(key, len);
    int rc = libssh2_knownhost_checkp(
        kh->hosts, name, -1, b64, strlen(b64),
        LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_BASE64 | mask,
        NULL);
    free(b64);
    return rc;
}

const char *knownhosts_methods(struct knownhosts *kh, const char *host,
                               int port, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen > 0)
        out[0] = '\0';
    for (size_t i = 0; i < KNOWNHOSTS_NTYPES; i++) {
        /* A key that cannot be on file: MISMATCH means an entry of this
         * type exists for the host, NOTFOUND that none does. */
        int rc = knownhosts_checkp(kh, host, port, (const unsigned char *)"?",
                                   1, knownhosts_types[i].mask);
        if (rc != LIBSSH2_KNOWNHOST_CHECK_MISMATCH &&
            rc != LIBSSH2_KNOWNHOST_CHECK_MATCH)
            continue;
        int w = snprintf(out + o, outlen - o, "%s%s", o ? "," : "",
                         knownhosts_types[i].method);
        if (w < 0 || (size_t)w >= outlen - o)
            break;
        o += (size_t)w;
    }
    return out;
}

enum knownhosts_status knownhosts_check(struct knownhosts *kh, const char *host,
                                        int port, const unsigned char *key,
                                        size_t len, int hostkey_type)
{
    int mask = knownhosts_mask(hostkey_type);
    if (mask == LIBSSH2_KNOWNHOST_KEY_UNKNOWN)
        return KNOWNHOSTS_NOTFOUND;
    switch (knownhosts_checkp(kh, host, port, key, len, mask)) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
        return KNOWNHOSTS_MATCH;
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
        return KNOWNHOSTS_MISMATCH;
    default:
        return KNOWNHOSTS_NOTFOUND;
    }
}

/* Make the directory of path (0700) if it is missing; one level only, as
 * for ~/.ssh. */
static void knownhosts_mkdir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return;
    char *dir = xstrndup(path, (size_t)(slash - path));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        log_debug("mkdir %s: %s", dir, strerror(errno));
    free(dir);
}

enum err_code knownhosts_append(struct knownhosts *kh, const char *host,
                                int port, const unsigned char *key, size_t len,
                                int hostkey_type, struct err *e)
{
    const char *method = knownhosts_method_name(hostkey_type);
    if (method == NULL)
        return err_set(e, ERR_HOSTKEY, "%s: unsupported host key type %d", host,
                       hostkey_type);
    char name[300];
    knownhosts_name(host, port, name, sizeof(name));
    char *b64 = base64_encode(key, len);
    char *line = xasprintf("%s %s %s\n", name, method, b64);
    free(b64);

    knownhosts_mkdir(kh->path);
    int fd = open(kh->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(line);
        return err_sys(e, "%s: cannot add %s", kh->path, name);
    }
    /* Start on a new line if the file does not end with one. */
    struct stat st;
    char last = '\n';
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        int rfd = open(kh->path, O_RDONLY | O_CLOEXEC);
        if (rfd >= 0) {
            if (pread(rfd, &last, 1, st.st_size - 1) != 1)
                last = '\n';
            close(rfd);
        }
    }
    size_t n = strlen(line);
    bool ok = (last == '\n' || write(fd, "\n", 1) == 1) &&
              write(fd, line, n) == (ssize_t)n;
    if (!ok || close(fd) != 0) {
        free(line);
        return err_sys(e, "%s: cannot add %s", kh->path, name);
    }
    line[n - 1] = '\0'; /* libssh2 reads the key up to the NUL */
    int rc = libssh2_knownhost_readline(kh->hosts, line, n - 1,
                                        LIBSSH2_KNOWNHOST_FILE_OPENSSH);
    free(line);
    if (rc != 0)
        return err_set(e, ERR_SSH, "%s: libssh2 cannot read back %s", kh->path,
                       name);
    kh->count++;
    return ERR_OK;
}
