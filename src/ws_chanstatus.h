/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanstatus.h -- the channels on server-status.
 */
#ifndef WS_CHANSTATUS_H
#define WS_CHANSTATUS_H

#include "apr_pools.h"

/** Registers the status hook that shows the channels. */
void ws_chanstatus_register_hooks(apr_pool_t *p);

#endif /* WS_CHANSTATUS_H */
