/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "lib/cni-config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "packets.h"
#include "sha1.h"
#include "smap.h"
#include "sset.h"
#include "util.h"

const char *const cni_supported_versions[] = { "1.0.0", "1.1.0" };
const size_t cni_n_supported_versions = ARRAY_SIZE(cni_supported_versions);

/* The version reported by VERSION when stdin names none. */
#define CNI_LATEST_VERSION "1.1.0"

const char *
cni_command_to_string(enum cni_command command)
{
    switch (command) {
    case CNI_CMD_ADD: return "ADD";
    case CNI_CMD_DEL: return "DEL";
    case CNI_CMD_CHECK: return "CHECK";
    case CNI_CMD_VERSION: return "VERSION";
    case CNI_CMD_GC: return "GC";
    case CNI_CMD_STATUS: return "STATUS";
    }
    OVS_NOT_REACHED();
}

static bool
cni_command_from_string(const char *s, enum cni_command *commandp)
{
    static const enum cni_command commands[] = {
        CNI_CMD_ADD, CNI_CMD_DEL, CNI_CMD_CHECK, CNI_CMD_VERSION,
        CNI_CMD_GC, CNI_CMD_STATUS,
    };

    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (!strcmp(s, cni_command_to_string(commands[i]))) {
            *commandp = commands[i];
            return true;
        }
    }
    return false;
}

/* Errors. */

struct cni_error *
cni_error_create(int code, const char *format, ...)
{
    struct cni_error *error = xzalloc(sizeof *error);
    va_list args;

    va_start(args, format);
    error->code = code;
    error->msg = xvasprintf(format, args);
    va_end(args);
    return error;
}

/* Sets the 'details' of 'error', replacing any earlier ones. */
void
cni_error_set_details(struct cni_error *error, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    free(error->details);
    error->details = xvasprintf(format, args);
    va_end(args);
}

/* Prepends context to the message of 'error': "<context>: <msg>". */
void
cni_error_prefix(struct cni_error *error, const char *format, ...)
{
    va_list args;
    char *prefix;

    va_start(args, format);
    prefix = xvasprintf(format, args);
    va_end(args);

    char *msg = xasprintf("%s: %s", prefix, error->msg);
    free(prefix);
    free(error->msg);
    error->msg = msg;
}

void
cni_error_destroy(struct cni_error *error)
{
    if (error) {
        free(error->msg);
        free(error->details);
        free(error);
    }
}

/* Parses 'text' as the error JSON of a CNI plugin ({"code": N, "msg": ...,
 * "details": ...}).  Returns NULL if 'text' is not such an object. */
struct cni_error *
cni_error_parse(const char *text)
{
    json_t *root = text ? json_loads(text, 0, NULL) : NULL;
    struct cni_error *error = NULL;

    if (json_is_object(root)) {
        json_t *code = json_object_get(root, "code");
        json_t *msg = json_object_get(root, "msg");
        json_t *details = json_object_get(root, "details");

        if (json_is_integer(code)) {
            error = cni_error_create(json_integer_value(code), "%s",
                                     json_is_string(msg)
                                     ? json_string_value(msg) : "");
            if (json_is_string(details) && json_string_value(details)[0]) {
                cni_error_set_details(error, "%s",
                                      json_string_value(details));
            }
        }
    }
    json_decref(root);
    return error;
}

/* Returns the spec's error JSON for 'error', as a malloc'ed string. */
char *
cni_error_to_json(const char *cni_version, const struct cni_error *error)
{
    json_t *root = json_pack("{s:s, s:i, s:s}",
                             "cniVersion", cni_version,
                             "code", error->code,
                             "msg", error->msg);
    if (error->details) {
        json_object_set_new(root, "details",
                            json_pack("s", error->details));
    }

    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

/* The environment. */

static const char *
cni_env_get(char *const envp[], const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; envp[i]; i++) {
        if (!strncmp(envp[i], name, len) && envp[i][len] == '=') {
            return envp[i] + len + 1;
        }
    }
    return NULL;
}

static char *
cni_env_dup(char *const envp[], const char *name)
{
    const char *value = cni_env_get(envp, name);
    return value && value[0] ? xstrdup(value) : NULL;
}

/* Returns true if 'name' may name a network interface: the rules libcni
 * enforces (non-empty, shorter than IFNAMSIZ, not "." or "..", no '/',
 * ':' or whitespace). */
bool
cni_ifname_is_valid(const char *name)
{
    if (!name || !name[0] || strlen(name) >= 16
        || !strcmp(name, ".") || !strcmp(name, "..")) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (*p == '/' || *p == ':' || isspace((unsigned char) *p)) {
            return false;
        }
    }
    return true;
}

/* Returns true if 's' starts with an alphanumeric character and continues
 * with alphanumerics, '_', '.' and '-' only (container ids and network
 * names). */
static bool
cni_is_identifier(const char *s)
{
    if (!s || !isalnum((unsigned char) s[0])) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char) *p) && !strchr("_.-", *p)) {
            return false;
        }
    }
    return true;
}

bool
cni_container_id_is_valid(const char *id)
{
    return cni_is_identifier(id);
}

/* Parses the CNI_* variables out of 'envp' (a NULL-terminated array of
 * "NAME=VALUE" strings, as 'environ') into 'env'.  Checks that the
 * variables that the command needs are present and well formed.  On error,
 * returns an error with code CNI_ERR_INVALID_ENV whose message names the
 * variables, and leaves 'env' untouched. */
struct cni_error *
cni_env_parse(char *const envp[], struct cni_env *env)
{
    const char *command_s = cni_env_get(envp, "CNI_COMMAND");
    enum cni_command command;

    if (!command_s || !command_s[0]) {
        return cni_error_create(CNI_ERR_INVALID_ENV,
                                "required env variables [CNI_COMMAND] "
                                "missing");
    }
    if (!cni_command_from_string(command_s, &command)) {
        return cni_error_create(CNI_ERR_INVALID_ENV,
                                "unknown CNI_COMMAND: %s", command_s);
    }

    /* Which variables each command requires. */
    bool need_id = false, need_netns = false, need_ifname = false;
    bool need_path = false;
    switch (command) {
    case CNI_CMD_ADD:
    case CNI_CMD_CHECK:
        need_netns = true;
        /* Fall through. */
    case CNI_CMD_DEL:
        need_id = need_ifname = need_path = true;
        break;
    case CNI_CMD_GC:
    case CNI_CMD_STATUS:
        need_path = true;
        break;
    case CNI_CMD_VERSION:
        break;
    }

    struct cni_env e = {
        .command = command,
        .container_id = cni_env_dup(envp, "CNI_CONTAINERID"),
        .netns = cni_env_dup(envp, "CNI_NETNS"),
        .ifname = cni_env_dup(envp, "CNI_IFNAME"),
        .args = cni_env_dup(envp, "CNI_ARGS"),
        .path = cni_env_dup(envp, "CNI_PATH"),
    };

    struct ds missing = DS_EMPTY_INITIALIZER;
    if (need_id && !e.container_id) {
        ds_put_cstr(&missing, " CNI_CONTAINERID");
    }
    if (need_netns && !e.netns) {
        ds_put_cstr(&missing, " CNI_NETNS");
    }
    if (need_ifname && !e.ifname) {
        ds_put_cstr(&missing, " CNI_IFNAME");
    }
    if (need_path && !e.path) {
        ds_put_cstr(&missing, " CNI_PATH");
    }

    struct cni_error *error = NULL;
    if (missing.length) {
        error = cni_error_create(CNI_ERR_INVALID_ENV,
                                 "required env variables [%s] missing",
                                 ds_cstr(&missing) + 1);
    } else if (e.container_id && !cni_container_id_is_valid(e.container_id)) {
        error = cni_error_create(CNI_ERR_INVALID_ENV,
                                 "invalid CNI_CONTAINERID \"%s\": must start "
                                 "with an alphanumeric character, followed "
                                 "by alphanumerics, '_', '.' or '-'",
                                 e.container_id);
    } else if (e.ifname && !cni_ifname_is_valid(e.ifname)) {
        error = cni_error_create(CNI_ERR_INVALID_ENV,
                                 "invalid CNI_IFNAME \"%s\": must have 1 to "
                                 "15 characters, not be \".\" or \"..\" and "
                                 "contain no '/', ':' or whitespace",
                                 e.ifname);
    }
    ds_destroy(&missing);

    if (error) {
        cni_env_destroy(&e);
        return error;
    }
    *env = e;
    return NULL;
}

void
cni_env_destroy(struct cni_env *env)
{
    if (env) {
        free(env->container_id);
        free(env->netns);
        free(env->ifname);
        free(env->args);
        free(env->path);
    }
}

/* CNI_ARGS. */

/* Parses 'args', CNI_ARGS in the form "K1=V1;K2=V2", into 'map' (which the
 * caller has initialized).  Empty items are ignored; a key that appears
 * twice keeps its last value.  A NULL 'args' is empty. */
struct cni_error *
cni_args_parse(const char *args, struct smap *map)
{
    struct smap result = SMAP_INITIALIZER(&result);
    char *copy = xstrdup(args ? args : "");
    char *save_ptr = NULL;
    struct cni_error *error = NULL;

    for (char *item = strtok_r(copy, ";", &save_ptr); item;
         item = strtok_r(NULL, ";", &save_ptr)) {
        char *eq = strchr(item, '=');
        if (!eq || eq == item) {
            error = cni_error_create(CNI_ERR_INVALID_ENV,
                                     "invalid CNI_ARGS: \"%s\" is not "
                                     "KEY=VALUE", item);
            break;
        }
        *eq = '\0';
        smap_replace(&result, item, eq + 1);
    }
    free(copy);

    if (error) {
        smap_destroy(&result);
    } else {
        struct smap_node *node;
        SMAP_FOR_EACH (node, &result) {
            smap_replace(map, node->key, node->value);
        }
        smap_destroy(&result);
    }
    return error;
}

/* Returns CNI_ARGS for an IPAM delegate: 'args' (which may be NULL) with
 * "IgnoreUnknown=1", so that host-local, which rejects keys it does not
 * know, accepts K8S_POD_NAME and friends.  Keeps the order of the other
 * items; an "IgnoreUnknown" with another value is replaced. */
char *
cni_args_for_ipam(const char *args)
{
    struct ds out = DS_EMPTY_INITIALIZER;
    char *copy = xstrdup(args ? args : "");
    char *save_ptr = NULL;

    ds_put_cstr(&out, "IgnoreUnknown=1");
    for (char *item = strtok_r(copy, ";", &save_ptr); item;
         item = strtok_r(NULL, ";", &save_ptr)) {
        if (!strncmp(item, "IgnoreUnknown=", 14)) {
            continue;
        }
        ds_put_format(&out, ";%s", item);
    }
    free(copy);
    return ds_steal_cstr(&out);
}

/* Versions. */

bool
cni_version_is_supported(const char *version)
{
    for (size_t i = 0; i < cni_n_supported_versions; i++) {
        if (!strcmp(version, cni_supported_versions[i])) {
            return true;
        }
    }
    return false;
}

static char *
cni_supported_versions_string(void)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_char(&s, '[');
    for (size_t i = 0; i < cni_n_supported_versions; i++) {
        ds_put_format(&s, "%s\"%s\"", i ? " " : "",
                      cni_supported_versions[i]);
    }
    ds_put_char(&s, ']');
    return ds_steal_cstr(&s);
}

static struct cni_error *
cni_incompatible_version(const char *version)
{
    struct cni_error *error = cni_error_create(CNI_ERR_INCOMPATIBLE_VERSION,
                                               "incompatible CNI versions");
    char *supported = cni_supported_versions_string();
    cni_error_set_details(error, "config is \"%s\", plugin supports %s",
                          version, supported);
    free(supported);
    return error;
}

/* Returns true if 'text' is empty or only white space. */
static bool
cni_is_blank(const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        if (!isspace((unsigned char) *p)) {
            return false;
        }
    }
    return true;
}

/* Handles the VERSION command: 'text' is stdin, {"cniVersion": "x"} or
 * empty.  On success stores the reply JSON in '*replyp'. */
struct cni_error *
cni_version_reply(const char *text, char **replyp)
{
    const char *version = CNI_LATEST_VERSION;
    json_t *root = NULL;

    if (!cni_is_blank(text)) {
        json_error_t jerror;
        root = json_loads(text, 0, &jerror);
        if (!json_is_object(root)) {
            json_decref(root);
            return cni_error_create(CNI_ERR_DECODE,
                                    "failed to decode VERSION input: %s",
                                    root ? "not a JSON object" : jerror.text);
        }
        json_t *v = json_object_get(root, "cniVersion");
        if (json_is_string(v)) {
            version = json_string_value(v);
        }
    }

    json_t *versions = json_pack("[]");
    for (size_t i = 0; i < cni_n_supported_versions; i++) {
        json_array_append_new(versions,
                              json_pack("s", cni_supported_versions[i]));
    }
    json_t *reply = json_pack("{s:s, s:o}", "cniVersion", version,
                              "supportedVersions", versions);
    *replyp = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    json_decref(root);
    return NULL;
}

/* Returns the "cniVersion" string of the JSON in 'text', or NULL if there
 * is none: the version to put into an error for that input. */
char *
cni_stdin_version(const char *text)
{
    json_t *root = text ? json_loads(text, 0, NULL) : NULL;
    json_t *v = json_is_object(root)
                ? json_object_get(root, "cniVersion") : NULL;
    char *version = json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;

    json_decref(root);
    return version;
}

/* Returns true if 'version_reply', a plugin's VERSION output, lists
 * 'version' among its "supportedVersions". */
bool
cni_version_list_contains(const char *version_reply, const char *version)
{
    json_t *root = json_loads(version_reply ? version_reply : "", 0, NULL);
    json_t *list = json_object_get(root, "supportedVersions");
    bool found = false;

    for (size_t i = 0; json_is_array(list) && i < json_array_size(list);
         i++) {
        const char *s = json_string_value(json_array_get(list, i));
        if (s && !strcmp(s, version)) {
            found = true;
        }
    }
    json_decref(root);
    return found;
}

/* Network configuration. */

/* Reads the optional string member 'key' of 'obj' into '*valuep' (NULL if
 * absent).  Returns an error if it is present but not a non-empty
 * string. */
static struct cni_error *
cni_get_string(const json_t *obj, const char *where, const char *key,
               char **valuep)
{
    json_t *v = json_object_get(obj, key);

    *valuep = NULL;
    if (!v || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_string(v) || !json_string_value(v)[0]) {
        return cni_error_create(CNI_ERR_INVALID_CONFIG,
                                "invalid network configuration: %s\"%s\" "
                                "must be a non-empty string", where, key);
    }
    *valuep = xstrdup(json_string_value(v));
    return NULL;
}

/* Reads the optional member 'key' of 'obj', a time in milliseconds between 1
 * and 600000, into '*msp', which keeps its value if 'key' is absent. */
static struct cni_error *
cni_get_ms(const json_t *obj, const char *key, int *msp)
{
    json_t *v = json_object_get(obj, key);

    if (!v || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1
        || json_integer_value(v) > 600000) {
        return cni_error_create(CNI_ERR_INVALID_CONFIG,
                                "invalid network configuration: \"%s\" "
                                "must be an integer between 1 and 600000",
                                key);
    }
    *msp = json_integer_value(v);
    return NULL;
}

/* Parses 'text', the request configuration a runtime gives the plugin on
 * stdin, into 'conf'.  'ovs_rundir' is the directory of OVS's db.sock for
 * the default "ovsdb".  Returns an error with code CNI_ERR_DECODE for
 * malformed JSON, CNI_ERR_INCOMPATIBLE_VERSION for an unsupported
 * "cniVersion" and CNI_ERR_INVALID_CONFIG otherwise; on error 'conf' is
 * untouched. */
struct cni_error *
cni_netconf_parse(const char *text, const char *ovs_rundir,
                  struct cni_netconf *conf)
{
    struct cni_netconf c = { .json = NULL };
    struct cni_error *error = NULL;
    json_error_t jerror;

    if (cni_is_blank(text)) {
        return cni_error_create(CNI_ERR_DECODE,
                                "failed to decode network configuration: "
                                "stdin is empty");
    }
    c.json = json_loads(text, 0, &jerror);
    if (!c.json) {
        error = cni_error_create(CNI_ERR_DECODE,
                                 "failed to decode network configuration: "
                                 "%s", jerror.text);
        cni_error_set_details(error, "at line %d, column %d",
                              jerror.line, jerror.column);
        return error;
    }
    if (!json_is_object(c.json)) {
        error = cni_error_create(CNI_ERR_DECODE,
                                 "failed to decode network configuration: "
                                 "not a JSON object");
        goto exit;
    }

    error = cni_get_string(c.json, "", "cniVersion", &c.cni_version);
    if (error) {
        goto exit;
    } else if (!c.cni_version) {
        error = cni_error_create(CNI_ERR_INVALID_CONFIG,
                                 "invalid network configuration: "
                                 "\"cniVersion\" is missing");
        goto exit;
    } else if (!cni_version_is_supported(c.cni_version)) {
        error = cni_incompatible_version(c.cni_version);
        goto exit;
    }

    error = cni_get_string(c.json, "", "name", &c.name);
    if (!error && !c.name) {
        error = cni_error_create(CNI_ERR_INVALID_CONFIG,
                                 "invalid network configuration: "
                                 "\"name\" is missing");
    } else if (!error && !cni_is_identifier(c.name)) {
        error = cni_error_create(CNI_ERR_INVALID_CONFIG,
                                 "invalid network configuration: name "
                                 "\"%s\" must start with an alphanumeric "
                                 "character, followed by alphanumerics, "
                                 "'_', '.' or '-'", c.name);
    }
    if (error) {
        goto exit;
    }

    error = cni_get_string(c.json, "", "type", &c.type);
    if (!error && !c.type) {
        error = cni_error_create(CNI_ERR_INVALID_CONFIG,
                                 "invalid network configuration: "
                                 "\"type\" is missing");
    }
    if (error) {
        goto exit;
    }

    error = cni_get_string(c.json, "", "bridge", &c.bridge);
    if (error) {
        goto exit;
    } else if (!c.bridge) {
        c.bridge = xstrdup("br-int");
    }

    error = cni_get_string(c.json, "", "ovsdb", &c.ovsdb);
    if (error) {
        goto exit;
    } else if (!c.ovsdb) {
        c.ovsdb = xasprintf("unix:%s/db.sock", ovs_rundir);
    }

    json_t *mtu = json_object_get(c.json, "mtu");
    if (mtu && !json_is_null(mtu)) {
        if (!json_is_integer(mtu) || json_integer_value(mtu) < 68
            || json_integer_value(mtu) > 65535) {
            error = cni_error_create(CNI_ERR_INVALID_CONFIG,
                                     "invalid network configuration: "
                                     "\"mtu\" must be an integer between "
                                     "68 and 65535");
            goto exit;
        }
        c.mtu = json_integer_value(mtu);
    }

    json_t *ipam = json_object_get(c.json, "ipam");
    if (ipam && !json_is_null(ipam)) {
        if (!json_is_object(ipam)) {
            error = cni_error_create(CNI_ERR_INVALID_CONFIG,
                                     "invalid network configuration: "
                                     "\"ipam\" must be an object");
            goto exit;
        }
        error = cni_get_string(ipam, "ipam ", "type", &c.ipam_type);
        if (!error && !c.ipam_type) {
            error = cni_error_create(CNI_ERR_INVALID_CONFIG,
                                     "invalid network configuration: "
                                     "ipam \"type\" is missing");
        } else if (!error && strchr(c.ipam_type, '/')) {
            error = cni_error_create(CNI_ERR_INVALID_CONFIG,
                                     "invalid network configuration: "
                                     "ipam type \"%s\" must not contain "
                                     "'/'", c.ipam_type);
        }
        if (error) {
            goto exit;
        }

        /* host-local keeps its reservations in <dataDir>/<name>; GC and
         * DEL look there. */
        if (!strcmp(c.ipam_type, "host-local")) {
            error = cni_get_string(ipam, "ipam ", "dataDir",
                                   &c.ipam_data_dir);
            if (error) {
                goto exit;
            } else if (!c.ipam_data_dir) {
                c.ipam_data_dir = xstrdup(CNI_HOST_LOCAL_DATA_DIR);
            }
        }
    }

    c.ipam_timeout_ms = CNI_DEFAULT_IPAM_TIMEOUT_MS;
    c.ofport_timeout_ms = CNI_DEFAULT_OFPORT_TIMEOUT_MS;
    error = cni_get_ms(c.json, "ipamTimeoutMs", &c.ipam_timeout_ms);
    if (!error) {
        error = cni_get_ms(c.json, "ofportTimeoutMs", &c.ofport_timeout_ms);
    }
    if (error) {
        goto exit;
    }

    json_t *prev = json_object_get(c.json, "prevResult");
    if (prev && !json_is_null(prev)) {
        if (!json_is_object(prev)) {
            error = cni_error_create(CNI_ERR_DECODE,
                                     "failed to decode prevResult: not a "
                                     "JSON object");
            goto exit;
        }
        c.prev_result = prev;
    }

exit:
    if (error) {
        cni_netconf_destroy(&c);
    } else {
        *conf = c;
    }
    return error;
}

void
cni_netconf_destroy(struct cni_netconf *conf)
{
    if (conf) {
        free(conf->cni_version);
        free(conf->name);
        free(conf->type);
        free(conf->bridge);
        free(conf->ovsdb);
        free(conf->ipam_type);
        free(conf->ipam_data_dir);
        json_decref(conf->json);
    }
}

/* Returns the configuration to give the IPAM delegate on stdin: the whole
 * request configuration, as the spec asks, with "cniVersion" (and that of
 * "prevResult", if any) set to 'cni_version'.  That is CNI_IPAM_VERSION,
 * the newest version Debian's host-local speaks, for ADD, DEL and CHECK:
 * the delegate's result in that version has the same shape as ours, and a
 * 1.1.0 prevResult only adds fields that it ignores. */
char *
cni_netconf_ipam_request(const struct cni_netconf *conf,
                         const char *cni_version)
{
    json_t *copy = json_deep_copy(conf->json);

    json_object_set_new(copy, "cniVersion", json_pack("s", cni_version));
    json_t *prev = json_object_get(copy, "prevResult");
    if (json_is_object(prev)) {
        json_object_set_new(prev, "cniVersion", json_pack("s", cni_version));
    }
    char *s = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    return s;
}

/* GC. */

/* Reads the attachments that GC must keep from 'conf' into 'valid' (which
 * the caller has initialized) as "<containerID>/<ifname>" strings, or just
 * "<containerID>" for an entry without "ifname", which keeps every
 * attachment of that container.  Accepts the spec's
 * "cni.dev/valid-attachments" and the older "cni.dev/attachments".  The
 * list is required: without it, GC could not tell what to keep. */
struct cni_error *
cni_netconf_valid_attachments(const struct cni_netconf *conf,
                              struct sset *valid)
{
    static const char *const keys[] = {
        "cni.dev/valid-attachments", "cni.dev/attachments",
    };
    const char *key = NULL;
    json_t *list = NULL;

    for (size_t i = 0; i < ARRAY_SIZE(keys) && !list; i++) {
        list = json_object_get(conf->json, keys[i]);
        key = keys[i];
    }
    if (!list || json_is_null(list)) {
        return cni_error_create(CNI_ERR_INVALID_CONFIG,
                                "invalid network configuration: GC needs "
                                "\"cni.dev/valid-attachments\"");
    }
    if (!json_is_array(list)) {
        return cni_error_create(CNI_ERR_INVALID_CONFIG,
                                "invalid network configuration: \"%s\" "
                                "must be an array", key);
    }

    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *entry = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(entry,
                                                           "containerID"));
        const char *ifname = json_string_value(json_object_get(entry,
                                                               "ifname"));
        if (!json_is_object(entry) || !id || !id[0]) {
            return cni_error_create(CNI_ERR_INVALID_CONFIG,
                                    "invalid network configuration: entry "
                                    "%"PRIuSIZE" of \"%s\" lacks "
                                    "\"containerID\"", i, key);
        }
        if (ifname && ifname[0]) {
            sset_add_and_free(valid, xasprintf("%s/%s", id, ifname));
        } else {
            sset_add(valid, id);
        }
    }
    return NULL;
}

/* Returns true if the attachment ('container_id', 'ifname') is in 'valid',
 * as cni_netconf_valid_attachments() filled it in. */
bool
cni_attachment_is_valid(const struct sset *valid, const char *container_id,
                        const char *ifname)
{
    if (sset_contains(valid, container_id)) {
        return true;
    }

    char *key = xasprintf("%s/%s", container_id, ifname ? ifname : "");
    bool found = sset_contains(valid, key);
    free(key);
    return found;
}

/* host-local. */

/* Returns true if 'file_name', in host-local's directory for a network,
 * is a reservation: host-local names those after the IP address and keeps
 * "lock" and "last_reserved_ip.<range>" beside them. */
bool
cni_host_local_is_reservation(const char *file_name)
{
    struct in6_addr a6;
    struct in_addr a4;

    return (inet_pton(AF_INET, file_name, &a4) == 1
            || inet_pton(AF_INET6, file_name, &a6) == 1);
}

/* Parses 'text', the contents of a host-local reservation file:
 * "<containerID>\r\n<ifname>" (host-local 1.1.1 ends the line so; before
 * 0.8 it wrote the container id alone, and then '*ifnamep' is NULL).
 * Returns false if 'text' names no container. */
bool
cni_host_local_parse_reservation(const char *text, char **container_idp,
                                 char **ifnamep)
{
    size_t id_len = strcspn(text, "\r\n");
    const char *rest = text + id_len;

    rest += strspn(rest, "\r\n");
    size_t ifname_len = strcspn(rest, "\r\n");

    char *id = xmemdup0(text, id_len);
    if (!cni_container_id_is_valid(id)) {
        free(id);
        return false;
    }
    *container_idp = id;
    *ifnamep = ifname_len ? xmemdup0(rest, ifname_len) : NULL;
    return true;
}

/* Names. */

/* Returns the name of the host-side veth for the attachment
 * ('container_id', 'ifname'): CNI_HOST_IFNAME_PREFIX and 12 hex digits of
 * a SHA-1 of both, 14 characters.  The same inputs always give the same
 * name, so that DEL finds the interface without prevResult or netns. */
char *
cni_host_ifname(const char *container_id, const char *ifname)
{
    uint8_t digest[SHA1_DIGEST_SIZE];
    char *key = xasprintf("%s/%s", container_id, ifname);
    struct ds name = DS_EMPTY_INITIALIZER;

    sha1_bytes(key, strlen(key), digest);
    free(key);

    ds_put_cstr(&name, CNI_HOST_IFNAME_PREFIX);
    for (int i = 0; i < 6; i++) {
        ds_put_format(&name, "%02x", digest[i]);
    }
    return ds_steal_cstr(&name);
}

/* Addresses. */

bool
cni_cidr_is_ipv4(const struct cni_cidr *cidr)
{
    return IN6_IS_ADDR_V4MAPPED(&cidr->addr);
}

/* Parses 's', an IPv4 or IPv6 address with a "/len" suffix (required if
 * 'need_plen', else optional: a full-length prefix), into 'cidr'.  Host
 * bits are kept: "10.0.0.5/24" is an address on a /24. */
char *
cni_cidr_parse(const char *s, bool need_plen, struct cni_cidr *cidr)
{
    char *copy = xstrdup(s);
    char *slash = strchr(copy, '/');
    struct cni_cidr c;
    char *error = NULL;
    unsigned int max_plen;

    if (slash) {
        *slash = '\0';
    }
    memset(&c, 0, sizeof c);

    struct in_addr ip4;
    if (inet_pton(AF_INET, copy, &ip4) == 1) {
        in6_addr_set_mapped_ipv4(&c.addr, ip4.s_addr);
        max_plen = 32;
    } else if (inet_pton(AF_INET6, copy, &c.addr) == 1) {
        max_plen = 128;
    } else {
        error = xasprintf("\"%s\" is not an IP address", s);
        goto exit;
    }

    if (!slash) {
        if (need_plen) {
            error = xasprintf("\"%s\" lacks a prefix length", s);
        }
        c.plen = max_plen;
    } else {
        char *end;
        long plen;

        errno = 0;
        plen = strtol(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || plen < 0
            || plen > max_plen) {
            error = xasprintf("\"%s\" has an invalid prefix length", s);
        }
        c.plen = plen;
    }

exit:
    free(copy);
    if (!error) {
        *cidr = c;
    }
    return error;
}

/* Formats 'cidr' as text, with "/len" if 'with_plen'. */
char *
cni_cidr_format(const struct cni_cidr *cidr, bool with_plen)
{
    char buf[INET6_ADDRSTRLEN];

    if (cni_cidr_is_ipv4(cidr)) {
        struct in_addr ip4 = { .s_addr = in6_addr_get_mapped_ipv4(
                                   &cidr->addr) };
        inet_ntop(AF_INET, &ip4, buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, &cidr->addr, buf, sizeof buf);
    }
    return with_plen ? xasprintf("%s/%u", buf, cidr->plen) : xstrdup(buf);
}

/* IPAM results. */

static struct cni_error *
cni_ipam_bad(const char *format, const char *value, const char *why)
{
    struct cni_error *error = cni_error_create(CNI_ERR_DECODE,
                                               "invalid IPAM result: %s",
                                               format);
    if (value || why) {
        cni_error_set_details(error, "%s%s%s", value ? value : "",
                              value && why ? ": " : "", why ? why : "");
    }
    return error;
}

static struct cni_error *
cni_ipam_parse_ip(const json_t *obj, struct cni_ip *ip)
{
    if (!json_is_object(obj)) {
        return cni_ipam_bad("an entry of \"ips\" is not an object",
                            NULL, NULL);
    }

    const char *address = json_string_value(json_object_get(obj, "address"));
    if (!address) {
        return cni_ipam_bad("an entry of \"ips\" lacks \"address\"",
                            NULL, NULL);
    }
    char *s = cni_cidr_parse(address, true, &ip->address);
    if (s) {
        struct cni_error *error = cni_ipam_bad("bad \"address\"", NULL, s);
        free(s);
        return error;
    }

    json_t *iface = json_object_get(obj, "interface");
    ip->iface = (json_is_integer(iface) && json_integer_value(iface) >= 0
                 && json_integer_value(iface) < INT_MAX
                 ? json_integer_value(iface) : -1);

    json_t *gw = json_object_get(obj, "gateway");
    ip->has_gateway = false;
    if (json_is_string(gw) && json_string_value(gw)[0]) {
        s = cni_cidr_parse(json_string_value(gw), false, &ip->gateway);
        if (s || cni_cidr_is_ipv4(&ip->gateway)
                 != cni_cidr_is_ipv4(&ip->address)) {
            struct cni_error *error = cni_ipam_bad(
                "bad \"gateway\"", json_string_value(gw),
                s ? s : "address family differs from \"address\"");
            free(s);
            return error;
        }
        ip->has_gateway = true;
    }
    return NULL;
}

static struct cni_error *
cni_ipam_parse_route(const json_t *obj, struct cni_route *route)
{
    if (!json_is_object(obj)) {
        return cni_ipam_bad("an entry of \"routes\" is not an object",
                            NULL, NULL);
    }

    const char *dst = json_string_value(json_object_get(obj, "dst"));
    if (!dst) {
        return cni_ipam_bad("an entry of \"routes\" lacks \"dst\"",
                            NULL, NULL);
    }
    char *s = cni_cidr_parse(dst, true, &route->dst);
    if (s) {
        struct cni_error *error = cni_ipam_bad("bad route \"dst\"", NULL, s);
        free(s);
        return error;
    }

    json_t *gw = json_object_get(obj, "gw");
    route->has_gw = false;
    if (json_is_string(gw) && json_string_value(gw)[0]) {
        s = cni_cidr_parse(json_string_value(gw), false, &route->gw);
        if (s || cni_cidr_is_ipv4(&route->gw)
                 != cni_cidr_is_ipv4(&route->dst)) {
            struct cni_error *error = cni_ipam_bad(
                "bad route \"gw\"", json_string_value(gw),
                s ? s : "address family differs from \"dst\"");
            free(s);
            return error;
        }
        route->has_gw = true;
    }
    return NULL;
}

/* Parses 'text', the result of an IPAM plugin's ADD, into 'result'.
 * Errors have code CNI_ERR_DECODE; on error 'result' is untouched. */
struct cni_error *
cni_ipam_result_parse(const char *text, struct cni_ipam_result *result)
{
    struct cni_ipam_result r = { .ips = NULL };
    struct cni_error *error = NULL;
    json_error_t jerror;
    json_t *root = json_loads(text ? text : "", 0, &jerror);

    if (!root) {
        error = cni_error_create(CNI_ERR_DECODE,
                                 "failed to decode IPAM result: %s",
                                 jerror.text);
        return error;
    }
    if (!json_is_object(root)) {
        error = cni_ipam_bad("not a JSON object", NULL, NULL);
        goto exit;
    }

    json_t *ips = json_object_get(root, "ips");
    if (!json_is_array(ips) || !json_array_size(ips)) {
        error = cni_ipam_bad("no \"ips\"", NULL, NULL);
        goto exit;
    }
    r.ips = xcalloc(json_array_size(ips), sizeof *r.ips);
    for (size_t i = 0; i < json_array_size(ips); i++) {
        error = cni_ipam_parse_ip(json_array_get(ips, i), &r.ips[i]);
        if (error) {
            goto exit;
        }
        r.n_ips++;
    }

    json_t *routes = json_object_get(root, "routes");
    if (routes && !json_is_null(routes)) {
        if (!json_is_array(routes)) {
            error = cni_ipam_bad("\"routes\" is not an array", NULL, NULL);
            goto exit;
        }
        r.routes = xcalloc(json_array_size(routes) + 1, sizeof *r.routes);
        for (size_t i = 0; i < json_array_size(routes); i++) {
            error = cni_ipam_parse_route(json_array_get(routes, i),
                                         &r.routes[i]);
            if (error) {
                goto exit;
            }
            r.n_routes++;
        }
    }

    json_t *dns = json_object_get(root, "dns");
    if (json_is_object(dns)) {
        r.dns = json_incref(dns);
    }

exit:
    json_decref(root);
    if (error) {
        cni_ipam_result_destroy(&r);
    } else {
        *result = r;
    }
    return error;
}

void
cni_ipam_result_destroy(struct cni_ipam_result *result)
{
    if (result) {
        free(result->ips);
        free(result->routes);
        json_decref(result->dns);
    }
}

/* Returns the addresses of 'result' without prefix lengths, separated by
 * commas ("10.244.0.5,fd00::5"), as NP_EXTID_IPS wants them. */
char *
cni_ipam_result_ips(const struct cni_ipam_result *result)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    for (size_t i = 0; i < result->n_ips; i++) {
        char *ip = cni_cidr_format(&result->ips[i].address, false);
        ds_put_format(&s, "%s%s", i ? "," : "", ip);
        free(ip);
    }
    return ds_steal_cstr(&s);
}

/* Returns the gateway of the first address of 'result' in the family
 * given by 'ipv4' that has one, or NULL. */
const struct in6_addr *
cni_ipam_result_gateway(const struct cni_ipam_result *result, bool ipv4)
{
    for (size_t i = 0; i < result->n_ips; i++) {
        const struct cni_ip *ip = &result->ips[i];
        if (ip->has_gateway && cni_cidr_is_ipv4(&ip->address) == ipv4) {
            return &ip->gateway.addr;
        }
    }
    return NULL;
}

/* Adds to 'result' a default route via the gateway for each address family
 * that has a gateway but no default route yet, so that a pod always has
 * one. */
void
cni_ipam_result_add_default_routes(struct cni_ipam_result *result)
{
    for (int ipv4 = 0; ipv4 < 2; ipv4++) {
        const struct in6_addr *gw = cni_ipam_result_gateway(result, ipv4);
        if (!gw) {
            continue;
        }

        bool found = false;
        for (size_t i = 0; i < result->n_routes; i++) {
            const struct cni_route *r = &result->routes[i];
            if (cni_cidr_is_ipv4(&r->dst) == ipv4 && !r->dst.plen) {
                found = true;
            }
        }
        if (!found) {
            struct cni_route route = { .has_gw = true };
            if (ipv4) {
                in6_addr_set_mapped_ipv4(&route.dst.addr, 0);
            }
            route.gw.addr = *gw;
            route.gw.plen = ipv4 ? 32 : 128;
            result->routes = xrealloc(result->routes,
                                      (result->n_routes + 1)
                                      * sizeof *result->routes);
            result->routes[result->n_routes++] = route;
        }
    }
}

/* The plugin's result. */

/* Returns the ADD result in 'cni_version': 'ifaces' (an array of
 * 'n_ifaces'), the addresses, routes and DNS of 'ipam', each address
 * attached to interface index 'ip_iface'.
 *
 * In a chain, 'prev_result' is the result of the plugins before this one:
 * the spec asks to pass it on, so its interfaces, addresses and routes come
 * first, ours after them (our addresses' interface indexes shifted to
 * match), and its DNS settings win unless they are empty. */
char *
cni_result_to_json(const char *cni_version,
                   const struct cni_interface *ifaces, size_t n_ifaces,
                   size_t ip_iface, const struct cni_ipam_result *ipam,
                   const json_t *prev_result)
{
    bool v110 = !strcmp(cni_version, "1.1.0");
    json_t *interfaces = json_pack("[]");
    json_t *ips = json_pack("[]");
    json_t *routes = json_pack("[]");
    json_t *dns = NULL;

    if (prev_result) {
        json_t *prev_ifaces = json_object_get(prev_result, "interfaces");
        json_t *prev_ips = json_object_get(prev_result, "ips");
        json_t *prev_routes = json_object_get(prev_result, "routes");
        json_t *prev_dns = json_object_get(prev_result, "dns");

        if (json_is_array(prev_ifaces)) {
            json_array_extend(interfaces, prev_ifaces);
        }
        if (json_is_array(prev_ips)) {
            for (size_t i = 0; i < json_array_size(prev_ips); i++) {
                json_t *ip = json_deep_copy(json_array_get(prev_ips, i));
                /* Pre-1.0.0 results tag addresses with a "version". */
                json_object_del(ip, "version");
                json_array_append_new(ips, ip);
            }
        }
        if (json_is_array(prev_routes)) {
            json_array_extend(routes, prev_routes);
        }
        if (json_is_object(prev_dns) && json_object_size(prev_dns)) {
            dns = json_incref(prev_dns);
        }
    }
    size_t iface_base = json_array_size(interfaces);

    for (size_t i = 0; i < n_ifaces; i++) {
        json_t *iface = json_pack("{s:s, s:s}", "name", ifaces[i].name,
                                  "mac", ifaces[i].mac);
        if (v110 && ifaces[i].mtu) {
            json_object_set_new(iface, "mtu", json_pack("i", ifaces[i].mtu));
        }
        if (ifaces[i].sandbox) {
            json_object_set_new(iface, "sandbox",
                                json_pack("s", ifaces[i].sandbox));
        }
        json_array_append_new(interfaces, iface);
    }

    for (size_t i = 0; i < ipam->n_ips; i++) {
        const struct cni_ip *ip = &ipam->ips[i];
        char *address = cni_cidr_format(&ip->address, true);
        json_t *obj = json_pack("{s:s, s:I}", "address", address,
                                "interface",
                                (json_int_t) (iface_base + ip_iface));
        free(address);
        if (ip->has_gateway) {
            char *gw = cni_cidr_format(&ip->gateway, false);
            json_object_set_new(obj, "gateway", json_pack("s", gw));
            free(gw);
        }
        json_array_append_new(ips, obj);
    }

    for (size_t i = 0; i < ipam->n_routes; i++) {
        const struct cni_route *route = &ipam->routes[i];
        char *dst = cni_cidr_format(&route->dst, true);
        json_t *obj = json_pack("{s:s}", "dst", dst);
        free(dst);
        if (route->has_gw) {
            char *gw = cni_cidr_format(&route->gw, false);
            json_object_set_new(obj, "gw", json_pack("s", gw));
            free(gw);
        }
        json_array_append_new(routes, obj);
    }

    if (!dns) {
        dns = ipam->dns ? json_incref(ipam->dns) : json_pack("{}");
    }
    json_t *root = json_pack("{s:s, s:o, s:o, s:o, s:o}",
                             "cniVersion", cni_version,
                             "interfaces", interfaces,
                             "ips", ips,
                             "routes", routes,
                             "dns", dns);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

/* prevResult. */

static char *
cni_json_strdup(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && s[0] ? xstrdup(s) : NULL;
}

/* Parses 'json', a full result in version 1.0.0 or 1.1.0 (as "prevResult"
 * carries it), into 'result'.  On error 'result' is untouched. */
struct cni_error *
cni_prev_result_parse(const json_t *json, struct cni_prev_result *result)
{
    struct cni_prev_result r = { .ifaces = NULL };
    struct cni_error *error = NULL;

    if (!json_is_object(json)) {
        return cni_error_create(CNI_ERR_DECODE, "failed to decode "
                                "prevResult: not a JSON object");
    }

    json_t *ifaces = json_object_get(json, "interfaces");
    if (json_is_array(ifaces)) {
        r.ifaces = xcalloc(json_array_size(ifaces) + 1, sizeof *r.ifaces);
        for (size_t i = 0; i < json_array_size(ifaces); i++) {
            const json_t *obj = json_array_get(ifaces, i);
            char *name = cni_json_strdup(obj, "name");
            if (!name) {
                error = cni_error_create(CNI_ERR_DECODE, "failed to decode "
                                         "prevResult: interface %"PRIuSIZE
                                         " has no \"name\"", i);
                goto exit;
            }
            struct cni_result_iface *iface = &r.ifaces[r.n_ifaces++];
            iface->name = name;
            iface->mac = cni_json_strdup(obj, "mac");
            iface->sandbox = cni_json_strdup(obj, "sandbox");
        }
    }

    /* The addresses, routes and DNS have the shape of an IPAM result,
     * except that a result may have no addresses at all. */
    json_t *ips = json_object_get(json, "ips");
    if (json_is_array(ips) && json_array_size(ips)) {
        char *text = json_dumps(json, JSON_COMPACT);
        error = cni_ipam_result_parse(text, &r.ipr);
        free(text);
        if (error) {
            cni_error_prefix(error, "prevResult");
            goto exit;
        }
    } else {
        json_t *dns = json_object_get(json, "dns");
        r.ipr.dns = json_is_object(dns) ? json_incref(dns) : NULL;
    }

    for (size_t i = 0; i < r.ipr.n_ips; i++) {
        if (r.ipr.ips[i].iface >= (int) r.n_ifaces) {
            error = cni_error_create(CNI_ERR_DECODE, "failed to decode "
                                     "prevResult: address %"PRIuSIZE" "
                                     "names interface %d of %"PRIuSIZE, i,
                                     r.ipr.ips[i].iface, r.n_ifaces);
            goto exit;
        }
    }

exit:
    if (error) {
        cni_prev_result_destroy(&r);
    } else {
        *result = r;
    }
    return error;
}

void
cni_prev_result_destroy(struct cni_prev_result *result)
{
    if (result) {
        for (size_t i = 0; i < result->n_ifaces; i++) {
            free(result->ifaces[i].name);
            free(result->ifaces[i].mac);
            free(result->ifaces[i].sandbox);
        }
        free(result->ifaces);
        cni_ipam_result_destroy(&result->ipr);
    }
}

/* Returns the index of the interface 'name' in 'result' whose sandbox is
 * 'sandbox' (NULL: a host-side interface, without one), or -1. */
int
cni_prev_result_find_iface(const struct cni_prev_result *result,
                           const char *name, const char *sandbox)
{
    for (size_t i = 0; i < result->n_ifaces; i++) {
        const struct cni_result_iface *iface = &result->ifaces[i];
        if (!strcmp(iface->name, name)
            && (sandbox
                ? iface->sandbox && !strcmp(iface->sandbox, sandbox)
                : !iface->sandbox)) {
            return i;
        }
    }
    return -1;
}

static bool
cni_cidr_equals(const struct cni_cidr *a, const struct cni_cidr *b)
{
    return a->plen == b->plen && ipv6_addr_equals(&a->addr, &b->addr);
}

/* Checks that each address of 'result' on interface 'pod_iface' is among
 * 'addrs', the addresses (with prefix lengths) the interface has. */
char *
cni_check_addresses(const struct cni_prev_result *result, int pod_iface,
                    const struct cni_cidr *addrs, size_t n_addrs)
{
    for (size_t i = 0; i < result->ipr.n_ips; i++) {
        const struct cni_ip *ip = &result->ipr.ips[i];
        if (ip->iface != pod_iface) {
            continue;
        }

        bool found = false;
        for (size_t j = 0; j < n_addrs && !found; j++) {
            found = cni_cidr_equals(&ip->address, &addrs[j]);
        }
        if (!found) {
            char *s = cni_cidr_format(&ip->address, true);
            char *msg = xasprintf("address %s is missing", s);
            free(s);
            return msg;
        }
    }
    return NULL;
}

/* Checks that each route of 'result' is among 'routes', those of the
 * container's main routing table: same destination and, if the expected
 * route names a gateway, the same gateway. */
char *
cni_check_routes(const struct cni_prev_result *result,
                 const struct cni_route *routes, size_t n_routes)
{
    for (size_t i = 0; i < result->ipr.n_routes; i++) {
        const struct cni_route *want = &result->ipr.routes[i];

        bool found = false;
        for (size_t j = 0; j < n_routes && !found; j++) {
            const struct cni_route *have = &routes[j];
            found = (cni_cidr_equals(&want->dst, &have->dst)
                     && (!want->has_gw
                         || (have->has_gw
                             && ipv6_addr_equals(&want->gw.addr,
                                                 &have->gw.addr))));
        }
        if (!found) {
            char *dst = cni_cidr_format(&want->dst, true);
            char *gw = (want->has_gw ? cni_cidr_format(&want->gw, false)
                        : NULL);
            char *msg = xasprintf("route to %s%s%s is missing", dst,
                                  gw ? " via " : "", gw ? gw : "");
            free(dst);
            free(gw);
            return msg;
        }
    }
    return NULL;
}
