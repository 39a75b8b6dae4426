/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_recv.c -- the engine's receiving half: frames from WEBSOCKET_IN
 * become messages for the plugin; pings are answered, the client's close
 * is echoed.
 */
#include "httpd.h"
#include <stdlib.h>
#include <string.h>

#include "http_log.h"
#include "util_filter.h"

#include "ws_bucket.h"
#include "ws_chansub.h"
#include "ws_engine.h"
#include "ws_recv.h"
#include "ws_io.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);

/* ask the filters for this much per read */
#define WS_READ_MAX 65536
/* reads per call of ws_recv_readable: a client that floods us must
 * not starve the plugin threads' queue */
#define WS_READ_BUDGET 64

static int grow_message(ws_session_t *s, apr_size_t need)
{
    apr_size_t cap = s->msg_cap ? s->msg_cap : 4096;
    unsigned char *p;

    /* grow with what arrives, never with what a header declares */
    while (cap < need) {
        cap = cap * 2 > cap ? cap * 2 : need;
    }
    if (cap > s->settings->max_message && need <= s->settings->max_message) {
        cap = (apr_size_t)s->settings->max_message;
    }
    p = realloc(s->msg, cap);
    if (p == NULL) {
        return 0;
    }
    s->msg = p;
    s->msg_cap = cap;
    return 1;
}

static int too_large_code(const ws_session_t *s)
{
    return s->version == 13 ? WS_CLOSE_TOO_LARGE : WS_CLOSE_TOO_LARGE_OLD;
}

static void on_payload(ws_session_t *s, const unsigned char *d, apr_size_t n)
{
    if (s->frame_opcode >= WS_OP_CLOSE) {
        /* the parser keeps control payloads within 125 bytes */
        if (s->ctl_len + n > sizeof(s->ctl)) {
            ws_engine_fail(s, WS_CLOSE_PROTOCOL_ERROR, "control frame too long");
            return;
        }
        memcpy(s->ctl + s->ctl_len, d, n);
        s->ctl_len += n;
        return;
    }
    /* the size the plugin will see: with an extension that transforms
     * payloads this is where the limit must hold */
    if (s->msg_len + n > s->settings->max_message) {
        ws_engine_fail(s, too_large_code(s), "message too large");
        return;
    }
    if (s->msg_opcode == WS_OP_TEXT
        && ws_utf8_feed(&s->utf8, d, n) != WS_UTF8_OK) {
        ws_engine_fail(s, WS_CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
        return;
    }
    if (s->state != WS_STATE_OPEN) {
        return; /* closing: nobody will read it */
    }
    if (s->msg_len + n > s->msg_cap && !grow_message(s, s->msg_len + n)) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, APR_ENOMEM, s->c,
                      WS_LOGNO(00103) "out of memory for a message of %"
                      APR_SIZE_T_FMT " bytes", s->msg_len + n);
        ws_engine_fail(s, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    memcpy(s->msg + s->msg_len, d, n);
    s->msg_len += n;
}

static void on_close_frame(ws_session_t *s)
{
    unsigned int code = WS_CLOSE_NORMAL;

    s->close_received = 1;
    if (s->ctl_len >= 2) {
        code = ((unsigned int)s->ctl[0] << 8) | s->ctl[1];
        if (!ws_frame_close_code_valid(code, s->settings->allow_reserved)) {
            ws_engine_fail(s, WS_CLOSE_PROTOCOL_ERROR, "invalid close code");
            return;
        }
        if (!ws_utf8_valid(s->ctl + 2, s->ctl_len - 2)) {
            ws_engine_fail(s, WS_CLOSE_INVALID_DATA, "invalid UTF-8 in close reason");
            return;
        }
    }
    ap_log_cerror(APLOG_MARK, APLOG_TRACE1, 0, s->c,
                  "close frame from client, code %u", code);
    /* RFC 6455 section 5.5.1: answer with a close, echoing the code;
     * then the server closes the TCP connection (section 7.1.1) */
    ws_engine_send_close(s, (int)code);
    s->done = 1;
    /* the plugin hears what the client said (1005: no code at all) */
    if (s->ctl_len >= 2) {
        ws_engine_report_close(s, (int)code, s->ctl + 2, s->ctl_len - 2);
    }
    else {
        ws_engine_report_close(s, WEBSOCKET_CLOSE_NO_STATUS, NULL, 0);
    }
}

static void deliver(ws_session_t *s)
{
    static unsigned char empty[1];
    int type = s->msg_opcode == WS_OP_TEXT ? MESSAGE_TYPE_TEXT
                                           : MESSAGE_TYPE_BINARY;

    if (s->msg_opcode == WS_OP_TEXT && !ws_utf8_complete(&s->utf8)) {
        ws_engine_fail(s, WS_CLOSE_INVALID_DATA, "text message ends inside a "
             "UTF-8 sequence");
        return;
    }
    s->in_message = 0;
    s->last_message = apr_time_now();
    if (s->state != WS_STATE_OPEN) {
        s->msg_len = 0;
        return;
    }
    ap_log_cerror(APLOG_MARK, APLOG_TRACE3, 0, s->c,
                  "message in: %s, %" APR_SIZE_T_FMT " bytes",
                  type == MESSAGE_TYPE_TEXT ? "text" : "binary", s->msg_len);
    if (s->chan != NULL) {
        ws_chansub_client_message(s, type == MESSAGE_TYPE_TEXT,
                                  s->msg ? s->msg : empty, s->msg_len);
    }
    /* an empty message still gets a valid (writable) buffer */
    s->plugin->on_message(s->plugin_private, &s->server, type,
                          s->msg ? s->msg : empty, s->msg_len);
    s->msg_len = 0;
}

static void on_meta(ws_session_t *s, const ws_meta_t *m)
{
    switch (m->kind) {
    case WS_META_START:
        s->frame_opcode = m->opcode;
        s->in_frame = 1;
        if (m->opcode >= WS_OP_CLOSE) {
            s->ctl_len = 0;
        }
        else if (m->opcode != WS_OP_CONT) {
            s->msg_opcode = m->opcode;
            s->in_message = 1;
            s->msg_len = 0;
            ws_utf8_init(&s->utf8);
        }
        break;
    case WS_META_END:
        s->in_frame = 0;
        if (m->opcode == WS_OP_PING) {
            /* answered at once, also between fragments of a message */
            if (s->state == WS_STATE_OPEN) {
                ws_io_write(s, WS_OP_PONG, s->ctl, s->ctl_len);
            }
        }
        else if (m->opcode == WS_OP_CLOSE) {
            on_close_frame(s);
        }
        else if (m->opcode == WS_OP_PONG) {
            /* unsolicited pongs are allowed and ignored */
        }
        else if (m->fin) {
            deliver(s);
        }
        break;
    case WS_META_ERROR:
        ws_engine_fail(s, m->close_code, m->reason ? m->reason : "protocol error");
        break;
    }
}

int ws_recv_readable(ws_session_t *s)
{
    apr_bucket *b;
    apr_status_t rv;
    int reads = 0;

    while (!s->done) {
        if (++reads > WS_READ_BUDGET) {
            return 1; /* let queued sends through, then read on */
        }
        if (s->peer != NULL && s->peer->hold_input(s)) {
            return 1; /* the peer takes no more now: read on later */
        }
        rv = ap_get_brigade(s->c->input_filters, s->in_bb, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ, WS_READ_MAX);
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(s->in_bb))) {
            break;
        }
        if (rv != APR_SUCCESS) {
            /* EOF, reset, timeout: the client went away */
            ap_log_cerror(APLOG_MARK, APLOG_DEBUG, rv, s->c,
                          WS_LOGNO(00104) "connection closed by the client "
                          "without a close frame");
            s->done = 1;
            break;
        }
        /* any bytes prove the client alive: no pong needed any more */
        s->idle_since = s->last_rx = apr_time_now();
        s->pong_deadline = 0;
        while (!APR_BRIGADE_EMPTY(s->in_bb) && !s->done) {
            b = APR_BRIGADE_FIRST(s->in_bb);
            if (WS_BUCKET_IS_FRAME(b)) {
                on_meta(s, ws_bucket_frame_meta(b));
            }
            else if (APR_BUCKET_IS_EOS(b)) {
                s->done = 1;
            }
            else if (!APR_BUCKET_IS_METADATA(b) && b->length > 0) {
                const char *d;
                apr_size_t n;

                rv = apr_bucket_read(b, &d, &n, APR_BLOCK_READ);
                if (rv != APR_SUCCESS) {
                    s->done = 1;
                    break;
                }
                on_payload(s, (const unsigned char *)d, n);
            }
            apr_bucket_delete(b);
        }
        apr_brigade_cleanup(s->in_bb);
    }
    return 0;
}
