/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* np-compile-bench: the controller's pure stages, without OVS, timed one by
 * one on a workload from np-workload (tests/bench/np-workload.c).
 *
 *     np-compile-bench DIR [ITERATIONS [DUMP-FILE]]
 *
 * Reads DIR/manifests/ (every *.json file, in name order, as the manifest
 * source does) and DIR/ports (the local pods, given ofports 1, 2, ... in
 * file order), then runs ITERATIONS times (default 3): read and decode
 * the files ("parse"), build the object cache from the decoded JSON
 * ("rebuild"), compile ("compile"), diff against the previous result and
 * against an empty set ("diff"), format the flows ("format").  Prints the
 * CPU time of each stage (best of the iterations) and the flow count; with
 * DUMP-FILE, writes flowset_format() of the result there, to check that an
 * optimization leaves the flows byte for byte the same. */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "lib/flow-set.h"
#include "lib/json-guard.h"
#include "lib/k8s-cache.h"
#include "lib/k8s-parse.h"
#include "lib/npol-compile.h"
#include "lib/portmap.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-port.h"
#include "packets.h"
#include "sort.h"
#include "svec.h"
#include "util.h"

static long long int
cpu_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static char *
read_file(const char *path, size_t *sizep)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        ovs_fatal(errno, "%s", path);
    }
    struct ds s = DS_EMPTY_INITIALIZER;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        ds_put_buffer(&s, buf, n);
    }
    fclose(f);
    *sizep = s.length;
    return ds_steal_cstr(&s);
}

/* Reads and decodes every *.json file of 'dir' in name order. */
static void
parse_dir(const char *dir, json_t **objects)
{
    struct svec names = SVEC_EMPTY_INITIALIZER;
    DIR *d = opendir(dir);
    struct dirent *de;

    if (!d) {
        ovs_fatal(errno, "%s", dir);
    }
    while ((de = readdir(d)) != NULL) {
        const char *dot = strrchr(de->d_name, '.');
        if (de->d_name[0] != '.' && dot && !strcmp(dot, ".json")) {
            svec_add(&names, de->d_name);
        }
    }
    closedir(d);
    svec_sort(&names);

    *objects = json_pack("[]");
    const char *name;
    size_t i;
    SVEC_FOR_EACH (i, name, &names) {
        char *path = xasprintf("%s/%s", dir, name);
        size_t size;
        char *text = read_file(path, &size);
        json_t *objs;
        char *error = k8s_decode_text(text, size, &objs);
        if (error) {
            ovs_fatal(0, "%s: %s", path, error);
        }
        json_array_extend(*objects, objs);
        json_decref(objs);
        free(text);
        free(path);
    }
    svec_destroy(&names);
}

static void
rebuild(struct kcache *cache, json_t *objects)
{
    size_t idx;
    json_t *obj;

    kcache_clear(cache);
    json_array_foreach (objects, idx, obj) {
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        char *error = kcache_upsert(cache, kind, obj);
        if (error) {
            ovs_fatal(0, "%s", error);
        }
    }
}

static void
read_ports(const char *path, struct portmap *ports)
{
    FILE *f = fopen(path, "r");
    char ifname[64], mac_s[32], ns[256], name[256], ip[64];
    int ofport = 1;

    if (!f) {
        ovs_fatal(errno, "%s", path);
    }
    while (fscanf(f, "%63s %31s %255s %255s %63s", ifname, mac_s, ns, name,
                  ip) == 5) {
        struct eth_addr mac;
        if (!eth_addr_from_string(mac_s, &mac)) {
            ovs_fatal(0, "%s: bad MAC %s", path, mac_s);
        }
        char *ips = xasprintf("%s/24", ip);
        portmap_add(ports, ns, name, ifname, NULL, u16_to_ofp(ofport++),
                    mac, ips);
        free(ips);
    }
    fclose(f);
}

struct stage {
    const char *name;
    long long int best;
};

static void
stage_record(struct stage *s, long long int start)
{
    long long int t = cpu_usec() - start;
    if (s->best < 0 || t < s->best) {
        s->best = t;
    }
}

int
main(int argc, char *argv[])
{
    set_program_name(argv[0]);
    if (argc < 2 || argc > 4) {
        ovs_fatal(0, "usage: %s DIR [ITERATIONS [DUMP-FILE]]", argv[0]);
    }
    const char *dir = argv[1];
    int iterations = argc > 2 ? atoi(argv[2]) : 3;
    const char *dump = argc > 3 ? argv[3] : NULL;

    char *mdir = xasprintf("%s/manifests", dir);
    char *ports_file = xasprintf("%s/ports", dir);
    struct portmap ports;
    portmap_init(&ports);
    read_ports(ports_file, &ports);

    struct k8s_cidr gw_ip;
    char *error = k8s_parse_cidr("10.128.0.1/32", true, &gw_ip);
    if (error) {
        ovs_fatal(0, "%s", error);
    }

    struct stage parse = { "parse", -1 }, reb = { "rebuild", -1 };
    struct stage comp = { "compile", -1 }, diff = { "diff", -1 };
    struct stage fmt = { "format", -1 };
    struct kcache *cache = kcache_create();
    struct flowset fs, prev, empty;
    flowset_init(&fs);
    flowset_init(&prev);
    flowset_init(&empty);
    struct ds s = DS_EMPTY_INITIALIZER;
    size_t n_problems = 0;

    for (int it = 0; it < iterations; it++) {
        json_t *objects;
        long long int t = cpu_usec();
        parse_dir(mdir, &objects);
        stage_record(&parse, t);

        t = cpu_usec();
        rebuild(cache, objects);
        stage_record(&reb, t);
        json_decref(objects);

        struct npol_input in = {
            .cache = cache,
            .ports = &ports,
            .node_name = "node1",
            .gw_ofport = u16_to_ofp(1000),
            .gw_mac = ETH_ADDR_C(02, 00, 00, 00, ff, ff),
            .gw_ips = &gw_ip,
            .n_gw_ips = 1,
            .reeval_established = true,
        };
        struct svec problems = SVEC_EMPTY_INITIALIZER;
        flowset_swap(&fs, &prev);
        t = cpu_usec();
        npol_compile(&in, &fs, &problems);
        stage_record(&comp, t);
        n_problems = problems.n;
        svec_destroy(&problems);

        struct flowset_change *changes;
        size_t n_changes, n_full;
        t = cpu_usec();
        flowset_diff(&fs, &prev, &changes, &n_changes);
        free(changes);
        flowset_diff(&fs, &empty, &changes, &n_full);
        free(changes);
        stage_record(&diff, t);

        ds_clear(&s);
        t = cpu_usec();
        flowset_format(&fs, &s);
        stage_record(&fmt, t);
        if (it == iterations - 1) {
            printf("flows %"PRIuSIZE" problems %"PRIuSIZE" "
                   "changes-vs-previous %"PRIuSIZE"\n",
                   flowset_count(&fs), n_problems, it ? n_changes : n_full);
        }
    }

    const struct stage *stages[] = { &parse, &reb, &comp, &diff, &fmt };
    for (size_t i = 0; i < ARRAY_SIZE(stages); i++) {
        printf("%-8s %9.1f ms\n", stages[i]->name, stages[i]->best / 1000.0);
    }
    if (dump) {
        FILE *f = fopen(dump, "w");
        if (!f) {
            ovs_fatal(errno, "%s", dump);
        }
        fputs(ds_cstr(&s), f);
        fclose(f);
    }

    ds_destroy(&s);
    flowset_destroy(&fs);
    flowset_destroy(&prev);
    flowset_destroy(&empty);
    kcache_destroy(cache);
    portmap_destroy(&ports);
    free(mdir);
    free(ports_file);
    return 0;
}
