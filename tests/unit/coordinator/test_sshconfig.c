/* tests/unit/coordinator/test_sshconfig.c: the ssh config subset: the
 * forms a line may take, Host patterns and negation, first obtained value
 * wins, Include with globs (and the block state it gives back), tokens,
 * Match ignored, and every malformed input with its exact message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "sshconfig.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];  /* the test's $HOME */
static char sshd[80]; /* $HOME/.ssh */

static int setup(void **state)
{
    (void)state;
    /* mkdtemp's template: six 'X' the call replaces. */
    int n = snprintf(dir, sizeof(dir), "/tmp/test_sshconfig.");
    memset(dir + n, 'X', 6);
    dir[n + 6] = '\0';
    assert_non_null(mkdtemp(dir));
    snprintf(sshd, sizeof(sshd), "%s/.ssh", dir);
    assert_int_equal(mkdir(sshd, 0700), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    return 0;
}

/* Write text to $HOME/.ssh/name; returns the path (caller frees). */
static char *put(const char *name, const char *text)
{
    char *p = xasprintf("%s/%s", sshd, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static struct sshconfig *load(const char *text)
{
    char *p = put("config", text);
    struct sshconfig *c = NULL;
    struct err e = {0};
    if (sshconfig_load(p, dir, &c, &e) != ERR_OK)
        fail_msg("unexpected error: %s", e.msg);
    free(p);
    return c;
}

/* The error text a config gives, without the directory. */
static void expect_error(const char *text, enum err_code code, const char *want)
{
    char *p = put("config", text);
    struct sshconfig *c = NULL;
    struct err e = {0};
    assert_int_equal(sshconfig_load(p, dir, &c, &e), code);
    assert_null(c);
    const char *msg = e.msg;
    if (strncmp(msg, sshd, strlen(sshd)) == 0)
        msg += strlen(sshd) + 1;
    assert_string_equal(msg, want);
    free(p);
}

/* Look alias up in c; the lookup must succeed. */
static void look(const struct sshconfig *c, const char *alias,
                 struct sshconfig_host *h)
{
    struct err e = {0};
    if (sshconfig_lookup(c, alias, h, &e) != ERR_OK)
        fail_msg("lookup %s: %s", alias, e.msg);
}

/* The User the config gives alias must be want. */
static void expect_user(const struct sshconfig *c, const char *alias,
                        const char *want)
{
    struct sshconfig_host h;
    look(c, alias, &h);
    assert_string_equal(h.user, want);
    sshconfig_host_release(&h);
}

static void test_sshconfig_forms(void **state)
{
    (void)state;
    struct sshconfig *c = load("# a comment\n"
                               "\n"
                               "Host web1\n"
                               "  HostName=10.0.0.1\n"
                               "  user = deploy   # trailing comment\n"
                               "  PORT 2200\n"
                               "  IdentityFile \"~/.ssh/my key\"\n"
                               "  IdentityFile '/k/%h %%'\n"
                               "  UserKnownHostsFile ~/.ssh/kh1 ~/.ssh/kh2\n"
                               "\tConnectTimeout=1m30s\n"
                               "  ServerAliveInterval 0\r\n"
                               "  SomethingWeDoNotKnow whatever\n"
                               "  StrictHostKeyChecking accept-new\n");
    struct sshconfig_host h;
    look(c, "web1", &h);
    assert_string_equal(h.hostname, "10.0.0.1");
    assert_string_equal(h.user, "deploy");
    assert_int_equal(h.port, 2200);
    assert_int_equal(h.nidentity, 2);
    assert_string_equal(h.identity[0], "~/.ssh/my key");
    assert_string_equal(h.identity[1], "/k/%h %%");
    assert_string_equal(h.known_hosts, "~/.ssh/kh1");
    assert_int_equal(h.connect_timeout_ms, 90000);
    assert_int_equal(h.alive_ms, 0);
    assert_int_equal(h.strict, SSHCONFIG_STRICT_ACCEPT_NEW);
    assert_int_equal(h.strict_at.line, 13);
    assert_null(h.proxy);
    sshconfig_host_release(&h);
    /* Another alias: nothing applies. */
    look(c, "web2", &h);
    assert_null(h.hostname);
    assert_null(h.user);
    assert_int_equal(h.port, 0);
    assert_int_equal(h.nidentity, 0);
    assert_int_equal(h.alive_ms, -1);
    assert_int_equal(h.strict, SSHCONFIG_STRICT_UNSET);
    sshconfig_host_release(&h);
    sshconfig_free(c);
}

static void test_sshconfig_first_value_wins(void **state)
{
    (void)state;
    struct sshconfig *c = load("User early\n" /* before any Host: all */
                               "Host web*\n"
                               "  Port 2201\n"
                               "  IdentityFile ~/.ssh/web\n"
                               "Host web1\n"
                               "  Port 2202\n"
                               "  User late\n"
                               "  HostName %h.example.com\n"
                               "  IdentityFile ~/.ssh/web1\n"
                               "Host *\n"
                               "  Port 22\n"
                               "  HostName fallback\n"
                               "  IdentityFile ~/.ssh/all\n");
    struct sshconfig_host h;
    look(c, "web1", &h);
    assert_int_equal(h.port, 2201);
    assert_string_equal(h.user, "early");
    assert_string_equal(h.hostname, "web1.example.com");
    /* IdentityFile accumulates, in order. */
    assert_int_equal(h.nidentity, 3);
    assert_string_equal(h.identity[0], "~/.ssh/web");
    assert_string_equal(h.identity[1], "~/.ssh/web1");
    assert_string_equal(h.identity[2], "~/.ssh/all");
    sshconfig_host_release(&h);
    look(c, "db", &h);
    assert_int_equal(h.port, 22);
    assert_string_equal(h.hostname, "fallback");
    assert_int_equal(h.nidentity, 1);
    sshconfig_host_release(&h);
    assert_int_equal(sshconfig_count(c), 13);
    sshconfig_free(c);
}

static void test_sshconfig_patterns(void **state)
{
    (void)state;
    const char *p1[] = {"web?", "db*"};
    assert_true(sshconfig_match(p1, 2, "web1"));
    assert_false(sshconfig_match(p1, 2, "web12"));
    assert_true(sshconfig_match(p1, 2, "db"));
    assert_true(sshconfig_match(p1, 2, "db-eu-1"));
    assert_false(sshconfig_match(p1, 2, "xdb"));
    const char *p2[] = {"*.example.com", "!bastion.example.com"};
    assert_true(sshconfig_match(p2, 2, "a.example.com"));
    assert_false(sshconfig_match(p2, 2, "bastion.example.com"));
    /* A negation alone matches nothing (OpenSSH: no positive match). */
    const char *p3[] = {"!web1"};
    assert_false(sshconfig_match(p3, 1, "web2"));
    assert_false(sshconfig_match(p3, 1, "web1"));
    const char *p4[] = {"*"};
    assert_true(sshconfig_match(p4, 1, ""));
    const char *p5[] = {"a*b*c"};
    assert_true(sshconfig_match(p5, 1, "abc"));
    assert_true(sshconfig_match(p5, 1, "aXbYbZc"));
    assert_false(sshconfig_match(p5, 1, "aXbYbZ"));

    struct sshconfig *c = load("Host *.prod !db.prod web?.prod\n"
                               "  User prod\n"
                               "Host=db.prod\n"
                               "  User dba\n");
    expect_user(c, "app.prod", "prod");
    expect_user(c, "db.prod", "dba");
    sshconfig_free(c);
}

static void test_sshconfig_include(void **state)
{
    (void)state;
    char *cd = xasprintf("%s/conf.d", sshd);
    assert_int_equal(mkdir(cd, 0700), 0);
    free(cd);
    free(put("conf.d/20-b.conf", "Host b\n  Port 2002\nHost *\n  User incl\n"));
    free(put("conf.d/10-a.conf", "Port 2001\n")); /* no Host line */
    free(put("conf.d/30-c.txt", "Port 3\n"));     /* the glob skips it */
    free(put("other", "User other\n"));
    char *abs = put("abs", "Host abs\n  Port 2222\n");
    char *text = xasprintf("Host a\n"
                           "  Include conf.d/*.conf ~/.ssh/nothing*\n"
                           "  HostName a.example.com\n"
                           "Host b\n"
                           "  Include conf.d/*.conf\n"
                           "Host zzz\n"
                           "  Include other\n"
                           "Host *\n"
                           "  Include \"%s\"\n",
                           abs);
    struct sshconfig *c = load(text);
    struct sshconfig_host h;
    /* a: 10-a applies (it inherits Host a), 20-b's blocks match on their
     * own (Host * inside gives User incl); after the Include, Host a is
     * in force again, so HostName applies. */
    look(c, "a", &h);
    assert_int_equal(h.port, 2001);
    assert_string_equal(h.user, "incl");
    assert_string_equal(h.hostname, "a.example.com");
    sshconfig_host_release(&h);
    /* b: the first Include (in Host a) applies to nothing, not even its
     * Host b block; the second gives 10-a's Port first. */
    look(c, "b", &h);
    assert_int_equal(h.port, 2001);
    assert_string_equal(h.user, "incl");
    sshconfig_host_release(&h);
    /* other: included only for zzz. */
    look(c, "q", &h);
    assert_null(h.user);
    assert_int_equal(h.port, 0);
    sshconfig_host_release(&h);
    look(c, "abs", &h);
    assert_int_equal(h.port, 2222);
    sshconfig_host_release(&h);
    sshconfig_free(c);
    free(text);
    free(abs);
}

static void test_sshconfig_tokens(void **state)
{
    (void)state;
    struct sshconfig_tokens t = {.home = "/home/op",
                                 .host = "10.0.0.1",
                                 .alias = "web1",
                                 .port = 2222,
                                 .ruser = "deploy",
                                 .luser = "op"};
    char *s = sshconfig_expand("~/.ssh/%h-%r@%n:%p %u %d 100%%", &t);
    assert_string_equal(s, "/home/op/.ssh/10.0.0.1-deploy@web1:2222 op "
                           "/home/op 100%");
    free(s);
    s = sshconfig_expand("~", &t);
    assert_string_equal(s, "/home/op");
    free(s);
    s = sshconfig_expand("~root/k", &t);
    assert_string_equal(s, "/root/k");
    free(s);
    s = sshconfig_expand("a~b%", &t);
    assert_string_equal(s, "a~b%");
    free(s);
}

static void test_sshconfig_match_ignored(void **state)
{
    (void)state;
    struct sshconfig *c = load("Match host web1\n"
                               "  User matched\n"
                               "Host web1\n"
                               "  User hosted\n");
    expect_user(c, "web1", "hosted");
    sshconfig_free(c);
}

static void test_sshconfig_proxy(void **state)
{
    (void)state;
    struct sshconfig *c = load("Host direct\n"
                               "  ProxyJump none\n"
                               "Host jumped\n"
                               "  ProxyJump bastion\n"
                               "Host *\n"
                               "  ProxyCommand ssh -W %h:%p bastion\n");
    struct sshconfig_host h;
    /* ssh 9.2: ProxyJump none leaves a later ProxyCommand in force
     * (ssh -G direct prints it); ProxyCommand none would not. */
    look(c, "direct", &h);
    assert_string_equal(h.proxy, "ProxyCommand");
    sshconfig_host_release(&h);
    sshconfig_free(c);
    c = load("Host direct\n"
             "  ProxyCommand none\n"
             "Host *\n"
             "  ProxyJump bastion\n"
             "  ProxyCommand ssh -W %h:%p bastion\n");
    look(c, "direct", &h);
    assert_null(h.proxy);
    sshconfig_host_release(&h);
    look(c, "other", &h);
    assert_string_equal(h.proxy, "ProxyJump");
    sshconfig_host_release(&h);
    sshconfig_free(c);
    c = load("Host direct\n"
             "  ProxyJump none\n"
             "Host jumped\n"
             "  ProxyJump bastion\n"
             "Host *\n"
             "  ProxyCommand ssh -W %h:%p bastion\n");
    look(c, "jumped", &h);
    assert_string_equal(h.proxy, "ProxyJump");
    assert_int_equal(h.proxy_at.line, 4);
    assert_non_null(strstr(h.proxy_at.file, "/.ssh/config"));
    sshconfig_host_release(&h);
    look(c, "other", &h);
    assert_string_equal(h.proxy, "ProxyCommand");
    assert_int_equal(h.proxy_at.line, 6);
    sshconfig_host_release(&h);
    sshconfig_free(c);
}

static void test_sshconfig_strict_values(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        enum sshconfig_strict want;
    } cases[] = {{"yes", SSHCONFIG_STRICT_YES},
                 {"ASK", SSHCONFIG_STRICT_YES},
                 {"accept-new", SSHCONFIG_STRICT_ACCEPT_NEW},
                 {"no", SSHCONFIG_STRICT_NO},
                 {"off", SSHCONFIG_STRICT_NO}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = xasprintf("StrictHostKeyChecking %s\n", cases[i].v);
        struct sshconfig *c = load(text);
        struct sshconfig_host h;
        look(c, "x", &h);
        assert_int_equal(h.strict, cases[i].want);
        sshconfig_host_release(&h);
        sshconfig_free(c);
        free(text);
    }
}

static void test_sshconfig_malformed(void **state)
{
    (void)state;
    expect_error("Host a\n  HostName \"10.0.0.1\n", ERR_PARSE,
                 "config:2:12: unterminated \" quote; close it or escape it "
                 "with a backslash");
    expect_error("Port http\n", ERR_PARSE,
                 "config:1:6: Port 'http' is not a port number (1-65535)");
    expect_error("Port 0\n", ERR_PARSE,
                 "config:1:6: Port '0' is not a port number (1-65535)");
    expect_error("  Port=70000\n", ERR_PARSE,
                 "config:1:8: Port '70000' is not a port number (1-65535)");
    expect_error("Port\n", ERR_PARSE, "config:1:5: Port needs a value");
    expect_error("Port 22 23\n", ERR_PARSE,
                 "config:1:9: Port takes one value, not 2; quote a value "
                 "that has blanks");
    expect_error("IdentityFile ~/.ssh/%x\n", ERR_PARSE,
                 "config:1:21: unknown token %x in IdentityFile; drover "
                 "expands %d %h %i %k %n %p %r %u and %% (a literal %)");
    expect_error("UserKnownHostsFile /k/%C\n", ERR_PARSE,
                 "config:1:23: unsupported token %C in UserKnownHostsFile; "
                 "drover expands %d %h %i %k %n %p %r %u and %% (a literal "
                 "%)");
    expect_error("HostName %d.example.com\n", ERR_PARSE,
                 "config:1:10: unknown token %d in HostName; drover expands "
                 "%h and %% (a literal %)");
    expect_error("IdentityFile /k/id%\n", ERR_PARSE,
                 "config:1:19: IdentityFile ends with a lone %; write %% for "
                 "a literal %");
    expect_error("StrictHostKeyChecking maybe\n", ERR_PARSE,
                 "config:1:23: StrictHostKeyChecking 'maybe': expected yes, "
                 "accept-new, no or ask");
    expect_error("ConnectTimeout soon\n", ERR_PARSE,
                 "config:1:16: ConnectTimeout 'soon' is not a time (seconds, "
                 "or like 1m30s)");
    expect_error("ServerAliveInterval 5x\n", ERR_PARSE,
                 "config:1:21: ServerAliveInterval '5x' is not a time "
                 "(seconds, or like 1m30s)");
    expect_error("UserKnownHostsFile none\n", ERR_PARSE,
                 "config:1:20: UserKnownHostsFile none: drover always checks "
                 "host keys; name a file");
    expect_error("Host a \"\"\n", ERR_PARSE, "config:1:8: Host: empty pattern");
    expect_error("Host\n", ERR_PARSE, "config:1:5: Host needs a value");
}

static void test_sshconfig_bad_files(void **state)
{
    (void)state;
    struct sshconfig *c = NULL;
    struct err e = {0};
    char *missing = xasprintf("%s/missing", sshd);
    assert_int_equal(sshconfig_load(missing, dir, &c, &e), ERR_SYS);
    char *want = xasprintf("%s: cannot read the ssh config: No such file or "
                           "directory",
                           missing);
    assert_string_equal(e.msg, want);
    free(want);
    free(missing);
    /* A file that includes itself. */
    expect_error("Host *\n  Include config\n", ERR_PARSE,
                 "config:2:3: Include nested more than 16 deep (does a file "
                 "include itself?)");
    char *sub = xasprintf("%s/sub", sshd);
    assert_int_equal(mkdir(sub, 0700), 0);
    expect_error("Include sub\n", ERR_PARSE,
                 "config:1:9: Include sub: not an ssh config (not a regular "
                 "file)");
    free(sub);
    free(put("bad.conf", "Port 1\nPort x\n"));
    expect_error("User u\nInclude bad.conf\n", ERR_PARSE,
                 "bad.conf:2:6: Port 'x' is not a port number (1-65535)");
    char *p = xasprintf("%s/config", sshd);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fwrite("User a\nUs\0er b\n", 1, 16, f);
    fclose(f);
    e = (struct err){0};
    assert_int_equal(sshconfig_load(p, dir, &c, &e), ERR_PARSE);
    want = xasprintf("%s:2:3: a NUL byte; is this a text file?", p);
    assert_string_equal(e.msg, want);
    free(want);
    free(p);
}

static void test_sshconfig_identity_limit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (int i = 0; i <= SSHCONFIG_IDENTITY_MAX; i++)
        buf_printf(&b, "IdentityFile ~/.ssh/k%d\n", i);
    struct sshconfig *c = load(buf_cstr(&b));
    struct sshconfig_host h;
    struct err e = {0};
    assert_int_equal(sshconfig_lookup(c, "x", &h, &e), ERR_LIMIT);
    char *want = xasprintf("%s/config:101: more than 100 IdentityFile "
                           "entries apply to x",
                           sshd);
    assert_string_equal(e.msg, want);
    free(want);
    sshconfig_free(c);
    buf_release(&b);
}

/* What OpenSSH 9.2 lowercases (checked with ssh -G): the destination
 * (HostName after its %h, or the alias) and so %h; numeric addresses are
 * written as getnameinfo writes them. Host patterns, %n and %k see the
 * alias as written. */
static void test_sshconfig_host_case(void **state)
{
    (void)state;
    struct sshconfig *c = load("Host web1\n"
                               "  HostName Web1.Example.COM\n"
                               "Host LocalHost\n"
                               "  HostName %h.Example\n"
                               "Host short\n"
                               "  HostName 127.1\n");
    struct sshconfig_host h;
    look(c, "web1", &h);
    assert_string_equal(h.hostname, "web1.example.com");
    sshconfig_host_release(&h);
    look(c, "LocalHost", &h);
    assert_string_equal(h.hostname, "localhost.example");
    sshconfig_host_release(&h);
    look(c, "WEB1", &h); /* Host patterns keep their case */
    assert_null(h.hostname);
    sshconfig_host_release(&h);
    look(c, "short", &h);
    assert_string_equal(h.hostname, "127.0.0.1");
    sshconfig_host_release(&h);
    sshconfig_free(c);

    const struct {
        const char *in, *out;
    } canon[] = {{"Web1.Example.COM", "web1.example.com"},
                 {"127.1", "127.0.0.1"},
                 {"0x7f.0.0.1", "127.0.0.1"},
                 {"FE80::1", "FE80::1"},
                 {"::FFFF:127.0.0.1", "::FFFF:127.0.0.1"},
                 {"[::1]", "[::1]"},
                 {"h_1-X", "h_1-x"},
                 {"A%B", "A%B"}, /* an "address" to ssh: kept */
                 {"%h-LocalHost", "%h-LocalHost"},
                 {"Host:22", "Host:22"}};
    for (size_t i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
        char *got = sshconfig_canon_host(canon[i].in);
        assert_string_equal(got, canon[i].out);
        free(got);
    }
    struct sshconfig_tokens t = {
        .home = "/h", .host = "LocalHost", .alias = "Web1"};
    char *got = sshconfig_expand("~/.ssh/%h-%n-%k", &t);
    assert_string_equal(got, "/h/.ssh/localhost-Web1-Web1");
    free(got);
}

/* ssh refuses a config with an empty HostName, User, IdentityFile,
 * UserKnownHostsFile or Include value, in any block. */
static void test_sshconfig_empty_values(void **state)
{
    (void)state;
    expect_error("Host b\n  HostName \"\"\n", ERR_PARSE,
                 "config:2:12: HostName is empty; ssh refuses such a config: "
                 "give a value or remove the line");
    expect_error("User=''\n", ERR_PARSE,
                 "config:1:6: User is empty; ssh refuses such a config: give "
                 "a value or remove the line");
    expect_error("IdentityFile \"\"\n", ERR_PARSE,
                 "config:1:14: IdentityFile is empty; ssh refuses such a "
                 "config: give a value or remove the line");
    expect_error("UserKnownHostsFile a \"\"\n", ERR_PARSE,
                 "config:1:22: UserKnownHostsFile is empty; ssh refuses such "
                 "a config: give a value or remove the line");
    expect_error("Include \"\"\n", ERR_PARSE,
                 "config:1:9: Include is empty; ssh refuses such a config: "
                 "give a value or remove the line");
}

/* Identical IdentityFile values count once (ssh keeps one), but ssh 9.2
 * checks the limit before it looks for a duplicate. */
static void test_sshconfig_identity_duplicates(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (int i = 0; i < 150; i++)
        buf_printf(&b, "IdentityFile ~/.ssh/k%d\n", i % 3);
    struct sshconfig *c = load(buf_cstr(&b));
    struct sshconfig_host h;
    look(c, "x", &h);
    assert_int_equal(h.nidentity, 3);
    assert_string_equal(h.identity[2], "~/.ssh/k2");
    sshconfig_host_release(&h);
    sshconfig_free(c);
    buf_release(&b);
    buf_init(&b, BUF_UNLIMITED);
    for (int i = 0; i < SSHCONFIG_IDENTITY_MAX; i++)
        buf_printf(&b, "IdentityFile ~/.ssh/k%d\n", i);
    buf_printf(&b, "IdentityFile ~/.ssh/k0\n");
    c = load(buf_cstr(&b));
    struct err e = {0};
    assert_int_equal(sshconfig_lookup(c, "x", &h, &e), ERR_LIMIT);
    sshconfig_free(c);
    buf_release(&b);
}

/* One lookup of the oracle: what drover makes of alias in c, the way
 * ssh -G prints it (see tests/data/oracle/gen_sshconfig.py), as JSON. */
static json_t *oracle_lookup(const struct sshconfig *c, const char *alias,
                             const char *home)
{
    struct sshconfig_host h;
    struct err e = {0};
    if (c == NULL || sshconfig_lookup(c, alias, &h, &e) != ERR_OK)
        return json_pack("{s:s, s:b}", "alias", alias, "error", 1);
    char *host = h.hostname ? xstrdup(h.hostname) : sshconfig_canon_host(alias);
    int port = h.port > 0 ? h.port : 22;
    json_t *ids = json_array();
    for (size_t i = 0; i < h.nidentity; i++)
        json_array_append_new(ids, json_string(h.identity[i]));
    struct sshconfig_tokens t = {
        .home = home, .host = host, .alias = alias, .port = port};
    char *kh = h.known_hosts ? sshconfig_expand(h.known_hosts, &t) : NULL;
    static const char *const strict[] = {"ask", "true", "accept-new", "false"};
    json_t *r =
        json_pack("{s:s, s:s, s:s, s:i, s:o, s:s, s:s, s:I, s:I, s:b}", "alias",
                  alias, "hostname", host, "user", h.user ? h.user : "", "port",
                  port, "identity", ids, "known_hosts", kh ? kh : "", "strict",
                  strict[h.strict], "connect_timeout",
                  (json_int_t)(h.connect_timeout_ms / 1000), "alive",
                  (json_int_t)(h.alive_ms > 0 ? h.alive_ms / 1000 : 0), "proxy",
                  h.proxy != NULL);
    free(kh);
    free(host);
    sshconfig_host_release(&h);
    return r;
}

/* The differential test with OpenSSH as the oracle, without running ssh:
 * tests/data/oracle/sshconfig.json holds generated configs and what
 * `ssh -G` (OpenSSH 9.2) made of each lookup (regen.sh rewrites it). */
static void test_sshconfig_oracle_openssh(void **state)
{
    (void)state;
    const char *top = getenv("TOP") != NULL ? getenv("TOP") : ".";
    char *path = xasprintf("%s/tests/data/oracle/sshconfig.json", top);
    json_error_t je;
    json_t *all = json_load_file(path, 0, &je);
    if (all == NULL)
        fail_msg("%s:%d: %s", path, je.line, je.text);
    const char *home = json_string_value(json_object_get(all, "home"));
    int diffs = 0;
    size_t i, j, n = 0;
    const json_t *cs, *want;
    json_array_foreach(json_object_get(all, "cases"), i, cs)
    {
        const char *text = json_string_value(json_object_get(cs, "config"));
        char *p = put("config", text);
        struct sshconfig *c = NULL;
        struct err e = {0};
        sshconfig_load(p, home, &c, &e);
        json_array_foreach(json_object_get(cs, "lookups"), j, want)
        {
            const char *alias =
                json_string_value(json_object_get(want, "alias"));
            json_t *got = oracle_lookup(c, alias, home);
            if (!json_equal(got, want)) {
                char *g = json_dumps(got, JSON_SORT_KEYS);
                char *w = json_dumps(want, JSON_SORT_KEYS);
                print_message("%s (tests/data/oracle/sshconfig.json) %s\n"
                              "ssh:    %s\ndrover: %s %s\n",
                              json_string_value(json_object_get(cs, "name")),
                              alias, w, g, e.msg);
                free(g);
                free(w);
                diffs++;
            }
            json_decref(got);
            n++;
        }
        sshconfig_free(c);
        free(p);
    }
    print_message("%zu configs, %zu lookups, %d differences (%s)\n",
                  json_array_size(json_object_get(all, "cases")), n, diffs,
                  json_string_value(json_object_get(all, "ssh")));
    assert_true(n > 0);
    assert_int_equal(diffs, 0);
    json_decref(all);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sshconfig_forms),
        cmocka_unit_test(test_sshconfig_first_value_wins),
        cmocka_unit_test(test_sshconfig_patterns),
        cmocka_unit_test(test_sshconfig_include),
        cmocka_unit_test(test_sshconfig_tokens),
        cmocka_unit_test(test_sshconfig_match_ignored),
        cmocka_unit_test(test_sshconfig_proxy),
        cmocka_unit_test(test_sshconfig_strict_values),
        cmocka_unit_test(test_sshconfig_malformed),
        cmocka_unit_test(test_sshconfig_bad_files),
        cmocka_unit_test(test_sshconfig_identity_limit),
        cmocka_unit_test(test_sshconfig_host_case),
        cmocka_unit_test(test_sshconfig_empty_values),
        cmocka_unit_test(test_sshconfig_identity_duplicates),
        cmocka_unit_test(test_sshconfig_oracle_openssh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
