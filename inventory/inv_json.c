/* inventory/inv_json.c: ansible-inventory's --list and --graph output
 * (cli/inventory.py json_inventory and _graph_group), so `drover inventory`
 * and the fixture tests share one rendering. */
#include "inv_json.h"

#include "buf.h"
#include "err.h"
#include "inventory.h"

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

char *inv_json_dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(4) | JSON_SORT_KEYS | JSON_ENCODE_ANY |
                                JSON_REAL_PRECISION(17));
    return s != NULL ? s : xstrdup("null");
}
