/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_heap.h -- a binary min-heap of deadlines, for the thread that keeps
 * the timers of parked connections.
 */
#ifndef WS_HEAP_H
#define WS_HEAP_H

#include <apr.h>
#include <apr_time.h>

typedef struct {
    apr_time_t when;
    void *item;
} ws_heap_entry_t;

typedef struct {
    ws_heap_entry_t *v;
    apr_size_t len, cap;
} ws_heap_t;

/** An empty heap. */
#define WS_HEAP_INIT { NULL, 0, 0 }

/**
 * Adds @p item, due at @p when.
 * @return 1, or 0 when memory ran out (the heap is unchanged)
 * @remark not thread-safe: the caller locks
 */
int ws_heap_push(ws_heap_t *h, apr_time_t when, void *item);

/** The earliest entry, or NULL when the heap is empty. */
const ws_heap_entry_t *ws_heap_peek(const ws_heap_t *h);

/**
 * Removes and returns the earliest entry.
 * @remark the heap must not be empty
 */
ws_heap_entry_t ws_heap_pop(ws_heap_t *h);

/** Frees the heap's memory (not the items). */
void ws_heap_free(ws_heap_t *h);

#endif /* WS_HEAP_H */
