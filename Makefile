# The two commands that matter: `make run` (the demo gateway) and `make test`
# (everything). Every target installs what it needs through scripts/setup.sh.

SHELL := /bin/bash
VENV := .venv
PYTEST_ARGS ?=

.PHONY: all setup build cli run run-cluster test test-unit test-wasm test-abi fuzz fuzz-corpus test-e2e test-deploy bench bench-smoke bench-growth bench-policy attacks validate lint rls rls-debug test-rls clean

all: build

setup:
	@scripts/setup.sh

build: setup
	@scripts/build-wasm.sh

run: build
	@scripts/run-demo.sh

# Two Envoy replicas sharing the rate-limit service and Redis (README,
# "Limits across replicas"); the same overrides as `make run`.
run-cluster: build rls
	@scripts/setup.sh redis
	@scripts/run-cluster.sh

test: setup lint test-unit test-rls fuzz-corpus test-wasm build test-abi validate test-e2e test-deploy bench-smoke

# The pure core alone (as the fuzz and bench crates use it), everything
# natively (the glue and its tests included), and the module as built.
lint:
	cargo clippy --no-default-features --features cli,fake-host --all-targets -- -D warnings
	cargo clippy --all-features --all-targets -- -D warnings
	@scripts/clippy-wasm.sh

test-unit:
	cargo test --all-features
	cargo test --no-default-features --benches

# The policy engine's criterion benchmark (docs/benchmarks.md).
bench-policy:
	cargo bench --no-default-features --bench policy

# The mcp-policy CLI (target/release/mcp-policy).
cli:
	cargo build --release --no-default-features --features cli

# The rate-limit service (rls/README.md): rls/target/release/mcp-policy-rls.
rls:
	cd rls && cargo build --release --locked

# Its debug build (what `make test-rls` builds anyway), for the end-to-end
# tests and the bench smoke run.
rls-debug:
	@scripts/setup.sh redis
	cd rls && cargo build --locked

# Its lints, and its tests against a real redis-server (installed by setup.sh).
test-rls:
	@scripts/setup.sh redis
	cd rls && cargo clippy --locked --all-targets -- -D warnings
	cd rls && cargo test --locked

# The policy-engine tests compiled to wasm32, under Node (wasm-bindgen-test).
test-wasm: setup
	@scripts/wasm-test.sh

# The built module's contexts under a stubbed proxy-wasm host, in Node
# (tests/abi/): its exports driven as Envoy drives them.
test-abi: build
	node --test tests/abi/contexts.test.cjs

# cargo fuzz on every target for FUZZ_SECONDS each; `make test` replays the
# saved corpus and the regressions only.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-corpus:
	@scripts/fuzz.sh --corpus-only

# Every Envoy config in the repository passes `envoy --mode validate`.
validate: build
	@$(VENV)/bin/python tests/validate_envoy_configs.py

test-e2e: build rls-debug
	@scripts/setup.sh browser
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile tests/e2e tests/policy_files $(PYTEST_ARGS)

# The Dockerfile, the Kubernetes/Istio manifests and the ECDS sidecar.
test-deploy: build rls-debug
	$(VENV)/bin/python -m pytest tests/deploy $(PYTEST_ARGS)

# The filter's cost against Envoy without it and against Envoy's MCP filter
# (docs/benchmarks.md). `make test` runs only a short smoke run.
bench: build rls
	@scripts/setup.sh bench
	$(VENV)/bin/python bench/run.py

bench-smoke: build rls-debug
	@scripts/setup.sh bench
	$(VENV)/bin/python bench/run.py --smoke

# `make bench` plus the growth set (body size, conditions, list size;
# bench/growth.py): about 8 minutes more.
bench-growth: build rls
	@scripts/setup.sh bench
	$(VENV)/bin/python bench/run.py --growth

# Issue 17's attacks (one grant against another, slow bodies over HTTP/1.1 and
# HTTP/2, calls outliving the route timeout, a 1 MiB decision) on the built
# module, about 7 minutes (docs/benchmarks.md, "Attacks"). A measurement, not
# part of `make test`.
attacks: build
	@scripts/setup.sh bench
	$(VENV)/bin/python bench/attacks.py

clean:
	rm -rf target dist .build fuzz/target rls/target
