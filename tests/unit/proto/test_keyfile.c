/* tests/unit/proto/test_keyfile.c: key pairs on disk, permissions,
 * authorized_keys and known_agents parsing with locations; lines read
 * whole (a key hidden in a long comment is no key), and the last
 * known_agents line of a host wins on every lookup path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "keyfile.h"
#include "linefile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    /* mkdtemp's template: six 'X' the call replaces */
    int tn = snprintf(dir, sizeof(dir), "/tmp/test_keyfile.");
    memset(dir + tn, 'X', 6);
    dir[tn + 6] = '\0';
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static void put(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_keyfile_roundtrip(void **state)
{
    (void)state;
    struct keypair kp, back;
    struct err e = {0};
    assert_int_equal(keyfile_generate(&kp, &e), ERR_OK);
    assert_true(keyfile_z85_valid(kp.public_z85, strlen(kp.public_z85)));
    char path[128];
    snprintf(path, sizeof(path), "%s/agent.key", dir);
    assert_int_equal(keyfile_write(path, &kp, false, &e), ERR_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* no overwrite without force */
    assert_int_equal(keyfile_write(path, &kp, false, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "--force"));
    err_clear(&e);
    assert_int_equal(keyfile_load_secret(path, &back, &e), ERR_OK);
    assert_string_equal(back.public_z85, kp.public_z85);
    assert_string_equal(back.secret_z85, kp.secret_z85);
    char pub[KEYFILE_Z85_LEN + 1], pubpath[140];
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    assert_int_equal(keyfile_load_public(pubpath, pub, &e), ERR_OK);
    assert_string_equal(pub, kp.public_z85);
    keyfile_wipe(&back);
    assert_int_equal(back.secret_z85[0], 0);

    /* too open */
    chmod(path, 0644);
    assert_int_equal(keyfile_load_secret(path, &back, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "chmod 600"));
}

static void test_keyfile_secret_mismatch(void **state)
{
    (void)state;
    struct keypair a, b, back;
    struct err e = {0};
    keyfile_generate(&a, &e);
    keyfile_generate(&b, &e);
    char path[128], text[256];
    snprintf(path, sizeof(path), "%s/mixed.key", dir);
    snprintf(text, sizeof(text), "public %s\nsecret %s\n", a.public_z85,
             b.secret_z85);
    put(path, text, 0600);
    assert_int_equal(keyfile_load_secret(path, &back, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "does not match"));
}

static void test_keyfile_authorized(void **state)
{
    (void)state;
    struct keypair a, b;
    struct err e = {0};
    keyfile_generate(&a, &e);
    keyfile_generate(&b, &e);
    char path[128], text[512];
    snprintf(path, sizeof(path), "%s/authorized_keys", dir);
    snprintf(text, sizeof(text), "# coordinators\n\n%s ops laptop\n  %s\n",
             a.public_z85, b.public_z85);
    put(path, text, 0644);
    struct keyfile_set *s = keyfile_set_load(path, &e);
    assert_non_null(s);
    assert_int_equal(keyfile_set_count(s), 2);
    uint8_t bin[32];
    zmq_z85_decode(bin, a.public_z85);
    assert_true(keyfile_set_has(s, bin));
    memset(bin, 0, sizeof(bin));
    assert_false(keyfile_set_has(s, bin));
    keyfile_set_free(s);

    put(path, "# x\nnot-a-key\n", 0644);
    assert_null(keyfile_set_load(path, &e));
    assert_non_null(strstr(e.msg, "authorized_keys:2:1:"));
    err_clear(&e);
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_null(keyfile_set_load(path, &e));
    assert_int_equal(e.code, ERR_NOTFOUND);
}

static void test_keyfile_known_agents(void **state)
{
    (void)state;
    struct keypair a;
    struct err e = {0};
    keyfile_generate(&a, &e);
    char path[128], out[41];
    snprintf(path, sizeof(path), "%s/known_agents", dir);
    assert_int_equal(keyfile_known_lookup(path, "web1", 7447, out, &e),
                     ERR_NOTFOUND);
    assert_int_equal(keyfile_known_add(path, "web1", 7447, a.public_z85, &e),
                     ERR_OK);
    assert_int_equal(keyfile_known_lookup(path, "web1", 7447, out, &e), ERR_OK);
    assert_string_equal(out, a.public_z85);
    assert_int_equal(keyfile_known_lookup(path, "web1", 7448, out, &e),
                     ERR_NOTFOUND);
    assert_int_equal(keyfile_known_lookup(path, "web", 7447, out, &e),
                     ERR_NOTFOUND);
    put(path, "web2:7447\n", 0600);
    assert_int_equal(keyfile_known_lookup(path, "web1", 7447, out, &e),
                     ERR_PARSE);
    assert_non_null(strstr(e.msg, "known_agents:1:10:"));
}

/* A comment line of `pad` bytes whose tail (past byte 511, where a
 * 512-byte line buffer would cut it) is a key line. */
static void hidden_key_comment(char *out, size_t cap, size_t pad,
                               const char *key)
{
    assert_true(pad + 50 < cap);
    out[0] = '#';
    memset(out + 1, 'x', pad - 1);
    snprintf(out + pad, cap - pad, "%s\n", key);
}

static void test_keyfile_long_lines(void **state)
{
    (void)state;
    struct keypair a, hidden;
    struct err e = {0};
    keyfile_generate(&a, &e);
    keyfile_generate(&hidden, &e);
    char path[128], text[16384];
    snprintf(path, sizeof(path), "%s/authorized_keys", dir);
    uint8_t bin[32];
    zmq_z85_decode(bin, hidden.public_z85);
    /* the hidden key at byte 511, 512, at the reader's limit and past it */
    const size_t pads[] = {
        511,  512, 1023, LINEFILE_MAX - 1, LINEFILE_MAX, LINEFILE_MAX + 7,
        10000};
    for (size_t i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
        size_t n = (size_t)snprintf(text, sizeof(text), "%s\n", a.public_z85);
        hidden_key_comment(text + n, sizeof(text) - n, pads[i],
                           hidden.public_z85);
        put(path, text, 0644);
        struct keyfile_set *s = keyfile_set_load(path, &e);
        assert_non_null(s);
        assert_int_equal(keyfile_set_count(s), 1);
        assert_false(keyfile_set_has(s, bin));
        keyfile_set_free(s);
    }
    /* an over-long key line is refused whole, with its place */
    memset(text, ' ', LINEFILE_MAX + 10);
    snprintf(text + LINEFILE_MAX + 10, 64, "%s\n", hidden.public_z85);
    put(path, text, 0644);
    assert_null(keyfile_set_load(path, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.msg, "authorized_keys:1:"));
    assert_non_null(strstr(e.msg, "longer than"));
    err_clear(&e);
    /* so is a NUL byte: the key before it is not taken alone */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# ok\n%s", a.public_z85);
    fputc('\0', f);
    fputs("junk\n", f);
    fclose(f);
    assert_null(keyfile_set_load(path, &e));
    assert_non_null(strstr(e.msg, "authorized_keys:2:41: NUL"));
    err_clear(&e);
    /* CRLF files read as LF */
    snprintf(text, sizeof(text), "# windows\r\n%s\r\n", a.public_z85);
    put(path, text, 0644);
    struct keyfile_set *s = keyfile_set_load(path, &e);
    assert_non_null(s);
    assert_int_equal(keyfile_set_count(s), 1);
    keyfile_set_free(s);

    /* known_agents: the same reader */
    snprintf(path, sizeof(path), "%s/known_long", dir);
    char line[80];
    snprintf(line, sizeof(line), "web9:7447 %s", hidden.public_z85);
    hidden_key_comment(text, sizeof(text), 511, line);
    put(path, text, 0600);
    char out[41];
    assert_int_equal(keyfile_known_lookup(path, "web9", 7447, out, &e),
                     ERR_NOTFOUND);
    struct keyfile_known *k = keyfile_known_load(path, &e);
    assert_non_null(k);
    assert_null(keyfile_known_get(k, "web9", 7447));
    keyfile_known_free(k);
}

/* A Z85 key made from n (distinct keys without key generation). */
static void fake_key(char *out, unsigned n, unsigned round)
{
    uint8_t bin[32] = {0};
    memcpy(bin, &n, sizeof(n));
    memcpy(bin + 8, &round, sizeof(round));
    bin[31] = 0x5a;
    assert_non_null(zmq_z85_encode(out, bin, sizeof(bin)));
}

static void test_keyfile_known_last_line_wins(void **state)
{
    (void)state;
    enum { HOSTS = 3000, ROUNDS = 3 };
    char path[128];
    snprintf(path, sizeof(path), "%s/known_many", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* every host once, then again for some hosts, in an order that is not
     * sorted; the number of lines of host i is 1 + i % ROUNDS */
    static unsigned last[HOSTS];
    for (unsigned r = 0; r < ROUNDS; r++)
        for (unsigned j = 0; j < HOSTS; j++) {
            unsigned i = (j * 7919u) % HOSTS;
            if (r > i % ROUNDS)
                continue;
            char key[41];
            fake_key(key, i, r);
            fprintf(f, "h%u.example:%d %s round %u\n", i, 7447 + (int)(i % 3),
                    key, r);
            last[i] = r;
        }
    fclose(f);
    struct err e = {0};
    struct keyfile_known *k = keyfile_known_load(path, &e);
    assert_non_null(k);
    for (unsigned i = 0; i < HOSTS; i++) {
        char name[32], want[41], out[41];
        snprintf(name, sizeof(name), "h%u.example", i);
        fake_key(want, i, last[i]);
        const char *got = keyfile_known_get(k, name, 7447 + (int)(i % 3));
        assert_non_null(got);
        assert_string_equal(got, want);
        assert_null(keyfile_known_get(k, name, 7447 + (int)((i + 1) % 3)));
        if (i % 97 == 0) { /* the one-host path, on a sample */
            assert_int_equal(
                keyfile_known_lookup(path, name, 7447 + (int)(i % 3), out, &e),
                ERR_OK);
            assert_string_equal(out, want);
        }
    }
    /* a key recorded later (--accept-new) replaces, and new hosts sort in */
    char key[41];
    fake_key(key, 5, 99);
    keyfile_known_put(k, "h5.example", 7447 + 5 % 3, key);
    assert_string_equal(keyfile_known_get(k, "h5.example", 7447 + 5 % 3), key);
    for (unsigned i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof(name), "new%u", (i * 31u) % 50);
        fake_key(key, i, 7);
        keyfile_known_put(k, name, 1, key);
    }
    for (unsigned i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof(name), "new%u", (i * 31u) % 50);
        fake_key(key, i, 7);
        assert_string_equal(keyfile_known_get(k, name, 1), key);
    }
    keyfile_known_free(k);
}

/* A line appended to a file whose last line has no newline is a line of
 * its own, not that line's comment. */
static void test_keyfile_known_add_after_open_line(void **state)
{
    (void)state;
    char path[128], a[41], b[41], out[41];
    snprintf(path, sizeof(path), "%s/known_open", dir);
    fake_key(a, 1, 0);
    fake_key(b, 2, 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "a.example:7447 %s", a); /* no newline */
    fclose(f);
    struct err e = {0};
    assert_int_equal(keyfile_known_add(path, "b.example", 7447, b, &e), ERR_OK);
    assert_int_equal(keyfile_known_lookup(path, "b.example", 7447, out, &e),
                     ERR_OK);
    assert_string_equal(out, b);
    assert_int_equal(keyfile_known_lookup(path, "a.example", 7447, out, &e),
                     ERR_OK);
    assert_string_equal(out, a);
    /* and a file that ends well gets no blank line */
    assert_int_equal(keyfile_known_add(path, "a.example", 7447, b, &e), ERR_OK);
    assert_int_equal(keyfile_known_lookup(path, "a.example", 7447, out, &e),
                     ERR_OK);
    assert_string_equal(out, b);
    f = fopen(path, "r");
    assert_non_null(f);
    char text[512];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_null(strstr(text, "\n\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyfile_roundtrip),
        cmocka_unit_test(test_keyfile_secret_mismatch),
        cmocka_unit_test(test_keyfile_authorized),
        cmocka_unit_test(test_keyfile_known_agents),
        cmocka_unit_test(test_keyfile_long_lines),
        cmocka_unit_test(test_keyfile_known_last_line_wins),
        cmocka_unit_test(test_keyfile_known_add_after_open_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
