/* tests/unit/inventory/test_inventory.c: the inventory model: implicit
 * groups, reconciling across sources, variable precedence, group_vars/ and
 * host_vars/ files, directories as sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    /* mkdtemp's template: six capital X, written out at run time. */
    int k = snprintf(tmpdir, sizeof(tmpdir), "/tmp/drover-inv-");
    memset(tmpdir + k, 'X', 6);
    tmpdir[k + 6] = '\0';
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

/* Write tmpdir/rel (creating directories), return the full path. */
static char *put(const char *rel, const char *text)
{
    char *path = xasprintf("%s/%s", tmpdir, rel);
    for (char *p = path + strlen(tmpdir) + 1; *p != '\0'; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char *svar(const struct inventory *inv, const char *host,
                        const char *name)
{
    const struct inv_host *h = inv_host_find(inv, host);
    if (h == NULL)
        fail_msg("no host %s", host);
    json_t *v = inv_host_var(inv, h, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_inventory_implicit_groups(void **state)
{
    (void)state;
    struct inventory *inv = inv_new();
    assert_int_equal(inv_group_count(inv), 2);
    assert_string_equal(inv_group_name(inv_group_at(inv, 0)), "all");
    assert_string_equal(inv_group_name(inv_group_at(inv, 1)), "ungrouped");
    assert_int_equal(inv_host_count(inv), 0);
    assert_null(inv_host_find(inv, "x"));
    assert_null(inv_host_at(inv, 0));
    inv_free(inv);
    inv_free(NULL);
}

static void test_inventory_precedence(void **state)
{
    (void)state;
    /* depth first, then ansible_group_priority, then name; the host's
     * own variables last. */
    static const char text[] = "[parent:children]\nchild\n"
                               "[child]\nh1\nh2 v=host\n"
                               "[b_peer]\nh1\n"
                               "[a_peer]\nh1\n"
                               "[z_low]\nh1\n"
                               "[z_low:vars]\nansible_group_priority=0\n"
                               "p=z_low\n"
                               "[a_peer:vars]\nv=a_peer\np=a_peer\n"
                               "[b_peer:vars]\nv=b_peer\np=b_peer\n"
                               "[parent:vars]\nv=parent\n"
                               "[child:vars]\nv=child\n"
                               "[all:vars]\nv=all\nonly_all=1\n";
    struct inventory *inv = inv_new();
    struct err e = {0};
    assert_int_equal(
        inv_load_buffer(inv, "p.ini", text, strlen(text), INV_FORMAT_INI, &e),
        ERR_OK);
    /* child (depth 2) beats the depth-1 peers and the parent. */
    assert_string_equal(svar(inv, "h1", "v"), "child");
    assert_string_equal(svar(inv, "h2", "v"), "host");
    /* among depth-1 groups: z_low has priority 0, so the others beat it,
     * and b_peer beats a_peer by name. */
    assert_string_equal(svar(inv, "h1", "p"), "b_peer");
    assert_null(json_object_get(inv_host_vars(inv, inv_host_find(inv, "h1")),
                                "ansible_group_priority"));
    const struct inv_host *h1 = inv_host_find(inv, "h1");
    assert_int_equal(json_integer_value(inv_host_var(inv, h1, "only_all")), 1);
    const char **names;
    size_t n;
    inv_host_group_names(inv, h1, &names, &n);
    assert_int_equal(n, 5);
    assert_string_equal(names[0], "a_peer");
    assert_string_equal(names[4], "z_low");
    free(names);
    inv_free(inv);
}

static void test_inventory_vars_files(void **state)
{
    (void)state;
    char *src = put("gv/hosts", "[web]\nw1 x=inline\nw2\n[all:vars]\n"
                                "a=inventory\n");
    free(put("gv/group_vars/all.yml", "a: all_file\nb: all_file\n"));
    free(put("gv/group_vars/web/1.yml", "b: web_dir\nc: one\n"));
    free(put("gv/group_vars/web/2.json", "{\"c\": \"two\"}"));
    free(put("gv/group_vars/web/skip.txt", "c: skipped\n"));
    free(put("gv/host_vars/w1.yaml", "x: file\n"));
    struct inventory *inv = inv_new();
    struct err e = {0};
    assert_int_equal(inv_load(inv, src, &e), ERR_OK);
    assert_string_equal(svar(inv, "w1", "a"), "all_file");
    assert_string_equal(svar(inv, "w1", "b"), "web_dir");
    assert_string_equal(svar(inv, "w2", "c"), "two");
    assert_string_equal(svar(inv, "w1", "x"), "file");
    assert_null(svar(inv, "w2", "x"));
    inv_free(inv);
    free(src);
}

static void test_inventory_vars_file_error(void **state)
{
    (void)state;
    char *src = put("bad/hosts", "[web]\nw1\n");
    free(put("bad/group_vars/web.yml", "x: [1,\n"));
    struct inventory *inv = inv_new();
    struct err e = {0};
    assert_int_equal(inv_load(inv, src, &e), ERR_PARSE);
    assert_non_null(strstr(e.msg, "bad/group_vars/web.yml:2:1: did not find "
                                  "expected node content"));
    inv_free(inv);
    free(src);
}

static void test_inventory_sources_reconcile(void **state)
{
    (void)state;
    /* web is top-level after the first source, a child of db after the
     * second: it must end up under db only, as Ansible reconciles once. */
    char *one = put("ms/one.ini", "[web]\nw1\n[db]\nd1\n");
    char *two = put("ms/two.yml", "db:\n  children:\n    web:\n");
    struct inventory *inv = inv_new();
    struct err e = {0};
    assert_int_equal(inv_load(inv, one, &e), ERR_OK);
    assert_int_equal(inv_load(inv, two, &e), ERR_OK);
    const struct inv_group *all = inv_group_find(inv, "all");
    assert_int_equal(inv_group_child_count(all), 2);
    assert_string_equal(inv_group_name(inv_group_child_at(all, 0)),
                        "ungrouped");
    assert_string_equal(inv_group_name(inv_group_child_at(all, 1)), "db");
    inv_free(inv);
    free(one);
    free(two);
}

static void test_inventory_directory_source(void **state)
{
    (void)state;
    free(put("dir/inv/a", "[web]\nw1\n"));
    free(put("dir/inv/b.yml", "db:\n  hosts:\n    d1:\n"));
    free(put("dir/inv/c.ini", "[ignored]\nnope\n"));
    free(put("dir/inv/.hidden", "[hidden]\nnope2\n"));
    free(put("dir/inv/group_vars/web.yml", "g: 1\n"));
    char *dir = xasprintf("%s/dir/inv", tmpdir);
    struct inventory *inv = inv_new();
    struct err e = {0};
    assert_int_equal(inv_load(inv, dir, &e), ERR_OK);
    assert_int_equal(inv_host_count(inv), 2);
    assert_null(inv_host_find(inv, "nope"));
    assert_null(inv_group_find(inv, "hidden"));
    assert_int_equal(
        json_integer_value(inv_host_var(inv, inv_host_find(inv, "w1"), "g")),
        1);
    inv_free(inv);
    free(dir);
}

static void test_inventory_missing_and_host_list(void **state)
{
    (void)state;
    struct inventory *inv = inv_new();
    struct err e = {0};
    assert_int_equal(inv_load(inv, "/nonexistent/inventory", &e), ERR_SYS);
    assert_non_null(strstr(e.msg, "/nonexistent/inventory: cannot read"));
    err_clear(&e);
    assert_int_equal(inv_load(inv, "h1,h2:2222,", &e), ERR_OK);
    assert_int_equal(inv_host_count(inv), 2);
    assert_int_equal(json_integer_value(inv_host_var(
                         inv, inv_host_find(inv, "h2"), "ansible_port")),
                     2222);
    inv_free(inv);
}

static void test_inventory_group_hosts_order(void **state)
{
    (void)state;
    static const char text[] = "[top:children]\na\nb\n"
                               "[a:children]\nc\n"
                               "[c]\nc1\n[b]\nb1\n[a]\na1\n[top]\nt1\n";
    struct inventory *inv = inv_new();
    struct err e = {0};
    assert_int_equal(
        inv_load_buffer(inv, "o.ini", text, strlen(text), INV_FORMAT_INI, &e),
        ERR_OK);
    const struct inv_host **hs;
    size_t n;
    inv_group_hosts(inv, inv_group_find(inv, "top"), &hs, &n);
    assert_int_equal(n, 4);
    assert_string_equal(inv_host_name(hs[0]), "t1");
    assert_string_equal(inv_host_name(hs[1]), "a1");
    assert_string_equal(inv_host_name(hs[2]), "b1");
    assert_string_equal(inv_host_name(hs[3]), "c1");
    free(hs);
    inv_free(inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inventory_implicit_groups),
        cmocka_unit_test(test_inventory_precedence),
        cmocka_unit_test(test_inventory_vars_files),
        cmocka_unit_test(test_inventory_vars_file_error),
        cmocka_unit_test(test_inventory_sources_reconcile),
        cmocka_unit_test(test_inventory_directory_source),
        cmocka_unit_test(test_inventory_missing_and_host_list),
        cmocka_unit_test(test_inventory_group_hosts_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
