/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* Checks the deployment files in deploy/: every YAML file parses (with the
 * controller's own decoder, lib/k8s-parse) into objects with apiVersion,
 * kind and metadata.name; the RBAC objects grant exactly what the
 * controller needs; each DaemonSet's selector matches its pod template,
 * names the ServiceAccount of rbac.yaml, mounts only volumes it defines,
 * installs the CNI plugin in an init container and gives the controller
 * NODE_NAME from the downward API; the CNI conflist is JSON whose first
 * plugin the CNI plugin's own parser accepts; the Dockerfile ships what
 * the manifests run. */

#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/cni-config.h"
#include "lib/k8s-parse.h"
#include "openvswitch/dynamic-string.h"
#include "sset.h"
#include "tests/unit/unit-file.h"
#include "util.h"

#define NAMESPACE "kube-system"
#define SERVICE_ACCOUNT "ovs-netpol"

static char *
read_deploy_file(const char *name, size_t *sizep)
{
    char *path = (name[0] == '/'
                  ? xstrdup(name) : xasprintf("%s/%s", NP_DEPLOY_DIR, name));
    char *text = unit_read_file(path, sizep);
    free(path);
    return text;
}

/* The objects of deploy file 'name' (a new array). */
static json_t *
decode_file(const char *name)
{
    size_t size;
    char *text = read_deploy_file(name, &size);
    json_t *objects;
    char *error = k8s_decode_text(text, size, &objects);

    if (error) {
        fail_msg("%s: %s", name, error);
    }
    free(text);
    return objects;
}

static const char *
get_string(const json_t *obj, const char *path)
{
    char *copy = xstrdup(path), *save = NULL;
    const json_t *v = obj;

    for (char *tok = strtok_r(copy, ".", &save); tok && v;
         tok = strtok_r(NULL, ".", &save)) {
        v = json_object_get(v, tok);
    }
    free(copy);
    return json_string_value(v);
}

/* The only object of 'kind' in 'objects'. */
static json_t *
find_kind(json_t *objects, const char *kind)
{
    json_t *found = NULL, *obj;
    size_t i;

    json_array_foreach (objects, i, obj) {
        const char *k = get_string(obj, "kind");
        if (k && !strcmp(k, kind)) {
            if (found) {
                fail_msg("two objects of kind %s", kind);
            }
            found = obj;
        }
    }
    if (!found) {
        fail_msg("no object of kind %s", kind);
    }
    return found;
}

static void
check_string(const json_t *obj, const char *path, const char *expected)
{
    const char *s = get_string(obj, path);

    if (!s || strcmp(s, expected)) {
        fail_msg("%s is \"%s\", expected \"%s\"", path, s ? s : "(none)",
                 expected);
    }
}

/* Every YAML file of deploy/ (and deploy/examples/) holds objects with
 * apiVersion, kind and metadata.name. */
static void
test_all_yaml_parses(void **state OVS_UNUSED)
{
    static const char *const patterns[] = {
        NP_DEPLOY_DIR "/*.yaml", NP_DEPLOY_DIR "/examples/*.yaml",
    };
    size_t n_files = 0;

    for (size_t p = 0; p < ARRAY_SIZE(patterns); p++) {
        glob_t g;

        assert_int_equal(glob(patterns[p], 0, NULL, &g), 0);
        for (size_t i = 0; i < g.gl_pathc; i++) {
            json_t *objects = decode_file(g.gl_pathv[i]), *obj;
            size_t j;

            assert_true(json_array_size(objects) > 0);
            json_array_foreach (objects, j, obj) {
                if (!get_string(obj, "apiVersion") || !get_string(obj, "kind")
                    || !get_string(obj, "metadata.name")) {
                    fail_msg("%s: object %"PRIuSIZE" lacks apiVersion, "
                             "kind or metadata.name", g.gl_pathv[i], j);
                }
            }
            json_decref(objects);
            n_files++;
        }
        globfree(&g);
    }
    assert_true(n_files >= 3);
}

/* Adds "group/resource/verb" to 'grants' for every combination in 'rule'. */
static void
collect_grants(const json_t *rule, struct sset *grants)
{
    const json_t *groups = json_object_get(rule, "apiGroups");
    const json_t *resources = json_object_get(rule, "resources");
    const json_t *verbs = json_object_get(rule, "verbs");
    const json_t *g, *r, *v;
    size_t i, j, k;

    assert_true(json_is_array(groups) && json_array_size(groups));
    assert_true(json_is_array(resources) && json_array_size(resources));
    assert_true(json_is_array(verbs) && json_array_size(verbs));
    json_array_foreach (groups, i, g) {
        json_array_foreach (resources, j, r) {
            json_array_foreach (verbs, k, v) {
                assert_non_null(json_string_value(g));
                assert_non_null(json_string_value(r));
                assert_non_null(json_string_value(v));
                char *grant = xasprintf("%s/%s/%s", json_string_value(g),
                                        json_string_value(r),
                                        json_string_value(v));
                sset_add(grants, grant);
                free(grant);
            }
        }
    }
}

/* The ServiceAccount, and a ClusterRole bound to it that grants get, list
 * and watch on pods, namespaces, nodes and networkpolicies, create and
 * patch on events, and nothing else. */
static void
test_rbac(void **state OVS_UNUSED)
{
    static const char *const wanted[] = {
        "/pods/get", "/pods/list", "/pods/watch",
        "/namespaces/get", "/namespaces/list", "/namespaces/watch",
        "/nodes/get", "/nodes/list", "/nodes/watch",
        "networking.k8s.io/networkpolicies/get",
        "networking.k8s.io/networkpolicies/list",
        "networking.k8s.io/networkpolicies/watch",
        "/events/create", "/events/patch",
    };
    static const char *const allowed_extra[] = {
        "events.k8s.io/events/create", "events.k8s.io/events/patch",
    };
    json_t *objects = decode_file("rbac.yaml");
    json_t *sa = find_kind(objects, "ServiceAccount");
    json_t *role = find_kind(objects, "ClusterRole");
    json_t *binding = find_kind(objects, "ClusterRoleBinding");
    struct sset grants = SSET_INITIALIZER(&grants);
    const json_t *rule, *subject;
    const char *grant;
    size_t i;

    check_string(sa, "apiVersion", "v1");
    check_string(sa, "metadata.name", SERVICE_ACCOUNT);
    check_string(sa, "metadata.namespace", NAMESPACE);

    check_string(role, "apiVersion", "rbac.authorization.k8s.io/v1");
    json_array_foreach (json_object_get(role, "rules"), i, rule) {
        collect_grants(rule, &grants);
    }
    for (i = 0; i < ARRAY_SIZE(wanted); i++) {
        if (!sset_contains(&grants, wanted[i])) {
            fail_msg("ClusterRole does not grant %s", wanted[i]);
        }
    }
    SSET_FOR_EACH (grant, &grants) {
        bool ok = false;
        for (i = 0; i < ARRAY_SIZE(wanted); i++) {
            ok = ok || !strcmp(grant, wanted[i]);
        }
        for (i = 0; i < ARRAY_SIZE(allowed_extra); i++) {
            ok = ok || !strcmp(grant, allowed_extra[i]);
        }
        if (!ok) {
            fail_msg("ClusterRole grants more than needed: %s", grant);
        }
    }
    sset_destroy(&grants);

    check_string(binding, "apiVersion", "rbac.authorization.k8s.io/v1");
    check_string(binding, "roleRef.apiGroup", "rbac.authorization.k8s.io");
    check_string(binding, "roleRef.kind", "ClusterRole");
    check_string(binding, "roleRef.name", get_string(role, "metadata.name"));
    bool bound = false;
    json_array_foreach (json_object_get(binding, "subjects"), i, subject) {
        const char *kind = get_string(subject, "kind");
        const char *name = get_string(subject, "name");
        const char *ns = get_string(subject, "namespace");
        bound = bound || (kind && !strcmp(kind, "ServiceAccount")
                          && name && !strcmp(name, SERVICE_ACCOUNT)
                          && ns && !strcmp(ns, NAMESPACE));
    }
    assert_true(bound);
    json_decref(objects);
}

/* The container of 'containers' named 'name'. */
static const json_t *
find_container(const json_t *containers, const char *name)
{
    const json_t *c;
    size_t i;

    json_array_foreach (containers, i, c) {
        const char *n = get_string(c, "name");
        if (n && !strcmp(n, name)) {
            return c;
        }
    }
    fail_msg("no container named %s", name);
    return NULL;
}

/* Whether 'container''s command and args mention 'word'. */
static bool
container_runs(const json_t *container, const char *word)
{
    static const char *const keys[] = { "command", "args" };
    const json_t *s;
    size_t i;

    for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
        json_array_foreach (json_object_get(container, keys[k]), i, s) {
            if (json_is_string(s) && strstr(json_string_value(s), word)) {
                return true;
            }
        }
    }
    return false;
}

/* 'container' has NODE_NAME from spec.nodeName. */
static void
check_node_name(const json_t *container)
{
    const json_t *env;
    size_t i;

    json_array_foreach (json_object_get(container, "env"), i, env) {
        const char *name = get_string(env, "name");
        if (name && !strcmp(name, "NODE_NAME")) {
            check_string(env, "valueFrom.fieldRef.fieldPath",
                         "spec.nodeName");
            return;
        }
    }
    fail_msg("container %s has no NODE_NAME", get_string(container, "name"));
}

/* Every volumeMount of 'containers' names a volume in 'volumes', and each
 * container has an image. */
static void
check_mounts(const json_t *containers, const json_t *volumes)
{
    const json_t *c, *m, *v;
    size_t i, j, k;

    json_array_foreach (containers, i, c) {
        assert_non_null(get_string(c, "image"));
        json_array_foreach (json_object_get(c, "volumeMounts"), j, m) {
            const char *name = get_string(m, "name");
            bool found = false;

            assert_non_null(get_string(m, "mountPath"));
            json_array_foreach (volumes, k, v) {
                const char *vname = get_string(v, "name");
                found = found || (name && vname && !strcmp(name, vname));
            }
            if (!found) {
                fail_msg("container %s mounts undefined volume %s",
                         get_string(c, "name"), name ? name : "(none)");
            }
        }
    }
}

static void
check_daemonset(const char *file, bool ovs_sidecar)
{
    json_t *objects = decode_file(file);
    json_t *ds = find_kind(objects, "DaemonSet");
    const json_t *spec = json_object_get(ds, "spec");
    const json_t *template = json_object_get(spec, "template");
    const json_t *pod = json_object_get(template, "spec");
    const json_t *match = json_object_get(json_object_get(spec, "selector"),
                                          "matchLabels");
    const json_t *labels = json_object_get(json_object_get(template,
                                                           "metadata"),
                                           "labels");
    const json_t *containers = json_object_get(pod, "containers");
    const json_t *inits = json_object_get(pod, "initContainers");
    const json_t *volumes = json_object_get(pod, "volumes");
    const json_t *value;
    const char *key;

    check_string(ds, "apiVersion", "apps/v1");
    check_string(ds, "metadata.namespace", NAMESPACE);

    /* apps/v1 requires a selector that selects the template's labels. */
    assert_true(json_is_object(match) && json_object_size(match) > 0);
    json_object_foreach ((json_t *) match, key, value) {
        const char *label = json_string_value(json_object_get(labels, key));
        if (!label || strcmp(label, json_string_value(value))) {
            fail_msg("%s: selector %s=%s does not match the template", file,
                     key, json_string_value(value));
        }
    }

    check_string(pod, "serviceAccountName", SERVICE_ACCOUNT);

    const json_t *controller = find_container(containers, "controller");
    assert_true(container_runs(controller, "ovs-netpol-controller"));
    check_node_name(controller);
    assert_true(container_runs(controller,
                               "--ovsdb=unix:/var/run/openvswitch/db.sock"));

    const json_t *install = find_container(inits, "install-cni");
    assert_true(container_runs(install, "install-cni"));

    if (ovs_sidecar) {
        assert_true(container_runs(find_container(containers, "openvswitch"),
                                   "ovs-ctl"));
    } else {
        assert_int_equal(json_array_size(containers), 1);
    }
    check_mounts(containers, volumes);
    check_mounts(inits, volumes);
    json_decref(objects);
}

static void
test_daemonset_host_ovs(void **state OVS_UNUSED)
{
    check_daemonset("daemonset.yaml", false);
}

static void
test_daemonset_ovs_sidecar(void **state OVS_UNUSED)
{
    check_daemonset("daemonset-ovs-sidecar.yaml", true);
}

/* Parses 'text', a conflist with its pod CIDRs filled in, and checks that
 * its first plugin, as a runtime would hand it to ovs-netpol-cni
 * (cniVersion and name added), passes the plugin's own configuration
 * parser.  Returns the conflist. */
static json_t *
check_filled_conflist(const char *what, const char *text)
{
    json_error_t jerr;
    json_t *list = json_loads(text, 0, &jerr);

    if (!list) {
        fail_msg("%s:%d: %s", what, jerr.line, jerr.text);
    }
    assert_non_null(get_string(list, "name"));
    const char *version = get_string(list, "cniVersion");
    assert_non_null(version);
    assert_true(cni_version_is_supported(version));

    json_t *plugin = json_deep_copy(json_array_get(json_object_get(list,
                                                                   "plugins"),
                                                   0));
    assert_non_null(plugin);
    check_string(plugin, "type", "ovs-netpol-cni");
    check_string(plugin, "ipam.type", "host-local");
    json_object_set_new(plugin, "cniVersion", json_pack("s", version));
    json_object_set_new(plugin, "name",
                        json_pack("s", get_string(list, "name")));
    char *conf = json_dumps(plugin, JSON_COMPACT);

    struct cni_netconf nc;
    struct cni_error *error = cni_netconf_parse(conf, "/var/run/openvswitch",
                                                &nc);
    if (error) {
        fail_msg("%s: plugin configuration rejected: %s", what, error->msg);
    }
    assert_string_equal(nc.bridge, "br-int");
    assert_string_equal(nc.ovsdb, "unix:/var/run/openvswitch/db.sock");
    assert_string_equal(nc.ipam_type, "host-local");
    cni_netconf_destroy(&nc);
    free(conf);
    json_decref(plugin);
    return list;
}

/* The conflist template is JSON with the pod CIDR to fill in, and valid
 * once filled in. */
static void
test_conflist(void **state OVS_UNUSED)
{
    char *text = read_deploy_file("10-ovs-netpol.conflist", NULL);
    json_error_t jerr;
    json_t *template = json_loads(text, 0, &jerr);

    if (!template) {
        fail_msg("10-ovs-netpol.conflist:%d: %s", jerr.line, jerr.text);
    }
    json_decref(template);
    assert_non_null(strstr(text, "__POD_CIDR__"));

    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&s, text);
    char *p;
    while ((p = strstr(ds_cstr(&s), "__POD_CIDR__"))) {
        size_t ofs = p - ds_cstr(&s);
        char *rest = xstrdup(p + strlen("__POD_CIDR__"));
        ds_truncate(&s, ofs);
        ds_put_format(&s, "10.244.1.0/24%s", rest);
        free(rest);
    }
    json_decref(check_filled_conflist("10-ovs-netpol.conflist",
                                      ds_cstr(&s)));
    ds_destroy(&s);
    free(text);
}

/* Runs install-cni.sh with POD_CIDR set to 'cidrs' into a scratch
 * directory; returns the conflist it wrote (NULL if it failed, which
 * must leave no conflist behind). */
static json_t *
run_install_cni(const char *cidrs)
{
    char dir[] = "/tmp/np-install-cni.XXXXXX";
    if (!mkdtemp(dir)) {
        fail_msg("mkdtemp failed");
    }
    char *cmd = xasprintf(
        "set -e; cd %s; mkdir share bin conf; "
        "cp '%s/10-ovs-netpol.conflist' share/; : >share/ovs-netpol-cni; "
        ": >bin/host-local; chmod +x bin/host-local; "
        "POD_CIDR='%s' CNI_BIN_DIR=bin CNI_CONF_DIR=conf "
        "OVS_NETPOL_SHARE=share sh '%s/install-cni.sh' >/dev/null 2>&1",
        dir, NP_DEPLOY_DIR, cidrs, NP_DEPLOY_DIR);
    int status = system(cmd);
    char *conflist = xasprintf("%s/conf/10-ovs-netpol.conflist", dir);
    json_t *list = NULL;
    if (!status) {
        char *text = unit_read_file(conflist, NULL);
        list = check_filled_conflist(cidrs, text);
        free(text);
        char *plugin = xasprintf("%s/bin/ovs-netpol-cni", dir);
        assert_int_equal(access(plugin, X_OK), 0);
        free(plugin);
    } else {
        assert_true(access(conflist, F_OK) != 0);
    }
    free(conflist);
    free(cmd);
    cmd = xasprintf("rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    return list;
}

/* The ranges and routes of the conflist 'list' as "SUBNET ..." and
 * "DST ...". */
static void
conflist_ipam(const json_t *list, struct ds *ranges, struct ds *routes)
{
    const json_t *ipam = json_object_get(
        json_array_get(json_object_get(list, "plugins"), 0), "ipam");
    size_t i, j;
    json_t *set, *r;

    json_array_foreach (json_object_get(ipam, "ranges"), i, set) {
        json_array_foreach (set, j, r) {
            ds_put_format(ranges, "%s%s", ranges->length ? " " : "",
                          json_string_value(json_object_get(r, "subnet")));
        }
    }
    json_array_foreach (json_object_get(ipam, "routes"), i, r) {
        ds_put_format(routes, "%s%s", routes->length ? " " : "",
                      json_string_value(json_object_get(r, "dst")));
    }
}

/* install-cni.sh makes one host-local range and default route per family
 * of the node's pod CIDRs, and refuses what is not a CIDR. */
static void
test_install_cni(void **state OVS_UNUSED)
{
    static const struct {
        const char *cidrs, *ranges, *routes;
    } cases[] = {
        { "10.244.3.0/24", "10.244.3.0/24", "0.0.0.0/0" },
        { "10.244.3.0/24,fd00:10:244:3::/64",
          "10.244.3.0/24 fd00:10:244:3::/64", "0.0.0.0/0 ::/0" },
        { "fd00:10:244:3::/64,10.244.3.0/24,10.244.4.0/24",
          "10.244.3.0/24 fd00:10:244:3::/64", "0.0.0.0/0 ::/0" },
        { "fd00:10:244:3::/64", "fd00:10:244:3::/64", "::/0" },
        { "10.244.3.0", NULL, NULL },
        { ",", NULL, NULL },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        json_t *list = run_install_cni(cases[i].cidrs);
        if (!cases[i].ranges) {
            if (list) {
                fail_msg("POD_CIDR=%s accepted", cases[i].cidrs);
            }
            continue;
        }
        if (!list) {
            fail_msg("POD_CIDR=%s: install-cni.sh failed", cases[i].cidrs);
        }
        struct ds ranges = DS_EMPTY_INITIALIZER;
        struct ds routes = DS_EMPTY_INITIALIZER;
        conflist_ipam(list, &ranges, &routes);
        assert_string_equal(ds_cstr(&ranges), cases[i].ranges);
        assert_string_equal(ds_cstr(&routes), cases[i].routes);
        ds_destroy(&ranges);
        ds_destroy(&routes);
        json_decref(list);
    }
}

/* The image has what the manifests run, from Debian bookworm. */
static void
test_dockerfile(void **state OVS_UNUSED)
{
    static const char *const needles[] = {
        "FROM debian:bookworm", "openvswitch-switch",
        "containernetworking-plugins", "/usr/bin/ovs-netpol-controller",
        "cni/ovs-netpol-cni /usr/lib/ovs-netpol/",
        "install-cni.sh", "10-ovs-netpol.conflist",
    };
    char *text = read_deploy_file("Dockerfile", NULL);
    char *script = read_deploy_file("install-cni.sh", NULL);

    for (size_t i = 0; i < ARRAY_SIZE(needles); i++) {
        if (!strstr(text, needles[i])) {
            fail_msg("Dockerfile lacks \"%s\"", needles[i]);
        }
    }
    assert_non_null(strstr(script, "/usr/lib/ovs-netpol"));
    assert_non_null(strstr(script, "__POD_CIDR__"));
    free(script);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_yaml_parses),
        cmocka_unit_test(test_rbac),
        cmocka_unit_test(test_daemonset_host_ovs),
        cmocka_unit_test(test_daemonset_ovs_sidecar),
        cmocka_unit_test(test_conflist),
        cmocka_unit_test(test_install_cni),
        cmocka_unit_test(test_dockerfile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
