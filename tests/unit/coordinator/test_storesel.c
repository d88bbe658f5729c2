/* tests/unit/coordinator/test_storesel.c: which store a command uses:
 * store URLs and the backends named in their refusal (store_url_dir),
 * drover.yml as config.c reads it (keys, values, file:line:col), and the
 * precedence of flag, environment, user file, system file and default
 * (storesel_pick), with the refusals of two spellings that disagree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "store.h"
#include "storesel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A directory for config files, removed at the end. */
static char test_dir[] = "/tmp/drover-storesel-XXXXXX";

/* Write text to test_dir/name; its path (caller frees). */
static char *put(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", test_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The URLs a user writes: sqlite:DIR is DIR; anything else is refused
 * naming the URL and this build's backends. */
static void test_store_url_dir(void **state)
{
    (void)state;
    struct err e = {0};
    char *dir = NULL;
    assert_int_equal(store_url_dir("sqlite:/srv/state", &dir, &e), ERR_OK);
    assert_string_equal(dir, "/srv/state");
    free(dir);
    assert_int_equal(store_url_dir("sqlite:/srv/state//", &dir, &e), ERR_OK);
    assert_string_equal(dir, "/srv/state");
    free(dir);
    assert_int_equal(store_url_dir("sqlite:rel/dir", &dir, &e), ERR_OK);
    assert_string_equal(dir, "rel/dir");
    free(dir);
    assert_int_equal(store_url_dir("sqlite:/", &dir, &e), ERR_OK);
    assert_string_equal(dir, "/");
    free(dir);
    dir = NULL;
    assert_int_equal(store_url_dir("etcd://127.0.0.1:2379/drover", &dir, &e),
                     ERR_INVALID);
    assert_null(dir);
    assert_string_equal(e.msg, "store 'etcd://127.0.0.1:2379/drover': this "
                               "build has no 'etcd' backend (its backends: "
                               "sqlite:DIR)");
    err_clear(&e);
    assert_int_equal(store_url_dir("/srv/state", &dir, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "is not a store URL"));
    assert_non_null(strstr(e.msg, "sqlite:DIR"));
    err_clear(&e);
    assert_int_equal(store_url_dir("sqlite:", &dir, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "names no directory"));
    err_clear(&e);
    assert_int_equal(store_url_dir("SQLITE:/x", &dir, &e), ERR_INVALID);
}

/* Load text as a config file named "c.yml". */
static enum err_code load(const char *text, struct config *c, struct err *e)
{
    err_clear(e);
    return config_load_buffer("c.yml", text, strlen(text), c, e);
}

static void test_config_read(void **state)
{
    (void)state;
    struct config c;
    struct err e = {0};
    assert_int_equal(load("store: sqlite:/srv/x\n", &c, &e), ERR_OK);
    assert_string_equal(c.store, "sqlite:/srv/x");
    assert_string_equal(c.store_at, "c.yml:1:8");
    config_release(&c);
    assert_int_equal(load("# comment\n---\nstore: 'sqlite:/a b'\n", &c, &e),
                     ERR_OK);
    assert_string_equal(c.store, "sqlite:/a b");
    assert_string_equal(c.store_at, "c.yml:3:8");
    config_release(&c);
    /* nothing, an empty document, an empty mapping: no settings */
    const char *empty[] = {"", "# nothing\n", "---\n", "{}\n"};
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        assert_int_equal(load(empty[i], &c, &e), ERR_OK);
        assert_null(c.store);
        config_release(&c);
    }
}

/* Each bad file: its message, file:line:col first. */
static void test_config_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"stor: sqlite:/x\n",
         "c.yml:1:1: unknown key 'stor'; did you mean 'store'?"},
        {"store: sqlite:/x\nlock_wait: 3s\n",
         "c.yml:2:1: unknown key 'lock_wait' (the keys: store)"},
        {"state_dir: /x\n",
         "c.yml:1:1: unknown key 'state_dir': a state directory is the store "
         "'sqlite:DIR' (store: sqlite:DIR)"},
        {"store: sqlite:/a\nstore: sqlite:/b\n",
         "c.yml:2:1: key 'store' given twice (first at c.yml:1:8)"},
        {"store:\n  - sqlite:/a\n",
         "c.yml:2:3: store: expected a store URL (sqlite:DIR), not a "
         "collection"},
        {"store:\n", "c.yml:1:7: store: expected a store URL (sqlite:DIR)"},
        {"store: 3\n", "c.yml:1:8: store: expected a store URL (sqlite:DIR)"},
        {"- store\n",
         "c.yml:1:1: a config file is a mapping of settings (store: URL)"},
        {"sqlite:/x\n",
         "c.yml:1:1: a config file is a mapping of settings (store: URL)"},
        {"[1]: x\n", "c.yml:1:1: keys of a config file must be strings"},
        {"store: x\n---\nstore: y\n",
         "c.yml:3:1: a config file holds one document"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config c;
        struct err e = {0};
        assert_int_not_equal(load(cases[i].text, &c, &e), ERR_OK);
        assert_string_equal(e.msg, cases[i].msg);
        assert_null(c.store);
    }
    struct config c;
    struct err e = {0};
    assert_int_equal(load("store: \"x\n", &c, &e), ERR_PARSE);
    assert_int_equal(strncmp(e.msg, "c.yml:", 6), 0);
    /* refused at its first problem, before reading what is nested */
    assert_int_equal(load("a: {b: {c: {d: {e: 1}}}}\n", &c, &e), ERR_PARSE);
    assert_string_equal(e.msg, "c.yml:1:1: unknown key 'a' (the keys: store)");
}

static void test_config_files(void **state)
{
    (void)state;
    struct config c;
    struct err e = {0};
    char *missing = xasprintf("%s/none.yml", test_dir);
    assert_int_equal(config_load(missing, &c, &e), ERR_NOTFOUND);
    free(missing);
    err_clear(&e);
    assert_int_equal(config_load(test_dir, &c, &e), ERR_SYS);
    char *p = put("ok.yml", "store: sqlite:/srv/ok\n");
    err_clear(&e);
    assert_int_equal(config_load(p, &c, &e), ERR_OK);
    assert_string_equal(c.store, "sqlite:/srv/ok");
    char *at = xasprintf("%s:1:8", p);
    assert_string_equal(c.store_at, at);
    free(at);
    config_release(&c);
    free(p);

    setenv("XDG_CONFIG_HOME", "/xdg", 1);
    char *u = config_user_file();
    assert_string_equal(u, "/xdg/drover/drover.yml");
    free(u);
    setenv("XDG_CONFIG_HOME", "relative", 1);
    setenv("HOME", "/home/op", 1);
    u = config_user_file();
    assert_string_equal(u, "/home/op/.config/drover/drover.yml");
    free(u);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    assert_null(config_user_file());
}

/* Pick from in: the directory (NULL: default) and the source. */
static void pick_ok(const struct storesel_in *in, const char *dir,
                    const char *source)
{
    struct storesel s;
    struct err e = {0};
    if (storesel_pick(in, &s, &e) != ERR_OK)
        fail_msg("%s", e.msg);
    if (dir == NULL)
        assert_null(s.dir);
    else
        assert_string_equal(s.dir, dir);
    assert_string_equal(s.source, source);
    storesel_release(&s);
}

/* Pick from in, refused with a message holding want. */
static void pick_refused(const struct storesel_in *in, const char *want)
{
    struct storesel s;
    struct err e = {0};
    assert_int_equal(storesel_pick(in, &s, &e), ERR_USAGE);
    if (strstr(e.msg, want) == NULL)
        fail_msg("'%s' not in '%s'", want, e.msg);
    assert_null(s.dir);
}

static void test_storesel_precedence(void **state)
{
    (void)state;
    char *user = put("user.yml", "store: sqlite:/srv/user\n");
    char *sys = put("sys.yml", "store: sqlite:/srv/sys\n");
    char *other = put("other.yml", "store: sqlite:/srv/other\n");
    char *user_at = xasprintf("%s:1:8", user);
    char *sys_at = xasprintf("%s:1:8", sys);
    char *other_at = xasprintf("%s:1:8", other);
    struct storesel_in in = {
        .flag_store = "sqlite:/srv/flag",
        .flag_state_dir = NULL,
        .env_store = "sqlite:/srv/env",
        .env_state_dir = NULL,
        .user_file = user,
        .system_file = sys,
    };
    /* flag > environment > user file > system file > default */
    pick_ok(&in, "/srv/flag", "--store");
    in.flag_store = NULL;
    in.flag_state_dir = "/srv/flagdir/";
    pick_ok(&in, "/srv/flagdir/", "--state-dir"); /* as written */
    in.flag_state_dir = NULL;
    pick_ok(&in, "/srv/env", "$DROVER_STORE");
    in.env_store = NULL;
    in.env_state_dir = "/srv/envdir";
    pick_ok(&in, "/srv/envdir", "$DROVER_STATE_DIR");
    in.env_state_dir = NULL;
    pick_ok(&in, "/srv/user", user_at);
    in.user_file = NULL; /* no HOME */
    pick_ok(&in, "/srv/sys", sys_at);
    char *bare = put("bare.yml", "# no store here\n");
    in.user_file = bare; /* a user file without store: the system's */
    pick_ok(&in, "/srv/sys", sys_at);
    in.env_config = other; /* $DROVER_CONFIG: the only file read */
    pick_ok(&in, "/srv/other", other_at);
    in.env_config = bare;
    pick_ok(&in, NULL, "default");
    in.env_config = NULL;
    char *none = xasprintf("%s/none.yml", test_dir);
    in.user_file = none;
    in.system_file = none;
    pick_ok(&in, NULL, "default");

    /* both spellings of one level: agreeing is fine */
    in.flag_store = "sqlite:/srv/a/";
    in.flag_state_dir = "/srv/a";
    pick_ok(&in, "/srv/a", "--store");
    in.env_store = "sqlite:/srv/b";
    in.env_state_dir = "/srv/b//";
    in.flag_store = in.flag_state_dir = NULL;
    pick_ok(&in, "/srv/b//", "$DROVER_STORE");
    /* ... disagreeing is refused, naming both */
    in.flag_store = "sqlite:/srv/a";
    in.flag_state_dir = "/srv/b";
    pick_refused(&in, "--store sqlite:/srv/a and --state-dir /srv/b name "
                      "different stores: give one of them");
    in.flag_store = in.flag_state_dir = NULL;
    in.env_state_dir = "/srv/c";
    pick_refused(&in, "$DROVER_STORE sqlite:/srv/b and $DROVER_STATE_DIR "
                      "/srv/c name different stores: unset one of them");
    /* a higher level wins over a disagreement below it */
    in.flag_state_dir = "/srv/f";
    pick_ok(&in, "/srv/f", "--state-dir");

    free(none);
    free(bare);
    free(user_at);
    free(sys_at);
    free(other_at);
    free(user);
    free(sys);
    free(other);
}

static void test_storesel_refused(void **state)
{
    (void)state;
    struct storesel_in in = {.flag_store = "etcd://127.0.0.1:2379/drover"};
    pick_refused(&in, "--store: store 'etcd://127.0.0.1:2379/drover': this "
                      "build has no 'etcd' backend (its backends: "
                      "sqlite:DIR)");
    in.flag_store = NULL;
    in.env_store = "/srv/x";
    pick_refused(&in, "$DROVER_STORE: store '/srv/x' is not a store URL");
    in.env_store = NULL;
    char *etcd = put("etcd.yml", "# team\nstore: etcd://h:2379/p\n");
    char *want = xasprintf("%s:2:8: store 'etcd://h:2379/p': this build has "
                           "no 'etcd' backend",
                           etcd);
    in.user_file = etcd;
    pick_refused(&in, want);
    free(want);
    char *rel = put("rel.yml", "store: sqlite:state\n");
    in.user_file = rel;
    want = xasprintf("%s:1:8: store 'sqlite:state' names a relative "
                     "directory",
                     rel);
    pick_refused(&in, want);
    free(want);
    char *bad = put("bad.yml", "store: sqlite:/x\nstate: 1\n");
    in.user_file = bad;
    want = xasprintf("%s:2:1: unknown key 'state'; did you mean 'store'?", bad);
    pick_refused(&in, want);
    free(want);
    /* a bad user file is refused, not skipped for the system's */
    char *sys = put("sys2.yml", "store: sqlite:/srv/sys\n");
    in.system_file = sys;
    pick_refused(&in, "did you mean 'store'?");
    /* $DROVER_CONFIG must name a file that exists */
    char *none = xasprintf("%s/none.yml", test_dir);
    in.env_config = none;
    want = xasprintf("$DROVER_CONFIG: %s: no such file", none);
    pick_refused(&in, want);
    free(want);
    /* a flag or the environment: files are not read at all */
    in.env_config = bad;
    in.flag_state_dir = "/srv/flag";
    pick_ok(&in, "/srv/flag", "--state-dir");
    free(none);
    free(sys);
    free(bad);
    free(rel);
    free(etcd);
}

/* storesel_from_env reads the environment; empty is unset. */
static void test_storesel_from_env(void **state)
{
    (void)state;
    setenv("DROVER_STORE", "sqlite:/srv/e", 1);
    setenv("DROVER_STATE_DIR", "", 1);
    setenv("DROVER_CONFIG", "/c.yml", 1);
    setenv("HOME", "/home/op", 1);
    unsetenv("XDG_CONFIG_HOME");
    struct storesel_in in;
    storesel_from_env(&in, "sqlite:/f", NULL);
    assert_string_equal(in.flag_store, "sqlite:/f");
    assert_null(in.flag_state_dir);
    assert_string_equal(in.env_store, "sqlite:/srv/e");
    assert_null(in.env_state_dir);
    assert_string_equal(in.env_config, "/c.yml");
    assert_string_equal(in.user_file, "/home/op/.config/drover/drover.yml");
    assert_string_equal(in.system_file, "/etc/drover/drover.yml");
    free((char *)in.user_file);
    unsetenv("DROVER_STORE");
    unsetenv("DROVER_STATE_DIR");
    unsetenv("DROVER_CONFIG");
}

int main(void)
{
    if (mkdtemp(test_dir) == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_url_dir),
        cmocka_unit_test(test_config_read),
        cmocka_unit_test(test_config_refused),
        cmocka_unit_test(test_config_files),
        cmocka_unit_test(test_storesel_precedence),
        cmocka_unit_test(test_storesel_refused),
        cmocka_unit_test(test_storesel_from_env),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char *cmd = xasprintf("rm -rf '%s'", test_dir);
    if (system(cmd) != 0)
        failed++;
    free(cmd);
    return failed;
}
