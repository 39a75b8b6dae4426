/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_frame.c -- Check unit tests of proto/ws_frame.c, the RFC 6455
 * frame codec: every stream is fed whole, byte by byte, in strides, split
 * at every offset and with small output buffers, and must give the same
 * events and payload each way.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "ws_test.h"
#include "ws_frame.h"
#include "ws_frame_cfg.h"

/* ---- building client frames --------------------------------------------- */

/* One frame of a test stream.  form: 0 = minimal length encoding, else
 * the 7-, 16- or 64-bit form whatever the length.  A frame declaring
 * more than BODY_MAX bytes is written as a header only. */
typedef struct {
    unsigned int fin, rsv, opcode, masked;
    int form;
    apr_uint64_t length;
} frm_t;

#define BODY_MAX 70000

/* masked frame, minimal length form */
#define M(fin, op, len) {fin, 0, op, 1, 0, len}
/* masked frame with RSV bits */
#define R(fin, rsv, op, len) {fin, rsv, op, 1, 0, len}
/* masked frame with a forced length form */
#define L(fin, op, form, len) {fin, 0, op, 1, form, len}
/* unmasked frame */
#define U(fin, op, len) {fin, 0, op, 0, 0, len}

#define TOP_BIT ((apr_uint64_t)1 << 63)

static apr_size_t body_of(const frm_t *f)
{
    return f->length <= BODY_MAX ? (apr_size_t)f->length : 0;
}

static int form_of(const frm_t *f)
{
    if (f->form != 0) {
        return f->form;
    }
    return f->length <= 125 ? 7 : f->length <= 0xFFFF ? 16 : 64;
}

/* header bytes up to the end of the length field */
static apr_size_t len_end_of(const frm_t *f)
{
    return form_of(f) == 7 ? 2 : form_of(f) == 16 ? 4 : 10;
}

static apr_size_t header_size_of(const frm_t *f)
{
    return len_end_of(f) + (f->masked ? 4 : 0);
}

/* Writes @p f with @p mask over payload @p plain into @p buf; returns the
 * number of bytes written. */
static apr_size_t put_frame(unsigned char *buf, const frm_t *f,
                            const unsigned char mask[4],
                            const unsigned char *plain)
{
    apr_size_t n = 0, i, body = body_of(f);
    int form = form_of(f);

    buf[n++] = (unsigned char)((f->fin ? 0x80 : 0) | f->rsv | f->opcode);
    if (form == 7) {
        buf[n++] = (unsigned char)((f->masked ? 0x80 : 0) | f->length);
    }
    else if (form == 16) {
        buf[n++] = (unsigned char)((f->masked ? 0x80 : 0) | 126);
        buf[n++] = (unsigned char)(f->length >> 8);
        buf[n++] = (unsigned char)f->length;
    }
    else {
        buf[n++] = (unsigned char)((f->masked ? 0x80 : 0) | 127);
        for (i = 0; i < 8; i++) {
            buf[n++] = (unsigned char)(f->length >> (56 - 8 * i));
        }
    }
    if (f->masked) {
        memcpy(buf + n, mask, 4);
        n += 4;
    }
    for (i = 0; i < body; i++) {
        /* the obvious masking of RFC 6455 section 5.3 */
        buf[n + i] = f->masked ? plain[i] ^ mask[i % 4] : plain[i];
    }
    return n + body;
}

/* ---- recording what the parser reports ---------------------------------- */

/* One event of a normalised trace: consecutive PAYLOAD events are merged
 * (how payload is cut depends on the chunking; the bytes must not). */
typedef struct {
    ws_frame_event_e type;
    unsigned int fin, rsv, opcode;
    apr_uint64_t length; /* HEADER, END: declared; PAYLOAD: bytes */
    int code;            /* ERROR */
} rec_t;

#define MAX_RECS 256
#define OUT_SLACK 64 /* output room beyond the stream's length */

typedef struct {
    int n;
    rec_t r[MAX_RECS];
    unsigned char *payload; /* all payload bytes, concatenated */
    apr_size_t plen, cap;
    apr_size_t consumed;    /* input bytes consumed so far */
    apr_size_t error_at;    /* input bytes consumed when ERROR came */
    int failed;
    unsigned char *out;     /* the parser's output buffer */
    apr_size_t outlen;
    int open;               /* between HEADER and END */
    apr_uint64_t left;      /* payload still due in the open frame */
} trace_t;

static trace_t *trace_create(apr_size_t cap)
{
    trace_t *t = apr_pcalloc(pool, sizeof(*t));

    t->cap = cap;
    t->payload = apr_palloc(pool, cap + 1);
    t->out = apr_palloc(pool, cap + OUT_SLACK);
    return t;
}

static void add_rec(trace_t *t, const ws_frame_event_t *ev)
{
    rec_t *r;

    if (ev->type == WS_FRAME_PAYLOAD && t->n > 0
        && t->r[t->n - 1].type == WS_FRAME_PAYLOAD) {
        t->r[t->n - 1].length += ev->len;
        return;
    }
    REQUIRE(t->n < MAX_RECS);
    r = &t->r[t->n++];
    memset(r, 0, sizeof(*r));
    r->type = ev->type;
    if (ev->type == WS_FRAME_ERROR) {
        r->code = ev->close_code;
        return;
    }
    if (ev->type == WS_FRAME_PAYLOAD) {
        r->length = ev->len;
        return;
    }
    r->fin = ev->header.fin;
    r->rsv = ev->header.rsv;
    r->opcode = ev->header.opcode;
    r->length = ev->header.length;
}

/* Feeds one chunk, calling the parser until it wants more input, and
 * checks the contract of every call on the way. */
static void feed_chunk(ws_frame_parser_t *p, trace_t *t,
                       const unsigned char *in, apr_size_t n)
{
    ws_frame_event_t ev;
    ws_frame_event_e e;
    apr_size_t used;
    int calls = 0;

    while (!t->failed) {
        REQUIRE(++calls < 1000000);
        used = 12345;
        e = ws_frame_parse(p, in, n, t->out, t->outlen, &used, &ev);
        REQUIRE(ev.type == e);
        REQUIRE(used <= n);
        switch (e) {
        case WS_FRAME_NEED_MORE:
            /* everything consumed (there is room for output) */
            REQUIRE(used == n);
            t->consumed += used;
            return;
        case WS_FRAME_HEADER:
            REQUIRE(!t->open);
            REQUIRE(used > 0);
            t->open = 1;
            t->left = ev.header.length;
            break;
        case WS_FRAME_PAYLOAD:
            REQUIRE(t->open);
            REQUIRE(ev.len > 0);
            REQUIRE(ev.len == used);
            REQUIRE(ev.len <= t->outlen);
            REQUIRE(ev.len <= t->left);
            REQUIRE(ev.data == t->out);
            REQUIRE(t->plen + ev.len <= t->cap);
            memcpy(t->payload + t->plen, ev.data, ev.len);
            t->plen += ev.len;
            t->left -= ev.len;
            break;
        case WS_FRAME_END:
            REQUIRE(t->open);
            REQUIRE(t->left == 0);
            REQUIRE(used == 0);
            t->open = 0;
            break;
        case WS_FRAME_ERROR:
            REQUIRE(ev.reason != NULL);
            t->failed = 1;
            t->error_at = t->consumed + used;
            break;
        }
        add_rec(t, &ev);
        in += used;
        n -= used;
        t->consumed += used;
    }
}

/* How a stream is cut: two chunks at @c split, or chunks of @c step
 * bytes, or (random) chunks of 1-17 bytes; @c outlen bytes of output. */
typedef struct {
    apr_size_t split, step;
    int random;
    apr_size_t outlen;
} how_t;

static void run(trace_t *t, const ws_frame_cfg_t *c, const unsigned char *s,
                apr_size_t len, const how_t *how)
{
    ws_frame_parser_t p;
    apr_size_t off = 0, n;

    t->n = 0;
    t->plen = t->consumed = t->error_at = 0;
    t->failed = t->open = 0;
    t->left = 0;
    t->outlen = how->outlen;
    REQUIRE(how->outlen <= t->cap + OUT_SLACK);
    REQUIRE(ws_frame_cfg_init_parser(&p, c));
    if (!how->step && !how->random) {
        feed_chunk(&p, t, s, how->split);
        feed_chunk(&p, t, s + how->split, len - how->split);
        return;
    }
    while (off < len && !t->failed) {
        n = how->random ? 1 + rnd() % 17 : how->step;
        n = n < len - off ? n : len - off;
        feed_chunk(&p, t, s + off, n);
        off += n;
    }
}

static void assert_same(const trace_t *a, const trace_t *b, const char *mode,
                        apr_size_t arg)
{
    int i;

    REQUIRE_MSG(a->n == b->n, "%s %u: %d events instead of %d", mode,
                  (unsigned)arg, b->n, a->n);
    for (i = 0; i < a->n; i++) {
        REQUIRE_MSG(memcmp(&a->r[i], &b->r[i], sizeof(rec_t)) == 0,
                      "%s %u: event %d differs (type %d/%d, length %lu/%lu)",
                      mode, (unsigned)arg, i, a->r[i].type, b->r[i].type,
                      (unsigned long)a->r[i].length,
                      (unsigned long)b->r[i].length);
    }
    REQUIRE_MSG(a->plen == b->plen
                      && memcmp(a->payload, b->payload, a->plen) == 0,
                  "%s %u: payload differs", mode, (unsigned)arg);
    REQUIRE(a->failed == b->failed);
}

/* Feeds @p s every way and checks that each gives the trace of feeding it
 * whole, which is returned.  Streams longer than 600 bytes are split at
 * every offset of their first and last 64 bytes (all header and mask
 * phases) and at every 1021st in between: every offset of a 64 KiB frame
 * would take minutes under valgrind. */
static trace_t *feed_all_ways(const ws_frame_cfg_t *c, const unsigned char *s,
                              apr_size_t len)
{
    static const apr_size_t strides[] = {1, 2, 3, 5, 7, 13, 64};
    static const apr_size_t outlens[] = {1, 2, 3, 5, 8};
    trace_t *ref = trace_create(len), *t = trace_create(len);
    how_t how;
    apr_size_t k;
    int i;

    memset(&how, 0, sizeof(how));
    how.split = len;
    how.outlen = len + 1;
    run(ref, c, s, len, &how);
    for (i = 0; i < N_ROWS(strides); i++) {
        if (len > 600 && strides[i] != 1 && strides[i] != 7) {
            continue; /* byte by byte and one odd stride are enough */
        }
        memset(&how, 0, sizeof(how));
        how.step = strides[i];
        how.outlen = len + 1;
        run(t, c, s, len, &how);
        assert_same(ref, t, "stride", strides[i]);
    }
    for (k = 0; k <= len; k++) {
        if (len > 600 && k > 64 && k < len - 64 && k % 1021 != 0) {
            continue;
        }
        memset(&how, 0, sizeof(how));
        how.split = k;
        how.outlen = len + 1;
        run(t, c, s, len, &how);
        assert_same(ref, t, "split at", k);
    }
    for (i = 0; i < N_ROWS(outlens); i++) {
        if (len > 600 && outlens[i] != 1 && outlens[i] != 5) {
            continue;
        }
        memset(&how, 0, sizeof(how));
        how.split = len;
        how.outlen = outlens[i];
        run(t, c, s, len, &how);
        assert_same(ref, t, "outlen", outlens[i]);
        how.random = 1;
        run(t, c, s, len, &how);
        assert_same(ref, t, "random chunks, outlen", outlens[i]);
    }
    return ref;
}

/* A stream of frames with what the parser must report for it. */
typedef struct {
    unsigned char *bytes;
    apr_size_t len;
    trace_t *expect;
    apr_size_t bad_at; /* offset of the failing frame */
} stream_t;

/* Builds the stream of @p f[0..n) (masks from @p masks, or random) and
 * the expected trace: each frame up to @p bad (-1: none) reported whole,
 * then ERROR @p code. */
static stream_t *build(const frm_t *f, int n, int bad, int code,
                       const unsigned char (*masks)[4])
{
    stream_t *st = apr_pcalloc(pool, sizeof(*st));
    apr_size_t cap = 0, body;
    unsigned char mask[4], *plain;
    rec_t *r;
    trace_t *e;
    int i, j;

    for (i = 0; i < n; i++) {
        cap += WS_FRAME_HEADER_MAX + body_of(&f[i]);
    }
    st->bytes = apr_palloc(pool, cap + 1);
    plain = apr_palloc(pool, cap + 1);
    e = st->expect = trace_create(cap);
    for (i = 0; i < n; i++) {
        body = body_of(&f[i]);
        for (j = 0; j < 4; j++) {
            mask[j] = masks ? masks[i][j] : (unsigned char)rnd();
        }
        for (j = 0; j < (int)body; j++) {
            plain[j] = (unsigned char)rnd();
        }
        if (i == bad) {
            st->bad_at = st->len;
        }
        st->len += put_frame(st->bytes + st->len, &f[i], mask, plain);
        if (i == bad) {
            r = &e->r[e->n++];
            memset(r, 0, sizeof(*r));
            r->type = WS_FRAME_ERROR;
            r->code = code;
            e->failed = 1;
        }
        if (bad >= 0 && i >= bad) {
            continue;
        }
        r = &e->r[e->n++];
        memset(r, 0, sizeof(*r));
        r->type = WS_FRAME_HEADER;
        r->fin = f[i].fin;
        r->rsv = f[i].rsv;
        r->opcode = f[i].opcode;
        r->length = f[i].length;
        if (body > 0) {
            r = &e->r[e->n++];
            memset(r, 0, sizeof(*r));
            r->type = WS_FRAME_PAYLOAD;
            r->length = body;
            memcpy(e->payload + e->plen, plain, body);
            e->plen += body;
        }
        if (body == f[i].length) {
            /* END repeats the frame's header */
            e->r[e->n] = e->r[e->n - 1 - (body > 0)];
            e->r[e->n++].type = WS_FRAME_END;
        }
    }
    return st;
}

/* Feeds @p st every way, checks the result against what it expects, and
 * that an error comes before any payload of the failing frame.  @p early:
 * the error is decided by the first two bytes of its frame's header, else
 * by the length field: fed byte by byte, the parser must stop exactly
 * there. */
static void check_stream(const ws_frame_cfg_t *c, const stream_t *st,
                         const frm_t *badf, int early)
{
    trace_t *got = feed_all_ways(c, st->bytes, st->len);
    trace_t *t;
    how_t how;

    assert_same(st->expect, got, "expected vs whole", 0);
    if (badf == NULL) {
        ck_assert_uint_eq(got->consumed, st->len);
        return;
    }
    /* nothing of the bad frame's payload consumed */
    ck_assert_uint_le(got->error_at, st->bad_at + header_size_of(badf));
    t = trace_create(st->len);
    memset(&how, 0, sizeof(how));
    how.step = 1;
    how.outlen = st->len + 1;
    run(t, c, st->bytes, st->len, &how);
    ck_assert_uint_eq(t->error_at,
                      st->bad_at + (early ? 2 : len_end_of(badf)));
}

/* ---- lengths ------------------------------------------------------------ */

static const apr_uint64_t boundary_lengths[] = {
    0, 1, 2, 3, 4, 5, 7, 8, 9, 125, 126, 127, 128, 255, 256, 1000,
    65535, 65536, 65537,
};

static const unsigned char boundary_masks[][4] = {
    {0x00, 0x00, 0x00, 0x00},
    {0xFF, 0xFF, 0xFF, 0xFF},
    {0x01, 0x02, 0x04, 0x80},
    {0x37, 0xFA, 0x21, 0x3D}, /* the example of RFC 6455 section 5.7 */
};

/* A binary frame of each boundary length, then a ping: the payload comes
 * out unmasked and the parser is ready for the next frame. */
START_TEST(test_length_boundary)
{
    frm_t f[2] = {M(1, WS_OP_BINARY, 0), M(1, WS_OP_PING, 3)};
    unsigned char masks[2][4];
    stream_t *st;
    int m;

    f[0].length = boundary_lengths[_i];
    rng = 1000 + (apr_uint32_t)_i;
    for (m = 0; m <= N_ROWS(boundary_masks); m++) {
        if (f[0].length > 1000 && m > 0 && m < N_ROWS(boundary_masks)) {
            continue; /* long ones: the all-zero and a random mask */
        }
        if (m < N_ROWS(boundary_masks)) {
            memcpy(masks[0], boundary_masks[m], 4);
        }
        else {
            masks[0][0] = (unsigned char)rnd(); /* a random one */
            masks[0][1] = (unsigned char)rnd();
            masks[0][2] = (unsigned char)rnd();
            masks[0][3] = (unsigned char)rnd();
        }
        memcpy(masks[1], boundary_masks[3], 4);
        st = build(f, 2, -1, 0, (const unsigned char(*)[4])masks);
        ck_assert_uint_eq(st->len, header_size_of(&f[0]) + f[0].length
                                       + 2 + 4 + 3);
        check_stream(&ws_frame_cfg_default, st, NULL, 0);
    }
}
END_TEST

/* RFC 6455 section 5.7: a masked "Hello", byte for byte */
START_TEST(test_rfc_example)
{
    static const unsigned char hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21,
                                          0x3d, 0x7f, 0x9f, 0x4d, 0x51,
                                          0x58};
    trace_t *t = feed_all_ways(&ws_frame_cfg_default, hello, sizeof(hello));

    ck_assert_int_eq(t->n, 3);
    ck_assert_int_eq(t->r[0].type, WS_FRAME_HEADER);
    ck_assert_uint_eq(t->r[0].opcode, WS_OP_TEXT);
    ck_assert_uint_eq(t->r[0].fin, 1);
    ck_assert_uint_eq(t->r[0].length, 5);
    ck_assert_int_eq(t->r[1].type, WS_FRAME_PAYLOAD);
    ck_assert_int_eq(t->r[2].type, WS_FRAME_END);
    ck_assert_uint_eq(t->plen, 5);
    ck_assert(memcmp(t->payload, "Hello", 5) == 0);
}
END_TEST

/* Headers alone (no payload follows): declared lengths in every form,
 * non-minimal encodings (accepted), the 64-bit form's top bit. */
static const struct {
    int form;
    apr_uint64_t length;
    apr_uint64_t max;
    int code; /* 0: a HEADER with this length */
} declared_rows[] = {
    {16, 126, 0, 0},
    {16, 65535, 0, 0},
    {64, 65536, 0, 0},
    {64, ((apr_uint64_t)1 << 32) - 1, 0, 0},
    {64, (apr_uint64_t)1 << 32, 0, 0},
    {64, ((apr_uint64_t)1 << 32) + 5, 0, 0},
    {64, ((apr_uint64_t)1 << 40), 0, 0},
    {64, TOP_BIT - 1, 0, 0},
    {64, TOP_BIT, 0, WS_CLOSE_PROTOCOL_ERROR},
    {64, TOP_BIT + 1, 0, WS_CLOSE_PROTOCOL_ERROR},
    {64, ~(apr_uint64_t)0, 0, WS_CLOSE_PROTOCOL_ERROR},
    /* the top bit is a protocol error even when over the limit too */
    {64, TOP_BIT, 1000, WS_CLOSE_PROTOCOL_ERROR},
    /* non-minimal encodings of short lengths */
    {16, 0, 0, 0},
    {16, 5, 0, 0},
    {16, 125, 0, 0},
    {64, 0, 0, 0},
    {64, 5, 0, 0},
    {64, 126, 0, 0},
    {64, 65535, 0, 0},
    /* limits on huge declarations: refused from the header */
    {64, ((apr_uint64_t)1 << 40), 1 << 20, WS_CLOSE_TOO_LARGE},
    {64, TOP_BIT - 1, 1 << 20, WS_CLOSE_TOO_LARGE},
    {16, 65535, 65534, WS_CLOSE_TOO_LARGE},
    {16, 65535, 65535, 0},
    {64, 5, 4, WS_CLOSE_TOO_LARGE},
    {64, ~(apr_uint64_t)0 >> 1, ~(apr_uint64_t)0, 0},
};

START_TEST(test_declared_length)
{
    frm_t f = L(1, WS_OP_BINARY, 0, 0);
    ws_frame_cfg_t c = ws_frame_cfg_default;
    stream_t *st;

    f.form = declared_rows[_i].form;
    f.length = declared_rows[_i].length;
    c.max = declared_rows[_i].max;
    rng = 2000 + (apr_uint32_t)_i;
    if (declared_rows[_i].code != 0) {
        st = build(&f, 1, 0, declared_rows[_i].code, NULL);
        check_stream(&c, st, &f, 0);
        return;
    }
    /* a header; the END too when the length is 0 (nothing to wait for) */
    st = build(&f, 1, -1, 0, NULL);
    if (f.length > BODY_MAX) {
        ck_assert_uint_eq(st->len, 14);
    }
    check_stream(&c, st, NULL, 0);
}
END_TEST

/* ---- unmasking ---------------------------------------------------------- */

/* every offset (also beyond 3: only offset mod 4 counts), length 0..40
 * and a longer one, every alignment of source and destination, and in
 * place, against the one-byte-at-a-time definition */
START_TEST(test_unmask)
{
    unsigned char src[1100], dst[1100], ref[1100], mask[4];
    apr_size_t off, len, a, b, i;
    int m;

    rng = 3000;
    for (i = 0; i < sizeof(src); i++) {
        src[i] = (unsigned char)rnd();
    }
    for (m = 0; m < 5; m++) {
        for (i = 0; i < 4; i++) {
            mask[i] = m < 4 ? boundary_masks[m][i] : (unsigned char)rnd();
        }
        for (off = 0; off < 8; off++) {
            for (len = 0; len <= 41; len++) {
                apr_size_t n = len == 41 ? 1000 : len;

                for (i = 0; i < n; i++) {
                    ref[i] = src[i] ^ mask[(off + i) % 4];
                }
                for (a = 0; a < 8; a++) {
                    for (b = 0; b < 8; b++) {
                        memset(dst, 0xA5, sizeof(dst));
                        ws_frame_unmask(dst + b, src + a, n, mask, off);
                        for (i = 0; i < n; i++) {
                            REQUIRE_MSG(dst[b + i]
                                              == (ref[i] ^ src[i] ^ src[a + i]),
                                          "off %u len %u src+%u dst+%u: "
                                          "byte %u", (unsigned)off,
                                          (unsigned)n, (unsigned)a,
                                          (unsigned)b, (unsigned)i);
                        }
                        /* nothing written outside */
                        for (i = 0; i < b; i++) {
                            REQUIRE(dst[i] == 0xA5);
                        }
                        REQUIRE(dst[b + n] == 0xA5);
                    }
                }
                /* in place */
                memcpy(dst, src, n);
                ws_frame_unmask(dst, dst, n, mask, off);
                REQUIRE(memcmp(dst, ref, n) == 0);
            }
        }
    }
}
END_TEST

/* A long payload cut into pieces at odd offsets unmasks as one. */
START_TEST(test_unmask_pieces)
{
    unsigned char src[300], dst[300], ref[300];
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    apr_size_t i, cut1, cut2;

    for (i = 0; i < sizeof(src); i++) {
        src[i] = (unsigned char)(i * 7);
        ref[i] = src[i] ^ mask[i % 4];
    }
    for (cut1 = 0; cut1 <= 40; cut1++) {
        for (cut2 = cut1; cut2 <= 80; cut2 += 3) {
            ws_frame_unmask(dst, src, cut1, mask, 0);
            ws_frame_unmask(dst + cut1, src + cut1, cut2 - cut1, mask, cut1);
            ws_frame_unmask(dst + cut2, src + cut2, sizeof(src) - cut2, mask,
                            cut2);
            ck_assert(memcmp(dst, ref, sizeof(src)) == 0);
        }
    }
}
END_TEST

/* ---- the rules: sequences of frames and where they fail ----------------- */

static const struct {
    const char *name;
    apr_uint64_t max;
    unsigned int rsv_allowed;
    int too_large;
    int n;
    frm_t f[4];
    int bad;   /* index of the failing frame, -1: valid */
    int code;
    int early; /* decided by the first two header bytes */
} seq_rows[] = {
    /* RSV bits (RFC 6455 section 5.2) */
    {"rsv1 without extension", 0, 0, 1009, 1,
     {R(1, WS_RSV1, WS_OP_TEXT, 3)}, 0, 1002, 1},
    {"rsv1 claimed", 0, WS_RSV1, 1009, 1,
     {R(1, WS_RSV1, WS_OP_TEXT, 3)}, -1, 0, 0},
    {"rsv2 with only rsv1 claimed", 0, WS_RSV1, 1009, 1,
     {R(1, WS_RSV2, WS_OP_TEXT, 3)}, 0, 1002, 1},
    {"rsv3 with only rsv1 claimed", 0, WS_RSV1, 1009, 1,
     {R(1, WS_RSV3, WS_OP_BINARY, 3)}, 0, 1002, 1},
    {"rsv1 on a ping without extension", 0, 0, 1009, 1,
     {R(1, WS_RSV1, WS_OP_PING, 3)}, 0, 1002, 1},
    {"all rsv bits claimed", 0, WS_RSV1 | WS_RSV2 | WS_RSV3, 1009, 1,
     {R(1, WS_RSV1 | WS_RSV2 | WS_RSV3, WS_OP_BINARY, 3)}, -1, 0, 0},
    /* RSV1 on a continuation: the deflate layer's rule, not ours */
    {"rsv1 claimed, on a continuation", 0, WS_RSV1, 1009, 2,
     {R(0, WS_RSV1, WS_OP_TEXT, 3), R(1, WS_RSV1, WS_OP_CONT, 3)}, -1, 0, 0},
    {"rsv after a good frame", 0, 0, 1009, 2,
     {M(1, WS_OP_TEXT, 3), R(1, WS_RSV2, WS_OP_TEXT, 3)}, 1, 1002, 1},
    /* masking (section 5.1) */
    {"unmasked text", 0, 0, 1009, 1, {U(1, WS_OP_TEXT, 3)}, 0, 1002, 1},
    {"unmasked empty ping", 0, 0, 1009, 1, {U(1, WS_OP_PING, 0)}, 0, 1002, 1},
    {"unmasked after a good frame", 0, 0, 1009, 2,
     {M(1, WS_OP_BINARY, 130), U(1, WS_OP_BINARY, 3)}, 1, 1002, 1},
    /* control frames (section 5.5) */
    {"ping fin=0", 0, 0, 1009, 1, {M(0, WS_OP_PING, 3)}, 0, 1002, 1},
    {"pong fin=0", 0, 0, 1009, 1, {M(0, WS_OP_PONG, 0)}, 0, 1002, 1},
    {"close fin=0", 0, 0, 1009, 1, {M(0, WS_OP_CLOSE, 2)}, 0, 1002, 1},
    {"ping 125", 0, 0, 1009, 1, {M(1, WS_OP_PING, 125)}, -1, 0, 0},
    {"ping 126", 0, 0, 1009, 1, {M(1, WS_OP_PING, 126)}, 0, 1002, 1},
    {"pong 65536", 0, 0, 1009, 1, {M(1, WS_OP_PONG, 65536)}, 0, 1002, 1},
    {"close 126", 0, 0, 1009, 1, {M(1, WS_OP_CLOSE, 126)}, 0, 1002, 1},
    {"ping 5 in the 16-bit form", 0, 0, 1009, 1,
     {L(1, WS_OP_PING, 16, 5)}, 0, 1002, 1},
    {"pong 3 in the 64-bit form", 0, 0, 1009, 1,
     {L(1, WS_OP_PONG, 64, 3)}, 0, 1002, 1},
    {"close 0", 0, 0, 1009, 1, {M(1, WS_OP_CLOSE, 0)}, -1, 0, 0},
    {"close 1", 0, 0, 1009, 1, {M(1, WS_OP_CLOSE, 1)}, 0, 1002, 1},
    {"close 2", 0, 0, 1009, 1, {M(1, WS_OP_CLOSE, 2)}, -1, 0, 0},
    {"close 125", 0, 0, 1009, 1, {M(1, WS_OP_CLOSE, 125)}, -1, 0, 0},
    {"ping 0", 0, 0, 1009, 1, {M(1, WS_OP_PING, 0)}, -1, 0, 0},
    /* a control frame over 125 is a protocol error before a limit */
    {"ping 126, limit 10", 10, 0, 1009, 1,
     {M(1, WS_OP_PING, 126)}, 0, 1002, 1},
    /* fragmentation (section 5.4) */
    {"text, continuation, ping, continuation", 0, 0, 1009, 4,
     {M(0, WS_OP_TEXT, 3), M(0, WS_OP_CONT, 2), M(1, WS_OP_PING, 1),
      M(1, WS_OP_CONT, 4)}, -1, 0, 0},
    {"binary in empty fragments", 0, 0, 1009, 3,
     {M(0, WS_OP_BINARY, 0), M(0, WS_OP_CONT, 0), M(1, WS_OP_CONT, 0)},
     -1, 0, 0},
    {"pong and close between fragments", 0, 0, 1009, 4,
     {M(0, WS_OP_BINARY, 1), M(1, WS_OP_PONG, 2), M(1, WS_OP_CONT, 1),
      M(1, WS_OP_CLOSE, 2)}, -1, 0, 0},
    {"continuation first", 0, 0, 1009, 1, {M(1, WS_OP_CONT, 3)}, 0, 1002, 1},
    {"continuation fin=0 first", 0, 0, 1009, 1,
     {M(0, WS_OP_CONT, 3)}, 0, 1002, 1},
    {"continuation after a whole message", 0, 0, 1009, 2,
     {M(1, WS_OP_TEXT, 3), M(1, WS_OP_CONT, 3)}, 1, 1002, 1},
    {"continuation after the final fragment", 0, 0, 1009, 3,
     {M(0, WS_OP_TEXT, 3), M(1, WS_OP_CONT, 3), M(1, WS_OP_CONT, 3)},
     2, 1002, 1},
    {"continuation after a ping only", 0, 0, 1009, 2,
     {M(1, WS_OP_PING, 3), M(1, WS_OP_CONT, 3)}, 1, 1002, 1},
    {"text while text is open", 0, 0, 1009, 2,
     {M(0, WS_OP_TEXT, 3), M(1, WS_OP_TEXT, 3)}, 1, 1002, 1},
    {"binary while text is open", 0, 0, 1009, 2,
     {M(0, WS_OP_TEXT, 3), M(0, WS_OP_BINARY, 3)}, 1, 1002, 1},
    {"text after ping while binary open", 0, 0, 1009, 3,
     {M(0, WS_OP_BINARY, 3), M(1, WS_OP_PING, 0), M(1, WS_OP_TEXT, 3)},
     2, 1002, 1},
    /* the 64-bit length's top bit (section 5.2) */
    {"64-bit length, top bit", 0, 0, 1009, 1,
     {L(1, WS_OP_BINARY, 64, TOP_BIT)}, 0, 1002, 0},
    {"64-bit length, top bit, after a fragment", 0, 0, 1009, 2,
     {M(0, WS_OP_BINARY, 3), L(1, WS_OP_CONT, 64, TOP_BIT + 3)},
     1, 1002, 0},
    /* the limit: a frame, the sum over fragments, control frames */
    {"limit 10, 10 bytes", 10, 0, 1009, 1,
     {M(1, WS_OP_BINARY, 10)}, -1, 0, 0},
    {"limit 10, 11 bytes", 10, 0, 1009, 1,
     {M(1, WS_OP_BINARY, 11)}, 0, 1009, 0},
    {"limit 10, 11 bytes, version 8", 10, 0, 1004, 1,
     {M(1, WS_OP_TEXT, 11)}, 0, 1004, 0},
    {"limit 125, 126 bytes in the 16-bit form", 125, 0, 1009, 1,
     {M(1, WS_OP_BINARY, 126)}, 0, 1009, 0},
    {"limit 1 MiB, 2^40 declared", 1 << 20, 0, 1009, 1,
     {M(1, WS_OP_BINARY, (apr_uint64_t)1 << 40)}, 0, 1009, 0},
    {"limit 10, fragments 6+4", 10, 0, 1009, 2,
     {M(0, WS_OP_TEXT, 6), M(1, WS_OP_CONT, 4)}, -1, 0, 0},
    {"limit 10, fragments 6+5", 10, 0, 1009, 2,
     {M(0, WS_OP_TEXT, 6), M(1, WS_OP_CONT, 5)}, 1, 1009, 0},
    {"limit 10, fragments 6+4+1", 10, 0, 1004, 3,
     {M(0, WS_OP_TEXT, 6), M(0, WS_OP_CONT, 4), M(1, WS_OP_CONT, 1)},
     2, 1004, 0},
    {"limit 10, fragments 6+4+0", 10, 0, 1009, 3,
     {M(0, WS_OP_TEXT, 6), M(0, WS_OP_CONT, 4), M(1, WS_OP_CONT, 0)},
     -1, 0, 0},
    {"limit 10, fragments 6+huge", 10, 0, 1009, 2,
     {M(0, WS_OP_TEXT, 6), L(1, WS_OP_CONT, 64, TOP_BIT - 1)}, 1, 1009, 0},
    {"limit 10, a ping between fragments is not counted", 10, 0, 1009, 3,
     {M(0, WS_OP_TEXT, 6), M(1, WS_OP_PING, 9), M(1, WS_OP_CONT, 4)},
     -1, 0, 0},
    {"limit 10, each message counted alone", 10, 0, 1009, 4,
     {M(0, WS_OP_TEXT, 6), M(1, WS_OP_CONT, 4), M(0, WS_OP_BINARY, 10),
      M(1, WS_OP_CONT, 0)}, -1, 0, 0},
    {"limit 10, ping 10", 10, 0, 1009, 1, {M(1, WS_OP_PING, 10)}, -1, 0, 0},
    {"limit 10, ping 11", 10, 0, 1004, 1,
     {M(1, WS_OP_PING, 11)}, 0, 1004, 0},
    {"limit 10, close 11", 10, 0, 1004, 1,
     {M(1, WS_OP_CLOSE, 11)}, 0, 1004, 0},
    {"limit 10, pong 125", 10, 0, 1009, 1,
     {M(1, WS_OP_PONG, 125)}, 0, 1009, 0},
    {"limit 10, pong 11 between fragments", 10, 0, 1004, 3,
     {M(0, WS_OP_TEXT, 1), M(1, WS_OP_PONG, 11), M(1, WS_OP_CONT, 1)},
     1, 1004, 0},
    {"no limit, 125-byte control frames", 0, 0, 1009, 3,
     {M(1, WS_OP_PING, 125), M(1, WS_OP_PONG, 125), M(1, WS_OP_CLOSE, 125)},
     -1, 0, 0},
    /* non-minimal data lengths are accepted (see ws_frame.c) */
    {"text 3 in the 64-bit form", 0, 0, 1009, 2,
     {L(0, WS_OP_TEXT, 64, 3), L(1, WS_OP_CONT, 16, 0)}, -1, 0, 0},
};

START_TEST(test_sequence)
{
    ws_frame_cfg_t c = ws_frame_cfg_default;
    stream_t *st;
    int bad = seq_rows[_i].bad;

    c.max = seq_rows[_i].max;
    c.rsv_allowed = seq_rows[_i].rsv_allowed;
    c.too_large = seq_rows[_i].too_large;
    rng = 4000 + (apr_uint32_t)_i;
    st = build(seq_rows[_i].f, seq_rows[_i].n, bad, seq_rows[_i].code, NULL);
    check_stream(&c, st, bad >= 0 ? &seq_rows[_i].f[bad] : NULL,
                 seq_rows[_i].early);
}
END_TEST

/* the reserved opcodes 3-7 and 0xB-0xF, as fin=1 and fin=0 frames, alone
 * and inside a fragmented message */
static const unsigned int reserved_opcodes[] = {3, 4, 5, 6, 7, 0xB, 0xC,
                                                0xD, 0xE, 0xF};

START_TEST(test_reserved_opcode)
{
    frm_t f[2] = {M(0, WS_OP_TEXT, 2), M(1, 0, 0)};
    unsigned int fin;
    stream_t *st;

    rng = 5000 + (apr_uint32_t)_i;
    for (fin = 0; fin <= 1; fin++) {
        f[1].fin = fin;
        f[1].opcode = reserved_opcodes[_i];
        st = build(&f[1], 1, 0, WS_CLOSE_PROTOCOL_ERROR, NULL);
        check_stream(&ws_frame_cfg_default, st, &f[1], 1);
        st = build(f, 2, 1, WS_CLOSE_PROTOCOL_ERROR, NULL);
        check_stream(&ws_frame_cfg_default, st, &f[1], 1);
    }
}
END_TEST

/* After an error every call returns the same error and consumes
 * nothing, whatever it is given. */
START_TEST(test_sticky_error)
{
    static const unsigned char bad[] = {0x83, 0x80, 1, 2, 3, 4};
    static const unsigned char good[] = {0x81, 0x81, 0, 0, 0, 0, 'a'};
    unsigned char out[16];
    ws_frame_parser_t p;
    ws_frame_event_t ev;
    apr_size_t used;
    const char *reason;
    int i;

    ws_frame_parser_init(&p, 0, 0, WS_CLOSE_TOO_LARGE);
    ck_assert_int_eq(ws_frame_parse(&p, bad, sizeof(bad), out, sizeof(out),
                                     &used, &ev), WS_FRAME_ERROR);
    ck_assert_int_eq(ev.close_code, WS_CLOSE_PROTOCOL_ERROR);
    ck_assert_uint_eq(used, 2);
    reason = ev.reason;
    ck_assert_ptr_nonnull(reason);
    for (i = 0; i < 3; i++) {
        used = 99;
        ck_assert_int_eq(ws_frame_parse(&p, good, i == 0 ? 0 : sizeof(good),
                                         out, i == 2 ? 0 : sizeof(out), &used,
                                         &ev), WS_FRAME_ERROR);
        ck_assert_int_eq(ev.type, WS_FRAME_ERROR);
        ck_assert_uint_eq(used, 0);
        ck_assert_int_eq(ev.close_code, WS_CLOSE_PROTOCOL_ERROR);
        ck_assert_str_eq(ev.reason, reason);
    }
    /* a limit error is sticky with its own code */
    ws_frame_parser_init(&p, 0, 0, WS_CLOSE_TOO_LARGE_OLD);
    p.max_message = 0; /* the limit may be set after init ... */
    p.max_message = 1; /* ... and between calls */
    ck_assert_int_eq(ws_frame_parse(&p, good, 1, out, sizeof(out), &used,
                                     &ev), WS_FRAME_NEED_MORE);
    ck_assert_int_eq(ws_frame_parse(&p, (const unsigned char *)"\x82", 1,
                                     out, sizeof(out), &used, &ev),
                     WS_FRAME_ERROR);
    ck_assert_int_eq(ev.close_code, WS_CLOSE_TOO_LARGE_OLD);
    ck_assert_int_eq(ws_frame_parse(&p, good, sizeof(good), out, sizeof(out),
                                     &used, &ev), WS_FRAME_ERROR);
    ck_assert_int_eq(ev.close_code, WS_CLOSE_TOO_LARGE_OLD);
    ck_assert_uint_eq(used, 0);
}
END_TEST

/* Without output space a payload cannot move: NEED_MORE, nothing consumed;
 * with one byte of room it moves a byte at a time.  Empty input is fine
 * in every state (and may come as a NULL pointer). */
START_TEST(test_output_space)
{
    static const unsigned char f[] = {0x82, 0x83, 1, 2, 3, 4, 'a', 'b', 'c'};
    unsigned char out[4];
    ws_frame_parser_t p;
    ws_frame_event_t ev;
    apr_size_t used;

    ws_frame_parser_init(&p, 0, 0, WS_CLOSE_TOO_LARGE);
    ck_assert_int_eq(ws_frame_parse(&p, NULL, 0, out, 4, &used, &ev),
                     WS_FRAME_NEED_MORE);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(ws_frame_parse(&p, f, sizeof(f), NULL, 0, &used, &ev),
                     WS_FRAME_HEADER);
    ck_assert_uint_eq(used, 6);
    ck_assert_int_eq(ws_frame_parse(&p, f + 6, 3, NULL, 0, &used, &ev),
                     WS_FRAME_NEED_MORE);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(ws_frame_parse(&p, NULL, 0, out, 4, &used, &ev),
                     WS_FRAME_NEED_MORE);
    ck_assert_int_eq(ws_frame_parse(&p, f + 6, 3, out, 1, &used, &ev),
                     WS_FRAME_PAYLOAD);
    ck_assert_uint_eq(used, 1);
    ck_assert_uint_eq(ev.len, 1);
    ck_assert_uint_eq(out[0], 'a' ^ 1);
    ck_assert_uint_eq(ev.header.length, 3);
    ck_assert_int_eq(ws_frame_parse(&p, f + 7, 2, out, 4, &used, &ev),
                     WS_FRAME_PAYLOAD);
    ck_assert_uint_eq(used, 2);
    ck_assert_uint_eq(out[0], 'b' ^ 2);
    ck_assert_uint_eq(out[1], 'c' ^ 3);
    /* END needs no input and no room, and carries the header */
    ck_assert_int_eq(ws_frame_parse(&p, NULL, 0, NULL, 0, &used, &ev),
                     WS_FRAME_END);
    ck_assert_uint_eq(ev.header.opcode, WS_OP_BINARY);
    ck_assert_uint_eq(ev.header.length, 3);
    ck_assert_int_eq(ws_frame_parse(&p, NULL, 0, NULL, 0, &used, &ev),
                     WS_FRAME_NEED_MORE);
}
END_TEST

/* Random valid streams (fragments, control frames between them, lengths
 * around the boundaries, random masks) in random chunks with random
 * output sizes, against what built them. */
START_TEST(test_random_streams)
{
    static const apr_uint64_t lens[] = {0, 1, 2, 3, 5, 8, 31, 124, 125,
                                        126, 127, 300, 1029, 65536};
    frm_t f[12];
    stream_t *st;
    trace_t *t;
    how_t how;
    ws_frame_cfg_t c = ws_frame_cfg_default;
    int n, i, open, r;

    rng = 6000;
    for (r = 0; r < 300; r++) {
        apr_pool_clear(pool);
        n = 1 + rnd() % 12;
        open = 0;
        for (i = 0; i < n; i++) {
            memset(&f[i], 0, sizeof(f[i]));
            f[i].masked = 1;
            f[i].rsv = rnd() % 4 == 0 ? WS_RSV1 : 0;
            if (rnd() % 3 == 0) {
                f[i].opcode = WS_OP_CLOSE + rnd() % 3;
                f[i].fin = 1;
                f[i].length = lens[rnd() % 9];
                if (f[i].opcode == WS_OP_CLOSE && f[i].length == 1) {
                    f[i].length = 2;
                }
            }
            else {
                f[i].opcode = open ? WS_OP_CONT
                                   : WS_OP_TEXT + rnd() % 2;
                f[i].fin = rnd() % 2 || i == n - 1;
                f[i].length = lens[rnd() % N_ROWS(lens)];
                open = !f[i].fin;
            }
        }
        c.rsv_allowed = WS_RSV1;
        st = build(f, n, -1, 0, NULL);
        t = trace_create(st->len);
        memset(&how, 0, sizeof(how));
        how.random = 1;
        how.outlen = 1 + rnd() % (st->len < 200 ? st->len + 1 : 200);
        run(t, &c, st->bytes, st->len, &how);
        assert_same(st->expect, t, "random stream", (apr_size_t)r);
        ck_assert_uint_eq(t->consumed, st->len);
    }
}
END_TEST

/* ---- the header writer -------------------------------------------------- */

/* A decoder written for the test: returns the header size, 0 on a header
 * that is not server-shaped (masked) or not minimal. */
static apr_size_t decode_server_header(const unsigned char *h,
                                       unsigned int *fin, unsigned int *rsv,
                                       unsigned int *opcode,
                                       apr_uint64_t *length)
{
    apr_size_t i, size;

    *fin = h[0] >> 7;
    *rsv = h[0] & 0x70;
    *opcode = h[0] & 0x0F;
    if (h[1] & 0x80) {
        return 0;
    }
    if ((h[1] & 0x7F) < 126) {
        *length = h[1] & 0x7F;
        return 2;
    }
    size = (h[1] & 0x7F) == 126 ? 4 : 10;
    *length = 0;
    for (i = 2; i < size; i++) {
        *length = *length * 256 + h[i];
    }
    if ((size == 4 && *length < 126) || (size == 10 && *length < 65536)) {
        return 0;
    }
    return size;
}

static const apr_uint64_t write_lengths[] = {
    0, 1, 125, 126, 127, 255, 256, 65535, 65536, 65537, 0xFFFFFFFFu,
    (apr_uint64_t)1 << 32, ((apr_uint64_t)1 << 40) + 3, TOP_BIT - 1,
};

START_TEST(test_header_write)
{
    static const unsigned int ops[] = {WS_OP_CONT, WS_OP_TEXT, WS_OP_BINARY,
                                       WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG};
    static const unsigned int rsvs[] = {0, WS_RSV1, WS_RSV2, WS_RSV3,
                                        WS_RSV1 | WS_RSV2 | WS_RSV3};
    apr_uint64_t len = write_lengths[_i], dlen;
    unsigned char h[WS_FRAME_HEADER_MAX + 1], out[4];
    unsigned int fin, o, r, dfin, drsv, dop;
    apr_size_t size, expect, used;
    ws_frame_parser_t p;
    ws_frame_event_t ev;

    expect = len <= 125 ? 2 : len <= 65535 ? 4 : 10;
    for (fin = 0; fin <= 1; fin++) {
        for (o = 0; o < (unsigned)N_ROWS(ops); o++) {
            for (r = 0; r < (unsigned)N_ROWS(rsvs); r++) {
                memset(h, 0xEE, sizeof(h));
                size = ws_frame_header_write(h, fin, rsvs[r], ops[o], len);
                ck_assert_uint_eq(size, expect);
                ck_assert_uint_eq(h[size], 0xEE);
                ck_assert_uint_eq(decode_server_header(h, &dfin, &drsv, &dop,
                                                       &dlen), size);
                ck_assert_uint_eq(dfin, fin);
                ck_assert_uint_eq(drsv, rsvs[r]);
                ck_assert_uint_eq(dop, ops[o]);
                ck_assert_uint_eq(dlen, len);
                if (ops[o] >= WS_OP_CLOSE || ops[o] == WS_OP_CONT) {
                    continue;
                }
                /* a client-side parser reads it back */
                ws_frame_parser_init(&p, 0, WS_RSV1 | WS_RSV2 | WS_RSV3,
                                     WS_CLOSE_TOO_LARGE);
                p.require_mask = 0;
                ck_assert_int_eq(ws_frame_parse(&p, h, size, out, 4, &used,
                                                &ev), WS_FRAME_HEADER);
                ck_assert_uint_eq(used, size);
                ck_assert_uint_eq(ev.header.fin, fin);
                ck_assert_uint_eq(ev.header.rsv, rsvs[r]);
                ck_assert_uint_eq(ev.header.opcode, ops[o]);
                ck_assert_uint_eq(ev.header.masked, 0);
                ck_assert_uint_eq(ev.header.length, len);
                /* and a server refuses it: it is not masked */
                ws_frame_parser_init(&p, 0, WS_RSV1 | WS_RSV2 | WS_RSV3,
                                     WS_CLOSE_TOO_LARGE);
                ck_assert_int_eq(ws_frame_parse(&p, h, size, out, 4, &used,
                                                &ev), WS_FRAME_ERROR);
                ck_assert_int_eq(ev.close_code, WS_CLOSE_PROTOCOL_ERROR);
            }
        }
    }
}
END_TEST

/* Unmasked frames (a client-side parser, require_mask 0) carry their
 * payload through as is. */
START_TEST(test_unmasked_stream)
{
    frm_t f[3] = {U(0, WS_OP_TEXT, 130), U(1, WS_OP_PING, 4),
                  U(1, WS_OP_CONT, 7)};
    ws_frame_cfg_t c = ws_frame_cfg_default;
    stream_t *st;

    c.require_mask = 0;
    rng = 7000;
    st = build(f, 3, -1, 0, NULL);
    check_stream(&c, st, NULL, 0);
}
END_TEST

/* ---- close codes -------------------------------------------------------- */

/* RFC 6455 section 7.4 and the IANA registry, spelled out as lists */
static int code_expected(unsigned int code, int allow_reserved)
{
    static const unsigned int defined[] = {1000, 1001, 1002, 1003, 1007,
                                           1008, 1009, 1010, 1011, 1012,
                                           1013};
    static const unsigned int reserved[] = {1004, 1014};
    int i;

    for (i = 0; i < N_ROWS(defined); i++) {
        if (code == defined[i]) {
            return 1;
        }
    }
    for (i = 0; i < N_ROWS(reserved); i++) {
        if (code == reserved[i]) {
            return allow_reserved;
        }
    }
    if (code >= 1016 && code <= 2999) {
        return allow_reserved;
    }
    return code >= 3000 && code <= 4999;
}

START_TEST(test_close_code_table)
{
    unsigned int code;
    int allow;

    for (allow = 0; allow <= 1; allow++) {
        for (code = 0; code <= 5100; code++) {
            REQUIRE_MSG(ws_frame_close_code_valid(code, allow)
                              == code_expected(code, allow),
                          "code %u allow_reserved %d", code, allow);
        }
        for (code = 5100; code < 70000; code += 7) {
            REQUIRE(!ws_frame_close_code_valid(code, allow));
        }
        REQUIRE(!ws_frame_close_code_valid(~0u, allow));
    }
}
END_TEST

static const struct {
    unsigned int code;
    int plain, reserved_on;
} close_rows[] = {
    {0, 0, 0},       {999, 0, 0},     {1000, 1, 1},    {1001, 1, 1},
    {1002, 1, 1},    {1003, 1, 1},    {1004, 0, 1},    {1005, 0, 0},
    {1006, 0, 0},    {1007, 1, 1},    {1011, 1, 1},    {1012, 1, 1},
    {1013, 1, 1},    {1014, 0, 1},    {1015, 0, 0},    {1016, 0, 1},
    {2000, 0, 1},    {2999, 0, 1},    {3000, 1, 1},    {3999, 1, 1},
    {4000, 1, 1},    {4999, 1, 1},    {5000, 0, 0},    {65535, 0, 0},
    {65536 + 1000, 0, 0},
};

START_TEST(test_close_code_rows)
{
    ck_assert_int_eq(ws_frame_close_code_valid(close_rows[_i].code, 0),
                     close_rows[_i].plain);
    ck_assert_int_eq(ws_frame_close_code_valid(close_rows[_i].code, 1),
                     close_rows[_i].reserved_on);
    /* any non-zero allow_reserved counts */
    ck_assert_int_eq(ws_frame_close_code_valid(close_rows[_i].code, 42),
                     close_rows[_i].reserved_on);
}
END_TEST

/* ---- the runner --------------------------------------------------------- */

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    /* checked: runs in the forked child of every test */
    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}

static Suite *frame_suite(void)
{
    Suite *s = suite_create("ws_frame");
    TCase *tc;

    tc = tcase("length");
    tcase_add_loop_test(tc, test_length_boundary, 0,
                        N_ROWS(boundary_lengths));
    tcase_add_test(tc, test_rfc_example);
    tcase_add_loop_test(tc, test_declared_length, 0, N_ROWS(declared_rows));
    suite_add_tcase(s, tc);

    tc = tcase("unmask");
    tcase_add_test(tc, test_unmask);
    tcase_add_test(tc, test_unmask_pieces);
    suite_add_tcase(s, tc);

    tc = tcase("rules");
    tcase_add_loop_test(tc, test_sequence, 0, N_ROWS(seq_rows));
    tcase_add_loop_test(tc, test_reserved_opcode, 0,
                        N_ROWS(reserved_opcodes));
    tcase_add_test(tc, test_sticky_error);
    tcase_add_test(tc, test_output_space);
    tcase_add_test(tc, test_random_streams);
    tcase_add_test(tc, test_unmasked_stream);
    suite_add_tcase(s, tc);

    tc = tcase("write");
    tcase_add_loop_test(tc, test_header_write, 0, N_ROWS(write_lengths));
    suite_add_tcase(s, tc);

    tc = tcase("close_code");
    tcase_add_test(tc, test_close_code_table);
    tcase_add_loop_test(tc, test_close_code_rows, 0, N_ROWS(close_rows));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ws_test_run(frame_suite());
}
