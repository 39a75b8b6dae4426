/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_queue.c -- Check unit tests of proto/ws_queue.c, the accounting
 * behind WebSocketMaxQueuedBytes: what a plugin thread may queue, when it
 * must wait, and that bytes stay counted until they are written; and
 * payloads shared by many queues (a channel message for every
 * subscriber), freed by their last user.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ws_test.h"
#include "ws_queue.h"

#define OP_TEXT 1
#define OP_CLOSE 8

/* Admission, one row per rule: queued bytes before, the message, and
 * whether it may go. */
static const struct {
    const char *what;
    apr_size_t max, queued, len;
    int is_close, unbounded;
    ws_queue_status_e want;
} room_rows[] = {
    {"empty queue takes anything", 100, 0, 1000, 0, 0, WS_QUEUE_OK},
    {"fits exactly", 100, 40, 60, 0, 0, WS_QUEUE_OK},
    {"one byte over", 100, 40, 61, 0, 0, WS_QUEUE_FULL},
    {"full queue, empty message", 100, 100, 0, 0, 0, WS_QUEUE_OK},
    {"over the bound already", 100, 150, 0, 0, 0, WS_QUEUE_FULL},
    {"a close is never refused", 100, 100, 2, 1, 0, WS_QUEUE_OK},
    {"on_connect lifts the bound", 100, 100, 50, 0, 1, WS_QUEUE_OK},
    {"len larger than max", 100, 1, 200, 0, 0, WS_QUEUE_FULL},
    {"no wrap-around", 100, 1, (apr_size_t)-1, 0, 0, WS_QUEUE_FULL},
};

START_TEST(test_room)
{
    ws_queue_t q;

    ws_queue_init(&q, room_rows[_i].max);
    q.bytes = room_rows[_i].queued;
    ck_assert_msg(ws_queue_room(&q, room_rows[_i].len, room_rows[_i].is_close,
                                room_rows[_i].unbounded) == room_rows[_i].want,
                  "%s", room_rows[_i].what);
}
END_TEST

START_TEST(test_fifo_and_accounting)
{
    ws_queue_t q;
    ws_queue_msg_t *m, *list;
    char buf[64];
    int i;

    ws_queue_init(&q, 1000);
    for (i = 0; i < 10; i++) {
        memset(buf, 'a' + i, sizeof(buf));
        ck_assert_int_eq(ws_queue_push(&q, OP_TEXT, 0, buf, 10 + i, 0),
                         WS_QUEUE_OK);
    }
    ck_assert_uint_eq(q.bytes, 10 * 10 + 45);
    list = ws_queue_take(&q);
    ck_assert_ptr_null(q.head);
    /* taken, not written: still counted, so a sender still waits */
    ck_assert_uint_eq(q.bytes, 145);
    ck_assert_int_eq(ws_queue_room(&q, 900, 0, 0), WS_QUEUE_FULL);
    for (m = list, i = 0; m != NULL; m = m->next, i++) {
        ck_assert_uint_eq(m->len, 10 + i);
        ck_assert_uint_eq(m->opcode, OP_TEXT);
        ck_assert_int_eq(m->ptr[0], 'a' + i);
        ck_assert_int_eq(m->ptr[m->len - 1], 'a' + i);
    }
    ck_assert_int_eq(i, 10);
    ws_queue_written(&q, 100);
    ck_assert_uint_eq(q.bytes, 45);
    ws_queue_written(&q, 1000); /* never below zero */
    ck_assert_uint_eq(q.bytes, 0);
    ck_assert_int_eq(ws_queue_room(&q, 900, 0, 0), WS_QUEUE_OK);
    ws_queue_free_list(list);
}
END_TEST

/* One payload in three queues: no copy, counted in each, alive until
 * the last list that refers to it is freed (ASan checks the frees). */
START_TEST(test_shared_payload)
{
    ws_queue_t q[3];
    ws_queue_msg_t *lists[3];
    ws_payload_t *p = ws_payload_make(100);
    int i;

    ck_assert_ptr_nonnull(p);
    memset(p->data, 'x', 100);
    for (i = 0; i < 3; i++) {
        ws_queue_init(&q[i], 150);
        ck_assert_int_eq(ws_queue_push_shared(&q[i], OP_TEXT, p, 0),
                         WS_QUEUE_OK);
        ck_assert_uint_eq(q[i].bytes, 100);
    }
    /* the bound applies to shared payloads as to copies */
    ck_assert_int_eq(ws_queue_push_shared(&q[0], OP_TEXT, p, 0),
                     WS_QUEUE_FULL);
    ck_assert_uint_eq(p->refs, 4);
    ws_payload_unref(p); /* the maker's reference */
    for (i = 0; i < 3; i++) {
        lists[i] = ws_queue_take(&q[i]);
        ck_assert_ptr_eq(lists[i]->ptr, p->data);
        ck_assert_uint_eq(lists[i]->len, 100);
    }
    ws_queue_free_list(lists[0]);
    ws_queue_free_list(lists[1]);
    ck_assert_uint_eq(p->refs, 1);
    ck_assert_int_eq(lists[2]->ptr[99], 'x');
    ws_queue_free_list(lists[2]);
    /* a queue cleared with a shared message drops its reference too */
    p = ws_payload_make(1);
    ws_queue_init(&q[0], 10);
    ws_queue_push_shared(&q[0], OP_TEXT, p, 0);
    ws_payload_unref(p);
    ws_queue_clear(&q[0]);
}
END_TEST

START_TEST(test_close_ends_queue)
{
    ws_queue_t q;
    unsigned char code[2] = {0x03, 0xe8};

    ws_queue_init(&q, 10);
    ck_assert_int_eq(ws_queue_push(&q, OP_TEXT, 0, "hello", 5, 0),
                     WS_QUEUE_OK);
    ck_assert_int_eq(ws_queue_push(&q, OP_CLOSE, 1, code, 2, 0),
                     WS_QUEUE_OK);
    ck_assert_int_eq(ws_queue_push(&q, OP_TEXT, 0, "x", 1, 0),
                     WS_QUEUE_CLOSED);
    ck_assert_int_eq(ws_queue_push(&q, OP_CLOSE, 1, code, 2, 0),
                     WS_QUEUE_CLOSED);
    ck_assert_uint_eq(q.bytes, 7);
    ck_assert_uint_eq(q.tail->opcode, OP_CLOSE);
    ws_queue_clear(&q);
    ck_assert_ptr_null(q.head);
    ck_assert_uint_eq(q.bytes, 0);
}
END_TEST

/* A sender filling the queue while the owner drains it at random
 * moments: the counted bytes always equal what is queued or taken and
 * not yet written, and never exceed the bound by more than one message. */
START_TEST(test_model)
{
    ws_queue_t q;
    ws_queue_msg_t *taken = NULL;
    apr_size_t model = 0, max = 4096;
    unsigned char buf[3000];
    int step;

    memset(buf, 7, sizeof(buf));
    ws_queue_init(&q, max);
    for (step = 0; step < 50000; step++) {
        apr_uint32_t r = rnd();

        if (r % 4 != 0) {
            apr_size_t len = (r >> 8) % sizeof(buf);
            ws_queue_status_e st = ws_queue_push(&q, OP_TEXT, 0, buf, len, 0);

            if (st == WS_QUEUE_OK) {
                REQUIRE(model == 0 || model + len <= max);
                model += len;
            }
            else {
                REQUIRE(st == WS_QUEUE_FULL && model + len > max);
            }
        }
        else if (taken == NULL) {
            taken = ws_queue_take(&q);
        }
        else {
            apr_size_t n = 0;
            ws_queue_msg_t *m;

            for (m = taken; m != NULL; m = m->next) {
                n += m->len;
            }
            ws_queue_written(&q, n);
            model -= n;
            ws_queue_free_list(taken);
            taken = NULL;
        }
        REQUIRE_MSG(q.bytes == model, "step %d: %zu counted, %zu in the "
                    "model", step, (size_t)q.bytes, (size_t)model);
        REQUIRE(q.bytes <= max + sizeof(buf));
    }
    ws_queue_free_list(taken);
    ws_queue_clear(&q);
}
END_TEST

static Suite *queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("queue");

    tcase_add_loop_test(tc, test_room, 0, N_ROWS(room_rows));
    tcase_add_test(tc, test_fifo_and_accounting);
    tcase_add_test(tc, test_close_ends_queue);
    tcase_add_test(tc, test_shared_payload);
    tcase_add_test(tc, test_model);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ws_test_run(queue_suite());
}
