/* tests/unit/coordinator/test_sshopt.c: the shared SSH flags through a
 * real getopt_long table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sshopt.h"

#include <string.h>

/* Parse argv (NULL-terminated) with "v" plus the ssh flags into o.
 * Returns the first error code, *verbose counts -v. */
static enum err_code parse(const char **argv, struct ssh_options *o,
                           int *verbose, struct err *e)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    /* a command with one option of its own and the SSH ones (cmd.h) */
    static const struct cmd_opt own[] = {
        {"verbose", 'v', CMD_OPT_SHORT, NULL, "more"}, CMD_OPT_END};
    const struct cmd c = {.name = "t", .opts = own, .ssh = true};
    struct option opts[CMD_OPTS_MAX + 1];
    char shortopts[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(&c, "", opts, shortopts);
    assert_string_equal(shortopts, "v");
    assert_string_equal(opts[1].name, "user");
    assert_null(opts[SSHOPT_COUNT + 1].name);
    ssh_options_init(o);
    *verbose = 0;
    optind = 0;
    opterr = 0;
    int k;
    while ((k = getopt_long(argc, (char *const *)argv, shortopts, opts,
                            NULL)) != -1) {
        if (k == 'v') {
            (*verbose)++;
        } else if (sshopt_is(k)) {
            if (sshopt_apply(o, k, optarg, e) != ERR_OK)
                return e->code;
        } else {
            return err_set(e, ERR_USAGE, "unknown flag");
        }
    }
    return ERR_OK;
}

static void test_sshopt_all_flags(void **state)
{
    (void)state;
    const char *argv[] = {"run",
                          "-v",
                          "--user",
                          "deploy",
                          "--key=/k/id",
                          "--known-hosts",
                          "/k/kh",
                          "--accept-new",
                          "--connect-timeout",
                          "1m30s",
                          "--handshakes-per-target",
                          "4",
                          "--ssh-config",
                          "none",
                          NULL};
    struct ssh_options o;
    struct err e = {0};
    int v;
    assert_int_equal(parse(argv, &o, &v, &e), ERR_OK);
    assert_int_equal(v, 1);
    assert_string_equal(o.user, "deploy");
    assert_string_equal(o.key_file, "/k/id");
    assert_string_equal(o.known_hosts, "/k/kh");
    assert_true(o.accept_new);
    assert_int_equal(o.connect_timeout_ms, 90000);
    assert_int_equal(o.handshakes_per_target, 4);
    assert_string_equal(o.config_file, "none");
}

static void test_sshopt_defaults_stay_zero(void **state)
{
    (void)state;
    const char *argv[] = {"run", NULL};
    struct ssh_options o;
    struct err e = {0};
    int v;
    assert_int_equal(parse(argv, &o, &v, &e), ERR_OK);
    assert_null(o.user);
    assert_null(o.key_file);
    assert_false(o.accept_new);
    assert_int_equal(o.connect_timeout_ms, 0);
    assert_null(o.config_file);
}

static void test_sshopt_bad_values(void **state)
{
    (void)state;
    struct ssh_options o;
    struct err e = {0};
    int v;
    const char *a1[] = {"run", "--connect-timeout", "soon", NULL};
    assert_int_equal(parse(a1, &o, &v, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "--connect-timeout"));
    assert_non_null(strstr(e.msg, "'soon'"));
    err_clear(&e);
    const char *a2[] = {"run", "--connect-timeout", "0s", NULL};
    assert_int_equal(parse(a2, &o, &v, &e), ERR_USAGE);
    err_clear(&e);
    const char *a3[] = {"run", "--handshakes-per-target", "0", NULL};
    assert_int_equal(parse(a3, &o, &v, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "1..1000"));
    err_clear(&e);
    const char *a4[] = {"run", "--handshakes-per-target", "8x", NULL};
    assert_int_equal(parse(a4, &o, &v, &e), ERR_USAGE);
    err_clear(&e);
    const char *a5[] = {"run", "--user=", NULL};
    assert_int_equal(parse(a5, &o, &v, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "--user"));
    err_clear(&e);
    const char *a6[] = {"run", "--ssh-config=", NULL};
    assert_int_equal(parse(a6, &o, &v, &e), ERR_USAGE);
    assert_string_equal(e.msg, "--ssh-config: expected a file, or none");
}

/* One limit for run, deploy and resume (deploy took up to 100000). */
static void test_sshopt_forks(void **state)
{
    (void)state;
    struct err e = {0};
    int forks = 7;
    assert_int_equal(sshopt_forks("1", &forks, &e), ERR_OK);
    assert_int_equal(forks, 1);
    assert_int_equal(sshopt_forks("10000", &forks, &e), ERR_OK);
    assert_int_equal(forks, SSHOPT_FORKS_MAX);
    static const char *const bad[] = {
        "0", "10001", "100000", "", "8x", "-3", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&e);
        assert_int_equal(sshopt_forks(bad[i], &forks, &e), ERR_USAGE);
        assert_int_equal(forks, SSHOPT_FORKS_MAX);
        assert_non_null(strstr(e.msg, "--forks: expected a number 1..10000"));
    }
    assert_int_equal(sshopt_forks(NULL, &forks, &e), ERR_USAGE);
}

static void test_sshopt_is(void **state)
{
    (void)state;
    assert_true(sshopt_is(SSHOPT_USER));
    assert_true(sshopt_is(SSHOPT_HANDSHAKES));
    assert_true(sshopt_is(SSHOPT_SSH_CONFIG));
    assert_false(sshopt_is('v'));
    assert_false(sshopt_is(SSHOPT_SSH_CONFIG + 1));
    assert_string_equal(sshopt_opts[3].name, "accept-new");
    assert_null(sshopt_opts[3].arg);
    assert_string_equal(sshopt_opts[SSHOPT_COUNT - 1].name, "ssh-config");
    assert_null(sshopt_opts[SSHOPT_COUNT].name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sshopt_all_flags),
        cmocka_unit_test(test_sshopt_defaults_stay_zero),
        cmocka_unit_test(test_sshopt_bad_values),
        cmocka_unit_test(test_sshopt_forks),
        cmocka_unit_test(test_sshopt_is),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
