/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_KUBECONFIG_H
#define NETPOL_KUBECONFIG_H 1

/* Where the Kubernetes API server is and how to authenticate to it, from a
 * kubeconfig file's contents or from the in-cluster environment.  Nothing
 * here reads files or the environment: the caller passes their contents,
 * and file names in the result are for the caller (or libcurl) to read.
 *
 * Errors are malloc'ed strings, NULL on success; the output is untouched
 * on error. */

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"

/* The directory of the service-account files in a pod. */
#define KCFG_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* A byte string that need not be NUL-terminated (decoded *-data). */
struct kcfg_blob {
    char *data;                 /* NULL if absent; NUL-terminated anyway. */
    size_t size;
};

struct k8s_endpoint {
    char *server;               /* "https://host:port[/prefix]", no "/" at
                                 * the end. */
    char *context;              /* Context used, or NULL (in-cluster). */

    /* Server verification.  'ca_data' overrides 'ca_file'. */
    char *ca_file;
    struct kcfg_blob ca_data;
    bool insecure;              /* insecure-skip-tls-verify. */
    char *tls_server_name;      /* Name to verify instead of the host. */

    /* Client authentication.  A readable 'token_file' overrides 'token';
     * it is re-read from time to time because tokens rotate. */
    char *token;
    char *token_file;
    char *client_cert_file;     /* *-data overrides the file. */
    char *client_key_file;
    struct kcfg_blob client_cert_data;
    struct kcfg_blob client_key_data;
    char *username;             /* Basic authentication, if both set. */
    char *password;
};

void kcfg_endpoint_destroy(struct k8s_endpoint *);
void kcfg_endpoint_clone(struct k8s_endpoint *dst,
                         const struct k8s_endpoint *src);

/* Parses a kubeconfig ('size' bytes of YAML or JSON) read from 'path',
 * whose directory relative file names are resolved against.  Uses the
 * context named 'context', or current-context if 'context' is NULL. */
char *kcfg_parse(const char *text, size_t size, const char *path,
                 const char *context, struct k8s_endpoint *)
    OVS_WARN_UNUSED_RESULT;

/* The in-cluster configuration: 'host' and 'port' are the values of
 * KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (NULL if unset),
 * 'sa_dir' the directory holding "token" and "ca.crt" (NULL for
 * KCFG_SERVICEACCOUNT_DIR). */
char *kcfg_in_cluster(const char *host, const char *port, const char *sa_dir,
                      struct k8s_endpoint *)
    OVS_WARN_UNUSED_RESULT;

/* Decodes base64 'text' (whitespace ignored) into 'blob'. */
char *kcfg_base64_decode(const char *text, struct kcfg_blob *blob)
    OVS_WARN_UNUSED_RESULT;

/* Copies a token read from a file into a new string, without surrounding
 * whitespace, or returns NULL if it is empty. */
char *kcfg_token_trim(const char *text, size_t size);

#endif /* lib/kubeconfig.h */
