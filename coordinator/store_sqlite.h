/* coordinator/store_sqlite.h: the embedded journal: one SQLite database
 * STATE/journal.db in WAL mode with synchronous=FULL (every commit is on
 * disk when it returns), schema versioned with PRAGMA user_version
 * (docs/state.md lists the tables). Several drover processes may read it
 * while one writes (history, show, status during a deploy). */
#ifndef DROVER_STORE_SQLITE_H
#define DROVER_STORE_SQLITE_H

#include "err.h"
#include "store.h"

#include <stdbool.h>

#define STORE_SQLITE_FILE "journal.db"

enum {
    STORE_SQLITE_SCHEMA = 3,       /* schema version this build writes */
    STORE_SQLITE_BUSY_MS = 5000,   /* wait for another writer this long */
    STORE_SQLITE_TEXT_MAX = 65536, /* longer texts (output) keep their tail */
};

/* Open the journal at path; created (0600, schema applied) unless
 * readonly, where a missing file is ERR_NOTFOUND ("no deploy has run with
 * this state directory"). An older schema is migrated (readonly: read as
 * it is, fields it lacks are NULL); a newer one than ours is refused.
 * *out is freed with store_free. */
enum err_code store_sqlite_open(const char *path, bool readonly,
                                struct store **out, struct err *e);

/* The row of store_backends: "sqlite:PATH" opens the journal at PATH
 * (store_sqlite_open); in a state directory it is STORE_SQLITE_FILE. */
extern const struct store_backend store_sqlite_backend;

#endif
