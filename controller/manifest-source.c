/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>
#include "controller/manifest-source.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
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
#include "openvswitch/vlog.h"
#include "sset.h"
#include "svec.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(manifest_source);

/* How often the directory is rescanned: often without inotify; with it,
 * only as a safety net (inotify reports changes at once).  And the largest
 * file read. */
#define MANIFEST_SCAN_MSEC 200
#define MANIFEST_INOTIFY_SCAN_MSEC 2000
#define MANIFEST_MAX_SIZE (64 * 1024 * 1024)

/* One manifest file as last seen.
 *
 * Only the text of the last good contents is kept, not its decoded JSON,
 * which takes about ten times as much memory: the text is decoded again
 * when the objects are needed (a full rebuild, or an object whose
 * duplicate elsewhere went away), one file at a time. */
struct manifest_file {
    char *name;                 /* File name, in the directory. */
    struct stat st;             /* To notice changes. */
    char *text;                 /* Last good contents, or NULL. */
    size_t text_len;
    size_t n_objects;           /* Objects in 'text'. */
    struct svec keys;           /* manifest_key() of each object of a kind
                                 * we take, in order. */
    char *error;                /* Why the current contents are not used. */

    /* New contents read by the last scan, not yet decoded. */
    char *new_text;
    size_t new_len;
    bool has_new;

    /* During a rebuild only: 'text' decoded, and its objects by key (the
     * last of each key). */
    json_t *objects;
    struct shash by_key;
};

/* Where the objects of one identity (kind, namespace, name) are: each file
 * that has one, once per object, in no particular order. */
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

    /* For updating only what changed: every identity some file has (or
     * had until the last rebuild), and the identities whose objects were
     * added, changed or removed since the last rebuild. */
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

/* Reads 'path' into '*textp' and '*lenp'.  Returns NULL or an error. */
static char *
manifest_read(const char *path, const struct stat *st, char **textp,
              size_t *lenp)
{
    *textp = NULL;
    *lenp = 0;
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
    *lenp = text.length;
    *textp = ds_steal_cstr(&text);
    return NULL;
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

/* Forgets the decoded objects of 'f'. */
static void
manifest_file_release(struct manifest_file *f)
{
    shash_clear(&f->by_key);
    json_decref(f->objects);
    f->objects = NULL;
}

static void
manifest_file_destroy(struct manifest_file *f)
{
    if (f) {
        manifest_file_release(f);
        shash_destroy(&f->by_key);
        svec_destroy(&f->keys);
        free(f->text);
        free(f->new_text);
        free(f->error);
        free(f->name);
        free(f);
    }
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

/* Returns the identity of 'obj' as a string ("KIND/NAMESPACE/NAME", with
 * the namespace the parser defaults to) and stores its kind, namespace and
 * name in the out-parameters, or returns NULL if 'obj' is not of a kind we
 * take. */
static char *
manifest_key(const json_t *obj, enum k8s_kind *kindp, const char **nsp,
             const char **namep)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!kind || !k8s_kind_from_string(kind, kindp)) {
        return NULL;
    }
    const json_t *metadata = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(metadata, "name"));
    const json_t *ns = json_object_get(metadata, "namespace");
    *nsp = (*kindp == K8S_KIND_NAMESPACE ? NULL
            : json_is_string(ns) ? json_string_value(ns)
            : !ns || json_is_null(ns) ? "default" : "");
    *namep = name ? name : "";
    return xasprintf("%d/%s/%s", (int) *kindp, *nsp ? *nsp : "", *namep);
}

/* Marks the objects of 'f' (its 'keys') as gone from it. */
static void
manifest_file_unindex(struct manifest_source *ms, struct manifest_file *f)
{
    const char *key;
    size_t i;

    SVEC_FOR_EACH (i, key, &f->keys) {
        struct manifest_key *mk = shash_find_data(&ms->keys, key);
        for (size_t j = 0; mk && j < mk->n; j++) {
            if (mk->files[j] == f) {
                mk->files[j] = mk->files[--mk->n];
                break;
            }
        }
        sset_add(&ms->dirty, key);
    }
    svec_clear(&f->keys);
}

/* Records the objects of 'f->objects' as the file's and indexes them by
 * key. */
static void
manifest_file_index(struct manifest_source *ms, struct manifest_file *f)
{
    size_t idx;
    json_t *obj;

    json_array_foreach (f->objects, idx, obj) {
        enum k8s_kind kind;
        const char *ns, *name;
        char *key = manifest_key(obj, &kind, &ns, &name);
        if (!key) {
            continue;
        }
        struct manifest_key *mk = shash_find_data(&ms->keys, key);
        if (!mk) {
            mk = xzalloc(sizeof *mk);
            mk->kind = kind;
            mk->namespace = nullable_xstrdup(ns);
            mk->name = xstrdup(name);
            shash_add(&ms->keys, key, mk);
        }
        if (mk->n >= mk->allocated) {
            mk->files = x2nrealloc(mk->files, &mk->allocated,
                                   sizeof *mk->files);
        }
        mk->files[mk->n++] = f;
        svec_add(&f->keys, key);
        sset_add(&ms->dirty, key);
        free(key);
    }
}

/* Decodes the last good text of 'f' into 'f->objects', if it is not
 * decoded yet, and indexes the objects by key if 'by_key'. */
static void
manifest_file_decode(const struct manifest_source *ms,
                     struct manifest_file *f, bool by_key)
{
    if (!f->objects && f->text) {
        char *error = k8s_decode_text(f->text, f->text_len, &f->objects);
        if (error) {
            /* It decoded before: only memory exhaustion could do this. */
            VLOG_ERR("%s/%s: %s", ms->dir, f->name, error);
            free(error);
        }
    }
    if (by_key && f->objects && shash_is_empty(&f->by_key)) {
        size_t idx;
        json_t *obj;
        json_array_foreach (f->objects, idx, obj) {
            enum k8s_kind kind;
            const char *ns, *name;
            char *key = manifest_key(obj, &kind, &ns, &name);
            if (key) {
                shash_replace(&f->by_key, key, obj);
                free(key);
            }
        }
    }
}

/* Decodes the new contents of 'f' read by the last scan.  If they are
 * good, they replace the old ones (the objects stay decoded in
 * 'f->objects' until manifest_release_all()); otherwise the error is
 * reported and the old contents stay. */
static void
manifest_file_take_new(struct manifest_source *ms, struct manifest_file *f)
{
    json_t *objects;
    char *error = k8s_decode_text(f->new_text ? f->new_text : "",
                                  f->new_len, &objects);

    f->has_new = false;
    if (error) {
        VLOG_ERR("%s/%s: %s%s", ms->dir, f->name, error,
                 f->text ? "; keeping its previous contents" : "");
        free(f->error);
        f->error = error;
        free(f->new_text);
        f->new_text = NULL;
        return;
    }

    manifest_file_unindex(ms, f);
    manifest_file_release(f);
    free(f->error);
    f->error = NULL;
    free(f->text);
    f->text = f->new_text;
    f->text_len = f->new_len;
    f->new_text = NULL;
    f->objects = objects;
    f->n_objects = json_array_size(objects);
    manifest_file_index(ms, f);
}

/* Forgets the file of 'node', which is gone from the directory. */
static void
manifest_file_remove(struct manifest_source *ms, struct shash_node *node)
{
    VLOG_INFO("%s/%s: removed", ms->dir, node->name);
    manifest_file_unindex(ms, node->data);
    manifest_file_destroy(node->data);
    shash_delete(&ms->files, node);
}

/* Brings what we know of the file 'name' of the directory up to date:
 * stats it and, if it is new or its stat changed since it was last read,
 * reads its new contents (decoded later, by manifest_rebuild()); if it is
 * no longer there as a regular file, forgets it.  Returns true if the file
 * was added, changed or removed. */
static bool
manifest_file_refresh(struct manifest_source *ms, const char *name)
{
    struct shash_node *node = shash_find(&ms->files, name);
    struct manifest_file *f = node ? node->data : NULL;
    char *path = xasprintf("%s/%s", ms->dir, name);
    struct stat st;

    if (stat(path, &st) || !S_ISREG(st.st_mode)) {
        free(path);
        if (node) {
            manifest_file_remove(ms, node);
            return true;
        }
        return false;
    }
    if (f && manifest_stat_equal(&f->st, &st)) {
        free(path);
        return false;
    }
    if (!f) {
        f = xzalloc(sizeof *f);
        f->name = xstrdup(name);
        svec_init(&f->keys);
        shash_init(&f->by_key);
        shash_add(&ms->files, name, f);
    }
    f->st = st;

    char *text;
    size_t len;
    char *error = manifest_read(path, &st, &text, &len);
    free(f->new_text);
    f->new_text = NULL;
    f->has_new = false;
    if (error) {
        VLOG_ERR("%s: %s%s", path, error,
                 f->text ? "; keeping its previous contents" : "");
        free(f->error);
        f->error = error;
    } else {
        f->new_text = text;
        f->new_len = len;
        f->has_new = true;
    }
    free(path);
    return true;
}

/* Reads the whole directory; returns true if any file was added, changed
 * or removed.  New contents are only read here, not decoded. */
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

    struct sset seen = SSET_INITIALIZER(&seen);
    bool changed = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (manifest_is_candidate(de->d_name)) {
            changed |= manifest_file_refresh(ms, de->d_name);
            sset_add(&seen, de->d_name);
        }
    }
    closedir(d);

    struct shash_node *node, *next;
    SHASH_FOR_EACH_SAFE (node, next, &ms->files) {
        if (!sset_contains(&seen, node->name)) {
            manifest_file_remove(ms, node);
            changed = true;
        }
    }
    sset_destroy(&seen);
    return changed;
}

/* Looks again at the files of the directory named in 'names' (by inotify
 * events) only; returns true if any of them was added, changed or
 * removed.  New contents are only read here, not decoded. */
static bool
manifest_scan_names(struct manifest_source *ms, const struct sset *names)
{
    bool changed = false;
    const char *name;

    SSET_FOR_EACH (name, names) {
        changed |= manifest_file_refresh(ms, name);
    }
    return changed;
}

/* Adds the objects of 'f->objects' to 'cache'; returns the number of
 * objects and adds the number that had errors to '*n_errors'. */
static size_t
manifest_load_file(const struct manifest_source *ms,
                   const struct manifest_file *f, struct kcache *cache,
                   size_t *n_errors)
{
    size_t idx, n = 0;
    json_t *obj;

    if (!f->objects) {
        return 0;
    }
    json_array_foreach (f->objects, idx, obj) {
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        enum k8s_kind k;
        if (!kind || !k8s_kind_from_string(kind, &k)) {
            char *what = k8s_describe(obj, "object");
            VLOG_WARN("%s/%s: %s: kind not handled, ignoring",
                      ms->dir, f->name, what);
            free(what);
            continue;
        }
        char *error = kcache_upsert(cache, kind, obj);
        if (error) {
            VLOG_ERR("%s/%s: %s", ms->dir, f->name, error);
            free(error);
            (*n_errors)++;
        }
        n++;
    }
    return n;
}

/* Rebuilds 'cache' from the last good contents of every file, in file name
 * order; a later object of the same kind and name replaces an earlier one.
 * Decodes one file at a time (taking new contents as it goes) and forgets
 * its objects before the next, so that the decoded JSON of all files is
 * never in memory at once. */
static void
manifest_rebuild_full(struct manifest_source *ms, struct kcache *cache)
{
    const struct shash_node **files = shash_sort(&ms->files);
    size_t n_objects = 0, n_errors = 0;

    kcache_clear(cache);
    for (size_t i = 0; i < shash_count(&ms->files); i++) {
        struct manifest_file *f = files[i]->data;

        if (f->has_new) {
            manifest_file_take_new(ms, f);
        }
        manifest_file_decode(ms, f, false);
        n_objects += manifest_load_file(ms, f, cache, &n_errors);
        manifest_file_release(f);
    }
    free(files);
    VLOG_INFO("%s: loaded %"PRIuSIZE" objects from %"PRIuSIZE" files "
              "(%"PRIuSIZE" with errors)", ms->dir, n_objects,
              shash_count(&ms->files), n_errors);
}

/* Brings 'cache' up to date with the files.  On the first load, the cache
 * is built from every file.  After that, only the objects whose identity
 * is dirty are removed and parsed again: that gives the same cache as a
 * full rebuild as long as each of them appears once in all the files; if
 * one appears more than once (where file order and parse errors decide
 * which one counts), the cache is rebuilt from every file. */
static void
manifest_rebuild(struct manifest_source *ms, struct kcache *cache)
{
    struct shash_node *node;
    const char *key;

    if (!ms->synced) {
        manifest_rebuild_full(ms, cache);
        goto done;
    }

    SHASH_FOR_EACH (node, &ms->files) {
        struct manifest_file *f = node->data;
        if (f->has_new) {
            manifest_file_take_new(ms, f);
        }
    }

    bool full = false;
    SSET_FOR_EACH (key, &ms->dirty) {
        const struct manifest_key *mk = shash_find_data(&ms->keys, key);
        if (mk && mk->n > 1) {
            full = true;
            break;
        }
    }
    if (full) {
        manifest_rebuild_full(ms, cache);
        goto done;
    }

    size_t n_errors = 0;
    SSET_FOR_EACH (key, &ms->dirty) {
        const struct manifest_key *mk = shash_find_data(&ms->keys, key);
        if (!mk) {
            continue;
        }
        kcache_remove(cache, mk->kind, mk->namespace, mk->name);
        if (mk->n == 1) {
            struct manifest_file *f = mk->files[0];
            manifest_file_decode(ms, f, true);
            const json_t *obj = shash_find_data(&f->by_key, key);
            char *error = obj ? kcache_upsert(cache, NULL, obj) : NULL;
            if (error) {
                VLOG_ERR("%s/%s: %s", ms->dir, f->name, error);
                free(error);
                n_errors++;
            }
        }
    }
    VLOG_DBG("%s: updated %"PRIuSIZE" objects (%"PRIuSIZE" with errors)",
             ms->dir, sset_count(&ms->dirty), n_errors);

done:
    /* Forget decoded objects and the identities no file has any more. */
    SHASH_FOR_EACH (node, &ms->files) {
        manifest_file_release(node->data);
    }
    SSET_FOR_EACH (key, &ms->dirty) {
        struct shash_node *kn = shash_find(&ms->keys, key);
        struct manifest_key *mk = kn ? kn->data : NULL;
        if (mk && !mk->n) {
            manifest_key_destroy(mk);
            shash_delete(&ms->keys, kn);
        }
    }
    sset_clear(&ms->dirty);
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

/* Reads every pending inotify event and adds to 'names' the file we read
 * that each one names.  Returns true if one of them calls for a full scan
 * instead: a change to the directory itself (which then needs a new
 * watch), a lost event, or an event from a watch other than the current
 * one. */
static bool
manifest_drain_events(struct manifest_source *ms, struct sset *names)
{
    /* A read that leaves this much room emptied the queue. */
    enum { EVENT_MAX = sizeof(struct inotify_event) + NAME_MAX + 1 };
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
                if (ev->wd == ms->wd) {
                    sset_add(names, ev->name);
                } else {
                    scan = true;
                }
            }
            p += sizeof *ev + ev->len;
        }
        if ((size_t) n <= sizeof buf - EVENT_MAX) {
            break;
        }
    }
    return scan;
}

/* With a working inotify watch, only the files that events name are looked
 * at again.  The whole directory is scanned instead on the first load,
 * while it cannot be read, without a watch (polling), after an event about
 * the directory itself or a lost event, and every
 * MANIFEST_INOTIFY_SCAN_MSEC as a safety net (events do not postpone
 * that). */
void
manifest_source_run(struct manifest_source *ms, struct kcache *cache)
{
    struct sset names = SSET_INITIALIZER(&names);
    long long int now = time_msec();
    bool scan = manifest_drain_events(ms, &names);
    bool changed;

    if (now >= ms->next_scan
        || (!sset_is_empty(&names)
            && (!ms->synced || ms->dir_error || ms->wd < 0))) {
        scan = true;
    }
    if (scan) {
        manifest_watch(ms);
        ms->next_scan = now + (ms->wd >= 0 ? MANIFEST_INOTIFY_SCAN_MSEC
                               : MANIFEST_SCAN_MSEC);
        changed = manifest_scan(ms);
    } else if (!sset_is_empty(&names)) {
        changed = manifest_scan_names(ms, &names);
    } else {
        sset_destroy(&names);
        return;
    }
    sset_destroy(&names);

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
                      f->text ? f->n_objects : 0,
                      f->error ? "; error: " : "",
                      f->error ? f->error : "");
    }
    free(files);
}
