/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanredis.c -- Redis as the broker of channels (WebSocketChannelBroker):
 * each child's command connection and the Lua scripts it runs (the
 * configuration and connecting: ws_chanbroker.c).
 *
 * Each child holds two connections (hiredis, blocking sockets with the
 * broker timeout):
 *  - the command connection, shared by the child's threads under a mutex
 *    (waited for at most the timeout): publish, delete and describe run a
 *    short Lua script (EVALSHA, or EVAL when Redis does not know it yet);
 *  - the subscriber connection, owned by one listener thread per child
 *    (ws_chanlisten.c).
 *
 * In Redis, channel NAME is: the hash "ws:NAME:meta" (e epoch, s last seq,
 * a age limit), the stream "ws:NAME:hist" (entry id "<seq>-0", fields k
 * type, t milliseconds, d data; MAXLEN WebSocketChannelHistory) and the
 * pub/sub channel "ws:NAME" carrying "<epoch>:<seq>:<type>:<data>".  An
 * epoch is Redis's TIME in microseconds when the channel (re)starts: a
 * Redis that lost its data gives a new, larger epoch, never an id again.
 */
#include "httpd.h"
#include <stdlib.h>
#include <string.h>

#include "apr_sha1.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include "http_log.h"

#include "ws_chan.h"
#include "ws_chanredis.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);


#ifdef WS_HAVE_HIREDIS

#include "ws_chanlisten.h"

/* this child's listener (ws_chanlisten.c), as it registered itself */
static const ws_chanredis_listener_t *listener;

void ws_chanredis_set_listener(const ws_chanredis_listener_t *l)
{
    listener = l;
}

/* ---- the Lua scripts ------------------------------------------------- */

/* KEYS meta, hist; ARGV pubsub channel, type, data, maxlen, age */
static const char lua_publish[] =
    "local e = redis.call('HGET', KEYS[1], 'e')\n"
    "if not e then\n"
    "  local t = redis.call('TIME')\n"
    "  e = t[1] .. string.format('%06d', tonumber(t[2]))\n"
    "  redis.call('HSET', KEYS[1], 'e', e, 's', 0)\n"
    "  redis.call('DEL', KEYS[2])\n"
    "end\n"
    "local s = redis.call('HINCRBY', KEYS[1], 's', 1)\n"
    "redis.call('HSET', KEYS[1], 'a', ARGV[5])\n"
    "redis.call('PERSIST', KEYS[1])\n"
    "if tonumber(ARGV[4]) > 0 then\n"
    "  local t = redis.call('TIME')\n"
    "  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[4], s .. '-0', 'k',\n"
    "    ARGV[2], 't', t[1] .. string.format('%03d',\n"
    "    math.floor(tonumber(t[2]) / 1000)), 'd', ARGV[3])\n"
    "else\n"
    "  redis.call('DEL', KEYS[2])\n"
    "end\n"
    "local n = redis.call('PUBLISH', ARGV[1],\n"
    "  e .. ':' .. s .. ':' .. ARGV[2] .. ':' .. ARGV[3])\n"
    "return {e, s, n}\n";

/* KEYS meta, hist; ARGV create (1/0), entries (1/0)
 * -> {epoch or '', last seq, [seq, type, data]...} (within the age).
 * A channel only subscribed to (never published) is kept for a day after
 * the last subscriber started: names that subscribers alone make up do
 * not stay in Redis for ever (the first publish keeps it). */
static const char lua_read[] =
    "local m = redis.call('HMGET', KEYS[1], 'e', 's', 'a')\n"
    "local e, s, a = m[1], tonumber(m[2] or 0), tonumber(m[3] or 0)\n"
    "if not e then\n"
    "  if ARGV[1] ~= '1' then return {'', 0} end\n"
    "  local t = redis.call('TIME')\n"
    "  e = t[1] .. string.format('%06d', tonumber(t[2]))\n"
    "  redis.call('HSET', KEYS[1], 'e', e, 's', 0)\n"
    "  redis.call('PEXPIRE', KEYS[1], 86400000)\n"
    "  redis.call('DEL', KEYS[2])\n"
    "  return {e, 0}\n"
    "end\n"
    "if s == 0 and ARGV[1] == '1'\n"
    "   and redis.call('PTTL', KEYS[1]) > 0 then\n"
    "  redis.call('PEXPIRE', KEYS[1], 86400000)\n"
    "end\n"
    "local min = 0\n"
    "if a > 0 then\n"
    "  local t = redis.call('TIME')\n"
    "  min = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "    - a * 1000\n"
    "end\n"
    "local r = {e, s}\n"
    "for _, x in ipairs(redis.call('XRANGE', KEYS[2], '-', '+')) do\n"
    "  local f = x[2]\n"
    "  if tonumber(f[4]) >= min then\n"
    "    r[#r + 1] = tonumber(string.match(x[1], '^%d+'))\n"
    "    if ARGV[2] == '1' then\n"
    "      r[#r + 1] = f[2]\n"
    "      r[#r + 1] = f[6]\n"
    "    else\n"
    "      r[#r + 1] = 0\n"
    "      r[#r + 1] = ''\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return r\n";

/* KEYS meta, hist; ARGV pubsub channel -> {found, receivers} */
static const char lua_delete[] =
    "local e = redis.call('HGET', KEYS[1], 'e')\n"
    "if not e then return {0, 0} end\n"
    "local t = redis.call('TIME')\n"
    "local n = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "if n <= tonumber(e) then n = tonumber(e) + 1 end\n"
    "local ne = string.format('%.0f', n)\n"
    "redis.call('HSET', KEYS[1], 'e', ne, 's', 0)\n"
    "redis.call('DEL', KEYS[2])\n"
    "return {1, redis.call('PUBLISH', ARGV[1], ne .. ':0:256:')}\n";

/* a script and its SHA1 in hex, for EVALSHA (made in child_init) */
typedef struct {
    const char *text;
    char sha[2 * APR_SHA1_DIGESTSIZE + 1];
} ws_script_t;

static ws_script_t script_publish = {lua_publish, ""};
static ws_script_t script_read = {lua_read, ""};
static ws_script_t script_delete = {lua_delete, ""};

static void script_sha(ws_script_t *sc)
{
    unsigned char d[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    int i;

    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, (const unsigned char *)sc->text,
                           (unsigned int)strlen(sc->text));
    apr_sha1_final(d, &ctx);
    for (i = 0; i < APR_SHA1_DIGESTSIZE; i++) {
        apr_snprintf(sc->sha + 2 * i, 3, "%02x", d[i]);
    }
}

static server_rec *main_server;

/* ---- the command connection ------------------------------------------ */

static apr_thread_mutex_t *cmd_mutex;
static redisContext *cmd_ctx;
static apr_time_t cmd_retry;  /* no new connection before */
static int cmd_down;          /* logged as lost */

/* Runs a script (EVALSHA; EVAL the first time Redis does not know it);
 * NULL on failure (logged at most once a second). */
static redisReply *run_script(const ws_script_t *script, const char *name,
                              int nargs, const char **args,
                              const size_t *lens, apr_status_t *rv)
{
    const char *argv[12];
    size_t lv[12];
    char meta[WS_CHAN_NAME_MAX + 16], hist[WS_CHAN_NAME_MAX + 16];
    char err[256] = "";
    redisReply *r = NULL;
    apr_size_t nl = strlen(name);
    int i;

    *rv = APR_EGENERAL;
    if (cmd_mutex == NULL) {
        *rv = APR_ENOTIMPL;
        return NULL;
    }
    memcpy(meta, WS_CHANREDIS_PREFIX, 3);
    memcpy(meta + 3, name, nl);
    memcpy(meta + 3 + nl, ":meta", 6);
    memcpy(hist, meta, 3 + nl);
    memcpy(hist + 3 + nl, ":hist", 6);
    argv[0] = "EVALSHA";
    argv[1] = script->sha;
    argv[2] = "2";
    argv[3] = meta;
    argv[4] = hist;
    lv[0] = 7;
    lv[1] = strlen(script->sha);
    lv[2] = 1;
    lv[3] = lv[4] = nl + 8;
    for (i = 0; i < nargs; i++) {
        argv[5 + i] = args[i];
        lv[5 + i] = lens[i];
    }
    if (apr_thread_mutex_timedlock(cmd_mutex, ws_chanredis_timeout())
        != APR_SUCCESS) {
        *rv = APR_TIMEUP;
        if (ws_chan_refusal_due()) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                         WS_LOGNO(01001) "channel broker %s: no answer "
                         "within WebSocketChannelBrokerTimeout; logged "
                         "once a second at most", ws_chanredis_name());
        }
        return NULL;
    }
    if (cmd_ctx == NULL && apr_time_now() >= cmd_retry) {
        cmd_ctx = ws_chanredis_connect(err, sizeof(err));
        if (cmd_ctx == NULL) {
            cmd_retry = apr_time_now() + apr_time_from_sec(1);
        }
        else if (cmd_down) {
            cmd_down = 0;
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, main_server,
                         WS_LOGNO(01002) "channel broker %s: connected "
                         "again", ws_chanredis_name());
            /* the listener need not wait for its next try: the sooner
             * it is back, the less its subscribers miss */
            if (listener != NULL) {
                listener->wake();
            }
        }
    }
    if (cmd_ctx != NULL) {
        r = redisCommandArgv(cmd_ctx, 5 + nargs, argv, lv);
        if (r != NULL && r->type == REDIS_REPLY_ERROR
            && !strncmp(r->str, "NOSCRIPT", 8)) {
            /* a Redis that did not see it yet, or restarted: it keeps
             * the script once it has run it */
            freeReplyObject(r);
            argv[0] = "EVAL";
            argv[1] = script->text;
            lv[0] = 4;
            lv[1] = strlen(script->text);
            r = redisCommandArgv(cmd_ctx, 5 + nargs, argv, lv);
        }
        if (r == NULL) {
            apr_cpystrn(err, cmd_ctx->errstr, sizeof(err));
            redisFree(cmd_ctx);
            cmd_ctx = NULL;
            cmd_retry = apr_time_now() + apr_time_from_sec(1);
        }
        else if (r->type == REDIS_REPLY_ERROR) {
            apr_cpystrn(err, r->str, sizeof(err));
            *rv = strncmp(r->str, "OOM", 3) ? APR_EGENERAL : APR_ENOSPC;
            freeReplyObject(r);
            r = NULL;
        }
        else {
            *rv = APR_SUCCESS;
        }
    }
    else if (!*err) {
        apr_cpystrn(err, "not connected (retrying)", sizeof(err));
    }
    if (r == NULL && !cmd_down && cmd_ctx == NULL) {
        cmd_down = 1;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, main_server, WS_LOGNO(01003)
                     "channel broker %s unavailable: %s; publishing is "
                     "refused (503) until it is back", ws_chanredis_name(),
                     err);
    }
    else if (r == NULL && ws_chan_refusal_due()) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                     WS_LOGNO(01004) "channel broker %s: %s; logged once "
                     "a second at most", ws_chanredis_name(), err);
    }
    apr_thread_mutex_unlock(cmd_mutex);
    return r;
}

apr_uint64_t ws_chanredis_u64(const redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER) {
        return (apr_uint64_t)r->integer;
    }
    if (r->type == REDIS_REPLY_STRING) {
        return (apr_uint64_t)apr_strtoi64(r->str, NULL, 10);
    }
    return 0;
}

apr_status_t ws_chanredis_publish(const char *name, int type,
                                  const void *data, apr_size_t len,
                                  ws_chan_limits_t limits, ws_chan_id_t *id,
                                  apr_uint32_t *receivers)
{
    char chan[WS_CHAN_NAME_MAX + 8], t[16], max[16], age[16];
    const char *args[5];
    size_t lens[5];
    redisReply *r;
    apr_status_t rv;

    apr_snprintf(chan, sizeof(chan), WS_CHANREDIS_PREFIX "%s", name);
    apr_snprintf(t, sizeof(t), "%d", type);
    apr_snprintf(max, sizeof(max), "%u", limits.messages);
    apr_snprintf(age, sizeof(age), "%u", limits.seconds);
    args[0] = chan;
    args[1] = t;
    args[2] = len ? data : "";
    args[3] = max;
    args[4] = age;
    lens[0] = strlen(chan);
    lens[1] = strlen(t);
    lens[2] = len;
    lens[3] = strlen(max);
    lens[4] = strlen(age);
    r = run_script(&script_publish, name, 5, args, lens, &rv);
    if (r == NULL) {
        return rv;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        freeReplyObject(r);
        return APR_EGENERAL;
    }
    id->epoch = ws_chanredis_u64(r->element[0]);
    id->seq = ws_chanredis_u64(r->element[1]);
    *receivers = (apr_uint32_t)ws_chanredis_u64(r->element[2]);
    freeReplyObject(r);
    return APR_SUCCESS;
}

apr_status_t ws_chanredis_delete(const char *name, apr_uint32_t *receivers,
                                 int *found)
{
    char chan[WS_CHAN_NAME_MAX + 8];
    const char *args[1];
    size_t lens[1];
    redisReply *r;
    apr_status_t rv;

    apr_snprintf(chan, sizeof(chan), WS_CHANREDIS_PREFIX "%s", name);
    args[0] = chan;
    lens[0] = strlen(chan);
    r = run_script(&script_delete, name, 1, args, lens, &rv);
    if (r == NULL) {
        return rv;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        freeReplyObject(r);
        return APR_EGENERAL;
    }
    *found = ws_chanredis_u64(r->element[0]) != 0;
    *receivers = (apr_uint32_t)ws_chanredis_u64(r->element[1]);
    freeReplyObject(r);
    return APR_SUCCESS;
}

redisReply *ws_chanredis_read(const char *name, int create, int entries,
                                ws_chan_id_t *last, apr_status_t *rv)
{
    const char *args[2] = {create ? "1" : "0", entries ? "1" : "0"};
    size_t lens[2] = {1, 1};
    redisReply *r = run_script(&script_read, name, 2, args, lens, rv);

    if (r == NULL) {
        return NULL;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
        || (r->elements - 2) % 3) {
        freeReplyObject(r);
        *rv = APR_EGENERAL;
        return NULL;
    }
    last->epoch = ws_chanredis_u64(r->element[0]);
    last->seq = ws_chanredis_u64(r->element[1]);
    return r;
}

apr_status_t ws_chanredis_info(const char *name, ws_chan_info_t *info)
{
    char chan[WS_CHAN_NAME_MAX + 8];
    apr_status_t rv;
    redisReply *r = ws_chanredis_read(name, 0, 0, &info->last, &rv);
    apr_size_t n;

    if (r == NULL) {
        return rv;
    }
    n = (r->elements - 2) / 3;
    info->history = (apr_uint32_t)n;
    info->first_seq = n ? ws_chanredis_u64(r->element[2]) : info->last.seq + 1;
    freeReplyObject(r);
    /* the children listening, on every server */
    apr_snprintf(chan, sizeof(chan), WS_CHANREDIS_PREFIX "%s", name);
    info->subscribers = 0;
    if (apr_thread_mutex_timedlock(cmd_mutex, ws_chanredis_timeout())
        == APR_SUCCESS) {
        if (cmd_ctx != NULL) {
            r = redisCommand(cmd_ctx, "PUBSUB NUMSUB %s", chan);
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
                info->subscribers =
                    (apr_uint32_t)ws_chanredis_u64(r->element[1]);
            }
            if (r == NULL) {
                redisFree(cmd_ctx);
                cmd_ctx = NULL;
            }
            freeReplyObject(r);
        }
        apr_thread_mutex_unlock(cmd_mutex);
    }
    return APR_SUCCESS;
}

apr_status_t ws_chanredis_resume(const char *name, int resume,
                                 ws_chan_id_t given, ws_chan_id_t *last,
                                 ws_chan_id_t *first, int *gap,
                                 ws_chan_msg_fn fn, void *baton)
{
    apr_status_t rv;
    redisReply *r = ws_chanredis_read(name, 1, resume, last, &rv);
    apr_size_t i, n;
    apr_uint64_t oldest;

    *gap = 0;
    if (r == NULL) {
        last->epoch = last->seq = 0;
        first->epoch = first->seq = 0;
        if (listener != NULL) {
            listener->catchup(name, 1);
        }
        return APR_SUCCESS; /* the listener catches it up */
    }
    n = (r->elements - 2) / 3;
    oldest = n ? ws_chanredis_u64(r->element[2]) : last->seq + 1;
    if (resume) {
        *gap = given.epoch != last->epoch || given.seq + 1 < oldest
               || given.seq > last->seq;
        first->epoch = last->epoch;
        first->seq = *gap ? oldest : given.seq + 1;
    }
    for (i = 0; resume && i < n && rv == APR_SUCCESS; i++) {
        ws_chan_msg_t m;
        redisReply *d = r->element[2 + 3 * i + 2];

        memset(&m, 0, sizeof(m));
        m.id.epoch = last->epoch;
        m.id.seq = ws_chanredis_u64(r->element[2 + 3 * i]);
        if (m.id.seq < first->seq) {
            continue;
        }
        m.type = (int)ws_chanredis_u64(r->element[2 + 3 * i + 1]);
        m.data = d->type == REDIS_REPLY_STRING ? d->str : "";
        m.len = d->type == REDIS_REPLY_STRING ? d->len : 0;
        m.name = name;
        m.name_len = strlen(name);
        rv = fn(baton, &m);
    }
    freeReplyObject(r);
    return rv;
}

static apr_status_t close_command(void *data)
{
    apr_thread_mutex_lock(cmd_mutex);
    if (cmd_ctx != NULL) {
        redisFree(cmd_ctx);
        cmd_ctx = NULL;
    }
    apr_thread_mutex_unlock(cmd_mutex);
    return APR_SUCCESS;
}

static void ws_chanredis_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    main_server = s;
    if (!ws_chanredis_configured() || !ws_chan_enabled()) {
        return;
    }
    script_sha(&script_publish);
    script_sha(&script_read);
    script_sha(&script_delete);
    rv = apr_thread_mutex_create(&cmd_mutex, APR_THREAD_MUTEX_TIMED,
                                 pchild);
    if (rv == APR_SUCCESS) {
        /* pre-cleanups run last registered first: the listener (which
         * uses this connection) stops before it is closed */
        apr_pool_pre_cleanup_register(pchild, NULL, close_command);
        rv = listener != NULL ? listener->start(pchild, s) : APR_ENOTIMPL;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, WS_LOGNO(01008)
                     "channel broker %s: cannot start this child's "
                     "listener; its subscribers get nothing",
                     ws_chanredis_name());
        cmd_mutex = NULL;
    }
}

#else /* !WS_HAVE_HIREDIS: a server without Redis support */

apr_status_t ws_chanredis_publish(const char *name, int type,
                                  const void *data, apr_size_t len,
                                  ws_chan_limits_t limits, ws_chan_id_t *id,
                                  apr_uint32_t *receivers)
{
    return APR_ENOTIMPL;
}

apr_status_t ws_chanredis_delete(const char *name, apr_uint32_t *receivers,
                                 int *found)
{
    return APR_ENOTIMPL;
}

apr_status_t ws_chanredis_info(const char *name, ws_chan_info_t *info)
{
    return APR_ENOTIMPL;
}

apr_status_t ws_chanredis_listen(const char *const *names, int n)
{
    return APR_ENOTIMPL;
}

void ws_chanredis_unlisten(const char *name)
{
}

apr_status_t ws_chanredis_resume(const char *name, int resume,
                                 ws_chan_id_t given, ws_chan_id_t *last,
                                 ws_chan_id_t *first, int *gap,
                                 ws_chan_msg_fn fn, void *baton)
{
    return APR_ENOTIMPL;
}

static void ws_chanredis_child_init(apr_pool_t *pchild, server_rec *s)
{
}

#endif /* WS_HAVE_HIREDIS */

void ws_chanredis_register_hooks(apr_pool_t *p)
{
    /* after ws_chan.c's child_init: channels must work in this child */
    ap_hook_child_init(ws_chanredis_child_init, NULL, NULL,
                       APR_HOOK_LAST);
}
