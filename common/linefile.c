/* common/linefile.c: whole lines from a file, under a length limit, with
 * the buffers they passed through wiped at the end. */
#include "linefile.h"

#include <errno.h>
#include <string.h>

bool linefile_open(struct linefile *r, const char *path, struct err *e)
{
    r->path = path;
    r->lineno = 0;
    r->f = fopen(path, "re");
    if (r->f == NULL) {
        if (errno == ENOENT)
            err_set(e, ERR_NOTFOUND, "%s: no such file", path);
        else
            err_sys(e, "open %s", path);
        return false;
    }
    setvbuf(r->f, r->io, _IOFBF, sizeof(r->io));
    return true;
}

void linefile_close(struct linefile *r)
{
    if (r->f != NULL)
        fclose(r->f);
    r->f = NULL;
    explicit_bzero(r->line, sizeof(r->line));
    explicit_bzero(r->io, sizeof(r->io));
}

/* Skip blanks. */
static char *linefile_ws(char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

enum err_code linefile_next(struct linefile *r, char **p, struct err *e)
{
    for (;;) {
        size_t n = 0;
        bool nul = false, more = false;
        int ch;
        while ((ch = getc(r->f)) != EOF && ch != '\n') {
            if (n == LINEFILE_MAX) {
                more = true;
                break;
            }
            nul |= ch == '\0';
            r->line[n++] = (char)ch;
        }
        /* a read error is not the end: a file cut short would lose its
         * last lines (a rotated key) without a word */
        if (ch == EOF && ferror(r->f))
            return err_sys(e, "read %s", r->path);
        if (ch == EOF && n == 0)
            return ERR_NOTFOUND;
        r->lineno++;
        while (n > 0 && r->line[n - 1] == '\r')
            n--;
        r->line[n] = '\0';
        char *s = linefile_ws(r->line);
        if (more) /* the rest of the line goes with it */
            while ((ch = getc(r->f)) != EOF && ch != '\n')
                ;
        if (more && ch == EOF && ferror(r->f))
            return err_sys(e, "read %s", r->path);
        if (*s == '#')
            continue;
        if (more)
            return err_set(e, ERR_PARSE,
                           "%s:%d:%d: line longer than %d bytes (only a "
                           "'#' comment may be)",
                           r->path, r->lineno, LINEFILE_MAX + 1, LINEFILE_MAX);
        if (nul)
            return err_set(e, ERR_PARSE, "%s:%d:%zu: NUL byte in the line",
                           r->path, r->lineno, strlen(r->line) + 1);
        if (*s == '\0')
            continue;
        *p = s;
        return ERR_OK;
    }
}
