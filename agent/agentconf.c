/* agent/agentconf.c: the configuration file parser (lines read whole by
 * common/linefile.h). */
#include "agentconf.h"

#include "duration.h"
#include "linefile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void agentconf_init(struct agentconf *c)
{
    memset(c, 0, sizeof(*c));
    c->listen = xstrdup("tcp://0.0.0.0:7447");
    c->key = xstrdup("/etc/drover/agent.key");
    c->authorized_keys = xstrdup("/etc/drover/authorized_keys");
    c->state_dir = xstrdup("/var/lib/drover-agent");
    c->output_max = 1024 * 1024;
    c->max_jobs = 64;
    c->heartbeat_ms = 2000;
    c->kill_grace_ms = 2000;
    c->retention_ms = 7LL * 24 * 3600 * 1000;
    c->log_level = LOG_INFO;
    c->announce_key = true;
}

void agentconf_release(struct agentconf *c)
{
    free(c->listen);
    free(c->key);
    free(c->authorized_keys);
    free(c->state_dir);
    memset(c, 0, sizeof(*c));
}

static enum err_code agentconf_uint(const char *value, uint64_t max,
                                    uint64_t *out, const char *where,
                                    const char *key, struct err *e)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (value[0] == '-' || errno != 0 || end == value || *end != '\0' ||
        v == 0 || v > max)
        return err_set(e, ERR_PARSE,
                       "%s: %s: expected a whole number from 1 to %llu, got "
                       "'%s'",
                       where, key, (unsigned long long)max, value);
    *out = v;
    return ERR_OK;
}

enum err_code agentconf_set(struct agentconf *c, const char *key,
                            const char *value, const char *where, struct err *e)
{
    char **str = NULL;
    if (strcmp(key, "listen") == 0)
        str = &c->listen;
    else if (strcmp(key, "key") == 0)
        str = &c->key;
    else if (strcmp(key, "authorized_keys") == 0)
        str = &c->authorized_keys;
    else if (strcmp(key, "state_dir") == 0)
        str = &c->state_dir;
    if (str != NULL) {
        if (value[0] == '\0')
            return err_set(e, ERR_PARSE, "%s: %s: empty value", where, key);
        free(*str);
        *str = xstrdup(value);
        return ERR_OK;
    }
    uint64_t u;
    int64_t ms;
    if (strcmp(key, "output_max") == 0)
        return agentconf_uint(value, (uint64_t)1 << 40, &c->output_max, where,
                              key, e);
    if (strcmp(key, "max_jobs") == 0) {
        if (agentconf_uint(value, 4096, &u, where, key, e) != ERR_OK)
            return ERR_PARSE;
        c->max_jobs = (size_t)u;
        return ERR_OK;
    }
    int64_t *dur = NULL;
    if (strcmp(key, "heartbeat") == 0)
        dur = &c->heartbeat_ms;
    else if (strcmp(key, "kill_grace") == 0)
        dur = &c->kill_grace_ms;
    else if (strcmp(key, "job_retention") == 0)
        dur = &c->retention_ms;
    if (dur != NULL) {
        struct err de = {0};
        if (duration_parse(value, &ms, &de) != ERR_OK)
            return err_set(e, ERR_PARSE, "%s: %s: %s", where, key, de.msg);
        if (ms <= 0)
            return err_set(e, ERR_PARSE, "%s: %s: must be more than 0", where,
                           key);
        *dur = ms;
        return ERR_OK;
    }
    if (strcmp(key, "announce_key") == 0) {
        if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0) {
            c->announce_key = value[0] == 'y';
            return ERR_OK;
        }
        return err_set(e, ERR_PARSE,
                       "%s: announce_key: expected yes or no, got '%s'", where,
                       value);
    }
    if (strcmp(key, "log_level") == 0) {
        static const char *const names[] = {"error", "warn", "info", "debug",
                                            "trace"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strcmp(value, names[i]) == 0) {
                c->log_level = (enum log_level)i;
                return ERR_OK;
            }
        return err_set(e, ERR_PARSE,
                       "%s: log_level: expected error, warn, info, debug or "
                       "trace, got '%s'",
                       where, value);
    }
    return err_set(e, ERR_PARSE,
                   "%s: unknown key '%s' (known: listen, key, "
                   "authorized_keys, state_dir, output_max, max_jobs, "
                   "heartbeat, kill_grace, job_retention, log_level, "
                   "announce_key)",
                   where, key);
}

static char *agentconf_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                     s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

enum err_code agentconf_load(struct agentconf *c, const char *path,
                             struct err *e)
{
    struct linefile r;
    if (!linefile_open(&r, path, e))
        return e ? e->code : ERR_SYS;
    char *p;
    enum err_code rc;
    while ((rc = linefile_next(&r, &p, e)) == ERR_OK) {
        p = agentconf_trim(p);
        char where[300];
        char *eq = strchr(p, '=');
        if (eq == NULL) {
            snprintf(where, sizeof(where), "%s:%d:%d", path, r.lineno,
                     (int)(p - r.line) + 1);
            rc = err_set(e, ERR_PARSE, "%s: expected 'key = value'", where);
            break;
        }
        *eq = '\0';
        char *key = agentconf_trim(p);
        char *value = agentconf_trim(eq + 1);
        snprintf(where, sizeof(where), "%s:%d:%d", path, r.lineno,
                 (int)(value - r.line) + 1);
        if ((rc = agentconf_set(c, key, value, where, e)) != ERR_OK)
            break;
    }
    linefile_close(&r);
    return rc == ERR_NOTFOUND ? ERR_OK : rc; /* the end of the file */
}
