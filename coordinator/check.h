/* coordinator/check.h: the kinds of health, smoke and singleton checks, as
 * a table (check.c). A check is one struct from the plan to the gate: the
 * plan holds its parsed keys (struct plan_check, plan.h), the rollout its
 * rendering for one host (struct rollout_check, rollout.h), and the gate
 * probes that rendering through its kind. Each kind lives in its own
 * check_<kind>.c; docs/hacking.md walks through adding one. */
#ifndef DROVER_CHECK_H
#define DROVER_CHECK_H

#include "health.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct buf;
struct err;
struct exec_spec;
struct plan_check;
struct plan_reader;
struct rollout_check;
struct rollout_scope;
struct yaml_node_s;

/* What one kind of check knows how to do. Every function is required
 * unless its comment says otherwise. */
struct check_kind {
    const char *key;         /* the key naming the kind in the plan ("http") */
    const char *const *keys; /* the other keys it reads (NULL-terminated) */

    const char *example; /* the key with a value, for messages ("http:
                            URL") */

    /* Read the keys of check node n (what names it in messages; problems
     * go to r through plan.h's plan_key_* functions) and return the kind's
     * data for plan_check.data. own is false when the check is of another
     * kind (or of none) and n has some of this kind's keys: validate them,
     * say they do not apply, and return NULL. */
    void *(*parse)(struct plan_reader *r, const struct yaml_node_s *n,
                   const char *what, bool own);
    /* Free what parse returned. */
    void (*free)(void *data);

    /* Render c for one host into rc->host (set even on failure), with
     * rollout_scope_render (rollout.h); false with te and *why set by the
     * first template that fails. */
    bool (*render)(struct rollout_scope *s, const struct plan_check *c,
                   struct rollout_check *rc, struct err *te, const char **why);
    /* Free rc->host (NULL is a no-op); NULL: the kind renders nothing
     * that needs freeing. */
    void (*free_host)(void *host);

    /* `drover plan`: the check in words (after "    LABEL: "), then its
     * fields of --json (between "name" and "timeout_ms"). */
    void (*text)(struct buf *b, const struct rollout_check *rc);
    void (*json)(const struct rollout_check *rc, json_t *o);

    /* Its name in evidence when the plan gives none. */
    void (*label)(const struct rollout_check *rc, char *out, size_t outlen);

    /* Probe from the coordinator (exec NULL): fn exactly once, unless the
     * probe is cancelled first: from the loop (return the probe), or from
     * inside probe (return NULL). rolled_back: the old
     * release is back, so an expectation of the new one cannot hold. */
    struct probe *(*probe)(struct health *h, const struct rollout_check *rc,
                           bool rolled_back, probe_done_fn *fn, void *arg);
    /* Or run on the host (probe NULL): the command the gate runs through
     * the host's connection (gate.h, gate_set_exec); exit 0 passes. */
    void (*exec)(const struct rollout_check *rc, struct exec_spec *s);
};

/* Every kind, in the order a check's keys are looked up (NULL-terminated;
 * check.c). */
extern const struct check_kind *const check_kinds[];

/* The keys a check may have: "name", every kind's key, every kind's other
 * keys, "timeout" (NULL-terminated, static). */
const char *const *check_keys(void);

/* Every kind's example in table order, joined as a sentence: "'http:
 * URL' or 'command: CMD'" (static storage). */
const char *check_kind_examples(void);

/* The name of rc in evidence: the plan's name, else the kind's label. */
const char *check_label(const struct rollout_check *rc, char *out,
                        size_t outlen);

/* Whether any of rc[0..n) runs on the host (needs its connection). */
bool check_on_host(const struct rollout_check *rc, size_t n);

#endif
