/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_bridge.h -- SetHandler websocket-bridge: a WebSocket relayed to a TCP
 * or unix-domain socket (WebSocketBridge).
 */
#ifndef WS_BRIDGE_H
#define WS_BRIDGE_H

#include "ws_plugin.h"
#include "ws_session.h"

/** The built-in consumer of a bridged session's messages. */
ws_plugin_t *ws_bridge_plugin(void);

/**
 * Connects @p s to its WebSocketBridge target (before the 101, on the
 * handler's thread) and makes the backend the session's peer socket.
 * @return OK, or the status to answer instead of the 101: 502 (refused,
 *         unreachable), 504 (WebSocketBridgeConnectTimeout), 500 (the
 *         target is not valid); logged
 * @remark the backend is closed once, at on_disconnect or with r->pool
 */
int ws_bridge_connect(ws_session_t *s);

#endif /* WS_BRIDGE_H */
