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
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
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
#include "openvswitch/rconn.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ofsync);

/* Messages handled per ofsync_run() before yielding to the main loop. */
#define OFSYNC_MAX_RECV 50

/* Backoff after a failed bundle or flow dump, in milliseconds. */
#define OFSYNC_BACKOFF_MIN 1000
#define OFSYNC_BACKOFF_MAX 8000

/* Longest wait between OpenFlow connection attempts, in seconds (rconn's
 * minimum, and the first backoff after a connection drops, is 1 s). */
#define OFSYNC_MAX_RECONNECT_SEC 1

/* While disconnected from a "unix:" target, how often to look at the
 * socket file for a new ovs-vswitchd, in milliseconds. */
#define OFSYNC_SOCKET_CHECK_MSEC 100

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
    struct np_flow *flow;       /* In 'pending' (ADD/MODIFY) or 'installed'
                                 * (DELETE); NULL for bundle control. */
};

struct ofsync {
    struct rconn *rconn;
    struct rconn_packet_counter *tx_counter;
    char *target;
    unsigned int conn_seqno;    /* Of 'rconn' when we last (re)started. */

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
    uint64_t n_flow_mods;
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
    sw->rconn = rconn_create(0, OFSYNC_MAX_RECONNECT_SEC, 0,
                             1u << OFP15_VERSION);
    sw->tx_counter = rconn_packet_counter_create();
    flowset_init(&sw->installed);
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
        rconn_destroy(sw->rconn);
        rconn_packet_counter_destroy(sw->tx_counter);
        flowset_destroy(&sw->installed);
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
    if (target) {
        rconn_connect(sw->rconn, target, target);
    } else {
        rconn_disconnect(sw->rconn);
    }
    sw->conn_seqno = rconn_get_connection_seqno(sw->rconn);
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
    flowset_clear(&sw->installed);
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

/* Sends 'msg'.  Returns 0 if it was queued, otherwise a positive errno (and
 * 'msg' is freed). */
static int
ofsync_send(struct ofsync *sw, struct ofpbuf *msg)
{
    int error = rconn_send(sw->rconn, msg, sw->tx_counter);
    if (error) {
        VLOG_WARN_RL(&rl, "%s: send failed (%s)", sw->target,
                     ovs_strerror(error));
    }
    return error;
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
    flowset_clear(&sw->installed);
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
        flowset_swap(&sw->installed, &sw->dumped);
        flowset_clear(&sw->dumped);
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
            flowset_remove(&sw->installed, m->flow);
        } else {
            /* An OFPFC_ADD replaces a flow with the same key (e.g. one
             * whose deletion was too big to send), a MODIFY the actions of
             * the one that is there. */
            struct np_flow *old = flowset_find_flow(&sw->installed, m->flow);
            if (old) {
                flowset_remove(&sw->installed, old);
            }
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
            if (m->flow && !VLOG_DROP_WARN(&rl)) {
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
                   enum flowset_change_type type, struct np_flow *flow)
{
    if (sw->n_sent >= sw->allocated_sent) {
        sw->sent = x2nrealloc(sw->sent, &sw->allocated_sent,
                              sizeof *sw->sent);
    }
    sw->sent[sw->n_sent++] = (struct ofsync_sent_msg) {
        .xid = xid,
        .type = type,
        .flow = flow,
    };
}

/* Encodes 'change' as a flow_mod wrapped in an OFPT_BUNDLE_ADD_MESSAGE for
 * bundle 'bc'.  Returns NULL if the message would be too big for OpenFlow's
 * 16-bit length. */
static struct ofpbuf *
ofsync_encode_change(const struct flowset_change *change,
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
        break;
    }
    if (change->type != FLOWSET_DELETE) {
        np_flow_get_ofpacts(flow, ofpacts);
        fm.ofpacts = ofpacts->data;
        fm.ofpacts_len = ofpacts->size;
    }

    struct ofpbuf *fm_msg = ofputil_encode_flow_mod(
        &fm, ofputil_protocol_from_ofp_version(version));
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

/* Leaves out of the bundle a change that could not be sent, so that
 * 'sw->installed' keeps reflecting what the bridge has once the bundle
 * commits: only the changes recorded in 'sw->sent' are applied to it, so
 * all that remains to do is to drop the copy of a flow to add or modify. */
static void
ofsync_unsend_change(struct ofsync *sw, const struct flowset_change *change)
{
    sw->bundle_complete = false;
    if (change->type != FLOWSET_DELETE) {
        flowset_remove(&sw->pending, CONST_CAST(struct np_flow *,
                                                change->flow));
    }
}

/* Sends the difference between 'desired' and 'sw->installed' as one atomic,
 * ordered bundle. */
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
    flowset_journal_reset(desired);
    if (!n_changes) {
        free(changes);
        sw->synced_version = desired->version;
        return;
    }

    /* The flows to add or modify point into 'desired', which the caller may
     * change before the switch answers: refer to our own copies instead.
     * The flows to delete point into 'installed', which stays as it is
     * until the bundle is done. */
    ofsync_clear_pending(sw);
    for (size_t i = 0; i < n_changes; i++) {
        if (changes[i].type != FLOWSET_DELETE) {
            changes[i].flow = flowset_insert_copy(&sw->pending,
                                                  changes[i].flow);
        }
    }
    sw->bundle_version = desired->version;
    sw->bundle_complete = true;

    enum ofp_version version = rconn_get_version(sw->rconn);
    struct ofputil_bundle_ctrl_msg bc = {
        .bundle_id = ++sw->bundle_id,
        .type = OFPBCT_OPEN_REQUEST,
        .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
    };
    sw->n_sent = 0;
    sw->bundle_failed = false;

    /* Encode everything first: if nothing can be sent, send no bundle. */
    struct ovs_list msgs = OVS_LIST_INITIALIZER(&msgs);
    struct ofpbuf *msg = ofputil_encode_bundle_ctrl_request(version, &bc);
    ofsync_record_sent(sw, ofsync_msg_xid(msg), FLOWSET_ADD, NULL);
    ovs_list_push_back(&msgs, &msg->list_node);

    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);
    size_t n_flow_mods = 0;
    for (size_t i = 0; i < n_changes; i++) {
        const struct flowset_change *c = &changes[i];

        msg = ofsync_encode_change(c, &bc, version, &ofpacts);
        if (!msg) {
            struct ds s = DS_EMPTY_INITIALIZER;
            np_flow_format(c->flow, &s);
            VLOG_WARN_RL(&rl, "%s: flow too big for OpenFlow, not "
                         "installed: %.200s...", sw->target, ds_cstr(&s));
            ds_destroy(&s);
            ofsync_unsend_change(sw, c);
            continue;
        }
        if (VLOG_IS_DBG_ENABLED()) {
            struct ds s = DS_EMPTY_INITIALIZER;
            np_flow_format(c->flow, &s);
            VLOG_DBG("%s: bundle %"PRIu32": %s %s", sw->target, bc.bundle_id,
                     (c->type == FLOWSET_ADD ? "add"
                      : c->type == FLOWSET_MODIFY ? "modify" : "delete"),
                     ds_cstr(&s));
            ds_destroy(&s);
        }
        ofsync_record_sent(sw, ofsync_msg_xid(msg), c->type,
                           CONST_CAST(struct np_flow *, c->flow));
        ovs_list_push_back(&msgs, &msg->list_node);
        n_flow_mods++;
    }
    ofpbuf_uninit(&ofpacts);
    free(changes);

    bc.type = OFPBCT_COMMIT_REQUEST;
    msg = ofputil_encode_bundle_ctrl_request(version, &bc);
    sw->commit_xid = ofsync_msg_xid(msg);
    ofsync_record_sent(sw, sw->commit_xid, FLOWSET_ADD, NULL);
    ovs_list_push_back(&msgs, &msg->list_node);

    if (!n_flow_mods) {
        /* Only unsendable flows differ.  Retrying at once would compute the
         * same again on every iteration of the main loop: back off. */
        ofpbuf_list_delete(&msgs);
        ofsync_clear_pending(sw);
        sw->n_sent = 0;
        sw->backoff = (sw->backoff
                       ? MIN(sw->backoff * 2, OFSYNC_BACKOFF_MAX)
                       : OFSYNC_BACKOFF_MIN);
        sw->retry_at = time_msec() + sw->backoff;
        return;
    }

    int error = 0;
    LIST_FOR_EACH_POP (msg, list_node, &msgs) {
        if (!error) {
            error = ofsync_send(sw, msg);
        } else {
            ofpbuf_delete(msg);
        }
    }
    sw->n_flow_mods += n_flow_mods;
    if (error) {
        /* The connection is going away; the reconnect starts over. */
        ofsync_clear_pending(sw);
        sw->n_sent = 0;
        return;
    }
    sw->in_flight = true;
    sw->bundle_sent_us = time_wall_usec();
    VLOG_DBG("%s: sent bundle %"PRIu32" with %"PRIuSIZE" flow_mods",
             sw->target, sw->bundle_id, n_flow_mods);
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

/* rconn retries a lost connection once a second.  A restarted ovs-vswitchd
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
        rconn_connect(sw->rconn, sw->target, sw->target);
    }
}

void
ofsync_run(struct ofsync *sw, struct flowset *desired)
{
    rconn_run(sw->rconn);
    if (!rconn_is_connected(sw->rconn)) {
        ofsync_check_socket(sw);
    }

    if (!rconn_is_connected(sw->rconn) || rconn_get_version(sw->rconn) < 0) {
        if (sw->state != OFSYNC_S_DISCONNECTED) {
            ofsync_reset(sw, OFSYNC_S_DISCONNECTED);
        }
        return;
    }

    unsigned int seqno = rconn_get_connection_seqno(sw->rconn);
    if (sw->state == OFSYNC_S_DISCONNECTED || seqno != sw->conn_seqno) {
        /* A new connection: the switch may have anything. */
        VLOG_INFO("%s: connected, reading the bridge's flows", sw->target);
        sw->conn_seqno = seqno;
        sw->n_connects++;
        ofsync_stat_socket(sw);
        ofsync_reset(sw, OFSYNC_S_NEED_DUMP);
    }

    for (int i = 0; i < OFSYNC_MAX_RECV; i++) {
        struct ofpbuf *msg = rconn_recv(sw->rconn);
        if (!msg) {
            break;
        }
        ofsync_handle_msg(sw, msg->data);
        ofpbuf_delete(msg);
        if (i == OFSYNC_MAX_RECV - 1) {
            poll_immediate_wake();
        }
    }

    if (sw->retry_at != LLONG_MIN && time_msec() < sw->retry_at) {
        return;
    }
    if (rconn_packet_counter_n_packets(sw->tx_counter)) {
        /* Backlogged: the switch has not read what we sent yet. */
        return;
    }

    if (sw->state == OFSYNC_S_NEED_DUMP) {
        ofsync_send_dump(sw);
    } else if (sw->state == OFSYNC_S_SYNCING && !sw->in_flight && desired
               && desired->version != sw->synced_version) {
        ofsync_send_bundle(sw, desired);
    }
}

void
ofsync_wait(struct ofsync *sw)
{
    rconn_run_wait(sw->rconn);
    rconn_recv_wait(sw->rconn);
    if (sw->sock_path && !rconn_is_connected(sw->rconn)) {
        poll_timer_wait_until(sw->next_sock_check);
    }
    if (sw->retry_at != LLONG_MIN) {
        poll_timer_wait_until(sw->retry_at);
    }
}

bool
ofsync_is_connected(const struct ofsync *sw)
{
    return rconn_is_connected(sw->rconn);
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
    return rconn_get_connection_seqno(sw->rconn);
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
    ds_put_format(s, "connection: %s\n", rconn_get_state(sw->rconn));
    ds_put_format(s, "state: %s\n", ofsync_state_name(sw->state));
    ds_put_format(s, "installed flows: %"PRIuSIZE"\n",
                  flowset_count(&sw->installed));
    ds_put_format(s, "bundle in flight: %s\n",
                  sw->in_flight ? "yes" : "no");
    ds_put_format(s, "bundles committed: %"PRIu64"\n", sw->n_bundles);
    ds_put_format(s, "flow_mods sent: %"PRIu64"\n", sw->n_flow_mods);
    ds_put_format(s, "connections: %"PRIu64"\n", sw->n_connects);
    ds_put_format(s, "flow dumps: %"PRIu64"\n", sw->n_dumps);
    ds_put_format(s, "failures: %"PRIu64"\n", sw->n_failures);
    if (sw->retry_at != LLONG_MIN) {
        ds_put_format(s, "retry in: %lld ms\n",
                      MAX(sw->retry_at - time_msec(), 0));
    }
}
