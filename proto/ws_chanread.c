/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanread.c -- reading the channel store: lookups, resuming after a
 * last id, following the log, figures.  Nothing here changes the region.
 */
#include <string.h>

#include "ws_chanstore_int.h"

/* FNV-1a, 32 bits */
static apr_uint32_t hash_name(const char *name, apr_size_t len)
{
    apr_uint32_t h = 2166136261u;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    }
    return h;
}

apr_size_t ws_chan_lookup(const ws_chan_store_t *st, const char *name,
                          apr_size_t len, apr_uint32_t *hashp)
{
    apr_uint32_t hash = hash_name(name, len);
    apr_size_t c = *BUCKET(st, hash);

    if (hashp) {
        *hashp = hash;
    }
    for (; c; c = CH(st, c)->hnext) {
        const chan_t *ch = CH(st, c);
        if (ch->hash == hash && ch->name_len == len
            && !memcmp(ch->name, name, len)) {
            break;
        }
    }
    return c;
}

static void msg_view(const ws_chan_store_t *st, apr_size_t m, apr_uint64_t log,
                     ws_chan_msg_t *v)
{
    const msg_t *msg = MS(st, m);
    const chan_t *ch = CH(st, msg->chan);

    v->id.epoch = msg->epoch;
    v->id.seq = msg->seq;
    v->log = log;
    v->time = msg->time;
    v->type = (int)msg->type;
    v->data = msg->data;
    v->len = (apr_size_t)msg->len;
    v->name = ch->name;
    v->name_len = ch->name_len;
}

apr_status_t ws_chan_resume(const ws_chan_store_t *st, const char *name,
                            apr_size_t len, ws_chan_id_t last,
                            ws_chan_id_t *first, int *gap, ws_chan_msg_fn fn,
                            void *baton)
{
    const chan_t *ch;
    apr_uint64_t newest, oldest, from;
    apr_size_t c, m;
    ws_chan_msg_t v;
    apr_status_t rv;

    if (!WS_CHAN_NAME_OK(name, len)) {
        return APR_EINVAL;
    }
    if (!(c = ws_chan_lookup(st, name, len, NULL))) {
        return APR_NOTFOUND;
    }
    ch = CH(st, c);
    newest = ch->next_seq - 1;
    oldest = ch->hist_n ? MS(st, ch->first)->seq : ch->next_seq;
    /* no gap: same epoch, not in the future, and the message after
     * @p last still retained (or not published yet) */
    *gap = !(last.epoch == ch->epoch && last.seq <= newest
             && last.seq + 1 >= oldest);
    from = *gap ? oldest : last.seq + 1;
    first->epoch = ch->epoch;
    first->seq = from;
    for (m = ch->first; m; m = MS(st, m)->next) {
        if (MS(st, m)->seq >= from) {
            msg_view(st, m, 0, &v);
            if ((rv = fn(baton, &v)) != APR_SUCCESS) {
                return rv;
            }
        }
    }
    return APR_SUCCESS;
}

apr_uint64_t ws_chan_log_head(const ws_chan_store_t *st)
{
    return st->log_head;
}

apr_status_t ws_chan_log_read(const ws_chan_store_t *st,
                              apr_uint64_t *cursor, ws_chan_msg_t *m,
                              apr_uint64_t *lost)
{
    const log_entry_t *e;

    if (*cursor > st->log_head || *cursor < st->log_tail) {
        *lost = *cursor > st->log_head ? 0 : st->log_tail - *cursor;
        *cursor = *cursor > st->log_head ? st->log_head : st->log_tail;
        return APR_INCOMPLETE;
    }
    if (*cursor == st->log_head) {
        return APR_EAGAIN;
    }
    e = LOG(st, *cursor);
    msg_view(st, e->msg, e->pos, m);
    ++*cursor;
    return APR_SUCCESS;
}

apr_status_t ws_chan_info(const ws_chan_store_t *st, const char *name,
                          apr_size_t len, ws_chan_info_t *info)
{
    const chan_t *ch;
    apr_size_t c;

    if (!WS_CHAN_NAME_OK(name, len)) {
        return APR_EINVAL;
    }
    if (!(c = ws_chan_lookup(st, name, len, NULL))) {
        return APR_NOTFOUND;
    }
    ch = CH(st, c);
    info->last.epoch = ch->epoch;
    info->last.seq = ch->next_seq - 1;
    info->first_seq = ch->hist_n ? MS(st, ch->first)->seq : ch->next_seq;
    info->history = ch->hist_n;
    info->subscribers = ch->nsubs;
    return APR_SUCCESS;
}

void ws_chan_stats(const ws_chan_store_t *st, ws_chan_stats_t *s)
{
    s->channels = st->channels;
    s->subscribers = st->subscribers;
    s->published = st->published;
    s->failed = st->failed;
    s->evicted = st->evicted;
    s->history_msgs = st->history_msgs;
    s->history_bytes = st->history_bytes;
    s->bytes_in_use = st->heap.start + st->heap.in_use;
    s->bytes_total = (apr_size_t)st->size;
    s->log_size = st->log_size;
    s->log_head = st->log_head;
}
