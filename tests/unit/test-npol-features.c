/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* The policy compiler against the NetworkPolicy v1 API, feature by feature
 * (issue 3): each test loads a small world, compiles it and asserts on the
 * formatted flows (np_flow_format() lines), not on golden files.
 *
 * The world: namespaces a (team=x) and b (team=y, env=prod); local pods on
 * node1 a/web (ofport 2, 10.244.0.10 + fd00::10, http=TCP/80, dns=UDP/53),
 * a/db (ofport 3, 10.244.0.11, http=TCP/8080, metrics=TCP/9090), b/client
 * (ofport 4, 10.244.0.12 + fd00::12, no ports), a/web2 (ofport 5,
 * 10.244.0.13, http=TCP/80); b/remote on node2 (10.244.1.5,
 * http=TCP/8081).  The gateway is ofport 1 with 10.244.0.1. */

#include <config.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/flow-set.h"
#include "lib/k8s-cache.h"
#include "lib/k8s-parse.h"
#include "lib/npol-compile.h"
#include "netpol/pipeline.h"
#include "tests/unit/npol-world.h"
#include "flow.h"
#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "sset.h"
#include "svec.h"
#include "util.h"

/* Loads 'text', every object of which must be accepted. */
static void
load_text(struct npol_world *w, const char *text)
{
    npol_world_load_text(w, text, NULL);
}

/* Like load_text(), for objects that do not parse: returns the first
 * error (the caller frees it). */
static char *
load_text_error(struct npol_world *w, const char *text)
{
    struct svec errors = SVEC_EMPTY_INITIALIZER;
    npol_world_load_text(w, text, &errors);
    char *error = errors.n ? xstrdup(errors.names[0]) : NULL;
    svec_destroy(&errors);
    return error;
}

static void OVS_PRINTF_FORMAT(2, 3)
loadf(struct npol_world *w, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *text = xvasprintf(format, args);
    va_end(args);
    load_text(w, text);
    free(text);
}

/* A NetworkPolicy 'name' (uid "uid-'name'") in 'ns'; 'spec' is the YAML
 * of its spec, each line indented by two spaces. */
static void
policy(struct npol_world *w, const char *ns, const char *name,
       const char *spec)
{
    loadf(w, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
          "metadata: {name: %s, namespace: %s, uid: uid-%s}\nspec:\n%s",
          name, ns, name, spec);
}

static void
pod(struct npol_world *w, const char *ns, const char *name, const char *labels,
    const char *node, const char *ips, const char *ports, const char *extra)
{
    loadf(w, "apiVersion: v1\nkind: Pod\n"
          "metadata: {name: %s, namespace: %s, labels: %s%s}\n"
          "spec: {nodeName: %s, containers: [{name: c, ports: %s}]}\n"
          "status: {phase: Running, podIPs: %s}\n",
          name, ns, labels, extra ? extra : "", node, ports, ips);
}

static int
world_setup(void **state)
{
    npol_world_setup(state);
    struct npol_world *w = *state;

    load_text(w, "apiVersion: v1\nkind: Namespace\n"
              "metadata: {name: a, labels: {team: x}}\n---\n"
              "apiVersion: v1\nkind: Namespace\n"
              "metadata: {name: b, labels: {team: y, env: prod}}\n");
    pod(w, "a", "web", "{app: web, role: front}", "node1",
        "[{ip: 10.244.0.10}, {ip: 'fd00::10'}]",
        "[{name: http, containerPort: 80}, "
        "{name: dns, containerPort: 53, protocol: UDP}]", NULL);
    pod(w, "a", "db", "{app: db}", "node1", "[{ip: 10.244.0.11}]",
        "[{name: http, containerPort: 8080, protocol: TCP}, "
        "{name: metrics, containerPort: 9090}]", NULL);
    pod(w, "b", "client", "{app: client}", "node1",
        "[{ip: 10.244.0.12}, {ip: 'fd00::12'}]", "[]", NULL);
    pod(w, "a", "web2", "{app: web}", "node1", "[{ip: 10.244.0.13}]",
        "[{name: http, containerPort: 80}]", NULL);
    pod(w, "b", "remote", "{app: web}", "node2", "[{ip: 10.244.1.5}]",
        "[{name: http, containerPort: 8081}]", NULL);
    npol_world_add_port(w, "a", "web", 2, "0a:00:00:00:00:02");
    npol_world_add_port(w, "a", "db", 3, "0a:00:00:00:00:03");
    npol_world_add_port(w, "b", "client", 4, "0a:00:00:00:00:04");
    npol_world_add_port(w, "a", "web2", 5, "0a:00:00:00:00:05");
    return 0;
}

/* The flows of 'table' (any table if negative) whose cookie has category
 * 'cat' (any if negative), one np_flow_format() line each, sorted. */
static char *
flows_of(const struct npol_world *w, int table, int cat)
{
    const struct np_flow *f;
    struct svec lines = SVEC_EMPTY_INITIALIZER;

    FLOWSET_FOR_EACH (f, &w->flows) {
        if ((table < 0 || f->table_id == table)
            && (cat < 0 || f->cookie >> NP_COOKIE_CATEGORY_SHIFT == cat)) {
            struct ds s = DS_EMPTY_INITIALIZER;
            np_flow_format(f, &s);
            svec_add_nocopy(&lines, ds_steal_cstr(&s));
        }
    }
    svec_sort(&lines);

    struct ds s = DS_EMPTY_INITIALIZER;
    const char *line;
    size_t i;
    SVEC_FOR_EACH (i, line, &lines) {
        ds_put_format(&s, "%s\n", line);
    }
    svec_destroy(&lines);
    return ds_steal_cstr(&s);
}

static char *
rules_of(const struct npol_world *w, bool ingress)
{
    return flows_of(w, ingress ? NP_T_INGRESS_RULE : NP_T_EGRESS_RULE,
                    ingress ? NP_COOKIE_INGRESS : NP_COOKIE_EGRESS);
}

/* The number of lines of 'text' that contain every string of the
 * NULL-terminated list. */
static size_t
count_lines(const char *text, ...)
{
    size_t n = 0;

    for (const char *line = text; *line; ) {
        const char *end = strchr(line, '\n');
        char *copy = xmemdup0(line, end ? end - line : strlen(line));
        bool all = true;
        va_list args;

        va_start(args, text);
        for (const char *needle; (needle = va_arg(args, const char *)); ) {
            all &= strstr(copy, needle) != NULL;
        }
        va_end(args);
        n += all;
        free(copy);
        line = end ? end + 1 : line + strlen(line);
    }
    return n;
}

#define HAS(TEXT, ...)                                                  \
    do {                                                                \
        if (!count_lines(TEXT, __VA_ARGS__, (char *) NULL)) {           \
            fail_msg("no line with " #__VA_ARGS__ " in:\n%s", TEXT);    \
        }                                                               \
    } while (0)
#define HAS_NO(TEXT, ...)                                               \
    do {                                                                \
        if (count_lines(TEXT, __VA_ARGS__, (char *) NULL)) {            \
            fail_msg("unexpected line with " #__VA_ARGS__ " in:\n%s",   \
                     TEXT);                                             \
        }                                                               \
    } while (0)

/* Adds to 'ids' the conjunction ids named on lines of 'text' that contain
 * 'needle' (every id if 'needle' is NULL), from "conjunction(ID," actions
 * and "conj_id=ID" matches. */
static void
conj_ids(const char *text, const char *needle, struct sset *ids)
{
    for (const char *line = text; *line; ) {
        const char *end = strchr(line, '\n');
        char *copy = xmemdup0(line, end ? end - line : strlen(line));
        if (!needle || strstr(copy, needle)) {
            for (const char *p = copy; (p = strstr(p, "conjunction(")); ) {
                p += strlen("conjunction(");
                char *id = xmemdup0(p, strcspn(p, ","));
                sset_add(ids, id);
                free(id);
            }
            const char *c = strstr(copy, "conj_id=");
            if (c) {
                c += strlen("conj_id=");
                char *id = xmemdup0(c, strcspn(c, " ,"));
                sset_add(ids, id);
                free(id);
            }
        }
        free(copy);
        line = end ? end + 1 : line + strlen(line);
    }
}

static size_t
n_conj_ids(const char *text, const char *needle)
{
    struct sset ids = SSET_INITIALIZER(&ids);
    conj_ids(text, needle, &ids);
    size_t n = sset_count(&ids);
    sset_destroy(&ids);
    return n;
}

static void
assert_no_problems(const struct npol_world *w)
{
    if (w->problems.n) {
        fail_msg("unexpected problem: %s", w->problems.names[0]);
    }
}

/* --- policyTypes and isolation --- */

/* Egress isolation is independent of ingress isolation, and policyTypes
 * defaults to Ingress plus Egress only when there are egress rules. */
static void
test_policy_types(void **state)
{
    struct npol_world *w = *state;

    /* Explicit [Egress]: egress-isolated only. */
    policy(w, "a", "eg", "  podSelector: {matchLabels: {app: web}}\n"
           "  policyTypes: [Egress]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    char *eg = flows_of(w, NP_T_EGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    char *in = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(eg, "ip,nw_src=10.244.0.10 actions=drop");
    HAS(eg, "ipv6,ipv6_src=fd00::10 actions=drop");
    HAS(eg, "ip,nw_src=10.244.0.13 actions=drop");
    assert_int_equal(count_lines(eg, "actions=drop", NULL), 3);
    assert_string_equal(in, "");
    free(eg);
    free(in);

    /* Omitted policyTypes, empty egress list: Ingress only. */
    kcache_remove(w->cache, K8S_KIND_NETWORK_POLICY, "a", "eg");
    policy(w, "a", "dflt", "  podSelector: {matchLabels: {app: db}}\n"
           "  egress: []\n");
    npol_world_compile(w);
    eg = flows_of(w, NP_T_EGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    in = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    assert_string_equal(eg, "");
    HAS(in, "reg1=0x3 actions=drop");
    assert_int_equal(count_lines(in, "actions=drop", NULL), 1);
    free(eg);
    free(in);

    /* Omitted policyTypes with egress rules: both directions. */
    policy(w, "a", "dflt", "  podSelector: {matchLabels: {app: db}}\n"
           "  egress: [{ports: [{port: 53, protocol: UDP}]}]\n");
    npol_world_compile(w);
    eg = flows_of(w, NP_T_EGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    in = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(eg, "ip,nw_src=10.244.0.11 actions=drop");
    HAS(in, "reg1=0x3 actions=drop");
    free(eg);
    free(in);

    /* Explicit [Ingress] with egress rules: the egress rules are
     * ignored. */
    policy(w, "a", "dflt", "  podSelector: {matchLabels: {app: db}}\n"
           "  policyTypes: [Ingress]\n"
           "  egress: [{ports: [{port: 53, protocol: UDP}]}]\n");
    npol_world_compile(w);
    eg = flows_of(w, NP_T_EGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    char *rules = rules_of(w, false);
    assert_string_equal(eg, "");
    assert_string_equal(rules, "");
    free(eg);
    free(rules);
}

/* Several policies selecting a pod: the union of their rules, one
 * isolation drop, each policy's flows under its own cookie. */
static void
test_union(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "p1", "  podSelector: {matchLabels: {app: web}}\n"
           "  ingress: [{from: [{podSelector: {matchLabels: {app: db}}}]}]\n");
    policy(w, "a", "p2", "  podSelector: {matchLabels: {role: front}}\n"
           "  ingress: [{from: [{namespaceSelector: "
           "{matchLabels: {team: y}}}]}]\n");
    npol_world_compile(w);
    assert_no_problems(w);

    char *rules = rules_of(w, true);
    char *c1 = xasprintf("cookie=%#"PRIx64",", np_cookie(NP_COOKIE_INGRESS,
                         hash_string("uid-p1", 0)));
    char *c2 = xasprintf("cookie=%#"PRIx64",", np_cookie(NP_COOKIE_INGRESS,
                         hash_string("uid-p2", 0)));
    HAS(rules, c1, "nw_src=10.244.0.11 actions=conjunction(");
    HAS(rules, c2, "nw_src=10.244.0.12 actions=conjunction(");
    HAS(rules, c2, "ipv6_src=fd00::12 actions=conjunction(");
    HAS_NO(rules, c1, "nw_src=10.244.0.12");
    assert_int_equal(count_lines(rules, c1, NULL)
                     + count_lines(rules, c2, NULL),
                     count_lines(rules, "cookie=", NULL));

    char *drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    /* web (both), web2 (p1 only). */
    assert_int_equal(count_lines(drops, "reg1=0x2 actions=drop", NULL), 1);
    HAS(drops, "reg1=0x5 actions=drop");
    free(c1);
    free(c2);
    free(drops);
    free(rules);
}

/* "ingress: [{}]" allows everything; "ingress: []" nothing. */
static void
test_empty_rule_allows_all(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "all", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{}]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    char *rules = rules_of(w, true);
    /* db has only an IPv4 address: one flow. */
    HAS(rules, "ip,reg1=0x3 actions=set_field:", "->reg3,goto_table:9");
    assert_int_equal(count_lines(rules, "cookie=", NULL), 1);
    HAS_NO(rules, "conjunction");
    free(rules);
    char *drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(drops, "reg1=0x3 actions=drop");
    free(drops);

    policy(w, "a", "all", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: []\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    assert_string_equal(rules, "");
    free(rules);
    drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(drops, "reg1=0x3 actions=drop");
    free(drops);

    /* The same for egress: "egress: [{}]" is every destination. */
    policy(w, "a", "all", "  podSelector: {matchLabels: {app: db}}\n"
           "  policyTypes: [Egress]\n  egress: [{}]\n");
    npol_world_compile(w);
    rules = rules_of(w, false);
    HAS(rules, "ip,nw_src=10.244.0.11 actions=set_field:",
        "->reg2,goto_table:6");
    assert_int_equal(count_lines(rules, "cookie=", NULL), 1);
    free(rules);
}

/* A rule that allows everything next to a conjunctive rule of the same
 * policy: the same target flow is needed by both.  (Regression: the
 * allow-everything flow used to lose to the clause flow, so the policy
 * allowed only what the other rule allowed.) */
static void
test_allow_all_rule_beside_conjunction(void **state)
{
    struct npol_world *w = *state;

    for (int order = 0; order < 2; order++) {
        const char *conj = "{ports: [{port: 80}]}";
        policy(w, "a", "mix", order
               ? "  podSelector: {matchLabels: {app: db}}\n"
                 "  policyTypes: [Egress]\n"
                 "  egress: [{}, {ports: [{port: 80}]}]\n"
               : "  podSelector: {matchLabels: {app: db}}\n"
                 "  policyTypes: [Egress]\n"
                 "  egress: [{ports: [{port: 80}]}, {}]\n");
        (void) conj;
        npol_world_compile(w);
        assert_no_problems(w);
        char *rules = rules_of(w, false);
        HAS(rules, "ip,nw_src=10.244.0.11 actions=set_field:",
            "->reg2,goto_table:6");
        free(rules);

        policy(w, "a", "mix2", order
               ? "  podSelector: {matchLabels: {app: db}}\n"
                 "  ingress: [{}, {}, {from: [{podSelector: {}}]}]\n"
               : "  podSelector: {matchLabels: {app: db}}\n"
                 "  ingress: [{from: [{podSelector: {}}]}, {}, {}]\n");
        npol_world_compile(w);
        assert_no_problems(w);
        rules = rules_of(w, true);
        HAS(rules, "ip,reg1=0x3 actions=set_field:", "->reg3,goto_table:9");
        free(rules);
        kcache_remove(w->cache, K8S_KIND_NETWORK_POLICY, "a", "mix2");
    }
}

/* Omitted or empty from/to: every source; omitted or empty ports: every
 * port (and protocol). */
static void
test_omitted_and_empty_lists(void **state)
{
    struct npol_world *w = *state;
    static const char *const specs[] = {
        "  podSelector: {matchLabels: {app: db}}\n"
        "  ingress: [{ports: [{port: 8080}]}]\n",
        "  podSelector: {matchLabels: {app: db}}\n"
        "  ingress: [{from: [], ports: [{port: 8080}]}]\n",
    };

    for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
        policy(w, "a", "lists", specs[i]);
        npol_world_compile(w);
        assert_no_problems(w);
        char *rules = rules_of(w, true);
        /* Two clauses: target and port; no source clause. */
        HAS(rules, "ip,reg1=0x3 actions=conjunction(", "1/2)");
        HAS(rules, "tcp,tp_dst=8080 actions=conjunction(", "2/2)");
        HAS_NO(rules, "nw_src");
        assert_int_equal(count_lines(rules, "cookie=", NULL), 3);
        free(rules);
    }

    static const char *const specs2[] = {
        "  podSelector: {matchLabels: {app: db}}\n"
        "  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]\n",
        "  podSelector: {matchLabels: {app: db}}\n"
        "  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], "
        "ports: []}]\n",
    };
    for (size_t i = 0; i < ARRAY_SIZE(specs2); i++) {
        policy(w, "a", "lists", specs2[i]);
        npol_world_compile(w);
        char *rules = rules_of(w, true);
        HAS(rules, "ip,nw_src=10.244.0.10 actions=conjunction(", "1/2)");
        HAS(rules, "ip,nw_src=10.244.0.13 actions=conjunction(", "1/2)");
        HAS(rules, "ip,reg1=0x3 actions=conjunction(", "2/2)");
        HAS_NO(rules, "tp_dst");
        HAS_NO(rules, "tcp");
        free(rules);
    }
}

/* A peer selector that selects no pod allows nothing, and the pods of the
 * policy stay isolated. */
static void
test_selects_nothing(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "none", "  podSelector: {matchLabels: {app: db}}\n"
           "  policyTypes: [Ingress, Egress]\n"
           "  ingress: [{from: [{podSelector: "
           "{matchLabels: {app: nobody}}}]}]\n"
           "  egress: [{to: [{namespaceSelector: "
           "{matchLabels: {team: nobody}}}], ports: [{port: 80}]}]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    char *in = rules_of(w, true);
    char *eg = rules_of(w, false);
    assert_string_equal(in, "");
    assert_string_equal(eg, "");
    free(in);
    free(eg);
    char *drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(drops, "reg1=0x3 actions=drop");
    free(drops);
    drops = flows_of(w, NP_T_EGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(drops, "nw_src=10.244.0.11 actions=drop");
    free(drops);
}

/* Egress rules: target = source address, peer = destination address,
 * enforced at the source pod; the egress default drops. */
static void
test_egress_rules(void **state)
{
    struct npol_world *w = *state;

    policy(w, "b", "out", "  podSelector: {matchLabels: {app: client}}\n"
           "  policyTypes: [Egress]\n"
           "  egress: [{to: [{namespaceSelector: {matchLabels: {team: x}},"
           " podSelector: {matchLabels: {app: db}}}],"
           " ports: [{port: 8080}]}]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    char *rules = rules_of(w, false);
    /* Clauses: 1 peer (nw_dst), 2 target (nw_src), 3 ports.  client is
     * dual-stack but db has no IPv6 address: an IPv4 conjunction only. */
    HAS(rules, "table=4,", "ip,nw_dst=10.244.0.11 actions=conjunction(",
        "1/3)");
    HAS(rules, "ip,nw_src=10.244.0.12 actions=conjunction(", "2/3)");
    HAS(rules, "tcp,tp_dst=8080 actions=conjunction(", "3/3)");
    HAS(rules, "conj_id=", "->reg2,goto_table:6");
    HAS_NO(rules, "ipv6");
    assert_int_equal(count_lines(rules, "cookie=", NULL), 4);
    free(rules);

    char *drops = flows_of(w, NP_T_EGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(drops, "table=5,", "ip,nw_src=10.244.0.12 actions=drop");
    HAS(drops, "ipv6,ipv6_src=fd00::12 actions=drop");
    assert_int_equal(count_lines(drops, "drop", NULL), 2);
    free(drops);
    drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    assert_string_equal(drops, "");
    free(drops);
}

/* podSelector alone: the policy's namespace; namespaceSelector alone:
 * every pod of matching namespaces (remote ones too); both in one peer:
 * AND; as two peers: OR. */
static void
test_peer_selectors(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "ps", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{from: [{podSelector: "
           "{matchLabels: {app: web}}}]}]\n");
    npol_world_compile(w);
    char *rules = rules_of(w, true);
    HAS(rules, "nw_src=10.244.0.10 ");
    HAS(rules, "nw_src=10.244.0.13 ");
    HAS_NO(rules, "nw_src=10.244.1.5 ");    /* app=web, but in b. */
    free(rules);

    policy(w, "a", "ps", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{from: [{namespaceSelector: "
           "{matchLabels: {team: y}}}]}]\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    HAS(rules, "nw_src=10.244.0.12 ");
    HAS(rules, "nw_src=10.244.1.5 ");
    HAS_NO(rules, "nw_src=10.244.0.10 ");
    assert_int_equal(count_lines(rules, "nw_src=", NULL), 2);
    free(rules);

    /* namespaceSelector {} is every namespace. */
    policy(w, "a", "ps", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{from: [{namespaceSelector: {}}]}]\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    assert_int_equal(count_lines(rules, "ip,nw_src=", NULL), 5);
    free(rules);

    /* AND: app=web in namespaces with team=y: only b/remote. */
    policy(w, "a", "ps", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{from: [{namespaceSelector: "
           "{matchLabels: {team: y}}, podSelector: "
           "{matchLabels: {app: web}}}]}]\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    HAS(rules, "nw_src=10.244.1.5 ");
    assert_int_equal(count_lines(rules, "nw_src=", NULL), 1);
    free(rules);

    /* OR: the same two selectors as two peers. */
    policy(w, "a", "ps", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{from: [{namespaceSelector: "
           "{matchLabels: {team: y}}}, {podSelector: "
           "{matchLabels: {app: web}}}]}]\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    HAS(rules, "nw_src=10.244.1.5 ");
    HAS(rules, "nw_src=10.244.0.12 ");
    HAS(rules, "nw_src=10.244.0.10 ");
    HAS(rules, "nw_src=10.244.0.13 ");
    HAS_NO(rules, "nw_src=10.244.0.11 ");
    HAS_NO(rules, "ipv6");          /* db has no IPv6 address. */
    free(rules);

    /* Namespaces carry kubernetes.io/metadata.name. */
    policy(w, "a", "ps", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{from: [{namespaceSelector: {matchLabels: "
           "{kubernetes.io/metadata.name: b}}}]}]\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    HAS(rules, "nw_src=10.244.1.5 ");
    HAS(rules, "nw_src=10.244.0.12 ");
    assert_int_equal(count_lines(rules, "nw_src=", NULL), 2);
    free(rules);
}

/* ipBlock with except: the exact CIDRs of cidr minus except, for pod
 * addresses as well as others. */
static void
test_ip_block_except(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "ipb", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, "
           "except: [10.1.0.0/16]}}]}]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    char *rules = rules_of(w, true);
    static const char *const cidrs[] = {
        "10.0.0.0/16", "10.2.0.0/15", "10.4.0.0/14", "10.8.0.0/13",
        "10.16.0.0/12", "10.32.0.0/11", "10.64.0.0/10", "10.128.0.0/9",
    };
    for (size_t i = 0; i < ARRAY_SIZE(cidrs); i++) {
        char *s = xasprintf("ip,nw_src=%s actions=conjunction(", cidrs[i]);
        HAS(rules, s);
        free(s);
    }
    assert_int_equal(count_lines(rules, "nw_src=", NULL), ARRAY_SIZE(cidrs));
    free(rules);

    /* The upstream e2e suite's "<podIP>/4 except <otherPodIP>/32": host
     * bits cleared, the pod's address excepted. */
    policy(w, "a", "ipb", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{from: [{ipBlock: {cidr: 10.244.0.12/4, "
           "except: [10.244.0.10/32]}}]}]\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    HAS(rules, "nw_src=10.244.0.11 ");
    HAS(rules, "nw_src=10.244.0.8/31 ");
    HAS(rules, "nw_src=0.0.0.0/5 ");      /* Nothing of 0.0.0.0/4 ... */
    HAS_NO(rules, "nw_src=10.244.0.10 "); /* ... but the except. */
    HAS_NO(rules, "nw_src=10.244.0.10/");
    free(rules);

    /* IPv6 blocks: IPv6 conjunctions only. */
    policy(w, "a", "ipb", "  podSelector: {matchLabels: {app: web}}\n"
           "  ingress: [{from: [{ipBlock: {cidr: 'fd00::/64', "
           "except: ['fd00::12/128']}}]}]\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    HAS(rules, "ipv6,ipv6_src=fd00::/124 actions=conjunction(");
    HAS(rules, "ipv6,ipv6_src=fd00::10/127 actions=conjunction(");
    HAS(rules, "ipv6,ipv6_src=fd00::13 actions=conjunction(");
    HAS(rules, "ipv6,ipv6_src=fd00::8000:0:0:0/65 actions=conjunction(");
    /* A /64 minus one address: one CIDR per bit, 64. */
    assert_int_equal(count_lines(rules, "ipv6_src=", NULL), 64);
    HAS_NO(rules, "fd00::12 ");
    HAS_NO(rules, "ip,");
    free(rules);
}

/* matchExpressions: In, NotIn, Exists, DoesNotExist. */
static void
test_match_expressions(void **state)
{
    static const struct {
        const char *expr;
        const char *selected[5];
    } cases[] = {
        { "{key: app, operator: In, values: [web, client]}",
          { "10.244.0.10 ", "10.244.0.12 ", "10.244.0.13 ", "10.244.1.5 " } },
        { "{key: app, operator: NotIn, values: [web]}",
          { "10.244.0.11 ", "10.244.0.12 " } },
        { "{key: role, operator: Exists}", { "10.244.0.10 " } },
        { "{key: role, operator: DoesNotExist}",
          { "10.244.0.11 ", "10.244.0.12 ", "10.244.0.13 ", "10.244.1.5 " } },
    };
    struct npol_world *w = *state;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *spec = xasprintf("  podSelector: {matchLabels: {app: db}}\n"
                               "  ingress: [{from: [{namespaceSelector: {},"
                               " podSelector: {matchExpressions: [%s]}}]}]"
                               "\n", cases[i].expr);
        policy(w, "a", "expr", spec);
        free(spec);
        npol_world_compile(w);
        assert_no_problems(w);
        char *rules = rules_of(w, true);
        size_t n = 0;
        for (size_t j = 0; cases[i].selected[j]; j++, n++) {
            char *s = xasprintf("ip,nw_src=%s", cases[i].selected[j]);
            HAS(rules, s);
            free(s);
        }
        if (count_lines(rules, "ip,nw_src=", NULL) != n) {
            fail_msg("%s selects more than expected:\n%s", cases[i].expr,
                     rules);
        }
        free(rules);
    }

    /* The policy's own podSelector with an expression, too. */
    policy(w, "a", "expr", "  podSelector: {matchExpressions: "
           "[{key: app, operator: NotIn, values: [web]}]}\n"
           "  ingress: []\n");
    npol_world_compile(w);
    char *drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(drops, "reg1=0x3 actions=drop");
    assert_int_equal(count_lines(drops, "drop", NULL), 1);
    free(drops);
}

/* Named ports on ingress resolve on each target pod; pods that resolve
 * alike share one conjunction, pods that cannot resolve get no port (but
 * stay isolated). */
static void
test_named_ports_ingress(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "named", "  podSelector: {}\n"
           "  ingress: [{from: [{namespaceSelector: {}}], "
           "ports: [{port: http}]}]\n");
    policy(w, "b", "named-b", "  podSelector: {}\n"
           "  ingress: [{ports: [{port: http}]}]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    char *rules = rules_of(w, true);

    /* web and web2 (http=80) share a conjunction; db (http=8080) has its
     * own. */
    struct sset web = SSET_INITIALIZER(&web);
    struct sset web2 = SSET_INITIALIZER(&web2);
    struct sset db = SSET_INITIALIZER(&db);
    conj_ids(rules, "ip,reg1=0x2 ", &web);
    conj_ids(rules, "ip,reg1=0x5 ", &web2);
    conj_ids(rules, "ip,reg1=0x3 ", &db);
    assert_int_equal(sset_count(&web), 1);
    assert_true(sset_equals(&web, &web2));
    assert_int_equal(sset_count(&db), 1);
    assert_false(sset_equals(&web, &db));
    struct sset p80 = SSET_INITIALIZER(&p80);
    struct sset p8080 = SSET_INITIALIZER(&p8080);
    conj_ids(rules, "tcp,tp_dst=80 ", &p80);
    conj_ids(rules, "tcp,tp_dst=8080 ", &p8080);
    assert_true(sset_contains(&p80, SSET_FIRST(&web)));
    assert_false(sset_contains(&p80, SSET_FIRST(&db)));
    assert_true(sset_contains(&p8080, SSET_FIRST(&db)));
    sset_destroy(&web);
    sset_destroy(&web2);
    sset_destroy(&db);
    sset_destroy(&p80);
    sset_destroy(&p8080);

    /* client (namespace b) has no port named http: no rule flows for it,
     * but it is isolated. */
    HAS_NO(rules, "reg1=0x4");
    free(rules);
    char *drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(drops, "reg1=0x4 actions=drop");
    free(drops);

    /* The name must come with the container port's protocol: dns is
     * UDP/53 on web, so a TCP "dns" resolves nowhere. */
    kcache_remove(w->cache, K8S_KIND_NETWORK_POLICY, "b", "named-b");
    policy(w, "a", "named", "  podSelector: {matchLabels: {app: web}}\n"
           "  ingress: [{ports: [{port: dns}, "
           "{port: dns, protocol: UDP}]}]\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    HAS(rules, "udp,tp_dst=53 actions=conjunction(");
    HAS_NO(rules, "tcp");
    HAS(rules, "ip,reg1=0x2 actions=conjunction(");
    HAS_NO(rules, "reg1=0x5");              /* web2 has no dns port. */
    free(rules);
}

/* Named ports on egress resolve on each destination pod, remote ones
 * included; a named port never matches an address that is not a pod's. */
static void
test_named_ports_egress(void **state)
{
    struct npol_world *w = *state;

    policy(w, "b", "out", "  podSelector: {matchLabels: {app: client}}\n"
           "  policyTypes: [Egress]\n"
           "  egress: [{to: [{namespaceSelector: {}, podSelector: "
           "{matchLabels: {app: web}}}], ports: [{port: http}]}]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    char *rules = rules_of(w, false);
    /* web, web2 (80) in one group, remote (8081) in another. */
    struct sset g80 = SSET_INITIALIZER(&g80);
    struct sset g8081 = SSET_INITIALIZER(&g8081);
    conj_ids(rules, "nw_dst=10.244.0.10 ", &g80);
    conj_ids(rules, "nw_dst=10.244.0.13 ", &g80);
    conj_ids(rules, "nw_dst=10.244.1.5 ", &g8081);
    assert_int_equal(sset_count(&g80), 1);
    assert_int_equal(sset_count(&g8081), 1);
    struct sset p = SSET_INITIALIZER(&p);
    conj_ids(rules, "tcp,tp_dst=80 ", &p);
    assert_true(sset_equals(&p, &g80));
    sset_clear(&p);
    conj_ids(rules, "tcp,tp_dst=8081 ", &p);
    assert_true(sset_equals(&p, &g8081));
    sset_destroy(&p);
    sset_destroy(&g80);
    sset_destroy(&g8081);
    /* web has an IPv6 address and a port 80: an IPv6 conjunction too. */
    HAS(rules, "ipv6,ipv6_dst=fd00::10 actions=conjunction(");
    HAS(rules, "tcp6,tp_dst=80 actions=conjunction(");
    free(rules);

    /* Omitted "to" with a named port: every pod that has it; an ipBlock
     * peer contributes no address to a named port. */
    policy(w, "b", "out", "  podSelector: {matchLabels: {app: client}}\n"
           "  policyTypes: [Egress]\n"
           "  egress: [{ports: [{port: metrics}]}, "
           "{to: [{ipBlock: {cidr: 192.168.0.0/16}}], "
           "ports: [{port: http}]}]\n");
    npol_world_compile(w);
    rules = rules_of(w, false);
    HAS(rules, "ip,nw_dst=10.244.0.11 actions=conjunction(");
    HAS(rules, "tcp,tp_dst=9090 actions=conjunction(");
    HAS_NO(rules, "192.168");
    HAS_NO(rules, "nw_dst=10.244.0.10 ");
    free(rules);

    /* An ipBlock that covers pod addresses: the named port resolves on
     * each pod inside it, for the addresses inside it only.  (Regression:
     * ipBlock peers used to contribute nothing to named ports.) */
    policy(w, "b", "out", "  podSelector: {matchLabels: {app: client}}\n"
           "  policyTypes: [Egress]\n"
           "  egress: [{to: [{ipBlock: {cidr: 10.244.0.8/30, "
           "except: [10.244.0.9/32]}}], ports: [{port: http}]}]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    rules = rules_of(w, false);
    struct sset web = SSET_INITIALIZER(&web);
    struct sset db = SSET_INITIALIZER(&db);
    conj_ids(rules, "nw_dst=10.244.0.10 ", &web);
    conj_ids(rules, "nw_dst=10.244.0.11 ", &db);
    assert_int_equal(sset_count(&web), 1);
    assert_int_equal(sset_count(&db), 1);
    assert_false(sset_equals(&web, &db));
    p = (struct sset) SSET_INITIALIZER(&p);
    conj_ids(rules, "tcp,tp_dst=80 ", &p);
    assert_true(sset_equals(&p, &web));
    sset_clear(&p);
    conj_ids(rules, "tcp,tp_dst=8080 ", &p);
    assert_true(sset_equals(&p, &db));
    sset_destroy(&p);
    sset_destroy(&web);
    sset_destroy(&db);
    HAS_NO(rules, "ipv6");          /* web's IPv6 address is outside. */
    HAS_NO(rules, "nw_dst=10.244.0.13 ");
    HAS_NO(rules, "nw_dst=10.244.0.9");
    free(rules);
}

/* endPort: the range as value/mask pairs, exactly
 * npol_port_range_split()'s. */
static void
test_end_port(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "range", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{ports: [{port: 1000, endPort: 2000}]}]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    char *rules = rules_of(w, true);

    uint16_t values[32], masks[32];
    size_t n = npol_port_range_split(1000, 2000, values, masks);
    assert_true(n > 1);
    for (size_t i = 0; i < n; i++) {
        char *s = (masks[i] == UINT16_MAX
                   ? xasprintf("tcp,tp_dst=%"PRIu16" actions", values[i])
                   : xasprintf("tcp,tp_dst=%#"PRIx16"/%#"PRIx16" actions",
                               values[i], masks[i]));
        HAS(rules, s, "2/2)");
        free(s);
    }
    assert_int_equal(count_lines(rules, "tp_dst=", NULL), n);
    /* All of them in one conjunction. */
    assert_int_equal(n_conj_ids(rules, NULL), 1);
    free(rules);
}

/* TCP (the default), UDP and SCTP; a port entry without a number is every
 * port of its protocol. */
static void
test_protocols(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "proto", "  podSelector: {matchLabels: {app: web}}\n"
           "  ingress: [{ports: [{port: 80}, {protocol: UDP, port: 53}, "
           "{protocol: SCTP, port: 7777}, {protocol: UDP}]}]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    char *rules = rules_of(w, true);
    HAS(rules, "tcp,tp_dst=80 actions=conjunction(");
    HAS(rules, "udp,tp_dst=53 actions=conjunction(");
    HAS(rules, "sctp,tp_dst=7777 actions=conjunction(");
    HAS(rules, "udp actions=conjunction(");
    HAS(rules, "tcp6,tp_dst=80 actions=conjunction(");
    HAS(rules, "sctp6,tp_dst=7777 actions=conjunction(");
    free(rules);

    /* A policy that allows only SCTP must not allow TCP. */
    policy(w, "a", "proto", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{ports: [{protocol: SCTP, port: 80}]}]\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    HAS(rules, "sctp,tp_dst=80 ");
    HAS_NO(rules, "tcp");
    HAS_NO(rules, "udp");
    free(rules);
}

/* IPv6 and dual-stack: each family gets its own conjunction; no
 * conjunction mixes IPv4 and IPv6 flows. */
static void
test_dual_stack(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "ds", "  podSelector: {matchLabels: {app: web}}\n"
           "  policyTypes: [Ingress, Egress]\n"
           "  ingress: [{from: [{namespaceSelector: "
           "{matchLabels: {team: y}}}], ports: [{port: 80}]}]\n"
           "  egress: [{to: [{namespaceSelector: {}}, "
           "{ipBlock: {cidr: '2001:db8::/32'}}], ports: [{port: 443}]}]\n");
    npol_world_compile(w);
    assert_no_problems(w);

    for (int ingress = 0; ingress < 2; ingress++) {
        char *rules = rules_of(w, ingress);
        struct sset v4 = SSET_INITIALIZER(&v4);
        struct sset v6 = SSET_INITIALIZER(&v6);
        for (const char *line = rules; *line; ) {
            const char *end = strchr(line, '\n');
            char *copy = xmemdup0(line, end - line);
            if (!strstr(copy, "conj_id=")) {
                bool is6 = (strstr(copy, "ipv6") || strstr(copy, "tcp6"));
                conj_ids(copy, NULL, is6 ? &v6 : &v4);
            }
            free(copy);
            line = end + 1;
        }
        assert_true(sset_count(&v4) >= 1);
        assert_true(sset_count(&v6) >= 1);
        const char *id;
        SSET_FOR_EACH (id, &v4) {
            if (sset_contains(&v6, id)) {
                fail_msg("conjunction %s mixes IPv4 and IPv6:\n%s", id,
                         rules);
            }
        }
        sset_destroy(&v4);
        sset_destroy(&v6);
        free(rules);
    }

    char *eg = rules_of(w, false);
    HAS(eg, "ipv6,ipv6_src=fd00::10 actions=conjunction(");
    HAS(eg, "ip,nw_src=10.244.0.10 actions=conjunction(");
    HAS(eg, "ipv6,ipv6_dst=2001:db8::/32 actions=conjunction(");
    HAS(eg, "ipv6,ipv6_dst=fd00::12 actions=conjunction(");
    HAS(eg, "tcp6,tp_dst=443 actions=conjunction(");
    /* web2 has no IPv6 address: no IPv6 target flow for it. */
    HAS(eg, "ip,nw_src=10.244.0.13 actions=conjunction(");
    HAS_NO(eg, "ipv6_src=", "10.244.0.13");
    free(eg);

    /* Isolation of both families. */
    char *drops = flows_of(w, NP_T_EGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(drops, "ipv6,ipv6_src=fd00::10 actions=drop");
    HAS(drops, "ip,nw_src=10.244.0.10 actions=drop");
    free(drops);
}

/* Always allowed, whatever the policies: the node to its pods and its
 * pods to the node, a pod to itself, ARP and neighbour discovery, replies
 * of allowed connections. */
static void
test_always_allowed(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "deny", "  podSelector: {}\n"
           "  policyTypes: [Ingress, Egress]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    char *p = flows_of(w, -1, NP_COOKIE_PIPELINE);
    char *pods = flows_of(w, -1, NP_COOKIE_POD);

    /* The node (the gateway port, from its address) reaches every pod. */
    HAS(p, "table=7, priority=64998,ip,reg0=0x2/0xf,nw_src=10.244.0.1 "
        "actions=goto_table:9");
    /* Pods reach the node's address whatever their egress policy. */
    HAS(p, "table=4, priority=64998,ip,nw_dst=10.244.0.1 "
        "actions=goto_table:6");
    /* Traffic to the gateway port is not subject to ingress here. */
    HAS(p, "table=7, priority=64999,reg1=0x1 actions=goto_table:9");
    /* Replies and related packets skip policy. */
    HAS(p, "table=3,", "ct_state=+est+rpl+trk,ip actions=set_field:0x10/0x10"
        "->reg0,goto_table:6");
    HAS(p, "table=3,", "ct_state=+rel+trk,ipv6 actions=");
    HAS(p, "table=7, priority=65000,reg0=0x10/0x10 actions=goto_table:10");

    /* A pod to itself, both families, both directions. */
    HAS(pods, "table=4,", "ip,nw_src=10.244.0.10,nw_dst=10.244.0.10 "
        "actions=goto_table:6");
    HAS(pods, "table=4,", "ipv6,ipv6_src=fd00::10,ipv6_dst=fd00::10 "
        "actions=goto_table:6");
    HAS(pods, "table=7,", "ip,reg1=0x2,nw_src=10.244.0.10 "
        "actions=goto_table:9");
    HAS(pods, "table=7,", "ipv6,reg1=0x2,ipv6_src=fd00::10 "
        "actions=goto_table:9");
    /* ARP for its own address, neighbour discovery from its own MAC. */
    HAS(pods, "table=1,", "arp,in_port=2,dl_src=0a:00:00:00:00:02,"
        "arp_spa=10.244.0.10,arp_sha=0a:00:00:00:00:02 actions=NORMAL");
    HAS(pods, "table=1,", "icmp6,in_port=2,dl_src=0a:00:00:00:00:02,"
        "icmp_type=135 actions=NORMAL");
    /* These bypasses outrank every policy priority. */
    const struct np_flow *f;
    FLOWSET_FOR_EACH (f, &w->flows) {
        uint64_t cat = f->cookie >> NP_COOKIE_CATEGORY_SHIFT;
        if (cat == NP_COOKIE_INGRESS || cat == NP_COOKIE_EGRESS) {
            assert_true(f->priority < NP_PRI_TOP - 3);
        }
    }
    free(p);
    free(pods);
}

/* Changes re-evaluate everything they touch: pod labels, namespace
 * labels, pod addresses, deletion and re-creation, policy updates. */
static void
test_changes_recompiled(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "chg", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{from: [{namespaceSelector: "
           "{matchLabels: {team: y}}, podSelector: "
           "{matchLabels: {app: client}}}]}]\n");
    npol_world_compile(w);
    struct ds first = DS_EMPTY_INITIALIZER;
    flowset_format(&w->flows, &first);
    char *rules = rules_of(w, true);
    HAS(rules, "nw_src=10.244.0.12 ");
    free(rules);

    /* Pod label change: no longer selected. */
    pod(w, "b", "client", "{app: other}", "node1",
        "[{ip: 10.244.0.12}, {ip: 'fd00::12'}]", "[]", NULL);
    npol_world_compile(w);
    rules = rules_of(w, true);
    assert_string_equal(rules, "");
    free(rules);

    /* Back, then a namespace label change. */
    pod(w, "b", "client", "{app: client}", "node1",
        "[{ip: 10.244.0.12}, {ip: 'fd00::12'}]", "[]", NULL);
    load_text(w, "apiVersion: v1\nkind: Namespace\n"
              "metadata: {name: b, labels: {team: z}}\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    assert_string_equal(rules, "");
    free(rules);
    load_text(w, "apiVersion: v1\nkind: Namespace\n"
              "metadata: {name: b, labels: {team: y, env: prod}}\n");

    /* Address change. */
    pod(w, "b", "client", "{app: client}", "node1",
        "[{ip: 10.244.0.42}]", "[]", NULL);
    npol_world_compile(w);
    rules = rules_of(w, true);
    HAS(rules, "nw_src=10.244.0.42 ");
    HAS_NO(rules, "nw_src=10.244.0.12 ");
    HAS_NO(rules, "ipv6_src=fd00::12");
    free(rules);

    /* Deletion, then re-creation with the same addresses: exactly the
     * flows of the start. */
    kcache_remove(w->cache, K8S_KIND_POD, "b", "client");
    npol_world_compile(w);
    rules = rules_of(w, true);
    HAS_NO(rules, "nw_src=10.244.0.42 ");
    free(rules);
    pod(w, "b", "client", "{app: client}", "node1",
        "[{ip: 10.244.0.12}, {ip: 'fd00::12'}]", "[]", NULL);
    npol_world_compile(w);
    struct ds again = DS_EMPTY_INITIALIZER;
    flowset_format(&w->flows, &again);
    assert_string_equal(ds_cstr(&first), ds_cstr(&again));

    /* Policy update and deletion. */
    policy(w, "a", "chg", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{from: [{podSelector: {}}]}]\n");
    npol_world_compile(w);
    rules = rules_of(w, true);
    HAS_NO(rules, "nw_src=10.244.0.12 ");
    HAS(rules, "nw_src=10.244.0.10 ");
    free(rules);
    kcache_remove(w->cache, K8S_KIND_NETWORK_POLICY, "a", "chg");
    npol_world_compile(w);
    rules = rules_of(w, true);
    assert_string_equal(rules, "");
    free(rules);
    char *drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    assert_string_equal(drops, "");
    free(drops);
    ds_destroy(&first);
    ds_destroy(&again);
}

/* Pods without addresses are no peers; finished (Succeeded, Failed) pods
 * are neither peers nor forwarded; terminating pods keep being enforced
 * and selected; hostNetwork pods are not selected by selectors (their
 * addresses are their node's). */
static void
test_pod_lifecycle(void **state)
{
    struct npol_world *w = *state;

    pod(w, "b", "noip", "{app: peer}", "node2", "[]", "[]", NULL);
    pod(w, "b", "done", "{app: peer}", "node2", "[{ip: 10.244.1.7}]", "[]",
        NULL);
    load_text(w, "apiVersion: v1\nkind: Pod\n"
              "metadata: {name: done, namespace: b, labels: {app: peer}}\n"
              "spec: {nodeName: node2}\n"
              "status: {phase: Succeeded, podIPs: [{ip: 10.244.1.7}]}\n");
    load_text(w, "apiVersion: v1\nkind: Pod\n"
              "metadata: {name: failed, namespace: b, labels: {app: peer}}\n"
              "spec: {nodeName: node2}\n"
              "status: {phase: Failed, podIPs: [{ip: 10.244.1.8}]}\n");
    load_text(w, "apiVersion: v1\nkind: Pod\n"
              "metadata: {name: host, namespace: b, labels: {app: peer}}\n"
              "spec: {nodeName: node2, hostNetwork: true}\n"
              "status: {phase: Running, podIPs: [{ip: 172.18.0.2}]}\n");
    pod(w, "b", "leaving", "{app: peer}", "node2", "[{ip: 10.244.1.9}]",
        "[]", ", deletionTimestamp: '2026-01-01T00:00:00Z'");
    policy(w, "a", "lc", "  podSelector: {matchLabels: {app: db}}\n"
           "  ingress: [{from: [{namespaceSelector: {}, podSelector: "
           "{matchLabels: {app: peer}}}]}]\n");
    npol_world_compile(w);
    assert_no_problems(w);
    char *rules = rules_of(w, true);
    HAS(rules, "nw_src=10.244.1.9 ");       /* Terminating: still a peer. */
    HAS_NO(rules, "nw_src=10.244.1.7 ");    /* Succeeded. */
    HAS_NO(rules, "nw_src=10.244.1.8 ");    /* Failed. */
    HAS_NO(rules, "nw_src=172.18.0.2 ");    /* hostNetwork. */
    assert_int_equal(count_lines(rules, "nw_src=", NULL), 1);
    free(rules);

    /* A local pod that finished gets no forwarding; a terminating local
     * pod is still enforced and isolated. */
    load_text(w, "apiVersion: v1\nkind: Pod\n"
              "metadata: {name: web2, namespace: a, labels: {app: web}}\n"
              "spec: {nodeName: node1}\n"
              "status: {phase: Failed, podIPs: [{ip: 10.244.0.13}]}\n");
    pod(w, "a", "db", "{app: db}", "node1", "[{ip: 10.244.0.11}]", "[]",
        ", deletionTimestamp: '2026-01-01T00:00:00Z'");
    npol_world_compile(w);
    char *pods = flows_of(w, NP_T_CLASSIFY, NP_COOKIE_POD);
    HAS_NO(pods, "in_port=5 ");
    HAS(pods, "in_port=3 ");
    free(pods);
    char *drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(drops, "reg1=0x3 actions=drop");
    free(drops);

    /* A local pod without an address yet: no forwarding either. */
    pod(w, "a", "web", "{app: web}", "node1", "[]", "[]", NULL);
    npol_world_compile(w);
    pods = flows_of(w, NP_T_CLASSIFY, NP_COOKIE_POD);
    HAS_NO(pods, "in_port=2 ");
    free(pods);
}

/* Every rule flow of a policy carries its cookie; cookies and ids do not
 * depend on the other policies. */
static void
test_cookies(void **state)
{
    struct npol_world *w = *state;

    policy(w, "a", "c1", "  podSelector: {}\n"
           "  policyTypes: [Ingress, Egress]\n"
           "  ingress: [{from: [{podSelector: {}}], ports: [{port: 80}]}]\n"
           "  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]\n");
    npol_world_compile(w);
    char *c1_alone = flows_of(w, -1, -1);
    policy(w, "b", "c2", "  podSelector: {}\n"
           "  ingress: [{from: [{podSelector: {}}], ports: [{port: 80}]}]\n");
    npol_world_compile(w);

    uint64_t in1 = np_cookie(NP_COOKIE_INGRESS, hash_string("uid-c1", 0));
    uint64_t eg1 = np_cookie(NP_COOKIE_EGRESS, hash_string("uid-c1", 0));
    uint64_t in2 = np_cookie(NP_COOKIE_INGRESS, hash_string("uid-c2", 0));
    const struct np_flow *f;
    size_t n1 = 0, n2 = 0;
    FLOWSET_FOR_EACH (f, &w->flows) {
        if (f->table_id == NP_T_INGRESS_RULE
            && f->priority >= NP_PRI_POLICY_MIN
            && f->priority <= NP_PRI_POLICY_MAX) {
            assert_true(f->cookie == in1 || f->cookie == in2);
            n1 += f->cookie == in1;
            n2 += f->cookie == in2;
        } else if (f->table_id == NP_T_EGRESS_RULE
                   && f->priority >= NP_PRI_POLICY_MIN
                   && f->priority <= NP_PRI_POLICY_MAX) {
            assert_true(f->cookie == eg1);
        }
    }
    assert_true(n1 > 0 && n2 > 0);

    /* Removing c2 gives back c1's flows byte for byte. */
    kcache_remove(w->cache, K8S_KIND_NETWORK_POLICY, "b", "c2");
    npol_world_compile(w);
    char *c1_again = flows_of(w, -1, -1);
    assert_string_equal(c1_alone, c1_again);
    free(c1_alone);
    free(c1_again);
}

/* A policy that cannot be understood is reported, naming the policy and
 * why, and isolates its pods in the directions it names. */
static void
test_uncompilable_policy(void **state)
{
    struct npol_world *w = *state;

    char *error = load_text_error(
        w, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: bad, namespace: a}\nspec:\n"
        "  podSelector: {matchLabels: {app: db}}\n"
        "  policyTypes: [Egress]\n"
        "  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, "
        "except: [11.0.0.0/16]}}]}]\n");
    assert_non_null(error);
    free(error);
    npol_world_compile(w);
    bool named = false;
    for (size_t i = 0; i < w->problems.n; i++) {
        named |= (strstr(w->problems.names[i], "a/bad") != NULL
                  && strstr(w->problems.names[i], "egress") != NULL);
    }
    if (!named) {
        fail_msg("no problem names a/bad");
    }
    char *eg = flows_of(w, NP_T_EGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    HAS(eg, "nw_src=10.244.0.11 actions=drop");
    free(eg);
    char *in = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    assert_string_equal(in, "");
    free(in);
    char *rules = rules_of(w, false);
    assert_string_equal(rules, "");
    free(rules);
}

#define WORLD_TEST(F) \
    cmocka_unit_test_setup_teardown(F, world_setup, npol_world_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        WORLD_TEST(test_policy_types),
        WORLD_TEST(test_union),
        WORLD_TEST(test_empty_rule_allows_all),
        WORLD_TEST(test_allow_all_rule_beside_conjunction),
        WORLD_TEST(test_omitted_and_empty_lists),
        WORLD_TEST(test_selects_nothing),
        WORLD_TEST(test_egress_rules),
        WORLD_TEST(test_peer_selectors),
        WORLD_TEST(test_ip_block_except),
        WORLD_TEST(test_match_expressions),
        WORLD_TEST(test_named_ports_ingress),
        WORLD_TEST(test_named_ports_egress),
        WORLD_TEST(test_end_port),
        WORLD_TEST(test_protocols),
        WORLD_TEST(test_dual_stack),
        WORLD_TEST(test_always_allowed),
        WORLD_TEST(test_changes_recompiled),
        WORLD_TEST(test_pod_lifecycle),
        WORLD_TEST(test_cookies),
        WORLD_TEST(test_uncompilable_policy),
    };
    return cmocka_run_group_tests_name("npol-features", tests, NULL, NULL);
}
