/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* Unit tests for lib/watch-stream: splitting a watch body into lines at
 * any chunk boundary, the bound on line size, and parsing watch events,
 * list pages and Status objects as a real API server sends them. */

#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/watch-stream.h"
#include "openvswitch/dynamic-string.h"
#include "svec.h"
#include "util.h"

/* A watch body in the shape kube-apiserver sends: list items carry no
 * kind, a BOOKMARK holds only a resourceVersion, and an expired
 * resourceVersion is an ERROR event with a 410 Status. */
static const char *const events[] = {
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
    "\"metadata\":{\"name\":\"a\",\"namespace\":\"default\","
    "\"resourceVersion\":\"101\",\"labels\":{\"app\":\"x\"}},"
    "\"status\":{\"podIP\":\"10.0.0.5\"}}}",
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":"
    "\"v1\",\"metadata\":{\"name\":\"a\",\"namespace\":\"default\","
    "\"resourceVersion\":\"102\"}}}",
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":"
    "\"v1\",\"metadata\":{\"resourceVersion\":\"150\",\"annotations\":"
    "{\"k8s.io/initial-events-end\":\"true\"}}}}",
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
    "\"metadata\":{\"name\":\"a\",\"namespace\":\"default\","
    "\"resourceVersion\":\"160\"}}}",
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
    "\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"too old resource version: 100 (170)\","
    "\"reason\":\"Expired\",\"code\":410}}",
};

static char *
join_events(void)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
        ds_put_format(&s, "%s\n", events[i]);
    }
    return ds_steal_cstr(&s);
}

/* Takes every complete line from 'ws' into 'lines'; an over-long line is
 * "<OVERLONG>". */
static void
drain(struct wstream *ws, struct svec *lines)
{
    for (;;) {
        const char *line;
        size_t length;
        enum wstream_result r = wstream_next(ws, &line, &length);

        if (r == WSTREAM_NONE) {
            return;
        } else if (r == WSTREAM_OVERLONG) {
            svec_add(lines, "<OVERLONG>");
        } else {
            assert_int_equal(strlen(line), length);
            svec_add_nocopy(lines, xmemdup0(line, length));
        }
    }
}

static void
check_all_events(const struct svec *lines)
{
    assert_int_equal(lines->n, ARRAY_SIZE(events));
    for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
        assert_string_equal(lines->names[i], events[i]);
    }
}

/* Two chunks, cut at every byte. */
static void
test_split_every_boundary(void **state OVS_UNUSED)
{
    char *body = join_events();
    size_t size = strlen(body);

    for (size_t cut = 0; cut <= size; cut++) {
        struct wstream ws;
        struct svec lines = SVEC_EMPTY_INITIALIZER;

        wstream_init(&ws, 0);
        wstream_feed(&ws, body, cut);
        drain(&ws, &lines);
        wstream_feed(&ws, body + cut, size - cut);
        drain(&ws, &lines);
        check_all_events(&lines);
        assert_int_equal(wstream_pending(&ws), 0);
        svec_destroy(&lines);
        wstream_destroy(&ws);
    }
    free(body);
}

/* One byte at a time, and three chunks at every pair of cuts. */
static void
test_split_bytewise_and_triples(void **state OVS_UNUSED)
{
    char *body = join_events();
    size_t size = strlen(body);
    struct wstream ws;
    struct svec lines = SVEC_EMPTY_INITIALIZER;

    wstream_init(&ws, 0);
    for (size_t i = 0; i < size; i++) {
        wstream_feed(&ws, body + i, 1);
        drain(&ws, &lines);
    }
    check_all_events(&lines);
    svec_destroy(&lines);
    wstream_destroy(&ws);

    for (size_t a = 0; a <= size; a += 7) {
        for (size_t b = a; b <= size; b += 13) {
            struct svec l = SVEC_EMPTY_INITIALIZER;
            wstream_init(&ws, 0);
            wstream_feed(&ws, body, a);
            wstream_feed(&ws, body + a, b - a);
            drain(&ws, &l);
            wstream_feed(&ws, body + b, size - b);
            drain(&ws, &l);
            check_all_events(&l);
            svec_destroy(&l);
            wstream_destroy(&ws);
        }
    }
    free(body);
}

static void
test_many_events_per_chunk(void **state OVS_UNUSED)
{
    struct ds body = DS_EMPTY_INITIALIZER;
    struct wstream ws;
    struct svec lines = SVEC_EMPTY_INITIALIZER;

    for (int i = 0; i < 2000; i++) {
        ds_put_format(&body, "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
                      "{\"resourceVersion\":\"%d\"}}}\r\n", i);
    }
    wstream_init(&ws, 0);
    wstream_feed(&ws, body.string, body.length);
    drain(&ws, &lines);
    assert_int_equal(lines.n, 2000);
    for (int i = 0; i < 2000; i++) {
        struct wstream_event ev;
        char rv[16];

        assert_null(wstream_parse_event(lines.names[i],
                                        strlen(lines.names[i]), &ev));
        assert_int_equal(ev.type, WSTREAM_BOOKMARK);
        snprintf(rv, sizeof rv, "%d", i);
        assert_string_equal(ev.resource_version, rv);
        wstream_event_destroy(&ev);
    }
    assert_int_equal(ws.n_lines, 2000);
    svec_destroy(&lines);
    wstream_destroy(&ws);
    ds_destroy(&body);
}

static void
test_overlong_line(void **state OVS_UNUSED)
{
    struct ds body = DS_EMPTY_INITIALIZER;
    struct wstream ws;
    struct svec lines = SVEC_EMPTY_INITIALIZER;

    ds_put_cstr(&body, "short1\n");
    ds_put_char_multiple(&body, 'x', 100);      /* Too long. */
    ds_put_cstr(&body, "\nshort2\n");
    ds_put_char_multiple(&body, 'y', 64);       /* Exactly the bound. */
    ds_put_char(&body, '\n');
    ds_put_char_multiple(&body, 'z', 65);       /* One too many. */
    ds_put_char(&body, '\n');
    ds_put_char_multiple(&body, 'w', 65);       /* Two in a row. */
    ds_put_cstr(&body, "\nlast\n");

    /* In one chunk and byte by byte, with the same result. */
    for (int mode = 0; mode < 2; mode++) {
        wstream_init(&ws, 64);
        if (mode == 0) {
            wstream_feed(&ws, body.string, body.length);
        } else {
            for (size_t i = 0; i < body.length; i++) {
                wstream_feed(&ws, body.string + i, 1);
                if (i % 3 == 0) {
                    drain(&ws, &lines);
                }
            }
        }
        drain(&ws, &lines);

        assert_int_equal(lines.n, 7);
        assert_string_equal(lines.names[0], "short1");
        assert_string_equal(lines.names[1], "<OVERLONG>");
        assert_string_equal(lines.names[2], "short2");
        assert_int_equal(strlen(lines.names[3]), 64);
        assert_string_equal(lines.names[4], "<OVERLONG>");
        assert_string_equal(lines.names[5], "<OVERLONG>");
        assert_string_equal(lines.names[6], "last");
        assert_int_equal(ws.n_overlong, 3);
        assert_int_equal(wstream_pending(&ws), 0);
        svec_clear(&lines);
        wstream_destroy(&ws);
    }

    /* An over-long line that never ends drops everything up to a newline,
     * however it is fed, and the buffer stays bounded. */
    wstream_init(&ws, 1000);
    for (int i = 0; i < 10000; i++) {
        wstream_feed(&ws, "abcdefghij", 10);
        assert_true(ws.allocated <= 64 * 1024);
    }
    drain(&ws, &lines);
    assert_int_equal(lines.n, 1);
    assert_string_equal(lines.names[0], "<OVERLONG>");
    wstream_feed(&ws, "tail\nok\n", 8);
    drain(&ws, &lines);
    assert_int_equal(lines.n, 2);
    assert_string_equal(lines.names[1], "ok");

    svec_destroy(&lines);
    wstream_destroy(&ws);
    ds_destroy(&body);
}

static void
test_truncated_and_clear(void **state OVS_UNUSED)
{
    struct wstream ws;
    const char *line;
    size_t length;

    wstream_init(&ws, 0);
    wstream_feed(&ws, "{\"type\":\"ADDED\"", 15);
    assert_int_equal(wstream_next(&ws, &line, &length), WSTREAM_NONE);
    assert_int_equal(wstream_pending(&ws), 15);

    /* A new body starts clean. */
    wstream_clear(&ws);
    assert_int_equal(wstream_pending(&ws), 0);
    wstream_feed(&ws, "\n", 1);
    assert_int_equal(wstream_next(&ws, &line, &length), WSTREAM_LINE);
    assert_int_equal(length, 0);
    assert_int_equal(wstream_next(&ws, &line, &length), WSTREAM_NONE);
    wstream_destroy(&ws);
}

static void
test_parse_events(void **state OVS_UNUSED)
{
    struct wstream_event ev;

    assert_null(wstream_parse_event(events[0], strlen(events[0]), &ev));
    assert_int_equal(ev.type, WSTREAM_ADDED);
    assert_string_equal(ev.resource_version, "101");
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(ev.object, "metadata"), "name")), "a");
    wstream_event_destroy(&ev);

    assert_null(wstream_parse_event(events[1], strlen(events[1]), &ev));
    assert_int_equal(ev.type, WSTREAM_MODIFIED);
    assert_string_equal(ev.resource_version, "102");
    wstream_event_destroy(&ev);

    assert_null(wstream_parse_event(events[3], strlen(events[3]), &ev));
    assert_int_equal(ev.type, WSTREAM_DELETED);
    assert_string_equal(ev.resource_version, "160");
    wstream_event_destroy(&ev);

    /* A list item without kind or apiVersion is fine. */
    const char *bare = "{\"type\":\"ADDED\",\"object\":{\"metadata\":"
                       "{\"name\":\"ns1\",\"resourceVersion\":\"7\"}}}";
    assert_null(wstream_parse_event(bare, strlen(bare), &ev));
    assert_int_equal(ev.type, WSTREAM_ADDED);
    assert_string_equal(ev.resource_version, "7");
    wstream_event_destroy(&ev);
}

static void
test_parse_bookmark(void **state OVS_UNUSED)
{
    struct wstream_event ev;

    assert_null(wstream_parse_event(events[2], strlen(events[2]), &ev));
    assert_int_equal(ev.type, WSTREAM_BOOKMARK);
    assert_string_equal(ev.resource_version, "150");
    assert_string_equal(wstream_event_type_to_string(ev.type), "BOOKMARK");
    wstream_event_destroy(&ev);

    const char *no_rv = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}";
    char *error = wstream_parse_event(no_rv, strlen(no_rv), &ev);
    assert_non_null(error);
    assert_non_null(strstr(error, "resourceVersion"));
    free(error);
}

static void
test_parse_error_410(void **state OVS_UNUSED)
{
    struct wstream_event ev;

    assert_null(wstream_parse_event(events[4], strlen(events[4]), &ev));
    assert_int_equal(ev.type, WSTREAM_ERROR);
    assert_null(ev.resource_version);
    assert_int_equal(ev.status.code, 410);
    assert_string_equal(ev.status.reason, "Expired");
    assert_non_null(strstr(ev.status.message, "too old"));
    wstream_event_destroy(&ev);

    /* Older servers say "Gone"; some errors have no code at all. */
    const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
                       "\"reason\":\"Gone\",\"code\":410}}";
    assert_null(wstream_parse_event(gone, strlen(gone), &ev));
    assert_int_equal(ev.status.code, 410);
    assert_string_equal(ev.status.reason, "Gone");
    assert_null(ev.status.message);
    wstream_event_destroy(&ev);

    const char *internal = "{\"type\":\"ERROR\",\"object\":{\"kind\":"
                           "\"Status\",\"message\":\"boom\"}}";
    assert_null(wstream_parse_event(internal, strlen(internal), &ev));
    assert_int_equal(ev.status.code, 0);
    assert_string_equal(ev.status.message, "boom");
    wstream_event_destroy(&ev);
}

static void
check_bad_event(const char *line, const char *text)
{
    struct wstream_event ev = { .object = NULL };
    char *error = wstream_parse_event(line, strlen(line), &ev);

    if (!error) {
        fail_msg("\"%s\" parsed", line);
    }
    if (!strstr(error, text)) {
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", line, error, text);
    }
    assert_null(ev.object);
    free(error);
}

static void
test_parse_garbage(void **state OVS_UNUSED)
{
    check_bad_event("", "bad JSON");
    check_bad_event("garbage", "bad JSON");
    check_bad_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"na",
                    "bad JSON");
    check_bad_event("{\"type\":\"ADDED\",\"object\":{}} trailing",
                    "bad JSON");
    check_bad_event("[1,2]", "not a JSON object");
    check_bad_event("{\"object\":{}}", "without a \"type\"");
    check_bad_event("{\"type\":\"RENAMED\",\"object\":{}}", "unknown event");
    check_bad_event("{\"type\":\"ADDED\"}", "without an \"object\"");
    check_bad_event("{\"type\":\"ADDED\",\"object\":\"x\"}",
                    "without an \"object\"");
    check_bad_event("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Pod\"}}",
                    "expected a Status");

    /* Truncation at every byte of a good event is always an error. */
    for (size_t i = 0; i < strlen(events[0]); i++) {
        struct wstream_event ev;
        char *error = wstream_parse_event(events[0], i, &ev);
        assert_non_null(error);
        free(error);
    }
}

static void
test_parse_list(void **state OVS_UNUSED)
{
    const char *page1 =
        "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":"
        "{\"resourceVersion\":\"500\",\"continue\":\"eyJ2IjoibWV0YSJ9\","
        "\"remainingItemCount\":1},\"items\":[{\"metadata\":{\"name\":"
        "\"a\",\"namespace\":\"default\"}}]}";
    const char *page2 =
        "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":"
        "{\"resourceVersion\":\"500\"},\"items\":null}";
    struct wstream_list list;

    assert_null(wstream_parse_list(page1, strlen(page1), &list));
    assert_int_equal(json_array_size(list.items), 1);
    assert_string_equal(list.resource_version, "500");
    assert_string_equal(list.continue_token, "eyJ2IjoibWV0YSJ9");
    wstream_list_destroy(&list);

    assert_null(wstream_parse_list(page2, strlen(page2), &list));
    assert_int_equal(json_array_size(list.items), 0);
    assert_null(list.continue_token);
    wstream_list_destroy(&list);

    const char *status = "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                         "\"status\":\"Failure\",\"message\":\"The provided "
                         "continue parameter is too old\",\"reason\":"
                         "\"Expired\",\"code\":410}";
    char *error = wstream_parse_list(status, strlen(status), &list);
    assert_non_null(error);
    assert_non_null(strstr(error, "410"));
    free(error);

    const char *no_rv = "{\"kind\":\"PodList\",\"items\":[]}";
    error = wstream_parse_list(no_rv, strlen(no_rv), &list);
    assert_non_null(error);
    free(error);

    error = wstream_parse_list("{\"items\":", 9, &list);
    assert_non_null(error);
    free(error);
}

static void
test_parse_status(void **state OVS_UNUSED)
{
    const char *s = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
                    "\"Failure\",\"message\":\"slow down\",\"reason\":"
                    "\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":"
                    "3},\"code\":429}";
    struct wstream_status status;

    assert_null(wstream_parse_status(s, strlen(s), &status));
    assert_int_equal(status.code, 429);
    assert_int_equal(status.retry_after, 3);
    assert_string_equal(status.reason, "TooManyRequests");
    wstream_status_destroy(&status);

    char *error = wstream_parse_status("Internal Server Error", 21, &status);
    assert_non_null(error);
    free(error);
}

/* 10,000 events through one stream: the buffer does not grow. */
static void
test_memory_flat(void **state OVS_UNUSED)
{
    struct wstream ws;
    size_t max_allocated = 0;

    wstream_init(&ws, 0);
    for (int i = 0; i < 10000; i++) {
        char *line = xasprintf(
            "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":"
            "\"p%d\",\"namespace\":\"default\",\"resourceVersion\":\"%d\"},"
            "\"status\":{\"podIP\":\"10.1.%d.%d\"}}}\n",
            i % 50, i + 1000, (i / 250) % 250, i % 250);
        size_t size = strlen(line);

        /* Cut each event in two, at a moving place. */
        size_t cut = i % size;
        wstream_feed(&ws, line, cut);
        wstream_feed(&ws, line + cut, size - cut);

        const char *l;
        size_t length;
        assert_int_equal(wstream_next(&ws, &l, &length), WSTREAM_LINE);
        struct wstream_event ev;
        assert_null(wstream_parse_event(l, length, &ev));
        assert_int_equal(ev.type, WSTREAM_MODIFIED);
        wstream_event_destroy(&ev);
        assert_int_equal(wstream_next(&ws, &l, &length), WSTREAM_NONE);

        max_allocated = MAX(max_allocated, ws.allocated);
        free(line);
    }
    assert_true(max_allocated <= 8192);
    assert_int_equal(ws.n_lines, 10000);
    wstream_destroy(&ws);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_every_boundary),
        cmocka_unit_test(test_split_bytewise_and_triples),
        cmocka_unit_test(test_many_events_per_chunk),
        cmocka_unit_test(test_overlong_line),
        cmocka_unit_test(test_truncated_and_clear),
        cmocka_unit_test(test_parse_events),
        cmocka_unit_test(test_parse_bookmark),
        cmocka_unit_test(test_parse_error_410),
        cmocka_unit_test(test_parse_garbage),
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_parse_status),
        cmocka_unit_test(test_memory_flat),
    };
    return cmocka_run_group_tests_name("watch-stream", tests, NULL, NULL);
}
