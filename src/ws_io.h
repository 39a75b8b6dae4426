/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_io.h -- who does a connection's I/O, and how output goes out:
 * ownership (one thread at a time touches the filters: mod_ssl is not
 * thread-safe), the queue of sends from other threads, and writes that
 * block (the connection's own thread) or never do (a thread serving
 * many connections: what the client does not take stays pending on the
 * connection and is finished by its next owner).
 */
#ifndef WS_IO_H
#define WS_IO_H

#include "ws_session.h"

/**
 * Makes the calling thread the owner of @p s's I/O.
 * @param wait 1: wait while another thread owns it; 0: give up at once
 * @param mode how this owner writes (ws_write_e)
 * @return 1 if the caller now owns the I/O; 0 if not (another thread
 *         does and @p wait is 0, the caller already does, or the
 *         session is over)
 */
int ws_io_acquire(ws_session_t *s, int wait, ws_write_e mode);

/**
 * The owner parks the connection (WS_IO_PARKED).
 * @return 1 if work arrived meanwhile that nobody else could do (queued
 *         sends, a stopping child): the caller should try to take the
 *         I/O back
 */
int ws_io_release(ws_session_t *s);

/** The owner ends the session's I/O for good (WS_IO_OVER). */
void ws_io_end(ws_session_t *s);

/** Whether the calling thread owns @p s's I/O (under the mutex). */
int ws_io_is_owner(ws_session_t *s);

/**
 * Changes how the owner writes (e.g. the handler's thread handing the
 * connection to the MPM keeps it but must not wait any more).
 */
void ws_io_set_mode(ws_session_t *s, ws_write_e mode);

/** Appends one frame to the owner's output brigade (not written yet). */
void ws_io_append(ws_session_t *s, unsigned int opcode,
                  const unsigned char *buf, apr_size_t len);

/**
 * Writes the output brigade: blocking owners wait for the client
 * (bounded by WebSocketSendTimeout), non-blocking ones leave what it does
 * not take pending.  A failed write ends the session (done, CLOSED).
 */
apr_status_t ws_io_pass(ws_session_t *s);

/** ws_io_append() + ws_io_pass() of one frame. */
apr_status_t ws_io_write(ws_session_t *s, unsigned int opcode,
                         const unsigned char *buf, apr_size_t len);

/**
 * Writes what is pending without waiting (non-blocking owners).
 * @return the bytes still pending (0: none)
 */
apr_size_t ws_io_push(ws_session_t *s);

/** Output written by the session and not yet taken by the client. */
apr_size_t ws_io_pending(const ws_session_t *s);

/**
 * Queues a frame sent by a thread that does not own the I/O (or by
 * on_connect), waiting for room up to WebSocketSendTimeout on threads
 * that may, and makes sure the owner (or, for a parked connection, the
 * caller itself) writes it.
 * @return 1 if queued, 0 if refused (closing, no room in time, memory)
 */
int ws_io_enqueue(ws_session_t *s, unsigned int opcode,
                  const unsigned char *buf, apr_size_t len);

/**
 * Queues a frame without ever waiting (a thread serving many
 * connections: channel delivery) and without kicking the owner: the
 * caller calls ws_io_kick() once it has queued what it has.
 * @return WS_QUEUE_OK; WS_QUEUE_FULL (the client has not taken
 *         WebSocketMaxQueuedBytes yet); WS_QUEUE_CLOSED (closing, or a
 *         close is queued); WS_QUEUE_NOMEM
 */
ws_queue_status_e ws_io_offer(ws_session_t *s, unsigned int opcode,
                              const unsigned char *buf, apr_size_t len);

/**
 * As ws_io_offer(), with a reference to a payload shared by many
 * connections instead of a copy.
 */
ws_queue_status_e ws_io_offer_shared(ws_session_t *s, unsigned int opcode,
                                     ws_payload_t *payload);

/**
 * Tells @p s's driver there is work, and does it on the calling thread
 * when the connection is parked (non-blocking writes).  Any thread, no
 * lock held.
 */
void ws_io_kick(ws_session_t *s);

#endif /* WS_IO_H */
