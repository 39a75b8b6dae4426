/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * fuzz_utf8.c -- libFuzzer target of the UTF-8 validator: whole, byte by
 * byte and in pseudo-random chunks (byte 0 of the input seeds them),
 * against the slow reference that decodes code points
 * (t/support/ws_ref_utf8.c).
 */
#include <stdlib.h>

#include "ws_ref_utf8.h"
#include "ws_utf8.h"

#define CHECK(c) \
    do { \
        if (!(c)) { \
            abort(); \
        } \
    } while (0)

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
    bad = ws_ref_utf8_first_invalid(s, len, &open);

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
