/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chan.c -- the shared region of channels, its global lock, child
 * slots with their wake-up pipes, and each child's delivery thread.
 *
 * The region (apr_shm, anonymous, made in post_config) starts with a
 * table of child slots (pid + generation), then holds the channel store
 * (ws_chanstore.h).  Region and pipes live in the process pool, kept as
 * its userdata across graceful restarts while their sizes do not change:
 * channels, history and ids survive a restart, and children of the old
 * generation keep waking and being woken.  A child claims a free slot in
 * child_init (one whose pid is 0 or gone; a dead child's subscriber
 * counts are reset then), so it never depends on the scoreboard.  The
 * slots of children that died are also freed within about a second by a
 * living child's delivery thread, whether or not a new child comes.
 */
#include "httpd.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apr_atomic.h"
#include "apr_file_io.h"
#include "apr_global_mutex.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"

#include "ap_mpm.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "util_mutex.h"

#include "ws_chan.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);

#define WS_CHAN_MUTEX "websocket-channels"
#define WS_CHAN_SHM_KEY "mod_websocket-channels-shm"
#define WS_CHAN_PIPES_KEY "mod_websocket-channels-pipes"
#define WS_CHAN_MUTEX_KEY "mod_websocket-channels-mutex"

/* messages and bytes the delivery thread copies per hold of the lock */
#define WS_CHAN_BATCH 64
#define WS_CHAN_BATCH_BYTES (1024 * 1024)

typedef struct {
    volatile apr_uint32_t pid;   /* 0: free */
    apr_uint32_t gen;            /* the generation that claimed it */
} ws_chan_slot_t;

/* what is kept across restarts in the process pool */
typedef struct {
    apr_shm_t *shm;
    apr_size_t size;
    apr_uint32_t nslots;
} ws_chan_region_t;

typedef struct {
    apr_uint32_t n;
    apr_file_t **rd, **wr;
} ws_chan_pipes_t;

static int used;                 /* a directive uses channels */
static apr_size_t memory = WS_CHAN_DEFAULT_MEMORY;
static ws_chan_region_t *region; /* NULL: no channels */
static ws_chan_pipes_t *pipes;
static apr_global_mutex_t *mutex;
static ws_chan_store_t *store;
static ws_chan_slot_t *slot_table;
static apr_uint32_t my_slot = (apr_uint32_t)-1;
static volatile int stopping;
static apr_status_t (*sink_init)(apr_pool_t *pchild);
static void (*sink_deliver)(ws_chan_delivery_t *list);
static apr_thread_t *thread;

void ws_chan_mark_used(void)
{
    used = 1;
}

void ws_chan_set_memory(apr_size_t bytes)
{
    memory = bytes;
}

int ws_chan_enabled(void)
{
    return store != NULL && mutex != NULL && my_slot != (apr_uint32_t)-1;
}

ws_chan_store_t *ws_chan_lock(void)
{
    if (!ws_chan_enabled() || apr_global_mutex_lock(mutex) != APR_SUCCESS) {
        return NULL;
    }
    return store;
}

void ws_chan_unlock(void)
{
    apr_global_mutex_unlock(mutex);
}

apr_uint32_t ws_chan_my_slot(void)
{
    return my_slot;
}

apr_size_t ws_chan_bitmap_size(void)
{
    return region ? WS_CHAN_BITMAP_BYTES(region->nslots) : 0;
}

void ws_chan_wake(const unsigned char *bitmap)
{
    apr_uint32_t i;

    for (i = 0; pipes != NULL && i < pipes->n; i++) {
        if (WS_CHAN_SLOT_ISSET(bitmap, i)) {
            char b = 1;
            apr_size_t n = 1;

            /* non-blocking: a full pipe already wakes its reader */
            apr_file_write(pipes->wr[i], &b, &n);
        }
    }
}

static int ws_chan_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp)
{
    used = 0;
    memory = WS_CHAN_DEFAULT_MEMORY;
    region = NULL;
    store = NULL;
    return ap_mutex_register(pconf, WS_CHAN_MUTEX, NULL, APR_LOCK_DEFAULT,
                             0);
}

static apr_size_t slots_bytes(apr_uint32_t nslots)
{
    return APR_ALIGN_DEFAULT(nslots * sizeof(ws_chan_slot_t));
}

/* The region of the previous generation when its size is the same, or a
 * new one (formatted).  Parent, before any child of this generation. */
static apr_status_t make_region(server_rec *s, apr_uint32_t nslots)
{
    apr_pool_t *pp = s->process->pool;
    apr_size_t size = slots_bytes(nslots) + memory;
    ws_chan_region_t *old = NULL;
    apr_time_t now = apr_time_now();
    apr_status_t rv;
    char *base;
    int kept = 0;

    apr_pool_userdata_get((void **)&old, WS_CHAN_SHM_KEY, pp);
    if (old != NULL && old->size == size && old->nslots == nslots) {
        region = old;
        base = apr_shm_baseaddr_get(region->shm);
        slot_table = (ws_chan_slot_t *)base;
        /* children of the old generation may be using it right now */
        rv = apr_global_mutex_lock(mutex);
        if (rv == APR_SUCCESS) {
            rv = ws_chan_store_attach(&store, base + slots_bytes(nslots),
                                      memory, nslots, now, &kept);
            apr_global_mutex_unlock(mutex);
        }
        ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, s, WS_LOGNO(00701)
                     "channels: region of %" APR_SIZE_T_FMT " bytes %s",
                     memory, kept ? "kept" : "formatted anew");
        return rv;
    }
    if (old != NULL) {
        /* children of the old generation keep their own mapping */
        apr_shm_destroy(old->shm);
        apr_pool_userdata_set(NULL, WS_CHAN_SHM_KEY, NULL, pp);
    }
    region = apr_pcalloc(pp, sizeof(*region));
    rv = apr_shm_create(&region->shm, size, NULL, pp);
    if (rv != APR_SUCCESS) {
        region = NULL;
        return rv;
    }
    region->size = size;
    region->nslots = nslots;
    base = apr_shm_baseaddr_get(region->shm);
    memset(base, 0, slots_bytes(nslots));
    slot_table = (ws_chan_slot_t *)base;
    rv = ws_chan_store_init(&store, base + slots_bytes(nslots), memory,
                            nslots, now);
    if (rv == APR_SUCCESS) {
        apr_pool_userdata_set(region, WS_CHAN_SHM_KEY, NULL, pp);
    }
    return rv;
}

/* One pipe per slot: the read end blocks (the delivery thread waits on
 * it), the write end does not (publishers never wait). */
static apr_status_t make_pipes(server_rec *s, apr_uint32_t nslots)
{
    apr_pool_t *pp = s->process->pool;
    ws_chan_pipes_t *old = NULL;
    apr_uint32_t i;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&old, WS_CHAN_PIPES_KEY, pp);
    if (old != NULL && old->n == nslots) {
        pipes = old;
        return APR_SUCCESS;
    }
    /* a pipe set of another size stays open (old children use it) */
    pipes = apr_pcalloc(pp, sizeof(*pipes));
    pipes->rd = apr_pcalloc(pp, nslots * sizeof(apr_file_t *));
    pipes->wr = apr_pcalloc(pp, nslots * sizeof(apr_file_t *));
    for (i = 0; i < nslots; i++) {
        rv = apr_file_pipe_create_ex(&pipes->rd[i], &pipes->wr[i],
                                     APR_READ_BLOCK, pp);
        if (rv != APR_SUCCESS) {
            pipes = NULL;
            return rv;
        }
    }
    pipes->n = nslots;
    apr_pool_userdata_set(pipes, WS_CHAN_PIPES_KEY, NULL, pp);
    return APR_SUCCESS;
}

static int ws_chan_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    int limit = 0;
    apr_status_t rv;

    /* the first of the two passes at startup only checks the config */
    if (!used
        || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) != APR_SUCCESS
        || limit < 1) {
        limit = 16;
    }
    /* one lock for every generation that shares the region: it lives in
     * the process pool too (a changed Mutex directive applies after a
     * full restart) */
    mutex = NULL;
    apr_pool_userdata_get((void **)&mutex, WS_CHAN_MUTEX_KEY,
                          s->process->pool);
    if (mutex == NULL) {
        rv = ap_global_mutex_create(&mutex, NULL, WS_CHAN_MUTEX, NULL, s,
                                    s->process->pool, 0);
        if (rv != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR; /* httpd logged why */
        }
        apr_pool_userdata_set(mutex, WS_CHAN_MUTEX_KEY, NULL,
                              s->process->pool);
    }
    rv = make_region(s, (apr_uint32_t)limit);
    if (rv == APR_SUCCESS) {
        rv = make_pipes(s, (apr_uint32_t)limit);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, WS_LOGNO(00702)
                     "channels: cannot make the shared region of %"
                     APR_SIZE_T_FMT " bytes (WebSocketChannelMemory) or "
                     "the wake-up pipes of %d children", memory, limit);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int pid_gone(apr_uint32_t pid)
{
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static void log_removed(server_rec *s, apr_uint64_t removed)
{
    if (removed > 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, WS_LOGNO(00703)
                     "channels: %" APR_UINT64_T_FMT " subscriptions of a "
                     "child that died were removed", removed);
    }
}

/* Claims a free slot (or a dead child's, whose counts are reset). */
static apr_status_t claim_slot(server_rec *s)
{
    apr_uint32_t me = (apr_uint32_t)getpid(), i;
    int gen = 0;
    apr_uint64_t removed = 0;

    ap_mpm_query(AP_MPMQ_GENERATION, &gen);
    if (apr_global_mutex_lock(mutex) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    for (i = 0; i < region->nslots; i++) {
        ws_chan_slot_t *t = &slot_table[i];

        if (t->pid == 0 || t->pid == me || pid_gone(t->pid)) {
            if (t->pid != 0) {
                ws_chan_slot_reset(store, i, &removed);
            }
            t->pid = me;
            t->gen = (apr_uint32_t)gen;
            my_slot = i;
            break;
        }
    }
    apr_global_mutex_unlock(mutex);
    log_removed(s, removed);
    return my_slot != (apr_uint32_t)-1 ? APR_SUCCESS : APR_ENOSPC;
}

/* Frees the slots of children that died without releasing theirs (a
 * crash, kill -9), so that their subscriptions stop counting within a
 * second, not only when a new child claims that very slot.  Each child
 * looks up to the first slot held by a living child; the one in that
 * slot looks through them all.  The pids are checked outside the lock; a
 * slot is reset only if it still holds the pid found gone. */
static void sweep_dead_slots(server_rec *s)
{
    apr_uint64_t removed = 0;
    apr_uint32_t i;

    for (i = 0; i < region->nslots; i++) {
        apr_uint32_t pid = apr_atomic_read32(&slot_table[i].pid);
        apr_uint64_t n = 0;

        if (i == my_slot || pid == 0) {
            continue;
        }
        if (!pid_gone(pid)) {
            if (i < my_slot) {
                break;     /* the living child in a lower slot goes on */
            }
            continue;
        }
        if (apr_global_mutex_lock(mutex) != APR_SUCCESS) {
            break;
        }
        if (slot_table[i].pid == pid) {
            ws_chan_slot_reset(store, i, &n);
            slot_table[i].pid = 0;
            removed += n;
        }
        apr_global_mutex_unlock(mutex);
    }
    log_removed(s, removed);
}

static apr_status_t release_slot(void *data)
{
    if (my_slot == (apr_uint32_t)-1) {
        return APR_SUCCESS;
    }
    if (apr_global_mutex_lock(mutex) == APR_SUCCESS) {
        ws_chan_slot_reset(store, my_slot, NULL);
        slot_table[my_slot].pid = 0;
        apr_global_mutex_unlock(mutex);
    }
    my_slot = (apr_uint32_t)-1;
    return APR_SUCCESS;
}

/* Copies up to a batch of log entries out under the lock. */
static ws_chan_delivery_t *read_batch(apr_uint64_t *cursor, int *more,
                                    apr_uint64_t *lost_total)
{
    ws_chan_delivery_t *head = NULL, **tail = &head;
    apr_size_t bytes = 0;
    int n = 0;

    *more = 0;
    if (apr_global_mutex_lock(mutex) != APR_SUCCESS) {
        return NULL;
    }
    while (n < WS_CHAN_BATCH && bytes < WS_CHAN_BATCH_BYTES) {
        ws_chan_msg_t m;
        apr_uint64_t lost = 0;
        ws_chan_delivery_t *c;
        apr_status_t rv = ws_chan_log_read(store, cursor, &m, &lost);

        if (APR_STATUS_IS_INCOMPLETE(rv)) {
            /* subscribers notice by their ids (ws_chandeliver.c) */
            *lost_total += lost;
            continue;
        }
        if (rv != APR_SUCCESS) {
            break;
        }
        /* the name here, the payload in one buffer all subscribers'
         * queues will refer to */
        c = malloc(sizeof(*c) + m.name_len + 1);
        if (c != NULL && (c->plain = ws_payload_make(m.len)) == NULL) {
            free(c);
            c = NULL;
        }
        if (c == NULL) {
            break; /* the ids tell the subscribers */
        }
        c->next = NULL;
        c->id = m.id;
        c->log = m.log;
        c->type = m.type;
        c->name_len = m.name_len;
        c->len = m.len;
        c->meta = NULL;
        memcpy((char *)(c + 1), m.name, m.name_len);
        ((char *)(c + 1))[m.name_len] = '\0';
        c->name = (char *)(c + 1);
        c->data = (const char *)c->plain->data;
        if (m.len) {
            memcpy(c->plain->data, m.data, m.len);
        }
        *tail = c;
        tail = &c->next;
        bytes += m.len;
        n++;
    }
    *more = n == WS_CHAN_BATCH || bytes >= WS_CHAN_BATCH_BYTES;
    apr_global_mutex_unlock(mutex);
    return head;
}


/* Waits for a wake-up (at most a second: trimming), drains the pipe. */
static void wait_wakeup(apr_file_t *rd)
{
    char buf[256];
    apr_size_t n = sizeof(buf);

    if (apr_file_read(rd, buf, &n) == APR_SUCCESS && n == sizeof(buf)) {
        /* more wake-ups queued: one pass handles them all */
        apr_file_pipe_timeout_set(rd, 0);
        do {
            n = sizeof(buf);
        } while (apr_file_read(rd, buf, &n) == APR_SUCCESS);
        apr_file_pipe_timeout_set(rd, apr_time_from_sec(1));
    }
}

void ws_chan_deliveries_free(ws_chan_delivery_t *m)
{
    while (m != NULL) {
        ws_chan_delivery_t *next = m->next;

        ws_payload_unref(m->plain);
        ws_payload_unref(m->meta);
        free(m);
        m = next;
    }
}

/* when a refusal was last logged, in seconds (one line a second) */
static volatile apr_uint32_t refusal_logged;

int ws_chan_refusal_due(void)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t was = apr_atomic_read32(&refusal_logged);

    return was != now && apr_atomic_cas32(&refusal_logged, now, was) == was;
}

void ws_chan_set_sink(apr_status_t (*init)(apr_pool_t *pchild),
                      void (*deliver)(ws_chan_delivery_t *list))
{
    sink_init = init;
    sink_deliver = deliver;
}

void ws_chan_deliver(ws_chan_delivery_t *list)
{
    if (sink_deliver != NULL && list != NULL) {
        sink_deliver(list);
    }
}

static void *APR_THREAD_FUNC delivery(apr_thread_t *t, void *data)
{
    server_rec *s = data;
    apr_file_t *rd = pipes->rd[my_slot];
    apr_uint64_t cursor, lost = 0;
    apr_time_t last_trim = apr_time_now();
    int more = 0;

    apr_global_mutex_lock(mutex);
    cursor = ws_chan_log_head(store);
    apr_global_mutex_unlock(mutex);
    apr_file_pipe_timeout_set(rd, apr_time_from_sec(1));
    while (!stopping) {
        ws_chan_delivery_t *batch;
        apr_time_t now;

        if (!more) {
            wait_wakeup(rd);
        }
        if (stopping) {
            break;
        }
        batch = read_batch(&cursor, &more, &lost);
        if (lost > 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, WS_LOGNO(00704)
                         "channels: this child fell behind the log and "
                         "missed %" APR_UINT64_T_FMT " messages (the "
                         "subscribers concerned are told)", lost);
            lost = 0;
        }
        ws_chan_deliver(batch);
        ws_chan_deliveries_free(batch);
        now = apr_time_now();
        if (now - last_trim >= apr_time_from_sec(1)
            && apr_global_mutex_lock(mutex) == APR_SUCCESS) {
            ws_chan_trim(store, now);
            apr_global_mutex_unlock(mutex);
            last_trim = now;
            sweep_dead_slots(s);
        }
    }
    return NULL;
}

static apr_status_t stop_delivery(void *data)
{
    apr_status_t rv;
    char b = 0;
    apr_size_t n = 1;

    if (thread == NULL) {
        return APR_SUCCESS;
    }
    stopping = 1;
    apr_file_write(pipes->wr[my_slot], &b, &n);
    apr_thread_join(&rv, thread);
    thread = NULL;
    return APR_SUCCESS;
}

static void ws_chan_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;
    const char *why = "the global mutex";

    if (region == NULL || store == NULL) {
        return;
    }
    rv = apr_global_mutex_child_init(&mutex, apr_global_mutex_lockfile(
                                         mutex), pchild);
    if (rv == APR_SUCCESS) {
        why = "a free slot";
        rv = claim_slot(s);
    }
    if (rv == APR_SUCCESS) {
        apr_pool_cleanup_register(pchild, NULL, release_slot,
                                  apr_pool_cleanup_null);
        why = "the subscriber table";
        rv = sink_init != NULL ? sink_init(pchild) : APR_ENOTIMPL;
    }
    if (rv == APR_SUCCESS) {
        why = "the delivery thread";
        rv = apr_thread_create(&thread, NULL, delivery, s, pchild);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, WS_LOGNO(00705)
                     "channels: no %s in this child; its subscribers "
                     "and publishers are refused (503)", why);
        my_slot = (apr_uint32_t)-1;
        thread = NULL;
        return;
    }
    /* before the pool's own cleanups: the thread uses pchild's mutex */
    apr_pool_pre_cleanup_register(pchild, NULL, stop_delivery);
}

void ws_chan_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(ws_chan_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ws_chan_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ws_chan_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
