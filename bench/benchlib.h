/*
 * benchlib.h -- what the benchmark clients (wsload.c, chanload.c) share:
 * a monotonic clock, a fast PRNG for mask keys, a log-linear latency
 * histogram, and SHA-1 + base64 for checking Sec-WebSocket-Accept.
 * Header-only (static inline), so that each client still builds with one
 * cc line; include it after the system headers.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef BENCHLIB_H
#define BENCHLIB_H

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NS_PER_SEC 1000000000LL

/* Latency histogram, log-linear: exact below 256 µs, then 128 buckets
 * per power of two (under 1% error) -- HdrHistogram's idea. */
#define H_SUB 128
#define H_BUCKETS (2 * H_SUB + 40 * H_SUB)

struct hist {
    uint64_t n[H_BUCKETS];
    uint64_t count;
};

static inline int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static uint64_t rng_state;

/* xorshift64*: mask keys and handshake nonces need to be unpredictable
 * to an attacker (RFC 6455 §5.3), not cryptographically strong for a
 * benchmark.  Seeded by the client's main(). */
static inline uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static inline int msb64(uint64_t v)
{
    int b = 0;

    while (v >>= 1) {
        b++;
    }
    return b;
}

static inline void hist_add(struct hist *h, uint64_t us)
{
    size_t i;

    if (us < 2 * H_SUB) {
        i = us;
    }
    else {
        int e = msb64(us) - 7;
        i = 2 * H_SUB + (size_t)(e - 1) * H_SUB + ((us >> e) - H_SUB);
        if (i >= H_BUCKETS) {
            i = H_BUCKETS - 1;
        }
    }
    h->n[i]++;
    h->count++;
}

static inline uint64_t hist_value(size_t i)
{
    int e;

    if (i < 2 * H_SUB) {
        return i;
    }
    e = (int)((i - 2 * H_SUB) / H_SUB) + 1;
    return (uint64_t)((i - 2 * H_SUB) % H_SUB + H_SUB) << e;
}

/* Smallest recorded value v with at least q of the samples <= v. */
static inline uint64_t hist_quantile(const struct hist *h, double q)
{
    uint64_t want = (uint64_t)(q * (double)h->count + 0.999999), seen = 0;
    size_t i;

    if (h->count == 0) {
        return 0;
    }
    for (i = 0; i < H_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= want && h->n[i]) {
            return hist_value(i);
        }
    }
    return hist_value(H_BUCKETS - 1);
}

/* SHA-1 and base64, for Sec-WebSocket-Accept (RFC 6455 §4.2.2) */

static inline uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static inline void sha1(const unsigned char *msg, size_t len,
                        unsigned char out[20])
{
    uint32_t h[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476,
                      0xC3D2E1F0 };
    unsigned char block[64];
    size_t total = ((len + 8) / 64 + 1) * 64, off;
    int i;

    for (off = 0; off < total; off += 64) {
        uint32_t w[80], a, b, c, d, e;

        /* the message, then 0x80, zeros, and the bit length */
        for (i = 0; i < 64; i++) {
            size_t k = off + (size_t)i;
            if (k < len) {
                block[i] = msg[k];
            }
            else if (k == len) {
                block[i] = 0x80;
            }
            else if (k >= total - 8) {
                block[i] = (unsigned char)(((uint64_t)len * 8)
                                           >> (8 * (total - 1 - k)));
            }
            else {
                block[i] = 0;
            }
        }
        for (i = 0; i < 16; i++) {
            w[i] = (uint32_t)block[4 * i] << 24
                   | (uint32_t)block[4 * i + 1] << 16
                   | (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
        }
        for (i = 16; i < 80; i++) {
            w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        }
        a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (i = 0; i < 80; i++) {
            uint32_t f, k, t;
            if (i < 20) {
                f = (b & c) | (~b & d), k = 0x5A827999;
            }
            else if (i < 40) {
                f = b ^ c ^ d, k = 0x6ED9EBA1;
            }
            else if (i < 60) {
                f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
            }
            else {
                f = b ^ c ^ d, k = 0xCA62C1D6;
            }
            t = rol(a, 5) + f + e + k + w[i];
            e = d, d = c, c = rol(b, 30), b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    for (i = 0; i < 20; i++) {
        out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
    }
}

static inline void base64(const unsigned char *in, size_t len, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        *out++ = tab[in[i] >> 2];
        *out++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *out++ = tab[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        *out++ = tab[in[i + 2] & 63];
    }
    if (i < len) {
        *out++ = tab[in[i] >> 2];
        if (i + 1 < len) {
            *out++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
            *out++ = tab[(in[i + 1] & 15) << 2];
        }
        else {
            *out++ = tab[(in[i] & 3) << 4];
            *out++ = '=';
        }
        *out++ = '=';
    }
    *out = '\0';
}

static inline char *find_header(char *head, const char *name)
{
    size_t nl = strlen(name);
    char *p = strstr(head, "\r\n");

    while (p && p[2] != '\r') {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            return p;
        }
        p = strstr(p, "\r\n");
    }
    return NULL;
}

#endif /* BENCHLIB_H */
