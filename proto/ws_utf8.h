/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_utf8.h -- incremental UTF-8 validator (RFC 3629) with an ASCII fast
 * path, for text messages and close reasons.  Depends on APR only.
 */
#ifndef WS_UTF8_H
#define WS_UTF8_H

#include <apr.h>

/** Validator state: zero-initialise (or ws_utf8_init) before the first
 *  byte of a message. */
typedef struct {
    apr_uint32_t state; /**< 0 = between characters; otherwise private */
} ws_utf8_t;

#define WS_UTF8_OK 0      /**< valid so far (a character may be open) */
#define WS_UTF8_INVALID 1 /**< invalid: no continuation can repair it */

/** Resets @p v to the start of a message. */
void ws_utf8_init(ws_utf8_t *v);

/**
 * Validates the next @p len bytes of a message.  Fails as early as
 * possible: at the first byte that no valid text can contain at that
 * position (overlong forms, surrogates and code points above U+10FFFF
 * are rejected as soon as their second byte is seen).
 * @return WS_UTF8_OK or WS_UTF8_INVALID (sticky: stays INVALID)
 */
int ws_utf8_feed(ws_utf8_t *v, const unsigned char *s, apr_size_t len);

/**
 * Whether the bytes fed so far form complete, valid text (no character
 * open at the end).  Call at the end of a message.
 */
int ws_utf8_complete(const ws_utf8_t *v);

/** Validates a whole buffer: 1 if valid UTF-8, 0 if not. */
int ws_utf8_valid(const unsigned char *s, apr_size_t len);

#endif /* WS_UTF8_H */
