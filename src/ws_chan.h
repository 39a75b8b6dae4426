/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chan.h -- the process glue of pub/sub channels: the shared region
 * (made by the parent before the fork, kept across graceful restarts),
 * the global lock around every call to the channel store, each child's
 * slot and wake-up pipe, and the child's delivery thread.
 */
#ifndef WS_CHAN_H
#define WS_CHAN_H

#include "httpd.h"
#include "http_config.h"

#include "ws_chanstore.h"
#include "ws_queue.h"

/** Default WebSocketChannelMemory: 32 MiB. */
#define WS_CHAN_DEFAULT_MEMORY (32 * 1024 * 1024)

/** Registers the pre_config, post_config and child_init hooks. */
void ws_chan_register_hooks(apr_pool_t *p);

/** A directive uses channels: the region is made at startup. */
void ws_chan_mark_used(void);

/** WebSocketChannelMemory: the size of the region in bytes. */
void ws_chan_set_memory(apr_size_t bytes);

/** Whether channels work in this process (region, lock and slot). */
int ws_chan_enabled(void);

/**
 * Takes the global lock around the store.
 * @return the store, or NULL (channels do not work here; nothing held)
 */
ws_chan_store_t *ws_chan_lock(void);

/** Releases the global lock. */
void ws_chan_unlock(void);

/** This child's slot in the store. */
apr_uint32_t ws_chan_my_slot(void);

/** Bytes of a slot bitmap for ws_chan_publish() / ws_chan_delete(). */
apr_size_t ws_chan_bitmap_size(void);

/**
 * Wakes the delivery threads of the slots set in @p bitmap (non-blocking
 * writes to their pipes; a full pipe is a wake-up pending already).
 * @remark call without the lock
 */
void ws_chan_wake(const unsigned char *bitmap);

/**
 * Whether a refused publish should be logged now: true at most once a
 * second in a process, so that a full memory does not flood the log.
 */
int ws_chan_refusal_due(void);

/** A ws_chan_delivery_t that is no message: the broker's newest id of
 * its channel after a catch-up (ws_chanlisten.c). */
#define WS_CHAN_MARK 0x200

/** A message on its way to this child's subscribers: copied out of the
 * log by the delivery thread, or out of Redis by the listener. */
typedef struct ws_chan_delivery_t {
    struct ws_chan_delivery_t *next;
    ws_chan_id_t id;
    apr_uint64_t log;     /**< its position in the log */
    int type;             /**< WS_CHAN_TEXT, _BINARY or _DELETED */
    const char *name;     /**< NUL-terminated copy */
    apr_size_t name_len;
    const char *data;
    apr_size_t len;
    /** The payload every plain subscriber's queue refers to (data is
     * its bytes), or NULL: each subscriber gets a copy of data. */
    ws_payload_t *plain;
    /** The same with the channel-meta prefix, made by the first such
     * subscriber (delivery thread), or NULL. */
    ws_payload_t *meta;
} ws_chan_delivery_t;

/**
 * Frees a list of messages and drops their payload references (the
 * queues that still refer to a payload keep it alive).
 */
void ws_chan_deliveries_free(ws_chan_delivery_t *list);

/**
 * Where deliveries go in a child: @p init makes the receiver ready
 * (child_init, before any delivery) and @p deliver takes each batch, in
 * log order, without blocking.  Set once, at hook registration.
 */
void ws_chan_set_sink(apr_status_t (*init)(apr_pool_t *pchild),
                      void (*deliver)(ws_chan_delivery_t *list));

/** Hands a batch to the sink (the delivery thread, the listener). */
void ws_chan_deliver(ws_chan_delivery_t *list);


#endif /* WS_CHAN_H */
