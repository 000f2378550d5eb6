#!/bin/sh
# Init container of the ovs-netpol DaemonSet: installs the CNI plugin and
# its network configuration on the node.
#
#   - copies /usr/lib/ovs-netpol/ovs-netpol-cni and Debian's host-local
#     IPAM plugin into $CNI_BIN_DIR (default /host/opt/cni/bin), each
#     through a temporary name and a rename, so a runtime never executes
#     half a binary;
#   - writes 10-ovs-netpol.conflist into $CNI_CONF_DIR (default
#     /host/etc/cni/net.d) with the node's pod CIDR: $POD_CIDR if set, else
#     spec.podCIDR of node $NODE_NAME, read from the API server with the
#     pod's service account.
set -eu

CNI_BIN_DIR=${CNI_BIN_DIR:-/host/opt/cni/bin}
CNI_CONF_DIR=${CNI_CONF_DIR:-/host/etc/cni/net.d}
SA=/var/run/secrets/kubernetes.io/serviceaccount
SHARE=/usr/lib/ovs-netpol

install_bin() {
    cp "$1" "$CNI_BIN_DIR/.$2.tmp"
    chmod 755 "$CNI_BIN_DIR/.$2.tmp"
    mv -f "$CNI_BIN_DIR/.$2.tmp" "$CNI_BIN_DIR/$2"
}

mkdir -p "$CNI_BIN_DIR" "$CNI_CONF_DIR"
install_bin "$SHARE/ovs-netpol-cni" ovs-netpol-cni
[ -x "$CNI_BIN_DIR/host-local" ] \
    || install_bin /usr/lib/cni/host-local host-local

cidr=${POD_CIDR:-}
if [ -z "$cidr" ]; then
    : "${NODE_NAME:?NODE_NAME is not set}"
    host=$KUBERNETES_SERVICE_HOST
    case $host in *:*) host="[$host]" ;; esac
    node=$(curl -sS --fail --cacert "$SA/ca.crt" \
           -H "Authorization: Bearer $(cat "$SA/token")" \
           "https://$host:$KUBERNETES_SERVICE_PORT/api/v1/nodes/$NODE_NAME")
    cidr=$(printf '%s' "$node" \
           | sed -n 's/.*"podCIDR": *"\([^"]*\)".*/\1/p' | head -n 1)
fi
[ -n "$cidr" ] || { echo "install-cni: node $NODE_NAME has no podCIDR" >&2; \
                    exit 1; }

sed "s|__POD_CIDR__|$cidr|" "$SHARE/10-ovs-netpol.conflist" \
    >"$CNI_CONF_DIR/.10-ovs-netpol.conflist.tmp"
mv -f "$CNI_CONF_DIR/.10-ovs-netpol.conflist.tmp" \
    "$CNI_CONF_DIR/10-ovs-netpol.conflist"
echo "install-cni: installed ovs-netpol-cni, pod CIDR $cidr"
