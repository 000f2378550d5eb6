/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "lib/flow-set.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "util.h"

/* The hash of a flow's key.  The table and priority go into the basis, so
 * that flows with the same match in different tables spread out. */
static uint32_t
np_flow_key_hash(uint8_t table_id, uint16_t priority,
                 const struct minimatch *match)
{
    return minimatch_hash(match, hash_2words(table_id, priority));
}

static bool
np_flow_key_equal(const struct np_flow *flow, uint8_t table_id,
                  uint16_t priority, const struct minimatch *match)
{
    return (flow->table_id == table_id
            && flow->priority == priority
            && minimatch_equal(&flow->match, match));
}

/* Zeroes the bytes of 'ofpacts' that carry no meaning, so that equal
 * actions compare equal bytewise.  ofpact_put_set_field() and OpenFlow
 * decoding leave the alignment padding after a set_field's value and mask
 * uninitialized. */
static void
np_ofpacts_sanitize(struct ofpact *ofpacts, size_t ofpacts_len)
{
    struct ofpact *a;

    OFPACT_FOR_EACH (a, ofpacts, ofpacts_len) {
        switch (a->type) {
        case OFPACT_SET_FIELD: {
            struct ofpact_set_field *sf = ofpact_get_SET_FIELD(a);
            size_t n = sf->field->n_bytes;
            size_t pad = ROUND_UP(n, OFPACT_ALIGNTO) - n;
            memset((uint8_t *) sf->value + n, 0, pad);
            memset((uint8_t *) ofpact_set_field_mask(sf) + n, 0, pad);
            break;
        }
        case OFPACT_CT: {
            struct ofpact_conntrack *ct = ofpact_get_CT(a);
            np_ofpacts_sanitize(ct->actions, ofpact_ct_get_action_len(ct));
            break;
        }
        case OFPACT_CLONE:
        case OFPACT_WRITE_ACTIONS: {
            struct ofpact_nest *on = ALIGNED_CAST(struct ofpact_nest *, a);
            np_ofpacts_sanitize(on->actions, ofpact_nest_get_action_len(on));
            break;
        }
        default:
            break;
        }
    }
}

/* Returns the flow in 'fs' with the given key and precomputed 'hash', or
 * NULL. */
static struct np_flow *
flowset_find__(const struct flowset *fs, uint8_t table_id, uint16_t priority,
               const struct minimatch *match, uint32_t hash)
{
    struct np_flow *flow;

    HMAP_FOR_EACH_WITH_HASH (flow, node, hash, &fs->flows) {
        if (np_flow_key_equal(flow, table_id, priority, match)) {
            return flow;
        }
    }
    return NULL;
}

/* Returns the flow in 'fs' with the same key as 'key', or NULL. */
static struct np_flow *
flowset_find_same_key(const struct flowset *fs, const struct np_flow *key)
{
    return flowset_find__(fs, key->table_id, key->priority, &key->match,
                          key->node.hash);
}

static void
np_flow_destroy(struct np_flow *flow)
{
    if (flow) {
        minimatch_destroy(&flow->match);
        free(flow->ofpacts);
        free(flow->conjs);
        free(flow);
    }
}

static struct np_flow *
np_flow_clone(const struct np_flow *src)
{
    struct np_flow *dst = xzalloc(sizeof *dst);

    dst->table_id = src->table_id;
    dst->priority = src->priority;
    dst->cookie = src->cookie;
    minimatch_clone(&dst->match, &src->match);
    if (src->ofpacts_len) {
        dst->ofpacts = xmemdup(src->ofpacts, src->ofpacts_len);
        dst->ofpacts_len = src->ofpacts_len;
    }
    if (src->n_conjs) {
        dst->conjs = xmemdup(src->conjs, src->n_conjs * sizeof *src->conjs);
        dst->n_conjs = dst->allocated_conjs = src->n_conjs;
    }
    return dst;
}

/* A flow's key, in a journal. */
struct np_flow_key {
    struct hmap_node node;      /* Hash as the flow's. */
    uint8_t table_id;
    uint16_t priority;
    struct minimatch match;
};

/* A journal longer than this costs more than it saves: give up. */
#define FLOWSET_JOURNAL_MAX 65536

static void
flowset_journal_clear__(struct flowset *fs)
{
    struct np_flow_key *k;

    HMAP_FOR_EACH_POP (k, node, &fs->journal) {
        minimatch_destroy(&k->match);
        free(k);
    }
}

static void
flowset_journal_lose(struct flowset *fs)
{
    if (fs->journaling && !fs->journal_lost) {
        flowset_journal_clear__(fs);
        fs->journal_lost = true;
    }
}

/* Records that the flow with the key of 'flow' changed. */
static void
flowset_journal_note(struct flowset *fs, const struct np_flow *flow)
{
    struct np_flow_key *k;

    if (!fs->journaling || fs->journal_lost) {
        return;
    }
    HMAP_FOR_EACH_WITH_HASH (k, node, flow->node.hash, &fs->journal) {
        if (np_flow_key_equal(flow, k->table_id, k->priority, &k->match)) {
            return;
        }
    }
    if (hmap_count(&fs->journal) >= FLOWSET_JOURNAL_MAX) {
        flowset_journal_lose(fs);
        return;
    }
    k = xmalloc(sizeof *k);
    k->table_id = flow->table_id;
    k->priority = flow->priority;
    minimatch_clone(&k->match, &flow->match);
    hmap_insert(&fs->journal, &k->node, flow->node.hash);
}

void
flowset_journal_start(struct flowset *fs)
{
    fs->journaling = true;
    flowset_journal_reset(fs);
}

void
flowset_journal_reset(struct flowset *fs)
{
    flowset_journal_clear__(fs);
    fs->journal_lost = false;
    fs->journal_base = fs->version;
}

/* Gives 'fs' a new version: its contents (may) have changed. */
static void
flowset_touch(struct flowset *fs)
{
    static uint64_t next_version;
    fs->version = __atomic_add_fetch(&next_version, 1, __ATOMIC_RELAXED);
}

void
flowset_init(struct flowset *fs)
{
    hmap_init(&fs->flows);
    fs->journaling = fs->journal_lost = false;
    fs->journal_base = 0;
    hmap_init(&fs->journal);
    flowset_touch(fs);
}

void
flowset_destroy(struct flowset *fs)
{
    if (fs) {
        flowset_clear(fs);
        hmap_destroy(&fs->flows);
        flowset_journal_clear__(fs);
        hmap_destroy(&fs->journal);
    }
}

void
flowset_clear(struct flowset *fs)
{
    struct np_flow *flow;

    if (!hmap_is_empty(&fs->flows)) {
        flowset_journal_lose(fs);
    }
    HMAP_FOR_EACH_POP (flow, node, &fs->flows) {
        np_flow_destroy(flow);
    }
    flowset_touch(fs);
}

void
flowset_swap(struct flowset *a, struct flowset *b)
{
    hmap_swap(&a->flows, &b->flows);

    /* A journal describes its own set's history, which does not move. */
    flowset_journal_lose(a);
    flowset_journal_lose(b);

    /* The versions describe the contents: they move with them. */
    uint64_t tmp = a->version;
    a->version = b->version;
    b->version = tmp;
}

/* Replaces the contents of 'dst' (which must be initialized) by a deep copy
 * of 'src'. */
void
flowset_clone(struct flowset *dst, const struct flowset *src)
{
    const struct np_flow *flow;

    flowset_clear(dst);
    flowset_journal_lose(dst);
    hmap_reserve(&dst->flows, hmap_count(&src->flows));
    FLOWSET_FOR_EACH (flow, src) {
        struct np_flow *copy = np_flow_clone(flow);
        hmap_insert(&dst->flows, &copy->node, flow->node.hash);
    }
    flowset_touch(dst);
}

size_t
flowset_count(const struct flowset *fs)
{
    return hmap_count(&fs->flows);
}

/* Creates a flow with the given key and cookie and no actions, inserts it
 * into 'fs', and returns it.  Takes ownership of 'match'. */
static struct np_flow *
flowset_insert__(struct flowset *fs, uint8_t table_id, uint16_t priority,
                 uint64_t cookie, struct minimatch *match, uint32_t hash)
{
    struct np_flow *flow = xzalloc(sizeof *flow);

    flow->table_id = table_id;
    flow->priority = priority;
    flow->cookie = cookie;
    minimatch_move(&flow->match, match);
    hmap_insert(&fs->flows, &flow->node, hash);
    flowset_journal_note(fs, flow);
    flowset_touch(fs);
    return flow;
}

static bool np_flow_actions_equal(const struct np_flow *,
                                  const struct np_flow *);

bool
flowset_add(struct flowset *fs, uint8_t table_id, uint16_t priority,
            uint64_t cookie, const struct match *match,
            const struct ofpbuf *ofpacts)
{
    const struct ofpact *acts = ofpacts ? ofpacts->data : NULL;
    size_t acts_len = ofpacts ? ofpacts->size : 0;
    struct minimatch mm;
    bool ok = true;

    minimatch_init(&mm, match);
    uint32_t hash = np_flow_key_hash(table_id, priority, &mm);
    struct np_flow *flow = flowset_find__(fs, table_id, priority, &mm, hash);
    if (flow) {
        struct np_flow tmp = {
            .ofpacts = acts_len ? xmemdup(acts, acts_len) : NULL,
            .ofpacts_len = acts_len,
        };
        np_ofpacts_sanitize(tmp.ofpacts, tmp.ofpacts_len);
        ok = (flow->cookie == cookie
              && !flow->n_conjs
              && np_flow_actions_equal(flow, &tmp));
        free(tmp.ofpacts);
        minimatch_destroy(&mm);
    } else {
        flow = flowset_insert__(fs, table_id, priority, cookie, &mm, hash);
        if (acts_len) {
            flow->ofpacts = xmemdup(acts, acts_len);
            flow->ofpacts_len = acts_len;
            np_ofpacts_sanitize(flow->ofpacts, acts_len);
        }
    }
    return ok;
}

static int
np_conj_compare(const struct np_conj *a, const struct np_conj *b)
{
    if (a->id != b->id) {
        return a->id < b->id ? -1 : 1;
    } else if (a->clause != b->clause) {
        return a->clause < b->clause ? -1 : 1;
    } else if (a->n_clauses != b->n_clauses) {
        return a->n_clauses < b->n_clauses ? -1 : 1;
    } else {
        return 0;
    }
}

/* Inserts 'conj' into 'flow''s sorted conjunction array, unless it is
 * already there. */
static void
np_flow_insert_conj(struct np_flow *flow, const struct np_conj *conj)
{
    /* Binary search for the first element not less than 'conj'. */
    size_t lo = 0, hi = flow->n_conjs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (np_conj_compare(&flow->conjs[mid], conj) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < flow->n_conjs && !np_conj_compare(&flow->conjs[lo], conj)) {
        return;
    }

    if (flow->n_conjs >= flow->allocated_conjs) {
        flow->conjs = x2nrealloc(flow->conjs, &flow->allocated_conjs,
                                 sizeof *flow->conjs);
    }
    memmove(&flow->conjs[lo + 1], &flow->conjs[lo],
            (flow->n_conjs - lo) * sizeof *flow->conjs);
    flow->conjs[lo] = *conj;
    flow->n_conjs++;
}

bool
flowset_add_conj(struct flowset *fs, uint8_t table_id, uint16_t priority,
                 uint64_t cookie, const struct match *match,
                 uint32_t id, uint8_t clause, uint8_t n_clauses)
{
    const struct np_conj conj = {
        .id = id,
        .clause = clause,
        .n_clauses = n_clauses,
    };
    struct minimatch mm;

    minimatch_init(&mm, match);
    uint32_t hash = np_flow_key_hash(table_id, priority, &mm);
    struct np_flow *flow = flowset_find__(fs, table_id, priority, &mm, hash);
    if (flow) {
        minimatch_destroy(&mm);
        if (flow->cookie != cookie || !flow->n_conjs) {
            return false;
        }
    } else {
        flow = flowset_insert__(fs, table_id, priority, cookie, &mm, hash);
    }
    np_flow_insert_conj(flow, &conj);
    flowset_journal_note(fs, flow);
    flowset_touch(fs);
    return true;
}

struct np_flow *
flowset_find(const struct flowset *fs, uint8_t table_id, uint16_t priority,
             const struct match *match)
{
    struct minimatch mm;

    minimatch_init(&mm, match);
    struct np_flow *flow = flowset_find__(
        fs, table_id, priority, &mm, np_flow_key_hash(table_id, priority,
                                                      &mm));
    minimatch_destroy(&mm);
    return flow;
}

struct np_flow *
flowset_insert_copy(struct flowset *fs, const struct np_flow *flow)
{
    struct np_flow *copy = np_flow_clone(flow);

    hmap_insert(&fs->flows, &copy->node, flow->node.hash);
    flowset_journal_note(fs, copy);
    flowset_touch(fs);
    return copy;
}

void
flowset_remove(struct flowset *fs, struct np_flow *flow)
{
    flowset_journal_note(fs, flow);
    hmap_remove(&fs->flows, &flow->node);
    np_flow_destroy(flow);
    flowset_touch(fs);
}

struct np_flow *
flowset_find_flow(const struct flowset *fs, const struct np_flow *flow)
{
    return flowset_find_same_key(fs, flow);
}

/* Replaces the contents of 'out' by 'ofpacts' as the switch would give them
 * back in a flow dump: encoded as OpenFlow 1.5 instructions and decoded
 * again.  Actions record how they were encoded (e.g. "load" vs "set_field",
 * both OFPACT_SET_FIELD), so the compiler's actions and the dumped ones can
 * differ bytewise and textually while meaning the same.  Returns false if
 * the actions do not survive the round trip, leaving 'out' with a copy of
 * 'ofpacts'. */
static bool
np_ofpacts_normalize(const struct ofpact *ofpacts, size_t ofpacts_len,
                     struct ofpbuf *out)
{
    uint64_t stub[1024 / 8];
    struct ofpbuf of = OFPBUF_STUB_INITIALIZER(stub);

    ofpbuf_clear(out);
    ofpacts_put_openflow_instructions(ofpacts, ofpacts_len, &of,
                                      OFP15_VERSION);
    size_t of_len = of.size;
    enum ofperr error = ofpacts_pull_openflow_instructions(
        &of, of_len, OFP15_VERSION, NULL, NULL, out);
    ofpbuf_uninit(&of);
    if (error) {
        ofpbuf_clear(out);
        ofpbuf_put(out, ofpacts, ofpacts_len);
    }
    np_ofpacts_sanitize(out->data, out->size);
    return !error;
}

/* True if 'a' and 'b' have the same actions.
 *
 * Actions decoded from OpenFlow (e.g. from a flow dump) may differ bytewise
 * from the ones the compiler built, in members that only record how the
 * action was encoded, so a bytewise mismatch falls back to comparing the
 * actions as they come back from the switch. */
static bool
np_flow_actions_equal(const struct np_flow *a, const struct np_flow *b)
{
    if (a->n_conjs != b->n_conjs) {
        return false;
    }
    for (size_t i = 0; i < a->n_conjs; i++) {
        if (np_conj_compare(&a->conjs[i], &b->conjs[i])) {
            return false;
        }
    }
    if (ofpacts_equal(a->ofpacts, a->ofpacts_len,
                      b->ofpacts, b->ofpacts_len)) {
        return true;
    } else if (!a->ofpacts_len || !b->ofpacts_len) {
        return false;
    }

    struct ofpbuf na, nb;
    ofpbuf_init(&na, a->ofpacts_len);
    ofpbuf_init(&nb, b->ofpacts_len);
    np_ofpacts_normalize(a->ofpacts, a->ofpacts_len, &na);
    np_ofpacts_normalize(b->ofpacts, b->ofpacts_len, &nb);
    bool equal = ofpacts_equal(na.data, na.size, nb.data, nb.size);
    ofpbuf_uninit(&na);
    ofpbuf_uninit(&nb);
    return equal;
}

bool
np_flow_equal(const struct np_flow *a, const struct np_flow *b)
{
    return (a->table_id == b->table_id
            && a->priority == b->priority
            && a->cookie == b->cookie
            && minimatch_equal(&a->match, &b->match)
            && np_flow_actions_equal(a, b));
}

bool
flowset_equal(const struct flowset *a, const struct flowset *b)
{
    const struct np_flow *fa;

    if (flowset_count(a) != flowset_count(b)) {
        return false;
    }
    FLOWSET_FOR_EACH (fa, a) {
        const struct np_flow *fb = flowset_find_same_key(b, fa);
        if (!fb || fb->cookie != fa->cookie
            || !np_flow_actions_equal(fa, fb)) {
            return false;
        }
    }
    return true;
}

void
np_flow_get_ofpacts(const struct np_flow *flow, struct ofpbuf *ofpacts)
{
    if (flow->ofpacts_len) {
        ofpbuf_put(ofpacts, flow->ofpacts, flow->ofpacts_len);
    }
    for (size_t i = 0; i < flow->n_conjs; i++) {
        const struct np_conj *c = &flow->conjs[i];
        struct ofpact_conjunction *oc = ofpact_put_CONJUNCTION(ofpacts);

        oc->id = c->id;
        oc->clause = c->clause - 1;  /* ofpact_conjunction's is 0-based. */
        oc->n_clauses = c->n_clauses;
    }
}

void
np_flow_format(const struct np_flow *flow, struct ds *s)
{
    struct match match;

    ds_put_format(s, "cookie=0x%"PRIx64", table=%"PRIu8", ",
                  flow->cookie, flow->table_id);

    /* match_format() omits the default priority; we always print it. */
    if (flow->priority == OFP_DEFAULT_PRIORITY) {
        ds_put_format(s, "priority=%"PRIu16",", flow->priority);
    }
    minimatch_expand(&flow->match, &match);
    match_format(&match, NULL, s, flow->priority);
    ds_chomp(s, ',');
    ds_put_cstr(s, " actions=");

    /* Print the actions as a flow dump from the switch would show them. */
    uint64_t stub[1024 / 8], stub2[1024 / 8];
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);
    struct ofpbuf normalized = OFPBUF_STUB_INITIALIZER(stub2);
    np_flow_get_ofpacts(flow, &ofpacts);
    np_ofpacts_normalize(ofpacts.data, ofpacts.size, &normalized);
    struct ofpact_format_params fp = { .s = s };
    ofpacts_format(normalized.data, normalized.size, &fp);
    ofpbuf_uninit(&ofpacts);
    ofpbuf_uninit(&normalized);
}

struct flowset_line {
    uint8_t table_id;
    uint16_t priority;
    char *text;
};

/* Orders lines by table, then by descending priority (the order in which a
 * packet meets them), then by text. */
static int
flowset_line_compare(const void *a_, const void *b_)
{
    const struct flowset_line *a = a_;
    const struct flowset_line *b = b_;

    if (a->table_id != b->table_id) {
        return a->table_id < b->table_id ? -1 : 1;
    } else if (a->priority != b->priority) {
        return a->priority > b->priority ? -1 : 1;
    } else {
        return strcmp(a->text, b->text);
    }
}

void
flowset_format(const struct flowset *fs, struct ds *s)
{
    size_t n = flowset_count(fs);
    struct flowset_line *lines = xmalloc(MAX(n, 1) * sizeof *lines);
    struct ds line = DS_EMPTY_INITIALIZER;
    const struct np_flow *flow;
    size_t i = 0;

    FLOWSET_FOR_EACH (flow, fs) {
        ds_clear(&line);
        np_flow_format(flow, &line);
        lines[i].table_id = flow->table_id;
        lines[i].priority = flow->priority;
        lines[i].text = xstrdup(ds_cstr(&line));
        i++;
    }
    ds_destroy(&line);

    qsort(lines, n, sizeof *lines, flowset_line_compare);
    for (i = 0; i < n; i++) {
        ds_put_format(s, "%s\n", lines[i].text);
        free(lines[i].text);
    }
    free(lines);
}

/* A growing array of changes. */
struct flowset_changes {
    struct flowset_change *changes;
    size_t n, allocated;
};

/* Appends to 'cs' what turns 'i', the installed flow with some key, into
 * 'd', the desired flow with the same key (either may be NULL): with
 * 'deletions', only a deletion (the key is gone, or its cookie changed: a
 * MODIFY cannot change a cookie), otherwise only an addition or a
 * modification.  Diffs make one pass of each, deletions first. */
static void
flowset_diff_key(const struct np_flow *d, const struct np_flow *i,
                 bool deletions, struct flowset_changes *cs)
{
    enum flowset_change_type type;
    const struct np_flow *flow;

    if (deletions) {
        if (!i || (d && d->cookie == i->cookie)) {
            return;
        }
        type = FLOWSET_DELETE;
        flow = i;
    } else if (!d) {
        return;
    } else if (!i || i->cookie != d->cookie) {
        type = FLOWSET_ADD;
        flow = d;
    } else if (!np_flow_actions_equal(d, i)) {
        type = FLOWSET_MODIFY;
        flow = d;
    } else {
        return;
    }

    if (cs->n >= cs->allocated) {
        cs->changes = x2nrealloc(cs->changes, &cs->allocated,
                                 sizeof *cs->changes);
    }
    cs->changes[cs->n].type = type;
    cs->changes[cs->n].flow = flow;
    cs->n++;
}

void
flowset_diff(const struct flowset *desired, const struct flowset *installed,
             struct flowset_change **changesp, size_t *n_changesp)
{
    struct flowset_changes cs = { .changes = NULL };
    const struct np_flow *flow;

    FLOWSET_FOR_EACH (flow, installed) {
        flowset_diff_key(flowset_find_same_key(desired, flow), flow, true,
                         &cs);
    }
    FLOWSET_FOR_EACH (flow, desired) {
        flowset_diff_key(flow, flowset_find_same_key(installed, flow), false,
                         &cs);
    }
    *changesp = cs.changes;
    *n_changesp = cs.n;
}

bool
flowset_diff_journal(const struct flowset *desired,
                     const struct flowset *installed, uint64_t base,
                     struct flowset_change **changesp, size_t *n_changesp)
{
    if (!desired->journaling || desired->journal_lost
        || desired->journal_base != base) {
        return false;
    }

    struct flowset_changes cs = { .changes = NULL };
    const struct np_flow_key *k;

    /* Two passes, deletions first, as flowset_diff() orders them. */
    for (int pass = 0; pass < 2; pass++) {
        HMAP_FOR_EACH (k, node, &desired->journal) {
            flowset_diff_key(flowset_find__(desired, k->table_id, k->priority,
                                            &k->match, k->node.hash),
                             flowset_find__(installed, k->table_id,
                                            k->priority, &k->match,
                                            k->node.hash),
                             !pass, &cs);
        }
    }
    *changesp = cs.changes;
    *n_changesp = cs.n;
    return true;
}
