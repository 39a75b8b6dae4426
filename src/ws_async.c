/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_async.c -- the asynchronous driver.
 *
 * Why this route (httpd 2.4, event MPM):
 *  - A handler cannot return into CONN_STATE_ASYNC_WAITIO: after it, the
 *    MPM goes to write completion and then to keep-alive or lingering
 *    close depending on c->keepalive.  SUSPENDED has no resume API in
 *    2.4.  So the handler leaves the connection "alive with input
 *    pending": the WEBSOCKET_ASYNC output filter keeps the request's EOR
 *    bucket (r->pool must live until on_disconnect) and turns
 *    c->keepalive on, and the WEBSOCKET_ASYNC input filter answers
 *    httpd's speculative peek for a pipelined request.  The MPM then
 *    re-enters the process_connection hooks on the same worker, and ours
 *    (REALLY_FIRST) claims the connection.  The handler's thread keeps
 *    the I/O through that hand-off (ws_async_t.handoff).
 *  - From there each pass reads and writes what it can and returns
 *    CONN_STATE_ASYNC_WAITIO: the MPM polls the socket for readability
 *    (bounded by Timeout) and calls us again.  An idle WebSocket holds
 *    no thread.  A worker's pass may write blocking (bounded by
 *    WebSocketSendTimeout): the worker is the connection's own for it.
 *  - While a connection is parked its I/O is free (WS_IO_PARKED): a
 *    plugin thread that queued a send, the child's loop thread (ws_loop.c:
 *    deadlines, output waiting for room) or a stopping child takes it,
 *    does what is due with non-blocking writes (service) and parks it
 *    again.  Output the client does not take stays pending in
 *    WEBSOCKET_OUT; the loop finishes it when the socket is writable, and
 *    a worker's next pass writes it first.
 *  - A session with a peer socket (ws_peer_t: the bridge's backend) has
 *    it watched by the loop while it is parked (service serves it); a
 *    worker's pass serves it too, and waits for it, at most
 *    WebSocketSendTimeout, while it holds the client's input back (the
 *    MPM would hand a connection left readable straight back).
 *  - When the MPM's Timeout expires on a parked connection it closes it
 *    without calling us: a pre-cleanup of the connection pool still runs
 *    on_disconnect.  Keep WebSocketPingInterval below Timeout (the
 *    default 30 s is) so that live idle connections answer in time.
 *  - Something that must end a parked connection (a failed write, an
 *    expired deadline) shuts the socket's read side down: the MPM sees it
 *    readable and our hook finishes the session on a worker.
 *  - Parking costs a round through the MPM for the next message (the
 *    worker adds the socket to the listener's pollset, the listener
 *    wakes, removes it and queues the connection for a worker).  A busy
 *    connection therefore stays on its worker for a short while
 *    (WS_LINGER) after a pass that read something no longer than
 *    WS_LINGER after the input before it, waiting for its next bytes with
 *    poll() on a small per-thread pollset that senders can wake; at most
 *    half of a child's workers linger at once, so that the others stay
 *    free for everyone else.  An idle connection parks.
 */
#include "httpd.h"

#include "apr_atomic.h"
#include "apr_poll.h"
#include "apr_thread_proc.h"

#include "ap_mpm.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_request.h"
#include "util_filter.h"

#include "ws_async.h"
#include "ws_engine.h"
#include "ws_io.h"
#include "ws_log.h"
#include "ws_loop.h"
#include "ws_recv.h"
#include "ws_registry.h"

APLOG_USE_MODULE(websocket);

/* The driver's state of one connection, in c->pool: the connection's
 * link to the session (which lives in r->pool). */
typedef struct {
    ws_session_t *s;         /* NULL once the session is over (owner) */
    ws_loop_ref_t *ref;      /* the loop's link (owner) */
    apr_pollfd_t pfd;        /* the socket; APR_NO_DESC: none (owner) */
    int handoff;             /* handler -> hook, same thread (owner) */
    apr_pollset_t *linger_ps; /* a worker lingers in it (session mutex) */
    int claim;               /* answer one peek (filters, owner) */
    apr_bucket_brigade *eor; /* the request's EOR, kept (filters, owner) */
} ws_async_t;

static ap_filter_rec_t *async_in_handle;
static ap_filter_rec_t *async_out_handle;

/* How long a busy connection waits on its worker for more input before
 * it is parked.  It must cover the gap between two messages of one of
 * many busy connections, not only one client's round trip: each expiry
 * costs a round through the MPM.  At 100 connections x 1 in flight,
 * 10 ms carried about a fifth more messages than 2 ms (bench/README.md). */
#define WS_LINGER apr_time_from_msec(10)

/* Workers lingering now, and how many may (half the child's threads). */
static apr_uint32_t lingering;
static apr_uint32_t linger_max;
static apr_threadkey_t *linger_key;

/* A worker thread's own pollset for lingering: two slots (the client's
 * socket and a peer's) plus the wake-up pipe, poll() so that adding and
 * removing a socket costs no system call; it lives in a pool of the
 * thread's own until the thread exits. */
typedef struct {
    apr_pool_t *pool;
    apr_pollset_t *ps;
} ws_linger_t;

int ws_async_possible(request_rec *r, int driver)
{
#ifdef AP_MPMQ_CAN_WAITIO
    conn_rec *c = r->connection;
    int can = 0;

    if (driver == WS_DRIVER_BLOCKING || c->master != NULL || c->cs == NULL
        || !ws_loop_running()) {
        return 0;
    }
    if (ap_mpm_query(AP_MPMQ_CAN_WAITIO, &can) != APR_SUCCESS || !can) {
        if (driver == WS_DRIVER_ASYNC) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          WS_LOGNO(00401) "WebSocketDriver Async: the MPM "
                          "cannot wait for I/O (event MPM and httpd 2.4.63 "
                          "or later needed), using Blocking");
        }
        return 0;
    }
    return 1;
#else
    return 0;
#endif
}

/* --- the hand-off filters ------------------------------------------ */

/* After the handler httpd peeks for a pipelined request
 * (ap_check_pipeline()) and, seeing data, re-enters the
 * process_connection hooks -- where ours claims the connection.  This is
 * that peek's answer; it consumes nothing, and nothing reads it as a
 * request. */
static apr_status_t async_in_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                    ap_input_mode_t mode,
                                    apr_read_type_e block,
                                    apr_off_t readbytes)
{
    ws_async_t *a = f->ctx;

    if (mode == AP_MODE_SPECULATIVE && a->claim) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(
            "W", 1, f->c->bucket_alloc));
        return APR_SUCCESS;
    }
    return ap_get_brigade(f->next, bb, mode, block, readbytes);
}

/* The upgrade request ends here for httpd, but plugins keep using
 * request() and r->pool until on_disconnect: the EOR bucket (whose
 * destruction frees r->pool) waits until the session is over.  The
 * connection then stays "alive" so the MPM gives it back to us. */
static apr_status_t async_out_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ws_async_t *a = f->ctx;
    apr_bucket *b, *next;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = next) {
        next = APR_BUCKET_NEXT(b);
        if (AP_BUCKET_IS_EOR(b)) {
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(a->eor, b);
            f->c->keepalive = AP_CONN_KEEPALIVE;
        }
    }
    return ap_pass_brigade(f->next, bb);
}

/* --- parked connections --------------------------------------------- */

/* Makes the MPM hand the parked connection to our hook. */
static void wake_mpm(ws_session_t *s)
{
    apr_socket_t *csd = ap_get_conn_socket(s->c);

    if (csd != NULL) {
        apr_socket_shutdown(csd, APR_SHUTDOWN_READ);
    }
}

/* Asks the loop for what the parked connection needs (owner). */
static void schedule(ws_session_t *s)
{
    ws_async_t *a = s->driver_ctx;

    ws_loop_schedule(a->ref, ws_engine_next_due(s));
    if (ws_io_pending(s) > 0 && a->pfd.desc_type == APR_POLL_SOCKET) {
        ws_loop_watch_write(a->ref, a->pfd.desc.s);
    }
    if (s->peer != NULL && !s->done) {
        /* the peer's socket is the loop's while the connection parks */
        ws_loop_watch_peer(a->ref, s->peer->sock, s->peer->events(s));
    }
}

/* Whether the client's input stays unread now: the peer takes no more. */
static int held(ws_session_t *s)
{
    return s->peer != NULL && s->peer->hold_input(s);
}

static void async_service(ws_session_t *s)
{
    int stuck;

    do {
        ws_io_push(s);
        ws_engine_flush_queue(s);
        if (!s->done && s->peer != NULL) {
            s->peer->ready(s);
        }
        if (!s->done) {
            ws_engine_on_timer(s, apr_time_now());
        }
        if (s->done) {
            wake_mpm(s);
        }
        else {
            schedule(s);
        }
        /* output the client has not taken: the queue cannot drain
         * before the socket is writable (the loop watches it), so work
         * queued meanwhile waits for that instead of spinning here */
        stuck = !s->done && ws_io_pending(s) > 0;
    } while (ws_io_release(s) && !stuck
             && ws_io_acquire(s, 0, WS_WRITE_NONBLOCKING));
}

/* A parked connection whose input no worker took for a rescue tick (all
 * of them busy, e.g. with slow HTTP clients): read and answer here, with
 * non-blocking writes, then park it again (ws_loop.c). */
static void async_rescue(ws_session_t *s)
{
    int rounds = 0, more;

    do {
        more = s->done || held(s) ? 0 : ws_recv_readable(s);
        if (!s->done) {
            ws_engine_flush_queue(s);
        }
    } while (more && !s->done && ++rounds < 4);
    async_service(s);
}

static void async_wake(ws_session_t *s)
{
    ws_async_t *a = s->driver_ctx;

    apr_thread_mutex_lock(s->mutex);
    if (a != NULL && a->linger_ps != NULL) {
        apr_pollset_wakeup(a->linger_ps);
    }
    apr_thread_mutex_unlock(s->mutex);
}

/* Ends the session for good (the caller owns the I/O). */
static void session_over(ws_session_t *s)
{
    ws_async_t *a = s->driver_ctx;

    ws_registry_remove(s);
    /* out of the loop before on_disconnect closes a peer's socket */
    ws_loop_unref(a->ref);
    a->ref = NULL;
    ws_engine_finish(s);
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, s->c,
                  WS_LOGNO(00206) "WebSocket connection closed");
    a->s = NULL;
    ws_io_end(s);
}

/* The connection pool goes away with the session still open: the MPM
 * closed it without us (Timeout expired while parked, child exit). */
static apr_status_t conn_gone(void *data)
{
    ws_async_t *a = data;
    ws_session_t *s = a->s;

    if (s == NULL) {
        return APR_SUCCESS;
    }
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, s->c,
                  WS_LOGNO(00402) "connection closed by the MPM while "
                  "parked (Timeout?)");
    if (ws_io_acquire(s, 1, WS_WRITE_NONBLOCKING) || ws_io_is_owner(s)) {
        session_over(s);
    }
    return APR_SUCCESS;
}

static int async_start(ws_session_t *s)
{
    conn_rec *c = s->c;
    ws_async_t *a = apr_pcalloc(c->pool, sizeof(*a));

    a->s = s;
    a->ref = ws_loop_ref(s);
    if (a->ref == NULL) {
        return 0;
    }
    apr_thread_mutex_lock(s->mutex);
    s->driver_ctx = a;
    apr_thread_mutex_unlock(s->mutex);

    /* what on_connect queued, and frames the client sent right after
     * its request, before anything is parked */
    ws_engine_flush_queue(s);
    while (!s->done && !held(s) && ws_recv_readable(s)) {
        ws_engine_flush_queue(s);
    }
    if (s->done) {
        ws_loop_unref(a->ref);
        a->ref = NULL;
        a->s = NULL;
        return 0;
    }
    if (ap_get_pollfd_from_conn(c, &a->pfd, NULL) != APR_SUCCESS
        || a->pfd.desc_type != APR_POLL_SOCKET) {
        a->pfd.desc_type = APR_NO_DESC;
    }
    a->pfd.reqevents = APR_POLLIN;
    if (a->pfd.desc_type == APR_POLL_SOCKET) {
        ws_loop_watch_read(a->ref, a->pfd.desc.s);
    }
    a->eor = apr_brigade_create(c->pool, c->bucket_alloc);
    a->claim = 1;
    a->handoff = 1;
    apr_pool_pre_cleanup_register(c->pool, a, conn_gone);
    ap_add_input_filter_handle(async_in_handle, a, NULL, c);
    ap_add_output_filter_handle(async_out_handle, a, NULL, c);
    /* the request ends through the new top of the chain */
    s->r->output_filters = s->r->proto_output_filters = c->output_filters;
    s->r->input_filters = s->r->proto_input_filters = c->input_filters;
    ap_set_module_config(c->conn_config, &websocket_module, a);
    ws_registry_add(s);
    /* the I/O stays with this thread through the handler's return into
     * the hook (handoff) */
    return 1;
}

/* --- lingering ------------------------------------------------------ */

static void linger_free(void *data)
{
    ws_linger_t *l = data;

    if (l != NULL) {
        apr_pool_destroy(l->pool);
    }
}

static ws_linger_t *thread_linger(void)
{
    ws_linger_t *l = NULL;
    apr_pool_t *p;

    if (linger_key == NULL) {
        return NULL;
    }
    if (apr_threadkey_private_get((void **)&l, linger_key) == APR_SUCCESS
        && l != NULL) {
        return l;
    }
    /* unmanaged: created from a worker thread, freed at its exit */
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    l = apr_palloc(p, sizeof(*l));
    l->pool = p;
    if (apr_pollset_create_ex(&l->ps, 2, p, APR_POLLSET_WAKEABLE,
                              APR_POLLSET_POLL) != APR_SUCCESS
        || apr_threadkey_private_set(l, linger_key) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return NULL;
    }
    return l;
}

/* After a pass that read something: waits up to WS_LINGER on this worker
 * for more input, the peer's socket (a bridge's backend answering what
 * the client just sent) or a sender's wake-up.  Returns 1 if the
 * connection has something to do now, 0 if it should be parked. */
static int linger(ws_session_t *s, ws_async_t *a)
{
    ws_linger_t *l;
    const apr_pollfd_t *out;
    apr_pollfd_t ppfd = {0};
    apr_int32_t n = 0;
    apr_status_t rv = APR_TIMEUP;
    int work = 0;

    if (apr_atomic_inc32(&lingering) < linger_max
        && (l = thread_linger()) != NULL
        && apr_pollset_add(l->ps, &a->pfd) == APR_SUCCESS) {
        if (s->peer != NULL && !s->done
            && (ppfd.reqevents = s->peer->events(s)) != 0) {
            ppfd.desc_type = APR_POLL_SOCKET;
            ppfd.desc.s = s->peer->sock;
            if (apr_pollset_add(l->ps, &ppfd) != APR_SUCCESS) {
                ppfd.desc_type = APR_NO_DESC;
            }
        }
        /* senders wake this pollset while we wait (async_wake) */
        apr_thread_mutex_lock(s->mutex);
        work = s->queue.head != NULL
               || (s->going_away && s->state == WS_STATE_OPEN);
        a->linger_ps = l->ps;
        apr_thread_mutex_unlock(s->mutex);
        if (!work) {
            rv = apr_pollset_poll(l->ps, WS_LINGER, &n, &out);
        }
        apr_thread_mutex_lock(s->mutex);
        a->linger_ps = NULL;
        apr_thread_mutex_unlock(s->mutex);
        apr_pollset_remove(l->ps, &a->pfd);
        if (ppfd.desc_type == APR_POLL_SOCKET) {
            apr_pollset_remove(l->ps, &ppfd);
        }
    }
    apr_atomic_dec32(&lingering);
    return work || n > 0 || APR_STATUS_IS_EINTR(rv);
}

/* --- the MPM's passes ------------------------------------------------ */

/* A worker serves the peer (ws_peer_t); while the peer holds the
 * client's input back it waits on this thread for the peer's socket, up
 * to WebSocketSendTimeout like a write to the client, then fails the
 * connection: the MPM would hand a readable connection straight back. */
static void peer_turn(ws_session_t *s)
{
    s->peer->ready(s);
    while (!s->done && held(s)) {
        apr_pollfd_t pfd = {0};
        apr_int32_t n = 0;
        apr_status_t rv;

        pfd.desc_type = APR_POLL_SOCKET;
        pfd.desc.s = s->peer->sock;
        pfd.reqevents = s->peer->events(s);
        rv = apr_poll(&pfd, 1, &n, s->settings->send_timeout);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv)) {
            ws_engine_fail(s, WS_CLOSE_INTERNAL_ERROR, "the peer took "
                           "nothing for WebSocketSendTimeout");
            return;
        }
        s->peer->ready(s);
    }
}

/* Reads, writes and runs timers until the input would block. */
static void pass(ws_session_t *s)
{
    int more;

    if (ws_io_pending(s) > 0) {
        /* what a non-blocking writer left: first, and waiting */
        ws_io_pass(s);
    }
    do {
        if (s->peer != NULL && !s->done) {
            peer_turn(s);
        }
        more = s->done ? 0 : ws_recv_readable(s);
        if (!s->done) {
            ws_engine_flush_queue(s);
        }
        if (!s->done) {
            ws_engine_on_timer(s, apr_time_now());
        }
    } while (more && !s->done);
}

/* One turn of a connection the MPM hands us: passes while it is busy,
 * then park it or end it. */
static int async_process_connection(conn_rec *c)
{
    ws_async_t *a = ap_get_module_config(c->conn_config, &websocket_module);
    ws_session_t *s = a ? a->s : NULL;

    if (s == NULL) {
        return DECLINED;
    }
    if (a->handoff) {
        /* first turn: the handler's thread, which still owns the I/O */
        AP_DEBUG_ASSERT(ws_io_is_owner(s));
        a->handoff = 0;
    }
    else if (!ws_io_acquire(s, 1, WS_WRITE_BLOCKING)) {
        return DECLINED; /* cannot happen: over sessions leave a->s */
    }
    a->claim = 0;
    for (;;) {
        apr_time_t rx = s->last_rx;

        pass(s);
        if (s->done) {
            break;
        }
        /* input came, and came soon after the previous input: the next
         * bytes are likely on their way; with a peer, input came lately
         * and the peer's answer (then the client's next input) may be */
        if (((s->last_rx != rx && s->last_rx - rx <= WS_LINGER)
             || (s->peer != NULL
                 && apr_time_now() - s->last_rx <= WS_LINGER))
            && a->pfd.desc_type == APR_POLL_SOCKET && linger(s, a)) {
            continue; /* busy: stay on this worker */
        }
        schedule(s);
        if (!ws_io_release(s)
            || !ws_io_acquire(s, 0, WS_WRITE_BLOCKING)) {
            /* parked: the MPM calls us when it is readable */
            c->cs->sense = CONN_SENSE_WANT_READ;
            c->cs->state = CONN_STATE_ASYNC_WAITIO;
            return OK;
        }
    }
    session_over(s);
    ap_set_module_config(c->conn_config, &websocket_module, NULL);
    c->keepalive = AP_CONN_CLOSE;
    /* frees r->pool, and the session with it: the very last step */
    apr_brigade_cleanup(a->eor);
    c->cs->state = CONN_STATE_LINGER;
    return OK;
}

static void async_child_init(apr_pool_t *pchild, server_rec *srv)
{
    int can = 0, threads = 0;

#ifdef AP_MPMQ_CAN_WAITIO
    if (ap_mpm_query(AP_MPMQ_CAN_WAITIO, &can) != APR_SUCCESS) {
        can = 0;
    }
#endif
    /* without the loop only the blocking driver is used
     * (ws_async_possible) */
    if (!can || ws_loop_start(pchild, srv, async_service,
                                    async_rescue) != APR_SUCCESS) {
        return;
    }
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS) {
        threads = 2;
    }
    linger_max = threads >= 2 ? (apr_uint32_t)threads / 2 : 1;
    if (apr_threadkey_private_create(&linger_key, linger_free, pchild)
        != APR_SUCCESS) {
        linger_key = NULL; /* no lingering: every pass parks */
    }
}

const ws_driver_t ws_async_driver = {
    "async",
    async_start,
    async_wake,
    async_service
};

void ws_async_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(async_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* REALLY_FIRST: a connection we parked is ours, not HTTP's */
    ap_hook_process_connection(async_process_connection, NULL, NULL,
                               APR_HOOK_REALLY_FIRST);
    /* AP_FTYPE_CONNECTION: at the top of the connection's filters, where
     * the request's EOR and httpd's peek arrive first */
    async_in_handle = ap_register_input_filter("WEBSOCKET_ASYNC",
                                               async_in_filter, NULL,
                                               AP_FTYPE_CONNECTION);
    async_out_handle = ap_register_output_filter("WEBSOCKET_ASYNC",
                                                 async_out_filter, NULL,
                                                 AP_FTYPE_CONNECTION);
}
