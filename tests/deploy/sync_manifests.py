#!/usr/bin/env python3
"""Regenerate the Kubernetes manifests that copy other files:

  deploy/kubernetes/configmap-envoy.yaml  <- envoy/sidecar.yaml (verbatim)
  deploy/kubernetes/secret-policy.yaml    <- deploy/policy/mcp-afip.json
                                              (deploy/ecds_resource.py --secret)
  deploy/kubernetes/jwt/configmap-envoy.yaml <- envoy/sidecar.yaml, with the
                                              jwt_authn filter (remote JWKS)
  deploy/kubernetes/jwt/secret-policy.yaml   <- deploy/policy/mcp-afip-jwt.json

    python3 tests/deploy/sync_manifests.py          # rewrite them
    python3 tests/deploy/sync_manifests.py --check  # exit 1 if one is stale

tests/deploy/test_manifests.py fails while one is stale.
"""
import argparse
import copy
import json
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
import ecds_resource  # noqa: E402

SIDECAR = "envoy/sidecar.yaml"
CONFIGMAP = "deploy/kubernetes/configmap-envoy.yaml"
POLICY = "deploy/policy/mcp-afip.json"
SECRET = "deploy/kubernetes/secret-policy.yaml"
JWT_CONFIGMAP = "deploy/kubernetes/jwt/configmap-envoy.yaml"
JWT_POLICY = "deploy/policy/mcp-afip-jwt.json"
JWT_SECRET = "deploy/kubernetes/jwt/secret-policy.yaml"
# The identity provider of the JWT example: its issuer, and the audience its
# tokens carry for this MCP server (the server's public URL).
ISSUER = "https://idp.example.com/"
AUDIENCE = "https://mcp.example.com/mcp"
IDP_HOST = "idp.example.com"

JWT_CONFIGMAP_HEAD = """\
# The JWT example: the Envoy sidecar's bootstrap (envoy/sidecar.yaml) with
# Envoy's jwt_authn filter in front of the policy filter. It verifies the
# access tokens the identity provider issues (signature against its JWKS,
# fetched over TLS through the cluster `idp`; issuer; audience; expiry) and
# writes their claims to metadata, where the filter's "jwt" grants read them
# (deploy/policy/mcp-afip-jwt.json). Missing and failed tokens pass jwt_authn:
# the policy filter answers every 401 itself. Written by
# tests/deploy/sync_manifests.py; use it instead of ../configmap-envoy.yaml,
# with jwt/secret-policy.yaml instead of ../secret-policy.yaml.
apiVersion: v1
kind: ConfigMap
metadata:
  name: mcp-policy-envoy
  labels:
    app.kubernetes.io/name: mcp-afip
    app.kubernetes.io/component: mcp-policy
data:
  envoy.yaml: |
"""


def jwt_bootstrap(sidecar):
    """envoy/sidecar.yaml with jwt_authn before the policy filter, and the
    identity provider's cluster."""
    bootstrap = copy.deepcopy(yaml.safe_load(sidecar))
    [listener] = [l for l in bootstrap["static_resources"]["listeners"] if l["name"] == "mcp"]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["http_filters"].insert(0, {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"mcp": {
                "issuer": ISSUER,
                "audiences": [AUDIENCE],
                "remote_jwks": {
                    "http_uri": {"uri": f"https://{IDP_HOST}/.well-known/jwks.json", "cluster": "idp",
                                 "timeout": "5s"},
                    "cache_duration": "600s",
                    "async_fetch": {},
                },
                "payload_in_metadata": "jwt_payload",
                "failed_status_in_metadata": "jwt_failure",
                "forward": False,
                # Only from Authorization: Envoy's default also reads
                # ?access_token=, which would carry the token upstream in the path.
                "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
            }},
            "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "mcp"}, {"allow_missing_or_failed": {}}]}}}],
        },
    })
    bootstrap["static_resources"]["clusters"].append({
        "name": "idp",
        "type": "STRICT_DNS",
        "connect_timeout": "5s",
        "dns_lookup_family": "V4_PREFERRED",
        "load_assignment": {"cluster_name": "idp", "endpoints": [{"lb_endpoints": [{"endpoint": {
            "address": {"socket_address": {"address": IDP_HOST, "port_value": 443}}}}]}]},
        "transport_socket": {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": IDP_HOST,
                "common_tls_context": {"validation_context": {
                    "trusted_ca": {"filename": "/etc/ssl/certs/ca-certificates.crt"}}},
            },
        },
    })
    return yaml.safe_dump(bootstrap, sort_keys=False)

CONFIGMAP_HEAD = """\
# The Envoy sidecar's bootstrap: envoy/sidecar.yaml verbatim, copied by
# tests/deploy/sync_manifests.py (tests/deploy checks that they are the same).
# The bootstrap is read at start only, so a change here needs a rollout
# (kubectl rollout restart deployment/mcp-afip); policy changes do not: they
# go in the Secret mcp-policy.
apiVersion: v1
kind: ConfigMap
metadata:
  name: mcp-policy-envoy
  labels:
    app.kubernetes.io/name: mcp-afip
    app.kubernetes.io/component: mcp-policy
data:
  envoy.yaml: |
"""


def expected():
    """{path: text} of the generated manifests."""
    sidecar = (ROOT / SIDECAR).read_text()
    configmap = CONFIGMAP_HEAD + ecds_resource.indent(sidecar, 4)
    configuration = json.loads((ROOT / POLICY).read_text())
    secret = ecds_resource.secret_yaml(configuration, "mcp-policy", POLICY)
    jwt_configmap = JWT_CONFIGMAP_HEAD + ecds_resource.indent(jwt_bootstrap(sidecar), 4)
    jwt_configuration = json.loads((ROOT / JWT_POLICY).read_text())
    jwt_secret = ecds_resource.secret_yaml(jwt_configuration, "mcp-policy", JWT_POLICY)
    return {CONFIGMAP: configmap, SECRET: secret, JWT_CONFIGMAP: jwt_configmap, JWT_SECRET: jwt_secret}


def stale():
    return [path for path, text in expected().items()
            if not (ROOT / path).exists() or (ROOT / path).read_text() != text]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        paths = stale()
        for path in paths:
            print(f"stale: {path}", file=sys.stderr)
        return 1 if paths else 0
    for path, text in expected().items():
        (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / path).write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
