/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_handshake.c -- the websocket-handler: validates the upgrade request,
 * checks its origin, asks the plugin (on_connect), writes the 101 and
 * hands the connection to the session engine.
 */
#include "httpd.h"
#include <string.h>

#include "apr_strings.h"

#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "ws_async.h"
#include "ws_blocking.h"
#include "ws_bridge.h"
#include "ws_chansub.h"
#include "ws_config.h"
#include "ws_deflate.h"
#include "ws_handshake.h"
#include "ws_hs.h"
#include "ws_log.h"
#include "ws_engine.h"
#include "ws_io.h"
#include "ws_server.h"
#include "ws_session.h"

APLOG_USE_MODULE(websocket);

/* RFC 6455 section 4.2.1: what makes a request an upgrade to us at all.
 * Anything else is declined and served by httpd as usual. */
static int is_upgrade(request_rec *r)
{
    const char *upgrade = apr_table_get(r->headers_in, "Upgrade");
    const char *connection = apr_table_get(r->headers_in, "Connection");

    return r->proto_num >= HTTP_VERSION(1, 1)
           && upgrade != NULL && ws_hs_has_token(upgrade, "websocket")
           && connection != NULL && ws_hs_has_token(connection, "upgrade");
}

static int bad_request(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  WS_LOGNO(00201) "bad WebSocket handshake: %s", why);
    return HTTP_BAD_REQUEST;
}

/* RFC 6455 section 10.2 / RFC 6454: whether the request's Origin may
 * connect under the location's WebSocketOriginCheck. */
static int origin_allowed(request_rec *r, const ws_settings_t *settings,
                          int version)
{
    /* hybi-07 sent Sec-WebSocket-Origin; 8 and 13 send Origin */
    const char *origin = apr_table_get(
        r->headers_in, version == 7 ? "Sec-WebSocket-Origin" : "Origin");
    int i;

    if (origin == NULL || settings->origin_check == WS_ORIGIN_OFF) {
        return 1; /* non-browser clients send none */
    }
    if (settings->origin_check == WS_ORIGIN_SAME) {
        const char *self = ws_hs_origin(r->pool, ap_http_scheme(r),
                                        r->hostname, ap_get_server_port(r));
        if (strcmp(origin, self) == 0) {
            return 1;
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      WS_LOGNO(00202) "origin %s refused: not the same "
                      "origin as %s", origin, self);
        return 0;
    }
    for (i = 0; settings->trusted && i < settings->trusted->nelts; i++) {
        if (strcmp(origin, APR_ARRAY_IDX(settings->trusted, i,
                                         const char *)) == 0) {
            return 1;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  WS_LOGNO(00203) "origin %s refused: not a "
                  "WebSocketTrustedOrigin", origin);
    return 0;
}

/* RFC 7692 section 5: picks the first permessage-deflate offer we can
 * honour.  Returns OK (*response NULL when there is none) or 400. */
static int negotiate_deflate(request_rec *r, const ws_settings_t *settings,
                             ws_deflate_params_t *params,
                             const char **response)
{
    ws_deflate_config_t conf;
    const char *why = NULL;

    conf.window_bits = settings->deflate_window;
    conf.mem_level = settings->deflate_memlevel;
    conf.no_context_takeover = !settings->deflate_takeover;
    *response = NULL;
    switch (ws_deflate_negotiate(r->pool, apr_table_get(
                r->headers_in, "Sec-WebSocket-Extensions"), &conf, params,
                response, &why)) {
    case WS_DEFLATE_MALFORMED:
        return bad_request(r, why);
    case WS_DEFLATE_ACCEPTED:
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                      "permessage-deflate: %s", *response);
        break;
    case WS_DEFLATE_NONE:
        if (why != NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          WS_LOGNO(00210) "permessage-deflate offer "
                          "declined: %s", why);
        }
        break;
    }
    return OK;
}

/* on_connect refused: 403, empty body, and the connection closes. */
static int refuse(request_rec *r)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  WS_LOGNO(00204) "the plugin refused the connection");
    r->connection->keepalive = AP_CONN_CLOSE;
    r->status = HTTP_FORBIDDEN;
    ap_set_content_length(r, 0);
    apr_table_setn(r->headers_out, "Connection", "close");
    return OK;
}

static int switch_protocols(request_rec *r, ws_session_t *s, const char *key,
                            const char *deflate_response)
{
    apr_table_t *h = r->headers_out;
    r->status = HTTP_SWITCHING_PROTOCOLS;
    r->status_line = ap_get_status_line(r->status);
    apr_table_setn(h, "Upgrade", "websocket");
    apr_table_setn(h, "Connection", "Upgrade");
    apr_table_setn(h, "Sec-WebSocket-Accept", ws_hs_accept(r->pool, key));
    /* nobody writes these any more: on_connect has returned */
    if (s->hs_protocol != NULL) {
        apr_table_setn(h, "Sec-WebSocket-Protocol", s->hs_protocol);
    }
    if (s->deflate != NULL) {
        if (apr_table_get(s->hs_headers, "Sec-WebSocket-Extensions")) {
            /* the plugin answers the extensions itself: what it says is
             * what the client will speak */
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          WS_LOGNO(00209) "on_connect set "
                          "Sec-WebSocket-Extensions: permessage-deflate "
                          "not used");
            s->deflate = NULL;
        }
        else {
            apr_table_setn(h, "Sec-WebSocket-Extensions", deflate_response);
        }
    }
    apr_table_overlap(h, s->hs_headers, APR_OVERLAP_TABLES_SET);
    ap_send_interim_response(r, 1);
    if (r->connection->aborted) {
        ws_engine_finish(s);
        ws_io_end(s);
        return DONE;
    }
    ws_engine_takeover(s);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  WS_LOGNO(00205) "WebSocket connection open (version %d, "
                  "%s driver)", s->version, s->driver->name);
    if (s->driver->start(s)) {
        /* the driver ends it (ws_async.c logs WS00206 then) */
        return OK;
    }
    ws_engine_finish(s);
    ws_io_end(s);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  WS_LOGNO(00206) "WebSocket connection closed");
    return OK;
}

static int ws_handler(request_rec *r)
{
    ws_settings_t *settings;
    const char *key, *value;
    apr_array_header_t *protocols;
    ws_session_t *s;
    int version;
    void *priv = NULL;
    apr_status_t rv;
    ws_deflate_params_t deflate;
    const char *deflate_response = NULL;
    int bridge;

    if (r->handler == NULL || !is_upgrade(r)) {
        return DECLINED;
    }
    bridge = strcmp(r->handler, WS_BRIDGE_HANDLER_NAME) == 0;
    if (!bridge && strcmp(r->handler, WS_HANDLER_NAME) != 0) {
        return DECLINED;
    }
    settings = ws_config_settings(r);
    if (bridge) {
        if (settings->bridge_target == NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          WS_LOGNO(00211) "no WebSocketBridge configured "
                          "for %s (SetHandler websocket-bridge needs one)",
                          r->uri);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        settings->plugin = ws_bridge_plugin();
    }
    else if (settings->plugin == NULL && settings->channels != NULL) {
        /* a subscriber location: no plugin needed */
        settings->plugin = &ws_chansub_builtin;
    }
    if (settings->plugin == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      WS_LOGNO(00207) "no WebSocketHandler configured for "
                      "%s (SetHandler websocket-handler needs one)", r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (strcmp(r->method, "GET") != 0) {
        return bad_request(r, apr_pstrcat(r->pool, "method ", r->method,
                                          " is not GET", NULL));
    }
    key = apr_table_get(r->headers_in, "Sec-WebSocket-Key");
    if (!ws_hs_key_valid(key)) {
        return bad_request(r, "Sec-WebSocket-Key is missing or not the "
                              "base64 of 16 bytes");
    }
    version = ws_hs_version(apr_table_get(r->headers_in,
                                          "Sec-WebSocket-Version"));
    if (version < 0) {
        /* RFC 6455 section 4.4: tell the client what we speak */
        apr_table_setn(r->err_headers_out, "Sec-WebSocket-Version",
                       WS_HS_VERSIONS);
        return bad_request(r, "Sec-WebSocket-Version is missing or not "
                              "one of " WS_HS_VERSIONS);
    }
    value = apr_table_get(r->headers_in, "Sec-WebSocket-Protocol");
    protocols = apr_array_make(r->pool, 0, sizeof(const char *));
    if (value != NULL
        && ws_hs_parse_protocols(r->pool, value, &protocols) != APR_SUCCESS) {
        return bad_request(r, "Sec-WebSocket-Protocol is not a list of "
                              "tokens");
    }
    if (settings->deflate) {
        int status = negotiate_deflate(r, settings, &deflate,
                                       &deflate_response);
        if (status != OK) {
            return status;
        }
    }
    if (!origin_allowed(r, settings, version)) {
        return HTTP_FORBIDDEN;
    }

    rv = ws_session_create(&s, r, settings, version, protocols);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      WS_LOGNO(00208) "cannot set up a WebSocket session");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ws_server_init(s);
    if (bridge) {
        /* the backend first: a failure is an HTTP error, not a 101 */
        int status = ws_bridge_connect(s);

        if (status != OK) {
            ws_engine_finish(s);
            ws_io_end(s);
            return status;
        }
    }
    /* chosen before on_connect: plugin threads may send from then on */
    s->driver = ws_async_possible(r, settings->driver) ? &ws_async_driver
                                                       : &ws_blocking_driver;
    apr_thread_mutex_lock(s->mutex);
    s->in_connect = 1;
    apr_thread_mutex_unlock(s->mutex);
    if (settings->channels != NULL) {
        /* before on_connect: what it resumes goes out first */
        int status = ws_chansub_attach(s);

        if (status != OK) {
            apr_thread_mutex_lock(s->mutex);
            s->in_connect = 0;
            apr_thread_mutex_unlock(s->mutex);
            ws_engine_finish(s);
            ws_io_end(s);
            return status;
        }
    }
    if (s->plugin->on_connect) {
        priv = s->plugin->on_connect(&s->server);
    }
    apr_thread_mutex_lock(s->mutex);
    s->in_connect = 0;
    apr_thread_mutex_unlock(s->mutex);

    if (s->plugin->on_connect && priv == NULL) {
        /* frames queued in on_connect are dropped, sends get 0 from now
         * on, and on_disconnect is not called for a refused connection */
        ws_engine_finish(s);
        ws_io_end(s);
        return refuse(r);
    }
    s->plugin_private = priv;
    s->accepted = 1;
    s->deflate = deflate_response != NULL
                     ? apr_pmemdup(r->pool, &deflate, sizeof(deflate))
                     : NULL;
    return switch_protocols(r, s, key, deflate_response);
}

void ws_handshake_register_hooks(apr_pool_t *p)
{
    ap_hook_handler(ws_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
