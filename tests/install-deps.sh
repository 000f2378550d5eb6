#!/bin/bash
# Installs, from Debian 12's archive, everything ovs-netpol needs to build,
# run the demo and run its test suite.  Does nothing (and needs no network)
# when every package is already installed.  Run as root.
set -eu

PACKAGES=(
    build-essential autoconf automake libtool pkg-config python3
    openvswitch-source openvswitch-switch containernetworking-plugins
    libjansson-dev libcurl4-openssl-dev libevent-dev libyaml-dev
    libcmocka-dev libssl-dev
    iproute2 ethtool socat procps valgrind
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} Debian packages already installed"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root to install them" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y "${missing[@]}"
