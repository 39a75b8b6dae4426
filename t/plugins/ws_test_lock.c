/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_test_lock.c -- test-only plugin for t/threads.t: the rule of the
 * README ("Threads: send() and close() around on_disconnect"), forced.
 * A plugin thread holds the plugin's own lock and calls send() and
 * close() for a connection whose on_disconnect is waiting for that lock:
 * both must return at once (send() with 0), and on_disconnect then runs.
 *
 * lock_init:
 *   - on_connect remembers the request header X-Tag (up to 63 bytes);
 *   - on_message "hold" starts a thread that takes the plugin's lock,
 *     sends TEXT "held", waits until this connection's on_disconnect has
 *     begun (at most 10 s), sleeps 200 ms more so that on_disconnect
 *     waits for the lock, calls send(TEXT "late") and close(), and
 *     releases the lock; any other message is echoed;
 *   - on_disconnect says that it has begun, takes the lock, joins the
 *     thread and writes "ws_test_lock: disconnect tag=TAG begun=B
 *     send=R waited=MS" to stderr (httpd's error_log): B = 1 when the
 *     thread saw on_disconnect begin, R = what the late send() returned,
 *     MS = milliseconds on_disconnect waited for the lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "websocket_plugin.h"

#define TAG_MAX 64

/* the plugin's own lock, as a plugin shares its connections under one */
static pthread_mutex_t plugin_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    const WebSocketServer *server;
    char tag[TAG_MAX];
    pthread_t holder;
    int holding;          /* a holder thread was started */
    /* guarded by m */
    pthread_mutex_t m;
    pthread_cond_t cond;
    int disconnecting;    /* on_disconnect has begun */
    /* written by the holder, read after joining it */
    int saw_begin;
    size_t late;
} lock_conn;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void *holder(void *arg)
{
    lock_conn *c = arg;
    struct timespec until;

    pthread_mutex_lock(&plugin_lock);
    c->server->send(c->server, MESSAGE_TYPE_TEXT,
                    (const unsigned char *)"held", 4);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&c->m);
    while (!c->disconnecting) {
        if (pthread_cond_timedwait(&c->cond, &c->m, &until) != 0) {
            break;
        }
    }
    c->saw_begin = c->disconnecting;
    pthread_mutex_unlock(&c->m);
    usleep(200 * 1000);
    c->late = c->server->send(c->server, MESSAGE_TYPE_TEXT,
                              (const unsigned char *)"late", 4);
    c->server->close(c->server);
    pthread_mutex_unlock(&plugin_lock);
    return NULL;
}

static void *CALLBACK lock_on_connect(const WebSocketServer *server)
{
    lock_conn *c = calloc(1, sizeof(*c));
    const char *tag = server->header_get(server, "X-Tag");

    if (c == NULL) {
        return NULL;
    }
    c->server = server;
    snprintf(c->tag, sizeof c->tag, "%s", tag ? tag : "");
    pthread_mutex_init(&c->m, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->late = (size_t)-1;
    return c;
}

static size_t CALLBACK lock_on_message(void *priv,
                                       const WebSocketServer *server,
                                       const int type, unsigned char *buffer,
                                       const size_t size)
{
    lock_conn *c = priv;

    if (size == 4 && memcmp(buffer, "hold", 4) == 0 && !c->holding) {
        c->holding = pthread_create(&c->holder, NULL, holder, c) == 0;
        return size;
    }
    return server->send(server, type, buffer, size);
}

static void CALLBACK lock_on_disconnect(void *priv,
                                        const WebSocketServer *server)
{
    lock_conn *c = priv;
    char line[TAG_MAX + 96];
    double t0;
    int n;

    (void)server;
    pthread_mutex_lock(&c->m);
    c->disconnecting = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->m);
    t0 = now_ms();
    pthread_mutex_lock(&plugin_lock);
    t0 = now_ms() - t0;
    pthread_mutex_unlock(&plugin_lock);
    if (c->holding) {
        pthread_join(c->holder, NULL);
    }
    n = snprintf(line, sizeof line, "ws_test_lock: disconnect tag=%s "
                 "begun=%d send=%ld waited=%.0f\n", c->tag, c->saw_begin,
                 (long)c->late, t0);
    if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere to report it */
    }
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->m);
    free(c);
}

static WebSocketPlugin lock_plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL,
    lock_on_connect, lock_on_message, lock_on_disconnect
};

EXPORT WebSocketPlugin *CALLBACK lock_init(void);

EXPORT WebSocketPlugin *CALLBACK lock_init(void)
{
    return &lock_plugin;
}
