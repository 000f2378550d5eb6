#!/bin/bash
# End to end: the controller on one node (real OVS, userspace datapath, in a
# network namespace) lists and watches the test API server
# (tests/fake-apiserver) through a kubeconfig with a bearer token file, and
# every change made through the API changes enforcement within a second:
#   - creating, updating (PUT) and deleting a NetworkPolicy;
#   - relabelling a namespace and a pod that a policy's peers select;
#   - creating and deleting a pod on another node (its IP becomes and
#     stops being a peer in the desired flows);
#   - deleting a namespace (its pods go with it) and creating it again.
# Verdicts come from ofproto/trace (fast enough to time a change); real TCP
# connections through conntrack confirm them at the start and the end.
# Each change's latency, from the moment the API server has answered it
# until the end of the check that sees its effect, is printed against the
# target of $NP_API_LATENCY seconds (default 1) plus the time one round of
# checks takes on this machine.  A timed test must not flake on a busy
# machine, so only a change slower than $NP_API_HARD_LIMIT seconds (default
# 5, plus one round of checks) fails it; NP_API_STRICT=1 fails on the
# target itself.
#
# Exit 0: pass; 1: fail (message on stderr); 77: skipped (not root, tools
# or binaries missing).  Never touches the machine's own OVS.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apiserver-objects.sh"

np_init
LATENCY=${NP_API_LATENCY:-1}
np_api_world_start api_world
np_serve demo web 80
np_serve demo client 80

PAIRS="demo/client>demo/web other/client>demo/web demo/web>demo/client"
PAIRS="$PAIRS other/client>demo/client"

# step NAME EXPECTED COMMAND...: runs COMMAND (a change through the API) and
# requires the verdicts of $PAIRS to become EXPECTED within $LATENCY s.
step() {
    local name=$1 expected=$2
    shift 2
    "$@" || np_fail "$name: the API request failed"
    if ! np_verdicts_wait 80 "$PAIRS" "$expected" 10; then
        np_appctl k8s/status >&2
        np_fail "$name: verdicts '$NP_VERDICTS' after ${NP_VERDICT_MS} ms," \
                "expected '$expected'"
    fi
    local verdict=within
    [ "$NP_VERDICT_MS" -le "$LIMIT_MS" ] || verdict=OVER
    np_log "--- $name: '$expected' after $NP_VERDICT_MS ms" \
           "($verdict the $LIMIT_MS ms target)"
    [ "$NP_VERDICT_MS" -le "$FAIL_MS" ] \
        || np_fail "$name: took $NP_VERDICT_MS ms, more than $FAIL_MS ms"
}

# desired_step NAME [!]TEXT COMMAND...: like step, on the controller's
# desired flows containing (or, with "!", not containing) TEXT.
desired_step() {
    local name=$1 text=$2 t0 ms deadline=$FAIL_MS
    shift 2
    "$@" || np_fail "$name: the API request failed"
    t0=$(date +%s%N)
    while :; do
        if [ "${text#!}" = "$text" ]; then
            np_appctl netpol/dump-desired | grep -qF -- "$text" && break
        else
            np_appctl netpol/dump-desired | grep -qF -- "${text#!}" || break
        fi
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        [ $ms -ge "$deadline" ] \
            && np_fail "$name: desired flows still not '$text' after $ms ms"
        sleep 0.05
    done
    np_log "--- $name: after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

np_verdicts_wait 80 "$PAIRS" "ok ok ok ok" 10 \
    || np_fail "no policy: verdicts '$NP_VERDICTS', expected all ok"

# Looking takes time too: one round of traces (the slower of two) is added
# to the bound, so that a loaded machine does not fail the test.
POLL_MS=0
for i in 1 2; do
    np_verdicts_wait 80 "$PAIRS" "ok ok ok ok" 10
    [ "$NP_VERDICT_MS" -gt "$POLL_MS" ] && POLL_MS=$NP_VERDICT_MS
done
LIMIT_MS=$(awk "BEGIN { printf \"%d\", $LATENCY * 1000 + $POLL_MS }")
FAIL_MS=$(awk "BEGIN { printf \"%d\", ${NP_API_HARD_LIMIT:-5} * 1000 + $POLL_MS }")
[ "${NP_API_STRICT:-0}" = 1 ] && FAIL_MS=$LIMIT_MS
np_log "--- target: ${LATENCY} s + $POLL_MS ms for one look = $LIMIT_MS ms" \
       "(fails beyond $FAIL_MS ms)"
np_connect "$(np_pod_ns other client)" 10.244.0.11 80 \
    || np_fail "no policy: other/client cannot reach demo/web"

step "create web-ingress (from app=client of its namespace)" \
     "ok -- ok ok" np_api_apply_json < <(api_policy_same_ns)
np_connect "$(np_pod_ns demo client)" 10.244.0.11 80 \
    || np_fail "web-ingress: demo/client cannot reach demo/web"
np_refused "$(np_pod_ns other client)" 10.244.0.11 80 \
    || np_fail "web-ingress: other/client reaches demo/web"

step "update web-ingress (from app=client of team=blue namespaces)" \
     "-- -- ok ok" np_api_apply_json < <(api_policy_team_blue)
step "label namespace other team=blue" \
     "-- ok ok ok" np_api_apply_json < <(api_namespace other blue)
step "relabel other/client app=idle" \
     "-- -- ok ok" np_api_apply_json < <(api_pod other client 10.244.0.13 idle)
step "relabel other/client app=client" \
     "-- ok ok ok" \
     np_api_apply_json < <(api_pod other client 10.244.0.13 client)

desired_step "create pod other/remote on node2 (a peer)" 10.244.1.7 \
    np_api_apply_json < <(api_pod other remote 10.244.1.7 client node2)
desired_step "delete pod other/remote" '!10.244.1.7' \
    np_api_delete Pod other remote

PAIRS="demo/client>demo/web other/client>demo/web demo/web>demo/client"
step "delete namespace other (and its pods)" \
     "-- -- ok" np_api_delete Namespace - other
PAIRS="$PAIRS other/client>demo/client"
step "create namespace other and other/client again" \
     "-- ok ok ok" np_api_apply_json < <(api_namespace other blue;
                                          api_pod other client 10.244.0.13 \
                                              client)
step "delete web-ingress" "ok ok ok ok" \
     np_api_delete NetworkPolicy demo web-ingress
np_connect "$(np_pod_ns other client)" 10.244.0.11 80 \
    || np_fail "after delete: other/client cannot reach demo/web"

kill -0 "$NP_CONTROLLER_PID" 2>/dev/null || np_fail "the controller exited"
np_log "PASS"
