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
    struct kcache *cache = xmalloc(sizeof *cache);

    hmap_init(&cache->namespaces);
    hmap_init(&cache->pods);
    hmap_init(&cache->policies);
    cache->seqno = 0;
    return cache;
}

static bool
kcache_clear__(struct kcache *cache)
{
    struct k8s_namespace *ns;
    struct k8s_pod *pod;
    struct k8s_network_policy *policy;
    bool changed = false;

    HMAP_FOR_EACH_POP (ns, node, &cache->namespaces) {
        k8s_namespace_destroy(ns);
        free(ns);
        changed = true;
    }
    HMAP_FOR_EACH_POP (pod, node, &cache->pods) {
        k8s_pod_destroy(pod);
        free(pod);
        changed = true;
    }
    HMAP_FOR_EACH_POP (policy, node, &cache->policies) {
        k8s_network_policy_destroy(policy);
        free(policy);
        changed = true;
    }
    return changed;
}

void
kcache_destroy(struct kcache *cache)
{
    if (cache) {
        kcache_clear__(cache);
        hmap_destroy(&cache->namespaces);
        hmap_destroy(&cache->pods);
        hmap_destroy(&cache->policies);
        free(cache);
    }
}

void
kcache_clear(struct kcache *cache)
{
    if (kcache_clear__(cache)) {
        cache->seqno++;
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
        k8s_namespace_destroy(old);
        free(old);
    }
    hmap_insert(&cache->namespaces, &ns->node, kcache_hash__(NULL, ns->name));
    cache->seqno++;
}

void
kcache_put_pod(struct kcache *cache, struct k8s_pod *pod)
{
    struct k8s_pod *old = kcache_find_pod__(cache, pod->namespace,
                                            pod->name);

    if (old) {
        hmap_remove(&cache->pods, &old->node);
        k8s_pod_destroy(old);
        free(old);
    }
    hmap_insert(&cache->pods, &pod->node,
                kcache_hash__(pod->namespace, pod->name));
    cache->seqno++;
}

void
kcache_put_policy(struct kcache *cache, struct k8s_network_policy *policy)
{
    struct k8s_network_policy *old = kcache_find_policy__(cache,
                                                          policy->namespace,
                                                          policy->name);

    if (old) {
        hmap_remove(&cache->policies, &old->node);
        k8s_network_policy_destroy(old);
        free(old);
    }
    hmap_insert(&cache->policies, &policy->node,
                kcache_hash__(policy->namespace, policy->name));
    cache->seqno++;
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
            k8s_namespace_destroy(ns);
            free(ns);
            cache->seqno++;
        }
        break;
    }
    case K8S_KIND_POD: {
        struct k8s_pod *pod = kcache_find_pod__(cache, namespace, name);
        if (pod) {
            hmap_remove(&cache->pods, &pod->node);
            k8s_pod_destroy(pod);
            free(pod);
            cache->seqno++;
        }
        break;
    }
    case K8S_KIND_NETWORK_POLICY: {
        struct k8s_network_policy *policy = kcache_find_policy__(cache,
                                                                 namespace,
                                                                 name);
        if (policy) {
            hmap_remove(&cache->policies, &policy->node);
            k8s_network_policy_destroy(policy);
            free(policy);
            cache->seqno++;
        }
        break;
    }
    default:
        OVS_NOT_REACHED();
    }
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

    switch (kind) {
    case K8S_KIND_NAMESPACE: {
        struct k8s_namespace *ns;
        HMAP_FOR_EACH_POP (ns, node, dst) {
            k8s_namespace_destroy(ns);
            free(ns);
        }
        break;
    }
    case K8S_KIND_POD: {
        struct k8s_pod *pod;
        HMAP_FOR_EACH_POP (pod, node, dst) {
            k8s_pod_destroy(pod);
            free(pod);
        }
        break;
    }
    case K8S_KIND_NETWORK_POLICY: {
        struct k8s_network_policy *policy;
        HMAP_FOR_EACH_POP (policy, node, dst) {
            k8s_network_policy_destroy(policy);
            free(policy);
        }
        break;
    }
    default:
        OVS_NOT_REACHED();
    }

    hmap_swap(dst, src);
    if (changed) {
        cache->seqno++;
        staging->seqno++;
    }
}
