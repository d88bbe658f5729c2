/* tests/unit/coordinator/test_deploy.c: the wave engine's decisions, over
 * the real local transport: waves in order, forks bound, a failed host
 * stops the deploy before the next wave, unreached hosts are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "check_command.h"
#include "deploy.h"
#include "health.h"
#include "local.h"
#include "loop.h"
#include "plan.h"
#include "rollout.h"
#include "store.h"
#include "store_sqlite.h"
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAXH = 8 };

struct fixture {
    char dir[64];
    struct plan *plan;
    struct rollout ro;
    struct rollout_host hosts[MAXH];
    size_t sizes[MAXH];
    char *cmds[MAXH][1];
    struct rollout_cmd steps[MAXH][1];
    char *rbcmds[MAXH];
    struct rollout_cmd rollback[MAXH][1];
    struct plan_step rbstep;     /* the plan's rollback step */
    struct plan_step prestep;    /* a local precheck */
    struct rollout_once preonce; /* ... rendered */
    char names[MAXH][8];
};

/* cmd with every {dir} and {host} replaced. */
static char *expand(const char *cmd, const char *dir, const char *host)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (const char *p = cmd; *p;) {
        if (strncmp(p, "{dir}", 5) == 0) {
            buf_adds(&b, dir);
            p += 5;
        } else if (strncmp(p, "{host}", 6) == 0) {
            buf_adds(&b, host);
            p += 6;
        } else {
            buf_addc(&b, *p++);
        }
    }
    return buf_detach(&b);
}

/* Give every host a rollback step (cmd with {dir}/{host}). */
static void with_rollback(struct fixture *f, const char *cmd_fmt)
{
    memset(&f->rbstep, 0, sizeof(f->rbstep));
    f->rbstep.name = (char *)"undo";
    f->rbstep.run = (char *)"x";
    f->plan->rollback_steps = &f->rbstep;
    f->plan->nrollback_steps = 1;
    f->plan->rollback_auto = true;
    for (size_t i = 0; i < f->ro.nhosts; i++) {
        f->rbcmds[i] = expand(cmd_fmt, f->dir, f->hosts[i].name);
        f->rollback[i][0].step = &f->rbstep;
        f->rollback[i][0].command = f->rbcmds[i];
        f->hosts[i].rollback = f->rollback[i];
    }
}

/* A rollout of n hosts in the given waves, each host running cmd with
 * %s replaced by its name (borrowed into the fixture). */
static void build(struct fixture *f, size_t n, const size_t *waves,
                  size_t nwaves, const char *cmd_fmt)
{
    struct err e = {0};
    const char *yaml = "name: t\nsteps:\n  - name: step\n    run: x\n";
    assert_int_equal(
        plan_load_buffer("t.yml", yaml, strlen(yaml), &f->plan, NULL, &e),
        ERR_OK);
    memset(&f->ro, 0, sizeof(f->ro));
    f->ro.plan = f->plan;
    f->ro.hosts = f->hosts;
    f->ro.nhosts = n;
    f->ro.wave_sizes = f->sizes;
    f->ro.nwaves = nwaves;
    memcpy(f->sizes, waves, nwaves * sizeof(size_t));
    size_t i = 0;
    for (size_t w = 0; w < nwaves; w++)
        for (size_t k = 0; k < waves[w]; k++, i++) {
            snprintf(f->names[i], sizeof(f->names[i]), "h%zu", i + 1);
            struct rollout_host *h = &f->hosts[i];
            memset(h, 0, sizeof(*h));
            h->name = f->names[i];
            h->addr.address = f->names[i];
            h->wave = w;
            f->cmds[i][0] = expand(cmd_fmt, f->dir, h->name);
            f->steps[i][0].step = &f->plan->steps[0];
            f->steps[i][0].command = f->cmds[i][0];
            h->steps = f->steps[i];
        }
}

static void release(struct fixture *f)
{
    for (size_t i = 0; i < f->ro.nhosts; i++) {
        free(f->cmds[i][0]);
        free(f->rbcmds[i]);
        f->rbcmds[i] = NULL;
    }
    /* the test's own plan fields are not the plan's to free */
    f->plan->rollback_steps = NULL;
    f->plan->nrollback_steps = 0;
    f->plan->prechecks = NULL;
    f->plan->nprechecks = 0;
    free(f->preonce.cmd.command);
    f->preonce.cmd.command = NULL;
    plan_free(f->plan);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir),
             "/tmp/drover-deploy-XX"
             "XX"
             "XX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct deploy *the_deploy;

static void interrupt_soon(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    (void)arg;
    deploy_interrupt(the_deploy);
}

static struct deploy_result run_opts(struct fixture *f, int forks, FILE *out,
                                     bool canary, int64_t interrupt_ms)
{
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *t = local_transport_new(l, &e);
    struct health *h = health_new(l, &e);
    assert_non_null(h);
    struct deploy_options o = {
        .forks = forks, .out = out, .canary_only = canary, .local = t};
    struct deploy *d = deploy_new(l, &f->ro, t, h, &o);
    struct loop_timer it;
    loop_timer_init(&it, interrupt_soon, NULL);
    the_deploy = d;
    if (interrupt_ms > 0)
        loop_timer_start(l, &it, interrupt_ms);
    struct deploy_result res;
    assert_int_equal(deploy_run(d, &res, &e), ERR_OK);
    loop_timer_stop(l, &it);
    deploy_free(d);
    health_free(h);
    transport_free(t);
    loop_free(l);
    return res;
}

/* Run the engine once with options o (o->local is not set). */
static struct deploy_result run_with(struct fixture *f,
                                     const struct deploy_options *o)
{
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *t = local_transport_new(l, &e);
    struct health *h = health_new(l, &e);
    assert_non_null(h);
    struct deploy *d = deploy_new(l, &f->ro, t, h, o);
    struct deploy_result res;
    assert_int_equal(deploy_run(d, &res, &e), ERR_OK);
    deploy_free(d);
    health_free(h);
    transport_free(t);
    loop_free(l);
    return res;
}

static struct deploy_result run(struct fixture *f, int forks, FILE *out)
{
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *t = local_transport_new(l, &e);
    struct health *h = health_new(l, &e);
    assert_non_null(h);
    struct deploy_options o = {.forks = forks, .out = out};
    struct deploy *d = deploy_new(l, &f->ro, t, h, &o);
    struct deploy_result res;
    assert_int_equal(deploy_run(d, &res, &e), ERR_OK);
    deploy_free(d);
    health_free(h);
    transport_free(t);
    loop_free(l);
    return res;
}

static char *slurp(const char *dir, const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return strdup("");
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    char chunk[512];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        buf_add(&b, chunk, n);
    fclose(fp);
    return buf_detach(&b);
}

static void test_deploy_waves_in_order(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1, 2, 3};
    build(f, 6, waves, 3, "echo {host} >> {dir}/ORDER");
    FILE *out = tmpfile();
    struct deploy_result res = run(f, 32, out);
    fclose(out);
    assert_true(res.ok);
    assert_int_equal(res.healthy, 6);
    assert_int_equal(res.waves_done, 3);
    char *order = slurp(f->dir, "ORDER");
    /* h1 alone first; h2,h3 before any of h4..h6 */
    assert_int_equal(strncmp(order, "h1\n", 3), 0);
    char *p4 = strstr(order, "h4"), *p2 = strstr(order, "h2"),
         *p3 = strstr(order, "h3");
    assert_non_null(p4);
    assert_true(p2 < p4 && p3 < p4);
    free(order);
    release(f);
}

static void test_deploy_failed_host_stops_next_wave(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1, 2, 2};
    /* h2 fails; h3 (same wave) still finishes; h4, h5 never start */
    build(f, 5, waves, 3,
          "cd {dir} && echo {host} >> RAN && test {host} != h2");
    FILE *out = tmpfile();
    struct deploy_result res = run(f, 32, out);
    assert_false(res.ok);
    assert_int_equal(res.healthy, 2);
    assert_int_equal(res.failed, 1);
    assert_int_equal(res.skipped, 2);
    assert_int_equal(res.waves_done, 1);
    char *ran = slurp(f->dir, "RAN");
    assert_non_null(strstr(ran, "h3"));
    assert_null(strstr(ran, "h4"));
    assert_null(strstr(ran, "h5"));
    free(ran);
    /* the summary explains the stop */
    rewind(out);
    char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, out);
    text[n] = '\0';
    fclose(out);
    assert_non_null(strstr(text, "wave 2/3 stopped: 1 of 2 hosts failed"));
    assert_non_null(strstr(text, "step 'step' exit 1"));
    release(f);
}

static void test_deploy_forks_bound(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {6};
    /* each host notes how many are running at once through a lock dir */
    build(f, 6, waves, 1,
          "cd {dir} && echo start >> LOG && sleep 0.1 && echo end >> LOG");
    FILE *out = tmpfile();
    struct deploy_result res = run(f, 2, out);
    fclose(out);
    assert_true(res.ok);
    char *log = slurp(f->dir, "LOG");
    int running = 0, most = 0;
    for (char *p = log; *p;) {
        if (strncmp(p, "start", 5) == 0)
            running++;
        else
            running--;
        if (running > most)
            most = running;
        p = strchr(p, '\n');
        if (p == NULL)
            break;
        p++;
    }
    free(log);
    assert_int_equal(most, 2);
    release(f);
}

static void test_deploy_output_capped_and_shown(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1};
    build(f, 1, waves, 1,
          "head -c 100000 /dev/zero | tr '\\0' x; echo; exit 4");
    FILE *out = tmpfile();
    struct deploy_result res = run(f, 1, out);
    assert_false(res.ok);
    rewind(out);
    static char text[200000];
    size_t n = fread(text, 1, sizeof(text) - 1, out);
    text[n] = '\0';
    fclose(out);
    assert_non_null(strstr(text, "output of h1 (65536 bytes, cut)"));
    assert_non_null(strstr(text, "[output cut at 65536 bytes"));
    release(f);
}

static char *text_of(FILE *out)
{
    rewind(out);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    char chunk[1024];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), out)) > 0)
        buf_add(&b, chunk, n);
    fclose(out);
    return buf_detach(&b);
}

static void test_deploy_budget_exceeded_rolls_back_in_reverse(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1, 2, 3};
    /* wave 3: h4 and h6 fail; max_fail 1 is exceeded */
    build(f, 6, waves, 3,
          "echo {host} >> {dir}/RAN; test {host} != h4 -a {host} != h6");
    with_rollback(f, "echo {host} >> {dir}/RB");
    f->plan->max_fail.count = 1;
    FILE *out = tmpfile();
    struct deploy_result res = run(f, 32, out);
    char *text = text_of(out);
    assert_int_equal(res.verdict, DV_ROLLED_BACK);
    assert_int_equal(res.rolled_back, 6);
    assert_non_null(strstr(text, "wave 3/3 stopped: 2 of 3 hosts failed, "
                                 "max_fail is 1"));
    free(text);
    /* reverse wave order: wave 3 hosts, then wave 2, then h1 last */
    char *rb = slurp(f->dir, "RB");
    char *p1 = strstr(rb, "h1"), *p2 = strstr(rb, "h2"), *p3 = strstr(rb, "h3"),
         *p5 = strstr(rb, "h5");
    assert_non_null(p1);
    assert_non_null(p5);
    assert_true(p5 < p2 && p5 < p3);
    assert_true(p2 < p1 && p3 < p1);
    free(rb);
    release(f);
}

static void test_deploy_max_fail_100_goes_on(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {2, 2};
    /* the whole first wave fails; 100% means never stop */
    build(f, 4, waves, 2,
          "echo {host} >> {dir}/RAN; test {host} != h1 -a {host} != h2");
    f->plan->max_fail.percent = 100;
    FILE *out = tmpfile();
    struct deploy_result res = run(f, 32, out);
    fclose(out);
    assert_int_equal(res.verdict, DV_FAILED);
    assert_int_equal(res.failed, 2);
    assert_int_equal(res.healthy, 2);
    assert_int_equal(res.waves_done, 2);
    char *ran = slurp(f->dir, "RAN");
    assert_non_null(strstr(ran, "h4"));
    free(ran);
    release(f);
}

static void test_deploy_last_wave_failure_fails(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1, 1};
    build(f, 2, waves, 2, "test {host} != h2");
    FILE *out = tmpfile();
    struct deploy_result res = run(f, 32, out);
    char *text = text_of(out);
    assert_int_equal(res.verdict, DV_FAILED);
    assert_false(res.ok);
    assert_non_null(strstr(text, "wave 2/2 stopped"));
    free(text);
    release(f);
}

static void test_deploy_precheck_refuses(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {2};
    build(f, 2, waves, 1, "echo {host} >> {dir}/RAN");
    memset(&f->prestep, 0, sizeof(f->prestep));
    f->prestep.name = (char *)"backup fresh";
    f->prestep.run = (char *)"x";
    f->prestep.on = PLAN_ON_LOCAL;
    f->preonce.host = -1;
    f->preonce.cmd.step = &f->prestep;
    f->preonce.cmd.command = strdup("exit 1");
    f->ro.prechecks_once = &f->preonce;
    f->ro.nprechecks_once = 1;
    FILE *out = tmpfile();
    struct deploy_result res = run(f, 32, out);
    char *text = text_of(out);
    assert_int_equal(res.verdict, DV_REFUSED);
    assert_non_null(strstr(text, "refused: a precheck failed"));
    free(text);
    char *ran = slurp(f->dir, "RAN");
    assert_string_equal(ran, "");
    free(ran);
    release(f);
}

static void test_deploy_canary_pauses(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1, 2};
    build(f, 3, waves, 2, "echo {host} >> {dir}/RAN");
    FILE *out = tmpfile();
    struct deploy_result res = run_opts(f, 32, out, true, 0);
    char *text = text_of(out);
    assert_int_equal(res.verdict, DV_PAUSED);
    assert_non_null(strstr(text, "canary verified"));
    free(text);
    char *ran = slurp(f->dir, "RAN");
    assert_string_equal(ran, "h1\n");
    free(ran);
    release(f);
}

static void test_deploy_interrupt_pauses(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1, 1, 1};
    build(f, 3, waves, 3, "sleep 0.3; echo {host} >> {dir}/RAN");
    FILE *out = tmpfile();
    struct deploy_result res = run_opts(f, 32, out, false, 100);
    char *text = text_of(out);
    assert_int_equal(res.verdict, DV_PAUSED);
    assert_non_null(strstr(text, "interrupted (Ctrl-C) in wave 1"));
    free(text);
    /* the step in flight finished; nothing later started */
    char *ran = slurp(f->dir, "RAN");
    assert_string_equal(ran, "h1\n");
    free(ran);
    release(f);
}

static void test_deploy_irreversible_before_blocks_rollback(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1, 1};
    build(f, 2, waves, 2, "echo {host} >> {dir}/RAN; test {host} != h2");
    with_rollback(f, "echo {host} >> {dir}/RB");
    /* a migration before wave 1, marked irreversible */
    memset(&f->prestep, 0, sizeof(f->prestep));
    f->prestep.name = (char *)"migrate";
    f->prestep.run = (char *)"x";
    f->prestep.on = PLAN_ON_LOCAL;
    f->prestep.irreversible = true;
    f->preonce.host = -1;
    f->preonce.cmd.step = &f->prestep;
    f->preonce.cmd.command = strdup("true");
    f->ro.before = &f->preonce;
    f->ro.nbefore = 1;
    FILE *out = tmpfile();
    struct deploy_result res = run_opts(f, 32, out, false, 0);
    char *text = text_of(out);
    assert_int_equal(res.verdict, DV_PAUSED);
    assert_non_null(strstr(text, "automatic rollback blocked: the "
                                 "irreversible step 'migrate' ran on local"));
    free(text);
    char *rb = slurp(f->dir, "RB");
    assert_string_equal(rb, "");
    free(rb);
    f->ro.before = NULL;
    f->ro.nbefore = 0;
    release(f);
}

/* rollback.auto: false stops the engine's own rollback, never a human's
 * (drover rollback / abort run the engine with rollback_only). */
static void test_deploy_human_rollback_runs(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1, 1};
    build(f, 2, waves, 2, "echo {host} >> {dir}/RAN; test {host} != h2");
    with_rollback(f, "echo {host} >> {dir}/RB");
    f->plan->rollback_auto = false;
    FILE *out = tmpfile();
    struct deploy_result res = run(f, 32, out);
    assert_int_equal(res.verdict, DV_PAUSED);
    char *rb = slurp(f->dir, "RB");
    assert_string_equal(rb, "");
    free(rb);
    bool changed[] = {true, true}, done[] = {true, false};
    struct deploy_options o = {.forks = 4,
                               .out = out,
                               .start_wave = 1,
                               .changed_hosts = changed,
                               .done_hosts = done,
                               .rollback_only = true};
    res = run_with(f, &o);
    assert_int_equal(res.verdict, DV_ROLLED_BACK);
    assert_int_equal(res.rolled_back, 2);
    fclose(out);
    rb = slurp(f->dir, "RB");
    assert_string_equal(rb, "h2\nh1\n");
    free(rb);
    release(f);
}

/* A human's rollback with nothing changed has nothing to put back: rolled
 * back, not failed. A deploy step journaled in flight on a host is asked
 * for before that host rolls back; a host that cannot tell (here: the
 * local transport keeps no record) is not running it and rolls back. */
static void test_deploy_human_rollback_settles(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1, 1};
    build(f, 2, waves, 2, "echo {host} >> {dir}/RAN");
    with_rollback(f, "echo {host} >> {dir}/RB");
    f->plan->rollback_auto = false;
    FILE *out = tmpfile();
    bool changed[] = {false, false}, done[] = {false, false};
    struct deploy_options o = {.forks = 4,
                               .out = out,
                               .changed_hosts = changed,
                               .done_hosts = done,
                               .rollback_only = true};
    struct deploy_result res = run_with(f, &o);
    assert_int_equal(res.verdict, DV_ROLLED_BACK);
    assert_int_equal(res.rolled_back, 0);
    char *rb = slurp(f->dir, "RB");
    assert_string_equal(rb, "");
    free(rb);
    /* h2's step 0 in flight */
    changed[0] = changed[1] = true;
    struct deploy_inflight fl = {
        .host = "h2", .phase = STEPID_DEPLOY, .step = 0, .row = 0};
    o.start_wave = 1;
    o.inflight = &fl;
    o.ninflight = 1;
    res = run_with(f, &o);
    assert_int_equal(res.verdict, DV_ROLLED_BACK);
    assert_int_equal(res.rolled_back, 2);
    char *text = text_of(out);
    assert_non_null(strstr(text, "nothing to roll back: no host was changed"));
    assert_non_null(strstr(text, "h2: step '"));
    assert_non_null(strstr(text, "it is not running: rolling back"));
    free(text);
    rb = slurp(f->dir, "RB");
    assert_string_equal(rb, "h2\nh1\n");
    free(rb);
    char *ran = slurp(f->dir, "RAN");
    assert_string_equal(ran, ""); /* asked for, never run again */
    free(ran);
    release(f);
}

/* The singleton role: the holder found by asking (h2) may not hold it
 * (only h3 may): h2 restarts with the role off, h3 takes it at its turn,
 * and after the deploy only h3 runs it. */
static void test_deploy_singleton_moves_to_eligible(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1, 1, 1};
    build(f, 3, waves, 3, "echo $ROLE > {dir}/{host}.role");
    struct plan_check pc = {.kind = &check_command, .data = (char *)"x"};
    struct rollout_check rc[3];
    char *probe[3];
    for (size_t i = 0; i < 3; i++) {
        probe[i] =
            expand("grep -qx true {dir}/{host}.role", f->dir, f->hosts[i].name);
        rc[i] = (struct rollout_check){.check = &pc, .host = probe[i]};
        f->hosts[i].singleton_check = &rc[i];
        f->hosts[i].singleton_eligible = i == 2;
        char path[128];
        snprintf(path, sizeof(path), "%s/h%zu.role", f->dir, i + 1);
        FILE *fp = fopen(path, "w");
        fputs(i == 1 ? "true\n" : "false\n", fp);
        fclose(fp);
    }
    f->ro.singleton_host = 2;
    f->plan->singleton_role = strdup("cron");
    f->plan->singleton_env = strdup("ROLE");
    f->plan->singleton_check = &pc;
    FILE *out = tmpfile();
    struct deploy_result res = run(f, 32, out);
    char *text = text_of(out);
    assert_int_equal(res.verdict, DV_SUCCESS);
    assert_non_null(strstr(text, "held by h2; it is not one of "
                                 "singleton.hosts: it goes to h3"));
    assert_non_null(strstr(text, "vacant as planned until h3 takes it"));
    free(text);
    for (size_t i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "h%zu.role", i + 1);
        char *role = slurp(f->dir, name);
        assert_string_equal(role, i == 2 ? "true\n" : "false\n");
        free(role);
        free(probe[i]);
    }
    f->plan->singleton_check = NULL;
    release(f);
}

/* Each host state has one name (events, JSON, summary) and one journal
 * word; both read back as that state. */
static void test_deploy_state_spellings(void **state)
{
    (void)state;
    assert_string_equal(deploy_state_name(DH_ROLLED_BACK), "rolled-back");
    assert_string_equal(deploy_state_word(DH_ROLLED_BACK), "rolled back");
    assert_string_equal(deploy_state_name(DH_ROLLBACK_FAILED),
                        "rollback-failed");
    assert_string_equal(deploy_state_word(DH_ROLLBACK_FAILED),
                        "rollback failed");
    assert_string_equal(deploy_state_word(DH_HEALTHY), "healthy");
    for (int i = 0; i < DH_STATE_COUNT; i++) {
        enum deploy_host_state s = DH_STATE_COUNT;
        assert_true(deploy_state_parse(
            deploy_state_name((enum deploy_host_state)i), &s));
        assert_int_equal(s, i);
        s = DH_STATE_COUNT;
        assert_true(deploy_state_parse(
            deploy_state_word((enum deploy_host_state)i), &s));
        assert_int_equal(s, i);
    }
    enum deploy_host_state s;
    assert_false(deploy_state_parse("rolled_back", &s));
    assert_false(deploy_state_parse(NULL, &s));
    assert_string_equal(deploy_state_name(DH_STATE_COUNT), "?");
}

/* Every check of a gate leaves evidence in the journal: a host with more
 * checks than the eight drover once journaled gets a row for each. */
static void test_deploy_evidence_every_check(void **state)
{
    struct fixture *f = *state;
    size_t waves[] = {1};
    build(f, 1, waves, 1, "true");
    enum { N = 11 };
    struct plan_check pc[N];
    struct rollout_check rc[N];
    char names[N][8];
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "c%zu", i + 1);
        pc[i] = (struct plan_check){
            .kind = &check_command, .data = (char *)"true", .name = names[i]};
        rc[i] = (struct rollout_check){.check = &pc[i], .host = (char *)"true"};
    }
    f->hosts[0].health = rc;
    f->plan->checks = pc;
    f->plan->nchecks = N;
    char db[128];
    snprintf(db, sizeof(db), "%s/journal.db", f->dir);
    struct store *s = NULL;
    struct err e = {0};
    assert_int_equal(store_sqlite_open(db, false, &s, &e), ERR_OK);
    struct store_deploy_info in = {.plan = "t"};
    char id[STORE_ID_MAX];
    assert_int_equal(store_deploy_begin(s, &in, id, &e), ERR_OK);
    FILE *out = tmpfile();
    struct deploy_options o = {
        .forks = 1, .out = out, .store = s, .deploy_id = id};
    struct deploy_result res = run_with(f, &o);
    assert_int_equal(res.verdict, DV_SUCCESS);
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    bool seen[N] = {false};
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct store_check_row *c = &r->checks[i];
        if (strcmp(c->verdict, "pass") != 0)
            continue;
        assert_true(c->name[0] == 'c');
        size_t k = strtoul(c->name + 1, NULL, 10);
        assert_true(k >= 1 && k <= N);
        seen[k - 1] = true;
    }
    for (size_t i = 0; i < N; i++)
        assert_true(seen[i]);
    store_record_free(r);
    store_free(s);
    fclose(out);
    f->plan->checks = NULL;
    f->plan->nchecks = 0;
    release(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deploy_human_rollback_settles,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_human_rollback_runs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deploy_evidence_every_check, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deploy_singleton_moves_to_eligible,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_waves_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deploy_failed_host_stops_next_wave,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_forks_bound, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deploy_output_capped_and_shown,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_deploy_budget_exceeded_rolls_back_in_reverse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_max_fail_100_goes_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deploy_last_wave_failure_fails,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_precheck_refuses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deploy_canary_pauses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deploy_interrupt_pauses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_deploy_irreversible_before_blocks_rollback, setup, teardown),
        cmocka_unit_test(test_deploy_state_spellings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
