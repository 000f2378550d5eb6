/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>
#include "controller/manifest-source.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/k8s-cache.h"
#include "lib/k8s-parse.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "sset.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(manifest_source);

/* How often the directory is rescanned: often without inotify; with it,
 * only as a safety net (inotify reports changes at once).  And the largest
 * file read. */
#define MANIFEST_SCAN_MSEC 200
#define MANIFEST_INOTIFY_SCAN_MSEC 2000
#define MANIFEST_MAX_SIZE (64 * 1024 * 1024)

/* One manifest file as last seen. */
struct manifest_file {
    char *name;                 /* File name, in the directory. */
    struct stat st;             /* To notice changes. */
    json_t *objects;            /* Last good contents (array), or NULL. */
    char *error;                /* Why the current contents are not used. */
    struct shash by_key;        /* manifest_key() -> json_t * in 'objects'
                                 * (the last one), for the kinds we take. */
};

/* Where the objects of one identity (kind, namespace, name) are: each file
 * and object that has it, once per object, in no particular order. */
struct manifest_key {
    enum k8s_kind kind;
    char *namespace;            /* NULL for Namespaces. */
    char *name;
    struct manifest_file **files;
    size_t n, allocated;
};

struct manifest_source {
    char *dir;
    struct shash files;         /* File name -> struct manifest_file. */
    long long int next_scan;
    bool synced;

    /* For rebuilding only what changed: every identity that some file has
     * (or had until the last rebuild), and the identities whose objects
     * were added, changed or removed since the last rebuild. */
    struct shash keys;          /* manifest_key() -> struct manifest_key. */
    struct sset dirty;

    /* inotify on 'dir' (-1 if unavailable: then polling alone).  'wd' is
     * the watch, -1 until it is set up (the directory may not exist
     * yet). */
    int inotify_fd;
    int wd;
    char *dir_error;            /* Last error reading 'dir', to log once. */
};

static bool
manifest_is_candidate(const char *name)
{
    if (name[0] == '.') {
        return false;
    }
    const char *dot = strrchr(name, '.');
    return (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml")
                    || !strcmp(dot, ".json")));
}

static bool
manifest_stat_equal(const struct stat *a, const struct stat *b)
{
    return (a->st_ino == b->st_ino && a->st_size == b->st_size
            && a->st_mtim.tv_sec == b->st_mtim.tv_sec
            && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec);
}

static char *
manifest_read(const char *path, const struct stat *st, json_t **objectsp)
{
    *objectsp = NULL;
    if (st->st_size > MANIFEST_MAX_SIZE) {
        return xasprintf("larger than %d bytes", MANIFEST_MAX_SIZE);
    }

    FILE *stream = fopen(path, "r");
    if (!stream) {
        return xasprintf("cannot open: %s", ovs_strerror(errno));
    }
    struct ds text = DS_EMPTY_INITIALIZER;
    int error;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stream)) > 0) {
        ds_put_buffer(&text, buf, n);
        if (text.length > MANIFEST_MAX_SIZE) {
            break;
        }
    }
    error = ferror(stream) ? errno : 0;
    fclose(stream);
    if (error) {
        ds_destroy(&text);
        return xasprintf("read error: %s", ovs_strerror(error));
    }

    char *msg = k8s_decode_text(text.string ? text.string : "", text.length,
                                objectsp);
    ds_destroy(&text);
    return msg;
}

struct manifest_source *
manifest_source_create(const char *dir)
{
    struct manifest_source *ms = xzalloc(sizeof *ms);
    ms->dir = xstrdup(dir);
    shash_init(&ms->files);
    shash_init(&ms->keys);
    sset_init(&ms->dirty);
    ms->next_scan = LLONG_MIN;
    ms->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ms->inotify_fd < 0) {
        VLOG_WARN("%s: inotify unavailable (%s); polling every %d ms", dir,
                  ovs_strerror(errno), MANIFEST_SCAN_MSEC);
    }
    ms->wd = -1;
    return ms;
}

static void
manifest_file_destroy(struct manifest_file *f)
{
    if (f) {
        shash_destroy(&f->by_key);
        json_decref(f->objects);
        free(f->error);
        free(f->name);
        free(f);
    }
}

/* Returns the identity of 'obj' as a string ("KIND/NAMESPACE/NAME", the
 * namespace as the parser defaults it) and stores its kind in '*kindp', or
 * returns NULL if it is not of a kind we take. */
static char *
manifest_key(const json_t *obj, enum k8s_kind *kindp)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!kind || !k8s_kind_from_string(kind, kindp)) {
        return NULL;
    }
    const json_t *metadata = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(metadata, "name"));
    const json_t *ns = json_object_get(metadata, "namespace");
    const char *ns_s = (*kindp == K8S_KIND_NAMESPACE ? ""
                        : json_is_string(ns) ? json_string_value(ns)
                        : !ns || json_is_null(ns) ? "default" : "");
    return xasprintf("%d/%s/%s", (int) *kindp, ns_s, name ? name : "");
}

/* Adds the objects of 'f' to 'ms->keys' (if 'add') or removes them, and
 * marks their identities dirty. */
static void
manifest_file_index(struct manifest_source *ms, struct manifest_file *f,
                    bool add)
{
    size_t idx;
    json_t *obj;

    if (!f->objects) {
        return;
    }
    json_array_foreach (f->objects, idx, obj) {
        enum k8s_kind kind;
        char *key = manifest_key(obj, &kind);
        if (!key) {
            continue;
        }
        struct manifest_key *mk = shash_find_data(&ms->keys, key);
        if (add) {
            if (!mk) {
                const json_t *md = json_object_get(obj, "metadata");
                const char *ns = json_string_value(json_object_get(md,
                                                            "namespace"));
                const char *name = json_string_value(json_object_get(md,
                                                                "name"));
                mk = xzalloc(sizeof *mk);
                mk->kind = kind;
                mk->namespace = (kind == K8S_KIND_NAMESPACE ? NULL
                                 : xstrdup(ns ? ns : "default"));
                mk->name = xstrdup(name ? name : "");
                shash_add(&ms->keys, key, mk);
            }
            if (mk->n >= mk->allocated) {
                mk->files = x2nrealloc(mk->files, &mk->allocated,
                                       sizeof *mk->files);
            }
            mk->files[mk->n++] = f;
            shash_replace(&f->by_key, key, obj);
        } else if (mk) {
            for (size_t i = 0; i < mk->n; i++) {
                if (mk->files[i] == f) {
                    mk->files[i] = mk->files[--mk->n];
                    break;
                }
            }
        }
        sset_add(&ms->dirty, key);
        free(key);
    }
    if (!add) {
        shash_clear(&f->by_key);
    }
}

/* Replaces the contents of 'f' by 'objects' (a reference is taken over). */
static void
manifest_file_set_objects(struct manifest_source *ms, struct manifest_file *f,
                          json_t *objects)
{
    manifest_file_index(ms, f, false);
    json_decref(f->objects);
    f->objects = objects;
    manifest_file_index(ms, f, true);
}

static void
manifest_key_destroy(struct manifest_key *mk)
{
    if (mk) {
        free(mk->files);
        free(mk->namespace);
        free(mk->name);
        free(mk);
    }
}

void
manifest_source_destroy(struct manifest_source *ms)
{
    if (ms) {
        struct shash_node *node;
        SHASH_FOR_EACH (node, &ms->files) {
            manifest_file_destroy(node->data);
        }
        shash_destroy(&ms->files);
        SHASH_FOR_EACH (node, &ms->keys) {
            manifest_key_destroy(node->data);
        }
        shash_destroy(&ms->keys);
        sset_destroy(&ms->dirty);
        if (ms->inotify_fd >= 0) {
            close(ms->inotify_fd);
        }
        free(ms->dir_error);
        free(ms->dir);
        free(ms);
    }
}

/* Reads the directory; returns true if any file was added, changed or
 * removed. */
static bool
manifest_scan(struct manifest_source *ms)
{
    DIR *d = opendir(ms->dir);
    if (!d) {
        char *error = xasprintf("%s: cannot read manifest directory (%s)",
                                ms->dir, ovs_strerror(errno));
        if (!ms->dir_error || strcmp(error, ms->dir_error)) {
            VLOG_ERR("%s", error);
        }
        free(ms->dir_error);
        ms->dir_error = error;
        return false;
    }
    if (ms->dir_error) {
        VLOG_INFO("%s: manifest directory readable again", ms->dir);
        free(ms->dir_error);
        ms->dir_error = NULL;
    }

    struct shash seen = SHASH_INITIALIZER(&seen);
    bool changed = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!manifest_is_candidate(de->d_name)) {
            continue;
        }
        char *path = xasprintf("%s/%s", ms->dir, de->d_name);
        struct stat st;
        if (stat(path, &st) || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        shash_add_once(&seen, de->d_name, NULL);

        struct manifest_file *f = shash_find_data(&ms->files, de->d_name);
        if (f && manifest_stat_equal(&f->st, &st)) {
            free(path);
            continue;
        }
        if (!f) {
            f = xzalloc(sizeof *f);
            f->name = xstrdup(de->d_name);
            shash_init(&f->by_key);
            shash_add(&ms->files, de->d_name, f);
        }
        f->st = st;
        changed = true;

        json_t *objects;
        char *error = manifest_read(path, &st, &objects);
        free(f->error);
        f->error = error;
        if (error) {
            VLOG_ERR("%s: %s%s", path, error,
                     f->objects ? "; keeping its previous contents" : "");
        } else {
            manifest_file_set_objects(ms, f, objects);
        }
        free(path);
    }
    closedir(d);

    struct shash_node *node, *next;
    SHASH_FOR_EACH_SAFE (node, next, &ms->files) {
        if (!shash_find(&seen, node->name)) {
            VLOG_INFO("%s/%s: removed", ms->dir, node->name);
            manifest_file_index(ms, node->data, false);
            manifest_file_destroy(node->data);
            shash_delete(&ms->files, node);
            changed = true;
        }
    }
    shash_destroy(&seen);
    return changed;
}

/* Rebuilds 'cache' from the last good contents of every file, in file name
 * order; a later object of the same kind and name replaces an earlier one. */
static void
manifest_rebuild_full(struct manifest_source *ms, struct kcache *cache)
{
    const struct shash_node **files = shash_sort(&ms->files);
    size_t n_objects = 0, n_errors = 0;

    kcache_clear(cache);
    for (size_t i = 0; i < shash_count(&ms->files); i++) {
        const struct manifest_file *f = files[i]->data;
        size_t idx;
        json_t *obj;

        if (!f->objects) {
            continue;
        }
        json_array_foreach (f->objects, idx, obj) {
            const char *kind = json_string_value(json_object_get(obj,
                                                                 "kind"));
            enum k8s_kind k;
            if (!kind || !k8s_kind_from_string(kind, &k)) {
                char *what = k8s_describe(obj, "object");
                VLOG_WARN("%s/%s: %s: kind not handled, ignoring",
                          ms->dir, files[i]->name, what);
                free(what);
                continue;
            }
            char *error = kcache_upsert(cache, kind, obj);
            if (error) {
                VLOG_ERR("%s/%s: %s", ms->dir, files[i]->name, error);
                free(error);
                n_errors++;
            }
            n_objects++;
        }
    }
    free(files);
    VLOG_INFO("%s: loaded %"PRIuSIZE" objects from %"PRIuSIZE" files "
              "(%"PRIuSIZE" with errors)", ms->dir, n_objects,
              shash_count(&ms->files), n_errors);
}

/* Sets up the inotify watch on the directory if it is not there yet.
 * Called before a scan, so that no change between the two is missed. */
static void
manifest_watch(struct manifest_source *ms)
{
    if (ms->inotify_fd >= 0 && ms->wd < 0) {
        ms->wd = inotify_add_watch(ms->inotify_fd, ms->dir,
                                   IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE
                                   | IN_MOVED_FROM | IN_CREATE | IN_ATTRIB
                                   | IN_DELETE_SELF | IN_MOVE_SELF);
    }
}

/* Reads every pending inotify event.  Returns true if one of them calls
 * for a scan: a change to a file we read, or to the directory itself
 * (which then needs a new watch), or a lost event. */
static bool
manifest_drain_events(struct manifest_source *ms)
{
    bool scan = false;

    if (ms->inotify_fd < 0) {
        return false;
    }
    for (;;) {
        char buf[4096]
            __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n = read(ms->inotify_fd, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        for (char *p = buf; p < buf + n; ) {
            const struct inotify_event *ev = ALIGNED_CAST(
                const struct inotify_event *, p);
            if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF
                            | IN_MOVE_SELF)) {
                scan = true;
                if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)
                    && ev->wd == ms->wd) {
                    inotify_rm_watch(ms->inotify_fd, ms->wd);
                    ms->wd = -1;
                }
            } else if (ev->len && manifest_is_candidate(ev->name)) {
                scan = true;
            }
            p += sizeof *ev + ev->len;
        }
    }
    return scan;
}

/* Brings 'cache' up to date with the files.  Only the objects whose
 * identity is dirty are removed and parsed again, which gives the same
 * cache as manifest_rebuild_full() as long as each of them appears once in
 * all the files; if one appears more than once (where file order and
 * parse errors decide which one counts), or on the first load, the cache
 * is rebuilt from every file. */
static void
manifest_rebuild(struct manifest_source *ms, struct kcache *cache)
{
    bool full = !ms->synced;
    const char *key;

    SSET_FOR_EACH (key, &ms->dirty) {
        const struct manifest_key *mk = shash_find_data(&ms->keys, key);
        if (mk && mk->n > 1) {
            full = true;
            break;
        }
    }

    if (full) {
        manifest_rebuild_full(ms, cache);
    } else {
        SSET_FOR_EACH (key, &ms->dirty) {
            const struct manifest_key *mk = shash_find_data(&ms->keys, key);
            if (!mk) {
                continue;
            }
            kcache_remove(cache, mk->kind, mk->namespace, mk->name);
            if (mk->n == 1) {
                const struct manifest_file *f = mk->files[0];
                const json_t *obj = shash_find_data(&f->by_key, key);
                char *error = kcache_upsert(cache, NULL, obj);
                if (error) {
                    VLOG_ERR("%s/%s: %s", ms->dir, f->name, error);
                    free(error);
                }
            }
        }
        VLOG_DBG("%s: updated %"PRIuSIZE" objects", ms->dir,
                 sset_count(&ms->dirty));
    }

    /* Forget the identities no file has any more. */
    SSET_FOR_EACH (key, &ms->dirty) {
        struct shash_node *node = shash_find(&ms->keys, key);
        struct manifest_key *mk = node ? node->data : NULL;
        if (mk && !mk->n) {
            manifest_key_destroy(mk);
            shash_delete(&ms->keys, node);
        }
    }
    sset_clear(&ms->dirty);
}

void
manifest_source_run(struct manifest_source *ms, struct kcache *cache)
{
    long long int now = time_msec();
    bool event = manifest_drain_events(ms);
    if (now < ms->next_scan && !event) {
        return;
    }
    manifest_watch(ms);
    ms->next_scan = now + (ms->wd >= 0 ? MANIFEST_INOTIFY_SCAN_MSEC
                           : MANIFEST_SCAN_MSEC);

    bool changed = manifest_scan(ms);
    if (changed || (!ms->synced && !ms->dir_error)) {
        manifest_rebuild(ms, cache);
        ms->synced = true;
    }
}

void
manifest_source_wait(struct manifest_source *ms)
{
    poll_timer_wait_until(ms->next_scan);
    if (ms->wd >= 0) {
        poll_fd_wait(ms->inotify_fd, POLLIN);
    }
}

bool
manifest_source_is_synced(const struct manifest_source *ms)
{
    return ms->synced;
}

void
manifest_source_dump(const struct manifest_source *ms, struct ds *s)
{
    const struct shash_node **files = shash_sort(&ms->files);

    ds_put_format(s, "manifest directory %s: %s\n", ms->dir,
                  ms->dir_error ? ms->dir_error
                  : ms->synced ? "synced" : "not read yet");
    for (size_t i = 0; i < shash_count(&ms->files); i++) {
        const struct manifest_file *f = files[i]->data;
        ds_put_format(s, "  %s: %"PRIuSIZE" objects%s%s\n", files[i]->name,
                      f->objects ? json_array_size(f->objects) : 0,
                      f->error ? "; error: " : "",
                      f->error ? f->error : "");
    }
    free(files);
}
