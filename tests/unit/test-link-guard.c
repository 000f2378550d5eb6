/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* The jansson/libopenvswitch clash canary.  This binary links OVS's JSON
 * module (which defines json_object() and five other names jansson also
 * exports) and jansson, then checks that the jansson calls ovs-netpol uses
 * still reach jansson.  tests/unit/json-guard-poison.sh checks the other
 * half: that a direct call of a clashing name does not compile. */

#include <config.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compiler.h"
#include "lib/json-guard.h"

/* In tests/unit/test-link-guard-ovs.c: the two JSON headers cannot share a
 * translation unit.  Parses JSON with OVS's library, which links OVS's
 * json_object() and friends into this binary. */
bool ltg_ovs_json_parse(const char *text, size_t *n_members);

static void
test_ovs_json_works(void **state OVS_UNUSED)
{
    size_t n;
    assert_true(ltg_ovs_json_parse("{\"a\": [1, 2, 3]}", &n));
    assert_int_equal(n, 3);
}

static void
test_jansson_load_and_read(void **state OVS_UNUSED)
{
    json_error_t err;
    json_t *root = json_loads("{\"kind\": \"Pod\", \"n\": 7, \"l\": [1, 2]}",
                              0, &err);
    assert_non_null(root);
    assert_true(json_is_object(root));
    assert_string_equal(json_string_value(json_object_get(root, "kind")),
                        "Pod");
    assert_int_equal(json_integer_value(json_object_get(root, "n")), 7);
    assert_int_equal(json_array_size(json_object_get(root, "l")), 2);

    const char *key;
    json_t *value;
    int n = 0;
    json_object_foreach (root, key, value) {
        n++;
    }
    assert_int_equal(n, 3);
    json_decref(root);
}

static void
test_jansson_build_and_dump(void **state OVS_UNUSED)
{
    json_t *obj = json_pack("{s:s, s:i, s:[s, s]}", "name", "x", "port", 80,
                            "ips", "10.0.0.1", "fd00::1");
    assert_non_null(obj);
    json_object_set_new(obj, "extra", json_pack("{}"));
    json_array_append_new(json_object_get(obj, "ips"), json_pack("s", "y"));

    char *text = json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(text, "{\"extra\":{},\"ips\":[\"10.0.0.1\","
                        "\"fd00::1\",\"y\"],\"name\":\"x\",\"port\":80}");
    free(text);

    const char *name;
    int port;
    assert_int_equal(json_unpack(obj, "{s:s, s:i}", "name", &name,
                                 "port", &port), 0);
    assert_string_equal(name, "x");
    assert_int_equal(port, 80);
    json_decref(obj);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ovs_json_works),
        cmocka_unit_test(test_jansson_load_and_read),
        cmocka_unit_test(test_jansson_build_and_dump),
    };
    return cmocka_run_group_tests_name("link-guard", tests, NULL, NULL);
}
