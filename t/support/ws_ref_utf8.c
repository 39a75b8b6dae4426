/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_ref_utf8.c -- the slow reference UTF-8 decoder of the unit tests and
 * the fuzzer: code point by code point, written for obviousness rather
 * than speed, so that it shares no idea with ws_utf8.c.
 */
#include "ws_ref_utf8.h"

/* Whether some scalar value (U+0000-U+10FFFF, no surrogates) whose
 * encoding takes exactly @p n bytes starts with the @p k bytes at @p b:
 * the code points with that prefix form one interval, so intersect it
 * with what n bytes may encode (RFC 3629 section 3). */
static int possible(const unsigned char *b, int k, int n)
{
    static const unsigned long min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const unsigned long max_cp[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    unsigned long lo = b[0] & (0x7F >> n), hi = lo;
    int j;

    for (j = 1; j < n; j++) {
        lo <<= 6;
        hi <<= 6;
        if (j < k) {
            lo |= b[j] & 0x3F;
            hi |= b[j] & 0x3F;
        }
        else {
            hi |= 0x3F;
        }
    }
    lo = lo < min_cp[n] ? min_cp[n] : lo;
    hi = hi > max_cp[n] ? max_cp[n] : hi;
    return lo <= hi && !(lo >= 0xD800 && hi <= 0xDFFF);
}

long ws_ref_utf8_first_invalid(const unsigned char *s, size_t len, int *open)
{
    size_t i = 0;
    int j, n;

    *open = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if ((s[i] & 0xE0) == 0xC0) {
            n = 2;
        }
        else if ((s[i] & 0xF0) == 0xE0) {
            n = 3;
        }
        else if ((s[i] & 0xF8) == 0xF0) {
            n = 4;
        }
        else {
            return (long)i; /* a continuation byte, or 5- and 6-byte leads */
        }
        for (j = 0; j < n; j++) {
            if (i + j >= len) {
                *open = 1;
                return -1;
            }
            if (j > 0 && (s[i + j] & 0xC0) != 0x80) {
                return (long)(i + j);
            }
            if (!possible(s + i, j + 1, n)) {
                return (long)(i + j);
            }
        }
        i += n;
    }
    return -1;
}
