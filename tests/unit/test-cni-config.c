/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* Unit tests for lib/cni-config: the CNI environment, CNI_ARGS, the
 * network configuration, host interface names, IPAM results, the plugin's
 * result (also in a chain) and error JSON, prevResult and CHECK's
 * comparisons, GC's valid attachments and host-local's files. */

#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "lib/cni-config.h"
#include "smap.h"
#include "sset.h"
#include "util.h"

/* Asserts that 'error' is nonnull with 'code' and a message containing
 * 'text', then frees it. */
static void
check_error(struct cni_error *error, int code, const char *text)
{
    if (!error) {
        fail_msg("expected error %d containing \"%s\"", code, text);
    }
    if (error->code != code || !strstr(error->msg, text)) {
        fail_msg("expected error %d containing \"%s\", got %d \"%s\"",
                 code, text, error->code, error->msg);
    }
    cni_error_destroy(error);
}

static void
check_ok(struct cni_error *error)
{
    if (error) {
        fail_msg("unexpected error %d: %s", error->code, error->msg);
    }
}

/* Environment. */

static void
test_env_add(void **state OVS_UNUSED)
{
    char *envp[] = {
        "PATH=/bin", "CNI_COMMAND=ADD", "CNI_CONTAINERID=abc123",
        "CNI_NETNS=/var/run/netns/x", "CNI_IFNAME=eth0",
        "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=a", "CNI_PATH=/usr/lib/cni",
        NULL,
    };
    struct cni_env env;

    check_ok(cni_env_parse(envp, &env));
    assert_int_equal(env.command, CNI_CMD_ADD);
    assert_string_equal(env.container_id, "abc123");
    assert_string_equal(env.netns, "/var/run/netns/x");
    assert_string_equal(env.ifname, "eth0");
    assert_string_equal(env.args, "IgnoreUnknown=1;K8S_POD_NAME=a");
    assert_string_equal(env.path, "/usr/lib/cni");
    cni_env_destroy(&env);
}

static void
test_env_missing(void **state OVS_UNUSED)
{
    char *none[] = { "PATH=/bin", NULL };
    char *bogus[] = { "CNI_COMMAND=BOGUS", NULL };
    char *add[] = { "CNI_COMMAND=ADD", "CNI_IFNAME=eth0", "CNI_NETNS=", NULL };
    char *del[] = {
        "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=eth0",
        "CNI_PATH=/p", NULL,
    };
    char *version[] = { "CNI_COMMAND=VERSION", NULL };
    struct cni_env env;

    check_error(cni_env_parse(none, &env), CNI_ERR_INVALID_ENV,
                "CNI_COMMAND");
    check_error(cni_env_parse(bogus, &env), CNI_ERR_INVALID_ENV,
                "unknown CNI_COMMAND: BOGUS");
    /* Every missing variable is named; an empty one counts as missing. */
    check_error(cni_env_parse(add, &env), CNI_ERR_INVALID_ENV,
                "[CNI_CONTAINERID CNI_NETNS CNI_PATH] missing");

    /* DEL does not need CNI_NETNS; VERSION needs nothing. */
    check_ok(cni_env_parse(del, &env));
    assert_null(env.netns);
    cni_env_destroy(&env);
    check_ok(cni_env_parse(version, &env));
    assert_int_equal(env.command, CNI_CMD_VERSION);
    cni_env_destroy(&env);
}

static void
test_env_invalid(void **state OVS_UNUSED)
{
    char *bad_if[] = {
        "CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=eth0:1",
        "CNI_PATH=/p", NULL,
    };
    char *long_if[] = {
        "CNI_COMMAND=DEL", "CNI_CONTAINERID=c",
        "CNI_IFNAME=0123456789abcdef", "CNI_PATH=/p", NULL,
    };
    char *bad_id[] = {
        "CNI_COMMAND=DEL", "CNI_CONTAINERID=-c", "CNI_IFNAME=eth0",
        "CNI_PATH=/p", NULL,
    };
    struct cni_env env;

    check_error(cni_env_parse(bad_if, &env), CNI_ERR_INVALID_ENV,
                "CNI_IFNAME");
    check_error(cni_env_parse(long_if, &env), CNI_ERR_INVALID_ENV,
                "CNI_IFNAME");
    check_error(cni_env_parse(bad_id, &env), CNI_ERR_INVALID_ENV,
                "CNI_CONTAINERID");

    assert_true(cni_ifname_is_valid("eth0"));
    assert_true(cni_ifname_is_valid("0123456789abcde"));
    assert_false(cni_ifname_is_valid(""));
    assert_false(cni_ifname_is_valid(".."));
    assert_false(cni_ifname_is_valid("a/b"));
    assert_false(cni_ifname_is_valid("a b"));
    assert_true(cni_container_id_is_valid("a_b.c-d"));
    assert_false(cni_container_id_is_valid("a/b"));
}

/* CNI_ARGS. */

static void
test_args(void **state OVS_UNUSED)
{
    struct smap args = SMAP_INITIALIZER(&args);

    check_ok(cni_args_parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;;"
                            "K8S_POD_NAME=a;IP=10.0.0.5;K8S_POD_NAME=b",
                            &args));
    assert_int_equal(smap_count(&args), 4);
    assert_string_equal(smap_get(&args, "K8S_POD_NAMESPACE"), "ns");
    assert_string_equal(smap_get(&args, "K8S_POD_NAME"), "b");
    assert_string_equal(smap_get(&args, "IP"), "10.0.0.5");

    /* Values may be empty or contain '='; a malformed item changes
     * nothing. */
    check_ok(cni_args_parse("E=;X=a=b", &args));
    assert_string_equal(smap_get(&args, "E"), "");
    assert_string_equal(smap_get(&args, "X"), "a=b");
    check_error(cni_args_parse("A=1;junk", &args), CNI_ERR_INVALID_ENV,
                "\"junk\"");
    check_error(cni_args_parse("=1", &args), CNI_ERR_INVALID_ENV, "\"=1\"");
    assert_null(smap_get(&args, "A"));
    check_ok(cni_args_parse(NULL, &args));
    smap_destroy(&args);
}

static void
test_args_for_ipam(void **state OVS_UNUSED)
{
    struct {
        const char *in;
        const char *out;
    } cases[] = {
        { NULL, "IgnoreUnknown=1" },
        { "", "IgnoreUnknown=1" },
        { "IP=10.0.0.5", "IgnoreUnknown=1;IP=10.0.0.5" },
        { "IgnoreUnknown=1;K8S_POD_NAME=a", "IgnoreUnknown=1;K8S_POD_NAME=a" },
        { "K8S_POD_NAME=a;IgnoreUnknown=0;IP=1.2.3.4",
          "IgnoreUnknown=1;K8S_POD_NAME=a;IP=1.2.3.4" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *s = cni_args_for_ipam(cases[i].in);
        assert_string_equal(s, cases[i].out);
        free(s);
    }
}

/* Network configuration. */

static void
test_netconf_defaults(void **state OVS_UNUSED)
{
    struct cni_netconf conf;

    check_ok(cni_netconf_parse(
                 "{\"cniVersion\":\"1.0.0\",\"name\":\"net\","
                 "\"type\":\"ovs-netpol-cni\","
                 "\"ipam\":{\"type\":\"host-local\"},"
                 "\"runtimeConfig\":{},\"unknown\":[1]}",
                 "/run/ovs", &conf));
    assert_string_equal(conf.cni_version, "1.0.0");
    assert_string_equal(conf.name, "net");
    assert_string_equal(conf.type, "ovs-netpol-cni");
    assert_string_equal(conf.bridge, "br-int");
    assert_string_equal(conf.ovsdb, "unix:/run/ovs/db.sock");
    assert_int_equal(conf.mtu, 0);
    assert_string_equal(conf.ipam_type, "host-local");
    cni_netconf_destroy(&conf);

    check_ok(cni_netconf_parse(
                 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\","
                 "\"bridge\":\"br0\",\"ovsdb\":\"tcp:1.2.3.4:6640\","
                 "\"mtu\":1400}", "/x", &conf));
    assert_string_equal(conf.bridge, "br0");
    assert_string_equal(conf.ovsdb, "tcp:1.2.3.4:6640");
    assert_int_equal(conf.mtu, 1400);
    assert_null(conf.ipam_type);
    cni_netconf_destroy(&conf);
}

static void
test_netconf_errors(void **state OVS_UNUSED)
{
    struct {
        const char *text;
        int code;
        const char *msg;
    } cases[] = {
        { "", CNI_ERR_DECODE, "stdin is empty" },
        { "{\"cniVersion\":", CNI_ERR_DECODE, "failed to decode" },
        { "[1]", CNI_ERR_DECODE, "not a JSON object" },
        { "{\"name\":\"n\",\"type\":\"t\"}", CNI_ERR_INVALID_CONFIG,
          "\"cniVersion\" is missing" },
        { "{\"cniVersion\":1}", CNI_ERR_INVALID_CONFIG, "cniVersion" },
        { "{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"type\":\"t\"}",
          CNI_ERR_INCOMPATIBLE_VERSION, "incompatible CNI versions" },
        { "{\"cniVersion\":\"1.0.0\",\"type\":\"t\"}",
          CNI_ERR_INVALID_CONFIG, "\"name\" is missing" },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"-n\",\"type\":\"t\"}",
          CNI_ERR_INVALID_CONFIG, "name \"-n\"" },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}",
          CNI_ERR_INVALID_CONFIG, "\"type\" is missing" },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
          "\"bridge\":5}", CNI_ERR_INVALID_CONFIG, "\"bridge\"" },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
          "\"ovsdb\":\"\"}", CNI_ERR_INVALID_CONFIG, "\"ovsdb\"" },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
          "\"mtu\":10}", CNI_ERR_INVALID_CONFIG, "\"mtu\"" },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
          "\"mtu\":\"1500\"}", CNI_ERR_INVALID_CONFIG, "\"mtu\"" },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
          "\"ipam\":[]}", CNI_ERR_INVALID_CONFIG, "\"ipam\"" },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
          "\"ipam\":{}}", CNI_ERR_INVALID_CONFIG, "ipam \"type\"" },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
          "\"ipam\":{\"type\":\"../x\"}}", CNI_ERR_INVALID_CONFIG, "'/'" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct cni_netconf conf;
        check_error(cni_netconf_parse(cases[i].text, "/x", &conf),
                    cases[i].code, cases[i].msg);
    }

    /* The version error says what is supported. */
    struct cni_netconf conf;
    struct cni_error *error = cni_netconf_parse(
        "{\"cniVersion\":\"2.0.0\"}", "/x", &conf);
    assert_non_null(error);
    assert_string_equal(error->details,
                        "config is \"2.0.0\", plugin supports "
                        "[\"1.0.0\" \"1.1.0\"]");
    cni_error_destroy(error);
}

static void
test_ipam_request(void **state OVS_UNUSED)
{
    struct cni_netconf conf;

    check_ok(cni_netconf_parse(
                 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\","
                 "\"ipam\":{\"type\":\"host-local\","
                 "\"subnet\":\"10.0.0.0/24\"}}", "/x", &conf));
    char *s = cni_netconf_ipam_request(&conf, CNI_IPAM_VERSION);
    assert_string_equal(s, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
                        "\"type\":\"t\",\"ipam\":{\"type\":\"host-local\","
                        "\"subnet\":\"10.0.0.0/24\"}}");
    free(s);
    /* host-local's default dataDir and the default time limits. */
    assert_string_equal(conf.ipam_data_dir, CNI_HOST_LOCAL_DATA_DIR);
    assert_int_equal(conf.ipam_timeout_ms, CNI_DEFAULT_IPAM_TIMEOUT_MS);
    assert_int_equal(conf.ofport_timeout_ms, CNI_DEFAULT_OFPORT_TIMEOUT_MS);
    assert_null(conf.prev_result);
    /* The parsed configuration itself is unchanged. */
    assert_string_equal(
        json_string_value(json_object_get(conf.json, "cniVersion")), "1.1.0");
    cni_netconf_destroy(&conf);
}

static void
test_version(void **state OVS_UNUSED)
{
    char *reply;

    check_ok(cni_version_reply("", &reply));
    assert_string_equal(reply, "{\"cniVersion\":\"1.1.0\","
                        "\"supportedVersions\":[\"1.0.0\",\"1.1.0\"]}");
    free(reply);
    check_ok(cni_version_reply("{\"cniVersion\":\"1.0.0\"}", &reply));
    assert_string_equal(reply, "{\"cniVersion\":\"1.0.0\","
                        "\"supportedVersions\":[\"1.0.0\",\"1.1.0\"]}");
    free(reply);
    check_error(cni_version_reply("{", &reply), CNI_ERR_DECODE, "VERSION");

    assert_true(cni_version_is_supported("1.0.0"));
    assert_true(cni_version_is_supported("1.1.0"));
    assert_false(cni_version_is_supported("0.4.0"));

    char *v = cni_stdin_version("{\"cniVersion\":\"0.3.1\"}");
    assert_string_equal(v, "0.3.1");
    free(v);
    assert_null(cni_stdin_version("{\"cniVersion\":1}"));
    assert_null(cni_stdin_version("garbage"));
    assert_null(cni_stdin_version(NULL));
}

/* Names. */

static void
test_host_ifname(void **state OVS_UNUSED)
{
    char *a = cni_host_ifname("0123456789abcdef", "eth0");
    char *b = cni_host_ifname("0123456789abcdef", "eth0");
    char *c = cni_host_ifname("0123456789abcdef", "eth1");
    char *d = cni_host_ifname("0123456789abcdeF", "eth0");

    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 14);
    assert_true(cni_ifname_is_valid(a));
    assert_memory_equal(a, CNI_HOST_IFNAME_PREFIX, 2);
    assert_int_equal(strspn(a + 2, "0123456789abcdef"), 12);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);

    /* A fixed value: changing the derivation would orphan existing
     * interfaces on upgrade.  (SHA-1 of "ctr/eth0".) */
    char *e = cni_host_ifname("ctr", "eth0");
    assert_string_equal(e, "np63302778b1ee");
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

/* Addresses. */

static void
test_cidr(void **state OVS_UNUSED)
{
    struct cni_cidr cidr;
    char *s;

    assert_null(cni_cidr_parse("10.244.0.5/24", true, &cidr));
    assert_true(cni_cidr_is_ipv4(&cidr));
    assert_int_equal(cidr.plen, 24);
    s = cni_cidr_format(&cidr, true);
    assert_string_equal(s, "10.244.0.5/24");
    free(s);
    s = cni_cidr_format(&cidr, false);
    assert_string_equal(s, "10.244.0.5");
    free(s);

    assert_null(cni_cidr_parse("fd00::5/64", true, &cidr));
    assert_false(cni_cidr_is_ipv4(&cidr));
    s = cni_cidr_format(&cidr, true);
    assert_string_equal(s, "fd00::5/64");
    free(s);

    assert_null(cni_cidr_parse("10.0.0.1", false, &cidr));
    assert_int_equal(cidr.plen, 32);
    assert_null(cni_cidr_parse("0.0.0.0/0", true, &cidr));
    assert_int_equal(cidr.plen, 0);

    const char *bad[] = { "10.0.0.1", "10.0.0.1/33", "10.0.0.1/", "x/8",
                          "fd00::/129", "10.0.0.1/8x" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        s = cni_cidr_parse(bad[i], true, &cidr);
        if (!s) {
            fail_msg("\"%s\" accepted", bad[i]);
        }
        free(s);
    }
}

/* IPAM results and the plugin's result. */

#define HOST_LOCAL_RESULT \
    "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.244.1.2/24\"," \
    "\"gateway\":\"10.244.1.1\"}],\"dns\":{}}"

#define DUAL_STACK_RESULT \
    "{\"cniVersion\":\"1.0.0\",\"ips\":[" \
    "{\"address\":\"10.244.1.2/24\",\"gateway\":\"10.244.1.1\"}," \
    "{\"address\":\"fd00::2/64\",\"gateway\":\"fd00::1\"}]," \
    "\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"10.96.0.0/12\"," \
    "\"gw\":\"10.244.1.254\"}]," \
    "\"dns\":{\"nameservers\":[\"10.96.0.10\"]}}"

static void
test_ipam_result(void **state OVS_UNUSED)
{
    struct cni_ipam_result r;

    check_ok(cni_ipam_result_parse(HOST_LOCAL_RESULT, &r));
    assert_int_equal(r.n_ips, 1);
    assert_true(r.ips[0].has_gateway);
    assert_int_equal(r.n_routes, 0);
    char *ips = cni_ipam_result_ips(&r);
    assert_string_equal(ips, "10.244.1.2");
    free(ips);
    assert_non_null(cni_ipam_result_gateway(&r, true));
    assert_null(cni_ipam_result_gateway(&r, false));
    cni_ipam_result_destroy(&r);

    check_ok(cni_ipam_result_parse(DUAL_STACK_RESULT, &r));
    assert_int_equal(r.n_ips, 2);
    assert_int_equal(r.n_routes, 2);
    assert_false(r.routes[0].has_gw);
    assert_true(r.routes[1].has_gw);
    ips = cni_ipam_result_ips(&r);
    assert_string_equal(ips, "10.244.1.2,fd00::2");
    free(ips);
    assert_non_null(r.dns);
    cni_ipam_result_destroy(&r);
}

static void
test_ipam_result_errors(void **state OVS_UNUSED)
{
    const char *bad[] = {
        "",
        "[]",
        "{}",
        "{\"ips\":[]}",
        "{\"ips\":[1]}",
        "{\"ips\":[{}]}",
        "{\"ips\":[{\"address\":\"10.0.0.2\"}]}",
        "{\"ips\":[{\"address\":\"10.0.0.2/24\",\"gateway\":\"fd00::1\"}]}",
        "{\"ips\":[{\"address\":\"10.0.0.2/24\"}],\"routes\":{}}",
        "{\"ips\":[{\"address\":\"10.0.0.2/24\"}],\"routes\":[{}]}",
        "{\"ips\":[{\"address\":\"10.0.0.2/24\"}],"
        "\"routes\":[{\"dst\":\"::/0\",\"gw\":\"10.0.0.1\"}]}",
    };

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct cni_ipam_result r;
        struct cni_error *error = cni_ipam_result_parse(bad[i], &r);
        if (!error) {
            fail_msg("accepted: %s", bad[i]);
        }
        assert_int_equal(error->code, CNI_ERR_DECODE);
        assert_non_null(strstr(error->msg, "IPAM result"));
        cni_error_destroy(error);
    }
}

static void
test_default_routes(void **state OVS_UNUSED)
{
    struct cni_ipam_result r;

    /* host-local without "routes": one default route via the gateway. */
    check_ok(cni_ipam_result_parse(HOST_LOCAL_RESULT, &r));
    cni_ipam_result_add_default_routes(&r);
    assert_int_equal(r.n_routes, 1);
    char *s = cni_cidr_format(&r.routes[0].dst, true);
    assert_string_equal(s, "0.0.0.0/0");
    free(s);
    assert_true(r.routes[0].has_gw);
    s = cni_cidr_format(&r.routes[0].gw, false);
    assert_string_equal(s, "10.244.1.1");
    free(s);
    cni_ipam_result_destroy(&r);

    /* Dual stack with an IPv4 default route: only IPv6 gets one. */
    check_ok(cni_ipam_result_parse(DUAL_STACK_RESULT, &r));
    cni_ipam_result_add_default_routes(&r);
    assert_int_equal(r.n_routes, 3);
    s = cni_cidr_format(&r.routes[2].dst, true);
    assert_string_equal(s, "::/0");
    free(s);
    s = cni_cidr_format(&r.routes[2].gw, false);
    assert_string_equal(s, "fd00::1");
    free(s);
    cni_ipam_result_destroy(&r);
}

static void
test_result_json(void **state OVS_UNUSED)
{
    struct cni_ipam_result r;
    const struct cni_interface ifaces[] = {
        { "np0123456789ab", "aa:bb:cc:dd:ee:01", NULL, 0 },
        { "eth0", "aa:bb:cc:dd:ee:02", "/var/run/netns/p", 0 },
    };

    check_ok(cni_ipam_result_parse(DUAL_STACK_RESULT, &r));
    char *s = cni_result_to_json("1.0.0", ifaces, 2, 1, &r, NULL);
    assert_string_equal(
        s,
        "{\"cniVersion\":\"1.0.0\",\"interfaces\":["
        "{\"name\":\"np0123456789ab\",\"mac\":\"aa:bb:cc:dd:ee:01\"},"
        "{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:02\","
        "\"sandbox\":\"/var/run/netns/p\"}],"
        "\"ips\":[{\"address\":\"10.244.1.2/24\",\"interface\":1,"
        "\"gateway\":\"10.244.1.1\"},"
        "{\"address\":\"fd00::2/64\",\"interface\":1,"
        "\"gateway\":\"fd00::1\"}],"
        "\"routes\":[{\"dst\":\"0.0.0.0/0\"},"
        "{\"dst\":\"10.96.0.0/12\",\"gw\":\"10.244.1.254\"}],"
        "\"dns\":{\"nameservers\":[\"10.96.0.10\"]}}");
    free(s);
    cni_ipam_result_destroy(&r);

    /* Without DNS from IPAM, "dns" is an empty object. */
    check_ok(cni_ipam_result_parse("{\"ips\":[{\"address\":\"10.0.0.2/8\"}]}",
                                   &r));
    s = cni_result_to_json("1.1.0", ifaces, 1, 0, &r, NULL);
    assert_string_equal(
        s,
        "{\"cniVersion\":\"1.1.0\",\"interfaces\":["
        "{\"name\":\"np0123456789ab\",\"mac\":\"aa:bb:cc:dd:ee:01\"}],"
        "\"ips\":[{\"address\":\"10.0.0.2/8\",\"interface\":0}],"
        "\"routes\":[],\"dns\":{}}");
    free(s);
    cni_ipam_result_destroy(&r);
}

/* prevResult. */

#define PREV_RESULT \
    "{\"cniVersion\":\"1.0.0\",\"interfaces\":[" \
    "{\"name\":\"np0123456789ab\",\"mac\":\"aa:bb:cc:dd:ee:01\"}," \
    "{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:02\"," \
    "\"sandbox\":\"/var/run/netns/p\"}]," \
    "\"ips\":[{\"address\":\"10.244.1.2/24\",\"interface\":1," \
    "\"gateway\":\"10.244.1.1\"}]," \
    "\"routes\":[{\"dst\":\"0.0.0.0/0\"}," \
    "{\"dst\":\"10.96.0.0/12\",\"gw\":\"10.244.1.254\"}],\"dns\":{}}"

static void
test_netconf_prev_result(void **state OVS_UNUSED)
{
    struct cni_netconf conf;

    check_ok(cni_netconf_parse(
                 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\","
                 "\"ipamTimeoutMs\":500,\"ofportTimeoutMs\":700,"
                 "\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"/d\"},"
                 "\"prevResult\":" PREV_RESULT "}", "/x", &conf));
    assert_string_equal(conf.ipam_data_dir, "/d");
    assert_int_equal(conf.ipam_timeout_ms, 500);
    assert_int_equal(conf.ofport_timeout_ms, 700);
    assert_non_null(conf.prev_result);

    /* The delegate gets prevResult in its own version. */
    char *s = cni_netconf_ipam_request(&conf, CNI_IPAM_VERSION);
    assert_non_null(strstr(s, "\"prevResult\":{\"cniVersion\":\"1.0.0\""));
    assert_null(strstr(s, "1.1.0"));
    free(s);
    cni_netconf_destroy(&conf);

    check_error(cni_netconf_parse(
                    "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
                    "\"prevResult\":[]}", "/x", &conf),
                CNI_ERR_DECODE, "prevResult");
    check_error(cni_netconf_parse(
                    "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
                    "\"ipamTimeoutMs\":0}", "/x", &conf),
                CNI_ERR_INVALID_CONFIG, "ipamTimeoutMs");
    /* No dataDir unless the delegate is host-local. */
    check_ok(cni_netconf_parse(
                 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
                 "\"ipam\":{\"type\":\"static\"}}", "/x", &conf));
    assert_null(conf.ipam_data_dir);
    cni_netconf_destroy(&conf);
}

static void
test_prev_result(void **state OVS_UNUSED)
{
    struct cni_prev_result r;
    json_t *json = json_loads(PREV_RESULT, 0, NULL);

    check_ok(cni_prev_result_parse(json, &r));
    assert_int_equal(r.n_ifaces, 2);
    assert_string_equal(r.ifaces[1].mac, "aa:bb:cc:dd:ee:02");
    assert_null(r.ifaces[0].sandbox);
    assert_int_equal(r.ipr.n_ips, 1);
    assert_int_equal(r.ipr.ips[0].iface, 1);
    assert_int_equal(r.ipr.n_routes, 2);
    assert_int_equal(cni_prev_result_find_iface(&r, "eth0",
                                                "/var/run/netns/p"), 1);
    assert_int_equal(cni_prev_result_find_iface(&r, "eth0", "/other"), -1);
    assert_int_equal(cni_prev_result_find_iface(&r, "np0123456789ab",
                                                NULL), 0);

    /* CHECK's comparisons. */
    struct cni_cidr addrs[2];
    char *msg;
    assert_null(cni_cidr_parse("fe80::1/64", true, &addrs[0]));
    assert_null(cni_cidr_parse("10.244.1.2/24", true, &addrs[1]));
    assert_null(cni_check_addresses(&r, 1, addrs, 2));
    msg = cni_check_addresses(&r, 1, addrs, 1);
    assert_string_equal(msg, "address 10.244.1.2/24 is missing");
    free(msg);
    /* Same address, other prefix length. */
    addrs[1].plen = 16;
    msg = cni_check_addresses(&r, 1, addrs, 2);
    assert_non_null(msg);
    free(msg);
    /* Addresses of other interfaces are not ours to check. */
    assert_null(cni_check_addresses(&r, 0, NULL, 0));

    struct cni_route routes[3];
    memset(routes, 0, sizeof routes);
    assert_null(cni_cidr_parse("0.0.0.0/0", true, &routes[0].dst));
    routes[0].has_gw = true;
    assert_null(cni_cidr_parse("10.244.1.1", false, &routes[0].gw));
    assert_null(cni_cidr_parse("10.244.1.0/24", true, &routes[1].dst));
    assert_null(cni_cidr_parse("10.96.0.0/12", true, &routes[2].dst));
    routes[2].has_gw = true;
    assert_null(cni_cidr_parse("10.244.1.254", false, &routes[2].gw));
    assert_null(cni_check_routes(&r, routes, 3));
    msg = cni_check_routes(&r, routes + 1, 2);
    assert_string_equal(msg, "route to 0.0.0.0/0 is missing");
    free(msg);
    /* A different gateway does not count. */
    assert_null(cni_cidr_parse("10.244.1.253", false, &routes[2].gw));
    msg = cni_check_routes(&r, routes, 3);
    assert_string_equal(msg,
                        "route to 10.96.0.0/12 via 10.244.1.254 is missing");
    free(msg);
    cni_prev_result_destroy(&r);
    json_decref(json);

    /* Errors. */
    json = json_loads("{\"interfaces\":[{\"mac\":\"x\"}]}", 0, NULL);
    check_error(cni_prev_result_parse(json, &r), CNI_ERR_DECODE, "name");
    json_decref(json);
    json = json_loads("{\"interfaces\":[],\"ips\":[{\"address\":"
                      "\"10.0.0.1/8\",\"interface\":3}]}", 0, NULL);
    check_error(cni_prev_result_parse(json, &r), CNI_ERR_DECODE,
                "interface 3");
    json_decref(json);
    /* A result without addresses is fine. */
    json = json_loads("{\"cniVersion\":\"1.0.0\"}", 0, NULL);
    check_ok(cni_prev_result_parse(json, &r));
    assert_int_equal(r.n_ifaces, 0);
    cni_prev_result_destroy(&r);
    json_decref(json);
}

static void
test_result_chained(void **state OVS_UNUSED)
{
    struct cni_ipam_result r;
    const struct cni_interface ifaces[] = {
        { "np0123456789ab", "aa:bb:cc:dd:ee:01", NULL, 1400 },
        { "eth1", "aa:bb:cc:dd:ee:02", "/var/run/netns/p", 1400 },
    };
    json_t *prev = json_loads(
        "{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"lo\","
        "\"mac\":\"00:00:00:00:00:00\",\"sandbox\":\"/var/run/netns/p\"}],"
        "\"ips\":[{\"address\":\"127.0.0.1/8\",\"interface\":0,"
        "\"version\":\"4\"}],\"routes\":[{\"dst\":\"127.0.0.0/8\"}],"
        "\"dns\":{\"domain\":\"x\"}}", 0, NULL);

    check_ok(cni_ipam_result_parse("{\"ips\":[{\"address\":\"10.0.0.2/8\"}],"
                                   "\"dns\":{\"domain\":\"y\"}}", &r));
    char *s = cni_result_to_json("1.1.0", ifaces, 2, 1, &r, prev);
    assert_string_equal(
        s,
        "{\"cniVersion\":\"1.1.0\",\"interfaces\":["
        "{\"name\":\"lo\",\"mac\":\"00:00:00:00:00:00\","
        "\"sandbox\":\"/var/run/netns/p\"},"
        "{\"name\":\"np0123456789ab\",\"mac\":\"aa:bb:cc:dd:ee:01\","
        "\"mtu\":1400},"
        "{\"name\":\"eth1\",\"mac\":\"aa:bb:cc:dd:ee:02\",\"mtu\":1400,"
        "\"sandbox\":\"/var/run/netns/p\"}],"
        "\"ips\":[{\"address\":\"127.0.0.1/8\",\"interface\":0},"
        "{\"address\":\"10.0.0.2/8\",\"interface\":2}],"
        "\"routes\":[{\"dst\":\"127.0.0.0/8\"}],"
        "\"dns\":{\"domain\":\"x\"}}");
    free(s);

    /* 1.0.0 has no "mtu" in interfaces. */
    s = cni_result_to_json("1.0.0", ifaces, 1, 0, &r, NULL);
    assert_null(strstr(s, "mtu"));
    assert_non_null(strstr(s, "\"dns\":{\"domain\":\"y\"}"));
    free(s);
    cni_ipam_result_destroy(&r);
    json_decref(prev);
}

/* GC and host-local. */

static void
test_valid_attachments(void **state OVS_UNUSED)
{
    struct cni_netconf conf;
    struct sset valid = SSET_INITIALIZER(&valid);

    check_ok(cni_netconf_parse(
                 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\","
                 "\"cni.dev/valid-attachments\":["
                 "{\"containerID\":\"c1\",\"ifname\":\"eth0\"},"
                 "{\"containerID\":\"c2\"}]}", "/x", &conf));
    check_ok(cni_netconf_valid_attachments(&conf, &valid));
    assert_true(cni_attachment_is_valid(&valid, "c1", "eth0"));
    assert_false(cni_attachment_is_valid(&valid, "c1", "eth1"));
    assert_true(cni_attachment_is_valid(&valid, "c2", "eth7"));
    assert_false(cni_attachment_is_valid(&valid, "c3", "eth0"));
    sset_destroy(&valid);
    cni_netconf_destroy(&conf);

    /* The older key, and an empty list. */
    sset_init(&valid);
    check_ok(cni_netconf_parse(
                 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\","
                 "\"cni.dev/attachments\":[]}", "/x", &conf));
    check_ok(cni_netconf_valid_attachments(&conf, &valid));
    assert_true(sset_is_empty(&valid));
    cni_netconf_destroy(&conf);

    /* Errors. */
    check_ok(cni_netconf_parse(
                 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\"}",
                 "/x", &conf));
    check_error(cni_netconf_valid_attachments(&conf, &valid),
                CNI_ERR_INVALID_CONFIG, "valid-attachments");
    cni_netconf_destroy(&conf);
    check_ok(cni_netconf_parse(
                 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\","
                 "\"cni.dev/valid-attachments\":[{\"ifname\":\"eth0\"}]}",
                 "/x", &conf));
    check_error(cni_netconf_valid_attachments(&conf, &valid),
                CNI_ERR_INVALID_CONFIG, "containerID");
    cni_netconf_destroy(&conf);
    sset_destroy(&valid);
}

static void
test_host_local_files(void **state OVS_UNUSED)
{
    char *id, *ifname;

    assert_true(cni_host_local_is_reservation("10.244.0.2"));
    assert_true(cni_host_local_is_reservation("fd00::2"));
    assert_false(cni_host_local_is_reservation("lock"));
    assert_false(cni_host_local_is_reservation("last_reserved_ip.0"));

    assert_true(cni_host_local_parse_reservation("ctr1\neth0", &id,
                                                 &ifname));
    assert_string_equal(id, "ctr1");
    assert_string_equal(ifname, "eth0");
    free(id);
    free(ifname);

    assert_true(cni_host_local_parse_reservation("ctr1\r\neth0\n", &id,
                                                 &ifname));
    assert_string_equal(ifname, "eth0");
    free(id);
    free(ifname);

    /* Old host-local: the container id alone. */
    assert_true(cni_host_local_parse_reservation("ctr1", &id, &ifname));
    assert_string_equal(id, "ctr1");
    assert_null(ifname);
    free(id);

    assert_false(cni_host_local_parse_reservation("", &id, &ifname));
    assert_false(cni_host_local_parse_reservation("../x\neth0", &id,
                                                  &ifname));
}

static void
test_version_list(void **state OVS_UNUSED)
{
    const char *hl = "{\"cniVersion\":\"1.0.0\",\"supportedVersions\":"
                     "[\"0.4.0\",\"1.0.0\"]}";
    assert_true(cni_version_list_contains(hl, "1.0.0"));
    assert_false(cni_version_list_contains(hl, "1.1.0"));
    assert_false(cni_version_list_contains("garbage", "1.0.0"));
}

/* Errors. */

static void
test_error_json(void **state OVS_UNUSED)
{
    struct cni_error *error = cni_error_create(CNI_ERR_INVALID_ENV,
                                               "missing %s", "CNI_NETNS");
    char *s = cni_error_to_json("1.0.0", error);
    assert_string_equal(s, "{\"cniVersion\":\"1.0.0\",\"code\":4,"
                        "\"msg\":\"missing CNI_NETNS\"}");
    free(s);

    cni_error_set_details(error, "details %d", 1);
    cni_error_prefix(error, "context");
    s = cni_error_to_json("1.1.0", error);
    assert_string_equal(s, "{\"cniVersion\":\"1.1.0\",\"code\":4,"
                        "\"msg\":\"context: missing CNI_NETNS\","
                        "\"details\":\"details 1\"}");
    cni_error_destroy(error);

    /* Round trip through the parser, as for a delegate's error. */
    error = cni_error_parse(s);
    free(s);
    assert_non_null(error);
    assert_int_equal(error->code, 4);
    assert_string_equal(error->msg, "context: missing CNI_NETNS");
    assert_string_equal(error->details, "details 1");
    cni_error_destroy(error);

    /* host-local's style: code 999, no details. */
    error = cni_error_parse("{\"code\":999,\"msg\":\"no IP addresses\"}");
    assert_non_null(error);
    assert_int_equal(error->code, 999);
    assert_null(error->details);
    cni_error_destroy(error);

    assert_null(cni_error_parse("not json"));
    assert_null(cni_error_parse("{\"msg\":\"no code\"}"));
    assert_null(cni_error_parse(NULL));
    cni_error_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_add),
        cmocka_unit_test(test_env_missing),
        cmocka_unit_test(test_env_invalid),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_args_for_ipam),
        cmocka_unit_test(test_netconf_defaults),
        cmocka_unit_test(test_netconf_errors),
        cmocka_unit_test(test_ipam_request),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_host_ifname),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_ipam_result),
        cmocka_unit_test(test_ipam_result_errors),
        cmocka_unit_test(test_default_routes),
        cmocka_unit_test(test_result_json),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_netconf_prev_result),
        cmocka_unit_test(test_prev_result),
        cmocka_unit_test(test_result_chained),
        cmocka_unit_test(test_valid_attachments),
        cmocka_unit_test(test_host_local_files),
        cmocka_unit_test(test_version_list),
    };
    return cmocka_run_group_tests_name("cni-config", tests, NULL, NULL);
}
