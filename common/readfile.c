/* common/readfile.c: read a whole file under a cap. The buffer starts at
 * the size fstat reports, so a file read in one go is never copied; when
 * it must grow (the file grew, or is not a regular file) the old copy is
 * wiped before it is freed. */
#include "readfile.h"

#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Close fd and free the (wiped) buffer, keeping errno; returns rc. */
static enum readfile_rc readfile_fail(int fd, char *p, size_t cap,
                                      enum readfile_rc rc)
{
    int saved = errno;
    close(fd);
    if (p != NULL) {
        explicit_bzero(p, cap);
        free(p);
    }
    errno = saved;
    return rc;
}

/* p, of cap bytes holding n, moved into a buffer of ncap bytes. */
static char *readfile_grow(char *p, size_t cap, size_t n, size_t ncap)
{
    char *q = xmalloc(ncap);
    memcpy(q, p, n);
    explicit_bzero(p, cap);
    free(p);
    return q;
}

enum readfile_rc readfile(const char *path, size_t max, unsigned flags,
                          char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC |
                            (flags & READFILE_NOFOLLOW ? O_NOFOLLOW : 0));
    if (fd < 0)
        return READFILE_OPEN;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return readfile_fail(fd, NULL, 0, READFILE_STAT);
    if ((flags & READFILE_REGULAR) && !S_ISREG(st.st_mode))
        return readfile_fail(fd, NULL, 0, READFILE_NOTREG);
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
        errno = EFBIG;
        return readfile_fail(fd, NULL, 0, READFILE_BIG);
    }
    /* Room for max + 1 bytes at the most, to see a file that grew too big
     * without reading it all, and for the NUL. */
    size_t limit = max + 2;
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 2 : 4096;
    if (cap > limit)
        cap = limit;
    char *p = xmalloc(cap);
    size_t n = 0;
    for (;;) {
        if (n + 1 == cap) {
            size_t ncap = cap > limit / 2 ? limit : cap * 2;
            p = readfile_grow(p, cap, n, ncap);
            cap = ncap;
        }
        ssize_t r = read(fd, p + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return readfile_fail(fd, p, cap, READFILE_READ);
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max)
            return readfile_fail(fd, p, cap, READFILE_BIG);
    }
    close(fd);
    p[n] = '\0';
    *data = p;
    *len = n;
    return READFILE_OK;
}
