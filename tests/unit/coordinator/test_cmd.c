/* tests/unit/coordinator/test_cmd.c: what subcommands share (cmd.c): an
 * option table becomes getopt_long's tables, the help (wrapped, SSH
 * options appended), a usage error, docs/cli.md's Markdown with the exit
 * statuses, and the flags several commands share (cmd_shared_opt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd_capture.h"
#include "sshopt.h"

static const struct cmd_opt test_opts[] = {
    {"inventory", 'i', CMD_OPT_SHORT, "SRC", "an inventory"},
    {"json", 'J', 0, NULL, "JSON | events"},
    {"verbose", 'v', CMD_OPT_SHORT, NULL,
     "a help text long enough that it must be wrapped over more than one "
     "line of the terminal, at a word"},
    CMD_OPT_HELP,
    CMD_OPT_END,
};

static int test_cmd_noop(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static const struct cmd test_cmd = {.name = "t",
                                    .usage = "t -i SRC [options] ARG",
                                    .summary = "test things",
                                    .run = test_cmd_noop,
                                    .opts = test_opts,
                                    .ssh = true};

/* Everything f received; caller frees. */
static char *test_cmd_text(void (*fn)(FILE *))
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fn(f);
    char *s = capture_slurp(f);
    fclose(f);
    return s;
}

static void test_cmd_help_to(FILE *f)
{
    cmd_help(&test_cmd, f);
}

static void test_cmd_md_to(FILE *f)
{
    const struct cmd *const cmds[] = {&test_cmd};
    cmd_markdown(cmds, 1, f);
}

static void test_cmd_getopt_tables(void **state)
{
    (void)state;
    struct option lo[CMD_OPTS_MAX + 1];
    char so[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(&test_cmd, "+", lo, so);
    assert_string_equal(so, "+i:vh");
    assert_string_equal(lo[0].name, "inventory");
    assert_int_equal(lo[0].has_arg, required_argument);
    assert_int_equal(lo[1].val, 'J');
    assert_int_equal(lo[1].has_arg, no_argument);
    assert_string_equal(lo[4].name, "user"); /* the SSH ones follow */
    assert_int_equal(lo[4].val, SSHOPT_USER);
    assert_null(lo[4 + SSHOPT_COUNT].name);
}

static void test_cmd_help_text(void **state)
{
    (void)state;
    char *s = test_cmd_text(test_cmd_help_to);
    assert_non_null(strstr(s, "usage: drover t -i SRC [options] ARG\n\n"
                              "test things.\n\noptions:\n"
                              "  -i, --inventory SRC         an inventory\n"
                              "      --json                  JSON | events\n"));
    assert_non_null(strstr(s, "--accept-new"));
    /* wrapped at a word, every line within 79 columns */
    for (char *line = s, *nl; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_true(nl - line <= 79);
    }
    assert_non_null(
        strstr(s, "  -v, --verbose               a help text long"));
    free(s);
}

static void test_cmd_usage_error_text(void **state)
{
    (void)state;
    fflush(stderr);
    FILE *f = tmpfile();
    int saved = dup(fileno(stderr));
    dup2(fileno(f), fileno(stderr));
    int rc = cmd_usage_error(&test_cmd, "no %s", "ARG");
    fflush(stderr);
    dup2(saved, fileno(stderr));
    close(saved);
    char *s = capture_slurp(f);
    fclose(f);
    assert_int_equal(rc, EXIT_USAGE);
    assert_string_equal(s, "drover t: no ARG\nusage: drover t -i SRC "
                           "[options] ARG\n(drover t --help lists the "
                           "options)\n");
    free(s);
}

static void test_cmd_markdown_text(void **state)
{
    (void)state;
    char *s = test_cmd_text(test_cmd_md_to);
    assert_non_null(strstr(s, "### drover t\n\n```text\ndrover t -i SRC "
                              "[options] ARG\n```\n\ntest things.\n"));
    assert_non_null(strstr(s, "| `--json` | JSON \\| events |\n"));
    assert_non_null(strstr(s, "| SSH options | `--user`"));
    assert_non_null(strstr(s, "### SSH options"));
    assert_non_null(strstr(s, "| `--ssh-config FILE\\|none` |"));
    /* every exit status, in order */
    const char *prev = s;
    for (const struct cmd_exit *x = cmd_exits; x->meaning != NULL; x++) {
        char row[16];
        snprintf(row, sizeof(row), "\n| %d | ", x->status);
        const char *at = strstr(prev, row);
        assert_non_null(at);
        prev = at;
    }
    free(s);
}

/* cmd_shared_opt(&test_cmd, s, opt, arg) with stderr captured into *errout
 * (caller frees). */
static int test_cmd_shared(struct cmd_shared *s, int opt, const char *arg,
                           char **errout)
{
    fflush(stderr);
    FILE *f = tmpfile();
    int saved = dup(fileno(stderr));
    dup2(fileno(f), fileno(stderr));
    int rc = cmd_shared_opt(&test_cmd, s, opt, arg);
    fflush(stderr);
    dup2(saved, fileno(stderr));
    close(saved);
    *errout = capture_slurp(f);
    fclose(f);
    return rc;
}

/* Each shared flag: one validation, one way to say what is wrong (the
 * usage error with the synopsis), whichever command takes it. */
static void test_cmd_shared_flags(void **state)
{
    (void)state;
    struct cmd_shared s;
    cmd_shared_init(&s, 200);
    char *err = NULL;
    assert_int_equal(s.forks, SSHOPT_FORKS_DEFAULT);

    /* --forks 5x: refused as a usage error (resume once took it) */
    assert_int_equal(test_cmd_shared(&s, 'f', "5x", &err), EXIT_USAGE);
    assert_string_equal(err, "drover t: --forks: expected a number 1..10000, "
                             "not '5x'\nusage: drover t -i SRC [options] "
                             "ARG\n(drover t --help lists the options)\n");
    free(err);
    assert_int_equal(s.forks, SSHOPT_FORKS_DEFAULT);
    assert_int_equal(test_cmd_shared(&s, 'f', "12", &err), CMD_SHARED_TAKEN);
    assert_string_equal(err, "");
    free(err);
    assert_int_equal(s.forks, 12);

    /* -i: any number, in order */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(test_cmd_shared(&s, 'i', i ? "b.ini" : "a.ini", &err),
                         CMD_SHARED_TAKEN);
        free(err);
    }
    assert_int_equal(s.ninv, 100);
    assert_string_equal(s.invs[0], "a.ini");
    assert_string_equal(s.invs[99], "b.ini");

    /* -e NAME=VALUE; a bad one is a usage error, a bad file bad input */
    assert_int_equal(test_cmd_shared(&s, 'e', "version=2", &err),
                     CMD_SHARED_TAKEN);
    free(err);
    assert_string_equal(json_string_value(json_object_get(s.extra, "version")),
                        "2");
    assert_int_equal(test_cmd_shared(&s, 'e', "x", &err), EXIT_USAGE);
    assert_non_null(strstr(err, "drover t: -e 'x': expected name=value"));
    assert_non_null(strstr(err, "\nusage: drover t "));
    free(err);
    assert_int_equal(
        test_cmd_shared(&s, 'e', "@/nonexistent/drover-vars.yml", &err),
        EXIT_INPUT);
    assert_non_null(strstr(err, "drover t: "));
    assert_null(strstr(err, "usage:"));
    free(err);

    /* --lock-wait names itself */
    assert_int_equal(test_cmd_shared(&s, 'W', "soon", &err), EXIT_USAGE);
    assert_non_null(strstr(err, "drover t: --lock-wait: bad duration 'soon'"));
    free(err);
    assert_int_equal(test_cmd_shared(&s, 'W', "2s", &err), CMD_SHARED_TAKEN);
    free(err);
    assert_int_equal(s.lock_wait_ms, 2000);

    /* SSH flags go to s->ssh, and agents get the same trust */
    assert_int_equal(test_cmd_shared(&s, SSHOPT_USER, "", &err), EXIT_USAGE);
    assert_non_null(strstr(err, "drover t: --user: expected a user name\n"
                                "usage: drover t "));
    free(err);
    assert_int_equal(test_cmd_shared(&s, SSHOPT_USER, "deploy", &err),
                     CMD_SHARED_TAKEN);
    free(err);
    assert_string_equal(s.ssh.user, "deploy");
    assert_false(s.agent.accept_new);
    assert_int_equal(test_cmd_shared(&s, SSHOPT_ACCEPT_NEW, NULL, &err),
                     CMD_SHARED_TAKEN);
    free(err);
    assert_true(s.ssh.accept_new);
    assert_true(s.agent.accept_new);
    assert_int_equal(test_cmd_shared(&s, SSHOPT_CONNECT_TIMEOUT, "3s", &err),
                     CMD_SHARED_TAKEN);
    free(err);
    assert_int_equal(s.agent.connect_timeout_ms, 3000);

    /* --state-dir, --coordinator-key, --known-agents */
    assert_int_equal(test_cmd_shared(&s, 'S', "/st", &err), CMD_SHARED_TAKEN);
    free(err);
    assert_int_equal(test_cmd_shared(&s, 'K', "/k", &err), CMD_SHARED_TAKEN);
    free(err);
    assert_int_equal(test_cmd_shared(&s, 'A', "/a", &err), CMD_SHARED_TAKEN);
    free(err);
    assert_string_equal(s.state_dir, "/st");
    assert_string_equal(s.agent.key_file, "/k");
    assert_string_equal(s.agent.known_agents, "/a");

    /* a command's own keys are not shared */
    assert_int_equal(test_cmd_shared(&s, 'J', NULL, &err), CMD_SHARED_NOT_MINE);
    assert_string_equal(err, "");
    free(err);
    cmd_shared_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_getopt_tables),
        cmocka_unit_test(test_cmd_help_text),
        cmocka_unit_test(test_cmd_usage_error_text),
        cmocka_unit_test(test_cmd_markdown_text),
        cmocka_unit_test(test_cmd_shared_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
