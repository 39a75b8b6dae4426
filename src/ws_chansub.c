/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chansub.c -- connections subscribed to channels: subscribe and
 * resume, this child's table of channel -> subscribers, and delivery.
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
#include "apr_lib.h"
#include "apr_strings.h"

#include "ap_expr.h"
#include "http_log.h"
#include "util_script.h"

#include "ws_chan.h"
#include "ws_chanpost.h"
#include "ws_chanredis.h"
#include "ws_chansub.h"
#include "ws_frame.h"
#include "ws_io.h"
#include "ws_log.h"
#include "ws_status.h"

APLOG_USE_MODULE(websocket);

typedef struct ws_local_t ws_local_t;
typedef struct ws_chansub_t ws_chansub_t;

/* One connection in one channel (table mutex). */
typedef struct ws_sub_t {
    struct ws_sub_t *prev, *next; /* in the channel's list */
    ws_local_t *ch;
    ws_chansub_t *owner;
    const char *name;
    apr_size_t len;
    ws_chan_id_t last;            /* the id it got last */
    apr_uint64_t from_log;        /* live from this log position on */
    int skipped;                  /* dropped (slow) since its last */
} ws_sub_t;

/* A channel with subscribers in this child (table mutex). */
struct ws_local_t {
    ws_sub_t *first;
    apr_size_t len;
    char name[1];                 /* len + 1 bytes follow */
};

/* A subscription a plugin made (ws_chansub_add), one allocation each. */
typedef struct ws_xsub_t {
    ws_sub_t sub;
    struct ws_xsub_t *next;
    char name[1];                 /* sub.len + 1 bytes follow */
} ws_xsub_t;

/* A connection's subscriptions. */
struct ws_chansub_t {
    ws_session_t *s;
    ws_sub_t *subs;
    int n;
    ws_xsub_t *extra;             /* a plugin's (table mutex) */
    int nextra;
    int heap;                     /* made by ws_chansub_add: freed by
                                     detach */
    int meta;                     /* channel-meta agreed */
    int in_table;                 /* table mutex */
    int closed;                   /* we queued its close (table mutex) */
    int kick;                     /* queued to in this batch */
    apr_uint64_t dropped;         /* messages skipped (drop) */
};

static apr_thread_mutex_t *table_mutex;
static apr_hash_t *table;

apr_status_t ws_chansub_child_init(apr_pool_t *pchild)
{
    apr_pool_t *p;
    apr_status_t rv = apr_pool_create(&p, pchild);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* a pool of its own: the table allocates under its mutex only */
    table = apr_hash_make(p);
    return apr_thread_mutex_create(&table_mutex, APR_THREAD_MUTEX_DEFAULT,
                                   pchild);
}

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

static ws_queue_status_e offer_msg(ws_chansub_t *cs, int type,
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
        return offer_msg(cs, m->type, m->id, name, m->data, m->len);
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
static void offer_gap(ws_chansub_t *cs, const char *name,
                      const char *last, ws_chan_id_t next)
{
    char t[2 * WS_CHAN_NAME_MAX + 2 * WS_CHANSUB_ID_LEN + 64];
    int n = apr_snprintf(t, sizeof(t), "gap: %s\nlast_id: %.*s\nnext_id: %"
                         APR_UINT64_T_FMT ":%" APR_UINT64_T_FMT "\n\n",
                         name, WS_CHAN_NAME_MAX, last, next.epoch,
                         next.seq);

    ws_io_offer(cs->s, WS_OP_TEXT, (const unsigned char *)t, n);
}

static void offer_close(ws_chansub_t *cs, int code, const char *reason)
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
            offer_close(cs, WS_CLOSE_INTERNAL_ERROR, "missed messages");
            return;
        }
        offer_gap(cs, sub->name, text, first);
    }
    for (i = 0; i < rp->msgs->nelts; i++) {
        ws_chan_delivery_t *m = &APR_ARRAY_IDX(rp->msgs, i, ws_chan_delivery_t);

        offer_msg(cs, m->type, m->id, sub->name, m->data, m->len);
    }
}

/* Puts one subscription into the table (table mutex). */
static void table_link(ws_sub_t *sub)
{
    ws_local_t *ch = apr_hash_get(table, sub->name, sub->len);

    if (ch == NULL) {
        ch = calloc(1, sizeof(*ch) + sub->len);
        if (ch == NULL) {
            return; /* the store counts it; it gets nothing here */
        }
        memcpy(ch->name, sub->name, sub->len);
        ch->len = sub->len;
        apr_hash_set(table, ch->name, ch->len, ch);
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
static void table_unlink(ws_sub_t *sub)
{
    if (sub->ch == NULL) {
        return;
    }
    *(sub->prev ? &sub->prev->next : &sub->ch->first) = sub->next;
    if (sub->next) {
        sub->next->prev = sub->prev;
    }
    if (sub->ch->first == NULL) {
        apr_hash_set(table, sub->ch->name, sub->ch->len, NULL);
        free(sub->ch);
    }
    sub->ch = NULL;
}

static void table_add(ws_chansub_t *cs)
{
    int i;

    for (i = 0; i < cs->n; i++) {
        table_link(&cs->subs[i]);
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
    apr_thread_mutex_lock(table_mutex);
    rv = ws_chanredis_configured()
         ? subscribe_broker(cs, resume, given, rp, first, gap)
         : subscribe_all(cs, resume, given, rp, first, gap);
    if (rv != APR_SUCCESS) {
        apr_thread_mutex_unlock(table_mutex);
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
    apr_thread_mutex_unlock(table_mutex);
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

    if (table_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(table_mutex);
    s->chan_over = 1; /* no ws_chansub_add() from now on */
    cs = s->chan ? s->chan : s->xchan;
    if (cs == NULL || !cs->in_table) {
        apr_thread_mutex_unlock(table_mutex);
        return;
    }
    cs->in_table = 0;
    for (i = 0; i < cs->n; i++) {
        table_unlink(&cs->subs[i]);
    }
    for (x = cs->extra; x != NULL; x = x->next) {
        table_unlink(&x->sub);
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
    apr_thread_mutex_unlock(table_mutex);
}

/* A plugin's subscription of @p cs to @p name, or NULL (table mutex). */
static ws_xsub_t *find_extra(ws_chansub_t *cs, const char *name,
                             apr_size_t len, ws_xsub_t ***link)
{
    ws_xsub_t **xp;

    for (xp = &cs->extra; *xp != NULL; xp = &(*xp)->next) {
        if ((*xp)->sub.len == len && !memcmp((*xp)->name, name, len)) {
            if (link) {
                *link = xp;
            }
            return *xp;
        }
    }
    return NULL;
}

/* The connection's subscriptions, made for a plugin when it has none
 * (table mutex); NULL when out of memory. */
static ws_chansub_t *plugin_chansub(ws_session_t *s)
{
    ws_chansub_t *cs = s->chan ? s->chan : s->xchan;

    if (cs == NULL) {
        /* not from r->pool: this may be a plugin's thread */
        cs = calloc(1, sizeof(*cs));
        if (cs != NULL) {
            cs->s = s;
            cs->heap = 1;
            cs->in_table = 1;
            s->xchan = cs;
        }
    }
    return cs;
}

/* The subscription, or APR_EEXIST when the connection has it already. */
static apr_status_t add_subscription(ws_session_t *s, const char *name);

apr_status_t ws_chansub_add(ws_session_t *s, const char *name)
{
    apr_size_t len = name ? strlen(name) : 0;
    int broker = ws_chanredis_configured() && len >= 1
                 && len <= WS_CHAN_NAME_MAX && ws_chan_enabled();
    apr_status_t rv;

    if (broker) {
        /* listening in Redis first (not under the table's mutex), undone
         * if no subscription is made */
        ws_chanredis_listen(&name, 1);
    }
    rv = add_subscription(s, name);
    if (broker && rv != APR_SUCCESS) {
        ws_chanredis_unlisten(name);
    }
    return rv == APR_EEXIST ? APR_SUCCESS : rv;
}

static apr_status_t add_subscription(ws_session_t *s, const char *name)
{
    apr_size_t len = name ? strlen(name) : 0;
    ws_chan_store_t *st;
    ws_chansub_t *cs;
    ws_xsub_t *x;
    apr_uint64_t head = 0;
    apr_status_t rv;
    int i;

    if (len < 1 || len > WS_CHAN_NAME_MAX) {
        return APR_EINVAL;
    }
    if (!ws_chan_enabled() || table_mutex == NULL) {
        return APR_ENOTIMPL;
    }
    apr_thread_mutex_lock(table_mutex);
    if (s->chan_over) {
        apr_thread_mutex_unlock(table_mutex);
        return APR_EOF;
    }
    cs = plugin_chansub(s);
    if (cs == NULL) {
        apr_thread_mutex_unlock(table_mutex);
        return APR_ENOSPC;
    }
    for (i = 0; i < cs->n; i++) {
        if (cs->subs[i].len == len && !memcmp(cs->subs[i].name, name, len)) {
            apr_thread_mutex_unlock(table_mutex);
            return APR_EEXIST; /* WebSocketChannel's already */
        }
    }
    if (find_extra(cs, name, len, NULL) != NULL) {
        apr_thread_mutex_unlock(table_mutex);
        return APR_EEXIST;
    }
    if (cs->n + cs->nextra >= WS_CHAN_MAX_PER_CONN) {
        apr_thread_mutex_unlock(table_mutex);
        return APR_EMFILE;
    }
    x = calloc(1, sizeof(*x) + len);
    st = x ? ws_chan_lock() : NULL;
    if (st == NULL) {
        apr_thread_mutex_unlock(table_mutex);
        free(x);
        return x ? APR_ENOTIMPL : APR_ENOSPC;
    }
    memcpy(x->name, name, len);
    x->sub.owner = cs;
    x->sub.name = x->name;
    x->sub.len = len;
    rv = ws_chan_subscribe(st, name, len, ws_chan_my_slot(), &x->sub.last);
    if (rv == APR_SUCCESS) {
        head = ws_chan_log_head(st);
    }
    ws_chan_unlock();
    if (rv != APR_SUCCESS) {
        apr_thread_mutex_unlock(table_mutex);
        free(x);
        return rv;
    }
    /* live from what is published after this; nothing is replayed */
    x->sub.from_log = head;
    if (ws_chanredis_configured()) {
        ws_chan_id_t none = {0, 0}, first;
        int gap;

        x->sub.from_log = 0;
        ws_chanredis_resume(name, 0, none, &x->sub.last, &first, &gap, NULL,
                            NULL);
    }
    table_link(&x->sub);
    x->next = cs->extra;
    cs->extra = x;
    cs->nextra++;
    apr_thread_mutex_unlock(table_mutex);
    return APR_SUCCESS;
}

apr_status_t ws_chansub_remove(ws_session_t *s, const char *name)
{
    apr_size_t len = name ? strlen(name) : 0;
    ws_chan_store_t *st;
    ws_chansub_t *cs;
    ws_xsub_t *x, **link = NULL;

    if (len < 1 || len > WS_CHAN_NAME_MAX) {
        return APR_EINVAL;
    }
    if (!ws_chan_enabled() || table_mutex == NULL) {
        return APR_ENOTIMPL;
    }
    apr_thread_mutex_lock(table_mutex);
    cs = s->chan ? s->chan : s->xchan;
    x = cs ? find_extra(cs, name, len, &link) : NULL;
    if (x == NULL) {
        apr_thread_mutex_unlock(table_mutex);
        return APR_NOTFOUND;
    }
    *link = x->next;
    cs->nextra--;
    table_unlink(&x->sub);
    st = ws_chan_lock();
    if (st != NULL) {
        ws_chan_unsubscribe(st, name, len, ws_chan_my_slot());
        ws_chan_unlock();
    }
    if (ws_chanredis_configured()) {
        ws_chanredis_unlisten(name);
    }
    apr_thread_mutex_unlock(table_mutex);
    free(x);
    return APR_SUCCESS;
}

void ws_chansub_client_message(ws_session_t *s, int text,
                               const unsigned char *buf, apr_size_t len)
{
    ws_chansub_t *cs = s->chan;
    const ws_settings_t *set = s->settings;
    ws_chan_limits_t lim;
    ws_chan_posted_t *out;
    const char **names;
    apr_status_t rv;
    int i, done = 0;

    if (cs == NULL || !set->chan_publish || cs->n == 0) {
        return; /* WebSocketChannelPublish Off: not published */
    }
    names = malloc(sizeof(*names) * cs->n);
    out = malloc(sizeof(*out) * cs->n);
    if (names == NULL || out == NULL) {
        rv = APR_ENOMEM;
    }
    else {
        for (i = 0; i < cs->n; i++) {
            names[i] = cs->subs[i].name;
        }
        lim.messages = set->chan_history;
        lim.seconds = set->chan_history_secs;
        rv = ws_chan_post(names, cs->n, text ? WS_CHAN_TEXT : WS_CHAN_BINARY,
                          buf, len, lim, out, &done);
    }
    free(names);
    free(out);
    if (rv != APR_SUCCESS && ws_chan_refusal_due()) {
        ap_log_cerror(APLOG_MARK, APLOG_WARNING, rv, s->c, WS_LOGNO(00711)
                      "a client's message was not published to %d of its "
                      "%d channels (%s); logged once a second at most",
                      cs->n - done, cs->n, rv == APR_ENOSPC
                      ? "channel memory full: WebSocketChannelMemory"
                      : "channels unavailable");
    }
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
            offer_gap(cs, sub->name, ws_chansub_id(id, sub->last), next);
            cs->kick = 1;
        }
        else if (!sub->skipped) {
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, cs->s->c,
                          WS_LOGNO(01009) "channel %s: messages missed "
                          "before %s (broker), closing with 1011",
                          sub->name, ws_chansub_id(id, next));
            offer_close(cs, WS_CLOSE_INTERNAL_ERROR, "missed messages");
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
        offer_close(cs, WS_CLOSE_NORMAL, "channel deleted");
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
            offer_gap(cs, sub->name, ws_chansub_id(id, sub->last), m->id);
        }
        else if (!sub->skipped) {
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, cs->s->c,
                          WS_LOGNO(00712) "channel %s: messages missed "
                          "before %s, closing with 1011", sub->name,
                          ws_chansub_id(id, m->id));
            offer_close(cs, WS_CLOSE_INTERNAL_ERROR, "missed messages");
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
        offer_close(cs, WS_CLOSE_POLICY, "slow");
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
    apr_thread_mutex_lock(table_mutex);
    for (m = list; m != NULL; m = m->next) {
        ws_local_t *ch = apr_hash_get(table, m->name, m->name_len);
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
    apr_thread_mutex_unlock(table_mutex);
    apr_pool_destroy(p);
    for (i = 0; i < WS_STATUS_NCOUNTS; i++) {
        ws_status_count((ws_status_count_e)i, counts[i]);
    }
}
