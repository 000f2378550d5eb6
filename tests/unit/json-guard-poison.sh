#!/bin/sh
# Proves lib/json-guard.h poisons the six jansson names that clash with
# libopenvswitch: a call to any of them must fail to compile, while the safe
# API still compiles.
set -u
: "${CC:=cc}"
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
flags="-I$top_srcdir ${JANSSON_CFLAGS:-} -fsyntax-only"

printf '#include "lib/json-guard.h"\nint f(void);\nint f(void) { json_t *j = json_pack("{}"); json_object_set_new(j, "a", json_pack("i", 1)); json_decref(j); return 0; }\n' > "$src/ok.c"
$CC $flags "$src/ok.c" || { echo "FAIL: safe jansson API does not compile"; exit 1; }

for name in json_object json_array json_string json_integer json_real json_equal; do
    printf '#include "lib/json-guard.h"\nvoid *f(void);\nvoid *f(void) { return (void *) %s; }\n' "$name" > "$src/bad.c"
    if $CC $flags "$src/bad.c" 2>"$src/err"; then
        echo "FAIL: $name is not poisoned"
        exit 1
    fi
    grep -q poison "$src/err" || { echo "FAIL: $name rejected for another reason:"; cat "$src/err"; exit 1; }
done
echo "all six clashing names are poisoned"
