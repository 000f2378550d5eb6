/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* The incremental compiler (npol_compiler_run()) against full compiles
 * (npol_compile()): after every step of random change sequences, the flows
 * it leaves must be the very flows a fresh compile of the same input gives,
 * and its problems the same lines.  Plus a few fixed scenarios: priority and
 * conjunction id collisions, which make one policy's flows depend on
 * another's, and the statistics that show it really is incremental.
 *
 * Environment, for chasing a failure: NPI_SEED=n runs that seed only,
 * NPI_SEEDS and NPI_STEPS change how many, NPI_VERBOSE=1 prints every
 * change. */

#include <config.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/flow-set.h"
#include "lib/k8s-cache.h"
#include "lib/k8s-parse.h"
#include "lib/npol-compile.h"
#include "tests/unit/npol-world.h"
#include "lib/portmap.h"
#include "netpol/pipeline.h"
#include "tests/common/np-rand.h"
#include "flow.h"
#include "hash.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "sset.h"
#include "svec.h"
#include "util.h"

/* ---------------------------------------------------------------------- */
/* The world: a model of every object, from which the cache and the port
 * map are written. */

#define N_NS 4                  /* Namespaces ns0...ns3. */
#define N_PODS 20               /* Pod slots: p<i> in ns<i % N_NS>. */
#define N_POLS 12               /* Policy slots: np<j> in ns<j % N_NS>. */

static const char *const app_values[] = { "a", "b", "c" };
static const char *const role_values[] = { "x", "y" };
static const char *const team_values[] = { "x", "y" };
static const char *const env_values[] = { "prod", "dev" };

/* Named (and one unnamed) container ports a pod may have: the same name
 * with other numbers and protocols, so that named ports resolve
 * differently from pod to pod. */
static const char *const cport_texts[] = {
    "{name: http, containerPort: 80}",
    "{name: http, containerPort: 8080, protocol: TCP}",
    "{name: dns, containerPort: 53, protocol: UDP}",
    "{name: metrics, containerPort: 9090}",
    "{name: web, containerPort: 8081}",
    "{name: http, containerPort: 8000, protocol: UDP}",
    "{containerPort: 7000}",
};

enum m_phase { PH_RUNNING, PH_PENDING, PH_SUCCEEDED, PH_FAILED };
static const char *const phase_names[] = {
    "Running", "Pending", "Succeeded", "Failed",
};

struct m_ns {
    bool exists;
    int team, env;              /* Value indexes, -1 if no such label. */
};

struct m_pod {
    bool exists;
    unsigned int uid;
    int app, role;              /* Value indexes, -1 if no such label. */
    bool local;                 /* On node1, else node2. */
    bool host_network;
    enum m_phase phase;
    char ips[2][48];
    int n_ips;
    unsigned int cports;        /* Bitmap of 'cport_texts'. */

    /* The pod's OVS port, which may exist without the pod. */
    bool has_port;
    int ofport;
    int iface;                  /* Its name is "veth<iface>". */
    struct eth_addr mac;
};

struct m_pol {
    bool exists;
    char uid[32];
    char *spec;                 /* YAML of the spec, a flow mapping. */
    bool invalid;               /* Made to fail to parse. */
};

struct sim {
    struct kcache *cache;
    struct portmap ports;
    struct m_ns ns[N_NS];
    struct m_pod pods[N_PODS];
    struct m_pol pols[N_POLS];
    bool ports_changed;

    /* Node settings. */
    bool reeval;
    int gw_mode;                /* 0: v4 address, 1: v4 + v6, 2: none. */
    struct k8s_cidr *gw_ips;
    size_t n_gw_ips;
    ofp_port_t gw_ofport;
    struct eth_addr gw_mac;

    unsigned int n_ips_made;    /* For unique pod addresses. */
    unsigned int n_uids;
    int next_ofport;
    bool *pool_used;            /* Which of 'uid_pool' are taken. */

    bool expect_full;           /* This step must recompile everything. */
    char *last_settings;        /* sim_settings_string() at the last run. */
    bool port_problems;         /* The last run had problems with ports, */
    bool policy_problems;       /* ...with policies. */
    size_t *op_counts;          /* Ops done, by enum op (see below). */
    size_t *own_op_counts;
    bool verbose;
    struct ds log;              /* Changes of the current step. */
};

/* Policy uids whose priority slots (hash % range) all fall in a window of
 * a few slots, so that the policies that use them probe past each other
 * and shift when one comes or goes. */
#define POOL_SIZE 160
#define POOL_WINDOW 6
static char *uid_pool[POOL_SIZE];

static uint32_t
pri_slot(const char *uid)
{
    return hash_string(uid, 0) % (NP_PRI_POLICY_MAX - NP_PRI_POLICY_MIN + 1);
}

/* Stores in 'uids' 'n' uids "<prefix><number>" whose priority slots lie in
 * [slot, slot + width). */
static void
find_uids_in_slots(const char *prefix, uint32_t slot, uint32_t width,
                   size_t n, char **uids)
{
    size_t found = 0;

    for (uint32_t i = 0; found < n; i++) {
        char *uid = xasprintf("%s%07"PRIu32, prefix, i);
        if (pri_slot(uid) - slot < width) {
            uids[found++] = uid;
        } else {
            free(uid);
        }
    }
}

static void
build_uid_pool(void)
{
    if (!uid_pool[0]) {
        find_uids_in_slots("c", 30000, POOL_WINDOW, POOL_SIZE, uid_pool);
    }
}

/* Adds a line (or several: YAML) to the log of the current step. */
static void OVS_PRINTF_FORMAT(2, 3)
sim_log(struct sim *s, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *text = xvasprintf(format, args);
    va_end(args);

    ds_put_cstr(&s->log, "    ");
    for (const char *p = text; *p; p++) {
        if (*p != '\n') {
            ds_put_char(&s->log, *p);
        } else if (p[1]) {
            ds_put_cstr(&s->log, "\n      ");
        }
    }
    ds_put_char(&s->log, '\n');
    free(text);
}

/* Enters the objects of YAML 'text' into 'cache'.  Only an object made to
 * be invalid ('may_fail') may be rejected (and is still stored, failing
 * closed, if it is a policy). */
static void
load_into(struct kcache *cache, const char *text, bool may_fail)
{
    struct svec errors = SVEC_EMPTY_INITIALIZER;
    npol_cache_load_text(cache, text, may_fail ? &errors : NULL);
    svec_destroy(&errors);
}

static void
sim_load(struct sim *s, const char *text, bool may_fail)
{
    sim_log(s, "put %s", text);
    load_into(s->cache, text, may_fail);
}

static void
sim_remove(struct sim *s, enum k8s_kind kind, const char *ns,
           const char *name)
{
    sim_log(s, "remove %s %s%s%s", (kind == K8S_KIND_NAMESPACE ? "Namespace"
                                    : kind == K8S_KIND_POD ? "Pod"
                                    : "NetworkPolicy"),
            ns ? ns : "", ns ? "/" : "", name);
    kcache_remove(s->cache, kind, ns, name);
}

/* Namespaces. */

static void
sim_put_ns(struct sim *s, int k)
{
    const struct m_ns *m = &s->ns[k];
    struct ds t = DS_EMPTY_INITIALIZER;

    ds_put_format(&t, "kind: Namespace\nmetadata: {name: ns%d, labels: {", k);
    if (m->team >= 0) {
        ds_put_format(&t, "team: %s", team_values[m->team]);
    }
    if (m->env >= 0) {
        ds_put_format(&t, "%senv: %s", m->team >= 0 ? ", " : "",
                      env_values[m->env]);
    }
    ds_put_cstr(&t, "}}\n");
    sim_load(s, ds_cstr(&t), false);
    ds_destroy(&t);
}

static void
sim_new_ns(struct sim *s, int k)
{
    struct m_ns *m = &s->ns[k];
    m->exists = true;
    m->team = (int) rnd(3) - 1;
    m->env = (int) rnd(3) - 1;
    sim_put_ns(s, k);
}

/* Pods. */

static char *
pod_text(const struct m_pod *p, int i)
{
    struct ds t = DS_EMPTY_INITIALIZER;

    ds_put_format(&t, "kind: Pod\nmetadata: {name: p%d, namespace: ns%d, "
                  "uid: pu-%u, labels: {", i, i % N_NS, p->uid);
    if (p->app >= 0) {
        ds_put_format(&t, "app: %s", app_values[p->app]);
    }
    if (p->role >= 0) {
        ds_put_format(&t, "%srole: %s", p->app >= 0 ? ", " : "",
                      role_values[p->role]);
    }
    ds_put_format(&t, "}}\nspec: {nodeName: %s, hostNetwork: %s, "
                  "containers: [{name: c, ports: [",
                  p->local ? "node1" : "node2",
                  p->host_network ? "true" : "false");
    bool first = true;
    for (size_t j = 0; j < ARRAY_SIZE(cport_texts); j++) {
        if (p->cports & (1u << j)) {
            ds_put_format(&t, "%s%s", first ? "" : ", ", cport_texts[j]);
            first = false;
        }
    }
    ds_put_format(&t, "]}]}\nstatus: {phase: %s, podIPs: [",
                  phase_names[p->phase]);
    for (int j = 0; j < p->n_ips; j++) {
        ds_put_format(&t, "%s{ip: '%s'}", j ? ", " : "", p->ips[j]);
    }
    ds_put_cstr(&t, "]}\n");
    return ds_steal_cstr(&t);
}

static void
sim_put_pod(struct sim *s, int i)
{
    char *text = pod_text(&s->pods[i], i);
    sim_load(s, text, false);
    free(text);
}

/* Gives 'p' new addresses, unique in this world: IPv4 from 10.244.0.0/22
 * (inside and outside the ipBlocks of the policies) or 10.250.0.0/16,
 * and/or IPv6 from fd00::/64 (the first few inside an except). */
static void
sim_new_ips(struct sim *s, struct m_pod *p)
{
    unsigned int c = s->n_ips_made++;
    unsigned int family = rnd(10);

    p->n_ips = 0;
    if (family < 9) {
        if (!rnd(6)) {
            snprintf(p->ips[p->n_ips++], sizeof p->ips[0], "10.250.%u.%u",
                     c / 200 % 250, 10 + c % 200);
        } else {
            snprintf(p->ips[p->n_ips++], sizeof p->ips[0], "10.244.%u.%u",
                     c % 4, 10 + c / 4 % 200);
        }
    }
    if (family >= 7) {
        snprintf(p->ips[p->n_ips++], sizeof p->ips[0], "fd00::%x", c + 2);
    }
}

static struct eth_addr
random_mac(void)
{
    if (!rnd(8)) {
        return eth_addr_zero;   /* "no MAC in external_ids": a problem. */
    }
    struct eth_addr mac = ETH_ADDR_C(0a,00,00,00,00,00);
    mac.ea[4] = rnd(256);
    mac.ea[5] = rnd(256);
    return mac;
}

static void
sim_port_add(struct sim *s, int i)
{
    struct m_pod *p = &s->pods[i];
    p->has_port = true;
    p->ofport = s->next_ofport++;
    p->iface = p->ofport;
    p->mac = random_mac();
    s->ports_changed = true;
    sim_log(s, "port ns%d/p%d: veth%d ofport %d mac "ETH_ADDR_FMT,
            i % N_NS, i, p->iface, p->ofport, ETH_ADDR_ARGS(p->mac));
}

/* A new pod in slot 'i' (replacing any pod of that name). */
static void
sim_new_pod(struct sim *s, int i)
{
    struct m_pod *p = &s->pods[i];

    p->exists = true;
    p->uid = s->n_uids++;
    p->app = (int) rnd(4) - 1;
    p->role = (int) rnd(3) - 1;
    p->local = rnd(5) < 2;
    p->host_network = !rnd(30);
    p->phase = rnd(10) ? PH_RUNNING : (enum m_phase) rnd(4);
    sim_new_ips(s, p);
    if (p->phase == PH_PENDING && rnd(2)) {
        p->n_ips = 0;
    }
    p->cports = rnd(1u << ARRAY_SIZE(cport_texts));
    sim_put_pod(s, i);
    if (p->local && !p->has_port && rnd(5)) {
        sim_port_add(s, i);
    }
}

/* Writes the port map from the model, the way the controller does: a new
 * map swapped in if it differs (and sometimes when it does not). */
static void
sim_sync_ports(struct sim *s)
{
    struct portmap fresh;

    portmap_init(&fresh);
    for (int i = 0; i < N_PODS; i++) {
        const struct m_pod *p = &s->pods[i];
        if (p->has_port) {
            char ns[16], name[16], iface[32];
            snprintf(ns, sizeof ns, "ns%d", i % N_NS);
            snprintf(name, sizeof name, "p%d", i);
            snprintf(iface, sizeof iface, "veth%d", p->iface);
            portmap_add(&fresh, ns, name, iface, NULL,
                        u16_to_ofp(p->ofport), p->mac, NULL);
        }
    }
    if (!portmap_equal(&fresh, &s->ports) || !rnd(8)) {
        hmap_swap(&fresh.entries, &s->ports.entries);
    }
    portmap_destroy(&fresh);
    s->ports_changed = false;
}

/* Policies. */

static void
gen_pod_selector(struct ds *s)
{
    switch (rnd(9)) {
    case 0:
        ds_put_cstr(s, "{}");
        break;
    case 1: case 2:
        ds_put_format(s, "{matchLabels: {app: %s}}", app_values[rnd(3)]);
        break;
    case 3:
        ds_put_format(s, "{matchLabels: {app: %s, role: %s}}",
                      app_values[rnd(3)], role_values[rnd(2)]);
        break;
    case 4:
        ds_put_format(s, "{matchExpressions: [{key: app, operator: In, "
                      "values: [%s, %s]}]}",
                      app_values[rnd(3)], app_values[rnd(3)]);
        break;
    case 5:
        ds_put_format(s, "{matchExpressions: [{key: role, operator: NotIn, "
                      "values: [%s]}]}", role_values[rnd(2)]);
        break;
    case 6:
        ds_put_cstr(s, "{matchExpressions: [{key: role, operator: Exists}]}");
        break;
    case 7:
        ds_put_cstr(s, "{matchExpressions: [{key: role, "
                    "operator: DoesNotExist}]}");
        break;
    default:
        ds_put_format(s, "{matchLabels: {app: %s}, matchExpressions: "
                      "[{key: role, operator: In, values: [%s]}]}",
                      app_values[rnd(3)], role_values[rnd(2)]);
        break;
    }
}

static void
gen_ns_selector(struct ds *s)
{
    switch (rnd(6)) {
    case 0:
        ds_put_cstr(s, "{}");
        break;
    case 1:
        ds_put_format(s, "{matchLabels: {team: %s}}", team_values[rnd(2)]);
        break;
    case 2:
        ds_put_format(s, "{matchExpressions: [{key: env, operator: In, "
                      "values: [%s]}]}", env_values[rnd(2)]);
        break;
    case 3:
        ds_put_format(s, "{matchLabels: {kubernetes.io/metadata.name: "
                      "ns%u}}", rnd(N_NS));
        break;
    case 4:
        ds_put_cstr(s, "{matchExpressions: [{key: team, "
                    "operator: DoesNotExist}]}");
        break;
    default:
        ds_put_format(s, "{matchLabels: {team: %s, env: %s}}",
                      team_values[rnd(2)], env_values[rnd(2)]);
        break;
    }
}

static const char *const ip_blocks[] = {
    "{cidr: 10.244.0.0/16, except: [10.244.1.0/24, 10.244.0.16/28]}",
    "{cidr: 10.244.2.0/23}",
    "{cidr: 0.0.0.0/0, except: [10.244.0.0/16]}",
    "{cidr: 'fd00::/64', except: ['fd00::/124']}",
    "{cidr: '::/0'}",
    "{cidr: 10.250.0.0/16, except: [10.250.0.0/24]}",
    "{cidr: 10.244.3.17/32}",
};

static void
gen_peer(struct ds *s)
{
    switch (rnd(7)) {
    case 0: case 1:
        ds_put_cstr(s, "{podSelector: ");
        gen_pod_selector(s);
        ds_put_char(s, '}');
        break;
    case 2:
        ds_put_cstr(s, "{namespaceSelector: ");
        gen_ns_selector(s);
        ds_put_char(s, '}');
        break;
    case 3: case 4:
        ds_put_cstr(s, "{podSelector: ");
        gen_pod_selector(s);
        ds_put_cstr(s, ", namespaceSelector: ");
        gen_ns_selector(s);
        ds_put_char(s, '}');
        break;
    default:
        ds_put_format(s, "{ipBlock: %s}", ip_blocks[rnd(ARRAY_SIZE(
                                                          ip_blocks))]);
        break;
    }
}

static const char *const pol_ports[] = {
    "{port: 80}", "{port: http}", "{protocol: UDP, port: dns}",
    "{protocol: UDP, port: 53}", "{port: 8000, endPort: 8100}",
    "{protocol: SCTP}", "{port: metrics}", "{protocol: TCP, port: web}",
    "{protocol: UDP, port: http}", "{port: 9090}", "{protocol: UDP}",
    "{port: 7000, endPort: 7001}",
};

/* A rule: empty, peers only, ports only, or both; peer and port lists
 * that are empty ("from: []") mean all. */
static void
gen_rule(struct ds *s, bool ingress)
{
    unsigned int shape = rnd(8);

    ds_put_char(s, '{');
    if (shape) {
        bool peers = shape != 1;
        if (peers) {
            unsigned int n = rnd(8) ? 1 + rnd(3) : 0;
            ds_put_format(s, "%s: [", ingress ? "from" : "to");
            for (unsigned int i = 0; i < n; i++) {
                if (i) {
                    ds_put_cstr(s, ", ");
                }
                gen_peer(s);
            }
            ds_put_char(s, ']');
        }
        if (!peers || rnd(2)) {
            unsigned int n = rnd(8) ? 1 + rnd(3) : 0;
            ds_put_format(s, "%sports: [", peers ? ", " : "");
            for (unsigned int i = 0; i < n; i++) {
                ds_put_format(s, "%s%s", i ? ", " : "",
                              pol_ports[rnd(ARRAY_SIZE(pol_ports))]);
            }
            ds_put_char(s, ']');
        }
    }
    ds_put_char(s, '}');
}

/* Things that make a policy fail to parse (and fail closed). */
static const char *const bad_rules[] = {
    "{from: [{ipBlock: {cidr: 10.244.0.0/33}}]}",
    "{from: [{ipBlock: {cidr: 10.244.0.0/16, except: [10.245.0.0/24]}}]}",
    "{to: [{ipBlock: {cidr: bogus}}]}",
    "{ports: [{port: 0}]}",
};

/* A random spec: a pod selector, policyTypes (or none, for the API
 * server's defaulting), and 0-3 rules each way (or no list). */
static char *
gen_spec(bool *invalid)
{
    static const char *const types[] = {
        NULL, "[Ingress]", "[Egress]", "[Ingress, Egress]",
    };
    struct ds s = DS_EMPTY_INITIALIZER;
    const char *bad = NULL;

    *invalid = !rnd(12);
    if (*invalid) {
        bad = bad_rules[rnd(ARRAY_SIZE(bad_rules))];
    }

    ds_put_cstr(&s, "{podSelector: ");
    gen_pod_selector(&s);
    const char *type = types[rnd(ARRAY_SIZE(types))];
    if (type) {
        ds_put_format(&s, ", policyTypes: %s", type);
    }
    for (int dir = 0; dir < 2; dir++) {
        bool ingress = !dir;
        bool bad_here = bad && (ingress == (bad[1] != 't'));
        if (!rnd(4) && !bad_here) {
            continue;           /* No list at all. */
        }
        unsigned int n = rnd(4);
        ds_put_format(&s, ", %s: [", ingress ? "ingress" : "egress");
        for (unsigned int i = 0; i < n; i++) {
            if (i) {
                ds_put_cstr(&s, ", ");
            }
            gen_rule(&s, ingress);
        }
        if (bad_here) {
            ds_put_format(&s, "%s%s", n ? ", " : "", bad);
        }
        ds_put_char(&s, ']');
    }
    ds_put_char(&s, '}');
    return ds_steal_cstr(&s);
}

static void
sim_put_policy(struct sim *s, int j)
{
    const struct m_pol *m = &s->pols[j];
    char *text = xasprintf("kind: NetworkPolicy\nmetadata: {name: np%d, "
                           "namespace: ns%d%s%s}\nspec: %s\n",
                           j, j % N_NS, m->uid[0] ? ", uid: " : "", m->uid,
                           m->spec);
    sim_load(s, text, m->invalid);
    free(text);
}

/* A uid never used before in this world: often one of 'uid_pool', so that
 * priorities collide.  Sometimes none, like a manifest without one: then
 * the uid is "namespace/name", the same again when re-created. */
static void
sim_new_uid(struct sim *s, char *uid, size_t size)
{
    if (!rnd(8)) {
        uid[0] = '\0';
        return;
    }
    if (rnd(5) < 2) {
        for (int tries = 0; tries < 20; tries++) {
            size_t k = rnd(POOL_SIZE);
            if (!s->pool_used[k]) {
                s->pool_used[k] = true;
                snprintf(uid, size, "%s", uid_pool[k]);
                return;
            }
        }
    }
    snprintf(uid, size, "uid-%u", s->n_uids++);
}

static void
sim_new_spec(struct m_pol *m)
{
    free(m->spec);
    m->spec = gen_spec(&m->invalid);
}

/* ---------------------------------------------------------------------- */
/* Random changes. */

enum op {
    OP_POD_ADD, OP_POD_REMOVE, OP_POD_RELABEL, OP_POD_REIP, OP_POD_PHASE,
    OP_POD_NO_IPS, OP_POD_CPORTS, OP_POD_HOSTNET,
    OP_PORT_ADD, OP_PORT_REMOVE, OP_PORT_CHANGE,
    OP_NS_PUT, OP_NS_REMOVE,
    OP_POL_PUT, OP_POL_REMOVE, OP_POL_RECREATE,
    OP_REPUT, OP_RELIST, OP_SETTINGS,
    N_OPS
};

static const unsigned int op_weights[N_OPS] = {
    [OP_POD_ADD] = 8, [OP_POD_REMOVE] = 5, [OP_POD_RELABEL] = 10,
    [OP_POD_REIP] = 5, [OP_POD_PHASE] = 4, [OP_POD_NO_IPS] = 2,
    [OP_POD_CPORTS] = 5, [OP_POD_HOSTNET] = 1,
    [OP_PORT_ADD] = 4, [OP_PORT_REMOVE] = 3, [OP_PORT_CHANGE] = 4,
    [OP_NS_PUT] = 5, [OP_NS_REMOVE] = 2,
    [OP_POL_PUT] = 10, [OP_POL_REMOVE] = 4, [OP_POL_RECREATE] = 3,
    [OP_REPUT] = 3, [OP_RELIST] = 1, [OP_SETTINGS] = 2,
};

enum pick { PICK_EXISTS, PICK_ABSENT, PICK_PORT, PICK_NO_PORT };

/* A random pod slot that satisfies 'pick', or -1. */
static int
pick_pod(const struct sim *s, enum pick pick)
{
    int start = rnd(N_PODS);

    for (int k = 0; k < N_PODS; k++) {
        int i = (start + k) % N_PODS;
        const struct m_pod *p = &s->pods[i];
        if ((pick == PICK_EXISTS && p->exists)
            || (pick == PICK_ABSENT && !p->exists)
            || (pick == PICK_PORT && p->has_port)
            || (pick == PICK_NO_PORT && !p->has_port)) {
            return i;
        }
    }
    return -1;
}

static int
pick_policy(const struct sim *s, bool exists)
{
    int start = rnd(N_POLS);

    for (int k = 0; k < N_POLS; k++) {
        int j = (start + k) % N_POLS;
        if (s->pols[j].exists == exists) {
            return j;
        }
    }
    return -1;
}

static void
sim_set_gw_ips(struct sim *s, int mode)
{
    /* A new array every time, like the controller's. */
    free(s->gw_ips);
    s->gw_ips = xcalloc(2, sizeof *s->gw_ips);
    s->n_gw_ips = mode == 2 ? 0 : mode == 1 ? 2 : 1;
    assert_null(k8s_parse_cidr("10.244.0.1", true, &s->gw_ips[0]));
    assert_null(k8s_parse_cidr("fd00::1", true, &s->gw_ips[1]));
    s->gw_mode = mode;
}

/* The node settings, to tell whether they changed since the last run (a
 * step may change one and back). */
static char *
sim_settings_string(const struct sim *s)
{
    return xasprintf("%d %d %"PRIu16" "ETH_ADDR_FMT, s->reeval, s->gw_mode,
                     ofp_to_u16(s->gw_ofport), ETH_ADDR_ARGS(s->gw_mac));
}

static void
sim_settings(struct sim *s)
{
    switch (rnd(4)) {
    case 0:
        s->reeval = !s->reeval;
        sim_log(s, "reeval_established=%s", s->reeval ? "true" : "false");
        break;
    case 1:
        sim_set_gw_ips(s, (s->gw_mode + 1 + rnd(2)) % 3);
        sim_log(s, "gateway ips: %"PRIuSIZE, s->n_gw_ips);
        break;
    case 2:
        s->gw_ofport = (s->gw_ofport == OFPP_NONE ? u16_to_ofp(1)
                        : OFPP_NONE);
        sim_log(s, "gateway ofport %"PRIu16, ofp_to_u16(s->gw_ofport));
        break;
    default:
        s->gw_mac.ea[5] ^= 0x10;
        sim_log(s, "gateway mac "ETH_ADDR_FMT, ETH_ADDR_ARGS(s->gw_mac));
        break;
    }
}

/* Pods relisted from the API server through a staging cache, with events
 * missed before: a pod gone, one relabeled. */
static void
sim_relist(struct sim *s)
{
    int i = pick_pod(s, PICK_EXISTS);
    if (i >= 0 && rnd(2)) {
        s->pods[i].exists = false;
    }
    i = pick_pod(s, PICK_EXISTS);
    if (i >= 0) {
        s->pods[i].app = (int) rnd(4) - 1;
    }

    struct kcache *staging = kcache_create();
    for (i = 0; i < N_PODS; i++) {
        if (s->pods[i].exists) {
            char *text = pod_text(&s->pods[i], i);
            load_into(staging, text, false);
            free(text);
        }
    }
    sim_log(s, "relist pods (%"PRIuSIZE")",
            kcache_count(staging, K8S_KIND_POD));
    kcache_replace_kind(s->cache, K8S_KIND_POD, staging);
    kcache_destroy(staging);
}

static void
sim_random_op(struct sim *s)
{
    unsigned int total = 0;
    for (int k = 0; k < N_OPS; k++) {
        total += op_weights[k];
    }
    unsigned int r = rnd(total);
    enum op op = 0;
    while (r >= op_weights[op]) {
        r -= op_weights[op++];
    }
    s->op_counts[op]++;

    int i = pick_pod(s, PICK_EXISTS);
    struct m_pod *p = i >= 0 ? &s->pods[i] : NULL;
    if (!p && op <= OP_POD_HOSTNET) {
        op = OP_POD_ADD;
    }

    switch (op) {
    case OP_POD_ADD:
        /* Often a new pod, sometimes one that replaces a pod of the same
         * name. */
        i = rnd(4) ? pick_pod(s, PICK_ABSENT) : (int) rnd(N_PODS);
        sim_new_pod(s, i >= 0 ? i : (int) rnd(N_PODS));
        break;
    case OP_POD_REMOVE: {
        char ns[16], name[16];
        snprintf(ns, sizeof ns, "ns%d", i % N_NS);
        snprintf(name, sizeof name, "p%d", i);
        p->exists = false;
        sim_remove(s, K8S_KIND_POD, ns, name);
        break;
    }
    case OP_POD_RELABEL:
        if (rnd(2)) {
            p->app = (int) rnd(4) - 1;
        } else {
            p->role = (int) rnd(3) - 1;
        }
        sim_put_pod(s, i);
        break;
    case OP_POD_REIP:
        sim_new_ips(s, p);
        sim_put_pod(s, i);
        break;
    case OP_POD_PHASE:
        p->phase = rnd(4);
        sim_put_pod(s, i);
        break;
    case OP_POD_NO_IPS:
        p->n_ips = 0;
        sim_put_pod(s, i);
        break;
    case OP_POD_CPORTS:
        p->cports = rnd(1u << ARRAY_SIZE(cport_texts));
        sim_put_pod(s, i);
        break;
    case OP_POD_HOSTNET:
        p->host_network = !p->host_network;
        sim_put_pod(s, i);
        break;
    case OP_PORT_ADD:
        /* Usually for a local pod; also for a remote pod or none. */
        i = pick_pod(s, PICK_NO_PORT);
        for (int tries = 0; tries < 4 && i >= 0
                 && !(s->pods[i].exists && s->pods[i].local); tries++) {
            i = pick_pod(s, PICK_NO_PORT);
        }
        if (i >= 0) {
            sim_port_add(s, i);
        }
        break;
    case OP_PORT_REMOVE:
        i = pick_pod(s, PICK_PORT);
        if (i >= 0) {
            s->pods[i].has_port = false;
            s->ports_changed = true;
            sim_log(s, "port ns%d/p%d: removed", i % N_NS, i);
        }
        break;
    case OP_PORT_CHANGE:
        i = pick_pod(s, PICK_PORT);
        if (i >= 0) {
            /* One at a time: a restarted ovs-vswitchd may give a port
             * another number under the same name. */
            switch (rnd(3)) {
            case 0:
                s->pods[i].ofport = s->next_ofport++;
                break;
            case 1:
                s->pods[i].mac = random_mac();
                break;
            default:
                s->pods[i].iface = s->next_ofport++;
                break;
            }
            s->ports_changed = true;
            sim_log(s, "port ns%d/p%d: now veth%d ofport %d mac "ETH_ADDR_FMT,
                    i % N_NS, i, s->pods[i].iface, s->pods[i].ofport,
                    ETH_ADDR_ARGS(s->pods[i].mac));
        }
        break;
    case OP_NS_PUT:
        sim_new_ns(s, rnd(N_NS));
        break;
    case OP_NS_REMOVE: {
        int k = rnd(N_NS);
        char name[16];
        snprintf(name, sizeof name, "ns%d", k);
        s->ns[k].exists = false;
        sim_remove(s, K8S_KIND_NAMESPACE, NULL, name);
        break;
    }
    case OP_POL_PUT: {
        int j = rnd(N_POLS);
        struct m_pol *m = &s->pols[j];
        if (!m->exists) {
            m->exists = true;
            sim_new_uid(s, m->uid, sizeof m->uid);
        }
        sim_new_spec(m);
        sim_put_policy(s, j);
        break;
    }
    case OP_POL_REMOVE:
    case OP_POL_RECREATE: {
        int j = pick_policy(s, true);
        if (j < 0) {
            break;
        }
        struct m_pol *m = &s->pols[j];
        char ns[16], name[16];
        snprintf(ns, sizeof ns, "ns%d", j % N_NS);
        snprintf(name, sizeof name, "np%d", j);
        sim_remove(s, K8S_KIND_NETWORK_POLICY, ns, name);
        m->exists = false;
        if (op == OP_POL_RECREATE) {
            /* Same name, new uid, same spec or not. */
            m->exists = true;
            sim_new_uid(s, m->uid, sizeof m->uid);
            if (rnd(2)) {
                sim_new_spec(m);
            }
            sim_put_policy(s, j);
        }
        break;
    }
    case OP_REPUT:
        /* An update that changes nothing the compiler reads. */
        if (p && rnd(2)) {
            sim_put_pod(s, i);
        } else {
            int j = pick_policy(s, true);
            if (j >= 0) {
                sim_put_policy(s, j);
            }
        }
        break;
    case OP_RELIST:
        sim_relist(s);
        break;
    case OP_SETTINGS:
        sim_settings(s);
        break;
    case N_OPS:
    default:
        OVS_NOT_REACHED();
    }
}

/* ---------------------------------------------------------------------- */
/* Comparison. */

static struct npol_input
sim_input(const struct sim *s)
{
    return (struct npol_input) {
        .cache = s->cache,
        .ports = &s->ports,
        .node_name = "node1",
        .gw_ofport = s->gw_ofport,
        .gw_mac = s->gw_mac,
        .gw_ips = s->gw_ips,
        .n_gw_ips = s->n_gw_ips,
        .reeval_established = s->reeval,
    };
}

static void
sim_init(struct sim *s)
{
    memset(s, 0, sizeof *s);
    s->cache = kcache_create();
    kcache_track_changes(s->cache, true);
    kcache_changes_clear(s->cache);
    portmap_init(&s->ports);
    s->reeval = true;
    sim_set_gw_ips(s, 0);
    s->gw_ofport = u16_to_ofp(1);
    s->gw_mac = (struct eth_addr) ETH_ADDR_C(aa,55,aa,55,00,01);
    s->next_ofport = 2;
    s->pool_used = xcalloc(POOL_SIZE, sizeof *s->pool_used);
    s->op_counts = xcalloc(N_OPS, sizeof *s->op_counts);
    s->own_op_counts = s->op_counts;
    s->verbose = getenv("NPI_VERBOSE") != NULL;
    ds_init(&s->log);
}

static void
sim_destroy(struct sim *s)
{
    kcache_destroy(s->cache);
    portmap_destroy(&s->ports);
    for (int j = 0; j < N_POLS; j++) {
        free(s->pols[j].spec);
    }
    free(s->gw_ips);
    free(s->pool_used);
    free(s->own_op_counts);
    free(s->last_settings);
    ds_destroy(&s->log);
}

/* Appends to 'out' the lines of 'a' that are not in 'b', at most 'max',
 * each preceded by 'prefix'. */
static void
put_missing_lines(struct ds *out, const char *prefix, const char *a,
                  const char *b, size_t max)
{
    struct sset lines_b = SSET_INITIALIZER(&lines_b);
    char *copy_a = xstrdup(a), *copy_b = xstrdup(b);
    char *save = NULL;
    size_t n = 0;

    for (char *l = strtok_r(copy_b, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        sset_add(&lines_b, l);
    }
    for (char *l = strtok_r(copy_a, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        if (!sset_contains(&lines_b, l) && n++ < max) {
            ds_put_format(out, "%s%s\n", prefix, l);
        }
    }
    if (n > max) {
        ds_put_format(out, "%s... (%"PRIuSIZE" in all)\n", prefix, n);
    }
    sset_destroy(&lines_b);
    free(copy_a);
    free(copy_b);
}

/* The first line where 'a' and 'b' differ, numbered from 1. */
static void
put_first_difference(struct ds *out, const char *a, const char *b)
{
    size_t line = 1;
    const char *la = a, *lb = b;

    while (*la && *lb) {
        const char *ea = strchr(la, '\n'), *eb = strchr(lb, '\n');
        size_t na = ea ? ea - la : strlen(la);
        size_t nb = eb ? eb - lb : strlen(lb);
        if (na != nb || memcmp(la, lb, na)) {
            break;
        }
        la += na + (ea != NULL);
        lb += nb + (eb != NULL);
        line++;
    }
    ds_put_format(out, "  first difference, line %"PRIuSIZE":\n", line);
    ds_put_format(out, "  - incremental: %.*s\n", (int) strcspn(la, "\n"),
                  la);
    ds_put_format(out, "  + full:        %.*s\n", (int) strcspn(lb, "\n"),
                  lb);
}

static void
svec_to_ds(struct ds *out, const struct svec *sv)
{
    const char *line;
    size_t i;
    SVEC_FOR_EACH (i, line, sv) {
        ds_put_format(out, "    %s\n", line);
    }
}

/* Runs 'compiler' into 'inc' and npol_compile() into a fresh set and
 * returns true if flows and problems are the same; otherwise, unless
 * 'quiet', prints where and how they differ.  Returns the compiler's
 * statistics in '*stats'. */
static bool
sim_check(struct sim *s, struct npol_compiler *compiler, struct flowset *inc,
          const char *where, bool quiet, struct npol_compiler_stats *stats)
{
    struct npol_input in = sim_input(s);
    struct svec p_inc = SVEC_EMPTY_INITIALIZER;
    struct svec p_full = SVEC_EMPTY_INITIALIZER;
    struct flowset full;

    npol_compiler_run(compiler, &in, inc, &p_inc);
    npol_compiler_get_stats(compiler, stats);
    flowset_init(&full);
    npol_compile(&in, &full, &p_full);

    struct ds a = DS_EMPTY_INITIALIZER, b = DS_EMPTY_INITIALIZER;
    flowset_format(inc, &a);
    flowset_format(&full, &b);
    svec_sort(&p_inc);
    svec_sort(&p_full);
    s->port_problems = s->policy_problems = false;
    const char *line;
    size_t i;
    SVEC_FOR_EACH (i, line, &p_full) {
        s->port_problems |= strstr(line, "OVS port") != NULL;
        s->policy_problems |= !strncmp(line, "NetworkPolicy", 13);
    }

    bool flows_ok = !strcmp(ds_cstr(&a), ds_cstr(&b))
                    && flowset_equal(inc, &full);
    bool problems_ok = svec_equal(&p_inc, &p_full);
    if ((!flows_ok || !problems_ok) && !quiet) {
        struct ds msg = DS_EMPTY_INITIALIZER;
        ds_put_format(&msg, "%s: the incremental compiler differs from a "
                      "full compile (%s%s%s)\n", where,
                      flows_ok ? "" : "flows",
                      !flows_ok && !problems_ok ? ", " : "",
                      problems_ok ? "" : "problems");
        ds_put_format(&msg, "  stats: full=%d policies=%"PRIuSIZE
                      " recompiled=%"PRIuSIZE" removed=%"PRIuSIZE
                      " added=%"PRIuSIZE"; flows: incremental %"PRIuSIZE
                      ", full %"PRIuSIZE"\n", stats->full,
                      stats->n_policies, stats->n_recompiled,
                      stats->n_flows_removed, stats->n_flows_added,
                      flowset_count(inc), flowset_count(&full));
        ds_put_format(&msg, "  changes since the previous run:\n%s",
                      ds_cstr(&s->log));
        if (!flows_ok) {
            put_first_difference(&msg, ds_cstr(&a), ds_cstr(&b));
            ds_put_cstr(&msg, "  flows only in the incremental output:\n");
            put_missing_lines(&msg, "  - ", ds_cstr(&a), ds_cstr(&b), 12);
            ds_put_cstr(&msg, "  flows only in the full compile:\n");
            put_missing_lines(&msg, "  + ", ds_cstr(&b), ds_cstr(&a), 12);
        }
        if (!problems_ok) {
            ds_put_cstr(&msg, "  problems, incremental:\n");
            svec_to_ds(&msg, &p_inc);
            ds_put_cstr(&msg, "  problems, full:\n");
            svec_to_ds(&msg, &p_full);
        }
        fprintf(stderr, "%s", ds_cstr(&msg));
        ds_destroy(&msg);
    }

    if (!quiet) {
        assert_int_equal(stats->n_policies,
                         kcache_count(s->cache, K8S_KIND_NETWORK_POLICY));
        if (stats->full) {
            assert_int_equal(stats->n_recompiled, stats->n_policies);
        } else {
            assert_true(stats->n_recompiled <= stats->n_policies);
        }
    }

    ds_destroy(&a);
    ds_destroy(&b);
    svec_destroy(&p_inc);
    svec_destroy(&p_full);
    flowset_destroy(&full);
    return flows_ok && problems_ok;
}

/* ---------------------------------------------------------------------- */
/* The random differential test. */

struct totals {
    size_t runs, full_runs;
    size_t recompiled, policies;    /* Over incremental runs. */
    size_t runs_with_errors;        /* Runs with an invalid policy. */
    size_t port_problem_runs, policy_problem_runs;
    size_t op_counts[N_OPS];
};

static unsigned int
env_uint(const char *name, unsigned int default_value)
{
    const char *s = getenv(name);
    return s && *s ? strtoul(s, NULL, 0) : default_value;
}

/* Removes from the change log the changes of the kinds in 'drop_kinds' (a
 * bitmap of 1 << enum k8s_kind): a compiler that ignores them. */
static void
drop_changes(struct kcache *cache, unsigned int drop_kinds)
{
    struct kcache_change *c;

    LIST_FOR_EACH_SAFE (c, list_node, &cache->changes) {
        if (drop_kinds & (1u << c->kind)) {
            ovs_list_remove(&c->list_node);
            cache->n_changes--;
            if (c->old && c->kind == K8S_KIND_POD) {
                k8s_pod_destroy(c->old);
            } else if (c->old && c->kind == K8S_KIND_NAMESPACE) {
                k8s_namespace_destroy(c->old);
            } else if (c->old) {
                k8s_network_policy_destroy(c->old);
            }
            free(c->old);
            free(c->namespace);
            free(c->name);
            free(c);
        }
    }
}

/* Runs 'n_steps' random steps from 'seed' and returns the first step where
 * the incremental compiler's output differs from a full compile, or -1.
 * With 'drop_kinds' (see drop_changes()) quietly, for checking that this
 * test catches a broken compiler. */
static int
run_seed(unsigned int seed, int n_steps, unsigned int drop_kinds,
         struct totals *t)
{
    int failed_step = -1;
    struct sim s;
    struct flowset inc;
    struct npol_compiler *compiler = npol_compiler_create();
    uint64_t log_since;
    bool cleared = true;

    rng_state = UINT64_C(0x5eed0000) + seed;
    sim_init(&s);
    s.op_counts = t->op_counts;
    flowset_init(&inc);

    /* A populated world to start from. */
    for (int k = 0; k < N_NS; k++) {
        if (rnd(5)) {
            sim_new_ns(&s, k);
        }
    }
    for (int i = 0; i < N_PODS; i++) {
        if (rnd(10) < 7) {
            sim_new_pod(&s, i);
        }
    }
    for (int j = 0; j < N_POLS; j++) {
        if (rnd(3)) {
            struct m_pol *m = &s.pols[j];
            m->exists = true;
            sim_new_uid(&s, m->uid, sizeof m->uid);
            sim_new_spec(m);
            sim_put_policy(&s, j);
        }
    }
    log_since = s.cache->changes_since;

    for (int step = 0; step <= n_steps; step++) {
        char where[64];
        snprintf(where, sizeof where, "seed %u step %d", seed, step);

        if (step) {
            for (unsigned int n = 1 + rnd(5); n > 0; n--) {
                sim_random_op(&s);
            }
        }
        if (s.ports_changed || !rnd(8)) {
            sim_sync_ports(&s);
        }
        if (step && !rnd(6)) {
            /* Same gateway addresses in a new array. */
            sim_set_gw_ips(&s, s.gw_mode);
        }
        if (step && !rnd(30) && flowset_count(&inc)) {
            /* Someone else changed the output set. */
            struct np_flow *f = NULL;
            FLOWSET_FOR_EACH (f, &inc) {
                break;
            }
            flowset_remove(&inc, f);
            sim_log(&s, "(one flow removed from the output set)");
            s.expect_full = true;
        }
        bool log_complete = kcache_changes_complete(s.cache, log_since);
        char *settings = sim_settings_string(&s);
        if (s.last_settings && strcmp(settings, s.last_settings)) {
            s.expect_full = true;
        }
        free(s.last_settings);
        s.last_settings = settings;
        if (s.verbose) {
            fprintf(stderr, "%s%s:\n%s", where,
                    cleared ? "" : " (log not cleared)", ds_cstr(&s.log));
        }

        struct npol_compiler_stats st;
        drop_changes(s.cache, drop_kinds);
        if (!sim_check(&s, compiler, &inc, where, drop_kinds, &st)) {
            failed_step = step;
            break;
        }
        if (drop_kinds) {
            goto next;
        }

        if (!step && !st.full) {
            fail_msg("%s: the first run was not a full compile", where);
        }
        if (cleared && (!log_complete || s.expect_full) && !st.full) {
            fprintf(stderr, "%s: %s, but the run was not a full compile; "
                    "changes:\n%s", where,
                    log_complete ? "settings or output changed"
                    : "the change log was incomplete", ds_cstr(&s.log));
            fail_msg("%s: not a full compile (details above)", where);
        }
        t->runs++;
        t->port_problem_runs += s.port_problems;
        t->policy_problem_runs += s.policy_problems;
        const struct k8s_network_policy *np;
        KCACHE_FOR_EACH_POLICY (np, s.cache) {
            if (np->error) {
                t->runs_with_errors++;
                break;
            }
        }
        if (st.full) {
            t->full_runs++;
        } else {
            t->recompiled += st.n_recompiled;
            t->policies += st.n_policies;
        }

    next:
        /* Now and then the caller "forgets" to empty the log: the next run
         * must notice. */
        cleared = rnd(10) != 0;
        if (cleared) {
            kcache_changes_clear(s.cache);
            log_since = kcache_seqno(s.cache);
        }
        s.expect_full = false;
        ds_clear(&s.log);
    }

    npol_compiler_destroy(compiler);
    flowset_destroy(&inc);
    sim_destroy(&s);
    return failed_step;
}

static void
test_random(void **state OVS_UNUSED)
{
    unsigned int n_seeds = env_uint("NPI_SEEDS", 40);
    unsigned int n_steps = env_uint("NPI_STEPS", 100);
    const char *one = getenv("NPI_SEED");
    struct totals t;

    memset(&t, 0, sizeof t);

    build_uid_pool();
    for (unsigned int k = 0; k < n_seeds; k++) {
        unsigned int seed = one ? strtoul(one, NULL, 0) : k + 1;
        int step = run_seed(seed, n_steps, 0, &t);
        if (step >= 0) {
            fail_msg("seed %u step %d: incremental != full (details above)",
                     seed, step);
        }
        if (one) {
            break;
        }
    }
    printf("# %"PRIuSIZE" runs, %"PRIuSIZE" full; incremental runs "
           "recompiled %"PRIuSIZE" of %"PRIuSIZE" policies; %"PRIuSIZE
           " runs with an invalid policy; problems: ports %"PRIuSIZE
           ", policies %"PRIuSIZE" runs\n# ops:", t.runs, t.full_runs,
           t.recompiled, t.policies, t.runs_with_errors,
           t.port_problem_runs, t.policy_problem_runs);
    for (int k = 0; k < N_OPS; k++) {
        printf(" %"PRIuSIZE, t.op_counts[k]);
        assert_true(t.op_counts[k] > 0 || one || n_seeds * n_steps < 100);
    }
    printf("\n");
}

/* ---------------------------------------------------------------------- */
/* Fixed scenarios. */

static void OVS_PRINTF_FORMAT(2, 3)
loadf(struct sim *s, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *text = xvasprintf(format, args);
    va_end(args);
    sim_load(s, text, false);
    free(text);
}

static void
fixed_policy(struct sim *s, const char *ns, const char *name,
             const char *uid, const char *spec)
{
    loadf(s, "kind: NetworkPolicy\nmetadata: {name: %s, namespace: %s, "
          "uid: %s}\nspec: %s\n", name, ns, uid, spec);
}

static void
fixed_pod(struct sim *s, const char *ns, const char *name,
          const char *labels, const char *node, const char *ip)
{
    loadf(s, "kind: Pod\nmetadata: {name: %s, namespace: %s, labels: %s}\n"
          "spec: {nodeName: %s, containers: [{name: c, ports: "
          "[{name: http, containerPort: 80}]}]}\n"
          "status: {phase: Running, podIPs: [{ip: %s}]}\n",
          name, ns, labels, node, ip);
}

/* A local pod with its port. */
static void
fixed_local_pod(struct sim *s, const char *ns, const char *name,
                const char *labels, const char *ip)
{
    struct eth_addr mac = ETH_ADDR_C(0a,00,00,00,00,00);
    int ofport = s->next_ofport++;

    mac.ea[5] = ofport;
    fixed_pod(s, ns, name, labels, "node1", ip);
    portmap_add(&s->ports, ns, name, name, NULL, u16_to_ofp(ofport), mac,
                NULL);
}

/* Runs the check and empties the change log, as the controller would. */
static void
fixed_run(struct sim *s, struct npol_compiler *c, struct flowset *inc,
          const char *where, struct npol_compiler_stats *stats)
{
    if (!sim_check(s, c, inc, where, false, stats)) {
        fail_msg("%s: incremental != full (details above)", where);
    }
    kcache_changes_clear(s->cache);
    ds_clear(&s->log);
}

/* Incremental really is incremental: a change that no policy can see
 * recompiles none of them, one in a namespace only that namespace's. */
static void
test_stats(void **state OVS_UNUSED)
{
    struct npol_compiler *c = npol_compiler_create();
    struct npol_compiler_stats st;
    struct flowset inc;
    struct sim s;

    sim_init(&s);
    flowset_init(&inc);
    loadf(&s, "kind: Namespace\nmetadata: {name: lonely}\n");
    for (int k = 0; k < 5; k++) {
        loadf(&s, "kind: Namespace\nmetadata: {name: t%d, labels: "
              "{team: x}}\n", k);
        for (int i = 0; i < 4; i++) {
            char ns[8], name[8], ip[32];
            snprintf(ns, sizeof ns, "t%d", k);
            snprintf(name, sizeof name, "q%d", i);
            snprintf(ip, sizeof ip, "10.244.%d.%d", k, 10 + i);
            if (i < 2) {
                fixed_local_pod(&s, ns, name, i ? "{app: a}" : "{app: b}",
                                ip);
            } else {
                fixed_pod(&s, ns, name, "{app: a, role: x}", "node2", ip);
            }
        }
        for (int j = 0; j < 8; j++) {
            char ns[8], name[8], uid[16];
            snprintf(ns, sizeof ns, "t%d", k);
            snprintf(name, sizeof name, "np%d", j);
            snprintf(uid, sizeof uid, "s-%d-%d", k, j);
            fixed_policy(&s, ns, name, uid, j % 2
                         ? "{podSelector: {matchLabels: {app: a}}, "
                         "ingress: [{from: [{podSelector: {matchLabels: "
                         "{role: x}}}], ports: [{port: 80}]}]}"
                         : "{podSelector: {}, policyTypes: [Egress], "
                         "egress: [{to: [{podSelector: {matchLabels: "
                         "{app: b}}}], ports: [{port: http}]}]}");
        }
    }
    fixed_pod(&s, "lonely", "r", "{app: a, role: x}", "node2",
              "10.244.9.9");

    fixed_run(&s, c, &inc, "first run", &st);
    assert_true(st.full);
    assert_int_equal(st.n_policies, 40);
    assert_int_equal(st.n_recompiled, 40);

    /* Nothing changed. */
    fixed_run(&s, c, &inc, "no change", &st);
    assert_false(st.full);
    assert_int_equal(st.n_recompiled, 0);

    /* A remote pod no policy selects, in a namespace without policies. */
    fixed_pod(&s, "lonely", "r", "{app: b}", "node2", "10.244.9.9");
    fixed_run(&s, c, &inc, "relabel lonely/r", &st);
    assert_false(st.full);
    assert_true(st.n_recompiled < st.n_policies);
    printf("# relabeling a pod no policy sees recompiled %"PRIuSIZE
           " of %"PRIuSIZE" policies\n", st.n_recompiled, st.n_policies);

    /* A pod in t0: at most t0's 8 policies. */
    fixed_pod(&s, "t0", "q2", "{app: a, role: y}", "node2", "10.244.0.12");
    fixed_run(&s, c, &inc, "relabel t0/q2", &st);
    assert_false(st.full);
    assert_true(st.n_recompiled > 0);
    assert_true(st.n_recompiled <= 8);

    /* One policy. */
    fixed_policy(&s, "t1", "np1", "s-1-1", "{podSelector: {}}");
    fixed_run(&s, c, &inc, "update t1/np1", &st);
    assert_false(st.full);
    assert_true(st.n_recompiled >= 1);
    assert_true(st.n_recompiled < st.n_policies);

    /* A new port number in a rule rewrites its port flows and nothing
     * else: the conjunction keeps its id, so the peer, target and action
     * flows stay as they are. */
    struct flowset before;
    struct flowset_change *changes;
    size_t n_changes;
    flowset_init(&before);
    flowset_clone(&before, &inc);
    fixed_policy(&s, "t2", "np1", "s-2-1",
                 "{podSelector: {matchLabels: {app: a}}, "
                 "ingress: [{from: [{podSelector: {matchLabels: "
                 "{role: x}}}], ports: [{port: 81}]}]}");
    fixed_run(&s, c, &inc, "port of t2/np1", &st);
    flowset_diff(&inc, &before, &changes, &n_changes);
    for (size_t i = 0; i < n_changes; i++) {
        struct ds d = DS_EMPTY_INITIALIZER;
        np_flow_format(changes[i].flow, &d);
        printf("# port change: %s %s\n",
               changes[i].type == FLOWSET_ADD ? "add" : "delete",
               ds_cstr(&d));
        assert_int_not_equal(changes[i].type, FLOWSET_MODIFY);
        assert_non_null(strstr(ds_cstr(&d), changes[i].type == FLOWSET_ADD
                               ? "tp_dst=81" : "tp_dst=80"));
        ds_destroy(&d);
    }
    assert_int_equal(n_changes, 2);
    free(changes);
    flowset_destroy(&before);

    /* Settings. */
    s.reeval = false;
    fixed_run(&s, c, &inc, "reeval_established off", &st);
    assert_true(st.full);

    /* An incomplete change log. */
    kcache_track_changes(s.cache, false);
    kcache_track_changes(s.cache, true);
    fixed_run(&s, c, &inc, "log lost", &st);
    assert_true(st.full);

    npol_compiler_destroy(c);
    flowset_destroy(&inc);
    sim_destroy(&s);
}

/* Policies whose uids hash to the same priority take the next free one in
 * uid order: adding one that sorts first, or removing or emptying the
 * first, moves the others. */
static void
test_priority_collisions(void **state OVS_UNUSED)
{
    struct npol_compiler *c = npol_compiler_create();
    struct npol_compiler_stats st;
    struct flowset inc;
    struct sim s;
    char *uids[5], *first[1];

    /* Each in increasing order; "pb..." sorts before every "pc...". */
    find_uids_in_slots("pc", 777, 1, ARRAY_SIZE(uids), uids);
    find_uids_in_slots("pb", 777, 1, 1, first);

    sim_init(&s);
    flowset_init(&inc);
    loadf(&s, "kind: Namespace\nmetadata: {name: a}\n");
    fixed_local_pod(&s, "a", "web", "{app: web}", "10.244.0.10");
    fixed_local_pod(&s, "a", "db", "{app: db}", "10.244.0.11");
    fixed_pod(&s, "a", "far", "{app: web}", "node2", "10.244.1.10");

    static const char *const specs[] = {
        "{podSelector: {matchLabels: {app: web}}, ingress: [{from: "
        "[{podSelector: {matchLabels: {app: db}}}], ports: [{port: 80}]}]}",
        "{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}",
        "{podSelector: {matchLabels: {app: db}}, policyTypes: [Egress], "
        "egress: [{to: [{ipBlock: {cidr: 10.244.0.0/16}}]}]}",
        "{podSelector: {matchLabels: {app: web}}, ingress: [{ports: "
        "[{port: http}]}]}",
    };

    fixed_policy(&s, "a", "p2", uids[2], specs[2]);
    fixed_policy(&s, "a", "p3", uids[3], specs[3]);
    fixed_run(&s, c, &inc, "collisions: two", &st);
    fixed_policy(&s, "a", "p1", uids[1], specs[1]);
    fixed_run(&s, c, &inc, "collisions: one sorting first added", &st);
    fixed_policy(&s, "a", "p0", uids[0], specs[0]);
    fixed_run(&s, c, &inc, "collisions: another sorting first", &st);
    fixed_policy(&s, "a", "p0", uids[0], specs[1]);
    fixed_run(&s, c, &inc, "collisions: first one changed", &st);
    kcache_remove(s.cache, K8S_KIND_NETWORK_POLICY, "a", "p1");
    fixed_run(&s, c, &inc, "collisions: second one removed", &st);
    kcache_remove(s.cache, K8S_KIND_NETWORK_POLICY, "a", "p0");
    fixed_run(&s, c, &inc, "collisions: first one removed", &st);

    /* Re-created under the same name with a new uid, in one run and over
     * two. */
    fixed_policy(&s, "a", "p2", first[0], specs[2]);
    fixed_run(&s, c, &inc, "collisions: p2 re-created, sorting first", &st);
    kcache_remove(s.cache, K8S_KIND_NETWORK_POLICY, "a", "p2");
    fixed_run(&s, c, &inc, "collisions: p2 removed", &st);
    fixed_policy(&s, "a", "p2", uids[4], specs[0]);
    fixed_run(&s, c, &inc, "collisions: p2 back, sorting last", &st);

    for (size_t i = 0; i < ARRAY_SIZE(uids); i++) {
        free(uids[i]);
    }
    free(first[0]);
    npol_compiler_destroy(c);
    flowset_destroy(&inc);
    sim_destroy(&s);
}

static int
cmp_u64(const void *a_, const void *b_)
{
    const uint64_t *a = a_, *b = b_;
    return *a < *b ? -1 : *a > *b;
}

/* Conjunction ids are hashes of (uid, direction, rule, family, ports),
 * probed upward on collision in uid order.  Two policies whose keys collide
 * make one's id depend on the other's flows. */
static void
test_conj_id_collision(void **state OVS_UNUSED)
{
    enum { N = 1 << 18 };
    uint64_t *keys = xmalloc(N * sizeof *keys);
    char *uid_a = NULL, *uid_b = NULL;
    uint32_t h = 0;

    /* Birthday search over keys of the form npc_rule() builds for the
     * first ingress rule, IPv4, with no ports. */
    for (uint32_t i = 0; i < N; i++) {
        char key[64];
        snprintf(key, sizeof key, "k%07"PRIu32"|in|0|ip4|", i);
        keys[i] = ((uint64_t) hash_string(key, 0) << 32) | i;
    }
    qsort(keys, N, sizeof *keys, cmp_u64);
    for (size_t i = 1; i < N; i++) {
        if (keys[i] >> 32 == keys[i - 1] >> 32) {
            uint32_t x = keys[i - 1], y = keys[i];
            uid_a = xasprintf("k%07"PRIu32, MIN(x, y));
            uid_b = xasprintf("k%07"PRIu32, MAX(x, y));
            h = keys[i] >> 32;
            break;
        }
    }
    free(keys);
    assert_non_null(uid_a);

    struct npol_compiler *c = npol_compiler_create();
    struct npol_compiler_stats st;
    struct flowset inc;
    struct sim s;

    sim_init(&s);
    flowset_init(&inc);
    loadf(&s, "kind: Namespace\nmetadata: {name: a}\n");
    fixed_local_pod(&s, "a", "web", "{app: web}", "10.244.0.10");
    fixed_local_pod(&s, "a", "db", "{app: db}", "10.244.0.11");
    fixed_pod(&s, "a", "far", "{app: db}", "node2", "10.244.1.10");

    const char *from_db = "{podSelector: {matchLabels: {app: web}}, "
        "ingress: [{from: [{podSelector: {matchLabels: {app: db}}}]}]}";
    const char *from_all_pods = "{podSelector: {matchLabels: {app: web}}, "
        "ingress: [{from: [{podSelector: {}}]}]}";
    const char *selects_none = "{podSelector: {matchLabels: {app: none}}, "
        "ingress: [{from: [{podSelector: {}}]}]}";

    fixed_policy(&s, "a", "pa", uid_a, from_db);
    fixed_policy(&s, "a", "pb", uid_b, from_db);
    fixed_run(&s, c, &inc, "conj ids: both", &st);

    /* With ids from one space for all policies, the collision shows as
     * id h + 1; ids that include the policy's priority cannot collide
     * across policies, and the steps below are plain changes. */
    struct ds flows = DS_EMPTY_INITIALIZER;
    char *want = xasprintf("conj_id=%"PRIu32" ", h + 1);
    flowset_format(&inc, &flows);
    printf("# conjunction ids of %s and %s %s\n", uid_a, uid_b,
           strstr(ds_cstr(&flows), want) ? "collide" : "do not collide");
    free(want);
    ds_destroy(&flows);

    fixed_policy(&s, "a", "pb", uid_b, from_all_pods);
    fixed_run(&s, c, &inc, "conj ids: second changed", &st);
    fixed_policy(&s, "a", "pa", uid_a, selects_none);
    fixed_run(&s, c, &inc, "conj ids: first selects nothing", &st);
    fixed_policy(&s, "a", "pa", uid_a, from_all_pods);
    fixed_run(&s, c, &inc, "conj ids: first selects again", &st);
    fixed_pod(&s, "a", "web", "{app: other}", "node1", "10.244.0.10");
    fixed_run(&s, c, &inc, "conj ids: target relabeled away", &st);
    fixed_pod(&s, "a", "web", "{app: web}", "node1", "10.244.0.10");
    fixed_run(&s, c, &inc, "conj ids: target back", &st);
    kcache_remove(s.cache, K8S_KIND_NETWORK_POLICY, "a", "pa");
    fixed_run(&s, c, &inc, "conj ids: first removed", &st);
    fixed_policy(&s, "a", "pa2", "k-new", from_db);
    fixed_run(&s, c, &inc, "conj ids: first back", &st);

    free(uid_a);
    free(uid_b);
    npol_compiler_destroy(c);
    flowset_destroy(&inc);
    sim_destroy(&s);
}

/* A policy's uid that comes back: under the same name without a uid in
 * the manifest (the uid is then "namespace/name"), or under another name
 * (a manifest may give any uid). */
static void
test_uid_reuse(void **state OVS_UNUSED)
{
    struct npol_compiler *c = npol_compiler_create();
    struct npol_compiler_stats st;
    struct flowset inc;
    struct sim s;

    sim_init(&s);
    flowset_init(&inc);
    loadf(&s, "kind: Namespace\nmetadata: {name: a}\n");
    fixed_local_pod(&s, "a", "web", "{app: web}", "10.244.0.10");
    fixed_local_pod(&s, "a", "db", "{app: db}", "10.244.0.11");

    const char *spec1 = "{podSelector: {matchLabels: {app: web}}, "
        "ingress: [{from: [{podSelector: {matchLabels: {app: db}}}]}]}";
    const char *spec2 = "{podSelector: {}, policyTypes: [Egress], "
        "egress: [{ports: [{port: 53, protocol: UDP}]}]}";
    const char *nouid = "kind: NetworkPolicy\nmetadata: {name: %s, "
        "namespace: a}\nspec: %s\n";

    loadf(&s, nouid, "x", spec1);
    fixed_run(&s, c, &inc, "uid reuse: x without uid", &st);
    kcache_remove(s.cache, K8S_KIND_NETWORK_POLICY, "a", "x");
    fixed_run(&s, c, &inc, "uid reuse: x removed", &st);
    loadf(&s, nouid, "x", spec2);
    fixed_run(&s, c, &inc, "uid reuse: x back, same uid", &st);
    kcache_remove(s.cache, K8S_KIND_NETWORK_POLICY, "a", "x");
    loadf(&s, nouid, "x", spec1);
    fixed_run(&s, c, &inc, "uid reuse: x removed and back in one run", &st);

    fixed_policy(&s, "a", "y", "u-1", spec1);
    fixed_run(&s, c, &inc, "uid reuse: y", &st);
    kcache_remove(s.cache, K8S_KIND_NETWORK_POLICY, "a", "y");
    fixed_run(&s, c, &inc, "uid reuse: y removed", &st);
    fixed_policy(&s, "a", "z", "u-1", spec1);
    fixed_run(&s, c, &inc, "uid reuse: z with y's old uid", &st);
    kcache_remove(s.cache, K8S_KIND_NETWORK_POLICY, "a", "z");
    fixed_policy(&s, "a", "y", "u-1", spec2);
    fixed_run(&s, c, &inc, "uid reuse: z removed, y back, one run", &st);

    npol_compiler_destroy(c);
    flowset_destroy(&inc);
    sim_destroy(&s);
}

/* The random test catches a compiler that misses changes: with the pod
 * (namespace, policy) changes taken out of the log, the outputs soon
 * differ.  A seed counts only if it fails earlier than it does with the
 * whole log (a compiler bug may make it fail anyway). */
static void
test_catches_missed_changes(void **state OVS_UNUSED)
{
    static const struct {
        const char *name;
        unsigned int kinds;
    } mutations[] = {
        { "pod", 1u << K8S_KIND_POD },
        { "namespace", 1u << K8S_KIND_NAMESPACE },
        { "policy", 1u << K8S_KIND_NETWORK_POLICY },
    };
    enum { N_SEEDS = 10, N_STEPS = 120 };
    int clean[N_SEEDS];
    struct totals t;

    memset(&t, 0, sizeof t);
    build_uid_pool();
    for (int k = 0; k < N_SEEDS; k++) {
        clean[k] = run_seed(k + 1, N_STEPS, 0, &t);
        if (clean[k] < 0) {
            clean[k] = INT_MAX;
        }
    }
    for (size_t m = 0; m < ARRAY_SIZE(mutations); m++) {
        int caught = 0, steps = 0;
        for (int k = 0; k < N_SEEDS; k++) {
            int step = run_seed(k + 1, N_STEPS, mutations[m].kinds, &t);
            if (step >= 0 && step < clean[k]) {
                caught++;
                steps += step;
            }
        }
        printf("# ignoring %s changes: caught in %d of %d seeds, on "
               "average at step %d\n", mutations[m].name, caught, N_SEEDS,
               caught ? steps / caught : -1);
        assert_true(caught >= N_SEEDS / 2);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_priority_collisions),
        cmocka_unit_test(test_conj_id_collision),
        cmocka_unit_test(test_uid_reuse),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_catches_missed_changes),
    };
    int rc = cmocka_run_group_tests_name("npol-incremental", tests, NULL,
                                         NULL);
    for (size_t i = 0; i < POOL_SIZE; i++) {
        free(uid_pool[i]);
    }
    return rc;
}
