/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_registry.h -- the open sessions of this process, told when the
 * child stops so that each sends 1001 (going away).
 */
#ifndef WS_REGISTRY_H
#define WS_REGISTRY_H

#include "ws_session.h"

/** Registers the child_init / child_stopping hooks. */
void ws_registry_register_hooks(apr_pool_t *p);

/**
 * Adds a session whose driver has started (marks it going away at once
 * when the child is stopping already).  Idempotent.
 */
void ws_registry_add(ws_session_t *s);

/**
 * Takes the session out, before anything it points to goes away.
 * Idempotent; also registered as a cleanup of r->pool, as a safety net.
 */
void ws_registry_remove(ws_session_t *s);

/**
 * This process is stopping: every session is marked going away and its
 * driver told; parked ones are served here (non-blocking writes), after
 * the registry's lock is released.
 */
void ws_registry_stop_all(void);

#endif /* WS_REGISTRY_H */
