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

#endif /* WS_FILTERS_H */
