/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_engine.c -- the session engine: takeover, queued sends, the closing
 * handshake, timers and the end of a session.
 */
#include "httpd.h"
#include <stdlib.h>
#include <string.h>

#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "util_filter.h"

#include "ws_chansub.h"
#include "ws_deflate_filter.h"
#include "ws_engine.h"
#include "ws_filters.h"
#include "ws_io.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);

/* a message buffer larger than this is released once the connection has
 * been idle for WS_SHRINK_IDLE, so a burst of big messages does not pin
 * its memory while smaller ones reuse the buffer without reallocating */
#define WS_KEEP_BUFFER (64 * 1024)
#define WS_SHRINK_IDLE apr_time_from_sec(1)

void ws_engine_takeover(ws_session_t *s)
{
    request_rec *r = s->r;
    conn_rec *c = s->c;
    int too_large = s->version == 13 ? WS_CLOSE_TOO_LARGE
                                     : WS_CLOSE_TOO_LARGE_OLD;

    /* From here on the connection carries frames: nothing of HTTP may
     * touch it.  Pointing the request at the connection's filters keeps
     * request filters (mod_deflate, chunking, HTTP_IN) out, and stops
     * httpd from writing a second response after the handler returns. */
    r->output_filters = r->proto_output_filters = c->output_filters;
    r->input_filters = r->proto_input_filters = c->input_filters;
    c->keepalive = AP_CONN_CLOSE;
    /* mod_reqtimeout would cut a quiet WebSocket after its body timeout */
    ap_remove_input_filter_byhandle(c->input_filters, "reqtimeout");
    /* mod_ssl's coalescing filter keeps small writes until a FLUSH; a
     * non-blocking write (ws_io.h) sends none, and every frame we write
     * is a message boundary anyway */
    ap_remove_output_filter_byhandle(c->output_filters,
                                     "SSL/TLS Coalescing Filter");
    s->filters = ws_filters_add(c, s->settings->max_message, too_large);
    if (s->deflate != NULL) {
        ws_deflate_filter_add(c, ws_filters_parser(s->filters), s->deflate,
                              s->settings->deflate_memlevel,
                              s->settings->deflate_min_size,
                              s->settings->max_message, too_large);
    }
    if (c->master == NULL) {
        /* blocking writes to a client that stops reading give up after
         * the send timeout (the core waits as long as the socket's) */
        apr_socket_t *csd = ap_get_conn_socket(c);
        if (csd) {
            apr_socket_timeout_set(csd, s->settings->send_timeout);
        }
    }
    ws_io_set_mode(s, s->write_mode);
    ws_session_set_state(s, WS_STATE_OPEN);
    s->idle_since = s->last_rx = s->last_message = apr_time_now();
}

void ws_engine_close_payload(ws_session_t *s, const unsigned char *p,
                             apr_size_t len)
{
    if (s->state >= WS_STATE_CLOSING) {
        return; /* one close frame per connection */
    }
    /* the state changes first: a send() racing with us gets 0 */
    ws_session_set_state(s, WS_STATE_CLOSING);
    s->close_deadline = apr_time_now() + s->settings->close_timeout;
    ws_io_write(s, WS_OP_CLOSE, p, len);
}

void ws_engine_send_close(ws_session_t *s, int code)
{
    unsigned char p[2];

    p[0] = (unsigned char)(code >> 8);
    p[1] = (unsigned char)(code & 0xff);
    ws_engine_close_payload(s, p, code ? 2 : 0);
}

void ws_engine_fail(ws_session_t *s, int code, const char *why)
{
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, s->c,
                  WS_LOGNO(00102) "closing with %d: %s", code, why);
    ws_engine_send_close(s, code);
    s->done = 1;
}

void ws_engine_flush_queue(ws_session_t *s)
{
    ws_queue_msg_t *head, *m;
    apr_size_t total = 0;

    if (s->write_mode == WS_WRITE_NONBLOCKING && ws_io_pending(s) > 0
        && ws_io_push(s) > 0) {
        return; /* the client has not taken what it got before */
    }
    apr_thread_mutex_lock(s->mutex);
    head = ws_queue_take(&s->queue);
    apr_thread_mutex_unlock(s->mutex);
    if (head == NULL) {
        return;
    }
    for (m = head; m != NULL && !s->done; m = m->next) {
        total += m->len;
        if (s->state != WS_STATE_OPEN) {
            break;
        }
        if (m->opcode == WS_OP_CLOSE) {
            if (!APR_BRIGADE_EMPTY(s->out_bb)) {
                ws_io_pass(s);
            }
            ws_engine_close_payload(s, m->ptr, m->len);
            break;
        }
        ws_io_append(s, m->opcode, m->ptr, m->len);
    }
    if (!APR_BRIGADE_EMPTY(s->out_bb) && !s->done) {
        ws_io_pass(s);
    }
    apr_brigade_cleanup(s->out_bb);
    ws_queue_free_list(head);
    apr_thread_mutex_lock(s->mutex);
    ws_queue_written(&s->queue, total);
    if (s->waiters) {
        apr_thread_cond_broadcast(s->room);
    }
    apr_thread_mutex_unlock(s->mutex);
}

void ws_engine_report_close(ws_session_t *s, int code,
                            const unsigned char *reason, apr_size_t len)
{
    char text[WS_CONTROL_MAX];
    WS_OnClose on_close;

    if (s->close_reported || !s->accepted) {
        return;
    }
    s->close_reported = 1;
    on_close = WS_PLUGIN_V1(s->plugin, on_close);
    if (on_close == NULL) {
        return;
    }
    if (len > sizeof(text) - 1) {
        len = sizeof(text) - 1; /* cannot be: a control payload */
    }
    if (len > 0) {
        memcpy(text, reason, len);
    }
    text[len] = '\0';
    ap_log_cerror(APLOG_MARK, APLOG_TRACE1, 0, s->c,
                  "on_close: code %d, reason of %" APR_SIZE_T_FMT " bytes",
                  code, len);
    on_close(s->plugin_private, &s->server, code, text, len);
}

void ws_engine_finish(ws_session_t *s)
{
    if (s->disconnected) {
        return;
    }
    s->disconnected = 1;
    s->done = 1;
    /* the delivery thread lets go of it before anything goes away */
    ws_chansub_detach(s);
    /* no send() gets through from now on, and none keeps waiting */
    ws_session_set_state(s, WS_STATE_CLOSED);
    /* no valid close frame from the client: 1006, as browsers say */
    ws_engine_report_close(s, WEBSOCKET_CLOSE_ABNORMAL, NULL, 0);
    if (s->accepted && s->plugin->on_disconnect) {
        s->plugin->on_disconnect(s->plugin_private, &s->server);
    }
    free(s->msg);
    s->msg = NULL;
    s->msg_cap = s->msg_len = 0;
}

static void maybe_shrink(ws_session_t *s, apr_time_t now)
{
    if (s->msg_cap > WS_KEEP_BUFFER && !s->in_message
        && now - s->idle_since >= WS_SHRINK_IDLE) {
        free(s->msg);
        s->msg = NULL;
        s->msg_cap = 0;
    }
}

static void earliest(apr_time_t *t, apr_time_t when)
{
    if (*t == 0 || when < *t) {
        *t = when;
    }
}

/* Whether part of a frame or of a fragmented message has arrived. */
static int mid_frame(const ws_session_t *s)
{
    return s->in_message || s->in_frame
           || (s->filters && ws_filters_mid_frame(s->filters));
}

apr_time_t ws_engine_next_due(const ws_session_t *s)
{
    const ws_settings_t *set = s->settings;
    apr_time_t t = 0;

    if (s->pending_since) {
        earliest(&t, s->pending_since + set->send_timeout);
    }
    if (s->state == WS_STATE_CLOSING) {
        earliest(&t, s->close_deadline);
        return t;
    }
    if (s->pong_deadline) {
        earliest(&t, s->pong_deadline);
    }
    else if (set->ping_interval > 0) {
        earliest(&t, s->last_rx + set->ping_interval);
    }
    if (set->idle_timeout > 0) {
        earliest(&t, s->last_message + set->idle_timeout);
    }
    if (mid_frame(s)) {
        earliest(&t, s->last_rx + s->r->server->timeout);
    }
    if (s->msg_cap > WS_KEEP_BUFFER && !s->in_message) {
        earliest(&t, s->idle_since + WS_SHRINK_IDLE);
    }
    return t;
}

/* Output a thread serving many connections left pending, and the client
 * has not taken for as long as a blocking write would have waited. */
static int pending_expired(ws_session_t *s, apr_time_t now)
{
    if (s->pending_since == 0
        || now < s->pending_since + s->settings->send_timeout) {
        return 0;
    }
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, s->c,
                  WS_LOGNO(00116) "the client took no output for %"
                  APR_TIME_T_FMT " ms, ending the session",
                  apr_time_as_msec(now - s->pending_since));
    s->done = 1;
    s->c->aborted = 1;
    ws_session_set_state(s, WS_STATE_CLOSED);
    return 1;
}

/* What ends or closes a connection at @p now; 1 if something did. */
static int on_deadline(ws_session_t *s, apr_time_t now)
{
    const ws_settings_t *set = s->settings;

    if (mid_frame(s) && now >= s->last_rx + s->r->server->timeout) {
        /* a frame (or fragmented message) begun and then nothing: a
         * peer gone without a FIN or a slow-drip client; it gets the
         * Timeout any request body gets */
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, s->c,
                      WS_LOGNO(00112) "no data for %" APR_TIME_T_FMT
                      " ms in the middle of a message, closing with 1008",
                      apr_time_as_msec(now - s->last_rx));
        ws_engine_send_close(s, WS_CLOSE_POLICY);
        s->done = 1;
        return 1;
    }
    if (s->pong_deadline && now >= s->pong_deadline) {
        /* a dead peer (or a broken one): no point waiting for a close */
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, s->c,
                      WS_LOGNO(00110) "no answer to a ping within %"
                      APR_TIME_T_FMT " ms, closing with 1011",
                      apr_time_as_msec(set->pong_timeout));
        ws_engine_send_close(s, WS_CLOSE_INTERNAL_ERROR);
        s->done = 1;
        return 1;
    }
    if (set->idle_timeout > 0 && now >= s->last_message + set->idle_timeout) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, s->c,
                      WS_LOGNO(00111) "idle for %" APR_TIME_T_FMT " ms, "
                      "closing with 1001", apr_time_as_msec(now
                                                     - s->last_message));
        ws_engine_send_close(s, WS_CLOSE_GOING_AWAY);
        return 1;
    }
    return 0;
}

void ws_engine_on_timer(ws_session_t *s, apr_time_t now)
{
    const ws_settings_t *set = s->settings;
    int going_away;

    apr_thread_mutex_lock(s->mutex);
    going_away = s->going_away;
    apr_thread_mutex_unlock(s->mutex);

    if (pending_expired(s, now)) {
        return;
    }
    if (s->state == WS_STATE_CLOSING) {
        if (now >= s->close_deadline) {
            ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, s->c,
                          WS_LOGNO(00107) "no close frame from the "
                          "client in time, closing");
            s->done = 1;
        }
        return;
    }
    if (s->state != WS_STATE_OPEN) {
        return;
    }
    if (going_away) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, s->c,
                      WS_LOGNO(00109) "server stopping: closing with 1001");
        ws_engine_send_close(s, WS_CLOSE_GOING_AWAY);
        return;
    }
    if (on_deadline(s, now)) {
        return;
    }
    if (set->ping_interval > 0 && !s->pong_deadline
        && now >= s->last_rx + set->ping_interval) {
        ap_log_cerror(APLOG_MARK, APLOG_TRACE2, 0, s->c,
                      "quiet for %" APR_TIME_T_FMT " ms, sending a ping",
                      apr_time_as_msec(now - s->last_rx));
        s->pong_deadline = now + set->pong_timeout;
        ws_io_write(s, WS_OP_PING, NULL, 0);
    }
    maybe_shrink(s, now);
}
