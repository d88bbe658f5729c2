/* tests/unit/coordinator/test_gitinfo.c: commit, tag, dirty work tree and
 * the changes since the last deploy, read from a real git repository made
 * in the test; a directory outside any repository has no git info. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gitinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char cmd[2048];
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char *full = xasprintf("cd '%s' && { %s; } >/dev/null 2>&1", dir, cmd);
    if (system(full) != 0)
        fail_msg("failed: %s", cmd);
    free(full);
}

/* Output of a command in dir, trailing newline cut; caller frees. */
static char *sh_out(const char *cmd)
{
    char *full = xasprintf("cd '%s' && %s", dir, cmd);
    FILE *p = popen(full, "r");
    free(full);
    assert_non_null(p);
    char buf[256] = "";
    if (fgets(buf, sizeof(buf), p) == NULL)
        buf[0] = '\0';
    pclose(p);
    buf[strcspn(buf, "\n")] = '\0';
    return xstrdup(buf);
}

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-git-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    dir = xstrdup(tmpl);
    setenv("GIT_AUTHOR_NAME", "t", 1);
    setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
    setenv("GIT_COMMITTER_NAME", "t", 1);
    setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
    sh("git init -q . && echo 1 > plan.yml && git add plan.yml && "
       "git commit -q -m 'first plan'");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(dir);
    return 0;
}

static void test_gitinfo_not_a_repo(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-nogit-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    struct gitinfo g;
    struct err e = {0};
    assert_int_equal(gitinfo_read(tmpl, NULL, &g, &e), ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, tmpl));
    assert_non_null(strstr(e.msg, "--changes"));
    assert_null(g.commit);
    gitinfo_release(&g);
    rmdir(tmpl);
}

static void test_gitinfo_commit_tag_changes(void **state)
{
    (void)state;
    char *first = sh_out("git rev-parse HEAD");
    sh("echo 2 > plan.yml && git commit -q -am 'fix login redirect'");
    sh("echo 3 > plan.yml && git commit -q -am 'faster reports' && "
       "git tag v2.1.0");
    char *head = sh_out("git rev-parse HEAD");
    char *plan = xasprintf("%s/plan.yml", dir);
    struct gitinfo g;
    struct err e = {0};
    /* no previous deploy: HEAD's own subject */
    assert_int_equal(gitinfo_read(plan, NULL, &g, &e), ERR_OK);
    assert_string_equal(g.commit, head);
    assert_string_equal(g.tag, "v2.1.0");
    assert_false(g.dirty);
    assert_non_null(strstr(g.changes, "faster reports"));
    assert_null(strchr(g.changes, '\n'));
    gitinfo_release(&g);
    /* since the first commit: two changes, newest first */
    assert_int_equal(gitinfo_read(plan, first, &g, &e), ERR_OK);
    const char *a = strstr(g.changes, "faster reports");
    const char *b = strstr(g.changes, "fix login redirect");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
    assert_null(strstr(g.changes, "first plan"));
    gitinfo_release(&g);
    /* the same commit again: nothing changed */
    assert_int_equal(gitinfo_read(dir, head, &g, &e), ERR_OK);
    assert_null(g.changes);
    gitinfo_release(&g);
    /* a since that is not a commit id is never passed to git */
    assert_int_equal(gitinfo_read(dir, "--output=/tmp/x", &g, &e), ERR_OK);
    assert_non_null(strstr(g.changes, "faster reports"));
    gitinfo_release(&g);
    /* uncommitted changes */
    sh("echo 4 > plan.yml");
    assert_int_equal(gitinfo_read(plan, first, &g, &e), ERR_OK);
    assert_true(g.dirty);
    char *want = xasprintf("%s-dirty", head);
    assert_string_equal(g.commit, want);
    free(want);
    gitinfo_release(&g);
    /* a recorded "-dirty" commit still works as the base */
    char *since = xasprintf("%s-dirty", first);
    assert_int_equal(gitinfo_read(plan, since, &g, &e), ERR_OK);
    assert_non_null(strstr(g.changes, "fix login redirect"));
    gitinfo_release(&g);
    free(since);
    free(plan);
    free(first);
    free(head);
}

static void test_gitinfo_many_changes(void **state)
{
    (void)state;
    char *first = sh_out("git rev-parse HEAD");
    sh("for i in $(seq 1 60); do echo c$i > plan.yml; "
       "git commit -q -am \"change $i\"; done");
    struct gitinfo g;
    struct err e = {0};
    assert_int_equal(gitinfo_read(dir, first, &g, &e), ERR_OK);
    assert_null(g.tag);
    size_t lines = 1;
    for (const char *p = g.changes; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, GITINFO_CHANGES_MAX + 1);
    assert_non_null(strstr(g.changes, "change 60"));
    if (strstr(g.changes, "... and 10 more commits") == NULL)
        fail_msg("tail: %s", strrchr(g.changes, '\n'));
    gitinfo_release(&g);
    free(first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gitinfo_not_a_repo),
        cmocka_unit_test_setup_teardown(test_gitinfo_commit_tag_changes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gitinfo_many_changes, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
