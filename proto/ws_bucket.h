/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_bucket.h -- the WS_FRAME metadata bucket that carries frame
 * boundaries, opcodes and flags through the filter chain.  Depends on
 * APR-util only.
 *
 * Input (WEBSOCKET_IN -> session): START(fin, rsv, opcode, length), the
 * unmasked payload as data buckets, END; or ERROR(close code) when the
 * client broke the protocol.  Output (session -> WEBSOCKET_OUT): START,
 * payload data buckets, END; WEBSOCKET_OUT replaces START/END by the
 * frame header.  A filter between the two (permessage-deflate) may
 * rewrite the payload and the flags of a frame.
 */
#ifndef WS_BUCKET_H
#define WS_BUCKET_H

#include <apr_buckets.h>

typedef enum {
    WS_META_START, /**< a frame begins: fin, rsv, opcode, length valid */
    WS_META_END,   /**< the frame begun by the last START is complete */
    WS_META_ERROR  /**< the client failed the connection: close_code */
} ws_meta_kind_e;

typedef struct {
    ws_meta_kind_e kind;
    unsigned int fin;
    unsigned int rsv;
    unsigned int opcode;
    apr_uint64_t length; /**< START on input: the declared length */
    int close_code;      /**< ERROR: the close code to send */
    const char *reason;  /**< ERROR: static text for the log */
} ws_meta_t;

extern const apr_bucket_type_t ws_bucket_type_frame;

#define WS_BUCKET_IS_FRAME(e) ((e)->type == &ws_bucket_type_frame)

/**
 * Creates a WS_FRAME metadata bucket holding a copy of @p meta.
 */
apr_bucket *ws_bucket_frame_create(const ws_meta_t *meta,
                                   apr_bucket_alloc_t *list);

/**
 * The metadata of a WS_FRAME bucket.
 * @remark owned by the bucket: valid until it is destroyed; writable
 */
ws_meta_t *ws_bucket_frame_meta(apr_bucket *b);

#endif /* WS_BUCKET_H */
