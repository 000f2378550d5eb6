/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_WATCH_STREAM_H
#define NETPOL_WATCH_STREAM_H 1

/* The Kubernetes API's response bodies, without I/O.
 *
 * A watch response is a stream of JSON objects, one per line
 * ({"type":"ADDED","object":{...}}), whose HTTP chunks are unrelated to the
 * lines.  A "struct wstream" is fed the body in arbitrary pieces and gives
 * back complete lines in order.  Lines are bounded in size: a longer line
 * is dropped up to its newline and reported in its place, so that the
 * caller knows an event is missing there.
 *
 * wstream_parse_event() parses one line, wstream_parse_list() one page of a
 * LIST response and wstream_parse_status() a Status object (the body of an
 * HTTP error, or the object of an ERROR event).  They return malloc'ed
 * error strings (NULL on success) and leave their output untouched on
 * error. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"
#include "lib/json-guard.h"

/* Default bound on one line: 16 MiB, far above any real object. */
#define WSTREAM_DEFAULT_MAX_LINE (16 * 1024 * 1024)

struct wstream {
    char *buf;                  /* Bytes kept, starting at stream 'base'. */
    size_t start;               /* First unconsumed byte in 'buf'. */
    size_t tail;                /* Start of the incomplete last line. */
    size_t length;              /* Bytes used in 'buf'. */
    size_t allocated;           /* Bytes allocated for 'buf'. */
    uint64_t base;              /* Kept-stream offset of buf[0]. */

    /* Kept-stream offsets at which an over-long line was dropped, oldest
     * first. */
    uint64_t *lost;
    size_t n_lost, allocated_lost;

    size_t max_line;            /* Longest line kept, without '\n'. */
    bool skipping;              /* Dropping an over-long line's rest. */

    uint64_t n_lines;           /* Complete lines kept so far. */
    uint64_t n_overlong;        /* Over-long lines dropped so far. */
};

void wstream_init(struct wstream *, size_t max_line);
void wstream_destroy(struct wstream *);

/* Forgets everything buffered, for a new response body.  The counters
 * are kept. */
void wstream_clear(struct wstream *);

/* Appends 'size' bytes of the body. */
void wstream_feed(struct wstream *, const void *data, size_t size);

enum wstream_result {
    WSTREAM_NONE,               /* No complete line buffered. */
    WSTREAM_LINE,               /* A line, in '*linep' and '*lengthp'. */
    WSTREAM_OVERLONG,           /* A line here was too long, dropped. */
};

/* Returns the next line, without its '\n' (or "\r\n").  '*linep' stays
 * valid until the next call to any wstream function on 'ws'. */
enum wstream_result wstream_next(struct wstream *,
                                 const char **linep, size_t *lengthp);

/* Bytes buffered and not yet returned: complete lines not yet taken and
 * the incomplete last line.  Nonzero at the end of a body means it was
 * truncated. */
size_t wstream_pending(const struct wstream *);

/* A Status object (kind "Status"). */
struct wstream_status {
    int code;                   /* HTTP code it stands for, or 0. */
    char *reason;               /* "Expired", "Gone", ... or NULL. */
    char *message;              /* Human-readable, or NULL. */
    int retry_after;            /* details.retryAfterSeconds, or 0. */
};

void wstream_status_destroy(struct wstream_status *);

/* Parses a Status object from 'text'; the output needs
 * wstream_status_destroy(). */
char *wstream_parse_status(const char *text, size_t size,
                           struct wstream_status *)
    OVS_WARN_UNUSED_RESULT;

/* One event of a watch. */
enum wstream_event_type {
    WSTREAM_ADDED,
    WSTREAM_MODIFIED,
    WSTREAM_DELETED,
    WSTREAM_BOOKMARK,
    WSTREAM_ERROR,
};

struct wstream_event {
    enum wstream_event_type type;
    json_t *object;             /* The event's object (a reference). */

    /* Points into 'object': metadata.resourceVersion, or NULL if absent.
     * Always nonnull for a BOOKMARK, always NULL for an ERROR. */
    const char *resource_version;

    /* For an ERROR, the Status; otherwise zeroed. */
    struct wstream_status status;
};

const char *wstream_event_type_to_string(enum wstream_event_type);

/* Parses one watch line into 'event', which then needs
 * wstream_event_destroy(). */
char *wstream_parse_event(const char *line, size_t length,
                          struct wstream_event *event)
    OVS_WARN_UNUSED_RESULT;
void wstream_event_destroy(struct wstream_event *);

/* One page of a LIST response ("PodList" and the like). */
struct wstream_list {
    json_t *items;              /* Array of objects (a reference). */
    char *resource_version;     /* The list's metadata.resourceVersion. */
    char *continue_token;       /* metadata.continue, NULL if last page. */
};

/* Parses a LIST response page into 'list', which then needs
 * wstream_list_destroy().  A Status instead of a list is an error. */
char *wstream_parse_list(const char *text, size_t size,
                         struct wstream_list *list)
    OVS_WARN_UNUSED_RESULT;
void wstream_list_destroy(struct wstream_list *);

#endif /* lib/watch-stream.h */
