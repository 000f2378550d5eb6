# Unit tests (cmocka, one binary per lib/ module) and end-to-end scripts
# (real OVS in network namespaces; they need root and exit 77 without it).

UNIT_LDADD = lib/libnetpol.la $(OVS_LIBADD) $(JANSSON_LIBS) $(YAML_LIBS) \
	$(CMOCKA_LIBS)
UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) \
	-DNP_TEST_DATADIR='"$(abs_top_srcdir)/tests/data"'

# --- unit tests: lead ---
check_PROGRAMS += tests/unit/test-link-guard
tests_unit_test_link_guard_SOURCES = tests/unit/test-link-guard.c \
	tests/unit/test-link-guard-ovs.c
tests_unit_test_link_guard_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_link_guard_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test-flow-set
tests_unit_test_flow_set_SOURCES = tests/unit/test-flow-set.c
tests_unit_test_flow_set_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_flow_set_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test-npol-compile
tests_unit_test_npol_compile_SOURCES = tests/unit/test-npol-compile.c \
	tests/unit/npol-world.c tests/unit/npol-world.h \
	tests/unit/unit-file.c tests/unit/unit-file.h
tests_unit_test_npol_compile_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_npol_compile_LDADD = $(UNIT_LDADD)

# --- unit tests: k8s model ---
check_PROGRAMS += tests/unit/test-k8s-parse
tests_unit_test_k8s_parse_SOURCES = tests/unit/test-k8s-parse.c \
	tests/unit/unit-file.c tests/unit/unit-file.h
tests_unit_test_k8s_parse_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_k8s_parse_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test-k8s-cache
tests_unit_test_k8s_cache_SOURCES = tests/unit/test-k8s-cache.c \
	tests/unit/npol-world.c tests/unit/npol-world.h tests/common/np-rand.h
tests_unit_test_k8s_cache_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_k8s_cache_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test-label-selector
tests_unit_test_label_selector_SOURCES = tests/unit/test-label-selector.c
tests_unit_test_label_selector_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_label_selector_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test-npol-features
tests_unit_test_npol_features_SOURCES = tests/unit/test-npol-features.c \
	tests/unit/npol-world.c tests/unit/npol-world.h
tests_unit_test_npol_features_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_npol_features_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test-npol-incremental
tests_unit_test_npol_incremental_SOURCES = \
	tests/unit/test-npol-incremental.c tests/unit/npol-world.c \
	tests/unit/npol-world.h tests/common/np-rand.h
tests_unit_test_npol_incremental_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_npol_incremental_LDADD = $(UNIT_LDADD)

# --- unit tests: CNI ---
check_PROGRAMS += tests/unit/test-cni-config
tests_unit_test_cni_config_SOURCES = tests/unit/test-cni-config.c
tests_unit_test_cni_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cni_config_LDADD = $(UNIT_LDADD)

# --- unit tests: deployment files (deploy/) ---
check_PROGRAMS += tests/unit/test-deploy
tests_unit_test_deploy_SOURCES = tests/unit/test-deploy.c \
	tests/unit/unit-file.c tests/unit/unit-file.h
tests_unit_test_deploy_CFLAGS = $(UNIT_CFLAGS) \
	-DNP_DEPLOY_DIR='"$(abs_top_srcdir)/deploy"'
tests_unit_test_deploy_LDADD = $(UNIT_LDADD)

# --- differential test helper: tests/diff/np-world generates random worlds
# and judges packets with a reference evaluator; tests/e2e/differential.sh
# runs it.  It is built by "make check" (check_DATA) but is not a test
# itself: as a check_PROGRAMS entry it would land in TESTS through
# $(check_PROGRAMS) below.  No libnetpol: the reference evaluator shares no
# code with the compiler it checks. ---
EXTRA_PROGRAMS = tests/diff/np-world
check_DATA = tests/diff/np-world$(EXEEXT)
CLEANFILES += tests/diff/np-world$(EXEEXT)
tests_diff_np_world_SOURCES = tests/diff/np-world.c tests/common/np-rand.h
tests_diff_np_world_LDADD = $(JANSSON_LIBS)

# --- unit tests: API client ---
check_PROGRAMS += tests/unit/test-watch-stream
tests_unit_test_watch_stream_SOURCES = tests/unit/test-watch-stream.c
tests_unit_test_watch_stream_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_watch_stream_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test-kubeconfig
tests_unit_test_kubeconfig_SOURCES = tests/unit/test-kubeconfig.c
tests_unit_test_kubeconfig_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_kubeconfig_LDADD = $(UNIT_LDADD)

TESTS += tests/unit/valgrind-client.sh
EXTRA_DIST += tests/unit/valgrind-client.sh

TESTS += $(check_PROGRAMS) tests/unit/json-guard-poison.sh
EXTRA_DIST += tests/unit/json-guard-poison.sh

# --- test API server for the end-to-end tests (tests/fake-apiserver.c;
# jansson and libevent only, no libnetpol).  A helper, not a test: built by
# "make check" through check_DATA, like np-world. ---
EXTRA_PROGRAMS += tests/fake-apiserver
check_DATA += tests/fake-apiserver$(EXEEXT)
CLEANFILES += tests/fake-apiserver$(EXEEXT)
tests_fake_apiserver_SOURCES = tests/fake-apiserver.c
tests_fake_apiserver_CFLAGS = $(AM_CFLAGS) $(EVENT_CFLAGS)
tests_fake_apiserver_LDADD = $(JANSSON_LIBS) $(EVENT_LIBS)

# --- prober for the hitless fault test (tests/e2e/hitless.sh): a TCP echo
# server and a client that opens a connection every 50 ms and keeps a
# long-lived one.  libc only.  A helper, not a test, like np-world. ---
EXTRA_PROGRAMS += tests/e2e/np-prober
check_DATA += tests/e2e/np-prober$(EXEEXT)
CLEANFILES += tests/e2e/np-prober$(EXEEXT)
tests_e2e_np_prober_SOURCES = tests/e2e/np-prober.c

# --- end-to-end scripts ---
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	top_srcdir='$(abs_top_srcdir)'; top_builddir='$(abs_top_builddir)'; \
	CC='$(CC)'; JANSSON_CFLAGS='$(JANSSON_CFLAGS)'; \
	export top_srcdir top_builddir CC JANSSON_CFLAGS;
E2E_TESTS = \
	tests/e2e/cni-basic.sh \
	tests/e2e/cni-conformance.sh \
	tests/e2e/cni-stress.sh \
	tests/e2e/seed-policies.sh \
	tests/e2e/manifest-dir.sh \
	tests/e2e/flow-sync.sh \
	tests/e2e/features.sh \
	tests/e2e/ipv6.sh \
	tests/e2e/differential.sh \
	tests/e2e/apiserver.sh \
	tests/e2e/apiserver-faults.sh \
	tests/e2e/node-gateway.sh \
	tests/e2e/hitless.sh
TESTS += $(E2E_TESTS)
EXTRA_DIST += $(E2E_TESTS) tests/e2e/lib.sh tests/e2e/apiserver-objects.sh

# --- scale benchmark: "make bench" generates workloads with
# tests/bench/np-workload and runs the real controller against a real
# ovs-vswitchd in a node namespace (tests/bench/bench.sh; needs root).
# BENCH_PRESETS picks the presets (default: small medium large); the
# results are printed next to the targets of docs/scale.md. ---
EXTRA_PROGRAMS += tests/bench/np-workload
CLEANFILES += tests/bench/np-workload$(EXEEXT)
tests_bench_np_workload_SOURCES = \
	tests/bench/np-workload.c tests/common/np-rand.h
EXTRA_PROGRAMS += tests/bench/np-compile-bench
CLEANFILES += tests/bench/np-compile-bench$(EXEEXT)
tests_bench_np_compile_bench_SOURCES = tests/bench/np-compile-bench.c
tests_bench_np_compile_bench_LDADD = lib/libnetpol.la $(OVS_LIBADD) \
	$(JANSSON_LIBS) $(YAML_LIBS)
EXTRA_DIST += tests/bench/bench.sh
BENCH_PRESETS = small medium large
bench: controller/ovs-netpol-controller$(EXEEXT) \
		tests/bench/np-workload$(EXEEXT) \
		tests/bench/np-compile-bench$(EXEEXT)
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	$(SHELL) $(abs_top_srcdir)/tests/bench/bench.sh $(BENCH_PRESETS)
.PHONY: bench
