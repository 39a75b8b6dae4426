/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * fuzz_handshake.c -- libFuzzer target for the handshake header parsers
 * (proto/ws_hs.c): key, version, token lists, subprotocol lists, origins.
 * Each parser gets the input as a header value and its answer is checked
 * against a plain restatement of the rule; any disagreement aborts.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ws_hs.h"

static apr_pool_t *pool;

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~",
                                                          c) != NULL);
}

static int is_b64(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* 24 chars: 22 of the alphabet, the last of them one of AQgw, then == */
static int ref_key_valid(const char *k)
{
    size_t i;

    if (strlen(k) != 24 || k[22] != '=' || k[23] != '=') {
        return 0;
    }
    for (i = 0; i < 22; i++) {
        if (!is_b64((unsigned char)k[i])) {
            return 0;
        }
    }
    return strchr("AQgw", k[21]) != NULL;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* elements between commas, trimmed of SP/HTAB, compared without case */
static int ref_has_token(const char *list, const char *tok)
{
    const char *p = list;
    size_t n = strlen(tok);

    for (;;) {
        const char *e = strchr(p, ',');
        const char *end = e ? e : p + strlen(p);
        size_t i;

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((size_t)(end - p) == n) {
            for (i = 0; i < n && lower(p[i]) == lower(tok[i]); i++) {
            }
            if (i == n) {
                return 1;
            }
        }
        if (e == NULL) {
            return 0;
        }
        p = e + 1;
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *s;
    apr_array_header_t *protos = NULL;
    apr_status_t rv;
    int v, i;
    const char *o;

    if (pool == NULL) {
        apr_initialize();
        apr_pool_create(&pool, NULL);
    }
    /* a header value: no NUL inside */
    s = apr_pstrmemdup(pool, (const char *)data, size);
    if (strlen(s) != size) {
        apr_pool_clear(pool);
        return 0;
    }

    if (ws_hs_key_valid(s) != ref_key_valid(s)) {
        abort();
    }
    if (ws_hs_key_valid(s) && strlen(ws_hs_accept(pool, s)) != 28) {
        abort();
    }

    v = ws_hs_version(s);
    if (v != (!strcmp(s, "13") ? 13 : !strcmp(s, "8") ? 8
              : !strcmp(s, "7") ? 7 : -1)) {
        abort();
    }

    if (ws_hs_has_token(s, "upgrade") != ref_has_token(s, "upgrade")
        || ws_hs_has_token(s, "websocket") != ref_has_token(s, "websocket")) {
        abort();
    }

    rv = ws_hs_parse_protocols(pool, s, &protos);
    if (rv == APR_SUCCESS) {
        if (protos == NULL || protos->nelts < 1) {
            abort();
        }
        for (i = 0; i < protos->nelts; i++) {
            const char *t = APR_ARRAY_IDX(protos, i, const char *);
            const char *q;

            if (*t == '\0' || strstr(s, t) == NULL) {
                abort();
            }
            for (q = t; *q; q++) {
                if (!is_tchar((unsigned char)*q)) {
                    abort();
                }
            }
        }
    }

    /* the origin of a request: built from any host, never longer than
     * scheme + host + brackets + port, never with an upper-case letter
     * in the host part */
    o = ws_hs_origin(pool, size & 1 ? "https" : "http", s,
                     (apr_port_t)(size * 97));
    if (o == NULL || strlen(o) > strlen(s) + 8 + 2 + 6) {
        abort();
    }
    for (i = 0; o[i]; i++) {
        if (o[i] >= 'A' && o[i] <= 'Z') {
            abort();
        }
    }

    apr_pool_clear(pool);
    return 0;
}
