#!/bin/bash
# End to end: the controller's manifest directory (--manifests,
# controller/manifest-source.c) followed file by file.  One node with real
# OVS, one local pod demo/web (through the CNI plugin) isolated by a policy
# that admits pods labelled role=client; the client pods are remote (node2),
# one or more per file.  A client pod is in the controller's object cache
# when its address is in the desired flows (netpol/dump-desired), so the
# flows show what the cache holds.
#
# Proves:
#   - a file renamed into the directory is picked up, and so is a file
#     written in place (created, then rewritten);
#   - a deleted file's objects go away, and the log says "removed";
#   - a broken file is reported (log and k8s/status, naming the file) and
#     its previous contents stay in effect; a broken new file adds nothing;
#     once fixed, the new contents count and the error is gone;
#   - an identity defined in two files: the later file (by name) counts,
#     and removing it brings the other one back;
#   - a file replaced many times in quick succession (renames, then writes
#     in place) ends with its last contents;
#   - a change that inotify does not report (a write through a hard link
#     outside the directory) is picked up by the periodic rescan;
#   - the directory itself moved away and replaced by another one: the
#     controller follows the new one, and events from it count again;
#   - after all of that, the flows equal those of a fresh start on the same
#     files.
# Changes that inotify reports must show within $NP_MANIFEST_QUICK_MS
# (default 1500) ms, less than the 2 s of the periodic rescan, so that they
# are known to come from the events, not from the rescan.
#
# Exit 0: pass; 1: fail (message on stderr); 77: skipped (not root, tools
# or binaries missing).  Never touches the machine's own OVS.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

. "$(dirname "$0")/lib.sh"

np_init
DIR=$NP_TMP/manifests
LOG=$NP_TMP/log/controller.log
QUICK_MS=${NP_MANIFEST_QUICK_MS:-1500}

# client NAME IP: a remote pod of namespace demo with role=client.
client() {
    cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: demo, labels: {role: client}}
spec: {nodeName: node2, containers: [{name: c}]}
status: {phase: Running, podIPs: [{ip: $2}]}
EOF
}

# The client addresses (10.250.0.0/16) in the desired flows, sorted, on
# one line.
client_ips() {
    np_appctl netpol/dump-desired | grep -oE '10\.250\.[0-9]+\.[0-9]+' \
        | sort -u -t. -k3,3n -k4,4n | tr '\n' ' ' | sed 's/ $//'
}
ips_are() { [ "$(client_ips)" = "$1" ]; }

# file_status NAME: the line of k8s/status for manifest file NAME.
file_status() {
    np_appctl k8s/status | sed -n "s/^  $1: //p"
}

# now_ms: wall clock, milliseconds.
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# quick STEP EXPECTED-IPS: waits until the client addresses are
# EXPECTED-IPS; fails unless they are within QUICK_MS of the call.
quick() {
    local start=$(now_ms) t
    while ! ips_are "$2"; do
        t=$(($(now_ms) - start))
        if [ $t -ge "$QUICK_MS" ]; then
            np_log "expected client addresses: $2"
            np_log "got: $(client_ips)"
            np_appctl k8s/status >&2
            np_fail "$1: not within $QUICK_MS ms"
        fi
        sleep 0.02
    done
    np_log "ok: $1 ($(($(now_ms) - start)) ms)"
}

# --- The node, the controller, the local pod and the first client. ---
np_node_start
np_manifest namespaces.yaml <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: demo}
EOF
np_manifest web.yaml <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: demo, labels: {app: web}}
spec: {nodeName: node1, containers: [{name: web}]}
status: {phase: Running, podIPs: [{ip: 10.244.0.11}]}
EOF
np_manifest policy.yaml <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-clients, namespace: demo}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{port: 80}]
EOF
client a 10.250.0.1 | np_manifest client-a.yaml
np_controller_start
np_pod_add demo web 10.244.0.11
np_wait_until ips_are "10.250.0.1" \
    || np_fail "first load: client addresses are '$(client_ips)'"
np_log "ok: first load"

# --- Renamed into place; written in place. ---
client b 10.250.0.2 | np_manifest client-b.yaml
quick "client-b.yaml renamed into place" "10.250.0.1 10.250.0.2"

client c 10.250.0.3 >"$DIR/client-c.yaml"
quick "client-c.yaml written in place" "10.250.0.1 10.250.0.2 10.250.0.3"
client c 10.250.0.33 >"$DIR/client-c.yaml"
quick "client-c.yaml rewritten in place" \
      "10.250.0.1 10.250.0.2 10.250.0.33"

# Files that are not manifests are not read.
client x 10.250.0.99 >"$DIR/client-x.txt"
client x 10.250.0.99 >"$DIR/.client-x.yaml"
sleep 0.3
ips_are "10.250.0.1 10.250.0.2 10.250.0.33" \
    || np_fail "a .txt or hidden file was read: $(client_ips)"
rm -f "$DIR/client-x.txt" "$DIR/.client-x.yaml"

# --- Deleted. ---
np_manifest_rm client-a.yaml
quick "client-a.yaml deleted" "10.250.0.2 10.250.0.33"
grep -q "/client-a\.yaml: removed" "$LOG" \
    || np_fail "no log line says client-a.yaml was removed"

# --- Broken: the previous contents stay, the error names the file. ---
np_manifest client-b.yaml <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: demo, labels: {role: client
status: [
EOF
np_wait_until eval 'file_status client-b.yaml | grep -q "; error: "' \
    || np_fail "k8s/status shows no error for client-b.yaml:
$(np_appctl k8s/status)"
file_status client-b.yaml | grep -q '^1 objects; error: ' \
    || np_fail "client-b.yaml: previous contents not kept:
$(file_status client-b.yaml)"
grep -q 'client-b\.yaml: .*keeping its previous contents' "$LOG" \
    || np_fail "no log line names client-b.yaml and keeps its contents"
ips_are "10.250.0.2 10.250.0.33" \
    || np_fail "broken client-b.yaml changed the cache: $(client_ips)"
np_log "ok: broken client-b.yaml reported, previous contents kept"

# Broken in place, as a new file: reported, nothing added.
printf 'kind: Pod\nmetadata: {name: d\n' >"$DIR/client-d.yaml"
np_wait_until eval \
    'file_status client-d.yaml | grep -q "^0 objects; error: "' \
    || np_fail "broken new client-d.yaml not reported:
$(np_appctl k8s/status)"
grep -q 'client-d\.yaml: ' "$LOG" \
    || np_fail "no log line names client-d.yaml"
np_log "ok: broken new client-d.yaml reported"

client b 10.250.0.22 | np_manifest client-b.yaml
quick "client-b.yaml fixed" "10.250.0.22 10.250.0.33"
file_status client-b.yaml | grep -q error \
    && np_fail "client-b.yaml fixed, but its error stays"
client d 10.250.0.4 >"$DIR/client-d.yaml"
quick "client-d.yaml fixed in place" "10.250.0.4 10.250.0.22 10.250.0.33"

# --- One identity in two files: the later file counts. ---
client dup 10.250.0.41 | np_manifest dup-1.yaml
quick "dup-1.yaml" "10.250.0.4 10.250.0.22 10.250.0.33 10.250.0.41"
client dup 10.250.0.42 | np_manifest dup-2.yaml
quick "dup-2.yaml overrides dup-1.yaml" \
      "10.250.0.4 10.250.0.22 10.250.0.33 10.250.0.42"
client dup 10.250.0.43 | np_manifest dup-1.yaml
sleep 0.3
ips_are "10.250.0.4 10.250.0.22 10.250.0.33 10.250.0.42" \
    || np_fail "dup-1.yaml changed, but dup-2.yaml should still count:
$(client_ips)"
np_manifest_rm dup-2.yaml
quick "dup-2.yaml deleted: dup-1.yaml counts" \
      "10.250.0.4 10.250.0.22 10.250.0.33 10.250.0.43"
np_manifest_rm dup-1.yaml
quick "dup-1.yaml deleted" "10.250.0.4 10.250.0.22 10.250.0.33"
np_manifest_rm client-d.yaml
quick "client-d.yaml deleted" "10.250.0.22 10.250.0.33"

# --- Replaced many times in quick succession. ---
for i in $(seq 1 60); do
    client e "10.250.1.$i" | np_manifest client-e.yaml
done
quick "client-e.yaml renamed into place 60 times" \
      "10.250.0.22 10.250.0.33 10.250.1.60"
# In place; a comment of growing length gives each version a size of its
# own (the stat that tells a change may keep its time within a clock tick).
for i in $(seq 1 60); do
    { printf '# %*s\n' "$i" ''; client e "10.250.2.$i"; } \
        >"$DIR/client-e.yaml"
done
quick "client-e.yaml rewritten in place 60 times" \
      "10.250.0.22 10.250.0.33 10.250.2.60"

# --- A change that inotify does not report: the periodic rescan. ---
ln "$DIR/client-c.yaml" "$NP_TMP/client-c.link" || np_fail "ln"
{ printf '# through a hard link\n'; client c 10.250.0.34; } \
    >"$NP_TMP/client-c.link"
NP_WAIT=6 np_wait_until ips_are "10.250.0.22 10.250.0.34 10.250.2.60" \
    || np_fail "change through a hard link not picked up: $(client_ips)"
rm -f "$NP_TMP/client-c.link"
np_log "ok: change through a hard link picked up by the rescan"

# --- The directory moved away and replaced. ---
mkdir "$NP_TMP/manifests.new"
cp "$DIR/namespaces.yaml" "$DIR/web.yaml" "$DIR/policy.yaml" \
    "$NP_TMP/manifests.new/"
client f 10.250.0.6 >"$NP_TMP/manifests.new/client-f.yaml"
mv "$DIR" "$NP_TMP/manifests.old"
mv "$NP_TMP/manifests.new" "$DIR"
NP_WAIT=6 np_wait_until ips_are "10.250.0.6" \
    || np_fail "replaced directory not followed: $(client_ips)"
np_log "ok: replaced directory followed"
# Its watch is back: events count again (let a rescan happen first, in
# case the new directory was found by polling).
sleep 2.5
client g 10.250.0.7 | np_manifest client-g.yaml
quick "client-g.yaml renamed into the new directory" "10.250.0.6 10.250.0.7"

# --- The same flows as a fresh start on the same files. ---
client h 10.250.0.8 | np_manifest client-h.yaml
quick "client-h.yaml" "10.250.0.6 10.250.0.7 10.250.0.8"
np_wait_until np_controller_synced || np_fail "controller not synced"
np_appctl netpol/dump-desired >"$NP_TMP/flows.running"
np_controller_stop
np_controller_start
np_wait_until np_controller_synced || np_fail "controller not synced again"
np_wait_until ips_are "10.250.0.6 10.250.0.7 10.250.0.8" \
    || np_fail "after a restart: $(client_ips)"
np_appctl netpol/dump-desired >"$NP_TMP/flows.fresh"
diff "$NP_TMP/flows.running" "$NP_TMP/flows.fresh" >&2 \
    || np_fail "flows differ from those of a fresh start"
np_log "ok: the same flows as a fresh start"

np_log "PASS: manifest directory followed file by file"
exit 0
