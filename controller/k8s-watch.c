/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>
#include "controller/k8s-watch.h"

#include <stdlib.h>
#include <string.h>

#include "controller/k8s-client.h"
#include "coverage.h"
#include "lib/k8s-parse.h"
#include "lib/kubeconfig.h"
#include "lib/watch-stream.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "random.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(k8s_watch);

COVERAGE_DEFINE(k8s_watch_event);
COVERAGE_DEFINE(k8s_watch_restart);
COVERAGE_DEFINE(k8s_relist);
COVERAGE_DEFINE(k8s_bad_line);

/* Objects per LIST page, and the largest page body accepted. */
#define K8SW_LIST_LIMIT 500
#define K8SW_MAX_PAGE_SIZE (256 * 1024 * 1024)
#define K8SW_LIST_TIMEOUT_SEC 120

/* A watch asks the server to end it after a random 300 to 600 s and gives
 * up itself a little later than that, or after 'idle_sec' without data. */
#define K8SW_WATCH_MIN_SEC 300
#define K8SW_WATCH_MAX_SEC 600
#define K8SW_WATCH_MARGIN_SEC 30
#define K8SW_DEFAULT_IDLE_SEC 120

/* Backoff: from 0.8 s, doubling up to 30 s, +-25% jitter, reset after two
 * minutes without failure (client-go's reflector). */
#define K8SW_BACKOFF_MIN_MSEC 800
#define K8SW_BACKOFF_MAX_MSEC 30000
#define K8SW_BACKOFF_RESET_MSEC (2 * 60 * 1000)
#define K8SW_RETRY_AFTER_MAX_SEC 600

/* A watch that ends this soon without any event counts as a failure, so
 * that a server closing every watch at once is not hammered. */
#define K8SW_SHORT_WATCH_MSEC 1000

/* Watch events applied per run() before yielding to the rest of the
 * loop. */
#define K8SW_EVENTS_PER_RUN 1000

struct k8s_resource {
    enum k8s_kind kind;
    const char *kind_name;      /* Kind of the resource's objects. */
    const char *name;           /* Resource name, for messages. */
    const char *path;           /* Collection path on the API server. */
};

static const struct k8s_resource k8s_resources[] = {
    { K8S_KIND_NAMESPACE, "Namespace", "namespaces", "/api/v1/namespaces" },
    { K8S_KIND_POD, "Pod", "pods", "/api/v1/pods" },
    { K8S_KIND_NETWORK_POLICY, "NetworkPolicy", "networkpolicies",
      "/apis/networking.k8s.io/v1/networkpolicies" },
};

/* The controller's own Node, for its pod CIDRs only.  Not in the cache:
 * its reflector keeps a struct k8s_node_store instead, and 'kind' is
 * unused. */
static const struct k8s_resource k8s_node_resource = {
    0, "Node", "nodes", "/api/v1/nodes"
};

/* What is kept of a Node. */
struct k8s_node_store {
    bool present;               /* The Node exists and parsed. */
    struct k8s_cidr *pod_cidrs;
    size_t n_pod_cidrs;
};

enum k8s_watch_state {
    K8SW_WAITING,               /* Until 'next_attempt'. */
    K8SW_LISTING,               /* A LIST page request is running. */
    K8SW_WATCHING,              /* A watch is running. */
};

struct k8s_watch {
    const struct k8s_resource *res;
    struct k8s_client *client;
    int idle_sec;
    char *field_selector;       /* For lists and watches, or NULL. */

    enum k8s_watch_state state;
    bool need_list;             /* Next attempt lists (else watches). */
    long long int next_attempt; /* When K8SW_WAITING ends. */
    struct k8s_request *req;

    /* Listing. */
    struct ds page;             /* Body of the page being received. */
    char *continue_token;       /* For the next page, or NULL. */
    char *list_rv;              /* The list's resourceVersion. */
    struct kcache *staging;     /* Objects listed so far. */
    size_t n_pages;             /* Pages of the current list. */

    /* Instead of the cache and 'staging', for the Node reflector. */
    struct k8s_node_store node;
    struct k8s_node_store staged_node;

    /* Watching. */
    struct wstream stream;
    long long int watch_started;
    uint64_t watch_events;      /* Events in the current watch. */

    char *rv;                   /* Last resourceVersion seen. */
    bool synced;                /* The initial list is in the cache. */
    long long int synced_at;    /* When the last list was applied. */

    /* Backoff. */
    int backoff_msec;
    long long int last_failure;
    bool unreachable;           /* Last failure got no HTTP answer. */

    /* Status. */
    char *last_error;
    long long int last_error_at;
    uint64_t n_lists;           /* Complete lists. */
    uint64_t n_relists_gone;    /* Lists forced by 410 Gone. */
    uint64_t n_watches;         /* Watches started. */
    uint64_t n_events;          /* ADDED, MODIFIED and DELETED. */
    uint64_t n_bookmarks;
    uint64_t n_failures;
    uint64_t n_bad_lines;       /* Unparsable, over-long or truncated. */
    uint64_t n_bad_objects;     /* Objects that failed to parse. */
};

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
static struct vlog_rate_limit obj_rl = VLOG_RATE_LIMIT_INIT(10, 50);

static void k8s_watch_stop__(struct k8s_watch *);

static bool
k8s_watch_is_node__(const struct k8s_watch *w)
{
    return w->res == &k8s_node_resource;
}

static void
k8s_node_store_clear__(struct k8s_node_store *store)
{
    free(store->pod_cidrs);
    memset(store, 0, sizeof *store);
}

static void
k8s_url_escape__(struct ds *s, const char *value)
{
    for (const char *p = value; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || strchr("-._~", c)) {
            ds_put_char(s, c);
        } else {
            ds_put_format(s, "%%%02X", c);
        }
    }
}

static struct k8s_watch *
k8s_watch_create__(struct k8s_client *client,
                   const struct k8s_resource *res, int idle_sec)
{
    struct k8s_watch *w = xzalloc(sizeof *w);

    w->res = res;
    w->client = client;
    w->idle_sec = idle_sec > 0 ? idle_sec : K8SW_DEFAULT_IDLE_SEC;
    w->state = K8SW_WAITING;
    w->need_list = true;
    w->next_attempt = LLONG_MIN;
    ds_init(&w->page);
    wstream_init(&w->stream, WSTREAM_DEFAULT_MAX_LINE);
    return w;
}

struct k8s_watch *
k8s_watch_create(struct k8s_client *client, enum k8s_kind kind,
                 int idle_sec)
{
    for (size_t i = 0; i < ARRAY_SIZE(k8s_resources); i++) {
        if (k8s_resources[i].kind == kind) {
            return k8s_watch_create__(client, &k8s_resources[i], idle_sec);
        }
    }
    OVS_NOT_REACHED();
}

void
k8s_watch_destroy(struct k8s_watch *w)
{
    if (w) {
        k8s_watch_stop__(w);
        ds_destroy(&w->page);
        wstream_destroy(&w->stream);
        free(w->continue_token);
        free(w->list_rv);
        kcache_destroy(w->staging);
        k8s_node_store_clear__(&w->node);
        k8s_node_store_clear__(&w->staged_node);
        free(w->field_selector);
        free(w->rv);
        free(w->last_error);
        free(w);
    }
}

/* Ends the running request, if any, and forgets a partial list. */
static void
k8s_watch_stop__(struct k8s_watch *w)
{
    k8s_request_destroy(w->req);
    w->req = NULL;
    ds_clear(&w->page);
    wstream_clear(&w->stream);
}

static void
k8s_watch_set_error__(struct k8s_watch *w, const char *error)
{
    free(w->last_error);
    w->last_error = xstrdup(error);
    w->last_error_at = time_msec();
}

/* Stops what is running and schedules the next attempt, a list if 'relist'
 * or else a watch from 'rv', after 'delay' ms. */
static void
k8s_watch_schedule__(struct k8s_watch *w, bool relist, long long int delay)
{
    k8s_watch_stop__(w);
    if (relist || !w->rv) {
        w->need_list = true;
        free(w->continue_token);
        w->continue_token = NULL;
    }
    w->state = K8SW_WAITING;
    w->next_attempt = time_msec() + delay;
}

/* Records failure 'error' and schedules the next attempt after a backoff,
 * at least 'retry_after' seconds. */
static void
k8s_watch_fail__(struct k8s_watch *w, bool relist, const char *error,
                 int retry_after)
{
    long long int now = time_msec();

    if (!w->backoff_msec || now - w->last_failure > K8SW_BACKOFF_RESET_MSEC) {
        w->backoff_msec = K8SW_BACKOFF_MIN_MSEC;
    } else {
        w->backoff_msec = MIN(w->backoff_msec * 2, K8SW_BACKOFF_MAX_MSEC);
    }
    w->last_failure = now;

    long long int delay = (w->backoff_msec * 3 / 4
                           + random_range(w->backoff_msec / 2 + 1));
    if (retry_after > 0) {
        delay = MAX(delay, MIN(retry_after, K8SW_RETRY_AFTER_MAX_SEC)
                           * 1000LL);
    }

    w->n_failures++;
    w->unreachable = w->req && !k8s_request_status(w->req);
    k8s_watch_set_error__(w, error);
    VLOG_WARN_RL(&rl, "%s: %s; will %s in %.1f s", w->res->name, error,
                 relist || !w->rv ? "list" : "watch again",
                 delay / 1000.0);
    k8s_watch_schedule__(w, relist, delay);
}

/* Listing. */

static bool
k8s_watch_page_cb__(void *w_, const char *data, size_t size)
{
    struct k8s_watch *w = w_;

    if (w->page.length + size > K8SW_MAX_PAGE_SIZE) {
        return false;
    }
    ds_put_buffer(&w->page, data, size);
    return true;
}

static void
k8s_watch_start_list__(struct k8s_watch *w)
{
    struct ds path = DS_EMPTY_INITIALIZER;

    ds_put_format(&path, "%s?limit=%d", w->res->path, K8SW_LIST_LIMIT);
    if (w->field_selector) {
        ds_put_cstr(&path, "&fieldSelector=");
        k8s_url_escape__(&path, w->field_selector);
    }
    if (w->continue_token) {
        ds_put_cstr(&path, "&continue=");
        k8s_url_escape__(&path, w->continue_token);
    } else if (k8s_watch_is_node__(w)) {
        k8s_node_store_clear__(&w->staged_node);
        w->n_pages = 0;
    } else {
        /* A new list: start from an empty staging store. */
        if (!w->staging) {
            w->staging = kcache_create();
        }
        kcache_clear(w->staging);
        w->n_pages = 0;
    }

    struct k8s_request_options o = {
        .path = ds_cstr(&path),
        .body_cb = k8s_watch_page_cb__,
        .aux = w,
        .timeout_sec = K8SW_LIST_TIMEOUT_SEC,
        .idle_sec = w->idle_sec,
    };
    ds_clear(&w->page);
    w->req = k8s_request_start(w->client, &o);
    w->state = K8SW_LISTING;
    ds_destroy(&path);
}

/* Upserts 'obj' into 'cache'.  A pod or namespace that fails to parse is
 * removed, so that an older version of it does not linger; a policy that
 * fails to parse is stored by kcache_upsert() to fail closed. */
static void
k8s_watch_upsert__(struct k8s_watch *w, struct kcache *cache,
                   const json_t *obj)
{
    char *error = kcache_upsert(cache, w->res->kind_name, obj);
    if (!error) {
        return;
    }

    w->n_bad_objects++;
    VLOG_WARN_RL(&obj_rl, "%s: %s", w->res->name, error);
    free(error);

    if (w->res->kind != K8S_KIND_NETWORK_POLICY) {
        const json_t *md = json_object_get(obj, "metadata");
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        const char *name = json_string_value(json_object_get(md, "name"));
        if (name && (ns || w->res->kind == K8S_KIND_NAMESPACE)) {
            kcache_remove(cache, w->res->kind, ns, name);
        }
    }
}

/* Stores the pod CIDRs of Node 'obj' in 'store'.  A Node that fails to
 * parse is dropped, as a pod is. */
static void
k8s_watch_upsert_node__(struct k8s_watch *w, struct k8s_node_store *store,
                        const json_t *obj)
{
    struct k8s_cidr *cidrs;
    size_t n;
    char *error = k8s_parse_node_pod_cidrs(obj, &cidrs, &n);

    k8s_node_store_clear__(store);
    if (error) {
        w->n_bad_objects++;
        VLOG_WARN_RL(&obj_rl, "%s: %s", w->res->name, error);
        free(error);
        return;
    }
    store->present = true;
    store->pod_cidrs = cidrs;
    store->n_pod_cidrs = n;
}

static void k8s_watch_start_watch__(struct k8s_watch *);

static void
k8s_watch_list_done__(struct k8s_watch *w, struct kcache *cache)
{
    enum k8s_result result = k8s_request_result(w->req);

    if (result == K8S_RELIST && w->continue_token) {
        /* The continue token expired: start over. */
        VLOG_INFO("%s: list continuation expired, listing again",
                  w->res->name);
        k8s_watch_schedule__(w, true, 0);
        return;
    } else if (result != K8S_OK) {
        char *error = xasprintf("list failed: %s",
                                k8s_request_error(w->req));
        k8s_watch_fail__(w, true, error, k8s_request_retry_after(w->req));
        free(error);
        return;
    }

    struct wstream_list list;
    char *error = wstream_parse_list(ds_cstr(&w->page), w->page.length,
                                     &list);
    k8s_request_destroy(w->req);
    w->req = NULL;
    ds_clear(&w->page);
    if (error) {
        char *msg = xasprintf("bad list response: %s", error);
        k8s_watch_fail__(w, true, msg, 0);
        free(msg);
        free(error);
        return;
    }

    size_t i;
    json_t *item;
    json_array_foreach (list.items, i, item) {
        if (k8s_watch_is_node__(w)) {
            k8s_watch_upsert_node__(w, &w->staged_node, item);
        } else {
            k8s_watch_upsert__(w, w->staging, item);
        }
    }
    w->n_pages++;
    free(w->list_rv);
    w->list_rv = list.resource_version;
    list.resource_version = NULL;
    free(w->continue_token);
    w->continue_token = list.continue_token;
    list.continue_token = NULL;
    wstream_list_destroy(&list);

    if (w->continue_token) {
        k8s_watch_start_list__(w);
        return;
    }

    /* The whole list is in: it replaces this kind in the cache. */
    size_t n;
    if (k8s_watch_is_node__(w)) {
        n = w->staged_node.present;
        k8s_node_store_clear__(&w->node);
        w->node = w->staged_node;
        memset(&w->staged_node, 0, sizeof w->staged_node);
    } else {
        n = kcache_count(w->staging, w->res->kind);
        kcache_replace_kind(cache, w->res->kind, w->staging);
        kcache_destroy(w->staging);
        w->staging = NULL;
    }
    free(w->rv);
    w->rv = w->list_rv;
    w->list_rv = NULL;
    w->need_list = false;
    w->n_lists++;
    w->backoff_msec = 0;        /* The server works: start over. */
    w->synced_at = time_msec();
    if (!w->synced) {
        VLOG_INFO("%s: synced, %"PRIuSIZE" objects at resourceVersion %s",
                  w->res->name, n, w->rv);
        w->synced = true;
    } else {
        COVERAGE_INC(k8s_relist);
        VLOG_INFO("%s: relisted, %"PRIuSIZE" objects at resourceVersion %s",
                  w->res->name, n, w->rv);
    }
    k8s_watch_start_watch__(w);
}

/* Watching. */

static bool
k8s_watch_stream_cb__(void *w_, const char *data, size_t size)
{
    struct k8s_watch *w = w_;

    wstream_feed(&w->stream, data, size);
    return true;
}

static void
k8s_watch_start_watch__(struct k8s_watch *w)
{
    int timeout = K8SW_WATCH_MIN_SEC
                  + random_range(K8SW_WATCH_MAX_SEC - K8SW_WATCH_MIN_SEC + 1);
    struct ds path = DS_EMPTY_INITIALIZER;

    ds_put_format(&path, "%s?watch=true&allowWatchBookmarks=true"
                  "&resourceVersion=", w->res->path);
    k8s_url_escape__(&path, w->rv);
    ds_put_format(&path, "&timeoutSeconds=%d", timeout);
    if (w->field_selector) {
        ds_put_cstr(&path, "&fieldSelector=");
        k8s_url_escape__(&path, w->field_selector);
    }

    struct k8s_request_options o = {
        .path = ds_cstr(&path),
        .body_cb = k8s_watch_stream_cb__,
        .aux = w,
        .timeout_sec = timeout + K8SW_WATCH_MARGIN_SEC,
        .idle_sec = w->idle_sec,
    };
    wstream_clear(&w->stream);
    w->req = k8s_request_start(w->client, &o);
    w->state = K8SW_WATCHING;
    w->watch_started = time_msec();
    w->watch_events = 0;
    w->n_watches++;
    ds_destroy(&path);
}

static void
k8s_watch_set_rv__(struct k8s_watch *w, const char *rv)
{
    if (rv && (!w->rv || strcmp(w->rv, rv))) {
        free(w->rv);
        w->rv = xstrdup(rv);
    }
}

/* A bad line in the stream: an event may be lost, so watch again from
 * the last good resourceVersion. */
static void
k8s_watch_bad_line__(struct k8s_watch *w, const char *why,
                     const char *line, size_t length)
{
    COVERAGE_INC(k8s_bad_line);
    w->n_bad_lines++;

    char *error = (line
                   ? xasprintf("bad watch event (%s): %.*s%s", why,
                               (int) MIN(length, 120), line,
                               length > 120 ? "..." : "")
                   : xasprintf("bad watch event (%s)", why));
    k8s_watch_fail__(w, false, error, 0);
    free(error);
}

/* Handles the 410 Gone of a watch: list again at once, unless the last list
 * was just made (the server keeps answering 410), then after a backoff. */
static void
k8s_watch_gone__(struct k8s_watch *w, const char *error)
{
    w->n_relists_gone++;
    if (time_msec() - w->synced_at < K8SW_SHORT_WATCH_MSEC) {
        k8s_watch_fail__(w, true, error, 0);
    } else {
        VLOG_INFO("%s: %s; listing again", w->res->name, error);
        k8s_watch_set_error__(w, error);
        k8s_watch_schedule__(w, true, 0);
    }
}

/* Applies one watch line.  Returns false if the watch was stopped. */
static bool
k8s_watch_apply__(struct k8s_watch *w, struct kcache *cache,
                  const char *line, size_t length)
{
    struct wstream_event ev;
    char *error = wstream_parse_event(line, length, &ev);
    if (error) {
        k8s_watch_bad_line__(w, error, line, length);
        free(error);
        return false;
    }

    COVERAGE_INC(k8s_watch_event);
    bool keep_going = true;
    if (VLOG_IS_DBG_ENABLED() && ev.type == WSTREAM_BOOKMARK) {
        VLOG_DBG("%s: BOOKMARK at %s", w->res->name, ev.resource_version);
    } else if (VLOG_IS_DBG_ENABLED() && ev.type != WSTREAM_ERROR) {
        char *what = k8s_describe(ev.object, w->res->kind_name);
        VLOG_DBG("%s: %s %s at %s", w->res->name,
                 wstream_event_type_to_string(ev.type), what,
                 ev.resource_version ? ev.resource_version : "?");
        free(what);
    }

    switch (ev.type) {
    case WSTREAM_ADDED:
    case WSTREAM_MODIFIED:
        if (k8s_watch_is_node__(w)) {
            k8s_watch_upsert_node__(w, &w->node, ev.object);
        } else {
            k8s_watch_upsert__(w, cache, ev.object);
        }
        k8s_watch_set_rv__(w, ev.resource_version);
        w->n_events++;
        w->backoff_msec = 0;
        w->watch_events++;
        break;

    case WSTREAM_DELETED: {
        const json_t *md = json_object_get(ev.object, "metadata");
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        const char *name = json_string_value(json_object_get(md, "name"));
        if (name && k8s_watch_is_node__(w)) {
            k8s_node_store_clear__(&w->node);
        } else if (name && (ns || w->res->kind == K8S_KIND_NAMESPACE)) {
            kcache_remove(cache, w->res->kind, ns, name);
        } else {
            char *what = k8s_describe(ev.object, w->res->kind_name);
            VLOG_WARN_RL(&obj_rl, "%s: DELETED %s without namespace and "
                         "name, ignoring", w->res->name, what);
            free(what);
            w->n_bad_objects++;
        }
        k8s_watch_set_rv__(w, ev.resource_version);
        w->n_events++;
        w->backoff_msec = 0;
        w->watch_events++;
        break;
    }

    case WSTREAM_BOOKMARK:
        k8s_watch_set_rv__(w, ev.resource_version);
        w->n_bookmarks++;
        w->backoff_msec = 0;
        w->watch_events++;
        break;

    case WSTREAM_ERROR: {
        const struct wstream_status *st = &ev.status;
        char *msg = xasprintf("watch ERROR event: %d %s: %s", st->code,
                              st->reason ? st->reason : "",
                              st->message ? st->message : "");
        if (st->code == 410 || (st->reason
                                && (!strcmp(st->reason, "Expired")
                                    || !strcmp(st->reason, "Gone")))) {
            k8s_watch_gone__(w, msg);
        } else {
            k8s_watch_fail__(w, false, msg, st->retry_after);
        }
        free(msg);
        keep_going = false;
        break;
    }

    default:
        OVS_NOT_REACHED();
    }
    wstream_event_destroy(&ev);
    return keep_going;
}

static void
k8s_watch_end__(struct k8s_watch *w)
{
    enum k8s_result result = k8s_request_result(w->req);
    size_t pending = wstream_pending(&w->stream);

    if (pending) {
        /* The last event was cut off; the re-watch from 'rv' brings it. */
        COVERAGE_INC(k8s_bad_line);
        w->n_bad_lines++;
        VLOG_WARN_RL(&rl, "%s: watch ended inside an event (%"PRIuSIZE
                     " bytes dropped)", w->res->name, pending);
    }

    if (result == K8S_OK) {
        long long int lasted = time_msec() - w->watch_started;
        if (!w->watch_events && lasted < K8SW_SHORT_WATCH_MSEC) {
            k8s_watch_fail__(w, false, "watch closed at once without events",
                             0);
        } else {
            VLOG_DBG("%s: watch ended after %lld s, watching again from %s",
                     w->res->name, lasted / 1000, w->rv);
            COVERAGE_INC(k8s_watch_restart);
            k8s_watch_stop__(w);
            k8s_watch_start_watch__(w);
        }
    } else if (result == K8S_RELIST) {
        char *error = xasprintf("watch failed: %s",
                                k8s_request_error(w->req));
        k8s_watch_gone__(w, error);
        free(error);
    } else {
        char *error = xasprintf("watch failed: %s",
                                k8s_request_error(w->req));
        k8s_watch_fail__(w, false, error, k8s_request_retry_after(w->req));
        free(error);
    }
}

static void
k8s_watch_run_stream__(struct k8s_watch *w, struct kcache *cache)
{
    for (int n = 0; n < K8SW_EVENTS_PER_RUN; n++) {
        const char *line;
        size_t length;

        switch (wstream_next(&w->stream, &line, &length)) {
        case WSTREAM_NONE:
            if (k8s_request_is_done(w->req)) {
                k8s_watch_end__(w);
            }
            return;

        case WSTREAM_OVERLONG:
            k8s_watch_bad_line__(w, "line too long", NULL, 0);
            return;

        case WSTREAM_LINE:
            if (strspn(line, " \t\r") == length) {
                break;
            }
            if (!k8s_watch_apply__(w, cache, line, length)) {
                return;
            }
            break;

        default:
            OVS_NOT_REACHED();
        }
    }
    /* More lines may be buffered: come back after the rest of the loop. */
    poll_immediate_wake();
}

void
k8s_watch_run(struct k8s_watch *w, struct kcache *cache)
{
    switch (w->state) {
    case K8SW_WAITING:
        if (w->unreachable
            && k8s_client_last_response(w->client) > w->last_failure) {
            /* The server answers another request again: no need to wait
             * out a backoff that was about reaching it. */
            VLOG_DBG("%s: API server reachable again", w->res->name);
            w->unreachable = false;
            w->next_attempt = MIN(w->next_attempt, time_msec());
        }
        if (time_msec() >= w->next_attempt) {
            if (w->need_list) {
                k8s_watch_start_list__(w);
            } else {
                k8s_watch_start_watch__(w);
            }
        }
        break;

    case K8SW_LISTING:
        if (k8s_request_is_done(w->req)) {
            k8s_watch_list_done__(w, cache);
        }
        break;

    case K8SW_WATCHING:
        k8s_watch_run_stream__(w, cache);
        break;

    default:
        OVS_NOT_REACHED();
    }
}

void
k8s_watch_wait(const struct k8s_watch *w)
{
    if (w->state == K8SW_WAITING) {
        poll_timer_wait_until(w->next_attempt);
    } else if (w->req && k8s_request_is_done(w->req)) {
        poll_immediate_wake();
    }
}

bool
k8s_watch_is_synced(const struct k8s_watch *w)
{
    return w->synced;
}

void
k8s_watch_dump(const struct k8s_watch *w, struct ds *s)
{
    long long int now = time_msec();

    ds_put_format(s, "%s: %s, ", w->res->name,
                  w->synced ? "synced" : "not synced");
    switch (w->state) {
    case K8SW_WAITING:
        ds_put_format(s, "%s in %.1f s", w->need_list ? "list" : "watch",
                      MAX(0, w->next_attempt - now) / 1000.0);
        break;
    case K8SW_LISTING:
        ds_put_format(s, "listing (page %"PRIuSIZE")", w->n_pages + 1);
        break;
    case K8SW_WATCHING:
        ds_put_format(s, "watching for %lld s",
                      (now - w->watch_started) / 1000);
        break;
    default:
        OVS_NOT_REACHED();
    }
    ds_put_format(s, ", resourceVersion %s\n", w->rv ? w->rv : "(none)");
    ds_put_format(s, "  lists %"PRIu64" (after 410 Gone %"PRIu64"), "
                  "watches %"PRIu64", events %"PRIu64", bookmarks %"PRIu64
                  ", failures %"PRIu64", bad lines %"PRIu64
                  ", bad objects %"PRIu64"\n",
                  w->n_lists, w->n_relists_gone, w->n_watches, w->n_events,
                  w->n_bookmarks, w->n_failures, w->n_bad_lines,
                  w->n_bad_objects);
    if (w->last_error) {
        ds_put_format(s, "  last error %lld s ago: %s\n",
                      (now - w->last_error_at) / 1000, w->last_error);
    }
}

/* The source: a client and a reflector per kind. */

struct k8s_source {
    struct k8s_client *client;
    struct k8s_watch *watches[ARRAY_SIZE(k8s_resources)];
    struct k8s_watch *node_watch;   /* Or NULL.  Not waited for in sync. */
    bool synced;
};

struct k8s_source *
k8s_source_create(const struct k8s_endpoint *ep, int idle_sec,
                  const char *node_name)
{
    struct k8s_source *src = xzalloc(sizeof *src);

    src->client = k8s_client_create(ep);
    for (size_t i = 0; i < ARRAY_SIZE(k8s_resources); i++) {
        src->watches[i] = k8s_watch_create(src->client,
                                           k8s_resources[i].kind, idle_sec);
    }
    if (node_name) {
        src->node_watch = k8s_watch_create__(src->client,
                                             &k8s_node_resource, idle_sec);
        src->node_watch->field_selector = xasprintf("metadata.name=%s",
                                                    node_name);
    }
    return src;
}

void
k8s_source_destroy(struct k8s_source *src)
{
    if (src) {
        for (size_t i = 0; i < ARRAY_SIZE(src->watches); i++) {
            k8s_watch_destroy(src->watches[i]);
        }
        k8s_watch_destroy(src->node_watch);
        k8s_client_destroy(src->client);
        free(src);
    }
}

void
k8s_source_run(struct k8s_source *src, struct kcache *cache)
{
    k8s_client_run(src->client);
    for (size_t i = 0; i < ARRAY_SIZE(src->watches); i++) {
        k8s_watch_run(src->watches[i], cache);
    }
    if (src->node_watch) {
        k8s_watch_run(src->node_watch, cache);
    }
    if (!src->synced && k8s_source_is_synced(src)) {
        VLOG_INFO("initial list of every resource received");
        src->synced = true;
    }
}

void
k8s_source_wait(struct k8s_source *src)
{
    k8s_client_wait(src->client);
    for (size_t i = 0; i < ARRAY_SIZE(src->watches); i++) {
        k8s_watch_wait(src->watches[i]);
    }
    if (src->node_watch) {
        k8s_watch_wait(src->node_watch);
    }
}

bool
k8s_source_is_synced(const struct k8s_source *src)
{
    for (size_t i = 0; i < ARRAY_SIZE(src->watches); i++) {
        if (!k8s_watch_is_synced(src->watches[i])) {
            return false;
        }
    }
    return true;
}

void
k8s_source_dump(const struct k8s_source *src, struct ds *s)
{
    k8s_client_dump(src->client, s);
    for (size_t i = 0; i < ARRAY_SIZE(src->watches); i++) {
        k8s_watch_dump(src->watches[i], s);
    }
    if (src->node_watch) {
        k8s_watch_dump(src->node_watch, s);
    }
}

bool
k8s_source_node_pod_cidrs(const struct k8s_source *src,
                          const struct k8s_cidr **cidrsp, size_t *np)
{
    const struct k8s_watch *w = src->node_watch;

    if (!w || !w->node.present) {
        *cidrsp = NULL;
        *np = 0;
        return false;
    }
    *cidrsp = w->node.pod_cidrs;
    *np = w->node.n_pod_cidrs;
    return true;
}
