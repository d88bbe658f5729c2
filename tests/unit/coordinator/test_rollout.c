/* tests/unit/coordinator/test_rollout.c: a plan resolved against a small
 * INI inventory (written to a temp directory): hosts in wave order,
 * connection details, commands and URLs rendered per host with the
 * variable precedence (-e > plan vars > inventory), every problem
 * named with its step and host before anything runs, and `address` from
 * the ssh config's HostName for ssh hosts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "check_http.h"
#include "inventory.h"
#include "plan.h"
#include "rollout.h"
#include "ssh.h"
#include "sshconfig.h"
#include "sshopt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char rollout_ini[] =
    "# a small fleet\n"
    "[web]\n"
    "web1 ansible_host=127.0.1.1 ansible_port=2222 ansible_user=deploy "
    "msg='a b'\n"
    "web2 ansible_host=127.0.1.2 app_port=7070\n"
    "web3 tier=inventory\n"
    "\n"
    "[web:vars]\n"
    "app_port=8080\n"
    "msg=hi there\n"
    "\n"
    "[db]\n"
    "db1 ansible_host=127.0.1.9\n";

/* The temp directory, the inventory file in it, and the loaded inventory. */
struct rollout_fixture {
    char dir[64];
    char path[96];
    struct inventory *inv;
};

static struct inventory *rollout_inventory(struct rollout_fixture *fx,
                                           const char *ini)
{
    snprintf(fx->dir, sizeof(fx->dir),
             "/tmp/drover-test-rollout-XX"
             "XX"
             "XX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof(fx->path), "%s/hosts.ini", fx->dir);
    FILE *f = fopen(fx->path, "w");
    assert_non_null(f);
    fputs(ini, f);
    fclose(f);
    fx->inv = inv_new();
    struct err e = {0};
    if (inv_load(fx->inv, fx->path, &e) != ERR_OK)
        fail_msg("inventory: %s", e.msg);
    return fx->inv;
}

static void rollout_fixture_release(struct rollout_fixture *fx)
{
    inv_free(fx->inv);
    unlink(fx->path);
    rmdir(fx->dir);
}

static struct plan *rollout_plan(const char *yaml)
{
    struct plan *p = NULL;
    struct err e = {0};
    if (plan_load_buffer("plan.yml", yaml, strlen(yaml), &p, NULL, &e) !=
        ERR_OK)
        fail_msg("plan: %s", e.msg);
    return p;
}

/* -e arguments as a JSON object (a new reference). */
static json_t *rollout_extra(const char *const *args)
{
    json_t *x = json_object();
    for (; args && *args; args++) {
        struct err e = {0};
        assert_int_equal(rollout_extra_var(x, *args, &e), ERR_OK);
    }
    return x;
}

static const char plan_web[] =
    "name: web\n"
    "hosts: web\n"
    "vars:\n"
    "  tier: plan\n"
    "  greeting: \"hello {{ inventory_hostname }}\"\n"
    "strategy:\n"
    "  waves: [1, 2]\n"
    "steps:\n"
    "  - name: install\n"
    "    run: install {{ version }} on {{ inventory_hostname }} at "
    "{{ address }} in wave {{ wave }}\n"
    "  - name: say\n"
    "    run: echo {{ msg | quote }} {{ tier }} {{ greeting }}\n"
    "health:\n"
    "  checks:\n"
    "    - http: http://{{ address }}:{{ app_port }}/health\n";

/* Ansible's magic variables (docs/plan.md) and rendered expect values:
 * group_names, groups (with subscripts), inventory_hostname_short,
 * play_hosts (the wave) and ansible_play_hosts (every targeted host), in
 * templates and when:, and expect.json / expect.body rendered per host. */
static void test_rollout_magic_and_expect(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv =
        rollout_inventory(&fx, "[web]\nweb1.example.com\nweb2\n[db]\ndb1\n"
                               "[prod:children]\nweb\n");
    struct plan *p = rollout_plan(
        "hosts: web\n"
        "strategy: {waves: [1]}\n"
        "steps:\n"
        "  - run: echo {{ group_names }} {{ inventory_hostname_short }} "
        "{{ play_hosts }} {{ ansible_play_hosts | length }} "
        "{{ groups['db'][0] }}\n"
        "    when: group_names | default([]) | length > 0\n"
        "  - run: db only\n"
        "    when: \"'db' in group_names\"\n"
        "health:\n"
        "  checks:\n"
        "    - http: http://{{ address }}/health\n"
        "      expect: {json: {version: '{{ version }}', n: 3, l: "
        "['{{ inventory_hostname_short }}']}, body: 'v={{ version }}'}\n");
    const char *args[] = {"version=7", NULL};
    json_t *extra = rollout_extra(args);
    struct rollout *ro = NULL;
    struct err e = {0};
    if (rollout_new(p, inv, extra, &ro, NULL, &e) != ERR_OK)
        fail_msg("%s", e.msg);
    json_decref(extra);
    assert_int_equal(ro->nhosts, 2);
    assert_string_equal(ro->hosts[0].steps[0].command,
                        "echo [\"prod\",\"web\"] web1 "
                        "[\"web1.example.com\"] 2 db1");
    assert_string_equal(ro->hosts[1].steps[0].command,
                        "echo [\"prod\",\"web\"] web2 [\"web2\"] 2 db1");
    assert_true(ro->hosts[0].steps[1].skip);
    const struct check_http_host *c = ro->hosts[0].health[0].host;
    assert_string_equal(c->body, "v=7");
    char *j = json_dumps(c->json, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(j, "{\"l\":[\"web1\"],\"n\":3,\"version\":\"7\"}");
    free(j);
    /* the plan keeps what was written */
    assert_string_equal(
        json_string_value(json_object_get(
            check_http_of(&p->checks[0])->expect_json, "version")),
        "{{ version }}");
    rollout_free(ro);
    plan_free(p);
    rollout_fixture_release(&fx);
}

static void test_rollout_waves_and_rendering(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(&fx, rollout_ini);
    struct plan *p = rollout_plan(plan_web);
    const char *args[] = {"version=2", NULL};
    json_t *extra = rollout_extra(args);
    struct rollout *ro = NULL;
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct err e = {0};
    if (rollout_new(p, inv, extra, &ro, &diags, &e) != ERR_OK)
        fail_msg("%s", buf_cstr(&diags));
    json_decref(extra); /* the rollout holds its own reference */
    assert_int_equal(diags.len, 0);

    assert_int_equal(ro->nhosts, 3);
    assert_int_equal(ro->nwaves, 2);
    assert_int_equal(ro->wave_sizes[0], 1);
    assert_int_equal(ro->wave_sizes[1], 2);
    assert_int_equal(rollout_wave_start(ro, 0), 0);
    assert_int_equal(rollout_wave_start(ro, 1), 1);
    assert_int_equal(rollout_wave_start(ro, 2), 3);

    struct {
        const char *name, *address, *user;
        int port;
        size_t wave;
        const char *install, *say, *url;
    } want[] = {
        {"web1", "127.0.1.1", "deploy", 2222, 0,
         "install 2 on web1 at 127.0.1.1 in wave 1",
         "echo 'a b' plan hello web1", "http://127.0.1.1:8080/health"},
        {"web2", "127.0.1.2", NULL, 0, 1,
         "install 2 on web2 at 127.0.1.2 in wave 2",
         "echo 'hi there' plan hello web2", "http://127.0.1.2:7070/health"},
        /* no ansible_host: the name is the address */
        {"web3", "web3", NULL, 0, 1, "install 2 on web3 at web3 in wave 2",
         "echo 'hi there' plan hello web3", "http://web3:8080/health"},
    };
    for (size_t i = 0; i < 3; i++) {
        const struct rollout_host *h = &ro->hosts[i];
        assert_string_equal(h->name, want[i].name);
        assert_ptr_equal(h->ih, inv_host_find(inv, want[i].name));
        assert_string_equal(h->addr.address, want[i].address);
        if (want[i].user == NULL)
            assert_null(h->addr.user);
        else
            assert_string_equal(h->addr.user, want[i].user);
        assert_int_equal(h->addr.port, want[i].port);
        assert_int_equal(h->wave, want[i].wave);
        assert_string_equal(h->steps[0].command, want[i].install);
        assert_string_equal(h->steps[1].command, want[i].say);
        assert_string_equal(
            ((const struct check_http_host *)h->health[0].host)->url,
            want[i].url);

        struct target t = rollout_target(h);
        assert_ptr_equal(t.name, h->name);
        assert_ptr_equal(t.address, h->addr.address);
        assert_int_equal(t.port, h->addr.port);
        assert_ptr_equal(t.user, h->addr.user);
    }
    rollout_free(ro);
    rollout_free(NULL);
    plan_free(p);
    buf_release(&diags);
    rollout_fixture_release(&fx);
}

static void test_rollout_precedence(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(&fx, rollout_ini);
    struct plan *p =
        rollout_plan("hosts: web3\n"
                     "vars: {tier: plan, app_port: 1}\n"
                     "steps: [{run: '{{ tier }} {{ app_port }} {{ msg }}'}]\n");
    struct err e = {0};
    struct rollout *ro = NULL;

    /* plan vars override the inventory's (host and group) */
    assert_int_equal(rollout_new(p, inv, NULL, &ro, NULL, &e), ERR_OK);
    assert_string_equal(ro->hosts[0].steps[0].command, "plan 1 hi there");
    rollout_free(ro);

    /* -e overrides both */
    const char *args[] = {"tier=cli", "msg=from -e", NULL};
    json_t *extra = rollout_extra(args);
    assert_int_equal(rollout_new(p, inv, extra, &ro, NULL, &e), ERR_OK);
    assert_string_equal(ro->hosts[0].steps[0].command, "cli 1 from -e");
    rollout_free(ro);
    json_decref(extra);

    plan_free(p);
    rollout_fixture_release(&fx);
}

static void test_rollout_one_wave_of_all(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(&fx, rollout_ini);
    struct plan *p = rollout_plan("steps: [{run: 'echo {{ wave }}'}]\n");
    struct err e = {0};
    struct rollout *ro = NULL;
    assert_int_equal(rollout_new(p, inv, NULL, &ro, NULL, &e), ERR_OK);
    /* hosts: all, in inventory order, one wave */
    assert_int_equal(ro->nhosts, 4);
    assert_int_equal(ro->nwaves, 1);
    assert_int_equal(ro->wave_sizes[0], 4);
    const char *names[] = {"web1", "web2", "web3", "db1"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(ro->hosts[i].name, names[i]);
        assert_int_equal(ro->hosts[i].wave, 0);
        assert_string_equal(ro->hosts[i].steps[0].command, "echo 1");
    }
    rollout_free(ro);
    plan_free(p);
    rollout_fixture_release(&fx);
}

static void test_rollout_undefined_named_per_host(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(&fx, rollout_ini);
    /* no -e version: every host's install step fails, and the check */
    struct plan *p = rollout_plan(
        "hosts: web\n"
        "steps:\n"
        "  - name: install\n"
        "    run: install {{ version }}\n"
        "health:\n"
        "  checks:\n"
        "    - http: http://{{ address }}:{{ nope | default(80) }}/{{ path "
        "}}\n");
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct err e = {0};
    struct rollout *ro = (struct rollout *)&diags;
    assert_int_equal(rollout_new(p, inv, NULL, &ro, &diags, &e), ERR_INVALID);
    assert_null(ro);
    const char *want =
        "plan.yml:3:5: step 'install', host web1: undefined variable "
        "'version' (define it in the inventory, the plan's vars or with "
        "-e version=...)\n"
        "plan.yml:7:7: health check, host web1: undefined variable 'path' "
        "(define it in the inventory, the plan's vars or with -e path=...)\n"
        "plan.yml:3:5: step 'install', host web2: undefined variable "
        "'version' (define it in the inventory, the plan's vars or with "
        "-e version=...)\n"
        "plan.yml:7:7: health check, host web2: undefined variable 'path' "
        "(define it in the inventory, the plan's vars or with -e path=...)\n"
        "plan.yml:3:5: step 'install', host web3: undefined variable "
        "'version' (define it in the inventory, the plan's vars or with "
        "-e version=...)\n"
        "plan.yml:7:7: health check, host web3: undefined variable 'path' "
        "(define it in the inventory, the plan's vars or with -e path=...)\n";
    assert_string_equal(buf_cstr(&diags), want);
    assert_int_equal(e.code, ERR_INVALID);
    assert_true(strncmp(e.msg, want, strcspn(want, "\n")) == 0);
    buf_release(&diags);
    plan_free(p);
    rollout_fixture_release(&fx);
}

static void test_rollout_vars_are_templates(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(&fx, rollout_ini);
    struct plan *p = rollout_plan("hosts: web1\n"
                                  "vars:\n"
                                  "  base: /srv/{{ inventory_hostname }}\n"
                                  "  dir: '{{ base }}/v{{ version }}'\n"
                                  "steps: [{run: 'cd {{ dir | quote }}'}]\n");
    const char *args[] = {"version=3", NULL};
    json_t *extra = rollout_extra(args);
    struct err e = {0};
    struct rollout *ro = NULL;
    if (rollout_new(p, inv, extra, &ro, NULL, &e) != ERR_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(ro->hosts[0].steps[0].command, "cd /srv/web1/v3");
    rollout_free(ro);
    json_decref(extra);
    plan_free(p);

    /* a variable that refers to itself is an error, not a hang */
    p = rollout_plan("hosts: web1\n"
                     "vars: {a: '{{ b }}', b: 'x{{ a }}'}\n"
                     "steps: [{name: loop, run: 'echo {{ a }}'}]\n");
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    assert_int_equal(rollout_new(p, inv, NULL, &ro, &diags, &e), ERR_INVALID);
    assert_null(ro);
    assert_non_null(strstr(buf_cstr(&diags), "plan.yml:3:9: step 'loop', "
                                             "host web1: variable 'a' refers "
                                             "to itself"));
    buf_release(&diags);
    plan_free(p);

    /* an error inside a variable's template names that variable */
    err_clear(&e);
    p = rollout_plan("hosts: web1\n"
                     "vars: {a: '{{ missing }}'}\n"
                     "steps: [{name: s, run: 'echo {{ a }}'}]\n");
    assert_int_equal(rollout_new(p, inv, NULL, &ro, NULL, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "host web1: variable 'a': undefined "
                                  "variable 'missing'"));
    plan_free(p);

    /* under default() such a variable counts as undefined, and a later
     * error is reported as itself */
    err_clear(&e);
    p = rollout_plan("hosts: web1\n"
                     "vars: {a: '{{ missing }}'}\n"
                     "steps: [{name: s, run: '{{ a | default(1) }}'},\n"
                     "        {name: t, run: '{{ a | d(2) }} {{ b }}'}]\n");
    assert_int_equal(rollout_new(p, inv, NULL, &ro, NULL, &e), ERR_INVALID);
    assert_string_equal(e.msg, "plan.yml:4:9: step 't', host web1: undefined "
                               "variable 'b' (define it in the inventory, "
                               "the plan's vars or with -e b=...)");
    plan_free(p);
    rollout_fixture_release(&fx);
}

static void test_rollout_no_hosts(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(&fx, rollout_ini);
    struct plan *p = rollout_plan("hosts: nosuchgroup\nsteps: [{run: x}]\n");
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct err e = {0};
    struct rollout *ro = (struct rollout *)&diags;
    assert_int_not_equal(rollout_new(p, inv, NULL, &ro, &diags, &e), ERR_OK);
    assert_null(ro);
    assert_non_null(strstr(e.msg, "nosuchgroup"));
    buf_release(&diags);
    plan_free(p);
    rollout_fixture_release(&fx);
}

static void test_rollout_bad_port(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(
        &fx, "[web]\nweb1 ansible_port=http\nweb2 ansible_port=70000\n"
             "web3 ansible_port=22\n");
    struct plan *p = rollout_plan("steps: [{run: x}]\n");
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct err e = {0};
    struct rollout *ro = NULL;
    assert_int_equal(rollout_new(p, inv, NULL, &ro, &diags, &e), ERR_INVALID);
    assert_null(ro);
    assert_string_equal(buf_cstr(&diags),
                        "inventory, host web1: ansible_port 'http' is not a "
                        "port number (1-65535)\n"
                        "inventory, host web2: ansible_port '70000' is not a "
                        "port number (1-65535)\n");
    buf_release(&diags);
    plan_free(p);
    rollout_fixture_release(&fx);
}

static void test_rollout_extra_var(void **state)
{
    (void)state;
    json_t *x = json_object();
    struct err e = {0};
    assert_int_equal(rollout_extra_var(x, "version=2", &e), ERR_OK);
    assert_int_equal(rollout_extra_var(x, "empty=", &e), ERR_OK);
    assert_int_equal(rollout_extra_var(x, "url=http://h/?a=b", &e), ERR_OK);
    assert_int_equal(rollout_extra_var(x, "_x1=y", &e), ERR_OK);
    /* the last one wins, as on Ansible's command line */
    assert_int_equal(rollout_extra_var(x, "version=3", &e), ERR_OK);
    assert_string_equal(json_string_value(json_object_get(x, "version")), "3");
    assert_string_equal(json_string_value(json_object_get(x, "empty")), "");
    assert_string_equal(json_string_value(json_object_get(x, "url")),
                        "http://h/?a=b");
    assert_int_equal(json_object_size(x), 4);

    assert_int_equal(rollout_extra_var(x, "version", &e), ERR_USAGE);
    assert_string_equal(
        e.msg, "-e 'version': expected name=value (e.g. -e version=2)");
    err_clear(&e);
    assert_int_equal(rollout_extra_var(x, "=2", &e), ERR_USAGE);
    err_clear(&e);
    assert_int_equal(rollout_extra_var(x, "1x=2", &e), ERR_USAGE);
    assert_string_equal(e.msg, "-e '1x=2': '1x' is not a variable name");
    err_clear(&e);
    assert_int_equal(rollout_extra_var(x, "a-b=2", &e), ERR_USAGE);
    assert_int_equal(rollout_extra_var(x, "a b=2", &e), ERR_USAGE);
    assert_int_equal(json_object_size(x), 4);
    json_decref(x);
}

/* Host names of ro in wave order, space-separated. */
static void rollout_names(const struct rollout *ro, char *out, size_t len)
{
    out[0] = '\0';
    for (size_t i = 0; i < ro->nhosts; i++) {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", i ? " " : "", ro->hosts[i].name);
    }
}

/* Resolve yaml against the fixture inventory; ERR_OK expected. */
static struct rollout *rollout_ok(struct inventory *inv, struct plan **p,
                                  const char *yaml,
                                  const struct rollout_input *in)
{
    *p = rollout_plan(yaml);
    struct rollout_input none = {0};
    struct rollout *ro = NULL;
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct err e = {0};
    if (rollout_new_input(*p, inv, in ? in : &none, &ro, &diags, &e) != ERR_OK)
        fail_msg("%s", buf_cstr(&diags));
    buf_release(&diags);
    return ro;
}

/* Resolve yaml and expect exactly the diagnostics want. */
static void rollout_fails(struct inventory *inv, const char *yaml,
                          const char *want)
{
    struct plan *p = rollout_plan(yaml);
    struct rollout_input none = {0};
    struct rollout *ro = (struct rollout *)&none;
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct err e = {0};
    assert_int_equal(rollout_new_input(p, inv, &none, &ro, &diags, &e),
                     ERR_INVALID);
    assert_null(ro);
    if (strcmp(buf_cstr(&diags), want) != 0)
        fail_msg("got\n%swant\n%s", buf_cstr(&diags), want);
    buf_release(&diags);
    plan_free(p);
}

static void test_rollout_canary(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(&fx, rollout_ini);
    char names[256];
    struct plan *p;
    struct rollout *ro =
        rollout_ok(inv, &p,
                   "hosts: web\nstrategy: {canary: 1, waves: [2]}\n"
                   "steps: [{run: 'echo {{ wave }}'}]\n",
                   NULL);
    assert_true(ro->has_canary);
    assert_int_equal(ro->nwaves, 2);
    assert_int_equal(ro->wave_sizes[0], 1);
    assert_int_equal(ro->wave_sizes[1], 2);
    rollout_names(ro, names, sizeof(names));
    assert_string_equal(names, "web1 web2 web3");
    assert_string_equal(ro->hosts[0].steps[0].command, "echo 1");
    assert_string_equal(ro->hosts[2].steps[0].command, "echo 2");
    rollout_free(ro);
    plan_free(p);

    /* canary_hosts moves its hosts to the front */
    ro = rollout_ok(inv, &p,
                    "hosts: web\nstrategy: {canary_hosts: web3}\n"
                    "steps: [{run: x}]\n",
                    NULL);
    assert_true(ro->has_canary);
    rollout_names(ro, names, sizeof(names));
    assert_string_equal(names, "web3 web1 web2");
    assert_int_equal(ro->nwaves, 2);
    assert_int_equal(ro->wave_sizes[0], 1);
    assert_int_equal(ro->wave_sizes[1], 2);
    rollout_free(ro);
    plan_free(p);

    /* contradictions, at the place in the plan */
    rollout_fails(inv,
                  "hosts: web\nstrategy:\n  canary: 5\nsteps: [{run: x}]\n",
                  "plan.yml:3:11: strategy.canary is 5 hosts but hosts 'web' "
                  "selects only 3\n");
    rollout_fails(inv,
                  "hosts: web\nstrategy:\n  canary_hosts: db1\n"
                  "steps: [{run: x}]\n",
                  "plan.yml:3:17: strategy.canary_hosts 'db1' matches none of "
                  "the hosts this plan targets\n");
    rollout_fails(inv,
                  "hosts: web\nstrategy:\n  canary: 2\n"
                  "  canary_hosts: web2\nsteps: [{run: x}]\n",
                  "plan.yml:3:11: strategy.canary is 2 hosts but canary_hosts "
                  "'web2' matches only 1\n");
    rollout_fixture_release(&fx);
}

static void test_rollout_order(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(&fx, rollout_ini);
    char names[256];
    struct plan *p;
    struct rollout *ro = rollout_ok(
        inv, &p, "strategy: {order: sorted}\nsteps: [{run: x}]\n", NULL);
    rollout_names(ro, names, sizeof(names));
    assert_string_equal(names, "db1 web1 web2 web3");
    assert_int_equal(ro->seed, 0);
    rollout_free(ro);
    plan_free(p);

    ro = rollout_ok(inv, &p,
                    "strategy: {order: reverse_sorted, waves: [3]}\n"
                    "steps: [{run: x}]\n",
                    NULL);
    rollout_names(ro, names, sizeof(names));
    assert_string_equal(names, "web3 web2 web1 db1");
    assert_int_equal(ro->hosts[3].wave, 1);
    rollout_free(ro);
    plan_free(p);

    /* a given seed is used and recorded; the same seed, the same order */
    ro = rollout_ok(inv, &p,
                    "strategy: {order: shuffle, seed: 42}\nsteps: [{run: x}]\n",
                    NULL);
    assert_int_equal(ro->seed, 42);
    rollout_names(ro, names, sizeof(names));
    rollout_free(ro);
    plan_free(p);
    ro = rollout_ok(inv, &p,
                    "strategy: {order: shuffle, seed: 42}\nsteps: [{run: x}]\n",
                    NULL);
    char again[256];
    rollout_names(ro, again, sizeof(again));
    assert_string_equal(names, again);
    rollout_free(ro);
    plan_free(p);
    rollout_fixture_release(&fx);
}

static void test_rollout_when_and_once(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(&fx, rollout_ini);
    struct plan *p;
    struct rollout *ro = rollout_ok(
        inv, &p,
        "hosts: web\n"
        "strategy: {waves: [2]}\n"
        "before:\n"
        "  - {name: migrate, run: 'migrate on {{ inventory_hostname }}'}\n"
        "  - {name: pick, run: 'on {{ inventory_hostname }}', on_host: web3}\n"
        "  - {name: here, run: 'local {{ inventory_hostname }}',"
        " on: local}\n"
        "steps:\n"
        "  - {name: only3, run: 'echo {{ tier }}',\n"
        "     when: \"tier is defined and tier == 'inventory'\"}\n"
        "  - {name: all, run: 'echo all'}\n",
        NULL);
    /* when: false skips the step for that host, unrendered */
    assert_true(ro->hosts[0].steps[0].skip);
    assert_null(ro->hosts[0].steps[0].command);
    assert_false(ro->hosts[2].steps[0].skip);
    assert_string_equal(ro->hosts[2].steps[0].command, "echo inventory");
    assert_string_equal(ro->hosts[0].steps[1].command, "echo all");
    /* once: the first host of the first wave, or on_host's; local: -1 */
    assert_int_equal(ro->nbefore, 3);
    assert_int_equal(ro->before[0].host, 0);
    assert_string_equal(ro->before[0].cmd.command, "migrate on web1");
    assert_int_equal(ro->before[1].host, 2);
    assert_string_equal(ro->before[1].cmd.command, "on web3");
    assert_int_equal(ro->before[2].host, -1);
    assert_string_equal(ro->before[2].cmd.command, "local localhost");
    rollout_free(ro);
    plan_free(p);

    /* ... a local step has no host, so no inventory variables */
    rollout_fails(inv,
                  "hosts: web\n"
                  "before:\n"
                  "  - {name: here, run: 'echo {{ msg }}', on: local}\n"
                  "steps: [{run: x}]\n",
                  "plan.yml:3:5: before step 'here', host localhost: "
                  "undefined variable 'msg' (define it in the inventory, the "
                  "plan's vars or with -e msg=...)\n");
    /* ... and on_host must pick a targeted host */
    rollout_fails(inv,
                  "hosts: web\n"
                  "before:\n"
                  "  - {name: m, run: x, on_host: db1}\n"
                  "steps: [{run: x}]\n",
                  "plan.yml:3:5: on_host, host db1: the pattern matches none "
                  "of the hosts this plan targets\n");
    rollout_fixture_release(&fx);
}

static void test_rollout_builtins_and_files(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(&fx, rollout_ini);
    const char *yaml = "hosts: web1\nsingleton: {role: cron, env: CRON}\n"
                       "steps: [{run: '{{ previous_version }} {{ deploy_id "
                       "}} {{ version }}'}]\n";
    /* -e @file.yml merges a mapping of variables */
    char path[128];
    snprintf(path, sizeof(path), "%s/extra.yml", fx.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("version: 7\n", f);
    fclose(f);
    json_t *extra = json_object();
    char arg[140];
    snprintf(arg, sizeof(arg), "@%s", path);
    struct err e = {0};
    assert_int_equal(rollout_extra_var(extra, arg, &e), ERR_OK);
    struct rollout_input in = {.extra = extra,
                               .previous_version = "6",
                               .deploy_id = "DEP-2026-11-22-001"};
    struct plan *p;
    struct rollout *ro = rollout_ok(inv, &p, yaml, &in);
    assert_string_equal(ro->hosts[0].steps[0].command,
                        "6 DEP-2026-11-22-001 7");
    /* the role starts on the last host of the last wave */
    assert_int_equal(ro->singleton_host, 0);
    assert_true(ro->hosts[0].singleton);
    rollout_free(ro);
    plan_free(p);
    json_decref(extra);

    /* unknown previous_version: undefined, and the message says where it
     * comes from and what to pass */
    rollout_fails(inv,
                  "hosts: web1\nsteps: [{name: s, run: '{{ previous_version "
                  "}}'}]\n",
                  "plan.yml:2:9: step 's', host web1: previous_version is "
                  "unknown: no successful deploy of plan 'plan' is recorded "
                  "yet; pass -e previous_version=RELEASE (the release a "
                  "rollback restores)\n");
    /* deploy_id: assigned when a deploy starts */
    rollout_fails(inv,
                  "hosts: web1\nsteps: [{name: s, run: '{{ deploy_id }}'}]\n",
                  "plan.yml:2:9: step 's', host web1: deploy_id is assigned "
                  "when a deploy starts, and this command gave none "
                  "(rollout_input.deploy_id)\n");

    /* a bad variables file */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("version: [\n", f);
    fclose(f);
    extra = json_object();
    err_clear(&e);
    assert_int_equal(rollout_extra_var(extra, arg, &e), ERR_PARSE);
    assert_true(strncmp(e.msg, path, strlen(path)) == 0);
    err_clear(&e);
    assert_int_equal(rollout_extra_var(extra, "@", &e), ERR_USAGE);
    json_decref(extra);
    unlink(path);
    rollout_fixture_release(&fx);
}

static const char alias_ini[] = "web1\n"
                                "other ansible_host=web2\n"
                                "agent1 drover_transport=agent\n"
                                "plain ansible_host=10.0.0.7\n";

static const char alias_config[] = "Host web1\n"
                                   "    HostName 127.0.1.1\n"
                                   "Host web2 agent1\n"
                                   "    HostName %h.fleet.internal\n"
                                   "    Port 2222\n";

static const char alias_plan[] =
    "hosts: all\n"
    "steps: [{name: s, run: 'at {{ address }}'}]\n"
    "health: {checks: [{http: 'http://{{ address }}:8080/health/ready'}]}\n";

/* The host of ro called name. */
static const struct rollout_host *rollout_host_named(const struct rollout *ro,
                                                     const char *name)
{
    for (size_t i = 0; i < ro->nhosts; i++)
        if (strcmp(ro->hosts[i].name, name) == 0)
            return &ro->hosts[i];
    fail_msg("no host %s", name);
    return NULL;
}

static void rollout_check_address(const struct rollout *ro, const char *name,
                                  const char *address, const char *alias)
{
    const struct rollout_host *h = rollout_host_named(ro, name);
    char want[256];
    assert_string_equal(h->addr.address, address);
    if (alias == NULL)
        assert_null(h->addr.alias);
    else
        assert_string_equal(h->addr.alias, alias);
    snprintf(want, sizeof(want), "at %s", address);
    assert_string_equal(h->steps[0].command, want);
    snprintf(want, sizeof(want), "http://%s:8080/health/ready", address);
    assert_string_equal(
        ((const struct check_http_host *)h->health[0].host)->url, want);
    /* the ssh transport is handed the alias: it maps it itself (Port) */
    struct target tg = rollout_target(h);
    assert_string_equal(tg.address, alias ? alias : address);
}

static void test_rollout_ssh_config_address(void **state)
{
    (void)state;
    struct rollout_fixture fx;
    struct inventory *inv = rollout_inventory(&fx, alias_ini);
    char cfgpath[128];
    snprintf(cfgpath, sizeof(cfgpath), "%s/ssh_config", fx.dir);
    FILE *f = fopen(cfgpath, "w");
    assert_non_null(f);
    fputs(alias_config, f);
    fclose(f);

    /* --ssh-config FILE: read once, aliases mapped */
    struct ssh_options so;
    ssh_options_init(&so);
    struct err e = {0};
    assert_int_equal(sshopt_apply(&so, SSHOPT_SSH_CONFIG, cfgpath, &e), ERR_OK);
    struct sshconfig *cfg = NULL;
    if (sshopt_config(&so, &cfg, &e) != ERR_OK)
        fail_msg("%s", e.msg);
    assert_non_null(cfg);
    assert_ptr_equal(so.config, cfg);
    assert_true(so.config_read);
    struct rollout_input in = {.ssh_config = cfg};
    struct plan *p;
    struct rollout *ro = rollout_ok(inv, &p, alias_plan, &in);
    rollout_check_address(ro, "web1", "127.0.1.1", "web1");
    /* ansible_host is the alias looked up, %h expanded */
    rollout_check_address(ro, "other", "web2.fleet.internal", "web2");
    /* the config is an SSH client setting: agents keep their address */
    rollout_check_address(ro, "agent1", "agent1", NULL);
    rollout_check_address(ro, "plain", "10.0.0.7", NULL);
    rollout_free(ro);
    plan_free(p);
    sshconfig_free(cfg);

    /* --ssh-config none: the aliases stay */
    ssh_options_init(&so);
    assert_int_equal(sshopt_apply(&so, SSHOPT_SSH_CONFIG, "none", &e), ERR_OK);
    cfg = NULL;
    assert_int_equal(sshopt_config(&so, &cfg, &e), ERR_OK);
    assert_null(cfg);
    assert_true(so.config_read);
    in.ssh_config = cfg;
    ro = rollout_ok(inv, &p, alias_plan, &in);
    rollout_check_address(ro, "web1", "web1", NULL);
    rollout_check_address(ro, "other", "web2", NULL);
    rollout_free(ro);
    plan_free(p);

    /* a bad config: file:line:col, before anything is resolved */
    f = fopen(cfgpath, "w");
    assert_non_null(f);
    fputs("Host web1\n    Port http\n", f);
    fclose(f);
    ssh_options_init(&so);
    so.config_file = cfgpath;
    err_clear(&e);
    assert_int_equal(sshopt_config(&so, &cfg, &e), ERR_PARSE);
    assert_null(cfg);
    char want[200];
    snprintf(want, sizeof(want), "%s:2:10: Port 'http'", cfgpath);
    assert_true(strncmp(e.msg, want, strlen(want)) == 0);
    unlink(cfgpath);
    rollout_fixture_release(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollout_waves_and_rendering),
        cmocka_unit_test(test_rollout_magic_and_expect),
        cmocka_unit_test(test_rollout_precedence),
        cmocka_unit_test(test_rollout_one_wave_of_all),
        cmocka_unit_test(test_rollout_undefined_named_per_host),
        cmocka_unit_test(test_rollout_vars_are_templates),
        cmocka_unit_test(test_rollout_no_hosts),
        cmocka_unit_test(test_rollout_bad_port),
        cmocka_unit_test(test_rollout_extra_var),
        cmocka_unit_test(test_rollout_canary),
        cmocka_unit_test(test_rollout_order),
        cmocka_unit_test(test_rollout_when_and_once),
        cmocka_unit_test(test_rollout_builtins_and_files),
        cmocka_unit_test(test_rollout_ssh_config_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
