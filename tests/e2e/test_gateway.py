"""The filter in a real Envoy in front of the Mcp Afip double (Streamable
HTTP, official TypeScript SDK), driven with raw HTTP for exact assertions."""
import json

import pytest

from harness import initialize_params, response_messages, rpc, wait_for_fresh_window, wrapper_config

WINDOW = 600
POLICY = {
    "version": "1",
    "default": "deny",
    "hide": ["delete_instance"],
    "tools": {
        "get_server_status": {},
        "send_text": {},
        "logout_instance": {
            "limits": [{"counter": "logout_instance_rate", "window": WINDOW, "max": 30, "scope": "grant"}]
        },
    },
}


def open_session(gateway, token="demo-token-alice"):
    status, headers, body = gateway.post(rpc("initialize", initialize_params(), id=0), token=token)
    assert status == 200, body
    session = headers["mcp-session-id"]
    status, _, _ = gateway.post(
        {"jsonrpc": "2.0", "method": "notifications/initialized"}, token=token,
        headers={"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"})
    assert status == 202
    return session


def call(gateway, session, tool, arguments=None, id=7, token="demo-token-alice"):
    return gateway.post(rpc("tools/call", {"name": tool, "arguments": arguments or {}}, id=id), token=token,
                        headers={"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"})


@pytest.fixture
def gateway(double, gateway_factory):
    return gateway_factory(double, wrapper_config(POLICY))


def test_allowed_call_reaches_upstream_without_credentials(gateway, double):
    session = open_session(gateway)
    response = gateway.post(rpc("tools/call", {"name": "get_server_status", "arguments": {}}, id=3),
                            headers={"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18",
                                     "Cookie": "sid=secret"})
    assert response[0] == 200
    [reply] = response_messages(response)
    assert reply["id"] == 3 and reply["result"].get("isError") is not True
    [seen] = double.calls("get_server_status")
    assert "authorization" not in seen["headers"]
    assert "cookie" not in seen["headers"]


def test_denied_call_never_reaches_upstream(gateway, double):
    session = open_session(gateway)
    double.reset()
    status, headers, body = call(gateway, session, "create_invoice", {"amount_total": 5}, id=11)
    assert status == 200
    reply = json.loads(body)
    assert reply["id"] == 11
    assert reply["result"]["isError"] is True
    text = reply["result"]["content"][0]["text"]
    assert text.startswith("[POLICY DENIED] ")
    assert reply["result"]["_meta"]["mcp-policy/rule"] == "(default deny)"
    assert double.calls() == [] and double.methods() == []


def test_hidden_tool_is_unknown_and_not_forwarded(gateway, double):
    session = open_session(gateway)
    double.reset()
    status, _, body = call(gateway, session, "delete_instance", {"instance": "x"}, id="h1")
    assert status == 200
    reply = json.loads(body)
    assert reply == {"jsonrpc": "2.0", "id": "h1",
                     "error": {"code": -32602, "message": "Unknown tool: delete_instance"}}
    assert double.methods() == []


@pytest.mark.parametrize("token", [None, "not-a-grant"])
def test_unauthenticated_requests_get_401_at_the_headers(gateway, double, token):
    status, headers, body = gateway.post(rpc("tools/list", id=42), token=token)
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    reply = json.loads(body)
    # Answered before the body is read: the id is null.
    assert reply["id"] is None and reply["error"]["code"] == -32011
    assert double.methods() == []


def test_get_and_delete_need_a_token(gateway, double):
    from harness import http
    status, headers, _ = http("GET", gateway.url, headers={"Accept": "text/event-stream"})
    assert status == 401 and "bearer" in headers["www-authenticate"].lower()
    status, _, _ = http("DELETE", gateway.url)
    assert status == 401


def test_bare_policy_means_every_request_is_unauthenticated(double, gateway_factory):
    gateway = gateway_factory(double, json.dumps(POLICY))
    status, _, body = gateway.post(rpc("tools/list", id=1))
    assert status == 401
    assert "no grants" in json.loads(body)["error"]["message"]
    assert double.methods() == []


def test_malformed_json_is_400_and_not_forwarded(gateway, double):
    status, _, body = gateway.post(None, raw='{"jsonrpc":"2.0","id":5,"method":')
    assert status == 400
    assert json.loads(body)["error"]["code"] == -32700
    status, _, body = gateway.post(None, raw='{"jsonrpc":"1.0","id":6,"method":"ping"}')
    assert status == 400
    reply = json.loads(body)
    assert reply["error"]["code"] == -32600 and reply["id"] == 6
    assert double.methods() == []


def test_non_json_content_type_is_refused(gateway, double):
    status, _, _ = gateway.post(rpc("ping"), headers={"Content-Type": "text/plain"})
    assert status == 415
    assert double.methods() == []


def test_oversized_body_is_413(gateway, double):
    big = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": "send_text", "arguments": {"text": "x" * (1024 * 1024 + 10)}}}
    status, _, body = gateway.post(big)
    assert status == 413
    assert json.loads(body)["error"]["code"] == -32600
    assert double.methods() == []


def tools_listed(gateway, session):
    status, headers, body = gateway.post(rpc("tools/list", id=2),
                                         headers={"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"})
    assert status == 200
    [reply] = [m for m in response_messages((status, headers, body)) if m.get("id") == 2]
    return headers, [tool["name"] for tool in reply["result"]["tools"]]


def test_tools_list_hides_hidden_tools_event_stream(gateway):
    session = open_session(gateway)
    headers, names = tools_listed(gateway, session)
    assert headers["content-type"].startswith("text/event-stream")
    assert "delete_instance" not in names
    # denied-but-visible by default, like PolicyLayer's "Deny"
    assert "create_invoice" in names and "logout_instance" in names
    assert len(names) == 44


def test_tools_list_hides_hidden_tools_json(json_double, gateway_factory):
    gateway = gateway_factory(json_double, wrapper_config(POLICY))
    session = open_session(gateway)
    headers, names = tools_listed(gateway, session)
    assert headers["content-type"].startswith("application/json")
    assert "delete_instance" not in names and len(names) == 44


def test_hide_denied_tools_leaves_only_callable_tools(double, gateway_factory):
    gateway = gateway_factory(double, wrapper_config(POLICY, hide_denied_tools=True))
    session = open_session(gateway)
    _, names = tools_listed(gateway, session)
    assert sorted(names) == ["get_server_status", "logout_instance", "send_text"]


def test_rate_limit_per_grant(gateway, double):
    wait_for_fresh_window(WINDOW)
    alice = open_session(gateway, "demo-token-alice")
    bob = open_session(gateway, "demo-token-bob")
    double.reset()
    for i in range(30):
        status, _, body = call(gateway, alice, "logout_instance", {"instance": "a"}, id=100 + i)
        assert status == 200, body
    status, headers, body = call(gateway, alice, "logout_instance", {"instance": "a"}, id=131)
    reply = json.loads(body)
    assert status == 200
    assert reply["result"]["isError"] is True
    assert reply["result"]["content"][0]["text"] == \
        f"[POLICY DENIED] Rate limit of 30 per {WINDOW} seconds reached. Try again later."
    assert 0 < int(headers["retry-after"]) <= WINDOW
    assert reply["result"]["_meta"]["mcp-policy/rule"] == "/tools/logout_instance/limits/logout_instance_rate"
    status, _, body = call(gateway, bob, "logout_instance", {"instance": "b"}, id=200, token="demo-token-bob")
    assert status == 200 and "POLICY DENIED" not in body.decode()
    seen = double.calls("logout_instance")
    assert len([c for c in seen if c["arguments"]["instance"] == "a"]) == 30
    assert len([c for c in seen if c["arguments"]["instance"] == "b"]) == 1
