/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>
#include "controller/manifest-source.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/k8s-cache.h"
#include "lib/k8s-parse.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(manifest_source);

/* How often the directory is rescanned, and the largest file read. */
#define MANIFEST_SCAN_MSEC 200
#define MANIFEST_MAX_SIZE (64 * 1024 * 1024)

/* One manifest file as last seen. */
struct manifest_file {
    struct stat st;             /* To notice changes. */
    json_t *objects;            /* Last good contents (array), or NULL. */
    char *error;                /* Why the current contents are not used. */
};

struct manifest_source {
    char *dir;
    struct shash files;         /* File name -> struct manifest_file. */
    long long int next_scan;
    bool synced;
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
    ms->next_scan = LLONG_MIN;
    return ms;
}

static void
manifest_file_destroy(struct manifest_file *f)
{
    if (f) {
        json_decref(f->objects);
        free(f->error);
        free(f);
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
            json_decref(f->objects);
            f->objects = objects;
        }
        free(path);
    }
    closedir(d);

    struct shash_node *node, *next;
    SHASH_FOR_EACH_SAFE (node, next, &ms->files) {
        if (!shash_find(&seen, node->name)) {
            VLOG_INFO("%s/%s: removed", ms->dir, node->name);
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
manifest_rebuild(struct manifest_source *ms, struct kcache *cache)
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

void
manifest_source_run(struct manifest_source *ms, struct kcache *cache)
{
    long long int now = time_msec();
    if (now < ms->next_scan) {
        return;
    }
    ms->next_scan = now + MANIFEST_SCAN_MSEC;

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
