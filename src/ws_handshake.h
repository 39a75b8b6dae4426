/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_handshake.h -- the websocket-handler: the opening handshake
 * (RFC 6455 section 4.2), the plugin's on_connect, the 101.
 */
#ifndef WS_HANDSHAKE_H
#define WS_HANDSHAKE_H

#include "apr_pools.h"

/** Registers the handler (from register_hooks). */
void ws_handshake_register_hooks(apr_pool_t *p);

#endif /* WS_HANDSHAKE_H */
