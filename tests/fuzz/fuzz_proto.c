/* tests/fuzz/fuzz_proto.c: libFuzzer on the validator and the decoder.
 * Whatever decodes must re-encode and decode to the same type. */
#include "msgcheck.h"
#include "proto.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct msgcheck_limits lim = {
        .depth_max = MSGCHECK_DEPTH_MAX,
        .objects_max = MSGCHECK_OBJECTS_MAX,
        .str_max = PROTO_STR_MAX,
    };
    struct err e = {0};
    (void)msgcheck_frame(data, size, &lim, &e);

    struct proto_msg m;
    err_clear(&e);
    if (proto_decode(data, size, &m, &e) == ERR_OK) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        if (proto_encode(&m, &b, &e) != ERR_OK)
            abort();
        struct proto_msg again;
        if (proto_decode(b.data, b.len, &again, &e) != ERR_OK ||
            again.type != m.type || again.req != m.req)
            abort();
        proto_msg_release(&again);
        buf_release(&b);
    }
    proto_msg_release(&m);
    return 0;
}
