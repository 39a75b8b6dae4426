/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_blocking.c -- the blocking driver.  The handler's thread owns the
 * connection's I/O from the 101 to the end and waits in a small pollset
 * (the connection plus APR's wake-up pipe); senders on other threads
 * queue and wake it (wake).  It writes blocking, bounded by
 * WebSocketSendTimeout: the thread is the connection's own.  A session
 * with a peer socket (ws_peer_t: the bridge's backend) has it in the same
 * pollset, and the client's socket leaves the set while the peer holds
 * the input back.
 */
#include "httpd.h"
#include <string.h>

#include "apr_poll.h"

#include "ap_mpm.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"

#include "ws_blocking.h"
#include "ws_engine.h"
#include "ws_io.h"
#include "ws_log.h"
#include "ws_recv.h"
#include "ws_registry.h"

APLOG_USE_MODULE(websocket);

/* Under the session mutex: what wake() may touch. */
typedef struct {
    apr_pollset_t *ps;  /* NULL before it exists and after it is gone */
    int woken;          /* a wake-up is signalled and not yet consumed */
    /* the owner alone: */
    apr_pollfd_t conn;  /* the client's connection */
    int conn_in;        /* conn is in ps */
    apr_pollfd_t peer;  /* s->peer's socket */
    apr_int16_t peer_events; /* what peer is in ps for (0: not in it) */
} ws_blocking_t;

/* Puts into the pollset what is wanted now: the client unless the peer
 * holds its input back, the peer for what it asks.  Returns whether the
 * client's input is held. */
static int update_set(ws_session_t *s, ws_blocking_t *b)
{
    ws_peer_t *peer = s->peer;
    int hold = peer != NULL && peer->hold_input(s);
    apr_int16_t ev = peer != NULL ? peer->events(s) : 0;

    if (hold && b->conn_in) {
        b->conn_in = apr_pollset_remove(b->ps, &b->conn) != APR_SUCCESS;
    }
    else if (!hold && !b->conn_in) {
        b->conn_in = apr_pollset_add(b->ps, &b->conn) == APR_SUCCESS;
    }
    if (peer != NULL && ev != b->peer_events) {
        if (b->peer_events) {
            apr_pollset_remove(b->ps, &b->peer);
        }
        b->peer.desc_type = APR_POLL_SOCKET;
        b->peer.desc.s = peer->sock;
        b->peer.reqevents = ev;
        b->peer.p = b->conn.p;
        b->peer_events = ev;
        if (ev && apr_pollset_add(b->ps, &b->peer) != APR_SUCCESS) {
            b->peer_events = 0;
        }
    }
    return hold;
}

static void blocking_wake(ws_session_t *s)
{
    ws_blocking_t *b = s->driver_ctx;

    apr_thread_mutex_lock(s->mutex);
    /* the pollset cannot go away while we hold the mutex */
    if (b != NULL && b->ps != NULL && !b->woken) {
        b->woken = 1;
        apr_pollset_wakeup(b->ps);
    }
    apr_thread_mutex_unlock(s->mutex);
}

/* The connection's pollfd, or why not. */
static apr_status_t conn_pollfd(ws_session_t *s, apr_pollfd_t *pfd)
{
    apr_status_t rv;

    memset(pfd, 0, sizeof(*pfd));
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 129)
    rv = ap_get_pollfd_from_conn(s->c, pfd, NULL);
#else
    pfd->desc_type = APR_POLL_SOCKET;
    pfd->desc.s = ap_get_conn_socket(s->c);
    rv = pfd->desc.s ? APR_SUCCESS : APR_ENOTIMPL;
#endif
    if (rv == APR_SUCCESS && pfd->desc_type == APR_NO_DESC) {
        /* httpd's word for "the input is closed already" (an HTTP/2
         * stream whose client sent END_STREAM): the client has left */
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, s->c,
                      WS_LOGNO(00115) "the client's side of the connection "
                      "is closed already");
        return APR_EOF;
    }
    if (rv != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, s->c,
                      WS_LOGNO(00105) "cannot get a pollable descriptor "
                      "for this connection");
        return rv;
    }
    pfd->reqevents = APR_POLLIN;
    return APR_SUCCESS;
}

/* prefork tells a stopping child only by a signal (EINTR brought us
 * here), and runs child_stopping only at exit: ask the MPM too */
static void check_stopping(void)
{
    int mpm_state;

    if (ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state) == APR_SUCCESS
        && mpm_state == AP_MPMQ_STOPPING) {
        ws_registry_stop_all();
    }
}

static void run(ws_session_t *s, ws_blocking_t *b)
{
    apr_status_t rv;

    /* frames plugin code queued during on_connect go first */
    ws_engine_flush_queue(s);
    while (!s->done && !s->c->aborted) {
        const apr_pollfd_t *signalled;
        apr_int32_t n;
        apr_time_t now, due;
        int more;

        /* drain everything readable, including what mod_ssl decrypted
         * and holds but a socket poll would not show */
        more = update_set(s, b) ? 0 : ws_recv_readable(s);
        if (!s->done && s->peer != NULL) {
            s->peer->ready(s);
            update_set(s, b);
        }
        if (!s->done) {
            ws_engine_flush_queue(s);
        }
        if (!s->done) {
            check_stopping();
            ws_engine_on_timer(s, apr_time_now());
        }
        if (s->done || more) {
            continue;
        }
        due = ws_engine_next_due(s);
        now = apr_time_now();
        rv = apr_pollset_poll(b->ps, due ? (due > now ? due - now : 0) : -1,
                              &n, &signalled);
        apr_thread_mutex_lock(s->mutex);
        b->woken = 0;
        apr_thread_mutex_unlock(s->mutex);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv)
            && !APR_STATUS_IS_EINTR(rv)) {
            ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, s->c,
                          WS_LOGNO(00108) "poll failed");
            s->done = 1;
        }
    }
}

static int blocking_start(ws_session_t *s)
{
    ws_blocking_t *b = apr_pcalloc(s->r->pool, sizeof(*b));
    apr_pool_t *p;
    apr_pollset_t *ps;
    apr_pollfd_t pfd;
    apr_status_t rv;

    apr_thread_mutex_lock(s->mutex);
    s->driver_ctx = b;
    apr_thread_mutex_unlock(s->mutex);
    if (conn_pollfd(s, &pfd) != APR_SUCCESS) {
        return 0;
    }
    /* a pool of its own, destroyed here: the pollset must be gone from
     * the session (under the mutex) before it is destroyed */
    rv = apr_pool_create(&p, s->r->pool);
    if (rv == APR_SUCCESS) {
        /* the connection and a peer, plus APR's wake-up pipe; poll()
         * rather than epoll: one short-lived set per connection */
        rv = apr_pollset_create_ex(&ps, 2, p, APR_POLLSET_WAKEABLE,
                                   APR_POLLSET_POLL);
    }
    if (rv == APR_SUCCESS) {
        pfd.p = p;
        b->conn = pfd;
        rv = apr_pollset_add(ps, &b->conn);
        b->conn_in = rv == APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, s->c,
                      WS_LOGNO(00113) "cannot set up polling for this connection");
        return 0;
    }
    apr_thread_mutex_lock(s->mutex);
    b->ps = ps;
    apr_thread_mutex_unlock(s->mutex);
    ws_registry_add(s);

    run(s, b);

    /* nobody may wake the pollset once it is gone: out of the registry
     * first, then out of the session, then destroyed */
    ws_registry_remove(s);
    apr_thread_mutex_lock(s->mutex);
    b->ps = NULL;
    apr_thread_mutex_unlock(s->mutex);
    apr_pool_destroy(p);
    return 0;
}

const ws_driver_t ws_blocking_driver = {
    "blocking",
    blocking_start,
    blocking_wake,
    NULL
};
