/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "cni/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hash.h"
#include "timeval.h"
#include "util.h"

/* How many attachment lock bytes follow the bridge lock byte. */
#define CNI_LOCK_SLOTS 4096

/* Opens (creating it if needed) the lock file for 'bridge' in 'dir'.
 * Returns 0 or a positive errno value. */
int
cni_lock_open(const char *dir, const char *bridge, struct cni_lock *lock)
{
    char *name = xstrdup(bridge);
    for (char *p = name; *p; p++) {
        if (*p == '/') {
            *p = '_';
        }
    }
    char *path = xasprintf("%s/ovs-netpol-cni.%s.lock", dir, name);
    free(name);

    lock->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int error = lock->fd < 0 ? errno : 0;
    free(path);
    return error;
}

/* Locks byte 'ofs' of 'lock', for writing if 'exclusive', else for
 * reading, waiting until 'deadline' at most.  Returns 0, ETIMEDOUT or
 * another positive errno value. */
static int
cni_lock_byte(struct cni_lock *lock, off_t ofs, bool exclusive,
              long long int deadline)
{
    long long int pause_ns = 500 * 1000;

    for (;;) {
        struct flock fl = {
            .l_type = exclusive ? F_WRLCK : F_RDLCK,
            .l_whence = SEEK_SET,
            .l_start = ofs,
            .l_len = 1,
        };
        if (!fcntl(lock->fd, F_OFD_SETLK, &fl)) {
            return 0;
        } else if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
            return errno;
        } else if (time_msec() >= deadline) {
            return ETIMEDOUT;
        }

        struct timespec ts = { .tv_nsec = pause_ns };
        nanosleep(&ts, NULL);
        pause_ns = MIN(pause_ns * 2, 20 * 1000 * 1000);
    }
}

int
cni_lock_bridge(struct cni_lock *lock, bool exclusive,
                long long int deadline)
{
    return cni_lock_byte(lock, 0, exclusive, deadline);
}

int
cni_lock_attachment(struct cni_lock *lock, const char *host_ifname,
                    long long int deadline)
{
    off_t slot = 1 + hash_string(host_ifname, 0) % CNI_LOCK_SLOTS;
    return cni_lock_byte(lock, slot, true, deadline);
}

/* Releases every lock held through 'lock'. */
void
cni_lock_close(struct cni_lock *lock)
{
    if (lock->fd >= 0) {
        close(lock->fd);
        lock->fd = -1;
    }
}
