dnl NP_CHECK_OVS
dnl
dnl Finds the Open vSwitch source and build trees that libopenvswitch and the
dnl vswitch IDL come from.  --with-ovs-source and --with-ovs-build work as in
dnl OVN.  Without them, Debian's openvswitch-source tarball is unpacked into
dnl the build tree and configured there with Debian's directories (so the
dnl library's default run directory is /var/run/openvswitch, where Debian's
dnl openvswitch-switch puts db.sock); "make" then builds only the library.
AC_DEFUN([NP_CHECK_OVS], [
  AC_ARG_WITH([ovs-source],
    [AS_HELP_STRING([--with-ovs-source=DIR], [Open vSwitch source tree])],
    [OVS_SRCDIR=$withval], [OVS_SRCDIR=])
  AC_ARG_WITH([ovs-build],
    [AS_HELP_STRING([--with-ovs-build=DIR],
                    [Open vSwitch build tree (default: the source tree)])],
    [OVS_BUILDDIR=$withval], [OVS_BUILDDIR=])
  AC_ARG_WITH([ovs-tarball],
    [AS_HELP_STRING([--with-ovs-tarball=FILE],
      [OVS source tarball to unpack when no tree is given
       @<:@/usr/src/openvswitch/openvswitch.tar.gz@:>@])],
    [np_ovs_tarball=$withval],
    [np_ovs_tarball=/usr/src/openvswitch/openvswitch.tar.gz])

  if test -z "$OVS_SRCDIR"; then
    np_ovs_dir=`pwd`/ovs
    if test ! -f "$np_ovs_dir/config.h"; then
      test -f "$np_ovs_tarball" || AC_MSG_ERROR([no OVS tree given and $np_ovs_tarball is missing (apt-get install openvswitch-source)])
      AC_MSG_NOTICE([unpacking $np_ovs_tarball into $np_ovs_dir])
      rm -rf "$np_ovs_dir" && mkdir -p "$np_ovs_dir"
      tar -xzf "$np_ovs_tarball" -C "$np_ovs_dir" --strip-components=1 \
        || AC_MSG_ERROR([cannot unpack $np_ovs_tarball])
      AC_MSG_NOTICE([configuring Open vSwitch in $np_ovs_dir])
      (cd "$np_ovs_dir" && ./configure --prefix=/usr --localstatedir=/var \
         --sysconfdir=/etc --enable-silent-rules >config.np.log 2>&1) \
        || AC_MSG_ERROR([Open vSwitch configure failed, see $np_ovs_dir/config.np.log])
    fi
    OVS_SRCDIR=$np_ovs_dir
  fi
  OVS_SRCDIR=`cd "$OVS_SRCDIR" && pwd`
  test -z "$OVS_BUILDDIR" && OVS_BUILDDIR=$OVS_SRCDIR
  OVS_BUILDDIR=`cd "$OVS_BUILDDIR" && pwd`

  AC_MSG_CHECKING([for Open vSwitch source tree])
  test -f "$OVS_SRCDIR/vswitchd/bridge.c" \
    || AC_MSG_ERROR([$OVS_SRCDIR is not an Open vSwitch source tree])
  AC_MSG_RESULT([$OVS_SRCDIR])
  AC_MSG_CHECKING([for Open vSwitch build tree])
  test -f "$OVS_BUILDDIR/config.h" \
    || AC_MSG_ERROR([$OVS_BUILDDIR has no config.h: configure Open vSwitch first])
  AC_MSG_RESULT([$OVS_BUILDDIR])

  AC_MSG_CHECKING([Open vSwitch version])
  OVS_VERSION=`sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$OVS_BUILDDIR/config.h"`
  AC_MSG_RESULT([$OVS_VERSION])
  case $OVS_VERSION in
    3.1.*) ;;
    *) AC_MSG_WARN([ovs-netpol is written against OVS 3.1; $OVS_VERSION may differ]) ;;
  esac

  AC_SUBST([OVS_SRCDIR])
  AC_SUBST([OVS_BUILDDIR])
  AC_SUBST([OVS_VERSION])
])
