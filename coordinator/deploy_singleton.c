/* coordinator/deploy_singleton.c: the singleton role during a deploy:
 * who holds it before any change, where it goes, how it is handed over
 * (stop before start), and whether exactly the expected host holds it
 * after each wave and after the rollback. */
#include "deploy_int.h"

#include "buf.h"
#include "plan.h"
#include "rollout.h"
#include "store.h"

#include <jansson.h>

/* --- the singleton role --------------------------------------------------
 * drover asks every host (singleton.check) who holds the role before it
 * changes anything, keeps it there when that host may hold it
 * (singleton.hosts), and otherwise moves it to an eligible host when the
 * holder's turn comes: the old holder restarts with the role off first,
 * and only then does the new one restart with it on (stop before start).
 * After each wave, and after a rollback, the hosts are asked again. */

const char *deploy_role(const struct deploy *d)
{
    return d->plan->singleton_role ? d->plan->singleton_role : "role";
}

static const char *deploy_host_name(const struct deploy *d, size_t i)
{
    return i < d->ro->nhosts ? d->hosts[i].name : "no host";
}

static bool deploy_eligible(const struct deploy *d, size_t i)
{
    return i < d->ro->nhosts && d->hosts[i].rh->singleton_eligible;
}

/* Not deployed yet by this deploy (its restart is still to come). */
static bool deploy_host_pending(const struct deploy *d, size_t i)
{
    return d->hosts[i].state == DH_PENDING && !d->hosts[i].changed;
}

/* Where the role goes when its holder h (SIZE_MAX: none) may not keep it:
 * the first eligible host whose restart comes at or after h's turn (none:
 * the first eligible one still to restart), else the last eligible host
 * already deployed (it restarts again to take the role), else none. */
static size_t deploy_singleton_target(const struct deploy *d, size_t h)
{
    if (h != SIZE_MAX && deploy_eligible(d, h))
        return h;
    size_t from =
        h != SIZE_MAX ? rollout_wave_start(d->ro, d->hosts[h].rh->wave) : 0;
    for (size_t i = from; i < d->ro->nhosts; i++)
        if (deploy_eligible(d, i) && deploy_host_pending(d, i))
            return i;
    for (size_t i = 0; i < d->ro->nhosts; i++)
        if (deploy_eligible(d, i) && deploy_host_pending(d, i))
            return i;
    for (size_t i = d->ro->nhosts; i-- > 0;)
        if (deploy_eligible(d, i) && d->hosts[i].state == DH_HEALTHY)
            return i;
    return SIZE_MAX;
}

/* Wave d->wave is about to start: if the role moves in it, say how. The
 * holder restarting in this wave hands it to the target: a target of the
 * same wave waits for the holder's restart (deferred), a target already
 * deployed restarts again after it (role_move), a target of a later wave
 * takes it at its own turn (the role is vacant until then). Returns a
 * deployed host that restarts again in this wave to start a role nobody
 * runs, or SIZE_MAX. */
size_t deploy_singleton_handover(struct deploy *d)
{
    const struct plan *p = d->plan;
    size_t from = d->holder, to = d->target;
    if (p->singleton_env == NULL || to == SIZE_MAX || from == to)
        return SIZE_MAX;
    bool to_turn =
        d->hosts[to].rh->wave == d->wave && deploy_host_pending(d, to);
    if (from == SIZE_MAX) {
        /* nobody runs it: the target starts it at its restart, or now */
        d->holder = to_turn || !deploy_host_pending(d, to) ? to : SIZE_MAX;
        if (to_turn || d->holder == SIZE_MAX)
            return SIZE_MAX;
        d->hosts[to].role_move = true;
        return to;
    }
    if (d->hosts[from].rh->wave != d->wave || !deploy_host_pending(d, from))
        return SIZE_MAX; /* not the holder's turn: it keeps the role */
    if (to_turn) {
        d->deferred = to;
    } else if (!deploy_host_pending(d, to)) {
        d->hosts[to].role_move = true;
    } else {
        deploy_event(d,
                     json_pack("{s:s,s:s,s:s,s:s}", "event", "singleton",
                               "role", deploy_role(d), "from",
                               d->hosts[from].name, "to", d->hosts[to].name),
                     "singleton '%s' leaves %s (restarting in this wave, "
                     "not one of singleton.hosts) with %s=false; it is "
                     "vacant until %s takes it in wave %zu",
                     deploy_role(d), d->hosts[from].name, p->singleton_env,
                     d->hosts[to].name, d->hosts[to].rh->wave + 1);
        d->holder = SIZE_MAX;
        return SIZE_MAX;
    }
    deploy_event(d,
                 json_pack("{s:s,s:s,s:s,s:s}", "event", "singleton", "role",
                           deploy_role(d), "from", d->hosts[from].name, "to",
                           d->hosts[to].name),
                 "singleton '%s' moves from %s (restarting in this wave, "
                 "not one of singleton.hosts) to %s: %s=false there first, "
                 "then %s restarts with %s=true",
                 deploy_role(d), d->hosts[from].name, d->hosts[to].name,
                 p->singleton_env, d->hosts[to].name, p->singleton_env);
    d->move_from = from;
    d->holder = to;
    return SIZE_MAX;
}

/* The old holder's restart ended: start the new holder, or, when the old
 * one failed (it may still run the role), keep the role where it was. */
void deploy_singleton_moved(struct deploy *d, struct deploy_host *h,
                            enum deploy_outcome out)
{
    size_t to = d->holder;
    d->move_from = SIZE_MAX;
    bool deferred = d->deferred == to;
    d->deferred = SIZE_MAX;
    if (out != OUT_OK) {
        deploy_decide(d,
                      "singleton '%s' stays with %s: its restart failed, so "
                      "%s does not start the role (stop before start)",
                      deploy_role(d), h->name, d->hosts[to].name);
        d->holder = h->index;
        d->hosts[to].role_move = false;
        if (deferred)
            deploy_set_add(d, to); /* its own deploy, without the role */
        return;
    }
    d->hosts[to].role_move = true;
    deploy_set_add(d, to);
}

/* Ask every host that can answer whether it holds the role. */
void deploy_singleton_ask(struct deploy *d, enum deploy_ask why)
{
    deploy_set_reset(d);
    for (size_t i = 0; i < d->ro->nhosts; i++) {
        d->hosts[i].active_role = false;
        if (d->hosts[i].rh->singleton_check != NULL &&
            d->hosts[i].state != DH_UNREACHABLE)
            deploy_set_add(d, i);
    }
    d->ask = why;
    d->phase = PH_SINGLETON;
    deploy_set_begin(d, JOB_SINGLETON);
}

/* The hosts that answered that they hold the role, as "a, b" into who;
 * their number, the first of them in *first. */
static size_t deploy_singleton_active(struct deploy *d, struct buf *who,
                                      size_t *first)
{
    size_t n = 0;
    *first = SIZE_MAX;
    for (size_t i = 0; i < d->ro->nhosts; i++)
        if (d->hosts[i].active_role) {
            buf_printf(who, "%s%s", n ? ", " : "", d->hosts[i].name);
            if (n++ == 0)
                *first = i;
        }
    return n;
}

/* Journal who held the role before the deploy (evidence, and where a
 * later `drover rollback` puts it back). */
static void deploy_singleton_journal(struct deploy *d)
{
    if (d->o.store == NULL || d->journal_failed)
        return;
    for (size_t i = 0; i < d->set.n; i++) {
        struct deploy_host *h = &d->hosts[d->set.idx[i]];
        struct store_check sc = {
            .host = h->name,
            .phase = "singleton",
            .name = DEPLOY_SINGLETON_BEFORE,
            .verdict = h->active_role ? "active" : "inactive",
            .reason =
                h->active_role ? "holds the role" : "does not hold the role"};
        struct err e = {0};
        if (!deploy_journal(d, store_check(d->o.store, d->o.deploy_id, &sc, &e),
                            &e))
            return;
    }
}

/* The answers before the deploy (or before continuing it): the holder,
 * where the role goes, where a rollback puts it. False when the deploy
 * stopped (two holders before any change: refused). */
bool deploy_singleton_found(struct deploy *d)
{
    struct buf who;
    buf_init(&who, 1024);
    size_t first;
    size_t n = deploy_singleton_active(d, &who, &first);
    if (n > 1 && d->ask == ASK_BEFORE) {
        deploy_decide(d,
                      "refused: singleton '%s' is active on %zu hosts (%s) "
                      "before any change; exactly one may hold it: stop it "
                      "on all but one, then deploy again",
                      deploy_role(d), n, buf_cstr(&who));
        buf_release(&who);
        deploy_finish(d, DV_REFUSED);
        return false;
    }
    size_t holder = first;
    if (n > 1 && d->origin_known && d->origin != SIZE_MAX &&
        d->hosts[d->origin].active_role)
        holder = d->origin;
    if (d->ask == ASK_BEFORE) {
        deploy_singleton_journal(d);
        d->origin = holder;
        d->origin_known = true;
    } else if (!d->origin_known) {
        d->origin = holder; /* a journal from before drover asked */
    }
    d->holder = holder;
    d->target = deploy_singleton_target(d, holder);
    const char *note = "";
    if (holder == SIZE_MAX)
        note = "nobody holds it";
    else if (!deploy_eligible(d, holder))
        note = "it is not one of singleton.hosts";
    char words[512];
    if (holder == d->target)
        snprintf(words, sizeof(words), "it stays there");
    else
        snprintf(words, sizeof(words), "%s: it goes to %s", note,
                 deploy_host_name(d, d->target));
    deploy_event(d,
                 json_pack("{s:s,s:s,s:s,s:s}", "event", "singleton", "role",
                           deploy_role(d), "holder",
                           holder == SIZE_MAX ? "" : d->hosts[holder].name,
                           "target", deploy_host_name(d, d->target)),
                 "singleton '%s': %s%s%s; %s", deploy_role(d),
                 n > 1 ? "active on " : "held by ",
                 n ? buf_cstr(&who) : "no host",
                 n > 1 ? " (more than one)" : "", words);
    buf_release(&who);
    return true;
}

/* Where the rollback puts the role: back where it was before the deploy
 * when that host may hold it; else where the deploy put it (an eligible
 * host); else back where it was; else (nobody held it, nobody holds it)
 * the first eligible host the rollback restarts. */
size_t deploy_singleton_rollback_holder(const struct deploy *d)
{
    if (d->origin != SIZE_MAX && deploy_eligible(d, d->origin))
        return d->origin;
    if (d->holder != SIZE_MAX && deploy_eligible(d, d->holder))
        return d->holder;
    if (d->origin != SIZE_MAX)
        return d->origin;
    for (size_t i = 0; i < d->ro->nhosts; i++)
        if (deploy_eligible(d, i) && d->hosts[i].changed)
            return i;
    return d->holder;
}

/* The answers after a wave or a rollback: exactly the expected holder
 * (none while the role is vacant between two turns). True when they
 * match; otherwise the deciding words are said. */
bool deploy_singleton_verdict(struct deploy *d, size_t want)
{
    struct buf who;
    buf_init(&who, 1024);
    size_t first;
    size_t n = deploy_singleton_active(d, &who, &first);
    bool ok = want == SIZE_MAX ? n == 0 : n == 1 && first == want;
    const char *when =
        d->ask == ASK_AFTER_ROLLBACK ? "after the rollback" : "after the wave";
    if (ok && want == SIZE_MAX)
        deploy_event(d,
                     json_pack("{s:s,s:s,s:s}", "event", "singleton", "role",
                               deploy_role(d), "host", ""),
                     "singleton '%s': vacant as planned until %s takes it",
                     deploy_role(d), deploy_host_name(d, d->target));
    else if (ok)
        deploy_event(d,
                     json_pack("{s:s,s:s,s:s}", "event", "singleton", "role",
                               deploy_role(d), "host", buf_cstr(&who)),
                     "singleton '%s': active on exactly one host (%s)",
                     deploy_role(d), buf_cstr(&who));
    else if (d->ask == ASK_AFTER_ROLLBACK)
        deploy_decide(d,
                      "%s singleton '%s' is active on %zu host%s (%s), it "
                      "must be exactly %s: it needs a human",
                      when, deploy_role(d), n, n == 1 ? "" : "s",
                      n ? buf_cstr(&who) : "none", deploy_host_name(d, want));
    else
        deploy_decide(d,
                      "wave %zu/%zu stopped: singleton '%s' is active on %zu "
                      "host%s (%s), it must be exactly %s",
                      d->wave + 1, d->ro->nwaves, deploy_role(d), n,
                      n == 1 ? "" : "s", n ? buf_cstr(&who) : "none",
                      want == SIZE_MAX ? "none (vacant)"
                                       : deploy_host_name(d, want));
    if (!ok)
        deploy_issue(d, d->decision);
    buf_release(&who);
    return ok;
}
