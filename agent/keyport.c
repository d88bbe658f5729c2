/* agent/keyport.c: a listening socket on the loop that answers every
 * connection with the agent's public key line. */
#include "keyport.h"

#include "log.h"
#include "loop.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct keyport {
    struct loop *loop; /* the reactor */
    int fd;            /* listening socket */
    struct loop_io io; /* fd on the loop */
    char line[80];     /* what every client gets */
};

static void keyport_accept(struct loop *l, struct loop_io *io, unsigned ev,
                           void *arg)
{
    (void)l;
    (void)io;
    (void)ev;
    struct keyport *k = arg;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(k->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        /* a fresh socket's buffer takes 60 bytes without blocking */
        if (write(fd, k->line, strlen(k->line)) < 0)
            log_debug("keyport: write: %s", strerror(errno));
        close(fd);
    }
}

struct keyport *keyport_new(struct loop *l, const char *host, int port,
                            const char *public_z85, struct err *e)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST},
                    *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    const char *h = strcmp(host, "*") == 0 ? "0.0.0.0" : host;
    int rc = getaddrinfo(h, ps, &hints, &ai);
    if (rc != 0) {
        err_set(e, ERR_INVALID, "key port: %s: %s", host, gai_strerror(rc));
        return NULL;
    }
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, 128) != 0) {
        err_sys(e,
                "key port: cannot listen on %s:%d (set announce_key = no "
                "to run without it)",
                host, port);
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return NULL;
    }
    freeaddrinfo(ai);
    struct keyport *k = xcalloc(1, sizeof(*k));
    k->loop = l;
    k->fd = fd;
    snprintf(k->line, sizeof(k->line), "DROVER-AGENT-KEY 1 %s\n", public_z85);
    loop_io_init_fd(&k->io, fd, keyport_accept, k);
    loop_io_start(l, &k->io, LOOP_READ);
    return k;
}

void keyport_free(struct keyport *k)
{
    if (k == NULL)
        return;
    loop_io_stop(k->loop, &k->io);
    close(k->fd);
    free(k);
}
