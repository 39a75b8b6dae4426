/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanpost.c -- publish, delete and describe channels in this
 * server's shared region, then wake the children that have subscribers;
 * or, under WebSocketChannelBroker, through Redis (ws_chanredis.c).
 */
#include <stdlib.h>
#include <string.h>

#include "apr_time.h"

#include "ws_chan.h"
#include "ws_chanpost.h"
#include "ws_chanredis.h"
#include "ws_status.h"

/* Publishes through Redis (WebSocketChannelBroker). */
static apr_status_t post_broker(const char *const *names, int n, int type,
                                const void *data, apr_size_t len,
                                ws_chan_limits_t limits,
                                ws_chan_posted_t *out, int *done)
{
    apr_status_t rv;
    int i;

    if (!ws_chan_enabled()) {
        return APR_ENOTIMPL;
    }
    for (i = 0; i < n; i++) {
        if (strlen(names[i]) < 1 || strlen(names[i]) > WS_CHAN_NAME_MAX
            || (type != WS_CHAN_TEXT && type != WS_CHAN_BINARY)) {
            return APR_EINVAL;
        }
        rv = ws_chanredis_publish(names[i], type, data, len, limits,
                                  &out[i].id, &out[i].subscribers);
        if (rv != APR_SUCCESS) {
            ws_status_count(WS_STATUS_BROKER_FAILED, 1);
            return rv;
        }
        ws_status_count(WS_STATUS_BROKER_PUBLISHED, 1);
        (*done)++;
    }
    return APR_SUCCESS;
}

apr_status_t ws_chan_post(const char *const *names, int n, int type,
                          const void *data, apr_size_t len,
                          ws_chan_limits_t limits, ws_chan_posted_t *out,
                          int *done)
{
    /* the children to wake: on the stack up to 1,024 slots */
    unsigned char small[128], *bits = small;
    apr_size_t nbits = ws_chan_bitmap_size() + 1;
    apr_status_t rv = APR_SUCCESS;
    ws_chan_store_t *st;
    int i;

    *done = 0;
    if (ws_chanredis_configured()) {
        return post_broker(names, n, type, data, len, limits, out, done);
    }
    if (nbits > sizeof(small) && (bits = malloc(nbits)) == NULL) {
        return APR_ENOMEM;
    }
    memset(bits, 0, nbits);
    st = ws_chan_lock();
    if (st == NULL) {
        rv = APR_ENOTIMPL;
        goto out;
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
out:
    if (bits != small) {
        free(bits);
    }
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
    if (ws_chanredis_configured()) {
        apr_status_t rv = APR_SUCCESS;

        free(bits);
        if (!ws_chan_enabled()) {
            return APR_ENOTIMPL;
        }
        for (i = 0; i < n && rv == APR_SUCCESS; i++) {
            int f = 0;

            subscribers[i] = 0;
            rv = ws_chanredis_delete(names[i], &subscribers[i], &f);
            *found += f;
        }
        return rv;
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
    ws_chan_store_t *st;

    memset(info, 0, sizeof(*info));
    if (ws_chanredis_configured()) {
        return ws_chan_enabled() ? ws_chanredis_info(name, info)
                                 : APR_ENOTIMPL;
    }
    st = ws_chan_lock();
    if (st == NULL) {
        return APR_ENOTIMPL;
    }
    if (ws_chan_info(st, name, strlen(name), info) != APR_SUCCESS) {
        memset(info, 0, sizeof(*info));
    }
    ws_chan_unlock();
    return APR_SUCCESS;
}
