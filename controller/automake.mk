bin_PROGRAMS += controller/ovs-netpol-controller
controller_ovs_netpol_controller_SOURCES = \
	controller/ovs-netpol-controller.c \
	controller/k8s-client.h \
	controller/k8s-client.c \
	controller/k8s-watch.h \
	controller/k8s-watch.c \
	controller/manifest-source.h \
	controller/manifest-source.c \
	controller/ofsync.h \
	controller/ofsync.c \
	controller/ovs-state.h \
	controller/ovs-state.c
controller_ovs_netpol_controller_LDADD = \
	lib/libnetpol.la $(OVS_LIBADD) $(JANSSON_LIBS) $(YAML_LIBS) $(CURL_LIBS)
