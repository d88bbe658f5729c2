/* coordinator/fence.c: the host-side step wrapper (fence.h) and the
 * reading of its answers. The script is POSIX sh: it runs inside the
 * login shell (bash or dash) through ssh_wrap_command's eval, so its own
 * variables carry a _dr_ prefix; the step itself runs in a new
 * "$SHELL -c", in its own session, and sees none of them but two it
 * is given on purpose: DROVER_EPOCH (the coordinator's fencing epoch) and
 * DROVER_STEP_ID (coordinator/stepid.h), as a drover-agent gives its jobs. */
#include "fence.h"

#include "buf.h"
#include "shquote.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the detached runner does: run the step with its output in files,
 * then record its exit status in end and sync it (end and its directory
 * entry) before it exits. It holds run.lock (fd 8, taken by the wrapper)
 * until it exits: readers wait for the lock before they trust end, so end
 * needs no rename, and a free lock with no number in end means it died
 * without recording (host restart, kill -9). A TERM or INT is caught so
 * the step's end is still recorded. */
static const char fence_runner[] =
    "trap \"_dr_x=1\" TERM INT; "
    "\"${SHELL:-/bin/sh}\" -c \"$2\" 8>&- >>\"$1/out\" 2>>\"$1/err\"; "
    "printf \"%s\\n\" \"$?\" >\"$1/end\" && sync \"$1/end\" \"$1\"";

static bool fence_safe(const char *s, const char *extra)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
              strchr(extra, c) != NULL))
            return false;
    }
    return true;
}

char *fence_command(const struct fence_step *s, struct err *e)
{
    const char *dir = s->dir != NULL ? s->dir : FENCE_DIR;
    if (dir[0] != '/' || !fence_safe(dir, "/")) {
        err_set(e, ERR_INVALID,
                "drover_fence_dir '%s' must be an absolute path of "
                "A-Za-z0-9/._-",
                dir);
        return NULL;
    }
    if (!fence_safe(s->id, ":")) {
        err_set(e, ERR_INVALID, "'%s' is not a valid step id", s->id);
        return NULL;
    }
    static const char *const modes[] = {"run", "resume", "check"};
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(
        &b, "_dr_d='%s'; _dr_id='%s'; _dr_ep=%" PRIu64 "; _dr_m=%s; _dr_i=%d\n",
        dir, s->id, s->epoch, modes[s->mode], s->input ? 1 : 0);
    buf_adds(&b, "_dr_who=");
    shquote_add(&b, s->who != NULL ? s->who : "");
    buf_adds(&b, "\n_dr_c=");
    shquote_add(&b, s->command);
    buf_printf(
        &b,
        "\numask 077\n"
        "_dr_h() { printf 'drover-step: %%s\\n' \"$*\" >&2; }\n"
        /* every process counts: docs/ssh.md lists what a step costs */
        "[ \"$_dr_i\" = 1 ] && { _dr_in=$(cat; echo .); _dr_in=${_dr_in%%.}; "
        "}\n"
        "[ -d \"$_dr_d/steps\" ] || mkdir -p \"$_dr_d/steps\" 2>/dev/null || "
        "{ _dr_h error \"cannot create $_dr_d/steps (set drover_fence_dir to "
        "a directory this login can write)\"; exit %d; }\n"
        "exec 9>>\"$_dr_d/fence.lock\" || { _dr_h error \"cannot open "
        "$_dr_d/fence.lock\"; exit %d; }\n"
        "flock -w %d 9 || { _dr_h error \"cannot lock $_dr_d/fence.lock "
        "(flock(1) of util-linux is needed)\"; exit %d; }\n"
        "_dr_cur=0; _dr_rest=; _dr_had=0\n"
        "if [ -s \"$_dr_d/fence\" ]; then read -r _dr_cur _dr_rest "
        "<\"$_dr_d/fence\" || _dr_cur=; _dr_had=1; fi\n"
        "case $_dr_cur in ''|*[!0-9]*) _dr_h error \"$_dr_d/fence holds no "
        "epoch number\"; exit %d;; esac\n"
        "_dr_sd=${_dr_who%%%% *}\n"
        "if [ \"$_dr_ep\" -gt 0 ]; then\n"
        "  if [ \"$_dr_cur\" -gt \"$_dr_ep\" ]; then _dr_h refused "
        "\"$_dr_cur $_dr_rest\"; exit %d; fi\n"
        /* the same epoch from another state directory is another
         * coordinator: refused too */
        "  if [ \"$_dr_cur\" -eq \"$_dr_ep\" ] && [ -n \"$_dr_sd\" ]; then\n"
        "    case \" $_dr_rest \" in *\" $_dr_sd \"*) ;; *) _dr_h refused "
        "\"$_dr_cur $_dr_rest\"; exit %d;; esac\n"
        "  fi\n"
        "  if [ \"$_dr_cur\" -lt \"$_dr_ep\" ]; then\n"
        "    printf '%%s %%s at=%%s\\n' \"$_dr_ep\" \"$_dr_who\" "
        "\"$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)\" >\"$_dr_d/fence.tmp\" && "
        "sync \"$_dr_d/fence.tmp\" "
        "&& mv -f \"$_dr_d/fence.tmp\" \"$_dr_d/fence\" && sync \"$_dr_d\" "
        "|| { _dr_h error \"cannot write $_dr_d/fence\"; exit %d; }\n"
        "    find \"$_dr_d/steps\" -mindepth 1 -maxdepth 1 -mtime +%d "
        "-exec rm -rf {} + 2>/dev/null\n"
        "  fi\n"
        "fi\n"
        "if [ \"$_dr_m\" = check ]; then exec 9>&-; _dr_h check; eval "
        "\"$_dr_c\"; exit; fi\n"
        "_dr_s=$_dr_d/steps/$_dr_id; _dr_st=\n"
        "if [ -d \"$_dr_s\" ]; then\n"
        /* the runner holds run.lock while it lives; end is trusted only
         * once the lock is free */
        "  exec 7>>\"$_dr_s/run.lock\"\n"
        "  if ! flock -n 7; then _dr_h attach running\n"
        "  else\n"
        "    [ -f \"$_dr_s/end\" ] && read -r _dr_st <\"$_dr_s/end\"\n"
        "    case $_dr_st in ''|*[!0-9]*) _dr_h unknown \"it started ($(cat "
        "\"$_dr_s/start\" 2>/dev/null)) and no end was recorded, yet it is "
        "not running: the host restarted or it was killed\"; exit %d;; esac\n"
        "    _dr_h attach ended\n"
        "  fi\n"
        "  exec 7>&-\n"
        "elif [ \"$_dr_m\" = resume ] && [ \"$_dr_had\" = 0 ]; then\n"
        "  _dr_h unknown \"no record of it and no fence under $_dr_d: the "
        "host's records are gone\"; exit %d\n"
        "else\n"
        /* the step's directory is its start record: durable (a sync of
         * steps/) before the step runs */
        "  { mkdir \"$_dr_s\" && : >\"$_dr_s/out\" && : >\"$_dr_s/err\" && "
        "printf '%%s %%s\\n' \"$_dr_ep\" \"$_dr_who\" >\"$_dr_s/start\" && "
        "sync \"$_dr_d/steps\" && exec 8>\"$_dr_s/run.lock\" && flock -n 8; } "
        "|| { _dr_h error \"cannot record the step under $_dr_s\"; exit %d; "
        "}\n"
        "  if [ \"$_dr_i\" = 1 ]; then\n"
        "    printf '%%s' \"$_dr_in\" | DROVER_EPOCH=$_dr_ep "
        "DROVER_STEP_ID=$_dr_id setsid sh -c '%s' drover-step "
        "\"$_dr_s\" \"$_dr_c\" 9>&- >/dev/null 2>&1 &\n"
        "  else\n"
        "    DROVER_EPOCH=$_dr_ep DROVER_STEP_ID=$_dr_id setsid sh -c '%s' "
        "drover-step \"$_dr_s\" \"$_dr_c\" 9>&- "
        "</dev/null >/dev/null 2>&1 &\n"
        "  fi\n"
        "  echo $! >\"$_dr_s/pid\"\n"
        "  exec 8>&-\n"
        "  _dr_h run\n"
        "fi\n"
        "exec 9>&-\n"
        "_dr_p=; [ -f \"$_dr_s/pid\" ] && read -r _dr_p <\"$_dr_s/pid\"\n"
        /* the coordinator's timeout or cancel: TERM to the step's own
         * group, KILL a second later from a killer of its own */
        "trap '[ -n \"$_dr_p\" ] && kill -TERM -\"$_dr_p\" 2>/dev/null && "
        "setsid sh -c \"sleep 1; kill -KILL -$_dr_p 2>/dev/null\" "
        "</dev/null >/dev/null 2>&1 & exit 143' TERM\n"
        /* most steps end within a second: wait for the runner's lock (no
         * polling, one process) and send the output whole; a longer step
         * is streamed from its start by tail until its runner exits */
        "exec 7>>\"$_dr_s/run.lock\"\n"
        "if [ -n \"$_dr_st\" ] || flock -w 1 7 || { [ -z \"$_dr_p\" ] && "
        "flock 7; }; then\n"
        "  exec 7>&-\n"
        "  [ -s \"$_dr_s/out\" ] && cat \"$_dr_s/out\"\n"
        "  [ -s \"$_dr_s/err\" ] && cat \"$_dr_s/err\" >&2\n"
        "else\n"
        "  exec 7>&-\n"
        "  tail -c +1 -s 0.02 -f --pid=\"$_dr_p\" \"$_dr_s/out\" & _dr_t1=$!\n"
        "  tail -c +1 -s 0.02 -f --pid=\"$_dr_p\" \"$_dr_s/err\" >&2 & "
        "_dr_t2=$!\n"
        "  wait $_dr_t1; wait $_dr_t2\n"
        "fi\n"
        "_dr_st=; [ -f \"$_dr_s/end\" ] && read -r _dr_st <\"$_dr_s/end\"\n"
        "case $_dr_st in ''|*[!0-9]*) trap - TERM; kill -KILL $$;; esac\n"
        /* a status past 128 is how a shell reports a signal: end the
         * same way, so the channel reports the signal */
        "if [ \"$_dr_st\" -gt 128 ] && [ \"$_dr_st\" -lt 160 ]; then\n"
        "  _dr_sig=$(kill -l $((_dr_st - 128)) 2>/dev/null) && trap - "
        "TERM && kill -s \"$_dr_sig\" $$ 2>/dev/null\n"
        "fi\n"
        "exit \"$_dr_st\"\n",
        FENCE_EXIT_ERROR, FENCE_EXIT_ERROR, FENCE_LOCK_WAIT_S, FENCE_EXIT_ERROR,
        FENCE_EXIT_ERROR, FENCE_EXIT_REFUSED, FENCE_EXIT_REFUSED,
        FENCE_EXIT_ERROR, FENCE_RETENTION_D, FENCE_EXIT_UNKNOWN,
        FENCE_EXIT_UNKNOWN, FENCE_EXIT_ERROR, fence_runner, fence_runner);
    return buf_detach(&b);
}

/* Append s to b, bytes outside [A-Za-z0-9._:@-] as '_'. */
static void fence_word(struct buf *b, const char *key, const char *s)
{
    buf_printf(b, "%s%s=", b->len ? " " : "", key);
    if (s == NULL || *s == '\0')
        s = "-";
    for (const char *p = s; *p && p - s < 64; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || strchr("._:@-", c) != NULL;
        buf_addc(b, ok ? c : '_');
    }
}

char *fence_who(const char *state_id, const char *host, const char *deploy)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    fence_word(&b, "state_dir", state_id);
    fence_word(&b, "coordinator", host);
    fence_word(&b, "deploy", deploy);
    return buf_detach(&b);
}

enum fence_head fence_head_parse(const char *line, size_t len,
                                 const char **rest)
{
    static const struct {
        const char *word;
        enum fence_head head;
    } words[] = {
        {"run", FENCE_HEAD_RUN},         {"attach", FENCE_HEAD_ATTACH},
        {"check", FENCE_HEAD_CHECK},     {"refused", FENCE_HEAD_REFUSED},
        {"unknown", FENCE_HEAD_UNKNOWN}, {"error", FENCE_HEAD_ERROR}};
    static const char tag[] = "drover-step: ";
    size_t tl = sizeof(tag) - 1;
    if (len < tl || memcmp(line, tag, tl) != 0)
        return FENCE_HEAD_NONE;
    const char *w = line + tl;
    size_t wl = len - tl;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i].word);
        if (wl >= n && memcmp(w, words[i].word, n) == 0 &&
            (wl == n || w[n] == ' ')) {
            if (rest != NULL)
                *rest = wl == n ? w + n : w + n + 1;
            return words[i].head;
        }
    }
    return FENCE_HEAD_NONE;
}

enum err_code fence_refused(const char *host, uint64_t epoch, const char *rest,
                            struct err *e)
{
    const char *r = rest != NULL ? rest : "";
    int seen = (int)strspn(r, "0123456789");
    const char *by = r + seen + strspn(r + seen, " ");
    int bylen = (int)strcspn(by, "\n");
    if (bylen > 300)
        bylen = 300;
    return err_set(e, ERR_LOCKED,
                   "host %s: fenced at epoch %.*s by %.*s; ours is %" PRIu64
                   ": a newer coordinator has acted on this host (gone for "
                   "good? --take-over-fence %.*s, docs/state.md)",
                   host, seen ? seen : 1, seen ? r : "?", bylen ? bylen : 7,
                   bylen ? by : "unknown", epoch, seen ? seen : 1,
                   seen ? r : "?");
}

enum err_code fence_wait_append(struct buf *b, const char *dir, const char *id,
                                struct err *e)
{
    const char *d = dir != NULL ? dir : FENCE_DIR;
    if (d[0] != '/' || !fence_safe(d, "/") || !fence_safe(id, ":"))
        return err_set(e, ERR_INVALID, "'%s/steps/%s' is not a safe path", d,
                       id != NULL ? id : "");
    buf_printf(b,
               "_dr_s='%s/steps/%s'; if [ -f \"$_dr_s/run.lock\" ] && "
               "[ ! -f \"$_dr_s/end\" ]; then flock \"$_dr_s/run.lock\" "
               "true || exit 1; fi\n",
               d, id);
    return ERR_OK;
}
