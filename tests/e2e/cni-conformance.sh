#!/bin/bash
# CNI conformance: drives the plugin as a runtime does (environment +
# stdin, stdout parsed as result or error JSON, exit status), with real
# network namespaces, Debian's host-local and a real OVS (userspace
# datapath) in a node namespace.  No controller: br-int is made here with
# one "actions=normal" flow, and the controller's readiness key is written
# by hand for STATUS.
#
# Covers, for CNI 1.0.0 and 1.1.0:
#   - VERSION;
#   - bad input: missing or invalid CNI_* variables (4), malformed JSON (6),
#     unknown or too old cniVersion (1), GC/STATUS under 1.0.0 (1), a
#     missing IPAM plugin (7; STATUS 50), an IPAM plugin that hangs (killed,
#     11), an interface name that is taken (4);
#   - ADD: result shape per version (MTU in 1.1.0), prevResult in a chain;
#   - CHECK: success, then failures when the address, the route, the
#     interface or the OVS port is gone or the port's external_ids differ;
#     without prevResult (7);
#   - DEL: idempotent, without netns, with prevResult;
#   - GC: removes exactly the stale attachments (ports, veths, host-local
#     reservations), leaves valid ones, foreign ports and other networks;
#   - STATUS: 50 before the controller's ready key, 0 after, 50 without the
#     bridge;
#   - OVS down: ovs-vswitchd gone (ADD fails cleanly for want of an ofport),
#     ovsdb-server gone (ADD 11, STATUS 50, DEL releases what it can);
#   - stdout never carries anything but the result or error JSON, and no
#     failed command leaves a veth, port or reservation behind.
#
# Exit 0: pass; 1: fail (message on stderr); 77: skipped.  Never touches
# the machine's own OVS.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null 2>&1 || { np_log "SKIP: jq missing"; exit 77; }

# "conf ... | cni ..." must run cni in this shell, so that it sets RC.
shopt -s lastpipe

np_init
np_cni_copy
np_node_start_bridge

NET=np-test
IPAM_DIR=$NP_TMP/ipam/$NET
OUT=$NP_TMP/stdout
ERR=$NP_TMP/stderr
STEP=

# conf VERSION [JQ-FILTER...]: the node's network configuration (lib.sh's
# np_cni_conf) in cniVersion VERSION, edited by the jq filter.
conf() {
    local v=$1
    shift
    np_cni_conf | jq -c --arg v "$v" ".cniVersion = \$v | ${1:-.}" "${@:2}"
}

# cni CMD CONTAINER-ID NETNS [NAME=VALUE | -NAME]...: runs the plugin in the
# node namespace with a clean environment, the configuration on stdin.
# NAME=VALUE sets or overrides a variable, -NAME removes it; an empty NETNS
# leaves CNI_NETNS unset.  Leaves stdout in $OUT, stderr in $ERR, the exit
# status in $RC.
cni() {
    local cmd=$1 ctr=$2 ns=$3 a k
    shift 3
    declare -A v=(
        [CNI_COMMAND]=$cmd [CNI_CONTAINERID]=$ctr [CNI_IFNAME]=eth0
        [CNI_PATH]=$NP_CNI_PATH [OVS_RUNDIR]=$NP_TMP/run
        [CNI_ARGS]="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$ctr"
    )
    [ -n "$ns" ] && v[CNI_NETNS]=/var/run/netns/$ns
    for a; do
        case $a in
            -*) unset "v[${a#-}]" ;;
            *=*) v[${a%%=*}]=${a#*=} ;;
        esac
    done
    local envs=()
    for k in "${!v[@]}"; do
        envs+=("$k=${v[$k]}")
    done
    ip netns exec "$NP_NODE_NS" env -i PATH="$PATH" "${envs[@]}" "$NP_CNI" \
        >"$OUT" 2>"$ERR"
    RC=$?
}

fail() { np_fail "[$STEP] $*; stdout: $(cat "$OUT"); stderr: $(tail -n 3 "$ERR")"; }

# stdout is empty or exactly one JSON object on one line.
stdout_clean() {
    [ ! -s "$OUT" ] && return 0
    [ "$(wc -l <"$OUT")" -eq 1 ] && jq -e 'type == "object"' "$OUT" >/dev/null
}

expect_ok_empty() {
    [ "$RC" -eq 0 ] || fail "expected success, rc $RC"
    [ ! -s "$OUT" ] || fail "expected no output"
}

expect_ok_json() {
    [ "$RC" -eq 0 ] || fail "expected success, rc $RC"
    stdout_clean && [ -s "$OUT" ] || fail "expected one JSON object on stdout"
}

# expect_error CODE TEXT [CNI-VERSION]: the spec's error JSON with CODE, a
# message containing TEXT and the given cniVersion.
expect_error() {
    [ "$RC" -ne 0 ] || fail "expected error $1, got success"
    stdout_clean || fail "stdout is not one JSON object"
    [ "$(jq -r .code "$OUT")" = "$1" ] || fail "expected code $1"
    jq -r .msg "$OUT" | grep -qF -- "$2" || fail "expected \"$2\" in msg"
    if [ -n "${3:-}" ]; then
        [ "$(jq -r .cniVersion "$OUT")" = "$3" ] || fail "cniVersion"
    fi
}

# What attachments can leave behind, as lists for exact comparisons.
list_ipam() {
    for f in "$IPAM_DIR"/*; do
        case ${f##*/} in
            [0-9]*) head -n 1 "$f" | tr -d '\r' ;;
        esac
    done | sort
}
list_veths() {
    ip -n "$NP_NODE_NS" -o link show type veth \
        | sed -n 's/^[0-9]*: \([^@:]*\).*/\1/p' | sort
}
list_ports() { np_vsctl list-ports "$NP_BRIDGE" | sort; }

pod_netns() {
    np_netns_add "$NP_PREFIX-$1"
}

# --- VERSION -----------------------------------------------------------------
STEP=version
echo -n | cni VERSION "" ""
expect_ok_json
[ "$(cat "$OUT")" = '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}' ] \
    || fail "VERSION with empty stdin"
echo '{"cniVersion":"1.0.0"}' | cni VERSION "" ""
[ "$(jq -c .supportedVersions "$OUT")" = '["1.0.0","1.1.0"]' ] \
    && [ "$(jq -r .cniVersion "$OUT")" = 1.0.0 ] || fail "VERSION 1.0.0"
echo '{"cniVersion":' | cni VERSION "" ""
expect_error 6 decode

# --- bad environment ----------------------------------------------------------
STEP=env
pod_netns x
NS_X=$NP_PREFIX-x
for var in CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH; do
    conf 1.0.0 | cni ADD ctr-x "$NS_X" "-$var"
    expect_error 4 "$var" 1.0.0
done
conf 1.1.0 | cni DEL ctr-x "$NS_X" -CNI_IFNAME
expect_error 4 CNI_IFNAME 1.1.0
conf 1.1.0 | cni GC "" "" -CNI_PATH
expect_error 4 CNI_PATH
conf 1.0.0 | cni ADD ctr-x "$NS_X" -CNI_COMMAND
expect_error 4 CNI_COMMAND
conf 1.0.0 | cni BOGUS ctr-x "$NS_X"
expect_error 4 "unknown CNI_COMMAND"
conf 1.0.0 | cni ADD ctr-x "$NS_X" CNI_IFNAME=eth0/1
expect_error 4 CNI_IFNAME
conf 1.0.0 | cni ADD ctr-x "$NS_X" CNI_IFNAME=abcdefghijklmnop
expect_error 4 CNI_IFNAME
conf 1.0.0 | cni ADD -bad-id "$NS_X"
expect_error 4 CNI_CONTAINERID
conf 1.0.0 | cni ADD ctr-x "$NP_PREFIX-nonexistent"
expect_error 4 CNI_NETNS
conf 1.0.0 | cni ADD ctr-x "$NS_X" "CNI_ARGS=IgnoreUnknown=1;garbage"
expect_error 4 CNI_ARGS

# --- bad configuration ----------------------------------------------------------
STEP=config
echo '{"cniVersion":"1.0.0","name":' | cni ADD ctr-x "$NS_X"
expect_error 6 decode
echo -n | cni ADD ctr-x "$NS_X"
expect_error 6 decode
echo '[1,2]' | cni ADD ctr-x "$NS_X"
expect_error 6 "not a JSON object"
for v in 9.9.9 0.4.0 0.3.1; do
    for cmd in ADD DEL CHECK; do
        conf "$v" | cni "$cmd" ctr-x "$NS_X"
        expect_error 1 incompatible "$v"
    done
done
for cmd in GC STATUS; do
    conf 1.0.0 | cni "$cmd" "" ""
    expect_error 1 "does not allow $cmd" 1.0.0
done
conf 1.0.0 'del(.name)' | cni ADD ctr-x "$NS_X"
expect_error 7 name
conf 1.0.0 '.mtu = 10' | cni ADD ctr-x "$NS_X"
expect_error 7 mtu
conf 1.0.0 'del(.ipam)' | cni ADD ctr-x "$NS_X"
expect_error 7 ipam
conf 1.0.0 '.ipam.type = "no-such-ipam"' | cni ADD ctr-x "$NS_X"
expect_error 7 no-such-ipam
conf 1.1.0 '.ipam.type = "no-such-ipam"' | cni STATUS "" ""
expect_error 50 no-such-ipam 1.1.0
conf 1.0.0 '.bridge = "br-missing"' | cni ADD ctr-x "$NS_X"
expect_error 11 br-missing
conf 1.0.0 ".ovsdb = \"unix:$NP_TMP/nodb.sock\"" | cni ADD ctr-x "$NS_X"
expect_error 11 "OVS database"
# host-local's own error, passed on with its code and context.
conf 1.0.0 | cni ADD ctr-x "$NS_X" "CNI_ARGS=IgnoreUnknown=1;IP=10.9.9.9"
expect_error 999 "IPAM plugin host-local ADD failed: "
[ "$(np_cni_leftovers)" = 0/0/0 ] \
    || fail "leftovers after bad input: $(np_cni_leftovers)"

# --- an IPAM plugin that hangs is killed -----------------------------------------
STEP=ipam-timeout
mkdir -p "$NP_TMP/fakecni"
cat >"$NP_TMP/fakecni/slow-ipam" <<EOF
#!/bin/sh
echo \$\$ >>"$NP_TMP/slow.pids"
sleep 60 &
echo \$! >>"$NP_TMP/slow.pids"
wait
EOF
chmod +x "$NP_TMP/fakecni/slow-ipam"
t0=$(date +%s%N)
conf 1.0.0 '.ipam.type = "slow-ipam" | .ipamTimeoutMs = 400' \
    | cni ADD ctr-x "$NS_X" "CNI_PATH=$NP_TMP/fakecni:$NP_CNI_PATH"
t1=$(date +%s%N)
expect_error 11 "IPAM plugin slow-ipam ADD did not finish within 400 ms"
[ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || fail "took $(( (t1 - t0) / 1000000 )) ms"
# The ADD and the rollback's DEL: two delegates, each with its child.
[ "$(wc -l <"$NP_TMP/slow.pids")" -eq 4 ] || fail "delegate ran $(cat "$NP_TMP/slow.pids")"
# (Killed children of a killed parent may linger as zombies until init
# reaps them: allow a moment.)
for pid in $(cat "$NP_TMP/slow.pids"); do
    NP_WAIT=3 np_wait_until sh -c "! kill -0 $pid" \
        || fail "delegate process $pid survived: $(ps -o pid,stat,args -p "$pid")"
done
[ "$(np_cni_leftovers)" = 0/0/0 ] \
    || fail "leftovers after the timeout: $(np_cni_leftovers)"

# --- ADD, CHECK, DEL in 1.0.0 and 1.1.0 -------------------------------------------
for V in 1.0.0 1.1.0; do
    STEP="add $V"
    pod_netns "a$V"
    NS=$NP_PREFIX-a$V
    CTR=ctr-a${V//./}
    conf "$V" '.mtu = 1400' | cni ADD "$CTR" "$NS"
    expect_ok_json
    RES=$(cat "$OUT")
    HOST=$(np_host_ifname "$CTR")
    jq -e --arg v "$V" --arg ns "/var/run/netns/$NS" --arg host "$HOST" '
        .cniVersion == $v
        and (.interfaces | length) == 2
        and .interfaces[0].name == $host and (.interfaces[0] | has("sandbox") | not)
        and .interfaces[1].name == "eth0" and .interfaces[1].sandbox == $ns
        and (.interfaces[1].mac | test("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"))
        and (.ips | length) == 1 and .ips[0].interface == 1
        and (.ips[0].address | test("^10\\.244\\.0\\.[0-9]+/24$"))
        and .ips[0].gateway == "10.244.0.1"
        and (.routes | map(.dst) | index("0.0.0.0/0")) != null
        and (.dns | type) == "object"
        and (if $v == "1.1.0" then .interfaces[1].mtu == 1400
             else (.interfaces[1] | has("mtu") | not) end)' \
        <<<"$RES" >/dev/null || fail "bad ADD result: $RES"
    [ "$(jq -r '.interfaces[1].mac' <<<"$RES")" = \
      "$(ip -n "$NS" -o link show eth0 | sed 's/.*link\/ether \([0-9a-f:]*\).*/\1/')" ] \
        || fail "MAC in the result differs from eth0's"
    ip -n "$NS" route show default | grep -q 'via 10.244.0.1 dev eth0' \
        || fail "no default route via the gateway"
    ip -n "$NS" -o link show eth0 | grep -q 'mtu 1400 ' || fail "pod MTU"
    [ "$(np_vsctl get Interface "$HOST" external_ids:\"ovs-netpol/network\" | tr -d '"')" = "$NET" ] \
        || fail "network external_id"

    # A second ADD of the same interface: the spec says fail.
    STEP="add twice $V"
    before=$(np_cni_leftovers)
    conf "$V" '.mtu = 1400' | cni ADD "$CTR-2" "$NS"
    expect_error 4 "already exists" "$V"
    [ "$(np_cni_leftovers)" = "$before" ] \
        || fail "leftovers: $(np_cni_leftovers) != $before"

    STEP="check $V"
    checkconf() { conf "$V" '.mtu = 1400 | .prevResult = $r' --argjson r "$RES"; }
    checkconf | cni CHECK "$CTR" "$NS"
    expect_ok_empty
    conf "$V" '.mtu = 1400' | cni CHECK "$CTR" "$NS"
    expect_error 7 prevResult "$V"
    # prevResult of another sandbox.
    checkconf | cni CHECK "$CTR" "$NS_X"
    expect_error 999 "prevResult has no interface eth0"

    ADDR=$(jq -r '.ips[0].address' <<<"$RES")
    ip -n "$NS" addr del "$ADDR" dev eth0
    checkconf | cni CHECK "$CTR" "$NS"
    expect_error 999 "address $ADDR is missing" "$V"
    ip -n "$NS" addr add "$ADDR" dev eth0
    ip -n "$NS" route replace default via 10.244.0.1 dev eth0
    checkconf | cni CHECK "$CTR" "$NS"
    expect_ok_empty

    ip -n "$NS" route del default
    checkconf | cni CHECK "$CTR" "$NS"
    expect_error 999 "route to 0.0.0.0/0" "$V"
    ip -n "$NS" route add default via 10.244.0.1 dev eth0
    checkconf | cni CHECK "$CTR" "$NS"
    expect_ok_empty

    ip -n "$NS" link set eth0 down
    checkconf | cni CHECK "$CTR" "$NS"
    expect_error 999 "interface eth0 is down"
    ip -n "$NS" link set eth0 up
    ip -n "$NS" route replace default via 10.244.0.1 dev eth0

    # The port gone from OVS (and back, as ovs-vsctl would put it back).
    EXT=$(np_vsctl get Interface "$HOST" external_ids)
    np_vsctl del-port "$NP_BRIDGE" "$HOST"
    checkconf | cni CHECK "$CTR" "$NS"
    expect_error 999 "OVS port $HOST is missing" "$V"
    np_vsctl add-port "$NP_BRIDGE" "$HOST" -- set Interface "$HOST" \
        "external_ids=$EXT"
    np_wait_until sh -c "[ \"\$(ip netns exec $NP_NODE_NS ovs-vsctl --db=unix:$NP_TMP/run/db.sock get Interface $HOST ofport)\" -ge 1 ]" \
        || fail "port not back"
    checkconf | cni CHECK "$CTR" "$NS"
    expect_ok_empty

    # The port's external_ids disagree with prevResult.
    np_vsctl set Interface "$HOST" 'external_ids:"ovs-netpol/ips"="10.9.9.9"'
    checkconf | cni CHECK "$CTR" "$NS"
    expect_error 999 "OVS port $HOST has addresses \"10.9.9.9\""
    np_vsctl set Interface "$HOST" "external_ids=$EXT"
    checkconf | cni CHECK "$CTR" "$NS"
    expect_ok_empty

    eval "RES_${V//./}=\$RES"
    RES_A=$RES
done

# The two pods reach each other through br-int.
STEP=tcp
np_spawn ip netns exec "$NP_PREFIX-a1.1.0" socat TCP-LISTEN:8080,fork,reuseaddr \
    "SYSTEM:echo a110" 2>/dev/null
IP110=$(jq -r '.ips[0].address' <<<"$RES_A")
np_wait_until np_connect "$NP_PREFIX-a1.0.0" "${IP110%/*}" 8080 \
    || fail "pods cannot talk"

# --- ADD in a chain: prevResult is passed on ---------------------------------
STEP=chain
pod_netns chain
NS_CH=$NP_PREFIX-chain
PREV='{"cniVersion":"1.1.0","interfaces":[{"name":"lo","mac":"00:00:00:00:00:00","sandbox":"/var/run/netns/'$NS_CH'"}],"ips":[{"address":"127.0.0.1/8","interface":0}],"dns":{"domain":"cluster.local"}}'
conf 1.1.0 '.prevResult = $p' --argjson p "$PREV" | cni ADD ctr-chain "$NS_CH"
expect_ok_json
RES_CH=$(cat "$OUT")
jq -e '(.interfaces | map(.name)) == ["lo", .interfaces[1].name, "eth0"]
       and .ips[0].address == "127.0.0.1/8" and .ips[0].interface == 0
       and .ips[1].interface == 2 and .dns.domain == "cluster.local"' \
    <<<"$RES_CH" >/dev/null || fail "chained result: $RES_CH"
conf 1.1.0 '.prevResult = $p' --argjson p "$RES_CH" | cni CHECK ctr-chain "$NS_CH"
expect_ok_empty
# DEL with prevResult, twice.
for i in 1 2; do
    conf 1.1.0 '.prevResult = $p' --argjson p "$RES_CH" | cni DEL ctr-chain "$NS_CH"
    expect_ok_empty
done
[ -z "$(np_host_ifname ctr-chain)" ] || fail "DEL left the port"
ip -n "$NS_CH" link show eth0 >/dev/null 2>&1 && fail "DEL left eth0"

# --- DEL without netns ------------------------------------------------------------
STEP=del-no-netns
pod_netns gone
conf 1.0.0 | cni ADD ctr-gone "$NP_PREFIX-gone"
expect_ok_json
before=$(np_count_ipam)
ip netns del "$NP_PREFIX-gone"
for i in 1 2; do
    conf 1.0.0 | cni DEL ctr-gone "$NP_PREFIX-gone"
    expect_ok_empty
    conf 1.0.0 | cni DEL ctr-gone ""
    expect_ok_empty
done
[ "$(np_count_ipam)" -eq $((before - 1)) ] || fail "IP not released"
[ -z "$(np_host_ifname ctr-gone)" ] || fail "port left"

# --- GC ------------------------------------------------------------------------------
STEP=gc
# b: stale attachment (port, veth, reservation).
pod_netns b
conf 1.1.0 | cni ADD ctr-b "$NP_PREFIX-b"
expect_ok_json
HOST_B=$(np_host_ifname ctr-b)
# d: a reservation without anything else (an ADD that died after IPAM).
pod_netns d
conf 1.0.0 | ip netns exec "$NP_NODE_NS" env CNI_COMMAND=ADD \
    CNI_CONTAINERID=ctr-d CNI_IFNAME=eth0 CNI_NETNS=/var/run/netns/$NP_PREFIX-d \
    CNI_PATH=$NP_CNI_PATH "$NP_CNI_PATH/host-local" >/dev/null \
    || fail "host-local ADD for d"
# e: a veth and a reservation whose port is gone.
pod_netns e
conf 1.1.0 | cni ADD ctr-e "$NP_PREFIX-e"
expect_ok_json
HOST_E=$(np_host_ifname ctr-e)
np_vsctl del-port "$NP_BRIDGE" "$HOST_E"
# Not ours: a port without our external_ids on our bridge ...
np_vsctl add-port "$NP_BRIDGE" foreign0 -- set Interface foreign0 type=internal
# ... and an attachment of another network on another bridge.
np_vsctl add-br br-other -- set bridge br-other datapath_type=netdev
pod_netns f
conf 1.1.0 '.name = "np-other" | .bridge = "br-other" | .ipam.subnet = "10.245.0.0/24" | .ipam.gateway = "10.245.0.1"' \
    | cni ADD ctr-f "$NP_PREFIX-f"
expect_ok_json
HOST_F=$(np_host_ifname ctr-f)

VALID='[{"containerID":"ctr-a100","ifname":"eth0"},{"containerID":"ctr-a110","ifname":"eth0"}]'
ports_before=$(list_ports)
veths_before=$(list_veths)
ipam_before=$(list_ipam)
[ "$ipam_before" = "$(printf '%s\n' ctr-a100 ctr-a110 ctr-b ctr-d ctr-e | sort)" ] \
    || fail "unexpected reservations before GC: $ipam_before"

conf 1.1.0 '.["cni.dev/valid-attachments"] = $va' --argjson va "$VALID" | cni GC "" ""
expect_ok_empty
[ "$(list_ports)" = "$(printf '%s\n' "$ports_before" | grep -vx "$HOST_B")" ] \
    || fail "ports after GC: $(list_ports | tr '\n' ' ')"
[ "$(list_veths)" = "$(printf '%s\n' "$veths_before" | grep -vx "$HOST_B" | grep -vx "$HOST_E")" ] \
    || fail "veths after GC: $(list_veths | tr '\n' ' ')"
[ "$(list_ipam)" = "$(printf '%s\n' ctr-a100 ctr-a110)" ] \
    || fail "reservations after GC: $(list_ipam | tr '\n' ' ')"
np_vsctl list-ports br-other | grep -qx "$HOST_F" || fail "GC removed another network's port"
ip -n "$NP_NODE_NS" link show "$HOST_F" >/dev/null 2>&1 || fail "GC removed another network's veth"
[ -n "$(ls "$NP_TMP/ipam/np-other" | grep '^10\.')" ] || fail "GC removed another network's IP"
# The valid attachments still pass CHECK.
for V in 1.0.0 1.1.0; do
    eval "RES=\$RES_${V//./}"
    conf "$V" '.mtu = 1400 | .prevResult = $r' --argjson r "$RES" \
        | cni CHECK "ctr-a${V//./}" "$NP_PREFIX-a$V"
    expect_ok_empty
done
# Again, with the older key and containerID-only entries: nothing to do.
state=$(np_cni_leftovers)
conf 1.1.0 '.["cni.dev/attachments"] = [{"containerID":"ctr-a100"},{"containerID":"ctr-a110"}]' \
    | cni GC "" ""
expect_ok_empty
[ "$(np_cni_leftovers)" = "$state" ] \
    || fail "second GC changed $state to $(np_cni_leftovers)"
conf 1.1.0 | cni GC "" ""
expect_error 7 valid-attachments 1.1.0
# Clean up f the ordinary way.
conf 1.1.0 '.name = "np-other" | .bridge = "br-other"' | cni DEL ctr-f "$NP_PREFIX-f"
expect_ok_empty

# --- STATUS ----------------------------------------------------------------------------
STEP=status
conf 1.1.0 | cni STATUS "" ""
expect_error 50 "initial sync" 1.1.0
np_vsctl set Open_vSwitch . external_ids:ovs-netpol/ready=true
conf 1.1.0 | cni STATUS "" ""
expect_ok_empty
conf 1.1.0 '.bridge = "br-missing"' | cni STATUS "" ""
expect_error 50 br-missing
np_vsctl set Open_vSwitch . external_ids:ovs-netpol/ready=false
conf 1.1.0 | cni STATUS "" ""
expect_error 50 "initial sync"
np_vsctl set Open_vSwitch . external_ids:ovs-netpol/ready=true

# --- ovs-vswitchd down: no ofport, ADD fails cleanly ------------------------------------
STEP=no-vswitchd
VSWITCHD_PID=$(cat "$NP_TMP/run/ovs-vswitchd.pid")
kill "$VSWITCHD_PID"
NP_WAIT=5 np_wait_until sh -c "! kill -0 $VSWITCHD_PID" || fail "vswitchd still up"
pod_netns g
before=$(np_cni_leftovers)
conf 1.0.0 '.ofportTimeoutMs = 700' | cni ADD ctr-g "$NP_PREFIX-g"
expect_error 11 "assigned no OpenFlow port number"
[ "$(np_cni_leftovers)" = "$before" ] \
    || fail "leftovers: $(np_cni_leftovers) != $before"
ip -n "$NP_PREFIX-g" link show eth0 >/dev/null 2>&1 && fail "eth0 left in g"
np_node ovs-vswitchd "unix:$NP_TMP/run/db.sock" \
    --pidfile="$NP_TMP/run/ovs-vswitchd.pid" --detach \
    --log-file="$NP_TMP/log/ovs-vswitchd.log" || fail "vswitchd restart"
np_wait_until np_ofctl show "$NP_BRIDGE" || fail "$NP_BRIDGE not back"
np_ofctl add-flow "$NP_BRIDGE" actions=normal || fail "add-flow"
conf 1.0.0 | cni ADD ctr-g "$NP_PREFIX-g"
expect_ok_json
HOST_G=$(np_host_ifname ctr-g)

# --- ovsdb-server down ---------------------------------------------------------------------
STEP=no-ovsdb
OVSDB_PID=$(cat "$NP_TMP/run/ovsdb-server.pid")
kill "$OVSDB_PID"
NP_WAIT=5 np_wait_until sh -c "! kill -0 $OVSDB_PID" || fail "ovsdb-server still up"
conf 1.0.0 | cni ADD ctr-h "$NP_PREFIX-x"
expect_error 11 "OVS database"
conf 1.1.0 | cni STATUS "" ""
expect_error 50 "OVS database" 1.1.0
# DEL cannot remove the port, but releases the veth and the address, and
# says "try again".
ipam_before=$(np_count_ipam)
[ -n "$HOST_G" ] || fail "cannot find g's veth"
conf 1.0.0 | cni DEL ctr-g "$NP_PREFIX-g"
expect_error 11 "OVS database"
[ "$(np_count_ipam)" -eq $((ipam_before - 1)) ] || fail "DEL kept the IP"
ip -n "$NP_NODE_NS" link show "$HOST_G" >/dev/null 2>&1 && fail "DEL kept the veth"
# With OVSDB back, the runtime's retry finishes the job.
np_node ovsdb-server "$NP_TMP/db/conf.db" --remote="punix:$NP_TMP/run/db.sock" \
    --pidfile="$NP_TMP/run/ovsdb-server.pid" --detach \
    --log-file="$NP_TMP/log/ovsdb-server.log" || fail "ovsdb-server restart"
np_wait_until np_vsctl show || fail "ovsdb-server not back"
conf 1.0.0 | cni DEL ctr-g "$NP_PREFIX-g"
expect_ok_empty
[ -z "$(np_host_ifname ctr-g)" ] || fail "port of g left"

# --- DEL everything: nothing left -------------------------------------------------------------
STEP=final
for V in 1.0.0 1.1.0; do
    conf "$V" | cni DEL "ctr-a${V//./}" "$NP_PREFIX-a$V"
    expect_ok_empty
done
np_vsctl del-port "$NP_BRIDGE" foreign0
[ "$(np_cni_leftovers)" = 0/0/0 ] \
    || fail "leftovers at the end: $(np_cni_leftovers)"

np_log "PASS: cni-conformance"
