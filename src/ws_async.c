/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_async.c -- the asynchronous driver.
 *
 * Why this route (httpd 2.4, event MPM):
 *  - A handler cannot return into CONN_STATE_ASYNC_WAITIO: after it, the
 *    MPM goes to write completion and then to keep-alive or lingering
 *    close depending on c->keepalive.  SUSPENDED has no resume API in
 *    2.4.  So the handler leaves the connection "alive with input
 *    pending": WEBSOCKET_OUT keeps the request's EOR bucket (r->pool must
 *    live until on_disconnect) and turns c->keepalive on, and WEBSOCKET_IN
 *    answers httpd's speculative peek for a pipelined request.  The MPM
 *    then re-enters the process_connection hooks on the same worker, and
 *    ours (REALLY_FIRST) claims the connection.
 *  - From there each pass reads and writes what it can without blocking
 *    and returns CONN_STATE_ASYNC_WAITIO: the MPM polls the socket for
 *    readability (bounded by Timeout) and calls us again.  An idle
 *    WebSocket holds no thread.
 *  - The MPM polls only for readability while a connection is parked, so
 *    another thread may write to it as long as only one thread at a time
 *    touches the connection's filters (mod_ssl is not thread-safe): the
 *    session's I/O ownership (ws_session_io_acquire) serialises the hook,
 *    plugin threads flushing their own sends, and timed callbacks
 *    (a timer thread per child, see below) that send pings and enforce
 *    deadlines while nothing is readable.
 *  - When the MPM's Timeout expires on a parked connection it closes it
 *    without calling us: a pre-cleanup of the connection pool still runs
 *    on_disconnect.  Keep WebSocketPingInterval below Timeout (the
 *    default 30 s is) so that live idle connections answer in time.
 *  - Something that must end a parked connection (a failed write on a
 *    plugin thread, an expired deadline) shuts the socket's read side
 *    down: the MPM sees it readable and our hook finishes the session.
 *  - Parking costs a round through the MPM for the next message (the
 *    worker adds the socket to the listener's pollset, the listener
 *    wakes, removes it and queues the connection for a worker).  A busy
 *    connection therefore stays on its worker for a short while
 *    (WS_LINGER) after a pass that read something no longer than
 *    WS_LINGER after the input before it, waiting for its next
 *    bytes with poll() on a small per-thread pollset that senders can
 *    wake; at most half of a child's workers linger at once, so that the
 *    others stay free for everyone else.  An idle connection parks.
 */
#include "httpd.h"

#include <stdlib.h>

#include "apr_atomic.h"
#include "apr_poll.h"
#include "apr_thread_mutex.h"
#include "apr_thread_proc.h"

#include "ap_mpm.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"

#include "ws_async.h"
#include "ws_filters.h"
#include "ws_log.h"
#include "ws_session.h"

APLOG_USE_MODULE(websocket);

/* The baton of timed callbacks: they cannot be cancelled in 2.4, so it
 * outlives the session until the last pending one has fired. */
typedef struct ws_timer_t {
    ws_session_t *s;   /* NULL once the session is over */
    int pending;       /* callbacks registered and not yet run */
} ws_timer_t;

/* The connection pool's link to the session (which lives in r->pool),
 * and the connection's socket as a pollfd, for lingering. */
typedef struct ws_conn_hold_t {
    ws_session_t *s;   /* NULL once the session is over */
    apr_pollfd_t pfd;  /* desc_type APR_NO_DESC: no lingering */
} ws_conn_hold_t;

static apr_thread_mutex_t *timer_mutex;

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

/* A worker thread's own pollset for lingering: one slot plus the wake-up
 * pipe, poll() so that adding and removing the socket costs no system
 * call; it lives in a pool of the thread's own until the thread exits. */
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
        || timer_mutex == NULL) {
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

/* Ends the session for good (the caller owns the I/O). */
static void session_over(ws_session_t *s)
{
    ws_timer_t *t = s->timer;

    ws_session_finish(s);
    if (s->hold != NULL) {
        s->hold->s = NULL;
        s->hold = NULL;
    }
    if (t != NULL) {
        apr_thread_mutex_lock(timer_mutex);
        t->s = NULL;
        if (t->pending == 0) {
            free(t);
        }
        apr_thread_mutex_unlock(timer_mutex);
        s->timer = NULL;
    }
}

/* --- timers ------------------------------------------------------- */

/* Deadlines of parked sessions (pings, pong and close deadlines, idle
 * timeout) are kept by one thread per child.  Not the MPM's timed
 * callbacks: the event MPM of 2.4 (listener_thread(), 2.4.71) bounds its
 * poll by the next timer only while it pops expired ones, so after any
 * other wake-up a future timer waits for the next I/O or queue event
 * (seen: a 1 s timer fired after 3 s, at the client's close). */

typedef struct {
    apr_time_t when;
    ws_timer_t *t;
} heap_entry_t;

static heap_entry_t *heap;      /* binary min-heap on when */
static apr_size_t heap_len, heap_cap;
static apr_thread_cond_t *timer_cond;
static apr_thread_t *timer_thread;
static int timer_stop;

static void heap_swap(apr_size_t a, apr_size_t b)
{
    heap_entry_t tmp = heap[a];

    heap[a] = heap[b];
    heap[b] = tmp;
}

static int heap_push(apr_time_t when, ws_timer_t *t)
{
    apr_size_t i;

    if (heap_len == heap_cap) {
        apr_size_t cap = heap_cap ? 2 * heap_cap : 64;
        heap_entry_t *h = realloc(heap, cap * sizeof(*h));

        if (h == NULL) {
            return 0;
        }
        heap = h;
        heap_cap = cap;
    }
    i = heap_len++;
    heap[i].when = when;
    heap[i].t = t;
    while (i > 0 && heap[(i - 1) / 2].when > heap[i].when) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return 1;
}

static heap_entry_t heap_pop(void)
{
    heap_entry_t top = heap[0];
    apr_size_t i = 0;

    heap[0] = heap[--heap_len];
    for (;;) {
        apr_size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < heap_len && heap[l].when < heap[m].when) {
            m = l;
        }
        if (r < heap_len && heap[r].when < heap[m].when) {
            m = r;
        }
        if (m == i) {
            break;
        }
        heap_swap(i, m);
        i = m;
    }
    return top;
}

/* Registers the session's next deadline with the timer thread, unless
 * one that comes no later is pending (the caller owns the I/O). */
static void schedule(ws_session_t *s)
{
    apr_time_t due = ws_session_next_due(s), now = apr_time_now();
    ws_timer_t *t = s->timer;

    if (due == 0 || t == NULL) {
        return;
    }
    apr_thread_mutex_lock(timer_mutex);
    if (!(s->timer_at > now && s->timer_at <= due)
        && heap_push(due, t)) {
        t->pending++;
        s->timer_at = due;
        if (heap[0].t == t && heap[0].when == due) {
            apr_thread_cond_signal(timer_cond); /* a new earliest */
        }
    }
    apr_thread_mutex_unlock(timer_mutex);
}

static void *APR_THREAD_FUNC timer_main(apr_thread_t *thd, void *data)
{
    apr_thread_mutex_lock(timer_mutex);
    while (!timer_stop) {
        apr_time_t now = apr_time_now();
        heap_entry_t e;
        ws_session_t *s;

        if (heap_len == 0) {
            apr_thread_cond_wait(timer_cond, timer_mutex);
            continue;
        }
        if (heap[0].when > now) {
            apr_thread_cond_timedwait(timer_cond, timer_mutex,
                                      heap[0].when - now);
            continue;
        }
        e = heap_pop();
        e.t->pending--;
        s = e.t->s;
        if (s == NULL) {
            if (e.t->pending == 0) {
                free(e.t);
            }
            continue;
        }
        /* a busy connection's owner schedules again when it parks */
        if (!ws_session_io_acquire(s, 0)) {
            continue;
        }
        if (s->timer_at == e.when) {
            s->timer_at = 0;
        }
        apr_thread_mutex_unlock(timer_mutex);
        ws_async_service(s);
        apr_thread_mutex_lock(timer_mutex);
    }
    apr_thread_mutex_unlock(timer_mutex);
    return NULL;
}

static apr_status_t timer_thread_stop(void *data)
{
    apr_status_t rv;

    apr_thread_mutex_lock(timer_mutex);
    timer_stop = 1;
    apr_thread_cond_signal(timer_cond);
    apr_thread_mutex_unlock(timer_mutex);
    apr_thread_join(&rv, timer_thread);
    return APR_SUCCESS;
}

/* Makes the MPM hand the parked connection to our hook. */
static void wake_mpm(ws_session_t *s)
{
    apr_socket_t *csd = ap_get_conn_socket(s->c);

    if (csd != NULL) {
        apr_socket_shutdown(csd, APR_SHUTDOWN_READ);
    }
}

void ws_async_service(ws_session_t *s)
{
    do {
        ws_session_flush_queue(s);
        if (!s->done) {
            ws_session_on_timer(s, apr_time_now());
        }
        if (s->done) {
            wake_mpm(s);
        }
        else {
            schedule(s);
        }
    } while (ws_session_io_release(s) && ws_session_io_acquire(s, 0));
}

/* The connection pool goes away with the session still open: the MPM
 * closed it without us (Timeout expired while parked, child exit). */
static apr_status_t conn_gone(void *data)
{
    ws_conn_hold_t *hold = data;
    ws_session_t *s = hold->s;

    if (s == NULL) {
        return APR_SUCCESS;
    }
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, s->c,
                  WS_LOGNO(00402) "connection closed by the MPM while "
                  "parked (Timeout?)");
    ws_session_io_acquire(s, 1);
    session_over(s);
    return APR_SUCCESS;
}

int ws_async_start(ws_session_t *s)
{
    conn_rec *c = s->c;
    ws_timer_t *t = calloc(1, sizeof(*t));
    ws_conn_hold_t *hold;

    if (t == NULL) {
        return 0;
    }
    t->s = s;
    s->timer = t;
    apr_thread_mutex_lock(s->mutex);
    s->async = 1;
    apr_thread_mutex_unlock(s->mutex);

    /* what on_connect queued, and frames the client sent right after
     * its request, before anything is parked */
    ws_session_flush_queue(s);
    while (!s->done && ws_session_on_readable(s)) {
        ws_session_flush_queue(s);
    }
    if (s->done) {
        session_over(s);
        return 0;
    }
    hold = apr_pcalloc(c->pool, sizeof(*hold));
    hold->s = s;
    if (ap_get_pollfd_from_conn(c, &hold->pfd, NULL) != APR_SUCCESS
        || hold->pfd.desc_type != APR_POLL_SOCKET) {
        hold->pfd.desc_type = APR_NO_DESC;
    }
    hold->pfd.reqevents = APR_POLLIN;
    s->hold = hold;
    apr_pool_pre_cleanup_register(c->pool, hold, conn_gone);
    ap_set_module_config(c->conn_config, &websocket_module, s);
    ws_filters_set_async(c, 1);
    /* the I/O stays ours through the handler's return into the hook */
    return 1;
}

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
    if (apr_pollset_create_ex(&l->ps, 1, p, APR_POLLSET_WAKEABLE,
                              APR_POLLSET_POLL) != APR_SUCCESS
        || apr_threadkey_private_set(l, linger_key) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return NULL;
    }
    return l;
}

/* After a pass that read something: waits up to WS_LINGER on this worker
 * for more input or a sender's wake-up.  Returns 1 if the connection has
 * something to do now, 0 if it should be parked. */
static int linger(ws_session_t *s)
{
    ws_linger_t *l;
    const apr_pollfd_t *out;
    apr_int32_t n = 0;
    apr_status_t rv = APR_TIMEUP;
    int work = 0;

    if (apr_atomic_inc32(&lingering) < linger_max
        && (l = thread_linger()) != NULL
        && apr_pollset_add(l->ps, &s->hold->pfd) == APR_SUCCESS) {
        /* senders wake this pollset while we wait (send_queued) */
        apr_thread_mutex_lock(s->mutex);
        work = s->queue_head != NULL
               || (s->going_away && s->state == WS_STATE_OPEN);
        s->pollset = l->ps;
        apr_thread_mutex_unlock(s->mutex);
        if (!work) {
            rv = apr_pollset_poll(l->ps, WS_LINGER, &n, &out);
        }
        apr_thread_mutex_lock(s->mutex);
        s->pollset = NULL;
        apr_thread_mutex_unlock(s->mutex);
        apr_pollset_remove(l->ps, &s->hold->pfd);
    }
    apr_atomic_dec32(&lingering);
    return work || n > 0 || APR_STATUS_IS_EINTR(rv);
}

/* One pass over a connection the MPM hands us: read, write, timers;
 * then park it or end it. */
static int ws_async_process_connection(conn_rec *c)
{
    ws_session_t *s = ap_get_module_config(c->conn_config,
                                           &websocket_module);
    int more;

    if (s == NULL) {
        return DECLINED;
    }
    /* first pass: the handler's thread still owns the I/O (acquire then
     * refuses, it is ours); later passes wait for a plugin thread or a
     * timed callback to finish */
    ws_session_io_acquire(s, 1);
    ws_filters_claimed(c);
    for (;;) {
        apr_time_t rx = s->last_rx;

        do {
            more = ws_session_on_readable(s);
            if (!s->done) {
                ws_session_flush_queue(s);
            }
            if (!s->done) {
                ws_session_on_timer(s, apr_time_now());
            }
        } while (more && !s->done);
        if (s->done) {
            break;
        }
        /* input came, and came soon after the previous input: the next
         * bytes are likely on their way */
        if (s->last_rx != rx && s->last_rx - rx <= WS_LINGER
            && s->hold->pfd.desc_type == APR_POLL_SOCKET && linger(s)) {
            continue; /* busy: stay on this worker */
        }
        schedule(s);
        if (!ws_session_io_release(s) || !ws_session_io_acquire(s, 0)) {
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
    ws_filters_release_eor(c);
    c->cs->state = CONN_STATE_LINGER;
    return OK;
}

static void ws_async_child_init(apr_pool_t *pchild, server_rec *s)
{
    int can = 0, threads = 0;

#ifdef AP_MPMQ_CAN_WAITIO
    if (ap_mpm_query(AP_MPMQ_CAN_WAITIO, &can) != APR_SUCCESS) {
        can = 0;
    }
#endif
    /* without the mutex, the condition or the thread only the blocking
     * driver is used (ws_async_possible) */
    if (!can
        || apr_thread_mutex_create(&timer_mutex, APR_THREAD_MUTEX_DEFAULT,
                                   pchild) != APR_SUCCESS
        || apr_thread_cond_create(&timer_cond, pchild) != APR_SUCCESS
        || apr_thread_create(&timer_thread, NULL, timer_main, NULL, pchild)
               != APR_SUCCESS) {
        timer_mutex = NULL;
        return;
    }
    apr_pool_pre_cleanup_register(pchild, NULL, timer_thread_stop);
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS) {
        threads = 2;
    }
    linger_max = threads >= 2 ? (apr_uint32_t)threads / 2 : 1;
    if (apr_threadkey_private_create(&linger_key, linger_free, pchild)
        != APR_SUCCESS) {
        linger_key = NULL; /* no lingering: every pass parks */
    }
}

void ws_async_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(ws_async_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* REALLY_FIRST: a connection we parked is ours, not HTTP's */
    ap_hook_process_connection(ws_async_process_connection, NULL, NULL,
                               APR_HOOK_REALLY_FIRST);
}
