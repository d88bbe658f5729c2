/* coordinator/fence.c: the SSH fencing command and its verdict. The
 * command uses only POSIX sh, flock(1) (util-linux) and sync FILE
 * (coreutils), present on every Debian host. */
#include "fence.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *fence_command(const char *dir, uint64_t epoch)
{
    if (dir == NULL)
        dir = FENCE_DIR;
    size_t n = strlen(dir);
    if (n == 0 || dir[0] != '/' ||
        strspn(dir, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789/._-") != n)
        return NULL;
    return xasprintf(
        "d='%s'; new=%" PRIu64 "; f=\"$d/epoch\"\n"
        "mkdir -p \"$d\" || exit %d\n"
        "exec 9>>\"$d/epoch.lock\" || exit %d\n"
        "flock -w %d 9 || { echo \"drover-fence: cannot lock $d/epoch.lock\""
        " >&2; exit %d; }\n"
        "cur=0\n"
        "if [ -s \"$f\" ]; then read -r cur < \"$f\" || cur=; fi\n"
        "case \"$cur\" in ''|*[!0-9]*) echo \"drover-fence: $f holds no "
        "epoch number\" >&2; exit %d;; esac\n"
        "if [ \"$cur\" -gt \"$new\" ]; then echo \"drover-fence: refused: "
        "epoch $cur seen, ours is $new\" >&2; exit %d; fi\n"
        "if [ \"$cur\" -lt \"$new\" ]; then\n"
        "  printf '%%s\\n' \"$new\" > \"$f.tmp\" && sync \"$f.tmp\" &&"
        " mv -f \"$f.tmp\" \"$f\" && sync \"$d\" || exit %d\n"
        "fi\n"
        "echo \"drover-fence: ok $new\"\n",
        dir, epoch, FENCE_EXIT_ERROR, FENCE_EXIT_ERROR, FENCE_LOCK_WAIT_S,
        FENCE_EXIT_ERROR, FENCE_EXIT_ERROR, FENCE_EXIT_REFUSED,
        FENCE_EXIT_ERROR);
}

enum err_code fence_verdict(const char *host, uint64_t epoch, int exit_code,
                            const char *output, struct err *e)
{
    const char *out = output != NULL ? output : "";
    char want[64];
    snprintf(want, sizeof(want), "drover-fence: ok %" PRIu64, epoch);
    if (exit_code == 0 && strstr(out, want) != NULL)
        return ERR_OK;
    /* the first line that is ours, else the first line */
    const char *line = strstr(out, "drover-fence: ");
    if (line == NULL)
        line = out;
    int len = (int)strcspn(line, "\n");
    if (exit_code == FENCE_EXIT_REFUSED)
        return err_set(e, ERR_LOCKED,
                       "host %s: fenced (%.*s): a newer coordinator has "
                       "acted on this host, so this one (epoch %" PRIu64
                       ") lost its lock; stop, and see `drover status`",
                       host, len, line, epoch);
    return err_set(e, ERR_EXEC,
                   "host %s: the epoch check failed (exit %d): %.*s", host,
                   exit_code, len, *line ? line : "no output");
}
