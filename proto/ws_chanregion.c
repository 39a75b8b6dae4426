/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanregion.c -- the channel store's region: layout, formatting,
 * taking over a region kept across a restart, validation and figures.
 */
#include <stddef.h>
#include <string.h>

#include "ws_chanstore_int.h"

typedef struct {
    apr_uint32_t nbuckets;
    apr_uint32_t log_size;
    apr_size_t buckets; /* offsets */
    apr_size_t log;
    apr_size_t arena;
    apr_size_t end;
} layout_t;

/* the largest power of two <= @p v, within [lo, hi] (powers of two) */
static apr_uint32_t pow2_within(apr_size_t v, apr_uint32_t lo,
                                apr_uint32_t hi)
{
    apr_uint32_t p = lo;

    while (p < hi && (apr_size_t)p * 2 <= v) {
        p *= 2;
    }
    return p;
}

/* The tables grow with the region: a bucket per 2 KiB (chains stay
 * short while channels of a few hundred bytes fill it), a log entry per
 * 4 KiB (the log should hold more than a burst of publishes). */
static void compute_layout(apr_size_t size, layout_t *l)
{
    l->nbuckets = pow2_within(size / 2048, 16, 65536);
    l->log_size = pow2_within(size / 4096, 64, 65536);
    l->buckets = (sizeof(ws_chan_store_t) + 7) / 8 * 8;
    l->log = l->buckets + l->nbuckets * sizeof(apr_size_t);
    l->arena = l->log + l->log_size * sizeof(log_entry_t);
    l->end = size / 8 * 8;
}

static apr_status_t args_ok(void *region, apr_size_t size,
                            apr_uint32_t nslots)
{
    if (!region || (apr_uintptr_t)region % 8 || size < WS_CHAN_STORE_MIN_SIZE
        || nslots == 0 || nslots > WS_CHAN_SLOTS_MAX) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t format(ws_chan_store_t *st, apr_size_t size,
                           apr_uint32_t nslots, apr_uint64_t epoch,
                           apr_uint64_t log_pos)
{
    layout_t l;

    compute_layout(size, &l);
    memset(st, 0, l.arena);
    st->version = WS_CHAN_VERSION;
    st->size = size;
    st->nslots = nslots;
    st->nbuckets = l.nbuckets;
    st->log_size = l.log_size;
    st->buckets = l.buckets;
    st->log = l.log;
    st->epoch_next = epoch ? epoch : 1;
    st->log_head = st->log_tail = log_pos;
    if (ws_shmalloc_init(st, &st->heap, l.arena, l.end) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    st->magic = WS_CHAN_MAGIC; /* last: only a complete format is valid */
    return APR_SUCCESS;
}

apr_status_t ws_chan_store_init(ws_chan_store_t **st, void *region,
                                apr_size_t size, apr_uint32_t nslots,
                                apr_time_t now)
{
    apr_status_t rv = args_ok(region, size, nslots);

    if (rv == APR_SUCCESS) {
        *st = region;
        rv = format(*st, size, nslots, (apr_uint64_t)now, 0);
    }
    return rv;
}

apr_status_t ws_chan_store_attach(ws_chan_store_t **st, void *region,
                                  apr_size_t size, apr_uint32_t nslots,
                                  apr_time_t now, int *kept)
{
    ws_chan_store_t *h = region;
    apr_uint64_t epoch = (apr_uint64_t)now, log_pos = 0;
    apr_status_t rv = args_ok(region, size, nslots);
    layout_t l;

    *kept = 0;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *st = h;
    compute_layout(size, &l);
    if (h->magic == WS_CHAN_MAGIC && h->version == WS_CHAN_VERSION) {
        if (h->size == size && h->nslots == nslots
            && h->nbuckets == l.nbuckets && h->log_size == l.log_size
            && h->buckets == l.buckets && h->log == l.log
            && h->heap.start == l.arena && h->heap.end == l.end
            && ws_chan_store_check(h) == APR_SUCCESS) {
            *kept = 1;
            return APR_SUCCESS;
        }
        /* new epochs must not repeat the old ones, even if the clock
         * went back; old readers' cursors must see a gap, not old data */
        epoch = h->epoch_next > epoch ? h->epoch_next : epoch;
        log_pos = h->log_head;
    }
    return format(h, size, nslots, epoch, log_pos);
}

/* ---- validation --------------------------------------------------------- */

/* Totals gathered while walking the region. */
typedef struct {
    apr_uint64_t channels, subs, subs_arrays, hist, hist_bytes, nmsgs;
    apr_uint64_t hist_shared; /* history messages also in the log */
} totals_t;

/* Whether [off, off + len) is inside the arena, @p off aligned. */
static int in_arena(const ws_chan_store_t *st, apr_size_t off, apr_size_t len)
{
    return off % 8 == 0 && off >= st->heap.start && off < st->heap.end
           && len <= st->heap.end - off;
}

static int check_history(const ws_chan_store_t *st, apr_size_t c,
                         totals_t *t)
{
    const chan_t *ch = CH(st, c);
    apr_uint64_t n = 0, bytes = 0, seq = 0;
    apr_size_t m, last = 0;

    for (m = ch->first; m; last = m, m = MS(st, m)->next) {
        const msg_t *msg = MS(st, m);
        if (!in_arena(st, m, sizeof(msg_t)) || ++n > ch->hist_n
            || !in_arena(st, m, offsetof(msg_t, data) + msg->len)
            || msg->chan != c || msg->epoch != ch->epoch
            || (n > 1 && msg->seq != seq + 1) || msg->refs < 1
            || msg->refs > 2
            || (msg->type != WS_CHAN_TEXT && msg->type != WS_CHAN_BINARY)) {
            return 0;
        }
        seq = msg->seq;
        bytes += msg->len;
        t->hist_shared += msg->refs == 2;
    }
    t->hist += n;
    t->hist_bytes += bytes;
    return n == ch->hist_n && bytes == ch->hist_bytes && last == ch->last
           && (!n || seq == ch->next_seq - 1);
}

static int check_subs(const ws_chan_store_t *st, const chan_t *ch,
                      totals_t *t)
{
    const slot_count_t *sc = (const slot_count_t *)COFF(st, ch->subs);
    apr_uint64_t sum = 0;
    apr_uint32_t i;

    if (ch->subs_n > ch->subs_cap || !ch->subs != !ch->subs_cap
        || (ch->subs && !in_arena(st, ch->subs,
                                  ch->subs_cap * sizeof(slot_count_t)))
        || (ch->subs && !ch->subs_n)) {
        return 0;
    }
    for (i = 0; i < ch->subs_n; i++) {
        if (!sc[i].count || sc[i].slot >= st->nslots) {
            return 0;
        }
        sum += sc[i].count;
    }
    t->subs += sum;
    t->subs_arrays += ch->subs != 0;
    return sum == ch->nsubs;
}

static int check_channels(const ws_chan_store_t *st, totals_t *t)
{
    const apr_size_t *buckets = (const apr_size_t *)COFF(st, st->buckets);
    apr_size_t c, prev = 0;
    apr_uint32_t b;

    for (b = 0; b < st->nbuckets; b++) {
        for (c = buckets[b]; c; c = CH(st, c)->hnext) {
            const chan_t *ch = CH(st, c);
            if (!in_arena(st, c, sizeof(chan_t)) || ++t->channels > st->channels
                || (ch->hash & (st->nbuckets - 1)) != b || ch->pinned
                || !ch->name_len || ch->name_len > WS_CHAN_NAME_MAX
                || !check_subs(st, ch, t) || !check_history(st, c, t)) {
                return 0;
            }
            t->nmsgs += ch->nmsgs;
        }
    }
    /* the recency list holds the same channels, linked both ways */
    for (b = 0, c = st->lru_first; c; prev = c, c = CH(st, c)->newer) {
        if (!in_arena(st, c, sizeof(chan_t)) || ++b > st->channels
            || CH(st, c)->older != prev) {
            return 0;
        }
    }
    return b == st->channels && prev == st->lru_last
           && t->channels == st->channels;
}

apr_status_t ws_chan_store_check(const ws_chan_store_t *st)
{
    totals_t t = {0};
    apr_uint64_t pos, log_only = 0, log_shared = 0;

    if (st->magic != WS_CHAN_MAGIC
        || ws_shmalloc_check(st, &st->heap) != APR_SUCCESS
        || !check_channels(st, &t) || st->log_tail > st->log_head
        || st->log_head - st->log_tail > st->log_size) {
        return APR_EGENERAL;
    }
    for (pos = st->log_tail; pos < st->log_head; pos++) {
        const log_entry_t *e = LOG(st, pos);
        if (e->pos != pos || !in_arena(st, e->msg, sizeof(msg_t))
            || MS(st, e->msg)->refs < 1 || MS(st, e->msg)->refs > 2) {
            return APR_EGENERAL;
        }
        log_only += MS(st, e->msg)->refs == 1;
        log_shared += MS(st, e->msg)->refs == 2;
    }
    /* every message block is in a history, in the log, or both; and
     * every block of the arena is a channel, a slot array or a message */
    if (t.subs != st->subscribers || t.hist != st->history_msgs
        || t.hist_bytes != st->history_bytes || t.hist_shared != log_shared
        || t.nmsgs != t.hist + log_only
        || st->heap.blocks != t.channels + t.subs_arrays + t.hist + log_only) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}
