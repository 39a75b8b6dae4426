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

#endif /* WS_CHAN_H */
