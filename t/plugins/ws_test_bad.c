/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_test_bad.c -- init functions for the loader tests (t/config.t,
 * t/api.t).  One DSO, several init symbols:
 *
 *   null_init        returns NULL                       -> config error
 *   badversion_init  version 2 (unknown)                -> config error
 *   small_init       size < sizeof(WebSocketPlugin)     -> config error
 *   nomessage_init   on_message NULL                    -> config error
 *   big_init         size > sizeof(WebSocketPlugin)     -> accepted (echo)
 *   minimal_init     only on_message (no destroy, on_connect,
 *                    on_disconnect)                     -> accepted (echo)
 *   counting_init    valid echo plugin; init writes "ws_test_bad: init" and
 *                    destroy "ws_test_bad: destroy" (one line each) to
 *                    stderr, so a test can count loads per configuration
 *                    generation.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "websocket_plugin.h"

static size_t CALLBACK echo_message(void *plugin_private,
                                    const WebSocketServer *server,
                                    const int type, unsigned char *buffer,
                                    const size_t size)
{
    (void)plugin_private;
    server->send(server, type, buffer, size);
    return 0;
}

static void *CALLBACK accept_connect(const WebSocketServer *server)
{
    (void)server;
    return (void *)1;   /* non-NULL: accept; never dereferenced */
}

/* ---- rejected ---------------------------------------------------------- */

EXPORT WebSocketPlugin *CALLBACK null_init(void);
EXPORT WebSocketPlugin *CALLBACK null_init(void)
{
    return NULL;
}

static WebSocketPlugin badversion_plugin = {
    sizeof(WebSocketPlugin), 2, NULL, accept_connect, echo_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK badversion_init(void);
EXPORT WebSocketPlugin *CALLBACK badversion_init(void)
{
    return &badversion_plugin;
}

static WebSocketPlugin small_plugin = {
    sizeof(WebSocketPlugin) - sizeof(WS_OnDisconnect),
    WEBSOCKET_PLUGIN_VERSION_0, NULL, accept_connect, echo_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK small_init(void);
EXPORT WebSocketPlugin *CALLBACK small_init(void)
{
    return &small_plugin;
}

static WebSocketPlugin nomessage_plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL,
    accept_connect, NULL, NULL
};

EXPORT WebSocketPlugin *CALLBACK nomessage_init(void);
EXPORT WebSocketPlugin *CALLBACK nomessage_init(void)
{
    return &nomessage_plugin;
}

/* ---- accepted ---------------------------------------------------------- */

/* a plugin from a "future" API: more members after the v0 ones */
static struct {
    WebSocketPlugin v0;
    void *future[4];
} big_plugin = {
    { sizeof(big_plugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, accept_connect,
      echo_message, NULL },
    { NULL, NULL, NULL, NULL }
};

EXPORT WebSocketPlugin *CALLBACK big_init(void);
EXPORT WebSocketPlugin *CALLBACK big_init(void)
{
    return &big_plugin.v0;
}

/* says version 1 but has only the members of version 0 (this file sees
 * the 40-byte struct): accepted, and never read past its end */
static WebSocketPlugin v1small_plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_1, NULL,
    accept_connect, echo_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK v1small_init(void);
EXPORT WebSocketPlugin *CALLBACK v1small_init(void)
{
    return &v1small_plugin;
}

static WebSocketPlugin minimal_plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, NULL,
    echo_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK minimal_init(void);
EXPORT WebSocketPlugin *CALLBACK minimal_init(void)
{
    return &minimal_plugin;
}

static void logline(const char *line)
{
    ssize_t n = write(2, line, strlen(line));
    (void)n;
}

static void CALLBACK counting_destroy(WebSocketPlugin *plugin)
{
    (void)plugin;
    logline("ws_test_bad: destroy\n");
}

static WebSocketPlugin counting_plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, counting_destroy,
    accept_connect, echo_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK counting_init(void);
EXPORT WebSocketPlugin *CALLBACK counting_init(void)
{
    logline("ws_test_bad: init\n");
    return &counting_plugin;
}
