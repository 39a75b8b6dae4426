/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * mod_websocket_chat.c -- example plugin of API v1: a chat room on a
 * channel.  Init function: chat_init.
 *
 *     <Location /chat>
 *         SetHandler websocket-handler
 *         WebSocketHandler modules/mod_websocket_chat.so chat_init
 *         WebSocketPluginOption greeting "Welcome to the chat"
 *     </Location>
 *
 * A client connects to /chat?name=alice&room=lobby (room optional,
 * default "lobby"; name 1 to 32 letters, digits, '_', '.' or '-', room 1
 * to 64 of the same).  It gets the greeting (option "greeting", if set),
 * then everything said in the room, its own messages included:
 * "* alice joined", "alice: <text>", "* alice left".  Rooms are the
 * channels "chat/<room>", so they span every child of the server, and a
 * publisher location (SetHandler websocket-publisher) can talk into one.
 * A request without a valid name is accepted and then closed with 1008
 * and a reason saying why; a binary message closes with 1003.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEBSOCKET_PLUGIN_API 1
#include "websocket_plugin.h"

#include "httpd.h"

#define NAME_MAX_LEN 32
#define ROOM_MAX_LEN 64
#define LINE_MAX_LEN 4096

typedef struct {
    char name[NAME_MAX_LEN + 1];
    char channel[sizeof("chat/") + ROOM_MAX_LEN];
    int joined;
} chat_t;

/* for "left": on_disconnect has no connection to publish through */
static const WebSocketHost *chat_host;

static void CALLBACK chat_on_load(WebSocketPlugin *plugin,
                                  const WebSocketHost *host)
{
    (void)plugin;
    chat_host = host;
}

/* 1 to max of [A-Za-z0-9_.-] */
static int token_ok(const char *s, size_t max)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        char c = s[n];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.'
              || c == '-')) {
            return 0;
        }
    }
    return n >= 1 && n <= max;
}

/* The value of @p key in the query @p args, copied into @p out (cap
 * bytes); "" when absent or too long. */
static void query_get(const char *args, const char *key, char *out,
                      size_t cap)
{
    size_t klen = strlen(key);
    const char *p = args;

    out[0] = '\0';
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        if (len > klen && !strncmp(p, key, klen) && p[klen] == '=') {
            if (len - klen - 1 < cap) {
                memcpy(out, p + klen + 1, len - klen - 1);
                out[len - klen - 1] = '\0';
            }
            return;
        }
        p = end ? end + 1 : NULL;
    }
}

static void say(const WebSocketServer *server, const chat_t *chat,
                const char *fmt, const char *a, const char *b)
{
    char line[LINE_MAX_LEN + NAME_MAX_LEN + 8];
    int n = snprintf(line, sizeof(line), fmt, a, b);

    if (n > 0 && (size_t)n < sizeof(line)) {
        server->publish(server, chat->channel, MESSAGE_TYPE_TEXT,
                        (const unsigned char *)line, (size_t)n);
    }
}

static void *CALLBACK chat_on_connect(const WebSocketServer *server)
{
    request_rec *r = server->request(server);
    const char *greeting;
    char room[ROOM_MAX_LEN + 1];
    chat_t *chat;

    /* an older module: no channels to chat on */
    if (!WEBSOCKET_SERVER_HAS(server, close_with)) {
        return NULL;
    }
    chat = calloc(1, sizeof(*chat));
    if (chat == NULL) {
        return NULL;
    }
    query_get(r->args, "name", chat->name, sizeof(chat->name));
    query_get(r->args, "room", room, sizeof(room));
    if (room[0] == '\0') {
        strcpy(room, "lobby");
    }
    if (!token_ok(chat->name, NAME_MAX_LEN) || !token_ok(room, ROOM_MAX_LEN)) {
        /* accepted, then told why: a browser sees the code and reason */
        server->close_with(server, 1008, "name required: ?name=<1-32 of "
                           "A-Z a-z 0-9 _ . ->, optional &room=<1-64>");
        return chat;
    }
    snprintf(chat->channel, sizeof(chat->channel), "chat/%s", room);
    greeting = server->option(server, "greeting");
    if (greeting != NULL) {
        server->send(server, MESSAGE_TYPE_TEXT,
                     (const unsigned char *)greeting, strlen(greeting));
    }
    if (server->subscribe(server, chat->channel) != WEBSOCKET_OK) {
        server->close_with(server, 1011, "cannot join the room");
        return chat;
    }
    chat->joined = 1;
    say(server, chat, "* %s joined%s", chat->name, "");
    return chat;
}

static size_t CALLBACK chat_on_message(void *priv,
                                       const WebSocketServer *server,
                                       const int type, unsigned char *buffer,
                                       const size_t size)
{
    chat_t *chat = priv;
    char text[LINE_MAX_LEN + 1];

    if (!chat->joined) {
        return 0;
    }
    if (type != MESSAGE_TYPE_TEXT) {
        server->close_with(server, 1003, "text messages only");
        return 0;
    }
    if (size > LINE_MAX_LEN) {
        server->close_with(server, 1009, "at most 4096 bytes a message");
        return 0;
    }
    memcpy(text, buffer, size);
    text[size] = '\0';
    say(server, chat, "%s: %s", chat->name, text);
    return 0;
}

static void CALLBACK chat_on_disconnect(void *priv,
                                        const WebSocketServer *server)
{
    chat_t *chat = priv;

    (void)server;
    if (chat->joined && chat_host != NULL) {
        char line[NAME_MAX_LEN + 16];
        int n = snprintf(line, sizeof(line), "* %s left", chat->name);

        chat_host->publish(chat_host, chat->channel, MESSAGE_TYPE_TEXT,
                           (const unsigned char *)line, (size_t)n);
    }
    free(chat);
}

static WebSocketPlugin chat_plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_1, NULL,
    chat_on_connect, chat_on_message, chat_on_disconnect,
    NULL,         /* on_close */
    chat_on_load, NULL, NULL};

EXPORT WebSocketPlugin *CALLBACK chat_init(void);
EXPORT WebSocketPlugin *CALLBACK chat_init(void)
{
    return &chat_plugin;
}
