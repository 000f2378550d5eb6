/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "cni/ipam.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "process.h"
#include "svec.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(cni_ipam);

extern char **environ;

/* The most a delegate may write on stdout. */
#define CNI_IPAM_MAX_OUTPUT (1024 * 1024)

/* Returns the path of the executable 'type' in the first directory of the
 * ':'-separated 'cni_path' that has one, or NULL. */
static char *
cni_ipam_find(const char *type, const char *cni_path)
{
    char *copy = xstrdup(cni_path);
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

/* The delegate's environment: ours, with CNI_COMMAND and CNI_ARGS
 * replaced. */
static void
cni_ipam_env(enum cni_command command, const char *cni_args,
             struct svec *env)
{
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "CNI_COMMAND=", 12) && strncmp(*e, "CNI_ARGS=", 9)) {
            svec_add(env, *e);
        }
    }
    svec_add_nocopy(env, xasprintf("CNI_COMMAND=%s",
                                   cni_command_to_string(command)));
    svec_add_nocopy(env, xasprintf("CNI_ARGS=%s", cni_args));
    svec_terminate(env);
}

static void
cni_ipam_write_all(int fd, const char *data, size_t size)
{
    while (size) {
        ssize_t n = write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* The delegate quit without reading: its exit status tells. */
            return;
        }
        data += n;
        size -= n;
    }
}

static int
cni_ipam_read_all(int fd, struct ds *out)
{
    for (;;) {
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        } else if (!n) {
            return 0;
        } else if (out->length + n > CNI_IPAM_MAX_OUTPUT) {
            return EFBIG;
        }
        ds_put_buffer(out, buf, n);
    }
}

/* Runs the IPAM plugin 'type', found in 'cni_path', for 'command' with
 * 'request' on its stdin and CNI_ARGS set to 'cni_args'; its stderr is
 * ours.  On success stores what it printed in '*outputp' (the caller frees
 * it).  A failing delegate's error is passed on, with its code, and with
 * the delegate's name in the message. */
struct cni_error *
cni_ipam_exec(const char *type, const char *cni_path,
              enum cni_command command, const char *request,
              const char *cni_args, char **outputp)
{
    const char *cmd_name = cni_command_to_string(command);
    char *path = cni_ipam_find(type, cni_path ? cni_path : "");
    if (!path) {
        return cni_error_create(CNI_ERR_INVALID_CONFIG,
                                "IPAM plugin \"%s\" not found in CNI_PATH "
                                "\"%s\"", type, cni_path ? cni_path : "");
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
    cni_ipam_env(command, cni_args, &env);
    char *argv[] = { path, NULL };

    VLOG_DBG("exec %s (%s)", path, cmd_name);
    pid_t pid = fork();
    if (!pid) {
        /* Child. */
        if (dup2(in[0], STDIN_FILENO) < 0
            || dup2(out[1], STDOUT_FILENO) < 0) {
            _exit(126);
        }
        execve(path, argv, env.names);
        _exit(127);
    }
    int fork_error = pid < 0 ? errno : 0;
    svec_destroy(&env);
    close(in[0]);
    close(out[1]);
    if (fork_error) {
        close(in[1]);
        close(out[0]);
        free(path);
        return cni_error_create(CNI_ERR_IO, "fork: %s",
                                ovs_strerror(fork_error));
    }

    struct ds output = DS_EMPTY_INITIALIZER;
    cni_ipam_write_all(in[1], request, strlen(request));
    close(in[1]);
    int read_error = cni_ipam_read_all(out[0], &output);
    close(out[0]);

    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        continue;
    }

    struct cni_error *error = NULL;
    if (WIFEXITED(status) && !WEXITSTATUS(status) && !read_error) {
        *outputp = ds_steal_cstr(&output);
    } else {
        error = cni_error_parse(ds_cstr(&output));
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
