/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef CNI_LOCK_H
#define CNI_LOCK_H 1

/* Locks that let the runtime run the plugin in parallel.
 *
 * One file per bridge, "<OVS_RUNDIR>/ovs-netpol-cni.<bridge>.lock", holds
 * open-file-description locks (released when the process exits, however it
 * exits) on single bytes:
 *
 *   - byte 0, the bridge lock: ADD, DEL and CHECK hold it shared, GC holds
 *     it exclusive, so that GC never sees a half-made attachment as stale;
 *
 *   - byte 1 + a hash of the host interface name, the attachment lock: ADD,
 *     DEL and CHECK of one attachment take turns (a runtime that gives up
 *     on a slow ADD and sends DEL must not have the DEL run in the middle
 *     of the ADD).  Different attachments rarely share a byte, and if they
 *     do they merely take turns.
 *
 * OVSDB transactions of different attachments need no lock (they mutate
 * the bridge's port set), nor do host-local's allocations (host-local
 * locks its own directory). */

#include <stdbool.h>

struct cni_lock {
    int fd;
};

int cni_lock_open(const char *dir, const char *bridge, struct cni_lock *);
int cni_lock_bridge(struct cni_lock *, bool exclusive,
                    long long int deadline);
int cni_lock_attachment(struct cni_lock *, const char *host_ifname,
                        long long int deadline);
void cni_lock_close(struct cni_lock *);

#endif /* cni/lock.h */
