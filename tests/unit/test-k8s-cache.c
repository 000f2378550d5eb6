/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* Unit tests for what lib/k8s-cache keeps beside the objects: the index of
 * pods by namespace and the change log that the incremental compiler reads
 * (the objects themselves are tested in test-k8s-parse). */

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
#include "openvswitch/dynamic-string.h"
#include "smap.h"
#include "tests/common/np-rand.h"
#include "tests/unit/npol-world.h"
#include "util.h"

/* ---------------------------------------------------------------------- */
/* Helpers. */

/* Enters every object of the YAML 'format', which must be accepted. */
static void OVS_PRINTF_FORMAT(2, 3)
load(struct kcache *cache, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *text = xvasprintf(format, args);
    va_end(args);

    npol_cache_load_text(cache, text, NULL);
    free(text);
}

static void
pod(struct kcache *cache, const char *ns, const char *name,
    const char *labels)
{
    load(cache, "kind: Pod\nmetadata: {name: %s, namespace: %s, "
         "labels: %s}\nspec: {nodeName: node1}\n"
         "status: {phase: Running, podIPs: [{ip: 10.244.0.9}]}\n",
         name, ns, labels);
}

static void
ns_obj(struct kcache *cache, const char *name, const char *labels)
{
    load(cache, "kind: Namespace\nmetadata: {name: %s, labels: %s}\n",
         name, labels);
}

static void
policy(struct kcache *cache, const char *ns, const char *name,
       const char *uid)
{
    load(cache, "kind: NetworkPolicy\nmetadata: {name: %s, namespace: %s, "
         "uid: %s}\nspec: {podSelector: {}}\n", name, ns, uid);
}

static const char *
pod_label(const struct k8s_pod *pod, const char *key)
{
    assert_non_null(pod);
    return smap_get(&pod->labels, key);
}

/* Checks that the namespace index holds exactly the pods of the cache: each
 * pod under its own namespace, the very object kcache_find_pod() returns,
 * and no empty namespace entry. */
static void
check_index(const struct kcache *cache)
{
    const struct kcache_ns_pods *nsp;
    size_t n = 0;

    HMAP_FOR_EACH (nsp, node, &cache->pods_by_ns) {
        const struct hmap *pods = kcache_namespace_pods(cache, nsp->namespace);
        assert_ptr_equal(pods, &nsp->pods);
        assert_false(hmap_is_empty(pods));

        const struct k8s_pod *p;
        KCACHE_FOR_EACH_POD_IN (p, pods) {
            assert_string_equal(p->namespace, nsp->namespace);
            assert_ptr_equal(kcache_find_pod(cache, p->namespace, p->name),
                             p);
            n++;
        }
    }
    assert_int_equal(n, kcache_count(cache, K8S_KIND_POD));

    const struct k8s_pod *p;
    KCACHE_FOR_EACH_POD (p, cache) {
        const struct hmap *pods = kcache_namespace_pods(cache, p->namespace);
        const struct k8s_pod *q;
        bool found = false;

        assert_non_null(pods);
        KCACHE_FOR_EACH_POD_IN (q, pods) {
            found |= q == p;
        }
        assert_true(found);
    }
}

static size_t
ns_count(const struct kcache *cache, const char *ns)
{
    const struct hmap *pods = kcache_namespace_pods(cache, ns);
    return pods ? hmap_count(pods) : 0;
}

static size_t
log_length(const struct kcache *cache)
{
    const struct kcache_change *c;
    size_t n = 0;

    KCACHE_FOR_EACH_CHANGE (c, cache) {
        n++;
    }
    assert_int_equal(n, cache->n_changes);
    return n;
}

/* The change 'idx' (0 = oldest) of the log, which must be of 'kind' and
 * name 'namespace'/'name'. */
static const struct kcache_change *
nth_change(const struct kcache *cache, size_t idx, enum k8s_kind kind,
           const char *namespace, const char *name)
{
    const struct kcache_change *c;
    size_t i = 0;

    KCACHE_FOR_EACH_CHANGE (c, cache) {
        if (i++ == idx) {
            assert_int_equal(c->kind, kind);
            if (namespace) {
                assert_non_null(c->namespace);
                assert_string_equal(c->namespace, namespace);
            } else {
                assert_null(c->namespace);
            }
            assert_string_equal(c->name, name);
            return c;
        }
    }
    fail_msg("the change log has no entry %"PRIuSIZE, idx);
    return NULL;
}

/* A cache that tracks changes, with a complete, empty log. */
static struct kcache *
tracking_cache(void)
{
    struct kcache *cache = kcache_create();
    kcache_track_changes(cache, true);
    kcache_changes_clear(cache);
    return cache;
}

/* ---------------------------------------------------------------------- */
/* The namespace index. */

static void
test_index_put_remove(void **state OVS_UNUSED)
{
    struct kcache *cache = kcache_create();

    assert_null(kcache_namespace_pods(cache, "a"));
    pod(cache, "a", "p1", "{app: web}");
    pod(cache, "a", "p2", "{app: db}");
    pod(cache, "b", "p1", "{app: web}");
    check_index(cache);
    assert_int_equal(ns_count(cache, "a"), 2);
    assert_int_equal(ns_count(cache, "b"), 1);
    assert_null(kcache_namespace_pods(cache, "c"));

    /* Namespace and policy objects do not enter the pod index. */
    ns_obj(cache, "c", "{}");
    policy(cache, "c", "np", "u1");
    assert_null(kcache_namespace_pods(cache, "c"));

    /* Replacing a pod by one with the same name keeps one entry, the new
     * object. */
    pod(cache, "a", "p1", "{app: api}");
    check_index(cache);
    assert_int_equal(ns_count(cache, "a"), 2);
    const struct k8s_pod *p;
    size_t n_p1 = 0;
    KCACHE_FOR_EACH_POD_IN (p, kcache_namespace_pods(cache, "a")) {
        if (!strcmp(p->name, "p1")) {
            n_p1++;
            assert_string_equal(pod_label(p, "app"), "api");
        }
    }
    assert_int_equal(n_p1, 1);

    /* Removal; the last pod takes its namespace's entry along. */
    kcache_remove(cache, K8S_KIND_POD, "a", "p1");
    check_index(cache);
    assert_int_equal(ns_count(cache, "a"), 1);
    kcache_remove(cache, K8S_KIND_POD, "a", "nonexistent");
    kcache_remove(cache, K8S_KIND_POD, "zz", "p2");
    check_index(cache);
    kcache_remove(cache, K8S_KIND_POD, "b", "p1");
    assert_null(kcache_namespace_pods(cache, "b"));
    check_index(cache);
    kcache_remove(cache, K8S_KIND_POD, "a", "p2");
    assert_null(kcache_namespace_pods(cache, "a"));
    assert_true(hmap_is_empty(&cache->pods_by_ns));

    /* And back. */
    pod(cache, "b", "p1", "{}");
    assert_int_equal(ns_count(cache, "b"), 1);
    check_index(cache);
    kcache_destroy(cache);
}

/* Random puts and removes over a few names, checked against a model. */
static void
test_index_random(void **state OVS_UNUSED)
{
    static const char *const nss[] = { "a", "b", "c" };
    enum { N_NAMES = 5 };
    struct kcache *cache = kcache_create();
    bool model[ARRAY_SIZE(nss)][N_NAMES] = { { false } };

    rng_state = 42;
    for (int step = 0; step < 2000; step++) {
        size_t i = rnd(ARRAY_SIZE(nss));
        int j = rnd(N_NAMES);
        char name[16];

        snprintf(name, sizeof name, "p%d", j);
        if (rnd(3)) {
            pod(cache, nss[i], name, rnd(2) ? "{app: x}" : "{app: y}");
            model[i][j] = true;
        } else {
            kcache_remove(cache, K8S_KIND_POD, nss[i], name);
            model[i][j] = false;
        }
        if (!rnd(200)) {
            kcache_clear(cache);
            memset(model, 0, sizeof model);
        }
        check_index(cache);
        for (i = 0; i < ARRAY_SIZE(nss); i++) {
            size_t n = 0;
            for (j = 0; j < N_NAMES; j++) {
                n += model[i][j];
            }
            assert_int_equal(ns_count(cache, nss[i]), n);
        }
    }
    kcache_destroy(cache);
}

static void
test_index_clear(void **state OVS_UNUSED)
{
    struct kcache *cache = kcache_create();

    pod(cache, "a", "p1", "{}");
    pod(cache, "b", "p1", "{}");
    kcache_clear(cache);
    assert_null(kcache_namespace_pods(cache, "a"));
    assert_null(kcache_namespace_pods(cache, "b"));
    assert_true(hmap_is_empty(&cache->pods_by_ns));
    check_index(cache);

    pod(cache, "a", "p1", "{}");
    assert_int_equal(ns_count(cache, "a"), 1);
    check_index(cache);
    kcache_destroy(cache);
}

/* A relist: the staging cache's pods replace the cache's, and the index of
 * both follows. */
static void
test_index_replace_kind(void **state OVS_UNUSED)
{
    struct kcache *cache = kcache_create();
    struct kcache *staging = kcache_create();

    pod(cache, "a", "p1", "{v: old}");
    pod(cache, "a", "p2", "{v: old}");
    pod(cache, "b", "p1", "{v: old}");
    ns_obj(cache, "a", "{}");
    policy(cache, "a", "np", "u1");

    pod(staging, "b", "p1", "{v: new}");
    pod(staging, "b", "p2", "{v: new}");
    pod(staging, "c", "p1", "{v: new}");
    ns_obj(staging, "z", "{}");

    kcache_replace_kind(cache, K8S_KIND_POD, staging);
    check_index(cache);
    check_index(staging);
    assert_null(kcache_namespace_pods(cache, "a"));
    assert_int_equal(ns_count(cache, "b"), 2);
    assert_int_equal(ns_count(cache, "c"), 1);
    const struct k8s_pod *p;
    KCACHE_FOR_EACH_POD_IN (p, kcache_namespace_pods(cache, "b")) {
        assert_string_equal(pod_label(p, "v"), "new");
    }
    assert_int_equal(kcache_count(staging, K8S_KIND_POD), 0);
    assert_true(hmap_is_empty(&staging->pods_by_ns));
    assert_null(kcache_namespace_pods(staging, "b"));

    /* Other kinds stay where they were. */
    assert_non_null(kcache_find_namespace(cache, "a"));
    assert_null(kcache_find_namespace(cache, "z"));
    assert_non_null(kcache_find_namespace(staging, "z"));
    assert_non_null(kcache_find_policy(cache, "a", "np"));

    /* Both keep working afterward. */
    kcache_remove(cache, K8S_KIND_POD, "b", "p1");
    pod(cache, "a", "p3", "{}");
    pod(cache, "c", "p1", "{v: newer}");
    check_index(cache);
    assert_int_equal(ns_count(cache, "a"), 1);
    assert_int_equal(ns_count(cache, "b"), 1);
    assert_int_equal(ns_count(cache, "c"), 1);
    assert_string_equal(pod_label(kcache_find_pod(cache, "c", "p1"), "v"),
                        "newer");
    pod(staging, "d", "p1", "{}");
    check_index(staging);
    assert_int_equal(ns_count(staging, "d"), 1);

    /* Relisting to nothing empties the index. */
    struct kcache *empty = kcache_create();
    kcache_replace_kind(cache, K8S_KIND_POD, empty);
    assert_true(hmap_is_empty(&cache->pods_by_ns));
    check_index(cache);
    check_index(empty);

    /* Replacing another kind leaves the pod index alone. */
    pod(cache, "a", "p1", "{}");
    kcache_replace_kind(cache, K8S_KIND_NAMESPACE, staging);
    assert_int_equal(ns_count(cache, "a"), 1);
    check_index(cache);
    check_index(staging);

    kcache_destroy(empty);
    kcache_destroy(staging);
    kcache_destroy(cache);
}

/* ---------------------------------------------------------------------- */
/* The change log. */

static void
test_changes_complete(void **state OVS_UNUSED)
{
    struct kcache *cache = kcache_create();

    /* Not tracking: never complete, and nothing is logged. */
    assert_false(kcache_changes_complete(cache, kcache_seqno(cache)));
    pod(cache, "a", "p1", "{}");
    assert_int_equal(log_length(cache), 0);
    kcache_changes_clear(cache);
    assert_false(kcache_changes_complete(cache, kcache_seqno(cache)));

    /* Starting to track gives an incomplete log until the next clear. */
    kcache_track_changes(cache, true);
    assert_false(kcache_changes_complete(cache, kcache_seqno(cache)));
    kcache_changes_clear(cache);
    uint64_t since = kcache_seqno(cache);
    assert_true(kcache_changes_complete(cache, since));
    assert_false(kcache_changes_complete(cache, since - 1));
    assert_false(kcache_changes_complete(cache, since + 1));

    /* Changes keep it complete from 'since', not from now. */
    pod(cache, "a", "p2", "{}");
    assert_true(kcache_seqno(cache) > since);
    assert_true(kcache_changes_complete(cache, since));
    assert_false(kcache_changes_complete(cache, kcache_seqno(cache)));
    assert_int_equal(log_length(cache), 1);

    /* Without a clear, the log accumulates. */
    pod(cache, "a", "p3", "{}");
    assert_true(kcache_changes_complete(cache, since));
    assert_int_equal(log_length(cache), 2);

    kcache_changes_clear(cache);
    assert_int_equal(log_length(cache), 0);
    assert_true(kcache_changes_complete(cache, kcache_seqno(cache)));
    assert_false(kcache_changes_complete(cache, since));

    /* Stopping loses the log. */
    kcache_track_changes(cache, false);
    assert_false(kcache_changes_complete(cache, kcache_seqno(cache)));
    pod(cache, "a", "p4", "{}");
    assert_int_equal(log_length(cache), 0);

    /* Tracking again is incomplete until cleared. */
    kcache_track_changes(cache, true);
    assert_false(kcache_changes_complete(cache, kcache_seqno(cache)));
    kcache_changes_clear(cache);
    assert_true(kcache_changes_complete(cache, kcache_seqno(cache)));

    /* Calling it again with the same setting changes nothing. */
    kcache_track_changes(cache, true);
    assert_true(kcache_changes_complete(cache, kcache_seqno(cache)));
    kcache_destroy(cache);
}

static void
test_changes_entries(void **state OVS_UNUSED)
{
    struct kcache *cache = tracking_cache();
    const struct kcache_change *c;

    /* Additions: no old object. */
    ns_obj(cache, "a", "{team: x}");
    pod(cache, "a", "p1", "{app: web, v: '1'}");
    policy(cache, "a", "np", "uid-1");
    assert_int_equal(log_length(cache), 3);
    c = nth_change(cache, 0, K8S_KIND_NAMESPACE, NULL, "a");
    assert_null(c->old);
    c = nth_change(cache, 1, K8S_KIND_POD, "a", "p1");
    assert_null(c->old);
    c = nth_change(cache, 2, K8S_KIND_NETWORK_POLICY, "a", "np");
    assert_null(c->old);
    kcache_changes_clear(cache);
    assert_int_equal(log_length(cache), 0);

    /* Replacements: the old object as it was; the cache has the new. */
    pod(cache, "a", "p1", "{app: db, v: '2'}");
    ns_obj(cache, "a", "{team: y}");
    policy(cache, "a", "np", "uid-2");
    assert_int_equal(log_length(cache), 3);
    c = nth_change(cache, 0, K8S_KIND_POD, "a", "p1");
    const struct k8s_pod *old_pod = c->old;
    assert_non_null(old_pod);
    assert_ptr_not_equal(old_pod, kcache_find_pod(cache, "a", "p1"));
    assert_string_equal(old_pod->namespace, "a");
    assert_string_equal(old_pod->name, "p1");
    assert_string_equal(pod_label(old_pod, "app"), "web");
    assert_string_equal(pod_label(old_pod, "v"), "1");
    assert_string_equal(old_pod->node_name, "node1");
    assert_int_equal(old_pod->n_ips, 1);
    assert_string_equal(pod_label(kcache_find_pod(cache, "a", "p1"), "app"),
                        "db");
    c = nth_change(cache, 1, K8S_KIND_NAMESPACE, NULL, "a");
    const struct k8s_namespace *old_ns = c->old;
    assert_non_null(old_ns);
    assert_string_equal(smap_get(&old_ns->labels, "team"), "x");
    assert_string_equal(smap_get(&kcache_find_namespace(cache, "a")->labels,
                                 "team"), "y");
    c = nth_change(cache, 2, K8S_KIND_NETWORK_POLICY, "a", "np");
    const struct k8s_network_policy *old_np = c->old;
    assert_non_null(old_np);
    assert_string_equal(old_np->uid, "uid-1");
    assert_string_equal(kcache_find_policy(cache, "a", "np")->uid, "uid-2");

    /* The same object twice without a clear: two entries, each with the
     * object as it was just before that change. */
    pod(cache, "a", "p1", "{app: api, v: '3'}");
    assert_int_equal(log_length(cache), 4);
    c = nth_change(cache, 3, K8S_KIND_POD, "a", "p1");
    assert_string_equal(pod_label(c->old, "v"), "2");
    c = nth_change(cache, 0, K8S_KIND_POD, "a", "p1");
    assert_string_equal(pod_label(c->old, "v"), "1");
    kcache_changes_clear(cache);

    /* Removals: the old object; the cache has none. */
    uint64_t seqno = kcache_seqno(cache);
    kcache_remove(cache, K8S_KIND_POD, "a", "p1");
    kcache_remove(cache, K8S_KIND_NETWORK_POLICY, "a", "np");
    kcache_remove(cache, K8S_KIND_NAMESPACE, NULL, "a");
    assert_int_equal(log_length(cache), 3);
    c = nth_change(cache, 0, K8S_KIND_POD, "a", "p1");
    assert_string_equal(pod_label(c->old, "app"), "api");
    assert_null(kcache_find_pod(cache, "a", "p1"));
    c = nth_change(cache, 1, K8S_KIND_NETWORK_POLICY, "a", "np");
    assert_string_equal(((const struct k8s_network_policy *) c->old)->uid,
                        "uid-2");
    c = nth_change(cache, 2, K8S_KIND_NAMESPACE, NULL, "a");
    assert_string_equal(((const struct k8s_namespace *) c->old)->name, "a");
    assert_true(kcache_changes_complete(cache, seqno));

    /* Removing what is not there logs nothing. */
    kcache_remove(cache, K8S_KIND_POD, "a", "p1");
    kcache_remove(cache, K8S_KIND_NAMESPACE, NULL, "zz");
    assert_int_equal(log_length(cache), 3);
    assert_true(kcache_changes_complete(cache, seqno));

    /* Direct insertion is logged like an upsert. */
    kcache_changes_clear(cache);
    pod(cache, "b", "p1", "{app: web}");
    kcache_changes_clear(cache);
    struct k8s_pod *copy = xzalloc(sizeof *copy);
    copy->namespace = xstrdup("b");
    copy->name = xstrdup("p1");
    smap_init(&copy->labels);
    kcache_put_pod(cache, copy);
    assert_int_equal(log_length(cache), 1);
    c = nth_change(cache, 0, K8S_KIND_POD, "b", "p1");
    assert_string_equal(pod_label(c->old, "app"), "web");
    assert_ptr_equal(kcache_find_pod(cache, "b", "p1"), copy);

    /* The log owns the old objects (valgrind checks they are freed, by
     * the clear and by the destruction with a nonempty log). */
    kcache_changes_clear(cache);
    pod(cache, "b", "p1", "{app: db}");
    kcache_remove(cache, K8S_KIND_POD, "b", "p1");
    kcache_destroy(cache);
}

static void
test_changes_lost(void **state OVS_UNUSED)
{
    struct kcache *cache = tracking_cache();
    uint64_t seqno;

    /* kcache_clear() of a nonempty cache. */
    pod(cache, "a", "p1", "{}");
    seqno = cache->changes_since;
    assert_true(kcache_changes_complete(cache, seqno));
    kcache_clear(cache);
    assert_false(kcache_changes_complete(cache, seqno));
    assert_false(kcache_changes_complete(cache, kcache_seqno(cache)));
    assert_int_equal(log_length(cache), 0);
    pod(cache, "a", "p1", "{}");
    assert_int_equal(log_length(cache), 0);
    assert_false(kcache_changes_complete(cache, seqno));
    kcache_changes_clear(cache);
    assert_true(kcache_changes_complete(cache, kcache_seqno(cache)));

    /* kcache_replace_kind(), in the cache and in the staging cache. */
    struct kcache *staging = tracking_cache();
    pod(staging, "b", "p1", "{}");
    kcache_changes_clear(cache);
    kcache_changes_clear(staging);
    kcache_replace_kind(cache, K8S_KIND_POD, staging);
    assert_false(kcache_changes_complete(cache, kcache_seqno(cache)));
    assert_false(kcache_changes_complete(cache, cache->changes_since));
    assert_false(kcache_changes_complete(staging, staging->changes_since));
    kcache_changes_clear(cache);
    assert_true(kcache_changes_complete(cache, kcache_seqno(cache)));

    /* A replace_kind() that moves nothing loses nothing. */
    kcache_changes_clear(staging);
    seqno = kcache_seqno(cache);
    kcache_replace_kind(cache, K8S_KIND_NETWORK_POLICY, staging);
    assert_true(kcache_changes_complete(cache, seqno));
    kcache_destroy(staging);

    /* Up to KCACHE_MAX_CHANGES changes fit; one more loses the log. */
    json_t *objects;
    const char *text = "kind: Pod\nmetadata: {name: p, namespace: m}\n";
    assert_null(k8s_decode_text(text, strlen(text), &objects));
    const json_t *obj = json_array_get(objects, 0);
    kcache_changes_clear(cache);
    seqno = kcache_seqno(cache);
    for (size_t i = 0; i < KCACHE_MAX_CHANGES; i++) {
        assert_null(kcache_upsert(cache, NULL, obj));
    }
    assert_true(kcache_changes_complete(cache, seqno));
    assert_int_equal(log_length(cache), KCACHE_MAX_CHANGES);
    assert_null(kcache_upsert(cache, NULL, obj));
    assert_false(kcache_changes_complete(cache, seqno));
    assert_int_equal(log_length(cache), 0);
    assert_null(kcache_upsert(cache, NULL, obj));
    assert_int_equal(log_length(cache), 0);
    assert_false(kcache_changes_complete(cache, seqno));
    json_decref(objects);
    check_index(cache);

    kcache_changes_clear(cache);
    seqno = kcache_seqno(cache);
    assert_true(kcache_changes_complete(cache, seqno));
    pod(cache, "a", "p2", "{}");
    assert_true(kcache_changes_complete(cache, seqno));
    assert_int_equal(log_length(cache), 1);
    kcache_destroy(cache);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_put_remove),
        cmocka_unit_test(test_index_random),
        cmocka_unit_test(test_index_clear),
        cmocka_unit_test(test_index_replace_kind),
        cmocka_unit_test(test_changes_complete),
        cmocka_unit_test(test_changes_entries),
        cmocka_unit_test(test_changes_lost),
    };
    return cmocka_run_group_tests_name("k8s-cache", tests, NULL, NULL);
}
