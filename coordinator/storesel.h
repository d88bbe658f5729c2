/* coordinator/storesel.h: which store a command uses. The first source
 * that names one wins: the flags (--store URL, or --state-dir DIR, the
 * same as --store sqlite:DIR), the environment ($DROVER_STORE, or
 * $DROVER_STATE_DIR the same way), the user's config file, the system's
 * (config.h; $DROVER_CONFIG names the only file read instead), else the
 * default state directory (statedir.h). Two spellings of one level that
 * disagree are refused, naming both. store_url_dir (store.h) turns the URL
 * into the state directory: no caller names a backend (docs/config.md). */
#ifndef DROVER_STORESEL_H
#define DROVER_STORESEL_H

#include "err.h"

/* Every source, as the command and its environment give them; NULL (or
 * "" for the environment) when not given. Borrowed. */
struct storesel_in {
    const char *flag_store;     /* --store URL */
    const char *flag_state_dir; /* --state-dir DIR */
    const char *env_store;      /* $DROVER_STORE */
    const char *env_state_dir;  /* $DROVER_STATE_DIR */
    const char *env_config;     /* $DROVER_CONFIG: the only file read */
    const char *user_file;      /* the user's config file (config.h) */
    const char *system_file;    /* the system's config file */
};

/* What was selected. Release with storesel_release. */
struct storesel {
    char *dir;    /* the state directory; NULL: the default (statedir.h) */
    char *source; /* what chose it, for messages: "--store",
                     "$DROVER_STORE", "FILE:LINE:COL", "default" */
};

/* Fill in from the process's environment, with the two flags (NULL when
 * not given). in->user_file is the caller's to free (config_user_file). */
void storesel_from_env(struct storesel_in *in, const char *flag_store,
                       const char *flag_state_dir);

/* Choose the store from in into *out. ERR_USAGE (exit 2 for the
 * commands), the message naming the source ("--store", "$DROVER_STORE",
 * "FILE:LINE:COL"), for a URL store_url_dir refuses, two spellings of one
 * level that disagree, a config file that cannot be read or is bad
 * (config_load's message), or a relative directory in a config file.
 * Config files are read only when neither a flag nor the environment
 * names the store. */
enum err_code storesel_pick(const struct storesel_in *in, struct storesel *out,
                            struct err *e);

/* Free what s holds and zero it. */
void storesel_release(struct storesel *s);

#endif
