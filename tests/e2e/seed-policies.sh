#!/bin/bash
# End to end: the seed's two NetworkPolicies (deploy/examples/access-nginx.yaml
# and default-deny.yaml) enforced on one node with real OVS (userspace
# datapath in the node's network namespace), pods created through the CNI
# plugin, the controller on a manifest directory, and real TCP connections.
#
# Proves:
#   - with no policy every pod reaches every pod, and the node reaches all;
#   - access-nginx lets only app=foo of namespace demo reach app=nginx
#     (app=bar and an app=foo pod of another namespace are refused);
#   - its rule shows up as conjunction() flows whose cookie names the
#     policy (one policy id per policy; dump-flows cookie=C/0xffffffff);
#   - default-deny stops every connection into the namespace's pods, in
#     union with access-nginx and alone;
#   - the node always reaches its pods; replies of allowed connections flow
#     (every "ok" is a full TCP exchange through conntrack);
#   - a broken YAML file and a policy with a malformed field are logged
#     with the file and object named, and everything else stays enforced;
#   - deleting the policies restores access.
#
# Exit 0: pass; 1: fail (message on stderr); 77: skipped (not root, tools
# or binaries missing).  Never touches the machine's own OVS.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$(dirname "$0")/lib.sh"

np_init
EX=$top_srcdir/deploy/examples
[ -f "$EX/access-nginx.yaml" ] || np_fail "$EX/access-nginx.yaml missing"

np_examples_pods "$EX"
ip_of() {
    local s
    for s in $SERVERS; do
        [ "${s%%=*}" = "$1" ] && { echo "${s#*=}"; return; }
    done
}
ns_of() { np_pod_ns "${1%/*}" "${1#*/}"; }

# expect STEP EXPECTED-MATRIX: waits (bounded) for the matrix on port 80.
expect() {
    np_log "--- $1"
    if np_matrix_wait 80 "$CLIENTS" "$SERVERS" "$2"; then
        np_matrix_print "$SERVERS" "$NP_MATRIX" >&2
    else
        np_log "expected:"
        np_matrix_print "$SERVERS" "$2" >&2
        np_log "got (after ${NP_MATRIX_WAIT:-30} s):"
        np_matrix_print "$SERVERS" "$NP_MATRIX" >&2
        np_diag
        np_fail "$1: connectivity differs from the policies"
    fi
}

# Conjunctive flows (clause flows and conj_id flows) on the bridge.
conj_flows() { np_flows | grep -E 'conjunction\(|conj_id='; }
conj_flows_are() { [ "$(conj_flows | sort)" = "$1" ]; }
conj_ids() {
    conj_flows | sed -n 's/.*cookie=\(0x[0-9a-f]*\).*/\1/p' | sort -u
}

ALL_OK="demo/nginx ok ok ok ok
demo/foo ok ok ok ok
demo/bar ok ok ok ok
other/foo ok ok ok ok
node ok ok ok ok"

ACCESS_NGINX="demo/nginx ok ok ok ok
demo/foo ok ok ok ok
demo/bar -- ok ok ok
other/foo -- ok ok ok
node ok ok ok ok"

# Policies add up: access-nginx still lets foo reach nginx.  A pod reaching
# itself never leaves its namespace (loopback), so the diagonal stays ok.
BOTH="demo/nginx ok -- -- ok
demo/foo ok ok -- ok
demo/bar -- -- ok ok
other/foo -- -- -- ok
node ok ok ok ok"

DEFAULT_DENY="demo/nginx ok -- -- ok
demo/foo -- ok -- ok
demo/bar -- -- ok ok
other/foo -- -- -- ok
node ok ok ok ok"

# --- The node, the controller, the pods. ---
np_node_start
cp "$EX/namespaces.yaml" "$EX"/pod-*.yaml "$NP_TMP/manifests/"
np_controller_start
for p in $PODS; do
    np_pod_add "${p%/*}" "${p#*/}" "$(ip_of "$p")"
    np_serve "${p%/*}" "${p#*/}" 80
done
np_serve demo nginx 8080

expect "no policy: every connection succeeds" "$ALL_OK"

# --- access-nginx ---
np_manifest access-nginx.yaml <"$EX/access-nginx.yaml"
expect "access-nginx: only demo/foo (and the node) reach demo/nginx" \
       "$ACCESS_NGINX"
NP_WAIT=2 np_wait_until np_probe "$(ns_of demo/foo)" "$(ip_of demo/nginx)" 8080 \
    || np_fail "access-nginx (no ports) should allow foo -> nginx:8080"
np_refused "$(ns_of demo/bar)" "$(ip_of demo/nginx)" 8080 \
    || np_fail "access-nginx should refuse bar -> nginx:8080"

# --- Its flows: conjunctions, one cookie naming the policy. ---
np_log "--- access-nginx flows"
np_wait_until conj_flows || np_fail "no conjunction flows for access-nginx"
conj_flows >&2
ids=$(conj_ids)
[ "$(printf '%s\n' "$ids" | wc -l)" = 1 ] \
    || np_fail "access-nginx's conjunction flows carry several cookies: $ids"
C1=$ids
[ $(( (C1 >> 56) & 0xff )) = $((0x10)) ] \
    || np_fail "cookie $C1: category is not ingress rule (0x10)"
[ $(( C1 & 0xffffffff )) != 0 ] || np_fail "cookie $C1: no policy id"
[ $(( (C1 >> 32) & 0xffffff )) = 0 ] || np_fail "cookie $C1: bits 32..55 set"
N1=$(conj_flows | wc -l)
ID1=$(printf '0x%x' $(( C1 & 0xffffffff )))
by_cookie=$(np_flows "cookie=$ID1/0xffffffff" | grep -cE 'conjunction\(|conj_id=')
[ "$by_cookie" = "$N1" ] \
    || np_fail "dump-flows cookie=$ID1/0xffffffff lists $by_cookie of $N1 conjunctive flows"
np_log "access-nginx: $N1 conjunctive flows, cookie $C1"

# A second policy with a rule: its flows get their own cookie, and deleting
# it leaves access-nginx's flows exactly as they were.
before=$(conj_flows | sort)
np_manifest access-nginx-8080.yaml <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: access-nginx-8080
  namespace: demo
  uid: 3c0ffee0-0000-4000-8000-00000000b001
spec:
  podSelector:
    matchLabels:
      app: nginx
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: bar
    ports:
    - protocol: TCP
      port: 8080
EOF
NP_WAIT=2 np_wait_until np_probe "$(ns_of demo/bar)" "$(ip_of demo/nginx)" 8080 \
    || np_fail "access-nginx-8080 should allow bar -> nginx:8080"
np_refused "$(ns_of other/foo)" "$(ip_of demo/nginx)" 8080 \
    || np_fail "access-nginx-8080 should refuse other/foo -> nginx:8080"
NP_WAIT=2 np_wait_until np_probe "$(ns_of demo/foo)" "$(ip_of demo/nginx)" 8080 \
    || np_fail "access-nginx-8080 broke foo -> nginx:8080"
ids=$(conj_ids)
[ "$(printf '%s\n' "$ids" | wc -l)" = 2 ] \
    || np_fail "two policies with rules, but conjunctive flow cookies are: $ids"
printf '%s\n' "$ids" | grep -qx "$C1" \
    || np_fail "access-nginx's cookie $C1 changed when another policy came: $ids"
np_manifest_rm access-nginx-8080.yaml
np_wait_until np_refused "$(ns_of demo/bar)" "$(ip_of demo/nginx)" 8080 \
    || np_fail "deleting access-nginx-8080 should refuse bar -> nginx:8080 again"
NP_WAIT=5 np_wait_until conj_flows_are "$before" || {
    diff <(printf '%s\n' "$before") <(conj_flows | sort) >&2
    np_fail "deleting access-nginx-8080 did not restore access-nginx's flows"
}
expect "access-nginx-8080 deleted: back to access-nginx alone" "$ACCESS_NGINX"

# --- default-deny, in union with access-nginx ---
np_manifest default-deny.yaml <"$EX/default-deny.yaml"
expect "access-nginx + default-deny: only foo -> nginx and the node get in" \
       "$BOTH"

# --- Malformed manifests: logged by file and object; nothing else moves. ---
np_manifest zz-broken.yaml <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: broken-yaml
  namespace: demo
spec:
  podSelector: {matchLabels: {app: bar
  ingress: [
EOF
np_manifest zz-malformed-policy.yaml <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: bad-port
  namespace: demo
spec:
  podSelector:
    matchLabels:
      app: nginx
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: bar
    ports:
    - protocol: TCP
      port: [80]
EOF
LOG=$NP_TMP/log/controller.log
np_wait_until grep -q 'zz-broken\.yaml' "$LOG" \
    || np_fail "no controller log line names zz-broken.yaml"
np_wait_until grep -q 'zz-malformed-policy\.yaml.*bad-port\|bad-port.*zz-malformed-policy\.yaml' "$LOG" \
    || np_fail "no controller log line names zz-malformed-policy.yaml and bad-port"
grep -h 'zz-broken\.yaml\|zz-malformed-policy\.yaml' "$LOG" | sed 's/^/log: /' >&2
expect "malformed manifests ignored: the same as before" "$BOTH"
np_manifest_rm zz-broken.yaml
np_manifest_rm zz-malformed-policy.yaml

# --- Deleting policies restores access. ---
np_manifest_rm access-nginx.yaml
expect "default-deny alone: nothing but the node gets into namespace demo" \
       "$DEFAULT_DENY"
NP_WAIT=5 np_wait_until conj_flows_are "" \
    || np_fail "access-nginx deleted, but conjunction flows remain"
np_manifest_rm default-deny.yaml
expect "no policy again: every connection succeeds" "$ALL_OK"

np_log "PASS: seed policies enforced end to end"
exit 0
