/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* np-workload: a seeded, deterministic cluster workload for the scale
 * benchmark (tests/bench/bench.sh).
 *
 *     np-workload PRESET SEED DIR [N-CHURN]
 *     np-workload custom:PODS:POLICIES SEED DIR [N-CHURN]
 *     np-workload apply DIR MANIFEST-DIR OP FILE SOURCE
 *
 * PRESET is small (110 pods, 50 policies), medium (1,000/200), large
 * (10,000/1,000) or xlarge (50,000/5,000); every preset has 110 pods on
 * node1, the node under test, and the rest spread over other nodes, 110
 * per node.  From SEED alone (a private PRNG) it writes:
 *
 *   DIR/manifests/00-namespaces-000.json  a v1 List of every Namespace;
 *   DIR/manifests/10-pods-NNN.json    v1 Lists of the Pods not churned,
 *                                     1,000 per file;
 *   DIR/manifests/20-policies-NNN.json  v1 Lists of the NetworkPolicies
 *                                     not churned, 500 per file;
 *   DIR/manifests/3x-pod-*.json,
 *   DIR/manifests/4x-np-*.json        one object per file for each object
 *                                     the churn stream changes, so that an
 *                                     event rewrites one small file;
 *   DIR/ports     "IFNAME MAC NAMESPACE NAME IP" per local pod;
 *   DIR/bounds    "KEY VALUE" lines: the ideal conjunctive flow count of
 *                 the policies' rules, the naive cross-product count, and
 *                 the counts behind them (see below);
 *   DIR/churn/events  "SEQ KIND OP FILE SOURCE POD-IP" per event, in
 *                 order: OP "write" installs DIR/churn/SOURCE as
 *                 manifests/FILE, "rm" removes manifests/FILE; POD-IP is
 *                 the address of the pod a pod event is about, or "-";
 *   DIR/churn/NNN.json  the new contents for the "write" events.
 *
 * "apply" carries out one event: OP "write" copies DIR/churn/SOURCE to a
 * hidden file in MANIFEST-DIR and renames it to FILE, "rm" removes
 * MANIFEST-DIR/FILE; it prints the wall-clock time (microseconds since the
 * epoch) just before the rename or removal, the moment the controller can
 * first see the event.
 *
 * Event kinds (N-CHURN of each, default 10): pod-add, pod-delete and
 * pod-relabel (remote pods), local-relabel (a local pod's labels change,
 * so the policies that select it change), np-add, np-update (a port of
 * a rule changes) and np-delete.
 *
 * The workload: namespace 0 is kube-system (with the cluster DNS pods),
 * namespace 1 is "monitoring" (Prometheus); every namespace runs five
 * applications (frontend, api, db, cache, worker) with named container
 * ports, and has five policies: a default deny, an allow for its own
 * namespace, and three of: app to app on a named port, app to app on a
 * numeric port, a namespaceSelector allow from monitoring on the named
 * "metrics" port, an ipBlock allow with excepts, an egress policy with
 * DNS, a multi-port rule with an endPort range, a cross-namespace allow by
 * team label, and a default egress deny with DNS.
 *
 * The bounds follow the compiler's scheme independently of its code: a
 * policy compiles only if it selects local pods; each rule is a
 * conjunction of up to three dimensions (peers: one flow per address or
 * CIDR, after subtracting excepts; targets: one flow per local pod;
 * ports: one flow per protocol/port/mask, endPort ranges split into
 * masks, named ports resolved per target pod, targets that resolve alike
 * sharing a conjunction) plus one action flow when it has more than one
 * dimension.  "ideal" is the sum over rules; "ideal_shared" counts a
 * match once per policy and direction (what the compiler can share at
 * one priority); "naive" is the product of the dimensions per rule;
 * "isolation" is the per-pod default-deny flows (one per ingress-isolated
 * pod, one per address of each egress-isolated pod).  Only IPv4. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/common/np-rand.h"

#define NODE_PODS 110           /* Pods per node, and local pods. */
#define POLICIES_PER_NS 5

static void
fatal(const char *format, ...)
{
    va_list args;
    fprintf(stderr, "np-workload: ");
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(1);
}

static void *
xcalloc_(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fatal("out of memory");
    }
    return p;
}

static void *
xrealloc_(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        fatal("out of memory");
    }
    return p;
}

/* Applications. */
enum app {
    APP_FRONTEND, APP_API, APP_DB, APP_CACHE, APP_WORKER,
    N_PLAIN_APPS,
    APP_DNS = N_PLAIN_APPS, APP_PROMETHEUS,
    N_APPS
};

static const char *const app_names[N_APPS] = {
    "frontend", "api", "db", "cache", "worker", "kube-dns", "prometheus",
};
static const char *const app_tiers[N_APPS] = {
    "web", "backend", "data", "data", "backend", "system", "system",
};

enum proto { P_TCP, P_UDP };
static const char *const proto_names[] = { "TCP", "UDP" };
static const int proto_numbers[] = { 6, 17 };

struct cport {
    const char *name;
    int port;
    enum proto proto;
};

#define MAX_CPORTS 4
static const struct cport app_ports[N_APPS][MAX_CPORTS] = {
    [APP_FRONTEND] = { { "http", 8080, P_TCP }, { "metrics", 9090, P_TCP } },
    [APP_API] = { { "http", 8080, P_TCP }, { "grpc", 9000, P_TCP },
                  { "metrics", 9090, P_TCP } },
    [APP_DB] = { { "postgres", 5432, P_TCP }, { "metrics", 9187, P_TCP } },
    [APP_CACHE] = { { "redis", 6379, P_TCP }, { "metrics", 9121, P_TCP } },
    [APP_WORKER] = { { "metrics", 9090, P_TCP } },
    [APP_DNS] = { { "dns", 53, P_UDP }, { "dns-tcp", 53, P_TCP },
                  { "metrics", 9153, P_TCP } },
    [APP_PROMETHEUS] = { { "web", 9090, P_TCP } },
};

struct ns {
    char name[32];
    int team;
    const char *env;
    bool monitoring;
    int n_local;                /* Local pods in this namespace. */
    int first_pod, n_pods;      /* Initial pods, contiguous. */
};

struct pod {
    int ns;
    enum app app;
    char name[64];
    char hash[8];
    int version;
    uint32_t ip;                /* Host order. */
    int node;                   /* 0: node1, the local node. */
    int local_idx;              /* Index among local pods, or -1. */
    int file;                   /* 0: in 10-pods.json; else its own file. */
    bool live;
};

/* A label selector: matchLabels only, up to two pairs; 'n' = 0 selects
 * everything. */
struct sel {
    int n;
    const char *key[2];
    char value[2][40];
};

struct peer {
    bool ipblock;
    uint32_t cidr;
    int plen;
    uint32_t except[4];
    int except_plen[4];
    int n_except;
    bool has_pod_sel, has_ns_sel;
    struct sel pod_sel, ns_sel;
};

struct pport {
    enum proto proto;
    int port;                   /* 0 with 'name' NULL: every port. */
    int end_port;               /* 0: none. */
    const char *name;           /* Named port, or NULL. */
};

#define MAX_PEERS 4
#define MAX_PPORTS 4
#define MAX_RULES 3

struct rule {
    struct peer peers[MAX_PEERS];
    int n_peers;                /* 0: every peer. */
    struct pport ports[MAX_PPORTS];
    int n_ports;                /* 0: every port. */
};

struct policy {
    int ns;
    char name[64];
    int serial;                 /* For the uid. */
    int version;
    struct sel target;
    bool ingress, egress;       /* policyTypes. */
    struct rule in[MAX_RULES], eg[MAX_RULES];
    int n_in, n_eg;
    int file;                   /* 0: in 20-policies.json; else own file. */
    bool live;
};

struct world {
    struct ns *nss;
    int n_ns;
    struct pod *pods;
    int n_pods, allocated_pods;
    struct policy *pols;
    int n_pols, allocated_pols;
    int n_local;
    int next_node_slot;         /* For pods added by the churn stream. */
    int next_remote_node;
};

/* Selectors. */

static void
sel_add(struct sel *s, const char *key, const char *value)
{
    s->key[s->n] = key;
    snprintf(s->value[s->n], sizeof s->value[s->n], "%s", value);
    s->n++;
}

static const char *
pod_label(const struct world *w, const struct pod *p, const char *key)
{
    static char version[16];
    if (!strcmp(key, "app")) {
        return p->app == APP_DNS ? NULL : app_names[p->app];
    } else if (!strcmp(key, "k8s-app")) {
        return p->app == APP_DNS ? "kube-dns" : NULL;
    } else if (!strcmp(key, "tier")) {
        return app_tiers[p->app];
    } else if (!strcmp(key, "version")) {
        snprintf(version, sizeof version, "v%d", p->version);
        return version;
    } else if (!strcmp(key, "pod-template-hash")) {
        return p->hash;
    }
    (void) w;
    return NULL;
}

static const char *
ns_label(const struct ns *ns, const char *key)
{
    static char team[16];
    if (!strcmp(key, "kubernetes.io/metadata.name")) {
        return ns->name;
    } else if (!strcmp(key, "team")) {
        snprintf(team, sizeof team, "team%d", ns->team);
        return team;
    } else if (!strcmp(key, "env")) {
        return ns->env;
    } else if (!strcmp(key, "purpose")) {
        return ns->monitoring ? "monitoring" : NULL;
    }
    return NULL;
}

static bool
sel_matches_pod(const struct world *w, const struct sel *s,
                const struct pod *p)
{
    for (int i = 0; i < s->n; i++) {
        const char *v = pod_label(w, p, s->key[i]);
        if (!v || strcmp(v, s->value[i])) {
            return false;
        }
    }
    return true;
}

static bool
sel_matches_ns(const struct sel *s, const struct ns *ns)
{
    for (int i = 0; i < s->n; i++) {
        const char *v = ns_label(ns, s->key[i]);
        if (!v || strcmp(v, s->value[i])) {
            return false;
        }
    }
    return true;
}

/* The world. */

static uint32_t
node_ip(int node, int slot)
{
    /* Node k has 10.(128 + k / 256).(k % 256).0/24; pods from .10. */
    return ((UINT32_C(10) << 24) | ((uint32_t) (128 + node / 256) << 16)
            | ((uint32_t) (node % 256) << 8) | (uint32_t) (10 + slot));
}

static const char *
ip_str(uint32_t ip)
{
    static char bufs[4][20];
    static int i;
    char *b = bufs[i++ % 4];
    snprintf(b, 20, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255,
             (ip >> 8) & 255, ip & 255);
    return b;
}

static struct pod *
world_add_pod(struct world *w, int ns, enum app app)
{
    if (w->n_pods >= w->allocated_pods) {
        w->allocated_pods = w->allocated_pods * 2 + 16;
        w->pods = xrealloc_(w->pods, w->allocated_pods * sizeof *w->pods);
    }
    struct pod *p = &w->pods[w->n_pods++];
    memset(p, 0, sizeof *p);
    p->ns = ns;
    p->app = app;
    p->version = 1 + rnd(3);
    snprintf(p->hash, sizeof p->hash, "%05x", rnd(0xfffff));
    snprintf(p->name, sizeof p->name, "%s-%s-%d", app_names[app], p->hash,
             w->n_pods - 1);
    p->local_idx = -1;
    p->live = true;
    return p;
}

static struct policy *
world_add_policy(struct world *w, int ns, const char *name)
{
    if (w->n_pols >= w->allocated_pols) {
        w->allocated_pols = w->allocated_pols * 2 + 16;
        w->pols = xrealloc_(w->pols, w->allocated_pols * sizeof *w->pols);
    }
    struct policy *np = &w->pols[w->n_pols];
    memset(np, 0, sizeof *np);
    np->ns = ns;
    np->serial = w->n_pols++;
    np->version = 1;
    np->live = true;
    snprintf(np->name, sizeof np->name, "%s", name);
    return np;
}

static void
world_build_pods(struct world *w, int n_pods)
{
    int per_ns = n_pods / w->n_ns;
    int extra = n_pods % w->n_ns;
    int n_dns = n_pods / 2500 + 2;
    int n_prom = n_pods / 5000 + 1;
    int stride = n_pods / NODE_PODS;
    int remote = 0;

    for (int i = 0; i < w->n_ns; i++) {
        struct ns *ns = &w->nss[i];
        ns->first_pod = w->n_pods;
        ns->n_pods = per_ns + (i < extra);
        for (int j = 0; j < ns->n_pods; j++) {
            enum app app = j % N_PLAIN_APPS;
            if (i == 0 && j < n_dns) {
                app = APP_DNS;
            } else if (i == 1 && j < n_prom) {
                app = APP_PROMETHEUS;
            }
            struct pod *p = world_add_pod(w, i, app);
            int idx = w->n_pods - 1;
            if (w->n_local < NODE_PODS && idx % stride == 0) {
                p->node = 0;
                p->local_idx = w->n_local++;
                p->ip = node_ip(0, p->local_idx);
                ns->n_local++;
            } else {
                p->node = 1 + remote / NODE_PODS;
                p->ip = node_ip(p->node, remote % NODE_PODS);
                remote++;
            }
        }
    }
    w->next_remote_node = 2 + remote / NODE_PODS;
}

/* Policy templates. */

static struct peer *
rule_peer(struct rule *r)
{
    return &r->peers[r->n_peers++];
}

static void
rule_port(struct rule *r, enum proto proto, int port, int end_port,
          const char *name)
{
    r->ports[r->n_ports++] = (struct pport) { proto, port, end_port, name };
}

static void
peer_pod_app(struct peer *p, enum app app)
{
    p->has_pod_sel = true;
    if (app == APP_DNS) {
        sel_add(&p->pod_sel, "k8s-app", "kube-dns");
    } else {
        sel_add(&p->pod_sel, "app", app_names[app]);
    }
}

static void
peer_ipblock(struct peer *p, uint32_t cidr, int plen)
{
    p->ipblock = true;
    p->cidr = cidr;
    p->plen = plen;
}

static void
peer_except(struct peer *p, uint32_t cidr, int plen)
{
    p->except[p->n_except] = cidr;
    p->except_plen[p->n_except++] = plen;
}

static void
rule_dns(struct rule *r)
{
    struct peer *p = rule_peer(r);
    p->has_ns_sel = true;
    sel_add(&p->ns_sel, "kubernetes.io/metadata.name", "kube-system");
    peer_pod_app(p, APP_DNS);
    rule_port(r, P_UDP, 53, 0, NULL);
    rule_port(r, P_TCP, 53, 0, NULL);
}

#define IP4(A, B, C, D) (((uint32_t) (A) << 24) | ((B) << 16) | ((C) << 8) \
                         | (D))

enum tmpl {
    T_DENY, T_SAME_NS, T_NAMED_PORT, T_APP_PORT, T_MONITORING, T_IPBLOCK,
    T_EGRESS, T_MULTIPORT, T_TEAM, T_DENY_EGRESS,
    N_TMPL
};

static void
policy_from_template(struct world *w, int ns_idx, enum tmpl t, int serial)
{
    static const char *const names[N_TMPL] = {
        "default-deny-ingress", "allow-same-namespace", "api-from-frontend",
        "db-from-api", "allow-monitoring", "frontend-from-internet",
        "worker-egress", "cache-clients", "api-from-team",
        "default-deny-egress",
    };
    char name[64];
    snprintf(name, sizeof name, "%s-%d", names[t], serial);
    struct policy *np = world_add_policy(w, ns_idx, name);
    const struct ns *ns = &w->nss[ns_idx];
    struct rule *r;
    struct peer *p;

    switch (t) {
    case T_DENY:
        np->ingress = true;
        break;
    case T_SAME_NS:
        np->ingress = true;
        r = &np->in[np->n_in++];
        rule_peer(r)->has_pod_sel = true;
        break;
    case T_NAMED_PORT:
        sel_add(&np->target, "app", "api");
        np->ingress = true;
        r = &np->in[np->n_in++];
        peer_pod_app(rule_peer(r), APP_FRONTEND);
        rule_port(r, P_TCP, 0, 0, "http");
        break;
    case T_APP_PORT:
        sel_add(&np->target, "app", "db");
        np->ingress = true;
        r = &np->in[np->n_in++];
        peer_pod_app(rule_peer(r), APP_API);
        peer_pod_app(rule_peer(r), APP_WORKER);
        rule_port(r, P_TCP, 5432, 0, NULL);
        break;
    case T_MONITORING:
        np->ingress = true;
        r = &np->in[np->n_in++];
        p = rule_peer(r);
        p->has_ns_sel = true;
        sel_add(&p->ns_sel, "purpose", "monitoring");
        peer_pod_app(p, APP_PROMETHEUS);
        rule_port(r, P_TCP, 0, 0, "metrics");
        break;
    case T_IPBLOCK:
        sel_add(&np->target, "app", "frontend");
        np->ingress = true;
        r = &np->in[np->n_in++];
        p = rule_peer(r);
        peer_ipblock(p, 0, 0);
        peer_except(p, IP4(10, 0, 0, 0), 8);
        peer_except(p, IP4(172, 16, 0, 0), 12);
        peer_except(p, IP4(192, 168, 0, 0), 16);
        rule_port(r, P_TCP, 8080, 0, NULL);
        rule_port(r, P_TCP, 8443, 0, NULL);
        break;
    case T_EGRESS:
        sel_add(&np->target, "app", "worker");
        np->egress = true;
        rule_dns(&np->eg[np->n_eg++]);
        r = &np->eg[np->n_eg++];
        peer_pod_app(rule_peer(r), APP_DB);
        peer_pod_app(rule_peer(r), APP_CACHE);
        rule_port(r, P_TCP, 5432, 0, NULL);
        rule_port(r, P_TCP, 6379, 0, NULL);
        r = &np->eg[np->n_eg++];
        p = rule_peer(r);
        peer_ipblock(p, 0, 0);
        peer_except(p, IP4(10, 0, 0, 0), 8);
        peer_except(p, IP4(169, 254, 169, 254), 32);
        rule_port(r, P_TCP, 443, 0, NULL);
        break;
    case T_MULTIPORT:
        sel_add(&np->target, "app", "cache");
        np->ingress = true;
        r = &np->in[np->n_in++];
        peer_pod_app(rule_peer(r), APP_API);
        peer_pod_app(rule_peer(r), APP_WORKER);
        rule_port(r, P_TCP, 6379, 0, NULL);
        rule_port(r, P_TCP, 16379, 0, NULL);
        rule_port(r, P_TCP, 30000, 32767, NULL);
        break;
    case T_TEAM: {
        char team[16];
        snprintf(team, sizeof team, "team%d", ns->team);
        sel_add(&np->target, "app", "api");
        np->ingress = true;
        r = &np->in[np->n_in++];
        p = rule_peer(r);
        p->has_ns_sel = true;
        sel_add(&p->ns_sel, "team", team);
        peer_pod_app(p, APP_FRONTEND);
        rule_port(r, P_TCP, 8080, 0, NULL);
        rule_port(r, P_TCP, 9000, 0, NULL);
        break;
    }
    case T_DENY_EGRESS:
        np->egress = true;
        rule_dns(&np->eg[np->n_eg++]);
        r = &np->eg[np->n_eg++];
        rule_peer(r)->has_pod_sel = true;
        break;
    case N_TMPL:
    default:
        abort();
    }
}

static void
world_build_policies(struct world *w, int n_pols)
{
    for (int i = 0; i < n_pols; i++) {
        int ns = i % w->n_ns;
        int slot = i / w->n_ns;
        enum tmpl t = (slot < 2 ? (enum tmpl) slot
                       : (enum tmpl) (2 + (ns + slot - 2) % (N_TMPL - 2)));
        policy_from_template(w, ns, t, i);
    }
}

static void
world_build(struct world *w, int n_pods, int n_pols)
{
    static const char *const envs[] = { "prod", "staging", "dev" };

    w->n_ns = n_pols / POLICIES_PER_NS;
    if (w->n_ns < 2) {
        w->n_ns = 2;
    }
    if (w->n_ns > n_pods / 2) {
        w->n_ns = n_pods / 2;
    }
    w->nss = xcalloc_(w->n_ns, sizeof *w->nss);
    for (int i = 0; i < w->n_ns; i++) {
        struct ns *ns = &w->nss[i];
        if (i == 0) {
            snprintf(ns->name, sizeof ns->name, "kube-system");
        } else if (i == 1) {
            snprintf(ns->name, sizeof ns->name, "monitoring");
            ns->monitoring = true;
        } else {
            snprintf(ns->name, sizeof ns->name, "app-%04d", i);
        }
        ns->team = i % 8;
        ns->env = envs[rnd(3)];
    }
    world_build_pods(w, n_pods);
    world_build_policies(w, n_pols);
}

/* JSON output. */

static void
put_sel(FILE *f, const struct sel *s)
{
    fprintf(f, "{\"matchLabels\":{");
    for (int i = 0; i < s->n; i++) {
        fprintf(f, "%s\"%s\":\"%s\"", i ? "," : "", s->key[i], s->value[i]);
    }
    fprintf(f, "}}");
}

static void
put_namespace(FILE *f, const struct world *w, int i)
{
    const struct ns *ns = &w->nss[i];
    fprintf(f, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
            "\"metadata\":{\"name\":\"%s\",\"uid\":\"ns-%08d\","
            "\"resourceVersion\":\"1\",\"labels\":{"
            "\"kubernetes.io/metadata.name\":\"%s\",\"team\":\"team%d\","
            "\"env\":\"%s\"%s}}}",
            ns->name, i, ns->name, ns->team, ns->env,
            ns->monitoring ? ",\"purpose\":\"monitoring\"" : "");
}

static void
put_pod(FILE *f, const struct world *w, int i)
{
    const struct pod *p = &w->pods[i];
    const struct ns *ns = &w->nss[p->ns];

    fprintf(f, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
            "\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"pod-%08d\","
            "\"resourceVersion\":\"%d\",\"labels\":{", p->name, ns->name, i,
            p->version);
    if (p->app == APP_DNS) {
        fprintf(f, "\"k8s-app\":\"kube-dns\"");
    } else {
        fprintf(f, "\"app\":\"%s\"", app_names[p->app]);
    }
    fprintf(f, ",\"tier\":\"%s\",\"version\":\"v%d\","
            "\"pod-template-hash\":\"%s\"}},\"spec\":{\"nodeName\":"
            "\"node%d\",\"containers\":[{\"name\":\"main\",\"image\":"
            "\"registry.example/%s:1.%d\",\"ports\":[",
            app_tiers[p->app], p->version, p->hash, p->node + 1,
            app_names[p->app], p->version);
    for (int j = 0; j < MAX_CPORTS && app_ports[p->app][j].name; j++) {
        const struct cport *cp = &app_ports[p->app][j];
        fprintf(f, "%s{\"name\":\"%s\",\"containerPort\":%d,"
                "\"protocol\":\"%s\"}", j ? "," : "", cp->name, cp->port,
                proto_names[cp->proto]);
    }
    fprintf(f, "]}]},\"status\":{\"phase\":\"Running\",\"podIP\":\"%s\","
            "\"podIPs\":[{\"ip\":\"%s\"}]}}", ip_str(p->ip), ip_str(p->ip));
}

static void
put_peer(FILE *f, const struct peer *p)
{
    fputc('{', f);
    if (p->ipblock) {
        fprintf(f, "\"ipBlock\":{\"cidr\":\"%s/%d\"", ip_str(p->cidr),
                p->plen);
        if (p->n_except) {
            fprintf(f, ",\"except\":[");
            for (int i = 0; i < p->n_except; i++) {
                fprintf(f, "%s\"%s/%d\"", i ? "," : "",
                        ip_str(p->except[i]), p->except_plen[i]);
            }
            fputc(']', f);
        }
        fputc('}', f);
    }
    if (p->has_ns_sel) {
        fprintf(f, "\"namespaceSelector\":");
        put_sel(f, &p->ns_sel);
    }
    if (p->has_pod_sel) {
        fprintf(f, "%s\"podSelector\":", p->has_ns_sel ? "," : "");
        put_sel(f, &p->pod_sel);
    }
    fputc('}', f);
}

static void
put_rules(FILE *f, const char *key, const char *peers_key,
          const struct rule *rules, int n)
{
    fprintf(f, ",\"%s\":[", key);
    for (int i = 0; i < n; i++) {
        const struct rule *r = &rules[i];
        bool comma = false;
        fprintf(f, "%s{", i ? "," : "");
        if (r->n_peers) {
            fprintf(f, "\"%s\":[", peers_key);
            for (int j = 0; j < r->n_peers; j++) {
                if (j) {
                    fputc(',', f);
                }
                put_peer(f, &r->peers[j]);
            }
            fputc(']', f);
            comma = true;
        }
        if (r->n_ports) {
            fprintf(f, "%s\"ports\":[", comma ? "," : "");
            for (int j = 0; j < r->n_ports; j++) {
                const struct pport *pp = &r->ports[j];
                fprintf(f, "%s{\"protocol\":\"%s\"", j ? "," : "",
                        proto_names[pp->proto]);
                if (pp->name) {
                    fprintf(f, ",\"port\":\"%s\"", pp->name);
                } else if (pp->port) {
                    fprintf(f, ",\"port\":%d", pp->port);
                }
                if (pp->end_port) {
                    fprintf(f, ",\"endPort\":%d", pp->end_port);
                }
                fputc('}', f);
            }
            fputc(']', f);
        }
        fputc('}', f);
    }
    fputc(']', f);
}

static void
put_policy(FILE *f, const struct world *w, int i)
{
    const struct policy *np = &w->pols[i];

    fprintf(f, "{\"apiVersion\":\"networking.k8s.io/v1\","
            "\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"%s\","
            "\"namespace\":\"%s\",\"uid\":\"np-%08d\","
            "\"resourceVersion\":\"%d\"},\"spec\":{\"podSelector\":",
            np->name, w->nss[np->ns].name, np->serial, np->version);
    put_sel(f, &np->target);
    fprintf(f, ",\"policyTypes\":[%s%s%s]",
            np->ingress ? "\"Ingress\"" : "",
            np->ingress && np->egress ? "," : "",
            np->egress ? "\"Egress\"" : "");
    if (np->n_in) {
        put_rules(f, "ingress", "from", np->in, np->n_in);
    }
    if (np->n_eg) {
        put_rules(f, "egress", "to", np->eg, np->n_eg);
    }
    fprintf(f, "}}");
}

static FILE *
open_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fatal("%s: %s", path, strerror(errno));
    }
    return f;
}

static void
close_out(FILE *f)
{
    if (ferror(f) || fclose(f)) {
        fatal("write error: %s", strerror(errno));
    }
}

typedef void put_fn(FILE *, const struct world *, int);

/* Writes the objects 'put' formats, except those with files of their own
 * ('files[i]' nonzero), as v1 Lists of at most 'per_file' objects into
 * files named PREFIX-NNN.json. */
static void
write_lists(const char *dir, const char *prefix, const struct world *w,
            put_fn *put, int n, const int *files, int per_file)
{
    FILE *f = NULL;
    int n_in_file = 0, n_files = 0;

    for (int i = 0; i < n; i++) {
        if (files && files[i]) {
            continue;
        }
        if (!f) {
            char name[64];
            snprintf(name, sizeof name, "%s-%03d.json", prefix, n_files++);
            f = open_out(dir, name);
            fprintf(f, "{\"apiVersion\":\"v1\",\"kind\":\"List\","
                    "\"items\":[\n");
        }
        fprintf(f, "%s", n_in_file ? ",\n" : "");
        put(f, w, i);
        if (++n_in_file >= per_file) {
            fprintf(f, "\n]}\n");
            close_out(f);
            f = NULL;
            n_in_file = 0;
        }
    }
    if (f) {
        fprintf(f, "\n]}\n");
        close_out(f);
    }
}

static void
pod_file_name(const struct world *w, int i, char *buf, size_t size)
{
    const struct pod *p = &w->pods[i];
    snprintf(buf, size, "3%d-pod-%s-%s.json", p->local_idx >= 0,
             w->nss[p->ns].name, p->name);
}

static void
policy_file_name(const struct world *w, int i, char *buf, size_t size)
{
    const struct policy *np = &w->pols[i];
    snprintf(buf, size, "40-np-%s-%s.json", w->nss[np->ns].name, np->name);
}

static void
write_object(const char *dir, const char *name, const struct world *w,
             put_fn *put, int i)
{
    FILE *f = open_out(dir, name);
    put(f, w, i);
    fputc('\n', f);
    close_out(f);
}

/* Bounds. */

struct bounds {
    uint64_t ideal, ideal_shared, naive;
    uint64_t rules, rules_compiled, policies_compiled;
    uint64_t peers, targets, port_matches, actions;
    uint64_t isolation;
};

/* Appends to 'out' (as "ADDR/PLEN" strings) the CIDRs covering
 * 'cidr'/'plen' minus every except. */
static void
cidr_subtract(uint32_t cidr, int plen, const struct peer *p,
              char ***out, size_t *n)
{
    bool split = false;
    for (int i = 0; i < p->n_except; i++) {
        int ep = p->except_plen[i];
        uint32_t emask = ep ? ~UINT32_C(0) << (32 - ep) : 0;
        uint32_t mask = plen ? ~UINT32_C(0) << (32 - plen) : 0;
        if (ep <= plen && (cidr & emask) == (p->except[i] & emask)) {
            return;             /* Entirely excepted. */
        }
        if (ep > plen && (p->except[i] & mask) == (cidr & mask)) {
            split = true;
        }
    }
    if (!split) {
        *out = xrealloc_(*out, (*n + 1) * sizeof **out);
        char buf[32];
        snprintf(buf, sizeof buf, "%s/%d", ip_str(cidr), plen);
        (*out)[(*n)++] = strdup(buf);
        return;
    }
    cidr_subtract(cidr, plen + 1, p, out, n);
    cidr_subtract(cidr | (UINT32_C(1) << (31 - plen)), plen + 1, p, out, n);
}

/* A set of strings, for counting distinct matches. */
struct strset {
    char **v;
    size_t n, allocated;
};

static bool
strset_add(struct strset *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!strcmp(s->v[i], x)) {
            return false;
        }
    }
    if (s->n >= s->allocated) {
        s->allocated = s->allocated * 2 + 8;
        s->v = xrealloc_(s->v, s->allocated * sizeof *s->v);
    }
    s->v[s->n++] = strdup(x);
    return true;
}

static void
strset_clear(struct strset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i]);
    }
    s->n = 0;
}

/* Appends to 'out' the rule's L4 matches for a target that resolves named
 * ports as 'app' (numeric ports only if 'app' < 0, named ones only
 * otherwise), as "PROTO:VALUE/MASK" strings. */
static void
rule_l4s(const struct rule *r, int app, struct strset *out)
{
    char buf[48];
    for (int i = 0; i < r->n_ports; i++) {
        const struct pport *pp = &r->ports[i];
        int proto = proto_numbers[pp->proto];
        if (pp->name) {
            for (int j = 0; app >= 0 && j < MAX_CPORTS; j++) {
                const struct cport *cp = &app_ports[app][j];
                if (cp->name && !strcmp(cp->name, pp->name)
                    && cp->proto == pp->proto) {
                    snprintf(buf, sizeof buf, "%d:%d/0xffff", proto,
                             cp->port);
                    strset_add(out, buf);
                }
            }
        } else if (app >= 0) {
            continue;
        } else if (!pp->port) {
            snprintf(buf, sizeof buf, "%d:0/0", proto);
            strset_add(out, buf);
        } else if (pp->end_port > pp->port) {
            /* Split the range into aligned power-of-two blocks. */
            uint32_t start = pp->port, end = pp->end_port;
            while (start <= end) {
                uint32_t size = start ? start & -start : 0x10000;
                while (start + size - 1 > end) {
                    size >>= 1;
                }
                snprintf(buf, sizeof buf, "%d:%u/%#x", proto, start,
                         (unsigned int) (0xffff & ~(size - 1)));
                strset_add(out, buf);
                start += size;
            }
        } else {
            snprintf(buf, sizeof buf, "%d:%d/0xffff", proto, pp->port);
            strset_add(out, buf);
        }
    }
}

static void
rule_peers(const struct world *w, const struct policy *np,
           const struct rule *r, struct strset *out)
{
    for (int i = 0; i < r->n_peers; i++) {
        const struct peer *p = &r->peers[i];
        if (p->ipblock) {
            char **cidrs = NULL;
            size_t n = 0;
            cidr_subtract(p->cidr, p->plen, p, &cidrs, &n);
            for (size_t j = 0; j < n; j++) {
                strset_add(out, cidrs[j]);
                free(cidrs[j]);
            }
            free(cidrs);
            continue;
        }
        for (int k = 0; k < w->n_pods; k++) {
            const struct pod *pod = &w->pods[k];
            if (!pod->live
                || (p->has_ns_sel
                    ? !sel_matches_ns(&p->ns_sel, &w->nss[pod->ns])
                    : pod->ns != np->ns)
                || (p->has_pod_sel
                    && !sel_matches_pod(w, &p->pod_sel, pod))) {
                continue;
            }
            char buf[32];
            snprintf(buf, sizeof buf, "%s/32", ip_str(pod->ip));
            strset_add(out, buf);
        }
    }
}

/* Counts one conjunction of 'n_peers' (-1: every peer), 'n_targets' and
 * 'n_l4s' (-1: every port). */
static void
bounds_conj(struct bounds *b, long n_peers, long n_targets, long n_l4s)
{
    if (!n_peers || !n_targets || !n_l4s) {
        return;
    }
    int dims = 1 + (n_peers > 0) + (n_l4s > 0);
    b->rules_compiled++;
    b->ideal += (n_peers > 0 ? n_peers : 0) + n_targets
                + (n_l4s > 0 ? n_l4s : 0) + (dims > 1);
    b->peers += n_peers > 0 ? n_peers : 0;
    b->targets += n_targets;
    b->port_matches += n_l4s > 0 ? n_l4s : 0;
    b->actions += dims > 1;
    b->naive += ((uint64_t) (n_peers > 0 ? n_peers : 1) * n_targets
                 * (n_l4s > 0 ? n_l4s : 1));
}

static void
world_bounds(const struct world *w, struct bounds *b)
{
    struct strset peers = { 0 }, l4s = { 0 };
    struct strset sh_peers = { 0 }, sh_targets = { 0 }, sh_l4s = { 0 };
    bool *in_iso = xcalloc_(w->n_pods, sizeof *in_iso);
    bool *eg_iso = xcalloc_(w->n_pods, sizeof *eg_iso);
    int *targets = xcalloc_(w->n_local + 1, sizeof *targets);

    memset(b, 0, sizeof *b);
    for (int i = 0; i < w->n_pols; i++) {
        const struct policy *np = &w->pols[i];
        int n_targets = 0;

        if (!np->live) {
            continue;
        }
        for (int k = 0; k < w->n_pods; k++) {
            const struct pod *pod = &w->pods[k];
            if (pod->live && pod->local_idx >= 0 && pod->ns == np->ns
                && sel_matches_pod(w, &np->target, pod)) {
                targets[n_targets++] = k;
                in_iso[k] |= np->ingress;
                eg_iso[k] |= np->egress;
            }
        }
        if (!n_targets) {
            continue;
        }
        b->policies_compiled++;

        for (int dir = 0; dir < 2; dir++) {
            const struct rule *rules = dir ? np->eg : np->in;
            int n_rules = (dir ? np->egress : np->ingress)
                          ? (dir ? np->n_eg : np->n_in) : 0;
            uint64_t sh_actions = 0;

            strset_clear(&sh_peers);
            strset_clear(&sh_targets);
            strset_clear(&sh_l4s);
            for (int ri = 0; ri < n_rules; ri++) {
                const struct rule *r = &rules[ri];
                bool named = false;
                uint64_t before = b->actions;

                b->rules++;
                strset_clear(&peers);
                rule_peers(w, np, r, &peers);
                for (int j = 0; j < r->n_ports; j++) {
                    named |= r->ports[j].name != NULL;
                }
                if (named && dir) {
                    fatal("egress named ports are not generated");
                }
                long n_peers = r->n_peers ? (long) peers.n : -1;

                /* The group of numeric ports, with every target. */
                strset_clear(&l4s);
                rule_l4s(r, -1, &l4s);
                if (!r->n_ports || l4s.n) {
                    bounds_conj(b, n_peers, n_targets,
                                r->n_ports ? (long) l4s.n : -1);
                    for (size_t j = 0; j < l4s.n; j++) {
                        strset_add(&sh_l4s, l4s.v[j]);
                    }
                }

                /* Groups of targets that resolve named ports alike (a
                 * target resolves them by its application's container
                 * ports; applications that resolve alike share a group). */
                char *gkeys[N_APPS];
                long gsize[N_APPS];
                int gapp[N_APPS], n_groups = 0;
                for (int app = 0; named && app < N_APPS; app++) {
                    long n = 0;
                    for (int t = 0; t < n_targets; t++) {
                        n += w->pods[targets[t]].app == (enum app) app;
                    }
                    strset_clear(&l4s);
                    rule_l4s(r, app, &l4s);
                    if (!n || !l4s.n) {
                        continue;
                    }
                    size_t len = 1;
                    for (size_t j = 0; j < l4s.n; j++) {
                        len += strlen(l4s.v[j]) + 1;
                    }
                    char *gk = xcalloc_(len, 1);
                    for (size_t j = 0; j < l4s.n; j++) {
                        strcat(strcat(gk, l4s.v[j]), ",");
                    }
                    int g;
                    for (g = 0; g < n_groups; g++) {
                        if (!strcmp(gkeys[g], gk)) {
                            break;
                        }
                    }
                    if (g < n_groups) {
                        gsize[g] += n;
                        free(gk);
                    } else {
                        gkeys[n_groups] = gk;
                        gsize[n_groups] = n;
                        gapp[n_groups++] = app;
                    }
                }
                for (int g = 0; g < n_groups; g++) {
                    strset_clear(&l4s);
                    rule_l4s(r, gapp[g], &l4s);
                    bounds_conj(b, n_peers, gsize[g], l4s.n);
                    for (size_t j = 0; j < l4s.n; j++) {
                        strset_add(&sh_l4s, l4s.v[j]);
                    }
                    free(gkeys[g]);
                }
                if (b->actions != before || !r->n_peers || !r->n_ports) {
                    for (size_t j = 0; r->n_peers && j < peers.n; j++) {
                        strset_add(&sh_peers, peers.v[j]);
                    }
                    for (int t = 0; t < n_targets; t++) {
                        char buf[16];
                        snprintf(buf, sizeof buf, "%d", targets[t]);
                        strset_add(&sh_targets, buf);
                    }
                }
                sh_actions += b->actions - before;
            }
            b->ideal_shared += (sh_peers.n + sh_targets.n + sh_l4s.n
                                + sh_actions);
        }
    }
    for (int k = 0; k < w->n_pods; k++) {
        b->isolation += in_iso[k] + eg_iso[k];
    }
    strset_clear(&peers);
    strset_clear(&l4s);
    strset_clear(&sh_peers);
    strset_clear(&sh_targets);
    strset_clear(&sh_l4s);
    free(peers.v);
    free(l4s.v);
    free(sh_peers.v);
    free(sh_targets.v);
    free(sh_l4s.v);
    free(in_iso);
    free(eg_iso);
    free(targets);
}

/* The churn stream. */

enum ev_kind {
    EV_POD_ADD, EV_POD_DELETE, EV_POD_RELABEL, EV_LOCAL_RELABEL,
    EV_NP_ADD, EV_NP_UPDATE, EV_NP_DELETE,
    N_EV_KINDS
};
static const char *const ev_names[N_EV_KINDS] = {
    "pod-add", "pod-delete", "pod-relabel", "local-relabel", "np-add",
    "np-update", "np-delete",
};

/* Picks 'n' distinct pods (by index) that satisfy 'local' and live in a
 * namespace with local pods, other than those already given a file;
 * marks them with their own files. */
static int
pick_pods(struct world *w, bool local, int n, int *out)
{
    int found = 0;
    for (int tries = 0; found < n && tries < 100000; tries++) {
        int i = rnd(w->n_pods);
        struct pod *p = &w->pods[i];
        if (p->file || (p->local_idx >= 0) != local
            || !w->nss[p->ns].n_local || p->app >= N_PLAIN_APPS) {
            continue;
        }
        p->file = 1;
        out[found++] = i;
    }
    return found;
}

static int
pick_policies(struct world *w, int n, int *out)
{
    int found = 0;
    for (int tries = 0; found < n && tries < 100000; tries++) {
        int i = rnd(w->n_pols);
        struct policy *np = &w->pols[i];
        if (np->file || !w->nss[np->ns].n_local || !np->n_in
            || !np->in[0].n_ports || np->in[0].ports[0].name) {
            continue;
        }
        np->file = 1;
        out[found++] = i;
    }
    return found;
}

static int
pick_local_ns(const struct world *w)
{
    for (;;) {
        int ns = rnd(w->n_ns);
        if (w->nss[ns].n_local) {
            return ns;
        }
    }
}

struct churn {
    const char *dir;
    FILE *events;
    int seq;
};

static void
churn_write(struct churn *c, const struct world *w, enum ev_kind kind,
            const char *file, put_fn *put, int i, const struct pod *pod)
{
    char src[32];
    snprintf(src, sizeof src, "%03d.json", c->seq);
    write_object(c->dir, src, w, put, i);
    fprintf(c->events, "%d %s write %s %s %s\n", c->seq++, ev_names[kind],
            file, src, pod ? ip_str(pod->ip) : "-");
}

static void
churn_rm(struct churn *c, enum ev_kind kind, const char *file,
         const struct pod *pod)
{
    fprintf(c->events, "%d %s rm %s - %s\n", c->seq++, ev_names[kind], file,
            pod ? ip_str(pod->ip) : "-");
}

/* Plans the churn stream: marks the objects it changes (which then get
 * files of their own), and returns the plan in the arrays. */
struct plan {
    int n;
    int *del_pods, *relabel_pods, *local_pods, *upd_pols, *del_pols;
    int n_del_pods, n_relabel_pods, n_local_pods, n_upd_pols, n_del_pols;
};

static void
plan_churn(struct world *w, int n, struct plan *pl)
{
    pl->n = n;
    pl->del_pods = xcalloc_(n, sizeof(int));
    pl->relabel_pods = xcalloc_(n, sizeof(int));
    pl->local_pods = xcalloc_(n, sizeof(int));
    pl->upd_pols = xcalloc_(n, sizeof(int));
    pl->del_pols = xcalloc_(n, sizeof(int));
    pl->n_del_pods = pick_pods(w, false, n, pl->del_pods);
    pl->n_relabel_pods = pick_pods(w, false, n, pl->relabel_pods);
    pl->n_local_pods = pick_pods(w, true, n, pl->local_pods);
    pl->n_upd_pols = pick_policies(w, n, pl->upd_pols);
    pl->n_del_pols = pick_policies(w, n, pl->del_pols);
}

static void
write_churn(struct world *w, const struct plan *pl, const char *dir)
{
    char path[4200], file[256];
    struct churn c = { .dir = dir };

    snprintf(path, sizeof path, "%s/events", dir);
    c.events = fopen(path, "w");
    if (!c.events) {
        fatal("%s: %s", path, strerror(errno));
    }

    for (int round = 0; round < pl->n; round++) {
        for (int kind = 0; kind < N_EV_KINDS; kind++) {
            int i;
            struct pod *p;
            struct policy *np;

            switch ((enum ev_kind) kind) {
            case EV_POD_ADD:
                /* A new frontend pod on a new node, in a namespace that
                 * has local pods (so same-namespace allows name it). */
                p = world_add_pod(w, pick_local_ns(w), APP_FRONTEND);
                p->node = w->next_remote_node;
                p->ip = node_ip(p->node, w->next_node_slot++);
                p->file = 1;
                i = w->n_pods - 1;
                pod_file_name(w, i, file, sizeof file);
                churn_write(&c, w, kind, file, put_pod, i, p);
                break;
            case EV_POD_DELETE:
                if (round >= pl->n_del_pods) {
                    continue;
                }
                i = pl->del_pods[round];
                w->pods[i].live = false;
                pod_file_name(w, i, file, sizeof file);
                churn_rm(&c, kind, file, &w->pods[i]);
                break;
            case EV_POD_RELABEL:
            case EV_LOCAL_RELABEL:
                if (kind == EV_POD_RELABEL ? round >= pl->n_relabel_pods
                    : round >= pl->n_local_pods) {
                    continue;
                }
                i = (kind == EV_POD_RELABEL ? pl->relabel_pods
                     : pl->local_pods)[round];
                p = &w->pods[i];
                p->app = (p->app + 1) % N_PLAIN_APPS;
                p->version++;
                pod_file_name(w, i, file, sizeof file);
                churn_write(&c, w, kind, file, put_pod, i, p);
                break;
            case EV_NP_ADD: {
                char name[64];
                snprintf(name, sizeof name, "churn-%d", c.seq);
                np = world_add_policy(w, pick_local_ns(w), name);
                np->file = 1;
                sel_add(&np->target, "app", app_names[rnd(N_PLAIN_APPS)]);
                np->ingress = true;
                struct rule *r = &np->in[np->n_in++];
                peer_pod_app(rule_peer(r), rnd(N_PLAIN_APPS));
                rule_port(r, P_TCP, 8000 + c.seq, 0, NULL);
                i = w->n_pols - 1;
                policy_file_name(w, i, file, sizeof file);
                churn_write(&c, w, kind, file, put_policy, i, NULL);
                break;
            }
            case EV_NP_UPDATE:
                if (round >= pl->n_upd_pols) {
                    continue;
                }
                i = pl->upd_pols[round];
                np = &w->pols[i];
                np->version++;
                np->in[0].ports[0].port++;
                policy_file_name(w, i, file, sizeof file);
                churn_write(&c, w, kind, file, put_policy, i, NULL);
                break;
            case EV_NP_DELETE:
                if (round >= pl->n_del_pols) {
                    continue;
                }
                i = pl->del_pols[round];
                w->pols[i].live = false;
                policy_file_name(w, i, file, sizeof file);
                churn_rm(&c, kind, file, NULL);
                break;
            case N_EV_KINDS:
            default:
                abort();
            }
        }
    }
    close_out(c.events);
}

static void
make_dir(const char *dir)
{
    if (mkdir(dir, 0755) && errno != EEXIST) {
        fatal("%s: %s", dir, strerror(errno));
    }
}

static long long int
wall_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int
apply_event(int argc, char *argv[])
{
    char path[4096], tmp[4096], src[4096];

    if (argc != 7) {
        fatal("usage: apply DIR MANIFEST-DIR OP FILE SOURCE");
    }
    const char *dir = argv[2], *mdir = argv[3], *op = argv[4];
    const char *file = argv[5], *source = argv[6];
    snprintf(path, sizeof path, "%s/%s", mdir, file);
    if (!strcmp(op, "rm")) {
        long long int t0 = wall_usec();
        if (unlink(path)) {
            fatal("%s: %s", path, strerror(errno));
        }
        printf("%lld\n", t0);
        return 0;
    } else if (strcmp(op, "write")) {
        fatal("%s: unknown operation", op);
    }

    snprintf(src, sizeof src, "%s/churn/%s", dir, source);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", mdir, file);
    FILE *in = fopen(src, "r");
    if (!in) {
        fatal("%s: %s", src, strerror(errno));
    }
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fatal("%s: %s", tmp, strerror(errno));
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        fwrite(buf, 1, n, out);
    }
    fclose(in);
    close_out(out);

    long long int t0 = wall_usec();
    if (rename(tmp, path)) {
        fatal("%s: %s", path, strerror(errno));
    }
    printf("%lld\n", t0);
    return 0;
}

int
main(int argc, char *argv[])
{
    static const struct {
        const char *name;
        int pods, policies;
    } presets[] = {
        { "small", 110, 50 },
        { "medium", 1000, 200 },
        { "large", 10000, 1000 },
        { "xlarge", 50000, 5000 },
    };
    int n_pods = 0, n_pols = 0, n_churn = 10;

    if (argc > 1 && !strcmp(argv[1], "apply")) {
        return apply_event(argc, argv);
    }
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s PRESET|custom:PODS:POLICIES SEED DIR "
                "[N-CHURN]\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
        if (!strcmp(argv[1], presets[i].name)) {
            n_pods = presets[i].pods;
            n_pols = presets[i].policies;
        }
    }
    if (!n_pods && sscanf(argv[1], "custom:%d:%d", &n_pods, &n_pols) != 2) {
        fatal("%s: unknown preset", argv[1]);
    }
    if (n_pods < NODE_PODS || n_pols < 10) {
        fatal("at least %d pods and 10 policies", NODE_PODS);
    }
    rng_state = strtoull(argv[2], NULL, 0);
    if (argc > 4) {
        n_churn = atoi(argv[4]);
    }

    const char *dir = argv[3];
    char mdir[4096], cdir[4096], file[256];
    snprintf(mdir, sizeof mdir, "%s/manifests", dir);
    snprintf(cdir, sizeof cdir, "%s/churn", dir);
    make_dir(dir);
    make_dir(mdir);
    make_dir(cdir);

    struct world w = { 0 };
    world_build(&w, n_pods, n_pols);

    struct plan plan;
    plan_churn(&w, n_churn, &plan);

    /* The initial world. */
    struct bounds b;
    world_bounds(&w, &b);
    write_lists(mdir, "00-namespaces", &w, put_namespace, w.n_ns, NULL,
                INT32_MAX);
    int *pod_files = xcalloc_(w.n_pods, sizeof *pod_files);
    for (int i = 0; i < w.n_pods; i++) {
        pod_files[i] = w.pods[i].file;
        if (pod_files[i]) {
            pod_file_name(&w, i, file, sizeof file);
            write_object(mdir, file, &w, put_pod, i);
        }
    }
    write_lists(mdir, "10-pods", &w, put_pod, w.n_pods, pod_files, 1000);
    int *pol_files = xcalloc_(w.n_pols, sizeof *pol_files);
    for (int i = 0; i < w.n_pols; i++) {
        pol_files[i] = w.pols[i].file;
        if (pol_files[i]) {
            policy_file_name(&w, i, file, sizeof file);
            write_object(mdir, file, &w, put_policy, i);
        }
    }
    write_lists(mdir, "20-policies", &w, put_policy, w.n_pols, pol_files,
                500);

    FILE *f = open_out(dir, "ports");
    for (int i = 0; i < w.n_pods; i++) {
        const struct pod *p = &w.pods[i];
        if (p->local_idx >= 0) {
            fprintf(f, "bp%d 02:00:00:00:%02x:%02x %s %s %s\n", p->local_idx,
                    (p->local_idx >> 8) & 255, p->local_idx & 255,
                    w.nss[p->ns].name, p->name, ip_str(p->ip));
        }
    }
    close_out(f);

    f = open_out(dir, "bounds");
    fprintf(f, "namespaces %d\npods %d\nlocal_pods %d\npolicies %d\n"
            "policies_compiled %"PRIu64"\nrules %"PRIu64"\n"
            "conjunctions %"PRIu64"\npeer_flows %"PRIu64"\n"
            "target_flows %"PRIu64"\nport_flows %"PRIu64"\n"
            "action_flows %"PRIu64"\nideal %"PRIu64"\n"
            "ideal_shared %"PRIu64"\nnaive %"PRIu64"\n"
            "isolation %"PRIu64"\n",
            w.n_ns, w.n_pods, w.n_local, w.n_pols, b.policies_compiled,
            b.rules, b.rules_compiled, b.peers, b.targets, b.port_matches,
            b.actions, b.ideal, b.ideal_shared, b.naive, b.isolation);
    close_out(f);

    /* The churn stream changes 'w': last. */
    write_churn(&w, &plan, cdir);
    return 0;
}
