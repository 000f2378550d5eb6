/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "controller/ovs-state.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dirs.h"
#include "flow.h"
#include "lib/portmap.h"
#include "netpol/ovs-keys.h"
#include "netpol/pipeline.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "smap.h"
#include "svec.h"
#include "timeval.h"
#include "util.h"
#include "vswitch-idl.h"

VLOG_DEFINE_THIS_MODULE(ovs_state);

/* After a failed OVSDB transaction, wait this long before writing again, so
 * that a transaction the server keeps rejecting does not make us spin. */
#define OVSSTATE_RETRY_MSEC 1000

static const char *const np_table_names[NP_N_TABLES] = { NP_TABLE_NAMES };

struct ovsstate {
    struct ovsdb_idl_loop idl_loop;
    struct ovsdb_idl_txn *txn;  /* Open between run and wait, or NULL. */

    char *bridge;
    char *datapath_type;
    char *gateway;
    char *target;

    /* Copied out of the IDL; no row pointers are kept. */
    unsigned int idl_seqno;     /* Of the IDL when last copied. */
    bool bridge_exists;
    struct portmap ports;
    ofp_port_t gateway_ofport;
    struct eth_addr gateway_mac;
    uint64_t seqno;
    bool flow_restore_wait;     /* other_config:flow-restore-wait=true. */

    /* What the controller asked for in Open_vSwitch. */
    bool want_ready;
    bool want_clear_flow_restore_wait;

    long long int retry_at;     /* LLONG_MIN if not backing off. */
    uint64_t n_txn_failures;
};

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);

static void
ovsstate_register_idl(struct ovsdb_idl *idl)
{
    ovsdb_idl_add_table(idl, &ovsrec_table_open_vswitch);
    ovsdb_idl_add_column(idl, &ovsrec_open_vswitch_col_bridges);
    ovsdb_idl_add_column(idl, &ovsrec_open_vswitch_col_external_ids);
    ovsdb_idl_add_column(idl, &ovsrec_open_vswitch_col_other_config);

    ovsdb_idl_add_table(idl, &ovsrec_table_bridge);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_name);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_datapath_type);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_fail_mode);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_protocols);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_ports);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_flow_tables);

    ovsdb_idl_add_table(idl, &ovsrec_table_port);
    ovsdb_idl_add_column(idl, &ovsrec_port_col_name);
    ovsdb_idl_add_column(idl, &ovsrec_port_col_interfaces);

    ovsdb_idl_add_table(idl, &ovsrec_table_interface);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_name);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_type);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_ofport);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_mac_in_use);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_external_ids);

    ovsdb_idl_add_table(idl, &ovsrec_table_flow_table);
    ovsdb_idl_add_column(idl, &ovsrec_flow_table_col_name);
}

struct ovsstate *
ovsstate_create(const struct ovsstate_options *options)
{
    struct ovsstate *os = xzalloc(sizeof *os);
    struct ovsdb_idl *idl = ovsdb_idl_create(options->ovsdb_remote,
                                             &ovsrec_idl_class, false, true);

    ovsstate_register_idl(idl);
    os->idl_loop = (struct ovsdb_idl_loop) OVSDB_IDL_LOOP_INITIALIZER(idl);
    os->bridge = xstrdup(options->bridge);
    os->datapath_type = (options->datapath_type && options->datapath_type[0]
                         ? xstrdup(options->datapath_type) : NULL);
    os->gateway = (options->gateway && options->gateway[0]
                   ? xstrdup(options->gateway) : NULL);
    os->target = xasprintf("unix:%s/%s.mgmt", ovs_rundir(), os->bridge);
    os->idl_seqno = ovsdb_idl_get_seqno(idl) - 1;
    portmap_init(&os->ports);
    os->gateway_ofport = OFPP_NONE;
    os->gateway_mac = eth_addr_zero;
    os->retry_at = LLONG_MIN;
    return os;
}

void
ovsstate_destroy(struct ovsstate *os)
{
    if (os) {
        if (os->txn) {
            /* ovsdb_idl_loop_destroy() frees only the committing txn. */
            ovsdb_idl_txn_destroy(os->txn);
            os->idl_loop.open_txn = NULL;
        }
        ovsdb_idl_loop_destroy(&os->idl_loop);
        portmap_destroy(&os->ports);
        free(os->bridge);
        free(os->datapath_type);
        free(os->gateway);
        free(os->target);
        free(os);
    }
}

static const struct ovsrec_bridge *
ovsstate_find_bridge(const struct ovsstate *os)
{
    const struct ovsrec_bridge *br;

    OVSREC_BRIDGE_FOR_EACH (br, os->idl_loop.idl) {
        if (!strcmp(br->name, os->bridge)) {
            return br;
        }
    }
    return NULL;
}

/* Returns the interface named 'name' on 'br', or NULL. */
static const struct ovsrec_interface *
ovsstate_find_iface(const struct ovsrec_bridge *br, const char *name)
{
    for (size_t i = 0; i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            if (!strcmp(port->interfaces[j]->name, name)) {
                return port->interfaces[j];
            }
        }
    }
    return NULL;
}

/* Inserts a port with one interface named 'name' of type 'type', with
 * 'external_ids' (may be NULL), and returns the port, which the caller must
 * add to a bridge. */
static struct ovsrec_port *
ovsstate_insert_port(struct ovsdb_idl_txn *txn, const char *name,
                     const char *type, const struct smap *external_ids)
{
    struct ovsrec_interface *iface = ovsrec_interface_insert(txn);
    ovsrec_interface_set_name(iface, name);
    ovsrec_interface_set_type(iface, type);
    if (external_ids) {
        ovsrec_interface_set_external_ids(iface, external_ids);
    }

    struct ovsrec_port *port = ovsrec_port_insert(txn);
    ovsrec_port_set_name(port, name);
    ovsrec_port_set_interfaces(port, &iface, 1);
    return port;
}

static struct ovsrec_port *
ovsstate_insert_gateway(struct ovsstate *os, struct ovsdb_idl_txn *txn)
{
    struct smap ids = SMAP_CONST1(&ids, NP_EXTID_GATEWAY, "true");

    VLOG_INFO("adding gateway port %s to bridge %s", os->gateway,
              os->bridge);
    return ovsstate_insert_port(txn, os->gateway, "internal", &ids);
}

/* The controller speaks OpenFlow 1.5 (bundles); 1.0 stays enabled so that
 * a plain "ovs-ofctl dump-flows br-int" works for whoever troubleshoots. */
static const char *ovsstate_protocols[] = { "OpenFlow10", "OpenFlow13",
                                            "OpenFlow15" };

/* Creates the bridge like "ovs-vsctl add-br" (the bridge and its local
 * port), fully configured in the same transaction: the bridge never exists
 * in fail_mode standalone, where it would forward everything. */
static void
ovsstate_create_bridge(struct ovsstate *os, struct ovsdb_idl_txn *txn)
{
    const struct ovsrec_open_vswitch *ovs
        = ovsrec_open_vswitch_first(os->idl_loop.idl);
    if (!ovs) {
        ovs = ovsrec_open_vswitch_insert(txn);
    }

    struct ovsrec_bridge *br = ovsrec_bridge_insert(txn);
    ovsrec_bridge_set_name(br, os->bridge);
    ovsrec_bridge_set_fail_mode(br, "secure");
    ovsrec_bridge_set_protocols(br, ovsstate_protocols,
                                ARRAY_SIZE(ovsstate_protocols));
    if (os->datapath_type) {
        ovsrec_bridge_set_datapath_type(br, os->datapath_type);
    }

    int64_t keys[NP_N_TABLES];
    struct ovsrec_flow_table *tables[NP_N_TABLES];
    for (int t = 0; t < NP_N_TABLES; t++) {
        keys[t] = t;
        tables[t] = ovsrec_flow_table_insert(txn);
        ovsrec_flow_table_set_name(tables[t], np_table_names[t]);
    }
    ovsrec_bridge_set_flow_tables(br, keys, tables, NP_N_TABLES);

    struct ovsrec_port *ports[2];
    size_t n_ports = 0;
    ports[n_ports++] = ovsstate_insert_port(txn, os->bridge, "internal",
                                            NULL);
    if (os->gateway) {
        ports[n_ports++] = ovsstate_insert_gateway(os, txn);
    }
    ovsrec_bridge_set_ports(br, ports, n_ports);

    ovsrec_open_vswitch_update_bridges_addvalue(ovs, br);
    VLOG_INFO("creating bridge %s", os->bridge);
}

static void
ovsstate_configure_bridge(struct ovsstate *os, struct ovsdb_idl_txn *txn,
                          const struct ovsrec_bridge *br)
{
    if (os->datapath_type && strcmp(br->datapath_type, os->datapath_type)) {
        ovsrec_bridge_set_datapath_type(br, os->datapath_type);
    }
    if (!br->fail_mode || strcmp(br->fail_mode, "secure")) {
        ovsrec_bridge_set_fail_mode(br, "secure");
    }

    /* Enable OpenFlow 1.5, keeping whatever else an operator enabled. */
    bool has_of15 = false;
    for (size_t i = 0; i < br->n_protocols; i++) {
        if (!strcmp(br->protocols[i], "OpenFlow15")) {
            has_of15 = true;
        }
    }
    if (!br->n_protocols) {
        ovsrec_bridge_set_protocols(br, ovsstate_protocols,
                                    ARRAY_SIZE(ovsstate_protocols));
    } else if (!has_of15) {
        ovsrec_bridge_update_protocols_addvalue(br, "OpenFlow15");
    }

    /* Name our tables. */
    for (int t = 0; t < NP_N_TABLES; t++) {
        const struct ovsrec_flow_table *ft = NULL;
        for (size_t i = 0; i < br->n_flow_tables; i++) {
            if (br->key_flow_tables[i] == t) {
                ft = br->value_flow_tables[i];
                break;
            }
        }
        if (!ft) {
            struct ovsrec_flow_table *new = ovsrec_flow_table_insert(txn);
            ovsrec_flow_table_set_name(new, np_table_names[t]);
            ovsrec_bridge_update_flow_tables_setkey(br, t, new);
        } else if (!ft->name || strcmp(ft->name, np_table_names[t])) {
            ovsrec_flow_table_set_name(ft, np_table_names[t]);
        }
    }

    /* The gateway port. */
    if (os->gateway) {
        const struct ovsrec_interface *gw = ovsstate_find_iface(br,
                                                                os->gateway);
        if (!gw) {
            ovsrec_bridge_update_ports_addvalue(
                br, ovsstate_insert_gateway(os, txn));
        } else {
            if (strcmp(gw->type, "internal")) {
                ovsrec_interface_set_type(gw, "internal");
            }
            if (!smap_get_bool(&gw->external_ids, NP_EXTID_GATEWAY, false)) {
                ovsrec_interface_update_external_ids_setkey(
                    gw, NP_EXTID_GATEWAY, "true");
            }
        }
    }
}

/* Writes the controller's wishes into the Open_vSwitch row. */
static void
ovsstate_configure_ovs(struct ovsstate *os)
{
    const struct ovsrec_open_vswitch *ovs
        = ovsrec_open_vswitch_first(os->idl_loop.idl);
    if (!ovs) {
        return;
    }

    bool ready = smap_get_bool(&ovs->external_ids,
                               NP_EXTID_CONTROLLER_READY, false);
    if (os->want_ready && !ready) {
        ovsrec_open_vswitch_update_external_ids_setkey(
            ovs, NP_EXTID_CONTROLLER_READY, "true");
    } else if (!os->want_ready
               && smap_get(&ovs->external_ids, NP_EXTID_CONTROLLER_READY)) {
        ovsrec_open_vswitch_update_external_ids_delkey(
            ovs, NP_EXTID_CONTROLLER_READY);
    }

    if (os->want_clear_flow_restore_wait
        && smap_get(&ovs->other_config, "flow-restore-wait")) {
        /* Only ovs-vswitchd's start reads it: deleting it while the
         * ovs-vswitchd that we synced with runs just tells it to stop
         * waiting. */
        VLOG_INFO("clearing flow-restore-wait");
        ovsrec_open_vswitch_update_other_config_delkey(ovs,
                                                       "flow-restore-wait");
    }
}

/* Makes the database look as we want it, within the open transaction. */
static void
ovsstate_configure(struct ovsstate *os)
{
    if (!os->txn || !ovsdb_idl_has_ever_connected(os->idl_loop.idl)
        || (os->retry_at != LLONG_MIN && time_msec() < os->retry_at)) {
        return;
    }

    const struct ovsrec_bridge *br = ovsstate_find_bridge(os);
    if (!br) {
        ovsstate_create_bridge(os, os->txn);
    } else {
        ovsstate_configure_bridge(os, os->txn, br);
    }
    ovsstate_configure_ovs(os);
}

/* Parses an ofport column: OFPP_NONE unless OVS assigned a valid one. */
static ofp_port_t
ovsstate_ofport(const struct ovsrec_interface *iface)
{
    if (iface->n_ofport && iface->ofport[0] >= 1
        && iface->ofport[0] < ofp_to_u16(OFPP_MAX)) {
        return u16_to_ofp(iface->ofport[0]);
    }
    return OFPP_NONE;
}

static struct eth_addr
ovsstate_parse_mac(const char *s)
{
    struct eth_addr mac;
    if (!s || !eth_addr_from_string(s, &mac)) {
        return eth_addr_zero;
    }
    return mac;
}

/* Copies what the compiler needs out of the IDL, bumping 'os->seqno' if
 * any of it changed. */
static void
ovsstate_refresh(struct ovsstate *os)
{
    /* While the IDL is disconnected (ovsdb-server restarting), its rows
     * are the last contents it had and the seqno does not move; when it
     * reconnects, the server's contents replace them within one
     * ovsdb_idl_run(), so the copy below never sees an empty or half
     * database.  Waiting for the connection is only belt and braces: the
     * last known ports stay, and so do the flows. */
    unsigned int idl_seqno = ovsdb_idl_get_seqno(os->idl_loop.idl);
    if (idl_seqno == os->idl_seqno
        || !ovsdb_idl_has_ever_connected(os->idl_loop.idl)
        || !ovsdb_idl_is_connected(os->idl_loop.idl)) {
        return;
    }
    os->idl_seqno = idl_seqno;

    const struct ovsrec_open_vswitch *ovs
        = ovsrec_open_vswitch_first(os->idl_loop.idl);
    os->flow_restore_wait = (ovs && smap_get_bool(&ovs->other_config,
                                                  "flow-restore-wait",
                                                  false));

    struct portmap ports;
    ofp_port_t gw_ofport = OFPP_NONE;
    struct eth_addr gw_mac = eth_addr_zero;
    const struct ovsrec_bridge *br = ovsstate_find_bridge(os);

    portmap_init(&ports);
    for (size_t i = 0; br && i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            const struct ovsrec_interface *iface = port->interfaces[j];
            const struct smap *ids = &iface->external_ids;
            ofp_port_t ofport = ovsstate_ofport(iface);

            if (os->gateway && !strcmp(iface->name, os->gateway)) {
                gw_ofport = ofport;
                gw_mac = ovsstate_parse_mac(iface->mac_in_use);
                if (eth_addr_is_zero(gw_mac)) {
                    /* mac_in_use is ephemeral: after an ovsdb-server
                     * restart it stays empty until ovs-vswitchd writes it
                     * again.  Keep the MAC we know rather than compile
                     * the flows without it and back again. */
                    gw_mac = os->gateway_mac;
                }
                continue;
            }

            const char *ns = smap_get(ids, NP_EXTID_POD_NAMESPACE);
            const char *name = smap_get(ids, NP_EXTID_POD_NAME);
            if (!ns || !name || ofport == OFPP_NONE) {
                continue;
            }
            portmap_add(&ports, ns, name, iface->name,
                        smap_get(ids, NP_EXTID_CONTAINER_ID), ofport,
                        ovsstate_parse_mac(smap_get(ids, NP_EXTID_MAC)),
                        smap_get(ids, NP_EXTID_IPS));
        }
    }

    bool changed = (!portmap_equal(&ports, &os->ports)
                    || gw_ofport != os->gateway_ofport
                    || !eth_addr_equals(gw_mac, os->gateway_mac)
                    || (br != NULL) != os->bridge_exists);
    if (changed) {
        hmap_swap(&os->ports.entries, &ports.entries);

        os->gateway_ofport = gw_ofport;
        os->gateway_mac = gw_mac;
        os->bridge_exists = br != NULL;
        os->seqno++;
        VLOG_DBG("bridge %s: %"PRIuSIZE" pod ports, gateway ofport %"PRIu16,
                 os->bridge, portmap_count(&os->ports),
                 ofp_to_u16(os->gateway_ofport));
    }
    portmap_destroy(&ports);
}

void
ovsstate_run(struct ovsstate *os)
{
    if (os->txn) {
        /* run() twice without wait(): keep the open transaction. */
        ovsdb_idl_run(os->idl_loop.idl);
    } else {
        os->txn = ovsdb_idl_loop_run(&os->idl_loop);
    }
    ovsstate_refresh(os);
    ovsstate_configure(os);
}

void
ovsstate_wait(struct ovsstate *os)
{
    int retval = ovsdb_idl_loop_commit_and_wait(&os->idl_loop);
    os->txn = NULL;
    if (!retval) {
        os->n_txn_failures++;
        os->retry_at = time_msec() + OVSSTATE_RETRY_MSEC;
        VLOG_WARN_RL(&rl, "OVSDB transaction failed, retrying in %d ms",
                     OVSSTATE_RETRY_MSEC);
    } else if (retval == 1) {
        os->retry_at = LLONG_MIN;
    }
    if (os->retry_at != LLONG_MIN) {
        poll_timer_wait_until(os->retry_at);
    }
}

bool
ovsstate_is_ready(const struct ovsstate *os)
{
    return ovsdb_idl_has_ever_connected(os->idl_loop.idl) && os->bridge_exists;
}

uint64_t
ovsstate_seqno(const struct ovsstate *os)
{
    return os->seqno;
}

const struct portmap *
ovsstate_ports(const struct ovsstate *os)
{
    return &os->ports;
}

ofp_port_t
ovsstate_gateway_ofport(const struct ovsstate *os)
{
    return os->gateway_ofport;
}

struct eth_addr
ovsstate_gateway_mac(const struct ovsstate *os)
{
    return os->gateway_mac;
}

const char *
ovsstate_bridge_target(const struct ovsstate *os)
{
    return os->target;
}

void
ovsstate_set_ready(struct ovsstate *os, bool ready)
{
    if (os->want_ready != ready) {
        os->want_ready = ready;
        if (os->txn && ovsdb_idl_has_ever_connected(os->idl_loop.idl)) {
            ovsstate_configure_ovs(os);
        }
    }
}

bool
ovsstate_flow_restore_wait(const struct ovsstate *os)
{
    return os->flow_restore_wait;
}

void
ovsstate_clear_flow_restore_wait(struct ovsstate *os, bool clear)
{
    if (os->want_clear_flow_restore_wait != clear) {
        os->want_clear_flow_restore_wait = clear;
        if (clear && os->txn
            && ovsdb_idl_has_ever_connected(os->idl_loop.idl)) {
            ovsstate_configure_ovs(os);
        }
    }
}

void
ovsstate_dump(const struct ovsstate *os, struct ds *s)
{
    struct ovsdb_idl *idl = os->idl_loop.idl;

    ds_put_format(s, "ovsdb: %s\n",
                  ovsdb_idl_is_connected(idl) ? "connected"
                  : "not connected");
    ds_put_format(s, "bridge: %s (%s)\n", os->bridge,
                  os->bridge_exists ? "exists" : "missing");
    ds_put_format(s, "openflow target: %s\n", os->target);
    if (os->gateway) {
        ds_put_format(s, "gateway: %s ofport ", os->gateway);
        if (os->gateway_ofport == OFPP_NONE) {
            ds_put_cstr(s, "none");
        } else {
            ds_put_format(s, "%"PRIu16, ofp_to_u16(os->gateway_ofport));
        }
        ds_put_format(s, " mac "ETH_ADDR_FMT"\n",
                      ETH_ADDR_ARGS(os->gateway_mac));
    }
    ds_put_format(s, "seqno: %"PRIu64"\n", os->seqno);
    ds_put_format(s, "ready: %s\n", os->want_ready ? "true" : "false");
    ds_put_format(s, "flow-restore-wait: %s\n",
                  os->flow_restore_wait ? "true" : "false");
    ds_put_format(s, "transaction failures: %"PRIu64"\n",
                  os->n_txn_failures);
    ds_put_format(s, "pod ports: %"PRIuSIZE"\n", portmap_count(&os->ports));

    /* Sorted, for stable output. */
    struct ds line = DS_EMPTY_INITIALIZER;
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    const struct portmap_entry *e;
    PORTMAP_FOR_EACH (e, &os->ports) {
        ds_clear(&line);
        ds_put_format(&line, "  %s/%s: %s ofport %"PRIu16" mac "ETH_ADDR_FMT
                      " ips %s\n", e->namespace, e->name, e->iface_name,
                      ofp_to_u16(e->ofport), ETH_ADDR_ARGS(e->mac),
                      e->ips ? e->ips : "-");
        svec_add(&lines, ds_cstr(&line));
    }
    svec_sort(&lines);
    for (size_t i = 0; i < lines.n; i++) {
        ds_put_cstr(s, lines.names[i]);
    }
    svec_destroy(&lines);
    ds_destroy(&line);
}
