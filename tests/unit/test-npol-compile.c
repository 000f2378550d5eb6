/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* The policy compiler: golden flows for the seed's policies, and the
 * behaviour of its building blocks. */

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
#include "tests/unit/unit-file.h"
#include "flow.h"
#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "svec.h"
#include "util.h"

#define EXAMPLES NP_TEST_DATADIR "/../../deploy/examples"

/* Loads 'text' into 'w'; objects the cache rejects are recorded in
 * 'w->problems'. */
static void
load_text(struct npol_world *w, const char *text)
{
    npol_world_load_text(w, text, &w->problems);
}

static void
load_file(struct npol_world *w, const char *name)
{
    char *path = xasprintf("%s/%s", EXAMPLES, name);
    char *text = unit_read_file(path, NULL);
    load_text(w, text);
    free(text);
    free(path);
}

/* The seed's world: namespaces demo and other, pods nginx, foo, bar (local,
 * ofports 2..4) and other/foo. */
static void
seed_world(struct npol_world *w)
{
    load_file(w, "namespaces.yaml");
    load_file(w, "pod-demo-nginx.yaml");
    load_file(w, "pod-demo-foo.yaml");
    load_file(w, "pod-demo-bar.yaml");
    load_file(w, "pod-other-foo.yaml");
    npol_world_add_port(w, "demo", "nginx", 2, "0a:00:00:00:00:0a");
    npol_world_add_port(w, "demo", "foo", 3, "0a:00:00:00:00:0b");
    npol_world_add_port(w, "demo", "bar", 4, "0a:00:00:00:00:0c");
}

/* Returns the flows of 'table' whose cookie has 'category', one per line,
 * sorted. */
static char *
flows_of(const struct npol_world *w, int table, enum np_cookie_category cat)
{
    struct flowset sub;
    const struct np_flow *f;

    flowset_init(&sub);
    FLOWSET_FOR_EACH (f, &w->flows) {
        if ((table < 0 || f->table_id == table)
            && f->cookie >> NP_COOKIE_CATEGORY_SHIFT == cat) {
            struct match m;
            minimatch_expand(&f->match, &m);
            if (f->n_conjs) {
                for (size_t i = 0; i < f->n_conjs; i++) {
                    flowset_add_conj(&sub, f->table_id, f->priority,
                                     f->cookie, &m, f->conjs[i].id,
                                     f->conjs[i].clause,
                                     f->conjs[i].n_clauses);
                }
            } else {
                struct ofpbuf ofpacts;
                ofpbuf_init(&ofpacts, 0);
                np_flow_get_ofpacts(f, &ofpacts);
                flowset_add(&sub, f->table_id, f->priority, f->cookie, &m,
                            &ofpacts);
                ofpbuf_uninit(&ofpacts);
            }
        }
    }
    struct ds s = DS_EMPTY_INITIALIZER;
    flowset_format(&sub, &s);
    flowset_destroy(&sub);
    return ds_steal_cstr(&s);
}

/* Compares 'actual' with the golden file 'name'.  With NP_UPDATE_GOLDEN
 * set in the environment, rewrites the file instead. */
static void
check_golden(const char *actual, const char *name)
{
    char *path = xasprintf("%s/flows/%s", NP_TEST_DATADIR, name);
    if (getenv("NP_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(actual, f);
        fclose(f);
    }
    char *expected = unit_read_file(path, NULL);
    if (strcmp(expected, actual)) {
        fprintf(stderr, "--- expected %s\n%s--- actual\n%s", path,
                expected, actual);
        fail_msg("flows differ from %s", name);
    }
    free(expected);
    free(path);
}

static uint64_t
policy_cookie(enum np_cookie_category cat, const char *uid)
{
    return np_cookie(cat, hash_string(uid, 0));
}

static void
test_no_policy_no_isolation(void **state)
{
    struct npol_world *w = *state;
    seed_world(w);
    npol_world_compile(w);

    char *ingress = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    assert_string_equal(ingress, "");
    free(ingress);
    assert_int_equal(w->problems.n, 0);

    char *pipeline = flows_of(w, -1, NP_COOKIE_PIPELINE);
    check_golden(pipeline, "pipeline.txt");
    free(pipeline);
    char *pods = flows_of(w, -1, NP_COOKIE_POD);
    check_golden(pods, "seed-pods.txt");
    free(pods);
}

static void
test_access_nginx(void **state)
{
    struct npol_world *w = *state;
    seed_world(w);
    load_file(w, "access-nginx.yaml");
    npol_world_compile(w);
    assert_int_equal(w->problems.n, 0);

    char *rules = flows_of(w, NP_T_INGRESS_RULE, NP_COOKIE_INGRESS);
    check_golden(rules, "seed-access-nginx.txt");

    /* Every rule flow carries the policy's cookie, and the rule is a
     * conjunction of the peer (foo's address) and the target (nginx's
     * port). */
    uint64_t cookie = policy_cookie(NP_COOKIE_INGRESS,
                                    "3c0ffee0-0000-4000-8000-00000000a001");
    char *prefix = xasprintf("cookie=%#"PRIx64",", cookie);
    size_t n_lines = 0;
    for (const char *line = rules; *line; n_lines++) {
        assert_true(!strncmp(line, prefix, strlen(prefix)));
        line = strchr(line, '\n');
        assert_non_null(line);
        line++;
    }
    assert_int_equal(n_lines, 3);
    assert_non_null(strstr(rules, "nw_src=10.244.0.11 actions=conjunction("));
    assert_non_null(strstr(rules, "reg1=0x2 actions=conjunction("));
    assert_null(strstr(rules, "10.244.0.12"));      /* bar. */
    assert_null(strstr(rules, "10.244.0.13"));      /* other/foo. */
    free(prefix);
    free(rules);

    /* Only nginx is isolated. */
    char *drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    assert_non_null(strstr(drops, "reg1=0x2 actions=drop"));
    assert_null(strstr(drops, "reg1=0x3"));
    assert_null(strstr(drops, "reg1=0x4"));
    free(drops);

    /* No egress isolation from an ingress-only policy. */
    char *eg = flows_of(w, NP_T_EGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    assert_string_equal(eg, "");
    free(eg);
}

static void
test_default_deny(void **state)
{
    struct npol_world *w = *state;
    seed_world(w);
    load_file(w, "default-deny.yaml");
    npol_world_compile(w);
    assert_int_equal(w->problems.n, 0);

    char *rules = flows_of(w, NP_T_INGRESS_RULE, NP_COOKIE_INGRESS);
    assert_string_equal(rules, "");
    free(rules);
    char *drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    check_golden(drops, "seed-default-deny.txt");
    free(drops);
}

/* Compiling twice, or after an unrelated change and back, gives the same
 * flows: ids and cookies depend on identities only. */
static void
test_deterministic(void **state)
{
    struct npol_world *w = *state;
    seed_world(w);
    load_file(w, "access-nginx.yaml");
    load_file(w, "default-deny.yaml");
    npol_world_compile(w);

    struct ds first = DS_EMPTY_INITIALIZER;
    flowset_format(&w->flows, &first);

    kcache_remove(w->cache, K8S_KIND_NETWORK_POLICY, "demo", "default-deny");
    npol_world_compile(w);
    load_file(w, "default-deny.yaml");
    npol_world_compile(w);

    struct ds second = DS_EMPTY_INITIALIZER;
    flowset_format(&w->flows, &second);
    assert_string_equal(ds_cstr(&first), ds_cstr(&second));
    ds_destroy(&first);
    ds_destroy(&second);
}

/* Pods the API does not know, pods scheduled elsewhere, pods without an
 * address: no forwarding for them. */
static void
test_unknown_ports_get_nothing(void **state)
{
    struct npol_world *w = *state;
    seed_world(w);
    npol_world_add_port(w, "demo", "ghost", 7, "0a:00:00:00:00:77");
    load_text(w, "apiVersion: v1\nkind: Pod\nmetadata: {name: far, "
              "namespace: demo}\nspec: {nodeName: node2}\nstatus: "
              "{podIPs: [{ip: 10.244.1.5}]}\n");
    npol_world_add_port(w, "demo", "far", 8, "0a:00:00:00:00:78");
    npol_world_compile(w);

    char *pods = flows_of(w, NP_T_CLASSIFY, NP_COOKIE_POD);
    assert_null(strstr(pods, "in_port=7"));
    assert_null(strstr(pods, "in_port=8"));
    assert_non_null(strstr(pods, "in_port=2"));
    free(pods);
    assert_int_equal(w->problems.n, 1);
    assert_non_null(strstr(w->problems.names[0], "demo/far"));
}

/* A policy that does not parse still isolates what it selects. */
static void
test_broken_policy_fails_closed(void **state)
{
    struct npol_world *w = *state;
    seed_world(w);
    load_text(w, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
              "metadata: {name: broken, namespace: demo}\n"
              "spec:\n  podSelector: {matchLabels: {app: bar}}\n"
              "  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/33}\n");
    npol_world_compile(w);

    bool named = false;
    for (size_t i = 0; i < w->problems.n; i++) {
        named |= strstr(w->problems.names[i], "demo/broken") != NULL;
    }
    assert_true(named);
    char *drops = flows_of(w, NP_T_INGRESS_DEFAULT, NP_COOKIE_ISOLATION);
    assert_non_null(strstr(drops, "reg1=0x4 actions=drop"));
    free(drops);
    char *rules = flows_of(w, NP_T_INGRESS_RULE, NP_COOKIE_INGRESS);
    assert_string_equal(rules, "");
    free(rules);
}

/* Whether the request direction of established connections goes through
 * policy is a switch. */
static void
test_keep_established_switch(void **state)
{
    struct npol_world *w = *state;
    seed_world(w);
    npol_world_compile(w);
    char *with = flows_of(w, NP_T_CT_STATE, NP_COOKIE_PIPELINE);
    assert_null(strstr(with, "ct_state=+est+trk,ip actions"));
    w->reeval = false;
    npol_world_compile(w);
    char *without = flows_of(w, NP_T_CT_STATE, NP_COOKIE_PIPELINE);
    assert_non_null(strstr(without, "ct_state=+est+trk,ip actions"));
    free(with);
    free(without);
}

static bool
port_covered(uint16_t port, const uint16_t *values, const uint16_t *masks,
             size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((port & masks[i]) == values[i]) {
            return true;
        }
    }
    return false;
}

static void
test_port_range_split(void **state OVS_UNUSED)
{
    static const uint16_t ranges[][2] = {
        { 80, 80 }, { 1, 65535 }, { 0, 65535 }, { 1000, 2000 },
        { 32768, 60999 }, { 65535, 65535 }, { 5, 6 }, { 2000, 20000 },
    };
    for (size_t r = 0; r < ARRAY_SIZE(ranges); r++) {
        uint16_t values[32], masks[32];
        size_t n = npol_port_range_split(ranges[r][0], ranges[r][1],
                                         values, masks);
        assert_true(n >= 1 && n <= 30);
        for (uint32_t p = 0; p <= 65535; p++) {
            bool inside = p >= ranges[r][0] && p <= ranges[r][1];
            if (inside != port_covered(p, values, masks, n)) {
                fail_msg("range %u-%u: port %u wrongly %s",
                         ranges[r][0], ranges[r][1], p,
                         inside ? "excluded" : "included");
            }
        }
    }
}

static void
test_cidr_subtract(void **state OVS_UNUSED)
{
    struct k8s_cidr block, excepts[2], out[64];

    assert_null(k8s_parse_cidr("10.0.0.0/8", false, &block));
    assert_null(k8s_parse_cidr("10.1.0.0/16", false, &excepts[0]));
    assert_null(k8s_parse_cidr("10.255.255.0/24", false, &excepts[1]));
    size_t n = npol_cidr_subtract(&block, excepts, 2, out, ARRAY_SIZE(out));
    assert_true(n > 2 && n <= ARRAY_SIZE(out));

    /* Sample addresses: in the block and in no except <=> covered. */
    static const char *probes[] = {
        "10.0.0.1", "10.1.0.1", "10.1.255.255", "10.2.0.0", "10.255.255.7",
        "10.255.254.255", "11.0.0.0", "9.255.255.255", "10.128.3.4",
    };
    for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
        struct k8s_cidr host;
        assert_null(k8s_parse_cidr(probes[i], true, &host));
        bool expect = (!strncmp(probes[i], "10.", 3)
                       && strncmp(probes[i], "10.1.", 5)
                       && strncmp(probes[i], "10.255.255.", 11));
        bool covered = false;
        for (size_t j = 0; j < n; j++) {
            struct in6_addr mask = ipv6_create_mask(96 + out[j].plen);
            struct in6_addr a = ipv6_addr_bitand(&host.addr, &mask);
            covered |= ipv6_addr_equals(&a, &out[j].addr);
        }
        if (covered != expect) {
            fail_msg("%s: covered=%d, expected %d", probes[i], covered,
                     expect);
        }
    }

    /* An except covering the whole block leaves nothing. */
    assert_null(k8s_parse_cidr("0.0.0.0/0", false, &excepts[0]));
    assert_int_equal(npol_cidr_subtract(&block, excepts, 1, out, 64), 0);

    /* Excepts of the other family are ignored. */
    assert_null(k8s_parse_cidr("fd00::/8", false, &excepts[0]));
    assert_int_equal(npol_cidr_subtract(&block, excepts, 1, out, 64), 1);
}

#define WORLD_TEST(F) \
    cmocka_unit_test_setup_teardown(F, npol_world_setup, npol_world_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        WORLD_TEST(test_no_policy_no_isolation),
        WORLD_TEST(test_access_nginx),
        WORLD_TEST(test_default_deny),
        WORLD_TEST(test_deterministic),
        WORLD_TEST(test_unknown_ports_get_nothing),
        WORLD_TEST(test_broken_policy_fails_closed),
        WORLD_TEST(test_keep_established_switch),
        cmocka_unit_test(test_port_range_split),
        cmocka_unit_test(test_cidr_subtract),
    };
    return cmocka_run_group_tests_name("npol-compile", tests, NULL, NULL);
}
