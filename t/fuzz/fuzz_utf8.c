/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * fuzz_utf8.c -- libFuzzer target of the UTF-8 validator: whole, byte by
 * byte and in pseudo-random chunks (byte 0 of the input seeds them),
 * against a slow reference that decodes code points.
 */
#include <stdlib.h>

#include "ws_utf8.h"

#define CHECK(c) \
    do { \
        if (!(c)) { \
            abort(); \
        } \
    } while (0)

/* Whether a scalar value (no surrogates, at most U+10FFFF) that takes
 * exactly @p n bytes can start with the @p k bytes at @p b: the code
 * points with that prefix are one interval; intersect it with the
 * values n bytes may encode (RFC 3629 section 3). */
static int ref_possible(const unsigned char *b, int k, int n)
{
    static const unsigned long min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const unsigned long max_cp[5] = {0, 0x7F, 0x7FF, 0xFFFF,
                                            0x10FFFF};
    unsigned long lo = b[0] & (0x7F >> n), hi = lo;
    int j;

    for (j = 1; j < n; j++) {
        lo = lo << 6 | (j < k ? (b[j] & 0x3Fu) : 0);
        hi = hi << 6 | (j < k ? (b[j] & 0x3Fu) : 0x3F);
    }
    lo = lo < min_cp[n] ? min_cp[n] : lo;
    hi = hi > max_cp[n] ? max_cp[n] : hi;
    return lo <= hi && !(lo >= 0xD800 && hi <= 0xDFFF);
}

/* index of the first byte no valid text can have there, or -1;
 * *open: the input ends inside a character */
static long ref_first_invalid(const unsigned char *s, size_t len, int *open)
{
    size_t i = 0;
    int j, n;

    *open = 0;
    while (i < len) {
        n = s[i] < 0x80 ? 1
            : (s[i] & 0xE0) == 0xC0 ? 2
            : (s[i] & 0xF0) == 0xE0 ? 3
            : (s[i] & 0xF8) == 0xF0 ? 4
                                    : 0;
        if (n == 0) {
            return (long)i;
        }
        for (j = 0; j < n; j++) {
            if (i + j == len) {
                *open = 1;
                return -1;
            }
            if ((j > 0 && (s[i + j] & 0xC0) != 0x80)
                || (n > 1 && !ref_possible(s + i, j + 1, n))) {
                return (long)(i + j);
            }
        }
        i += n;
    }
    return -1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const unsigned char *s;
    size_t len, i, n;
    ws_utf8_t v;
    apr_uint32_t x;
    long bad, first;
    int open, r;

    if (size < 1) {
        return 0;
    }
    x = data[0] * 2654435761u + 1;
    s = data + 1;
    len = size - 1;
    bad = ref_first_invalid(s, len, &open);

    CHECK(ws_utf8_valid(s, len) == (bad < 0 && !open));

    /* byte by byte: INVALID first at exactly the reference's index */
    ws_utf8_init(&v);
    first = -1;
    for (i = 0; i < len; i++) {
        r = ws_utf8_feed(&v, s + i, 1);
        if (r == WS_UTF8_INVALID && first < 0) {
            first = (long)i;
        }
        CHECK(first < 0 || r == WS_UTF8_INVALID);
    }
    CHECK(first == bad);
    CHECK(ws_utf8_complete(&v) == (bad < 0 && !open));

    /* pseudo-random chunks (empty ones too): the chunk holding the bad
     * byte is the first to report it */
    ws_utf8_init(&v);
    for (i = 0; i < len; i += n) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        n = x % 4 == 0 ? x % 64 : x % 9;
        n = n < len - i ? n : len - i;
        r = ws_utf8_feed(&v, s + i, n);
        CHECK(r == (bad >= 0 && bad < (long)(i + n) ? WS_UTF8_INVALID
                                                    : WS_UTF8_OK));
    }
    CHECK(ws_utf8_complete(&v) == (bad < 0 && !open));
    return 0;
}
