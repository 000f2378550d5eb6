/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_NPOL_COMPILE_H
#define NETPOL_NPOL_COMPILE_H 1

/* The policy compiler: Kubernetes objects and local ports in, the complete
 * desired OpenFlow table of the bridge out (netpol/pipeline.h describes the
 * tables).  Pure: no I/O, no logging, no clock.  The same input always
 * yields the same flows, byte for byte: cookies, conjunction ids and
 * priorities are functions of stable identities (policy uid, rule index,
 * direction, address family, named-port group). */

#include <stdbool.h>
#include <stddef.h>
#include "openvswitch/types.h"
#include "packets.h"
#include "lib/k8s-types.h"

struct flowset;
struct kcache;
struct portmap;
struct svec;

struct npol_input {
    const struct kcache *cache;     /* Namespaces, pods, policies. */
    const struct portmap *ports;    /* Local pod ports from OVSDB. */
    const char *node_name;          /* Pods with this spec.nodeName. */

    /* The node's gateway port: OFPP_NONE if there is none yet.  Traffic
     * from it whose source is one of 'gw_ips' is the node's own and always
     * reaches local pods; other traffic from it (routed from elsewhere) is
     * subject to ingress policy like any peer. */
    ofp_port_t gw_ofport;
    struct eth_addr gw_mac;
    const struct k8s_cidr *gw_ips;
    size_t n_gw_ips;

    /* If true, packets in the request direction of established connections
     * go through policy again, so a policy change also cuts connections that
     * are already open; replies of allowed connections always pass. */
    bool reeval_established;
};

/* Replaces the contents of 'out' by every flow 'in' calls for.  A policy
 * that cannot be compiled isolates the pods it selects in the directions it
 * names and allows nothing; one line per such problem (and per local port
 * that cannot be enforced) is appended to 'problems' if it is nonnull.
 * Same as one npol_compiler_run() of a new compiler. */
void npol_compile(const struct npol_input *in, struct flowset *out,
                  struct svec *problems);

/* Incremental compilation.
 *
 * A compiler keeps each policy's flows apart (every policy has a priority
 * of its own, so their rule flows never share a key) together with what
 * they were computed from.  npol_compiler_run() leaves in 'out' exactly
 * what npol_compile() would, byte for byte, but recompiles only the
 * policies that the changes since its previous run can affect: the
 * policies that changed, those that select (before or after) a pod that
 * changed or whose OVS port changed, those with a namespaceSelector when a
 * namespace changed, and those whose priority moved.  It learns what
 * changed from the cache's change log (kcache_track_changes()), which the
 * caller must empty with kcache_changes_clear() after each run.  It falls
 * back to compiling everything when it cannot trust its state: first run,
 * another cache or output set, an incomplete change log, 'out' changed by
 * someone else, or other node settings (gateway, node name, options). */
struct npol_compiler;

struct npol_compiler *npol_compiler_create(void);
void npol_compiler_destroy(struct npol_compiler *);
void npol_compiler_run(struct npol_compiler *, const struct npol_input *,
                       struct flowset *out, struct svec *problems);

/* What the last npol_compiler_run() did. */
struct npol_compiler_stats {
    bool full;                  /* Compiled everything. */
    size_t n_policies;          /* Policies in the cache. */
    size_t n_recompiled;        /* Policies compiled in that run. */
    size_t n_flows_removed;     /* Flows taken out of 'out'... */
    size_t n_flows_added;       /* ...and put in. */
};
void npol_compiler_get_stats(const struct npol_compiler *,
                             struct npol_compiler_stats *);

/* Splits [port, end_port] into value/mask pairs that cover it exactly.
 * Stores at most 32 pairs into 'values' and 'masks' and returns how many. */
size_t npol_port_range_split(uint16_t port, uint16_t end_port,
                             uint16_t values[32], uint16_t masks[32]);

/* Stores into 'out' (at most 'max' entries) the CIDRs that cover 'block'
 * minus every CIDR of 'excepts' of the same family, and returns how many
 * there are (possibly more than 'max': then call again with more room). */
size_t npol_cidr_subtract(const struct k8s_cidr *block,
                          const struct k8s_cidr *excepts, size_t n_excepts,
                          struct k8s_cidr *out, size_t max);

#endif /* lib/npol-compile.h */
