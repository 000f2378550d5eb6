/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "cni/ovs-port.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "netpol/ovs-keys.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "lib/vswitch-idl.h"
#include "smap.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(cni_ovs_port);

struct cni_ovs {
    struct ovsdb_idl *idl;
    char *remote;
};

/* Runs 'idl' and blocks until something happens or 'deadline' passes. */
static void
cni_ovs_wait(struct ovsdb_idl *idl, long long int deadline)
{
    ovsdb_idl_wait(idl);
    poll_timer_wait_until(deadline);
    poll_block();
    ovsdb_idl_run(idl);
}

/* Connects to the OVSDB server at 'remote' and waits, until 'deadline' at
 * most, for the contents of the tables the plugin uses. */
char *
cni_ovs_open(const char *remote, long long int deadline,
             struct cni_ovs **ovsp)
{
    /* Without the socket there is no server to wait for: say so at once
     * rather than retry until 'deadline'. */
    if (!strncmp(remote, "unix:", 5)) {
        struct stat st;
        if (stat(remote + 5, &st)) {
            return xasprintf("cannot read the OVS database at %s: %s "
                             "(is ovsdb-server running?)", remote,
                             ovs_strerror(errno));
        }
    }

    struct ovsdb_idl *idl = ovsdb_idl_create(remote, &ovsrec_idl_class,
                                             false, true);

    ovsdb_idl_add_table(idl, &ovsrec_table_open_vswitch);
    ovsdb_idl_add_column(idl, &ovsrec_open_vswitch_col_bridges);
    ovsdb_idl_add_column(idl, &ovsrec_open_vswitch_col_external_ids);
    ovsdb_idl_add_table(idl, &ovsrec_table_bridge);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_name);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_ports);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_datapath_type);
    ovsdb_idl_add_table(idl, &ovsrec_table_port);
    ovsdb_idl_add_column(idl, &ovsrec_port_col_name);
    ovsdb_idl_add_column(idl, &ovsrec_port_col_interfaces);
    ovsdb_idl_add_table(idl, &ovsrec_table_interface);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_name);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_external_ids);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_ofport);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_error);

    ovsdb_idl_run(idl);
    while (!ovsdb_idl_has_ever_connected(idl)) {
        if (time_msec() >= deadline) {
            int error = ovsdb_idl_get_last_error(idl);
            char *msg = xasprintf("cannot read the OVS database at %s: %s",
                                  remote, (error > 0 ? ovs_strerror(error)
                                           : "timed out"));
            ovsdb_idl_destroy(idl);
            return msg;
        }
        cni_ovs_wait(idl, deadline);
    }

    struct cni_ovs *ovs = xmalloc(sizeof *ovs);
    ovs->idl = idl;
    ovs->remote = xstrdup(remote);
    *ovsp = ovs;
    return NULL;
}

void
cni_ovs_close(struct cni_ovs *ovs)
{
    if (ovs) {
        ovsdb_idl_destroy(ovs->idl);
        free(ovs->remote);
        free(ovs);
    }
}

static const struct ovsrec_bridge *
cni_ovs_find_bridge(const struct cni_ovs *ovs, const char *name)
{
    const struct ovsrec_bridge *br;

    OVSREC_BRIDGE_FOR_EACH (br, ovs->idl) {
        if (!strcmp(br->name, name)) {
            return br;
        }
    }
    return NULL;
}

static const struct ovsrec_interface *
cni_ovs_find_interface(const struct cni_ovs *ovs, const char *name)
{
    const struct ovsrec_interface *iface;

    OVSREC_INTERFACE_FOR_EACH (iface, ovs->idl) {
        if (!strcmp(iface->name, name)) {
            return iface;
        }
    }
    return NULL;
}

/* Returns the datapath_type of 'bridge' ("" for the default), or NULL if
 * there is no such bridge. */
char *
cni_ovs_bridge_datapath_type(struct cni_ovs *ovs, const char *bridge)
{
    const struct ovsrec_bridge *br = cni_ovs_find_bridge(ovs, bridge);
    return br ? xstrdup(br->datapath_type ? br->datapath_type : "") : NULL;
}

/* Removes every port named 'name' from the bridges in 'txn'.  Returns true
 * if there was one. */
static bool
cni_ovs_remove_ports__(const struct cni_ovs *ovs, const char *name)
{
    const struct ovsrec_bridge *br;
    bool found = false;

    OVSREC_BRIDGE_FOR_EACH (br, ovs->idl) {
        for (size_t i = 0; i < br->n_ports; i++) {
            if (!strcmp(br->ports[i]->name, name)) {
                ovsrec_bridge_update_ports_delvalue(br, br->ports[i]);
                found = true;
            }
        }
    }
    return found;
}

/* Adds a port named 'name' with one system interface of the same name,
 * whose external_ids are 'external_ids', to 'bridge'; replaces any port of
 * that name left over on any bridge.  Then waits, until 'deadline' at most,
 * for ovs-vswitchd to give the interface an ofport, stored in '*ofportp'.
 * On error, the caller should remove the port with cni_ovs_del_port(). */
char *
cni_ovs_add_port(struct cni_ovs *ovs, const char *bridge, const char *name,
                 const struct smap *external_ids, long long int deadline,
                 int *ofportp)
{
    for (int attempt = 0; ; attempt++) {
        const struct ovsrec_bridge *br = cni_ovs_find_bridge(ovs, bridge);
        if (!br) {
            return xasprintf("bridge %s does not exist", bridge);
        }

        struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(ovs->idl);
        ovsdb_idl_txn_add_comment(txn, "ovs-netpol-cni: add port %s to %s",
                                  name, bridge);
        cni_ovs_remove_ports__(ovs, name);

        struct ovsrec_interface *iface = ovsrec_interface_insert(txn);
        ovsrec_interface_set_name(iface, name);
        ovsrec_interface_set_external_ids(iface, external_ids);

        struct ovsrec_port *port = ovsrec_port_insert(txn);
        ovsrec_port_set_name(port, name);
        ovsrec_port_set_interfaces(port, &iface, 1);
        ovsrec_bridge_update_ports_addvalue(br, port);

        enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit_block(txn);
        if (status == TXN_SUCCESS || status == TXN_UNCHANGED) {
            ovsdb_idl_txn_destroy(txn);
            break;
        }
        char *error = xasprintf("cannot add port %s to bridge %s: OVSDB "
                                "transaction failed: %s", name, bridge,
                                ovsdb_idl_txn_get_error(txn));
        ovsdb_idl_txn_destroy(txn);
        if (status != TXN_TRY_AGAIN || time_msec() >= deadline) {
            return error;
        }
        VLOG_INFO("%s (attempt %d), retrying", error, attempt + 1);
        free(error);
        cni_ovs_wait(ovs->idl, deadline);
    }

    /* As "ovs-vsctl --wait" would, but for this interface's ofport. */
    for (;;) {
        const struct ovsrec_interface *iface
            = cni_ovs_find_interface(ovs, name);
        if (iface && iface->n_ofport) {
            if (iface->ofport[0] >= 1) {
                *ofportp = iface->ofport[0];
                return NULL;
            } else if (iface->ofport[0] < 0) {
                return xasprintf("ovs-vswitchd could not add interface %s "
                                 "to bridge %s: %s", name, bridge,
                                 iface->error ? iface->error : "ofport -1");
            }
        }
        if (time_msec() >= deadline) {
            return xasprintf("ovs-vswitchd assigned no OpenFlow port number "
                             "to %s on bridge %s in time (is ovs-vswitchd "
                             "running?)", name, bridge);
        }
        cni_ovs_wait(ovs->idl, deadline);
    }
}

/* Removes the port named 'name' from whichever bridge has it.  Succeeds
 * if there is none. */
char *
cni_ovs_del_port(struct cni_ovs *ovs, const char *name,
                 long long int deadline)
{
    for (;;) {
        struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(ovs->idl);
        ovsdb_idl_txn_add_comment(txn, "ovs-netpol-cni: delete port %s",
                                  name);
        if (!cni_ovs_remove_ports__(ovs, name)) {
            ovsdb_idl_txn_destroy(txn);
            return NULL;
        }

        enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit_block(txn);
        if (status == TXN_SUCCESS || status == TXN_UNCHANGED) {
            ovsdb_idl_txn_destroy(txn);
            return NULL;
        }
        char *error = xasprintf("cannot delete port %s: OVSDB transaction "
                                "failed: %s", name,
                                ovsdb_idl_txn_get_error(txn));
        ovsdb_idl_txn_destroy(txn);
        if (status != TXN_TRY_AGAIN || time_msec() >= deadline) {
            return error;
        }
        free(error);
        cni_ovs_wait(ovs->idl, deadline);
    }
}

/* Returns true if the controller has written NP_EXTID_CONTROLLER_READY
 * ("true") into the Open_vSwitch table: it has synced its inputs and
 * installed the flows for them. */
bool
cni_ovs_controller_ready(const struct cni_ovs *ovs)
{
    const struct ovsrec_open_vswitch *cfg
        = ovsrec_open_vswitch_first(ovs->idl);
    return cfg && smap_get_bool(&cfg->external_ids,
                                NP_EXTID_CONTROLLER_READY, false);
}

/* Looks up the port 'name'.  Returns false if there is none on any bridge;
 * otherwise fills in 'info', whose members point into 'ovs' and are valid
 * until the next call on it. */
bool
cni_ovs_get_port(const struct cni_ovs *ovs, const char *name,
                 struct cni_ovs_port *info)
{
    const struct ovsrec_bridge *br;

    OVSREC_BRIDGE_FOR_EACH (br, ovs->idl) {
        for (size_t i = 0; i < br->n_ports; i++) {
            const struct ovsrec_port *port = br->ports[i];
            if (strcmp(port->name, name)) {
                continue;
            }

            const struct ovsrec_interface *iface = NULL;
            for (size_t j = 0; j < port->n_interfaces; j++) {
                if (!strcmp(port->interfaces[j]->name, name)) {
                    iface = port->interfaces[j];
                }
            }
            info->name = port->name;
            info->bridge = br->name;
            info->ofport = iface && iface->n_ofport ? iface->ofport[0] : 0;
            info->external_ids = iface ? &iface->external_ids : NULL;
            return true;
        }
    }
    return false;
}

/* Adds to 'ports' (name to "<container id>/<ifname>") the ports on
 * 'bridge' that this plugin made for 'network': those whose interface
 * carries both NP_EXTID_CONTAINER_ID and NP_EXTID_IFNAME, and
 * NP_EXTID_NETWORK with the value 'network' (or none at all, as the first
 * versions of the plugin wrote).  Returns false if there is no such
 * bridge. */
bool
cni_ovs_list_attachments(const struct cni_ovs *ovs, const char *bridge,
                         const char *network, struct smap *ports)
{
    const struct ovsrec_bridge *br = cni_ovs_find_bridge(ovs, bridge);
    if (!br) {
        return false;
    }

    for (size_t i = 0; i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            const struct ovsrec_interface *iface = port->interfaces[j];
            const char *id = smap_get(&iface->external_ids,
                                      NP_EXTID_CONTAINER_ID);
            const char *ifname = smap_get(&iface->external_ids,
                                          NP_EXTID_IFNAME);
            const char *net = smap_get(&iface->external_ids,
                                       NP_EXTID_NETWORK);
            if (id && ifname && !strcmp(iface->name, port->name)
                && (!net || !strcmp(net, network))) {
                smap_replace_nocopy(ports, port->name,
                                    xasprintf("%s/%s", id, ifname));
            }
        }
    }
    return true;
}
