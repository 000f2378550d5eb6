/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_K8S_CLIENT_H
#define NETPOL_K8S_CLIENT_H 1

/* HTTP requests to the Kubernetes API server, driven by OVS's poll loop.
 *
 * One libcurl multi handle carries every request of a client; the
 * client's run() and wait() fit the main loop, so transfers advance
 * without blocking and without another thread.  TLS and credentials come
 * from a struct k8s_endpoint.  A bearer token from a file is re-read about
 * once a minute and after any 401 answer, because service-account tokens
 * rotate.
 *
 * Requests are polled: the owner starts one, is fed its body through a
 * callback as it arrives (only for a 2xx answer), and checks in its own
 * run() whether it is done.  k8s_client_run() must run before the owners'
 * run() in each loop iteration. */

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"

struct ds;
struct k8s_endpoint;

struct k8s_client *k8s_client_create(const struct k8s_endpoint *);
void k8s_client_destroy(struct k8s_client *);
void k8s_client_run(struct k8s_client *);
void k8s_client_wait(struct k8s_client *);
void k8s_client_dump(const struct k8s_client *, struct ds *);

/* When the API server last sent an answer (any HTTP status) to any request
 * of the client, in time_msec() terms, or 0 if never. */
long long int k8s_client_last_response(const struct k8s_client *);

/* Reads the kubeconfig 'file' (with 'context', or its current context) or,
 * if 'file' is NULL, the in-cluster configuration (service-account files
 * in 'sa_dir', or the standard directory if NULL) into 'ep'.  Returns an
 * error message on failure. */
char *k8s_endpoint_load(const char *file, const char *context,
                        const char *sa_dir, struct k8s_endpoint *ep)
    OVS_WARN_UNUSED_RESULT;

/* How a finished request went, for the caller's retry policy. */
enum k8s_result {
    K8S_OK,                     /* 2xx and the whole body arrived. */
    K8S_RETRY,                  /* Transport error, timeout, 5xx, 429, or
                                 * the body callback refused the data:
                                 * back off and try again. */
    K8S_RELIST,                 /* 410 Gone: the resourceVersion or
                                 * continue token expired. */
    K8S_FATAL,                  /* 401, 403, 404 and other 4xx: will not
                                 * fix itself soon; back off longer. */
};

const char *k8s_result_to_string(enum k8s_result);

/* Called with each piece of a 2xx answer's body.  Returns false to abort
 * the request (it then finishes with K8S_RETRY). */
typedef bool k8s_body_cb(void *aux, const char *data, size_t size);

struct k8s_request_options {
    const char *path;           /* "/api/v1/pods?limit=500", escaped. */
    k8s_body_cb *body_cb;
    void *aux;
    int timeout_sec;            /* Whole request, 0 for none. */
    int idle_sec;               /* Abort after that long with no data. */
};

struct k8s_request *k8s_request_start(struct k8s_client *,
                                      const struct k8s_request_options *);

/* Aborts 'req' if it is still running and frees it.  Accepts NULL. */
void k8s_request_destroy(struct k8s_request *);

bool k8s_request_is_done(const struct k8s_request *);

/* For a done request: how it went; the HTTP status (0 if none); a
 * description of the failure (NULL for K8S_OK); the server's Retry-After
 * or retryAfterSeconds in seconds (0 if none). */
enum k8s_result k8s_request_result(const struct k8s_request *);
long k8s_request_status(const struct k8s_request *);
const char *k8s_request_error(const struct k8s_request *);
int k8s_request_retry_after(const struct k8s_request *);

#endif /* controller/k8s-client.h */
