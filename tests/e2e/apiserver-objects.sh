# Objects of tests/e2e/apiserver.sh and apiserver-faults.sh, as JSON on
# stdout (the fake API server takes JSON only).  Every object has a fixed
# uid, so that one that is deleted and created again compiles to the same
# flows (conjunction ids and cookies derive from uids).

# uid PREFIX KEY: a fixed uid for KEY.
uid() {
    printf '%s-0000-4000-8000-%012x\n' "$1" \
        "$(cksum <<<"$2" | cut -d' ' -f1)"
}

# api_namespace NAME [TEAM]
api_namespace() {
    local team=${2:+,\"team\":\"$2\"}
    cat <<JSON
{"apiVersion":"v1","kind":"Namespace",
 "metadata":{"name":"$1","uid":"$(uid 0e5a0000 "$1")",
  "labels":{"kubernetes.io/metadata.name":"$1"$team}}}
JSON
}

# api_pod NAMESPACE NAME IP APP [NODE]
api_pod() {
    cat <<JSON
{"apiVersion":"v1","kind":"Pod",
 "metadata":{"name":"$2","namespace":"$1",
  "uid":"$(uid 0e5b0000 "$1/$2")", "labels":{"app":"$4"}},
 "spec":{"nodeName":"${5:-node1}",
  "containers":[{"name":"c","image":"x",
                 "ports":[{"name":"http","containerPort":80}]}]},
 "status":{"phase":"Running","podIP":"$3","podIPs":[{"ip":"$3"}]}}
JSON
}

# The pods of both tests and their namespaces (demo unlabelled, other
# without a team).
api_world() {
    echo '{"kind":"List","apiVersion":"v1","items":['
    api_namespace demo; echo ,
    api_namespace other; echo ,
    api_pod demo web 10.244.0.11 web; echo ,
    api_pod demo client 10.244.0.12 client; echo ,
    api_pod other client 10.244.0.13 client
    echo ']}'
}

# web-ingress: app=web of demo admits app=client of its own namespace.
api_policy_same_ns() {
    cat <<'JSON'
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
 "metadata":{"name":"web-ingress","namespace":"demo",
  "uid":"0e5c0000-0000-4000-8000-000000000001"},
 "spec":{"podSelector":{"matchLabels":{"app":"web"}},
  "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"client"}}}]}]}}
JSON
}

# web-ingress, updated: app=client of namespaces labelled team=blue.
api_policy_team_blue() {
    cat <<'JSON'
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
 "metadata":{"name":"web-ingress","namespace":"demo",
  "uid":"0e5c0000-0000-4000-8000-000000000001"},
 "spec":{"podSelector":{"matchLabels":{"app":"web"}},
  "ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"blue"}},
                       "podSelector":{"matchLabels":{"app":"client"}}}]}]}}
JSON
}

# client-deny: app=client of demo admits nothing.
api_policy_client_deny() {
    cat <<'JSON'
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
 "metadata":{"name":"client-deny","namespace":"demo",
  "uid":"0e5c0000-0000-4000-8000-000000000002"},
 "spec":{"podSelector":{"matchLabels":{"app":"client"}},
  "policyTypes":["Ingress"]}}
JSON
}
