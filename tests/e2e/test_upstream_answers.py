"""What the real servers taught us, through real Envoy: an upstream failure
reaches the client as a JSON-RPC error with the call's id (not Envoy's plain
text nor the server's HTML page), and a protocol version the filter does not
know is refused the way the official servers refuse it, never decided under a
guessed version."""
import json
import socket

import pytest

from harness import (AfipDouble, Gateway, StatelessUpstream, http, initialize_params, rpc, ts_client,
                     wrapper_config)

POLICY = {"version": "1", "default": "deny", "tools": {
    "get_server_status": {},
    "send_text": {},
    "check_number": {"limits": [{"counter": "checks", "window": "day", "max": 1}]},
}}
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                "Authorization": "Bearer demo-token-alice"}


@pytest.fixture(scope="module")
def double(tmp_path_factory):
    upstream = AfipDouble(tmp_path_factory.mktemp("double") / "double.log")
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, double):
    started = Gateway(tmp_path_factory.mktemp("gw"), double.port, wrapper_config(POLICY))
    yield started
    started.stop()


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_headers(gateway, version="2025-06-18"):
    status, headers, _ = http("POST", gateway.url, json.dumps(rpc("initialize", initialize_params(), id=0)),
                              JSON_HEADERS)
    assert status == 200
    return dict(JSON_HEADERS, **{"Mcp-Session-Id": headers["mcp-session-id"], "MCP-Protocol-Version": version})


def test_an_oversized_call_the_server_refuses_reaches_the_typescript_client_as_json_rpc(gateway, double):
    double.reset()
    text = "x" * 110_000  # over the server's express.json limit (100 KB), under the filter's 1 MiB
    report = ts_client(gateway.url, "2025-06-18", [
        {"op": "call_tool", "name": "send_text", "arguments": {"instance": "i", "number": "1", "text": text}}])
    step = report["steps"][0]
    assert step["ok"] is False, step
    message = step["error"]["message"]
    # The client's error now carries a JSON-RPC error with the call's id and
    # the server's status, instead of the server's HTML page and stack trace.
    reply = json.loads(message[message.index("{"):])
    assert reply["error"]["code"] == -32603 and reply["error"]["data"] == {"status": 413}
    assert isinstance(reply["id"], int)
    assert "<html" not in message.lower() and "PayloadTooLargeError" not in message
    assert double.calls("send_text") == []


def test_an_unreachable_upstream_answers_json_rpc_and_refunds(tmp_path):
    gateway = Gateway(tmp_path, closed_port(), wrapper_config(POLICY))
    try:
        for id in (1, 2):
            # max 1 per day: the second call is admitted only because the
            # first, which never left Envoy, was refunded.
            status, headers, body = http("POST", gateway.url, json.dumps(rpc(
                "tools/call", {"name": "check_number", "arguments": {"instance": "i", "number": "1"}}, id=id)),
                JSON_HEADERS)
            assert status == 503
            assert headers["content-type"] == "application/json"
            reply = json.loads(body)
            assert reply["id"] == id and reply["error"]["code"] == -32603
            assert reply["error"]["data"] == {"status": 503}
        lines = gateway.audit_lines(at_least=2)
        assert {line["status_source"] for line in lines if line.get("tool") == "check_number"} == \
            {"mcp_policy_upstream_failure"}
    finally:
        gateway.stop()


@pytest.mark.parametrize("version", ["2099-01-01", "garbage", "2025-06-19"])
def test_an_unknown_version_is_refused_as_the_typescript_server_refuses_it(gateway, double, version):
    headers = dict(session_headers(gateway), **{"MCP-Protocol-Version": version})
    body = json.dumps(rpc("tools/call", {"name": "get_server_status", "arguments": {}}, id=7))
    direct_status, _, direct = http("POST", f"{double.base}/mcp", body, dict(headers))
    double.reset()
    status, _, through = http("POST", gateway.url, body, headers)
    assert (status, direct_status) == (400, 400)
    direct, through = json.loads(direct), json.loads(through)
    assert through["error"]["code"] == direct["error"]["code"] == -32000
    assert f"Unsupported protocol version: {version}" in through["error"]["message"]
    assert "2025-11-25" in through["error"]["message"]
    assert double.calls() == []


def test_an_unknown_version_under_the_2026_envelope_is_refused_as_the_python_server_refuses_it(tmp_path):
    stateless = StatelessUpstream(tmp_path / "stateless.log")
    (tmp_path / "gw").mkdir()
    gateway = Gateway(tmp_path / "gw", stateless.port, wrapper_config(POLICY, sessions="off"))
    try:
        message = rpc("tools/call", {"name": "get_server_status", "arguments": {}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2099-01-01",
            "io.modelcontextprotocol/clientCapabilities": {}}}, id=8)
        headers = dict(JSON_HEADERS, **{"MCP-Protocol-Version": "2099-01-01", "Mcp-Method": "tools/call",
                                        "Mcp-Name": "get_server_status"})
        direct_status, _, direct = http("POST", f"http://127.0.0.1:{stateless.port}/mcp", json.dumps(message), headers)
        stateless.reset()
        status, _, through = http("POST", gateway.url, json.dumps(message), headers)
        assert (status, direct_status) == (400, 400)
        direct, through = json.loads(direct), json.loads(through)
        assert through["error"]["code"] == direct["error"]["code"] == -32022
        assert through["error"]["data"] == {"supported": ["2026-07-28"], "requested": "2099-01-01"}
        assert direct["error"]["data"]["requested"] == "2099-01-01"
        assert stateless.calls() == []
    finally:
        gateway.stop()
        stateless.stop()
