/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_K8S_CACHE_H
#define NETPOL_K8S_CACHE_H 1

/* The store of Kubernetes objects the compiler reads: namespaces, pods and
 * network policies, each kind in an hmap keyed by namespace/name, and pods
 * also indexed by namespace.  Every change bumps a sequence number.  Sources
 * (manifest directory, API watch) feed it; nothing here does I/O.
 *
 * Change log: with kcache_track_changes(), the cache also lists which
 * objects changed since the last kcache_changes_clear(), keeping each
 * replaced or removed object alive until then, so that a consumer (the
 * incremental compiler) can see both what an object was and what it is. */

#include <stdint.h>
#include "compiler.h"
#include "openvswitch/list.h"
#include "lib/json-guard.h"
#include "lib/k8s-types.h"

enum k8s_kind {
    K8S_KIND_NAMESPACE,
    K8S_KIND_POD,
    K8S_KIND_NETWORK_POLICY,
};

struct kcache {
    struct hmap namespaces;     /* struct k8s_namespace, by name. */
    struct hmap pods;           /* struct k8s_pod, by namespace/name. */
    struct hmap policies;       /* struct k8s_network_policy, by ns/name. */
    struct hmap pods_by_ns;     /* struct kcache_ns_pods, by namespace. */
    uint64_t seqno;

    /* Change log (see above). */
    bool track_changes;
    bool changes_lost;          /* Too many, or wholesale: start over. */
    struct ovs_list changes;    /* struct kcache_change, oldest first. */
    size_t n_changes;
    uint64_t changes_since;     /* 'seqno' at the last clear. */
};

/* The pods of one namespace. */
struct kcache_ns_pods {
    struct hmap_node node;      /* In 'pods_by_ns'. */
    char *namespace;
    struct hmap pods;           /* struct k8s_pod, by 'ns_node'. */
};

/* One added, replaced or removed object. */
struct kcache_change {
    struct ovs_list list_node;
    enum k8s_kind kind;
    char *namespace;            /* NULL for a Namespace. */
    char *name;
    void *old;                  /* The object as it was (a struct k8s_pod,
                                 * etc.), owned by the log; NULL if it was
                                 * added.  The object as it is now is in the
                                 * cache, or absent if removed. */
};

/* Most changes the log holds; beyond that it gives up (changes_lost). */
#define KCACHE_MAX_CHANGES 4096

struct kcache *kcache_create(void);
void kcache_destroy(struct kcache *);
void kcache_clear(struct kcache *);
uint64_t kcache_seqno(const struct kcache *);

/* Maps "Namespace", "Pod", "NetworkPolicy" to a kind; false otherwise. */
bool k8s_kind_from_string(const char *, enum k8s_kind *);

/* Parses 'obj' and adds it, replacing an object of the same kind, namespace
 * and name.  'kind' is the object's kind when known (list items from an API
 * server carry none); NULL means read it from the object.  Returns an error
 * naming the object; a NetworkPolicy that fails to parse is still stored
 * (fail closed, see k8s_parse_network_policy()). */
char *kcache_upsert(struct kcache *, const char *kind, const json_t *obj)
    OVS_WARN_UNUSED_RESULT;

/* Removes the object of that kind, namespace and name, if present. */
void kcache_remove(struct kcache *, enum k8s_kind, const char *namespace,
                   const char *name);

/* Replaces every object of 'kind' in 'cache' by those of that kind in
 * 'staging', which are moved (so 'staging' has none of that kind
 * afterward).  Objects of other kinds in either are left alone.  For a
 * relist: objects deleted since the last list disappear.  Bumps the
 * sequence number of 'cache' unless both sides were empty. */
void kcache_replace_kind(struct kcache *cache, enum k8s_kind kind,
                         struct kcache *staging);

/* Starts or stops keeping the change log.  Starting gives an incomplete
 * log until the next kcache_changes_clear(). */
void kcache_track_changes(struct kcache *, bool track);

/* True if the change log lists every change made since the cache had
 * sequence number 'seqno'. */
bool kcache_changes_complete(const struct kcache *, uint64_t seqno);

/* Empties the change log (freeing the old objects it holds); it then lists
 * changes from the current sequence number on. */
void kcache_changes_clear(struct kcache *);

#define KCACHE_FOR_EACH_CHANGE(CHANGE, CACHE) \
    LIST_FOR_EACH (CHANGE, list_node, &(CACHE)->changes)

/* The pods of 'namespace', or NULL if it has none. */
const struct hmap *kcache_namespace_pods(const struct kcache *,
                                         const char *namespace);

#define KCACHE_FOR_EACH_POD_IN(POD, NS_PODS) \
    HMAP_FOR_EACH (POD, ns_node, NS_PODS)

/* Number of objects of 'kind'. */
size_t kcache_count(const struct kcache *, enum k8s_kind);

/* Direct insertion of parsed objects; the cache takes ownership. */
void kcache_put_namespace(struct kcache *, struct k8s_namespace *);
void kcache_put_pod(struct kcache *, struct k8s_pod *);
void kcache_put_policy(struct kcache *, struct k8s_network_policy *);

const struct k8s_namespace *kcache_find_namespace(const struct kcache *,
                                                  const char *name);
const struct k8s_pod *kcache_find_pod(const struct kcache *,
                                      const char *namespace,
                                      const char *name);
const struct k8s_network_policy *kcache_find_policy(const struct kcache *,
                                                    const char *namespace,
                                                    const char *name);

#define KCACHE_FOR_EACH_NAMESPACE(NS, CACHE) \
    HMAP_FOR_EACH (NS, node, &(CACHE)->namespaces)
#define KCACHE_FOR_EACH_POD(POD, CACHE) \
    HMAP_FOR_EACH (POD, node, &(CACHE)->pods)
#define KCACHE_FOR_EACH_POLICY(POLICY, CACHE) \
    HMAP_FOR_EACH (POLICY, node, &(CACHE)->policies)

#endif /* lib/k8s-cache.h */
