/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_session.c -- a session's creation, memory and state transitions.
 */
#include "httpd.h"
#include <stdlib.h>

#include "ws_session.h"

static apr_status_t session_cleanup(void *data)
{
    ws_session_t *s = data;

    ws_queue_clear(&s->queue);
    free(s->msg);
    s->msg = NULL;
    return APR_SUCCESS;
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
    ws_queue_init(&s->queue, settings->max_queued);
    /* the handler's thread does the I/O until a driver says otherwise */
    s->io = WS_IO_OWNED;
    s->io_owner = apr_os_thread_current();
    s->write_mode = WS_WRITE_BLOCKING;

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
    *out = s;
    return APR_SUCCESS;
}

void ws_session_set_state(ws_session_t *s, ws_state_e state)
{
    ws_status_e now;

    apr_thread_mutex_lock(s->mutex);
    if (state > s->state) {
        s->state = state;
    }
    if (s->state >= WS_STATE_CLOSING) {
        /* nothing queued goes out after our close frame */
        ws_queue_clear(&s->queue);
        apr_thread_cond_broadcast(s->room);
    }
    state = s->state;
    apr_thread_mutex_unlock(s->mutex);
    now = state == WS_STATE_OPEN      ? WS_STATUS_OPEN
          : state == WS_STATE_CLOSING ? WS_STATUS_CLOSING
                                      : WS_STATUS_NONE;
    ws_status_change(s->status, now);
    s->status = now;
}
