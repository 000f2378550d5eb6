#!/bin/bash
# End to end: without --gateway-address, the controller on the fake API
# server (tests/fake-apiserver) gives the gateway port the first address
# of its own Node's spec.podCIDR:
#   - a missing Node does not hold up enforcement (the controller becomes
#     ready without it), and another node's Node is not taken (the Node is
#     watched with fieldSelector=metadata.name=node1);
#   - once Node node1 appears with spec.podCIDRs 10.244.0.0/24 and
#     fd00:10:244::/64, np-gw0 gets 10.244.0.1/24 and fd00:10:244::1/64;
#   - --gateway-address rejects what is not one IPv4 and/or one IPv6
#     address with a prefix length, naming the value;
#   - with only an IPv6 --gateway-address, the port gets that address and
#     is brought up (at the end);
#   - an address added to or removed from np-gw0 later (by someone else)
#     shows in the flows within 5 s: the controller hears of it from the
#     kernel, not from its 30 s rescan.
#
# Exit 0: pass; 1: fail (message on stderr); 77: skipped (not root, tools
# or binaries missing).  Never touches the machine's own OVS.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$(dirname "$0")/lib.sh"

# node NAME POD-CIDR [POD-CIDR6]: a Node object.
node() {
    printf '{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "%s"},
             "spec": {"podCIDR": "%s", "podCIDRs": ["%s"%s]}}\n' \
        "$1" "$2" "$2" "${3:+, \"$3\"}"
}

# Bad --gateway-address values: the controller refuses to start and says
# which value is wrong.
for bad in 10.244.0.1 10.244.0.1/33 fd00::1/129 not-an-address/24 \
           10.244.0.1/24,10.244.0.2/24 fd00::1/64,fd00::2/64 ,; do
    if out=$("$NP_CONTROLLER" --gateway-address="$bad" --version 2>&1); then
        np_fail "--gateway-address=$bad accepted"
    fi
    case $out in
        *"--gateway-address: "*) ;;
        *) np_fail "--gateway-address=$bad: unclear error: $out" ;;
    esac
done
np_log "PASS: bad --gateway-address values are refused"

np_init
np_node_start
np_api_start
node node2 10.244.9.0/24 | np_api_apply_json \
    || np_fail "cannot create Node node2"
NP_SOURCE="--kubeconfig=$NP_TMP/kubeconfig" np_controller_spawn

np_wait_until np_controller_synced \
    || np_fail "controller not ready without its Node"
ip -n "$NP_NODE_NS" -o addr show dev "$NP_GATEWAY" | grep -q ' inet ' \
    && np_fail "$NP_GATEWAY has an address without Node node1"

node node1 "$NP_POD_CIDR" fd00:10:244::/64 | np_api_apply_json \
    || np_fail "cannot create Node node1"
np_wait_until np_gateway_has_address \
    || np_fail "$NP_GATEWAY did not get $NP_GW_IP from Node node1"
ip -n "$NP_NODE_NS" -o addr show dev "$NP_GATEWAY" \
    | grep -q " inet $NP_GW_IP/${NP_POD_CIDR#*/} " \
    || np_fail "$NP_GATEWAY: wrong prefix length"
grep -q "address set to $NP_GW_IP/${NP_POD_CIDR#*/} (from the Node" \
    "$NP_TMP/log/controller.log" || np_fail "no log of the address"
gw_has6() {
    ip -n "$NP_NODE_NS" -6 -o addr show dev "$NP_GATEWAY" \
        | grep -q " inet6 fd00:10:244::1/64 "
}
np_wait_until gw_has6 \
    || np_fail "$NP_GATEWAY did not get fd00:10:244::1/64 from Node node1"
np_log "PASS: $NP_GATEWAY got $NP_GW_IP and fd00:10:244::1 from Node" \
       "node1's podCIDRs"

# desired_names ADDR: the desired flows name ADDR as a source.
desired_names() { np_appctl netpol/dump-desired | grep -q "nw_src=$1[, ]"; }
# within_5s CMD...: CMD succeeds within 5 s.
within_5s() {
    local deadline=$((SECONDS + 5))
    until "$@"; do
        [ $SECONDS -lt "$deadline" ] || return 1
        sleep 0.1
    done
}
EXTRA=10.244.0.250
desired_names "$NP_GW_IP" || np_fail "the flows do not name $NP_GW_IP"
desired_names "$EXTRA" && np_fail "the flows name $EXTRA already"
ip -n "$NP_NODE_NS" addr add "$EXTRA/32" dev "$NP_GATEWAY" \
    || np_fail "cannot add $EXTRA"
within_5s desired_names "$EXTRA" \
    || np_fail "$EXTRA added to $NP_GATEWAY: not in the flows within 5 s"
ip -n "$NP_NODE_NS" addr del "$EXTRA/32" dev "$NP_GATEWAY" \
    || np_fail "cannot remove $EXTRA"
within_5s eval '! desired_names "$EXTRA"' \
    || np_fail "$EXTRA removed from $NP_GATEWAY: still in the flows after 5 s"
np_log "PASS: addresses added to and removed from $NP_GATEWAY later count"

# An IPv6-only gateway: a controller given only an IPv6 --gateway-address
# makes the port again (it was deleted), gives it that address and brings
# it up, with no IPv4 address.
np_controller_stop
np_vsctl del-port "$NP_BRIDGE" "$NP_GATEWAY" || np_fail "cannot delete the port"
np_wait_until eval '! ip -n "$NP_NODE_NS" link show "$NP_GATEWAY"' \
    || np_fail "$NP_GATEWAY still exists"
NP_SOURCE="--kubeconfig=$NP_TMP/kubeconfig" \
    np_controller_spawn --gateway-address=fd00:10:244::1/64
gw_up() {
    ip -n "$NP_NODE_NS" -o link show dev "$NP_GATEWAY" 2>/dev/null \
        | grep -q '[<,]UP[,>]'
}
np_wait_until gw_has6 \
    || np_fail "IPv6 only: $NP_GATEWAY did not get fd00:10:244::1/64"
np_wait_until gw_up || np_fail "IPv6 only: $NP_GATEWAY is not up"
ip -n "$NP_NODE_NS" -o addr show dev "$NP_GATEWAY" | grep -q ' inet ' \
    && np_fail "IPv6 only: $NP_GATEWAY has an IPv4 address"
np_log "PASS: an IPv6-only --gateway-address is set and the port brought up"
