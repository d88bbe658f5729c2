/* coordinator/storesel.c: the store's sources, in order of precedence,
 * and the refusals of a selection that cannot be meant. */
#include "storesel.h"

#include "config.h"
#include "store.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* An environment variable, NULL when unset or empty. */
static const char *storesel_env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

void storesel_from_env(struct storesel_in *in, const char *flag_store,
                       const char *flag_state_dir)
{
    memset(in, 0, sizeof(*in));
    in->flag_store = flag_store;
    in->flag_state_dir = flag_state_dir;
    in->env_store = storesel_env("DROVER_STORE");
    in->env_state_dir = storesel_env("DROVER_STATE_DIR");
    in->env_config = storesel_env("DROVER_CONFIG");
    in->user_file = config_user_file();
    in->system_file = CONFIG_SYSTEM_FILE;
}

void storesel_release(struct storesel *s)
{
    free(s->dir);
    free(s->source);
    memset(s, 0, sizeof(*s));
}

/* Whether directory a is b, trailing '/' aside. */
static bool storesel_same_dir(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    while (na > 1 && a[na - 1] == '/')
        na--;
    while (nb > 1 && b[nb - 1] == '/')
        nb--;
    return na == nb && strncmp(a, b, na) == 0;
}

/* One level of precedence: a URL (url_name says where from) and a state
 * directory (dir_name), either may be NULL. *done: the level names the
 * store, now in out. */
static enum err_code storesel_level(const char *url, const char *url_name,
                                    const char *dir, const char *dir_name,
                                    const char *give_one, struct storesel *out,
                                    bool *done, struct err *e)
{
    *done = false;
    char *from_url = NULL;
    if (url != NULL) {
        struct err ue = {0};
        if (store_url_dir(url, &from_url, &ue) != ERR_OK)
            return err_set(e, ERR_USAGE, "%s: %s", url_name, ue.msg);
    }
    if (from_url != NULL && dir != NULL && !storesel_same_dir(from_url, dir)) {
        free(from_url);
        return err_set(e, ERR_USAGE,
                       "%s %s and %s %s name different stores: %s", url_name,
                       url, dir_name, dir, give_one);
    }
    if (from_url == NULL && dir == NULL)
        return ERR_OK;
    /* a directory given as such stays as written (messages show it) */
    out->dir = dir != NULL ? xstrdup(dir) : from_url;
    if (dir != NULL)
        free(from_url);
    out->source = xstrdup(url != NULL ? url_name : dir_name);
    *done = true;
    return ERR_OK;
}

/* The store of config file path (ERR_NOTFOUND: no such file, unless
 * must_exist). *done as storesel_level. */
static enum err_code storesel_file(const char *path, bool must_exist,
                                   struct storesel *out, bool *done,
                                   struct err *e)
{
    *done = false;
    struct config c;
    struct err ce = {0};
    enum err_code rc = config_load(path, &c, &ce);
    if (rc == ERR_NOTFOUND && !must_exist)
        return ERR_OK;
    if (rc != ERR_OK)
        return err_set(e, ERR_USAGE, "%s%s",
                       rc == ERR_NOTFOUND ? "$DROVER_CONFIG: " : "", ce.msg);
    if (c.store == NULL) {
        config_release(&c);
        return ERR_OK;
    }
    char *dir = NULL;
    if (store_url_dir(c.store, &dir, &ce) != ERR_OK)
        rc = err_set(e, ERR_USAGE, "%s: %s", c.store_at, ce.msg);
    else if (dir[0] != '/')
        rc = err_set(e, ERR_USAGE,
                     "%s: store '%s' names a relative directory: a config "
                     "file names an absolute one",
                     c.store_at, c.store);
    if (rc == ERR_OK) {
        out->dir = dir;
        out->source = xstrdup(c.store_at);
        *done = true;
    } else {
        free(dir);
    }
    config_release(&c);
    return rc;
}

enum err_code storesel_pick(const struct storesel_in *in, struct storesel *out,
                            struct err *e)
{
    memset(out, 0, sizeof(*out));
    bool done = false;
    enum err_code rc =
        storesel_level(in->flag_store, "--store", in->flag_state_dir,
                       "--state-dir", "give one of them", out, &done, e);
    if (rc == ERR_OK && !done)
        rc = storesel_level(in->env_store, "$DROVER_STORE", in->env_state_dir,
                            "$DROVER_STATE_DIR", "unset one of them", out,
                            &done, e);
    if (rc == ERR_OK && !done && in->env_config != NULL)
        rc = storesel_file(in->env_config, true, out, &done, e);
    else if (rc == ERR_OK && !done) {
        /* the user's file wins; the system's applies when it says nothing */
        const char *files[] = {in->user_file, in->system_file};
        for (size_t i = 0; i < 2 && rc == ERR_OK && !done; i++)
            if (files[i] != NULL)
                rc = storesel_file(files[i], false, out, &done, e);
    }
    if (rc == ERR_OK && !done)
        out->source = xstrdup("default");
    if (rc != ERR_OK)
        storesel_release(out);
    return rc;
}
