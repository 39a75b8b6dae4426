/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_bridge.c -- SetHandler websocket-bridge: relays a WebSocket to a TCP
 * or unix-domain socket (WebSocketBridge), a built-in consumer of
 * messages like a plugin.  The backend is connected before the 101 (a
 * refusal or a timeout is a 502 or 504 the browser sees as a failed
 * handshake), then served as the session's peer socket (ws_peer_t): the
 * driver owning the I/O polls it and calls us.  Client to backend: what
 * the backend does not take at once waits in a buffer; once that holds
 * WebSocketBridgeBuffer bytes the client is not read.  Backend to client:
 * one frame of at most WebSocketBridgeBuffer (and WS_BRIDGE_FRAME) bytes
 * is read at a time, and only after the previous one is written.
 */
#include "httpd.h"
#include <stdlib.h>
#include <string.h>

#include "apr_base64.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "http_log.h"

#include "ws_bridge.h"
#include "ws_engine.h"
#include "ws_frame.h"
#include "ws_io.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);

/* The largest message sent to the client: backend bytes that arrive
 * together go out together, up to this. */
#define WS_BRIDGE_FRAME (64 * 1024)

typedef enum {
    WS_BRIDGE_BINARY,  /* binary messages (subprotocol "binary" or none) */
    WS_BRIDGE_BASE64   /* text messages of base64 (subprotocol "base64") */
} ws_bridge_mode_e;

/* The bridge of one session; the I/O owner alone touches it. */
typedef struct {
    ws_peer_t peer;          /* first: s->peer points here */
    ws_session_t *s;
    const char *target;
    ws_bridge_mode_e mode;
    unsigned char *up;       /* client -> backend, not yet written */
    apr_size_t up_len, up_cap;
    unsigned char *down;     /* backend -> client, one frame */
    apr_size_t down_cap;
    int backend_eof;         /* the backend has nothing more to say */
    int closed;              /* the socket is closed (cleanup ran) */
} ws_bridge_t;

static ws_bridge_t *bridge_of(ws_session_t *s)
{
    return (ws_bridge_t *)s->peer;
}

/* Closes the backend and frees the buffers, once (r->pool cleanup, or
 * run early by on_disconnect): the backend sees EOF. */
static apr_status_t bridge_cleanup(void *data)
{
    ws_bridge_t *b = data;

    if (!b->closed) {
        b->closed = 1;
        apr_socket_shutdown(b->peer.sock, APR_SHUTDOWN_WRITE);
        apr_socket_close(b->peer.sock);
        free(b->up);
        free(b->down);
        b->up = b->down = NULL;
        b->up_len = b->up_cap = 0;
    }
    return APR_SUCCESS;
}

/* Writes what is pending to the backend without waiting.  Returns 0 if
 * the backend failed (the session is then closing). */
static int flush_up(ws_bridge_t *b)
{
    apr_size_t off = 0;

    while (off < b->up_len) {
        apr_size_t n = b->up_len - off;
        apr_status_t rv = apr_socket_send(b->peer.sock,
                                          (char *)b->up + off, &n);

        off += n;
        if (APR_STATUS_IS_EAGAIN(rv)) {
            break;
        }
        if (rv != APR_SUCCESS) {
            ap_log_cerror(APLOG_MARK, APLOG_INFO, rv, b->s->c,
                          WS_LOGNO(00804) "cannot write to the bridge's "
                          "backend %s", b->target);
            b->up_len = 0;
            b->backend_eof = 1;
            ws_engine_send_close(b->s, WS_CLOSE_INTERNAL_ERROR);
            return 0;
        }
    }
    memmove(b->up, b->up + off, b->up_len - off);
    b->up_len -= off;
    return 1;
}

/* Appends @p len bytes for the backend and writes what it takes. */
static void queue_up(ws_bridge_t *b, const unsigned char *d, apr_size_t len)
{
    if (b->up_len + len > b->up_cap) {
        apr_size_t cap = b->up_len + len;
        unsigned char *p = realloc(b->up, cap);

        if (p == NULL) {
            ws_engine_fail(b->s, WS_CLOSE_INTERNAL_ERROR, "out of memory");
            return;
        }
        b->up = p;
        b->up_cap = cap;
    }
    memcpy(b->up + b->up_len, d, len);
    b->up_len += len;
    flush_up(b);
    if (b->up_len == 0 && b->up_cap > b->s->settings->bridge_buffer) {
        /* a message larger than the buffer: do not keep its room */
        free(b->up);
        b->up = NULL;
        b->up_cap = 0;
    }
}

/* Sends @p len bytes from the backend to the client as one message. */
static void send_down(ws_bridge_t *b, apr_size_t len)
{
    ws_session_t *s = b->s;

    if (b->mode == WS_BRIDGE_BASE64) {
        char *enc = malloc((apr_size_t)apr_base64_encode_len((int)len));
        int n;

        if (enc == NULL) {
            ws_engine_fail(s, WS_CLOSE_INTERNAL_ERROR, "out of memory");
            return;
        }
        n = apr_base64_encode_binary(enc, b->down, (int)len);
        ws_io_write(s, WS_OP_TEXT, (unsigned char *)enc,
                    n > 0 ? (apr_size_t)n - 1 : 0);
        free(enc);
        return;
    }
    ws_io_write(s, WS_OP_BINARY, b->down, len);
}

/* Reads one frame's worth from the backend (what is there now) and
 * sends it; at EOF closes the WebSocket with 1000. */
static void read_down(ws_bridge_t *b)
{
    apr_size_t got = 0;
    apr_status_t rv = APR_SUCCESS;

    while (got < b->down_cap) {
        apr_size_t n = b->down_cap - got;

        rv = apr_socket_recv(b->peer.sock, (char *)b->down + got, &n);
        got += n;
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    if (got > 0) {
        send_down(b, got);
    }
    if (rv == APR_SUCCESS || APR_STATUS_IS_EAGAIN(rv) || b->s->done) {
        return;
    }
    b->backend_eof = 1;
    if (!APR_STATUS_IS_EOF(rv)) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, rv, b->s->c,
                      WS_LOGNO(00805) "cannot read from the bridge's "
                      "backend %s", b->target);
    }
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, b->s->c,
                  WS_LOGNO(00806) "the bridge's backend %s closed its "
                  "side: closing the WebSocket", b->target);
    if (b->s->state == WS_STATE_OPEN) {
        ws_engine_send_close(b->s, APR_STATUS_IS_EOF(rv)
                                       ? WS_CLOSE_NORMAL
                                       : WS_CLOSE_INTERNAL_ERROR);
    }
}

static apr_int16_t peer_events(ws_session_t *s)
{
    ws_bridge_t *b = bridge_of(s);
    apr_int16_t ev = 0;

    if (b->closed || s->done) {
        return 0;
    }
    if (b->up_len > 0) {
        ev |= APR_POLLOUT;
    }
    /* backend bytes are read once the client took the previous ones
     * (a non-blocking owner leaves them pending) */
    if (!b->backend_eof && s->state == WS_STATE_OPEN
        && ws_io_pending(s) == 0) {
        ev |= APR_POLLIN;
    }
    return ev;
}

static void peer_ready(ws_session_t *s)
{
    ws_bridge_t *b = bridge_of(s);

    if (b->closed || s->done) {
        return;
    }
    if (b->up_len > 0 && !flush_up(b)) {
        return;
    }
    if (!b->backend_eof && s->state == WS_STATE_OPEN
        && ws_io_pending(s) == 0) {
        read_down(b);
    }
}

static int peer_hold_input(ws_session_t *s)
{
    ws_bridge_t *b = bridge_of(s);

    return !b->closed && b->up_len >= s->settings->bridge_buffer;
}

/* --- the built-in consumer of messages ----------------------------- */

/* Answers "binary" when offered, else "base64" (text frames of base64),
 * else no subprotocol (binary messages). */
static void *CALLBACK bridge_on_connect(const WebSocketServer *server)
{
    ws_session_t *s = (ws_session_t *)(void *)server->state;
    ws_bridge_t *b = bridge_of(s);
    size_t i, n = server->protocol_count(server);
    int base64 = 0;

    for (i = 0; i < n; i++) {
        const char *p = server->protocol_index(server, i);

        if (!strcmp(p, "binary")) {
            server->protocol_set(server, "binary");
            return b;
        }
        base64 = base64 || !strcmp(p, "base64");
    }
    if (base64) {
        server->protocol_set(server, "base64");
        b->mode = WS_BRIDGE_BASE64;
    }
    return b;
}

/* base64 text to bytes; NULL if it is not base64 */
static unsigned char *decode64(const unsigned char *buf, apr_size_t len,
                               apr_size_t *out)
{
    char *src = malloc(len + 1);
    unsigned char *dst = NULL;
    apr_size_t i;

    if (src == NULL) {
        return NULL;
    }
    memcpy(src, buf, len);
    src[len] = '\0';
    for (i = 0; i < len; i++) {
        if (!apr_isalnum(src[i]) && src[i] != '+' && src[i] != '/'
            && src[i] != '=') {
            free(src);
            return NULL;
        }
    }
    dst = malloc((apr_size_t)apr_base64_decode_len(src) + 1);
    if (dst != NULL) {
        *out = (apr_size_t)apr_base64_decode_binary(dst, src);
    }
    free(src);
    return dst;
}

/* Binary messages go to the backend as they are; so do text messages
 * (their UTF-8 bytes) unless "base64" was agreed: then text is decoded
 * and binary is relayed as it is. */
static size_t CALLBACK bridge_on_message(void *priv,
                                         const WebSocketServer *server,
                                         const int type,
                                         unsigned char *buffer,
                                         const size_t len)
{
    ws_bridge_t *b = priv;
    unsigned char *bytes;
    apr_size_t n = 0;

    if (b->closed || b->backend_eof || len == 0) {
        return 0;
    }
    if (b->mode != WS_BRIDGE_BASE64 || type != MESSAGE_TYPE_TEXT) {
        queue_up(b, buffer, len);
        return len;
    }
    bytes = decode64(buffer, len, &n);
    if (bytes == NULL) {
        ws_engine_fail(b->s, WS_CLOSE_INVALID_DATA,
                       "a text message of the bridge is not base64");
        return 0;
    }
    queue_up(b, bytes, n);
    free(bytes);
    return len;
}

/* The WebSocket is over: what the backend can still take at once goes,
 * then its write side is shut down and the socket closed. */
static void CALLBACK bridge_on_disconnect(void *priv,
                                          const WebSocketServer *server)
{
    ws_bridge_t *b = priv;

    if (!b->closed && b->up_len > 0) {
        flush_up(b);
    }
    apr_pool_cleanup_run(b->s->r->pool, b, bridge_cleanup);
}

static WebSocketPlugin bridge_plugin = {
    .size = sizeof(WebSocketPlugin), .version = WEBSOCKET_PLUGIN_VERSION_0,
    .on_connect = bridge_on_connect, .on_message = bridge_on_message,
    .on_disconnect = bridge_on_disconnect
};

static ws_plugin_t bridge_wp = {
    .path = "(built-in)", .symbol = WS_BRIDGE_HANDLER_NAME,
    .plugin = &bridge_plugin
};

ws_plugin_t *ws_bridge_plugin(void)
{
    return &bridge_wp;
}

/* --- connecting ------------------------------------------------------ */

/* The address of @p target (tcp://HOST:PORT or unix:/path), or an HTTP
 * status. */
static int resolve(request_rec *r, const char *target, apr_sockaddr_t **sa)
{
    char *host = NULL, *scope = NULL;
    apr_port_t port = 0;
    apr_status_t rv;

    if (!strncmp(target, "unix:", 5) && target[5] == '/') {
        rv = apr_sockaddr_info_get(sa, target + 5, APR_UNIX, 0, 0, r->pool);
    }
    else if (!strncmp(target, "tcp://", 6)
             && apr_parse_addr_port(&host, &scope, &port, target + 6,
                                    r->pool) == APR_SUCCESS
             && host != NULL && port != 0 && scope == NULL) {
        rv = apr_sockaddr_info_get(sa, host, APR_UNSPEC, port, 0, r->pool);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      WS_LOGNO(00801) "WebSocketBridge target '%s' is not "
                      "tcp://HOST:PORT or unix:/path", target);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      WS_LOGNO(00802) "cannot resolve the bridge's backend "
                      "%s", target);
        return HTTP_BAD_GATEWAY;
    }
    return OK;
}

/* Connects @p sock to @p sa within the connect timeout: OK, 502, 504. */
static int connect_backend(ws_session_t *s, ws_bridge_t *b,
                           apr_sockaddr_t *sa)
{
    request_rec *r = s->r;
    apr_status_t rv;

    rv = apr_socket_create(&b->peer.sock, sa->family, SOCK_STREAM,
                           sa->family == APR_UNIX ? 0 : APR_PROTO_TCP,
                           r->pool);
    if (rv == APR_SUCCESS) {
        apr_socket_timeout_set(b->peer.sock,
                               s->settings->bridge_connect_timeout);
        rv = apr_socket_connect(b->peer.sock, sa);
        if (rv != APR_SUCCESS) {
            apr_socket_close(b->peer.sock);
        }
    }
    if (rv != APR_SUCCESS) {
        int timeout = APR_STATUS_IS_TIMEUP(rv);

        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      WS_LOGNO(00803) "cannot connect to the bridge's "
                      "backend %s%s; answering %d", b->target,
                      timeout ? " in WebSocketBridgeConnectTimeout" : "",
                      timeout ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY);
        return timeout ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY;
    }
    /* from now on only the driver's poll waits for it */
    apr_socket_timeout_set(b->peer.sock, 0);
    if (sa->family != APR_UNIX) {
        apr_socket_opt_set(b->peer.sock, APR_TCP_NODELAY, 1);
    }
    return OK;
}

int ws_bridge_connect(ws_session_t *s)
{
    request_rec *r = s->r;
    ws_bridge_t *b = apr_pcalloc(r->pool, sizeof(*b));
    apr_sockaddr_t *sa = NULL;
    const char *err = NULL;
    int status;

    b->s = s;
    b->target = ap_expr_str_exec(r, s->settings->bridge_target, &err);
    if (err != NULL || b->target == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      WS_LOGNO(00807) "cannot evaluate WebSocketBridge: %s",
                      err ? err : "no value");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    status = resolve(r, b->target, &sa);
    if (status == OK) {
        status = connect_backend(s, b, sa);
    }
    if (status != OK) {
        return status;
    }
    b->down_cap = s->settings->bridge_buffer < WS_BRIDGE_FRAME
                      ? s->settings->bridge_buffer : WS_BRIDGE_FRAME;
    b->down = malloc(b->down_cap);
    if (b->down == NULL) {
        apr_socket_close(b->peer.sock);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    b->peer.events = peer_events;
    b->peer.ready = peer_ready;
    b->peer.hold_input = peer_hold_input;
    apr_pool_cleanup_register(r->pool, b, bridge_cleanup,
                              apr_pool_cleanup_null);
    s->peer = &b->peer;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  WS_LOGNO(00808) "bridge connected to %s", b->target);
    return OK;
}
