#!/usr/bin/env python3
"""Write the ECDS resource of the mcp_policy filter, or a Secret holding it.

The input is the filter configuration (docs/deployment.md, README
"Configuration"): usually the wrapper form {"policy", "policies", "grants",
...}, where each grant lists the SHA-256 hashes of its bearer tokens
(`printf %s "$TOKEN" | sha256sum`), never the tokens.

    deploy/ecds_resource.py deploy/policy/mcp-afip.json > mcp_policy.yaml
    deploy/ecds_resource.py deploy/policy/mcp-afip.json --secret mcp-policy > secret.yaml

The output is a DiscoveryResponse-style YAML file with one
envoy.config.core.v3.TypedExtensionConfig named mcp_policy, the name that
envoy/sidecar.yaml subscribes to. Everything but `configuration` (and
`version_info`, a digest of it) is fixed here on purpose: a policy update must
keep the same vm_config, so Envoy keeps the same Wasm VM and the rate-limit
counters in its shared data. Python standard library only.
"""
import argparse
import hashlib
import json
import pathlib
import sys

RESOURCE_NAME = "mcp_policy"
FILE_NAME = "mcp_policy.yaml"
DEFAULT_MODULE = "/etc/envoy/mcp_policy_filter.wasm"

TEMPLATE = """\
# ECDS resource of the mcp_policy HTTP filter (envoy/sidecar.yaml), written
# by deploy/ecds_resource.py. Change only `configuration`: the same vm_config
# keeps the Wasm VM, and so the rate-limit counters, across updates.
version_info: "{version}"
resources:
- "@type": type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig
  name: {name}
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
    config:
      name: mcp_policy
      root_id: mcp_policy
      vm_config:
        vm_id: mcp_policy
        runtime: envoy.wasm.runtime.v8
        code:
          local:
            filename: {module}
        # The filter's secrets come from the Envoy container's environment
        # (a Kubernetes Secret), never from this resource.
        environment_variables:
          host_env_keys: [MCP_POLICY_SESSION_KEYS, MCP_POLICY_COUNTER_KEY]
      # The filter holds the request headers until it has read and decided
      # the whole body; without this Envoy stalls every request.
      allow_on_headers_stop_iteration: true
      # A module that fails to load or crashes refuses traffic.
      failure_policy: FAIL_CLOSED
      configuration:
        "@type": type.googleapis.com/google.protobuf.StringValue
        value: |
{configuration}
"""

SECRET_TEMPLATE = """\
# The policy filter's configuration: the policy and the grants' token hashes,
# as the ECDS resource that the Envoy sidecar watches (mounted as a
# directory, never with subPath, so that updates reach the pod). Written by
#   deploy/ecds_resource.py {source} --secret {secret}
# Edit {source} and rerun it; tests/deploy checks that this file is current.
apiVersion: v1
kind: Secret
metadata:
  name: {secret}
  labels:
    app.kubernetes.io/name: mcp-afip
    app.kubernetes.io/component: mcp-policy
type: Opaque
stringData:
  {file}: |
{resource}"""


def indent(text, spaces):
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def resource_yaml(configuration, module=DEFAULT_MODULE):
    """The ECDS resource for a filter configuration (a JSON-compatible value)."""
    text = json.dumps(configuration, indent=2, ensure_ascii=False)
    version = "sha256:" + hashlib.sha256(json.dumps(configuration, sort_keys=True).encode()).hexdigest()[:16]
    return TEMPLATE.format(version=version, name=RESOURCE_NAME, module=module,
                           configuration=indent(text, 10).rstrip("\n"))


def secret_yaml(configuration, secret, source, module=DEFAULT_MODULE):
    return SECRET_TEMPLATE.format(source=source, secret=secret, file=FILE_NAME,
                                  resource=indent(resource_yaml(configuration, module), 4))


def check(configuration, say):
    """Shape checks only; the filter itself validates the policy when Envoy loads it."""
    if not isinstance(configuration, dict):
        raise SystemExit("the configuration must be a JSON object")
    if "version" in configuration:
        say("warning: a bare policy has no grants: every request will be answered 401")
        return
    for index, grant in enumerate(configuration.get("grants", [])):
        for digest in grant.get("token_sha256", []):
            if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
                raise SystemExit(f"/grants/{index}/token_sha256: {digest!r} is not a SHA-256 hex digest"
                                 " (printf %s \"$TOKEN\" | sha256sum)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="the filter configuration, JSON (wrapper or bare policy)")
    parser.add_argument("--module", default=DEFAULT_MODULE, help=f"the Wasm module's path in the container ({DEFAULT_MODULE})")
    parser.add_argument("--secret", metavar="NAME", help="write a Kubernetes Secret NAME holding the resource")
    parser.add_argument("--out", help="write here instead of standard output")
    args = parser.parse_args(argv)
    configuration = json.loads(pathlib.Path(args.config).read_text())
    check(configuration, lambda message: print(message, file=sys.stderr))
    if args.secret:
        text = secret_yaml(configuration, args.secret, args.config, args.module)
    else:
        text = resource_yaml(configuration, args.module)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
