/* coordinator/hostaddr.h: how to reach an inventory host, from its
 * variables: ansible_host, ansible_port, ansible_user,
 * ansible_ssh_private_key_file, and drover's own
 * drover_transport (ssh, agent, local), drover_agent_port,
 * drover_agent_key, drover_fence_dir. One reading for every command. */
#ifndef DROVER_HOSTADDR_H
#define DROVER_HOSTADDR_H

#include "err.h"
#include "transport.h"

struct inventory;
struct inv_host;
struct sshconfig;
struct sshconfig_host;

struct hostaddr {
    char *address;  /* ansible_host, or the host's name; for an ssh
                       host the ssh config maps (hostaddr_map), its
                       HostName: where drover connects */
    char *alias;    /* the alias the ssh config mapped (ansible_host, or
                       the name), or NULL: address was not mapped */
    int port;       /* ansible_port (drover_agent_port for agents); 0:
                       the transport's default */
    char *user;     /* ansible_user, or NULL */
    char *key_file; /* ansible_ssh_private_key_file, or NULL */
    const struct transport_kind *kind; /* drover_transport's row
                                          (transports.h), resolved here
                                          once; never NULL */
    char *agent_key;                   /* drover_agent_key, or NULL */
    char *fence_dir;            /* drover_fence_dir, or NULL (FENCE_DIR) */
    struct sshconfig_host *ssh; /* what the ssh config says about alias
                                   (or address), looked up once by
                                   hostaddr_map and handed to the ssh
                                   transport in the target; NULL: not
                                   looked up */
};

/* Read host ih's address. ERR_INVALID naming the variable (the caller
 * names the host) when a port is not 1-65535 or drover_transport is not
 * ssh, agent or local; out holds nothing then. */
enum err_code hostaddr_of(const struct inventory *inv,
                          const struct inv_host *ih, struct hostaddr *out,
                          struct err *e);

/* For a host whose kind reads the ssh config (ssh, not agent or local:
 * the config is an SSH client setting), look its address up in cfg once
 * and keep the answer in ssh; when the config gives it a HostName, make
 * address that HostName and keep the alias in alias, as the ssh
 * transport does when it connects. cfg NULL, or a lookup that fails
 * (the ssh transport looks up again and reports it): nothing changes.
 * cfg must outlive a (ssh borrows its strings). */
void hostaddr_map(struct hostaddr *a, const struct sshconfig *cfg);

void hostaddr_release(struct hostaddr *a);

/* The transport target (strings borrowed from a and name); its address
 * is the alias when there is one, and the ssh config's answer rides
 * along (target.ssh_host), so the ssh transport does not look it up
 * again. */
struct target hostaddr_target(const struct hostaddr *a, const char *name);

#endif
