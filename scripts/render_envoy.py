#!/usr/bin/env python3
"""Render an Envoy config from envoy/demo.yaml with local overrides.

Used by `make run` and by the end-to-end tests, so both run the same config
the repository ships. Prints what it changed on stderr.
"""
import argparse
import hashlib
import json
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "envoy" / "demo.yaml"
DEMO_GRANTS = ROOT / "policies" / "demo-grants.json"
# The filter's secrets, read from Envoy's environment (vm_config.environment_variables).
SECRETS = {"session_keys": "MCP_POLICY_SESSION_KEYS", "counter_key": "MCP_POLICY_COUNTER_KEY"}
# The Envoy cluster of the rate-limit service (envoy/demo.yaml).
RLS_CLUSTER = "mcp_policy_rls"


def with_secrets(configuration):
    """The wrapper with every secret it lacks read from Envoy's environment."""
    configuration = dict(configuration)
    for field, variable in SECRETS.items():
        if field == "session_keys" and configuration.get("sessions") == "off":
            continue
        configuration.setdefault(field, {"env": variable})
    return configuration


def counted_by_service(configuration):
    """The wrapper with every limit counted by the rate-limit service (the
    demo's mcp-policy-rls, which takes refunds): each policy's "counted_by",
    unless the policy says otherwise; a limit's own "counted_by" still wins."""
    configuration = dict(configuration)
    if isinstance(configuration.get("policy"), dict):
        configuration["policy"] = {"counted_by": "rate_limit_service", **configuration["policy"]}
    if isinstance(configuration.get("policies"), dict):
        configuration["policies"] = {name: {"counted_by": "rate_limit_service", **policy}
                                     for name, policy in configuration["policies"].items()}
    configuration.setdefault("rate_limit_service", {"cluster": RLS_CLUSTER, "refunds": True})
    return configuration


def set_cluster_address(config, name, address):
    """Points the cluster `name` at `address` (host:port)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"{name} must be host:port, not {address!r}")
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] == name:
            endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
            endpoint["address"]["socket_address"] = {"address": host, "port_value": int(port)}
            return
    raise SystemExit(f"envoy/demo.yaml has no cluster {name}")


def plugin_config(config):
    listener = config["static_resources"]["listeners"][0]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    for http_filter in hcm["http_filters"]:
        if http_filter["name"] == "mcp_policy":
            return http_filter["typed_config"]["config"]
    raise SystemExit("envoy/demo.yaml has no mcp_policy filter")


def demo_grant(name):
    """A demo grant whose bearer token is demo-token-<name>."""
    return {"name": name, "token_sha256": [hashlib.sha256(f"demo-token-{name}".encode()).hexdigest()]}


def approvers_named(policy):
    """The grant names a policy's `by: approver` entries name, in order."""
    names = []
    for entry in (policy.get("tools") or {}).values():
        approval = entry.get("approval") if isinstance(entry, dict) else None
        if isinstance(approval, dict) and approval.get("by") == "approver":
            names += [name for name in approval.get("approvers", []) if name not in names]
    return names


def filter_configuration(policy_path, say):
    """The demo's configuration for a policy file: a bare policy gets the demo
    grants, the approver carol, and a demo grant for every other approver it
    names; approvals are enabled unless the file says otherwise."""
    document = json.loads(pathlib.Path(policy_path).read_text())
    if isinstance(document, dict) and "version" in document:
        grants = json.loads(DEMO_GRANTS.read_text())
        names = [grant["name"] for grant in grants]
        for name in ["carol"] + approvers_named(document):
            if name not in names:
                grants.append(demo_grant(name))
                names.append(name)
        say(f"{policy_path} is a bare policy: added the demo grants "
            + ", ".join(f"{g['name']} (token demo-token-{g['name']})" for g in grants))
        document = {"policy": document, "grants": grants}
    configuration = with_secrets(document)
    configuration.setdefault("approvals", {"enabled": True})
    return configuration


def render(args, say=lambda message: print(message, file=sys.stderr)):
    config = yaml.safe_load(pathlib.Path(getattr(args, "template", None) or TEMPLATE).read_text())
    config["admin"]["address"]["socket_address"]["port_value"] = args.admin_port
    listener = config["static_resources"]["listeners"][0]
    listener["address"]["socket_address"]["port_value"] = args.listen_port
    if args.upstream:
        set_cluster_address(config, "mcp_upstream", args.upstream)
    if getattr(args, "rls", None):
        set_cluster_address(config, RLS_CLUSTER, args.rls)
    plugin = plugin_config(config)
    plugin["vm_config"]["code"]["local"]["filename"] = str(pathlib.Path(args.module).resolve())
    plugin["vm_config"]["environment_variables"] = {"host_env_keys": list(SECRETS.values())}
    if args.policy:
        configuration = filter_configuration(args.policy, say)
        plugin["configuration"]["value"] = json.dumps(configuration, indent=2)
    if args.configuration_json:
        plugin["configuration"]["value"] = args.configuration_json
    if getattr(args, "cluster", False):
        configuration = counted_by_service(json.loads(plugin["configuration"]["value"]))
        plugin["configuration"]["value"] = json.dumps(configuration, indent=2)
        say("every limit is counted by the rate-limit service (cluster " + RLS_CLUSTER + ")")
    return config


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen-port", type=int, default=10000)
    parser.add_argument("--admin-port", type=int, default=9901)
    parser.add_argument("--upstream", help="host:port of the MCP server")
    parser.add_argument("--policy", help="a bare policy or a wrapper configuration (JSON file)")
    parser.add_argument("--configuration-json", help="the plugin configuration, verbatim")
    parser.add_argument("--rls", help="host:port of the rate-limit service's gRPC listener")
    parser.add_argument("--cluster", action="store_true",
                        help="count every limit with the rate-limit service (make run-cluster)")
    parser.add_argument("--module", default=str(ROOT / "dist" / "mcp_policy_filter.wasm"))
    parser.add_argument("--template", default=str(TEMPLATE), help="the Envoy config to render (envoy/demo.yaml)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    config = render(args)
    pathlib.Path(args.out).write_text(yaml.safe_dump(config, sort_keys=False))


if __name__ == "__main__":
    main()
