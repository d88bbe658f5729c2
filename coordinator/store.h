/* coordinator/store.h: the journal of deploys and their records, behind
 * one interface so a second backend (etcd) can sit beside SQLite
 * (store_sqlite.h): store_open chooses the backend, callers never name
 * it. The engine writes every state change through it: the
 * intent of a remote action is committed before the action, the outcome
 * after. A write that fails is fatal for the deploy: the store is then
 * poisoned (every later write fails too) and the engine stops before its
 * next remote action; nothing is retried and continued.
 *
 * Every text passes redaction (the set given to the store plus the
 * pattern rules of common/redact.h) before a backend sees it, so a secret
 * never reaches the journal. Times are wall-clock milliseconds. */
#ifndef DROVER_STORE_H
#define DROVER_STORE_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;
struct redact;

enum { STORE_ID_MAX = 32 /* "DEP-YYYY-MM-DD-NNN" and its NUL, with room */ };

/* How a deploy ended. */
enum store_result {
    STORE_RESULT_NONE,            /* still running, paused or crashed */
    STORE_RESULT_SUCCESS,         /* every host deployed and healthy */
    STORE_RESULT_FAILED,          /* stopped, nothing rolled back */
    STORE_RESULT_ROLLED_BACK,     /* failed, and the rollback succeeded */
    STORE_RESULT_ROLLBACK_FAILED, /* failed, and the rollback failed too */
    STORE_RESULT_ABORTED,         /* stopped by the operator */
    STORE_RESULT_REFUSED,         /* a precheck or requirement refused it */
    STORE_RESULT_ABANDONED        /* unfinished, its coordinator gone, and
                                     a newer deploy of the plan superseded
                                     it (docs/state.md) */
};

/* What the engine knows when a deploy starts. Strings are borrowed; NULL
 * means not known. */
struct store_deploy_info {
    const char *plan;             /* plan name (required) */
    const char *plan_file;        /* path of the plan file */
    const char *inventory;        /* inventory file(s) */
    const char *lock;             /* lock name */
    uint64_t epoch;               /* fencing epoch of the lock */
    const char *version;          /* version being deployed */
    const char *previous_version; /* what it replaces (store_last_success) */
    const char *user;             /* who deploys */
    const char *host;             /* coordinator host */
    const char *ticket;           /* --ticket */
    const char *approver;         /* --approver */
    const char *reason;           /* --reason (e.g. outside the windows) */
    const char *git_commit;       /* commit of the plan's repository */
    const char *git_tag;          /* tag pointing at it, if any */
    const char *changes;          /* changes deployed, one per line */
    const struct json_t *vars;    /* -e variables (a JSON object), NULL:
                                     none; journaled without `version` (a
                                     field of its own), a secret one by
                                     name only (store_deploy_begin) */
    int64_t started_ms;           /* start time; 0 means now */
};

/* A step about to run (store_step_intent). */
struct store_step {
    const char *host;    /* host it runs on; NULL for a local step */
    int wave;            /* wave index (0 = canary/first), -1 for none */
    const char *phase;   /* "precheck", "before", "deploy", "rollback",
                            "smoke" */
    const char *name;    /* step name from the plan */
    const char *job_id;  /* id the transport/agent knows it by
                            (stepid_format of the fields below) */
    const char *command; /* the templated command (redacted on the way) */
    int step;            /* index in its phase's list (stepid.h) */
    int pass;            /* pass (stepid.h), from 0 */
    int attempt;         /* attempt, from 0 */
    uint64_t gen;        /* generation: epoch of the run that started it */
};

/* How a step ended (store_step_outcome). */
struct store_step_outcome {
    const char *outcome; /* "ok", "failed", "timeout", "cancelled",
                            "unreachable", "skipped" */
    int exit_code;       /* exit status, -1 if none */
    int signal;          /* signal that ended it, 0 if none */
    const char *output;  /* captured output (tail), NULL if none */
};

/* One probe's evidence (store_check). */
struct store_check {
    const char *host;    /* host probed */
    const char *phase;   /* "deploy", "rollback", "smoke" */
    const char *name;    /* check label ("/health/ready") */
    const char *verdict; /* "pass", "not yet", "fail", "healthy" ... */
    long status;         /* HTTP status or exit code, 0 if none */
    int64_t latency_ms;  /* probe time */
    const char *reason;  /* why ("status 503") */
};

/* --- the record, as read back ----------------------------------------- */

struct store_wave_row {
    int idx;            /* wave index, from 0 */
    char *state;        /* "pending", "running", "done", "failed", ... */
    int64_t started_ms; /* 0 if not started */
    int64_t ended_ms;   /* 0 if not ended */
};

struct store_host_row {
    char *host;         /* inventory name */
    int wave;           /* its wave */
    char *state;        /* last state */
    char *reason;       /* why it is in that state, NULL if none */
    int64_t started_ms; /* first left pending, 0 if never */
    int64_t ended_ms;   /* reached its last state, 0 if not ended */
};

struct store_step_row {
    int64_t id;         /* step id (store_step_intent) */
    char *host;         /* NULL for a local step */
    int wave;           /* -1 for none */
    char *phase;        /* see struct store_step */
    char *name;         /* step name */
    char *job_id;       /* job id, NULL if none */
    char *command;      /* redacted command */
    int step;           /* index in its phase's list; -1: not journaled
                           (a journal of schema 2) */
    int pass;           /* pass (stepid.h), from 0 */
    int attempt;        /* attempt, from 0 */
    uint64_t gen;       /* generation (stepid.h) */
    int64_t started_ms; /* intent committed */
    int64_t ended_ms;   /* outcome committed; 0: no outcome (crash) */
    char *outcome;      /* NULL while no outcome */
    int exit_code;      /* -1 if none */
    int signal;         /* 0 if none */
    char *output;       /* redacted output, NULL if none */
};

struct store_check_row {
    char *host;         /* host probed */
    char *phase;        /* deploy, rollback, smoke */
    char *name;         /* check label */
    char *verdict;      /* its verdict */
    long status;        /* HTTP status or exit code */
    int64_t latency_ms; /* probe time */
    char *reason;       /* why */
    int64_t at_ms;      /* when */
};

struct store_precheck_row {
    char *name;     /* precheck name */
    char *host;     /* host, NULL for local / once */
    bool ok;        /* passed */
    char *evidence; /* output or reason */
    int64_t at_ms;  /* when */
};

struct store_note_row {
    char *text;    /* a decision explained, or an issue encountered */
    int64_t at_ms; /* when */
};

/* Secret -e variables are journaled as a keyed hash of their value, never
 * the value: the key is random, per state directory, in STORE_VARS_KEY_FILE
 * (0600), so the journal alone (a copy handed to an auditor) cannot be
 * used to test guesses. */
#define STORE_VARS_KEY_FILE "vars.key"
enum { STORE_VARS_KEY_LEN = 32, STORE_VARS_HASH_HEX = 64 };

/* One -e variable of a deploy, as journaled. */
struct store_var_row {
    char *name;  /* variable name */
    char *value; /* its value as compact JSON text ("\"blue\"", "3"); NULL
                    when secret */
    bool secret; /* its value was not journaled: give it again on resume */
    char *hash;  /* secret: keyed hash of its value (hex, store_var_hash),
                    NULL when the journal kept none */
};

/* Everything the journal holds about one deploy. Owned by the caller
 * (store_record_free); every string belongs to it. */
struct store_record {
    char id[STORE_ID_MAX];                     /* DEP-YYYY-MM-DD-NNN */
    char *plan, *plan_file, *inventory, *lock; /* see store_deploy_info */
    uint64_t epoch;                            /* fencing epoch */
    char *version, *previous_version;          /* what replaced what */
    char *user, *host;                         /* who, from where */
    char *ticket, *approver, *reason;          /* authorization */
    char *git_commit, *git_tag, *changes;      /* what was deployed */
    char *state;                    /* "running", "paused", "rolling back",
                                       "done" */
    enum store_result result;       /* NONE while not ended */
    bool rolled_back;               /* a rollback ran (whatever its end) */
    int64_t started_ms;             /* start */
    int64_t ended_ms;               /* end, 0 while not ended */
    int64_t updated_ms;             /* last write */
    struct store_wave_row *waves;   /* by index */
    size_t nwaves;                  /* entries */
    struct store_host_row *hosts;   /* by wave, then name */
    size_t nhosts;                  /* entries */
    struct store_step_row *steps;   /* in journal order */
    size_t nsteps;                  /* entries */
    struct store_check_row *checks; /* in journal order */
    size_t nchecks;                 /* entries */
    struct store_precheck_row *prechecks; /* in journal order */
    size_t nprechecks;                    /* entries */
    struct store_note_row *decisions;     /* in journal order */
    size_t ndecisions;                    /* entries */
    struct store_note_row *issues;        /* in journal order */
    size_t nissues;                       /* entries */
    struct store_var_row *vars;           /* -e variables, by name */
    size_t nvars;                         /* entries */
    bool vars_journaled; /* false: an older drover began the deploy and
                            kept no variables */
    char *vars_text;     /* the journaled form (a backend fills it,
                            store_get_record decodes it into vars) */
    unsigned char vars_key[STORE_VARS_KEY_LEN]; /* the state directory's
                                                   key of var hashes */
    bool vars_keyed; /* vars_key was read (store_var_same can compare) */
    char **pool;     /* every string above, for store_record_free */
    size_t npool;    /* entries in pool */
};

/* One line of `drover history`. */
struct store_summary {
    char id[STORE_ID_MAX];    /* deploy id */
    char plan[72];            /* plan name (cut to fit) */
    char version[72];         /* version (cut to fit) */
    char user[40];            /* who */
    char state[16];           /* running, paused, rolling back, done */
    enum store_result result; /* how it ended */
    bool rolled_back;         /* a rollback ran */
    int64_t started_ms;       /* start */
    int64_t ended_ms;         /* end, 0 while not ended */
    int64_t updated_ms;       /* last write */
};

/* Which deploys store_list returns, newest first. */
struct store_filter {
    const char *plan; /* only this plan; NULL: all */
    bool unfinished;  /* only deploys without a result */
    size_t limit;     /* at most this many; 0: no limit */
};

/* --- the backend interface ------------------------------------------- */

struct store;

/* A backend implements these; strings it receives are already redacted.
 * Each returns ERR_STORE (or ERR_NOTFOUND for reads) with e set. */
struct store_ops {
    const char *name; /* "sqlite" */
    /* vars: in->vars as journaled (store_vars_encode), NULL for none */
    enum err_code (*deploy_begin)(struct store *s,
                                  const struct store_deploy_info *in,
                                  const char *vars, char id[STORE_ID_MAX],
                                  struct err *e);
    enum err_code (*deploy_state)(struct store *s, const char *id,
                                  const char *state, struct err *e);
    enum err_code (*deploy_end)(struct store *s, const char *id,
                                enum store_result r, bool rolled_back,
                                struct err *e);
    enum err_code (*wave_plan)(struct store *s, const char *id, int wave,
                               const char *const *hosts, size_t n,
                               struct err *e);
    enum err_code (*wave_state)(struct store *s, const char *id, int wave,
                                const char *state, struct err *e);
    enum err_code (*host_state)(struct store *s, const char *id,
                                const char *host, const char *state,
                                const char *reason, struct err *e);
    enum err_code (*step_intent)(struct store *s, const char *id,
                                 const struct store_step *st, int64_t *step,
                                 struct err *e);
    enum err_code (*step_outcome)(struct store *s, int64_t step,
                                  const struct store_step_outcome *o,
                                  struct err *e);
    enum err_code (*check)(struct store *s, const char *id,
                           const struct store_check *c, struct err *e);
    enum err_code (*precheck)(struct store *s, const char *id, const char *name,
                              const char *host, bool ok, const char *evidence,
                              struct err *e);
    enum err_code (*note)(struct store *s, const char *id, const char *kind,
                          const char *text, struct err *e);
    enum err_code (*last_success)(struct store *s, const char *plan,
                                  char **version, char **git_commit,
                                  struct err *e);
    enum err_code (*list)(struct store *s, const struct store_filter *f,
                          struct store_summary **rows, size_t *n,
                          struct err *e);
    enum err_code (*get)(struct store *s, const char *id,
                         struct store_record **out, struct err *e);
    enum err_code (*batch)(struct store *s, bool begin, struct err *e);
    void (*free)(struct store *s);
};

/* The part every backend embeds first. */
struct store {
    const struct store_ops *ops;                /* the backend */
    unsigned char vars_key[STORE_VARS_KEY_LEN]; /* key of secret var hashes */
    bool vars_keyed;                            /* vars_key is set */
    const struct redact *redact; /* values to redact; NULL: the global set */
    bool poisoned;               /* a write failed: refuse every write */
    struct err first;            /* that failure */
};

/* Group writes: between store_batch_begin and store_batch_commit every
 * write is one transaction, durable only when the commit returns (one
 * fsync instead of one per write: a durable write costs milliseconds).
 * The rule stays: commit the batch holding a step's intent before that
 * step is sent. Typical use: the intents of every step about to start in
 * this loop turn, then commit, then send them all; or the outcomes and
 * host states that arrived in one turn. A failed commit poisons the store
 * and loses the whole batch. Batches do not nest. */
enum err_code store_batch_begin(struct store *s, struct err *e);
enum err_code store_batch_commit(struct store *s, struct err *e);

/* --- opening a store ------------------------------------------------- */

/* A backend as store_open finds it: one row of store_backends. */
struct store_backend {
    const char *scheme;     /* URL scheme: "sqlite" in "sqlite:PATH" */
    const char *state_name; /* where it keeps the journal inside a state
                               directory (store_open_state) */
    bool in_state_dir;      /* a user selects it as "scheme:DIR" (--store,
                               docs/config.md): DIR is a state directory,
                               its locks and epochs beside the journal.
                               false: not selectable yet */
    /* Open the store at where (the URL after "scheme:"), created unless
     * readonly; readonly and missing is ERR_NOTFOUND with a message a user
     * can act on. *out is freed with store_free. */
    enum err_code (*open)(const char *where, bool readonly, struct store **out,
                          struct err *e);
};

/* Every backend, NULL-terminated; the first is the one a state directory
 * uses. Adding a backend is one file and one row here (docs/hacking.md). */
extern const struct store_backend *const store_backends[];

/* The row of store_backends url ("scheme:where") names, and where (the
 * rest of url, borrowed). This is the one place a URL becomes a backend.
 * ERR_INVALID for a URL with no scheme or a scheme no row has: the
 * message names url and this build's stores ("sqlite:DIR"). */
enum err_code store_url_parse(const char *url, const struct store_backend **b,
                              const char **where, struct err *e);

/* The state directory a store URL a user gave selects (--store,
 * $DROVER_STORE, the config file: "sqlite:DIR" is DIR, its trailing '/'
 * dropped); *dir is the caller's. ERR_INVALID, naming url and this
 * build's stores, for a URL store_url_parse refuses, a backend that is
 * not selectable (!in_state_dir) or an empty DIR. */
enum err_code store_url_dir(const char *url, char **dir, struct err *e);

/* Open the store url names, "scheme:where" (scheme a row of
 * store_backends, where what its open takes: the journal's path for
 * sqlite). ERR_INVALID as store_url_parse; else what the backend's open
 * returns. */
enum err_code store_open(const char *url, bool readonly, struct store **out,
                         struct err *e);

/* The journal of a state directory: flag (--state-dir, may be NULL for
 * the default, see statedir.h), in the first backend's state_name. Unless
 * readonly, the directory is created (0700) and checked; readonly never
 * creates anything, and a missing directory or journal is ERR_NOTFOUND.
 * The key of secret variable hashes is loaded from beside the journal
 * (store_load_vars_key). *dir (if not NULL) is the state directory,
 * caller frees. */
enum err_code store_open_state(const char *flag, bool readonly,
                               struct store **out, char **dir, struct err *e);

/* Close the store (an open batch is rolled back). NULL is a no-op. */
void store_free(struct store *s);

/* Values to redact besides those of the redaction every output line
 * passes (log_redacted: the global set and the pattern rules), which the
 * journal always applies. Borrowed. */
void store_set_redact(struct store *s, const struct redact *r);

/* The engine's calls, in deploy order. Each write is durable when it
 * returns ERR_OK; any error poisons the store (see above). */

/* Start a deploy: allocates its id DEP-YYYY-MM-DD-NNN (UTC date of
 * started_ms, NNN counting that day's deploys from 001) into id; state
 * "running". in->vars are journaled by name; the value of a variable whose
 * name looks secret (redact_name_is_secret) or that redaction would touch
 * (a registered secret value, or a pattern rule) is not journaled at all:
 * the variable is marked secret, and resume must be given it again. */
enum err_code store_deploy_begin(struct store *s,
                                 const struct store_deploy_info *in,
                                 char id[STORE_ID_MAX], struct err *e);

/* The deploy's state: "running", "paused", "rolling back". */
enum err_code store_deploy_state(struct store *s, const char *id,
                                 const char *state, struct err *e);

/* The wave plan: wave index wave holds hosts[0..n) (state "pending").
 * Call once per wave before the first one starts. */
enum err_code store_wave_plan(struct store *s, const char *id, int wave,
                              const char *const *hosts, size_t n,
                              struct err *e);

/* A wave's state: "running" stamps its start, "done" / "failed" /
 * "skipped" / "rolled back" its end. */
enum err_code store_wave_state(struct store *s, const char *id, int wave,
                               const char *state, struct err *e);

/* A host's state transition (the engine's host state machine), with the
 * reason when it failed (NULL keeps the last reason, so a failed host
 * that is rolled back still says why it failed). The first state other than
 * "pending" and "skipped" (a host a paused deploy did not reach) stamps its
 * start; "healthy", "failed", "unreachable", "skipped", "rolled back",
 * "rollback failed" stamp its end (the same end stated again keeps its
 * time), and any other state clears it (the host works again). A host not
 * in the wave plan is added (wave -1). */
enum err_code store_host_state(struct store *s, const char *id,
                               const char *host, const char *state,
                               const char *reason, struct err *e);

/* Commit the intent of a step BEFORE running it; *step is its id for
 * store_step_outcome. A step with an intent and no outcome was in flight
 * when the coordinator died (resume reconciles it by job id). */
enum err_code store_step_intent(struct store *s, const char *id,
                                const struct store_step *st, int64_t *step,
                                struct err *e);

/* Commit how step ended. */
enum err_code store_step_outcome(struct store *s, int64_t step,
                                 const struct store_step_outcome *o,
                                 struct err *e);

/* Keep one probe as health evidence. Record verdict changes and each
 * gate's final probes, not every poll. */
enum err_code store_check(struct store *s, const char *id,
                          const struct store_check *c, struct err *e);

/* A precheck's result and its evidence (host NULL for local/once). */
enum err_code store_precheck(struct store *s, const char *id, const char *name,
                             const char *host, bool ok, const char *evidence,
                             struct err *e);

/* A decision explained in words ("wave 3 stopped: 2 of 10 hosts failed,
 * max_fail is 1"). */
enum err_code store_decision(struct store *s, const char *id, const char *text,
                             struct err *e);

/* An issue encountered (for the record's "Issues Encountered"). */
enum err_code store_issue(struct store *s, const char *id, const char *text,
                          struct err *e);

/* The deploy ended: result, and whether a rollback ran. State "done". */
enum err_code store_deploy_end(struct store *s, const char *id,
                               enum store_result r, bool rolled_back,
                               struct err *e);

/* Reads. */

/* Version of the newest successful deploy of plan (the next deploy's
 * previous_version) and, if git_commit is not NULL, its git commit (NULL
 * if none recorded; the base of gitinfo_read's changes). Caller frees
 * both. ERR_NOTFOUND when there is no successful deploy. */
enum err_code store_last_success(struct store *s, const char *plan,
                                 char **version, char **git_commit,
                                 struct err *e);

/* Deploys, newest first (*rows: caller frees with free()). */
enum err_code store_list(struct store *s, const struct store_filter *f,
                         struct store_summary **rows, size_t *n, struct err *e);

/* The whole record of deploy id; ERR_NOTFOUND (message naming id) when
 * there is no such deploy. */
enum err_code store_get_record(struct store *s, const char *id,
                               struct store_record **out, struct err *e);

/* NULL is a no-op. */
void store_record_free(struct store_record *r);

/* Words of a result: "success", "failed", "rolled back", "rollback
 * failed", "aborted", "refused", "" for NONE. */
const char *store_result_str(enum store_result r);

/* The result named by s (as store_result_str writes it); NONE if unknown. */
enum store_result store_result_parse(const char *s);

/* Read the key of secret variable hashes from DIR/STORE_VARS_KEY_FILE
 * into s; with create, make it (random, 0600) when there is none. A
 * missing key without create leaves s unkeyed (ERR_OK): secret values are
 * then journaled without a hash. ERR_SYS for an unreadable or short
 * file. */
enum err_code store_load_vars_key(struct store *s, const char *dir, bool create,
                                  struct err *e);

/* The keyed hash of variable name's value (compact JSON text) as hex into
 * out: BLAKE2b (libsodium crypto_generichash) keyed with key over
 * "name\0text". */
void store_var_hash(const unsigned char key[STORE_VARS_KEY_LEN],
                    const char *name, const char *text,
                    char out[STORE_VARS_HASH_HEX + 1]);

/* Whether value (a JSON value) is the one journaled for the secret row of
 * r: 1 same, 0 different, -1 cannot tell (no hash journaled, or the key
 * is missing). */
int store_var_same(const struct store_record *r,
                   const struct store_var_row *row, const struct json_t *value);

/* The journaled form of vars (a JSON object, may be NULL) with s's
 * redaction: {"values": {NAME: VALUE}, "withheld": [NAME]}, keys sorted,
 * `version` left out; a variable whose name looks secret or whose value
 * redaction would change is withheld (its value is not in the text).
 * Caller frees. For store_deploy_begin and tests. */
char *store_vars_encode(const struct store *s, const struct json_t *vars);

/* Copy s into the record's pool (NULL stays NULL). For backends. */
char *store_record_str(struct store_record *r, const char *s);

#endif
