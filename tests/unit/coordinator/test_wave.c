/* tests/unit/coordinator/test_wave.c: wave sizes with Ansible's `serial`
 * semantics, from a table of (hosts, spec) -> sizes: lists whose last
 * element repeats, percentages (floor, at least 1), tiny fleets and
 * remainders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wave.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WAVE_CASE_MAX = 16 };

/* One row: a spec like "1,3,6" or "25%,50%" ("" for none) over nhosts
 * hosts gives want (a comma-separated list of sizes, "" for none). */
struct wave_case {
    size_t nhosts;    /* hosts targeted */
    const char *spec; /* strategy.waves, comma-separated */
    const char *want; /* expected sizes, comma-separated */
};

static const struct wave_case wave_cases[] = {
    /* the spine's example: [1, 3, 6] over 10 */
    {10, "1,3,6", "1,3,6"},
    /* the last element repeats; the remainder is a short last wave */
    {12, "1,3,6", "1,3,6,2"},
    {22, "1,3,6", "1,3,6,6,6"},
    {4, "1,3,6", "1,3"},
    {3, "1,3,6", "1,2"},
    /* tiny fleets */
    {1, "1,3,6", "1"},
    {2, "1,3,6", "1,1"},
    {1, "", "1"},
    {2, "", "2"},
    {1, "50%", "1"},
    {2, "50%", "1,1"},
    {2, "10%", "1,1"},
    /* no spec: one wave of everything */
    {10, "", "10"},
    /* a single integer repeats */
    {10, "3", "3,3,3,1"},
    {9, "3", "3,3,3"},
    {5, "100", "5"},
    /* percentages of the hosts targeted, floor */
    {10, "25%", "2,2,2,2,2"},
    {10, "30%", "3,3,3,1"},
    {10, "33%", "3,3,3,1"},
    {7, "50%", "3,3,1"},
    {3, "50%", "1,1,1"},
    {10, "100%", "10"},
    /* at least one host, however small the percentage */
    {10, "1%", "1,1,1,1,1,1,1,1,1,1"},
    {99, "1%", NULL}, /* 99 waves of 1: checked by count below */
    /* mixed lists: percentages are of the whole fleet, not what is left */
    {10, "1,10%,50%", "1,1,5,3"},
    {20, "1,25%,50%", "1,5,10,4"},
    {100, "1,10%,50%", "1,10,50,39"},
    /* a spec longer than the fleet needs */
    {3, "1,1,1,1,1", "1,1,1"},
    /* floor with integer arithmetic: 29% of 100 is 29, not 28 */
    {100, "29%", "29,29,29,13"},
    {1000, "7%", NULL},
};

/* Parse "1,10%,50%" into spec; returns the count. */
static size_t wave_parse_spec(const char *s, struct plan_wave *spec)
{
    size_t n = 0;
    while (*s) {
        char *end = NULL;
        long v = strtol(s, &end, 10);
        assert_true(end > s);
        assert_true(n < WAVE_CASE_MAX);
        memset(&spec[n], 0, sizeof(spec[n]));
        if (*end == '%') {
            spec[n].percent = (int)v;
            end++;
        } else {
            spec[n].count = (int)v;
        }
        n++;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

static void wave_join(const size_t *sizes, size_t n, char *out, size_t len)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(out + off, len - off, "%s%zu", i ? "," : "",
                                sizes[i]);
}

static void test_wave_table(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(wave_cases) / sizeof(wave_cases[0]); c++) {
        const struct wave_case *wc = &wave_cases[c];
        struct plan_wave spec[WAVE_CASE_MAX];
        size_t nspec = wave_parse_spec(wc->spec, spec);
        size_t nwaves = 77;
        size_t *sizes = wave_sizes(wc->nhosts, spec, nspec, &nwaves);
        assert_non_null(sizes);
        size_t sum = 0;
        for (size_t i = 0; i < nwaves; i++) {
            assert_true(sizes[i] >= 1);
            sum += sizes[i];
        }
        if (sum != wc->nhosts)
            fail_msg("hosts=%zu spec='%s': sizes sum to %zu", wc->nhosts,
                     wc->spec, sum);
        if (wc->want != NULL) {
            char got[512];
            wave_join(sizes, nwaves, got, sizeof(got));
            if (strcmp(got, wc->want) != 0)
                fail_msg("hosts=%zu spec='%s': got [%s], want [%s]", wc->nhosts,
                         wc->spec, got, wc->want);
        }
        free(sizes);
    }
}

static void test_wave_many_small(void **state)
{
    (void)state;
    struct plan_wave spec[1] = {{.percent = 1}};
    size_t nwaves = 0;
    size_t *sizes = wave_sizes(99, spec, 1, &nwaves);
    assert_int_equal(nwaves, 99);
    for (size_t i = 0; i < nwaves; i++)
        assert_int_equal(sizes[i], 1);
    free(sizes);

    /* 7% of 1000 is 70: 14 waves of 70 and a last one of 20 */
    spec[0].percent = 7;
    sizes = wave_sizes(1000, spec, 1, &nwaves);
    assert_int_equal(nwaves, 15);
    assert_int_equal(sizes[0], 70);
    assert_int_equal(sizes[13], 70);
    assert_int_equal(sizes[14], 20);
    free(sizes);
}

static void test_wave_no_hosts(void **state)
{
    (void)state;
    struct plan_wave spec[2] = {{.count = 1}, {.percent = 50}};
    size_t nwaves = 77;
    assert_null(wave_sizes(0, spec, 2, &nwaves));
    assert_int_equal(nwaves, 0);
    nwaves = 77;
    assert_null(wave_sizes(0, NULL, 0, &nwaves));
    assert_int_equal(nwaves, 0);
}

static void test_wave_size_of(void **state)
{
    (void)state;
    struct plan_wave w = {.percent = 10};
    assert_int_equal(wave_size_of(&w, 9), 1); /* floor 0 -> at least 1 */
    assert_int_equal(wave_size_of(&w, 10), 1);
    assert_int_equal(wave_size_of(&w, 19), 1);
    assert_int_equal(wave_size_of(&w, 20), 2);
    w.percent = 100;
    assert_int_equal(wave_size_of(&w, 1), 1);
    assert_int_equal(wave_size_of(&w, 1000000), 1000000);
    w.percent = 0;
    w.count = 4;
    /* a count is not capped here: wave_sizes caps it at what is left */
    assert_int_equal(wave_size_of(&w, 2), 4);
}

/* (hosts, canary, spec) -> sizes, canary wave first. */
struct wave_canary_case {
    size_t nhosts;    /* hosts targeted */
    const char *cany; /* strategy.canary: "1", "10%" or "" for none */
    const char *spec; /* strategy.waves */
    const char *want; /* expected sizes */
};

static const struct wave_canary_case wave_canary_cases[] = {
    {10, "", "1,3,6", "1,3,6"},
    {10, "1", "1,3,6", "1,1,3,5"},
    {10, "1", "", "1,9"},
    {10, "2", "50%", "2,5,3"},
    /* a canary percentage is of every host targeted, floor, at least 1 */
    {10, "10%", "50%", "1,5,4"},
    {10, "5%", "", "1,9"},
    {40, "10%", "25%", "4,10,10,10,6"},
    /* tiny fleets: the canary may be every host there is */
    {1, "1", "1,3,6", "1"},
    {2, "1", "1,3,6", "1,1"},
    {2, "5", "", "2"},
    {3, "100%", "1", "3"},
};

static size_t wave_parse_one(const char *s, struct plan_wave *w)
{
    memset(w, 0, sizeof(*w));
    return *s ? wave_parse_spec(s, w) : 0;
}

static void test_wave_canary_table(void **state)
{
    (void)state;
    for (size_t c = 0;
         c < sizeof(wave_canary_cases) / sizeof(wave_canary_cases[0]); c++) {
        const struct wave_canary_case *wc = &wave_canary_cases[c];
        struct plan_wave canary, spec[WAVE_CASE_MAX];
        wave_parse_one(wc->cany, &canary);
        size_t nspec = wave_parse_one(wc->spec, spec);
        size_t ncanary = wave_canary_size(&canary, wc->nhosts);
        size_t nwaves = 0;
        size_t *sizes =
            wave_sizes_canary(wc->nhosts, ncanary, spec, nspec, &nwaves);
        char got[512];
        wave_join(sizes, nwaves, got, sizeof(got));
        if (strcmp(got, wc->want) != 0)
            fail_msg("hosts=%zu canary='%s' spec='%s': got [%s], want [%s]",
                     wc->nhosts, wc->cany, wc->spec, got, wc->want);
        free(sizes);
    }
    /* no canary: 0; a canary larger than the fleet is not capped here */
    struct plan_wave none = {0}, big = {.count = 50};
    assert_int_equal(wave_canary_size(&none, 10), 0);
    assert_int_equal(wave_canary_size(&big, 10), 50);
    size_t nwaves = 77;
    assert_null(wave_sizes_canary(0, 1, NULL, 0, &nwaves));
    assert_int_equal(nwaves, 0);
}

static void wave_order_is(enum plan_order order, uint64_t seed,
                          const char *want)
{
    static const char *const names[] = {"web10", "web2", "Web3", "db1", "web1"};
    size_t idx[5] = {0, 1, 2, 3, 4};
    wave_order(idx, names, 5, order, seed);
    char got[128] = "";
    for (size_t i = 0; i < 5; i++) {
        size_t len = strlen(got);
        snprintf(got + len, sizeof(got) - len, "%s%s", i ? " " : "",
                 names[idx[i]]);
    }
    if (want != NULL && strcmp(got, want) != 0)
        fail_msg("order %d: got '%s', want '%s'", (int)order, got, want);
    /* always a permutation */
    unsigned seen = 0;
    for (size_t i = 0; i < 5; i++)
        seen |= 1u << idx[i];
    assert_int_equal(seen, 0x1f);
}

static void test_wave_order(void **state)
{
    (void)state;
    wave_order_is(PLAN_ORDER_INVENTORY, 0, "web10 web2 Web3 db1 web1");
    /* bytewise, as Python sorts str: upper case first, web10 < web2 */
    wave_order_is(PLAN_ORDER_SORTED, 0, "Web3 db1 web1 web10 web2");
    wave_order_is(PLAN_ORDER_REVERSE_SORTED, 0, "web2 web10 web1 db1 Web3");

    /* shuffle: the same seed gives the same order, seeds differ */
    const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    size_t x[8], y[8];
    int differ = 0;
    for (uint64_t seed = 1; seed < 20; seed++) {
        for (size_t i = 0; i < 8; i++)
            x[i] = y[i] = i;
        wave_order(x, names, 8, PLAN_ORDER_SHUFFLE, seed);
        wave_order(y, names, 8, PLAN_ORDER_SHUFFLE, seed);
        assert_memory_equal(x, y, sizeof(x));
        for (size_t i = 0; i < 8; i++)
            differ += x[i] != i;
    }
    assert_true(differ > 0);
    wave_order_is(PLAN_ORDER_SHUFFLE, 42, NULL);

    /* fresh seeds are not all the same */
    uint64_t s1 = wave_seed_random(), s2 = wave_seed_random();
    uint64_t s3 = wave_seed_random();
    assert_false(s1 == s2 && s2 == s3);
}

/* The thresholds in words (drover plan and the deploy header): the
 * plan's real budgets, never one fixed sentence. */
static void wave_words_has(const struct plan *p, const size_t *sizes,
                           size_t nwaves, size_t nhosts, const char *want)
{
    json_t *w = wave_words(p, sizes, nwaves, nhosts, false);
    char *all = json_dumps(w, 0);
    json_decref(w);
    if (strstr(all, want) == NULL)
        fail_msg("no '%s' in %s", want, all);
    free(all);
}

static void test_wave_words(void **state)
{
    (void)state;
    size_t sizes[] = {1, 2, 3};
    struct plan p;
    memset(&p, 0, sizeof(p));
    p.rollback_auto = true;
    wave_words_has(&p, sizes, 3, 6,
                   "stops if any host of a wave fails (max_fail 0)");
    p.max_fail.count = 1;
    wave_words_has(&p, sizes, 3, 6,
                   "stops if more than 1 host of a wave fails (max_fail 1)");
    p.max_fail.count = 0;
    p.max_fail.percent = 50;
    wave_words_has(&p, sizes, 3, 6,
                   "wave 1 more than 0 of 1, wave 2 more than 1 of 2, wave 3 "
                   "more than 1 of 3");
    p.max_fail.percent = 100;
    wave_words_has(&p, sizes, 3, 6, "never stops for failed hosts");
    p.max_fail_total_set = true;
    p.max_fail_total.count = 2;
    wave_words_has(&p, sizes, 3, 6,
                   "stops if more than 2 hosts fail across the deploy "
                   "(max_fail_total 2 of 6)");
    p.rollback_auto = false;
    p.nrollback_steps = 1;
    wave_words_has(&p, sizes, 3, 6, "rollback.auto: false");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wave_table),
        cmocka_unit_test(test_wave_many_small),
        cmocka_unit_test(test_wave_no_hosts),
        cmocka_unit_test(test_wave_size_of),
        cmocka_unit_test(test_wave_canary_table),
        cmocka_unit_test(test_wave_order),
        cmocka_unit_test(test_wave_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
