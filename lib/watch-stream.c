/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "lib/watch-stream.h"

#include <stdlib.h>
#include <string.h>
#include "util.h"

/* A buffer this large is freed rather than kept once it runs empty, so
 * that one big object does not pin memory for the life of a watch. */
#define WSTREAM_KEEP_BUFFER (64 * 1024)

void
wstream_init(struct wstream *ws, size_t max_line)
{
    memset(ws, 0, sizeof *ws);
    ws->max_line = max_line ? max_line : WSTREAM_DEFAULT_MAX_LINE;
}

void
wstream_destroy(struct wstream *ws)
{
    if (ws) {
        free(ws->buf);
        free(ws->lost);
        ws->buf = NULL;
        ws->lost = NULL;
    }
}

void
wstream_clear(struct wstream *ws)
{
    ws->base += ws->length;
    ws->start = ws->tail = ws->length = 0;
    ws->n_lost = 0;
    ws->skipping = false;
    if (ws->allocated > WSTREAM_KEEP_BUFFER) {
        free(ws->buf);
        ws->buf = NULL;
        ws->allocated = 0;
    }
}

/* Moves the unconsumed bytes to the front of the buffer, or releases a
 * large empty buffer. */
static void
wstream_compact__(struct wstream *ws)
{
    if (!ws->start) {
        return;
    }
    if (ws->start == ws->length) {
        ws->base += ws->length;
        ws->start = ws->tail = ws->length = 0;
        if (ws->allocated > WSTREAM_KEEP_BUFFER) {
            free(ws->buf);
            ws->buf = NULL;
            ws->allocated = 0;
        }
    } else if (ws->start >= ws->allocated / 2) {
        memmove(ws->buf, ws->buf + ws->start, ws->length - ws->start);
        ws->base += ws->start;
        ws->tail -= ws->start;
        ws->length -= ws->start;
        ws->start = 0;
    }
}

static void
wstream_append__(struct wstream *ws, const char *data, size_t size)
{
    if (ws->length + size > ws->allocated) {
        size_t want = MAX(ws->allocated * 2, ws->length + size);
        ws->buf = xrealloc(ws->buf, MAX(want, 4096));
        ws->allocated = MAX(want, 4096);
    }
    memcpy(ws->buf + ws->length, data, size);
    ws->length += size;
}

static void
wstream_mark_lost__(struct wstream *ws)
{
    if (ws->n_lost >= ws->allocated_lost) {
        ws->lost = x2nrealloc(ws->lost, &ws->allocated_lost,
                              sizeof *ws->lost);
    }
    ws->lost[ws->n_lost++] = ws->base + ws->tail;
    ws->n_overlong++;
}

void
wstream_feed(struct wstream *ws, const void *data_, size_t size)
{
    const char *data = data_;

    wstream_compact__(ws);
    while (size) {
        const char *nl = memchr(data, '\n', size);
        size_t seg = nl ? nl - data + 1 : size;

        if (ws->skipping) {
            /* Dropping the rest of an over-long line. */
            ws->skipping = !nl;
        } else {
            size_t partial = ws->length - ws->tail;
            size_t line_length = partial + (nl ? seg - 1 : seg);

            if (line_length > ws->max_line) {
                ws->length = ws->tail;
                wstream_mark_lost__(ws);
                ws->skipping = !nl;
            } else {
                wstream_append__(ws, data, seg);
                if (nl) {
                    ws->tail = ws->length;
                    ws->n_lines++;
                }
            }
        }
        data += seg;
        size -= seg;
    }
}

enum wstream_result
wstream_next(struct wstream *ws, const char **linep, size_t *lengthp)
{
    if (ws->n_lost && ws->lost[0] <= ws->base + ws->start) {
        ws->n_lost--;
        memmove(ws->lost, ws->lost + 1, ws->n_lost * sizeof *ws->lost);
        return WSTREAM_OVERLONG;
    }
    if (ws->start >= ws->tail) {
        return WSTREAM_NONE;
    }

    char *line = ws->buf + ws->start;
    char *nl = memchr(line, '\n', ws->tail - ws->start);
    ovs_assert(nl);

    size_t length = nl - line;
    ws->start += length + 1;
    if (length && line[length - 1] == '\r') {
        length--;
    }
    line[length] = '\0';
    *linep = line;
    *lengthp = length;
    return WSTREAM_LINE;
}

size_t
wstream_pending(const struct wstream *ws)
{
    return ws->length - ws->start;
}

/* Status. */

void
wstream_status_destroy(struct wstream_status *status)
{
    if (status) {
        free(status->reason);
        free(status->message);
        status->reason = status->message = NULL;
    }
}

static char *
wstream_status_from_json__(const json_t *obj, struct wstream_status *out)
{
    if (!json_is_object(obj)) {
        return xstrdup("Status is not a JSON object");
    }

    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const json_t *code = json_object_get(obj, "code");
    if (kind && strcmp(kind, "Status")) {
        return xasprintf("expected a Status, got a %s", kind);
    }
    if (!kind && !json_is_integer(code)) {
        return xstrdup("not a Status object");
    }

    const char *reason = json_string_value(json_object_get(obj, "reason"));
    const char *message = json_string_value(json_object_get(obj,
                                                            "message"));
    const json_t *retry = json_object_get(json_object_get(obj, "details"),
                                          "retryAfterSeconds");
    json_int_t c = json_is_integer(code) ? json_integer_value(code) : 0;
    json_int_t r = json_is_integer(retry) ? json_integer_value(retry) : 0;

    out->code = c >= 0 && c < 1000 ? c : 0;
    out->reason = nullable_xstrdup(reason);
    out->message = nullable_xstrdup(message);
    out->retry_after = r > 0 && r < 86400 ? r : 0;
    return NULL;
}

static json_t *
wstream_load__(const char *text, size_t size, char **errorp)
{
    json_error_t jerr;
    json_t *value = json_loadb(text, size, 0, &jerr);

    if (!value) {
        *errorp = xasprintf("bad JSON at line %d, column %d: %s",
                            jerr.line, jerr.column, jerr.text);
    } else if (!json_is_object(value)) {
        json_decref(value);
        value = NULL;
        *errorp = xstrdup("not a JSON object");
    }
    return value;
}

char *
wstream_parse_status(const char *text, size_t size,
                     struct wstream_status *status)
{
    char *error = NULL;
    json_t *obj = wstream_load__(text, size, &error);

    if (obj) {
        error = wstream_status_from_json__(obj, status);
        json_decref(obj);
    }
    return error;
}

/* Events. */

const char *
wstream_event_type_to_string(enum wstream_event_type type)
{
    switch (type) {
    case WSTREAM_ADDED: return "ADDED";
    case WSTREAM_MODIFIED: return "MODIFIED";
    case WSTREAM_DELETED: return "DELETED";
    case WSTREAM_BOOKMARK: return "BOOKMARK";
    case WSTREAM_ERROR: return "ERROR";
    default: OVS_NOT_REACHED();
    }
}

static bool
wstream_event_type_from_string__(const char *s,
                                 enum wstream_event_type *type)
{
    for (int i = WSTREAM_ADDED; i <= WSTREAM_ERROR; i++) {
        if (!strcmp(s, wstream_event_type_to_string(i))) {
            *type = i;
            return true;
        }
    }
    return false;
}

char *
wstream_parse_event(const char *line, size_t length,
                    struct wstream_event *event)
{
    char *error = NULL;
    json_t *value = wstream_load__(line, length, &error);
    if (!value) {
        return error;
    }

    struct wstream_event ev = { .object = NULL };
    const char *type = json_string_value(json_object_get(value, "type"));
    json_t *object = json_object_get(value, "object");

    if (!type) {
        error = xstrdup("event without a \"type\"");
        goto out;
    }
    if (!wstream_event_type_from_string__(type, &ev.type)) {
        error = xasprintf("unknown event type \"%s\"", type);
        goto out;
    }
    if (!json_is_object(object)) {
        error = xasprintf("%s event without an \"object\"", type);
        goto out;
    }

    if (ev.type == WSTREAM_ERROR) {
        error = wstream_status_from_json__(object, &ev.status);
        if (error) {
            char *e = xasprintf("ERROR event: %s", error);
            free(error);
            error = e;
            goto out;
        }
    } else {
        const json_t *rv = json_object_get(json_object_get(object,
                                                           "metadata"),
                                           "resourceVersion");
        ev.resource_version = json_string_value(rv);
        if (ev.resource_version && !ev.resource_version[0]) {
            ev.resource_version = NULL;
        }
        if (ev.type == WSTREAM_BOOKMARK && !ev.resource_version) {
            error = xstrdup("BOOKMARK event without "
                            "metadata.resourceVersion");
            goto out;
        }
    }

    ev.object = json_incref(object);
    *event = ev;

out:
    json_decref(value);
    return error;
}

void
wstream_event_destroy(struct wstream_event *event)
{
    if (event) {
        json_decref(event->object);
        event->object = NULL;
        event->resource_version = NULL;
        wstream_status_destroy(&event->status);
    }
}

/* Lists. */

char *
wstream_parse_list(const char *text, size_t size, struct wstream_list *list)
{
    char *error = NULL;
    json_t *value = wstream_load__(text, size, &error);
    if (!value) {
        return error;
    }

    const char *kind = json_string_value(json_object_get(value, "kind"));
    if (kind && !strcmp(kind, "Status")) {
        struct wstream_status status = { .code = 0 };
        error = wstream_status_from_json__(value, &status);
        if (!error) {
            error = xasprintf("Status %d %s: %s", status.code,
                              status.reason ? status.reason : "",
                              status.message ? status.message : "");
        }
        wstream_status_destroy(&status);
        json_decref(value);
        return error;
    }

    json_t *items = json_object_get(value, "items");
    const json_t *metadata = json_object_get(value, "metadata");
    const char *rv = json_string_value(json_object_get(metadata,
                                                       "resourceVersion"));
    const char *cont = json_string_value(json_object_get(metadata,
                                                         "continue"));
    if (!json_is_array(items) && !json_is_null(items) && items) {
        error = xstrdup("list \"items\" is not an array");
    } else if (!rv || !rv[0]) {
        error = xstrdup("list without metadata.resourceVersion");
    } else {
        list->items = json_is_array(items) ? json_incref(items)
                                           : json_pack("[]");
        list->resource_version = xstrdup(rv);
        list->continue_token = cont && cont[0] ? xstrdup(cont) : NULL;
    }
    json_decref(value);
    return error;
}

void
wstream_list_destroy(struct wstream_list *list)
{
    if (list) {
        json_decref(list->items);
        free(list->resource_version);
        free(list->continue_token);
        list->items = NULL;
        list->resource_version = list->continue_token = NULL;
    }
}
