/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chansub.h -- WebSocket connections subscribed to channels
 * (WebSocketChannel): subscribing with resume, this child's table of
 * channel -> subscribers, delivery without blocking, publishing what
 * clients send (WebSocketChannelPublish).
 */
#ifndef WS_CHANSUB_H
#define WS_CHANSUB_H

#include "ws_chan.h"
#include "ws_plugin.h"
#include "ws_session.h"

/** The subprotocol that prefixes every message with its id. */
#define WS_CHANSUB_META "channel-meta"

/** Room for an id written "<epoch>:<seq>" and its NUL. */
#define WS_CHANSUB_ID_LEN 48

/* -- ws_channame.c -- */

/** The built-in plugin of locations with WebSocketChannel and no
 * WebSocketHandler: accepts every connection, ignores its messages. */
extern ws_plugin_t ws_chansub_builtin;

/** Writes @p id as "<epoch>:<seq>" into @p buf (WS_CHANSUB_ID_LEN). */
const char *ws_chansub_id(char *buf, ws_chan_id_t id);

/** Parses "<epoch>:<seq>"; 1 if @p v is one. */
int ws_chansub_parse_id(const char *v, ws_chan_id_t *id);

/**
 * Evaluates the location's WebSocketChannel expressions for @p r.
 * @param out the distinct names (const char *)
 * @return OK, or HTTP_NOT_FOUND when one is empty, too long or fails
 */
int ws_chansub_names(request_rec *r, const ws_settings_t *set,
                     apr_array_header_t **out);

/* -- ws_chansub.c -- */

/** Creates this child's table (child_init). */
apr_status_t ws_chansub_child_init(apr_pool_t *pchild);

/**
 * Subscribes @p s to the channels of its location and queues what it
 * asked to resume (?last_id= or Last-Event-ID), before on_connect.
 * @return OK, or the HTTP status that refuses the handshake
 * @remark the handler's thread, with in_connect set
 */
int ws_chansub_attach(ws_session_t *s);

/**
 * Takes @p s out of every channel (the location's and its plugin's) and
 * refuses ws_chansub_add() from then on; after it returns the delivery
 * thread no longer touches @p s.  Idempotent; any thread.
 */
void ws_chansub_detach(ws_session_t *s);

/**
 * Subscribes @p s to channel @p name for its plugin (API v1
 * subscribe()): delivered like the location's channels, live from now
 * on, nothing replayed.  Idempotent.
 * @return APR_SUCCESS; APR_EINVAL (name), APR_ENOTIMPL (no channels in
 *         this child), APR_EOF (the session ended), APR_EMFILE
 *         (WS_CHAN_MAX_PER_CONN channels already), APR_ENOSPC (memory)
 * @remark Any thread, until ws_chansub_detach().
 */
apr_status_t ws_chansub_add(ws_session_t *s, const char *name);

/**
 * Ends a subscription ws_chansub_add() made.
 * @return APR_SUCCESS; APR_NOTFOUND (none of the plugin's), APR_EINVAL,
 *         APR_ENOTIMPL
 * @remark Any thread, until ws_chansub_detach().
 */
apr_status_t ws_chansub_remove(ws_session_t *s, const char *name);

/**
 * A data message from a subscriber's client: published to its channels
 * under WebSocketChannelPublish On, ignored otherwise.
 * @remark the I/O owner's thread
 */
void ws_chansub_client_message(ws_session_t *s, int text,
                               const unsigned char *buf, apr_size_t len);

/**
 * Hands a batch of messages, in log order, to this child's subscribers
 * (queued without blocking, then their owners kicked).
 * @remark the delivery thread
 */
void ws_chansub_deliver(ws_chan_delivery_t *list);

#endif /* WS_CHANSUB_H */
