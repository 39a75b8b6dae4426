/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_heap.c -- a binary min-heap of deadlines.
 */
#include <stdlib.h>

#include "ws_heap.h"

static void swap(ws_heap_t *h, apr_size_t a, apr_size_t b)
{
    ws_heap_entry_t tmp = h->v[a];

    h->v[a] = h->v[b];
    h->v[b] = tmp;
}

int ws_heap_push(ws_heap_t *h, apr_time_t when, void *item)
{
    apr_size_t i;

    if (h->len == h->cap) {
        apr_size_t cap = h->cap ? 2 * h->cap : 64;
        ws_heap_entry_t *v = realloc(h->v, cap * sizeof(*v));

        if (v == NULL) {
            return 0;
        }
        h->v = v;
        h->cap = cap;
    }
    i = h->len++;
    h->v[i].when = when;
    h->v[i].item = item;
    while (i > 0 && h->v[(i - 1) / 2].when > h->v[i].when) {
        swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return 1;
}

const ws_heap_entry_t *ws_heap_peek(const ws_heap_t *h)
{
    return h->len > 0 ? &h->v[0] : NULL;
}

ws_heap_entry_t ws_heap_pop(ws_heap_t *h)
{
    ws_heap_entry_t top = h->v[0];
    apr_size_t i = 0;

    h->v[0] = h->v[--h->len];
    for (;;) {
        apr_size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < h->len && h->v[l].when < h->v[m].when) {
            m = l;
        }
        if (r < h->len && h->v[r].when < h->v[m].when) {
            m = r;
        }
        if (m == i) {
            break;
        }
        swap(h, i, m);
        i = m;
    }
    return top;
}

void ws_heap_free(ws_heap_t *h)
{
    free(h->v);
    h->v = NULL;
    h->len = h->cap = 0;
}
