/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * tcpecho.c -- raw TCP echo server, the baseline of the echo benchmark
 * (bench/run): what a minimal epoll server does with the same client
 * traffic, without httpd and without WebSocket framing.
 *
 *   tcpecho [-h ADDR] [-p PORT] [-t THREADS]
 *
 * Each thread has its own SO_REUSEPORT listener and its own epoll set
 * (the kernel spreads connections over them); -t 0 means one thread per
 * online core.  Level-triggered: one read per wake-up, written straight
 * back; a short write parks the rest and stops reading until it drains,
 * so a slow client cannot make the server buffer without bound.
 *
 * Build: cc -std=c99 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE -pthread \
 *           -o tcpecho tcpecho.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)
#define MAX_EVENTS 256

struct pending {        /* bytes read but not yet written back */
    char *buf;
    size_t len, off;
};

static struct sockaddr_in addr;
static int nfds_max;

static int make_listener(void)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0
        || listen(fd, 4096) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void set_events(int ep, int fd, uint32_t events)
{
    struct epoll_event ev;

    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void drop(struct pending *p, int fd)
{
    free(p[fd].buf);
    p[fd].buf = NULL;
    p[fd].len = p[fd].off = 0;
    close(fd);
}

/* Writes p's parked bytes; 1 when all are out, 0 on EAGAIN, -1 error. */
static int drain(struct pending *p, int fd)
{
    while (p->off < p->len) {
        ssize_t n = write(fd, p->buf + p->off, p->len - p->off);
        if (n < 0) {
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        }
        p->off += (size_t)n;
    }
    free(p->buf);
    p->buf = NULL;
    p->len = p->off = 0;
    return 1;
}

static void *serve(void *arg)
{
    struct epoll_event ev, events[MAX_EVENTS];
    struct pending *pend = calloc((size_t)nfds_max, sizeof(*pend));
    char *buf = malloc(BUF_SIZE);
    int lfd = make_listener(), ep = epoll_create1(0);

    (void)arg;
    if (lfd < 0 || ep < 0 || pend == NULL || buf == NULL) {
        perror("tcpecho: listener");
        exit(1);
    }
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1), i;

        for (i = 0; i < n; i++) {
            int fd = events[i].data.fd;

            if (fd == lfd) {
                int c, one = 1;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= nfds_max) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one,
                               sizeof(one));
                    ev.events = EPOLLIN;
                    ev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            if (pend[fd].buf) { /* writable again: finish, then read */
                int rv = drain(&pend[fd], fd);
                if (rv < 0) {
                    drop(pend, fd);
                }
                else if (rv > 0) {
                    set_events(ep, fd, EPOLLIN);
                }
                continue;
            }
            {
                ssize_t r = read(fd, buf, BUF_SIZE), w;
                if (r <= 0) {
                    if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                        drop(pend, fd);
                    }
                    continue;
                }
                w = write(fd, buf, (size_t)r);
                if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                    drop(pend, fd);
                    continue;
                }
                if (w < r) {
                    size_t done = w > 0 ? (size_t)w : 0;
                    pend[fd].len = (size_t)r - done;
                    pend[fd].off = 0;
                    pend[fd].buf = malloc(pend[fd].len);
                    if (pend[fd].buf == NULL) {
                        drop(pend, fd);
                        continue;
                    }
                    memcpy(pend[fd].buf, buf + done, pend[fd].len);
                    set_events(ep, fd, EPOLLOUT);
                }
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 9090, threads = 1, opt, i;
    struct rlimit rl;
    pthread_t tid;

    while ((opt = getopt(argc, argv, "h:p:t:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        default:
            fputs("usage: tcpecho [-h ADDR] [-p PORT] [-t THREADS|0]\n",
                  stderr);
            return 2;
        }
    }
    if (threads <= 0) {
        threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    }
    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    nfds_max = (int)rl.rlim_cur;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fputs("tcpecho: -h wants an IPv4 address\n", stderr);
        return 2;
    }
    for (i = 1; i < threads; i++) {
        pthread_create(&tid, NULL, serve, NULL);
    }
    serve(NULL);
    return 0;
}
