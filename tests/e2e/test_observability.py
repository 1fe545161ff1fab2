"""Metrics at /stats/prometheus, the JSON audit log, filter state, dry run and
logging discipline, through real Envoy with envoy/demo.yaml's settings."""
import hashlib
import json
import re

from harness import initialize_params, rpc, wrapper_config

POLICY = {
    "version": "1",
    "default": "deny",
    "hide": ["delete_instance"],
    "tools": {
        "get_server_status": {},
        "send_text": {"limits": [{"counter": "texts", "window": 3600, "max": 1}]},
    },
}
SECRET_ARGUMENT = "s3cr3t-argument-value-4821"


def session(gateway, token="demo-token-alice"):
    status, headers, _ = gateway.post(rpc("initialize", initialize_params(), id=0), token=token)
    assert status == 200
    return {"Mcp-Session-Id": headers["mcp-session-id"], "MCP-Protocol-Version": "2025-06-18"}


def tool_call(gateway, headers, name, arguments, id, token="demo-token-alice"):
    return gateway.post(rpc("tools/call", {"name": name, "arguments": arguments}, id=id), token=token, headers=headers)


def metric(text, name, **labels):
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()) and set(found) == set(labels):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def test_metrics_audit_log_and_filter_state(double, gateway_factory):
    gateway = gateway_factory(double, wrapper_config(POLICY), log_level="info")
    headers = session(gateway)
    assert tool_call(gateway, headers, "get_server_status", {"detail": SECRET_ARGUMENT}, 1)[0] == 200
    assert tool_call(gateway, headers, "create_invoice", {"amount_total": 5, "note": SECRET_ARGUMENT}, 2)[0] == 200
    assert tool_call(gateway, headers, "delete_instance", {"instance": SECRET_ARGUMENT}, 3)[0] == 200
    assert tool_call(gateway, headers, "send_text", {"instance": "a", "number": "1", "text": SECRET_ARGUMENT}, 4)[0] == 200
    assert tool_call(gateway, headers, "send_text", {"instance": "a", "number": "1", "text": SECRET_ARGUMENT}, 5)[0] == 200
    assert gateway.post(rpc("tools/list", id=6), token="wrong-token")[0] == 401
    assert gateway.post(None, raw="{not json")[0] == 400

    text = gateway.prometheus()
    decisions = "mcp_policy_decisions"
    assert metric(text, decisions, mcp_outcome="allowed") == 3  # initialize and two tools/call
    assert metric(text, decisions, mcp_outcome="denied") == 1
    assert metric(text, decisions, mcp_outcome="hidden") == 1
    assert metric(text, decisions, mcp_outcome="rate_limited") == 1
    assert metric(text, decisions, mcp_outcome="unauthenticated") == 1
    assert metric(text, decisions, mcp_outcome="invalid_request") == 1
    tools = "mcp_policy_tool_decisions"
    assert metric(text, tools, mcp_tool="get_server_status", mcp_outcome="allowed") == 1
    assert metric(text, tools, mcp_tool="send_text", mcp_outcome="allowed") == 1
    assert metric(text, tools, mcp_tool="send_text", mcp_outcome="rate_limited") == 1
    assert metric(text, tools, mcp_tool="other", mcp_outcome="denied") == 1  # create_invoice is not named
    assert metric(text, "mcp_policy_body_bytes_inspected") > 0

    lines = gateway.audit_lines(at_least=8)
    by_tool = {(line["tool"], line["decision"]): line for line in lines if line.get("tool")}
    allowed = by_tool[("get_server_status", "allowed")]
    assert allowed["grant"] == "alice"
    assert allowed["method"] == "tools/call"
    assert allowed["rule"] == "/tools/get_server_status"
    assert allowed["arg_keys"] == "detail"
    assert allowed["status"] == 200 and allowed["status_source"] == "via_upstream"
    # The audit log carries a digest of the upstream's session id, never the id.
    upstream_session = headers["Mcp-Session-Id"].rsplit(".", 1)[0]
    assert allowed["session"] == hashlib.sha256(upstream_session.encode()).hexdigest()[:12]
    assert allowed["protocol_version"] == "2025-06-18"
    assert int(allowed["decide_us"]) >= 0
    denied = by_tool[("create_invoice", "denied")]
    assert denied["rule"] == "(default deny)" and denied["status_source"] == "mcp_policy_denied"
    assert sorted(denied["arg_keys"].split(",")) == ["amount_total", "note"]
    limited = by_tool[("send_text", "rate_limited")]
    assert re.fullmatch(r"1/1 resets_at=\d+", limited["limit"])
    assert limited["rule"] == "/tools/send_text/limits/texts"
    assert any(line["decision"] == "unauthenticated" and line["grant"] is None for line in lines)

    everything = gateway.log_text() + gateway.audit_path.read_text()
    assert SECRET_ARGUMENT not in everything
    assert "demo-token-alice" not in everything and "wrong-token" not in everything
    assert "mcp-policy-filter" in gateway.log_text()  # the VM start line, at info


def test_dry_run_forwards_what_enforce_refuses(double, gateway_factory):
    gateway = gateway_factory(double, wrapper_config(dict(POLICY, mode="dry_run")))
    headers = session(gateway)
    status, _, body = tool_call(gateway, headers, "create_invoice", {"amount_total": 5}, 9)
    assert status == 200 and b"POLICY DENIED" not in body
    assert len(double.calls("create_invoice")) == 1
    lines = gateway.audit_lines(at_least=2)
    [line] = [line for line in lines if line.get("tool") == "create_invoice"]
    assert line["decision"] == "dry_run_would_deny" and line["rule"] == "(default deny)"
    assert metric(gateway.prometheus(), "mcp_policy_decisions", mcp_outcome="dry_run_would_deny") == 1


def test_later_filters_read_the_parsed_tool_from_filter_state(double, gateway_factory):
    policy = {"version": "1", "default": "deny", "tools": {"logout_instance": {}, "get_server_status": {}}}
    gateway = gateway_factory(double, wrapper_config(policy))
    headers = session(gateway)
    assert tool_call(gateway, headers, "logout_instance", {"instance": "a"}, 1)[0] == 200
    assert tool_call(gateway, headers, "get_server_status", {}, 2)[0] == 200
    from harness import http
    _, _, body = http("GET", gateway.admin + "/stats?filter=mcp_tool.shadow")
    stats = dict(line.split(": ") for line in body.decode().splitlines() if ": " in line)
    assert stats["http.mcp.rbac.mcp_tool.shadow_allowed"] == "1"
    assert int(stats["http.mcp.rbac.mcp_tool.shadow_denied"]) >= 2  # initialize and get_server_status


def test_fields_published_as_their_own_keys_serve_string_matchers(double, gateway_factory):
    """With filter_state_keys, RBAC's filter_state principal matches the parsed
    tool as a plain string key; without it that key does not exist."""
    policy = {"version": "1", "default": "deny", "tools": {"logout_instance": {}, "get_server_status": {}}}

    def string_matcher(config):
        for listener in config["static_resources"]["listeners"]:
            manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
            for http_filter in manager["http_filters"]:
                if http_filter["name"] == "envoy.filters.http.rbac":
                    rule = http_filter["typed_config"]["shadow_rules"]["policies"]["logout-calls"]
                    rule.pop("condition")
                    rule["principals"] = [{"filter_state": {
                        "key": "wasm.mcp_policy_tool", "string_match": {"exact": "logout_instance"}}}]

    from harness import http
    for settings, allowed in [({"filter_state_keys": ["tool"]}, "1"), ({}, "0")]:
        gateway = gateway_factory(double, wrapper_config(policy, **settings), mutate=string_matcher)
        headers = session(gateway)
        assert tool_call(gateway, headers, "logout_instance", {"instance": "a"}, 1)[0] == 200
        _, _, body = http("GET", gateway.admin + "/stats?filter=mcp_tool.shadow")
        stats = dict(line.split(": ") for line in body.decode().splitlines() if ": " in line)
        assert stats["http.mcp.rbac.mcp_tool.shadow_allowed"] == allowed, settings
