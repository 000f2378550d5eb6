/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* OVS's half of the link-guard test: uses OVS's JSON module. */

#include <config.h>

#include <stdbool.h>
#include <stddef.h>

#include "openvswitch/json.h"
#include "openvswitch/shash.h"

bool ltg_ovs_json_parse(const char *text, size_t *n_members);

/* Parses 'text', an object whose member "a" is an array, and stores the
 * array's length in '*n_members'. */
bool
ltg_ovs_json_parse(const char *text, size_t *n_members)
{
    struct json *j = json_from_string(text);
    bool ok = false;

    if (j->type == JSON_OBJECT) {
        const struct json *a = shash_find_data(json_object(j), "a");
        if (a && a->type == JSON_ARRAY) {
            *n_members = json_array(a)->n;
            ok = true;
        }
    }
    json_destroy(j);
    return ok;
}
