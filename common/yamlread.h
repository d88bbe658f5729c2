/* common/yamlread.h: read YAML event by event under limits checked while
 * parsing. libyaml's document loader builds the whole tree before a caller
 * can look at it, and its scanner slows down with every open flow
 * collection: 100,000 nested '[' (200 KB) kept it busy for seconds
 * (docs/common.md).
 * Here the nesting depth and the node count are checked as each event
 * arrives, so such a file is refused after a few hundred events. Plans
 * (coordinator/plan.c) and YAML inventories (inventory/inv_yaml.c) read
 * YAML through this, and report its syntax errors the same way. */
#ifndef DROVER_YAMLREAD_H
#define DROVER_YAMLREAD_H

#include "err.h"

#include <stddef.h>
#include <yaml.h>

/* What a reader allows. */
struct yamlread_limits {
    const char *what;   /* "a plan": "(a plan must be UTF-8 text)" */
    unsigned depth_max; /* collections open at once */
    size_t nodes_max;   /* scalars, collections, aliases; 0: no limit */
};

/* A reader over one text (on the stack: yamlread_open, yamlread_close). */
struct yamlread {
    yaml_parser_t parser;              /* libyaml's event parser */
    const char *name;                  /* file name for messages */
    const char *data;                  /* the text, to place reader errors */
    const struct yamlread_limits *lim; /* borrowed */
    unsigned depth;                    /* collections open now */
    size_t nodes;                      /* nodes read so far */
};

/* Start reading len bytes of data (need not be NUL-terminated; borrowed,
 * like name and lim, until yamlread_close). ERR_NOMEM when libyaml cannot
 * start; nothing to close then. */
enum err_code yamlread_open(struct yamlread *r, const char *name,
                            const char *data, size_t len,
                            const struct yamlread_limits *lim, struct err *e);

/* The next event into *ev; the caller releases it with yaml_event_delete.
 * ERR_PARSE for a syntax error ("name:line:col: problem context started at
 * line:col") or a scalar holding a NUL character (a "\0" escape, which no
 * C string can carry), ERR_LIMIT for a collection nested past depth_max or a
 * node past nodes_max ("name:line:col: ..." where it starts); *ev holds nothing
 * then. After YAML_STREAM_END_EVENT there is nothing more to read. */
enum err_code yamlread_next(struct yamlread *r, yaml_event_t *ev,
                            struct err *e);

void yamlread_close(struct yamlread *r);

/* The error of r's parser, as yamlread_next reports it: for callers that
 * load with libyaml's document API (yaml_parser_load(&r->parser, ...))
 * after yamlread_check. ERR_NOMEM or ERR_PARSE. */
enum err_code yamlread_error(const struct yamlread *r, struct err *e);

/* Read the whole stream without keeping anything: ERR_OK when it is valid
 * YAML within lim, the first error of yamlread_next otherwise. For callers
 * that then load the text with libyaml's document API. */
enum err_code yamlread_check(const char *name, const char *data, size_t len,
                             const struct yamlread_limits *lim, struct err *e);

#endif
