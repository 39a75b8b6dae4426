/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_queue.h -- the bounded queue of messages that threads other than a
 * connection's I/O owner send (WebSocketMaxQueuedBytes), and its
 * accounting: bytes stay counted until they are written.
 */
#ifndef WS_QUEUE_H
#define WS_QUEUE_H

#include <apr.h>

/** A payload shared by the queues of many connections (a channel
 * message for every subscriber): built once, freed by its last user. */
typedef struct {
    volatile apr_uint32_t refs;
    apr_size_t len;
    unsigned char data[1]; /* len bytes follow */
} ws_payload_t;

/** One queued message: a frame's opcode and payload. */
typedef struct ws_queue_msg_t {
    struct ws_queue_msg_t *next;
    unsigned int opcode;
    apr_size_t len;
    const unsigned char *ptr; /**< the payload: data or shared->data */
    ws_payload_t *shared;     /**< a reference held, or NULL */
    unsigned char data[1];    /* len bytes follow when not shared */
} ws_queue_msg_t;

typedef struct {
    ws_queue_msg_t *head, *tail;
    apr_size_t bytes;      /**< queued or taken, and not yet written */
    apr_size_t max;        /**< WebSocketMaxQueuedBytes */
    int close_queued;      /**< a close frame is queued: refuse more */
} ws_queue_t;

typedef enum {
    WS_QUEUE_OK,
    WS_QUEUE_FULL,         /**< no room now: wait or give up */
    WS_QUEUE_CLOSED,       /**< a close is queued: nothing after it */
    WS_QUEUE_NOMEM
} ws_queue_status_e;

/** An empty queue bounded by @p max bytes. */
void ws_queue_init(ws_queue_t *q, apr_size_t max);

/**
 * Whether a message of @p len bytes may be queued now.  A single message
 * larger than the bound still goes when nothing else is counted, a close
 * is never refused for room, and @p unbounded (on_connect is running:
 * nobody drains the queue yet) lifts the bound.
 */
ws_queue_status_e ws_queue_room(const ws_queue_t *q, apr_size_t len,
                                int is_close, int unbounded);

/**
 * Queues a copy of @p buf when ws_queue_room() allows it.
 * @remark not thread-safe: the caller locks
 */
ws_queue_status_e ws_queue_push(ws_queue_t *q, unsigned int opcode,
                                int is_close, const void *buf,
                                apr_size_t len, int unbounded);

/**
 * Queues a reference to @p payload (no copy) when ws_queue_room()
 * allows it; the reference is dropped when the message is freed.
 * @remark not thread-safe: the caller locks (the payload's count is
 *         atomic: payloads may be shared by queues under other locks)
 */
ws_queue_status_e ws_queue_push_shared(ws_queue_t *q, unsigned int opcode,
                                       ws_payload_t *payload,
                                       int unbounded);

/**
 * A new payload of @p len bytes (uninitialised) with one reference.
 * @return NULL when out of memory
 */
ws_payload_t *ws_payload_make(apr_size_t len);

/** Takes one more reference to @p p. */
void ws_payload_ref(ws_payload_t *p);

/** Drops one reference; the last one frees @p p.  NULL is ignored. */
void ws_payload_unref(ws_payload_t *p);

/**
 * Takes every queued message, oldest first; their bytes stay counted
 * until ws_queue_written() (so senders wait while they are written).
 * @return the list (free it with ws_queue_free_list), or NULL
 */
ws_queue_msg_t *ws_queue_take(ws_queue_t *q);

/** @p bytes of taken messages were written (or dropped). */
void ws_queue_written(ws_queue_t *q, apr_size_t bytes);

/** Drops everything queued; nothing stays counted. */
void ws_queue_clear(ws_queue_t *q);

/** Frees a list returned by ws_queue_take(). */
void ws_queue_free_list(ws_queue_msg_t *m);

#endif /* WS_QUEUE_H */
