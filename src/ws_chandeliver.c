/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chandeliver.c -- what reaches channel subscribers: the offers to a
 * connection's queue (a copy, or a payload shared by every subscriber
 * of the child), gap notices and closes, and the delivery of a batch to
 * this child's table (gaps, slow subscribers, one wake-up per
 * connection per batch).  Runs on the thread that hands the batch over
 * (ws_chan_deliver), never waiting for a connection.
 */
#include "httpd.h"
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"

#include "http_log.h"

#include "ws_chanredis.h"
#include "ws_chansub_int.h"
#include "ws_frame.h"
#include "ws_io.h"
#include "ws_log.h"
#include "ws_status.h"

APLOG_USE_MODULE(websocket);

/* "id: <id>\nchannel: <name>\n\n" + the payload, malloc'd. */
static unsigned char *with_meta(ws_chan_id_t id, const char *name,
                                const char *data, apr_size_t len,
                                apr_size_t *outlen)
{
    char head[WS_CHAN_NAME_MAX + 80];
    int n = apr_snprintf(head, sizeof(head), "id: %" APR_UINT64_T_FMT ":%"
                         APR_UINT64_T_FMT "\nchannel: %s\n\n", id.epoch,
                         id.seq, name);
    unsigned char *b = malloc(n + len + 1);

    if (b != NULL) {
        memcpy(b, head, n);
        if (len) {
            memcpy(b + n, data, len);
        }
        *outlen = n + len;
    }
    return b;
}

ws_queue_status_e ws_chansub_offer_msg(ws_chansub_t *cs, int type,
                                   ws_chan_id_t id, const char *name,
                                   const char *data, apr_size_t len)
{
    unsigned int op = type == WS_CHAN_TEXT ? WS_OP_TEXT : WS_OP_BINARY;
    ws_queue_status_e st;
    unsigned char *b;
    apr_size_t n;

    if (!cs->meta) {
        return ws_io_offer(cs->s, op, (const unsigned char *)data, len);
    }
    b = with_meta(id, name, data, len, &n);
    if (b == NULL) {
        return WS_QUEUE_NOMEM;
    }
    st = ws_io_offer(cs->s, op, b, n);
    free(b);
    return st;
}

/* A live message: every subscriber's queue refers to one payload (one
 * with the channel-meta prefix for those that agreed to it), built once;
 * a copy only when there is no shared payload.  Delivery thread. */
static ws_queue_status_e offer_live(ws_chansub_t *cs, ws_chan_delivery_t *m,
                                    const char *name)
{
    unsigned int op = m->type == WS_CHAN_TEXT ? WS_OP_TEXT : WS_OP_BINARY;

    if (m->plain == NULL) {
        return ws_chansub_offer_msg(cs, m->type, m->id, name, m->data, m->len);
    }
    if (!cs->meta) {
        return ws_io_offer_shared(cs->s, op, m->plain);
    }
    if (m->meta == NULL) {
        apr_size_t n;
        unsigned char *b = with_meta(m->id, name, m->data, m->len, &n);

        if (b == NULL || (m->meta = ws_payload_make(n)) == NULL) {
            free(b);
            return WS_QUEUE_NOMEM;
        }
        memcpy(m->meta->data, b, n);
        free(b);
    }
    return ws_io_offer_shared(cs->s, op, m->meta);
}

/* Any thread: no pool of the session's is used. */
void ws_chansub_offer_gap(ws_chansub_t *cs, const char *name,
                      const char *last, ws_chan_id_t next)
{
    char t[2 * WS_CHAN_NAME_MAX + 2 * WS_CHANSUB_ID_LEN + 64];
    int n = apr_snprintf(t, sizeof(t), "gap: %s\nlast_id: %.*s\nnext_id: %"
                         APR_UINT64_T_FMT ":%" APR_UINT64_T_FMT "\n\n",
                         name, WS_CHAN_NAME_MAX, last, next.epoch,
                         next.seq);

    ws_io_offer(cs->s, WS_OP_TEXT, (const unsigned char *)t, n);
}

void ws_chansub_offer_close(ws_chansub_t *cs, int code, const char *reason)
{
    unsigned char p[2 + 64];
    apr_size_t n = strlen(reason);

    if (cs->closed) {
        return;
    }
    p[0] = (unsigned char)(code >> 8);
    p[1] = (unsigned char)(code & 0xff);
    memcpy(p + 2, reason, n);
    ws_io_offer(cs->s, WS_OP_CLOSE, p, n + 2);
    cs->closed = 1;
    cs->kick = 1;
}

/* Whether @p a comes after @p b. */
static int id_after(ws_chan_id_t a, ws_chan_id_t b)
{
    return a.epoch > b.epoch || (a.epoch == b.epoch && a.seq > b.seq);
}

/* The broker's newest id after a catch-up (table mutex held): newer
 * than what the subscriber got means messages it cannot get. */
static void mark_one(ws_sub_t *sub, const ws_chan_delivery_t *m)
{
    ws_chansub_t *cs = sub->owner;
    char id[WS_CHANSUB_ID_LEN];
    ws_chan_id_t next = m->id;

    if (cs->closed || (sub->last.epoch != 0 && !id_after(m->id, sub->last))) {
        return;
    }
    if (sub->last.epoch != 0) {
        next.seq++;
        if (cs->meta) {
            ws_chansub_offer_gap(cs, sub->name, ws_chansub_id(id, sub->last),
                                 next);
            cs->kick = 1;
        }
        else if (!sub->skipped) {
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, cs->s->c,
                          WS_LOGNO(01009) "channel %s: messages missed "
                          "before %s (broker), closing with 1011",
                          sub->name, ws_chansub_id(id, next));
            ws_chansub_offer_close(cs, WS_CLOSE_INTERNAL_ERROR,
                                   "missed messages");
            return;
        }
    }
    sub->last = m->id; /* (a subscriber without a start starts here) */
}

/* One message to one subscriber (table mutex held); counts what
 * happened into @p counts (ws_status_count_e). */
static void deliver_one(ws_sub_t *sub, ws_chan_delivery_t *m,
                        apr_uint32_t *counts)
{
    ws_chansub_t *cs = sub->owner;
    ws_queue_status_e st;
    char id[WS_CHANSUB_ID_LEN];

    if (cs->closed) {
        return;
    }
    if (m->type == WS_CHAN_MARK) {
        mark_one(sub, m);
        return;
    }
    if (m->type == WS_CHAN_DELETED) {
        ws_chansub_offer_close(cs, WS_CLOSE_NORMAL, "channel deleted");
        return;
    }
    if (ws_chanredis_configured() && sub->last.epoch != 0
        && !id_after(m->id, sub->last)) {
        return; /* it has it: replayed or caught up */
    }
    if (sub->last.epoch != 0
        && (m->id.epoch != sub->last.epoch
            || m->id.seq != sub->last.seq + 1)) {
        if (cs->meta) {
            ws_chansub_offer_gap(cs, sub->name, ws_chansub_id(id, sub->last),
                                 m->id);
        }
        else if (!sub->skipped) {
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, cs->s->c,
                          WS_LOGNO(00712) "channel %s: messages missed "
                          "before %s, closing with 1011", sub->name,
                          ws_chansub_id(id, m->id));
            ws_chansub_offer_close(cs, WS_CLOSE_INTERNAL_ERROR,
                                   "missed messages");
            return;
        }
    }
    st = offer_live(cs, m, sub->name);
    if (st == WS_QUEUE_FULL && cs->kick) {
        /* what this batch queued may not have been written yet: the
         * connection is slow only if it cannot take it now */
        ws_io_kick(cs->s);
        st = offer_live(cs, m, sub->name);
    }
    if (st == WS_QUEUE_FULL || st == WS_QUEUE_NOMEM) {
        if (cs->s->settings->slow_drop) {
            sub->skipped = 1;
            cs->dropped++;
            counts[WS_STATUS_DROPPED]++;
            return;
        }
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, cs->s->c, WS_LOGNO(00713)
                      "slow subscriber of %s: more than %" APR_SIZE_T_FMT
                      " bytes pending, closing with 1008", sub->name,
                      cs->s->settings->max_queued);
        ws_chansub_offer_close(cs, WS_CLOSE_POLICY, "slow");
        counts[WS_STATUS_SLOW_CLOSED]++;
        return;
    }
    sub->last = m->id;
    sub->skipped = 0;
    cs->kick = 1;
    counts[WS_STATUS_DELIVERED]++;
}

void ws_chansub_deliver(ws_chan_delivery_t *list)
{
    ws_chan_delivery_t *m;
    apr_array_header_t *kicks = NULL;
    apr_uint32_t counts[WS_STATUS_NCOUNTS] = {0};
    apr_pool_t *p = NULL;
    int i;

    if (list == NULL || apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return;
    }
    kicks = apr_array_make(p, 16, sizeof(ws_chansub_t *));
    apr_thread_mutex_lock(ws_chansub_mutex);
    for (m = list; m != NULL; m = m->next) {
        ws_local_t *ch = apr_hash_get(ws_chansub_table, m->name, m->name_len);
        ws_sub_t *sub;

        for (sub = ch ? ch->first : NULL; sub != NULL; sub = sub->next) {
            int had = sub->owner->kick;

            if (m->log < sub->from_log) {
                continue; /* it subscribed after: replayed or not its */
            }
            deliver_one(sub, m, counts);
            if (!had && sub->owner->kick) {
                APR_ARRAY_PUSH(kicks, ws_chansub_t *) = sub->owner;
            }
        }
    }
    /* one wake-up per connection per batch; still under the table's
     * mutex, so none of them can have ended */
    for (i = 0; i < kicks->nelts; i++) {
        ws_chansub_t *cs = APR_ARRAY_IDX(kicks, i, ws_chansub_t *);

        cs->kick = 0;
        ws_io_kick(cs->s);
    }
    apr_thread_mutex_unlock(ws_chansub_mutex);
    apr_pool_destroy(p);
    for (i = 0; i < WS_STATUS_NCOUNTS; i++) {
        ws_status_count((ws_status_count_e)i, counts[i]);
    }
}
