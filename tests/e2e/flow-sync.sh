#!/bin/bash
# End to end: the flows on the bridge follow the desired flows when whole
# policies go away (controller/ofsync.c).  A bundle that deletes every
# installed flow with one cookie, OFSYNC_COOKIE_DELETE_MIN (8) of them or
# more, and adds or modifies none with it, sends one delete by cookie
# instead of a delete per flow.  One node with real OVS; the local pods
# are OVS internal ports carrying the CNI plugin's external_ids.
#
# Proves, comparing the bridge's own flows (ovs-ofctl dump-flows) with the
# controller's desired flows after every step:
#   - deleting a policy with 12 peers deletes its flows by cookie, and
#     nothing of the policy that stays;
#   - a relabel that leaves two policies with no local target removes both
#     (the small one flow by flow, the large one by cookie), in one bundle;
#   - a policy whose every flow is replaced by others with the same cookie
#     in one bundle (new peers, target, port and conjunction id) is not
#     deleted by cookie, and the bridge ends with the new flows;
#   - a policy that loses most of its flows, not all, loses them flow by
#     flow;
#   - a policy with fewer flows than the threshold is deleted flow by flow.
#
# Exit 0: pass; 1: fail (message on stderr); 77: skipped.  Never touches
# the machine's own OVS.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$(dirname "$0")/lib.sh"

np_init
np_node_start

# The bridge's flows and the desired ones, normalized alike: without
# counters, sorted, one per line.
switch_flows() {
    np_flows | grep 'cookie=' | sed 's/^ *//; s/, /,/g' | sort
}
desired_flows() {
    np_appctl netpol/dump-desired | grep 'cookie=' | sed 's/, /,/g' | sort
}
in_sync() {
    np_controller_synced || return 1
    [ "$(switch_flows)" = "$(desired_flows)" ]
}

# cookie_of ADDRESS: the cookie of the desired flow that matches packets
# from ADDRESS (a policy's peer), "" if there is none.
cookie_of() {
    np_appctl netpol/dump-desired | grep "nw_src=$1[ ,]" \
        | sed -n 's/^cookie=\(0x[0-9a-f]*\),.*/\1/p' | head -n 1
}
n_cookie() { np_flows "cookie=$1/-1" | grep -c 'cookie='; }
deletes_by_cookie() { np_status_get 'deletes by cookie'; }

# step NAME [COMMAND...]: waits until the bridge has the desired flows and
# COMMAND succeeds (a sign that the change was seen, so that the bridge is
# not merely in sync with the flows from before it).
step() {
    local name=$1
    shift
    NP_WAIT=10 np_wait_until step_done "$@" || {
        np_log "--- bridge only (<) / desired only (>)"
        diff <(switch_flows) <(desired_flows) | grep '^[<>]' | head -40 >&2
        np_appctl netpol/status >&2
        np_fail "$name: the bridge does not have the desired flows"
    }
    np_log "ok: $name ($(switch_flows | wc -l) flows)"
}
step_done() { in_sync && { [ $# = 0 ] || "$@"; }; }
has_cookie() { [ "$(n_cookie "$1")" -gt 0 ]; }
no_cookie() { [ "$(n_cookie "$1")" = 0 ]; }
has_peer() { np_flows | grep -q "nw_src=$1[ ,]"; }

# pod NAME APP IP [PORT-NAME]: a local pod of namespace demo.
pod() {
    cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: demo, labels: {app: $2}}
spec:
  nodeName: node1
  containers: [{name: c, ports: [{name: ${4:-http}, containerPort: 8080}]}]
status: {phase: Running, podIPs: [{ip: $3}]}
EOF
}

# many NAME APP PREFIX PORT [N]: a policy admitting N (default 12) /32
# blocks PREFIX.1-N to pods APP on PORT.
many() {
    cat <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: $1, namespace: demo}
spec:
  podSelector: {matchLabels: {app: $2}}
  ingress:
  - ports: [{port: $4}]
    from:
EOF
    for i in $(seq 1 "${5:-12}"); do
        echo "    - ipBlock: {cidr: $3.$i/32}"
    done
}

np_manifest namespace.yaml <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: demo}
EOF
{ pod web web 10.244.0.11; echo ---; pod db db 10.244.0.12; } \
    | np_manifest pods.yaml
many big web 10.250.0 80 | np_manifest big.yaml
np_manifest small.yaml <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: small, namespace: demo}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{ipBlock: {cidr: 10.251.0.0/16}}]
EOF
np_controller_start
# port NAME OFPORT MAC IP: the port the CNI plugin would have made.
port() {
    np_vsctl add-port "$NP_BRIDGE" "p-$1" -- set interface "p-$1" \
        type=internal ofport_request="$2" \
        external_ids:ovs-netpol/pod-namespace=demo \
        external_ids:ovs-netpol/pod-name="$1" \
        external_ids:attached-mac="\"$3\"" \
        external_ids:ovs-netpol/ips="$4/24" || np_fail "add-port p-$1"
}
port web 10 0a:00:00:00:00:0b 10.244.0.11
port db 11 0a:00:00:00:00:0c 10.244.0.12
NP_WAIT=20 np_wait_until test -n "$(cookie_of 10.250.0.1)" \
    || np_fail "policy big compiled no flows"
step "first realization"
BIG=$(cookie_of 10.250.0.1)
SMALL=$(cookie_of 10.251.0.0/16)
[ "$(n_cookie "$BIG")" -ge 12 ] \
    || np_fail "policy big has $(n_cookie "$BIG") flows on the bridge"
[ -n "$SMALL" ] && [ "$(n_cookie "$SMALL")" -lt 8 ] \
    || np_fail "policy small has $(n_cookie "$SMALL") flows on the bridge"
n_small=$(n_cookie "$SMALL")

# --- A policy deleted: by cookie; the other policy stays as it was. ---
d0=$(deletes_by_cookie)
np_manifest_rm big.yaml
step "big deleted" no_cookie "$BIG"
[ "$(n_cookie "$BIG")" = 0 ] || np_fail "flows of big are left"
[ "$(n_cookie "$SMALL")" = "$n_small" ] \
    || np_fail "small lost flows: $(n_cookie "$SMALL") of $n_small"
[ "$(deletes_by_cookie)" = $((d0 + 1)) ] \
    || np_fail "big was not deleted by cookie ($d0 -> $(deletes_by_cookie))"

# --- No local target left: both policies' flows go in one bundle. ---
many big web 10.250.0 80 | np_manifest big.yaml
step "big back" has_cookie "$BIG"
d0=$(deletes_by_cookie)
b0=$(np_status_get 'bundles committed')
{ pod web other 10.244.0.11; echo ---; pod db db 10.244.0.12; } \
    | np_manifest pods.yaml
step "web relabeled" no_cookie "$BIG"
[ "$(n_cookie "$BIG")" = 0 ] && [ "$(n_cookie "$SMALL")" = 0 ] \
    || np_fail "flows left: big $(n_cookie "$BIG"), small" \
               "$(n_cookie "$SMALL")"
[ "$(np_status_get 'bundles committed')" = $((b0 + 1)) ] \
    || np_fail "the relabel took more than one bundle"
[ "$(deletes_by_cookie)" = $((d0 + 1)) ] \
    || np_fail "expected one delete by cookie (big), got" \
               "$(($(deletes_by_cookie) - d0))"

# --- Every flow of big replaced in one bundle, same cookie: other peers,
# another target, a named port (another conjunction id).  From here on the
# pods and big are in one file, so that one rename changes them all. ---
{
    pod web web 10.244.0.11
    echo ---
    pod db db 10.244.0.12 web-port
    echo ---
    many big web 10.250.0 80
} | np_manifest all.yaml
np_manifest_rm pods.yaml
np_manifest_rm big.yaml
step "web back" has_cookie "$BIG"
[ "$(n_cookie "$BIG")" -ge 12 ] || np_fail "big did not come back"
old=$(np_flows "cookie=$BIG/-1" | grep -o 'priority=.*' | sort)
d0=$(deletes_by_cookie)
b0=$(np_status_get 'bundles committed')
{
    pod web other 10.244.0.11
    echo ---
    pod db web 10.244.0.12 web-port
    echo ---
    many big web 10.252.0 web-port
} | np_manifest all.yaml
step "big replaced" has_peer 10.252.0.1
new=$(np_flows "cookie=$BIG/-1" | grep -o 'priority=.*' | sort)
[ "$(n_cookie "$BIG")" -ge 12 ] || np_fail "big lost its flows"
[ -z "$(comm -12 <(printf '%s\n' "$old") <(printf '%s\n' "$new"))" ] \
    || np_fail "big kept some flows; the step proves nothing"
[ "$(np_status_get 'bundles committed')" = $((b0 + 1)) ] \
    || np_fail "the replacement took more than one bundle"
[ "$(deletes_by_cookie)" = "$d0" ] \
    || np_fail "a cookie that the bundle also adds was deleted by cookie"

# --- Most of big's flows deleted, not all: flow by flow. ---
d0=$(deletes_by_cookie)
{
    pod web other 10.244.0.11
    echo ---
    pod db web 10.244.0.12 web-port
    echo ---
    many big web 10.252.0 web-port 2
} | np_manifest all.yaml
step "big shrunk to 2 peers" eval '! has_peer 10.252.0.3'
[ "$(n_cookie "$BIG")" -gt 2 ] || np_fail "big lost too many flows"
[ "$(deletes_by_cookie)" = "$d0" ] \
    || np_fail "big was deleted by cookie while some of its flows stay"

# --- Below the threshold: flow by flow. ---
{
    pod web web 10.244.0.11
    echo ---
    pod db web 10.244.0.12 web-port
    echo ---
    many big web 10.252.0 web-port
} | np_manifest all.yaml
step "web selected by small again" has_cookie "$SMALL"
[ "$(n_cookie "$SMALL")" -gt 0 ] || np_fail "small has no flows"
d0=$(deletes_by_cookie)
np_manifest_rm small.yaml
step "small deleted" no_cookie "$SMALL"
[ "$(n_cookie "$SMALL")" = 0 ] || np_fail "flows of small are left"
[ "$(deletes_by_cookie)" = "$d0" ] \
    || np_fail "small ($n_small flows) was deleted by cookie"

np_log "PASS"
exit 0
