#!/usr/bin/env bash
# `make run-cluster`: two Envoy "replicas" (127.0.0.1:10000 and :10001, admin
# :9901 and :9902) in front of one upstream (the Mcp Afip test double on
# 127.0.0.1:3000), sharing the project's rate-limit service (mcp-policy-rls,
# gRPC 127.0.0.1:8081, HTTP :8080) and its Redis (127.0.0.1:6380), with every
# limit counted by the service. Ctrl-C stops them all.
# Overrides, as `make run`: POLICY=file, UPSTREAM=host:port, ENVOY_CONCURRENCY=N.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CONCURRENCY="${ENVOY_CONCURRENCY:-1}"
UPSTREAM_ADDR="${UPSTREAM:-127.0.0.1:3000}"
REDIS_PORT=6380
RLS_GRPC=127.0.0.1:8081
RLS_HTTP=127.0.0.1:8080
RLS="$ROOT/rls/target/release/mcp-policy-rls"

for port in 10000 10001 9901 9902 8081 8080 "$REDIS_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port is taken: stop whatever listens there (make run?) first" >&2
        exit 1
    fi
done

mkdir -p .build/cluster/redis
# The same demo secrets as `make run`: both replicas must seal sessions and
# hash counters with the same keys to count a session as one.
# shellcheck source=scripts/demo-secrets.sh
. "$ROOT/scripts/demo-secrets.sh"

for replica in 1 2; do
    render_args=(--listen-port $((9999 + replica)) --admin-port $((9900 + replica))
                 --upstream "$UPSTREAM_ADDR" --rls "$RLS_GRPC" --cluster --out ".build/cluster/envoy-$replica.yaml")
    [ -n "${POLICY:-}" ] && render_args+=(--policy "$POLICY")
    if [ "$replica" = 1 ]; then
        .venv/bin/python scripts/render_envoy.py "${render_args[@]}"
    else
        .venv/bin/python scripts/render_envoy.py "${render_args[@]}" 2>/dev/null
    fi
done

pids=()
cleanup() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "stopped"
}
trap cleanup INT TERM EXIT

wait_for() {  # what, url, pid
    for _ in $(seq 1 150); do
        curl -fsS "$2" >/dev/null 2>&1 && return 0
        if ! kill -0 "$3" 2>/dev/null; then
            echo "$1 failed to start; see its log under .build/cluster/" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "$1 did not become ready; see its log under .build/cluster/" >&2
    exit 1
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --maxmemory 256mb --maxmemory-policy noeviction --dir .build/cluster/redis \
    >.build/cluster/redis.log 2>&1 &
pids+=($!)
"$RLS" --grpc-addr "$RLS_GRPC" --http-addr "$RLS_HTTP" --redis-url "redis://127.0.0.1:$REDIS_PORT" \
    >.build/cluster/rls.log 2>&1 &
pids+=($!)
wait_for "mcp-policy-rls" "http://$RLS_HTTP/readyz" "${pids[-1]}"

if [ -z "${UPSTREAM:-}" ]; then
    AFIP_DOUBLE_HOST=127.0.0.1 AFIP_DOUBLE_PORT=3000 node tests/upstream/afip-double/server.mjs \
        >.build/cluster/double.log 2>&1 &
    pids+=($!)
    wait_for "the afip-double" "http://127.0.0.1:3000/health" "${pids[-1]}"
fi

for replica in 1 2; do
    .venv/bin/envoy -c ".build/cluster/envoy-$replica.yaml" --concurrency "$CONCURRENCY" --disable-hot-restart \
        --log-level "${ENVOY_LOG_LEVEL:-info}" --component-log-level wasm:info \
        >".build/cluster/audit-$replica.log" 2>".build/cluster/envoy-$replica.log" &
    pids+=($!)
    wait_for "Envoy replica $replica" "http://127.0.0.1:$((9900 + replica))/ready" "${pids[-1]}"
done

cat <<MSG

mcp-policy-filter cluster demo is running: two replicas, every limit counted by one rate-limit service.
  Replica 1:      http://127.0.0.1:10000/mcp   admin http://127.0.0.1:9901   (log .build/cluster/envoy-1.log, audit .build/cluster/audit-1.log)
  Replica 2:      http://127.0.0.1:10001/mcp   admin http://127.0.0.1:9902   (log .build/cluster/envoy-2.log, audit .build/cluster/audit-2.log)
  Upstream:       ${UPSTREAM:-the afip-double, catalogue ${AFIP_DOUBLE_CATALOGUE:-both}, on $UPSTREAM_ADDR}
  Rate limits:    mcp-policy-rls on $RLS_GRPC (metrics http://$RLS_HTTP/metrics), Redis on 127.0.0.1:$REDIS_PORT
  Policy:         ${POLICY:-the seed policy (policies/seed-policy.json)}, "counted_by": "rate_limit_service"
  Bearer tokens:  demo-token-alice (grant alice), demo-token-bob (grant bob)

A session opened on one replica works on the other (both seal with .build/demo-secrets.env),
and a limit holds across both: call logout_instance 31 times, alternating replicas, and the
31st is refused. Each replica's metrics: mcp_policy_rls_calls{mcp_rls_result="..."} at /stats/prometheus.

Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
