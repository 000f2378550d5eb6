/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_PORTMAP_H
#define NETPOL_PORTMAP_H 1

/* Local pods as OVSDB shows them: pod (namespace/name) -> OVS port.
 *
 * Filled from the external_ids the CNI plugin writes (netpol/ovs-keys.h)
 * by the controller's OVSDB module, read by the compiler.  Only rows with
 * an assigned ofport (>= 1) and both pod keys are entered. */

#include <stdbool.h>
#include <stddef.h>
#include "openvswitch/hmap.h"
#include "openvswitch/types.h"
#include "packets.h"

struct portmap_entry {
    struct hmap_node node;      /* In struct portmap, by namespace/name. */
    char *namespace;
    char *name;
    char *iface_name;           /* OVSDB Interface name. */
    char *container_id;         /* May be NULL. */
    ofp_port_t ofport;
    struct eth_addr mac;        /* eth_addr_zero if unknown. */
    char *ips;                  /* As written by the CNI plugin, or NULL. */
};

struct portmap {
    struct hmap entries;
};

void portmap_init(struct portmap *);
void portmap_destroy(struct portmap *);
void portmap_clear(struct portmap *);

/* Adds an entry; copies every string.  If the pod already has an entry
 * (two ports claim one pod, e.g. a stale port of a re-created sandbox),
 * the entry with the higher ofport wins, since OVS assigns increasing
 * ofports.  Returns the entry kept. */
struct portmap_entry *portmap_add(struct portmap *, const char *namespace,
                                  const char *name, const char *iface_name,
                                  const char *container_id, ofp_port_t,
                                  struct eth_addr mac, const char *ips);

const struct portmap_entry *portmap_find(const struct portmap *,
                                         const char *namespace,
                                         const char *name);
size_t portmap_count(const struct portmap *);

/* True if 'a' and 'b' hold the same entries with the same contents. */
bool portmap_equal(const struct portmap *a, const struct portmap *b);

#define PORTMAP_FOR_EACH(ENTRY, PORTMAP) \
    HMAP_FOR_EACH (ENTRY, node, &(PORTMAP)->entries)

#endif /* lib/portmap.h */
