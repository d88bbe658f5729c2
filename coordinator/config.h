/* coordinator/config.h: drover's configuration file, drover.yml: a YAML
 * mapping of settings a command would otherwise take as flags, read with
 * the YAML reader every file of drover goes through (common/yamlread.h,
 * scalars typed by common/yamlscalar.h). One key today, `store:`, the
 * store URL (storesel.h decides which source wins). A key drover does
 * not know is refused at file:line:col with the nearest known one, so a
 * typo never silently leaves a setting at its default (docs/config.md). */
#ifndef DROVER_CONFIG_H
#define DROVER_CONFIG_H

#include "err.h"

#include <stddef.h>

/* The file every user of the machine gets. */
#define CONFIG_SYSTEM_FILE "/etc/drover/drover.yml"

enum {
    CONFIG_FILE_MAX = 64 * 1024, /* a larger file is refused */
    CONFIG_DEPTH_MAX = 4,        /* collections open at once */
    CONFIG_NODES_MAX = 256       /* scalars, collections, aliases */
};

/* One file's settings. Release with config_release. */
struct config {
    char *store;    /* store: URL, NULL when the file has no store key */
    char *store_at; /* "file:line:col" of that value, for messages */
};

/* The user's file: $XDG_CONFIG_HOME/drover/drover.yml when
 * XDG_CONFIG_HOME is an absolute path, else ~/.config/drover/drover.yml;
 * NULL without a HOME. Caller frees. */
char *config_user_file(void);

/* Read the file at path into *c (zeroed first). ERR_NOTFOUND when there
 * is no such file (nothing to release); ERR_SYS when it cannot be read or
 * is larger than CONFIG_FILE_MAX; ERR_PARSE or ERR_LIMIT with
 * "path:line:col: ..." for a file that is not a mapping of known keys to
 * strings. */
enum err_code config_load(const char *path, struct config *c, struct err *e);

/* The same over len bytes of text, name standing for the file in
 * messages (unit tests). */
enum err_code config_load_buffer(const char *name, const char *data, size_t len,
                                 struct config *c, struct err *e);

/* Free what c holds and zero it. */
void config_release(struct config *c);

#endif
