/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * mod_websocket_echo.c -- example plugin: sends every message back with
 * the same type.
 *
 *     <Location /echo>
 *         SetHandler websocket-handler
 *         WebSocketHandler modules/mod_websocket_echo.so echo_init
 *     </Location>
 */
#include "websocket_plugin.h"

static size_t CALLBACK echo_on_message(void *plugin_private,
                                       const WebSocketServer *server,
                                       const int type, unsigned char *buffer,
                                       const size_t buffer_size)
{
    (void)plugin_private;
    return server->send(server, type, buffer, buffer_size);
}

static WebSocketPlugin echo_plugin = {
    sizeof(WebSocketPlugin),
    WEBSOCKET_PLUGIN_VERSION_0,
    NULL, /* destroy */
    NULL, /* on_connect: accept everyone */
    echo_on_message,
    NULL  /* on_disconnect */
};

EXPORT WebSocketPlugin *CALLBACK echo_init(void);

EXPORT WebSocketPlugin *CALLBACK echo_init(void)
{
    return &echo_plugin;
}
