/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_loop.h -- one thread per child that serves parked connections
 * (asynchronous driver) when nothing else does: their deadlines (pings,
 * pong, close and idle timeouts), output that a client did not take
 * at once (it waits for the socket to become writable), a peer socket
 * served next to the connection (ws_peer_t: the bridge's backend), and
 * input that
 * no worker takes in time (every worker held by slow HTTP clients).  It never
 * blocks on one connection: it takes a connection's I/O only when it is
 * free, and writes without waiting.
 */
#ifndef WS_LOOP_H
#define WS_LOOP_H

#include "apr_network_io.h"

#include "ws_session.h"

/** A session's link to the loop; outlives the session until the loop
 * lets go of it. */
typedef struct ws_loop_ref_t ws_loop_ref_t;

/**
 * Starts the child's loop thread (child_init).
 * @param service called on the loop thread for a session whose I/O it
 *        has taken (non-blocking) for its deadlines or pending output;
 *        it must give the I/O up
 * @param rescue the same, for a parked session whose input no worker
 *        took for a whole rescue tick: it reads too
 * @return APR_SUCCESS, or why there is no loop (then no asynchronous
 *         driver in this child)
 * @remark stopped and joined by a pre-cleanup of @p pchild
 */
apr_status_t ws_loop_start(apr_pool_t *pchild, server_rec *srv,
                           void (*service)(ws_session_t *s),
                           void (*rescue)(ws_session_t *s));

/** Whether the loop runs in this child. */
int ws_loop_running(void);

/** A link for @p s, or NULL without memory. */
ws_loop_ref_t *ws_loop_ref(ws_session_t *s);

/**
 * Asks for service at @p due unless a no later one is pending.
 * @remark the caller owns the session's I/O
 */
void ws_loop_schedule(ws_loop_ref_t *ref, apr_time_t due);

/**
 * Asks for service once @p sock is writable (output is pending).
 * @remark the caller owns the session's I/O
 */
void ws_loop_watch_write(ws_loop_ref_t *ref, apr_socket_t *sock);

/**
 * Asks for service once @p sock, the session's peer socket (ws_peer_t,
 * e.g. the bridge's backend), is ready for @p events (APR_POLLIN,
 * APR_POLLOUT); once, like ws_loop_watch_write(): the service asks
 * again for what it still wants.  A new call replaces the events (0:
 * none).
 * @remark the caller owns the session's I/O
 */
void ws_loop_watch_peer(ws_loop_ref_t *ref, apr_socket_t *sock,
                        apr_int16_t events);

/**
 * Looks at @p sock every rescue tick while the session lives: input that
 * no worker takes is served by the loop.
 * @remark the caller owns the session's I/O
 */
void ws_loop_watch_read(ws_loop_ref_t *ref, apr_socket_t *sock);

/**
 * The session is over: the loop forgets it (and frees the link once
 * nothing of its own refers to it).
 * @remark the caller owns the session's I/O
 */
void ws_loop_unref(ws_loop_ref_t *ref);

#endif /* WS_LOOP_H */
