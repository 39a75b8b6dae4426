/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_test.h -- what every Check test file of the APR-only code shares:
 * table and assertion macros, the per-test pool fixture, a fixed
 * pseudo-random sequence and the runner.
 */
#ifndef WS_TEST_H
#define WS_TEST_H

#include <check.h>
#include <stdlib.h>

#include <apr_general.h>
#include <apr_pools.h>

#define N_ROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))

/* Check records the location of every ck_assert (a write to the parent
 * process): in the inner loops, only a failure may cost that */
#define REQUIRE(c) \
    do { \
        if (!(c)) { \
            ck_abort_msg("Assertion '%s' failed", #c); \
        } \
    } while (0)
#define REQUIRE_MSG(c, ...) \
    do { \
        if (!(c)) { \
            ck_abort_msg(__VA_ARGS__); \
        } \
    } while (0)

/* a pool per test: tcase_add_checked_fixture(tc, setup, teardown) runs
 * them in the forked child */
static apr_pool_t *pool;

static inline void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static inline void teardown(void)
{
    apr_pool_destroy(pool);
}

/* xorshift32: a fixed, portable sequence for "random" masks and data;
 * a file may pick its own start with WS_TEST_SEED */
#ifndef WS_TEST_SEED
#define WS_TEST_SEED 2463534242u
#endif
static apr_uint32_t rng = WS_TEST_SEED;

static inline apr_uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* runs @p s (verbosity from CK_VERBOSITY) and gives main's exit status */
static inline int ws_test_run(Suite *s)
{
    SRunner *sr;
    int failed;

    apr_initialize(); /* once, in the parent, before Check forks */
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* WS_TEST_H */
