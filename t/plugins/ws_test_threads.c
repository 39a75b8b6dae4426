/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_test_threads.c -- test-only plugin for t/threads.t and t/resources.t:
 * send() and close() from plugin threads, the closing handshake, and the
 * on_disconnect guarantee.  Every init function below returns its own
 * WebSocketPlugin; all of them share these rules:
 *
 *   - on_connect remembers the request header X-Tag (up to 63 bytes) and
 *     writes "ws_test_threads: connect tag=TAG mode=MODE" to stderr
 *     (httpd sends a child's stderr to the error_log);
 *   - on_message: the TEXT message "close" calls close(); every other
 *     message is echoed with the same type;
 *   - on_disconnect stops and joins every thread of the connection, then
 *     writes "ws_test_threads: disconnect tag=TAG mode=MODE";
 *   - a send() that starts after on_disconnect has begun must return 0:
 *     otherwise "ws_test_threads: BUG send after disconnect returned N";
 *   - when a sender thread is done it writes one summary line (see each
 *     mode) with ok = number of send() calls that returned the length and
 *     fail = number that returned anything else.
 *
 * threads_init (mode threads): on_connect starts 10 sender threads and a
 *   coordinator.  Sender i sends TEXT "T<i> <n>" for n = 0..999 as fast as
 *   it can (it stops at the first failed send).  The coordinator joins the
 *   10, writes "ws_test_threads: threads tag=TAG ok=N fail=M", then sends
 *   CLOSE with payload 03 e8 (status 1000).
 *
 * senders_init (mode senders): the same with 64 threads, each sending 200
 *   BINARY messages; the threads start in on_connect but wait for the
 *   first message from the client (so they all send while the connection
 *   is open, whatever the queue does during the handshake).  Message (t, n) (t
 * = 0..63, n = 0..199) is 3 + (t * 2654435761 + n * 40503) % 4094 bytes long
 * (3..4096): byte 0 is t, bytes 1-2 are n (big-endian), byte i >= 3 is (t * 131
 * + n * 7 + i) & 0xff.  Summary line "ws_test_threads: senders tag=TAG ok=N
 * fail=M".  Meanwhile on_message echoes what the client sends, except the TEXT
 * message "done": the coordinator sends CLOSE 1000 once the 64 threads are
 * through and "done" has arrived (so every message the client sent before
 * "done" is echoed first).
 *
 * paced_init (mode paced): the same messages from 8 threads, 400 each
 *   (message (t, n) for t = 0..7, n = 0..399, built as in mode senders),
 *   each thread pausing a pseudo-random 0-8 ms after every send (seeded by
 *   t), so that the sends meet the connection at every stage: parked,
 *   being handed back to a worker, served, lingering.  The threads wait
 *   for the first message from the client; on_message echoes and "done"
 *   is handled as in mode senders.  Summary line "ws_test_threads: paced
 *   tag=TAG ok=N fail=M", then CLOSE 1000.
 *
 * connect_send_init (mode connect_send): on_connect itself sends TEXT
 *   "from on_connect" (on the I/O thread, before the 101 is written), then
 *   starts one thread and returns without waiting for it.  The thread
 *   sends TEXT "C <n>" for n = 0..999, writes "ws_test_threads:
 *   connect_send tag=TAG first=R ok=N fail=M" (R = the on_connect send's
 *   result), then sends CLOSE 1000.
 *
 * refuse_send_init (mode refuse_send): on_connect starts a thread that
 *   sends TEXT "R <n>" for n = 0..9, joins it, writes "ws_test_threads:
 *   refuse tag=TAG results=R0,R1,...,R9" and refuses (returns NULL): the
 *   client must get a prompt 403 and no frame.
 *
 * slow_init (mode slow): on_connect starts a thread that waits for the
 *   first message from the client (not echoed), then sends 64 KiB BINARY
 *   messages in a loop until send() returns 0 (at most 65536 of them),
 *   then writes "ws_test_threads: slow tag=TAG sent=N" (N = the
 *   sends that returned 65536).  Meant for a client that never reads.
 *
 * connect_join_init (mode connect_join): on_connect starts a thread that
 *   sends 32 BINARY messages of 64 KiB (2 MiB, more than a 1 MiB
 *   WebSocketMaxQueuedBytes) and waits for it before accepting: the
 *   frames can only go out after the 101, so the queue cannot drain while
 *   the thread sends.  Message n is 65536 bytes of the value n; the
 *   thread stops at the first failed send.  Writes "ws_test_threads:
 *   connect_join tag=TAG ok=N fail=M", then accepts.
 *
 * connect_burst_init (mode connect_burst): on_connect starts a thread,
 *   then goes on with other work for 50 ms (it does not wait for the
 *   thread) and accepts.  The thread at once sends 64 BINARY messages of
 *   4096 bytes (message n: 4096 bytes of the value n), more than a 64 KiB
 *   WebSocketMaxQueuedBytes, so the queue is full before the 101 can go
 *   out; it stops at the first failed send, writes "ws_test_threads:
 *   connect_burst tag=TAG ok=N fail=M" and sends CLOSE 1000.
 *
 * count_init (mode count): no threads; only the connect/disconnect lines
 *   and the on_message rules above, so a test can count on_disconnect per
 *   accepted connection whatever ended it.
 *
 * headers_init (mode count, as far as the rules above go): on_connect
 *   starts 8 threads that all at once call header_set("X-T<i>-<j>",
 *   "v<i>-<j>") for j = 0..19 and protocol_set("p<i>"), joins them and
 *   accepts: the 101 must carry all 160 headers and one of p0..p7 (0.1.2
 *   let these calls race on r->pool).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "websocket_plugin.h"

#define TAG_MAX 64
#define MAX_THREADS 64
#define SLOW_SIZE 65536
#define SLOW_MAX 65536
#define PACED_THREADS 8
#define PACED_MESSAGES 400
#define PACED_PAUSE_US 8000

typedef enum {
    MODE_THREADS,
    MODE_SENDERS,
    MODE_CONNECT_SEND,
    MODE_REFUSE_SEND,
    MODE_SLOW,
    MODE_COUNT,
    MODE_CONNECT_JOIN,
    MODE_CONNECT_BURST,
    MODE_PACED
} mode_e;

static const char *const mode_names[] = {
    "threads", "senders",      "connect_send",  "refuse_send", "slow",
    "count",   "connect_join", "connect_burst", "paced"};

typedef struct conn_t conn_t;

/* One line to stderr (httpd's error_log) with one write(2): httpd's
 * children have a fully buffered stdio stderr, so fprintf() lines would
 * only show when the child exits; one write per line also keeps lines of
 * concurrent threads whole. */
#if defined(__GNUC__)
static void tlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif

static void tlog(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n > sizeof line - 2) {
        n = (int)(sizeof line - 2);
    }
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        return; /* nowhere to report it */
    }
}

typedef struct {
    conn_t *conn;
    int id;
    pthread_t thread;
    int started;
    size_t ok, fail;
} sender_t;

struct conn_t {
    const WebSocketServer *server;
    mode_e mode;
    char tag[TAG_MAX];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int disconnecting; /* under lock */
    int client_done;   /* senders: "done" arrived (under lock) */
    int go;            /* senders, connect_burst: start (under lock) */
    int nsenders;
    sender_t senders[MAX_THREADS];
    pthread_t coordinator;
    int have_coordinator;
    size_t first; /* connect_send: result of the on_connect send */
};

static int is_disconnecting(conn_t *c)
{
    int d;

    pthread_mutex_lock(&c->lock);
    d = c->disconnecting;
    pthread_mutex_unlock(&c->lock);
    return d;
}

/* send() that checks the promise "0 once the session is over" */
static size_t checked_send(conn_t *c, int type, const unsigned char *buf,
                           size_t len)
{
    int late = is_disconnecting(c);
    size_t r = c->server->send(c->server, type, buf, len);

    if (late && r != 0) {
        tlog("ws_test_threads: BUG send after disconnect "
             "returned %zu tag=%s",
             r, c->tag);
    }
    return r;
}

static size_t send_text(conn_t *c, const char *s)
{
    return checked_send(c, MESSAGE_TYPE_TEXT, (const unsigned char *)s,
                        strlen(s));
}

static void send_close_1000(conn_t *c)
{
    static const unsigned char code[2] = {0x03, 0xe8};

    checked_send(c, MESSAGE_TYPE_CLOSE, code, sizeof code);
}

static conn_t *conn_new(const WebSocketServer *server, mode_e mode)
{
    conn_t *c = calloc(1, sizeof *c);
    const char *tag;

    if (c == NULL) {
        return NULL;
    }
    c->server = server;
    c->mode = mode;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    if (pthread_cond_init(&c->cond, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
    }
    tag = server->header_get(server, "X-Tag");
    if (tag != NULL) {
        strncpy(c->tag, tag, TAG_MAX - 1);
        c->tag[TAG_MAX - 1] = '\0';
    }
    tlog("ws_test_threads: connect tag=%s mode=%s", c->tag, mode_names[mode]);
    return c;
}

static void conn_free(conn_t *c)
{
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void join_all(conn_t *c)
{
    int i;

    if (c->have_coordinator) {
        pthread_join(c->coordinator, NULL);
        c->have_coordinator = 0;
    }
    for (i = 0; i < c->nsenders; i++) {
        if (c->senders[i].started) {
            pthread_join(c->senders[i].thread, NULL);
            c->senders[i].started = 0;
        }
    }
}

static void totals(conn_t *c, size_t *ok, size_t *fail)
{
    int i;

    *ok = *fail = 0;
    for (i = 0; i < c->nsenders; i++) {
        *ok += c->senders[i].ok;
        *fail += c->senders[i].fail;
    }
}

/* ---- the sender threads ---------------------------------------------- */

static void *text_sender(void *arg)
{
    sender_t *s = arg;
    char msg[32];
    int n;

    for (n = 0; n < 1000; n++) {
        size_t len;

        if (s->conn->mode == MODE_CONNECT_SEND) {
            snprintf(msg, sizeof msg, "C %d", n);
        }
        else {
            snprintf(msg, sizeof msg, "T%d %d", s->id, n);
        }
        len = strlen(msg);
        if (send_text(s->conn, msg) == len) {
            s->ok++;
        }
        else {
            s->fail++;
            break;
        }
    }
    return NULL;
}

static size_t pattern_size(int t, int n)
{
    unsigned long long h = (unsigned long long)t * 2654435761ULL +
                           (unsigned long long)n * 40503ULL;

    return (size_t)(3 + h % 4094);
}

/* blocks until go is set (or the connection is over) */
static void wait_go(conn_t *c)
{
    pthread_mutex_lock(&c->lock);
    while (!c->go && !c->disconnecting) {
        pthread_cond_wait(&c->cond, &c->lock);
    }
    pthread_mutex_unlock(&c->lock);
}

static void set_go(conn_t *c)
{
    pthread_mutex_lock(&c->lock);
    c->go = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* writes message (t, n) of modes senders and paced into buf (4096 bytes
 * at least); returns its length */
static size_t pattern_fill(unsigned char *buf, int t, int n)
{
    size_t len = pattern_size(t, n), i;

    buf[0] = (unsigned char)t;
    buf[1] = (unsigned char)(n >> 8);
    buf[2] = (unsigned char)(n & 0xff);
    for (i = 3; i < len; i++) {
        buf[i] = (unsigned char)((t * 131 + n * 7 + (int)i) & 0xff);
    }
    return len;
}

static void *binary_sender(void *arg)
{
    sender_t *s = arg;
    unsigned char buf[4096];
    int n;

    wait_go(s->conn);
    for (n = 0; n < 200; n++) {
        size_t len = pattern_fill(buf, s->id, n);

        if (checked_send(s->conn, MESSAGE_TYPE_BINARY, buf, len) == len) {
            s->ok++;
        }
        else {
            s->fail++;
            break;
        }
    }
    return NULL;
}

static void *paced_sender(void *arg)
{
    sender_t *s = arg;
    unsigned char buf[4096];
    /* xorshift32, a sequence of its own per thread (never 0) */
    unsigned int x = (2463534242u ^ ((unsigned int)s->id * 2654435761u)) | 1;
    int n;

    wait_go(s->conn);
    for (n = 0; n < PACED_MESSAGES; n++) {
        size_t len = pattern_fill(buf, s->id, n);
        struct timespec pause = {0, 0};

        if (checked_send(s->conn, MESSAGE_TYPE_BINARY, buf, len) != len) {
            s->fail++;
            break;
        }
        s->ok++;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pause.tv_nsec = (long)(x % PACED_PAUSE_US) * 1000;
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static void *slow_sender(void *arg)
{
    sender_t *s = arg;
    unsigned char *buf = malloc(SLOW_SIZE);
    int n;

    if (buf == NULL) {
        return NULL;
    }
    memset(buf, 'x', SLOW_SIZE);
    wait_go(s->conn);
    for (n = 0; n < SLOW_MAX; n++) {
        if (checked_send(s->conn, MESSAGE_TYPE_BINARY, buf, SLOW_SIZE) !=
            SLOW_SIZE) {
            s->fail++;
            break;
        }
        s->ok++;
    }
    tlog("ws_test_threads: slow tag=%s sent=%zu", s->conn->tag, s->ok);
    free(buf);
    return NULL;
}

/* joins the senders, reports, then closes with 1000 */
static void *coordinator(void *arg)
{
    conn_t *c = arg;
    size_t ok, fail;
    int i;

    for (i = 0; i < c->nsenders; i++) {
        if (c->senders[i].started) {
            pthread_join(c->senders[i].thread, NULL);
            c->senders[i].started = 0;
        }
    }
    totals(c, &ok, &fail);
    if (c->mode == MODE_SENDERS || c->mode == MODE_PACED) {
        /* until the client said "done" (or the connection is over) */
        pthread_mutex_lock(&c->lock);
        while (!c->client_done && !c->disconnecting) {
            pthread_cond_wait(&c->cond, &c->lock);
        }
        pthread_mutex_unlock(&c->lock);
    }
    if (c->mode == MODE_CONNECT_SEND) {
        tlog("ws_test_threads: connect_send tag=%s first=%zu "
             "ok=%zu fail=%zu",
             c->tag, c->first, ok, fail);
    }
    else {
        tlog("ws_test_threads: %s tag=%s ok=%zu fail=%zu", mode_names[c->mode],
             c->tag, ok, fail);
    }
    send_close_1000(c);
    return NULL;
}

static void start_senders(conn_t *c, int count, void *(*fn)(void *))
{
    int i;

    c->nsenders = count;
    for (i = 0; i < count; i++) {
        sender_t *s = &c->senders[i];

        s->conn = c;
        s->id = i;
        s->started = pthread_create(&s->thread, NULL, fn, s) == 0;
        if (!s->started) {
            tlog("ws_test_threads: cannot start thread %d", i);
        }
    }
}

static void start_coordinator(conn_t *c)
{
    c->have_coordinator =
        pthread_create(&c->coordinator, NULL, coordinator, c) == 0;
    if (!c->have_coordinator) {
        tlog("ws_test_threads: cannot start the coordinator");
    }
}

/* ---- callbacks ------------------------------------------------------- */

static void *CALLBACK threads_on_connect(const WebSocketServer *server)
{
    conn_t *c = conn_new(server, MODE_THREADS);

    if (c != NULL) {
        start_senders(c, 10, text_sender);
        start_coordinator(c);
    }
    return c;
}

static void *CALLBACK senders_on_connect(const WebSocketServer *server)
{
    conn_t *c = conn_new(server, MODE_SENDERS);

    if (c != NULL) {
        start_senders(c, 64, binary_sender);
        start_coordinator(c);
    }
    return c;
}

static void *CALLBACK paced_on_connect(const WebSocketServer *server)
{
    conn_t *c = conn_new(server, MODE_PACED);

    if (c != NULL) {
        start_senders(c, PACED_THREADS, paced_sender);
        start_coordinator(c);
    }
    return c;
}

static void *CALLBACK connect_send_on_connect(const WebSocketServer *server)
{
    conn_t *c = conn_new(server, MODE_CONNECT_SEND);

    if (c != NULL) {
        c->first = send_text(c, "from on_connect");
        /* the coordinator of one sender: sends, reports, closes */
        start_senders(c, 1, text_sender);
        start_coordinator(c);
    }
    return c;
}

typedef struct {
    conn_t *conn;
    size_t results[10];
} refuse_arg_t;

static void *refuse_sender(void *arg)
{
    refuse_arg_t *a = arg;
    char msg[16];
    int n;

    for (n = 0; n < 10; n++) {
        snprintf(msg, sizeof msg, "R %d", n);
        a->results[n] = send_text(a->conn, msg);
    }
    return NULL;
}

static void *CALLBACK refuse_send_on_connect(const WebSocketServer *server)
{
    conn_t *c = conn_new(server, MODE_REFUSE_SEND);
    refuse_arg_t arg;
    pthread_t t;
    char line[256];
    size_t used;
    int n;

    if (c == NULL) {
        return NULL;
    }
    memset(&arg, 0, sizeof arg);
    arg.conn = c;
    for (n = 0; n < 10; n++) {
        arg.results[n] = (size_t)-1; /* "never returned" */
    }
    if (pthread_create(&t, NULL, refuse_sender, &arg) == 0) {
        pthread_join(t, NULL);
    }
    used = (size_t)snprintf(line, sizeof line,
                            "ws_test_threads: refuse tag=%s results=", c->tag);
    for (n = 0; n < 10 && used < sizeof line; n++) {
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%zu",
                                 n ? "," : "", arg.results[n]);
    }
    tlog("%s", line);
    conn_free(c);
    return NULL; /* refused: no on_disconnect follows */
}

static void *CALLBACK slow_on_connect(const WebSocketServer *server)
{
    conn_t *c = conn_new(server, MODE_SLOW);

    if (c != NULL) {
        start_senders(c, 1, slow_sender);
    }
    return c;
}

static void *join_sender(void *arg)
{
    sender_t *s = arg;
    unsigned char *buf = malloc(SLOW_SIZE);
    int n;

    if (buf == NULL) {
        return NULL;
    }
    for (n = 0; n < 32; n++) {
        memset(buf, n, SLOW_SIZE);
        if (checked_send(s->conn, MESSAGE_TYPE_BINARY, buf, SLOW_SIZE) ==
            SLOW_SIZE) {
            s->ok++;
        }
        else {
            s->fail++;
            break;
        }
    }
    free(buf);
    return NULL;
}

static void *CALLBACK connect_join_on_connect(const WebSocketServer *server)
{
    conn_t *c = conn_new(server, MODE_CONNECT_JOIN);

    if (c != NULL) {
        start_senders(c, 1, join_sender);
        join_all(c);
        tlog("ws_test_threads: connect_join tag=%s ok=%zu fail=%zu", c->tag,
             c->senders[0].ok, c->senders[0].fail);
    }
    return c;
}

static void *burst_sender(void *arg)
{
    sender_t *s = arg;
    unsigned char buf[4096];
    int n;

    wait_go(s->conn);
    for (n = 0; n < 64; n++) {
        memset(buf, n, sizeof buf);
        if (checked_send(s->conn, MESSAGE_TYPE_BINARY, buf, sizeof buf) ==
            sizeof buf) {
            s->ok++;
        }
        else {
            s->fail++;
            break;
        }
    }
    return NULL;
}

static void *CALLBACK connect_burst_on_connect(const WebSocketServer *server)
{
    conn_t *c = conn_new(server, MODE_CONNECT_BURST);

    if (c != NULL) {
        struct timespec work = {0, 50 * 1000 * 1000};

        start_senders(c, 1, burst_sender);
        start_coordinator(c);
        set_go(c);
        nanosleep(&work, NULL); /* on_connect's own work */
    }
    return c;
}

static void *CALLBACK count_on_connect(const WebSocketServer *server)
{
    return conn_new(server, MODE_COUNT);
}

#define HDR_THREADS 8
#define HDR_PER_THREAD 20

typedef struct {
    const WebSocketServer *server;
    int index;
} hdr_arg_t;

static void *hdr_thread(void *arg)
{
    hdr_arg_t *a = arg;
    char key[32], value[32];
    int j;

    for (j = 0; j < HDR_PER_THREAD; j++) {
        snprintf(key, sizeof(key), "X-T%d-%d", a->index, j);
        snprintf(value, sizeof(value), "v%d-%d", a->index, j);
        a->server->header_set(a->server, key, value);
    }
    snprintf(value, sizeof(value), "p%d", a->index);
    a->server->protocol_set(a->server, value);
    return NULL;
}

static void *CALLBACK headers_on_connect(const WebSocketServer *server)
{
    pthread_t t[HDR_THREADS];
    hdr_arg_t a[HDR_THREADS];
    int i, started = 0;

    for (i = 0; i < HDR_THREADS; i++) {
        a[i].server = server;
        a[i].index = i;
        if (pthread_create(&t[i], NULL, hdr_thread, &a[i]) != 0) {
            break;
        }
        started++;
    }
    for (i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
    }
    return conn_new(server, MODE_COUNT);
}

static size_t CALLBACK tt_on_message(void *plugin_private,
                                     const WebSocketServer *server,
                                     const int type, unsigned char *buffer,
                                     const size_t size)
{
    conn_t *c = plugin_private;
    /* the modes whose threads wait for the client's first message and
     * whose close waits for "done" */
    int senders =
        c != NULL && (c->mode == MODE_SENDERS || c->mode == MODE_PACED);

    if (type == MESSAGE_TYPE_TEXT && size == 5 &&
        memcmp(buffer, "close", 5) == 0) {
        server->close(server);
        return 0;
    }
    if (senders && type == MESSAGE_TYPE_TEXT && size == 4 &&
        memcmp(buffer, "done", 4) == 0) {
        pthread_mutex_lock(&c->lock);
        c->client_done = 1;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    if (senders) {
        set_go(c); /* the connection is open: the threads may send */
    }
    if (c != NULL && c->mode == MODE_SLOW) {
        set_go(c); /* the client never reads: no echo */
        return 0;
    }
    if (c != NULL) {
        return checked_send(c, type, buffer, size);
    }
    return server->send(server, type, buffer, size);
}

static void CALLBACK tt_on_disconnect(void *plugin_private,
                                      const WebSocketServer *server)
{
    conn_t *c = plugin_private;

    (void)server;
    if (c == NULL) {
        tlog("ws_test_threads: disconnect tag= mode=none");
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->disconnecting = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    join_all(c);
    tlog("ws_test_threads: disconnect tag=%s mode=%s", c->tag,
         mode_names[c->mode]);
    conn_free(c);
}

/* ---- init functions ---------------------------------------------------- */

#define PLUGIN(name, connect)                                                  \
    static WebSocketPlugin name = {sizeof(WebSocketPlugin),                    \
                                   WEBSOCKET_PLUGIN_VERSION_0,                 \
                                   NULL,                                       \
                                   connect,                                    \
                                   tt_on_message,                              \
                                   tt_on_disconnect}

PLUGIN(threads_plugin, threads_on_connect);
PLUGIN(senders_plugin, senders_on_connect);
PLUGIN(paced_plugin, paced_on_connect);
PLUGIN(connect_send_plugin, connect_send_on_connect);
PLUGIN(refuse_send_plugin, refuse_send_on_connect);
PLUGIN(slow_plugin, slow_on_connect);
PLUGIN(count_plugin, count_on_connect);
PLUGIN(connect_join_plugin, connect_join_on_connect);
PLUGIN(connect_burst_plugin, connect_burst_on_connect);
PLUGIN(headers_plugin, headers_on_connect);

EXPORT WebSocketPlugin *CALLBACK threads_init(void);
EXPORT WebSocketPlugin *CALLBACK senders_init(void);
EXPORT WebSocketPlugin *CALLBACK paced_init(void);
EXPORT WebSocketPlugin *CALLBACK connect_send_init(void);
EXPORT WebSocketPlugin *CALLBACK refuse_send_init(void);
EXPORT WebSocketPlugin *CALLBACK slow_init(void);
EXPORT WebSocketPlugin *CALLBACK count_init(void);
EXPORT WebSocketPlugin *CALLBACK connect_join_init(void);
EXPORT WebSocketPlugin *CALLBACK connect_burst_init(void);
EXPORT WebSocketPlugin *CALLBACK headers_init(void);

EXPORT WebSocketPlugin *CALLBACK threads_init(void)
{
    return &threads_plugin;
}

EXPORT WebSocketPlugin *CALLBACK senders_init(void)
{
    return &senders_plugin;
}

EXPORT WebSocketPlugin *CALLBACK paced_init(void)
{
    return &paced_plugin;
}

EXPORT WebSocketPlugin *CALLBACK connect_send_init(void)
{
    return &connect_send_plugin;
}

EXPORT WebSocketPlugin *CALLBACK refuse_send_init(void)
{
    return &refuse_send_plugin;
}

EXPORT WebSocketPlugin *CALLBACK slow_init(void)
{
    return &slow_plugin;
}

EXPORT WebSocketPlugin *CALLBACK count_init(void)
{
    return &count_plugin;
}

EXPORT WebSocketPlugin *CALLBACK connect_join_init(void)
{
    return &connect_join_plugin;
}

EXPORT WebSocketPlugin *CALLBACK connect_burst_init(void)
{
    return &connect_burst_plugin;
}

EXPORT WebSocketPlugin *CALLBACK headers_init(void)
{
    return &headers_plugin;
}
