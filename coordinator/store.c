/* coordinator/store.c: the store interface: redaction of every text on
 * its way in, poisoning after a failed write, the record's memory, and
 * the table of backends store_open chooses from. The backends
 * (store_sqlite.c) only store and read. */
#include "store.h"

#include "buf.h"
#include "log.h"
#include "redact.h"
#include "statedir.h"
#include "store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const store_results[] = {
    [STORE_RESULT_NONE] = "",
    [STORE_RESULT_SUCCESS] = "success",
    [STORE_RESULT_FAILED] = "failed",
    [STORE_RESULT_ROLLED_BACK] = "rolled back",
    [STORE_RESULT_ROLLBACK_FAILED] = "rollback failed",
    [STORE_RESULT_ABORTED] = "aborted",
    [STORE_RESULT_REFUSED] = "refused",
    [STORE_RESULT_ABANDONED] = "abandoned",
};
enum { STORE_NRESULTS = sizeof(store_results) / sizeof(store_results[0]) };

const char *store_result_str(enum store_result r)
{
    return (size_t)r < STORE_NRESULTS ? store_results[r] : "?";
}

enum store_result store_result_parse(const char *s)
{
    if (s == NULL)
        return STORE_RESULT_NONE;
    for (size_t i = 1; i < STORE_NRESULTS; i++)
        if (strcmp(s, store_results[i]) == 0)
            return (enum store_result)i;
    return STORE_RESULT_NONE;
}

const struct store_backend *const store_backends[] = {
    &store_sqlite_backend,
    NULL,
};

/* The backends as users write them ("sqlite:DIR"), for messages. */
static void store_backend_list(struct buf *b)
{
    for (size_t i = 0; store_backends[i] != NULL; i++)
        buf_printf(b, "%s%s:%s", i > 0 ? ", " : "", store_backends[i]->scheme,
                   store_backends[i]->in_state_dir ? "DIR" : "...");
}

enum err_code store_url_parse(const char *url, const struct store_backend **b,
                              const char **where, struct err *e)
{
    const char *colon = strchr(url, ':');
    for (size_t i = 0; colon != NULL && store_backends[i] != NULL; i++) {
        const struct store_backend *r = store_backends[i];
        if (strlen(r->scheme) == (size_t)(colon - url) &&
            strncmp(url, r->scheme, (size_t)(colon - url)) == 0) {
            *b = r;
            *where = colon + 1;
            return ERR_OK;
        }
    }
    struct buf list;
    buf_init(&list, BUF_UNLIMITED);
    store_backend_list(&list);
    if (colon == NULL)
        err_set(e, ERR_INVALID,
                "store '%s' is not a store URL (this build's backends: %s)",
                url, buf_cstr(&list));
    else
        err_set(e, ERR_INVALID,
                "store '%s': this build has no '%.*s' backend (its backends: "
                "%s)",
                url, (int)(colon - url), url, buf_cstr(&list));
    buf_release(&list);
    return ERR_INVALID;
}

enum err_code store_url_dir(const char *url, char **dir, struct err *e)
{
    const struct store_backend *b = NULL;
    const char *where = NULL;
    if (store_url_parse(url, &b, &where, e) != ERR_OK)
        return e->code;
    if (!b->in_state_dir) {
        struct buf list;
        buf_init(&list, BUF_UNLIMITED);
        store_backend_list(&list);
        err_set(e, ERR_INVALID,
                "store '%s': the %s backend cannot be selected in this build "
                "(its backends: %s)",
                url, b->scheme, buf_cstr(&list));
        buf_release(&list);
        return ERR_INVALID;
    }
    size_t n = strlen(where);
    while (n > 1 && where[n - 1] == '/') /* "DIR/" is DIR */
        n--;
    if (n == 0)
        return err_set(e, ERR_INVALID, "store '%s' names no directory (%s:DIR)",
                       url, b->scheme);
    *dir = xstrndup(where, n);
    return ERR_OK;
}

enum err_code store_open(const char *url, bool readonly, struct store **out,
                         struct err *e)
{
    const struct store_backend *b = NULL;
    const char *where = NULL;
    if (store_url_parse(url, &b, &where, e) != ERR_OK)
        return e->code;
    return b->open(where, readonly, out, e);
}

enum err_code store_open_state(const char *flag, bool readonly,
                               struct store **out, char **dir, struct err *e)
{
    char *d = NULL;
    if ((readonly ? statedir_find(flag, &d, e) : statedir_open(flag, &d, e)) !=
        ERR_OK)
        return e->code;
    const struct store_backend *b = store_backends[0];
    char *url = xasprintf("%s:%s/%s", b->scheme, d, b->state_name);
    enum err_code rc = store_open(url, readonly, out, e);
    free(url);
    /* the key of secret variable hashes lives beside the journal */
    if (rc == ERR_OK &&
        (rc = store_load_vars_key(*out, d, !readonly, e)) != ERR_OK) {
        store_free(*out);
        *out = NULL;
    }
    if (rc == ERR_OK && dir != NULL)
        *dir = d;
    else
        free(d);
    return rc;
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    sodium_memzero(s->vars_key, sizeof(s->vars_key));
    s->ops->free(s);
}

void store_set_redact(struct store *s, const struct redact *r)
{
    s->redact = r;
}

/* A redacted copy of text (NULL stays NULL): the redaction every line
 * drover prints passes (log_redacted, common/log.h), then the store's own
 * set if one was given. Caller frees. */
static char *store_clean(const struct store *s, const char *text)
{
    if (text == NULL)
        return NULL;
    char *clean = log_redacted(text, strlen(text));
    if (s->redact == NULL)
        return clean;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_adds(&b, clean);
    free(clean);
    redact_buf(s->redact, &b);
    redact_patterns(&b);
    return buf_detach(&b);
}

/* Refuse a write once one failed: the journal no longer tells the truth. */
static enum err_code store_check_poison(const struct store *s, struct err *e)
{
    if (!s->poisoned)
        return ERR_OK;
    return err_set(e, ERR_STORE,
                   "journal: an earlier write failed (%s); stop the deploy "
                   "and fix the state directory before `drover resume`",
                   s->first.msg);
}

/* Remember the first failed write. */
static enum err_code store_after(struct store *s, enum err_code rc,
                                 struct err *e)
{
    if (rc != ERR_OK && !s->poisoned) {
        s->poisoned = true;
        if (e != NULL)
            s->first = *e;
        else
            err_set(&s->first, rc, "journal write failed");
    }
    return rc;
}

static int store_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *store_vars_encode(const struct store *s, const json_t *vars)
{
    if (!json_is_object(vars))
        return NULL;
    json_t *values = json_object(), *withheld = json_array(),
           *hashes = json_object();
    size_t n = 0;
    const char **names = xcalloc(json_object_size(vars) + 1, sizeof(char *));
    const char *name;
    json_t *v;
    /* jansson's iteration takes a non-const object; nothing is changed */
    json_object_foreach((json_t *)vars, name, v)
    {
        names[n++] = name;
    }
    qsort(names, n, sizeof(char *), store_name_cmp);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "version") == 0)
            continue; /* journaled in a field of its own */
        v = json_object_get(vars, names[i]);
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        char *clean = store_clean(s, text != NULL ? text : "");
        if (text == NULL || redact_name_is_secret(names[i]) ||
            strcmp(text, clean) != 0) {
            json_array_append_new(withheld, json_string(names[i]));
            if (text != NULL && s->vars_keyed) {
                char hex[STORE_VARS_HASH_HEX + 1];
                store_var_hash(s->vars_key, names[i], text, hex);
                json_object_set_new(hashes, names[i], json_string(hex));
            }
        } else
            json_object_set(values, names[i], v);
        if (text != NULL)
            explicit_bzero(text, strlen(text));
        free(text);
        free(clean);
    }
    free(names);
    json_t *o = json_pack("{s:o, s:o, s:o}", "values", values, "withheld",
                          withheld, "hashes", hashes);
    char *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return out;
}

enum err_code store_deploy_begin(struct store *s,
                                 const struct store_deploy_info *in,
                                 char id[STORE_ID_MAX], struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    if (in->plan == NULL || *in->plan == '\0')
        return err_set(e, ERR_INVALID, "journal: a deploy needs a plan name");
    struct store_deploy_info c = *in;
    char *f[] = {
        store_clean(s, in->plan),      store_clean(s, in->plan_file),
        store_clean(s, in->inventory), store_clean(s, in->lock),
        store_clean(s, in->version),   store_clean(s, in->previous_version),
        store_clean(s, in->user),      store_clean(s, in->host),
        store_clean(s, in->ticket),    store_clean(s, in->approver),
        store_clean(s, in->reason),    store_clean(s, in->git_commit),
        store_clean(s, in->git_tag),   store_clean(s, in->changes),
    };
    c.plan = f[0];
    c.plan_file = f[1];
    c.inventory = f[2];
    c.lock = f[3];
    c.version = f[4];
    c.previous_version = f[5];
    c.user = f[6];
    c.host = f[7];
    c.ticket = f[8];
    c.approver = f[9];
    c.reason = f[10];
    c.git_commit = f[11];
    c.git_tag = f[12];
    c.changes = f[13];
    c.vars = NULL;
    char *vars = store_vars_encode(s, in->vars);
    enum err_code rc = s->ops->deploy_begin(s, &c, vars, id, e);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        free(f[i]);
    free(vars);
    return store_after(s, rc, e);
}

enum err_code store_batch_begin(struct store *s, struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    return store_after(s, s->ops->batch(s, true, e), e);
}

enum err_code store_batch_commit(struct store *s, struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    return store_after(s, s->ops->batch(s, false, e), e);
}

enum err_code store_deploy_state(struct store *s, const char *id,
                                 const char *state, struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    return store_after(s, s->ops->deploy_state(s, id, state, e), e);
}

enum err_code store_deploy_end(struct store *s, const char *id,
                               enum store_result r, bool rolled_back,
                               struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    return store_after(s, s->ops->deploy_end(s, id, r, rolled_back, e), e);
}

enum err_code store_wave_plan(struct store *s, const char *id, int wave,
                              const char *const *hosts, size_t n, struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    char **c = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        c[i] = store_clean(s, hosts[i]);
    enum err_code rc =
        s->ops->wave_plan(s, id, wave, (const char *const *)c, n, e);
    for (size_t i = 0; i < n; i++)
        free(c[i]);
    free(c);
    return store_after(s, rc, e);
}

enum err_code store_wave_state(struct store *s, const char *id, int wave,
                               const char *state, struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    return store_after(s, s->ops->wave_state(s, id, wave, state, e), e);
}

enum err_code store_host_state(struct store *s, const char *id,
                               const char *host, const char *state,
                               const char *reason, struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    char *h = store_clean(s, host), *r = store_clean(s, reason);
    enum err_code rc = s->ops->host_state(s, id, h, state, r, e);
    free(h);
    free(r);
    return store_after(s, rc, e);
}

enum err_code store_step_intent(struct store *s, const char *id,
                                const struct store_step *st, int64_t *step,
                                struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    struct store_step c = *st;
    char *f[] = {store_clean(s, st->host), store_clean(s, st->name),
                 store_clean(s, st->job_id), store_clean(s, st->command)};
    c.host = f[0];
    c.name = f[1];
    c.job_id = f[2];
    c.command = f[3];
    if (c.phase == NULL)
        c.phase = "deploy";
    enum err_code rc = s->ops->step_intent(s, id, &c, step, e);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        free(f[i]);
    return store_after(s, rc, e);
}

enum err_code store_step_outcome(struct store *s, int64_t step,
                                 const struct store_step_outcome *o,
                                 struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    struct store_step_outcome c = *o;
    char *out = store_clean(s, o->output);
    c.output = out;
    if (c.outcome == NULL)
        c.outcome = "ok";
    enum err_code rc = s->ops->step_outcome(s, step, &c, e);
    free(out);
    return store_after(s, rc, e);
}

enum err_code store_check(struct store *s, const char *id,
                          const struct store_check *c, struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    struct store_check k = *c;
    char *f[] = {store_clean(s, c->host), store_clean(s, c->name),
                 store_clean(s, c->reason)};
    k.host = f[0];
    k.name = f[1];
    k.reason = f[2];
    enum err_code rc = s->ops->check(s, id, &k, e);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        free(f[i]);
    return store_after(s, rc, e);
}

enum err_code store_precheck(struct store *s, const char *id, const char *name,
                             const char *host, bool ok, const char *evidence,
                             struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    char *n = store_clean(s, name), *h = store_clean(s, host),
         *ev = store_clean(s, evidence);
    enum err_code rc = s->ops->precheck(s, id, n, h, ok, ev, e);
    free(n);
    free(h);
    free(ev);
    return store_after(s, rc, e);
}

static enum err_code store_note(struct store *s, const char *id,
                                const char *kind, const char *text,
                                struct err *e)
{
    if (store_check_poison(s, e) != ERR_OK)
        return ERR_STORE;
    char *t = store_clean(s, text != NULL ? text : "");
    enum err_code rc = s->ops->note(s, id, kind, t, e);
    free(t);
    return store_after(s, rc, e);
}

enum err_code store_decision(struct store *s, const char *id, const char *text,
                             struct err *e)
{
    return store_note(s, id, "decision", text, e);
}

enum err_code store_issue(struct store *s, const char *id, const char *text,
                          struct err *e)
{
    return store_note(s, id, "issue", text, e);
}

enum err_code store_last_success(struct store *s, const char *plan,
                                 char **version, char **git_commit,
                                 struct err *e)
{
    return s->ops->last_success(s, plan, version, git_commit, e);
}

enum err_code store_list(struct store *s, const struct store_filter *f,
                         struct store_summary **rows, size_t *n, struct err *e)
{
    static const struct store_filter all = {0};
    return s->ops->list(s, f != NULL ? f : &all, rows, n, e);
}

static void store_var_add(struct store_record *r, const char *name,
                          const json_t *value, const char *hash)
{
    r->vars = xrealloc(r->vars, (r->nvars + 1) * sizeof(*r->vars));
    struct store_var_row *v = &r->vars[r->nvars++];
    v->name = store_record_str(r, name);
    v->secret = value == NULL;
    v->value = NULL;
    v->hash = store_record_str(r, hash);
    if (value != NULL) {
        char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        v->value = store_record_str(r, text != NULL ? text : "null");
        free(text);
    }
}

static int store_var_cmp(const void *a, const void *b)
{
    return strcmp(((const struct store_var_row *)a)->name,
                  ((const struct store_var_row *)b)->name);
}

/* r->vars from r->vars_text (store_vars_encode's form). */
static enum err_code store_vars_decode(struct store_record *r, struct err *e)
{
    if (r->vars_text == NULL)
        return ERR_OK;
    json_error_t je;
    json_t *o = json_loads(r->vars_text, 0, &je);
    json_t *values = json_object_get(o, "values");
    json_t *withheld = json_object_get(o, "withheld");
    if (!json_is_object(values) || !json_is_array(withheld)) {
        json_decref(o);
        return err_set(e, ERR_PARSE,
                       "journal: deploy %s: its variables are not "
                       "{\"values\": {...}, \"withheld\": [...]}",
                       r->id);
    }
    const char *name;
    json_t *v;
    json_object_foreach(values, name, v)
    {
        store_var_add(r, name, v, NULL);
    }
    /* "hashes" is absent in journals of an older drover */
    json_t *hashes = json_object_get(o, "hashes");
    size_t i;
    json_array_foreach(withheld, i, v)
    {
        if (!json_is_string(v))
            continue;
        json_t *h = json_object_get(hashes, json_string_value(v));
        store_var_add(r, json_string_value(v), NULL,
                      json_is_string(h) &&
                              json_string_length(h) == STORE_VARS_HASH_HEX
                          ? json_string_value(h)
                          : NULL);
    }
    json_decref(o);
    if (r->nvars > 1)
        qsort(r->vars, r->nvars, sizeof(*r->vars), store_var_cmp);
    r->vars_journaled = true;
    return ERR_OK;
}

enum err_code store_get_record(struct store *s, const char *id,
                               struct store_record **out, struct err *e)
{
    enum err_code rc = s->ops->get(s, id, out, e);
    if (rc == ERR_OK && store_vars_decode(*out, e) != ERR_OK) {
        store_record_free(*out);
        *out = NULL;
        return ERR_PARSE;
    }
    if (rc == ERR_OK && s->vars_keyed) {
        memcpy((*out)->vars_key, s->vars_key, STORE_VARS_KEY_LEN);
        (*out)->vars_keyed = true;
    }
    return rc;
}

char *store_record_str(struct store_record *r, const char *s)
{
    if (s == NULL)
        return NULL;
    r->pool = xrealloc(r->pool, (r->npool + 1) * sizeof(char *));
    r->pool[r->npool] = xstrdup(s);
    return r->pool[r->npool++];
}

void store_record_free(struct store_record *r)
{
    if (r == NULL)
        return;
    sodium_memzero(r->vars_key, sizeof(r->vars_key));
    for (size_t i = 0; i < r->npool; i++)
        free(r->pool[i]);
    free(r->pool);
    free(r->waves);
    free(r->hosts);
    free(r->steps);
    free(r->checks);
    free(r->prechecks);
    free(r->decisions);
    free(r->issues);
    free(r->vars);
    free(r);
}

void store_var_hash(const unsigned char key[STORE_VARS_KEY_LEN],
                    const char *name, const char *text,
                    char out[STORE_VARS_HASH_HEX + 1])
{
    unsigned char h[STORE_VARS_HASH_HEX / 2];
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, STORE_VARS_KEY_LEN, sizeof(h));
    /* the name is hashed too: two variables with one value differ */
    crypto_generichash_update(&st, (const unsigned char *)name,
                              strlen(name) + 1);
    crypto_generichash_update(&st, (const unsigned char *)text, strlen(text));
    crypto_generichash_final(&st, h, sizeof(h));
    sodium_bin2hex(out, STORE_VARS_HASH_HEX + 1, h, sizeof(h));
    sodium_memzero(&st, sizeof(st));
}

int store_var_same(const struct store_record *r,
                   const struct store_var_row *row, const json_t *value)
{
    if (row->hash == NULL || !r->vars_keyed)
        return -1;
    char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    if (text == NULL)
        return 0;
    char hex[STORE_VARS_HASH_HEX + 1];
    store_var_hash(r->vars_key, row->name, text, hex);
    explicit_bzero(text, strlen(text));
    free(text);
    return sodium_memcmp(hex, row->hash, STORE_VARS_HASH_HEX) == 0;
}

/* Parse the key file's text (hex) into key. */
static enum err_code store_vars_key_parse(const char *path, const char *text,
                                          unsigned char *key, struct err *e)
{
    size_t n = 0;
    if (sodium_hex2bin(key, STORE_VARS_KEY_LEN, text, strlen(text), "\n", &n,
                       NULL) != 0 ||
        n != STORE_VARS_KEY_LEN)
        return err_set(e, ERR_SYS,
                       "%s is not a key of %d bytes in hex: restore it or "
                       "remove it (deploys journaled with it can then only "
                       "be resumed with --override-var for their secrets)",
                       path, STORE_VARS_KEY_LEN);
    return ERR_OK;
}

enum err_code store_load_vars_key(struct store *s, const char *dir, bool create,
                                  struct err *e)
{
    if (sodium_init() < 0)
        return err_set(e, ERR_SYS, "libsodium failed to initialise");
    char *path = xasprintf("%s/%s", dir, STORE_VARS_KEY_FILE);
    char *text = NULL;
    enum err_code rc = statedir_read(path, &text, e);
    if (rc == ERR_NOTFOUND && create) {
        err_clear(e);
        /* O_EXCL: two coordinators starting at once keep one key */
        int fd = open(
            path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno == EEXIST) {
            rc = statedir_read(path, &text, e);
        } else if (fd < 0) {
            rc = err_sys(e, "cannot create %s", path);
        } else {
            unsigned char key[STORE_VARS_KEY_LEN];
            char hex[2 * STORE_VARS_KEY_LEN + 2];
            randombytes_buf(key, sizeof(key));
            sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
            size_t len = strlen(hex);
            hex[len++] = '\n';
            rc = write(fd, hex, len) == (ssize_t)len && fsync(fd) == 0
                     ? ERR_OK
                     : err_sys(e, "cannot write %s", path);
            close(fd);
            if (rc == ERR_OK)
                rc = statedir_sync_parent(path, e);
            if (rc == ERR_OK) {
                memcpy(s->vars_key, key, sizeof(key));
                s->vars_keyed = true;
            }
            sodium_memzero(key, sizeof(key));
            sodium_memzero(hex, sizeof(hex));
            free(path);
            return rc;
        }
    }
    if (rc == ERR_NOTFOUND) { /* read-only, no key yet: nothing hashed */
        err_clear(e);
        free(path);
        return ERR_OK;
    }
    if (rc == ERR_OK) {
        rc = store_vars_key_parse(path, text, s->vars_key, e);
        s->vars_keyed = rc == ERR_OK;
    }
    if (text != NULL) {
        sodium_memzero(text, strlen(text));
        free(text);
    }
    free(path);
    return rc;
}
