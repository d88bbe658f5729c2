/* tests/unit/proto/test_keyfile.c: key pairs on disk, permissions,
 * authorized_keys and known_agents parsing with locations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "keyfile.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyfile_roundtrip),
        cmocka_unit_test(test_keyfile_secret_mismatch),
        cmocka_unit_test(test_keyfile_authorized),
        cmocka_unit_test(test_keyfile_known_agents),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
