/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * wsload.c -- load client for the benchmarks in bench/ (driven by
 * bench/run): one thread, one epoll set, many non-blocking connections.
 *
 *   wsload idle      N WebSockets held open, each pinged every P seconds
 *   wsload keepalive N HTTP/1.1 keep-alive connections held open (the
 *                    baseline: httpd's own cost of an idle connection),
 *                    each sending a GET every P seconds
 *   wsload echo      C WebSockets, K masked text messages of S bytes in
 *                    flight each, closed loop, for T seconds
 *   wsload rawecho   the same traffic against a raw TCP echo server
 *                    (no framing: write S bytes, wait for S bytes back)
 *   wsload echo -S   echo through a WebSocket to TCP bridge: binary
 *                    messages of S bytes out, and a reply is S bytes back
 *                    whatever messages they came in (a bridge cuts the
 *                    backend's byte stream where its reads end)
 *
 * Build: cc -std=c99 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE \
 *           -o wsload wsload.c
 *
 * The last line on stdout is machine-readable: "RESULT key=value ...".
 * idle/keepalive print "READY ..." once every connection is open (or has
 * failed) so that a script can measure the server while they are held;
 * echo with -H prints "DONE ..." before it holds its connections idle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define NS_PER_MS 1000000LL
#define SCRATCH_SIZE (256 * 1024)
#define HS_MAX 4096          /* longest handshake / HTTP response head */
#define TICK_NS (10 * NS_PER_MS) /* timer wheel resolution */
#define MAX_EVENTS 1024
#define MAX_REASONS 5        /* failure reasons printed per class */

/* ------------------------------------------------------------------ */
/* Configuration and global state                                      */

enum mode { M_IDLE, M_KEEPALIVE, M_ECHO, M_RAWECHO };

enum cstate { C_UNUSED, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSED };

enum phase { P_OPENING, P_HOLD, P_GRACE, P_WARMUP, P_MEASURE, P_DRAIN,
             P_AFTER, P_END };

static struct {
    enum mode mode;
    struct sockaddr_in server;
    char host[64];
    int port;
    const char *path;
    const char *protocol;     /* Sec-WebSocket-Protocol, or NULL */
    const char *label;
    int nconns;
    int src_first, src_count; /* bind to 127.0.0.first .. first+count-1 */
    int window;               /* connects/handshakes in progress at most */
    int64_t ping_ns;          /* idle: ping (keepalive: GET) interval */
    int64_t hold_ns;          /* idle: hold time; echo: hold after */
    int inflight;             /* echo: messages in flight per connection */
    size_t size;              /* echo: payload bytes */
    int64_t duration_ns, warmup_ns, timeout_ns;
    long long max_msgs;       /* echo: stop after this many (0: time) */
    int stream;               /* echo -S: binary out, replies as bytes */
} cfg;

struct conn {
    int fd;
    unsigned char state;      /* enum cstate */
    unsigned char out_armed;  /* EPOLLOUT in the interest set */
    unsigned char in_payload; /* reading a frame's payload, not header */
    unsigned char opcode;     /* of the frame being read */
    unsigned char fin;
    unsigned char msg_op;     /* opcode of the message being read */
    unsigned char hdr_len;    /* header bytes gathered in hdr[] */
    unsigned char ctl_len;    /* control payload gathered in ctl[] */
    unsigned char ping_out;   /* an unanswered ping / GET is out */
    unsigned char close_sent;
    unsigned char hdr[14];
    unsigned char ctl[125];   /* RFC 6455 §5.5: control payload <= 125 */
    uint64_t payload_left;    /* of the frame (keepalive: of the body) */
    uint64_t msg_len;         /* bytes of the message so far */
    uint64_t stream_len;      /* echo -S: reply bytes not yet counted */
    char *hs;                 /* response head being gathered, or NULL */
    size_t hs_len;
    char *accept;             /* expected Sec-WebSocket-Accept */
    unsigned char *wbuf;      /* bytes still to write: wbuf[woff..wlen) */
    size_t wlen, woff, wcap;
    int64_t deadline;         /* connect / handshake deadline */
    int64_t ping_at;          /* when the outstanding ping went out */
    int64_t timer_at;         /* next ping due */
    int timer_next;           /* timer wheel list link (-1: end) */
    int64_t *sent;            /* echo: send times, a ring of inflight */
    unsigned sent_head, sent_n;
    uint32_t pings, pongs;
};

static struct conn *conns;
static int epfd;
static int attempted, pending, opened, open_now;
static int fail_connect, fail_handshake, fail_timeout;
static int closed_by_peer, closed_error;
static int reasons[3];
static long long pings_sent, pongs_rcvd, pings_late;
static long long done_msgs, measured_msgs, errors, bad_frames;
static long long reply_timeouts;
static enum phase phase;
static int64_t phase_end, measure_start, measure_end;
static unsigned char *scratch, *pattern;

/* Timer wheel for the pings: slots of TICK_NS, long enough for one
 * ping interval, so that each connection sits in exactly one slot. */
static int *wheel;
static int64_t wheel_size, wheel_tick;

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void die(const char *msg)
{
    fprintf(stderr, "wsload: %s\n", msg);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL) {
        die("out of memory");
    }
    return p;
}

static struct hist lat_hist;

/* ------------------------------------------------------------------ */
/* Connection bookkeeping                                              */

static void note_reason(int cls, const char *what, const char *detail)
{
    if (reasons[cls]++ < MAX_REASONS) {
        fprintf(stderr, "wsload: %s: %s\n", what, detail);
    }
}

static void conn_free_buffers(struct conn *c)
{
    free(c->hs);
    free(c->accept);
    free(c->wbuf);
    free(c->sent);
    c->hs = c->accept = NULL;
    c->wbuf = NULL;
    c->sent = NULL;
    c->wlen = c->woff = c->wcap = 0;
}

/* Ends a connection; counts it by the stage it was in.  cls: 0 connect,
 * 1 handshake (or protocol), 2 timeout; detail is printed for the first
 * few of each class. */
static void conn_fail(struct conn *c, int cls, const char *detail)
{
    static const char *what[] = { "connect failed", "handshake failed",
                                  "timeout" };

    if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) {
        pending--;
        if (cls == 0) {
            fail_connect++;
        }
        else if (cls == 1) {
            fail_handshake++;
        }
        else {
            fail_timeout++;
        }
        note_reason(cls, what[cls], detail);
    }
    else if (c->state == C_OPEN) {
        open_now--;
        if (cls == 2) {
            reply_timeouts++;
        }
        else if (detail && strcmp(detail, "closed by server") == 0) {
            closed_by_peer++;
        }
        else {
            closed_error++;
            note_reason(1, "connection lost", detail);
        }
        if (cfg.mode == M_ECHO || cfg.mode == M_RAWECHO) {
            errors++;
        }
    }
    if (c->fd >= 0) {
        close(c->fd); /* also leaves the epoll set */
        c->fd = -1;
    }
    c->state = C_CLOSED;
    conn_free_buffers(c);
}

static void arm_out(struct conn *c, int on)
{
    struct epoll_event ev;

    if (c->out_armed == on) {
        return;
    }
    ev.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0);
    ev.data.u32 = (uint32_t)(c - conns);
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_armed = (unsigned char)on;
}

static unsigned char *wbuf_reserve(struct conn *c, size_t n)
{
    if (c->woff == c->wlen) {
        c->woff = c->wlen = 0;
    }
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 256;
        while (cap < c->wlen + n) {
            cap *= 2;
        }
        c->wbuf = realloc(c->wbuf, cap);
        if (c->wbuf == NULL) {
            die("out of memory");
        }
        c->wcap = cap;
    }
    return c->wbuf + c->wlen;
}

/* Writes what is queued; on a short write waits for EPOLLOUT.
 * Returns -1 if the connection was closed. */
static int conn_flush(struct conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                arm_out(c, 1);
                return 0;
            }
            if (errno == EINTR) {
                continue;
            }
            conn_fail(c, 1, strerror(errno));
            return -1;
        }
        c->woff += (size_t)n;
    }
    c->woff = c->wlen = 0;
    if (c->wcap > 64 * 1024) {
        /* do not keep a 1 MiB buffer per connection once it drained */
        free(c->wbuf);
        c->wbuf = NULL;
        c->wcap = 0;
    }
    arm_out(c, 0);
    return 0;
}

/* Queues one client frame: FIN set, masked with a fresh key as every
 * client frame must be (RFC 6455 §5.3), 7/16/64-bit length (§5.2). */
static void queue_frame(struct conn *c, unsigned op, const unsigned char *p,
                        size_t len)
{
    unsigned char *b = wbuf_reserve(c, len + 14), *key;
    uint32_t k32 = (uint32_t)(rnd() >> 32);
    size_t h = 2, i;

    b[0] = (unsigned char)(0x80 | op);
    if (len < 126) {
        b[1] = (unsigned char)(0x80 | len);
    }
    else if (len <= 0xFFFF) {
        b[1] = 0x80 | 126;
        b[2] = (unsigned char)(len >> 8);
        b[3] = (unsigned char)len;
        h = 4;
    }
    else {
        b[1] = 0x80 | 127;
        for (i = 0; i < 8; i++) {
            b[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        }
        h = 10;
    }
    key = b + h;
    memcpy(key, &k32, 4);
    for (i = 0; i < len; i++) {
        b[h + 4 + i] = p[i] ^ key[i & 3];
    }
    c->wlen += h + 4 + len;
}

static void queue_bytes(struct conn *c, const void *p, size_t len)
{
    memcpy(wbuf_reserve(c, len), p, len);
    c->wlen += len;
}

static void queue_get(struct conn *c)
{
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "User-Agent: wsload\r\n\r\n",
                     cfg.path, cfg.host, cfg.port);
    queue_bytes(c, req, (size_t)n);
}

/* ------------------------------------------------------------------ */
/* Pings (idle) and keep-alive GETs, on a timer wheel                  */

static void timer_add(struct conn *c, int64_t at)
{
    int64_t tick = at / TICK_NS, slot;

    if (tick <= wheel_tick) {
        tick = wheel_tick + 1;
    }
    if (tick - wheel_tick >= wheel_size) {
        tick = wheel_tick + wheel_size - 1;
    }
    slot = tick % wheel_size;
    c->timer_at = tick * TICK_NS;
    c->timer_next = wheel[slot];
    wheel[slot] = (int)(c - conns);
}

static void ping_fire(struct conn *c, int64_t now)
{
    if (c->state != C_OPEN) {
        return; /* closed since it was scheduled: drop it */
    }
    if (phase == P_HOLD || phase == P_OPENING) {
        if (c->ping_out) {
            pings_late++; /* the previous one is still unanswered */
        }
        else {
            if (cfg.mode == M_IDLE) {
                queue_frame(c, 0x9, (const unsigned char *)"wsload", 6);
            }
            else {
                queue_get(c);
            }
            c->ping_out = 1;
            c->ping_at = now;
            c->pings++;
            pings_sent++;
            if (conn_flush(c) < 0) {
                return;
            }
        }
        timer_add(c, now + cfg.ping_ns);
    }
}

static void timers_run(int64_t now)
{
    int64_t target = now / TICK_NS;

    while (wheel_tick < target) {
        int64_t slot;
        int i;

        wheel_tick++;
        slot = wheel_tick % wheel_size;
        i = wheel[slot];
        wheel[slot] = -1;
        while (i >= 0) {
            struct conn *c = &conns[i];
            i = c->timer_next;
            ping_fire(c, now);
        }
    }
}

static void pong_received(struct conn *c, int64_t now)
{
    if (c->ping_out) {
        c->ping_out = 0;
        c->pongs++;
        pongs_rcvd++;
        hist_add(&lat_hist, (uint64_t)(now - c->ping_at) / 1000);
    }
}

/* ------------------------------------------------------------------ */
/* Echo traffic                                                        */

static void send_message(struct conn *c, int64_t now)
{
    if (cfg.mode == M_ECHO) {
        queue_frame(c, cfg.stream ? 0x2 : 0x1, pattern, cfg.size);
    }
    else {
        queue_bytes(c, pattern, cfg.size);
    }
    c->sent[(c->sent_head + c->sent_n) % (unsigned)cfg.inflight] = now;
    c->sent_n++;
}

static int sending(void)
{
    return phase == P_WARMUP || phase == P_MEASURE;
}

static void message_received(struct conn *c, uint64_t len, int64_t now)
{
    int64_t t;

    if (cfg.mode != M_ECHO && cfg.mode != M_RAWECHO) {
        bad_frames++; /* no data messages expected while idle */
        return;
    }
    if (len != cfg.size || c->sent_n == 0) {
        errors++;
        if (c->sent_n == 0) {
            return;
        }
    }
    t = c->sent[c->sent_head];
    c->sent_head = (c->sent_head + 1) % (unsigned)cfg.inflight;
    c->sent_n--;
    done_msgs++;
    if (phase == P_MEASURE) {
        measured_msgs++;
        hist_add(&lat_hist, (uint64_t)(now - t) / 1000);
        if (cfg.max_msgs && measured_msgs >= cfg.max_msgs) {
            measure_end = now;
            phase = P_DRAIN;
            phase_end = now + 2 * NS_PER_SEC;
        }
    }
    if (sending()) {
        send_message(c, now);
    }
}

/* ------------------------------------------------------------------ */
/* Incoming bytes                                                      */

/* A complete server frame (header and payload consumed). */
static void frame_done(struct conn *c, int64_t now)
{
    switch (c->opcode) {
    case 0x0: case 0x1: case 0x2:
        if (c->fin) {
            uint64_t len = c->msg_len;
            c->msg_len = 0;
            c->msg_op = 0;
            if (!cfg.stream) {
                message_received(c, len, now);
                break;
            }
            c->stream_len += len;
            while (c->stream_len >= cfg.size && c->state == C_OPEN) {
                c->stream_len -= cfg.size;
                message_received(c, cfg.size, now);
            }
        }
        break;
    case 0x8: /* close: answer it (RFC 6455 §5.5.1) and drop */
        if (!c->close_sent) {
            queue_frame(c, 0x8, c->ctl, c->ctl_len >= 2 ? 2 : 0);
            c->close_sent = 1;
            conn_flush(c);
        }
        if (c->state == C_OPEN) {
            conn_fail(c, 1, "closed by server");
        }
        break;
    case 0x9: /* ping: pong with the same payload (§5.5.3) */
        queue_frame(c, 0xA, c->ctl, c->ctl_len);
        break;
    case 0xA:
        pong_received(c, now);
        break;
    default:
        break;
    }
}

/* Feeds server bytes to the frame parser, incrementally: a frame may be
 * split anywhere, and payloads are counted, not buffered (1 MiB echoes
 * cost no client memory).  Returns -1 if the connection was closed. */
static int ws_feed(struct conn *c, const unsigned char *p, size_t n,
                   int64_t now)
{
    while (n > 0 && c->state == C_OPEN) {
        if (!c->in_payload) {
            size_t need = 2;
            uint64_t len;
            unsigned i;

            c->hdr[c->hdr_len++] = *p++;
            n--;
            if (c->hdr_len >= 2) {
                unsigned l7 = c->hdr[1] & 0x7F;
                need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0)
                       + ((c->hdr[1] & 0x80) ? 4 : 0);
            }
            if (c->hdr_len < need) {
                continue;
            }
            /* whole header: a server must not mask (§5.1), sets no RSV
             * bit without an extension (§5.2), and control frames are
             * short and unfragmented (§5.5) */
            c->hdr_len = 0;
            c->opcode = c->hdr[0] & 0x0F;
            c->fin = (c->hdr[0] & 0x80) != 0;
            len = c->hdr[1] & 0x7F;
            if (len == 126) {
                len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
            }
            else if (len == 127) {
                for (len = 0, i = 0; i < 8; i++) {
                    len = len << 8 | c->hdr[2 + i];
                }
            }
            if ((c->hdr[1] & 0x80) || (c->hdr[0] & 0x70)
                || (c->opcode >= 0x8 && (len > 125 || !c->fin))
                || (c->opcode > 0x2 && c->opcode < 0x8) || c->opcode > 0xA
                || (c->opcode == 0 && c->msg_op == 0)
                || ((c->opcode == 1 || c->opcode == 2) && c->msg_op)) {
                bad_frames++;
                conn_fail(c, 1, "protocol error in a server frame");
                return -1;
            }
            if (c->opcode == 1 || c->opcode == 2) {
                c->msg_op = c->opcode;
            }
            c->ctl_len = 0;
            c->payload_left = len;
            c->in_payload = 1;
        }
        else {
            size_t take = c->payload_left < n ? (size_t)c->payload_left : n;
            if (c->opcode >= 0x8) {
                memcpy(c->ctl + c->ctl_len, p, take);
                c->ctl_len = (unsigned char)(c->ctl_len + take);
            }
            else {
                c->msg_len += take;
            }
            c->payload_left -= take;
            p += take;
            n -= take;
        }
        if (c->in_payload && c->payload_left == 0) {
            c->in_payload = 0;
            frame_done(c, now);
        }
    }
    return c->state == C_OPEN ? 0 : -1;
}

static void conn_opened(struct conn *c, int64_t now)
{
    c->state = C_OPEN;
    pending--;
    opened++;
    open_now++;
    if (cfg.mode == M_IDLE || cfg.mode == M_KEEPALIVE) {
        if (cfg.ping_ns > 0) {
            /* staggered: the first ping at a random point of the period */
            timer_add(c, now + (int64_t)(rnd() % (uint64_t)cfg.ping_ns));
        }
    }
    else {
        c->sent = xmalloc(sizeof(int64_t) * (size_t)cfg.inflight);
        c->sent_head = c->sent_n = 0;
    }
}

/* Keep-alive mode: counts the body of a response by Content-Length. */
static int http_feed(struct conn *c, const unsigned char *p, size_t n,
                     int64_t now)
{
    while (n > 0) {
        if (c->payload_left > 0) {
            size_t take = c->payload_left < n ? (size_t)c->payload_left : n;
            c->payload_left -= take;
            p += take;
            n -= take;
            if (c->payload_left == 0) {
                if (c->state == C_HANDSHAKE) {
                    conn_opened(c, now);
                }
                else {
                    pong_received(c, now);
                }
            }
            continue;
        }
        /* gather a response head */
        {
            size_t take = n, used;
            char *end, *cl;
            if (c->hs == NULL) {
                c->hs = xmalloc(HS_MAX + 1);
                c->hs_len = 0;
            }
            if (take > HS_MAX - c->hs_len) {
                take = HS_MAX - c->hs_len;
            }
            memcpy(c->hs + c->hs_len, p, take);
            c->hs_len += take;
            c->hs[c->hs_len] = '\0';
            end = strstr(c->hs, "\r\n\r\n");
            if (end == NULL) {
                if (c->hs_len == HS_MAX) {
                    conn_fail(c, 1, "response head too long");
                    return -1;
                }
                return 0;
            }
            used = (size_t)(end + 4 - c->hs) - (c->hs_len - take);
            p += used;
            n -= used;
            if (strncmp(c->hs, "HTTP/1.1 200", 12) != 0) {
                c->hs[strcspn(c->hs, "\r")] = '\0';
                conn_fail(c, 1, c->hs);
                return -1;
            }
            cl = find_header(c->hs, "Content-Length");
            c->payload_left = cl ? strtoull(cl, NULL, 10) : 0;
            free(c->hs);
            c->hs = NULL;
            if (c->payload_left == 0) {
                if (c->state == C_HANDSHAKE) {
                    conn_opened(c, now);
                }
                else {
                    pong_received(c, now);
                }
            }
        }
    }
    return 0;
}

/* WebSocket handshake response: 101 with the right accept (§4.1). */
static int handshake_feed(struct conn *c, const unsigned char *p, size_t n,
                          int64_t now)
{
    size_t take = n, used;
    char *end, *acc;

    if (c->hs == NULL) {
        c->hs = xmalloc(HS_MAX + 1);
        c->hs_len = 0;
    }
    if (take > HS_MAX - c->hs_len) {
        take = HS_MAX - c->hs_len;
    }
    memcpy(c->hs + c->hs_len, p, take);
    c->hs_len += take;
    c->hs[c->hs_len] = '\0';
    end = strstr(c->hs, "\r\n\r\n");
    if (end == NULL) {
        if (c->hs_len == HS_MAX) {
            conn_fail(c, 1, "response head too long");
            return -1;
        }
        return 0;
    }
    if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0) {
        c->hs[strcspn(c->hs, "\r")] = '\0';
        conn_fail(c, 1, c->hs);
        return -1;
    }
    acc = find_header(c->hs, "Sec-WebSocket-Accept");
    if (acc == NULL || strncmp(acc, c->accept, 28) != 0
        || (acc[28] != '\r' && acc[28] != ' ')) {
        conn_fail(c, 1, "wrong or missing Sec-WebSocket-Accept");
        return -1;
    }
    used = (size_t)(end + 4 - c->hs) - (c->hs_len - take);
    free(c->hs);
    free(c->accept);
    c->hs = c->accept = NULL;
    conn_opened(c, now);
    /* frames may follow the head in the same read */
    return ws_feed(c, p + used, n - used, now);
}

static void conn_readable(struct conn *c)
{
    int rounds = 0;

    for (;;) {
        ssize_t n = read(c->fd, scratch, SCRATCH_SIZE);
        int64_t now;
        int rv;

        if (n == 0) {
            conn_fail(c, 1, "closed by server");
            return;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_fail(c, 1, strerror(errno));
                return;
            }
            break; /* drained: write what the replies queued */
        }
        now = now_ns();
        if (cfg.mode == M_RAWECHO) {
            c->msg_len += (uint64_t)n;
            while (c->msg_len >= cfg.size && c->state == C_OPEN) {
                c->msg_len -= cfg.size;
                message_received(c, cfg.size, now);
            }
            rv = 0;
        }
        else if (cfg.mode == M_KEEPALIVE) {
            rv = http_feed(c, scratch, (size_t)n, now);
        }
        else if (c->state == C_HANDSHAKE) {
            rv = handshake_feed(c, scratch, (size_t)n, now);
        }
        else {
            rv = ws_feed(c, scratch, (size_t)n, now);
        }
        if (rv < 0 || c->state == C_CLOSED) {
            return;
        }
        /* one read per wake-up unless the buffer filled (big messages) */
        if ((size_t)n < SCRATCH_SIZE || ++rounds >= 8) {
            break;
        }
    }
    if (c->wlen > c->woff) {
        conn_flush(c);
    }
}

/* ------------------------------------------------------------------ */
/* Opening connections                                                 */

static void conn_start(int i, int64_t now)
{
    struct conn *c = &conns[i];
    struct epoll_event ev;
    int one = 1, fd;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->timer_next = -1;
    attempted++;
    pending++;
    c->state = C_CONNECTING;
    c->deadline = now + cfg.timeout_ns;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn_fail(c, 0, strerror(errno));
        return;
    }
    c->fd = fd;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (cfg.src_count > 0) {
        /* one source address has ~28k ephemeral ports toward one server
         * port: spread over 127.0.0.first.., and let connect() pick the
         * port so that it only needs to be unique per 4-tuple */
        struct sockaddr_in src;
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        src.sin_addr.s_addr =
            htonl(0x7F000000u | (uint32_t)(cfg.src_first + i % cfg.src_count));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            conn_fail(c, 0, strerror(errno));
            return;
        }
    }
    if (connect(fd, (struct sockaddr *)&cfg.server, sizeof(cfg.server)) < 0
        && errno != EINPROGRESS) {
        conn_fail(c, 0, strerror(errno));
        return;
    }
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.u32 = (uint32_t)i;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        conn_fail(c, 0, strerror(errno));
        return;
    }
    c->out_armed = 1;
}

static void connect_done(struct conn *c, int64_t now)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        err = errno;
    }
    if (err != 0) {
        conn_fail(c, 0, strerror(err));
        return;
    }
    c->state = C_HANDSHAKE;
    c->deadline = now + cfg.timeout_ns;
    if (cfg.mode == M_RAWECHO) {
        conn_opened(c, now);
        arm_out(c, 0);
    }
    else if (cfg.mode == M_KEEPALIVE) {
        queue_get(c);
        conn_flush(c);
    }
    else {
        unsigned char nonce[16], digest[20];
        char key[25], buf[128], req[1024];
        uint64_t r1 = rnd(), r2 = rnd();
        int n;

        memcpy(nonce, &r1, 8);
        memcpy(nonce + 8, &r2, 8);
        base64(nonce, 16, key);
        snprintf(buf, sizeof(buf), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
                 key);
        sha1((const unsigned char *)buf, strlen(buf), digest);
        c->accept = xmalloc(29);
        base64(digest, 20, c->accept);
        n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "%s%s%s\r\n",
                     cfg.path, cfg.host, cfg.port, key,
                     cfg.protocol ? "Sec-WebSocket-Protocol: " : "",
                     cfg.protocol ? cfg.protocol : "",
                     cfg.protocol ? "\r\n" : "");
        queue_bytes(c, req, (size_t)n);
        conn_flush(c);
    }
}

/* Every half second: connects and handshakes past their deadline, echo
 * replies older than the timeout. */
static void sweep(int64_t now)
{
    int i;

    for (i = 0; i < attempted; i++) {
        struct conn *c = &conns[i];
        if ((c->state == C_CONNECTING || c->state == C_HANDSHAKE)
            && now > c->deadline) {
            conn_fail(c, 2, c->state == C_CONNECTING ? "connect"
                                                     : "handshake");
        }
        else if (c->state == C_OPEN && c->sent_n > 0
                 && now - c->sent[c->sent_head] > cfg.timeout_ns) {
            conn_fail(c, 2, "echo reply");
        }
    }
}

/* ------------------------------------------------------------------ */
/* Phases and the report                                               */

static int count_state(int state, int answering)
{
    int i, n = 0;

    for (i = 0; i < attempted; i++) {
        if (conns[i].state == state
            && (!answering
                || (conns[i].pings > 0 && conns[i].pings == conns[i].pongs))) {
            n++;
        }
    }
    return n;
}

static long long inflight_total(void)
{
    long long n = 0;
    int i;

    for (i = 0; i < attempted; i++) {
        if (conns[i].state == C_OPEN) {
            n += conns[i].sent_n;
        }
    }
    return n;
}

static const char *mode_name(void)
{
    static const char *names[] = { "idle", "keepalive", "echo", "rawecho" };
    return names[cfg.mode];
}

static void report_open(void)
{
    printf("READY mode=%s label=%s attempted=%d opened=%d fail_connect=%d "
           "fail_handshake=%d fail_timeout=%d\n",
           mode_name(), cfg.label, attempted, opened, fail_connect,
           fail_handshake, fail_timeout);
    fflush(stdout);
}

static void report_idle(void)
{
    int open = count_state(C_OPEN, 0), answering = count_state(C_OPEN, 1);

    fprintf(stderr,
            "%s: %d attempted, %d opened, %d still open, %d answered "
            "every ping; failures: connect %d, handshake %d, timeout %d; "
            "closed by server %d; pings %lld, answered %lld, late %lld; "
            "ping RTT p50 %llu us p99 %llu us\n",
            mode_name(), attempted, opened, open, answering, fail_connect,
            fail_handshake, fail_timeout, closed_by_peer + closed_error,
            pings_sent, pongs_rcvd, pings_late,
            (unsigned long long)hist_quantile(&lat_hist, 0.5),
            (unsigned long long)hist_quantile(&lat_hist, 0.99));
    printf("RESULT mode=%s label=%s attempted=%d opened=%d open=%d "
           "answering=%d fail_connect=%d fail_handshake=%d fail_timeout=%d "
           "closed=%d pings=%lld pongs=%lld late=%lld rtt_p50_us=%llu "
           "rtt_p99_us=%llu bad_frames=%lld\n",
           mode_name(), cfg.label, attempted, opened, open, answering,
           fail_connect, fail_handshake, fail_timeout,
           closed_by_peer + closed_error, pings_sent, pongs_rcvd, pings_late,
           (unsigned long long)hist_quantile(&lat_hist, 0.5),
           (unsigned long long)hist_quantile(&lat_hist, 0.99), bad_frames);
}

static void report_echo(void)
{
    double secs = (double)(measure_end - measure_start) / NS_PER_SEC;
    double rate = secs > 0 ? (double)measured_msgs / secs : 0;
    unsigned long long p50 = hist_quantile(&lat_hist, 0.5),
                       p99 = hist_quantile(&lat_hist, 0.99),
                       p999 = hist_quantile(&lat_hist, 0.999);

    fprintf(stderr,
            "%s: %d conns (%d opened), %d in flight, %zu bytes: %lld msgs "
            "in %.2f s = %.0f msg/s; latency p50 %llu us, p99 %llu us, "
            "p99.9 %llu us; errors %lld\n",
            mode_name(), cfg.nconns, opened, cfg.inflight, cfg.size,
            measured_msgs, secs, rate, p50, p99, p999,
            errors + fail_connect + fail_handshake + fail_timeout);
    printf("RESULT mode=%s label=%s conns=%d opened=%d inflight=%d size=%zu "
           "msgs=%lld secs=%.3f rate=%.0f p50_us=%llu p99_us=%llu "
           "p999_us=%llu errors=%lld fail=%d\n",
           mode_name(), cfg.label, cfg.nconns, opened, cfg.inflight,
           cfg.size, measured_msgs, secs, rate, p50, p99, p999,
           errors + bad_frames + reply_timeouts,
           fail_connect + fail_handshake + fail_timeout);
}

/* Advances the phase machine; returns 0 when the run is over. */
static int advance(int64_t now)
{
    int idle = cfg.mode == M_IDLE || cfg.mode == M_KEEPALIVE;
    int i;

    switch (phase) {
    case P_OPENING:
        if (attempted < cfg.nconns || pending > 0) {
            return 1;
        }
        report_open();
        if (idle) {
            phase = P_HOLD;
            phase_end = now + cfg.hold_ns;
            return 1;
        }
        if (opened == 0) {
            phase = P_END;
            return 0;
        }
        phase = cfg.max_msgs ? P_MEASURE : P_WARMUP;
        phase_end = now + (cfg.max_msgs ? 3600 * NS_PER_SEC : cfg.warmup_ns);
        measure_start = now;
        for (i = 0; i < attempted; i++) {
            struct conn *c = &conns[i];
            int k;
            if (c->state != C_OPEN) {
                continue;
            }
            for (k = 0; k < cfg.inflight; k++) {
                send_message(c, now);
            }
            conn_flush(c);
        }
        return 1;
    case P_HOLD:
        if (now >= phase_end) {
            /* no new pings; give the outstanding ones time to return */
            phase = P_GRACE;
            phase_end = now + (cfg.ping_ns < 5 * NS_PER_SEC
                                   ? cfg.ping_ns : 5 * NS_PER_SEC);
        }
        return 1;
    case P_GRACE:
        return now < phase_end && pongs_rcvd < pings_sent;
    case P_WARMUP:
        if (open_now == 0) {
            phase = P_END; /* every connection is gone */
            report_echo();
            return 0;
        }
        if (now >= phase_end) {
            phase = P_MEASURE;
            measure_start = now;
            phase_end = now + cfg.duration_ns;
            memset(&lat_hist, 0, sizeof(lat_hist));
            measured_msgs = 0;
        }
        return 1;
    case P_MEASURE:
        if (now >= phase_end || open_now == 0) {
            measure_end = now;
            phase = P_DRAIN;
            phase_end = now + 2 * NS_PER_SEC;
        }
        return 1;
    case P_DRAIN:
        if (now < phase_end && inflight_total() > 0) {
            return 1;
        }
        report_echo();
        if (cfg.hold_ns > 0) {
            printf("DONE\n");
            fflush(stdout);
            phase = P_AFTER;
            phase_end = now + cfg.hold_ns;
            return 1;
        }
        phase = P_END;
        return 0;
    case P_AFTER:
        return now < phase_end;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
    fputs(
        "usage: wsload MODE [options]   MODE: idle keepalive echo rawecho\n"
        "  -h HOST     server IPv4 address (127.0.0.1)\n"
        "  -p PORT     server port (8080)\n"
        "  -u PATH     request path (/echo; keepalive: /small.txt)\n"
        "  -x PROTO    Sec-WebSocket-Protocol to offer (none)\n"
        "  -n N        connections (idle/keepalive 100, echo 1)\n"
        "  -a F:C      bind to source addresses 127.0.0.F .. F+C-1\n"
        "  -w W        connects/handshakes in progress at most (256)\n"
        "  -P SECS     idle: ping (keepalive: GET) interval per conn (10)\n"
        "  -H SECS     idle: hold after all opened (30); echo: keep the\n"
        "              connections open idle this long after the run (0)\n"
        "  -k K        echo: messages in flight per connection (1)\n"
        "  -s BYTES    echo: payload size (16)\n"
        "  -t SECS     echo: measured duration (5)\n"
        "  -W SECS     echo: warm-up before measuring (1)\n"
        "  -m COUNT    echo: measure exactly COUNT echoes, no warm-up\n"
        "  -S          echo: binary messages, replies counted as bytes\n"
        "              (through a WebSocket to TCP bridge)\n"
        "  -T SECS     connect/handshake/reply timeout (10)\n"
        "  -l LABEL    label for the RESULT line\n",
        stderr);
    exit(2);
}

static int64_t secs_ns(const char *s)
{
    return (int64_t)(strtod(s, NULL) * NS_PER_SEC);
}

static void parse_args(int argc, char **argv)
{
    int opt, n_set = 0;
    int64_t hold = -1;

    if (argc < 2) {
        usage();
    }
    if (strcmp(argv[1], "idle") == 0) {
        cfg.mode = M_IDLE;
    }
    else if (strcmp(argv[1], "keepalive") == 0) {
        cfg.mode = M_KEEPALIVE;
    }
    else if (strcmp(argv[1], "echo") == 0) {
        cfg.mode = M_ECHO;
    }
    else if (strcmp(argv[1], "rawecho") == 0) {
        cfg.mode = M_RAWECHO;
    }
    else {
        usage();
    }
    strcpy(cfg.host, "127.0.0.1");
    cfg.port = 8080;
    cfg.path = cfg.mode == M_KEEPALIVE ? "/small.txt" : "/echo";
    cfg.label = "-";
    cfg.window = 256;
    cfg.ping_ns = 10 * NS_PER_SEC;
    cfg.inflight = 1;
    cfg.size = 16;
    cfg.duration_ns = 5 * NS_PER_SEC;
    cfg.warmup_ns = NS_PER_SEC;
    cfg.timeout_ns = 10 * NS_PER_SEC;
    optind = 2;
    while ((opt = getopt(argc, argv, "h:p:u:x:n:a:w:P:H:k:s:t:W:m:T:l:S"))
           != -1) {
        switch (opt) {
        case 'h':
            snprintf(cfg.host, sizeof(cfg.host), "%s", optarg);
            break;
        case 'p': cfg.port = atoi(optarg); break;
        case 'u': cfg.path = optarg; break;
        case 'x': cfg.protocol = optarg; break;
        case 'n': cfg.nconns = atoi(optarg); n_set = 1; break;
        case 'a':
            if (sscanf(optarg, "%d:%d", &cfg.src_first, &cfg.src_count) != 2
                || cfg.src_first < 1 || cfg.src_count < 1
                || cfg.src_first + cfg.src_count > 255) {
                usage();
            }
            break;
        case 'w': cfg.window = atoi(optarg); break;
        case 'P': cfg.ping_ns = secs_ns(optarg); break;
        case 'H': hold = secs_ns(optarg); break;
        case 'k': cfg.inflight = atoi(optarg); break;
        case 's': cfg.size = (size_t)strtoull(optarg, NULL, 10); break;
        case 't': cfg.duration_ns = secs_ns(optarg); break;
        case 'W': cfg.warmup_ns = secs_ns(optarg); break;
        case 'm': cfg.max_msgs = atoll(optarg); break;
        case 'T': cfg.timeout_ns = secs_ns(optarg); break;
        case 'l': cfg.label = optarg; break;
        case 'S': cfg.stream = 1; break;
        default: usage();
        }
    }
    if (!n_set) {
        cfg.nconns = (cfg.mode == M_IDLE || cfg.mode == M_KEEPALIVE) ? 100
                                                                     : 1;
    }
    if (hold < 0) {
        hold = (cfg.mode == M_IDLE || cfg.mode == M_KEEPALIVE)
                   ? 30 * NS_PER_SEC : 0;
    }
    cfg.hold_ns = hold;
    if (cfg.nconns < 1 || cfg.window < 1 || cfg.inflight < 1
        || cfg.size < 1 || cfg.timeout_ns <= 0) {
        usage();
    }
    memset(&cfg.server, 0, sizeof(cfg.server));
    cfg.server.sin_family = AF_INET;
    cfg.server.sin_port = htons((uint16_t)cfg.port);
    if (inet_pton(AF_INET, cfg.host, &cfg.server.sin_addr) != 1) {
        die("-h wants an IPv4 address");
    }
}

int main(int argc, char **argv)
{
    struct epoll_event events[MAX_EVENTS];
    struct rlimit rl;
    int64_t now, next_sweep;
    size_t i;

    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    /* as many descriptors as the hard limit allows */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0
        && (rlim_t)cfg.nconns + 16 > rl.rlim_cur) {
        fprintf(stderr, "wsload: %d connections need more than the %llu "
                "open files allowed: use several processes\n",
                cfg.nconns, (unsigned long long)rl.rlim_cur);
        return 2;
    }
    rng_state = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9E37;
    conns = calloc((size_t)cfg.nconns, sizeof(*conns));
    scratch = xmalloc(SCRATCH_SIZE);
    pattern = xmalloc(cfg.size);
    for (i = 0; i < cfg.size; i++) {
        pattern[i] = (unsigned char)('a' + i % 26); /* valid UTF-8 text */
    }
    if (conns == NULL) {
        die("out of memory");
    }
    wheel_size = cfg.ping_ns / TICK_NS + 16;
    wheel = xmalloc(sizeof(int) * (size_t)wheel_size);
    for (i = 0; i < (size_t)wheel_size; i++) {
        wheel[i] = -1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        die("epoll_create1 failed");
    }
    now = now_ns();
    wheel_tick = now / TICK_NS;
    next_sweep = now + NS_PER_SEC / 2;
    phase = P_OPENING;

    while (advance(now)) {
        int n, k, timeout_ms = 10;

        while (phase == P_OPENING && attempted < cfg.nconns
               && pending < cfg.window) {
            conn_start(attempted, now);
        }
        n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
        now = now_ns();
        for (k = 0; k < n; k++) {
            struct conn *c = &conns[events[k].data.u32];
            uint32_t ev = events[k].events;

            if (c->state == C_CONNECTING) {
                connect_done(c, now);
                continue;
            }
            if (c->state == C_CLOSED) {
                continue;
            }
            if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
                conn_readable(c);
            }
            if (c->state != C_CLOSED && (ev & EPOLLOUT)) {
                conn_flush(c);
            }
        }
        if (cfg.mode == M_IDLE || cfg.mode == M_KEEPALIVE) {
            timers_run(now);
        }
        if (now >= next_sweep) {
            sweep(now);
            next_sweep = now + NS_PER_SEC / 2;
        }
    }
    if (cfg.mode == M_IDLE || cfg.mode == M_KEEPALIVE) {
        report_idle();
    }
    else if (phase == P_END && opened == 0) {
        report_echo();
    }
    return 0;
}
