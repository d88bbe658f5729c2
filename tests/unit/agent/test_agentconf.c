/* tests/unit/agent/test_agentconf.c: the config file: every key, defaults,
 * and errors with file:line:col. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agentconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *write_conf(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/test_agentconf.%d", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_agentconf_all_keys(void **state)
{
    (void)state;
    struct agentconf c;
    agentconf_init(&c);
    assert_string_equal(c.listen, "tcp://0.0.0.0:7447");
    assert_true(c.announce_key);
    const char *p = write_conf("# drover-agent\n"
                               "listen = tcp://127.0.0.1:9000\n"
                               "  key=/k\n"
                               "authorized_keys = /a\n"
                               "state_dir = /s\n"
                               "output_max = 4096\n"
                               "max_jobs = 3\n"
                               "heartbeat = 500ms\n"
                               "kill_grace = 1s\n"
                               "job_retention = 2d\n"
                               "log_level = debug\n"
                               "announce_key = no\n");
    struct err e = {0};
    assert_int_equal(agentconf_load(&c, p, &e), ERR_OK);
    assert_string_equal(c.listen, "tcp://127.0.0.1:9000");
    assert_string_equal(c.key, "/k");
    assert_string_equal(c.authorized_keys, "/a");
    assert_string_equal(c.state_dir, "/s");
    assert_int_equal(c.output_max, 4096);
    assert_int_equal(c.max_jobs, 3);
    assert_int_equal(c.heartbeat_ms, 500);
    assert_int_equal(c.kill_grace_ms, 1000);
    assert_int_equal(c.retention_ms, 2LL * 24 * 3600 * 1000);
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_false(c.announce_key);
    agentconf_release(&c);
    unlink(p);
}

static void test_agentconf_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"listen tcp://x\n", ":1:1: expected 'key = value'"},
        {"\nmax_jobs = lots\n", ":2:12: max_jobs: expected a whole number"},
        {"max_jobs = -1\n", "max_jobs"},
        {"heartbeat = soon\n", ":1:13: heartbeat:"},
        {"colour = blue\n", "unknown key 'colour'"},
        {"log_level = loud\n", "log_level: expected error"},
        {"key =\n", "key: empty value"},
        {"announce_key = maybe\n", "announce_key: expected yes or no"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct agentconf c;
        agentconf_init(&c);
        const char *p = write_conf(cases[i].text);
        struct err e = {0};
        assert_int_equal(agentconf_load(&c, p, &e), ERR_PARSE);
        if (strstr(e.msg, cases[i].want) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, cases[i].want);
        assert_non_null(strstr(e.msg, p));
        agentconf_release(&c);
        unlink(p);
    }
    struct agentconf c;
    agentconf_init(&c);
    struct err e = {0};
    assert_int_equal(agentconf_load(&c, "/nonexistent/agent.conf", &e),
                     ERR_NOTFOUND);
    agentconf_release(&c);
}

/* A line is read whole: a '#' comment longer than any buffer stays a
 * comment (its tail is no setting), and a setting too long to read whole
 * is an error at its own line, not two lines. */
static void test_agentconf_long_lines(void **state)
{
    (void)state;
    size_t n = 20000;
    char *text = malloc(n + 256);
    assert_non_null(text);
    /* a comment with settings hidden at byte 1023 and past 4096 */
    text[0] = '#';
    memset(text + 1, 'x', n);
    memcpy(text + 1023, "listen = tcp://10.9.9.9:1", 25);
    snprintf(text + n, 256, "listen = tcp://10.9.9.9:2\nmax_jobs = 7\n");
    struct agentconf c;
    agentconf_init(&c);
    const char *p = write_conf(text);
    struct err e = {0};
    assert_int_equal(agentconf_load(&c, p, &e), ERR_OK);
    assert_string_equal(c.listen, "tcp://0.0.0.0:7447");
    assert_int_equal(c.max_jobs, 7);
    agentconf_release(&c);

    /* state_dir = /aaa...: too long to be read whole */
    memcpy(text, "state_dir = /", 13);
    memset(text + 13, 'a', 5000);
    snprintf(text + 5013, 64, "\nlisten = tcp://10.9.9.9:3\n");
    agentconf_init(&c);
    p = write_conf(text);
    assert_int_equal(agentconf_load(&c, p, &e), ERR_PARSE);
    if (strstr(e.msg, ":1:4097: line longer than 4096 bytes") == NULL)
        fail_msg("'%s'", e.msg);
    assert_non_null(strstr(e.msg, p));
    assert_string_equal(c.state_dir, "/var/lib/drover-agent");
    agentconf_release(&c);
    unlink(p);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agentconf_all_keys),
        cmocka_unit_test(test_agentconf_errors),
        cmocka_unit_test(test_agentconf_long_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
