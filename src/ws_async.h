/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_async.h -- the asynchronous driver: between events an open WebSocket
 * is parked in the MPM (CONN_STATE_ASYNC_WAITIO) and holds no thread.
 */
#ifndef WS_ASYNC_H
#define WS_ASYNC_H

#include "httpd.h"

struct ws_session_t;

/** Registers the process_connection hook and the child's timer lock. */
void ws_async_register_hooks(apr_pool_t *p);

/**
 * Whether @p r's WebSocket can use the asynchronous driver: the location
 * does not ask for Blocking, the MPM can wait for I/O on our behalf
 * (event MPM, httpd 2.4.63 or later) and the connection is a primary
 * HTTP/1.x one (HTTP/2 streams run on mod_http2's workers).
 */
int ws_async_possible(request_rec *r, int driver);

/**
 * Hands the session, right after the 101, to the asynchronous driver.
 * Called by the handler, which owns the I/O.
 * @return 1 if the connection is now driven asynchronously (the handler
 *         returns; the MPM brings it back to our process_connection
 *         hook), 0 if it is already over (the handler finishes it)
 */
int ws_async_start(struct ws_session_t *s);

/**
 * Does queued and timed work for a parked connection on the calling
 * thread (a plugin thread in send(), a timed callback, the child's
 * signal thread), which must own the I/O; gives the I/O up at the end.
 */
void ws_async_service(struct ws_session_t *s);

#endif /* WS_ASYNC_H */
