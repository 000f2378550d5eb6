/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* np-world: random Kubernetes worlds and a reference NetworkPolicy
 * evaluator, for the differential test (tests/e2e/differential.sh).
 *
 *     np-world SEED DIR [N-PACKETS]
 *     np-world check DIR VSWITCHD-CTL GW-OFPORT GW-MAC
 *
 * From SEED alone (a private PRNG, so the same seed gives the same world on
 * every machine) it generates namespaces, pods on node1 (local, with OVS
 * ports) and node2 (remote, addresses only) and NetworkPolicies that use
 * every feature of networking.k8s.io/v1, and writes:
 *
 *   DIR/manifests/NN-*.json  one object per file, for the controller;
 *   DIR/ports              "IFNAME OFPORT MAC NAMESPACE NAME IPS" per local
 *                          pod, for creating its OVS port;
 *   DIR/packets            "VERDICT OUT FLOW DESCRIPTION" per packet:
 *                          VERDICT allow or deny, OUT the port an allowed
 *                          packet leaves by (an ofport or "gw"), FLOW an
 *                          ofproto/trace flow in which "GWPORT" and "GWMAC"
 *                          stand for the gateway's ofport and MAC;
 *   DIR/coverage           the features the world uses.
 *
 * The verdicts come from a small evaluator that reads the manifest files
 * back (not the generator's data) and applies the API's semantics
 * directly: per-direction isolation by the policies that select a pod, the
 * union of their rules, peers (podSelector in the policy's namespace,
 * namespaceSelector, both ANDed, ipBlock minus except, also for pod IPs),
 * ports (numeric, endPort ranges, named ports resolved on the destination
 * pod with matching protocol), and the always-allowed node traffic.  It
 * shares no code with lib/npol-compile.c.
 *
 * "check" runs "ofproto/trace br-int FLOW --ct-next trk,new" for every
 * packet of DIR/packets over one unixctl connection to ovs-vswitchd (one
 * ovs-appctl process per packet would cost ~50 ms each) and compares:
 * allowed means the trace outputs the packet to the expected port, denied
 * means it outputs it nowhere.  Every mismatch is printed with its trace;
 * the exit status is 1 if there was one. */

#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/json-guard.h"
#include "tests/common/np-rand.h"

#define NODE_NAME "node1"
#define NODE_IP "10.244.0.1"

/* ---------------------------------------------------------------------- */
/* Utilities. */

static void
die(const char *format, ...)
{
    va_list args;

    va_start(args, format);
    fputs("np-world: ", stderr);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(2);
}

static char *
fmt(const char *format, ...)
{
    va_list args;
    char *s;

    va_start(args, format);
    if (vasprintf(&s, format, args) < 0) {
        die("out of memory");
    }
    va_end(args);
    return s;
}

/* True with probability 'percent'/100. */
static bool
chance(unsigned int percent)
{
    return rnd(100) < percent;
}

static const char *
pick(const char *const *choices, size_t n)
{
    return choices[rnd(n)];
}
#define PICK(ARRAY) pick(ARRAY, sizeof ARRAY / sizeof *ARRAY)

/* JSON construction: jansson's constructors are poisoned (see
 * lib/json-guard.h), json_pack() is not. */
static json_t *
jobj(void)
{
    return json_pack("{}");
}

static json_t *
jarr(void)
{
    return json_pack("[]");
}

static json_t *
jstr(const char *s)
{
    return json_pack("s", s);
}

static json_t *
jint(int n)
{
    return json_pack("i", n);
}

static void
jset(json_t *obj, const char *key, json_t *value)
{
    json_object_set_new(obj, key, value);
}

static void
jadd(json_t *arr, json_t *value)
{
    json_array_append_new(arr, value);
}

/* ---------------------------------------------------------------------- */
/* Addresses (shared by generator and evaluator: plain inet_pton). */

struct addr {
    uint8_t b[16];              /* IPv4 as ::ffff:a.b.c.d. */
    bool v4;
};

static bool
addr_parse(const char *s, struct addr *a)
{
    struct in_addr in4;

    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, &in4) == 1) {
        a->v4 = true;
        a->b[10] = a->b[11] = 0xff;
        memcpy(&a->b[12], &in4, 4);
        return true;
    }
    return inet_pton(AF_INET6, s, a->b) == 1;
}

/* "A.B.C.D/N" or "X::/N": true if 'a' lies inside (host bits of the CIDR
 * are ignored, as the API server accepts them). */
static bool
cidr_contains(const char *cidr, const struct addr *a)
{
    char buf[64];
    const char *slash = strchr(cidr, '/');
    struct addr net;

    if (!slash || slash - cidr >= (int) sizeof buf) {
        die("bad CIDR %s", cidr);
    }
    memcpy(buf, cidr, slash - cidr);
    buf[slash - cidr] = '\0';
    if (!addr_parse(buf, &net)) {
        die("bad CIDR %s", cidr);
    }
    if (net.v4 != a->v4) {
        return false;
    }
    int bits = atoi(slash + 1) + (net.v4 ? 96 : 0);
    for (int i = 0; i < bits; i++) {
        int mask = 0x80 >> (i % 8);
        if ((net.b[i / 8] ^ a->b[i / 8]) & mask) {
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------------- */
/* The generator's model. */

#define MAX_NS 3
#define MAX_PODS 16
#define MAX_IPS 2
#define MAX_CPORTS 4

struct gen_cport {
    const char *name;
    int port;
    const char *proto;
};

struct gen_pod {
    const char *ns;
    char name[32];
    const char *app, *tier, *role;      /* Labels; NULL if unset. */
    bool local;                         /* On node1. */
    bool live;                          /* Can be a packet endpoint. */
    const char *special;                /* NULL, "succeeded", "hostnet",
                                         * "pending", "terminating". */
    char ips[MAX_IPS][48];
    int n_ips;
    struct gen_cport cports[MAX_CPORTS];
    int n_cports;
    int ofport;
    char mac[24];
};

struct gen_world {
    const char *ns_names[MAX_NS];
    int n_ns;
    struct gen_pod pods[MAX_PODS];
    int n_pods;
    json_t *objects;                    /* Every manifest, in order. */
    char *files[64];
    int n_files;
    unsigned int coverage;
};

enum feature {
    F_INGRESS, F_EGRESS, F_TYPES_OMITTED, F_EGRESS_ONLY, F_POD_SEL,
    F_NS_SEL, F_BOTH_SEL, F_IPBLOCK_EXCEPT, F_IPBLOCK_V6, F_EXPRESSIONS,
    F_NAMED_PORT, F_END_PORT, F_UDP, F_SCTP, F_PEERS_OMITTED,
    F_PEERS_EMPTY, F_PORTS_OMITTED, F_PORT_NO_NUMBER, F_SELECTS_NOTHING,
    F_RULES_EMPTY, F_PROTO_OMITTED,
    N_FEATURES
};
static const char *const feature_names[N_FEATURES] = {
    "ingress", "egress", "policyTypes-omitted", "egress-only",
    "podSelector", "namespaceSelector", "both-selectors", "ipBlock-except",
    "ipBlock-ipv6", "matchExpressions", "named-port", "endPort", "UDP",
    "SCTP", "peers-omitted", "peers-empty", "ports-omitted",
    "port-without-number", "selects-nothing", "rules-empty",
    "protocol-omitted",
};

static void
cover(struct gen_world *w, enum feature f)
{
    w->coverage |= 1u << f;
}

static const char *const apps[] = { "web", "db", "api", "cache" };
static const char *const tiers[] = { "front", "back" };
static const char *const roles[] = { "x", "y" };

static json_t *
gen_labels(const struct gen_pod *p)
{
    json_t *labels = jobj();
    if (p->app) {
        jset(labels, "app", jstr(p->app));
    }
    if (p->tier) {
        jset(labels, "tier", jstr(p->tier));
    }
    if (p->role) {
        jset(labels, "role", jstr(p->role));
    }
    return labels;
}

static void
gen_namespaces(struct gen_world *w)
{
    static const char *const names[] = { "alpha", "beta", "gamma" };

    w->n_ns = 2 + rnd(2);
    for (int i = 0; i < w->n_ns; i++) {
        json_t *labels = jobj();
        w->ns_names[i] = names[i];
        if (chance(50)) {
            /* Otherwise the parser adds it, as the control plane does. */
            jset(labels, "kubernetes.io/metadata.name", jstr(names[i]));
        }
        if (chance(70)) {
            jset(labels, "team", jstr(chance(50) ? "a" : "b"));
        }
        if (chance(50)) {
            jset(labels, "env", jstr(chance(50) ? "prod" : "dev"));
        }
        jadd(w->objects, json_pack("{s:s, s:s, s:{s:s, s:o}}",
                                   "apiVersion", "v1", "kind", "Namespace",
                                   "metadata", "name", names[i],
                                   "labels", labels));
    }
}

static void
gen_pod_ports(struct gen_pod *p)
{
    static const struct gen_cport choices[] = {
        { "http", 80, "TCP" }, { "http", 8080, "TCP" },
        { "dns", 53, "UDP" }, { "dns", 5353, "UDP" },
        { "dns", 53, "TCP" },           /* Name on another protocol. */
        { "metrics", 9090, "TCP" }, { "metrics", 9100, "TCP" },
        { "assoc", 7777, "SCTP" }, { "assoc", 7778, "SCTP" },
    };
    static const char *const names[] = { "http", "dns", "metrics",
                                         "assoc" };

    p->n_cports = 0;
    for (size_t i = 0; i < 4; i++) {
        if (!chance(60)) {
            continue;
        }
        /* One port per name, of a random variant. */
        for (;;) {
            const struct gen_cport *c = &choices[rnd(9)];
            if (!strcmp(c->name, names[i])) {
                p->cports[p->n_cports++] = *c;
                break;
            }
        }
    }
}

static void
gen_pods(struct gen_world *w)
{
    int n = 8 + rnd(5);
    int n_local = 0, n_remote = 0;

    for (int i = 0; i < n; i++) {
        struct gen_pod *p = &w->pods[w->n_pods++];
        memset(p, 0, sizeof *p);
        p->ns = w->ns_names[rnd(w->n_ns)];
        p->local = i < 2 || (i >= 4 && chance(55));
        p->live = true;
        p->app = chance(90) ? PICK(apps) : NULL;
        p->tier = chance(60) ? PICK(tiers) : NULL;
        p->role = chance(40) ? PICK(roles) : NULL;
        gen_pod_ports(p);

        int k = p->local ? n_local++ : n_remote++;
        snprintf(p->name, sizeof p->name, "%s-%d", p->app ? p->app : "pod",
                 i);
        bool v4 = true, v6 = chance(40);
        if (p->local && k == 3) {
            v4 = false, v6 = true;      /* An IPv6-only pod. */
        }
        if (v4) {
            snprintf(p->ips[p->n_ips++], 48, "10.244.%d.%d",
                     p->local ? 0 : 1, 10 + k);
        }
        if (v6) {
            snprintf(p->ips[p->n_ips++], 48, "fd00:10:244:%s:%x",
                     p->local ? "" : "1:", 0x10 + k);
        }
        if (p->local) {
            p->ofport = 10 + k;
            snprintf(p->mac, sizeof p->mac, "0a:58:0a:f4:00:%02x",
                     (0x10 + k) & 0xff);
            if (k == 2) {
                p->special = "terminating";     /* Still enforced. */
            }
        }
    }

    /* Pods that are not peers: a finished pod whose address lingers, a
     * hostNetwork pod (node2's address), a pod without an address yet. */
    static const char *const specials[] = { "succeeded", "hostnet",
                                            "pending" };
    for (size_t i = 0; i < 3; i++) {
        struct gen_pod *p = &w->pods[w->n_pods++];
        memset(p, 0, sizeof *p);
        p->ns = w->ns_names[rnd(w->n_ns)];
        p->special = specials[i];
        p->app = PICK(apps);
        p->tier = PICK(tiers);
        gen_pod_ports(p);
        snprintf(p->name, sizeof p->name, "%s-%s", p->special, p->app);
        if (!strcmp(p->special, "succeeded")) {
            strcpy(p->ips[p->n_ips++], "10.244.1.200");
        } else if (!strcmp(p->special, "hostnet")) {
            strcpy(p->ips[p->n_ips++], "172.18.0.2");
        }
    }

    for (int i = 0; i < w->n_pods; i++) {
        const struct gen_pod *p = &w->pods[i];
        json_t *ports = jarr();
        for (int j = 0; j < p->n_cports; j++) {
            json_t *port = json_pack("{s:s, s:i}", "name", p->cports[j].name,
                                     "containerPort", p->cports[j].port);
            if (strcmp(p->cports[j].proto, "TCP") || chance(50)) {
                jset(port, "protocol", jstr(p->cports[j].proto));
            }
            jadd(ports, port);
        }
        json_t *spec = json_pack("{s:s, s:[{s:s, s:s, s:o}]}",
                                 "nodeName", p->local ? NODE_NAME : "node2",
                                 "containers", "name", "main", "image",
                                 "busybox", "ports", ports);
        json_t *status = jobj();
        json_t *meta = json_pack("{s:s, s:s, s:s, s:o}", "name", p->name,
                                 "namespace", p->ns, "uid",
                                 fmt("uid-pod-%d", i), "labels",
                                 gen_labels(p));
        const char *phase = "Running";
        if (p->special && !strcmp(p->special, "succeeded")) {
            phase = "Succeeded";
        } else if (p->special && !strcmp(p->special, "pending")) {
            phase = "Pending";
        } else if (p->special && !strcmp(p->special, "hostnet")) {
            jset(spec, "hostNetwork", json_true());
        } else if (p->special && !strcmp(p->special, "terminating")) {
            jset(meta, "deletionTimestamp", jstr("2026-01-01T00:00:00Z"));
        }
        jset(status, "phase", jstr(phase));
        if (p->n_ips) {
            json_t *ips = jarr();
            for (int j = 0; j < p->n_ips; j++) {
                jadd(ips, json_pack("{s:s}", "ip", p->ips[j]));
            }
            jset(status, "podIP", jstr(p->ips[0]));
            jset(status, "podIPs", ips);
        }
        jadd(w->objects, json_pack("{s:s, s:s, s:o, s:o, s:o}",
                                   "apiVersion", "v1", "kind", "Pod",
                                   "metadata", meta, "spec", spec,
                                   "status", status));
    }
}

/* A label selector; '*nothing' is set if it is built to select nothing. */
static json_t *
gen_selector(struct gen_world *w, bool for_ns)
{
    static const char *const ops[] = { "In", "NotIn", "Exists",
                                       "DoesNotExist" };
    const char *key, *v1, *v2;
    json_t *sel = jobj();

    if (for_ns) {
        static const char *const keys[] = { "team", "env",
                                            "kubernetes.io/metadata.name" };
        key = PICK(keys);
        if (!strcmp(key, "team")) {
            v1 = "a", v2 = "b";
        } else if (!strcmp(key, "env")) {
            v1 = "prod", v2 = "dev";
        } else {
            v1 = w->ns_names[rnd(w->n_ns)], v2 = "alpha";
        }
    } else {
        static const char *const keys[] = { "app", "tier", "role" };
        key = PICK(keys);
        if (!strcmp(key, "app")) {
            v1 = PICK(apps), v2 = PICK(apps);
        } else if (!strcmp(key, "tier")) {
            v1 = "front", v2 = "back";
        } else {
            v1 = "x", v2 = "y";
        }
    }

    switch (rnd(8)) {
    case 0:
        break;                  /* {}: everything. */
    case 1: case 2: case 3:
        jset(sel, "matchLabels", json_pack("{s:s}", key, v1));
        break;
    case 4:
        cover(w, F_SELECTS_NOTHING);
        jset(sel, "matchLabels", json_pack("{s:s}", key, "nonexistent"));
        break;
    default: {
        const char *op = PICK(ops);
        json_t *expr = json_pack("{s:s, s:s}", "key", key, "operator", op);
        if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
            jset(expr, "values", chance(50) ? json_pack("[s]", v1)
                                            : json_pack("[s, s]", v1, v2));
        }
        jset(sel, "matchExpressions", json_pack("[o]", expr));
        if (chance(30)) {
            jset(sel, "matchLabels", json_pack("{s:s}", key, v1));
        }
        cover(w, F_EXPRESSIONS);
        break;
    }
    }
    return sel;
}

static const struct gen_pod *
gen_any_pod_with_ip(const struct gen_world *w, bool v4)
{
    for (int tries = 0; tries < 100; tries++) {
        const struct gen_pod *p = &w->pods[rnd(w->n_pods)];
        for (int i = 0; i < p->n_ips; i++) {
            if (!strchr(p->ips[i], ':') == v4) {
                return p;
            }
        }
    }
    return NULL;
}

static const char *
gen_pod_ip(const struct gen_pod *p, bool v4)
{
    for (int i = 0; i < p->n_ips; i++) {
        if (!strchr(p->ips[i], ':') == v4) {
            return p->ips[i];
        }
    }
    return NULL;
}

static json_t *
gen_ip_block(struct gen_world *w)
{
    const struct gen_pod *p, *q;

    switch (rnd(10)) {
    case 0:
        cover(w, F_IPBLOCK_EXCEPT);
        return json_pack("{s:s, s:[s]}", "cidr", "10.244.0.0/16",
                         "except", "10.244.1.0/24");
    case 1:
        cover(w, F_IPBLOCK_EXCEPT);
        return json_pack("{s:s, s:[s, s]}", "cidr", "192.168.0.0/16",
                         "except", "192.168.2.0/24", "192.168.1.128/25");
    case 2:
        cover(w, F_IPBLOCK_EXCEPT);
        return json_pack("{s:s, s:[s]}", "cidr", "0.0.0.0/0",
                         "except", "10.0.0.0/8");
    case 3:
        p = gen_any_pod_with_ip(w, true);
        return json_pack("{s:s}", "cidr", fmt("%s/32", gen_pod_ip(p, true)));
    case 4:
        /* The upstream e2e suite's "<podIP>/4 except <otherPodIP>/32",
         * host bits and all. */
        /* Validation wants the except inside the block: both addresses
         * from the pod network. */
        do {
            p = gen_any_pod_with_ip(w, true);
            q = gen_any_pod_with_ip(w, true);
        } while (strncmp(gen_pod_ip(p, true), "10.", 3)
                 || strncmp(gen_pod_ip(q, true), "10.", 3) || p == q);
        cover(w, F_IPBLOCK_EXCEPT);
        return json_pack("{s:s, s:[s]}", "cidr",
                         fmt("%s/4", gen_pod_ip(p, true)), "except",
                         fmt("%s/32", gen_pod_ip(q, true)));
    case 5:
        return json_pack("{s:s}", "cidr", "192.168.1.0/24");
    case 6:
        cover(w, F_IPBLOCK_V6);
        cover(w, F_IPBLOCK_EXCEPT);
        return json_pack("{s:s, s:[s]}", "cidr", "fd00:10:244::/48",
                         "except", "fd00:10:244:1::/64");
    case 7:
        cover(w, F_IPBLOCK_V6);
        cover(w, F_IPBLOCK_EXCEPT);
        return json_pack("{s:s, s:[s]}", "cidr", "::/0",
                         "except", "2001:db8:1::/48");
    case 8:
        cover(w, F_IPBLOCK_V6);
        return json_pack("{s:s}", "cidr", "2001:db8::/32");
    default:
        p = gen_any_pod_with_ip(w, false);
        cover(w, F_IPBLOCK_V6);
        if (!p) {
            return json_pack("{s:s}", "cidr", "fd00:10:244::10/128");
        }
        return json_pack("{s:s}", "cidr", fmt("%s/128",
                                               gen_pod_ip(p, false)));
    }
}

static json_t *
gen_peer(struct gen_world *w)
{
    switch (rnd(4)) {
    case 0:
        cover(w, F_POD_SEL);
        return json_pack("{s:o}", "podSelector", gen_selector(w, false));
    case 1:
        cover(w, F_NS_SEL);
        return json_pack("{s:o}", "namespaceSelector",
                         gen_selector(w, true));
    case 2:
        cover(w, F_BOTH_SEL);
        return json_pack("{s:o, s:o}", "podSelector", gen_selector(w, false),
                         "namespaceSelector", gen_selector(w, true));
    default:
        return json_pack("{s:o}", "ipBlock", gen_ip_block(w));
    }
}

static json_t *
gen_port(struct gen_world *w)
{
    static const char *const names[] = { "http", "dns", "metrics", "assoc",
                                         "nosuchport" };
    static const int numbers[] = { 80, 53, 8080, 9090, 7777, 5353, 443 };
    json_t *port = jobj();
    const char *proto;

    switch (rnd(10)) {
    case 0: case 1: case 2: case 3: case 4:
        proto = "TCP";
        break;
    case 5: case 6: case 7:
        proto = "UDP";
        cover(w, F_UDP);
        break;
    default:
        proto = "SCTP";
        cover(w, F_SCTP);
        break;
    }
    if (strcmp(proto, "TCP") || chance(50)) {
        jset(port, "protocol", jstr(proto));
    } else {
        cover(w, F_PROTO_OMITTED);
    }

    switch (rnd(6)) {
    case 0:
        cover(w, F_PORT_NO_NUMBER);
        break;
    case 1: case 2: {
        cover(w, F_NAMED_PORT);
        /* Mostly the name that fits the protocol. */
        const char *name = PICK(names);
        if (chance(60)) {
            name = (!strcmp(proto, "UDP") ? "dns"
                    : !strcmp(proto, "SCTP") ? "assoc"
                    : chance(50) ? "http" : "metrics");
        }
        jset(port, "port", jstr(name));
        break;
    }
    case 3: {
        static const int ranges[][2] = {
            { 8000, 8100 }, { 50, 60 }, { 5000, 6000 }, { 9090, 9100 },
            { 7770, 7779 }, { 1, 1024 }, { 79, 81 },
        };
        int r = rnd(7);
        cover(w, F_END_PORT);
        jset(port, "port", jint(ranges[r][0]));
        jset(port, "endPort", jint(ranges[r][1]));
        break;
    }
    default:
        jset(port, "port", jint(numbers[rnd(7)]));
        break;
    }
    return port;
}

static json_t *
gen_rules(struct gen_world *w, bool ingress)
{
    const char *peers_key = ingress ? "from" : "to";
    json_t *rules = jarr();
    int n = rnd(4);

    if (!n) {
        cover(w, F_RULES_EMPTY);
    }
    for (int i = 0; i < n; i++) {
        json_t *rule = jobj();
        int n_peers = rnd(4);

        if (!n_peers && chance(50)) {
            cover(w, F_PEERS_OMITTED);
        } else {
            json_t *peers = jarr();
            if (!n_peers) {
                cover(w, F_PEERS_EMPTY);
            }
            for (int j = 0; j < n_peers; j++) {
                jadd(peers, gen_peer(w));
            }
            jset(rule, peers_key, peers);
        }

        int n_ports = rnd(4);
        if (!n_ports && chance(50)) {
            cover(w, F_PORTS_OMITTED);
        } else {
            json_t *ports = jarr();
            for (int j = 0; j < n_ports; j++) {
                jadd(ports, gen_port(w));
            }
            jset(rule, "ports", ports);
        }
        jadd(rules, rule);
    }
    return rules;
}

static void
gen_policies(struct gen_world *w)
{
    int n = 3 + rnd(4);

    for (int i = 0; i < n; i++) {
        json_t *spec = json_pack("{s:o}", "podSelector",
                                 gen_selector(w, false));
        bool ingress = chance(75), egress = chance(55);
        if (!ingress && !egress) {
            ingress = true;
        }

        /* policyTypes: explicit, or omitted and defaulted. */
        bool omit_types = chance(35);
        json_t *types = jarr();
        if (ingress) {
            jadd(types, jstr("Ingress"));
            cover(w, F_INGRESS);
        }
        if (egress) {
            jadd(types, jstr("Egress"));
            cover(w, F_EGRESS);
            if (!ingress) {
                cover(w, F_EGRESS_ONLY);
            }
        }
        if (ingress || chance(20)) {
            /* Rules of a direction the policy does not name are ignored;
             * sometimes write some anyway. */
            json_t *rules = gen_rules(w, true);
            if (json_array_size(rules) || chance(50)) {
                jset(spec, "ingress", rules);
            } else {
                json_decref(rules);
            }
        }
        if (egress || (chance(20) && !omit_types)) {
            json_t *rules = gen_rules(w, false);
            if (json_array_size(rules) || chance(50)) {
                jset(spec, "egress", rules);
            } else {
                json_decref(rules);
            }
        }
        /* Omitting policyTypes gives Ingress, plus Egress iff there are
         * egress rules: only omit them where that is what we mean. */
        bool has_egress = json_array_size(json_object_get(spec, "egress"));
        if (omit_types && ingress && egress == has_egress) {
            cover(w, F_TYPES_OMITTED);
            json_decref(types);
        } else {
            jset(spec, "policyTypes", types);
        }

        const char *ns = w->ns_names[rnd(w->n_ns)];
        char *name = fmt("np-%d", i);
        jadd(w->objects, json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:o}",
                                   "apiVersion", "networking.k8s.io/v1",
                                   "kind", "NetworkPolicy", "metadata",
                                   "name", name, "namespace", ns, "uid",
                                   fmt("uid-np-%d-%s", i, ns), "spec",
                                   spec));
        free(name);
    }
}

/* ---------------------------------------------------------------------- */
/* The reference evaluator: JSON objects in, verdicts out. */

struct ref_world {
    json_t *namespaces;         /* Name -> labels object. */
    json_t *pods;               /* Array of Pod objects. */
    json_t *policies;           /* Array of NetworkPolicy objects. */
};

/* The member at 'path' ("a.b.c") of 'obj', or NULL. */
static const json_t *
jget(const json_t *obj, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    const json_t *cur = obj;

    for (char *tok = strtok_r(copy, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save)) {
        cur = json_object_get(cur, tok);
    }
    free(copy);
    return cur;
}

static const char *
jget_str(const json_t *obj, const char *path)
{
    return json_string_value(jget(obj, path));
}

/* A selector in the API's sense.  'sel' NULL is not allowed here: callers
 * decide what an omitted selector means. */
static bool
ref_selector_matches(const json_t *sel, const json_t *labels)
{
    const char *key;
    const json_t *value;

    json_object_foreach ((json_t *) json_object_get(sel, "matchLabels"),
                         key, value) {
        const char *have = json_string_value(json_object_get(labels, key));
        if (!have || strcmp(have, json_string_value(value))) {
            return false;
        }
    }

    size_t i;
    const json_t *expr;
    json_array_foreach (json_object_get(sel, "matchExpressions"), i, expr) {
        const char *k = json_string_value(json_object_get(expr, "key"));
        const char *op = json_string_value(json_object_get(expr,
                                                           "operator"));
        const char *have = json_string_value(json_object_get(labels, k));
        bool in = false;
        size_t j;
        const json_t *v;
        json_array_foreach (json_object_get(expr, "values"), j, v) {
            in |= have && !strcmp(have, json_string_value(v));
        }
        if ((!strcmp(op, "In") && !in)
            || (!strcmp(op, "NotIn") && in)
            || (!strcmp(op, "Exists") && !have)
            || (!strcmp(op, "DoesNotExist") && have)) {
            return false;
        }
    }
    return true;
}

/* A pod that takes part in policy: has addresses, runs (or may still run),
 * is not on the host network.  Finished pods' addresses may already belong
 * to someone else; hostNetwork pods' addresses are their node's. */
static bool
ref_pod_is_peer(const json_t *pod)
{
    const char *phase = jget_str(pod, "status.phase");
    if (json_is_true(jget(pod, "spec.hostNetwork"))) {
        return false;
    }
    if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
        return false;
    }
    return json_array_size(jget(pod, "status.podIPs")) > 0;
}

/* The live pod with address 'ip', or NULL. */
static const json_t *
ref_pod_by_ip(const struct ref_world *rw, const char *ip)
{
    struct addr a, b;
    size_t i;
    const json_t *pod;

    addr_parse(ip, &a);
    json_array_foreach (rw->pods, i, pod) {
        size_t j;
        const json_t *entry;
        if (!ref_pod_is_peer(pod)) {
            continue;
        }
        json_array_foreach (jget(pod, "status.podIPs"), j, entry) {
            addr_parse(json_string_value(json_object_get(entry, "ip")), &b);
            if (!memcmp(&a, &b, sizeof a)) {
                return pod;
            }
        }
    }
    return NULL;
}

static bool
ref_policy_selects(const json_t *np, const json_t *pod)
{
    return (!strcmp(jget_str(np, "metadata.namespace"),
                    jget_str(pod, "metadata.namespace"))
            && ref_selector_matches(jget(np, "spec.podSelector"),
                                    jget(pod, "metadata.labels")));
}

static bool
ref_policy_has_type(const json_t *np, const char *type)
{
    const json_t *types = jget(np, "spec.policyTypes");
    size_t i;
    const json_t *t;

    if (!json_array_size(types)) {
        /* Defaulting: Ingress always, Egress iff egress rules exist. */
        return (!strcmp(type, "Ingress")
                || json_array_size(jget(np, "spec.egress")) > 0);
    }
    json_array_foreach (types, i, t) {
        if (!strcmp(json_string_value(t), type)) {
            return true;
        }
    }
    return false;
}

/* Does 'peer' (of policy 'np') match the other end: address 'ip', which
 * belongs to the live pod 'pod' or to no pod (NULL)? */
static bool
ref_peer_matches(const struct ref_world *rw, const json_t *np,
                 const json_t *peer, const char *ip, const json_t *pod)
{
    const json_t *block = json_object_get(peer, "ipBlock");
    struct addr a;

    if (block) {
        size_t i;
        const json_t *e;
        addr_parse(ip, &a);
        if (!cidr_contains(json_string_value(json_object_get(block, "cidr")),
                           &a)) {
            return false;
        }
        json_array_foreach (json_object_get(block, "except"), i, e) {
            if (cidr_contains(json_string_value(e), &a)) {
                return false;
            }
        }
        return true;
    }

    /* Selectors only ever match pods. */
    if (!pod) {
        return false;
    }
    const char *pod_ns = jget_str(pod, "metadata.namespace");
    const json_t *ns_sel = json_object_get(peer, "namespaceSelector");
    const json_t *pod_sel = json_object_get(peer, "podSelector");
    if (ns_sel) {
        const json_t *labels = json_object_get(rw->namespaces, pod_ns);
        if (!labels || !ref_selector_matches(ns_sel, labels)) {
            return false;
        }
    } else if (strcmp(pod_ns, jget_str(np, "metadata.namespace"))) {
        return false;
    }
    return !pod_sel || ref_selector_matches(pod_sel,
                                            jget(pod, "metadata.labels"));
}

/* Does 'port' match a packet of 'proto' to 'dport' at the destination pod
 * 'dst_pod' (NULL if the destination is not a pod)? */
static bool
ref_port_matches(const json_t *port, const char *proto, int dport,
                 const json_t *dst_pod)
{
    const char *p_proto = json_string_value(json_object_get(port,
                                                            "protocol"));
    const json_t *p_port = json_object_get(port, "port");
    const json_t *p_end = json_object_get(port, "endPort");

    if (strcmp(p_proto ? p_proto : "TCP", proto)) {
        return false;
    }
    if (!p_port) {
        return true;
    }
    if (json_is_integer(p_port)) {
        int lo = json_integer_value(p_port);
        int hi = p_end ? json_integer_value(p_end) : lo;
        return dport >= lo && dport <= hi;
    }

    /* A named port: resolved on the destination pod, with that name and
     * the rule's protocol. */
    const char *name = json_string_value(p_port);
    size_t i, j;
    const json_t *c, *cp;
    if (!dst_pod) {
        return false;
    }
    json_array_foreach (jget(dst_pod, "spec.containers"), i, c) {
        json_array_foreach (json_object_get(c, "ports"), j, cp) {
            const char *cp_name = jget_str(cp, "name");
            const char *cp_proto = jget_str(cp, "protocol");
            if (cp_name && !strcmp(cp_name, name)
                && !strcmp(cp_proto ? cp_proto : "TCP", proto)
                && json_integer_value(json_object_get(cp, "containerPort"))
                   == dport) {
                return true;
            }
        }
    }
    return false;
}

/* Is the pod 'self' isolated in 'direction' ("Ingress"/"Egress"), and if
 * so, does some rule allow the other end 'ip' (pod 'other', or NULL)?
 * 'dst_pod' is the packet's destination pod for named ports.  Returns
 * true if allowed; '*why' says by what. */
static bool
ref_direction_allows(const struct ref_world *rw, const json_t *self,
                     bool ingress, const char *ip, const json_t *other,
                     const char *proto, int dport, const json_t *dst_pod,
                     char **why)
{
    const char *type = ingress ? "Ingress" : "Egress";
    const char *rules_key = ingress ? "spec.ingress" : "spec.egress";
    const char *peers_key = ingress ? "from" : "to";
    bool isolated = false;
    size_t i;
    const json_t *np;

    json_array_foreach (rw->policies, i, np) {
        if (!ref_policy_selects(np, self) || !ref_policy_has_type(np, type)) {
            continue;
        }
        isolated = true;

        size_t r;
        const json_t *rule;
        json_array_foreach (jget(np, rules_key), r, rule) {
            const json_t *peers = json_object_get(rule, peers_key);
            const json_t *ports = json_object_get(rule, "ports");
            bool peer_ok = !json_array_size(peers);
            bool port_ok = !json_array_size(ports);
            size_t k;
            const json_t *x;

            json_array_foreach (peers, k, x) {
                peer_ok |= ref_peer_matches(rw, np, x, ip, other);
            }
            json_array_foreach (ports, k, x) {
                port_ok |= ref_port_matches(x, proto, dport, dst_pod);
            }
            if (peer_ok && port_ok) {
                *why = fmt("%s allowed by %s rule %zu", type,
                           jget_str(np, "metadata.name"), r);
                return true;
            }
        }
    }
    *why = fmt(isolated ? "%s isolated, no rule allows" : "%s not isolated",
               type);
    return !isolated;
}

/* The local (node1) live pod with address 'ip'. */
static const json_t *
ref_local_pod(const struct ref_world *rw, const char *ip)
{
    const json_t *pod = ref_pod_by_ip(rw, ip);
    const char *node = pod ? jget_str(pod, "spec.nodeName") : NULL;
    return node && !strcmp(node, NODE_NAME) ? pod : NULL;
}

/* The verdict for a packet from 'src' to 'dst' (addresses), as node1
 * enforces it: egress policy of a local source, ingress policy of a local
 * destination; the node itself always reaches its pods and back. */
static bool
ref_verdict(const struct ref_world *rw, const char *src, const char *dst,
            const char *proto, int dport, char **why)
{
    const json_t *src_pod = ref_pod_by_ip(rw, src);
    const json_t *dst_pod = ref_pod_by_ip(rw, dst);
    const json_t *src_local = ref_local_pod(rw, src);
    const json_t *dst_local = ref_local_pod(rw, dst);
    char *why_e = NULL, *why_i = NULL;
    bool ok = true;

    if (!strcmp(src, NODE_IP) || !strcmp(dst, NODE_IP)) {
        *why = fmt("node traffic");
        return true;
    }
    if (src_local) {
        ok = ref_direction_allows(rw, src_local, false, dst, dst_pod, proto,
                                  dport, dst_pod, &why_e);
    }
    if (ok && dst_local) {
        ok = ref_direction_allows(rw, dst_local, true, src, src_pod, proto,
                                  dport, dst_pod, &why_i);
    }
    *why = fmt("%s%s%s", why_e ? why_e : "", why_e && why_i ? "; " : "",
               why_i ? why_i : "");
    free(why_e);
    free(why_i);
    return ok;
}

static void
ref_load(struct ref_world *rw, char **files, int n_files)
{
    rw->namespaces = jobj();
    rw->pods = jarr();
    rw->policies = jarr();
    for (int i = 0; i < n_files; i++) {
        json_error_t error;
        json_t *obj = json_load_file(files[i], 0, &error);
        if (!obj) {
            die("%s: %s", files[i], error.text);
        }
        const char *kind = jget_str(obj, "kind");
        if (!strcmp(kind, "Namespace")) {
            /* The control plane labels every namespace with its name. */
            json_t *labels = json_deep_copy(jget(obj, "metadata.labels"));
            if (!labels) {
                labels = jobj();
            }
            const char *name = jget_str(obj, "metadata.name");
            jset(labels, "kubernetes.io/metadata.name", jstr(name));
            jset(rw->namespaces, name, labels);
        } else if (!strcmp(kind, "Pod")) {
            json_array_append(rw->pods, obj);
        } else {
            json_array_append(rw->policies, obj);
        }
        json_decref(obj);
    }
}

/* ---------------------------------------------------------------------- */
/* Packets. */

/* One end of a packet. */
struct endpoint {
    const struct gen_pod *pod;  /* NULL for external addresses, the node. */
    const char *ip;
};

static void
gen_endpoints(const struct gen_world *w, bool v4, struct endpoint *eps,
              int *n_eps)
{
    static const char *const ext4[] = {
        "192.168.1.5", "192.168.1.200", "192.168.2.7", "8.8.8.8",
        "172.18.0.9", "10.9.8.7", "11.1.1.1",
    };
    static const char *const ext6[] = {
        "2001:db8::5", "2001:db8:1::7", "2001:db9::1", "fd00:10:244:2::5",
    };

    *n_eps = 0;
    for (int i = 0; i < w->n_pods; i++) {
        const struct gen_pod *p = &w->pods[i];
        const char *ip = gen_pod_ip(p, v4);
        if (ip) {
            /* Non-peer pods are just addresses here. */
            eps[(*n_eps)++] = (struct endpoint) { p, ip };
        }
    }
    for (size_t i = 0; v4 && i < sizeof ext4 / sizeof *ext4; i++) {
        eps[(*n_eps)++] = (struct endpoint) { NULL, ext4[i] };
    }
    for (size_t i = 0; !v4 && i < sizeof ext6 / sizeof *ext6; i++) {
        eps[(*n_eps)++] = (struct endpoint) { NULL, ext6[i] };
    }
    if (v4) {
        eps[(*n_eps)++] = (struct endpoint) { NULL, NODE_IP };
    }
}

static bool
endpoint_is_local(const struct endpoint *e)
{
    return e->pod && e->pod->local && e->pod->live;
}

/* A destination port worth trying: policy ports, their range edges,
 * container ports, or anything. */
static int
gen_dport(const struct gen_world *w, const struct endpoint *dst)
{
    static const int interesting[] = {
        80, 81, 53, 8080, 9090, 9100, 7777, 7778, 5353, 443, 8000, 8100,
        8101, 49, 50, 60, 61, 4999, 5000, 6000, 6001, 9089, 9101, 7769,
        7770, 7779, 7780, 1, 1024, 1025, 79, 22,
    };

    if (dst->pod && dst->pod->n_cports && chance(40)) {
        return dst->pod->cports[rnd(dst->pod->n_cports)].port;
    }
    if (chance(90)) {
        return interesting[rnd(sizeof interesting / sizeof *interesting)];
    }
    return 1 + rnd(65535);
}

static void
gen_packets(const struct gen_world *w, const struct ref_world *rw,
            FILE *out, int n)
{
    struct endpoint eps[MAX_PODS + 16];
    int n_eps;
    int n_allow = 0;

    for (int i = 0; i < n; i++) {
        bool v4 = chance(70);
        struct endpoint src, dst;

        gen_endpoints(w, v4, eps, &n_eps);
        int n_local = 0;
        for (int j = 0; j < n_eps; j++) {
            n_local += endpoint_is_local(&eps[j]);
        }
        if (!n_local) {
            /* No local pod of this family. */
            v4 = true;
            gen_endpoints(w, v4, eps, &n_eps);
        }
        do {
            src = eps[rnd(n_eps)];
            dst = eps[rnd(n_eps)];
        } while (src.ip == dst.ip
                 || (!endpoint_is_local(&src) && !endpoint_is_local(&dst))
                 || (src.pod && src.pod->local && !src.pod->live)
                 || (dst.pod && dst.pod->local && !dst.pod->live));

        static const char *const protos[] = { "TCP", "TCP", "TCP", "UDP",
                                              "UDP", "SCTP" };
        const char *proto = PICK(protos);
        int dport = gen_dport(w, &dst);
        char *why;
        bool allow = ref_verdict(rw, src.ip, dst.ip, proto, dport, &why);
        n_allow += allow;

        char *in_port = (endpoint_is_local(&src)
                         ? fmt("%d", src.pod->ofport) : fmt("GWPORT"));
        char *dl_src = (endpoint_is_local(&src) ? fmt("%s", src.pod->mac)
                        : fmt("GWMAC"));
        char *dl_dst = (endpoint_is_local(&dst) ? fmt("%s", dst.pod->mac)
                        : fmt("GWMAC"));
        char *out_port = (endpoint_is_local(&dst)
                          ? fmt("%d", dst.pod->ofport) : fmt("gw"));
        const char *l4name = (!strcmp(proto, "TCP") ? "tcp"
                              : !strcmp(proto, "UDP") ? "udp" : "sctp");
        char *l4 = fmt("%s%s", l4name, v4 ? "" : "6");
        fprintf(out, "%s %s %s,in_port=%s,dl_src=%s,dl_dst=%s,"
                "%s=%s,%s=%s,%s_src=40000,%s_dst=%d "
                "%s%s%s(%s)->%s%s%s(%s):%s/%d: %s\n",
                allow ? "allow" : "deny", out_port, l4, in_port, dl_src,
                dl_dst, v4 ? "nw_src" : "ipv6_src", src.ip,
                v4 ? "nw_dst" : "ipv6_dst", dst.ip, l4name, l4name, dport,
                src.pod ? src.pod->ns : "", src.pod ? "/" : "",
                src.pod ? src.pod->name : "", src.ip,
                dst.pod ? dst.pod->ns : "", dst.pod ? "/" : "",
                dst.pod ? dst.pod->name : "", dst.ip, proto, dport, why);
        free(in_port);
        free(dl_src);
        free(dl_dst);
        free(out_port);
        free(l4);
        free(why);
    }
    fprintf(stderr, "np-world: %d packets, %d allowed\n", n, n_allow);
}

/* ---------------------------------------------------------------------- */

static void
write_world(struct gen_world *w, const char *dir)
{
    char *mdir = fmt("%s/manifests", dir);
    size_t i;
    json_t *obj;

    if (mkdir(dir, 0755) && errno != EEXIST) {
        die("%s: %s", dir, strerror(errno));
    }
    if (mkdir(mdir, 0755) && errno != EEXIST) {
        die("%s: %s", mdir, strerror(errno));
    }
    json_array_foreach (w->objects, i, obj) {
        char *path = fmt("%s/%02zu-%s-%s-%s.json", mdir, i,
                         jget_str(obj, "kind"),
                         jget_str(obj, "metadata.namespace")
                         ? jget_str(obj, "metadata.namespace") : "cluster",
                         jget_str(obj, "metadata.name"));
        if (json_dump_file(obj, path, JSON_INDENT(2) | JSON_SORT_KEYS)) {
            die("%s: cannot write", path);
        }
        w->files[w->n_files++] = path;
    }
    free(mdir);

    char *path = fmt("%s/ports", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        die("%s: %s", path, strerror(errno));
    }
    for (int j = 0; j < w->n_pods; j++) {
        const struct gen_pod *p = &w->pods[j];
        if (p->local) {
            fprintf(f, "np%d %d %s %s %s ", p->ofport, p->ofport, p->mac,
                    p->ns, p->name);
            for (int k = 0; k < p->n_ips; k++) {
                fprintf(f, "%s%s", k ? "," : "", p->ips[k]);
            }
            fputc('\n', f);
        }
    }
    fclose(f);
    free(path);
}

/* ---------------------------------------------------------------------- */
/* Checking packets against the bridge. */

/* Replaces every "GWPORT" and "GWMAC" in 'flow'. */
static char *
subst_gw(const char *flow, const char *gw_port, const char *gw_mac)
{
    size_t size = strlen(flow) * 2 + 64;
    char *out = malloc(size);
    char *p = out;

    while (*flow) {
        if (!strncmp(flow, "GWPORT", 6)) {
            p += sprintf(p, "%s", gw_port);
            flow += 6;
        } else if (!strncmp(flow, "GWMAC", 5)) {
            p += sprintf(p, "%s", gw_mac);
            flow += 5;
        } else {
            *p++ = *flow++;
        }
    }
    *p = '\0';
    return out;
}

/* One unixctl request over 'f': returns the reply text (or the error
 * text, with '*is_error' set). */
static char *
unixctl_call(FILE *f, int id, json_t *params, bool *is_error)
{
    json_t *req = json_pack("{s:i, s:s, s:o}", "id", id, "method",
                            "ofproto/trace", "params", params);
    char *text = json_dumps(req, JSON_COMPACT);
    json_error_t error;

    fputs(text, f);
    fflush(f);
    free(text);
    json_decref(req);

    json_t *reply = json_loadf(f, JSON_DISABLE_EOF_CHECK, &error);
    if (!reply) {
        die("unixctl reply: %s", error.text);
    }
    const json_t *result = json_object_get(reply, "result");
    const json_t *err = json_object_get(reply, "error");
    *is_error = !json_is_string(result);
    char *s = strdup(json_is_string(result) ? json_string_value(result)
                     : json_is_string(err) ? json_string_value(err)
                     : "(no reply)");
    json_decref(reply);
    return s;
}

/* The port the trace outputs to in its last pipeline ("output port is N"
 * lines; NORMAL and other outputs count as "other"), or NULL if it drops
 * the packet. */
static char *
trace_output(const char *trace)
{
    const char *last = NULL, *p = trace;
    const char *key = "-> output port is ";

    while ((p = strstr(p, key))) {
        last = p + strlen(key);
        p = last;
    }
    if (!last) {
        const char *dp = strstr(trace, "Datapath actions: ");
        const char *final = NULL;
        while (dp) {
            final = dp;
            dp = strstr(dp + 1, "Datapath actions: ");
        }
        if (final && strncmp(final + 18, "drop", 4)
            && !strstr(final, "recirc(")) {
            return strdup("other");
        }
        return NULL;
    }
    size_t n = strspn(last, "0123456789");
    char *port = strndup(last, n ? n : strcspn(last, "\n"));
    return port;
}

static int
check_main(int argc, char *argv[])
{
    if (argc != 6) {
        die("usage: np-world check DIR VSWITCHD-CTL GW-OFPORT GW-MAC");
    }
    const char *dir = argv[2], *ctl = argv[3];
    const char *gw_port = argv[4], *gw_mac = argv[5];

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (fd < 0 || strlen(ctl) >= sizeof sun.sun_path) {
        die("%s: cannot connect", ctl);
    }
    strcpy(sun.sun_path, ctl);
    if (connect(fd, (struct sockaddr *) &sun, sizeof sun)) {
        die("%s: %s", ctl, strerror(errno));
    }
    FILE *sock = fdopen(fd, "r+");

    char *path = fmt("%s/packets", dir);
    FILE *in = fopen(path, "r");
    if (!in) {
        die("%s: %s", path, strerror(errno));
    }
    char line[4096];
    int n = 0, n_bad = 0, n_allow = 0;
    while (fgets(line, sizeof line, in)) {
        char verdict[16], out[16], flow[1024];
        int ofs = 0;
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%15s %15s %1023s %n", verdict, out, flow,
                   &ofs) < 3) {
            die("%s: bad line: %s", path, line);
        }
        const char *desc = line + ofs;
        char *f = subst_gw(flow, gw_port, gw_mac);
        bool is_error;
        char *trace = unixctl_call(sock, n, json_pack("[s, s, s, s]",
                                                      "br-int", f,
                                                      "--ct-next",
                                                      "trk,new"),
                                   &is_error);
        bool want = !strcmp(verdict, "allow");
        char *expected_port = !strcmp(out, "gw") ? strdup(gw_port)
                                                 : strdup(out);
        char *got_port = is_error ? NULL : trace_output(trace);
        bool got = got_port && !strcmp(got_port, expected_port);
        n_allow += got;
        if (is_error || got != want || (got_port && !got)) {
            n_bad++;
            printf("MISMATCH packet %d: reference says %s (%s),\n"
                   "  the bridge %s%s\n  flow: %s\n--- trace\n%s---\n",
                   n, verdict, desc,
                   is_error ? "refused the trace: "
                   : got_port ? "outputs to port " : "drops it",
                   is_error ? "" : got_port ? got_port : "", f, trace);
        }
        free(expected_port);
        free(got_port);
        free(trace);
        free(f);
        n++;
    }
    fclose(in);
    fclose(sock);
    free(path);
    printf("%d packets traced, %d allowed by the bridge, %d mismatches\n",
           n, n_allow, n_bad);
    return n_bad ? 1 : 0;
}

int
main(int argc, char *argv[])
{
    if (argc > 1 && !strcmp(argv[1], "check")) {
        return check_main(argc, argv);
    }
    if (argc < 3) {
        fprintf(stderr, "usage: %s SEED DIR [N-PACKETS]\n", argv[0]);
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 0);
    const char *dir = argv[2];
    int n_packets = argc > 3 ? atoi(argv[3]) : 1000;

    /* Worlds are drawn until one uses every feature; each attempt has its
     * own sub-seed, so a seed still names exactly one world. */
    struct gen_world *w = calloc(1, sizeof *w);
    const unsigned int all = (1u << N_FEATURES) - 1;
    int attempt;
    for (attempt = 0; attempt < 1000; attempt++) {
        memset(w, 0, sizeof *w);
        rng_state = seed * 1000 + attempt;
        w->objects = jarr();
        gen_namespaces(w);
        gen_pods(w);
        gen_policies(w);
        if ((w->coverage & all) == all) {
            break;
        }
        json_decref(w->objects);
    }
    if (attempt == 1000) {
        die("seed %"PRIu64": no world uses every feature", seed);
    }
    write_world(w, dir);

    char *path = fmt("%s/coverage", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < N_FEATURES; i++) {
        fprintf(f, "%s\n", feature_names[i]);
    }
    if (f) {
        fclose(f);
    }
    free(path);

    struct ref_world rw;
    ref_load(&rw, w->files, w->n_files);

    path = fmt("%s/packets", dir);
    f = fopen(path, "w");
    if (!f) {
        die("%s: %s", path, strerror(errno));
    }
    rng_state = seed * 7919 + 1;
    gen_packets(w, &rw, f, n_packets);
    fclose(f);
    free(path);

    fprintf(stderr, "np-world: seed %"PRIu64" (attempt %d): %d namespaces, "
            "%d pods, %zu policies\n", seed, attempt, w->n_ns, w->n_pods,
            json_array_size(rw.policies));
    return 0;
}
