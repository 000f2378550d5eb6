#!/bin/bash
# Hitless operation under faults (docs/hitless.md).  One node (real OVS,
# userspace datapath, in a network namespace), pods attached through the
# CNI plugin, the controller on the test API server.  Probers
# (tests/e2e/np-prober) run in the client pods for the whole test:
#   allowed pairs: a new TCP connection every 50 ms (connect and echo within
#                  1 s) and one long-lived connection sending a line every
#                  50 ms and checking its echo;
#   denied pairs:  a new connection attempt every 50 ms.
# Faults, one after the other, each judged on the probes made meanwhile:
#   1. kill -9 of the controller, and start again;
#   2. the same while the API server is down (the old flows must stay);
#   3. the API server gone for 10 s;
#   4. kill -9 of ovsdb-server, and start again;
#   5. kill -9 of ovs-vswitchd, and start again;
#   6. the same with other_config:flow-restore-wait=true set first (as a
#      node's OVS start script does): the controller puts its flows back,
#      then removes the flag.
# For each: denied attempts that got through (always 0), long-lived
# connections broken (0 unless ovs-vswitchd restarts: the userspace
# datapath's conntrack dies with it), and the window during which new
# allowed connections failed (0, or under $NP_HITLESS_MAX_WINDOW ms, default
# 10000, for an ovs-vswitchd restart).  A controller restart and the API
# outage must change no flow (netpol/status counters; the flows on the
# bridge are the same, older than the restart).  Also checks the start
# gate: a controller that cannot reach the API server installs nothing.
#
# NP_HITLESS_CTL_ARGS: extra controller options (e.g. -vofsync:file:dbg
# to see every flow_mod in controller.log, kept when the test fails).
#
# Exit 0: pass; 1: fail (message on stderr); 77: skipped.  Never touches
# the machine's own OVS.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$(dirname "$0")/lib.sh"

NP_PROBER=$top_builddir/tests/e2e/np-prober
MAX_WINDOW=${NP_HITLESS_MAX_WINDOW:-10000}
TIMEOUT_MS=1000                 # np-prober --timeout

np_init
[ -x "$NP_PROBER" ] \
    || { np_log "SKIP: $NP_PROBER missing (make check builds it)"; exit 77; }
np_node_start
np_api_start

now_ms() { date +%s%3N; }

# api_down SECONDS: np_api_down, then waits until the API port refuses
# connections (the server answers the request before it goes away).
api_port_open() {
    ip netns exec "$NP_NODE_NS" bash -c \
        "exec 3<>/dev/tcp/127.0.0.1/$NP_API_PORT" 2>/dev/null
}
api_down() {
    np_api_down "$1" || np_fail "/fake/down failed"
    NP_WAIT=5 np_wait_until eval '! api_port_open' \
        || np_fail "the API server did not go down"
}

uid() {
    printf '0e5d0000-0000-4000-8000-%012x\n' "$(cksum <<<"$1" | cut -d' ' -f1)"
}

hl_namespace() {
    cat <<JSON
{"apiVersion":"v1","kind":"Namespace",
 "metadata":{"name":"$1","uid":"$(uid "ns/$1")",
  "labels":{"kubernetes.io/metadata.name":"$1"}}}
JSON
}

# hl_pod NAMESPACE NAME IP APP
hl_pod() {
    cat <<JSON
{"apiVersion":"v1","kind":"Pod",
 "metadata":{"name":"$2","namespace":"$1","uid":"$(uid "pod/$1/$2")",
  "labels":{"app":"$4"}},
 "spec":{"nodeName":"node1","containers":[{"name":"c","image":"x"}]},
 "status":{"phase":"Running","podIP":"$3","podIPs":[{"ip":"$3"}]}}
JSON
}

# hl_ingress NAME APP FROM-APP: pods app=APP of demo admit app=FROM-APP of
# their namespace, on TCP 8080.
hl_ingress() {
    cat <<JSON
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
 "metadata":{"name":"$1","namespace":"demo","uid":"$(uid "np/$1")"},
 "spec":{"podSelector":{"matchLabels":{"app":"$2"}},
  "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"$3"}}}],
              "ports":[{"protocol":"TCP","port":8080}]}]}}
JSON
}

{
    echo '['
    hl_namespace demo; echo ,
    hl_namespace other; echo ,
    hl_pod demo web 10.244.0.11 web; echo ,
    hl_pod demo client 10.244.0.12 client; echo ,
    hl_pod other client 10.244.0.13 client; echo ,
    hl_pod demo db 10.244.0.14 db; echo ,
    hl_ingress web-ingress web client; echo ,
    hl_ingress db-ingress db web
    echo ']'
} | np_api_apply_json || np_fail "cannot create the objects"

# --- The start gate: with the API server away, a fresh bridge gets no
# flows and the controller is not ready. ---
api_down 6
np_controller_start_api $NP_HITLESS_CTL_ARGS
sleep 2
np_controller_synced && np_fail "gate: ready without the API server"
n=$(np_ofctl dump-flows "$NP_BRIDGE" | grep -c cookie=)
[ "$n" = 0 ] || { np_ofctl dump-flows "$NP_BRIDGE" >&2;
                  np_fail "gate: $n flows on the bridge before sync"; }
np_log "--- gate: no flows and not ready while the API server is down"
NP_WAIT=60 np_wait_until np_controller_synced \
    || np_fail "the controller did not sync after the API server came back"

np_pod_add demo web 10.244.0.11
np_pod_add demo client 10.244.0.12
np_pod_add other client 10.244.0.13
np_pod_add demo db 10.244.0.14
NP_WAIT=20 np_wait_until np_controller_synced \
    || np_fail "the controller did not sync the pods"

for pod in web db; do
    np_spawn ip netns exec "$(np_pod_ns demo $pod)" "$NP_PROBER" serve 8080
done
sleep 0.5

# The pairs: allowed ones with a long-lived connection each.
P=$NP_TMP/probe
mkdir -p "$P"
prober() {
    local name=$1 ns=$2
    shift 2
    np_spawn ip netns exec "$ns" "$NP_PROBER" probe --interval=50 \
        --timeout=$TIMEOUT_MS --out="$P/$name" "$@"
}
prober allow-client-web "$(np_pod_ns demo client)" --long 10.244.0.11 8080
prober allow-web-db "$(np_pod_ns demo web)" --long 10.244.0.14 8080
prober deny-other-web "$(np_pod_ns other client)" --deny 10.244.0.11 8080
prober deny-client-db "$(np_pod_ns demo client)" --deny 10.244.0.14 8080
ALLOWED="allow-client-web allow-web-db"
DENIED="deny-other-web deny-client-db"

# Wait until every allowed pair works and has its long connection.
np_wait_until eval "grep -q 'long up' $P/allow-client-web \
                    && grep -q 'long up' $P/allow-web-db \
                    && grep -q 'new ok' $P/allow-client-web \
                    && grep -q 'new ok' $P/allow-web-db" \
    || { np_diag; np_fail "allowed pairs do not work"; }
sleep 1

# analyze FILE FROM TO: for the events of FILE that started in [FROM, TO]
# prints "OK FAIL WINDOW THROUGH BLOCKED BROKEN MAXGAP" (WINDOW: from the
# first failed new connection to the first good one after the last failure,
# in ms; -1 if none came).
analyze() {
    sort -n "$1" | awk -v a="$2" -v b="$3" '
        $1 < a { next }
        $2 == "new" && $3 == "ok" {
            if ($1 <= b) ok++
            if (ff && $1 > lf && !nok) nok = $1
            next
        }
        $1 > b { next }
        $2 == "new" && $3 == "fail" {
            fail++; if (!ff) ff = $1; lf = $1; nok = 0
        }
        $2 == "new" && $3 == "through" { through++ }
        $2 == "new" && $3 == "blocked" { blocked++ }
        $2 == "long" && $3 == "broken" { broken++ }
        $2 == "long" && $3 == "gap" && $4 > maxgap { maxgap = $4 }
        END {
            w = !ff ? 0 : nok ? nok - ff : -1
            printf "%d %d %d %d %d %d %d\n", ok, fail, w, through, blocked,
                   broken, maxgap
        }'
}

RESULTS=""
# judge NAME FROM TO MAX-WINDOW-MS MAX-BROKEN: checks the probes of the
# fault NAME made in [FROM, TO] and adds a line to the results.
judge() {
    local name=$1 from=$2 to=$3 max_window=$4 max_broken=$5 f
    local ok=0 fail=0 window=0 through=0 blocked=0 broken=0 maxgap=0
    local r
    for f in $ALLOWED; do
        set -- $(analyze "$P/$f" "$from" "$to")
        ok=$((ok + $1)); fail=$((fail + $2))
        [ "$3" -lt 0 ] && np_fail "$name: $f never recovered"
        [ "$3" -gt "$window" ] && window=$3
        broken=$((broken + $6))
        [ "$7" -gt "$maxgap" ] && maxgap=$7
    done
    for f in $DENIED; do
        set -- $(analyze "$P/$f" "$from" "$to")
        through=$((through + $4)); blocked=$((blocked + $5))
    done
    r=$(printf '%-40s %7s %8s %6s %6s %9s %7s %7s' "$name" "$through" \
        "$blocked" "$broken" "$maxgap" "$ok" "$fail" "$window")
    np_log "$r"
    RESULTS="$RESULTS$r
"
    [ "$ok" -gt 0 ] || np_fail "$name: no allowed connection at all"
    [ "$blocked" -gt 0 ] || np_fail "$name: no denied attempt at all"
    [ "$through" = 0 ] \
        || np_fail "$name: $through denied attempts got through"
    [ "$broken" -le "$max_broken" ] \
        || np_fail "$name: $broken long-lived connections broken"
    [ "$window" -le "$max_window" ] \
        || np_fail "$name: new allowed connections failed for $window ms" \
                   "(at most $max_window)"
}

# phase_end: waits until the controller is synced, then long enough for
# every attempt started before to be over, and sets TO.
phase_end() {
    NP_WAIT=${1:-60} np_wait_until np_controller_synced \
        || { np_appctl netpol/status >&2; np_fail "controller not synced"; }
    sleep 3
    TO=$(( $(now_ms) - TIMEOUT_MS - 200 ))
}

# Our flows without counters, and the youngest flow's age in seconds.
flows() { np_flows | grep 'cookie=' | sort; }
youngest() {
    np_ofctl dump-flows "$NP_BRIDGE" | grep 'cookie=' \
        | sed -n 's/.*duration=\([0-9.]*\)s.*/\1/p' | sort -n | head -n 1
}
# check_untouched NAME BEFORE-FLOWS T0: the bridge's flows are BEFORE-FLOWS
# and all older than T0 (ms): nothing was replaced.
check_untouched() {
    local age=$(youngest) elapsed
    [ "$(flows)" = "$2" ] \
        || { diff <(printf '%s\n' "$2") <(flows) >&2;
             np_fail "$1: the flows changed"; }
    elapsed=$(( $(now_ms) - $3 ))
    awk -v a="$age" -v e="$elapsed" 'BEGIN { exit !(a * 1000 >= e - 100) }' \
        || np_fail "$1: a flow is ${age}s old, younger than the fault" \
                   "(${elapsed} ms ago)"
}

np_log "--- results (allowed: new connections ok/failed, failure window;"
np_log "    long: long-lived connections broken, slowest echo)"
HDR=$(printf '%-40s %7s %8s %6s %6s %9s %7s %7s' fault through blocked \
      broken maxgap "new-ok" failed "window")
np_log "$HDR"

# 0. No fault: the probes themselves are sound on this machine.
FROM=$(now_ms)
sleep 3
TO=$(( $(now_ms) - TIMEOUT_MS - 200 ))
judge "none (3 s)" "$FROM" "$TO" 0 0

# 1. kill -9 of the controller; it starts again on unchanged inputs.
BEFORE=$(flows)
FROM=$(now_ms)
kill -9 "$NP_CONTROLLER_PID"
wait "$NP_CONTROLLER_PID" 2>/dev/null
sleep 1
np_controller_start_api $NP_HITLESS_CTL_ARGS
phase_end
judge "controller kill -9 + restart" "$FROM" "$TO" 0 0
check_untouched "controller restart" "$BEFORE" "$FROM"
[ "$(np_status_get 'flow_mods sent')" = 0 ] \
    || np_fail "controller restart: $(np_status_get 'flow_mods sent')" \
               "flow_mods sent on unchanged inputs"
[ "$(np_status_get 'bundles committed')" = 0 ] \
    || np_fail "controller restart: a bundle was committed"

# 2. kill -9 of the controller, which starts while the API server is down:
# the old flows enforce the last known state until it is back.
BEFORE=$(flows)
FROM=$(now_ms)
kill -9 "$NP_CONTROLLER_PID"
wait "$NP_CONTROLLER_PID" 2>/dev/null
api_down 10
np_controller_start_api $NP_HITLESS_CTL_ARGS
sleep 4
np_controller_synced && np_fail "restart without API: ready too early"
check_untouched "restart without API (while down)" "$BEFORE" "$FROM"
phase_end 90
judge "controller restart, API down 10 s" "$FROM" "$TO" 0 0
check_untouched "restart without API" "$BEFORE" "$FROM"
[ "$(np_status_get 'flow_mods sent')" = 0 ] \
    || np_fail "restart without API: flow_mods sent on unchanged inputs"

# 3. The API server gone for 10 s.
BEFORE=$(flows)
MODS=$(np_status_get 'flow_mods sent')
FROM=$(now_ms)
api_down 10
sleep 10
NP_WAIT=60 np_wait_until eval '[ "$(np_api_stat watchesOpen)" -ge 3 ]' \
    || np_fail "API outage: the watches did not come back"
phase_end
judge "API server down 10 s" "$FROM" "$TO" 0 0
check_untouched "API outage" "$BEFORE" "$FROM"
[ "$(np_status_get 'flow_mods sent')" = "$MODS" ] \
    || np_fail "API outage: flow_mods sent"

# 4. kill -9 of ovsdb-server, started again at once.  The controller keeps
# its port map and its flows.  (ovs-vswitchd itself stops its main loop
# until it has the database lock back, and with the userspace datapath
# that loop forwards the packets of non-PMD ports: new and long-lived
# connections pause until it reconnects, about 1 s later.  Not ours to
# fix; the kernel datapath forwards on.)
MODS=$(np_status_get 'flow_mods sent')
BEFORE=$(flows)
FROM=$(now_ms)
np_daemon_kill ovsdb-server
np_ovsdb_start
NP_WAIT=30 np_wait_until eval \
    'np_appctl netpol/status | grep -q "^ovsdb: connected"' \
    || np_fail "ovsdb-server restart: the controller did not reconnect"
phase_end
judge "ovsdb-server kill -9 + restart" "$FROM" "$TO" "$MAX_WINDOW" 0
[ "$(np_status_get 'flow_mods sent')" = "$MODS" ] \
    || np_fail "ovsdb-server restart: flows churned" \
               "($MODS -> $(np_status_get 'flow_mods sent') flow_mods)"
[ "$(flows)" = "$BEFORE" ] || np_fail "ovsdb-server restart: flows changed"
[ "$(np_status_get 'pod ports')" = 4 ] \
    || np_fail "ovsdb-server restart: port map lost pods"

# timeline: after ovs-vswitchd was started again, logs when it was up (its
# gateway port back) and when the controller had its flows in, from FROM.
timeline() {
    local up=$(( $(now_ms) - FROM ))
    NP_WAIT=30 np_wait_until np_controller_synced
    local synced=$(( $(now_ms) - FROM )) listen conn
    # From the logs: when its management socket was back, and when the
    # controller connected to it.
    listen=$(log_ms "$NP_TMP/log/ovs-vswitchd.log" 'added service controller')
    conn=$(log_ms "$NP_TMP/log/controller.log" 'connected, reading')
    np_log "    (ovs-vswitchd up after $up ms, flows back after $synced ms;" \
           "controller connected $((conn - listen)) ms after the switch" \
           "listened)"
}
# log_ms FILE TEXT: the time of the last line of FILE with TEXT, in ms.
log_ms() {
    local t
    t=$(grep "$2" "$1" | tail -n 1 | cut -d'|' -f1)
    date -d "$t" +%s%3N
}

# 5. kill -9 of ovs-vswitchd, started again at once: the flows come back in
# one bundle as soon as it answers.
BUNDLES=$(np_status_get 'bundles committed')
FROM=$(now_ms)
np_daemon_kill ovs-vswitchd
np_vswitchd_start
timeline
phase_end
judge "ovs-vswitchd kill -9 + restart" "$FROM" "$TO" "$MAX_WINDOW" 2
np_log "    ($(( $(np_status_get 'bundles committed') - BUNDLES )) bundles)"

# 6. The same with flow-restore-wait: ovs-vswitchd starts without
# forwarding anything new; the controller installs its flows, then
# removes the flag.
FROM=$(now_ms)
np_vsctl set Open_vSwitch . other_config:flow-restore-wait=true
sleep 0.5
np_daemon_kill ovs-vswitchd
np_vswitchd_start
timeline
phase_end
judge "ovs-vswitchd restart, flow-restore-wait" "$FROM" "$TO" "$MAX_WINDOW" 2
np_vsctl get Open_vSwitch . other_config | grep -q flow-restore-wait \
    && np_fail "flow-restore-wait was not removed"
grep -q "flow-restore-wait is set: will remove it once our flows are in the restarted" \
    "$NP_TMP/log/controller.log" \
    || np_fail "the controller did not wait for the restarted ovs-vswitchd"

kill -0 "$NP_CONTROLLER_PID" 2>/dev/null || np_fail "the controller exited"
np_log "--- summary"
np_log "$HDR"
printf '%s' "$RESULTS" >&2
np_log "PASS"
