/* coordinator/check_http.c: the http check kind (check_http.h): its keys
 * read from the plan, rendered per host into the check_spec health.c
 * probes, shown by `drover plan`, and probed from the coordinator. */
#include "check_http.h"

#include "buf.h"
#include "err.h"
#include "plan.h"
#include "rollout.h"
#include "template.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static const char *const check_http_methods[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL};
static const char *const check_http_keys[] = {"method", "headers", "expect",
                                              NULL};
static const char *const check_http_expect_keys[] = {
    "status", "json", "body", "body_regex", "version", NULL};

const struct check_http *check_http_of(const struct plan_check *c)
{
    return c->data;
}

/* --- reading ------------------------------------------------------------- */

/* One status: 200, "200-299" or "2xx" (what names it in messages). */
static bool check_http_status_one(struct plan_reader *r, const yaml_node_t *s,
                                  const char *what,
                                  struct check_http_status *st)
{
    const char *v = plan_key_scalar(s);
    if (v != NULL) {
        int lo, hi, used = 0;
        char x1, x2;
        if (sscanf(v, "%d-%d%n", &lo, &hi, &used) == 2 &&
            (size_t)used == strlen(v)) {
            if (lo < 100 || hi > 599 || lo > hi) {
                plan_key_problem(r, s,
                                 "expect.status range '%s' must lie within "
                                 "100-599, low to high",
                                 v);
                return false;
            }
            *st = (struct check_http_status){lo, hi, false};
            return true;
        }
        if (strlen(v) == 3 && v[0] >= '1' && v[0] <= '5' &&
            sscanf(v + 1, "%c%c", &x1, &x2) == 2 && x1 == 'x' && x2 == 'x') {
            long base = (v[0] - '0') * 100;
            *st = (struct check_http_status){base, base + 99, true};
            return true;
        }
    }
    long code;
    bool number = false;
    if (v != NULL) {
        char *end = NULL;
        (void)strtol(v, &end, 10);
        number = *v != '\0' && *end == '\0';
    }
    /* a list element says every form it may take */
    if (!number && strcmp(what, "expect.status") != 0) {
        plan_key_problem(r, s,
                         "%s must be a code, a range or a class such as 200, "
                         "\"200-299\" or \"2xx\", not %s%s%s",
                         what, v != NULL ? "'" : "",
                         v != NULL ? v : plan_key_type(s),
                         v != NULL ? "'" : "");
        return false;
    }
    if (!plan_key_int(r, s, what, 100, 599, &code))
        return false;
    *st = (struct check_http_status){code, code, false};
    return true;
}

/* expect.status: one status, or a list of them (any passes). */
static void check_http_status_read(struct plan_reader *r, const yaml_node_t *s,
                                   struct check_http *c)
{
    struct check_http_status st;
    if (s->type != YAML_SEQUENCE_NODE) {
        if (check_http_status_one(r, s, "expect.status", &st)) {
            c->expect_status = st.lo;
            c->expect_status_max = st.hi != st.lo ? st.hi : 0;
        }
        return;
    }
    size_t n = plan_key_len(s);
    if (n == 0) {
        plan_key_problem(r, s,
                         "expect.status is an empty list: list the statuses "
                         "that pass, such as [200, 204]");
        return;
    }
    c->statuses = xcalloc(n, sizeof(*c->statuses));
    for (size_t i = 0; i < n; i++)
        if (check_http_status_one(r, plan_key_item(r, s, i),
                                  "an expect.status element", &st))
            c->statuses[c->nstatuses++] = st;
    if (c->nstatuses == 0) {
        free(c->statuses);
        c->statuses = NULL;
        return;
    }
    c->expect_status = c->statuses[0].lo;
    c->expect_status_max =
        c->statuses[0].hi != c->statuses[0].lo ? c->statuses[0].hi : 0;
}

/* expect.body_regex: kept as written, compiled once here to refuse a bad
 * one at load. */
static void check_http_regex_read(struct plan_reader *r, const yaml_node_t *s,
                                  struct check_http *c)
{
    c->expect_body_regex = plan_key_string(r, s, "expect.body_regex");
    if (c->expect_body_regex == NULL)
        return;
    regex_t re;
    int rc = regcomp(&re, c->expect_body_regex, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, &re, why, sizeof(why));
        plan_key_problem(r, s, "expect.body_regex: %s", why);
    } else {
        regfree(&re);
    }
}

static void check_http_free(void *data);

static void *check_http_parse(struct plan_reader *r, const yaml_node_t *n,
                              const char *what, bool own)
{
    (void)what;
    struct check_http *c = xcalloc(1, sizeof(*c));
    c->expect_status = 200;
    const yaml_node_t *v, *http = plan_key_get(r, n, "http");
    if (http != NULL)
        c->http = plan_key_template(r, http, "check 'http'");
    if (c->http != NULL && strncmp(c->http, "http://", 7) != 0 &&
        strncmp(c->http, "https://", 8) != 0 && strncmp(c->http, "{{", 2) != 0)
        plan_key_problem(r, http,
                         "check 'http' must be an http:// or https:// URL, "
                         "not '%s'",
                         c->http);
    if ((v = plan_key_get(r, n, "method")) != NULL) {
        c->method = plan_key_string(r, v, "check 'method'");
        bool known = false;
        for (const char *const *m = check_http_methods; c->method && *m; m++)
            known |= strcmp(*m, c->method) == 0;
        if (c->method != NULL && !known)
            plan_key_problem(r, v,
                             "check 'method' '%s' is not one of GET, HEAD, "
                             "POST, PUT, PATCH, DELETE, OPTIONS",
                             c->method);
        if (!own)
            plan_key_problem(r, v, "'method' applies to http checks only");
    }
    if ((v = plan_key_get(r, n, "headers")) != NULL) {
        c->headers = plan_key_string_map(r, v, "check 'headers'");
        if (!own)
            plan_key_problem(r, v, "'headers' apply to http checks only");
    }
    if ((v = plan_key_get(r, n, "expect")) != NULL &&
        plan_key_mapping(r, v, "check 'expect'")) {
        plan_key_keys(r, v, "a check's expect", check_http_expect_keys);
        if (!own && v->data.mapping.pairs.top > v->data.mapping.pairs.start)
            plan_key_problem(r, v,
                             "'expect' applies to http checks only (a "
                             "command check passes when it exits 0)");
        const yaml_node_t *s;
        if ((s = plan_key_get(r, v, "status")) != NULL)
            check_http_status_read(r, s, c);
        if ((s = plan_key_get(r, v, "json")) != NULL &&
            plan_key_mapping(r, s, "expect.json"))
            c->expect_json = plan_key_json(r, s);
        if ((s = plan_key_get(r, v, "body")) != NULL)
            c->expect_body = plan_key_template(r, s, "expect.body");
        if ((s = plan_key_get(r, v, "body_regex")) != NULL)
            check_http_regex_read(r, s, c);
        if ((s = plan_key_get(r, v, "version")) != NULL)
            c->expect_version = plan_key_template(r, s, "expect.version");
    }
    if (own)
        return c;
    check_http_free(c);
    return NULL;
}

static void check_http_free(void *data)
{
    struct check_http *c = data;
    if (c == NULL)
        return;
    free(c->http);
    free(c->method);
    json_decref(c->headers);
    json_decref(c->expect_json);
    free(c->expect_body);
    free(c->expect_body_regex);
    free(c->statuses);
    free(c->expect_version);
    free(c);
}

/* --- status in words ----------------------------------------------------- */

/* One status as the plan writes it: "200", "3xx" or "500-503". */
static void check_http_status_word(struct buf *b,
                                   const struct check_http_status *st)
{
    if (st->cls)
        buf_printf(b, "%ldxx", st->lo / 100);
    else if (st->lo == st->hi)
        buf_printf(b, "%ld", st->lo);
    else
        buf_printf(b, "%ld-%ld", st->lo, st->hi);
}

char *check_http_status_words(const struct check_http *c)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    if (c->nstatuses == 0) {
        struct check_http_status one = {
            c->expect_status,
            c->expect_status_max ? c->expect_status_max : c->expect_status,
            false};
        check_http_status_word(&b, &one);
        return buf_detach(&b);
    }
    for (size_t i = 0; i < c->nstatuses; i++) {
        if (i > 0)
            buf_adds(&b, i + 1 == c->nstatuses ? " or " : ", ");
        check_http_status_word(&b, &c->statuses[i]);
    }
    return buf_detach(&b);
}

void check_http_status_json(const struct check_http *c, json_t *expect)
{
    if (c->nstatuses == 0) {
        json_object_set_new(expect, "status", json_integer(c->expect_status));
        if (c->expect_status_max)
            json_object_set_new(expect, "status_max",
                                json_integer(c->expect_status_max));
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < c->nstatuses; i++) {
        const struct check_http_status *st = &c->statuses[i];
        if (!st->cls && st->lo == st->hi) {
            json_array_append_new(a, json_integer(st->lo));
            continue;
        }
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        check_http_status_word(&b, st);
        json_array_append_new(a, json_string(buf_cstr(&b)));
        buf_release(&b);
    }
    json_object_set_new(expect, "status", a);
}

/* --- rendering ----------------------------------------------------------- */

/* The spec health_probe takes, pointing into h and the plan's c. */
static void check_http_spec(const struct plan_check *pc,
                            struct check_http_host *h)
{
    const struct check_http *c = pc->data;
    struct check_spec *s = &h->spec;
    s->http = h->url;
    s->expect_status = c->expect_status;
    s->expect_status_max = c->expect_status_max;
    s->timeout_ms = pc->timeout_ms;
    s->method = c->method;
    s->headers = (const char *const *)h->headers;
    s->nheaders = h->nheaders;
    s->body_contains = h->body;
    s->body_regex = c->expect_body_regex;
    s->version = h->version;
    s->label = pc->name;
    if (c->nstatuses > 0) {
        h->statuses = xcalloc(c->nstatuses, sizeof(*h->statuses));
        for (size_t m = 0; m < c->nstatuses; m++)
            h->statuses[m] =
                (struct check_status){c->statuses[m].lo, c->statuses[m].hi};
        s->statuses = h->statuses;
        s->nstatuses = c->nstatuses;
        h->words = check_http_status_words(c);
        s->expect_words = h->words;
    }
    if (h->json != NULL) {
        size_t nj = json_object_size(h->json);
        h->jsons = xcalloc(nj ? nj : 1, sizeof(*h->jsons));
        h->texts = xcalloc(nj ? nj : 1, sizeof(*h->texts));
        s->json = h->jsons;
        const char *key;
        json_t *val;
        json_object_foreach(h->json, key, val)
        {
            h->texts[s->njson] = json_is_string(val)
                                     ? xstrdup(json_string_value(val))
                                     : json_dumps(val, JSON_ENCODE_ANY);
            h->jsons[s->njson].key = key;
            h->jsons[s->njson].value = h->texts[s->njson];
            s->njson++;
        }
    }
}

/* A copy of v with every string in it rendered (keys stay as written);
 * NULL with te and *why set on failure. */
static json_t *check_http_render_value(struct rollout_scope *s, const json_t *v,
                                       struct err *te, const char **why)
{
    json_t *out = NULL;
    if (json_is_string(v)) {
        char *r = NULL;
        if (rollout_scope_render(s, json_string_value(v), &r, te, why) !=
            ERR_OK)
            return NULL;
        out = json_string(r);
        free(r);
        return out;
    }
    if (json_is_object(v)) {
        out = json_object();
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            json_t *x = check_http_render_value(s, val, te, why);
            if (x == NULL) {
                json_decref(out);
                return NULL;
            }
            json_object_set_new(out, key, x);
        }
        return out;
    }
    if (json_is_array(v)) {
        out = json_array();
        size_t i;
        json_t *val;
        json_array_foreach(v, i, val)
        {
            json_t *x = check_http_render_value(s, val, te, why);
            if (x == NULL) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, x);
        }
        return out;
    }
    return json_deep_copy(v);
}

static void check_http_free_host(void *host);

static bool check_http_render(struct rollout_scope *s,
                              const struct plan_check *pc,
                              struct rollout_check *rc, struct err *te,
                              const char **why)
{
    const struct check_http *c = pc->data;
    struct check_http_host *h = xcalloc(1, sizeof(*h));
    rc->host = h;
    if (c->http != NULL &&
        rollout_scope_render(s, c->http, &h->url, te, why) != ERR_OK)
        return false;
    if (c->expect_version != NULL &&
        rollout_scope_render(s, c->expect_version, &h->version, te, why) !=
            ERR_OK)
        return false;
    if (c->expect_body != NULL &&
        rollout_scope_render(s, c->expect_body, &h->body, te, why) != ERR_OK)
        return false;
    if (c->expect_json != NULL &&
        (h->json = check_http_render_value(s, c->expect_json, te, why)) == NULL)
        return false;
    if (c->headers != NULL) {
        h->headers = xcalloc(json_object_size(c->headers) + 1, sizeof(char *));
        const char *key;
        json_t *val;
        json_object_foreach(c->headers, key, val)
        {
            char *v = NULL;
            char *raw = template_value_str(val);
            enum err_code rv = rollout_scope_render(s, raw, &v, te, why);
            free(raw);
            if (rv != ERR_OK)
                return false;
            h->headers[h->nheaders++] = xasprintf("%s: %s", key, v);
            free(v);
        }
    }
    check_http_spec(pc, h);
    return true;
}

static void check_http_free_host(void *host)
{
    struct check_http_host *h = host;
    if (h == NULL)
        return;
    free(h->url);
    free(h->version);
    free(h->body);
    for (size_t k = 0; k < h->nheaders; k++)
        free(h->headers[k]);
    free(h->headers);
    for (size_t k = 0; k < h->spec.njson; k++)
        free(h->texts[k]);
    free(h->texts);
    free(h->jsons);
    json_decref(h->json);
    free(h->statuses);
    free(h->words);
    free(h);
}

/* --- showing and probing ------------------------------------------------- */

static void check_http_text(struct buf *b, const struct rollout_check *rc)
{
    const struct check_http *c = rc->check->data;
    const struct check_http_host *h = rc->host;
    buf_printf(b, "%s %s expects ", c->method ? c->method : "GET", h->url);
    char *words = check_http_status_words(c);
    buf_printf(b, "status %s", words);
    free(words);
    if (h->json) {
        char *j = json_dumps(h->json, JSON_COMPACT | JSON_SORT_KEYS);
        buf_printf(b, ", json %s", j ? j : "");
        free(j);
    }
    if (h->body)
        buf_printf(b, ", body containing '%s'", h->body);
    if (h->version)
        buf_printf(b, ", version %s", h->version);
    buf_adds(b, "\n");
    /* one line each: redaction of an Authorization value runs to the end
     * of its line */
    for (size_t i = 0; i < h->nheaders; i++)
        buf_printf(b, "      header %s\n", h->headers[i]);
}

static void check_http_json(const struct rollout_check *rc, json_t *o)
{
    const struct check_http *c = rc->check->data;
    const struct check_http_host *h = rc->host;
    json_object_set_new(o, "http", json_string(h->url));
    json_object_set_new(o, "method",
                        json_string(c->method ? c->method : "GET"));
    json_t *hdr = json_array();
    for (size_t i = 0; i < h->nheaders; i++)
        json_array_append_new(hdr, json_string(h->headers[i]));
    json_object_set_new(o, "headers", hdr);
    json_t *ex = json_object();
    check_http_status_json(c, ex);
    if (h->json)
        json_object_set(ex, "json", h->json);
    if (h->body)
        json_object_set_new(ex, "body", json_string(h->body));
    if (h->version)
        json_object_set_new(ex, "version", json_string(h->version));
    json_object_set_new(o, "expect", ex);
}

static void check_http_label(const struct rollout_check *rc, char *out,
                             size_t outlen)
{
    const struct check_http_host *h = rc->host;
    health_check_label(&h->spec, out, outlen);
}

static struct probe *check_http_probe(struct health *hl,
                                      const struct rollout_check *rc,
                                      bool rolled_back, probe_done_fn *fn,
                                      void *arg)
{
    const struct check_http_host *h = rc->host;
    struct check_spec s = h->spec;
    /* the old version is back: the new version's match cannot hold */
    if (rolled_back)
        s.version = NULL;
    return health_probe(hl, &s, fn, arg);
}

const struct check_kind check_http = {
    .key = "http",
    .keys = check_http_keys,
    .example = "http: URL",
    .parse = check_http_parse,
    .free = check_http_free,
    .render = check_http_render,
    .free_host = check_http_free_host,
    .text = check_http_text,
    .json = check_http_json,
    .label = check_http_label,
    .probe = check_http_probe,
};
