/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* np-prober: steady TCP probing for tests/e2e/hitless.sh.
 *
 * Usage:
 *   np-prober serve PORT
 *       An echo server on PORT (all addresses): every byte it reads goes
 *       back.  One process, poll(), no fork per connection.
 *   np-prober probe [OPTIONS] IP PORT
 *       Probes IP:PORT until SIGTERM or SIGINT (or --duration), printing
 *       one line per event on stdout (or --out), line-buffered:
 *         T new ok MS          a new connection was made and echoed a line
 *                              within --timeout (MS: how long it took)
 *         T new fail WHY       it was not (WHY: timeout, refused, reset...)
 *         T new through WHY    (--deny) a connection got an answer: made,
 *                              or refused by the peer (a RST came back)
 *         T new blocked        (--deny) no answer within --timeout
 *         T long up            (--long) the long-lived connection is up
 *         T long gap MS        an echo on it came back MS ms after the line
 *                              was sent, MS >= --gap
 *         T long broken WHY    it failed (error, EOF, or a line unanswered
 *                              for --stall ms); a new one is made
 *       T is when the attempt (or event) started, in ms since the epoch
 *       (CLOCK_REALTIME), so that a test can match it with its own clock.
 *
 * Probe options:
 *   --interval=MS   a new connection every MS ms; the long-lived connection
 *                   sends a line every MS ms too (default 50)
 *   --timeout=MS    a new connection's time to connect and echo (1000)
 *   --deny          the pair is denied: report what gets through
 *   --long          keep one long-lived connection (not with --deny)
 *   --stall=MS      long-lived: a line unanswered this long breaks it
 *                   (default 10000)
 *   --gap=MS        long-lived: report echoes slower than this (200)
 *   --duration=S    stop after S seconds
 *   --out=FILE      write events to FILE instead of stdout
 *
 * It uses nothing but libc, like the other test helpers. */

#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ATTEMPTS 256        /* New connections in flight. */
#define MAX_SERVER_CONNS 1024
#define LONG_RING 4096          /* Lines in flight on the long connection. */

static volatile sig_atomic_t stop;
static FILE *out;

static void
on_signal(int sig)
{
    (void) sig;
    stop = 1;
}

static void
fatal(const char *format, ...)
{
    va_list args;

    va_start(args, format);
    fprintf(stderr, "np-prober: ");
    vfprintf(stderr, format, args);
    va_end(args);
    if (errno) {
        fprintf(stderr, " (%s)", strerror(errno));
    }
    fputc('\n', stderr);
    exit(EXIT_FAILURE);
}

static long long int
mono_msec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static long long int
wall_msec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The wall clock time of 't', a mono_msec() value. */
static long long int
mono_to_wall(long long int t)
{
    return wall_msec() - (mono_msec() - t);
}

static void
set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        fatal("fcntl");
    }
}

static void
event(long long int t, const char *format, ...)
{
    va_list args;

    fprintf(out, "%lld ", t);
    va_start(args, format);
    vfprintf(out, format, args);
    va_end(args);
    fputc('\n', out);
    fflush(out);
}

static const char *
errno_name(int error)
{
    switch (error) {
    case ECONNREFUSED: return "refused";
    case ECONNRESET: return "reset";
    case ETIMEDOUT: return "timeout";
    case EHOSTUNREACH: return "host-unreachable";
    case ENETUNREACH: return "net-unreachable";
    case EPIPE: return "pipe";
    default: return "error";
    }
}

/* ---- serve ---- */

static int
serve(int port)
{
    struct pollfd pfds[MAX_SERVER_CONNS + 1];
    int n = 1;

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    if (lfd < 0
        || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0) {
        fatal("socket");
    }
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_ANY),
    };
    if (bind(lfd, (struct sockaddr *) &sin, sizeof sin) < 0
        || listen(lfd, 512) < 0) {
        fatal("cannot listen on port %d", port);
    }
    set_nonblock(lfd);
    pfds[0] = (struct pollfd) { .fd = lfd, .events = POLLIN };

    while (!stop) {
        if (poll(pfds, n, 1000) < 0) {
            if (errno == EINTR) {
                continue;
            }
            fatal("poll");
        }
        if (pfds[0].revents & POLLIN) {
            for (;;) {
                int fd = accept(lfd, NULL, NULL);
                if (fd < 0) {
                    break;
                }
                if (n > MAX_SERVER_CONNS) {
                    close(fd);
                    continue;
                }
                set_nonblock(fd);
                pfds[n++] = (struct pollfd) { .fd = fd, .events = POLLIN };
            }
        }
        for (int i = 1; i < n; i++) {
            if (!pfds[i].revents) {
                continue;
            }
            char buf[4096];
            ssize_t r = read(pfds[i].fd, buf, sizeof buf);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                continue;
            }
            if (r > 0 && write(pfds[i].fd, buf, r) == r) {
                continue;
            }
            /* EOF, an error, or a peer that does not read: done. */
            close(pfds[i].fd);
            pfds[i--] = pfds[--n];
        }
    }
    return 0;
}

/* ---- probe ---- */

struct options {
    struct sockaddr_in dst;
    int interval;
    int timeout;
    bool deny;
    bool long_lived;
    int stall;
    int gap;
    int duration;
};

/* A new connection in flight. */
struct attempt {
    int fd;
    long long int start;        /* mono_msec(). */
    long long int wall;         /* wall_msec() at start. */
    bool connected;
    size_t got;                 /* Bytes of the echo received. */
};

static const char probe_line[] = "probe\n";

/* Starts a non-blocking connection to 'o->dst'.  Returns the fd, or -1 with
 * errno set if it failed at once. */
static int
start_connect(const struct options *o)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        fatal("socket");
    }
    /* No SYN retransmission inside one attempt's timeout matters: each
     * attempt is one try, and the next one comes --interval later. */
    if (connect(fd, (const struct sockaddr *) &o->dst, sizeof o->dst) < 0
        && errno != EINPROGRESS) {
        int error = errno;
        close(fd);
        errno = error;
        return -1;
    }
    return fd;
}

static int
socket_error(int fd)
{
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0) {
        return errno;
    }
    return error;
}

/* Reports the end of 'a' and closes it. */
static void
attempt_done(const struct options *o, struct attempt *a, int error,
             long long int now)
{
    if (o->deny) {
        /* Any answer from the peer, even a RST, means the SYN got there. */
        if (a->connected || error == ECONNREFUSED || error == ECONNRESET) {
            event(a->wall, "new through %s",
                  a->connected ? "connected" : errno_name(error));
        } else {
            event(a->wall, "new blocked");
        }
    } else if (!error) {
        event(a->wall, "new ok %lld", now - a->start);
    } else {
        event(a->wall, "new fail %s%s", errno_name(error),
              a->connected ? "-after-connect" : "");
    }
    if (a->fd >= 0) {
        close(a->fd);
    }
    a->fd = -1;
}

/* Handles poll events on 'a'. */
static void
attempt_run(const struct options *o, struct attempt *a, short revents,
            long long int now)
{
    if (!a->connected) {
        if (!(revents & (POLLOUT | POLLERR | POLLHUP))) {
            return;
        }
        int error = socket_error(a->fd);
        if (error) {
            attempt_done(o, a, error, now);
            return;
        }
        a->connected = true;
        if (o->deny) {
            attempt_done(o, a, 0, now);
            return;
        }
        if (write(a->fd, probe_line, sizeof probe_line - 1)
            != sizeof probe_line - 1) {
            attempt_done(o, a, errno ? errno : EPIPE, now);
        }
        return;
    }

    if (revents & (POLLIN | POLLERR | POLLHUP)) {
        char buf[64];
        ssize_t r = read(a->fd, buf, sizeof buf);
        if (r > 0) {
            a->got += r;
            if (a->got >= sizeof probe_line - 1) {
                attempt_done(o, a, 0, now);
            }
        } else if (r == 0) {
            attempt_done(o, a, ECONNRESET, now);
        } else if (errno != EAGAIN && errno != EINTR) {
            attempt_done(o, a, errno, now);
        }
    }
}

/* The long-lived connection. */
struct long_conn {
    int fd;                     /* -1 if none. */
    bool connected;
    long long int start;        /* When the connect began (mono). */
    long long int next_send;
    uint64_t n_sent, n_echoed;
    long long int sent_at[LONG_RING];   /* mono_msec() of each line. */
};

static void
long_close(struct long_conn *lc, const char *why, long long int now)
{
    if (why) {
        event(mono_to_wall(now), "long broken %s", why);
    }
    if (lc->fd >= 0) {
        close(lc->fd);
    }
    lc->fd = -1;
    lc->connected = false;
}

static void
long_start(const struct options *o, struct long_conn *lc, long long int now)
{
    lc->fd = start_connect(o);
    lc->connected = false;
    lc->start = now;
    lc->n_sent = lc->n_echoed = 0;
    lc->next_send = now;
}

static void
long_run(const struct options *o, struct long_conn *lc, short revents,
         long long int now)
{
    if (lc->fd < 0) {
        return;
    }
    if (!lc->connected) {
        if (revents & (POLLOUT | POLLERR | POLLHUP)) {
            int error = socket_error(lc->fd);
            if (error) {
                /* Not up yet: not "broken", it never was.  Retry. */
                close(lc->fd);
                lc->fd = -1;
                return;
            }
            lc->connected = true;
            int on = 1;
            setsockopt(lc->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
            event(wall_msec(), "long up");
        } else if (now - lc->start > o->timeout) {
            close(lc->fd);
            lc->fd = -1;
        }
        return;
    }

    if (revents & (POLLIN | POLLERR | POLLHUP)) {
        char buf[4096];
        ssize_t r = read(lc->fd, buf, sizeof buf);
        if (r == 0) {
            long_close(lc, "eof", now);
            return;
        } else if (r < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                long_close(lc, errno_name(errno), now);
                return;
            }
        } else {
            for (ssize_t i = 0; i < r; i++) {
                if (buf[i] == '\n' && lc->n_echoed < lc->n_sent) {
                    long long int lat
                        = now - lc->sent_at[lc->n_echoed % LONG_RING];
                    if (lat >= o->gap) {
                        event(mono_to_wall(now - lat), "long gap %lld",
                              lat);
                    }
                    lc->n_echoed++;
                }
            }
        }
    }

    if (lc->n_echoed < lc->n_sent
        && now - lc->sent_at[lc->n_echoed % LONG_RING] > o->stall) {
        long_close(lc, "stalled", lc->sent_at[lc->n_echoed % LONG_RING]);
        return;
    }

    if (now >= lc->next_send && lc->n_sent - lc->n_echoed < LONG_RING) {
        char line[32];
        int len = snprintf(line, sizeof line, "%llu\n",
                           (unsigned long long) lc->n_sent);
        ssize_t w = write(lc->fd, line, len);
        if (w == len) {
            lc->sent_at[lc->n_sent % LONG_RING] = now;
            lc->n_sent++;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            long_close(lc, errno_name(errno), now);
            return;
        }
        lc->next_send = now + o->interval;
    }
}

static int
probe(const struct options *o)
{
    struct attempt attempts[MAX_ATTEMPTS];
    int n_attempts = 0;
    struct long_conn *lc = calloc(1, sizeof *lc);
    long long int now = mono_msec();
    long long int next_attempt = now;
    long long int end = o->duration ? now + o->duration * 1000LL : 0;

    lc->fd = -1;
    while (!stop && (!end || now < end)) {
        /* Start what is due. */
        if (now >= next_attempt) {
            if (n_attempts < MAX_ATTEMPTS) {
                struct attempt *a = &attempts[n_attempts];
                *a = (struct attempt) { .start = now, .wall = wall_msec() };
                a->fd = start_connect(o);
                if (a->fd < 0) {
                    attempt_done(o, a, errno, now);
                } else {
                    n_attempts++;
                }
            }
            next_attempt += o->interval;
            if (next_attempt < now) {
                next_attempt = now + o->interval;
            }
        }
        if (o->long_lived && lc->fd < 0) {
            long_start(o, lc, now);
        }

        /* Wait. */
        struct pollfd pfds[MAX_ATTEMPTS + 1];
        for (int i = 0; i < n_attempts; i++) {
            pfds[i] = (struct pollfd) {
                .fd = attempts[i].fd,
                .events = attempts[i].connected ? POLLIN : POLLOUT,
            };
        }
        int n = n_attempts;
        if (lc->fd >= 0) {
            pfds[n++] = (struct pollfd) {
                .fd = lc->fd, .events = lc->connected ? POLLIN : POLLOUT,
            };
        }
        long long int wake = next_attempt;
        for (int i = 0; i < n_attempts; i++) {
            long long int t = attempts[i].start + o->timeout;
            wake = t < wake ? t : wake;
        }
        if (lc->fd >= 0 && lc->connected && lc->next_send < wake) {
            wake = lc->next_send;
        }
        int ms = wake > now ? (int) (wake - now) : 0;
        if (ms > 50) {
            ms = 50;            /* Stall checks on the long connection. */
        }
        if (poll(pfds, n, ms) < 0 && errno != EINTR) {
            fatal("poll");
        }
        now = mono_msec();

        /* Handle. */
        if (lc->fd >= 0) {
            long_run(o, lc, pfds[n - 1].revents, now);
        }
        for (int i = 0; i < n_attempts; i++) {
            struct attempt *a = &attempts[i];
            attempt_run(o, a, pfds[i].revents, now);
            if (a->fd >= 0 && now - a->start >= o->timeout) {
                attempt_done(o, a, ETIMEDOUT, now);
            }
        }
        /* Compact; 'pfds' is rebuilt next time. */
        int j = 0;
        for (int i = 0; i < n_attempts; i++) {
            if (attempts[i].fd >= 0) {
                attempts[j++] = attempts[i];
            }
        }
        n_attempts = j;
    }

    for (int i = 0; i < n_attempts; i++) {
        close(attempts[i].fd);
    }
    long_close(lc, NULL, now);
    free(lc);
    return 0;
}

static int
parse_int(const char *s, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 1000000000) {
        errno = 0;
        fatal("%s: \"%s\" is not a number", what, s);
    }
    return v;
}

int
main(int argc, char *argv[])
{
    struct options o = {
        .interval = 50,
        .timeout = 1000,
        .stall = 10000,
        .gap = 200,
    };
    static const struct option long_options[] = {
        {"interval", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"deny", no_argument, NULL, 'd'},
        {"long", no_argument, NULL, 'l'},
        {"stall", required_argument, NULL, 's'},
        {"gap", required_argument, NULL, 'g'},
        {"duration", required_argument, NULL, 'D'},
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const char *out_file = NULL;

    out = stdout;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    if (argc >= 3 && !strcmp(argv[1], "serve")) {
        return serve(parse_int(argv[2], "PORT"));
    }
    if (argc < 2 || strcmp(argv[1], "probe")) {
        errno = 0;
        fatal("usage: np-prober serve PORT | probe [OPTIONS] IP PORT");
    }
    optind = 2;
    for (;;) {
        int c = getopt_long(argc, argv, "", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 'i': o.interval = parse_int(optarg, "--interval"); break;
        case 't': o.timeout = parse_int(optarg, "--timeout"); break;
        case 'd': o.deny = true; break;
        case 'l': o.long_lived = true; break;
        case 's': o.stall = parse_int(optarg, "--stall"); break;
        case 'g': o.gap = parse_int(optarg, "--gap"); break;
        case 'D': o.duration = parse_int(optarg, "--duration"); break;
        case 'o': out_file = optarg; break;
        default: exit(EXIT_FAILURE);
        }
    }
    errno = 0;
    if (argc - optind != 2) {
        fatal("probe needs IP and PORT");
    }
    if (o.interval < 1 || o.timeout < 1) {
        fatal("--interval and --timeout must be positive");
    }
    if (o.deny && o.long_lived) {
        fatal("--long makes no sense with --deny");
    }
    o.dst.sin_family = AF_INET;
    o.dst.sin_port = htons(parse_int(argv[optind + 1], "PORT"));
    if (inet_pton(AF_INET, argv[optind], &o.dst.sin_addr) != 1) {
        fatal("\"%s\" is not an IPv4 address", argv[optind]);
    }
    if (out_file) {
        out = fopen(out_file, "w");
        if (!out) {
            fatal("%s", out_file);
        }
    }
    return probe(&o);
}
