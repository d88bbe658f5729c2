/* proto/proto.c: encode and decode drover messages. Decoding is strict:
 * the validator first (no allocation before the bytes are proven sane),
 * then msgpack-c on a frame known to be small, then a typed copy of each
 * field into struct proto_msg. Nothing of msgpack-c's escapes this file. */
#include "proto.h"

#include "msgcheck.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* Bits of the fields seen while decoding. */
enum {
    F_V = 1u << 0,
    F_T = 1u << 1,
    F_REQ = 1u << 2,
    F_DEP = 1u << 3,
    F_EP = 1u << 4,
    F_JOB = 1u << 5,
    F_CMD = 1u << 6,
    F_ENV = 1u << 7,
    F_IN = 1u << 8,
    F_TO = 1u << 9,
    F_OMAX = 1u << 10,
    F_ST = 1u << 11,
    F_SEQ = 1u << 12,
    F_DATA = 1u << 13,
    F_END = 1u << 14,
    F_CODE = 1u << 15,
    F_SIG = 1u << 16,
    F_MS = 1u << 17,
    F_DROP = 1u << 18,
    F_REP = 1u << 19,
    F_STATE = 1u << 20,
    F_TEXT = 1u << 21,
    F_WHO = 1u << 22,
};

struct proto_typeinfo {
    enum proto_type type; /* the number */
    const char *name;     /* for logs */
    unsigned required;    /* fields besides the envelope */
};

static const struct proto_typeinfo proto_types[] = {
    {PROTO_HELLO, "HELLO", 0},
    {PROTO_WELCOME, "WELCOME", 0},
    {PROTO_PING, "PING", 0},
    {PROTO_PONG, "PONG", 0},
    {PROTO_EXEC, "EXEC", F_JOB | F_CMD},
    {PROTO_OUTPUT, "OUTPUT", F_JOB | F_ST | F_SEQ | F_DATA},
    {PROTO_OUTPUT_ACK, "OUTPUT_ACK", F_JOB | F_SEQ},
    {PROTO_RESULT, "RESULT", F_JOB | F_END},
    {PROTO_CANCEL, "CANCEL", F_JOB},
    {PROTO_JOB_QUERY, "JOB_QUERY", F_JOB},
    {PROTO_JOB_STATUS, "JOB_STATUS", F_JOB | F_STATE},
    {PROTO_ERROR, "ERROR", F_CODE | F_TEXT},
};
enum { PROTO_NTYPES = sizeof(proto_types) / sizeof(proto_types[0]) };

static const struct proto_typeinfo *proto_typeinfo(uint64_t type)
{
    for (size_t i = 0; i < PROTO_NTYPES; i++)
        if ((uint64_t)proto_types[i].type == type)
            return &proto_types[i];
    return NULL;
}

const char *proto_type_name(uint32_t type)
{
    const struct proto_typeinfo *ti = proto_typeinfo(type);
    return ti ? ti->name : "?";
}

bool proto_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > PROTO_ID_MAX || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
              c == '-' || c == '/'))
            return false;
    }
    return true;
}

/* --- encode -------------------------------------------------------------- */

static int proto_buf_write(void *data, const char *p, size_t n)
{
    return buf_add(data, p, n) ? 0 : -1;
}

static void proto_pack_key(msgpack_packer *pk, const char *k)
{
    size_t n = strlen(k);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, k, n);
}

static void proto_pack_str(msgpack_packer *pk, const char *k, const char *v)
{
    size_t n = strlen(v);
    proto_pack_key(pk, k);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, v, n);
}

static void proto_pack_bin(msgpack_packer *pk, const char *k, const void *v,
                           size_t n)
{
    proto_pack_key(pk, k);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, v, n);
}

static void proto_pack_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
    proto_pack_key(pk, k);
    msgpack_pack_uint64(pk, v);
}

enum err_code proto_encode(const struct proto_msg *m, struct buf *out,
                           struct err *e)
{
    const struct proto_typeinfo *ti = proto_typeinfo(m->type);
    if (ti == NULL)
        return err_set(e, ERR_INVALID, "encode: unknown type %u",
                       (unsigned)m->type);
    unsigned have = F_V | F_T | F_REQ | F_EP;
    size_t nkeys = 4;
#define PROTO_HAVE(cond, bit)                                                  \
    do {                                                                       \
        if (cond) {                                                            \
            have |= (bit);                                                     \
            nkeys++;                                                           \
        }                                                                      \
    } while (0)
    PROTO_HAVE(m->deploy != NULL, F_DEP);
    PROTO_HAVE(m->job != NULL, F_JOB);
    PROTO_HAVE(m->command != NULL, F_CMD);
    PROTO_HAVE(m->nenv > 0, F_ENV);
    PROTO_HAVE(m->input_len > 0, F_IN);
    PROTO_HAVE(m->timeout_ms > 0, F_TO);
    PROTO_HAVE(m->output_max > 0, F_OMAX);
    PROTO_HAVE(m->type == PROTO_OUTPUT, F_ST);
    PROTO_HAVE(m->type == PROTO_OUTPUT || m->type == PROTO_OUTPUT_ACK, F_SEQ);
    PROTO_HAVE(m->type == PROTO_OUTPUT, F_DATA);
    PROTO_HAVE(m->type == PROTO_RESULT, F_END);
    PROTO_HAVE(m->type == PROTO_RESULT || m->type == PROTO_ERROR, F_CODE);
    PROTO_HAVE(m->signal != NULL, F_SIG);
    PROTO_HAVE(m->type == PROTO_RESULT, F_MS);
    PROTO_HAVE(m->dropped > 0, F_DROP);
    PROTO_HAVE(m->replayed, F_REP);
    PROTO_HAVE(m->type == PROTO_JOB_STATUS, F_STATE);
    PROTO_HAVE(m->text != NULL || m->type == PROTO_ERROR, F_TEXT);
    PROTO_HAVE(m->who != NULL, F_WHO);
#undef PROTO_HAVE
    if ((have & ti->required) != ti->required)
        return err_set(e, ERR_INVALID, "encode %s: required field missing",
                       ti->name);

    size_t start = out->len, dropped = out->dropped;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, proto_buf_write);
    msgpack_pack_map(&pk, nkeys);
    proto_pack_u64(&pk, "v", PROTO_VERSION);
    proto_pack_u64(&pk, "t", (uint64_t)m->type);
    proto_pack_u64(&pk, "req", m->req);
    proto_pack_u64(&pk, "ep", m->epoch);
    if (have & F_DEP)
        proto_pack_str(&pk, "dep", m->deploy);
    if (have & F_JOB)
        proto_pack_str(&pk, "job", m->job);
    if (have & F_CMD)
        proto_pack_str(&pk, "cmd", m->command);
    if (have & F_ENV) {
        proto_pack_key(&pk, "env");
        msgpack_pack_map(&pk, m->nenv);
        for (size_t i = 0; i < m->nenv; i++) {
            size_t kn = strlen(m->env[i].name), vn = strlen(m->env[i].value);
            msgpack_pack_str(&pk, kn);
            msgpack_pack_str_body(&pk, m->env[i].name, kn);
            msgpack_pack_str(&pk, vn);
            msgpack_pack_str_body(&pk, m->env[i].value, vn);
        }
    }
    if (have & F_IN)
        proto_pack_bin(&pk, "in", m->input, m->input_len);
    if (have & F_TO)
        proto_pack_u64(&pk, "to", m->timeout_ms);
    if (have & F_OMAX)
        proto_pack_u64(&pk, "omax", m->output_max);
    if (have & F_ST)
        proto_pack_u64(&pk, "st", m->stream);
    if (have & F_SEQ)
        proto_pack_u64(&pk, "seq", m->seq);
    if (have & F_DATA)
        proto_pack_bin(&pk, "data", m->data, m->data_len);
    if (have & F_END)
        proto_pack_u64(&pk, "end", m->end);
    if (have & F_CODE) {
        proto_pack_key(&pk, "code");
        msgpack_pack_int64(&pk, m->code);
    }
    if (have & F_SIG)
        proto_pack_str(&pk, "sig", m->signal);
    if (have & F_MS)
        proto_pack_u64(&pk, "ms", m->elapsed_ms);
    if (have & F_DROP)
        proto_pack_u64(&pk, "drop", m->dropped);
    if (have & F_REP) {
        proto_pack_key(&pk, "rep");
        msgpack_pack_true(&pk);
    }
    if (have & F_STATE)
        proto_pack_u64(&pk, "state", m->state);
    if (have & F_TEXT)
        proto_pack_str(&pk, "text", m->text ? m->text : "");
    if (have & F_WHO)
        proto_pack_str(&pk, "who", m->who);
    if (out->dropped != dropped || out->len - start > PROTO_FRAME_MAX) {
        out->len = start;
        out->dropped = dropped;
        if (out->data != NULL)
            out->data[start] = '\0';
        return err_set(e, ERR_LIMIT,
                       "encode %s: message over the frame limit of %d bytes",
                       ti->name, PROTO_FRAME_MAX);
    }
    return ERR_OK;
}

/* --- decode -------------------------------------------------------------- */

static enum err_code proto_get_u64(const msgpack_object *o, const char *k,
                                   uint64_t max, uint64_t *out, struct err *e)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return err_set(e, ERR_PROTO, "field '%s': expected an unsigned integer",
                       k);
    if (o->via.u64 > max)
        return err_set(e, ERR_PROTO, "field '%s': %llu over the limit %llu", k,
                       (unsigned long long)o->via.u64, (unsigned long long)max);
    *out = o->via.u64;
    return ERR_OK;
}

/* The bytes of a str or bin object. msgpack-c leaves ptr NULL for an empty
 * one, and memcpy or memchr must not be handed NULL even for 0 bytes. */
static const char *proto_bytes(const char *ptr, uint32_t size)
{
    return size > 0 ? ptr : "";
}

/* Copy a str object of at most max bytes, refusing embedded NULs. */
static enum err_code proto_get_str(const msgpack_object *o, const char *k,
                                   size_t max, char **out, struct err *e)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return err_set(e, ERR_PROTO, "field '%s': expected a string", k);
    if (o->via.str.size > max)
        return err_set(e, ERR_PROTO, "field '%s': %u bytes over the limit %zu",
                       k, o->via.str.size, max);
    const char *p = proto_bytes(o->via.str.ptr, o->via.str.size);
    if (memchr(p, '\0', o->via.str.size) != NULL)
        return err_set(e, ERR_PROTO, "field '%s': embedded NUL", k);
    *out = xstrndup(p, o->via.str.size);
    return ERR_OK;
}

static enum err_code proto_get_bin(const msgpack_object *o, const char *k,
                                   size_t max, void **out, size_t *outlen,
                                   struct err *e)
{
    if (o->type != MSGPACK_OBJECT_BIN)
        return err_set(e, ERR_PROTO, "field '%s': expected bytes", k);
    if (o->via.bin.size > max)
        return err_set(e, ERR_PROTO, "field '%s': %u bytes over the limit %zu",
                       k, o->via.bin.size, max);
    *out = xmalloc(o->via.bin.size + 1);
    memcpy(*out, proto_bytes(o->via.bin.ptr, o->via.bin.size), o->via.bin.size);
    ((char *)*out)[o->via.bin.size] = '\0'; /* a convenience for text */
    *outlen = o->via.bin.size;
    return ERR_OK;
}

static enum err_code proto_get_env(const msgpack_object *o, struct proto_msg *m,
                                   struct err *e)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return err_set(e, ERR_PROTO, "field 'env': expected a map");
    if (o->via.map.size > PROTO_ENV_MAX)
        return err_set(e, ERR_PROTO, "field 'env': more than %d entries",
                       PROTO_ENV_MAX);
    m->env = xcalloc(o->via.map.size + 1, sizeof(*m->env));
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        struct proto_env *en = &m->env[m->nenv];
        if (proto_get_str(&kv->key, "env name", PROTO_ENV_ITEM_MAX, &en->name,
                          e) != ERR_OK)
            return e ? e->code : ERR_PROTO;
        m->nenv++;
        if (en->name[0] == '\0' || strchr(en->name, '=') != NULL)
            return err_set(e, ERR_PROTO,
                           "field 'env': name '%.64s' is empty or holds '='",
                           en->name);
        if (proto_get_str(&kv->val, "env value", PROTO_ENV_ITEM_MAX, &en->value,
                          e) != ERR_OK)
            return e ? e->code : ERR_PROTO;
    }
    return ERR_OK;
}

/* One key/value pair of the top-level map into m. */
static enum err_code proto_field(const msgpack_object_kv *kv,
                                 struct proto_msg *m, unsigned *seen,
                                 struct err *e)
{
    if (kv->key.type != MSGPACK_OBJECT_STR)
        return err_set(e, ERR_PROTO, "a key is not a string");
    char k[8];
    uint32_t kn = kv->key.via.str.size;
    if (kn >= sizeof(k))
        return ERR_OK; /* longer than every key we know: ignored */
    memcpy(k, proto_bytes(kv->key.via.str.ptr, kn), kn);
    k[kn] = '\0';
    if (memchr(k, '\0', kn) != NULL)
        return err_set(e, ERR_PROTO, "a key holds a NUL");
    const msgpack_object *o = &kv->val;
    unsigned bit = 0;
    uint64_t u = 0;
    enum err_code rc = ERR_OK;

    static const struct {
        const char *name; /* the key */
        unsigned bit;     /* its F_ bit */
    } keys[] = {{"v", F_V},       {"t", F_T},       {"req", F_REQ},
                {"dep", F_DEP},   {"ep", F_EP},     {"job", F_JOB},
                {"cmd", F_CMD},   {"env", F_ENV},   {"in", F_IN},
                {"to", F_TO},     {"omax", F_OMAX}, {"st", F_ST},
                {"seq", F_SEQ},   {"data", F_DATA}, {"end", F_END},
                {"code", F_CODE}, {"sig", F_SIG},   {"ms", F_MS},
                {"drop", F_DROP}, {"rep", F_REP},   {"state", F_STATE},
                {"text", F_TEXT}, {"who", F_WHO}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && bit == 0; i++)
        if (strcmp(k, keys[i].name) == 0)
            bit = keys[i].bit;
    if (bit == 0)
        return ERR_OK; /* unknown key: a newer minor addition, ignored */
    /* refused before the value is copied, so nothing is overwritten */
    if (*seen & bit)
        return err_set(e, ERR_PROTO, "field '%s' appears twice", k);
    *seen |= bit;

#define PROTO_KEY(b) (bit == (b))
    if (PROTO_KEY(F_V)) {
        rc = proto_get_u64(o, k, UINT32_MAX, &u, e);
        m->version = (uint32_t)u;
    } else if (PROTO_KEY(F_T)) {
        rc = proto_get_u64(o, k, UINT32_MAX, &u, e);
        m->type = (enum proto_type)u;
    } else if (PROTO_KEY(F_REQ)) {
        rc = proto_get_u64(o, k, UINT64_MAX, &m->req, e);
    } else if (PROTO_KEY(F_DEP)) {
        rc = proto_get_str(o, k, PROTO_ID_MAX, &m->deploy, e);
    } else if (PROTO_KEY(F_EP)) {
        rc = proto_get_u64(o, k, UINT64_MAX, &m->epoch, e);
    } else if (PROTO_KEY(F_JOB)) {
        rc = proto_get_str(o, k, PROTO_ID_MAX, &m->job, e);
        if (rc == ERR_OK && !proto_id_valid(m->job))
            rc = err_set(e, ERR_PROTO,
                         "field 'job': '%.64s' is not a valid job id", m->job);
    } else if (PROTO_KEY(F_CMD)) {
        rc = proto_get_str(o, k, PROTO_COMMAND_MAX, &m->command, e);
    } else if (PROTO_KEY(F_ENV)) {
        rc = proto_get_env(o, m, e);
    } else if (PROTO_KEY(F_IN)) {
        rc = proto_get_bin(o, k, PROTO_INPUT_MAX, &m->input, &m->input_len, e);
    } else if (PROTO_KEY(F_TO)) {
        rc = proto_get_u64(o, k, UINT32_MAX, &m->timeout_ms, e);
    } else if (PROTO_KEY(F_OMAX)) {
        rc = proto_get_u64(o, k, UINT64_MAX, &m->output_max, e);
    } else if (PROTO_KEY(F_ST)) {
        rc = proto_get_u64(o, k, 2, &u, e);
        m->stream = (uint32_t)u;
        if (rc == ERR_OK && u == 0)
            rc = err_set(e, ERR_PROTO, "field 'st': stream must be 1 or 2");
    } else if (PROTO_KEY(F_SEQ)) {
        rc = proto_get_u64(o, k, UINT64_MAX, &m->seq, e);
    } else if (PROTO_KEY(F_DATA)) {
        rc = proto_get_bin(o, k, PROTO_CHUNK_MAX, &m->data, &m->data_len, e);
    } else if (PROTO_KEY(F_END)) {
        rc = proto_get_u64(o, k, PROTO_END_CANCELLED, &u, e);
        m->end = (uint32_t)u;
    } else if (PROTO_KEY(F_CODE)) {
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
            o->via.u64 <= INT32_MAX)
            m->code = (int64_t)o->via.u64;
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER &&
                 o->via.i64 >= INT32_MIN)
            m->code = o->via.i64;
        else
            rc = err_set(e, ERR_PROTO,
                         "field 'code': expected a 32-bit integer");
    } else if (PROTO_KEY(F_SIG)) {
        rc = proto_get_str(o, k, 31, &m->signal, e);
    } else if (PROTO_KEY(F_MS)) {
        rc = proto_get_u64(o, k, UINT64_MAX, &m->elapsed_ms, e);
    } else if (PROTO_KEY(F_DROP)) {
        rc = proto_get_u64(o, k, UINT64_MAX, &m->dropped, e);
    } else if (PROTO_KEY(F_REP)) {
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            rc = err_set(e, ERR_PROTO, "field 'rep': expected a boolean");
        else
            m->replayed = o->via.boolean;
    } else if (PROTO_KEY(F_STATE)) {
        rc = proto_get_u64(o, k, PROTO_JOB_RUNNING, &u, e);
        m->state = (uint32_t)u;
    } else if (PROTO_KEY(F_TEXT)) {
        rc = proto_get_str(o, k, PROTO_TEXT_MAX, &m->text, e);
    } else if (PROTO_KEY(F_WHO)) {
        rc = proto_get_str(o, k, PROTO_WHO_MAX, &m->who, e);
    }
#undef PROTO_KEY
    return rc;
}

enum err_code proto_decode(const void *p, size_t n, struct proto_msg *m,
                           struct err *e)
{
    memset(m, 0, sizeof(*m));
    if (n > PROTO_FRAME_MAX)
        return err_set(e, ERR_PROTO, "frame of %zu bytes over the limit of %d",
                       n, PROTO_FRAME_MAX);
    const struct msgcheck_limits lim = {
        .depth_max = MSGCHECK_DEPTH_MAX,
        .objects_max = MSGCHECK_OBJECTS_MAX,
        .str_max = PROTO_STR_MAX,
    };
    if (msgcheck_frame(p, n, &lim, e) != ERR_OK)
        return ERR_PROTO;

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    enum err_code rc = ERR_OK;
    msgpack_unpack_return ur = msgpack_unpack_next(&u, p, n, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != n) {
        rc = err_set(e, ERR_PROTO, "msgpack refused the frame (%d at %zu)",
                     (int)ur, off);
        goto out;
    }
    const msgpack_object *top = &u.data;
    if (top->type != MSGPACK_OBJECT_MAP) {
        rc = err_set(e, ERR_PROTO, "a message must be a map");
        goto out;
    }
    unsigned seen = 0;
    for (uint32_t i = 0; i < top->via.map.size && rc == ERR_OK; i++)
        rc = proto_field(&top->via.map.ptr[i], m, &seen, e);
    if (rc != ERR_OK)
        goto out;
    unsigned env = F_V | F_T | F_REQ | F_EP;
    if ((seen & env) != env) {
        rc = err_set(e, ERR_PROTO,
                     "envelope incomplete: needs v, t, req and ep");
        goto out;
    }
    if (m->version != PROTO_VERSION) {
        rc = err_set(e, ERR_PROTO,
                     "protocol version %u not spoken (this side speaks %d)",
                     m->version, PROTO_VERSION);
        goto out;
    }
    const struct proto_typeinfo *ti = proto_typeinfo(m->type);
    if (ti == NULL) {
        rc =
            err_set(e, ERR_PROTO, "unknown message type %u", (unsigned)m->type);
        goto out;
    }
    if ((seen & ti->required) != ti->required)
        rc = err_set(e, ERR_PROTO, "%s without a required field", ti->name);
    if (rc == ERR_OK && m->deploy != NULL && !proto_id_valid(m->deploy))
        rc = err_set(e, ERR_PROTO, "field 'dep': not a valid deploy id");
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}

void proto_msg_release(struct proto_msg *m)
{
    free(m->deploy);
    free(m->job);
    free(m->command);
    for (size_t i = 0; i < m->nenv; i++) {
        free(m->env[i].name);
        if (m->env[i].value != NULL) {
            /* environment values carry secrets */
            explicit_bzero(m->env[i].value, strlen(m->env[i].value));
            free(m->env[i].value);
        }
    }
    free(m->env);
    if (m->input != NULL) {
        explicit_bzero(m->input, m->input_len);
        free(m->input);
    }
    free(m->data);
    free(m->signal);
    free(m->text);
    free(m->who);
    memset(m, 0, sizeof(*m));
}
