"""Every MCP HTTP transport and protocol version through real Envoy and the filter,
driven by the official SDK clients, against official-SDK upstreams:

| wire                              | client                                   | upstream                |
|-----------------------------------|------------------------------------------|-------------------------|
| 2024-11-05 HTTP+SSE               | TypeScript SSEClientTransport (pinned)   | legacy-sse (Python SDK) |
| HTTP+SSE, 2025-11-25 negotiated   | Python sse_client                        | legacy-sse              |
| HTTP+SSE, raw                     | http.client                              | legacy-sse              |
| Streamable HTTP 2025-03-26/06-18/11-25 | TypeScript client (pinned)          | afip-double (TS SDK)    |
| 2026-07-28 stateless              | Python Client(mode="auto") + raw POSTs   | stateless (Python SDK)  |

Each checks: the version really is on the wire (the client's own record of the
initialize it sent and the headers of each HTTP request, and the upstream's record of
the headers it received), tools/list loses hidden tools, an allowed call runs, a
denied call comes back to the client as `isError` with `[POLICY DENIED] ` text, a
hidden tool is an unknown tool, and the upstream never saw either refused call.
"""
import json

import anyio
import pytest

from mcp.client.client import Client
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from harness import SseReader, raw_request, mcp_headers, ts_client, wrapper_config

POLICY = {
    "version": "1",
    "default": "deny",
    "hide": ["delete_instance"],
    "tools": {"get_server_status": {}, "send_text": {}},
}
ALICE = "demo-token-alice"
BOB = "demo-token-bob"
STEPS = [
    {"op": "list_tools"},
    {"op": "call_tool", "name": "get_server_status", "arguments": {}},
    {"op": "call_tool", "name": "create_invoice", "arguments": {"point_of_sale": 1, "amount_total": 10}},
    {"op": "call_tool", "name": "delete_instance", "arguments": {"instance": "x"}},
]
MODERN = "2026-07-28"


def run(coroutine_function, limit=120):
    async def bounded():
        with anyio.fail_after(limit):
            return await coroutine_function()
    return anyio.run(bounded)


async def outcome(awaitable):
    """The result of `awaitable`, or the exception it raised."""
    try:
        return await awaitable
    except Exception as error:  # noqa: BLE001 - reported by the caller's assertion
        return error


def assert_denied(result):
    """A CallToolResult (dict from the TS client) that is a policy denial."""
    assert result["isError"] is True, result
    text = result["content"][0]["text"]
    assert text.startswith("[POLICY DENIED] "), text


def assert_ts_session(report, version, listed_count=44):
    """The four STEPS as the TypeScript client reports them."""
    assert report.get("error") is None, report
    assert report["initialize_sent"]["protocolVersion"] == version
    assert report["protocol_negotiated"] == version, "the server answered another version"
    listed, allowed, denied, hidden = report["steps"]
    assert listed["ok"], listed
    names = listed["result"]["names"]
    assert "delete_instance" not in names
    assert "create_invoice" in names and "get_server_status" in names
    assert len(names) == listed_count
    assert allowed["ok"] and allowed["result"].get("isError") is not True, allowed
    assert denied["ok"], denied
    assert_denied(denied["result"])
    assert not hidden["ok"], hidden
    assert hidden["error"]["code"] == -32602 and "Unknown tool: delete_instance" in hidden["error"]["message"]


@pytest.fixture
def policy_config():
    return wrapper_config(POLICY)


# ------------------------------------------------------------- 2024-11-05 SSE

def test_legacy_sse_typescript_client_2024_11_05(legacy_sse, gateway_factory, policy_config):
    gateway = gateway_factory(legacy_sse, policy_config)
    report = ts_client(f"http://127.0.0.1:{gateway.port}/sse", "2024-11-05", STEPS, transport="sse")
    assert_ts_session(report, "2024-11-05")
    # On the wire: GET /sse, then POSTs to the endpoint the server announced, none of
    # them with an MCP-Protocol-Version header (2024-11-05 has none).
    assert report["wire"][0]["method"] == "GET" and report["wire"][0]["path"] == "/sse"
    posts = [w for w in report["wire"] if w["method"] == "POST"]
    assert posts and all(w["path"].startswith("/messages/?session_id=") for w in posts)
    assert all(w.get("status") == 202 for w in posts), posts
    assert all("mcp-protocol-version" not in w["headers"] for w in report["wire"])
    # The upstream ran only the allowed call; refused calls never reached it.
    assert [c["name"] for c in legacy_sse.calls()] == ["get_server_status"]
    methods = [m["method"] for m in legacy_sse.methods()]
    assert methods.count("tools/call") == 1
    assert set(methods) <= {"initialize", "notifications/initialized", "tools/list", "tools/call", "ping"}
    assert "mcp-protocol-version" not in legacy_sse.calls()[0]["headers"]


def test_legacy_sse_python_client(legacy_sse, gateway_factory, policy_config):
    gateway = gateway_factory(legacy_sse, policy_config)

    async def work():
        async with sse_client(f"http://127.0.0.1:{gateway.port}/sse", headers={"Authorization": f"Bearer {ALICE}"},
                              timeout=30) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                listed = await session.list_tools()
                allowed = await session.call_tool("get_server_status", {})
                denied = await session.call_tool("create_invoice", {"amount_total": 1})
                try:
                    await session.call_tool("delete_instance", {"instance": "x"})
                    hidden = None
                except MCPError as error:
                    hidden = error
                return init, listed, allowed, denied, hidden

    init, listed, allowed, denied, hidden = run(work)
    assert init.protocol_version == "2025-11-25"  # the Python SDK negotiates its latest over SSE too
    names = {tool.name for tool in listed.tools}
    assert len(names) == 44 and "delete_instance" not in names and "create_invoice" in names
    assert not allowed.is_error
    assert denied.is_error and denied.content[0].text.startswith("[POLICY DENIED] ")
    assert hidden is not None and hidden.error.code == -32602
    assert [c["name"] for c in legacy_sse.calls()] == ["get_server_status"]


class LegacySession:
    """A 2024-11-05 session driven with raw HTTP through the gateway."""

    def __init__(self, gateway, token=ALICE, version="2024-11-05"):
        self.gateway = gateway
        self.token = token
        self.stream = SseReader(gateway.port, "/sse", [("Accept", "text/event-stream"),
                                                       ("Authorization", f"Bearer {token}")])
        assert self.stream.status == 200, self.stream.status
        assert self.stream.headers.get("content-type", "").startswith("text/event-stream")
        event = self.stream.next()
        assert event is not None and event[0] == "endpoint", event
        self.endpoint = event[1]
        assert self.endpoint.startswith("/messages/?session_id=")
        self.session_id = self.endpoint.split("session_id=", 1)[1]
        status, _, _ = self.post({"jsonrpc": "2.0", "id": "init", "method": "initialize",
                                  "params": {"protocolVersion": version, "capabilities": {},
                                             "clientInfo": {"name": "raw", "version": "1"}}})
        assert status == 202
        reply = self.stream.message_with_id("init")
        assert reply is not None and reply["result"]["protocolVersion"] == version
        status, _, _ = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert status == 202

    def post(self, message, token=None, path=None):
        return raw_request(self.gateway.port, "POST", path or self.endpoint, json.dumps(message),
                           mcp_headers(token=token or self.token))

    def request(self, message, timeout=15):
        status, headers, body = self.post(message)
        assert status == 202, (status, body)
        return self.stream.message_with_id(message["id"], timeout=timeout)

    def close(self):
        self.stream.close()


def test_legacy_sse_raw_denial_arrives_on_the_stream(legacy_sse, gateway_factory, policy_config):
    gateway = gateway_factory(legacy_sse, policy_config)
    session = LegacySession(gateway)
    try:
        listed = session.request({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        names = [tool["name"] for tool in listed["result"]["tools"]]
        assert "delete_instance" not in names and len(names) == 44

        legacy_sse.reset()
        denied = session.request({"jsonrpc": "2.0", "id": "d1", "method": "tools/call",
                                  "params": {"name": "create_invoice", "arguments": {"amount_total": 5}}})
        assert denied is not None, "no reply for the denied call on the GET stream"
        assert denied["result"]["isError"] is True
        assert denied["result"]["content"][0]["text"].startswith("[POLICY DENIED] ")
        assert denied["result"]["_meta"]["mcp-policy/rule"] == "(default deny)"
        hidden = session.request({"jsonrpc": "2.0", "id": 77, "method": "tools/call",
                                  "params": {"name": "delete_instance", "arguments": {"instance": "x"}}})
        assert hidden == {"jsonrpc": "2.0", "id": 77,
                          "error": {"code": -32602, "message": "Unknown tool: delete_instance"}}
        # What went upstream instead: a harmless ping per refused id, never the call.
        assert legacy_sse.calls() == []
        assert [(m["method"], m["id"]) for m in legacy_sse.methods()] == [("ping", "d1"), ("ping", 77)]

        allowed = session.request({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                                   "params": {"name": "get_server_status", "arguments": {}}})
        assert allowed["result"].get("isError") is not True
        assert [c["name"] for c in legacy_sse.calls()] == ["get_server_status"]
    finally:
        session.close()


def test_legacy_sse_session_of_another_grant_is_404(legacy_sse, gateway_factory, policy_config):
    gateway = gateway_factory(legacy_sse, policy_config)
    session = LegacySession(gateway)
    try:
        legacy_sse.reset()
        status, _, body = session.post({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                                        "params": {"name": "get_server_status", "arguments": {}}}, token=BOB)
        assert status == 404, (status, body)
        assert legacy_sse.methods() == []
    finally:
        session.close()


# --------------------------------------------- Streamable HTTP, pinned versions

@pytest.mark.parametrize("version", ["2025-03-26", "2025-06-18", "2025-11-25"])
def test_streamable_http_typescript_client(version, double, gateway_factory, policy_config):
    gateway = gateway_factory(double, policy_config)
    report = ts_client(gateway.url, version, STEPS)
    assert_ts_session(report, version)
    assert report["session_id"], "no Mcp-Session-Id came back through the gateway"
    # On the wire: initialize carries no version header; later requests carry the
    # negotiated one from 2025-06-18 on, and none in 2025-03-26.
    initialize, *later = report["wire"]
    assert initialize["method"] == "POST" and "mcp-protocol-version" not in initialize["headers"]
    expected = None if version == "2025-03-26" else version
    assert later and all(w["headers"].get("mcp-protocol-version") == expected for w in later), later
    assert all(w["headers"].get("mcp-session-id") == report["session_id"] for w in later)
    # The upstream saw the same header, ran the allowed call only.
    calls = double.calls()
    assert [c["name"] for c in calls] == ["get_server_status"]
    assert calls[0]["headers"].get("mcp-protocol-version") == expected
    assert [m["method"] for m in double.methods()].count("tools/call") == 1


# ------------------------------------------------------ 2026-07-28 stateless

def test_modern_stateless_python_client(stateless, gateway_factory, policy_config):
    gateway = gateway_factory(stateless, policy_config)

    async def work():
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {ALICE}"}) as http:
            async with Client(streamable_http_client(gateway.url, http_client=http), mode="auto") as client:
                version = client.protocol_version
                listed = await client.list_tools()
                allowed = await client.call_tool("get_server_status", {})
                sent = await client.call_tool("send_text", {"instance": "a", "number": "5511999", "text": "hi"})
                sent_b64 = await client.call_tool("send_text", {"instance": "a", "number": "+54 11 ñ", "text": "x"})
                denied = await outcome(client.call_tool("create_invoice", {"amount_total": 1}))
                hidden = await outcome(client.call_tool("delete_instance", {"instance": "x"}))
                return version, listed, allowed, sent, sent_b64, denied, hidden

    version, listed, allowed, sent, sent_b64, denied, hidden = run(work)
    assert version == MODERN, "the client fell back to the initialize handshake"
    names = {tool.name for tool in listed.tools}
    assert len(names) == 44 and "delete_instance" not in names
    assert not allowed.is_error and not sent.is_error and not sent_b64.is_error

    methods = [m["method"] for m in stateless.methods()]
    assert "initialize" not in methods and methods[0] == "server/discover"
    calls = stateless.calls()
    assert [c["name"] for c in calls] == ["get_server_status", "send_text", "send_text"]
    for call in calls:
        assert call["headers"]["mcp-protocol-version"] == MODERN
        assert call["headers"]["mcp-method"] == "tools/call"
        assert call["headers"]["mcp-name"] == call["name"]
        assert "mcp-session-id" not in call["headers"]
    assert calls[1]["headers"]["mcp-param-number"] == "5511999"
    assert calls[2]["headers"]["mcp-param-number"].startswith("=?base64?")

    # The client validates 2026-07-28 results strictly (e.g. `resultType` is required):
    # the denial must be a result it accepts, the hidden tool a JSON-RPC error.
    assert isinstance(hidden, MCPError) and hidden.error.code == -32602, repr(hidden)
    assert not isinstance(denied, Exception), f"the 2026-07-28 client rejected the denial: {denied!r}"
    assert denied.is_error and denied.content[0].text.startswith("[POLICY DENIED] ")


def modern_request(method, id, **params):
    params["_meta"] = {"io.modelcontextprotocol/protocolVersion": MODERN,
                       "io.modelcontextprotocol/clientCapabilities": {}}
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params}


def modern_post(gateway, message, name=None, token=ALICE, **extra):
    headers = mcp_headers(token=token, **{"MCP-Protocol-Version": MODERN, "Mcp-Method": message["method"]}, **extra)
    if name is not None:
        headers.append(("Mcp-Name", name))
    return raw_request(gateway.port, "POST", "/mcp", json.dumps(message), headers)


@pytest.mark.parametrize("json_mode", [False, True])
def test_modern_stateless_raw(json_mode, request, gateway_factory, policy_config):
    upstream = request.getfixturevalue("stateless_json" if json_mode else "stateless")
    gateway = gateway_factory(upstream, policy_config)
    status, headers, body = modern_post(gateway, modern_request("server/discover", 1))
    assert status == 200, body
    assert "mcp-session-id" not in headers
    assert MODERN in json.loads(body)["result"]["supportedVersions"]

    status, headers, body = modern_post(gateway, modern_request("tools/list", 2))
    assert status == 200, body
    listed = json.loads(body)["result"]
    names = [tool["name"] for tool in listed["tools"]]
    assert "delete_instance" not in names and len(names) == 44
    # Filtering keeps the rest of the result as the upstream sent it (resultType, ttlMs, cacheScope).
    direct = raw_request(upstream.port, "POST", "/mcp", json.dumps(modern_request("tools/list", 2)),
                         mcp_headers(token=None, **{"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"}))
    expected = json.loads(direct[2])["result"]
    assert {k: v for k, v in listed.items() if k != "tools"} == {k: v for k, v in expected.items() if k != "tools"}

    upstream.reset()
    status, _, body = modern_post(gateway, modern_request("tools/call", 3, name="create_invoice", arguments={}),
                                  name="create_invoice")
    assert status == 200, body
    reply = json.loads(body)
    assert reply["id"] == 3 and reply["result"]["isError"] is True
    assert reply["result"]["content"][0]["text"].startswith("[POLICY DENIED] ")
    denial = reply
    status, _, body = modern_post(gateway, modern_request("tools/call", 4, name="delete_instance", arguments={}),
                                  name="delete_instance")
    assert status == 200 and json.loads(body)["error"]["code"] == -32602
    assert upstream.methods() == []

    status, _, body = modern_post(gateway, modern_request("tools/call", 5, name="get_server_status", arguments={}),
                                  name="get_server_status")
    assert status == 200, body
    assert json.loads(body)["result"].get("isError") is not True
    assert [c["name"] for c in upstream.calls()] == ["get_server_status"]

    # GET and DELETE are not part of 2026-07-28: the upstream's 405 comes back.
    status, _, _ = raw_request(gateway.port, "GET", "/mcp", headers=[("Authorization", f"Bearer {ALICE}"),
                                                                     ("Accept", "text/event-stream"),
                                                                     ("MCP-Protocol-Version", MODERN)])
    assert status == 405
    # 2026-07-28 results carry resultType; the SDK clients reject a result without it.
    assert denial["result"].get("resultType") == "complete", denial
