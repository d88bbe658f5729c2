/* tests/unit/coordinator/test_cmd_run.c: `drover run` in-process: usage
 * and input errors with their exit statuses and messages, and whole runs
 * against loopback ports that refuse or never answer (the real fleet is in
 * tests/integration/test_run*.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "cmd_capture.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <sys/socket.h>

static char dir[64];
static char key[128];

static int setup(void **state)
{
    (void)state;
    /* mkdtemp's template: six 'X' the call replaces. */
    int n = snprintf(dir, sizeof(dir), "/tmp/test_cmd_run.");
    memset(dir + n, 'X', 6);
    dir[n + 6] = '\0';
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof(key), "%s/id", dir);
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "ssh-keygen -q -t ed25519 -N '' -f %s </dev/null >/dev/null 2>&1",
             key);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static char *write_file(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Run `drover run ARGS...`; checks the status and that want appears in
 * stdout+stderr. */
static void expect(int status, const char *want, const char *const *args)
{
    char *out = NULL, *err = NULL;
    int rc = capture_run(&cmd_run, args, &out, &err);
    bool found = strstr(out, want) != NULL || strstr(err, want) != NULL;
    if (rc != status || !found)
        fail_msg("status %d (want %d), want '%s'\nstdout: %s\nstderr: %s", rc,
                 status, want, out, err);
    free(out);
    free(err);
}

static void test_cmd_run_usage(void **state)
{
    (void)state;
    char *inv = write_file("u.ini", "[web]\nh1 ansible_host=127.0.0.1\n");
    const char *a1[] = {"run", "web", "--", "true", NULL};
    expect(EXIT_USAGE, "no inventory: give -i FILE", a1);
    const char *a2[] = {"run", "-i", inv, "web", "true", NULL};
    expect(EXIT_USAGE, "missing -- before the command", a2);
    const char *a3[] = {"run", "-i", inv, "web", "--", NULL};
    expect(EXIT_USAGE, "no COMMAND after --", a3);
    const char *a4[] = {"run", "-i", inv, "--", "true", NULL};
    expect(EXIT_USAGE, "no host PATTERN", a4);
    const char *a5[] = {"run", "-i", inv,    "--forks", "0",
                        "web", "--", "true", NULL};
    expect(EXIT_USAGE, "--forks: expected a number", a5);
    const char *a6[] = {"run", "-i", inv,    "--timeout", "1x",
                        "web", "--", "true", NULL};
    expect(EXIT_USAGE, "--timeout: bad duration '1x'", a6);
    const char *a7[] = {"run", "-i", inv, "web", "extra", "--", "true", NULL};
    expect(EXIT_USAGE, "unexpected 'extra'", a7);
    const char *a8[] = {"run", "-i", inv,    "--key", key,
                        "db",  "--", "true", NULL};
    expect(EXIT_USAGE, "no hosts match 'db'", a8);
    const char *a9[] = {"run", "--help", NULL};
    expect(EXIT_OK, "--accept-new", a9);
    free(inv);
}

static void test_cmd_run_bad_input(void **state)
{
    (void)state;
    char *bad = write_file("bad.ini", "[web\nh1\n");
    const char *a1[] = {"run", "-i", bad,    "--key", key,
                        "web", "--", "true", NULL};
    char *want = xasprintf("%s:1:", bad);
    expect(EXIT_INPUT, want, a1);
    free(want);
    char *port = write_file("port.ini", "[web]\nh1 ansible_port=http\n");
    const char *a2[] = {"run", "-i", port,   "--key", key,
                        "web", "--", "true", NULL};
    expect(EXIT_INPUT, "host h1: ansible_port 'http' is not a port number", a2);
    char *nokey = xasprintf("%s/none", dir);
    char *inv = write_file("k.ini", "[web]\nh1 ansible_host=127.0.0.1\n");
    const char *a3[] = {"run", "-i", inv,    "--key", nokey,
                        "web", "--", "true", NULL};
    expect(EXIT_INPUT, "cannot read the private key", a3);
    free(bad);
    free(port);
    free(nokey);
    free(inv);
}

static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_cmd_run_unreachable_hosts(void **state)
{
    (void)state;
    int refused, silent;
    close(listener(&refused));
    int fd = listener(&silent); /* completes TCP, never speaks */
    char *text = xasprintf("[web]\n"
                           "dead ansible_host=127.0.0.1 ansible_port=%d\n"
                           "mute ansible_host=127.0.0.1 ansible_port=%d\n",
                           refused, silent);
    char *inv = write_file("un.ini", text);
    char *kh = xasprintf("%s/known_hosts", dir);
    const char *args[] = {"run",   "-i",
                          inv,     "--key",
                          key,     "--known-hosts",
                          kh,      "--connect-timeout",
                          "300ms", "web",
                          "--",    "true",
                          NULL};
    char *out = NULL, *err = NULL;
    int64_t t0 = clock_mono_ms();
    int rc = capture_run(&cmd_run, args, &out, &err);
    int64_t ms = clock_mono_ms() - t0;
    assert_int_equal(rc, EXIT_UNREACHABLE);
    assert_non_null(strstr(out, "dead: [unreachable] dead (127.0.0.1:"));
    assert_non_null(strstr(out, "refused"));
    assert_non_null(strstr(out, "mute: [unreachable] "));
    assert_non_null(strstr(out, "timed out after 300ms"));
    assert_non_null(strstr(out, "2 hosts: 0 ok, 0 failed, 2 unreachable"));
    assert_true(ms < 2000);
    free(out);
    free(err);
    free(text);
    free(inv);
    free(kh);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_run_usage),
        cmocka_unit_test(test_cmd_run_bad_input),
        cmocka_unit_test(test_cmd_run_unreachable_hosts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
