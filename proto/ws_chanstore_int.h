/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanstore_int.h -- the layout of a channel store's region, shared
 * by the store's two source files only.
 */
#ifndef WS_CHANSTORE_INT_H
#define WS_CHANSTORE_INT_H

#include "ws_chanstore.h"
#include "ws_shmalloc.h"

#define WS_CHAN_MAGIC 0x57534348u /* "WSCH" */
/* bump on any change of the structures below: a region of another
 * version is formatted anew rather than misread */
#define WS_CHAN_VERSION 1u

/*
 * The region: this header at offset 0, the hash table (nbuckets
 * offsets of channels), the log (log_size entries), then the arena of
 * the allocator, which holds channels, their slot counts and messages.
 * Every reference is an offset from the region's start; 0 is "none".
 * All of it is guarded by the caller's global lock.
 */
struct ws_chan_store_t {
    /* fixed when formatted */
    apr_uint32_t magic;
    apr_uint32_t version;
    apr_uint64_t size;
    apr_uint32_t nslots;
    apr_uint32_t nbuckets;  /* a power of two */
    apr_uint32_t log_size;  /* a power of two */
    apr_uint32_t channels;  /* channels in the region */
    apr_size_t buckets;     /* offset of the hash table */
    apr_size_t log;         /* offset of the log */
    /* ids */
    apr_uint64_t epoch_next; /* epochs are taken from here, never reused */
    apr_uint64_t log_head;   /* position of the next entry */
    apr_uint64_t log_tail;   /* position of the oldest entry kept */
    /* channels by last publish (or creation), least recent first */
    apr_size_t lru_first;
    apr_size_t lru_last;
    /* figures */
    apr_uint64_t subscribers;
    apr_uint64_t published;
    apr_uint64_t failed;
    apr_uint64_t evicted;
    apr_uint64_t history_msgs;
    apr_uint64_t history_bytes;
    ws_shmalloc_t heap;
};

/* one entry of a channel's subscriber counts */
typedef struct {
    apr_uint32_t slot;
    apr_uint32_t count; /* > 0 */
} slot_count_t;

typedef struct {
    apr_size_t hnext;          /* next channel of the hash bucket */
    apr_size_t older, newer;   /* neighbours by last publish */
    apr_size_t first, last;    /* history, oldest to newest (msg_t.next) */
    apr_size_t subs;           /* slot_count_t[subs_cap] */
    apr_uint64_t epoch;
    apr_uint64_t next_seq;     /* seq of the next message */
    apr_uint64_t hist_bytes;   /* payload bytes in history */
    apr_uint32_t hist_n;       /* messages in history */
    apr_uint32_t nmsgs;        /* messages alive (history or log) */
    apr_uint32_t nsubs;        /* subscribers, all slots */
    apr_uint32_t subs_n;       /* entries used in subs */
    apr_uint32_t subs_cap;
    apr_uint32_t hash;
    ws_chan_limits_t limits;   /* history limits of the last publish */
    apr_uint16_t name_len;
    apr_byte_t pinned;         /* in use by the running call: keep it */
    char name[];
} chan_t;

/* A message: referenced by its channel's history and by one log entry;
 * freed when neither does.  A message in history has the seq one above
 * the one before it. */
typedef struct {
    apr_size_t next;    /* newer message of the history */
    apr_size_t chan;    /* its channel, kept while the message lives */
    apr_uint64_t epoch;
    apr_uint64_t seq;   /* 0: a WS_CHAN_DELETED entry */
    apr_time_t time;
    apr_uint64_t len;
    apr_uint32_t refs;  /* in history (0/1) + in the log (0/1) */
    apr_uint32_t type;
    char data[];
} msg_t;

typedef struct {
    apr_uint64_t pos; /* log position, for checks */
    apr_size_t msg;
} log_entry_t;

#define OFF(st, off) ((void *)((char *)(st) + (off)))
#define COFF(st, off) ((const void *)((const char *)(st) + (off)))
#define CH(st, off) ((chan_t *)OFF(st, off))
#define MS(st, off) ((msg_t *)OFF(st, off))
#define LOG(st, pos) \
    ((log_entry_t *)OFF(st, (st)->log) + ((pos) & ((st)->log_size - 1)))
#define BUCKET(st, hash) \
    ((apr_size_t *)OFF(st, (st)->buckets) + ((hash) & ((st)->nbuckets - 1)))

#define WS_CHAN_NAME_OK(name, len) \
    ((name) != NULL && (len) >= 1 && (len) <= WS_CHAN_NAME_MAX)

/**
 * The channel named @p name (@p len bytes, valid), 0 if none.
 * @param hash if not NULL, receives the name's hash
 * @remark Lock held.
 */
apr_size_t ws_chan_lookup(const ws_chan_store_t *st, const char *name,
                          apr_size_t len, apr_uint32_t *hash);

#endif /* WS_CHANSTORE_INT_H */
