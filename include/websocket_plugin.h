/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * websocket_plugin.h -- the plugin API of mod_websocket (version 0).
 *
 * This header is an ABI.  It is source and binary compatible with the
 * plugin header of apache-websocket 0.1.2: the names, the constants and
 * the order of every struct member are frozen.  New capabilities are
 * added only by appending members at the end of a struct and raising its
 * version; existing members are never reordered, resized or removed.
 *
 * A plugin is a shared library that exports one function of type WS_Init.
 * The administrator names the library and that function in httpd's
 * configuration:
 *
 *     <Location /echo>
 *         SetHandler websocket-handler
 *         WebSocketHandler modules/mod_websocket_echo.so echo_init
 *     </Location>
 *
 * Threads: every callback of a connection runs on the thread that does
 * that connection's I/O, one callback at a time.  send() and close() may
 * be called from any thread at any time, including from inside
 * on_connect; every other server function only from inside a callback of
 * the same connection.
 */
#ifndef WEBSOCKET_PLUGIN_H
#define WEBSOCKET_PLUGIN_H

#include <stdlib.h>

#if defined(_WIN32)
#define EXPORT __declspec(dllexport)
#define CALLBACK __stdcall
#else
#if defined(__GNUC__) && __GNUC__ >= 4
/* lets plugins build with -fvisibility=hidden and still export init */
#define EXPORT __attribute__((visibility("default")))
#else
#define EXPORT
#endif
#define CALLBACK
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Message types: the @c type of on_message() and send(). */
#define MESSAGE_TYPE_INVALID -1
#define MESSAGE_TYPE_TEXT 0     /**< UTF-8 text (opcode 0x1) */
#define MESSAGE_TYPE_BINARY 128 /**< binary data (opcode 0x2) */
#define MESSAGE_TYPE_CLOSE 255  /**< send(): start the closing handshake */
#define MESSAGE_TYPE_PING 256   /**< send(): a ping (opcode 0x9) */
#define MESSAGE_TYPE_PONG 257   /**< send(): an unsolicited pong (0xA) */

/** Value of WebSocketServer.version passed by this server. */
#define WEBSOCKET_SERVER_VERSION_1 1
/** Value plugins must put in WebSocketPlugin.version. */
#define WEBSOCKET_PLUGIN_VERSION_0 0

struct _WebSocketServer;
struct _WebSocketState;
struct request_rec;

/**
 * The request_rec of the upgrade request.  It and its pool stay valid
 * until on_disconnect() returns.  r->pool is not thread-safe: allocate
 * from it only inside callbacks; plugin threads use pools of their own.
 */
typedef struct request_rec *(CALLBACK *WS_Request)(
    const struct _WebSocketServer *server);

/** A request header (case-insensitive key), or NULL if absent. */
typedef const char *(CALLBACK *WS_Header_Get)(
    const struct _WebSocketServer *server, const char *key);

/**
 * Sets a header of the 101 response.  Only effective inside on_connect();
 * key and value are copied.
 */
typedef void(CALLBACK *WS_Header_Set)(const struct _WebSocketServer *server,
                                      const char *key, const char *value);

/** Number of subprotocols the client offered (Sec-WebSocket-Protocol). */
typedef size_t(CALLBACK *WS_Protocol_Count)(
    const struct _WebSocketServer *server);

/**
 * The offered subprotocol at @p index, in the client's order (case and
 * duplicates kept), or NULL when @p index is out of range.
 */
typedef const char *(CALLBACK *WS_Protocol_Index)(
    const struct _WebSocketServer *server, const size_t index);

/**
 * Selects the subprotocol sent in the 101's Sec-WebSocket-Protocol,
 * exactly as given.  Only effective inside on_connect(); copied.  The
 * server never picks a subprotocol by itself.
 */
typedef void(CALLBACK *WS_Protocol_Set)(const struct _WebSocketServer *server,
                                        const char *protocol);

/**
 * Sends one whole message (or control frame) of @p type: TEXT, BINARY,
 * PING, PONG, or CLOSE (any other value is treated as CLOSE and starts
 * the closing handshake).
 *
 * May be called from any thread at any time.  Messages from one thread
 * go out in call order and never interleave with others.  @p buffer is
 * copied (or written) before send() returns and may be freed afterwards.
 *
 * @return @p buffer_size once the message is accepted for writing, 0 on
 *         failure or once the connection is closing or closed.
 * @remark Called from a plugin thread while the connection's outgoing
 *         queue is full (WebSocketMaxQueuedBytes), send() waits for room
 *         up to WebSocketSendTimeout, then fails with 0.  The bound does
 *         not apply while on_connect runs (nothing drains the queue
 *         before the 101, and on_connect may be waiting for that thread).
 *         Called on the thread that does the connection's I/O (e.g. from
 *         on_message) it writes directly, waiting for the client at most
 *         WebSocketSendTimeout.
 */
typedef size_t(CALLBACK *WS_Send)(const struct _WebSocketServer *server,
                                  const int type,
                                  const unsigned char *buffer,
                                  const size_t buffer_size);

/**
 * Starts the closing handshake: a close frame without status code; the
 * connection then waits (bounded by a timeout) for the client's close.
 * May be called from any thread.
 */
typedef void(CALLBACK *WS_Close)(const struct _WebSocketServer *server);

/** What the server hands to every callback.  LP64: 80 bytes. */
typedef struct _WebSocketServer {
    unsigned int size;    /**< sizeof(WebSocketServer) of the server */
    unsigned int version; /**< WEBSOCKET_SERVER_VERSION_1 */
    struct _WebSocketState *state; /**< private to the server */
    WS_Request request;
    WS_Header_Get header_get;
    WS_Header_Set header_set;
    WS_Protocol_Count protocol_count;
    WS_Protocol_Index protocol_index;
    WS_Protocol_Set protocol_set;
    WS_Send send;
    WS_Close close;
    /* add new members above this line (and raise the version) */
} WebSocketServer;

struct _WebSocketPlugin;

/** The exported init function: returns the plugin, NULL on failure. */
typedef struct _WebSocketPlugin *(CALLBACK *WS_Init)(void);

/** Called when the configuration that loaded the plugin is unloaded. */
typedef void(CALLBACK *WS_Destroy)(struct _WebSocketPlugin *plugin);

/**
 * Called after every handshake check passed, before the 101 is written.
 * @return plugin-private data for this connection, or NULL to refuse
 *         (the client then gets 403 and on_disconnect is not called).
 */
typedef void *(CALLBACK *WS_OnConnect)(const WebSocketServer *server);

/**
 * One call per complete TEXT or BINARY message.  Text is valid UTF-8.
 * @p buffer is writable, not NUL-terminated, owned by the server and
 * valid until the callback returns.  The return value is ignored.
 */
typedef size_t(CALLBACK *WS_OnMessage)(void *plugin_private,
                                       const WebSocketServer *server,
                                       const int type, unsigned char *buffer,
                                       const size_t buffer_size);

/**
 * Called exactly once per accepted connection, however it ended.  After
 * it returns @p server is dead: join plugin threads here.
 */
typedef void(CALLBACK *WS_OnDisconnect)(void *plugin_private,
                                        const WebSocketServer *server);

/** What a plugin's init function returns.  LP64: 40 bytes. */
typedef struct _WebSocketPlugin {
    unsigned int size;    /**< sizeof(WebSocketPlugin) */
    unsigned int version; /**< WEBSOCKET_PLUGIN_VERSION_0 */
    WS_Destroy destroy;           /**< optional */
    WS_OnConnect on_connect;      /**< optional */
    WS_OnMessage on_message;      /**< required */
    WS_OnDisconnect on_disconnect; /**< optional */
    /* add new members above this line (and raise the version) */
} WebSocketPlugin;

#ifdef __cplusplus
}
#endif

#endif /* WEBSOCKET_PLUGIN_H */
