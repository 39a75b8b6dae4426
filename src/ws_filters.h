/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_filters.h -- the WEBSOCKET_IN and WEBSOCKET_OUT connection filters.
 */
#ifndef WS_FILTERS_H
#define WS_FILTERS_H

#include "httpd.h"
#include "util_filter.h"

#include "ws_frame.h"

/** Registers WEBSOCKET_IN / WEBSOCKET_OUT (from register_hooks). */
void ws_filters_register_hooks(apr_pool_t *p);

/**
 * Installs the two filters on @p c after the 101.
 * @param max_message limit on a message's declared length (and control
 *        frame payloads); 0 = none
 * @param too_large_code 1009, or 1004 for protocol versions 7 and 8
 * @return the parser, whose settings an extension (permessage-deflate)
 *         may adjust before the first read
 */
ws_frame_parser_t *ws_filters_add(conn_rec *c, apr_uint64_t max_message,
                                  int too_large_code);

/**
 * Prepares @p c for the asynchronous driver (@p on) or back: the input
 * filter answers httpd's speculative peek after the handler with data,
 * the output filter keeps the request's EOR bucket.
 */
void ws_filters_set_async(conn_rec *c, int on);

/** The process_connection hook has the connection: no more peek answers. */
void ws_filters_claimed(conn_rec *c);

/**
 * Destroys the kept EOR bucket: the request is logged and r->pool freed.
 * @remark nothing of the request (or the session in its pool) may be
 *         used afterwards
 */
void ws_filters_release_eor(conn_rec *c);

#endif /* WS_FILTERS_H */
