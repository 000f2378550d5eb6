/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_K8S_WATCH_H
#define NETPOL_K8S_WATCH_H 1

/* Kubernetes objects from an API server: one reflector ("struct k8s_watch")
 * per resource keeps that resource's objects in a struct kcache up to date,
 * and a "struct k8s_source" bundles the client and the reflectors for
 * namespaces, pods and networking.k8s.io/v1 networkpolicies behind the
 * same interface as the manifest source, plus one for the controller's own
 * Node, whose pod CIDRs give the gateway port its address.
 *
 * A reflector lists its resource page by page (limit=500 and continue)
 * into a staging store and then replaces all of the cache's objects of its
 * kind at once, so objects deleted meanwhile disappear.  It then watches
 * from the list's resourceVersion with bookmarks and a random
 * timeoutSeconds between 300 and 600, and re-watches from the last
 * resourceVersion seen whenever a watch ends.  A 410 Gone, as an HTTP
 * status or as an ERROR event with a 410 Status, makes it list again.
 * Other failures back off with jitter from about 0.8 s, doubling up to
 * 30 s, honouring Retry-After.  A watch line that cannot be parsed means
 * an event may be lost, so the watch restarts from the resourceVersion of
 * the last good event.  An object that cannot be parsed is reported by
 * name; a pod or namespace is then dropped from the cache and a policy
 * stays in it, failing closed.  Nothing here ever gives up. */

#include <stdbool.h>
#include "lib/k8s-cache.h"

struct ds;
struct k8s_client;
struct k8s_endpoint;

/* One reflector. */
struct k8s_watch *k8s_watch_create(struct k8s_client *, enum k8s_kind,
                                   int idle_sec);
void k8s_watch_destroy(struct k8s_watch *);
void k8s_watch_run(struct k8s_watch *, struct kcache *);
void k8s_watch_wait(const struct k8s_watch *);
bool k8s_watch_is_synced(const struct k8s_watch *);
void k8s_watch_dump(const struct k8s_watch *, struct ds *);

/* Client plus the reflectors for every kind the cache holds and, if
 * 'node_name' is nonnull, one for that Node (fieldSelector
 * metadata.name=NAME), of which only the pod CIDRs are kept, outside the
 * cache.  A watch that receives nothing for 'idle_sec' seconds (0: 120) is
 * restarted, in case the connection died silently. */
struct k8s_source *k8s_source_create(const struct k8s_endpoint *,
                                     int idle_sec, const char *node_name);
void k8s_source_destroy(struct k8s_source *);
void k8s_source_run(struct k8s_source *, struct kcache *);
void k8s_source_wait(struct k8s_source *);

/* True once the initial list of every resource is in the cache.  The Node
 * is not waited for: enforcement does not depend on it. */
bool k8s_source_is_synced(const struct k8s_source *);
void k8s_source_dump(const struct k8s_source *, struct ds *);

/* The pod CIDRs of the Node (spec.podCIDRs, spec.podCIDR), owned by 'src'
 * and valid until its next run.  False, with none, until the Node has been
 * seen, or if it does not exist or does not parse. */
bool k8s_source_node_pod_cidrs(const struct k8s_source *,
                               const struct k8s_cidr **cidrsp, size_t *np);

#endif /* controller/k8s-watch.h */
