/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NETPOL_TESTS_UNIT_FILE_H
#define NETPOL_TESTS_UNIT_FILE_H 1

#include <stddef.h>

char *unit_read_file(const char *path, size_t *sizep);

#endif /* tests/unit/unit-file.h */
