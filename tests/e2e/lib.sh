# Shell helpers for ovs-netpol's end-to-end tests and the demo.
#
# A "node" is a network namespace running its own ovsdb-server and
# ovs-vswitchd (userspace datapath) with private OVS_RUNDIR/OVS_DBDIR/
# OVS_LOGDIR/OVS_SYSCONFDIR; "pods" are network namespaces attached to the
# node's br-int through the CNI plugin.  Everything a test creates is named
# with a per-run prefix and torn down by np_cleanup (installed as an EXIT
# trap by np_init); only processes started here are killed, by pid.
#
# Source it, then call np_init.  Variables:
#   top_srcdir, top_builddir   set by "make check" (default: this tree)
#   NP_PREFIX                  prefix of netns names (default np<pid>)
#   NP_TMP                     scratch directory (created by np_init)

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
NP_CONTROLLER=$top_builddir/controller/ovs-netpol-controller
NP_CNI=$top_builddir/cni/ovs-netpol-cni
NP_CNI_PATH=/usr/lib/cni
NP_PIDS=""
NP_NETNS=""
NP_POD_CIDR=${NP_POD_CIDR:-10.244.0.0/24}
NP_GW_IP=${NP_GW_IP:-10.244.0.1}
NP_BRIDGE=br-int
NP_GATEWAY=np-gw0

np_log() { printf '%s\n' "$*" >&2; }
np_fail() { np_log "FAIL: $*"; exit 1; }

# Skips (exit 77) unless we are root with the tools the tests need.
np_require() {
    [ "$(id -u)" = 0 ] || { np_log "SKIP: needs root"; exit 77; }
    for t in ip ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl socat \
             "$NP_CNI_PATH/host-local"; do
        command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] \
            || { np_log "SKIP: $t missing"; exit 77; }
    done
    [ -x "$NP_CONTROLLER" ] && [ -x "$NP_CNI" ] \
        || { np_log "SKIP: build first"; exit 77; }
}

np_init() {
    np_require
    NP_PREFIX=${NP_PREFIX:-np$$}
    NP_TMP=$(mktemp -d "/tmp/${NP_PREFIX}.XXXXXX")
    NP_NODE_NS=${NP_PREFIX}-node
    trap np_cleanup EXIT
    trap 'exit 130' INT TERM
}

# Runs "$@" in the background, remembering its pid for np_cleanup.
np_spawn() {
    "$@" &
    NP_PIDS="$NP_PIDS $!"
    NP_LAST_PID=$!
}

np_cleanup() {
    local rc=$? pid ns
    for pid in $NP_PIDS; do
        kill "$pid" 2>/dev/null
    done
    for pidf in "$NP_TMP"/run/*.pid; do
        [ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null
    done
    sleep 0.3
    for pid in $NP_PIDS; do
        kill -9 "$pid" 2>/dev/null
    done
    for pidf in "$NP_TMP"/run/*.pid; do
        [ -f "$pidf" ] && kill -9 "$(cat "$pidf")" 2>/dev/null
    done
    for ns in $NP_NETNS; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    if [ $rc -ne 0 ] && [ -d "$NP_TMP" ]; then
        np_log "--- logs kept in $NP_TMP"
        for f in "$NP_TMP"/log/*.log; do
            [ -f "$f" ] && { np_log "--- tail $f"; tail -n 30 "$f" >&2; }
        done
    elif [ -n "$NP_TMP" ]; then
        rm -rf "$NP_TMP"
    fi
    exit $rc
}

np_netns_add() {
    ip netns add "$1" || np_fail "cannot create netns $1"
    NP_NETNS="$NP_NETNS $1"
    ip -n "$1" link set lo up
}

# Runs a command in the node's namespace with the node's OVS directories.
np_node() {
    ip netns exec "$NP_NODE_NS" env \
        OVS_RUNDIR="$NP_TMP/run" OVS_DBDIR="$NP_TMP/db" \
        OVS_LOGDIR="$NP_TMP/log" OVS_SYSCONFDIR="$NP_TMP/etc" "$@"
}

# Runs "$@" until it succeeds, at most $NP_WAIT * 10 times (default 10),
# 0.1 s apart: at least $NP_WAIT seconds, longer when "$@" itself is slow.
np_wait_until() {
    local i n=$(( ${NP_WAIT:-10} * 10 ))
    for i in $(seq "$n"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# Starts ovsdb-server and ovs-vswitchd in a fresh node namespace.
np_node_start() {
    mkdir -p "$NP_TMP"/run "$NP_TMP"/db "$NP_TMP"/log "$NP_TMP"/etc \
             "$NP_TMP"/ipam "$NP_TMP"/manifests
    np_netns_add "$NP_NODE_NS"
    ovsdb-tool create "$NP_TMP/db/conf.db" \
        /usr/share/openvswitch/vswitch.ovsschema || np_fail "ovsdb-tool"
    np_node ovsdb-server "$NP_TMP/db/conf.db" \
        --remote="punix:$NP_TMP/run/db.sock" \
        --pidfile="$NP_TMP/run/ovsdb-server.pid" --detach \
        --log-file="$NP_TMP/log/ovsdb-server.log" \
        || np_fail "ovsdb-server did not start"
    np_node ovs-vsctl --db="unix:$NP_TMP/run/db.sock" --no-wait init
    np_node ovs-vswitchd "unix:$NP_TMP/run/db.sock" \
        --pidfile="$NP_TMP/run/ovs-vswitchd.pid" --detach \
        --log-file="$NP_TMP/log/ovs-vswitchd.log" \
        || np_fail "ovs-vswitchd did not start"
}

np_vsctl() { np_node ovs-vsctl --db="unix:$NP_TMP/run/db.sock" "$@"; }
np_ofctl() { np_node ovs-ofctl -O OpenFlow15 "$@"; }
np_appctl_vswitchd() {
    np_node ovs-appctl -t "$NP_TMP/run/ovs-vswitchd.$(cat "$NP_TMP/run/ovs-vswitchd.pid").ctl" "$@"
}

# Starts the controller in the node namespace on $NP_TMP/manifests, then
# gives the gateway port created by the controller the node's pod-network
# address.  Extra arguments go to the controller.
np_controller_start() {
    np_controller_spawn --gateway-address="$NP_GW_IP/${NP_POD_CIDR#*/}" "$@"
    # The controller creates the gateway port and gives it the address.
    np_wait_until np_gateway_has_address \
        || np_fail "controller did not set up $NP_GATEWAY with $NP_GW_IP"
}

np_gateway_has_address() {
    ip -n "$NP_NODE_NS" -o addr show dev "$NP_GATEWAY" up 2>/dev/null \
        | grep -q " $NP_GW_IP/"
}

np_controller_stop() {
    kill "$NP_CONTROLLER_PID" 2>/dev/null
    wait "$NP_CONTROLLER_PID" 2>/dev/null
}

np_appctl() {
    np_node ovs-appctl -t "$NP_TMP/run/controller.ctl" "$@"
}

# The CNI network configuration for pods of this node.
# With NP_POD_CIDR6 and NP_GW_IP6 set, pods are dual-stack.
np_cni_conf() {
    local ipam
    if [ -n "${NP_POD_CIDR6:-}" ]; then
        ipam='"ranges":[[{"subnet":"'$NP_POD_CIDR'","gateway":"'$NP_GW_IP'"}],
                        [{"subnet":"'$NP_POD_CIDR6'","gateway":"'$NP_GW_IP6'"}]],
              "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]'
    else
        ipam='"subnet":"'$NP_POD_CIDR'","gateway":"'$NP_GW_IP'",
              "routes":[{"dst":"0.0.0.0/0"}]'
    fi
    cat <<CONF
{"cniVersion":"1.0.0","name":"np-test","type":"ovs-netpol-cni",
 "bridge":"$NP_BRIDGE","ovsdb":"unix:$NP_TMP/run/db.sock",
 "ipam":{"type":"host-local","dataDir":"$NP_TMP/ipam",$ipam}}
CONF
}

# np_cni COMMAND NETNS-NAME POD-NAMESPACE POD-NAME [EXTRA-CNI-ARGS]
# Runs the CNI plugin as a runtime would, in the node's namespace, with the
# network configuration on stdin.  Prints the plugin's stdout.
np_cni() {
    local cmd=$1 ns=$2 podns=$3 pod=$4 extra=${5:+;$5}
    np_cni_conf | ip netns exec "$NP_NODE_NS" env \
        CNI_COMMAND="$cmd" CNI_CONTAINERID="ctr-$ns" \
        CNI_NETNS="/var/run/netns/$ns" CNI_IFNAME=eth0 \
        CNI_PATH="$NP_CNI_PATH" \
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=$podns;K8S_POD_NAME=$pod$extra" \
        OVS_RUNDIR="$NP_TMP/run" "$NP_CNI"
}

# np_pod_add POD-NAMESPACE POD-NAME IP: a pod netns named
# $NP_PREFIX-<namespace>-<name>, attached through the CNI plugin with the
# given IP (host-local's IP= argument).  Sets NP_POD_NS.
np_pod_add() {
    NP_POD_NS=$NP_PREFIX-$1-$2
    np_netns_add "$NP_POD_NS"
    np_cni ADD "$NP_POD_NS" "$1" "$2" "IP=$3" >"$NP_TMP/cni-$1-$2.json" \
        || { cat "$NP_TMP/cni-$1-$2.json" >&2; np_fail "CNI ADD $1/$2"; }
}

np_pod_ns() { printf '%s\n' "$NP_PREFIX-$1-$2"; }

# np_serve POD-NAMESPACE POD-NAME PORT [udp]: a server in the pod that
# answers every connection with the pod's name.
np_serve() {
    local ns proto=TCP
    ns=$(np_pod_ns "$1" "$2")
    [ "${4:-}" = udp ] && proto=UDP
    np_spawn ip netns exec "$ns" socat \
        "$proto-LISTEN:$3,fork,reuseaddr" "SYSTEM:echo $2" 2>/dev/null
}

# np_connect FROM-NETNS IP PORT: 0 if a TCP connection gets an answer.
np_connect() {
    local out
    # -t: after stdin's EOF socat waits only -t seconds (default 0.5) for
    # the answer, which a busy machine can miss.
    out=$(ip netns exec "$1" timeout 3 socat -t2 -T2 - \
          "TCP:$2:$3,connect-timeout=1" </dev/null 2>/dev/null)
    [ -n "$out" ]
}

# Writes a manifest file (stdin) into the controller's directory
# atomically, so the controller never reads half a file.
np_manifest() {
    cat >"$NP_TMP/manifests/.$1.tmp" && \
        mv "$NP_TMP/manifests/.$1.tmp" "$NP_TMP/manifests/$1"
}
np_manifest_rm() { rm -f "$NP_TMP/manifests/$1"; }

# --- Connectivity matrices (deploy/demo.sh, tests/e2e/seed-policies.sh) ---

# np_probe FROM-NETNS IP PORT: 0 if a TCP connection gets an answer, like
# np_connect but allowing $NP_PROBE_TIMEOUT seconds (default 4) to connect
# and as long again for the answer: long enough for a retransmitted SYN and
# for a busy machine (a server forks a shell per connection), so that "no
# answer" means the connection was refused, not that the machine was slow.
np_probe() {
    local t=${NP_PROBE_TIMEOUT:-4} out
    out=$(ip netns exec "$1" timeout $((2 * t + 2)) socat -t"$t" -T"$t" - \
          "TCP:$2:$3,connect-timeout=$t" </dev/null 2>/dev/null)
    [ -n "$out" ]
}

# np_matrix PORT "CLIENT..." "SERVER..."
#   CLIENT: NAMESPACE/NAME of a pod made by np_pod_add, or "node" (the node's
#           own namespace, reaching pods through the gateway port);
#   SERVER: NAMESPACE/NAME=IP.
# Tries every client -> server TCP connection on PORT (in parallel) and
# prints one line per client: the client, then "ok" or "--" per server.
np_matrix() {
    local port=$1 clients=$2 servers=$3 c s ns dir pids="" i j line
    dir=$(mktemp -d "$NP_TMP/matrix.XXXXXX")
    i=0
    for c in $clients; do
        if [ "$c" = node ]; then
            ns=$NP_NODE_NS
        else
            ns=$(np_pod_ns "${c%%/*}" "${c#*/}")
        fi
        j=0
        for s in $servers; do
            (np_probe "$ns" "${s#*=}" "$port" && echo ok || echo --) \
                >"$dir/$i.$j" &
            pids="$pids $!"
            j=$((j + 1))
        done
        i=$((i + 1))
    done
    wait $pids
    i=0
    for c in $clients; do
        line=$c
        j=0
        for s in $servers; do
            line="$line $(cat "$dir/$i.$j")"
            j=$((j + 1))
        done
        printf '%s\n' "$line"
        i=$((i + 1))
    done
    rm -rf "$dir"
}

# np_matrix_wait PORT "CLIENT..." "SERVER..." EXPECTED: repeats np_matrix
# until its output equals EXPECTED (same format), for up to
# $NP_MATRIX_WAIT seconds (default 30; a round with refused connections
# takes $NP_PROBE_TIMEOUT).  Leaves the last matrix in NP_MATRIX.
np_matrix_wait() {
    local deadline=$((SECONDS + ${NP_MATRIX_WAIT:-30}))
    while :; do
        NP_MATRIX=$(np_matrix "$1" "$2" "$3")
        [ "$NP_MATRIX" = "$4" ] && return 0
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.2
    done
}

# np_matrix_print "SERVER..." MATRIX: MATRIX (np_matrix's output) as a
# table with a header naming the servers (rows: from, columns: to).
np_matrix_print() {
    local s w=12 hdr line
    for s in $1 $(printf '%s\n' "$2" | cut -d' ' -f1); do
        s=${s%%=*}
        [ ${#s} -ge $w ] && w=$((${#s} + 1))
    done
    hdr=$(printf '%-*s' $w 'from \ to')
    for s in $1; do
        hdr="$hdr$(printf ' %-*s' $w "${s%%=*}")"
    done
    printf '%s\n' "$hdr"
    printf '%s\n' "$2" | while read -r line; do
        set -- $line
        printf '%-*s' $w "$1"
        shift
        for s in "$@"; do
            printf ' %-*s' $w "$s"
        done
        printf '\n'
    done
}

# np_refused FROM-NETNS IP PORT: 0 if a TCP connection gets no answer.
np_refused() { ! np_connect "$@"; }

# np_pod_ip_of FILE: the first status.podIPs entry of a Pod manifest.
np_pod_ip_of() {
    sed -n 's/^ *- *ip: *\([0-9a-fA-F.:]*\).*/\1/p' "$1" | head -n 1
}

# np_flows [ovs-ofctl dump-flows arguments]: the bridge's flows without
# the counters that change between dumps (duration, packet counts, ages).
np_flows() {
    np_ofctl dump-flows "$NP_BRIDGE" "$@" | sed -E \
        -e 's/ (duration|n_packets|n_bytes|idle_age|hard_age)=[^,]*,//g' \
        -e '/^(OFPST_FLOW|NXST_FLOW) reply/d'
}

# np_diag: what a failing test should show: the bridge's flows (with
# counters), the node's conntrack entries and the controller's problems.
np_diag() {
    np_log "--- flows on $NP_BRIDGE"
    np_ofctl dump-flows --names "$NP_BRIDGE" >&2
    np_log "--- conntrack"
    np_appctl_vswitchd dpctl/dump-conntrack >&2
    np_log "--- netpol/problems"
    np_appctl netpol/problems >&2
    local ns
    for ns in $NP_NETNS; do
        np_log "--- neighbours in $ns"
        ip -n "$ns" neigh >&2
    done
}

# --- Test API server (tests/fake-apiserver.c; its header comment documents
# the API and the /fake/ control requests) ---

NP_APISERVER=$top_builddir/tests/fake-apiserver

# np_api_start [SERVER-OPTIONS]: starts the fake API server on the node
# namespace's loopback (call np_node_start first: the controller runs
# there), requiring the bearer token in $NP_TMP/api/server-token, and
# writes $NP_TMP/kubeconfig for it, whose user reads its token from
# $NP_TMP/api/client-token (both "np-token-1" at first).  Sets NP_API_PID,
# NP_API_PORT and NP_API_URL; the server logs to $NP_TMP/log/apiserver.log.
# The np_api_* helpers use the server's control port, which needs no token
# and stays up through np_api_down and every fault.
np_api_start() {
    [ -x "$NP_APISERVER" ] \
        || { np_log "SKIP: $NP_APISERVER missing (make check builds it)"; \
             exit 77; }
    mkdir -p "$NP_TMP/api" "$NP_TMP/log"
    echo np-token-1 >"$NP_TMP/api/server-token"
    echo np-token-1 >"$NP_TMP/api/client-token"
    rm -f "$NP_TMP/api/port" "$NP_TMP/api/control-port"
    np_spawn ip netns exec "$NP_NODE_NS" "$NP_APISERVER" \
        --port-file="$NP_TMP/api/port" \
        --control-port-file="$NP_TMP/api/control-port" \
        --token-file="$NP_TMP/api/server-token" -v "$@" \
        >/dev/null 2>>"$NP_TMP/log/apiserver.log"
    NP_API_PID=$NP_LAST_PID
    np_wait_until test -s "$NP_TMP/api/port" \
        || np_fail "fake API server did not start"
    NP_API_PORT=$(cat "$NP_TMP/api/port")
    NP_API_URL=http://127.0.0.1:$NP_API_PORT
    cat >"$NP_TMP/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: $NP_API_URL
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
current-context: fake
users:
- name: fake
  user:
    tokenFile: $NP_TMP/api/client-token
KUBECONFIG
}

np_api_stop() {
    kill "$NP_API_PID" 2>/dev/null
    wait "$NP_API_PID" 2>/dev/null
}

# np_api_ctl COMMAND...: "fake-apiserver ctl" on the server's control port
# (apply FILE | delete KIND NS NAME | request METHOD PATH [FILE]).
np_api_ctl() {
    ip netns exec "$NP_NODE_NS" "$NP_APISERVER" ctl \
        --port-file="$NP_TMP/api/control-port" "$@"
}

# np_api_apply FILE: creates or replaces the objects of a JSON file (an
# object, a List or an array).
np_api_apply() { np_api_ctl apply "$1" >/dev/null; }

# np_api_apply_json: np_api_apply with the JSON on stdin.
np_api_apply_json() {
    local f
    f=$(mktemp "$NP_TMP/api/apply.XXXXXX")
    cat >"$f" && np_api_apply "$f"
    local rc=$?
    rm -f "$f"
    return $rc
}

# np_api_delete KIND NAMESPACE NAME ("-" as NAMESPACE for Namespace).
np_api_delete() { np_api_ctl delete "$1" "$2" "$3"; }

# np_api_post PATH: a POST to the control interface (/fake/...).
np_api_post() { np_api_ctl request POST "$1" >/dev/null; }

# np_api_fault MODE [COUNT]: see /fake/fault.
np_api_fault() { np_api_post "/fake/fault?mode=$1${2:+&count=$2}"; }

# np_api_down SECONDS: the server goes away for SECONDS, then comes back
# with its state.
np_api_down() { np_api_post "/fake/down?seconds=$1"; }

# np_api_state: the server's /fake/state JSON on one line.
np_api_state() { np_api_ctl request GET /fake/state; }

# np_api_count RESOURCE FIELD: a counter of /fake/state's "resources"
# (RESOURCE: namespaces, pods, networkpolicies.networking.k8s.io, ...;
# FIELD: objects, lists, watches or writes).
np_api_count() {
    np_api_state | sed -n "s/.*\"$1\":{[^}]*\"$2\":\([0-9]*\).*/\1/p"
}

# np_api_stat KEY: a top-level number of /fake/state (watchesOpen,
# requests, unauthorized, gone).
np_api_stat() {
    np_api_state | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# np_controller_start_api [CONTROLLER-OPTIONS]: np_controller_start, with
# the objects from the fake API server ($NP_TMP/kubeconfig) instead of the
# manifest directory.
np_controller_start_api() {
    NP_SOURCE="--kubeconfig=$NP_TMP/kubeconfig" np_controller_start "$@"
}

# --- Verdicts from ofproto/trace (fast enough to time a change) ---

# np_pod_addr POD-NAMESPACE POD-NAME: "OFPORT MAC IP" of a pod made by
# np_pod_add, from its CNI result and OVSDB (remembered in $NP_TMP).
np_pod_addr() {
    local f=$NP_TMP/cni-$1-$2.json cache=$NP_TMP/addr-$1-$2 host mac ip
    if [ ! -s "$cache" ]; then
        host=$(sed -n 's/.*"interfaces":\[{"name":"\([^"]*\)".*/\1/p' "$f")
        mac=$(sed -n 's/.*"mac":"\([^"]*\)","sandbox".*/\1/p' "$f")
        ip=$(sed -n 's/.*"address":"\([^"/]*\)\/.*/\1/p' "$f")
        printf '%s %s %s\n' "$(np_vsctl get Interface "$host" ofport)" \
            "$mac" "$ip" >"$cache"
    fi
    cat "$cache"
}

# np_verdict FROM TO PORT: "ok" if the bridge forwards a new TCP
# connection from pod FROM to pod TO (both NAMESPACE/NAME) on PORT, "--"
# if it drops it (ofproto/trace with conntrack state trk,new).  The
# control socket is a file, so ovs-appctl needs no "ip netns exec".
np_verdict() {
    local src dst out
    src=$(np_pod_addr "${1%%/*}" "${1#*/}")
    dst=$(np_pod_addr "${2%%/*}" "${2#*/}")
    set -- $src $dst "$3"
    local ctl=$NP_TMP/run/ovs-vswitchd.$(cat "$NP_TMP/run/ovs-vswitchd.pid")
    local flow="in_port=$1,tcp,dl_src=$2,dl_dst=$5,nw_src=$3,nw_dst=$6"
    flow="$flow,tp_src=40000,tp_dst=$7,tcp_flags=syn"
    out=$(ovs-appctl -t "$ctl.ctl" ofproto/trace "$NP_BRIDGE" "$flow" \
          --ct-next trk,new 2>&1 | grep '^Datapath actions:' | tail -n 1)
    case $out in
        *": drop") echo -- ;;
        *[0-9]) echo ok ;;
        *) echo "?" ;;
    esac
}

# np_verdicts PORT "FROM>TO ...": np_verdict of each pair (traced in
# parallel), on one line.
np_verdicts() {
    local pair i=0 pids="" line="" dir
    dir=$(mktemp -d "$NP_TMP/verdicts.XXXXXX")
    for pair in $2; do
        np_verdict "${pair%%>*}" "${pair#*>}" "$1" >"$dir/$i" &
        pids="$pids $!"
        i=$((i + 1))
    done
    wait $pids
    i=0
    for pair in $2; do
        line="$line $(cat "$dir/$i")"
        i=$((i + 1))
    done
    rm -rf "$dir"
    printf '%s\n' "${line# }"
}

# np_verdicts_wait PORT PAIRS EXPECTED SECONDS: repeats np_verdicts until
# it prints EXPECTED, for up to SECONDS (a decimal number).  Leaves the
# last verdicts in NP_VERDICTS and the time taken (until the end of the
# np_verdicts that saw EXPECTED), in milliseconds, in NP_VERDICT_MS.
np_verdicts_wait() {
    local start now limit
    start=$(date +%s%N)
    limit=$(awk "BEGIN { printf \"%d\", $4 * 1000 }")
    while :; do
        NP_VERDICTS=$(np_verdicts "$1" "$2")
        now=$(date +%s%N)
        NP_VERDICT_MS=$(( (now - start) / 1000000 ))
        [ "$NP_VERDICTS" = "$3" ] && return 0
        [ $NP_VERDICT_MS -ge "$limit" ] && return 1
        sleep 0.05
    done
}

# --- Restarting the node's daemons (tests/e2e/hitless.sh) ---

# np_daemon_kill NAME: kill -9 of the node's ovsdb-server or ovs-vswitchd
# (NAME), by the pid in its pidfile, and waits until it is gone.
np_daemon_kill() {
    local pidf=$NP_TMP/run/$1.pid pid
    pid=$(cat "$pidf" 2>/dev/null) || np_fail "no pidfile for $1"
    kill -9 "$pid" 2>/dev/null
    NP_WAIT=5 np_wait_until eval "! kill -0 $pid" \
        || np_fail "$1 ($pid) did not die"
    rm -f "$pidf"
}

# np_ovsdb_start: starts the node's ovsdb-server again on its database,
# with np_node_start's arguments.
np_ovsdb_start() {
    np_node ovsdb-server "$NP_TMP/db/conf.db" \
        --remote="punix:$NP_TMP/run/db.sock" \
        --pidfile="$NP_TMP/run/ovsdb-server.pid" --detach \
        --log-file="$NP_TMP/log/ovsdb-server.log" \
        || np_fail "ovsdb-server did not start again"
}

# np_vswitchd_start: starts the node's ovs-vswitchd again, with
# np_node_start's arguments, and gives the gateway port (re-created: with
# the userspace datapath, internal ports are taps that die with the
# daemon) its address back.
np_vswitchd_start() {
    np_node ovs-vswitchd "unix:$NP_TMP/run/db.sock" \
        --pidfile="$NP_TMP/run/ovs-vswitchd.pid" --detach \
        --log-file="$NP_TMP/log/ovs-vswitchd.log" \
        || np_fail "ovs-vswitchd did not start again"
    np_wait_until ip -n "$NP_NODE_NS" link show "$NP_GATEWAY" \
        || np_fail "ovs-vswitchd did not re-create $NP_GATEWAY"
    ip -n "$NP_NODE_NS" addr replace "$NP_GW_IP/${NP_POD_CIDR#*/}" \
        dev "$NP_GATEWAY"
    ip -n "$NP_NODE_NS" link set "$NP_GATEWAY" up
}

# np_status_get KEY: the value of "KEY: value" in netpol/status.
np_status_get() {
    np_appctl netpol/status 2>/dev/null | sed -n "s/^$1: //p" | head -n 1
}

# np_controller_synced: 0 if the controller is ready and the bridge has
# exactly its desired flows, with nothing in flight.
np_controller_synced() {
    local st
    st=$(np_appctl netpol/status 2>/dev/null) || return 1
    printf '%s\n' "$st" | grep -q '^node .*, ready$' || return 1
    printf '%s\n' "$st" | grep -q '^state: syncing$' || return 1
    printf '%s\n' "$st" | grep -q '^bundle in flight: no$' || return 1
    local want have
    want=$(printf '%s\n' "$st" | sed -n 's/^desired flows: \([0-9]*\)$/\1/p')
    have=$(printf '%s\n' "$st" | sed -n 's/^installed flows: //p')
    [ -n "$want" ] && [ "$want" = "$have" ]
}

# np_controller_spawn [CONTROLLER-OPTIONS]: starts the controller in the
# node namespace, on $NP_SOURCE (default: --manifests=$NP_TMP/manifests),
# and sets NP_CONTROLLER_PID, without waiting for anything and without
# --gateway-address (np_controller_start adds it and waits for it;
# tests/bench/bench.sh makes the gateway port itself).
np_controller_spawn() {
    # Spawned as a plain command, not through the np_node function: a
    # backgrounded function runs in a subshell whose pid ($!) is not the
    # controller's, so np_controller_stop would leave the controller running.
    np_spawn ip netns exec "$NP_NODE_NS" env \
        OVS_RUNDIR="$NP_TMP/run" OVS_DBDIR="$NP_TMP/db" \
        OVS_LOGDIR="$NP_TMP/log" OVS_SYSCONFDIR="$NP_TMP/etc" \
        "$NP_CONTROLLER" \
        --ovsdb="unix:$NP_TMP/run/db.sock" --bridge="$NP_BRIDGE" \
        --datapath-type=netdev --node-name=node1 \
        "${NP_SOURCE:---manifests=$NP_TMP/manifests}" \
        --unixctl="$NP_TMP/run/controller.ctl" \
        --log-file="$NP_TMP/log/controller.log" -vconsole:off "$@"
    NP_CONTROLLER_PID=$NP_LAST_PID
}

# --- The fake API server's small world (tests/e2e/apiserver*.sh) ---

# np_api_world_start OBJECTS [CONTROLLER-OPTIONS]: a node with the fake
# API server, the objects printed by each command of OBJECTS (a list of
# commands, each applied in turn with np_api_apply_json), the controller
# on the server (np_controller_start_api with CONTROLLER-OPTIONS) and the
# pods demo/web (10.244.0.11), demo/client (10.244.0.12) and other/client
# (10.244.0.13) attached through the CNI plugin.
np_api_world_start() {
    local objects=$1 cmd
    shift
    np_node_start
    np_api_start
    for cmd in $objects; do
        "$cmd" | np_api_apply_json || np_fail "cannot create $cmd's objects"
    done
    np_controller_start_api "$@"
    np_pod_add demo web 10.244.0.11
    np_pod_add demo client 10.244.0.12
    np_pod_add other client 10.244.0.13
}

# --- deploy/examples' pods (deploy/demo.sh, tests/e2e/seed-policies.sh) ---

# np_examples_pods DIR: sets PODS to the pods of deploy/examples (DIR) as
# NAMESPACE/NAME, CLIENTS to them and "node", and SERVERS to them as
# NAMESPACE/NAME=IP with the IPs of their manifests (DIR/pod-NS-NAME.yaml),
# as np_matrix takes them.
np_examples_pods() {
    local p
    PODS="demo/nginx demo/foo demo/bar other/foo"
    CLIENTS="$PODS node"
    SERVERS=""
    for p in $PODS; do
        SERVERS="$SERVERS $p=$(np_pod_ip_of "$1/pod-${p%/*}-${p#*/}.yaml")"
    done
}

# --- The CNI plugin without a controller (tests/e2e/cni-*.sh) ---

# np_node_start_bridge: np_node_start, then br-int made here (no
# controller), with datapath_type=netdev and one "actions=normal" flow.
np_node_start_bridge() {
    np_node_start
    np_vsctl add-br "$NP_BRIDGE" \
        -- set bridge "$NP_BRIDGE" datapath_type=netdev \
        || np_fail "cannot create $NP_BRIDGE"
    np_wait_until np_ofctl show "$NP_BRIDGE" || np_fail "$NP_BRIDGE not up"
    np_ofctl add-flow "$NP_BRIDGE" actions=normal || np_fail "add-flow"
}

# np_cni_copy: makes NP_CNI a copy of the plugin in $NP_TMP, so that a
# rebuild of the tree's binary during a long test does not disturb it.
np_cni_copy() {
    cp "$NP_CNI" "$NP_TMP/ovs-netpol-cni" || np_fail "cannot copy $NP_CNI"
    NP_CNI=$NP_TMP/ovs-netpol-cni
}

# np_host_ifname CONTAINER-ID: the host interface the plugin made for the
# container (the name it derives, read back from OVSDB).
np_host_ifname() {
    np_vsctl --bare --columns=name find Interface \
        "external_ids:\"ovs-netpol/container-id\"=$1"
}

# What an attachment can leave behind: host-local reservations of the
# np_cni_conf network, veths in the node namespace, ports on the bridge;
# np_cni_leftovers prints the three counts as IPAM/VETHS/PORTS.
np_count_ipam() {
    find "$NP_TMP/ipam/np-test" -maxdepth 1 -name '[0-9]*' 2>/dev/null \
        | wc -l
}
np_count_veths() { ip -n "$NP_NODE_NS" -o link show type veth | wc -l; }
np_count_ports() { np_vsctl list-ports "$NP_BRIDGE" | wc -l; }
np_cni_leftovers() {
    echo "$(np_count_ipam)/$(np_count_veths)/$(np_count_ports)"
}
