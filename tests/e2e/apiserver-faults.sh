#!/bin/bash
# End to end: the controller against a misbehaving API server
# (tests/fake-apiserver's fault injection).  The world flips between two
# states, A and B (policies, namespace labels), under each fault:
#   - every watch dropped: once cleanly (re-watch from the last
#     resourceVersion, no relist), once by resetting the connections, and
#     for a while every new watch ends at once;
#   - a forced 410 Gone, as an ERROR event in a 200 response and as a plain
#     HTTP 410 (the controller relists);
#   - the API server down for 10 s, objects deleted and added meanwhile;
#     while it is away the last known state stays enforced;
#   - garbage and truncated JSON in watch streams and in lists, and watch
#     streams cut into 1..13-byte chunks;
#   - 500 answers for a while; a stalled server (requests never answered,
#     watches silent) that comes back;
#   - 401 Unauthorized after the server's token changes, until the token
#     file the kubeconfig names changes too.
# After each, the ofproto/trace verdicts and the controller's desired flows
# (netpol/dump-desired) equal those recorded for the same state when it was
# reached without fault, and the controller is still running.  Last, 10,000
# watch events (a pod on another node deleted and created again) leave the
# controller's resident memory flat: VmRSS after 10,000 events exceeds
# VmRSS after 2,000 by less than $NP_RSS_WARM_KB (default 4096; allocator
# warm-up, measured at 1.5 MB) and VmRSS after 6,000 by less than
# $NP_RSS_SLACK_KB (default 1024; a leak of 256 bytes per event fails).
#
# Exit 0: pass; 1: fail (message on stderr); 77: skipped.  Never touches
# the machine's own OVS.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apiserver-objects.sh"

np_init
np_api_world_start "api_world api_policy_same_ns" --watch-idle-timeout=5

PAIRS="demo/client>demo/web other/client>demo/web other/client>demo/client"
PAIRS="$PAIRS demo/web>demo/client"
VERDICTS_A="ok -- ok ok"
VERDICTS_B="-- ok -- --"

# State A: web-ingress admits app=client of demo; other has no team.
apply_a() {
    { api_policy_same_ns; api_namespace other; } | np_api_apply_json \
        && np_api_delete NetworkPolicy demo client-deny
}
# State B: web-ingress admits app=client of team=blue namespaces, other is
# team=blue, and client-deny isolates demo's app=client pods.
apply_b() {
    { api_policy_team_blue; api_namespace other blue;
      api_policy_client_deny; } | np_api_apply_json
}

alive() {
    kill -0 "$NP_CONTROLLER_PID" 2>/dev/null \
        || np_fail "$1: the controller exited"
}

desired() { np_appctl netpol/dump-desired; }

# check NAME STATE: waits (up to $NP_WAIT s, default 40) for STATE's
# verdicts and desired flows.
check() {
    local name=$1 state=$2 verdicts ref
    eval "verdicts=\$VERDICTS_$state"
    ref=$NP_TMP/desired-$state
    np_verdicts_wait 80 "$PAIRS" "$verdicts" "${NP_WAIT:-40}" || {
        np_appctl k8s/status >&2
        np_fail "$name: verdicts '$NP_VERDICTS', expected '$verdicts'" \
                "(state $state)"
    }
    if [ -f "$ref" ]; then
        local i
        for i in $(seq $(( ${NP_WAIT:-40} * 5 ))); do
            desired >"$NP_TMP/desired-now"
            cmp -s "$NP_TMP/desired-now" "$ref" && break
            sleep 0.2
        done
        cmp -s "$NP_TMP/desired-now" "$ref" || {
            diff "$ref" "$NP_TMP/desired-now" | head -n 20 >&2
            np_fail "$name: desired flows differ from state $state's"
        }
    else
        sleep 1
        desired >"$ref"
    fi
    alive "$name"
    np_log "--- $name: state $state (${NP_VERDICT_MS} ms)"
}

lists() {
    echo "$(np_api_count namespaces lists)" \
         "$(np_api_count pods lists)" \
         "$(np_api_count networkpolicies.networking.k8s.io lists)"
}

# The reference flows of both states, reached without fault.
check "start" A
apply_b || np_fail "apply B"
check "no fault" B
apply_a || np_fail "apply A"
check "no fault, back" A

# Watches dropped.
before=$(lists)
watches=$(np_api_count pods watches)
np_api_post /fake/drop-watches
apply_b
check "every watch ended" B
[ "$(lists)" = "$before" ] \
    || np_fail "a dropped watch made the controller list again" \
               "(lists $before -> $(lists))"
[ "$(np_api_count pods watches)" -gt "$watches" ] \
    || np_fail "the controller did not watch pods again"
np_api_post "/fake/drop-watches?how=reset"
apply_a
check "every watch connection reset" A
np_api_fault drop-watches
apply_b
sleep 2
np_api_fault none
check "every watch ended at once for 2 s" B

# 410 Gone.
before=$(lists)
np_api_post /fake/expire
apply_a
check "410 Gone as an ERROR event" A
set -- $before
set -- "$1" "$2" "$3" $(lists)
[ "$4" -gt "$1" ] && [ "$5" -gt "$2" ] && [ "$6" -gt "$3" ] \
    || np_fail "410 Gone: the controller did not list again ($*)"
before=$(lists)
np_api_post "/fake/expire?as=http"
apply_b
check "410 Gone as HTTP status" B
set -- $before
set -- "$1" "$2" "$3" $(lists)
[ "$4" -gt "$1" ] && [ "$5" -gt "$2" ] && [ "$6" -gt "$3" ] \
    || np_fail "HTTP 410: the controller did not list again ($*)"

# The API server away for 10 s; objects deleted and added meanwhile.
np_api_down 10
sleep 1
apply_a
api_pod other tmp 10.244.1.8 client node2 | np_api_apply_json
np_api_delete Pod other tmp
sleep 3
np_verdicts_wait 80 "$PAIRS" "$VERDICTS_B" 5 \
    || np_fail "API server down: the last known state is not enforced" \
               "('$NP_VERDICTS')"
alive "API server down"
check "API server down for 10 s and back" A

# Garbage, truncated JSON, fragments.
np_api_post "/fake/inject?what=garbage"
apply_b
check "garbage lines in every watch" B
np_api_post "/fake/inject?what=truncate"
apply_a
check "half an event, then the connection closed" A
np_api_fault garbage
np_api_post /fake/drop-watches
apply_b
sleep 2
np_api_fault none
check "garbage lists and watches for 2 s" B
np_api_fault truncate
np_api_post /fake/drop-watches
apply_a
sleep 2
np_api_fault none
check "truncated lists and watches for 2 s" A
np_api_fault fragment
apply_b
check "watch events in 1..13-byte chunks" B
np_api_fault none

# 500s, then a stall.
np_api_fault http-500
np_api_post /fake/drop-watches
apply_a
sleep 3
np_api_fault none
check "500 for 3 s" A
np_api_fault stall
apply_b
sleep 2
np_verdicts_wait 80 "$PAIRS" "$VERDICTS_A" 5 \
    || np_fail "stall: changes arrived through stalled watches"
np_api_fault none
check "stalled for 2 s" B

# 401 until the token file changes.
unauth=$(np_api_stat unauthorized)
echo np-token-2 >"$NP_TMP/api/server-token"
np_api_post /fake/drop-watches
apply_a
sleep 3
[ "$(np_api_stat unauthorized)" -gt "$unauth" ] \
    || np_fail "401: the controller made no request with the old token"
np_verdicts_wait 80 "$PAIRS" "$VERDICTS_B" 5 \
    || np_fail "401: the last known state is not enforced ('$NP_VERDICTS')"
alive "401"
echo np-token-2 >"$NP_TMP/api/client-token"
check "401 until the token file changed" A

# Memory: 10,000 watch events.
api_pod other churn 10.244.1.9 client node2 | np_api_apply_json
server_rv() {
    np_api_state | sed -n 's/^{"resourceVersion":"\([0-9]*\)".*/\1/p'
}
pods_at() {
    np_appctl k8s/status | grep -q "^pods: .*resourceVersion $1\$"
}
# Waits until the controller's pod watch has reached the server's
# resourceVersion (bookmarks carry it once a second).
synced() {
    local rv
    rv=$(server_rv)
    NP_WAIT=60 np_wait_until pods_at "$rv" \
        || np_fail "memory: the controller did not reach resourceVersion $rv"
}
rss() {
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' \
        "/proc/$NP_CONTROLLER_PID/status"
}
synced
np_api_post "/fake/churn?count=2000&namespace=other&name=churn"
synced
rss1=$(rss)
np_api_post "/fake/churn?count=4000&namespace=other&name=churn"
synced
rss2=$(rss)
np_api_post "/fake/churn?count=4000&namespace=other&name=churn"
synced
rss3=$(rss)
np_log "--- memory: VmRSS $rss1 kB after 2,000 events, $rss2 kB after" \
       "6,000, $rss3 kB after 10,000"
[ -n "$rss1" ] && [ -n "$rss2" ] && [ -n "$rss3" ] \
    || np_fail "memory: no VmRSS"
[ $((rss3 - rss1)) -lt "${NP_RSS_WARM_KB:-4096}" ] \
    || np_fail "memory grew by $((rss3 - rss1)) kB over 8,000 watch events"
[ $((rss3 - rss2)) -lt "${NP_RSS_SLACK_KB:-1024}" ] \
    || np_fail "memory grew by $((rss3 - rss2)) kB over the last 4,000" \
               "watch events"
np_api_delete Pod other churn
check "after 10,000 events" A

np_log "PASS"
