/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanredis.h -- Redis as the broker of channels shared by several
 * servers (WebSocketChannelBroker): publish, delete and describe through
 * Redis, and each child's listener that subscribes the channels it has
 * subscribers for and hands what Redis sends to ws_chansub_deliver().
 */
#ifndef WS_CHANREDIS_H
#define WS_CHANREDIS_H

#include "httpd.h"
#include "http_config.h"

#include "ws_chanstore.h"

/** Default WebSocketChannelBrokerTimeout: 2 seconds. */
/** Channel NAME is the pub/sub channel "ws:NAME" in Redis, and its keys
 * "ws:NAME:meta" and "ws:NAME:hist". */
#define WS_CHANREDIS_PREFIX "ws:"

#define WS_CHANREDIS_DEFAULT_TIMEOUT apr_time_from_sec(2)

/** Registers the pre_config and child_init hooks. */
void ws_chanredis_register_hooks(apr_pool_t *p);

/**
 * WebSocketChannelBroker: "Off", "redis://[user:password@]host[:port][/db]"
 * or "redis+unix:///path[?db=N]".
 * @return NULL, or the error for the administrator (never showing a
 *         password)
 */
const char *ws_chanredis_set_url(apr_pool_t *p, const char *url);

/** WebSocketChannelBrokerPassword (wins over a password in the URL). */
void ws_chanredis_set_password(const char *password);

/** WebSocketChannelBrokerTimeout. */
void ws_chanredis_set_timeout(apr_interval_time_t timeout);

/** Whether channels go through a broker in this server. */
int ws_chanredis_configured(void);

/**
 * Publishes one message to channel @p name through Redis: the next id of
 * the channel, history in the channel's stream, PUBLISH to the servers.
 * @param receivers receives how many child processes (of every server)
 *        were listening to the channel
 * @return APR_SUCCESS (the message is stored); APR_ENOSPC (Redis is out
 *         of memory); anything else: not known to be stored (503)
 * @remark Any thread; waits at most the broker timeout (twice: for the
 *         connection and for the answer).
 */
apr_status_t ws_chanredis_publish(const char *name, int type,
                                  const void *data, apr_size_t len,
                                  ws_chan_limits_t limits, ws_chan_id_t *id,
                                  apr_uint32_t *receivers);

/**
 * Deletes channel @p name in Redis (history dropped, new epoch); every
 * listening child closes its subscribers with 1000 "channel deleted".
 * @param receivers children that were listening
 * @param found 1 if the channel existed
 * @remark Any thread.
 */
apr_status_t ws_chanredis_delete(const char *name, apr_uint32_t *receivers,
                                 int *found);

/**
 * Describes @p name from Redis; subscribers are the children listening.
 * @remark Any thread.
 */
apr_status_t ws_chanredis_info(const char *name, ws_chan_info_t *info);

/**
 * Asks this child's listener to subscribe @p n channels (the first local
 * subscriber of a channel subscribes it in Redis) and waits, at most the
 * broker timeout, until Redis confirmed each.
 * @return APR_SUCCESS when all are subscribed in Redis; otherwise they
 *         will be when Redis can be reached, and caught up then
 * @remark Any thread, holding none of the channel locks.
 */
apr_status_t ws_chanredis_listen(const char *const *names, int n);

/** Undoes one ws_chanredis_listen() of @p name (the last one
 * unsubscribes in Redis). */
void ws_chanredis_unlisten(const char *name);

/**
 * The start of a subscriber: the channel's newest id in Redis and, if
 * @p resume, the retained messages after @p given, as ws_chan_resume()
 * does.  When Redis cannot answer, the listener catches the channel up
 * as soon as it can (messages after the subscriber's last id, or a gap).
 * @param last receives the newest id ({0, 0} if Redis did not answer)
 * @remark Call after ws_chanredis_listen(), so that nothing published
 *         between this read and the first live message goes missing.
 */
apr_status_t ws_chanredis_resume(const char *name, int resume,
                                 ws_chan_id_t given, ws_chan_id_t *last,
                                 ws_chan_id_t *first, int *gap,
                                 ws_chan_msg_fn fn, void *baton);

#endif /* WS_CHANREDIS_H */
