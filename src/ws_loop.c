/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_loop.c -- the child's thread for parked connections: a heap of
 * deadlines and a pollset of sockets whose output waits for room.
 *
 * Not the MPM's timed callbacks: the event MPM of 2.4 (listener_thread(),
 * 2.4.71) bounds its poll by the next timer only while it pops expired
 * ones, so after any other wake-up a future timer waits for the next I/O
 * or queue event (seen: a 1 s timer fired after 3 s).  And the MPM polls
 * a parked connection for input only, so output left pending by a
 * non-blocking write needs a poller of ours.
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
};

static apr_thread_mutex_t *loop_mutex;
static ws_heap_t heap = WS_HEAP_INIT;
static apr_pollset_t *loop_ps;
static apr_thread_t *loop_thread;
static int loop_stop;
static void (*loop_service)(ws_session_t *s);

/* Frees @p ref once nothing refers to it (loop_mutex held). */
static void maybe_free(ws_loop_ref_t *ref)
{
    if (ref->s == NULL && ref->pending == 0 && !ref->watched) {
        free(ref);
    }
}

/* Serves ref's session if its I/O is free (loop_mutex held; released
 * while serving).  A busy owner schedules again when it parks. */
static void serve(ws_loop_ref_t *ref)
{
    ws_session_t *s = ref->s;

    /* the session cannot end while we hold its I/O, and it cannot be
     * taken from the link without loop_mutex (ws_loop_unref) */
    if (s == NULL || !ws_io_acquire(s, 0, WS_WRITE_NONBLOCKING)) {
        return;
    }
    apr_thread_mutex_unlock(loop_mutex);
    loop_service(s);
    apr_thread_mutex_lock(loop_mutex);
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

static void *APR_THREAD_FUNC loop_main(apr_thread_t *thd, void *data)
{
    apr_thread_mutex_lock(loop_mutex);
    while (!loop_stop) {
        apr_interval_time_t wait = run_due();
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

            if (!ref->watched) {
                continue; /* taken out while we polled */
            }
            apr_pollset_remove(loop_ps, &ref->pfd);
            ref->watched = 0;
            if (ref->s == NULL) {
                maybe_free(ref);
                continue;
            }
            serve(ref);
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
    ws_heap_free(&heap);
    loop_mutex = NULL;
    return APR_SUCCESS;
}

apr_status_t ws_loop_start(apr_pool_t *pchild, server_rec *srv,
                           void (*service)(ws_session_t *s))
{
    apr_status_t rv;

    loop_service = service;
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

void ws_loop_watch_write(ws_loop_ref_t *ref, apr_socket_t *sock)
{
    if (ref == NULL || sock == NULL || loop_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(loop_mutex);
    if (!ref->watched) {
        ref->pfd.desc_type = APR_POLL_SOCKET;
        ref->pfd.desc.s = sock;
        ref->pfd.reqevents = APR_POLLOUT;
        ref->pfd.client_data = ref;
        if (apr_pollset_add(loop_ps, &ref->pfd) == APR_SUCCESS) {
            ref->watched = 1;
        }
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
    if (ref->watched) {
        /* before the MPM closes the socket.  A poll that returned it
         * already may be waiting for the mutex: the loop frees the link
         * after it has looked at that result, at this entry */
        apr_pollset_remove(loop_ps, &ref->pfd);
        ref->watched = 0;
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
