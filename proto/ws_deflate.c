/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_deflate.c -- permessage-deflate (RFC 7692): offer negotiation and
 * the per-message deflater / inflater over zlib's raw deflate streams.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "ws_deflate.h"

/* --- negotiation ---------------------------------------------------- */

#define PMD_NAME "permessage-deflate"

/* RFC 2616 section 2.2: a token character (no CTL, no separator) */
static int is_tchar(unsigned char c)
{
    if (c <= 32 || c >= 127) {
        return 0;
    }
    return strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

/* Advances *s past a token (not at all if there is none). */
static void take_token(const char **s)
{
    while (is_tchar((unsigned char)**s)) {
        (*s)++;
    }
}

/* One permessage-deflate offer, collected parameter by parameter. */
typedef struct {
    int snct, cnct;   /* server/client_no_context_takeover seen */
    int smwb;         /* server_max_window_bits: 0 = absent */
    int cmwb;         /* client_max_window_bits: 0 absent, -1 no value */
    const char *bad;  /* why the offer must be declined, or NULL */
} offer_t;

/* "8" to "15" without leading zeros (RFC 7692 sections 7.1.2.1/2) */
static int window_value(const char *v, apr_size_t n)
{
    if (n == 1 && (v[0] == '8' || v[0] == '9')) {
        return v[0] - '0';
    }
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
        return 10 + v[1] - '0';
    }
    return 0;
}

/* Records one parameter of an offer (value NULL when it has none). */
static void offer_param(offer_t *o, const char *name, apr_size_t nlen,
                        const char *value, apr_size_t vlen)
{
#define IS(lit) (nlen == sizeof(lit) - 1 && memcmp(name, lit, nlen) == 0)
    if (o->bad != NULL) {
        return;
    }
    /* section 5.1: a repeated parameter, an invalid value or a parameter
     * not defined for an offer declines the offer */
    if (IS("server_no_context_takeover")) {
        if (o->snct || value != NULL) {
            o->bad = "server_no_context_takeover repeated or with a value";
        }
        o->snct = 1;
    }
    else if (IS("client_no_context_takeover")) {
        if (o->cnct || value != NULL) {
            o->bad = "client_no_context_takeover repeated or with a value";
        }
        o->cnct = 1;
    }
    else if (IS("server_max_window_bits")) {
        if (o->smwb != 0 || value == NULL
            || (o->smwb = window_value(value, vlen)) == 0) {
            o->bad = "server_max_window_bits repeated or not 8 to 15";
        }
    }
    else if (IS("client_max_window_bits")) {
        /* the only parameter that may come without a value (7.1.2.2) */
        if (o->cmwb != 0) {
            o->bad = "client_max_window_bits repeated";
        }
        else if (value == NULL) {
            o->cmwb = -1;
        }
        else if ((o->cmwb = window_value(value, vlen)) == 0) {
            o->bad = "client_max_window_bits not 8 to 15";
        }
    }
    else {
        o->bad = "unknown parameter";
    }
#undef IS
}

/* Decides an offer; returns 1 and fills *params if we accept it. */
static int offer_accept(const offer_t *o, const ws_deflate_config_t *conf,
                        ws_deflate_params_t *params, const char **why)
{
    int sbits = conf->window_bits;

    if (o->bad != NULL) {
        *why = o->bad;
        return 0;
    }
    if (o->smwb != 0) {
        /* section 7.1.2.1: we may compress with a window no larger than
         * the client's; zlib cannot go below 9 */
        if (o->smwb < WS_DEFLATE_MIN_WINDOW) {
            *why = "server_max_window_bits=8 is not supported (zlib)";
            return 0;
        }
        sbits = o->smwb < sbits ? o->smwb : sbits;
    }
    params->server_window_bits = sbits;
    params->server_no_context_takeover = o->snct || conf->no_context_takeover;
    params->client_no_context_takeover = o->cnct;
    /* section 7.1.2.2: we may ask for a smaller client window only when
     * the client said it can honour one; otherwise it uses 15 */
    if (o->cmwb != 0) {
        int cbits = o->cmwb > 0 ? o->cmwb : WS_DEFLATE_MAX_WINDOW;
        params->client_window_bits = conf->window_bits < cbits
                                         ? conf->window_bits : cbits;
    }
    else {
        params->client_window_bits = 0;
    }
    return 1;
}

static const char *format_response(apr_pool_t *p, const offer_t *o,
                                   const ws_deflate_params_t *params)
{
    const char *s = PMD_NAME;

    if (params->server_no_context_takeover) {
        s = apr_pstrcat(p, s, "; server_no_context_takeover", NULL);
    }
    if (params->client_no_context_takeover) {
        s = apr_pstrcat(p, s, "; client_no_context_takeover", NULL);
    }
    /* section 7.1.2.1: required in answer to the parameter, and allowed
     * without it: tells the client it can inflate with a smaller window */
    if (o->smwb != 0 || params->server_window_bits < WS_DEFLATE_MAX_WINDOW) {
        s = apr_psprintf(p, "%s; server_max_window_bits=%d", s,
                         params->server_window_bits);
    }
    if (o->cmwb != 0) {
        s = apr_psprintf(p, "%s; client_max_window_bits=%d", s,
                         params->client_window_bits);
    }
    return s;
}

/* A parameter value at *s: a token or a quoted-string whose unescaped
 * content is a token (RFC 6455 section 9.1).  Copies the value into buf
 * (at most cap bytes kept); returns its length, or -1 if malformed. */
static long take_value(const char **s, char *buf, apr_size_t cap)
{
    const char *p = *s;
    apr_size_t n = 0;

    if (*p != '"') {
        const char *start = p;
        while (is_tchar((unsigned char)*p)) {
            if (n < cap) {
                buf[n] = *p;
            }
            n++;
            p++;
        }
        *s = p;
        return p == start ? -1 : (long)(n < cap ? n : cap);
    }
    for (p++; *p != '"'; p++) {
        if (*p == '\\') {
            p++;
        }
        /* inside the quotes only token characters make a valid value */
        if (*p == '\0' || !is_tchar((unsigned char)*p)) {
            return -1;
        }
        if (n < cap) {
            buf[n] = *p;
        }
        n++;
    }
    *s = p + 1;
    return n == 0 ? -1 : (long)(n < cap ? n : cap);
}

ws_deflate_result_e ws_deflate_negotiate(apr_pool_t *p, const char *header,
                                         const ws_deflate_config_t *conf,
                                         ws_deflate_params_t *params,
                                         const char **response,
                                         const char **why)
{
    const char *s = header, *name, *dummy_why = NULL;
    int elements = 0, accepted = 0;
    offer_t best;

    if (why == NULL) {
        why = &dummy_why;
    }
    *why = NULL;
    if (header == NULL) {
        return WS_DEFLATE_NONE;
    }
    memset(&best, 0, sizeof(best));
    /* extension-list = 1#extension (RFC 6455 section 9.1); empty list
     * elements are allowed by the # rule */
    for (;;) {
        offer_t o;
        apr_size_t nlen;
        int is_pmd;

        s = skip_ows(s);
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '\0') {
            break;
        }
        name = s;
        take_token(&s);
        nlen = (apr_size_t)(s - name);
        if (nlen == 0) {
            *why = "Sec-WebSocket-Extensions: extension name expected";
            return WS_DEFLATE_MALFORMED;
        }
        elements++;
        is_pmd = nlen == sizeof(PMD_NAME) - 1
                 && memcmp(name, PMD_NAME, nlen) == 0;
        memset(&o, 0, sizeof(o));
        for (;;) {
            const char *pname;
            apr_size_t plen;
            char vbuf[8];
            long vlen = 0;
            int has_value = 0;

            s = skip_ows(s);
            if (*s != ';') {
                break;
            }
            s = skip_ows(s + 1);
            pname = s;
            take_token(&s);
            plen = (apr_size_t)(s - pname);
            if (plen == 0) {
                *why = "Sec-WebSocket-Extensions: parameter name expected";
                return WS_DEFLATE_MALFORMED;
            }
            s = skip_ows(s);
            if (*s == '=') {
                s = skip_ows(s + 1);
                vlen = take_value(&s, vbuf, sizeof(vbuf));
                if (vlen < 0) {
                    *why = "Sec-WebSocket-Extensions: parameter value is "
                           "not a token";
                    return WS_DEFLATE_MALFORMED;
                }
                has_value = 1;
            }
            if (is_pmd) {
                /* a value longer than vbuf is cut: no valid value is
                 * that long, and a cut one is still no valid value */
                if (has_value && vlen == (long)sizeof(vbuf)) {
                    vbuf[0] = 'x';
                }
                offer_param(&o, pname, plen, has_value ? vbuf : NULL,
                            (apr_size_t)vlen);
            }
        }
        if (*s != ',' && *s != '\0') {
            *why = "Sec-WebSocket-Extensions: ',' or ';' expected";
            return WS_DEFLATE_MALFORMED;
        }
        /* section 5: offers in order of preference; the first we can
         * honour wins, the rest are still parsed for syntax */
        if (is_pmd && !accepted && offer_accept(&o, conf, params, why)) {
            accepted = 1;
            best = o;
        }
    }
    if (elements == 0) {
        *why = "Sec-WebSocket-Extensions: empty";
        return WS_DEFLATE_MALFORMED;
    }
    if (!accepted) {
        return WS_DEFLATE_NONE;
    }
    *why = NULL;
    *response = format_response(p, &best, params);
    if (params->client_window_bits == 0) {
        params->client_window_bits = WS_DEFLATE_MAX_WINDOW;
    }
    return WS_DEFLATE_ACCEPTED;
}

/* --- inflater ------------------------------------------------------- */

/* RFC 7692 section 7.2.2: the sender removed this from every message */
static const unsigned char trailer[4] = {0x00, 0x00, 0xff, 0xff};

void ws_inflater_init(ws_inflater_t *z, int window_bits, int no_context)
{
    memset(z, 0, sizeof(*z));
    /* a window of 8 bits is decoded by a larger one just as well */
    z->window_bits = window_bits < WS_DEFLATE_MIN_WINDOW
                         ? WS_DEFLATE_MIN_WINDOW : window_bits;
    z->no_context = no_context;
}

void ws_inflater_release(ws_inflater_t *z)
{
    if (z->ready) {
        inflateEnd(&z->zs);
        z->ready = 0;
    }
    z->tail = 0;
    z->ended = 0;
}

/* After a stream's end: a fresh stream that keeps the window. */
static int restart_with_window(ws_inflater_t *z)
{
    unsigned char *dict = malloc((apr_size_t)1 << z->window_bits);
    uInt len = 0;
    int ok;

    if (dict == NULL) {
        return 0;
    }
    ok = inflateGetDictionary(&z->zs, dict, &len) == Z_OK
         && inflateReset(&z->zs) == Z_OK
         && (len == 0 || inflateSetDictionary(&z->zs, dict, len) == Z_OK);
    free(dict);
    return ok;
}

ws_zresult_e ws_inflate(ws_inflater_t *z, const unsigned char **in,
                        apr_size_t *inlen, unsigned char *out,
                        apr_size_t *outlen, int finish)
{
    apr_size_t room = *outlen;
    int rc;

    *outlen = 0;
    if (!z->ready) {
        memset(&z->zs, 0, sizeof(z->zs));
        /* negative windowBits: raw deflate, no zlib header (7.2.2) */
        if (inflateInit2(&z->zs, -z->window_bits) != Z_OK) {
            return WS_ZNOMEM;
        }
        z->ready = 1;
        z->tail = 0;
    }
    z->zs.next_out = out;
    z->zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
    for (;;) {
        if (z->ended) {
            /* after a final block nothing more of the message counts */
            *in += *inlen;
            *inlen = 0;
            z->tail = sizeof(trailer);
            break;
        }
        uInt before_in, before_out;
        int from_tail = 0;

        if (*inlen > 0) {
            z->zs.next_in = (unsigned char *)*in;
            z->zs.avail_in = *inlen > UINT_MAX ? UINT_MAX : (uInt)*inlen;
        }
        else if (finish && z->tail < sizeof(trailer)) {
            z->zs.next_in = (unsigned char *)trailer + z->tail;
            z->zs.avail_in = (uInt)(sizeof(trailer) - z->tail);
            from_tail = 1;
        }
        else {
            z->zs.next_in = NULL;
            z->zs.avail_in = 0;
        }
        if (z->zs.avail_out == 0) {
            break;
        }
        /* called also without input: zlib may hold output from before */
        before_in = z->zs.avail_in;
        before_out = z->zs.avail_out;
        rc = inflate(&z->zs, Z_SYNC_FLUSH);
        if (from_tail) {
            z->tail += before_in - z->zs.avail_in;
        }
        else if (before_in > 0) {
            *in += before_in - z->zs.avail_in;
            *inlen -= before_in - z->zs.avail_in;
        }
        if (rc == Z_STREAM_END) {
            /* a final block (BFINAL, section 7.2.3.4): the rest of the
             * message, our trailer included, is past the stream's end */
            z->ended = 1;
            break;
        }
        if (rc == Z_MEM_ERROR) {
            *outlen = room - z->zs.avail_out;
            return WS_ZNOMEM;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            *outlen = room - z->zs.avail_out;
            return WS_ZCORRUPT;
        }
        if (rc == Z_BUF_ERROR
            || (before_in == z->zs.avail_in
                && before_out == z->zs.avail_out)) {
            break; /* no progress possible with this input and room */
        }
    }
    *outlen = room - z->zs.avail_out;
    /* done when everything, trailer included, went in and the last call
     * left room: zlib then holds no more output */
    if (finish && *inlen == 0 && z->tail == sizeof(trailer)
        && (z->zs.avail_out > 0 || z->ended)) {
        z->tail = 0;
        if (z->ended && !z->no_context) {
            /* the next message is a new stream, but with context
             * takeover it may refer to this one's window */
            if (!restart_with_window(z)) {
                return WS_ZNOMEM;
            }
        }
        z->ended = 0;
        if (z->no_context) {
            /* section 7.2.3.2 (client_no_context_takeover): nothing of
             * this message is needed for the next; the state is freed
             * so that a quiet connection holds no window */
            ws_inflater_release(z);
        }
        return WS_ZDONE;
    }
    return WS_ZOK;
}

/* --- deflater ------------------------------------------------------- */

/* the stack buffer compressed output is produced into */
#define DEFLATE_CHUNK 8192

void ws_deflater_init(ws_deflater_t *z, int window_bits, int mem_level,
                      int no_context)
{
    memset(z, 0, sizeof(*z));
    z->window_bits = window_bits;
    z->mem_level = mem_level;
    z->no_context = no_context;
}

void ws_deflater_release(ws_deflater_t *z)
{
    if (z->ready) {
        deflateEnd(&z->zs);
        z->ready = 0;
    }
    z->nheld = 0;
    z->msg_out = 0;
}

/* Passes on @p n new bytes, always holding back the last four produced:
 * at the end of the message they are the flush trailer to remove. */
static apr_status_t emit_held(ws_deflater_t *z, const unsigned char *buf,
                              apr_size_t n, ws_deflate_emit_fn emit,
                              void *baton)
{
    unsigned char tmp[8];
    apr_size_t t;
    apr_status_t rv = APR_SUCCESS;

    if (n >= 4) {
        if (z->nheld > 0) {
            rv = emit(baton, z->held, z->nheld);
            z->msg_out += z->nheld;
        }
        if (rv == APR_SUCCESS && n > 4) {
            rv = emit(baton, buf, n - 4);
            z->msg_out += n - 4;
        }
        memcpy(z->held, buf + n - 4, 4);
        z->nheld = 4;
        return rv;
    }
    memcpy(tmp, z->held, z->nheld);
    memcpy(tmp + z->nheld, buf, n);
    t = z->nheld + n;
    if (t > 4) {
        rv = emit(baton, tmp, t - 4);
        z->msg_out += t - 4;
        memcpy(z->held, tmp + t - 4, 4);
        z->nheld = 4;
    }
    else {
        memcpy(z->held, tmp, t);
        z->nheld = (unsigned int)t;
    }
    return rv;
}

apr_status_t ws_deflate(ws_deflater_t *z, const unsigned char *in,
                        apr_size_t inlen, int end, ws_deflate_emit_fn emit,
                        void *baton)
{
    unsigned char buf[DEFLATE_CHUNK];
    apr_status_t rv = APR_SUCCESS;

    if (!z->ready) {
        memset(&z->zs, 0, sizeof(z->zs));
        if (deflateInit2(&z->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                         -z->window_bits, z->mem_level,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            return APR_ENOMEM;
        }
        z->ready = 1;
        z->nheld = 0;
        z->msg_out = 0;
    }
    do {
        /* zlib counts in uInt: a larger buffer goes in slices */
        uInt slice = inlen > UINT_MAX / 2 ? UINT_MAX / 2 : (uInt)inlen;
        int flush = end && slice == inlen ? Z_SYNC_FLUSH : Z_NO_FLUSH;

        z->zs.next_in = (unsigned char *)in;
        z->zs.avail_in = slice;
        do {
            int rc;

            z->zs.next_out = buf;
            z->zs.avail_out = sizeof(buf);
            rc = deflate(&z->zs, flush);
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                return APR_EGENERAL;
            }
            if (sizeof(buf) - z->zs.avail_out > 0) {
                rv = emit_held(z, buf, sizeof(buf) - z->zs.avail_out, emit,
                               baton);
                if (rv != APR_SUCCESS) {
                    return rv;
                }
            }
            /* avail_out 0: there may be more; else all input is in and,
             * with Z_SYNC_FLUSH, all output out */
        } while (z->zs.avail_out == 0);
        in += slice;
        inlen -= slice;
    } while (inlen > 0);

    if (end) {
        /* section 7.2.1: the sync flush ends in an empty stored block,
         * 00 00 ff ff, which is not sent */
        if (!(z->nheld == 4 && memcmp(z->held, trailer, 4) == 0)
            && z->nheld > 0) {
            rv = emit(baton, z->held, z->nheld);
            z->msg_out += z->nheld;
        }
        if (z->msg_out == 0 && rv == APR_SUCCESS) {
            /* zlib writes nothing for a flush right after a flush (an
             * empty message after another): section 7.2.3.6 wants a
             * single 0x00 -- the header of the empty stored block whose
             * LEN/NLEN (00 00 ff ff) the receiver appends */
            static const unsigned char empty_block[1] = {0x00};
            rv = emit(baton, empty_block, 1);
        }
        z->nheld = 0;
        z->msg_out = 0;
        if (z->no_context) {
            /* server_no_context_takeover: the next message starts from
             * an empty window, so the state need not live until then */
            ws_deflater_release(z);
        }
    }
    return rv;
}
