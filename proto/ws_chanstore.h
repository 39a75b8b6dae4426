/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanstore.h -- the storage of pub/sub channels in one memory region
 * shared by all children: channels, history, subscriber counts per child
 * slot, and the log of recent publishes that delivery threads follow.
 *
 * Locking: the store does no locking of its own.  The caller holds one
 * lock (a global mutex, across processes) around EVERY call below, from
 * init/attach to the last read.  No call blocks, sleeps or does I/O; the
 * longest are ws_chan_trim() and ws_chan_slot_reset(), which walk every
 * channel, and a publish that has to reclaim memory.
 *
 * Lifetime of what is read: messages handed out (ws_chan_msg_t) point
 * into the region.  They stay valid while the lock is held and no other
 * call is made; copy the bytes out before releasing the lock.
 *
 * Everything in the region is addressed by offsets from its start, so
 * the region may be mapped at different addresses in different
 * processes; the ws_chan_store_t pointer is the region's address in the
 * calling process.
 */
#ifndef WS_CHANSTORE_H
#define WS_CHANSTORE_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_time.h>

/** Channel names are byte strings of 1 to this many bytes. */
#define WS_CHAN_NAME_MAX 255

/** Channels one connection may subscribe to (enforced by the caller). */
#define WS_CHAN_MAX_PER_CONN 255

/** Smallest region ws_chan_store_init() accepts. */
#define WS_CHAN_STORE_MIN_SIZE 16384

/** Largest number of child slots. */
#define WS_CHAN_SLOTS_MAX 1048576

/** Message types: the WebSocket opcodes of RFC 6455 section 5.2. */
#define WS_CHAN_TEXT 0x1
#define WS_CHAN_BINARY 0x2
/** Log entries only: the channel was deleted; close its subscribers. */
#define WS_CHAN_DELETED 0x100

/** Bytes of the slot bitmap that ws_chan_publish() fills. */
#define WS_CHAN_BITMAP_BYTES(nslots) (((apr_size_t)(nslots) + 7) / 8)
/** Whether @p slot is set in a slot bitmap. */
#define WS_CHAN_SLOT_ISSET(map, slot) \
    (((map)[(slot) / 8] >> ((slot) % 8)) & 1)

/** A message id, written "<epoch>:<seq>".  Within an epoch the seq of a
 * channel's messages counts up by 1 from 1; a new epoch means its
 * history was lost.  Epochs never repeat for a name in one region. */
typedef struct {
    apr_uint64_t epoch;
    apr_uint64_t seq;
} ws_chan_id_t;

/** History kept per channel (WebSocketChannelHistory), as given to each
 * publish.  messages 0: no history; seconds 0: no age limit. */
typedef struct {
    apr_uint32_t messages;
    apr_uint32_t seconds;
} ws_chan_limits_t;

/** A message as read from history or from the log: a view into the
 * region, valid while the lock is held and no other call is made. */
typedef struct {
    ws_chan_id_t id;  /**< for WS_CHAN_DELETED: the new epoch, seq 0 */
    apr_uint64_t log; /**< its position in the log (global sequence) */
    apr_time_t time;  /**< when it was published */
    int type;         /**< WS_CHAN_TEXT, WS_CHAN_BINARY, WS_CHAN_DELETED */
    const char *data;
    apr_size_t len;
    const char *name; /**< the channel's name (not NUL-terminated) */
    apr_size_t name_len;
} ws_chan_msg_t;

/** What a publish did. */
typedef struct {
    ws_chan_id_t id;          /**< the id given to the message */
    apr_uint64_t log;         /**< its position in the log */
    apr_uint32_t subscribers; /**< subscribers (all slots) at publish time */
} ws_chan_pub_t;

/** One channel, for status pages and tests. */
typedef struct {
    ws_chan_id_t last;        /**< newest id given (seq 0: none yet) */
    apr_uint64_t first_seq;   /**< oldest retained (last.seq + 1: none) */
    apr_uint32_t history;     /**< messages retained */
    apr_uint32_t subscribers; /**< all slots */
} ws_chan_info_t;

/** Figures for server-status. */
typedef struct {
    apr_uint32_t channels;      /**< channels in the region */
    apr_uint64_t subscribers;   /**< subscriptions, all channels and slots */
    apr_uint64_t published;     /**< messages published since formatting */
    apr_uint64_t failed;        /**< publishes refused for lack of memory */
    apr_uint64_t evicted;       /**< channels evicted for memory */
    apr_uint64_t history_msgs;  /**< messages retained in histories */
    apr_uint64_t history_bytes; /**< their payload bytes */
    apr_size_t bytes_in_use;    /**< region bytes in use, tables included */
    apr_size_t bytes_total;     /**< the region's size */
    apr_uint32_t log_size;      /**< entries the log holds */
    apr_uint64_t log_head;      /**< position of the next publish */
} ws_chan_stats_t;

/** The store: the region as mapped in this process. */
typedef struct ws_chan_store_t ws_chan_store_t;

/** Called by ws_chan_resume() for each message to replay, in order;
 * anything but APR_SUCCESS stops the replay and is returned. */
typedef apr_status_t (*ws_chan_msg_fn)(void *baton, const ws_chan_msg_t *m);

/**
 * Formats @p region of @p size bytes as an empty store for @p nslots
 * child slots (the MPM's server limit).  Epochs are seeded from @p now.
 * @param st receives the store (the region's address)
 * @return APR_EINVAL if @p region is not 8-byte aligned, @p size is below
 *         WS_CHAN_STORE_MIN_SIZE or @p nslots is 0 or above
 *         WS_CHAN_SLOTS_MAX
 * @remark Call with the lock held, or before any other process maps the
 *         region.  The table and log sizes grow with @p size.
 */
apr_status_t ws_chan_store_init(ws_chan_store_t **st, void *region,
                                apr_size_t size, apr_uint32_t nslots,
                                apr_time_t now);

/**
 * Takes over a region formatted earlier (kept across a graceful
 * restart): when its magic, version, size and slot count match and its
 * allocator is consistent, channels, history, ids and subscriber counts
 * are kept; otherwise the region is formatted anew and every channel
 * will get a new epoch (never one given before in this region).
 * @param kept receives 1 if the contents were kept, 0 if reformatted
 * @return as ws_chan_store_init()
 * @remark Call with the lock held.  Subscriber counts of slots whose
 *         children are gone must be cleared with ws_chan_slot_reset().
 */
apr_status_t ws_chan_store_attach(ws_chan_store_t **st, void *region,
                                  apr_size_t size, apr_uint32_t nslots,
                                  apr_time_t now, int *kept);

/**
 * Adds one subscriber of child slot @p slot to channel @p name, creating
 * the channel (with a new epoch) if needed.
 * @param last receives the channel's newest id (seq 0: none yet), so
 *        that a subscriber without a last id of its own starts there
 * @return APR_EINVAL (name length not 1..255, slot out of range),
 *         APR_ENOSPC (no memory even after eviction)
 * @remark Lock held.  At most WS_CHAN_MAX_PER_CONN per connection is
 *         the caller's rule.
 */
apr_status_t ws_chan_subscribe(ws_chan_store_t *st, const char *name,
                               apr_size_t len, apr_uint32_t slot,
                               ws_chan_id_t *last);

/**
 * Removes one subscriber of slot @p slot from channel @p name; a
 * channel left with no subscribers and nothing retained is freed.
 * @return APR_NOTFOUND if that slot has no subscriber there; APR_EINVAL
 * @remark Lock held.
 */
apr_status_t ws_chan_unsubscribe(ws_chan_store_t *st, const char *name,
                                 apr_size_t len, apr_uint32_t slot);

/**
 * Zeroes every subscriber count of @p slot (a child that died) and frees
 * the channels this leaves empty.
 * @param removed receives the subscriptions removed (may be NULL)
 * @return APR_EINVAL if @p slot is out of range
 * @remark Lock held; walks every channel.
 */
apr_status_t ws_chan_slot_reset(ws_chan_store_t *st, apr_uint32_t slot,
                                apr_uint64_t *removed);

/**
 * Appends a message to channel @p name (created if needed) and to the
 * log, then trims the channel's history to @p limits.  When memory runs
 * out, room is made in this order: channels without subscribers are
 * evicted (history dropped, new epoch), least recently published first,
 * those whose retained messages the log does not hold as well (evicting
 * the others would free nothing yet); the oldest log entries are dropped
 * (readers behind get a gap); the
 * oldest messages of the histories of channels with subscribers are
 * dropped, least recently published channel first (ids and epochs stay:
 * their subscribers got those messages live).
 * @param type WS_CHAN_TEXT or WS_CHAN_BINARY
 * @param pub receives the id, log position and subscriber count
 * @param slots if not NULL, WS_CHAN_BITMAP_BYTES(nslots) bytes that
 *        receive a bit per slot with subscribers (the children to wake)
 * @return APR_EINVAL (name, type), APR_ENOSPC (the message cannot fit:
 *         answer 507; the store is unchanged but for what was reclaimed)
 * @remark Lock held.  @p data is copied.
 */
apr_status_t ws_chan_publish(ws_chan_store_t *st, const char *name,
                             apr_size_t len, int type, const void *data,
                             apr_size_t dlen, ws_chan_limits_t limits,
                             apr_time_t now, ws_chan_pub_t *pub,
                             unsigned char *slots);

/**
 * Deletes channel @p name's history and gives it a new epoch (seq starts
 * again at 1); logs a WS_CHAN_DELETED entry so that every child closes
 * its subscribers of that channel.
 * @param now the time of the log entry
 * @param subscribers receives the subscribers at that time (all slots)
 * @param slots as for ws_chan_publish()
 * @return APR_NOTFOUND if there is no such channel; APR_EINVAL;
 *         APR_ENOSPC if the log entry cannot be allocated (history is
 *         dropped and the epoch changed all the same)
 * @remark Lock held.
 */
apr_status_t ws_chan_delete(ws_chan_store_t *st, const char *name,
                            apr_size_t len, apr_time_t now,
                            apr_uint32_t *subscribers, unsigned char *slots);

/**
 * Drops every message older than its channel's age limit (the seconds of
 * its last publish) and frees channels left empty.
 * @return the messages dropped
 * @remark Lock held; walks every channel.  Call it now and then (e.g.
 *         once a second from one child).
 */
apr_uint64_t ws_chan_trim(ws_chan_store_t *st, apr_time_t now);

/**
 * Replays what a subscriber missed after @p last: calls @p fn for each
 * retained message after it, in order.  Without a gap these are exactly
 * the messages after @p last.  A gap (*gap = 1) is when @p last is of
 * another epoch, older than the oldest retained, or newer than the
 * newest: then every retained message is replayed.  @p last equal to the
 * newest id replays nothing, without a gap.
 * @param first receives the id of the first message the subscriber will
 *        get (replayed or, if none is, the next one published)
 * @return APR_NOTFOUND if there is no such channel (subscribe first);
 *         APR_EINVAL; what @p fn returned
 * @remark Lock held, also while @p fn runs: @p fn must copy, not block,
 *         and not call the store.
 */
apr_status_t ws_chan_resume(const ws_chan_store_t *st, const char *name,
                            apr_size_t len, ws_chan_id_t last,
                            ws_chan_id_t *first, int *gap, ws_chan_msg_fn fn,
                            void *baton);

/**
 * The log position the next publish will take: where a new reader
 * starts.
 * @remark Lock held.
 */
apr_uint64_t ws_chan_log_head(const ws_chan_store_t *st);

/**
 * Reads the log entry at *cursor and advances the cursor.
 * @return APR_SUCCESS (entry in *m); APR_EAGAIN (nothing new);
 *         APR_INCOMPLETE: a gap -- entries before the oldest one kept
 *         were lost: *lost says how many, the cursor moved to the oldest
 *         entry kept; a cursor beyond the head (which only a region
 *         formatted anew explains) moves to the head, *lost 0
 * @remark Lock held.  *m is a view into the region: copy it before
 *         releasing the lock.  An entry keeps its message alive even if
 *         history dropped it, until the log overwrites the entry.
 */
apr_status_t ws_chan_log_read(const ws_chan_store_t *st,
                              apr_uint64_t *cursor, ws_chan_msg_t *m,
                              apr_uint64_t *lost);

/**
 * Describes channel @p name.
 * @return APR_NOTFOUND if there is no such channel; APR_EINVAL
 * @remark Lock held.
 */
apr_status_t ws_chan_info(const ws_chan_store_t *st, const char *name,
                          apr_size_t len, ws_chan_info_t *info);

/**
 * Fills @p stats.
 * @remark Lock held.
 */
void ws_chan_stats(const ws_chan_store_t *st, ws_chan_stats_t *stats);

/**
 * Verifies the region's structures (allocator, channels, history, log
 * references, counters).
 * @return APR_SUCCESS or APR_EGENERAL
 * @remark Lock held; walks everything.  For tests and debugging.
 */
apr_status_t ws_chan_store_check(const ws_chan_store_t *st);

#endif /* WS_CHANSTORE_H */
