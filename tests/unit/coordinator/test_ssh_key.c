/* tests/unit/coordinator/test_ssh_key.c: reading private keys for the ssh
 * transport: an unencrypted OpenSSH ed25519 or ECDSA key gets a signer
 * whose public blob is the one in its .pub file; PEM keys are left to
 * libssh2; unusable files say why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base64.h"
#include "err.h"
#include "ssh_key.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A scratch directory per run. */
static char key_dir[64];

static int key_setup(void **state)
{
    (void)state;
    snprintf(key_dir, sizeof(key_dir), "/tmp/test_ssh_key.XXXXXX");
    return mkdtemp(key_dir) != NULL ? 0 : -1;
}

static int key_teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", key_dir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

/* A new key made by ssh-keygen with extra arguments; caller frees. */
static char *key_make(const char *name, const char *args)
{
    char *path = xasprintf("%s/%s", key_dir, name);
    char *cmd = xasprintf("ssh-keygen -q -N '' %s -f %s </dev/null "
                          ">/dev/null 2>&1",
                          args, path);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    return path;
}

/* The key blob of path.pub (its second field), decoded; *n its length. */
static unsigned char *key_pub_blob(const char *path, size_t *n)
{
    char *pub = xasprintf("%s.pub", path);
    FILE *f = fopen(pub, "r");
    assert_non_null(f);
    char line[2048];
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    free(pub);
    char *b = strchr(line, ' ');
    assert_non_null(b);
    b++;
    return base64_decode(b, strcspn(b, " \n"), n);
}

static void key_signs_itself(const char *name, const char *args)
{
    char *path = key_make(name, args);
    struct ssh_key *k = ssh_key_new(path, "");
    assert_non_null(k->data);
    assert_non_null(k->sign_key);
    assert_ptr_equal(k->self, k);
    size_t n = 0;
    unsigned char *blob = key_pub_blob(path, &n);
    assert_int_equal(k->pub_len, n);
    assert_memory_equal(k->pub_blob, blob, n);
    free(blob);
    ssh_key_free(k);
    free(path);
}

static void test_ssh_key_openssh_keys_get_a_signer(void **state)
{
    (void)state;
    key_signs_itself("ed", "-t ed25519");
    key_signs_itself("p256", "-t ecdsa -b 256");
    key_signs_itself("p384", "-t ecdsa -b 384");
    key_signs_itself("p521", "-t ecdsa -b 521");
}

static void test_ssh_key_pem_is_left_to_libssh2(void **state)
{
    (void)state;
    char *path = key_make("pem", "-t ecdsa -m PEM");
    struct ssh_key *k = ssh_key_new(path, "");
    assert_non_null(k->data);
    assert_null(k->sign_key);
    assert_int_equal(k->err.code, ERR_OK);
    ssh_key_free(k);
    free(path);
}

static void test_ssh_key_unusable_files(void **state)
{
    (void)state;
    char *path = xasprintf("%s/missing", key_dir);
    struct ssh_key *k = ssh_key_new(path, " (--key)");
    assert_null(k->data);
    assert_int_equal(k->err.code, ERR_SYS);
    assert_int_equal(k->err.sys_errno, ENOENT);
    assert_non_null(strstr(k->err.msg, "cannot read the private key (--key)"));
    ssh_key_free(k);
    free(path);

    path = xasprintf("%s/empty", key_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    k = ssh_key_new(path, "");
    assert_null(k->data);
    assert_int_equal(k->err.code, ERR_PARSE);
    assert_non_null(strstr(k->err.msg, "not a private key (size)"));
    ssh_key_free(k);
    free(path);

    path = key_make("rsa", "-t rsa -b 2048");
    k = ssh_key_new(path, "");
    assert_null(k->data);
    assert_int_equal(k->err.code, ERR_AUTH);
    assert_null(k->sign_key);
    ssh_key_free(k);
    free(path);
    ssh_key_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ssh_key_openssh_keys_get_a_signer),
        cmocka_unit_test(test_ssh_key_pem_is_left_to_libssh2),
        cmocka_unit_test(test_ssh_key_unusable_files),
    };
    return cmocka_run_group_tests(tests, key_setup, key_teardown);
}
