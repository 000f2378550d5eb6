/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "controller/ofsync.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/flow-set.h"
#include "netpol/pipeline.h"
#include "byte-order.h"
#include "hash.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "stream.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ofsync);

/* Messages handled per ofsync_run() before yielding to the main loop. */
#define OFSYNC_MAX_RECV 50

/* A bundle that deletes every installed flow with some cookie, this many
 * flows or more, deletes them with one flow_mod that matches the cookie
 * instead of one per flow: a policy that goes away, or no longer selects
 * any local pod, then costs the switch one message instead of hundreds. */
#define OFSYNC_COOKIE_DELETE_MIN 8

/* Backoff after a failed bundle or flow dump, in milliseconds. */
#define OFSYNC_BACKOFF_MIN 1000
#define OFSYNC_BACKOFF_MAX 8000

/* Wait between OpenFlow connection attempts, and longest wait for an
 * attempt to complete, in seconds. */
#define OFSYNC_MAX_RECONNECT_SEC 1

/* The OpenFlow versions we speak. */
#define OFSYNC_VERSIONS (1u << OFP15_VERSION)

/* Bytes read from the OpenFlow connection at a time, at most. */
#define OFSYNC_RECV_SIZE 65536

/* A send buffer larger than this, once empty, is given back. */
#define OFSYNC_TXBUF_KEEP (1024 * 1024)

/* While disconnected from a "unix:" target, how often to look at the
 * socket file for a new ovs-vswitchd, in milliseconds. */
#define OFSYNC_SOCKET_CHECK_MSEC 100

/* The OpenFlow connection (see "The OpenFlow connection" below). */
enum ofsync_conn_state {
    OFSYNC_C_VOID,          /* No target. */
    OFSYNC_C_BACKOFF,       /* Waiting until the next attempt. */
    OFSYNC_C_CONNECTING,    /* Connecting. */
    OFSYNC_C_HELLO,         /* Waiting for the switch's hello. */
    OFSYNC_C_ACTIVE,        /* Connected; the version is known. */
};

enum ofsync_state {
    OFSYNC_S_DISCONNECTED,  /* No OpenFlow connection. */
    OFSYNC_S_NEED_DUMP,     /* Connected; 'installed' unknown. */
    OFSYNC_S_DUMPING,       /* Waiting for the flow dump to finish. */
    OFSYNC_S_SYNCING,       /* 'installed' known; diffs go out as bundles. */
};

/* One message of the bundle in flight, for naming the flow that failed and,
 * once the bundle commits, for applying its change to 'installed'. */
struct ofsync_sent_msg {
    ovs_be32 xid;
    enum flowset_change_type type;
    struct np_flow *flow;       /* In 'pending' (ADD/MODIFY; in the desired
                                 * set until the bundle is sent) or
                                 * 'installed' (DELETE); NULL for bundle
                                 * control. */
    bool by_cookie;             /* DELETE: one of the flows that a delete
                                 * by cookie (one message, one 'xid' for
                                 * them all) removes. */
};

struct ofsync {
    /* The OpenFlow connection. */
    char *target;
    enum ofsync_conn_state conn_state;
    struct stream *stream;      /* NULL in OFSYNC_C_VOID and _BACKOFF. */
    long long int conn_deadline;    /* BACKOFF: when to try again;
                                     * CONNECTING, HELLO: when to give up. */
    int conn_error;             /* Closes the connection at the next
                                 * ofsync_conn_run() if nonzero. */
    bool conn_retrying;         /* Failed attempts since the last success
                                 * (they are logged once). */
    int version;                /* Negotiated, if OFSYNC_C_ACTIVE. */
    unsigned int conn_seqno;    /* Changes when ACTIVE is entered or left. */
    struct ofpbuf rxbuf;        /* Received, not yet handled. */
    struct ofpbuf rxmsg;        /* Aligned copy of a received message. */
    struct ofpbuf txbuf;        /* Queued, not yet sent. */

    unsigned int sync_seqno;    /* 'conn_seqno' when we last (re)started. */

    /* For a "unix:" target: the socket file, and the identity of the one
     * we last connected or tried to connect to. */
    char *sock_path;
    dev_t sock_dev;
    ino_t sock_ino;
    struct timespec sock_ctime;
    long long int next_sock_check;
    enum ofsync_state state;

    /* The flows of ours that the switch has, as far as we know.  Valid in
     * OFSYNC_S_SYNCING only.  Changes only when a bundle is done or
     * everything is reset, never while a bundle is in flight: 'sent' points
     * into it. */
    struct flowset installed;
    struct hmap installed_cookies;  /* struct ofsync_cookie_count: how
                                     * many of 'installed' have a cookie. */

    /* The version of a desired flow set that 'installed' is known to equal,
     * 0 if none.  Flow set versions are unique among all sets and change
     * with every change, so while the desired set keeps this version there
     * is nothing to send, and no need to compare the two sets. */
    uint64_t synced_version;

    /* OFSYNC_S_DUMPING: the dump's xid and the flows it gave so far. */
    ovs_be32 dump_xid;
    struct flowset dumped;

    /* The bundle in flight, if 'in_flight'.  'sent' lists its messages in
     * order; applied to 'installed' once the switch commits, its flow_mods
     * make 'installed' what the switch then has.  'pending' holds copies of
     * the flows it adds or modifies, and nothing else: a copy of the whole
     * desired set would make every bundle cost as much as all our flows,
     * however few it changes.  The flows it deletes are in 'installed'. */
    bool in_flight;
    bool bundle_failed;         /* An error arrived for one of its parts. */
    bool bundle_complete;       /* It has every change its diff found. */
    uint32_t bundle_id;
    ovs_be32 commit_xid;
    uint64_t bundle_version;    /* Of the desired set it was computed from. */
    long long int bundle_sent_us;   /* Wall clock when it was sent. */
    struct flowset pending;
    struct ofsync_sent_msg *sent;
    size_t n_sent, allocated_sent;

    /* Backoff after failures. */
    long long int retry_at;     /* LLONG_MIN if nothing to wait for. */
    int backoff;

    /* Statistics. */
    uint64_t n_bundles;
    uint64_t n_flow_mods;       /* Flows added, modified or deleted. */
    uint64_t n_cookie_deletes;  /* Flow_mods that deleted a whole cookie. */
    long long int last_sent_us;     /* Of the last committed bundle: sent */
    long long int last_acked_us;    /* and acknowledged (wall clock). */
    uint64_t n_failures;
    uint64_t n_dumps;
    uint64_t n_connects;
};

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);

static void ofsync_reset(struct ofsync *, enum ofsync_state);

static const char *
ofsync_state_name(enum ofsync_state state)
{
    switch (state) {
    case OFSYNC_S_DISCONNECTED: return "disconnected";
    case OFSYNC_S_NEED_DUMP: return "need-dump";
    case OFSYNC_S_DUMPING: return "dumping";
    case OFSYNC_S_SYNCING: return "syncing";
    }
    return "unknown";
}

/* The OpenFlow connection.
 *
 * Not an rconn: rconn_send(), through vconn_send(), writes every message
 * with a system call of its own, so that a bundle of N flow_mods took N + 2
 * writes, and each could wake ovs-vswitchd to read just that message (which
 * then often took our CPU until it went back to sleep).  Here messages
 * queue up in 'txbuf' and go out together: a bundle in one write, unless
 * the socket's buffer fills up.  Otherwise this does what rconn and vconn
 * did for us: a hello exchange that settles on OpenFlow 1.5, a new attempt
 * every OFSYNC_MAX_RECONNECT_SEC after a failure or a lost connection, and
 * no inactivity probes (see ofsync_create()). */

static const char *
ofsync_conn_state_name(enum ofsync_conn_state state)
{
    switch (state) {
    case OFSYNC_C_VOID: return "VOID";
    case OFSYNC_C_BACKOFF: return "BACKOFF";
    case OFSYNC_C_CONNECTING: return "CONNECTING";
    case OFSYNC_C_HELLO: return "CONNECTING";
    case OFSYNC_C_ACTIVE: return "ACTIVE";
    }
    return "unknown";
}

/* Closes the connection or the attempt to make one, if any, because of
 * 'error': 0 if asked to, EOF if the switch closed it, otherwise a positive
 * errno value.  The next attempt comes OFSYNC_MAX_RECONNECT_SEC later. */
static void
ofsync_conn_close(struct ofsync *sw, int error)
{
    if (sw->conn_state == OFSYNC_C_ACTIVE) {
        if (error == EOF) {
            VLOG_INFO("%s: connection closed by peer", sw->target);
        } else if (error) {
            VLOG_WARN("%s: connection dropped (%s)", sw->target,
                      ovs_strerror(error));
        }
        sw->conn_seqno++;
    } else if (error && !sw->conn_retrying) {
        VLOG_INFO("%s: connection failed (%s), retrying every %d s",
                  sw->target, ovs_retval_to_string(error),
                  OFSYNC_MAX_RECONNECT_SEC);
        sw->conn_retrying = true;
    }

    stream_close(sw->stream);
    sw->stream = NULL;
    sw->conn_error = 0;
    sw->version = -1;
    ofpbuf_clear(&sw->rxbuf);
    ofpbuf_uninit(&sw->txbuf);
    ofpbuf_init(&sw->txbuf, 0);
    sw->conn_state = sw->target ? OFSYNC_C_BACKOFF : OFSYNC_C_VOID;
    sw->conn_deadline = time_msec() + OFSYNC_MAX_RECONNECT_SEC * 1000;
}

/* Starts connecting to 'sw->target', at once. */
static void
ofsync_conn_open(struct ofsync *sw)
{
    ofsync_conn_close(sw, 0);
    if (!sw->target) {
        return;
    }

    if (!sw->conn_retrying) {
        VLOG_INFO("%s: connecting...", sw->target);
    }
    int error = stream_open_with_default_port(sw->target, OFP_PORT,
                                              &sw->stream, 0);
    if (error) {
        ofsync_conn_close(sw, error);
        return;
    }
    sw->conn_state = OFSYNC_C_CONNECTING;
    sw->conn_deadline = time_msec() + OFSYNC_MAX_RECONNECT_SEC * 1000;
}

/* Appends 'msg' to the messages to send, and frees it.  They go out at the
 * next ofsync_conn_flush(). */
static void
ofsync_conn_queue(struct ofsync *sw, struct ofpbuf *msg)
{
    ofpmsg_update_length(msg);
    ofpbuf_put(&sw->txbuf, msg->data, msg->size);
    ofpbuf_delete(msg);
}

/* Writes as much of what is queued as the connection takes now.  Returns 0
 * if that worked, even partly, otherwise a positive errno value (and the
 * connection closes at the next ofsync_conn_run()). */
static int
ofsync_conn_flush(struct ofsync *sw)
{
    while (sw->txbuf.size && !sw->conn_error) {
        int retval = stream_send(sw->stream, sw->txbuf.data, sw->txbuf.size);
        if (retval > 0) {
            ofpbuf_pull(&sw->txbuf, retval);
        } else if (retval == -EAGAIN) {
            return 0;
        } else {
            sw->conn_error = -retval;
        }
    }
    if (!sw->txbuf.size) {
        if (sw->txbuf.allocated > OFSYNC_TXBUF_KEEP) {
            ofpbuf_uninit(&sw->txbuf);
            ofpbuf_init(&sw->txbuf, 0);
        } else {
            ofpbuf_clear(&sw->txbuf);
        }
    }
    return sw->conn_error;
}

/* Returns the next message received, or NULL if no complete one is there
 * yet (or the connection failed: then it closes at the next
 * ofsync_conn_run()).  The message is valid until the next call. */
static const struct ofp_header *
ofsync_conn_recv(struct ofsync *sw)
{
    struct ofpbuf *rx = &sw->rxbuf;

    while (!sw->conn_error) {
        if (rx->size >= sizeof(struct ofp_header)) {
            const struct ofp_header *oh = rx->data;
            size_t length = ntohs(oh->length);

            if (length < sizeof *oh) {
                VLOG_WARN_RL(&rl, "%s: received too-short ofp_header "
                             "(%"PRIuSIZE" bytes)", sw->target, length);
                sw->conn_error = EPROTO;
                break;
            } else if (rx->size >= length) {
                ofpbuf_pull(rx, length);
                if ((uintptr_t) oh % 8) {
                    /* OpenFlow decoders expect aligned messages. */
                    ofpbuf_clear(&sw->rxmsg);
                    ofpbuf_put(&sw->rxmsg, oh, length);
                    oh = sw->rxmsg.data;
                }
                return oh;
            }
        }

        /* Read more, after moving what is left of a message to the front
         * (the messages before it are done with). */
        if (ofpbuf_headroom(rx)) {
            memmove(rx->base, rx->data, rx->size);
            rx->data = rx->base;
        }
        ofpbuf_prealloc_tailroom(rx, OFSYNC_RECV_SIZE);
        int retval = stream_recv(sw->stream, ofpbuf_tail(rx),
                                 ofpbuf_tailroom(rx));
        if (retval > 0) {
            rx->size += retval;
        } else if (!retval) {
            sw->conn_error = rx->size ? EPROTO : EOF;
        } else if (retval != -EAGAIN) {
            sw->conn_error = -retval;
        } else {
            break;
        }
    }
    return NULL;
}

/* Handles the switch's hello 'oh': settles on a version, or fails. */
static void
ofsync_conn_recv_hello(struct ofsync *sw, const struct ofp_header *oh)
{
    enum ofptype type;
    uint32_t peer_versions;

    if (ofptype_decode(&type, oh) || type != OFPTYPE_HELLO) {
        VLOG_WARN_RL(&rl, "%s: received message while expecting hello",
                     sw->target);
        sw->conn_error = EPROTO;
        return;
    }
    if (!ofputil_decode_hello(oh, &peer_versions)) {
        VLOG_WARN_RL(&rl, "%s: unknown data in hello", sw->target);
    }
    if (!(peer_versions & OFSYNC_VERSIONS)) {
        VLOG_WARN_RL(&rl, "%s: version negotiation failed (we support "
                     "OpenFlow 1.5 only, peer supports version bitmap "
                     "0x%"PRIx32")", sw->target, peer_versions);
        ofsync_conn_queue(sw, ofperr_encode_hello(
                              OFPERR_OFPHFC_INCOMPATIBLE,
                              leftmost_1bit_idx(peer_versions),
                              "We support OpenFlow 1.5 only, "
                              "no common versions."));
        ofsync_conn_flush(sw);
        sw->conn_error = EPROTO;
        return;
    }

    sw->version = leftmost_1bit_idx(peer_versions & OFSYNC_VERSIONS);
    sw->conn_state = OFSYNC_C_ACTIVE;
    sw->conn_seqno++;
    sw->conn_retrying = false;
    VLOG_INFO("%s: connected", sw->target);
}

/* Connects, exchanges hellos, sends what is queued. */
static void
ofsync_conn_run(struct ofsync *sw)
{
    enum ofsync_conn_state old_state;

    do {
        old_state = sw->conn_state;
        if (sw->stream) {
            stream_run(sw->stream);
        }
        if (sw->conn_error) {
            ofsync_conn_close(sw, sw->conn_error);
        }

        switch (sw->conn_state) {
        case OFSYNC_C_VOID:
            break;

        case OFSYNC_C_BACKOFF:
            if (time_msec() >= sw->conn_deadline) {
                ofsync_conn_open(sw);
            }
            break;

        case OFSYNC_C_CONNECTING: {
            int error = stream_connect(sw->stream);
            if (!error) {
                ofsync_conn_queue(sw, ofputil_encode_hello(OFSYNC_VERSIONS));
                sw->conn_state = OFSYNC_C_HELLO;
            } else if (error != EAGAIN) {
                ofsync_conn_close(sw, error);
            } else if (time_msec() >= sw->conn_deadline) {
                ofsync_conn_close(sw, ETIMEDOUT);
            }
            break;
        }

        case OFSYNC_C_HELLO: {
            ofsync_conn_flush(sw);
            const struct ofp_header *oh = ofsync_conn_recv(sw);
            if (oh) {
                ofsync_conn_recv_hello(sw, oh);
            } else if (!sw->conn_error && time_msec() >= sw->conn_deadline) {
                sw->conn_error = ETIMEDOUT;
            }
            break;
        }

        case OFSYNC_C_ACTIVE:
            ofsync_conn_flush(sw);
            break;
        }
    } while (sw->conn_state != old_state || sw->conn_error);
}

static void
ofsync_conn_wait(struct ofsync *sw)
{
    if (sw->conn_error) {
        poll_immediate_wake();
    }
    if (sw->stream) {
        stream_run_wait(sw->stream);
    }
    switch (sw->conn_state) {
    case OFSYNC_C_VOID:
        break;
    case OFSYNC_C_BACKOFF:
        poll_timer_wait_until(sw->conn_deadline);
        break;
    case OFSYNC_C_CONNECTING:
        stream_connect_wait(sw->stream);
        poll_timer_wait_until(sw->conn_deadline);
        break;
    case OFSYNC_C_HELLO:
    case OFSYNC_C_ACTIVE:
        stream_recv_wait(sw->stream);
        if (sw->txbuf.size) {
            stream_send_wait(sw->stream);
        }
        if (sw->conn_state == OFSYNC_C_HELLO) {
            poll_timer_wait_until(sw->conn_deadline);
        }
        break;
    }
}

/* How many installed flows have one cookie. */
struct ofsync_cookie_count {
    struct hmap_node node;      /* In 'installed_cookies'. */
    uint64_t cookie;
    size_t n;
};

static size_t
ofsync_n_installed_with_cookie(const struct ofsync *sw, uint64_t cookie)
{
    const struct ofsync_cookie_count *cc;

    HMAP_FOR_EACH_WITH_HASH (cc, node, hash_uint64(cookie),
                             &sw->installed_cookies) {
        if (cc->cookie == cookie) {
            return cc->n;
        }
    }
    return 0;
}

/* Adds 'delta' (1 or -1) to the count of installed flows with 'cookie'. */
static void
ofsync_count_cookie(struct ofsync *sw, uint64_t cookie, int delta)
{
    struct ofsync_cookie_count *cc;

    HMAP_FOR_EACH_WITH_HASH (cc, node, hash_uint64(cookie),
                             &sw->installed_cookies) {
        if (cc->cookie == cookie) {
            cc->n += delta;
            if (!cc->n) {
                hmap_remove(&sw->installed_cookies, &cc->node);
                free(cc);
            }
            return;
        }
    }
    ovs_assert(delta > 0);
    cc = xmalloc(sizeof *cc);
    cc->cookie = cookie;
    cc->n = delta;
    hmap_insert(&sw->installed_cookies, &cc->node, hash_uint64(cookie));
}

/* Removes 'flow', which is in 'sw->installed', and frees it. */
static void
ofsync_installed_remove(struct ofsync *sw, struct np_flow *flow)
{
    ofsync_count_cookie(sw, flow->cookie, -1);
    flowset_remove(&sw->installed, flow);
}

static void
ofsync_installed_clear(struct ofsync *sw)
{
    struct ofsync_cookie_count *cc;

    HMAP_FOR_EACH_POP (cc, node, &sw->installed_cookies) {
        free(cc);
    }
    flowset_clear(&sw->installed);
}

struct ofsync *
ofsync_create(const char *target)
{
    struct ofsync *sw = xzalloc(sizeof *sw);

    /* No inactivity probes: the management socket is local, and a busy
     * ovs-vswitchd must not make us drop a connection with a bundle in
     * flight.  A dead switch shows up as EOF (ovn-controller makes the same
     * choice for its connection to ovs-vswitchd).
     *
     * Reconnect attempts every OFSYNC_MAX_RECONNECT_SEC at most: a
     * restarted ovs-vswitchd runs with an empty flow table (fail_mode
     * secure: it drops everything) or, with flow-restore-wait, forwards
     * nothing new, until our bundle is in, so the time between its
     * management socket coming back and our next attempt is pure outage.
     * Connecting to a local socket that is not there yet costs nothing. */
    sw->conn_state = OFSYNC_C_VOID;
    sw->version = -1;
    ofpbuf_init(&sw->rxbuf, 0);
    ofpbuf_init(&sw->rxmsg, 0);
    ofpbuf_init(&sw->txbuf, 0);
    flowset_init(&sw->installed);
    hmap_init(&sw->installed_cookies);
    flowset_init(&sw->dumped);
    flowset_init(&sw->pending);
    sw->retry_at = LLONG_MIN;
    sw->state = OFSYNC_S_DISCONNECTED;
    ofsync_set_target(sw, target);
    return sw;
}

void
ofsync_destroy(struct ofsync *sw)
{
    if (sw) {
        stream_close(sw->stream);
        ofpbuf_uninit(&sw->rxbuf);
        ofpbuf_uninit(&sw->rxmsg);
        ofpbuf_uninit(&sw->txbuf);
        ofsync_installed_clear(sw);
        flowset_destroy(&sw->installed);
        hmap_destroy(&sw->installed_cookies);
        flowset_destroy(&sw->dumped);
        flowset_destroy(&sw->pending);
        free(sw->sent);
        free(sw->target);
        free(sw->sock_path);
        free(sw);
    }
}

void
ofsync_set_target(struct ofsync *sw, const char *target)
{
    if (target && sw->target && !strcmp(target, sw->target)) {
        return;
    }

    free(sw->target);
    sw->target = nullable_xstrdup(target);
    free(sw->sock_path);
    sw->sock_path = (target && !strncmp(target, "unix:", 5)
                     ? xstrdup(target + 5) : NULL);
    sw->sock_dev = 0;
    sw->sock_ino = 0;
    sw->sock_ctime = (struct timespec) { 0, 0 };
    sw->next_sock_check = LLONG_MIN;
    ofsync_reset(sw, OFSYNC_S_DISCONNECTED);
    sw->conn_retrying = false;
    ofsync_conn_open(sw);
    sw->sync_seqno = sw->conn_seqno;
}

/* Empties 'sw->pending'.  Clearing an hmap visits every bucket, and
 * removals never shrink it: starting afresh keeps the cost of a small
 * bundle from depending on the largest one so far. */
static void
ofsync_clear_pending(struct ofsync *sw)
{
    flowset_destroy(&sw->pending);
    flowset_init(&sw->pending);
}

/* Forgets everything learned over the current connection: the installed
 * flows, a dump or a bundle in progress. */
static void
ofsync_reset(struct ofsync *sw, enum ofsync_state state)
{
    sw->state = state;
    ofsync_installed_clear(sw);
    sw->synced_version = 0;
    flowset_clear(&sw->dumped);
    ofsync_clear_pending(sw);
    sw->in_flight = false;
    sw->bundle_failed = false;
    sw->n_sent = 0;
    sw->dump_xid = htonl(0);
    sw->commit_xid = htonl(0);
    sw->retry_at = LLONG_MIN;
    sw->backoff = 0;
}

/* Queues 'msg' for sending (ofsync_conn_flush() sends it) and frees it.
 * Returns 0 if it was queued, otherwise a positive errno. */
static int
ofsync_send(struct ofsync *sw, struct ofpbuf *msg)
{
    if (sw->conn_state != OFSYNC_C_ACTIVE || sw->conn_error) {
        VLOG_WARN_RL(&rl, "%s: send failed (%s)", sw->target,
                     ovs_strerror(ENOTCONN));
        ofpbuf_delete(msg);
        return ENOTCONN;
    }
    ofsync_conn_queue(sw, msg);
    return 0;
}

static ovs_be32
ofsync_msg_xid(const struct ofpbuf *msg)
{
    return ((const struct ofp_header *) msg->data)->xid;
}

/* Something failed: the bridge's state is uncertain.  Reads it again after
 * a backoff, so that a persistent failure does not make us spin. */
static void
ofsync_fail(struct ofsync *sw)
{
    sw->n_failures++;
    ofsync_installed_clear(sw);
    sw->synced_version = 0;
    flowset_clear(&sw->dumped);
    ofsync_clear_pending(sw);
    sw->in_flight = false;
    sw->bundle_failed = false;
    sw->n_sent = 0;
    sw->state = OFSYNC_S_NEED_DUMP;
    sw->backoff = (sw->backoff
                   ? MIN(sw->backoff * 2, OFSYNC_BACKOFF_MAX)
                   : OFSYNC_BACKOFF_MIN);
    sw->retry_at = time_msec() + sw->backoff;
}

static void
ofsync_send_dump(struct ofsync *sw)
{
    struct ofputil_flow_stats_request fsr = {
        .aggregate = false,
        .cookie = htonll(0),
        .cookie_mask = htonll(0),
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .table_id = OFPTT_ALL,
    };
    match_init_catchall(&fsr.match);

    /* OpenFlow cannot ask for "any of several cookie categories" with one
     * mask, so dump everything and keep what carries a category. */
    struct ofpbuf *msg = ofputil_encode_flow_stats_request(
        &fsr, OFPUTIL_P_OF15_OXM);
    sw->dump_xid = ofsync_msg_xid(msg);
    flowset_clear(&sw->dumped);
    if (!ofsync_send(sw, msg)) {
        sw->state = OFSYNC_S_DUMPING;
        sw->n_dumps++;
    }
}

/* Adds the flow described by 'fs' to 'sw->dumped' if it is one of ours. */
static void
ofsync_add_dumped_flow(struct ofsync *sw, const struct ofputil_flow_stats *fs)
{
    uint64_t cookie = ntohll(fs->cookie);
    if (!(cookie & NP_COOKIE_CATEGORY_MASK)) {
        return;
    }

    /* The switch gives every flow that matches an Ethernet-dependent field
     * an exact match on packet_type=(0,0), Ethernet, the default that
     * OpenFlow implies; the compiler leaves packet_type alone.  Without
     * this, every such flow would differ from its desired twin, and a
     * reconnect or restart would delete and add them all. */
    struct match match = fs->match;
    if (match_has_default_packet_type(&match)) {
        match.flow.packet_type = htonl(0);
        match.wc.masks.packet_type = htonl(0);
    }

    /* Conjunction flows are stored as conjunction lists, as the compiler
     * builds them, so that they compare equal. */
    const struct ofpact *a;
    bool all_conj = fs->ofpacts_len > 0;
    OFPACT_FOR_EACH (a, fs->ofpacts, fs->ofpacts_len) {
        if (a->type != OFPACT_CONJUNCTION) {
            all_conj = false;
            break;
        }
    }

    bool ok = true;
    if (all_conj) {
        OFPACT_FOR_EACH (a, fs->ofpacts, fs->ofpacts_len) {
            const struct ofpact_conjunction *oc = ofpact_get_CONJUNCTION(a);
            ok = ok && flowset_add_conj(&sw->dumped, fs->table_id,
                                        fs->priority, cookie, &match,
                                        oc->id, oc->clause + 1,
                                        oc->n_clauses);
        }
    } else {
        struct ofpbuf ofpacts = ofpbuf_const_initializer(fs->ofpacts,
                                                         fs->ofpacts_len);
        ok = flowset_add(&sw->dumped, fs->table_id, fs->priority, cookie,
                         &match, &ofpacts);
    }
    if (!ok) {
        /* Cannot happen: a switch has one flow per key and table. */
        VLOG_WARN_RL(&rl, "%s: duplicate flow in dump", sw->target);
    }
}

static void
ofsync_handle_flow_stats_reply(struct ofsync *sw, const struct ofp_header *oh)
{
    if (sw->state != OFSYNC_S_DUMPING || oh->xid != sw->dump_xid) {
        return;
    }

    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);
    for (;;) {
        struct ofputil_flow_stats fs;
        int retval = ofputil_decode_flow_stats_reply(&fs, &b, false,
                                                     &ofpacts);
        if (retval) {
            if (retval != EOF) {
                VLOG_WARN_RL(&rl, "%s: bad flow stats reply (%s)",
                             sw->target, ofperr_to_string(retval));
                ofpbuf_uninit(&ofpacts);
                ofsync_fail(sw);
                return;
            }
            break;
        }
        ofsync_add_dumped_flow(sw, &fs);
    }
    ofpbuf_uninit(&ofpacts);

    if (!ofpmp_more(oh)) {
        VLOG_DBG("%s: bridge has %"PRIuSIZE" of our flows", sw->target,
                 flowset_count(&sw->dumped));
        ofsync_installed_clear(sw);
        flowset_swap(&sw->installed, &sw->dumped);
        const struct np_flow *flow;
        FLOWSET_FOR_EACH (flow, &sw->installed) {
            ofsync_count_cookie(sw, flow->cookie, 1);
        }
        sw->synced_version = 0;
        sw->state = OFSYNC_S_SYNCING;
    }
}

static const struct ofsync_sent_msg *
ofsync_find_sent(const struct ofsync *sw, ovs_be32 xid)
{
    for (size_t i = 0; i < sw->n_sent; i++) {
        if (sw->sent[i].xid == xid) {
            return &sw->sent[i];
        }
    }
    return NULL;
}

/* The switch has committed the bundle in flight: applies its flow_mods, in
 * the order they went out, to 'sw->installed'.  Changes that could not be
 * sent are not in 'sw->sent', so 'installed' keeps what the switch keeps.
 * Costs as much as the bundle's size, not the flow set's. */
static void
ofsync_apply_bundle(struct ofsync *sw)
{
    for (size_t i = 0; i < sw->n_sent; i++) {
        const struct ofsync_sent_msg *m = &sw->sent[i];

        if (!m->flow) {
            /* Bundle control. */
        } else if (m->type == FLOWSET_DELETE) {
            ofsync_installed_remove(sw, m->flow);
        } else {
            /* An OFPFC_ADD replaces a flow with the same key (e.g. one
             * whose deletion was too big to send), a MODIFY the actions of
             * the one that is there. */
            struct np_flow *old = flowset_find_flow(&sw->installed, m->flow);
            if (old) {
                ofsync_installed_remove(sw, old);
            }
            ofsync_count_cookie(sw, m->flow->cookie, 1);
            flowset_insert_copy(&sw->installed, m->flow);
        }
    }
    sw->synced_version = sw->bundle_complete ? sw->bundle_version : 0;
}

/* The bundle in flight is done: committed if 'ok', otherwise failed. */
static void
ofsync_bundle_done(struct ofsync *sw, bool ok)
{
    if (ok) {
        ofsync_apply_bundle(sw);
        ofsync_clear_pending(sw);
        sw->in_flight = false;
        sw->n_sent = 0;
        sw->n_bundles++;
        sw->last_sent_us = sw->bundle_sent_us;
        sw->last_acked_us = time_wall_usec();
        sw->backoff = 0;
        sw->retry_at = LLONG_MIN;
    } else {
        VLOG_WARN_RL(&rl, "%s: bundle %"PRIu32" failed, will re-read the "
                     "bridge's flows and retry", sw->target, sw->bundle_id);
        ofsync_fail(sw);
    }
}

static void
ofsync_handle_error(struct ofsync *sw, const struct ofp_header *oh)
{
    enum ofperr error = ofperr_decode_msg(oh, NULL);
    const char *err_s = error ? ofperr_to_string(error) : "unknown error";

    if (sw->state == OFSYNC_S_DUMPING && oh->xid == sw->dump_xid) {
        VLOG_WARN_RL(&rl, "%s: flow dump failed (%s)", sw->target, err_s);
        ofsync_fail(sw);
        return;
    }

    if (sw->in_flight) {
        const struct ofsync_sent_msg *m = ofsync_find_sent(sw, oh->xid);
        if (m) {
            if (m->by_cookie) {
                VLOG_WARN_RL(&rl, "%s: delete of the flows with cookie "
                             "%#"PRIx64" failed (%s)", sw->target,
                             m->flow->cookie, err_s);
            } else if (m->flow && !VLOG_DROP_WARN(&rl)) {
                struct ds s = DS_EMPTY_INITIALIZER;
                np_flow_format(m->flow, &s);
                VLOG_WARN("%s: %s of flow failed (%s): %s", sw->target,
                          (m->type == FLOWSET_ADD ? "add"
                           : m->type == FLOWSET_MODIFY ? "modify"
                           : "delete"), err_s, ds_cstr(&s));
                ds_destroy(&s);
            } else if (!m->flow) {
                VLOG_WARN_RL(&rl, "%s: bundle %"PRIu32" control failed (%s)",
                             sw->target, sw->bundle_id, err_s);
            }
            sw->bundle_failed = true;
            if (oh->xid == sw->commit_xid) {
                ofsync_bundle_done(sw, false);
            }
            return;
        }
    }

    VLOG_WARN_RL(&rl, "%s: unexpected error from switch (%s)", sw->target,
                 err_s);
}

static void
ofsync_handle_bundle_control(struct ofsync *sw, const struct ofp_header *oh)
{
    struct ofputil_bundle_ctrl_msg bc;

    if (ofputil_decode_bundle_ctrl(oh, &bc)
        || !sw->in_flight || bc.bundle_id != sw->bundle_id
        || bc.type != OFPBCT_COMMIT_REPLY || oh->xid != sw->commit_xid) {
        return;
    }
    ofsync_bundle_done(sw, !sw->bundle_failed);
}

static void
ofsync_handle_msg(struct ofsync *sw, const struct ofp_header *oh)
{
    enum ofptype type;

    if (ofptype_decode(&type, oh)) {
        return;
    }
    if (oh->version != sw->version && type != OFPTYPE_HELLO
        && type != OFPTYPE_ERROR && type != OFPTYPE_ECHO_REQUEST
        && type != OFPTYPE_ECHO_REPLY) {
        VLOG_WARN_RL(&rl, "%s: received OpenFlow version 0x%02"PRIx8" != "
                     "expected %02x", sw->target, oh->version, sw->version);
        ofsync_send(sw, ofperr_encode_reply(OFPERR_OFPBRC_BAD_VERSION, oh));
        return;
    }

    switch (type) {
    case OFPTYPE_ECHO_REQUEST:
        ofsync_send(sw, ofputil_encode_echo_reply(oh));
        break;
    case OFPTYPE_ERROR:
        ofsync_handle_error(sw, oh);
        break;
    case OFPTYPE_FLOW_STATS_REPLY:
        ofsync_handle_flow_stats_reply(sw, oh);
        break;
    case OFPTYPE_BUNDLE_CONTROL:
        ofsync_handle_bundle_control(sw, oh);
        break;
    default:
        /* Port status and the like: not our business. */
        break;
    }
}

static void
ofsync_record_sent(struct ofsync *sw, ovs_be32 xid,
                   enum flowset_change_type type, struct np_flow *flow,
                   bool by_cookie)
{
    if (sw->n_sent >= sw->allocated_sent) {
        sw->sent = x2nrealloc(sw->sent, &sw->allocated_sent,
                              sizeof *sw->sent);
    }
    sw->sent[sw->n_sent++] = (struct ofsync_sent_msg) {
        .xid = xid,
        .type = type,
        .flow = flow,
        .by_cookie = by_cookie,
    };
}

/* Encodes 'change' as a flow_mod wrapped in an OFPT_BUNDLE_ADD_MESSAGE for
 * bundle 'bc'; if 'by_cookie', a DELETE 'change' becomes a delete of every
 * flow with its cookie, in any table.  Returns NULL if the message would be
 * too big for OpenFlow's 16-bit length. */
static struct ofpbuf *
ofsync_encode_change(const struct flowset_change *change, bool by_cookie,
                     const struct ofputil_bundle_ctrl_msg *bc,
                     enum ofp_version version, struct ofpbuf *ofpacts)
{
    const struct np_flow *flow = change->flow;
    struct ofputil_flow_mod fm = {
        .match = flow->match,
        .priority = flow->priority,
        .table_id = flow->table_id,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .new_cookie = OVS_BE64_MAX,
    };

    ofpbuf_clear(ofpacts);
    switch (change->type) {
    case FLOWSET_ADD:
        fm.command = OFPFC_ADD;
        fm.new_cookie = htonll(flow->cookie);
        break;
    case FLOWSET_MODIFY:
        /* Touches only the flow with our cookie, and keeps it. */
        fm.command = OFPFC_MODIFY_STRICT;
        fm.cookie = htonll(flow->cookie);
        fm.cookie_mask = OVS_BE64_MAX;
        break;
    case FLOWSET_DELETE:
        fm.command = OFPFC_DELETE_STRICT;
        fm.cookie = htonll(flow->cookie);
        fm.cookie_mask = OVS_BE64_MAX;
        if (by_cookie) {
            struct match catchall;
            match_init_catchall(&catchall);
            minimatch_init(&fm.match, &catchall);
            fm.command = OFPFC_DELETE;
            fm.table_id = OFPTT_ALL;
            fm.priority = 0;
        }
        break;
    }
    if (change->type != FLOWSET_DELETE) {
        np_flow_get_ofpacts(flow, ofpacts);
        fm.ofpacts = ofpacts->data;
        fm.ofpacts_len = ofpacts->size;
    }

    struct ofpbuf *fm_msg = ofputil_encode_flow_mod(
        &fm, ofputil_protocol_from_ofp_version(version));
    if (by_cookie) {
        minimatch_destroy(&fm.match);
    }
    if (fm_msg->size > UINT16_MAX) {
        /* The header's length would wrap and ofputil_encode_bundle_add()
         * would copy a truncated message. */
        ofpbuf_delete(fm_msg);
        return NULL;
    }
    struct ofputil_bundle_add_msg bam = {
        .bundle_id = bc->bundle_id,
        .flags = bc->flags,
        .msg = fm_msg->data,
    };
    struct ofpbuf *msg = ofputil_encode_bundle_add(version, &bam);
    ofpbuf_delete(fm_msg);

    if (msg->size > UINT16_MAX) {
        ofpbuf_delete(msg);
        return NULL;
    }
    return msg;
}

/* A cookie among the flows a bundle deletes. */
struct ofsync_cookie {
    struct hmap_node node;      /* In a map by hash of 'cookie'. */
    uint64_t cookie;
    size_t n_deletes;           /* Flows with 'cookie' that it deletes. */
    size_t n_others;            /* Flows with 'cookie' that it adds or
                                 * modifies. */
    bool by_cookie;             /* Deleted with one flow_mod. */
    bool xid_valid;             /* That flow_mod is queued, as 'xid'. */
    ovs_be32 xid;
};

static struct ofsync_cookie *
ofsync_cookie_find(const struct hmap *cookies, uint64_t cookie)
{
    struct ofsync_cookie *ck;

    HMAP_FOR_EACH_WITH_HASH (ck, node, hash_uint64(cookie), cookies) {
        if (ck->cookie == cookie) {
            return ck;
        }
    }
    return NULL;
}

static void
ofsync_cookies_destroy(struct hmap *cookies)
{
    struct ofsync_cookie *ck;

    HMAP_FOR_EACH_POP (ck, node, cookies) {
        free(ck);
    }
    hmap_destroy(cookies);
}

/* Fills 'cookies' with the cookies of the flows that 'changes' touches and
 * marks 'by_cookie' those whose flows it only deletes, all of those in
 * 'installed' and at least OFSYNC_COOKIE_DELETE_MIN: one non-strict delete
 * by cookie does the same to the switch.  (A cookie that the bundle also
 * adds or modifies is left alone, so that the order of its messages cannot
 * matter.) */
static void
ofsync_plan_cookie_deletes(const struct ofsync *sw,
                           const struct flowset_change *changes,
                           size_t n_changes, struct hmap *cookies)
{
    bool any = false;

    if (n_changes < OFSYNC_COOKIE_DELETE_MIN) {
        return;
    }
    for (size_t i = 0; i < n_changes; i++) {
        uint64_t cookie = changes[i].flow->cookie;
        struct ofsync_cookie *ck = ofsync_cookie_find(cookies, cookie);
        if (!ck) {
            ck = xzalloc(sizeof *ck);
            ck->cookie = cookie;
            hmap_insert(cookies, &ck->node, hash_uint64(cookie));
        }
        if (changes[i].type == FLOWSET_DELETE) {
            any |= ++ck->n_deletes == OFSYNC_COOKIE_DELETE_MIN;
        } else {
            ck->n_others++;
        }
    }
    if (!any) {
        return;
    }

    struct ofsync_cookie *ck;
    HMAP_FOR_EACH (ck, node, cookies) {
        ck->by_cookie = (ck->n_deletes >= OFSYNC_COOKIE_DELETE_MIN
                         && !ck->n_others
                         && (ck->n_deletes
                             == ofsync_n_installed_with_cookie(sw,
                                                               ck->cookie)));
    }
}

/* Logs the flow_mods of bundle 'bundle_id' in 'sw->sent', for debugging. */
static void
ofsync_log_bundle(const struct ofsync *sw, uint32_t bundle_id)
{
    for (size_t i = 0; i < sw->n_sent; i++) {
        const struct ofsync_sent_msg *m = &sw->sent[i];
        if (m->flow) {
            struct ds s = DS_EMPTY_INITIALIZER;
            np_flow_format(m->flow, &s);
            VLOG_DBG("%s: bundle %"PRIu32": %s %s", sw->target, bundle_id,
                     (m->type == FLOWSET_ADD ? "add"
                      : m->type == FLOWSET_MODIFY ? "modify" : "delete"),
                     ds_cstr(&s));
            ds_destroy(&s);
        }
    }
}

/* Sends the difference between 'desired' and 'sw->installed' as one atomic,
 * ordered bundle.
 *
 * Only what the bundle needs comes before it goes out: the diff and the
 * encoding.  Resetting the journal of 'desired' and copying the flows to
 * add or modify wait until it is sent, so that the switch can start on it
 * sooner; nothing can change 'desired', or answer, in between. */
static void
ofsync_send_bundle(struct ofsync *sw, struct flowset *desired)
{
    struct flowset_change *changes;
    size_t n_changes;

    /* When the switch is known to have 'desired' as it was at some
     * version, the journal of 'desired' names every flow changed since:
     * compare only those.  Otherwise compare everything. */
    if (!sw->synced_version
        || !flowset_diff_journal(desired, &sw->installed, sw->synced_version,
                                 &changes, &n_changes)) {
        flowset_diff(desired, &sw->installed, &changes, &n_changes);
    }
    if (!n_changes) {
        flowset_journal_reset(desired);
        free(changes);
        sw->synced_version = desired->version;
        return;
    }

    sw->bundle_version = desired->version;
    sw->bundle_complete = true;

    enum ofp_version version = sw->version;
    struct ofputil_bundle_ctrl_msg bc = {
        .bundle_id = ++sw->bundle_id,
        .type = OFPBCT_OPEN_REQUEST,
        .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
    };
    sw->n_sent = 0;
    sw->bundle_failed = false;

    /* Queue everything first, and send it all at once: if nothing can be
     * sent, send no bundle.  (The caller checked that nothing else is
     * queued.)  Until the bundle is out, 'sent' points to the flows to add
     * or modify in 'desired'.  A change that cannot be sent stays out of
     * 'sent': only what 'sent' holds is applied to 'installed' once the
     * bundle commits, so 'installed' keeps reflecting what the bridge
     * has. */
    struct ofpbuf *msg = ofputil_encode_bundle_ctrl_request(version, &bc);
    ofsync_record_sent(sw, ofsync_msg_xid(msg), FLOWSET_ADD, NULL, false);
    ofsync_conn_queue(sw, msg);

    struct hmap cookies = HMAP_INITIALIZER(&cookies);
    ofsync_plan_cookie_deletes(sw, changes, n_changes, &cookies);

    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);
    size_t n_flow_mods = 0, n_cookie_deletes = 0;
    for (size_t i = 0; i < n_changes; i++) {
        const struct flowset_change *c = &changes[i];
        struct ofsync_cookie *ck = (c->type == FLOWSET_DELETE
                                    ? ofsync_cookie_find(&cookies,
                                                         c->flow->cookie)
                                    : NULL);
        bool by_cookie = ck && ck->by_cookie;

        if (by_cookie && ck->xid_valid) {
            /* Gone with the cookie's delete, sent earlier. */
            ofsync_record_sent(sw, ck->xid, c->type,
                               CONST_CAST(struct np_flow *, c->flow), true);
            n_flow_mods++;
            continue;
        }
        msg = ofsync_encode_change(c, by_cookie, &bc, version, &ofpacts);
        if (!msg) {
            struct ds s = DS_EMPTY_INITIALIZER;
            np_flow_format(c->flow, &s);
            VLOG_WARN_RL(&rl, "%s: flow too big for OpenFlow, not "
                         "installed: %.200s...", sw->target, ds_cstr(&s));
            ds_destroy(&s);
            sw->bundle_complete = false;
            continue;
        }
        ofsync_record_sent(sw, ofsync_msg_xid(msg), c->type,
                           CONST_CAST(struct np_flow *, c->flow), by_cookie);
        if (by_cookie) {
            ck->xid = ofsync_msg_xid(msg);
            ck->xid_valid = true;
            n_cookie_deletes++;
        }
        ofsync_conn_queue(sw, msg);
        n_flow_mods++;
    }
    ofpbuf_uninit(&ofpacts);
    ofsync_cookies_destroy(&cookies);
    free(changes);

    bc.type = OFPBCT_COMMIT_REQUEST;
    msg = ofputil_encode_bundle_ctrl_request(version, &bc);
    sw->commit_xid = ofsync_msg_xid(msg);
    ofsync_record_sent(sw, sw->commit_xid, FLOWSET_ADD, NULL, false);
    ofsync_conn_queue(sw, msg);

    if (!n_flow_mods) {
        /* Only unsendable flows differ.  Retrying at once would compute the
         * same again on every iteration of the main loop: back off. */
        flowset_journal_reset(desired);
        ofpbuf_clear(&sw->txbuf);
        sw->n_sent = 0;
        sw->backoff = (sw->backoff
                       ? MIN(sw->backoff * 2, OFSYNC_BACKOFF_MAX)
                       : OFSYNC_BACKOFF_MIN);
        sw->retry_at = time_msec() + sw->backoff;
        return;
    }

    int error = ofsync_conn_flush(sw);
    long long int sent_us = time_wall_usec();

    flowset_journal_reset(desired);
    sw->n_flow_mods += n_flow_mods;
    sw->n_cookie_deletes += n_cookie_deletes;
    if (error) {
        /* The connection is going away; the reconnect starts over. */
        sw->n_sent = 0;
        return;
    }

    /* The caller may change 'desired' before the switch answers: refer to
     * our own copies of the flows to add or modify.  The flows to delete
     * point into 'installed', which stays as it is until the bundle is
     * done. */
    ofsync_clear_pending(sw);
    for (size_t i = 0; i < sw->n_sent; i++) {
        struct ofsync_sent_msg *m = &sw->sent[i];
        if (m->flow && m->type != FLOWSET_DELETE) {
            m->flow = flowset_insert_copy(&sw->pending, m->flow);
        }
    }
    sw->in_flight = true;
    sw->bundle_sent_us = sent_us;
    if (VLOG_IS_DBG_ENABLED()) {
        ofsync_log_bundle(sw, bc.bundle_id);
        VLOG_DBG("%s: sent bundle %"PRIu32" with %"PRIuSIZE" flow_mods",
                 sw->target, sw->bundle_id, n_flow_mods);
    }
}

/* Reads the identity of the socket file into 'sw'.  Returns true if it is a
 * socket other than the one recorded before. */
static bool
ofsync_stat_socket(struct ofsync *sw)
{
    struct stat st;

    if (!sw->sock_path || stat(sw->sock_path, &st) || !S_ISSOCK(st.st_mode)
        || (st.st_dev == sw->sock_dev && st.st_ino == sw->sock_ino
            && st.st_ctim.tv_sec == sw->sock_ctime.tv_sec
            && st.st_ctim.tv_nsec == sw->sock_ctime.tv_nsec)) {
        return false;
    }
    sw->sock_dev = st.st_dev;
    sw->sock_ino = st.st_ino;
    sw->sock_ctime = st.st_ctim;
    return true;
}

/* A lost connection is retried once a second.  A restarted ovs-vswitchd
 * makes its management socket anew, and until our flows are in it forwards
 * nothing: so while disconnected, look at the socket file every
 * OFSYNC_SOCKET_CHECK_MSEC and connect at once when a new one appears. */
static void
ofsync_check_socket(struct ofsync *sw)
{
    if (!sw->sock_path || time_msec() < sw->next_sock_check) {
        return;
    }
    sw->next_sock_check = time_msec() + OFSYNC_SOCKET_CHECK_MSEC;
    if (ofsync_stat_socket(sw)) {
        VLOG_INFO("%s: new socket, connecting now", sw->target);
        ofsync_conn_open(sw);
    }
}

void
ofsync_run(struct ofsync *sw, struct flowset *desired)
{
    ofsync_conn_run(sw);
    if (sw->conn_state != OFSYNC_C_ACTIVE) {
        ofsync_check_socket(sw);
    }

    if (sw->conn_state != OFSYNC_C_ACTIVE) {
        if (sw->state != OFSYNC_S_DISCONNECTED) {
            ofsync_reset(sw, OFSYNC_S_DISCONNECTED);
        }
        return;
    }

    if (sw->state == OFSYNC_S_DISCONNECTED
        || sw->conn_seqno != sw->sync_seqno) {
        /* A new connection: the switch may have anything. */
        VLOG_INFO("%s: connected, reading the bridge's flows", sw->target);
        sw->sync_seqno = sw->conn_seqno;
        sw->n_connects++;
        ofsync_stat_socket(sw);
        ofsync_reset(sw, OFSYNC_S_NEED_DUMP);
    }

    for (int i = 0; i < OFSYNC_MAX_RECV; i++) {
        const struct ofp_header *oh = ofsync_conn_recv(sw);
        if (!oh) {
            break;
        }
        ofsync_handle_msg(sw, oh);
        if (i == OFSYNC_MAX_RECV - 1) {
            poll_immediate_wake();
        }
    }
    if (ofsync_conn_flush(sw)) {
        /* ofsync_conn_run() closes the connection, and the next
         * ofsync_run() starts over. */
        poll_immediate_wake();
        return;
    }

    if (sw->retry_at != LLONG_MIN && time_msec() < sw->retry_at) {
        return;
    }
    if (sw->txbuf.size) {
        /* Backlogged: the switch has not read what we sent yet. */
        return;
    }

    if (sw->state == OFSYNC_S_NEED_DUMP) {
        ofsync_send_dump(sw);
    } else if (sw->state == OFSYNC_S_SYNCING && !sw->in_flight && desired
               && desired->version != sw->synced_version) {
        ofsync_send_bundle(sw, desired);
    }
    ofsync_conn_flush(sw);
}

void
ofsync_wait(struct ofsync *sw)
{
    ofsync_conn_wait(sw);
    if (sw->sock_path && sw->conn_state != OFSYNC_C_ACTIVE) {
        poll_timer_wait_until(sw->next_sock_check);
    }
    if (sw->retry_at != LLONG_MIN) {
        poll_timer_wait_until(sw->retry_at);
    }
}

bool
ofsync_is_connected(const struct ofsync *sw)
{
    return sw->conn_state == OFSYNC_C_ACTIVE;
}

bool
ofsync_is_synced(const struct ofsync *sw, const struct flowset *desired)
{
    return (sw->state == OFSYNC_S_SYNCING
            && !sw->in_flight
            && desired
            && sw->synced_version
            && desired->version == sw->synced_version);
}

unsigned int
ofsync_connection_seqno(const struct ofsync *sw)
{
    return sw->conn_seqno;
}

uint64_t
ofsync_n_bundles(const struct ofsync *sw)
{
    return sw->n_bundles;
}

void
ofsync_last_bundle_times(const struct ofsync *sw, long long int *sent,
                         long long int *acked)
{
    *sent = sw->last_sent_us;
    *acked = sw->last_acked_us;
}

uint64_t
ofsync_n_flow_mods(const struct ofsync *sw)
{
    return sw->n_flow_mods;
}

void
ofsync_dump_installed(const struct ofsync *sw, struct ds *s)
{
    flowset_format(&sw->installed, s);
}

void
ofsync_dump_status(const struct ofsync *sw, struct ds *s)
{
    ds_put_format(s, "target: %s\n", sw->target ? sw->target : "(none)");
    ds_put_format(s, "connection: %s\n",
                  ofsync_conn_state_name(sw->conn_state));
    ds_put_format(s, "state: %s\n", ofsync_state_name(sw->state));
    ds_put_format(s, "installed flows: %"PRIuSIZE"\n",
                  flowset_count(&sw->installed));
    ds_put_format(s, "bundle in flight: %s\n",
                  sw->in_flight ? "yes" : "no");
    ds_put_format(s, "bundles committed: %"PRIu64"\n", sw->n_bundles);
    ds_put_format(s, "flow_mods sent: %"PRIu64"\n", sw->n_flow_mods);
    ds_put_format(s, "deletes by cookie: %"PRIu64"\n",
                  sw->n_cookie_deletes);
    ds_put_format(s, "connections: %"PRIu64"\n", sw->n_connects);
    ds_put_format(s, "flow dumps: %"PRIu64"\n", sw->n_dumps);
    ds_put_format(s, "failures: %"PRIu64"\n", sw->n_failures);
    if (sw->retry_at != LLONG_MIN) {
        ds_put_format(s, "retry in: %lld ms\n",
                      MAX(sw->retry_at - time_msec(), 0));
    }
}
