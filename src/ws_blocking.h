/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_blocking.h -- the blocking driver: the handler's thread runs the
 * session until it is over, polling the connection and a wake-up.  Works
 * on every MPM and for HTTP/2 streams.
 */
#ifndef WS_BLOCKING_H
#define WS_BLOCKING_H

#include "ws_driver.h"

extern const ws_driver_t ws_blocking_driver;

#endif /* WS_BLOCKING_H */
