/* coordinator/ssh.c: the ssh transport's face: transport_ops (connect,
 * exec, cancel, close, free), where each target's settings come from (the
 * inventory, the flags, the ssh config: ssh_conn_configure), and the
 * process-wide caches of keys and known_hosts files. A conn's state
 * machine is in ssh_conn.c, its commands in ssh_exec.c, key files in
 * ssh_key.c. */
#include "ssh_conn.h"

#include "knownhosts.h"
#include "log.h"
#include "loop.h"
#include "ssh_key.h"
#include "sshconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- transport ops ---------------------------------------------------------
 */

/* A path with a leading ~ made absolute (ansible_ssh_private_key_file,
 * as Ansible expands it). Caller frees. */
static char *ssh_tilde(const struct ssh_transport *t, const char *path)
{
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0'))
        return xasprintf("%s%s", t->home, path + 1);
    return xstrdup(path);
}

/* The known_hosts file at path, read on first use; NULL with e set when
 * it cannot be read. */
static struct knownhosts *ssh_kh_get(struct ssh_transport *t, const char *path,
                                     struct err *e)
{
    if (strcmp(path, knownhosts_path(t->kh)) == 0)
        return t->kh;
    size_t i = 0;
    while (i < t->nkh && strcmp(t->khpaths[i], path) != 0)
        i++;
    if (i == t->nkh) {
        t->khpaths = xrealloc(t->khpaths, (i + 1) * sizeof(*t->khpaths));
        t->khfiles = xrealloc(t->khfiles, (i + 1) * sizeof(*t->khfiles));
        t->khpaths[i] = xstrdup(path);
        memset(&t->khfiles[i], 0, sizeof(t->khfiles[i]));
        t->khfiles[i].kh = knownhosts_load(path, &t->khfiles[i].err);
        t->nkh++;
    }
    if (t->khfiles[i].kh == NULL)
        err_set(e, t->khfiles[i].err.code, "%s (UserKnownHostsFile)",
                t->khfiles[i].err.msg);
    return t->khfiles[i].kh;
}

/* The key at path, read on first use (*fresh: this call read it). One
 * that cannot be used has data NULL and err set. */
static struct ssh_key *ssh_key_get(struct ssh_transport *t, const char *path,
                                   const char *origin, bool *fresh)
{
    for (size_t i = 0; i < t->nkeys; i++)
        if (strcmp(t->keys[i]->path, path) == 0)
            return t->keys[i];
    struct ssh_key *k = ssh_key_new(path, origin);
    t->keys = xrealloc(t->keys, (t->nkeys + 1) * sizeof(*t->keys));
    t->keys[t->nkeys++] = k;
    if (fresh != NULL)
        *fresh = true;
    return k;
}

static void ssh_conn_add_key(struct ssh_conn *c, struct ssh_key *k)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (c->keys[i] == k)
            return;
    c->keys = xrealloc(c->keys, (c->nkeys + 1) * sizeof(*c->keys));
    c->keys[c->nkeys++] = k;
}

/* The keys to try: ansible_ssh_private_key_file, else --key, else the
 * config's IdentityFiles that can be used, else drover's default (none:
 * ssh-agent). */
static void ssh_conn_keys(struct ssh_conn *c, const struct target *tg,
                          const struct sshconfig_host *h,
                          const struct sshconfig_tokens *tk)
{
    struct ssh_transport *t = c->t;
    if (tg->key_file != NULL && *tg->key_file != '\0') {
        char *path = ssh_tilde(t, tg->key_file);
        struct ssh_key *k =
            ssh_key_get(t, path, " (ansible_ssh_private_key_file)", NULL);
        free(path);
        if (k->data == NULL)
            err_set(&c->open_err, k->err.code, "%s: %s", c->name, k->err.msg);
        else
            ssh_conn_add_key(c, k);
        return;
    }
    for (size_t i = 0; !t->key_flag && i < h->nidentity; i++) {
        char *path = sshconfig_expand(h->identity[i], tk);
        bool fresh = false;
        struct ssh_key *k = ssh_key_get(t, path, " (IdentityFile)", &fresh);
        free(path);
        if (k->data != NULL)
            ssh_conn_add_key(c, k);
        else if (fresh && k->err.sys_errno == ENOENT)
            log_debug("IdentityFile skipped: %s", k->err.msg); /* as ssh */
        else if (fresh)
            log_warn("IdentityFile skipped: %s", k->err.msg);
    }
    if (c->nkeys == 0 && t->key != NULL)
        ssh_conn_add_key(c, t->key);
}

/* Where and how to reach tg: the inventory's values, then the flags,
 * then the ssh config, then drover's defaults (docs/ssh.md). The alias
 * looked up is the target's address (ansible_host, else its name), what
 * OpenSSH sees when Ansible runs it. A problem is kept in c->open_err and
 * reported on the conn's first turn. */
static void ssh_conn_configure(struct ssh_conn *c, const struct target *tg)
{
    struct ssh_transport *t = c->t;
    const char *alias = tg->address ? tg->address : tg->name;
    struct sshconfig_host h;
    memset(&h, 0, sizeof(h));
    h.alive_ms = -1;
    if (tg->ssh_host != NULL) /* looked up once already (hostaddr_map) */
        h = *tg->ssh_host;
    else if (t->cfg != NULL)
        sshconfig_lookup(t->cfg, alias, &h, &c->open_err);
    c->via_hostname = h.hostname != NULL;
    c->address = xstrdup(h.hostname ? h.hostname : alias);
    c->port = tg->port > 0 ? tg->port : h.port > 0 ? h.port : t->port;
    c->user = xstrdup(tg->user && *tg->user            ? tg->user
                      : t->user_flag || h.user == NULL ? t->user
                                                       : h.user);
    c->kh = t->kh;
    c->accept_new = t->accept_new;
    c->connect_timeout = t->timeout_flag || h.connect_timeout_ms <= 0
                             ? t->connect_timeout
                             : h.connect_timeout_ms;
    c->keepalive =
        t->keepalive_set || h.alive_ms < 0 ? t->keepalive : h.alive_ms;
    if (!t->accept_new && h.strict == SSHCONFIG_STRICT_ACCEPT_NEW)
        c->accept_new = true;
    if (!t->accept_new && h.strict == SSHCONFIG_STRICT_NO) {
        /* drover never connects to a changed key: "no" is accept-new. */
        c->accept_new = true;
        if (!t->warned_no)
            log_warn("%s:%d: StrictHostKeyChecking no: drover treats it as "
                     "accept-new (unknown hosts are recorded, a changed key "
                     "is still refused)",
                     h.strict_at.file, h.strict_at.line);
        t->warned_no = true;
    }
    if (h.proxy != NULL)
        err_set(&c->open_err, ERR_INVALID,
                "%s: %s:%d: %s: drover cannot reach a host through a jump "
                "host; refused rather than connecting directly",
                c->name, h.proxy_at.file, h.proxy_at.line, h.proxy);
    struct sshconfig_tokens tk = {.home = t->home,
                                  .host = c->address,
                                  .alias = alias,
                                  .port = c->port,
                                  .ruser = c->user,
                                  .luser = t->luser};
    if (!t->kh_flag && h.known_hosts != NULL && c->open_err.code == ERR_OK) {
        char *path = sshconfig_expand(h.known_hosts, &tk);
        struct knownhosts *kh = ssh_kh_get(t, path, &c->open_err);
        free(path);
        if (kh != NULL)
            c->kh = kh;
    }
    if (c->open_err.code == ERR_OK)
        ssh_conn_keys(c, tg, &h, &tk);
    if (tg->ssh_host == NULL) /* else h borrows it */
        sshconfig_host_release(&h);
}

static struct conn *ssh_connect(struct transport *tp, const struct target *tg,
                                const struct conn_cb *cb, void *arg)
{
    struct ssh_transport *t = (struct ssh_transport *)tp;
    struct ssh_conn *c = xcalloc(1, sizeof(*c));
    c->base.t = tp;
    c->base.cb = cb;
    c->base.arg = arg;
    c->t = t;
    c->name = xstrdup(tg->name ? tg->name : tg->address);
    ssh_conn_configure(c, tg);
    c->fd = -1;
    c->state = SSH_QUEUED;
    buf_init(&c->errhead, BUF_UNLIMITED);
    loop_timer_init(&c->ctimer, ssh_conn_ctimer, c);
    loop_timer_init(&c->ktimer, ssh_conn_keepalive, c);
    loop_timer_init(&c->xtimer, ssh_conn_xtimer, c);
    loop_timer_init(&c->kick, ssh_conn_kick, c);
    c->tg_idx = ssh_target_find(t, c->address, c->port);
    if (c->open_err.code != ERR_OK) { /* reported on the first turn */
        loop_timer_start(t->loop, &c->kick, 0);
        return &c->base;
    }
    c->deadline = loop_now(t->loop) + c->connect_timeout;
    loop_timer_start(t->loop, &c->ctimer, c->connect_timeout);
    if (ssh_target_acquire(c))
        loop_timer_start(t->loop, &c->kick, 0);
    return &c->base;
}

static enum err_code ssh_exec(struct conn *cp, const struct exec_spec *sp,
                              struct err *e)
{
    struct ssh_conn *c = (struct ssh_conn *)cp;
    if (c->state != SSH_READY)
        return err_set(e, ERR_SSH, "%s: the connection is not open", c->name);
    if (c->running)
        return err_set(e, ERR_SSH, "%s: a command is already running", c->name);
    c->running = true;
    memset(&c->main, 0, sizeof(c->main));
    memset(&c->kill, 0, sizeof(c->kill));
    c->main.command = ssh_wrap_command(sp->command);
    c->main.step = CH_OPEN;
    c->input_len = sp->input != NULL ? sp->input_len : 0;
    c->input = c->input_len ? xmalloc(c->input_len) : NULL;
    if (c->input_len)
        memcpy((void *)c->input, sp->input, c->input_len);
    c->input_off = 0;
    c->read_first = false;
    c->started = loop_now(c->t->loop);
    c->timeout_ms = sp->timeout_ms;
    c->pgid = 0;
    c->pgid_done = false;
    c->timed_out = c->cancelled = c->gave_up = false;
    err_clear(&c->xerr);
    buf_init(&c->errhead, BUF_UNLIMITED);
    if (sp->timeout_ms > 0)
        loop_timer_start(c->t->loop, &c->xtimer, sp->timeout_ms);
    /* Start on the next turn, never inside the caller's stack. */
    loop_timer_start(c->t->loop, &c->kick, 0);
    return ERR_OK;
}

static void ssh_cancel(struct conn *cp)
{
    struct ssh_conn *c = (struct ssh_conn *)cp;
    if (!c->running || c->cancelled)
        return;
    c->cancelled = true;
    loop_timer_start(c->t->loop, &c->xtimer, SSH_CANCEL_GIVE_UP_MS);
    loop_timer_start(c->t->loop, &c->kick, 0);
}

static const struct conn_cb ssh_silent_cb = {0};

static void ssh_close(struct conn *cp)
{
    struct ssh_conn *c = (struct ssh_conn *)cp;
    if (c->running && c->state == SSH_READY && !c->zombie && !c->orphan) {
        /* Closing kills the running command (transport.h): the conn lives
         * on, owned by the transport and without callbacks, until its kill
         * has run on the host. */
        c->orphan = true;
        c->base.cb = &ssh_silent_cb;
        c->orphan_next = c->t->orphans;
        c->t->orphans = c;
        if (!c->cancelled && !c->timed_out) {
            c->cancelled = true;
            loop_timer_start(c->t->loop, &c->xtimer, SSH_KILL_GIVE_UP_MS);
        }
        loop_timer_start(c->t->loop, &c->kick, 0);
        return;
    }
    c->zombie = true;
    if (c->busy == 0)
        ssh_conn_destroy(c);
}

static void ssh_free(struct transport *tp)
{
    struct ssh_transport *t = (struct ssh_transport *)tp;
    /* Kills still under way are abandoned with their sessions. */
    while (t->orphans != NULL)
        ssh_conn_destroy(t->orphans);
    for (size_t i = 0; i < t->ntargets; i++)
        free(t->targets[i].key);
    free(t->targets);
    knownhosts_free(t->kh);
    for (size_t i = 0; i < t->nkh; i++) {
        knownhosts_free(t->khfiles[i].kh);
        free(t->khpaths[i]);
    }
    free(t->khfiles);
    free(t->khpaths);
    for (size_t i = 0; i < t->nkeys; i++)
        ssh_key_free(t->keys[i]);
    free(t->keys);
    sshconfig_free(t->own_cfg);
    free(t->cfg_note);
    free(t->home);
    free(t->luser);
    free(t->user);
    free(t);
}

static const struct transport_ops ssh_ops = {
    .name = "ssh",
    .caps = TRANSPORT_CAP_SHELL,
    .connect = ssh_connect,
    .exec = ssh_exec,
    .cancel = ssh_cancel,
    .close = ssh_close,
    .free = ssh_free,
};

void ssh_options_init(struct ssh_options *o)
{
    memset(o, 0, sizeof(*o));
}

void ssh_transport_stats(const struct transport *tp, struct ssh_stats *out)
{
    *out = ((const struct ssh_transport *)tp)->stats;
}

/* The key at path, read on first use (*fresh: this call read it). One
 * that cannot be used has data NULL and err set. */

/* The ssh config: the one the caller read, else --ssh-config FILE,
 * none, or ~/.ssh/config if it exists (sshconfig_open). */
static enum err_code ssh_load_config(struct ssh_transport *t,
                                     const struct ssh_options *o, struct err *e)
{
    if (o->config_read)
        t->cfg = o->config;
    else if (sshconfig_open(o->config_file, t->home, &t->own_cfg, e) == ERR_OK)
        t->cfg = t->own_cfg;
    if (t->cfg == NULL)
        t->cfg_note = sshconfig_absent(o->config_file, t->home);
    return e->code;
}

struct transport *ssh_transport_new(struct loop *l, const struct ssh_options *o,
                                    struct err *e)
{
    static bool inited;
    if (!inited) {
        if (libssh2_init(0) != 0) {
            err_set(e, ERR_SSH, "libssh2_init failed");
            return NULL;
        }
        inited = true;
        srandom((unsigned)getpid() ^ (unsigned)loop_now(l));
    }
    struct ssh_transport *t = xcalloc(1, sizeof(*t));
    t->base.ops = &ssh_ops;
    t->loop = l;
    const char *home = getenv("HOME");
    t->home = xstrdup(home ? home : "");
    const char *luser = getenv("USER");
    t->luser = xstrdup(luser && *luser ? luser : "root");
    t->user_flag = o->user != NULL && *o->user != '\0';
    t->user = xstrdup(t->user_flag ? o->user : t->luser);
    t->accept_new = o->accept_new;
    t->timeout_flag = o->connect_timeout_ms > 0;
    t->connect_timeout = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                                   : SSH_CONNECT_TIMEOUT_MS;
    t->keepalive_set = o->keepalive_ms != 0;
    t->keepalive = o->keepalive_ms == 0  ? SSH_KEEPALIVE_MS
                   : o->keepalive_ms < 0 ? 0
                                         : o->keepalive_ms;
    t->hs_cap = o->handshakes_per_target > 0 ? o->handshakes_per_target
                                             : SSH_HANDSHAKES_PER_TARGET;
    t->port = o->port > 0 ? o->port : SSH_DEFAULT_PORT;

    /* --key, and the default key, are read now: a bad one fails before
     * any host is contacted. Keys the ssh config names are read when a
     * host first needs them. */
    t->key_flag = o->key_file != NULL;
    char *kp = o->key_file != NULL ? xstrdup(o->key_file)
                                   : xasprintf("%s/.ssh/id_ed25519", t->home);
    if (t->key_flag || access(kp, F_OK) == 0) {
        t->key = ssh_key_get(t, kp, t->key_flag ? " (--key)" : "", NULL);
        if (t->key->data == NULL) {
            err_set(e, t->key->err.code, "%s", t->key->err.msg);
            free(kp);
            ssh_free(&t->base);
            return NULL;
        }
    } else if (getenv("SSH_AUTH_SOCK") == NULL) {
        /* Only hosts that have no other key fail for it. */
        err_set(&t->nokey, ERR_AUTH,
                "no key: %s does not exist and there is no ssh-agent "
                "($SSH_AUTH_SOCK); pass --key FILE",
                kp);
    }
    free(kp);
    t->kh_flag = o->known_hosts != NULL;
    char *kh = o->known_hosts != NULL
                   ? xstrdup(o->known_hosts)
                   : xasprintf("%s/.ssh/known_hosts", t->home);
    t->kh = knownhosts_load(kh, e);
    free(kh);
    if (t->kh == NULL || ssh_load_config(t, o, e) != ERR_OK) {
        ssh_free(&t->base);
        return NULL;
    }
    return &t->base;
}
