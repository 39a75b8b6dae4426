/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_queue.c -- the bounded send queue and its accounting.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>

#include "ws_queue.h"

void ws_queue_init(ws_queue_t *q, apr_size_t max)
{
    memset(q, 0, sizeof(*q));
    q->max = max;
}

ws_queue_status_e ws_queue_room(const ws_queue_t *q, apr_size_t len,
                                int is_close, int unbounded)
{
    if (q->close_queued) {
        return WS_QUEUE_CLOSED;
    }
    if (q->bytes == 0 || is_close || unbounded
        || (len <= q->max && q->bytes <= q->max - len)) {
        return WS_QUEUE_OK;
    }
    return WS_QUEUE_FULL;
}

static void append(ws_queue_t *q, ws_queue_msg_t *m, int is_close)
{
    if (q->tail) {
        q->tail->next = m;
    }
    else {
        q->head = m;
    }
    q->tail = m;
    q->bytes += m->len;
    if (is_close) {
        q->close_queued = 1;
    }
}

ws_queue_status_e ws_queue_push(ws_queue_t *q, unsigned int opcode,
                                int is_close, const void *buf,
                                apr_size_t len, int unbounded)
{
    ws_queue_status_e st = ws_queue_room(q, len, is_close, unbounded);
    ws_queue_msg_t *m;

    if (st != WS_QUEUE_OK) {
        return st;
    }
    if (len > (apr_size_t)-1 - sizeof(*m)
        || (m = malloc(sizeof(*m) + len)) == NULL) {
        return WS_QUEUE_NOMEM;
    }
    m->next = NULL;
    m->opcode = opcode;
    m->len = len;
    m->ptr = m->data;
    m->shared = NULL;
    if (len > 0) {
        memcpy(m->data, buf, len);
    }
    append(q, m, is_close);
    return WS_QUEUE_OK;
}

ws_queue_status_e ws_queue_push_shared(ws_queue_t *q, unsigned int opcode,
                                       ws_payload_t *payload, int unbounded)
{
    ws_queue_status_e st = ws_queue_room(q, payload->len, 0, unbounded);
    ws_queue_msg_t *m;

    if (st != WS_QUEUE_OK) {
        return st;
    }
    if ((m = malloc(sizeof(*m))) == NULL) {
        return WS_QUEUE_NOMEM;
    }
    ws_payload_ref(payload);
    m->next = NULL;
    m->opcode = opcode;
    m->len = payload->len;
    m->ptr = payload->data;
    m->shared = payload;
    append(q, m, 0);
    return WS_QUEUE_OK;
}

ws_payload_t *ws_payload_make(apr_size_t len)
{
    ws_payload_t *p;

    if (len > (apr_size_t)-1 - sizeof(*p)
        || (p = malloc(sizeof(*p) + len)) == NULL) {
        return NULL;
    }
    p->refs = 1;
    p->len = len;
    return p;
}

void ws_payload_ref(ws_payload_t *p)
{
    apr_atomic_inc32(&p->refs);
}

void ws_payload_unref(ws_payload_t *p)
{
    if (p != NULL && apr_atomic_dec32(&p->refs) == 0) {
        free(p);
    }
}

ws_queue_msg_t *ws_queue_take(ws_queue_t *q)
{
    ws_queue_msg_t *head = q->head;

    q->head = q->tail = NULL;
    return head;
}

void ws_queue_written(ws_queue_t *q, apr_size_t bytes)
{
    q->bytes = bytes > q->bytes ? 0 : q->bytes - bytes;
}

void ws_queue_free_list(ws_queue_msg_t *m)
{
    while (m != NULL) {
        ws_queue_msg_t *next = m->next;

        ws_payload_unref(m->shared);
        free(m);
        m = next;
    }
}

void ws_queue_clear(ws_queue_t *q)
{
    ws_queue_free_list(q->head);
    q->head = q->tail = NULL;
    q->bytes = 0;
}
