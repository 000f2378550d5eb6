#! /bin/sh
# Manual smoke test for controller/ofsync.c and controller/ovs-state.c
# against a throwaway OVS (ovsdb-server + ovs-vswitchd --enable-dummy),
# no root networking needed.  Not wired into "make check".
#
# Usage: tests/e2e/ofsync-smoke.sh DRIVER
#   DRIVER is a small program linked with controller/ofsync.o and
#   controller/ovs-state.o, called as "DRIVER DB BRIDGE VARIANT SECONDS
#   [N_BIG]": it creates the bridge through ovs-state, installs a fixed flow
#   set (VARIANT 0, 1 or 2; N_BIG extra flows) through ofsync and prints
#   "synced=1 bundles=B flow_mods=F" when done (SECONDS=0: exit once synced).
#   Only pids started here are killed; the machine's OVS is never touched.
set -e
DRIVER=${1:?usage: $0 DRIVER}
D=$(mktemp -d /tmp/ofsync-smoke.XXXXXX)
export OVS_RUNDIR=$D OVS_DBDIR=$D OVS_LOGDIR=$D OVS_SYSCONFDIR=$D
DB=unix:$D/db.sock
BR=br-np
fail() { echo "FAIL: $* (logs in $D)"; exit 1; }

start_db() {
    ovsdb-server --remote=punix:$D/db.sock --pidfile=$D/ovsdb-server.pid \
        --detach --log-file=$D/ovsdb-server.log $D/conf.db
}
start_vswitchd() {
    ovs-vswitchd --enable-dummy=system --disable-system \
        --pidfile=$D/ovs-vswitchd.pid --detach \
        --log-file=$D/ovs-vswitchd.log $DB
}
stop() {
    for p in ovs-vswitchd ovsdb-server; do
        if [ -f $D/$p.pid ]; then
            kill $(cat $D/$p.pid) 2>/dev/null || true
            rm -f $D/$p.pid
        fi
    done
}
trap 'stop' EXIT INT TERM

ovsdb-tool create $D/conf.db /usr/share/openvswitch/vswitch.ovsschema
start_db
ovs-vsctl --db=$DB --no-wait init
ovs-vsctl --db=$DB --no-wait set Open_vSwitch . \
    other_config:flow-restore-wait=true
start_vswitchd

ofctl() { ovs-ofctl -O OpenFlow15 --no-names "$@"; }
stats() { "$DRIVER" $DB $BR "$@" 2>&1 | tee $D/out.txt | tail -1; }
expect() {   # expect VARIANT SECONDS BUNDLES FLOW_MODS [N_BIG]
    v=$1 s=$2 b=$3 f=$4; shift 4
    line=$(stats $v $s "$@")
    echo "variant $v: $line"
    [ "$line" = "synced=1 bundles=$b flow_mods=$f" ] || {
        cat $D/out.txt; fail "expected bundles=$b flow_mods=$f"; }
}
nflows() { ofctl dump-flows $BR | grep -c 'cookie=0x[0-9a-f]\{15,16\},' || true; }

# 1. First start: the bridge is created, all flows go in one bundle.
expect 0 0 1 16
[ "$(ovs-vsctl --db=$DB get Bridge $BR fail_mode)" = secure ] || fail fail_mode
ovs-vsctl --db=$DB get Bridge $BR protocols | grep -q OpenFlow15 || fail proto
ovs-vsctl --db=$DB --columns=name list Flow_Table | grep -q np_ingress_rule \
    || fail "table names"
ovs-vsctl --db=$DB get Interface np-gw0 external_ids | \
    grep -q 'ovs-netpol/gateway"\?="true"' || fail gateway
ovs-vsctl --db=$DB get Open_vSwitch . external_ids | \
    grep -q 'ovs-netpol/ready"\?="true"' || fail ready
ovs-vsctl --db=$DB get Open_vSwitch . other_config | \
    grep -q flow-restore-wait && fail "flow-restore-wait not cleared"
[ $(nflows) = 16 ] || fail "expected 16 flows on the bridge"

# 2. A foreign flow (cookie 0) must survive everything below.
ofctl add-flow $BR "table=20,priority=5,actions=drop"

# 3. Restart with unchanged flows: the dump matches, nothing is sent.
expect 0 0 0 0

# 4. Changes: modify (conj added), delete (table 4), add (table 6),
#    cookie change (table 8: delete + add) = 5 flow_mods in one bundle.
expect 1 0 1 5
DRIVER_DUMP=$D/installed.txt expect 1 0 0 0
ofctl dump-flows $BR --no-stats | grep -v 'table=20' | \
    sed 's/^ //; s/^cookie=\([^,]*\), priority/cookie=\1, table=0, priority/' | \
    sed 's/ reset_counts//' | sort > $D/bridge.txt
sort $D/installed.txt > $D/installed.sorted
diff -u $D/installed.sorted $D/bridge.txt || fail "formats differ"
ofctl dump-flows $BR table=20 | grep -q priority=5 || fail "foreign flow gone"

# 5. A flow too big for OpenFlow is left out, the rest goes in.
stats 2 0 > /dev/null
grep -q "too big" $D/out.txt || fail "no warning for oversized flow"

# 6. A large set in one bundle, then back to the base set.
expect 0 0 1 20000 20000
expect 0 0 1 20000

# 7. ovs-vswitchd restart while running: flows are re-installed.
"$DRIVER" $DB $BR 0 6 > $D/long.txt 2>&1 &
DPID=$!
sleep 2
kill $(cat $D/ovs-vswitchd.pid); rm -f $D/ovs-vswitchd.pid
sleep 1
start_vswitchd
# 8. ovsdb-server restart while running: the IDL reconnects.
sleep 1
kill $(cat $D/ovsdb-server.pid); rm -f $D/ovsdb-server.pid
sleep 0.5
start_db
wait $DPID
tail -1 $D/long.txt
grep -q "^synced=1" $D/long.txt || { cat $D/long.txt; fail "not synced"; }
[ $(nflows) = 16 ] || fail "flows not restored after vswitchd restart"
grep -q "bundles=1 flow_mods=16$" $D/long.txt || fail "expected 1 bundle of 16"
echo PASS
rm -rf $D
