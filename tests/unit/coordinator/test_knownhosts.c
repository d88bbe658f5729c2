/* tests/unit/coordinator/test_knownhosts.c: reading hashed and [host]:port
 * known_hosts entries, key type preference, checks, appending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "knownhosts.h"

#include <libssh2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ED_B64                                                                 \
    "AAAAC3NzaC1lZDI1NTE5AAAAIIONQWZDEqUztrE9YY0Tr+XKE6tXKgstrBmqKgYZhT/4"
#define EC_B64                                                                 \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFtgfgZtBLIkF8Scu60Z" \
    "ue/jV8Nv2KiQELUsmdH6bM1gvArnZTBH4Eu+CuTc8QabFr+kLZXuWXxieJZjw9dqdgA="

/* The ed25519 key above, hashed for "[127.0.1.9]:2222" by ssh-keygen -H. */
static const char hashed_line[] =
    "|1|/0YlRl9ZcW3P573IqEOlHEozUoA=|Ge5MmLsvrqrJtoFHcgm3NZq4v8w= "
    "ssh-ed25519 " ED_B64 "\n";

static size_t b64dec(const char *s, unsigned char *out)
{
    static const char t[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        const char *p = strchr(t, *s);
        assert_non_null(p);
        v = (v << 6) | (unsigned)(p - t);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    return o;
}

static char dir[64];

static int setup(void **state)
{
    (void)state;
    /* mkdtemp's template: six 'X' the call replaces. */
    int n = snprintf(dir, sizeof(dir), "/tmp/test_knownhosts.");
    memset(dir + n, 'X', 6);
    dir[n + 6] = '\0';
    assert_non_null(mkdtemp(dir));
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

static void test_knownhosts_missing_file_is_empty(void **state)
{
    (void)state;
    struct err e = {0};
    char *path = xasprintf("%s/none", dir);
    struct knownhosts *kh = knownhosts_load(path, &e);
    assert_non_null(kh);
    assert_int_equal(knownhosts_count(kh), 0);
    char m[KNOWNHOSTS_METHODS_MAX];
    assert_string_equal(knownhosts_methods(kh, "127.0.0.1", 22, m, sizeof(m)),
                        "");
    knownhosts_free(kh);
    knownhosts_free(NULL);
    free(path);
}

static void test_knownhosts_types_and_ports(void **state)
{
    (void)state;
    char *text = xasprintf("# a comment\n"
                           "\n"
                           "%s"
                           "127.0.1.8 ecdsa-sha2-nistp256 " EC_B64 "\n"
                           "not-a-known-hosts-line\n"
                           "@cert-authority *.example ssh-ed25519 " ED_B64 "\n"
                           "[127.0.1.7]:2222 ssh-ed25519 " ED_B64 "\n"
                           "[127.0.1.7]:2222 ecdsa-sha2-nistp256 " EC_B64 "\n",
                           hashed_line);
    char *path = write_file("kh", text);
    struct err e = {0};
    struct knownhosts *kh = knownhosts_load(path, &e);
    assert_non_null(kh);
    assert_int_equal(knownhosts_count(kh), 4);
    char m[KNOWNHOSTS_METHODS_MAX];
    /* hashed [host]:port entry */
    assert_string_equal(knownhosts_methods(kh, "127.0.1.9", 2222, m, sizeof(m)),
                        "ssh-ed25519");
    /* the same host on another port is not known */
    assert_string_equal(knownhosts_methods(kh, "127.0.1.9", 22, m, sizeof(m)),
                        "");
    /* a plain entry is for port 22 only (OpenSSH's rule) */
    assert_string_equal(knownhosts_methods(kh, "127.0.1.8", 22, m, sizeof(m)),
                        "ecdsa-sha2-nistp256");
    assert_string_equal(knownhosts_methods(kh, "127.0.1.8", 2222, m, sizeof(m)),
                        "");
    /* both types, ed25519 first */
    assert_string_equal(knownhosts_methods(kh, "127.0.1.7", 2222, m, sizeof(m)),
                        "ssh-ed25519,ecdsa-sha2-nistp256");
    knownhosts_free(kh);
    free(path);
    free(text);
}

static void test_knownhosts_check(void **state)
{
    (void)state;
    char *path = write_file("kh", hashed_line);
    struct err e = {0};
    struct knownhosts *kh = knownhosts_load(path, &e);
    assert_non_null(kh);
    unsigned char ed[128], ec[256];
    size_t edn = b64dec(ED_B64, ed), ecn = b64dec(EC_B64, ec);
    assert_int_equal(edn, 51);
    assert_int_equal(knownhosts_check(kh, "127.0.1.9", 2222, ed, edn,
                                      LIBSSH2_HOSTKEY_TYPE_ED25519),
                     KNOWNHOSTS_MATCH);
    ed[edn - 1] ^= 1;
    assert_int_equal(knownhosts_check(kh, "127.0.1.9", 2222, ed, edn,
                                      LIBSSH2_HOSTKEY_TYPE_ED25519),
                     KNOWNHOSTS_MISMATCH);
    assert_int_equal(knownhosts_check(kh, "127.0.1.9", 2222, ec, ecn,
                                      LIBSSH2_HOSTKEY_TYPE_ECDSA_256),
                     KNOWNHOSTS_NOTFOUND);
    assert_int_equal(knownhosts_check(kh, "127.0.1.10", 2222, ed, edn,
                                      LIBSSH2_HOSTKEY_TYPE_ED25519),
                     KNOWNHOSTS_NOTFOUND);
    knownhosts_free(kh);
    free(path);
}

static void test_knownhosts_append_creates_0600(void **state)
{
    (void)state;
    char *path = xasprintf("%s/sub/known_hosts", dir);
    struct err e = {0};
    struct knownhosts *kh = knownhosts_load(path, &e);
    assert_non_null(kh);
    unsigned char ed[128];
    size_t edn = b64dec(ED_B64, ed);
    assert_int_equal(knownhosts_append(kh, "127.0.1.5", 2222, ed, edn,
                                       LIBSSH2_HOSTKEY_TYPE_ED25519, &e),
                     ERR_OK);
    assert_int_equal(knownhosts_check(kh, "127.0.1.5", 2222, ed, edn,
                                      LIBSSH2_HOSTKEY_TYPE_ED25519),
                     KNOWNHOSTS_MATCH);
    knownhosts_free(kh);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char line[256] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_string_equal(line, "[127.0.1.5]:2222 ssh-ed25519 " ED_B64 "\n");

    kh = knownhosts_load(path, &e);
    assert_non_null(kh);
    assert_int_equal(knownhosts_check(kh, "127.0.1.5", 2222, ed, edn,
                                      LIBSSH2_HOSTKEY_TYPE_ED25519),
                     KNOWNHOSTS_MATCH);
    knownhosts_free(kh);
    free(path);
}

static void test_knownhosts_append_after_unterminated_line(void **state)
{
    (void)state;
    char *path = write_file("kh2", "127.0.1.8 ecdsa-sha2-nistp256 " EC_B64);
    struct err e = {0};
    struct knownhosts *kh = knownhosts_load(path, &e);
    assert_non_null(kh);
    unsigned char ed[128];
    size_t edn = b64dec(ED_B64, ed);
    assert_int_equal(knownhosts_append(kh, "h.example", 22, ed, edn,
                                       LIBSSH2_HOSTKEY_TYPE_ED25519, &e),
                     ERR_OK);
    knownhosts_free(kh);
    kh = knownhosts_load(path, &e);
    assert_non_null(kh);
    assert_int_equal(knownhosts_count(kh), 2);
    char m[KNOWNHOSTS_METHODS_MAX];
    assert_string_equal(knownhosts_methods(kh, "h.example", 22, m, sizeof(m)),
                        "ssh-ed25519");
    knownhosts_free(kh);
    free(path);
}

static void test_knownhosts_append_unwritable(void **state)
{
    (void)state;
    struct err e = {0};
    struct knownhosts *kh =
        knownhosts_load("/proc/no/such/dir/known_hosts", &e);
    assert_non_null(kh);
    unsigned char ed[128];
    size_t edn = b64dec(ED_B64, ed);
    assert_int_equal(knownhosts_append(kh, "x", 22, ed, edn,
                                       LIBSSH2_HOSTKEY_TYPE_ED25519, &e),
                     ERR_SYS);
    assert_non_null(strstr(e.msg, "/proc/no/such/dir/known_hosts"));
    knownhosts_free(kh);
}

/* ssh looks a host up by its name in lowercase (and compares plain names
 * in the file without case): HostName Web1.Example.COM, or ansible_host
 * LocalHost, is known by the entry ssh itself wrote. */
static void test_knownhosts_name_case(void **state)
{
    (void)state;
    /* hashed by ssh-keygen -H for "[web1.example.com]:2222" */
    char *path = write_file(
        "kh_case",
        "|1|FC6MeoNqHSpu6HebWsP5KyROBcw=|fc4R+jtoFgvyST8bD2bXHR4XTrE= "
        "ssh-ed25519 " ED_B64 "\n"
        "Db1.Example.COM,10.0.0.1 ssh-ed25519 " ED_B64 "\n");
    struct err e = {0};
    struct knownhosts *kh = knownhosts_load(path, &e);
    assert_non_null(kh);
    unsigned char ed[128];
    size_t edn = b64dec(ED_B64, ed);
    static const struct {
        const char *host;
        int port;
    } known[] = {{"Web1.Example.COM", 2222},
                 {"web1.example.com", 2222},
                 {"DB1.EXAMPLE.COM", 22},
                 {"db1.example.com", 22}};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(knownhosts_check(kh, known[i].host, known[i].port, ed,
                                          edn, LIBSSH2_HOSTKEY_TYPE_ED25519),
                         KNOWNHOSTS_MATCH);
    char m[KNOWNHOSTS_METHODS_MAX];
    assert_string_equal(
        knownhosts_methods(kh, "WEB1.example.com", 2222, m, sizeof(m)),
        "ssh-ed25519");
    /* --accept-new writes the name as ssh would. */
    assert_int_equal(knownhosts_append(kh, "LocalHost", 2200, ed, edn,
                                       LIBSSH2_HOSTKEY_TYPE_ED25519, &e),
                     ERR_OK);
    knownhosts_free(kh);
    char text[1024] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t got = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[got] = '\0';
    assert_non_null(strstr(text, "\n[localhost]:2200 ssh-ed25519 "));
    char n[64];
    assert_string_equal(knownhosts_name("Web1.Example.COM", 22, n, sizeof(n)),
                        "web1.example.com");
    assert_string_equal(knownhosts_name("127.1", 2222, n, sizeof(n)),
                        "[127.0.0.1]:2222");
    free(path);
}

static void test_knownhosts_fingerprint_and_names(void **state)
{
    (void)state;
    /* SHA-256("abc") */
    static const unsigned char abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    char fp[KNOWNHOSTS_FP_MAX];
    assert_string_equal(knownhosts_fp_format(abc, fp, sizeof(fp)),
                        "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
    char n[64];
    assert_string_equal(knownhosts_name("h", 22, n, sizeof(n)), "h");
    assert_string_equal(knownhosts_name("h", 2222, n, sizeof(n)), "[h]:2222");
    assert_string_equal(knownhosts_method_name(LIBSSH2_HOSTKEY_TYPE_ED25519),
                        "ssh-ed25519");
    assert_null(knownhosts_method_name(LIBSSH2_HOSTKEY_TYPE_UNKNOWN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knownhosts_missing_file_is_empty),
        cmocka_unit_test(test_knownhosts_types_and_ports),
        cmocka_unit_test(test_knownhosts_check),
        cmocka_unit_test(test_knownhosts_name_case),
        cmocka_unit_test(test_knownhosts_append_creates_0600),
        cmocka_unit_test(test_knownhosts_append_after_unterminated_line),
        cmocka_unit_test(test_knownhosts_append_unwritable),
        cmocka_unit_test(test_knownhosts_fingerprint_and_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
