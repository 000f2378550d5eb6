/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "lib/k8s-parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "lib/label-selector.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "smap.h"
#include "util.h"

/* Limits on what a document may contain.  Kubernetes objects are shallow;
 * anything deeper than this is not one. */
#define K8S_YAML_MAX_DEPTH 128

/* At most this many validation errors are spelled out per object. */
#define K8S_MAX_ERRORS 8

/* ---------------------------------------------------------------------- */
/* Decoding text into JSON. */

struct k8s_yaml_frame {
    json_t *container;          /* Object or array; owned by its parent. */
    char *key;                  /* Pending key, for an object. */
};

struct k8s_yaml_builder {
    struct k8s_yaml_frame stack[K8S_YAML_MAX_DEPTH];
    size_t depth;
    json_t *root;               /* The current document's value. */
    json_t *anchors;            /* Anchor name -> value, per document. */
};

/* Returns true if 's' ('length' bytes) is one of the NUL-separated,
 * double-NUL-terminated words in 'words'. */
static bool
k8s_word_in__(const char *s, size_t length, const char *words)
{
    for (const char *w = words; *w; w += strlen(w) + 1) {
        if (strlen(w) == length && !memcmp(w, s, length)) {
            return true;
        }
    }
    return false;
}

/* Tries to read 's' as a YAML 1.2 core-schema integer (decimal, 0x hex or
 * 0o octal) that fits in json_int_t. */
static bool
k8s_yaml_int__(const char *s, json_int_t *valuep)
{
    const char *p = s;
    int base = 10;

    if (*p == '+' || *p == '-') {
        p++;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && p == s) {
        base = p[1] == 'x' ? 16 : 8;
        p += 2;
    }
    if (!*p) {
        return false;
    }
    for (const char *q = p; *q; q++) {
        if (base == 16 ? !isxdigit((unsigned char) *q)
            : base == 8 ? (*q < '0' || *q > '7')
            : !isdigit((unsigned char) *q)) {
            return false;
        }
    }

    errno = 0;
    long long int value = strtoll(base == 10 ? s : p, NULL, base);
    if (errno) {
        return false;
    }
    *valuep = value;
    return true;
}

/* Converts a YAML scalar into a JSON value.  Quoted and block scalars and
 * those tagged !!str are strings; plain scalars that read as integers,
 * booleans or null become those. */
static json_t *
k8s_yaml_scalar__(const yaml_event_t *event)
{
    const char *value = (const char *) event->data.scalar.value;
    size_t length = event->data.scalar.length;
    const char *tag = (const char *) event->data.scalar.tag;
    bool plain = event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    json_int_t integer;

    if (tag && !strcmp(tag, YAML_STR_TAG)) {
        return json_pack("s#", value, length);
    }
    if (!plain && !tag) {
        return json_pack("s#", value, length);
    }
    if (tag && strcmp(tag, YAML_INT_TAG) && strcmp(tag, YAML_BOOL_TAG)
        && strcmp(tag, YAML_NULL_TAG)) {
        /* "!" (non-specific), !!float and application tags: keep the
         * text. */
        return json_pack("s#", value, length);
    }

    if (k8s_word_in__(value, length, "null\0Null\0NULL\0~\0")
        || (!length && plain)) {
        return json_pack("n");
    }
    if (k8s_word_in__(value, length, "true\0True\0TRUE\0")) {
        return json_pack("b", 1);
    }
    if (k8s_word_in__(value, length, "false\0False\0FALSE\0")) {
        return json_pack("b", 0);
    }
    if (strlen(value) == length && k8s_yaml_int__(value, &integer)) {
        return json_pack("I", integer);
    }
    return json_pack("s#", value, length);
}

/* Attaches 'value' (a new reference, stolen) to the container on top of
 * the stack, or makes it the document's root. */
static char *
k8s_yaml_add__(struct k8s_yaml_builder *b, json_t *value,
               const yaml_char_t *anchor, const yaml_mark_t *mark)
{
    if (anchor) {
        json_object_set(b->anchors, (const char *) anchor, value);
    }
    if (!b->depth) {
        json_decref(b->root);
        b->root = value;
        return NULL;
    }

    struct k8s_yaml_frame *top = &b->stack[b->depth - 1];
    if (json_is_array(top->container)) {
        json_array_append_new(top->container, value);
    } else if (!top->key) {
        if (!json_is_string(value)) {
            json_decref(value);
            return xasprintf("line %zu: mapping keys must be scalars",
                             mark->line + 1);
        }
        top->key = xstrdup(json_string_value(value));
        json_decref(value);
    } else {
        json_object_set_new(top->container, top->key, value);
        free(top->key);
        top->key = NULL;
    }
    return NULL;
}

/* Appends to 'out' the objects in 'value': 'value' itself if it is an
 * object, the items of a List, the elements of an array; nothing for
 * null. */
static char *
k8s_collect_objects__(json_t *out, json_t *value, size_t doc, int depth)
{
    if (json_is_null(value)) {
        return NULL;
    }
    if (depth > 8) {
        return xasprintf("document %zu: lists nested too deeply", doc);
    }
    if (json_is_array(value)) {
        size_t i;
        json_t *elem;

        json_array_foreach (value, i, elem) {
            char *error = k8s_collect_objects__(out, elem, doc, depth + 1);
            if (error) {
                return error;
            }
        }
        return NULL;
    }
    if (!json_is_object(value)) {
        return xasprintf("document %zu: not an object", doc);
    }

    const char *kind = json_string_value(json_object_get(value, "kind"));
    json_t *items = json_object_get(value, "items");
    size_t kind_len = kind ? strlen(kind) : 0;
    if (kind_len >= 4 && !strcmp(kind + kind_len - 4, "List")
        && (json_is_array(items) || json_is_null(items))) {
        json_t *api_version = json_object_get(value, "apiVersion");
        size_t i;
        json_t *item;

        json_array_foreach (items, i, item) {
            /* Items of a typed list ("PodList") from an API server carry
             * no kind of their own. */
            if (json_is_object(item) && kind_len > 4
                && !json_object_get(item, "kind")) {
                json_object_set_new(item, "kind",
                                    json_pack("s#", kind, kind_len - 4));
                if (json_is_string(api_version)
                    && !json_object_get(item, "apiVersion")) {
                    json_object_set(item, "apiVersion", api_version);
                }
            }
            char *error = k8s_collect_objects__(out, item, doc, depth + 1);
            if (error) {
                return error;
            }
        }
        return NULL;
    }

    json_array_append(out, value);
    return NULL;
}

static void
k8s_yaml_builder_reset__(struct k8s_yaml_builder *b)
{
    for (size_t i = 0; i < b->depth; i++) {
        free(b->stack[i].key);
    }
    b->depth = 0;
    json_decref(b->root);
    b->root = NULL;
    json_object_clear(b->anchors);
}

static char *
k8s_yaml_error__(const yaml_parser_t *parser)
{
    const char *problem = parser->problem ? parser->problem : "syntax error";

    if (parser->context) {
        return xasprintf("YAML line %zu, column %zu: %s %s",
                         parser->problem_mark.line + 1,
                         parser->problem_mark.column + 1,
                         problem, parser->context);
    }
    return xasprintf("YAML line %zu, column %zu: %s",
                     parser->problem_mark.line + 1,
                     parser->problem_mark.column + 1, problem);
}

static char *
k8s_decode_yaml__(const char *text, size_t size, json_t *out)
{
    struct k8s_yaml_builder b = { .depth = 0 };
    yaml_parser_t parser;
    char *error = NULL;
    size_t doc = 0;
    bool done = false;

    b.anchors = json_pack("{}");
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *) text,
                                 size);
    while (!done && !error) {
        yaml_event_t event;

        if (!yaml_parser_parse(&parser, &event)) {
            error = k8s_yaml_error__(&parser);
            break;
        }

        const yaml_mark_t *mark = &event.start_mark;
        switch (event.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;

        case YAML_DOCUMENT_START_EVENT:
            k8s_yaml_builder_reset__(&b);
            doc++;
            break;

        case YAML_DOCUMENT_END_EVENT:
            if (b.root) {
                error = k8s_collect_objects__(out, b.root, doc, 0);
            }
            k8s_yaml_builder_reset__(&b);
            break;

        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT: {
            bool is_map = event.type == YAML_MAPPING_START_EVENT;
            json_t *container = json_pack(is_map ? "{}" : "[]");
            const yaml_char_t *anchor = (is_map
                                         ? event.data.mapping_start.anchor
                                         : event.data.sequence_start.anchor);

            if (b.depth >= K8S_YAML_MAX_DEPTH) {
                json_decref(container);
                error = xasprintf("YAML line %zu: nested too deeply",
                                  mark->line + 1);
                break;
            }
            error = k8s_yaml_add__(&b, container, anchor, mark);
            if (!error) {
                b.stack[b.depth].container = container;
                b.stack[b.depth].key = NULL;
                b.depth++;
            }
            break;
        }

        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            ovs_assert(b.depth > 0);
            b.depth--;
            free(b.stack[b.depth].key);
            break;

        case YAML_SCALAR_EVENT: {
            struct k8s_yaml_frame *top = b.depth ? &b.stack[b.depth - 1]
                                                 : NULL;
            if (top && json_is_object(top->container) && !top->key) {
                /* A key: keep its text whatever it looks like. */
                top->key = xmemdup0((const char *) event.data.scalar.value,
                                    event.data.scalar.length);
                if (event.data.scalar.anchor) {
                    json_object_set_new(b.anchors,
                                        (const char *)
                                        event.data.scalar.anchor,
                                        json_pack("s", top->key));
                }
            } else {
                error = k8s_yaml_add__(&b, k8s_yaml_scalar__(&event),
                                       event.data.scalar.anchor, mark);
            }
            break;
        }

        case YAML_ALIAS_EVENT: {
            const char *anchor = (const char *) event.data.alias.anchor;
            json_t *value = json_object_get(b.anchors, anchor);

            if (!value) {
                error = xasprintf("YAML line %zu: unknown alias \"%s\"",
                                  mark->line + 1, anchor);
            } else {
                error = k8s_yaml_add__(&b, json_incref(value), NULL, mark);
            }
            break;
        }

        case YAML_NO_EVENT:
        case YAML_STREAM_START_EVENT:
        default:
            break;
        }
        yaml_event_delete(&event);
    }
    k8s_yaml_builder_reset__(&b);
    json_decref(b.anchors);
    yaml_parser_delete(&parser);
    return error;
}

char *
k8s_decode_text(const char *text, size_t size, json_t **objectsp)
{
    json_t *out = json_pack("[]");
    char *error;

    *objectsp = NULL;

    size_t i = 0;
    while (i < size && isspace((unsigned char) text[i])) {
        i++;
    }
    if (i < size && (text[i] == '{' || text[i] == '[')) {
        json_error_t jerr;
        json_t *value = json_loadb(text, size, JSON_DECODE_ANY, &jerr);

        if (value) {
            error = k8s_collect_objects__(out, value, 1, 0);
            json_decref(value);
        } else {
            /* Flow-style YAML ("{a: 1}") is not JSON; try that before
             * reporting the JSON error. */
            error = k8s_decode_yaml__(text, size, out);
            if (error) {
                free(error);
                error = xasprintf("JSON line %d, column %d: %s",
                                  jerr.line, jerr.column, jerr.text);
            }
        }
    } else {
        error = k8s_decode_yaml__(text, size, out);
    }

    if (error) {
        json_decref(out);
        return error;
    }
    *objectsp = out;
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Describing objects and collecting errors. */

char *
k8s_describe(const json_t *obj, const char *default_kind)
{
    const json_t *metadata = json_object_get(obj, "metadata");
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *ns = json_string_value(json_object_get(metadata,
                                                       "namespace"));
    const char *name = json_string_value(json_object_get(metadata, "name"));

    if (!kind) {
        kind = default_kind ? default_kind : "object";
    }
    if (!name) {
        name = "(unnamed)";
    }
    return ns ? xasprintf("%s %s/%s", kind, ns, name)
              : xasprintf("%s %s", kind, name);
}

/* Validation errors for one object. */
struct k8s_errors {
    char *what;                 /* "Pod default/web", owned. */
    struct ds msg;
    size_t n;
};

static void
k8s_errors_init__(struct k8s_errors *e, char *what)
{
    e->what = what;
    ds_init(&e->msg);
    e->n = 0;
}

static void OVS_PRINTF_FORMAT(3, 4)
k8s_error__(struct k8s_errors *e, const char *path, const char *format, ...)
{
    e->n++;
    if (e->n > K8S_MAX_ERRORS) {
        return;
    }

    va_list args;
    if (e->msg.length) {
        ds_put_cstr(&e->msg, "; ");
    }
    if (path && *path) {
        ds_put_format(&e->msg, "%s: ", path);
    }
    va_start(args, format);
    ds_put_format_valist(&e->msg, format, args);
    va_end(args);
}

/* Adds 'error' (freed) as an error at 'path'. */
static void
k8s_error_take__(struct k8s_errors *e, const char *path, char *error)
{
    k8s_error__(e, path, "%s", error);
    free(error);
}

/* Frees 'e' and returns its messages as one string naming the object, or
 * NULL if none.  If 'bodyp' is nonnull, also stores there the messages
 * without the object's name (NULL if none). */
static char *
k8s_errors_finish__(struct k8s_errors *e, char **bodyp)
{
    char *result = NULL;
    char *body = NULL;

    if (e->n) {
        if (e->n > K8S_MAX_ERRORS) {
            ds_put_format(&e->msg, "; and %"PRIuSIZE" more errors",
                          e->n - K8S_MAX_ERRORS);
        }
        result = xasprintf("%s: %s", e->what, ds_cstr(&e->msg));
        body = ds_steal_cstr(&e->msg);
    }
    ds_destroy(&e->msg);
    free(e->what);
    if (bodyp) {
        *bodyp = body;
    } else {
        free(body);
    }
    return result;
}

static const char *
k8s_json_type__(const json_t *json)
{
    switch (json_typeof(json)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/* Returns member 'key' of 'obj' if it is present, not null and of type
 * 'type'; NULL if absent or null.  Records an error (and sets '*okp' to
 * false if 'okp' is nonnull) for any other type. */
static const json_t *
k8s_get__(const json_t *obj, const char *key, json_type type,
          struct k8s_errors *e, const char *path, bool *okp)
{
    const json_t *value = json_object_get(obj, key);

    if (!value || json_is_null(value)) {
        return NULL;
    }
    if (json_typeof(value) != type
        && !(type == JSON_TRUE && json_is_boolean(value))) {
        const char *want = (type == JSON_OBJECT ? "an object"
                            : type == JSON_ARRAY ? "an array"
                            : type == JSON_STRING ? "a string"
                            : type == JSON_INTEGER ? "an integer"
                            : "a boolean");
        k8s_error__(e, NULL, "%s%s%s: must be %s, not %s",
                    path ? path : "", path && *path ? "." : "", key,
                    want, k8s_json_type__(value));
        if (okp) {
            *okp = false;
        }
        return NULL;
    }
    return value;
}

static const char *
k8s_get_string__(const json_t *obj, const char *key, struct k8s_errors *e,
                 const char *path)
{
    return json_string_value(k8s_get__(obj, key, JSON_STRING, e, path,
                                       NULL));
}

/* Reads a map of strings (labels) at 'obj'.'key' into 'labels'. */
static void
k8s_get_labels__(const json_t *obj, const char *key, struct smap *labels,
                 struct k8s_errors *e, const char *path)
{
    const json_t *map = k8s_get__(obj, key, JSON_OBJECT, e, path, NULL);
    const char *label;
    json_t *value;

    json_object_foreach (CONST_CAST(json_t *, map), label, value) {
        if (!json_is_string(value)) {
            k8s_error__(e, NULL, "%s.%s.%s: must be a string, not %s",
                        path, key, label, k8s_json_type__(value));
        } else {
            smap_replace(labels, label, json_string_value(value));
        }
    }
}

/* Reads metadata.name and metadata.namespace of 'obj'.  Returns false, and
 * an error in '*errorp', if the name is unreadable. */
static bool
k8s_get_identity__(const json_t *obj, const char *kind, bool namespaced,
                   const char **nsp, const char **namep, char **errorp)
{
    const json_t *metadata = json_object_get(obj, "metadata");
    const json_t *name = json_object_get(metadata, "name");
    const json_t *ns = json_object_get(metadata, "namespace");

    if (!json_is_object(obj)) {
        *errorp = xasprintf("%s: not a JSON object", kind);
        return false;
    }
    if (!json_is_string(name) || !json_string_length(name)) {
        char *what = k8s_describe(obj, kind);
        *errorp = xasprintf("%s: metadata.name: required value", what);
        free(what);
        return false;
    }
    if (namespaced && ns && !json_is_null(ns)
        && (!json_is_string(ns) || !json_string_length(ns))) {
        *errorp = xasprintf("%s %s: metadata.namespace: must be a "
                            "non-empty string", kind,
                            json_string_value(name));
        return false;
    }

    *namep = json_string_value(name);
    *nsp = namespaced ? (json_is_string(ns) ? json_string_value(ns)
                         : "default")
                      : NULL;
    return true;
}

/* ---------------------------------------------------------------------- */
/* Addresses. */

char *
k8s_parse_cidr(const char *s, bool allow_host, struct k8s_cidr *cidr)
{
    const char *slash = strchr(s, '/');
    size_t addr_len = slash ? slash - s : strlen(s);
    char addr_s[INET6_ADDRSTRLEN + 1];
    struct k8s_cidr c;

    memset(&c, 0, sizeof c);
    if (!slash && !allow_host) {
        return xasprintf("invalid CIDR \"%s\": missing prefix length", s);
    }
    if (addr_len >= sizeof addr_s) {
        return xasprintf("invalid %s \"%s\"",
                         slash ? "CIDR" : "IP address", s);
    }
    memcpy(addr_s, s, addr_len);
    addr_s[addr_len] = '\0';

    if (strchr(addr_s, ':')) {
        if (inet_pton(AF_INET6, addr_s, &c.addr) != 1) {
            return xasprintf("invalid %s \"%s\"",
                             slash ? "CIDR" : "IP address", s);
        }
        c.is_ipv4 = false;
    } else {
        struct in_addr in4;

        if (inet_pton(AF_INET, addr_s, &in4) != 1) {
            return xasprintf("invalid %s \"%s\"",
                             slash ? "CIDR" : "IP address", s);
        }
        in6_addr_set_mapped_ipv4(&c.addr, in4.s_addr);
        c.is_ipv4 = true;
    }

    unsigned int max = c.is_ipv4 ? 32 : 128;
    c.plen = max;
    if (slash) {
        const char *p = slash + 1;
        size_t n = strlen(p);

        if (!n || n > 3 || strspn(p, "0123456789") != n
            || (n > 1 && p[0] == '0') || atoi(p) > max) {
            return xasprintf("invalid CIDR \"%s\": bad prefix length", s);
        }
        c.plen = atoi(p);

        /* Like the API server, accept host bits ("192.168.1.1/24", the
         * API's own example) and drop them. */
        struct in6_addr mask = ipv6_create_mask(c.plen + (c.is_ipv4
                                                          ? 96 : 0));
        c.addr = ipv6_addr_bitand(&c.addr, &mask);
    }

    *cidr = c;
    return NULL;
}

void
k8s_cidr_format(const struct k8s_cidr *cidr, struct ds *s)
{
    if (cidr->is_ipv4) {
        ovs_be32 ip = in6_addr_get_mapped_ipv4(&cidr->addr);
        ds_put_format(s, IP_FMT, IP_ARGS(ip));
    } else {
        ipv6_format_addr(&cidr->addr, s);
    }
    if (cidr->plen != (cidr->is_ipv4 ? 32 : 128)) {
        ds_put_format(s, "/%u", cidr->plen);
    }
}

/* True if 'inner' is a strict subset of 'outer'. */
static bool
k8s_cidr_strictly_inside__(const struct k8s_cidr *inner,
                           const struct k8s_cidr *outer)
{
    if (inner->is_ipv4 != outer->is_ipv4 || inner->plen <= outer->plen) {
        return false;
    }
    struct in6_addr mask = ipv6_create_mask(outer->plen
                                            + (outer->is_ipv4 ? 96 : 0));
    struct in6_addr net = ipv6_addr_bitand(&inner->addr, &mask);
    return ipv6_addr_equals(&net, &outer->addr);
}

/* ---------------------------------------------------------------------- */
/* Protocols and ports. */

/* Parses protocol 'json' (NULL means TCP).  Returns false after recording
 * an error if it is not TCP, UDP or SCTP. */
static bool
k8s_parse_protocol__(const json_t *json, enum k8s_protocol *protocolp,
                     struct k8s_errors *e, const char *path)
{
    const char *s;

    if (!json || json_is_null(json)) {
        *protocolp = K8S_PROTO_TCP;
        return true;
    }
    s = json_string_value(json);
    if (s && !strcmp(s, "TCP")) {
        *protocolp = K8S_PROTO_TCP;
    } else if (s && !strcmp(s, "UDP")) {
        *protocolp = K8S_PROTO_UDP;
    } else if (s && !strcmp(s, "SCTP")) {
        *protocolp = K8S_PROTO_SCTP;
    } else {
        if (s) {
            k8s_error__(e, path, "unsupported value \"%s\" (supported: "
                        "TCP, UDP, SCTP)", s);
        } else {
            k8s_error__(e, path, "must be a string, not %s",
                        k8s_json_type__(json));
        }
        return false;
    }
    return true;
}

/* True if 's' is a valid port name (IANA_SVC_NAME): at most 15 lowercase
 * alphanumerics or '-', at least one letter, no leading, trailing or
 * doubled '-'. */
static bool
k8s_is_port_name__(const char *s)
{
    size_t n = strlen(s);
    bool letter = false;

    if (!n || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--")) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (islower((unsigned char) s[i])) {
            letter = true;
        } else if (!isdigit((unsigned char) s[i]) && s[i] != '-') {
            return false;
        }
    }
    return letter;
}

static bool
k8s_port_in_range__(json_int_t port)
{
    return port >= 1 && port <= 65535;
}

/* ---------------------------------------------------------------------- */
/* Namespaces and pods. */

char *
k8s_parse_namespace(const json_t *obj, struct k8s_namespace **outp)
{
    const char *ns_unused, *name;
    char *error;

    if (!k8s_get_identity__(obj, "Namespace", false, &ns_unused, &name,
                            &error)) {
        return error;
    }

    struct k8s_errors e;
    k8s_errors_init__(&e, xasprintf("Namespace %s", name));

    const json_t *metadata = json_object_get(obj, "metadata");
    struct k8s_namespace *ns = xzalloc(sizeof *ns);
    ns->name = xstrdup(name);
    ns->uid = nullable_xstrdup(k8s_get_string__(metadata, "uid", &e,
                                                "metadata"));
    ns->resource_version = nullable_xstrdup(
        k8s_get_string__(metadata, "resourceVersion", &e, "metadata"));
    smap_init(&ns->labels);
    k8s_get_labels__(metadata, "labels", &ns->labels, &e, "metadata");
    /* The control plane sets this label on every namespace, and policies
     * select namespaces by it. */
    smap_replace(&ns->labels, "kubernetes.io/metadata.name", name);

    error = k8s_errors_finish__(&e, NULL);
    if (error) {
        k8s_namespace_destroy(ns);
        free(ns);
        return error;
    }
    *outp = ns;
    return NULL;
}

/* Adds the pod CIDR in 'json' to '*cidrsp', unless it is already there
 * (spec.podCIDR repeats spec.podCIDRs[0]). */
static void
k8s_node_add_pod_cidr__(const json_t *json, struct k8s_cidr **cidrsp,
                        size_t *np, struct k8s_errors *e, const char *path)
{
    struct k8s_cidr cidr;

    if (!json_is_string(json)) {
        k8s_error__(e, path, "must be a string");
        return;
    }
    char *error = k8s_parse_cidr(json_string_value(json), false, &cidr);
    if (error) {
        k8s_error_take__(e, path, error);
        return;
    }
    for (size_t i = 0; i < *np; i++) {
        const struct k8s_cidr *c = &(*cidrsp)[i];
        if (c->plen == cidr.plen && ipv6_addr_equals(&c->addr, &cidr.addr)) {
            return;
        }
    }
    *cidrsp = xrealloc(*cidrsp, (*np + 1) * sizeof **cidrsp);
    (*cidrsp)[(*np)++] = cidr;
}

char *
k8s_parse_node_pod_cidrs(const json_t *obj, struct k8s_cidr **cidrsp,
                         size_t *np)
{
    const char *ns_unused, *name;
    char *error;

    *cidrsp = NULL;
    *np = 0;
    if (!k8s_get_identity__(obj, "Node", false, &ns_unused, &name,
                            &error)) {
        return error;
    }

    struct k8s_errors e;
    k8s_errors_init__(&e, xasprintf("Node %s", name));

    const json_t *spec = k8s_get__(obj, "spec", JSON_OBJECT, &e, "", NULL);
    const json_t *cidrs = k8s_get__(spec, "podCIDRs", JSON_ARRAY, &e,
                                    "spec", NULL);
    const json_t *cidr = k8s_get__(spec, "podCIDR", JSON_STRING, &e,
                                   "spec", NULL);
    size_t i;
    const json_t *item;
    json_array_foreach (cidrs, i, item) {
        char path[64];
        snprintf(path, sizeof path, "spec.podCIDRs[%"PRIuSIZE"]", i);
        k8s_node_add_pod_cidr__(item, cidrsp, np, &e, path);
    }
    if (cidr) {
        k8s_node_add_pod_cidr__(cidr, cidrsp, np, &e, "spec.podCIDR");
    }

    error = k8s_errors_finish__(&e, NULL);
    if (error) {
        free(*cidrsp);
        *cidrsp = NULL;
        *np = 0;
    }
    return error;
}

static enum k8s_pod_phase
k8s_pod_phase_from_string__(const char *s)
{
    return (!s || !strcmp(s, "Pending") ? K8S_POD_PENDING
            : !strcmp(s, "Running") ? K8S_POD_RUNNING
            : !strcmp(s, "Succeeded") ? K8S_POD_SUCCEEDED
            : !strcmp(s, "Failed") ? K8S_POD_FAILED
            : K8S_POD_UNKNOWN);
}

static void
k8s_pod_add_ip__(struct k8s_pod *pod, const json_t *ip,
                 struct k8s_errors *e, const char *path)
{
    struct k8s_cidr cidr;

    if (!json_is_string(ip)) {
        k8s_error__(e, path, "must be a string");
        return;
    }
    if (strchr(json_string_value(ip), '/')) {
        k8s_error__(e, path, "invalid IP address \"%s\"",
                    json_string_value(ip));
        return;
    }
    char *error = k8s_parse_cidr(json_string_value(ip), true, &cidr);
    if (error) {
        k8s_error_take__(e, path, error);
        return;
    }
    pod->ips = xrealloc(pod->ips, (pod->n_ips + 1) * sizeof *pod->ips);
    pod->ips[pod->n_ips++] = cidr;
}

static void
k8s_pod_parse_ports__(struct k8s_pod *pod, const json_t *spec,
                      struct k8s_errors *e)
{
    const json_t *containers = k8s_get__(spec, "containers", JSON_ARRAY, e,
                                         "spec", NULL);
    size_t i;
    json_t *container;

    json_array_foreach (containers, i, container) {
        char *cpath = xasprintf("spec.containers[%"PRIuSIZE"]", i);
        const json_t *ports = k8s_get__(container, "ports", JSON_ARRAY, e,
                                        cpath, NULL);
        size_t j;
        json_t *port;

        json_array_foreach (ports, j, port) {
            char *path = xasprintf("%s.ports[%"PRIuSIZE"]", cpath, j);
            const json_t *number = json_object_get(port, "containerPort");
            const char *name = k8s_get_string__(port, "name", e, path);
            enum k8s_protocol protocol;

            if (!json_is_integer(number)
                || !k8s_port_in_range__(json_integer_value(number))) {
                k8s_error__(e, path, "containerPort: must be an integer "
                            "between 1 and 65535, inclusive");
            } else if (k8s_parse_protocol__(json_object_get(port,
                                                            "protocol"),
                                            &protocol, e, path)) {
                struct k8s_container_port *cp;

                pod->ports = xrealloc(pod->ports, (pod->n_ports + 1)
                                                  * sizeof *pod->ports);
                cp = &pod->ports[pod->n_ports++];
                cp->name = nullable_xstrdup(name && *name ? name : NULL);
                cp->port = json_integer_value(number);
                cp->protocol = protocol;
            }
            free(path);
        }
        free(cpath);
    }
}

char *
k8s_parse_pod(const json_t *obj, struct k8s_pod **outp)
{
    const char *ns_name, *name;
    char *error;

    if (!k8s_get_identity__(obj, "Pod", true, &ns_name, &name, &error)) {
        return error;
    }

    struct k8s_errors e;
    k8s_errors_init__(&e, xasprintf("Pod %s/%s", ns_name, name));

    const json_t *metadata = json_object_get(obj, "metadata");
    const json_t *spec = k8s_get__(obj, "spec", JSON_OBJECT, &e, "", NULL);
    const json_t *status = k8s_get__(obj, "status", JSON_OBJECT, &e, "",
                                     NULL);
    struct k8s_pod *pod = xzalloc(sizeof *pod);

    pod->namespace = xstrdup(ns_name);
    pod->name = xstrdup(name);
    pod->uid = nullable_xstrdup(k8s_get_string__(metadata, "uid", &e,
                                                 "metadata"));
    pod->resource_version = nullable_xstrdup(
        k8s_get_string__(metadata, "resourceVersion", &e, "metadata"));
    smap_init(&pod->labels);
    k8s_get_labels__(metadata, "labels", &pod->labels, &e, "metadata");
    {
        const json_t *deletion = json_object_get(metadata,
                                                 "deletionTimestamp");
        pod->terminating = deletion && !json_is_null(deletion);
    }

    const char *node_name = k8s_get_string__(spec, "nodeName", &e, "spec");
    pod->node_name = node_name && *node_name ? xstrdup(node_name) : NULL;
    pod->host_network = json_is_true(k8s_get__(spec, "hostNetwork",
                                               JSON_TRUE, &e, "spec", NULL));
    k8s_pod_parse_ports__(pod, spec, &e);

    pod->phase = k8s_pod_phase_from_string__(
        k8s_get_string__(status, "phase", &e, "status"));
    const json_t *pod_ips = k8s_get__(status, "podIPs", JSON_ARRAY, &e,
                                      "status", NULL);
    if (json_array_size(pod_ips)) {
        size_t i;
        json_t *entry;

        json_array_foreach (pod_ips, i, entry) {
            char *path = xasprintf("status.podIPs[%"PRIuSIZE"].ip", i);
            k8s_pod_add_ip__(pod, json_object_get(entry, "ip"), &e, path);
            free(path);
        }
    } else {
        const char *pod_ip = k8s_get_string__(status, "podIP", &e,
                                              "status");
        if (pod_ip && *pod_ip) {
            k8s_pod_add_ip__(pod, json_object_get(status, "podIP"), &e,
                             "status.podIP");
        }
    }

    error = k8s_errors_finish__(&e, NULL);
    if (error) {
        k8s_pod_destroy(pod);
        free(pod);
        return error;
    }
    *outp = pod;
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Network policies. */

/* Parses the selector at 'obj'.'key' into a new selector in '*selp' (NULL
 * if omitted or null). */
static void
k8s_parse_selector_ptr__(const json_t *obj, const char *key,
                         struct k8s_selector **selp, struct k8s_errors *e,
                         const char *path)
{
    const json_t *json = json_object_get(obj, key);

    *selp = NULL;
    if (!json || json_is_null(json)) {
        return;
    }

    struct k8s_selector *sel = xmalloc(sizeof *sel);
    char *error = lsel_parse(json, sel);
    if (error) {
        char *field = xasprintf("%s.%s", path, key);
        k8s_error_take__(e, field, error);
        free(field);
    }
    *selp = sel;
}

static void
k8s_parse_ip_block__(const json_t *json, struct k8s_policy_peer *peer,
                     struct k8s_errors *e, const char *path)
{
    const json_t *cidr_json = json_object_get(json, "cidr");
    struct k8s_cidr cidr;
    char *error;

    if (!json_is_object(json)) {
        k8s_error__(e, path, "must be an object");
        return;
    }
    if (!json_is_string(cidr_json)) {
        k8s_error__(e, path, "cidr: %s", cidr_json ? "must be a string"
                                                   : "required value");
        return;
    }
    error = k8s_parse_cidr(json_string_value(cidr_json), false, &cidr);
    if (error) {
        char *field = xasprintf("%s.cidr", path);
        k8s_error_take__(e, field, error);
        free(field);
        return;
    }
    peer->ip_block = xmemdup(&cidr, sizeof cidr);

    const json_t *excepts = k8s_get__(json, "except", JSON_ARRAY, e, path,
                                      NULL);
    size_t n = json_array_size(excepts);
    peer->excepts = n ? xcalloc(n, sizeof *peer->excepts) : NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *ex = json_array_get(excepts, i);
        char *field = xasprintf("%s.except[%"PRIuSIZE"]", path, i);
        struct k8s_cidr ex_cidr;

        if (!json_is_string(ex)) {
            k8s_error__(e, field, "must be a string");
        } else if ((error = k8s_parse_cidr(json_string_value(ex), false,
                                           &ex_cidr))) {
            k8s_error_take__(e, field, error);
        } else if (!k8s_cidr_strictly_inside__(&ex_cidr, &cidr)) {
            k8s_error__(e, field, "\"%s\" must be a strict subset of cidr "
                        "\"%s\"", json_string_value(ex),
                        json_string_value(cidr_json));
        } else {
            peer->excepts[peer->n_excepts++] = ex_cidr;
        }
        free(field);
    }
}

static void
k8s_parse_peer__(const json_t *json, struct k8s_policy_peer *peer,
                 struct k8s_errors *e, const char *path)
{
    if (!json_is_object(json)) {
        k8s_error__(e, path, "must be an object");
        return;
    }

    k8s_parse_selector_ptr__(json, "podSelector", &peer->pod_selector, e,
                             path);
    k8s_parse_selector_ptr__(json, "namespaceSelector",
                             &peer->namespace_selector, e, path);

    const json_t *ip_block = json_object_get(json, "ipBlock");
    bool has_ip_block = ip_block && !json_is_null(ip_block);
    if (has_ip_block) {
        char *field = xasprintf("%s.ipBlock", path);
        k8s_parse_ip_block__(ip_block, peer, e, field);
        free(field);
    }

    if (!peer->pod_selector && !peer->namespace_selector && !has_ip_block) {
        k8s_error__(e, path, "must specify a peer (podSelector, "
                    "namespaceSelector or ipBlock)");
    } else if (has_ip_block
               && (peer->pod_selector || peer->namespace_selector)) {
        k8s_error__(e, path, "may not specify both ipBlock and another "
                    "peer");
    }
}

static void
k8s_parse_port__(const json_t *json, struct k8s_policy_port *port,
                 struct k8s_errors *e, const char *path)
{
    if (!json_is_object(json)) {
        k8s_error__(e, path, "must be an object");
        return;
    }

    char *field = xasprintf("%s.protocol", path);
    k8s_parse_protocol__(json_object_get(json, "protocol"), &port->protocol,
                         e, field);
    free(field);

    const json_t *number = json_object_get(json, "port");
    const json_t *end = json_object_get(json, "endPort");
    bool has_port = number && !json_is_null(number);
    bool has_end = end && !json_is_null(end);

    if (!has_port) {
        /* Every port of the protocol. */
    } else if (json_is_integer(number)) {
        json_int_t value = json_integer_value(number);

        if (!k8s_port_in_range__(value)) {
            k8s_error__(e, path, "port: %"JSON_INTEGER_FORMAT" must be "
                        "between 1 and 65535, inclusive", value);
        } else {
            port->port = value;
        }
    } else if (json_is_string(number)) {
        const char *name = json_string_value(number);

        if (!k8s_is_port_name__(name)) {
            k8s_error__(e, path, "port: invalid port name \"%s\" (at "
                        "most 15 lowercase alphanumerics or '-', with at "
                        "least one letter)", name);
        } else {
            port->port_name = xstrdup(name);
        }
        if (has_end) {
            k8s_error__(e, path, "endPort: may not be specified when port "
                        "is non-numeric");
            has_end = false;
        }
    } else {
        k8s_error__(e, path, "port: must be an integer or a string, not %s",
                    k8s_json_type__(number));
    }

    if (!has_end) {
        return;
    } else if (!has_port) {
        k8s_error__(e, path, "endPort: may not be specified when port is "
                    "not specified");
    } else if (!json_is_integer(end)) {
        k8s_error__(e, path, "endPort: must be an integer, not %s",
                    k8s_json_type__(end));
    } else if (!k8s_port_in_range__(json_integer_value(end))) {
        k8s_error__(e, path, "endPort: %"JSON_INTEGER_FORMAT" must be "
                    "between 1 and 65535, inclusive",
                    json_integer_value(end));
    } else if (port->port && json_integer_value(end) < port->port) {
        k8s_error__(e, path, "endPort: %"JSON_INTEGER_FORMAT" must be "
                    "greater than or equal to port %"PRIu16,
                    json_integer_value(end), port->port);
    } else {
        port->end_port = json_integer_value(end);
    }
}

static void
k8s_parse_rules__(const json_t *spec, const char *direction,
                  const char *peers_key, struct k8s_policy_rule **rulesp,
                  size_t *n_rulesp, struct k8s_errors *e)
{
    char *spec_path = xasprintf("spec.%s", direction);
    const json_t *rules = k8s_get__(spec, direction, JSON_ARRAY, e, "spec",
                                    NULL);
    size_t n = json_array_size(rules);

    *rulesp = n ? xcalloc(n, sizeof **rulesp) : NULL;
    *n_rulesp = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *json = json_array_get(rules, i);
        struct k8s_policy_rule *rule = &(*rulesp)[i];
        char *path = xasprintf("%s[%"PRIuSIZE"]", spec_path, i);

        if (!json_is_object(json)) {
            k8s_error__(e, path, "must be an object");
            free(path);
            continue;
        }

        const json_t *peers = k8s_get__(json, peers_key, JSON_ARRAY, e, path,
                                        NULL);
        rule->n_peers = json_array_size(peers);
        rule->has_peers = rule->n_peers > 0;
        rule->peers = (rule->n_peers
                       ? xcalloc(rule->n_peers, sizeof *rule->peers)
                       : NULL);
        for (size_t j = 0; j < rule->n_peers; j++) {
            char *field = xasprintf("%s.%s[%"PRIuSIZE"]", path, peers_key,
                                    j);
            k8s_parse_peer__(json_array_get(peers, j), &rule->peers[j], e,
                             field);
            free(field);
        }

        const json_t *ports = k8s_get__(json, "ports", JSON_ARRAY, e, path,
                                        NULL);
        rule->n_ports = json_array_size(ports);
        rule->has_ports = rule->n_ports > 0;
        rule->ports = (rule->n_ports
                       ? xcalloc(rule->n_ports, sizeof *rule->ports)
                       : NULL);
        for (size_t j = 0; j < rule->n_ports; j++) {
            char *field = xasprintf("%s.ports[%"PRIuSIZE"]", path, j);
            k8s_parse_port__(json_array_get(ports, j), &rule->ports[j], e,
                             field);
            free(field);
        }
        free(path);
    }
    free(spec_path);
}

/* Frees the rules of 'policy' and leaves it with none. */
static void
k8s_policy_clear_rules__(struct k8s_network_policy *policy)
{
    struct k8s_network_policy tmp;

    memset(&tmp, 0, sizeof tmp);
    lsel_init(&tmp.pod_selector);
    tmp.ingress = policy->ingress;
    tmp.n_ingress = policy->n_ingress;
    tmp.egress = policy->egress;
    tmp.n_egress = policy->n_egress;
    k8s_network_policy_destroy(&tmp);

    policy->ingress = policy->egress = NULL;
    policy->n_ingress = policy->n_egress = 0;
}

/* Reads spec.policyTypes into the isolation flags of 'policy', with the
 * API server's defaulting.  If policyTypes cannot be read, isolates both
 * directions. */
static void
k8s_parse_policy_types__(const json_t *spec, bool spec_ok,
                         struct k8s_network_policy *policy,
                         struct k8s_errors *e)
{
    bool ok = spec_ok;
    const json_t *types = k8s_get__(spec, "policyTypes", JSON_ARRAY, e,
                                    "spec", &ok);
    size_t n = json_array_size(types);
    bool ingress = false, egress = false;

    for (size_t i = 0; i < n; i++) {
        const char *type = json_string_value(json_array_get(types, i));

        if (type && !strcmp(type, "Ingress")) {
            ingress = true;
        } else if (type && !strcmp(type, "Egress")) {
            egress = true;
        } else {
            k8s_error__(e, NULL, "spec.policyTypes[%"PRIuSIZE"]: "
                        "unsupported value%s%s%s (supported: Ingress, "
                        "Egress)", i, type ? " \"" : "", type ? type : "",
                        type ? "\"" : "");
            ok = false;
        }
    }
    if (n > 2) {
        k8s_error__(e, "spec.policyTypes", "may not specify more than two "
                    "policyTypes");
    }

    if (!ok) {
        /* Fail closed. */
        ingress = egress = true;
    } else if (!n) {
        /* Defaulting: Ingress always, Egress if there are egress rules.
         * An unreadable egress list counts as present. */
        const json_t *egress_rules = json_object_get(spec, "egress");

        ingress = true;
        egress = (egress_rules && !json_is_null(egress_rules)
                  && (!json_is_array(egress_rules)
                      || json_array_size(egress_rules) > 0));
    }
    policy->ingress_isolation = ingress;
    policy->egress_isolation = egress;
}

char *
k8s_parse_network_policy(const json_t *obj,
                         struct k8s_network_policy **outp)
{
    const char *ns_name, *name;
    char *error;

    if (!k8s_get_identity__(obj, "NetworkPolicy", true, &ns_name, &name,
                            &error)) {
        return error;
    }

    struct k8s_errors e;
    k8s_errors_init__(&e, xasprintf("NetworkPolicy %s/%s", ns_name, name));

    const json_t *metadata = json_object_get(obj, "metadata");
    struct k8s_network_policy *policy = xzalloc(sizeof *policy);
    policy->namespace = xstrdup(ns_name);
    policy->name = xstrdup(name);
    const char *uid = k8s_get_string__(metadata, "uid", &e, "metadata");
    policy->uid = (uid && *uid ? xstrdup(uid)
                   : xasprintf("%s/%s", ns_name, name));
    policy->resource_version = nullable_xstrdup(
        k8s_get_string__(metadata, "resourceVersion", &e, "metadata"));

    bool spec_ok = true;
    const json_t *spec = k8s_get__(obj, "spec", JSON_OBJECT, &e, "",
                                   &spec_ok);

    /* podSelector: omitted is the same as {}, every pod in the namespace.
     * lsel_parse() leaves an unreadable selector empty, which is also what
     * failing closed needs. */
    error = lsel_parse(json_object_get(spec, "podSelector"),
                       &policy->pod_selector);
    if (error) {
        k8s_error_take__(&e, "spec.podSelector", error);
    }

    k8s_parse_policy_types__(spec, spec_ok, policy, &e);
    k8s_parse_rules__(spec, "ingress", "from", &policy->ingress,
                      &policy->n_ingress, &e);
    k8s_parse_rules__(spec, "egress", "to", &policy->egress,
                      &policy->n_egress, &e);

    /* Rules of a direction the policy does not name have no effect. */
    if (!policy->ingress_isolation || !policy->egress_isolation) {
        struct k8s_network_policy tmp;

        memset(&tmp, 0, sizeof tmp);
        if (!policy->ingress_isolation) {
            tmp.ingress = policy->ingress;
            tmp.n_ingress = policy->n_ingress;
            policy->ingress = NULL;
            policy->n_ingress = 0;
        }
        if (!policy->egress_isolation) {
            tmp.egress = policy->egress;
            tmp.n_egress = policy->n_egress;
            policy->egress = NULL;
            policy->n_egress = 0;
        }
        k8s_policy_clear_rules__(&tmp);
    }

    /* The policy's own copy of the message does not repeat its name. */
    error = k8s_errors_finish__(&e, &policy->error);
    if (error) {
        /* Fail closed: keep the selector and the isolation, allow
         * nothing. */
        k8s_policy_clear_rules__(policy);
    }
    *outp = policy;
    return error;
}
