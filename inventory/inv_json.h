/* inventory/inv_json.h: the inventory rendered as ansible-inventory renders
 * it: --list (and --list --export) as JSON, --graph as text. */
#ifndef DROVER_INV_JSON_H
#define DROVER_INV_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct buf;
struct inventory;
struct inv_group;

/* ansible-inventory --list: each group with its direct "hosts" (not for
 * "all") and "children", with export_vars its "vars" (--export), empty
 * keys and groups left out; "_meta": {"hostvars": {...}} with each host's
 * merged variables (with export_vars, its own and host_vars/ only). A new
 * object: caller decrefs. */
json_t *inv_json_list(const struct inventory *inv, bool export_vars);

/* ansible-inventory --graph GROUP, one line per group and host, appended
 * to out. */
void inv_json_graph(const struct inventory *inv, const struct inv_group *g,
                    struct buf *out);

/* JSON text as ansible-inventory prints it (Python's json.dumps with
 * sort_keys, indent=4, ensure_ascii=False; floats as Python's repr).
 * Caller frees. */
char *inv_json_dump(const json_t *j);

/* Whether Python's json.loads accepts the n bytes at text (Ansible's
 * loader reads a file as JSON when it does, as YAML otherwise): RFC 8259
 * plus NaN, Infinity and -Infinity, numbers of any size, nesting to
 * Python's recursion limit. Nothing is built. */
bool inv_json_valid(const char *text, size_t n);

#endif
