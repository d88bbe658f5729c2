/* bench/agent_round.c: the coordinator side of the agent benchmark. It
 * connects the real agent transport (coordinator/agentconn.c) to every
 * agent in a known_agents file, then runs rounds of one command on all of
 * them, timing each round from the first dispatch to the last result, and
 * reports the coordinator's CPU time and resident memory per host.
 *
 *   agent_round KNOWN_AGENTS COORDINATOR_KEY ROUNDS [COMMAND]
 *
 * One line of key=value results on stdout. Built by bench/agent.sh. */
#include "agentconn.h"
#include "clock.h"
#include "log.h"
#include "loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct bhost {
    struct conn *c; /* the conn */
    char name[64];  /* host:port */
    char addr[64];  /* address */
    int port;       /* port */
    bool opened;    /* opened (ok or not) */
    bool ok;        /* opened without error */
    bool done;      /* this round's result arrived */
    bool good;      /* ... and exited 0 */
};

static size_t nopened, ndone;

static void b_opened(struct conn *c, const struct err *e, void *arg)
{
    (void)c;
    struct bhost *h = arg;
    h->opened = true;
    h->ok = e == NULL;
    if (e != NULL)
        fprintf(stderr, "%s: %s\n", h->name, e->msg);
    nopened++;
}

static void b_output(struct conn *c, int stream, const char *data, size_t len,
                     void *arg)
{
    (void)c;
    (void)stream;
    (void)data;
    (void)len;
    (void)arg;
}

static void b_done(struct conn *c, const struct exec_result *r, void *arg)
{
    (void)c;
    struct bhost *h = arg;
    h->done = true;
    h->good = exec_result_ok(r);
    ndone++;
}

static const struct conn_cb bcb = {b_opened, b_output, b_done};

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: agent_round KNOWN_AGENTS COORDINATOR_KEY "
                        "ROUNDS [COMMAND]\n");
        return 2;
    }
    log_set_level(LOG_WARN);
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    int rounds = (int)strtol(argv[3], NULL, 10);
    if (rounds < 1)
        rounds = 1;
    const char *command = argc > 4 ? argv[4] : "true";

    FILE *f = fopen(argv[1], "r");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    size_t n = 0, cap = 1024;
    struct bhost *hosts = calloc(cap, sizeof(*hosts));
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        char hp[128];
        if (sscanf(line, "%127s", hp) != 1 || hp[0] == '#')
            continue;
        char *colon = strrchr(hp, ':');
        if (colon == NULL)
            continue;
        if (n == cap) {
            cap *= 2;
            hosts = realloc(hosts, cap * sizeof(*hosts));
            memset(hosts + n, 0, (cap - n) * sizeof(*hosts));
        }
        *colon = '\0';
        snprintf(hosts[n].addr, sizeof(hosts[n].addr), "%s", hp);
        hosts[n].port = (int)strtol(colon + 1, NULL, 10);
        snprintf(hosts[n].name, sizeof(hosts[n].name), "%s:%d", hp,
                 hosts[n].port);
        n++;
    }
    fclose(f);

    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct agent_options o;
    agent_options_init(&o);
    o.key_file = argv[2];
    o.known_agents = argv[1];
    o.connect_timeout_ms = 60000;
    o.heartbeat_ms = 5000;
    o.heartbeat_timeout_ms = 30000;
    const char *cc = getenv("AGENT_BENCH_CONCURRENCY");
    if (cc != NULL)
        o.connect_concurrency = (int)strtol(cc, NULL, 10);
    long rss0 = rss_kb();
    int64_t cpu0 = clock_cpu_ms();
    struct transport *t = agentconn_transport_new(l, &o, &e);
    if (t == NULL) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int64_t t0 = clock_mono_ms();
    for (size_t i = 0; i < n; i++) {
        struct target tg = {.name = hosts[i].name,
                            .address = hosts[i].addr,
                            .port = hosts[i].port};
        hosts[i].c = transport_connect(t, &tg, &bcb, &hosts[i]);
    }
    while (nopened < n)
        loop_run_once(l, 100, &e);
    int64_t connect_ms = clock_mono_ms() - t0;
    int64_t cpu_connect = clock_cpu_ms() - cpu0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += hosts[i].ok;
    long rss1 = rss_kb();

    int64_t *ms = calloc((size_t)rounds + 1, sizeof(*ms));
    int64_t cpu1 = clock_cpu_ms();
    size_t good = 0;
    for (int r = 0; r < rounds; r++) {
        ndone = 0;
        size_t want = 0;
        int64_t r0 = clock_mono_ns();
        for (size_t i = 0; i < n; i++) {
            if (!hosts[i].ok)
                continue;
            hosts[i].done = false;
            struct exec_spec s = {.command = command};
            if (conn_exec(hosts[i].c, &s, &e) == ERR_OK)
                want++;
        }
        while (ndone < want)
            loop_run_once(l, 100, &e);
        ms[r] = (clock_mono_ns() - r0) / 1000;
        good = 0;
        for (size_t i = 0; i < n; i++)
            good += hosts[i].ok && hosts[i].good;
    }
    int64_t cpu_rounds = clock_cpu_ms() - cpu1;
    long rss2 = rss_kb();
    qsort(ms, (size_t)rounds, sizeof(*ms), cmp_i64);
    printf("hosts=%zu authenticated=%zu connect_ms=%lld "
           "connect_cpu_ms=%lld rounds=%d round_us_min=%lld "
           "round_us_median=%lld round_us_max=%lld last_round_ok=%zu "
           "cpu_us_per_host_round=%.1f rss_kb_before=%ld rss_kb_connected=%ld "
           "rss_kb_after=%ld rss_bytes_per_host=%.0f\n",
           n, ok, (long long)connect_ms, (long long)cpu_connect, rounds,
           (long long)ms[0], (long long)ms[rounds / 2],
           (long long)ms[rounds - 1], good,
           rounds > 0 && n > 0
               ? 1000.0 * (double)cpu_rounds / ((double)rounds * (double)n)
               : 0.0,
           rss0, rss1, rss2,
           n > 0 ? 1024.0 * (double)(rss2 - rss0) / (double)n : 0.0);
    for (size_t i = 0; i < n; i++)
        conn_close(hosts[i].c);
    transport_free(t);
    loop_free(l);
    free(ms);
    free(hosts);
    return ok == n && good == n ? 0 : 1;
}
