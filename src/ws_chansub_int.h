/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chansub_int.h -- inside the subscribers of channels: what
 * ws_chansub.c (subscribing, resuming, the table), ws_chanplugin.c (a
 * plugin's own subscriptions) and ws_chandeliver.c (offers and
 * delivery) share.  Not for other files: they use ws_chansub.h.
 */
#ifndef WS_CHANSUB_INT_H
#define WS_CHANSUB_INT_H

#include "apr_hash.h"
#include "apr_thread_mutex.h"

#include "ws_chansub.h"
#include "ws_queue.h"

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
    const char *const *names;     /* the location's n channels */
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

/** This child's table: channel name -> ws_local_t, and its mutex (the
 * first of the locks; see ws_chansub.c). */
extern apr_thread_mutex_t *ws_chansub_mutex;
extern apr_hash_t *ws_chansub_table;

/** Puts one subscription into the table (table mutex). */
void ws_chansub_link(ws_sub_t *sub);

/** Takes one subscription out of the table (table mutex). */
void ws_chansub_unlink(ws_sub_t *sub);

/* -- ws_chandeliver.c -- */

/** Queues a copy of one message to @p cs without waiting (with the
 * channel-meta prefix when agreed). */
ws_queue_status_e ws_chansub_offer_msg(ws_chansub_t *cs, int type,
                                       ws_chan_id_t id, const char *name,
                                       const char *data, apr_size_t len);

/** Queues a gap notice (channel-meta): @p last was the client's last
 * id, @p next the first it will get. */
void ws_chansub_offer_gap(ws_chansub_t *cs, const char *name,
                          const char *last, ws_chan_id_t next);

/** Queues a close with @p code and @p reason, once per connection. */
void ws_chansub_offer_close(ws_chansub_t *cs, int code, const char *reason);

#endif /* WS_CHANSUB_INT_H */
