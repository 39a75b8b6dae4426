/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_session.h -- the state of one upgraded connection, shared by the
 * engine (ws_engine.h: frames <-> plugin), the I/O layer (ws_io.h:
 * ownership, queue, writes), the plugin API (ws_server.c), the registry
 * and the drivers.  Its fields are grouped by what guards them.
 */
#ifndef WS_SESSION_H
#define WS_SESSION_H

#include "apr_thread_mutex.h"
#include "apr_thread_cond.h"
#include "apr_portable.h"

#include "httpd.h"

#include "websocket_plugin.h"
#include "ws_config.h"
#include "ws_deflate.h"
#include "ws_driver.h"
#include "ws_frame.h"
#include "ws_queue.h"
#include "ws_status.h"
#include "ws_utf8.h"

typedef enum {
    WS_STATE_CONNECTING, /**< handshake; on_connect may be running */
    WS_STATE_OPEN,       /**< data phase */
    WS_STATE_CLOSING,    /**< our close frame is out; waiting for theirs */
    WS_STATE_CLOSED      /**< nothing more goes out */
} ws_state_e;

/** Who may touch the connection's filters (mod_ssl: one thread at a
 * time).  Changed only under the session mutex, by ws_io.c. */
typedef enum {
    WS_IO_OWNED,         /**< io_owner does the I/O; nobody else may */
    WS_IO_PARKED,        /**< nobody: the MPM waits for input (async
                              driver); a thread may take it */
    WS_IO_OVER           /**< the session ended: nobody, ever again */
} ws_io_e;

/** How the owner writes: a connection's own thread may wait (bounded by
 * WebSocketSendTimeout), a thread serving many connections may not. */
typedef enum {
    WS_WRITE_BLOCKING,
    WS_WRITE_NONBLOCKING
} ws_write_e;

typedef struct ws_session_t ws_session_t;

/**
 * A second socket that a built-in consumer serves next to the client's
 * connection (the bridge's backend, ws_bridge.c).  The driver that owns
 * the I/O polls @c sock for what @c events() asks and then calls
 * @c ready(), and reads nothing from the client while @c hold_input()
 * says so.  Every function is called by the I/O owner only and must not
 * block.
 */
typedef struct ws_peer_t {
    apr_socket_t *sock;
    /** APR_POLLIN and/or APR_POLLOUT wanted now (0: none) */
    apr_int16_t (*events)(ws_session_t *s);
    /** serves the socket (and may write to the client) */
    void (*ready)(ws_session_t *s);
    /** 1: the peer takes no more input now; leave the client unread */
    int (*hold_input)(ws_session_t *s);
} ws_peer_t;

struct ws_session_t {
    /* -- set before the 101, then read-only: any thread -- */
    request_rec *r;
    conn_rec *c;
    const ws_settings_t *settings;
    int version;                   /**< 13, 8 or 7 */
    apr_array_header_t *protocols; /**< offered subprotocols */
    ws_deflate_params_t *deflate;  /**< permessage-deflate agreed, or NULL */
    WebSocketServer server;        /**< handed to the plugin */
    WebSocketPlugin *plugin;
    void *plugin_private;
    int accepted;                  /**< on_connect accepted */
    struct ws_chansub_t *chan;     /**< channel subscriptions, or NULL
                                        (ws_chansub.c) */
    const ws_driver_t *driver;     /**< set before the driver starts */
    ws_peer_t *peer;               /**< a second socket to serve, or NULL */
    void *driver_ctx;              /**< the driver's own, by its rules */
    apr_thread_mutex_t *mutex;     /**< guards the next group */
    apr_thread_cond_t *room;       /**< queue has room / state changed */
    apr_thread_cond_t *io_free;    /**< io left WS_IO_OWNED */

    /* -- under mutex: plugin threads, the registry, drivers, owner -- */
    ws_state_e state;              /**< advanced by the owner only */
    ws_queue_t queue;              /**< send() from non-owners */
    int waiters;                   /**< senders waiting for room */
    ws_io_e io;                    /**< see ws_io_e */
    apr_os_thread_t io_owner;      /**< the owner while WS_IO_OWNED */
    apr_uint32_t parks;            /**< times the I/O was released */
    int going_away;                /**< the child is stopping */
    int in_connect;                /**< on_connect is running */
    apr_table_t *hs_headers;       /**< header_set() during on_connect */
    const char *hs_protocol;       /**< protocol_set() during on_connect */
    apr_pool_t *hs_pool;           /**< for the two above */

    /* -- the owner alone (io == WS_IO_OWNED by the calling thread) -- */
    ws_write_e write_mode;         /**< set by ws_io_acquire() */
    struct ws_filters_t *filters;  /**< WEBSOCKET_IN/OUT, after takeover */
    apr_bucket_brigade *in_bb;
    apr_bucket_brigade *out_bb;
    unsigned int frame_opcode;     /**< opcode of the current frame */
    int in_frame;
    unsigned int msg_opcode;       /**< TEXT/BINARY while a message is open */
    int in_message;
    unsigned char *msg;            /**< message being assembled */
    apr_size_t msg_len, msg_cap;
    ws_utf8_t utf8;
    unsigned char ctl[WS_CONTROL_MAX]; /**< control frame being received */
    apr_size_t ctl_len;
    ws_status_e status;            /**< as counted on server-status */
    int close_received;            /**< the client's close frame arrived */
    int close_reported;            /**< the plugin's on_close ran */
    int done;                      /**< the connection is over */
    int disconnected;              /**< ws_engine_finish ran */
    apr_time_t close_deadline;     /**< CLOSING: give up waiting then */
    apr_time_t idle_since;         /**< for releasing a large buffer */
    apr_time_t last_rx;            /**< when the client last sent bytes */
    apr_time_t last_message;       /**< last message in either direction */
    apr_time_t pong_deadline;      /**< a ping is unanswered until then */
    apr_time_t pending_since;      /**< output the client has not taken
                                        since then (0: none) */

    /* -- under ws_chansub.c's table mutex -- */
    struct ws_chansub_t *xchan;    /**< a plugin's subscriptions where the
                                        location has no channel */
    int chan_over;                 /**< detached: no more subscribing */

    /* -- under the registry's mutex (ws_registry.c) -- */
    ws_session_t *reg_prev, *reg_next;
    int registered;
};

/**
 * Creates the session for an upgrade request (before on_connect); the
 * handler's thread owns its I/O.
 * @remark allocated from r->pool; lives until the request ends
 */
apr_status_t ws_session_create(ws_session_t **out, request_rec *r,
                               const ws_settings_t *settings, int version,
                               apr_array_header_t *protocols);

/**
 * Advances the state (never back); from CLOSING on the queue is dropped
 * and waiting senders are woken.  Owner only.
 */
void ws_session_set_state(ws_session_t *s, ws_state_e state);

#endif /* WS_SESSION_H */
