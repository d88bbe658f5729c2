/* coordinator/config.c: read drover.yml event by event: one mapping of
 * known keys to strings, every problem at file:line:col. */
#include "config.h"

#include "readfile.h"
#include "suggest.h"
#include "yamlread.h"
#include "yamlscalar.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The keys a config file may hold, NULL-terminated. */
static const char *const config_keys[] = {"store", NULL};

static const struct yamlread_limits config_limits = {
    .what = "a config file",
    .depth_max = CONFIG_DEPTH_MAX,
    .nodes_max = CONFIG_NODES_MAX,
};

char *config_user_file(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (xdg != NULL && xdg[0] == '/')
        return xasprintf("%s/drover/drover.yml", xdg);
    const char *home = getenv("HOME");
    if (home == NULL || *home == '\0')
        return NULL;
    return xasprintf("%s/.config/drover/drover.yml", home);
}

void config_release(struct config *c)
{
    free(c->store);
    free(c->store_at);
    memset(c, 0, sizeof(*c));
}

/* A problem at mark m of file name. */
static enum err_code config_problem(const char *name, const yaml_mark_t *m,
                                    const char *what, struct err *e)
{
    return err_set(e, ERR_PARSE, "%s:%zu:%zu: %s", name, m->line + 1,
                   m->column + 1, what);
}

/* Check key (a scalar event) is known and not seen before. */
static enum err_code config_key(const char *name, const yaml_event_t *k,
                                const struct config *c, struct err *e)
{
    const char *key = (const char *)k->data.scalar.value;
    char why[200];
    if (strcmp(key, "store") == 0) {
        if (c->store_at == NULL)
            return ERR_OK;
        snprintf(why, sizeof(why), "key 'store' given twice (first at %s)",
                 c->store_at);
    } else if (strcmp(key, "state_dir") == 0 || strcmp(key, "state-dir") == 0) {
        snprintf(why, sizeof(why),
                 "unknown key '%.60s': a state directory is the store "
                 "'sqlite:DIR' (store: sqlite:DIR)",
                 key);
    } else {
        const char *best = suggest_nearest(key, config_keys);
        snprintf(why, sizeof(why), "unknown key '%.60s'%s%s%s", key,
                 best ? "; did you mean '" : " (the keys: store)",
                 best ? best : "", best ? "'?" : "");
    }
    return config_problem(name, &k->start_mark, why, e);
}

/* The value of store: (an event) into c. */
static enum err_code config_store(const char *name, const yaml_event_t *v,
                                  struct config *c, struct err *e)
{
    if (v->type != YAML_SCALAR_EVENT)
        return config_problem(name, &v->start_mark,
                              "store: expected a store URL (sqlite:DIR), "
                              "not a collection",
                              e);
    struct yamlscalar s = {
        .text = (const char *)v->data.scalar.value,
        .len = v->data.scalar.length,
        .tag = (const char *)v->data.scalar.tag,
        .plain = v->data.scalar.plain_implicit,
    };
    json_t *j = NULL;
    struct err te = {0};
    if (yamlscalar_json(&s, &j, &te) != ERR_OK) {
        char why[300];
        snprintf(why, sizeof(why), "store: %s", te.msg);
        return config_problem(name, &v->start_mark, why, e);
    }
    bool text = json_is_string(j) && json_string_length(j) > 0;
    if (text)
        c->store = xstrdup(json_string_value(j));
    json_decref(j);
    if (!text)
        return config_problem(name, &v->start_mark,
                              "store: expected a store URL (sqlite:DIR)", e);
    c->store_at = xasprintf("%s:%zu:%zu", name, v->start_mark.line + 1,
                            v->start_mark.column + 1);
    return ERR_OK;
}

/* After the mapping's start: its pairs, up to its end. */
static enum err_code config_pairs(struct yamlread *r, struct config *c,
                                  struct err *e)
{
    for (;;) {
        yaml_event_t k, v;
        if (yamlread_next(r, &k, e) != ERR_OK)
            return e->code;
        if (k.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&k);
            return ERR_OK;
        }
        enum err_code rc =
            k.type == YAML_SCALAR_EVENT
                ? config_key(r->name, &k, c, e)
                : config_problem(r->name, &k.start_mark,
                                 "keys of a config file must be strings", e);
        if (rc == ERR_OK && (rc = yamlread_next(r, &v, e)) == ERR_OK) {
            rc = config_store(r->name, &v, c, e);
            yaml_event_delete(&v);
        }
        yaml_event_delete(&k);
        if (rc != ERR_OK)
            return rc;
    }
}

/* The stream: nothing, an empty document, or one mapping. */
static enum err_code config_read(struct yamlread *r, struct config *c,
                                 struct err *e)
{
    bool mapped = false;
    for (;;) {
        yaml_event_t ev;
        if (yamlread_next(r, &ev, e) != ERR_OK)
            return e->code;
        enum err_code rc = ERR_OK;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            yaml_event_delete(&ev);
            return ERR_OK;
        case YAML_MAPPING_START_EVENT:
            rc = mapped ? config_problem(r->name, &ev.start_mark,
                                         "a config file holds one document", e)
                        : config_pairs(r, c, e);
            mapped = true;
            break;
        case YAML_SCALAR_EVENT: /* "---" alone: no settings */
            if (ev.data.scalar.plain_implicit &&
                yamlscalar_is_null((const char *)ev.data.scalar.value))
                break;
            /* fall through */
        case YAML_SEQUENCE_START_EVENT:
        case YAML_ALIAS_EVENT:
            rc = config_problem(r->name, &ev.start_mark,
                                "a config file is a mapping of settings "
                                "(store: URL)",
                                e);
            break;
        default: /* stream and document starts and ends */
            break;
        }
        yaml_event_delete(&ev);
        if (rc != ERR_OK)
            return rc;
    }
}

enum err_code config_load_buffer(const char *name, const char *data, size_t len,
                                 struct config *c, struct err *e)
{
    memset(c, 0, sizeof(*c));
    struct yamlread r;
    if (yamlread_open(&r, name, data, len, &config_limits, e) != ERR_OK)
        return e->code;
    enum err_code rc = config_read(&r, c, e);
    yamlread_close(&r);
    if (rc != ERR_OK)
        config_release(c);
    return rc;
}

enum err_code config_load(const char *path, struct config *c, struct err *e)
{
    memset(c, 0, sizeof(*c));
    char *data = NULL;
    size_t len = 0;
    enum readfile_rc rc =
        readfile(path, CONFIG_FILE_MAX, READFILE_REGULAR, &data, &len);
    if (rc == READFILE_OPEN && errno == ENOENT)
        return err_set(e, ERR_NOTFOUND, "%s: no such file", path);
    if (rc == READFILE_NOTREG)
        return err_set(e, ERR_SYS, "%s: not a regular file", path);
    if (rc == READFILE_BIG)
        return err_set(e, ERR_SYS, "%s: larger than %d bytes", path,
                       CONFIG_FILE_MAX);
    if (rc != READFILE_OK)
        return err_set(e, ERR_SYS, "cannot read %s: %s", path, strerror(errno));
    enum err_code r = config_load_buffer(path, data, len, c, e);
    free(data);
    return r;
}
