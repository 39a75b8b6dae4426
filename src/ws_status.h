/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_status.h -- WebSocket counts shared by all children, shown by
 * mod_status (server-status).
 */
#ifndef WS_STATUS_H
#define WS_STATUS_H

#include "apr_pools.h"

/** What a session is, as counted on server-status. */
typedef enum {
    WS_STATUS_NONE = 0,
    WS_STATUS_OPEN,    /**< data phase */
    WS_STATUS_CLOSING  /**< closing handshake under way */
} ws_status_e;

/** Channel events of this child, summed on server-status. */
typedef enum {
    WS_STATUS_DELIVERED = 0, /**< messages queued live to a subscriber */
    WS_STATUS_DROPPED,       /**< skipped for a slow subscriber (drop) */
    WS_STATUS_SLOW_CLOSED,   /**< slow subscribers closed with 1008 */
    WS_STATUS_BROKER_PUBLISHED, /**< messages this server stored in Redis */
    WS_STATUS_BROKER_FAILED,    /**< publishes Redis did not take (503,
                                     507) */
    WS_STATUS_NCOUNTS
} ws_status_count_e;

/** Registers the shared memory, the slot of each child, the status hook. */
void ws_status_register_hooks(apr_pool_t *p);

/**
 * Moves one connection of this child from @p from to @p to (either may
 * be WS_STATUS_NONE); counts a newly open one as accepted too.
 */
void ws_status_change(ws_status_e from, ws_status_e to);

/**
 * Adds @p n to this child's count of @p what.  Counts of children that
 * exit are kept, so the sums only grow until the next restart.
 */
void ws_status_count(ws_status_count_e what, apr_uint32_t n);

/**
 * The sums of every count over all children, those gone included.
 * @param counts WS_STATUS_NCOUNTS values
 */
void ws_status_counts(apr_uint64_t *counts);

#endif /* WS_STATUS_H */
