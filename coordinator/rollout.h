/* coordinator/rollout.h: a plan resolved against an inventory: the hosts
 * the pattern selects, split into waves, with every step command and check
 * URL rendered for each host. Everything a deploy will do is known here,
 * before any host is touched, so an undefined variable or an empty target
 * stops the deploy before it starts (and `drover plan` can print it). */
#ifndef DROVER_ROLLOUT_H
#define DROVER_ROLLOUT_H

#include "err.h"
#include "hostaddr.h"
#include "transport.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct buf;
struct inventory;
struct inv_host;
struct plan;
struct sshconfig;

/* One step rendered for one host. */
struct rollout_cmd {
    const struct plan_step *step; /* the plan's step (borrowed) */
    char *command;                /* rendered command; NULL when skip */
    bool skip;                    /* `when` is false for this host */
    json_t *env;                  /* rendered NAME -> string, or NULL */
};

/* One check rendered for one host by its kind (check.h). */
struct rollout_check {
    const struct plan_check *check; /* the plan's check (borrowed) */
    void *host; /* what check->kind rendered (check_<kind>.h), or NULL */
};

struct rollout_host {
    const struct inv_host *ih;     /* inventory host (borrowed) */
    const char *name;              /* inventory_hostname (borrowed) */
    struct hostaddr addr;          /* how to reach it: its inventory variables,
                                      the ssh config's HostName applied
                                      (hostaddr_map); addr.address is where drover
                                      connects */
    size_t wave;                   /* 0-based wave */
    struct rollout_cmd *steps;     /* plan->nsteps */
    struct rollout_cmd *rollback;  /* plan->nrollback_steps */
    struct rollout_cmd *prechecks; /* plan->nprechecks; only `each` ones
                                      are rendered here (others skip) */
    struct rollout_check *health;  /* plan->nchecks */
    struct rollout_check *smoke;   /* plan->nsmoke */
    struct rollout_check *singleton_check; /* or NULL */
    bool singleton_eligible; /* singleton.hosts matches it: it may hold
                                the singleton role */
    bool singleton;          /* the holder drover assumes when it cannot ask (no
                                singleton.check): the last eligible host in wave
                                order. With a check the engine asks every host */
};

/* A step run once per deploy (on: once / on: local). */
struct rollout_once {
    struct rollout_cmd cmd; /* rendered for its host */
    long host;              /* index in hosts, or -1 for local */
};

struct rollout {
    const struct plan *plan;     /* borrowed */
    const struct inventory *inv; /* borrowed */
    json_t *extra;               /* -e variables (owned reference) */
    struct rollout_host *hosts;  /* in wave order */
    size_t nhosts;
    size_t *wave_sizes; /* hosts per wave */
    size_t nwaves;
    bool has_canary;     /* wave 0 is the canary wave */
    uint64_t seed;       /* shuffle seed used (order: shuffle), else 0 */
    long singleton_host; /* the assumed holder (rollout_host.singleton),
                            or -1 */
    struct rollout_once *prechecks_once; /* prechecks on: once / local */
    size_t nprechecks_once;
    struct rollout_once *before; /* before steps, in plan order */
    size_t nbefore;
    char *previous_version;             /* built-in previous_version, or NULL */
    char *deploy_id;                    /* built-in deploy_id, or NULL */
    const struct sshconfig *ssh_config; /* rollout_input's (borrowed) */
    json_t *magic;   /* Ansible's magic variables that are the same for
                        every host: groups, ansible_play_hosts(_all) */
    json_t *batches; /* per wave, its host names (play_hosts) */
    char **webhooks; /* plan->notify[i].webhook rendered for the deploy
                        (as an on: local step: no host variables) */
};

/* What the caller knows besides the plan and the inventory. */
struct rollout_input {
    json_t *extra;                /* -e variables (object, may be NULL) */
    const char *previous_version; /* from the journal, or NULL: unknown */
    const char *deploy_id;        /* DEP-..., or NULL (not assigned yet) */
    const struct sshconfig *ssh_config; /* maps ssh hosts' aliases to
                                           their HostName (address), or
                                           NULL: no mapping */
};

/* Resolve plan p against inv with extra variables (a JSON object, may be
 * NULL; a reference is taken). Every problem (no hosts, undefined
 * variables per host and step) is appended to diags; e holds the first. */
enum err_code rollout_new(const struct plan *p, const struct inventory *inv,
                          json_t *extra, struct rollout **out,
                          struct buf *diags, struct err *e);

/* The same with every input: built-ins previous_version and deploy_id
 * come from in (undefined when NULL, unless -e sets them). */
enum err_code rollout_new_input(const struct plan *p,
                                const struct inventory *inv,
                                const struct rollout_input *in,
                                struct rollout **out, struct buf *diags,
                                struct err *e);

/* NULL is a no-op. */
void rollout_free(struct rollout *ro);

/* Add every secret of the resolved deploy to rd, before anything about it
 * is printed or journaled: the values of secret_env variables (from this
 * process's environment), and of variables whose names look secret
 * (*password*, *token*, *_key, ...) among inventory variables, plan vars,
 * -e variables and rendered step env. */
struct redact;
void rollout_secrets(const struct rollout *ro, struct redact *rd);

/* Add to rd the string values of obj (NULL: none) whose names look
 * secret (redact_name_is_secret). */
void rollout_secret_vars(struct redact *rd, const json_t *obj);

/* Index of the first host of wave w in ro->hosts. */
size_t rollout_wave_start(const struct rollout *ro, size_t w);

/* The transport target of host h (hostaddr_target of h->addr). */
struct target rollout_target(const struct rollout_host *h);

/* Parse one -e argument into obj: "name=value" (a string value) or
 * "@file.yml" / "@file.json" (a mapping of variables, merged). ERR_USAGE
 * when it has no '=' or the name is not an identifier; a bad file is
 * ERR_PARSE with file:line:col. */
enum err_code rollout_extra_var(json_t *obj, const char *arg, struct err *e);

/* For check kinds rendering a check (check.h): render template tmpl with
 * the variables of the host being resolved into *out (caller frees); on
 * failure te is set and *why (borrowed from te or s) says why. */
struct rollout_scope;
enum err_code rollout_scope_render(struct rollout_scope *s, const char *tmpl,
                                   char **out, struct err *te,
                                   const char **why);

#endif
