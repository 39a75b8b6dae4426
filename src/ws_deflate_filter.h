/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_deflate_filter.h -- WEBSOCKET_DEFLATE_IN / WEBSOCKET_DEFLATE_OUT,
 * the permessage-deflate (RFC 7692) filter pair between the session and
 * WEBSOCKET_IN / WEBSOCKET_OUT.
 */
#ifndef WS_DEFLATE_FILTER_H
#define WS_DEFLATE_FILTER_H

#include "httpd.h"
#include "util_filter.h"

#include "ws_deflate.h"
#include "ws_frame.h"

/** Registers the two filters (from register_hooks). */
void ws_deflate_filter_register_hooks(apr_pool_t *p);

/**
 * Installs the filter pair on @p c, after the 101 of a handshake that
 * agreed on permessage-deflate, and lets @p parser accept RSV1.
 * @param params      what was agreed
 * @param mem_level   zlib memLevel of our deflater
 * @param min_size    messages shorter than this go out uncompressed
 * @param max_message limit on a message's inflated size (0 = none)
 * @param too_large_code 1009, or 1004 for protocol versions 7 and 8
 * @remark zlib's state is allocated on first use and freed with c->pool
 */
void ws_deflate_filter_add(conn_rec *c, ws_frame_parser_t *parser,
                           const ws_deflate_params_t *params, int mem_level,
                           apr_size_t min_size, apr_uint64_t max_message,
                           int too_large_code);

#endif /* WS_DEFLATE_FILTER_H */
