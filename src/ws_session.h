/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_session.h -- the session engine: owns one upgraded connection,
 * turns frames into plugin callbacks and plugin sends into frames.
 *
 * The engine is a non-blocking state machine: ws_session_on_readable()
 * consumes whatever input is available without waiting,
 * ws_session_flush_queue() writes what plugin threads queued,
 * ws_session_next_timeout() says when it next needs attention.  A driver
 * calls these when something happened: the blocking driver
 * (ws_session_run) from the handler thread, polling the connection and a
 * wake-up; an asynchronous driver can call the same functions from
 * whichever worker the MPM hands the connection to.
 */
#ifndef WS_SESSION_H
#define WS_SESSION_H

#include "apr_thread_mutex.h"
#include "apr_thread_cond.h"
#include "apr_poll.h"
#include "apr_portable.h"

#include "httpd.h"

#include "websocket_plugin.h"
#include "ws_config.h"
#include "ws_deflate.h"
#include "ws_frame.h"
#include "ws_status.h"
#include "ws_utf8.h"

typedef enum {
    WS_STATE_CONNECTING, /**< handshake; on_connect may be running */
    WS_STATE_OPEN,       /**< data phase */
    WS_STATE_CLOSING,    /**< our close frame is out; waiting for theirs */
    WS_STATE_CLOSED      /**< nothing more goes out */
} ws_state_e;

/** A message queued by send() for the I/O thread to write. */
typedef struct ws_out_msg_t {
    struct ws_out_msg_t *next;
    unsigned int opcode;
    apr_size_t len;
    unsigned char data[1]; /* len bytes follow */
} ws_out_msg_t;

typedef struct ws_session_t ws_session_t;

struct ws_session_t {
    request_rec *r;
    conn_rec *c;
    const ws_settings_t *settings;
    int version;                 /**< 13, 8 or 7 */
    apr_array_header_t *protocols; /**< offered subprotocols */
    ws_deflate_params_t *deflate; /**< permessage-deflate agreed, or NULL */

    WebSocketServer server;      /**< handed to the plugin */
    WebSocketPlugin *plugin;
    void *plugin_private;

    /* -- shared with plugin threads: under mutex -- */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *room;     /**< queue has room / state changed */
    ws_state_e state;
    ws_out_msg_t *queue_head, *queue_tail;
    apr_size_t queued_bytes;
    int wake_pending;            /**< a wake-up is already signalled */
    int close_queued;            /**< a close is queued: refuse more */
    int waiters;                 /**< senders blocked on room */
    apr_table_t *hs_headers;     /**< header_set() during on_connect */
    const char *hs_protocol;     /**< protocol_set() during on_connect */
    apr_pool_t *hs_pool;         /**< for the two above */
    int async;                   /**< driven by ws_async.c */
    int io_busy;                 /**< a thread does the connection's I/O */
    apr_thread_cond_t *io_free;  /**< io_busy dropped */
    apr_os_thread_t io_thread;   /**< that thread, if io_thread_known */
    int io_thread_known;
    /* -- owned by the thread doing the I/O -- */
    struct ws_timer_t *timer;    /**< baton of pending timed callbacks */
    apr_time_t timer_at;         /**< earliest pending timed callback */
    struct ws_conn_hold_t *hold; /**< the connection pool's link to us */
    int in_connect;              /**< inside on_connect */
    apr_pollset_t *pollset;      /**< what the I/O thread waits in (blocking
                                      driver, lingering async worker):
                                      senders wake it (mutex) */
    ws_frame_parser_t *parser;   /**< WEBSOCKET_IN's, for its state */
    apr_bucket_brigade *in_bb;
    apr_bucket_brigade *out_bb;

    /* frame being received */
    unsigned int frame_opcode;   /**< opcode of the current frame */
    int in_frame;
    /* message being assembled */
    unsigned int msg_opcode;     /**< TEXT/BINARY while a message is open */
    int in_message;
    unsigned char *msg;
    apr_size_t msg_len, msg_cap;
    ws_utf8_t utf8;
    /* control frame being received */
    unsigned char ctl[WS_CONTROL_MAX];
    apr_size_t ctl_len;

    int going_away;              /**< the child is stopping (mutex) */
    ws_status_e status;          /**< as counted on server-status */
    ws_session_t *reg_prev, *reg_next; /**< registry of open sessions */

    int close_received;          /**< the client's close frame arrived */
    int done;                    /**< the connection is over */
    apr_time_t close_deadline;   /**< CLOSING: give up waiting then */
    apr_time_t idle_since;       /**< for releasing a large buffer */
    apr_time_t last_rx;          /**< when the client last sent bytes */
    apr_time_t last_message;     /**< last message in either direction */
    apr_time_t pong_deadline;    /**< a ping is unanswered until then */
    int accepted;                /**< on_connect accepted */
    int disconnected;            /**< ws_session_finish ran */
};

/**
 * Creates the session for an upgrade request (before on_connect).
 * @remark allocated from r->pool; lives until the request ends
 */
apr_status_t ws_session_create(ws_session_t **out, request_rec *r,
                               const ws_settings_t *settings, int version,
                               apr_array_header_t *protocols);

/**
 * Takes over the connection after the 101 was sent: removes the HTTP
 * filters, installs WEBSOCKET_IN/OUT, moves to OPEN.
 */
void ws_session_takeover(ws_session_t *s);

/**
 * Processes the input available now, without blocking.
 * @return 1 if it stopped after its budget with input possibly left,
 *         0 once the input would block (or the session is done)
 */
int ws_session_on_readable(ws_session_t *s);

/** Writes what plugin threads queued (I/O thread only). */
void ws_session_flush_queue(ws_session_t *s);

/**
 * Ends the session: refuses further sends, wakes blocked senders,
 * calls on_disconnect once, frees the message buffer and the queue.
 */
void ws_session_finish(ws_session_t *s);

/**
 * Does what is due at @p now: the closing handshake's deadline, pings,
 * the pong deadline, the idle timeout, a stopping child (1001).
 */
void ws_session_on_timer(ws_session_t *s, apr_time_t now);

/** Registers the hooks that tell sessions the child is stopping. */
void ws_session_register_hooks(apr_pool_t *p);

/** The blocking driver: runs the session until it is over. */
void ws_session_run(ws_session_t *s);

/**
 * Writes one frame on the I/O thread (and flushes).
 * @return APR_SUCCESS or the write error (the session is then done)
 */
apr_status_t ws_session_write(ws_session_t *s, unsigned int opcode,
                              const unsigned char *buf, apr_size_t len);

/** Sends a close frame with @p code (0: none) and enters CLOSING. */
void ws_session_send_close(ws_session_t *s, int code);

/** Sends a close frame with the given payload and enters CLOSING. */
void ws_session_close_payload(ws_session_t *s, const unsigned char *p,
                              apr_size_t len);

/**
 * Makes the calling thread the one that does the connection's I/O.
 * @param wait 1: wait while another thread does; 0: give up at once
 * @return 1 if the caller now owns the I/O, 0 if not (or it already did)
 */
int ws_session_io_acquire(ws_session_t *s, int wait);

/**
 * Gives the connection's I/O up.
 * @return 1 if work arrived meanwhile that the caller should take the I/O
 *         back for (queued sends, a stopping child)
 */
int ws_session_io_release(ws_session_t *s);

/** When ws_session_on_timer() next has something to do (0: never). */
apr_time_t ws_session_next_due(const ws_session_t *s);

/** Whether the caller runs on the session's I/O thread. */
int ws_session_on_io_thread(const ws_session_t *s);

/** Fills in the WebSocketServer function table (ws_server.c). */
void ws_server_init(ws_session_t *s);

#endif /* WS_SESSION_H */
