/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* fake-apiserver: an in-memory Kubernetes API server for the tests.
 *
 * It speaks the part of the Kubernetes API that ovs-netpol-controller uses,
 * over plain HTTP/1.1 on a loopback TCP port, with libevent's evhttp, and
 * links nothing but libevent and jansson.
 *
 * Usage:
 *   fake-apiserver [OPTIONS]              serve
 *   fake-apiserver ctl [CTL-OPTIONS] CMD  talk to a running server
 *
 * Server options:
 *   --address=ADDR          listen address (default 127.0.0.1)
 *   --port=N                listen port; 0 (the default) picks one
 *   --port-file=FILE        write the port there once listening
 *   --control-port-file=FILE  also listen on another port (written to
 *                           FILE) for the control interface and the API,
 *                           without token, faults or /fake/down, so tests
 *                           can change objects while the server is down
 *   --token-file=FILE       require "Authorization: Bearer <contents of
 *                           FILE>" (trailing white space ignored); the file
 *                           is read again on every request, so changing it
 *                           rotates the token; a missing file refuses all
 *   --load=DIR              create the objects of DIR/ *.json at start
 *                           (an object, a "*List" with items, or an array)
 *   --history=N             watch events kept (at least N; default 1000)
 *   --bookmark-interval=MS  BOOKMARK period for watches that allow them
 *                           (default 1000)
 *   --continue-ttl=S        lifetime of a continue token (default 300)
 *   --watch-timeout=S       watch length when timeoutSeconds is absent
 *                           (default 1800)
 *   -v, --verbose           log every request on stderr
 * The chosen port is also printed on stdout as "port N".
 *
 * Resources: namespaces, nodes, pods, events (v1), networkpolicies
 * (networking.k8s.io/v1) and events (events.k8s.io/v1), under
 * /api/v1/... and /apis/GROUP/VERSION/..., cluster-wide
 * (/api/v1/pods) and namespaced (/api/v1/namespaces/NS/pods[/NAME]).
 *   GET collection   LIST: {"kind":"PodList","apiVersion":"v1","metadata":
 *                    {"resourceVersion":..,"continue":..},"items":[..]},
 *                    items without kind and apiVersion.  limit= pages from
 *                    a snapshot; continue= resumes it (410 Expired once the
 *                    token is older than --continue-ttl or after
 *                    /fake/expire).  resourceVersion= on a list is
 *                    accepted and ignored (the current state is served).
 *   GET ...?watch=1  WATCH (watch=true too): one JSON event per line in a
 *                    chunked 200 response.  resourceVersion=RV streams the
 *                    events after RV from the history, then live events;
 *                    without it (or with "0") synthetic ADDED events of the
 *                    current objects come first.  An RV older than the
 *                    history gives an ERROR event carrying a 410 Expired
 *                    Status (or a plain HTTP 410, see /fake/expire).
 *                    allowWatchBookmarks=true adds BOOKMARK events;
 *                    timeoutSeconds=S ends the stream after S seconds.
 *   fieldSelector    on lists and watches: "a.b=v", "a.b==v", "a.b!=v",
 *                    comma-separated (events are matched against the
 *                    object as it is now; no synthetic DELETED).
 *   POST collection  create (201; 409 if it exists); the namespace comes
 *                    from the path, else from metadata.namespace, else
 *                    "default".
 *   GET/PUT/PATCH/DELETE object   read, replace (PUT creates a missing
 *                    object, unlike a real server; a metadata.
 *                    resourceVersion that differs from the stored one is a
 *                    409 Conflict), JSON merge patch, delete.  Deleting a
 *                    namespace deletes its namespaced objects at once.
 * Every write bumps one global resourceVersion; objects get metadata.uid
 * (kept if given), resourceVersion and creationTimestamp.  Errors are
 * Status objects.  /version, /healthz, /readyz and /livez answer too.
 *
 * Control interface (never needs a token), all POST unless noted:
 *   /fake/fault?mode=M[&count=N][&retry=S]  a lasting fault for the API
 *       requests that follow (count=N: only the next N, then "none"):
 *       none          no fault
 *       http-500      every request answers 500 InternalError
 *       http-429      every request answers 429 with Retry-After: S (1)
 *       stall         requests are never answered and open watches send
 *                     nothing (no bookmarks either); leaving the mode
 *                     closes the held requests' connections and lets the
 *                     watches catch up
 *       drop-watches  every watch ends (cleanly) 100 ms after it starts
 *       garbage       lists answer 200 with a body that is not JSON;
 *                     watches start with two lines that are not JSON
 *       truncate      lists and watches send half a JSON text, then the
 *                     connection is closed in the middle of the response
 *       fragment      watch output goes out in chunks of 1..13 bytes
 *   /fake/drop-watches[?how=clean|reset]  ends every open watch now:
 *       clean (the default) ends the chunked response as a timeout does;
 *       reset closes the connection.
 *   /fake/expire[?as=event|http]  compacts the history (and bumps the
 *       resourceVersion): every resourceVersion a client has seen is now
 *       too old.  as=event (the default): open watches get an ERROR 410
 *       event and end, and later watches from an old RV get the same;
 *       as=http: open watches end cleanly and later watches from an old RV
 *       get a plain HTTP 410.  Continue tokens expire too.
 *   /fake/inject?what=garbage|truncate  into every open watch: two lines
 *       that are not JSON (the stream goes on), or half an event followed
 *       by closing the connection.
 *   /fake/down?seconds=N  answers, then closes the listener and every
 *       connection and listens again on the same port after N seconds,
 *       keeping all objects and the history.
 *   /fake/churn?count=N&namespace=NS&name=P  N watch events on pod NS/P:
 *       alternately deletes and re-creates it (it must exist).
 *   GET /fake/state  {"resourceVersion","compactedResourceVersion",
 *       "fault","watchesOpen","requests","unauthorized","gone",
 *       "resources":{"pods":{"objects","lists","watches","writes"},...}}
 *
 * ctl: fake-apiserver ctl [--server=HOST:PORT | --port-file=FILE]
 *                         [--token-file=FILE] COMMAND
 *   apply FILE                 PUT (create or replace) each object of FILE
 *                              (JSON objects, "*List"s or arrays, one
 *                              after the other)
 *   delete KIND NAMESPACE NAME  DELETE it ("-" as NAMESPACE for cluster
 *                              objects); exit 0 even if it was missing
 *   request METHOD PATH [FILE]  any request; prints the body
 *   Exit status 0 on a 2xx answer, 1 otherwise (the body goes to stderr).
 */

#define _GNU_SOURCE 1
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "lib/json-guard.h"

#ifndef LIST_FOREACH_SAFE
#define LIST_FOREACH_SAFE(VAR, HEAD, FIELD, NEXT)                       \
    for ((VAR) = LIST_FIRST(HEAD);                                      \
         (VAR) && ((NEXT) = LIST_NEXT(VAR, FIELD), 1);                  \
         (VAR) = (NEXT))
#endif

/* Kinds served. */
struct resource {
    const char *api_version;    /* "v1", "networking.k8s.io/v1". */
    const char *prefix;         /* "/api/v1", "/apis/networking.k8s.io/v1". */
    const char *plural;
    const char *kind;
    bool namespaced;
};

static const struct resource resources[] = {
    { "v1", "/api/v1", "namespaces", "Namespace", false },
    { "v1", "/api/v1", "nodes", "Node", false },
    { "v1", "/api/v1", "pods", "Pod", true },
    { "v1", "/api/v1", "events", "Event", true },
    { "networking.k8s.io/v1", "/apis/networking.k8s.io/v1",
      "networkpolicies", "NetworkPolicy", true },
    { "events.k8s.io/v1", "/apis/events.k8s.io/v1", "events", "Event",
      true },
};
#define N_RESOURCES (sizeof resources / sizeof resources[0])
#define RES_NAMESPACES 0
#define RES_PODS 2

/* Per-resource state and counters. */
struct store {
    json_t *objects;            /* "ns/name" or "name" -> object. */
    unsigned long lists, watches, writes;
};

/* One change, as a watch sends it. */
struct change {
    uint64_t rv;
    int res;
    const char *type;           /* "ADDED", "MODIFIED" or "DELETED". */
    json_t *object;             /* With kind and apiVersion. */
};

/* A snapshot behind a continue token. */
struct snapshot {
    unsigned int id;
    time_t created;
    uint64_t rv;
    int res;
    json_t *items;              /* Array, items stripped of kind. */
};
#define MAX_SNAPSHOTS 32

enum fault {
    FAULT_NONE, FAULT_HTTP_500, FAULT_HTTP_429, FAULT_STALL,
    FAULT_DROP_WATCHES, FAULT_GARBAGE, FAULT_TRUNCATE, FAULT_FRAGMENT,
};
static const char *const fault_names[] = {
    "none", "http-500", "http-429", "stall", "drop-watches", "garbage",
    "truncate", "fragment",
};
#define N_FAULTS (sizeof fault_names / sizeof fault_names[0])

struct field_req {
    char *path;                 /* "spec.nodeName". */
    char *value;
    bool negate;
};

struct conn;

/* An open watch. */
struct watch {
    LIST_ENTRY(watch) node;
    struct conn *conn;
    struct evhttp_request *req;
    int res;
    char *ns;                   /* Namespace filter, or NULL. */
    struct field_req *fields;
    size_t n_fields;
    uint64_t rv;                /* Everything up to here was sent. */
    bool bookmarks;
    struct event *timeout;
};

/* A client connection (every one that sent a request). */
struct conn {
    LIST_ENTRY(conn) node;
    struct evhttp_connection *evcon;
    struct evhttp_request *held;  /* A stalled request, or NULL. */
    struct watch *watch;          /* The watch it carries, or NULL. */
    bool doomed;                  /* To be closed by the reaper. */
    bool control;                 /* On the control listener. */
};

/* Options. */
static const char *opt_address = "127.0.0.1";
static int opt_port;
static const char *opt_port_file;
static const char *opt_control_port_file;
static const char *opt_token_file;
static const char *opt_load;
static size_t opt_history = 1000;
static int opt_bookmark_ms = 1000;
static int opt_continue_ttl = 300;
static int opt_watch_timeout = 1800;
static bool opt_verbose;

/* State. */
static struct event_base *base;
static struct evhttp *http, *control_http;
static struct evhttp_bound_socket *listener;
static struct event *reaper, *bookmark_timer, *up_timer;
static struct store stores[N_RESOURCES];
static uint64_t cur_rv, compacted_rv;
static unsigned long long uid_seq;
static struct change *history;
static size_t n_history, history_cap;
static struct snapshot snapshots[MAX_SNAPSHOTS];
static unsigned int snapshot_seq;
static enum fault fault = FAULT_NONE;
static long fault_count = -1;      /* Requests left, -1: unlimited. */
static int fault_retry = 1;
static bool expire_as_http;
static unsigned long n_requests, n_unauthorized, n_gone;
static LIST_HEAD(, watch) watches = LIST_HEAD_INITIALIZER(watches);
static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);
static size_t n_watches;

static void
fatal(const char *format, ...)
{
    va_list args;

    va_start(args, format);
    fputs("fake-apiserver: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

static void
logmsg(const char *format, ...)
{
    va_list args;

    if (!opt_verbose) {
        return;
    }
    va_start(args, format);
    fputs("fake-apiserver: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

static char *
xasprintf(const char *format, ...)
{
    va_list args;
    char *s;

    va_start(args, format);
    if (vasprintf(&s, format, args) < 0) {
        fatal("out of memory");
    }
    va_end(args);
    return s;
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        fatal("out of memory");
    }
    return p;
}

static char *
rv_string(uint64_t rv)
{
    return xasprintf("%"PRIu64, rv);
}

/* Parses a resourceVersion the server handed out.  Returns false for
 * anything else. */
static bool
rv_parse(const char *s, uint64_t *rvp)
{
    char *end;

    if (!s || !isdigit((unsigned char) s[0])) {
        return false;
    }
    errno = 0;
    *rvp = strtoull(s, &end, 10);
    return !errno && !*end;
}

/* Objects. */

static const char *
obj_meta_string(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj,
                                                             "metadata"),
                                             key));
}

static char *
obj_key(int res, const char *ns, const char *name)
{
    return (resources[res].namespaced
            ? xasprintf("%s/%s", ns ? ns : "", name)
            : xasprintf("%s", name));
}

/* Value of the dotted field 'path' of 'obj' as a string ("" if absent). */
static char *
obj_field(const json_t *obj, const char *path)
{
    char *copy = xasprintf("%s", path), *save = NULL;
    const json_t *v = obj;

    for (char *tok = strtok_r(copy, ".", &save); tok && v;
         tok = strtok_r(NULL, ".", &save)) {
        v = json_object_get(v, tok);
    }
    free(copy);
    if (json_is_string(v)) {
        return xasprintf("%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        return xasprintf("%"JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_boolean(v)) {
        return xasprintf("%s", json_is_true(v) ? "true" : "false");
    }
    return xasprintf("%s", "");
}

static bool
obj_matches(const json_t *obj, const char *ns,
            const struct field_req *fields, size_t n_fields)
{
    if (ns) {
        const char *ons = obj_meta_string(obj, "namespace");
        if (!ons || strcmp(ons, ns)) {
            return false;
        }
    }
    for (size_t i = 0; i < n_fields; i++) {
        char *v = obj_field(obj, fields[i].path);
        bool eq = !strcmp(v, fields[i].value);
        free(v);
        if (eq == fields[i].negate) {
            return false;
        }
    }
    return true;
}

static void
fields_free(struct field_req *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(fields[i].path);
        free(fields[i].value);
    }
    free(fields);
}

/* Parses a fieldSelector.  Returns false if it is malformed. */
static bool
fields_parse(const char *s, struct field_req **fieldsp, size_t *np)
{
    *fieldsp = NULL;
    *np = 0;
    if (!s || !*s) {
        return true;
    }

    char *copy = xasprintf("%s", s), *save = NULL;
    bool ok = true;
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *op = strpbrk(tok, "!=");
        if (!op || op == tok) {
            ok = false;
            break;
        }
        struct field_req f = { .negate = *op == '!' };
        const char *value = op + 1;
        if (f.negate || op[1] == '=') {
            if (*value != '=' && f.negate) {
                ok = false;
                break;
            }
            value++;
        }
        f.path = xasprintf("%.*s", (int) (op - tok), tok);
        f.value = xasprintf("%s", value);
        *fieldsp = realloc(*fieldsp, (*np + 1) * sizeof **fieldsp);
        if (!*fieldsp) {
            fatal("out of memory");
        }
        (*fieldsp)[(*np)++] = f;
    }
    free(copy);
    if (!ok) {
        fields_free(*fieldsp, *np);
        *fieldsp = NULL;
        *np = 0;
    }
    return ok;
}

/* A shallow copy of 'obj' without kind and apiVersion, as list items. */
static json_t *
obj_strip(json_t *obj)
{
    json_t *copy = json_copy(obj);

    json_object_del(copy, "kind");
    json_object_del(copy, "apiVersion");
    return copy;
}

/* History. */

static void
history_add(int res, const char *type, json_t *object)
{
    if (n_history >= history_cap) {
        history_cap = history_cap ? 2 * history_cap : 256;
        history = realloc(history, history_cap * sizeof *history);
        if (!history) {
            fatal("out of memory");
        }
    }
    history[n_history++] = (struct change) {
        .rv = cur_rv, .res = res, .type = type, .object = json_incref(object),
    };

    /* Drops the oldest half once there is twice as much as asked for. */
    if (n_history >= 2 * opt_history + 1) {
        size_t drop = n_history - opt_history;
        compacted_rv = history[drop - 1].rv;
        for (size_t i = 0; i < drop; i++) {
            json_decref(history[i].object);
        }
        memmove(history, &history[drop],
                (n_history - drop) * sizeof *history);
        n_history -= drop;
    }
}

/* Index of the first change after 'rv'. */
static size_t
history_after(uint64_t rv)
{
    size_t lo = 0, hi = n_history;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (history[mid].rv <= rv) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Forgets the whole history: every resourceVersion handed out so far
 * becomes too old. */
static void
history_expire(void)
{
    for (size_t i = 0; i < n_history; i++) {
        json_decref(history[i].object);
    }
    n_history = 0;
    compacted_rv = ++cur_rv;
    for (size_t i = 0; i < MAX_SNAPSHOTS; i++) {
        json_decref(snapshots[i].items);
        snapshots[i].items = NULL;
    }
}

/* Connections. */

static void conn_closed(struct evhttp_connection *, void *);
static void watch_destroy(struct watch *);

static struct conn *
conn_get(struct evhttp_request *req, bool control)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct conn *conn;

    LIST_FOREACH (conn, &conns, node) {
        if (conn->evcon == evcon) {
            return conn;
        }
    }
    conn = xcalloc(1, sizeof *conn);
    conn->evcon = evcon;
    conn->control = control;
    LIST_INSERT_HEAD(&conns, conn, node);
    evhttp_connection_set_closecb(evcon, conn_closed, conn);
    return conn;
}

/* Releases what 'conn' holds.  If libevent already detached its request
 * (the client went away during a response we had not finished), the
 * request is ours to free; otherwise libevent frees it with the
 * connection. */
static void
conn_release(struct conn *conn)
{
    struct evhttp_request *req = (conn->watch ? conn->watch->req
                                  : conn->held);

    if (conn->watch) {
        watch_destroy(conn->watch);
    }
    if (req && !evhttp_request_get_connection(req)) {
        evhttp_send_reply_end(req);
    }
    conn->held = NULL;
    LIST_REMOVE(conn, node);
    free(conn);
}

static void
conn_closed(struct evhttp_connection *evcon, void *conn_)
{
    conn_release(conn_);
}

/* Closes 'conn' from the reaper, outside of any libevent callback for
 * it. */
static void
conn_doom(struct conn *conn)
{
    conn->doomed = true;
    event_active(reaper, EV_TIMEOUT, 0);
}

static void
reap(evutil_socket_t fd, short what, void *arg)
{
    struct conn *conn, *next;

    LIST_FOREACH_SAFE (conn, &conns, node, next) {
        if (conn->doomed) {
            struct evhttp_connection *evcon = conn->evcon;
            evhttp_connection_set_closecb(evcon, NULL, NULL);
            if (conn->watch) {
                watch_destroy(conn->watch);
            }
            conn->held = NULL;
            LIST_REMOVE(conn, node);
            free(conn);
            evhttp_connection_free(evcon);
        }
    }
}

/* Replies. */

static void
reply_json(struct evhttp_request *req, int code, const char *reason,
           json_t *json)
{
    struct evbuffer *buf = evbuffer_new();
    char *text = json_dumps(json, JSON_COMPACT);

    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Content-Type", "application/json");
    evbuffer_add_printf(buf, "%s\n", text);
    evhttp_send_reply(req, code, reason, buf);
    evbuffer_free(buf);
    free(text);
    json_decref(json);
}

static json_t *
status_new(int code, const char *reason, const char *format, ...)
{
    va_list args;
    char *msg;

    va_start(args, format);
    if (vasprintf(&msg, format, args) < 0) {
        fatal("out of memory");
    }
    va_end(args);

    json_t *status = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}",
                               "kind", "Status", "apiVersion", "v1",
                               "metadata", "status", "Failure",
                               "message", msg, "reason", reason,
                               "code", code);
    free(msg);
    return status;
}

static const char *
http_reason(int code)
{
    switch (code) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    default: return "Error";
    }
}

static void
reply_status(struct evhttp_request *req, int code, const char *reason,
             const char *format, ...)
{
    va_list args;
    char *msg;

    va_start(args, format);
    if (vasprintf(&msg, format, args) < 0) {
        fatal("out of memory");
    }
    va_end(args);
    logmsg("  -> %d %s: %s", code, reason, msg);
    reply_json(req, code, http_reason(code),
               status_new(code, reason, "%s", msg));
    free(msg);
}

/* Half of 'text' in a chunked response, then the connection is closed. */
static void
truncated_written(struct evhttp_connection *evcon, void *conn)
{
    conn_doom(conn);
}

static void
send_truncated(struct evhttp_request *req, struct conn *conn,
               const char *text, bool started)
{
    struct evbuffer *buf = evbuffer_new();

    if (!started) {
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Content-Type", "application/json");
        evhttp_send_reply_start(req, 200, "OK");
    }
    evbuffer_add(buf, text, strlen(text) / 2);
    evhttp_send_reply_chunk_with_cb(req, buf, truncated_written, conn);
    evbuffer_free(buf);
}

/* Objects in the store. */

static void
notify_watches(void);

static char *
now_string(void)
{
    char s[32];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return xasprintf("%s", s);
}

/* Stores 'body' (taking its reference) as a new version of the object,
 * which has 'res''s kind.  'old' is the version it replaces, or NULL.
 * 'body' itself may lose its kind and apiVersion. */
static void
store_put(int res, const char *key, json_t *body, json_t *old)
{
    /* kind and apiVersion first, as a real server writes them. */
    json_t *obj = json_pack("{s:s, s:s}", "kind", resources[res].kind,
                            "apiVersion", resources[res].api_version);
    json_object_del(body, "kind");
    json_object_del(body, "apiVersion");
    json_object_update(obj, body);
    json_decref(body);

    json_t *meta = json_object_get(obj, "metadata");
    char *rv = rv_string(++cur_rv);
    json_object_set_new(meta, "resourceVersion", json_pack("s", rv));
    free(rv);

    const char *old_uid = old ? obj_meta_string(old, "uid") : NULL;
    if (old_uid) {
        json_object_set_new(meta, "uid", json_pack("s", old_uid));
    } else if (!obj_meta_string(obj, "uid")) {
        char *uid = xasprintf("f4ce0000-0000-4000-8000-%012llx",
                              ++uid_seq);
        json_object_set_new(meta, "uid", json_pack("s", uid));
        free(uid);
    }
    const char *old_ts = old ? obj_meta_string(old, "creationTimestamp")
                             : NULL;
    if (old_ts) {
        json_object_set_new(meta, "creationTimestamp",
                            json_pack("s", old_ts));
    } else if (!obj_meta_string(obj, "creationTimestamp")) {
        char *ts = now_string();
        json_object_set_new(meta, "creationTimestamp", json_pack("s", ts));
        free(ts);
    }

    json_object_set(stores[res].objects, key, obj);
    stores[res].writes++;
    history_add(res, old ? "MODIFIED" : "ADDED", obj);
    json_decref(obj);
}

/* A new reference to the stored object 'key' of 'res'. */
static json_t *
stored(int res, const char *key)
{
    return json_incref(json_object_get(stores[res].objects, key));
}

/* Deletes the object 'key' of 'res'.  Returns the deleted version (a new
 * reference), or NULL if there is none. */
static json_t *
store_delete(int res, const char *key)
{
    json_t *old = json_object_get(stores[res].objects, key);

    if (!old) {
        return NULL;
    }
    json_t *obj = json_deep_copy(old);
    char *rv = rv_string(++cur_rv);
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion",
                        json_pack("s", rv));
    free(rv);
    json_object_del(stores[res].objects, key);
    stores[res].writes++;
    history_add(res, "DELETED", obj);

    /* A namespace takes its objects along. */
    if (res == RES_NAMESPACES) {
        const char *ns = obj_meta_string(obj, "name");
        for (size_t r = 0; r < N_RESOURCES; r++) {
            const char *k;
            json_t *v, *keys = json_pack("[]");

            if (!resources[r].namespaced) {
                continue;
            }
            json_object_foreach (stores[r].objects, k, v) {
                const char *ons = obj_meta_string(v, "namespace");
                if (ons && !strcmp(ons, ns)) {
                    json_array_append_new(keys, json_pack("s", k));
                }
            }
            size_t i;
            json_t *kj;
            json_array_foreach (keys, i, kj) {
                json_decref(store_delete(r, json_string_value(kj)));
            }
            json_decref(keys);
        }
    }
    return obj;
}

/* Checks 'obj' and fills in its namespace ('ns', from the request path,
 * may be NULL).  Returns an error message or NULL. */
static char *
obj_prepare(int res, json_t *obj, const char *ns, const char *name)
{
    const struct resource *r = &resources[res];

    if (!json_is_object(obj)) {
        return xasprintf("the body is not a JSON object");
    }
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind && strcmp(kind, r->kind)) {
        return xasprintf("kind %s sent to %s", kind, r->plural);
    }
    json_t *meta = json_object_get(obj, "metadata");
    if (!meta) {
        meta = json_pack("{}");
        json_object_set_new(obj, "metadata", meta);
    } else if (!json_is_object(meta)) {
        return xasprintf("metadata is not an object");
    }

    const char *oname = obj_meta_string(obj, "name");
    if (!oname) {
        const char *gen = obj_meta_string(obj, "generateName");
        if (gen && !name) {
            char *n = xasprintf("%s%05lx", gen, random() & 0xfffff);
            json_object_set_new(meta, "name", json_pack("s", n));
            free(n);
        } else if (name) {
            json_object_set_new(meta, "name", json_pack("s", name));
        } else {
            return xasprintf("metadata.name: Required value");
        }
    } else if (name && strcmp(oname, name)) {
        return xasprintf("the name of the object (%s) does not match the "
                         "name on the URL (%s)", oname, name);
    }

    const char *ons = obj_meta_string(obj, "namespace");
    if (r->namespaced) {
        if (ns && ons && strcmp(ns, ons)) {
            return xasprintf("the namespace of the provided object does "
                             "not match the namespace sent on the request");
        }
        if (!ons) {
            json_object_set_new(meta, "namespace",
                                json_pack("s", ns ? ns : "default"));
        }
    } else if (ons) {
        json_object_del(meta, "namespace");
    }
    return NULL;
}

/* RFC 7386 JSON merge patch of 'patch' into 'target'. */
static void
merge_patch(json_t *target, json_t *patch)
{
    const char *k;
    json_t *v;

    json_object_foreach (patch, k, v) {
        if (json_is_null(v)) {
            json_object_del(target, k);
        } else if (json_is_object(v)) {
            json_t *t = json_object_get(target, k);
            if (!json_is_object(t)) {
                t = json_pack("{}");
                json_object_set_new(target, k, t);
            }
            merge_patch(t, v);
        } else {
            json_object_set(target, k, v);
        }
    }
}

/* Finds the resource of 'kind' (and 'api_version', if nonnull). */
static int
resource_by_kind(const char *kind, const char *api_version)
{
    for (size_t i = 0; i < N_RESOURCES; i++) {
        if (kind && !strcmp(resources[i].kind, kind)
            && (!api_version
                || !strcmp(resources[i].api_version, api_version))) {
            return i;
        }
    }
    return -1;
}

/* Creates or replaces 'obj' (taking its reference), by its kind; for
 * --load.  Returns an error message or NULL. */
static char *
store_apply(json_t *obj)
{
    int res = resource_by_kind(
        json_string_value(json_object_get(obj, "kind")),
        json_string_value(json_object_get(obj, "apiVersion")));
    if (res < 0) {
        json_decref(obj);
        return xasprintf("unknown kind");
    }
    char *error = obj_prepare(res, obj, NULL, NULL);
    if (error) {
        json_decref(obj);
        return error;
    }
    char *key = obj_key(res, obj_meta_string(obj, "namespace"),
                        obj_meta_string(obj, "name"));
    store_put(res, key, obj, json_object_get(stores[res].objects, key));
    free(key);
    return NULL;
}

/* The objects of 'json': an object, a list with items, or an array.
 * Returns a new array. */
static json_t *
objects_of(json_t *json)
{
    json_t *items = json_object_get(json, "items");

    if (json_is_array(json)) {
        return json_incref(json);
    } else if (json_is_array(items)) {
        return json_incref(items);
    }
    json_t *array = json_pack("[]");
    json_array_append(array, json);
    return array;
}

static void
load_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);

    if (n < 0) {
        fatal("%s: %s", dir, strerror(errno));
    }
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);

        if (name[0] != '.' && len > 5 && !strcmp(name + len - 5, ".json")) {
            char *path = xasprintf("%s/%s", dir, name);
            json_error_t jerr;
            json_t *json = json_load_file(path, 0, &jerr);
            if (!json) {
                fatal("%s:%d: %s", path, jerr.line, jerr.text);
            }
            json_t *objs = objects_of(json);
            size_t j;
            json_t *obj;
            json_array_foreach (objs, j, obj) {
                char *error = store_apply(json_deep_copy(obj));
                if (error) {
                    fatal("%s: object %zu: %s", path, j, error);
                }
            }
            json_decref(objs);
            json_decref(json);
            free(path);
        }
        free(names[i]);
    }
    free(names);
}

/* Watches. */

static void
watch_destroy(struct watch *w)
{
    LIST_REMOVE(w, node);
    n_watches--;
    if (w->timeout) {
        event_free(w->timeout);
    }
    w->conn->watch = NULL;
    free(w->ns);
    fields_free(w->fields, w->n_fields);
    free(w);
}

/* Sends 'buf' (emptying it) on 'w'. */
static void
watch_send(struct watch *w, struct evbuffer *buf)
{
    if (!evhttp_request_get_connection(w->req)
        || !evbuffer_get_length(buf)) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        return;
    }
    if (fault == FAULT_FRAGMENT) {
        struct evbuffer *piece = evbuffer_new();
        while (evbuffer_get_length(buf)) {
            evbuffer_remove_buffer(buf, piece, 1 + random() % 13);
            evhttp_send_reply_chunk(w->req, piece);
        }
        evbuffer_free(piece);
    } else {
        evhttp_send_reply_chunk(w->req, buf);
    }
}

static void
add_event_line(struct evbuffer *buf, const char *type, json_t *object)
{
    json_t *event = json_pack("{s:s, s:O}", "type", type, "object", object);
    char *text = json_dumps(event, JSON_COMPACT);

    evbuffer_add_printf(buf, "%s\n", text);
    free(text);
    json_decref(event);
}

/* Ends 'w': the chunked response ends as on a timeout, and the connection
 * stays open for the next request. */
static void
watch_end(struct watch *w)
{
    struct evhttp_request *req = w->req;

    watch_destroy(w);
    evhttp_send_reply_end(req);
}

/* Sends an ERROR event with a 410 Expired Status on 'w' and ends it. */
static void
watch_gone(struct watch *w)
{
    struct evbuffer *buf = evbuffer_new();
    char *rv = rv_string(w->rv);
    json_t *status = status_new(410, "Expired",
                                "too old resource version: %s (%"PRIu64")",
                                rv, compacted_rv);

    n_gone++;
    logmsg("  watch %s from %s: ERROR 410", resources[w->res].plural, rv);
    add_event_line(buf, "ERROR", status);
    watch_send(w, buf);
    evbuffer_free(buf);
    json_decref(status);
    free(rv);
    watch_end(w);
}

/* Sends 'w' every change it has not seen.  Returns false if 'w' ended. */
static bool
watch_pump(struct watch *w)
{
    if (fault == FAULT_STALL || w->conn->doomed) {
        return true;
    }
    if (w->rv < compacted_rv) {
        watch_gone(w);
        return false;
    }

    struct evbuffer *buf = evbuffer_new();
    for (size_t i = history_after(w->rv); i < n_history; i++) {
        const struct change *c = &history[i];
        if (c->res == w->res
            && obj_matches(c->object, w->ns, w->fields, w->n_fields)) {
            add_event_line(buf, c->type, c->object);
        }
    }
    w->rv = cur_rv;
    watch_send(w, buf);
    evbuffer_free(buf);
    return true;
}

static void
notify_watches(void)
{
    struct watch *w, *next;

    LIST_FOREACH_SAFE (w, &watches, node, next) {
        watch_pump(w);
    }
}

static void
bookmark_tick(evutil_socket_t fd, short what, void *arg)
{
    struct watch *w, *next;

    LIST_FOREACH_SAFE (w, &watches, node, next) {
        if (w->bookmarks && fault != FAULT_STALL && watch_pump(w)) {
            struct evbuffer *buf = evbuffer_new();
            char *rv = rv_string(w->rv);
            json_t *bm = json_pack("{s:s, s:s, s:{s:s}}",
                                   "kind", resources[w->res].kind,
                                   "apiVersion",
                                   resources[w->res].api_version,
                                   "metadata", "resourceVersion", rv);
            add_event_line(buf, "BOOKMARK", bm);
            watch_send(w, buf);
            evbuffer_free(buf);
            json_decref(bm);
            free(rv);
        }
    }
}

static void
watch_timeout(evutil_socket_t fd, short what, void *w_)
{
    struct watch *w = w_;

    logmsg("  watch %s ends (timeout)", resources[w->res].plural);
    watch_end(w);
}

static void
garbage_lines(struct evbuffer *buf)
{
    evbuffer_add_printf(buf, "{\"type\":\"MODIFIED\",\"object\":{\"meta\n"
                        "this is not JSON }{\n");
}

static const char truncated_event[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
    "\"metadata\":{\"name\":\"truncated\",\"namespace\":\"default\"}}}\n";

static void
handle_watch(struct evhttp_request *req, struct conn *conn, int res,
             const char *ns, struct evkeyvalq *query)
{
    const char *rvs = evhttp_find_header(query, "resourceVersion");
    const char *bm = evhttp_find_header(query, "allowWatchBookmarks");
    const char *ts = evhttp_find_header(query, "timeoutSeconds");
    uint64_t rv = 0;
    bool initial = !rvs || !*rvs || !strcmp(rvs, "0");

    if (!initial && !rv_parse(rvs, &rv)) {
        reply_status(req, 400, "BadRequest",
                     "invalid resource version \"%s\"", rvs);
        return;
    }
    if (!initial && rv < compacted_rv && expire_as_http) {
        n_gone++;
        reply_status(req, 410, "Expired",
                     "too old resource version: %s (%"PRIu64")",
                     rvs, compacted_rv);
        return;
    }

    struct field_req *fields;
    size_t n_fields;
    if (!fields_parse(evhttp_find_header(query, "fieldSelector"),
                      &fields, &n_fields)) {
        reply_status(req, 400, "BadRequest", "invalid fieldSelector");
        return;
    }

    stores[res].watches++;
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Content-Type", "application/json");
    evhttp_send_reply_start(req, 200, "OK");
    if (fault == FAULT_TRUNCATE) {
        fields_free(fields, n_fields);
        send_truncated(req, conn, truncated_event, true);
        return;
    }

    struct watch *w = xcalloc(1, sizeof *w);
    w->conn = conn;
    w->req = req;
    w->res = res;
    w->ns = ns ? xasprintf("%s", ns) : NULL;
    w->fields = fields;
    w->n_fields = n_fields;
    w->bookmarks = bm && (!strcmp(bm, "true") || !strcmp(bm, "1"));
    w->rv = initial ? cur_rv : rv;
    conn->watch = w;
    LIST_INSERT_HEAD(&watches, w, node);
    n_watches++;

    struct evbuffer *buf = evbuffer_new();
    if (fault == FAULT_GARBAGE) {
        garbage_lines(buf);
    }
    if (initial) {
        const char *k;
        json_t *v;
        json_object_foreach (stores[res].objects, k, v) {
            if (obj_matches(v, w->ns, w->fields, w->n_fields)) {
                add_event_line(buf, "ADDED", v);
            }
        }
    }
    watch_send(w, buf);
    evbuffer_free(buf);

    double timeout = ts ? atof(ts) : opt_watch_timeout;
    if (fault == FAULT_DROP_WATCHES) {
        timeout = 0.1;
    }
    if (timeout > 0) {
        struct timeval tv = {
            .tv_sec = (long) timeout,
            .tv_usec = (long) ((timeout - (long) timeout) * 1e6),
        };
        w->timeout = evtimer_new(base, watch_timeout, w);
        evtimer_add(w->timeout, &tv);
    }
    watch_pump(w);
}

/* Lists. */

static int
compare_keys(const void *a_, const void *b_)
{
    const char *const *a = a_, *const *b = b_;
    return strcmp(*a, *b);
}

static struct snapshot *
snapshot_find(const char *token, size_t *offsetp)
{
    unsigned int id;
    size_t offset;
    time_t now = time(NULL);

    if (sscanf(token, "fake-%u-%zu", &id, &offset) != 2) {
        return NULL;
    }
    for (size_t i = 0; i < MAX_SNAPSHOTS; i++) {
        struct snapshot *s = &snapshots[i];
        if (s->items && s->id == id) {
            if (now - s->created > opt_continue_ttl) {
                return NULL;
            }
            *offsetp = offset;
            return s;
        }
    }
    return NULL;
}

static struct snapshot *
snapshot_new(int res, json_t *items)
{
    struct snapshot *s = &snapshots[snapshot_seq % MAX_SNAPSHOTS];

    json_decref(s->items);
    s->id = ++snapshot_seq;
    s->created = time(NULL);
    s->rv = cur_rv;
    s->res = res;
    s->items = items;
    return s;
}

static void
handle_list(struct evhttp_request *req, struct conn *conn, int res,
            const char *ns, struct evkeyvalq *query)
{
    const struct resource *r = &resources[res];
    const char *cont = evhttp_find_header(query, "continue");
    const char *limits = evhttp_find_header(query, "limit");
    long limit = limits ? atol(limits) : 0;
    struct snapshot *snap;
    size_t offset = 0;

    stores[res].lists++;
    if (cont && *cont) {
        snap = snapshot_find(cont, &offset);
        if (!snap || snap->res != res) {
            n_gone++;
            reply_status(req, 410, "Expired",
                         "The provided continue parameter is too old to "
                         "display a consistent list result. You can start "
                         "a new list without the continue parameter.");
            return;
        }
    } else {
        struct field_req *fields;
        size_t n_fields;
        if (!fields_parse(evhttp_find_header(query, "fieldSelector"),
                          &fields, &n_fields)) {
            reply_status(req, 400, "BadRequest", "invalid fieldSelector");
            return;
        }

        size_t n = json_object_size(stores[res].objects), i = 0;
        const char **keys = xcalloc(n + 1, sizeof *keys);
        const char *k;
        json_t *v;
        json_object_foreach (stores[res].objects, k, v) {
            keys[i++] = k;
        }
        qsort(keys, n, sizeof *keys, compare_keys);

        json_t *items = json_pack("[]");
        for (i = 0; i < n; i++) {
            v = json_object_get(stores[res].objects, keys[i]);
            if (obj_matches(v, ns, fields, n_fields)) {
                json_array_append_new(items, obj_strip(v));
            }
        }
        free(keys);
        fields_free(fields, n_fields);
        snap = snapshot_new(res, items);
    }

    size_t total = json_array_size(snap->items);
    size_t end = (limit > 0 && offset + limit < total
                  ? offset + limit : total);
    json_t *page = json_pack("[]");
    for (size_t i = offset; i < end; i++) {
        json_array_append(page, json_array_get(snap->items, i));
    }

    char *rv = rv_string(snap->rv);
    char *kind = xasprintf("%sList", r->kind);
    json_t *list = json_pack("{s:s, s:s, s:{s:s}, s:o}",
                             "kind", kind, "apiVersion", r->api_version,
                             "metadata", "resourceVersion", rv,
                             "items", page);
    if (end < total) {
        char *token = xasprintf("fake-%u-%zu", snap->id, end);
        json_t *meta = json_object_get(list, "metadata");
        json_object_set_new(meta, "continue", json_pack("s", token));
        json_object_set_new(meta, "remainingItemCount",
                            json_pack("I", (json_int_t) (total - end)));
        free(token);
    }
    free(rv);
    free(kind);

    if (fault == FAULT_GARBAGE) {
        struct evbuffer *buf = evbuffer_new();
        evbuffer_add_printf(buf, "{\"kind\":\"%sList\",\"items\":[{\"meta"
                            "\n<html>garbage</html>\n", r->kind);
        evhttp_send_reply(req, 200, "OK", buf);
        evbuffer_free(buf);
        json_decref(list);
    } else if (fault == FAULT_TRUNCATE) {
        char *text = json_dumps(list, JSON_COMPACT);
        send_truncated(req, conn, text, false);
        free(text);
        json_decref(list);
    } else {
        reply_json(req, 200, "OK", list);
    }
}

/* Requests. */

/* Parsed request path. */
struct api_path {
    int res;
    char *ns;                   /* NULL if none in the path. */
    char *name;                 /* NULL for the collection. */
};

static bool
api_path_parse(const char *path, struct api_path *p)
{
    p->res = -1;
    p->ns = p->name = NULL;
    for (size_t i = 0; i < N_RESOURCES; i++) {
        const struct resource *r = &resources[i];
        size_t plen = strlen(r->prefix);
        if (strncmp(path, r->prefix, plen) || path[plen] != '/') {
            continue;
        }

        char *copy = xasprintf("%s", path + plen + 1), *save = NULL;
        char *segs[5];
        size_t n = 0;
        for (char *tok = strtok_r(copy, "/", &save); tok && n < 5;
             tok = strtok_r(NULL, "/", &save)) {
            segs[n++] = tok;
        }
        const char *plural, *ns = NULL, *name = NULL;
        if (n >= 3 && !strcmp(segs[0], "namespaces")) {
            ns = segs[1];
            plural = segs[2];
            name = n >= 4 ? segs[3] : NULL;
        } else if (n >= 1) {
            plural = segs[0];
            name = n >= 2 ? segs[1] : NULL;
        } else {
            free(copy);
            return false;
        }
        for (size_t j = 0; j < N_RESOURCES; j++) {
            if (!strcmp(resources[j].prefix, r->prefix)
                && !strcmp(resources[j].plural, plural)
                && (!ns || resources[j].namespaced)) {
                p->res = j;
                p->ns = ns ? xasprintf("%s", ns) : NULL;
                p->name = name ? xasprintf("%s", name) : NULL;
                break;
            }
        }
        free(copy);
        return p->res >= 0;
    }
    return false;
}

static json_t *
request_body(struct evhttp_request *req, char **errorp)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_error_t jerr;
    json_t *json = json_loadb((const char *) evbuffer_pullup(in, -1), len,
                              0, &jerr);

    *errorp = json ? NULL : xasprintf("body: line %d: %s", jerr.line,
                                      jerr.text);
    return json;
}

static bool
authorized(struct evhttp_request *req)
{
    if (!opt_token_file) {
        return true;
    }

    char token[4096];
    FILE *f = fopen(opt_token_file, "r");
    size_t n = f ? fread(token, 1, sizeof token - 1, f) : 0;
    if (f) {
        fclose(f);
    }
    token[n] = '\0';
    while (n > 0 && isspace((unsigned char) token[n - 1])) {
        token[--n] = '\0';
    }

    const char *auth = evhttp_find_header(
        evhttp_request_get_input_headers(req), "Authorization");
    return (n > 0 && auth && !strncmp(auth, "Bearer ", 7)
            && !strcmp(auth + 7, token));
}

static void
handle_object(struct evhttp_request *req, enum evhttp_cmd_type method,
              const struct api_path *p)
{
    const struct resource *r = &resources[p->res];
    char *key = obj_key(p->res, p->ns, p->name);
    json_t *old = json_object_get(stores[p->res].objects, key);
    json_t *body = NULL;
    char *error = NULL;

    if (r->namespaced && !p->ns) {
        reply_status(req, 404, "NotFound", "the server could not find the "
                     "requested resource");
        goto out;
    }
    if (method == EVHTTP_REQ_PUT || method == EVHTTP_REQ_PATCH) {
        body = request_body(req, &error);
        if (!body || !json_is_object(body)) {
            reply_status(req, 400, "BadRequest", "%s",
                         error ? error : "the body is not an object");
            goto out;
        }
    }

    switch (method) {
    case EVHTTP_REQ_GET:
        if (old) {
            reply_json(req, 200, "OK", json_incref(old));
            goto out;
        }
        break;

    case EVHTTP_REQ_DELETE: {
        json_t *obj = store_delete(p->res, key);
        if (obj) {
            notify_watches();
            reply_json(req, 200, "OK", obj);
            goto out;
        }
        break;
    }

    case EVHTTP_REQ_PATCH:
        if (old) {
            json_t *obj = json_deep_copy(old);
            merge_patch(obj, body);
            error = obj_prepare(p->res, obj, p->ns, p->name);
            if (error) {
                json_decref(obj);
                reply_status(req, 400, "BadRequest", "%s", error);
                goto out;
            }
            store_put(p->res, key, obj, old);
            notify_watches();
            reply_json(req, 200, "OK", stored(p->res, key));
            goto out;
        }
        break;

    case EVHTTP_REQ_PUT: {
        const char *brv = obj_meta_string(body, "resourceVersion");
        const char *orv = old ? obj_meta_string(old, "resourceVersion")
                              : NULL;
        if (brv && *brv && orv && strcmp(brv, orv)) {
            reply_status(req, 409, "Conflict", "Operation cannot be "
                         "fulfilled on %s \"%s\": the object has been "
                         "modified", r->plural, p->name);
            goto out;
        }
        error = obj_prepare(p->res, body, p->ns, p->name);
        if (error) {
            reply_status(req, 400, "BadRequest", "%s", error);
            goto out;
        }
        bool created = !old;
        store_put(p->res, key, json_incref(body), old);
        notify_watches();
        reply_json(req, created ? 201 : 200, created ? "Created" : "OK",
                   stored(p->res, key));
        goto out;
    }

    default:
        reply_status(req, 405, "MethodNotAllowed", "method not allowed");
        goto out;
    }
    reply_status(req, 404, "NotFound", "%s \"%s\" not found", r->plural,
                 p->name);

out:
    json_decref(body);
    free(error);
    free(key);
}

static void
handle_create(struct evhttp_request *req, const struct api_path *p)
{
    char *error;
    json_t *body = request_body(req, &error);

    if (!body) {
        reply_status(req, 400, "BadRequest", "%s", error);
        free(error);
        return;
    }
    error = obj_prepare(p->res, body, p->ns, NULL);
    if (error) {
        reply_status(req, 400, "BadRequest", "%s", error);
        free(error);
        json_decref(body);
        return;
    }
    char *key = obj_key(p->res, obj_meta_string(body, "namespace"),
                        obj_meta_string(body, "name"));
    if (json_object_get(stores[p->res].objects, key)) {
        reply_status(req, 409, "AlreadyExists", "%s \"%s\" already exists",
                     resources[p->res].plural,
                     obj_meta_string(body, "name"));
        json_decref(body);
    } else {
        store_put(p->res, key, body, NULL);
        notify_watches();
        reply_json(req, 201, "Created", stored(p->res, key));
    }
    free(key);
}

static bool
query_true(struct evkeyvalq *query, const char *key)
{
    const char *v = evhttp_find_header(query, key);
    return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

static void
handle_api(struct evhttp_request *req, struct conn *conn, const char *path,
           struct evkeyvalq *query)
{
    enum evhttp_cmd_type method = evhttp_request_get_command(req);

    if (!strcmp(path, "/healthz") || !strcmp(path, "/readyz")
        || !strcmp(path, "/livez")) {
        struct evbuffer *buf = evbuffer_new();
        evbuffer_add_printf(buf, "ok");
        evhttp_send_reply(req, 200, "OK", buf);
        evbuffer_free(buf);
        return;
    } else if (!strcmp(path, "/version")) {
        reply_json(req, 200, "OK",
                   json_pack("{s:s, s:s, s:s}", "major", "1",
                             "minor", "29", "gitVersion", "v1.29.0-fake"));
        return;
    }

    struct api_path p;
    if (!api_path_parse(path, &p)) {
        reply_status(req, 404, "NotFound",
                     "the server could not find the requested resource");
        return;
    }
    if (p.name) {
        handle_object(req, method, &p);
    } else if (method == EVHTTP_REQ_GET && (query_true(query, "watch"))) {
        handle_watch(req, conn, p.res, p.ns, query);
    } else if (method == EVHTTP_REQ_GET) {
        handle_list(req, conn, p.res, p.ns, query);
    } else if (method == EVHTTP_REQ_POST) {
        handle_create(req, &p);
    } else {
        reply_status(req, 405, "MethodNotAllowed", "method not allowed");
    }
    free(p.ns);
    free(p.name);
}

/* Control interface. */

static void listen_now(void);

static void
go_down(evutil_socket_t fd, short what, void *seconds_)
{
    struct timeval tv = { .tv_sec = (intptr_t) seconds_ };
    struct conn *conn;

    if (listener) {
        evhttp_del_accept_socket(http, listener);
        listener = NULL;
    }
    LIST_FOREACH (conn, &conns, node) {
        if (!conn->control) {
            conn_doom(conn);
        }
    }
    reap(-1, 0, NULL);
    fprintf(stderr, "fake-apiserver: down for %ld s\n", (long) tv.tv_sec);
    evtimer_add(up_timer, &tv);
}

static void
come_up(evutil_socket_t fd, short what, void *arg)
{
    listen_now();
    fprintf(stderr, "fake-apiserver: up again\n");
}

static json_t *
state_json(void)
{
    json_t *res = json_pack("{}");

    for (size_t i = 0; i < N_RESOURCES; i++) {
        const struct resource *r = &resources[i];
        char *name = (strchr(r->api_version, '/')
                      ? xasprintf("%s.%.*s", r->plural,
                                  (int) strcspn(r->api_version, "/"),
                                  r->api_version)
                      : xasprintf("%s", r->plural));
        json_object_set_new(
            res, name,
            json_pack("{s:I, s:I, s:I, s:I}",
                      "objects",
                      (json_int_t) json_object_size(stores[i].objects),
                      "lists", (json_int_t) stores[i].lists,
                      "watches", (json_int_t) stores[i].watches,
                      "writes", (json_int_t) stores[i].writes));
        free(name);
    }

    char *rv = rv_string(cur_rv), *crv = rv_string(compacted_rv);
    json_t *state = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o}",
        "resourceVersion", rv, "compactedResourceVersion", crv,
        "fault", fault_names[fault], "watchesOpen", (json_int_t) n_watches,
        "requests", (json_int_t) n_requests,
        "unauthorized", (json_int_t) n_unauthorized,
        "gone", (json_int_t) n_gone, "resources", res);
    free(rv);
    free(crv);
    return state;
}

static void
set_fault(enum fault new)
{
    struct conn *conn;

    if (fault == FAULT_STALL && new != FAULT_STALL) {
        LIST_FOREACH (conn, &conns, node) {
            if (conn->held) {
                conn_doom(conn);
            }
        }
    }
    fault = new;
    if (new == FAULT_NONE) {
        fault_count = -1;
    }
    notify_watches();
}

static void
handle_fake(struct evhttp_request *req, const char *path,
            struct evkeyvalq *query)
{
    const char *arg;
    struct watch *w, *next;

    if (!strcmp(path, "/fake/state")) {
        reply_json(req, 200, "OK", state_json());
        return;
    } else if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        reply_status(req, 405, "MethodNotAllowed", "POST only");
        return;
    }

    if (!strcmp(path, "/fake/fault")) {
        arg = evhttp_find_header(query, "mode");
        size_t i;
        for (i = 0; i < N_FAULTS; i++) {
            if (arg && !strcmp(arg, fault_names[i])) {
                break;
            }
        }
        if (i == N_FAULTS) {
            reply_status(req, 400, "BadRequest", "unknown mode");
            return;
        }
        arg = evhttp_find_header(query, "count");
        fault_count = arg ? atol(arg) : -1;
        arg = evhttp_find_header(query, "retry");
        fault_retry = arg ? atoi(arg) : 1;
        set_fault(i);
    } else if (!strcmp(path, "/fake/drop-watches")) {
        arg = evhttp_find_header(query, "how");
        bool reset = arg && !strcmp(arg, "reset");
        LIST_FOREACH_SAFE (w, &watches, node, next) {
            if (reset) {
                conn_doom(w->conn);
            } else {
                watch_end(w);
            }
        }
    } else if (!strcmp(path, "/fake/expire")) {
        arg = evhttp_find_header(query, "as");
        expire_as_http = arg && !strcmp(arg, "http");
        if (expire_as_http) {
            LIST_FOREACH_SAFE (w, &watches, node, next) {
                watch_end(w);
            }
        }
        history_expire();
        notify_watches();
    } else if (!strcmp(path, "/fake/inject")) {
        arg = evhttp_find_header(query, "what");
        bool truncate = arg && !strcmp(arg, "truncate");
        if (!truncate && (!arg || strcmp(arg, "garbage"))) {
            reply_status(req, 400, "BadRequest", "unknown what");
            return;
        }
        LIST_FOREACH_SAFE (w, &watches, node, next) {
            if (truncate) {
                struct evhttp_request *wreq = w->req;
                struct conn *conn = w->conn;
                watch_destroy(w);
                send_truncated(wreq, conn, truncated_event, true);
            } else {
                struct evbuffer *buf = evbuffer_new();
                garbage_lines(buf);
                watch_send(w, buf);
                evbuffer_free(buf);
            }
        }
    } else if (!strcmp(path, "/fake/down")) {
        arg = evhttp_find_header(query, "seconds");
        intptr_t seconds = arg ? atoi(arg) : 10;
        struct timeval tv = { .tv_usec = 100 * 1000 };
        event_base_once(base, -1, EV_TIMEOUT, go_down, (void *) seconds,
                        &tv);
    } else if (!strcmp(path, "/fake/churn")) {
        const char *ns = evhttp_find_header(query, "namespace");
        const char *name = evhttp_find_header(query, "name");
        arg = evhttp_find_header(query, "count");
        long count = arg ? atol(arg) : 0;
        char *key = obj_key(RES_PODS, ns, name ? name : "");
        json_t *pod = json_incref(json_object_get(stores[RES_PODS].objects,
                                                  key));
        if (!pod) {
            free(key);
            reply_status(req, 404, "NotFound", "no pod to churn");
            return;
        }
        for (long i = 0; i < count; i++) {
            if (i % 2) {
                store_put(RES_PODS, key, json_deep_copy(pod), NULL);
            } else {
                json_decref(store_delete(RES_PODS, key));
            }
            if (i % 100 == 99) {
                notify_watches();
            }
        }
        /* An odd count leaves the pod deleted. */
        json_decref(pod);
        free(key);
        notify_watches();
    } else {
        reply_status(req, 404, "NotFound", "unknown control request");
        return;
    }
    reply_json(req, 200, "OK", state_json());
}

static const char *
method_name(enum evhttp_cmd_type type)
{
    switch (type) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    case EVHTTP_REQ_DELETE: return "DELETE";
    default: return "OTHER";
    }
}

/* Serves 'req'.  'control' is nonnull for the control listener, whose
 * requests see no fault and need no token. */
static void
handle_request(struct evhttp_request *req, void *control)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = evhttp_uri_get_path(uri);
    const char *q = evhttp_uri_get_query(uri);
    struct evkeyvalq query;
    struct conn *conn = conn_get(req, control != NULL);

    TAILQ_INIT(&query);
    if (q && evhttp_parse_query_str(q, &query)) {
        reply_status(req, 400, "BadRequest", "malformed query");
        return;
    }
    if (!path) {
        path = "/";
    }
    logmsg("%s %s", method_name(evhttp_request_get_command(req)),
           evhttp_request_get_uri(req));

    if (!strncmp(path, "/fake/", 6)) {
        handle_fake(req, path, &query);
        goto out;
    }

    if (control) {
        handle_api(req, conn, path, &query);
        goto out;
    }

    n_requests++;
    if (!authorized(req)) {
        n_unauthorized++;
        reply_status(req, 401, "Unauthorized", "Unauthorized");
        goto out;
    }

    enum fault f = fault;
    if (f != FAULT_NONE && fault_count > 0 && --fault_count == 0) {
        set_fault(FAULT_NONE);
    }
    switch (f) {
    case FAULT_HTTP_500:
        reply_status(req, 500, "InternalError", "fake internal error");
        goto out;
    case FAULT_HTTP_429: {
        char *retry = xasprintf("%d", fault_retry);
        json_t *status = status_new(429, "TooManyRequests",
                                    "fake: too many requests");
        json_object_set_new(status, "details",
                            json_pack("{s:i}", "retryAfterSeconds",
                                      fault_retry));
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Retry-After", retry);
        reply_json(req, 429, "Too Many Requests", status);
        free(retry);
        goto out;
    }
    case FAULT_STALL:
        conn->held = req;
        goto out;
    default:
        break;
    }
    handle_api(req, conn, path, &query);

out:
    evhttp_clear_headers(&query);
}

static int
bound_port(struct evhttp_bound_socket *bound)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *) &ss,
                &len);
    return ntohs(ss.ss_family == AF_INET6
                 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                 : ((struct sockaddr_in *) &ss)->sin_port);
}

static void
listen_now(void)
{
    listener = evhttp_bind_socket_with_handle(http, opt_address, opt_port);
    if (!listener) {
        fatal("cannot listen on %s:%d", opt_address, opt_port);
    }
    if (!opt_port) {
        opt_port = bound_port(listener);
    }
}

static void
write_port_file(const char *name, int port)
{
    char *tmp = xasprintf("%s.tmp", name);
    FILE *f = fopen(tmp, "w");

    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f)
        || rename(tmp, name)) {
        fatal("%s: %s", name, strerror(errno));
    }
    free(tmp);
}

static void
usage(void)
{
    printf("usage: fake-apiserver [--address=ADDR] [--port=N] "
           "[--port-file=FILE]\n"
           "                      [--control-port-file=FILE]\n"
           "                      [--token-file=FILE] [--load=DIR] "
           "[--history=N]\n"
           "                      [--bookmark-interval=MS] "
           "[--continue-ttl=S]\n"
           "                      [--watch-timeout=S] [-v]\n"
           "       fake-apiserver ctl [--server=HOST:PORT | "
           "--port-file=FILE]\n"
           "                      [--token-file=FILE] "
           "apply FILE | delete KIND NS NAME\n"
           "                      | request METHOD PATH [FILE]\n"
           "See the comment at the top of tests/fake-apiserver.c.\n");
}

static void
quit(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopbreak(base);
}

static int
serve(int argc, char *argv[])
{
    enum {
        OPT_ADDRESS = 256, OPT_PORT, OPT_PORT_FILE, OPT_CONTROL_PORT_FILE,
        OPT_TOKEN_FILE, OPT_LOAD,
        OPT_HISTORY, OPT_BOOKMARK, OPT_CONTINUE_TTL, OPT_WATCH_TIMEOUT,
    };
    static const struct option options[] = {
        { "address", required_argument, NULL, OPT_ADDRESS },
        { "port", required_argument, NULL, OPT_PORT },
        { "port-file", required_argument, NULL, OPT_PORT_FILE },
        { "control-port-file", required_argument, NULL,
          OPT_CONTROL_PORT_FILE },
        { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
        { "load", required_argument, NULL, OPT_LOAD },
        { "history", required_argument, NULL, OPT_HISTORY },
        { "bookmark-interval", required_argument, NULL, OPT_BOOKMARK },
        { "continue-ttl", required_argument, NULL, OPT_CONTINUE_TTL },
        { "watch-timeout", required_argument, NULL, OPT_WATCH_TIMEOUT },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };

    for (;;) {
        int c = getopt_long(argc, argv, "vh", options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_ADDRESS: opt_address = optarg; break;
        case OPT_PORT: opt_port = atoi(optarg); break;
        case OPT_PORT_FILE: opt_port_file = optarg; break;
        case OPT_CONTROL_PORT_FILE: opt_control_port_file = optarg; break;
        case OPT_TOKEN_FILE: opt_token_file = optarg; break;
        case OPT_LOAD: opt_load = optarg; break;
        case OPT_HISTORY: opt_history = strtoul(optarg, NULL, 10); break;
        case OPT_BOOKMARK: opt_bookmark_ms = atoi(optarg); break;
        case OPT_CONTINUE_TTL: opt_continue_ttl = atoi(optarg); break;
        case OPT_WATCH_TIMEOUT: opt_watch_timeout = atoi(optarg); break;
        case 'v': opt_verbose = true; break;
        case 'h': usage(); return 0;
        default: return 2;
        }
    }
    if (optind < argc) {
        fatal("unexpected argument %s", argv[optind]);
    }
    if (!opt_history) {
        opt_history = 1;
    }

    srandom(time(NULL) ^ getpid());
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < N_RESOURCES; i++) {
        stores[i].objects = json_pack("{}");
    }
    if (opt_load) {
        load_dir(opt_load);
    }

    base = event_base_new();
    http = evhttp_new(base);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST
                               | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH
                               | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_timeout(http, 24 * 3600);
    evhttp_set_gencb(http, handle_request, NULL);
    reaper = event_new(base, -1, 0, reap, NULL);
    up_timer = evtimer_new(base, come_up, NULL);
    if (opt_bookmark_ms > 0) {
        struct timeval tv = {
            .tv_sec = opt_bookmark_ms / 1000,
            .tv_usec = opt_bookmark_ms % 1000 * 1000,
        };
        bookmark_timer = event_new(base, -1, EV_PERSIST, bookmark_tick,
                                   NULL);
        evtimer_add(bookmark_timer, &tv);
    }
    struct event *sigterm = evsignal_new(base, SIGTERM, quit, NULL);
    struct event *sigint = evsignal_new(base, SIGINT, quit, NULL);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);

    if (opt_control_port_file) {
        control_http = evhttp_new(base);
        evhttp_set_allowed_methods(control_http, EVHTTP_REQ_GET
                                   | EVHTTP_REQ_POST | EVHTTP_REQ_PUT
                                   | EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE);
        evhttp_set_gencb(control_http, handle_request, control_http);
        struct evhttp_bound_socket *cs
            = evhttp_bind_socket_with_handle(control_http, opt_address, 0);
        if (!cs) {
            fatal("cannot listen on %s for control", opt_address);
        }
        write_port_file(opt_control_port_file, bound_port(cs));
    }
    listen_now();
    if (opt_port_file) {
        write_port_file(opt_port_file, opt_port);
    }
    printf("port %d\n", opt_port);
    fflush(stdout);
    fprintf(stderr, "fake-apiserver: listening on %s:%d\n", opt_address,
            opt_port);

    event_base_dispatch(base);

    /* Tidy exit, so that valgrind can tell leaks from what is in use. */
    struct conn *conn;
    LIST_FOREACH (conn, &conns, node) {
        conn->doomed = true;
    }
    reap(-1, 0, NULL);
    evhttp_free(http);
    if (control_http) {
        evhttp_free(control_http);
    }
    event_free(sigterm);
    event_free(sigint);
    event_free(reaper);
    event_free(up_timer);
    if (bookmark_timer) {
        event_free(bookmark_timer);
    }
    event_base_free(base);
    history_expire();
    free(history);
    for (size_t i = 0; i < N_RESOURCES; i++) {
        json_decref(stores[i].objects);
    }
    return 0;
}

/* ctl. */

struct reply {
    int code;
    char *body;
};

static void
ctl_done(struct evhttp_request *req, void *reply_)
{
    struct reply *reply = reply_;

    if (req) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        reply->code = evhttp_request_get_response_code(req);
        reply->body = xcalloc(1, len + 1);
        evbuffer_remove(in, reply->body, len);
    }
    event_base_loopbreak(base);
}

/* Sends one request and waits for the answer.  Returns the HTTP status
 * (0 if there was none) and stores the body in '*bodyp'. */
static int
ctl_request(struct evhttp_connection *evcon, const char *token,
            const char *method, const char *path, const char *body,
            char **bodyp)
{
    static const struct {
        const char *name;
        enum evhttp_cmd_type type;
    } methods[] = {
        { "GET", EVHTTP_REQ_GET }, { "POST", EVHTTP_REQ_POST },
        { "PUT", EVHTTP_REQ_PUT }, { "PATCH", EVHTTP_REQ_PATCH },
        { "DELETE", EVHTTP_REQ_DELETE },
    };
    struct reply reply = { 0, NULL };
    struct evhttp_request *req = evhttp_request_new(ctl_done, &reply);
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    enum evhttp_cmd_type type = EVHTTP_REQ_GET;

    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (!strcasecmp(method, methods[i].name)) {
            type = methods[i].type;
        }
    }
    evhttp_add_header(headers, "Host", "127.0.0.1");
    evhttp_add_header(headers, "Accept", "application/json");
    if (token) {
        char *auth = xasprintf("Bearer %s", token);
        evhttp_add_header(headers, "Authorization", auth);
        free(auth);
    }
    if (body) {
        evhttp_add_header(headers, "Content-Type",
                          (type == EVHTTP_REQ_PATCH
                           ? "application/merge-patch+json"
                           : "application/json"));
        evbuffer_add(evhttp_request_get_output_buffer(req), body,
                     strlen(body));
    }
    if (evhttp_make_request(evcon, req, type, path)) {
        return 0;
    }
    event_base_dispatch(base);
    *bodyp = reply.body ? reply.body : xasprintf("%s", "");
    return reply.code;
}

static char *
read_file(const char *name)
{
    FILE *f = fopen(name, "r");
    char *text = NULL;
    size_t size = 0;

    if (!f) {
        fatal("%s: %s", name, strerror(errno));
    }
    FILE *mem = open_memstream(&text, &size);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        fwrite(buf, 1, n, mem);
    }
    fclose(f);
    fclose(mem);
    return text;
}

/* The API path of 'obj' (its collection if 'collection'). */
static char *
object_path(const json_t *obj, int res)
{
    const struct resource *r = &resources[res];
    const char *ns = obj_meta_string(obj, "namespace");
    const char *name = obj_meta_string(obj, "name");

    if (!name) {
        return NULL;
    }
    return (r->namespaced
            ? xasprintf("%s/namespaces/%s/%s/%s", r->prefix,
                        ns ? ns : "default", r->plural, name)
            : xasprintf("%s/%s/%s", r->prefix, r->plural, name));
}

static int
ctl(int argc, char *argv[])
{
    const char *server = NULL, *port_file = NULL, *token_file = NULL;
    int i;

    for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strncmp(argv[i], "--server=", 9)) {
            server = argv[i] + 9;
        } else if (!strncmp(argv[i], "--port-file=", 12)) {
            port_file = argv[i] + 12;
        } else if (!strncmp(argv[i], "--token-file=", 13)) {
            token_file = argv[i] + 13;
        } else {
            fatal("unknown option %s", argv[i]);
        }
    }
    if (i >= argc) {
        usage();
        return 2;
    }

    char *host = xasprintf("%s", "127.0.0.1");
    int port = 0;
    if (server) {
        const char *colon = strrchr(server, ':');
        if (!colon) {
            fatal("--server=HOST:PORT");
        }
        free(host);
        host = xasprintf("%.*s", (int) (colon - server), server);
        port = atoi(colon + 1);
    } else if (port_file) {
        char *text = read_file(port_file);
        port = atoi(text);
        free(text);
    } else {
        fatal("--server or --port-file is required");
    }

    char *token = NULL;
    if (token_file) {
        token = read_file(token_file);
        token[strcspn(token, " \t\r\n")] = '\0';
    }

    base = event_base_new();
    struct evhttp_connection *evcon
        = evhttp_connection_base_new(base, NULL, host, port);
    evhttp_connection_set_timeout(evcon, 30);

    const char *cmd = argv[i++];
    int rc = 0;
    if (!strcmp(cmd, "apply") && i + 1 == argc) {
        /* One or more JSON texts, one after the other. */
        char *text = read_file(argv[i]);
        json_t *objs = json_pack("[]");
        for (size_t ofs = strspn(text, " \t\r\n"); text[ofs];
             ofs += strspn(text + ofs, " \t\r\n")) {
            json_error_t jerr;
            json_t *json = json_loadb(text + ofs, strlen(text + ofs),
                                      JSON_DISABLE_EOF_CHECK, &jerr);
            if (!json) {
                fatal("%s:%d: %s", argv[i], jerr.line, jerr.text);
            }
            json_t *some = objects_of(json);
            json_array_extend(objs, some);
            json_decref(some);
            json_decref(json);
            ofs += jerr.position;
        }
        size_t j;
        json_t *obj;
        json_array_foreach (objs, j, obj) {
            const char *kind = json_string_value(json_object_get(obj,
                                                                 "kind"));
            int res = resource_by_kind(
                kind, json_string_value(json_object_get(obj,
                                                        "apiVersion")));
            char *path = res >= 0 ? object_path(obj, res) : NULL;
            if (!path) {
                fatal("%s: object %zu: unknown kind or no name", argv[i], j);
            }
            json_t *copy = json_deep_copy(obj);
            json_object_del(json_object_get(copy, "metadata"),
                            "resourceVersion");
            char *body = json_dumps(copy, JSON_COMPACT), *answer;
            int code = ctl_request(evcon, token, "PUT", path, body,
                                   &answer);
            if (code < 200 || code > 299) {
                fprintf(stderr, "PUT %s: %d %s\n", path, code, answer);
                rc = 1;
            }
            free(answer);
            free(body);
            free(path);
            json_decref(copy);
        }
        json_decref(objs);
        free(text);
    } else if (!strcmp(cmd, "delete") && i + 3 == argc) {
        int res = resource_by_kind(argv[i], NULL);
        if (res < 0) {
            fatal("unknown kind %s", argv[i]);
        }
        json_t *obj = json_pack("{s:{s:s, s:s}}", "metadata",
                                "namespace", argv[i + 1],
                                "name", argv[i + 2]);
        char *path = object_path(obj, res), *answer;
        int code = ctl_request(evcon, token, "DELETE", path, NULL, &answer);
        if ((code < 200 || code > 299) && code != 404) {
            fprintf(stderr, "DELETE %s: %d %s\n", path, code, answer);
            rc = 1;
        }
        free(answer);
        free(path);
        json_decref(obj);
    } else if (!strcmp(cmd, "request") && (i + 2 == argc || i + 3 == argc)) {
        char *body = i + 3 == argc ? read_file(argv[i + 2]) : NULL;
        char *answer;
        int code = ctl_request(evcon, token, argv[i], argv[i + 1], body,
                               &answer);
        if (code >= 200 && code <= 299) {
            fputs(answer, stdout);
        } else {
            fprintf(stderr, "%s %s: %d %s\n", argv[i], argv[i + 1], code,
                    answer);
            rc = 1;
        }
        free(answer);
        free(body);
    } else {
        usage();
        rc = 2;
    }

    evhttp_connection_free(evcon);
    event_base_free(base);
    free(token);
    free(host);
    return rc;
}

int
main(int argc, char *argv[])
{
    if (argc > 1 && !strcmp(argv[1], "ctl")) {
        return ctl(argc - 1, argv + 1);
    }
    return serve(argc, argv);
}
