/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_utf8.c -- incremental, fail-fast UTF-8 validator (RFC 3629) with an
 * ASCII fast path, for text messages and close reasons (RFC 6455 8.1).
 */
#include <string.h>

#include "ws_utf8.h"

/* The state between calls: 0 between characters; otherwise the number
 * of continuation bytes still due (1-3) in bits 0-1 and the range the
 * next one must fall in, lowest in bits 8-15, highest in bits 16-23.
 * A dead validator holds STATE_INVALID, which no open character can. */
#define STATE_INVALID 0xFFFFFFFFu
#define PACK(need, lo, hi) \
    ((apr_uint32_t)(need) | ((apr_uint32_t)(lo) << 8) \
     | ((apr_uint32_t)(hi) << 16))
#define NEED(st) ((st) & 3)
#define LO(st) (((st) >> 8) & 0xFF)
#define HI(st) (((st) >> 16) & 0xFF)

/* Bytes 0x80-0xBF continue a character */
#define CONT_LO 0x80
#define CONT_HI 0xBF

/* the high bit of each of 8 bytes: any non-ASCII byte in a word */
#define HIGH_BITS 0x8080808080808080ULL

void ws_utf8_init(ws_utf8_t *v)
{
    v->state = 0;
}

int ws_utf8_feed(ws_utf8_t *v, const unsigned char *s, apr_size_t len)
{
    const unsigned char *end;
    apr_uint32_t st = v->state;
    apr_uint64_t w;
    unsigned int c, need, lo, hi;

    if (st == STATE_INVALID) {
        return WS_UTF8_INVALID;
    }
    if (len == 0) {
        return WS_UTF8_OK; /* s may be NULL: no arithmetic on it */
    }
    end = s + len;
    while (s < end) {
        if (st == 0) {
            /* Between characters: skip ASCII a word at a time (most
             * text is mostly ASCII), then byte by byte up to the first
             * byte with the high bit set. */
            while (end - s >= 8) {
                memcpy(&w, s, 8);
                if (w & HIGH_BITS) {
                    break;
                }
                s += 8;
            }
            while (s < end && *s < 0x80) {
                s++;
            }
            if (s == end) {
                break;
            }
            /* A lead byte.  RFC 3629 section 4 (the Unicode "well-formed
             * byte sequences" table): the second byte's range is what
             * rejects overlong forms (E0, F0), surrogates U+D800-DFFF
             * (ED) and code points above U+10FFFF (F4) as soon as it
             * is seen; C0, C1 and F5-FF can start nothing valid, and a
             * continuation byte cannot start a character. */
            c = *s++;
            lo = CONT_LO;
            hi = CONT_HI;
            if (c < 0xC2) {
                goto invalid;
            }
            else if (c < 0xE0) {
                need = 1;
            }
            else if (c < 0xF0) {
                need = 2;
                if (c == 0xE0) {
                    lo = 0xA0;
                }
                else if (c == 0xED) {
                    hi = 0x9F;
                }
            }
            else if (c < 0xF5) {
                need = 3;
                if (c == 0xF0) {
                    lo = 0x90;
                }
                else if (c == 0xF4) {
                    hi = 0x8F;
                }
            }
            else {
                goto invalid;
            }
            if ((apr_size_t)(end - s) >= need) {
                /* the whole character is here: check it in place */
                if (s[0] < lo || s[0] > hi) {
                    goto invalid;
                }
                if (need > 1 && (s[1] & 0xC0) != 0x80) {
                    goto invalid;
                }
                if (need > 2 && (s[2] & 0xC0) != 0x80) {
                    goto invalid;
                }
                s += need;
                continue;
            }
            st = PACK(need, lo, hi);
            continue;
        }
        /* A character open across the end of an input: byte by byte,
         * keeping the state (at most three bytes per call get here). */
        c = *s++;
        if (c < LO(st) || c > HI(st)) {
            goto invalid;
        }
        need = NEED(st) - 1;
        st = need ? PACK(need, CONT_LO, CONT_HI) : 0;
    }
    v->state = st;
    return WS_UTF8_OK;

invalid:
    v->state = STATE_INVALID;
    return WS_UTF8_INVALID;
}

int ws_utf8_complete(const ws_utf8_t *v)
{
    return v->state == 0;
}

int ws_utf8_valid(const unsigned char *s, apr_size_t len)
{
    ws_utf8_t v;

    ws_utf8_init(&v);
    return ws_utf8_feed(&v, s, len) == WS_UTF8_OK && ws_utf8_complete(&v);
}
