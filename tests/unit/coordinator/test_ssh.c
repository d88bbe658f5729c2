/* tests/unit/coordinator/test_ssh.c: the ssh transport's pieces that need
 * no sshd (the fleet tests in tests/integration cover the rest): the
 * command wrapper and the pgid line, the kill command against a real
 * process group, key type checks, and opening against sockets that refuse,
 * drop or ignore us, or send what no SSH server sends (an endless banner,
 * endless packets before the key exchange). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "loop.h"
#include "ssh.h"
#include "ssh_key.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    /* mkdtemp's template: six 'X' the call replaces. */
    int n = snprintf(dir, sizeof(dir), "/tmp/test_ssh.");
    memset(dir + n, 'X', 6);
    dir[n + 6] = '\0';
    assert_non_null(mkdtemp(dir));
    return 0;
}

static void sshd_stop(void);

static int teardown(void **state)
{
    (void)state;
    sshd_stop(); /* also when a test failed half-way */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Run script with sh, stdout+stderr into out; returns the exit status. */
static int run_sh(const char *script, char *out, size_t outlen)
{
    char *path = xasprintf("%s/script.sh", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(script, f);
    fclose(f);
    char *cmd = xasprintf("sh %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    free(cmd);
    free(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_ssh_wrap_reports_pgid_and_keeps_quotes(void **state)
{
    (void)state;
    char *w = ssh_wrap_command("echo \"it's\" 'a b'; exit 4");
    char out[512];
    assert_int_equal(run_sh(w, out, sizeof(out)), 4);
    assert_non_null(strstr(out, SSH_PGID_TAG));
    assert_non_null(strstr(out, "it's a b\n"));
    /* The line parses. */
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    long pg = 0;
    assert_true(ssh_parse_pgid(out, (size_t)(nl - out), &pg));
    assert_true(pg > 1);
    free(w);
}

static void test_ssh_parse_pgid(void **state)
{
    (void)state;
    long pg = 0;
    assert_true(ssh_parse_pgid("drover-pgid:1234", 16, &pg));
    assert_int_equal(pg, 1234);
    assert_false(ssh_parse_pgid("drover-pgid:", 12, &pg));
    assert_false(ssh_parse_pgid("drover-pgid:1", 13, &pg)); /* never init */
    assert_false(ssh_parse_pgid("drover-pgid:12x", 15, &pg));
    assert_false(ssh_parse_pgid("hello", 5, &pg));
    assert_false(ssh_parse_pgid("drover-pgid:99999999999999", 26, &pg));
}

/* Live (not zombie) processes in process group pg, from /proc. */
static int group_alive(pid_t pg)
{
    int n = 0;
    FILE *p = popen("cat /proc/[0-9]*/stat 2>/dev/null", "r");
    assert_non_null(p);
    char line[1024];
    while (fgets(line, sizeof(line), p) != NULL) {
        const char *r = strrchr(line, ')');
        char st;
        long ppid, pgrp;
        if (r != NULL && sscanf(r + 1, " %c %ld %ld", &st, &ppid, &pgrp) == 3 &&
            pgrp == pg && st != 'Z')
            n++;
    }
    pclose(p);
    return n;
}

static void test_ssh_kill_command_kills_the_group(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setsid();
        /* A group that ignores TERM, so KILL is needed, and a child. */
        execl("/bin/sh", "sh", "-c", "trap '' TERM; sleep 60 & sleep 60",
              (char *)NULL);
        _exit(127);
    }
    usleep(200 * 1000);
    char *k = ssh_kill_command(pid, 300);
    assert_non_null(strstr(k, "-TERM"));
    char out[256];
    assert_int_equal(run_sh(k, out, sizeof(out)), 0);
    free(k);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    /* Nothing alive is left in the group (the orphaned sleep may stay a
     * zombie until init reaps it). */
    int left = 0;
    for (int i = 0; i < 50 && (left = group_alive(pid)) > 0; i++)
        usleep(20 * 1000);
    assert_int_equal(left, 0);
}

static char *keygen(const char *type, const char *pass)
{
    char *path = xasprintf("%s/id_%s%s", dir, type, pass[0] ? "_enc" : "");
    if (access(path, R_OK) == 0)
        return path;
    char *cmd = xasprintf("ssh-keygen -q -t %s -N '%s' -f %s </dev/null "
                          ">/dev/null 2>&1",
                          type, pass, path);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    return path;
}

static enum err_code check_key_file(const char *path, struct err *e)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char text[8192];
    size_t n = fread(text, 1, sizeof(text), f);
    fclose(f);
    return ssh_key_check(text, n, path, e);
}

static void test_ssh_key_types(void **state)
{
    (void)state;
    struct err e = {0};
    char *ed = keygen("ed25519", "");
    assert_int_equal(check_key_file(ed, &e), ERR_OK);
    char *ec = keygen("ecdsa", "");
    assert_int_equal(check_key_file(ec, &e), ERR_OK);
    char *rsa = keygen("rsa", "");
    assert_int_equal(check_key_file(rsa, &e), ERR_AUTH);
    assert_non_null(strstr(e.msg, "libssh2 1.10 cannot sign with rsa-sha2; "
                                  "use an ed25519 key"));
    assert_non_null(strstr(e.msg, rsa));
    err_clear(&e);
    char *enc = keygen("ed25519", "sekrit");
    assert_int_equal(check_key_file(enc, &e), ERR_AUTH);
    assert_non_null(strstr(e.msg, "passphrase"));
    err_clear(&e);
    assert_int_equal(ssh_key_check("hello", 5, "x", &e), ERR_PARSE);
    assert_non_null(strstr(e.msg, "x: not a private key"));
    err_clear(&e);
    static const char pem_rsa[] = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n";
    assert_int_equal(ssh_key_check(pem_rsa, sizeof(pem_rsa) - 1, "p", &e),
                     ERR_AUTH);
    err_clear(&e);
    /* Damaged base64 body: an error, not a crash. */
    static const char bad[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n"
                              "b3BlbnNzaC1rZXktdjEAAAAA////\n"
                              "-----END OPENSSH PRIVATE KEY-----\n";
    assert_int_equal(ssh_key_check(bad, sizeof(bad) - 1, "d", &e), ERR_PARSE);
    assert_non_null(strstr(e.msg, "damaged"));
    free(ed);
    free(ec);
    free(rsa);
    free(enc);
}

static void test_ssh_transport_refuses_rsa_and_missing_key(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct ssh_options o;
    ssh_options_init(&o);
    char *rsa = keygen("rsa", "");
    o.key_file = rsa;
    assert_null(ssh_transport_new(l, &o, &e));
    assert_int_equal(e.code, ERR_AUTH);
    assert_non_null(strstr(e.msg, "cannot sign with rsa-sha2"));
    err_clear(&e);
    o.key_file = "/nonexistent/key";
    assert_null(ssh_transport_new(l, &o, &e));
    assert_int_equal(e.code, ERR_SYS);
    assert_non_null(strstr(e.msg, "/nonexistent/key"));
    free(rsa);
    loop_free(l);
}

/* --- opening against sockets that misbehave ------------------------------
 */

struct probe {
    int opened;         /* opened callbacks */
    struct err err;     /* the error reported */
    int64_t elapsed_ms; /* until it was reported */
};

static int64_t probe_t0;

static void probe_opened(struct conn *c, const struct err *e, void *arg)
{
    struct probe *p = arg;
    p->opened++;
    if (e != NULL)
        p->err = *e;
    p->elapsed_ms = clock_mono_ms() - probe_t0;
    conn_close(c);
}

static const struct conn_cb probe_cb = {.opened = probe_opened};

/* A listening socket on 127.0.0.1; returns its fd, *port its port. */
static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct transport *transport(struct loop *l, int64_t timeout)
{
    struct err e = {0};
    struct ssh_options o;
    ssh_options_init(&o);
    char *key = keygen("ed25519", "");
    o.key_file = key;
    char *kh = xasprintf("%s/known_hosts", dir);
    o.known_hosts = kh;
    o.connect_timeout_ms = timeout;
    struct transport *t = ssh_transport_new(l, &o, &e);
    assert_non_null(t);
    free(key);
    free(kh);
    return t;
}

static void run_until(struct loop *l, struct probe *p, int64_t max_ms)
{
    struct err e = {0};
    int64_t end = clock_mono_ms() + max_ms;
    while (p->opened == 0 && clock_mono_ms() < end)
        loop_run_once(l, 50, &e);
}

static void test_ssh_connect_refused_is_unreachable(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *t = transport(l, 2000);
    int port;
    int fd = listener(&port);
    close(fd); /* nothing listens there now */
    struct probe p = {0};
    struct target tg = {.name = "h1", .address = "127.0.0.1", .port = port};
    probe_t0 = clock_mono_ms();
    transport_connect(t, &tg, &probe_cb, &p);
    run_until(l, &p, 3000);
    assert_int_equal(p.opened, 1);
    assert_int_equal(p.err.code, ERR_UNREACHABLE);
    assert_non_null(strstr(p.err.msg, "h1"));
    assert_non_null(strstr(p.err.msg, "refused"));
    assert_true(p.elapsed_ms < 1000);
    transport_free(t);
    loop_free(l);
}

static void test_ssh_silent_server_times_out(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *t = transport(l, 400);
    int port;
    int fd = listener(&port); /* accepts in the kernel, never speaks */
    struct probe p = {0};
    struct target tg = {.name = "h2", .address = "127.0.0.1", .port = port};
    probe_t0 = clock_mono_ms();
    transport_connect(t, &tg, &probe_cb, &p);
    run_until(l, &p, 3000);
    assert_int_equal(p.opened, 1);
    assert_int_equal(p.err.code, ERR_UNREACHABLE);
    assert_non_null(strstr(p.err.msg, "timed out after"));
    assert_non_null(strstr(p.err.msg, "(during ssh banner; 0 bytes received)"));
    assert_true(p.elapsed_ms >= 380 && p.elapsed_ms < 1500);
    close(fd);
    transport_free(t);
    loop_free(l);
}

static void test_ssh_dropped_handshakes_are_retried(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *t = transport(l, 800);
    int port;
    int fd = listener(&port);
    /* Like sshd past MaxStartups: accept, then hang up at once, saying
     * so as OpenSSH 9.2 does every other time. A child process does it so
     * the loop here stays the only one we drive. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static const char msg[] = "\r\nExceeded MaxStartups\r\n";
        for (int n = 0;; n++) {
            int a = accept(fd, NULL, NULL);
            if (a >= 0 && n % 2 == 1 && write(a, msg, sizeof(msg) - 1) < 0)
                n = 0;
            if (a >= 0)
                close(a);
        }
    }
    struct probe p = {0};
    struct target tg = {.name = "h3", .address = "127.0.0.1", .port = port};
    probe_t0 = clock_mono_ms();
    transport_connect(t, &tg, &probe_cb, &p);
    run_until(l, &p, 3000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fd);
    struct ssh_stats st;
    ssh_transport_stats(t, &st);
    assert_int_equal(p.opened, 1);
    assert_int_equal(p.err.code, ERR_UNREACHABLE);
    assert_true(st.retries >= 2);
    assert_int_equal(st.connects, st.retries + 1);
    assert_int_equal(st.handshakes, 0);
    assert_true(p.elapsed_ms < 1500);
    transport_free(t);
    loop_free(l);
}

static void test_ssh_handshakes_capped_per_target(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *t = transport(l, 300);
    int port;
    int fd = listener(&port);
    enum { N = 12 };
    struct probe p[N];
    memset(p, 0, sizeof(p));
    struct target tg = {.name = "h4", .address = "127.0.0.1", .port = port};
    for (int i = 0; i < N; i++)
        transport_connect(t, &tg, &probe_cb, &p[i]);
    /* A few turns: connections start, the silent server holds them. */
    for (int i = 0; i < 10; i++)
        loop_run_once(l, 10, &e);
    struct ssh_stats st;
    ssh_transport_stats(t, &st);
    assert_int_equal(st.handshakes, SSH_HANDSHAKES_PER_TARGET);
    assert_int_equal(st.connects, SSH_HANDSHAKES_PER_TARGET);
    /* All of them time out (the queued ones too), and nothing is left. */
    int64_t end = clock_mono_ms() + 3000;
    int done = 0;
    while (done < N && clock_mono_ms() < end) {
        loop_run_once(l, 50, &e);
        done = 0;
        for (int i = 0; i < N; i++)
            done += p[i].opened;
    }
    assert_int_equal(done, N);
    ssh_transport_stats(t, &st);
    assert_int_equal(st.handshakes, 0);
    assert_int_equal(loop_io_count(l), 0);
    close(fd);
    transport_free(t);
    loop_free(l);
}

/* A child process that accepts on fd and serves each connection with fn,
 * so the loop here stays the only one this process drives. */
static pid_t serve_child(int fd, void (*fn)(int))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        for (;;) {
            int a = accept(fd, NULL, NULL);
            if (a >= 0) {
                fn(a);
                close(a);
            }
        }
    }
    return pid;
}

/* Lines, none an SSH version line: endless to a client that reads it all
 * (4 MiB, so that a client without the cap ends, with another error). */
static void serve_flood(int a)
{
    static const char line[] = "not an ssh version line\r\n";
    for (size_t n = 0; n < 4u << 20; n += sizeof(line) - 1)
        if (write(a, line, sizeof(line) - 1) < 0)
            return;
}

/* A version line, then SSH_MSG_IGNORE packets (16 MiB), never a KEXINIT. */
static void serve_ignore(int a)
{
    static const char v[] = "SSH-2.0-test\r\n";
    if (write(a, v, sizeof(v) - 1) < 0)
        return;
    /* length 1020 = padding length byte + payload (1 + 4 + 1000) + 14
     * bytes of padding; 4 + 1020 is a multiple of 8 */
    unsigned char pk[4 + 1020] = {0, 0, 0x03, 0xfc, 14, 2, 0, 0, 0x03, 0xe8};
    memset(pk + 10, 'z', 1000);
    for (int i = 0; i < 16 * 1024; i++)
        if (write(a, pk, sizeof(pk)) < 0)
            return;
}

/* A version line, then the connection closed. */
static void serve_version_close(int a)
{
    static const char v[] = "SSH-2.0-test\r\n";
    if (write(a, v, sizeof(v) - 1) < 0)
        return;
    usleep(50 * 1000);
}

/* Open h against a child serving fn; the probe says how it ended. */
static void open_against(void (*fn)(int), struct probe *p, struct ssh_stats *st)
{
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *t = transport(l, 5000);
    int port;
    int fd = listener(&port);
    pid_t pid = serve_child(fd, fn);
    struct target tg = {.name = "h5", .address = "127.0.0.1", .port = port};
    probe_t0 = clock_mono_ms();
    transport_connect(t, &tg, &probe_cb, p);
    run_until(l, p, 6000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fd);
    ssh_transport_stats(t, st);
    transport_free(t);
    loop_free(l);
}

static void test_ssh_endless_banner_is_capped(void **state)
{
    (void)state;
    /* libssh2 1.10 alone reads such a banner for ever inside one call */
    struct probe p = {0};
    struct ssh_stats st;
    open_against(serve_flood, &p, &st);
    assert_int_equal(p.opened, 1);
    assert_int_equal(p.err.code, ERR_PROTO);
    assert_non_null(strstr(p.err.msg, "no SSH version line in the first 8192 "
                                      "bytes (during ssh banner)"));
    assert_non_null(strstr(p.err.msg, "It began \"not an ssh version "
                                      "line\\r\""));
    assert_int_equal(st.retries, 0);
    assert_true(p.elapsed_ms < 2000);
}

static void test_ssh_preauth_bytes_are_capped(void **state)
{
    (void)state;
    struct probe p = {0};
    struct ssh_stats st;
    open_against(serve_ignore, &p, &st);
    assert_int_equal(p.opened, 1);
    assert_int_equal(p.err.code, ERR_PROTO);
    assert_non_null(strstr(p.err.msg, "the server sent over 256 KiB before "
                                      "authentication ended (during key "
                                      "exchange)"));
    assert_int_equal(st.retries, 0);
    assert_true(p.elapsed_ms < 2000);
}

static void test_ssh_close_after_version_is_not_retried(void **state)
{
    (void)state;
    /* Not a MaxStartups drop: sshd drops before it says anything. */
    struct probe p = {0};
    struct ssh_stats st;
    open_against(serve_version_close, &p, &st);
    assert_int_equal(p.opened, 1);
    assert_int_equal(p.err.code, ERR_UNREACHABLE);
    assert_true(strstr(p.err.msg, "(during key exchange)") != NULL);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.connects, 1);
}

/* --- against a real sshd ---------------------------------------------------
 * One OpenSSH sshd on 127.0.0.1 and a free port, with throwaway keys: the
 * session is opened once and reused by every command. */

struct sshd {
    char dir[96];  /* its files */
    int port;      /* where it listens */
    pid_t pid;     /* the daemon */
    char key[160]; /* client private key */
    char kh[160];  /* known_hosts holding its key */
};

static struct sshd sshd;

static void sshd_start(void)
{
    assert_int_equal(getuid(), 0); /* sshd logs in as root: tests run so */
    int n = snprintf(sshd.dir, sizeof(sshd.dir), "%s/sshd.", dir);
    memset(sshd.dir + n, 'X', 6);
    sshd.dir[n + 6] = '\0';
    assert_non_null(mkdtemp(sshd.dir));
    int fd = listener(&sshd.port);
    close(fd);
    char *script = xasprintf(
        "set -e; cd %s; mkdir -p /run/sshd; "
        "ssh-keygen -q -t ed25519 -N '' -f host </dev/null >/dev/null; "
        "ssh-keygen -q -t ed25519 -N '' -f id </dev/null >/dev/null; "
        "cp id.pub authorized_keys; "
        "printf '[127.0.0.1]:%d %%s\\n' \"$(cut -d' ' -f1,2 host.pub)\" "
        ">known_hosts; "
        "printf '%%s\\n' 'ListenAddress 127.0.0.1:%d' \"HostKey $PWD/host\" "
        "\"PidFile $PWD/pid\" \"AuthorizedKeysFile $PWD/authorized_keys\" "
        "'StrictModes no' 'UsePAM no' 'PasswordAuthentication no' "
        "'PermitRootLogin prohibit-password' >sshd_config; "
        /* root's .bashrc may be slow (docs/dependencies.md): a clean one,
           privately */
        "unshare -m --propagation private sh -c 'mount --bind "
        "/usr/share/base-files/dot.bashrc /root/.bashrc; "
        "/usr/sbin/sshd -f '\"$PWD\"'/sshd_config -E '\"$PWD\"'/log'; "
        "for i in $(seq 50); do [ -s pid ] && break; sleep 0.1; done; "
        "[ -s pid ]",
        sshd.dir, sshd.port, sshd.port);
    char *cmd = xasprintf("bash -c \"$(cat <<'EOS'\n%s\nEOS\n)\"", script);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(script);
    char *pidf = xasprintf("%s/pid", sshd.dir);
    FILE *f = fopen(pidf, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &sshd.pid), 1);
    fclose(f);
    free(pidf);
    snprintf(sshd.key, sizeof(sshd.key), "%s/id", sshd.dir);
    snprintf(sshd.kh, sizeof(sshd.kh), "%s/known_hosts", sshd.dir);
    /* Wait until it accepts connections. */
    for (int i = 0; i < 50; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)sshd.port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(s);
        if (ok)
            return;
        usleep(100 * 1000);
    }
    fail_msg("sshd did not come up on port %d", sshd.port);
}

static void sshd_stop(void)
{
    if (sshd.pid > 0)
        kill(sshd.pid, SIGTERM);
    sshd.pid = 0;
}

/* What one command produced. */
struct job {
    struct buf out;         /* stdout */
    struct buf err;         /* stderr */
    struct exec_result res; /* how it ended */
    int done;               /* done callbacks */
    int opened;             /* opened callbacks */
    struct err open_err;    /* opened with an error */
};

static void job_opened(struct conn *c, const struct err *e, void *arg)
{
    (void)c;
    struct job *j = arg;
    j->opened++;
    if (e != NULL)
        j->open_err = *e;
}

static void job_output(struct conn *c, int stream, const char *data, size_t len,
                       void *arg)
{
    (void)c;
    struct job *j = arg;
    buf_add(stream == EXEC_STDOUT ? &j->out : &j->err, data, len);
}

static void job_done(struct conn *c, const struct exec_result *r, void *arg)
{
    (void)c;
    struct job *j = arg;
    j->res = *r;
    j->done++;
}

static const struct conn_cb job_cb = {job_opened, job_output, job_done};

static void job_wait(struct loop *l, const int *flag, int64_t max_ms)
{
    struct err e = {0};
    int64_t end = clock_mono_ms() + max_ms;
    while (*flag == 0 && clock_mono_ms() < end)
        loop_run_once(l, 50, &e);
    assert_int_not_equal(*flag, 0);
}

/* Run command (with input) on c; j is reset first. */
static void job_run(struct loop *l, struct conn *c, struct job *j,
                    const char *command, const char *input, size_t input_len,
                    int64_t timeout_ms)
{
    buf_reset(&j->out);
    buf_reset(&j->err);
    j->done = 0;
    struct exec_spec s = {.command = command,
                          .input = input,
                          .input_len = input_len,
                          .timeout_ms = timeout_ms};
    struct err e = {0};
    assert_int_equal(conn_exec(c, &s, &e), ERR_OK);
    job_wait(l, &j->done, timeout_ms > 15000 ? timeout_ms + 5000 : 20000);
}

static void test_ssh_session_reused_by_every_command(void **state)
{
    (void)state;
    sshd_start();
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct ssh_options o;
    ssh_options_init(&o);
    o.key_file = sshd.key;
    o.known_hosts = sshd.kh;
    o.user = "root";
    struct transport *t = ssh_transport_new(l, &o, &e);
    assert_non_null(t);
    struct job j;
    memset(&j, 0, sizeof(j));
    buf_init(&j.out, BUF_UNLIMITED);
    buf_init(&j.err, BUF_UNLIMITED);
    struct target tg = {
        .name = "local", .address = "127.0.0.1", .port = sshd.port};
    struct conn *c = transport_connect(t, &tg, &job_cb, &j);
    job_wait(l, &j.opened, 10000);
    assert_int_equal(j.open_err.code, ERR_OK);

    /* stdout and stderr apart, the pgid line hidden. */
    job_run(l, c, &j, "echo one; echo two >&2", NULL, 0, 0);
    assert_true(exec_result_ok(&j.res));
    assert_string_equal(buf_cstr(&j.out), "one\n");
    assert_string_equal(buf_cstr(&j.err), "two\n");

    /* Input reaches stdin, then EOF. */
    static const char secret[] = "s3cret-value\n";
    job_run(l, c, &j, "cat", secret, sizeof(secret) - 1, 0);
    assert_string_equal(buf_cstr(&j.out), secret);

    /* Exit status and signals. */
    job_run(l, c, &j, "exit 7", NULL, 0, 0);
    assert_int_equal(j.res.end, EXEC_EXITED);
    assert_int_equal(j.res.exit_code, 7);
    job_run(l, c, &j, "kill -TERM $$", NULL, 0, 0);
    assert_int_equal(j.res.end, EXEC_SIGNALED);
    assert_string_equal(j.res.signal, "TERM");

    /* A megabyte each way: flow control in both directions. */
    enum { BIG = 1000000 };
    char *big = xmalloc(BIG);
    memset(big, 'y', BIG);
    job_run(l, c, &j, "wc -c; head -c 1000000 /dev/zero | tr '\\0' x", big, BIG,
            0);
    free(big);
    assert_true(exec_result_ok(&j.res));
    assert_int_equal(j.out.len, 8 + BIG);
    assert_memory_equal(j.out.data, "1000000\n", 8);

    /* Output before input, more than a channel window (2 MB) each way:
     * we must read while our writes wait for window space. */
    enum { HUGE = 4 * 1000 * 1000 };
    char *huge = xmalloc(HUGE);
    memset(huge, 'z', HUGE);
    job_run(l, c, &j, "head -c 4000000 /dev/zero | tr '\\0' x; wc -c", huge,
            HUGE, 90000); /* generous: sanitizers on a busy machine */
    free(huge);
    assert_int_equal(j.res.end, EXEC_EXITED);
    assert_int_equal(j.out.len, HUGE + 8);
    assert_memory_equal(j.out.data + HUGE, "4000000\n", 8);

    /* A timeout kills the command, and the session goes on. */
    job_run(l, c, &j, "sleep 30", NULL, 0, 300);
    assert_int_equal(j.res.end, EXEC_TIMEOUT);
    assert_non_null(strstr(j.res.err.msg, "remote process group"));
    assert_true(j.res.elapsed_ms < 5000);
    job_run(l, c, &j, "echo after", NULL, 0, 0);
    assert_string_equal(buf_cstr(&j.out), "after\n");

    /* Eight commands and one kill: one connection, nine channels. */
    struct ssh_stats st;
    ssh_transport_stats(t, &st);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.channels, 9);

    conn_close(c);
    assert_int_equal(loop_io_count(l), 0);
    buf_release(&j.out);
    buf_release(&j.err);
    transport_free(t);
    loop_free(l);
    sshd_stop();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ssh_wrap_reports_pgid_and_keeps_quotes),
        cmocka_unit_test(test_ssh_parse_pgid),
        cmocka_unit_test(test_ssh_kill_command_kills_the_group),
        cmocka_unit_test(test_ssh_key_types),
        cmocka_unit_test(test_ssh_transport_refuses_rsa_and_missing_key),
        cmocka_unit_test(test_ssh_connect_refused_is_unreachable),
        cmocka_unit_test(test_ssh_silent_server_times_out),
        cmocka_unit_test(test_ssh_dropped_handshakes_are_retried),
        cmocka_unit_test(test_ssh_handshakes_capped_per_target),
        cmocka_unit_test(test_ssh_endless_banner_is_capped),
        cmocka_unit_test(test_ssh_preauth_bytes_are_capped),
        cmocka_unit_test(test_ssh_close_after_version_is_not_retried),
        cmocka_unit_test(test_ssh_session_reused_by_every_command),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
