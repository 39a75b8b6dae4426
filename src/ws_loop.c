/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_loop.c -- the child's thread for parked connections: a heap of
 * deadlines and a pollset of sockets whose output waits for room, and
 * of the peer sockets of parked sessions (the bridge's backends: an idle
 * bridged connection holds no thread, not even for its backend).
 *
 * Not the MPM's timed callbacks: the event MPM of 2.4 (listener_thread(),
 * 2.4.71) bounds its poll by the next timer only while it pops expired
 * ones, so after any other wake-up a future timer waits for the next I/O
 * or queue event (seen: a 1 s timer fired after 3 s).  And the MPM polls
 * a parked connection for input only, so output left pending by a
 * non-blocking write needs a poller of ours.
 *
 * Rescue: in httpd 2.4 a connection's request headers are read on a
 * worker, so slow HTTP clients (a slowloris on any vhost) can hold every
 * worker, and a parked WebSocket that becomes readable then waits in
 * the MPM's queue for as long as that lasts.  Every WS_RESCUE_TICK the
 * loop asks, without waiting, which parked connections are readable; one
 * that was readable at the previous tick too, and has not been taken by
 * anybody in between (ws_session_t.parks unchanged), is served here.
 * While workers keep up this costs one epoll_wait() per tick; when the
 * MPM hands the connection to a worker later, the worker finds nothing
 * to read and parks it again.
 */
#include "httpd.h"
#include <stdlib.h>

#include "apr_poll.h"
#include "apr_thread_proc.h"

#include "http_log.h"

#include "ws_heap.h"
#include "ws_io.h"
#include "ws_log.h"
#include "ws_loop.h"

APLOG_USE_MODULE(websocket);

/* Under loop_mutex, all of it. */
struct ws_loop_ref_t {
    ws_session_t *s;      /* NULL once the session is over */
    int pending;          /* heap entries that point here */
    int watched;          /* in the pollset */
    apr_time_t at;        /* earliest pending entry (0: none) */
    apr_pollfd_t pfd;
    int peer_watched;     /* ppfd is in the pollset */
    apr_pollfd_t ppfd;
    int read_watched;     /* in ready_ps */
    apr_pollfd_t rpfd;
    apr_uint64_t ready_tick; /* the tick that last saw it parked and
                                readable */
    apr_uint32_t ready_parks; /* ws_session_t.parks at that tick */
};

/* How often parked connections are checked for input no worker took. */
#define WS_RESCUE_TICK apr_time_from_msec(50)
/* At most this many rescued per tick: the loop keeps its other duties. */
#define WS_RESCUE_MAX 256
/* how soon a writable socket whose I/O was busy is looked at again */
#define WS_RETRY apr_time_from_msec(2)

static apr_thread_mutex_t *loop_mutex;
static ws_heap_t heap = WS_HEAP_INIT;
static apr_pollset_t *loop_ps;
static apr_thread_t *loop_thread;
static int loop_stop;
static void (*loop_service)(ws_session_t *s);
static void (*loop_rescue)(ws_session_t *s);
static apr_pollset_t *ready_ps;   /* every parked-capable connection */
static int read_watched;          /* how many are in it */
static apr_uint64_t tick;
static apr_time_t next_tick;

/* Frees @p ref once nothing refers to it (loop_mutex held). */
static void maybe_free(ws_loop_ref_t *ref)
{
    if (ref->s == NULL && ref->pending == 0 && !ref->watched
        && !ref->peer_watched) {
        free(ref);
    }
}

/* Serves ref's session if its I/O is free (loop_mutex held; released
 * while serving).  A busy owner is told (ws_io_acquire_or_note): its
 * release reports work, and it serves the session itself.
 * @return 0 if another thread owned the I/O */
static int serve(ws_loop_ref_t *ref)
{
    ws_session_t *s = ref->s;

    /* the session cannot end while we hold its I/O, and it cannot be
     * taken from the link without loop_mutex (ws_loop_unref) */
    if (s == NULL || !ws_io_acquire_or_note(s, WS_WRITE_NONBLOCKING)) {
        return s == NULL;
    }
    apr_thread_mutex_unlock(loop_mutex);
    loop_service(s);
    apr_thread_mutex_lock(loop_mutex);
    return 1;
}

/* The socket became writable while another thread owned the I/O: that
 * owner may have asked for the watch before this wake-up took it (and
 * will not ask again), so look again shortly (loop_mutex held). */
static void retry_soon(ws_loop_ref_t *ref)
{
    apr_time_t due = apr_time_now() + WS_RETRY;

    if (!(ref->at > 0 && ref->at <= due) && ws_heap_push(&heap, due, ref)) {
        ref->pending++;
        ref->at = due;
    }
}

static apr_interval_time_t run_due(void)
{
    const ws_heap_entry_t *top;

    while ((top = ws_heap_peek(&heap)) != NULL && !loop_stop) {
        apr_time_t now = apr_time_now();
        ws_heap_entry_t e;
        ws_loop_ref_t *ref;

        if (top->when > now) {
            return top->when - now;
        }
        e = ws_heap_pop(&heap);
        ref = e.item;
        ref->pending--;
        if (ref->at == e.when) {
            ref->at = 0;
        }
        if (ref->s == NULL) {
            maybe_free(ref);
            continue;
        }
        serve(ref);
    }
    return -1;
}

/* Whether ref's session is parked now, and how often it was (loop_mutex
 * held: the session cannot go away). */
static int parked(ws_loop_ref_t *ref, apr_uint32_t *parks)
{
    ws_session_t *s = ref->s;
    int yes;

    apr_thread_mutex_lock(s->mutex);
    yes = s->io == WS_IO_PARKED;
    *parks = s->parks;
    apr_thread_mutex_unlock(s->mutex);
    return yes;
}

/* One rescue tick (loop_mutex held; released while serving). */
static void rescue_tick(void)
{
    ws_loop_ref_t *pinned[WS_RESCUE_MAX];
    const apr_pollfd_t *out;
    apr_int32_t n = 0, i;
    int np = 0, k;

    tick++;
    if (apr_pollset_poll(ready_ps, 0, &n, &out) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < n; i++) {
        ws_loop_ref_t *ref = out[i].client_data;
        apr_uint32_t parks;

        if (!ref->read_watched || ref->s == NULL || !parked(ref, &parks)) {
            continue;
        }
        if (ref->ready_tick + 1 == tick && ref->ready_parks == parks
            && np < WS_RESCUE_MAX) {
            ref->pending++; /* pinned: not freed while we serve others */
            pinned[np++] = ref;
        }
        ref->ready_tick = tick;
        ref->ready_parks = parks;
    }
    for (k = 0; k < np; k++) {
        ws_loop_ref_t *ref = pinned[k];
        ws_session_t *s = ref->s;

        if (s != NULL && ws_io_acquire(s, 0, WS_WRITE_NONBLOCKING)) {
            apr_thread_mutex_unlock(loop_mutex);
            ap_log_cerror(APLOG_MARK, APLOG_TRACE1, 0, s->c,
                          "input waited a tick for a worker: served by "
                          "the loop");
            loop_rescue(s);
            apr_thread_mutex_lock(loop_mutex);
        }
        ref->pending--;
        maybe_free(ref);
    }
}

/* How long the loop may wait: until the next deadline, and the next
 * rescue tick while there are connections to look at. */
static apr_interval_time_t next_wait(apr_interval_time_t wait)
{
    apr_time_t now = apr_time_now();

    if (read_watched == 0) {
        return wait;
    }
    if (now >= next_tick) {
        rescue_tick();
        now = apr_time_now();
        next_tick = now + WS_RESCUE_TICK;
    }
    if (wait < 0 || wait > next_tick - now) {
        wait = next_tick - now;
    }
    return wait;
}

static void *APR_THREAD_FUNC loop_main(apr_thread_t *thd, void *data)
{
    apr_thread_mutex_lock(loop_mutex);
    while (!loop_stop) {
        apr_interval_time_t wait = next_wait(run_due());
        const apr_pollfd_t *out;
        apr_int32_t n = 0, i;
        apr_status_t rv;

        if (loop_stop) {
            break;
        }
        apr_thread_mutex_unlock(loop_mutex);
        rv = apr_pollset_poll(loop_ps, wait, &n, &out);
        apr_thread_mutex_lock(loop_mutex);
        if (rv != APR_SUCCESS) {
            continue; /* timed out, woken or interrupted */
        }
        for (i = 0; i < n; i++) {
            ws_loop_ref_t *ref = out[i].client_data;

            if (ref->peer_watched && out[i].desc.s == ref->ppfd.desc.s) {
                apr_pollset_remove(loop_ps, &ref->ppfd);
                ref->peer_watched = 0;
            }
            else if (ref->watched && out[i].desc.s == ref->pfd.desc.s) {
                apr_pollset_remove(loop_ps, &ref->pfd);
                ref->watched = 0;
            }
            else {
                continue; /* taken out while we polled */
            }
            if (ref->s == NULL) {
                maybe_free(ref);
                continue;
            }
            if (!serve(ref)) {
                retry_soon(ref);
            }
        }
    }
    apr_thread_mutex_unlock(loop_mutex);
    return NULL;
}

static apr_status_t loop_cleanup(void *data)
{
    apr_status_t rv;

    apr_thread_mutex_lock(loop_mutex);
    loop_stop = 1;
    apr_pollset_wakeup(loop_ps);
    apr_thread_mutex_unlock(loop_mutex);
    apr_thread_join(&rv, loop_thread);
    /* links of ended sessions still waiting for their entries to come
     * due go now; those of live sessions go with ws_loop_unref() */
    while (ws_heap_peek(&heap) != NULL) {
        ws_loop_ref_t *ref = ws_heap_pop(&heap).item;

        ref->pending--;
        maybe_free(ref);
    }
    ws_heap_free(&heap);
    loop_mutex = NULL;
    return APR_SUCCESS;
}

apr_status_t ws_loop_start(apr_pool_t *pchild, server_rec *srv,
                           void (*service)(ws_session_t *s),
                           void (*rescue)(ws_session_t *s))
{
    apr_status_t rv;

    loop_service = service;
    loop_rescue = rescue;
    rv = apr_thread_mutex_create(&loop_mutex, APR_THREAD_MUTEX_DEFAULT,
                                 pchild);
    if (rv == APR_SUCCESS) {
        /* epoll where there is one; thread-safe: owners add sockets
         * while the loop waits */
        rv = apr_pollset_create(&loop_ps, 64, pchild,
                                APR_POLLSET_WAKEABLE
                                | APR_POLLSET_THREADSAFE);
    }
    if (rv == APR_SUCCESS) {
        /* a tick sees at most this many ready at once */
        rv = apr_pollset_create(&ready_ps, WS_RESCUE_MAX, pchild,
                                APR_POLLSET_THREADSAFE);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_create(&loop_thread, NULL, loop_main, NULL, pchild);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, srv,
                     WS_LOGNO(00403) "cannot start the thread that serves "
                     "parked WebSockets: using the blocking driver");
        loop_mutex = NULL;
        return rv;
    }
    apr_pool_pre_cleanup_register(pchild, NULL, loop_cleanup);
    return APR_SUCCESS;
}

int ws_loop_running(void)
{
    return loop_mutex != NULL;
}

ws_loop_ref_t *ws_loop_ref(ws_session_t *s)
{
    ws_loop_ref_t *ref = calloc(1, sizeof(*ref));

    if (ref != NULL) {
        ref->s = s;
    }
    return ref;
}

void ws_loop_schedule(ws_loop_ref_t *ref, apr_time_t due)
{
    const ws_heap_entry_t *top;
    apr_time_t now = apr_time_now();

    if (due == 0 || ref == NULL || loop_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(loop_mutex);
    if (!(ref->at > now && ref->at <= due)
        && ws_heap_push(&heap, due, ref)) {
        ref->pending++;
        ref->at = due;
        top = ws_heap_peek(&heap);
        if (top->item == ref && top->when == due) {
            apr_pollset_wakeup(loop_ps); /* a new earliest */
        }
    }
    apr_thread_mutex_unlock(loop_mutex);
}

/* Adds @p sock to @p ps for @p events unless it is there (*flag);
 * loop_mutex held.  Returns 1 if it was added now. */
static int watch(apr_pollset_t *ps, apr_pollfd_t *pfd, int *flag,
                 apr_socket_t *sock, apr_int16_t events, ws_loop_ref_t *ref)
{
    if (*flag) {
        return 0;
    }
    pfd->desc_type = APR_POLL_SOCKET;
    pfd->desc.s = sock;
    pfd->reqevents = events;
    pfd->client_data = ref;
    *flag = apr_pollset_add(ps, pfd) == APR_SUCCESS;
    return *flag;
}

void ws_loop_watch_write(ws_loop_ref_t *ref, apr_socket_t *sock)
{
    if (ref == NULL || sock == NULL || loop_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(loop_mutex);
    watch(loop_ps, &ref->pfd, &ref->watched, sock, APR_POLLOUT, ref);
    apr_thread_mutex_unlock(loop_mutex);
}

void ws_loop_watch_peer(ws_loop_ref_t *ref, apr_socket_t *sock,
                        apr_int16_t events)
{
    if (ref == NULL || sock == NULL || loop_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(loop_mutex);
    if (ref->peer_watched && ref->ppfd.reqevents != events) {
        apr_pollset_remove(loop_ps, &ref->ppfd);
        ref->peer_watched = 0;
    }
    if (events != 0) {
        watch(loop_ps, &ref->ppfd, &ref->peer_watched, sock, events, ref);
    }
    apr_thread_mutex_unlock(loop_mutex);
}

void ws_loop_watch_read(ws_loop_ref_t *ref, apr_socket_t *sock)
{
    if (ref == NULL || sock == NULL || loop_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(loop_mutex);
    if (watch(ready_ps, &ref->rpfd, &ref->read_watched, sock, APR_POLLIN,
              ref) && read_watched++ == 0) {
        /* the loop may be waiting for a far deadline without ticks */
        apr_pollset_wakeup(loop_ps);
    }
    apr_thread_mutex_unlock(loop_mutex);
}

void ws_loop_unref(ws_loop_ref_t *ref)
{
    if (ref == NULL) {
        return;
    }
    if (loop_mutex == NULL) {
        free(ref); /* the child is exiting: the loop is gone already */
        return;
    }
    apr_thread_mutex_lock(loop_mutex);
    ref->s = NULL;
    if (ref->read_watched) {
        /* the rescue tick looks at its results under loop_mutex */
        apr_pollset_remove(ready_ps, &ref->rpfd);
        ref->read_watched = 0;
        read_watched--;
    }
    if (ref->watched || ref->peer_watched) {
        /* before the MPM closes the socket (and the peer's owner its
         * own).  A poll that returned it already may be waiting for the
         * mutex: the loop frees the link after it has looked at that
         * result, at this entry */
        if (ref->watched) {
            apr_pollset_remove(loop_ps, &ref->pfd);
            ref->watched = 0;
        }
        if (ref->peer_watched) {
            apr_pollset_remove(loop_ps, &ref->ppfd);
            ref->peer_watched = 0;
        }
        if (!ws_heap_push(&heap, apr_time_now(), ref)) {
            /* no memory: a small leak rather than a link freed under
             * the loop's eyes */
            apr_thread_mutex_unlock(loop_mutex);
            return;
        }
        ref->pending++;
        apr_pollset_wakeup(loop_ps);
    }
    if (ref->pending > 0) {
        ref = NULL; /* the loop frees it when its entries come due */
    }
    apr_thread_mutex_unlock(loop_mutex);
    free(ref);
}
