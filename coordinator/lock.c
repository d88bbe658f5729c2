/* coordinator/lock.c: the coordinator lock (OFD locks on a file in the
 * state directory) and its fencing epochs. The order of an acquisition is
 * lock, then epoch (durable), then identity: a loser that reads the file
 * before the winner wrote it, or reads the identity a killed holder left
 * behind, waits a moment for the winner's (lock_read_holder). */
#include "lock.h"

#include "clock.h"
#include "log.h"
#include "statedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

struct lock {
    int fd;                    /* the lock file, holding the OFD lock */
    char *name;                /* lock name */
    char *path;                /* STATE/locks/NAME.lock */
    struct lock_holder holder; /* our identity as written */
};

static void lock_fmt_time(int64_t ms, char *out, size_t outlen)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, outlen, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
        snprintf(out, outlen, "?");
}

const char *lock_holder_str(const struct lock_holder *h, char *out,
                            size_t outlen)
{
    char since[32];
    lock_fmt_time(h->since_ms, since, sizeof(since));
    snprintf(out, outlen, "%s@%s pid %ld, deploy %s, since %s, epoch %" PRIu64,
             h->user[0] ? h->user : "?", h->host[0] ? h->host : "?", h->pid,
             h->deploy[0] ? h->deploy : "(starting)", since, h->epoch);
    return out;
}

/* Copy the value of "key=value" lines into h; unknown keys are ignored. */
static bool lock_parse_holder(const char *text, struct lock_holder *h)
{
    memset(h, 0, sizeof(*h));
    const char *p = text;
    while (*p != '\0') {
        size_t len = strcspn(p, "\n");
        const char *eq = memchr(p, '=', len);
        if (eq != NULL) {
            size_t kl = (size_t)(eq - p);
            int vl = (int)(len - kl - 1);
            const char *v = eq + 1;
            char num[32];
            snprintf(num, sizeof(num), "%.*s", vl, v);
            if (kl == 4 && memcmp(p, "user", 4) == 0)
                snprintf(h->user, sizeof(h->user), "%.*s", vl, v);
            else if (kl == 4 && memcmp(p, "host", 4) == 0)
                snprintf(h->host, sizeof(h->host), "%.*s", vl, v);
            else if (kl == 3 && memcmp(p, "pid", 3) == 0)
                h->pid = strtol(num, NULL, 10);
            else if (kl == 6 && memcmp(p, "deploy", 6) == 0)
                snprintf(h->deploy, sizeof(h->deploy), "%.*s", vl, v);
            else if (kl == 5 && memcmp(p, "since", 5) == 0)
                h->since_ms = strtoll(num, NULL, 10);
            else if (kl == 5 && memcmp(p, "epoch", 5) == 0)
                h->epoch = strtoull(num, NULL, 10);
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    return h->pid > 0 && h->epoch > 0 && h->host[0] != '\0';
}

/* The identity in the file is the live holder's: complete, and not left
 * behind by a dead process of this host. */
static bool lock_holder_live(const struct lock_holder *h)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    if (strcmp(host, h->host) != 0)
        return true;
    return kill((pid_t)h->pid, 0) == 0 || errno == EPERM;
}

static bool lock_read_holder(int fd, struct lock_holder *h)
{
    char text[1024];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    if (n <= 0)
        return false;
    text[n] = '\0';
    return lock_parse_holder(text, h) && lock_holder_live(h);
}

static enum err_code lock_write_holder(struct lock *lk, struct err *e)
{
    const struct lock_holder *h = &lk->holder;
    char text[1024];
    int n =
        snprintf(text, sizeof(text),
                 "user=%s\nhost=%s\npid=%ld\ndeploy=%s\nsince=%" PRId64
                 "\nepoch=%" PRIu64 "\n",
                 h->user, h->host, h->pid, h->deploy, h->since_ms, h->epoch);
    /* One write at offset 0, then cut: a reader sees old or new bytes. */
    if (pwrite(lk->fd, text, (size_t)n, 0) != n || ftruncate(lk->fd, n) != 0 ||
        fsync(lk->fd) != 0)
        return err_sys(e, "lock %s: cannot write the holder to %s", lk->name,
                       lk->path);
    return ERR_OK;
}

/* The epoch in file STATE/rel (0 when missing); name for messages. */
static enum err_code lock_epoch_file(const char *dir, const char *rel,
                                     const char *name, uint64_t *epoch,
                                     struct err *e)
{
    char *path = xasprintf("%s/%s", dir, rel);
    char *text = NULL;
    struct err rerr = {0};
    enum err_code rc = statedir_read(path, &text, &rerr);
    if (rc == ERR_NOTFOUND) {
        *epoch = 0;
        free(path);
        return ERR_OK;
    }
    if (rc != ERR_OK) {
        err_set(e, rc, "%s", rerr.msg);
        free(path);
        return rc;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || (*end != '\n' && *end != '\0') ||
        text[0] == '-' || v == 0) {
        /* Never restart from 0: agents would take a stale coordinator
         * for the current one. */
        rc = err_set(e, ERR_PARSE,
                     "%s:1:1: not an epoch number; the fencing epoch of lock "
                     "%s cannot be trusted: restore it (it must be at least "
                     "the highest epoch your agents and hosts have seen)",
                     path, name);
    } else {
        *epoch = v;
    }
    free(text);
    free(path);
    return rc;
}

enum err_code lock_epoch_read(const char *dir, const char *name,
                              uint64_t *epoch, struct err *e)
{
    char *rel = xasprintf("epochs/%s", name);
    enum err_code rc = lock_epoch_file(dir, rel, name, epoch, e);
    free(rel);
    return rc;
}

/* Open and flock STATE/epoch.lock; -1 with e set on failure. */
static int lock_epoch_lock(const char *dir, const char *name, struct err *e)
{
    char *lpath = xasprintf("%s/epoch.lock", dir);
    int lfd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0) {
        err_sys(e, "lock %s: cannot open %s", name, lpath);
        free(lpath);
        return -1;
    }
    free(lpath);
    while (flock(lfd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(lfd);
            err_sys(e, "lock %s: cannot lock the epoch counter", name);
            return -1;
        }
    }
    return lfd;
}

enum err_code lock_epoch_floor(const char *dir, uint64_t floor, struct err *e)
{
    int lfd = lock_epoch_lock(dir, "(take over)", e);
    if (lfd < 0)
        return ERR_SYS;
    uint64_t global = 0;
    enum err_code rc = lock_epoch_file(dir, "epoch", "(take over)", &global, e);
    if (rc == ERR_OK && global < floor) {
        char text[32];
        int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", floor);
        char *gpath = xasprintf("%s/epoch", dir);
        rc = statedir_write_durable(gpath, text, (size_t)n, e);
        free(gpath);
    }
    close(lfd);
    return rc;
}

/* The next epoch: one more than any epoch this state directory ever
 * handed out, under any lock name (STATE/epoch), so that a host deployed
 * by two plans in turn never sees an epoch go down. A short flock on
 * STATE/epoch.lock serializes acquisitions of different names. */
static enum err_code lock_epoch_next(const char *dir, const char *name,
                                     uint64_t *epoch, struct err *e)
{
    int lfd = lock_epoch_lock(dir, name, e);
    if (lfd < 0)
        return ERR_SYS;
    uint64_t mine = 0, global = 0;
    enum err_code rc = lock_epoch_read(dir, name, &mine, e);
    if (rc == ERR_OK)
        rc = lock_epoch_file(dir, "epoch", name, &global, e);
    if (rc == ERR_OK) {
        uint64_t next = (mine > global ? mine : global) + 1;
        char text[32];
        int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", next);
        char *gpath = xasprintf("%s/epoch", dir);
        char *path = xasprintf("%s/epochs/%s", dir, name);
        /* the name's file first: a crash between the two leaves the
         * global counter behind, and max() still moves on */
        rc = statedir_write_durable(path, text, (size_t)n, e);
        if (rc == ERR_OK)
            rc = statedir_write_durable(gpath, text, (size_t)n, e);
        free(path);
        free(gpath);
        if (rc == ERR_OK)
            *epoch = next;
    }
    close(lfd); /* drops the flock */
    return rc;
}

static int lock_try(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    return fcntl(fd, F_OFD_SETLK, &fl);
}

static void lock_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void lock_fill_identity(struct lock_holder *h, const char *deploy)
{
    memset(h, 0, sizeof(*h));
    struct passwd *pw = getpwuid(geteuid());
    const char *user = pw != NULL ? pw->pw_name : getenv("USER");
    snprintf(h->user, sizeof(h->user), "%s", user != NULL ? user : "?");
    gethostname(h->host, sizeof(h->host) - 1);
    h->pid = (long)getpid();
    snprintf(h->deploy, sizeof(h->deploy), "%s", deploy ? deploy : "");
    h->since_ms = clock_wall_ms();
}

enum err_code lock_acquire(const char *dir, const char *name,
                           const char *deploy, int64_t wait_ms,
                           struct lock **out, struct lock_holder *holder,
                           struct err *e)
{
    if (!statedir_name_ok(name))
        return err_set(e, ERR_INVALID,
                       "lock name '%s': use 1-64 letters, digits, '.', '_' "
                       "or '-' (set the plan's `lock:` key)",
                       name);
    char *locks = NULL, *epochs = NULL;
    if (statedir_sub(dir, "locks", &locks, e) != ERR_OK)
        return e->code;
    if (statedir_sub(dir, "epochs", &epochs, e) != ERR_OK) {
        free(locks);
        return e->code;
    }
    char *path = xasprintf("%s/%s.lock", locks, name);
    free(locks);
    free(epochs);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err_sys(e, "lock %s: cannot open %s", name, path);
        free(path);
        return ERR_SYS;
    }
    int64_t start = clock_mono_ms();
    struct lock_holder other;
    bool named = false;
    for (;;) {
        if (lock_try(fd) == 0)
            break;
        if (errno != EAGAIN && errno != EACCES) {
            err_sys(e, "lock %s: cannot lock %s", name, path);
            goto fail;
        }
        int64_t waited = clock_mono_ms() - start;
        named = lock_read_holder(fd, &other);
        if (waited >= wait_ms && (named || waited >= LOCK_HOLDER_SETTLE_MS)) {
            char who[512];
            if (named)
                lock_holder_str(&other, who, sizeof(who));
            else
                snprintf(who, sizeof(who), "a coordinator starting up");
            if (holder != NULL) {
                if (named)
                    *holder = other;
                else
                    memset(holder, 0, sizeof(*holder));
            }
            err_set(e, ERR_LOCKED,
                    "lock %s is held by %s; wait for it to finish, or pass "
                    "--lock-wait DURATION",
                    name, who);
            goto fail;
        }
        /* Waiting for the identity only: poll fast; else LOCK_POLL_MS. */
        int64_t nap = waited >= wait_ms ? 5 : LOCK_POLL_MS;
        if (waited < wait_ms && wait_ms - waited < nap)
            nap = wait_ms - waited;
        lock_sleep_ms(nap > 0 ? nap : 1);
    }
    struct lock *lk = xcalloc(1, sizeof(*lk));
    lk->fd = fd;
    lk->name = xstrdup(name);
    lk->path = path;
    lock_fill_identity(&lk->holder, deploy);
    if (lock_epoch_next(dir, name, &lk->holder.epoch, e) != ERR_OK ||
        lock_write_holder(lk, e) != ERR_OK) {
        lock_release(lk);
        return e->code;
    }
    log_debug("lock=%s epoch=%" PRIu64 ": acquired", name, lk->holder.epoch);
    *out = lk;
    return ERR_OK;
fail:
    close(fd);
    free(path);
    return e->code;
}

uint64_t lock_epoch(const struct lock *lk)
{
    return lk->holder.epoch;
}

const char *lock_name(const struct lock *lk)
{
    return lk->name;
}

enum err_code lock_set_deploy(struct lock *lk, const char *deploy,
                              struct err *e)
{
    snprintf(lk->holder.deploy, sizeof(lk->holder.deploy), "%s", deploy);
    return lock_write_holder(lk, e);
}

void lock_release(struct lock *lk)
{
    if (lk == NULL)
        return;
    /* Clear the identity while still holding the lock. */
    if (ftruncate(lk->fd, 0) != 0)
        log_warn("lock=%s: cannot clear %s", lk->name, lk->path);
    close(lk->fd);
    free(lk->name);
    free(lk->path);
    free(lk);
}

enum err_code lock_probe(const char *dir, const char *name, bool *held,
                         struct lock_holder *holder, struct err *e)
{
    if (!statedir_name_ok(name))
        return err_set(e, ERR_INVALID, "lock name '%s' is not valid", name);
    char *path = xasprintf("%s/locks/%s.lock", dir, name);
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        enum err_code rc = ERR_OK;
        if (errno == ENOENT)
            *held = false;
        else
            rc = err_sys(e, "lock %s: cannot open %s", name, path);
        free(path);
        return rc;
    }
    free(path);
    /* F_OFD_GETLK only asks: it never takes the lock, so a status probe
     * cannot make a starting deploy fail. */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0) {
        err_sys(e, "lock %s: cannot query it", name);
        close(fd);
        return ERR_SYS;
    }
    *held = fl.l_type != F_UNLCK;
    if (*held) {
        int64_t start = clock_mono_ms();
        while (!lock_read_holder(fd, holder) &&
               clock_mono_ms() - start < LOCK_HOLDER_SETTLE_MS)
            lock_sleep_ms(5);
    }
    close(fd);
    return ERR_OK;
}

static int lock_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum err_code lock_names(const char *dir, char ***names, struct err *e)
{
    char *path = xasprintf("%s/locks", dir);
    DIR *d = opendir(path);
    size_t n = 0;
    char **v = xcalloc(1, sizeof(char *));
    if (d == NULL) {
        enum err_code rc = ERR_OK;
        if (errno != ENOENT)
            rc = err_sys(e, "cannot list %s", path);
        free(path);
        *names = v;
        return rc;
    }
    const struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len <= 5 || strcmp(de->d_name + len - 5, ".lock") != 0)
            continue;
        v = xrealloc(v, (n + 2) * sizeof(char *));
        v[n++] = xstrndup(de->d_name, len - 5);
        v[n] = NULL;
    }
    closedir(d);
    free(path);
    qsort(v, n, sizeof(char *), lock_cmp);
    *names = v;
    return ERR_OK;
}

void lock_names_free(char **names)
{
    if (names == NULL)
        return;
    for (char **p = names; *p != NULL; p++)
        free(*p);
    free(names);
}
