#!/bin/bash
# The ovs-netpol demo: the seed's two NetworkPolicies enforced on one node.
#
# On a Debian 12 machine, as root:
#   1. installs the Debian packages it needs (tests/install-deps.sh);
#   2. builds ovs-netpol in this tree (tests/build.sh);
#   3. starts a "node": a network namespace with its own ovsdb-server and
#      ovs-vswitchd (userspace datapath) -- the machine's own Open vSwitch,
#      if any, is not touched;
#   4. starts ovs-netpol-controller there on a manifest directory holding
#      deploy/examples' namespaces and pods, creates those pods (network
#      namespaces) through the CNI plugin with their manifests' IPs, and
#      runs a TCP server on port 80 in each;
#   5. prints who can connect to whom, from real TCP connections, with no
#      policy, then as deploy/examples/access-nginx.yaml and
#      default-deny.yaml are copied into the manifest directory and removed
#      again, plus the OpenFlow flows of access-nginx;
#   6. tears everything down.
# Exits non-zero if some connectivity differs from what the policies say.
#
# Options: --no-deps (skip the package check), --no-build.

set -u
top=$(cd "$(dirname "$0")/.." && pwd)
EX=$top/deploy/examples

deps=yes build=yes
for arg; do
    case $arg in
        --no-deps) deps=no ;;
        --no-build) build=no ;;
        -h|--help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "demo: unknown option $arg" >&2; exit 2 ;;
    esac
done

[ "$(id -u)" = 0 ] || { echo "demo: run me as root" >&2; exit 1; }
if [ $deps = yes ]; then
    bash "$top/tests/install-deps.sh" || exit 1
fi
if [ $build = yes ]; then
    bash "$top/tests/build.sh" || { echo "demo: build failed" >&2; exit 1; }
fi

top_srcdir=$top top_builddir=$top
. "$top/tests/e2e/lib.sh"
NP_PREFIX=npdemo$$
np_init

say() { printf '%s\n' "$*"; }

np_examples_pods "$EX"

unexpected=0
step=0
# show TITLE EXPECTED: waits (up to NP_MATRIX_WAIT s) for the controller to apply
# the change, then prints the matrix.
show() {
    step=$((step + 1))
    say ""
    say "== $step. $1"
    if np_matrix_wait 80 "$CLIENTS" "$SERVERS" "$2"; then
        np_matrix_print "$SERVERS" "$NP_MATRIX"
        say "(as the policies say)"
    else
        np_matrix_print "$SERVERS" "$NP_MATRIX"
        say "UNEXPECTED after ${NP_MATRIX_WAIT:-30} s; expected:"
        np_matrix_print "$SERVERS" "$2"
        unexpected=$((unexpected + 1))
    fi
}

say "== starting a node (network namespace $NP_NODE_NS, own OVS in $NP_TMP)"
# (OVS daemons log a few INFO lines to the terminal before they detach.)
np_node_start 2> >(grep -v '|INFO|' >&2)
cp "$EX/namespaces.yaml" "$EX"/pod-*.yaml "$NP_TMP/manifests/"
say "== starting ovs-netpol-controller on $NP_TMP/manifests:"
(cd "$NP_TMP/manifests" && ls | sed 's/^/     /')
np_controller_start 2> >(grep -v '|INFO|' >&2)
for s in $SERVERS; do
    p=${s%%=*}
    say "== pod $p: CNI ADD with IP ${s#*=}, TCP server on port 80"
    np_pod_add "${p%/*}" "${p#*/}" "${s#*=}"
    np_serve "${p%/*}" "${p#*/}" 80
done

say ""
say "Cells: can the row's pod (or the node itself, through the gateway"
say "port) open a TCP connection to the column's pod on port 80?"
say "ok = connected and got the server's answer, -- = no connection."
say "A pod reaching itself stays inside its own namespace: always ok."

show "no policy: every pod reaches every pod" \
"demo/nginx ok ok ok ok
demo/foo ok ok ok ok
demo/bar ok ok ok ok
other/foo ok ok ok ok
node ok ok ok ok"

np_manifest access-nginx.yaml <"$EX/access-nginx.yaml"
show "+ access-nginx.yaml: only app=foo pods of namespace demo reach app=nginx" \
"demo/nginx ok ok ok ok
demo/foo ok ok ok ok
demo/bar -- ok ok ok
other/foo -- ok ok ok
node ok ok ok ok"

say ""
say "access-nginx's rule in OpenFlow (ovs-ofctl dump-flows --names br-int):"
cookie=$(np_flows | grep -E 'conjunction\(|conj_id=' \
         | sed -n 's/.*cookie=\(0x[0-9a-f]*\).*/\1/p' | sort -u | head -n 1)
if [ -n "$cookie" ]; then
    id=$(printf '0x%x' $((cookie & 0xffffffff)))
    say "cookie $cookie: category 0x$(printf '%x' $(((cookie >> 56) & 0xff))) (ingress rule), policy id $id"
    say "\$ ovs-ofctl dump-flows --names br-int cookie=$id/0xffffffff"
    np_flows --names "cookie=$id/0xffffffff" | sed 's/^ */    /'
else
    say "    (no conjunction flows found)"
    unexpected=$((unexpected + 1))
fi

np_manifest default-deny.yaml <"$EX/default-deny.yaml"
show "+ default-deny.yaml: demo's pods are all isolated; policies add up, so
     foo -> nginx stays allowed by access-nginx; the node still gets in" \
"demo/nginx ok -- -- ok
demo/foo ok ok -- ok
demo/bar -- -- ok ok
other/foo -- -- -- ok
node ok ok ok ok"

np_manifest_rm access-nginx.yaml
show "- access-nginx.yaml: default-deny alone; nothing but the node gets into demo" \
"demo/nginx ok -- -- ok
demo/foo -- ok -- ok
demo/bar -- -- ok ok
other/foo -- -- -- ok
node ok ok ok ok"

np_manifest_rm default-deny.yaml
show "- default-deny.yaml: no policy again, every pod reaches every pod" \
"demo/nginx ok ok ok ok
demo/foo ok ok ok ok
demo/bar ok ok ok ok
other/foo ok ok ok ok
node ok ok ok ok"

say ""
if [ $unexpected -eq 0 ]; then
    say "demo: every step matched the policies; cleaning up"
    exit 0
fi
say "demo: $unexpected step(s) did not match; logs follow"
exit 1
