/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_hs.c -- the pure parts of the opening handshake (RFC 6455 section
 * 4.2): key validation, the accept value, version and token-list parsing,
 * origin building.  APR and APR-util only; no httpd.
 */
#include <string.h>

#include "apr_base64.h"
#include "apr_sha1.h"
#include "apr_strings.h"

#include "ws_hs.h"

/* Length of the base64 of 16 bytes: 4 * ceil(16 / 3). */
#define KEY_LEN 24

/* The standard base64 alphabet of RFC 4648 section 4; the URL-safe one
 * ('-', '_') is not allowed in a key.  Written out rather than
 * apr_isalnum() so that the locale cannot widen it. */
static int is_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* RFC 7230 section 3.2.6: tchar.  ASCII only, whatever the locale. */
static int is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 7230 section 3.2.3: OWS is SP / HTAB. */
static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims OWS from both ends of [*start, *end). */
static void trim_ows(const char **start, const char **end)
{
    while (*start < *end && is_ows(**start)) {
        (*start)++;
    }
    while (*end > *start && is_ows((*end)[-1])) {
        (*end)--;
    }
}

/* ASCII lower case.  Not apr_tolower(): header values are bytes, and a
 * locale must not fold non-ASCII ones into a match. */
static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static void str_lower(char *s)
{
    for (; *s != '\0'; s++) {
        *s = lower(*s);
    }
}

/* Case-insensitive comparison of [s, s + len) with the string t. */
static int token_equals(const char *s, apr_size_t len, const char *t)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (t[i] == '\0' || lower(s[i]) != lower(t[i])) {
            return 0;
        }
    }
    return t[len] == '\0';
}

int ws_hs_key_valid(const char *key)
{
    int i;

    if (key == NULL) {
        return 0;
    }
    /* RFC 6455 section 4.1: "a randomly selected 16-byte value that has
     * been base64-encoded".  16 bytes are 22 data characters and "==";
     * the 22nd carries 2 data bits and 4 padding bits, which RFC 4648
     * section 3.5 wants zero, leaving only A, Q, g and w.  A key that
     * decodes to 15 or 17 bytes, or is not canonical, is refused. */
    for (i = 0; i < KEY_LEN - 2; i++) {
        if (!is_b64((unsigned char)key[i])) {
            return 0; /* also stops at a NUL: the key is too short */
        }
    }
    if (strchr("AQgw", key[KEY_LEN - 3]) == NULL) {
        return 0;
    }
    return key[KEY_LEN - 2] == '=' && key[KEY_LEN - 1] == '='
           && key[KEY_LEN] == '\0';
}

const char *ws_hs_accept(apr_pool_t *p, const char *key)
{
    apr_sha1_ctx_t sha;
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    char *out;

    /* RFC 6455 section 4.2.2 item 5.4: the key as sent (not decoded),
     * followed by the GUID, hashed with SHA-1, the 20 bytes base64'd. */
    apr_sha1_init(&sha);
    apr_sha1_update(&sha, key, (unsigned int)strlen(key));
    apr_sha1_update(&sha, WS_HS_GUID, (unsigned int)strlen(WS_HS_GUID));
    apr_sha1_final(digest, &sha);

    out = apr_palloc(p, (apr_size_t)apr_base64_encode_len(sizeof(digest)));
    apr_base64_encode_binary(out, digest, (int)sizeof(digest));
    return out;
}

int ws_hs_version(const char *value)
{
    /* RFC 6455 section 4.3: version = DIGIT | (NZDIGIT DIGIT) | ("1"
     * DIGIT DIGIT) | ("2" DIGIT DIGIT), "with no leading zeros".  So a
     * well-formed value is one bare number; signs, spaces, leading zeros
     * ("013") and lists ("13, 8") are malformed.  Every well-formed value
     * other than the three we speak is unsupported, so an exact string
     * comparison decides both at once. */
    if (value == NULL) {
        return -1;
    }
    if (strcmp(value, "13") == 0) {
        return 13;
    }
    if (strcmp(value, "8") == 0) {
        return 8; /* draft-ietf-hybi-thewebsocketprotocol-10 */
    }
    if (strcmp(value, "7") == 0) {
        return 7; /* draft-ietf-hybi-thewebsocketprotocol-07 */
    }
    return -1;
}

int ws_hs_has_token(const char *list, const char *token)
{
    const char *start = list;

    if (list == NULL || token == NULL) {
        return 0;
    }
    /* RFC 7230 section 7: #element lists, OWS around the commas.  Both
     * Connection options and Upgrade protocol names are case-insensitive
     * (RFC 7230 sections 6.1 and 6.7). */
    for (;;) {
        const char *end = strchr(start, ',');
        const char *next = end ? end + 1 : NULL;

        if (end == NULL) {
            end = start + strlen(start);
        }
        trim_ows(&start, &end);
        if (token_equals(start, (apr_size_t)(end - start), token)) {
            return 1;
        }
        if (next == NULL) {
            return 0;
        }
        start = next;
    }
}

apr_status_t ws_hs_parse_protocols(apr_pool_t *p, const char *value,
                                   apr_array_header_t **out)
{
    apr_array_header_t *arr;
    const char *start = value;

    *out = NULL;
    if (value == NULL) {
        return APR_EINVAL;
    }
    arr = apr_array_make(p, 4, sizeof(const char *));
    /* RFC 6455 section 4.1: Sec-WebSocket-Protocol = 1#token.  RFC 7230
     * section 7 makes empty list elements legal and meaningless, so they
     * are skipped; anything that is not a token is a malformed header,
     * which section 4.2.1 answers with 400. */
    for (;;) {
        const char *end = strchr(start, ',');
        const char *next = end ? end + 1 : NULL;
        const char *c;

        if (end == NULL) {
            end = start + strlen(start);
        }
        trim_ows(&start, &end);
        for (c = start; c < end; c++) {
            if (!is_tchar((unsigned char)*c)) {
                return APR_EINVAL;
            }
        }
        if (end > start) {
            APR_ARRAY_PUSH(arr, const char *) =
                apr_pstrmemdup(p, start, (apr_size_t)(end - start));
        }
        if (next == NULL) {
            break;
        }
        start = next;
    }
    if (arr->nelts == 0) {
        return APR_EINVAL; /* "1#": at least one token */
    }
    *out = arr;
    return APR_SUCCESS;
}

/* The port a URI of @p scheme (already lower-case) has when it names
 * none: RFC 7230 section 2.7 (http, https), RFC 6455 section 3 (ws,
 * wss).  0 for schemes we do not know. */
static apr_port_t default_port(const char *scheme)
{
    if (strcmp(scheme, "http") == 0 || strcmp(scheme, "ws") == 0) {
        return 80;
    }
    if (strcmp(scheme, "https") == 0 || strcmp(scheme, "wss") == 0) {
        return 443;
    }
    return 0;
}

const char *ws_hs_origin(apr_pool_t *p, const char *scheme, const char *host,
                         apr_port_t port)
{
    char *s = apr_pstrdup(p, scheme ? scheme : "");
    char *h = apr_pstrdup(p, host ? host : "");
    const char *authority;

    /* RFC 6454 section 6.1: the serialization of an origin uses the
     * lower-case scheme and host, and the port only when it is not the
     * scheme's default.  Browsers put IPv6 literals in brackets as in a
     * URI (RFC 3986 section 3.2.2), so we must too for an exact match. */
    str_lower(s);
    str_lower(h);
    if (strchr(h, ':') != NULL && h[0] != '[') {
        authority = apr_pstrcat(p, "[", h, "]", NULL);
    }
    else {
        authority = h;
    }
    if (port == 0 || port == default_port(s)) {
        return apr_pstrcat(p, s, "://", authority, NULL);
    }
    return apr_psprintf(p, "%s://%s:%u", s, authority, (unsigned)port);
}
