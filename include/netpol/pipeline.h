/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_PIPELINE_H
#define NETPOL_PIPELINE_H 1

/* The OpenFlow pipeline on the integration bridge: table numbers, register
 * use, cookie layout and priorities.  docs/pipeline.md explains each table.
 * Everything that installs or matches a flow takes its numbers from here. */

#include <stdint.h>

/* Tables, in the order a packet visits them. */
enum np_table {
    NP_T_CLASSIFY = 0,        /* in_port -> source kind in NP_REG_SRC. */
    NP_T_SPOOF_GUARD = 1,     /* Pods may only send from their own IP+MAC. */
    NP_T_CONNTRACK = 2,       /* ct(zone, table=NP_T_CT_STATE). */
    NP_T_CT_STATE = 3,        /* Drop invalid; replies skip policy. */
    NP_T_EGRESS_RULE = 4,     /* Egress conjunctions (target = nw_src). */
    NP_T_EGRESS_DEFAULT = 5,  /* One drop per egress-isolated pod. */
    NP_T_FORWARD = 6,         /* dl_dst -> output port in NP_REG_OUT. */
    NP_T_INGRESS_RULE = 7,    /* Ingress conjunctions (target = out port). */
    NP_T_INGRESS_DEFAULT = 8, /* One drop per ingress-isolated pod. */
    NP_T_COMMIT = 9,          /* ct(commit) for new allowed connections. */
    NP_T_OUTPUT = 10,         /* output:NP_REG_OUT. */
    NP_N_TABLES = 11
};

/* Names written into OVSDB's Flow_Table so "ovs-ofctl dump-flows --names"
 * reads like documentation.  Indexed by enum np_table. */
#define NP_TABLE_NAMES                                                  \
    "np_classify", "np_spoof_guard", "np_conntrack", "np_ct_state",     \
    "np_egress_rule", "np_egress_default", "np_forward",                \
    "np_ingress_rule", "np_ingress_default", "np_commit", "np_output"

/* Registers.
 *
 * NP_REG_SRC (reg0) bits 0..3: where the packet came from (enum np_src);
 *     bit 4: NP_SKIP_POLICY, set for replies of tracked connections.
 * NP_REG_OUT (reg1): the output ofport chosen by NP_T_FORWARD; ingress
 *     rules match it to identify the target pod.
 * NP_REG_EGRESS_RULE (reg2), NP_REG_INGRESS_RULE (reg3): the conjunction
 *     id of the rule that allowed the packet, copied into ct_label on
 *     commit (egress in ct_label[32..63], ingress in ct_label[0..31]). */
#define NP_REG_SRC 0
#define NP_REG_OUT 1
#define NP_REG_EGRESS_RULE 2
#define NP_REG_INGRESS_RULE 3

enum np_src {
    NP_SRC_OTHER = 0,
    NP_SRC_POD = 1,
    NP_SRC_GATEWAY = 2,
};
#define NP_SRC_MASK 0xf
#define NP_SKIP_POLICY 0x10

/* The conntrack zone of every pod connection on the bridge. */
#define NP_CT_ZONE 65000

/* Cookies.  Bits 56..63 say what kind of flow it is; bits 0..31 identify
 * the object that made it (a hash of the policy's uid, or of the pod's
 * namespace/name), so "ovs-ofctl dump-flows br-int cookie=0x<id>/0xffffffff"
 * lists one policy's flows.  Bits 32..55 are zero.  Every flow the
 * controller owns has a non-zero category; that is how it tells its flows
 * from others' (NP_COOKIE_CATEGORY_MASK). */
enum np_cookie_category {
    NP_COOKIE_PIPELINE = 0x01,   /* Fixed pipeline flows. */
    NP_COOKIE_POD = 0x02,        /* Per-pod classify/spoof/forward flows. */
    NP_COOKIE_ISOLATION = 0x03,  /* Per-pod default drops. */
    NP_COOKIE_INGRESS = 0x10,    /* A policy's ingress rule flows. */
    NP_COOKIE_EGRESS = 0x11,     /* A policy's egress rule flows. */
};
#define NP_COOKIE_CATEGORY_SHIFT 56
#define NP_COOKIE_CATEGORY_MASK (UINT64_C(0xff) << NP_COOKIE_CATEGORY_SHIFT)
#define NP_COOKIE_ID_MASK UINT64_C(0xffffffff)

static inline uint64_t
np_cookie(enum np_cookie_category category, uint32_t id)
{
    return ((uint64_t) category << NP_COOKIE_CATEGORY_SHIFT) | id;
}

/* Priorities. */
#define NP_PRI_TOP 65000          /* Bypasses (replies, node, self). */
#define NP_PRI_POLICY_MIN 1000    /* Range from which a policy's rule */
#define NP_PRI_POLICY_MAX 60999   /* flows take their priority. */
#define NP_PRI_POD 100            /* Per-pod classify/spoof/forward. */
#define NP_PRI_ISOLATION 100      /* Default-table drops. */
#define NP_PRI_MISS 0             /* Table miss. */

#endif /* netpol/pipeline.h */
