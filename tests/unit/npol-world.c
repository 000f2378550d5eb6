/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "tests/unit/npol-world.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/k8s-parse.h"
#include "lib/npol-compile.h"
#include "flow.h"
#include "packets.h"
#include "util.h"

int
npol_world_setup(void **state)
{
    struct npol_world *w = xzalloc(sizeof *w);
    w->cache = kcache_create();
    portmap_init(&w->ports);
    flowset_init(&w->flows);
    svec_init(&w->problems);
    assert_null(k8s_parse_cidr("10.244.0.1", true, &w->gw_ip));
    w->reeval = true;
    *state = w;
    return 0;
}

int
npol_world_teardown(void **state)
{
    struct npol_world *w = *state;
    kcache_destroy(w->cache);
    portmap_destroy(&w->ports);
    flowset_destroy(&w->flows);
    svec_destroy(&w->problems);
    free(w);
    return 0;
}

/* Decodes 'text', which must decode, and enters each of its objects into
 * 'cache'.  The errors of objects the cache rejects go into 'errors' or, if
 * it is NULL, fail the test. */
void
npol_cache_load_text(struct kcache *cache, const char *text,
                     struct svec *errors)
{
    json_t *objects;
    char *error = k8s_decode_text(text, strlen(text), &objects);
    if (error) {
        fail_msg("%s in:\n%s", error, text);
    }

    size_t i;
    json_t *obj;
    json_array_foreach (objects, i, obj) {
        error = kcache_upsert(cache, NULL, obj);
        if (error && !errors) {
            fail_msg("%s in:\n%s", error, text);
        } else if (error) {
            svec_add_nocopy(errors, error);
        }
    }
    json_decref(objects);
}

/* npol_cache_load_text() into the world's cache. */
void
npol_world_load_text(struct npol_world *w, const char *text,
                     struct svec *errors)
{
    npol_cache_load_text(w->cache, text, errors);
}

/* Adds a local port for pod 'ns'/'name' (also the port's name) with
 * 'ofport' and 'mac'. */
void
npol_world_add_port(struct npol_world *w, const char *ns, const char *name,
                    int ofport, const char *mac)
{
    struct eth_addr ea;
    assert_true(eth_addr_from_string(mac, &ea));
    portmap_add(&w->ports, ns, name, name, NULL, u16_to_ofp(ofport), ea,
                NULL);
}

/* Compiles the world into its 'flows' and 'problems'. */
void
npol_world_compile(struct npol_world *w)
{
    struct npol_input in = {
        .cache = w->cache,
        .ports = &w->ports,
        .node_name = "node1",
        .gw_ofport = u16_to_ofp(1),
        .gw_mac = ETH_ADDR_C(aa,55,aa,55,00,01),
        .gw_ips = &w->gw_ip,
        .n_gw_ips = 1,
        .reeval_established = w->reeval,
    };
    svec_clear(&w->problems);
    npol_compile(&in, &w->flows, &w->problems);
}
