/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "lib/label-selector.h"

#include <ctype.h>
#include <string.h>
#include "smap.h"
#include "util.h"

void
lsel_init(struct k8s_selector *sel)
{
    smap_init(&sel->match_labels);
    sel->exprs = NULL;
    sel->n_exprs = 0;
}

/* True if 'c' may appear inside a label name or value. */
static bool
lsel_is_name_char__(char c)
{
    return isalnum((unsigned char) c) || c == '-' || c == '_' || c == '.';
}

/* Checks 's' ('length' bytes) against the syntax of a label value or of
 * the name part of a label key: at most 63 characters, alphanumerics, '-',
 * '_' and '.', beginning and ending with an alphanumeric.  An empty string
 * is accepted only if 'allow_empty'. */
static bool
lsel_is_valid_name__(const char *s, size_t length, bool allow_empty)
{
    if (!length) {
        return allow_empty;
    }
    if (length > 63
        || !isalnum((unsigned char) s[0])
        || !isalnum((unsigned char) s[length - 1])) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (!lsel_is_name_char__(s[i])) {
            return false;
        }
    }
    return true;
}

/* Checks that 's' ('length' bytes) is a DNS-1123 subdomain. */
static bool
lsel_is_valid_subdomain__(const char *s, size_t length)
{
    if (!length || length > 253) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        char c = s[i];
        bool alnum = islower((unsigned char) c) || isdigit((unsigned char) c);
        bool edge = i == 0 || i == length - 1;

        if (!alnum && (edge || (c != '-' && c != '.'))) {
            return false;
        }
        if (c == '.' && (s[i - 1] == '.' || s[i - 1] == '-'
                         || s[i + 1] == '-')) {
            return false;
        }
    }
    return true;
}

/* Returns an error if 'key' is not a valid label key ("[prefix/]name"). */
static char *
lsel_check_key__(const char *key)
{
    const char *slash = strchr(key, '/');
    const char *name = slash ? slash + 1 : key;

    if (slash && !lsel_is_valid_subdomain__(key, slash - key)) {
        return xasprintf("invalid label key \"%s\": prefix must be a DNS "
                         "subdomain", key);
    }
    if (!lsel_is_valid_name__(name, strlen(name), false)) {
        return xasprintf("invalid label key \"%s\": name part must be 1 to "
                         "63 alphanumerics, '-', '_' or '.', beginning and "
                         "ending with an alphanumeric", key);
    }
    return NULL;
}

/* Returns an error if 'value' is not a valid label value. */
static char *
lsel_check_value__(const char *value)
{
    if (!lsel_is_valid_name__(value, strlen(value), true)) {
        return xasprintf("invalid label value \"%s\": must be at most 63 "
                         "alphanumerics, '-', '_' or '.', beginning and "
                         "ending with an alphanumeric", value);
    }
    return NULL;
}

static bool
lsel_op_from_string__(const char *s, enum k8s_selector_op *op)
{
    if (!strcmp(s, "In")) {
        *op = K8S_SEL_IN;
    } else if (!strcmp(s, "NotIn")) {
        *op = K8S_SEL_NOT_IN;
    } else if (!strcmp(s, "Exists")) {
        *op = K8S_SEL_EXISTS;
    } else if (!strcmp(s, "DoesNotExist")) {
        *op = K8S_SEL_DOES_NOT_EXIST;
    } else {
        return false;
    }
    return true;
}

/* Parses matchExpressions[i] from 'json' into 'expr', which is zeroed. */
static char *
lsel_parse_expr__(const json_t *json, size_t i, struct k8s_selector_expr *expr)
{
    if (!json_is_object(json)) {
        return xasprintf("matchExpressions[%"PRIuSIZE"]: must be an object",
                         i);
    }

    const json_t *key = json_object_get(json, "key");
    if (!json_is_string(key)) {
        return xasprintf("matchExpressions[%"PRIuSIZE"].key: %s", i,
                         key ? "must be a string" : "required value");
    }
    char *error = lsel_check_key__(json_string_value(key));
    if (error) {
        char *msg = xasprintf("matchExpressions[%"PRIuSIZE"].key: %s",
                              i, error);
        free(error);
        return msg;
    }
    expr->key = xstrdup(json_string_value(key));

    const json_t *op = json_object_get(json, "operator");
    if (!json_is_string(op)) {
        return xasprintf("matchExpressions[%"PRIuSIZE"].operator: %s", i,
                         op ? "must be a string" : "required value");
    }
    if (!lsel_op_from_string__(json_string_value(op), &expr->op)) {
        return xasprintf("matchExpressions[%"PRIuSIZE"].operator: "
                         "unsupported value \"%s\" (supported: In, NotIn, "
                         "Exists, DoesNotExist)", i, json_string_value(op));
    }

    const json_t *values = json_object_get(json, "values");
    if (values && !json_is_null(values) && !json_is_array(values)) {
        return xasprintf("matchExpressions[%"PRIuSIZE"].values: must be an "
                         "array of strings", i);
    }
    size_t n = values ? json_array_size(values) : 0;
    bool needs_values = expr->op == K8S_SEL_IN || expr->op == K8S_SEL_NOT_IN;
    if (needs_values && !n) {
        return xasprintf("matchExpressions[%"PRIuSIZE"].values: must be "
                         "specified when operator is %s", i,
                         json_string_value(op));
    } else if (!needs_values && n) {
        return xasprintf("matchExpressions[%"PRIuSIZE"].values: may not be "
                         "specified when operator is %s", i,
                         json_string_value(op));
    }

    expr->values = n ? xcalloc(n, sizeof *expr->values) : NULL;
    for (size_t j = 0; j < n; j++) {
        const json_t *value = json_array_get(values, j);

        if (!json_is_string(value)) {
            return xasprintf("matchExpressions[%"PRIuSIZE"].values[%"
                             PRIuSIZE"]: must be a string", i, j);
        }
        error = lsel_check_value__(json_string_value(value));
        if (error) {
            char *msg = xasprintf("matchExpressions[%"PRIuSIZE"].values[%"
                                  PRIuSIZE"]: %s", i, j, error);
            free(error);
            return msg;
        }
        expr->values[expr->n_values++] = xstrdup(json_string_value(value));
    }
    return NULL;
}

static char *
lsel_parse__(const json_t *json, struct k8s_selector *sel)
{
    if (!json || json_is_null(json)) {
        return NULL;
    }
    if (!json_is_object(json)) {
        return xstrdup("must be an object");
    }

    const json_t *labels = json_object_get(json, "matchLabels");
    if (labels && !json_is_null(labels)) {
        const char *key;
        json_t *value;

        if (!json_is_object(labels)) {
            return xstrdup("matchLabels: must be an object");
        }
        json_object_foreach (CONST_CAST(json_t *, labels), key, value) {
            if (!json_is_string(value)) {
                return xasprintf("matchLabels.%s: must be a string", key);
            }
            char *error = lsel_check_key__(key);
            if (!error) {
                error = lsel_check_value__(json_string_value(value));
            }
            if (error) {
                char *msg = xasprintf("matchLabels.%s: %s", key, error);
                free(error);
                return msg;
            }
            smap_replace(&sel->match_labels, key, json_string_value(value));
        }
    }

    const json_t *exprs = json_object_get(json, "matchExpressions");
    if (exprs && !json_is_null(exprs)) {
        if (!json_is_array(exprs)) {
            return xstrdup("matchExpressions: must be an array");
        }
        size_t n = json_array_size(exprs);
        sel->exprs = n ? xcalloc(n, sizeof *sel->exprs) : NULL;
        for (size_t i = 0; i < n; i++) {
            /* Count the expression first so that destroying 'sel' frees
             * whatever lsel_parse_expr__() filled in before an error. */
            sel->n_exprs++;
            char *error = lsel_parse_expr__(json_array_get(exprs, i), i,
                                            &sel->exprs[i]);
            if (error) {
                return error;
            }
        }
    }
    return NULL;
}

char *
lsel_parse(const json_t *json, struct k8s_selector *sel)
{
    struct k8s_selector tmp;

    lsel_init(&tmp);
    char *error = lsel_parse__(json, &tmp);
    if (error) {
        k8s_selector_destroy(&tmp);
        lsel_init(sel);
        return error;
    }
    /* An hmap with a single bucket points into itself, so it needs fixing
     * up after a copy by value. */
    *sel = tmp;
    hmap_moved(&sel->match_labels.map);
    return NULL;
}

static bool
lsel_expr_has_value__(const struct k8s_selector_expr *expr,
                      const char *value)
{
    for (size_t i = 0; i < expr->n_values; i++) {
        if (!strcmp(expr->values[i], value)) {
            return true;
        }
    }
    return false;
}

/* The value of the label in 'labels' with the key of 'key_node', a node of
 * another smap, or NULL.  Every smap hashes its keys alike, so the node's
 * hash serves here without hashing the key again: this runs for every
 * selector against every pod it may select. */
static const char *
lsel_get_same_key__(const struct smap *labels,
                    const struct smap_node *key_node)
{
    const struct smap_node *node;

    HMAP_FOR_EACH_WITH_HASH (node, node, key_node->node.hash, &labels->map) {
        if (!strcmp(node->key, key_node->key)) {
            return node->value;
        }
    }
    return NULL;
}

bool
lsel_matches(const struct k8s_selector *sel, const struct smap *labels)
{
    struct smap_node *node;

    SMAP_FOR_EACH (node, &sel->match_labels) {
        const char *value = lsel_get_same_key__(labels, node);
        if (!value || strcmp(value, node->value)) {
            return false;
        }
    }

    for (size_t i = 0; i < sel->n_exprs; i++) {
        const struct k8s_selector_expr *expr = &sel->exprs[i];
        const char *value = smap_get(labels, expr->key);

        switch (expr->op) {
        case K8S_SEL_IN:
            if (!value || !lsel_expr_has_value__(expr, value)) {
                return false;
            }
            break;
        case K8S_SEL_NOT_IN:
            if (value && lsel_expr_has_value__(expr, value)) {
                return false;
            }
            break;
        case K8S_SEL_EXISTS:
            if (!value) {
                return false;
            }
            break;
        case K8S_SEL_DOES_NOT_EXIST:
            if (value) {
                return false;
            }
            break;
        default:
            OVS_NOT_REACHED();
        }
    }
    return true;
}

bool
lsel_is_empty(const struct k8s_selector *sel)
{
    return smap_is_empty(&sel->match_labels) && !sel->n_exprs;
}
