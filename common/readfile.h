/* common/readfile.h: the one capped read of a whole file (plans, variables
 * files, inventories, ssh configs, private keys, state files, stored job
 * results). It returns where it stopped rather than an err: each caller
 * words its own message (those words are drover's output), from the stage
 * and errno. Files may hold secrets: every buffer it drops is wiped. */
#ifndef DROVER_READFILE_H
#define DROVER_READFILE_H

#include <stddef.h>

/* How to open. */
enum readfile_flags {
    READFILE_NOFOLLOW = 1 << 0, /* refuse a symbolic link (O_NOFOLLOW) */
    READFILE_REGULAR = 1 << 1,  /* refuse anything but a regular file */
};

/* Where readfile stopped; errno is kept from the failing call. */
enum readfile_rc {
    READFILE_OK = 0, /* the whole file is read */
    READFILE_OPEN,   /* open failed (ENOENT: there is no such file) */
    READFILE_STAT,   /* fstat failed */
    READFILE_NOTREG, /* READFILE_REGULAR and it is not a regular file */
    READFILE_READ,   /* read failed */
    READFILE_BIG,    /* it holds more than max bytes */
};

/* Read the file at path whole, at most max bytes. READFILE_OK: *data (NUL-
 * terminated, caller frees; wipe it first if it may hold a secret) and
 * *len are set. Otherwise *data is NULL and nothing is left to free. */
enum readfile_rc readfile(const char *path, size_t max, unsigned flags,
                          char **data, size_t *len);

#endif
