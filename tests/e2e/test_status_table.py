"""The README's table of refusals is true: every cell of its two Streamable
HTTP columns is produced through real Envoy and compared with what the
README says. The 2024-11-05 column is exercised in test_transports.py."""
import hashlib
import json
import pathlib
import re

import socket

import pytest

import render_envoy
from harness import DEMO_GRANTS, ROOT, http, initialize_params, rpc, wrapper_config

MODERN = "2026-07-28"
POLICY = {
    "version": "1",
    "default": "deny",
    "hide": ["delete_instance"],
    "tools": {
        "get_server_status": {},
        "send_text": {"limits": [{"counter": "never", "window": 60, "max": 0}]},
        # Counted by a rate-limit service nothing answers for.
        "check_number": {"limits": [{"counter": "svc", "window": 60, "max": 100, "counted_by": "rate_limit_service"}]},
    },
    "methods": {"prompts/get": "deny", "notifications/roots/list_changed": "deny"},
}
# The row a request cannot produce through a healthy Envoy; unit tests cover it
# (src/filter/tests/fail_closed.rs).
HOST_FAILURE_ROWS = ("the filter cannot read the request",)


def readme_rows():
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| case | Streamable HTTP"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append(cells)
    return rows


def expected(cell):
    """(status, code) from a cell such as `200, result` or `400, -32700`; None for prose."""
    match = re.match(r"^(\d{3}), (result|none|-?\d+)", cell)
    if not match:
        return None
    code = match.group(2)
    return int(match.group(1)), code if code in ("result", "none") else int(code)


def observed(response):
    status, headers, body = response
    if not body.strip():
        return status, "none"
    text = body.decode()
    if headers.get("content-type", "").startswith("text/event-stream"):
        text = "\n".join(line[5:].strip() for line in text.splitlines() if line.startswith("data:"))
    reply = json.loads(text)
    if isinstance(reply, list):
        reply = reply[0]
    if "error" in reply:
        return status, reply["error"]["code"]
    assert reply["result"].get("isError") is True, reply
    assert reply["result"]["content"][0]["text"].startswith("[POLICY DENIED] ")
    return status, "result"


class Client:
    """Sends one kind of request for a protocol column."""

    def __init__(self, gateway, modern):
        self.gateway = gateway
        self.modern = modern
        self.session = None
        if not modern:
            status, headers, _ = gateway.post(rpc("initialize", initialize_params(), id=0))
            assert status == 200
            self.session = headers["mcp-session-id"]

    def headers(self, message):
        if not self.modern:
            return {"Mcp-Session-Id": self.session, "MCP-Protocol-Version": "2025-06-18"}
        headers = {"MCP-Protocol-Version": MODERN}
        if isinstance(message, dict):
            headers["Mcp-Method"] = message["method"]
            target = message.get("params", {}).get("name")
            if target is not None:
                headers["Mcp-Name"] = str(target)
        return headers

    def send(self, message, token="demo-token-alice", headers=None, raw=None):
        if self.modern and isinstance(message, dict):
            params = message.setdefault("params", {})
            params["_meta"] = {"io.modelcontextprotocol/protocolVersion": MODERN,
                               "io.modelcontextprotocol/clientCapabilities": {}}
        all_headers = self.headers(message)
        all_headers.update(headers or {})
        return self.gateway.post(message, token=token, headers=all_headers, raw=raw)


def call(name, arguments=None, id=5):
    return rpc("tools/call", {"name": name, "arguments": arguments or {}}, id=id)


def probe(case, client):
    """The response to the request that README row `case` describes."""
    if case.startswith("denied `tools/call`"):
        return client.send(call("create_invoice", {"amount_total": 1}))
    if case.startswith("rate-limited"):
        response = client.send(call("send_text", {"instance": "a", "number": "1", "text": "x"}))
        assert int(response[1]["retry-after"]) > 0
        return response
    if case.startswith("hidden tool"):
        return client.send(call("delete_instance", {"instance": "a"}))
    if case.startswith("other denied method"):
        return client.send(rpc("prompts/get", {"name": "p"}, id=6))
    if case.startswith("denied notification"):
        return client.send({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"})
    if case.startswith("missing, malformed or unknown bearer"):
        response = client.send(call("get_server_status"), token="not-a-grant")
        assert response[1]["www-authenticate"].startswith("Bearer")
        return response
    if case.startswith("a grant's `request_limit` spent"):
        # carol's request limit is 1 per hour: her first request spends it,
        # although it is refused itself.
        client.send(call("create_invoice", {"amount_total": 1}), token="demo-token-carol")
        response = client.send(call("get_server_status"), token="demo-token-carol")
        assert int(response[1]["retry-after"]) > 0
        return response
    if case.startswith("session id not sealed for this grant"):
        return client.send(call("get_server_status"), token="demo-token-bob")
    if case.startswith("malformed JSON"):
        return client.send(None, raw='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}')
    if case.startswith("not JSON-RPC 2.0"):
        return client.send(None, raw='{"jsonrpc":"1.0","id":1,"method":"ping"}')
    if case.startswith("`tools/call` without a string"):
        return client.send(None, raw='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}')
    if case.startswith("a batch with"):
        return client.send([rpc("ping", id=1)], headers={"MCP-Protocol-Version": "2025-06-18"})
    if case.startswith("an `MCP-Protocol-Version`"):
        return client.send(call("get_server_status"), headers={"MCP-Protocol-Version": "2099-01-01"})
    if case.startswith("`Mcp-Method`"):
        return client.send(call("get_server_status"), headers={"Mcp-Method": "tools/list"})
    if case.startswith("body over"):
        return client.send(call("send_text", {"text": "x" * (1024 * 1024 + 1)}))
    if case.startswith("the rate-limit service cannot count"):
        return client.send(call("check_number", {"instance": "a", "number": "1"}))
    if case.startswith("`Content-Type` other than"):
        return client.send(call("get_server_status"), headers={"Content-Type": "text/plain"})
    raise AssertionError(f"no probe for README row {case!r}")


@pytest.mark.parametrize("column", [1, 2], ids=["streamable", "2026-07-28"])
def test_every_cell_of_the_status_table(column, double, stateless, gateway_factory):
    upstream = double if column == 1 else stateless
    carol = {"name": "carol", "token_sha256": [hashlib.sha256(b"demo-token-carol").hexdigest()],
             "request_limit": {"window": "hour", "max": 1}}
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{unused.getsockname()[1]}"
    gateway = gateway_factory(
        upstream, wrapper_config(POLICY, grants=DEMO_GRANTS + [carol], rate_limit_service={"cluster": "mcp_policy_rls"}),
        mutate=lambda config: render_envoy.set_cluster_address(config, render_envoy.RLS_CLUSTER, dead))
    client = Client(gateway, modern=(column == 2))
    upstream.reset()
    checked = 0
    for row in readme_rows():
        case, want = row[0], expected(row[column])
        if case.startswith(HOST_FAILURE_ROWS) or want is None:
            continue
        got = observed(probe(case, client))
        assert got == want, f"README row {case!r}: README says {want}, Envoy answered {got}"
        checked += 1
    assert checked >= 12
    assert upstream.calls() == [], "nothing refused reached the upstream"
