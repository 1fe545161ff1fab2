#!/usr/bin/env python3
"""Regenerate the Kubernetes manifests that copy other files:

  deploy/kubernetes/configmap-envoy.yaml  <- envoy/sidecar.yaml (verbatim)
  deploy/kubernetes/secret-policy.yaml    <- deploy/policy/mcp-afip.json
                                              (deploy/ecds_resource.py --secret)

    python3 tests/deploy/sync_manifests.py          # rewrite them
    python3 tests/deploy/sync_manifests.py --check  # exit 1 if one is stale

tests/deploy/test_manifests.py fails while one is stale.
"""
import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
import ecds_resource  # noqa: E402

SIDECAR = "envoy/sidecar.yaml"
CONFIGMAP = "deploy/kubernetes/configmap-envoy.yaml"
POLICY = "deploy/policy/mcp-afip.json"
SECRET = "deploy/kubernetes/secret-policy.yaml"

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
    return {CONFIGMAP: configmap, SECRET: secret}


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
        (ROOT / path).write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
