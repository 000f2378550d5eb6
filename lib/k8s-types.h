/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_K8S_TYPES_H
#define NETPOL_K8S_TYPES_H 1

/* Plain data for the Kubernetes objects ovs-netpol reads: Namespace, Pod
 * and networking.k8s.io/v1 NetworkPolicy.  Only the fields enforcement
 * needs are kept.  Strings are owned (malloc'ed) by the struct that holds
 * them; each type has a *_destroy() that frees its contents and accepts
 * NULL. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/hmap.h"
#include "openvswitch/types.h"
#include "smap.h"

/* An IPv4 or IPv6 address with a prefix length: "10.0.0.0/8" or a host
 * ("10.0.0.5" is 10.0.0.5/32).  IPv4 is stored as a v4-mapped in6_addr so
 * both families share one representation. */
struct k8s_cidr {
    struct in6_addr addr;       /* Host bits beyond 'plen' are zero. */
    unsigned int plen;          /* 0..32 for IPv4, 0..128 for IPv6. */
    bool is_ipv4;
};

/* Label selector (matchLabels and matchExpressions, ANDed).  An empty
 * selector (no labels, no expressions) selects everything. */
enum k8s_selector_op {
    K8S_SEL_IN,
    K8S_SEL_NOT_IN,
    K8S_SEL_EXISTS,
    K8S_SEL_DOES_NOT_EXIST,
};
struct k8s_selector_expr {
    char *key;
    enum k8s_selector_op op;
    char **values;
    size_t n_values;
};
struct k8s_selector {
    struct smap match_labels;
    struct k8s_selector_expr *exprs;
    size_t n_exprs;
};

enum k8s_protocol {
    K8S_PROTO_TCP,
    K8S_PROTO_UDP,
    K8S_PROTO_SCTP,
};

/* A NetworkPolicyPort.  'port_name' and 'port' are exclusive; neither set
 * means every port of 'protocol'. */
struct k8s_policy_port {
    enum k8s_protocol protocol; /* TCP when omitted. */
    char *port_name;            /* Named port, or NULL. */
    uint16_t port;              /* Numeric port, 0 if none. */
    uint16_t end_port;          /* endPort, 0 if none. */
};

/* A NetworkPolicyPeer: podSelector and/or namespaceSelector, or ipBlock. */
struct k8s_policy_peer {
    struct k8s_selector *pod_selector;        /* NULL if omitted. */
    struct k8s_selector *namespace_selector;  /* NULL if omitted. */
    struct k8s_cidr *ip_block;                /* NULL if not an ipBlock. */
    struct k8s_cidr *excepts;
    size_t n_excepts;
};

/* An ingress or egress rule.  'has_peers' false means from/to was omitted
 * or empty: every peer.  'has_ports' false means ports was omitted or
 * empty: every port. */
struct k8s_policy_rule {
    bool has_peers;
    struct k8s_policy_peer *peers;
    size_t n_peers;
    bool has_ports;
    struct k8s_policy_port *ports;
    size_t n_ports;
};

struct k8s_network_policy {
    struct hmap_node node;      /* In struct kcache. */
    char *namespace;
    char *name;
    char *uid;                  /* metadata.uid, or "namespace/name". */
    char *resource_version;

    struct k8s_selector pod_selector;
    bool ingress_isolation;     /* policyTypes includes Ingress. */
    bool egress_isolation;      /* policyTypes includes Egress. */
    struct k8s_policy_rule *ingress;
    size_t n_ingress;
    struct k8s_policy_rule *egress;
    size_t n_egress;

    /* Set when the object could not be understood completely.  Such a
     * policy still isolates the pods it selects in the directions it names
     * (fail closed) but allows nothing.  If even its podSelector could not
     * be read, it selects every pod of its namespace. */
    char *error;
};

/* A container port, for named-port resolution. */
struct k8s_container_port {
    char *name;                 /* NULL if unnamed. */
    uint16_t port;
    enum k8s_protocol protocol;
};

enum k8s_pod_phase {
    K8S_POD_PENDING,
    K8S_POD_RUNNING,
    K8S_POD_SUCCEEDED,
    K8S_POD_FAILED,
    K8S_POD_UNKNOWN,
};

struct k8s_pod {
    struct hmap_node node;      /* In struct kcache. */
    struct hmap_node ns_node;   /* In struct kcache's index by namespace. */
    char *namespace;
    char *name;
    char *uid;
    char *resource_version;
    struct smap labels;
    char *node_name;            /* spec.nodeName, NULL if unscheduled. */
    bool host_network;
    bool terminating;           /* metadata.deletionTimestamp set. */
    enum k8s_pod_phase phase;
    struct k8s_cidr *ips;       /* status.podIPs (plen 32/128), in order. */
    size_t n_ips;
    struct k8s_container_port *ports;
    size_t n_ports;
};

struct k8s_namespace {
    struct hmap_node node;      /* In struct kcache. */
    char *name;
    char *uid;
    char *resource_version;
    struct smap labels;         /* Includes kubernetes.io/metadata.name. */
};

void k8s_selector_destroy(struct k8s_selector *);
void k8s_network_policy_destroy(struct k8s_network_policy *);
void k8s_pod_destroy(struct k8s_pod *);
void k8s_namespace_destroy(struct k8s_namespace *);

const char *k8s_protocol_to_string(enum k8s_protocol);

#endif /* lib/k8s-types.h */
