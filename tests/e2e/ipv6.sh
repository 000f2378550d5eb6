#!/bin/bash
# IPv6 with real traffic: dual-stack pods made through the CNI plugin, TCP
# over IPv6 through the userspace datapath, and policies whose peers are
# IPv6 pods and IPv6 ipBlocks.  IPv4 and IPv6 rules never share a
# conjunction, so each family is checked on its own.
set -u
. "$(dirname "$0")/lib.sh"

NP_POD_CIDR6=fd00:10:244::/64
NP_GW_IP6=fd00:10:244::1
np_init
np_node_start

v4() { printf '10.244.0.%s' "$1"; }

# Pods of namespace "six": web (app=web), client (app=client) and other
# (app=other), dual-stack.  host-local takes the IPv4 address we ask for and
# picks the IPv6 one; the manifests then show both, as the API server would
# once the kubelet reports them.
# The controller gives the gateway both addresses (two --gateway-address
# options, one per family), and puts the IPv6 one back when it goes.
gw_has6() {
    ip -n "$NP_NODE_NS" -6 -o addr show dev "$NP_GATEWAY" 2>/dev/null \
        | grep -q " $NP_GW_IP6/64 "
}
np_controller_start --gateway-address="$NP_GW_IP6/64"
np_wait_until gw_has6 \
    || np_fail "the controller did not give the gateway $NP_GW_IP6/64"
ip -n "$NP_NODE_NS" -6 addr del "$NP_GW_IP6/64" dev "$NP_GATEWAY"
NP_WAIT=5 np_wait_until gw_has6 \
    || np_fail "the controller did not put $NP_GW_IP6/64 back on the gateway"
np_log "ok: gateway has $NP_GW_IP6/64 from --gateway-address"
for p in web:20 client:21 other:22; do
    np_pod_add six "${p%:*}" "$(v4 "${p#*:}")"
done
V6_web= V6_client= V6_other=
for p in web client other; do
    a=$(grep -o '"address":"fd00:10:244::[0-9a-f]*/64"' \
        "$NP_TMP/cni-six-$p.json" | sed 's/.*"\(fd00[^/]*\)\/64"/\1/')
    [ -n "$a" ] || np_fail "no IPv6 address for $p: $(cat "$NP_TMP/cni-six-$p.json")"
    eval "V6_$p=\$a"
done
v6() { eval "printf '%s' \"\$V6_$1\""; }

np_manifest ns.yaml <<EOF2
apiVersion: v1
kind: Namespace
metadata: {name: six, labels: {kubernetes.io/metadata.name: six}}
EOF2
pod_manifest() {   # NAME SUFFIX
    np_manifest "pod-$1.yaml" <<EOF2
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: six, uid: uid-six-$1, labels: {app: $1}}
spec:
  nodeName: node1
  containers: [{name: c, ports: [{name: http, containerPort: 80}]}]
status:
  phase: Running
  podIPs: [{ip: $(v4 "$2")}, {ip: "$(v6 "$1")"}]
EOF2
}
pod_manifest web 20
pod_manifest client 21
pod_manifest other 22

# Servers answering on both families.
for p in web other; do
    ns=$(np_pod_ns six "$p")
    np_spawn ip netns exec "$ns" socat TCP6-LISTEN:80,fork,reuseaddr,ipv6only=0 \
        "SYSTEM:echo $p" 2>/dev/null
done

# connect6 FROM-POD|node ADDRESS: 0 if a TCP connection over IPv6 answers.
connect6() {
    local ns out
    if [ "$1" = node ]; then ns=$NP_NODE_NS; else ns=$(np_pod_ns six "$1"); fi
    out=$(ip netns exec "$ns" timeout 4 socat -T3 -t2 - \
          "TCP6:[$2]:80,connect-timeout=2" </dev/null 2>/dev/null)
    [ -n "$out" ]
}
refused6() { ! connect6 "$@"; }
expect() {   # DESCRIPTION COMMAND...: waits until COMMAND holds.
    local what=$1
    shift
    NP_WAIT=${NP_WAIT:-4} np_wait_until "$@" || { np_diag; np_fail "$what"; }
    np_log "ok: $what"
}

expect "client reaches web over IPv6 without policy" connect6 client "$(v6 web)"
expect "other reaches web over IPv6 without policy" connect6 other "$(v6 web)"
expect "node reaches web over IPv6" connect6 node "$(v6 web)"

# Ingress: only app=client may reach web.
np_manifest np-web.yaml <<EOF2
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client, namespace: six, uid: uid-np-web}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: http}]
EOF2
expect "other is refused by web over IPv6" refused6 other "$(v6 web)"
expect "client still reaches web over IPv6" connect6 client "$(v6 web)"
expect "the node still reaches web over IPv6" connect6 node "$(v6 web)"
expect "IPv4 agrees: other refused" np_refused "$(np_pod_ns six other)" "$(v4 20)" 80
np_flows | grep -q "ipv6,ipv6_src=$(v6 client) actions=conjunction" \
    || { np_flows >&2; np_fail "no IPv6 peer clause for client"; }

# Egress: client may reach the pod network's IPv6 range except web.
np_manifest np-client.yaml <<EOF2
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress, namespace: six, uid: uid-np-client}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: "fd00:10:244::/64", except: ["$(v6 web)/128"]}}]
EOF2
expect "client's egress to web over IPv6 is refused" refused6 client "$(v6 web)"
expect "client's egress to other over IPv6 is allowed" connect6 client "$(v6 other)"
expect "client's IPv4 egress is isolated (no IPv4 block)" \
    np_refused "$(np_pod_ns six client)" "$(v4 22)" 80

np_manifest_rm np-client.yaml
np_manifest_rm np-web.yaml
expect "deleting the policies restores IPv6 access" connect6 other "$(v6 web)"
echo "PASS: IPv6 traffic enforced"
