/* coordinator/cmd_inventory.c: `drover inventory`, the ansible-inventory of
 * drover: --list (same JSON as ansible-inventory --list), --graph [GROUP],
 * --host HOST, and --list-hosts PATTERN (the hosts `ansible PATTERN
 * --list-hosts` gives, in its order). Reads every -i source in turn. */
#include "buf.h"
#include "cmd.h"
#include "err.h"
#include "hostaddr.h"
#include "inv_json.h"
#include "inventory.h"
#include "log.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cmd_inventory_mode {
    CMD_INVENTORY_NONE,      /* no mode flag yet */
    CMD_INVENTORY_LIST,      /* --list */
    CMD_INVENTORY_GRAPH,     /* --graph [GROUP] */
    CMD_INVENTORY_HOST,      /* --host HOST */
    CMD_INVENTORY_LIST_HOSTS /* --list-hosts PATTERN */
};

/* The options of `drover inventory`, one row each (cmd.h). */
static const struct cmd_opt cmd_inventory_opts[] = {
    CMD_OPT_INVENTORY(", repeatable"),
    {"list", 'l', 0, NULL,
     "every group and host with its variables, as ansible-inventory --list"},
    {"export", 'x', 0, NULL,
     "with --list: variables where they are written, not merged per host"},
    {"graph", 'g', 0, NULL, "the group tree (of GROUP, default all)"},
    {"host", 'H', 0, "HOST", "one host's merged variables"},
    {"list-hosts", 'L', 0, "PATTERN", "the hosts a pattern selects, in order"},
    {"verbose", 'v', CMD_OPT_SHORT, NULL, "more logging (repeatable)"},
    CMD_OPT_HELP,
    CMD_OPT_END,
};

/* Every host's connection variables, read as run and deploy read them
 * (hostaddr_of): what they would refuse (ansible_port=notaport or 99999,
 * an unknown drover_transport) is refused here too, naming the host. */
static bool cmd_inventory_hosts_ok(const struct inventory *inv)
{
    for (size_t i = 0; i < inv_host_count(inv); i++) {
        const struct inv_host *h = inv_host_at(inv, i);
        struct hostaddr a;
        struct err e = {0};
        if (hostaddr_of(inv, h, &a, &e) != ERR_OK) {
            fprintf(stderr, "drover inventory: host %s: %s\n", inv_host_name(h),
                    e.msg);
            return false;
        }
        hostaddr_release(&a);
    }
    return true;
}

static void cmd_inventory_print(const json_t *j)
{
    char *s = inv_json_dump(j);
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
}

static int cmd_inventory_run(int argc, char **argv)
{
    struct option opts[CMD_OPTS_MAX + 1];
    char shortopts[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(&cmd_inventory, "+", opts, shortopts);
    struct cmd_shared sh;
    cmd_shared_init(&sh, argc);
    enum cmd_inventory_mode mode = CMD_INVENTORY_NONE;
    const char *arg = NULL;
    bool export_vars = false;
    int opt, modes = 0;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            mode = CMD_INVENTORY_LIST;
            modes++;
            break;
        case 'g':
            mode = CMD_INVENTORY_GRAPH;
            modes++;
            break;
        case 'H':
            mode = CMD_INVENTORY_HOST;
            arg = optarg;
            modes++;
            break;
        case 'L':
            mode = CMD_INVENTORY_LIST_HOSTS;
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
            cmd_shared_release(&sh);
            cmd_help(&cmd_inventory, stdout);
            return EXIT_OK;
        default:
            if (cmd_shared_opt(&cmd_inventory, &sh, opt, optarg) ==
                CMD_SHARED_TAKEN)
                break;
            cmd_shared_release(&sh);
            return cmd_usage_error(&cmd_inventory, "%s",
                                   optopt != 0
                                       ? "an option is missing its argument"
                                       : "unknown option");
        }
    }
    if (mode == CMD_INVENTORY_GRAPH && optind < argc)
        arg = argv[optind++];
    if (optind < argc || modes != 1 || sh.ninv == 0) {
        const char *why = sh.ninv == 0 ? "give at least one -i SRC"
                          : modes != 1
                              ? "give exactly one of --list, --graph, --host, "
                                "--list-hosts"
                              : "unexpected argument";
        cmd_shared_release(&sh);
        return cmd_usage_error(&cmd_inventory, "%s", why);
    }
    struct inventory *inv = inv_new();
    struct err e = {0};
    for (size_t i = 0; i < sh.ninv; i++) {
        if (inv_load(inv, sh.invs[i], &e) != ERR_OK) {
            fprintf(stderr, "drover inventory: %s\n", e.msg);
            inv_free(inv);
            cmd_shared_release(&sh);
            return EXIT_INPUT;
        }
    }
    cmd_shared_release(&sh);
    if (!cmd_inventory_hosts_ok(inv)) {
        inv_free(inv);
        return EXIT_INPUT;
    }
    int rc = EXIT_OK;
    if (mode == CMD_INVENTORY_LIST) {
        json_t *list = inv_json_list(inv, export_vars);
        cmd_inventory_print(list);
        json_decref(list);
    } else if (mode == CMD_INVENTORY_GRAPH) {
        const struct inv_group *g =
            inv_group_find(inv, arg != NULL ? arg : "all");
        if (g == NULL) {
            fprintf(stderr,
                    "drover inventory: --graph takes a group name; no group "
                    "'%s'\n",
                    arg);
            rc = EXIT_FAILED;
        } else {
            struct buf out;
            buf_init(&out, BUF_UNLIMITED);
            inv_json_graph(inv, g, &out);
            fputs(buf_cstr(&out), stdout);
            buf_release(&out);
        }
    } else {
        const struct inv_host **hosts;
        size_t n;
        if (inv_select(inv, arg, &hosts, &n, &e) != ERR_OK) {
            fprintf(stderr, "drover inventory: %s\n", e.msg);
            rc = EXIT_FAILED;
        } else if (mode == CMD_INVENTORY_HOST) {
            if (n != 1) {
                fprintf(stderr,
                        "drover inventory: --host takes one host; '%s' "
                        "matches %zu\n",
                        arg, n);
                rc = EXIT_FAILED;
            } else {
                cmd_inventory_print(inv_host_vars(inv, hosts[0]));
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
    .usage = "inventory -i SRC... (--list [--export] | --graph [GROUP] | "
             "--host HOST | --list-hosts PATTERN)",
    .opts = cmd_inventory_opts,
    .summary = "show an Ansible inventory as drover reads it",
    .run = cmd_inventory_run,
};
