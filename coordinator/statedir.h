/* coordinator/statedir.h: the state directory, where the lock files, the
 * epochs and the journal live. `--state-dir` wins, then $DROVER_STATE_DIR,
 * then /var/lib/drover for root, $XDG_STATE_HOME/drover, or
 * ~/.local/state/drover (the commands choose among --store, $DROVER_STORE
 * and drover.yml first: storesel.h). Directories are 0700, files 0600; a
 * file that must survive a crash is written whole (temporary file, fsync,
 * rename, fsync of the directory: docs/dependencies.md). */
#ifndef DROVER_STATEDIR_H
#define DROVER_STATEDIR_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>

enum { STATEDIR_FILE_MAX = 64 * 1024 /* largest file statedir_read reads */ };

/* The directory drover would use without --state-dir (see above); caller
 * frees. */
char *statedir_default(void);

/* Resolve the state directory (flag may be NULL: the default), create it
 * and its parents (0700) and check it: a directory, owned by us, not
 * writable by group or others. *out is the path; caller frees. A
 * directory that cannot be created or fails the check is ERR_USAGE (exit
 * 2, docs/cli.md): the message says what to do. */
enum err_code statedir_open(const char *flag, char **out, struct err *e);

/* The same for a command that only reads (history, show, status,
 * resume's lookup): nothing is created, and a directory that does not exist is
 * returned unchecked (no deploy has run with it: the reader finds no
 * journal). ERR_USAGE as statedir_open. */
enum err_code statedir_find(const char *flag, char **out, struct err *e);

/* dir/sub created (0700) if missing; *out is its path, caller frees. */
enum err_code statedir_sub(const char *dir, const char *sub, char **out,
                           struct err *e);

/* Replace path with n bytes of data, durably: write a temporary file in
 * the same directory (0600), fsync it, rename it over path, fsync the
 * directory. Any failure is an error: the caller stops (never retries). */
enum err_code statedir_write_durable(const char *path, const void *data,
                                     size_t n, struct err *e);

/* fsync the directory holding path (after creating or renaming path). */
enum err_code statedir_sync_parent(const char *path, struct err *e);

/* Read a small file (at most STATEDIR_FILE_MAX bytes) into *out (NUL-
 * terminated, caller frees). ERR_NOTFOUND when it does not exist. */
enum err_code statedir_read(const char *path, char **out, struct err *e);

enum { STATEDIR_ID_LEN = 32 /* hex digits of a state directory's id */ };

/* The identity of state directory dir (dir/id: STATEDIR_ID_LEN random hex
 * digits, made durably the first time), into out (at least
 * STATEDIR_ID_LEN + 1 bytes). Hosts record it with the fencing epoch, so
 * a refusal can say which state directory acted (docs/state.md). */
enum err_code statedir_identity(const char *dir, char *out, struct err *e);

/* A name usable as a file name in the state directory (a lock or plan
 * name): 1..64 of [A-Za-z0-9._-], not starting with '.'. */
bool statedir_name_ok(const char *name);

/* statedir_name_ok's rule in words, for messages. */
#define STATEDIR_NAME_RULE                                                     \
    "1-64 letters, digits, '.', '_' or '-', not starting with '.'"

#endif
