/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_shmalloc.c -- Check unit tests of proto/ws_shmalloc.c, the offset
 * allocator of the shared region: arena bounds, every small request
 * size, merging of neighbours freed in every order, and a long random
 * run of allocations and frees against a byte map of the arena, which
 * proves that no payload overlaps another or a tag, that contents
 * survive, and that a request fails only when no free run is large
 * enough (free blocks never stay split).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#define WS_TEST_SEED 1597334677u
#include "ws_test.h"
#include "ws_shmalloc.h"

#define TAGS WS_SHMALLOC_OVERHEAD

static ws_shmalloc_t heap;

/* a fresh arena of @p size bytes at offset 64 of a pool buffer (the
 * state lives outside the region here; the store keeps it inside) */
static char *arena(apr_size_t size)
{
    char *base = apr_pcalloc(pool, size + 64);

    ck_assert_int_eq(ws_shmalloc_init(base, &heap, 64, 64 + size),
                     APR_SUCCESS);
    ck_assert_int_eq(ws_shmalloc_check(base, &heap), APR_SUCCESS);
    return base;
}

/* ---- bounds ------------------------------------------------------------- */

static const struct {
    apr_size_t start, end;
    apr_status_t rv;
} bounds_rows[] = {
    {0, 48, APR_SUCCESS},  /* prologue, one minimal block, epilogue */
    {0, 40, APR_EINVAL},   /* no room for a block */
    {8, 56, APR_SUCCESS},
    {4, 56, APR_EINVAL},   /* start not aligned */
    {0, 52, APR_EINVAL},   /* end not aligned */
    {64, 0, APR_EINVAL},   /* end before start */
    {0, 4096, APR_SUCCESS},
};

START_TEST(test_bounds)
{
    char *base = apr_pcalloc(pool, 4096);
    apr_status_t rv;

    rv = ws_shmalloc_init(base, &heap, bounds_rows[_i].start,
                          bounds_rows[_i].end);
    ck_assert_int_eq(rv, bounds_rows[_i].rv);
    if (rv == APR_SUCCESS) {
        apr_size_t room = bounds_rows[_i].end - bounds_rows[_i].start;
        ck_assert_uint_eq(ws_shmalloc_largest(base, &heap),
                          room - 2 * 8 - TAGS);
        ck_assert_int_eq(ws_shmalloc_check(base, &heap), APR_SUCCESS);
    }
}
END_TEST

/* ---- every small size --------------------------------------------------- */

/* Each request gets an aligned payload at least as large, costs a block
 * of its rounded size plus the tags (32 at least), and giving it back
 * restores the single free block. */
START_TEST(test_sizes)
{
    char *base = arena(4096);
    apr_size_t all = ws_shmalloc_largest(base, &heap);
    apr_size_t size, off, cost;

    for (size = 0; size <= 300; size++) {
        off = ws_shmalloc_alloc(base, &heap, size);
        REQUIRE_MSG(off != 0, "size %u failed", (unsigned)size);
        REQUIRE(off % WS_SHMALLOC_ALIGN == 0);
        REQUIRE(off >= 64 && off + size <= 64 + 4096);
        cost = (size + 7) / 8 * 8 + TAGS;
        cost = cost < 32 ? 32 : cost;
        REQUIRE_MSG(heap.in_use == cost, "size %u costs %u", (unsigned)size,
                    (unsigned)heap.in_use);
        REQUIRE(ws_shmalloc_size(base, off) == cost - TAGS);
        memset(base + off, 0xA5, size);
        REQUIRE(ws_shmalloc_check(base, &heap) == APR_SUCCESS);
        ws_shmalloc_free(base, &heap, off);
        REQUIRE(heap.in_use == 0 && heap.blocks == 0);
        REQUIRE(ws_shmalloc_largest(base, &heap) == all);
    }
}
END_TEST

/* Exactly the largest request fits, one byte more does not; a remainder
 * too small for a block stays with the allocation. */
START_TEST(test_exact_fit)
{
    char *base = arena(1024);
    apr_size_t all = ws_shmalloc_largest(base, &heap), off;

    ck_assert_uint_eq(ws_shmalloc_alloc(base, &heap, all + 1), 0);
    ck_assert_uint_eq(ws_shmalloc_alloc(base, &heap, (apr_size_t)-1), 0);
    off = ws_shmalloc_alloc(base, &heap, all);
    ck_assert_uint_ne(off, 0);
    ck_assert_uint_eq(ws_shmalloc_alloc(base, &heap, 0), 0);
    ws_shmalloc_free(base, &heap, off);

    /* 8 bytes short of everything: the 8 left cannot be a block */
    off = ws_shmalloc_alloc(base, &heap, all - 8);
    ck_assert_uint_ne(off, 0);
    ck_assert_uint_eq(ws_shmalloc_size(base, off), all);
    ck_assert_uint_eq(ws_shmalloc_largest(base, &heap), 0);
    ws_shmalloc_free(base, &heap, off);
    /* 32 short: the rest is a minimal free block */
    off = ws_shmalloc_alloc(base, &heap, all - 32);
    ck_assert_uint_eq(ws_shmalloc_size(base, off), all - 32);
    ck_assert_uint_eq(ws_shmalloc_largest(base, &heap), 32 - TAGS);
    ck_assert_int_eq(ws_shmalloc_check(base, &heap), APR_SUCCESS);
    ws_shmalloc_free(base, &heap, 0); /* ignored */
    ck_assert_int_eq(ws_shmalloc_check(base, &heap), APR_SUCCESS);
}
END_TEST

/* ---- merging ------------------------------------------------------------ */

/* Four neighbours A B C D filling the arena, freed in each of the 24
 * orders: after every free, the free runs are single blocks (the
 * largest request equals the longest run), and at the end one block. */
START_TEST(test_merge_orders)
{
    char *base = arena(4 * 96);
    apr_size_t all = ws_shmalloc_largest(base, &heap), off[4], len[4];
    int order[4] = {0, 1, 2, 3}, freed[4] = {0}, k = _i, i, j, n;

    for (i = 0; i < 4; i++) { /* the _i-th permutation (factorial base) */
        j = i + k % (4 - i);
        k /= 4 - i;
        n = order[i];
        order[i] = order[j];
        order[j] = n;
    }
    for (i = 0; i < 3; i++) {
        off[i] = ws_shmalloc_alloc(base, &heap, 96 - TAGS);
        ck_assert_uint_eq(off[i], 64 + 8 + 8 + (apr_size_t)i * 96);
    }
    off[3] = ws_shmalloc_alloc(base, &heap, ws_shmalloc_largest(base, &heap));
    ck_assert_uint_ne(off[3], 0);
    ck_assert_uint_eq(ws_shmalloc_largest(base, &heap), 0);
    for (i = 0; i < 4; i++) {
        len[i] = ws_shmalloc_size(base, off[i]) + TAGS;
    }
    for (i = 0; i < 4; i++) {
        apr_size_t run = 0, longest = 0;
        ws_shmalloc_free(base, &heap, off[order[i]]);
        freed[order[i]] = 1;
        for (j = 0; j < 4; j++) {
            run = freed[j] ? run + len[j] : 0;
            longest = run > longest ? run : longest;
        }
        ck_assert_int_eq(ws_shmalloc_check(base, &heap), APR_SUCCESS);
        ck_assert_uint_eq(ws_shmalloc_largest(base, &heap), longest - TAGS);
    }
    ck_assert_uint_eq(ws_shmalloc_largest(base, &heap), all);
    ck_assert_uint_eq(heap.in_use, 0);
}
END_TEST

/* check() is not a test that cannot fail: a clobbered tag is caught */
START_TEST(test_check_catches)
{
    char *base = arena(1024);
    apr_size_t a = ws_shmalloc_alloc(base, &heap, 40);
    apr_size_t b = ws_shmalloc_alloc(base, &heap, 40);
    int c;

    ck_assert_int_eq(ws_shmalloc_check(base, &heap), APR_SUCCESS);
    base[a + 40] ^= 1; /* A's footer: one byte past its 40-byte payload */
    ck_assert_int_eq(ws_shmalloc_check(base, &heap), APR_EGENERAL);
    base[a + 40] ^= 1;
    heap.in_use++;
    ck_assert_int_eq(ws_shmalloc_check(base, &heap), APR_EGENERAL);
    heap.in_use--;
    ws_shmalloc_free(base, &heap, b);
    ck_assert_int_eq(ws_shmalloc_check(base, &heap), APR_SUCCESS);
    for (c = 0; !heap.free_lists[c]; c++) {
    }
    heap.free_lists[c + 1] = heap.free_lists[c]; /* a list of another class */
    heap.free_lists[c] = 0;
    ck_assert_int_eq(ws_shmalloc_check(base, &heap), APR_EGENERAL);
}
END_TEST

/* ---- random run against a byte map -------------------------------------- */

#define STRESS_ARENA (256 * 1024)
#define STRESS_OPS 200000
#define STRESS_LIVE 4096

typedef struct {
    apr_size_t off, size;
    unsigned char fill;
} live_t;

/* map[i]: 1 while arena byte i belongs to an allocated block (tags too) */
static unsigned char map[STRESS_ARENA];

static apr_size_t block_of(const char *base, apr_size_t off, apr_size_t *len)
{
    *len = ws_shmalloc_size(base, off) + TAGS;
    return off - 8 - 64; /* map index of the block's header */
}

/* the largest payload any free run of the model could give */
static apr_size_t model_largest(void)
{
    apr_size_t i, run = 0, longest = 0;

    for (i = 8; i < STRESS_ARENA - 8; i++) {
        run = map[i] ? 0 : run + 1;
        longest = run > longest ? run : longest;
    }
    return longest >= 32 ? longest - TAGS : 0;
}

/* Sizes: mostly small, some up to a few KiB, a few large ones. */
static apr_size_t random_size(void)
{
    apr_uint32_t r = rnd() % 100;

    return r < 70 ? rnd() % 128 : r < 97 ? rnd() % 4096 : rnd() % 40000;
}

static void stress_free(char *base, live_t *l)
{
    apr_size_t i, blk, len;

    for (i = 0; i < l->size; i++) {
        REQUIRE_MSG((unsigned char)base[l->off + i] == l->fill,
                    "payload at %u changed", (unsigned)l->off);
    }
    blk = block_of(base, l->off, &len);
    memset(map + blk, 0, len);
    ws_shmalloc_free(base, &heap, l->off);
}

START_TEST(test_stress)
{
    char *base = arena(STRESS_ARENA);
    apr_size_t all = ws_shmalloc_largest(base, &heap);
    live_t *live = apr_pcalloc(pool, STRESS_LIVE * sizeof(*live));
    apr_size_t nlive = 0, used = 0, fails = 0, i, j, blk, len, size, off;
    int op;

    memset(map, 0, sizeof(map));
    memset(map, 1, 8); /* the prologue and epilogue tags */
    memset(map + STRESS_ARENA - 8, 1, 8);
    for (op = 0; op < STRESS_OPS; op++) {
        if (nlive && (nlive == STRESS_LIVE || rnd() % 100 < 48)) {
            j = rnd() % nlive;
            used -= ws_shmalloc_size(base, live[j].off) + TAGS;
            stress_free(base, &live[j]);
            live[j] = live[--nlive];
        }
        else if ((off = ws_shmalloc_alloc(base, &heap,
                                          size = random_size())) == 0) {
            REQUIRE_MSG(size > model_largest(), "%u bytes refused, %u free",
                        (unsigned)size, (unsigned)model_largest());
            fails++;
        }
        else {
            blk = block_of(base, off, &len);
            REQUIRE(off % 8 == 0 && len >= size + TAGS);
            for (i = 0; i < len; i++) {
                REQUIRE_MSG(!map[blk + i], "block at %u overlaps",
                            (unsigned)off);
            }
            memset(map + blk, 1, len);
            live[nlive].off = off;
            live[nlive].size = size;
            live[nlive].fill = (unsigned char)rnd();
            memset(base + off, live[nlive].fill, size);
            nlive++;
            used += len;
        }
        REQUIRE(heap.in_use == used && heap.blocks == nlive);
        if (op % 4096 == 0) {
            REQUIRE(ws_shmalloc_check(base, &heap) == APR_SUCCESS);
            REQUIRE(ws_shmalloc_largest(base, &heap) == model_largest());
        }
    }
    /* the run did reach the limit, and still nothing was lost to it */
    ck_assert_uint_gt(fails, 0);
    while (nlive) {
        stress_free(base, &live[--nlive]);
    }
    ck_assert_int_eq(ws_shmalloc_check(base, &heap), APR_SUCCESS);
    ck_assert_uint_eq(ws_shmalloc_largest(base, &heap), all);
    ck_assert_uint_eq(heap.in_use, 0);
}
END_TEST

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}

static Suite *shmalloc_suite(void)
{
    Suite *s = suite_create("ws_shmalloc");
    TCase *tc;

    tc = tcase("bounds");
    tcase_add_loop_test(tc, test_bounds, 0, N_ROWS(bounds_rows));
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_exact_fit);
    suite_add_tcase(s, tc);

    tc = tcase("merge");
    tcase_add_loop_test(tc, test_merge_orders, 0, 24);
    tcase_add_test(tc, test_check_catches);
    suite_add_tcase(s, tc);

    tc = tcase("stress");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_stress);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ws_test_run(shmalloc_suite());
}
