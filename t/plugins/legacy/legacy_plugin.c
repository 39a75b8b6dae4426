/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * legacy_plugin.c -- a plugin written exactly as for apache-websocket
 * 0.1.2 (after its examples/mod_websocket_echo.c), kept unchanged to prove
 * source compatibility of websocket_plugin.h.  Init function: legacy_init.
 *
 * on_connect copies the request header X-Legacy into the response header
 * X-Legacy-Seen; on_message echoes every message with its type.
 *
 * Do not modernise this file: the 0.1.2 idioms below (EXPORT and CALLBACK
 * on every function, an init function declared with empty parentheses, a
 * positional WebSocketPlugin initialiser) are what it is here to test.
 */
#include <stdlib.h>

#include "websocket_plugin.h"

/* non-NULL private data: accepts the connection */
static int legacy_private;

void CALLBACK legacy_destroy(WebSocketPlugin *plugin)
{
    (void)plugin;
}

void *CALLBACK legacy_on_connect(const WebSocketServer *server)
{
    const char *value = server->header_get(server, "X-Legacy");

    if (value != NULL) {
        server->header_set(server, "X-Legacy-Seen", value);
    }
    return &legacy_private;
}

size_t CALLBACK legacy_on_message(void *plugin_private,
                                  const WebSocketServer *server,
                                  const int type, unsigned char *buffer,
                                  const size_t buffer_size)
{
    (void)plugin_private;
    return server->send(server, type, buffer, buffer_size);
}

void CALLBACK legacy_on_disconnect(void *plugin_private,
                                   const WebSocketServer *server)
{
    (void)plugin_private;
    (void)server;
}

static WebSocketPlugin s_plugin = {
    sizeof(WebSocketPlugin),
    WEBSOCKET_PLUGIN_VERSION_0,
    legacy_destroy,
    legacy_on_connect,
    legacy_on_message,
    legacy_on_disconnect
};

extern EXPORT WebSocketPlugin *CALLBACK legacy_init()
{
    return &s_plugin;
}
