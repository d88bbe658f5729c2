/* inventory/inv_addr.h: host expressions as Ansible reads them: an address
 * with an optional port (parse_address) and host ranges such as
 * web[01:20].example.com, db-[a:f], node[1:9:2] (expand_hostname_range). */
#ifndef DROVER_INV_ADDR_H
#define DROVER_INV_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Ansible's parse_address(s, allow_ranges=True): true when s is a host name,
 * IPv4 or IPv6 address (ranges allowed), optionally with :PORT or
 * [ADDR]:PORT. *host (caller frees) and *port (-1 if none) are set only on
 * success. */
bool inv_addr_parse(const char *s, char **host, long long *port);

/* Expand every [a:b] / [a:b:step] range in s into names, at most max of
 * them. *names is a new array of new strings (caller frees both). On a bad
 * range or too many names returns false with why filled in. A string
 * without '[' expands to itself. */
bool inv_addr_expand(const char *s, size_t max, char ***names, size_t *n,
                     char *why, size_t whylen);

#endif
