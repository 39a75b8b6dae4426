/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_server.h -- the WebSocketServer table plugins call (API v0 and
 * v1) and the WebSocketHost of v1 plugins.
 */
#ifndef WS_SERVER_H
#define WS_SERVER_H

#include "ws_session.h"

/** Fills in @p s's WebSocketServer function table, before on_connect. */
void ws_server_init(ws_session_t *s);

/** Fills in @p wp's WebSocketHost (publish, options), at load. */
void ws_server_host_init(ws_plugin_t *wp);

#endif /* WS_SERVER_H */
