/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_test_v1.c -- test-only plugin of API v1 (init function v1_init) for
 * t/api_v1.t: channels from a connection and from a plugin thread, close
 * codes both ways, options.
 *
 * on_load: keeps the host and what it saw: "SIZE/VERSION ticker=VALUE
 *   pub=R" (VALUE: the host's option "ticker" then; R: what a publish
 *   through the host returned there, in httpd's parent), answered to
 *   "load".
 * on_child_init: when the host's option "ticker" names a channel, starts
 *   a thread that publishes "tick PID N" (TEXT) to it through the host
 *   every option "ticker-ms" milliseconds (default 100);
 *   on_child_exit stops and joins it.
 * on_connect: accepts; remembers the X-Tag request header.
 * on_message (TEXT), answered with TEXT "<command> = <result>":
 *   "sub C" / "unsub C"   subscribe() / unsubscribe() channel C
 *   "pub C TEXT"          publish(TEXT) to C on this thread
 *   "tpub C TEXT"         the same from a thread of the plugin's (joined)
 *   "hpub C TEXT"         host->publish(TEXT) to C
 *   "big C N"             publish() N bytes (BINARY) to C
 *   "badtype C"           publish() with type PING: refused
 *   "opt K" / "hopt K"    option(K) / host->option(K) ("(null)": unset)
 *   "close CODE [REASON]" close_with(CODE, REASON); answered only when
 *                         refused ("close = R")
 *   "load"                "load = " what on_load saw
 *   "storm C"             a thread subscribes to C, publishes to it and
 *                         unsubscribes, in a loop, until on_disconnect
 *                         (which waits 50 ms, then stops and joins it);
 *                         answered "storm = 0" once it has started
 *   "has"                 "has = S V" with WEBSOCKET_SERVER_HAS of
 *                         subscribe and option (1/0)
 * on_close: writes "ws_test_v1: on_close code=C reason=R len=N tag=T".
 * on_disconnect: tries publish() and subscribe() (the connection is gone:
 *   both must fail) and writes "ws_test_v1: on_disconnect publish=P
 *   subscribe=S tag=T"; after a storm first "ws_test_v1: storm ok=N
 *   closed=M tag=T" (calls that succeeded, and that got
 *   WEBSOCKET_ERR_CLOSED).
 * Lines go to fd 2 with one write(2) each (httpd sends it to error_log).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WEBSOCKET_PLUGIN_API 1
#include "websocket_plugin.h"

#define TAG_MAX 64
#define REPLY_MAX 512

static const WebSocketHost *host;
static pthread_t ticker;
static int ticker_running;
static volatile int ticker_stop;
static char ticker_channel[WEBSOCKET_CHANNEL_NAME_MAX + 1];
static long ticker_ms = 100;
static char loaded[WEBSOCKET_CHANNEL_NAME_MAX + 64];

typedef struct {
    char tag[TAG_MAX + 1];
    const WebSocketServer *server;
    pthread_t storm;
    int storming;
    volatile int storm_stop;
    char storm_channel[WEBSOCKET_CHANNEL_NAME_MAX + 1];
    long storm_ok, storm_closed;
} conn_t;

static void log_line(const char *fmt, ...)
{
    char line[REPLY_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if (n > (int)sizeof(line) - 2) {
        n = (int)sizeof(line) - 2;
    }
    line[n++] = '\n';
    if (write(2, line, (size_t)n) < 0) {
        /* nothing to do */
    }
}

static void reply(const WebSocketServer *server, const char *fmt, ...)
{
    char text[REPLY_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n > 0) {
        if (n >= (int)sizeof(text)) {
            n = (int)sizeof(text) - 1;
        }
        server->send(server, MESSAGE_TYPE_TEXT, (const unsigned char *)text,
                     (size_t)n);
    }
}

static void *ticker_main(void *arg)
{
    char text[64];
    long n = 0;
    struct timespec ts;

    (void)arg;
    ts.tv_sec = ticker_ms / 1000;
    ts.tv_nsec = (ticker_ms % 1000) * 1000000L;
    while (!ticker_stop) {
        int len = snprintf(text, sizeof(text), "tick %ld %ld",
                           (long)getpid(), ++n);

        host->publish(host, ticker_channel, MESSAGE_TYPE_TEXT,
                      (const unsigned char *)text, (size_t)len);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void CALLBACK v1_on_load(WebSocketPlugin *plugin,
                                const WebSocketHost *h)
{
    const char *t;

    (void)plugin;
    host = h;
    t = WEBSOCKET_HOST_HAS(h, option) ? h->option(h, "ticker") : NULL;
    snprintf(loaded, sizeof(loaded), "%u/%u ticker=%s pub=%d", h->size,
             h->version, t ? t : "(null)",
             h->publish(h, "v1-parent", MESSAGE_TYPE_TEXT,
                        (const unsigned char *)"p", 1));
}

static void CALLBACK v1_child_init(WebSocketPlugin *plugin)
{
    const char *t = host ? host->option(host, "ticker") : NULL;
    const char *ms = host ? host->option(host, "ticker-ms") : NULL;

    (void)plugin;
    if (t == NULL || strlen(t) > WEBSOCKET_CHANNEL_NAME_MAX) {
        return;
    }
    strcpy(ticker_channel, t);
    if (ms != NULL && atol(ms) > 0) {
        ticker_ms = atol(ms);
    }
    ticker_stop = 0;
    ticker_running = pthread_create(&ticker, NULL, ticker_main, NULL) == 0;
}

static void CALLBACK v1_child_exit(WebSocketPlugin *plugin)
{
    (void)plugin;
    if (ticker_running) {
        ticker_stop = 1;
        pthread_join(ticker, NULL);
        ticker_running = 0;
    }
}

static void *CALLBACK v1_on_connect(const WebSocketServer *server)
{
    conn_t *c = calloc(1, sizeof(*c));
    const char *tag = server->header_get(server, "X-Tag");

    if (c != NULL && tag != NULL) {
        snprintf(c->tag, sizeof(c->tag), "%s", tag);
    }
    return c;
}

static void *storm_main(void *arg)
{
    conn_t *c = arg;
    const WebSocketServer *server = c->server;

    while (!c->storm_stop) {
        int rc[3];
        int i;

        rc[0] = server->subscribe(server, c->storm_channel);
        rc[1] = server->publish(server, c->storm_channel, MESSAGE_TYPE_TEXT,
                                (const unsigned char *)"s", 1);
        rc[2] = server->unsubscribe(server, c->storm_channel);
        for (i = 0; i < 3; i++) {
            if (rc[i] >= 0) {
                c->storm_ok++;
            }
            else if (rc[i] == WEBSOCKET_ERR_CLOSED) {
                c->storm_closed++;
            }
        }
    }
    return NULL;
}

typedef struct {
    const WebSocketServer *server;
    const char *channel;
    const char *text;
    int result;
} tpub_t;

static void *tpub_main(void *arg)
{
    tpub_t *t = arg;

    t->result = t->server->publish(t->server, t->channel, MESSAGE_TYPE_TEXT,
                                   (const unsigned char *)t->text,
                                   strlen(t->text));
    return NULL;
}

/* "word rest": splits off the first word; rest may be "" */
static char *split(char *s)
{
    char *sp = strchr(s, ' ');

    if (sp == NULL) {
        return s + strlen(s);
    }
    *sp = '\0';
    return sp + 1;
}

static size_t CALLBACK v1_on_message(void *priv,
                                     const WebSocketServer *server,
                                     const int type, unsigned char *buffer,
                                     const size_t size)
{
    char cmd[REPLY_MAX], *arg, *rest;

    (void)priv;
    if (type != MESSAGE_TYPE_TEXT || size >= sizeof(cmd)) {
        return 0;
    }
    memcpy(cmd, buffer, size);
    cmd[size] = '\0';
    arg = split(cmd);
    rest = split(arg);
    if (!strcmp(cmd, "sub")) {
        reply(server, "sub %s = %d", arg, server->subscribe(server, arg));
    }
    else if (!strcmp(cmd, "unsub")) {
        reply(server, "unsub %s = %d", arg,
              server->unsubscribe(server, arg));
    }
    else if (!strcmp(cmd, "pub")) {
        reply(server, "pub %s = %d", arg,
              server->publish(server, arg, MESSAGE_TYPE_TEXT,
                              (const unsigned char *)rest, strlen(rest)));
    }
    else if (!strcmp(cmd, "tpub")) {
        tpub_t t = {server, arg, rest, -100};
        pthread_t th;

        if (pthread_create(&th, NULL, tpub_main, &t) == 0) {
            pthread_join(th, NULL);
        }
        reply(server, "tpub %s = %d", arg, t.result);
    }
    else if (!strcmp(cmd, "hpub")) {
        reply(server, "hpub %s = %d", arg,
              host->publish(host, arg, MESSAGE_TYPE_TEXT,
                            (const unsigned char *)rest, strlen(rest)));
    }
    else if (!strcmp(cmd, "big")) {
        size_t n = (size_t)atol(rest);
        unsigned char *b = malloc(n ? n : 1);
        int rc = WEBSOCKET_ERR_FULL;

        if (b != NULL) {
            memset(b, 'x', n);
            rc = server->publish(server, arg, MESSAGE_TYPE_BINARY, b, n);
            free(b);
        }
        reply(server, "big %s = %d", arg, rc);
    }
    else if (!strcmp(cmd, "badtype")) {
        reply(server, "badtype %s = %d", arg,
              server->publish(server, arg, MESSAGE_TYPE_PING,
                              (const unsigned char *)"x", 1));
    }
    else if (!strcmp(cmd, "opt")) {
        const char *v = server->option(server, arg);

        reply(server, "opt %s = %s", arg, v ? v : "(null)");
    }
    else if (!strcmp(cmd, "hopt")) {
        const char *v = host->option(host, arg);

        reply(server, "hopt %s = %s", arg, v ? v : "(null)");
    }
    else if (!strcmp(cmd, "close")) {
        int rc = server->close_with(server, atoi(arg),
                                    *rest ? rest : NULL);

        if (rc != WEBSOCKET_OK) {
            reply(server, "close = %d", rc);
        }
    }
    else if (!strcmp(cmd, "storm")) {
        conn_t *c = priv;

        if (c != NULL && !c->storming
            && strlen(arg) <= WEBSOCKET_CHANNEL_NAME_MAX) {
            strcpy(c->storm_channel, arg);
            c->server = server;
            c->storming = pthread_create(&c->storm, NULL, storm_main, c) == 0;
        }
        reply(server, "storm = %d", c && c->storming ? 0 : -1);
    }
    else if (!strcmp(cmd, "load")) {
        reply(server, "load = %s", loaded);
    }
    else if (!strcmp(cmd, "has")) {
        reply(server, "has = %d %d", WEBSOCKET_SERVER_HAS(server, subscribe),
              WEBSOCKET_SERVER_HAS(server, option));
    }
    else {
        reply(server, "unknown = %s", cmd);
    }
    return 0;
}

static void CALLBACK v1_on_close(void *priv, const WebSocketServer *server,
                                 const int code, const char *reason,
                                 const size_t reason_size)
{
    conn_t *c = priv;

    (void)server;
    log_line("ws_test_v1: on_close code=%d reason=%s len=%lu tag=%s", code,
             reason, (unsigned long)reason_size, c ? c->tag : "");
}

static void CALLBACK v1_on_disconnect(void *priv,
                                      const WebSocketServer *server)
{
    conn_t *c = priv;
    int p = server->publish(server, "v1-gone", MESSAGE_TYPE_TEXT,
                            (const unsigned char *)"late", 4);
    int s = server->subscribe(server, "v1-gone");

    if (c != NULL && c->storming) {
        struct timespec ts = {0, 50 * 1000000L};

        nanosleep(&ts, NULL); /* it keeps calling: the session is over */
        c->storm_stop = 1;
        pthread_join(c->storm, NULL);
        log_line("ws_test_v1: storm ok=%ld closed=%ld tag=%s", c->storm_ok,
                 c->storm_closed, c->tag);
    }
    log_line("ws_test_v1: on_disconnect publish=%d subscribe=%d tag=%s", p,
             s, c ? c->tag : "");
    free(c);
}

static WebSocketPlugin v1_plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_1, NULL,
    v1_on_connect, v1_on_message, v1_on_disconnect, v1_on_close,
    v1_on_load, v1_child_init, v1_child_exit};

EXPORT WebSocketPlugin *CALLBACK v1_init(void);
EXPORT WebSocketPlugin *CALLBACK v1_init(void)
{
    return &v1_plugin;
}
