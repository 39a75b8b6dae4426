/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanbroker.c -- the configuration of the channel broker
 * (WebSocketChannelBroker's URL, WebSocketChannelBrokerPassword,
 * WebSocketChannelBrokerTimeout; the parent's, inherited by children)
 * and connecting to it: authenticated, the database selected, every
 * step within the timeout.  Credentials are never logged nor repeated
 * in a configuration error.
 */
#include "httpd.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"

#include "http_config.h"

#include "ws_chanbroker.h"
#include "ws_chanredis.h"

static const char *cfg_pass_dir; /* WebSocketChannelBrokerPassword */
static const char *cfg_show;     /* the URL without credentials; NULL:
                                  * no broker */
static apr_interval_time_t cfg_timeout = WS_CHANREDIS_DEFAULT_TIMEOUT;

int ws_chanredis_configured(void)
{
    return cfg_show != NULL;
}

void ws_chanredis_set_password(const char *password)
{
    cfg_pass_dir = password;
}

void ws_chanredis_set_timeout(apr_interval_time_t timeout)
{
    cfg_timeout = timeout;
}

#ifdef WS_HAVE_HIREDIS

#include "ws_chanlisten.h"

static const char *cfg_host;
static int cfg_port;
static const char *cfg_path;     /* unix socket, or NULL */
static const char *cfg_user;
static const char *cfg_pass;     /* from the URL */
static int cfg_db;

static int parse_db(const char *s, int *db)
{
    char *end;
    long v;

    if (*s == '\0') {
        return 1;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 65535 || end == s) {
        return 0;
    }
    *db = (int)v;
    return 1;
}


const char *ws_chanredis_set_url(apr_pool_t *p, const char *url)
{
    const char *rest, *at, *slash, *colon;
    char *host;

    cfg_host = cfg_path = cfg_user = cfg_pass = cfg_show = NULL;
    cfg_db = 0;
    cfg_port = 6379;
    if (!strcasecmp(url, "Off")) {
        return NULL;
    }
    if (!strncasecmp(url, "redis+unix://", 13)) {
        const char *q;

        rest = url + 13;
        q = strchr(rest, '?');
        if (*rest != '/' || (q && q == rest + 1)) {
            return "expected redis+unix:///path/to/socket[?db=N]";
        }
        cfg_path = q ? apr_pstrndup(p, rest, q - rest) : rest;
        if (q && (strncmp(q, "?db=", 4) || !parse_db(q + 4, &cfg_db))) {
            return "the query of a redis+unix URL can only be ?db=N "
                   "(N from 0 to 65535)";
        }
        cfg_host = "";
        cfg_show = apr_psprintf(p, "redis+unix://%s?db=%d", cfg_path,
                                cfg_db);
        return NULL;
    }
    if (strncasecmp(url, "redis://", 8)) {
        return "expected Off, redis://[user:password@]host[:port][/db] "
               "or redis+unix:///path/to/socket[?db=N]";
    }
    rest = url + 8;
    slash = strchr(rest, '/');
    at = strrchr(rest, '@');
    if (at && slash && at > slash) {
        at = NULL;
    }
    if (at) {
        const char *cred = apr_pstrndup(p, rest, at - rest);
        const char *c = strchr(cred, ':');

        if (c) {
            cfg_user = c > cred ? apr_pstrndup(p, cred, c - cred) : NULL;
            cfg_pass = c[1] ? c + 1 : NULL;
        }
        else {
            cfg_pass = *cred ? cred : NULL; /* redis://password@host */
        }
        rest = at + 1;
    }
    host = slash ? apr_pstrndup(p, rest, slash - rest) : apr_pstrdup(p, rest);
    if (*host == '[') {
        char *e = strchr(host, ']');

        if (e == NULL) {
            return "unterminated [ in the host";
        }
        *e = '\0';
        colon = e[1] == ':' ? e + 1 : NULL;
        if (e[1] && !colon) {
            return "expected :port after the host";
        }
        host++;
    }
    else {
        colon = strrchr(host, ':');
        if (colon) {
            *(char *)colon = '\0';
        }
    }
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);

        if (*end || end == colon + 1 || v < 1 || v > 65535) {
            return "the port is not a number from 1 to 65535";
        }
        cfg_port = (int)v;
    }
    if (*host == '\0') {
        return "no host";
    }
    if (slash && !parse_db(slash + 1, &cfg_db)) {
        return "the database after / is not a number from 0 to 65535";
    }
    cfg_host = host;
    cfg_show = apr_psprintf(p, "redis://%s%s%s:%d/%d",
                            strchr(host, ':') ? "[" : "", host,
                            strchr(host, ':') ? "]" : "", cfg_port, cfg_db);
    return NULL;
}

const char *ws_chanredis_name(void)
{
    return cfg_show;
}

apr_interval_time_t ws_chanredis_timeout(void)
{
    return cfg_timeout;
}

static struct timeval to_tv(apr_interval_time_t t)
{
    struct timeval tv;

    tv.tv_sec = (long)apr_time_sec(t);
    tv.tv_usec = (long)apr_time_usec(t);
    return tv;
}

/* Whether a setup command's reply @p r says success; frees it.  @p err
 * receives Redis's error, or the connection's when there was no reply. */
static int reply_ok(redisContext *c, redisReply *r, char *err, apr_size_t n)
{
    int ok = r != NULL && r->type != REDIS_REPLY_ERROR;

    if (r == NULL) {
        apr_cpystrn(err, c->errstr, n);
    }
    else if (!ok) {
        apr_cpystrn(err, r->str, n);
    }
    freeReplyObject(r);
    return ok;
}

redisContext *ws_chanredis_connect(char *err, apr_size_t n)
{
    struct timeval tv = to_tv(cfg_timeout);
    const char *pass = cfg_pass_dir ? cfg_pass_dir : cfg_pass;
    redisContext *c;
    redisReply *r;

    c = cfg_path ? redisConnectUnixWithTimeout(cfg_path, tv)
                 : redisConnectWithTimeout(cfg_host, cfg_port, tv);
    if (c == NULL || c->err) {
        apr_cpystrn(err, c ? c->errstr : "out of memory", n);
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        apr_cpystrn(err, c->errstr, n);
        goto fail;
    }
    if (!cfg_path) {
        redisEnableKeepAlive(c);
    }
    if (pass) {
        r = cfg_user ? redisCommand(c, "AUTH %s %s", cfg_user, pass)
                     : redisCommand(c, "AUTH %s", pass);
        if (!reply_ok(c, r, err, n)) {
            goto fail;
        }
    }
    if (cfg_db) {
        r = redisCommand(c, "SELECT %d", cfg_db);
        if (!reply_ok(c, r, err, n)) {
            goto fail;
        }
    }
    return c;
fail:
    if (c) {
        redisFree(c);
    }
    return NULL;
}

#else /* !WS_HAVE_HIREDIS: a server without Redis support */

const char *ws_chanredis_set_url(apr_pool_t *p, const char *url)
{
    cfg_show = NULL;
    if (!strcasecmp(url, "Off")) {
        return NULL;
    }
    return "this mod_websocket was built without Redis support (hiredis, "
           "Debian libhiredis-dev; meson setup -Dredis=enabled)";
}

#endif /* WS_HAVE_HIREDIS */

static int ws_chanbroker_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                                   apr_pool_t *ptemp)
{
    ws_chanredis_set_url(pconf, "Off");
    cfg_pass_dir = NULL;
    cfg_timeout = WS_CHANREDIS_DEFAULT_TIMEOUT;
    return OK;
}

void ws_chanbroker_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(ws_chanbroker_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
}
