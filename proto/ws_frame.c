/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_frame.c -- RFC 6455 frame codec: incremental client-frame parser,
 * server header writer, word-wise unmasking and the close-code rules.
 */
#include <string.h>

#include "ws_frame.h"

/* RFC 6455 section 5.2: the bits of the first two header bytes */
#define FIN_BIT 0x80
#define RSV_BITS (WS_RSV1 | WS_RSV2 | WS_RSV3)
#define OPCODE_BITS 0x0F
#define MASK_BIT 0x80
#define LEN7_BITS 0x7F
#define LEN7_16BIT 126 /* a 16-bit length follows */
#define LEN7_64BIT 127 /* a 64-bit length follows */

static ws_frame_event_e fail(ws_frame_parser_t *p, ws_frame_event_t *ev,
                             int code, const char *reason)
{
    p->failed = 1;
    p->fail_code = code;
    p->fail_reason = reason;
    ev->type = WS_FRAME_ERROR;
    ev->close_code = code;
    ev->reason = reason;
    return WS_FRAME_ERROR;
}

/* The rules that the first two header bytes decide: checked before the
 * rest of the header arrives, so that a broken peer fails at once.
 * Returns the reason of a protocol error (1002), or NULL. */
static const char *check_start(const ws_frame_parser_t *p, unsigned int b0,
                               unsigned int b1)
{
    unsigned int opcode = b0 & OPCODE_BITS;
    unsigned int len7 = b1 & LEN7_BITS;

    /* RFC 6455 section 5.2: a non-zero RSV bit that no negotiated
     * extension defines fails the connection.  Which frames of a message
     * may carry RSV1 is the deflate layer's business (RFC 7692 6.1). */
    if ((b0 & RSV_BITS & ~p->rsv_allowed) != 0) {
        return "RSV bit set without an extension that defines it";
    }
    /* section 5.1: the server closes on a frame the client did not mask */
    if (p->require_mask && (b1 & MASK_BIT) == 0) {
        return "unmasked client frame";
    }
    if (opcode >= WS_OP_CLOSE) {
        if (opcode > WS_OP_PONG) {
            return "reserved control opcode";
        }
        /* section 5.5: control frames are never fragmented */
        if ((b0 & FIN_BIT) == 0) {
            return "fragmented control frame";
        }
        /* section 5.5: at most 125 bytes.  126 and 127 announce a 16- or
         * 64-bit length: either longer than 125, or a length that section
         * 5.2 says MUST use the 7-bit form; refused either way. */
        if (len7 > WS_CONTROL_MAX) {
            return "control frame payload over 125 bytes";
        }
        /* section 5.5.1: a close body starts with a 2-byte status code */
        if (opcode == WS_OP_CLOSE && len7 == 1) {
            return "close frame with a 1-byte payload";
        }
        return NULL;
    }
    if (opcode > WS_OP_BINARY) {
        return "reserved data opcode";
    }
    /* section 5.4: fragments of one message are not interleaved with
     * those of another; only control frames may come between them */
    if (opcode == WS_OP_CONT && !p->in_message) {
        return "continuation frame without a message to continue";
    }
    if (opcode != WS_OP_CONT && p->in_message) {
        return "new data frame while a fragmented message is open";
    }
    return NULL;
}

/* The declared payload length of the header in p->hbuf, whose length
 * field must be complete. */
static apr_uint64_t header_length(const unsigned char *h)
{
    unsigned int len7 = h[1] & LEN7_BITS;
    apr_uint64_t length = 0;
    int i;

    if (len7 < LEN7_16BIT) {
        return len7;
    }
    if (len7 == LEN7_16BIT) {
        return ((apr_uint64_t)h[2] << 8) | h[3];
    }
    for (i = 2; i < 10; i++) {
        length = (length << 8) | h[i];
    }
    return length;
}

/* The rules that need the declared length; called as soon as it is
 * known, before any payload byte is read.  Returns the close code of a
 * violation (reason in *reason), or 0. */
static int check_length(const ws_frame_parser_t *p, unsigned int opcode,
                        apr_uint64_t length, const char **reason)
{
    int too_large = p->too_large_code ? p->too_large_code
                                      : WS_CLOSE_TOO_LARGE;
    apr_uint64_t base, limit;

    /* Non-minimal encodings (say 5 in the 16-bit form) are accepted for
     * data frames: section 5.2 asks the sender for the minimal form but
     * does not ask the receiver to fail, the decoded length is the same,
     * and most servers accept them.  The top bit of the 64-bit form is
     * another matter: section 5.2 says it MUST be 0. */
    if (length >> 63) {
        *reason = "64-bit payload length with the top bit set";
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    if (p->max_message == 0) {
        return 0;
    }
    if (opcode >= WS_OP_CLOSE) {
        if (length > p->max_message) {
            *reason = "control frame payload over the size limit";
            return too_large;
        }
        return 0;
    }
    /* The limit is on the message, the sum of its fragments' declared
     * lengths: refused here, from the header, so that nothing of the
     * declared length is ever read or allocated (section 10.4). */
    base = opcode == WS_OP_CONT ? p->message_total : 0;
    limit = p->max_message;
    if (p->max_compressed != 0
        && (opcode == WS_OP_CONT ? p->message_rsv1
                                 : (p->hbuf[0] & WS_RSV1) != 0)) {
        limit = p->max_compressed;
    }
    if (base > limit || length > limit - base) {
        *reason = "message over the size limit";
        return too_large;
    }
    return 0;
}

/* p->hbuf holds a complete, checked header of p->hlen bytes: make it the
 * current frame and update the message state. */
static void start_frame(ws_frame_parser_t *p, apr_uint64_t length)
{
    const unsigned char *h = p->hbuf;
    ws_frame_header_t *cur = &p->cur;

    cur->fin = (h[0] & FIN_BIT) != 0;
    cur->rsv = h[0] & RSV_BITS;
    cur->opcode = h[0] & OPCODE_BITS;
    cur->masked = (h[1] & MASK_BIT) != 0;
    cur->length = length;
    if (cur->masked) {
        /* the masking key is the last four bytes of the header */
        memcpy(cur->mask, h + p->hlen - 4, 4);
    }
    else {
        memset(cur->mask, 0, sizeof(cur->mask));
    }
    if (cur->opcode < WS_OP_CLOSE) {
        if (cur->opcode == WS_OP_CONT) {
            /* saturating: without a limit nothing bounds the sum */
            p->message_total = length > ~(apr_uint64_t)0 - p->message_total
                                   ? ~(apr_uint64_t)0
                                   : p->message_total + length;
        }
        else {
            p->message_total = length;
            p->message_rsv1 = (cur->rsv & WS_RSV1) != 0;
        }
        p->in_message = !cur->fin;
    }
    p->hlen = 0;
    p->in_payload = 1;
    p->remaining = length;
    p->mask_offset = 0;
    p->end_pending = length == 0;
}

void ws_frame_parser_init(ws_frame_parser_t *p, apr_uint64_t max_message,
                          unsigned int rsv_allowed, int too_large_code)
{
    memset(p, 0, sizeof(*p));
    p->max_message = max_message;
    p->rsv_allowed = rsv_allowed & RSV_BITS;
    p->require_mask = 1;
    p->too_large_code = too_large_code;
}

/* One payload event: as much as input, output space and the frame allow.
 * Without output space nothing can be done: NEED_MORE, nothing consumed
 * (the caller must offer room to make progress). */
static ws_frame_event_e parse_payload(ws_frame_parser_t *p,
                                      const unsigned char *in,
                                      apr_size_t inlen, unsigned char *out,
                                      apr_size_t outlen, apr_size_t *consumed,
                                      ws_frame_event_t *ev)
{
    apr_size_t n = inlen < outlen ? inlen : outlen;

    if (n > p->remaining) {
        n = (apr_size_t)p->remaining;
    }
    if (n == 0) {
        return WS_FRAME_NEED_MORE;
    }
    if (p->cur.masked) {
        ws_frame_unmask(out, in, n, p->cur.mask, p->mask_offset);
    }
    else {
        memcpy(out, in, n);
    }
    p->mask_offset = (p->mask_offset + n) & 3;
    p->remaining -= n;
    p->end_pending = p->remaining == 0;
    *consumed = n;
    ev->type = WS_FRAME_PAYLOAD;
    ev->header = p->cur;
    ev->data = out;
    ev->len = n;
    return WS_FRAME_PAYLOAD;
}

ws_frame_event_e ws_frame_parse(ws_frame_parser_t *p, const unsigned char *in,
                                apr_size_t inlen, unsigned char *out,
                                apr_size_t outlen, apr_size_t *consumed,
                                ws_frame_event_t *ev)
{
    apr_size_t used, n, len_end, need;
    unsigned int len7;
    apr_uint64_t length;
    const char *reason;
    int code;

    memset(ev, 0, sizeof(*ev));
    *consumed = 0;
    if (p->failed) {
        ev->type = WS_FRAME_ERROR;
        ev->close_code = p->fail_code;
        ev->reason = p->fail_reason;
        return WS_FRAME_ERROR;
    }
    if (p->in_payload) {
        if (p->end_pending) {
            p->end_pending = 0;
            p->in_payload = 0;
            ev->type = WS_FRAME_END;
            ev->header = p->cur;
            return WS_FRAME_END;
        }
        return parse_payload(p, in, inlen, out, outlen, consumed, ev);
    }

    /* A header: the first two bytes say how long it is (2 to 14 bytes).
     * Only what belongs to this header is taken into hbuf. */
    used = 0;
    if (p->hlen < 2) {
        used = 2 - p->hlen < inlen ? 2 - p->hlen : inlen;
        if (used > 0) { /* in may be NULL when inlen is 0 */
            memcpy(p->hbuf + p->hlen, in, used);
        }
        p->hlen += (unsigned int)used;
        *consumed = used;
        if (p->hlen < 2) {
            return WS_FRAME_NEED_MORE;
        }
        reason = check_start(p, p->hbuf[0], p->hbuf[1]);
        if (reason != NULL) {
            return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, reason);
        }
    }
    len7 = p->hbuf[1] & LEN7_BITS;
    len_end = len7 == LEN7_64BIT ? 10 : len7 == LEN7_16BIT ? 4 : 2;
    need = len_end + ((p->hbuf[1] & MASK_BIT) ? 4 : 0);
    n = need - p->hlen < inlen - used ? need - p->hlen : inlen - used;
    if (n > 0) {
        memcpy(p->hbuf + p->hlen, in + used, n);
    }
    p->hlen += (unsigned int)n;
    *consumed = used + n;
    if (p->hlen < len_end) {
        return WS_FRAME_NEED_MORE;
    }
    /* the length is known: decide the limits now, before the masking key
     * (and long before the payload) arrives; repeated harmlessly when
     * the key comes in pieces */
    length = header_length(p->hbuf);
    code = check_length(p, p->hbuf[0] & OPCODE_BITS, length, &reason);
    if (code != 0) {
        return fail(p, ev, code, reason);
    }
    if (p->hlen < need) {
        return WS_FRAME_NEED_MORE;
    }
    start_frame(p, length);
    ev->type = WS_FRAME_HEADER;
    ev->header = p->cur;
    return WS_FRAME_HEADER;
}

void ws_frame_unmask(unsigned char *dst, const unsigned char *src,
                     apr_size_t len, const unsigned char mask[4],
                     apr_size_t offset)
{
    unsigned char key[8];
    apr_uint64_t k, w0, w1, w2, w3;
    apr_size_t i;

    /* The key rotated to the offset, twice: every step below moves by a
     * multiple of 4 bytes, so it stays in phase.  memcpy to and from
     * 64-bit words keeps the byte order (no endianness question) and
     * compiles to plain unaligned loads where the CPU allows them. */
    for (i = 0; i < 8; i++) {
        key[i] = mask[(offset + i) & 3];
    }
    memcpy(&k, key, 8);
    while (len >= 32) {
        memcpy(&w0, src, 8);
        memcpy(&w1, src + 8, 8);
        memcpy(&w2, src + 16, 8);
        memcpy(&w3, src + 24, 8);
        w0 ^= k;
        w1 ^= k;
        w2 ^= k;
        w3 ^= k;
        memcpy(dst, &w0, 8);
        memcpy(dst + 8, &w1, 8);
        memcpy(dst + 16, &w2, 8);
        memcpy(dst + 24, &w3, 8);
        src += 32;
        dst += 32;
        len -= 32;
    }
    while (len >= 8) {
        memcpy(&w0, src, 8);
        w0 ^= k;
        memcpy(dst, &w0, 8);
        src += 8;
        dst += 8;
        len -= 8;
    }
    for (i = 0; i < len; i++) {
        dst[i] = src[i] ^ key[i];
    }
}

apr_size_t ws_frame_header_write(unsigned char out[WS_FRAME_HEADER_MAX],
                                 unsigned int fin, unsigned int rsv,
                                 unsigned int opcode, apr_uint64_t length)
{
    int i;

    out[0] = (unsigned char)((fin ? FIN_BIT : 0) | (rsv & RSV_BITS)
                             | (opcode & OPCODE_BITS));
    /* section 5.2: the minimal number of bytes; a server never masks */
    if (length <= WS_CONTROL_MAX) {
        out[1] = (unsigned char)length;
        return 2;
    }
    if (length <= 0xFFFF) {
        out[1] = LEN7_16BIT;
        out[2] = (unsigned char)(length >> 8);
        out[3] = (unsigned char)length;
        return 4;
    }
    out[1] = LEN7_64BIT;
    for (i = 0; i < 8; i++) {
        out[2 + i] = (unsigned char)(length >> (56 - 8 * i));
    }
    return 10;
}

int ws_frame_close_code_valid(unsigned int code, int allow_reserved)
{
    /* RFC 6455 section 7.4: below 1000 unused; 1005, 1006 and 1015 are
     * for reporting only and never sent; 5000 and up undefined */
    if (code < 1000 || code >= 5000 || code == WS_CLOSE_NO_STATUS
        || code == WS_CLOSE_ABNORMAL || code == 1015) {
        return 0;
    }
    /* 1004 and 1014 are reserved, 1016-2999 kept for future revisions
     * and extensions (section 7.4.2): refused unless configured */
    if (code == WS_CLOSE_TOO_LARGE_OLD || code == 1014
        || (code >= 1016 && code <= 2999)) {
        return allow_reserved != 0;
    }
    /* 1000-1003 and 1007-1013 are defined (1012 and 1013 by the IANA
     * registry), 3000-3999 registered, 4000-4999 private use */
    return 1;
}
