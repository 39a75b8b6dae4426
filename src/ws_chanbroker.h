/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanbroker.h -- the channel broker's configuration (its setters
 * and what it tells are declared in ws_chanredis.h and, for the
 * connection, ws_chanlisten.h).
 */
#ifndef WS_CHANBROKER_H
#define WS_CHANBROKER_H

#include "apr_pools.h"

/** Registers the pre_config hook that resets the configuration. */
void ws_chanbroker_register_hooks(apr_pool_t *p);

#endif /* WS_CHANBROKER_H */
