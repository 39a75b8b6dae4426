/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_async.h -- the asynchronous driver: between events an open WebSocket
 * is parked in the MPM (CONN_STATE_ASYNC_WAITIO) and holds no thread.
 */
#ifndef WS_ASYNC_H
#define WS_ASYNC_H

#include "httpd.h"

#include "ws_driver.h"

extern const ws_driver_t ws_async_driver;

/** Registers the process_connection hook, the child's loop thread and
 * the hand-off filters. */
void ws_async_register_hooks(apr_pool_t *p);

/**
 * Whether @p r's WebSocket can use the asynchronous driver: the location
 * does not ask for Blocking, the MPM can wait for I/O on our behalf
 * (event MPM, httpd 2.4.63 or later), the child's loop runs, and the
 * connection is a primary HTTP/1.x one (HTTP/2 streams run on
 * mod_http2's workers).
 */
int ws_async_possible(request_rec *r, int driver);

#endif /* WS_ASYNC_H */
