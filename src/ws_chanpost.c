/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanpost.c -- publish, delete and describe channels in this
 * server's shared region, then wake the children that have subscribers.
 */
#include <stdlib.h>
#include <string.h>

#include "apr_atomic.h"
#include "apr_time.h"

#include "ws_chan.h"
#include "ws_chanpost.h"

/* when a refusal was last logged, in seconds (one line a second) */
static volatile apr_uint32_t refusal_logged;

int ws_chan_refusal_due(void)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t was = apr_atomic_read32(&refusal_logged);

    return was != now && apr_atomic_cas32(&refusal_logged, now, was) == was;
}

apr_status_t ws_chan_post(const char *const *names, int n, int type,
                          const void *data, apr_size_t len,
                          ws_chan_limits_t limits, ws_chan_posted_t *out,
                          int *done)
{
    unsigned char *bits = calloc(1, ws_chan_bitmap_size() + 1);
    apr_status_t rv = APR_SUCCESS;
    ws_chan_store_t *st;
    int i;

    *done = 0;
    if (bits == NULL) {
        return APR_ENOMEM;
    }
    st = ws_chan_lock();
    if (st == NULL) {
        free(bits);
        return APR_ENOTIMPL;
    }
    for (i = 0; i < n; i++) {
        ws_chan_pub_t pub;

        rv = ws_chan_publish(st, names[i], strlen(names[i]), type, data, len,
                             limits, apr_time_now(), &pub, bits);
        if (rv != APR_SUCCESS) {
            break;
        }
        out[i].id = pub.id;
        out[i].subscribers = pub.subscribers;
        (*done)++;
    }
    ws_chan_unlock();
    ws_chan_wake(bits);
    free(bits);
    return rv;
}

apr_status_t ws_chan_remove(const char *const *names, int n,
                            apr_uint32_t *subscribers, int *found)
{
    unsigned char *bits = calloc(1, ws_chan_bitmap_size() + 1);
    ws_chan_store_t *st;
    int i;

    *found = 0;
    if (bits == NULL) {
        return APR_ENOMEM;
    }
    st = ws_chan_lock();
    if (st == NULL) {
        free(bits);
        return APR_ENOTIMPL;
    }
    for (i = 0; i < n; i++) {
        subscribers[i] = 0;
        if (ws_chan_delete(st, names[i], strlen(names[i]), apr_time_now(),
                           &subscribers[i], bits) != APR_NOTFOUND) {
            (*found)++;
        }
    }
    ws_chan_unlock();
    ws_chan_wake(bits);
    free(bits);
    return APR_SUCCESS;
}

apr_status_t ws_chan_describe(const char *name, ws_chan_info_t *info)
{
    ws_chan_store_t *st = ws_chan_lock();

    memset(info, 0, sizeof(*info));
    if (st == NULL) {
        return APR_ENOTIMPL;
    }
    if (ws_chan_info(st, name, strlen(name), info) != APR_SUCCESS) {
        memset(info, 0, sizeof(*info));
    }
    ws_chan_unlock();
    return APR_SUCCESS;
}
