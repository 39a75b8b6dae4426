/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_server.h -- the WebSocketServer table plugins call (API v0 and
 * v1).
 */
#ifndef WS_SERVER_H
#define WS_SERVER_H

#include "ws_session.h"

/** Fills in @p s's WebSocketServer function table, before on_connect. */
void ws_server_init(ws_session_t *s);

#endif /* WS_SERVER_H */
