/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * websocket_plugin.h -- the plugin API of mod_websocket (version 0, and
 * version 1: channels, close codes, options; see "API version 1" below).
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
 * on_connect; every other server function of version 0 only from inside
 * a callback of the same connection.
 *
 * API version 1 (appended members; a version 0 plugin, binary or
 * source, works unchanged):
 *  - Its declarations are made when the plugin asks for them:
 *        #define WEBSOCKET_PLUGIN_API 1
 *        #include "websocket_plugin.h"
 *    (in every file of the plugin, or -DWEBSOCKET_PLUGIN_API=1).  Without
 *    it both structs are those of version 0, so that a version 0 source
 *    that initialises them positionally compiles exactly as before.
 *  - WebSocketServer (WEBSOCKET_SERVER_VERSION_2) adds subscribe(),
 *    unsubscribe(), publish(), close_with() and option().  A plugin may
 *    call one only when WEBSOCKET_SERVER_HAS(server, member) is true: an
 *    older module hands a smaller struct, and a plugin degrades (or
 *    refuses the connection) then.  These functions need nothing of the
 *    plugin's own version: a version 0 plugin may use them too, which is
 *    how one plugin runs on old and new modules alike.
 *  - WebSocketPlugin (WEBSOCKET_PLUGIN_VERSION_1) adds on_close(),
 *    on_load(), on_child_init() and on_child_exit().  The module reads
 *    them only when version >= 1 and size covers them.  An older module
 *    refuses a plugin whose version is 1 ("unsupported plugin
 *    version").
 *  - WebSocketHost: what on_load() hands the plugin for publishing
 *    without a connection and for reading its options.
 * Results of the version 1 functions are 0 (WEBSOCKET_OK) or more on
 * success and one of the negative WEBSOCKET_ERR_* values on failure.
 */
#ifndef WEBSOCKET_PLUGIN_H
#define WEBSOCKET_PLUGIN_H

#include <stddef.h>
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

/** WebSocketServer.version of a server of API v0 (0.1.2, and this module
 * before API v1); this module passes WEBSOCKET_SERVER_VERSION_2. */
#define WEBSOCKET_SERVER_VERSION_1 1
/** WebSocketPlugin.version of a plugin of API v0. */
#define WEBSOCKET_PLUGIN_VERSION_0 0
/** WebSocketServer.version of a server with the API v1 functions. */
#define WEBSOCKET_SERVER_VERSION_2 2
/** WebSocketPlugin.version of a plugin with the API v1 callbacks. */
#define WEBSOCKET_PLUGIN_VERSION_1 1
/** WebSocketHost.version of the host handed to on_load(). */
#define WEBSOCKET_HOST_VERSION_1 1

/** API v1 results: success (a count where a function says so)... */
#define WEBSOCKET_OK 0
/** ...an argument is not valid (name, type, code, reason, UTF-8) */
#define WEBSOCKET_ERR_INVALID -1
/** ...the connection is closing or closed */
#define WEBSOCKET_ERR_CLOSED -2
/** ...channel memory is full (WebSocketChannelMemory), or no memory */
#define WEBSOCKET_ERR_FULL -3
/** ...the connection has WEBSOCKET_CHANNELS_MAX channels already */
#define WEBSOCKET_ERR_LIMIT -4
/** ...channels do not work in this process (see on_load()) */
#define WEBSOCKET_ERR_UNAVAILABLE -5
/** ...unsubscribe(): not a channel subscribe() added */
#define WEBSOCKET_ERR_NOT_FOUND -6

/** Longest channel name, in bytes (names are 1 to 255 bytes). */
#define WEBSOCKET_CHANNEL_NAME_MAX 255
/** Channels one connection may be subscribed to, all kinds together. */
#define WEBSOCKET_CHANNELS_MAX 255
/** on_close(): the client's close frame carried no status code. */
#define WEBSOCKET_CLOSE_NO_STATUS 1005
/** on_close(): the connection ended without a close frame from the
 * client (it went away, a timeout, a protocol error, the server
 * stopping). */
#define WEBSOCKET_CLOSE_ABNORMAL 1006

/**
 * Whether the struct at @p ptr (WebSocketServer, WebSocketPlugin or
 * WebSocketHost, type @p type) is large enough to have @p member: the
 * test a plugin makes before using a member a later version appended.
 */
#define WEBSOCKET_HAS_MEMBER(type, ptr, member)                            \
    ((ptr) != NULL                                                         \
     && (size_t)(ptr)->size >= offsetof(type, member)                      \
                                   + sizeof(((type *)0)->member))
/** WEBSOCKET_HAS_MEMBER for a WebSocketServer, e.g.
 * if (WEBSOCKET_SERVER_HAS(server, subscribe)) ... */
#define WEBSOCKET_SERVER_HAS(server, member)                               \
    WEBSOCKET_HAS_MEMBER(WebSocketServer, server, member)
/** WEBSOCKET_HAS_MEMBER for the WebSocketHost of on_load(). */
#define WEBSOCKET_HOST_HAS(host, member)                                   \
    WEBSOCKET_HAS_MEMBER(WebSocketHost, host, member)

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

/* ---- API v1 (WEBSOCKET_SERVER_VERSION_2) ------------------------------ */

/**
 * Subscribes the connection to @p channel (NUL-terminated, 1 to
 * WEBSOCKET_CHANNEL_NAME_MAX bytes): from now on every message published
 * to it (by a publisher location, a client, a plugin, in any child)
 * reaches this client, exactly as for a WebSocketChannel subscriber:
 * the same order for every subscriber, no duplicates, and the slow
 * subscriber rules (WebSocketMaxQueuedBytes, WebSocketSlowSubscriber).
 * Messages are plain payloads, prefixed only where the location's
 * WebSocketChannel agreed the channel-meta subprotocol.  Nothing of the
 * channel's history is replayed.
 *
 * May be called from any thread while the connection lives (from
 * on_connect until on_disconnect returns).
 * @return WEBSOCKET_OK, also when already subscribed;
 *         WEBSOCKET_ERR_INVALID (bad name), WEBSOCKET_ERR_CLOSED,
 *         WEBSOCKET_ERR_LIMIT (WEBSOCKET_CHANNELS_MAX channels, those of
 *         WebSocketChannel included), WEBSOCKET_ERR_FULL (channel memory),
 *         WEBSOCKET_ERR_UNAVAILABLE (no channels in this process: neither
 *         a WebSocketChannel nor a version 1 plugin in the configuration)
 */
typedef int(CALLBACK *WS_Subscribe)(const struct _WebSocketServer *server,
                                    const char *channel);

/**
 * Ends a subscription subscribe() made; nothing more of @p channel
 * reaches the client once it returns (a message already queued for it
 * may still go out).  The channels of the location's WebSocketChannel
 * are the location's and stay.
 * May be called from any thread while the connection lives.
 * @return WEBSOCKET_OK; WEBSOCKET_ERR_NOT_FOUND (not subscribed by
 *         subscribe(), or a WebSocketChannel channel),
 *         WEBSOCKET_ERR_INVALID, WEBSOCKET_ERR_UNAVAILABLE
 */
typedef int(CALLBACK *WS_Unsubscribe)(const struct _WebSocketServer *server,
                                      const char *channel);

/**
 * Publishes one message of @p type (MESSAGE_TYPE_TEXT, valid UTF-8, or
 * MESSAGE_TYPE_BINARY) to @p channel, for every subscriber in every
 * child, this connection included when it is subscribed.  The
 * location's WebSocketChannelHistory applies.  Never waits for a
 * subscriber; @p buffer may be freed once it returns.
 * May be called from any thread while the connection lives.
 * @return the number of subscribers the channel had (0 or more);
 *         WEBSOCKET_ERR_INVALID (name, type, UTF-8),
 *         WEBSOCKET_ERR_CLOSED (the connection is closing or closed),
 *         WEBSOCKET_ERR_FULL (channel memory is full: nothing published),
 *         WEBSOCKET_ERR_UNAVAILABLE
 */
typedef int(CALLBACK *WS_Publish)(const struct _WebSocketServer *server,
                                  const char *channel, const int type,
                                  const unsigned char *buffer,
                                  const size_t buffer_size);

/**
 * Starts the closing handshake with status @p code and @p reason (NULL:
 * none; at most 123 bytes of UTF-8) -- RFC 6455 section 7.4.  Codes a
 * server may send: 1000-1003, 1007-1013, 3000-4999; any other is
 * refused and nothing is sent.  Like close(), the connection then waits
 * (bounded) for the client's close.
 * May be called from any thread at any time, also inside on_connect
 * (the close goes out after the 101).
 * @return WEBSOCKET_OK; WEBSOCKET_ERR_INVALID (code or reason),
 *         WEBSOCKET_ERR_CLOSED (a close was sent already, or the
 *         connection ended)
 */
typedef int(CALLBACK *WS_Close_With)(const struct _WebSocketServer *server,
                                     const int code, const char *reason);

/**
 * The value of the location's `WebSocketPluginOption <key> <value>`
 * (key without regard to case; a nested section's value for a key
 * replaces its parent's), or NULL when not set.  The string lives as
 * long as the configuration.
 * May be called from any thread while the connection lives.
 */
typedef const char *(CALLBACK *WS_Option)(
    const struct _WebSocketServer *server, const char *key);

/**
 * What the server hands to every callback.  LP64: 80 bytes in version
 * 1, 120 bytes in version 2.  The version 2 members are declared when
 * the plugin defines WEBSOCKET_PLUGIN_API to 1 (see WebSocketPlugin).
 */
typedef struct _WebSocketServer {
    unsigned int size;    /**< sizeof(WebSocketServer) of the server */
    unsigned int version; /**< WEBSOCKET_SERVER_VERSION_2 (1: older) */
    struct _WebSocketState *state; /**< private to the server */
    WS_Request request;
    WS_Header_Get header_get;
    WS_Header_Set header_set;
    WS_Protocol_Count protocol_count;
    WS_Protocol_Index protocol_index;
    WS_Protocol_Set protocol_set;
    WS_Send send;
    WS_Close close;
#if defined(WEBSOCKET_PLUGIN_API) && WEBSOCKET_PLUGIN_API >= 1
    /* version 2 (API v1): test with WEBSOCKET_SERVER_HAS() first */
    WS_Subscribe subscribe;
    WS_Unsubscribe unsubscribe;
    WS_Publish publish;
    WS_Close_With close_with;
    WS_Option option;
#endif
    /* add new members above this line (and raise the version) */
} WebSocketServer;

/* ---- the host: publishing without a connection (API v1) ------------- */

struct _WebSocketHost;
struct _WebSocketHostState;

/**
 * publish() without a connection: the same rules and results as
 * WebSocketServer.publish() except WEBSOCKET_ERR_CLOSED; the history
 * limits are those of the section that loaded the plugin.
 * May be called from any thread of a child process between
 * on_child_init() and on_child_exit() (e.g. a plugin thread pushing a
 * ticker).  In httpd's parent process (during configuration, in
 * on_load()) and once the child stops, it returns
 * WEBSOCKET_ERR_UNAVAILABLE.
 */
typedef int(CALLBACK *WS_Host_Publish)(const struct _WebSocketHost *host,
                                       const char *channel, const int type,
                                       const unsigned char *buffer,
                                       const size_t buffer_size);

/**
 * The WebSocketPluginOption @p key (without regard to case) of the
 * section whose WebSocketHandler line loaded the plugin -- the first
 * such section of the configuration; its own lines, not those of
 * enclosing sections -- or NULL.  Lines after the WebSocketHandler line
 * are seen once the configuration is read (from on_child_init() on);
 * inside on_load() only those before it.
 * May be called from any thread until destroy() returns.
 */
typedef const char *(CALLBACK *WS_Host_Option)(
    const struct _WebSocketHost *host, const char *key);

/** What on_load() hands the plugin.  LP64: 32 bytes. */
typedef struct _WebSocketHost {
    unsigned int size;    /**< sizeof(WebSocketHost) of the module */
    unsigned int version; /**< WEBSOCKET_HOST_VERSION_1 */
    struct _WebSocketHostState *state; /**< private to the module */
    WS_Host_Publish publish;
    WS_Host_Option option;
    /* add new members above this line (and raise the version) */
} WebSocketHost;

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

/* ---- API v1 callbacks (WEBSOCKET_PLUGIN_VERSION_1) -------------------- */

/**
 * How the client closed: called once per accepted connection, just
 * before on_disconnect(), on the connection's I/O thread.  @p code is
 * the status code of the client's close frame, WEBSOCKET_CLOSE_NO_STATUS
 * (1005) when its close frame had none, or WEBSOCKET_CLOSE_ABNORMAL
 * (1006) when no valid close frame came from the client (it went away,
 * a timeout, a protocol error, the server stopping).  @p reason is the
 * frame's reason, valid UTF-8, @p reason_size bytes, also NUL-terminated
 * ("" when none); valid until the callback returns.  The connection is
 * closing: send() and publish() fail, subscribe() too.
 */
typedef void(CALLBACK *WS_OnClose)(void *plugin_private,
                                   const WebSocketServer *server,
                                   const int code, const char *reason,
                                   const size_t reason_size);

/**
 * Called once right after the init function returned the plugin (and
 * the module accepted it), in httpd's parent process while the
 * configuration is read, with the host: valid until destroy() returns.
 * Loading a version 1 plugin (with or without on_load) makes the module
 * set up its channels (the shared region of WebSocketChannelMemory) even
 * where no WebSocketChannel is configured.  Start no threads here: the
 * process forks afterwards (see on_child_init()).
 */
typedef void(CALLBACK *WS_OnLoad)(struct _WebSocketPlugin *plugin,
                                  const WebSocketHost *host);

/**
 * on_child_init: called once in each child process, after the child's
 * channels work and before it serves connections -- where a plugin
 * starts its threads (host->publish() works from here on).
 * on_child_exit: called once when that child stops, before its channels
 * go away: the plugin stops and joins its threads here.  Both on the
 * child's main thread; both optional.
 */
typedef void(CALLBACK *WS_OnChild)(struct _WebSocketPlugin *plugin);

/**
 * What a plugin's init function returns.  LP64: 40 bytes in version 0,
 * 72 bytes in version 1.
 *
 * The version 1 members are declared only for a plugin that asks for
 * them: `#define WEBSOCKET_PLUGIN_API 1` before including this header
 * (in every file of the plugin, or -DWEBSOCKET_PLUGIN_API=1).  Without
 * it the struct is the one of version 0, so that a version 0 source that
 * initialises it positionally compiles exactly as before (no missing
 * initializer warnings, the same sizeof).  A plugin that defines it but
 * says version 0 is read as a version 0 plugin.
 */
typedef struct _WebSocketPlugin {
    unsigned int size;    /**< sizeof(WebSocketPlugin) */
    unsigned int version; /**< WEBSOCKET_PLUGIN_VERSION_0 or _1 */
    WS_Destroy destroy;           /**< optional */
    WS_OnConnect on_connect;      /**< optional */
    WS_OnMessage on_message;      /**< required */
    WS_OnDisconnect on_disconnect; /**< optional */
#if defined(WEBSOCKET_PLUGIN_API) && WEBSOCKET_PLUGIN_API >= 1
    /* version 1: read only when version >= 1; each optional (NULL) */
    WS_OnClose on_close;
    WS_OnLoad on_load;
    WS_OnChild on_child_init;
    WS_OnChild on_child_exit;
#endif
    /* add new members above this line (and raise the version) */
} WebSocketPlugin;

#ifdef __cplusplus
}
#endif

#endif /* WEBSOCKET_PLUGIN_H */
