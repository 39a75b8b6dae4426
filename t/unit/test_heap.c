/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_heap.c -- Check unit tests of proto/ws_heap.c, the deadlines of
 * parked connections: whatever the order of pushes, pops come out
 * earliest first, equal deadlines all come out, and nothing is lost.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ws_test.h"
#include "ws_heap.h"

static int cmp_time(const void *a, const void *b)
{
    apr_time_t x = *(const apr_time_t *)a, y = *(const apr_time_t *)b;

    return x < y ? -1 : x > y;
}

START_TEST(test_empty)
{
    ws_heap_t h = WS_HEAP_INIT;

    ck_assert_ptr_null(ws_heap_peek(&h));
    ck_assert_int_eq(ws_heap_push(&h, 5, &h), 1);
    ck_assert_ptr_nonnull(ws_heap_peek(&h));
    ck_assert_int_eq(ws_heap_pop(&h).when, 5);
    ck_assert_ptr_null(ws_heap_peek(&h));
    ws_heap_free(&h);
    ck_assert_uint_eq(h.len, 0);
}
END_TEST

/* sizes around the initial capacity (64) and its doublings */
static const int sizes[] = {1, 2, 3, 63, 64, 65, 127, 128, 129, 1000, 5000};

START_TEST(test_order)
{
    int n = sizes[_i], i, k;
    apr_time_t *want = malloc(sizeof(*want) * n);
    int *items = malloc(sizeof(*items) * n);
    ws_heap_t h = WS_HEAP_INIT;

    for (i = 0; i < n; i++) {
        /* few distinct values: many equal deadlines */
        want[i] = (apr_time_t)(rnd() % (n / 3 + 1));
        items[i] = i;
        ck_assert_int_eq(ws_heap_push(&h, want[i], &items[i]), 1);
    }
    qsort(want, n, sizeof(*want), cmp_time);
    for (i = 0; i < n; i++) {
        ws_heap_entry_t e;

        REQUIRE(ws_heap_peek(&h) != NULL);
        REQUIRE(ws_heap_peek(&h)->when == want[i]);
        e = ws_heap_pop(&h);
        REQUIRE_MSG(e.when == want[i], "pop %d of %d: %ld, want %ld", i, n,
                    (long)e.when, (long)want[i]);
        k = *(int *)e.item;
        REQUIRE(k >= 0 && k < n && items[k] == k);
        items[k] = -1; /* each item comes out once */
    }
    ck_assert_ptr_null(ws_heap_peek(&h));
    ws_heap_free(&h);
    free(want);
    free(items);
}
END_TEST

/* pushes and pops interleaved, against a sorted reference */
START_TEST(test_interleaved)
{
    ws_heap_t h = WS_HEAP_INIT;
    apr_time_t ref[2048];
    int n = 0, step;

    for (step = 0; step < 20000; step++) {
        if (n < 2048 && (n == 0 || rnd() % 3 != 0)) {
            apr_time_t w = (apr_time_t)(rnd() % 100000);

            ck_assert_int_eq(ws_heap_push(&h, w, NULL), 1);
            ref[n++] = w;
            qsort(ref, n, sizeof(*ref), cmp_time);
        }
        else {
            ws_heap_entry_t e = ws_heap_pop(&h);

            REQUIRE_MSG(e.when == ref[0], "step %d: %ld, want %ld", step,
                        (long)e.when, (long)ref[0]);
            memmove(ref, ref + 1, sizeof(*ref) * --n);
        }
        REQUIRE(h.len == (apr_size_t)n);
    }
    ws_heap_free(&h);
}
END_TEST

static Suite *heap_suite(void)
{
    Suite *s = suite_create("heap");
    TCase *tc = tcase_create("heap");

    tcase_add_test(tc, test_empty);
    tcase_add_loop_test(tc, test_order, 0, N_ROWS(sizes));
    tcase_add_test(tc, test_interleaved);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ws_test_run(heap_suite());
}
