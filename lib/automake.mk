# libnetpol: everything free of I/O, shared by the controller, the CNI
# plugin and the unit tests.
noinst_LTLIBRARIES += lib/libnetpol.la
lib_libnetpol_la_SOURCES = \
	include/netpol/ovs-keys.h \
	include/netpol/pipeline.h \
	lib/json-guard.h \
	lib/k8s-types.h \
	lib/k8s-types.c \
	lib/k8s-parse.h \
	lib/k8s-parse.c \
	lib/k8s-cache.h \
	lib/k8s-cache.c \
	lib/label-selector.h \
	lib/label-selector.c \
	lib/flow-set.h \
	lib/flow-set.c \
	lib/portmap.h \
	lib/portmap.c \
	lib/npol-compile.h \
	lib/npol-compile.c \
	lib/cni-config.h \
	lib/cni-config.c \
	lib/watch-stream.h \
	lib/watch-stream.c \
	lib/kubeconfig.h \
	lib/kubeconfig.c
lib_libnetpol_la_LIBADD = $(JANSSON_LIBS) $(YAML_LIBS)
