/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanlisten.h -- between the parts of the channel broker: its
 * configuration and connecting (ws_chanbroker.c), the command
 * connection (ws_chanredis.c) and each child's listener
 * (ws_chanlisten.c).  Built only with hiredis.
 */
#ifndef WS_CHANLISTEN_H
#define WS_CHANLISTEN_H

#include <hiredis/hiredis.h>

#include "httpd.h"

#include "ws_chanstore.h"

/* -- ws_chanbroker.c -- */

/** The broker's URL without credentials, for the log. */
const char *ws_chanredis_name(void);

/** WebSocketChannelBrokerTimeout. */
apr_interval_time_t ws_chanredis_timeout(void);

/**
 * Connects to the broker, authenticates and selects the database, each
 * step within the timeout (also set on the socket).
 * @param err receives why not (naming no credential)
 * @return the connection, or NULL
 */
redisContext *ws_chanredis_connect(char *err, apr_size_t n);

/* -- ws_chanredis.c -- */

/**
 * Reads a channel on the command connection: its epoch and newest seq
 * in *last, then per retained message (within its age limit) its seq,
 * type and, if @p entries, data (else 0 and "").
 * @param create start the channel (new epoch) if Redis has none
 * @return the reply (elements: epoch, seq, then triples), or NULL with
 *         *rv
 * @remark Any thread; waits at most the timeout for the connection and
 *         for the answer.
 */
redisReply *ws_chanredis_read(const char *name, int create, int entries,
                              ws_chan_id_t *last, apr_status_t *rv);

/** An integer or numeric string of a reply. */
apr_uint64_t ws_chanredis_u64(const redisReply *r);

/** What the command side asks of the listener: it knows the listener
 * only through these, handed over once at hook registration. */
typedef struct {
    /** Starts this child's listener thread (child_init); its stop is
     * registered as a pre-cleanup of @p pchild. */
    apr_status_t (*start)(apr_pool_t *pchild, server_rec *s);
    /** Wakes the listener (non-blocking; any thread). */
    void (*wake)(void);
    /** Catches channel @p name up before more of it is delivered live
     * (@p wake: now, else within a quarter of a second). */
    void (*catchup)(const char *name, int wake);
} ws_chanredis_listener_t;

/** Hands the listener's entry points to the command side. */
void ws_chanredis_set_listener(const ws_chanredis_listener_t *l);

/* -- ws_chanlisten.c -- */

/** Makes the listener known to the command side (register_hooks). */
void ws_chanlisten_register(void);

#endif /* WS_CHANLISTEN_H */
