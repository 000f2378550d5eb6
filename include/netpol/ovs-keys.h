/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_OVS_KEYS_H
#define NETPOL_OVS_KEYS_H 1

/* The contract between the CNI plugin and the controller.
 *
 * The CNI plugin writes these keys into external_ids of the OVSDB Interface
 * row of a pod's host-side veth; the controller monitors Interface rows and
 * learns each local pod's ofport from them, never from interface names. */

/* Pod identity: Kubernetes namespace and name (from CNI_ARGS). */
#define NP_EXTID_POD_NAMESPACE "ovs-netpol/pod-namespace"
#define NP_EXTID_POD_NAME      "ovs-netpol/pod-name"

/* The runtime's container id (CNI_CONTAINERID) and interface (CNI_IFNAME). */
#define NP_EXTID_CONTAINER_ID  "ovs-netpol/container-id"
#define NP_EXTID_IFNAME        "ovs-netpol/ifname"

/* The CNI network ("name" in the network configuration) the attachment
 * belongs to, so that GC of one network leaves the ports of another on the
 * same bridge alone. */
#define NP_EXTID_NETWORK       "ovs-netpol/network"

/* The pod's addresses as configured, comma-separated without prefix
 * lengths ("10.244.0.5,fd00::5"), and its interface MAC. */
#define NP_EXTID_IPS           "ovs-netpol/ips"
#define NP_EXTID_MAC           "attached-mac"

/* OVS's customary key for the logical port a VIF is bound to: set to
 * "<namespace>/<name>" for tools that only know that convention. */
#define NP_EXTID_IFACE_ID      "iface-id"

/* Marks the gateway port the controller creates on the bridge. */
#define NP_EXTID_GATEWAY       "ovs-netpol/gateway"

/* Written by the controller into Open_vSwitch external_ids once it has
 * synced its inputs and installed the resulting flows ("true"), so that the
 * CNI plugin's STATUS can tell. */
#define NP_EXTID_CONTROLLER_READY "ovs-netpol/ready"

#endif /* netpol/ovs-keys.h */
