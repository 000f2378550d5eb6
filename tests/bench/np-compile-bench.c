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
 * optimization leaves the flows byte for byte the same.
 *
 * Then it measures the incremental compiler (npol_compiler_run()) on
 * single-object changes made through the cache: remote pod relabel, local
 * pod relabel, policy delete and re-add, remote pod delete and re-add
 * (CPU per change: median and max, and policies recompiled), and checks
 * that the result still equals a full compile of the same objects (exit
 * status 1 if not).
 *
 *     np-compile-bench --replay DIR
 *
 * Compiles DIR/manifests/ once, then replays the churn stream of
 * DIR/churn/events through the cache, one event and one incremental
 * compilation at a time, as the controller would see it, and prints the
 * CPU per event kind (median and max), the slowest events, and whether
 * the result equals a full compile.  For profiling the compiler on the
 * events that the scale benchmark finds slow, e.g. under "perf record". */

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
#include "openvswitch/shash.h"
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

/* Decodes one manifest file into a new JSON array of objects. */
static json_t *
parse_file(const char *path)
{
    size_t size;
    char *text = read_file(path, &size);
    json_t *objs;
    char *error = k8s_decode_text(text, size, &objs);
    if (error) {
        ovs_fatal(0, "%s: %s", path, error);
    }
    free(text);
    return objs;
}

/* Stores the names of the *.json files of 'dir' into 'names', sorted: the
 * order in which the manifest source reads them. */
static void
json_file_names(const char *dir, struct svec *names)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (!d) {
        ovs_fatal(errno, "%s", dir);
    }
    while ((de = readdir(d)) != NULL) {
        const char *dot = strrchr(de->d_name, '.');
        if (de->d_name[0] != '.' && dot && !strcmp(dot, ".json")) {
            svec_add(names, de->d_name);
        }
    }
    closedir(d);
    svec_sort(names);
}

/* Reads and decodes every *.json file of 'dir' in name order. */
static void
parse_dir(const char *dir, json_t **objects)
{
    struct svec names = SVEC_EMPTY_INITIALIZER;

    json_file_names(dir, &names);
    *objects = json_pack("[]");
    const char *name;
    size_t i;
    SVEC_FOR_EACH (i, name, &names) {
        char *path = xasprintf("%s/%s", dir, name);
        json_t *objs = parse_file(path);
        json_array_extend(*objects, objs);
        json_decref(objs);
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

static int
cmp_ll(const void *a_, const void *b_)
{
    const long long int *a = a_, *b = b_;
    return *a < *b ? -1 : *a > *b;
}

/* Changes of one kind, measured. */
struct inc_kind {
    const char *name;
    long long int cpu[64];
    size_t n;
    size_t recompiled_max;
    size_t flows_max;
};

static void
inc_run(struct npol_compiler *c, const struct npol_input *in,
        struct flowset *fs, struct kcache *cache, struct inc_kind *k)
{
    struct npol_compiler_stats st;
    long long int t = cpu_usec();
    npol_compiler_run(c, in, fs, NULL);
    kcache_changes_clear(cache);
    t = cpu_usec() - t;
    npol_compiler_get_stats(c, &st);
    if (st.full) {
        ovs_fatal(0, "%s: the incremental compiler compiled everything",
                  k->name);
    }
    if (k->n < ARRAY_SIZE(k->cpu)) {
        k->cpu[k->n++] = t;
    }
    k->recompiled_max = MAX(k->recompiled_max, st.n_recompiled);
    k->flows_max = MAX(k->flows_max,
                       st.n_flows_removed + st.n_flows_added);
}

static void
inc_print(struct inc_kind *k)
{
    if (!k->n) {
        return;
    }
    qsort(k->cpu, k->n, sizeof *k->cpu, cmp_ll);
    printf("incremental %-14s n %2"PRIuSIZE"  cpu p50 %6.2f ms  max %6.2f ms"
           "  policies<=%"PRIuSIZE"  flows<=%"PRIuSIZE"\n", k->name, k->n,
           k->cpu[k->n / 2] / 1000.0, k->cpu[k->n - 1] / 1000.0,
           k->recompiled_max, k->flows_max);
}

/* Starts tracking changes in the cache of 'in' and compiles everything
 * with 'c' into 'fs'. */
static void
inc_start(struct npol_compiler *c, const struct npol_input *in,
          struct flowset *fs)
{
    struct kcache *cache = CONST_CAST(struct kcache *, in->cache);

    kcache_track_changes(cache, true);
    kcache_changes_clear(cache);
    npol_compiler_run(c, in, fs, NULL);
    kcache_changes_clear(cache);
}

/* Compiles 'in' from scratch into 'full', prints whether that gives the
 * flows of 'fs' (the result of 'what'), and returns it. */
static bool
same_as_full(const struct npol_input *in, const struct flowset *fs,
             struct flowset *full, const char *what)
{
    struct ds a = DS_EMPTY_INITIALIZER, b = DS_EMPTY_INITIALIZER;

    npol_compile(in, full, NULL);
    flowset_format(fs, &a);
    flowset_format(full, &b);
    bool same = !strcmp(ds_cstr(&a), ds_cstr(&b));
    printf("%s = full: %s\n", what, same ? "yes" : "NO");
    ds_destroy(&a);
    ds_destroy(&b);
    return same;
}

/* Upserts a copy of pod 'obj' whose "app" label (if it has none, a new
 * label) is set to a value no selector names. */
static void
relabel(struct kcache *cache, const json_t *obj, int value)
{
    json_t *copy = json_deep_copy(obj);
    json_t *md = json_object_get(copy, "metadata");
    json_t *labels = json_object_get(md, "labels");
    if (!labels) {
        labels = json_pack("{}");
        json_object_set_new(md, "labels", labels);
    }
    char *text = xasprintf("bench-%d", value);
    json_object_set_new(labels, (json_object_get(labels, "app")
                                 ? "app" : "bench-churn"),
                        json_pack("s", text));
    free(text);
    char *error = kcache_upsert(cache, NULL, copy);
    if (error) {
        ovs_fatal(0, "%s", error);
    }
    json_decref(copy);
}

/* Removes 'obj' of kind 'kind' from the cache, then puts it back,
 * measuring each step as 'del' and 'add'. */
static void
delete_and_readd(struct npol_compiler *c, const struct npol_input *in,
                 struct flowset *fs, struct kcache *cache, const json_t *obj,
                 enum k8s_kind kind, struct inc_kind *del,
                 struct inc_kind *add)
{
    const json_t *md = json_object_get(obj, "metadata");
    kcache_remove(cache, kind,
                  json_string_value(json_object_get(md, "namespace")),
                  json_string_value(json_object_get(md, "name")));
    inc_run(c, in, fs, cache, del);
    char *error = kcache_upsert(cache, NULL, obj);
    if (error) {
        ovs_fatal(0, "%s", error);
    }
    inc_run(c, in, fs, cache, add);
}

/* The incremental measurement (see the comment at the top). */
static int
incremental(struct kcache *cache, json_t *objects, struct npol_input *in)
{
    struct inc_kind kinds[] = {
        { .name = "pod-relabel" }, { .name = "local-relabel" },
        { .name = "np-delete" }, { .name = "np-add" },
        { .name = "pod-delete" }, { .name = "pod-add" },
    };
    struct npol_compiler *c = npol_compiler_create();
    struct flowset fs, full;
    flowset_init(&fs);
    flowset_init(&full);

    inc_start(c, in, &fs);

    /* Pick the objects: every 97th remote pod, every local pod and every
     * 13th policy, up to 20 of each. */
    const json_t *remote[20], *local[20], *policy[20];
    size_t n_remote = 0, n_local = 0, n_policy = 0, n_pods = 0, n_nps = 0;
    size_t idx;
    json_t *obj;
    json_array_foreach (objects, idx, obj) {
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        if (kind && !strcmp(kind, "Pod")) {
            const char *node = json_string_value(json_object_get(
                json_object_get(obj, "spec"), "nodeName"));
            if (node && !strcmp(node, in->node_name)) {
                if (n_local < ARRAY_SIZE(local)) {
                    local[n_local++] = obj;
                }
            } else if (n_pods++ % 97 == 0 && n_remote < ARRAY_SIZE(remote)) {
                remote[n_remote++] = obj;
            }
        } else if (kind && !strcmp(kind, "NetworkPolicy")
                   && n_nps++ % 13 == 0 && n_policy < ARRAY_SIZE(policy)) {
            policy[n_policy++] = obj;
        }
    }

    for (size_t i = 0; i < n_remote; i++) {
        relabel(cache, remote[i], (int) i);
        inc_run(c, in, &fs, cache, &kinds[0]);
    }
    for (size_t i = 0; i < n_local; i++) {
        relabel(cache, local[i], (int) i);
        inc_run(c, in, &fs, cache, &kinds[1]);
    }
    for (size_t i = 0; i < n_policy; i++) {
        delete_and_readd(c, in, &fs, cache, policy[i],
                         K8S_KIND_NETWORK_POLICY, &kinds[2], &kinds[3]);
    }
    for (size_t i = 0; i < n_remote; i++) {
        delete_and_readd(c, in, &fs, cache, remote[i], K8S_KIND_POD,
                         &kinds[4], &kinds[5]);
    }
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        inc_print(&kinds[i]);
    }

    /* The same objects compiled from scratch. */
    bool same = same_as_full(in, &fs, &full, "incremental");
    flowset_destroy(&fs);
    flowset_destroy(&full);
    npol_compiler_destroy(c);
    return same ? 0 : 1;
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

/* Removes the objects of 'objs' (a JSON array) from 'cache'. */
static void
remove_objects(struct kcache *cache, const json_t *objs)
{
    size_t idx;
    json_t *obj;

    json_array_foreach (objs, idx, obj) {
        const json_t *md = json_object_get(obj, "metadata");
        enum k8s_kind kind;
        if (!k8s_kind_from_string(json_string_value(json_object_get(obj,
                                                                    "kind")),
                                  &kind)) {
            ovs_fatal(0, "unknown kind");
        }
        kcache_remove(cache, kind,
                      json_string_value(json_object_get(md, "namespace")),
                      json_string_value(json_object_get(md, "name")));
    }
}

/* Puts the objects of manifest file 'path' into 'cache' and remembers them
 * in 'files' as the contents of file 'name'. */
static void
replay_load(struct kcache *cache, struct shash *files, const char *name,
            const char *path)
{
    json_t *objs = parse_file(path);
    size_t idx;
    json_t *obj;

    json_array_foreach (objs, idx, obj) {
        char *error = kcache_upsert(cache, NULL, obj);
        if (error) {
            ovs_fatal(0, "%s: %s", path, error);
        }
    }
    shash_add(files, name, objs);
}

struct replay_event {
    char kind[32];
    long long int cpu;
    size_t recompiled, flows;
    int seq;
};

static int
replay_event_cmp(const void *a_, const void *b_)
{
    const struct replay_event *a = a_, *b = b_;
    return a->cpu < b->cpu ? 1 : a->cpu > b->cpu ? -1 : 0;
}

/* --replay (see the comment at the top). */
static int
replay(const char *dir, struct npol_input *in)
{
    struct kcache *cache = CONST_CAST(struct kcache *, in->cache);
    struct shash files = SHASH_INITIALIZER(&files);
    char *mdir = xasprintf("%s/manifests", dir);
    struct svec names = SVEC_EMPTY_INITIALIZER;

    json_file_names(mdir, &names);
    const char *name;
    size_t i;
    SVEC_FOR_EACH (i, name, &names) {
        char *path = xasprintf("%s/%s", mdir, name);
        replay_load(cache, &files, name, path);
        free(path);
    }
    svec_destroy(&names);

    struct npol_compiler *c = npol_compiler_create();
    struct flowset fs, full;
    flowset_init(&fs);
    flowset_init(&full);
    inc_start(c, in, &fs);
    flowset_journal_start(&fs);     /* As the controller's desired set. */

    const char *cold_env = getenv("NP_REPLAY_COLD_MB");
    size_t cold_size = cold_env ? (size_t) atoi(cold_env) << 20 : 0;
    char *cold = cold_size ? xmalloc(cold_size) : NULL;
    char *events = xasprintf("%s/churn/events", dir);
    FILE *f = fopen(events, "r");
    if (!f) {
        ovs_fatal(errno, "%s", events);
    }
    struct replay_event *evs = NULL;
    size_t n_evs = 0, allocated_evs = 0;
    char kind[32], op[16], file[256], src[256], ip[64];
    int seq;
    while (fscanf(f, "%d %31s %15s %255s %255s %63s", &seq, kind, op, file,
                  src, ip) == 6) {
        json_t *old = shash_find_and_delete(&files, file);
        if (old) {
            remove_objects(cache, old);
            json_decref(old);
        }
        if (!strcmp(op, "write")) {
            char *path = xasprintf("%s/churn/%s", dir, src);
            replay_load(cache, &files, file, path);
            free(path);
        }

        if (cold) {
            /* What the controller sees between events: caches that other
             * processes have used. */
            memset(cold, seq, cold_size);
        }
        struct npol_compiler_stats st;
        long long int t = cpu_usec();
        npol_compiler_run(c, in, &fs, NULL);
        kcache_changes_clear(cache);
        t = cpu_usec() - t;
        flowset_journal_reset(&fs);
        npol_compiler_get_stats(c, &st);
        if (n_evs >= allocated_evs) {
            evs = x2nrealloc(evs, &allocated_evs, sizeof *evs);
        }
        struct replay_event *e = &evs[n_evs++];
        ovs_strlcpy(e->kind, kind, sizeof e->kind);
        e->cpu = t;
        e->recompiled = st.n_recompiled;
        e->flows = st.n_flows_removed + st.n_flows_added;
        e->seq = seq;
    }
    fclose(f);
    free(events);
    free(cold);

    static const char *kinds[] = {
        "pod-add", "pod-delete", "pod-relabel", "local-relabel", "np-add",
        "np-update", "np-delete",
    };
    long long int total = 0;
    for (size_t j = 0; j < n_evs; j++) {
        total += evs[j].cpu;
    }
    printf("replay %"PRIuSIZE" events: cpu total %.1f ms\n", n_evs,
           total / 1000.0);
    long long int *cpu = xmalloc(MAX(n_evs, 1) * sizeof *cpu);
    for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
        size_t n = 0;
        for (size_t j = 0; j < n_evs; j++) {
            if (!strcmp(evs[j].kind, kinds[k])) {
                cpu[n++] = evs[j].cpu;
            }
        }
        if (n) {
            qsort(cpu, n, sizeof *cpu, cmp_ll);
            printf("replay %-14s n %3"PRIuSIZE"  cpu p50 %6.2f ms  "
                   "max %6.2f ms\n", kinds[k], n, cpu[n / 2] / 1000.0,
                   cpu[n - 1] / 1000.0);
        }
    }
    free(cpu);
    qsort(evs, n_evs, sizeof *evs, replay_event_cmp);
    for (size_t j = 0; j < MIN(n_evs, 8); j++) {
        printf("slowest: event %d %s cpu %.2f ms policies %"PRIuSIZE
               " flows %"PRIuSIZE"\n", evs[j].seq, evs[j].kind,
               evs[j].cpu / 1000.0, evs[j].recompiled, evs[j].flows);
    }
    free(evs);

    bool same = same_as_full(in, &fs, &full, "replay");

    struct shash_node *node;
    SHASH_FOR_EACH (node, &files) {
        json_decref(node->data);
    }
    shash_destroy(&files);
    flowset_destroy(&fs);
    flowset_destroy(&full);
    npol_compiler_destroy(c);
    free(mdir);
    return same ? 0 : 1;
}

int
main(int argc, char *argv[])
{
    set_program_name(argv[0]);
    bool replay_mode = argc > 1 && !strcmp(argv[1], "--replay");
    if (replay_mode) {
        argc--;
        argv++;
    }
    if (argc < 2 || argc > 4) {
        ovs_fatal(0, "usage: %s [--replay] DIR [ITERATIONS [DUMP-FILE]]",
                  argv[0]);
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

    json_t *objects = NULL;
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
    if (replay_mode) {
        int status = replay(dir, &in);
        kcache_destroy(cache);
        portmap_destroy(&ports);
        free(mdir);
        free(ports_file);
        return status;
    }
    for (int it = 0; it < iterations; it++) {
        json_decref(objects);
        long long int t = cpu_usec();
        parse_dir(mdir, &objects);
        stage_record(&parse, t);

        t = cpu_usec();
        rebuild(cache, objects);
        stage_record(&reb, t);

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

    int status = incremental(cache, objects, &in);
    json_decref(objects);

    ds_destroy(&s);
    flowset_destroy(&fs);
    flowset_destroy(&prev);
    flowset_destroy(&empty);
    kcache_destroy(cache);
    portmap_destroy(&ports);
    free(mdir);
    free(ports_file);
    return status;
}
