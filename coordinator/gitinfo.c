/* coordinator/gitinfo.c: a few git commands run with posix_spawnp, their
 * output read whole (capped) before the deploy starts. */
#include "gitinfo.h"

#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Run git -C dir ARGS...; *out gets stdout (trailing newlines cut) when
 * it exits 0. Returns false otherwise (stderr is discarded). */
static bool gitinfo_git(const char *dir, const char *const *args, char **out)
{
    const char *argv[16] = {"git", "--no-pager", "-C", dir};
    size_t n = 4;
    for (; *args != NULL && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    /* no prompts, no pager, stable messages; the caller's env otherwise */
    size_t envn = 0;
    while (environ[envn] != NULL)
        envn++;
    char **env = xcalloc(envn + 4, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < envn; i++)
        if (strncmp(environ[i], "LC_ALL=", 7) != 0 &&
            strncmp(environ[i], "GIT_TERMINAL_PROMPT=", 20) != 0)
            env[k++] = environ[i];
    env[k++] = (char *)"LC_ALL=C";
    env[k++] = (char *)"GIT_TERMINAL_PROMPT=0";
    env[k] = NULL;
    pid_t pid;
    int rc = posix_spawnp(&pid, "git", &fa, NULL, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return false;
    }
    struct buf b;
    buf_init(&b, GITINFO_OUTPUT_MAX);
    char chunk[4096];
    for (;;) {
        ssize_t r = read(p[0], chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        buf_add(&b, chunk, (size_t)r);
    }
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        buf_release(&b);
        return false;
    }
    while (b.len > 0 &&
           (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.data[--b.len] = '\0';
    *out = b.len > 0 ? buf_detach(&b) : NULL;
    buf_release(&b);
    return true;
}

/* A commit id we pass on a command line: hex only (never an option). */
static bool gitinfo_hex(const char *s)
{
    size_t n = strlen(s);
    return n >= 4 && n <= 64 && strspn(s, "0123456789abcdef") == n;
}

enum err_code gitinfo_read(const char *path, const char *since,
                           struct gitinfo *g, struct err *e)
{
    memset(g, 0, sizeof(*g));
    struct stat st;
    char *copy = xstrdup(path);
    const char *dir =
        stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? copy : dirname(copy);
    char *head = NULL;
    static const char *const a_head[] = {"rev-parse", "--verify", "-q", "HEAD",
                                         NULL};
    if (!gitinfo_git(dir, a_head, &head) || head == NULL) {
        free(head);
        err_set(e, ERR_NOTFOUND,
                "%s is not in a git repository (or git is missing): the "
                "record has no commit; pass --changes to describe the deploy",
                path);
        free(copy);
        return ERR_NOTFOUND;
    }
    char *status = NULL;
    static const char *const a_status[] = {"status", "--porcelain",
                                           "--untracked-files=no", NULL};
    g->dirty = gitinfo_git(dir, a_status, &status) && status != NULL;
    free(status);
    g->commit = g->dirty ? xasprintf("%s-dirty", head) : xstrdup(head);
    static const char *const a_tag[] = {"describe", "--tags", "--exact-match",
                                        "HEAD", NULL};
    if (!gitinfo_git(dir, a_tag, &g->tag))
        g->tag = NULL;
    /* the commit of the last deploy, as recorded (maybe "-dirty") */
    char *base = since != NULL ? xstrndup(since, strcspn(since, "-")) : NULL;
    char *log = NULL;
    bool listed = false;
    if (base != NULL && gitinfo_hex(base) && strcmp(base, head) != 0) {
        char *range = xasprintf("%s..HEAD", base);
        const char *a_log[] = {"log", "--no-merges", "--format=%h %s", range,
                               NULL};
        listed = gitinfo_git(dir, a_log, &log);
        free(range);
    } else if (base != NULL && strcmp(base, head) == 0) {
        listed = true; /* the same commit again: no changes */
    }
    if (!listed) {
        static const char *const a_one[] = {"log", "-1", "--format=%h %s",
                                            NULL};
        if (!gitinfo_git(dir, a_one, &log))
            log = NULL;
    }
    if (log != NULL) {
        /* keep the first GITINFO_CHANGES_MAX lines, count the rest */
        size_t lines = 0, cut = 0, total = 0;
        for (const char *p = log; *p; p++)
            if (*p == '\n')
                total++;
        total++;
        for (char *p = log; *p; p++)
            if (*p == '\n' && ++lines == GITINFO_CHANGES_MAX) {
                cut = (size_t)(p - log);
                break;
            }
        if (cut > 0) {
            g->changes = xasprintf("%.*s\n... and %zu more commits", (int)cut,
                                   log, total - GITINFO_CHANGES_MAX);
            free(log);
        } else {
            g->changes = log;
        }
    }
    free(base);
    free(head);
    free(copy);
    return ERR_OK;
}

void gitinfo_release(struct gitinfo *g)
{
    free(g->commit);
    free(g->tag);
    free(g->changes);
    memset(g, 0, sizeof(*g));
}
