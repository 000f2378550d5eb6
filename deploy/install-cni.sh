#!/bin/sh
# Init container of the ovs-netpol DaemonSet: installs the CNI plugin and
# its network configuration on the node.
#
#   - copies /usr/lib/ovs-netpol/ovs-netpol-cni and Debian's host-local
#     IPAM plugin into $CNI_BIN_DIR (default /host/opt/cni/bin), each
#     through a temporary name and a rename, so a runtime never executes
#     half a binary;
#   - writes 10-ovs-netpol.conflist into $CNI_CONF_DIR (default
#     /host/etc/cni/net.d) with the node's pod CIDRs: $POD_CIDR if set
#     (comma-separated), else spec.podCIDRs (or spec.podCIDR) of node
#     $NODE_NAME, read from the API server with the pod's service account.
#     The first IPv4 and the first IPv6 CIDR each become a host-local range
#     with a default route: a dual-stack node gives its pods both families.
#
# $OVS_NETPOL_SHARE overrides where the plugin and the template are read
# from (/usr/lib/ovs-netpol), for tests.
set -eu

CNI_BIN_DIR=${CNI_BIN_DIR:-/host/opt/cni/bin}
CNI_CONF_DIR=${CNI_CONF_DIR:-/host/etc/cni/net.d}
SA=/var/run/secrets/kubernetes.io/serviceaccount
SHARE=${OVS_NETPOL_SHARE:-/usr/lib/ovs-netpol}

install_bin() {
    cp "$1" "$CNI_BIN_DIR/.$2.tmp"
    chmod 755 "$CNI_BIN_DIR/.$2.tmp"
    mv -f "$CNI_BIN_DIR/.$2.tmp" "$CNI_BIN_DIR/$2"
}

mkdir -p "$CNI_BIN_DIR" "$CNI_CONF_DIR"
install_bin "$SHARE/ovs-netpol-cni" ovs-netpol-cni
[ -x "$CNI_BIN_DIR/host-local" ] \
    || install_bin /usr/lib/cni/host-local host-local

cidrs=${POD_CIDR:-}
if [ -z "$cidrs" ]; then
    : "${NODE_NAME:?NODE_NAME is not set}"
    host=$KUBERNETES_SERVICE_HOST
    case $host in *:*) host="[$host]" ;; esac
    node=$(curl -sS --fail --cacert "$SA/ca.crt" \
           -H "Authorization: Bearer $(cat "$SA/token")" \
           "https://$host:$KUBERNETES_SERVICE_PORT/api/v1/nodes/$NODE_NAME" \
           | tr -d '\n')
    cidrs=$(printf '%s' "$node" \
            | sed -n 's/.*"podCIDRs": *\[\([^]]*\)\].*/\1/p' | tr -d ' "')
    [ -n "$cidrs" ] \
        || cidrs=$(printf '%s' "$node" \
                   | sed -n 's/.*"podCIDR": *"\([^"]*\)".*/\1/p')
fi

# The first CIDR of each family.
v4= v6=
for c in $(printf '%s' "$cidrs" | tr ',' ' '); do
    case $c in
        *:*/*) [ -n "$v6" ] || v6=$c ;;
        *.*/*) [ -n "$v4" ] || v4=$c ;;
        *) echo "install-cni: \"$c\" is not a CIDR" >&2; exit 1 ;;
    esac
done
[ -n "$v4$v6" ] || { echo "install-cni: node ${NODE_NAME:-} has no pod" \
                          "CIDR" >&2; exit 1; }

# The template has one IPv4 range and route: make them the node's.
ranges= routes=
if [ -n "$v4" ]; then
    ranges="[{\"subnet\": \"$v4\"}]"
    routes="{\"dst\": \"0.0.0.0/0\"}"
fi
if [ -n "$v6" ]; then
    ranges="${ranges:+$ranges, }[{\"subnet\": \"$v6\"}]"
    routes="${routes:+$routes, }{\"dst\": \"::/0\"}"
fi
tmp=$CNI_CONF_DIR/.10-ovs-netpol.conflist.tmp
sed -e "s|\[\[{\"subnet\": \"__POD_CIDR__\"}\]\]|[$ranges]|" \
    -e "s|\[{\"dst\": \"0.0.0.0/0\"}\]|[$routes]|" \
    "$SHARE/10-ovs-netpol.conflist" >"$tmp"
grep -q __POD_CIDR__ "$tmp" \
    && { echo "install-cni: unexpected template" >&2; rm -f "$tmp"; exit 1; }
mv -f "$tmp" "$CNI_CONF_DIR/10-ovs-netpol.conflist"
echo "install-cni: installed ovs-netpol-cni, pod CIDRs ${v4}${v4:+${v6:+,}}$v6"
