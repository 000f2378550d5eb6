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
tests_unit_test_npol_compile_SOURCES = tests/unit/test-npol-compile.c
tests_unit_test_npol_compile_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_npol_compile_LDADD = $(UNIT_LDADD)

# --- unit tests: k8s model ---
check_PROGRAMS += tests/unit/test-k8s-parse
tests_unit_test_k8s_parse_SOURCES = tests/unit/test-k8s-parse.c
tests_unit_test_k8s_parse_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_k8s_parse_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test-label-selector
tests_unit_test_label_selector_SOURCES = tests/unit/test-label-selector.c
tests_unit_test_label_selector_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_label_selector_LDADD = $(UNIT_LDADD)

# --- unit tests: CNI ---
check_PROGRAMS += tests/unit/test-cni-config
tests_unit_test_cni_config_SOURCES = tests/unit/test-cni-config.c
tests_unit_test_cni_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cni_config_LDADD = $(UNIT_LDADD)

TESTS += $(check_PROGRAMS) tests/unit/json-guard-poison.sh
EXTRA_DIST += tests/unit/json-guard-poison.sh

# --- end-to-end scripts ---
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	top_srcdir='$(abs_top_srcdir)'; top_builddir='$(abs_top_builddir)'; \
	CC='$(CC)'; JANSSON_CFLAGS='$(JANSSON_CFLAGS)'; \
	export top_srcdir top_builddir CC JANSSON_CFLAGS;
E2E_TESTS = \
	tests/e2e/cni-basic.sh \
	tests/e2e/seed-policies.sh
TESTS += $(E2E_TESTS)
EXTRA_DIST += $(E2E_TESTS) tests/e2e/lib.sh
