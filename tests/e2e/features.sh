#!/bin/bash
# End to end, real traffic: NetworkPolicy features beyond the seed's, on one
# node (userspace OVS in a network namespace), pods created through the CNI
# plugin, the controller on a manifest directory.
#
# Proves, with TCP connections and UDP exchanges:
#   - namespaceSelector: pods of namespaces with team=y get in, others not;
#   - named ports: "http" resolves to the server's container port 8080;
#   - endPort: 9000-9010 lets 9005 in, not 9011;
#   - UDP: a named UDP port ("dns", 5353) lets datagrams in, TCP policy
#     does not;
#   - ipBlock with except: an "outside" client (its own namespace, routed
#     through the node's namespace, nothing leaves the machine) gets in from
#     192.168.77.2 but not from the excepted 192.168.77.3;
#   - egress: a client isolated for egress reaches only what its egress
#     rules allow (a pod port, an ipBlock), not the outside otherwise;
#   - a policy change cuts an already open TCP connection (the next data
#     on it does not get through), while another open connection that is
#     still allowed keeps working in both directions;
#   - IPv6 (through ofproto/trace: the CNI configuration of lib.sh gives
#     pods IPv4 only): an ingress ipBlock rule admits one IPv6 source and
#     drops another.
#
# Exit 0: pass; 1: fail; 77: skipped.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$(dirname "$0")/lib.sh"

np_init

SERVER_IP=10.244.0.20
C1_IP=10.244.0.21
C2_IP=10.244.0.22
OUT_NODE_IP=192.168.77.1
OUT_IP=192.168.77.2
OUT_IP_EXCEPT=192.168.77.3

# np_try NETNS tcp|udp|echo IP PORT [SOURCE-IP]: 0 if the server answers
# ("echo": a TCP echo server, which answers only what it is sent).
np_try() {
    local out bind=${5:+,bind=$5}
    if [ "$2" = echo ]; then
        out=$(echo hello | ip netns exec "$1" timeout 3 socat -T2 - \
              "TCP:$3:$4,connect-timeout=1$bind" 2>/dev/null)
    elif [ "$2" = udp ]; then
        out=$(echo hello | ip netns exec "$1" timeout 3 socat -T1 - \
              "UDP:$3:$4$bind" 2>/dev/null)
    else
        out=$(ip netns exec "$1" timeout 3 socat -T2 - \
              "TCP:$3:$4,connect-timeout=1$bind" </dev/null 2>/dev/null)
    fi
    [ -n "$out" ]
}
np_no() { ! np_try "$@"; }

# ok|refused DESCRIPTION ARGS...: waits (bounded) for the outcome.
ok() {
    local what=$1
    shift
    np_wait_until np_try "$@" || np_fail "$what: expected to get through"
    np_log "ok      $what"
}
refused() {
    local what=$1
    shift
    np_wait_until np_no "$@" || np_fail "$what: expected to be refused"
    np_log "refused $what"
}

ns_of() { np_pod_ns "$1" "$2"; }

# server_policy NAME FROM PORTS: prints a NetworkPolicy NAME in namespace
# app that lets the peers FROM in to the server on PORTS (YAML lists).
server_policy() {
    cat <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: $1, namespace: app}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: $2
    ports: $3
EOF
}
TEAM_Y='[{namespaceSelector: {matchLabels: {team: y}}}]'

# --- The world. ---
np_node_start
np_manifest namespaces.yaml <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {team: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: client, labels: {team: y}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
EOF
np_manifest pods.yaml <<EOF
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: app, labels: {app: server}}
spec:
  nodeName: node1
  containers:
  - name: srv
    ports:
    - {name: http, containerPort: 8080}
    - {name: dns, containerPort: 5353, protocol: UDP}
status: {phase: Running, podIPs: [{ip: $SERVER_IP}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c1, namespace: client, labels: {app: c1}}
spec: {nodeName: node1, containers: [{name: c}]}
status: {phase: Running, podIPs: [{ip: $C1_IP}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c2, namespace: other, labels: {app: c2}}
spec: {nodeName: node1, containers: [{name: c}]}
status: {phase: Running, podIPs: [{ip: $C2_IP}]}
EOF
np_controller_start
np_pod_add app server "$SERVER_IP"
np_pod_add client c1 "$C1_IP"
np_pod_add other c2 "$C2_IP"
SERVER=$(ns_of app server)
C1=$(ns_of client c1)
C2=$(ns_of other c2)
for port in 8080 9005 9011; do
    np_serve app server "$port"
done
np_serve app server 5353 udp
# Echo servers for long-lived connections.
for port in 7000 7001; do
    np_spawn ip netns exec "$SERVER" socat "TCP-LISTEN:$port,fork,reuseaddr" \
        EXEC:cat 2>/dev/null
done

# The outside: a namespace behind a veth to the node, routed by the node.
OUTSIDE=$NP_PREFIX-outside
np_netns_add "$OUTSIDE"
ip -n "$NP_NODE_NS" link add out0 type veth peer name eth0 netns "$OUTSIDE"
ip -n "$NP_NODE_NS" addr add "$OUT_NODE_IP/24" dev out0
ip -n "$NP_NODE_NS" link set out0 up
ip -n "$OUTSIDE" addr add "$OUT_IP/24" dev eth0
ip -n "$OUTSIDE" addr add "$OUT_IP_EXCEPT/24" dev eth0
ip -n "$OUTSIDE" link set eth0 up
ip -n "$OUTSIDE" route add default via "$OUT_NODE_IP"
ip netns exec "$NP_NODE_NS" sysctl -qw net.ipv4.ip_forward=1
np_spawn ip netns exec "$OUTSIDE" socat TCP-LISTEN:8080,fork,reuseaddr \
    "SYSTEM:echo outside" 2>/dev/null

np_log "--- no policy"
ok "c1 -> server:8080" "$C1" tcp "$SERVER_IP" 8080
ok "c2 -> server:8080" "$C2" tcp "$SERVER_IP" 8080
ok "outside -> server:8080" "$OUTSIDE" tcp "$SERVER_IP" 8080 "$OUT_IP"
ok "c1 -> server:5353/udp" "$C1" udp "$SERVER_IP" 5353
ok "c1 -> outside:8080" "$C1" tcp "$OUT_IP" 8080

# --- namespaceSelector + named port ---
np_log "--- namespaceSelector team=y, named port http"
server_policy named "$TEAM_Y" '[{port: http}]' | np_manifest np-named.yaml
ok "c1 (team=y) -> server:http(8080)" "$C1" tcp "$SERVER_IP" 8080
refused "c2 (no team) -> server:8080" "$C2" tcp "$SERVER_IP" 8080
refused "c1 -> server:9005 (not http)" "$C1" tcp "$SERVER_IP" 9005
refused "c1 -> server:5353/udp (http is TCP)" "$C1" udp "$SERVER_IP" 5353

# --- endPort ---
np_log "--- endPort 9000-9010"
server_policy range "$TEAM_Y" '[{port: 9000, endPort: 9010}]' \
    | np_manifest np-range.yaml
ok "c1 -> server:9005 (in 9000-9010)" "$C1" tcp "$SERVER_IP" 9005
refused "c1 -> server:9011 (past endPort)" "$C1" tcp "$SERVER_IP" 9011
ok "c1 -> server:8080 (named still allows)" "$C1" tcp "$SERVER_IP" 8080

# --- UDP ---
np_log "--- UDP: named port dns (UDP 5353)"
server_policy udp \
    '[{podSelector: {}, namespaceSelector: {matchLabels: {team: y}}}]' \
    '[{port: dns, protocol: UDP}]' | np_manifest np-udp.yaml
ok "c1 -> server:5353/udp" "$C1" udp "$SERVER_IP" 5353
refused "c2 -> server:5353/udp" "$C2" udp "$SERVER_IP" 5353

# --- ipBlock with except ---
np_log "--- ipBlock 192.168.77.0/24 except 192.168.77.3/32"
server_policy ipblock \
    '[{ipBlock: {cidr: 192.168.77.0/24, except: [192.168.77.3/32]}}]' \
    '[{port: 8080}]' | np_manifest np-ipblock.yaml
ok "outside 192.168.77.2 -> server:8080" "$OUTSIDE" tcp "$SERVER_IP" 8080 \
   "$OUT_IP"
refused "outside 192.168.77.3 (except) -> server:8080" "$OUTSIDE" tcp \
    "$SERVER_IP" 8080 "$OUT_IP_EXCEPT"
refused "outside 192.168.77.2 -> server:9005" "$OUTSIDE" tcp "$SERVER_IP" \
    9005 "$OUT_IP"

# --- A policy change cuts an open connection; another stays. ---
np_log "--- open connections and a policy change"
{
    server_policy conn "$TEAM_Y" '[{port: 7000}]'
    echo ---
    server_policy keep "$TEAM_Y" '[{port: 7001}]'
} | np_manifest np-conn.yaml
ok "c1 -> server:7000 (echo)" "$C1" echo "$SERVER_IP" 7000

# Long-lived connections from c1: what the test writes into a FIFO (held
# open by the test) goes to the echo server, what comes back into a file.
conn_start() {
    mkfifo "$NP_TMP/in.$1"
    : >"$NP_TMP/out.$1"
    np_spawn ip netns exec "$C1" socat "PIPE:$NP_TMP/in.$1!!STDOUT" \
        "TCP:$SERVER_IP:$1" >"$NP_TMP/out.$1" 2>/dev/null
    local fd
    exec {fd}<>"$NP_TMP/in.$1"
    eval "CONN_FD_$1=$fd"
}
conn_send() {
    local fd
    eval "fd=\$CONN_FD_$1"
    printf '%s\n' "$2" >&"$fd"
}
conn_got() { grep -qx "$2" "$NP_TMP/out.$1"; }

conn_start 7000
conn_start 7001
conn_send 7000 ping-1
conn_send 7001 ping-1
np_wait_until conn_got 7000 ping-1 || np_fail "no echo on connection :7000"
np_wait_until conn_got 7001 ping-1 || np_fail "no echo on connection :7001"
np_log "ok      two connections open, data echoed both ways"

np_manifest_rm np-conn.yaml
server_policy keep "$TEAM_Y" '[{port: 7001}]' | np_manifest np-keep.yaml
refused "new c1 -> server:7000 after its rule went" "$C1" echo \
    "$SERVER_IP" 7000
conn_send 7000 ping-2
conn_send 7001 ping-2
np_wait_until conn_got 7001 ping-2 \
    || np_fail "connection :7001 (still allowed) stopped working"
# The echo on :7001 came back; give :7000 the same chance, plus a margin.
NP_WAIT=2 np_wait_until conn_got 7000 ping-2 \
    && np_fail "data on the open connection :7000 still gets through"
np_log "refused data on the open connection :7000 after the change"
np_log "ok      the open connection :7001 (still allowed) echoes"

# --- Egress ---
np_log "--- egress: c1 may reach app pods on 8080 and 192.168.77.2/32:8080"
np_manifest np-egress.yaml <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress, namespace: client}
spec:
  podSelector: {matchLabels: {app: c1}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {team: x}}}]
    ports: [{port: 8080}]
EOF
refused "c1 -> outside:8080 (egress)" "$C1" tcp "$OUT_IP" 8080
refused "c1 -> server:9005 (egress; ingress allows)" "$C1" tcp \
    "$SERVER_IP" 9005
ok "c1 -> server:8080 (egress and ingress allow)" "$C1" tcp "$SERVER_IP" 8080
ok "c2 -> outside:8080 (c2 not egress-isolated)" "$C2" tcp "$OUT_IP" 8080
np_manifest np-egress-out.yaml <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-out, namespace: client}
spec:
  podSelector: {matchLabels: {app: c1}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: $OUT_IP/32}}]
EOF
ok "c1 -> outside:8080 (ipBlock egress)" "$C1" tcp "$OUT_IP" 8080
refused "c1 -> server:9005 (still)" "$C1" tcp "$SERVER_IP" 9005

# --- IPv6, through ofproto/trace: an IPv6-only pod with a plain OVS port
# (no CNI) and an ingress ipBlock rule for one IPv6 source. ---
np_log "--- IPv6 (ofproto/trace)"
np_manifest pod-v6.yaml <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: v6, namespace: app, labels: {app: v6}}
spec: {nodeName: node1, containers: [{name: c}]}
status: {phase: Running, podIPs: [{ip: 'fd00:10:244::20'}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: v6, namespace: app}
spec:
  podSelector: {matchLabels: {app: v6}}
  ingress:
  - from: [{ipBlock: {cidr: 'fd00:77::/64', except: ['fd00:77::3/128']}}]
    ports: [{port: 80}]
EOF
np_vsctl add-port "$NP_BRIDGE" v6p -- set interface v6p type=internal \
    ofport_request=60 external_ids:ovs-netpol/pod-namespace=app \
    external_ids:ovs-netpol/pod-name=v6 \
    external_ids:attached-mac=0a:58:00:00:00:60 \
    external_ids:ovs-netpol/ips=fd00:10:244::20
gw_port=$(np_vsctl get interface "$NP_GATEWAY" ofport)
gw_mac=$(np_vsctl get interface "$NP_GATEWAY" mac_in_use | tr -d '"')
trace6() {
    local flow="tcp6,in_port=$gw_port,dl_src=$gw_mac"
    flow="$flow,dl_dst=0a:58:00:00:00:60,ipv6_src=$1"
    flow="$flow,ipv6_dst=fd00:10:244::20,tcp_dst=$2"
    np_appctl_vswitchd ofproto/trace "$NP_BRIDGE" "$flow" --ct-next trk,new
}
out60() { trace6 "$@" | grep -q -- '-> output port is 60'; }
np_wait_until out60 fd00:77::2 80 \
    || { trace6 fd00:77::2 80 >&2
         np_fail "IPv6 fd00:77::2 -> v6:80 dropped"; }
np_log "ok      IPv6 fd00:77::2 -> v6:80"
! out60 fd00:77::3 80 || np_fail "IPv6 fd00:77::3 (except) -> v6:80 allowed"
np_log "refused IPv6 fd00:77::3 (except) -> v6:80"
! out60 fd00:77::2 81 || np_fail "IPv6 fd00:77::2 -> v6:81 allowed"
np_log "refused IPv6 fd00:77::2 -> v6:81"

np_log "PASS: NetworkPolicy features enforced end to end"
exit 0
