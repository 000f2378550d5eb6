#!/bin/sh
# Runs the API client's unit tests under valgrind: the watch-stream test
# pushes 10,000 events through one stream, so a leak or an unbounded buffer
# there shows up as an error.  Skipped (77) without valgrind.
set -u
command -v valgrind >/dev/null 2>&1 || { echo "valgrind not found"; exit 77; }
for t in test-watch-stream test-kubeconfig; do
    "$top_builddir/libtool" --mode=execute valgrind -q --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=1 \
        "$top_builddir/tests/unit/$t" || { echo "FAIL: $t under valgrind"; exit 1; }
done
echo "client unit tests clean under valgrind"
