/* tests/unit/inventory/test_inv_oracle.c: the differential test with
 * Ansible as the oracle, without Ansible. tests/data/oracle/inventory.json
 * holds generated INI, YAML and JSON inventories with what Ansible 2.14
 * made of each (gen_inventory.py wrote it; regen.sh rewrites it where
 * Ansible is installed): refused, or every host's variables and the hosts
 * of each pattern (or an error). drover must give the same answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "inv_json.h"
#include "inventory.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The hosts pattern p selects, space-separated (sorted when free), into
 * out; false when inv_select refuses the pattern. */
static bool select_hosts(const struct inventory *inv, const char *p,
                         bool free_order, struct buf *out)
{
    const struct inv_host **hosts;
    size_t n;
    struct err e = {0};
    if (inv_select(inv, p, &hosts, &n, &e) != ERR_OK)
        return false;
    const char **names = xcalloc(n + 1, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = inv_host_name(hosts[i]);
    if (free_order)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "%s%s", i ? " " : "", names[i]);
    free(names);
    free(hosts);
    return true;
}

/* The hosts Ansible gave, the same way. */
static void want_hosts(const json_t *list, bool free_order, struct buf *out)
{
    size_t n = json_array_size(list);
    const char **names = xcalloc(n + 1, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = json_string_value(json_array_get(list, i));
    if (free_order)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "%s%s", i ? " " : "", names[i]);
    free(names);
}

/* One case; the number of differences, each printed. */
static int check_case(const json_t *c, size_t *npat)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *file = json_string_value(json_object_get(c, "file"));
    const char *text = json_string_value(json_object_get(c, "text"));
    bool refused = json_is_true(json_object_get(c, "error"));
    struct inventory *inv = inv_new();
    struct err e = {0};
    inv_load_buffer(inv, file, text, strlen(text), INV_FORMAT_AUTO, &e);
    int diffs = 0;
    if (refused || e.code != ERR_OK) {
        if (refused != (e.code != ERR_OK)) {
            print_message("%s: Ansible %s, drover %s\n%s\n", name,
                          refused ? "refuses it" : "reads it",
                          e.code != ERR_OK ? e.msg : "reads it", text);
            diffs++;
        }
        inv_free(inv);
        return diffs;
    }
    json_t *list = inv_json_list(inv, false);
    const json_t *got =
        json_object_get(json_object_get(list, "_meta"), "hostvars");
    const json_t *want = json_object_get(c, "hostvars");
    if (!json_equal(got, want)) {
        char *g = inv_json_dump(got), *w = inv_json_dump(want);
        print_message("%s: host variables differ\n%s\nAnsible: %s\ndrover: "
                      "%s\n",
                      name, text, w, g);
        free(g);
        free(w);
        diffs++;
    }
    json_decref(list);
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(c, "patterns"), i, p)
    {
        const char *pat = json_string_value(json_array_get(p, 0));
        const json_t *hosts = json_array_get(p, 1);
        bool free_order = json_is_true(json_array_get(p, 2));
        struct buf g, w;
        buf_init(&g, BUF_UNLIMITED);
        buf_init(&w, BUF_UNLIMITED);
        bool ok = select_hosts(inv, pat, free_order, &g);
        want_hosts(hosts, free_order, &w);
        if (ok != !json_is_null(hosts) ||
            (ok && strcmp(buf_cstr(&g), buf_cstr(&w)) != 0)) {
            print_message("%s: pattern '%s': Ansible [%s]%s, drover [%s]%s\n",
                          name, pat, buf_cstr(&w),
                          json_is_null(hosts) ? " (error)" : "", buf_cstr(&g),
                          ok ? "" : " (error)");
            diffs++;
        }
        buf_release(&g);
        buf_release(&w);
        (*npat)++;
    }
    inv_free(inv);
    return diffs;
}

static void test_inv_oracle_ansible(void **state)
{
    (void)state;
    const char *top = getenv("TOP") != NULL ? getenv("TOP") : ".";
    char *path = xasprintf("%s/tests/data/oracle/inventory.json", top);
    json_error_t je;
    json_t *cases = json_load_file(path, 0, &je);
    if (cases == NULL)
        fail_msg("%s:%d: %s", path, je.line, je.text);
    /* "no hosts matched" warnings are expected: keep the output short. */
    log_set_level(LOG_ERROR);
    int diffs = 0;
    size_t i, npat = 0;
    const json_t *c;
    json_array_foreach(cases, i, c) diffs += check_case(c, &npat);
    print_message("%zu inventories, %zu patterns, %d differences\n",
                  json_array_size(cases), npat, diffs);
    assert_true(json_array_size(cases) > 0);
    assert_int_equal(diffs, 0);
    json_decref(cases);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_oracle_ansible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
