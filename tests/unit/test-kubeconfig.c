/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* Unit tests for lib/kubeconfig: kubeconfig files in YAML and JSON,
 * contexts, relative paths, *-data fields, and the in-cluster
 * configuration. */

#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "lib/kubeconfig.h"
#include "util.h"

/* "-----BEGIN CERTIFICATE-----\nCA\n" and friends, base64-encoded. */
#define CA_PEM "-----BEGIN CERTIFICATE-----\nCA\n"
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg=="
#define CERT_PEM "CERT\n"
#define CERT_B64 "Q0VSVAo="
#define KEY_PEM "KEY"
#define KEY_B64 "S0VZ"

static const char yaml_config[] =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: dev\n"
    "preferences: {}\n"
    "clusters:\n"
    "- name: dev-cluster\n"
    "  cluster:\n"
    "    server: https://10.0.0.1:6443/\n"
    "    certificate-authority: pki/ca.crt\n"
    "- name: prod-cluster\n"
    "  cluster:\n"
    "    server: https://[fd00::1]:6443\n"
    "    certificate-authority: /etc/ca.crt\n"
    "    certificate-authority-data: " CA_B64 "\n"
    "    insecure-skip-tls-verify: true\n"
    "contexts:\n"
    "- name: dev\n"
    "  context:\n"
    "    cluster: dev-cluster\n"
    "    user: dev-user\n"
    "    namespace: kube-system\n"
    "- name: prod\n"
    "  context: {cluster: prod-cluster, user: prod-user}\n"
    "- name: anon\n"
    "  context:\n"
    "    cluster: dev-cluster\n"
    "users:\n"
    "- name: dev-user\n"
    "  user:\n"
    "    token: abc.def\n"
    "    tokenFile: tokens/dev\n"
    "    client-certificate: certs/client.crt\n"
    "    client-key: /abs/client.key\n"
    "- name: prod-user\n"
    "  user:\n"
    "    client-certificate: ignored.crt\n"
    "    client-certificate-data: " CERT_B64 "\n"
    "    client-key-data: |\n"
    "      " KEY_B64 "\n";

static struct k8s_endpoint
parse_ok(const char *text, const char *path, const char *context)
{
    struct k8s_endpoint ep;
    char *error = kcfg_parse(text, strlen(text), path, context, &ep);

    if (error) {
        fail_msg("unexpected error: %s", error);
    }
    return ep;
}

static void
parse_error(const char *text, const char *context, const char *expected)
{
    struct k8s_endpoint ep = { .server = (char *) "untouched" };
    char *error = kcfg_parse(text, strlen(text), "/k/config", context, &ep);

    if (!error) {
        fail_msg("expected an error containing \"%s\"", expected);
    }
    if (!strstr(error, expected)) {
        fail_msg("error \"%s\" lacks \"%s\"", error, expected);
    }
    assert_string_equal(ep.server, "untouched");
    free(error);
}

static void
test_yaml_current_context(void **state OVS_UNUSED)
{
    struct k8s_endpoint ep = parse_ok(yaml_config, "/home/u/.kube/config",
                                      NULL);

    assert_string_equal(ep.server, "https://10.0.0.1:6443");
    assert_string_equal(ep.context, "dev");
    assert_string_equal(ep.ca_file, "/home/u/.kube/pki/ca.crt");
    assert_null(ep.ca_data.data);
    assert_false(ep.insecure);
    assert_string_equal(ep.token, "abc.def");
    assert_string_equal(ep.token_file, "/home/u/.kube/tokens/dev");
    assert_string_equal(ep.client_cert_file,
                        "/home/u/.kube/certs/client.crt");
    assert_string_equal(ep.client_key_file, "/abs/client.key");
    assert_null(ep.client_cert_data.data);

    struct k8s_endpoint copy;
    kcfg_endpoint_clone(&copy, &ep);
    kcfg_endpoint_destroy(&ep);
    assert_string_equal(copy.token_file, "/home/u/.kube/tokens/dev");
    kcfg_endpoint_destroy(&copy);
}

static void
test_yaml_other_context_and_data(void **state OVS_UNUSED)
{
    struct k8s_endpoint ep = parse_ok(yaml_config, "config", "prod");

    assert_string_equal(ep.server, "https://[fd00::1]:6443");
    assert_string_equal(ep.context, "prod");
    assert_true(ep.insecure);
    /* The -data variant wins; the file stays, unused, for messages. */
    assert_int_equal(ep.ca_data.size, strlen(CA_PEM));
    assert_memory_equal(ep.ca_data.data, CA_PEM, strlen(CA_PEM));
    assert_int_equal(ep.client_cert_data.size, strlen(CERT_PEM));
    assert_memory_equal(ep.client_cert_data.data, CERT_PEM,
                        strlen(CERT_PEM));
    assert_int_equal(ep.client_key_data.size, strlen(KEY_PEM));
    assert_memory_equal(ep.client_key_data.data, KEY_PEM, strlen(KEY_PEM));
    /* A relative path next to a kubeconfig without directory. */
    assert_string_equal(ep.client_cert_file, "./ignored.crt");
    assert_null(ep.token);
    assert_null(ep.token_file);
    kcfg_endpoint_destroy(&ep);

    /* A context without user: no credentials, not an error. */
    ep = parse_ok(yaml_config, "/k/config", "anon");
    assert_string_equal(ep.server, "https://10.0.0.1:6443");
    assert_null(ep.token);
    assert_null(ep.client_cert_file);
    kcfg_endpoint_destroy(&ep);
}

static void
test_json(void **state OVS_UNUSED)
{
    static const char json_config[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"Config\","
        "\"current-context\":\"c\","
        "\"clusters\":[{\"name\":\"k\",\"cluster\":{"
        "\"server\":\"http://127.0.0.1:8080\","
        "\"insecure-skip-tls-verify\":\"true\"}}],"
        "\"contexts\":[{\"name\":\"c\",\"context\":{\"cluster\":\"k\","
        "\"user\":\"u\"}}],"
        "\"users\":[{\"name\":\"u\",\"user\":{\"tokenFile\":\"tok\"}}]}";
    struct k8s_endpoint ep = parse_ok(json_config, "/run/test/kubeconfig",
                                      NULL);

    assert_string_equal(ep.server, "http://127.0.0.1:8080");
    assert_true(ep.insecure);
    assert_null(ep.token);
    assert_string_equal(ep.token_file, "/run/test/tok");
    assert_null(ep.ca_file);
    kcfg_endpoint_destroy(&ep);
}

static void
test_single_context_without_current(void **state OVS_UNUSED)
{
    static const char config[] =
        "clusters: [{name: k, cluster: {server: 'https://h:1'}}]\n"
        "contexts: [{name: only, context: {cluster: k}}]\n";
    struct k8s_endpoint ep = parse_ok(config, "/x/y", NULL);

    assert_string_equal(ep.context, "only");
    assert_string_equal(ep.server, "https://h:1");
    kcfg_endpoint_destroy(&ep);
}

static void
test_errors(void **state OVS_UNUSED)
{
    parse_error(yaml_config, "nope", "context \"nope\" not found");
    parse_error("kind: Config\n", NULL, "no current-context");
    parse_error("current-context: c\ncontexts: [{name: c, context: "
                "{cluster: k}}]\n", NULL, "cluster \"k\" not found");
    parse_error("current-context: c\n"
                "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
                "clusters: [{name: k, cluster: {server: 'https://h'}}]\n",
                NULL, "user \"u\" not found");
    parse_error("current-context: c\n"
                "contexts: [{name: c, context: {cluster: k}}]\n"
                "clusters: [{name: k, cluster: {server: 'h:6443'}}]\n",
                NULL, "not an http:// or https:// URL");
    parse_error("current-context: c\n"
                "contexts: [{name: c, context: {cluster: k}}]\n"
                "clusters: [{name: k, cluster: {}}]\n",
                NULL, "no server");
    parse_error("current-context: c\n"
                "contexts: [{name: c, context: {cluster: k}}]\n"
                "clusters: [{name: k, cluster: {server: 'https://h', "
                "certificate-authority-data: 'not*base64'}}]\n",
                NULL, "certificate-authority-data: base64");
    parse_error("current-context: c\n"
                "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
                "clusters: [{name: k, cluster: {server: 'https://h'}}]\n"
                "users: [{name: u, user: {client-certificate: a.crt}}]\n",
                NULL, "without a client key");
    parse_error("current-context: c\n"
                "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
                "clusters: [{name: k, cluster: {server: 'https://h'}}]\n"
                "users: [{name: u, user: {exec: {command: aws}}}]\n",
                NULL, "exec");
    parse_error("a: [\n", NULL, "YAML");
    parse_error("---\na: 1\n---\nb: 2\n", NULL, "one kubeconfig document");
}

static void
test_in_cluster(void **state OVS_UNUSED)
{
    struct k8s_endpoint ep;

    assert_null(kcfg_in_cluster("10.96.0.1", "443", NULL, &ep));
    assert_string_equal(ep.server, "https://10.96.0.1:443");
    assert_string_equal(ep.ca_file, KCFG_SERVICEACCOUNT_DIR "/ca.crt");
    assert_string_equal(ep.token_file, KCFG_SERVICEACCOUNT_DIR "/token");
    assert_null(ep.token);
    assert_false(ep.insecure);
    kcfg_endpoint_destroy(&ep);

    assert_null(kcfg_in_cluster("fd00:10:96::1", "6443", "/tmp/sa", &ep));
    assert_string_equal(ep.server, "https://[fd00:10:96::1]:6443");
    assert_string_equal(ep.ca_file, "/tmp/sa/ca.crt");
    assert_string_equal(ep.token_file, "/tmp/sa/token");
    kcfg_endpoint_destroy(&ep);

    ep.server = (char *) "untouched";
    char *error = kcfg_in_cluster(NULL, "443", NULL, &ep);
    assert_non_null(strstr(error, "KUBERNETES_SERVICE_HOST"));
    free(error);
    error = kcfg_in_cluster("10.96.0.1", "", NULL, &ep);
    assert_non_null(error);
    free(error);
    error = kcfg_in_cluster("10.96.0.1", "https", NULL, &ep);
    assert_non_null(strstr(error, "not a port"));
    free(error);
    assert_string_equal(ep.server, "untouched");
}

static void
test_base64_and_token(void **state OVS_UNUSED)
{
    struct kcfg_blob blob;

    assert_null(kcfg_base64_decode("aGVsbG8=", &blob));
    assert_int_equal(blob.size, 5);
    assert_string_equal(blob.data, "hello");
    free(blob.data);

    /* Unpadded, wrapped over lines, and with bytes that are not text. */
    assert_null(kcfg_base64_decode("aGVs\n bG8", &blob));
    assert_string_equal(blob.data, "hello");
    free(blob.data);
    assert_null(kcfg_base64_decode("AP8A", &blob));
    assert_int_equal(blob.size, 3);
    assert_memory_equal(blob.data, "\0\xff\0", 3);
    free(blob.data);

    char *error = kcfg_base64_decode("aGVsbG8=x", &blob);
    assert_non_null(error);
    free(error);
    error = kcfg_base64_decode("a", &blob);
    assert_non_null(error);
    free(error);

    char *token = kcfg_token_trim("  eyJhbGc.x.y\n", 14);
    assert_string_equal(token, "eyJhbGc.x.y");
    free(token);
    assert_null(kcfg_token_trim(" \n\t", 3));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_current_context),
        cmocka_unit_test(test_yaml_other_context_and_data),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_single_context_without_current),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_in_cluster),
        cmocka_unit_test(test_base64_and_token),
    };
    return cmocka_run_group_tests_name("kubeconfig", tests, NULL, NULL);
}
