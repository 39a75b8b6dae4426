/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * mod_websocket_dumb_increment.c -- example plugin speaking the
 * dumb-increment-protocol (from libwebsockets' test server): a thread per
 * connection sends 0, 1, 2, ... as text every 50 ms; the message
 * "reset\n" sets the counter back to 0.  Clients must offer the
 * subprotocol "dumb-increment-protocol", or on_connect refuses (403).
 *
 * It shows what a plugin with its own thread must do: start it in
 * on_connect (send() may be called there), share state under a mutex,
 * and stop and join it in on_disconnect.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "websocket_plugin.h"

#define PROTOCOL "dumb-increment-protocol"
#define INTERVAL_NS (50 * 1000 * 1000L)

typedef struct {
    const WebSocketServer *server;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t stop_cond;
    int stop;              /* under lock */
    unsigned long counter; /* under lock */
} increment_t;

static void *increment_thread(void *arg)
{
    increment_t *inc = arg;
    struct timespec next;
    char text[32];
    int len;

    clock_gettime(CLOCK_REALTIME, &next);
    pthread_mutex_lock(&inc->lock);
    while (!inc->stop) {
        len = snprintf(text, sizeof(text), "%lu", inc->counter++);
        /* send() without our lock held: it may wait for queue room */
        pthread_mutex_unlock(&inc->lock);
        inc->server->send(inc->server, MESSAGE_TYPE_TEXT,
                          (const unsigned char *)text, (size_t)len);
        pthread_mutex_lock(&inc->lock);

        next.tv_nsec += INTERVAL_NS;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        while (!inc->stop
               && pthread_cond_timedwait(&inc->stop_cond, &inc->lock,
                                         &next) == 0) {
            /* woken early: check stop, else keep waiting */
        }
    }
    pthread_mutex_unlock(&inc->lock);
    return NULL;
}

static void *CALLBACK increment_on_connect(const WebSocketServer *server)
{
    size_t i, n = server->protocol_count(server);
    increment_t *inc;

    for (i = 0; i < n; i++) {
        if (strcmp(server->protocol_index(server, i), PROTOCOL) == 0) {
            break;
        }
    }
    if (i == n) {
        return NULL; /* not our protocol: 403 */
    }
    inc = calloc(1, sizeof(*inc));
    if (inc == NULL) {
        return NULL;
    }
    inc->server = server;
    pthread_mutex_init(&inc->lock, NULL);
    pthread_cond_init(&inc->stop_cond, NULL);
    server->protocol_set(server, PROTOCOL);
    if (pthread_create(&inc->thread, NULL, increment_thread, inc) != 0) {
        pthread_cond_destroy(&inc->stop_cond);
        pthread_mutex_destroy(&inc->lock);
        free(inc);
        return NULL;
    }
    return inc;
}

static size_t CALLBACK increment_on_message(void *plugin_private,
                                            const WebSocketServer *server,
                                            const int type,
                                            unsigned char *buffer,
                                            const size_t buffer_size)
{
    increment_t *inc = plugin_private;

    (void)server;
    if (type == MESSAGE_TYPE_TEXT && buffer_size == 6
        && memcmp(buffer, "reset\n", 6) == 0) {
        pthread_mutex_lock(&inc->lock);
        inc->counter = 0;
        pthread_mutex_unlock(&inc->lock);
    }
    return 0;
}

static void CALLBACK increment_on_disconnect(void *plugin_private,
                                             const WebSocketServer *server)
{
    increment_t *inc = plugin_private;

    (void)server;
    pthread_mutex_lock(&inc->lock);
    inc->stop = 1;
    pthread_cond_signal(&inc->stop_cond);
    pthread_mutex_unlock(&inc->lock);
    pthread_join(inc->thread, NULL);
    pthread_cond_destroy(&inc->stop_cond);
    pthread_mutex_destroy(&inc->lock);
    free(inc);
}

static WebSocketPlugin increment_plugin = {
    sizeof(WebSocketPlugin),
    WEBSOCKET_PLUGIN_VERSION_0,
    NULL,
    increment_on_connect,
    increment_on_message,
    increment_on_disconnect
};

EXPORT WebSocketPlugin *CALLBACK dumb_increment_init(void);

EXPORT WebSocketPlugin *CALLBACK dumb_increment_init(void)
{
    return &increment_plugin;
}
