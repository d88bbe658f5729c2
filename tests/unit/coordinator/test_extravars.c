/* tests/unit/coordinator/test_extravars.c: `-e @FILE` reads YAML and
 * JSON variables files, names a broken one at file:line:col, and types a
 * YAML file's values exactly as group_vars/ types the same file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "extravars.h"

#include "buf.h"
#include "inv_yaml.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void plan_vars_file(char *path, const char *text)
{
    int fd = mkstemps(path, (int)strlen(strrchr(path, '.')));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_extravars_load(void **state)
{
    (void)state;
    char yml[] = "/tmp/drover-test-vars-XX"
                 "XX"
                 "XX.yml";
    plan_vars_file(yml, "version: 3\nflags: [a, 1]\nquoted: '3'\n");
    json_t *v = NULL;
    struct err e = {0};
    assert_int_equal(extravars_load(yml, &v, NULL, &e), ERR_OK);
    assert_int_equal(json_integer_value(json_object_get(v, "version")), 3);
    assert_string_equal(json_string_value(json_object_get(v, "quoted")), "3");
    assert_int_equal(json_array_size(json_object_get(v, "flags")), 2);
    json_decref(v);
    unlink(yml);

    char bad[] = "/tmp/drover-test-vars-XX"
                 "XX"
                 "XX.yml";
    plan_vars_file(bad, "# vars\n- a\n- b\n");
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    assert_int_equal(extravars_load(bad, &v, &diags, &e), ERR_PARSE);
    assert_null(v);
    char want[128];
    snprintf(want, sizeof(want),
             "%s:2:1: a variables file must be a mapping of name: value", bad);
    assert_string_equal(e.msg, want);
    buf_release(&diags);
    unlink(bad);

    char js[] = "/tmp/drover-test-vars-XX"
                "XX"
                "XX.json";
    plan_vars_file(js, "{\"a\": 1,\n \"a\": 2}");
    err_clear(&e);
    assert_int_equal(extravars_load(js, &v, NULL, &e), ERR_PARSE);
    assert_true(strncmp(e.msg, js, strlen(js)) == 0);
    assert_non_null(strstr(e.msg, ":2:"));
    unlink(js);

    err_clear(&e);
    assert_int_equal(extravars_load("/nonexistent/v.yml", &v, NULL, &e),
                     ERR_SYS);
    assert_non_null(strstr(e.msg, "/nonexistent/v.yml"));
}

/* One file through -e @FILE and as a group_vars file: the same values of
 * the same types (YAML 1.1 as Ansible's loader types them). */
static void test_extravars_types_as_group_vars(void **state)
{
    (void)state;
    static const char text[] =
        "a: on\nb: Off\nc: YES\nd: 0755\ne: 0x1F\nf: 1:30\ng: 1_000\n"
        "h: 1e5\ni: 1.5\nj: ~\nk: '0755'\nl: !!str yes\nm: 2024-01-02\n"
        "n: [on, 010]\no: true\np: .5\nq: &x !!str no\nr: *x\n"
        "s: 99999999999999999999\n";
    char yml[] = "/tmp/drover-test-vars-XX"
                 "XX"
                 "XX.yml";
    plan_vars_file(yml, text);
    json_t *ev = NULL, *gv = NULL;
    struct err e = {0};
    assert_int_equal(extravars_load(yml, &ev, NULL, &e), ERR_OK);
    assert_int_equal(inv_yaml_vars(yml, text, strlen(text), &gv, &e), ERR_OK);
    unlink(yml);
    char *es = json_dumps(ev, JSON_SORT_KEYS);
    char *gs = json_dumps(gv, JSON_SORT_KEYS);
    assert_string_equal(es, gs);
    assert_true(json_is_true(json_object_get(ev, "a")));
    assert_true(json_is_false(json_object_get(ev, "b")));
    assert_true(json_is_true(json_object_get(ev, "c")));
    assert_int_equal(json_integer_value(json_object_get(ev, "d")), 493);
    assert_int_equal(json_integer_value(json_object_get(ev, "e")), 31);
    assert_int_equal(json_integer_value(json_object_get(ev, "f")), 90);
    assert_int_equal(json_integer_value(json_object_get(ev, "g")), 1000);
    assert_string_equal(json_string_value(json_object_get(ev, "h")), "1e5");
    assert_true(json_is_real(json_object_get(ev, "i")));
    assert_true(json_is_null(json_object_get(ev, "j")));
    assert_string_equal(json_string_value(json_object_get(ev, "k")), "0755");
    assert_string_equal(json_string_value(json_object_get(ev, "l")), "yes");
    assert_string_equal(json_string_value(json_object_get(ev, "q")), "no");
    assert_string_equal(json_string_value(json_object_get(ev, "r")), "no");
    free(es);
    free(gs);
    json_decref(ev);
    json_decref(gv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extravars_load),
        cmocka_unit_test(test_extravars_types_as_group_vars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
