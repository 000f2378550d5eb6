/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef CNI_NETNS_H
#define CNI_NETNS_H 1

/* Network namespaces, veth pairs, addresses and routes, through rtnetlink
 * (NETLINK_ROUTE) sockets opened in the namespace they act on. */

#include <stdbool.h>
#include "openvswitch/compiler.h"
#include "packets.h"

struct cni_cidr;
struct cni_ipam_result;
struct cni_route;
struct smap;

int cni_netns_open(const char *path, int *fdp);
int cni_netns_enter(int netns_fd, int *saved_fdp);
int cni_netns_return(int saved_fd);

int cni_netns_has_link(int netns_fd, const char *ifname, bool *existsp);

int cni_veth_create(const char *host_name, const char *pod_name,
                    int pod_netns_fd, int mtu, const char *alias);
int cni_link_delete(const char *name);
bool cni_link_exists(const char *name);
int cni_link_set_up(const char *name);
int cni_link_get_mac(const char *name, struct eth_addr *);

char *cni_netns_configure_pod(int netns_fd, const char *ifname,
                              const struct cni_ipam_result *,
                              bool tx_csum_off, struct eth_addr *macp)
    OVS_WARN_UNUSED_RESULT;

/* What CHECK observes of a link. */
struct cni_link_state {
    bool exists;
    bool up;
    int mtu;
    struct eth_addr mac;
    struct cni_cidr *addrs;     /* Its addresses. */
    size_t n_addrs;
    struct cni_route *routes;   /* The namespace's main table. */
    size_t n_routes;
};

int cni_link_observe(const char *name, struct cni_link_state *);
char *cni_netns_observe(int netns_fd, const char *ifname,
                        struct cni_link_state *)
    OVS_WARN_UNUSED_RESULT;
void cni_link_state_destroy(struct cni_link_state *);

int cni_links_by_alias(const char *prefix, struct smap *links);

#endif /* cni/netns.h */
