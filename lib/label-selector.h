/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_LABEL_SELECTOR_H
#define NETPOL_LABEL_SELECTOR_H 1

/* Kubernetes label selectors (metav1.LabelSelector). */

#include <stdbool.h>
#include "compiler.h"
#include "lib/json-guard.h"
#include "lib/k8s-types.h"

struct smap;

/* Parses a LabelSelector object (matchLabels, matchExpressions) into
 * '*sel', which the caller has not initialized.  On error '*sel' is left
 * empty-initialized (selects everything: callers that must fail closed
 * check the error) and a message is returned. */
char *lsel_parse(const json_t *, struct k8s_selector *sel)
    OVS_WARN_UNUSED_RESULT;

void lsel_init(struct k8s_selector *);

/* True if 'labels' satisfy every matchLabels pair and every expression. */
bool lsel_matches(const struct k8s_selector *, const struct smap *labels);

/* True if 'sel' has no requirement (selects everything). */
bool lsel_is_empty(const struct k8s_selector *);

#endif /* lib/label-selector.h */
