# The CNI plugin installs into the CNI bin directory chosen at configure
# time (--with-cni-bindir).
cnibin_PROGRAMS = cni/ovs-netpol-cni
cni_ovs_netpol_cni_SOURCES = \
	cni/ovs-netpol-cni.c \
	cni/ipam.h \
	cni/ipam.c \
	cni/lock.h \
	cni/lock.c \
	cni/netns.h \
	cni/netns.c \
	cni/ovs-port.h \
	cni/ovs-port.c
cni_ovs_netpol_cni_LDADD = lib/libnetpol.la $(OVS_LIBADD) $(JANSSON_LIBS)
