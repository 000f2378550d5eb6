/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "cni/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "lib/cni-config.h"
#include "netlink.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "smap.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(cni_netns);

/* Network namespaces. */

/* Opens the network namespace file 'path' and stores its fd in '*fdp'.
 * Returns 0 or a positive errno value. */
int
cni_netns_open(const char *path, int *fdp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    *fdp = fd;
    return 0;
}

/* Moves the calling thread into the network namespace 'netns_fd', storing
 * an fd for the namespace it was in into '*saved_fdp', for
 * cni_netns_return(). */
int
cni_netns_enter(int netns_fd, int *saved_fdp)
{
    int saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved < 0) {
        return errno;
    }
    if (setns(netns_fd, CLONE_NEWNET)) {
        int error = errno;
        close(saved);
        return error;
    }
    *saved_fdp = saved;
    return 0;
}

/* Returns to the namespace saved by cni_netns_enter() and closes
 * 'saved_fd'.  Failing to return leaves the process in the wrong namespace
 * for everything that follows, so that aborts. */
int
cni_netns_return(int saved_fd)
{
    if (setns(saved_fd, CLONE_NEWNET)) {
        ovs_fatal(errno, "cannot return to the plugin's network namespace");
    }
    close(saved_fd);
    return 0;
}

/* rtnetlink.  A socket belongs to the namespace it was created in, so every
 * request opens its own. */

static int
cni_rtnl_open(int *fdp)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        return errno;
    }

    struct sockaddr_nl local = { .nl_family = AF_NETLINK };
    if (bind(fd, (struct sockaddr *) &local, sizeof local)) {
        int error = errno;
        close(fd);
        return error;
    }
    *fdp = fd;
    return 0;
}

/* Sends 'request' (a netlink message with nlmsghdr) over a new rtnetlink
 * socket with NLM_F_REQUEST and 'flags' added to its header, and reads the
 * kernel's reply up to its end (NLMSG_DONE) or an NLMSG_ERROR, which, with
 * NLM_F_ACK, is also the acknowledgement.  Calls 'cb', if nonnull, with
 * each other message of the reply.  Returns 0 or a positive errno value,
 * such as the one the kernel reported. */
static int
cni_rtnl_exchange(struct ofpbuf *request, uint16_t flags,
                  void (*cb)(const struct nlmsghdr *, void *aux), void *aux)
{
    static uint32_t seq;
    struct nlmsghdr *nlh = nl_msg_nlmsghdr(request);
    int fd = -1;
    int error;

    error = cni_rtnl_open(&fd);
    if (error) {
        return error;
    }

    nlh->nlmsg_len = request->size;
    nlh->nlmsg_flags |= NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = ++seq;
    nlh->nlmsg_pid = 0;

    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(fd, request->data, request->size, 0,
               (struct sockaddr *) &kernel, sizeof kernel) < 0) {
        error = errno;
        goto exit;
    }

    uint64_t *buf = xmalloc(65536);
    for (;;) {
        ssize_t n = recv(fd, buf, 65536, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            error = errno;
            break;
        }

        bool done = false;
        struct nlmsghdr *h;
        for (h = (struct nlmsghdr *) buf; NLMSG_OK(h, n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != nlh->nlmsg_seq) {
                continue;
            } else if (h->nlmsg_type == NLMSG_DONE) {
                done = true;
            } else if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *err = NLMSG_DATA(h);
                error = -err->error;
                done = true;
            } else if (cb) {
                cb(h, aux);
            }
        }
        if (done) {
            break;
        }
    }
    free(buf);

exit:
    close(fd);
    return error;
}

/* Sends 'request' and waits for the kernel's acknowledgement.  Returns 0 or
 * the positive errno value the kernel reported. */
static int
cni_rtnl_transact(struct ofpbuf *request)
{
    return cni_rtnl_exchange(request, NLM_F_ACK, NULL, NULL);
}

/* Sends 'request', a dump request, and calls 'cb' with each message of the
 * reply.  Returns 0 or a positive errno value. */
static int
cni_rtnl_dump(struct ofpbuf *request,
              void (*cb)(const struct nlmsghdr *, void *aux), void *aux)
{
    return cni_rtnl_exchange(request, NLM_F_DUMP, cb, aux);
}

static void
cni_rtnl_put_ifinfomsg(struct ofpbuf *msg, int ifindex, unsigned int flags,
                       unsigned int change)
{
    struct ifinfomsg *ifi = ofpbuf_put_zeros(msg, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;
    ifi->ifi_flags = flags;
    ifi->ifi_change = change;
}

/* Links. */

static int cni_link_set_alias(const char *name, const char *alias);

/* Creates a veth pair in the current network namespace: 'host_name' stays
 * here, its peer is created directly in the namespace 'pod_netns_fd' as
 * 'pod_name'.  Sets the MTU of both ends to 'mtu' unless it is 0, and the
 * alias of the host end to 'alias' unless it is NULL.  Returns 0 or a
 * positive errno value: EEXIST if either name is taken. */
int
cni_veth_create(const char *host_name, const char *pod_name,
                int pod_netns_fd, int mtu, const char *alias)
{
    struct ofpbuf msg;

    ofpbuf_init(&msg, 512);
    nl_msg_put_nlmsghdr(&msg, 0, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    cni_rtnl_put_ifinfomsg(&msg, 0, 0, 0);
    nl_msg_put_string(&msg, IFLA_IFNAME, host_name);
    if (mtu) {
        nl_msg_put_u32(&msg, IFLA_MTU, mtu);
    }

    size_t linkinfo = nl_msg_start_nested(&msg, IFLA_LINKINFO);
    nl_msg_put_string(&msg, IFLA_INFO_KIND, "veth");
    size_t data = nl_msg_start_nested(&msg, IFLA_INFO_DATA);
    size_t peer = nl_msg_start_nested(&msg, VETH_INFO_PEER);
    cni_rtnl_put_ifinfomsg(&msg, 0, 0, 0);
    nl_msg_put_string(&msg, IFLA_IFNAME, pod_name);
    nl_msg_put_u32(&msg, IFLA_NET_NS_FD, pod_netns_fd);
    if (mtu) {
        nl_msg_put_u32(&msg, IFLA_MTU, mtu);
    }
    nl_msg_end_nested(&msg, peer);
    nl_msg_end_nested(&msg, data);
    nl_msg_end_nested(&msg, linkinfo);

    int error = cni_rtnl_transact(&msg);
    ofpbuf_uninit(&msg);
    if (!error && alias) {
        /* The kernel ignores IFLA_IFALIAS when it creates a link. */
        error = cni_link_set_alias(host_name, alias);
    }
    return error;
}

/* Sets the alias of the link 'name' in the current network namespace. */
static int
cni_link_set_alias(const char *name, const char *alias)
{
    int ifindex = if_nametoindex(name);
    if (!ifindex) {
        return errno;
    }

    struct ofpbuf msg;
    ofpbuf_init(&msg, 128);
    nl_msg_put_nlmsghdr(&msg, 0, RTM_NEWLINK, 0);
    cni_rtnl_put_ifinfomsg(&msg, ifindex, 0, 0);
    nl_msg_put_string(&msg, IFLA_IFALIAS, alias);
    int error = cni_rtnl_transact(&msg);
    ofpbuf_uninit(&msg);
    return error;
}

/* Deletes the link 'name' in the current network namespace (for a veth,
 * both ends).  Returns 0, ENODEV if there is no such link, or another
 * positive errno value. */
int
cni_link_delete(const char *name)
{
    struct ofpbuf msg;

    if (!cni_link_exists(name)) {
        return ENODEV;
    }

    ofpbuf_init(&msg, 128);
    nl_msg_put_nlmsghdr(&msg, 0, RTM_DELLINK, 0);
    cni_rtnl_put_ifinfomsg(&msg, 0, 0, 0);
    nl_msg_put_string(&msg, IFLA_IFNAME, name);
    int error = cni_rtnl_transact(&msg);
    ofpbuf_uninit(&msg);
    return error;
}

bool
cni_link_exists(const char *name)
{
    return if_nametoindex(name) != 0;
}

/* Sets the link 'name' in the current network namespace up. */
int
cni_link_set_up(const char *name)
{
    int ifindex = if_nametoindex(name);
    if (!ifindex) {
        return errno;
    }

    struct ofpbuf msg;
    ofpbuf_init(&msg, 64);
    nl_msg_put_nlmsghdr(&msg, 0, RTM_NEWLINK, 0);
    cni_rtnl_put_ifinfomsg(&msg, ifindex, IFF_UP, IFF_UP);
    int error = cni_rtnl_transact(&msg);
    ofpbuf_uninit(&msg);
    return error;
}

/* Ioctls on an AF_INET datagram socket of the current namespace. */
static int
cni_ioctl(const char *name, unsigned long cmd, struct ifreq *ifr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    ovs_strzcpy(ifr->ifr_name, name, sizeof ifr->ifr_name);
    int error = ioctl(fd, cmd, ifr) < 0 ? errno : 0;
    close(fd);
    return error;
}

int
cni_link_get_mac(const char *name, struct eth_addr *mac)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    int error = cni_ioctl(name, SIOCGIFHWADDR, &ifr);
    if (!error) {
        memcpy(mac->ea, ifr.ifr_hwaddr.sa_data, ETH_ADDR_LEN);
    }
    return error;
}

/* Turns TX checksum offload off on 'name', as "ethtool -K NAME tx off"
 * does.  The userspace datapath forwards packets whose checksum a veth
 * left to "hardware" as they are, and its conntrack then marks them
 * invalid. */
static int
cni_link_disable_tx_csum(const char *name)
{
    struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = 0 };
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_data = (void *) &ev;
    return cni_ioctl(name, SIOCETHTOOL, &ifr);
}

/* Addresses and routes. */

static void
cni_rtnl_put_addr(struct ofpbuf *msg, uint16_t type,
                  const struct in6_addr *addr)
{
    if (IN6_IS_ADDR_V4MAPPED(addr)) {
        nl_msg_put_be32(msg, type, in6_addr_get_mapped_ipv4(addr));
    } else {
        nl_msg_put_in6_addr(msg, type, addr);
    }
}

static int
cni_addr_add(int ifindex, const struct cni_cidr *cidr)
{
    bool ipv4 = cni_cidr_is_ipv4(cidr);
    struct ofpbuf msg;

    ofpbuf_init(&msg, 128);
    nl_msg_put_nlmsghdr(&msg, 0, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    struct ifaddrmsg *ifa = ofpbuf_put_zeros(&msg, sizeof *ifa);
    ifa->ifa_family = ipv4 ? AF_INET : AF_INET6;
    ifa->ifa_prefixlen = cidr->plen;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = ifindex;
    /* Pods start talking at once: skip duplicate address detection. */
    ifa->ifa_flags = ipv4 ? 0 : IFA_F_NODAD;
    cni_rtnl_put_addr(&msg, IFA_LOCAL, &cidr->addr);
    cni_rtnl_put_addr(&msg, IFA_ADDRESS, &cidr->addr);

    int error = cni_rtnl_transact(&msg);
    ofpbuf_uninit(&msg);
    return error;
}

static int
cni_route_add(int ifindex, const struct cni_cidr *dst,
              const struct in6_addr *gw)
{
    bool ipv4 = cni_cidr_is_ipv4(dst);
    struct ofpbuf msg;

    ofpbuf_init(&msg, 128);
    nl_msg_put_nlmsghdr(&msg, 0, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
    struct rtmsg *rtm = ofpbuf_put_zeros(&msg, sizeof *rtm);
    rtm->rtm_family = ipv4 ? AF_INET : AF_INET6;
    rtm->rtm_dst_len = dst->plen;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_BOOT;
    rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    rtm->rtm_type = RTN_UNICAST;
    if (dst->plen) {
        cni_rtnl_put_addr(&msg, RTA_DST, &dst->addr);
    }
    if (gw) {
        cni_rtnl_put_addr(&msg, RTA_GATEWAY, gw);
    }
    nl_msg_put_u32(&msg, RTA_OIF, ifindex);

    int error = cni_rtnl_transact(&msg);
    ofpbuf_uninit(&msg);
    return error;
}

static char *
cni_netns_configure_pod__(const char *ifname,
                          const struct cni_ipam_result *ipam,
                          bool tx_csum_off, struct eth_addr *macp)
{
    int ifindex = if_nametoindex(ifname);
    int error;

    if (!ifindex) {
        return xasprintf("%s: not found in the container namespace: %s",
                         ifname, ovs_strerror(errno));
    }

    error = cni_link_get_mac(ifname, macp);
    if (error) {
        return xasprintf("%s: cannot read its MAC address: %s",
                         ifname, ovs_strerror(error));
    }

    if (tx_csum_off) {
        error = cni_link_disable_tx_csum(ifname);
        if (error) {
            return xasprintf("%s: cannot turn TX checksum offload off: %s",
                             ifname, ovs_strerror(error));
        }
    }

    error = cni_link_set_up(ifname);
    if (error) {
        return xasprintf("%s: cannot set it up: %s",
                         ifname, ovs_strerror(error));
    }

    for (size_t i = 0; i < ipam->n_ips; i++) {
        error = cni_addr_add(ifindex, &ipam->ips[i].address);
        if (error) {
            char *s = cni_cidr_format(&ipam->ips[i].address, true);
            char *msg = xasprintf("%s: cannot add address %s: %s",
                                  ifname, s, ovs_strerror(error));
            free(s);
            return msg;
        }
    }

    for (size_t i = 0; i < ipam->n_routes; i++) {
        const struct cni_route *route = &ipam->routes[i];
        const struct in6_addr *gw
            = (route->has_gw ? &route->gw.addr
               : cni_ipam_result_gateway(ipam, cni_cidr_is_ipv4(&route->dst)));

        error = cni_route_add(ifindex, &route->dst, gw);
        if (error && error != EEXIST) {
            char *s = cni_cidr_format(&route->dst, true);
            char *msg = xasprintf("%s: cannot add route to %s: %s",
                                  ifname, s, ovs_strerror(error));
            free(s);
            return msg;
        }
    }
    return NULL;
}

/* In the network namespace 'netns_fd', configures 'ifname': TX checksum
 * offload off if 'tx_csum_off', link up, the addresses of 'ipam' and its
 * routes (those without a gateway go through the gateway of their address
 * family).  Stores the interface's MAC in '*macp'. */
char *
cni_netns_configure_pod(int netns_fd, const char *ifname,
                        const struct cni_ipam_result *ipam,
                        bool tx_csum_off, struct eth_addr *macp)
{
    int saved_fd;
    int error = cni_netns_enter(netns_fd, &saved_fd);
    if (error) {
        return xasprintf("cannot enter the container network namespace: %s",
                         ovs_strerror(error));
    }

    char *msg = cni_netns_configure_pod__(ifname, ipam, tx_csum_off, macp);
    cni_netns_return(saved_fd);
    return msg;
}

/* Returns in '*existsp' whether the network namespace 'netns_fd' has a link
 * named 'ifname'.  Returns 0 or a positive errno value. */
int
cni_netns_has_link(int netns_fd, const char *ifname, bool *existsp)
{
    int saved_fd;
    int error = cni_netns_enter(netns_fd, &saved_fd);
    if (error) {
        return error;
    }
    *existsp = cni_link_exists(ifname);
    cni_netns_return(saved_fd);
    return 0;
}

/* CHECK: observing links, addresses and routes. */

static void
cni_rtattr_to_in6(const struct rtattr *rta, struct in6_addr *addr)
{
    if (RTA_PAYLOAD(rta) == 4) {
        ovs_be32 ip4;
        memcpy(&ip4, RTA_DATA(rta), 4);
        in6_addr_set_mapped_ipv4(addr, ip4);
    } else if (RTA_PAYLOAD(rta) == 16) {
        memcpy(addr, RTA_DATA(rta), 16);
    }
}

struct cni_observe_aux {
    int ifindex;
    struct cni_link_state *state;
};

static void
cni_observe_addr(const struct nlmsghdr *h, void *aux_)
{
    struct cni_observe_aux *aux = aux_;
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    struct cni_link_state *state = aux->state;

    if (h->nlmsg_type != RTM_NEWADDR
        || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
        || ifa->ifa_index != aux->ifindex) {
        return;
    }

    struct cni_cidr cidr = { .plen = ifa->ifa_prefixlen };
    bool found = false;
    int len = IFA_PAYLOAD(h);
    for (const struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, len);
         rta = RTA_NEXT(rta, len)) {
        /* IFA_LOCAL is the address itself where it differs from
         * IFA_ADDRESS (point to point); prefer it. */
        if (rta->rta_type == IFA_LOCAL
            || (rta->rta_type == IFA_ADDRESS && !found)) {
            cni_rtattr_to_in6(rta, &cidr.addr);
            found = true;
        }
    }
    if (found) {
        state->addrs = xrealloc(state->addrs,
                                (state->n_addrs + 1) * sizeof *state->addrs);
        state->addrs[state->n_addrs++] = cidr;
    }
}

static void
cni_observe_route(const struct nlmsghdr *h, void *aux_)
{
    struct cni_observe_aux *aux = aux_;
    const struct rtmsg *rtm = NLMSG_DATA(h);
    struct cni_link_state *state = aux->state;

    if (h->nlmsg_type != RTM_NEWROUTE
        || (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
        || rtm->rtm_type != RTN_UNICAST) {
        return;
    }

    struct cni_route route;
    memset(&route, 0, sizeof route);
    if (rtm->rtm_family == AF_INET) {
        in6_addr_set_mapped_ipv4(&route.dst.addr, 0);
    }
    route.dst.plen = rtm->rtm_dst_len;

    uint32_t table = rtm->rtm_table;
    int len = RTM_PAYLOAD(h);
    for (const struct rtattr *rta = RTM_RTA(rtm); RTA_OK(rta, len);
         rta = RTA_NEXT(rta, len)) {
        if (rta->rta_type == RTA_DST) {
            cni_rtattr_to_in6(rta, &route.dst.addr);
        } else if (rta->rta_type == RTA_GATEWAY) {
            cni_rtattr_to_in6(rta, &route.gw.addr);
            route.has_gw = true;
        } else if (rta->rta_type == RTA_TABLE
                   && RTA_PAYLOAD(rta) == sizeof table) {
            memcpy(&table, RTA_DATA(rta), sizeof table);
        }
    }
    if (table == RT_TABLE_MAIN) {
        state->routes = xrealloc(state->routes, (state->n_routes + 1)
                                 * sizeof *state->routes);
        state->routes[state->n_routes++] = route;
    }
}

static int
cni_link_observe__(const char *name, bool with_addrs,
                   struct cni_link_state *state)
{
    struct ifreq ifr;
    int error;

    memset(state, 0, sizeof *state);
    int ifindex = if_nametoindex(name);
    if (!ifindex) {
        return 0;
    }
    state->exists = true;

    memset(&ifr, 0, sizeof ifr);
    error = cni_ioctl(name, SIOCGIFFLAGS, &ifr);
    if (error) {
        return error;
    }
    state->up = (ifr.ifr_flags & IFF_UP) != 0;

    memset(&ifr, 0, sizeof ifr);
    error = cni_ioctl(name, SIOCGIFMTU, &ifr);
    if (error) {
        return error;
    }
    state->mtu = ifr.ifr_mtu;

    error = cni_link_get_mac(name, &state->mac);
    if (error || !with_addrs) {
        return error;
    }

    struct cni_observe_aux aux = { .ifindex = ifindex, .state = state };
    struct ofpbuf msg;

    ofpbuf_init(&msg, 64);
    nl_msg_put_nlmsghdr(&msg, 0, RTM_GETADDR, 0);
    struct ifaddrmsg *ifa = ofpbuf_put_zeros(&msg, sizeof *ifa);
    ifa->ifa_family = AF_UNSPEC;
    error = cni_rtnl_dump(&msg, cni_observe_addr, &aux);
    ofpbuf_uninit(&msg);
    if (error) {
        return error;
    }

    ofpbuf_init(&msg, 64);
    nl_msg_put_nlmsghdr(&msg, 0, RTM_GETROUTE, 0);
    struct rtmsg *rtm = ofpbuf_put_zeros(&msg, sizeof *rtm);
    rtm->rtm_family = AF_UNSPEC;
    error = cni_rtnl_dump(&msg, cni_observe_route, &aux);
    ofpbuf_uninit(&msg);
    return error;
}

/* Observes the link 'name' in the current network namespace: whether it
 * exists, is up, its MTU and MAC. */
int
cni_link_observe(const char *name, struct cni_link_state *state)
{
    int error = cni_link_observe__(name, false, state);
    if (error) {
        cni_link_state_destroy(state);
    }
    return error;
}

/* Observes the link 'ifname' in the network namespace 'netns_fd': as
 * cni_link_observe(), plus its addresses and the routes of the namespace's
 * main table. */
char *
cni_netns_observe(int netns_fd, const char *ifname,
                  struct cni_link_state *state)
{
    int saved_fd;
    int error = cni_netns_enter(netns_fd, &saved_fd);
    if (error) {
        return xasprintf("cannot enter the container network namespace: %s",
                         ovs_strerror(error));
    }

    error = cni_link_observe__(ifname, true, state);
    cni_netns_return(saved_fd);
    if (error) {
        cni_link_state_destroy(state);
        return xasprintf("%s: cannot read its state: %s", ifname,
                         ovs_strerror(error));
    }
    return NULL;
}

void
cni_link_state_destroy(struct cni_link_state *state)
{
    if (state) {
        free(state->addrs);
        free(state->routes);
        memset(state, 0, sizeof *state);
    }
}

/* GC: links by alias. */

struct cni_alias_aux {
    const char *prefix;
    struct smap *links;
};

static void
cni_collect_alias(const struct nlmsghdr *h, void *aux_)
{
    struct cni_alias_aux *aux = aux_;
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    const char *name = NULL, *alias = NULL;

    if (h->nlmsg_type != RTM_NEWLINK) {
        return;
    }

    int len = IFLA_PAYLOAD(h);
    for (const struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, len);
         rta = RTA_NEXT(rta, len)) {
        const char *data = RTA_DATA(rta);
        size_t size = RTA_PAYLOAD(rta);
        if (!size || data[size - 1] != '\0') {
            continue;
        }
        if (rta->rta_type == IFLA_IFNAME) {
            name = data;
        } else if (rta->rta_type == IFLA_IFALIAS) {
            alias = data;
        }
    }
    if (name && alias && !strncmp(alias, aux->prefix, strlen(aux->prefix))) {
        smap_replace(aux->links, name, alias + strlen(aux->prefix));
    }
}

/* Adds to 'links' (name to the rest of the alias) every link of the current
 * network namespace whose alias starts with 'prefix'.  Returns 0 or a
 * positive errno value. */
int
cni_links_by_alias(const char *prefix, struct smap *links)
{
    struct cni_alias_aux aux = { .prefix = prefix, .links = links };
    struct ofpbuf msg;

    ofpbuf_init(&msg, 64);
    nl_msg_put_nlmsghdr(&msg, 0, RTM_GETLINK, 0);
    cni_rtnl_put_ifinfomsg(&msg, 0, 0, 0);
    int error = cni_rtnl_dump(&msg, cni_collect_alias, &aux);
    ofpbuf_uninit(&msg);
    return error;
}
