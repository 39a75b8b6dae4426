/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_utf8.c -- Check unit tests of proto/ws_utf8.c: Markus Kuhn's
 * UTF-8 stress test (the cases Autobahn section 6 sends) fed whole, byte
 * by byte and split at every offset, with the exact byte where INVALID
 * must first be reported; exhaustive short inputs and random ones against
 * the slow reference decoder of t/support/ws_ref_utf8.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#define WS_TEST_SEED 88172645u
#include "ws_test.h"
#include "ws_ref_utf8.h"
#include "ws_utf8.h"

/* ---- checking one input every way --------------------------------------- */

/* Checks ws_utf8 on @p s against the expectation: @p bad is the index of
 * the first impossible byte (-1: none), @p open whether a character is
 * left open at the end.  @p thorough adds every two- and three-way split
 * (quadratic/cubic: short inputs only). */
static void check_input(const unsigned char *s, size_t len, long bad,
                        int open, int thorough, const char *what)
{
    ws_utf8_t v;
    size_t i, k, k2;
    int r1, r2, r3, want_valid = bad < 0 && !open;
    long first;

    REQUIRE_MSG(ws_utf8_valid(s, len) == want_valid, "%s: valid() is %d",
                what, !want_valid);
    ws_utf8_init(&v);
    r1 = ws_utf8_feed(&v, s, len);
    REQUIRE_MSG(r1 == (bad >= 0 ? WS_UTF8_INVALID : WS_UTF8_OK),
                "%s: whole feed gave %d", what, r1);
    REQUIRE_MSG(ws_utf8_complete(&v) == want_valid,
                "%s: complete() after a whole feed", what);
    /* byte by byte: INVALID first at exactly the impossible byte, then
     * for good */
    ws_utf8_init(&v);
    first = -1;
    for (i = 0; i < len; i++) {
        r1 = ws_utf8_feed(&v, s + i, 1);
        if (first < 0 && r1 == WS_UTF8_INVALID) {
            first = (long)i;
        }
        REQUIRE_MSG(first < 0 || r1 == WS_UTF8_INVALID,
                    "%s: INVALID not sticky at %u", what, (unsigned)i);
        REQUIRE_MSG(first < 0 || !ws_utf8_complete(&v),
                    "%s: complete() after INVALID", what);
    }
    REQUIRE_MSG(first == bad, "%s: byte by byte, INVALID at %ld, not %ld",
                what, first, bad);
    REQUIRE_MSG(ws_utf8_complete(&v) == want_valid,
                "%s: complete() after byte by byte", what);
    /* two pieces at every offset: the piece holding the bad byte fails */
    for (k = 0; k <= len; k++) {
        ws_utf8_init(&v);
        r1 = ws_utf8_feed(&v, s, k);
        r2 = ws_utf8_feed(&v, s + k, len - k);
        REQUIRE_MSG(r1 == (bad >= 0 && bad < (long)k ? WS_UTF8_INVALID
                                                     : WS_UTF8_OK),
                    "%s: split at %u, first piece gave %d", what,
                    (unsigned)k, r1);
        REQUIRE_MSG(r2 == (bad >= 0 ? WS_UTF8_INVALID : WS_UTF8_OK),
                    "%s: split at %u, second piece gave %d", what,
                    (unsigned)k, r2);
        REQUIRE_MSG(ws_utf8_complete(&v) == want_valid,
                    "%s: split at %u, complete()", what, (unsigned)k);
        /* a prefix alone is fine exactly up to the bad byte */
        REQUIRE_MSG(ws_utf8_valid(s, k)
                        == (ws_ref_utf8_first_invalid(s, k, &r3) < 0 && !r3),
                    "%s: valid() of the first %u bytes", what, (unsigned)k);
    }
    if (!thorough) {
        return;
    }
    for (k = 0; k <= len; k++) {
        for (k2 = k; k2 <= len; k2++) {
            ws_utf8_init(&v);
            r1 = ws_utf8_feed(&v, s, k);
            r2 = ws_utf8_feed(&v, s + k, k2 - k);
            r3 = ws_utf8_feed(&v, s + k2, len - k2);
            REQUIRE_MSG(r1 == (bad >= 0 && bad < (long)k ? WS_UTF8_INVALID
                                                         : WS_UTF8_OK)
                            && r2 == (bad >= 0 && bad < (long)k2
                                          ? WS_UTF8_INVALID
                                          : WS_UTF8_OK)
                            && r3 == (bad >= 0 ? WS_UTF8_INVALID
                                               : WS_UTF8_OK),
                        "%s: split at %u and %u gave %d %d %d", what,
                        (unsigned)k, (unsigned)k2, r1, r2, r3);
        }
    }
}

/* ---- Markus Kuhn's UTF-8 decoder stress test (Autobahn section 6) ------- */

#define S(lit) (const unsigned char *)(lit), sizeof(lit) - 1

static const struct {
    const char *name;
    const unsigned char *s;
    size_t len;
    long bad; /* index of the first impossible byte, -1: none */
    int open; /* ends inside a character */
} kuhn_rows[] = {
    {"empty", S(""), -1, 0},
    {"ASCII", S("Hello-\x7f\x01"), -1, 0},
    {"NUL", S("a\0b"), -1, 0},
    /* 1: some correct UTF-8 text (Greek "kosme") */
    {"kosme", S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), -1, 0},
    /* fail fast (Autobahn 6.4.x): kosme, then a surrogate */
    {"kosme + ED A0 80 + edited",
     S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
       "edited"), 12, 0},
    {"kosme + F4 90 80 80", S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
                              "\xf4\x90\x80\x80"), 12, 0},
    {"kosme + C0 AF", S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
                        "\xc0\xaf"), 11, 0},
    /* 2.1: first possible sequence of a certain length */
    {"2.1.1 U+0000", S("\0"), -1, 0},
    {"2.1.2 U+0080", S("\xc2\x80"), -1, 0},
    {"2.1.3 U+0800", S("\xe0\xa0\x80"), -1, 0},
    {"2.1.4 U+10000", S("\xf0\x90\x80\x80"), -1, 0},
    {"2.1.5 5 bytes", S("\xf8\x88\x80\x80\x80"), 0, 0},
    {"2.1.6 6 bytes", S("\xfc\x84\x80\x80\x80\x80"), 0, 0},
    /* 2.2: last possible sequence of a certain length */
    {"2.2.1 U+007F", S("\x7f"), -1, 0},
    {"2.2.2 U+07FF", S("\xdf\xbf"), -1, 0},
    {"2.2.3 U+FFFF", S("\xef\xbf\xbf"), -1, 0},
    {"2.2.4 U+1FFFFF", S("\xf7\xbf\xbf\xbf"), 0, 0},
    {"2.2.5 5 bytes", S("\xfb\xbf\xbf\xbf\xbf"), 0, 0},
    {"2.2.6 6 bytes", S("\xfd\xbf\xbf\xbf\xbf\xbf"), 0, 0},
    /* 2.3: other boundary conditions */
    {"2.3.1 U+D7FF", S("\xed\x9f\xbf"), -1, 0},
    {"2.3.2 U+E000", S("\xee\x80\x80"), -1, 0},
    {"2.3.3 U+FFFD", S("\xef\xbf\xbd"), -1, 0},
    {"2.3.4 U+10FFFF", S("\xf4\x8f\xbf\xbf"), -1, 0},
    {"2.3.5 U+110000", S("\xf4\x90\x80\x80"), 1, 0},
    {"F4 BF", S("\xf4\xbf\xbf\xbf"), 1, 0},
    {"F5 lead", S("\xf5\x80\x80\x80"), 0, 0},
    /* 3.1: unexpected continuation bytes */
    {"3.1.1 80", S("\x80"), 0, 0},
    {"3.1.2 BF", S("\xbf"), 0, 0},
    {"3.1.3 80 BF", S("\x80\xbf"), 0, 0},
    {"3.1.4 80 BF 80", S("\x80\xbf\x80"), 0, 0},
    {"3.1.9 all continuation bytes",
     S("\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f"),
     0, 0},
    {"continuation after a character", S("a\xc2\xa9\xa9"), 3, 0},
    {"continuation after ASCII", S("abcdefghij\x80"), 10, 0},
    /* 3.2: lonely start characters (each followed by a space) */
    {"3.2.1 C0 space", S("\xc0 "), 0, 0},
    {"3.2.1 C2 space", S("\xc2 "), 1, 0},
    {"3.2.1 DF space", S("\xdf "), 1, 0},
    {"3.2.2 E0 space", S("\xe0 "), 1, 0},
    {"3.2.2 E1 space", S("\xe1 "), 1, 0},
    {"3.2.2 EF space", S("\xef "), 1, 0},
    {"3.2.3 F0 space", S("\xf0 "), 1, 0},
    {"3.2.3 F4 space", S("\xf4 "), 1, 0},
    {"3.2.3 F7 space", S("\xf7 "), 0, 0},
    {"3.2.4 F8 space", S("\xf8 "), 0, 0},
    {"3.2.5 FC space", S("\xfc "), 0, 0},
    /* 3.3: sequences with the last continuation byte missing */
    {"3.3.1 C0", S("\xc0"), 0, 0},
    {"3.3.2 E0 80", S("\xe0\x80"), 1, 0},
    {"3.3.3 F0 80 80", S("\xf0\x80\x80"), 1, 0},
    {"3.3.4 F8 80 80 80", S("\xf8\x80\x80\x80"), 0, 0},
    {"3.3.5 FC 80 80 80 80", S("\xfc\x80\x80\x80\x80"), 0, 0},
    {"3.3.6 DF", S("\xdf"), -1, 1},
    {"3.3.7 EF BF", S("\xef\xbf"), -1, 1},
    {"3.3.8 F7 BF BF", S("\xf7\xbf\xbf"), 0, 0},
    {"3.3.9 FB BF BF BF", S("\xfb\xbf\xbf\xbf"), 0, 0},
    {"3.3.10 FD BF BF BF BF", S("\xfd\xbf\xbf\xbf\xbf"), 0, 0},
    /* truncated at the end of the text: open, not (yet) invalid */
    {"truncated C2", S("a\xc2"), -1, 1},
    {"truncated E2", S("a\xe2"), -1, 1},
    {"truncated E2 82", S("a\xe2\x82"), -1, 1},
    {"truncated F0", S("\xf0"), -1, 1},
    {"truncated F0 9F", S("\xf0\x9f"), -1, 1},
    {"truncated F0 9F 98", S("\xf0\x9f\x98"), -1, 1},
    {"truncated F4 8F BF", S("\xf4\x8f\xbf"), -1, 1},
    {"truncated ED 9F", S("\xed\x9f"), -1, 1},
    /* truncated and continued by something else */
    {"E2 82 then ASCII", S("\xe2\x82" "A"), 2, 0},
    {"F0 9F 98 then ASCII", S("\xf0\x9f\x98" "A"), 3, 0},
    {"C3 then ASCII", S("\xc3" "A"), 1, 0},
    {"E2 82 then a lead", S("\xe2\x82\xe2\x82\xac"), 2, 0},
    /* 3.4: concatenation of the incomplete sequences of 3.3 */
    {"3.4 concatenation",
     S("\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80"
       "\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf"),
     0, 0},
    /* 3.5: impossible bytes */
    {"3.5.1 FE", S("\xfe"), 0, 0},
    {"3.5.2 FF", S("\xff"), 0, 0},
    {"3.5.3 FE FE FF FF", S("\xfe\xfe\xff\xff"), 0, 0},
    {"FF after text", S("ok \xce\xba\xff"), 5, 0},
    /* 4.1: overlong ASCII (U+002F) */
    {"4.1.1 C0 AF", S("\xc0\xaf"), 0, 0},
    {"4.1.2 E0 80 AF", S("\xe0\x80\xaf"), 1, 0},
    {"4.1.3 F0 80 80 AF", S("\xf0\x80\x80\xaf"), 1, 0},
    {"4.1.4 F8 80 80 80 AF", S("\xf8\x80\x80\x80\xaf"), 0, 0},
    {"4.1.5 FC 80 80 80 80 AF", S("\xfc\x80\x80\x80\x80\xaf"), 0, 0},
    /* 4.2: maximum overlong sequences */
    {"4.2.1 C1 BF", S("\xc1\xbf"), 0, 0},
    {"4.2.2 E0 9F BF", S("\xe0\x9f\xbf"), 1, 0},
    {"4.2.3 F0 8F BF BF", S("\xf0\x8f\xbf\xbf"), 1, 0},
    {"4.2.4 F8 87 BF BF BF", S("\xf8\x87\xbf\xbf\xbf"), 0, 0},
    {"4.2.5 FC 83 BF BF BF BF", S("\xfc\x83\xbf\xbf\xbf\xbf"), 0, 0},
    /* 4.3: overlong NUL */
    {"4.3.1 C0 80", S("\xc0\x80"), 0, 0},
    {"4.3.2 E0 80 80", S("\xe0\x80\x80"), 1, 0},
    {"4.3.3 F0 80 80 80", S("\xf0\x80\x80\x80"), 1, 0},
    {"4.3.4 F8 80 80 80 80", S("\xf8\x80\x80\x80\x80"), 0, 0},
    {"4.3.5 FC 80 80 80 80 80", S("\xfc\x80\x80\x80\x80\x80"), 0, 0},
    /* 5.1: single UTF-16 surrogates */
    {"5.1.1 U+D800", S("\xed\xa0\x80"), 1, 0},
    {"5.1.2 U+DB7F", S("\xed\xad\xbf"), 1, 0},
    {"5.1.3 U+DB80", S("\xed\xae\x80"), 1, 0},
    {"5.1.4 U+DBFF", S("\xed\xaf\xbf"), 1, 0},
    {"5.1.5 U+DC00", S("\xed\xb0\x80"), 1, 0},
    {"5.1.6 U+DF80", S("\xed\xbe\x80"), 1, 0},
    {"5.1.7 U+DFFF", S("\xed\xbf\xbf"), 1, 0},
    /* 5.2: paired UTF-16 surrogates */
    {"5.2.1 U+D800 U+DC00", S("\xed\xa0\x80\xed\xb0\x80"), 1, 0},
    {"5.2.8 U+DBFF U+DFFF", S("\xed\xaf\xbf\xed\xbf\xbf"), 1, 0},
    {"surrogate after text", S("abc\xed\xa0\x80"), 4, 0},
    /* 5.3: noncharacters are valid UTF-8 */
    {"5.3.1 U+FFFE", S("\xef\xbf\xbe"), -1, 0},
    {"5.3.2 U+FFFF", S("\xef\xbf\xbf"), -1, 0},
    {"5.3.3 U+FDD0", S("\xef\xb7\x90"), -1, 0},
    {"5.3.4 U+10FFFE", S("\xf4\x8f\xbf\xbe"), -1, 0},
    /* mixed valid text */
    {"mixed", S("a\xc2\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"), -1, 0},
    {"euro sign, long ASCII around",
     S("0123456789abcdef\xe2\x82\xac" "0123456789abcdef0"), -1, 0},
};

/* each row as given, behind ASCII runs of every length around the word
 * size (the fast path's boundaries) and with ASCII after it */
START_TEST(test_kuhn)
{
    static const size_t pads[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31};
    const unsigned char *s = kuhn_rows[_i].s;
    size_t len = kuhn_rows[_i].len, p;
    long bad = kuhn_rows[_i].bad;
    int open = kuhn_rows[_i].open, ref_open, after;
    unsigned char buf[128];
    char what[160];

    /* the table agrees with the reference */
    ck_assert_int_eq(ws_ref_utf8_first_invalid(s, len, &ref_open), bad);
    if (bad < 0) {
        ck_assert_int_eq(ref_open, open);
    }
    check_input(s, len, bad, open, 1, kuhn_rows[_i].name);
    for (p = 0; p < N_ROWS(pads); p++) {
        for (after = 0; after <= 1; after++) {
            memset(buf, 'x', sizeof(buf));
            memcpy(buf + pads[p], s, len);
            snprintf(what, sizeof(what), "%s (after %u ASCII%s)",
                     kuhn_rows[_i].name, (unsigned)pads[p],
                     after ? ", 9 more after" : "");
            if (!after) {
                check_input(buf, pads[p] + len,
                            bad < 0 ? -1 : (long)pads[p] + bad, open, 0,
                            what);
            }
            else {
                /* an open character cannot go on with 'x' */
                check_input(buf, pads[p] + len + 9,
                            bad >= 0 ? (long)pads[p] + bad
                            : open   ? (long)(pads[p] + len)
                                     : -1,
                            0, 0, what);
            }
        }
    }
}
END_TEST

/* ---- state handling ----------------------------------------------------- */

START_TEST(test_state)
{
    static const unsigned char grin[] = {0xf0, 0x9f, 0x98, 0x80};
    ws_utf8_t v;
    int i;

    /* zero-initialised is the same as ws_utf8_init */
    memset(&v, 0, sizeof(v));
    ck_assert(ws_utf8_complete(&v));
    ck_assert_int_eq(ws_utf8_feed(&v, NULL, 0), WS_UTF8_OK);
    ck_assert(ws_utf8_valid(NULL, 0));
    /* a 4-byte character across four calls, empty calls between */
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(ws_utf8_feed(&v, grin + i, 1), WS_UTF8_OK);
        ck_assert_int_eq(ws_utf8_feed(&v, grin, 0), WS_UTF8_OK);
        ck_assert_int_eq(ws_utf8_complete(&v), i == 3);
    }
    /* INVALID is sticky, also for valid input and empty input */
    ck_assert_int_eq(ws_utf8_feed(&v, (const unsigned char *)"\xc0", 1),
                     WS_UTF8_INVALID);
    ck_assert_int_eq(ws_utf8_feed(&v, (const unsigned char *)"abc", 3),
                     WS_UTF8_INVALID);
    ck_assert_int_eq(ws_utf8_feed(&v, NULL, 0), WS_UTF8_INVALID);
    ck_assert(!ws_utf8_complete(&v));
    /* and ws_utf8_init starts a new message */
    ws_utf8_init(&v);
    ck_assert(ws_utf8_complete(&v));
    ck_assert_int_eq(ws_utf8_feed(&v, (const unsigned char *)"abc", 3),
                     WS_UTF8_OK);
    /* an open character, then a new message */
    ck_assert_int_eq(ws_utf8_feed(&v, grin, 2), WS_UTF8_OK);
    ck_assert(!ws_utf8_complete(&v));
    ws_utf8_init(&v);
    ck_assert_int_eq(ws_utf8_feed(&v, (const unsigned char *)"abc", 3),
                     WS_UTF8_OK);
    ck_assert(ws_utf8_complete(&v));
}
END_TEST

/* ---- exhaustive short inputs -------------------------------------------- */

/* every input of one and two bytes */
START_TEST(test_all_short)
{
    unsigned char b[2];
    unsigned int x;
    long bad;
    int open;

    for (x = 0; x < 256; x++) {
        b[0] = (unsigned char)x;
        bad = ws_ref_utf8_first_invalid(b, 1, &open);
        check_input(b, 1, bad, open, 1, "one byte");
    }
    for (x = 0; x < 65536; x++) {
        b[0] = (unsigned char)(x >> 8);
        b[1] = (unsigned char)x;
        bad = ws_ref_utf8_first_invalid(b, 2, &open);
        check_input(b, 2, bad, open, 0, "two bytes");
    }
}
END_TEST

/* every three-byte input that starts with a lead byte (the others are
 * decided by their first byte, checked above) */
START_TEST(test_all_three)
{
    unsigned char b[3];
    ws_utf8_t v;
    unsigned int x;
    long bad;
    int open, r;

    for (x = 0xC00000; x <= 0xFFFFFF; x++) {
        b[0] = (unsigned char)(x >> 16);
        b[1] = (unsigned char)(x >> 8);
        b[2] = (unsigned char)x;
        bad = ws_ref_utf8_first_invalid(b, 3, &open);
        ws_utf8_init(&v);
        r = ws_utf8_feed(&v, b, 3);
        REQUIRE_MSG(r == (bad >= 0 ? WS_UTF8_INVALID : WS_UTF8_OK)
                        && ws_utf8_complete(&v) == (bad < 0 && !open),
                    "%02x %02x %02x: %d", b[0], b[1], b[2], r);
        /* the first two bytes, then the third */
        ws_utf8_init(&v);
        r = ws_utf8_feed(&v, b, 2);
        REQUIRE_MSG(r == (bad >= 0 && bad < 2 ? WS_UTF8_INVALID
                                              : WS_UTF8_OK),
                    "%02x %02x %02x: %d on two bytes", b[0], b[1], b[2], r);
        r = ws_utf8_feed(&v, b + 2, 1);
        REQUIRE_MSG(r == (bad >= 0 ? WS_UTF8_INVALID : WS_UTF8_OK),
                    "%02x %02x %02x: %d on the third", b[0], b[1], b[2], r);
    }
}
END_TEST

/* four-byte leads with every second byte and the boundary values of the
 * third and fourth */
START_TEST(test_four)
{
    static const unsigned char edge[] = {0x00, 0x7f, 0x80, 0x8f, 0x90,
                                         0x9f, 0xa0, 0xbf, 0xc0, 0xff};
    unsigned char b[4];
    unsigned int lead, x, i, j;
    long bad;
    int open;

    for (lead = 0xF0; lead <= 0xF7; lead++) {
        for (x = 0; x < 256; x++) {
            for (i = 0; i < sizeof(edge); i++) {
                for (j = 0; j < sizeof(edge); j++) {
                    b[0] = (unsigned char)lead;
                    b[1] = (unsigned char)x;
                    b[2] = edge[i];
                    b[3] = edge[j];
                    bad = ws_ref_utf8_first_invalid(b, 4, &open);
                    check_input(b, 4, bad, open, 0, "four bytes");
                }
            }
        }
    }
}
END_TEST

/* ---- random near-valid text --------------------------------------------- */

static size_t encode(unsigned long cp, unsigned char *b)
{
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (unsigned char)(0xF0 | (cp >> 18));
    b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* a code point near the edges of the classes, or anywhere */
static unsigned long random_cp(void)
{
    static const unsigned long edges[] = {0x7F, 0x80, 0x7FF, 0x800, 0xD7FF,
                                          0xE000, 0xFFFD, 0xFFFF, 0x10000,
                                          0x10FFFF, 0x3B1, 0x20AC, 0x1F600};

    switch (rnd() % 4) {
    case 0:
        return edges[rnd() % N_ROWS(edges)];
    case 1:
        return 0x80 + rnd() % 0x780;
    case 2:
        return 0x800 + rnd() % 0xF800;
    default:
        return 0x10000 + rnd() % 0x100000;
    }
}

/* Appends one piece of mostly valid text to @p b; returns its length. */
static size_t random_piece(unsigned char *b)
{
    unsigned int r = rnd() % 100, i, n;
    unsigned long cp;

    if (r < 30) { /* ASCII, sometimes long enough for the word path */
        n = rnd() % 4 == 0 ? rnd() % 40 : rnd() % 4;
        for (i = 0; i < n; i++) {
            b[i] = (unsigned char)(0x20 + rnd() % 0x5F);
        }
        return n;
    }
    if (r < 80) { /* a valid scalar value */
        do {
            cp = random_cp();
        } while (cp >= 0xD800 && cp <= 0xDFFF);
        return encode(cp, b);
    }
    if (r < 85) { /* a truncated one */
        n = (unsigned int)encode(0x80 + rnd() % 0x10FF80, b);
        return n > 1 ? 1 + rnd() % (n - 1) : n;
    }
    if (r < 88) { /* a surrogate */
        return encode(0xD800 + rnd() % 0x800, b);
    }
    if (r < 91) { /* an overlong form of a smaller value */
        cp = rnd() % 0x10000;
        n = 2 + rnd() % 3;
        b[0] = (unsigned char)(n == 2 ? 0xC0 | (cp >> 6 & 0x1)
                               : n == 3 ? 0xE0 : 0xF0);
        for (i = 1; i < n; i++) {
            b[i] = (unsigned char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3F));
        }
        if (n == 3) {
            b[1] &= 0x9F; /* below U+0800 */
        }
        if (n == 4) {
            b[1] = 0x80 | (b[1] & 0x0F); /* below U+10000 */
        }
        return n;
    }
    if (r < 93) { /* above U+10FFFF */
        b[0] = (unsigned char)(0xF4 + rnd() % 4);
        b[1] = (unsigned char)(b[0] == 0xF4 ? 0x90 + rnd() % 0x30
                                            : 0x80 + rnd() % 0x40);
        b[2] = 0x80;
        b[3] = 0xBF;
        return 4;
    }
    if (r < 96) { /* a lone continuation byte */
        b[0] = (unsigned char)(0x80 + rnd() % 0x40);
        return 1;
    }
    b[0] = (unsigned char)rnd(); /* any byte */
    return 1;
}

START_TEST(test_random)
{
    unsigned char buf[1024];
    size_t len, k, n;
    ws_utf8_t v;
    long bad;
    int open, r, i, pieces, reported;

    rng = 12345;
    for (i = 0; i < 20000; i++) {
        len = 0;
        pieces = (int)(rnd() % 24);
        while (pieces-- > 0) {
            len += random_piece(buf + len);
        }
        bad = ws_ref_utf8_first_invalid(buf, len, &open);
        check_input(buf, len, bad, open, 0, "random");
        /* random chunks: the chunk holding the bad byte reports it */
        ws_utf8_init(&v);
        reported = 0;
        for (k = 0; k < len; k += n) {
            n = 1 + rnd() % 19;
            n = n < len - k ? n : len - k;
            r = ws_utf8_feed(&v, buf + k, n);
            REQUIRE_MSG(r == (bad >= 0 && bad < (long)(k + n)
                                  ? WS_UTF8_INVALID
                                  : WS_UTF8_OK),
                        "random %d: chunk at %u gave %d", i, (unsigned)k, r);
            reported |= r == WS_UTF8_INVALID;
        }
        REQUIRE_MSG(reported == (bad >= 0), "random %d", i);
    }
}
END_TEST

/* ---- the runner --------------------------------------------------------- */

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    /* checked: runs in the forked child of every test */
    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}

static Suite *utf8_suite(void)
{
    Suite *s = suite_create("ws_utf8");
    TCase *tc;

    tc = tcase("kuhn");
    tcase_add_loop_test(tc, test_kuhn, 0, N_ROWS(kuhn_rows));
    suite_add_tcase(s, tc);

    tc = tcase("state");
    tcase_add_test(tc, test_state);
    suite_add_tcase(s, tc);

    tc = tcase("exhaustive");
    tcase_add_test(tc, test_all_short);
    tcase_add_test(tc, test_all_three);
    tcase_add_test(tc, test_four);
    suite_add_tcase(s, tc);

    tc = tcase("random");
    tcase_add_test(tc, test_random);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ws_test_run(utf8_suite());
}
