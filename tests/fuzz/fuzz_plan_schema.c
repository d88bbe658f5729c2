/* tests/fuzz/fuzz_plan_schema.c: libFuzzer on the whole plan schema and
 * what is built on it. Whatever the bytes: plan_load_buffer gives a plan
 * whose every key keeps its promises, or problems with a place; a plan
 * that loads resolves against a fixed inventory (canary, order, on_host,
 * when, templates) into waves that hold every host once, or into
 * problems, never a crash; every `when:` in it parses again the same. */
#include "buf.h"
#include "check_command.h"
#include "check_http.h"
#include "inventory.h"
#include "plan.h"
#include "rollout.h"
#include "template.h"
#include "when.h"
#include "window.h"
#include "wave.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_schema_ini[] = "[web]\n"
                                      "w1 tier=web n=1\n"
                                      "w2 tier=web n=2\n"
                                      "w3 tier=api\n"
                                      "[db]\n"
                                      "d1 ansible_port=2200\n";

static struct inventory *fuzz_schema_inv;
static json_t *fuzz_schema_vars;

static json_t *fuzz_schema_lookup(const char *name, void *arg)
{
    (void)arg;
    return json_object_get(fuzz_schema_vars, name);
}

static void fuzz_schema_steps(const struct plan_step *st, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (st[i].run == NULL || st[i].name == NULL || st[i].retries < 0 ||
            st[i].retries > 100 || st[i].delay_ms < 0 || st[i].timeout_ms < 0 ||
            st[i].pos.line < 1)
            abort();
        if (st[i].on_host != NULL && st[i].on != PLAN_ON_ONCE)
            abort();
        struct err e = {0};
        if (st[i].when != NULL &&
            when_names(st[i].when, NULL, NULL, &e) != ERR_OK)
            abort();
        for (size_t k = 0; k < st[i].nsecret_env; k++)
            if (st[i].secret_env[k] == NULL ||
                (st[i].env && json_object_get(st[i].env, st[i].secret_env[k])))
                abort();
    }
}

static void fuzz_schema_checks(const struct plan_check *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (c[i].kind == NULL ||
            (c[i].kind == &check_command && c[i].data == NULL))
            abort();
        if (c[i].kind != &check_http)
            continue;
        const struct check_http *h = check_http_of(&c[i]);
        if (h->expect_status < 100 || h->expect_status > 599 ||
            (h->expect_status_max != 0 &&
             (h->expect_status_max < h->expect_status ||
              h->expect_status_max > 599)))
            abort();
    }
}

static void fuzz_schema_check(const struct plan *p)
{
    if (p->lock == NULL || p->name == NULL || p->nsteps == 0)
        abort();
    fuzz_schema_steps(p->steps, p->nsteps);
    fuzz_schema_steps(p->prechecks, p->nprechecks);
    fuzz_schema_steps(p->before, p->nbefore);
    fuzz_schema_steps(p->rollback_steps, p->nrollback_steps);
    for (size_t i = 0; i < p->nbefore; i++)
        if (p->before[i].on == PLAN_ON_EACH)
            abort();
    for (size_t i = 0; i < p->nsteps; i++)
        if (p->steps[i].on != PLAN_ON_EACH)
            abort();
    fuzz_schema_checks(p->checks, p->nchecks);
    fuzz_schema_checks(p->smoke, p->nsmoke);
    if (p->singleton_check)
        fuzz_schema_checks(p->singleton_check, 1);
    if (p->max_fail.percent > 100 || p->max_fail.count < 0 ||
        p->canary.percent > 100 || p->canary.count < 0)
        abort();
    if (p->progress_deadline_ms != 0 &&
        p->progress_deadline_ms < p->healthy_deadline_ms)
        abort();
    if (p->singleton_role != NULL && p->singleton_env == NULL)
        abort();
    for (size_t i = 0; i < p->nwindows; i++) {
        struct window w;
        struct err e = {0};
        if (window_parse(p->windows[i], &w, &e) != ERR_OK)
            abort();
    }

    json_t *extra = json_pack("{s:s}", "version", "1");
    struct rollout_input in = {
        .extra = extra, .previous_version = "0", .deploy_id = "DEP-F"};
    struct rollout *ro = NULL;
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct err e = {0};
    if (rollout_new_input(p, fuzz_schema_inv, &in, &ro, &diags, &e) == ERR_OK) {
        size_t sum = 0;
        for (size_t w = 0; w < ro->nwaves; w++) {
            if (ro->wave_sizes[w] == 0)
                abort();
            sum += ro->wave_sizes[w];
        }
        if (sum != ro->nhosts)
            abort();
        for (size_t i = 0; i < ro->nhosts; i++)
            for (size_t k = i + 1; k < ro->nhosts; k++)
                if (ro->hosts[i].ih == ro->hosts[k].ih)
                    abort();
        for (size_t i = 0; i < ro->nhosts; i++)
            for (size_t k = 0; k < p->nsteps; k++)
                if (!ro->hosts[i].steps[k].skip &&
                    ro->hosts[i].steps[k].command == NULL)
                    abort();
        for (size_t i = 0; i < ro->nbefore; i++)
            if (ro->before[i].host >= (long)ro->nhosts)
                abort();
        if (p->singleton_role != NULL &&
            ro->singleton_host != (long)ro->nhosts - 1)
            abort();
    } else if (ro != NULL || e.code == ERR_OK) {
        abort();
    }
    rollout_free(ro);
    buf_release(&diags);
    json_decref(extra);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_schema_inv == NULL) {
        fuzz_schema_inv = inv_new();
        struct err e = {0};
        if (inv_load_buffer(fuzz_schema_inv, "f.ini", fuzz_schema_ini,
                            strlen(fuzz_schema_ini), INV_FORMAT_INI,
                            &e) != ERR_OK)
            abort();
        fuzz_schema_vars = json_pack("{s:s,s:i,s:[s]}", "tier", "web", "n", 2,
                                     "groups", "web");
    }
    /* the whole input is also tried as a when: condition */
    if (size > 0 && size < 512) {
        char *cond = malloc(size + 1);
        memcpy(cond, data, size);
        cond[size] = '\0';
        bool out;
        struct err e = {0};
        if (strlen(cond) == size &&
            when_names(cond, NULL, NULL, &e) == ERR_OK) {
            struct err e2 = {0};
            enum err_code crc =
                when_eval(cond, fuzz_schema_lookup, NULL, &out, &e2);
            /* what parses once evaluates, or names an undefined variable
             * or values it cannot order */
            if (crc != ERR_OK && crc != ERR_NOTFOUND && crc != ERR_PARSE)
                abort();
        }
        free(cond);
    }
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct err e = {0};
    struct plan *p = NULL;
    enum err_code rc =
        plan_load_buffer("fuzz.yml", (const char *)data, size, &p, &diags, &e);
    if (rc == ERR_OK) {
        if (p == NULL || diags.len != 0)
            abort();
        fuzz_schema_check(p);
    } else if (p != NULL || diags.len == 0 ||
               strncmp(buf_cstr(&diags), "fuzz.yml:", 9) != 0) {
        abort();
    }
    plan_free(p);
    buf_release(&diags);
    return 0;
}
