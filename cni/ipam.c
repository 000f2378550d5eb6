/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "cni/ipam.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "process.h"
#include "smap.h"
#include "socket-util.h"
#include "svec.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(cni_ipam);

extern char **environ;

/* The most a delegate may write on stdout. */
#define CNI_IPAM_MAX_OUTPUT (1024 * 1024)

/* Returns the path of the executable 'type' in the first directory of the
 * ':'-separated 'cni_path' that has one, or NULL. */
char *
cni_ipam_find(const char *type, const char *cni_path)
{
    char *copy = xstrdup(cni_path ? cni_path : "");
    char *save_ptr = NULL;
    char *found = NULL;

    for (char *dir = strtok_r(copy, ":", &save_ptr); dir && !found;
         dir = strtok_r(NULL, ":", &save_ptr)) {
        char *path = xasprintf("%s/%s", dir, type);
        if (!access(path, X_OK)) {
            found = path;
        } else {
            free(path);
        }
    }
    free(copy);
    return found;
}

/* The delegate's environment: ours without any CNI_* variable, then those
 * of 'call'. */
static void
cni_ipam_env(const struct cni_ipam_call *call, struct svec *env)
{
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "CNI_", 4)) {
            svec_add(env, *e);
        }
    }
    svec_add_nocopy(env, xasprintf("CNI_COMMAND=%s",
                                   cni_command_to_string(call->command)));
    if (call->container_id) {
        svec_add_nocopy(env, xasprintf("CNI_CONTAINERID=%s",
                                       call->container_id));
    }
    if (call->netns) {
        svec_add_nocopy(env, xasprintf("CNI_NETNS=%s", call->netns));
    }
    if (call->ifname) {
        svec_add_nocopy(env, xasprintf("CNI_IFNAME=%s", call->ifname));
    }
    if (call->args) {
        svec_add_nocopy(env, xasprintf("CNI_ARGS=%s", call->args));
    }
    if (call->cni_path) {
        svec_add_nocopy(env, xasprintf("CNI_PATH=%s", call->cni_path));
    }
    svec_terminate(env);
}

/* Kills the delegate 'pid' and everything it started (it leads its own
 * process group), and reaps it. */
static void
cni_ipam_kill(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        continue;
    }
}

/* Waits until 'deadline' at most for 'pid' to exit, storing its status in
 * '*statusp'.  Returns false on timeout. */
static bool
cni_ipam_reap(pid_t pid, long long int deadline, int *statusp)
{
    long long int pause_ns = 100 * 1000;

    for (;;) {
        pid_t retval = waitpid(pid, statusp, WNOHANG);
        if (retval == pid) {
            return true;
        } else if (retval < 0 && errno != EINTR) {
            /* Cannot happen for our own child; treat it as gone. */
            *statusp = 0;
            return true;
        } else if (time_msec() >= deadline) {
            return false;
        }

        struct timespec ts = { .tv_nsec = pause_ns };
        nanosleep(&ts, NULL);
        pause_ns = MIN(pause_ns * 2, 10 * 1000 * 1000);
    }
}

/* Feeds 'request' to 'in_fd' and collects 'out_fd' into 'output' until the
 * delegate closes its stdout.  Returns 0, ETIMEDOUT if 'deadline' passed
 * first, or another errno value. */
static int
cni_ipam_communicate(int in_fd, int out_fd, const char *request,
                     long long int deadline, struct ds *output)
{
    size_t len = strlen(request), ofs = 0;

    for (;;) {
        struct pollfd pfds[2];
        int n = 0;

        pfds[n++] = (struct pollfd) { .fd = out_fd, .events = POLLIN };
        if (in_fd >= 0) {
            pfds[n++] = (struct pollfd) { .fd = in_fd, .events = POLLOUT };
        }

        long long int now = time_msec();
        if (now >= deadline) {
            return ETIMEDOUT;
        }
        int retval = poll(pfds, n, MIN(deadline - now, INT_MAX));
        if (retval < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }

        if (in_fd >= 0 && pfds[1].revents) {
            ssize_t w = write(in_fd, request + ofs, len - ofs);
            if (w > 0) {
                ofs += w;
            }
            if (ofs >= len || (w < 0 && errno != EINTR && errno != EAGAIN)) {
                /* Done, or the delegate quit without reading: its exit
                 * status tells. */
                close(in_fd);
                in_fd = -1;
            }
        }

        if (pfds[0].revents) {
            char buf[4096];
            ssize_t r = read(out_fd, buf, sizeof buf);
            if (r < 0) {
                if (errno != EINTR && errno != EAGAIN) {
                    return errno;
                }
            } else if (!r) {
                break;
            } else if (output->length + r > CNI_IPAM_MAX_OUTPUT) {
                return EFBIG;
            } else {
                ds_put_buffer(output, buf, r);
            }
        }
    }

    if (in_fd >= 0) {
        close(in_fd);
    }
    return 0;
}

/* Runs the IPAM plugin 'call->type', found in 'call->cni_path', for
 * 'call->command' with 'call->request' on its stdin and the CNI_* variables
 * of 'call'; its stderr is ours.  On success stores what it printed in
 * '*outputp' (the caller frees it).  A failing delegate's error is passed
 * on, with its code, and with the delegate's name in the message.  A
 * delegate that runs longer than 'call->timeout_ms' is killed, and the
 * error has code CNI_ERR_TRY_AGAIN. */
struct cni_error *
cni_ipam_exec(struct cni_ipam_call *call, char **outputp)
{
    const char *cmd_name = cni_command_to_string(call->command);
    const char *type = call->type;
    long long int deadline = time_msec() + call->timeout_ms;

    call->timed_out = false;
    char *path = cni_ipam_find(type, call->cni_path);
    if (!path) {
        return cni_error_create(CNI_ERR_INVALID_CONFIG,
                                "IPAM plugin \"%s\" not found in CNI_PATH "
                                "\"%s\"", type,
                                call->cni_path ? call->cni_path : "");
    }

    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC)) {
        free(path);
        return cni_error_create(CNI_ERR_IO, "pipe: %s", ovs_strerror(errno));
    }
    if (pipe2(out, O_CLOEXEC)) {
        int error = errno;
        close(in[0]);
        close(in[1]);
        free(path);
        return cni_error_create(CNI_ERR_IO, "pipe: %s", ovs_strerror(error));
    }

    struct svec env = SVEC_EMPTY_INITIALIZER;
    cni_ipam_env(call, &env);
    char *argv[] = { path, NULL };

    /* posix_spawn() rather than fork(): it does not copy our page tables,
     * which is most of what starting a delegate costs the plugin.  The
     * delegate leads a process group of its own, so that a timeout kills
     * whatever it started too. */
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    pid_t pid;

    VLOG_DBG("exec %s (%s)", path, cmd_name);
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, (POSIX_SPAWN_SETPGROUP
                                     | POSIX_SPAWN_SETSIGDEF));
    posix_spawnattr_setpgroup(&attr, 0);
    /* We ignore SIGPIPE; the delegate should not inherit that. */
    sigset_t sigdef;
    sigemptyset(&sigdef);
    sigaddset(&sigdef, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &sigdef);
    int spawn_error = posix_spawn(&pid, path, &actions, &attr, argv,
                                  env.names);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    svec_destroy(&env);
    close(in[0]);
    close(out[1]);
    if (spawn_error) {
        close(in[1]);
        close(out[0]);
        free(path);
        return cni_error_create(CNI_ERR_IO, "cannot run IPAM plugin %s: %s",
                                type, ovs_strerror(spawn_error));
    }
    set_nonblocking(in[1]);
    set_nonblocking(out[0]);

    struct ds output = DS_EMPTY_INITIALIZER;
    int status = 0;
    int read_error = cni_ipam_communicate(in[1], out[0], call->request,
                                          deadline, &output);
    close(out[0]);
    if (read_error == ETIMEDOUT || !cni_ipam_reap(pid, deadline, &status)) {
        cni_ipam_kill(pid);
        ds_destroy(&output);
        free(path);
        call->timed_out = true;
        return cni_error_create(CNI_ERR_TRY_AGAIN, "IPAM plugin %s %s did "
                                "not finish within %d ms and was killed",
                                type, cmd_name, call->timeout_ms);
    } else if (read_error) {
        /* EFBIG or a read error: the delegate may still be writing. */
        cni_ipam_kill(pid);
    }

    struct cni_error *error = NULL;
    if (!read_error && WIFEXITED(status) && !WEXITSTATUS(status)) {
        *outputp = ds_steal_cstr(&output);
    } else {
        error = read_error ? NULL : cni_error_parse(ds_cstr(&output));
        if (error) {
            cni_error_prefix(error, "IPAM plugin %s %s failed", type,
                             cmd_name);
        } else {
            char *s = process_status_msg(status);
            error = cni_error_create(CNI_ERR_IO, "IPAM plugin %s %s failed: "
                                     "%s", type, cmd_name,
                                     (read_error
                                      ? ovs_strerror(read_error) : s));
            free(s);
            if (output.length) {
                cni_error_set_details(error, "output: %s", ds_cstr(&output));
            }
        }
    }
    ds_destroy(&output);
    free(path);
    return error;
}

/* Asks the IPAM plugin 'type' (VERSION) whether it speaks 'version' and
 * stores the answer in '*supportedp'. */
struct cni_error *
cni_ipam_supports(const char *type, const char *cni_path,
                  const char *version, int timeout_ms, bool *supportedp)
{
    char *request = xasprintf("{\"cniVersion\":\"%s\"}", version);
    struct cni_ipam_call call = {
        .type = type,
        .cni_path = cni_path,
        .command = CNI_CMD_VERSION,
        .request = request,
        .timeout_ms = timeout_ms,
    };
    char *output = NULL;

    struct cni_error *error = cni_ipam_exec(&call, &output);
    if (!error) {
        *supportedp = cni_version_list_contains(output, version);
    }
    free(output);
    free(request);
    return error;
}

/* Adds to 'reservations' (file name, that is the IP address, to
 * "<containerID>/<ifname>", or just "<containerID>" for files of old
 * host-local versions) the reservations host-local keeps in 'dir', its
 * directory for one network.  A missing directory has none.  Returns 0 or
 * a positive errno value. */
int
cni_host_local_reservations(const char *dir, struct smap *reservations)
{
    DIR *d = opendir(dir);
    if (!d) {
        return errno == ENOENT ? 0 : errno;
    }

    int error = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            error = errno;
            break;
        }
        if (!cni_host_local_is_reservation(de->d_name)) {
            continue;
        }

        char *path = xasprintf("%s/%s", dir, de->d_name);
        FILE *file = fopen(path, "r");
        free(path);
        if (!file) {
            if (errno != ENOENT) {
                error = errno;
            }
            continue;
        }

        char buf[512];
        size_t n = fread(buf, 1, sizeof buf - 1, file);
        fclose(file);
        buf[n] = '\0';

        char *id, *ifname;
        if (cni_host_local_parse_reservation(buf, &id, &ifname)) {
            smap_replace_nocopy(reservations, de->d_name,
                                (ifname ? xasprintf("%s/%s", id, ifname)
                                 : xstrdup(id)));
            free(id);
            free(ifname);
        }
    }
    closedir(d);
    return error;
}
