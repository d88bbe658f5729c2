/* coordinator/store_sqlite.c: the journal in SQLite. Each write is one
 * autocommitted statement (a deploy's id allocation one IMMEDIATE
 * transaction), so it is durable when it returns: WAL with
 * synchronous=FULL fsyncs the log on every commit. */
#include "store_sqlite.h"

#include "clock.h"
#include "statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct store_sqlite {
    struct store base; /* must be first */
    sqlite3 *db;       /* the connection */
    char *path;        /* journal.db */
    bool in_batch;     /* a store_batch_begin transaction is open */
    int schema;        /* its schema version (older when opened readonly) */
};

static const char store_sqlite_schema[] =
    "CREATE TABLE deploys ("
    " id TEXT PRIMARY KEY, plan TEXT NOT NULL, plan_file TEXT,"
    " inventory TEXT, lock TEXT, epoch INTEGER NOT NULL DEFAULT 0,"
    " version TEXT, previous_version TEXT, user TEXT, host TEXT,"
    " ticket TEXT, approver TEXT, reason TEXT, git_commit TEXT,"
    " git_tag TEXT, changes TEXT, state TEXT NOT NULL, result TEXT,"
    " rolled_back INTEGER NOT NULL DEFAULT 0, started_ms INTEGER NOT NULL,"
    " ended_ms INTEGER, updated_ms INTEGER NOT NULL, vars TEXT);"
    "CREATE INDEX deploys_plan ON deploys(plan, started_ms);"
    "CREATE TABLE waves ("
    " deploy TEXT NOT NULL REFERENCES deploys(id), idx INTEGER NOT NULL,"
    " state TEXT NOT NULL, started_ms INTEGER, ended_ms INTEGER,"
    " PRIMARY KEY (deploy, idx));"
    "CREATE TABLE hosts ("
    " deploy TEXT NOT NULL REFERENCES deploys(id), host TEXT NOT NULL,"
    " wave INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT,"
    " started_ms INTEGER, ended_ms INTEGER, updated_ms INTEGER,"
    " PRIMARY KEY (deploy, host));"
    "CREATE TABLE steps ("
    " id INTEGER PRIMARY KEY, deploy TEXT NOT NULL REFERENCES deploys(id),"
    " host TEXT, wave INTEGER NOT NULL, phase TEXT NOT NULL,"
    " name TEXT NOT NULL, job_id TEXT, command TEXT,"
    " started_ms INTEGER NOT NULL, ended_ms INTEGER, outcome TEXT,"
    " exit_code INTEGER, signal INTEGER, output TEXT, step INTEGER,"
    " attempt INTEGER, gen INTEGER, pass INTEGER);"
    "CREATE INDEX steps_deploy ON steps(deploy);"
    "CREATE TABLE checks ("
    " id INTEGER PRIMARY KEY, deploy TEXT NOT NULL REFERENCES deploys(id),"
    " host TEXT, phase TEXT, name TEXT, verdict TEXT, status INTEGER,"
    " latency_ms INTEGER, reason TEXT, at_ms INTEGER NOT NULL);"
    "CREATE INDEX checks_deploy ON checks(deploy);"
    "CREATE TABLE prechecks ("
    " id INTEGER PRIMARY KEY, deploy TEXT NOT NULL REFERENCES deploys(id),"
    " name TEXT, host TEXT, ok INTEGER NOT NULL, evidence TEXT,"
    " at_ms INTEGER NOT NULL);"
    "CREATE TABLE notes ("
    " id INTEGER PRIMARY KEY, deploy TEXT NOT NULL REFERENCES deploys(id),"
    " kind TEXT NOT NULL, text TEXT NOT NULL, at_ms INTEGER NOT NULL);"
    "CREATE INDEX notes_deploy ON notes(deploy, kind);"
    "PRAGMA user_version = 3;";

/* From schema version N to N + 1, each run in one transaction. */
static const char *const store_sqlite_migrations[STORE_SQLITE_SCHEMA] = {
    [1] = "ALTER TABLE deploys ADD COLUMN vars TEXT;"
          "PRAGMA user_version = 2;",
    [2] = "ALTER TABLE steps ADD COLUMN step INTEGER;"
          "ALTER TABLE steps ADD COLUMN attempt INTEGER;"
          "ALTER TABLE steps ADD COLUMN gen INTEGER;"
          "ALTER TABLE steps ADD COLUMN pass INTEGER;"
          "PRAGMA user_version = 3;",
};

static struct store_sqlite *sq_of(struct store *s)
{
    return (struct store_sqlite *)s;
}

static enum err_code sq_fail(struct store_sqlite *q, const char *what,
                             struct err *e)
{
    return err_set(e, ERR_STORE, "journal %s: %s: %s (the deploy stops)",
                   q->path, what, sqlite3_errmsg(q->db));
}

static sqlite3_stmt *sq_prep(struct store_sqlite *q, const char *sql,
                             const char *what, struct err *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
        sq_fail(q, what, e);
        return NULL;
    }
    return st;
}

static void sq_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* Step a write statement to its end and finalize it. */
static enum err_code sq_run(struct store_sqlite *q, sqlite3_stmt *st,
                            const char *what, struct err *e)
{
    int rc = sqlite3_step(st);
    enum err_code r = ERR_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        r = sq_fail(q, what, e);
    sqlite3_finalize(st);
    return r;
}

static enum err_code sq_exec(struct store_sqlite *q, const char *sql,
                             const char *what, struct err *e)
{
    if (sqlite3_exec(q->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(q, what, e);
    return ERR_OK;
}

/* A transaction of our own, unless a batch is open (then the batch's
 * commit makes the writes durable together). */
static enum err_code sq_begin(struct store_sqlite *q, struct err *e)
{
    if (q->in_batch)
        return ERR_OK;
    return sq_exec(q, "BEGIN IMMEDIATE", "begin", e);
}

static enum err_code sq_commit(struct store_sqlite *q, struct err *e)
{
    if (q->in_batch)
        return ERR_OK;
    return sq_exec(q, "COMMIT", "commit", e);
}

/* Undo after a failure: the whole batch when one is open (the store is
 * poisoned then anyway). */
static void sq_rollback(struct store_sqlite *q)
{
    sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    q->in_batch = false;
}

static enum err_code sq_batch(struct store *s, bool begin, struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    if (begin) {
        if (q->in_batch)
            return err_set(e, ERR_STORE, "journal %s: a batch is already open",
                           q->path);
        if (sq_exec(q, "BEGIN IMMEDIATE", "begin batch", e) != ERR_OK)
            return ERR_STORE;
        q->in_batch = true;
        return ERR_OK;
    }
    if (!q->in_batch)
        return err_set(e, ERR_STORE, "journal %s: no batch is open", q->path);
    q->in_batch = false;
    if (sq_exec(q, "COMMIT", "commit batch", e) != ERR_OK) {
        sq_rollback(q);
        return ERR_STORE;
    }
    return ERR_OK;
}

/* --- writes ---------------------------------------------------------------
 */

static enum err_code sq_deploy_begin(struct store *s,
                                     const struct store_deploy_info *in,
                                     const char *vars, char id[STORE_ID_MAX],
                                     struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    int64_t now = clock_wall_ms();
    int64_t started = in->started_ms != 0 ? in->started_ms : now;
    time_t t = (time_t)(started / 1000);
    struct tm tm;
    char day[16];
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(day, sizeof(day), "%Y-%m-%d", &tm) == 0)
        return err_set(e, ERR_INVALID, "journal: bad start time %" PRId64,
                       started);
    if (sq_begin(q, e) != ERR_OK)
        return ERR_STORE;
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "DEP-%s-", day);
    sqlite3_stmt *st = sq_prep(
        q, "SELECT id FROM deploys WHERE substr(id, 1, 15) = ?", "next id", e);
    if (st == NULL)
        goto fail;
    sq_text(st, 1, prefix);
    long next = 1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *old = (const char *)sqlite3_column_text(st, 0);
        long n = old != NULL ? strtol(old + 15, NULL, 10) : 0;
        if (n >= next)
            next = n + 1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        sq_fail(q, "next id", e);
        goto fail;
    }
    if (next > 99999) {
        err_set(e, ERR_LIMIT, "journal: more than 99999 deploys on %s", day);
        goto fail;
    }
    snprintf(id, STORE_ID_MAX, "%.15s%03u", prefix, (unsigned)next % 100000u);
    st = sq_prep(q,
                 "INSERT INTO deploys (id, plan, plan_file, inventory, lock,"
                 " epoch, version, previous_version, user, host, ticket,"
                 " approver, reason, git_commit, git_tag, changes, state,"
                 " started_ms, updated_ms, vars) VALUES (?, ?, ?, ?, ?, ?,"
                 " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                 "insert deploy", e);
    if (st == NULL)
        goto fail;
    sq_text(st, 1, id);
    sq_text(st, 2, in->plan);
    sq_text(st, 3, in->plan_file);
    sq_text(st, 4, in->inventory);
    sq_text(st, 5, in->lock);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)in->epoch);
    sq_text(st, 7, in->version);
    sq_text(st, 8, in->previous_version);
    sq_text(st, 9, in->user);
    sq_text(st, 10, in->host);
    sq_text(st, 11, in->ticket);
    sq_text(st, 12, in->approver);
    sq_text(st, 13, in->reason);
    sq_text(st, 14, in->git_commit);
    sq_text(st, 15, in->git_tag);
    sq_text(st, 16, in->changes);
    sqlite3_bind_int64(st, 17, started);
    sqlite3_bind_int64(st, 18, now);
    sq_text(st, 19, vars);
    if (sq_run(q, st, "insert deploy", e) != ERR_OK)
        goto fail;
    if (sq_commit(q, e) != ERR_OK)
        goto fail;
    return ERR_OK;
fail:
    sq_rollback(q);
    id[0] = '\0';
    return ERR_STORE;
}

/* A write that must touch a row: no row is the engine's mistake. */
static enum err_code sq_run_one(struct store_sqlite *q, sqlite3_stmt *st,
                                const char *what, const char *id, struct err *e)
{
    if (sq_run(q, st, what, e) != ERR_OK)
        return ERR_STORE;
    if (sqlite3_changes(q->db) == 0)
        return err_set(e, ERR_STORE, "journal %s: %s: no deploy %s", q->path,
                       what, id);
    return ERR_OK;
}

static enum err_code sq_deploy_state(struct store *s, const char *id,
                                     const char *state, struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    sqlite3_stmt *st =
        sq_prep(q, "UPDATE deploys SET state = ?, updated_ms = ? WHERE id = ?",
                "deploy state", e);
    if (st == NULL)
        return ERR_STORE;
    sq_text(st, 1, state);
    sqlite3_bind_int64(st, 2, clock_wall_ms());
    sq_text(st, 3, id);
    return sq_run_one(q, st, "deploy state", id, e);
}

static enum err_code sq_deploy_end(struct store *s, const char *id,
                                   enum store_result r, bool rolled_back,
                                   struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    sqlite3_stmt *st =
        sq_prep(q,
                "UPDATE deploys SET state = 'done', result = ?,"
                " rolled_back = ?, ended_ms = ?, updated_ms = ? WHERE id = ?",
                "deploy end", e);
    if (st == NULL)
        return ERR_STORE;
    int64_t now = clock_wall_ms();
    sq_text(st, 1, store_result_str(r));
    sqlite3_bind_int(st, 2, rolled_back);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, now);
    sq_text(st, 5, id);
    return sq_run_one(q, st, "deploy end", id, e);
}

static enum err_code sq_touch(struct store_sqlite *q, const char *id,
                              struct err *e)
{
    sqlite3_stmt *st = sq_prep(
        q, "UPDATE deploys SET updated_ms = ? WHERE id = ?", "touch", e);
    if (st == NULL)
        return ERR_STORE;
    sqlite3_bind_int64(st, 1, clock_wall_ms());
    sq_text(st, 2, id);
    return sq_run_one(q, st, "touch", id, e);
}

static enum err_code sq_wave_plan(struct store *s, const char *id, int wave,
                                  const char *const *hosts, size_t n,
                                  struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    if (sq_begin(q, e) != ERR_OK)
        return ERR_STORE;
    sqlite3_stmt *st = sq_prep(q,
                               "INSERT OR REPLACE INTO waves (deploy, idx,"
                               " state) VALUES (?, ?, 'pending')",
                               "wave plan", e);
    if (st == NULL)
        goto fail;
    sq_text(st, 1, id);
    sqlite3_bind_int(st, 2, wave);
    if (sq_run(q, st, "wave plan", e) != ERR_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        st = sq_prep(q,
                     "INSERT OR REPLACE INTO hosts (deploy, host, wave,"
                     " state, updated_ms) VALUES (?, ?, ?, 'pending', ?)",
                     "wave plan host", e);
        if (st == NULL)
            goto fail;
        sq_text(st, 1, id);
        sq_text(st, 2, hosts[i]);
        sqlite3_bind_int(st, 3, wave);
        sqlite3_bind_int64(st, 4, clock_wall_ms());
        if (sq_run(q, st, "wave plan host", e) != ERR_OK)
            goto fail;
    }
    if (sq_commit(q, e) != ERR_OK)
        goto fail;
    return ERR_OK;
fail:
    sq_rollback(q);
    return ERR_STORE;
}

static bool sq_in(const char *s, const char *const *set)
{
    for (; *set != NULL; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

static enum err_code sq_wave_state(struct store *s, const char *id, int wave,
                                   const char *state, struct err *e)
{
    static const char *const ends[] = {
        "done", "failed", "skipped", "rolled back", "rollback failed", NULL};
    struct store_sqlite *q = sq_of(s);
    int64_t now = clock_wall_ms();
    bool end = sq_in(state, ends);
    sqlite3_stmt *st =
        sq_prep(q,
                "INSERT INTO waves (deploy, idx, state, started_ms, ended_ms)"
                " VALUES (?1, ?2, ?3, CASE WHEN ?3 = 'running' THEN ?4 END,"
                " CASE WHEN ?5 THEN ?4 END)"
                " ON CONFLICT (deploy, idx) DO UPDATE SET state = ?3,"
                " started_ms = CASE WHEN ?3 = 'running'"
                "  THEN coalesce(started_ms, ?4) ELSE started_ms END,"
                " ended_ms = CASE WHEN ?5 THEN ?4 ELSE ended_ms END",
                "wave state", e);
    if (st == NULL)
        return ERR_STORE;
    sq_text(st, 1, id);
    sqlite3_bind_int(st, 2, wave);
    sq_text(st, 3, state);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int(st, 5, end);
    if (sq_run(q, st, "wave state", e) != ERR_OK)
        return ERR_STORE;
    return sq_touch(q, id, e);
}

static enum err_code sq_host_state(struct store *s, const char *id,
                                   const char *host, const char *state,
                                   const char *reason, struct err *e)
{
    static const char *const ends[] = {
        "healthy", "failed",      "unreachable",     "skipped",
        "done",    "rolled back", "rollback failed", NULL};
    struct store_sqlite *q = sq_of(s);
    int64_t now = clock_wall_ms();
    sqlite3_stmt *st =
        sq_prep(q,
                "INSERT INTO hosts (deploy, host, wave, state, reason,"
                " started_ms, ended_ms, updated_ms) VALUES (?1, ?2, -1, ?3,"
                " ?4, CASE WHEN ?3 NOT IN ('pending', 'skipped') THEN ?5"
                " END, CASE WHEN ?6 THEN ?5 END, ?5)"
                " ON CONFLICT (deploy, host) DO UPDATE SET state = ?3,"
                " reason = coalesce(?4, reason), updated_ms = ?5,"
                " started_ms = CASE WHEN ?3 NOT IN ('pending', 'skipped')"
                "  THEN coalesce(started_ms, ?5) ELSE started_ms END,"
                /* the same end again (a resumed deploy restating it)
                 * keeps its time; work again (a promote, a rollback)
                 * clears it */
                " ended_ms = CASE WHEN NOT ?6 THEN NULL"
                "  WHEN state = ?3 AND ended_ms IS NOT NULL THEN ended_ms"
                "  ELSE ?5 END",
                "host state", e);
    if (st == NULL)
        return ERR_STORE;
    sq_text(st, 1, id);
    sq_text(st, 2, host);
    sq_text(st, 3, state);
    sq_text(st, 4, reason);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int(st, 6, sq_in(state, ends));
    if (sq_run(q, st, "host state", e) != ERR_OK)
        return ERR_STORE;
    return sq_touch(q, id, e);
}

static enum err_code sq_step_intent(struct store *s, const char *id,
                                    const struct store_step *in, int64_t *step,
                                    struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    sqlite3_stmt *st = sq_prep(q,
                               "INSERT INTO steps (deploy, host, wave, phase,"
                               " name, job_id, command, started_ms, step,"
                               " attempt, gen, pass) VALUES"
                               " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               "step intent", e);
    if (st == NULL)
        return ERR_STORE;
    sq_text(st, 1, id);
    sq_text(st, 2, in->host);
    sqlite3_bind_int(st, 3, in->wave);
    sq_text(st, 4, in->phase);
    sq_text(st, 5, in->name != NULL ? in->name : "");
    sq_text(st, 6, in->job_id);
    sq_text(st, 7, in->command);
    sqlite3_bind_int64(st, 8, clock_wall_ms());
    sqlite3_bind_int(st, 9, in->step);
    sqlite3_bind_int(st, 10, in->attempt);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)in->gen);
    sqlite3_bind_int(st, 12, in->pass);
    if (sq_run(q, st, "step intent", e) != ERR_OK)
        return ERR_STORE;
    *step = sqlite3_last_insert_rowid(q->db);
    return ERR_OK;
}

static enum err_code sq_step_outcome(struct store *s, int64_t step,
                                     const struct store_step_outcome *o,
                                     struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    sqlite3_stmt *st = sq_prep(q,
                               "UPDATE steps SET ended_ms = ?, outcome = ?,"
                               " exit_code = ?, signal = ?, output = ?"
                               " WHERE id = ?",
                               "step outcome", e);
    if (st == NULL)
        return ERR_STORE;
    sqlite3_bind_int64(st, 1, clock_wall_ms());
    sq_text(st, 2, o->outcome);
    sqlite3_bind_int(st, 3, o->exit_code);
    sqlite3_bind_int(st, 4, o->signal);
    const char *out = o->output;
    char *cut = NULL;
    size_t n = out != NULL ? strlen(out) : 0;
    if (n > STORE_SQLITE_TEXT_MAX) {
        /* keep the tail: where a failure says why */
        cut = xasprintf("[%zu bytes cut]\n%s", n - STORE_SQLITE_TEXT_MAX,
                        out + n - STORE_SQLITE_TEXT_MAX);
        out = cut;
    }
    sq_text(st, 5, out);
    free(cut);
    sqlite3_bind_int64(st, 6, step);
    char what[48];
    snprintf(what, sizeof(what), "step %" PRId64, step);
    if (sq_run(q, st, "step outcome", e) != ERR_OK)
        return ERR_STORE;
    if (sqlite3_changes(q->db) == 0)
        return err_set(e, ERR_STORE, "journal %s: no %s", q->path, what);
    return ERR_OK;
}

static enum err_code sq_check(struct store *s, const char *id,
                              const struct store_check *c, struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    sqlite3_stmt *st = sq_prep(q,
                               "INSERT INTO checks (deploy, host, phase, name,"
                               " verdict, status, latency_ms, reason, at_ms)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               "check", e);
    if (st == NULL)
        return ERR_STORE;
    sq_text(st, 1, id);
    sq_text(st, 2, c->host);
    sq_text(st, 3, c->phase != NULL ? c->phase : "deploy");
    sq_text(st, 4, c->name);
    sq_text(st, 5, c->verdict);
    sqlite3_bind_int64(st, 6, c->status);
    sqlite3_bind_int64(st, 7, c->latency_ms);
    sq_text(st, 8, c->reason);
    sqlite3_bind_int64(st, 9, clock_wall_ms());
    return sq_run(q, st, "check", e);
}

static enum err_code sq_precheck(struct store *s, const char *id,
                                 const char *name, const char *host, bool ok,
                                 const char *evidence, struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    sqlite3_stmt *st = sq_prep(q,
                               "INSERT INTO prechecks (deploy, name, host, ok,"
                               " evidence, at_ms) VALUES (?, ?, ?, ?, ?, ?)",
                               "precheck", e);
    if (st == NULL)
        return ERR_STORE;
    sq_text(st, 1, id);
    sq_text(st, 2, name);
    sq_text(st, 3, host);
    sqlite3_bind_int(st, 4, ok);
    sq_text(st, 5, evidence);
    sqlite3_bind_int64(st, 6, clock_wall_ms());
    return sq_run(q, st, "precheck", e);
}

static enum err_code sq_note(struct store *s, const char *id, const char *kind,
                             const char *text, struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    sqlite3_stmt *st = sq_prep(q,
                               "INSERT INTO notes (deploy, kind, text, at_ms)"
                               " VALUES (?, ?, ?, ?)",
                               kind, e);
    if (st == NULL)
        return ERR_STORE;
    sq_text(st, 1, id);
    sq_text(st, 2, kind);
    sq_text(st, 3, text);
    sqlite3_bind_int64(st, 4, clock_wall_ms());
    return sq_run(q, st, kind, e);
}

/* --- reads ---------------------------------------------------------------
 */

static enum err_code sq_last_success(struct store *s, const char *plan,
                                     char **version, char **git_commit,
                                     struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    sqlite3_stmt *st =
        sq_prep(q,
                "SELECT version, git_commit FROM deploys WHERE plan = ? AND"
                " result ="
                " 'success' AND version IS NOT NULL"
                " ORDER BY started_ms DESC, id DESC LIMIT 1",
                "last success", e);
    if (st == NULL)
        return ERR_STORE;
    sq_text(st, 1, plan);
    int rc = sqlite3_step(st);
    enum err_code r = ERR_OK;
    if (rc == SQLITE_ROW) {
        *version = xstrdup((const char *)sqlite3_column_text(st, 0));
        if (git_commit != NULL) {
            const char *g = (const char *)sqlite3_column_text(st, 1);
            *git_commit = g != NULL ? xstrdup(g) : NULL;
        }
    } else if (rc == SQLITE_DONE)
        r = err_set(e, ERR_NOTFOUND,
                    "no successful deploy of plan %s in the journal", plan);
    else
        r = sq_fail(q, "last success", e);
    sqlite3_finalize(st);
    return r;
}

static void sq_copy(char *dst, size_t n, const unsigned char *src)
{
    snprintf(dst, n, "%s", src != NULL ? (const char *)src : "");
}

static enum err_code sq_list(struct store *s, const struct store_filter *f,
                             struct store_summary **rows, size_t *n,
                             struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    sqlite3_stmt *st = sq_prep(
        q,
        "SELECT id, plan, version, user, state, result, rolled_back,"
        " started_ms, ended_ms, updated_ms FROM deploys"
        " WHERE (?1 IS NULL OR plan = ?1) AND (?2 = 0 OR result IS NULL)"
        " ORDER BY started_ms DESC, id DESC LIMIT ?3",
        "list", e);
    if (st == NULL)
        return ERR_STORE;
    sq_text(st, 1, f->plan);
    sqlite3_bind_int(st, 2, f->unfinished);
    sqlite3_bind_int64(st, 3, f->limit > 0 ? (sqlite3_int64)f->limit : -1);
    struct store_summary *v = NULL;
    size_t len = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        v = xrealloc(v, (len + 1) * sizeof(*v));
        struct store_summary *r = &v[len++];
        memset(r, 0, sizeof(*r));
        sq_copy(r->id, sizeof(r->id), sqlite3_column_text(st, 0));
        sq_copy(r->plan, sizeof(r->plan), sqlite3_column_text(st, 1));
        sq_copy(r->version, sizeof(r->version), sqlite3_column_text(st, 2));
        sq_copy(r->user, sizeof(r->user), sqlite3_column_text(st, 3));
        sq_copy(r->state, sizeof(r->state), sqlite3_column_text(st, 4));
        r->result =
            store_result_parse((const char *)sqlite3_column_text(st, 5));
        r->rolled_back = sqlite3_column_int(st, 6) != 0;
        r->started_ms = sqlite3_column_int64(st, 7);
        r->ended_ms = sqlite3_column_int64(st, 8);
        r->updated_ms = sqlite3_column_int64(st, 9);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(v);
        return sq_fail(q, "list", e);
    }
    *rows = v;
    *n = len;
    return ERR_OK;
}

static char *col(struct store_record *r, sqlite3_stmt *st, int i)
{
    return store_record_str(r, (const char *)sqlite3_column_text(st, i));
}

/* Run a SELECT bound to the deploy id; call row() for each row. */
static enum err_code sq_rows(struct store_sqlite *q, const char *sql,
                             const char *id, struct store_record *r,
                             void (*row)(struct store_record *, sqlite3_stmt *),
                             struct err *e)
{
    sqlite3_stmt *st = sq_prep(q, sql, "read record", e);
    if (st == NULL)
        return ERR_STORE;
    sq_text(st, 1, id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        row(r, st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sq_fail(q, "read record", e);
    return ERR_OK;
}

static void row_wave(struct store_record *r, sqlite3_stmt *st)
{
    r->waves = xrealloc(r->waves, (r->nwaves + 1) * sizeof(*r->waves));
    struct store_wave_row *w = &r->waves[r->nwaves++];
    w->idx = sqlite3_column_int(st, 0);
    w->state = col(r, st, 1);
    w->started_ms = sqlite3_column_int64(st, 2);
    w->ended_ms = sqlite3_column_int64(st, 3);
}

static void row_host(struct store_record *r, sqlite3_stmt *st)
{
    r->hosts = xrealloc(r->hosts, (r->nhosts + 1) * sizeof(*r->hosts));
    struct store_host_row *h = &r->hosts[r->nhosts++];
    h->host = col(r, st, 0);
    h->wave = sqlite3_column_int(st, 1);
    h->state = col(r, st, 2);
    h->reason = col(r, st, 3);
    h->started_ms = sqlite3_column_int64(st, 4);
    h->ended_ms = sqlite3_column_int64(st, 5);
}

static void row_step(struct store_record *r, sqlite3_stmt *st)
{
    r->steps = xrealloc(r->steps, (r->nsteps + 1) * sizeof(*r->steps));
    struct store_step_row *s = &r->steps[r->nsteps++];
    s->id = sqlite3_column_int64(st, 0);
    s->host = col(r, st, 1);
    s->wave = sqlite3_column_int(st, 2);
    s->phase = col(r, st, 3);
    s->name = col(r, st, 4);
    s->job_id = col(r, st, 5);
    s->command = col(r, st, 6);
    s->started_ms = sqlite3_column_int64(st, 7);
    s->ended_ms = sqlite3_column_int64(st, 8);
    s->outcome = col(r, st, 9);
    s->exit_code = sqlite3_column_type(st, 10) == SQLITE_NULL
                       ? -1
                       : sqlite3_column_int(st, 10);
    s->signal = sqlite3_column_int(st, 11);
    s->output = col(r, st, 12);
    s->step = sqlite3_column_type(st, 13) == SQLITE_NULL
                  ? -1
                  : sqlite3_column_int(st, 13);
    s->attempt = sqlite3_column_int(st, 14);
    s->gen = (uint64_t)sqlite3_column_int64(st, 15);
    s->pass = sqlite3_column_int(st, 16);
}

static void row_check(struct store_record *r, sqlite3_stmt *st)
{
    r->checks = xrealloc(r->checks, (r->nchecks + 1) * sizeof(*r->checks));
    struct store_check_row *c = &r->checks[r->nchecks++];
    c->host = col(r, st, 0);
    c->phase = col(r, st, 1);
    c->name = col(r, st, 2);
    c->verdict = col(r, st, 3);
    c->status = (long)sqlite3_column_int64(st, 4);
    c->latency_ms = sqlite3_column_int64(st, 5);
    c->reason = col(r, st, 6);
    c->at_ms = sqlite3_column_int64(st, 7);
}

static void row_precheck(struct store_record *r, sqlite3_stmt *st)
{
    r->prechecks =
        xrealloc(r->prechecks, (r->nprechecks + 1) * sizeof(*r->prechecks));
    struct store_precheck_row *p = &r->prechecks[r->nprechecks++];
    p->name = col(r, st, 0);
    p->host = col(r, st, 1);
    p->ok = sqlite3_column_int(st, 2) != 0;
    p->evidence = col(r, st, 3);
    p->at_ms = sqlite3_column_int64(st, 4);
}

static void row_note(struct store_record *r, sqlite3_stmt *st)
{
    const char *kind = (const char *)sqlite3_column_text(st, 0);
    bool issue = kind != NULL && strcmp(kind, "issue") == 0;
    struct store_note_row **v = issue ? &r->issues : &r->decisions;
    size_t *n = issue ? &r->nissues : &r->ndecisions;
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[*n].text = col(r, st, 1);
    (*v)[*n].at_ms = sqlite3_column_int64(st, 2);
    (*n)++;
}

static enum err_code sq_get(struct store *s, const char *id,
                            struct store_record **out, struct err *e)
{
    struct store_sqlite *q = sq_of(s);
    /* a journal of schema 1, opened readonly, has no vars column */
    sqlite3_stmt *st =
        sq_prep(q,
                q->schema >= 2
                    ? "SELECT id, plan, plan_file, inventory, lock, epoch,"
                      " version, previous_version, user, host, ticket,"
                      " approver, reason, git_commit, git_tag, changes, state,"
                      " result, rolled_back, started_ms, ended_ms, updated_ms,"
                      " vars FROM deploys WHERE id = ?"
                    : "SELECT id, plan, plan_file, inventory, lock, epoch,"
                      " version, previous_version, user, host, ticket,"
                      " approver, reason, git_commit, git_tag, changes, state,"
                      " result, rolled_back, started_ms, ended_ms, updated_ms,"
                      " NULL FROM deploys WHERE id = ?",
                "read deploy", e);
    if (st == NULL)
        return ERR_STORE;
    sq_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE)
            return err_set(e, ERR_NOTFOUND,
                           "no deploy %s in the journal (`drover history` "
                           "lists them)",
                           id);
        return sq_fail(q, "read deploy", e);
    }
    struct store_record *r = xcalloc(1, sizeof(*r));
    sq_copy(r->id, sizeof(r->id), sqlite3_column_text(st, 0));
    r->plan = col(r, st, 1);
    r->plan_file = col(r, st, 2);
    r->inventory = col(r, st, 3);
    r->lock = col(r, st, 4);
    r->epoch = (uint64_t)sqlite3_column_int64(st, 5);
    r->version = col(r, st, 6);
    r->previous_version = col(r, st, 7);
    r->user = col(r, st, 8);
    r->host = col(r, st, 9);
    r->ticket = col(r, st, 10);
    r->approver = col(r, st, 11);
    r->reason = col(r, st, 12);
    r->git_commit = col(r, st, 13);
    r->git_tag = col(r, st, 14);
    r->changes = col(r, st, 15);
    r->state = col(r, st, 16);
    r->result = store_result_parse((const char *)sqlite3_column_text(st, 17));
    r->rolled_back = sqlite3_column_int(st, 18) != 0;
    r->started_ms = sqlite3_column_int64(st, 19);
    r->ended_ms = sqlite3_column_int64(st, 20);
    r->updated_ms = sqlite3_column_int64(st, 21);
    r->vars_text = col(r, st, 22);
    sqlite3_finalize(st);
    if (sq_rows(q,
                "SELECT idx, state, started_ms, ended_ms FROM waves"
                " WHERE deploy = ? ORDER BY idx",
                id, r, row_wave, e) != ERR_OK ||
        sq_rows(q,
                "SELECT host, wave, state, reason, started_ms, ended_ms"
                " FROM hosts WHERE deploy = ? ORDER BY wave, rowid",
                id, r, row_host, e) != ERR_OK ||
        sq_rows(q,
                q->schema >= 3
                    ? "SELECT id, host, wave, phase, name, job_id, command,"
                      " started_ms, ended_ms, outcome, exit_code, signal,"
                      " output, step, attempt, gen, pass"
                      " FROM steps WHERE deploy = ? ORDER BY id"
                    : "SELECT id, host, wave, phase, name, job_id, command,"
                      " started_ms, ended_ms, outcome, exit_code, signal,"
                      " output, NULL, 0, 0, 0"
                      " FROM steps WHERE deploy = ? ORDER BY id",
                id, r, row_step, e) != ERR_OK ||
        sq_rows(q,
                "SELECT host, phase, name, verdict, status, latency_ms,"
                " reason, at_ms FROM checks WHERE deploy = ? ORDER BY id",
                id, r, row_check, e) != ERR_OK ||
        sq_rows(q,
                "SELECT name, host, ok, evidence, at_ms FROM prechecks"
                " WHERE deploy = ? ORDER BY id",
                id, r, row_precheck, e) != ERR_OK ||
        sq_rows(q,
                "SELECT kind, text, at_ms FROM notes WHERE deploy = ?"
                " ORDER BY id",
                id, r, row_note, e) != ERR_OK) {
        store_record_free(r);
        return ERR_STORE;
    }
    *out = r;
    return ERR_OK;
}

static void sq_free(struct store *s)
{
    struct store_sqlite *q = sq_of(s);
    if (q->in_batch)
        sq_rollback(q);
    sqlite3_close(q->db);
    free(q->path);
    free(q);
}

static const struct store_ops sq_ops = {
    .name = "sqlite",
    .deploy_begin = sq_deploy_begin,
    .deploy_state = sq_deploy_state,
    .deploy_end = sq_deploy_end,
    .wave_plan = sq_wave_plan,
    .wave_state = sq_wave_state,
    .host_state = sq_host_state,
    .step_intent = sq_step_intent,
    .step_outcome = sq_step_outcome,
    .check = sq_check,
    .precheck = sq_precheck,
    .note = sq_note,
    .last_success = sq_last_success,
    .list = sq_list,
    .get = sq_get,
    .batch = sq_batch,
    .free = sq_free,
};

/* PRAGMAs, then the schema: created when empty, migrated when older
 * (readonly: read as it is), refused when newer. */
static enum err_code sq_setup(struct store_sqlite *q, bool readonly,
                              struct err *e)
{
    sqlite3_busy_timeout(q->db, STORE_SQLITE_BUSY_MS);
    sqlite3_extended_result_codes(q->db, 1);
    if (!readonly) {
        sqlite3_stmt *st =
            sq_prep(q, "PRAGMA journal_mode = WAL", "journal_mode", e);
        if (st == NULL)
            return ERR_STORE;
        const char *mode = NULL;
        if (sqlite3_step(st) == SQLITE_ROW)
            mode = (const char *)sqlite3_column_text(st, 0);
        bool wal = mode != NULL && strcmp(mode, "wal") == 0;
        sqlite3_finalize(st);
        if (!wal)
            return err_set(e, ERR_STORE,
                           "journal %s: cannot switch to WAL mode (is the "
                           "state directory on a network file system?)",
                           q->path);
    }
    if (sq_exec(q, "PRAGMA synchronous = FULL", "synchronous", e) != ERR_OK ||
        sq_exec(q, "PRAGMA foreign_keys = ON", "foreign_keys", e) != ERR_OK)
        return ERR_STORE;
    sqlite3_stmt *st = sq_prep(q, "PRAGMA user_version", "user_version", e);
    if (st == NULL)
        return ERR_STORE;
    int version =
        sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (version < 0)
        return sq_fail(q, "user_version", e);
    if (version > STORE_SQLITE_SCHEMA)
        return err_set(e, ERR_STORE,
                       "journal %s has schema version %d, newer than this "
                       "drover's %d: upgrade drover",
                       q->path, version, STORE_SQLITE_SCHEMA);
    q->schema = version;
    if (version == STORE_SQLITE_SCHEMA || (readonly && version > 0))
        return ERR_OK;
    if (readonly)
        return err_set(e, ERR_NOTFOUND,
                       "journal %s is empty: no deploy has run with this "
                       "state directory",
                       q->path);
    if (sq_exec(q, "BEGIN IMMEDIATE", "begin", e) != ERR_OK)
        return ERR_STORE;
    /* another drover may have created it meanwhile */
    st = sq_prep(q, "PRAGMA user_version", "user_version", e);
    version = st != NULL && sqlite3_step(st) == SQLITE_ROW
                  ? sqlite3_column_int(st, 0)
                  : -1;
    sqlite3_finalize(st);
    if (version == 0 &&
        sq_exec(q, store_sqlite_schema, "create schema", e) != ERR_OK) {
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return ERR_STORE;
    }
    for (int v = version; v > 0 && v < STORE_SQLITE_SCHEMA; v++)
        if (sq_exec(q, store_sqlite_migrations[v], "migrate schema", e) !=
            ERR_OK) {
            sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
            return ERR_STORE;
        }
    if (sq_exec(q, "COMMIT", "commit schema", e) != ERR_OK)
        return ERR_STORE;
    q->schema = STORE_SQLITE_SCHEMA;
    return statedir_sync_parent(q->path, e);
}

enum err_code store_sqlite_open(const char *path, bool readonly,
                                struct store **out, struct err *e)
{
    if (readonly && access(path, F_OK) != 0)
        return err_set(e, ERR_NOTFOUND,
                       "no journal at %s: no deploy has run with this state "
                       "directory (--state-dir DIR?)",
                       path);
    if (!readonly) {
        /* create it 0600 ourselves: SQLite would use the umask */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return err_sys(e, "journal %s: cannot create it", path);
        close(fd);
    }
    struct store_sqlite *q = xcalloc(1, sizeof(*q));
    q->base.ops = &sq_ops;
    q->path = xstrdup(path);
    /* readers open read-write too: reading a WAL database needs its -shm */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &q->db, flags, NULL) != SQLITE_OK) {
        err_set(e, ERR_STORE, "journal %s: cannot open it: %s", path,
                q->db != NULL ? sqlite3_errmsg(q->db) : "out of memory");
        sq_free(&q->base);
        return ERR_STORE;
    }
    if (sq_setup(q, readonly, e) != ERR_OK) {
        sq_free(&q->base);
        return e->code;
    }
    *out = &q->base;
    return ERR_OK;
}

const struct store_backend store_sqlite_backend = {
    .scheme = "sqlite",
    .state_name = STORE_SQLITE_FILE,
    .in_state_dir = true,
    .open = store_sqlite_open,
};
