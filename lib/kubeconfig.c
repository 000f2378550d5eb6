/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "lib/kubeconfig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json-guard.h"
#include "lib/k8s-parse.h"
#include "util.h"

static void
kcfg_blob_destroy__(struct kcfg_blob *blob)
{
    free(blob->data);
    blob->data = NULL;
    blob->size = 0;
}

static void
kcfg_blob_clone__(struct kcfg_blob *dst, const struct kcfg_blob *src)
{
    dst->data = src->data ? xmemdup0(src->data, src->size) : NULL;
    dst->size = src->size;
}

void
kcfg_endpoint_destroy(struct k8s_endpoint *ep)
{
    if (ep) {
        free(ep->server);
        free(ep->context);
        free(ep->ca_file);
        kcfg_blob_destroy__(&ep->ca_data);
        free(ep->tls_server_name);
        free(ep->token);
        free(ep->token_file);
        free(ep->client_cert_file);
        free(ep->client_key_file);
        kcfg_blob_destroy__(&ep->client_cert_data);
        kcfg_blob_destroy__(&ep->client_key_data);
        free(ep->username);
        free(ep->password);
        memset(ep, 0, sizeof *ep);
    }
}

void
kcfg_endpoint_clone(struct k8s_endpoint *dst, const struct k8s_endpoint *src)
{
    dst->server = nullable_xstrdup(src->server);
    dst->context = nullable_xstrdup(src->context);
    dst->ca_file = nullable_xstrdup(src->ca_file);
    kcfg_blob_clone__(&dst->ca_data, &src->ca_data);
    dst->insecure = src->insecure;
    dst->tls_server_name = nullable_xstrdup(src->tls_server_name);
    dst->token = nullable_xstrdup(src->token);
    dst->token_file = nullable_xstrdup(src->token_file);
    dst->client_cert_file = nullable_xstrdup(src->client_cert_file);
    dst->client_key_file = nullable_xstrdup(src->client_key_file);
    kcfg_blob_clone__(&dst->client_cert_data, &src->client_cert_data);
    kcfg_blob_clone__(&dst->client_key_data, &src->client_key_data);
    dst->username = nullable_xstrdup(src->username);
    dst->password = nullable_xstrdup(src->password);
}

static int
kcfg_base64_value__(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    } else if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    } else if (c == '+' || c == '-') {
        return 62;
    } else if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

char *
kcfg_base64_decode(const char *text, struct kcfg_blob *blob)
{
    size_t length = strlen(text);
    char *out = xmalloc(length / 4 * 3 + 4);
    size_t n = 0, n_pad = 0;
    uint32_t acc = 0;
    int bits = 0;

    for (const char *p = text; *p; p++) {
        unsigned char c = *p;
        if (isspace(c)) {
            continue;
        } else if (c == '=') {
            n_pad++;
            continue;
        } else if (n_pad) {
            free(out);
            return xstrdup("base64: data after \"=\" padding");
        }

        int v = kcfg_base64_value__(c);
        if (v < 0) {
            free(out);
            return xasprintf("base64: invalid character '%c' at offset %td",
                             isprint(c) ? c : '?', p - text);
        }
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (acc >> bits) & 0xff;
        }
    }
    if (bits >= 6) {
        free(out);
        return xstrdup("base64: truncated data");
    }
    out[n] = '\0';
    blob->data = out;
    blob->size = n;
    return NULL;
}

char *
kcfg_token_trim(const char *text, size_t size)
{
    while (size && isspace((unsigned char) text[0])) {
        text++;
        size--;
    }
    while (size && isspace((unsigned char) text[size - 1])) {
        size--;
    }
    return size ? xmemdup0(text, size) : NULL;
}

/* Returns the element of the array 'list' (clusters, users, contexts)
 * whose "name" is 'name', or NULL. */
static const json_t *
kcfg_find_named__(const json_t *list, const char *name)
{
    size_t i;
    const json_t *entry;

    json_array_foreach (list, i, entry) {
        const char *n = json_string_value(json_object_get(entry, "name"));
        if (n && !strcmp(n, name)) {
            return entry;
        }
    }
    return NULL;
}

/* A string member of 'obj', or NULL if it is absent or empty. */
static const char *
kcfg_string__(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && s[0] ? s : NULL;
}

/* 'file' as a new string, resolved against 'dir' if it is relative. */
static char *
kcfg_path__(const char *dir, const char *file)
{
    if (!file) {
        return NULL;
    } else if (file[0] == '/' || !dir) {
        return xstrdup(file);
    }
    return xasprintf("%s/%s", dir, file);
}

/* Decodes the base64 member 'key' of 'obj' into 'blob', if present. */
static char *
kcfg_data__(const json_t *obj, const char *key, struct kcfg_blob *blob)
{
    const char *text = kcfg_string__(obj, key);
    if (!text) {
        return NULL;
    }

    char *error = kcfg_base64_decode(text, blob);
    if (error) {
        char *e = xasprintf("%s: %s", key, error);
        free(error);
        return e;
    }
    if (!blob->size) {
        kcfg_blob_destroy__(blob);
    }
    return NULL;
}

static char *
kcfg_parse_cluster__(const json_t *cluster, const char *dir,
                     struct k8s_endpoint *ep)
{
    const char *server = kcfg_string__(cluster, "server");
    if (!server) {
        return xstrdup("no server");
    }
    if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7)) {
        return xasprintf("server \"%s\" is not an http:// or https:// URL",
                         server);
    }
    size_t length = strlen(server);
    while (length && server[length - 1] == '/') {
        length--;
    }
    ep->server = xmemdup0(server, length);

    const json_t *insecure = json_object_get(cluster,
                                             "insecure-skip-tls-verify");
    const char *insecure_s = json_string_value(insecure);
    ep->insecure = (json_is_true(insecure)
                    || (insecure_s && !strcmp(insecure_s, "true")));
    ep->tls_server_name = nullable_xstrdup(kcfg_string__(cluster,
                                                         "tls-server-name"));
    ep->ca_file = kcfg_path__(dir, kcfg_string__(cluster,
                                                 "certificate-authority"));
    return kcfg_data__(cluster, "certificate-authority-data", &ep->ca_data);
}

static char *
kcfg_parse_user__(const json_t *user, const char *dir,
                  struct k8s_endpoint *ep)
{
    char *error;

    ep->token = nullable_xstrdup(kcfg_string__(user, "token"));
    ep->token_file = kcfg_path__(dir, kcfg_string__(user, "tokenFile"));
    ep->client_cert_file = kcfg_path__(dir, kcfg_string__(
                                           user, "client-certificate"));
    ep->client_key_file = kcfg_path__(dir, kcfg_string__(user,
                                                         "client-key"));
    error = kcfg_data__(user, "client-certificate-data",
                        &ep->client_cert_data);
    if (!error) {
        error = kcfg_data__(user, "client-key-data", &ep->client_key_data);
    }
    if (error) {
        return error;
    }
    ep->username = nullable_xstrdup(kcfg_string__(user, "username"));
    ep->password = nullable_xstrdup(kcfg_string__(user, "password"));

    bool has_cert = ep->client_cert_file || ep->client_cert_data.data;
    bool has_key = ep->client_key_file || ep->client_key_data.data;
    if (has_cert != has_key) {
        return xstrdup(has_cert
                       ? "client certificate without a client key"
                       : "client key without a client certificate");
    }
    if (!ep->token && !ep->token_file && !has_cert && !ep->username
        && (json_object_get(user, "exec")
            || json_object_get(user, "auth-provider"))) {
        return xstrdup("exec and auth-provider credentials are not "
                       "supported; use a token, tokenFile or a client "
                       "certificate");
    }
    return NULL;
}

static char *
kcfg_parse__(const json_t *config, const char *dir, const char *context,
             struct k8s_endpoint *ep)
{
    const json_t *contexts = json_object_get(config, "contexts");
    const json_t *clusters = json_object_get(config, "clusters");
    const json_t *users = json_object_get(config, "users");

    if (!json_is_object(config)) {
        return xstrdup("not a mapping");
    }
    if (!context) {
        context = kcfg_string__(config, "current-context");
    }
    if (!context) {
        /* kubectl refuses this; one context is unambiguous, though. */
        if (json_array_size(contexts) != 1) {
            return xstrdup("no current-context");
        }
        context = kcfg_string__(json_array_get(contexts, 0), "name");
        if (!context) {
            return xstrdup("no current-context");
        }
    }
    ep->context = xstrdup(context);

    const json_t *ctx = json_object_get(kcfg_find_named__(contexts, context),
                                        "context");
    if (!ctx) {
        return xasprintf("context \"%s\" not found", context);
    }

    const char *cluster_name = kcfg_string__(ctx, "cluster");
    if (!cluster_name) {
        return xasprintf("context \"%s\" names no cluster", context);
    }
    const json_t *cluster = json_object_get(
        kcfg_find_named__(clusters, cluster_name), "cluster");
    if (!cluster) {
        return xasprintf("cluster \"%s\" not found", cluster_name);
    }
    char *error = kcfg_parse_cluster__(cluster, dir, ep);
    if (error) {
        char *e = xasprintf("cluster \"%s\": %s", cluster_name, error);
        free(error);
        return e;
    }

    const char *user_name = kcfg_string__(ctx, "user");
    if (user_name) {
        const json_t *user = json_object_get(
            kcfg_find_named__(users, user_name), "user");
        if (!user) {
            return xasprintf("user \"%s\" not found", user_name);
        }
        error = kcfg_parse_user__(user, dir, ep);
        if (error) {
            char *e = xasprintf("user \"%s\": %s", user_name, error);
            free(error);
            return e;
        }
    }
    return NULL;
}

char *
kcfg_parse(const char *text, size_t size, const char *path,
           const char *context, struct k8s_endpoint *out)
{
    json_t *docs;
    char *error = k8s_decode_text(text, size, &docs);
    if (error) {
        return error;
    }
    size_t n_docs = json_array_size(docs);
    if (n_docs != 1) {
        json_decref(docs);
        return xasprintf("expected one kubeconfig document, found %"PRIuSIZE,
                         n_docs);
    }

    struct k8s_endpoint ep;
    char *dir = path ? dir_name(path) : NULL;

    memset(&ep, 0, sizeof ep);
    error = kcfg_parse__(json_array_get(docs, 0), dir, context, &ep);
    if (error) {
        kcfg_endpoint_destroy(&ep);
    } else {
        *out = ep;
    }
    free(dir);
    json_decref(docs);
    return error;
}

char *
kcfg_in_cluster(const char *host, const char *port, const char *sa_dir,
                struct k8s_endpoint *out)
{
    if (!host || !host[0] || !port || !port[0]) {
        return xstrdup("not running in a cluster: KUBERNETES_SERVICE_HOST "
                       "and KUBERNETES_SERVICE_PORT must be set (or use "
                       "--kubeconfig)");
    }
    for (const char *p = port; *p; p++) {
        if (!isdigit((unsigned char) *p)) {
            return xasprintf("KUBERNETES_SERVICE_PORT \"%s\" is not a "
                             "port number", port);
        }
    }
    if (!sa_dir) {
        sa_dir = KCFG_SERVICEACCOUNT_DIR;
    }

    struct k8s_endpoint ep;
    memset(&ep, 0, sizeof ep);
    ep.server = (strchr(host, ':') && host[0] != '['
                 ? xasprintf("https://[%s]:%s", host, port)
                 : xasprintf("https://%s:%s", host, port));
    ep.ca_file = xasprintf("%s/ca.crt", sa_dir);
    ep.token_file = xasprintf("%s/token", sa_dir);
    *out = ep;
    return NULL;
}
