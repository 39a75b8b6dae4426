/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_filters.h -- the WEBSOCKET_IN and WEBSOCKET_OUT connection filters.
 */
#ifndef WS_FILTERS_H
#define WS_FILTERS_H

#include "httpd.h"
#include "util_filter.h"

#include "ws_frame.h"

/** The two filters of one connection, for the session that owns them. */
typedef struct ws_filters_t ws_filters_t;

/** Registers WEBSOCKET_IN / WEBSOCKET_OUT (from register_hooks). */
void ws_filters_register_hooks(apr_pool_t *p);

/**
 * Installs the two filters on @p c after the 101.
 * @param max_message limit on a message's declared length (and control
 *        frame payloads); 0 = none
 * @param too_large_code 1009, or 1004 for protocol versions 7 and 8
 * @remark allocated from c->pool
 */
ws_filters_t *ws_filters_add(conn_rec *c, apr_uint64_t max_message,
                             int too_large_code);

/** The frame parser, whose settings an extension (permessage-deflate)
 * may adjust before the first read. */
ws_frame_parser_t *ws_filters_parser(ws_filters_t *fs);

/** Whether part of a frame has arrived and the rest has not. */
int ws_filters_mid_frame(const ws_filters_t *fs);

/**
 * Switches WEBSOCKET_OUT between blocking writes (the default: a FLUSH
 * waits for the client, bounded by the socket's timeout) and
 * non-blocking ones, for a thread that serves many connections: what the
 * client does not take stays in the filter until a later write or
 * ws_filters_push().  A blocking write sends what is held first.
 * @remark the I/O owner only; HTTP/2 streams always block
 */
void ws_filters_set_nonblock(ws_filters_t *fs, int on);

/**
 * Non-blocking mode: writes what the client takes now of the held
 * output.
 * @return APR_SUCCESS (see ws_filters_pending) or the connection's error
 */
apr_status_t ws_filters_push(ws_filters_t *fs);

/** Bytes written by the session and not yet taken by the client
 * (non-zero while anything is held). */
apr_size_t ws_filters_pending(const ws_filters_t *fs);

#endif /* WS_FILTERS_H */
