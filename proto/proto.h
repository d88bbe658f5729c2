/* proto/proto.h: the drover wire protocol shared by the coordinator and
 * drover-agent (PROTOCOL.md is the specification). One message is one
 * msgpack map in one ZeroMQ frame. proto_decode runs the non-allocating
 * validator (msgcheck.h) before msgpack-c, then checks every field's type
 * and size; proto_encode is its inverse. */
#ifndef DROVER_PROTO_H
#define DROVER_PROTO_H

#include "buf.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PROTOCOL.md "Versioning": bump on any incompatible change. */
enum { PROTO_VERSION = 1 };

/* Limits (PROTOCOL.md "Limits"). */
enum {
    PROTO_FRAME_MAX = 256 * 1024,   /* one frame, before CURVE */
    PROTO_STR_MAX = 200 * 1024,     /* one str or bin field */
    PROTO_ID_MAX = 128,             /* job and deploy ids */
    PROTO_COMMAND_MAX = 64 * 1024,  /* the command line */
    PROTO_INPUT_MAX = 192 * 1024,   /* stdin bytes of one exec */
    PROTO_ENV_MAX = 256,            /* environment entries */
    PROTO_ENV_ITEM_MAX = 32 * 1024, /* one environment name or value */
    PROTO_CHUNK_MAX = 32 * 1024,    /* one output chunk */
    PROTO_TEXT_MAX = 1024,          /* error text, signal names */
    PROTO_WHO_MAX = 512,            /* the envelope's `who` */
    PROTO_OUTPUT_WINDOW = 8,        /* unacknowledged output chunks */
};

/* Message types, numbered by group. */
enum proto_type {
    PROTO_HELLO = 0x01,      /* c->a: who am I, my epoch */
    PROTO_WELCOME = 0x02,    /* a->c: agent version, highest epoch */
    PROTO_PING = 0x03,       /* c->a: liveness */
    PROTO_PONG = 0x04,       /* a->c: answer to PING */
    PROTO_EXEC = 0x10,       /* c->a: run a job */
    PROTO_OUTPUT = 0x11,     /* a->c: a chunk of a job's output */
    PROTO_OUTPUT_ACK = 0x12, /* c->a: chunks consumed up to seq */
    PROTO_RESULT = 0x13,     /* a->c: how a job ended */
    PROTO_CANCEL = 0x14,     /* c->a: kill a running job */
    PROTO_JOB_QUERY = 0x20,  /* c->a: what became of a job id */
    PROTO_JOB_STATUS = 0x21, /* a->c: unknown / running (done -> RESULT) */
    PROTO_ERROR = 0x30,      /* either way: a request was refused */
};

/* RESULT "end": how a job ended (mirrors the coordinator's exec_end). */
enum proto_end {
    PROTO_END_EXITED = 0,
    PROTO_END_SIGNALED = 1,
    PROTO_END_TIMEOUT = 2,
    PROTO_END_FAILED = 3,
    PROTO_END_CANCELLED = 4,
};

/* ERROR "code". */
enum proto_errcode {
    PROTO_E_MALFORMED = 1, /* the frame failed validation */
    PROTO_E_TYPE = 2,      /* type not allowed in this direction */
    PROTO_E_VERSION = 3,   /* protocol version not spoken */
    PROTO_E_FENCED = 4,    /* epoch lower than one already seen */
    PROTO_E_BUSY = 5,      /* too many jobs running */
    PROTO_E_NOJOB = 6,     /* cancel or ack for an unknown job */
    PROTO_E_INTERNAL = 7,  /* the agent could not act (disk, fork) */
};

/* JOB_STATUS "state". */
enum proto_job_state {
    PROTO_JOB_UNKNOWN = 0,
    PROTO_JOB_RUNNING = 1,
};

/* One environment entry (owned by the message). */
struct proto_env {
    char *name;  /* NUL-free */
    char *value; /* NUL-free */
};

/* A decoded or to-be-encoded message. Strings and byte fields are owned by
 * the message after proto_decode (byte fields are followed by a NUL that
 * is not counted in their length) (proto_msg_release frees them); when
 * encoding, the caller's pointers are only read. */
struct proto_msg {
    /* envelope, every message */
    uint32_t version;     /* PROTO_VERSION */
    enum proto_type type; /* what this is */
    uint64_t req;         /* request id chosen by the sender; replies echo */
    char *deploy;         /* deploy id, may be NULL */
    uint64_t epoch;       /* the coordinator's fencing epoch */
    char *who;            /* optional: who the coordinator is (c->a), or
                             who raised the agent's epoch (ERROR fenced) */
    /* per type; absent fields are 0 / NULL */
    char *job;             /* EXEC OUTPUT ACK RESULT CANCEL QUERY STATUS */
    char *command;         /* EXEC: shell command line */
    struct proto_env *env; /* EXEC: environment */
    size_t nenv;           /* entries in env */
    void *input;           /* EXEC: stdin bytes */
    size_t input_len;      /* bytes in input */
    uint64_t timeout_ms;   /* EXEC: 0 = none */
    uint64_t output_max;   /* EXEC: output cap in bytes, 0 = agent's */
    uint32_t stream;       /* OUTPUT: 1 stdout, 2 stderr */
    uint64_t seq;          /* OUTPUT: chunk number; ACK: consumed to */
    void *data;            /* OUTPUT: the bytes */
    size_t data_len;       /* bytes in data */
    uint32_t end;          /* RESULT: enum proto_end */
    int64_t code;          /* RESULT: exit status; ERROR: proto_errcode */
    char *signal;          /* RESULT: signal name ("KILL") */
    uint64_t elapsed_ms;   /* RESULT */
    uint64_t dropped;      /* RESULT: output bytes over the cap */
    bool replayed;         /* RESULT: stored result of an earlier run */
    uint32_t state;        /* JOB_STATUS: enum proto_job_state */
    char *text;            /* ERROR, WELCOME: words for a human */
};

/* Name of a type ("EXEC"), or "?" for an unknown one. */
const char *proto_type_name(uint32_t type);

/* Append the encoding of m to out (out's limit is respected: a message
 * that would exceed PROTO_FRAME_MAX is ERR_LIMIT). */
enum err_code proto_encode(const struct proto_msg *m, struct buf *out,
                           struct err *e);

/* Decode one frame into m (zeroed first; release with proto_msg_release
 * even on failure). Refuses, with ERR_PROTO naming the field: frames over
 * PROTO_FRAME_MAX, anything msgcheck refuses, a non-map top level, a
 * duplicate or mistyped known field, strings with NULs or over their cap,
 * a missing required field, an unknown type. Unknown keys are ignored
 * (PROTOCOL.md "Versioning"). */
enum err_code proto_decode(const void *p, size_t n, struct proto_msg *m,
                           struct err *e);

/* Free what proto_decode allocated; m is zeroed. */
void proto_msg_release(struct proto_msg *m);

/* True when s is a valid job or deploy id: 1..PROTO_ID_MAX bytes of
 * [A-Za-z0-9._:/-], not starting with '.'. ('/' is escaped by whoever
 * makes a file name of an id: agent/jobstore.c.) */
bool proto_id_valid(const char *s);

#endif
