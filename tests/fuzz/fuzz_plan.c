/* tests/fuzz/fuzz_plan.c: libFuzzer on the plan reader. Whatever the bytes,
 * plan_load_buffer returns a plan that keeps the schema's promises (steps
 * with commands, checks with one target, valid wave sizes, sane health
 * timings), or ERR_PARSE with
 * every problem as "name:line:col: ...". Wave sizes and template names of a
 * plan that loads are computed too, since the rollout does that next. */
#include "buf.h"
#include "check_command.h"
#include "check_http.h"
#include "plan.h"
#include "template.h"
#include "wave.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_plan_name(const char *name, bool has_default, void *arg)
{
    (void)has_default;
    (void)arg;
    if (*name == '\0')
        abort();
}

/* A check is exactly one of http or command, with a sane status. */
static void fuzz_plan_check_one(const struct plan_check *pc)
{
    if (pc->kind == NULL || pc->timeout_ms < 0 ||
        (pc->kind == &check_command && pc->data == NULL))
        abort();
    if (pc->kind != &check_http)
        return;
    const struct check_http *c = check_http_of(pc);
    if (c->http == NULL || c->expect_status < 100 || c->expect_status > 599 ||
        (c->expect_status_max != 0 &&
         (c->expect_status_max < c->expect_status ||
          c->expect_status_max > 599)))
        abort();
}

static void fuzz_plan_check(const struct plan *p)
{
    if (p->name == NULL || p->hosts == NULL || p->file == NULL ||
        !json_is_object(p->vars) || p->nsteps == 0)
        abort();
    for (size_t i = 0; i < p->nsteps; i++) {
        const struct plan_step *st = &p->steps[i];
        if (st->run == NULL || st->name == NULL || st->timeout_ms < 0 ||
            st->pos.line < 1 || st->pos.col < 1)
            abort();
        struct err e = {0};
        (void)template_names(st->run, fuzz_plan_name, NULL, &e);
    }
    for (size_t i = 0; i < p->nchecks; i++)
        fuzz_plan_check_one(&p->checks[i]);
    for (size_t i = 0; i < p->nsmoke; i++)
        fuzz_plan_check_one(&p->smoke[i]);
    if (p->singleton_check != NULL)
        fuzz_plan_check_one(p->singleton_check);
    for (size_t i = 0; i < p->nbefore; i++)
        if (p->before[i].run == NULL || p->before[i].on == PLAN_ON_EACH)
            abort();
    for (size_t i = 0; i < p->nsteps; i++)
        if (p->steps[i].on != PLAN_ON_EACH)
            abort();
    if (p->canary.percent > 100 || p->max_fail.percent > 100 || p->lock == NULL)
        abort();
    if (p->interval_ms <= 0 || p->healthy_deadline_ms <= 0 ||
        p->min_healthy_ms < 0 || p->min_healthy_ms > p->healthy_deadline_ms)
        abort();
    for (size_t i = 0; i < p->nwaves; i++) {
        const struct plan_wave *w = &p->waves[i];
        if (w->percent == 0 ? w->count < 1 : w->percent < 1 || w->percent > 100)
            abort();
    }
    static const size_t fleets[] = {1, 2, 7, 100};
    for (size_t f = 0; f < sizeof(fleets) / sizeof(fleets[0]); f++) {
        size_t n = 0, sum = 0;
        size_t *sizes = wave_sizes(fleets[f], p->waves, p->nwaves, &n);
        for (size_t i = 0; i < n; i++) {
            if (sizes[i] == 0)
                abort();
            sum += sizes[i];
        }
        if (sum != fleets[f])
            abort();
        free(sizes);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf diags;
    buf_init(&diags, BUF_UNLIMITED);
    struct err e = {0};
    struct plan *p = NULL;
    enum err_code rc =
        plan_load_buffer("fuzz.yml", (const char *)data, size, &p, &diags, &e);
    if (rc == ERR_OK) {
        if (p == NULL || diags.len != 0 || e.code != ERR_OK)
            abort();
        fuzz_plan_check(p);
    } else {
        /* a failure has a place, and the first line is e: a problem, or
         * a limit met while parsing (common/yamlread.c) */
        if (p != NULL || (rc != ERR_PARSE && rc != ERR_LIMIT) || e.code != rc ||
            strncmp(e.msg, "fuzz.yml:", 9) != 0 ||
            strncmp(buf_cstr(&diags), "fuzz.yml:", 9) != 0)
            abort();
    }
    plan_free(p);
    buf_release(&diags);
    return 0;
}
