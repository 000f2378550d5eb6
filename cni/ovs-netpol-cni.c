/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* ovs-netpol-cni: the CNI plugin (spec 1.0.0 and 1.1.0) that attaches pods
 * to the node's OVS bridge.
 *
 * The container runtime runs it with CNI_* environment variables and the
 * network configuration on stdin.  stdout carries only the result (or
 * error) JSON; logs go to stderr.
 *
 * Commands: ADD, DEL, CHECK, VERSION and, for cniVersion 1.1.0, GC and
 * STATUS.  IP addresses come from an IPAM delegate (host-local).  See
 * docs/cni.md. */

#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "cni/ipam.h"
#include "cni/lock.h"
#include "cni/netns.h"
#include "cni/ovs-port.h"
#include "fatal-signal.h"
#include "lib/cni-config.h"
#include "netpol/ovs-keys.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "smap.h"
#include "sset.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ovs_netpol_cni);

extern char **environ;

/* How long the plugin waits for OVSDB to answer, for STATUS (which should
 * answer quickly), and for the locks of other invocations. */
#define CNI_OVSDB_TIMEOUT_MS 5000
#define CNI_STATUS_TIMEOUT_MS 2000
#define CNI_LOCK_TIMEOUT_MS 30000

/* The most the plugin reads from stdin. */
#define CNI_MAX_STDIN (1024 * 1024)

/* For tests: "OVS_NETPOL_CNI_FAIL_AT=<step>" makes ADD fail right after
 * <step> ("ipam", "veth", "netns", "port"), to exercise the rollback. */
#define CNI_FAIL_AT_ENV "OVS_NETPOL_CNI_FAIL_AT"

static struct cni_error *
cni_inject_failure(const char *step)
{
    const char *s = getenv(CNI_FAIL_AT_ENV);
    return (s && !strcmp(s, step)
            ? cni_error_create(CNI_ERR_IO, "injected failure after step "
                               "\"%s\" (%s)", step, CNI_FAIL_AT_ENV)
            : NULL);
}

static struct cni_error *
cni_read_stdin(char **textp)
{
    struct ds text = DS_EMPTY_INITIALIZER;

    for (;;) {
        char buf[4096];
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int error = errno;
            ds_destroy(&text);
            return cni_error_create(CNI_ERR_IO, "error reading stdin: %s",
                                    ovs_strerror(error));
        } else if (!n) {
            break;
        } else if (text.length + n > CNI_MAX_STDIN) {
            ds_destroy(&text);
            return cni_error_create(CNI_ERR_IO, "stdin exceeds %d bytes",
                                    CNI_MAX_STDIN);
        }
        ds_put_buffer(&text, buf, n);
    }
    *textp = ds_steal_cstr(&text);
    return NULL;
}

/* Returns a new error with 'code' and the message "<prefix>: <msg>", with
 * <msg> formatted from 'format' and the arguments that follow. */
static struct cni_error *
cni_error_prefixed(int code, const char *prefix, const char *format, ...)
    OVS_PRINTF_FORMAT(3, 4);

static struct cni_error *
cni_error_prefixed(int code, const char *prefix, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    char *msg = xvasprintf(format, args);
    va_end(args);

    struct cni_error *error = cni_error_create(code, "%s: %s", prefix, msg);
    free(msg);
    return error;
}

static const char *
cni_ovs_rundir(void)
{
    const char *dir = getenv("OVS_RUNDIR");
    return dir && dir[0] ? dir : "/var/run/openvswitch";
}

static long long int
cni_deadline(int ms)
{
    return time_msec() + ms;
}

/* Opens CNI_NETNS and stores its fd in '*fdp'. */
static struct cni_error *
cni_open_netns(const struct cni_env *env, int *fdp)
{
    int error = cni_netns_open(env->netns, fdp);
    return (error
            ? cni_error_create(CNI_ERR_INVALID_ENV,
                               "cannot open CNI_NETNS \"%s\": %s",
                               env->netns, ovs_strerror(error))
            : NULL);
}

/* Locking. */

/* Takes the locks an ADD, DEL or CHECK of 'host_name' needs (see
 * cni/lock.h), or, if 'host_name' is NULL, the exclusive bridge lock that
 * GC needs.  If the lock file cannot even be opened (OVS_RUNDIR is gone),
 * DEL and GC go on without it, since releasing resources must not depend
 * on OVS; the others fail. */
static struct cni_error *
cni_lock(const struct cni_env *env, const struct cni_netconf *conf,
         const char *host_name, struct cni_lock *lock)
{
    bool best_effort = (env->command == CNI_CMD_DEL
                        || env->command == CNI_CMD_GC);
    long long int deadline = cni_deadline(CNI_LOCK_TIMEOUT_MS);
    int error;

    error = cni_lock_open(cni_ovs_rundir(), conf->bridge, lock);
    if (error) {
        if (best_effort) {
            VLOG_WARN("cannot open the lock file in %s (%s), going on "
                      "without it", cni_ovs_rundir(), ovs_strerror(error));
            lock->fd = -1;
            return NULL;
        }
        return cni_error_create(CNI_ERR_TRY_AGAIN, "cannot open the lock "
                                "file in %s: %s", cni_ovs_rundir(),
                                ovs_strerror(error));
    }

    error = cni_lock_bridge(lock, !host_name, deadline);
    if (!error && host_name) {
        error = cni_lock_attachment(lock, host_name, deadline);
    }
    if (error) {
        cni_lock_close(lock);
        return cni_error_create(CNI_ERR_TRY_AGAIN, "cannot lock %s %s: %s",
                                host_name ? "attachment" : "bridge",
                                host_name ? host_name : conf->bridge,
                                ovs_strerror(error));
    }
    return NULL;
}

/* IPAM. */

/* Runs the configured IPAM plugin for 'command' on the attachment
 * ('container_id', 'ifname'), which are the environment's unless
 * overridden (GC).  For ADD, parses its result into '*ipam'.  Sets
 * '*timed_out', if nonnull, to whether the delegate had to be killed. */
static struct cni_error *
cni_run_ipam__(const struct cni_env *env, const struct cni_netconf *conf,
               enum cni_command command, const char *container_id,
               const char *ifname, const char *netns,
               struct cni_ipam_result *ipam, bool *timed_out)
{
    char *request = cni_netconf_ipam_request(conf, CNI_IPAM_VERSION);
    char *args = cni_args_for_ipam(env->args);
    char *output = NULL;
    struct cni_ipam_call call = {
        .type = conf->ipam_type,
        .cni_path = env->path,
        .command = command,
        .container_id = container_id,
        .netns = netns,
        .ifname = ifname,
        .args = args,
        .request = request,
        .timeout_ms = conf->ipam_timeout_ms,
    };
    struct cni_error *error;

    error = cni_ipam_exec(&call, &output);
    if (!error && command == CNI_CMD_ADD) {
        error = cni_ipam_result_parse(output, ipam);
        if (error) {
            cni_error_prefix(error, "IPAM plugin %s", conf->ipam_type);
        }
    }
    if (timed_out) {
        *timed_out = call.timed_out;
    }
    free(output);
    free(args);
    free(request);
    return error;
}

static struct cni_error *
cni_run_ipam(const struct cni_env *env, const struct cni_netconf *conf,
             enum cni_command command, struct cni_ipam_result *ipam,
             bool *timed_out)
{
    return cni_run_ipam__(env, conf, command, env->container_id,
                          env->ifname, env->netns, ipam, timed_out);
}

/* Forwards 'command' (GC or STATUS), which concerns no attachment, to the
 * IPAM plugin with the network configuration's cniVersion.  Ignores the
 * plugin's output. */
static struct cni_error *
cni_ipam_forward(const struct cni_env *env, const struct cni_netconf *conf,
                 enum cni_command command)
{
    char *request = cni_netconf_ipam_request(conf, conf->cni_version);
    struct cni_ipam_call call = {
        .type = conf->ipam_type,
        .cni_path = env->path,
        .command = command,
        .request = request,
        .timeout_ms = conf->ipam_timeout_ms,
    };
    char *output = NULL;
    struct cni_error *error = cni_ipam_exec(&call, &output);
    free(output);
    free(request);
    return error;
}

/* Returns true if the IPAM delegate may hold a reservation for the
 * attachment ('container_id', 'ifname').  Only host-local's files can be
 * read: for any other delegate, or if they cannot be read, the answer is
 * "maybe" (true).  Saves DEL a delegate run, the slowest part of a DEL,
 * when an earlier DEL or the rollback of a failed ADD already released
 * the address. */
static bool
cni_ipam_may_hold(const struct cni_netconf *conf, const char *container_id,
                  const char *ifname)
{
    if (!conf->ipam_data_dir) {
        return true;
    }

    struct smap reservations = SMAP_INITIALIZER(&reservations);
    char *dir = xasprintf("%s/%s", conf->ipam_data_dir, conf->name);
    char *key = xasprintf("%s/%s", container_id, ifname);
    bool found = cni_host_local_reservations(dir, &reservations) != 0;
    struct smap_node *node;

    SMAP_FOR_EACH (node, &reservations) {
        if (!strcmp(node->value, key) || !strcmp(node->value, container_id)) {
            found = true;
        }
    }
    smap_destroy(&reservations);
    free(key);
    free(dir);
    return found;
}

/* ADD. */

/* Undoes a partial ADD: the OVS port (if 'ovs' is nonnull), the host veth
 * (and with it the pod end) and, if 'ipam_done', the IP allocation.
 * Errors are logged: the ADD fails anyway, and the runtime will DEL. */
static void
cni_add_rollback(const struct cni_env *env, const struct cni_netconf *conf,
                 struct cni_ovs *ovs, const char *host_name, bool ipam_done)
{
    if (ovs) {
        char *msg = cni_ovs_del_port(ovs, host_name,
                                     cni_deadline(CNI_OVSDB_TIMEOUT_MS));
        if (msg) {
            VLOG_WARN("rollback: %s", msg);
            free(msg);
        }
    }

    int error = cni_link_delete(host_name);
    if (error && error != ENODEV) {
        VLOG_WARN("rollback: cannot delete %s: %s", host_name,
                  ovs_strerror(error));
    }

    if (ipam_done) {
        struct cni_error *e = cni_run_ipam(env, conf, CNI_CMD_DEL, NULL,
                                           NULL);
        if (e) {
            VLOG_WARN("rollback: %s", e->msg);
            cni_error_destroy(e);
        }
    }
}

static void
cni_format_mac(const struct eth_addr *mac, char buf[ETH_ADDR_STRLEN + 1])
{
    snprintf(buf, ETH_ADDR_STRLEN + 1, ETH_ADDR_FMT, ETH_ADDR_ARGS(*mac));
}

/* The alias of the host veth of the attachment in 'env' (see
 * CNI_HOST_IFALIAS_PREFIX), or NULL if it would be too long. */
static char *
cni_host_alias(const struct cni_env *env, const struct cni_netconf *conf)
{
    char *alias = xasprintf(CNI_HOST_IFALIAS_PREFIX"%s:%s/%s", conf->name,
                            env->container_id, env->ifname);
    if (strlen(alias) >= 256) {
        /* Longer than the kernel keeps: GC then finds the veth through
         * its OVS port only. */
        free(alias);
        return NULL;
    }
    return alias;
}

/* ADD: IP from the delegate, a veth pair (the pod end moved into CNI_NETNS
 * and configured there), the host end on the bridge with the external_ids
 * of netpol/ovs-keys.h, then the result.  Any failure undoes every step
 * done so far.
 *
 * A pod that is re-created in a new sandbox gets a new container id and so
 * a new port, while the runtime has yet to DEL the old one.  ADD leaves the
 * old port alone: the runtime owns its life, and the controller's portmap
 * keeps, for a pod with two ports, the one with the higher ofport, which
 * is the newer one, since ovs-vswitchd hands out increasing numbers. */
static struct cni_error *
cni_cmd_add(const struct cni_env *env, const struct cni_netconf *conf,
            char **resultp)
{
    struct smap args = SMAP_INITIALIZER(&args);
    struct cni_ipam_result ipam = { .ips = NULL };
    struct cni_lock lock = { .fd = -1 };
    struct cni_ovs *ovs = NULL;
    char *dp_type = NULL;
    char *host_name = cni_host_ifname(env->container_id, env->ifname);
    char *alias = NULL;
    bool ipam_done = false;
    bool rollback = false;
    int netns_fd = -1;
    struct cni_error *error;
    char *msg;

    error = cni_args_parse(env->args, &args);
    if (error) {
        goto exit;
    }
    if (!conf->ipam_type) {
        error = cni_error_create(CNI_ERR_INVALID_CONFIG,
                                 "invalid network configuration: \"ipam\" "
                                 "is missing");
        goto exit;
    }
    if (conf->prev_result) {
        struct cni_prev_result prev;
        error = cni_prev_result_parse(conf->prev_result, &prev);
        if (error) {
            goto exit;
        }
        cni_prev_result_destroy(&prev);
    }

    error = cni_open_netns(env, &netns_fd);
    if (error) {
        goto exit;
    }

    error = cni_lock(env, conf, host_name, &lock);
    if (error) {
        goto exit;
    }

    /* The spec: ADD must fail if the interface exists.  Checked first, so
     * that nothing is allocated for nothing. */
    bool exists;
    int err = cni_netns_has_link(netns_fd, env->ifname, &exists);
    if (err || exists) {
        error = (err
                 ? cni_error_create(CNI_ERR_INVALID_ENV, "cannot enter "
                                    "CNI_NETNS %s: %s", env->netns,
                                    ovs_strerror(err))
                 : cni_error_create(CNI_ERR_INVALID_ENV, "invalid "
                                    "CNI_IFNAME: interface %s already "
                                    "exists in CNI_NETNS %s", env->ifname,
                                    env->netns));
        goto exit;
    }

    /* Check OVS before allocating anything. */
    msg = cni_ovs_open(conf->ovsdb, cni_deadline(CNI_OVSDB_TIMEOUT_MS),
                       &ovs);
    if (msg) {
        error = cni_error_create(CNI_ERR_TRY_AGAIN, "%s", msg);
        free(msg);
        goto exit;
    }
    dp_type = cni_ovs_bridge_datapath_type(ovs, conf->bridge);
    if (!dp_type) {
        error = cni_error_create(CNI_ERR_TRY_AGAIN, "bridge %s does not "
                                 "exist in the OVS database at %s",
                                 conf->bridge, conf->ovsdb);
        goto exit;
    }

    bool timed_out;
    error = cni_run_ipam(env, conf, CNI_CMD_ADD, &ipam, &timed_out);
    if (error) {
        /* host-local keeps nothing from an ADD that failed, but one that
         * was killed may have reserved an address already. */
        ipam_done = rollback = timed_out;
        goto exit;
    }
    ipam_done = rollback = true;
    cni_ipam_result_add_default_routes(&ipam);
    error = cni_inject_failure("ipam");
    if (error) {
        goto exit;
    }

    /* A veth of that name can only be left over from an earlier attempt
     * for the same attachment. */
    if (cni_link_exists(host_name)) {
        VLOG_WARN("%s: deleting leftover interface", host_name);
        cni_link_delete(host_name);
    }
    alias = cni_host_alias(env, conf);
    err = cni_veth_create(host_name, env->ifname, netns_fd, conf->mtu,
                          alias);
    if (err == EEXIST) {
        error = cni_error_create(CNI_ERR_INVALID_ENV,
                                 "invalid CNI_IFNAME: interface %s already "
                                 "exists in CNI_NETNS %s", env->ifname,
                                 env->netns);
        goto exit;
    } else if (err) {
        error = cni_error_create(CNI_ERR_IO, "cannot create veth pair "
                                 "%s/%s: %s", host_name, env->ifname,
                                 ovs_strerror(err));
        goto exit;
    }
    error = cni_inject_failure("veth");
    if (error) {
        goto exit;
    }

    struct eth_addr pod_mac, host_mac;
    msg = cni_netns_configure_pod(netns_fd, env->ifname, &ipam,
                                  !strcmp(dp_type, "netdev"), &pod_mac);
    if (!msg) {
        err = cni_link_get_mac(host_name, &host_mac);
        if (!err) {
            err = cni_link_set_up(host_name);
        }
        if (err) {
            msg = xasprintf("%s: %s", host_name, ovs_strerror(err));
        }
    }
    if (msg) {
        error = cni_error_create(CNI_ERR_IO, "%s", msg);
        free(msg);
        goto exit;
    }
    error = cni_inject_failure("netns");
    if (error) {
        goto exit;
    }

    char pod_mac_s[ETH_ADDR_STRLEN + 1], host_mac_s[ETH_ADDR_STRLEN + 1];
    cni_format_mac(&pod_mac, pod_mac_s);
    cni_format_mac(&host_mac, host_mac_s);

    const char *pod_ns = smap_get(&args, "K8S_POD_NAMESPACE");
    const char *pod_name = smap_get(&args, "K8S_POD_NAME");
    struct smap ext_ids = SMAP_INITIALIZER(&ext_ids);
    if (pod_ns && pod_name) {
        smap_add(&ext_ids, NP_EXTID_POD_NAMESPACE, pod_ns);
        smap_add(&ext_ids, NP_EXTID_POD_NAME, pod_name);
        smap_add_format(&ext_ids, NP_EXTID_IFACE_ID, "%s/%s",
                        pod_ns, pod_name);
    }
    smap_add(&ext_ids, NP_EXTID_CONTAINER_ID, env->container_id);
    smap_add(&ext_ids, NP_EXTID_IFNAME, env->ifname);
    smap_add(&ext_ids, NP_EXTID_NETWORK, conf->name);
    smap_add_nocopy(&ext_ids, xstrdup(NP_EXTID_IPS),
                    cni_ipam_result_ips(&ipam));
    smap_add(&ext_ids, NP_EXTID_MAC, pod_mac_s);

    int ofport;
    msg = cni_ovs_add_port(ovs, conf->bridge, host_name, &ext_ids,
                           cni_deadline(conf->ofport_timeout_ms), &ofport);
    smap_destroy(&ext_ids);
    if (msg) {
        error = cni_error_create(CNI_ERR_TRY_AGAIN, "%s", msg);
        free(msg);
        goto exit;
    }
    error = cni_inject_failure("port");
    if (error) {
        goto exit;
    }
    VLOG_INFO("%s: added %s to %s as ofport %d for container %s",
              env->ifname, host_name, conf->bridge, ofport,
              env->container_id);

    const struct cni_interface ifaces[] = {
        { .name = host_name, .mac = host_mac_s, .mtu = conf->mtu },
        { .name = env->ifname, .mac = pod_mac_s, .sandbox = env->netns,
          .mtu = conf->mtu },
    };
    *resultp = cni_result_to_json(conf->cni_version, ifaces,
                                  ARRAY_SIZE(ifaces), 1, &ipam,
                                  conf->prev_result);
    rollback = false;

exit:
    if (error && rollback) {
        cni_add_rollback(env, conf, ovs, host_name, ipam_done);
    }
    if (netns_fd >= 0) {
        close(netns_fd);
    }
    cni_lock_close(&lock);
    cni_ovs_close(ovs);
    cni_ipam_result_destroy(&ipam);
    free(dp_type);
    free(alias);
    free(host_name);
    smap_destroy(&args);
    return error;
}

/* DEL. */

/* Keeps the first error in '*errorp' and logs the others. */
static void
cni_keep_first_error(struct cni_error **errorp, struct cni_error *error)
{
    if (!error) {
        return;
    } else if (!*errorp) {
        *errorp = error;
    } else {
        VLOG_WARN("%s", error->msg);
        cni_error_destroy(error);
    }
}

/* DEL: best effort through every step, so that a repeated DEL finishes
 * what an earlier one could not; reports the first error.  Needs neither
 * the netns nor prevResult: the host veth's name derives from the
 * container id and interface name. */
static struct cni_error *
cni_cmd_del(const struct cni_env *env, const struct cni_netconf *conf)
{
    char *host_name = cni_host_ifname(env->container_id, env->ifname);
    struct cni_lock lock = { .fd = -1 };
    struct cni_error *error = NULL;
    struct cni_ovs *ovs;
    char *msg;

    error = cni_lock(env, conf, host_name, &lock);
    if (error) {
        free(host_name);
        return error;
    }

    msg = cni_ovs_open(conf->ovsdb, cni_deadline(CNI_OVSDB_TIMEOUT_MS),
                       &ovs);
    if (!msg) {
        msg = cni_ovs_del_port(ovs, host_name,
                               cni_deadline(CNI_OVSDB_TIMEOUT_MS));
        cni_ovs_close(ovs);
    }
    if (msg) {
        error = cni_error_create(CNI_ERR_TRY_AGAIN, "%s", msg);
        free(msg);
    }

    int err = cni_link_delete(host_name);
    if (err && err != ENODEV) {
        cni_keep_first_error(&error,
                             cni_error_create(CNI_ERR_IO, "cannot delete "
                                              "%s: %s", host_name,
                                              ovs_strerror(err)));
    }

    if (conf->ipam_type
        && cni_ipam_may_hold(conf, env->container_id, env->ifname)) {
        cni_keep_first_error(&error, cni_run_ipam(env, conf, CNI_CMD_DEL,
                                                  NULL, NULL));
    }
    cni_lock_close(&lock);
    free(host_name);
    return error;
}

/* CHECK. */

/* A CHECK failure: "CHECK failed: <msg>", with <msg> formatted from the
 * printf-style arguments. */
#define cni_check_failed(...) \
    cni_error_prefixed(CNI_ERR_INTERNAL, "CHECK failed", __VA_ARGS__)

/* Returns the addresses of interface 'iface' of 'prev' as ADD wrote them
 * into NP_EXTID_IPS: without prefix lengths, comma-separated. */
static char *
cni_prev_result_ips(const struct cni_prev_result *prev, int iface)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    for (size_t i = 0; i < prev->ipr.n_ips; i++) {
        if (prev->ipr.ips[i].iface == iface) {
            char *ip = cni_cidr_format(&prev->ipr.ips[i].address, false);
            ds_put_format(&s, "%s%s", s.length ? "," : "", ip);
            free(ip);
        }
    }
    return ds_steal_cstr(&s);
}

/* Checks the OVS side of an attachment: its port on the configured
 * bridge, with an ofport, our external_ids, and in them the addresses and
 * MAC of the pod interface 'pod_iface' of 'prev'. */
static struct cni_error *
cni_check_port(const struct cni_env *env, const struct cni_netconf *conf,
               const char *host_name, const struct cni_prev_result *prev,
               int pod_iface)
{
    struct cni_error *error = NULL;
    struct cni_ovs_port port;
    struct cni_ovs *ovs;

    char *msg = cni_ovs_open(conf->ovsdb, cni_deadline(CNI_OVSDB_TIMEOUT_MS),
                             &ovs);
    if (msg) {
        error = cni_error_create(CNI_ERR_TRY_AGAIN, "%s", msg);
        free(msg);
        return error;
    }

    const char *id, *ifname;
    if (!cni_ovs_get_port(ovs, host_name, &port)) {
        error = cni_check_failed("OVS port %s is missing", host_name);
    } else if (strcmp(port.bridge, conf->bridge)) {
        error = cni_check_failed("OVS port %s is on bridge %s, not %s",
                                 host_name, port.bridge, conf->bridge);
    } else if (port.ofport < 1) {
        error = cni_check_failed("OVS port %s has no OpenFlow port number "
                                 "(ofport %d)", host_name, port.ofport);
    } else if (!port.external_ids
               || !(id = smap_get(port.external_ids, NP_EXTID_CONTAINER_ID))
               || !(ifname = smap_get(port.external_ids, NP_EXTID_IFNAME))
               || strcmp(id, env->container_id)
               || strcmp(ifname, env->ifname)) {
        error = cni_check_failed("OVS port %s does not belong to container "
                                 "%s interface %s", host_name,
                                 env->container_id, env->ifname);
    } else {
        const char *want_mac = prev->ifaces[pod_iface].mac;
        const char *have_mac = smap_get_def(port.external_ids, NP_EXTID_MAC,
                                            "");
        const char *have_ips = smap_get_def(port.external_ids, NP_EXTID_IPS,
                                            "");
        char *want_ips = cni_prev_result_ips(prev, pod_iface);

        if (strcmp(have_ips, want_ips)) {
            error = cni_check_failed("OVS port %s has addresses \"%s\", "
                                     "not \"%s\"", host_name, have_ips,
                                     want_ips);
        } else if (want_mac && strcasecmp(have_mac, want_mac)) {
            error = cni_check_failed("OVS port %s has MAC \"%s\", not "
                                     "\"%s\"", host_name, have_mac,
                                     want_mac);
        }
        free(want_ips);
    }
    cni_ovs_close(ovs);
    return error;
}

/* CHECK: the attachment is as prevResult says, and as ADD left it: the
 * interface in the container (up, its MAC and MTU, its addresses), the
 * routes, the host veth (up), the OVS port, and the IPAM reservation (the
 * delegate's CHECK).  No output on success. */
static struct cni_error *
cni_cmd_check(const struct cni_env *env, const struct cni_netconf *conf)
{
    char *host_name = cni_host_ifname(env->container_id, env->ifname);
    struct cni_prev_result prev = { .ifaces = NULL };
    struct cni_link_state pod = { .addrs = NULL };
    struct cni_link_state host = { .addrs = NULL };
    struct cni_lock lock = { .fd = -1 };
    struct cni_error *error = NULL;
    int netns_fd = -1;
    char *msg;

    if (!conf->prev_result) {
        error = cni_error_create(CNI_ERR_INVALID_CONFIG,
                                 "invalid network configuration: CHECK "
                                 "needs \"prevResult\"");
        goto exit;
    }
    error = cni_prev_result_parse(conf->prev_result, &prev);
    if (error) {
        goto exit;
    }
    int pod_iface = cni_prev_result_find_iface(&prev, env->ifname,
                                               env->netns);
    if (pod_iface < 0) {
        error = cni_check_failed("prevResult has no interface %s in "
                                 "sandbox %s", env->ifname, env->netns);
        goto exit;
    }

    error = cni_open_netns(env, &netns_fd);
    if (error) {
        goto exit;
    }

    error = cni_lock(env, conf, host_name, &lock);
    if (error) {
        goto exit;
    }

    /* The container side. */
    msg = cni_netns_observe(netns_fd, env->ifname, &pod);
    if (msg) {
        error = cni_check_failed("%s", msg);
        free(msg);
        goto exit;
    }
    const char *want_mac = prev.ifaces[pod_iface].mac;
    char mac_s[ETH_ADDR_STRLEN + 1];
    cni_format_mac(&pod.mac, mac_s);
    if (!pod.exists) {
        error = cni_check_failed("interface %s is missing in %s",
                                 env->ifname, env->netns);
    } else if (!pod.up) {
        error = cni_check_failed("interface %s is down", env->ifname);
    } else if (want_mac && strcasecmp(want_mac, mac_s)) {
        error = cni_check_failed("interface %s has MAC %s, not %s",
                                 env->ifname, mac_s, want_mac);
    } else if (conf->mtu && pod.mtu != conf->mtu) {
        error = cni_check_failed("interface %s has MTU %d, not %d",
                                 env->ifname, pod.mtu, conf->mtu);
    } else if ((msg = cni_check_addresses(&prev, pod_iface, pod.addrs,
                                          pod.n_addrs))
               || (msg = cni_check_routes(&prev, pod.routes,
                                          pod.n_routes))) {
        error = cni_check_failed("%s: %s", env->ifname, msg);
        free(msg);
    }
    if (error) {
        goto exit;
    }

    /* The host side. */
    int host_iface = cni_prev_result_find_iface(&prev, host_name, NULL);
    int err = cni_link_observe(host_name, &host);
    cni_format_mac(&host.mac, mac_s);
    if (err) {
        error = cni_check_failed("%s: cannot read its state: %s", host_name,
                                 ovs_strerror(err));
    } else if (!host.exists) {
        error = cni_check_failed("host interface %s is missing",
                                 host_name);
    } else if (!host.up) {
        error = cni_check_failed("host interface %s is down", host_name);
    } else if (host_iface >= 0 && prev.ifaces[host_iface].mac
               && strcasecmp(prev.ifaces[host_iface].mac, mac_s)) {
        error = cni_check_failed("host interface %s has MAC %s, not %s",
                                 host_name, mac_s,
                                 prev.ifaces[host_iface].mac);
    } else if (conf->mtu && host.mtu != conf->mtu) {
        error = cni_check_failed("host interface %s has MTU %d, not %d",
                                 host_name, host.mtu, conf->mtu);
    }
    if (error) {
        goto exit;
    }

    error = cni_check_port(env, conf, host_name, &prev, pod_iface);
    if (!error && conf->ipam_type) {
        error = cni_run_ipam(env, conf, CNI_CMD_CHECK, NULL, NULL);
    }

exit:
    if (netns_fd >= 0) {
        close(netns_fd);
    }
    cni_lock_close(&lock);
    cni_link_state_destroy(&pod);
    cni_link_state_destroy(&host);
    cni_prev_result_destroy(&prev);
    free(host_name);
    return error;
}

/* GC. */

/* Collects the GC errors: the first one's code, every message. */
struct cni_gc_errors {
    int code;
    size_t n;
    struct ds details;
};

static void
cni_gc_error(struct cni_gc_errors *errors, struct cni_error *error)
{
    if (error) {
        VLOG_WARN("GC: %s", error->msg);
        if (!errors->n++) {
            errors->code = error->code;
        }
        ds_put_format(&errors->details, "%s%s",
                      errors->details.length ? "; " : "", error->msg);
        cni_error_destroy(error);
    }
}

/* Splits 'key', "<containerID>/<ifname>", in place.  Returns the ifname
 * part, or NULL if there is none. */
static char *
cni_split_attachment(char *key)
{
    char *slash = strchr(key, '/');
    if (slash) {
        *slash = '\0';
        return slash + 1;
    }
    return NULL;
}

/* Deletes the host veth 'name' if it is the one of attachment 'key'
 * ("<containerID>/<ifname>"): the name a hash of the attachment. */
static void
cni_gc_delete_veth(const char *name, const char *key,
                   struct cni_gc_errors *errors)
{
    char *copy = xstrdup(key);
    char *ifname = cni_split_attachment(copy);
    char *want = ifname ? cni_host_ifname(copy, ifname) : NULL;

    if (want && !strcmp(want, name)) {
        int err = cni_link_delete(name);
        if (err && err != ENODEV) {
            cni_gc_error(errors, cni_error_create(CNI_ERR_IO, "cannot "
                                                  "delete %s: %s", name,
                                                  ovs_strerror(err)));
        }
    } else {
        VLOG_WARN("GC: %s claims attachment %s but does not have its name, "
                  "leaving it alone", name, key);
    }
    free(want);
    free(copy);
}

/* GC (1.1.0): removes what belongs to attachments that are not in the
 * runtime's list of valid ones: their OVS ports on our bridge (ports with
 * our external_ids only), their host veths (found through the port or
 * through the alias ADD gave them) and their IPAM reservations.  Goes on
 * after errors and reports them all at the end. */
static struct cni_error *
cni_cmd_gc(const struct cni_env *env, const struct cni_netconf *conf)
{
    struct cni_gc_errors errors = { .details = DS_EMPTY_INITIALIZER };
    struct sset valid = SSET_INITIALIZER(&valid);
    struct sset stale = SSET_INITIALIZER(&stale);
    struct cni_lock lock = { .fd = -1 };
    struct smap_node *node;
    struct cni_error *error;
    struct cni_ovs *ovs;

    error = cni_netconf_valid_attachments(conf, &valid);
    if (!error) {
        error = cni_lock(env, conf, NULL, &lock);
    }
    if (error) {
        sset_destroy(&valid);
        return error;
    }

    /* OVS ports and their veths. */
    char *msg = cni_ovs_open(conf->ovsdb, cni_deadline(CNI_OVSDB_TIMEOUT_MS),
                             &ovs);
    if (!msg) {
        struct smap ports = SMAP_INITIALIZER(&ports);
        if (!cni_ovs_list_attachments(ovs, conf->bridge, conf->name,
                                      &ports)) {
            VLOG_INFO("GC: bridge %s does not exist", conf->bridge);
        }
        SMAP_FOR_EACH (node, &ports) {
            char *copy = xstrdup(node->value);
            char *ifname = cni_split_attachment(copy);
            if (!cni_attachment_is_valid(&valid, copy, ifname)) {
                VLOG_INFO("GC: removing port %s of stale attachment %s",
                          node->key, node->value);
                msg = cni_ovs_del_port(ovs, node->key,
                                       cni_deadline(CNI_OVSDB_TIMEOUT_MS));
                if (msg) {
                    cni_gc_error(&errors, cni_error_create(
                                     CNI_ERR_TRY_AGAIN, "%s", msg));
                    free(msg);
                }
                cni_gc_delete_veth(node->key, node->value, &errors);
                sset_add(&stale, node->value);
            }
            free(copy);
        }
        smap_destroy(&ports);
        cni_ovs_close(ovs);
    } else {
        cni_gc_error(&errors, cni_error_create(CNI_ERR_TRY_AGAIN, "%s",
                                               msg));
        free(msg);
    }

    /* Veths whose port is gone. */
    struct smap links = SMAP_INITIALIZER(&links);
    char *prefix = xasprintf(CNI_HOST_IFALIAS_PREFIX"%s:", conf->name);
    int err = cni_links_by_alias(prefix, &links);
    free(prefix);
    if (err) {
        cni_gc_error(&errors, cni_error_create(CNI_ERR_IO, "cannot list "
                                               "links: %s",
                                               ovs_strerror(err)));
    }
    SMAP_FOR_EACH (node, &links) {
        char *copy = xstrdup(node->value);
        char *ifname = cni_split_attachment(copy);
        if (ifname && !cni_attachment_is_valid(&valid, copy, ifname)) {
            VLOG_INFO("GC: removing veth %s of stale attachment %s",
                      node->key, node->value);
            cni_gc_delete_veth(node->key, node->value, &errors);
            sset_add(&stale, node->value);
        }
        free(copy);
    }
    smap_destroy(&links);

    /* IPAM.  host-local before CNI 1.1.0 knows no GC: release each stale
     * reservation, those of the attachments found above and those found
     * in its directory, with a DEL. */
    bool ipam_gc = false;
    if (conf->ipam_type) {
        error = cni_ipam_supports(conf->ipam_type, env->path, "1.1.0",
                                  conf->ipam_timeout_ms, &ipam_gc);
        cni_gc_error(&errors, error);
    }
    if (ipam_gc) {
        cni_gc_error(&errors, cni_ipam_forward(env, conf, CNI_CMD_GC));
    } else if (conf->ipam_type) {
        if (conf->ipam_data_dir) {
            struct smap reservations = SMAP_INITIALIZER(&reservations);
            char *dir = xasprintf("%s/%s", conf->ipam_data_dir, conf->name);
            err = cni_host_local_reservations(dir, &reservations);
            if (err) {
                cni_gc_error(&errors, cni_error_create(
                                 CNI_ERR_IO, "cannot read %s: %s", dir,
                                 ovs_strerror(err)));
            }
            SMAP_FOR_EACH (node, &reservations) {
                char *copy = xstrdup(node->value);
                char *ifname = cni_split_attachment(copy);
                if (!ifname) {
                    VLOG_WARN("GC: %s/%s names no interface, leaving it "
                              "alone", dir, node->key);
                } else if (!cni_attachment_is_valid(&valid, copy, ifname)) {
                    sset_add(&stale, node->value);
                }
                free(copy);
            }
            smap_destroy(&reservations);
            free(dir);
        }

        const char *key;
        SSET_FOR_EACH (key, &stale) {
            char *copy = xstrdup(key);
            char *ifname = cni_split_attachment(copy);
            if (cni_ipam_may_hold(conf, copy, ifname)) {
                VLOG_INFO("GC: releasing the address of %s", key);
                cni_gc_error(&errors, cni_run_ipam__(env, conf, CNI_CMD_DEL,
                                                     copy, ifname, NULL,
                                                     NULL, NULL));
            }
            free(copy);
        }
    }

    error = NULL;
    if (errors.n) {
        error = cni_error_create(errors.code, "GC could not remove "
                                 "everything (%"PRIuSIZE" error%s)",
                                 errors.n, errors.n > 1 ? "s" : "");
        cni_error_set_details(error, "%s", ds_cstr(&errors.details));
    }
    ds_destroy(&errors.details);
    cni_lock_close(&lock);
    sset_destroy(&stale);
    sset_destroy(&valid);
    return error;
}

/* STATUS. */

/* A STATUS failure (code 50): "plugin not available: <msg>", with <msg>
 * formatted from the printf-style arguments. */
#define cni_not_available(...) \
    cni_error_prefixed(CNI_ERR_NOT_AVAILABLE, "plugin not available", \
                       __VA_ARGS__)

/* STATUS (1.1.0): ready to service ADD when the IPAM delegate is there
 * (and ready, if it speaks 1.1.0), OVSDB answers, the bridge exists and the
 * controller has finished its initial sync.  Code 50 otherwise. */
static struct cni_error *
cni_cmd_status(const struct cni_env *env, const struct cni_netconf *conf)
{
    struct cni_error *error = NULL;
    struct cni_ovs *ovs;

    if (conf->ipam_type) {
        char *path = cni_ipam_find(conf->ipam_type, env->path);
        if (!path) {
            return cni_not_available("IPAM plugin \"%s\" not found in "
                                     "CNI_PATH \"%s\"", conf->ipam_type,
                                     env->path);
        }
        free(path);
    }

    char *msg = cni_ovs_open(conf->ovsdb,
                             cni_deadline(CNI_STATUS_TIMEOUT_MS), &ovs);
    if (msg) {
        error = cni_not_available("%s", msg);
        free(msg);
        return error;
    }
    char *dp_type = cni_ovs_bridge_datapath_type(ovs, conf->bridge);
    if (!dp_type) {
        error = cni_not_available("bridge %s does not exist",
                                  conf->bridge);
    } else if (!cni_ovs_controller_ready(ovs)) {
        error = cni_not_available("the controller has not finished its "
                                  "initial sync (no %s=true in the "
                                  "Open_vSwitch table)",
                                  NP_EXTID_CONTROLLER_READY);
    }
    free(dp_type);
    cni_ovs_close(ovs);
    if (error || !conf->ipam_type) {
        return error;
    }

    /* The spec: forward STATUS to the delegate, if it knows STATUS. */
    bool supported = false;
    error = cni_ipam_supports(conf->ipam_type, env->path, "1.1.0",
                              conf->ipam_timeout_ms, &supported);
    if (error) {
        cni_error_prefix(error, "plugin not available");
        error->code = CNI_ERR_NOT_AVAILABLE;
    } else if (supported) {
        error = cni_ipam_forward(env, conf, CNI_CMD_STATUS);
    }
    return error;
}

static struct cni_error *
cni_main(const struct cni_env *env,
         const struct cni_netconf *conf, char **outputp)
{
    if ((env->command == CNI_CMD_GC || env->command == CNI_CMD_STATUS)
        && strcmp(conf->cni_version, "1.1.0")) {
        return cni_error_create(CNI_ERR_INCOMPATIBLE_VERSION,
                                "config version %s does not allow %s",
                                conf->cni_version,
                                cni_command_to_string(env->command));
    }

    switch (env->command) {
    case CNI_CMD_ADD:
        return cni_cmd_add(env, conf, outputp);
    case CNI_CMD_DEL:
        return cni_cmd_del(env, conf);
    case CNI_CMD_CHECK:
        return cni_cmd_check(env, conf);
    case CNI_CMD_GC:
        return cni_cmd_gc(env, conf);
    case CNI_CMD_STATUS:
        return cni_cmd_status(env, conf);
    case CNI_CMD_VERSION:
        OVS_NOT_REACHED();
    }
    OVS_NOT_REACHED();
}

int
main(int argc OVS_UNUSED, char *argv[])
{
    struct cni_netconf conf = { .cni_version = NULL };
    struct cni_env env = { .container_id = NULL };
    struct cni_error *error;
    char *output = NULL;
    char *text = NULL;
    bool have_env = false, have_conf = false;

    set_program_name(argv[0]);
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_WARN);
    vlog_set_levels(NULL, VLF_SYSLOG, VLL_OFF);
    fatal_ignore_sigpipe();

    error = cni_read_stdin(&text);
    if (!error) {
        error = cni_env_parse(environ, &env);
        have_env = !error;
    }
    if (!error) {
        if (env.command == CNI_CMD_VERSION) {
            error = cni_version_reply(text, &output);
        } else {
            error = cni_netconf_parse(text, cni_ovs_rundir(), &conf);
            have_conf = !error;
            if (!error) {
                error = cni_main(&env, &conf, &output);
            }
        }
    }

    int status = 0;
    if (error) {
        char *version = (have_conf ? xstrdup(conf.cni_version)
                         : cni_stdin_version(text));
        char *json = cni_error_to_json(version ? version : "1.0.0", error);
        VLOG_WARN("%s%s%s: %s%s%s",
                  have_env ? cni_command_to_string(env.command) : "error",
                  have_env && env.container_id ? " " : "",
                  have_env && env.container_id ? env.container_id : "",
                  error->msg, error->details ? ": " : "",
                  error->details ? error->details : "");
        puts(json);
        free(json);
        free(version);
        cni_error_destroy(error);
        status = 1;
    } else if (output) {
        puts(output);
    }
    if (fflush(stdout)) {
        status = 1;
    }

    free(output);
    free(text);
    if (have_conf) {
        cni_netconf_destroy(&conf);
    }
    if (have_env) {
        cni_env_destroy(&env);
    }
    return status;
}
