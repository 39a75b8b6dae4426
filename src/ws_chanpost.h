/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanpost.h -- the one way in for everything that changes or reads
 * a channel from outside its subscribers: publish, delete, describe.
 * The HTTP publisher, clients under WebSocketChannelPublish and plugins
 * all come through here, so that where messages are stored (this
 * server's shared region, or a broker shared by several servers) is
 * decided in one place.
 */
#ifndef WS_CHANPOST_H
#define WS_CHANPOST_H

#include "ws_chanstore.h"

/** What ws_chan_post() did for one channel. */
typedef struct {
    ws_chan_id_t id;          /**< the id the message got */
    apr_uint32_t subscribers; /**< subscribers at publish time; under
                               * WebSocketChannelBroker: the child
                               * processes (of every server) listening */
} ws_chan_posted_t;

/**
 * Publishes one message to each of @p n channels, in that order.
 * @param names NUL-terminated channel names (1 to WS_CHAN_NAME_MAX bytes)
 * @param type WS_CHAN_TEXT (valid UTF-8, the caller's check) or
 *        WS_CHAN_BINARY
 * @param out @p n results; the first *done of them are filled
 * @param done receives how many channels got the message
 * @return APR_SUCCESS; APR_ENOSPC: channel memory is full (answer 507);
 *         APR_ENOTIMPL: channels do not work in this process (503);
 *         APR_EINVAL: a name or the type is invalid; under a broker,
 *         anything else: the message is not known to be stored (503)
 * @remark Any thread; never waits for a subscriber.
 */
apr_status_t ws_chan_post(const char *const *names, int n, int type,
                          const void *data, apr_size_t len,
                          ws_chan_limits_t limits, ws_chan_posted_t *out,
                          int *done);

/**
 * Deletes channels: their subscribers are closed with 1000 "channel
 * deleted" and their history is dropped (the next id has a new epoch).
 * @param subscribers @p n counts: the subscribers each had
 * @param found receives how many of the channels existed
 * @return APR_SUCCESS; APR_ENOTIMPL (503)
 * @remark Any thread.
 */
apr_status_t ws_chan_remove(const char *const *names, int n,
                            apr_uint32_t *subscribers, int *found);

/**
 * Describes channel @p name; a channel that does not exist is described
 * as empty (no subscribers, nothing retained, last.seq 0).
 * @return APR_SUCCESS; APR_ENOTIMPL (503)
 * @remark Any thread.
 */
apr_status_t ws_chan_describe(const char *name, ws_chan_info_t *info);

#endif /* WS_CHANPOST_H */
