/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_FLOW_SET_H
#define NETPOL_FLOW_SET_H 1

/* A set of OpenFlow flows keyed by (table, priority, match).
 *
 * The compiler builds the desired set; the OpenFlow module keeps the set it
 * has installed; flowset_diff() turns the two into flow_mods.  A key appears
 * once: rules that need the same match at the same priority share one flow,
 * which carries each rule's conjunction() action.  Matches are stored as
 * minimatches to keep large sets small. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/hmap.h"
#include "openvswitch/match.h"

struct ds;
struct ofpbuf;

/* One conjunction(id, clause/n_clauses) action. */
struct np_conj {
    uint32_t id;
    uint8_t clause;             /* 1-based. */
    uint8_t n_clauses;
};

struct np_flow {
    struct hmap_node node;      /* In struct flowset, by table+prio+match. */
    uint8_t table_id;
    uint16_t priority;
    uint64_t cookie;
    struct minimatch match;

    /* A flow has either ordinary actions or conjunction actions. */
    struct ofpact *ofpacts;     /* Ordinary actions, NULL if none. */
    size_t ofpacts_len;         /* In bytes. */
    struct np_conj *conjs;      /* Sorted by id, then clause. */
    size_t n_conjs, allocated_conjs;
};

struct flowset {
    struct hmap flows;          /* Contains "struct np_flow"s. */

    /* 'version' takes a new value, unique among all flow sets, at every
     * change through the functions below, so that a user can tell whether
     * a set changed since it last looked (ofsync: whether the switch has
     * it).  Flows in a set must be changed only through these functions. */
    uint64_t version;

    /* Journal (flowset_journal_start()): the keys of the flows added,
     * changed or removed since the set had version 'journal_base', so that
     * comparing it with a copy of the set as it was then need look only at
     * those.  'journal_lost' if it could not keep track (clear, swap, clone,
     * too many changes). */
    bool journaling;
    bool journal_lost;
    uint64_t journal_base;
    struct hmap journal;        /* struct np_flow_key. */
};

void flowset_init(struct flowset *);
void flowset_destroy(struct flowset *);
void flowset_clear(struct flowset *);
void flowset_swap(struct flowset *, struct flowset *);
void flowset_clone(struct flowset *dst, const struct flowset *src);
size_t flowset_count(const struct flowset *);

#define FLOWSET_FOR_EACH(FLOW, FLOWSET) \
    HMAP_FOR_EACH (FLOW, node, &(FLOWSET)->flows)

/* Adds a flow with ordinary actions 'ofpacts' (may be empty: drop).  If the
 * key already exists with the same actions and cookie, nothing changes and
 * true is returned; if it exists with different content, the set keeps the
 * first and returns false (a caller bug or a conflict to report). */
bool flowset_add(struct flowset *, uint8_t table_id, uint16_t priority,
                 uint64_t cookie, const struct match *,
                 const struct ofpbuf *ofpacts);

/* Adds conjunction('id', 'clause'/'n_clauses') to the flow with the given
 * key, creating the flow if needed.  Adding the same conjunction twice is a
 * no-op.  Returns false, changing nothing, if the key is taken by a flow
 * with ordinary actions or another cookie. */
bool flowset_add_conj(struct flowset *, uint8_t table_id, uint16_t priority,
                      uint64_t cookie, const struct match *,
                      uint32_t id, uint8_t clause, uint8_t n_clauses);

struct np_flow *flowset_find(const struct flowset *, uint8_t table_id,
                             uint16_t priority, const struct match *);

/* Inserts a deep copy of 'flow', whose key must not be in the set yet, and
 * returns the copy. */
struct np_flow *flowset_insert_copy(struct flowset *, const struct np_flow *);

/* Removes 'flow', which must be in 'fs', from 'fs' and frees it. */
void flowset_remove(struct flowset *, struct np_flow *);

/* Returns the flow in 'fs' with the same key as 'flow' (which may belong to
 * another set), or NULL. */
struct np_flow *flowset_find_flow(const struct flowset *,
                                  const struct np_flow *);

/* Starts keeping the journal of 'fs' (see struct flowset), from its
 * current version. */
void flowset_journal_start(struct flowset *);

/* Empties the journal: it then lists changes from the current version. */
void flowset_journal_reset(struct flowset *);

/* True if 'a' and 'b' hold flows with the same keys, cookies and
 * actions. */
bool flowset_equal(const struct flowset *a, const struct flowset *b);

/* True if 'a' and 'b' have the same key, cookie and actions. */
bool np_flow_equal(const struct np_flow *a, const struct np_flow *b);

/* Appends the flow's complete action list (conjunctions included) to
 * 'ofpacts'. */
void np_flow_get_ofpacts(const struct np_flow *, struct ofpbuf *ofpacts);

/* Appends the flow to 's' in "ovs-ofctl dump-flows" syntax, without
 * statistics: "cookie=0x.., table=N, priority=P,MATCH actions=ACTIONS". */
void np_flow_format(const struct np_flow *, struct ds *s);

/* Appends every flow, one per line, sorted, to 's'.  Lines are sorted by
 * table, then by descending priority, then by text. */
void flowset_format(const struct flowset *, struct ds *s);

/* The difference that turns 'installed' into 'desired'. */
enum flowset_change_type {
    FLOWSET_ADD,        /* Key only in desired. */
    FLOWSET_MODIFY,     /* Same key and cookie, other actions. */
    FLOWSET_DELETE,     /* Key only in installed (or cookie changed). */
};
struct flowset_change {
    enum flowset_change_type type;
    const struct np_flow *flow; /* ADD/MODIFY: desired; DELETE: installed. */
};

/* Stores in '*changesp' a malloc'ed array of the changes and in '*n_changesp'
 * their number.  Deletions come first, so that a key whose cookie changed is
 * deleted before it is added back. */
void flowset_diff(const struct flowset *desired,
                  const struct flowset *installed,
                  struct flowset_change **changesp, size_t *n_changesp);

/* Like flowset_diff(), for an 'installed' that held the same flows as
 * 'desired' when 'desired' had version 'base', looking only at the flows
 * the journal of 'desired' names.  Returns false, computing nothing, if
 * the journal cannot tell (not kept, lost, or kept since another
 * version). */
bool flowset_diff_journal(const struct flowset *desired,
                          const struct flowset *installed, uint64_t base,
                          struct flowset_change **changesp,
                          size_t *n_changesp);

#endif /* lib/flow-set.h */
