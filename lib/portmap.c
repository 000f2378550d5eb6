/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "lib/portmap.h"

#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "hash.h"
#include "util.h"

static uint32_t
portmap_hash(const char *namespace, const char *name)
{
    return hash_string(name, hash_string(namespace, 0));
}

/* Like strcmp(), but NULL sorts equal to NULL only. */
static bool
nullable_streq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static struct portmap_entry *
portmap_find__(const struct portmap *pm, const char *namespace,
               const char *name, uint32_t hash)
{
    struct portmap_entry *e;

    HMAP_FOR_EACH_WITH_HASH (e, node, hash, &pm->entries) {
        if (!strcmp(e->namespace, namespace) && !strcmp(e->name, name)) {
            return e;
        }
    }
    return NULL;
}

/* Sets the contents of 'e' other than its pod key, freeing the old ones. */
static void
portmap_entry_set(struct portmap_entry *e, const char *iface_name,
                  const char *container_id, ofp_port_t ofport,
                  struct eth_addr mac, const char *ips)
{
    free(e->iface_name);
    free(e->container_id);
    free(e->ips);
    e->iface_name = nullable_xstrdup(iface_name);
    e->container_id = nullable_xstrdup(container_id);
    e->ofport = ofport;
    e->mac = mac;
    e->ips = nullable_xstrdup(ips);
}

static void
portmap_entry_destroy(struct portmap_entry *e)
{
    free(e->namespace);
    free(e->name);
    free(e->iface_name);
    free(e->container_id);
    free(e->ips);
    free(e);
}

void
portmap_init(struct portmap *pm)
{
    hmap_init(&pm->entries);
}

void
portmap_destroy(struct portmap *pm)
{
    if (pm) {
        portmap_clear(pm);
        hmap_destroy(&pm->entries);
    }
}

void
portmap_clear(struct portmap *pm)
{
    struct portmap_entry *e;

    HMAP_FOR_EACH_POP (e, node, &pm->entries) {
        portmap_entry_destroy(e);
    }
}

struct portmap_entry *
portmap_add(struct portmap *pm, const char *namespace, const char *name,
            const char *iface_name, const char *container_id,
            ofp_port_t ofport, struct eth_addr mac, const char *ips)
{
    uint32_t hash = portmap_hash(namespace, name);
    struct portmap_entry *e = portmap_find__(pm, namespace, name, hash);

    if (e) {
        if (ofp_to_u16(ofport) > ofp_to_u16(e->ofport)) {
            portmap_entry_set(e, iface_name, container_id, ofport, mac, ips);
        }
        return e;
    }

    e = xzalloc(sizeof *e);
    e->namespace = xstrdup(namespace);
    e->name = xstrdup(name);
    portmap_entry_set(e, iface_name, container_id, ofport, mac, ips);
    hmap_insert(&pm->entries, &e->node, hash);
    return e;
}

const struct portmap_entry *
portmap_find(const struct portmap *pm, const char *namespace,
             const char *name)
{
    return portmap_find__(pm, namespace, name, portmap_hash(namespace, name));
}

size_t
portmap_count(const struct portmap *pm)
{
    return hmap_count(&pm->entries);
}

static bool
portmap_entry_equal(const struct portmap_entry *a,
                    const struct portmap_entry *b)
{
    return (!strcmp(a->namespace, b->namespace)
            && !strcmp(a->name, b->name)
            && nullable_streq(a->iface_name, b->iface_name)
            && nullable_streq(a->container_id, b->container_id)
            && a->ofport == b->ofport
            && eth_addr_equals(a->mac, b->mac)
            && nullable_streq(a->ips, b->ips));
}

bool
portmap_equal(const struct portmap *a, const struct portmap *b)
{
    const struct portmap_entry *ea;

    if (portmap_count(a) != portmap_count(b)) {
        return false;
    }
    PORTMAP_FOR_EACH (ea, a) {
        const struct portmap_entry *eb = portmap_find__(b, ea->namespace,
                                                        ea->name,
                                                        ea->node.hash);
        if (!eb || !portmap_entry_equal(ea, eb)) {
            return false;
        }
    }
    return true;
}
