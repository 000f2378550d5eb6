/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef CNI_IPAM_H
#define CNI_IPAM_H 1

/* Delegation to an IPAM plugin (host-local): exec'd from CNI_PATH with the
 * plugin's own environment, the request configuration on its stdin and its
 * result or error JSON read from its stdout. */

#include "lib/cni-config.h"

struct cni_error *cni_ipam_exec(const char *type, const char *cni_path,
                                enum cni_command, const char *request,
                                const char *cni_args, char **outputp)
    OVS_WARN_UNUSED_RESULT;

#endif /* cni/ipam.h */
