/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanplugin.c -- a plugin's own subscriptions (API v1 subscribe()
 * and unsubscribe(), any thread while the connection lives), next to
 * those of the location's WebSocketChannel: the same table, delivery
 * and slow-subscriber rules; nothing is replayed.
 */
#include "httpd.h"
#include <stdlib.h>
#include <string.h>

#include "ws_chanredis.h"
#include "ws_chansub_int.h"

/* A plugin's subscription of @p cs to @p name, or NULL (table mutex). */
static ws_xsub_t *find_extra(ws_chansub_t *cs, const char *name,
                             apr_size_t len, ws_xsub_t ***link)
{
    ws_xsub_t **xp;

    for (xp = &cs->extra; *xp != NULL; xp = &(*xp)->next) {
        if ((*xp)->sub.len == len && !memcmp((*xp)->name, name, len)) {
            if (link) {
                *link = xp;
            }
            return *xp;
        }
    }
    return NULL;
}

/* The connection's subscriptions, made for a plugin when it has none
 * (table mutex); NULL when out of memory. */
static ws_chansub_t *plugin_chansub(ws_session_t *s)
{
    ws_chansub_t *cs = s->chan ? s->chan : s->xchan;

    if (cs == NULL) {
        /* not from r->pool: this may be a plugin's thread */
        cs = calloc(1, sizeof(*cs));
        if (cs != NULL) {
            cs->s = s;
            cs->heap = 1;
            cs->in_table = 1;
            s->xchan = cs;
        }
    }
    return cs;
}

/* The subscription, or APR_EEXIST when the connection has it already. */
static apr_status_t add_subscription(ws_session_t *s, const char *name);

apr_status_t ws_chansub_add(ws_session_t *s, const char *name)
{
    apr_size_t len = name ? strlen(name) : 0;
    int broker = ws_chanredis_configured() && len >= 1
                 && len <= WS_CHAN_NAME_MAX && ws_chan_enabled();
    apr_status_t rv;

    if (broker) {
        /* listening in Redis first (not under the table's mutex), undone
         * if no subscription is made */
        ws_chanredis_listen(&name, 1);
    }
    rv = add_subscription(s, name);
    if (broker && rv != APR_SUCCESS) {
        ws_chanredis_unlisten(name);
    }
    return rv == APR_EEXIST ? APR_SUCCESS : rv;
}

static apr_status_t add_subscription(ws_session_t *s, const char *name)
{
    apr_size_t len = name ? strlen(name) : 0;
    ws_chan_store_t *st;
    ws_chansub_t *cs;
    ws_xsub_t *x;
    apr_uint64_t head = 0;
    apr_status_t rv;
    int i;

    if (len < 1 || len > WS_CHAN_NAME_MAX) {
        return APR_EINVAL;
    }
    if (!ws_chan_enabled() || ws_chansub_mutex == NULL) {
        return APR_ENOTIMPL;
    }
    apr_thread_mutex_lock(ws_chansub_mutex);
    if (s->chan_over) {
        apr_thread_mutex_unlock(ws_chansub_mutex);
        return APR_EOF;
    }
    cs = plugin_chansub(s);
    if (cs == NULL) {
        apr_thread_mutex_unlock(ws_chansub_mutex);
        return APR_ENOSPC;
    }
    for (i = 0; i < cs->n; i++) {
        if (cs->subs[i].len == len && !memcmp(cs->subs[i].name, name, len)) {
            apr_thread_mutex_unlock(ws_chansub_mutex);
            return APR_EEXIST; /* WebSocketChannel's already */
        }
    }
    if (find_extra(cs, name, len, NULL) != NULL) {
        apr_thread_mutex_unlock(ws_chansub_mutex);
        return APR_EEXIST;
    }
    if (cs->n + cs->nextra >= WS_CHAN_MAX_PER_CONN) {
        apr_thread_mutex_unlock(ws_chansub_mutex);
        return APR_EMFILE;
    }
    x = calloc(1, sizeof(*x) + len);
    st = x ? ws_chan_lock() : NULL;
    if (st == NULL) {
        apr_thread_mutex_unlock(ws_chansub_mutex);
        free(x);
        return x ? APR_ENOTIMPL : APR_ENOSPC;
    }
    memcpy(x->name, name, len);
    x->sub.owner = cs;
    x->sub.name = x->name;
    x->sub.len = len;
    rv = ws_chan_subscribe(st, name, len, ws_chan_my_slot(), &x->sub.last);
    if (rv == APR_SUCCESS) {
        head = ws_chan_log_head(st);
    }
    ws_chan_unlock();
    if (rv != APR_SUCCESS) {
        apr_thread_mutex_unlock(ws_chansub_mutex);
        free(x);
        return rv;
    }
    /* live from what is published after this; nothing is replayed */
    x->sub.from_log = head;
    if (ws_chanredis_configured()) {
        ws_chan_id_t none = {0, 0}, first;
        int gap;

        x->sub.from_log = 0;
        ws_chanredis_resume(name, 0, none, &x->sub.last, &first, &gap, NULL,
                            NULL);
    }
    ws_chansub_link(&x->sub);
    x->next = cs->extra;
    cs->extra = x;
    cs->nextra++;
    apr_thread_mutex_unlock(ws_chansub_mutex);
    return APR_SUCCESS;
}

apr_status_t ws_chansub_remove(ws_session_t *s, const char *name)
{
    apr_size_t len = name ? strlen(name) : 0;
    ws_chan_store_t *st;
    ws_chansub_t *cs;
    ws_xsub_t *x, **link = NULL;

    if (len < 1 || len > WS_CHAN_NAME_MAX) {
        return APR_EINVAL;
    }
    if (!ws_chan_enabled() || ws_chansub_mutex == NULL) {
        return APR_ENOTIMPL;
    }
    apr_thread_mutex_lock(ws_chansub_mutex);
    cs = s->chan ? s->chan : s->xchan;
    x = cs ? find_extra(cs, name, len, &link) : NULL;
    if (x == NULL) {
        apr_thread_mutex_unlock(ws_chansub_mutex);
        return APR_NOTFOUND;
    }
    *link = x->next;
    cs->nextra--;
    ws_chansub_unlink(&x->sub);
    st = ws_chan_lock();
    if (st != NULL) {
        ws_chan_unsubscribe(st, name, len, ws_chan_my_slot());
        ws_chan_unlock();
    }
    if (ws_chanredis_configured()) {
        ws_chanredis_unlisten(name);
    }
    apr_thread_mutex_unlock(ws_chansub_mutex);
    free(x);
    return APR_SUCCESS;
}

