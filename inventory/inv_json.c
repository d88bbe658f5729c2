/* inventory/inv_json.c: ansible-inventory's --list and --graph output
 * (cli/inventory.py json_inventory and _graph_group), so `drover inventory`
 * and the fixture tests share one rendering. */
#include "inv_json.h"

#include "buf.h"
#include "err.h"
#include "inv_model.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* format_group: the group, then each child not yet seen, depth first. */
static void inv_json_group(const struct inventory *inv,
                           const struct inv_group *g, json_t *out, json_t *seen,
                           bool export_vars, int depth)
{
    json_t *entry = json_object();
    const char *name = inv_group_name(g);
    if (strcmp(name, "all") != 0 && inv_group_host_count(g) > 0) {
        json_t *hosts = json_array();
        for (size_t i = 0; i < inv_group_host_count(g); i++)
            json_array_append_new(
                hosts, json_string(inv_host_name(inv_group_host_at(g, i))));
        json_object_set_new(entry, "hosts", hosts);
    }
    if (inv_group_child_count(g) > 0) {
        json_t *children = json_array();
        for (size_t i = 0; i < inv_group_child_count(g); i++) {
            const struct inv_group *c = inv_group_child_at(g, i);
            json_array_append_new(children, json_string(inv_group_name(c)));
            /* The graph has no loops; the depth bound is belt and braces. */
            if (json_object_get(seen, inv_group_name(c)) == NULL &&
                depth < INV_DEPTH_MAX * 64) {
                inv_json_group(inv, c, out, seen, export_vars, depth + 1);
                json_object_set_new(seen, inv_group_name(c), json_true());
            }
        }
        json_object_set_new(entry, "children", children);
    }
    if (export_vars) {
        json_t *vars = inv_group_export_vars(inv, g);
        if (json_object_size(vars) > 0)
            json_object_set(entry, "vars", vars);
        json_decref(vars);
    }
    if (json_object_size(entry) > 0)
        json_object_set_new(out, name, entry);
    else
        json_decref(entry);
}

json_t *inv_json_list(const struct inventory *inv, bool export_vars)
{
    json_t *out = json_object(), *seen = json_object();
    const struct inv_group *all = inv_group_find(inv, "all");
    inv_json_group(inv, all, out, seen, export_vars, 0);
    json_decref(seen);
    json_t *hostvars = json_object();
    const struct inv_host **hosts;
    size_t n;
    inv_group_hosts(inv, all, &hosts, &n);
    for (size_t i = 0; i < n; i++) {
        json_t *v = export_vars ? inv_host_export_vars(inv, hosts[i])
                                : json_incref(inv_host_vars(inv, hosts[i]));
        if (json_object_size(v) > 0)
            json_object_set(hostvars, inv_host_name(hosts[i]), v);
        json_decref(v);
    }
    free(hosts);
    json_t *meta = json_object();
    json_object_set_new(meta, "hostvars", hostvars);
    json_object_set_new(out, "_meta", meta);
    return out;
}

static void inv_json_graph_line(struct buf *out, const char *name, int depth)
{
    for (int i = 0; i < depth; i++)
        buf_adds(out, "  |");
    if (depth > 0)
        buf_adds(out, "--");
    buf_adds(out, name);
    buf_addc(out, '\n');
}

static void inv_json_graph_group(const struct inv_group *g, struct buf *out,
                                 int depth)
{
    for (int i = 0; i < depth; i++)
        buf_adds(out, "  |");
    if (depth > 0)
        buf_adds(out, "--");
    buf_printf(out, "@%s:\n", inv_group_name(g));
    for (size_t i = 0; i < inv_group_child_count(g) && depth < 100000; i++)
        inv_json_graph_group(inv_group_child_at(g, i), out, depth + 1);
    if (strcmp(inv_group_name(g), "all") != 0)
        for (size_t i = 0; i < inv_group_host_count(g); i++)
            inv_json_graph_line(out, inv_host_name(inv_group_host_at(g, i)),
                                depth + 1);
}

void inv_json_graph(const struct inventory *inv, const struct inv_group *g,
                    struct buf *out)
{
    (void)inv;
    inv_json_graph_group(g, out, 0);
}

/* Python's repr() of a float: the shortest digits that read back the
 * same, fixed notation unless the exponent is below -4 or above 15. */
static void inv_json_real(struct buf *out, double d)
{
    char tmp[64];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
    /* tmp is [-]D[.DDD]e[+-]XX */
    char digits[32];
    size_t nd = 0;
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p != 'e' && *p != '\0'; p++)
        if (*p != '.' && nd + 1 < sizeof(digits))
            digits[nd++] = *p;
    digits[nd] = '\0';
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    int exp10 = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
    int decpt = exp10 + 1;
    if (neg)
        buf_addc(out, '-');
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            buf_adds(out, "0.");
            for (int i = 0; i < -decpt; i++)
                buf_addc(out, '0');
            buf_adds(out, digits);
        } else if ((size_t)decpt >= nd) {
            buf_adds(out, digits);
            for (size_t i = nd; i < (size_t)decpt; i++)
                buf_addc(out, '0');
            buf_adds(out, ".0");
        } else {
            buf_add(out, digits, (size_t)decpt);
            buf_addc(out, '.');
            buf_adds(out, digits + decpt);
        }
        return;
    }
    buf_addc(out, digits[0]);
    if (nd > 1) {
        buf_addc(out, '.');
        buf_adds(out, digits + 1);
    }
    buf_printf(out, "e%c%02d", exp10 < 0 ? '-' : '+',
               exp10 < 0 ? -exp10 : exp10);
}

static int inv_json_cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void inv_json_indent(struct buf *out, int n)
{
    for (int i = 0; i < n; i++)
        buf_addc(out, ' ');
}

static void inv_json_string(struct buf *out, const char *s, size_t len)
{
    json_t *str = json_stringn_nocheck(s, len);
    char *q = json_dumps(str, JSON_ENCODE_ANY);
    buf_adds(out, q != NULL ? q : "\"\"");
    free(q);
    json_decref(str);
}

/* json.dumps(sort_keys=True, indent=4, ensure_ascii=False). */
static void inv_json_emit(struct buf *out, const json_t *j, int indent,
                          int depth)
{
    if (depth > INV_DEPTH_MAX * 2) {
        buf_adds(out, "null");
        return;
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(j);
        if (n == 0) {
            buf_adds(out, "{}");
            return;
        }
        const char **keys = xcalloc(n, sizeof(*keys));
        size_t k = 0;
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v)
        {
            keys[k++] = key;
        }
        qsort(keys, k, sizeof(*keys), inv_json_cmp_key);
        buf_adds(out, "{\n");
        for (size_t i = 0; i < k; i++) {
            inv_json_indent(out, indent + 4);
            inv_json_string(out, keys[i], strlen(keys[i]));
            buf_adds(out, ": ");
            inv_json_emit(out, json_object_get(j, keys[i]), indent + 4,
                          depth + 1);
            buf_adds(out, i + 1 < k ? ",\n" : "\n");
        }
        inv_json_indent(out, indent);
        buf_addc(out, '}');
        free(keys);
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        if (n == 0) {
            buf_adds(out, "[]");
            return;
        }
        buf_adds(out, "[\n");
        for (size_t i = 0; i < n; i++) {
            inv_json_indent(out, indent + 4);
            inv_json_emit(out, json_array_get(j, i), indent + 4, depth + 1);
            buf_adds(out, i + 1 < n ? ",\n" : "\n");
        }
        inv_json_indent(out, indent);
        buf_addc(out, ']');
        return;
    }
    case JSON_STRING:
        inv_json_string(out, json_string_value(j), json_string_length(j));
        return;
    case JSON_INTEGER:
        buf_printf(out, "%lld", (long long)json_integer_value(j));
        return;
    case JSON_REAL:
        inv_json_real(out, json_real_value(j));
        return;
    case JSON_TRUE:
        buf_adds(out, "true");
        return;
    case JSON_FALSE:
        buf_adds(out, "false");
        return;
    default:
        buf_adds(out, "null");
        return;
    }
}

char *inv_json_dump(const json_t *j)
{
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    inv_json_emit(&out, j, 0, 0);
    return buf_detach(&out);
}

/* --- what Python's json.loads accepts ------------------------------------ */

enum { INV_JSON_DEPTH_MAX = 990 }; /* about Python's recursion limit */

/* A JSON text being checked. */
struct inv_json_scan {
    const char *p;   /* next byte */
    const char *end; /* one past the last */
};

static void inv_json_ws(struct inv_json_scan *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Consume word if it is next. */
static bool inv_json_word(struct inv_json_scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    return true;
}

static size_t inv_json_digits(struct inv_json_scan *s)
{
    const char *p0 = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return (size_t)(s->p - p0);
}

static bool inv_json_scan_string(struct inv_json_scan *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p++;
        if (c == '"')
            return true;
        if (c < 0x20) /* json.loads is strict by default */
            return false;
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            return false;
        c = (unsigned char)*s->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++, s->p++)
                if (s->p >= s->end || !isxdigit((unsigned char)*s->p))
                    return false;
        } else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
            return false;
        }
    }
    return false;
}

static bool inv_json_value(struct inv_json_scan *s, int depth)
{
    inv_json_ws(s);
    if (s->p >= s->end || depth > INV_JSON_DEPTH_MAX)
        return false;
    char c = *s->p;
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        s->p++;
        inv_json_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return true;
        }
        for (;;) {
            if (c == '{') {
                inv_json_ws(s);
                if (s->p >= s->end || *s->p != '"' || !inv_json_scan_string(s))
                    return false;
                inv_json_ws(s);
                if (s->p >= s->end || *s->p++ != ':')
                    return false;
            }
            if (!inv_json_value(s, depth + 1))
                return false;
            inv_json_ws(s);
            if (s->p >= s->end)
                return false;
            if (*s->p == close) {
                s->p++;
                return true;
            }
            if (*s->p++ != ',')
                return false;
        }
    }
    if (c == '"')
        return inv_json_scan_string(s);
    if (inv_json_word(s, "true") || inv_json_word(s, "false") ||
        inv_json_word(s, "null") || inv_json_word(s, "NaN") ||
        inv_json_word(s, "Infinity") || inv_json_word(s, "-Infinity"))
        return true;
    /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, any size */
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (inv_json_digits(s) == 0)
        return false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (inv_json_digits(s) == 0)
            return false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (inv_json_digits(s) == 0)
            return false;
    }
    return true;
}

bool inv_json_valid(const char *text, size_t n)
{
    struct inv_json_scan s = {text, text + n};
    if (!inv_json_value(&s, 0))
        return false;
    inv_json_ws(&s);
    return s.p == s.end;
}
