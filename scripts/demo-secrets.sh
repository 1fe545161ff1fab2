# Sourced by run-demo.sh and run-cluster.sh from the repository root: the
# filter's demo secrets (session sealing key, counter key), kept in
# .build/demo-secrets.env so that sealed sessions survive a restart and every
# replica seals and hashes with the same keys; generated the first time, then
# exported.
mkdir -p .build
if [ ! -s .build/demo-secrets.env ]; then
    {
        echo "MCP_POLICY_SESSION_KEYS=$(head -c 32 /dev/urandom | base64)"
        echo "MCP_POLICY_COUNTER_KEY=$(head -c 32 /dev/urandom | base64)"
    } > .build/demo-secrets.env
    echo "generated demo secrets (session sealing key, counter key) in .build/demo-secrets.env" >&2
fi
set -a
# shellcheck disable=SC1091
. .build/demo-secrets.env
set +a
