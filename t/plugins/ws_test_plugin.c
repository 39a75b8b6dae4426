/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_test_plugin.c -- test-only plugin for the Apache::Test suite (t/).
 * Init function: test_init.  Everything it does is driven by request
 * headers (in on_connect) and by the text of messages (in on_message), so a
 * test observes the plugin API from outside, over HTTP.
 *
 * on_connect, in this order:
 *   - X-Tag: TAG present -> writes "ws_test_plugin: on_connect tag=TAG"
 *     to stderr (so a test can tell whether on_connect ran at all);
 *   - always sets X-Server-Size (server->size), X-Server-Version
 *     (server->version) and X-Request-NonNull (1 if request() != NULL);
 *   - X-Send-In-Connect: present -> send(TEXT, "from on_connect") on this
 *     thread, then a thread sends (TEXT, "from thread") and is joined; the
 *     two send() results go to X-Send-Results as "N|M";
 *   - X-Close-In-Connect: present -> close() (after any sends above);
 *   - X-Refuse: present -> header_set("X-Should-Not-Appear", "1"), then
 *     refuse (return NULL): the client must get 403 without that header;
 *   - X-Select-Protocol: present -> protocol_set(its value);
 *   - X-Protocol-Count: protocol_count();  X-Protocols: protocol_index(0 ..
 *     count-1) joined with '|' (header absent when count is 0);
 *     X-Index-Out-Of-Range: "null" if protocol_index(count) is NULL, else
 *     "not-null";
 *   - X-Echo-Me: header_get("x-echo-me") (lower-case key on purpose), if
 *     the client sent one;  X-Missing-Header: "null" if
 *     header_get("x-surely-not-sent") is NULL, else "not-null";
 *   - X-Tag: remembered for on_disconnect (see below).
 * on_message (TEXT or BINARY only):
 *   - "close"      -> close()
 *   - "ping"       -> send(PING, "p")
 *   - "upper:..."  -> upper-cases the buffer in place (it is writable) and
 *                     echoes it
 *   - "after-connect-set" -> header_set/protocol_set outside on_connect
 *                     (must have no effect and not crash), then TEXT "ok"
 *   - "sendtype:N:payload" -> send(N, payload) with N as int (e.g. 255 =
 *                     CLOSE, 999 = unknown -> treated as CLOSE), then
 *                     send(TEXT, "ret=R") with R the first send()'s result
 *                     (which itself returns 0 once the connection closes)
 *   - "close-then-send" -> close(), then send(TEXT, "x"); the result is
 *                     logged to stderr as
 *                     "ws_test_plugin: send after close returned R"
 *   - "type"       -> TEXT "type=T" with T the type argument (0 or 128)
 *   - anything else: echoed with the same type; an empty message is echoed
 *                     empty, unless its buffer was NULL: then TEXT
 *                     "NULL-BUFFER".
 * on_disconnect: writes "ws_test_plugin: on_disconnect\n" to stderr (httpd
 *   sends stderr to the error_log), or "ws_test_plugin: on_disconnect
 *   tag=TAG\n" when the request had X-Tag: TAG.
 * Lines go to fd 2 with one write(2) each: stdio's stderr is fully
 * buffered in httpd's children (lines would show only at child exit).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "websocket_plugin.h"

#define TAG_MAX 64

typedef struct {
    char tag[TAG_MAX];
} test_conn;

static void logline(const char *line)
{
    size_t len = strlen(line);
    ssize_t n = write(2, line, len);
    (void)n;
}

typedef struct {
    const WebSocketServer *server;
    size_t result;
} thread_arg;

static const char from_connect[] = "from on_connect";
static const char from_thread[] = "from thread";

static void *sender_thread(void *arg)
{
    thread_arg *ta = arg;
    ta->result = ta->server->send(ta->server, MESSAGE_TYPE_TEXT,
                                  (const unsigned char *)from_thread,
                                  sizeof from_thread - 1);
    return NULL;
}

static void send_in_connect(const WebSocketServer *server)
{
    pthread_t t;
    thread_arg ta;
    size_t first;
    char results[64];

    first = server->send(server, MESSAGE_TYPE_TEXT,
                         (const unsigned char *)from_connect,
                         sizeof from_connect - 1);
    ta.server = server;
    ta.result = (size_t)-1;
    if (pthread_create(&t, NULL, sender_thread, &ta) == 0)
        pthread_join(t, NULL);
    snprintf(results, sizeof results, "%zu|%zu", first, ta.result);
    server->header_set(server, "X-Send-Results", results);
}

static void set_protocol_headers(const WebSocketServer *server)
{
    size_t n = server->protocol_count(server);
    size_t i, used = 0;
    char count[32];
    char *list;

    snprintf(count, sizeof count, "%zu", n);
    server->header_set(server, "X-Protocol-Count", count);
    if (n > 0) {
        size_t len = 1;
        for (i = 0; i < n; i++) {
            const char *p = server->protocol_index(server, i);
            len += (p ? strlen(p) : 6) + 1;
        }
        list = malloc(len);
        if (list != NULL) {
            for (i = 0; i < n; i++) {
                const char *p = server->protocol_index(server, i);
                size_t l;
                if (p == NULL)
                    p = "(null)";
                l = strlen(p);
                if (i > 0)
                    list[used++] = '|';
                memcpy(list + used, p, l);
                used += l;
            }
            list[used] = '\0';
            server->header_set(server, "X-Protocols", list);
            free(list);
        }
    }
    server->header_set(server, "X-Index-Out-Of-Range",
                       server->protocol_index(server, n) ? "not-null"
                                                         : "null");
}

static void *CALLBACK test_on_connect(const WebSocketServer *server)
{
    test_conn *conn;
    const char *v;
    char num[32];

    v = server->header_get(server, "X-Tag");
    if (v) {
        char line[TAG_MAX + 48];
        snprintf(line, sizeof line, "ws_test_plugin: on_connect tag=%.*s\n",
                 TAG_MAX, v);
        logline(line);
    }

    snprintf(num, sizeof num, "%u", server->size);
    server->header_set(server, "X-Server-Size", num);
    snprintf(num, sizeof num, "%u", server->version);
    server->header_set(server, "X-Server-Version", num);
    server->header_set(server, "X-Request-NonNull",
                       server->request(server) ? "1" : "0");

    if (server->header_get(server, "X-Send-In-Connect"))
        send_in_connect(server);
    if (server->header_get(server, "X-Close-In-Connect"))
        server->close(server);

    if (server->header_get(server, "X-Refuse")) {
        server->header_set(server, "X-Should-Not-Appear", "1");
        return NULL;
    }

    v = server->header_get(server, "X-Select-Protocol");
    if (v)
        server->protocol_set(server, v);
    set_protocol_headers(server);

    v = server->header_get(server, "x-echo-me");
    if (v)
        server->header_set(server, "X-Echo-Me", v);
    server->header_set(server, "X-Missing-Header",
                       server->header_get(server, "x-surely-not-sent")
                           ? "not-null" : "null");

    conn = calloc(1, sizeof *conn);
    if (conn == NULL)
        return NULL;
    v = server->header_get(server, "X-Tag");
    if (v) {
        strncpy(conn->tag, v, TAG_MAX - 1);
        conn->tag[TAG_MAX - 1] = '\0';
    }
    return conn;
}

static int starts_with(const unsigned char *buf, size_t size,
                       const char *prefix)
{
    size_t l = strlen(prefix);
    return size >= l && memcmp(buf, prefix, l) == 0;
}

static int equals(const unsigned char *buf, size_t size, const char *s)
{
    return size == strlen(s) && memcmp(buf, s, size) == 0;
}

static void send_str(const WebSocketServer *server, const char *s)
{
    server->send(server, MESSAGE_TYPE_TEXT, (const unsigned char *)s,
                 strlen(s));
}

static void sendtype(const WebSocketServer *server, unsigned char *buffer,
                     size_t size)
{
    /* "sendtype:N:payload" */
    char num[16];
    char ret[48];
    size_t i = 9, n = 0;
    size_t r;
    int type;

    while (i < size && buffer[i] != ':' && n < sizeof num - 1)
        num[n++] = (char)buffer[i++];
    num[n] = '\0';
    if (i < size && buffer[i] == ':')
        i++;
    type = atoi(num);
    r = server->send(server, type, buffer + i, size - i);
    snprintf(ret, sizeof ret, "ret=%zu", r);
    send_str(server, ret);
}

static size_t CALLBACK test_on_message(void *plugin_private,
                                       const WebSocketServer *server,
                                       const int type, unsigned char *buffer,
                                       const size_t size)
{
    (void)plugin_private;

    if (buffer == NULL) {
        send_str(server, "NULL-BUFFER");
        return 0;
    }
    if (equals(buffer, size, "close")) {
        server->close(server);
    } else if (equals(buffer, size, "ping")) {
        server->send(server, MESSAGE_TYPE_PING, (const unsigned char *)"p",
                     1);
    } else if (starts_with(buffer, size, "upper:")) {
        size_t i;
        for (i = 0; i < size; i++)
            if (buffer[i] >= 'a' && buffer[i] <= 'z')
                buffer[i] = (unsigned char)(buffer[i] - 'a' + 'A');
        server->send(server, type, buffer, size);
    } else if (equals(buffer, size, "after-connect-set")) {
        server->header_set(server, "X-Too-Late", "1");
        server->protocol_set(server, "too-late");
        send_str(server, "ok");
    } else if (starts_with(buffer, size, "sendtype:")) {
        sendtype(server, buffer, size);
    } else if (equals(buffer, size, "close-then-send")) {
        size_t r;
        server->close(server);
        r = server->send(server, MESSAGE_TYPE_TEXT,
                         (const unsigned char *)"x", 1);
        char line[80];
        snprintf(line, sizeof line,
                 "ws_test_plugin: send after close returned %zu\n", r);
        logline(line);
    } else if (equals(buffer, size, "type")) {
        char t[32];
        snprintf(t, sizeof t, "type=%d", type);
        send_str(server, t);
    } else {
        server->send(server, type, buffer, size);
    }
    return 0;
}

static void CALLBACK test_on_disconnect(void *plugin_private,
                                        const WebSocketServer *server)
{
    test_conn *conn = plugin_private;
    (void)server;

    if (conn != NULL && conn->tag[0] != '\0') {
        char line[TAG_MAX + 48];
        snprintf(line, sizeof line, "ws_test_plugin: on_disconnect tag=%s\n",
                 conn->tag);
        logline(line);
    }
    else {
        logline("ws_test_plugin: on_disconnect\n");
    }
    free(conn);
}

static WebSocketPlugin test_plugin = {
    sizeof(WebSocketPlugin),
    WEBSOCKET_PLUGIN_VERSION_0,
    NULL,
    test_on_connect,
    test_on_message,
    test_on_disconnect
};

EXPORT WebSocketPlugin *CALLBACK test_init(void);

EXPORT WebSocketPlugin *CALLBACK test_init(void)
{
    return &test_plugin;
}
