/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chansub.c -- connections subscribed to channels: subscribe and
 * resume, this child's table of channel -> subscribers, and publishing
 * what clients send.  A plugin's own subscriptions are in
 * ws_chanplugin.c, the offers and the delivery in ws_chandeliver.c.
 *
 * Locks, always in this order: the table's mutex, then the global lock
 * (ws_chan.h), then a session's mutex.  The delivery thread copies
 * messages out under the global lock, releases it, then delivers under
 * the table's mutex, so a session taken out of the table
 * (ws_chansub_detach) is never touched again.
 *
 * The seam of a resume: a subscriber is added to the store, replayed and
 * put into the table in one hold of the table's mutex; it remembers the
 * log position the next publish takes (from_log) and gets live only
 * what is at or after it, so what it got replayed never comes twice
 * and what is published meanwhile never goes missing.
 *
 * Gaps: each subscription remembers the id it got last.  The next one
 * must follow it; when it does not (the child fell behind the log, or
 * messages were dropped for a slow subscriber), a channel-meta client
 * gets a gap notice first, and any other is closed with 1011 "missed
 * messages" -- except under WebSocketSlowSubscriber drop, whose skips
 * without channel-meta are silent by choice.
 *
 * Under WebSocketChannelBroker (ws_chanredis.c) the ids come from Redis
 * and the seam is by id instead of log position: the channel is
 * subscribed in Redis before its start is read, and a message at or
 * before a subscriber's last id is one it has (replayed, or caught up
 * after a lost connection to Redis).
 */
#include "httpd.h"
#include <stdlib.h>
#include <string.h>

#include "apr_hash.h"
#include "apr_strings.h"

#include "ap_expr.h"
#include "http_log.h"
#include "util_script.h"

#include "ws_chan.h"
#include "ws_chanpost.h"
#include "ws_chanredis.h"
#include "ws_chansub_int.h"
#include "ws_frame.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);

apr_thread_mutex_t *ws_chansub_mutex;
apr_hash_t *ws_chansub_table;

apr_status_t ws_chansub_child_init(apr_pool_t *pchild)
{
    apr_pool_t *p;
    apr_status_t rv = apr_pool_create(&p, pchild);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* a pool of its own: the table allocates under its mutex only */
    ws_chansub_table = apr_hash_make(p);
    return apr_thread_mutex_create(&ws_chansub_mutex, APR_THREAD_MUTEX_DEFAULT,
                                   pchild);
}

/* A replayed message, collected under the global lock. */
typedef struct {
    apr_pool_t *pool;
    apr_array_header_t *msgs; /* ws_chan_delivery_t */
} ws_replay_t;

static apr_status_t collect(void *baton, const ws_chan_msg_t *m)
{
    ws_replay_t *rp = baton;
    ws_chan_delivery_t *c = apr_array_push(rp->msgs);

    memset(c, 0, sizeof(*c));
    c->id = m->id;
    c->type = m->type;
    c->data = apr_pmemdup(rp->pool, m->data, m->len ? m->len : 1);
    c->len = m->len;
    return APR_SUCCESS;
}

/* What the client asked to resume from: ?last_id= or Last-Event-ID. */
static int given_last(request_rec *r, const char **text, ws_chan_id_t *id)
{
    const char *v = NULL;

    if (r->args != NULL) {
        apr_table_t *args = NULL;

        ap_args_to_table(r, &args);
        v = args ? apr_table_get(args, "last_id") : NULL;
    }
    if (v == NULL) {
        v = apr_table_get(r->headers_in, "Last-Event-ID");
    }
    *text = v;
    if (v == NULL) {
        return 0;
    }
    return ws_chansub_parse_id(v, id) ? 1 : -1;
}

/* Subscribes every channel and collects the replays (global lock). */
static apr_status_t subscribe_all(ws_chansub_t *cs, int resume,
                                  ws_chan_id_t given, ws_replay_t *rp,
                                  ws_chan_id_t *first, int *gap)
{
    ws_chan_store_t *st = ws_chan_lock();
    apr_status_t rv = APR_SUCCESS;
    apr_uint64_t head;
    int i;

    if (st == NULL) {
        return APR_EGENERAL;
    }
    for (i = 0; i < cs->n && rv == APR_SUCCESS; i++) {
        ws_sub_t *sub = &cs->subs[i];

        rv = ws_chan_subscribe(st, sub->name, sub->len, ws_chan_my_slot(),
                               &sub->last);
        if (rv == APR_SUCCESS && resume) {
            rp[i].msgs = apr_array_make(rp[i].pool, 4,
                                        sizeof(ws_chan_delivery_t));
            rv = ws_chan_resume(st, sub->name, sub->len, given, &first[i],
                                &gap[i], collect, &rp[i]);
        }
        if (rv != APR_SUCCESS) {
            int j;

            for (j = 0; j <= i; j++) {
                ws_chan_unsubscribe(st, cs->subs[j].name, cs->subs[j].len,
                                    ws_chan_my_slot());
            }
        }
    }
    head = ws_chan_log_head(st);
    ws_chan_unlock();
    for (i = 0; i < cs->n; i++) {
        cs->subs[i].from_log = head;
    }
    return rv;
}

/* The same through the broker: counted in the store, started and
 * replayed from Redis (ws_chanredis_listen() was called before). */
static apr_status_t subscribe_broker(ws_chansub_t *cs, int resume,
                                     ws_chan_id_t given, ws_replay_t *rp,
                                     ws_chan_id_t *first, int *gap)
{
    ws_chan_store_t *st = ws_chan_lock();
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (st == NULL) {
        return APR_EGENERAL;
    }
    for (i = 0; i < cs->n; i++) {
        ws_chan_subscribe(st, cs->subs[i].name, cs->subs[i].len,
                          ws_chan_my_slot(), &cs->subs[i].last);
    }
    ws_chan_unlock();
    for (i = 0; i < cs->n && rv == APR_SUCCESS; i++) {
        ws_sub_t *sub = &cs->subs[i];

        sub->from_log = 0;
        if (resume) {
            rp[i].msgs = apr_array_make(rp[i].pool, 4,
                                        sizeof(ws_chan_delivery_t));
        }
        rv = ws_chanredis_resume(sub->name, resume, given, &sub->last,
                                 &first[i], &gap[i], collect, &rp[i]);
        if (sub->last.epoch == 0 && resume) {
            sub->last = given; /* caught up from there when Redis is back */
        }
    }
    return rv;
}

/* Queues what one channel replays (the handler's thread, unbounded). */
static void queue_replay(ws_chansub_t *cs, ws_sub_t *sub, const char *text,
                         ws_replay_t *rp, ws_chan_id_t first, int gap)
{
    int i;

    if (gap) {
        if (!cs->meta) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, cs->s->r,
                          WS_LOGNO(00707) "channel %s: %s is no longer "
                          "retained, closing with 1011", sub->name, text);
            ws_chansub_offer_close(cs, WS_CLOSE_INTERNAL_ERROR,
                                   "missed messages");
            return;
        }
        ws_chansub_offer_gap(cs, sub->name, text, first);
    }
    for (i = 0; i < rp->msgs->nelts; i++) {
        ws_chan_delivery_t *m = &APR_ARRAY_IDX(rp->msgs, i, ws_chan_delivery_t);

        ws_chansub_offer_msg(cs, m->type, m->id, sub->name, m->data, m->len);
    }
}

/* Puts one subscription into the table (table mutex). */
void ws_chansub_link(ws_sub_t *sub)
{
    ws_local_t *ch = apr_hash_get(ws_chansub_table, sub->name, sub->len);

    if (ch == NULL) {
        ch = calloc(1, sizeof(*ch) + sub->len);
        if (ch == NULL) {
            return; /* the store counts it; it gets nothing here */
        }
        memcpy(ch->name, sub->name, sub->len);
        ch->len = sub->len;
        apr_hash_set(ws_chansub_table, ch->name, ch->len, ch);
    }
    sub->ch = ch;
    sub->prev = NULL;
    sub->next = ch->first;
    if (ch->first) {
        ch->first->prev = sub;
    }
    ch->first = sub;
}

/* Takes one subscription out of the table (table mutex). */
void ws_chansub_unlink(ws_sub_t *sub)
{
    if (sub->ch == NULL) {
        return;
    }
    *(sub->prev ? &sub->prev->next : &sub->ch->first) = sub->next;
    if (sub->next) {
        sub->next->prev = sub->prev;
    }
    if (sub->ch->first == NULL) {
        apr_hash_set(ws_chansub_table, sub->ch->name, sub->ch->len, NULL);
        free(sub->ch);
    }
    sub->ch = NULL;
}

static void table_add(ws_chansub_t *cs)
{
    int i;

    for (i = 0; i < cs->n; i++) {
        ws_chansub_link(&cs->subs[i]);
    }
    cs->in_table = 1;
}

static apr_status_t detach_cleanup(void *data)
{
    ws_chansub_detach(data);
    return APR_SUCCESS;
}

static int offered_meta(const ws_session_t *s)
{
    int i;

    for (i = 0; s->protocols && i < s->protocols->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(s->protocols, i, const char *),
                    WS_CHANSUB_META)) {
            return 1;
        }
    }
    return 0;
}

static ws_chansub_t *make_chansub(ws_session_t *s,
                                  apr_array_header_t *names)
{
    ws_chansub_t *cs = apr_pcalloc(s->r->pool, sizeof(*cs));
    int i;

    cs->s = s;
    cs->n = names->nelts;
    cs->names = (const char *const *)names->elts;
    cs->subs = apr_pcalloc(s->r->pool, cs->n * sizeof(ws_sub_t));
    for (i = 0; i < cs->n; i++) {
        cs->subs[i].owner = cs;
        cs->subs[i].name = APR_ARRAY_IDX(names, i, const char *);
        cs->subs[i].len = strlen(cs->subs[i].name);
    }
    cs->meta = offered_meta(s);
    return cs;
}

int ws_chansub_attach(ws_session_t *s)
{
    request_rec *r = s->r;
    apr_array_header_t *names;
    const char *text;
    ws_chan_id_t given = {0, 0}, *first;
    ws_replay_t *rp;
    ws_chansub_t *cs;
    int status, resume, *gap, i;
    apr_status_t rv;

    status = ws_chansub_names(r, s->settings, &names);
    if (status != OK) {
        return status;
    }
    resume = given_last(r, &text, &given);
    if (resume < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WS_LOGNO(00708)
                      "last id '%s' is not <epoch>:<seq>", text);
        return HTTP_BAD_REQUEST;
    }
    if (!ws_chan_enabled()) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    cs = make_chansub(s, names);
    rp = apr_pcalloc(r->pool, cs->n * sizeof(*rp));
    first = apr_pcalloc(r->pool, cs->n * sizeof(*first));
    gap = apr_pcalloc(r->pool, cs->n * sizeof(*gap));
    for (i = 0; i < cs->n; i++) {
        rp[i].pool = r->pool;
    }
    if (cs->meta) {
        apr_thread_mutex_lock(s->mutex);
        s->hs_protocol = WS_CHANSUB_META;
        apr_thread_mutex_unlock(s->mutex);
    }
    if (ws_chanredis_configured()) {
        /* subscribed in Redis before the start is read: the seam */
        ws_chanredis_listen((const char *const *)names->elts, cs->n);
    }
    apr_thread_mutex_lock(ws_chansub_mutex);
    rv = ws_chanredis_configured()
         ? subscribe_broker(cs, resume, given, rp, first, gap)
         : subscribe_all(cs, resume, given, rp, first, gap);
    if (rv != APR_SUCCESS) {
        apr_thread_mutex_unlock(ws_chansub_mutex);
        for (i = 0; ws_chanredis_configured() && i < cs->n; i++) {
            ws_chanredis_unlisten(cs->subs[i].name);
        }
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, WS_LOGNO(00709)
                      "cannot subscribe to the channels (memory full? "
                      "see WebSocketChannelMemory)");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    for (i = 0; resume && i < cs->n && !cs->closed; i++) {
        queue_replay(cs, &cs->subs[i], text, &rp[i], first[i], gap[i]);
    }
    table_add(cs);
    cs->kick = 0;
    s->chan = cs;
    apr_thread_mutex_unlock(ws_chansub_mutex);
    apr_pool_cleanup_register(r->pool, s, detach_cleanup,
                              apr_pool_cleanup_null);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, WS_LOGNO(00710)
                  "subscribed to %d channel%s (first: %s)%s", cs->n,
                  cs->n == 1 ? "" : "s", cs->subs[0].name,
                  cs->meta ? " with channel-meta" : "");
    return OK;
}

void ws_chansub_detach(ws_session_t *s)
{
    ws_chansub_t *cs;
    ws_chan_store_t *st;
    ws_xsub_t *x;
    int i;

    if (ws_chansub_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(ws_chansub_mutex);
    s->chan_over = 1; /* no ws_chansub_add() from now on */
    cs = s->chan ? s->chan : s->xchan;
    if (cs == NULL || !cs->in_table) {
        apr_thread_mutex_unlock(ws_chansub_mutex);
        return;
    }
    cs->in_table = 0;
    for (i = 0; i < cs->n; i++) {
        ws_chansub_unlink(&cs->subs[i]);
    }
    for (x = cs->extra; x != NULL; x = x->next) {
        ws_chansub_unlink(&x->sub);
    }
    st = ws_chan_lock();
    for (i = 0; st != NULL && i < cs->n; i++) {
        ws_chan_unsubscribe(st, cs->subs[i].name, cs->subs[i].len,
                            ws_chan_my_slot());
    }
    for (x = cs->extra; st != NULL && x != NULL; x = x->next) {
        ws_chan_unsubscribe(st, x->sub.name, x->sub.len, ws_chan_my_slot());
    }
    if (st != NULL) {
        ws_chan_unlock();
    }
    for (i = 0; ws_chanredis_configured() && i < cs->n; i++) {
        ws_chanredis_unlisten(cs->subs[i].name);
    }
    while ((x = cs->extra) != NULL) {
        cs->extra = x->next;
        if (ws_chanredis_configured()) {
            ws_chanredis_unlisten(x->name);
        }
        free(x);
    }
    cs->nextra = 0;
    if (cs->heap) {
        s->xchan = NULL;
        free(cs);
    }
    apr_thread_mutex_unlock(ws_chansub_mutex);
}

void ws_chansub_client_message(ws_session_t *s, int text,
                               const unsigned char *buf, apr_size_t len)
{
    ws_chansub_t *cs = s->chan;
    const ws_settings_t *set = s->settings;
    ws_chan_posted_t out[WS_CHAN_MAX_PER_CONN];
    ws_chan_limits_t lim;
    apr_status_t rv;
    int done = 0;

    if (cs == NULL || !set->chan_publish || cs->n == 0) {
        return; /* WebSocketChannelPublish Off: not published */
    }
    lim.messages = set->chan_history;
    lim.seconds = set->chan_history_secs;
    rv = ws_chan_post(cs->names, cs->n, text ? WS_CHAN_TEXT : WS_CHAN_BINARY,
                      buf, len, lim, out, &done);
    if (rv != APR_SUCCESS && ws_chan_refusal_due()) {
        ap_log_cerror(APLOG_MARK, APLOG_WARNING, rv, s->c, WS_LOGNO(00711)
                      "a client's message was not published to %d of its "
                      "%d channels (%s); logged once a second at most",
                      cs->n - done, cs->n, rv == APR_ENOSPC
                      ? "channel memory full: WebSocketChannelMemory"
                      : "channels unavailable");
    }
}

