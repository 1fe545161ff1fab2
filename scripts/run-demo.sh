#!/usr/bin/env bash
# `make run`: the demo gateway on 127.0.0.1:10000 in front of the Mcp Afip
# test double on 127.0.0.1:3000 (both servers' tools, unless
# AFIP_DOUBLE_CATALOGUE=afip|evolution says otherwise). Ctrl-C stops both.
# Overrides: POLICY=file (bare policy or wrapper), UPSTREAM=host:port (use
# that MCP server, start no double), ENVOY_CONCURRENCY=N (default 1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LISTEN_PORT=10000
ADMIN_PORT=9901
CONCURRENCY="${ENVOY_CONCURRENCY:-1}"
UPSTREAM_ADDR="${UPSTREAM:-127.0.0.1:3000}"

mkdir -p .build
# shellcheck source=scripts/demo-secrets.sh
. "$ROOT/scripts/demo-secrets.sh"
export MCP_POLICY_SESSION_KEYS="${MCP_POLICY_SESSION_KEYS}" MCP_POLICY_COUNTER_KEY="${MCP_POLICY_COUNTER_KEY}"
render_args=(--listen-port "$LISTEN_PORT" --admin-port "$ADMIN_PORT" --upstream "$UPSTREAM_ADDR" --out .build/envoy-run.yaml)
[ -n "${POLICY:-}" ] && render_args+=(--policy "$POLICY")
.venv/bin/python scripts/render_envoy.py "${render_args[@]}"

pids=()
cleanup() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "stopped"
}
trap cleanup INT TERM EXIT

if [ -z "${UPSTREAM:-}" ]; then
    AFIP_DOUBLE_HOST=127.0.0.1 AFIP_DOUBLE_PORT=3000 node tests/upstream/afip-double/server.mjs &
    pids+=($!)
    for _ in $(seq 1 100); do
        curl -fsS http://127.0.0.1:3000/health >/dev/null 2>&1 && break
        sleep 0.1
    done
fi

.venv/bin/envoy -c .build/envoy-run.yaml --concurrency "$CONCURRENCY" --log-level "${ENVOY_LOG_LEVEL:-info}" \
    --component-log-level wasm:info >.build/audit.log 2>.build/envoy-run.log &
pids+=($!)
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$ADMIN_PORT/ready" >/dev/null 2>&1 && break
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
        echo "Envoy failed to start; see .build/envoy-run.log:" >&2
        tail -n 20 .build/envoy-run.log >&2
        exit 1
    fi
    sleep 0.1
done

cat <<MSG

mcp-policy-filter demo is running.
  MCP endpoint:   http://127.0.0.1:$LISTEN_PORT/mcp   (upstream: ${UPSTREAM:-the afip-double, catalogue ${AFIP_DOUBLE_CATALOGUE:-both}, on $UPSTREAM_ADDR})
  Envoy admin:    http://127.0.0.1:$ADMIN_PORT        (log: .build/envoy-run.log)
  Audit log:      .build/audit.log (one JSON line per request)
  Metrics:        http://127.0.0.1:$ADMIN_PORT/stats/prometheus (mcp_policy_*)
  Policy:         ${POLICY:-the seed policy (policies/seed-policy.json)}
  Bearer tokens:  demo-token-alice (grant alice), demo-token-bob (grant bob), demo-token-carol (grant carol, an approver)
  Approvals:      http://127.0.0.1:$LISTEN_PORT/mcp-policy/approvals   (sign in with an approver's token)

Try it:
  curl -s http://127.0.0.1:$LISTEN_PORT/mcp -H 'Authorization: Bearer demo-token-alice' \\
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'

Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
