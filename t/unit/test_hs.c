/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_hs.c -- Check unit tests of proto/ws_hs.c, the pure handshake rules
 * (RFC 6455 section 4.2): one table per function, one loop test per row.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ws_test.h"
#include "ws_hs.h"

/* printf-safe display of a table string that may be NULL */
static const char *show(const char *s)
{
    return s ? s : "(null)";
}

/* ---- ws_hs_key_valid ------------------------------------------------ */

static const struct {
    const char *key;
    int valid;
} key_rows[] = {
    /* the base64 of exactly 16 bytes */
    {"dGhlIHNhbXBsZSBub25jZQ==", 1}, /* RFC 6455 section 1.3 */
    {"AQIDBAUGBwgJCgsMDQ4PEA==", 1}, /* bytes 1..16 */
    {"x3JJHMbDL1EzLkh9GBhXDw==", 1},
    {"AAAAAAAAAAAAAAAAAAAAAA==", 1}, /* 16 zero bytes: last data 'A' */
    {"/////////////////////w==", 1}, /* 16 0xff bytes: '/', last 'w' */
    {"+++++++++++++++++++++g==", 1}, /* '+', last 'g' */
    {"dGhlIHNhbXBsZSBub25jZA==", 1}, /* each canonical last char ... */
    {"dGhlIHNhbXBsZSBub25jZg==", 1},
    {"dGhlIHNhbXBsZSBub25jZw==", 1},
    /* NULL, empty */
    {NULL, 0},
    {"", 0},
    /* 23 and 25 characters */
    {"dGhlIHNhbXBsZSBub25jZQ=", 0},
    {"dGhlIHNhbXBsZSBub25jZ==", 0},
    {"dGhlIHNhbXBsZSBub25jZQ===", 0},
    {"dGhlIHNhbXBsZSBub25jZQ==A", 0},
    {"AdGhlIHNhbXBsZSBub25jZQ==", 0},
    /* 24 characters without the "==": 18 bytes, or padding misplaced */
    {"dGhlIHNhbXBsZSBub25jZSEh", 0},
    {"dGhlIHNhbXBsZSBub25jZQ=A", 0},
    {"dGhlIHNhbXBsZSBub25jZQA=", 0},
    {"========================", 0},
    /* "=" inside the data */
    {"dGhlIHNhbX=sZSBub25jZQ==", 0},
    {"=GhlIHNhbXBsZSBub25jZQ==", 0},
    /* 15 and 17 bytes decoded */
    {"dGhlIHNhbXBsZSBub25j", 0},     /* 15 bytes: 20 chars */
    {"dGhlIHNhbXBsZSBub25jZSE=", 0}, /* 17 bytes: 24 chars, one '=' */
    {"AAAAAAAAAAAAAAAAAAAAAAA=", 0}, /* 17 zero bytes */
    /* non-canonical last data character (low 4 bits not zero) */
    {"dGhlIHNhbXBsZSBub25jZR==", 0},
    {"dGhlIHNhbXBsZSBub25jZB==", 0},
    {"dGhlIHNhbXBsZSBub25jZh==", 0},
    {"dGhlIHNhbXBsZSBub25jZx==", 0},
    {"dGhlIHNhbXBsZSBub25jZ/==", 0},
    {"dGhlIHNhbXBsZSBub25jZ9==", 0},
    /* characters outside the standard alphabet */
    {"dGhl-HNhbXBsZSBub25jZQ==", 0}, /* base64url */
    {"dGhl_HNhbXBsZSBub25jZQ==", 0}, /* base64url */
    {"dGhl.HNhbXBsZSBub25jZQ==", 0},
    {"dGhl" "\xe9" "HNhbXBsZSBub25jZQ==", 0}, /* Latin-1 byte */
    {"dGhl" "\x01" "HNhbXBsZSBub25jZQ==", 0},
    /* whitespace, inside or around */
    {"dGhl HNhbXBsZSBub25jZQ==", 0},
    {"dGhl\tHNhbXBsZSBub25jZQ==", 0},
    {" dGhlIHNhbXBsZSBub25jZQ==", 0},
    {"dGhlIHNhbXBsZSBub25jZQ== ", 0},
    {" GhlIHNhbXBsZSBub25jZQ==", 0},
    {"dGhlIHNhbXBsZSBub25jZQ=\n", 0},
};

START_TEST(test_key_valid)
{
    ck_assert_msg(ws_hs_key_valid(key_rows[_i].key) == key_rows[_i].valid,
                  "row %d: ws_hs_key_valid(\"%s\") should be %d", _i,
                  show(key_rows[_i].key), key_rows[_i].valid);
}
END_TEST

/* ---- ws_hs_accept ------------------------------------------------------ */

/* Expected values computed independently of this code, with
 *   printf '%s' "$key"258EAFA5-E914-47DA-95CA-C5AB0DC85B11 \
 *       | openssl sha1 -binary | base64
 * and cross-checked with Python's hashlib. */
static const struct {
    const char *key;
    const char *accept;
} accept_rows[] = {
    /* RFC 6455 section 1.3 */
    {"dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
    {"AQIDBAUGBwgJCgsMDQ4PEA==", "C/0nmHhBztSRGR1CwL6Tf4ZjwpY="},
    {"x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="},
    {"wDqumtseNBJdhkihL6PW7w==", "0FFP+2nmNIf/h+4BP36k9uzrYGk="},
    {"/////////////////////w==", "XXpj4jYzLM2yUE0C7TIgMwTQh2g="},
};

START_TEST(test_accept)
{
    const char *got = ws_hs_accept(pool, accept_rows[_i].key);

    ck_assert_ptr_nonnull(got);
    ck_assert_msg(strcmp(got, accept_rows[_i].accept) == 0,
                  "row %d: accept of %s is %s, expected %s", _i,
                  accept_rows[_i].key, got, accept_rows[_i].accept);
    ck_assert_uint_eq(strlen(got), 28);
}
END_TEST

/* ---- ws_hs_version ----------------------------------------------------- */

static const struct {
    const char *value;
    int version;
} version_rows[] = {
    {"13", 13},
    {"8", 8},
    {"7", 7},
    {NULL, -1},
    {"", -1},
    {"12", -1},
    {"6", -1},
    {"14", -1},
    {"0", -1},
    {"1", -1},
    {"3", -1}, /* a suffix of "13" */
    {"255", -1},
    {"13 ", -1},
    {" 13", -1},
    {"1 3", -1},
    {"abc", -1},
    {"13abc", -1},
    {"-13", -1},
    {"+13", -1},
    {"013", -1}, /* RFC 6455 section 4.3: no leading zeros */
    {"08", -1},
    {"07", -1},
    {"13,8", -1},
    {"13, 8", -1},
    {"8,13", -1},
    {"0x0d", -1},
};

START_TEST(test_version)
{
    ck_assert_msg(ws_hs_version(version_rows[_i].value)
                      == version_rows[_i].version,
                  "row %d: ws_hs_version(\"%s\") should be %d, got %d", _i,
                  show(version_rows[_i].value), version_rows[_i].version,
                  ws_hs_version(version_rows[_i].value));
}
END_TEST

/* ---- ws_hs_has_token --------------------------------------------------- */

static const struct {
    const char *list;
    const char *token;
    int has;
} token_rows[] = {
    {"Upgrade", "upgrade", 1},
    {"upgrade", "Upgrade", 1},
    {"UPGRADE", "upgrade", 1},
    {"keep-alive, Upgrade", "upgrade", 1},
    {"keep-alive,Upgrade", "upgrade", 1},
    {"Upgrade, keep-alive", "upgrade", 1},
    {"close, Upgrade , keep-alive", "upgrade", 1},
    {"  upgrade\t ", "upgrade", 1},
    {"\tupgrade\t,close", "upgrade", 1},
    {"close,, ,upgrade,", "upgrade", 1},
    {"websocket", "websocket", 1},
    {"WebSocket", "websocket", 1},
    {"h2c, websocket", "websocket", 1},
    /* no exact element */
    {"upgraded", "upgrade", 0},
    {"keep-alive, upgraded", "upgrade", 0},
    {"xupgrade", "upgrade", 0},
    {"upgrad", "upgrade", 0},
    {"upgrad, e", "upgrade", 0},
    {"up grade", "upgrade", 0},
    {"upgrade x", "upgrade", 0},
    {"\"upgrade\"", "upgrade", 0},
    {"keep-alive", "upgrade", 0},
    {"websockets", "websocket", 0},
    {"", "upgrade", 0},
    {",,", "upgrade", 0},
    {" ", "upgrade", 0},
    {NULL, "upgrade", 0},
};

START_TEST(test_has_token)
{
    ck_assert_msg(ws_hs_has_token(token_rows[_i].list, token_rows[_i].token)
                      == token_rows[_i].has,
                  "row %d: ws_hs_has_token(\"%s\", \"%s\") should be %d", _i,
                  show(token_rows[_i].list), token_rows[_i].token,
                  token_rows[_i].has);
}
END_TEST

/* ---- ws_hs_parse_protocols --------------------------------------------- */

/* Tokens expected, joined with '|'; NULL: the value is invalid. */
static const struct {
    const char *value;
    const char *tokens;
} protocol_rows[] = {
    {"chat", "chat"},
    {"chat, superchat", "chat|superchat"},
    {"chat,superchat", "chat|superchat"},
    {" a ,, b ", "a|b"},
    {"A,a,A", "A|a|A"}, /* duplicates and case kept */
    {"superchat, chat", "superchat|chat"}, /* the client's order */
    {"\tchat\t,\tsuperchat\t", "chat|superchat"},
    {",chat,", "chat"},
    {"dumb-increment-protocol", "dumb-increment-protocol"},
    {"!#$%&'*+-.^_`|~09AZaz", "!#$%&'*+-.^_`|~09AZaz"}, /* every tchar */
    /* no token at all */
    {NULL, NULL},
    {"", NULL},
    {",", NULL},
    {" , ,\t", NULL},
    /* not a token (RFC 7230 section 3.2.6 delimiters, CTLs, non-ASCII) */
    {"a b", NULL},
    {"a\tb", NULL},
    {"a/b", NULL},
    {"\"a\"", NULL},
    {"a;b", NULL},
    {"a=b", NULL},
    {"a:b", NULL},
    {"a@b", NULL},
    {"a?b", NULL},
    {"a\\b", NULL},
    {"(a)", NULL},
    {"<a>", NULL},
    {"[a]", NULL},
    {"{a}", NULL},
    {"a" "\x01", NULL},
    {"a" "\x7f", NULL},
    {"caf" "\xc3\xa9", NULL},
    {"chat, " "\xff", NULL},
    {"chat, a b", NULL}, /* one bad element spoils the list */
    {"a b, chat", NULL},
};

START_TEST(test_parse_protocols)
{
    const char *value = protocol_rows[_i].value;
    const char *expect = protocol_rows[_i].tokens;
    /* parse a copy, then scribble over it: the tokens must be copies */
    char *copy = value ? apr_pstrdup(pool, value) : NULL;
    apr_array_header_t *out = (apr_array_header_t *)&out; /* not NULL */
    apr_status_t rv = ws_hs_parse_protocols(pool, copy, &out);

    if (copy != NULL) {
        memset(copy, 'X', strlen(copy));
    }
    if (expect == NULL) {
        ck_assert_msg(rv == APR_EINVAL, "row %d: \"%s\" should be refused",
                      _i, show(value));
        ck_assert_ptr_null(out);
    }
    else {
        const char *joined;

        ck_assert_msg(rv == APR_SUCCESS, "row %d: \"%s\" should parse", _i,
                      value);
        ck_assert_ptr_nonnull(out);
        ck_assert_int_eq(out->elt_size, sizeof(const char *));
        joined = apr_array_pstrcat(pool, out, '|');
        ck_assert_msg(strcmp(joined, expect) == 0,
                      "row %d: \"%s\" gave \"%s\", expected \"%s\"", _i,
                      value, joined, expect);
    }
}
END_TEST

/* ---- ws_hs_origin ------------------------------------------------------ */

static const struct {
    const char *scheme;
    const char *host;
    apr_port_t port;
    const char *origin;
} origin_rows[] = {
    {"http", "example.com", 80, "http://example.com"},
    {"http", "example.com", 8080, "http://example.com:8080"},
    {"http", "example.com", 443, "http://example.com:443"},
    {"http", "example.com", 0, "http://example.com"},
    {"https", "example.com", 443, "https://example.com"},
    {"https", "example.com", 80, "https://example.com:80"},
    {"https", "example.com", 8443, "https://example.com:8443"},
    {"ws", "example.com", 80, "ws://example.com"},
    {"wss", "example.com", 443, "wss://example.com"},
    {"wss", "example.com", 80, "wss://example.com:80"},
    {"http", "example.com", 65535, "http://example.com:65535"},
    {"http", "127.0.0.1", 8000, "http://127.0.0.1:8000"},
    /* lower case */
    {"http", "WWW.Example.COM", 80, "http://www.example.com"},
    {"HTTPS", "Example.com", 443, "https://example.com"},
    /* IPv6 literals */
    {"http", "::1", 80, "http://[::1]"},
    {"http", "::1", 8080, "http://[::1]:8080"},
    {"https", "2001:DB8::A", 443, "https://[2001:db8::a]"},
    {"http", "[::1]", 80, "http://[::1]"},
    {"http", "[::1]", 8080, "http://[::1]:8080"},
    {"http", "[FE80::1]", 80, "http://[fe80::1]"},
};

START_TEST(test_origin)
{
    const char *got = ws_hs_origin(pool, origin_rows[_i].scheme,
                                   origin_rows[_i].host,
                                   origin_rows[_i].port);

    ck_assert_ptr_nonnull(got);
    ck_assert_msg(strcmp(got, origin_rows[_i].origin) == 0,
                  "row %d: (%s, %s, %u) gave \"%s\", expected \"%s\"", _i,
                  origin_rows[_i].scheme, origin_rows[_i].host,
                  (unsigned)origin_rows[_i].port, got,
                  origin_rows[_i].origin);
}
END_TEST

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    /* checked: runs in the forked child of every test */
    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}

static Suite *hs_suite(void)
{
    Suite *s = suite_create("ws_hs");
    TCase *tc;

    tc = tcase("key");
    tcase_add_loop_test(tc, test_key_valid, 0, N_ROWS(key_rows));
    suite_add_tcase(s, tc);

    tc = tcase("accept");
    tcase_add_loop_test(tc, test_accept, 0, N_ROWS(accept_rows));
    suite_add_tcase(s, tc);

    tc = tcase("version");
    tcase_add_loop_test(tc, test_version, 0, N_ROWS(version_rows));
    suite_add_tcase(s, tc);

    tc = tcase("token");
    tcase_add_loop_test(tc, test_has_token, 0, N_ROWS(token_rows));
    suite_add_tcase(s, tc);

    tc = tcase("protocols");
    tcase_add_loop_test(tc, test_parse_protocols, 0, N_ROWS(protocol_rows));
    suite_add_tcase(s, tc);

    tc = tcase("origin");
    tcase_add_loop_test(tc, test_origin, 0, N_ROWS(origin_rows));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ws_test_run(hs_suite());
}
