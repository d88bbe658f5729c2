/* coordinator/hostaddr.c: an inventory host's connection variables. */
#include "hostaddr.h"

#include "inventory.h"
#include "sshconfig.h"
#include "template.h"
#include "transports.h"

#include <stdlib.h>
#include <string.h>

/* A variable as text (integers too); NULL when undefined or null. */
static char *hostaddr_var(const struct inventory *inv,
                          const struct inv_host *ih, const char *name)
{
    json_t *v = inv_host_var(inv, ih, name);
    if (v == NULL || json_is_null(v))
        return NULL;
    return template_value_str(v);
}

enum err_code hostaddr_of(const struct inventory *inv,
                          const struct inv_host *ih, struct hostaddr *out,
                          struct err *e)
{
    const char *name = inv_host_name(ih);
    memset(out, 0, sizeof(*out));
    char *kind = hostaddr_var(inv, ih, "drover_transport");
    struct err ke = {0};
    out->kind = transport_kind_find(kind, &ke);
    free(kind);
    if (out->kind == NULL) {
        hostaddr_release(out);
        return err_set(e, ERR_INVALID, "%s", ke.msg);
    }
    const char *port_var = out->kind->port_var;
    char *port = hostaddr_var(inv, ih, port_var);
    if (port != NULL) {
        char *end = NULL;
        long v = strtol(port, &end, 10);
        if (*port == '\0' || *end != '\0' || v < 1 || v > 65535) {
            err_set(e, ERR_INVALID, "%s '%.64s' is not a port number (1-65535)",
                    port_var, port);
            free(port);
            hostaddr_release(out);
            return ERR_INVALID;
        }
        out->port = (int)v;
        free(port);
    }
    out->address = hostaddr_var(inv, ih, "ansible_host");
    if (out->address == NULL)
        out->address = xstrdup(name);
    out->user = hostaddr_var(inv, ih, "ansible_user");
    out->key_file = hostaddr_var(inv, ih, "ansible_ssh_private_key_file");
    out->agent_key = hostaddr_var(inv, ih, "drover_agent_key");
    out->fence_dir = hostaddr_var(inv, ih, "drover_fence_dir");
    return ERR_OK;
}

void hostaddr_map(struct hostaddr *a, const struct sshconfig *cfg)
{
    if (cfg == NULL || a->ssh != NULL || !a->kind->ssh_config)
        return;
    struct sshconfig_host *h = xcalloc(1, sizeof(*h));
    struct err le = {0};
    if (sshconfig_lookup(cfg, a->address, h, &le) != ERR_OK) {
        sshconfig_host_release(h);
        free(h);
        return;
    }
    a->ssh = h;
    if (h->hostname == NULL)
        return;
    a->alias = a->address;
    a->address = xstrdup(h->hostname);
}

void hostaddr_release(struct hostaddr *a)
{
    free(a->address);
    free(a->alias);
    free(a->user);
    free(a->key_file);
    if (a->ssh != NULL)
        sshconfig_host_release(a->ssh);
    free(a->ssh);
    free(a->agent_key);
    free(a->fence_dir);
    memset(a, 0, sizeof(*a));
}

struct target hostaddr_target(const struct hostaddr *a, const char *name)
{
    struct target t = {.name = name,
                       .address = a->alias ? a->alias : a->address,
                       .port = a->port,
                       .user = a->user,
                       .kind = a->kind,
                       .agent_key = a->agent_key,
                       .key_file = a->key_file,
                       .ssh_host = a->ssh};
    return t;
}
