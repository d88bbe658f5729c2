/* coordinator/statedir.c: find, create and check the state directory, and
 * write its files durably. */
#include "statedir.h"

#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

char *statedir_default(void)
{
    const char *env = getenv("DROVER_STATE_DIR");
    if (env != NULL && *env != '\0')
        return xstrdup(env);
    if (geteuid() == 0)
        return xstrdup("/var/lib/drover");
    const char *xdg = getenv("XDG_STATE_HOME");
    if (xdg != NULL && xdg[0] == '/')
        return xasprintf("%s/drover", xdg);
    const char *home = getenv("HOME");
    return xasprintf("%s/.local/state/drover",
                     home != NULL && *home != '\0' ? home : ".");
}

/* A path the state directory cannot be at (errno says why): like every
 * state directory drover may not use, the operator's to fix (exit 2). */
static enum err_code statedir_unusable(const char *what, const char *path,
                                       struct err *e)
{
    return err_set(e, ERR_USAGE, "state dir: %s %s: %s; pass --state-dir DIR",
                   what, path, strerror(errno));
}

/* mkdir -p with 0700 for the directories we create. */
static enum err_code statedir_mkdirs(const char *path, struct err *e)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s != '\0'; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            statedir_unusable("cannot create", p, e);
            free(p);
            return ERR_USAGE;
        }
        *s = '/';
    }
    free(p);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return statedir_unusable("cannot create", path, e);
    return ERR_OK;
}

/* A directory drover may use: ERR_USAGE (the operator's to fix, exit 2)
 * when it cannot be looked at, is not one, is another user's, or others
 * may write in it. */
static enum err_code statedir_check(const char *path, struct err *e)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOTDIR)
            return err_set(e, ERR_USAGE,
                           "state dir %s: a part of the path is not a "
                           "directory; pass --state-dir DIR",
                           path);
        return statedir_unusable("cannot use", path, e);
    }
    if (!S_ISDIR(st.st_mode))
        return err_set(e, ERR_USAGE,
                       "state dir %s is not a directory; pass --state-dir DIR",
                       path);
    if (st.st_uid != geteuid())
        return err_set(e, ERR_USAGE,
                       "state dir %s belongs to uid %u, not to us (uid %u); "
                       "use your own with --state-dir DIR",
                       path, (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return err_set(e, ERR_USAGE,
                       "state dir %s is writable by group or others; "
                       "run `chmod 700 %s`",
                       path, path);
    return ERR_OK;
}

/* The directory --state-dir (flag, or NULL) names; caller frees. */
static char *statedir_path(const char *flag)
{
    return flag != NULL ? xstrdup(flag) : statedir_default();
}

enum err_code statedir_open(const char *flag, char **out, struct err *e)
{
    if (flag != NULL && *flag == '\0')
        return err_set(e, ERR_USAGE, "--state-dir: empty path");
    char *path = statedir_path(flag);
    if (statedir_mkdirs(path, e) != ERR_OK ||
        statedir_check(path, e) != ERR_OK) {
        free(path);
        return e->code;
    }
    *out = path;
    return ERR_OK;
}

enum err_code statedir_find(const char *flag, char **out, struct err *e)
{
    if (flag != NULL && *flag == '\0')
        return err_set(e, ERR_USAGE, "--state-dir: empty path");
    char *path = statedir_path(flag);
    struct stat st;
    /* missing: nothing to read yet, which the reader says its own way */
    if ((stat(path, &st) != 0 && errno == ENOENT) ||
        statedir_check(path, e) == ERR_OK) {
        *out = path;
        return ERR_OK;
    }
    free(path);
    return e->code;
}

enum err_code statedir_sub(const char *dir, const char *sub, char **out,
                           struct err *e)
{
    char *path = xasprintf("%s/%s", dir, sub);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        err_sys(e, "state dir: cannot create %s", path);
        free(path);
        return ERR_SYS;
    }
    if (statedir_check(path, e) != ERR_OK) {
        free(path);
        return e->code;
    }
    *out = path;
    return ERR_OK;
}

enum err_code statedir_sync_parent(const char *path, struct err *e)
{
    char *copy = xstrdup(path);
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        err_sys(e, "state dir: cannot open %s to fsync it", dir);
        free(copy);
        return ERR_SYS;
    }
    enum err_code rc = ERR_OK;
    if (fsync(fd) != 0)
        rc = err_sys(e, "state dir: fsync of %s failed", dir);
    close(fd);
    free(copy);
    return rc;
}

enum err_code statedir_write_durable(const char *path, const void *data,
                                     size_t n, struct err *e)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd =
        open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err_sys(e, "cannot create %s", tmp);
        free(tmp);
        return ERR_SYS;
    }
    const char *p = data;
    size_t left = n;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err_sys(e, "cannot write %s", tmp);
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        err_sys(e, "fsync of %s failed (the disk cannot be trusted; stop)",
                tmp);
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        err_sys(e, "cannot close %s", tmp);
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        err_sys(e, "cannot rename %s to %s", tmp, path);
        goto fail;
    }
    free(tmp);
    return statedir_sync_parent(path, e);
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return e != NULL ? e->code : ERR_SYS;
}

enum err_code statedir_identity(const char *dir, char *out, struct err *e)
{
    char *path = xasprintf("%s/id", dir);
    char *text = NULL;
    struct err re = {0};
    enum err_code rc = statedir_read(path, &text, &re);
    if (rc == ERR_OK) {
        size_t n = strspn(text, "0123456789abcdef");
        if (n == STATEDIR_ID_LEN && (text[n] == '\n' || text[n] == '\0')) {
            memcpy(out, text, STATEDIR_ID_LEN);
            out[STATEDIR_ID_LEN] = '\0';
        } else {
            rc = err_set(e, ERR_PARSE,
                         "%s:1:1: not a state directory id (%d hex digits); "
                         "remove the file to make a new one",
                         path, STATEDIR_ID_LEN);
        }
        free(text);
        free(path);
        return rc;
    }
    if (rc != ERR_NOTFOUND) {
        err_set(e, rc, "%s", re.msg);
        free(path);
        return rc;
    }
    unsigned char raw[STATEDIR_ID_LEN / 2];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        free(path);
        return err_sys(e, "state directory %s: no random bytes for its id",
                       dir);
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    char line[STATEDIR_ID_LEN + 2];
    int n = snprintf(line, sizeof(line), "%s\n", out);
    rc = statedir_write_durable(path, line, (size_t)n, e);
    free(path);
    return rc;
}

enum err_code statedir_read(const char *path, char **out, struct err *e)
{
    size_t len;
    switch (readfile(path, STATEDIR_FILE_MAX, READFILE_NOFOLLOW, out, &len)) {
    case READFILE_OK:
        return ERR_OK;
    case READFILE_OPEN:
        if (errno == ENOENT)
            return err_set(e, ERR_NOTFOUND, "%s does not exist", path);
        return err_sys(e, "cannot open %s", path);
    case READFILE_BIG:
        return err_set(e, ERR_LIMIT, "%s is larger than %d bytes", path,
                       STATEDIR_FILE_MAX);
    default:
        return err_sys(e, "cannot read %s", path);
    }
}

bool statedir_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '.')
        return false;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._-") == n;
}
