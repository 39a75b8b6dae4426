/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanlisten.c -- each child's listener of the channel broker: one
 * thread and one Redis subscriber connection per child.
 *
 * It SUBSCRIBEs the channels this child has subscribers for (the first
 * local subscriber asks, ws_chanredis_listen(); the last one gone
 * unsubscribes), pings Redis every second, and hands each batch of
 * messages to ws_chan_deliver() -- one delivery pass per batch in this
 * child, whatever the number of its subscribers.
 *
 * When the subscriber connection comes back (or a subscriber's start
 * could not be read), the listener first subscribes again, then reads
 * each channel's retained messages and newest id ("catch-up") and
 * delivers them before the live messages held meanwhile: a subscriber
 * gets what it missed, or a gap (ws_chandeliver.c).
 */
#include "httpd.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_thread_cond.h"
#include "apr_thread_mutex.h"
#include "apr_thread_proc.h"

#include "http_log.h"

#include "ws_chanlisten.h"
#include "ws_chanreply.h"
#include "ws_chanredis.h"
#include "ws_chan.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);

#define WS_LISTEN_BACKOFF_MIN apr_time_from_msec(100)
#define WS_LISTEN_BACKOFF_MAX apr_time_from_sec(1)
#define WS_LISTEN_PING apr_time_from_sec(1)
/* live messages held while their channel is caught up */
#define WS_LISTEN_HOLD_MAX 4096

/* ---- the listener: subscriptions of this child ------------------------ */

typedef struct {
    int refs;       /* local subscriptions */
    int state;      /* 0 not subscribed, 1 asked, 2 confirmed */
    int catchup;    /* read its history before delivering it live */
    apr_size_t len;
    char name[1];
} ws_listen_t;

static apr_thread_mutex_t *lmutex;
static apr_thread_cond_t *lcond;
static apr_hash_t *listening;      /* name -> ws_listen_t (lmutex) */
/* bumped by every change that sync_subscriptions() or catch_up() acts on
 * (refs, state, catchup; lmutex): the listener walks the table only
 * when it changed, not once per batch of messages */
static apr_uint32_t lgen;
static apr_uint32_t sync_gen, catchup_gen; /* the listener's */
static int lconnected;             /* the subscriber connection is up */
static int wake_fd[2] = {-1, -1};
static volatile int stopping;
static apr_thread_t *lthread;

static void listener_wake(void)
{
    char b = 1;

    if (wake_fd[1] >= 0 && write(wake_fd[1], &b, 1) < 0) {
        /* full: a wake-up is pending already */
    }
}

apr_status_t ws_chanredis_listen(const char *const *names, int n)
{
    apr_time_t until = apr_time_now() + ws_chanredis_timeout();
    int i, all, asked = 0;

    if (lmutex == NULL) {
        return APR_ENOTIMPL;
    }
    apr_thread_mutex_lock(lmutex);
    for (i = 0; i < n; i++) {
        apr_size_t len = strlen(names[i]);
        ws_listen_t *l = apr_hash_get(listening, names[i], len);

        if (l == NULL) {
            l = calloc(1, sizeof(*l) + len);
            if (l == NULL) {
                continue;
            }
            memcpy(l->name, names[i], len);
            l->len = len;
            apr_hash_set(listening, l->name, len, l);
        }
        if (l->refs++ == 0 && l->state == 0) {
            asked = 1;
        }
    }
    lgen++;
    if (asked) {
        listener_wake();
    }
    for (;;) {
        apr_time_t now = apr_time_now();

        for (i = 0, all = 1; i < n && all; i++) {
            ws_listen_t *l = apr_hash_get(listening, names[i],
                                          strlen(names[i]));

            all = l != NULL && l->state == 2;
        }
        if (all || !lconnected || now >= until) {
            break;
        }
        apr_thread_cond_timedwait(lcond, lmutex, until - now);
    }
    for (i = 0; i < n && !all; i++) {
        ws_listen_t *l = apr_hash_get(listening, names[i],
                                      strlen(names[i]));

        /* not confirmed yet: once it is, what was published meanwhile
         * is read from Redis before anything live */
        if (l != NULL && l->state != 2) {
            l->catchup = 1;
            lgen++;
        }
    }
    apr_thread_mutex_unlock(lmutex);
    return all ? APR_SUCCESS : APR_TIMEUP;
}

void ws_chanredis_unlisten(const char *name)
{
    ws_listen_t *l;

    if (lmutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(lmutex);
    l = apr_hash_get(listening, name, strlen(name));
    if (l != NULL && --l->refs == 0) {
        lgen++;
        listener_wake();
    }
    apr_thread_mutex_unlock(lmutex);
}

static void listener_catchup(const char *name, int wake)
{
    ws_listen_t *l;

    if (lmutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(lmutex);
    l = apr_hash_get(listening, name, strlen(name));
    if (l != NULL) {
        l->catchup = 1;
        lgen++;
    }
    apr_thread_mutex_unlock(lmutex);
    if (wake) {
        listener_wake();
    }
}

/* ---- the listener thread ---------------------------------------------- */

/* Reads what Redis keeps of the channels to catch up and appends it,
 * then a mark with the newest id, to *tail.  On failure the channel
 * stays to catch up. */
static int catch_up(ws_chan_delivery_t ***tail)
{
    apr_array_header_t *todo;
    apr_pool_t *p;
    apr_hash_index_t *hi;
    int i, failed = 0, same;

    /* nothing changed since the last pass: nothing to catch up (a change
     * after this point bumps lgen again) */
    apr_thread_mutex_lock(lmutex);
    same = lgen == catchup_gen;
    catchup_gen = lgen;
    apr_thread_mutex_unlock(lmutex);
    if (same) {
        return 0;
    }
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        apr_thread_mutex_lock(lmutex);
        catchup_gen = lgen - 1; /* try again next time */
        apr_thread_mutex_unlock(lmutex);
        return 1;
    }
    todo = apr_array_make(p, 8, sizeof(char *));
    apr_thread_mutex_lock(lmutex);
    for (hi = apr_hash_first(p, listening); hi; hi = apr_hash_next(hi)) {
        ws_listen_t *l = apr_hash_this_val(hi);

        if (l->catchup && l->state == 2 && l->refs > 0) {
            APR_ARRAY_PUSH(todo, char *) = apr_pstrmemdup(p, l->name,
                                                          l->len);
            l->catchup = 0;
        }
    }
    apr_thread_mutex_unlock(lmutex);
    for (i = 0; i < todo->nelts; i++) {
        const char *name = APR_ARRAY_IDX(todo, i, char *);
        ws_chan_id_t last;
        apr_status_t rv;
        redisReply *r = ws_chanredis_read(name, 1, 1, &last, &rv);

        if (r == NULL) {
            listener_catchup(name, 0); /* tried again in a moment */
            failed++;
            continue;
        }
        ws_chanreply_history(name, r, last, tail);
        freeReplyObject(r);
    }
    apr_pool_destroy(p);
    return failed;
}

/* Whether live messages of @p name must wait for its catch-up. */
static int held(const char *name, apr_size_t len)
{
    ws_listen_t *l;
    int h;

    apr_thread_mutex_lock(lmutex);
    l = apr_hash_get(listening, name, len);
    h = l != NULL && l->catchup;
    apr_thread_mutex_unlock(lmutex);
    return h;
}

/* Sends SUBSCRIBE/UNSUBSCRIBE for what changed; forgets unused ones. */
static int sync_subscriptions(redisContext *c)
{
    apr_hash_index_t *hi;
    int rc = REDIS_OK;

    apr_thread_mutex_lock(lmutex);
    if (lgen == sync_gen) {
        apr_thread_mutex_unlock(lmutex);
        return REDIS_OK; /* nothing changed since the last pass */
    }
    for (hi = apr_hash_first(NULL, listening); hi; hi = apr_hash_next(hi)) {
        ws_listen_t *l = apr_hash_this_val(hi);
        char chan[WS_CHAN_NAME_MAX + 8];
        const char *argv[2];
        size_t lens[2];

        memcpy(chan, WS_CHANREDIS_PREFIX, 3);
        memcpy(chan + 3, l->name, l->len);
        argv[1] = chan;
        lens[1] = l->len + 3;
        if (l->refs > 0 && l->state == 0) {
            argv[0] = "SUBSCRIBE";
            lens[0] = 9;
            rc = redisAppendCommandArgv(c, 2, argv, lens);
            l->state = 1;
        }
        else if (l->refs == 0 && l->state != 1) {
            /* (one whose SUBSCRIBE is not confirmed waits for it) */
            if (l->state == 2) {
                argv[0] = "UNSUBSCRIBE";
                lens[0] = 11;
                rc = redisAppendCommandArgv(c, 2, argv, lens);
            }
            apr_hash_set(listening, l->name, l->len, NULL);
            free(l);
        }
        if (rc != REDIS_OK) {
            break;
        }
    }
    if (rc == REDIS_OK) {
        sync_gen = lgen;
    }
    apr_thread_mutex_unlock(lmutex);
    return rc;
}

static int flush_out(redisContext *c)
{
    apr_time_t until = apr_time_now() + ws_chanredis_timeout();
    int done = 0;

    while (!done) {
        struct pollfd pf = {c->fd, POLLOUT, 0};
        apr_time_t left = until - apr_time_now();

        if (redisBufferWrite(c, &done) != REDIS_OK) {
            return REDIS_ERR;
        }
        if (!done && (left <= 0
                      || poll(&pf, 1, (int)apr_time_as_msec(left)) <= 0)) {
            return REDIS_ERR;
        }
    }
    return REDIS_OK;
}

static void forget_subscriptions(int catchup)
{
    apr_hash_index_t *hi;

    apr_thread_mutex_lock(lmutex);
    for (hi = apr_hash_first(NULL, listening); hi; hi = apr_hash_next(hi)) {
        ws_listen_t *l = apr_hash_this_val(hi);

        l->state = 0;
        if (catchup && l->refs > 0) {
            l->catchup = 1;
        }
    }
    lgen++;
    lconnected = 0;
    apr_thread_cond_broadcast(lcond);
    apr_thread_mutex_unlock(lmutex);
}

/* Handles one reply of the subscriber connection. */
static void on_reply(redisReply *r, ws_chan_delivery_t ***live,
                     ws_chan_delivery_t ***hold, int *nheld, int *pong)
{
    ws_chan_delivery_t *m;

    if (r->type == REDIS_REPLY_STATUS && !strcasecmp(r->str, "PONG")) {
        *pong = 1; /* subscribed to nothing */
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
        || r->element[0]->type != REDIS_REPLY_STRING) {
        return;
    }
    if (!strcmp(r->element[0]->str, "pong")) {
        *pong = 1;
    }
    else if (!strcmp(r->element[0]->str, "subscribe")
             && r->element[1]->type == REDIS_REPLY_STRING
             && r->element[1]->len > 3) {
        ws_listen_t *l;

        apr_thread_mutex_lock(lmutex);
        l = apr_hash_get(listening, r->element[1]->str + 3,
                         r->element[1]->len - 3);
        if (l != NULL && l->state == 1) {
            l->state = 2;
            lgen++;
        }
        apr_thread_cond_broadcast(lcond);
        apr_thread_mutex_unlock(lmutex);
    }
    else if (!strcmp(r->element[0]->str, "message") && r->elements == 3
             && r->element[1]->type == REDIS_REPLY_STRING
             && r->element[2]->type == REDIS_REPLY_STRING) {
        m = ws_chanreply_message(r->element[1], r->element[2]);
        if (m == NULL) {
            return;
        }
        if (!held(m->name, m->name_len)) {
            **live = m;
            *live = &m->next;
        }
        else if (*nheld < WS_LISTEN_HOLD_MAX) {
            /* delivered after the catch-up, which has it or says gap */
            **hold = m;
            *hold = &m->next;
            (*nheld)++;
        }
        else {
            ws_chan_deliveries_free(m);
        }
    }
}

/* Waits for the wake-up pipe at most @p t. */
static void pause_for(apr_interval_time_t t)
{
    struct pollfd pf = {wake_fd[0], POLLIN, 0};
    char buf[64];

    if (poll(&pf, 1, (int)apr_time_as_msec(t)) > 0) {
        while (read(wake_fd[0], buf, sizeof(buf)) > 0) {
        }
    }
}

static void *APR_THREAD_FUNC listener(apr_thread_t *t, void *data)
{
    server_rec *s = data;
    redisContext *c = NULL;
    apr_interval_time_t backoff = WS_LISTEN_BACKOFF_MIN;
    ws_chan_delivery_t *holdl = NULL, **hold = &holdl;
    apr_time_t pinged = 0;
    int ping_out = 0, down_logged = 0, nheld = 0;
    char err[256];

    while (!stopping) {
        ws_chan_delivery_t *livel = NULL, **live = &livel, *cu = NULL;
        ws_chan_delivery_t **cut = &cu;
        struct pollfd pf[2];
        redisReply *r;
        apr_time_t now;
        int pong = 0;

        if (c == NULL) {
            c = ws_chanredis_connect(err, sizeof(err));
            if (c == NULL) {
                if (!down_logged) {
                    down_logged = 1;
                    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                                 WS_LOGNO(01005) "channel broker %s "
                                 "unreachable: %s; retrying, subscribers "
                                 "get what they miss or a gap when it is "
                                 "back", ws_chanredis_name(), err);
                }
                pause_for(backoff);
                backoff = backoff * 2 > WS_LISTEN_BACKOFF_MAX
                          ? WS_LISTEN_BACKOFF_MAX : backoff * 2;
                continue;
            }
            if (down_logged) {
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                             WS_LOGNO(01006) "channel broker %s: "
                             "listening again", ws_chanredis_name());
            }
            down_logged = 0;
            backoff = WS_LISTEN_BACKOFF_MIN;
            ping_out = 0;
            pinged = apr_time_now();
            apr_thread_mutex_lock(lmutex);
            lconnected = 1;
            apr_thread_mutex_unlock(lmutex);
        }
        now = apr_time_now();
        if (!ping_out && now - pinged >= WS_LISTEN_PING) {
            redisAppendCommand(c, "PING");
            ping_out = 1;
            pinged = now;
        }
        if (sync_subscriptions(c) != REDIS_OK || flush_out(c) != REDIS_OK) {
            apr_cpystrn(err, c->errstr, sizeof(err));
            goto lost;
        }
        /* channels confirmed (again): what they missed first, then what
         * was held for them */
        if (catch_up(&cut) == 0) {
            *cut = holdl;
            holdl = NULL;
            hold = &holdl;
            nheld = 0;
        }
        if (cu != NULL) {
            ws_chan_deliver(cu);
            ws_chan_deliveries_free(cu);
        }
        pf[0].fd = c->fd;
        pf[0].events = POLLIN;
        pf[0].revents = 0;
        pf[1].fd = wake_fd[0];
        pf[1].events = POLLIN;
        pf[1].revents = 0;
        if (poll(pf, 2, 250) < 0 && errno != EINTR) {
            apr_cpystrn(err, "poll failed", sizeof(err));
            goto lost;
        }
        if (pf[1].revents) {
            char buf[64];

            while (read(wake_fd[0], buf, sizeof(buf)) > 0) {
            }
        }
        if (pf[0].revents) {
            if (redisBufferRead(c) != REDIS_OK) {
                apr_cpystrn(err, c->errstr, sizeof(err));
                goto lost;
            }
            r = NULL;
            while (redisGetReplyFromReader(c, (void **)&r) == REDIS_OK
                   && r != NULL) {
                on_reply(r, &live, &hold, &nheld, &pong);
                freeReplyObject(r);
                r = NULL;
            }
            if (c->err) {
                apr_cpystrn(err, c->errstr, sizeof(err));
                goto lost;
            }
            if (pong) {
                ping_out = 0;
            }
        }
        if (livel != NULL) {
            /* one delivery pass for the batch */
            ws_chan_deliver(livel);
            ws_chan_deliveries_free(livel);
            livel = NULL;
        }
        if (ping_out && apr_time_now() - pinged > ws_chanredis_timeout()) {
            apr_cpystrn(err, "no answer to PING within "
                        "WebSocketChannelBrokerTimeout", sizeof(err));
            goto lost;
        }
        continue;
    lost:
        if (livel != NULL) {
            ws_chan_deliver(livel);
            ws_chan_deliveries_free(livel);
        }
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, WS_LOGNO(01007)
                     "channel broker %s: subscriber connection lost (%s); "
                     "reconnecting", ws_chanredis_name(), err);
        down_logged = 1;
        redisFree(c);
        c = NULL;
        forget_subscriptions(1);
        /* what was held is read again by the catch-up */
        ws_chan_deliveries_free(holdl);
        holdl = NULL;
        hold = &holdl;
        nheld = 0;
        pause_for(backoff);
    }
    ws_chan_deliveries_free(holdl);
    if (c != NULL) {
        redisFree(c);
    }
    return NULL;
}

static apr_status_t stop_listener(void *data)
{
    apr_hash_index_t *hi;
    apr_status_t rv;

    if (lthread == NULL) {
        return APR_SUCCESS;
    }
    stopping = 1;
    listener_wake();
    apr_thread_join(&rv, lthread);
    lthread = NULL;
    /* subscriptions of connections that did not end before the child */
    apr_thread_mutex_lock(lmutex);
    for (hi = apr_hash_first(NULL, listening); hi; hi = apr_hash_next(hi)) {
        ws_listen_t *l = apr_hash_this_val(hi);

        apr_hash_set(listening, l->name, l->len, NULL);
        free(l);
    }
    apr_thread_mutex_unlock(lmutex);
    return APR_SUCCESS;
}

static apr_status_t listener_start(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    rv = apr_thread_mutex_create(&lmutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&lcond, pchild);
    }
    if (rv == APR_SUCCESS) {
        listening = apr_hash_make(pchild);
        if (pipe(wake_fd) != 0) {
            rv = errno;
        }
        else {
            fcntl(wake_fd[0], F_SETFL, O_NONBLOCK);
            fcntl(wake_fd[1], F_SETFL, O_NONBLOCK);
            fcntl(wake_fd[0], F_SETFD, FD_CLOEXEC);
            fcntl(wake_fd[1], F_SETFD, FD_CLOEXEC);
        }
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_create(&lthread, NULL, listener, s, pchild);
    }
    if (rv != APR_SUCCESS) {
        lmutex = NULL;
        return rv;
    }
    apr_pool_pre_cleanup_register(pchild, NULL, stop_listener);
    return APR_SUCCESS;
}

void ws_chanlisten_register(void)
{
    static const ws_chanredis_listener_t ops = {
        listener_start, listener_wake, listener_catchup
    };

    ws_chanredis_set_listener(&ops);
}
