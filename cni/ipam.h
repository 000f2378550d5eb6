/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef CNI_IPAM_H
#define CNI_IPAM_H 1

/* Delegation to an IPAM plugin (host-local): exec'd from CNI_PATH with the
 * plugin's own environment, the request configuration on its stdin and its
 * result or error JSON read from its stdout.  Each run is bounded in time:
 * a delegate that overstays is killed, with its process group. */

#include <stdbool.h>
#include "lib/cni-config.h"

/* One run of an IPAM delegate. */
struct cni_ipam_call {
    const char *type;           /* Plugin name, looked up in 'cni_path'. */
    const char *cni_path;       /* CNI_PATH. */
    enum cni_command command;   /* CNI_COMMAND. */
    const char *container_id;   /* CNI_CONTAINERID, NULL to leave unset. */
    const char *netns;          /* CNI_NETNS, NULL to leave unset. */
    const char *ifname;         /* CNI_IFNAME, NULL to leave unset. */
    const char *args;           /* CNI_ARGS, NULL to leave unset. */
    const char *request;        /* For its stdin. */
    int timeout_ms;             /* Kill it after that long. */

    /* Output. */
    bool timed_out;             /* Killed for overstaying 'timeout_ms'. */
};

char *cni_ipam_find(const char *type, const char *cni_path);
struct cni_error *cni_ipam_exec(struct cni_ipam_call *, char **outputp)
    OVS_WARN_UNUSED_RESULT;
struct cni_error *cni_ipam_supports(const char *type, const char *cni_path,
                                    const char *version, int timeout_ms,
                                    bool *supportedp)
    OVS_WARN_UNUSED_RESULT;

struct smap;
int cni_host_local_reservations(const char *dir, struct smap *);

#endif /* cni/ipam.h */
