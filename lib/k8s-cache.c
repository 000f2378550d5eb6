/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "lib/k8s-cache.h"

#include <stdlib.h>
#include <string.h>
#include "hash.h"
#include "lib/k8s-parse.h"
#include "util.h"

static uint32_t
kcache_hash__(const char *namespace, const char *name)
{
    return hash_string(name, namespace ? hash_string(namespace, 0) : 0);
}

struct kcache *
kcache_create(void)
{
    struct kcache *cache = xzalloc(sizeof *cache);

    hmap_init(&cache->namespaces);
    hmap_init(&cache->pods);
    hmap_init(&cache->policies);
    hmap_init(&cache->pods_by_ns);
    ovs_list_init(&cache->changes);
    return cache;
}

/* The namespace index. */

static struct kcache_ns_pods *
kcache_ns_pods_find__(const struct kcache *cache, const char *namespace)
{
    struct kcache_ns_pods *nsp;

    HMAP_FOR_EACH_WITH_HASH (nsp, node, hash_string(namespace, 0),
                             &cache->pods_by_ns) {
        if (!strcmp(nsp->namespace, namespace)) {
            return nsp;
        }
    }
    return NULL;
}

static void
kcache_index_pod__(struct kcache *cache, struct k8s_pod *pod)
{
    struct kcache_ns_pods *nsp = kcache_ns_pods_find__(cache, pod->namespace);

    if (!nsp) {
        nsp = xmalloc(sizeof *nsp);
        nsp->namespace = xstrdup(pod->namespace);
        hmap_init(&nsp->pods);
        hmap_insert(&cache->pods_by_ns, &nsp->node,
                    hash_string(pod->namespace, 0));
    }
    hmap_insert(&nsp->pods, &pod->ns_node, hash_string(pod->name, 0));
}

static void
kcache_ns_pods_destroy__(struct kcache *cache, struct kcache_ns_pods *nsp)
{
    hmap_remove(&cache->pods_by_ns, &nsp->node);
    hmap_destroy(&nsp->pods);
    free(nsp->namespace);
    free(nsp);
}

static void
kcache_unindex_pod__(struct kcache *cache, struct k8s_pod *pod)
{
    struct kcache_ns_pods *nsp = kcache_ns_pods_find__(cache, pod->namespace);

    hmap_remove(&nsp->pods, &pod->ns_node);
    if (hmap_is_empty(&nsp->pods)) {
        kcache_ns_pods_destroy__(cache, nsp);
    }
}

static void
kcache_clear_index__(struct kcache *cache)
{
    struct kcache_ns_pods *nsp;

    HMAP_FOR_EACH_SAFE (nsp, node, &cache->pods_by_ns) {
        kcache_ns_pods_destroy__(cache, nsp);
    }
}

const struct hmap *
kcache_namespace_pods(const struct kcache *cache, const char *namespace)
{
    const struct kcache_ns_pods *nsp = kcache_ns_pods_find__(cache,
                                                             namespace);
    return nsp ? &nsp->pods : NULL;
}

/* The change log. */

static void
kcache_free_object__(enum k8s_kind kind, void *obj)
{
    if (!obj) {
        return;
    }
    switch (kind) {
    case K8S_KIND_NAMESPACE:
        k8s_namespace_destroy(obj);
        break;
    case K8S_KIND_POD:
        k8s_pod_destroy(obj);
        break;
    case K8S_KIND_NETWORK_POLICY:
        k8s_network_policy_destroy(obj);
        break;
    default:
        OVS_NOT_REACHED();
    }
    free(obj);
}

static void
kcache_changes_free__(struct kcache *cache)
{
    struct kcache_change *c;

    LIST_FOR_EACH_POP (c, list_node, &cache->changes) {
        kcache_free_object__(c->kind, c->old);
        free(c->namespace);
        free(c->name);
        free(c);
    }
    cache->n_changes = 0;
}

/* Every object may have changed: the log cannot say which. */
static void
kcache_lose_changes__(struct kcache *cache)
{
    kcache_changes_free__(cache);
    cache->changes_lost = true;
}

/* Records that the object of 'kind' named 'namespace'/'name' changed; 'old'
 * is what it was (NULL if new), which the log takes over or frees. */
static void
kcache_note__(struct kcache *cache, enum k8s_kind kind,
              const char *namespace, const char *name, void *old)
{
    cache->seqno++;
    if (!cache->track_changes || cache->changes_lost) {
        kcache_free_object__(kind, old);
        return;
    }
    if (cache->n_changes >= KCACHE_MAX_CHANGES) {
        kcache_free_object__(kind, old);
        kcache_lose_changes__(cache);
        return;
    }

    struct kcache_change *c = xmalloc(sizeof *c);
    c->kind = kind;
    c->namespace = nullable_xstrdup(namespace);
    c->name = xstrdup(name);
    c->old = old;
    ovs_list_push_back(&cache->changes, &c->list_node);
    cache->n_changes++;
}

void
kcache_track_changes(struct kcache *cache, bool track)
{
    if (track != cache->track_changes) {
        cache->track_changes = track;
        kcache_lose_changes__(cache);
    }
}

bool
kcache_changes_complete(const struct kcache *cache, uint64_t seqno)
{
    return (cache->track_changes && !cache->changes_lost
            && cache->changes_since == seqno);
}

void
kcache_changes_clear(struct kcache *cache)
{
    kcache_changes_free__(cache);
    cache->changes_lost = false;
    cache->changes_since = cache->seqno;
}

static struct hmap *
kcache_map__(struct kcache *cache, enum k8s_kind kind)
{
    switch (kind) {
    case K8S_KIND_NAMESPACE:
        return &cache->namespaces;
    case K8S_KIND_POD:
        return &cache->pods;
    case K8S_KIND_NETWORK_POLICY:
        return &cache->policies;
    default:
        OVS_NOT_REACHED();
    }
}

/* The object of 'kind' whose hmap node in the cache is 'node'. */
static void *
kcache_object__(enum k8s_kind kind, struct hmap_node *node)
{
    switch (kind) {
    case K8S_KIND_NAMESPACE:
        return CONTAINER_OF(node, struct k8s_namespace, node);
    case K8S_KIND_POD:
        return CONTAINER_OF(node, struct k8s_pod, node);
    case K8S_KIND_NETWORK_POLICY:
        return CONTAINER_OF(node, struct k8s_network_policy, node);
    default:
        OVS_NOT_REACHED();
    }
}

/* Frees every object of 'kind' in 'cache', leaving the namespace index
 * alone.  Returns true if there was any. */
static bool
kcache_free_kind__(struct kcache *cache, enum k8s_kind kind)
{
    struct hmap *map = kcache_map__(cache, kind);
    bool any = !hmap_is_empty(map);
    struct hmap_node *node;

    while ((node = hmap_first(map)) != NULL) {
        hmap_remove(map, node);
        kcache_free_object__(kind, kcache_object__(kind, node));
    }
    return any;
}

static bool
kcache_clear__(struct kcache *cache)
{
    bool changed = false;

    kcache_clear_index__(cache);
    changed |= kcache_free_kind__(cache, K8S_KIND_NAMESPACE);
    changed |= kcache_free_kind__(cache, K8S_KIND_POD);
    changed |= kcache_free_kind__(cache, K8S_KIND_NETWORK_POLICY);
    return changed;
}

void
kcache_destroy(struct kcache *cache)
{
    if (cache) {
        kcache_clear__(cache);
        kcache_changes_free__(cache);
        hmap_destroy(&cache->namespaces);
        hmap_destroy(&cache->pods);
        hmap_destroy(&cache->policies);
        hmap_destroy(&cache->pods_by_ns);
        free(cache);
    }
}

void
kcache_clear(struct kcache *cache)
{
    if (kcache_clear__(cache)) {
        cache->seqno++;
        kcache_lose_changes__(cache);
    }
}

uint64_t
kcache_seqno(const struct kcache *cache)
{
    return cache->seqno;
}

bool
k8s_kind_from_string(const char *s, enum k8s_kind *kind)
{
    if (!s) {
        return false;
    } else if (!strcmp(s, "Namespace")) {
        *kind = K8S_KIND_NAMESPACE;
    } else if (!strcmp(s, "Pod")) {
        *kind = K8S_KIND_POD;
    } else if (!strcmp(s, "NetworkPolicy")) {
        *kind = K8S_KIND_NETWORK_POLICY;
    } else {
        return false;
    }
    return true;
}

static struct k8s_namespace *
kcache_find_namespace__(const struct kcache *cache, const char *name)
{
    struct k8s_namespace *ns;

    HMAP_FOR_EACH_WITH_HASH (ns, node, kcache_hash__(NULL, name),
                             &cache->namespaces) {
        if (!strcmp(ns->name, name)) {
            return ns;
        }
    }
    return NULL;
}

static struct k8s_pod *
kcache_find_pod__(const struct kcache *cache, const char *namespace,
                  const char *name)
{
    struct k8s_pod *pod;

    HMAP_FOR_EACH_WITH_HASH (pod, node, kcache_hash__(namespace, name),
                             &cache->pods) {
        if (!strcmp(pod->namespace, namespace) && !strcmp(pod->name, name)) {
            return pod;
        }
    }
    return NULL;
}

static struct k8s_network_policy *
kcache_find_policy__(const struct kcache *cache, const char *namespace,
                     const char *name)
{
    struct k8s_network_policy *policy;

    HMAP_FOR_EACH_WITH_HASH (policy, node, kcache_hash__(namespace, name),
                             &cache->policies) {
        if (!strcmp(policy->namespace, namespace)
            && !strcmp(policy->name, name)) {
            return policy;
        }
    }
    return NULL;
}

const struct k8s_namespace *
kcache_find_namespace(const struct kcache *cache, const char *name)
{
    return kcache_find_namespace__(cache, name);
}

const struct k8s_pod *
kcache_find_pod(const struct kcache *cache, const char *namespace,
                const char *name)
{
    return kcache_find_pod__(cache, namespace, name);
}

const struct k8s_network_policy *
kcache_find_policy(const struct kcache *cache, const char *namespace,
                   const char *name)
{
    return kcache_find_policy__(cache, namespace, name);
}

void
kcache_put_namespace(struct kcache *cache, struct k8s_namespace *ns)
{
    struct k8s_namespace *old = kcache_find_namespace__(cache, ns->name);

    if (old) {
        hmap_remove(&cache->namespaces, &old->node);
    }
    hmap_insert(&cache->namespaces, &ns->node, kcache_hash__(NULL, ns->name));
    kcache_note__(cache, K8S_KIND_NAMESPACE, NULL, ns->name, old);
}

void
kcache_put_pod(struct kcache *cache, struct k8s_pod *pod)
{
    struct k8s_pod *old = kcache_find_pod__(cache, pod->namespace,
                                            pod->name);

    if (old) {
        hmap_remove(&cache->pods, &old->node);
        kcache_unindex_pod__(cache, old);
    }
    hmap_insert(&cache->pods, &pod->node,
                kcache_hash__(pod->namespace, pod->name));
    kcache_index_pod__(cache, pod);
    kcache_note__(cache, K8S_KIND_POD, pod->namespace, pod->name, old);
}

void
kcache_put_policy(struct kcache *cache, struct k8s_network_policy *policy)
{
    struct k8s_network_policy *old = kcache_find_policy__(cache,
                                                          policy->namespace,
                                                          policy->name);

    if (old) {
        hmap_remove(&cache->policies, &old->node);
    }
    hmap_insert(&cache->policies, &policy->node,
                kcache_hash__(policy->namespace, policy->name));
    kcache_note__(cache, K8S_KIND_NETWORK_POLICY, policy->namespace,
                  policy->name, old);
}

char *
kcache_upsert(struct kcache *cache, const char *kind_s, const json_t *obj)
{
    enum k8s_kind kind;

    if (!kind_s) {
        kind_s = json_string_value(json_object_get(obj, "kind"));
    }
    if (!k8s_kind_from_string(kind_s, &kind)) {
        char *what = k8s_describe(obj, kind_s);
        char *error = xasprintf("%s: unsupported kind (expected Namespace, "
                                "Pod or NetworkPolicy)", what);
        free(what);
        return error;
    }

    char *error = NULL;
    switch (kind) {
    case K8S_KIND_NAMESPACE: {
        struct k8s_namespace *ns;

        error = k8s_parse_namespace(obj, &ns);
        if (!error) {
            kcache_put_namespace(cache, ns);
        }
        break;
    }
    case K8S_KIND_POD: {
        struct k8s_pod *pod;

        error = k8s_parse_pod(obj, &pod);
        if (!error) {
            kcache_put_pod(cache, pod);
        }
        break;
    }
    case K8S_KIND_NETWORK_POLICY: {
        struct k8s_network_policy *policy = NULL;

        /* A policy with an error is still stored, failing closed. */
        error = k8s_parse_network_policy(obj, &policy);
        if (policy) {
            kcache_put_policy(cache, policy);
        }
        break;
    }
    default:
        OVS_NOT_REACHED();
    }
    return error;
}

void
kcache_remove(struct kcache *cache, enum k8s_kind kind,
              const char *namespace, const char *name)
{
    switch (kind) {
    case K8S_KIND_NAMESPACE: {
        struct k8s_namespace *ns = kcache_find_namespace__(cache, name);
        if (ns) {
            hmap_remove(&cache->namespaces, &ns->node);
            kcache_note__(cache, kind, NULL, name, ns);
        }
        break;
    }
    case K8S_KIND_POD: {
        struct k8s_pod *pod = kcache_find_pod__(cache, namespace, name);
        if (pod) {
            hmap_remove(&cache->pods, &pod->node);
            kcache_unindex_pod__(cache, pod);
            kcache_note__(cache, kind, namespace, name, pod);
        }
        break;
    }
    case K8S_KIND_NETWORK_POLICY: {
        struct k8s_network_policy *policy = kcache_find_policy__(cache,
                                                                 namespace,
                                                                 name);
        if (policy) {
            hmap_remove(&cache->policies, &policy->node);
            kcache_note__(cache, kind, namespace, name, policy);
        }
        break;
    }
    default:
        OVS_NOT_REACHED();
    }
}


size_t
kcache_count(const struct kcache *cache, enum k8s_kind kind)
{
    return hmap_count(kcache_map__(CONST_CAST(struct kcache *, cache),
                                   kind));
}

void
kcache_replace_kind(struct kcache *cache, enum k8s_kind kind,
                    struct kcache *staging)
{
    struct hmap *dst = kcache_map__(cache, kind);
    struct hmap *src = kcache_map__(staging, kind);
    bool changed = !hmap_is_empty(dst) || !hmap_is_empty(src);

    if (kind == K8S_KIND_POD) {
        kcache_clear_index__(cache);
        kcache_clear_index__(staging);
    }
    kcache_free_kind__(cache, kind);
    hmap_swap(dst, src);
    if (kind == K8S_KIND_POD) {
        struct k8s_pod *pod;
        HMAP_FOR_EACH (pod, node, dst) {
            kcache_index_pod__(cache, pod);
        }
    }

    if (changed) {
        cache->seqno++;
        staging->seqno++;
        kcache_lose_changes__(cache);
        kcache_lose_changes__(staging);
    }
}
