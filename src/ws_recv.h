/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_recv.h -- the engine's receiving half (I/O owner only).
 */
#ifndef WS_RECV_H
#define WS_RECV_H

#include "ws_session.h"

/**
 * Processes the input available now, without blocking: frames become
 * messages for on_message, pings are answered, a close is echoed.
 * @return 1 if it stopped after its budget with input possibly left,
 *         0 once the input would block (or the session is done)
 */
int ws_recv_readable(ws_session_t *s);

#endif /* WS_RECV_H */
