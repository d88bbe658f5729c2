/* examples/demo-app/demo_app.c: the application drover deploys in the demo
 * and the tests. A small HTTP/1.1 server (libc only, one poll() loop) whose
 * version comes from DIR/current/VERSION, read on every request, and whose
 * misbehaviour comes from DIR/current/BEHAVIOR, so a release can be made bad
 * on purpose (README.md lists the keys and the endpoints: health and
 * readiness, a login form with a CSRF token, a JSON API, Prometheus
 * metrics, the migration the database is at). Usage:
 *   demo-app --listen ADDR:PORT --dir DIR [--pidfile FILE] [-v]
 *
 * Why one file of more than 1,000 lines: it is an example an operator
 * copies to a host and builds with one `cc` line, with nothing of drover's
 * and no library but libc; its endpoints share one request struct and one
 * poll() loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    DEMO_MAX_CONNS = 4096,    /* open connections; accept pauses past it */
    DEMO_REQ_MAX = 8192,      /* request head bytes; more is a 431 */
    DEMO_OUT_MAX = 16384,     /* responses queued on one connection */
    DEMO_RESP_MAX = 8192,     /* one response, head included */
    DEMO_BODY_MAX = 4096,     /* request body bytes; more is a 413 */
    DEMO_STATUS_MAX = 16,     /* status:/PATH=CODE lines that count */
    DEMO_PATH_MAX = 256,      /* their PATH bytes */
    DEMO_STUDENTS_MAX = 100,  /* most students one API answer lists */
    DEMO_TOKEN_LEN = 32,      /* CSRF token: hex digits */
    DEMO_LIMITED_MAX = 16,    /* API paths rate_limit keeps a window for */
    DEMO_LIMIT_MS = 60000,    /* rate_limit's window: a minute */
    DEMO_STATIC_MAX = 7168,   /* static file bytes served; more is a 500 */
    DEMO_VERSION_MAX = 128,   /* VERSION file bytes that count */
    DEMO_BEHAVIOR_MAX = 4096, /* BEHAVIOR file bytes that count */
    DEMO_IDLE_MS = 60000,     /* idle connections are closed after this */
    DEMO_LINGER_MS = 2000     /* reading what a rejected client still sends */
};

/* The bearer token POST /api/auth/login hands out (runbook 004's API). */
#define DEMO_API_TOKEN "demo-api-token"

/* One status:/PATH=CODE line of BEHAVIOR. */
struct demo_status {
    char path[DEMO_PATH_MAX]; /* the path (query excluded) */
    int code;                 /* what it answers */
};

/* How the current release misbehaves (DIR/current/BEHAVIOR). */
struct demo_behavior {
    int ready_status;               /* ready=503: readiness answers this */
    int health_status;              /* health=500: /health answers this */
    long ready_after_ms;            /* 503 until current is this old */
    long flap_ms;                   /* readiness alternates every flap_ms */
    long latency_ms;                /* every answer waits this long */
    double error_rate;              /* fraction /metrics counts as 500 */
    long rate_limit;                /* API answers per path and minute */
    bool hang;                      /* hang=1: never answer */
    bool redirect;                  /* redirect=1: 302 to /login */
    bool login_broken;              /* login=broken: POST /login is 400 */
    char version[DEMO_VERSION_MAX]; /* version=X overrides VERSION */
    struct demo_status status[DEMO_STATUS_MAX]; /* status:/PATH=CODE */
    size_t nstatus;                             /* lines in status */
};

/* One parsed request, as demo_route answers it. */
struct demo_req {
    const char *method;  /* GET, HEAD, POST, ... */
    const char *path;    /* the target without its query */
    const char *query;   /* after '?', "" without one */
    const char *headers; /* the header lines, from the first CRLF */
    const char *body;    /* the body (Content-Length bytes), NUL-ended */
    bool head;           /* HEAD: answer without a body */
};

/* Duration buckets of http_request_duration_seconds (upper bounds). */
static const double demo_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                      0.5,   1,    2.5,   5,    10};
enum { DEMO_NBUCKETS = sizeof(demo_buckets) / sizeof(demo_buckets[0]) };

/* What /metrics reports: the requests answered since the release last
 * changed (a new current symlink is a restarted process). */
struct demo_metrics {
    uint64_t codes[600];             /* answers by status code */
    uint64_t buckets[DEMO_NBUCKETS]; /* answers per duration bucket */
    uint64_t count;                  /* answers */
    double sum;                      /* their durations, seconds */
    double error_carry;              /* error_rate owed, below one */
    char release[PATH_MAX + 32];     /* current's target and mtime */
};

/* rate_limit's window of one API path. */
struct demo_window {
    char path[DEMO_PATH_MAX]; /* the path (query excluded) */
    int64_t start_ms;         /* when its minute began (monotonic) */
    long count;               /* requests in that minute */
};

/* The rate limiter's windows; emptied with the metrics when the release
 * changes (an in-memory limiter forgets on a restart). */
struct demo_limiter {
    struct demo_window w[DEMO_LIMITED_MAX]; /* one per path seen */
    size_t n;                               /* windows in w */
};

/* One client connection. */
struct demo_conn {
    int fd;                 /* -1 when the slot is free */
    char peer[64];          /* addr:port for -v */
    char in[DEMO_REQ_MAX];  /* request bytes not yet handled */
    size_t inlen;           /* bytes in in */
    char out[DEMO_OUT_MAX]; /* response bytes not yet sent */
    size_t outlen;          /* bytes in out */
    size_t outoff;          /* bytes of out already sent */
    bool close_after;       /* close once out is sent */
    bool hung;              /* hang=1 hit: swallow input, never answer */
    bool draining;          /* answered and shut down for writing: read
                               until EOF so the answer is not lost to a
                               reset (a lingering close) */
    int64_t drain_ms;       /* when draining began, 0 until then */
    int64_t last_ms;        /* last activity, for the idle timeout */
    int64_t hold_ms;        /* latency_ms: nothing is sent before this
                               (monotonic ms); 0 when not held */
};

static const char *demo_dir;
static bool demo_verbose;
static volatile sig_atomic_t demo_stop;
static struct demo_metrics demo_m;
static struct demo_limiter demo_rl;

static int64_t demo_now_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void demo_on_signal(int signo)
{
    (void)signo;
    demo_stop = 1;
}

/* Read at most max-1 bytes of dir/sub/name (sub: "current", or "." for
 * the host's own files); -1 if it cannot be read. */
static ssize_t demo_read_in(const char *sub, const char *name, char *out,
                            size_t max)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s/%s", demo_dir, sub, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len + 1 < max) {
        ssize_t r = read(fd, out + len, max - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    out[len] = '\0';
    return (ssize_t)len;
}

/* Read at most max-1 bytes of dir/current/name; -1 if it cannot be read. */
static ssize_t demo_read_file(const char *name, char *out, size_t max)
{
    return demo_read_in("current", name, out, max);
}

/* Trim whitespace on both ends, in place. */
static char *demo_trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                     s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static long demo_parse_long(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0)
        return 0;
    return v;
}

/* A fraction from 0 to 1 (error_rate); 0 when s is not one. */
static double demo_parse_fraction(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0 && v <= 1))
        return 0;
    return v;
}

/* Parse the BEHAVIOR file; unknown keys and bad lines are ignored. */
static void demo_behavior_load(struct demo_behavior *b)
{
    memset(b, 0, sizeof(*b));
    char text[DEMO_BEHAVIOR_MAX];
    if (demo_read_file("BEHAVIOR", text, sizeof(text)) < 0)
        return;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        char *key = demo_trim(line), *val = demo_trim(eq + 1);
        if (strcmp(key, "ready") == 0)
            b->ready_status = (int)demo_parse_long(val);
        else if (strcmp(key, "health") == 0)
            b->health_status = (int)demo_parse_long(val);
        else if (strcmp(key, "ready_after_ms") == 0)
            b->ready_after_ms = demo_parse_long(val);
        else if (strcmp(key, "flap_ms") == 0)
            b->flap_ms = demo_parse_long(val);
        else if (strcmp(key, "hang") == 0)
            b->hang = demo_parse_long(val) != 0;
        else if (strcmp(key, "redirect") == 0)
            b->redirect = demo_parse_long(val) != 0;
        else if (strcmp(key, "version") == 0)
            snprintf(b->version, sizeof(b->version), "%s", val);
        else if (strcmp(key, "latency_ms") == 0)
            b->latency_ms = demo_parse_long(val);
        else if (strcmp(key, "error_rate") == 0)
            b->error_rate = demo_parse_fraction(val);
        else if (strcmp(key, "rate_limit") == 0)
            b->rate_limit = demo_parse_long(val);
        else if (strcmp(key, "login") == 0)
            b->login_broken = strcmp(val, "broken") == 0;
        else if (strncmp(key, "status:/", 8) == 0 &&
                 b->nstatus < DEMO_STATUS_MAX &&
                 strlen(key + 7) < DEMO_PATH_MAX) {
            struct demo_status *st = &b->status[b->nstatus];
            st->code = (int)demo_parse_long(val);
            if (st->code >= 100 && st->code <= 599) {
                snprintf(st->path, sizeof(st->path), "%s", key + 7);
                b->nstatus++;
            }
        }
    }
    if (b->ready_status < 100 || b->ready_status > 599)
        b->ready_status = 0;
    if (b->health_status < 100 || b->health_status > 599)
        b->health_status = 0;
}

/* The version served: version=X, else the trimmed VERSION file; false
 * when there is none. */
static bool demo_version(const struct demo_behavior *b, char *out, size_t max)
{
    if (b->version[0] != '\0') {
        snprintf(out, max, "%s", b->version);
        return true;
    }
    char raw[DEMO_VERSION_MAX];
    if (demo_read_file("VERSION", raw, sizeof(raw)) < 0)
        return false;
    char *v = demo_trim(raw);
    if (*v == '\0')
        return false;
    snprintf(out, max, "%s", v);
    return true;
}

/* Copy s into out as the inside of a JSON string. */
static void demo_json_escape(const char *s, char *out, size_t max)
{
    size_t n = 0;
    for (; *s != '\0' && n + 7 < max; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, max - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
}

/* The host's singleton role (runbook 001's scheduler): DIR/scheduler,
 * written by a deploy step from ENABLE_SCHEDULER ("true" or "false"),
 * is the restart's environment. "" when the file is absent, else
 * ,"scheduler":"active" or "inactive" for the /health body. */
static const char *demo_scheduler(void)
{
    char raw[16];
    if (demo_read_in(".", "scheduler", raw, sizeof(raw)) < 0)
        return "";
    return strcmp(demo_trim(raw), "true") == 0 ? ",\"scheduler\":\"active\""
                                               : ",\"scheduler\":\"inactive\"";
}

/* Whether readiness holds now, per ready_after_ms and flap_ms. */
static bool demo_ready_now(const struct demo_behavior *b)
{
    int64_t now = demo_now_ms(CLOCK_REALTIME);
    if (b->ready_after_ms > 0) {
        /* The release became current when the symlink was made. */
        char path[PATH_MAX];
        struct stat st;
        int n = snprintf(path, sizeof(path), "%s/current", demo_dir);
        if (n > 0 && (size_t)n < sizeof(path) && lstat(path, &st) == 0) {
            int64_t made = (int64_t)st.st_mtim.tv_sec * 1000 +
                           st.st_mtim.tv_nsec / 1000000;
            if (now - made < b->ready_after_ms)
                return false;
        }
    }
    if (b->flap_ms > 0 && (now / b->flap_ms) % 2 == 1)
        return false;
    return true;
}

static const char *demo_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

/* Queue one response on c. */
static void demo_respond(struct demo_conn *c, int status, const char *ctype,
                         const char *body, const char *extra, bool head)
{
    size_t blen = strlen(body);
    int n = snprintf(c->out + c->outlen, sizeof(c->out) - c->outlen,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "%s"
                     "Connection: %s\r\n\r\n%s",
                     status, demo_reason(status), ctype, blen,
                     extra != NULL ? extra : "",
                     c->close_after ? "close" : "keep-alive", head ? "" : body);
    if (n < 0 || (size_t)n >= sizeof(c->out) - c->outlen) {
        /* Cannot happen with our bodies; refuse rather than truncate. */
        c->close_after = true;
        return;
    }
    c->outlen += (size_t)n;
}

/* Copy the value of header name (case-insensitive, trimmed) into val;
 * false when the request has no such header. head starts at a CRLF. */
static bool demo_header_get(const char *head, const char *name, char *val,
                            size_t max)
{
    size_t nlen = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL;
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
            continue;
        const char *end = strstr(line, "\r\n");
        size_t vlen =
            (end != NULL ? (size_t)(end - line) : strlen(line)) - nlen - 1;
        char raw[256];
        if (vlen >= sizeof(raw))
            vlen = sizeof(raw) - 1;
        memcpy(raw, line + nlen + 1, vlen);
        raw[vlen] = '\0';
        snprintf(val, max, "%s", demo_trim(raw));
        return true;
    }
    return false;
}

/* The host's migration: DIR/db/alembic_version, trimmed, into out;
 * false when there is none. */
static bool demo_db_migration(char *out, size_t max)
{
    char raw[DEMO_VERSION_MAX];
    if (demo_read_in("db", "alembic_version", raw, sizeof(raw)) < 0)
        return false;
    snprintf(out, max, "%s", demo_trim(raw));
    return out[0] != '\0';
}

/* Compare migration revisions: dotted numbers ("12", "1.10") by their
 * numbers, anything else (hex revisions) as strings. <0, 0, >0. */
static int demo_rev_cmp(const char *a, const char *b)
{
    if (strspn(a, "0123456789.") != strlen(a) ||
        strspn(b, "0123456789.") != strlen(b))
        return strcmp(a, b);
    while (*a != '\0' || *b != '\0') {
        char *ea, *eb;
        unsigned long long x = strtoull(a, &ea, 10);
        unsigned long long y = strtoull(b, &eb, 10);
        if (x != y)
            return x < y ? -1 : 1;
        a = *ea == '.' ? ea + 1 : ea;
        b = *eb == '.' ? eb + 1 : eb;
    }
    return 0;
}

/* Readiness held back by the database: the release's MIGRATION (its
 * head) is newer than DIR/db/alembic_version. Writes the JSON body of the
 * 503 into body and returns true then. */
static bool demo_migration_pending(char *body, size_t max)
{
    char raw[DEMO_VERSION_MAX], db[DEMO_VERSION_MAX];
    if (demo_read_file("MIGRATION", raw, sizeof(raw)) < 0)
        return false;
    const char *want = demo_trim(raw);
    if (*want == '\0')
        return false;
    bool have = demo_db_migration(db, sizeof(db));
    if (have && demo_rev_cmp(want, db) <= 0)
        return false;
    char ew[DEMO_VERSION_MAX * 6 + 8], ed[DEMO_VERSION_MAX * 6 + 8];
    demo_json_escape(want, ew, sizeof(ew));
    demo_json_escape(have ? db : "", ed, sizeof(ed));
    snprintf(body, max,
             "{\"status\":\"not ready\",\"reason\":\"migration pending\","
             "\"migration\":\"%s\",\"release_migration\":\"%s\"}\n",
             ed, ew);
    return true;
}

/* Start /metrics afresh when current is a new symlink (a deploy restarts
 * the process it stands for). */
static void demo_metrics_check_release(void)
{
    char path[PATH_MAX], target[PATH_MAX], key[sizeof(demo_m.release)];
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/current", demo_dir);
    if (n < 0 || (size_t)n >= sizeof(path) || lstat(path, &st) != 0)
        return;
    ssize_t len = readlink(path, target, sizeof(target) - 1);
    if (len < 0)
        len = 0;
    target[len] = '\0';
    snprintf(key, sizeof(key), "%s@%lld.%09ld", target,
             (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    if (strcmp(key, demo_m.release) != 0) {
        memset(&demo_m, 0, sizeof(demo_m));
        memset(&demo_rl, 0, sizeof(demo_rl));
        snprintf(demo_m.release, sizeof(demo_m.release), "%s", key);
    }
}

/* Count one answer for /metrics; error_rate turns that fraction of the
 * answers into 500s (evenly: every 1/F-th one). */
static void demo_metrics_count(int status, double seconds,
                               const struct demo_behavior *b)
{
    demo_m.error_carry += b->error_rate;
    if (demo_m.error_carry >= 1 - 1e-9) {
        demo_m.error_carry -= 1;
        if (status < 500)
            status = 500;
    }
    if (status >= 100 && status < 600)
        demo_m.codes[status]++;
    for (size_t i = 0; i < DEMO_NBUCKETS; i++)
        if (seconds <= demo_buckets[i])
            demo_m.buckets[i]++;
    demo_m.count++;
    demo_m.sum += seconds;
}

/* Append printf output to out (size max, len bytes used). */
static void demo_append(char *out, size_t max, size_t *len, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));
static void demo_append(char *out, size_t max, size_t *len, const char *fmt,
                        ...)
{
    if (*len >= max)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, max - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = (size_t)n < max - *len ? *len + (size_t)n : max;
}

/* The Prometheus text of /metrics. */
static void demo_metrics_text(char *out, size_t max)
{
    size_t len = 0;
    demo_append(out, max, &len,
                "# HELP http_requests_total HTTP requests answered, by "
                "status code.\n# TYPE http_requests_total counter\n");
    for (int code = 100; code < 600; code++)
        if (demo_m.codes[code] > 0)
            demo_append(out, max, &len,
                        "http_requests_total{code=\"%d\"} %llu\n", code,
                        (unsigned long long)demo_m.codes[code]);
    demo_append(out, max, &len,
                "# HELP http_request_duration_seconds Time to answer a "
                "request.\n# TYPE http_request_duration_seconds "
                "histogram\n");
    for (size_t i = 0; i < DEMO_NBUCKETS; i++)
        demo_append(out, max, &len,
                    "http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                    demo_buckets[i], (unsigned long long)demo_m.buckets[i]);
    demo_append(out, max, &len,
                "http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                "http_request_duration_seconds_sum %.6f\n"
                "http_request_duration_seconds_count %llu\n",
                (unsigned long long)demo_m.count, demo_m.sum,
                (unsigned long long)demo_m.count);
}

/* A fresh CSRF token: DEMO_TOKEN_LEN hex digits. */
static void demo_token(char *out)
{
    static uint64_t counter;
    unsigned char raw[DEMO_TOKEN_LEN / 2];
    if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != (ssize_t)sizeof(raw)) {
        uint64_t x = (uint64_t)demo_now_ms(CLOCK_REALTIME) ^
                     ((uint64_t)getpid() << 32) ^ ++counter;
        for (size_t i = 0; i < sizeof(raw); i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            raw[i] = (unsigned char)(x >> 56);
        }
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Copy the value of name in "a=1&b=2" (sep '&', URL-decoded) or in a
 * Cookie header "a=1; b=2" (sep ';') into out; false when absent. */
static bool demo_param(const char *s, char sep, const char *name, char *out,
                       size_t max)
{
    size_t nlen = strlen(name);
    while (s != NULL && *s != '\0') {
        while (*s == ' ')
            s++;
        const char *end = strchr(s, sep);
        size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
        if (len > nlen && strncmp(s, name, nlen) == 0 && s[nlen] == '=') {
            size_t o = 0;
            for (size_t i = nlen + 1; i < len && o + 1 < max; i++) {
                unsigned int hex;
                if (sep == '&' && s[i] == '+') {
                    out[o++] = ' ';
                } else if (sep == '&' && s[i] == '%' && i + 2 < len &&
                           sscanf(s + i + 1, "%2x", &hex) == 1) {
                    out[o++] = (char)hex;
                    i += 2;
                } else {
                    out[o++] = s[i];
                }
            }
            out[o] = '\0';
            return true;
        }
        s = end != NULL ? end + 1 : NULL;
    }
    return false;
}

/* GET /login: the form, with a new CSRF token in a cookie and a hidden
 * input. POST /login: 302 to / when the token (form field csrf_token or
 * header X-CSRF-Token) matches the cookie's, else 400. */
static int demo_login(struct demo_conn *c, const struct demo_req *r,
                      const struct demo_behavior *b)
{
    static const char text[] = "text/plain; charset=utf-8";
    if (strcmp(r->method, "POST") != 0) {
        char token[DEMO_TOKEN_LEN + 1], page[512], cookie[128];
        demo_token(token);
        snprintf(page, sizeof(page),
                 "<!doctype html>\n<title>demo-app login</title>\n"
                 "<form method=post action=/login>"
                 "<input type=\"hidden\" name=\"csrf_token\" value=\"%s\">"
                 "<input name=user>"
                 "<input name=password type=password>"
                 "<button>Log in</button></form>\n",
                 token);
        snprintf(cookie, sizeof(cookie),
                 "Set-Cookie: csrf_token=%s; Path=/; HttpOnly; "
                 "SameSite=Strict\r\n",
                 token);
        demo_respond(c, 200, "text/html; charset=utf-8", page, cookie, r->head);
        return 200;
    }
    if (b->login_broken) {
        demo_respond(c, 400, text, "login is broken (BEHAVIOR login=broken)\n",
                     NULL, false);
        return 400;
    }
    char cookies[256] = "", want[128] = "", got[128] = "";
    demo_header_get(r->headers, "Cookie", cookies, sizeof(cookies));
    bool have = demo_param(cookies, ';', "csrf_token", want, sizeof(want));
    if (!demo_header_get(r->headers, "X-CSRF-Token", got, sizeof(got)))
        demo_param(r->body, '&', "csrf_token", got, sizeof(got));
    if (!have || want[0] == '\0' || strcmp(want, got) != 0) {
        demo_respond(c, 400, text,
                     "missing or bad CSRF token: GET /login first, then send "
                     "its csrf_token with the cookie\n",
                     NULL, false);
        return 400;
    }
    demo_respond(c, 302, text, "",
                 "Location: /\r\nSet-Cookie: session=demo; Path=/; "
                 "HttpOnly\r\n",
                 false);
    return 302;
}

/* Whether the JSON object text s has key name with a non-empty string
 * value (enough for a login body; no full JSON parser here). */
static bool demo_json_str(const char *s, const char *name)
{
    char key[64];
    snprintf(key, sizeof(key), "\"%s\"", name);
    const char *p = s != NULL ? strstr(s, key) : NULL;
    if (p == NULL)
        return false;
    p += strlen(key);
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p++ != ':')
        return false;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p[0] == '"' && p[1] != '"' && p[1] != '\0';
}

/* POST /api/auth/login (runbook 004's API): a JSON body with a non-empty
 * "username" and "password" gets 200 {"access_token":DEMO_API_TOKEN,...};
 * anything else, and every login under login=broken, 401. GET /api/me: 200
 * {"username":"demo"} with the header `Authorization: Bearer
 * DEMO_API_TOKEN`, else 401. */
static int demo_api_auth(struct demo_conn *c, const struct demo_req *r,
                         const struct demo_behavior *b)
{
    static const char json[] = "application/json";
    static const char denied[] = "{\"detail\":\"not authenticated\"}\n";
    if (strcmp(r->path, "/api/me") == 0) {
        char auth[128] = "";
        demo_header_get(r->headers, "Authorization", auth, sizeof(auth));
        bool ok = strcmp(auth, "Bearer " DEMO_API_TOKEN) == 0;
        demo_respond(c, ok ? 200 : 401, json,
                     ok ? "{\"username\":\"demo\"}\n" : denied, NULL, r->head);
        return ok ? 200 : 401;
    }
    if (b->login_broken || !demo_json_str(r->body, "username") ||
        !demo_json_str(r->body, "password")) {
        demo_respond(c, 401, json, denied, NULL, false);
        return 401;
    }
    demo_respond(c, 200, json,
                 "{\"access_token\":\"" DEMO_API_TOKEN
                 "\",\"token_type\":\"bearer\"}\n",
                 NULL, false);
    return 200;
}

/* GET /api/v1/students?limit=N: a JSON list of N students (default 10, at
 * most DEMO_STUDENTS_MAX); 400 when limit is not a whole number. */
static int demo_students(struct demo_conn *c, const struct demo_req *r)
{
    static const char json[] = "application/json";
    char lim[32] = "10", out[DEMO_RESP_MAX - 512];
    demo_param(r->query, '&', "limit", lim, sizeof(lim));
    char *end;
    errno = 0;
    long n = strtol(lim, &end, 10);
    if (errno != 0 || end == lim || *end != '\0' || n < 0) {
        demo_respond(c, 400, json,
                     "{\"error\":\"limit must be a whole number\"}\n", NULL,
                     r->head);
        return 400;
    }
    if (n > DEMO_STUDENTS_MAX)
        n = DEMO_STUDENTS_MAX;
    size_t len = 0;
    demo_append(out, sizeof(out), &len, "[");
    for (long i = 1; i <= n; i++)
        demo_append(out, sizeof(out), &len,
                    "%s{\"id\":%ld,\"name\":\"Student %ld\"}", i > 1 ? "," : "",
                    i, i);
    demo_append(out, sizeof(out), &len, "]\n");
    demo_respond(c, 200, json, out, NULL, r->head);
    return 200;
}

/* rate_limit=N: true when this request to an /api/v1/ path is past the
 * N its path may have in its current minute (a fixed window per path, as
 * Flask-Limiter or slowapi count in memory). Paths past DEMO_LIMITED_MAX
 * are not limited. */
static bool demo_rate_limited(const struct demo_behavior *b, const char *path)
{
    if (b->rate_limit <= 0 || strncmp(path, "/api/v1/", 8) != 0 ||
        strlen(path) >= DEMO_PATH_MAX)
        return false;
    int64_t now = demo_now_ms(CLOCK_MONOTONIC);
    struct demo_window *w = NULL;
    for (size_t i = 0; i < demo_rl.n && w == NULL; i++)
        if (strcmp(demo_rl.w[i].path, path) == 0)
            w = &demo_rl.w[i];
    if (w == NULL) {
        if (demo_rl.n == DEMO_LIMITED_MAX)
            return false;
        w = &demo_rl.w[demo_rl.n++];
        snprintf(w->path, sizeof(w->path), "%s", path);
        w->start_ms = now;
        w->count = 0;
    }
    if (now - w->start_ms >= DEMO_LIMIT_MS) {
        w->start_ms = now;
        w->count = 0;
    }
    return ++w->count > b->rate_limit;
}

/* GET / and /assets/NAME: the release's static files, DIR/current/static/
 * index.html and DIR/current/static/assets/NAME (NAME without '/' and not
 * starting with '.'), as a single-page application ships them; 404 when
 * the release has no such file. */
static int demo_static(struct demo_conn *c, const struct demo_req *r)
{
    static const char text[] = "text/plain; charset=utf-8";
    const char *name = r->path + strlen("/assets/");
    char file[DEMO_PATH_MAX + 32];
    if (strcmp(r->path, "/") == 0)
        snprintf(file, sizeof(file), "static/index.html");
    else if (*name != '\0' && *name != '.' && strchr(name, '/') == NULL &&
             strlen(name) < DEMO_PATH_MAX)
        snprintf(file, sizeof(file), "static/assets/%s", name);
    else
        file[0] = '\0';
    char body[DEMO_STATIC_MAX + 1];
    ssize_t n = file[0] ? demo_read_file(file, body, sizeof(body)) : -1;
    if (n < 0) {
        demo_respond(c, 404, text, "not found\n", NULL, r->head);
        return 404;
    }
    if ((size_t)n >= DEMO_STATIC_MAX) {
        demo_respond(c, 500, text, "static file too large\n", NULL, r->head);
        return 500;
    }
    const char *dot = strrchr(file, '.');
    const char *ctype = "application/octet-stream";
    if (dot != NULL && strcmp(dot, ".html") == 0)
        ctype = "text/html; charset=utf-8";
    else if (dot != NULL && strcmp(dot, ".js") == 0)
        ctype = "text/javascript";
    else if (dot != NULL && strcmp(dot, ".css") == 0)
        ctype = "text/css";
    demo_respond(c, 200, ctype, body, NULL, r->head);
    return 200;
}

static bool demo_is(const char *path, const char *a, const char *b,
                    const char *c)
{
    return strcmp(path, a) == 0 || strcmp(path, b) == 0 || strcmp(path, c) == 0;
}

/* Answer one parsed request. */
static void demo_route(struct demo_conn *c, const struct demo_req *r)
{
    static const char json[] = "application/json";
    static const char text[] = "text/plain; charset=utf-8";
    struct demo_behavior b;
    char ver[DEMO_VERSION_MAX], esc[DEMO_VERSION_MAX * 6 + 8];
    char body[DEMO_VERSION_MAX * 24 + 256], mig[DEMO_VERSION_MAX];
    int status;
    int64_t t0 = demo_now_ms(CLOCK_MONOTONIC);

    demo_behavior_load(&b);
    demo_metrics_check_release();
    bool have = demo_version(&b, ver, sizeof(ver));
    demo_json_escape(have ? ver : "", esc, sizeof(esc));
    const struct demo_status *forced = NULL;
    for (size_t i = 0; i < b.nstatus; i++)
        if (strcmp(b.status[i].path, r->path) == 0)
            forced = &b.status[i];
    bool get = strcmp(r->method, "GET") == 0 || r->head;
    bool login = strcmp(r->path, "/login") == 0;
    bool api_login = strcmp(r->path, "/api/auth/login") == 0;
    bool post = strcmp(r->method, "POST") == 0;
    if (demo_rate_limited(&b, r->path)) {
        status = 429;
        demo_respond(c, status, json, "{\"error\":\"rate limit exceeded\"}\n",
                     "Retry-After: 60\r\n", r->head);
    } else if (forced != NULL) {
        status = forced->code;
        snprintf(body, sizeof(body), "status %d (BEHAVIOR status:%s)\n", status,
                 forced->path);
        demo_respond(c, status, text, body, NULL, r->head);
    } else if (api_login ? !post : !get && !(login && post)) {
        status = 405;
        demo_respond(c, status, text, "method not allowed\n",
                     api_login ? "Allow: POST\r\n"
                     : login   ? "Allow: GET, HEAD, POST\r\n"
                               : "Allow: GET, HEAD\r\n",
                     r->head);
    } else if (b.redirect && !login) {
        status = 302;
        demo_respond(c, status, text, "", "Location: /login\r\n", r->head);
    } else if (strcmp(r->path, "/health") == 0) {
        status = !have ? 500 : b.health_status ? b.health_status : 200;
        if (!have) {
            snprintf(body, sizeof(body),
                     "{\"status\":\"unhealthy\",\"error\":\"no VERSION in "
                     "current release\"}\n");
        } else {
            char emig[DEMO_VERSION_MAX * 6 + 32] = "";
            if (demo_db_migration(mig, sizeof(mig))) {
                char e[DEMO_VERSION_MAX * 6 + 8];
                demo_json_escape(mig, e, sizeof(e));
                snprintf(emig, sizeof(emig), ",\"migration\":\"%s\"", e);
            }
            snprintf(body, sizeof(body),
                     "{\"status\":\"%s\",\"version\":\"%s\"%s%s}\n",
                     status == 200 ? "healthy" : "unhealthy", esc,
                     demo_scheduler(), emig);
        }
        demo_respond(c, status, json, body, NULL, r->head);
    } else if (demo_is(r->path, "/health/ready", "/readyz", "/api/readyz")) {
        bool ready = have && b.ready_status == 0 && demo_ready_now(&b);
        if (ready && demo_migration_pending(body, sizeof(body))) {
            status = 503;
        } else {
            status = ready ? 200 : b.ready_status ? b.ready_status : 503;
            if (ready)
                snprintf(body, sizeof(body),
                         "{\"status\":\"ready\",\"version\":\"%s\"}\n", esc);
            else
                snprintf(body, sizeof(body), "{\"status\":\"not ready\"}\n");
        }
        demo_respond(c, status, json, body, NULL, r->head);
    } else if (demo_is(r->path, "/health/live", "/healthz", "/api/healthz")) {
        status = 200;
        demo_respond(c, status, json, "{\"status\":\"alive\"}\n", NULL,
                     r->head);
    } else if (strcmp(r->path, "/version") == 0) {
        status = have ? 200 : 500;
        snprintf(body, sizeof(body), "%s\n", have ? ver : "no version");
        demo_respond(c, status, text, body, NULL, r->head);
    } else if (login) {
        status = demo_login(c, r, &b);
    } else if (api_login || strcmp(r->path, "/api/me") == 0) {
        status = demo_api_auth(c, r, &b);
    } else if (strcmp(r->path, "/api/v1/students") == 0) {
        status = demo_students(c, r);
    } else if (strcmp(r->path, "/") == 0 ||
               strncmp(r->path, "/assets/", 8) == 0) {
        status = demo_static(c, r);
    } else if (strcmp(r->path, "/metrics") == 0) {
        char out[DEMO_RESP_MAX - 512];
        demo_metrics_text(out, sizeof(out));
        status = 200;
        demo_respond(c, status, "text/plain; version=0.0.4; charset=utf-8", out,
                     NULL, r->head);
    } else {
        status = 404;
        demo_respond(c, status, text, "not found\n", NULL, r->head);
    }
    int64_t now = demo_now_ms(CLOCK_MONOTONIC);
    if (b.latency_ms > 0)
        c->hold_ms = now + b.latency_ms;
    demo_metrics_count(status, (double)(now - t0 + b.latency_ms) / 1000, &b);
    if (demo_verbose)
        fprintf(stderr, "demo-app: %s %s %s %d\n", c->peer, r->method, r->path,
                status);
}

/* Bad request: answer, then close. */
static void demo_reject(struct demo_conn *c, int status, const char *why)
{
    c->close_after = true;
    demo_respond(c, status, "text/plain; charset=utf-8", why, NULL, false);
    c->inlen = 0;
    if (demo_verbose)
        fprintf(stderr, "demo-app: %s rejected %d %s", c->peer, status, why);
}

/* Handle every complete request in c->in (pipelining included). */
static void demo_process(struct demo_conn *c)
{
    while (!c->close_after && !c->hung && c->hold_ms == 0 && c->inlen > 0) {
        c->in[c->inlen < sizeof(c->in) ? c->inlen : sizeof(c->in) - 1] = '\0';
        if (memchr(c->in, '\0', c->inlen) != NULL) {
            demo_reject(c, 400, "NUL byte in request\n");
            return;
        }
        char *end = strstr(c->in, "\r\n\r\n");
        if (end == NULL) {
            if (c->inlen >= sizeof(c->in) - 1)
                demo_reject(c, 431, "request head too large\n");
            return;
        }
        size_t used = (size_t)(end - c->in) + 4;
        end[2] = '\0'; /* keep the last header's CRLF for the scan */
        /* Request line: METHOD SP TARGET SP HTTP/1.x */
        char method[16], target[2048], version[16];
        char *sp1 = strchr(c->in, ' ');
        char *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
        char *eol = strstr(c->in, "\r\n");
        if (sp1 == NULL || sp2 == NULL || eol == NULL || sp2 > eol ||
            (size_t)(sp1 - c->in) >= sizeof(method) || sp1 == c->in ||
            (size_t)(sp2 - sp1 - 1) >= sizeof(target) || sp2 == sp1 + 1 ||
            (size_t)(eol - sp2 - 1) >= sizeof(version)) {
            demo_reject(c, 400, "malformed request line\n");
            return;
        }
        memcpy(method, c->in, (size_t)(sp1 - c->in));
        method[sp1 - c->in] = '\0';
        memcpy(target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
        target[sp2 - sp1 - 1] = '\0';
        memcpy(version, sp2 + 1, (size_t)(eol - sp2 - 1));
        version[eol - sp2 - 1] = '\0';
        if (strcmp(version, "HTTP/1.1") != 0 &&
            strcmp(version, "HTTP/1.0") != 0) {
            demo_reject(c, 400, "unsupported HTTP version\n");
            return;
        }
        for (const char *m = method; *m != '\0'; m++)
            if (*m < 'A' || *m > 'Z') {
                demo_reject(c, 400, "malformed method\n");
                return;
            }
        if (target[0] != '/') {
            demo_reject(c, 400, "request target must start with /\n");
            return;
        }
        for (const char *t = target; *t != '\0'; t++)
            if ((unsigned char)*t <= 0x20 || (unsigned char)*t == 0x7f) {
                demo_reject(c, 400, "bad character in request target\n");
                return;
            }
        char *q = strchr(target, '?');
        if (q != NULL)
            *q++ = '\0';
        const char *head = eol; /* headers, starting at the first CRLF */
        char conn[256] = "", clen[256] = "", te[256];
        demo_header_get(head, "Connection", conn, sizeof(conn));
        bool keep = strcmp(version, "HTTP/1.1") == 0
                        ? strcasecmp(conn, "close") != 0
                        : strcasecmp(conn, "keep-alive") == 0;
        /* A Content-Length body is read (up to DEMO_BODY_MAX); a chunked
         * one is not: answer, then close. */
        size_t blen = 0;
        if (demo_header_get(head, "Transfer-Encoding", te, sizeof(te)))
            keep = false;
        else if (demo_header_get(head, "Content-Length", clen, sizeof(clen))) {
            char *bend;
            errno = 0;
            unsigned long long v = strtoull(clen, &bend, 10);
            if (errno != 0 || bend == clen || *bend != '\0' || clen[0] == '-') {
                demo_reject(c, 400, "bad Content-Length\n");
                return;
            }
            if (v > DEMO_BODY_MAX || used + v > sizeof(c->in) - 1) {
                demo_reject(c, 413, "request body too large\n");
                return;
            }
            blen = (size_t)v;
            if (c->inlen < used + blen) {
                end[2] = '\r'; /* as it was: parsed again with the rest */
                return;
            }
        }
        char body[DEMO_BODY_MAX + 1];
        memcpy(body, c->in + used, blen);
        body[blen] = '\0';
        used += blen;
        c->close_after = !keep;
        struct demo_behavior b;
        demo_behavior_load(&b);
        if (b.hang) {
            c->hung = true;
            c->inlen = 0;
            if (demo_verbose)
                fprintf(stderr, "demo-app: %s %s %s hang\n", c->peer, method,
                        target);
            return;
        }
        if (c->outlen + DEMO_RESP_MAX > sizeof(c->out)) {
            end[2] = '\r'; /* as it was: parsed again after the flush */
            return;        /* flush what is queued before answering more */
        }
        struct demo_req r = {.method = method,
                             .path = target,
                             .query = q != NULL ? q : "",
                             .headers = head,
                             .body = body,
                             .head = strcmp(method, "HEAD") == 0};
        demo_route(c, &r);
        memmove(c->in, c->in + used, c->inlen - used);
        c->inlen -= used;
    }
}

static void demo_conn_close(struct demo_conn *c, size_t *nconns)
{
    close(c->fd);
    c->fd = -1;
    (*nconns)--;
}

/* Send what is queued; false when the connection is done. */
static bool demo_flush(struct demo_conn *c)
{
    if (c->hold_ms != 0)
        return true; /* latency_ms: the answer waits */
    while (c->outoff < c->outlen) {
        ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
                         MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (w <= 0)
            return false;
        c->outoff += (size_t)w;
    }
    c->outoff = c->outlen = 0;
    if (c->close_after && !c->hung && !c->draining) {
        /* Closing with unread input would reset the connection and could
         * destroy the answer in flight: half-close, then drain. */
        shutdown(c->fd, SHUT_WR);
        c->draining = true;
    }
    return true;
}

/* Answer what is complete in c->in and send it; false when the
 * connection is done. */
static bool demo_serve(struct demo_conn *c)
{
    demo_process(c);
    bool alive = demo_flush(c);
    /* After a flush, requests waiting behind a full buffer. */
    if (alive && c->inlen > 0 && c->outlen == 0) {
        demo_process(c);
        alive = demo_flush(c);
    }
    return alive;
}

/* Readable: take bytes, answer what is complete. */
static bool demo_read(struct demo_conn *c)
{
    for (;;) {
        if (c->inlen >= sizeof(c->in) - 1) {
            if (c->hung || c->draining) {
                c->inlen = 0;
                continue;
            }
            return true; /* demo_process decides: 431 or wait for flush */
        }
        ssize_t r =
            recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (r <= 0)
            return false;
        c->inlen += (size_t)r;
        if (c->hung || c->draining)
            c->inlen = 0;
    }
}

static int demo_listen(const char *spec)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || (size_t)(colon - spec) >= sizeof(host)) {
        fprintf(stderr, "demo-app: --listen %s: expected ADDR:PORT\n", spec);
        return -1;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || port < 0 ||
        port > 65535) {
        fprintf(stderr, "demo-app: --listen %s: bad port\n", spec);
        return -1;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "demo-app: --listen %s: '%s' is not an IPv4 address\n",
                spec, host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("demo-app: socket");
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 1024) < 0) {
        fprintf(stderr, "demo-app: cannot listen on %s: %s\n", spec,
                strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Accept what is waiting; false when out of file descriptors, so the
 * caller stops polling the listener for a while instead of spinning. */
static bool demo_accept(int lfd, struct demo_conn *conns, size_t *nconns,
                        int64_t now)
{
    while (*nconns < DEMO_MAX_CONNS) {
        struct sockaddr_in sa;
        socklen_t salen = sizeof(sa);
        int fd = accept4(lfd, (struct sockaddr *)&sa, &salen,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
                   errno != ENOMEM;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct demo_conn *c = NULL;
        for (size_t i = 0; i < DEMO_MAX_CONNS; i++)
            if (conns[i].fd < 0) {
                c = &conns[i];
                break;
            }
        if (c == NULL) { /* cannot happen: nconns < DEMO_MAX_CONNS */
            close(fd);
            return true;
        }
        c->fd = fd;
        c->inlen = c->outlen = c->outoff = 0;
        c->close_after = c->hung = c->draining = false;
        c->drain_ms = c->hold_ms = 0;
        c->last_ms = now;
        char addr[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
        snprintf(c->peer, sizeof(c->peer), "%s:%u", addr,
                 (unsigned)ntohs(sa.sin_port));
        (*nconns)++;
    }
    return true;
}

static int demo_usage(void)
{
    fprintf(stderr, "usage: demo-app --listen ADDR:PORT --dir DIR "
                    "[--pidfile FILE] [-v]\n");
    return 2;
}

static int demo_write_pidfile(const char *path)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen_spec = NULL, *pidfile = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen_spec = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            demo_dir = argv[++i];
        else if (strcmp(argv[i], "--pidfile") == 0 && i + 1 < argc)
            pidfile = argv[++i];
        else if (strcmp(argv[i], "-v") == 0)
            demo_verbose = true;
        else
            return demo_usage();
    }
    if (listen_spec == NULL || demo_dir == NULL)
        return demo_usage();
    /* Hold nothing the starter had open: a test's lock (flock LOCK cmd)
     * must not outlive the test in a demo-app it left running. */
    close_range(3, ~0U, 0);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = demo_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Signals are blocked except inside ppoll: no lost wake-up. */
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);

    int lfd = demo_listen(listen_spec);
    if (lfd < 0)
        return 1;
    if (pidfile != NULL && demo_write_pidfile(pidfile) < 0) {
        fprintf(stderr, "demo-app: cannot write pidfile %s: %s\n", pidfile,
                strerror(errno));
        return 1;
    }

    struct demo_conn *conns = calloc(DEMO_MAX_CONNS, sizeof(*conns));
    struct pollfd *pfds = calloc(DEMO_MAX_CONNS + 1, sizeof(*pfds));
    size_t *idx = calloc(DEMO_MAX_CONNS + 1, sizeof(*idx));
    if (conns == NULL || pfds == NULL || idx == NULL) {
        fprintf(stderr, "demo-app: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < DEMO_MAX_CONNS; i++)
        conns[i].fd = -1;
    size_t nconns = 0;
    int64_t accept_after = 0; /* listener paused until then (EMFILE) */
    /* One fd per connection: take the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (demo_verbose)
        fprintf(stderr, "demo-app: listening on %s, dir %s\n", listen_spec,
                demo_dir);

    while (!demo_stop) {
        size_t n = 0;
        int64_t wait_ms = 100, mono = demo_now_ms(CLOCK_MONOTONIC);
        if (nconns < DEMO_MAX_CONNS &&
            demo_now_ms(CLOCK_MONOTONIC) >= accept_after) {
            pfds[n].fd = lfd;
            pfds[n].events = POLLIN;
            idx[n++] = SIZE_MAX;
        }
        for (size_t i = 0; i < DEMO_MAX_CONNS; i++) {
            if (conns[i].fd < 0)
                continue;
            bool held = conns[i].hold_ms != 0;
            if (held && conns[i].hold_ms - mono < wait_ms)
                wait_ms = conns[i].hold_ms > mono ? conns[i].hold_ms - mono : 0;
            pfds[n].fd = conns[i].fd;
            pfds[n].events =
                (short)(POLLIN |
                        (!held && conns[i].outlen > conns[i].outoff ? POLLOUT
                                                                    : 0));
            idx[n++] = i;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = wait_ms * 1000 * 1000};
        int rc = ppoll(pfds, n, &ts, &wait_mask);
        if (rc < 0 && errno != EINTR) {
            perror("demo-app: poll");
            break;
        }
        int64_t now = demo_now_ms(CLOCK_MONOTONIC);
        for (size_t k = 0; rc > 0 && k < n; k++) {
            if (pfds[k].revents == 0)
                continue;
            if (idx[k] == SIZE_MAX) {
                if (!demo_accept(lfd, conns, &nconns, now))
                    accept_after = now + 100;
                continue;
            }
            struct demo_conn *c = &conns[idx[k]];
            bool alive = true;
            if (pfds[k].revents & (POLLIN | POLLHUP | POLLERR))
                alive = demo_read(c);
            if (alive) {
                c->last_ms = now;
                alive = demo_serve(c);
            }
            if (!alive)
                demo_conn_close(c, &nconns);
        }
        for (size_t i = 0; i < DEMO_MAX_CONNS; i++) {
            struct demo_conn *c = &conns[i];
            if (c->fd < 0)
                continue;
            if (c->hold_ms != 0 && now >= c->hold_ms) {
                /* latency_ms is over: send the answer, go on */
                c->hold_ms = 0;
                c->last_ms = now;
                if (!demo_flush(c) || !demo_serve(c)) {
                    demo_conn_close(c, &nconns);
                    continue;
                }
            }
            if (c->draining && c->drain_ms == 0)
                c->drain_ms = now;
            if (now - c->last_ms > DEMO_IDLE_MS ||
                (c->draining && now - c->drain_ms > DEMO_LINGER_MS))
                demo_conn_close(c, &nconns);
        }
    }

    for (size_t i = 0; i < DEMO_MAX_CONNS; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    close(lfd);
    if (pidfile != NULL)
        unlink(pidfile);
    free(conns);
    free(pfds);
    free(idx);
    if (demo_verbose)
        fprintf(stderr, "demo-app: stopped\n");
    return 0;
}
