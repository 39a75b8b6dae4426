/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_hs.h -- the pure parts of the opening handshake (RFC 6455 section
 * 4.2): key validation, the accept value, version and token-list parsing,
 * origin building.  Depends on APR only, so unit tests and fuzzers link
 * it without httpd.
 */
#ifndef WS_HS_H
#define WS_HS_H

#include <apr_network_io.h> /* apr_port_t */
#include <apr_pools.h>
#include <apr_tables.h>

/** The GUID of RFC 6455 section 1.3. */
#define WS_HS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/** Version tokens we accept, for the Sec-WebSocket-Version of a 400. */
#define WS_HS_VERSIONS "13,8,7"

/**
 * Whether @p key is a valid Sec-WebSocket-Key: the base64 of exactly 16
 * bytes -- 24 characters of the standard alphabet, ending in "==", with
 * the last data character canonical (its 4 unused bits zero).  No
 * surrounding whitespace (httpd strips it from header values).
 */
int ws_hs_key_valid(const char *key);

/**
 * The Sec-WebSocket-Accept value for @p key: base64(SHA-1(key + GUID)).
 * @return a 28-character string from @p p
 */
const char *ws_hs_accept(apr_pool_t *p, const char *key);

/**
 * Parses Sec-WebSocket-Version.
 * @return 13, 8 or 7; -1 if missing (NULL), malformed or unsupported
 */
int ws_hs_version(const char *value);

/**
 * Whether the comma-separated header value @p list contains @p token
 * (case-insensitive, optional whitespace around elements).  Used for
 * "Connection: keep-alive, Upgrade" and "Upgrade: websocket".
 */
int ws_hs_has_token(const char *list, const char *token);

/**
 * Parses a Sec-WebSocket-Protocol value: a comma-separated list of
 * RFC 7230 tokens; empty elements are skipped; whitespace around elements
 * is allowed.
 * @param out set to an array of (const char *) in the client's order,
 *        case and duplicates kept, allocated from @p p; NULL on error
 * @return APR_SUCCESS, or APR_EINVAL if an element is not a token or the
 *         list has no token at all
 */
apr_status_t ws_hs_parse_protocols(apr_pool_t *p, const char *value,
                                   apr_array_header_t **out);

/**
 * Builds the origin "scheme://host[:port]" of a request (RFC 6454):
 * @p host lower-cased, put in brackets if it is an IPv6 address (contains
 * ':' and is not bracketed already), @p port omitted when it is the
 * default of @p scheme (80 for http, 443 for https) or 0.
 */
const char *ws_hs_origin(apr_pool_t *p, const char *scheme, const char *host,
                         apr_port_t port);

#endif /* WS_HS_H */
