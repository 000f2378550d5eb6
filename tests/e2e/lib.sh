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

# Polls "$@" every 0.1 s for up to $NP_WAIT seconds (default 10).
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
    # Spawned as a plain command, not through the np_node function: a
    # backgrounded function runs in a subshell whose pid ($!) is not the
    # controller's, so np_controller_stop would leave the controller running.
    np_spawn ip netns exec "$NP_NODE_NS" env \
        OVS_RUNDIR="$NP_TMP/run" OVS_DBDIR="$NP_TMP/db" \
        OVS_LOGDIR="$NP_TMP/log" OVS_SYSCONFDIR="$NP_TMP/etc" \
        "$NP_CONTROLLER" \
        --ovsdb="unix:$NP_TMP/run/db.sock" --bridge="$NP_BRIDGE" \
        --datapath-type=netdev --node-name=node1 \
        --manifests="$NP_TMP/manifests" \
        --unixctl="$NP_TMP/run/controller.ctl" \
        --log-file="$NP_TMP/log/controller.log" -vconsole:off "$@"
    NP_CONTROLLER_PID=$NP_LAST_PID
    np_wait_until ip -n "$NP_NODE_NS" link show "$NP_GATEWAY" \
        || np_fail "controller did not create $NP_GATEWAY"
    ip -n "$NP_NODE_NS" addr replace "$NP_GW_IP/${NP_POD_CIDR#*/}" \
        dev "$NP_GATEWAY"
    ip -n "$NP_NODE_NS" link set "$NP_GATEWAY" up
}

np_controller_stop() {
    kill "$NP_CONTROLLER_PID" 2>/dev/null
    wait "$NP_CONTROLLER_PID" 2>/dev/null
}

np_appctl() {
    np_node ovs-appctl -t "$NP_TMP/run/controller.ctl" "$@"
}

# The CNI network configuration for pods of this node.
np_cni_conf() {
    cat <<CONF
{"cniVersion":"1.0.0","name":"np-test","type":"ovs-netpol-cni",
 "bridge":"$NP_BRIDGE","ovsdb":"unix:$NP_TMP/run/db.sock",
 "ipam":{"type":"host-local","subnet":"$NP_POD_CIDR",
         "gateway":"$NP_GW_IP","dataDir":"$NP_TMP/ipam",
         "routes":[{"dst":"0.0.0.0/0"}]}}
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
    out=$(ip netns exec "$1" timeout 3 socat -T2 - \
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
            (np_connect "$ns" "${s#*=}" "$port" && echo ok || echo --) \
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
# until its output equals EXPECTED (same format), for up to $NP_WAIT seconds
# (default 10).  Leaves the last matrix in NP_MATRIX.
np_matrix_wait() {
    local deadline=$((SECONDS + ${NP_WAIT:-10}))
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
