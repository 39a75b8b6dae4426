/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanreply.h -- the channel broker's Redis replies turned into
 * deliveries (ws_chan.h) for this child's subscribers: a message of the
 * pub/sub connection, and a channel's retained messages read for a
 * catch-up.  Used by the listener (ws_chanlisten.c); hiredis only.
 */
#ifndef WS_CHANREPLY_H
#define WS_CHANREPLY_H

#include <hiredis/hiredis.h>

#include "ws_chan.h"

/**
 * The delivery for a message of the pub/sub channel "ws:NAME", whose
 * payload is "<epoch>:<seq>:<type>:<data>".
 * @param ch the channel name element of the "message" reply
 * @param p the payload element
 * @return a delivery (free with ws_chan_deliveries_free()), or NULL when
 *         the message is malformed or memory is short (the ids then tell
 *         the subscribers)
 */
ws_chan_delivery_t *ws_chanreply_message(const redisReply *ch,
                                         const redisReply *p);

/**
 * Appends to **tail a delivery for each retained message of channel
 * @p name in @p r (a reply of ws_chanredis_read() with history), then a
 * WS_CHAN_MARK carrying @p last, the channel's newest id.  A delivery
 * memory is short for is left out: the ids tell the subscribers.
 */
void ws_chanreply_history(const char *name, const redisReply *r,
                          ws_chan_id_t last, ws_chan_delivery_t ***tail);

#endif /* WS_CHANREPLY_H */
