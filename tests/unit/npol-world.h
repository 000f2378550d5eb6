/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_TESTS_NPOL_WORLD_H
#define NETPOL_TESTS_NPOL_WORLD_H 1

/* A world for the policy compiler's unit tests (test-npol-compile and
 * test-npol-features): Kubernetes objects, local ports, and the flows
 * compiled from them for node "node1", whose gateway is ofport 1 with MAC
 * aa:55:aa:55:00:01 and address 10.244.0.1.
 *
 * The functions report failures through cmocka, so they are for use in
 * tests and test fixtures only. */

#include <stdbool.h>
#include "lib/flow-set.h"
#include "lib/k8s-cache.h"
#include "lib/k8s-types.h"
#include "lib/portmap.h"
#include "svec.h"

struct npol_world {
    struct kcache *cache;
    struct portmap ports;
    struct flowset flows;
    struct svec problems;       /* From the last npol_world_compile(). */
    struct k8s_cidr gw_ip;
    bool reeval;                /* reeval_established; initially true. */
};

/* cmocka fixtures: an empty world in '*state', and its destruction. */
int npol_world_setup(void **state);
int npol_world_teardown(void **state);

void npol_cache_load_text(struct kcache *, const char *text,
                          struct svec *errors);
void npol_world_load_text(struct npol_world *, const char *text,
                          struct svec *errors);
void npol_world_add_port(struct npol_world *, const char *ns,
                         const char *name, int ofport, const char *mac);
void npol_world_compile(struct npol_world *);

#endif /* tests/unit/npol-world.h */
