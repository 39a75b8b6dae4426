/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * fuzz_frame.c -- libFuzzer target of the frame parser: arbitrary bytes
 * fed in arbitrary chunks must keep the parser's contract and give what
 * a whole-buffer reference decoder gives.
 *
 * Input: byte 0 chooses the settings (limit, RSV bits claimed, 1009 or
 * 1004, masking required), byte 1 a small limit, byte 2 the chunking,
 * byte 3 the output size; the rest is the stream.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"
#include "ws_frame_cfg.h"

#define CHECK(c) \
    do { \
        if (!(c)) { \
            abort(); \
        } \
    } while (0)

/* One event of a normalised trace: consecutive PAYLOAD events merged */
typedef struct {
    ws_frame_event_e type;
    ws_frame_header_t h; /* HEADER, END */
    apr_uint64_t len;    /* PAYLOAD */
    int code;            /* ERROR */
} rec_t;

typedef struct {
    rec_t *r;
    size_t n, cap;
    unsigned char *payload; /* all payload, concatenated */
    size_t plen;
} trace_t;

/* field by field: a struct may have padding that memcmp would see */
static int header_eq(const ws_frame_header_t *a, const ws_frame_header_t *b)
{
    return a->fin == b->fin && a->rsv == b->rsv && a->opcode == b->opcode
           && a->masked == b->masked && memcmp(a->mask, b->mask, 4) == 0
           && a->length == b->length;
}

static void put(trace_t *t, const rec_t *r)
{
    if (r->type == WS_FRAME_PAYLOAD && t->n > 0
        && t->r[t->n - 1].type == WS_FRAME_PAYLOAD) {
        t->r[t->n - 1].len += r->len;
        return;
    }
    CHECK(t->n < t->cap);
    t->r[t->n++] = *r;
}

/* ---- the reference: the whole stream at once ---------------------------- */

static void ref_decode(const ws_frame_cfg_t *c, const unsigned char *s,
                       size_t len, trace_t *t)
{
    size_t pos = 0, hsize, ext, avail, i;
    int in_msg = 0;
    apr_uint64_t total = 0, length;
    unsigned int b0, b1, op, len7;
    rec_t r;
    int code;

    while (len - pos >= 2) {
        memset(&r, 0, sizeof(r));
        b0 = s[pos];
        b1 = s[pos + 1];
        op = b0 & 0x0F;
        len7 = b1 & 0x7F;
        code = 0;
        if ((b0 & 0x70) & ~c->rsv_allowed) {
            code = 1002;
        }
        else if (c->require_mask && !(b1 & 0x80)) {
            code = 1002;
        }
        else if (op >= 8) {
            if (op > 10 || !(b0 & 0x80) || len7 > 125
                || (op == 8 && len7 == 1)) {
                code = 1002;
            }
        }
        else if (op > 2 || (op == 0 && !in_msg) || (op != 0 && in_msg)) {
            code = 1002;
        }
        if (code == 0) {
            ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
            if (len - pos < 2 + ext) {
                return;
            }
            length = len7 < 126 ? len7 : 0;
            for (i = 0; i < ext; i++) {
                length = length * 256 + s[pos + 2 + i];
            }
            if (length >= ((apr_uint64_t)1 << 63)) {
                code = 1002;
            }
            else if (c->max != 0 && op >= 8 && length > c->max) {
                code = c->too_large;
            }
            else if (c->max != 0 && op < 8
                     && (op == 0 ? total : 0) + length > c->max) {
                code = c->too_large; /* total <= max < 2^63: no wrap */
            }
        }
        if (code != 0) {
            r.type = WS_FRAME_ERROR;
            r.code = code;
            put(t, &r);
            return;
        }
        hsize = 2 + ext + ((b1 & 0x80) ? 4 : 0);
        if (len - pos < hsize) {
            return;
        }
        r.type = WS_FRAME_HEADER;
        r.h.fin = b0 >> 7;
        r.h.rsv = b0 & 0x70;
        r.h.opcode = op;
        r.h.masked = b1 >> 7;
        r.h.length = length;
        if (r.h.masked) {
            memcpy(r.h.mask, s + pos + hsize - 4, 4);
        }
        put(t, &r);
        if (op < 8) {
            total = op == 0 ? total + length : length;
            in_msg = !r.h.fin;
        }
        pos += hsize;
        avail = len - pos < length ? len - pos : (size_t)length;
        for (i = 0; i < avail; i++) {
            t->payload[t->plen++] = s[pos + i] ^ r.h.mask[i % 4];
        }
        if (avail > 0) {
            rec_t p;

            memset(&p, 0, sizeof(p));
            p.type = WS_FRAME_PAYLOAD;
            p.len = avail;
            put(t, &p);
        }
        if (avail < length) {
            return;
        }
        r.type = WS_FRAME_END;
        put(t, &r);
        pos += avail;
    }
}

/* ---- the parser, in chunks, with its contract checked ------------------- */

typedef struct {
    int open;             /* between HEADER and END */
    ws_frame_header_t h;  /* of the open frame */
    apr_uint64_t left;    /* payload still due */
    apr_uint64_t done;    /* payload so far (mask phase) */
    int in_msg;           /* a fragmented message is open */
    apr_uint64_t total;   /* its declared bytes */
    int failed;
    int code;
    size_t hbytes;        /* header bytes consumed before its HEADER */
} shadow_t;

static void feed(const ws_frame_cfg_t *c, ws_frame_parser_t *p, shadow_t *sh,
                 trace_t *t, const unsigned char *in, size_t n,
                 unsigned char *out, size_t outlen)
{
    ws_frame_event_t ev;
    ws_frame_event_e e;
    apr_size_t used;
    int zero_streak = 0;
    rec_t r;
    size_t i, hsize;

    while (!sh->failed) {
        used = (apr_size_t)-1;
        e = ws_frame_parse(p, in, n, out, outlen, &used, &ev);
        CHECK(e == ev.type);
        CHECK(used <= n);
        memset(&r, 0, sizeof(r));
        r.type = e;
        switch (e) {
        case WS_FRAME_NEED_MORE:
            CHECK(used == n); /* there is room for output */
            if (!sh->open) {
                sh->hbytes += used; /* a header in pieces */
            }
            return;
        case WS_FRAME_HEADER:
            CHECK(!sh->open);
            CHECK(used > 0);
            /* the header took 2, 4 or 10 bytes, plus 4 of mask */
            hsize = sh->hbytes + used - (ev.header.masked ? 4 : 0);
            CHECK(hsize == 2 || hsize == 4 || hsize == 10);
            CHECK(hsize != 2 || ev.header.length <= 125);
            CHECK(hsize != 4 || ev.header.length <= 0xFFFF);
            sh->hbytes = 0;
            CHECK((ev.header.rsv & ~c->rsv_allowed) == 0);
            CHECK(!c->require_mask || ev.header.masked);
            CHECK(ev.header.length >> 63 == 0);
            if (ev.header.opcode >= WS_OP_CLOSE) {
                CHECK(ev.header.opcode <= WS_OP_PONG);
                CHECK(ev.header.fin);
                CHECK(ev.header.length <= WS_CONTROL_MAX);
                CHECK(ev.header.opcode != WS_OP_CLOSE
                      || ev.header.length != 1);
                CHECK(c->max == 0 || ev.header.length <= c->max);
            }
            else {
                CHECK(ev.header.opcode <= WS_OP_BINARY);
                CHECK((ev.header.opcode == WS_OP_CONT) == sh->in_msg);
                sh->total = ev.header.opcode == WS_OP_CONT
                                ? sh->total + ev.header.length
                                : ev.header.length;
                CHECK(c->max == 0 || sh->total <= c->max);
                sh->in_msg = !ev.header.fin;
            }
            sh->open = 1;
            sh->h = ev.header;
            sh->left = ev.header.length;
            sh->done = 0;
            r.h = ev.header;
            break;
        case WS_FRAME_PAYLOAD:
            CHECK(sh->open);
            CHECK(ev.len > 0 && ev.len <= outlen && ev.len == used);
            CHECK(ev.len <= sh->left);
            CHECK(ev.data == out);
            for (i = 0; i < ev.len; i++) {
                CHECK(out[i] == (in[i] ^ sh->h.mask[(sh->done + i) % 4]));
            }
            memcpy(t->payload + t->plen, out, ev.len);
            t->plen += ev.len;
            sh->left -= ev.len;
            sh->done += ev.len;
            r.len = ev.len;
            break;
        case WS_FRAME_END:
            CHECK(sh->open && sh->left == 0 && used == 0);
            CHECK(header_eq(&ev.header, &sh->h));
            sh->open = 0;
            r.h = ev.header;
            break;
        case WS_FRAME_ERROR:
            CHECK(ev.close_code == 1002 || ev.close_code == c->too_large);
            CHECK(ev.reason != NULL);
            sh->failed = 1;
            sh->code = ev.close_code;
            r.code = ev.close_code;
            break;
        default:
            abort();
        }
        put(t, &r);
        /* progress: an event that consumed nothing is an END, and the
         * call after it consumes or waits */
        zero_streak = used == 0 ? zero_streak + 1 : 0;
        CHECK(zero_streak <= 1);
        in += used;
        n -= used;
    }
}

static int same(const trace_t *a, const trace_t *b)
{
    size_t i;

    if (a->n != b->n || a->plen != b->plen
        || memcmp(a->payload, b->payload, a->plen) != 0) {
        return 0;
    }
    for (i = 0; i < a->n; i++) {
        if (a->r[i].type != b->r[i].type || a->r[i].len != b->r[i].len
            || a->r[i].code != b->r[i].code
            || !header_eq(&a->r[i].h, &b->r[i].h)) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const apr_uint64_t limits[] = {0, 0, 125, 65536};
    ws_frame_parser_t p;
    ws_frame_event_t ev;
    shadow_t sh;
    trace_t got, want;
    ws_frame_cfg_t c;
    unsigned char *out;
    const unsigned char *s;
    size_t len, off, n, outlen;
    apr_size_t used;
    apr_uint32_t x;
    unsigned int mode;

    if (size < 4) {
        return 0;
    }
    c.max = limits[data[0] & 3];
    if ((data[0] & 3) == 1) {
        c.max = data[1]; /* 0-255: 0 means none */
    }
    c.rsv_allowed = data[0] & 0x70;
    c.too_large = (data[0] & 0x08) ? 1004 : 1009;
    c.require_mask = (data[0] & 0x80) ? 0 : 1;
    mode = data[2];
    outlen = data[3] & 0x80 ? size : 1 + data[3] % 64;
    s = data + 4;
    len = size - 4;

    memset(&got, 0, sizeof(got));
    memset(&want, 0, sizeof(want));
    got.cap = want.cap = 2 * len + 4;
    got.r = calloc(got.cap, sizeof(rec_t));
    want.r = calloc(want.cap, sizeof(rec_t));
    got.payload = malloc(len + 1);
    want.payload = malloc(len + 1);
    out = malloc(outlen);
    CHECK(got.r && want.r && got.payload && want.payload && out);

    CHECK(ws_frame_cfg_init_parser(&p, &c));
    memset(&sh, 0, sizeof(sh));
    x = mode * 2654435761u + 1;
    for (off = 0; off <= len && !sh.failed; off += n) {
        /* whole, byte by byte, a stride, or pseudo-random chunks; an
         * empty call at the end */
        switch (mode & 3) {
        case 0:
            n = len - off;
            break;
        case 1:
            n = 1;
            break;
        case 2:
            n = 1 + (mode >> 2);
            break;
        default:
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            n = x % 24;
            break;
        }
        n = n < len - off ? n : len - off;
        feed(&c, &p, &sh, &got, s + off, n, out, outlen);
        if (off == len) {
            break;
        }
    }
    if (sh.failed) {
        /* sticky, with the same code, consuming nothing */
        used = 1;
        CHECK(ws_frame_parse(&p, s, len, out, outlen, &used, &ev)
              == WS_FRAME_ERROR);
        CHECK(used == 0 && ev.close_code == sh.code);
    }
    ref_decode(&c, s, len, &want);
    CHECK(same(&got, &want));

    free(got.r);
    free(want.r);
    free(got.payload);
    free(want.payload);
    free(out);
    return 0;
}
