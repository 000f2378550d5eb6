/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#include <config.h>

#include "tests/unit/unit-file.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "openvswitch/dynamic-string.h"

/* Returns the contents of the file 'path' as a string (the caller frees
 * it) and, if 'sizep' is nonnull, stores their length in '*sizep'.  Fails
 * the test if the file cannot be opened. */
char *
unit_read_file(const char *path, size_t *sizep)
{
    FILE *stream = fopen(path, "rb");
    struct ds s = DS_EMPTY_INITIALIZER;
    int c;

    if (!stream) {
        fail_msg("%s: cannot open", path);
    }
    while ((c = getc(stream)) != EOF) {
        ds_put_char(&s, c);
    }
    fclose(stream);
    if (sizep) {
        *sizep = s.length;
    }
    return ds_steal_cstr(&s);
}
