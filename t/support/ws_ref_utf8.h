/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_ref_utf8.h -- the slow reference UTF-8 decoder that the unit tests
 * (t/unit/test_utf8.c) and the fuzzer (t/fuzz/fuzz_utf8.c) hold
 * ws_utf8.c against.
 */
#ifndef WS_REF_UTF8_H
#define WS_REF_UTF8_H

#include <stddef.h>

/**
 * Where @p s stops being the start of any valid UTF-8 text (RFC 3629),
 * decoding code point by code point.
 * @param s    the bytes
 * @param len  how many
 * @param open set to 1 when @p s ends inside a character that may still
 *             be completed, else 0
 * @return the index of the first byte that no valid text can have at its
 *         place (a stray continuation byte, an overlong form, a surrogate,
 *         a value above U+10FFFF, a lead byte not followed by enough
 *         continuation bytes), or -1 when there is none
 */
long ws_ref_utf8_first_invalid(const unsigned char *s, size_t len, int *open);

#endif /* WS_REF_UTF8_H */
