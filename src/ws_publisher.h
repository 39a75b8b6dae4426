/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_publisher.h -- the websocket-publisher handler (HTTP publishing to
 * channels).
 */
#ifndef WS_PUBLISHER_H
#define WS_PUBLISHER_H

#include "httpd.h"

/** Registers the handler. */
void ws_publisher_register_hooks(apr_pool_t *p);

#endif /* WS_PUBLISHER_H */
