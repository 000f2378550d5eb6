/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* ovs-netpol-controller: enforces Kubernetes NetworkPolicy on one node's
 * Open vSwitch bridge.  One thread runs OVS's poll loop: the Kubernetes
 * source, the OVSDB IDL and the OpenFlow connection all advance in it, so
 * the objects, the ports and the installed flows move together. */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command-line.h"
#include "controller/k8s-client.h"
#include "controller/k8s-watch.h"
#include "controller/manifest-source.h"
#include "controller/ofsync.h"
#include "controller/ovs-state.h"
#include "daemon.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "lib/flow-set.h"
#include "lib/k8s-cache.h"
#include "lib/k8s-parse.h"
#include "lib/kubeconfig.h"
#include "lib/npol-compile.h"
#include "lib/portmap.h"
#include "netlink-notifier.h"
#include "netlink-socket.h"
#include "netlink.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "sset.h"
#include "svec.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(controller);

/* Command-line settings. */
struct ctl_options {
    char *manifests;
    char *kubeconfig;
    char *context;
    char *sa_dir;
    int watch_idle_sec;
    char *ovsdb;
    char *bridge;
    char *datapath_type;
    char *gateway;
    struct k8s_cidr gateway_addrs[2];   /* --gateway-address: at most one
                                         * per family, host bits set. */
    size_t n_gateway_addrs;
    char *node_name;
    char *unixctl_path;
    bool reeval_established;
};

/* Everything the main loop owns. */
struct ctl {
    struct ctl_options opts;
    struct kcache *cache;

    /* The source of Kubernetes objects: exactly one of these. */
    struct manifest_source *manifests;
    struct k8s_source *k8s;
    struct k8s_endpoint endpoint;   /* For 'k8s'. */

    struct ovsstate *ovs;
    struct ofsync *ofsync;

    struct flowset desired;
    bool have_desired;          /* 'desired' reflects synced inputs. */
    struct npol_compiler *compiler; /* Keeps 'desired' up to date. */
    uint64_t cache_seqno;
    uint64_t ovs_seqno;
    bool recompute;             /* Forced by netpol/recompute. */
    bool ready;                 /* Flows installed for synced inputs. */

    /* The node's addresses on the gateway port, re-read when the kernel
     * reports a change of an interface or an address ('addr_nln'), every
     * CTL_GW_SCAN_MSEC while there is none (or without 'addr_nln'), and
     * every CTL_GW_RESCAN_MSEC in any case. */
    struct k8s_cidr *gw_ips;
    size_t n_gw_ips;
    long long int next_gw_scan;
    struct nln *addr_nln;
    struct nln_notifier *addr_notifiers[3];
    bool addr_changed;

    /* other_config:flow-restore-wait, while it is set: our flows must go
     * into an ovs-vswitchd started with it before we remove it.
     * 'frw_conn' is the OpenFlow connection on which being synced does not
     * count (the ovs-vswitchd about to be restarted), if 'frw_wait_new'. */
    bool frw_seen;
    bool frw_wait_new;
    unsigned int frw_conn;
    long long int frw_since;

    struct sset problems;       /* Last compile's problems, to log news. */
    struct ctl_stats *stats;    /* For netpol/stats. */
    bool exiting;
};

#define CTL_GW_SCAN_MSEC 1000
#define CTL_GW_RESCAN_MSEC 30000

/* Counters and stopwatches for netpol/stats, which benchmarks read
 * (tests/bench/bench.sh).  CPU times are the main thread's; wall-clock
 * times are microseconds since the epoch, so that another process can
 * subtract the time at which it changed an input. */
struct ctl_stats {
    long long int start_wall_us;        /* When the controller started. */

    /* Source runs that changed the cache (parse and rebuild). */
    uint64_t n_source_changes;
    long long int last_source_cpu_us, total_source_cpu_us;
    long long int last_source_wall_us;  /* When the last change was seen. */

    /* Compilations. */
    uint64_t n_compiles;
    long long int last_compile_cpu_us, total_compile_cpu_us;
    long long int last_compile_end_wall_us;
    size_t last_compile_flows;

    /* Realizations: the switch acknowledged a state equal to the desired
     * set of a compilation (once per compilation, possibly with no
     * flow_mods if nothing changed). */
    bool awaiting;                      /* Compiled, not installed yet. */
    uint64_t n_realized;
    long long int last_realized_wall_us;
    long long int first_realized_wall_us;
    uint64_t flow_mods_at_realize;      /* ofsync's count then. */
    uint64_t last_change_flow_mods;     /* Sent for the last realization. */
    uint64_t bundles_at_realize;
    uint64_t last_change_bundles;
};

static long long int
ctl_thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* How long flow-restore-wait that appeared while we were synced with a
 * running ovs-vswitchd may wait for that ovs-vswitchd to be restarted
 * before we remove it anyway (ovs-vswitchd honours it only at start). */
#define CTL_FRW_MAX_WAIT_MSEC 30000

static void
usage(void)
{
    printf("%s: Kubernetes NetworkPolicy enforcement on Open vSwitch\n"
           "usage: %s [OPTIONS]\n"
           "\nKubernetes objects (default: the API server, in-cluster):\n"
           "  --kubeconfig=FILE       list and watch the API server FILE\n"
           "                          (YAML or JSON kubeconfig) points to\n"
           "  --context=NAME          kubeconfig context (default: current)\n"
           "  --serviceaccount-dir=DIR  in-cluster token and ca.crt\n"
           "                          (default: %s)\n"
           "  --watch-idle-timeout=SECS  restart a watch that receives\n"
           "                          nothing for SECS (default: 120)\n"
           "  --manifests=DIR         instead, read Namespace, Pod and\n"
           "                          NetworkPolicy objects from\n"
           "                          *.yaml/*.yml/*.json in DIR\n"
           "\nNode:\n"
           "  --ovsdb=REMOTE          OVSDB server (default: unix:%s/db.sock)\n"
           "  --bridge=NAME           integration bridge (default: br-int)\n"
           "  --datapath-type=TYPE    datapath type when creating the bridge\n"
           "  --gateway=NAME          node gateway port (default: np-gw0)\n"
           "  --gateway-address=IP/PLEN[,IP/PLEN]  address the controller\n"
           "                          keeps on the gateway port, one IPv4\n"
           "                          and/or one IPv6 (the pod subnets'\n"
           "                          gateways, e.g. 10.244.0.1/24,\n"
           "                          fd00:10:244::1/64); may be repeated;\n"
           "                          default, with an API server: the first\n"
           "                          address of each family's Node\n"
           "                          spec.podCIDRs\n"
           "  --node-name=NAME        this node (default: $NODE_NAME, else\n"
           "                          the host name)\n"
           "  --keep-established      do not re-evaluate the request\n"
           "                          direction of established connections\n"
           "                          when policies change\n",
           program_name, program_name, KCFG_SERVICEACCOUNT_DIR,
           ovs_rundir());
    daemon_usage();
    vlog_usage();
    printf("\nOther options:\n"
           "  --unixctl=SOCKET        override default control socket name\n"
           "  -h, --help              display this help message\n"
           "  -V, --version           display version information\n");
    exit(EXIT_SUCCESS);
}

/* Parses "IP/PLEN" (IPv4 or IPv6, host bits set, as a gateway address has
 * them) into '*c'. */
static char *
ctl_parse_gateway_address(const char *s, struct k8s_cidr *c)
{
    char *copy = xstrdup(s);
    char *slash = strchr(copy, '/');
    char *error = NULL;
    ovs_be32 ip4;
    int plen;

    memset(c, 0, sizeof *c);
    if (slash) {
        *slash = '\0';
    }
    if (!slash || !str_to_int(slash + 1, 10, &plen)) {
        error = xasprintf("\"%s\" is not an address with a prefix length, "
                          "such as 10.244.0.1/24 or fd00:10:244::1/64", s);
    } else if (ip_parse(copy, &ip4) && plen >= 1 && plen <= 32) {
        in6_addr_set_mapped_ipv4(&c->addr, ip4);
        c->plen = plen;
        c->is_ipv4 = true;
    } else if (ipv6_parse(copy, &c->addr) && plen >= 1 && plen <= 128) {
        c->plen = plen;
    } else {
        error = xasprintf("\"%s\" is not an IPv4 address with a prefix "
                          "length of 1 to 32 or an IPv6 address with one of "
                          "1 to 128", s);
    }
    free(copy);
    return error;
}

/* Adds the comma-separated addresses of 'arg' (one --gateway-address) to
 * 'o', at most one per family over all of them. */
static char *
ctl_add_gateway_addresses(struct ctl_options *o, const char *arg)
{
    char *copy = xstrdup(arg);
    char *save = NULL;
    char *error = NULL;

    for (char *tok = strtok_r(copy, ",", &save); tok && !error;
         tok = strtok_r(NULL, ",", &save)) {
        struct k8s_cidr c;
        error = ctl_parse_gateway_address(tok, &c);
        for (size_t i = 0; !error && i < o->n_gateway_addrs; i++) {
            if (o->gateway_addrs[i].is_ipv4 == c.is_ipv4) {
                error = xasprintf("\"%s\": the gateway already has an %s "
                                  "address", tok, c.is_ipv4 ? "IPv4" : "IPv6");
            }
        }
        if (!error) {
            o->gateway_addrs[o->n_gateway_addrs++] = c;
        }
    }
    if (!error && !o->n_gateway_addrs) {
        error = xasprintf("\"%s\" names no address", arg);
    }
    free(copy);
    return error;
}

/* Opens a socket for interface ioctls and readies 'ifr' for interface
 * 'name'.  Returns the socket, or a negative errno value. */
static int
ctl_ifreq_open(const char *name, struct ifreq *ifr)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    if (fd < 0) {
        return -errno;
    }
    memset(ifr, 0, sizeof *ifr);
    ovs_strlcpy(ifr->ifr_name, name, sizeof ifr->ifr_name);
    return fd;
}

/* Brings interface 'name' up. */
static int
ctl_set_link_up(const char *name)
{
    struct ifreq ifr;
    int error = 0;
    int fd = ctl_ifreq_open(name, &ifr);

    if (fd < 0) {
        return -fd;
    }
    if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
        error = errno;
    } else if (!(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr)) {
            error = errno;
        }
    }
    close(fd);
    return error;
}

/* Gives interface 'name' the address 'ip'/'plen' and brings it up. */
static int
ctl_set_gateway_address(const char *name, ovs_be32 ip, unsigned int plen)
{
    struct ifreq ifr;
    struct sockaddr_in *sin = ALIGNED_CAST(struct sockaddr_in *,
                                           &ifr.ifr_addr);
    int error = 0;
    int fd = ctl_ifreq_open(name, &ifr);

    if (fd < 0) {
        return -fd;
    }
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = ip;
    if (ioctl(fd, SIOCSIFADDR, &ifr)) {
        error = errno;
        goto out;
    }
    sin->sin_addr.s_addr = be32_prefix_mask(plen);
    if (ioctl(fd, SIOCSIFNETMASK, &ifr)) {
        error = errno;
    }
out:
    close(fd);
    return error ? error : ctl_set_link_up(name);
}

/* Gives interface 'name' the IPv6 address 'c' (RTM_NEWADDR; without
 * duplicate address detection, which would keep it unusable for a second
 * or more while nothing else can hold it) and brings it up. */
static int
ctl_set_gateway_address6(const char *name, const struct k8s_cidr *c)
{
    unsigned int ifindex = if_nametoindex(name);
    if (!ifindex) {
        return errno;
    }

    struct ofpbuf request;
    ofpbuf_init(&request, 0);
    nl_msg_put_nlmsghdr(&request, sizeof(struct ifaddrmsg), RTM_NEWADDR,
                        NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE);
    struct ifaddrmsg *ifa = ofpbuf_put_zeros(&request, sizeof *ifa);
    ifa->ifa_family = AF_INET6;
    ifa->ifa_prefixlen = c->plen;
    ifa->ifa_flags = IFA_F_NODAD;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = ifindex;
    nl_msg_put_unspec(&request, IFA_LOCAL, &c->addr, sizeof c->addr);
    nl_msg_put_unspec(&request, IFA_ADDRESS, &c->addr, sizeof c->addr);
    int error = nl_transact(NETLINK_ROUTE, &request, NULL);
    ofpbuf_uninit(&request);
    return error ? error : ctl_set_link_up(name);
}

/* Stores in 'out' the addresses to keep on the gateway port and returns
 * how many there are: --gateway-address or, without it in API mode, the
 * first address of the Node's pod CIDR of each family (10.244.3.0/24 gives
 * 10.244.3.1/24, fd00:10:244:3::/64 gives fd00:10:244:3::1/64). */
static size_t
ctl_gateway_targets(const struct ctl *ctl, struct k8s_cidr out[2])
{
    if (ctl->opts.n_gateway_addrs) {
        memcpy(out, ctl->opts.gateway_addrs,
               ctl->opts.n_gateway_addrs * sizeof *out);
        return ctl->opts.n_gateway_addrs;
    }

    const struct k8s_cidr *cidrs;
    size_t n_cidrs, n = 0;
    bool have_v4 = false, have_v6 = false;
    if (ctl->k8s && k8s_source_node_pod_cidrs(ctl->k8s, &cidrs, &n_cidrs)) {
        for (size_t i = 0; i < n_cidrs && n < 2; i++) {
            const struct k8s_cidr *c = &cidrs[i];
            bool *have = c->is_ipv4 ? &have_v4 : &have_v6;
            if (*have || c->plen >= (c->is_ipv4 ? 32 : 128)) {
                continue;
            }
            *have = true;
            out[n] = *c;
            /* The network address has no host bits: the first address
             * sets the lowest one. */
            out[n].addr.s6_addr[15] |= 1;
            n++;
        }
    }
    return n;
}

/* Keeps the gateway addresses (see ctl_gateway_targets()) on the gateway
 * port, once OVS has made it.  Returns true if it set one. */
static bool
ctl_ensure_gateway_address(struct ctl *ctl)
{
    struct k8s_cidr targets[2];
    size_t n = ctl_gateway_targets(ctl, targets);
    bool set = false;

    if (!n || ovsstate_gateway_ofport(ctl->ovs) == OFPP_NONE
        || !if_nametoindex(ctl->opts.gateway)) {
        return false;
    }
    for (size_t t = 0; t < n; t++) {
        const struct k8s_cidr *c = &targets[t];
        bool present = false;
        for (size_t i = 0; i < ctl->n_gw_ips; i++) {
            present |= (ctl->gw_ips[i].is_ipv4 == c->is_ipv4
                        && ipv6_addr_equals(&ctl->gw_ips[i].addr,
                                            &c->addr));
        }
        if (present) {
            continue;
        }

        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        int error = (c->is_ipv4
                     ? ctl_set_gateway_address(
                         ctl->opts.gateway,
                         in6_addr_get_mapped_ipv4(&c->addr), c->plen)
                     : ctl_set_gateway_address6(ctl->opts.gateway, c));
        struct ds addr = DS_EMPTY_INITIALIZER;
        k8s_cidr_format(c, &addr);
        if (error) {
            VLOG_WARN_RL(&rl, "%s: cannot set address %s (%s)",
                         ctl->opts.gateway, ds_cstr(&addr),
                         ovs_strerror(error));
        } else {
            VLOG_INFO("%s: address set to %s%s", ctl->opts.gateway,
                      ds_cstr(&addr),
                      ctl->opts.n_gateway_addrs ? "" : " (from the Node's "
                      "pod CIDR)");
            set = true;
        }
        ds_destroy(&addr);
    }
    return set;
}

static void
parse_options(int argc, char *argv[], struct ctl_options *o)
{
    enum {
        OPT_MANIFESTS = UCHAR_MAX + 1,
        OPT_KUBECONFIG,
        OPT_CONTEXT,
        OPT_SA_DIR,
        OPT_WATCH_IDLE,
        OPT_OVSDB,
        OPT_BRIDGE,
        OPT_DATAPATH_TYPE,
        OPT_GATEWAY,
        OPT_GATEWAY_ADDRESS,
        OPT_NODE_NAME,
        OPT_KEEP_ESTABLISHED,
        OPT_UNIXCTL,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"manifests", required_argument, NULL, OPT_MANIFESTS},
        {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
        {"context", required_argument, NULL, OPT_CONTEXT},
        {"serviceaccount-dir", required_argument, NULL, OPT_SA_DIR},
        {"watch-idle-timeout", required_argument, NULL, OPT_WATCH_IDLE},
        {"ovsdb", required_argument, NULL, OPT_OVSDB},
        {"bridge", required_argument, NULL, OPT_BRIDGE},
        {"datapath-type", required_argument, NULL, OPT_DATAPATH_TYPE},
        {"gateway", required_argument, NULL, OPT_GATEWAY},
        {"gateway-address", required_argument, NULL, OPT_GATEWAY_ADDRESS},
        {"node-name", required_argument, NULL, OPT_NODE_NAME},
        {"keep-established", no_argument, NULL, OPT_KEEP_ESTABLISHED},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        DAEMON_LONG_OPTIONS,
        VLOG_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(
        long_options);

    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            break;
        }

        switch (c) {
        case OPT_MANIFESTS:
            free(o->manifests);
            o->manifests = xstrdup(optarg);
            break;
        case OPT_KUBECONFIG:
            free(o->kubeconfig);
            o->kubeconfig = xstrdup(optarg);
            break;
        case OPT_CONTEXT:
            free(o->context);
            o->context = xstrdup(optarg);
            break;
        case OPT_SA_DIR:
            free(o->sa_dir);
            o->sa_dir = xstrdup(optarg);
            break;
        case OPT_WATCH_IDLE:
            if (!str_to_int(optarg, 10, &o->watch_idle_sec)
                || o->watch_idle_sec <= 0) {
                ovs_fatal(0, "--watch-idle-timeout: \"%s\" is not a "
                          "positive number of seconds", optarg);
            }
            break;
        case OPT_OVSDB:
            free(o->ovsdb);
            o->ovsdb = xstrdup(optarg);
            break;
        case OPT_BRIDGE:
            free(o->bridge);
            o->bridge = xstrdup(optarg);
            break;
        case OPT_DATAPATH_TYPE:
            free(o->datapath_type);
            o->datapath_type = xstrdup(optarg);
            break;
        case OPT_GATEWAY:
            free(o->gateway);
            o->gateway = xstrdup(optarg);
            break;
        case OPT_GATEWAY_ADDRESS: {
            char *error = ctl_add_gateway_addresses(o, optarg);
            if (error) {
                ovs_fatal(0, "--gateway-address: %s", error);
            }
            break;
        }
        case OPT_NODE_NAME:
            free(o->node_name);
            o->node_name = xstrdup(optarg);
            break;
        case OPT_KEEP_ESTABLISHED:
            o->reeval_established = false;
            break;
        case OPT_UNIXCTL:
            free(o->unixctl_path);
            o->unixctl_path = xstrdup(optarg);
            break;
        case 'h':
            usage();
            break;
        case 'V':
            ovs_print_version(0, 0);
            exit(EXIT_SUCCESS);

        VLOG_OPTION_HANDLERS
        DAEMON_OPTION_HANDLERS

        case '?':
            exit(EXIT_FAILURE);
        default:
            abort();
        }
    }
    free(short_options);

    if (optind < argc) {
        ovs_fatal(0, "non-option argument \"%s\"; use --help for usage",
                  argv[optind]);
    }
    if (o->manifests && (o->kubeconfig || o->context || o->sa_dir)) {
        ovs_fatal(0, "--manifests excludes --kubeconfig, --context and "
                  "--serviceaccount-dir: use one source of objects");
    }
    if (o->context && !o->kubeconfig) {
        ovs_fatal(0, "--context needs --kubeconfig");
    }
    if (!o->ovsdb) {
        o->ovsdb = xasprintf("unix:%s/db.sock", ovs_rundir());
    }
    if (!o->node_name) {
        const char *env = getenv("NODE_NAME");
        if (env && env[0]) {
            o->node_name = xstrdup(env);
        } else {
            char host[256];
            if (gethostname(host, sizeof host)) {
                ovs_fatal(errno, "cannot get the host name; use --node-name");
            }
            host[sizeof host - 1] = '\0';
            o->node_name = xstrdup(host);
        }
    }
}

static void
ctl_options_destroy(struct ctl_options *o)
{
    free(o->manifests);
    free(o->kubeconfig);
    free(o->context);
    free(o->sa_dir);
    free(o->ovsdb);
    free(o->bridge);
    free(o->datapath_type);
    free(o->gateway);
    free(o->node_name);
    free(o->unixctl_path);
}

/* Interface and address changes from the kernel.  Reading every
 * interface's addresses (getifaddrs()) costs ~1.5 ms of CPU with a hundred
 * pod interfaces, too much to do every second next to the events we must
 * handle quickly. */

static int
ctl_addr_parse(struct ofpbuf *buf OVS_UNUSED, void *change OVS_UNUSED)
{
    /* Any message on this socket is a change that may concern the
     * gateway: report it to the notifiers of one group (they all do the
     * same). */
    return RTNLGRP_IPV4_IFADDR;
}

static void
ctl_addr_notify(const void *change OVS_UNUSED, void *ctl_)
{
    struct ctl *ctl = ctl_;
    ctl->addr_changed = true;
}

static void
ctl_addr_watch_destroy(struct ctl *ctl)
{
    for (size_t i = 0; i < ARRAY_SIZE(ctl->addr_notifiers); i++) {
        nln_notifier_destroy(ctl->addr_notifiers[i]);
        ctl->addr_notifiers[i] = NULL;
    }
    nln_destroy(ctl->addr_nln);
    ctl->addr_nln = NULL;
}

static void
ctl_addr_watch_create(struct ctl *ctl)
{
    static const int groups[] = {
        RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
    };
    static char change;         /* Notifiers get a pointer to it. */

    ctl->addr_nln = nln_create(NETLINK_ROUTE, ctl_addr_parse, &change);
    for (size_t i = 0; i < ARRAY_SIZE(groups); i++) {
        ctl->addr_notifiers[i] = nln_notifier_create(ctl->addr_nln, groups[i],
                                                     ctl_addr_notify, ctl);
        if (!ctl->addr_notifiers[i]) {
            VLOG_WARN("cannot watch interface changes; reading the "
                      "gateway's addresses every %d ms", CTL_GW_SCAN_MSEC);
            ctl_addr_watch_destroy(ctl);
            return;
        }
    }
}

/* Reads the addresses of the gateway interface from the kernel.  Returns
 * true if they changed. */
static bool
ctl_scan_gateway_ips(struct ctl *ctl)
{
    struct k8s_cidr *ips = NULL;
    size_t n = 0, allocated = 0;
    struct ifaddrs *ifa, *list;

    if (getifaddrs(&list)) {
        return false;
    }
    for (ifa = list; ifa; ifa = ifa->ifa_next) {
        if (!ifa->ifa_addr || strcmp(ifa->ifa_name, ctl->opts.gateway)) {
            continue;
        }
        struct k8s_cidr c = { .plen = 0 };
        if (ifa->ifa_addr->sa_family == AF_INET) {
            const struct sockaddr_in *sin = ALIGNED_CAST(
                const struct sockaddr_in *, ifa->ifa_addr);
            in6_addr_set_mapped_ipv4(&c.addr, sin->sin_addr.s_addr);
            c.plen = 32;
            c.is_ipv4 = true;
        } else if (ifa->ifa_addr->sa_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = ALIGNED_CAST(
                const struct sockaddr_in6 *, ifa->ifa_addr);
            if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) {
                continue;
            }
            c.addr = sin6->sin6_addr;
            c.plen = 128;
        } else {
            continue;
        }
        if (n >= allocated) {
            ips = x2nrealloc(ips, &allocated, sizeof *ips);
        }
        ips[n++] = c;
    }
    freeifaddrs(list);

    bool changed = (n != ctl->n_gw_ips
                    || (n && memcmp(ips, ctl->gw_ips, n * sizeof *ips)));
    free(ctl->gw_ips);
    ctl->gw_ips = ips;
    ctl->n_gw_ips = n;
    return changed;
}

static void
ctl_compile(struct ctl *ctl)
{
    struct svec problems = SVEC_EMPTY_INITIALIZER;
    struct npol_input input = {
        .cache = ctl->cache,
        .ports = ovsstate_ports(ctl->ovs),
        .node_name = ctl->opts.node_name,
        .gw_ofport = ovsstate_gateway_ofport(ctl->ovs),
        .gw_mac = ovsstate_gateway_mac(ctl->ovs),
        .gw_ips = ctl->gw_ips,
        .n_gw_ips = ctl->n_gw_ips,
        .reeval_established = ctl->opts.reeval_established,
    };
    long long int start = time_msec();
    long long int cpu = ctl_thread_cpu_us();

    npol_compiler_run(ctl->compiler, &input, &ctl->desired, &problems);
    kcache_changes_clear(ctl->cache);
    ctl->have_desired = true;
    VLOG_DBG("compiled %"PRIuSIZE" flows in %lld ms",
             flowset_count(&ctl->desired), time_msec() - start);

    struct ctl_stats *st = ctl->stats;
    st->n_compiles++;
    st->last_compile_cpu_us = ctl_thread_cpu_us() - cpu;
    st->total_compile_cpu_us += st->last_compile_cpu_us;
    st->last_compile_end_wall_us = time_wall_usec();
    st->last_compile_flows = flowset_count(&ctl->desired);
    st->awaiting = true;

    /* Log each problem when it first appears, not at every recompute. */
    struct sset now = SSET_INITIALIZER(&now);
    const char *p;
    size_t i;
    SVEC_FOR_EACH (i, p, &problems) {
        if (!sset_contains(&ctl->problems, p)) {
            VLOG_WARN("%s", p);
        }
        sset_add(&now, p);
    }
    sset_swap(&now, &ctl->problems);
    sset_destroy(&now);
    svec_destroy(&problems);
}

/* The source of Kubernetes objects, whichever it is. */

static void
ctl_source_run(struct ctl *ctl)
{
    if (ctl->manifests) {
        manifest_source_run(ctl->manifests, ctl->cache);
    } else {
        k8s_source_run(ctl->k8s, ctl->cache);
    }
}

static void
ctl_source_wait(struct ctl *ctl)
{
    if (ctl->manifests) {
        manifest_source_wait(ctl->manifests);
    } else {
        k8s_source_wait(ctl->k8s);
    }
}

static bool
ctl_source_is_synced(const struct ctl *ctl)
{
    return (ctl->manifests
            ? manifest_source_is_synced(ctl->manifests)
            : k8s_source_is_synced(ctl->k8s));
}

static void
ctl_source_dump(const struct ctl *ctl, struct ds *s)
{
    if (ctl->manifests) {
        manifest_source_dump(ctl->manifests, s);
    } else {
        k8s_source_dump(ctl->k8s, s);
    }
}

/* other_config:flow-restore-wait=true tells an ovs-vswitchd that starts
 * to keep its datapath flows and to forward nothing new until whoever owns
 * the OpenFlow tables has put them back; the owner then removes it.  We
 * remove it once the full desired flow set is in the ovs-vswitchd that
 * started with it:
 *
 *   - Found at start-up, or while disconnected from the switch: the next
 *     ovs-vswitchd we sync with is the one.
 *   - Appearing while we are synced with a running ovs-vswitchd (the order
 *     of "ovs-ctl restart": set the flag, then restart the daemon): that
 *     ovs-vswitchd ignores it, the next one will honour it, so only a sync
 *     on a new connection counts.  If no restart comes within
 *     CTL_FRW_MAX_WAIT_MSEC, we remove it anyway: left behind, it would
 *     stall the next ovs-vswitchd until we reconnect.
 *
 * Until our flows are in, nothing is removed: an ovs-vswitchd waiting for
 * flows forwards nothing new, which is closed, not open. */
static void
ctl_flow_restore_wait(struct ctl *ctl, bool synced)
{
    if (!ovsstate_flow_restore_wait(ctl->ovs)) {
        ctl->frw_seen = false;
        ovsstate_clear_flow_restore_wait(ctl->ovs, false);
        return;
    }

    unsigned int conn = ofsync_connection_seqno(ctl->ofsync);
    if (!ctl->frw_seen) {
        ctl->frw_seen = true;
        ctl->frw_since = time_msec();
        ctl->frw_wait_new = synced;
        ctl->frw_conn = conn;
        VLOG_INFO("flow-restore-wait is set: %s",
                  synced ? "will remove it once our flows are in the "
                  "restarted ovs-vswitchd"
                  : "will remove it once our flows are in");
    }

    bool clear = synced;
    if (clear && ctl->frw_wait_new && conn == ctl->frw_conn) {
        long long int deadline = ctl->frw_since + CTL_FRW_MAX_WAIT_MSEC;
        if (time_msec() < deadline) {
            clear = false;
            poll_timer_wait_until(deadline);
        } else {
            VLOG_INFO("flow-restore-wait: ovs-vswitchd was not restarted "
                      "within %d s, removing it", CTL_FRW_MAX_WAIT_MSEC / 1000);
            ctl->frw_wait_new = false;
        }
    }
    ovsstate_clear_flow_restore_wait(ctl->ovs, clear);
}

/* Records in 'ctl->stats' that the switch has the flows of the last
 * compilation. */
static void
ctl_stats_realized(struct ctl *ctl)
{
    struct ctl_stats *st = ctl->stats;
    uint64_t flow_mods = ofsync_n_flow_mods(ctl->ofsync);
    uint64_t bundles = ofsync_n_bundles(ctl->ofsync);

    st->awaiting = false;
    st->n_realized++;
    st->last_realized_wall_us = time_wall_usec();
    if (!st->first_realized_wall_us) {
        st->first_realized_wall_us = st->last_realized_wall_us;
    }
    st->last_change_flow_mods = flow_mods - st->flow_mods_at_realize;
    st->flow_mods_at_realize = flow_mods;
    st->last_change_bundles = bundles - st->bundles_at_realize;
    st->bundles_at_realize = bundles;
}

static void
ctl_run(struct ctl *ctl)
{
    uint64_t old_cache_seqno = kcache_seqno(ctl->cache);
    long long int source_cpu = ctl_thread_cpu_us();
    ctl_source_run(ctl);
    if (kcache_seqno(ctl->cache) != old_cache_seqno) {
        struct ctl_stats *st = ctl->stats;
        st->n_source_changes++;
        st->last_source_cpu_us = ctl_thread_cpu_us() - source_cpu;
        st->total_source_cpu_us += st->last_source_cpu_us;
        st->last_source_wall_us = time_wall_usec();
    }
    ovsstate_run(ctl->ovs);

    bool gw_changed = false;
    if (ctl->addr_nln) {
        nln_run(ctl->addr_nln);
    }
    if (ctl->addr_changed || time_msec() >= ctl->next_gw_scan) {
        ctl->addr_changed = false;
        gw_changed = ctl_scan_gateway_ips(ctl);
        if (ctl_ensure_gateway_address(ctl)) {
            gw_changed |= ctl_scan_gateway_ips(ctl);
        }
        ctl->next_gw_scan = time_msec() + (ctl->addr_nln && ctl->n_gw_ips
                                           ? CTL_GW_RESCAN_MSEC
                                           : CTL_GW_SCAN_MSEC);
    }

    /* No flows until both inputs are complete: until then the bridge,
     * fail-mode secure, forwards nothing for our pods. */
    if (ovsstate_is_ready(ctl->ovs)
        && ctl_source_is_synced(ctl)) {
        uint64_t cache_seqno = kcache_seqno(ctl->cache);
        uint64_t ovs_seqno = ovsstate_seqno(ctl->ovs);
        if (!ctl->have_desired || ctl->recompute || gw_changed
            || cache_seqno != ctl->cache_seqno
            || ovs_seqno != ctl->ovs_seqno) {
            ctl->cache_seqno = cache_seqno;
            ctl->ovs_seqno = ovs_seqno;
            if (ctl->recompute) {
                /* From scratch, not from what changed. */
                npol_compiler_destroy(ctl->compiler);
                ctl->compiler = npol_compiler_create();
                ctl->recompute = false;
            }
            ctl_compile(ctl);
        }
    }

    /* Connect to the bridge once OVSDB says it exists, so that the first
     * attempt does not fail on a management socket still to be made. */
    if (!ctl->ofsync && ovsstate_is_ready(ctl->ovs)) {
        ctl->ofsync = ofsync_create(ovsstate_bridge_target(ctl->ovs));
    }
    if (!ctl->ofsync) {
        return;
    }
    ofsync_run(ctl->ofsync, ctl->have_desired ? &ctl->desired : NULL);

    bool synced = (ctl->have_desired
                   && ofsync_is_synced(ctl->ofsync, &ctl->desired));
    ctl_flow_restore_wait(ctl, synced);
    if (synced && ctl->stats->awaiting) {
        ctl_stats_realized(ctl);
    }
    if (synced && !ctl->ready) {
        VLOG_INFO("flows installed for synced inputs (%"PRIuSIZE" flows)",
                  flowset_count(&ctl->desired));
        ovsstate_set_ready(ctl->ovs, true);
        ctl->ready = true;
    }
}

static void
ctl_wait(struct ctl *ctl)
{
    ctl_source_wait(ctl);
    ovsstate_wait(ctl->ovs);
    if (ctl->ofsync) {
        ofsync_wait(ctl->ofsync);
    }
    poll_timer_wait_until(ctl->next_gw_scan);
    if (ctl->addr_nln) {
        nln_wait(ctl->addr_nln);
    }
}

/* unixctl commands. */

static void
ctl_unixctl_exit(struct unixctl_conn *conn, int argc OVS_UNUSED,
                 const char *argv[] OVS_UNUSED, void *ctl_)
{
    struct ctl *ctl = ctl_;
    ctl->exiting = true;
    unixctl_command_reply(conn, NULL);
}

static void
ctl_unixctl_dump_desired(struct unixctl_conn *conn, int argc OVS_UNUSED,
                         const char *argv[] OVS_UNUSED, void *ctl_)
{
    struct ctl *ctl = ctl_;
    struct ds s = DS_EMPTY_INITIALIZER;
    flowset_format(&ctl->desired, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
ctl_unixctl_dump_installed(struct unixctl_conn *conn, int argc OVS_UNUSED,
                           const char *argv[] OVS_UNUSED, void *ctl_)
{
    struct ctl *ctl = ctl_;
    struct ds s = DS_EMPTY_INITIALIZER;
    if (ctl->ofsync) {
        ofsync_dump_installed(ctl->ofsync, &s);
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
ctl_unixctl_status(struct unixctl_conn *conn, int argc OVS_UNUSED,
                   const char *argv[] OVS_UNUSED, void *ctl_)
{
    struct ctl *ctl = ctl_;
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "node %s, %s\n", ctl->opts.node_name,
                  ctl->ready ? "ready" : "not ready");
    ds_put_format(&s, "desired flows: %"PRIuSIZE"%s\n",
                  flowset_count(&ctl->desired),
                  ctl->have_desired ? "" : " (inputs not synced)");
    ctl_source_dump(ctl, &s);
    ovsstate_dump(ctl->ovs, &s);
    if (ctl->ofsync) {
        ofsync_dump_status(ctl->ofsync, &s);
    } else {
        ds_put_cstr(&s, "openflow: waiting for the bridge\n");
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
ctl_unixctl_k8s_status(struct unixctl_conn *conn, int argc OVS_UNUSED,
                       const char *argv[] OVS_UNUSED, void *ctl_)
{
    struct ctl *ctl = ctl_;
    struct ds s = DS_EMPTY_INITIALIZER;
    ctl_source_dump(ctl, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
ctl_unixctl_problems(struct unixctl_conn *conn, int argc OVS_UNUSED,
                     const char *argv[] OVS_UNUSED, void *ctl_)
{
    struct ctl *ctl = ctl_;
    struct ds s = DS_EMPTY_INITIALIZER;
    const char *p;
    SSET_FOR_EACH (p, &ctl->problems) {
        ds_put_format(&s, "%s\n", p);
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
ctl_unixctl_stats(struct unixctl_conn *conn, int argc OVS_UNUSED,
                  const char *argv[] OVS_UNUSED, void *ctl_)
{
    struct ctl *ctl = ctl_;
    const struct ctl_stats *st = ctl->stats;
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "start-wall-us: %lld\n", st->start_wall_us);
    ds_put_format(&s, "source-changes: %"PRIu64"\n", st->n_source_changes);
    ds_put_format(&s, "last-source-cpu-us: %lld\n", st->last_source_cpu_us);
    ds_put_format(&s, "total-source-cpu-us: %lld\n",
                  st->total_source_cpu_us);
    ds_put_format(&s, "last-source-wall-us: %lld\n",
                  st->last_source_wall_us);
    struct npol_compiler_stats cs;
    npol_compiler_get_stats(ctl->compiler, &cs);
    ds_put_format(&s, "compiles: %"PRIu64"\n", st->n_compiles);
    ds_put_format(&s, "last-compile-full: %s\n", cs.full ? "yes" : "no");
    ds_put_format(&s, "last-compile-policies: %"PRIuSIZE" of %"PRIuSIZE"\n",
                  cs.n_recompiled, cs.n_policies);
    ds_put_format(&s, "last-compile-flows-changed: -%"PRIuSIZE" +%"PRIuSIZE
                  "\n", cs.n_flows_removed, cs.n_flows_added);
    ds_put_format(&s, "last-compile-cpu-us: %lld\n",
                  st->last_compile_cpu_us);
    ds_put_format(&s, "total-compile-cpu-us: %lld\n",
                  st->total_compile_cpu_us);
    ds_put_format(&s, "last-compile-end-wall-us: %lld\n",
                  st->last_compile_end_wall_us);
    ds_put_format(&s, "desired-flows: %"PRIuSIZE"\n",
                  flowset_count(&ctl->desired));
    ds_put_format(&s, "realized: %"PRIu64"\n", st->n_realized);
    ds_put_format(&s, "awaiting-install: %s\n",
                  st->awaiting ? "yes" : "no");
    ds_put_format(&s, "first-realized-wall-us: %lld\n",
                  st->first_realized_wall_us);
    ds_put_format(&s, "last-realized-wall-us: %lld\n",
                  st->last_realized_wall_us);
    ds_put_format(&s, "last-change-flow-mods: %"PRIu64"\n",
                  st->last_change_flow_mods);
    ds_put_format(&s, "last-change-bundles: %"PRIu64"\n",
                  st->last_change_bundles);
    if (ctl->ofsync) {
        ds_put_format(&s, "bundles: %"PRIu64"\n",
                      ofsync_n_bundles(ctl->ofsync));
        ds_put_format(&s, "flow-mods: %"PRIu64"\n",
                      ofsync_n_flow_mods(ctl->ofsync));
        long long int sent, acked;
        ofsync_last_bundle_times(ctl->ofsync, &sent, &acked);
        ds_put_format(&s, "last-bundle-sent-wall-us: %lld\n", sent);
        ds_put_format(&s, "last-bundle-acked-wall-us: %lld\n", acked);
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
ctl_unixctl_recompute(struct unixctl_conn *conn, int argc OVS_UNUSED,
                      const char *argv[] OVS_UNUSED, void *ctl_)
{
    struct ctl *ctl = ctl_;
    ctl->recompute = true;
    poll_immediate_wake();
    unixctl_command_reply(conn, NULL);
}

int
main(int argc, char *argv[])
{
    struct ctl ctl = {
        .opts = { .reeval_established = true },
        .problems = SSET_INITIALIZER(&ctl.problems),
    };
    struct unixctl_server *unixctl;
    int retval;

    ctl.stats = xzalloc(sizeof *ctl.stats);
    ctl.stats->start_wall_us = time_wall_usec();
    set_program_name(argv[0]);
    ovs_cmdl_proctitle_init(argc, argv);
    fatal_ignore_sigpipe();
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_INFO);
    parse_options(argc, argv, &ctl.opts);
    if (!ctl.opts.bridge) {
        ctl.opts.bridge = xstrdup("br-int");
    }
    if (!ctl.opts.gateway) {
        ctl.opts.gateway = xstrdup("np-gw0");
    }

    if (!ctl.opts.manifests) {
        char *error = k8s_endpoint_load(ctl.opts.kubeconfig,
                                        ctl.opts.context, ctl.opts.sa_dir,
                                        &ctl.endpoint);
        if (error) {
            ovs_fatal(0, "%s", error);
        }
    }

    daemonize_start(false);
    retval = unixctl_server_create(ctl.opts.unixctl_path, &unixctl);
    if (retval) {
        exit(EXIT_FAILURE);
    }
    unixctl_command_register("exit", "", 0, 0, ctl_unixctl_exit, &ctl);
    unixctl_command_register("netpol/status", "", 0, 0, ctl_unixctl_status,
                             &ctl);
    unixctl_command_register("netpol/dump-desired", "", 0, 0,
                             ctl_unixctl_dump_desired, &ctl);
    unixctl_command_register("netpol/dump-installed", "", 0, 0,
                             ctl_unixctl_dump_installed, &ctl);
    unixctl_command_register("k8s/status", "", 0, 0,
                             ctl_unixctl_k8s_status, &ctl);
    unixctl_command_register("netpol/problems", "", 0, 0,
                             ctl_unixctl_problems, &ctl);
    unixctl_command_register("netpol/stats", "", 0, 0, ctl_unixctl_stats,
                             &ctl);
    unixctl_command_register("netpol/recompute", "", 0, 0,
                             ctl_unixctl_recompute, &ctl);
    daemonize_complete();

    struct ovsstate_options ovs_opts = {
        .ovsdb_remote = ctl.opts.ovsdb,
        .bridge = ctl.opts.bridge,
        .datapath_type = ctl.opts.datapath_type,
        .gateway = ctl.opts.gateway,
    };
    ctl.cache = kcache_create();
    kcache_track_changes(ctl.cache, true);
    ctl.compiler = npol_compiler_create();
    ctl_addr_watch_create(&ctl);
    if (ctl.opts.manifests) {
        ctl.manifests = manifest_source_create(ctl.opts.manifests);
    } else {
        /* Starts libcurl: after daemonize_complete(). */
        ctl.k8s = k8s_source_create(&ctl.endpoint, ctl.opts.watch_idle_sec,
                                    ctl.opts.node_name);
    }
    ctl.ovs = ovsstate_create(&ovs_opts);
    flowset_init(&ctl.desired);
    flowset_journal_start(&ctl.desired); /* For ofsync: see ofsync_run(). */
    VLOG_INFO("node %s: enforcing on bridge %s, objects from %s",
              ctl.opts.node_name, ctl.opts.bridge,
              ctl.manifests ? ctl.opts.manifests : ctl.endpoint.server);

    while (!ctl.exiting) {
        ctl_run(&ctl);
        unixctl_server_run(unixctl);

        ctl_wait(&ctl);
        unixctl_server_wait(unixctl);
        if (ctl.exiting) {
            poll_immediate_wake();
        }
        poll_block();
    }

    unixctl_server_destroy(unixctl);
    ofsync_destroy(ctl.ofsync);
    ctl_addr_watch_destroy(&ctl);
    ovsstate_destroy(ctl.ovs);
    manifest_source_destroy(ctl.manifests);
    k8s_source_destroy(ctl.k8s);
    kcfg_endpoint_destroy(&ctl.endpoint);
    npol_compiler_destroy(ctl.compiler);
    kcache_destroy(ctl.cache);
    flowset_destroy(&ctl.desired);
    sset_destroy(&ctl.problems);
    free(ctl.stats);
    free(ctl.gw_ips);
    ctl_options_destroy(&ctl.opts);
    return 0;
}
