/* tests/unit/coordinator/test_hostaddr.c: a host's connection variables
 * from a real INI inventory: defaults, ports, agents, bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hostaddr.h"
#include "transports.h"
#include "inventory.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostaddr_variables),
        cmocka_unit_test(test_hostaddr_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
