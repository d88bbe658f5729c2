/* agent/jobstore.c: results and the epoch as small files, written with
 * write-to-temp, fsync, rename, fsync(dir) so a crash leaves either the old
 * or the new content. */
#include "jobstore.h"

#include "buf.h"
#include "log.h"
#include "readfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct jobstore {
    char *dir;      /* the state directory, NULL in memory-only mode */
    char *jobs;     /* dir/jobs */
    uint64_t epoch; /* highest epoch seen */
    char *who;      /* who raised it (one line), or NULL: not known */
};

/* The file name of a job id: '/' becomes "%2F" ('%' is not allowed in
 * ids, so names cannot collide), and the id never starts with '.'.
 * Caller frees. */
static char *jobstore_name(const char *job, const char *suffix)
{
    size_t n = strlen(job);
    char *name = xmalloc(3 * n + strlen(suffix) + 1), *o = name;
    for (const char *p = job; *p; p++) {
        if (*p == '/') {
            memcpy(o, "%2F", 3);
            o += 3;
        } else {
            *o++ = *p;
        }
    }
    memcpy(o, suffix, strlen(suffix) + 1);
    return name;
}

/* The job id of a file name (the inverse); caller frees. */
static char *jobstore_unname(const char *name, size_t n)
{
    char *job = xmalloc(n + 1), *o = job;
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '%' && i + 2 < n && name[i + 1] == '2' &&
            name[i + 2] == 'F') {
            *o++ = '/';
            i += 2;
        } else {
            *o++ = name[i];
        }
    }
    *o = '\0';
    return job;
}

static enum err_code jobstore_mkdir(const char *d, struct err *e)
{
    if (mkdir(d, 0700) != 0 && errno != EEXIST)
        return err_sys(e, "mkdir %s", d);
    return ERR_OK;
}

static enum err_code jobstore_fsync_dir(const char *d, struct err *e)
{
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(e, "open %s", d);
    int rc = fsync(fd);
    close(fd);
    if (rc != 0)
        return err_sys(e, "fsync %s", d);
    return ERR_OK;
}

/* Atomically replace dir/name with data. */
static enum err_code jobstore_put(const char *dir, const char *name,
                                  const void *data, size_t n, struct err *e)
{
    char *tmp = xasprintf("%s/.%s.tmp", dir, name);
    char *dst = xasprintf("%s/%s", dir, name);
    enum err_code rc = ERR_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = err_sys(e, "create %s", tmp);
        goto out;
    }
    if (write(fd, data, n) != (ssize_t)n || fsync(fd) != 0) {
        rc = err_sys(e, "write %s", tmp);
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, dst) != 0) {
        rc = err_sys(e, "rename %s", dst);
        unlink(tmp);
        goto out;
    }
    rc = jobstore_fsync_dir(dir, e);
out:
    free(tmp);
    free(dst);
    return rc;
}

/* Read a small file whole into b, at most b's limit. */
static enum err_code jobstore_get(const char *path, struct buf *b,
                                  struct err *e)
{
    char *data;
    size_t len;
    size_t room = b->limit == BUF_UNLIMITED ? SIZE_MAX / 2 : b->limit - b->len;
    switch (readfile(path, room, 0, &data, &len)) {
    case READFILE_OK:
        buf_add(b, data, len);
        free(data);
        return ERR_OK;
    case READFILE_OPEN:
        if (errno == ENOENT)
            return err_set(e, ERR_NOTFOUND, "%s: no such file", path);
        return err_sys(e, "open %s", path);
    case READFILE_BIG:
        return err_set(e, ERR_PROTO, "%s: larger than a result can be", path);
    default:
        return err_sys(e, "read %s", path);
    }
}

/* A job interrupted by a crash or kill -9 of the agent. */
static void jobstore_recover(struct jobstore *s)
{
    DIR *d = opendir(s->jobs);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        const char *suffix = ".running";
        size_t sn = strlen(suffix);
        if (n <= sn || strcmp(de->d_name + n - sn, suffix) != 0)
            continue;
        char *job = jobstore_unname(de->d_name, n - sn);
        if (proto_id_valid(job)) {
            struct proto_msg r = {.type = PROTO_RESULT,
                                  .job = job,
                                  .end = PROTO_END_FAILED,
                                  .code = -1,
                                  .text = (char *)"the agent stopped while "
                                                  "the job ran; it was not "
                                                  "run again"};
            struct err e = {0};
            if (jobstore_finish(s, job, &r, &e) == ERR_OK)
                log_warn("job=%s: interrupted by an agent restart; recorded "
                         "as failed",
                         job);
            else
                log_error("job=%s: %s", job, e.msg);
        }
        free(job);
    }
    closedir(d);
}

struct jobstore *jobstore_open(const char *dir, struct err *e)
{
    struct jobstore *s = xcalloc(1, sizeof(*s));
    if (dir == NULL)
        return s;
    s->dir = xstrdup(dir);
    s->jobs = xasprintf("%s/jobs", dir);
    if (jobstore_mkdir(dir, e) != ERR_OK ||
        jobstore_mkdir(s->jobs, e) != ERR_OK) {
        jobstore_free(s);
        return NULL;
    }
    /* the number and who raised it: jobstore_set_epoch's two lines */
    struct buf b;
    buf_init(&b, JOBSTORE_EPOCH_FILE_MAX);
    char *path = xasprintf("%s/epoch", dir);
    struct err ge = {0};
    enum err_code rc = jobstore_get(path, &b, &ge);
    if (rc == ERR_OK) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(buf_cstr(&b), &end, 10);
        if (errno != 0 || end == buf_cstr(&b) || (*end != '\n' && *end)) {
            err_set(e, ERR_PARSE,
                    "%s:1:1: expected the epoch as a decimal number; fix or "
                    "remove the file",
                    path);
            rc = ERR_PARSE;
        } else {
            s->epoch = v;
            /* the second line, when there is one: who raised it */
            const char *w = *end == '\n' ? end + 1 : end;
            size_t wl = strcspn(w, "\n");
            if (wl > 0)
                s->who = xstrndup(w, wl < PROTO_WHO_MAX ? wl : PROTO_WHO_MAX);
        }
    } else if (rc != ERR_NOTFOUND) {
        err_set(e, rc, "%s", ge.msg);
    }
    free(path);
    buf_release(&b);
    if (rc != ERR_OK && rc != ERR_NOTFOUND) {
        jobstore_free(s);
        return NULL;
    }
    jobstore_recover(s);
    return s;
}

void jobstore_free(struct jobstore *s)
{
    if (s == NULL)
        return;
    free(s->dir);
    free(s->jobs);
    free(s->who);
    free(s);
}

uint64_t jobstore_epoch(const struct jobstore *s)
{
    return s->epoch;
}

const char *jobstore_epoch_who(const struct jobstore *s)
{
    return s->who;
}

enum err_code jobstore_set_epoch(struct jobstore *s, uint64_t epoch,
                                 const char *who, struct err *e)
{
    if (epoch <= s->epoch)
        return ERR_OK;
    size_t wl = who != NULL ? strcspn(who, "\n") : 0;
    if (wl > PROTO_WHO_MAX)
        wl = PROTO_WHO_MAX;
    if (s->dir != NULL) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "%" PRIu64 "\n", epoch);
        if (wl > 0) {
            buf_add(&b, who, wl);
            buf_addc(&b, '\n');
        }
        enum err_code rc = jobstore_put(s->dir, "epoch", b.data, b.len, e);
        buf_release(&b);
        if (rc != ERR_OK)
            return rc;
    }
    s->epoch = epoch;
    free(s->who);
    s->who = wl > 0 ? xstrndup(who, wl) : NULL;
    return ERR_OK;
}

enum err_code jobstore_begin(struct jobstore *s, const char *job, struct err *e)
{
    if (s->dir == NULL)
        return ERR_OK;
    char *name = jobstore_name(job, ".running");
    enum err_code rc = jobstore_put(s->jobs, name, "", 0, e);
    free(name);
    return rc;
}

enum err_code jobstore_finish(struct jobstore *s, const char *job,
                              const struct proto_msg *result, struct err *e)
{
    if (s->dir == NULL)
        return ERR_OK;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    enum err_code rc = proto_encode(result, &b, e);
    char *name = jobstore_name(job, "");
    if (rc == ERR_OK)
        rc = jobstore_put(s->jobs, name, b.data, b.len, e);
    buf_release(&b);
    if (rc == ERR_OK) {
        char *marker = xasprintf("%s/%s.running", s->jobs, name);
        unlink(marker);
        free(marker);
    }
    free(name);
    return rc;
}

enum err_code jobstore_lookup(struct jobstore *s, const char *job,
                              struct proto_msg *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    if (s->dir == NULL || !proto_id_valid(job))
        return ERR_NOTFOUND;
    char *name = jobstore_name(job, "");
    char *path = xasprintf("%s/%s", s->jobs, name);
    free(name);
    struct buf b;
    buf_init(&b, PROTO_FRAME_MAX);
    struct err ge = {0};
    enum err_code rc = jobstore_get(path, &b, &ge);
    if (rc == ERR_OK) {
        rc = proto_decode(b.data, b.len, out, &ge);
        if (rc == ERR_OK && out->type != PROTO_RESULT)
            rc = err_set(&ge, ERR_PROTO, "not a RESULT");
        if (rc != ERR_OK)
            err_set(e, ERR_PROTO, "%s: stored result unreadable: %s", path,
                    ge.msg);
    }
    free(path);
    buf_release(&b);
    return rc;
}

size_t jobstore_prune(struct jobstore *s, int64_t max_age_s)
{
    if (s->dir == NULL)
        return 0;
    DIR *d = opendir(s->jobs);
    if (d == NULL)
        return 0;
    time_t now = time(NULL);
    size_t pruned = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strstr(de->d_name, ".running") != NULL)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0)
            continue;
        if (now - st.st_mtime > max_age_s &&
            unlinkat(dirfd(d), de->d_name, 0) == 0)
            pruned++;
    }
    closedir(d);
    return pruned;
}
