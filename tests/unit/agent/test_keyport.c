/* tests/unit/agent/test_keyport.c: the key port answers every connection
 * with the key line and closes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "keyport.h"
#include "loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_keyport_announces(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    const char *key = "0123456789012345678901234567890123456789";
    struct keyport *k = NULL;
    int port = 0;
    for (port = 25000 + (int)(getpid() % 3000); k == NULL; port++) {
        err_clear(&e);
        k = keyport_new(l, "127.0.0.1", port, key, &e);
    }
    port--;
    for (int round = 0; round < 2; round++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        for (int i = 0; i < 10; i++)
            loop_run_once(l, 10, NULL);
        char buf[128] = "";
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_string_equal(buf, "DROVER-AGENT-KEY 1 "
                                 "0123456789012345678901234567890123456789\n");
        assert_int_equal(read(fd, buf, sizeof(buf)), 0); /* closed */
        close(fd);
    }
    /* the port is taken now */
    assert_null(keyport_new(l, "127.0.0.1", port, key, &e));
    assert_non_null(strstr(e.msg, "announce_key = no"));
    keyport_free(k);
    loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyport_announces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
