#!/bin/bash
# Builds ovs-netpol in the source tree with the plain autotools sequence,
# skipping the steps already done: boot.sh when configure exists, configure
# when the tree is already configured (make re-runs whatever configure.ac
# or Makefile.am changes require by itself).  Shared by deploy/demo.sh and
# tests/ci.sh.  Extra arguments go to configure on a first build.
set -eu
cd "$(dirname "$0")/.."

if [ ! -x configure ]; then
    echo "build: ./boot.sh"
    ./boot.sh
fi
if [ ! -f config.status ] || [ ! -f Makefile ]; then
    echo "build: ./configure $*"
    ./configure "$@"
fi
echo "build: make -j$(nproc)"
make -j"$(nproc)"
