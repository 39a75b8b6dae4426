/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_deflate.h -- permessage-deflate (RFC 7692): the negotiation of the
 * Sec-WebSocket-Extensions offer and the per-message deflater and
 * inflater.  Depends on APR and zlib only (unit tests, fuzzers).
 */
#ifndef WS_DEFLATE_H
#define WS_DEFLATE_H

#include <apr_pools.h>
#include <zlib.h>

/* zlib cannot produce a raw deflate stream with an LZ77 window of 256
 * bytes (windowBits 8 is refused since zlib 1.2.9): our own window is
 * 512 bytes at least, and an offer that caps it at 8 is declined. */
#define WS_DEFLATE_MIN_WINDOW 9
#define WS_DEFLATE_MAX_WINDOW 15

/** The server's side of the negotiation (from the directives). */
typedef struct {
    int window_bits;        /**< our LZ77 window, and the one we ask the
                                 client for: 9..15 */
    int mem_level;          /**< zlib memLevel of our deflater: 1..9 */
    int no_context_takeover; /**< 1: we reset our context per message */
} ws_deflate_config_t;

/** What was agreed for one connection. */
typedef struct {
    int server_no_context_takeover; /**< we compress each message alone */
    int client_no_context_takeover; /**< the client does */
    int server_window_bits;         /**< our deflater's window: 9..15 */
    int client_window_bits;         /**< the client's window: 8..15 */
} ws_deflate_params_t;

typedef enum {
    WS_DEFLATE_NONE = 0,  /**< no acceptable permessage-deflate offer */
    WS_DEFLATE_ACCEPTED,  /**< *params and *response are set */
    WS_DEFLATE_MALFORMED  /**< the header is not an extension-list */
} ws_deflate_result_e;

/**
 * Negotiates permessage-deflate from a Sec-WebSocket-Extensions value.
 *
 * Each permessage-deflate offer is tried in order (RFC 7692 section 5);
 * the first one we can accept wins.  An offer with an unknown parameter,
 * a repeated one, a bad value or a configuration we cannot honour is
 * declined and the next one tried (section 5.1); other extensions are
 * skipped.  A value that is not an extension-list by the grammar of RFC
 * 6455 section 9.1 makes the handshake fail (section 4.2.1: 400).
 *
 * @param p        pool for *response and *why
 * @param header   the header value (several headers joined with ", "),
 *                 or NULL
 * @param conf     the server's settings
 * @param params   set when an offer is accepted
 * @param response set to the response's Sec-WebSocket-Extensions value
 *                 when an offer is accepted
 * @param why      when not NULL, set to a static text for the log
 *                 (malformed header, or why the last offer was declined)
 */
ws_deflate_result_e ws_deflate_negotiate(apr_pool_t *p, const char *header,
                                         const ws_deflate_config_t *conf,
                                         ws_deflate_params_t *params,
                                         const char **response,
                                         const char **why);

/** What a deflater or inflater step did. */
typedef enum {
    WS_ZOK = 0,    /**< progress; call again while there is input / room */
    WS_ZDONE,      /**< the message is complete (inflate with finish) */
    WS_ZCORRUPT,   /**< not a valid deflate stream (inflate) */
    WS_ZNOMEM      /**< zlib could not allocate its state */
} ws_zresult_e;

/**
 * A per-connection inflater.  zlib's state (the window plus about 7 KiB)
 * is allocated on the first compressed message and, when the client does
 * not keep its context, released after each message: a connection that
 * receives no compressed message costs nothing.
 */
typedef struct {
    z_stream zs;
    int ready;          /**< zs is initialised */
    int window_bits;
    int no_context;     /**< release the state after each message */
    unsigned int tail;  /**< bytes of 00 00 ff ff fed at the message end */
    int ended;          /**< the message's stream had a final block */
} ws_inflater_t;

/** Sets up @p z (allocates nothing). */
void ws_inflater_init(ws_inflater_t *z, int window_bits, int no_context);

/**
 * Inflates part of a compressed message.
 *
 * @param in,inlen  compressed input; advanced by what was consumed
 * @param out       output buffer
 * @param outlen    in: room in @p out; out: bytes written
 * @param finish    1 when all of the message's input has been given: the
 *                  trailer 00 00 ff ff that the sender removed (RFC 7692
 *                  section 7.2.2) is fed after it
 * @return WS_ZOK: call again (with more input, or more room if *outlen
 *         filled it); WS_ZDONE (finish only): the message is complete
 *         and all its output written; WS_ZCORRUPT / WS_ZNOMEM: fail.
 * @remark Never writes more than the room given: a caller enforces an
 *         output limit by the room it offers (decompression bombs).
 */
ws_zresult_e ws_inflate(ws_inflater_t *z, const unsigned char **in,
                        apr_size_t *inlen, unsigned char *out,
                        apr_size_t *outlen, int finish);

/** Releases zlib's state (the inflater can be used again). */
void ws_inflater_release(ws_inflater_t *z);

/** Called with each piece of compressed output. */
typedef apr_status_t (*ws_deflate_emit_fn)(void *baton,
                                           const unsigned char *data,
                                           apr_size_t len);

/**
 * A per-connection deflater; zlib's state is allocated on the first
 * message and released after each one without context takeover.
 */
typedef struct {
    z_stream zs;
    int ready;
    int window_bits;
    int mem_level;
    int no_context;
    unsigned char held[4]; /**< the last bytes produced: held back until
                                we know they are not the flush trailer */
    unsigned int nheld;
    apr_size_t msg_out;    /**< bytes produced for the current message */
} ws_deflater_t;

/** Sets up @p z (allocates nothing). */
void ws_deflater_init(ws_deflater_t *z, int window_bits, int mem_level,
                      int no_context);

/**
 * Compresses part of a message; the output goes to @p emit in pieces.
 * With @p end set the message is finished with a sync flush, whose
 * trailing 00 00 ff ff is removed (RFC 7692 section 7.2.1).
 * @return APR_SUCCESS, APR_ENOMEM, or what @p emit returned
 */
apr_status_t ws_deflate(ws_deflater_t *z, const unsigned char *in,
                        apr_size_t inlen, int end, ws_deflate_emit_fn emit,
                        void *baton);

/** Releases zlib's state (the deflater can be used again). */
void ws_deflater_release(ws_deflater_t *z);

#endif /* WS_DEFLATE_H */
