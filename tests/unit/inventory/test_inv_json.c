/* tests/unit/inventory/test_inv_json.c: every case in tests/data/inventory/
 * read as drover reads it and rendered as ansible-inventory renders it,
 * compared as JSON values (list order counts) with what Ansible itself
 * printed (list.json, export.json, graph.out, written by regen.sh). */
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

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    return b.data != NULL ? buf_detach(&b) : xstrdup("");
}

/* Load a case's sources (relative to its directory, or host lists). */
static struct inventory *load_case(const char *dir)
{
    char *path = xasprintf("%s/sources", dir);
    char *srcs = slurp(path);
    free(path);
    assert_non_null(srcs);
    struct inventory *inv = inv_new();
    char *save = NULL;
    for (char *s = strtok_r(srcs, "\n", &save); s != NULL;
         s = strtok_r(NULL, "\n", &save)) {
        char *full = xasprintf("%s/%s", dir, s);
        struct stat st;
        struct err e = {0};
        if (inv_load(inv, stat(full, &st) == 0 ? full : s, &e) != ERR_OK)
            fail_msg("%s: %s", dir, e.msg);
        free(full);
    }
    free(srcs);
    return inv;
}

static void check_json(const char *dir, const char *file, json_t *got)
{
    char *path = xasprintf("%s/%s", dir, file);
    json_error_t je;
    json_t *want = json_load_file(path, 0, &je);
    if (want == NULL)
        fail_msg("%s: %s", path, je.text);
    if (!json_equal(want, got)) {
        char *g = inv_json_dump(got);
        fail_msg("%s differs from drover:\n%s", path, g);
    }
    json_decref(want);
    free(path);
}

static void check_graph(const char *dir, const struct inventory *inv)
{
    char *path = xasprintf("%s/graph", dir);
    char *groups = slurp(path);
    free(path);
    if (groups == NULL)
        return;
    path = xasprintf("%s/graph.out", dir);
    char *want = slurp(path);
    assert_non_null(want);
    struct buf got;
    buf_init(&got, BUF_UNLIMITED);
    /* One "## GROUP" header per line of graph ("" is all). */
    for (char *line = groups; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        buf_printf(&got, "## %s\n", line);
        const struct inv_group *g =
            inv_group_find(inv, line[0] != '\0' ? line : "all");
        assert_non_null(g);
        inv_json_graph(inv, g, &got);
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    if (strcmp(buf_cstr(&got), want) != 0)
        fail_msg("%s differs from drover:\n%s", path, buf_cstr(&got));
    buf_release(&got);
    free(want);
    free(path);
    free(groups);
}

static void check_patterns(const char *dir, const struct inventory *inv)
{
    char *path = xasprintf("%s/patterns.out", dir);
    char *text = slurp(path);
    if (text == NULL) {
        free(path);
        return;
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        const struct inv_host **hs;
        size_t n;
        struct err e = {0};
        if (inv_select(inv, line, &hs, &n, &e) != ERR_OK)
            fail_msg("%s: '%s': %s", path, line, e.msg);
        struct buf got;
        buf_init(&got, BUF_UNLIMITED);
        for (size_t i = 0; i < n; i++)
            buf_printf(&got, "%s%s", i > 0 ? " " : "", inv_host_name(hs[i]));
        free(hs);
        if (strcmp(buf_cstr(&got), tab + 1) != 0)
            fail_msg("%s: '%s' gave '%s', Ansible '%s'", path, line,
                     buf_cstr(&got), tab + 1);
        buf_release(&got);
    }
    free(text);
    free(path);
}

static void test_inv_json_fixtures(void **state)
{
    (void)state;
    const char *top = getenv("TOP") != NULL ? getenv("TOP") : ".";
    char *data = xasprintf("%s/tests/data/inventory", top);
    DIR *d = opendir(data);
    assert_non_null(d);
    struct dirent *de;
    int cases = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *dir = xasprintf("%s/%s", data, de->d_name);
        char *sources = xasprintf("%s/sources", dir);
        struct stat st;
        if (stat(sources, &st) == 0) {
            struct inventory *inv = load_case(dir);
            json_t *list = inv_json_list(inv, false);
            check_json(dir, "list.json", list);
            json_decref(list);
            json_t *exp = inv_json_list(inv, true);
            check_json(dir, "export.json", exp);
            json_decref(exp);
            check_graph(dir, inv);
            check_patterns(dir, inv);
            inv_free(inv);
            cases++;
        }
        free(sources);
        free(dir);
    }
    closedir(d);
    free(data);
    assert_true(cases >= 15);
}

static void test_inv_json_shape(void **state)
{
    (void)state;
    static const char text[] = "[web]\nw1 a=1\n[empty]\n";
    struct inventory *inv = inv_new();
    struct err e = {0};
    assert_int_equal(
        inv_load_buffer(inv, "s.ini", text, strlen(text), INV_FORMAT_INI, &e),
        ERR_OK);
    json_t *list = inv_json_list(inv, false);
    char *s = inv_json_dump(list);
    assert_string_equal(s, "{\n"
                           "    \"_meta\": {\n"
                           "        \"hostvars\": {\n"
                           "            \"w1\": {\n"
                           "                \"a\": 1\n"
                           "            }\n"
                           "        }\n"
                           "    },\n"
                           "    \"all\": {\n"
                           "        \"children\": [\n"
                           "            \"ungrouped\",\n"
                           "            \"web\",\n"
                           "            \"empty\"\n"
                           "        ]\n"
                           "    },\n"
                           "    \"web\": {\n"
                           "        \"hosts\": [\n"
                           "            \"w1\"\n"
                           "        ]\n"
                           "    }\n"
                           "}");
    free(s);
    json_decref(list);
    inv_free(inv);
}

static void test_inv_json_floats(void **state)
{
    (void)state;
    /* Python's repr() of each. */
    static const struct {
        double d;
        const char *repr;
    } cases[] = {
        {0.1, "0.1"},
        {2.5, "2.5"},
        {1000.0, "1000.0"},
        {1e15, "1000000000000000.0"},
        {1e16, "1e+16"},
        {1e100, "1e+100"},
        {0.0001, "0.0001"},
        {1e-05, "1e-05"},
        {1.5e-7, "1.5e-07"},
        {-0.0, "-0.0"},
        {685230.15, "685230.15"},
        {0.0, "0.0"},
        {-123.456, "-123.456"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *r = json_real(cases[i].d);
        char *s = inv_json_dump(r);
        if (strcmp(s, cases[i].repr) != 0)
            fail_msg("%.17g printed as %s, Python says %s", cases[i].d, s,
                     cases[i].repr);
        free(s);
        json_decref(r);
    }
    json_t *str = json_string("tab\there \"q\" \xc3\xa9");
    char *s = inv_json_dump(str);
    assert_string_equal(s, "\"tab\\there \\\"q\\\" \xc3\xa9\"");
    free(s);
    json_decref(str);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_json_fixtures),
        cmocka_unit_test(test_inv_json_shape),
        cmocka_unit_test(test_inv_json_floats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
