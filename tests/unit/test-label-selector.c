/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

/* Unit tests for lib/label-selector: parsing and the matching semantics of
 * metav1.LabelSelector. */

#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "lib/label-selector.h"
#include "smap.h"
#include "util.h"

/* Parses selector JSON 'text', which must be valid. */
static void
parse_ok(const char *text, struct k8s_selector *sel)
{
    json_error_t jerr;
    json_t *json = json_loads(text, 0, &jerr);

    assert_non_null(json);
    char *error = lsel_parse(json, sel);
    if (error) {
        fail_msg("unexpected error for %s: %s", text, error);
    }
    json_decref(json);
}

/* Parses selector JSON 'text', which must be rejected with a message that
 * contains 'expected'. */
static void
parse_fails(const char *text, const char *expected)
{
    struct k8s_selector sel;
    json_error_t jerr;
    json_t *json = json_loads(text, 0, &jerr);

    assert_non_null(json);
    char *error = lsel_parse(json, &sel);
    if (!error) {
        fail_msg("%s: expected an error containing \"%s\"", text, expected);
    }
    if (!strstr(error, expected)) {
        fail_msg("%s: error \"%s\" lacks \"%s\"", text, error, expected);
    }
    /* On error the selector is left empty, and safe to destroy. */
    assert_true(lsel_is_empty(&sel));
    k8s_selector_destroy(&sel);
    free(error);
    json_decref(json);
}

/* Builds labels from "k=v,k2=v2" ("" for none). */
static void
make_labels(const char *spec, struct smap *labels)
{
    char *copy = xstrdup(spec);
    char *save = NULL;

    smap_init(labels);
    for (char *kv = strtok_r(copy, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        assert_non_null(eq);
        *eq = '\0';
        smap_add(labels, kv, eq + 1);
    }
    free(copy);
}

struct match_case {
    const char *selector;       /* LabelSelector JSON. */
    const char *labels;         /* "k=v,...". */
    bool matches;
};

static const struct match_case match_cases[] = {
    /* Empty selector: everything, including no labels. */
    { "{}", "", true },
    { "{}", "a=b", true },
    { "{\"matchLabels\": {}, \"matchExpressions\": []}", "a=b", true },
    { "{\"matchLabels\": null}", "", true },

    /* matchLabels: every pair must be present with that value. */
    { "{\"matchLabels\": {\"app\": \"web\"}}", "app=web", true },
    { "{\"matchLabels\": {\"app\": \"web\"}}", "app=web,tier=fe", true },
    { "{\"matchLabels\": {\"app\": \"web\"}}", "app=db", false },
    { "{\"matchLabels\": {\"app\": \"web\"}}", "", false },
    { "{\"matchLabels\": {\"app\": \"web\", \"tier\": \"fe\"}}",
      "app=web", false },
    { "{\"matchLabels\": {\"app\": \"\"}}", "app=", true },
    { "{\"matchLabels\": {\"app\": \"\"}}", "", false },

    /* In: key present with one of the values. */
    { "{\"matchExpressions\": [{\"key\": \"env\", \"operator\": \"In\", "
      "\"values\": [\"prod\", \"stage\"]}]}", "env=stage", true },
    { "{\"matchExpressions\": [{\"key\": \"env\", \"operator\": \"In\", "
      "\"values\": [\"prod\", \"stage\"]}]}", "env=dev", false },
    { "{\"matchExpressions\": [{\"key\": \"env\", \"operator\": \"In\", "
      "\"values\": [\"prod\"]}]}", "", false },

    /* NotIn: matches when the key is absent. */
    { "{\"matchExpressions\": [{\"key\": \"env\", \"operator\": "
      "\"NotIn\", \"values\": [\"prod\"]}]}", "", true },
    { "{\"matchExpressions\": [{\"key\": \"env\", \"operator\": "
      "\"NotIn\", \"values\": [\"prod\"]}]}", "env=dev", true },
    { "{\"matchExpressions\": [{\"key\": \"env\", \"operator\": "
      "\"NotIn\", \"values\": [\"prod\"]}]}", "env=prod", false },

    /* Exists / DoesNotExist look at the key only. */
    { "{\"matchExpressions\": [{\"key\": \"env\", \"operator\": "
      "\"Exists\"}]}", "env=", true },
    { "{\"matchExpressions\": [{\"key\": \"env\", \"operator\": "
      "\"Exists\"}]}", "other=x", false },
    { "{\"matchExpressions\": [{\"key\": \"env\", \"operator\": "
      "\"DoesNotExist\", \"values\": []}]}", "other=x", true },
    { "{\"matchExpressions\": [{\"key\": \"env\", \"operator\": "
      "\"DoesNotExist\"}]}", "env=prod", false },

    /* Everything is ANDed. */
    { "{\"matchLabels\": {\"app\": \"web\"}, \"matchExpressions\": ["
      "{\"key\": \"env\", \"operator\": \"In\", \"values\": [\"prod\"]},"
      "{\"key\": \"canary\", \"operator\": \"DoesNotExist\"}]}",
      "app=web,env=prod", true },
    { "{\"matchLabels\": {\"app\": \"web\"}, \"matchExpressions\": ["
      "{\"key\": \"env\", \"operator\": \"In\", \"values\": [\"prod\"]},"
      "{\"key\": \"canary\", \"operator\": \"DoesNotExist\"}]}",
      "app=web,env=prod,canary=1", false },
    { "{\"matchLabels\": {\"app\": \"web\"}, \"matchExpressions\": ["
      "{\"key\": \"env\", \"operator\": \"In\", \"values\": [\"prod\"]}]}",
      "app=db,env=prod", false },

    /* Prefixed keys, as the control plane's namespace label. */
    { "{\"matchLabels\": {\"kubernetes.io/metadata.name\": \"x\"}}",
      "kubernetes.io/metadata.name=x", true },
};

static void
test_match_table(void **state OVS_UNUSED)
{
    for (size_t i = 0; i < ARRAY_SIZE(match_cases); i++) {
        const struct match_case *c = &match_cases[i];
        struct k8s_selector sel;
        struct smap labels;

        parse_ok(c->selector, &sel);
        make_labels(c->labels, &labels);
        if (lsel_matches(&sel, &labels) != c->matches) {
            fail_msg("case %"PRIuSIZE": %s against {%s}: expected %s", i,
                     c->selector, c->labels,
                     c->matches ? "match" : "no match");
        }
        smap_destroy(&labels);
        k8s_selector_destroy(&sel);
    }
}

static void
test_parse_structure(void **state OVS_UNUSED)
{
    struct k8s_selector sel;

    parse_ok("{\"matchLabels\": {\"a\": \"1\", \"b\": \"2\"}, "
             "\"matchExpressions\": [{\"key\": \"c\", \"operator\": "
             "\"NotIn\", \"values\": [\"x\", \"y\"]}, {\"key\": \"d\", "
             "\"operator\": \"Exists\"}]}", &sel);
    assert_int_equal(smap_count(&sel.match_labels), 2);
    assert_string_equal(smap_get(&sel.match_labels, "b"), "2");
    assert_int_equal(sel.n_exprs, 2);
    assert_string_equal(sel.exprs[0].key, "c");
    assert_int_equal(sel.exprs[0].op, K8S_SEL_NOT_IN);
    assert_int_equal(sel.exprs[0].n_values, 2);
    assert_string_equal(sel.exprs[0].values[1], "y");
    assert_int_equal(sel.exprs[1].op, K8S_SEL_EXISTS);
    assert_int_equal(sel.exprs[1].n_values, 0);
    assert_false(lsel_is_empty(&sel));
    k8s_selector_destroy(&sel);

    /* NULL and null are "no selector given": empty. */
    assert_null(lsel_parse(NULL, &sel));
    assert_true(lsel_is_empty(&sel));
    k8s_selector_destroy(&sel);

    lsel_init(&sel);
    assert_true(lsel_is_empty(&sel));
    k8s_selector_destroy(&sel);
}

static void
test_parse_errors(void **state OVS_UNUSED)
{
    parse_fails("[]", "must be an object");
    parse_fails("{\"matchLabels\": []}", "matchLabels");
    parse_fails("{\"matchLabels\": {\"app\": 1}}", "matchLabels.app");
    parse_fails("{\"matchLabels\": {\"-bad\": \"x\"}}", "invalid label key");
    parse_fails("{\"matchLabels\": {\"Bad_Prefix/x\": \"x\"}}",
                "invalid label key");
    parse_fails("{\"matchLabels\": {\"a\": \"not ok\"}}",
                "invalid label value");
    parse_fails("{\"matchExpressions\": {}}", "matchExpressions");
    parse_fails("{\"matchExpressions\": [{\"operator\": \"Exists\"}]}",
                "matchExpressions[0].key");
    parse_fails("{\"matchExpressions\": [{\"key\": \"a\"}]}",
                "matchExpressions[0].operator");
    parse_fails("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": "
                "\"Equals\", \"values\": [\"x\"]}]}",
                "unsupported value \"Equals\"");
    parse_fails("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": "
                "\"in\", \"values\": [\"x\"]}]}", "unsupported value");
    parse_fails("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": "
                "\"In\"}]}", "must be specified when operator is In");
    parse_fails("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": "
                "\"NotIn\", \"values\": []}]}",
                "must be specified when operator is NotIn");
    parse_fails("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": "
                "\"Exists\", \"values\": [\"x\"]}]}",
                "may not be specified when operator is Exists");
    parse_fails("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": "
                "\"DoesNotExist\", \"values\": [\"x\"]}]}",
                "may not be specified when operator is DoesNotExist");
    parse_fails("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": "
                "\"In\", \"values\": [\"ok\", 3]}]}",
                "matchExpressions[0].values[1]");
    /* An error in a later expression still frees the earlier ones. */
    parse_fails("{\"matchLabels\": {\"a\": \"b\"}, \"matchExpressions\": ["
                "{\"key\": \"a\", \"operator\": \"In\", \"values\": [\"x\"]},"
                "{\"key\": \"b\", \"operator\": \"Nope\"}]}",
                "matchExpressions[1].operator");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_parse_structure),
        cmocka_unit_test(test_parse_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
