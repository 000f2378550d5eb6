/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef CNI_OVS_PORT_H
#define CNI_OVS_PORT_H 1

/* One-shot OVSDB client for the CNI plugin, in the manner of ovs-vsctl:
 * connect, read the bridges and their ports, run one transaction, wait for
 * ovs-vswitchd to assign an ofport.  Every wait is bounded by a deadline
 * (a time_msec() value). */

#include <stdbool.h>
#include "openvswitch/compiler.h"

struct cni_ovs;
struct smap;

char *cni_ovs_open(const char *remote, long long int deadline,
                   struct cni_ovs **)
    OVS_WARN_UNUSED_RESULT;
void cni_ovs_close(struct cni_ovs *);

char *cni_ovs_bridge_datapath_type(struct cni_ovs *, const char *bridge);
char *cni_ovs_add_port(struct cni_ovs *, const char *bridge,
                       const char *name, const struct smap *external_ids,
                       long long int deadline, int *ofportp)
    OVS_WARN_UNUSED_RESULT;
char *cni_ovs_del_port(struct cni_ovs *, const char *name,
                       long long int deadline)
    OVS_WARN_UNUSED_RESULT;

bool cni_ovs_controller_ready(const struct cni_ovs *);

/* A port as CHECK sees it. */
struct cni_ovs_port {
    const char *name;
    const char *bridge;
    int ofport;                         /* 0 if none yet, -1 on error. */
    const struct smap *external_ids;    /* The interface's, or NULL. */
};

bool cni_ovs_get_port(const struct cni_ovs *, const char *name,
                      struct cni_ovs_port *);
bool cni_ovs_list_attachments(const struct cni_ovs *, const char *bridge,
                              const char *network, struct smap *ports);

#endif /* cni/ovs-port.h */
