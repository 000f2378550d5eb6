/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* Unit tests for lib/k8s-parse and lib/k8s-cache: decoding manifests,
 * parsing Namespaces, Pods and NetworkPolicies with the API server's
 * defaulting and validation, failing closed, and the object cache. */

#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/k8s-cache.h"
#include "lib/k8s-parse.h"
#include "lib/label-selector.h"
#include "openvswitch/dynamic-string.h"
#include "smap.h"
#include "tests/unit/unit-file.h"
#include "util.h"

/* ---------------------------------------------------------------------- */
/* Helpers. */

static char *
read_fixture(const char *name, size_t *sizep)
{
    char *path = xasprintf("%s/k8s/%s", NP_TEST_DATADIR, name);
    char *text = unit_read_file(path, sizep);
    free(path);
    return text;
}

/* Decodes 'text', which must be valid. */
static json_t *
decode_ok(const char *text)
{
    json_t *objects = NULL;
    char *error = k8s_decode_text(text, strlen(text), &objects);

    if (error) {
        fail_msg("unexpected decode error: %s\n%s", error, text);
    }
    assert_non_null(objects);
    return objects;
}

static json_t *
decode_fixture(const char *name)
{
    size_t size;
    char *text = read_fixture(name, &size);
    json_t *objects = NULL;
    char *error = k8s_decode_text(text, size, &objects);

    if (error) {
        fail_msg("%s: unexpected decode error: %s", name, error);
    }
    free(text);
    return objects;
}

static void
assert_contains(const char *s, const char *sub)
{
    if (!s || !strstr(s, sub)) {
        fail_msg("\"%s\" does not contain \"%s\"", s ? s : "(null)", sub);
    }
}

static void
policy_free(struct k8s_network_policy *policy)
{
    k8s_network_policy_destroy(policy);
    free(policy);
}

/* Parses the NetworkPolicy in YAML 'text', which must be valid. */
static struct k8s_network_policy *
policy_ok(const char *text)
{
    json_t *objects = decode_ok(text);
    struct k8s_network_policy *policy = NULL;

    assert_int_equal(json_array_size(objects), 1);
    char *error = k8s_parse_network_policy(json_array_get(objects, 0),
                                           &policy);
    if (error) {
        fail_msg("unexpected error: %s\n%s", error, text);
    }
    assert_non_null(policy);
    assert_null(policy->error);
    json_decref(objects);
    return policy;
}

/* Parses the NetworkPolicy in YAML 'text', which must fail with an error
 * containing 'expected'.  Returns the fail-closed policy. */
static struct k8s_network_policy *
policy_fails(const char *text, const char *expected)
{
    json_t *objects = decode_ok(text);
    struct k8s_network_policy *policy = NULL;

    assert_int_equal(json_array_size(objects), 1);
    char *error = k8s_parse_network_policy(json_array_get(objects, 0),
                                           &policy);
    if (!error) {
        fail_msg("expected an error containing \"%s\":\n%s", expected,
                 text);
    }
    assert_contains(error, expected);
    assert_non_null(policy);
    /* The policy keeps the message without the object's name. */
    assert_non_null(policy->error);
    assert_true(strlen(error) > strlen(policy->error));
    assert_string_equal(error + strlen(error) - strlen(policy->error),
                        policy->error);
    assert_contains(error, "NetworkPolicy ");
    /* Fail closed: a broken policy allows nothing. */
    assert_int_equal(policy->n_ingress, 0);
    assert_int_equal(policy->n_egress, 0);
    free(error);
    json_decref(objects);
    return policy;
}

static void
smap_from(struct smap *labels, const char *k1, const char *v1)
{
    smap_init(labels);
    if (k1) {
        smap_add(labels, k1, v1);
    }
}

#define NP_HEADER                                       \
    "apiVersion: networking.k8s.io/v1\n"                \
    "kind: NetworkPolicy\n"                             \
    "metadata: {name: np, namespace: ns1}\n"

/* ---------------------------------------------------------------------- */
/* Decoding. */

static void
test_decode_multi_doc_yaml(void **state OVS_UNUSED)
{
    json_t *objects = decode_fixture("multi-doc.yaml");
    static const char *const expected[][2] = {
        { "Namespace", "prod" },
        { "Pod", "web-0" },
        { "NetworkPolicy", "allow-web" },
        { "Namespace", "dev" },
        { "Pod", "tool" },
    };

    assert_int_equal(json_array_size(objects), ARRAY_SIZE(expected));
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
        json_t *obj = json_array_get(objects, i);
        const json_t *md = json_object_get(obj, "metadata");

        assert_string_equal(json_string_value(json_object_get(obj, "kind")),
                            expected[i][0]);
        assert_string_equal(json_string_value(json_object_get(md, "name")),
                            expected[i][1]);
    }

    /* A quoted number in a label stays a string: the namespace parses. */
    struct k8s_namespace *ns = NULL;
    assert_null(k8s_parse_namespace(json_array_get(objects, 0), &ns));
    assert_string_equal(smap_get(&ns->labels, "team"), "42");
    k8s_namespace_destroy(ns);
    free(ns);

    /* The policy from YAML, fully. */
    struct k8s_network_policy *np = NULL;
    assert_null(k8s_parse_network_policy(json_array_get(objects, 2), &np));
    assert_string_equal(np->uid, "prod/allow-web");
    assert_true(np->ingress_isolation);
    assert_false(np->egress_isolation);
    assert_int_equal(np->n_ingress, 1);

    const struct k8s_policy_rule *rule = &np->ingress[0];
    assert_true(rule->has_peers);
    assert_int_equal(rule->n_peers, 2);
    assert_non_null(rule->peers[0].pod_selector);
    assert_non_null(rule->peers[0].namespace_selector);
    assert_null(rule->peers[0].ip_block);
    assert_int_equal(rule->peers[0].pod_selector->n_exprs, 1);
    assert_int_equal(rule->peers[0].pod_selector->exprs[0].n_values, 2);

    struct ds s = DS_EMPTY_INITIALIZER;
    assert_non_null(rule->peers[1].ip_block);
    k8s_cidr_format(rule->peers[1].ip_block, &s);
    assert_string_equal(ds_cstr(&s), "192.168.1.0/24");
    assert_int_equal(rule->peers[1].n_excepts, 1);
    ds_clear(&s);
    k8s_cidr_format(&rule->peers[1].excepts[0], &s);
    assert_string_equal(ds_cstr(&s), "192.168.1.128/25");
    ds_destroy(&s);

    assert_true(rule->has_ports);
    assert_int_equal(rule->n_ports, 3);
    assert_string_equal(rule->ports[0].port_name, "http");
    assert_int_equal(rule->ports[0].port, 0);
    assert_int_equal(rule->ports[0].protocol, K8S_PROTO_TCP);
    assert_null(rule->ports[1].port_name);
    assert_int_equal(rule->ports[1].port, 53);
    assert_int_equal(rule->ports[1].protocol, K8S_PROTO_UDP);
    assert_int_equal(rule->ports[2].port, 30000);
    assert_int_equal(rule->ports[2].end_port, 32767);
    assert_int_equal(rule->ports[2].protocol, K8S_PROTO_SCTP);
    policy_free(np);

    json_decref(objects);
}

static void
test_decode_json_list(void **state OVS_UNUSED)
{
    json_t *objects = decode_fixture("pod-list.json");

    /* Items of a PodList get kind Pod and the list's apiVersion. */
    assert_int_equal(json_array_size(objects), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *obj = json_array_get(objects, i);
        assert_string_equal(json_string_value(json_object_get(obj, "kind")),
                            "Pod");
        assert_string_equal(
            json_string_value(json_object_get(obj, "apiVersion")), "v1");
    }

    /* A single JSON object, a JSON array, and an empty text. */
    json_t *one = decode_ok("{\"kind\": \"Namespace\", "
                            "\"metadata\": {\"name\": \"a\"}}");
    assert_int_equal(json_array_size(one), 1);
    json_decref(one);

    json_t *two = decode_ok("[{\"kind\": \"Namespace\"}, "
                            "{\"kind\": \"List\", \"items\": "
                            "[{\"kind\": \"Pod\"}, {\"kind\": \"Pod\"}]}]");
    assert_int_equal(json_array_size(two), 3);
    json_decref(two);

    json_t *none = decode_ok("");
    assert_int_equal(json_array_size(none), 0);
    json_decref(none);
    none = decode_ok("---\n# nothing\n---\n...\n");
    assert_int_equal(json_array_size(none), 0);
    json_decref(none);

    /* An empty List, and a List whose items are null. */
    none = decode_ok("kind: List\nitems: []\n---\nkind: PodList\nitems:\n");
    assert_int_equal(json_array_size(none), 0);
    json_decref(none);

    json_decref(objects);
}

static void
test_decode_yaml_scalars(void **state OVS_UNUSED)
{
    json_t *objects = decode_fixture("scalars.yaml");
    json_t *doc;

    assert_int_equal(json_array_size(objects), 1);
    doc = json_array_get(objects, 0);

#define GET(KEY) json_object_get(doc, KEY)
    assert_true(json_is_integer(GET("int")));
    assert_int_equal(json_integer_value(GET("int")), 80);
    assert_int_equal(json_integer_value(GET("negative")), -3);
    assert_int_equal(json_integer_value(GET("hex")), 31);
    assert_int_equal(json_integer_value(GET("octal")), 15);
    assert_string_equal(json_string_value(GET("dquoted")), "80");
    assert_string_equal(json_string_value(GET("squoted")), "80");
    assert_string_equal(json_string_value(GET("tagged")), "42");
    assert_string_equal(json_string_value(GET("float")), "1.5");
    assert_string_equal(json_string_value(GET("yes_word")), "yes");
    assert_true(json_is_true(GET("bool_t")));
    assert_true(json_is_false(GET("bool_f")));
    assert_true(json_is_null(GET("null_word")));
    assert_true(json_is_null(GET("tilde")));
    assert_true(json_is_null(GET("empty")));
    assert_string_equal(json_string_value(GET("huge")),
                        "123456789012345678901234567890");
    assert_string_equal(json_string_value(GET("block")), "80\n");
    assert_int_equal(json_integer_value(json_object_get(GET("aliased"),
                                                        "port")), 443);
    assert_string_equal(json_string_value(GET("80")), "key-is-text");
#undef GET

    json_decref(objects);
}

static void
test_decode_errors(void **state OVS_UNUSED)
{
    size_t size;
    char *text;
    json_t *objects = json_pack("[]");
    json_t *saved = objects;
    char *error;

    text = read_fixture("bad.json", &size);
    error = k8s_decode_text(text, size, &objects);
    assert_non_null(error);
    assert_null(objects);
    assert_contains(error, "line 4");
    free(error);
    free(text);
    json_decref(saved);

    text = read_fixture("bad.yaml", &size);
    error = k8s_decode_text(text, size, &objects);
    assert_non_null(error);
    assert_null(objects);
    assert_contains(error, "YAML line 4");
    free(error);
    free(text);

    error = k8s_decode_text("a: *nowhere\n", 12, &objects);
    assert_contains(error, "unknown alias");
    assert_null(objects);
    free(error);

    error = k8s_decode_text("just a string\n", 14, &objects);
    assert_contains(error, "not an object");
    assert_null(objects);
    free(error);

    error = k8s_decode_text("- 1\n- 2\n", 8, &objects);
    assert_contains(error, "not an object");
    free(error);

    error = k8s_decode_text("? [a, b]\n: c\n", 13, &objects);
    assert_contains(error, "keys must be scalars");
    free(error);
}

static void
test_describe(void **state OVS_UNUSED)
{
    json_t *objects = decode_ok(
        "kind: Pod\nmetadata: {name: a, namespace: x}\n---\n"
        "metadata: {name: b}\n---\n"
        "kind: Namespace\n");
    char *s;

    s = k8s_describe(json_array_get(objects, 0), "Thing");
    assert_string_equal(s, "Pod x/a");
    free(s);
    s = k8s_describe(json_array_get(objects, 1), "NetworkPolicy");
    assert_string_equal(s, "NetworkPolicy b");
    free(s);
    s = k8s_describe(json_array_get(objects, 2), NULL);
    assert_string_equal(s, "Namespace (unnamed)");
    free(s);
    s = k8s_describe(NULL, NULL);
    assert_string_equal(s, "object (unnamed)");
    free(s);
    json_decref(objects);
}

/* ---------------------------------------------------------------------- */
/* Namespaces and pods. */

static void
test_namespace_labels(void **state OVS_UNUSED)
{
    json_t *objects = decode_ok(
        "kind: Namespace\nmetadata: {name: a, uid: u1, "
        "resourceVersion: \"7\"}\n---\n"
        "kind: Namespace\nmetadata:\n  name: b\n  labels:\n"
        "    env: prod\n    kubernetes.io/metadata.name: wrong\n---\n"
        "kind: Namespace\nmetadata:\n  labels: {a: b}\n---\n"
        "kind: Namespace\nmetadata:\n  name: c\n  labels: {n: 1}\n");
    struct k8s_namespace *ns = NULL;
    char *error;

    assert_null(k8s_parse_namespace(json_array_get(objects, 0), &ns));
    assert_string_equal(ns->name, "a");
    assert_string_equal(ns->uid, "u1");
    assert_string_equal(ns->resource_version, "7");
    assert_int_equal(smap_count(&ns->labels), 1);
    assert_string_equal(smap_get(&ns->labels, "kubernetes.io/metadata.name"),
                        "a");
    k8s_namespace_destroy(ns);
    free(ns);

    assert_null(k8s_parse_namespace(json_array_get(objects, 1), &ns));
    assert_int_equal(smap_count(&ns->labels), 2);
    assert_string_equal(smap_get(&ns->labels, "env"), "prod");
    assert_string_equal(smap_get(&ns->labels, "kubernetes.io/metadata.name"),
                        "b");
    k8s_namespace_destroy(ns);
    free(ns);

    ns = NULL;
    error = k8s_parse_namespace(json_array_get(objects, 2), &ns);
    assert_contains(error, "metadata.name: required value");
    assert_null(ns);
    free(error);

    /* An unquoted number as a label value is not a string. */
    error = k8s_parse_namespace(json_array_get(objects, 3), &ns);
    assert_contains(error, "Namespace c: metadata.labels.n: must be a "
                    "string");
    assert_null(ns);
    free(error);

    json_decref(objects);
}

static void
test_pod(void **state OVS_UNUSED)
{
    json_t *objects = decode_fixture("multi-doc.yaml");
    struct k8s_pod *pod = NULL;
    struct ds s = DS_EMPTY_INITIALIZER;

    assert_null(k8s_parse_pod(json_array_get(objects, 1), &pod));
    assert_string_equal(pod->namespace, "prod");
    assert_string_equal(pod->name, "web-0");
    assert_string_equal(pod->uid, "5d1c1b34-0000-4000-8000-000000000001");
    assert_string_equal(smap_get(&pod->labels, "app"), "web");
    assert_string_equal(pod->node_name, "node-1");
    assert_false(pod->host_network);
    assert_false(pod->terminating);
    assert_int_equal(pod->phase, K8S_POD_RUNNING);
    assert_int_equal(pod->n_ips, 2);
    assert_true(pod->ips[0].is_ipv4);
    assert_int_equal(pod->ips[0].plen, 32);
    k8s_cidr_format(&pod->ips[0], &s);
    assert_string_equal(ds_cstr(&s), "10.244.1.5");
    ds_clear(&s);
    assert_false(pod->ips[1].is_ipv4);
    assert_int_equal(pod->ips[1].plen, 128);
    k8s_cidr_format(&pod->ips[1], &s);
    assert_string_equal(ds_cstr(&s), "fd00:10:244:1::5");
    assert_int_equal(pod->n_ports, 2);
    assert_string_equal(pod->ports[0].name, "http");
    assert_int_equal(pod->ports[0].port, 8080);
    assert_int_equal(pod->ports[0].protocol, K8S_PROTO_TCP);
    assert_null(pod->ports[1].name);
    assert_int_equal(pod->ports[1].protocol, K8S_PROTO_UDP);
    k8s_pod_destroy(pod);
    free(pod);
    json_decref(objects);

    /* From the JSON list: podIP fallback, hostNetwork, terminating. */
    objects = decode_fixture("pod-list.json");
    assert_null(k8s_parse_pod(json_array_get(objects, 0), &pod));
    assert_int_equal(pod->n_ips, 1);
    ds_clear(&s);
    k8s_cidr_format(&pod->ips[0], &s);
    assert_string_equal(ds_cstr(&s), "10.244.0.7");
    assert_string_equal(pod->resource_version, "10");
    assert_null(pod->uid);
    k8s_pod_destroy(pod);
    free(pod);

    assert_null(k8s_parse_pod(json_array_get(objects, 1), &pod));
    assert_true(pod->host_network);
    assert_true(pod->terminating);
    assert_int_equal(pod->phase, K8S_POD_SUCCEEDED);
    assert_int_equal(pod->n_ips, 1);
    assert_int_equal(smap_count(&pod->labels), 0);
    k8s_pod_destroy(pod);
    free(pod);
    json_decref(objects);
    ds_destroy(&s);

    /* Defaults: namespace "default", no node, Pending, no IPs. */
    objects = decode_ok("kind: Pod\nmetadata: {name: p}\n---\n"
                        "kind: Pod\nmetadata: {name: q}\n"
                        "status: {podIP: 10.0.0.300}\n---\n"
                        "kind: Pod\nmetadata: {name: r}\nspec:\n"
                        "  containers: [{ports: [{containerPort: 0}]}]\n");
    assert_null(k8s_parse_pod(json_array_get(objects, 0), &pod));
    assert_string_equal(pod->namespace, "default");
    assert_null(pod->node_name);
    assert_int_equal(pod->phase, K8S_POD_PENDING);
    assert_int_equal(pod->n_ips, 0);
    assert_int_equal(pod->n_ports, 0);
    k8s_pod_destroy(pod);
    free(pod);

    char *error = k8s_parse_pod(json_array_get(objects, 1), &pod);
    assert_contains(error, "Pod default/q: status.podIP: invalid IP "
                    "address");
    free(error);
    error = k8s_parse_pod(json_array_get(objects, 2), &pod);
    assert_contains(error, "Pod default/r: spec.containers[0].ports[0]");
    free(error);
    json_decref(objects);
}

/* ---------------------------------------------------------------------- */
/* NetworkPolicy: defaulting and structure. */

static void
test_policy_types_defaulting(void **state OVS_UNUSED)
{
    static const struct {
        const char *spec;
        bool ingress, egress;
        size_t n_ingress, n_egress;
    } cases[] = {
        /* Omitted policyTypes: Ingress always... */
        { "spec: {podSelector: {}}", true, false, 0, 0 },
        { "spec: {}", true, false, 0, 0 },
        { "spec: {podSelector: {}, ingress: [{}]}", true, false, 1, 0 },
        /* ...and Egress only if there are egress rules. */
        { "spec: {egress: [{}]}", true, true, 0, 1 },
        { "spec: {egress: []}", true, false, 0, 0 },
        { "spec: {policyTypes: [], egress: [{}]}", true, true, 0, 1 },
        /* Explicit. */
        { "spec: {policyTypes: [Egress]}", false, true, 0, 0 },
        { "spec: {policyTypes: [Ingress, Egress]}", true, true, 0, 0 },
        /* Rules of a direction not named have no effect. */
        { "spec: {policyTypes: [Egress], ingress: [{}], egress: [{}]}",
          false, true, 0, 1 },
        { "spec: {policyTypes: [Ingress], egress: [{}]}", true, false, 0, 0 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *text = xasprintf(NP_HEADER "%s\n", cases[i].spec);
        struct k8s_network_policy *np = policy_ok(text);

        if (np->ingress_isolation != cases[i].ingress
            || np->egress_isolation != cases[i].egress
            || np->n_ingress != cases[i].n_ingress
            || np->n_egress != cases[i].n_egress) {
            fail_msg("%s: got ingress=%d egress=%d rules %"PRIuSIZE"/%"
                     PRIuSIZE, cases[i].spec, np->ingress_isolation,
                     np->egress_isolation, np->n_ingress, np->n_egress);
        }
        assert_true(lsel_is_empty(&np->pod_selector));
        policy_free(np);
        free(text);
    }
}

static void
test_policy_empty_vs_omitted(void **state OVS_UNUSED)
{
    struct k8s_network_policy *np;

    /* ingress: [] isolates and allows nothing; [{}] allows everything. */
    np = policy_ok(NP_HEADER "spec: {ingress: []}\n");
    assert_true(np->ingress_isolation);
    assert_int_equal(np->n_ingress, 0);
    policy_free(np);

    np = policy_ok(NP_HEADER
                   "spec:\n"
                   "  policyTypes: [Ingress, Egress]\n"
                   "  ingress:\n"
                   "  - {}\n"
                   "  - from: []\n"
                   "    ports: []\n"
                   "  - from: [{podSelector: {}}]\n"
                   "  - ports: [{protocol: UDP}]\n"
                   "  egress:\n"
                   "  - to: [{namespaceSelector: {}}]\n"
                   "    ports: [{port: 53, protocol: UDP}]\n");
    assert_int_equal(np->n_ingress, 4);
    /* {}: every peer, every port. */
    assert_false(np->ingress[0].has_peers);
    assert_false(np->ingress[0].has_ports);
    /* from: [] and ports: [] are the same as omitted. */
    assert_false(np->ingress[1].has_peers);
    assert_false(np->ingress[1].has_ports);
    /* podSelector {} is present and empty: every pod of the namespace. */
    assert_true(np->ingress[2].has_peers);
    assert_int_equal(np->ingress[2].n_peers, 1);
    assert_non_null(np->ingress[2].peers[0].pod_selector);
    assert_true(lsel_is_empty(np->ingress[2].peers[0].pod_selector));
    assert_null(np->ingress[2].peers[0].namespace_selector);
    /* A port entry without port: every port of the protocol. */
    assert_true(np->ingress[3].has_ports);
    assert_int_equal(np->ingress[3].ports[0].protocol, K8S_PROTO_UDP);
    assert_int_equal(np->ingress[3].ports[0].port, 0);
    assert_null(np->ingress[3].ports[0].port_name);
    /* namespaceSelector {} alone: all pods in all namespaces. */
    assert_int_equal(np->n_egress, 1);
    assert_null(np->egress[0].peers[0].pod_selector);
    assert_non_null(np->egress[0].peers[0].namespace_selector);
    assert_true(lsel_is_empty(np->egress[0].peers[0].namespace_selector));
    policy_free(np);

    /* A podSelector given: selects by labels. */
    np = policy_ok(NP_HEADER "spec: {podSelector: {matchLabels: {a: b}}}\n");
    struct smap labels;
    smap_from(&labels, "a", "b");
    assert_true(lsel_matches(&np->pod_selector, &labels));
    smap_destroy(&labels);
    smap_from(&labels, NULL, NULL);
    assert_false(lsel_matches(&np->pod_selector, &labels));
    smap_destroy(&labels);
    policy_free(np);
}

static void
test_policy_identity(void **state OVS_UNUSED)
{
    struct k8s_network_policy *np;

    np = policy_ok("kind: NetworkPolicy\n"
                   "metadata: {name: a, uid: abc-123, resourceVersion: "
                   "\"99\"}\n");
    assert_string_equal(np->namespace, "default");
    assert_string_equal(np->name, "a");
    assert_string_equal(np->uid, "abc-123");
    assert_string_equal(np->resource_version, "99");
    policy_free(np);

    /* Without a readable name there is nothing to store. */
    json_t *objects = decode_ok("kind: NetworkPolicy\nmetadata: "
                                "{namespace: x}\nspec: {}\n");
    np = NULL;
    char *error = k8s_parse_network_policy(json_array_get(objects, 0), &np);
    assert_contains(error, "metadata.name: required value");
    assert_null(np);
    free(error);
    json_decref(objects);
}

static void
test_policy_ipv6_and_ports(void **state OVS_UNUSED)
{
    struct k8s_network_policy *np = policy_ok(
        NP_HEADER
        "spec:\n"
        "  policyTypes: [Egress]\n"
        "  egress:\n"
        "  - to:\n"
        "    - ipBlock: {cidr: \"fd00::/48\", except: [\"fd00:0:0:1::/64\"]}\n"
        "    - ipBlock: {cidr: 0.0.0.0/0}\n"
        "    ports:\n"
        "    - {port: 80, endPort: 80}\n"
        "    - {port: 65535}\n"
        "    - {port: dns-tcp}\n");
    const struct k8s_policy_rule *rule = &np->egress[0];
    struct ds s = DS_EMPTY_INITIALIZER;

    k8s_cidr_format(rule->peers[0].ip_block, &s);
    assert_string_equal(ds_cstr(&s), "fd00::/48");
    assert_false(rule->peers[0].ip_block->is_ipv4);
    assert_int_equal(rule->peers[0].n_excepts, 1);
    ds_clear(&s);
    k8s_cidr_format(rule->peers[1].ip_block, &s);
    assert_string_equal(ds_cstr(&s), "0.0.0.0/0");
    assert_int_equal(rule->peers[1].ip_block->plen, 0);
    ds_destroy(&s);
    assert_int_equal(rule->ports[0].port, 80);
    assert_int_equal(rule->ports[0].end_port, 80);
    assert_int_equal(rule->ports[1].port, 65535);
    assert_int_equal(rule->ports[1].end_port, 0);
    assert_string_equal(rule->ports[2].port_name, "dns-tcp");
    policy_free(np);
}

/* ---------------------------------------------------------------------- */
/* NetworkPolicy: validation and failing closed. */

static void
test_policy_validation(void **state OVS_UNUSED)
{
    static const struct {
        const char *spec;
        const char *expected;
    } cases[] = {
        { "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]",
          "spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR" },
        { "ingress: [{from: [{ipBlock: {cidr: 10.0.0.1}}]}]",
          "missing prefix length" },
        { "ingress: [{from: [{ipBlock: {cidr: nonsense/8}}]}]",
          "invalid CIDR \"nonsense/8\"" },
        { "ingress: [{from: [{ipBlock: {}}]}]",
          "ipBlock: cidr: required value" },
        { "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, "
          "except: [11.0.0.0/16]}}]}]",
          "spec.ingress[0].from[0].ipBlock.except[0]: \"11.0.0.0/16\" must "
          "be a strict subset" },
        { "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, "
          "except: [10.0.0.0/8]}}]}]", "strict subset" },
        { "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, "
          "except: [\"fd00::/64\"]}}]}]", "strict subset" },
        { "ingress: [{ports: [{port: 0}]}]",
          "spec.ingress[0].ports[0]: port: 0 must be between 1 and 65535" },
        { "ingress: [{ports: [{port: 65536}]}]", "65536 must be between" },
        { "egress: [{ports: [{port: 100, endPort: 99}]}]",
          "spec.egress[0].ports[0]: endPort: 99 must be greater than or "
          "equal to port 100" },
        { "egress: [{ports: [{port: 100, endPort: 70000}]}]",
          "endPort: 70000 must be between" },
        { "egress: [{ports: [{port: http, endPort: 99}]}]",
          "endPort: may not be specified when port is non-numeric" },
        { "egress: [{ports: [{endPort: 99}]}]",
          "endPort: may not be specified when port is not specified" },
        { "ingress: [{ports: [{port: \"80\"}]}]",
          "invalid port name \"80\"" },
        { "ingress: [{ports: [{port: Http}]}]", "invalid port name" },
        { "ingress: [{ports: [{port: a-very-long-port-name}]}]",
          "invalid port name" },
        { "ingress: [{ports: [{port: 1.5}]}]", "invalid port name" },
        { "ingress: [{ports: [{port: true}]}]",
          "port: must be an integer or a string" },
        { "ingress: [{ports: [{protocol: ICMP}]}]",
          "spec.ingress[0].ports[0].protocol: unsupported value \"ICMP\"" },
        { "ingress: [{ports: [{protocol: tcp}]}]", "unsupported value" },
        { "policyTypes: [Ingress, Bogus]",
          "spec.policyTypes[1]: unsupported value \"Bogus\"" },
        { "policyTypes: [Ingress, Egress, Ingress]",
          "may not specify more than two policyTypes" },
        { "ingress: [{from: [{podSelector: {matchExpressions: "
          "[{key: a, operator: Equals, values: [b]}]}}]}]",
          "spec.ingress[0].from[0].podSelector: matchExpressions[0]."
          "operator: unsupported value \"Equals\"" },
        { "ingress: [{from: [{namespaceSelector: {matchExpressions: "
          "[{key: a, operator: In}]}}]}]",
          "namespaceSelector: matchExpressions[0].values: must be "
          "specified" },
        { "ingress: [{from: [{podSelector: {}, ipBlock: "
          "{cidr: 10.0.0.0/8}}]}]",
          "spec.ingress[0].from[0]: may not specify both ipBlock and "
          "another peer" },
        { "egress: [{to: [{namespaceSelector: {}, ipBlock: "
          "{cidr: 10.0.0.0/8}}]}]", "may not specify both ipBlock" },
        { "egress: [{to: [{}]}]",
          "spec.egress[0].to[0]: must specify a peer" },
        { "ingress: {}", "spec.ingress: must be an array, not object" },
        { "ingress: [[]]", "spec.ingress[0]: must be an object" },
        { "ingress: [{from: {}}]", "spec.ingress[0].from: must be an array" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *text = xasprintf(NP_HEADER "spec:\n  %s\n", cases[i].spec);
        struct k8s_network_policy *np;

        /* Every message names the object. */
        np = policy_fails(text, "NetworkPolicy ns1/np: ");
        policy_free(np);
        np = policy_fails(text, cases[i].expected);

        policy_free(np);
        free(text);
    }
}

static void
test_policy_fail_closed(void **state OVS_UNUSED)
{
    struct k8s_network_policy *np;
    struct smap labels;

    /* A broken rule: the selector and the named policyTypes stay. */
    np = policy_fails(NP_HEADER
                      "spec:\n"
                      "  podSelector: {matchLabels: {app: web}}\n"
                      "  policyTypes: [Egress]\n"
                      "  egress: [{ports: [{port: 0}]}, {}]\n",
                      "port: 0");
    assert_false(np->ingress_isolation);
    assert_true(np->egress_isolation);
    assert_int_equal(smap_count(&np->pod_selector.match_labels), 1);
    policy_free(np);

    /* Defaulted policyTypes still apply: broken egress rules count. */
    np = policy_fails(NP_HEADER
                      "spec: {egress: [{to: [{}]}]}\n", "must specify");
    assert_true(np->ingress_isolation);
    assert_true(np->egress_isolation);
    policy_free(np);

    /* An unreadable podSelector selects every pod of the namespace. */
    np = policy_fails(NP_HEADER
                      "spec:\n"
                      "  podSelector: {matchExpressions: [{key: a, "
                      "operator: Exists, values: [x]}]}\n"
                      "  policyTypes: [Ingress]\n"
                      "  ingress: [{}]\n",
                      "spec.podSelector: matchExpressions[0].values");
    assert_true(lsel_is_empty(&np->pod_selector));
    assert_true(np->ingress_isolation);
    assert_false(np->egress_isolation);
    smap_from(&labels, "any", "pod");
    assert_true(lsel_matches(&np->pod_selector, &labels));
    smap_destroy(&labels);
    policy_free(np);

    np = policy_fails(NP_HEADER "spec: {podSelector: [app]}\n",
                      "spec.podSelector: must be an object");
    assert_true(lsel_is_empty(&np->pod_selector));
    assert_true(np->ingress_isolation);
    assert_false(np->egress_isolation);
    policy_free(np);

    /* Unreadable policyTypes: both directions isolated. */
    np = policy_fails(NP_HEADER
                      "spec: {podSelector: {matchLabels: {a: b}}, "
                      "policyTypes: Ingress}\n",
                      "spec.policyTypes: must be an array");
    assert_true(np->ingress_isolation);
    assert_true(np->egress_isolation);
    assert_false(lsel_is_empty(&np->pod_selector));
    policy_free(np);

    np = policy_fails(NP_HEADER "spec: {policyTypes: [ingress]}\n",
                      "unsupported value \"ingress\"");
    assert_true(np->ingress_isolation);
    assert_true(np->egress_isolation);
    policy_free(np);

    /* A spec that is not an object: everything, both ways. */
    np = policy_fails(NP_HEADER "spec: 42\n", "spec: must be an object");
    assert_true(lsel_is_empty(&np->pod_selector));
    assert_true(np->ingress_isolation);
    assert_true(np->egress_isolation);
    policy_free(np);

    /* Many errors: all reported up to a bound. */
    np = policy_fails(NP_HEADER
                      "spec:\n"
                      "  ingress:\n"
                      "  - ports: [{port: 0}, {port: 0}, {port: 0}, "
                      "{port: 0}, {port: 0}, {port: 0}, {port: 0}, "
                      "{port: 0}, {port: 0}, {port: 0}]\n",
                      "ports[7]");
    assert_contains(np->error, "and 2 more errors");
    assert_int_equal(strncmp(np->error, "spec.ingress[0].ports[0]", 24), 0);
    assert_null(strstr(np->error, "ports[8]"));
    policy_free(np);
}

/* ---------------------------------------------------------------------- */
/* CIDRs. */

static void
test_cidr(void **state OVS_UNUSED)
{
    static const struct {
        const char *in;
        bool allow_host;
        const char *out;        /* NULL: an error. */
    } cases[] = {
        { "10.0.0.0/8", false, "10.0.0.0/8" },
        { "10.1.2.3/8", false, "10.0.0.0/8" },
        { "10.1.2.3/32", false, "10.1.2.3" },
        { "10.1.2.3/4", false, "0.0.0.0/4" },
        { "0.0.0.0/0", false, "0.0.0.0/0" },
        { "10.1.2.3", true, "10.1.2.3" },
        { "10.1.2.3", false, NULL },
        { "fd00::1/64", false, "fd00::/64" },
        { "::/0", false, "::/0" },
        { "fd00::1", true, "fd00::1" },
        { "10.0.0.0/", false, NULL },
        { "10.0.0.0/08", false, NULL },
        { "10.0.0.0/+8", false, NULL },
        { "10.0.0.0/129", false, NULL },
        { "fd00::/129", false, NULL },
        { "010.0.0.1/32", false, NULL },
        { "10.0.0/8", false, NULL },
        { "", true, NULL },
        { "fd00::/64/1", false, NULL },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct k8s_cidr cidr;
        char *error = k8s_parse_cidr(cases[i].in, cases[i].allow_host,
                                     &cidr);

        if (!cases[i].out) {
            if (!error) {
                fail_msg("%s: expected an error", cases[i].in);
            }
            free(error);
        } else {
            struct ds s = DS_EMPTY_INITIALIZER;

            if (error) {
                fail_msg("%s: %s", cases[i].in, error);
            }
            k8s_cidr_format(&cidr, &s);
            assert_string_equal(ds_cstr(&s), cases[i].out);
            ds_destroy(&s);
        }
    }
}

/* Pod CIDRs of a Node, formatted and separated by spaces, or the error. */
static char *
node_pod_cidrs(const char *text)
{
    json_t *objects = decode_ok(text);
    struct k8s_cidr *cidrs;
    size_t n;
    char *error = k8s_parse_node_pod_cidrs(json_array_get(objects, 0),
                                           &cidrs, &n);
    json_decref(objects);
    if (error) {
        assert_null(cidrs);
        assert_int_equal(n, 0);
        return error;
    }

    struct ds s = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < n; i++) {
        if (i) {
            ds_put_char(&s, ' ');
        }
        k8s_cidr_format(&cidrs[i], &s);
    }
    free(cidrs);
    return ds_steal_cstr(&s);
}

static void
test_node_pod_cidrs(void **state OVS_UNUSED)
{
    static const struct {
        const char *in;
        const char *out;        /* Pod CIDRs, or part of the error. */
    } cases[] = {
        { "{\"kind\": \"Node\", \"metadata\": {\"name\": \"n1\"}, "
          "\"spec\": {\"podCIDR\": \"10.244.3.0/24\"}}",
          "10.244.3.0/24" },
        { "{\"metadata\": {\"name\": \"n1\"}, \"spec\": {"
          "\"podCIDR\": \"10.244.3.0/24\", "
          "\"podCIDRs\": [\"10.244.3.0/24\", \"fd00:10:244:3::/64\"]}}",
          "10.244.3.0/24 fd00:10:244:3::/64" },
        { "{\"metadata\": {\"name\": \"n1\"}, \"spec\": {"
          "\"podCIDRs\": [\"fd00::/64\", \"10.1.2.3/16\"]}}",
          "fd00::/64 10.1.0.0/16" },
        { "{\"metadata\": {\"name\": \"n1\"}, \"spec\": {}}", "" },
        { "{\"metadata\": {\"name\": \"n1\"}}", "" },
        { "{\"metadata\": {\"name\": \"n1\"}, "
          "\"spec\": {\"podCIDR\": \"10.244.3.0\"}}",
          "Node n1: spec.podCIDR: " },
        { "{\"metadata\": {\"name\": \"n1\"}, "
          "\"spec\": {\"podCIDRs\": [7]}}",
          "Node n1: spec.podCIDRs[0]: must be a string" },
        { "{\"metadata\": {\"name\": \"n1\"}, "
          "\"spec\": {\"podCIDRs\": \"10.0.0.0/8\"}}",
          "Node n1: spec.podCIDRs: must be an array" },
        { "{\"metadata\": {}, \"spec\": {\"podCIDR\": \"10.0.0.0/8\"}}",
          "metadata.name: required value" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *out = node_pod_cidrs(cases[i].in);
        if (strstr(cases[i].out, ": ")) {
            assert_contains(out, cases[i].out);     /* An error. */
        } else {
            assert_string_equal(out, cases[i].out);
        }
        free(out);
    }
}

/* ---------------------------------------------------------------------- */
/* The cache. */

static void
test_cache(void **state OVS_UNUSED)
{
    struct kcache *cache = kcache_create();
    json_t *objects = decode_fixture("multi-doc.yaml");
    uint64_t seqno = kcache_seqno(cache);
    size_t i;
    json_t *obj;

    json_array_foreach (objects, i, obj) {
        char *error = kcache_upsert(cache, NULL, obj);
        if (error) {
            fail_msg("%s", error);
        }
        assert_true(kcache_seqno(cache) > seqno);
        seqno = kcache_seqno(cache);
    }
    json_decref(objects);

    assert_int_equal(hmap_count(&cache->namespaces), 2);
    assert_int_equal(hmap_count(&cache->pods), 2);
    assert_int_equal(hmap_count(&cache->policies), 1);
    assert_non_null(kcache_find_namespace(cache, "prod"));
    assert_non_null(kcache_find_pod(cache, "prod", "web-0"));
    assert_non_null(kcache_find_pod(cache, "dev", "tool"));
    assert_null(kcache_find_pod(cache, "prod", "tool"));
    assert_non_null(kcache_find_policy(cache, "prod", "allow-web"));
    assert_null(kcache_find_policy(cache, "dev", "allow-web"));

    /* Replace: same namespace/name, new content, one object. */
    objects = decode_ok("kind: Pod\nmetadata: {name: web-0, namespace: "
                        "prod, labels: {app: db}}\n");
    assert_null(kcache_upsert(cache, NULL, json_array_get(objects, 0)));
    json_decref(objects);
    assert_int_equal(hmap_count(&cache->pods), 2);
    assert_string_equal(smap_get(&kcache_find_pod(cache, "prod",
                                                  "web-0")->labels, "app"),
                        "db");
    assert_true(kcache_seqno(cache) > seqno);
    seqno = kcache_seqno(cache);

    /* Items from an API server carry no kind: the caller names it. */
    objects = decode_ok("{\"metadata\": {\"name\": \"kindless\"}}");
    assert_null(kcache_upsert(cache, "Namespace",
                              json_array_get(objects, 0)));
    assert_non_null(kcache_find_namespace(cache, "kindless"));
    char *error = kcache_upsert(cache, NULL, json_array_get(objects, 0));
    assert_contains(error, "unsupported kind");
    free(error);
    json_decref(objects);
    seqno = kcache_seqno(cache);

    /* A pod that fails to parse leaves the cache alone. */
    objects = decode_ok("kind: Pod\nmetadata: {name: web-0, namespace: "
                        "prod}\nstatus: {podIP: bogus}\n");
    error = kcache_upsert(cache, NULL, json_array_get(objects, 0));
    assert_contains(error, "Pod prod/web-0");
    free(error);
    json_decref(objects);
    assert_int_equal(kcache_seqno(cache), seqno);
    assert_string_equal(smap_get(&kcache_find_pod(cache, "prod",
                                                  "web-0")->labels, "app"),
                        "db");

    /* A broken policy replaces the good one, failing closed. */
    objects = decode_ok("kind: NetworkPolicy\nmetadata: {name: allow-web, "
                        "namespace: prod}\nspec: {ingress: [{ports: "
                        "[{port: 0}]}]}\n");
    error = kcache_upsert(cache, NULL, json_array_get(objects, 0));
    assert_contains(error, "NetworkPolicy prod/allow-web: ");
    free(error);
    json_decref(objects);
    const struct k8s_network_policy *np
        = kcache_find_policy(cache, "prod", "allow-web");
    assert_non_null(np);
    assert_non_null(np->error);
    assert_true(np->ingress_isolation);
    assert_int_equal(np->n_ingress, 0);
    assert_true(kcache_seqno(cache) > seqno);
    seqno = kcache_seqno(cache);

    /* Remove bumps seqno only when something goes. */
    kcache_remove(cache, K8S_KIND_POD, "prod", "web-0");
    assert_null(kcache_find_pod(cache, "prod", "web-0"));
    assert_true(kcache_seqno(cache) > seqno);
    seqno = kcache_seqno(cache);
    kcache_remove(cache, K8S_KIND_POD, "prod", "web-0");
    kcache_remove(cache, K8S_KIND_NETWORK_POLICY, "dev", "allow-web");
    assert_int_equal(kcache_seqno(cache), seqno);
    kcache_remove(cache, K8S_KIND_NETWORK_POLICY, "prod", "allow-web");
    kcache_remove(cache, K8S_KIND_NAMESPACE, NULL, "dev");
    assert_null(kcache_find_policy(cache, "prod", "allow-web"));
    assert_null(kcache_find_namespace(cache, "dev"));
    assert_int_equal(kcache_seqno(cache), seqno + 2);
    seqno = kcache_seqno(cache);

    /* Iteration. */
    const struct k8s_namespace *ns;
    size_t n = 0;
    KCACHE_FOR_EACH_NAMESPACE (ns, cache) {
        n++;
    }
    assert_int_equal(n, 2);

    kcache_clear(cache);
    assert_true(kcache_seqno(cache) > seqno);
    seqno = kcache_seqno(cache);
    assert_int_equal(hmap_count(&cache->namespaces), 0);
    kcache_clear(cache);
    assert_int_equal(kcache_seqno(cache), seqno);

    enum k8s_kind kind;
    assert_true(k8s_kind_from_string("NetworkPolicy", &kind));
    assert_int_equal(kind, K8S_KIND_NETWORK_POLICY);
    assert_false(k8s_kind_from_string("Service", &kind));
    assert_false(k8s_kind_from_string(NULL, &kind));

    kcache_destroy(cache);
    kcache_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_multi_doc_yaml),
        cmocka_unit_test(test_decode_json_list),
        cmocka_unit_test(test_decode_yaml_scalars),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_namespace_labels),
        cmocka_unit_test(test_pod),
        cmocka_unit_test(test_policy_types_defaulting),
        cmocka_unit_test(test_policy_empty_vs_omitted),
        cmocka_unit_test(test_policy_identity),
        cmocka_unit_test(test_policy_ipv6_and_ports),
        cmocka_unit_test(test_policy_validation),
        cmocka_unit_test(test_policy_fail_closed),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_node_pod_cidrs),
        cmocka_unit_test(test_cache),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
