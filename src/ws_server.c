/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_server.c -- the WebSocketServer functions plugins call: request
 * and header access, subprotocols, and send()/close() from any thread
 * through the session's bounded queue (API v0); channels, close codes
 * and options (API v1).
 */
#include "httpd.h"
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"

#include "http_log.h"

#include "ws_chansub.h"
#include "ws_engine.h"
#include "ws_host.h"
#include "ws_io.h"
#include "ws_log.h"
#include "ws_server.h"

APLOG_USE_MODULE(websocket);

static ws_session_t *session_of(const WebSocketServer *server)
{
    return server ? (ws_session_t *)(void *)server->state : NULL;
}

static struct request_rec *CALLBACK srv_request(const WebSocketServer *server)
{
    ws_session_t *s = session_of(server);

    return s ? s->r : NULL;
}

static const char *CALLBACK srv_header_get(const WebSocketServer *server,
                                           const char *key)
{
    ws_session_t *s = session_of(server);

    if (s == NULL || key == NULL) {
        return NULL;
    }
    return apr_table_get(s->r->headers_in, key);
}

/* header_set and protocol_set may come from a plugin thread while
 * on_connect runs: they write into a pool of their own, under the
 * session mutex, never into r->pool (0.1.2 raced there) */
static void CALLBACK srv_header_set(const WebSocketServer *server,
                                    const char *key, const char *value)
{
    ws_session_t *s = session_of(server);

    if (s == NULL || key == NULL || value == NULL) {
        return;
    }
    apr_thread_mutex_lock(s->mutex);
    if (s->in_connect) {
        apr_table_set(s->hs_headers, key, value);
    }
    apr_thread_mutex_unlock(s->mutex);
}

static size_t CALLBACK srv_protocol_count(const WebSocketServer *server)
{
    ws_session_t *s = session_of(server);

    return s && s->protocols ? (size_t)s->protocols->nelts : 0;
}

static const char *CALLBACK srv_protocol_index(const WebSocketServer *server,
                                               const size_t index)
{
    ws_session_t *s = session_of(server);

    if (s == NULL || s->protocols == NULL
        || index >= (size_t)s->protocols->nelts) {
        return NULL;
    }
    return APR_ARRAY_IDX(s->protocols, index, const char *);
}

static void CALLBACK srv_protocol_set(const WebSocketServer *server,
                                      const char *protocol)
{
    ws_session_t *s = session_of(server);

    if (s == NULL || protocol == NULL) {
        return;
    }
    apr_thread_mutex_lock(s->mutex);
    if (s->in_connect) {
        s->hs_protocol = apr_pstrdup(s->hs_pool, protocol);
    }
    apr_thread_mutex_unlock(s->mutex);
}

static unsigned int opcode_of(int type)
{
    switch (type) {
    case MESSAGE_TYPE_TEXT:
        return WS_OP_TEXT;
    case MESSAGE_TYPE_BINARY:
        return WS_OP_BINARY;
    case MESSAGE_TYPE_PING:
        return WS_OP_PING;
    case MESSAGE_TYPE_PONG:
        return WS_OP_PONG;
    default:
        /* MESSAGE_TYPE_CLOSE and anything unknown: close */
        return WS_OP_CLOSE;
    }
}

/* send() on the I/O owner's thread, outside on_connect: write at once
 * (a blocking owner waits for the client, bounded by the send timeout;
 * a non-blocking one leaves what the client does not take pending, and
 * refuses once that exceeds WebSocketMaxQueuedBytes). */
static size_t send_direct(ws_session_t *s, unsigned int opcode,
                          const unsigned char *buf, size_t len)
{
    if (s->state != WS_STATE_OPEN || s->done) {
        return 0;
    }
    /* what this thread queued earlier (in on_connect) goes first */
    ws_engine_flush_queue(s);
    if (s->state != WS_STATE_OPEN || s->done) {
        return 0;
    }
    if (opcode == WS_OP_CLOSE) {
        ws_engine_close_payload(s, buf, len);
        return len;
    }
    if (s->write_mode == WS_WRITE_NONBLOCKING
        && ws_io_pending(s) + len > s->settings->max_queued
        && ws_io_push(s) > 0) {
        return 0;
    }
    return ws_io_write(s, opcode, buf, len) == APR_SUCCESS ? len : 0;
}

static size_t CALLBACK srv_send(const WebSocketServer *server, const int type,
                                const unsigned char *buffer,
                                const size_t buffer_size)
{
    ws_session_t *s = session_of(server);
    unsigned int opcode = opcode_of(type);

    if (s == NULL || (buffer == NULL && buffer_size > 0)) {
        return 0;
    }
    /* RFC 6455 section 5.5: control payloads are at most 125 bytes */
    if (opcode >= WS_OP_CLOSE && buffer_size > WS_CONTROL_MAX) {
        return 0;
    }
    /* in_connect is the handler's own: only the owner reads it here */
    if (ws_io_is_owner(s) && !s->in_connect) {
        return send_direct(s, opcode, buffer, buffer_size);
    }
    return ws_io_enqueue(s, opcode, buffer, buffer_size) ? buffer_size : 0;
}

static void CALLBACK srv_close(const WebSocketServer *server)
{
    srv_send(server, MESSAGE_TYPE_CLOSE, NULL, 0);
}

/* ---- API v1 ------------------------------------------------------ */

/* Whether the connection still takes sends (not closing or closed). */
static int session_open(ws_session_t *s)
{
    int open;

    apr_thread_mutex_lock(s->mutex);
    open = s->state < WS_STATE_CLOSING;
    apr_thread_mutex_unlock(s->mutex);
    return open;
}

static int CALLBACK srv_subscribe(const WebSocketServer *server,
                                  const char *channel)
{
    ws_session_t *s = session_of(server);

    if (s == NULL || channel == NULL) {
        return WEBSOCKET_ERR_INVALID;
    }
    if (!session_open(s)) {
        return WEBSOCKET_ERR_CLOSED;
    }
    return ws_host_result(ws_chansub_add(s, channel));
}

static int CALLBACK srv_unsubscribe(const WebSocketServer *server,
                                    const char *channel)
{
    ws_session_t *s = session_of(server);

    if (s == NULL || channel == NULL) {
        return WEBSOCKET_ERR_INVALID;
    }
    return ws_host_result(ws_chansub_remove(s, channel));
}

static int CALLBACK srv_publish(const WebSocketServer *server,
                                const char *channel, const int type,
                                const unsigned char *buffer,
                                const size_t buffer_size)
{
    ws_session_t *s = session_of(server);
    ws_chan_limits_t lim;

    if (s == NULL) {
        return WEBSOCKET_ERR_INVALID;
    }
    if (!session_open(s)) {
        return WEBSOCKET_ERR_CLOSED;
    }
    lim.messages = s->settings->chan_history;
    lim.seconds = s->settings->chan_history_secs;
    return ws_host_publish(s->c->base_server, channel, type, buffer,
                          buffer_size, lim);
}

static int CALLBACK srv_close_with(const WebSocketServer *server,
                                   const int code, const char *reason)
{
    unsigned char p[WS_CONTROL_MAX];
    apr_size_t n = reason ? strlen(reason) : 0;

    if (session_of(server) == NULL || code < 0
        || !ws_frame_close_code_valid((unsigned int)code, 0)
        || n > WS_CONTROL_MAX - 2
        || (n > 0 && !ws_utf8_valid((const unsigned char *)reason, n))) {
        return WEBSOCKET_ERR_INVALID;
    }
    p[0] = (unsigned char)(code >> 8);
    p[1] = (unsigned char)(code & 0xff);
    if (n > 0) {
        memcpy(p + 2, reason, n);
    }
    return srv_send(server, MESSAGE_TYPE_CLOSE, p, n + 2) == n + 2
               ? WEBSOCKET_OK
               : WEBSOCKET_ERR_CLOSED;
}

static const char *CALLBACK srv_option(const WebSocketServer *server,
                                       const char *key)
{
    ws_session_t *s = session_of(server);

    if (s == NULL || key == NULL || s->settings->plugin_options == NULL) {
        return NULL;
    }
    return apr_table_get(s->settings->plugin_options, key);
}

void ws_server_init(ws_session_t *s)
{
    WebSocketServer *srv = &s->server;

    srv->size = sizeof(WebSocketServer);
    srv->version = WEBSOCKET_SERVER_VERSION_2;
    srv->state = (struct _WebSocketState *)(void *)s;
    srv->request = srv_request;
    srv->header_get = srv_header_get;
    srv->header_set = srv_header_set;
    srv->protocol_count = srv_protocol_count;
    srv->protocol_index = srv_protocol_index;
    srv->protocol_set = srv_protocol_set;
    srv->send = srv_send;
    srv->close = srv_close;
    srv->subscribe = srv_subscribe;
    srv->unsubscribe = srv_unsubscribe;
    srv->publish = srv_publish;
    srv->close_with = srv_close_with;
    srv->option = srv_option;
}
