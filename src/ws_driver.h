/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_driver.h -- what drives a session: the blocking driver (a thread
 * per connection, every MPM, HTTP/2) and the asynchronous one (parked in
 * the event MPM between events).  The engine (ws_engine.h) knows
 * neither; they meet through this table.
 */
#ifndef WS_DRIVER_H
#define WS_DRIVER_H

struct ws_session_t;

typedef struct ws_driver_t {
    const char *name;

    /**
     * Takes the session over right after the 101, on the handler's
     * thread, which owns the I/O.
     * @return 1 if the session now lives on without the handler (the
     *         handler returns at once), 0 if it is over (the handler
     *         finishes it)
     */
    int (*start)(struct ws_session_t *s);

    /**
     * Tells whoever owns the connection's I/O now that there is work
     * (queued sends, a stopping child).  Any thread; never writes,
     * never blocks; called with or without the registry's lock, never
     * with the session's.
     */
    void (*wake)(struct ws_session_t *s);

    /**
     * Does the queued and timed work of a connection nobody else serves
     * (parked), with non-blocking writes, then gives the I/O up.  The
     * caller owns the I/O (ws_io_acquire).  NULL for a driver whose
     * connections always have a thread of their own.
     */
    void (*service)(struct ws_session_t *s);
} ws_driver_t;

#endif /* WS_DRIVER_H */
