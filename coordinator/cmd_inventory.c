/* coordinator/cmd_inventory.c: `drover inventory`, the ansible-inventory of
 * drover: --list (same JSON as ansible-inventory --list), --graph [GROUP],
 * --host HOST, and --list-hosts PATTERN (the hosts `ansible PATTERN
 * --list-hosts` gives, in its order). Reads every -i source in turn. */
#include "cmd.h"
#include "err.h"
#include "inventory.h"
#include "log.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cmd_inventory_mode {
    INV_MODE_NONE,
    INV_MODE_LIST,
    INV_MODE_GRAPH,
    INV_MODE_HOST,
    INV_MODE_LIST_HOSTS
};

static const char cmd_inventory_usage[] =
    "inventory -i SRC [-i SRC...] (--list [--export] | --graph [GROUP] | "
    "--host HOST | --list-hosts PATTERN)";

static int cmd_inventory_bad_usage(const char *why)
{
    fprintf(stderr, "drover inventory: %s\nusage: drover %s\n", why,
            cmd_inventory_usage);
    return EXIT_USAGE;
}

/* Print JSON the way ansible-inventory does: sorted keys, 4 spaces. */
static void cmd_inventory_dump(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(4) | JSON_SORT_KEYS | JSON_ENCODE_ANY |
                                JSON_REAL_PRECISION(17));
    if (s != NULL) {
        fputs(s, stdout);
        fputc('\n', stdout);
    }
    free(s);
}

/* ansible-inventory's format_group: direct hosts (not for "all"), the
 * children, and with --export the group's own variables; empty keys and
 * empty groups left out. */
static void cmd_inventory_group(const struct inventory *inv,
                                const struct inv_group *g, json_t *out,
                                json_t *seen, bool export_vars)
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
            if (json_object_get(seen, inv_group_name(c)) == NULL) {
                cmd_inventory_group(inv, c, out, seen, export_vars);
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

static int cmd_inventory_list(const struct inventory *inv, bool export_vars)
{
    json_t *out = json_object(), *seen = json_object();
    cmd_inventory_group(inv, inv_group_find(inv, "all"), out, seen,
                        export_vars);
    json_t *hostvars = json_object();
    const struct inv_host **hosts;
    size_t n;
    inv_group_hosts(inv, inv_group_find(inv, "all"), &hosts, &n);
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
    cmd_inventory_dump(out);
    json_decref(out);
    json_decref(seen);
    return EXIT_OK;
}

static void cmd_inventory_graph_line(const char *name, int depth)
{
    for (int i = 0; i < depth; i++)
        fputs("  |", stdout);
    if (depth > 0)
        fputs("--", stdout);
    fputs(name, stdout);
    fputc('\n', stdout);
}

static void cmd_inventory_graph_group(const struct inv_group *g, int depth)
{
    char *label = xasprintf("@%s:", inv_group_name(g));
    cmd_inventory_graph_line(label, depth);
    free(label);
    for (size_t i = 0; i < inv_group_child_count(g); i++)
        cmd_inventory_graph_group(inv_group_child_at(g, i), depth + 1);
    if (strcmp(inv_group_name(g), "all") != 0)
        for (size_t i = 0; i < inv_group_host_count(g); i++)
            cmd_inventory_graph_line(inv_host_name(inv_group_host_at(g, i)),
                                     depth + 1);
}

static int cmd_inventory_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"inventory", required_argument, NULL, 'i'},
        {"list", no_argument, NULL, 'l'},
        {"graph", no_argument, NULL, 'g'},
        {"host", required_argument, NULL, 'H'},
        {"list-hosts", required_argument, NULL, 'L'},
        {"export", no_argument, NULL, 'x'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char **srcs = xcalloc((size_t)argc + 1, sizeof(*srcs));
    size_t nsrcs = 0;
    enum cmd_inventory_mode mode = INV_MODE_NONE;
    const char *arg = NULL;
    bool export_vars = false;
    int opt, modes = 0;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+i:vh", opts, NULL)) != -1) {
        switch (opt) {
        case 'i':
            srcs[nsrcs++] = optarg;
            break;
        case 'l':
            mode = INV_MODE_LIST;
            modes++;
            break;
        case 'g':
            mode = INV_MODE_GRAPH;
            modes++;
            break;
        case 'H':
            mode = INV_MODE_HOST;
            arg = optarg;
            modes++;
            break;
        case 'L':
            mode = INV_MODE_LIST_HOSTS;
            arg = optarg;
            modes++;
            break;
        case 'x':
            export_vars = true;
            break;
        case 'v':
            log_set_level(log_get_level() + 1 <= LOG_TRACE
                              ? (enum log_level)(log_get_level() + 1)
                              : LOG_TRACE);
            break;
        case 'h':
            free(srcs);
            printf("usage: drover %s\n", cmd_inventory_usage);
            return EXIT_OK;
        default:
            free(srcs);
            return cmd_inventory_bad_usage(
                optopt != 0 ? "an option is missing its argument"
                            : "unknown option");
        }
    }
    if (mode == INV_MODE_GRAPH && optind < argc)
        arg = argv[optind++];
    if (optind < argc || modes != 1 || nsrcs == 0) {
        free(srcs);
        return cmd_inventory_bad_usage(
            nsrcs == 0   ? "give at least one -i SRC"
            : modes != 1 ? "give exactly one of --list, --graph, --host, "
                           "--list-hosts"
                         : "unexpected argument");
    }
    struct inventory *inv = inv_new();
    struct err e = {0};
    for (size_t i = 0; i < nsrcs; i++) {
        if (inv_load(inv, srcs[i], &e) != ERR_OK) {
            fprintf(stderr, "drover inventory: %s\n", e.msg);
            inv_free(inv);
            free(srcs);
            return EXIT_INPUT;
        }
    }
    free(srcs);
    int rc = EXIT_OK;
    if (mode == INV_MODE_LIST) {
        rc = cmd_inventory_list(inv, export_vars);
    } else if (mode == INV_MODE_GRAPH) {
        const struct inv_group *g =
            inv_group_find(inv, arg != NULL ? arg : "all");
        if (g == NULL) {
            fprintf(stderr,
                    "drover inventory: --graph takes a group name; no group "
                    "'%s'\n",
                    arg);
            rc = EXIT_FAILED;
        } else {
            cmd_inventory_graph_group(g, 0);
        }
    } else {
        const struct inv_host **hosts;
        size_t n;
        if (inv_select(inv, arg, &hosts, &n, &e) != ERR_OK) {
            fprintf(stderr, "drover inventory: %s\n", e.msg);
            rc = EXIT_FAILED;
        } else if (mode == INV_MODE_HOST) {
            if (n != 1) {
                fprintf(stderr,
                        "drover inventory: --host takes one host; '%s' "
                        "matches %zu\n",
                        arg, n);
                rc = EXIT_FAILED;
            } else {
                cmd_inventory_dump(inv_host_vars(inv, hosts[0]));
            }
            free(hosts);
        } else {
            for (size_t i = 0; i < n; i++)
                printf("%s\n", inv_host_name(hosts[i]));
            free(hosts);
        }
    }
    inv_free(inv);
    if (fflush(stdout) != 0 && rc == EXIT_OK)
        rc = EXIT_INTERNAL;
    return rc;
}

const struct cmd cmd_inventory = {
    .name = "inventory",
    .usage = cmd_inventory_usage,
    .summary = "show an Ansible inventory as drover reads it",
    .run = cmd_inventory_run,
};
