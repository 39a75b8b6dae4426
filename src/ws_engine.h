/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_engine.h -- the session engine: takes the connection over after the
 * 101, turns frames into plugin callbacks (ws_recv.h) and
 * queued sends into frames (ws_engine_flush_queue), runs the closing
 * handshake and the timers.  It never blocks except in a blocking
 * owner's writes, and knows nothing of which driver calls it: every
 * function here is for the thread that owns the I/O (ws_io.h).
 */
#ifndef WS_ENGINE_H
#define WS_ENGINE_H

#include "ws_session.h"

/**
 * Takes over the connection after the 101: removes the HTTP filters,
 * installs WEBSOCKET_IN/OUT (and permessage-deflate), moves to OPEN.
 */
void ws_engine_takeover(ws_session_t *s);

/**
 * Writes what other threads queued.  A non-blocking owner takes nothing
 * while earlier output is still pending (the queue's bound then holds).
 */
void ws_engine_flush_queue(ws_session_t *s);

/**
 * Does what is due at @p now: the closing handshake's deadline, pings,
 * the pong deadline, the idle timeout, output the client does not take,
 * a stopping child (1001).
 */
void ws_engine_on_timer(ws_session_t *s, apr_time_t now);

/** When ws_engine_on_timer() next has something to do (0: never). */
apr_time_t ws_engine_next_due(const ws_session_t *s);

/** Sends a close frame with @p code (0: none) and enters CLOSING. */
void ws_engine_send_close(ws_session_t *s, int code);

/** Sends a close frame with the given payload and enters CLOSING. */
void ws_engine_close_payload(ws_session_t *s, const unsigned char *p,
                             apr_size_t len);

/**
 * _Fail the WebSocket Connection_ (RFC 6455 section 7.1.7): logs why,
 * sends a close frame with @p code, and ends the session.
 */
void ws_engine_fail(ws_session_t *s, int code, const char *why);

/**
 * Tells a v1 plugin how the client closed (its on_close), once per
 * session: @p code and the close frame's reason (@p len bytes, valid
 * UTF-8), or WEBSOCKET_CLOSE_ABNORMAL when none came.
 */
void ws_engine_report_close(ws_session_t *s, int code,
                            const unsigned char *reason, apr_size_t len);

/**
 * Ends the session: refuses further sends, wakes blocked senders,
 * calls on_close (1006 if not called yet) and on_disconnect once, frees
 * the message buffer and the queue.
 */
void ws_engine_finish(ws_session_t *s);

#endif /* WS_ENGINE_H */
