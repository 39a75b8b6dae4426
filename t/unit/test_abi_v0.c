/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_abi_v0.c -- the plugin header as a version 0 source sees it
 * (WEBSOCKET_PLUGIN_API not defined): the structs of SPEC section 1,
 * initialised positionally the way 0.1.2 plugins do, under -Werror.
 */

/* First and alone, as in a 0.1.2 plugin. */
#include "websocket_plugin.h"

#include <check.h>
#include <stddef.h>

#include "test_abi.h"

#if defined(WEBSOCKET_PLUGIN_API)
#error "this file is the view of a version 0 source"
#endif

size_t abi_v0_server_size(void)
{
    return sizeof(WebSocketServer);
}

size_t abi_v0_plugin_size(void)
{
    return sizeof(WebSocketPlugin);
}

/* ---- signatures ---------------------------------------------------- */

/* Functions with exactly the signatures of SPEC section 1.  Storing them
 * in the structs below is a compile error under -Werror if a typedef's
 * return or parameter types change; calling through the members checks
 * the arguments arrive where a 0.1.2 plugin puts them. */
static const char *last_key;
static const char *last_value;
static int last_type;
static size_t last_size;

static struct request_rec *CALLBACK fake_request(const WebSocketServer *s)
{
    return (struct request_rec *)(void *)s->state;
}

static const char *CALLBACK fake_header_get(const WebSocketServer *s,
                                            const char *key)
{
    (void)s;
    last_key = key;
    return "value";
}

static void CALLBACK fake_header_set(const WebSocketServer *s,
                                     const char *key, const char *value)
{
    (void)s;
    last_key = key;
    last_value = value;
}

static size_t CALLBACK fake_protocol_count(const WebSocketServer *s)
{
    (void)s;
    return 2;
}

static const char *CALLBACK fake_protocol_index(const WebSocketServer *s,
                                                const size_t index)
{
    (void)s;
    return index == 1 ? "second" : NULL;
}

static void CALLBACK fake_protocol_set(const WebSocketServer *s,
                                       const char *protocol)
{
    (void)s;
    last_value = protocol;
}

static size_t CALLBACK fake_send(const WebSocketServer *s, const int type,
                                 const unsigned char *buffer,
                                 const size_t buffer_size)
{
    (void)s;
    (void)buffer;
    last_type = type;
    last_size = buffer_size;
    return buffer_size;
}

static void CALLBACK fake_close(const WebSocketServer *s)
{
    (void)s;
    last_type = -2;
}

static void CALLBACK fake_destroy(WebSocketPlugin *plugin)
{
    (void)plugin;
}

static void *CALLBACK fake_on_connect(const WebSocketServer *s)
{
    return (void *)s;
}

static size_t CALLBACK fake_on_message(void *priv, const WebSocketServer *s,
                                       const int type, unsigned char *buffer,
                                       const size_t buffer_size)
{
    (void)priv;
    return s->send(s, type, buffer, buffer_size);
}

static void CALLBACK fake_on_disconnect(void *priv, const WebSocketServer *s)
{
    (void)priv;
    (void)s;
}

static WebSocketPlugin *CALLBACK fake_init(void)
{
    /* positional, the way 0.1.2 plugins initialise it */
    static WebSocketPlugin plugin = {
        sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, fake_destroy,
        fake_on_connect, fake_on_message, fake_on_disconnect};

    return &plugin;
}

void abi_v0_signatures(void)
{
    int state;
    /* positional too: the member order is the one of SPEC section 1 */
    WebSocketServer server = {
        sizeof(WebSocketServer), WEBSOCKET_SERVER_VERSION_1,
        (struct _WebSocketState *)(void *)&state, fake_request,
        fake_header_get, fake_header_set, fake_protocol_count,
        fake_protocol_index, fake_protocol_set, fake_send, fake_close};
    WS_Init init = fake_init;
    WebSocketPlugin *plugin = init();
    unsigned char buf[] = "hello";

    ck_assert_ptr_eq(server.request(&server), (void *)&state);
    ck_assert_str_eq(server.header_get(&server, "Host"), "value");
    ck_assert_str_eq(last_key, "Host");
    server.header_set(&server, "X-Key", "x-value");
    ck_assert_str_eq(last_key, "X-Key");
    ck_assert_str_eq(last_value, "x-value");
    ck_assert_uint_eq(server.protocol_count(&server), 2);
    ck_assert_str_eq(server.protocol_index(&server, 1), "second");
    ck_assert_ptr_null(server.protocol_index(&server, 2));
    server.protocol_set(&server, "chat");
    ck_assert_str_eq(last_value, "chat");

    ck_assert_uint_eq(plugin->size, sizeof(WebSocketPlugin));
    ck_assert_uint_eq(plugin->version, WEBSOCKET_PLUGIN_VERSION_0);
    ck_assert_ptr_eq(plugin->on_connect(&server), &server);
    ck_assert_uint_eq(plugin->on_message(NULL, &server, MESSAGE_TYPE_BINARY,
                                         buf, 5),
                      5);
    ck_assert_int_eq(last_type, MESSAGE_TYPE_BINARY);
    ck_assert_uint_eq(last_size, 5);
    server.close(&server);
    ck_assert_int_eq(last_type, -2);
    plugin->on_disconnect(NULL, &server);
    plugin->destroy(plugin);
}

