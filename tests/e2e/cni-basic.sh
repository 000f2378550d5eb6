#!/bin/bash
# End to end: the CNI plugin driven as a runtime drives it (environment +
# stdin), with real network namespaces, Debian's host-local and a real OVS
# (userspace datapath) in a node namespace.  No controller: br-int is made
# here, with datapath_type=netdev and one "actions=normal" flow.
#
# Proves:
#   - ADD gives the spec's result (host and pod interfaces, IP with
#     gateway and interface index, default route), puts the pod end into
#     the netns as eth0 with its IP, default route and TX checksum offload
#     off, and the host end on br-int with an ofport and the external_ids
#     of netpol/ovs-keys.h;
#   - two pods exchange real TCP through br-int;
#   - DEL is idempotent, and works after the netns is gone;
#   - errors: missing CNI_NETNS (4), malformed JSON (6), unknown
#     cniVersion (1), missing IPAM plugin (7), missing bridge (11), OVSDB
#     unreachable (11), CNI_IFNAME taken (4), host-local's own errors
#     passed on;
#   - a failed ADD, whichever step fails, leaves no veth, no OVS port and
#     no host-local allocation behind.
#
# Exit 0: pass; 1: fail (message on stderr); 77: skipped.  Never touches
# the machine's own OVS.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$(dirname "$0")/lib.sh"

np_init
np_node_start_bridge

# Runs the plugin in the node namespace: cni_exec CMD CONTAINER-ID NETNS
# [VAR=VALUE...], configuration on stdin.  An empty NETNS leaves CNI_NETNS
# unset.  Prints stdout; the exit status is the plugin's.
cni_exec() {
    local cmd=$1 ctr=$2 netns=$3
    shift 3
    ip netns exec "$NP_NODE_NS" env -u CNI_NETNS \
        CNI_COMMAND="$cmd" CNI_CONTAINERID="$ctr" CNI_IFNAME=eth0 \
        CNI_PATH="$NP_CNI_PATH" \
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$ctr" \
        ${netns:+CNI_NETNS=/var/run/netns/$netns} \
        OVS_RUNDIR="$NP_TMP/run" "$@" "$NP_CNI"
}

# expect_error CODE TEXT OUTPUT: OUTPUT is error JSON with CODE and a
# message containing TEXT.
expect_error() {
    printf '%s' "$3" | grep -q "\"code\":$1," \
        || np_fail "expected error code $1, got: $3"
    printf '%s' "$3" | grep -qF -- "$2" \
        || np_fail "expected \"$2\" in the error, got: $3"
}

# --- ADD two pods -----------------------------------------------------------
np_pod_add default a 10.244.0.10
NS_A=$NP_POD_NS
np_pod_add default b 10.244.0.11
NS_B=$NP_POD_NS
RES_A=$(cat "$NP_TMP/cni-default-a.json")

HOST_A=$(np_host_ifname "ctr-$NS_A")
case $HOST_A in
    np????????????) ;;
    *) np_fail "unexpected host interface name '$HOST_A'" ;;
esac
MAC_A=$(ip -n "$NS_A" -o link show eth0 | sed 's/.*link\/ether \([0-9a-f:]*\).*/\1/')
HOST_MAC_A=$(ip -n "$NP_NODE_NS" -o link show "$HOST_A" \
             | sed 's/.*link\/ether \([0-9a-f:]*\).*/\1/')

# The result JSON.
for want in '"cniVersion":"1.0.0"' \
            "{\"name\":\"$HOST_A\",\"mac\":\"$HOST_MAC_A\"}" \
            "{\"name\":\"eth0\",\"mac\":\"$MAC_A\",\"sandbox\":\"/var/run/netns/$NS_A\"}" \
            '"ips":[{"address":"10.244.0.10/24","interface":1,"gateway":"10.244.0.1"}]' \
            '"routes":[{"dst":"0.0.0.0/0"}]' \
            '"dns":{}'; do
    printf '%s' "$RES_A" | grep -qF -- "$want" \
        || np_fail "ADD result lacks $want: $RES_A"
done

# OVSDB: external_ids, ofport, bridge.
ext() {
    np_vsctl get Interface "$HOST_A" "external_ids:\"$1\"" | tr -d '"'
}
[ "$(ext ovs-netpol/pod-namespace)" = default ] || np_fail "pod-namespace"
[ "$(ext ovs-netpol/pod-name)" = a ] || np_fail "pod-name"
[ "$(ext ovs-netpol/container-id)" = "ctr-$NS_A" ] || np_fail "container-id"
[ "$(ext ovs-netpol/ifname)" = eth0 ] || np_fail "ifname"
[ "$(ext ovs-netpol/ips)" = 10.244.0.10 ] || np_fail "ips: $(ext ovs-netpol/ips)"
[ "$(ext attached-mac)" = "$MAC_A" ] || np_fail "attached-mac $(ext attached-mac) != $MAC_A"
[ "$(ext iface-id)" = default/a ] || np_fail "iface-id"
OFPORT=$(np_vsctl get Interface "$HOST_A" ofport)
[ "$OFPORT" -ge 1 ] 2>/dev/null || np_fail "ofport '$OFPORT'"
[ "$(np_vsctl port-to-br "$HOST_A")" = "$NP_BRIDGE" ] || np_fail "port-to-br"
ip -n "$NP_NODE_NS" -o link show "$HOST_A" | grep -q 'state UP\|,UP' \
    || np_fail "$HOST_A is not up"

# The pod side: address, default route, link up, TX checksum offload off.
ip -n "$NS_A" -o addr show dev eth0 | grep -q 'inet 10.244.0.10/24' \
    || np_fail "pod a lacks 10.244.0.10/24"
ip -n "$NS_A" route show default | grep -q 'default via 10.244.0.1 dev eth0' \
    || np_fail "pod a lacks the default route: $(ip -n "$NS_A" route)"
if command -v ethtool >/dev/null 2>&1; then
    ip netns exec "$NS_A" ethtool -k eth0 | grep -q '^tx-checksumming: off' \
        || np_fail "TX checksum offload is on in pod a"
fi

# Real TCP between the pods.
np_serve default b 8080
np_wait_until np_connect "$NS_A" 10.244.0.11 8080 \
    || np_fail "pod a cannot reach pod b over TCP"
[ "$(ip netns exec "$NS_A" timeout 3 socat -T2 - TCP:10.244.0.11:8080 \
      </dev/null 2>/dev/null)" = b ] || np_fail "wrong answer from pod b"

# --- DEL ---------------------------------------------------------------------
HOST_B=$(np_host_ifname "ctr-$NS_B")
before=$(np_count_ipam)
for i in 1 2; do
    out=$(np_cni DEL "$NS_B" default b) || np_fail "DEL #$i of b: $out"
    [ -z "$out" ] || np_fail "DEL printed something: $out"
done
[ "$(np_count_ipam)" -eq $((before - 1)) ] || np_fail "DEL left b's IP"
ip -n "$NP_NODE_NS" link show "$HOST_B" >/dev/null 2>&1 \
    && np_fail "DEL left $HOST_B"
ip -n "$NS_B" link show eth0 >/dev/null 2>&1 && np_fail "DEL left eth0 in b"
np_vsctl list-ports "$NP_BRIDGE" | grep -qx "$HOST_B" && np_fail "DEL left port"

# DEL after the netns is gone (and again).
ip netns del "$NS_A"
for i in 1 2; do
    out=$(np_cni DEL "$NS_A" default a) || np_fail "DEL of a without netns: $out"
done
[ "$(np_cni_leftovers)" = 0/0/0 ] \
    || np_fail "leftovers after DEL: $(np_cni_leftovers)"

# DEL with the netns unset and nothing to delete.
out=$(np_cni_conf | cni_exec DEL never-added "") || np_fail "DEL unknown: $out"

# --- errors --------------------------------------------------------------------
np_netns_add "$NP_PREFIX-c"
NS_C=$NP_PREFIX-c

out=$(np_cni_conf | cni_exec ADD ctr-c "")
expect_error 4 CNI_NETNS "$out"

out=$(echo '{"cniVersion":"1.0.0",' | cni_exec ADD ctr-c "$NS_C")
expect_error 6 "decode" "$out"

out=$(np_cni_conf | sed 's/"cniVersion":"1.0.0"/"cniVersion":"9.9.9"/' \
      | cni_exec ADD ctr-c "$NS_C")
expect_error 1 "incompatible" "$out"

out=$(np_cni_conf | sed 's/"type":"host-local"/"type":"no-such-ipam"/' \
      | cni_exec ADD ctr-c "$NS_C")
expect_error 7 no-such-ipam "$out"

out=$(np_cni_conf | sed 's/"bridge":"br-int"/"bridge":"br-missing"/' \
      | cni_exec ADD ctr-c "$NS_C")
expect_error 11 br-missing "$out"

out=$(np_cni_conf | sed "s|\"ovsdb\":\"[^\"]*\"|\"ovsdb\":\"unix:$NP_TMP/nodb.sock\"|" \
      | cni_exec ADD ctr-c "$NS_C")
expect_error 11 "OVS database" "$out"

# host-local's own error is passed on, code and all, with context.
out=$(np_cni_conf | cni_exec ADD ctr-c "$NS_C" \
      "CNI_ARGS=IgnoreUnknown=1;IP=10.9.9.9")
expect_error 999 "IPAM plugin host-local ADD failed: " "$out"

out=$(np_cni_conf | cni_exec VERSION x "")
[ "$out" = '{"cniVersion":"1.0.0","supportedVersions":["1.0.0","1.1.0"]}' ] \
    || np_fail "VERSION: $out"
[ "$(np_cni_leftovers)" = 0/0/0 ] \
    || np_fail "leftovers after errors: $(np_cni_leftovers)"

# --- a failed ADD leaves nothing behind ---------------------------------------
# CNI_IFNAME already taken in the netns: fails after host-local allocated.
ip -n "$NS_C" link add eth0 type veth peer name eth0peer
out=$(np_cni_conf | cni_exec ADD ctr-c "$NS_C")
expect_error 4 "already exists" "$out"
[ "$(np_cni_leftovers)" = 0/0/0 ] \
    || np_fail "leftovers after eth0 clash: $(np_cni_leftovers)"
ip -n "$NS_C" link del eth0

# A failure injected after each step of ADD.
for step in ipam veth netns port; do
    out=$(np_cni_conf | cni_exec ADD ctr-c "$NS_C" OVS_NETPOL_CNI_FAIL_AT=$step)
    expect_error 5 "step \\\"$step\\\"" "$out"
    [ "$(np_cni_leftovers)" = 0/0/0 ] \
        || np_fail "leftovers after failure at $step: $(np_cni_leftovers)"
    ip -n "$NS_C" link show eth0 >/dev/null 2>&1 \
        && np_fail "eth0 left in the netns after failure at $step"
done

# And the same attachment then succeeds, here with an MTU on both ends.
out=$(np_cni_conf | sed 's/"type":"ovs-netpol-cni",/&"mtu":1400,/' \
      | cni_exec ADD ctr-c "$NS_C") || np_fail "ADD c: $out"
[ "$(np_cni_leftovers)" = 1/1/1 ] || np_fail "ADD c: $(np_cni_leftovers)"
ip -n "$NS_C" link show eth0 | grep -q 'mtu 1400 ' || np_fail "pod MTU"
ip -n "$NP_NODE_NS" link show "$(np_host_ifname ctr-c)" | grep -q 'mtu 1400 ' \
    || np_fail "host MTU"
out=$(np_cni_conf | cni_exec DEL ctr-c "$NS_C") || np_fail "DEL c: $out"
[ "$(np_cni_leftovers)" = 0/0/0 ] || np_fail "DEL c: $(np_cni_leftovers)"

np_log "PASS: cni-basic"
