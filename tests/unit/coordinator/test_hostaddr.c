/* tests/unit/coordinator/test_hostaddr.c: a host's connection variables
 * from a real INI inventory: defaults, ports, agents, bad values, and
 * the ssh config looked up once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hostaddr.h"
#include "inventory.h"
#include "sshconfig.h"
#include "transports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct inventory *load(const char *text)
{
    char path[] = "/tmp/drover-hostaddr-XX"
                  "XX"
                  "XX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct inventory *inv = inv_new();
    struct err e = {0};
    assert_int_equal(inv_load(inv, path, &e), ERR_OK);
    unlink(path);
    return inv;
}

static void test_hostaddr_variables(void **state)
{
    (void)state;
    struct inventory *inv =
        load("[web]\n"
             "plain\n"
             "ssh1 ansible_host=10.0.0.1 ansible_port=2222 ansible_user=deploy "
             "drover_fence_dir=/srv/fence "
             "ansible_ssh_private_key_file=~/.ssh/deploy\n"
             "ag1 ansible_host=10.0.0.2 drover_transport=agent "
             "drover_agent_port=7500 ansible_port=22 "
             "drover_agent_key=abcdefghij\n");
    struct hostaddr a;
    struct err e = {0};
    assert_int_equal(hostaddr_of(inv, inv_host_find(inv, "plain"), &a, &e),
                     ERR_OK);
    assert_string_equal(a.address, "plain");
    assert_int_equal(a.port, 0);
    assert_null(a.user);
    assert_null(a.key_file);
    assert_ptr_equal(a.kind, transport_kind_find(NULL, &e)); /* ssh */
    hostaddr_release(&a);
    assert_int_equal(hostaddr_of(inv, inv_host_find(inv, "ssh1"), &a, &e),
                     ERR_OK);
    assert_string_equal(a.address, "10.0.0.1");
    assert_int_equal(a.port, 2222);
    assert_string_equal(a.user, "deploy");
    assert_string_equal(a.fence_dir, "/srv/fence");
    assert_string_equal(a.key_file, "~/.ssh/deploy");
    struct target t = hostaddr_target(&a, "ssh1");
    assert_string_equal(t.name, "ssh1");
    assert_int_equal(t.port, 2222);
    assert_string_equal(t.key_file, "~/.ssh/deploy");
    hostaddr_release(&a);
    /* an agent's port is drover_agent_port, not ansible_port */
    assert_int_equal(hostaddr_of(inv, inv_host_find(inv, "ag1"), &a, &e),
                     ERR_OK);
    assert_string_equal(a.kind->name, "agent");
    assert_int_equal(a.port, 7500);
    assert_string_equal(a.agent_key, "abcdefghij");
    hostaddr_release(&a);
    inv_free(inv);
}

static void test_hostaddr_bad_values(void **state)
{
    (void)state;
    struct inventory *inv = load("h1 ansible_port=http\n"
                                 "h2 ansible_port=70000\n"
                                 "h3 drover_transport=telnet\n");
    struct hostaddr a;
    struct err e = {0};
    assert_int_equal(hostaddr_of(inv, inv_host_find(inv, "h1"), &a, &e),
                     ERR_INVALID);
    assert_string_equal(e.msg,
                        "ansible_port 'http' is not a port number (1-65535)");
    assert_null(a.address);
    struct err e2 = {0};
    assert_int_equal(hostaddr_of(inv, inv_host_find(inv, "h2"), &a, &e2),
                     ERR_INVALID);
    struct err e3 = {0};
    assert_int_equal(hostaddr_of(inv, inv_host_find(inv, "h3"), &a, &e3),
                     ERR_INVALID);
    assert_non_null(strstr(e3.msg, "telnet"));
    inv_free(inv);
}

/* The ssh config is looked up once per ssh host: hostaddr_map keeps the
 * answer and the target hands it to the ssh transport; an agent host is
 * not looked up (the config is an SSH client setting). */
static void test_hostaddr_map_once(void **state)
{
    (void)state;
    char path[] = "/tmp/drover-hostaddr-cfg-XX"
                  "XX"
                  "XX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "Host web1\n  HostName 127.0.1.1\n  Port 2200\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct sshconfig *cfg = NULL;
    struct err e = {0};
    assert_int_equal(sshconfig_load(path, "/nonexistent", &cfg, &e), ERR_OK);
    unlink(path);
    struct inventory *inv = load("web1\nplain2\nag1 drover_transport=agent\n");
    struct hostaddr a;
    assert_int_equal(hostaddr_of(inv, inv_host_find(inv, "web1"), &a, &e),
                     ERR_OK);
    hostaddr_map(&a, cfg);
    assert_non_null(a.ssh);
    assert_int_equal(a.ssh->port, 2200);
    assert_string_equal(a.address, "127.0.1.1");
    assert_string_equal(a.alias, "web1");
    const struct sshconfig_host *once = a.ssh;
    hostaddr_map(&a, cfg); /* mapped already: nothing changes */
    assert_ptr_equal(a.ssh, once);
    assert_string_equal(a.address, "127.0.1.1");
    struct target t = hostaddr_target(&a, "web1");
    assert_ptr_equal(t.ssh_host, a.ssh);
    assert_string_equal(t.address, "web1"); /* the alias: ssh maps it */
    hostaddr_release(&a);
    /* no HostName: looked up all the same, the address stays */
    assert_int_equal(hostaddr_of(inv, inv_host_find(inv, "plain2"), &a, &e),
                     ERR_OK);
    hostaddr_map(&a, cfg);
    assert_non_null(a.ssh);
    assert_null(a.alias);
    assert_string_equal(a.address, "plain2");
    hostaddr_release(&a);
    assert_int_equal(hostaddr_of(inv, inv_host_find(inv, "ag1"), &a, &e),
                     ERR_OK);
    hostaddr_map(&a, cfg);
    assert_null(a.ssh);
    assert_null(hostaddr_target(&a, "ag1").ssh_host);
    hostaddr_release(&a);
    inv_free(inv);
    sshconfig_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostaddr_variables),
        cmocka_unit_test(test_hostaddr_bad_values),
        cmocka_unit_test(test_hostaddr_map_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
