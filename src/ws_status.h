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

/** Registers the shared memory, the slot of each child, the status hook. */
void ws_status_register_hooks(apr_pool_t *p);

/**
 * Moves one connection of this child from @p from to @p to (either may
 * be WS_STATUS_NONE); counts a newly open one as accepted too.
 */
void ws_status_change(ws_status_e from, ws_status_e to);

#endif /* WS_STATUS_H */
