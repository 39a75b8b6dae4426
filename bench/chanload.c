/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * chanload.c -- pub/sub load client for bench/channels: one thread, one
 * epoll set, many non-blocking connections, the same client for every
 * server under test.
 *
 *   chanload -p PORT -n SUBSCRIBERS -c CHANNELS -P PUBLISHERS ...
 *
 * Subscribers are WebSockets to <sub prefix><channel> (channel i % C for
 * subscriber i); publishers are HTTP/1.1 keep-alive connections that POST
 * S-byte text bodies to <pub prefix><channel>.  Every payload carries its
 * channel, its stream (one publisher's sequence on a channel), a sequence
 * number and the send time (CLOCK_MONOTONIC), so that each subscriber
 * counts lost, duplicated and reordered messages and the publish ->
 * deliver latency.
 *
 * A stream publishes at full speed with at most W messages not yet
 * delivered to every subscriber of its channel (-w), or, with -r, all
 * streams together publish R messages per second (round-robin).
 *
 * Phases: open every subscriber (READY), hold them idle (-I), warm up
 * (-W), measure (-t), stop publishing and drain.  With -S PID,... it
 * reads those server processes' RSS (before opening, after the hold)
 * and CPU time (utime + stime over the measured seconds) from /proc;
 * with -B PID,... the CPU time of a broker (Redis) the same way.
 *
 * With -q PORT2 there are two servers (sharing their channels through a
 * broker): the subscribers of every channel are split between them
 * (subscriber i goes to the second when i / C is odd) and so are the
 * publishers (the odd ones POST to the second).
 *
 * Build: cc -std=c99 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE \
 *           -o chanload chanload.c
 *
 * The last line on stdout is machine-readable: "RESULT key=value ...".
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
#define MSG_MAX 256          /* longest payload parsed (longer: counted) */
#define MAX_EVENTS 1024
#define MAX_REASONS 5        /* failure reasons printed per class */
#define MAX_PIDS 256
#define STALL_NS (3 * NS_PER_SEC) /* a stream that long without progress */

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void die(const char *msg)
{
    fprintf(stderr, "chanload: %s\n", msg);
    exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (p == NULL) {
        die("out of memory");
    }
    return p;
}

static struct hist lat_hist, pub_hist;

/* ------------------------------------------------------------------ */
/* Configuration and state                                             */

enum ctype { T_PUB, T_SUB };

enum cstate { C_UNUSED, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSED };

enum phase { P_OPENING, P_HOLD, P_WARMUP, P_MEASURE, P_DRAIN, P_END };

/* publisher response parser */
enum hstate { H_HEAD, H_BODY, H_CHUNK_SIZE, H_CHUNK_DATA, H_CHUNK_CRLF,
              H_TRAILER };

static struct {
    struct sockaddr_in server[2];
    char host[64];
    int port, port2;
    const char *sub_prefix, *pub_prefix, *chan_prefix, *label;
    int nsubs, nchannels, npubs;
    int window;               /* messages per stream not yet delivered */
    int depth;                /* requests in flight per publisher */
    double rate;              /* msgs/s over all streams (0: full speed) */
    size_t size;              /* payload bytes */
    int src_first, src_count;
    int open_window;          /* connects/handshakes in progress */
    int64_t hold_ns, warmup_ns, duration_ns, timeout_ns, drain_ns;
    pid_t pids[MAX_PIDS], bpids[MAX_PIDS];
    int npids, nbpids;
    int verbose;
} cfg;

struct stream {
    int channel;
    int local;                /* index among its channel's streams */
    int owner;                /* publisher connection */
    uint32_t next_seq;        /* next to publish */
    uint32_t done;            /* lowest not yet delivered to everyone */
    uint32_t *counts;         /* deliveries of done..done+window-1 */
    int64_t progress_at;
};

struct channel {
    char name[48];
    int nsubs_open;
    int nstreams;
    int *streams;
};

struct conn {
    int fd;
    unsigned char type;       /* enum ctype */
    unsigned char state;      /* enum cstate */
    unsigned char out_armed;
    unsigned char in_payload;
    unsigned char opcode, fin, msg_op;
    unsigned char hdr_len, ctl_len, close_sent, hstate;
    unsigned char hdr[14];
    unsigned char ctl[125];
    uint64_t payload_left;    /* frame payload (pub: body, chunk) left */
    uint32_t msg_len;
    unsigned char *msg;       /* sub: payload being gathered */
    char *hs;                 /* response head being gathered */
    size_t hs_len;
    char *accept;
    unsigned char *wbuf;
    size_t wlen, woff, wcap;
    int64_t deadline;
    int channel;              /* sub: its channel */
    int srv;                  /* 0: -p, 1: -q */
    uint32_t *next;           /* sub: next seq expected, per stream */
    int *owned;               /* pub: its streams */
    int nowned, rr;
    int outstanding;          /* pub: requests without an answer yet */
    unsigned req_head;
    int *req_stream;          /* pub: ring of depth: stream of a request */
    int64_t *req_sent;
    int status;               /* pub: status of the response being read */
    int64_t max_lat;          /* sub: its worst measured latency, ns */
};

static struct conn *conns;
static struct stream *streams;
static struct channel *channels;
static int nconns, nstreams;
static int epfd;
static int attempted, pending, subs_opened, pubs_opened;
static int fail_connect, fail_handshake, fail_timeout;
static int closed_by_server, closed_error, close_code;
static int reasons[3];
static long long deliveries, measured_deliveries, published, answered;
static long long measured_published;
static long long lost, dups, reordered, misrouted, bad_payload, bad_frames;
static long long stalls, pub_errors, rate_behind;
static enum phase phase;
static int64_t phase_end, measure_start, measure_end, rate_start;
static int64_t open_start, open_end; /* first connect, READY */
static long long rate_sent;
static int rate_rr;
static unsigned char *scratch;
static long long rss0, rss_idle, rss_end, cpu0, cpu1, bcpu0, bcpu1;
#define TL_SLOTS 600          /* -v: worst latency per 100 ms measured */
static int64_t timeline[TL_SLOTS];
static long long tl_count[TL_SLOTS];

/* ------------------------------------------------------------------ */
/* Server processes: RSS and CPU time from /proc                       */

static long long proc_rss_kib(void)
{
    long long sum = 0;
    int i;

    for (i = 0; i < cfg.npids; i++) {
        char path[64], line[256];
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)cfg.pids[i]);
        if ((f = fopen(path, "r")) == NULL) {
            continue;
        }
        while (fgets(line, sizeof(line), f)) {
            if (strncmp(line, "VmRSS:", 6) == 0) {
                sum += strtoll(line + 6, NULL, 10);
                break;
            }
        }
        fclose(f);
    }
    return sum;
}

/* utime + stime of the processes (all their threads), clock ticks */
static long long proc_cpu_ticks(const pid_t *pids, int npids)
{
    long long sum = 0;
    int i;

    for (i = 0; i < npids; i++) {
        char path[64], buf[1024], *p;
        FILE *f;
        size_t n;
        int field;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pids[i]);
        if ((f = fopen(path, "r")) == NULL) {
            continue;
        }
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* after the command's closing parenthesis: field 3 onwards */
        if ((p = strrchr(buf, ')')) == NULL) {
            continue;
        }
        p++;
        for (field = 3; field < 14 && p; field++) {
            p = strchr(p + 1, ' ');
        }
        if (p) {
            char *e;
            long long ut = strtoll(p + 1, &e, 10);
            long long st = strtoll(e, NULL, 10);
            sum += ut + st;
        }
    }
    return sum;
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */

static void note_reason(int cls, const char *what, const char *detail)
{
    if (reasons[cls]++ < MAX_REASONS) {
        fprintf(stderr, "chanload: %s: %s\n", what, detail);
    }
}

static void conn_close(struct conn *c, int cls, const char *detail)
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
        if (c->type == T_SUB) {
            channels[c->channel].nsubs_open--;
        }
        if (detail && strcmp(detail, "closed by server") == 0) {
            closed_by_server++;
            if (closed_by_server <= MAX_REASONS) {
                fprintf(stderr, "chanload: %s %d closed by the server "
                        "(close code %d)\n",
                        c->type == T_SUB ? "subscriber" : "publisher",
                        (int)(c - conns), close_code);
            }
        }
        else {
            closed_error++;
            note_reason(1, "connection lost", detail);
        }
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->state = C_CLOSED;
    free(c->hs);
    free(c->accept);
    free(c->wbuf);
    c->hs = c->accept = NULL;
    c->wbuf = NULL;
    c->wlen = c->woff = c->wcap = 0;
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
            conn_close(c, 1, strerror(errno));
            return -1;
        }
        c->woff += (size_t)n;
    }
    c->woff = c->wlen = 0;
    arm_out(c, 0);
    return 0;
}

static void queue_bytes(struct conn *c, const void *p, size_t len)
{
    memcpy(wbuf_reserve(c, len), p, len);
    c->wlen += len;
}

/* a masked client frame (RFC 6455 §5.3); control frames only here */
static void queue_frame(struct conn *c, unsigned op, const unsigned char *p,
                        size_t len)
{
    unsigned char *b = wbuf_reserve(c, len + 6);
    uint32_t k32 = (uint32_t)(rnd() >> 32);
    size_t i;

    b[0] = (unsigned char)(0x80 | op);
    b[1] = (unsigned char)(0x80 | len);
    memcpy(b + 2, &k32, 4);
    for (i = 0; i < len; i++) {
        b[6 + i] = p[i] ^ b[2 + (i & 3)];
    }
    c->wlen += len + 6;
}

/* ------------------------------------------------------------------ */
/* Publishing                                                          */

static int publishing(void)
{
    return phase == P_WARMUP || phase == P_MEASURE;
}

static void publish(struct conn *c, struct stream *s, int64_t now)
{
    char head[512], body[MSG_MAX + 1];
    int hn, bn;
    unsigned slot = (c->req_head + (unsigned)c->outstanding)
                    % (unsigned)cfg.depth;

    bn = snprintf(body, sizeof(body), "k=%d m=%d s=%u t=%lld ", s->channel,
                  s->local, s->next_seq, (long long)now);
    while ((size_t)bn < cfg.size) {
        body[bn++] = 'x';
    }
    hn = snprintf(head, sizeof(head),
                  "POST %s%s HTTP/1.1\r\nHost: %s:%d\r\n"
                  "Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n",
                  cfg.pub_prefix, channels[s->channel].name, cfg.host,
                  c->srv ? cfg.port2 : cfg.port, bn);
    queue_bytes(c, head, (size_t)hn);
    queue_bytes(c, body, (size_t)bn);
    if (s->done == s->next_seq) {
        s->progress_at = now;
    }
    s->next_seq++;
    c->req_stream[slot] = (int)(s - streams);
    c->req_sent[slot] = now;
    c->outstanding++;
    published++;
    if (phase == P_MEASURE) {
        measured_published++;
    }
}

static int window_open(const struct stream *s)
{
    return s->next_seq - s->done < (uint32_t)cfg.window;
}

/* full speed: as many requests as the depth and the windows allow */
static void pub_pump(struct conn *c, int64_t now)
{
    int queued = 0;

    if (c->state != C_OPEN || cfg.rate > 0 || !publishing()) {
        return;
    }
    while (c->outstanding < cfg.depth) {
        int i, found = -1;
        for (i = 0; i < c->nowned; i++) {
            int k = c->owned[(c->rr + i) % c->nowned];
            if (window_open(&streams[k])) {
                found = k;
                c->rr = (c->rr + i + 1) % c->nowned;
                break;
            }
        }
        if (found < 0) {
            break;
        }
        publish(c, &streams[found], now);
        queued = 1;
    }
    if (queued) {
        conn_flush(c);
    }
}

/* fixed rate: the messages due by now, round-robin over the streams */
static void rate_tick(int64_t now)
{
    long long due;

    if (cfg.rate <= 0 || !publishing()) {
        return;
    }
    due = (long long)((double)(now - rate_start) * cfg.rate / 1e9);
    while (rate_sent < due) {
        struct stream *s = &streams[rate_rr];
        struct conn *c = &conns[s->owner];
        rate_rr = (rate_rr + 1) % nstreams;
        rate_sent++;
        if (c->state != C_OPEN || c->outstanding >= cfg.depth
            || !window_open(s)) {
            rate_behind++; /* this slot is skipped */
            continue;
        }
        publish(c, s, now);
        conn_flush(c);
    }
}

static void response_done(struct conn *c, int64_t now)
{
    unsigned slot = c->req_head;

    if (c->outstanding == 0) {
        pub_errors++;
        note_reason(1, "publisher", "response without a request");
        return;
    }
    c->req_head = (c->req_head + 1) % (unsigned)cfg.depth;
    c->outstanding--;
    answered++;
    if (c->status < 200 || c->status > 299) {
        pub_errors++;
        if (pub_errors <= MAX_REASONS) {
            fprintf(stderr, "chanload: publish answered %d\n", c->status);
        }
    }
    hist_add(&pub_hist, (uint64_t)(now - c->req_sent[slot]) / 1000);
    pub_pump(c, now);
}

/* publisher responses: a head, then a body by Content-Length or chunked;
 * several may arrive in one read (pipelining) */
static int http_feed(struct conn *c, const unsigned char *p, size_t n,
                     int64_t now)
{
    while (n > 0 && c->state == C_OPEN) {
        switch (c->hstate) {
        case H_HEAD: {
            size_t take = n, used;
            char *end, *v;
            if (c->hs == NULL) {
                c->hs = xcalloc(1, HS_MAX + 1);
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
                    conn_close(c, 1, "response head too long");
                    return -1;
                }
                return 0;
            }
            used = (size_t)(end + 4 - c->hs) - (c->hs_len - take);
            p += used;
            n -= used;
            c->status = strncmp(c->hs, "HTTP/1.1 ", 9) == 0
                            ? atoi(c->hs + 9) : 0;
            if ((v = find_header(c->hs, "Transfer-Encoding"))
                && strncasecmp(v, "chunked", 7) == 0) {
                c->hstate = H_CHUNK_SIZE;
                c->hs_len = 0;
            }
            else {
                v = find_header(c->hs, "Content-Length");
                c->payload_left = v ? strtoull(v, NULL, 10) : 0;
                c->hstate = H_BODY;
                c->hs_len = 0;
                if (c->payload_left == 0) {
                    c->hstate = H_HEAD;
                    response_done(c, now);
                }
            }
            break;
        }
        case H_BODY:
        case H_CHUNK_DATA: {
            size_t take = c->payload_left < n ? (size_t)c->payload_left : n;
            c->payload_left -= take;
            p += take;
            n -= take;
            if (c->payload_left == 0) {
                if (c->hstate == H_BODY) {
                    c->hstate = H_HEAD;
                    response_done(c, now);
                }
                else {
                    c->hstate = H_CHUNK_CRLF;
                    c->payload_left = 2;
                }
            }
            break;
        }
        case H_CHUNK_CRLF:
            p++;
            n--;
            if (--c->payload_left == 0) {
                c->hstate = H_CHUNK_SIZE;
                c->hs_len = 0;
            }
            break;
        case H_CHUNK_SIZE:
        case H_TRAILER:
            /* a line, gathered in hs */
            if (c->hs_len < HS_MAX) {
                c->hs[c->hs_len++] = (char)*p;
            }
            p++;
            n--;
            if (c->hs_len >= 2 && c->hs[c->hs_len - 1] == '\n') {
                c->hs[c->hs_len] = '\0';
                if (c->hstate == H_TRAILER) {
                    if (c->hs_len == 2) {
                        c->hstate = H_HEAD;
                        c->hs_len = 0;
                        response_done(c, now);
                    }
                    c->hs_len = 0;
                }
                else {
                    c->payload_left = strtoull(c->hs, NULL, 16);
                    c->hs_len = 0;
                    c->hstate = c->payload_left ? H_CHUNK_DATA : H_TRAILER;
                }
            }
            break;
        }
    }
    return c->state == C_OPEN ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Deliveries                                                          */

static const char *num(const char *p, const char *key, long long *v)
{
    size_t kl = strlen(key);
    char *e;

    if (p == NULL || strncmp(p, key, kl) != 0) {
        return NULL;
    }
    *v = strtoll(p + kl, &e, 10);
    return e == p + kl ? NULL : e;
}

static void stream_progress(struct stream *s, int64_t now)
{
    int advanced = 0;
    int need = channels[s->channel].nsubs_open;

    while (s->done != s->next_seq
           && s->counts[s->done % (uint32_t)cfg.window] >= (uint32_t)need) {
        s->counts[s->done % (uint32_t)cfg.window] = 0;
        s->done++;
        advanced = 1;
    }
    if (advanced) {
        s->progress_at = now;
        pub_pump(&conns[s->owner], now);
    }
}

static void message_received(struct conn *c, int64_t now)
{
    long long k, m, seq, t;
    const char *p;
    struct stream *s;
    uint32_t *next;

    deliveries++;
    if (c->msg_len > MSG_MAX) {
        bad_payload++;
        return;
    }
    c->msg[c->msg_len < MSG_MAX ? c->msg_len : MSG_MAX - 1] = '\0';
    p = num((const char *)c->msg, "k=", &k);
    p = num(p ? p + 1 : NULL, "m=", &m);
    p = num(p ? p + 1 : NULL, "s=", &seq);
    p = num(p ? p + 1 : NULL, "t=", &t);
    if (p == NULL || k < 0 || k >= cfg.nchannels || m < 0
        || m >= channels[k].nstreams) {
        bad_payload++;
        return;
    }
    if (k != c->channel) {
        misrouted++;
        return;
    }
    s = &streams[channels[k].streams[m]];
    next = &c->next[m];
    if ((uint32_t)seq == *next) {
        (*next)++;
    }
    else if ((uint32_t)seq > *next) {
        reordered++;
        lost += (uint32_t)seq - *next; /* until it comes late */
        *next = (uint32_t)seq + 1;
    }
    else {
        dups++;
    }
    if (phase == P_MEASURE && now <= measure_end) {
        measured_deliveries++;
        hist_add(&lat_hist, (uint64_t)(now - t) / 1000);
        if (now - t > c->max_lat) {
            c->max_lat = now - t;
        }
        if ((now - measure_start) / (100 * NS_PER_MS) < TL_SLOTS) {
            int64_t slot = (now - measure_start) / (100 * NS_PER_MS);
            tl_count[slot]++;
            if (now - t > timeline[slot]) {
                timeline[slot] = now - t;
            }
        }
    }
    if ((uint32_t)seq >= s->done && (uint32_t)seq < s->next_seq) {
        s->counts[(uint32_t)seq % (uint32_t)cfg.window]++;
        if ((uint32_t)seq == s->done) {
            stream_progress(s, now);
        }
    }
}

static void frame_done(struct conn *c, int64_t now)
{
    switch (c->opcode) {
    case 0x0: case 0x1: case 0x2:
        if (c->fin) {
            message_received(c, now);
            c->msg_len = 0;
            c->msg_op = 0;
        }
        break;
    case 0x8:
        if (c->ctl_len >= 2) {
            close_code = c->ctl[0] << 8 | c->ctl[1];
        }
        if (!c->close_sent) {
            queue_frame(c, 0x8, c->ctl, c->ctl_len >= 2 ? 2 : 0);
            c->close_sent = 1;
            conn_flush(c);
        }
        if (c->state == C_OPEN) {
            conn_close(c, 1, "closed by server");
        }
        break;
    case 0x9:
        queue_frame(c, 0xA, c->ctl, c->ctl_len);
        break;
    default:
        break;
    }
}

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
                conn_close(c, 1, "protocol error in a server frame");
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
                if (c->msg_len < MSG_MAX) {
                    size_t room = MSG_MAX - c->msg_len;
                    memcpy(c->msg + c->msg_len, p, take < room ? take : room);
                }
                c->msg_len += (uint32_t)take;
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

/* ------------------------------------------------------------------ */
/* Opening                                                             */

static void conn_opened(struct conn *c)
{
    c->state = C_OPEN;
    pending--;
    if (c->type == T_SUB) {
        subs_opened++;
        channels[c->channel].nsubs_open++;
        c->msg = xcalloc(1, MSG_MAX + 1);
        c->next = xcalloc((size_t)channels[c->channel].nstreams,
                          sizeof(uint32_t));
    }
    else {
        pubs_opened++;
        c->hstate = H_HEAD;
        c->req_stream = xcalloc((size_t)cfg.depth, sizeof(int));
        c->req_sent = xcalloc((size_t)cfg.depth, sizeof(int64_t));
    }
}

static int handshake_feed(struct conn *c, const unsigned char *p, size_t n,
                          int64_t now)
{
    size_t take = n, used;
    char *end, *acc;

    if (c->hs == NULL) {
        c->hs = xcalloc(1, HS_MAX + 1);
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
            conn_close(c, 1, "response head too long");
            return -1;
        }
        return 0;
    }
    if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0) {
        c->hs[strcspn(c->hs, "\r")] = '\0';
        conn_close(c, 1, c->hs);
        return -1;
    }
    acc = find_header(c->hs, "Sec-WebSocket-Accept");
    if (acc == NULL || strncmp(acc, c->accept, 28) != 0) {
        conn_close(c, 1, "wrong or missing Sec-WebSocket-Accept");
        return -1;
    }
    used = (size_t)(end + 4 - c->hs) - (c->hs_len - take);
    free(c->hs);
    free(c->accept);
    c->hs = c->accept = NULL;
    conn_opened(c);
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
            conn_close(c, 1, "closed by server");
            return;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_close(c, 1, strerror(errno));
                return;
            }
            break;
        }
        now = now_ns();
        if (c->type == T_PUB) {
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
        if ((size_t)n < SCRATCH_SIZE || ++rounds >= 8) {
            break;
        }
    }
    if (c->wlen > c->woff) {
        conn_flush(c);
    }
}

static void conn_start(int i, int64_t now)
{
    struct conn *c = &conns[i];
    struct epoll_event ev;
    int one = 1, fd;

    c->fd = -1;
    attempted++;
    pending++;
    c->state = C_CONNECTING;
    c->deadline = now + cfg.timeout_ns;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn_close(c, 0, strerror(errno));
        return;
    }
    c->fd = fd;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (cfg.src_count > 0) {
        struct sockaddr_in src;
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        src.sin_addr.s_addr =
            htonl(0x7F000000u | (uint32_t)(cfg.src_first + i % cfg.src_count));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            conn_close(c, 0, strerror(errno));
            return;
        }
    }
    if (connect(fd, (struct sockaddr *)&cfg.server[c->srv],
                sizeof(cfg.server[0])) < 0
        && errno != EINPROGRESS) {
        conn_close(c, 0, strerror(errno));
        return;
    }
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.u32 = (uint32_t)i;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        conn_close(c, 0, strerror(errno));
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
        conn_close(c, 0, strerror(err));
        return;
    }
    c->state = C_HANDSHAKE;
    c->deadline = now + cfg.timeout_ns;
    if (c->type == T_PUB) {
        conn_opened(c);
        arm_out(c, 0);
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
        c->accept = xcalloc(1, 29);
        base64(digest, 20, c->accept);
        n = snprintf(req, sizeof(req),
                     "GET %s%s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "\r\n",
                     cfg.sub_prefix, channels[c->channel].name, cfg.host,
                     c->srv ? cfg.port2 : cfg.port, key);
        queue_bytes(c, req, (size_t)n);
        conn_flush(c);
    }
}

/* ------------------------------------------------------------------ */
/* Phases                                                              */

static void sweep(int64_t now)
{
    int i;

    for (i = 0; i < attempted; i++) {
        struct conn *c = &conns[i];
        if ((c->state == C_CONNECTING || c->state == C_HANDSHAKE)
            && now > c->deadline) {
            conn_close(c, 2, c->state == C_CONNECTING ? "connect"
                                                      : "handshake");
        }
    }
    /* a message some subscriber never got stalls its stream's window:
     * counted, and the window moves on */
    for (i = 0; i < nstreams; i++) {
        struct stream *s = &streams[i];
        if (s->done != s->next_seq && now - s->progress_at > STALL_NS) {
            stalls++;
            memset(s->counts, 0, sizeof(uint32_t) * (size_t)cfg.window);
            s->done = s->next_seq;
            s->progress_at = now;
            pub_pump(&conns[s->owner], now);
        }
    }
}

static int all_delivered(void)
{
    int i;

    for (i = 0; i < nstreams; i++) {
        if (streams[i].done != streams[i].next_seq) {
            return 0;
        }
    }
    for (i = 0; i < cfg.npubs; i++) {
        if (conns[i].state == C_OPEN && conns[i].outstanding > 0) {
            return 0;
        }
    }
    return 1;
}

static void start_publishing(int64_t now)
{
    int i;

    rate_start = now;
    for (i = 0; i < cfg.npubs; i++) {
        pub_pump(&conns[i], now);
    }
}

static void advance(int64_t now)
{
    switch (phase) {
    case P_OPENING:
        if (attempted == nconns && pending == 0) {
            open_end = now;
            printf("READY subscribers=%d publishers=%d\n", subs_opened,
                   pubs_opened);
            fflush(stdout);
            phase = P_HOLD;
            phase_end = now + cfg.hold_ns;
        }
        break;
    case P_HOLD:
        if (now >= phase_end) {
            rss_idle = proc_rss_kib();
            phase = P_WARMUP;
            phase_end = now + cfg.warmup_ns;
            start_publishing(now);
        }
        break;
    case P_WARMUP:
        if (now >= phase_end) {
            phase = P_MEASURE;
            measure_start = now;
            measure_end = now + cfg.duration_ns;
            phase_end = measure_end;
            cpu0 = proc_cpu_ticks(cfg.pids, cfg.npids);
            bcpu0 = proc_cpu_ticks(cfg.bpids, cfg.nbpids);
        }
        break;
    case P_MEASURE:
        if (now >= phase_end) {
            cpu1 = proc_cpu_ticks(cfg.pids, cfg.npids);
            bcpu1 = proc_cpu_ticks(cfg.bpids, cfg.nbpids);
            phase = P_DRAIN;
            phase_end = now + cfg.drain_ns;
        }
        break;
    case P_DRAIN:
        if (all_delivered() || now >= phase_end) {
            phase = P_END;
        }
        break;
    case P_END:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Setup and the report                                                */

static void usage(void)
{
    fprintf(stderr,
"usage: chanload -p PORT [options]\n"
"  -h ADDR      server address [127.0.0.1]\n"
"  -q PORT2     a second server (same address): half of every channel's\n"
"               subscribers and the odd publishers connect to it\n"
"  -n N         subscribers [1000]\n"
"  -c C         channels; subscriber i joins channel i %% C [1]\n"
"  -P P         publisher connections (HTTP/1.1 keep-alive) [1]\n"
"  -d D         requests in flight per publisher (pipelined) [1]\n"
"  -w W         full speed: messages per stream not yet delivered to\n"
"               every subscriber of its channel [4]\n"
"  -r R         fixed rate instead: R messages/s over all streams\n"
"  -s S         payload bytes (>= 64) [100]\n"
"  -u PREFIX    subscriber path prefix [/sub/]\n"
"  -U PREFIX    publisher path prefix [/pub/]\n"
"  -x PREFIX    channel name prefix [c]\n"
"  -I SECS      hold the subscribers idle before publishing [2]\n"
"  -W SECS      warm-up [1]   -t SECS  measured [5]\n"
"  -T SECS      connect/handshake timeout [10]\n"
"  -D SECS      drain at most [8]\n"
"  -o N         connects/handshakes in progress at most [256]\n"
"  -a F:C       bind to 127.0.0.F .. 127.0.0.(F+C-1), round-robin\n"
"  -S PID,...   server processes: RSS and CPU time from /proc\n"
"  -B PID,...   broker processes (Redis): CPU time from /proc\n"
"  -l LABEL     label of the RESULT line\n"
"  -v           report how the subscribers' worst latencies spread\n");
    exit(2);
}

static void setup(void)
{
    int i, j;

    nstreams = cfg.nchannels >= cfg.npubs ? cfg.nchannels : cfg.npubs;
    channels = xcalloc((size_t)cfg.nchannels, sizeof(*channels));
    streams = xcalloc((size_t)nstreams, sizeof(*streams));
    for (i = 0; i < cfg.nchannels; i++) {
        snprintf(channels[i].name, sizeof(channels[i].name), "%s%d",
                 cfg.chan_prefix, i);
        channels[i].streams = xcalloc((size_t)nstreams, sizeof(int));
    }
    for (i = 0; i < nstreams; i++) {
        struct stream *s = &streams[i];
        struct channel *ch;
        s->channel = i % cfg.nchannels;
        s->owner = i % cfg.npubs;
        ch = &channels[s->channel];
        s->local = ch->nstreams;
        ch->streams[ch->nstreams++] = i;
        s->counts = xcalloc((size_t)cfg.window, sizeof(uint32_t));
    }
    nconns = cfg.npubs + cfg.nsubs;
    conns = xcalloc((size_t)nconns, sizeof(*conns));
    for (i = 0; i < cfg.npubs; i++) {
        struct conn *c = &conns[i];
        c->type = T_PUB;
        c->fd = -1;
        c->srv = cfg.port2 > 0 && i % 2;
        c->owned = xcalloc((size_t)nstreams, sizeof(int));
        for (j = i; j < nstreams; j += cfg.npubs) {
            c->owned[c->nowned++] = j;
        }
    }
    for (i = 0; i < cfg.nsubs; i++) {
        struct conn *c = &conns[cfg.npubs + i];
        c->type = T_SUB;
        c->fd = -1;
        c->channel = i % cfg.nchannels;
        /* every channel's subscribers alternate between the servers */
        c->srv = cfg.port2 > 0 && (i / cfg.nchannels) % 2;
    }
}

static void final_count(void)
{
    int i, m;

    /* what each subscriber never got of what was published */
    for (i = cfg.npubs; i < nconns; i++) {
        struct conn *c = &conns[i];
        struct channel *ch;
        if (c->next == NULL) {
            continue; /* never opened */
        }
        ch = &channels[c->channel];
        for (m = 0; m < ch->nstreams; m++) {
            struct stream *s = &streams[ch->streams[m]];
            if (s->next_seq > c->next[m]) {
                lost += s->next_seq - c->next[m];
            }
        }
    }
}

/* -v: how the subscribers' worst latencies spread, and the slowest few
 * (their local port identifies the server process holding them) */
static void report_slowest(void)
{
    static const int64_t lim_ms[] = { 1, 5, 20, 100, 300, 1000, -1 };
    int counts[7] = { 0 }, i, b, shown = 0;
    int64_t worst = 0;

    for (i = cfg.npubs; i < nconns; i++) {
        int64_t ms = conns[i].max_lat / NS_PER_MS;
        for (b = 0; lim_ms[b] >= 0 && ms >= lim_ms[b]; b++) {
        }
        counts[b]++;
        if (conns[i].max_lat > worst) {
            worst = conns[i].max_lat;
        }
    }
    fprintf(stderr, "chanload: subscribers by worst latency: <1ms %d, "
            "<5ms %d, <20ms %d, <100ms %d, <300ms %d, <1s %d, more %d\n",
            counts[0], counts[1], counts[2], counts[3], counts[4],
            counts[5], counts[6]);
    fprintf(stderr, "chanload: per 100 ms measured, deliveries/worst ms:");
    for (i = 0; i < TL_SLOTS && (int64_t)i * 100 * NS_PER_MS
                                    < cfg.duration_ns; i++) {
        fprintf(stderr, " %lld/%lld", tl_count[i],
                (long long)(timeline[i] / NS_PER_MS));
    }
    fprintf(stderr, "\n");
    for (i = cfg.npubs; i < nconns && shown < 10; i++) {
        struct conn *c = &conns[i];
        struct sockaddr_in a;
        socklen_t al = sizeof(a);
        if (c->max_lat * 2 < worst || c->fd < 0
            || getsockname(c->fd, (struct sockaddr *)&a, &al) < 0) {
            continue;
        }
        fprintf(stderr, "chanload: slow subscriber %d channel %s port %d "
                "worst %lld ms\n", i - cfg.npubs, channels[c->channel].name,
                ntohs(a.sin_port), (long long)(c->max_lat / NS_PER_MS));
        shown++;
    }
}

static void parse_pids(char *p, pid_t *pids, int *n)
{
    while (*p && *n < MAX_PIDS) {
        pids[(*n)++] = (pid_t)strtol(p, &p, 10);
        while (*p == ',' || *p == ' ') {
            p++;
        }
    }
}

static double secs_of(int64_t ns)
{
    return (double)ns / 1e9;
}

int main(int argc, char **argv)
{
    struct epoll_event *evs;
    struct rusage ru;
    int opt, i;
    int64_t now, last_sweep = 0;
    double secs, hz = (double)sysconf(_SC_CLK_TCK);

    cfg.port = 0;
    snprintf(cfg.host, sizeof(cfg.host), "127.0.0.1");
    cfg.nsubs = 1000;
    cfg.nchannels = 1;
    cfg.npubs = 1;
    cfg.depth = 1;
    cfg.window = 4;
    cfg.size = 100;
    cfg.sub_prefix = "/sub/";
    cfg.pub_prefix = "/pub/";
    cfg.chan_prefix = "c";
    cfg.label = "chan";
    cfg.open_window = 256;
    cfg.hold_ns = 2 * NS_PER_SEC;
    cfg.warmup_ns = 1 * NS_PER_SEC;
    cfg.duration_ns = 5 * NS_PER_SEC;
    cfg.timeout_ns = 10 * NS_PER_SEC;
    cfg.drain_ns = 8 * NS_PER_SEC;
    while ((opt = getopt(argc, argv, "p:h:n:c:P:d:w:r:s:u:U:x:I:W:t:T:D:o:a:"
                                     "S:B:q:l:v")) != -1) {
        switch (opt) {
        case 'p': cfg.port = atoi(optarg); break;
        case 'h': snprintf(cfg.host, sizeof(cfg.host), "%s", optarg); break;
        case 'q': cfg.port2 = atoi(optarg); break;
        case 'n': cfg.nsubs = atoi(optarg); break;
        case 'c': cfg.nchannels = atoi(optarg); break;
        case 'P': cfg.npubs = atoi(optarg); break;
        case 'd': cfg.depth = atoi(optarg); break;
        case 'w': cfg.window = atoi(optarg); break;
        case 'r': cfg.rate = atof(optarg); break;
        case 's': cfg.size = (size_t)atol(optarg); break;
        case 'u': cfg.sub_prefix = optarg; break;
        case 'U': cfg.pub_prefix = optarg; break;
        case 'x': cfg.chan_prefix = optarg; break;
        case 'I': cfg.hold_ns = (int64_t)(atof(optarg) * 1e9); break;
        case 'W': cfg.warmup_ns = (int64_t)(atof(optarg) * 1e9); break;
        case 't': cfg.duration_ns = (int64_t)(atof(optarg) * 1e9); break;
        case 'T': cfg.timeout_ns = (int64_t)(atof(optarg) * 1e9); break;
        case 'D': cfg.drain_ns = (int64_t)(atof(optarg) * 1e9); break;
        case 'o': cfg.open_window = atoi(optarg); break;
        case 'a':
            if (sscanf(optarg, "%d:%d", &cfg.src_first, &cfg.src_count) != 2)
                usage();
            break;
        case 'S':
            parse_pids(optarg, cfg.pids, &cfg.npids);
            break;
        case 'B':
            parse_pids(optarg, cfg.bpids, &cfg.nbpids);
            break;
        case 'l': cfg.label = optarg; break;
        case 'v': cfg.verbose = 1; break;
        default: usage();
        }
    }
    if (cfg.port <= 0 || cfg.nsubs < 1 || cfg.nchannels < 1
        || cfg.npubs < 1 || cfg.depth < 1 || cfg.window < 1
        || cfg.size < 64 || cfg.size > MSG_MAX
        || cfg.duration_ns <= 0) {
        usage();
    }
    memset(&cfg.server, 0, sizeof(cfg.server));
    cfg.server[0].sin_family = AF_INET;
    cfg.server[0].sin_port = htons((uint16_t)cfg.port);
    if (inet_pton(AF_INET, cfg.host, &cfg.server[0].sin_addr) != 1) {
        die("bad address");
    }
    cfg.server[1] = cfg.server[0];
    cfg.server[1].sin_port = htons((uint16_t)cfg.port2);
    signal(SIGPIPE, SIG_IGN);
    rng_state = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9E37;
    scratch = xcalloc(1, SCRATCH_SIZE);
    evs = xcalloc(MAX_EVENTS, sizeof(*evs));
    setup();
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        die("epoll_create1");
    }
    rss0 = proc_rss_kib();
    phase = P_OPENING;
    open_start = now_ns();

    while (phase != P_END) {
        int n, timeout = cfg.rate > 0 && publishing() ? 1 : 20;

        /* publishers first, then the subscribers, a window at a time */
        now = now_ns();
        while (attempted < nconns && pending < cfg.open_window) {
            conn_start(attempted, now);
        }
        n = epoll_wait(epfd, evs, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
        for (i = 0; i < n; i++) {
            struct conn *c = &conns[evs[i].data.u32];
            if (c->state == C_CLOSED || c->fd < 0) {
                continue;
            }
            if (c->state == C_CONNECTING) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
                    connect_done(c, now_ns());
                }
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP
                                 | EPOLLERR)) {
                conn_readable(c);
            }
            if (c->state != C_CLOSED && c->fd >= 0
                && (evs[i].events & EPOLLOUT)) {
                conn_flush(c);
            }
        }
        now = now_ns();
        rate_tick(now);
        if (now - last_sweep > 100 * NS_PER_MS) {
            last_sweep = now;
            sweep(now);
        }
        advance(now);
    }
    rss_end = proc_rss_kib();
    final_count();
    if (cfg.verbose) {
        report_slowest();
    }
    getrusage(RUSAGE_SELF, &ru);
    secs = secs_of(cfg.duration_ns);
    printf("RESULT label=%s subscribers=%d opened=%d channels=%d "
           "publishers=%d window=%d depth=%d rate=%g size=%zu secs=%.3f "
           "deliveries=%lld deliveries_per_s=%.0f published=%lld "
           "publishes_per_s=%.0f lat_p50_us=%llu lat_p99_us=%llu "
           "lat_p999_us=%llu pub_p50_us=%llu pub_p99_us=%llu lost=%lld "
           "dup=%lld reordered=%lld misrouted=%lld bad_payload=%lld "
           "bad_frames=%lld stalls=%lld pub_errors=%lld rate_behind=%lld "
           "closed_by_server=%d close_code=%d closed_error=%d "
           "fail_connect=%d fail_handshake=%d fail_timeout=%d "
           "total_deliveries=%lld total_published=%lld rss0_kib=%lld "
           "rss_idle_kib=%lld rss_end_kib=%lld kib_per_sub=%.1f "
           "cpu_s=%.2f cpu_s_per_M=%.2f broker_cpu_s=%.2f "
           "broker_cpu_s_per_M=%.2f servers=%d open_s=%.2f "
           "client_cpu_s=%.2f\n",
           cfg.label, cfg.nsubs, subs_opened, cfg.nchannels, cfg.npubs,
           cfg.window, cfg.depth, cfg.rate, cfg.size, secs,
           measured_deliveries, (double)measured_deliveries / secs,
           measured_published, (double)measured_published / secs,
           (unsigned long long)hist_quantile(&lat_hist, 0.50),
           (unsigned long long)hist_quantile(&lat_hist, 0.99),
           (unsigned long long)hist_quantile(&lat_hist, 0.999),
           (unsigned long long)hist_quantile(&pub_hist, 0.50),
           (unsigned long long)hist_quantile(&pub_hist, 0.99), lost, dups,
           reordered, misrouted, bad_payload, bad_frames, stalls,
           pub_errors, rate_behind, closed_by_server, close_code,
           closed_error, fail_connect, fail_handshake, fail_timeout,
           deliveries, published, rss0, rss_idle, rss_end,
           subs_opened > 0 ? (double)(rss_idle - rss0) / subs_opened : 0.0,
           (double)(cpu1 - cpu0) / hz,
           measured_deliveries > 0
               ? (double)(cpu1 - cpu0) / hz * 1e6
                     / (double)measured_deliveries
               : 0.0,
           (double)(bcpu1 - bcpu0) / hz,
           measured_deliveries > 0
               ? (double)(bcpu1 - bcpu0) / hz * 1e6
                     / (double)measured_deliveries
               : 0.0,
           cfg.port2 > 0 ? 2 : 1, secs_of(open_end - open_start),
           secs_of((int64_t)ru.ru_utime.tv_sec * NS_PER_SEC
                   + (int64_t)ru.ru_utime.tv_usec * 1000
                   + (int64_t)ru.ru_stime.tv_sec * NS_PER_SEC
                   + (int64_t)ru.ru_stime.tv_usec * 1000));
    return 0;
}
