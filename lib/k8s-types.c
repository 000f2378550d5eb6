/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "lib/k8s-types.h"

#include <stdlib.h>
#include "util.h"

void
k8s_selector_destroy(struct k8s_selector *sel)
{
    if (!sel) {
        return;
    }
    smap_destroy(&sel->match_labels);
    for (size_t i = 0; i < sel->n_exprs; i++) {
        struct k8s_selector_expr *expr = &sel->exprs[i];

        free(expr->key);
        for (size_t j = 0; j < expr->n_values; j++) {
            free(expr->values[j]);
        }
        free(expr->values);
    }
    free(sel->exprs);
    sel->exprs = NULL;
    sel->n_exprs = 0;
}

static void
k8s_policy_peer_destroy__(struct k8s_policy_peer *peer)
{
    if (peer->pod_selector) {
        k8s_selector_destroy(peer->pod_selector);
        free(peer->pod_selector);
    }
    if (peer->namespace_selector) {
        k8s_selector_destroy(peer->namespace_selector);
        free(peer->namespace_selector);
    }
    free(peer->ip_block);
    free(peer->excepts);
}

static void
k8s_policy_rules_destroy__(struct k8s_policy_rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct k8s_policy_rule *rule = &rules[i];

        for (size_t j = 0; j < rule->n_peers; j++) {
            k8s_policy_peer_destroy__(&rule->peers[j]);
        }
        free(rule->peers);
        for (size_t j = 0; j < rule->n_ports; j++) {
            free(rule->ports[j].port_name);
        }
        free(rule->ports);
    }
    free(rules);
}

void
k8s_network_policy_destroy(struct k8s_network_policy *policy)
{
    if (!policy) {
        return;
    }
    free(policy->namespace);
    free(policy->name);
    free(policy->uid);
    free(policy->resource_version);
    k8s_selector_destroy(&policy->pod_selector);
    k8s_policy_rules_destroy__(policy->ingress, policy->n_ingress);
    k8s_policy_rules_destroy__(policy->egress, policy->n_egress);
    free(policy->error);
}

void
k8s_pod_destroy(struct k8s_pod *pod)
{
    if (!pod) {
        return;
    }
    free(pod->namespace);
    free(pod->name);
    free(pod->uid);
    free(pod->resource_version);
    smap_destroy(&pod->labels);
    free(pod->node_name);
    free(pod->ips);
    for (size_t i = 0; i < pod->n_ports; i++) {
        free(pod->ports[i].name);
    }
    free(pod->ports);
}

void
k8s_namespace_destroy(struct k8s_namespace *ns)
{
    if (!ns) {
        return;
    }
    free(ns->name);
    free(ns->uid);
    free(ns->resource_version);
    smap_destroy(&ns->labels);
}

const char *
k8s_protocol_to_string(enum k8s_protocol protocol)
{
    switch (protocol) {
    case K8S_PROTO_TCP:
        return "TCP";
    case K8S_PROTO_UDP:
        return "UDP";
    case K8S_PROTO_SCTP:
        return "SCTP";
    }
    OVS_NOT_REACHED();
}
