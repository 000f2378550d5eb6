/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/flow-set.h"
#include "lib/portmap.h"
#include "netpol/pipeline.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofpbuf.h"
#include "flow.h"
#include "openvswitch/meta-flow.h"
#include "packets.h"
#include "util.h"

#define COOKIE_POLICY np_cookie(NP_COOKIE_PIPELINE, 0xdeadbeef)

/* A match on reg1 (the output port register) only. */
static void
match_reg1(struct match *m, uint32_t value)
{
    match_init_catchall(m);
    match_set_reg(m, NP_REG_OUT, value);
}

static void
match_tcp_dst(struct match *m, ovs_be32 nw_src, ovs_be32 mask, uint16_t port)
{
    match_init_catchall(m);
    match_set_dl_type(m, htons(ETH_TYPE_IP));
    match_set_nw_proto(m, IPPROTO_TCP);
    match_set_nw_src_masked(m, nw_src, mask);
    match_set_tp_dst(m, htons(port));
}

static void
put_goto(struct ofpbuf *ofpacts, uint8_t table)
{
    ofpact_put_GOTO_TABLE(ofpacts)->table_id = table;
}

static void
put_output(struct ofpbuf *ofpacts, uint16_t port)
{
    ofpact_put_OUTPUT(ofpacts)->port = u16_to_ofp(port);
}

/* Returns the formatted flow set; the caller frees it. */
static char *
format_set(const struct flowset *fs)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    flowset_format(fs, &s);
    return ds_steal_cstr(&s);
}

static char *
format_flow(const struct np_flow *flow)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    np_flow_format(flow, &s);
    return ds_steal_cstr(&s);
}

static void
test_add_dedupe_conflict(void **state OVS_UNUSED)
{
    struct flowset fs;
    struct match m;
    struct ofpbuf a, b;

    flowset_init(&fs);
    ofpbuf_init(&a, 0);
    ofpbuf_init(&b, 0);
    put_goto(&a, NP_T_FORWARD);
    put_output(&b, 3);

    match_reg1(&m, 5);
    assert_true(flowset_add(&fs, NP_T_EGRESS_DEFAULT, 10, COOKIE_POLICY, &m,
                            &a));
    assert_int_equal(flowset_count(&fs), 1);

    /* Same everything: a no-op that succeeds. */
    assert_true(flowset_add(&fs, NP_T_EGRESS_DEFAULT, 10, COOKIE_POLICY, &m,
                            &a));
    assert_int_equal(flowset_count(&fs), 1);

    /* Same key, other actions or cookie: a conflict; the first stays. */
    assert_false(flowset_add(&fs, NP_T_EGRESS_DEFAULT, 10, COOKIE_POLICY, &m,
                             &b));
    assert_false(flowset_add(&fs, NP_T_EGRESS_DEFAULT, 10, COOKIE_POLICY + 1,
                             &m, &a));
    assert_false(flowset_add_conj(&fs, NP_T_EGRESS_DEFAULT, 10,
                                  COOKIE_POLICY, &m, 1, 1, 2));
    assert_int_equal(flowset_count(&fs), 1);

    struct np_flow *f = flowset_find(&fs, NP_T_EGRESS_DEFAULT, 10, &m);
    assert_non_null(f);
    assert_int_equal(f->ofpacts_len, a.size);
    assert_memory_equal(f->ofpacts, a.data, a.size);
    assert_int_equal(f->n_conjs, 0);

    /* Other table, priority or match: other keys. */
    assert_null(flowset_find(&fs, NP_T_EGRESS_RULE, 10, &m));
    assert_null(flowset_find(&fs, NP_T_EGRESS_DEFAULT, 11, &m));
    match_reg1(&m, 6);
    assert_null(flowset_find(&fs, NP_T_EGRESS_DEFAULT, 10, &m));
    assert_true(flowset_add(&fs, NP_T_EGRESS_DEFAULT, 10, COOKIE_POLICY, &m,
                            &b));
    match_reg1(&m, 5);
    assert_true(flowset_add(&fs, NP_T_EGRESS_RULE, 10, COOKIE_POLICY, &m,
                            &b));
    assert_true(flowset_add(&fs, NP_T_EGRESS_DEFAULT, 11, COOKIE_POLICY, &m,
                            NULL));
    assert_int_equal(flowset_count(&fs), 4);

    /* A drop flow (no actions) is not a conjunction flow either. */
    assert_false(flowset_add_conj(&fs, NP_T_EGRESS_DEFAULT, 11,
                                  COOKIE_POLICY, &m, 1, 1, 2));
    struct ofpbuf empty;
    ofpbuf_init(&empty, 0);
    assert_true(flowset_add(&fs, NP_T_EGRESS_DEFAULT, 11, COOKIE_POLICY, &m,
                            &empty));
    ofpbuf_uninit(&empty);

    flowset_clear(&fs);
    assert_int_equal(flowset_count(&fs), 0);

    ofpbuf_uninit(&a);
    ofpbuf_uninit(&b);
    flowset_destroy(&fs);
}

static void
test_conj(void **state OVS_UNUSED)
{
    struct flowset fs;
    struct match m;
    struct ofpbuf a;

    flowset_init(&fs);
    match_reg1(&m, 5);

    /* Out of order and with a duplicate. */
    assert_true(flowset_add_conj(&fs, NP_T_INGRESS_RULE, 1000, COOKIE_POLICY,
                                 &m, 7, 2, 3));
    assert_true(flowset_add_conj(&fs, NP_T_INGRESS_RULE, 1000, COOKIE_POLICY,
                                 &m, 3, 1, 2));
    assert_true(flowset_add_conj(&fs, NP_T_INGRESS_RULE, 1000, COOKIE_POLICY,
                                 &m, 7, 2, 3));
    assert_true(flowset_add_conj(&fs, NP_T_INGRESS_RULE, 1000, COOKIE_POLICY,
                                 &m, 7, 1, 3));
    assert_true(flowset_add_conj(&fs, NP_T_INGRESS_RULE, 1000, COOKIE_POLICY,
                                 &m, 12, 3, 3));
    assert_int_equal(flowset_count(&fs), 1);

    struct np_flow *f = flowset_find(&fs, NP_T_INGRESS_RULE, 1000, &m);
    assert_non_null(f);
    assert_int_equal(f->n_conjs, 4);
    assert_int_equal(f->conjs[0].id, 3);
    assert_int_equal(f->conjs[1].id, 7);
    assert_int_equal(f->conjs[1].clause, 1);
    assert_int_equal(f->conjs[2].id, 7);
    assert_int_equal(f->conjs[2].clause, 2);
    assert_int_equal(f->conjs[3].id, 12);
    assert_null(f->ofpacts);

    /* Other cookie, or ordinary actions on a conjunction key: conflicts. */
    assert_false(flowset_add_conj(&fs, NP_T_INGRESS_RULE, 1000,
                                  COOKIE_POLICY + 1, &m, 8, 1, 2));
    ofpbuf_init(&a, 0);
    put_goto(&a, NP_T_COMMIT);
    assert_false(flowset_add(&fs, NP_T_INGRESS_RULE, 1000, COOKIE_POLICY, &m,
                             &a));
    assert_int_equal(f->n_conjs, 4);

    char *s = format_flow(f);
    assert_string_equal(s,
                        "cookie=0x1000000deadbeef, table=7, priority=1000,"
                        "reg1=0x5 actions=conjunction(3,1/2),"
                        "conjunction(7,1/3),conjunction(7,2/3),"
                        "conjunction(12,3/3)");
    free(s);

    /* np_flow_get_ofpacts() yields the conjunctions as OpenFlow actions. */
    ofpbuf_clear(&a);
    np_flow_get_ofpacts(f, &a);
    const struct ofpact *oa;
    size_t n = 0;
    OFPACT_FOR_EACH (oa, a.data, a.size) {
        assert_int_equal(oa->type, OFPACT_CONJUNCTION);
        const struct ofpact_conjunction *oc = ofpact_get_CONJUNCTION(oa);
        assert_int_equal(oc->id, f->conjs[n].id);
        assert_int_equal(oc->clause + 1, f->conjs[n].clause);
        assert_int_equal(oc->n_clauses, f->conjs[n].n_clauses);
        n++;
    }
    assert_int_equal(n, 4);

    ofpbuf_uninit(&a);
    flowset_destroy(&fs);
}

static void
test_format(void **state OVS_UNUSED)
{
    struct flowset fs;
    struct match m;
    struct ofpbuf a;

    flowset_init(&fs);
    ofpbuf_init(&a, 0);

    match_reg1(&m, 5);
    assert_true(flowset_add_conj(&fs, NP_T_INGRESS_RULE, 1000, COOKIE_POLICY,
                                 &m, 7, 2, 3));

    /* Catch-all drop at priority 0 in table 0. */
    match_init_catchall(&m);
    assert_true(flowset_add(&fs, NP_T_CLASSIFY, NP_PRI_MISS,
                            np_cookie(NP_COOKIE_PIPELINE, 1), &m, NULL));

    /* The default priority is printed too. */
    put_goto(&a, NP_T_CT_STATE);
    assert_true(flowset_add(&fs, NP_T_CONNTRACK, 32768,
                            np_cookie(NP_COOKIE_PIPELINE, 2), &m, &a));

    /* A plain match with several fields. */
    ofpbuf_clear(&a);
    put_output(&a, 4);
    match_tcp_dst(&m, htonl(0x0a000000), htonl(0xffffff00), 80);
    assert_true(flowset_add(&fs, NP_T_OUTPUT, 200,
                            np_cookie(NP_COOKIE_EGRESS, 0x42), &m, &a));

    char *s = format_set(&fs);
    assert_string_equal(
        s,
        "cookie=0x100000000000001, table=0, priority=0 actions=drop\n"
        "cookie=0x100000000000002, table=2, priority=32768 "
        "actions=goto_table:3\n"
        "cookie=0x1000000deadbeef, table=7, priority=1000,reg1=0x5 "
        "actions=conjunction(7,2/3)\n"
        "cookie=0x1100000000000042, table=10, priority=200,"
        "tcp,nw_src=10.0.0.0/24,tp_dst=80 actions=output:4\n");
    free(s);

    ofpbuf_uninit(&a);
    flowset_destroy(&fs);
}

/* Finds the change for the flow with key (table, priority, reg1=value) and
 * type 'type' in 'changes'. */
static const struct flowset_change *
find_change(const struct flowset_change *changes, size_t n,
            enum flowset_change_type type, uint8_t table, uint16_t priority,
            uint32_t reg1)
{
    for (size_t i = 0; i < n; i++) {
        const struct np_flow *f = changes[i].flow;
        struct match m;

        minimatch_expand(&f->match, &m);
        if (changes[i].type == type && f->table_id == table
            && f->priority == priority && m.flow.regs[NP_REG_OUT] == reg1) {
            return &changes[i];
        }
    }
    return NULL;
}

static void
test_diff(void **state OVS_UNUSED)
{
    struct flowset desired, installed;
    struct flowset_change *changes;
    size_t n;
    struct match m;
    struct ofpbuf a, b;

    flowset_init(&desired);
    flowset_init(&installed);
    ofpbuf_init(&a, 0);
    ofpbuf_init(&b, 0);
    put_goto(&a, NP_T_FORWARD);
    put_output(&b, 9);

    /* Empty vs empty. */
    flowset_diff(&desired, &installed, &changes, &n);
    assert_int_equal(n, 0);
    free(changes);

    /* Flow 1: the same in both.  Flow 2: only installed.  Flow 3: only
     * desired.  Flow 4: other actions.  Flow 5: other cookie.  Flow 6: a
     * conjunction added.  Flow 7: same conjunctions. */
    match_reg1(&m, 1);
    flowset_add(&desired, 4, 100, 1, &m, &a);
    flowset_add(&installed, 4, 100, 1, &m, &a);
    match_reg1(&m, 2);
    flowset_add(&installed, 4, 100, 1, &m, &a);
    match_reg1(&m, 3);
    flowset_add(&desired, 4, 100, 1, &m, &a);
    match_reg1(&m, 4);
    flowset_add(&desired, 4, 100, 1, &m, &a);
    flowset_add(&installed, 4, 100, 1, &m, &b);
    match_reg1(&m, 5);
    flowset_add(&desired, 4, 100, 2, &m, &a);
    flowset_add(&installed, 4, 100, 1, &m, &a);
    match_reg1(&m, 6);
    flowset_add_conj(&desired, 7, 100, 1, &m, 1, 1, 2);
    flowset_add_conj(&desired, 7, 100, 1, &m, 2, 1, 2);
    flowset_add_conj(&installed, 7, 100, 1, &m, 1, 1, 2);
    match_reg1(&m, 7);
    flowset_add_conj(&desired, 7, 100, 1, &m, 2, 1, 2);
    flowset_add_conj(&desired, 7, 100, 1, &m, 1, 1, 2);
    flowset_add_conj(&installed, 7, 100, 1, &m, 1, 1, 2);
    flowset_add_conj(&installed, 7, 100, 1, &m, 2, 1, 2);

    flowset_diff(&desired, &installed, &changes, &n);
    assert_int_equal(n, 6);

    /* Deletions first. */
    assert_int_equal(changes[0].type, FLOWSET_DELETE);
    assert_int_equal(changes[1].type, FLOWSET_DELETE);
    for (size_t i = 2; i < n; i++) {
        assert_int_not_equal(changes[i].type, FLOWSET_DELETE);
    }

    const struct flowset_change *c;
    c = find_change(changes, n, FLOWSET_DELETE, 4, 100, 2);
    assert_non_null(c);
    match_reg1(&m, 2);
    assert_ptr_equal(c->flow, flowset_find(&installed, 4, 100, &m));
    assert_non_null(find_change(changes, n, FLOWSET_ADD, 4, 100, 3));
    c = find_change(changes, n, FLOWSET_MODIFY, 4, 100, 4);
    assert_non_null(c);
    assert_int_equal(c->flow->ofpacts_len, a.size);   /* The desired one. */
    c = find_change(changes, n, FLOWSET_DELETE, 4, 100, 5);
    assert_non_null(c);
    assert_int_equal(c->flow->cookie, 1);             /* The installed one. */
    c = find_change(changes, n, FLOWSET_ADD, 4, 100, 5);
    assert_non_null(c);
    assert_int_equal(c->flow->cookie, 2);
    c = find_change(changes, n, FLOWSET_MODIFY, 7, 100, 6);
    assert_non_null(c);
    assert_int_equal(c->flow->n_conjs, 2);
    free(changes);

    /* Once 'installed' is a clone of 'desired', nothing is left to do. */
    flowset_clone(&installed, &desired);
    assert_int_equal(flowset_count(&installed), flowset_count(&desired));
    flowset_diff(&desired, &installed, &changes, &n);
    assert_int_equal(n, 0);
    free(changes);

    /* Everything installed, nothing desired: all deletes. */
    flowset_clear(&desired);
    flowset_diff(&desired, &installed, &changes, &n);
    assert_int_equal(n, flowset_count(&installed));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(changes[i].type, FLOWSET_DELETE);
    }
    free(changes);

    ofpbuf_uninit(&a);
    ofpbuf_uninit(&b);
    flowset_destroy(&desired);
    flowset_destroy(&installed);
}

static void
test_clone_equal_swap(void **state OVS_UNUSED)
{
    struct flowset a, b;
    struct match m;
    struct ofpbuf acts;

    flowset_init(&a);
    flowset_init(&b);
    ofpbuf_init(&acts, 0);
    put_output(&acts, 2);

    match_reg1(&m, 1);
    flowset_add(&a, 6, 100, 5, &m, &acts);
    match_reg1(&m, 2);
    flowset_add_conj(&a, 7, 1000, 5, &m, 9, 1, 2);
    flowset_add_conj(&a, 7, 1000, 5, &m, 8, 2, 2);

    /* 'b' had content; clone replaces it. */
    match_reg1(&m, 99);
    flowset_add(&b, 0, 0, 1, &m, NULL);
    flowset_clone(&b, &a);
    assert_int_equal(flowset_count(&b), 2);

    char *sa = format_set(&a);
    char *sb = format_set(&b);
    assert_string_equal(sa, sb);
    free(sb);

    const struct np_flow *fa;
    FLOWSET_FOR_EACH (fa, &a) {
        struct match fm;
        minimatch_expand(&fa->match, &fm);
        const struct np_flow *fb = flowset_find(&b, fa->table_id,
                                                fa->priority, &fm);
        assert_non_null(fb);
        assert_ptr_not_equal(fa, fb);
        assert_true(np_flow_equal(fa, fb));
    }

    /* A change in the clone does not reach the original. */
    match_reg1(&m, 2);
    flowset_add_conj(&b, 7, 1000, 5, &m, 10, 1, 2);
    struct np_flow *f1 = flowset_find(&a, 7, 1000, &m);
    struct np_flow *f2 = flowset_find(&b, 7, 1000, &m);
    assert_int_equal(f1->n_conjs, 2);
    assert_int_equal(f2->n_conjs, 3);
    assert_false(np_flow_equal(f1, f2));

    /* Different keys are not equal. */
    match_reg1(&m, 1);
    assert_false(np_flow_equal(f1, flowset_find(&a, 6, 100, &m)));

    flowset_swap(&a, &b);
    sb = format_set(&b);
    assert_string_equal(sa, sb);
    free(sa);
    free(sb);

    ofpbuf_uninit(&acts);
    flowset_destroy(&a);
    flowset_destroy(&b);
}

/* "load" and "set_field" build the same action; a flow dump gives back
 * "set_field".  They must compare equal and print as the switch would. */
static void
test_normalize(void **state OVS_UNUSED)
{
    struct flowset a, b;
    struct match m;
    struct ofpbuf acts;
    ovs_be32 value = htonl(7);
    ovs_be32 value2 = htonl(8);
    const struct mf_field *reg3 = mf_from_id(MFF_REG3);

    flowset_init(&a);
    flowset_init(&b);
    ofpbuf_init(&acts, 0);
    match_init_catchall(&m);
    match_set_conj_id(&m, 7);
    match_set_dl_type(&m, htons(ETH_TYPE_IP));

    ofpact_put_reg_load(&acts, reg3, &value, NULL);
    put_goto(&acts, NP_T_COMMIT);
    assert_true(flowset_add(&a, NP_T_INGRESS_RULE, 1000, 1, &m, &acts));
    /* Adding it again is no conflict, whatever the padding holds. */
    assert_true(flowset_add(&a, NP_T_INGRESS_RULE, 1000, 1, &m, &acts));

    ofpbuf_clear(&acts);
    ofpact_put_set_field(&acts, reg3, &value, NULL);
    put_goto(&acts, NP_T_COMMIT);
    assert_true(flowset_add(&b, NP_T_INGRESS_RULE, 1000, 1, &m, &acts));
    assert_true(flowset_equal(&a, &b));

    char *s = format_set(&a);
    assert_string_equal(s, "cookie=0x1, table=7, priority=1000,conj_id=7,ip "
                        "actions=set_field:0x7->reg3,goto_table:9\n");
    free(s);

    struct flowset_change *changes;
    size_t n;
    flowset_diff(&a, &b, &changes, &n);
    assert_int_equal(n, 0);
    free(changes);

    /* Another value is another action. */
    ofpbuf_clear(&acts);
    ofpact_put_set_field(&acts, reg3, &value2, NULL);
    put_goto(&acts, NP_T_COMMIT);
    assert_false(flowset_add(&b, NP_T_INGRESS_RULE, 1000, 1, &m, &acts));
    flowset_clear(&b);
    assert_true(flowset_add(&b, NP_T_INGRESS_RULE, 1000, 1, &m, &acts));
    assert_false(flowset_equal(&a, &b));
    flowset_diff(&a, &b, &changes, &n);
    assert_int_equal(n, 1);
    assert_int_equal(changes[0].type, FLOWSET_MODIFY);
    free(changes);

    ofpbuf_uninit(&acts);
    flowset_destroy(&a);
    flowset_destroy(&b);
}

static void
test_insert_remove(void **state OVS_UNUSED)
{
    struct flowset a, b;
    struct match m;

    flowset_init(&a);
    flowset_init(&b);
    match_reg1(&m, 1);
    flowset_add_conj(&a, 7, 100, 1, &m, 3, 1, 2);
    match_reg1(&m, 2);
    flowset_add(&a, 7, 100, 1, &m, NULL);

    const struct np_flow *f;
    FLOWSET_FOR_EACH (f, &a) {
        assert_null(flowset_find_flow(&b, f));
        struct np_flow *copy = flowset_insert_copy(&b, f);
        assert_ptr_equal(flowset_find_flow(&b, f), copy);
        assert_true(np_flow_equal(f, copy));
    }
    assert_true(flowset_equal(&a, &b));

    struct np_flow *g = flowset_find(&b, 7, 100, &m);
    assert_non_null(g);
    flowset_remove(&b, g);
    assert_null(flowset_find(&b, 7, 100, &m));
    assert_int_equal(flowset_count(&b), 1);
    assert_false(flowset_equal(&a, &b));
    assert_false(flowset_equal(&b, &a));

    flowset_destroy(&a);
    flowset_destroy(&b);
}

static void
test_portmap(void **state OVS_UNUSED)
{
    struct portmap a, b;
    struct eth_addr mac = ETH_ADDR_C(0a, 58, 0a, f4, 00, 05);

    portmap_init(&a);
    portmap_init(&b);
    assert_true(portmap_equal(&a, &b));

    portmap_add(&a, "default", "web", "veth1", "c1", u16_to_ofp(3), mac,
                "10.244.0.5");
    portmap_add(&a, "default", "db", "veth2", NULL, u16_to_ofp(4),
                eth_addr_zero, NULL);
    assert_int_equal(portmap_count(&a), 2);

    const struct portmap_entry *e = portmap_find(&a, "default", "web");
    assert_non_null(e);
    assert_string_equal(e->iface_name, "veth1");
    assert_string_equal(e->container_id, "c1");
    assert_string_equal(e->ips, "10.244.0.5");
    assert_int_equal(ofp_to_u16(e->ofport), 3);
    assert_true(eth_addr_equals(e->mac, mac));
    assert_null(portmap_find(&a, "other", "web"));
    assert_null(portmap_find(&a, "default", "none"));

    /* A stale port with a lower ofport loses; a newer one wins. */
    e = portmap_add(&a, "default", "web", "veth0", "c0", u16_to_ofp(2), mac,
                    "10.244.0.4");
    assert_string_equal(e->iface_name, "veth1");
    e = portmap_add(&a, "default", "web", "veth9", "c9", u16_to_ofp(9), mac,
                    "10.244.0.9");
    assert_string_equal(e->iface_name, "veth9");
    assert_int_equal(ofp_to_u16(e->ofport), 9);
    assert_int_equal(portmap_count(&a), 2);

    portmap_add(&b, "default", "db", "veth2", NULL, u16_to_ofp(4),
                eth_addr_zero, NULL);
    assert_false(portmap_equal(&a, &b));
    portmap_add(&b, "default", "web", "veth9", "c9", u16_to_ofp(9), mac,
                "10.244.0.9");
    assert_true(portmap_equal(&a, &b));
    assert_true(portmap_equal(&b, &a));

    /* Any field makes a difference. */
    portmap_clear(&b);
    portmap_add(&b, "default", "db", "veth2", NULL, u16_to_ofp(4),
                eth_addr_zero, NULL);
    portmap_add(&b, "default", "web", "veth9", "c9", u16_to_ofp(9), mac,
                "10.244.0.10");
    assert_false(portmap_equal(&a, &b));

    portmap_destroy(&a);
    portmap_destroy(&b);
}

/* A small deterministic pseudo-random generator (xorshift32), so that the
 * randomized tests are reproducible from their seed. */
static uint32_t
rnd_next(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static uint32_t
rnd(uint32_t *state, uint32_t n)
{
    return rnd_next(state) % n;
}

/* The keys the randomized tests draw from: two tables, two priorities and
 * a few values of reg1. */
#define JKEY_N_KEYS 40

static void
jkey(unsigned int k, uint8_t *table, uint16_t *priority, struct match *m)
{
    *table = k % 2 ? NP_T_INGRESS_RULE : NP_T_EGRESS_DEFAULT;
    *priority = 100 + (k / 2 % 2) * 100;
    match_reg1(m, k / 4);
}

/* Puts one of a few action lists into 'acts' (variant 0: drop). */
static void
jacts(struct ofpbuf *acts, unsigned int variant)
{
    ofpbuf_clear(acts);
    switch (variant % 4) {
    case 0:
        break;
    case 1:
        put_goto(acts, NP_T_FORWARD);
        break;
    case 2:
        put_output(acts, 3);
        break;
    default:
        put_output(acts, 9);
        put_goto(acts, NP_T_COMMIT);
        break;
    }
}

/* Adds, at key 'k', a flow with ordinary actions or a conjunction, chosen
 * at random, with cookie 'cookie'.  Conflicts are allowed: then nothing
 * changes. */
static void
jadd_random(struct flowset *fs, unsigned int k, uint64_t cookie,
            uint32_t *r)
{
    struct ofpbuf acts;
    struct match m;
    uint16_t prio;
    uint8_t table;

    jkey(k, &table, &prio, &m);
    if (rnd(r, 2)) {
        ofpbuf_init(&acts, 0);
        jacts(&acts, rnd(r, 4));
        flowset_add(fs, table, prio, cookie, &m, &acts);
        ofpbuf_uninit(&acts);
    } else {
        flowset_add_conj(fs, table, prio, cookie, &m, 1 + rnd(r, 5),
                         1 + rnd(r, 2), 2);
    }
}

static struct np_flow *
jfind(const struct flowset *fs, unsigned int k)
{
    struct match m;
    uint16_t prio;
    uint8_t table;

    jkey(k, &table, &prio, &m);
    return flowset_find(fs, table, prio, &m);
}

/* Removes 'flow' from 'fs' and adds it back, identical, through
 * flowset_add() or flowset_add_conj(). */
static void
jremove_readd(struct flowset *fs, struct np_flow *flow)
{
    uint8_t table = flow->table_id;
    uint16_t prio = flow->priority;
    uint64_t cookie = flow->cookie;
    struct np_conj *conjs = NULL;
    size_t n_conjs = flow->n_conjs;
    struct ofpbuf acts;
    struct match m;

    minimatch_expand(&flow->match, &m);
    ofpbuf_init(&acts, 0);
    if (flow->ofpacts_len) {
        ofpbuf_put(&acts, flow->ofpacts, flow->ofpacts_len);
    }
    if (n_conjs) {
        conjs = xmemdup(flow->conjs, n_conjs * sizeof *conjs);
    }
    flowset_remove(fs, flow);

    if (n_conjs) {
        /* In reverse order, to exercise the sorting too. */
        for (size_t i = n_conjs; i-- > 0;) {
            assert_true(flowset_add_conj(fs, table, prio, cookie, &m,
                                         conjs[i].id, conjs[i].clause,
                                         conjs[i].n_clauses));
        }
    } else {
        assert_true(flowset_add(fs, table, prio, cookie, &m, &acts));
    }
    free(conjs);
    ofpbuf_uninit(&acts);
}

/* Applies one random mutation to 'fs'.  'pool' holds flows to copy in with
 * flowset_insert_copy(). */
static void
jmutate(struct flowset *fs, const struct flowset *pool, uint32_t *r)
{
    unsigned int k = rnd(r, JKEY_N_KEYS);
    struct np_flow *flow = jfind(fs, k);
    uint64_t cookie = 1 + rnd(r, 2);

    switch (rnd(r, 7)) {
    case 0:
        /* flowset_add(), on a new key if possible. */
        jadd_random(fs, k, cookie, r);
        break;
    case 1:
        /* flowset_add_conj() to an existing or a new key (if the flow
         * exists, with its own cookie, so that it usually succeeds). */
        {
            struct match m;
            uint16_t prio;
            uint8_t table;

            jkey(k, &table, &prio, &m);
            flowset_add_conj(fs, table, prio, flow ? flow->cookie : cookie,
                             &m, 1 + rnd(r, 5), 1 + rnd(r, 2), 2);
        }
        break;
    case 2:
        if (flow) {
            flowset_remove(fs, flow);
        }
        break;
    case 3:
        /* Remove, then add back with another cookie. */
        if (flow) {
            uint64_t new_cookie = flow->cookie + 1;
            flowset_remove(fs, flow);
            jadd_random(fs, k, new_cookie, r);
        }
        break;
    case 4:
        if (flow) {
            jremove_readd(fs, flow);
        }
        break;
    case 5:
        /* flowset_insert_copy() of a pool flow, replacing the flow with
         * the same key if there is one. */
        {
            const struct np_flow *src = jfind(pool, k);
            if (src) {
                if (flow) {
                    flowset_remove(fs, flow);
                }
                flowset_insert_copy(fs, src);
            }
        }
        break;
    default:
        /* Add a new key and remove it again: no net change. */
        if (!flow) {
            jadd_random(fs, k, cookie, r);
            flow = jfind(fs, k);
            assert_non_null(flow);
            flowset_remove(fs, flow);
        }
        break;
    }
}

static int
compare_strings(const void *a_, const void *b_)
{
    const char *const *a = a_;
    const char *const *b = b_;
    return strcmp(*a, *b);
}

/* Returns the changes as a sorted array of "TYPE flow" strings. */
static char **
changes_to_strings(const struct flowset_change *changes, size_t n)
{
    static const char *names[] = {
        [FLOWSET_ADD] = "ADD",
        [FLOWSET_MODIFY] = "MODIFY",
        [FLOWSET_DELETE] = "DELETE",
    };
    char **strings = xmalloc(MAX(n, 1) * sizeof *strings);

    for (size_t i = 0; i < n; i++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        ds_put_format(&s, "%s ", names[changes[i].type]);
        np_flow_format(changes[i].flow, &s);
        strings[i] = ds_steal_cstr(&s);
    }
    qsort(strings, n, sizeof *strings, compare_strings);
    return strings;
}

static void
free_strings(char **strings, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(strings[i]);
    }
    free(strings);
}

/* Checks that flowset_diff_journal() computes what flowset_diff() does, in
 * the right order, and applies the changes to 'installed'. */
static void
check_diff_journal(struct flowset *desired, struct flowset *installed,
                   uint64_t base, uint32_t seed, int step)
{
    struct flowset_change *full, *jc;
    size_t n_full, n_jc;

    flowset_diff(desired, installed, &full, &n_full);
    if (!flowset_diff_journal(desired, installed, base, &jc, &n_jc)) {
        fail_msg("seed %"PRIu32" step %d: flowset_diff_journal() gave up",
                 seed, step);
    }

    char **sf = changes_to_strings(full, n_full);
    char **sj = changes_to_strings(jc, n_jc);
    for (size_t i = 0; i < MIN(n_full, n_jc); i++) {
        if (strcmp(sf[i], sj[i])) {
            fail_msg("seed %"PRIu32" step %d: change %"PRIuSIZE" differs:\n"
                     "flowset_diff:         %s\n"
                     "flowset_diff_journal: %s",
                     seed, step, i, sf[i], sj[i]);
        }
    }
    if (n_full != n_jc) {
        fail_msg("seed %"PRIu32" step %d: %"PRIuSIZE" changes from "
                 "flowset_diff(), %"PRIuSIZE" from flowset_diff_journal()",
                 seed, step, n_full, n_jc);
    }
    free_strings(sf, n_full);
    free_strings(sj, n_jc);

    /* Deletions first. */
    bool seen_add = false;
    for (size_t i = 0; i < n_jc; i++) {
        if (jc[i].type == FLOWSET_DELETE) {
            assert_false(seen_add);
        } else {
            seen_add = true;
        }
    }

    /* Apply the journal's changes to 'installed'. */
    for (size_t i = 0; i < n_jc; i++) {
        const struct np_flow *f = jc[i].flow;
        struct np_flow *old = flowset_find_flow(installed, f);

        switch (jc[i].type) {
        case FLOWSET_DELETE:
            assert_ptr_equal(old, f);
            flowset_remove(installed, old);
            break;
        case FLOWSET_ADD:
            assert_null(old);
            flowset_insert_copy(installed, f);
            break;
        case FLOWSET_MODIFY:
            assert_non_null(old);
            assert_true(old->cookie == f->cookie);
            flowset_remove(installed, old);
            flowset_insert_copy(installed, f);
            break;
        default:
            fail();
        }
    }
    free(full);
    free(jc);

    assert_true(flowset_equal(installed, desired));
    assert_true(flowset_equal(desired, installed));
    char *si = format_set(installed);
    char *sd = format_set(desired);
    assert_string_equal(si, sd);
    free(si);
    free(sd);
}

static void
test_diff_journal_random(void **state OVS_UNUSED)
{
    for (uint32_t round = 0; round < 200; round++) {
        uint32_t seed = 0x9e3779b9u * (round + 1);
        uint32_t r = seed ? seed : 1;
        struct flowset desired, installed, pool;

        flowset_init(&desired);
        flowset_init(&installed);
        flowset_init(&pool);

        /* Flows to copy in: other cookies (3, 4) and actions than the
         * ones desired gets from jadd_random(), often. */
        for (unsigned int k = 0; k < JKEY_N_KEYS; k++) {
            if (rnd(&r, 3)) {
                jadd_random(&pool, k, 3 + rnd(&r, 2), &r);
            }
        }

        int n_initial = rnd(&r, 25);
        for (int i = 0; i < n_initial; i++) {
            jadd_random(&desired, rnd(&r, JKEY_N_KEYS), 1 + rnd(&r, 2), &r);
        }
        flowset_clone(&installed, &desired);
        flowset_journal_start(&desired);
        uint64_t base = desired.version;

        for (int step = 0; step < 6; step++) {
            int n_mutations = rnd(&r, 13);
            for (int i = 0; i < n_mutations; i++) {
                jmutate(&desired, &pool, &r);
            }
            check_diff_journal(&desired, &installed, base, seed, step);

            flowset_journal_reset(&desired);
            base = desired.version;
        }

        flowset_destroy(&desired);
        flowset_destroy(&installed);
        flowset_destroy(&pool);
    }
}

/* Adds a few flows to 'fs'. */
static void
jfill(struct flowset *fs, uint32_t seed)
{
    uint32_t r = seed;

    for (unsigned int k = 0; k < 10; k++) {
        jadd_random(fs, k, 1, &r);
    }
}

/* Expects flowset_diff_journal() to give up, leaving its outputs alone. */
static void
expect_journal_unusable(const struct flowset *desired,
                        const struct flowset *installed, uint64_t base)
{
    struct flowset_change sentinel, *changes = &sentinel;
    size_t n = 12345;

    assert_false(flowset_diff_journal(desired, installed, base,
                                      &changes, &n));
    assert_ptr_equal(changes, &sentinel);
    assert_int_equal(n, 12345);
}

/* Expects flowset_diff_journal() to work and agree with flowset_diff(). */
static void
expect_journal_usable(const struct flowset *desired,
                      const struct flowset *installed, uint64_t base)
{
    struct flowset_change *full, *jc;
    size_t n_full, n_jc;

    assert_true(flowset_diff_journal(desired, installed, base, &jc, &n_jc));
    flowset_diff(desired, installed, &full, &n_full);
    assert_int_equal(n_jc, n_full);
    char **sf = changes_to_strings(full, n_full);
    char **sj = changes_to_strings(jc, n_jc);
    for (size_t i = 0; i < n_full; i++) {
        assert_string_equal(sf[i], sj[i]);
    }
    free_strings(sf, n_full);
    free_strings(sj, n_jc);
    free(full);
    free(jc);
}

static void
test_diff_journal_unusable(void **state OVS_UNUSED)
{
    struct flowset desired, installed, other;
    uint32_t r = 7;

    flowset_init(&desired);
    flowset_init(&installed);
    flowset_init(&other);
    jfill(&desired, 1);
    jfill(&other, 2);

    /* Not started. */
    flowset_clone(&installed, &desired);
    expect_journal_unusable(&desired, &installed, desired.version);
    flowset_journal_reset(&desired);    /* Does not start it either. */
    expect_journal_unusable(&desired, &installed, desired.version);

    /* Started: usable, from its own base only. */
    flowset_journal_start(&desired);
    uint64_t base = desired.version;
    expect_journal_usable(&desired, &installed, base);
    jmutate(&desired, &other, &r);
    jadd_random(&desired, 30, 1, &r);
    expect_journal_usable(&desired, &installed, base);
    expect_journal_unusable(&desired, &installed, base + 1);
    expect_journal_unusable(&desired, &installed, base - 1);
    expect_journal_unusable(&desired, &installed, desired.version);
    expect_journal_unusable(&desired, &installed, 0);

    /* flowset_clear() of an empty set loses nothing. */
    flowset_clear(&other);
    flowset_clear(&installed);
    flowset_clear(&desired);            /* Not empty: lost. */
    expect_journal_unusable(&desired, &installed, base);
    flowset_journal_reset(&desired);
    base = desired.version;
    expect_journal_usable(&desired, &installed, base);
    flowset_clear(&desired);            /* Empty: kept. */
    jfill(&desired, 3);
    expect_journal_usable(&desired, &installed, base);

    /* flowset_swap() loses both sides' journals, even for an empty set. */
    flowset_clone(&installed, &desired);
    flowset_journal_reset(&desired);
    base = desired.version;
    jfill(&other, 4);
    flowset_journal_start(&other);
    uint64_t other_base = other.version;
    flowset_swap(&desired, &other);
    expect_journal_unusable(&desired, &installed, base);
    expect_journal_unusable(&desired, &installed, desired.version);
    expect_journal_unusable(&other, &installed, other_base);
    expect_journal_unusable(&other, &installed, base);
    flowset_journal_reset(&desired);
    flowset_clone(&installed, &desired);
    base = desired.version;
    expect_journal_usable(&desired, &installed, base);
    jmutate(&desired, &other, &r);
    jadd_random(&desired, 31, 2, &r);
    expect_journal_usable(&desired, &installed, base);

    /* flowset_clone() into a journaled set loses its journal. */
    flowset_clone(&desired, &other);
    expect_journal_unusable(&desired, &installed, base);
    flowset_journal_reset(&desired);
    flowset_clone(&installed, &desired);
    base = desired.version;
    expect_journal_usable(&desired, &installed, base);

    /* Cloning *from* a journaled set keeps its journal. */
    jadd_random(&desired, 32, 1, &r);
    flowset_clone(&other, &desired);
    expect_journal_usable(&desired, &installed, base);

    flowset_destroy(&desired);
    flowset_destroy(&installed);
    flowset_destroy(&other);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_dedupe_conflict),
        cmocka_unit_test(test_conj),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_clone_equal_swap),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_insert_remove),
        cmocka_unit_test(test_diff_journal_random),
        cmocka_unit_test(test_diff_journal_unusable),
        cmocka_unit_test(test_portmap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
