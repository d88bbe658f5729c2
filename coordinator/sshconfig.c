/* coordinator/sshconfig.c: ~/.ssh/config, read once into a flat list of
 * entries (Host lines, options, Include boundaries), then replayed for
 * each alias the way OpenSSH's readconf.c reads the file for one host:
 * a Host line sets whether the lines after it apply, an included file
 * starts with its includer's state and gives it back at its end, and the
 * first value obtained for a keyword wins. Values are checked when read,
 * so a bad Port or an unknown %-token fails before any host is
 * contacted. */
#include "sshconfig.h"

#include "buf.h"
#include "log.h"
#include "readfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum sshconfig_key {
    SK_HOSTNAME,
    SK_USER,
    SK_PORT,
    SK_IDENTITY,
    SK_KNOWN_HOSTS,
    SK_STRICT,
    SK_CONNECT_TIMEOUT,
    SK_ALIVE,
    SK_PROXYJUMP,
    SK_PROXYCOMMAND,
    SK_INCLUDE,
    SK_HOST,
    SK_MATCH
};

/* Tokens OpenSSH knows for file names; drover expands all but these. */
#define SSHCONFIG_FILE_TOKENS "dhiknpru"
#define SSHCONFIG_OPENSSH_TOKENS "CdhikLlnpru"

struct sshconfig_keyword {
    const char *name;       /* as the manual spells it */
    enum sshconfig_key key; /* which */
    bool one;               /* takes exactly one value */
    const char *tokens;     /* %-tokens allowed in its values, NULL: none
                               are expanded (taken literally) */
    bool text;              /* an empty value is refused (as ssh does) */
};

static const struct sshconfig_keyword sshconfig_keywords[] = {
    {"HostName", SK_HOSTNAME, true, "h", true},
    {"User", SK_USER, true, NULL, true},
    {"Port", SK_PORT, true, NULL, false},
    {"IdentityFile", SK_IDENTITY, true, SSHCONFIG_FILE_TOKENS, true},
    {"UserKnownHostsFile", SK_KNOWN_HOSTS, false, SSHCONFIG_FILE_TOKENS, true},
    {"StrictHostKeyChecking", SK_STRICT, true, NULL, false},
    {"ConnectTimeout", SK_CONNECT_TIMEOUT, true, NULL, false},
    {"ServerAliveInterval", SK_ALIVE, true, NULL, false},
    {"ProxyJump", SK_PROXYJUMP, true, NULL, false},
    {"ProxyCommand", SK_PROXYCOMMAND, false, NULL, false},
    {"Include", SK_INCLUDE, false, NULL, true},
    {"Host", SK_HOST, false, NULL, false},
    {"Match", SK_MATCH, false, NULL, false},
};

enum sshconfig_kind {
    SC_OPT,       /* an option line */
    SC_HOST,      /* a Host line */
    SC_MATCH,     /* a Match line: the block never applies */
    SC_INC_BEGIN, /* an included file starts */
    SC_INC_END    /* and ends */
};

struct sshconfig_entry {
    enum sshconfig_kind kind;           /* see enum */
    const struct sshconfig_keyword *kw; /* SC_OPT, SC_HOST: keyword */
    const char *file;                   /* file (borrowed from files) */
    int line;                           /* line in it */
    char **args;                        /* values or Host patterns */
    size_t nargs;                       /* entries in args */
    int64_t num;                        /* Port, ms, enum sshconfig_strict */
};

struct sshconfig {
    char *path;                /* the top file */
    char *home;                /* for relative Include paths */
    struct sshconfig_entry *v; /* entries in file order */
    size_t n;                  /* used */
    size_t cap;                /* allocated */
    char **files;              /* every file read (owned) */
    size_t nfiles;             /* used */
};

/* One line split into words, with the column each starts at. */
struct sshconfig_line {
    const char *file; /* for messages */
    int line;         /* for messages */
    char **w;         /* words, quotes and escapes removed */
    int *col;         /* 1-based column of each word */
    size_t n;         /* words */
};

static enum err_code sshconfig_read_file(struct sshconfig *c, const char *path,
                                         int depth, struct err *e);
static char *sshconfig_expand_(const char *value,
                               const struct sshconfig_tokens *t, bool canon);

static struct sshconfig_entry *sshconfig_push(struct sshconfig *c,
                                              enum sshconfig_kind kind,
                                              const char *file, int line)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 32;
        c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    struct sshconfig_entry *en = &c->v[c->n++];
    memset(en, 0, sizeof(*en));
    en->kind = kind;
    en->file = file;
    en->line = line;
    return en;
}

static void sshconfig_line_release(struct sshconfig_line *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->w[i]);
    free(l->w);
    free(l->col);
    memset(l, 0, sizeof(*l));
}

/* Split s (the text after the keyword, starting at column col0) as
 * OpenSSH's argv_split does: blanks separate, ' and " quote, a backslash
 * escapes a quote, a backslash or (unquoted) a blank, and # at the start
 * of a word ends the line. */
static enum err_code sshconfig_split(struct sshconfig_line *l, const char *s,
                                     int col0, struct err *e)
{
    size_t i = 0;
    while (s[i] != '\0') {
        if (s[i] == ' ' || s[i] == '\t') {
            i++;
            continue;
        }
        if (s[i] == '#')
            break;
        int start = col0 + (int)i;
        struct buf w;
        buf_init(&w, BUF_UNLIMITED);
        char quote = 0;
        int qcol = 0;
        for (; s[i] != '\0'; i++) {
            char ch = s[i];
            if (ch == '\\' &&
                (s[i + 1] == '\'' || s[i + 1] == '"' || s[i + 1] == '\\' ||
                 (quote == 0 && s[i + 1] == ' '))) {
                buf_addc(&w, s[++i]);
            } else if (quote == 0 && (ch == ' ' || ch == '\t')) {
                break;
            } else if (quote == 0 && (ch == '"' || ch == '\'')) {
                quote = ch;
                qcol = col0 + (int)i;
            } else if (quote != 0 && ch == quote) {
                quote = 0;
            } else {
                buf_addc(&w, ch);
            }
        }
        if (quote != 0) {
            buf_release(&w);
            return err_set(e, ERR_PARSE,
                           "%s:%d:%d: unterminated %c quote; close it or "
                           "escape it with a backslash",
                           l->file, l->line, qcol, quote);
        }
        l->w = xrealloc(l->w, (l->n + 1) * sizeof(*l->w));
        l->col = xrealloc(l->col, (l->n + 1) * sizeof(*l->col));
        l->col[l->n] = start;
        l->w[l->n++] = buf_detach(&w);
    }
    return ERR_OK;
}

/* Check the %-tokens of word i of l for keyword kw. */
static enum err_code sshconfig_check_tokens(const struct sshconfig_line *l,
                                            size_t i,
                                            const struct sshconfig_keyword *kw,
                                            struct err *e)
{
    const char *w = l->w[i];
    for (const char *p = strchr(w, '%'); p != NULL; p = strchr(p, '%')) {
        int col = l->col[i] + (int)(p - w);
        char t = p[1];
        if (t == '%') {
            p += 2;
            continue;
        }
        if (t == '\0')
            return err_set(e, ERR_PARSE,
                           "%s:%d:%d: %s ends with a lone %%; write %%%% for "
                           "a literal %%",
                           l->file, l->line, col, kw->name);
        if (strchr(kw->tokens, t) != NULL) {
            p += 2;
            continue;
        }
        char list[40];
        size_t o = 0;
        for (const char *q = kw->tokens; *q && o + 5 < sizeof(list); q++)
            o += (size_t)snprintf(list + o, sizeof(list) - o, "%%%c ", *q);
        list[o > 0 ? o - 1 : 0] = '\0';
        bool known = strchr(SSHCONFIG_OPENSSH_TOKENS, t) != NULL &&
                     kw->key != SK_HOSTNAME;
        return err_set(e, ERR_PARSE,
                       "%s:%d:%d: %s token %%%c in %s; drover expands %s "
                       "and %%%% (a literal %%)",
                       l->file, l->line, col, known ? "unsupported" : "unknown",
                       t, kw->name, list);
    }
    return ERR_OK;
}

/* OpenSSH's time format (convtime): 30, 30s, 1m30s, 2h, 1d, 1w. */
static bool sshconfig_time(const char *s, int64_t *ms)
{
    int64_t total = 0;
    if (*s == '\0')
        return false;
    while (*s != '\0') {
        if (!isdigit((unsigned char)*s))
            return false;
        int64_t v = 0;
        while (isdigit((unsigned char)*s)) {
            v = v * 10 + (*s++ - '0');
            if (v > 100000000)
                return false;
        }
        int64_t mult = 1;
        switch (tolower((unsigned char)*s)) {
        case '\0':
            break;
        case 's':
            s++;
            break;
        case 'm':
            mult = 60;
            s++;
            break;
        case 'h':
            mult = 3600;
            s++;
            break;
        case 'd':
            mult = 86400;
            s++;
            break;
        case 'w':
            mult = 604800;
            s++;
            break;
        default:
            return false;
        }
        total += v * mult;
        if (total > 0x7fffffff)
            return false;
    }
    *ms = total * 1000;
    return true;
}

/* Check an option's values and keep what drover needs in en->num. */
static enum err_code sshconfig_check(struct sshconfig_entry *en,
                                     const struct sshconfig_line *l,
                                     struct err *e)
{
    const struct sshconfig_keyword *kw = en->kw;
    const char *v = l->w[1];
    int col = l->col[1];
    if (kw->one && l->n > 2)
        return err_set(e, ERR_PARSE,
                       "%s:%d:%d: %s takes one value, not %zu; quote a value "
                       "that has blanks",
                       l->file, l->line, l->col[2], kw->name, l->n - 1);
    for (size_t i = 1; kw->tokens != NULL && i < l->n; i++)
        if (sshconfig_check_tokens(l, i, kw, e) != ERR_OK)
            return e->code;
    switch (kw->key) {
    case SK_PORT: {
        char *end = NULL;
        errno = 0;
        long p = strtol(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || p < 1 || p > 65535)
            return err_set(e, ERR_PARSE,
                           "%s:%d:%d: Port '%.64s' is not a port number "
                           "(1-65535)",
                           l->file, l->line, col, v);
        en->num = p;
        return ERR_OK;
    }
    case SK_STRICT:
        if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
            strcasecmp(v, "ask") == 0)
            en->num = SSHCONFIG_STRICT_YES;
        else if (strcasecmp(v, "accept-new") == 0)
            en->num = SSHCONFIG_STRICT_ACCEPT_NEW;
        else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0 ||
                 strcasecmp(v, "false") == 0)
            en->num = SSHCONFIG_STRICT_NO;
        else
            return err_set(e, ERR_PARSE,
                           "%s:%d:%d: StrictHostKeyChecking '%.64s': "
                           "expected yes, accept-new, no or ask",
                           l->file, l->line, col, v);
        return ERR_OK;
    case SK_CONNECT_TIMEOUT:
    case SK_ALIVE:
        if (!sshconfig_time(v, &en->num))
            return err_set(e, ERR_PARSE,
                           "%s:%d:%d: %s '%.64s' is not a time (seconds, or "
                           "like 1m30s)",
                           l->file, l->line, col, kw->name, v);
        return ERR_OK;
    case SK_KNOWN_HOSTS:
        if (strcasecmp(v, "none") == 0)
            return err_set(e, ERR_PARSE,
                           "%s:%d:%d: UserKnownHostsFile none: drover always "
                           "checks host keys; name a file",
                           l->file, l->line, col);
        return ERR_OK;
    case SK_HOST:
        for (size_t i = 1; i < l->n; i++)
            if (l->w[i][0] == '\0' || strcmp(l->w[i], "!") == 0)
                return err_set(e, ERR_PARSE, "%s:%d:%d: Host: empty pattern",
                               l->file, l->line, l->col[i]);
        return ERR_OK;
    default:
        return ERR_OK;
    }
}

/* Include: every file each word's glob names, in lexical order. */
static enum err_code sshconfig_include(struct sshconfig *c,
                                       const struct sshconfig_line *l,
                                       int depth, struct err *e)
{
    if (depth >= SSHCONFIG_DEPTH_MAX)
        return err_set(e, ERR_PARSE,
                       "%s:%d:%d: Include nested more than %d deep (does a "
                       "file include itself?)",
                       l->file, l->line, l->col[0], SSHCONFIG_DEPTH_MAX);
    for (size_t i = 1; i < l->n; i++) {
        char *pat;
        if (l->w[i][0] == '~') {
            struct sshconfig_tokens t = {.home = c->home};
            pat = sshconfig_expand(l->w[i], &t);
        } else if (l->w[i][0] != '/') {
            pat = xasprintf("%s/.ssh/%s", c->home, l->w[i]);
        } else {
            pat = xstrdup(l->w[i]);
        }
        glob_t g;
        memset(&g, 0, sizeof(g));
        enum err_code rc = ERR_OK;
        int grc = glob(pat, 0, NULL, &g);
        if (grc == GLOB_NOMATCH)
            log_debug("%s:%d: Include %s matches no file", l->file, l->line,
                      pat);
        else if (grc != 0)
            rc = err_set(e, ERR_SYS, "%s:%d:%d: Include %s: cannot list it",
                         l->file, l->line, l->col[i], pat);
        for (size_t j = 0; grc == 0 && rc == ERR_OK && j < g.gl_pathc; j++) {
            sshconfig_push(c, SC_INC_BEGIN, l->file, l->line);
            struct err ie = {0};
            rc = sshconfig_read_file(c, g.gl_pathv[j], depth + 1, &ie);
            /* A file that cannot be read says where it was included. */
            size_t pl = strlen(g.gl_pathv[j]);
            bool whole = strncmp(ie.msg, g.gl_pathv[j], pl) == 0 &&
                         ie.msg[pl] == ':' && ie.msg[pl + 1] == ' ';
            if (rc != ERR_OK && whole)
                err_set(e, rc, "%s:%d:%d: Include %s%s", l->file, l->line,
                        l->col[i], l->w[i], ie.msg + pl);
            else if (rc != ERR_OK)
                err_set(e, rc, "%s", ie.msg);
            sshconfig_push(c, SC_INC_END, l->file, l->line);
        }
        globfree(&g);
        free(pat);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

/* One line of file. */
static enum err_code sshconfig_line(struct sshconfig *c, const char *file,
                                    int lineno, char *s, int depth,
                                    struct err *e)
{
    size_t len = strlen(s);
    while (len > 0 && strchr(" \t\r\n\f", s[len - 1]) != NULL)
        s[--len] = '\0';
    size_t k = strspn(s, " \t");
    if (s[k] == '\0' || s[k] == '#')
        return ERR_OK;
    size_t kl = strcspn(s + k, " \t=");
    struct sshconfig_line l = {.file = file, .line = lineno};
    l.w = xmalloc(sizeof(*l.w));
    l.col = xmalloc(sizeof(*l.col));
    l.w[0] = xstrndup(s + k, kl);
    l.col[0] = (int)k + 1;
    l.n = 1;
    size_t r = k + kl;
    r += strspn(s + r, " \t");
    if (s[r] == '=')
        r++;
    enum err_code rc = sshconfig_split(&l, s + r, (int)r + 1, e);
    const struct sshconfig_keyword *kw = NULL;
    for (size_t i = 0; rc == ERR_OK && i < sizeof(sshconfig_keywords) /
                                               sizeof(sshconfig_keywords[0]);
         i++)
        if (strcasecmp(l.w[0], sshconfig_keywords[i].name) == 0)
            kw = &sshconfig_keywords[i];
    if (rc != ERR_OK || kw == NULL) /* others are not ours: ignored */
        goto out;
    if (l.n < 2) {
        rc = err_set(e, ERR_PARSE, "%s:%d:%d: %s needs a value", file, lineno,
                     (int)len + 1, kw->name);
        goto out;
    }
    for (size_t i = 1; kw->text && i < l.n; i++)
        if (l.w[i][0] == '\0') {
            /* ssh refuses the whole config for it, whichever host. */
            rc = err_set(e, ERR_PARSE,
                         "%s:%d:%d: %s is empty; ssh refuses such a config: "
                         "give a value or remove the line",
                         file, lineno, l.col[i], kw->name);
            goto out;
        }
    if (kw->key == SK_INCLUDE) {
        rc = sshconfig_include(c, &l, depth, e);
        goto out;
    }
    if (kw->key == SK_MATCH) {
        log_warn("%s:%d: Match blocks are not supported: drover ignores this "
                 "block (its options apply to no host)",
                 file, lineno);
        sshconfig_push(c, SC_MATCH, file, lineno);
        goto out;
    }
    struct sshconfig_entry tmp = {.kw = kw};
    if ((rc = sshconfig_check(&tmp, &l, e)) != ERR_OK)
        goto out;
    struct sshconfig_entry *en =
        sshconfig_push(c, kw->key == SK_HOST ? SC_HOST : SC_OPT, file, lineno);
    en->kw = kw;
    en->num = tmp.num;
    en->nargs = l.n - 1;
    en->args = xmalloc(en->nargs * sizeof(*en->args));
    for (size_t i = 1; i < l.n; i++) {
        en->args[i - 1] = l.w[i];
        l.w[i] = NULL;
    }
    l.n = 1;
out:
    sshconfig_line_release(&l);
    return rc;
}

static enum err_code sshconfig_read_file(struct sshconfig *c, const char *path,
                                         int depth, struct err *e)
{
    char *text;
    size_t size;
    enum readfile_rc rr =
        readfile(path, SSHCONFIG_FILE_MAX, READFILE_REGULAR, &text, &size);
    if (rr == READFILE_NOTREG || rr == READFILE_BIG)
        return err_set(e, ERR_PARSE, "%s: not an ssh config (%s)", path,
                       rr == READFILE_BIG ? "larger than 1 MiB"
                                          : "not a regular file");
    if (rr != READFILE_OK)
        return err_sys(e, "%s: cannot read the ssh config", path);
    c->files = xrealloc(c->files, (c->nfiles + 1) * sizeof(*c->files));
    char *file = c->files[c->nfiles++] = xstrdup(path);
    enum err_code rc = ERR_OK;
    char *p = text;
    for (int lineno = 1; rc == ERR_OK && p < text + size; lineno++) {
        char *nl = memchr(p, '\n', (size_t)(text + size - p));
        char *end = nl ? nl : text + size;
        char *nul = memchr(p, '\0', (size_t)(end - p));
        if (nul != NULL) {
            rc = err_set(e, ERR_PARSE,
                         "%s:%d:%d: a NUL byte; is this a text file?", file,
                         lineno, (int)(nul - p) + 1);
            break;
        }
        *end = '\0';
        rc = sshconfig_line(c, file, lineno, p, depth, e);
        p = end + 1;
    }
    free(text);
    return rc;
}

enum err_code sshconfig_load(const char *path, const char *home,
                             struct sshconfig **out, struct err *e)
{
    struct sshconfig *c = xcalloc(1, sizeof(*c));
    c->path = xstrdup(path);
    c->home = xstrdup(home ? home : "");
    *out = NULL;
    if (sshconfig_read_file(c, path, 0, e) != ERR_OK) {
        sshconfig_free(c);
        return e->code;
    }
    *out = c;
    return ERR_OK;
}

/* The default file: ~/.ssh/config. Caller frees. */
static char *sshconfig_default(const char *home)
{
    return xasprintf("%s/.ssh/config", home);
}

enum err_code sshconfig_open(const char *file, const char *home,
                             struct sshconfig **out, struct err *e)
{
    *out = NULL;
    if (file != NULL && strcmp(file, "none") == 0)
        return ERR_OK;
    char *path = file != NULL ? xstrdup(file) : sshconfig_default(home);
    struct err ce = {0};
    if ((file != NULL || access(path, F_OK) == 0) &&
        sshconfig_load(path, home, out, &ce) != ERR_OK) {
        if (ce.code == ERR_SYS)
            err_set(e, ERR_SYS, "%s; fix it or pass --ssh-config none", ce.msg);
        else
            err_set(e, ce.code, "%s", ce.msg);
    }
    free(path);
    return e->code;
}

char *sshconfig_absent(const char *file, const char *home)
{
    if (file != NULL && strcmp(file, "none") == 0)
        return xstrdup("--ssh-config none: no ssh config was read");
    char *path = sshconfig_default(home);
    char *note = xasprintf("no ssh config: %s does not exist", path);
    free(path);
    return note;
}

void sshconfig_free(struct sshconfig *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        for (size_t j = 0; j < c->v[i].nargs; j++)
            free(c->v[i].args[j]);
        free(c->v[i].args);
    }
    free(c->v);
    for (size_t i = 0; i < c->nfiles; i++)
        free(c->files[i]);
    free(c->files);
    free(c->path);
    free(c->home);
    free(c);
}

const char *sshconfig_path(const struct sshconfig *c)
{
    return c->path;
}

size_t sshconfig_count(const struct sshconfig *c)
{
    return c->n;
}

/* OpenSSH's match_pattern: * any run, ? one character. */
static bool sshconfig_glob(const char *p, const char *s)
{
    for (;;) {
        if (*p == '\0')
            return *s == '\0';
        if (*p == '*') {
            while (*p == '*')
                p++;
            if (*p == '\0')
                return true;
            for (; *s != '\0'; s++)
                if ((*p == '?' || *p == *s) && sshconfig_glob(p, s))
                    return true;
            return false;
        }
        if (*s == '\0' || (*p != '?' && *p != *s))
            return false;
        p++;
        s++;
    }
}

bool sshconfig_match(const char *const *patterns, size_t n, const char *name)
{
    bool match = false;
    for (size_t i = 0; i < n; i++) {
        const char *p = patterns[i];
        bool neg = *p == '!';
        if (!sshconfig_glob(neg ? p + 1 : p, name))
            continue;
        if (neg)
            return false;
        match = true;
    }
    return match;
}

/* Apply option en to h unless a value was obtained already. */
static enum err_code sshconfig_apply(const struct sshconfig_entry *en,
                                     const char *alias, bool *seen,
                                     struct sshconfig_host *h, struct err *e)
{
    enum sshconfig_key k = en->kw->key;
    if (k == SK_IDENTITY) { /* accumulates, as in OpenSSH */
        /* ssh 9.2 checks the limit first, then keeps one of identical
         * values (as written, before ~ and %-tokens). */
        if (h->nidentity == SSHCONFIG_IDENTITY_MAX)
            return err_set(e, ERR_LIMIT,
                           "%s:%d: more than %d IdentityFile entries apply "
                           "to %s",
                           en->file, en->line, SSHCONFIG_IDENTITY_MAX, alias);
        for (size_t i = 0; i < h->nidentity; i++)
            if (strcmp(h->identity[i], en->args[0]) == 0)
                return ERR_OK;
        h->identity[h->nidentity++] = en->args[0];
        return ERR_OK;
    }
    /* ProxyJump and ProxyCommand, as ssh 9.2 (readconf.c parse_jump):
     * a ProxyJump counts only while neither was obtained, and a real one
     * takes both; ProxyJump none takes only its own, so a ProxyCommand
     * after it still counts; ProxyCommand none takes its own (no
     * proxy). */
    if (k == SK_PROXYJUMP) {
        bool none = strcasecmp(en->args[0], "none") == 0;
        if (seen[SK_PROXYJUMP] || seen[SK_PROXYCOMMAND])
            return ERR_OK;
        seen[SK_PROXYJUMP] = true;
        seen[SK_PROXYCOMMAND] = !none;
        if (!none) {
            h->proxy = en->kw->name;
            h->proxy_at.file = en->file;
            h->proxy_at.line = en->line;
        }
        return ERR_OK;
    }
    if (seen[k])
        return ERR_OK;
    seen[k] = true;
    switch (k) {
    case SK_HOSTNAME: {
        /* ssh expands %h with the alias as given, then canonicalises. */
        struct sshconfig_tokens t = {.host = alias};
        char *name = sshconfig_expand_(en->args[0], &t, false);
        h->hostname = sshconfig_canon_host(name);
        free(name);
        break;
    }
    case SK_USER:
        h->user = en->args[0];
        break;
    case SK_PORT:
        h->port = (int)en->num;
        break;
    case SK_KNOWN_HOSTS:
        h->known_hosts = en->args[0];
        break;
    case SK_STRICT:
        h->strict = (enum sshconfig_strict)en->num;
        h->strict_at.file = en->file;
        h->strict_at.line = en->line;
        break;
    case SK_CONNECT_TIMEOUT:
        h->connect_timeout_ms = en->num;
        break;
    case SK_ALIVE:
        h->alive_ms = en->num;
        break;
    case SK_PROXYCOMMAND:
        if (!(en->nargs == 1 && strcasecmp(en->args[0], "none") == 0)) {
            h->proxy = en->kw->name;
            h->proxy_at.file = en->file;
            h->proxy_at.line = en->line;
        }
        break;
    default:
        break;
    }
    return ERR_OK;
}

enum err_code sshconfig_lookup(const struct sshconfig *c, const char *alias,
                               struct sshconfig_host *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    out->alive_ms = -1;
    bool seen[SK_MATCH + 1] = {false};
    /* The state each open Include gives back at its end. */
    bool saved_active[SSHCONFIG_DEPTH_MAX + 1],
        saved_never[SSHCONFIG_DEPTH_MAX + 1];
    int depth = 0;
    bool active = true, never = false;
    for (size_t i = 0; c != NULL && i < c->n; i++) {
        const struct sshconfig_entry *en = &c->v[i];
        switch (en->kind) {
        case SC_INC_BEGIN:
            saved_active[depth] = active;
            saved_never[depth] = never;
            depth++;
            /* An Include in a block that does not apply: nothing in the
             * file applies, whatever its Host lines say. */
            never = never || !active;
            break;
        case SC_INC_END:
            depth--;
            active = saved_active[depth];
            never = saved_never[depth];
            break;
        case SC_HOST:
            active = !never && sshconfig_match((const char *const *)en->args,
                                               en->nargs, alias);
            break;
        case SC_MATCH:
            active = false;
            break;
        case SC_OPT:
            if (active && sshconfig_apply(en, alias, seen, out, e) != ERR_OK) {
                sshconfig_host_release(out);
                return e->code;
            }
            break;
        }
    }
    return ERR_OK;
}

void sshconfig_host_release(struct sshconfig_host *h)
{
    free(h->hostname);
    memset(h, 0, sizeof(*h));
    h->alive_ms = -1;
}

char *sshconfig_canon_host(const char *name)
{
    /* ssh.c: a name that is_addr() takes for an address (one with '%' or
     * ':', only digits and dots, or one numeric address to getaddrinfo
     * with AI_NUMERICHOST: no DNS) is not lowercased, and a numeric one
     * is written as getnameinfo writes it unless that differs only in
     * case (resolve_addr); any other name is lowercased (ASCII, as ssh's
     * tolower in the C locale). */
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    if (getaddrinfo(name, "22", &hints, &res) == 0 && res != NULL) {
        char addr[NI_MAXHOST];
        int rc = res->ai_next != NULL
                     ? EAI_FAIL
                     : getnameinfo(res->ai_addr, res->ai_addrlen, addr,
                                   sizeof(addr), NULL, 0, NI_NUMERICHOST);
        freeaddrinfo(res);
        if (rc == 0)
            return xstrdup(strcasecmp(name, addr) == 0 ? name : addr);
    }
    char *out = xstrdup(name);
    bool addr_like = strpbrk(name, "%:") != NULL ||
                     strspn(name, "0123456789.") == strlen(name);
    for (char *p = out; !addr_like && *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return out;
}

char *sshconfig_expand(const char *value, const struct sshconfig_tokens *t)
{
    return sshconfig_expand_(value, t, true);
}

/* sshconfig_expand; canon: %h is t->host canonicalised (what ssh calls
 * the host), else as given (HostName's own %h). */
static char *sshconfig_expand_(const char *value,
                               const struct sshconfig_tokens *t, bool canon)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    const char *p = value;
    if (p[0] == '~' && t->home != NULL) {
        size_t ul = strcspn(p + 1, "/");
        if (ul == 0) {
            buf_adds(&b, t->home);
            p++;
        } else {
            char *u = xstrndup(p + 1, ul);
            const struct passwd *pw = getpwnam(u);
            if (pw != NULL) {
                buf_adds(&b, pw->pw_dir);
                p += 1 + ul;
            }
            free(u);
        }
    }
    for (; *p != '\0'; p++) {
        if (*p != '%' || p[1] == '\0') {
            buf_addc(&b, *p);
            continue;
        }
        p++;
        const char *s = NULL;
        switch (*p) {
        case '%':
            s = "%";
            break;
        case 'd':
            s = t->home;
            break;
        case 'h':
            if (canon && t->host != NULL) {
                char *host = sshconfig_canon_host(t->host);
                buf_adds(&b, host);
                free(host);
                continue;
            }
            s = t->host;
            break;
        case 'n':
        case 'k':
            s = t->alias;
            break;
        case 'r':
            s = t->ruser;
            break;
        case 'u':
            s = t->luser;
            break;
        case 'p':
            buf_printf(&b, "%d", t->port);
            continue;
        case 'i':
            buf_printf(&b, "%u", (unsigned)getuid());
            continue;
        default: /* refused when read: keep it as written */
            buf_addc(&b, '%');
            buf_addc(&b, *p);
            continue;
        }
        buf_adds(&b, s ? s : "");
    }
    return buf_detach(&b);
}
