/* coordinator/plan.h: a plan is a runbook that runs: the YAML file an
 * operator writes (docs/plan.md). plan_load reads and validates it with
 * libyaml; every problem is reported as file:line:col, all in one pass.
 * The plan is pure data: templates stay unrendered until the rollout
 * (rollout.h) resolves them for each host. */
#ifndef DROVER_PLAN_H
#define DROVER_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct buf;
struct check_kind;
struct plan_reader;

/* A position in the plan file, for messages. */
struct plan_pos {
    int line; /* 1-based */
    int col;  /* 1-based */
};

/* Where a step runs (`on:`). */
enum plan_on {
    PLAN_ON_EACH, /* every host of its wave (the default) */
    PLAN_ON_ONCE, /* one host, once per deploy (on_host picks it, else the
                     first host of the first wave) */
    PLAN_ON_LOCAL /* the coordinator's machine, once per deploy */
};

/* One command run on a host. */
struct plan_step {
    char *name;          /* label; defaults to the command */
    char *run;           /* shell command template */
    int64_t timeout_ms;  /* 0: none */
    struct plan_pos pos; /* where the step starts */
    enum plan_on on;     /* where it runs */
    char *on_host;       /* PLAN_ON_ONCE: host pattern, or NULL */
    char *when;          /* condition on host variables, or NULL */
    int retries;         /* extra attempts after a failure */
    int64_t delay_ms;    /* between attempts */
    bool ignore_errors;  /* a failure does not fail the host */
    json_t *env;         /* object: NAME -> value template (may be NULL) */
    char **secret_env;   /* names of coordinator environment variables
                            whose values are secrets: sent on stdin or in
                            the agent message, never on the command line */
    size_t nsecret_env;
    bool idempotent;   /* safe to re-run after a coordinator crash */
    bool irreversible; /* automatic rollback cannot go past it */
};

/* One health, smoke or singleton check. What it probes is its kind's
 * (check.h): kind->parse read its keys into data. */
struct plan_check {
    const struct check_kind *kind; /* what it is; NULL only in a plan
                                      refused for it */
    void *data;                    /* the kind's keys (check_<kind>.h) */
    char *name;                    /* label in evidence, or NULL */
    int64_t timeout_ms;            /* per probe; 0: default */
    struct plan_pos pos;           /* where the check starts */
};

/* One element of strategy.waves: a host count or a percentage. */
struct plan_wave {
    int count;   /* hosts, when percent is 0 */
    int percent; /* 1..100 of the hosts targeted, or 0 */
};

/* What to do with an unreachable host. */
enum plan_unreachable {
    PLAN_UNREACHABLE_FAIL, /* counts as a failed host (default) */
    PLAN_UNREACHABLE_PAUSE /* pause the deploy for the operator */
};

/* Host order inside the targeted set, before waves are cut. */
enum plan_order {
    PLAN_ORDER_INVENTORY,      /* as the pattern returns them (default) */
    PLAN_ORDER_SORTED,         /* by name */
    PLAN_ORDER_REVERSE_SORTED, /* by name, descending */
    PLAN_ORDER_SHUFFLE         /* seeded shuffle (seed recorded) */
};

struct plan_notify {
    char *webhook;       /* URL template (rendered once per deploy) */
    unsigned on;         /* enum notify_event bits (notify.h) */
    struct plan_pos pos; /* where the webhook is */
};

struct plan {
    char *file;            /* path it was read from */
    char *name;            /* plan name */
    char *lock;            /* lock name; default the plan name */
    bool require_ticket;   /* require.ticket */
    bool require_approver; /* require.approver */
    char **require_env;    /* require.env: variables that must be set */
    size_t nrequire_env;
    char **windows; /* "Mon-Fri 09:00-16:00 Europe/Berlin" */
    size_t nwindows;
    struct plan_wave canary;    /* strategy.canary: count 0 = no canary */
    char *canary_hosts;         /* strategy.canary_hosts pattern, or NULL */
    struct plan_pos canary_pos; /* where strategy.canary is (0:0 none) */
    struct plan_pos canary_hosts_pos; /* where canary_hosts is */
    bool pause_after_canary;          /* strategy.pause_after_canary */
    enum plan_order order;            /* strategy.order */
    uint64_t seed;                    /* strategy.seed for shuffle */
    bool seed_set;                   /* seed given (else chosen and recorded) */
    struct plan_wave max_fail;       /* per wave; {0,0} = none may fail */
    struct plan_wave max_fail_total; /* whole deploy */
    bool max_fail_total_set;         /* max_fail_total given */
    enum plan_unreachable unreachable; /* strategy.unreachable */
    int64_t pause_ms;            /* strategy.pause between waves; 0 none */
    bool pause_manual;           /* strategy.pause: manual */
    struct plan_step *prechecks; /* before any change; a failure refuses */
    size_t nprechecks;
    struct plan_step *before; /* once per deploy, before wave 1 */
    size_t nbefore;
    struct plan_check *smoke; /* after the last wave, on every host */
    size_t nsmoke;
    int64_t progress_deadline_ms; /* health.progress_deadline; 0 none */
    char *singleton_role;         /* singleton.role, or NULL */
    char *singleton_env; /* singleton.env: variable exported true/false */
    struct plan_check *singleton_check; /* singleton.check, or NULL */
    char *singleton_hosts; /* singleton.hosts: pattern of the hosts that
                              may hold the role; NULL: any of the plan */
    struct plan_pos singleton_hosts_pos; /* where singleton.hosts is */
    bool rollback_auto;                  /* rollback.auto (default true) */
    struct plan_step *rollback_steps;    /* rollback.steps */
    size_t nrollback_steps;
    struct plan_notify *notify; /* notifications */
    size_t nnotify;
    char *hosts;             /* host pattern; default "all" */
    json_t *vars;            /* plan vars (object; values may be
                                templates) */
    struct plan_wave *waves; /* strategy.waves; the last repeats */
    size_t nwaves;           /* 0: one wave of every host */
    struct plan_step *steps; /* steps, in order */
    size_t nsteps;
    struct plan_check *checks; /* health.checks, all must pass */
    size_t nchecks;
    int64_t interval_ms;         /* health.interval; default 2s */
    int64_t min_healthy_ms;      /* health.min_healthy_time; default 0 */
    int64_t healthy_deadline_ms; /* health.healthy_deadline; default 2m */
};

/* Read and validate the plan at path. On success *out is a new plan
 * (caller frees with plan_free). On failure every problem is appended to
 * diags (one "file:line:col: what" line each) when diags is not NULL, and
 * e holds the first; returns ERR_PARSE (bad YAML or schema) or ERR_SYS. */
enum err_code plan_load(const char *path, struct plan **out, struct buf *diags,
                        struct err *e);

/* The same from memory; name is used in messages. */
enum err_code plan_load_buffer(const char *name, const char *data, size_t len,
                               struct plan **out, struct buf *diags,
                               struct err *e);

/* Variables from YAML text (coordinator/extravars.c's `-e @FILE`): a
 * mapping read and typed as the plan's vars: are (*out, caller decrefs).
 * name is used in messages; problems go to diags as name:line:col and e
 * holds the first: ERR_PARSE or ERR_LIMIT. */
enum err_code plan_vars_parse(const char *name, const char *data, size_t len,
                              json_t **out, struct buf *diags, struct err *e);

/* For check kinds (check_<kind>.c): reading the keys of a check node
 * while a plan is read. Each reports its problem to r at the node and
 * returns NULL (false) on it. plan_key_get: the value of key in mapping n,
 * or NULL. plan_key_keys: refuse keys of mapping n not in allowed. The
 * others read n itself: a template (syntax checked, rendered per host), a
 * plain string (no `{{`), a mapping, a mapping of strings (values are
 * templates) to a JSON object, any value to JSON, an integer in [min, max],
 * a list (its items through plan_key_item). */
struct yaml_node_s;
const struct yaml_node_s *plan_key_get(struct plan_reader *r,
                                       const struct yaml_node_s *n,
                                       const char *key);
void plan_key_keys(struct plan_reader *r, const struct yaml_node_s *n,
                   const char *where, const char *const *allowed);
void plan_key_problem(struct plan_reader *r, const struct yaml_node_s *n,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
char *plan_key_template(struct plan_reader *r, const struct yaml_node_s *n,
                        const char *what);
char *plan_key_string(struct plan_reader *r, const struct yaml_node_s *n,
                      const char *what);
bool plan_key_mapping(struct plan_reader *r, const struct yaml_node_s *n,
                      const char *what);
json_t *plan_key_string_map(struct plan_reader *r, const struct yaml_node_s *n,
                            const char *what);
json_t *plan_key_json(struct plan_reader *r, const struct yaml_node_s *n);
bool plan_key_int(struct plan_reader *r, const struct yaml_node_s *n,
                  const char *what, long min, long max, long *out);
/* The scalar text of n, or NULL when n is not a scalar; its type in words
 * ("a list"); the number of items of list n and item i. */
const char *plan_key_scalar(const struct yaml_node_s *n);
const char *plan_key_type(const struct yaml_node_s *n);
size_t plan_key_len(const struct yaml_node_s *n);
const struct yaml_node_s *plan_key_item(struct plan_reader *r,
                                        const struct yaml_node_s *n, size_t i);

/* NULL is a no-op. */
void plan_free(struct plan *p);

#endif
