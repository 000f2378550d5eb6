/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_MANIFEST_SOURCE_H
#define NETPOL_MANIFEST_SOURCE_H 1

/* Kubernetes objects from a directory of manifests: every *.yaml, *.yml and
 * *.json file directly in the directory (hidden files excluded), each with
 * one object, several YAML documents or a v1 List.  The directory is
 * watched with inotify, which names the files to look at again (the whole
 * directory is rescanned every few seconds as a safety net) or, where
 * inotify is unavailable, rescanned a few times a second.  Only files that
 * were added or changed are read and parsed again, and only the objects
 * they define or defined are updated in the cache (all of it is rebuilt
 * when one object is defined in several files).  A file that cannot be
 * read or parsed is reported and its last good contents stay in effect; an
 * object that cannot be parsed is reported by file and object. */

#include <stdbool.h>

struct ds;
struct kcache;

struct manifest_source *manifest_source_create(const char *dir);
void manifest_source_destroy(struct manifest_source *);

/* Reads what changed and brings 'cache' up to date with it. */
void manifest_source_run(struct manifest_source *, struct kcache *cache);
void manifest_source_wait(struct manifest_source *);

/* True once the directory has been read at least once. */
bool manifest_source_is_synced(const struct manifest_source *);

void manifest_source_dump(const struct manifest_source *, struct ds *);

#endif /* controller/manifest-source.h */
