/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_OFSYNC_H
#define NETPOL_OFSYNC_H 1

/* Keeps the bridge's flow table equal to a desired flow set.
 *
 * Owns an OpenFlow 1.5 connection to the bridge's management socket (its
 * own, on a stream: each bundle goes out in one write; see ofsync.c).  On
 * every (re)connect it reads the flows the bridge has with our cookies
 * (category bits, netpol/pipeline.h) and reconciles them with the desired
 * set in one atomic bundle: no flush-then-fill, so a reconnect or a restart
 * with unchanged inputs sends nothing.  After that, each change of the
 * desired set goes out as the difference from what is installed, as one
 * OFPBF_ATOMIC|OFPBF_ORDERED bundle; the installed set is updated only once
 * the switch has acknowledged the commit.  Flows whose cookie has no
 * category bits belong to others and are never touched.
 *
 * A lost connection is retried every second, and at once when a "unix:"
 * target's socket file is replaced (a restarted ovs-vswitchd): a switch
 * without our flows forwards nothing (docs/hitless.md). */

#include <stdbool.h>
#include <stdint.h>

struct ds;
struct flowset;

struct ofsync *ofsync_create(const char *target);
void ofsync_destroy(struct ofsync *);

/* Retargets the connection (e.g. when the bridge name is known). */
void ofsync_set_target(struct ofsync *, const char *target);

/* Connects, reconciles, and sends the difference between 'desired' and
 * what is installed, if nothing is in flight.  'desired' may be NULL: then
 * nothing new is sent (the controller is not ready to say what it wants).
 * If 'desired' keeps a journal (flowset_journal_start()), compares only the
 * flows it names and then resets it.  Never blocks. */
void ofsync_run(struct ofsync *, struct flowset *desired);
void ofsync_wait(struct ofsync *);

bool ofsync_is_connected(const struct ofsync *);

/* True if the switch has acknowledged a state equal to 'desired'.  Looks
 * at the version of 'desired' that ofsync_run() last compared with the
 * switch, not at the flows: call ofsync_run() after changing 'desired'. */
bool ofsync_is_synced(const struct ofsync *, const struct flowset *desired);

/* A value that changes whenever the OpenFlow connection is made or
 * dropped: ofsync_is_synced() with the same value twice means the same
 * ovs-vswitchd has our flows. */
unsigned int ofsync_connection_seqno(const struct ofsync *);

/* Counters for tests and benchmarks: bundles committed and flow changes
 * sent since creation (a flow that a delete by cookie removes counts as
 * one). */
uint64_t ofsync_n_bundles(const struct ofsync *);
uint64_t ofsync_n_flow_mods(const struct ofsync *);

/* Wall-clock times (microseconds since the epoch, 0 if none yet) at which
 * the last committed bundle was sent and its commit acknowledged. */
void ofsync_last_bundle_times(const struct ofsync *, long long int *sent,
                              long long int *acked);

/* Appends the installed flows (flowset_format syntax) to 's'. */
void ofsync_dump_installed(const struct ofsync *, struct ds *s);
void ofsync_dump_status(const struct ofsync *, struct ds *s);

#endif /* controller/ofsync.h */
