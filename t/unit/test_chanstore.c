/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * test_chanstore.c -- Check unit tests of the channel store
 * (proto/ws_chanstore.c, proto/ws_chanregion.c): ids and epochs, resume at
 * every position, history trimmed by count and age, the log and a
 * reader that falls behind, memory running out and coming back,
 * subscriber counts per child slot, names at their limits, thousands of
 * channels, a region kept or formatted anew, and a long random run
 * against a model of what a user should see.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#define WS_TEST_SEED 3141592653u
#include "ws_test.h"
#include "ws_chanstore.h"
#include "ws_chanstore_int.h" /* only to damage a region on purpose */

#define T0 ((apr_time_t)1700000000 * APR_USEC_PER_SEC)
#define SEC(n) ((apr_time_t)(n) * APR_USEC_PER_SEC)
#define KB 1024

static ws_chan_store_t *st;
static char *region;

static const ws_chan_limits_t KEEP16 = {16, 600};
static const ws_chan_limits_t NO_HISTORY = {0, 0};

static void mk(apr_size_t size, apr_uint32_t nslots)
{
    region = apr_palloc(pool, size); /* 8-byte aligned */
    ck_assert_int_eq(ws_chan_store_init(&st, region, size, nslots, T0),
                     APR_SUCCESS);
}

static void check_store(void)
{
    ck_assert_int_eq(ws_chan_store_check(st), APR_SUCCESS);
}

static apr_status_t publish_at(const char *name, const char *data,
                               ws_chan_limits_t lim, apr_time_t now,
                               ws_chan_pub_t *p)
{
    return ws_chan_publish(st, name, strlen(name), WS_CHAN_TEXT, data,
                           strlen(data), lim, now, p, NULL);
}

/* publishes "m<seq>" (the seq the channel will give) and checks the id */
static ws_chan_pub_t pub_n(const char *name, ws_chan_limits_t lim,
                           apr_time_t now)
{
    ws_chan_info_t info;
    ws_chan_pub_t p;
    char data[32];
    apr_uint64_t seq = 1;

    if (ws_chan_info(st, name, strlen(name), &info) == APR_SUCCESS) {
        seq = info.last.seq + 1;
    }
    snprintf(data, sizeof(data), "m%llu", (unsigned long long)seq);
    ck_assert_int_eq(publish_at(name, data, lim, now, &p), APR_SUCCESS);
    ck_assert_uint_eq(p.id.seq, seq);
    return p;
}

static ws_chan_info_t info_of(const char *name)
{
    ws_chan_info_t info;

    ck_assert_int_eq(ws_chan_info(st, name, strlen(name), &info),
                     APR_SUCCESS);
    return info;
}

static int exists(const char *name)
{
    ws_chan_info_t info;

    return ws_chan_info(st, name, strlen(name), &info) == APR_SUCCESS;
}

static ws_chan_stats_t stats(void)
{
    ws_chan_stats_t s;

    ws_chan_stats(st, &s);
    return s;
}

/* what a resume replayed */
typedef struct {
    int n, stop_after;
    apr_uint64_t seq[128], epoch[128];
    char data[128][16];
} replay_t;

static apr_status_t collect(void *baton, const ws_chan_msg_t *m)
{
    replay_t *r = baton;

    ck_assert_int_lt(r->n, 128);
    ck_assert_uint_lt(m->len, 16);
    r->seq[r->n] = m->id.seq;
    r->epoch[r->n] = m->id.epoch;
    memcpy(r->data[r->n], m->data, m->len);
    r->data[r->n][m->len] = '\0';
    r->n++;
    return r->n == r->stop_after ? APR_EGENERAL : APR_SUCCESS;
}

/* resumes @p name after (epoch, seq); checks the replay is the messages
 * "m<k>" for k in from..to of the channel's epoch */
static void expect_resume(const char *name, apr_uint64_t epoch,
                          apr_uint64_t seq, int gap, apr_uint64_t first,
                          apr_uint64_t from, apr_uint64_t to)
{
    ws_chan_id_t last = {epoch, seq}, got;
    replay_t r = {0};
    char want[32];
    int g = -1, i;

    ck_assert_int_eq(ws_chan_resume(st, name, strlen(name), last, &got, &g,
                                    collect, &r),
                     APR_SUCCESS);
    ck_assert_int_eq(g, gap);
    ck_assert_uint_eq(got.epoch, info_of(name).last.epoch);
    ck_assert_uint_eq(got.seq, first);
    ck_assert_int_eq(r.n, from <= to ? (int)(to - from + 1) : 0);
    for (i = 0; i < r.n; i++) {
        snprintf(want, sizeof(want), "m%llu", (unsigned long long)(from + i));
        ck_assert_uint_eq(r.seq[i], from + i);
        ck_assert_uint_eq(r.epoch[i], got.epoch);
        ck_assert_str_eq(r.data[i], want);
    }
}

/* ---- formatting --------------------------------------------------------- */

static const struct {
    apr_size_t misalign, size;
    apr_uint32_t nslots;
    apr_status_t rv;
} init_rows[] = {
    {0, WS_CHAN_STORE_MIN_SIZE, 1, APR_SUCCESS},
    {0, WS_CHAN_STORE_MIN_SIZE - 1, 1, APR_EINVAL},
    {0, WS_CHAN_STORE_MIN_SIZE + 3, 1, APR_SUCCESS}, /* odd size: rounded */
    {1, WS_CHAN_STORE_MIN_SIZE, 1, APR_EINVAL},
    {4, WS_CHAN_STORE_MIN_SIZE, 1, APR_EINVAL},
    {0, WS_CHAN_STORE_MIN_SIZE, 0, APR_EINVAL},
    {0, 64 * KB, WS_CHAN_SLOTS_MAX, APR_SUCCESS},
    {0, 64 * KB, WS_CHAN_SLOTS_MAX + 1, APR_EINVAL},
    {0, 4096 * KB, 16, APR_SUCCESS},
};

START_TEST(test_init)
{
    char *mem = apr_palloc(pool, init_rows[_i].size + 8);
    void *r = mem + init_rows[_i].misalign;
    apr_uint32_t slot = init_rows[_i].nslots - 1;
    unsigned char *map;
    ws_chan_stats_t s;
    ws_chan_pub_t p;
    int kept = -1;

    ck_assert_int_eq(ws_chan_store_init(&st, r, init_rows[_i].size,
                                        init_rows[_i].nslots, T0),
                     init_rows[_i].rv);
    ck_assert_int_eq(ws_chan_store_attach(&st, r, init_rows[_i].size,
                                          init_rows[_i].nslots, T0, &kept),
                     init_rows[_i].rv);
    if (init_rows[_i].rv != APR_SUCCESS) {
        ck_assert_int_eq(kept, 0);
        return;
    }
    ck_assert_int_eq(kept, 1);
    s = stats();
    ck_assert_uint_eq(s.channels, 0);
    ck_assert_uint_eq(s.subscribers + s.published + s.history_msgs, 0);
    ck_assert_uint_eq(s.bytes_total, init_rows[_i].size);
    ck_assert_uint_gt(s.bytes_in_use, 0);
    ck_assert_uint_lt(s.bytes_in_use, s.bytes_total / 2);
    ck_assert_uint_ge(s.log_size, 64);
    ck_assert_uint_eq(s.log_head, 0);
    /* even the smallest region takes a subscriber (in the last slot) and
     * a publish, and says which slot to wake */
    map = apr_pcalloc(pool, WS_CHAN_BITMAP_BYTES(init_rows[_i].nslots));
    ck_assert_int_eq(ws_chan_subscribe(st, "c", 1, slot, NULL), APR_SUCCESS);
    ck_assert_int_eq(ws_chan_publish(st, "c", 1, WS_CHAN_TEXT, "x", 1,
                                     KEEP16, T0, &p, map),
                     APR_SUCCESS);
    ck_assert_uint_eq(p.subscribers, 1);
    ck_assert(WS_CHAN_SLOT_ISSET(map, slot));
    ck_assert_uint_gt(stats().bytes_in_use, s.bytes_in_use);
    check_store();
}
END_TEST

/* ---- ids --------------------------------------------------------------- */

/* seq counts up by exactly 1 per message, far past the log and history
 * sizes; the log position by 1 per publish of any channel */
START_TEST(test_seq)
{
    ws_chan_pub_t p, q;
    apr_uint64_t epoch = 0, i;

    mk(64 * KB, 4);
    for (i = 1; i <= 300; i++) {
        p = pub_n("a", KEEP16, T0);
        q = pub_n("b", KEEP16, T0);
        if (i == 1) {
            epoch = p.id.epoch;
        }
        ck_assert_uint_eq(p.id.epoch, epoch);
        ck_assert_uint_eq(p.id.seq, i);
        ck_assert_uint_eq(q.id.seq, i);
        ck_assert_uint_eq(p.log, 2 * (i - 1));
        ck_assert_uint_eq(q.log, 2 * (i - 1) + 1);
        ck_assert_uint_eq(p.subscribers, 0);
    }
    ck_assert_uint_ne(q.id.epoch, epoch);
    ck_assert_uint_eq(info_of("a").last.seq, 300);
    ck_assert_uint_eq(info_of("a").first_seq, 285);
    ck_assert_uint_eq(info_of("a").history, 16);
    ck_assert_uint_eq(stats().published, 600);
    check_store();
}
END_TEST

/* Epochs are seeded from the time, so a new region (a full restart)
 * gives other epochs than the old one, and never repeat in a region. */
START_TEST(test_epochs)
{
    apr_uint64_t prev = 0, first = 0;
    ws_chan_id_t last;
    char name[32];
    int i;

    mk(64 * KB, 4);
    for (i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "e%d", i);
        ck_assert_int_eq(ws_chan_subscribe(st, name, strlen(name), 0, &last),
                         APR_SUCCESS);
        ck_assert_uint_eq(last.seq, 0);
        ck_assert_uint_ge(last.epoch, (apr_uint64_t)T0);
        ck_assert_uint_gt(last.epoch, prev);
        prev = last.epoch;
        first = first ? first : last.epoch;
    }
    /* a new region a second later: every epoch differs from the old ones */
    ck_assert_int_eq(ws_chan_store_init(&st, region, 64 * KB, 4, T0 + SEC(1)),
                     APR_SUCCESS);
    ck_assert_int_eq(ws_chan_subscribe(st, "e0", 2, 0, &last), APR_SUCCESS);
    ck_assert_uint_gt(last.epoch, prev);
}
END_TEST

START_TEST(test_delete)
{
    unsigned char map[1] = {0xFF};
    apr_uint64_t old, cursor, lost;
    apr_uint32_t subs = 0;
    ws_chan_msg_t m;
    int i;

    mk(64 * KB, 4);
    ck_assert_int_eq(ws_chan_subscribe(st, "d", 1, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(ws_chan_subscribe(st, "d", 1, 2, NULL), APR_SUCCESS);
    ck_assert_int_eq(ws_chan_subscribe(st, "d", 1, 2, NULL), APR_SUCCESS);
    for (i = 0; i < 5; i++) {
        old = pub_n("d", KEEP16, T0).id.epoch;
    }
    cursor = ws_chan_log_head(st);
    ck_assert_int_eq(ws_chan_delete(st, "d", 1, T0 + 7, &subs, map),
                     APR_SUCCESS);
    ck_assert_uint_eq(subs, 3);
    ck_assert_uint_eq(map[0], 0x05); /* slots 0 and 2 */
    ck_assert_uint_gt(info_of("d").last.epoch, old);
    ck_assert_uint_eq(info_of("d").last.seq, 0);
    ck_assert_uint_eq(info_of("d").history, 0);
    ck_assert_uint_eq(info_of("d").subscribers, 3);
    ck_assert_uint_eq(stats().history_msgs, 0);

    /* the log tells every child to close its subscribers of "d" */
    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_SUCCESS);
    ck_assert_int_eq(m.type, WS_CHAN_DELETED);
    ck_assert_uint_eq(m.id.epoch, info_of("d").last.epoch);
    ck_assert_uint_eq(m.id.seq, 0);
    ck_assert_uint_eq(m.len, 0);
    ck_assert_int_eq(m.time, T0 + 7);
    ck_assert(m.name_len == 1 && m.name[0] == 'd');
    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_EAGAIN);

    /* seq starts again at 1; a client of the old epoch gets a gap */
    ck_assert_uint_eq(pub_n("d", KEEP16, T0).id.seq, 1);
    expect_resume("d", old, 5, 1, 1, 1, 1);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(ws_chan_unsubscribe(st, "d", 1, i ? 2 : 0),
                         APR_SUCCESS);
    }
    ck_assert_int_eq(ws_chan_unsubscribe(st, "d", 1, 2), APR_NOTFOUND);
    ck_assert_int_eq(ws_chan_delete(st, "x", 1, T0, &subs, NULL),
                     APR_NOTFOUND);
    ck_assert_int_eq(ws_chan_delete(st, "", 0, T0, &subs, NULL), APR_EINVAL);
    check_store();
}
END_TEST

/* ---- resume ------------------------------------------------------------- */

/* "r" has published m1..m20 and retains m11..m20 (history 10) */
static const struct {
    int epoch; /* the client's epoch: 0 the channel's, else off by this */
    apr_uint64_t seq;
    int gap;
    apr_uint64_t first, from, to; /* from > to: nothing replayed */
} resume_rows[] = {
    {0, 0, 1, 11, 11, 20},         /* saw nothing of this epoch */
    {0, 9, 1, 11, 11, 20},         /* m10 is gone */
    {0, 10, 0, 11, 11, 20},        /* oldest - 1: everything it missed */
    {0, 11, 0, 12, 12, 20},        /* at the oldest */
    {0, 15, 0, 16, 16, 20},        /* middle */
    {0, 19, 0, 20, 20, 20},        /* one behind */
    {0, 20, 0, 21, 1, 0},          /* up to date: nothing, no gap */
    {0, 21, 1, 11, 11, 20},        /* from the future */
    {0, (apr_uint64_t)-1, 1, 11, 11, 20},
    {1, 15, 1, 11, 11, 20},        /* another epoch */
    {-1, 20, 1, 11, 11, 20},
    {-1, 0, 1, 11, 11, 20},
};

START_TEST(test_resume)
{
    apr_uint64_t epoch;
    int i;

    mk(64 * KB, 4);
    for (i = 0; i < 20; i++) {
        pub_n("r", (ws_chan_limits_t){10, 0}, T0);
    }
    epoch = info_of("r").last.epoch + resume_rows[_i].epoch;
    expect_resume("r", epoch, resume_rows[_i].seq, resume_rows[_i].gap,
                  resume_rows[_i].first, resume_rows[_i].from,
                  resume_rows[_i].to);
}
END_TEST

/* Nothing retained: "h" published m1..m5 without history, "f" is new. */
static const struct {
    const char *name;
    int epoch;
    apr_uint64_t seq;
    int gap;
    apr_uint64_t first;
} resume_empty_rows[] = {
    {"h", 0, 5, 0, 6},
    {"h", 0, 4, 1, 6},
    {"h", 0, 0, 1, 6},
    {"h", 0, 6, 1, 6},
    {"h", 1, 5, 1, 6},
    {"f", 0, 0, 0, 1},
    {"f", 0, 1, 1, 1},
    {"f", -1, 0, 1, 1},
};

START_TEST(test_resume_empty)
{
    const char *name = resume_empty_rows[_i].name;
    int i;

    mk(64 * KB, 4);
    for (i = 0; i < 5; i++) {
        pub_n("h", NO_HISTORY, T0);
    }
    ck_assert_int_eq(ws_chan_subscribe(st, "f", 1, 0, NULL), APR_SUCCESS);
    expect_resume(name, info_of(name).last.epoch + resume_empty_rows[_i].epoch,
                  resume_empty_rows[_i].seq, resume_empty_rows[_i].gap,
                  resume_empty_rows[_i].first, 1, 0);
}
END_TEST

START_TEST(test_resume_errors)
{
    ws_chan_id_t last = {0, 0}, first;
    replay_t r = {0};
    int gap, i;

    mk(64 * KB, 4);
    for (i = 0; i < 4; i++) {
        pub_n("r", KEEP16, T0);
    }
    r.stop_after = 2; /* the callback's error stops the replay */
    ck_assert_int_eq(ws_chan_resume(st, "r", 1, last, &first, &gap, collect,
                                    &r),
                     APR_EGENERAL);
    ck_assert_int_eq(r.n, 2);
    ck_assert_int_eq(ws_chan_resume(st, "q", 1, last, &first, &gap, collect,
                                    &r),
                     APR_NOTFOUND);
    ck_assert_int_eq(ws_chan_resume(st, "", 0, last, &first, &gap, collect,
                                    &r),
                     APR_EINVAL);
}
END_TEST

/* ---- history ------------------------------------------------------------ */

static const struct {
    apr_uint32_t keep, n;
} count_rows[] = {
    {0, 0}, {0, 1}, {0, 5}, {1, 1}, {1, 2}, {2, 1}, {2, 3}, {16, 15},
    {16, 16}, {16, 17}, {16, 48}, {100, 250},
};

START_TEST(test_history_count)
{
    apr_uint32_t keep = count_rows[_i].keep, n = count_rows[_i].n, i;
    apr_uint64_t kept = n < keep ? n : keep, bytes = 0, epoch = 0;
    char data[16];

    mk(256 * KB, 4);
    ck_assert_int_eq(ws_chan_subscribe(st, "c", 1, 0, NULL), APR_SUCCESS);
    for (i = 1; i <= n; i++) {
        pub_n("c", (ws_chan_limits_t){keep, 0}, T0);
        if (i > n - kept) {
            bytes += (apr_uint64_t)snprintf(data, sizeof(data), "m%u", i);
        }
    }
    epoch = info_of("c").last.epoch;
    ck_assert_uint_eq(info_of("c").history, kept);
    ck_assert_uint_eq(info_of("c").first_seq, n - kept + 1);
    ck_assert_uint_eq(stats().history_msgs, kept);
    ck_assert_uint_eq(stats().history_bytes, bytes);
    expect_resume("c", epoch, 0, kept < n, n - kept + 1, n - kept + 1, n);
    check_store();
}
END_TEST

/* every publish applies its own limits (another location may publish to
 * the same channel with others) */
START_TEST(test_history_limits_change)
{
    int i;

    mk(64 * KB, 4);
    for (i = 0; i < 10; i++) {
        pub_n("c", KEEP16, T0);
    }
    pub_n("c", (ws_chan_limits_t){3, 0}, T0);
    ck_assert_uint_eq(info_of("c").history, 3);
    ck_assert_uint_eq(info_of("c").first_seq, 9);
    pub_n("c", NO_HISTORY, T0);
    ck_assert_uint_eq(info_of("c").history, 0);
    ck_assert_uint_eq(info_of("c").first_seq, 13);
    pub_n("c", KEEP16, T0);
    ck_assert_uint_eq(info_of("c").history, 1);
    ck_assert_uint_eq(info_of("c").first_seq, 13);
    check_store();
}
END_TEST

/* m1..m4 published at 0, 5, 10, 15 s with an age limit of 10 s: the
 * publish at 15 s already dropped m1 (15 s old); a message exactly 10 s
 * old stays. */
static const struct {
    apr_time_t at;
    apr_uint64_t dropped, first;
} age_rows[] = {
    {SEC(15), 0, 2},
    {SEC(14), 0, 2},          /* the clock went back: nothing is older */
    {SEC(20), 1, 3},          /* m3 exactly 10 s old */
    {SEC(20) + 1, 2, 4},      /* ... and 1 us later */
    {SEC(25), 2, 4},
    {SEC(26), 3, 5},          /* all gone */
    {SEC(3600), 3, 5},
};

START_TEST(test_history_age)
{
    int i;

    mk(64 * KB, 4);
    ck_assert_int_eq(ws_chan_subscribe(st, "a", 1, 0, NULL), APR_SUCCESS);
    for (i = 0; i < 4; i++) {
        pub_n("a", (ws_chan_limits_t){16, 10}, T0 + SEC(5 * i));
    }
    ck_assert_uint_eq(info_of("a").first_seq, 2);
    ck_assert_uint_eq(ws_chan_trim(st, T0 + age_rows[_i].at),
                      age_rows[_i].dropped);
    ck_assert_uint_eq(info_of("a").first_seq, age_rows[_i].first);
    ck_assert_uint_eq(info_of("a").history, 5 - age_rows[_i].first);
    ck_assert_uint_eq(info_of("a").last.seq, 4);
    ck_assert_uint_eq(ws_chan_trim(st, T0 + age_rows[_i].at), 0);
    check_store();
}
END_TEST

START_TEST(test_history_no_age)
{
    int i;

    mk(64 * KB, 4);
    for (i = 0; i < 4; i++) {
        pub_n("a", (ws_chan_limits_t){16, 0}, T0 + SEC(i));
    }
    ck_assert_uint_eq(ws_chan_trim(st, T0 + SEC(10 * 365 * 86400)), 0);
    ck_assert_uint_eq(info_of("a").history, 4);
}
END_TEST

/* A channel whose history aged out lives on while the log holds one of
 * its messages (same epoch, seq goes on); once the log let go too, it is
 * freed and made anew with a new epoch. */
START_TEST(test_trim_frees)
{
    apr_uint64_t epoch;
    apr_uint32_t i;

    mk(64 * KB, 4);
    epoch = pub_n("gone", (ws_chan_limits_t){16, 10}, T0).id.epoch;
    ck_assert_uint_eq(ws_chan_trim(st, T0 + SEC(11)), 1);
    ck_assert_uint_eq(info_of("gone").history, 0);
    ck_assert_uint_eq(pub_n("gone", (ws_chan_limits_t){16, 10}, T0).id.epoch,
                      epoch);
    ck_assert_uint_eq(ws_chan_trim(st, T0 + SEC(11)), 1);

    for (i = 0; i < stats().log_size; i++) {
        pub_n("other", NO_HISTORY, T0);
    }
    ck_assert(!exists("gone"));
    ck_assert_uint_eq(stats().channels, 1);
    ck_assert_uint_gt(pub_n("gone", KEEP16, T0).id.epoch, epoch);
    check_store();
}
END_TEST

/* ---- the log ------------------------------------------------------------ */

START_TEST(test_log_read)
{
    static const char bin[] = {'\0', 'x', '\377', '\0'};
    apr_uint64_t cursor, lost = 99;
    ws_chan_pub_t p;
    ws_chan_msg_t m;

    mk(64 * KB, 4);
    cursor = ws_chan_log_head(st);
    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_EAGAIN);
    ck_assert_int_eq(publish_at("news", "hello", KEEP16, T0 + 3, &p),
                     APR_SUCCESS);
    ck_assert_int_eq(ws_chan_publish(st, "bin", 3, WS_CHAN_BINARY, bin,
                                     sizeof(bin), NO_HISTORY, T0 + 4, NULL,
                                     NULL),
                     APR_SUCCESS);

    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_SUCCESS);
    ck_assert_uint_eq(cursor, 1);
    ck_assert_uint_eq(m.log, p.log);
    ck_assert(m.id.epoch == p.id.epoch && m.id.seq == 1);
    ck_assert_int_eq(m.type, WS_CHAN_TEXT);
    ck_assert_int_eq(m.time, T0 + 3);
    ck_assert(m.len == 5 && !memcmp(m.data, "hello", 5));
    ck_assert(m.name_len == 4 && !memcmp(m.name, "news", 4));

    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_SUCCESS);
    ck_assert_int_eq(m.type, WS_CHAN_BINARY);
    ck_assert(m.len == sizeof(bin) && !memcmp(m.data, bin, sizeof(bin)));
    ck_assert(m.name_len == 3 && !memcmp(m.name, "bin", 3));
    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_EAGAIN);
    ck_assert_uint_eq(cursor, 2);
    ck_assert_uint_eq(lost, 99); /* only set on a gap */
}
END_TEST

/* @p n publishes of m1..mn to one channel, a reader starting at
 * @p cursor (L = the log's size): a gap of exactly the entries
 * overwritten, then every entry kept, in order, intact. */
static const struct {
    apr_uint64_t n_l, n_plus; /* n = n_l * L + n_plus */
    apr_uint64_t cursor;      /* (apr_uint64_t)-1: head + 1 */
    apr_uint64_t lost;
} overrun_rows[] = {
    {0, 10, 0, 0},
    {1, 0, 0, 0},  /* full, nothing overwritten yet */
    {1, 1, 0, 1},
    {1, 1, 1, 0},  /* at the oldest entry */
    {1, 5, 4, 1},  /* one behind the oldest */
    {1, 5, 0, 5},
    {3, 0, 0, 128},
    {1, 5, (apr_uint64_t)-1, 0},
};

START_TEST(test_log_overrun)
{
    apr_uint64_t L, n, cursor, lost = 0, expect, tail;
    apr_status_t rv;
    ws_chan_msg_t m;
    char want[32];

    mk(64 * KB, 4);
    L = stats().log_size;
    ck_assert_uint_eq(L, 64);
    n = overrun_rows[_i].n_l * L + overrun_rows[_i].n_plus;
    for (expect = 0; expect < n; expect++) {
        pub_n("c", NO_HISTORY, T0);
    }
    tail = n > L ? n - L : 0;
    cursor = overrun_rows[_i].cursor == (apr_uint64_t)-1
                 ? n + 1 : overrun_rows[_i].cursor;
    rv = ws_chan_log_read(st, &cursor, &m, &lost);
    if (overrun_rows[_i].cursor == (apr_uint64_t)-1) {
        ck_assert_int_eq(rv, APR_INCOMPLETE);
        ck_assert_uint_eq(lost, 0);
        ck_assert_uint_eq(cursor, n);
        ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_EAGAIN);
        return;
    }
    if (overrun_rows[_i].lost) {
        ck_assert_int_eq(rv, APR_INCOMPLETE);
        ck_assert_uint_eq(lost, overrun_rows[_i].lost);
        ck_assert_uint_eq(cursor, tail);
        rv = ws_chan_log_read(st, &cursor, &m, &lost);
    }
    for (expect = overrun_rows[_i].lost ? tail : overrun_rows[_i].cursor;
         expect < n; expect++) {
        ck_assert_int_eq(rv, APR_SUCCESS);
        snprintf(want, sizeof(want), "m%llu", (unsigned long long)expect + 1);
        REQUIRE(m.log == expect && m.id.seq == expect + 1);
        REQUIRE(m.len == strlen(want) && !memcmp(m.data, want, m.len));
        rv = ws_chan_log_read(st, &cursor, &m, &lost);
    }
    ck_assert_int_eq(rv, APR_EAGAIN);
    ck_assert_uint_eq(cursor, n);
}
END_TEST

/* a log entry keeps its message after history dropped it */
START_TEST(test_log_keeps_message)
{
    apr_uint64_t cursor = 0, lost;
    ws_chan_msg_t m;

    mk(64 * KB, 4);
    pub_n("one", (ws_chan_limits_t){1, 0}, T0);
    pub_n("one", (ws_chan_limits_t){1, 0}, T0);
    pub_n("none", NO_HISTORY, T0);
    ck_assert_uint_eq(info_of("one").history, 1);
    ck_assert_uint_eq(stats().history_msgs, 1);
    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_SUCCESS);
    ck_assert(m.len == 2 && !memcmp(m.data, "m1", 2) && m.id.seq == 1);
    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_SUCCESS);
    ck_assert(m.len == 2 && !memcmp(m.data, "m2", 2));
    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_SUCCESS);
    ck_assert(m.len == 2 && !memcmp(m.data, "m1", 2));
    ck_assert(m.name_len == 4 && !memcmp(m.name, "none", 4));
    check_store();
}
END_TEST

/* entries the log overwrites give their memory back: publishing on
 * and on costs nothing once the log is full */
START_TEST(test_log_steady)
{
    static char data[100];
    apr_size_t full = 0;
    int i;

    mk(64 * KB, 4);
    ck_assert_int_eq(ws_chan_subscribe(st, "s", 1, 0, NULL), APR_SUCCESS);
    for (i = 0; i < 10 * 64; i++) {
        ck_assert_int_eq(ws_chan_publish(st, "s", 1, WS_CHAN_BINARY, data,
                                         sizeof(data), NO_HISTORY, T0, NULL,
                                         NULL),
                         APR_SUCCESS);
        if (i == 64) {
            full = stats().bytes_in_use;
        }
        if (i > 64) {
            REQUIRE(stats().bytes_in_use == full);
        }
    }
    ck_assert_uint_eq(stats().failed, 0);
    ck_assert_uint_eq(stats().evicted, 0);
    check_store();
}
END_TEST

/* ---- memory ------------------------------------------------------------- */

START_TEST(test_nospc_too_big)
{
    apr_size_t size = WS_CHAN_STORE_MIN_SIZE;
    char *big = apr_pcalloc(pool, size);
    ws_chan_info_t before;

    mk(size, 4);
    ck_assert_int_eq(ws_chan_publish(st, "c", 1, WS_CHAN_TEXT, big, size,
                                     KEEP16, T0, NULL, NULL),
                     APR_ENOSPC);
    ck_assert(!exists("c")); /* not left behind half made */
    ck_assert_uint_eq(stats().failed, 1);
    ck_assert_uint_eq(stats().channels, 0);
    pub_n("c", KEEP16, T0);
    before = info_of("c");
    ck_assert_int_eq(ws_chan_publish(st, "c", 1, WS_CHAN_TEXT, big,
                                     (apr_size_t)-1, KEEP16, T0, NULL, NULL),
                     APR_ENOSPC);
    /* less than the region, more than its arena */
    ck_assert_int_eq(ws_chan_publish(st, "c", 1, WS_CHAN_TEXT, big,
                                     size - 1024, KEEP16, T0, NULL, NULL),
                     APR_ENOSPC);
    ck_assert_uint_eq(info_of("c").last.seq, before.last.seq);
    ck_assert_uint_eq(info_of("c").history, 1);
    ck_assert_uint_eq(stats().failed, 3);
    pub_n("c", KEEP16, T0);
    check_store();
}
END_TEST

/* Memory held by what cannot go -- channels with subscribers -- refuses
 * a publish; unsubscribing gives it back. */
START_TEST(test_nospc_recovery)
{
    static char data[2000];
    char name[32];
    int n, i;

    mk(64 * KB, 4);
    for (n = 0;; n++) {
        snprintf(name, sizeof(name), "c%04d", n);
        if (ws_chan_subscribe(st, name, strlen(name), n % 4, NULL)
            != APR_SUCCESS) {
            break;
        }
    }
    ck_assert_int_gt(n, 100);
    ck_assert(!exists(name));
    check_store();
    ck_assert_int_eq(ws_chan_publish(st, "c0000", 5, WS_CHAN_TEXT, data,
                                     sizeof(data), KEEP16, T0, NULL, NULL),
                     APR_ENOSPC);
    ck_assert_uint_eq(stats().failed, 1);
    ck_assert_uint_eq(info_of("c0000").last.seq, 0);
    check_store();
    for (i = 1; i <= 40; i++) {
        snprintf(name, sizeof(name), "c%04d", i);
        ck_assert_int_eq(ws_chan_unsubscribe(st, name, 5, i % 4), APR_SUCCESS);
        ck_assert(!exists(name));
    }
    ck_assert_int_eq(ws_chan_publish(st, "c0000", 5, WS_CHAN_TEXT, data,
                                     sizeof(data), KEEP16, T0, NULL, NULL),
                     APR_SUCCESS);
    check_store();
}
END_TEST

/* Channels nobody subscribes to make room, least recently published
 * first; their history is lost, so they come back with a new epoch.
 * A subscribed channel's history is not touched while they suffice, nor
 * is an unsubscribed one that was made first but publishes all along. */
START_TEST(test_evict)
{
    static char data[1500];
    apr_uint64_t e0 = 0, busy;
    char name[32];
    int i;

    mk(256 * KB, 4);
    busy = pub_n("busy", KEEP16, T0).id.epoch;
    ck_assert_int_eq(ws_chan_subscribe(st, "keep", 4, 0, NULL), APR_SUCCESS);
    for (i = 0; i < 3; i++) {
        pub_n("keep", KEEP16, T0);
    }
    for (i = 0; i < 400; i++) {
        if (i % 10 == 0) {
            pub_n("busy", KEEP16, T0);
        }
        ws_chan_pub_t p;
        snprintf(name, sizeof(name), "e%d", i);
        ck_assert_int_eq(ws_chan_publish(st, name, strlen(name), WS_CHAN_TEXT,
                                         data, sizeof(data), KEEP16, T0, &p,
                                         NULL),
                         APR_SUCCESS);
        e0 = i ? e0 : p.id.epoch;
        REQUIRE(ws_chan_store_check(st) == APR_SUCCESS);
    }
    ck_assert_uint_gt(stats().evicted, 0);
    ck_assert_uint_eq(stats().failed, 0);
    ck_assert_uint_eq(info_of("keep").history, 3);
    ck_assert_uint_eq(info_of("busy").last.epoch, busy);
    ck_assert_uint_eq(info_of("busy").history, 16);
    ck_assert(exists("e399") && info_of("e399").history == 1);
    /* the first ones went: made anew, with a new epoch */
    ck_assert(!exists("e0"));
    {
        ws_chan_pub_t p = pub_n("e0", KEEP16, T0);
        ck_assert_uint_gt(p.id.epoch, e0);
        ck_assert_uint_eq(p.id.seq, 1);
    }
    /* the log still ran in order; readers see what they lost */
    ck_assert_uint_eq(stats().log_head, 1 + 3 + 40 + 400 + 1);
    check_store();
}
END_TEST

/* Evicting a channel whose retained messages the log holds as well
 * would free nothing and lose its history for no gain: when the log's
 * oldest entries are what holds the memory, they go first. */
START_TEST(test_evict_spares_pinned)
{
    static char data[3000];
    apr_uint64_t cursor, lost = 0, epoch;
    ws_chan_msg_t m;
    int i;

    mk(64 * KB, 4);
    ck_assert_int_eq(ws_chan_subscribe(st, "s", 1, 0, NULL), APR_SUCCESS);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(ws_chan_publish(st, "s", 1, WS_CHAN_BINARY, data,
                                         sizeof(data), NO_HISTORY, T0, NULL,
                                         NULL),
                         APR_SUCCESS);
    }
    for (i = 0; i < 5; i++) {
        epoch = pub_n("h", KEEP16, T0).id.epoch; /* nobody subscribes */
    }
    for (i = 0; i < 64 && !lost; i++) {
        ck_assert_int_eq(ws_chan_publish(st, "s", 1, WS_CHAN_BINARY, data,
                                         sizeof(data), NO_HISTORY, T0, NULL,
                                         NULL),
                         APR_SUCCESS);
        cursor = 0;
        if (ws_chan_log_read(st, &cursor, &m, &lost) == APR_SUCCESS) {
            lost = 0;
        }
    }
    /* the first time memory ran out, one of the 3 oldest entries went */
    ck_assert_uint_ge(lost, 1);
    ck_assert_uint_le(lost, 3);
    ck_assert_uint_eq(stats().evicted, 0);
    ck_assert_uint_eq(info_of("h").history, 5);
    ck_assert_uint_eq(info_of("h").last.epoch, epoch);
    /* once its entries are the oldest, "h" goes with them */
    for (i = 0; i < 64; i++) {
        ck_assert_int_eq(ws_chan_publish(st, "s", 1, WS_CHAN_BINARY, data,
                                         sizeof(data), NO_HISTORY, T0, NULL,
                                         NULL),
                         APR_SUCCESS);
    }
    ck_assert_uint_eq(stats().evicted, 1);
    ck_assert(!exists("h"));
    check_store();
}
END_TEST

/* Messages that only the log holds (no history) fill the region: the
 * oldest entries go, so publishing goes on and a slow reader is told
 * how many it lost -- the region must never stay full for good. */
START_TEST(test_log_under_pressure)
{
    static char data[3000];
    apr_uint64_t cursor = 0, lost = 0, n = 100, i;
    ws_chan_msg_t m;

    mk(64 * KB, 4);
    /* a log's worth of these is more than twice the region */
    ck_assert_uint_gt(stats().log_size * sizeof(data), 2 * 64 * KB);
    ck_assert_int_eq(ws_chan_subscribe(st, "big", 3, 1, NULL), APR_SUCCESS);
    for (i = 0; i < n; i++) {
        data[0] = (char)i;
        ck_assert_int_eq(ws_chan_publish(st, "big", 3, WS_CHAN_BINARY, data,
                                         sizeof(data), NO_HISTORY, T0, NULL,
                                         NULL),
                         APR_SUCCESS);
    }
    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_INCOMPLETE);
    ck_assert_uint_gt(lost, n - 64); /* more than the log's size explains */
    ck_assert_uint_lt(lost, n);
    for (i = cursor; i < n; i++) {
        ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_SUCCESS);
        ck_assert(m.id.seq == i + 1 && m.len == sizeof(data)
                  && m.data[0] == (char)i);
    }
    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_EAGAIN);
    ck_assert_uint_eq(stats().evicted, 0);
    check_store();
}
END_TEST

/* Last resort: the history of subscribed channels goes (theirs is not
 * lost for them, they got it live): same epoch, resume from the newest
 * id is still no gap, from an older one a gap. */
START_TEST(test_history_under_pressure)
{
    static char data[5000]; /* 16 of them: more than the region */
    ws_chan_info_t a;
    int i;

    mk(64 * KB, 4);
    ck_assert_int_eq(ws_chan_subscribe(st, "a", 1, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(ws_chan_subscribe(st, "b", 1, 1, NULL), APR_SUCCESS);
    for (i = 0; i < 5; i++) {
        pub_n("a", KEEP16, T0);
    }
    a = info_of("a");
    for (i = 0; i < 60; i++) {
        ck_assert_int_eq(ws_chan_publish(st, "b", 1, WS_CHAN_BINARY, data,
                                         sizeof(data), KEEP16, T0, NULL,
                                         NULL),
                         APR_SUCCESS);
    }
    ck_assert_uint_eq(info_of("a").history, 0);
    ck_assert_uint_eq(info_of("a").last.epoch, a.last.epoch);
    ck_assert_uint_eq(info_of("a").last.seq, 5);
    expect_resume("a", a.last.epoch, 5, 0, 6, 1, 0);
    expect_resume("a", a.last.epoch, 4, 1, 6, 1, 0);
    ck_assert_uint_gt(info_of("b").history, 0);
    ck_assert_uint_eq(stats().failed, 0);
    check_store();
}
END_TEST

/* ---- subscribers per slot ----------------------------------------------- */

START_TEST(test_slots)
{
    static const apr_uint32_t slots[] = {0, 0, 3, 7};
    unsigned char map[1];
    apr_uint64_t removed = 99;
    ws_chan_pub_t p;
    int i;

    mk(64 * KB, 8);
    for (i = 0; i < N_ROWS(slots); i++) {
        ck_assert_int_eq(ws_chan_subscribe(st, "s", 1, slots[i], NULL),
                         APR_SUCCESS);
    }
    ck_assert_uint_eq(stats().subscribers, 4);
    ck_assert_int_eq(ws_chan_publish(st, "s", 1, WS_CHAN_TEXT, "x", 1, KEEP16,
                                     T0, &p, map),
                     APR_SUCCESS);
    ck_assert_uint_eq(p.subscribers, 4);
    ck_assert_uint_eq(map[0], 0x89);

    ck_assert_int_eq(ws_chan_slot_reset(st, 0, &removed), APR_SUCCESS);
    ck_assert_uint_eq(removed, 2);
    ck_assert_int_eq(ws_chan_slot_reset(st, 5, &removed), APR_SUCCESS);
    ck_assert_uint_eq(removed, 0);
    ck_assert_int_eq(ws_chan_publish(st, "s", 1, WS_CHAN_TEXT, "x", 1, KEEP16,
                                     T0, &p, map),
                     APR_SUCCESS);
    ck_assert_uint_eq(p.subscribers, 2);
    ck_assert_uint_eq(map[0], 0x88);
    ck_assert_int_eq(ws_chan_unsubscribe(st, "s", 1, 3), APR_SUCCESS);
    ck_assert_int_eq(ws_chan_unsubscribe(st, "s", 1, 3), APR_NOTFOUND);
    ck_assert_int_eq(ws_chan_unsubscribe(st, "s", 1, 0), APR_NOTFOUND);
    ck_assert_int_eq(ws_chan_unsubscribe(st, "t", 1, 0), APR_NOTFOUND);
    ck_assert_uint_eq(info_of("s").subscribers, 1);
    ck_assert_uint_eq(stats().subscribers, 1);

    /* slot out of range */
    ck_assert_int_eq(ws_chan_subscribe(st, "s", 1, 8, NULL), APR_EINVAL);
    ck_assert_int_eq(ws_chan_unsubscribe(st, "s", 1, 8), APR_EINVAL);
    ck_assert_int_eq(ws_chan_slot_reset(st, 8, NULL), APR_EINVAL);

    /* a channel with nothing retained goes with its last subscriber */
    ck_assert_int_eq(ws_chan_subscribe(st, "t", 1, 2, NULL), APR_SUCCESS);
    ck_assert_uint_eq(stats().channels, 2);
    ck_assert_int_eq(ws_chan_unsubscribe(st, "t", 1, 2), APR_SUCCESS);
    ck_assert(!exists("t"));
    ck_assert_uint_eq(stats().channels, 1);
    check_store();
}
END_TEST

/* a dead child's subscriptions in many channels go at once; channels
 * left with nothing are freed, the others keep their other slots */
START_TEST(test_slot_reset_many)
{
    apr_uint64_t removed;
    char name[32];
    int i;

    mk(256 * KB, 4);
    for (i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        ck_assert_int_eq(ws_chan_subscribe(st, name, strlen(name), 2, NULL),
                         APR_SUCCESS);
        if (i % 2) {
            ck_assert_int_eq(ws_chan_subscribe(st, name, strlen(name), 2,
                                               NULL),
                             APR_SUCCESS);
        }
        if (i % 5 == 0) {
            ck_assert_int_eq(ws_chan_subscribe(st, name, strlen(name), 1,
                                               NULL),
                             APR_SUCCESS);
        }
    }
    ck_assert_uint_eq(stats().subscribers, 100 + 50 + 20);
    ck_assert_int_eq(ws_chan_slot_reset(st, 2, &removed), APR_SUCCESS);
    ck_assert_uint_eq(removed, 150);
    ck_assert_uint_eq(stats().subscribers, 20);
    ck_assert_uint_eq(stats().channels, 20);
    ck_assert_uint_eq(info_of("r5").subscribers, 1);
    ck_assert(!exists("r1"));
    check_store();
}
END_TEST

/* as many slots as a prefork server: one channel subscribed everywhere */
START_TEST(test_slots_all)
{
    const apr_uint32_t n = 1000;
    unsigned char *map = apr_palloc(pool, WS_CHAN_BITMAP_BYTES(n));
    ws_chan_pub_t p;
    apr_uint32_t i;

    mk(256 * KB, n);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(ws_chan_subscribe(st, "x", 1, i, NULL), APR_SUCCESS);
    }
    ck_assert_int_eq(ws_chan_publish(st, "x", 1, WS_CHAN_TEXT, "", 0, KEEP16,
                                     T0, &p, map),
                     APR_SUCCESS);
    ck_assert_uint_eq(p.subscribers, n);
    for (i = 0; i < n; i++) {
        REQUIRE(WS_CHAN_SLOT_ISSET(map, i));
    }
    for (i = 0; i < n; i += 2) {
        ck_assert_int_eq(ws_chan_slot_reset(st, i, NULL), APR_SUCCESS);
    }
    ck_assert_int_eq(ws_chan_publish(st, "x", 1, WS_CHAN_TEXT, "", 0, KEEP16,
                                     T0, &p, map),
                     APR_SUCCESS);
    ck_assert_uint_eq(p.subscribers, n / 2);
    for (i = 0; i < n; i++) {
        REQUIRE(WS_CHAN_SLOT_ISSET(map, i) == (i % 2));
    }
    check_store();
}
END_TEST

/* ---- names -------------------------------------------------------------- */

static const struct {
    apr_size_t len;
    apr_status_t rv;
} name_rows[] = {
    {0, APR_EINVAL}, {1, APR_SUCCESS}, {2, APR_SUCCESS},
    {254, APR_SUCCESS}, {255, APR_SUCCESS}, {256, APR_EINVAL},
};

/* every call takes a name of 1..255 arbitrary bytes (NUL included) */
START_TEST(test_names)
{
    char name[256];
    apr_size_t len = name_rows[_i].len, i;
    apr_status_t rv = name_rows[_i].rv;
    ws_chan_id_t last = {0, 0}, first;
    apr_uint64_t cursor = 0, lost;
    apr_uint32_t subs;
    ws_chan_info_t info;
    ws_chan_msg_t m;
    replay_t r = {0};
    int gap;

    mk(64 * KB, 4);
    for (i = 0; i < sizeof(name); i++) {
        name[i] = (char)(i * 7); /* NUL first */
    }
    ck_assert_int_eq(ws_chan_subscribe(st, name, len, 0, NULL), rv);
    ck_assert_int_eq(ws_chan_publish(st, name, len, WS_CHAN_TEXT, "m1", 2,
                                     KEEP16, T0, NULL, NULL),
                     rv);
    ck_assert_int_eq(ws_chan_info(st, name, len, &info), rv);
    ck_assert_int_eq(ws_chan_resume(st, name, len, last, &first, &gap,
                                    collect, &r),
                     rv);
    ck_assert_int_eq(ws_chan_unsubscribe(st, name, len, 0), rv);
    ck_assert_int_eq(ws_chan_delete(st, name, len, T0, &subs, NULL), rv);
    ck_assert_int_eq(ws_chan_subscribe(st, NULL, 1, 0, NULL), APR_EINVAL);
    if (rv == APR_SUCCESS) {
        ck_assert_int_eq(r.n, 1);
        ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost),
                         APR_SUCCESS);
        ck_assert(m.name_len == len && !memcmp(m.name, name, len));
        ck_assert_int_eq(ws_chan_info(st, name, len - 1, &info),
                         len > 1 ? APR_NOTFOUND : APR_EINVAL);
    }
    ck_assert_uint_eq(stats().channels, rv == APR_SUCCESS);
    check_store();
}
END_TEST

/* names that differ in one byte, in length, or only after a NUL are
 * different channels */
START_TEST(test_names_distinct)
{
    static const struct {
        const char *name;
        apr_size_t len;
    } more[] = {{"ab", 2}, {"a\0", 2}, {"a\0b", 3}, {"a\0c", 3}, {"\0\0", 2}};
    apr_uint64_t epochs[256 + N_ROWS(more)];
    ws_chan_info_t info;
    char c;
    int i, j;

    mk(256 * KB, 4);
    for (i = 0; i < 256 + N_ROWS(more); i++) {
        const char *name = i < 256 ? &c : more[i - 256].name;
        apr_size_t len = i < 256 ? 1 : more[i - 256].len;
        int times = i < 256 ? 1 : i - 256 + 2; /* more[k]: k + 2 */
        c = (char)i;
        for (j = 0; j < times; j++) {
            ck_assert_int_eq(ws_chan_publish(st, name, len, WS_CHAN_TEXT, "m",
                                             1, KEEP16, T0, NULL, NULL),
                             APR_SUCCESS);
        }
    }
    ck_assert_uint_eq(stats().channels, 256 + N_ROWS(more));
    for (i = 0; i < 256 + N_ROWS(more); i++) {
        const char *name = i < 256 ? &c : more[i - 256].name;
        apr_size_t len = i < 256 ? 1 : more[i - 256].len;
        c = (char)i;
        ck_assert_int_eq(ws_chan_info(st, name, len, &info), APR_SUCCESS);
        ck_assert_uint_eq(info.last.seq, i < 256 ? 1 : i - 256 + 2);
        epochs[i] = info.last.epoch;
        for (j = 0; j < i; j++) {
            REQUIRE(epochs[j] != epochs[i]);
        }
    }
    check_store();
}
END_TEST

/* ---- many channels ------------------------------------------------------ */

/* 4000 channels in a table of 1024 buckets: chains of 4 on average, so
 * lookups pass channels of other names in the same bucket. */
START_TEST(test_many_channels)
{
    char name[32];
    apr_uint32_t subs;
    ws_chan_info_t info;
    int i, n = 4000, gone = 0;

    mk(2048 * KB, 4);
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "ch.%d", i);
        REQUIRE(ws_chan_subscribe(st, name, strlen(name), i % 4, NULL)
                == APR_SUCCESS);
        pub_n(name, (ws_chan_limits_t){4, 0}, T0);
        pub_n(name, (ws_chan_limits_t){4, 0}, T0);
    }
    ck_assert_uint_eq(stats().channels, n);
    ck_assert_uint_eq(stats().evicted + stats().failed, 0);
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "ch.%d", i);
        if (i % 3 == 0) {
            REQUIRE(ws_chan_delete(st, name, strlen(name), T0, &subs, NULL)
                    == APR_SUCCESS && subs == 1);
        }
        if (i % 2 == 0) {
            REQUIRE(ws_chan_unsubscribe(st, name, strlen(name), i % 4)
                    == APR_SUCCESS);
        }
    }
    check_store();
    /* flush the log: what has neither history nor subscribers goes */
    for (i = 0; i < (int)stats().log_size; i++) {
        pub_n("flush", NO_HISTORY, T0);
    }
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "ch.%d", i);
        if (i % 6 == 0) {
            REQUIRE(ws_chan_info(st, name, strlen(name), &info)
                    == APR_NOTFOUND);
            gone++;
            continue;
        }
        REQUIRE(ws_chan_info(st, name, strlen(name), &info) == APR_SUCCESS);
        REQUIRE(info.subscribers == (i % 2 ? 1u : 0u));
        REQUIRE(info.history == (i % 3 ? 2u : 0u));
        REQUIRE(info.last.seq == (i % 3 ? 2u : 0u));
    }
    ck_assert_uint_eq(stats().channels, n - gone + 1);
    check_store();
}
END_TEST

/* ---- a region kept across a restart ------------------------------------ */

START_TEST(test_attach_keep)
{
    ws_chan_info_t a, b, c;
    apr_uint64_t cursor, lost;
    ws_chan_msg_t m;
    int kept = 0, i;

    mk(64 * KB, 4);
    ck_assert_int_eq(ws_chan_subscribe(st, "a", 1, 3, NULL), APR_SUCCESS);
    for (i = 0; i < 5; i++) {
        pub_n("a", KEEP16, T0);
        pub_n("b", (ws_chan_limits_t){2, 0}, T0);
    }
    a = info_of("a");
    b = info_of("b");
    cursor = ws_chan_log_head(st) - 1;
    /* a graceful restart: the region, as mapped anew by the parent */
    st = NULL;
    ck_assert_int_eq(ws_chan_store_attach(&st, region, 64 * KB, 4,
                                          T0 + SEC(60), &kept),
                     APR_SUCCESS);
    ck_assert_int_eq(kept, 1);
    c = info_of("a");
    ck_assert(!memcmp(&a, &c, sizeof(a)));
    c = info_of("b");
    ck_assert(!memcmp(&b, &c, sizeof(b)));
    expect_resume("a", a.last.epoch, 2, 0, 3, 3, 5);
    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost), APR_SUCCESS);
    ck_assert(m.name[0] == 'b' && m.id.seq == 5);
    ck_assert_uint_eq(pub_n("a", KEEP16, T0).id.seq, 6);
    ck_assert_uint_eq(stats().subscribers, 1);
    check_store();
}
END_TEST

enum { SIZE, NSLOTS, MAGIC, VERSION, COUNTS, HEAP, CLOCK_BACK };

/* What changes, and whether the old header could still be read (then
 * the log positions go on and a reader behind is told what it lost). */
static const struct {
    int what, readable;
} mismatch_rows[] = {
    {SIZE, 1}, {NSLOTS, 1}, {MAGIC, 0}, {VERSION, 0},
    {COUNTS, 1}, {HEAP, 1}, {CLOCK_BACK, 1},
};

START_TEST(test_attach_mismatch)
{
    apr_size_t size = 64 * KB;
    apr_uint32_t nslots = 4;
    apr_uint64_t max_epoch = 0, head, cursor, lost = 99;
    apr_time_t now = T0 + SEC(60);
    char name[32];
    ws_chan_msg_t m;
    int kept = -1, i;

    mk(64 * KB, 4);
    for (i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        ck_assert_int_eq(ws_chan_subscribe(st, name, strlen(name), 0, NULL),
                         APR_SUCCESS);
        pub_n(name, KEEP16, T0);
        ck_assert_int_eq(ws_chan_delete(st, name, strlen(name), T0, NULL,
                                        NULL),
                         APR_SUCCESS);
        max_epoch = info_of(name).last.epoch;
    }
    head = ws_chan_log_head(st);
    switch (mismatch_rows[_i].what) {
    case SIZE: size -= 8; break;
    case NSLOTS: nslots++; break;
    case MAGIC: region[0] ^= 1; break;
    case VERSION: st->version++; break;
    case COUNTS: st->subscribers++; break;
    case HEAP: st->heap.in_use -= 8; break;
    case CLOCK_BACK: nslots = 5; now = T0 - SEC(3600); break;
    }
    ck_assert_int_eq(ws_chan_store_attach(&st, region, size, nslots, now,
                                          &kept),
                     APR_SUCCESS);
    ck_assert_int_eq(kept, 0);
    check_store();
    ck_assert_uint_eq(stats().channels, 0);
    ck_assert_uint_eq(stats().subscribers, 0);
    ck_assert(!exists("c0"));
    /* ids never given before in this region */
    ck_assert_uint_gt(pub_n("c0", KEEP16, T0).id.epoch, max_epoch);
    ck_assert_uint_eq(info_of("c0").last.seq, 1);
    /* a reader of the old generation, 2 entries behind */
    cursor = head - 2;
    ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost),
                     APR_INCOMPLETE);
    if (mismatch_rows[_i].readable) {
        ck_assert_uint_eq(ws_chan_log_head(st), head + 1);
        ck_assert_uint_eq(lost, 2);
        ck_assert_uint_eq(cursor, head);
        ck_assert_int_eq(ws_chan_log_read(st, &cursor, &m, &lost),
                         APR_SUCCESS);
        ck_assert(m.name_len == 2 && !memcmp(m.name, "c0", 2));
    }
    else {
        ck_assert_uint_eq(ws_chan_log_head(st), 1);
        ck_assert_uint_eq(lost, 0);
        ck_assert_uint_eq(cursor, 1);
    }
}
END_TEST

/* ---- random run against a model ----------------------------------------- */

/* The model: what a user of the store should see, written the slow and
 * obvious way -- per channel its epoch, next seq, retained messages,
 * limits and subscribers per slot; every log entry ever made.  Memory is
 * ample, so nothing is evicted and the log keeps exactly its last
 * log_size entries.  A channel exists while it has subscribers, history
 * or an entry in the log. */

#define M_NAMES 24
#define M_SLOTS 4
#define M_OPS 100000
#define M_KEEP 8
#define M_DATA 200

typedef struct {
    apr_uint64_t seq;
    apr_time_t time;
    apr_uint32_t len;
    unsigned char fill;
} mmsg_t;

typedef struct {
    int exists;
    apr_uint64_t epoch, next_seq;
    ws_chan_limits_t limits;
    mmsg_t hist[M_KEEP + 1];
    int nhist;
    apr_uint32_t subs[M_SLOTS];
    apr_uint32_t in_log; /* entries of the log (kept) naming it */
} mchan_t;

typedef struct {
    int chan, type;
    apr_uint64_t epoch, seq;
    apr_uint32_t len;
    unsigned char fill;
} mlog_t;

/* many names, so that channels often go quiet long enough to be freed;
 * the rest are "room-<n>" */
static struct {
    const char *name;
    apr_size_t len;
} m_names[M_NAMES] = {
    {"a", 1}, {"b", 1}, {"news", 4}, {"x/y", 3}, {"chat.room.1", 11},
    {"\0", 1}, {"\0\0", 2}, {"a\0", 2}, {"ticker:EUR/USD", 14}, {"Z", 1},
};

static const ws_chan_limits_t m_limits[] = {
    {0, 0}, {1, 0}, {3, 0}, {8, 0}, {3, 5}, {8, 5}, {8, 30}, {1, 30},
};

static mchan_t mc[M_NAMES];
static mlog_t *mlog;
static apr_uint64_t mhead, mcur, msize, max_epoch;
static apr_time_t mnow;
static unsigned char mbuf[M_DATA];

static apr_uint32_t m_subs(const mchan_t *c)
{
    apr_uint32_t n = 0;
    int s;

    for (s = 0; s < M_SLOTS; s++) {
        n += c->subs[s];
    }
    return n;
}

static void m_created(mchan_t *c, apr_uint64_t epoch)
{
    REQUIRE_MSG(epoch > max_epoch, "epoch %llu not new",
                (unsigned long long)epoch);
    max_epoch = epoch;
    memset(c, 0, sizeof(*c));
    c->exists = 1;
    c->epoch = epoch;
    c->next_seq = 1;
}

static void m_drop(mchan_t *c)
{
    memmove(c->hist, c->hist + 1, --c->nhist * sizeof(c->hist[0]));
}

static apr_uint64_t m_age(mchan_t *c)
{
    apr_uint64_t n = 0;

    while (c->limits.seconds && c->nhist
           && mnow - c->hist[0].time > SEC(c->limits.seconds)) {
        m_drop(c);
        n++;
    }
    return n;
}

static void m_log(int chan, int type, apr_uint64_t seq, apr_uint32_t len,
                  unsigned char fill)
{
    mlog_t *e = &mlog[mhead];

    if (mhead >= msize) {
        mc[mlog[mhead - msize].chan].in_log--;
    }
    e->chan = chan;
    e->type = type;
    e->epoch = mc[chan].epoch;
    e->seq = seq;
    e->len = len;
    e->fill = fill;
    mc[chan].in_log++;
    mhead++;
}

static void m_check_map(const mchan_t *c, const unsigned char *map)
{
    int s;

    for (s = 0; s < M_SLOTS; s++) {
        REQUIRE(WS_CHAN_SLOT_ISSET(map, s) == (c->subs[s] > 0));
    }
}

static int m_same_data(const ws_chan_msg_t *m, apr_uint32_t len,
                       unsigned char fill)
{
    apr_size_t i;

    if (m->len != len) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)m->data[i] != fill) {
            return 0;
        }
    }
    return 1;
}

static void m_publish(int i)
{
    mchan_t *c = &mc[i];
    ws_chan_limits_t lim = m_limits[rnd() % N_ROWS(m_limits)];
    apr_uint32_t len = rnd() % M_DATA;
    unsigned char fill = (unsigned char)rnd(), map[1];
    int type = rnd() % 2 ? WS_CHAN_TEXT : WS_CHAN_BINARY;
    ws_chan_pub_t p;

    memset(mbuf, fill, len);
    REQUIRE(ws_chan_publish(st, m_names[i].name, m_names[i].len, type, mbuf,
                            len, lim, mnow, &p, map)
            == APR_SUCCESS);
    if (!c->exists) {
        m_created(c, p.id.epoch);
    }
    REQUIRE(p.id.epoch == c->epoch && p.id.seq == c->next_seq);
    REQUIRE(p.log == mhead && p.subscribers == m_subs(c));
    m_check_map(c, map);
    c->limits = lim;
    if (lim.messages) {
        mmsg_t *h = &c->hist[c->nhist++];
        h->seq = c->next_seq;
        h->time = mnow;
        h->len = len;
        h->fill = fill;
    }
    while (c->nhist > (int)lim.messages) {
        m_drop(c);
    }
    m_age(c);
    m_log(i, type, c->next_seq++, len, fill);
}

static void m_subscribe(int i)
{
    mchan_t *c = &mc[i];
    int slot = rnd() % M_SLOTS;
    ws_chan_id_t last;

    REQUIRE(ws_chan_subscribe(st, m_names[i].name, m_names[i].len, slot,
                              &last)
            == APR_SUCCESS);
    if (!c->exists) {
        m_created(c, last.epoch);
    }
    REQUIRE(last.epoch == c->epoch && last.seq == c->next_seq - 1);
    c->subs[slot]++;
}

static void m_unsubscribe(int i)
{
    mchan_t *c = &mc[i];
    int slot = rnd() % M_SLOTS, had, s;

    for (s = 0; s < M_SLOTS && rnd() % 4; s++) { /* mostly one in use */
        if (c->subs[(slot + s) % M_SLOTS]) {
            slot = (slot + s) % M_SLOTS;
            break;
        }
    }
    had = c->exists && c->subs[slot];

    REQUIRE(ws_chan_unsubscribe(st, m_names[i].name, m_names[i].len, slot)
            == (had ? APR_SUCCESS : APR_NOTFOUND));
    c->subs[slot] -= had ? 1 : 0;
}

static void m_reset(void)
{
    int slot = rnd() % M_SLOTS, i;
    apr_uint64_t removed, n = 0;

    for (i = 0; i < M_NAMES; i++) {
        n += mc[i].subs[slot];
        mc[i].subs[slot] = 0;
    }
    REQUIRE(ws_chan_slot_reset(st, slot, &removed) == APR_SUCCESS);
    REQUIRE(removed == n);
}

static void m_delete(int i)
{
    mchan_t *c = &mc[i];
    ws_chan_info_t info;
    unsigned char map[1];
    apr_uint32_t n;

    REQUIRE(ws_chan_delete(st, m_names[i].name, m_names[i].len, mnow, &n, map)
            == (c->exists ? APR_SUCCESS : APR_NOTFOUND));
    if (!c->exists) {
        return;
    }
    REQUIRE(n == m_subs(c));
    m_check_map(c, map);
    REQUIRE(ws_chan_info(st, m_names[i].name, m_names[i].len, &info)
            == APR_SUCCESS);
    REQUIRE(info.last.epoch > max_epoch);
    max_epoch = c->epoch = info.last.epoch;
    c->next_seq = 1;
    c->nhist = 0;
    m_log(i, WS_CHAN_DELETED, 0, 0, 0);
}

static void m_trim(void)
{
    apr_uint64_t n = 0;
    int i;

    for (i = 0; i < M_NAMES; i++) {
        n += mc[i].exists ? m_age(&mc[i]) : 0;
    }
    REQUIRE(ws_chan_trim(st, mnow) == n);
}

/* what a resume replayed, checked against the model as it comes */
typedef struct {
    const mchan_t *c;
    int next; /* index in c->hist of the message expected next */
    int n;
} mreplay_t;

static apr_status_t m_collect(void *baton, const ws_chan_msg_t *m)
{
    mreplay_t *r = baton;
    const mmsg_t *h = &r->c->hist[r->next++];

    REQUIRE(r->next <= r->c->nhist);
    REQUIRE(m->id.epoch == r->c->epoch && m->id.seq == h->seq);
    REQUIRE(m_same_data(m, h->len, h->fill));
    r->n++;
    return APR_SUCCESS;
}

static void m_resume(int i)
{
    const mchan_t *c = &mc[i];
    ws_chan_id_t last, first;
    apr_uint64_t oldest, from;
    mreplay_t r = {c, 0, 0};
    int gap = -1, want_gap, k;

    last.epoch = c->epoch + (rnd() % 4 ? 0 : 1 + rnd() % 3);
    if (rnd() % 8 == 0) {
        last.epoch = c->epoch - 1 - rnd() % 3;
    }
    oldest = c->nhist ? c->hist[0].seq : c->next_seq;
    last.seq = rnd() % (c->next_seq + 2); /* mostly near what is kept */
    if (rnd() % 2 && oldest >= 2) {
        last.seq = oldest - 2 + rnd() % (c->next_seq - oldest + 4);
    }
    if (!c->exists) {
        REQUIRE(ws_chan_resume(st, m_names[i].name, m_names[i].len, last,
                               &first, &gap, m_collect, &r)
                == APR_NOTFOUND);
        return;
    }
    want_gap = !(last.epoch == c->epoch && last.seq < c->next_seq
                 && last.seq + 1 >= oldest);
    from = want_gap ? oldest : last.seq + 1;
    for (k = 0; k < c->nhist && c->hist[k].seq < from; k++) {
    }
    r.next = k;
    REQUIRE(ws_chan_resume(st, m_names[i].name, m_names[i].len, last, &first,
                           &gap, m_collect, &r)
            == APR_SUCCESS);
    REQUIRE(gap == want_gap);
    REQUIRE(first.epoch == c->epoch && first.seq == from);
    REQUIRE(r.next == c->nhist && r.n == c->nhist - k);
}

/* the reader of the log: now and then it stalls for a while (a busy
 * delivery thread), long enough to fall behind the log */
static void m_read(int op)
{
    static int stalled_until;
    apr_uint64_t tail = mhead > msize ? mhead - msize : 0, lost;
    int n = rnd() % 40;
    ws_chan_msg_t m;
    const mlog_t *e;

    if (op < stalled_until) {
        return;
    }
    if (rnd() % 10 == 0) {
        stalled_until = op + (int)(rnd() % 600);
    }

    if (mcur < tail) {
        apr_uint64_t was = mcur;
        REQUIRE(ws_chan_log_read(st, &mcur, &m, &lost) == APR_INCOMPLETE);
        REQUIRE(lost == tail - was && mcur == tail);
    }
    for (; n > 0; n--) {
        if (mcur == mhead) {
            REQUIRE(ws_chan_log_read(st, &mcur, &m, &lost) == APR_EAGAIN);
            return;
        }
        e = &mlog[mcur];
        REQUIRE(ws_chan_log_read(st, &mcur, &m, &lost) == APR_SUCCESS);
        REQUIRE(m.log == mcur - 1 && m.type == e->type);
        REQUIRE(m.id.epoch == e->epoch && m.id.seq == e->seq);
        REQUIRE(m.name_len == m_names[e->chan].len
                && !memcmp(m.name, m_names[e->chan].name, m.name_len));
        REQUIRE(m_same_data(&m, e->len, e->fill));
    }
}

/* the store agrees with the model on every channel */
static void m_verify(void)
{
    ws_chan_info_t info;
    apr_uint64_t subs = 0, hist = 0;
    apr_uint32_t channels = 0;
    ws_chan_stats_t s;
    int i;

    for (i = 0; i < M_NAMES; i++) {
        mchan_t *c = &mc[i];
        apr_status_t rv = ws_chan_info(st, m_names[i].name, m_names[i].len,
                                       &info);
        if (c->exists && !m_subs(c) && !c->nhist && !c->in_log) {
            c->exists = 0;
        }
        REQUIRE_MSG(rv == (c->exists ? APR_SUCCESS : APR_NOTFOUND),
                    "channel %d: %d", i, rv);
        if (!c->exists) {
            continue;
        }
        REQUIRE(info.last.epoch == c->epoch
                && info.last.seq == c->next_seq - 1);
        REQUIRE(info.history == (apr_uint32_t)c->nhist);
        REQUIRE(info.first_seq
                == (c->nhist ? c->hist[0].seq : c->next_seq));
        REQUIRE(info.subscribers == m_subs(c));
        subs += m_subs(c);
        hist += c->nhist;
        channels++;
    }
    ws_chan_stats(st, &s);
    REQUIRE(s.channels == channels && s.subscribers == subs);
    REQUIRE(s.history_msgs == hist && s.log_head == mhead);
}

START_TEST(test_model)
{
    int op, kept = 0, i;
    apr_uint32_t r;

    for (i = 0; i < M_NAMES; i++) {
        if (!m_names[i].name) {
            m_names[i].name = apr_psprintf(pool, "room-%d", i);
            m_names[i].len = strlen(m_names[i].name);
        }
    }
    mk(256 * KB, M_SLOTS); /* a log of 64 entries, memory to spare */
    msize = stats().log_size;
    mlog = apr_pcalloc(pool, M_OPS * sizeof(*mlog));
    memset(mc, 0, sizeof(mc));
    mnow = T0;
    for (op = 0; op < M_OPS; op++) {
        i = rnd() % M_NAMES;
        r = rnd() % 100;
        if (r < 35) {
            m_publish(i);
        }
        else if (r < 45) {
            m_subscribe(i);
        }
        else if (r < 57) {
            m_unsubscribe(i);
        }
        else if (r < 58) {
            m_reset();
        }
        else if (r < 61) {
            m_delete(i);
        }
        else if (r < 66) {
            m_trim();
        }
        else if (r < 84) {
            m_resume(i);
        }
        else {
            m_read(op);
        }
        if (rnd() % 4 == 0) {
            mnow += SEC(rnd() % 4);
        }
        m_verify();
        if (op % 97 == 0) {
            REQUIRE(ws_chan_store_check(st) == APR_SUCCESS);
        }
        if (op == M_OPS / 2) { /* a graceful restart keeps it all */
            REQUIRE(ws_chan_store_attach(&st, region, 256 * KB, M_SLOTS,
                                         mnow, &kept)
                    == APR_SUCCESS);
            REQUIRE(kept == 1);
        }
    }
    ck_assert_uint_eq(stats().evicted + stats().failed, 0);
    ck_assert_uint_gt(mhead, 2 * msize); /* the log went round */
    check_store();
}
END_TEST


static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}

static Suite *chanstore_suite(void)
{
    Suite *s = suite_create("ws_chanstore");
    TCase *tc;

    tc = tcase("init");
    tcase_add_loop_test(tc, test_init, 0, N_ROWS(init_rows));
    tcase_add_test(tc, test_attach_keep);
    tcase_add_loop_test(tc, test_attach_mismatch, 0, N_ROWS(mismatch_rows));
    suite_add_tcase(s, tc);

    tc = tcase("ids");
    tcase_add_test(tc, test_seq);
    tcase_add_test(tc, test_epochs);
    tcase_add_test(tc, test_delete);
    suite_add_tcase(s, tc);

    tc = tcase("resume");
    tcase_add_loop_test(tc, test_resume, 0, N_ROWS(resume_rows));
    tcase_add_loop_test(tc, test_resume_empty, 0, N_ROWS(resume_empty_rows));
    tcase_add_test(tc, test_resume_errors);
    suite_add_tcase(s, tc);

    tc = tcase("history");
    tcase_add_loop_test(tc, test_history_count, 0, N_ROWS(count_rows));
    tcase_add_test(tc, test_history_limits_change);
    tcase_add_loop_test(tc, test_history_age, 0, N_ROWS(age_rows));
    tcase_add_test(tc, test_history_no_age);
    tcase_add_test(tc, test_trim_frees);
    suite_add_tcase(s, tc);

    tc = tcase("log");
    tcase_add_test(tc, test_log_read);
    tcase_add_loop_test(tc, test_log_overrun, 0, N_ROWS(overrun_rows));
    tcase_add_test(tc, test_log_keeps_message);
    tcase_add_test(tc, test_log_steady);
    suite_add_tcase(s, tc);

    tc = tcase("memory");
    tcase_add_test(tc, test_nospc_too_big);
    tcase_add_test(tc, test_nospc_recovery);
    tcase_add_test(tc, test_evict);
    tcase_add_test(tc, test_evict_spares_pinned);
    tcase_add_test(tc, test_log_under_pressure);
    tcase_add_test(tc, test_history_under_pressure);
    suite_add_tcase(s, tc);

    tc = tcase("slots");
    tcase_add_test(tc, test_slots);
    tcase_add_test(tc, test_slot_reset_many);
    tcase_add_test(tc, test_slots_all);
    suite_add_tcase(s, tc);

    tc = tcase("names");
    tcase_add_loop_test(tc, test_names, 0, N_ROWS(name_rows));
    tcase_add_test(tc, test_names_distinct);
    tcase_add_test(tc, test_many_channels);
    suite_add_tcase(s, tc);

    tc = tcase("model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_model);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ws_test_run(chanstore_suite());
}
