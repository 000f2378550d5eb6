/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* ovs-netpol-cni: the CNI plugin (spec 1.0.0) that attaches pods to the
 * node's OVS bridge.
 *
 * The container runtime runs it with CNI_* environment variables and the
 * network configuration on stdin.  stdout carries only the result (or
 * error) JSON; logs go to stderr. */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cni/ipam.h"
#include "cni/netns.h"
#include "cni/ovs-port.h"
#include "fatal-signal.h"
#include "lib/cni-config.h"
#include "netpol/ovs-keys.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "smap.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ovs_netpol_cni);

extern char **environ;

/* How long the plugin waits for OVSDB to answer, and then for
 * ovs-vswitchd to assign an ofport. */
#define CNI_OVSDB_TIMEOUT_MS 5000
#define CNI_OFPORT_TIMEOUT_MS 5000

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

static const char *
cni_ovs_rundir(void)
{
    const char *dir = getenv("OVS_RUNDIR");
    return dir && dir[0] ? dir : "/var/run/openvswitch";
}

/* Runs the configured IPAM plugin for 'command'.  For ADD, parses its
 * result into '*ipam'. */
static struct cni_error *
cni_run_ipam(const struct cni_env *env, const struct cni_netconf *conf,
             enum cni_command command, struct cni_ipam_result *ipam)
{
    char *request = cni_netconf_ipam_request(conf);
    char *args = cni_args_for_ipam(env->args);
    char *output = NULL;
    struct cni_error *error;

    error = cni_ipam_exec(conf->ipam_type, env->path, command, request,
                          args, &output);
    if (!error && command == CNI_CMD_ADD) {
        error = cni_ipam_result_parse(output, ipam);
        if (error) {
            cni_error_prefix(error, "IPAM plugin %s", conf->ipam_type);
        }
    }
    free(output);
    free(args);
    free(request);
    return error;
}

/* Undoes a partial ADD: the OVS port (if 'ovs' is nonnull), the host veth
 * (and with it the pod end) and, if 'ipam_done', the IP allocation.
 * Errors are logged: the ADD fails anyway, and the runtime will DEL. */
static void
cni_add_rollback(const struct cni_env *env, const struct cni_netconf *conf,
                 struct cni_ovs *ovs, const char *host_name, bool ipam_done)
{
    if (ovs) {
        char *msg = cni_ovs_del_port(ovs, host_name,
                                     time_msec() + CNI_OVSDB_TIMEOUT_MS);
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
        struct cni_error *e = cni_run_ipam(env, conf, CNI_CMD_DEL, NULL);
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

static struct cni_error *
cni_cmd_add(const struct cni_env *env, const struct cni_netconf *conf,
            char **resultp)
{
    struct smap args = SMAP_INITIALIZER(&args);
    struct cni_ipam_result ipam = { .ips = NULL };
    struct cni_ovs *ovs = NULL;
    char *dp_type = NULL;
    char *host_name = NULL;
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

    int err = cni_netns_open(env->netns, &netns_fd);
    if (err) {
        error = cni_error_create(CNI_ERR_INVALID_ENV,
                                 "cannot open CNI_NETNS \"%s\": %s",
                                 env->netns, ovs_strerror(err));
        goto exit;
    }

    /* Check OVS before allocating anything. */
    msg = cni_ovs_open(conf->ovsdb, time_msec() + CNI_OVSDB_TIMEOUT_MS,
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

    host_name = cni_host_ifname(env->container_id, env->ifname);
    error = cni_run_ipam(env, conf, CNI_CMD_ADD, &ipam);
    if (error) {
        /* host-local keeps nothing from an ADD that failed. */
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
    err = cni_veth_create(host_name, env->ifname, netns_fd, conf->mtu);
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
    smap_add_nocopy(&ext_ids, xstrdup(NP_EXTID_IPS),
                    cni_ipam_result_ips(&ipam));
    smap_add(&ext_ids, NP_EXTID_MAC, pod_mac_s);

    int ofport;
    msg = cni_ovs_add_port(ovs, conf->bridge, host_name, &ext_ids,
                           time_msec() + CNI_OFPORT_TIMEOUT_MS, &ofport);
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
        { .name = host_name, .mac = host_mac_s, .sandbox = NULL },
        { .name = env->ifname, .mac = pod_mac_s, .sandbox = env->netns },
    };
    *resultp = cni_result_to_json(conf->cni_version, ifaces,
                                  ARRAY_SIZE(ifaces), 1, &ipam);
    rollback = false;

exit:
    if (error && rollback) {
        cni_add_rollback(env, conf, ovs, host_name, ipam_done);
    }
    if (netns_fd >= 0) {
        close(netns_fd);
    }
    cni_ovs_close(ovs);
    cni_ipam_result_destroy(&ipam);
    free(dp_type);
    free(host_name);
    smap_destroy(&args);
    return error;
}

/* DEL: best effort through every step, so that a repeated DEL finishes
 * what an earlier one could not; reports the first error.  Needs neither
 * the netns nor prevResult: the host veth's name derives from the
 * container id and interface name. */
static struct cni_error *
cni_cmd_del(const struct cni_env *env, const struct cni_netconf *conf)
{
    char *host_name = cni_host_ifname(env->container_id, env->ifname);
    struct cni_error *error = NULL;
    struct cni_ovs *ovs;
    char *msg;

    msg = cni_ovs_open(conf->ovsdb, time_msec() + CNI_OVSDB_TIMEOUT_MS,
                       &ovs);
    if (!msg) {
        msg = cni_ovs_del_port(ovs, host_name,
                               time_msec() + CNI_OVSDB_TIMEOUT_MS);
        cni_ovs_close(ovs);
    }
    if (msg) {
        error = cni_error_create(CNI_ERR_TRY_AGAIN, "%s", msg);
        free(msg);
    }

    int err = cni_link_delete(host_name);
    if (err && err != ENODEV && !error) {
        error = cni_error_create(CNI_ERR_IO, "cannot delete %s: %s",
                                 host_name, ovs_strerror(err));
    }

    if (conf->ipam_type) {
        struct cni_error *e = cni_run_ipam(env, conf, CNI_CMD_DEL, NULL);
        if (e && !error) {
            error = e;
        } else {
            cni_error_destroy(e);
        }
    }
    free(host_name);
    return error;
}

static struct cni_error *
cni_main(const struct cni_env *env,
         const struct cni_netconf *conf, char **outputp)
{
    switch (env->command) {
    case CNI_CMD_ADD:
        return cni_cmd_add(env, conf, outputp);
    case CNI_CMD_DEL:
        return cni_cmd_del(env, conf);
    case CNI_CMD_CHECK:
    case CNI_CMD_GC:
    case CNI_CMD_STATUS:
        if (strcmp(conf->cni_version, "1.1.0")
            && env->command != CNI_CMD_CHECK) {
            return cni_error_create(CNI_ERR_INCOMPATIBLE_VERSION,
                                    "config version %s does not allow %s",
                                    conf->cni_version,
                                    cni_command_to_string(env->command));
        }
        return cni_error_create(CNI_ERR_INVALID_ENV,
                                "CNI_COMMAND %s is not implemented yet",
                                cni_command_to_string(env->command));
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
