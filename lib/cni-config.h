/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_CNI_CONFIG_H
#define NETPOL_CNI_CONFIG_H 1

/* The CNI plugin's pure logic: the CNI_* environment, the network
 * configuration on stdin, CNI_ARGS, host-side interface names, the IPAM
 * delegate's result and the plugin's own result and error JSON.
 *
 * Nothing here does I/O or logs; cni/ does both.  Spec: CNI 1.0.0 and
 * 1.1.0, see docs/cni.md and ../shared/reference/cni-k8s.md section A. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include "lib/json-guard.h"
#include "openvswitch/compiler.h"

struct smap;

/* The protocol versions this plugin speaks, oldest first. */
extern const char *const cni_supported_versions[];
extern const size_t cni_n_supported_versions;

/* The version in which the plugin talks to its IPAM delegate: Debian's
 * host-local speaks up to 1.0.0. */
#define CNI_IPAM_VERSION "1.0.0"

/* Prefix of the host-side veth names that cni_host_ifname() makes. */
#define CNI_HOST_IFNAME_PREFIX "np"

/* The alias ADD gives a host-side veth: this prefix, then
 * "<network>:<containerID>/<ifname>", so that GC can tell whose it is. */
#define CNI_HOST_IFALIAS_PREFIX "ovs-netpol-cni:"

enum cni_command {
    CNI_CMD_ADD,
    CNI_CMD_DEL,
    CNI_CMD_CHECK,
    CNI_CMD_VERSION,
    CNI_CMD_GC,
    CNI_CMD_STATUS,
};

const char *cni_command_to_string(enum cni_command);

/* Error codes from the spec (0-99 are reserved for it). */
enum cni_error_code {
    CNI_ERR_INCOMPATIBLE_VERSION = 1,
    CNI_ERR_UNSUPPORTED_FIELD = 2,
    CNI_ERR_UNKNOWN_CONTAINER = 3,
    CNI_ERR_INVALID_ENV = 4,
    CNI_ERR_IO = 5,
    CNI_ERR_DECODE = 6,
    CNI_ERR_INVALID_CONFIG = 7,
    CNI_ERR_TRY_AGAIN = 11,

    /* 1.1.0, STATUS: the plugin cannot service ADD (50), and existing
     * containers may have limited connectivity too (51). */
    CNI_ERR_NOT_AVAILABLE = 50,
    CNI_ERR_LIMITED_CONNECTIVITY = 51,

    /* Not in the spec: what libcni's skel reports for errors it cannot
     * classify, and host-local for its own failures. */
    CNI_ERR_INTERNAL = 999,
};

/* An error as the spec's error JSON carries it. */
struct cni_error {
    int code;                   /* Usually an enum cni_error_code. */
    char *msg;                  /* Short message, never NULL. */
    char *details;              /* Longer explanation, or NULL. */
};

struct cni_error *cni_error_create(int code, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);
void cni_error_set_details(struct cni_error *, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);
void cni_error_prefix(struct cni_error *, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);
void cni_error_destroy(struct cni_error *);
struct cni_error *cni_error_parse(const char *text);
char *cni_error_to_json(const char *cni_version, const struct cni_error *);

/* The CNI_* environment variables of one invocation. */
struct cni_env {
    enum cni_command command;
    char *container_id;         /* CNI_CONTAINERID, or NULL. */
    char *netns;                /* CNI_NETNS, or NULL. */
    char *ifname;               /* CNI_IFNAME, or NULL. */
    char *args;                 /* CNI_ARGS, or NULL. */
    char *path;                 /* CNI_PATH, or NULL. */
};

struct cni_error *cni_env_parse(char *const envp[], struct cni_env *)
    OVS_WARN_UNUSED_RESULT;
void cni_env_destroy(struct cni_env *);

bool cni_ifname_is_valid(const char *);
bool cni_container_id_is_valid(const char *);

/* CNI_ARGS: "K1=V1;K2=V2". */
struct cni_error *cni_args_parse(const char *args, struct smap *)
    OVS_WARN_UNUSED_RESULT;
char *cni_args_for_ipam(const char *args);

/* Default bounds on the waits of one invocation, in milliseconds; the
 * configuration may override them ("ipamTimeoutMs", "ofportTimeoutMs"). */
#define CNI_DEFAULT_IPAM_TIMEOUT_MS 20000
#define CNI_DEFAULT_OFPORT_TIMEOUT_MS 5000

/* Where host-local keeps its reservations unless "ipam" sets "dataDir". */
#define CNI_HOST_LOCAL_DATA_DIR "/var/lib/cni/networks"

/* The request configuration on stdin. */
struct cni_netconf {
    char *cni_version;
    char *name;
    char *type;
    char *bridge;               /* Default "br-int". */
    char *ovsdb;                /* Default unix:<rundir>/db.sock. */
    int mtu;                    /* 0 if not configured. */
    char *ipam_type;            /* NULL if there is no "ipam". */
    char *ipam_data_dir;        /* host-local's "dataDir" (or its default),
                                 * NULL unless 'ipam_type' is "host-local". */
    int ipam_timeout_ms;        /* Bound on each IPAM delegate run. */
    int ofport_timeout_ms;      /* Bound on the wait for an ofport. */
    json_t *prev_result;        /* "prevResult" (in 'json'), or NULL. */
    json_t *json;               /* The whole configuration. */
};

struct cni_error *cni_netconf_parse(const char *text, const char *ovs_rundir,
                                    struct cni_netconf *)
    OVS_WARN_UNUSED_RESULT;
void cni_netconf_destroy(struct cni_netconf *);
char *cni_netconf_ipam_request(const struct cni_netconf *,
                               const char *cni_version);

/* GC's list of attachments that are still valid. */
struct sset;
struct cni_error *cni_netconf_valid_attachments(const struct cni_netconf *,
                                                struct sset *)
    OVS_WARN_UNUSED_RESULT;
bool cni_attachment_is_valid(const struct sset *, const char *container_id,
                             const char *ifname);

/* host-local's reservation files. */
bool cni_host_local_is_reservation(const char *file_name);
bool cni_host_local_parse_reservation(const char *text, char **container_idp,
                                      char **ifnamep);

bool cni_version_is_supported(const char *);
struct cni_error *cni_version_reply(const char *text, char **replyp)
    OVS_WARN_UNUSED_RESULT;
char *cni_stdin_version(const char *text);
bool cni_version_list_contains(const char *version_reply,
                               const char *version);

/* Host-side veth name for an attachment. */
char *cni_host_ifname(const char *container_id, const char *ifname);

/* An IP address with prefix length, IPv4 as IPv4-mapped IPv6. */
struct cni_cidr {
    struct in6_addr addr;
    unsigned int plen;
};

bool cni_cidr_is_ipv4(const struct cni_cidr *);
char *cni_cidr_parse(const char *, bool need_plen, struct cni_cidr *)
    OVS_WARN_UNUSED_RESULT;
char *cni_cidr_format(const struct cni_cidr *, bool with_plen);

struct cni_ip {
    struct cni_cidr address;    /* Address and the subnet's length. */
    bool has_gateway;
    struct cni_cidr gateway;    /* Only 'addr' is used. */
    int iface;                  /* Index into the result's "interfaces",
                                 * -1 if absent (always, from IPAM). */
};

struct cni_route {
    struct cni_cidr dst;
    bool has_gw;
    struct cni_cidr gw;         /* Only 'addr' is used. */
};

/* What an IPAM plugin returns (the spec's abbreviated result). */
struct cni_ipam_result {
    struct cni_ip *ips;
    size_t n_ips;
    struct cni_route *routes;
    size_t n_routes;
    json_t *dns;                /* Passed through; NULL if absent. */
};

struct cni_error *cni_ipam_result_parse(const char *text,
                                        struct cni_ipam_result *)
    OVS_WARN_UNUSED_RESULT;
void cni_ipam_result_destroy(struct cni_ipam_result *);
char *cni_ipam_result_ips(const struct cni_ipam_result *);
void cni_ipam_result_add_default_routes(struct cni_ipam_result *);
const struct in6_addr *cni_ipam_result_gateway(const struct cni_ipam_result *,
                                               bool ipv4);

/* An interface in the plugin's result. */
struct cni_interface {
    const char *name;
    const char *mac;
    const char *sandbox;        /* NULL for host-side interfaces. */
    int mtu;                    /* 0 if unknown; only reported in 1.1.0. */
};

char *cni_result_to_json(const char *cni_version,
                         const struct cni_interface *, size_t n_ifaces,
                         size_t ip_iface, const struct cni_ipam_result *,
                         const json_t *prev_result);

/* A full result, as "prevResult" carries it for CHECK and DEL. */
struct cni_result_iface {
    char *name;
    char *mac;                  /* NULL if absent. */
    char *sandbox;              /* NULL if absent or empty. */
};

struct cni_prev_result {
    struct cni_result_iface *ifaces;
    size_t n_ifaces;
    struct cni_ipam_result ipr; /* Addresses (with 'iface'), routes, DNS. */
};

struct cni_error *cni_prev_result_parse(const json_t *,
                                        struct cni_prev_result *)
    OVS_WARN_UNUSED_RESULT;
void cni_prev_result_destroy(struct cni_prev_result *);
int cni_prev_result_find_iface(const struct cni_prev_result *,
                               const char *name, const char *sandbox);

/* CHECK: what prevResult expects against what the container namespace
 * has.  Each returns NULL if they agree, otherwise a message naming what
 * is missing. */
char *cni_check_addresses(const struct cni_prev_result *, int pod_iface,
                          const struct cni_cidr *addrs, size_t n_addrs)
    OVS_WARN_UNUSED_RESULT;
char *cni_check_routes(const struct cni_prev_result *,
                       const struct cni_route *routes, size_t n_routes)
    OVS_WARN_UNUSED_RESULT;

#endif /* lib/cni-config.h */
