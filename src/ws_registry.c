/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_registry.c -- the open sessions of this process and the 1001 that a
 * stopping child owes them.
 */
#include "httpd.h"
#include <stdlib.h>

#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "mpm_common.h"

#include "ws_io.h"
#include "ws_log.h"
#include "ws_registry.h"

APLOG_USE_MODULE(websocket);

static apr_thread_mutex_t *registry_mutex;
static ws_session_t *registry_head;
static int registry_count;
static int child_stopping;

static apr_status_t remove_cleanup(void *data)
{
    ws_registry_remove(data);
    return APR_SUCCESS;
}

void ws_registry_remove(ws_session_t *s)
{
    if (registry_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(registry_mutex);
    if (s->registered) {
        if (s->reg_prev) {
            s->reg_prev->reg_next = s->reg_next;
        }
        else {
            registry_head = s->reg_next;
        }
        if (s->reg_next) {
            s->reg_next->reg_prev = s->reg_prev;
        }
        s->reg_prev = s->reg_next = NULL;
        s->registered = 0;
        registry_count--;
    }
    apr_thread_mutex_unlock(registry_mutex);
}

void ws_registry_add(ws_session_t *s)
{
    int stopping;

    if (registry_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(registry_mutex);
    if (s->registered) {
        apr_thread_mutex_unlock(registry_mutex);
        return;
    }
    s->reg_prev = NULL;
    s->reg_next = registry_head;
    if (registry_head) {
        registry_head->reg_prev = s;
    }
    registry_head = s;
    s->registered = 1;
    registry_count++;
    stopping = child_stopping;
    apr_thread_mutex_unlock(registry_mutex);
    if (stopping) {
        apr_thread_mutex_lock(s->mutex);
        s->going_away = 1;
        apr_thread_mutex_unlock(s->mutex);
    }
    /* a safety net: the drivers take the session out themselves before
     * they free anything their wake() uses */
    apr_pool_cleanup_register(s->r->pool, s, remove_cleanup,
                              apr_pool_cleanup_null);
}

static void ws_registry_child_init(apr_pool_t *pchild, server_rec *srv)
{
    if (apr_thread_mutex_create(&registry_mutex, APR_THREAD_MUTEX_DEFAULT,
                                pchild) != APR_SUCCESS) {
        registry_mutex = NULL;
    }
}

/* Marks every session going away.  Those nobody serves (parked) are
 * taken (their I/O owned, so they cannot end meanwhile) and returned,
 * to be served once the registry's lock is released; the others'
 * drivers are woken, which never writes. */
static ws_session_t **collect(int *n, int *total, int *first)
{
    ws_session_t *s, **parked;
    int i = 0;

    apr_thread_mutex_lock(registry_mutex);
    *first = !child_stopping;
    child_stopping = 1;
    *total = registry_count;
    parked = malloc(sizeof(*parked) * (registry_count + 1));
    for (s = registry_head; s != NULL; s = s->reg_next) {
        apr_thread_mutex_lock(s->mutex);
        s->going_away = 1;
        apr_thread_mutex_unlock(s->mutex);
        if (parked != NULL && s->driver->service != NULL
            && ws_io_acquire(s, 0, WS_WRITE_NONBLOCKING)) {
            parked[i++] = s;
        }
        else {
            s->driver->wake(s);
        }
    }
    apr_thread_mutex_unlock(registry_mutex);
    *n = i;
    return parked;
}

void ws_registry_stop_all(void)
{
    ws_session_t **parked;
    int n, total, first, i;

    if (registry_mutex == NULL) {
        return;
    }
    parked = collect(&n, &total, &first);
    for (i = 0; i < n; i++) {
        parked[i]->driver->service(parked[i]);
    }
    free(parked);
    if (first && total > 0) {
        /* an administrator who sees clients reconnecting wants to know
         * why: a restart, a stop, or process maintenance */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf,
                     WS_LOGNO(00114) "this process is stopping: closing %d "
                     "WebSocket%s with 1001 (going away); if this happens "
                     "without a restart or stop, httpd is retiring surplus "
                     "processes (see MaxSpareThreads)", total,
                     total == 1 ? "" : "s");
    }
}

/* This child is stopping (graceful restart of an old generation,
 * graceful-stop, or a threaded MPM retiring a process it finds surplus):
 * threaded MPMs call this on the child's signal thread; prefork runs it
 * only at exit, so its blocking driver asks the MPM too. */
static void ws_registry_child_stopping(apr_pool_t *pchild, int graceful)
{
    ws_registry_stop_all();
}

void ws_registry_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(ws_registry_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(ws_registry_child_stopping, NULL, NULL,
                           APR_HOOK_MIDDLE);
}
