#!/bin/bash
# CNI stress: the plugin under repetition, injected failures and
# concurrency, with real network namespaces, Debian's host-local and a real
# OVS (userspace datapath) in a node namespace.  No controller: br-int has
# one "actions=normal" flow.
#
# Proves:
#   - 1,000 ADD/DEL cycles (NP_STRESS_CYCLES), ADD failing in turn after
#     each of its steps (ipam, veth, netns, port; OVS_NETPOL_CNI_FAIL_AT)
#     or succeeding, leave no veth, OVS port, link in the pod's namespace or
#     host-local reservation behind: the test counts them before and after;
#   - 20 concurrent ADDs (NP_STRESS_PODS) all succeed, every pod gets its
#     own IP and a working port, and each reaches its neighbour over TCP;
#     then 20 concurrent DELs all succeed and leave nothing behind.
#
# Prints how long each phase took.  Exit 0: pass; 1: fail (message on
# stderr); 77: skipped.  Never touches the machine's own OVS.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null 2>&1 || { np_log "SKIP: jq missing"; exit 77; }

CYCLES=${NP_STRESS_CYCLES:-1000}
PODS=${NP_STRESS_PODS:-20}

np_init
np_cni_copy
np_node_start_bridge

CONF=$(np_cni_conf | jq -c .)

count_links() { ip -n "$1" -o link show | wc -l; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# --- 1,000 cycles with failures injected ----------------------------------
POD=$NP_PREFIX-cycle
np_netns_add "$POD"
before="ipam $(np_count_ipam) veths $(np_count_veths) ports $(np_count_ports)"
before="$before links $(count_links "$POD")"

# The loop runs in one shell inside the node namespace, as a runtime would
# run the plugin, so that what is measured is the plugin.  Each cycle: an
# ADD that fails after step STEPS[i % 5] (or succeeds), then a DEL.  Prints
# one line per unexpected outcome.
t0=$(now_ms)
ip netns exec "$NP_NODE_NS" env -i PATH="$PATH" OVS_RUNDIR="$NP_TMP/run" \
    CNI_PATH="$NP_CNI_PATH" CNI_IFNAME=eth0 CNI_NETNS="/var/run/netns/$POD" \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=stress;K8S_POD_NAME=cycle" \
    bash -c '
    conf=$1 cycles=$2 cni=$3 log=$4 out_file=$5
    steps=(ipam veth netns port "")
    # Output goes through a file and "read": a $(...) would fork a subshell
    # per command, as costly as the plugin itself.
    for ((i = 0; i < cycles; i++)); do
        step=${steps[i % 5]}
        CNI_COMMAND=ADD CNI_CONTAINERID=cycle$i OVS_NETPOL_CNI_FAIL_AT=$step \
            "$cni" <<<"$conf" >"$out_file" 2>>"$log"
        rc=$?
        out=
        read -r out <"$out_file"
        if [ -n "$step" ]; then
            [ $rc -ne 0 ] && [[ $out == *"\"code\":5,"*"\\\"$step\\\""* ]] \
                || echo "cycle $i: ADD failing at $step: rc $rc: $out"
        else
            [ $rc -eq 0 ] && [[ $out == *"\"ips\":[{\"address\":\"10.244."* ]] \
                || echo "cycle $i: ADD: rc $rc: $out"
        fi
        CNI_COMMAND=DEL CNI_CONTAINERID=cycle$i "$cni" <<<"$conf" \
            >"$out_file" 2>>"$log"
        rc=$?
        [ $rc -eq 0 ] && [ ! -s "$out_file" ] \
            || echo "cycle $i: DEL: rc $rc: $(cat "$out_file")"
    done' bash "$CONF" "$CYCLES" "$NP_CNI" "$NP_TMP/log/cycles.log" \
    "$NP_TMP/cycle.out" \
    >"$NP_TMP/cycles.bad"
t1=$(now_ms)

after="ipam $(np_count_ipam) veths $(np_count_veths) ports $(np_count_ports)"
after="$after links $(count_links "$POD")"
if [ -s "$NP_TMP/cycles.bad" ]; then
    head -n 5 "$NP_TMP/cycles.bad" >&2
    np_fail "$(wc -l <"$NP_TMP/cycles.bad") unexpected outcomes in $CYCLES cycles"
fi
[ "$before" = "$after" ] \
    || np_fail "after $CYCLES cycles: $after; before: $before"
np_log "$CYCLES ADD/DEL cycles: $((t1 - t0)) ms ($(( (t1 - t0) / CYCLES )) ms per cycle); before and after: $before"

# --- concurrent ADDs, then concurrent DELs ---------------------------------
# np_cni with the exit status and output kept: cni_bg CMD N.
cni_bg() {
    local ns
    ns=$(np_pod_ns st "p$2")
    np_cni "$1" "$ns" st "p$2" >"$NP_TMP/$1.$2.out" 2>"$NP_TMP/$1.$2.err"
    echo $? >"$NP_TMP/$1.$2.rc"
}

# cni_all CMD: CMD for every pod at once (cni_bg); sets t0 and t1 to when
# they started and when the last one finished.
cni_all() {
    local i pids=""
    t0=$(now_ms)
    for i in $(seq "$PODS"); do
        cni_bg "$1" "$i" &
        pids="$pids $!"
    done
    wait $pids
    t1=$(now_ms)
}

base_ipam=$(np_count_ipam)
base_veths=$(np_count_veths)
base_ports=$(np_count_ports)
for i in $(seq "$PODS"); do
    np_netns_add "$(np_pod_ns st "p$i")"
done

cni_all ADD

for i in $(seq "$PODS"); do
    [ "$(cat "$NP_TMP/ADD.$i.rc")" = 0 ] \
        || np_fail "concurrent ADD $i: $(cat "$NP_TMP/ADD.$i.out" "$NP_TMP/ADD.$i.err")"
    jq -r '.ips[0].address' "$NP_TMP/ADD.$i.out" | cut -d/ -f1 \
        >"$NP_TMP/ip.$i"
done
n_ips=$(cat "$NP_TMP"/ip.* | sort -u | grep -c '^10\.244\.')
[ "$n_ips" -eq "$PODS" ] || np_fail "$PODS pods got $n_ips distinct IPs"
[ "$(np_count_ipam)" -eq $((base_ipam + PODS)) ] \
    || np_fail "reservations: $(np_count_ipam)"
[ "$(np_count_ports)" -eq $((base_ports + PODS)) ] \
    || np_fail "ports: $(np_count_ports)"
n_ofports=$(np_vsctl --bare --columns=ofport list Interface | grep -v '^$' \
            | grep -v -- '^-' | sort -u | wc -l)
[ "$n_ofports" -ge "$PODS" ] || np_fail "only $n_ofports distinct ofports"
np_log "$PODS concurrent ADDs: $((t1 - t0)) ms"

# Every pod answers, over TCP, the pod before it in the ring.
for i in $(seq "$PODS"); do
    np_serve st "p$i" 8080
done
t0=$(now_ms)
pids=""
for i in $(seq "$PODS"); do
    j=$(( i % PODS + 1 ))
    (
        from=$(np_pod_ns st "p$i")
        ip=$(cat "$NP_TMP/ip.$j")
        for k in $(seq 50); do
            out=$(ip netns exec "$from" timeout 3 socat -T2 - \
                  "TCP:$ip:8080,connect-timeout=1" </dev/null 2>/dev/null)
            [ "$out" = "p$j" ] && exit 0
            sleep 0.2
        done
        exit 1
    ) &
    pids="$pids $!:$i"
done
for p in $pids; do
    wait "${p%%:*}" || np_fail "pod p${p#*:} cannot reach its neighbour"
done
t1=$(now_ms)
np_log "$PODS pods reach their neighbours over TCP: $((t1 - t0)) ms"

cni_all DEL
for i in $(seq "$PODS"); do
    [ "$(cat "$NP_TMP/DEL.$i.rc")" = 0 ] && [ ! -s "$NP_TMP/DEL.$i.out" ] \
        || np_fail "concurrent DEL $i: $(cat "$NP_TMP/DEL.$i.out" "$NP_TMP/DEL.$i.err")"
    [ "$(count_links "$(np_pod_ns st "p$i")")" -eq 1 ] \
        || np_fail "pod p$i still has links after DEL"
done
[ "$(np_cni_leftovers)" = "$base_ipam/$base_veths/$base_ports" ] \
    || np_fail "after concurrent DELs: $(np_cni_leftovers)"
np_log "$PODS concurrent DELs: $((t1 - t0)) ms"

np_log "PASS: cni-stress"
