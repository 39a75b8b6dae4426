/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_deflate.c -- Check unit tests of proto/ws_deflate.c: the
 * permessage-deflate offer negotiation (RFC 7692 section 5, 7.1), one
 * table row per case, and deflater/inflater round trips at every window
 * 9-15 with and without context takeover, input split into small pieces
 * and output room rationed, plus bombs, corrupt data and empty messages.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ws_test.h"
#include "ws_deflate.h"

/* ---- negotiation ------------------------------------------------------ */

#define ACC WS_DEFLATE_ACCEPTED
#define NONE WS_DEFLATE_NONE
#define BAD WS_DEFLATE_MALFORMED
#define PMD "permessage-deflate"

static const struct {
    const char *header;
    int window, memlevel, no_ctx;  /* server settings */
    ws_deflate_result_e result;
    const char *response;          /* ACC: the exact answer */
    int swin, cwin, snct, cnct;    /* ACC: the agreed parameters */
} nego_rows[] = {
    /* plain offers, default settings (12) and the largest window */
    {PMD, 12, 5, 0, ACC, PMD "; server_max_window_bits=12", 12, 15, 0, 0},
    {PMD, 15, 8, 0, ACC, PMD, 15, 15, 0, 0},
    /* Chromium's default offer: the valueless client_max_window_bits */
    {PMD "; client_max_window_bits", 12, 5, 0, ACC,
     PMD "; server_max_window_bits=12; client_max_window_bits=12",
     12, 12, 0, 0},
    {PMD "; client_max_window_bits", 15, 5, 0, ACC,
     PMD "; client_max_window_bits=15", 15, 15, 0, 0},
    {PMD "; client_max_window_bits=10", 12, 5, 0, ACC,
     PMD "; server_max_window_bits=12; client_max_window_bits=10",
     12, 10, 0, 0},
    {PMD "; client_max_window_bits=8", 12, 5, 0, ACC,
     PMD "; server_max_window_bits=12; client_max_window_bits=8",
     12, 8, 0, 0},
    /* server_max_window_bits: answered, never above the offer */
    {PMD "; server_max_window_bits=10", 12, 5, 0, ACC,
     PMD "; server_max_window_bits=10", 10, 15, 0, 0},
    {PMD "; server_max_window_bits=15", 12, 5, 0, ACC,
     PMD "; server_max_window_bits=12", 12, 15, 0, 0},
    {PMD "; server_max_window_bits=15", 15, 5, 0, ACC,
     PMD "; server_max_window_bits=15", 15, 15, 0, 0},
    {PMD "; server_max_window_bits=9", 12, 5, 0, ACC,
     PMD "; server_max_window_bits=9", 9, 15, 0, 0},
    {PMD "; server_max_window_bits=\"11\"", 12, 5, 0, ACC,
     PMD "; server_max_window_bits=11", 11, 15, 0, 0},
    /* 8: zlib cannot, the offer is declined */
    {PMD "; server_max_window_bits=8", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    /* ... and the next offer tried */
    {PMD "; server_max_window_bits=8, " PMD, 12, 5, 0, ACC,
     PMD "; server_max_window_bits=12", 12, 15, 0, 0},
    /* context takeover */
    {PMD "; server_no_context_takeover", 12, 5, 0, ACC,
     PMD "; server_no_context_takeover; server_max_window_bits=12",
     12, 15, 1, 0},
    {PMD "; client_no_context_takeover", 12, 5, 0, ACC,
     PMD "; client_no_context_takeover; server_max_window_bits=12",
     12, 15, 0, 1},
    {PMD, 12, 5, 1, ACC,
     PMD "; server_no_context_takeover; server_max_window_bits=12",
     12, 15, 1, 0},
    {PMD ";server_no_context_takeover;client_no_context_takeover;"
     "server_max_window_bits=9;client_max_window_bits=9", 15, 5, 0, ACC,
     PMD "; server_no_context_takeover; client_no_context_takeover; "
     "server_max_window_bits=9; client_max_window_bits=9", 9, 9, 1, 1},
    /* section 5.1: declined offers */
    {PMD "; server_max_window_bits", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; server_max_window_bits=7", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; server_max_window_bits=16", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; server_max_window_bits=010", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; server_max_window_bits=1O", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; server_max_window_bits=123456789", 12, 5, 0, NONE, NULL,
     0, 0, 0, 0},
    {PMD "; client_max_window_bits=7", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; client_max_window_bits=16", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; client_max_window_bits=abc", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; server_no_context_takeover=1", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; client_no_context_takeover=x", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; server_no_context_takeover; server_no_context_takeover", 12, 5,
     0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; client_max_window_bits; client_max_window_bits=10", 12, 5, 0,
     NONE, NULL, 0, 0, 0, 0},
    {PMD "; server_max_window_bits=10; server_max_window_bits=10", 12, 5, 0,
     NONE, NULL, 0, 0, 0, 0},
    {PMD "; foo", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {PMD "; foo=bar", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    /* several offers: the first acceptable one wins */
    {PMD "; foo, " PMD "; client_max_window_bits=11", 12, 5, 0, ACC,
     PMD "; server_max_window_bits=12; client_max_window_bits=11",
     12, 11, 0, 0},
    {PMD "; server_max_window_bits=10, " PMD, 12, 5, 0, ACC,
     PMD "; server_max_window_bits=10", 10, 15, 0, 0},
    /* other extensions are skipped; names are case-sensitive */
    {"x-webkit-deflate-frame", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    {"foo; bar=\"baz\", " PMD, 12, 5, 0, ACC,
     PMD "; server_max_window_bits=12", 12, 15, 0, 0},
    {"Permessage-Deflate", 12, 5, 0, NONE, NULL, 0, 0, 0, 0},
    /* whitespace and empty list elements */
    {" ,\t" PMD " \t; \tclient_max_window_bits \t= \t9 ,, ", 12, 5, 0, ACC,
     PMD "; server_max_window_bits=12; client_max_window_bits=9",
     12, 9, 0, 0},
    /* RFC 6455 section 9.1 grammar violations: the handshake fails */
    {"", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {" , ", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {PMD ";", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {PMD "; ", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {PMD "; =1", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {PMD "; client_max_window_bits=", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {PMD "; client_max_window_bits=\"\"", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {PMD "; client_max_window_bits=\"1 0\"", 12, 5, 0, BAD, NULL,
     0, 0, 0, 0},
    {PMD "; client_max_window_bits=\"10", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {PMD " foo", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {PMD "; a b", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {PMD "; a=b c", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {"; " PMD, 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {PMD "/1", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    {PMD "; a=\"b\\\"\"", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
    /* a valid escape inside quotes */
    {PMD "; client_max_window_bits=\"1\\0\"", 12, 5, 0, ACC,
     PMD "; server_max_window_bits=12; client_max_window_bits=10",
     12, 10, 0, 0},
    /* an acceptable offer does not excuse a malformed rest */
    {PMD ", foo;", 12, 5, 0, BAD, NULL, 0, 0, 0, 0},
};

START_TEST(test_negotiate)
{
    ws_deflate_config_t conf;
    ws_deflate_params_t params;
    const char *response = NULL, *why = NULL;
    ws_deflate_result_e r;

    conf.window_bits = nego_rows[_i].window;
    conf.mem_level = nego_rows[_i].memlevel;
    conf.no_context_takeover = nego_rows[_i].no_ctx;
    memset(&params, 0, sizeof(params));
    r = ws_deflate_negotiate(pool, nego_rows[_i].header, &conf, &params,
                             &response, &why);
    ck_assert_msg(r == nego_rows[_i].result, "row %d [%s]: result %d, "
                  "expected %d (%s)", _i, nego_rows[_i].header, r,
                  nego_rows[_i].result, why ? why : "");
    if (r == WS_DEFLATE_MALFORMED) {
        ck_assert_ptr_nonnull(why);
    }
    if (r != ACC) {
        return;
    }
    ck_assert_str_eq(response, nego_rows[_i].response);
    ck_assert_int_eq(params.server_window_bits, nego_rows[_i].swin);
    ck_assert_int_eq(params.client_window_bits, nego_rows[_i].cwin);
    ck_assert_int_eq(params.server_no_context_takeover, nego_rows[_i].snct);
    ck_assert_int_eq(params.client_no_context_takeover, nego_rows[_i].cnct);
}
END_TEST

START_TEST(test_negotiate_null)
{
    ws_deflate_config_t conf = {12, 5, 0};
    ws_deflate_params_t params;
    const char *response = NULL;

    ck_assert_int_eq(ws_deflate_negotiate(pool, NULL, &conf, &params,
                                          &response, NULL), NONE);
}
END_TEST

/* ---- round trips ------------------------------------------------------ */

typedef struct {
    unsigned char *buf;
    apr_size_t len, cap;
} sink_t;

static apr_status_t to_sink(void *baton, const unsigned char *d,
                            apr_size_t n)
{
    sink_t *s = baton;

    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->buf = realloc(s->buf, s->cap);
        ck_assert_ptr_nonnull(s->buf);
    }
    if (n > 0) { /* an empty piece may come as NULL */
        memcpy(s->buf + s->len, d, n);
    }
    s->len += n;
    return APR_SUCCESS;
}

/* A corpus of messages: empty (twice: a flush after a flush), text,
 * repetitive, random (incompressible), and a long one crossing every
 * window size. */
static unsigned char *make_corpus(int k, apr_size_t *len)
{
    static const apr_size_t sizes[] = {0, 0, 1, 13, 300, 5000, 70000, 1,
                                       0, 40000};
    apr_size_t n = sizes[k], i;
    unsigned char *m = malloc(n + 1);
    unsigned int seed = 12345u + (unsigned int)k;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        switch (k % 3) {
        case 0: m[i] = (unsigned char)(seed >> 16); break; /* random */
        case 1: m[i] = "The quick brown fox "[i % 20]; break;
        default: m[i] = (unsigned char)((i / 7) ^ (seed >> 29)); break;
        }
    }
    *len = n;
    return m;
}
#define N_CORPUS 10

/* Inflates a compressed message with input in pieces of @p piece bytes
 * and output room of @p room bytes per call. */
static void inflate_all(ws_inflater_t *inf, const sink_t *c, apr_size_t piece,
                        apr_size_t room, sink_t *out)
{
    const unsigned char *in = c->buf;
    apr_size_t left = c->len;
    unsigned char *buf = malloc(room);
    int guard = 0;

    out->len = 0;
    for (;;) {
        apr_size_t n = left < piece ? left : piece, rest = n, outlen = room;
        const unsigned char *p = in;
        ws_zresult_e r;

        r = ws_inflate(inf, &p, &rest, buf, &outlen, n == left);
        ck_assert_int_ne(r, WS_ZCORRUPT);
        ck_assert_int_ne(r, WS_ZNOMEM);
        ck_assert_uint_le(outlen, room);
        to_sink(out, buf, outlen);
        in += n - rest;
        left -= n - rest;
        if (r == WS_ZDONE) {
            break;
        }
        ck_assert_int_lt(++guard, 10000000);
    }
    ck_assert_uint_eq(left, 0);
    free(buf);
}

/* _i: window 9..15 (7 values) x context takeover (2) x memLevel (2) */
START_TEST(test_round_trip)
{
    int window = 9 + _i % 7;
    int no_ctx = (_i / 7) % 2;
    int memlevel = _i / 14 ? 9 : 1;
    ws_deflater_t def;
    ws_inflater_t inf;
    sink_t c = {NULL, 0, 0}, out = {NULL, 0, 0};
    int k;

    ws_deflater_init(&def, window, memlevel, no_ctx);
    ws_inflater_init(&inf, window, no_ctx);
    for (k = 0; k < N_CORPUS; k++) {
        apr_size_t len, off = 0;
        unsigned char *m = make_corpus(k, &len);

        /* the message in uneven pieces, then the end */
        c.len = 0;
        while (off < len) {
            apr_size_t n = len - off < 777 + (apr_size_t)k
                               ? len - off : 777 + (apr_size_t)k;
            ck_assert_int_eq(ws_deflate(&def, m + off, n, 0, to_sink, &c),
                             APR_SUCCESS);
            off += n;
        }
        ck_assert_int_eq(ws_deflate(&def, NULL, 0, 1, to_sink, &c),
                         APR_SUCCESS);
        /* RFC 7692 7.2.3.6: never an empty payload */
        ck_assert_uint_gt(c.len, 0);
        ck_assert_int_eq(def.ready, !no_ctx);
        inflate_all(&inf, &c, 1 + (apr_size_t)k * 97, 1 + (apr_size_t)k * 311,
                    &out);
        ck_assert_uint_eq(out.len, len);
        ck_assert(len == 0 || memcmp(out.buf, m, len) == 0);
        /* without context takeover nothing stays allocated */
        ck_assert_int_eq(inf.ready, !no_ctx);
        free(m);
    }
    ws_deflater_release(&def);
    ws_inflater_release(&inf);
    free(c.buf);
    free(out.buf);
}
END_TEST

/* What zlib (as any other client) produces is inflated: raw streams with
 * the trailer removed, one sync flush per message, context kept. */
START_TEST(test_inflate_zlib_stream)
{
    z_stream zs;
    ws_inflater_t inf;
    sink_t out = {NULL, 0, 0};
    unsigned char cbuf[4096];
    static const char *msgs[] = {"Hello", "Hello", "x", "Hello Hello"};
    int k;

    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, -_i, 8,
                                  Z_DEFAULT_STRATEGY), Z_OK);
    ws_inflater_init(&inf, _i, 0);
    for (k = 0; k < 4; k++) {
        sink_t c;

        zs.next_in = (unsigned char *)msgs[k];
        zs.avail_in = (uInt)strlen(msgs[k]);
        zs.next_out = cbuf;
        zs.avail_out = sizeof(cbuf);
        ck_assert_int_eq(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
        c.buf = cbuf;
        c.len = sizeof(cbuf) - zs.avail_out - 4;
        ck_assert_int_eq(memcmp(cbuf + c.len, "\0\0\xff\xff", 4), 0);
        inflate_all(&inf, &c, 3, 2, &out);
        ck_assert_uint_eq(out.len, strlen(msgs[k]));
        ck_assert(memcmp(out.buf, msgs[k], out.len) == 0);
    }
    deflateEnd(&zs);
    ws_inflater_release(&inf);
    free(out.buf);
}
END_TEST

/* A message ending in a final block (BFINAL, Z_FINISH): allowed; the
 * next message starts a new stream. */
START_TEST(test_inflate_bfinal)
{
    ws_inflater_t inf;
    sink_t out = {NULL, 0, 0};
    unsigned char cbuf[256];
    z_stream zs;
    sink_t c;
    int k;

    ws_inflater_init(&inf, 15, 0);
    for (k = 0; k < 2; k++) {
        memset(&zs, 0, sizeof(zs));
        ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8,
                                      Z_DEFAULT_STRATEGY), Z_OK);
        if (k == 1) {
            /* a new stream that refers to the last one's window */
            ck_assert_int_eq(deflateSetDictionary(&zs, (const Bytef *)
                                                  "final block", 11), Z_OK);
        }
        zs.next_in = (unsigned char *)"final block";
        zs.avail_in = 11;
        zs.next_out = cbuf;
        zs.avail_out = sizeof(cbuf);
        ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
        c.buf = cbuf;
        c.len = sizeof(cbuf) - zs.avail_out;
        deflateEnd(&zs);
        inflate_all(&inf, &c, 64, 64, &out);
        ck_assert_uint_eq(out.len, 11);
        ck_assert(memcmp(out.buf, "final block", 11) == 0);
    }
    ws_inflater_release(&inf);
    free(out.buf);
}
END_TEST

/* A bomb: 16 MiB of zeros in about 16 KiB.  The inflater writes only the
 * room it is given and keeps the rest of the input unconsumed. */
START_TEST(test_inflate_bomb)
{
    apr_size_t n = 16u << 20, room = 1000;
    unsigned char *zeros = calloc(1, n), out[1000];
    ws_deflater_t def;
    ws_inflater_t inf;
    sink_t c = {NULL, 0, 0};
    const unsigned char *p;
    apr_size_t rest, outlen = room;

    ws_deflater_init(&def, 15, 9, 1);
    ck_assert_int_eq(ws_deflate(&def, zeros, n, 1, to_sink, &c), APR_SUCCESS);
    ck_assert_uint_lt(c.len, 20000);
    ws_inflater_init(&inf, 15, 1);
    p = c.buf;
    rest = c.len;
    ck_assert_int_eq(ws_inflate(&inf, &p, &rest, out, &outlen, 1), WS_ZOK);
    ck_assert_uint_eq(outlen, room);
    ck_assert_uint_gt(rest, 0);
    ws_inflater_release(&inf);
    free(zeros);
    free(c.buf);
}
END_TEST

static const struct {
    const char *hex;
} corrupt_rows[] = {
    {"ff"},           /* BTYPE 11: reserved */
    {"07"},           /* BFINAL, BTYPE 11 */
    {"000100ffff"},   /* stored, LEN/NLEN mismatch */
    {"00050000ff"},   /* stored, LEN/NLEN mismatch */
    {"fcffffffff"},   /* dynamic block with impossible code lengths */
};

static apr_size_t unhex(const char *h, unsigned char *out)
{
    apr_size_t n = 0;

    for (; h[0] && h[1]; h += 2) {
        char b[3] = {h[0], h[1], 0};
        out[n++] = (unsigned char)strtoul(b, NULL, 16);
    }
    return n;
}

START_TEST(test_inflate_corrupt)
{
    unsigned char in[64], out[64];
    const unsigned char *p = in;
    apr_size_t n = unhex(corrupt_rows[_i].hex, in), outlen = sizeof(out);
    ws_inflater_t inf;

    ws_inflater_init(&inf, 15, 0);
    ck_assert_int_eq(ws_inflate(&inf, &p, &n, out, &outlen, 1), WS_ZCORRUPT);
    ws_inflater_release(&inf);
}
END_TEST

/* An empty message after another: zlib writes nothing for the second
 * flush, yet the payload must be the single byte 00 (7.2.3.6). */
START_TEST(test_deflate_empty)
{
    ws_deflater_t def;
    sink_t c = {NULL, 0, 0};
    int k;

    ws_deflater_init(&def, 12, 5, 0);
    for (k = 0; k < 3; k++) {
        c.len = 0;
        ck_assert_int_eq(ws_deflate(&def, NULL, 0, 1, to_sink, &c),
                         APR_SUCCESS);
        ck_assert_uint_eq(c.len, 1);
        ck_assert_uint_eq(c.buf[0], 0);
    }
    ws_deflater_release(&def);
    free(c.buf);
}
END_TEST

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

static Suite *deflate_suite(void)
{
    Suite *s = suite_create("ws_deflate");
    TCase *tc;

    tc = tcase("negotiate");
    tcase_add_loop_test(tc, test_negotiate, 0, N_ROWS(nego_rows));
    tcase_add_test(tc, test_negotiate_null);
    suite_add_tcase(s, tc);

    tc = tcase("round trip");
    tcase_add_loop_test(tc, test_round_trip, 0, 28);
    tcase_add_loop_test(tc, test_inflate_zlib_stream, 9, 16);
    tcase_add_test(tc, test_inflate_bfinal);
    tcase_add_test(tc, test_deflate_empty);
    suite_add_tcase(s, tc);

    tc = tcase("limits");
    tcase_add_test(tc, test_inflate_bomb);
    tcase_add_loop_test(tc, test_inflate_corrupt, 0, N_ROWS(corrupt_rows));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ws_test_run(deflate_suite());
}
