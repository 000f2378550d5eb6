#! /bin/bash
# Scale benchmark: the real controller against generated workloads and a
# real ovs-vswitchd (docs/scale.md has the results and how to read them).
#
# Usage: tests/bench/bench.sh [PRESET...]   (default: small medium large)
#   PRESET: small, medium, large, xlarge (tests/bench/np-workload.c) or
#           custom:PODS:POLICIES.
# Environment:
#   BENCH_SEED      workload seed (default 1)
#   BENCH_CHURN     churn events per kind (default 20; 10 for xlarge)
#   BENCH_RESULTS   file to append one "key=value ..." line per preset to
#   BENCH_EVENTS    file to copy the churn stream's per-event lines to
#                   ("kind latency seen parse compile install flow_mods
#                   stray switch policies", ms)
#   BENCH_STRAY     "0": no stray-flow check, so no OpenFlow monitor
#                   attached during remote pod events
#   BENCH_PERF      "1": record the controller and ovs-vswitchd with
#                   "perf record -g" from the controller's start to the end
#                   of the churn stream ("churn": the churn stream only),
#                   into $BENCH_PERF_DIR (default /tmp) as
#                   perf-{controller,vswitchd}-PRESET.data
#   BENCH_PERF_ARGS options for perf record (default "-g")
#   BENCH_POLL_DELAY seconds to wait after an event before the first poll
#                   of the controller's statistics (default 0.1)
#
# Per preset, in a node namespace of its own (tests/e2e/lib.sh) with its
# own ovsdb-server and ovs-vswitchd: the generator writes the manifests,
# the 110 local pods become OVS internal ports with the CNI's external_ids,
# the controller starts on the manifest directory, and the benchmark reads
# its netpol/stats (CPU stopwatches, realization times, flow_mod counts)
# until the switch has every flow; then it applies the churn stream one
# event at a time (each after the previous one is installed) and measures
# event -> flows installed.  Targets (issue 7) are printed next to the
# results; the benchmark does not fail on them.  It needs root and exits
# 77 without it.  Only the namespaces and processes it creates are
# touched.

set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
BENCH_WORKLOAD=$top_builddir/tests/bench/np-workload

if [ "${1:-}" != --one ]; then
    [ "$(id -u)" = 0 ] || { echo "SKIP: needs root" >&2; exit 77; }
    [ -x "$BENCH_WORKLOAD" ] \
        || { echo "SKIP: build first (make bench)" >&2; exit 77; }
    [ $# -gt 0 ] || set -- small medium large
    echo "ovs-netpol scale benchmark: $(nproc) CPUs," \
         "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' \
            /proc/meminfo), $(uname -r)"
    rc=0
    for preset in "$@"; do
        bash "$0" --one "$preset" || rc=$?
    done
    exit $rc
fi
PRESET=$2

# Node addressing matches the generator: node1's pods are 10.128.0.0/24.
NP_POD_CIDR=10.128.0.0/24
NP_GW_IP=10.128.0.1
NP_PREFIX=npb$$
. "$top_srcdir/tests/e2e/lib.sh"

# The benchmark needs no CNI plugin or socat, only OVS and the controller.
np_require() {
    [ "$(id -u)" = 0 ] || { np_log "SKIP: needs root"; exit 77; }
    for t in ip ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl ovs-appctl; do
        command -v "$t" >/dev/null 2>&1 || { np_log "SKIP: $t missing";
                                             exit 77; }
    done
    [ -x "$NP_CONTROLLER" ] || { np_log "SKIP: build first"; exit 77; }
}

np_init
W=$NP_TMP/w

# stat KEY: one value of the controller's netpol/stats.
# Read with shell builtins only: the benchmark must not take CPU from the
# controller and ovs-vswitchd while they handle an event.
declare -A STAT=()
stats_read() {
    local k line
    STAT=()
    while IFS= read -r line; do
        k=${line%%: *}
        [ "$k" != "$line" ] && STAT[$k]=${line#*: }
    done < <(np_appctl netpol/stats 2>/dev/null)
}
stat() { printf '%s\n' "${STAT[$1]-}"; }

# Milliseconds (one decimal) between two microsecond stamps.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# Waits until the controller has installed the flows of a compilation that
# started after $1 (microseconds) and is not recompiling.  Returns 1 after
# $2 seconds.
wait_realized() {
    local since=$1 deadline=$((SECONDS + $2)) r
    # Most events are installed well within this: do not poll (fork
    # ovs-appctl, wake the controller) while they are being handled.
    sleep "${BENCH_POLL_DELAY:-0.1}"
    while :; do
        stats_read
        r=${STAT[realized]-}
        if [ -n "$r" ] && [ "$r" -gt 0 ] \
           && [ "${STAT[awaiting-install]-}" = no ] \
           && [ "${STAT[last-realized-wall-us]}" -ge "$since" ] \
           && [ "${STAT[last-compile-end-wall-us]}" -ge "$since" ]; then
            return 0
        fi
        [ $SECONDS -ge "$deadline" ] && return 1
        sleep 0.03
    done
}

# Percentile P (0-100) of the numbers on stdin (nearest rank).
pct() {
    sort -g | awk -v p="$1" '{ v[NR] = $1 }
        END { if (!NR) { print "-"; exit }
              i = int((p * NR + 99) / 100); if (i < 1) i = 1;
              print v[i] }'
}

# Flow counts by cookie category in a flowset_format dump on stdin:
# "pipeline pod isolation rules".
categories() {
    awk '{ if (match($0, /cookie=0x[0-9a-f]+/)) {
               h = substr($0, RSTART + 9, RLENGTH - 9);
               c = length(h) == 16 ? substr(h, 1, 2) \
                   : length(h) == 15 ? substr(h, 1, 1) : "0";
               n[c]++
           } }
         END { printf "%d %d %d %d\n", n["1"], n["2"], n["3"],
                      n["10"] + n["11"] }'
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

# --- Workload ---
churn_n=${BENCH_CHURN:-20}
[ "$PRESET" = xlarge ] && churn_n=${BENCH_CHURN:-10}
gen_start=$EPOCHREALTIME
"$BENCH_WORKLOAD" "$PRESET" "${BENCH_SEED:-1}" "$W" "$churn_n" \
    || np_fail "np-workload failed"
gen_ms=$(ms "${gen_start/./}" "${EPOCHREALTIME/./}")
bound() { sed -n "s/^$1 //p" "$W/bounds"; }

# The pure stages offline (no OVS), best of 3: where the CPU goes.
BENCH_STAGES=$("$top_builddir/tests/bench/np-compile-bench" "$W" 3 \
               2>&1 | tr '\n' ' ' | sed 's/ ms/ms/g; s/  */ /g')

# --- Node: OVS, the bridge, the gateway and the local pods' ports, all in
# place before the controller starts, so that its first realization is the
# whole job and nothing else. ---
np_node_start 2>>"$NP_TMP/node-start.err" \
    || { cat "$NP_TMP/node-start.err" >&2; np_fail "node start"; }
{
    printf -- '-- add-br %s -- set bridge %s fail-mode=secure' \
        "$NP_BRIDGE" "$NP_BRIDGE"
    printf ' datapath_type=netdev protocols=OpenFlow10,OpenFlow13,OpenFlow15'
    printf ' -- add-port %s %s -- set interface %s type=internal' \
        "$NP_BRIDGE" "$NP_GATEWAY" "$NP_GATEWAY"
    printf ' external_ids:ovs-netpol/gateway=true'
    while read -r ifname mac podns pod ip; do
        printf ' -- add-port %s %s -- set interface %s type=internal' \
            "$NP_BRIDGE" "$ifname" "$ifname"
        printf ' external_ids:ovs-netpol/pod-namespace=%s' "$podns"
        printf ' external_ids:ovs-netpol/pod-name=%s' "$pod"
        printf ' external_ids:attached-mac="%s"' "$mac"
        printf ' external_ids:ovs-netpol/ips=%s/24' "$ip"
    done <"$W/ports"
} >"$NP_TMP/vsctl-args"
eval "np_vsctl $(cat "$NP_TMP/vsctl-args")" || np_fail "ovs-vsctl add-br"
np_wait_until ip -n "$NP_NODE_NS" link show "$NP_GATEWAY" \
    || np_fail "no $NP_GATEWAY"
ip -n "$NP_NODE_NS" addr replace "$NP_GW_IP/24" dev "$NP_GATEWAY"
ip -n "$NP_NODE_NS" link set "$NP_GATEWAY" up
n_ports=$(wc -l <"$W/ports")
np_wait_until test "$(np_vsctl --bare --columns=ofport find interface \
    external_ids:ovs-netpol/pod-namespace!=x | grep -c '^[0-9]')" \
    -ge "$n_ports" || np_fail "ports did not get ofports"
cp "$W"/manifests/* "$NP_TMP/manifests/"
manifest_mb=$(du -sm "$NP_TMP/manifests" | cut -f1)
n_files=$(ls "$NP_TMP/manifests" | wc -l)

# --- First realization ---
# (Not np_controller_start: the gateway port and its address are made
# above, without --gateway-address.)
ctl_start() {
    rm -f "$NP_TMP/run/controller.ctl"
    np_controller_spawn
    CTL_PID=$NP_CONTROLLER_PID
}
LOAD_START=$(load)
ctl_start
PERF_PIDS=""
perf_start() {
    perf record ${BENCH_PERF_ARGS:--g} \
        -o "${BENCH_PERF_DIR:-/tmp}/perf-controller-$PRESET.data" \
        -p "$CTL_PID" >/dev/null 2>&1 &
    PERF_PIDS="$PERF_PIDS $!"
    perf record ${BENCH_PERF_ARGS:--g} \
        -o "${BENCH_PERF_DIR:-/tmp}/perf-vswitchd-$PRESET.data" \
        -p "$(cat "$NP_TMP/run/ovs-vswitchd.pid")" >/dev/null 2>&1 &
    PERF_PIDS="$PERF_PIDS $!"
    NP_PIDS="$NP_PIDS $PERF_PIDS"
}
[ "${BENCH_PERF:-}" = 1 ] && perf_start
np_wait_until test -S "$NP_TMP/run/controller.ctl" \
    || np_fail "controller did not start"
wait_realized 0 "${BENCH_TIMEOUT:-600}" || np_fail "flows not installed"
# Let the start-up settle (a second compile once the gateway's addresses
# are read, if they were read late), then take the steady state.
sleep 1.5
wait_realized 0 60 || np_fail "flows not installed"
first_ms=$(ms "$(stat start-wall-us)" "$(stat first-realized-wall-us)")
loaded_ms=$(ms "$(stat start-wall-us)" "$(stat last-source-wall-us)")
compiled_ms=$(ms "$(stat start-wall-us)" "$(stat last-compile-end-wall-us)")
source_ms=$(ms 0 "$(stat total-source-cpu-us)")
compile_ms=$(ms 0 "$(stat last-compile-cpu-us)")
compiles=$(stat compiles)
total_compile_ms=$(ms 0 "$(stat total-compile-cpu-us)")
flows=$(stat desired-flows)
switch_flows=$(np_ofctl dump-aggregate "$NP_BRIDGE" \
               | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p')
np_appctl netpol/dump-desired >"$NP_TMP/desired.0"
read -r c_pipe c_pod c_iso c_rules < <(categories <"$NP_TMP/desired.0")
rss_start_kb=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' \
               "/proc/$CTL_PID/status")
problems=$(np_appctl netpol/problems | grep -c .)

ideal=$(bound ideal)
ideal_total=$((c_pipe + c_pod + $(bound isolation) + ideal))
ratio=$(awk -v a="$c_rules" -v b="$ideal" 'BEGIN { printf "%.3f", a / b }')
ratio_total=$(awk -v a="$flows" -v b="$ideal_total" \
              'BEGIN { printf "%.3f", a / b }')

case $PRESET in
    large) T_FIRST="< 1000 ms" T_RSS="< 100 MB" T_RATIO="<= 1.1"
           T_P99="< 20 ms" ;;
    xlarge) T_FIRST="< 5000 ms" T_RSS="< 300 MB" T_RATIO="-" T_P99="-" ;;
    *) T_FIRST="-" T_RSS="-" T_RATIO="-" T_P99="-" ;;
esac

echo
echo "== $PRESET (seed ${BENCH_SEED:-1}): $(bound pods) pods" \
     "($(bound local_pods) local), $(bound policies) policies" \
     "($(bound policies_compiled) select local pods)," \
     "$(bound namespaces) namespaces"
echo "   load average at start: $LOAD_START; generator ${gen_ms} ms;" \
     "manifests ${manifest_mb} MB in $n_files files"
printf '   %-44s %14s   %s\n' "metric" "result" "target"
row() { printf '   %-44s %14s   %s\n' "$1" "$2" "${3:--}"; }
echo "   offline stages (CPU, best of 3): $BENCH_STAGES"
row "first full realization (start -> installed)" "$first_ms ms" "$T_FIRST"
row "  start -> objects loaded / compiled" "$loaded_ms / $compiled_ms ms"
row "  parse + cache rebuild CPU (all runs)" "$source_ms ms"
row "  compile CPU (last; $compiles compiles)" "$compile_ms ms"
row "  compile CPU total" "$total_compile_ms ms"
row "flows desired / on the switch" "$flows / $switch_flows"
row "  pipeline + per-pod + isolation flows" "$c_pipe+$c_pod+$c_iso"
row "  policy rule flows" "$c_rules"
row "  ideal conjunctive bound (sum per rule)" "$ideal"
row "  ideal, matches shared within a policy" "$(bound ideal_shared)"
row "  naive cross-product" "$(bound naive)"
row "  rule flows / ideal" "$ratio" "$T_RATIO"
row "  all flows / (fixed + isolation + ideal)" "$ratio_total"
row "controller peak RSS (VmHWM) after start" "$((rss_start_kb / 1024)) MB" \
    "$T_RSS"
row "problems reported" "$problems"

# --- Churn ---
# The switch's own account of the flows each remote pod event changes (flow
# monitor updates), so that the controller need not dump its flows around
# every event: that would take its CPU and caches from the events measured.
# The monitor is attached for those events only: ovs-vswitchd encodes an
# update for it for every flow changed, which would add to the latency of
# the events that change hundreds of flows, and no monitor is attached in
# production.
MONITOR_PID=
monitor_start() {
    : >"$NP_TMP/monitor"
    ip netns exec "$NP_NODE_NS" env OVS_RUNDIR="$NP_TMP/run" \
        ovs-ofctl -O OpenFlow10 monitor "$NP_BRIDGE" 'watch:!initial' \
        >"$NP_TMP/monitor" 2>&1 &
    MONITOR_PID=$!
    NP_PIDS="$NP_PIDS $MONITOR_PID"
    np_wait_until grep -q 'NXST_FLOW_MONITOR reply' "$NP_TMP/monitor" \
        || np_fail "ovs-ofctl monitor did not start"
}
monitor_stop() {
    [ -n "$MONITOR_PID" ] || return 0
    kill "$MONITOR_PID" 2>/dev/null
    wait "$MONITOR_PID" 2>/dev/null
    NP_PIDS=${NP_PIDS/ $MONITOR_PID/}
    MONITOR_PID=
}

# monitor_lines FROM N: waits until the monitor has printed N flow updates
# after line FROM and prints them (fewer after 5 s).
monitor_lines() {
    local from=$1 n=$2 deadline=$((SECONDS + 5)) got
    while :; do
        got=$(tail -n +"$((from + 1))" "$NP_TMP/monitor" | grep -c 'event=')
        [ "$got" -ge "$n" ] || [ $SECONDS -ge "$deadline" ] && break
        sleep 0.02
    done
    tail -n +"$((from + 1))" "$NP_TMP/monitor" | grep 'event='
}

[ "${BENCH_PERF:-}" = churn ] && perf_start
: >"$NP_TMP/lat"
n_events=0
while read -r seq kind op file src ip; do
    case $kind in
        pod-add|pod-delete|pod-relabel)
            [ "${BENCH_STRAY:-1}" = 0 ] || monitor_start ;;
    esac
    t0=$("$BENCH_WORKLOAD" apply "$W" "$NP_TMP/manifests" "$op" "$file" \
         "$src") || np_fail "apply $seq"
    if ! wait_realized "$t0" 30; then
        np_log "event $seq ($kind $file): not installed within 30 s"
        monitor_stop
        continue
    fi
    lat=$(ms "$t0" "$(stat last-realized-wall-us)")
    seen=$(ms "$t0" "$(stat last-source-wall-us)")
    src_ms=$(ms 0 "$(stat last-source-cpu-us)")
    cmp_ms=$(ms 0 "$(stat last-compile-cpu-us)")
    inst=$(ms "$(stat last-compile-end-wall-us)" \
              "$(stat last-realized-wall-us)")
    changed=$(stat last-change-flow-mods)
    # The switch's share: bundle sent -> commit acknowledged.
    sw_ms=-
    if [ "$(stat last-change-bundles)" -gt 0 ]; then
        sw_ms=$(ms "$(stat last-bundle-sent-wall-us)" \
                   "$(stat last-bundle-acked-wall-us)")
    fi
    stray=-
    if [ -z "$MONITOR_PID" ]; then
        :
    elif monitor_lines 0 "$changed" >"$NP_TMP/updates";
         [ "$(grep -c . "$NP_TMP/updates")" -ne "$changed" ]; then
        stray="?"
    elif [ "$ip" != - ] && [ "$kind" != local-relabel ]; then
        # Updates that do not name the pod's address.
        stray=$(grep -v -E "=$ip(,| |$)" "$NP_TMP/updates" | grep -c .)
    fi
    monitor_stop
    pols=$(stat last-compile-policies); pols=${pols%% *}
    echo "$kind $lat $seen $src_ms $cmp_ms $inst $changed $stray $sw_ms $pols" \
        >>"$NP_TMP/lat"
    n_events=$((n_events + 1))
done <"$W/churn/events"
LOAD_END=$(load)
[ -n "${BENCH_EVENTS:-}" ] && cp "$NP_TMP/lat" "$BENCH_EVENTS"
for pid in $PERF_PIDS; do
    kill -INT "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done
stats_read
rss_kb=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$CTL_PID/status")

# Consistency: the flows after the churn stream (with the cache updated
# object by object) must equal those of a fresh start on the same files.
np_appctl netpol/dump-desired >"$NP_TMP/final.churned"
np_appctl exit >/dev/null 2>&1
wait "$CTL_PID" 2>/dev/null
ctl_start
np_wait_until test -S "$NP_TMP/run/controller.ctl" \
    || np_fail "controller did not restart"
wait_realized 0 "${BENCH_TIMEOUT:-600}" || np_fail "no flows after restart"
np_appctl netpol/dump-desired >"$NP_TMP/final.fresh"
if cmp -s "$NP_TMP/final.churned" "$NP_TMP/final.fresh"; then
    consistent="identical ($(wc -l <"$NP_TMP/final.fresh") flows)"
else
    consistent="DIFFERENT ($(diff "$NP_TMP/final.churned" \
                 "$NP_TMP/final.fresh" | grep -c '^[<>]') lines)"
fi

echo "   churn: $n_events events, one at a time; latency = file renamed ->" \
     "switch acknowledged the bundle (ms)"
printf '   %-14s %3s %6s %6s %6s %6s %6s %7s %7s %6s %10s %5s %9s\n' kind n \
    p50 p99 max seen parse compile install switch "flows chg" stray \
    policies
for kind in pod-add pod-delete pod-relabel local-relabel np-add np-update \
            np-delete; do
    grep "^$kind " "$NP_TMP/lat" >"$NP_TMP/lat.k"
    n=$(wc -l <"$NP_TMP/lat.k")
    [ "$n" -gt 0 ] || continue
    col() { cut -d' ' -f"$1" "$NP_TMP/lat.k" | pct "$2"; }
    sw_col=$(cut -d' ' -f9 "$NP_TMP/lat.k" | grep -v -- - | pct 50)
    printf '   %-14s %3d %6s %6s %6s %6s %6s %7s %7s %6s %10s %5s %9s\n' \
        "$kind" \
        "$n" "$(col 2 50)" "$(col 2 99)" "$(col 2 100)" "$(col 3 50)" \
        "$(col 4 50)" "$(col 5 50)" "$(col 6 50)" "$sw_col" \
        "$(col 7 0)..$(col 7 100)" \
        "$(cut -d' ' -f8 "$NP_TMP/lat.k" | awk '$1 == "?" { q = 1 }
              $1 ~ /^[0-9]+$/ && $1 + 0 >= m { m = $1; n++ }
              END { print q ? "?" : n ? m : "" }')" \
        "$(col 10 0)..$(col 10 100)"
done
all_p50=$(cut -d' ' -f2 "$NP_TMP/lat" | pct 50)
all_p99=$(cut -d' ' -f2 "$NP_TMP/lat" | pct 99)
row "churn event -> installed, all kinds p50" "$all_p50 ms"
row "churn event -> installed, all kinds p99" "$all_p99 ms" "$T_P99"
row "controller peak RSS (VmHWM) after churn" "$((rss_kb / 1024)) MB" \
    "$T_RSS"
echo "   flows after churn vs a fresh start on the same files: $consistent"
echo "   (p50/p99/max: rename -> switch acknowledged, ms; seen: rename ->" \
     "cache updated; parse, compile: CPU ms; install: compile done ->" \
     "acknowledged; switch: bundle sent -> acknowledged, events with a" \
     "bundle; all medians.  flows chg: flow_mods per event," \
     "min..max; policies: policies recompiled, min..max; stray (remote pod events): flow updates seen by an OpenFlow monitor that do" \
     "not name the pod, max; \"?\": the monitor saw fewer updates than" \
     "flow_mods)"
echo "   load average at end: $LOAD_END"

if [ -n "${BENCH_RESULTS:-}" ]; then
    echo "preset=$PRESET pods=$(bound pods) policies=$(bound policies)" \
         "first_ms=$first_ms compile_ms=$compile_ms source_ms=$source_ms" \
         "flows=$flows rule_flows=$c_rules ideal=$ideal" \
         "ideal_shared=$(bound ideal_shared) naive=$(bound naive)" \
         "rss_mb=$((rss_kb / 1024)) p50_ms=$all_p50 p99_ms=$all_p99" \
         "load_start=\"$LOAD_START\" load_end=\"$LOAD_END\"" \
         >>"$BENCH_RESULTS"
fi
exit 0
