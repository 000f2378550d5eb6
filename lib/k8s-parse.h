/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_K8S_PARSE_H
#define NETPOL_K8S_PARSE_H 1

/* Kubernetes objects from text and JSON.
 *
 * Errors are returned as malloc'ed strings (NULL on success) that name the
 * object they are about ("NetworkPolicy default/access-nginx: ..."); the
 * caller frees them.  Nothing here logs or does I/O. */

#include "compiler.h"
#include "lib/json-guard.h"
#include "lib/k8s-types.h"

struct ds;

/* Decodes 'text' ('size' bytes; JSON, or YAML with one or more "---"
 * documents) into '*objectsp', a new JSON array holding every object: a
 * v1 List (kind "List" or any "*List" with "items") contributes its items,
 * empty YAML documents contribute nothing.  On a syntax error returns a
 * message with the line number and sets '*objectsp' to NULL. */
char *k8s_decode_text(const char *text, size_t size, json_t **objectsp)
    OVS_WARN_UNUSED_RESULT;

/* "Kind namespace/name" (or "Kind name"), from whatever of kind and
 * metadata 'obj' has, for messages.  'default_kind' is used when the object
 * has no kind, as in list items from an API server.  Never fails. */
char *k8s_describe(const json_t *obj, const char *default_kind);

/* Parses one object of the kind in its name.  On success stores a new
 * object in '*outp' and returns NULL.  On error returns a message; for a
 * NetworkPolicy whose namespace and name are readable it still stores a
 * policy in '*outp' with 'error' set (fail closed: it isolates what it
 * selects and allows nothing).
 *
 * The objects are malloc'ed: release them with the matching *_destroy()
 * from k8s-types.h followed by free().  A parsed policy carries rules only
 * for the directions its policyTypes name (rules of another direction have
 * no effect in the API), and none at all when 'error' is set; 'error'
 * holds the same messages as the returned string, without the leading
 * "NetworkPolicy namespace/name: ". */
char *k8s_parse_namespace(const json_t *, struct k8s_namespace **outp)
    OVS_WARN_UNUSED_RESULT;
char *k8s_parse_pod(const json_t *, struct k8s_pod **outp)
    OVS_WARN_UNUSED_RESULT;
char *k8s_parse_network_policy(const json_t *,
                               struct k8s_network_policy **outp)
    OVS_WARN_UNUSED_RESULT;

/* Reads the pod CIDRs of Node 'obj' (spec.podCIDRs, and spec.podCIDR if
 * it is not among them) into '*cidrsp', a new array of '*np' elements that
 * the caller frees; none if the node has no pod CIDR yet.  On error
 * returns a message and stores none. */
char *k8s_parse_node_pod_cidrs(const json_t *, struct k8s_cidr **cidrsp,
                               size_t *np)
    OVS_WARN_UNUSED_RESULT;

/* Parses "10.0.0.0/8", "fd00::/64" or, if 'allow_host', a bare address
 * into '*cidr'.  Host bits beyond the prefix are accepted and cleared, as
 * the API server does ("192.168.1.1/24" is its own example, and the
 * upstream e2e suite uses "<podIP>/4"). */
char *k8s_parse_cidr(const char *, bool allow_host, struct k8s_cidr *cidr)
    OVS_WARN_UNUSED_RESULT;

/* Formats 'cidr' as the API would ("10.0.0.0/8"; hosts without prefix). */
void k8s_cidr_format(const struct k8s_cidr *, struct ds *);

#endif /* lib/k8s-parse.h */
