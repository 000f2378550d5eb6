/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_JSON_GUARD_H
#define NETPOL_JSON_GUARD_H 1

/* The only way ovs-netpol includes <jansson.h>.
 *
 * libopenvswitch exports json_object(), json_array(), json_string(),
 * json_integer(), json_real() and json_equal(), the same names as six of
 * jansson's functions.  In a binary that links both, a call to jansson's
 * version binds to OVS's at run time and crashes, without a link warning.
 * Poisoning the names turns such a call into a compile error.  Build
 * values with json_pack() and read them with json_unpack() or the
 * json_*_get() accessors instead: those are not shadowed. */

#include <jansson.h>

#pragma GCC poison json_object json_array json_string json_integer
#pragma GCC poison json_real json_equal

#endif /* lib/json-guard.h */
