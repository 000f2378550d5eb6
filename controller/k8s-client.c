/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>
#include "controller/k8s-client.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>

#include "coverage.h"
#include "lib/kubeconfig.h"
#include "lib/watch-stream.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovs-thread.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(k8s_client);

COVERAGE_DEFINE(k8s_request);
COVERAGE_DEFINE(k8s_request_failed);
COVERAGE_DEFINE(k8s_unauthorized);

/* Re-read a token file this often (client-go: once a minute). */
#define K8S_TOKEN_REFRESH_MSEC (60 * 1000)

/* Largest token file and kubeconfig read. */
#define K8S_TOKEN_MAX_SIZE (64 * 1024)
#define K8S_KUBECONFIG_MAX_SIZE (16 * 1024 * 1024)

/* How much of an error answer's body is kept, to report its Status. */
#define K8S_ERROR_BODY_MAX (64 * 1024)

#define K8S_CONNECT_TIMEOUT_MSEC 10000

struct k8s_client {
    struct k8s_endpoint ep;
    CURLM *multi;
    struct ovs_list requests;   /* Running "struct k8s_request"s. */
    int n_running;              /* From the last curl_multi_perform(). */

    /* Bearer token: from 'ep.token_file' when readable, else 'ep.token'. */
    char *token;
    long long int token_next_read;  /* When to re-read the file. */
    bool token_stale;           /* Re-read before the next request. */
    char *token_error;          /* Why the file could not be read. */
    long long int token_read_at;

    long long int last_response;    /* When the server last answered. */

    uint64_t n_requests;
    uint64_t n_failed;
    uint64_t n_unauthorized;
};

struct k8s_request {
    struct ovs_list node;       /* In client's 'requests' while running. */
    struct k8s_client *client;
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    k8s_body_cb *body_cb;
    void *aux;

    long status;                /* HTTP status of the answer, 0 if none. */
    int retry_after;            /* Retry-After, seconds. */
    bool refused;               /* 'body_cb' returned false. */
    struct ds error_body;       /* Body of a non-2xx answer. */

    bool done;
    enum k8s_result result;
    char *error;
    char errbuf[CURL_ERROR_SIZE];
};

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

const char *
k8s_result_to_string(enum k8s_result result)
{
    switch (result) {
    case K8S_OK: return "ok";
    case K8S_RETRY: return "retry";
    case K8S_RELIST: return "relist";
    case K8S_FATAL: return "fatal";
    default: OVS_NOT_REACHED();
    }
}

/* Reads at most 'max' bytes of 'file' into 'text'. */
static int
k8s_read_file__(const char *file, size_t max, struct ds *text)
{
    FILE *stream = fopen(file, "r");
    if (!stream) {
        return errno;
    }

    char buf[4096];
    size_t n;
    int error = 0;
    while ((n = fread(buf, 1, sizeof buf, stream)) > 0) {
        ds_put_buffer(text, buf, n);
        if (text->length > max) {
            error = EFBIG;
            break;
        }
    }
    if (!error && ferror(stream)) {
        error = EIO;
    }
    fclose(stream);
    return error;
}

char *
k8s_endpoint_load(const char *file, const char *context, const char *sa_dir,
                  struct k8s_endpoint *ep)
{
    if (!file) {
        return kcfg_in_cluster(getenv("KUBERNETES_SERVICE_HOST"),
                               getenv("KUBERNETES_SERVICE_PORT"),
                               sa_dir, ep);
    }

    struct ds text = DS_EMPTY_INITIALIZER;
    int error = k8s_read_file__(file, K8S_KUBECONFIG_MAX_SIZE, &text);
    char *msg;
    if (error) {
        msg = xasprintf("%s: %s", file, ovs_strerror(error));
    } else {
        msg = kcfg_parse(ds_cstr(&text), text.length, file, context, ep);
        if (msg) {
            char *m = xasprintf("%s: %s", file, msg);
            free(msg);
            msg = m;
        }
    }
    ds_destroy(&text);
    return msg;
}

/* Refreshes the client's token from its file if it is time. */
static void
k8s_client_refresh_token__(struct k8s_client *c)
{
    long long int now = time_msec();

    if (!c->ep.token_file || (!c->token_stale && now < c->token_next_read)) {
        return;
    }
    c->token_next_read = now + K8S_TOKEN_REFRESH_MSEC;
    c->token_stale = false;

    struct ds text = DS_EMPTY_INITIALIZER;
    int error = k8s_read_file__(c->ep.token_file, K8S_TOKEN_MAX_SIZE, &text);
    char *token = error ? NULL : kcfg_token_trim(ds_cstr(&text),
                                                 text.length);
    ds_destroy(&text);

    if (!token) {
        char *msg = xasprintf("%s: %s", c->ep.token_file,
                              error ? ovs_strerror(error) : "empty token");
        if (!c->token_error || strcmp(c->token_error, msg)) {
            VLOG_WARN("cannot read bearer token from %s; %s",
                      msg, c->token ? "keeping the previous token"
                      : c->ep.token ? "using the kubeconfig's token"
                      : "requests go without a token");
        }
        free(c->token_error);
        c->token_error = msg;
        if (!c->token && c->ep.token) {
            c->token = xstrdup(c->ep.token);
        }
        return;
    }

    if (c->token_error) {
        VLOG_INFO("%s: bearer token readable again", c->ep.token_file);
        free(c->token_error);
        c->token_error = NULL;
    }
    if (c->token && strcmp(c->token, token)) {
        VLOG_INFO("%s: bearer token changed", c->ep.token_file);
    }
    free(c->token);
    c->token = token;
    c->token_read_at = now;
}

struct k8s_client *
k8s_client_create(const struct k8s_endpoint *ep)
{
    static struct ovsthread_once once = OVSTHREAD_ONCE_INITIALIZER;

    /* After daemonize_complete(): libcurl may start threads (the threaded
     * resolver), and OVS forbids threads before the fork. */
    if (ovsthread_once_start(&once)) {
        CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (code) {
            ovs_fatal(0, "curl_global_init failed: %s",
                      curl_easy_strerror(code));
        }
        ovsthread_once_done(&once);
    }

    struct k8s_client *c = xzalloc(sizeof *c);
    kcfg_endpoint_clone(&c->ep, ep);
    c->multi = curl_multi_init();
    if (!c->multi) {
        ovs_fatal(0, "curl_multi_init failed");
    }
    ovs_list_init(&c->requests);
    if (c->ep.token) {
        c->token = xstrdup(c->ep.token);
    }
    c->token_stale = true;
    k8s_client_refresh_token__(c);
    if (ep->tls_server_name) {
        VLOG_WARN("tls-server-name \"%s\" is not supported, verifying the "
                  "server's host name instead", ep->tls_server_name);
    }
    return c;
}

void
k8s_client_destroy(struct k8s_client *c)
{
    if (c) {
        /* The owners destroy their requests first. */
        ovs_assert(ovs_list_is_empty(&c->requests));
        curl_multi_cleanup(c->multi);
        kcfg_endpoint_destroy(&c->ep);
        free(c->token);
        free(c->token_error);
        free(c);
    }
}

static void
k8s_request_finish__(struct k8s_request *req, CURLcode code)
{
    struct k8s_client *c = req->client;

    curl_multi_remove_handle(c->multi, req->easy);
    ovs_list_remove(&req->node);
    ovs_list_init(&req->node);
    req->done = true;

    if (code != CURLE_OK) {
        req->result = K8S_RETRY;
        if (req->refused) {
            req->error = xstrdup("response body refused");
        } else {
            req->error = xasprintf("%s%s%s", curl_easy_strerror(code),
                                   req->errbuf[0] ? ": " : "",
                                   req->errbuf);
        }
    } else if (req->status >= 200 && req->status < 300) {
        req->result = K8S_OK;
    } else {
        long s = req->status;
        struct wstream_status status = { .code = 0 };
        char *error = wstream_parse_status(ds_cstr(&req->error_body),
                                           req->error_body.length, &status);
        if (!error) {
            if (!req->retry_after) {
                req->retry_after = status.retry_after;
            }
            req->error = xasprintf("HTTP %ld%s%s%s%s", s,
                                   status.reason ? " " : "",
                                   status.reason ? status.reason : "",
                                   status.message ? ": " : "",
                                   status.message ? status.message : "");
        } else {
            req->error = xasprintf("HTTP %ld", s);
        }
        free(error);
        wstream_status_destroy(&status);

        if (s == 410) {
            req->result = K8S_RELIST;
        } else if (s == 429 || s >= 500 || s < 200 || (s >= 300 && s < 400)
                   || s == 408) {
            req->result = K8S_RETRY;
        } else {
            req->result = K8S_FATAL;
        }
        if (s == 401) {
            /* Maybe the token rotated: read it again before retrying. */
            COVERAGE_INC(k8s_unauthorized);
            c->n_unauthorized++;
            c->token_stale = true;
        }
    }
    ds_destroy(&req->error_body);
    ds_init(&req->error_body);
    if (req->result != K8S_OK) {
        COVERAGE_INC(k8s_request_failed);
        c->n_failed++;
    }
}

void
k8s_client_run(struct k8s_client *c)
{
    CURLMcode mcode = curl_multi_perform(c->multi, &c->n_running);
    if (mcode != CURLM_OK) {
        VLOG_WARN_RL(&rl, "curl_multi_perform: %s",
                     curl_multi_strerror(mcode));
    }

    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            struct k8s_request *req = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &req);
            k8s_request_finish__(req, msg->data.result);
        }
    }
}

void
k8s_client_wait(struct k8s_client *c)
{
    fd_set rd, wr, ex;
    int max_fd = -1;

    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    if (curl_multi_fdset(c->multi, &rd, &wr, &ex, &max_fd) == CURLM_OK) {
        for (int fd = 0; fd <= max_fd; fd++) {
            if (FD_ISSET(fd, &rd) || FD_ISSET(fd, &ex)) {
                poll_fd_wait(fd, POLLIN);
            }
            if (FD_ISSET(fd, &wr)) {
                poll_fd_wait(fd, POLLOUT);
            }
        }
    }

    long timeout = -1;
    curl_multi_timeout(c->multi, &timeout);
    if (timeout >= 0) {
        poll_timer_wait(timeout);
    }
    if (max_fd == -1 && !ovs_list_is_empty(&c->requests)) {
        /* libcurl is between sockets (resolving, for one): poll it. */
        poll_timer_wait(100);
    }
}

void
k8s_client_dump(const struct k8s_client *c, struct ds *s)
{
    ds_put_format(s, "API server %s", c->ep.server);
    if (c->ep.context) {
        ds_put_format(s, " (context %s)", c->ep.context);
    }
    ds_put_format(s, ": %"PRIuSIZE" requests running, %"PRIu64" made, "
                  "%"PRIu64" failed, %"PRIu64" unauthorized\n",
                  ovs_list_size(&c->requests), c->n_requests, c->n_failed,
                  c->n_unauthorized);
    if (c->ep.token_file) {
        ds_put_format(s, "  token file %s: ", c->ep.token_file);
        if (c->token_error) {
            ds_put_format(s, "error: %s\n", c->token_error);
        } else {
            ds_put_format(s, "read %lld s ago\n",
                          (time_msec() - c->token_read_at) / 1000);
        }
    }
}

/* Requests. */

static size_t
k8s_request_header__(char *data, size_t size, size_t n, void *req_)
{
    struct k8s_request *req = req_;
    size_t length = size * n;

    if (length > 5 && !strncmp(data, "HTTP/", 5)) {
        /* A status line starts a new answer (after a 100 Continue, say). */
        const char *sp = memchr(data, ' ', length);
        req->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        req->retry_after = 0;
        req->client->last_response = time_msec();
    } else if (length > 12 && !strncasecmp(data, "Retry-After:", 12)) {
        char value[32];
        size_t vlen = MIN(length - 12, sizeof value - 1);
        memcpy(value, data + 12, vlen);
        value[vlen] = '\0';

        char *end;
        long secs = strtol(value, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n') {
            end++;
        }
        if (!*end && secs > 0 && secs < 86400) {
            req->retry_after = secs;
        }
    }
    return length;
}

static size_t
k8s_request_write__(char *data, size_t size, size_t n, void *req_)
{
    struct k8s_request *req = req_;
    size_t length = size * n;

    if (req->status >= 200 && req->status < 300) {
        if (req->body_cb && !req->body_cb(req->aux, data, length)) {
            req->refused = true;
            return 0;
        }
    } else if (req->error_body.length < K8S_ERROR_BODY_MAX) {
        ds_put_buffer(&req->error_body, data,
                      MIN(length, K8S_ERROR_BODY_MAX
                                  - req->error_body.length));
    }
    return length;
}

static void
k8s_request_setup_tls__(struct k8s_client *c, CURL *easy)
{
    const struct k8s_endpoint *ep = &c->ep;

    if (ep->ca_data.data) {
        struct curl_blob blob = {
            .data = ep->ca_data.data,
            .len = ep->ca_data.size,
            .flags = CURL_BLOB_NOCOPY,
        };
        curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
    } else if (ep->ca_file) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, ep->ca_file);
    }
    if (ep->insecure) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    if (ep->client_cert_data.data) {
        struct curl_blob blob = {
            .data = ep->client_cert_data.data,
            .len = ep->client_cert_data.size,
            .flags = CURL_BLOB_NOCOPY,
        };
        curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &blob);
        curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (ep->client_cert_file) {
        curl_easy_setopt(easy, CURLOPT_SSLCERT, ep->client_cert_file);
    }
    if (ep->client_key_data.data) {
        struct curl_blob blob = {
            .data = ep->client_key_data.data,
            .len = ep->client_key_data.size,
            .flags = CURL_BLOB_NOCOPY,
        };
        curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &blob);
        curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (ep->client_key_file) {
        curl_easy_setopt(easy, CURLOPT_SSLKEY, ep->client_key_file);
    }
}

struct k8s_request *
k8s_request_start(struct k8s_client *c,
                  const struct k8s_request_options *o)
{
    struct k8s_request *req = xzalloc(sizeof *req);

    k8s_client_refresh_token__(c);

    req->client = c;
    req->body_cb = o->body_cb;
    req->aux = o->aux;
    req->url = xasprintf("%s%s", c->ep.server, o->path);
    ds_init(&req->error_body);

    req->headers = curl_slist_append(NULL, "Accept: application/json");
    if (c->token) {
        char *auth = xasprintf("Authorization: Bearer %s", c->token);
        req->headers = curl_slist_append(req->headers, auth);
        free(auth);
    }

    CURL *easy = req->easy = curl_easy_init();
    if (!easy) {
        ovs_fatal(0, "curl_easy_init failed");
    }
    curl_easy_setopt(easy, CURLOPT_URL, req->url);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
                     (long) CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT,
                     "ovs-netpol-controller");
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->errbuf);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, k8s_request_header__);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, req);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, k8s_request_write__);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) K8S_CONNECT_TIMEOUT_MSEC);
    if (o->timeout_sec > 0) {
        curl_easy_setopt(easy, CURLOPT_TIMEOUT, (long) o->timeout_sec);
    }
    if (o->idle_sec > 0) {
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (long) o->idle_sec);
    }
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
    k8s_request_setup_tls__(c, easy);
    if (!c->token && c->ep.username && c->ep.password) {
        curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt(easy, CURLOPT_USERNAME, c->ep.username);
        curl_easy_setopt(easy, CURLOPT_PASSWORD, c->ep.password);
    }

    ovs_list_push_back(&c->requests, &req->node);
    CURLMcode mcode = curl_multi_add_handle(c->multi, easy);
    if (mcode != CURLM_OK) {
        ovs_list_remove(&req->node);
        ovs_list_init(&req->node);
        req->done = true;
        req->result = K8S_RETRY;
        req->error = xasprintf("curl_multi_add_handle: %s",
                               curl_multi_strerror(mcode));
        c->n_failed++;
    }
    COVERAGE_INC(k8s_request);
    c->n_requests++;
    VLOG_DBG("GET %s", req->url);
    return req;
}

void
k8s_request_destroy(struct k8s_request *req)
{
    if (req) {
        if (!req->done) {
            curl_multi_remove_handle(req->client->multi, req->easy);
            ovs_list_remove(&req->node);
        }
        curl_easy_cleanup(req->easy);
        curl_slist_free_all(req->headers);
        ds_destroy(&req->error_body);
        free(req->url);
        free(req->error);
        free(req);
    }
}

bool
k8s_request_is_done(const struct k8s_request *req)
{
    return req->done;
}

enum k8s_result
k8s_request_result(const struct k8s_request *req)
{
    ovs_assert(req->done);
    return req->result;
}

long
k8s_request_status(const struct k8s_request *req)
{
    return req->status;
}

const char *
k8s_request_error(const struct k8s_request *req)
{
    return req->error;
}

int
k8s_request_retry_after(const struct k8s_request *req)
{
    return req->retry_after;
}

long long int
k8s_client_last_response(const struct k8s_client *c)
{
    return c->last_response;
}
