/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_session.c -- the session engine (frames -> messages -> plugin,
 * closing handshake, queue draining) and its blocking driver.
 */
#include "httpd.h"
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"

#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "util_filter.h"

#include "ws_bucket.h"
#include "ws_deflate_filter.h"
#include "ws_async.h"
#include "ws_filters.h"
#include "ws_log.h"
#include "ws_session.h"

APLOG_USE_MODULE(websocket);

/* ask the filters for this much per read */
#define WS_READ_MAX 65536
/* reads per call of ws_session_on_readable: a client that floods us must
 * not starve the plugin threads' queue */
#define WS_READ_BUDGET 64
/* a message buffer larger than this is released once the connection has
 * been idle for WS_SHRINK_IDLE, so a burst of big messages does not pin
 * its memory while smaller ones reuse the buffer without reallocating */
#define WS_KEEP_BUFFER (64 * 1024)
#define WS_SHRINK_IDLE apr_time_from_sec(1)

int ws_session_io_acquire(ws_session_t *s, int wait)
{
    apr_os_thread_t me = apr_os_thread_current();

    apr_thread_mutex_lock(s->mutex);
    while (s->io_busy) {
        if (!wait || (s->io_thread_known && apr_os_thread_equal(
                                                s->io_thread, me))) {
            apr_thread_mutex_unlock(s->mutex);
            return 0;
        }
        apr_thread_cond_wait(s->io_free, s->mutex);
    }
    s->io_busy = 1;
    s->io_thread = me;
    s->io_thread_known = 1;
    apr_thread_mutex_unlock(s->mutex);
    return 1;
}

int ws_session_io_release(ws_session_t *s)
{
    int work;

    apr_thread_mutex_lock(s->mutex);
    s->io_busy = 0;
    s->io_thread_known = 0;
    /* what arrived while we held it and nobody else could do */
    work = s->queue_head != NULL
           || (s->going_away && s->state == WS_STATE_OPEN);
    apr_thread_cond_broadcast(s->io_free);
    apr_thread_mutex_unlock(s->mutex);
    return work;
}

int ws_session_on_io_thread(const ws_session_t *s)
{
    return s->io_thread_known
           && apr_os_thread_equal(s->io_thread, apr_os_thread_current());
}

static apr_status_t session_cleanup(void *data)
{
    ws_session_t *s = data;
    ws_out_msg_t *m, *next;

    for (m = s->queue_head; m != NULL; m = next) {
        next = m->next;
        free(m);
    }
    s->queue_head = s->queue_tail = NULL;
    free(s->msg);
    s->msg = NULL;
    return APR_SUCCESS;
}

/* --- sessions of this process, told when the child stops ------------ */

static apr_thread_mutex_t *registry_mutex;
static ws_session_t *registry_head;
static int child_stopping;

static apr_status_t registry_remove(void *data)
{
    ws_session_t *s = data;

    if (registry_mutex == NULL) {
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(registry_mutex);
    if (s->reg_prev) {
        s->reg_prev->reg_next = s->reg_next;
    }
    else if (registry_head == s) {
        registry_head = s->reg_next;
    }
    if (s->reg_next) {
        s->reg_next->reg_prev = s->reg_prev;
    }
    s->reg_prev = s->reg_next = NULL;
    apr_thread_mutex_unlock(registry_mutex);
    return APR_SUCCESS;
}

static void registry_add(ws_session_t *s)
{
    if (registry_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(registry_mutex);
    s->reg_next = registry_head;
    if (registry_head) {
        registry_head->reg_prev = s;
    }
    registry_head = s;
    if (child_stopping) {
        s->going_away = 1;
    }
    apr_thread_mutex_unlock(registry_mutex);
    /* whatever ends the request takes the session out of the list */
    apr_pool_cleanup_register(s->r->pool, s, registry_remove,
                              apr_pool_cleanup_null);
}

static void ws_child_init(apr_pool_t *pchild, server_rec *srv)
{
    if (apr_thread_mutex_create(&registry_mutex, APR_THREAD_MUTEX_DEFAULT,
                                pchild) != APR_SUCCESS) {
        registry_mutex = NULL;
    }
}

/* This child is stopping (graceful restart of an old generation,
 * graceful-stop, or a threaded MPM retiring a process it finds surplus:
 * more idle threads than MaxSpareThreads): every open WebSocket is told,
 * so that it sends 1001 (going away) and ends instead of holding the child
 * and its scoreboard slot for as long as the client stays.  Called by the
 * child_stopping hook (threaded MPMs: on the child's signal thread, not in
 * a signal handler) and by a session that finds the MPM stopping first
 * (prefork runs the hook only at exit). */
static void stop_sessions(void)
{
    ws_session_t *s;
    int n = 0, first;

    if (registry_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(registry_mutex);
    first = !child_stopping;
    child_stopping = 1;
    for (s = registry_head; s != NULL; s = s->reg_next) {
        int async;

        n++;
        apr_thread_mutex_lock(s->mutex);
        s->going_away = 1;
        if (s->pollset) {
            apr_pollset_wakeup(s->pollset);
        }
        async = s->async;
        apr_thread_mutex_unlock(s->mutex);
        /* a parked connection has no thread to notice: say 1001 from
         * here (a busy one's owner sees going_away before it parks) */
        if (async && ws_session_io_acquire(s, 0)) {
            ws_async_service(s);
        }
    }
    apr_thread_mutex_unlock(registry_mutex);
    if (first && n > 0) {
        /* an administrator who sees clients reconnecting wants to know
         * why: a restart, a stop, or process maintenance */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf,
                     WS_LOGNO(00114) "this process is stopping: closing %d "
                     "WebSocket%s with 1001 (going away); if this happens "
                     "without a restart or stop, httpd is retiring surplus "
                     "processes (see MaxSpareThreads)", n, n == 1 ? "" : "s");
    }
}

static void ws_child_stopping(apr_pool_t *pchild, int graceful)
{
    stop_sessions();
}

void ws_session_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(ws_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(ws_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
}

apr_status_t ws_session_create(ws_session_t **out, request_rec *r,
                               const ws_settings_t *settings, int version,
                               apr_array_header_t *protocols)
{
    ws_session_t *s = apr_pcalloc(r->pool, sizeof(*s));
    apr_status_t rv;

    s->r = r;
    s->c = r->connection;
    s->settings = settings;
    s->version = version;
    s->protocols = protocols;
    s->plugin = settings->plugin->plugin;
    s->state = WS_STATE_CONNECTING;
    s->io_thread = apr_os_thread_current();
    s->io_thread_known = 1;

    /* the handler's thread does the I/O until a driver says otherwise */
    s->io_busy = 1;

    rv = apr_thread_mutex_create(&s->mutex, APR_THREAD_MUTEX_DEFAULT,
                                 r->pool);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&s->room, r->pool);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&s->io_free, r->pool);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_pool_create(&s->hs_pool, r->pool);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(s->hs_pool, "websocket_handshake");
    s->hs_headers = apr_table_make(s->hs_pool, 4);
    s->in_bb = apr_brigade_create(r->pool, s->c->bucket_alloc);
    s->out_bb = apr_brigade_create(r->pool, s->c->bucket_alloc);
    apr_pool_cleanup_register(r->pool, s, session_cleanup,
                              apr_pool_cleanup_null);
    ws_server_init(s);
    *out = s;
    return APR_SUCCESS;
}

static void set_status(ws_session_t *s)
{
    ws_status_e now = s->state == WS_STATE_OPEN      ? WS_STATUS_OPEN
                      : s->state == WS_STATE_CLOSING ? WS_STATUS_CLOSING
                                                     : WS_STATUS_NONE;

    ws_status_change(s->status, now);
    s->status = now;
}

void ws_session_takeover(ws_session_t *s)
{
    request_rec *r = s->r;
    conn_rec *c = s->c;
    ws_frame_parser_t *parser;
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
    parser = ws_filters_add(c, s->settings->max_message, too_large);
    s->parser = parser;
    if (s->deflate != NULL) {
        ws_deflate_filter_add(c, parser, s->deflate,
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
    apr_thread_mutex_lock(s->mutex);
    s->state = WS_STATE_OPEN;
    apr_thread_mutex_unlock(s->mutex);
    set_status(s);
    s->idle_since = s->last_rx = s->last_message = apr_time_now();
    registry_add(s);
}

/* Drops the queue and wakes blocked senders (mutex held). */
static void drop_queue_locked(ws_session_t *s)
{
    ws_out_msg_t *m, *next;

    for (m = s->queue_head; m != NULL; m = next) {
        next = m->next;
        free(m);
    }
    s->queue_head = s->queue_tail = NULL;
    s->queued_bytes = 0;
    apr_thread_cond_broadcast(s->room);
}

static void set_state(ws_session_t *s, ws_state_e state)
{
    apr_thread_mutex_lock(s->mutex);
    if (state > s->state) {
        s->state = state;
    }
    if (s->state >= WS_STATE_CLOSING) {
        drop_queue_locked(s);
    }
    apr_thread_mutex_unlock(s->mutex);
    set_status(s);
}

static void append_frame(ws_session_t *s, unsigned int opcode,
                         const unsigned char *buf, apr_size_t len)
{
    apr_bucket_alloc_t *list = s->c->bucket_alloc;
    ws_meta_t m;

    memset(&m, 0, sizeof(m));
    m.kind = WS_META_START;
    m.fin = 1;
    m.opcode = opcode;
    m.length = len;
    APR_BRIGADE_INSERT_TAIL(s->out_bb, ws_bucket_frame_create(&m, list));
    if (len > 0) {
        /* transient: the core sets aside (copies) whatever it cannot
         * write before the pass returns, so no copy is made here */
        APR_BRIGADE_INSERT_TAIL(s->out_bb, apr_bucket_transient_create(
            (const char *)buf, len, list));
    }
    m.kind = WS_META_END;
    APR_BRIGADE_INSERT_TAIL(s->out_bb, ws_bucket_frame_create(&m, list));
}

static apr_status_t pass_out(ws_session_t *s)
{
    apr_status_t rv;

    APR_BRIGADE_INSERT_TAIL(s->out_bb,
                            apr_bucket_flush_create(s->c->bucket_alloc));
    rv = ap_pass_brigade(s->c->output_filters, s->out_bb);
    apr_brigade_cleanup(s->out_bb);
    if (rv != APR_SUCCESS) {
        /* a client that went away is not an error of ours */
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, rv, s->c,
                      WS_LOGNO(00101) "write failed, ending the session");
        s->done = 1;
        s->c->aborted = 1;
        set_state(s, WS_STATE_CLOSED);
    }
    return rv;
}

apr_status_t ws_session_write(ws_session_t *s, unsigned int opcode,
                              const unsigned char *buf, apr_size_t len)
{
    if (s->done) {
        return APR_ECONNABORTED;
    }
    if (opcode < WS_OP_CLOSE) {
        s->last_message = apr_time_now();
    }
    append_frame(s, opcode, buf, len);
    return pass_out(s);
}

void ws_session_close_payload(ws_session_t *s, const unsigned char *p,
                              apr_size_t len)
{
    if (s->state >= WS_STATE_CLOSING) {
        return; /* one close frame per connection */
    }
    /* the state changes first: a send() racing with us gets 0 */
    set_state(s, WS_STATE_CLOSING);
    s->close_deadline = apr_time_now() + s->settings->close_timeout;
    ws_session_write(s, WS_OP_CLOSE, p, len);
}

void ws_session_send_close(ws_session_t *s, int code)
{
    unsigned char p[2];

    p[0] = (unsigned char)(code >> 8);
    p[1] = (unsigned char)(code & 0xff);
    ws_session_close_payload(s, p, code ? 2 : 0);
}

/* _Fail the WebSocket Connection_ (RFC 6455 section 7.1.7): a close frame
 * with the reason, then the TCP connection is closed. */
static void fail(ws_session_t *s, int code, const char *why)
{
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, s->c,
                  WS_LOGNO(00102) "closing with %d: %s", code, why);
    ws_session_send_close(s, code);
    s->done = 1;
}

void ws_session_flush_queue(ws_session_t *s)
{
    ws_out_msg_t *head, *m, *next;
    apr_size_t total = 0;

    apr_thread_mutex_lock(s->mutex);
    head = s->queue_head;
    s->queue_head = s->queue_tail = NULL;
    s->wake_pending = 0;
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
                pass_out(s);
            }
            ws_session_close_payload(s, m->data, m->len);
            break;
        }
        append_frame(s, m->opcode, m->data, m->len);
        if (m->opcode < WS_OP_CLOSE) {
            s->last_message = apr_time_now();
        }
    }
    if (!APR_BRIGADE_EMPTY(s->out_bb) && !s->done) {
        pass_out(s);
    }
    apr_brigade_cleanup(s->out_bb);
    for (m = head; m != NULL; m = next) {
        next = m->next;
        free(m);
    }
    apr_thread_mutex_lock(s->mutex);
    s->queued_bytes = total > s->queued_bytes ? 0 : s->queued_bytes - total;
    if (s->waiters) {
        apr_thread_cond_broadcast(s->room);
    }
    apr_thread_mutex_unlock(s->mutex);
}

/* --- receiving ------------------------------------------------------ */

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
            fail(s, WS_CLOSE_PROTOCOL_ERROR, "control frame too long");
            return;
        }
        memcpy(s->ctl + s->ctl_len, d, n);
        s->ctl_len += n;
        return;
    }
    /* the size the plugin will see: with an extension that transforms
     * payloads this is where the limit must hold */
    if (s->msg_len + n > s->settings->max_message) {
        fail(s, too_large_code(s), "message too large");
        return;
    }
    if (s->msg_opcode == WS_OP_TEXT
        && ws_utf8_feed(&s->utf8, d, n) != WS_UTF8_OK) {
        fail(s, WS_CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
        return;
    }
    if (s->state != WS_STATE_OPEN) {
        return; /* closing: nobody will read it */
    }
    if (s->msg_len + n > s->msg_cap && !grow_message(s, s->msg_len + n)) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, APR_ENOMEM, s->c,
                      WS_LOGNO(00103) "out of memory for a message of %"
                      APR_SIZE_T_FMT " bytes", s->msg_len + n);
        fail(s, WS_CLOSE_INTERNAL_ERROR, "out of memory");
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
            fail(s, WS_CLOSE_PROTOCOL_ERROR, "invalid close code");
            return;
        }
        if (!ws_utf8_valid(s->ctl + 2, s->ctl_len - 2)) {
            fail(s, WS_CLOSE_INVALID_DATA, "invalid UTF-8 in close reason");
            return;
        }
    }
    ap_log_cerror(APLOG_MARK, APLOG_TRACE1, 0, s->c,
                  "close frame from client, code %u", code);
    /* RFC 6455 section 5.5.1: answer with a close, echoing the code;
     * then the server closes the TCP connection (section 7.1.1) */
    ws_session_send_close(s, (int)code);
    s->done = 1;
}

static void deliver(ws_session_t *s)
{
    static unsigned char empty[1];
    int type = s->msg_opcode == WS_OP_TEXT ? MESSAGE_TYPE_TEXT
                                           : MESSAGE_TYPE_BINARY;

    if (s->msg_opcode == WS_OP_TEXT && !ws_utf8_complete(&s->utf8)) {
        fail(s, WS_CLOSE_INVALID_DATA, "text message ends inside a "
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
                ws_session_write(s, WS_OP_PONG, s->ctl, s->ctl_len);
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
        fail(s, m->close_code, m->reason ? m->reason : "protocol error");
        break;
    }
}

int ws_session_on_readable(ws_session_t *s)
{
    apr_bucket *b;
    apr_status_t rv;
    int reads = 0;

    while (!s->done) {
        if (++reads > WS_READ_BUDGET) {
            return 1; /* let queued sends through, then read on */
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

void ws_session_finish(ws_session_t *s)
{
    if (s->disconnected) {
        return;
    }
    s->disconnected = 1;
    s->done = 1;
    /* no send() gets through from now on, and none keeps waiting */
    set_state(s, WS_STATE_CLOSED);
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
           || (s->parser && (s->parser->hlen > 0 || s->parser->in_payload));
}

apr_time_t ws_session_next_due(const ws_session_t *s)
{
    const ws_settings_t *set = s->settings;
    apr_time_t t = 0;

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

void ws_session_on_timer(ws_session_t *s, apr_time_t now)
{
    const ws_settings_t *set = s->settings;
    int going_away, mpm_state;

    apr_thread_mutex_lock(s->mutex);
    going_away = s->going_away;
    apr_thread_mutex_unlock(s->mutex);
    /* prefork tells a stopping child only by a signal, which brought us
     * here (EINTR): ask the MPM too */
    if (!going_away && ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state)
                           == APR_SUCCESS
        && mpm_state == AP_MPMQ_STOPPING) {
        stop_sessions();
        going_away = 1;
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
        ws_session_send_close(s, WS_CLOSE_GOING_AWAY);
        return;
    }
    if (mid_frame(s) && now >= s->last_rx + s->r->server->timeout) {
        /* a frame (or fragmented message) begun and then nothing: a
         * peer gone without a FIN or a slow-drip client; it gets the
         * Timeout any request body gets */
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, s->c,
                      WS_LOGNO(00112) "no data for %" APR_TIME_T_FMT
                      " ms in the middle of a message, closing with 1008",
                      apr_time_as_msec(now - s->last_rx));
        ws_session_send_close(s, WS_CLOSE_POLICY);
        s->done = 1;
        return;
    }
    if (s->pong_deadline && now >= s->pong_deadline) {
        /* a dead peer (or a broken one): no point waiting for a close */
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, s->c,
                      WS_LOGNO(00110) "no answer to a ping within %"
                      APR_TIME_T_FMT " ms, closing with 1011",
                      apr_time_as_msec(set->pong_timeout));
        ws_session_send_close(s, WS_CLOSE_INTERNAL_ERROR);
        s->done = 1;
        return;
    }
    if (set->idle_timeout > 0 && now >= s->last_message + set->idle_timeout) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, s->c,
                      WS_LOGNO(00111) "idle for %" APR_TIME_T_FMT " ms, "
                      "closing with 1001", apr_time_as_msec(now
                                                     - s->last_message));
        ws_session_send_close(s, WS_CLOSE_GOING_AWAY);
        return;
    }
    if (set->ping_interval > 0 && !s->pong_deadline
        && now >= s->last_rx + set->ping_interval) {
        ap_log_cerror(APLOG_MARK, APLOG_TRACE2, 0, s->c,
                      "quiet for %" APR_TIME_T_FMT " ms, sending a ping",
                      apr_time_as_msec(now - s->last_rx));
        s->pong_deadline = now + set->pong_timeout;
        ws_session_write(s, WS_OP_PING, NULL, 0);
    }
    maybe_shrink(s, now);
}

void ws_session_run(ws_session_t *s)
{
    apr_pollset_t *ps;
    apr_pollfd_t pfd;
    const apr_pollfd_t *signalled;
    apr_int32_t n;
    apr_status_t rv;

    /* one slot for the connection, plus the wake-up pipe APR adds;
     * poll() rather than epoll: one short-lived set per connection */
    rv = apr_pollset_create_ex(&ps, 1, s->r->pool, APR_POLLSET_WAKEABLE,
                               APR_POLLSET_POLL);
    if (rv != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, s->c,
                      WS_LOGNO(00113) "cannot create a pollset");
        return;
    }
    apr_thread_mutex_lock(s->mutex);
    s->pollset = ps;
    apr_thread_mutex_unlock(s->mutex);

    memset(&pfd, 0, sizeof(pfd));
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 129)
    rv = ap_get_pollfd_from_conn(s->c, &pfd, NULL);
#else
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.desc.s = ap_get_conn_socket(s->c);
    rv = pfd.desc.s ? APR_SUCCESS : APR_ENOTIMPL;
#endif
    if (rv == APR_SUCCESS && pfd.desc_type == APR_NO_DESC) {
        /* httpd's word for "the input is closed already" (an HTTP/2
         * stream whose client sent END_STREAM): the client has left */
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, s->c,
                      WS_LOGNO(00115) "the client's side of the connection "
                      "is closed already");
        return;
    }
    if (rv != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, s->c,
                      WS_LOGNO(00105) "cannot poll this connection");
        return;
    }
    pfd.reqevents = APR_POLLIN;
    pfd.p = s->r->pool;
    rv = apr_pollset_add(s->pollset, &pfd);
    if (rv != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, s->c,
                      WS_LOGNO(00106) "cannot poll this connection");
        return;
    }

    /* frames plugin code queued during on_connect go first */
    ws_session_flush_queue(s);
    while (!s->done && !s->c->aborted) {
        apr_time_t now, due;
        int more;

        /* drain everything readable, including what mod_ssl decrypted
         * and holds but a socket poll would not show */
        more = ws_session_on_readable(s);
        if (s->done) {
            break;
        }
        ws_session_flush_queue(s);
        if (s->done) {
            break;
        }
        ws_session_on_timer(s, apr_time_now());
        if (s->done) {
            break;
        }
        if (more) {
            continue;
        }
        due = ws_session_next_due(s);
        now = apr_time_now();
        rv = apr_pollset_poll(s->pollset, due ? (due > now ? due - now : 0)
                                              : -1,
                              &n, &signalled);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv)
            && !APR_STATUS_IS_EINTR(rv)) {
            ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, s->c,
                          WS_LOGNO(00108) "poll failed");
            s->done = 1;
        }
    }
    apr_pollset_remove(s->pollset, &pfd);
}
