/* tests/unit/coordinator/demo_fixture.h: a real demo-app for the health and
 * gate tests. Starts $DEMO_APP (else $BUILD/demo-app) on 127.0.0.1 with a
 * free port and a temporary release directory, and stops it again. Static
 * functions, included by each test that needs it. */
#ifndef DROVER_TEST_DEMO_FIXTURE_H
#define DROVER_TEST_DEMO_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct demo {
    pid_t pid;          /* the demo-app, 0 when stopped */
    int port;           /* where it listens */
    char dir[PATH_MAX]; /* its --dir */
    char base[64];      /* "http://127.0.0.1:PORT" */
};

/* A port nothing listens on right now. */
static int demo_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        perror("demo_free_port");
        exit(1);
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static void demo_write(const char *path, const char *text)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        perror(path);
        exit(1);
    }
}

/* Point current at releases/N again (fresh symlink mtime). */
static void demo_relink(struct demo *d, int release)
{
    char target[32], tmp[PATH_MAX + 16], cur[PATH_MAX + 16];
    snprintf(target, sizeof(target), "releases/%d", release);
    snprintf(tmp, sizeof(tmp), "%s/current.tmp", d->dir);
    snprintf(cur, sizeof(cur), "%s/current", d->dir);
    unlink(tmp);
    if (symlink(target, tmp) != 0 || rename(tmp, cur) != 0) {
        perror("demo_relink");
        exit(1);
    }
}

/* Create releases/N with VERSION v (and BEHAVIOR, if not NULL). */
static void demo_release(struct demo *d, int release, const char *v,
                         const char *behavior)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/releases", d->dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/releases/%d", d->dir, release);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/releases/%d/VERSION", d->dir, release);
    demo_write(p, v);
    snprintf(p, sizeof(p), "%s/releases/%d/BEHAVIOR", d->dir, release);
    if (behavior != NULL)
        demo_write(p, behavior);
    else
        unlink(p);
}

/* Set the BEHAVIOR of release 1 (NULL: none). */
static void demo_behave(struct demo *d, const char *behavior)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/releases/1/BEHAVIOR", d->dir);
    if (behavior != NULL)
        demo_write(p, behavior);
    else
        unlink(p);
}

static const char *demo_binary(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("DEMO_APP");
    if (env != NULL && env[0] != '\0')
        return env;
    const char *build = getenv("BUILD");
    snprintf(path, sizeof(path), "%s/demo-app",
             build != NULL && build[0] != '\0' ? build : "build");
    return path;
}

static void demo_stop(struct demo *d);

/* Start a demo-app serving version "1" from release 1. */
static void demo_start(struct demo *d)
{
    memset(d, 0, sizeof(*d));
    /* mkdtemp's template: six 'X' the call replaces. */
    int n = snprintf(d->dir, sizeof(d->dir), "/tmp/drover-demo-");
    memset(d->dir + n, 'X', 6);
    d->dir[n + 6] = '\0';
    if (mkdtemp(d->dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    demo_release(d, 1, "1\n", NULL);
    demo_relink(d, 1);
    char pidfile[PATH_MAX + 16];
    snprintf(pidfile, sizeof(pidfile), "%s/pid", d->dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        d->port = demo_free_port();
        char listen[64];
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", d->port);
        char *argv[] = {(char *)demo_binary(),
                        (char *)"--listen",
                        listen,
                        (char *)"--dir",
                        d->dir,
                        (char *)"--pidfile",
                        pidfile,
                        NULL};
        /* fork + exec (not posix_spawn) so the child can ask to die with
         * us: a crashed test leaves no demo-app behind. */
        d->pid = fork();
        if (d->pid < 0) {
            perror("fork");
            exit(1);
        }
        if (d->pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            execv(argv[0], argv);
            fprintf(stderr, "cannot start %s: %s (build it first)\n", argv[0],
                    strerror(errno));
            _exit(127);
        }
        for (int i = 0; i < 300; i++) { /* up to 3 s */
            if (access(pidfile, F_OK) == 0) {
                snprintf(d->base, sizeof(d->base), "http://127.0.0.1:%d",
                         d->port);
                return;
            }
            int st;
            if (waitpid(d->pid, &st, WNOHANG) == d->pid)
                break; /* lost the port race: try another */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
    }
    fprintf(stderr, "demo-app (%s) did not start\n", demo_binary());
    demo_stop(d);
    exit(1);
}

static int demo_rm_one(const char *p, const struct stat *st, int flag,
                       struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void demo_stop(struct demo *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        waitpid(d->pid, NULL, 0);
        d->pid = 0;
    }
    if (d->dir[0] != '\0')
        nftw(d->dir, demo_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    d->dir[0] = '\0';
}

#endif
