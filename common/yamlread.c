/* common/yamlread.c: libyaml's event parser with depth and node limits
 * checked per event, and its errors as file:line:col. */
#include "yamlread.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum err_code yamlread_open(struct yamlread *r, const char *name,
                            const char *data, size_t len,
                            const struct yamlread_limits *lim, struct err *e)
{
    memset(r, 0, sizeof(*r));
    r->name = name;
    r->data = data;
    r->lim = lim;
    if (!yaml_parser_initialize(&r->parser))
        return err_set(e, ERR_NOMEM, "%s: cannot start the YAML parser", name);
    yaml_parser_set_input_string(&r->parser, (const unsigned char *)data, len);
    return ERR_OK;
}

void yamlread_close(struct yamlread *r)
{
    yaml_parser_delete(&r->parser);
}

/* Reader errors (bad UTF-8, control characters) carry a byte offset, not
 * a mark: the position is counted from the text. */
enum err_code yamlread_error(const struct yamlread *r, struct err *e)
{
    const yaml_parser_t *p = &r->parser;
    if (p->error == YAML_MEMORY_ERROR)
        return err_set(e, ERR_NOMEM, "%s: out of memory reading YAML", r->name);
    size_t line = p->problem_mark.line + 1;
    size_t col = p->problem_mark.column + 1;
    const char *problem = p->problem ? p->problem : "bad YAML";
    const char *context = p->context ? p->context : "";
    char where[64] = "";
    char utf8[96] = "";
    if (*context != '\0' && (p->context_mark.line != p->problem_mark.line ||
                             p->context_mark.column != p->problem_mark.column))
        snprintf(where, sizeof(where), " started at %zu:%zu",
                 p->context_mark.line + 1, p->context_mark.column + 1);
    if (p->error == YAML_READER_ERROR) {
        line = 1;
        col = 1;
        for (size_t i = 0; i < p->problem_offset; i++) {
            if (r->data[i] == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)r->data[i] & 0xc0) != 0x80) {
                col++;
            }
        }
        snprintf(utf8, sizeof(utf8), "(%s must be UTF-8 text)", r->lim->what);
        context = utf8;
        where[0] = '\0';
    }
    return err_set(e, ERR_PARSE, "%s:%zu:%zu: %s%s%s%s", r->name, line, col,
                   problem, *context ? " " : "", context, where);
}

enum err_code yamlread_next(struct yamlread *r, yaml_event_t *ev, struct err *e)
{
    if (!yaml_parser_parse(&r->parser, ev))
        return yamlread_error(r, e);
    const yaml_mark_t mark = ev->start_mark, *m = &mark;
    switch (ev->type) {
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (r->depth >= r->lim->depth_max) {
            yaml_event_delete(ev);
            return err_set(
                e, ERR_LIMIT, "%s:%zu:%zu: YAML nested deeper than %u levels",
                r->name, m->line + 1, m->column + 1, r->lim->depth_max);
        }
        r->depth++;
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        r->depth--; /* the parser pairs them with their starts */
        return ERR_OK;
    case YAML_SCALAR_EVENT:
        /* a "\0" escape: every C string that carries the value on (host
         * names, templates, commands) would end there, silently */
        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length) !=
            NULL) {
            yaml_event_delete(ev);
            return err_set(e, ERR_PARSE,
                           "%s:%zu:%zu: a NUL character (\\0) in a value: "
                           "drover cannot carry it; remove it",
                           r->name, m->line + 1, m->column + 1);
        }
        break;
    case YAML_ALIAS_EVENT:
        break;
    default:
        return ERR_OK;
    }
    if (r->lim->nodes_max > 0 && ++r->nodes > r->lim->nodes_max) {
        yaml_event_delete(ev);
        return err_set(e, ERR_LIMIT,
                       "%s:%zu:%zu: more than %zu YAML values, the most "
                       "%s may hold",
                       r->name, m->line + 1, m->column + 1, r->lim->nodes_max,
                       r->lim->what);
    }
    return ERR_OK;
}

enum err_code yamlread_check(const char *name, const char *data, size_t len,
                             const struct yamlread_limits *lim, struct err *e)
{
    struct yamlread r;
    enum err_code c = yamlread_open(&r, name, data, len, lim, e);
    if (c != ERR_OK)
        return c;
    bool end = false;
    while (c == ERR_OK && !end) {
        yaml_event_t ev;
        c = yamlread_next(&r, &ev, e);
        if (c == ERR_OK) {
            end = ev.type == YAML_STREAM_END_EVENT;
            yaml_event_delete(&ev);
        }
    }
    yamlread_close(&r);
    return c;
}
