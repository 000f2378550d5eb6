/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_OVS_STATE_H
#define NETPOL_OVS_STATE_H 1

/* The controller's view of OVSDB (Open_vSwitch database).
 *
 * Owns the IDL connection.  Makes sure the bridge exists (datapath type as
 * configured, fail_mode=secure, OpenFlow 1.5 enabled, Flow_Table names for
 * our tables), that it has the node's gateway port (an internal interface),
 * and copies the local pod ports (external_ids written by the CNI plugin)
 * into a portmap.  Keeps no IDL row pointers across iterations. */

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/types.h"
#include "packets.h"

struct ds;
struct portmap;

struct ovsstate_options {
    const char *ovsdb_remote;   /* e.g. "unix:/var/run/openvswitch/db.sock". */
    const char *bridge;         /* e.g. "br-int". */
    const char *datapath_type;  /* "system", "netdev" or NULL (OVS's default). */
    const char *gateway;        /* Gateway interface name, e.g. "np-gw0". */
};

struct ovsstate *ovsstate_create(const struct ovsstate_options *);
void ovsstate_destroy(struct ovsstate *);

/* Runs the IDL, creates what is missing, refreshes the portmap.  Never
 * blocks. */
void ovsstate_run(struct ovsstate *);
void ovsstate_wait(struct ovsstate *);

/* True once the IDL has the database contents and the bridge exists. */
bool ovsstate_is_ready(const struct ovsstate *);

/* Bumps whenever the portmap, the gateway port or the bridge changes. */
uint64_t ovsstate_seqno(const struct ovsstate *);

const struct portmap *ovsstate_ports(const struct ovsstate *);

/* The gateway port's ofport and MAC; OFPP_NONE and zero until OVS has
 * assigned them. */
ofp_port_t ovsstate_gateway_ofport(const struct ovsstate *);
struct eth_addr ovsstate_gateway_mac(const struct ovsstate *);

/* The OpenFlow target for the bridge's management socket, e.g.
 * "unix:/var/run/openvswitch/br-int.mgmt".  Derived from OVS_RUNDIR like
 * ovs-ofctl does. */
const char *ovsstate_bridge_target(const struct ovsstate *);

/* Records in the Open_vSwitch table's external_ids whether the controller
 * has synced (NP_EXTID_CONTROLLER_READY), for the CNI plugin's STATUS. */
void ovsstate_set_ready(struct ovsstate *, bool ready);

/* True if the Open_vSwitch table has other_config:flow-restore-wait=true
 * (an ovs-vswitchd started with it forwards nothing new and keeps its
 * datapath flows until it is removed). */
bool ovsstate_flow_restore_wait(const struct ovsstate *);

/* While 'clear' is true, removes other_config:flow-restore-wait whenever it
 * appears.  The controller asks for it only once its flows are in the
 * ovs-vswitchd that the flag was meant for. */
void ovsstate_clear_flow_restore_wait(struct ovsstate *, bool clear);

void ovsstate_dump(const struct ovsstate *, struct ds *);

#endif /* controller/ovs-state.h */
