/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_io.c -- a connection's I/O ownership, send queue and write path.
 */
#include "httpd.h"
#include <string.h>

#include "http_log.h"

#include "ws_bucket.h"
#include "ws_filters.h"
#include "ws_io.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);

int ws_io_acquire(ws_session_t *s, int wait, ws_write_e mode)
{
    apr_os_thread_t me = apr_os_thread_current();

    apr_thread_mutex_lock(s->mutex);
    for (;;) {
        if (s->io == WS_IO_OVER) {
            apr_thread_mutex_unlock(s->mutex);
            return 0;
        }
        if (s->io == WS_IO_PARKED) {
            break;
        }
        if (!wait || apr_os_thread_equal(s->io_owner, me)) {
            apr_thread_mutex_unlock(s->mutex);
            return 0;
        }
        apr_thread_cond_wait(s->io_free, s->mutex);
    }
    s->io = WS_IO_OWNED;
    s->io_owner = me;
    apr_thread_mutex_unlock(s->mutex);
    ws_io_set_mode(s, mode);
    return 1;
}

int ws_io_release(ws_session_t *s)
{
    int work;

    apr_thread_mutex_lock(s->mutex);
    AP_DEBUG_ASSERT(s->io == WS_IO_OWNED
                    && apr_os_thread_equal(s->io_owner,
                                           apr_os_thread_current()));
    s->io = WS_IO_PARKED;
    s->parks++;
    /* what arrived while we held it and nobody else could do */
    work = s->queue.head != NULL
           || (s->going_away && s->state == WS_STATE_OPEN);
    apr_thread_cond_broadcast(s->io_free);
    apr_thread_mutex_unlock(s->mutex);
    return work;
}

void ws_io_end(ws_session_t *s)
{
    apr_thread_mutex_lock(s->mutex);
    s->io = WS_IO_OVER;
    apr_thread_cond_broadcast(s->io_free);
    apr_thread_mutex_unlock(s->mutex);
}

int ws_io_is_owner(ws_session_t *s)
{
    int mine;

    apr_thread_mutex_lock(s->mutex);
    mine = s->io == WS_IO_OWNED
           && apr_os_thread_equal(s->io_owner, apr_os_thread_current());
    apr_thread_mutex_unlock(s->mutex);
    return mine;
}

void ws_io_set_mode(ws_session_t *s, ws_write_e mode)
{
    s->write_mode = mode;
    if (s->filters != NULL) {
        ws_filters_set_nonblock(s->filters, mode == WS_WRITE_NONBLOCKING);
    }
}

void ws_io_append(ws_session_t *s, unsigned int opcode,
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
        /* transient: whatever is not written before the pass returns is
         * copied (by the core, or by WEBSOCKET_OUT when it must not
         * wait), so no copy is made here */
        APR_BRIGADE_INSERT_TAIL(s->out_bb, apr_bucket_transient_create(
            (const char *)buf, len, list));
    }
    m.kind = WS_META_END;
    APR_BRIGADE_INSERT_TAIL(s->out_bb, ws_bucket_frame_create(&m, list));
    if (opcode < WS_OP_CLOSE) {
        s->last_message = apr_time_now();
    }
}

/* The client's socket took nothing, or broke: the session ends. */
static void write_failed(ws_session_t *s, apr_status_t rv)
{
    /* a client that went away is not an error of ours */
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, rv, s->c,
                  WS_LOGNO(00101) "write failed, ending the session");
    s->done = 1;
    s->c->aborted = 1;
    ws_session_set_state(s, WS_STATE_CLOSED);
}

static void note_pending(ws_session_t *s)
{
    if (ws_io_pending(s) == 0) {
        s->pending_since = 0;
    }
    else if (s->pending_since == 0) {
        s->pending_since = apr_time_now();
    }
}

apr_status_t ws_io_pass(ws_session_t *s)
{
    apr_status_t rv;

    if (s->write_mode == WS_WRITE_BLOCKING) {
        APR_BRIGADE_INSERT_TAIL(s->out_bb,
                                apr_bucket_flush_create(s->c->bucket_alloc));
    }
    rv = ap_pass_brigade(s->c->output_filters, s->out_bb);
    apr_brigade_cleanup(s->out_bb);
    if (rv != APR_SUCCESS) {
        write_failed(s, rv);
        return rv;
    }
    note_pending(s);
    return APR_SUCCESS;
}

apr_status_t ws_io_write(ws_session_t *s, unsigned int opcode,
                         const unsigned char *buf, apr_size_t len)
{
    if (s->done) {
        return APR_ECONNABORTED;
    }
    ws_io_append(s, opcode, buf, len);
    return ws_io_pass(s);
}

apr_size_t ws_io_pending(const ws_session_t *s)
{
    return s->filters != NULL ? ws_filters_pending(s->filters) : 0;
}

apr_size_t ws_io_push(ws_session_t *s)
{
    apr_status_t rv;

    if (s->filters == NULL || s->done) {
        return 0;
    }
    rv = ws_filters_push(s->filters);
    if (rv != APR_SUCCESS) {
        write_failed(s, rv);
        return 0;
    }
    note_pending(s);
    return ws_io_pending(s);
}

void ws_io_kick(ws_session_t *s)
{
    const ws_driver_t *d = s->driver;

    if (d == NULL) {
        return; /* not started: the driver flushes the queue first */
    }
    d->wake(s);
    if (d->service != NULL && ws_io_acquire(s, 0, WS_WRITE_NONBLOCKING)) {
        d->service(s);
    }
}

ws_queue_status_e ws_io_offer(ws_session_t *s, unsigned int opcode,
                              const unsigned char *buf, apr_size_t len)
{
    ws_queue_status_e st = WS_QUEUE_CLOSED;

    apr_thread_mutex_lock(s->mutex);
    if (s->state < WS_STATE_CLOSING) {
        st = ws_queue_push(&s->queue, opcode, opcode == WS_OP_CLOSE, buf,
                           len, s->in_connect);
    }
    apr_thread_mutex_unlock(s->mutex);
    return st;
}

ws_queue_status_e ws_io_offer_shared(ws_session_t *s, unsigned int opcode,
                                     ws_payload_t *payload)
{
    ws_queue_status_e st = WS_QUEUE_CLOSED;

    apr_thread_mutex_lock(s->mutex);
    if (s->state < WS_STATE_CLOSING) {
        st = ws_queue_push_shared(&s->queue, opcode, payload,
                                  s->in_connect);
    }
    apr_thread_mutex_unlock(s->mutex);
    return st;
}

int ws_io_enqueue(ws_session_t *s, unsigned int opcode,
                  const unsigned char *buf, apr_size_t len)
{
    apr_os_thread_t me = apr_os_thread_current();
    apr_time_t deadline = apr_time_now() + s->settings->send_timeout;
    int is_close = opcode == WS_OP_CLOSE, owner, kicked = 0;
    ws_queue_status_e st;

    apr_thread_mutex_lock(s->mutex);
    owner = s->io == WS_IO_OWNED && apr_os_thread_equal(s->io_owner, me);
    for (;;) {
        apr_time_t now;
        int parked;

        if (s->state >= WS_STATE_CLOSING) {
            apr_thread_mutex_unlock(s->mutex);
            return 0;
        }
        /* while on_connect runs nobody can drain the queue and
         * on_connect may be waiting for this very sender: the bound
         * applies from its return on */
        st = ws_queue_push(&s->queue, opcode, is_close, buf, len,
                           s->in_connect);
        if (st != WS_QUEUE_FULL) {
            break;
        }
        now = apr_time_now();
        /* the owner cannot wait for a queue only it drains */
        if (owner || now >= deadline) {
            apr_thread_mutex_unlock(s->mutex);
            return 0;
        }
        parked = s->io == WS_IO_PARKED;
        if (parked && !kicked && s->driver && s->driver->service) {
            /* a parked connection drains only when someone writes */
            apr_thread_mutex_unlock(s->mutex);
            ws_io_kick(s);
            kicked = 1;
            apr_thread_mutex_lock(s->mutex);
            continue;
        }
        s->waiters++;
        apr_thread_cond_timedwait(s->room, s->mutex, deadline - now);
        s->waiters--;
        kicked = 0;
    }
    apr_thread_mutex_unlock(s->mutex);
    if (st != WS_QUEUE_OK) {
        return 0;
    }
    if (!owner) {
        ws_io_kick(s);
    }
    return 1;
}
