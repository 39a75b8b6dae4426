/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * fuzz_deflate.c -- libFuzzer target of proto/ws_deflate.c.  Byte 0
 * chooses: even, the input (NUL-terminated) is a Sec-WebSocket-Extensions
 * value for the negotiator, whose answer must name only what it may;
 * odd, the rest is a compressed message for the inflater (window and
 * output room from byte 0), which must never write past the room it is
 * given, and whose output, deflated again, must inflate to itself.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "ws_deflate.h"

#define CHECK(c) \
    do { \
        if (!(c)) { \
            abort(); \
        } \
    } while (0)

#define OUT_MAX (1 << 20)

static apr_pool_t *pool;

/* data[0] picks the server settings, the rest is the header */
static void negotiate(const unsigned char *data, size_t size)
{
    char *h = malloc(size);
    ws_deflate_config_t conf = {9 + data[0] % 7, 1 + data[0] % 9,
                                (data[0] >> 4) & 1};
    ws_deflate_params_t params;
    const char *response = NULL, *why = NULL;
    ws_deflate_result_e r;

    memcpy(h, data + 1, size - 1);
    h[size - 1] = '\0';
    r = ws_deflate_negotiate(pool, h, &conf, &params, &response, &why);
    if (r == WS_DEFLATE_ACCEPTED) {
        CHECK(response != NULL && strncmp(response, "permessage-deflate",
                                          18) == 0);
        CHECK(params.server_window_bits >= 9
              && params.server_window_bits <= conf.window_bits);
        CHECK(params.client_window_bits >= 8
              && params.client_window_bits <= 15);
        CHECK(!conf.no_context_takeover
              || params.server_no_context_takeover);
        /* the answer is itself a valid single offer's syntax */
        CHECK(ws_deflate_negotiate(pool, response, &conf, &params,
                                   &response, &why)
              != WS_DEFLATE_MALFORMED);
    }
    else if (r == WS_DEFLATE_MALFORMED) {
        CHECK(why != NULL);
    }
    free(h);
    apr_pool_clear(pool);
}

static apr_status_t collect(void *baton, const unsigned char *d, size_t n)
{
    unsigned char **pp = baton;

    memcpy(*pp, d, n);
    *pp += n;
    return APR_SUCCESS;
}

static void inflate_msg(const unsigned char *data, size_t size)
{
    int window = 9 + data[0] % 7;
    size_t room = 1 + (size_t)data[0] * 37;
    unsigned char *out = malloc(OUT_MAX + 1), *again, *p;
    const unsigned char *in = data + 1;
    size_t left = size - 1, total = 0, clen;
    ws_inflater_t inf;
    ws_deflater_t def;
    ws_zresult_e r = WS_ZOK;

    ws_inflater_init(&inf, window, 0);
    while (total < OUT_MAX) {
        size_t outlen = room < OUT_MAX - total ? room : OUT_MAX - total;
        size_t before = outlen;

        out[total + outlen] = 0xA5; /* a canary just past the room */
        r = ws_inflate(&inf, &in, &left, out + total, &outlen, 1);
        CHECK(outlen <= before);
        CHECK(out[total + before] == 0xA5);
        total += outlen;
        if (r != WS_ZOK) {
            break;
        }
    }
    ws_inflater_release(&inf);
    if (r == WS_ZDONE) {
        /* a round trip of what came out */
        again = malloc(total + total / 8 + 64);
        p = again;
        ws_deflater_init(&def, window, 1 + data[0] % 9, 1);
        CHECK(ws_deflate(&def, out, total, 1, collect, &p) == APR_SUCCESS);
        clen = (size_t)(p - again);
        ws_inflater_init(&inf, window, 1);
        in = again;
        left = clen;
        {
            unsigned char *out2 = malloc(total + 1);
            size_t outlen = total + 1;
            CHECK(ws_inflate(&inf, &in, &left, out2, &outlen, 1)
                  == WS_ZDONE);
            CHECK(outlen == total && memcmp(out2, out, total) == 0);
            free(out2);
        }
        ws_inflater_release(&inf);
        free(again);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (pool == NULL) {
        apr_initialize();
        apr_pool_create(&pool, NULL);
    }
    if (size < 1) {
        return 0;
    }
    if (data[0] % 2 == 0) {
        negotiate(data, size);
    }
    else {
        inflate_msg(data, size);
    }
    return 0;
}
