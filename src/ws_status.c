/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_status.c -- WebSocket counts per child in anonymous shared memory,
 * summed on server-status, and the counts of channel events (shown by
 * ws_chanstatus.c).  Every child
 * claims a slot by its pid when it starts and gives it back when it
 * exits; a slot of a child that died without giving it back is
 * recognised by its pid being gone.  The channel event counts of a slot
 * given back are added to the totals of retired children first.
 */
#include "httpd.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "apr_atomic.h"
#include "apr_optional_hooks.h"
#include "apr_shm.h"

#include "ap_mpm.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "mod_status.h"

#include "ws_log.h"
#include "ws_status.h"

APLOG_USE_MODULE(websocket);

typedef struct {
    volatile apr_uint32_t pid;     /* 0: free */
    volatile apr_uint32_t open;
    volatile apr_uint32_t closing;
    volatile apr_uint32_t accepted;
    apr_uint64_t counts[WS_STATUS_NCOUNTS]; /* __atomic builtins */
} ws_slot_t;

/* the counts of children gone (__atomic builtins), then the slots */
typedef struct {
    apr_uint64_t retired[WS_STATUS_NCOUNTS];
} ws_head_t;

static apr_shm_t *shm;          /* the parent's, inherited by children */
static ws_head_t *head;
static ws_slot_t *slots;
static int nslots;
static ws_slot_t *my_slot;      /* this child's, or NULL */

static int ws_status_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp, server_rec *s)
{
    int limit = 0;
    apr_status_t rv;

    /* every process that can exist at once, a stopping generation too */
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) != APR_SUCCESS
        || limit < 1) {
        limit = 16;
    }
    nslots = 2 * limit;
    rv = apr_shm_create(&shm, sizeof(ws_head_t) + nslots * sizeof(ws_slot_t),
                        NULL, pconf);
    if (rv != APR_SUCCESS) {
        /* counts are a convenience: WebSockets work without them */
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     WS_LOGNO(00501) "no shared memory for the "
                     "server-status counts of WebSockets");
        shm = NULL;
        head = NULL;
        slots = NULL;
        return OK;
    }
    head = apr_shm_baseaddr_get(shm);
    slots = (ws_slot_t *)(head + 1);
    memset(head, 0, sizeof(ws_head_t) + nslots * sizeof(ws_slot_t));
    return OK;
}

/* Moves a slot's channel counts to the totals of children gone. */
static void retire_counts(ws_slot_t *slot)
{
    int i;

    for (i = 0; i < WS_STATUS_NCOUNTS; i++) {
        apr_uint64_t n = __atomic_exchange_n(&slot->counts[i], 0,
                                             __ATOMIC_RELAXED);

        __atomic_fetch_add(&head->retired[i], n, __ATOMIC_RELAXED);
    }
}

static apr_status_t release_slot(void *data)
{
    ws_slot_t *slot = data;

    retire_counts(slot);
    slot->open = slot->closing = slot->accepted = 0;
    apr_atomic_set32(&slot->pid, 0);
    my_slot = NULL;
    return APR_SUCCESS;
}

static int pid_alive(apr_uint32_t pid)
{
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

static void ws_status_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_uint32_t me = (apr_uint32_t)getpid();
    int i;

    for (i = 0; slots != NULL && i < nslots; i++) {
        apr_uint32_t pid = apr_atomic_read32(&slots[i].pid);

        /* a free slot, or one a crashed child left behind */
        if ((pid == 0 || !pid_alive(pid))
            && apr_atomic_cas32(&slots[i].pid, me, pid) == pid) {
            my_slot = &slots[i];
            retire_counts(my_slot);
            my_slot->open = my_slot->closing = my_slot->accepted = 0;
            apr_pool_cleanup_register(pchild, my_slot, release_slot,
                                      apr_pool_cleanup_null);
            return;
        }
    }
}

void ws_status_change(ws_status_e from, ws_status_e to)
{
    ws_slot_t *slot = my_slot;

    if (slot == NULL || from == to) {
        return;
    }
    if (from == WS_STATUS_OPEN) {
        apr_atomic_dec32(&slot->open);
    }
    else if (from == WS_STATUS_CLOSING) {
        apr_atomic_dec32(&slot->closing);
    }
    if (to == WS_STATUS_OPEN) {
        apr_atomic_inc32(&slot->open);
        apr_atomic_inc32(&slot->accepted);
    }
    else if (to == WS_STATUS_CLOSING) {
        apr_atomic_inc32(&slot->closing);
    }
}

void ws_status_count(ws_status_count_e what, apr_uint32_t n)
{
    ws_slot_t *slot = my_slot;

    if (slot != NULL && n > 0) {
        __atomic_fetch_add(&slot->counts[what], n, __ATOMIC_RELAXED);
    }
}

void ws_status_counts(apr_uint64_t *counts)
{
    int i, k;

    for (k = 0; k < WS_STATUS_NCOUNTS; k++) {
        counts[k] = head ? __atomic_load_n(&head->retired[k],
                                           __ATOMIC_RELAXED)
                         : 0;
    }
    /* a dead child's counts too, until its slot is taken again */
    for (i = 0; slots != NULL && i < nslots; i++) {
        for (k = 0; k < WS_STATUS_NCOUNTS; k++) {
            counts[k] += __atomic_load_n(&slots[i].counts[k],
                                         __ATOMIC_RELAXED);
        }
    }
}

static int ws_status_hook(request_rec *r, int flags)
{
    apr_uint32_t open = 0, closing = 0, accepted = 0, procs = 0;
    int i;

    if (slots == NULL) {
        return OK;
    }
    for (i = 0; i < nslots; i++) {
        apr_uint32_t pid = apr_atomic_read32(&slots[i].pid);

        if (pid == 0 || !pid_alive(pid)) {
            continue;
        }
        procs++;
        open += apr_atomic_read32(&slots[i].open);
        closing += apr_atomic_read32(&slots[i].closing);
        accepted += apr_atomic_read32(&slots[i].accepted);
    }
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "WebSocketOpen: %u\nWebSocketClosing: %u\n"
                   "WebSocketAccepted: %u\n", open, closing, accepted);
        return OK;
    }
    ap_rputs("<hr />\n<h2>WebSockets (mod_websocket)</h2>\n", r);
    ap_rprintf(r, "<dl><dt>%u open, %u closing</dt>\n"
               "<dt>%u accepted by the %u current processes since they "
               "started</dt></dl>\n", open, closing, accepted, procs);
    return OK;
}

void ws_status_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(ws_status_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ws_status_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, ws_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
