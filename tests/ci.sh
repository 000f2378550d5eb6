#!/bin/bash
# Installs the Debian packages ovs-netpol needs, builds it, runs the whole
# test suite ("make check": cmocka unit tests and, as root, the end-to-end
# scripts), and ends with one plain line:
#     N passed, N failed[, N skipped]
# Every test runs even when some fail; a test program that does not build
# counts as failed.  Exits non-zero if anything failed.
#
# Options: --no-deps (skip the package check), --no-build.

set -u
cd "$(dirname "$0")/.."

deps=yes build=yes
for arg; do
    case $arg in
        --no-deps) deps=no ;;
        --no-build) build=no ;;
        *) echo "ci: unknown option $arg" >&2; exit 2 ;;
    esac
done

summary() {
    local line="$1 passed, $2 failed"
    [ "$3" -gt 0 ] && line="$line, $3 skipped"
    printf '%s\n' "$line"
}

if [ $deps = yes ]; then
    bash tests/install-deps.sh || { echo "ci: installing packages failed" >&2; summary 0 1 0; exit 1; }
fi
if [ $build = yes ]; then
    bash tests/build.sh || { echo "ci: build failed" >&2; summary 0 1 0; exit 1; }
fi

# The suite as automake knows it (TESTS, check_PROGRAMS), read from the
# generated Makefile.
make_var() {
    printf 'np-print-var:\n\t@echo $(%s)\n' "$1" \
        | make -s --no-print-directory -f Makefile -f - np-print-var
}
tests=$(make_var TESTS)
progs=$(make_var check_PROGRAMS)
[ -n "$tests" ] || { echo "ci: make knows no TESTS" >&2; summary 0 1 0; exit 1; }

# Build the test programs, going on past any that fail to build; those
# count as failed and the others still run.
echo "ci: building test programs"
make -k -j2 $progs
not_built=""
built=""
for p in $progs; do
    if [ -x "$p" ]; then built="$built $p"; else not_built="$not_built $p"; fi
done
runnable=""
for t in $tests; do
    case " $not_built " in
        *" $t "*) ;;
        *) runnable="$runnable $t" ;;
    esac
done

echo "ci: make -j2 check"
rm -f test-suite.log
make -j2 check TESTS="$runnable" check_PROGRAMS="$built"
rc=$?

count() {   # count NAME: the "# NAME: N" line of test-suite.log
    local n
    n=$(sed -n "s/^# $1: *\([0-9]*\).*/\1/p" test-suite.log 2>/dev/null | head -n 1)
    echo "${n:-0}"
}
if [ -f test-suite.log ]; then
    pass=$(( $(count PASS) + $(count XFAIL) ))
    fail=$(( $(count FAIL) + $(count ERROR) + $(count XPASS) ))
    skip=$(count SKIP)
else
    echo "ci: make check wrote no test-suite.log (exit $rc)" >&2
    pass=0 fail=1 skip=0
fi
for p in $not_built; do
    echo "ci: FAIL: $p did not build" >&2
    fail=$((fail + 1))
done
if [ $rc -ne 0 ] && [ $fail -eq 0 ]; then
    echo "ci: make check failed (exit $rc) without a failed test" >&2
    fail=1
fi

if [ $fail -gt 0 ] && [ -f test-suite.log ]; then
    echo "ci: ---- test-suite.log ----"
    cat test-suite.log
    echo "ci: ---- end of test-suite.log ----"
fi
summary "$pass" "$fail" "$skip"
[ $fail -eq 0 ]
