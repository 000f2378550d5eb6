/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>
#include "lib/npol-compile.h"

#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "hash.h"
#include "lib/flow-set.h"
#include "lib/k8s-cache.h"
#include "lib/label-selector.h"
#include "lib/portmap.h"
#include "netpol/pipeline.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "bitmap.h"
#include "sset.h"
#include "svec.h"
#include "util.h"

/* A pod on this node that has an OVS port and can be enforced. */
struct npc_local {
    const struct k8s_pod *pod;
    const struct portmap_entry *port;
};

/* A growable array of pods, of CIDRs, of L4 matches. */
struct npc_pods {
    const struct k8s_pod **pods;
    size_t n, allocated;
};

struct npc_cidrs {
    struct k8s_cidr *cidrs;
    size_t n, allocated;
};

/* One L4 match: 'proto' with destination port 'value'/'mask'; a zero mask
 * matches every port of 'proto'. */
struct npc_l4 {
    uint8_t proto;
    uint16_t value;
    uint16_t mask;
};

struct npc_l4s {
    struct npc_l4 *l4s;
    size_t n, allocated;
};

/* A set of peers (egress) or targets (ingress) that share one list of L4
 * matches, because named ports resolve alike for them. */
struct npc_group {
    char *key;                  /* Formatted 'l4s', the group's identity. */
    bool numeric;               /* Holds the rule's numeric ports, which
                                 * apply to every peer. */
    struct npc_l4s l4s;
    struct npc_cidrs cidrs;     /* Egress: peer addresses. */
    struct npc_local **locals;  /* Ingress: target pods. */
    size_t n_locals, allocated_locals;
};

/* One compilation step: the flows of one fragment (the fixed pipeline and
 * local pods, the isolation flows, or one policy) go to 'out'. */
struct npc_ctx {
    const struct npol_input *in;
    struct flowset *out;
    struct svec *problems;

    struct npc_local *locals;
    size_t n_locals;

    /* For the policy being compiled: its priority, and the conjunction ids
     * it uses so far (struct npc_id).  Ids are the priority in the upper
     * 16 bits, so they are unique in the table without looking at other
     * policies. */
    uint16_t priority;
    struct hmap used_ids;

    struct ofpbuf ofpacts;      /* Scratch action buffer. */
};

struct npc_id {
    struct hmap_node node;
    uint32_t id;
};

static const uint8_t npc_protos[] = {
    [K8S_PROTO_TCP] = 6, [K8S_PROTO_UDP] = 17, [K8S_PROTO_SCTP] = 132,
};

/* Growable arrays. */

static void
npc_pods_add(struct npc_pods *p, const struct k8s_pod *pod)
{
    if (p->n >= p->allocated) {
        p->pods = x2nrealloc(p->pods, &p->allocated, sizeof *p->pods);
    }
    p->pods[p->n++] = pod;
}

static void
npc_cidrs_add(struct npc_cidrs *c, const struct k8s_cidr *cidr)
{
    if (c->n >= c->allocated) {
        c->cidrs = x2nrealloc(c->cidrs, &c->allocated, sizeof *c->cidrs);
    }
    c->cidrs[c->n++] = *cidr;
}

static void
npc_l4s_add(struct npc_l4s *l, uint8_t proto, uint16_t value, uint16_t mask)
{
    if (l->n >= l->allocated) {
        l->l4s = x2nrealloc(l->l4s, &l->allocated, sizeof *l->l4s);
    }
    l->l4s[l->n++] = (struct npc_l4) { proto, value, mask };
}

static int
npc_l4_cmp(const void *a_, const void *b_)
{
    const struct npc_l4 *a = a_, *b = b_;
    if (a->proto != b->proto) {
        return a->proto < b->proto ? -1 : 1;
    } else if (a->value != b->value) {
        return a->value < b->value ? -1 : 1;
    } else if (a->mask != b->mask) {
        return a->mask < b->mask ? -1 : 1;
    }
    return 0;
}

/* Sorts 'l', removes duplicates and returns its canonical text. */
static char *
npc_l4s_canonicalize(struct npc_l4s *l)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    size_t n = 0;

    qsort(l->l4s, l->n, sizeof *l->l4s, npc_l4_cmp);
    for (size_t i = 0; i < l->n; i++) {
        if (n && !npc_l4_cmp(&l->l4s[n - 1], &l->l4s[i])) {
            continue;
        }
        l->l4s[n++] = l->l4s[i];
        ds_put_format(&s, "%s%"PRIu8":%"PRIu16"/%#"PRIx16,
                      n > 1 ? "," : "", l->l4s[i].proto, l->l4s[i].value,
                      l->l4s[i].mask);
    }
    l->n = n;
    return ds_steal_cstr(&s);
}

/* Addresses. */

static unsigned int
npc_cidr_bits(const struct k8s_cidr *c)
{
    return (c->is_ipv4 ? 96 : 0) + c->plen;
}

static bool
npc_prefix_equal(const struct in6_addr *a, const struct in6_addr *b,
                 unsigned int n_bits)
{
    unsigned int n_bytes = n_bits / 8;
    if (memcmp(a->s6_addr, b->s6_addr, n_bytes)) {
        return false;
    }
    if (n_bits % 8) {
        uint8_t mask = 0xff << (8 - n_bits % 8);
        return !((a->s6_addr[n_bytes] ^ b->s6_addr[n_bytes]) & mask);
    }
    return true;
}

/* True if 'outer' contains all of 'inner'. */
static bool
npc_cidr_contains(const struct k8s_cidr *outer, const struct k8s_cidr *inner)
{
    return (outer->is_ipv4 == inner->is_ipv4
            && outer->plen <= inner->plen
            && npc_prefix_equal(&outer->addr, &inner->addr,
                                npc_cidr_bits(outer)));
}

static size_t
npc_cidr_subtract__(const struct k8s_cidr *block,
                    const struct k8s_cidr *excepts, size_t n_excepts,
                    struct k8s_cidr *out, size_t max, size_t n)
{
    bool split = false;

    for (size_t i = 0; i < n_excepts; i++) {
        if (npc_cidr_contains(&excepts[i], block)) {
            return n;
        } else if (npc_cidr_contains(block, &excepts[i])) {
            split = true;
        }
    }
    if (!split) {
        if (n < max) {
            out[n] = *block;
        }
        return n + 1;
    }

    /* Some except lies strictly inside 'block': recurse on both halves. */
    struct k8s_cidr half = *block;
    unsigned int bit = npc_cidr_bits(block);
    half.plen++;
    n = npc_cidr_subtract__(&half, excepts, n_excepts, out, max, n);
    half.addr.s6_addr[bit / 8] |= 0x80 >> (bit % 8);
    return npc_cidr_subtract__(&half, excepts, n_excepts, out, max, n);
}

size_t
npol_cidr_subtract(const struct k8s_cidr *block,
                   const struct k8s_cidr *excepts, size_t n_excepts,
                   struct k8s_cidr *out, size_t max)
{
    return npc_cidr_subtract__(block, excepts, n_excepts, out, max, 0);
}

size_t
npol_port_range_split(uint16_t port, uint16_t end_port,
                      uint16_t values[32], uint16_t masks[32])
{
    uint32_t start = port, end = end_port;
    size_t n = 0;

    while (start <= end && n < 32) {
        uint32_t size = start ? start & -start : 0x10000;
        while (start + size - 1 > end) {
            size >>= 1;
        }
        values[n] = start;
        masks[n] = (uint16_t) ~(size - 1);
        n++;
        start += size;
    }
    return n;
}

/* Matches and actions. */

static void
npc_match_family(struct match *m, bool ipv4)
{
    match_set_dl_type(m, htons(ipv4 ? ETH_TYPE_IP : ETH_TYPE_IPV6));
}

static void
npc_match_addr(struct match *m, const struct k8s_cidr *c, bool src)
{
    npc_match_family(m, c->is_ipv4);
    if (c->is_ipv4) {
        ovs_be32 ip = in6_addr_get_mapped_ipv4(&c->addr);
        ovs_be32 mask = be32_prefix_mask(c->plen);
        if (src) {
            match_set_nw_src_masked(m, ip, mask);
        } else {
            match_set_nw_dst_masked(m, ip, mask);
        }
    } else {
        struct in6_addr mask = ipv6_create_mask(c->plen);
        if (src) {
            match_set_ipv6_src_masked(m, &c->addr, &mask);
        } else {
            match_set_ipv6_dst_masked(m, &c->addr, &mask);
        }
    }
}

static void
npc_match_l4(struct match *m, const struct npc_l4 *l4, bool ipv4)
{
    npc_match_family(m, ipv4);
    match_set_nw_proto(m, l4->proto);
    if (l4->mask) {
        match_set_tp_dst_masked(m, htons(l4->value), htons(l4->mask));
    }
}

static void
npc_match_src_kind(struct match *m, enum np_src kind)
{
    match_set_reg_masked(m, NP_REG_SRC, kind, NP_SRC_MASK);
}

static struct ofpbuf *
npc_acts(struct npc_ctx *ctx)
{
    ofpbuf_clear(&ctx->ofpacts);
    return &ctx->ofpacts;
}

static void
npc_put_goto(struct ofpbuf *a, enum np_table table)
{
    ofpact_put_GOTO_TABLE(a)->table_id = table;
}

static void
npc_put_load(struct ofpbuf *a, int reg, uint32_t value, uint32_t mask)
{
    union mf_value v, m;

    memset(&v, 0, sizeof v);
    memset(&m, 0, sizeof m);
    v.be32 = htonl(value);
    m.be32 = htonl(mask);
    ofpact_put_set_field(a, mf_from_id(MFF_REG0 + reg), &v, &m);
}

static void
npc_put_normal(struct ofpbuf *a)
{
    ofpact_put_OUTPUT(a)->port = OFPP_NORMAL;
}

static void
npc_put_ct_recirc(struct ofpbuf *a, enum np_table table)
{
    struct ofpact_conntrack *ct = ofpact_put_CT(a);
    ct->zone_imm = NP_CT_ZONE;
    ct->recirc_table = table;
    ofpact_finish_CT(a, &ct);
}

/* ct(commit) that records the allowing rules in ct_label: the ingress rule
 * in bits 0..31, the egress rule in bits 32..63. */
static void
npc_put_ct_commit(struct ofpbuf *a)
{
    size_t ofs = a->size;
    struct ofpact_conntrack *ct = ofpact_put_CT(a);
    ct->flags = NX_CT_F_COMMIT;
    ct->zone_imm = NP_CT_ZONE;
    ct->recirc_table = NX_CT_RECIRC_NONE;

    static const struct {
        int reg;
        int ofs;
    } moves[] = {
        { NP_REG_INGRESS_RULE, 0 },
        { NP_REG_EGRESS_RULE, 32 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(moves); i++) {
        struct ofpact_reg_move *mv = ofpact_put_REG_MOVE(a);
        mv->src.field = mf_from_id(MFF_REG0 + moves[i].reg);
        mv->src.ofs = 0;
        mv->src.n_bits = 32;
        mv->dst.field = mf_from_id(MFF_CT_LABEL);
        mv->dst.ofs = moves[i].ofs;
        mv->dst.n_bits = 32;
    }

    ct = ofpbuf_at_assert(a, ofs, sizeof *ct);
    a->header = ct;
    ofpact_finish_CT(a, &ct);
}

static void
npc_add(struct npc_ctx *ctx, enum np_table table, uint16_t priority,
        uint64_t cookie, const struct match *m, const struct ofpbuf *acts)
{
    if (!flowset_add(ctx->out, table, priority, cookie, m, acts)) {
        struct ds s = DS_EMPTY_INITIALIZER;
        match_format(m, NULL, &s, priority);
        svec_add_nocopy(ctx->problems,
                        xasprintf("conflicting flows in table %d for %s",
                                  table, ds_cstr(&s)));
        ds_destroy(&s);
    }
}

static void
npc_add_conj(struct npc_ctx *ctx, enum np_table table, uint16_t priority,
             uint64_t cookie, const struct match *m, uint32_t id,
             uint8_t clause, uint8_t n_clauses)
{
    const struct np_flow *f = flowset_find(ctx->out, table, priority, m);
    if (f && !f->n_conjs && f->cookie == cookie) {
        /* A rule of the same policy already allows everything this
         * clause's packets could need (npc_add_target_allow()). */
        return;
    }
    if (!flowset_add_conj(ctx->out, table, priority, cookie, m, id, clause,
                          n_clauses)) {
        svec_add_nocopy(ctx->problems,
                        xasprintf("conjunction %"PRIu32" clashes with another "
                                  "flow in table %d", id, table));
    }
}

/* Adds the flow of a rule that has only its target dimension (no peers,
 * no ports): it allows every packet that matches 'm', the target.  At the
 * policy's priority the same match can also be a target clause of another
 * rule of the policy; every conjunction that clause takes part in needs
 * 'm' too, so the plain flow subsumes them and replaces the clause flow.
 * A plain flow already there (an earlier allow-everything rule) wins. */
static void
npc_add_target_allow(struct npc_ctx *ctx, enum np_table table,
                     uint16_t priority, uint64_t cookie, const struct match *m,
                     const struct ofpbuf *acts)
{
    struct np_flow *f = flowset_find(ctx->out, table, priority, m);
    if (f && f->cookie == cookie) {
        if (!f->n_conjs) {
            return;
        }
        flowset_remove(ctx->out, f);
    }
    npc_add(ctx, table, priority, cookie, m, acts);
}

/* Stable identities. */

/* The hash of a namespaced object's name (pods in cookies, policies and
 * local pods in the compiler's maps). */
static uint32_t
npc_hash_name(const char *namespace, const char *name)
{
    return hash_string(name, hash_string(namespace, 0));
}

/* Returns a conjunction id for 'key', unique among the ids of the policy
 * being compiled: its priority above the low 16 bits of the key's hash,
 * probing upward on collision.  Callers visit keys in a fixed order, so the
 * ids are a function of the policy and what it selects.  Returns 0 if the
 * policy has no id left (65,535 conjunctions). */
static uint32_t
npc_alloc_id(struct npc_ctx *ctx, const char *key)
{
    uint32_t low = hash_string(key, 0) & 0xffff;

    if (hmap_count(&ctx->used_ids) >= 0xffff) {
        return 0;
    }
    for (;; low = (low + 1) & 0xffff) {
        uint32_t id = ((uint32_t) ctx->priority << 16) | low;
        struct npc_id *used;
        bool found = false;
        HMAP_FOR_EACH_WITH_HASH (used, node, id, &ctx->used_ids) {
            if (used->id == id) {
                found = true;
                break;
            }
        }
        if (!found) {
            used = xmalloc(sizeof *used);
            used->id = id;
            hmap_insert(&ctx->used_ids, &used->node, id);
            return id;
        }
    }
}

static void
npc_free_ids(struct hmap *ids)
{
    struct npc_id *id;
    HMAP_FOR_EACH_POP (id, node, ids) {
        free(id);
    }
}

/* Which pods count. */

static bool
npc_pod_is_live(const struct k8s_pod *pod)
{
    return (!pod->host_network && pod->n_ips
            && pod->phase != K8S_POD_SUCCEEDED
            && pod->phase != K8S_POD_FAILED);
}

static void
npc_find_locals(struct npc_ctx *ctx)
{
    const struct npol_input *in = ctx->in;
    const struct portmap_entry *e;
    size_t allocated = 0;

    PORTMAP_FOR_EACH (e, in->ports) {
        const struct k8s_pod *pod = kcache_find_pod(in->cache, e->namespace,
                                                    e->name);
        if (!pod || !npc_pod_is_live(pod)) {
            /* Unknown, finished or not yet addressed: no forwarding. */
            continue;
        }
        if (!pod->node_name || strcmp(pod->node_name, in->node_name)) {
            svec_add_nocopy(ctx->problems, xasprintf(
                "Pod %s/%s: OVS port %s is on node %s but the pod is "
                "scheduled on %s; not forwarding its traffic",
                e->namespace, e->name, e->iface_name, in->node_name,
                pod->node_name ? pod->node_name : "no node"));
            continue;
        }
        if (eth_addr_is_zero(e->mac)) {
            svec_add_nocopy(ctx->problems, xasprintf(
                "Pod %s/%s: OVS port %s has no MAC address in external_ids; "
                "not forwarding its traffic",
                e->namespace, e->name, e->iface_name));
            continue;
        }
        if (ctx->n_locals >= allocated) {
            ctx->locals = x2nrealloc(ctx->locals, &allocated,
                                     sizeof *ctx->locals);
        }
        ctx->locals[ctx->n_locals++] = (struct npc_local) { pod, e };
    }
}

/* The fixed pipeline. */

static void
npc_pipeline(struct npc_ctx *ctx)
{
    const uint64_t cookie = np_cookie(NP_COOKIE_PIPELINE, 0);
    struct ofpbuf *a;
    struct match m;

    /* Table misses: drop, except where the next table decides. */
    static const enum np_table drop_miss[] = {
        NP_T_CLASSIFY, NP_T_SPOOF_GUARD, NP_T_CONNTRACK, NP_T_FORWARD,
        NP_T_OUTPUT,
    };
    for (size_t i = 0; i < ARRAY_SIZE(drop_miss); i++) {
        match_init_catchall(&m);
        npc_add(ctx, drop_miss[i], NP_PRI_MISS, cookie, &m, npc_acts(ctx));
    }
    static const struct {
        enum np_table table, next;
    } goto_miss[] = {
        { NP_T_CT_STATE, NP_T_EGRESS_RULE },
        { NP_T_EGRESS_RULE, NP_T_EGRESS_DEFAULT },
        { NP_T_EGRESS_DEFAULT, NP_T_FORWARD },
        { NP_T_INGRESS_RULE, NP_T_INGRESS_DEFAULT },
        { NP_T_INGRESS_DEFAULT, NP_T_COMMIT },
        { NP_T_COMMIT, NP_T_OUTPUT },
    };
    for (size_t i = 0; i < ARRAY_SIZE(goto_miss); i++) {
        match_init_catchall(&m);
        a = npc_acts(ctx);
        npc_put_goto(a, goto_miss[i].next);
        npc_add(ctx, goto_miss[i].table, NP_PRI_MISS, cookie, &m, a);
    }

    for (int v4 = 0; v4 < 2; v4++) {
        /* Conntrack: every IP packet gets its connection state. */
        match_init_catchall(&m);
        npc_match_family(&m, v4);
        a = npc_acts(ctx);
        npc_put_ct_recirc(a, NP_T_CT_STATE);
        npc_add(ctx, NP_T_CONNTRACK, NP_PRI_POD, cookie, &m, a);

        /* Invalid packets are dropped; replies and related packets of
         * tracked connections skip policy. */
        match_init_catchall(&m);
        npc_match_family(&m, v4);
        match_set_ct_state_masked(&m, CS_TRACKED | CS_INVALID,
                                  CS_TRACKED | CS_INVALID);
        npc_add(ctx, NP_T_CT_STATE, NP_PRI_TOP, cookie, &m, npc_acts(ctx));

        uint32_t skip_states[3] = {
            CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR,
            CS_TRACKED | CS_RELATED,
            CS_TRACKED | CS_ESTABLISHED,
        };
        size_t n_skip = ctx->in->reeval_established ? 2 : 3;
        for (size_t i = 0; i < n_skip; i++) {
            match_init_catchall(&m);
            npc_match_family(&m, v4);
            match_set_ct_state_masked(&m, skip_states[i], skip_states[i]);
            a = npc_acts(ctx);
            npc_put_load(a, NP_REG_SRC, NP_SKIP_POLICY, NP_SKIP_POLICY);
            npc_put_goto(a, NP_T_FORWARD);
            npc_add(ctx, NP_T_CT_STATE, NP_PRI_TOP - 1 - i, cookie, &m, a);
        }

        /* Commit new connections that made it here, with their rules. */
        match_init_catchall(&m);
        npc_match_family(&m, v4);
        match_set_ct_state_masked(&m, CS_TRACKED | CS_NEW,
                                  CS_TRACKED | CS_NEW);
        a = npc_acts(ctx);
        npc_put_ct_commit(a);
        npc_put_goto(a, NP_T_OUTPUT);
        npc_add(ctx, NP_T_COMMIT, NP_PRI_POD, cookie, &m, a);
    }

    /* Only pods are subject to egress policy. */
    match_init_catchall(&m);
    match_set_reg_masked(&m, NP_REG_SRC, 0, NP_SRC_MASK);
    a = npc_acts(ctx);
    npc_put_goto(a, NP_T_FORWARD);
    npc_add(ctx, NP_T_EGRESS_RULE, NP_PRI_TOP, cookie, &m, a);
    match_init_catchall(&m);
    npc_match_src_kind(&m, NP_SRC_GATEWAY);
    npc_add(ctx, NP_T_EGRESS_RULE, NP_PRI_TOP, cookie, &m, a);

    /* Replies skip ingress policy and commit. */
    match_init_catchall(&m);
    match_set_reg_masked(&m, NP_REG_SRC, NP_SKIP_POLICY, NP_SKIP_POLICY);
    a = npc_acts(ctx);
    npc_put_goto(a, NP_T_OUTPUT);
    npc_add(ctx, NP_T_INGRESS_RULE, NP_PRI_TOP, cookie, &m, a);

    /* Output to whatever the forward table chose. */
    match_init_catchall(&m);
    a = npc_acts(ctx);
    struct ofpact_output_reg *out = ofpact_put_OUTPUT_REG(a);
    out->src.field = mf_from_id(MFF_REG0 + NP_REG_OUT);
    out->src.ofs = 0;
    out->src.n_bits = 32;
    npc_add(ctx, NP_T_OUTPUT, NP_PRI_POD, cookie, &m, a);
}

/* Neighbour discovery (router and neighbour solicitations and
 * advertisements) from 'port' (and, if nonnull, from MAC 'mac') is switched
 * normally, ahead of the port's IPv6 flows, which would send it to
 * conntrack and then to a forwarding table that knows no multicast. */
static void
npc_put_nd_normal(struct npc_ctx *ctx, ofp_port_t port,
                  const struct eth_addr *mac, uint64_t cookie)
{
    for (uint8_t type = 133; type <= 136; type++) {
        struct match m;
        match_init_catchall(&m);
        match_set_in_port(&m, port);
        if (mac) {
            match_set_dl_src(&m, *mac);
        }
        match_set_dl_type(&m, htons(ETH_TYPE_IPV6));
        match_set_nw_proto(&m, IPPROTO_ICMPV6);
        match_set_icmp_type(&m, type);
        struct ofpbuf *a = npc_acts(ctx);
        npc_put_normal(a);
        npc_add(ctx, NP_T_SPOOF_GUARD, NP_PRI_POD + 2, cookie, &m, a);
    }
}

/* The gateway: the node's own port on the bridge. */
static void
npc_gateway(struct npc_ctx *ctx)
{
    const struct npol_input *in = ctx->in;
    const uint64_t cookie = np_cookie(NP_COOKIE_PIPELINE, 0);
    ofp_port_t gw = in->gw_ofport;
    struct ofpbuf *a;
    struct match m;

    if (gw == OFPP_NONE || eth_addr_is_zero(in->gw_mac)) {
        return;
    }

    match_init_catchall(&m);
    match_set_in_port(&m, gw);
    a = npc_acts(ctx);
    npc_put_load(a, NP_REG_SRC, NP_SRC_GATEWAY, NP_SRC_MASK);
    npc_put_goto(a, NP_T_SPOOF_GUARD);
    npc_add(ctx, NP_T_CLASSIFY, NP_PRI_POD, cookie, &m, a);

    /* The node may send anything: IP goes through conntrack, the rest
     * (ARP, neighbour discovery) is switched normally. */
    for (int v4 = 0; v4 < 2; v4++) {
        match_init_catchall(&m);
        match_set_in_port(&m, gw);
        npc_match_family(&m, v4);
        a = npc_acts(ctx);
        npc_put_goto(a, NP_T_CONNTRACK);
        npc_add(ctx, NP_T_SPOOF_GUARD, NP_PRI_POD + 1, cookie, &m, a);
    }
    match_init_catchall(&m);
    match_set_in_port(&m, gw);
    a = npc_acts(ctx);
    npc_put_normal(a);
    npc_add(ctx, NP_T_SPOOF_GUARD, NP_PRI_POD, cookie, &m, a);
    npc_put_nd_normal(ctx, gw, NULL, cookie);

    match_init_catchall(&m);
    match_set_dl_dst(&m, in->gw_mac);
    a = npc_acts(ctx);
    npc_put_load(a, NP_REG_OUT, ofp_to_u16(gw), UINT32_MAX);
    npc_put_goto(a, NP_T_INGRESS_RULE);
    npc_add(ctx, NP_T_FORWARD, NP_PRI_POD, cookie, &m, a);

    /* Traffic leaving the node is not subject to ingress policy here. */
    match_init_catchall(&m);
    match_set_reg(&m, NP_REG_OUT, ofp_to_u16(gw));
    a = npc_acts(ctx);
    npc_put_goto(a, NP_T_COMMIT);
    npc_add(ctx, NP_T_INGRESS_RULE, NP_PRI_TOP - 1, cookie, &m, a);

    /* The node itself always reaches its pods. */
    for (size_t i = 0; i < in->n_gw_ips; i++) {
        match_init_catchall(&m);
        npc_match_src_kind(&m, NP_SRC_GATEWAY);
        npc_match_addr(&m, &in->gw_ips[i], true);
        npc_add(ctx, NP_T_INGRESS_RULE, NP_PRI_TOP - 2, cookie, &m, a);
    }

    /* ...and its pods always reach it: egress policy does not apply to
     * the node's own addresses. */
    for (size_t i = 0; i < in->n_gw_ips; i++) {
        match_init_catchall(&m);
        npc_match_addr(&m, &in->gw_ips[i], false);
        a = npc_acts(ctx);
        npc_put_goto(a, NP_T_FORWARD);
        npc_add(ctx, NP_T_EGRESS_RULE, NP_PRI_TOP - 2, cookie, &m, a);
    }
}

/* Classification, spoof guard and forwarding for one local pod, and the
 * pod's right to reach itself. */
static void
npc_local_pod(struct npc_ctx *ctx, const struct npc_local *l)
{
    const struct portmap_entry *port = l->port;
    const struct k8s_pod *pod = l->pod;
    const uint32_t pod_hash = npc_hash_name(pod->namespace, pod->name);
    const uint64_t cookie = np_cookie(NP_COOKIE_POD, pod_hash);
    struct ofpbuf *a;
    struct match m;

    match_init_catchall(&m);
    match_set_in_port(&m, port->ofport);
    a = npc_acts(ctx);
    npc_put_load(a, NP_REG_SRC, NP_SRC_POD, NP_SRC_MASK);
    npc_put_goto(a, NP_T_SPOOF_GUARD);
    npc_add(ctx, NP_T_CLASSIFY, NP_PRI_POD, cookie, &m, a);

    bool has_v6 = false;
    for (size_t i = 0; i < pod->n_ips; i++) {
        const struct k8s_cidr *ip = &pod->ips[i];

        /* IP only from the pod's own MAC and address. */
        match_init_catchall(&m);
        match_set_in_port(&m, port->ofport);
        match_set_dl_src(&m, port->mac);
        npc_match_addr(&m, ip, true);
        a = npc_acts(ctx);
        npc_put_goto(a, NP_T_CONNTRACK);
        npc_add(ctx, NP_T_SPOOF_GUARD, NP_PRI_POD, cookie, &m, a);

        if (ip->is_ipv4) {
            match_init_catchall(&m);
            match_set_in_port(&m, port->ofport);
            match_set_dl_src(&m, port->mac);
            match_set_dl_type(&m, htons(ETH_TYPE_ARP));
            match_set_nw_src(&m, in6_addr_get_mapped_ipv4(&ip->addr));
            match_set_arp_sha(&m, port->mac);
            a = npc_acts(ctx);
            npc_put_normal(a);
            npc_add(ctx, NP_T_SPOOF_GUARD, NP_PRI_POD, cookie, &m, a);
        } else {
            has_v6 = true;
        }

        /* A pod may always reach itself. */
        match_init_catchall(&m);
        npc_match_addr(&m, ip, true);
        struct k8s_cidr dst = *ip;
        npc_match_addr(&m, &dst, false);
        a = npc_acts(ctx);
        npc_put_goto(a, NP_T_FORWARD);
        npc_add(ctx, NP_T_EGRESS_RULE, NP_PRI_TOP - 1, cookie, &m, a);

        match_init_catchall(&m);
        npc_match_addr(&m, ip, true);
        match_set_reg(&m, NP_REG_OUT, ofp_to_u16(port->ofport));
        a = npc_acts(ctx);
        npc_put_goto(a, NP_T_COMMIT);
        npc_add(ctx, NP_T_INGRESS_RULE, NP_PRI_TOP - 3, cookie, &m, a);
    }

    if (has_v6) {
        npc_put_nd_normal(ctx, port->ofport, &port->mac, cookie);
    }

    match_init_catchall(&m);
    match_set_dl_dst(&m, port->mac);
    a = npc_acts(ctx);
    npc_put_load(a, NP_REG_OUT, ofp_to_u16(port->ofport), UINT32_MAX);
    npc_put_goto(a, NP_T_INGRESS_RULE);
    npc_add(ctx, NP_T_FORWARD, NP_PRI_POD, cookie, &m, a);
}

/* Selection. */

static bool
npc_pod_in_policy_scope(const struct k8s_network_policy *np,
                        const struct k8s_pod *pod)
{
    return (!strcmp(pod->namespace, np->namespace)
            && lsel_matches(&np->pod_selector, &pod->labels));
}

/* True if 'ip' lies in the ipBlock of 'peer' and in none of its
 * excepts. */
static bool
npc_peer_block_contains(const struct k8s_policy_peer *peer,
                        const struct k8s_cidr *ip)
{
    if (!npc_cidr_contains(peer->ip_block, ip)) {
        return false;
    }
    for (size_t i = 0; i < peer->n_excepts; i++) {
        if (npc_cidr_contains(&peer->excepts[i], ip)) {
            return false;
        }
    }
    return true;
}

/* Appends to 'out' every address 'peer' of 'np' selects. */
static void
npc_peer_cidrs(struct npc_ctx *ctx, const struct k8s_network_policy *np,
               const struct k8s_policy_peer *peer, struct npc_cidrs *out,
               struct npc_pods *pods_out)
{
    if (peer->ip_block) {
        size_t n = npol_cidr_subtract(peer->ip_block, peer->excepts,
                                      peer->n_excepts, NULL, 0);
        struct k8s_cidr *cidrs = xmalloc(n * sizeof *cidrs);
        npol_cidr_subtract(peer->ip_block, peer->excepts, peer->n_excepts,
                           cidrs, n);
        for (size_t i = 0; i < n; i++) {
            npc_cidrs_add(out, &cidrs[i]);
        }
        free(cidrs);
        return;
    }

    struct svec namespaces = SVEC_EMPTY_INITIALIZER;
    if (peer->namespace_selector) {
        const struct k8s_namespace *ns;
        KCACHE_FOR_EACH_NAMESPACE (ns, ctx->in->cache) {
            if (lsel_matches(peer->namespace_selector, &ns->labels)) {
                svec_add(&namespaces, ns->name);
            }
        }
    } else {
        svec_add(&namespaces, np->namespace);
    }

    const char *ns_name;
    size_t i;
    SVEC_FOR_EACH (i, ns_name, &namespaces) {
        const struct hmap *pods = kcache_namespace_pods(ctx->in->cache,
                                                        ns_name);
        const struct k8s_pod *pod;
        if (!pods) {
            continue;
        }
        KCACHE_FOR_EACH_POD_IN (pod, pods) {
            if (npc_pod_is_live(pod)
                && (!peer->pod_selector
                    || lsel_matches(peer->pod_selector, &pod->labels))) {
                if (pods_out) {
                    npc_pods_add(pods_out, pod);
                } else {
                    for (size_t k = 0; k < pod->n_ips; k++) {
                        npc_cidrs_add(out, &pod->ips[k]);
                    }
                }
            }
        }
    }
    svec_destroy(&namespaces);
}

/* Appends to 'l4s' the matches for the ports of 'rule': numeric ports if
 * 'numeric', and named ports as 'pod' resolves them if 'pod' is nonnull. */
static void
npc_rule_l4s(const struct k8s_policy_rule *rule, bool numeric,
             const struct k8s_pod *pod, struct npc_l4s *l4s)
{
    for (size_t i = 0; i < rule->n_ports; i++) {
        const struct k8s_policy_port *pp = &rule->ports[i];
        uint8_t proto = npc_protos[pp->protocol];

        if (pp->port_name) {
            for (size_t j = 0; pod && j < pod->n_ports; j++) {
                const struct k8s_container_port *cp = &pod->ports[j];
                if (cp->name && !strcmp(cp->name, pp->port_name)
                    && cp->protocol == pp->protocol) {
                    npc_l4s_add(l4s, proto, cp->port, UINT16_MAX);
                }
            }
        } else if (!numeric) {
            continue;
        } else if (!pp->port) {
            npc_l4s_add(l4s, proto, 0, 0);
        } else if (pp->end_port > pp->port) {
            uint16_t values[32], masks[32];
            size_t n = npol_port_range_split(pp->port, pp->end_port,
                                             values, masks);
            for (size_t j = 0; j < n; j++) {
                npc_l4s_add(l4s, proto, values[j], masks[j]);
            }
        } else {
            npc_l4s_add(l4s, proto, pp->port, UINT16_MAX);
        }
    }
}

static bool
npc_rule_has_named_ports(const struct k8s_policy_rule *rule)
{
    for (size_t i = 0; i < rule->n_ports; i++) {
        if (rule->ports[i].port_name) {
            return true;
        }
    }
    return false;
}

static struct npc_group *
npc_group_find(struct shash *groups, struct npc_l4s *l4s)
{
    char *key = npc_l4s_canonicalize(l4s);
    struct npc_group *g = shash_find_data(groups, key);
    if (!g) {
        g = xzalloc(sizeof *g);
        g->key = key;
        g->l4s = *l4s;
        shash_add(groups, key, g);
    } else {
        free(key);
        free(l4s->l4s);
    }
    memset(l4s, 0, sizeof *l4s);
    return g;
}

static void
npc_group_add_local(struct npc_group *g, struct npc_local *l)
{
    if (g->n_locals >= g->allocated_locals) {
        g->locals = x2nrealloc(g->locals, &g->allocated_locals,
                               sizeof *g->locals);
    }
    g->locals[g->n_locals++] = l;
}

static void
npc_groups_destroy(struct shash *groups)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, groups) {
        struct npc_group *g = node->data;
        free(g->key);
        free(g->l4s.l4s);
        free(g->cidrs.cidrs);
        free(g->locals);
        free(g);
    }
    shash_destroy(groups);
}

static bool
npc_local_has_family(const struct npc_local *l, bool v4)
{
    for (size_t i = 0; i < l->pod->n_ips; i++) {
        if (l->pod->ips[i].is_ipv4 == v4) {
            return true;
        }
    }
    return false;
}

/* Emits one conjunction: a rule instance for one address family and one
 * group of L4 matches.  Dimensions: peers (unless 'all_peers'), targets,
 * ports (unless 'all_ports').  An empty peer, target or port list allows
 * nothing. */
struct npc_conj {
    bool ingress;
    bool v4;
    uint16_t priority;
    uint64_t cookie;
    const char *key;            /* Identity, for the conjunction id. */
    bool all_peers;
    const struct npc_cidrs *peers;
    struct npc_local *const *targets;
    size_t n_targets;
    bool all_ports;
    const struct npc_l4s *l4s;
};

static void
npc_emit_conj(struct npc_ctx *ctx, const struct npc_conj *c)
{
    enum np_table table = c->ingress ? NP_T_INGRESS_RULE : NP_T_EGRESS_RULE;
    enum np_table next = c->ingress ? NP_T_COMMIT : NP_T_FORWARD;
    int rule_reg = c->ingress ? NP_REG_INGRESS_RULE : NP_REG_EGRESS_RULE;
    size_t n_peers = 0, n_l4s = 0, n_targets = 0;
    struct ofpbuf *a;
    struct match m;

    for (size_t i = 0; !c->all_peers && i < c->peers->n; i++) {
        n_peers += c->peers->cidrs[i].is_ipv4 == c->v4;
    }
    for (size_t i = 0; i < c->n_targets; i++) {
        n_targets += npc_local_has_family(c->targets[i], c->v4);
    }
    n_l4s = c->all_ports ? 0 : c->l4s->n;
    if ((!c->all_peers && !n_peers) || !n_targets
        || (!c->all_ports && !n_l4s)) {
        return;
    }

    uint32_t id = npc_alloc_id(ctx, c->key);
    if (!id) {
        svec_add_nocopy(ctx->problems, xasprintf(
            "conjunction %s: the policy has too many conjunctions; this one "
            "allows nothing", c->key));
        return;
    }
    uint8_t n_clauses = 1 + !c->all_peers + !c->all_ports;
    uint8_t peer_clause = 1;
    uint8_t target_clause = c->all_peers ? 1 : 2;
    uint8_t port_clause = n_clauses;

    /* Target flows: ingress by output port, egress by source address.  A
     * rule with only this dimension needs no conjunction. */
    for (size_t i = 0; i < c->n_targets; i++) {
        const struct npc_local *l = c->targets[i];
        for (size_t j = 0; j < l->pod->n_ips; j++) {
            const struct k8s_cidr *ip = &l->pod->ips[j];
            if (ip->is_ipv4 != c->v4) {
                continue;
            }
            match_init_catchall(&m);
            if (c->ingress) {
                npc_match_family(&m, c->v4);
                match_set_reg(&m, NP_REG_OUT, ofp_to_u16(l->port->ofport));
            } else {
                npc_match_addr(&m, ip, true);
            }
            if (n_clauses == 1) {
                a = npc_acts(ctx);
                npc_put_load(a, rule_reg, id, UINT32_MAX);
                npc_put_goto(a, next);
                npc_add_target_allow(ctx, table, c->priority, c->cookie, &m,
                                     a);
            } else {
                npc_add_conj(ctx, table, c->priority, c->cookie, &m, id,
                             target_clause, n_clauses);
            }
            if (c->ingress) {
                break;          /* One flow per port and family. */
            }
        }
    }
    if (n_clauses == 1) {
        return;
    }

    for (size_t i = 0; !c->all_peers && i < c->peers->n; i++) {
        const struct k8s_cidr *peer = &c->peers->cidrs[i];
        if (peer->is_ipv4 == c->v4) {
            match_init_catchall(&m);
            npc_match_addr(&m, peer, c->ingress);
            npc_add_conj(ctx, table, c->priority, c->cookie, &m, id,
                         peer_clause, n_clauses);
        }
    }
    for (size_t i = 0; i < n_l4s; i++) {
        match_init_catchall(&m);
        npc_match_l4(&m, &c->l4s->l4s[i], c->v4);
        npc_add_conj(ctx, table, c->priority, c->cookie, &m, id,
                     port_clause, n_clauses);
    }

    match_init_catchall(&m);
    match_set_conj_id(&m, id);
    a = npc_acts(ctx);
    npc_put_load(a, rule_reg, id, UINT32_MAX);
    npc_put_goto(a, next);
    npc_add(ctx, table, c->priority, c->cookie, &m, a);
}

/* Compiles rule 'idx' of 'np' in one direction for the local 'targets'. */
static void
npc_rule(struct npc_ctx *ctx, const struct k8s_network_policy *np,
         bool ingress, size_t idx, struct npc_local **targets,
         size_t n_targets, uint16_t priority)
{
    const struct k8s_policy_rule *rule
        = ingress ? &np->ingress[idx] : &np->egress[idx];
    bool named = rule->has_ports && npc_rule_has_named_ports(rule);
    struct shash groups = SHASH_INITIALIZER(&groups);
    struct npc_cidrs peers = { NULL, 0, 0 };
    struct npc_l4s l4s = { NULL, 0, 0 };

    /* Every peer's addresses, and the numeric ports, which hold for every
     * peer and target alike. */
    for (size_t i = 0; rule->has_peers && i < rule->n_peers; i++) {
        npc_peer_cidrs(ctx, np, &rule->peers[i], &peers, NULL);
    }
    npc_rule_l4s(rule, true, NULL, &l4s);
    if (!rule->has_ports || l4s.n) {
        struct npc_group *g = npc_group_find(&groups, &l4s);
        g->numeric = true;
        for (size_t i = 0; ingress && i < n_targets; i++) {
            npc_group_add_local(g, targets[i]);
        }
        for (size_t i = 0; !ingress && i < peers.n; i++) {
            npc_cidrs_add(&g->cidrs, &peers.cidrs[i]);
        }
    }
    free(l4s.l4s);

    /* Named ports resolve on the target pod (ingress) or on each
     * destination pod (egress); pods that resolve alike share a group. */
    if (named && ingress) {
        for (size_t i = 0; i < n_targets; i++) {
            struct npc_l4s pod_l4s = { NULL, 0, 0 };
            npc_rule_l4s(rule, false, targets[i]->pod, &pod_l4s);
            if (pod_l4s.n) {
                struct npc_group *g = npc_group_find(&groups, &pod_l4s);
                npc_group_add_local(g, targets[i]);
            } else {
                free(pod_l4s.l4s);
            }
        }
    } else if (named) {
        /* (pod, address) pairs: pods.pods[i] has address ips.cidrs[i].  A
         * selector peer contributes every address of the pods it selects,
         * an ipBlock peer the pod addresses inside it: a named port
         * resolves on the destination pod however the peer matched it. */
        struct npc_pods pods = { NULL, 0, 0 };
        struct npc_cidrs ips = { NULL, 0, 0 };
        const struct k8s_pod *pod;
        for (size_t i = 0; rule->has_peers && i < rule->n_peers; i++) {
            const struct k8s_policy_peer *peer = &rule->peers[i];
            if (peer->ip_block) {
                KCACHE_FOR_EACH_POD (pod, ctx->in->cache) {
                    for (size_t k = 0; npc_pod_is_live(pod)
                                       && k < pod->n_ips; k++) {
                        if (npc_peer_block_contains(peer, &pod->ips[k])) {
                            npc_pods_add(&pods, pod);
                            npc_cidrs_add(&ips, &pod->ips[k]);
                        }
                    }
                }
            } else {
                struct npc_pods selected = { NULL, 0, 0 };
                npc_peer_cidrs(ctx, np, peer, NULL, &selected);
                for (size_t j = 0; j < selected.n; j++) {
                    for (size_t k = 0; k < selected.pods[j]->n_ips; k++) {
                        npc_pods_add(&pods, selected.pods[j]);
                        npc_cidrs_add(&ips, &selected.pods[j]->ips[k]);
                    }
                }
                free(selected.pods);
            }
        }
        if (!rule->has_peers) {
            KCACHE_FOR_EACH_POD (pod, ctx->in->cache) {
                for (size_t k = 0; npc_pod_is_live(pod) && k < pod->n_ips;
                     k++) {
                    npc_pods_add(&pods, pod);
                    npc_cidrs_add(&ips, &pod->ips[k]);
                }
            }
        }
        for (size_t i = 0; i < pods.n; i++) {
            struct npc_l4s pod_l4s = { NULL, 0, 0 };
            npc_rule_l4s(rule, false, pods.pods[i], &pod_l4s);
            if (pod_l4s.n) {
                struct npc_group *g = npc_group_find(&groups, &pod_l4s);
                npc_cidrs_add(&g->cidrs, &ips.cidrs[i]);
            } else {
                free(pod_l4s.l4s);
            }
        }
        free(pods.pods);
        free(ips.cidrs);
    }

    /* One conjunction per group and address family.  The numeric group's
     * conjunction id does not depend on its ports: editing a rule's port
     * then rewrites the port flows only, not every peer and target flow. */
    const struct shash_node **sorted = shash_sort(&groups);
    for (size_t i = 0; i < shash_count(&groups); i++) {
        const struct npc_group *g = sorted[i]->data;
        for (int v4 = 1; v4 >= 0; v4--) {
            char *key = xasprintf("%s|%s|%"PRIuSIZE"|%s|%s", np->uid,
                                  ingress ? "in" : "eg", idx,
                                  v4 ? "ip4" : "ip6",
                                  g->numeric ? "numeric" : g->key);
            struct npc_conj c = {
                .ingress = ingress,
                .v4 = v4,
                .priority = priority,
                .cookie = np_cookie(ingress ? NP_COOKIE_INGRESS
                                    : NP_COOKIE_EGRESS,
                                    hash_string(np->uid, 0)),
                .key = key,
                .all_peers = (!rule->has_peers
                              && (ingress || g->numeric)),
                .peers = ingress ? &peers : &g->cidrs,
                .targets = ingress ? g->locals : targets,
                .n_targets = ingress ? g->n_locals : n_targets,
                .all_ports = !rule->has_ports,
                .l4s = &g->l4s,
            };
            npc_emit_conj(ctx, &c);
            free(key);
        }
    }
    free(sorted);
    npc_groups_destroy(&groups);
    free(peers.cidrs);
}

/* What may make a policy's flows change. */

/* Returns the 'k'th rule of 'np', ingress rules first, and sets '*ingress'
 * to its direction; NULL past the last rule. */
static const struct k8s_policy_rule *
npc_nth_rule(const struct k8s_network_policy *np, size_t k, bool *ingress)
{
    if (k < np->n_ingress) {
        *ingress = true;
        return &np->ingress[k];
    }
    k -= np->n_ingress;
    if (k < np->n_egress) {
        *ingress = false;
        return &np->egress[k];
    }
    return NULL;
}

/* True if 'peer' (not an ipBlock) of 'np' selects 'pod', whose namespace
 * is 'pod_ns' (NULL if unknown). */
static bool
npc_peer_selects(const struct k8s_network_policy *np,
                 const struct k8s_policy_peer *peer, const struct k8s_pod *pod,
                 const struct k8s_namespace *pod_ns)
{
    if (peer->namespace_selector) {
        if (!pod_ns
            || !lsel_matches(peer->namespace_selector, &pod_ns->labels)) {
            return false;
        }
    } else if (strcmp(pod->namespace, np->namespace)) {
        return false;
    }
    return !peer->pod_selector || lsel_matches(peer->pod_selector,
                                               &pod->labels);
}

/* True if compiling 'np' may read 'pod' (as it is now or as it was): as a
 * target, as a peer, or as a destination whose named ports resolve.  Errs
 * toward true. */
static bool
npc_policy_may_use_pod(const struct k8s_network_policy *np,
                       const struct k8s_pod *pod,
                       const struct k8s_namespace *pod_ns)
{
    if (!strcmp(pod->namespace, np->namespace)
        && lsel_matches(&np->pod_selector, &pod->labels)) {
        return true;
    }
    const struct k8s_policy_rule *rule;
    bool ingress;
    for (size_t k = 0; (rule = npc_nth_rule(np, k, &ingress)); k++) {
        bool named = (!ingress && rule->has_ports
                      && npc_rule_has_named_ports(rule));
        if (named && !rule->has_peers) {
            return true;
        }
        for (size_t j = 0; rule->has_peers && j < rule->n_peers; j++) {
            const struct k8s_policy_peer *peer = &rule->peers[j];
            if (!peer->ip_block) {
                if (npc_peer_selects(np, peer, pod, pod_ns)) {
                    return true;
                }
                continue;
            }
            for (size_t i = 0; named && i < pod->n_ips; i++) {
                if (npc_peer_block_contains(peer, &pod->ips[i])) {
                    return true;
                }
            }
        }
    }
    return false;
}

/* True if 'a' and 'b', two versions of one pod, differ at most in what the
 * compiler reads only through selectors: labels. */
static bool
npc_pod_differs_only_in_labels(const struct k8s_pod *a,
                               const struct k8s_pod *b)
{
    if (a->host_network != b->host_network || a->phase != b->phase
        || !nullable_string_is_equal(a->node_name, b->node_name)
        || a->n_ips != b->n_ips || a->n_ports != b->n_ports) {
        return false;
    }
    for (size_t i = 0; i < a->n_ips; i++) {
        if (a->ips[i].is_ipv4 != b->ips[i].is_ipv4
            || a->ips[i].plen != b->ips[i].plen
            || !ipv6_addr_equals(&a->ips[i].addr, &b->ips[i].addr)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_ports; i++) {
        if (a->ports[i].port != b->ports[i].port
            || a->ports[i].protocol != b->ports[i].protocol
            || !nullable_string_is_equal(a->ports[i].name,
                                         b->ports[i].name)) {
            return false;
        }
    }
    return true;
}

/* True if a selector of 'np' tells 'a' and 'b' apart: two versions of one
 * pod that differ only in labels. */
static bool
npc_policy_selection_differs(const struct k8s_network_policy *np,
                             const struct k8s_pod *a, const struct k8s_pod *b,
                             const struct k8s_namespace *ns)
{
    if (!strcmp(a->namespace, np->namespace)
        && (lsel_matches(&np->pod_selector, &a->labels)
            != lsel_matches(&np->pod_selector, &b->labels))) {
        return true;
    }
    const struct k8s_policy_rule *rule;
    bool ingress;
    for (size_t k = 0; (rule = npc_nth_rule(np, k, &ingress)); k++) {
        for (size_t j = 0; j < rule->n_peers; j++) {
            const struct k8s_policy_peer *peer = &rule->peers[j];
            if (!peer->ip_block
                && (npc_peer_selects(np, peer, a, ns)
                    != npc_peer_selects(np, peer, b, ns))) {
                return true;
            }
        }
    }
    return false;
}

/* True if a peer of 'np' has a namespaceSelector that matches 'labels'. */
static bool
npc_policy_may_use_namespace(const struct k8s_network_policy *np,
                             const struct smap *labels)
{
    const struct k8s_policy_rule *rule;
    bool ingress;
    for (size_t k = 0; (rule = npc_nth_rule(np, k, &ingress)); k++) {
        for (size_t j = 0; j < rule->n_peers; j++) {
            const struct k8s_selector *sel
                = rule->peers[j].namespace_selector;
            if (sel && lsel_matches(sel, labels)) {
                return true;
            }
        }
    }
    return false;
}

/* Compilation of one part. */

static void
npc_ctx_init(struct npc_ctx *ctx, const struct npol_input *in,
             struct npc_local *locals, size_t n_locals)
{
    *ctx = (struct npc_ctx) {
        .in = in,
        .locals = locals,
        .n_locals = n_locals,
        .used_ids = HMAP_INITIALIZER(&ctx->used_ids),
    };
    ofpbuf_init(&ctx->ofpacts, 64);
}

static void
npc_ctx_destroy(struct npc_ctx *ctx)
{
    npc_free_ids(&ctx->used_ids);
    hmap_destroy(&ctx->used_ids);
    ofpbuf_uninit(&ctx->ofpacts);
}

static void
npc_isolate(struct npc_ctx *ctx, const struct npc_local *l, bool ingress)
{
    const struct k8s_pod *pod = l->pod;
    const uint32_t pod_hash = npc_hash_name(pod->namespace, pod->name);
    const uint64_t cookie = np_cookie(NP_COOKIE_ISOLATION, pod_hash);
    struct match m;

    if (ingress) {
        /* Only IP reaches this table: one flow covers both families. */
        match_init_catchall(&m);
        match_set_reg(&m, NP_REG_OUT, ofp_to_u16(l->port->ofport));
        npc_add(ctx, NP_T_INGRESS_DEFAULT, NP_PRI_ISOLATION, cookie, &m,
                npc_acts(ctx));
    } else {
        for (size_t i = 0; i < pod->n_ips; i++) {
            match_init_catchall(&m);
            npc_match_addr(&m, &pod->ips[i], true);
            npc_add(ctx, NP_T_EGRESS_DEFAULT, NP_PRI_ISOLATION, cookie, &m,
                    npc_acts(ctx));
        }
    }
}

static char *
npc_pod_key(const char *namespace, const char *name)
{
    return xasprintf("%s/%s", namespace, name);
}

/* The state of one policy in an npol_compiler. */
struct npc_pstate {
    struct hmap_node node;      /* In 'policies', by namespace/name. */
    struct hmap_node object_node;   /* In 'by_object', by 'object'. */
    const void *object;         /* The cache's object for the policy when
                                 * last seen: compared, never followed. */
    char *namespace;
    char *name;
    char *uid;
    uint32_t uid_hash;          /* hash_string(uid, 0). */
    uint16_t priority;          /* 0 if none could be given. */
    bool dirty;                 /* Must be compiled again. */

    /* The result of the last compilation. */
    struct flowset flows;
    struct svec problems;
    struct svec targets;        /* "namespace/name" of the local pods it
                                 * selects, which it isolates... */
    bool isolates_ingress;      /* ...in these directions. */
    bool isolates_egress;
};

/* Compiles policy 'np' into 'ps->flows' (emptied first). */
static void
npc_policy(struct npc_ctx *ctx, const struct k8s_network_policy *np,
           struct npc_pstate *ps)
{
    struct npc_local **targets = xmalloc((ctx->n_locals + 1)
                                         * sizeof *targets);
    size_t n_targets = 0;

    flowset_clear(&ps->flows);
    svec_clear(&ps->problems);
    svec_clear(&ps->targets);
    ctx->out = &ps->flows;
    ctx->problems = &ps->problems;
    ctx->priority = ps->priority;
    npc_free_ids(&ctx->used_ids);

    for (size_t i = 0; i < ctx->n_locals; i++) {
        const struct k8s_pod *pod = ctx->locals[i].pod;
        if (npc_pod_in_policy_scope(np, pod)) {
            targets[n_targets++] = &ctx->locals[i];
            svec_add_nocopy(&ps->targets,
                            npc_pod_key(pod->namespace, pod->name));
        }
    }
    ps->isolates_ingress = np->ingress_isolation;
    ps->isolates_egress = np->egress_isolation;

    if (np->error) {
        svec_add_nocopy(ctx->problems, xasprintf(
            "NetworkPolicy %s/%s: %s; the pods it selects stay isolated "
            "(%s%s%s) and it allows nothing", np->namespace, np->name,
            np->error, np->ingress_isolation ? "ingress" : "",
            np->ingress_isolation && np->egress_isolation ? ", " : "",
            np->egress_isolation ? "egress" : ""));
    } else if (!ps->priority && n_targets) {
        svec_add_nocopy(ctx->problems, xasprintf(
            "NetworkPolicy %s/%s: no OpenFlow priority left for its rules; "
            "the pods it selects stay isolated and it allows nothing",
            np->namespace, np->name));
    } else if (n_targets) {
        for (size_t i = 0; np->ingress_isolation && i < np->n_ingress; i++) {
            npc_rule(ctx, np, true, i, targets, n_targets, ps->priority);
        }
        for (size_t i = 0; np->egress_isolation && i < np->n_egress; i++) {
            npc_rule(ctx, np, false, i, targets, n_targets, ps->priority);
        }
    }
    free(targets);
}

/* The incremental compiler. */

/* What the flows of one local pod were last compiled from: its port's
 * number and MAC and the pod's addresses. */
struct npc_local_rec {
    struct hmap_node node;      /* In npol_compiler's 'locals', by
                                 * namespace/name (unique in a portmap). */
    char *namespace;
    char *name;
    ofp_port_t ofport;
    struct eth_addr mac;
    struct in6_addr *ips;
    size_t n_ips;
    bool seen;
};

static void
npc_local_rec_destroy(struct hmap *locals, struct npc_local_rec *r)
{
    hmap_remove(locals, &r->node);
    free(r->namespace);
    free(r->name);
    free(r->ips);
    free(r);
}

static void
npc_locals_clear(struct hmap *locals)
{
    struct npc_local_rec *r;

    HMAP_FOR_EACH_SAFE (r, node, locals) {
        npc_local_rec_destroy(locals, r);
    }
}

static bool
npc_local_rec_matches(const struct npc_local_rec *r, const struct npc_local *l)
{
    if (r->ofport != l->port->ofport || !eth_addr_equals(r->mac, l->port->mac)
        || r->n_ips != l->pod->n_ips) {
        return false;
    }
    for (size_t i = 0; i < r->n_ips; i++) {
        if (!ipv6_addr_equals(&r->ips[i], &l->pod->ips[i].addr)) {
            return false;
        }
    }
    return true;
}

/* Brings 'locals' up to date with the local pods 'ls' and adds to 'keys'
 * the "namespace/name" of each pod whose own flows may differ: a port that
 * came, went or changed, or a pod on it with other addresses.  (Comparing
 * fields, not formatted text: this runs at every compilation.) */
static void
npc_update_locals(struct hmap *locals, const struct npc_local *ls, size_t n,
                  struct sset *keys)
{
    struct npc_local_rec *r;

    HMAP_FOR_EACH (r, node, locals) {
        r->seen = false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct npc_local *l = &ls[i];
        const struct k8s_pod *pod = l->pod;
        uint32_t hash = npc_hash_name(pod->namespace, pod->name);
        bool found = false;

        HMAP_FOR_EACH_WITH_HASH (r, node, hash, locals) {
            if (!strcmp(r->name, pod->name)
                && !strcmp(r->namespace, pod->namespace)) {
                found = true;
                break;
            }
        }
        if (!found) {
            r = xzalloc(sizeof *r);
            r->namespace = xstrdup(pod->namespace);
            r->name = xstrdup(pod->name);
            hmap_insert(locals, &r->node, hash);
        } else if (npc_local_rec_matches(r, l)) {
            r->seen = true;
            continue;
        }
        r->ofport = l->port->ofport;
        r->mac = l->port->mac;
        r->n_ips = pod->n_ips;
        free(r->ips);
        r->ips = xmalloc((r->n_ips + 1) * sizeof *r->ips);
        for (size_t j = 0; j < r->n_ips; j++) {
            r->ips[j] = pod->ips[j].addr;
        }
        r->seen = true;
        sset_add_and_free(keys, npc_pod_key(r->namespace, r->name));
    }
    HMAP_FOR_EACH_SAFE (r, node, locals) {
        if (!r->seen) {
            sset_add_and_free(keys, npc_pod_key(r->namespace, r->name));
            npc_local_rec_destroy(locals, r);
        }
    }
}

struct npol_compiler {
    /* What the state below was computed for; see npc_must_start_over(). */
    bool valid;
    const struct kcache *cache;
    struct flowset *out;
    uint64_t cache_seqno;
    uint64_t out_version;
    char *settings;

    /* Fixed pipeline, gateway and local pods. */
    struct hmap locals;         /* struct npc_local_rec. */
    struct flowset base;
    struct svec base_problems;

    /* Default-table drops for the local pods that policies select, and
     * how many policies isolate each of those pods ("namespace/name" ->
     * struct npc_iso), kept up to date as policies are compiled. */
    struct flowset isolation;
    struct svec isolation_problems;
    struct shash iso;
    bool iso_changed;           /* A pod's isolation in some direction
                                 * began or ended since 'isolation' was
                                 * computed. */

    /* Policies. */
    struct hmap policies;       /* struct npc_pstate. */
    struct hmap by_object;      /* struct npc_pstate, by 'object'. */
    struct npc_pstate **sorted; /* All of them by uid, namespace, name. */
    size_t n_sorted, allocated_sorted;

    struct npol_compiler_stats stats;
};

struct npol_compiler *
npol_compiler_create(void)
{
    struct npol_compiler *c = xzalloc(sizeof *c);

    hmap_init(&c->locals);
    flowset_init(&c->base);
    svec_init(&c->base_problems);
    flowset_init(&c->isolation);
    svec_init(&c->isolation_problems);
    shash_init(&c->iso);
    hmap_init(&c->policies);
    hmap_init(&c->by_object);
    return c;
}

static void
npc_pstate_free(struct npc_pstate *ps)
{
    flowset_destroy(&ps->flows);
    svec_destroy(&ps->problems);
    svec_destroy(&ps->targets);
    free(ps->namespace);
    free(ps->name);
    free(ps->uid);
    free(ps);
}

static void
npc_reset(struct npol_compiler *c)
{
    struct npc_pstate *ps;
    HMAP_FOR_EACH_POP (ps, node, &c->policies) {
        npc_pstate_free(ps);
    }
    hmap_clear(&c->by_object);
    free(c->sorted);
    c->sorted = NULL;
    c->n_sorted = c->allocated_sorted = 0;
    npc_locals_clear(&c->locals);
    flowset_clear(&c->base);
    svec_clear(&c->base_problems);
    flowset_clear(&c->isolation);
    svec_clear(&c->isolation_problems);
    shash_clear_free_data(&c->iso);
    c->iso_changed = false;
    free(c->settings);
    c->settings = NULL;
    c->valid = false;
}

void
npol_compiler_destroy(struct npol_compiler *c)
{
    if (c) {
        npc_reset(c);
        hmap_destroy(&c->locals);
        flowset_destroy(&c->base);
        svec_destroy(&c->base_problems);
        flowset_destroy(&c->isolation);
        svec_destroy(&c->isolation_problems);
        shash_destroy(&c->iso);
        hmap_destroy(&c->policies);
        hmap_destroy(&c->by_object);
        free(c);
    }
}

void
npol_compiler_get_stats(const struct npol_compiler *c,
                        struct npol_compiler_stats *stats)
{
    *stats = c->stats;
}

static struct npc_pstate *
npc_pstate_find(const struct npol_compiler *c, const char *namespace,
                const char *name)
{
    struct npc_pstate *ps;

    HMAP_FOR_EACH_WITH_HASH (ps, node, npc_hash_name(namespace, name),
                             &c->policies) {
        if (!strcmp(ps->namespace, namespace) && !strcmp(ps->name, name)) {
            return ps;
        }
    }
    return NULL;
}

static int
npc_pstate_cmp(const struct npc_pstate *a, const struct npc_pstate *b)
{
    int cmp = strcmp(a->uid, b->uid);
    if (!cmp) {
        cmp = strcmp(a->namespace, b->namespace);
    }
    return cmp ? cmp : strcmp(a->name, b->name);
}

static int
npc_pstate_qsort_cmp(const void *a, const void *b)
{
    return npc_pstate_cmp(*(struct npc_pstate *const *) a,
                          *(struct npc_pstate *const *) b);
}

/* The index in 'c->sorted' where 'ps' is or would go. */
static size_t
npc_sorted_find(const struct npol_compiler *c, const struct npc_pstate *ps)
{
    size_t lo = 0, hi = c->n_sorted;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (npc_pstate_cmp(c->sorted[mid], ps) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* 'c->sorted' is kept in order as policies come and go, so that giving
 * priorities after a change does not sort them all again. */
static void
npc_sorted_insert(struct npol_compiler *c, struct npc_pstate *ps)
{
    size_t i = npc_sorted_find(c, ps);

    if (c->n_sorted >= c->allocated_sorted) {
        c->sorted = x2nrealloc(c->sorted, &c->allocated_sorted,
                               sizeof *c->sorted);
    }
    memmove(&c->sorted[i + 1], &c->sorted[i],
            (c->n_sorted - i) * sizeof *c->sorted);
    c->sorted[i] = ps;
    c->n_sorted++;
}

static void
npc_sorted_remove(struct npol_compiler *c, struct npc_pstate *ps)
{
    size_t i = npc_sorted_find(c, ps);

    ovs_assert(i < c->n_sorted && c->sorted[i] == ps);
    memmove(&c->sorted[i], &c->sorted[i + 1],
            (c->n_sorted - i - 1) * sizeof *c->sorted);
    c->n_sorted--;
}

/* Puts every policy state into 'c->sorted' at once. */
static void
npc_sorted_rebuild(struct npol_compiler *c)
{
    struct npc_pstate *ps;

    c->n_sorted = 0;
    c->allocated_sorted = hmap_count(&c->policies) + 1;
    c->sorted = xrealloc(c->sorted, c->allocated_sorted * sizeof *c->sorted);
    HMAP_FOR_EACH (ps, node, &c->policies) {
        c->sorted[c->n_sorted++] = ps;
    }
    qsort(c->sorted, c->n_sorted, sizeof *c->sorted, npc_pstate_qsort_cmp);
}

static void
npc_pstate_set_uid(struct npc_pstate *ps, const char *uid)
{
    free(ps->uid);
    ps->uid = xstrdup(uid);
    ps->uid_hash = hash_string(uid, 0);
}

/* Records that 'np' is the cache's object for 'ps'. */
static void
npc_pstate_set_object(struct npol_compiler *c, struct npc_pstate *ps,
                      const struct k8s_network_policy *np)
{
    if (ps->object != np) {
        if (ps->object) {
            hmap_remove(&c->by_object, &ps->object_node);
        }
        ps->object = np;
        hmap_insert(&c->by_object, &ps->object_node, hash_pointer(np, 0));
    }
}

/* Returns the state of policy 'np', an object in the cache.  By the
 * object's address first: that skips hashing and comparing names for
 * each of the cache's policies at every compilation.  An address names
 * one policy for as long as the object lives, and the change log reports
 * every object that the cache replaces or removes (see npc_mark_dirty()),
 * so a stale address is never looked up.  Were a change missed, the
 * lookup could give another policy's state, or none and then the name
 * finds it: wrong flows, as any missed change gives, but the address is
 * never followed. */
static struct npc_pstate *
npc_pstate_find_object(const struct npol_compiler *c,
                       const struct k8s_network_policy *np)
{
    struct npc_pstate *ps;

    HMAP_FOR_EACH_WITH_HASH (ps, object_node, hash_pointer(np, 0),
                             &c->by_object) {
        if (ps->object == np) {
            return ps;
        }
    }
    return npc_pstate_find(c, np->namespace, np->name);
}

static struct npc_pstate *
npc_pstate_create(struct npol_compiler *c,
                  const struct k8s_network_policy *np)
{
    struct npc_pstate *ps = xzalloc(sizeof *ps);

    ps->namespace = xstrdup(np->namespace);
    ps->name = xstrdup(np->name);
    npc_pstate_set_uid(ps, np->uid);
    ps->dirty = true;
    flowset_init(&ps->flows);
    svec_init(&ps->problems);
    svec_init(&ps->targets);
    hmap_insert(&c->policies, &ps->node,
                npc_hash_name(np->namespace, np->name));
    npc_pstate_set_object(c, ps, np);
    return ps;
}

/* How many compiled policies isolate one local pod, per direction. */
struct npc_iso {
    unsigned int n_ingress;
    unsigned int n_egress;
};

/* Adds 'delta' (1 or -1) to the isolation counts of the pods 'targets'
 * ("namespace/name") of a policy that isolates them in the directions
 * given, and notes in 'c->iso_changed' whether a count left or reached
 * zero. */
static void
npc_iso_count(struct npol_compiler *c, const struct svec *targets,
              bool ingress, bool egress, int delta)
{
    const char *key;
    size_t i;

    if (!ingress && !egress) {
        return;
    }
    SVEC_FOR_EACH (i, key, targets) {
        struct npc_iso *iso = shash_find_data(&c->iso, key);
        if (!iso) {
            ovs_assert(delta > 0);
            iso = xzalloc(sizeof *iso);
            shash_add(&c->iso, key, iso);
        }
        bool was_in = iso->n_ingress, was_out = iso->n_egress;
        iso->n_ingress += ingress ? delta : 0;
        iso->n_egress += egress ? delta : 0;
        c->iso_changed |= (was_in != !!iso->n_ingress
                           || was_out != !!iso->n_egress);
        if (!iso->n_ingress && !iso->n_egress) {
            free(shash_find_and_delete(&c->iso, key));
        }
    }
}

static void
npc_pstate_destroy(struct npol_compiler *c, struct npc_pstate *ps)
{
    npc_iso_count(c, &ps->targets, ps->isolates_ingress, ps->isolates_egress,
                  -1);
    npc_sorted_remove(c, ps);
    hmap_remove(&c->policies, &ps->node);
    if (ps->object) {
        hmap_remove(&c->by_object, &ps->object_node);
    }
    npc_pstate_free(ps);
}

/* Takes out of 'out' the flows of 'old' that are not in 'new': 'old' and
 * 'new' are the flows that one part (the base, the isolation flows, a
 * policy) contributed before and now. */
static void
npc_part_remove(struct npol_compiler *c, struct flowset *out,
                const struct flowset *old, const struct flowset *new)
{
    struct np_flow *f;

    FLOWSET_FOR_EACH (f, old) {
        const struct np_flow *g = flowset_find_flow(new, f);
        if (!g || !np_flow_equal(f, g)) {
            struct np_flow *o = flowset_find_flow(out, f);
            if (o) {
                flowset_remove(out, o);
                c->stats.n_flows_removed++;
            }
        }
    }
}

/* Puts into 'out' the flows of 'new' that are not in 'old'. */
static void
npc_part_add(struct npol_compiler *c, struct flowset *out,
             const struct flowset *old, const struct flowset *new)
{
    struct np_flow *f;

    FLOWSET_FOR_EACH (f, new) {
        const struct np_flow *g = flowset_find_flow(old, f);
        if ((!g || !np_flow_equal(f, g)) && !flowset_find_flow(out, f)) {
            flowset_insert_copy(out, f);
            c->stats.n_flows_added++;
        }
    }
}

/* Makes 'out' hold the flows of 'new' instead of those of 'old'. */
static void
npc_replace_part(struct npol_compiler *c, struct flowset *out,
                 const struct flowset *old, const struct flowset *new)
{
    npc_part_remove(c, out, old, new);
    npc_part_add(c, out, old, new);
}

/* Gives every policy its priority: the hash of its uid in the policy
 * range, probing upward in uid order, so that the result depends only on
 * the set of policies and not on the order they arrived in.  A policy
 * whose priority moves must be compiled again. */
static void
npc_assign_priorities(struct npol_compiler *c)
{
    const uint32_t range = NP_PRI_POLICY_MAX - NP_PRI_POLICY_MIN + 1;
    unsigned long *used = bitmap_allocate(range);

    for (size_t i = 0; i < c->n_sorted; i++) {
        uint16_t priority = 0;
        if (i < range) {
            uint32_t slot = c->sorted[i]->uid_hash % range;
            while (bitmap_is_set(used, slot)) {
                slot = (slot + 1) % range;
            }
            bitmap_set1(used, slot);
            priority = NP_PRI_POLICY_MIN + slot;
        }
        if (priority != c->sorted[i]->priority) {
            c->sorted[i]->priority = priority;
            c->sorted[i]->dirty = true;
        }
    }
    bitmap_free(used);
}

/* The node settings a compilation depends on, as text. */
static char *
npc_format_settings(const struct npol_input *in)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "%s %"PRIu32" "ETH_ADDR_FMT" %d", in->node_name,
                  ofp_to_u16(in->gw_ofport), ETH_ADDR_ARGS(in->gw_mac),
                  in->reeval_established);
    for (size_t i = 0; i < in->n_gw_ips; i++) {
        ds_put_char(&s, ' ');
        ipv6_format_mapped(&in->gw_ips[i].addr, &s);
        ds_put_format(&s, "/%u", in->gw_ips[i].plen);
    }
    return ds_steal_cstr(&s);
}

static bool
npc_must_start_over(const struct npol_compiler *c,
                    const struct npol_input *in, const struct flowset *out,
                    const char *settings)
{
    return (!c->valid
            || c->cache != in->cache
            || c->out != out
            || out->version != c->out_version
            || !kcache_changes_complete(in->cache, c->cache_seqno)
            || strcmp(c->settings, settings));
}

/* Marks dirty each policy that the change log or the changed local pods
 * ('changed_locals', "namespace/name") may concern, creates and removes
 * policy states to match the cache, and returns true if the set of
 * policies (or a uid) changed. */
static bool
npc_mark_dirty(struct npol_compiler *c, const struct kcache *cache,
               const struct sset *changed_locals, struct flowset *out)
{
    struct npc_pod_change {
        const struct k8s_pod *old, *now;
        const struct k8s_namespace *ns;     /* Their namespace, if known. */
    } *pods = NULL;
    size_t n_pods = 0, allocated_pods = 0;
    const struct smap **ns_labels = NULL;
    size_t n_ns_labels = 0, allocated_ns_labels = 0;
    bool set_changed = false;
    const struct kcache_change *ch;

    /* Policies first: they are compiled anew anyway. */
    KCACHE_FOR_EACH_CHANGE (ch, cache) {
        if (ch->kind == K8S_KIND_NETWORK_POLICY) {
            const struct k8s_network_policy *np
                = kcache_find_policy(cache, ch->namespace, ch->name);
            struct npc_pstate *ps = npc_pstate_find(c, ch->namespace,
                                                    ch->name);
            if (np && ps) {
                ps->dirty = true;
                npc_pstate_set_object(c, ps, np);
                if (strcmp(ps->uid, np->uid)) {
                    npc_sorted_remove(c, ps);
                    npc_pstate_set_uid(ps, np->uid);
                    npc_sorted_insert(c, ps);
                    set_changed = true;
                }
            } else if (np) {
                npc_sorted_insert(c, npc_pstate_create(c, np));
                set_changed = true;
            } else if (ps) {
                struct flowset empty;
                flowset_init(&empty);
                npc_replace_part(c, out, &ps->flows, &empty);
                flowset_destroy(&empty);
                npc_pstate_destroy(c, ps);
                set_changed = true;
            }
        } else if (ch->kind == K8S_KIND_POD) {
            if (n_pods >= allocated_pods) {
                pods = x2nrealloc(pods, &allocated_pods, sizeof *pods);
            }
            pods[n_pods++] = (struct npc_pod_change) {
                ch->old, kcache_find_pod(cache, ch->namespace, ch->name),
                kcache_find_namespace(cache, ch->namespace),
            };
        } else if (ch->kind == K8S_KIND_NAMESPACE) {
            const struct k8s_namespace *now
                = kcache_find_namespace(cache, ch->name);
            for (int i = 0; i < 2; i++) {
                const struct k8s_namespace *ns = i ? now : ch->old;
                if (ns) {
                    if (n_ns_labels >= allocated_ns_labels) {
                        ns_labels = x2nrealloc(ns_labels,
                                               &allocated_ns_labels,
                                               sizeof *ns_labels);
                    }
                    ns_labels[n_ns_labels++] = &ns->labels;
                }
            }
        }
    }
    /* A changed local port matters like a changed pod. */
    const char *key;
    SSET_FOR_EACH (key, changed_locals) {
        const char *slash = strchr(key, '/');
        char *ns = xmemdup0(key, slash - key);
        const struct k8s_pod *pod = kcache_find_pod(cache, ns, slash + 1);
        if (pod) {
            if (n_pods >= allocated_pods) {
                pods = x2nrealloc(pods, &allocated_pods, sizeof *pods);
            }
            pods[n_pods++] = (struct npc_pod_change) {
                NULL, pod, kcache_find_namespace(cache, ns),
            };
        }
        free(ns);
    }

    if (n_pods || n_ns_labels) {
        const struct k8s_network_policy *np;
        KCACHE_FOR_EACH_POLICY (np, cache) {
            struct npc_pstate *ps = npc_pstate_find_object(c, np);
            if (!ps || ps->dirty) {
                continue;
            }
            for (size_t i = 0; !ps->dirty && i < n_pods; i++) {
                const struct k8s_pod *old = pods[i].old, *now = pods[i].now;
                const struct k8s_namespace *pod_ns = pods[i].ns;
                if (old && now && npc_pod_differs_only_in_labels(old, now)) {
                    ps->dirty = npc_policy_selection_differs(np, old, now,
                                                             pod_ns);
                } else {
                    ps->dirty = ((old && npc_policy_may_use_pod(np, old,
                                                                pod_ns))
                                 || (now && npc_policy_may_use_pod(np, now,
                                                                   pod_ns)));
                }
            }
            for (size_t i = 0; !ps->dirty && i < n_ns_labels; i++) {
                ps->dirty = npc_policy_may_use_namespace(np, ns_labels[i]);
            }
        }
    }
    free(pods);
    free(ns_labels);
    return set_changed;
}

/* Recomputes the isolation flows from the isolation counts. */
static void
npc_isolation(struct npol_compiler *c, struct npc_ctx *ctx,
              struct flowset *out)
{
    struct flowset new;

    flowset_init(&new);
    svec_clear(&c->isolation_problems);
    ctx->out = &new;
    ctx->problems = &c->isolation_problems;
    for (size_t i = 0; i < ctx->n_locals; i++) {
        const struct k8s_pod *pod = ctx->locals[i].pod;
        char *key = npc_pod_key(pod->namespace, pod->name);
        const struct npc_iso *iso = shash_find_data(&c->iso, key);
        free(key);
        if (iso && iso->n_ingress) {
            npc_isolate(ctx, &ctx->locals[i], true);
        }
        if (iso && iso->n_egress) {
            npc_isolate(ctx, &ctx->locals[i], false);
        }
    }
    npc_replace_part(c, out, &c->isolation, &new);
    flowset_swap(&c->isolation, &new);
    flowset_destroy(&new);
    c->iso_changed = false;
}

void
npol_compiler_run(struct npol_compiler *c, const struct npol_input *in,
                  struct flowset *out, struct svec *problems)
{
    char *settings = npc_format_settings(in);
    struct svec scratch = SVEC_EMPTY_INITIALIZER;
    struct svec locals_problems = SVEC_EMPTY_INITIALIZER;
    struct npc_ctx ctx;

    memset(&c->stats, 0, sizeof c->stats);
    if (npc_must_start_over(c, in, out, settings)) {
        npc_reset(c);
        flowset_clear(out);
        c->stats.full = true;
    }
    if (!problems) {
        problems = &scratch;
    }

    npc_ctx_init(&ctx, in, NULL, 0);
    ctx.problems = &locals_problems;
    npc_find_locals(&ctx);

    /* The fixed pipeline and the local pods' own flows. */
    struct sset changed_locals = SSET_INITIALIZER(&changed_locals);
    npc_update_locals(&c->locals, ctx.locals, ctx.n_locals, &changed_locals);
    bool locals_changed = c->stats.full || !sset_is_empty(&changed_locals);
    if (locals_changed) {
        struct flowset base;
        flowset_init(&base);
        svec_clear(&c->base_problems);
        ctx.out = &base;
        ctx.problems = &c->base_problems;
        npc_pipeline(&ctx);
        npc_gateway(&ctx);
        for (size_t i = 0; i < ctx.n_locals; i++) {
            npc_local_pod(&ctx, &ctx.locals[i]);
        }
        npc_replace_part(c, out, &c->base, &base);
        flowset_swap(&c->base, &base);
        flowset_destroy(&base);
    }

    /* Which policies to compile. */
    bool set_changed;
    if (c->stats.full) {
        const struct k8s_network_policy *np;
        KCACHE_FOR_EACH_POLICY (np, in->cache) {
            npc_pstate_create(c, np);
        }
        npc_sorted_rebuild(c);
        set_changed = true;
    } else {
        set_changed = npc_mark_dirty(c, in->cache, &changed_locals, out);
    }
    sset_destroy(&changed_locals);
    if (set_changed) {
        npc_assign_priorities(c);
    }

    /* Compile them, in a fixed order.  All their old flows leave 'out'
     * before any new one comes in: when priorities move, a policy's new
     * flows may have the keys of another one's old flows. */
    struct npc_pstate **dirty = xmalloc((c->n_sorted + 1) * sizeof *dirty);
    struct flowset *olds = xmalloc((c->n_sorted + 1) * sizeof *olds);
    size_t n_dirty = 0;
    for (size_t i = 0; i < c->n_sorted; i++) {
        struct npc_pstate *ps = c->sorted[i];
        if (!ps->dirty) {
            continue;
        }
        const struct k8s_network_policy *np
            = kcache_find_policy(in->cache, ps->namespace, ps->name);
        struct svec old_targets = SVEC_EMPTY_INITIALIZER;
        bool old_ingress = ps->isolates_ingress;
        bool old_egress = ps->isolates_egress;
        svec_swap(&old_targets, &ps->targets);
        flowset_init(&olds[n_dirty]);
        flowset_swap(&olds[n_dirty], &ps->flows);
        if (np) {
            npc_policy(&ctx, np, ps);
        } else {
            /* Cannot happen with a complete change log. */
            svec_clear(&ps->problems);
        }
        if (!svec_equal(&old_targets, &ps->targets)
            || old_ingress != ps->isolates_ingress
            || old_egress != ps->isolates_egress) {
            npc_iso_count(c, &ps->targets, ps->isolates_ingress,
                          ps->isolates_egress, 1);
            npc_iso_count(c, &old_targets, old_ingress, old_egress, -1);
        }
        svec_destroy(&old_targets);
        ps->dirty = false;
        dirty[n_dirty++] = ps;
    }
    for (size_t i = 0; i < n_dirty; i++) {
        npc_part_remove(c, out, &olds[i], &dirty[i]->flows);
    }
    for (size_t i = 0; i < n_dirty; i++) {
        npc_part_add(c, out, &olds[i], &dirty[i]->flows);
        flowset_destroy(&olds[i]);
    }
    c->stats.n_recompiled = n_dirty;
    free(olds);
    free(dirty);

    /* The isolation flows depend on the local pods' ports and addresses
     * and on the directions in which some policy isolates each. */
    if (locals_changed || c->iso_changed) {
        npc_isolation(c, &ctx, out);
    }

    /* Problems, in a fixed order. */
    svec_append(problems, &locals_problems);
    svec_append(problems, &c->base_problems);
    for (size_t i = 0; i < c->n_sorted; i++) {
        svec_append(problems, &c->sorted[i]->problems);
    }
    svec_append(problems, &c->isolation_problems);

    c->stats.n_policies = c->n_sorted;
    c->valid = true;
    c->cache = in->cache;
    c->out = out;
    c->cache_seqno = kcache_seqno(in->cache);
    c->out_version = out->version;
    free(c->settings);
    c->settings = settings;

    free(ctx.locals);
    npc_ctx_destroy(&ctx);
    svec_destroy(&locals_problems);
    svec_destroy(&scratch);
}

void
npol_compile(const struct npol_input *in, struct flowset *out,
             struct svec *problems)
{
    struct npol_compiler *c = npol_compiler_create();
    npol_compiler_run(c, in, out, problems);
    npol_compiler_destroy(c);
}
