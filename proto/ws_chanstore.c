/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanstore.c -- changing the channel store: subscribers, publish,
 * delete, trim; the lifetime of channels and messages; making room when
 * the region is full.
 */
#include <stddef.h>
#include <string.h>

#include "ws_chanstore_int.h"

/* ---- small helpers ------------------------------------------------------ */

static void lru_unlink(ws_chan_store_t *st, apr_size_t c)
{
    chan_t *ch = CH(st, c);

    *(ch->older ? &CH(st, ch->older)->newer : &st->lru_first) = ch->newer;
    *(ch->newer ? &CH(st, ch->newer)->older : &st->lru_last) = ch->older;
    ch->older = ch->newer = 0;
}

static void lru_append(ws_chan_store_t *st, apr_size_t c)
{
    chan_t *ch = CH(st, c);

    ch->older = st->lru_last;
    ch->newer = 0;
    *(st->lru_last ? &CH(st, st->lru_last)->newer : &st->lru_first) = c;
    st->lru_last = c;
}

static void fill_bitmap(const ws_chan_store_t *st, const chan_t *ch,
                        unsigned char *map)
{
    const slot_count_t *sc = (const slot_count_t *)COFF(st, ch->subs);
    apr_uint32_t i;

    if (!map) {
        return;
    }
    memset(map, 0, WS_CHAN_BITMAP_BYTES(st->nslots));
    for (i = 0; i < ch->subs_n; i++) {
        map[sc[i].slot / 8] |= (unsigned char)(1u << (sc[i].slot % 8));
    }
}

/* ---- lifetime of messages and channels ---------------------------------- */

/* Drops one reference to message @p m; the last one frees it.  Returns
 * its channel, which the caller may then try to free. */
static apr_size_t msg_release(ws_chan_store_t *st, apr_size_t m)
{
    msg_t *msg = MS(st, m);
    apr_size_t c = msg->chan;

    if (--msg->refs == 0) {
        CH(st, c)->nmsgs--;
        ws_shmalloc_free(st, &st->heap, m);
    }
    return c;
}

/* Frees channel @p c if nothing needs it: no subscriber, no history, no
 * message alive (the log's entries name their channel), not in use by
 * the running call.  Its epoch and seq are lost with it: a channel of
 * that name made later gets a new epoch. */
static void chan_maybe_free(ws_chan_store_t *st, apr_size_t c)
{
    chan_t *ch = CH(st, c);
    apr_size_t *link;

    if (ch->pinned || ch->nsubs || ch->hist_n || ch->nmsgs) {
        return;
    }
    for (link = BUCKET(st, ch->hash); *link != c;
         link = &CH(st, *link)->hnext) {
    }
    *link = ch->hnext;
    lru_unlink(st, c);
    ws_shmalloc_free(st, &st->heap, ch->subs);
    ws_shmalloc_free(st, &st->heap, c);
    st->channels--;
}

static void hist_drop_oldest(ws_chan_store_t *st, apr_size_t c)
{
    chan_t *ch = CH(st, c);
    apr_size_t m = ch->first;
    msg_t *msg = MS(st, m);

    ch->first = msg->next;
    if (!ch->first) {
        ch->last = 0;
    }
    ch->hist_n--;
    ch->hist_bytes -= msg->len;
    st->history_msgs--;
    st->history_bytes -= msg->len;
    msg_release(st, m);
}

static apr_uint64_t hist_trim(ws_chan_store_t *st, apr_size_t c,
                              apr_time_t now)
{
    chan_t *ch = CH(st, c);
    apr_time_t max_age = apr_time_from_sec(ch->limits.seconds);
    apr_uint64_t n = 0;

    for (; ch->hist_n > ch->limits.messages; n++) {
        hist_drop_oldest(st, c);
    }
    while (ch->limits.seconds && ch->hist_n
           && now - MS(st, ch->first)->time > max_age) {
        hist_drop_oldest(st, c);
        n++;
    }
    return n;
}

/* History lost for good: the seq starts again in a new epoch. */
static void chan_restart(ws_chan_store_t *st, apr_size_t c)
{
    while (CH(st, c)->hist_n) {
        hist_drop_oldest(st, c);
    }
    CH(st, c)->epoch = st->epoch_next++;
    CH(st, c)->next_seq = 1;
}

static void log_drop_oldest(ws_chan_store_t *st)
{
    log_entry_t *e = LOG(st, st->log_tail);

    st->log_tail++;
    chan_maybe_free(st, msg_release(st, e->msg));
    e->msg = 0;
}

static void log_push(ws_chan_store_t *st, apr_size_t m)
{
    log_entry_t *e;

    if (st->log_head - st->log_tail == st->log_size) {
        log_drop_oldest(st);
    }
    e = LOG(st, st->log_head);
    e->pos = st->log_head++;
    e->msg = m;
    MS(st, m)->refs++;
}

/* Whether evicting channel @p c frees memory now: nobody subscribes, the
 * running call does not use it, and its oldest retained message is not
 * in the log too (the log is in publish order: then none is). */
static int evictable(const ws_chan_store_t *st, apr_size_t c)
{
    const chan_t *ch = CH(st, c);

    return !ch->nsubs && !ch->pinned && ch->hist_n
           && MS(st, ch->first)->refs == 1;
}

/* Allocates @p size bytes, making room if needed in the order documented
 * at ws_chan_publish().  Channels marked pinned are neither evicted nor
 * freed; their history may go in the last step.  0: no room. */
static apr_size_t alloc_reclaim(ws_chan_store_t *st, apr_size_t size)
{
    apr_size_t off, c, next;

    off = ws_shmalloc_alloc(st, &st->heap, size);
    if (off || size > st->heap.end - st->heap.start) {
        return off;
    }
    for (c = st->lru_first; c && !off; c = next) {
        next = CH(st, c)->newer;
        if (evictable(st, c)) {
            chan_restart(st, c);
            st->evicted++;
            chan_maybe_free(st, c);
            off = ws_shmalloc_alloc(st, &st->heap, size);
        }
    }
    while (!off && st->log_tail < st->log_head) {
        log_drop_oldest(st);
        off = ws_shmalloc_alloc(st, &st->heap, size);
    }
    /* history of channels with subscribers, oldest message first */
    for (c = st->lru_first; c && !off; c = next) {
        next = CH(st, c)->newer;
        while (!off && CH(st, c)->hist_n) {
            hist_drop_oldest(st, c);
            off = ws_shmalloc_alloc(st, &st->heap, size);
        }
        chan_maybe_free(st, c);
    }
    return off;
}

static apr_size_t chan_create(ws_chan_store_t *st, const char *name,
                              apr_size_t len, apr_uint32_t hash)
{
    apr_size_t c = alloc_reclaim(st, offsetof(chan_t, name) + len);
    chan_t *ch;

    if (!c) {
        return 0;
    }
    ch = CH(st, c);
    memset(ch, 0, offsetof(chan_t, name));
    ch->epoch = st->epoch_next++;
    ch->next_seq = 1;
    ch->hash = hash;
    ch->name_len = (apr_uint16_t)len;
    memcpy(ch->name, name, len);
    ch->hnext = *BUCKET(st, hash);
    *BUCKET(st, hash) = c;
    lru_append(st, c);
    st->channels++;
    return c;
}

/* The channel @p name, created if needed and pinned; 0: no memory. */
static apr_size_t chan_get(ws_chan_store_t *st, const char *name,
                           apr_size_t len)
{
    apr_uint32_t hash;
    apr_size_t c = ws_chan_lookup(st, name, len, &hash);

    if (!c) {
        c = chan_create(st, name, len, hash);
    }
    if (c) {
        CH(st, c)->pinned = 1;
    }
    return c;
}

static void chan_unpin(ws_chan_store_t *st, apr_size_t c)
{
    CH(st, c)->pinned = 0;
    chan_maybe_free(st, c);
}

/* ---- subscribers ----------------------------------------------------- */

static int subs_find(const ws_chan_store_t *st, const chan_t *ch,
                     apr_uint32_t slot)
{
    const slot_count_t *sc = (const slot_count_t *)COFF(st, ch->subs);
    apr_uint32_t i;

    for (i = 0; i < ch->subs_n; i++) {
        if (sc[i].slot == slot) {
            return (int)i;
        }
    }
    return -1;
}

/* Takes @p n subscribers of entry @p i away; an entry at 0 goes. */
static void subs_sub(ws_chan_store_t *st, apr_size_t c, int i,
                     apr_uint32_t n)
{
    chan_t *ch = CH(st, c);
    slot_count_t *sc = (slot_count_t *)OFF(st, ch->subs);

    sc[i].count -= n;
    ch->nsubs -= n;
    st->subscribers -= n;
    if (!sc[i].count) {
        sc[i] = sc[--ch->subs_n];
    }
    if (!ch->subs_n) {
        ws_shmalloc_free(st, &st->heap, ch->subs);
        ch->subs = 0;
        ch->subs_cap = 0;
    }
}

apr_status_t ws_chan_subscribe(ws_chan_store_t *st, const char *name,
                               apr_size_t len, apr_uint32_t slot,
                               ws_chan_id_t *last)
{
    apr_size_t c, grown;
    chan_t *ch;
    slot_count_t *sc;
    int i;

    if (!WS_CHAN_NAME_OK(name, len) || slot >= st->nslots) {
        return APR_EINVAL;
    }
    if (!(c = chan_get(st, name, len))) {
        return APR_ENOSPC;
    }
    ch = CH(st, c);
    if ((i = subs_find(st, ch, slot)) < 0) {
        if (ch->subs_n == ch->subs_cap) {
            apr_uint32_t cap = ch->subs_cap ? 2 * ch->subs_cap : 2;
            if (!(grown = alloc_reclaim(st, cap * sizeof(*sc)))) {
                chan_unpin(st, c);
                return APR_ENOSPC;
            }
            memcpy(OFF(st, grown), OFF(st, ch->subs), ch->subs_n * sizeof(*sc));
            ws_shmalloc_free(st, &st->heap, ch->subs);
            ch->subs = grown;
            ch->subs_cap = cap;
        }
        sc = (slot_count_t *)OFF(st, ch->subs);
        i = (int)ch->subs_n++;
        sc[i].slot = slot;
        sc[i].count = 0;
    }
    ((slot_count_t *)OFF(st, ch->subs))[i].count++;
    ch->nsubs++;
    st->subscribers++;
    if (last) {
        last->epoch = ch->epoch;
        last->seq = ch->next_seq - 1;
    }
    chan_unpin(st, c);
    return APR_SUCCESS;
}

apr_status_t ws_chan_unsubscribe(ws_chan_store_t *st, const char *name,
                                 apr_size_t len, apr_uint32_t slot)
{
    apr_size_t c;
    int i;

    if (!WS_CHAN_NAME_OK(name, len) || slot >= st->nslots) {
        return APR_EINVAL;
    }
    c = ws_chan_lookup(st, name, len, NULL);
    if (!c || (i = subs_find(st, CH(st, c), slot)) < 0) {
        return APR_NOTFOUND;
    }
    subs_sub(st, c, i, 1);
    chan_maybe_free(st, c);
    return APR_SUCCESS;
}

apr_status_t ws_chan_slot_reset(ws_chan_store_t *st, apr_uint32_t slot,
                                apr_uint64_t *removed)
{
    apr_size_t c, next;
    apr_uint64_t n = 0;
    int i;

    if (slot >= st->nslots) {
        return APR_EINVAL;
    }
    for (c = st->lru_first; c; c = next) {
        next = CH(st, c)->newer;
        if ((i = subs_find(st, CH(st, c), slot)) >= 0) {
            slot_count_t *sc = (slot_count_t *)OFF(st, CH(st, c)->subs);
            apr_uint32_t k = sc[i].count;
            subs_sub(st, c, i, k);
            n += k;
            chan_maybe_free(st, c);
        }
    }
    if (removed) {
        *removed = n;
    }
    return APR_SUCCESS;
}

/* ---- publish, delete, trim ------------------------------------------ */

/* A new message of channel @p c (pinned) with the next id; 0: no room */
static apr_size_t msg_new(ws_chan_store_t *st, apr_size_t c, int type,
                          const void *data, apr_size_t dlen, apr_time_t now)
{
    apr_size_t m = 0;
    msg_t *msg;

    if (dlen <= st->size) { /* else the size below could wrap */
        m = alloc_reclaim(st, offsetof(msg_t, data) + dlen);
    }
    if (!m) {
        return 0;
    }
    msg = MS(st, m);
    msg->next = 0;
    msg->chan = c;
    msg->epoch = CH(st, c)->epoch;
    msg->seq = type == WS_CHAN_DELETED ? 0 : CH(st, c)->next_seq++;
    msg->time = now;
    msg->len = dlen;
    msg->refs = 0;
    msg->type = (apr_uint32_t)type;
    if (dlen) {
        memcpy(msg->data, data, dlen);
    }
    CH(st, c)->nmsgs++;
    return m;
}

apr_status_t ws_chan_publish(ws_chan_store_t *st, const char *name,
                             apr_size_t len, int type, const void *data,
                             apr_size_t dlen, ws_chan_limits_t limits,
                             apr_time_t now, ws_chan_pub_t *pub,
                             unsigned char *slots)
{
    apr_size_t c, m;
    chan_t *ch;

    if (!WS_CHAN_NAME_OK(name, len) || (dlen && !data)
        || (type != WS_CHAN_TEXT && type != WS_CHAN_BINARY)) {
        return APR_EINVAL;
    }
    if (!(c = chan_get(st, name, len))
        || !(m = msg_new(st, c, type, data, dlen, now))) {
        if (c) {
            chan_unpin(st, c);
        }
        st->failed++;
        return APR_ENOSPC;
    }
    ch = CH(st, c);
    ch->limits = limits;
    if (limits.messages) {
        *(ch->last ? &MS(st, ch->last)->next : &ch->first) = m;
        ch->last = m;
        MS(st, m)->refs++;
        ch->hist_n++;
        ch->hist_bytes += dlen;
        st->history_msgs++;
        st->history_bytes += dlen;
    }
    log_push(st, m);
    hist_trim(st, c, now);
    lru_unlink(st, c);
    lru_append(st, c);
    st->published++;
    if (pub) {
        pub->id.epoch = MS(st, m)->epoch;
        pub->id.seq = MS(st, m)->seq;
        pub->log = st->log_head - 1;
        pub->subscribers = ch->nsubs;
    }
    fill_bitmap(st, ch, slots);
    chan_unpin(st, c);
    return APR_SUCCESS;
}

apr_status_t ws_chan_delete(ws_chan_store_t *st, const char *name,
                            apr_size_t len, apr_time_t now,
                            apr_uint32_t *subscribers, unsigned char *slots)
{
    apr_size_t c, m;

    if (!WS_CHAN_NAME_OK(name, len)) {
        return APR_EINVAL;
    }
    if (!(c = ws_chan_lookup(st, name, len, NULL))) {
        return APR_NOTFOUND;
    }
    CH(st, c)->pinned = 1;
    chan_restart(st, c);
    if (subscribers) {
        *subscribers = CH(st, c)->nsubs;
    }
    fill_bitmap(st, CH(st, c), slots);
    m = msg_new(st, c, WS_CHAN_DELETED, NULL, 0, now);
    if (m) {
        log_push(st, m);
    }
    chan_unpin(st, c);
    return m ? APR_SUCCESS : APR_ENOSPC;
}

apr_uint64_t ws_chan_trim(ws_chan_store_t *st, apr_time_t now)
{
    apr_size_t c, next;
    apr_uint64_t n = 0;

    for (c = st->lru_first; c; c = next) {
        next = CH(st, c)->newer;
        if (CH(st, c)->limits.seconds) {
            n += hist_trim(st, c, now);
            chan_maybe_free(st, c);
        }
    }
    return n;
}
