/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_frame.h -- RFC 6455 frame codec: incremental parser, header writer,
 * unmasking and close-code rules.  Depends on APR only.
 */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include <apr.h>

/* Opcodes (RFC 6455 section 5.2) */
#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA

/* RSV bits as they sit in the first header byte */
#define WS_RSV1 0x40
#define WS_RSV2 0x20
#define WS_RSV3 0x10

/* Close codes (RFC 6455 section 7.4.1) */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL_ERROR 1002
#define WS_CLOSE_UNSUPPORTED 1003
#define WS_CLOSE_TOO_LARGE_OLD 1004 /* drafts hybi-07/08 used 1004 */
#define WS_CLOSE_NO_STATUS 1005
#define WS_CLOSE_ABNORMAL 1006
#define WS_CLOSE_INVALID_DATA 1007
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_LARGE 1009
#define WS_CLOSE_EXTENSION 1010
#define WS_CLOSE_INTERNAL_ERROR 1011

/** The largest frame header: 2 + 8 (length) + 4 (mask). */
#define WS_FRAME_HEADER_MAX 14

/** The largest control frame payload (RFC 6455 section 5.5). */
#define WS_CONTROL_MAX 125

/** A decoded frame header. */
typedef struct {
    unsigned int fin;     /**< 1 on the final fragment */
    unsigned int rsv;     /**< RSV bits, as WS_RSV1|WS_RSV2|WS_RSV3 */
    unsigned int opcode;  /**< WS_OP_* */
    unsigned int masked;  /**< 1 if a masking key was present */
    unsigned char mask[4];
    apr_uint64_t length;  /**< declared payload length */
} ws_frame_header_t;

/** What ws_frame_parse() found. */
typedef enum {
    WS_FRAME_NEED_MORE = 0, /**< all input consumed, nothing complete */
    WS_FRAME_HEADER,        /**< ev->header is a new, valid frame header */
    WS_FRAME_PAYLOAD,       /**< ev->data/ev->len: unmasked payload bytes */
    WS_FRAME_END,           /**< the current frame's payload is complete */
    WS_FRAME_ERROR          /**< protocol violation: fail with ev->close_code */
} ws_frame_event_e;

typedef struct {
    ws_frame_event_e type;
    ws_frame_header_t header;  /**< valid from HEADER until END */
    const unsigned char *data; /**< PAYLOAD: points into the output buffer */
    apr_size_t len;            /**< PAYLOAD: number of bytes */
    int close_code;            /**< ERROR: 1002 or 1009 (1004 on 7/8) */
    const char *reason;        /**< ERROR: static text for the log */
} ws_frame_event_t;

/**
 * Incremental parser of client-to-server frames.  Enforces every rule
 * that can be decided from headers: RSV bits not claimed by an extension,
 * masking, reserved opcodes, control frames (FIN, length <= 125, close
 * payload of 1 byte), fragmentation order, and the limit on a message's
 * declared length (sum of its fragments) and on control payloads.
 * It keeps at most one partial header; it never allocates.
 */
typedef struct {
    /* settings (set before the first call, may be changed between calls) */
    apr_uint64_t max_message;    /**< limit on declared bytes; 0 = none */
    unsigned int rsv_allowed;    /**< RSV bits an extension claims */
    unsigned int require_mask;   /**< 1 for a server (client frames) */
    int too_large_code;          /**< 1009, or 1004 for versions 7/8 */
    apr_uint64_t max_compressed; /**< limit on the declared bytes of a
                                      message whose first frame has RSV1
                                      (permessage-deflate: the real limit
                                      is on the inflated size); 0 = the
                                      same as max_message */
    /* state (private) */
    unsigned char hbuf[WS_FRAME_HEADER_MAX];
    unsigned int hlen;           /**< bytes of a header collected so far */
    unsigned int in_payload;     /**< a header was returned, payload open */
    unsigned int end_pending;    /**< payload done, END not yet returned */
    unsigned int in_message;     /**< a fragmented data message is open */
    unsigned int failed;         /**< an error was returned: stay failed */
    apr_uint64_t remaining;      /**< payload bytes still to come */
    apr_uint64_t message_total;  /**< declared bytes of the open message */
    unsigned int message_rsv1;   /**< the open message began with RSV1 */
    apr_size_t mask_offset;      /**< payload bytes unmasked so far, mod 4 */
    ws_frame_header_t cur;
    int fail_code;               /**< the close code of the sticky error */
    const char *fail_reason;     /**< and its reason, repeated with it */
} ws_frame_parser_t;

/**
 * Resets @p p to its initial state with the given settings.
 */
void ws_frame_parser_init(ws_frame_parser_t *p, apr_uint64_t max_message,
                          unsigned int rsv_allowed, int too_large_code);

/**
 * Feeds input to the parser and returns the next event.
 *
 * @param in    input bytes (not modified)
 * @param inlen number of input bytes
 * @param out   where unmasked payload is written (may not alias @p in)
 * @param outlen size of @p out; payload events carry at most this much
 * @param consumed set to the number of input bytes consumed
 * @param ev    the event
 * @remark Call again with the unconsumed rest of the input until it
 *         returns WS_FRAME_NEED_MORE.  A zero-length payload gives
 *         HEADER then END with no PAYLOAD.  After WS_FRAME_ERROR every
 *         further call returns WS_FRAME_ERROR again.  Payload needs room:
 *         with @p outlen 0 inside a payload it returns NEED_MORE with
 *         nothing consumed.
 */
ws_frame_event_e ws_frame_parse(ws_frame_parser_t *p, const unsigned char *in,
                                apr_size_t inlen, unsigned char *out,
                                apr_size_t outlen, apr_size_t *consumed,
                                ws_frame_event_t *ev);

/**
 * Copies @p len bytes from @p src to @p dst XORed with @p mask, starting
 * at byte @p offset (mod 4) of the mask; word-wise.  @p dst may equal
 * @p src.
 */
void ws_frame_unmask(unsigned char *dst, const unsigned char *src,
                     apr_size_t len, const unsigned char mask[4],
                     apr_size_t offset);

/**
 * Writes a server frame header (no mask) into @p out.
 * @return the header length (2, 4 or 10 bytes)
 */
apr_size_t ws_frame_header_write(unsigned char out[WS_FRAME_HEADER_MAX],
                                 unsigned int fin, unsigned int rsv,
                                 unsigned int opcode, apr_uint64_t length);

/**
 * Whether a close code received from a peer is acceptable
 * (RFC 6455 section 7.4).  Prohibited codes (< 1000, 1005, 1006, 1015,
 * >= 5000) are never valid; reserved ones (1004, 1014, 1016-2999) only
 * when @p allow_reserved is non-zero.
 */
int ws_frame_close_code_valid(unsigned int code, int allow_reserved);

#endif /* WS_FRAME_H */
