/* agent/main.c: the `drover-agent` binary. Without a subcommand it is the
 * daemon (one agent, or N with --simulate); `keygen` writes its key pair;
 * `exec` sends one job to an agent. Only main() exits. */
#include "agentconf.h"
#include "agentd.h"
#include "buf.h"
#include "client.h"
#include "job.h"
#include "keyfile.h"
#include "keyport.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "zap.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_CONFIG = 3 };

static const char usage[] =
    "usage: drover-agent [--config FILE] [--foreground] [--listen ENDPOINT]\n"
    "                    [--key FILE] [--authorized-keys FILE]\n"
    "                    [--state-dir DIR] [--log-level LEVEL]\n"
    "                    [--simulate N [--simulate-exec=none|real]\n"
    "                     [--simulate-known FILE]]\n"
    "       drover-agent keygen [-f FILE] [--force]\n"
    "       drover-agent exec --connect ENDPOINT --server-key KEY|FILE\n"
    "                    --key FILE --job ID [--epoch N] [--timeout MS]\n"
    "                    [--cancel-after MS] [--output-max BYTES]\n"
    "                    [--connect-timeout MS] [--heartbeat-timeout MS]\n"
    "                    [--env NAME=VALUE]... [--stdin] [--query]\n"
    "                    [-- COMMAND]\n";

/* --- keygen -----------------------------------------------------------------
 */

static int main_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"force", no_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    const char *file = "/etc/drover/agent.key";
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
        if (c == 'f')
            file = optarg;
        else if (c == 'F')
            force = true;
        else
            return fputs(usage, stderr), EXIT_USAGE;
    }
    struct keypair kp;
    struct err e = {0};
    if (keyfile_generate(&kp, &e) != ERR_OK ||
        keyfile_write(file, &kp, force, &e) != ERR_OK) {
        fprintf(stderr, "drover-agent keygen: %s\n", e.msg);
        keyfile_wipe(&kp);
        return EXIT_FAIL;
    }
    fprintf(stderr,
            "drover-agent keygen: wrote %s (secret, 0600) and %s.pub\n"
            "pin the public key below on the coordinator (drover_agent_key "
            "or known_agents):\n",
            file, file);
    printf("%s\n", kp.public_z85);
    keyfile_wipe(&kp);
    return EXIT_OK;
}

/* --- exec -------------------------------------------------------------------
 */

static bool main_number(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] == '-' || errno != 0 || end == s || *end != '\0')
        return false;
    *out = v;
    return true;
}

static int main_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"server-key", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},
        {"job", required_argument, NULL, 'j'},
        {"epoch", required_argument, NULL, 'E'},
        {"timeout", required_argument, NULL, 't'},
        {"cancel-after", required_argument, NULL, 'C'},
        {"output-max", required_argument, NULL, 'o'},
        {"connect-timeout", required_argument, NULL, 'T'},
        {"heartbeat-timeout", required_argument, NULL, 'H'},
        {"env", required_argument, NULL, 'e'},
        {"stdin", no_argument, NULL, 'i'},
        {"query", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    struct client_options o = {.connect_timeout_ms = 5000};
    const char *server = NULL, *keypath = NULL;
    const char **env = xcalloc((size_t)argc + 1, sizeof(*env));
    size_t nenv = 0;
    bool read_stdin = false;
    uint64_t v;
    int c, rc = EXIT_USAGE;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.endpoint = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'k':
            keypath = optarg;
            break;
        case 'j':
            o.job = optarg;
            break;
        case 'e':
            if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
                fprintf(stderr, "drover-agent exec: --env wants NAME=VALUE\n");
                goto out;
            }
            env[nenv++] = optarg;
            break;
        case 'i':
            read_stdin = true;
            break;
        case 'q':
            o.query = true;
            break;
        case 'E':
        case 't':
        case 'C':
        case 'o':
        case 'T':
        case 'H':
            if (!main_number(optarg, &v)) {
                fprintf(stderr, "drover-agent exec: '%s' is not a number\n",
                        optarg);
                goto out;
            }
            if (c == 'E')
                o.epoch = v;
            else if (c == 't')
                o.timeout_ms = v;
            else if (c == 'C')
                o.cancel_after_ms = (int64_t)v;
            else if (c == 'o')
                o.output_max = v;
            else if (c == 'T')
                o.connect_timeout_ms = (int64_t)v;
            else
                o.heartbeat_timeout_ms = (int64_t)v;
            break;
        default:
            fputs(usage, stderr);
            goto out;
        }
    }
    if (optind < argc && !o.query) {
        struct buf cmd;
        buf_init(&cmd, BUF_UNLIMITED);
        for (int i = optind; i < argc; i++)
            buf_printf(&cmd, "%s%s", i > optind ? " " : "", argv[i]);
        o.command = buf_detach(&cmd);
    }
    if (o.endpoint == NULL || server == NULL || keypath == NULL ||
        o.job == NULL || (o.command == NULL && !o.query)) {
        fprintf(stderr, "drover-agent exec: --connect, --server-key, --key, "
                        "--job and a command are required\n");
        goto out;
    }
    char server_z85[KEYFILE_Z85_LEN + 1];
    struct keypair kp;
    struct err e = {0};
    if (keyfile_z85_valid(server, strlen(server)))
        memcpy(server_z85, server, sizeof(server_z85));
    else if (keyfile_load_public(server, server_z85, &e) != ERR_OK) {
        fprintf(stderr, "drover-agent exec: --server-key: %s\n", e.msg);
        goto out;
    }
    if (keyfile_load_secret(keypath, &kp, &e) != ERR_OK) {
        fprintf(stderr, "drover-agent exec: --key: %s\n", e.msg);
        goto out;
    }
    struct buf in;
    buf_init(&in, PROTO_INPUT_MAX);
    if (read_stdin) {
        char chunk[4096];
        ssize_t n;
        while ((n = read(0, chunk, sizeof(chunk))) > 0)
            buf_add(&in, chunk, (size_t)n);
        if (in.dropped > 0) {
            fprintf(stderr, "drover-agent exec: stdin over %d bytes\n",
                    PROTO_INPUT_MAX);
            buf_wipe(&in);
            keyfile_wipe(&kp);
            goto out;
        }
    }
    o.server_key = server_z85;
    o.key = &kp;
    o.env = env;
    o.input = in.data;
    o.input_len = in.len;
    rc = client_run(&o);
    buf_wipe(&in);
    keyfile_wipe(&kp);
out:
    free((char *)o.command);
    free(env);
    return rc;
}

/* --- the daemon -------------------------------------------------------------
 */

struct main_daemon {
    struct loop *loop;       /* the reactor */
    struct agentd **agents;  /* one, or N simulated */
    size_t nagents;          /* how many */
    struct loop_timer check; /* shutdown progress */
    struct loop_timer prune; /* job retention */
    int64_t stop_by;         /* shutdown deadline */
    int64_t retention_ms;    /* results kept this long */
    bool stopping;           /* SIGTERM seen */
};

static void main_check(struct loop *l, struct loop_timer *t, void *arg)
{
    struct main_daemon *d = arg;
    size_t running = 0;
    for (size_t i = 0; i < d->nagents; i++)
        running += agentd_running(d->agents[i]);
    if (running == 0 || loop_now(l) > d->stop_by) {
        if (running > 0)
            log_warn("%zu jobs still running at shutdown; killed", running);
        loop_stop(l);
        return;
    }
    loop_timer_start(l, t, 50);
}

static void main_on_term(struct loop *l, int signo, void *arg)
{
    struct main_daemon *d = arg;
    if (d->stopping)
        return;
    d->stopping = true;
    log_info("signal %s: shutting down; running jobs are killed and reported",
             sigabbrev_np(signo));
    for (size_t i = 0; i < d->nagents; i++)
        agentd_shutdown(d->agents[i]);
    d->stop_by = loop_now(l) + JOB_KILL_GRACE_MS + 3000;
    loop_timer_start(l, &d->check, 0);
}

/* Detach from the terminal once start-up succeeded: the parent waits for a
 * byte on a pipe so start-up errors still reach the caller's terminal. */
static int main_daemonize(int *notify)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        close(p[1]);
        char ok = 0;
        ssize_t n = read(p[0], &ok, 1);
        _exit(n == 1 && ok == 'k' ? EXIT_OK : EXIT_FAIL);
    }
    close(p[0]);
    setsid();
    *notify = p[1];
    return 0;
}

/* Split tcp://HOST:PORT for --simulate. */
static bool main_split(const char *ep, char *host, size_t hostlen, int *port)
{
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    const char *h = ep + 6;
    const char *colon = strrchr(h, ':');
    if (colon == NULL || (size_t)(colon - h) >= hostlen)
        return false;
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    uint64_t p;
    if (!main_number(colon + 1, &p) || p == 0 || p > 65535)
        return false;
    *port = (int)p;
    return true;
}

static void main_prune(struct loop *l, struct loop_timer *t, void *arg);

static int main_serve(const struct agentconf *conf, bool foreground,
                      size_t simulate, bool exec_none, const char *known)
{
    struct err e = {0};
    int notify = -1;
    struct keyfile_set *allowed = keyfile_set_load(conf->authorized_keys, &e);
    if (allowed == NULL) {
        fprintf(stderr, "drover-agent: authorized_keys: %s\n", e.msg);
        return EXIT_CONFIG;
    }
    if (keyfile_set_count(allowed) == 0) {
        fprintf(stderr,
                "drover-agent: %s holds no key, so no coordinator could "
                "connect: add the output of `drover keygen`\n",
                conf->authorized_keys);
        keyfile_set_free(allowed);
        return EXIT_CONFIG;
    }
    size_t n = simulate ? simulate : 1;
    struct keypair *keys = xcalloc(n, sizeof(*keys));
    char host[256] = "";
    int port0 = 0;
    int rc = EXIT_CONFIG;
    if (simulate) {
        if (!main_split(conf->listen, host, sizeof(host), &port0) ||
            port0 + (int)n - 1 > 65535) {
            fprintf(stderr,
                    "drover-agent: --simulate needs --listen "
                    "tcp://HOST:PORT with room for %zu ports\n",
                    n);
            goto out_keys;
        }
        FILE *kf = known ? fopen(known, "we") : NULL;
        if (known && kf == NULL) {
            fprintf(stderr, "drover-agent: %s: %s\n", known, strerror(errno));
            goto out_keys;
        }
        for (size_t i = 0; i < n; i++) {
            keyfile_generate(&keys[i], &e);
            if (kf)
                fprintf(kf, "%s:%d %s\n", host, port0 + (int)i,
                        keys[i].public_z85);
        }
        if (kf)
            fclose(kf);
    } else if (keyfile_load_secret(conf->key, &keys[0], &e) != ERR_OK) {
        fprintf(stderr,
                "drover-agent: key: %s (create it with `drover-agent "
                "keygen -f %s`)\n",
                e.msg, conf->key);
        goto out_keys;
    }
    if (!foreground && main_daemonize(&notify) != 0) {
        fprintf(stderr, "drover-agent: cannot detach: %s\n", strerror(errno));
        goto out_keys;
    }
    /* each simulated agent holds a listener, a mailbox and connections */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    rc = EXIT_FAIL;
    struct main_daemon d = {.retention_ms = conf->retention_ms};
    d.loop = loop_new(&e);
    if (d.loop == NULL) {
        fprintf(stderr, "drover-agent: %s\n", e.msg);
        goto out_keys;
    }
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, (int)n + 64);
    struct job_table *jt = job_table_new(d.loop, &e);
    struct zap *zap = jt ? zap_new(d.loop, ctx, allowed, &e) : NULL;
    if (zap == NULL) {
        fprintf(stderr, "drover-agent: %s\n", e.msg);
        goto out_loop;
    }
    struct agentd_sock *asock = agentd_sock_new(
        d.loop, ctx, simulate > 1 ? -1 : (int)conf->heartbeat_ms, &e);
    if (asock == NULL) {
        fprintf(stderr, "drover-agent: %s\n", e.msg);
        goto out_loop;
    }
    d.agents = xcalloc(n, sizeof(*d.agents));
    for (size_t i = 0; i < n; i++) {
        char name[32], ep[300], *dir = NULL;
        struct agentd_options o = {
            .name = "agent",
            .listen = conf->listen,
            .key = &keys[i],
            .state_dir = conf->state_dir,
            .output_max = conf->output_max,
            .max_jobs = conf->max_jobs,
            .kill_grace_ms = conf->kill_grace_ms,
        };
        if (simulate) {
            snprintf(name, sizeof(name), "sim-%zu", i);
            snprintf(ep, sizeof(ep), "tcp://%s:%d", host, port0 + (int)i);
            o.name = name;
            o.listen = ep;
            o.exec_none = exec_none;
            if (exec_none) {
                o.state_dir = NULL;
            } else {
                mkdir(conf->state_dir, 0700);
                dir = xasprintf("%s/%s", conf->state_dir, name);
                o.state_dir = dir;
            }
        }
        d.agents[i] = agentd_new(asock, jt, &o, &e);
        free(dir);
        if (d.agents[i] == NULL) {
            fprintf(stderr, "drover-agent: %s\n", e.msg);
            goto out_agents;
        }
        d.nagents++;
    }
    /* the ZAP handler must refuse a stranger before anything is served */
    char self[300];
    const char *bound = agentd_endpoint(d.agents[0]);
    const char *port = strrchr(bound, ':');
    snprintf(self, sizeof(self), "tcp://127.0.0.1%s", port ? port : ":7447");
    if (strncmp(bound, "tcp://0.0.0.0:", 14) != 0 &&
        strncmp(bound, "tcp://[::]:", 11) != 0)
        snprintf(self, sizeof(self), "%s", bound);
    if (zap_selftest(zap, d.loop, ctx, self, keys[0].public_z85, &e) !=
        ERR_OK) {
        fprintf(stderr, "drover-agent: %s\n", e.msg);
        goto out_agents;
    }
    struct keyport *kport = NULL;
    char khost[256];
    int kport_n = 0;
    if (!simulate && conf->announce_key &&
        main_split(conf->listen, khost, sizeof(khost), &kport_n)) {
        kport = keyport_new(d.loop, khost, kport_n + 1, keys[0].public_z85, &e);
        if (kport == NULL) {
            fprintf(stderr, "drover-agent: %s\n", e.msg);
            goto out_agents;
        }
    }
    loop_timer_init(&d.check, main_check, &d);
    loop_timer_init(&d.prune, main_prune, &d);
    if (loop_signal(d.loop, SIGTERM, main_on_term, &d, &e) < 0 ||
        loop_signal(d.loop, SIGINT, main_on_term, &d, &e) < 0) {
        fprintf(stderr, "drover-agent: %s\n", e.msg);
        goto out_agents;
    }
    if (!simulate)
        loop_timer_start(d.loop, &d.prune, 0);
    if (simulate)
        log_info("%zu simulated agents on %s ports %d-%d (exec %s), %zu "
                 "coordinator keys authorized",
                 n, host, port0, port0 + (int)n - 1,
                 exec_none ? "none" : "real", keyfile_set_count(allowed));
    else
        log_info("listening on %s as %.8s..., %zu coordinator keys "
                 "authorized, state in %s",
                 agentd_endpoint(d.agents[0]), keys[0].public_z85,
                 keyfile_set_count(allowed), conf->state_dir);
    if (notify >= 0) {
        if (write(notify, "k", 1) != 1)
            log_warn("could not tell the parent that start-up succeeded");
        close(notify);
        notify = -1;
    }
    rc = loop_run(d.loop, &e) == 0 ? EXIT_OK : EXIT_FAIL;
    if (rc != EXIT_OK)
        log_error("%s", e.msg);
    log_info("stopped");
    keyport_free(kport);
out_agents:
    for (size_t i = 0; i < d.nagents; i++)
        agentd_free(d.agents[i]);
    free(d.agents);
    agentd_sock_free(asock);
out_loop:
    zap_free(zap);
    zmq_ctx_term(ctx);
    job_table_free(jt);
    loop_free(d.loop);
out_keys:
    for (size_t i = 0; i < n; i++)
        keyfile_wipe(&keys[i]);
    free(keys);
    keyfile_set_free(allowed);
    if (notify >= 0)
        close(notify);
    return rc;
}

static void main_prune(struct loop *l, struct loop_timer *t, void *arg)
{
    struct main_daemon *d = arg;
    size_t pruned = 0;
    for (size_t i = 0; i < d->nagents; i++)
        pruned += agentd_prune(d->agents[i], d->retention_ms);
    if (pruned > 0)
        log_info("pruned %zu job results older than the retention", pruned);
    loop_timer_start(l, t, 3600 * 1000);
}

static int main_daemon(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"listen", required_argument, NULL, 'l'},
        {"key", required_argument, NULL, 'k'},
        {"authorized-keys", required_argument, NULL, 'a'},
        {"state-dir", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, 'L'},
        {"simulate", required_argument, NULL, 'S'},
        {"simulate-exec", required_argument, NULL, 'X'},
        {"simulate-known", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct agentconf conf;
    agentconf_init(&conf);
    const char *config = NULL, *known = NULL;
    bool foreground = false, exec_none = false;
    uint64_t simulate = 0;
    struct {
        const char *key, *value;
    } overrides[8];
    size_t nover = 0;
    int c, rc = EXIT_USAGE;
    while ((c = getopt_long(argc, argv, "c:fv", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            foreground = true;
            break;
        case 'v':
            overrides[nover].key = "log_level";
            overrides[nover++].value = "debug";
            break;
        case 'l':
        case 'k':
        case 'a':
        case 'd':
        case 'L':
            if (nover < sizeof(overrides) / sizeof(overrides[0])) {
                overrides[nover].key = c == 'l'   ? "listen"
                                       : c == 'k' ? "key"
                                       : c == 'a' ? "authorized_keys"
                                       : c == 'd' ? "state_dir"
                                                  : "log_level";
                overrides[nover++].value = optarg;
            }
            break;
        case 'S':
            if (!main_number(optarg, &simulate) || simulate == 0 ||
                simulate > 10000) {
                fprintf(stderr, "drover-agent: --simulate wants 1..10000\n");
                goto out;
            }
            break;
        case 'X':
            if (strcmp(optarg, "none") == 0)
                exec_none = true;
            else if (strcmp(optarg, "real") != 0) {
                fprintf(stderr,
                        "drover-agent: --simulate-exec is none or real\n");
                goto out;
            }
            break;
        case 'K':
            known = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            rc = EXIT_OK;
            goto out;
        default:
            fputs(usage, stderr);
            goto out;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        goto out;
    }
    struct err e = {0};
    rc = EXIT_CONFIG;
    if (agentconf_load(&conf, config ? config : AGENTCONF_PATH, &e) != ERR_OK &&
        (config != NULL || e.code != ERR_NOTFOUND)) {
        fprintf(stderr, "drover-agent: %s\n", e.msg);
        goto out;
    }
    err_clear(&e);
    for (size_t i = 0; i < nover; i++)
        if (agentconf_set(&conf, overrides[i].key, overrides[i].value,
                          "command line", &e) != ERR_OK) {
            fprintf(stderr, "drover-agent: %s\n", e.msg);
            goto out;
        }
    log_set_level(conf.log_level);
    rc = main_serve(&conf, foreground, (size_t)simulate, exec_none, known);
out:
    agentconf_release(&conf);
    return rc;
}

int main(int argc, char **argv)
{
    log_set_ident("drover-agent");
    signal(SIGPIPE, SIG_IGN);
    /* the agent holds secrets (env values, stdin): no core dumps */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (argc > 1 && strcmp(argv[1], "keygen") == 0)
        return main_keygen(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "exec") == 0)
        return main_exec(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("drover-agent 0.1.0\n");
        return EXIT_OK;
    }
    return main_daemon(argc, argv);
}
