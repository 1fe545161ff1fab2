"""Policy updates without restarts: the shipped sidecar (envoy/sidecar.yaml)
gets the filter's configuration by file-based ECDS from a directory laid out
like a Kubernetes Secret volume, and applies new versions while it runs:
counters kept, connections kept, invalid versions refused."""
import json

from harness import http, initialize_params, response_messages, rpc, wait_for_fresh_window, wrapper_config
from sidecar import ECDS_STATS, RESOURCE_FILE, KeepAlive, poll, resource_text

WINDOW = 3600
LIMIT = {"counter": "logout_instance_rate", "window": WINDOW, "max": 5, "scope": "grant"}
V1 = {"version": "1", "default": "deny", "tools": {"logout_instance": {"limits": [LIMIT]}}}
V2 = {"version": "1", "default": "deny",
      "tools": {"logout_instance": {"limits": [LIMIT]}, "get_server_status": {}}}
BROKEN = dict(V2, default="maybe")
TOKEN = "demo-token-alice"
RATE_LIMITED = f"[POLICY DENIED] Rate limit of 5 per {WINDOW} seconds reached. Try again later."
MCP_HEADERS = {"MCP-Protocol-Version": "2025-06-18"}


def reply(response):
    [message] = [m for m in response_messages(response) if "id" in m]
    return message


def denial(message):
    """The denial text of a tools/call reply, or None if it was allowed."""
    result = message.get("result", {})
    if result.get("isError") and result["content"][0]["text"].startswith("[POLICY DENIED]"):
        return result["content"][0]["text"]
    return None


class Agent:
    """An MCP client on one kept-alive connection."""

    def __init__(self, port):
        self.connection = KeepAlive(port)
        status, headers, body = self.connection.post(rpc("initialize", initialize_params(), id=0), TOKEN)
        assert status == 200, body
        self.session = headers["mcp-session-id"]
        self.headers = dict(MCP_HEADERS, **{"Mcp-Session-Id": self.session})
        status, _, _ = self.connection.post({"jsonrpc": "2.0", "method": "notifications/initialized"},
                                            TOKEN, self.headers)
        assert status == 202
        self.next_id = 1

    def call(self, tool, arguments=None):
        self.next_id += 1
        response = self.connection.post(
            rpc("tools/call", {"name": tool, "arguments": arguments or {}}, id=self.next_id), TOKEN, self.headers)
        assert response[0] == 200, response
        return reply(response)

    def call_on_new_connection(self, port, tool, arguments=None):
        """The same session, on a new connection."""
        self.next_id += 1
        response = http("POST", f"http://127.0.0.1:{port}/mcp",
                        json.dumps(rpc("tools/call", {"name": tool, "arguments": arguments or {}}, id=self.next_id)),
                        dict(KeepAlive.HEADERS, Authorization=f"Bearer {TOKEN}", **self.headers))
        assert response[0] == 200, response
        return reply(response)

    def close(self):
        self.connection.close()


def test_policy_update_keeps_counters_and_connections_and_refuses_invalid_versions(double, sidecar_factory):
    wait_for_fresh_window(WINDOW, margin=60)
    sidecar = sidecar_factory(double, resource_text(wrapper_config(V1)))
    assert sidecar.stats()[f"{ECDS_STATS}.update_success"] == 1
    agent = Agent(sidecar.port)
    try:
        # (1) Under the initial policy: 3 of the 5 logout_instance calls, and
        # get_server_status denied by default.
        for _ in range(3):
            assert denial(agent.call("logout_instance", {"instance": "a"})) is None
        assert "(default deny)" in json.dumps(agent.call("get_server_status"))
        assert len(double.calls("logout_instance")) == 3
        assert double.calls("get_server_status") == []

        # (2) The kubelet's update of a Secret volume: a new ..data directory,
        # swapped in by an atomic rename. The new policy also allows
        # get_server_status; the limit is the same.
        sidecar.volume.publish({RESOURCE_FILE: resource_text(wrapper_config(V2))})
        poll(lambda: sidecar.stats()[f"{ECDS_STATS}.update_success"] == 2, "ECDS update_success 2")
        poll(lambda: denial(agent.call_on_new_connection(sidecar.port, "get_server_status")) is None,
             "get_server_status allowed on a new connection")
        # The connection opened before the update now gets the new policy.
        poll(lambda: denial(agent.call("get_server_status")) is None,
             "get_server_status allowed on the kept-alive connection")
        assert sidecar.stats()[f"{ECDS_STATS}.update_rejected"] == 0

        # Counters survived: only 2 more calls fit in the budget of 5.
        for _ in range(2):
            assert denial(agent.call("logout_instance", {"instance": "a"})) is None
        assert denial(agent.call("logout_instance", {"instance": "a"})) == RATE_LIMITED
        assert len(double.calls("logout_instance")) == 5

        # (3) An invalid version (a plain atomic rename of the file this
        # time) is refused by Envoy, because the filter's on_configure
        # rejects it; the previous policy stays in force.
        before = sidecar.stats()
        sidecar.volume.replace_file(RESOURCE_FILE, resource_text(wrapper_config(BROKEN)))
        poll(lambda: sidecar.stats()[f"{ECDS_STATS}.update_rejected"] == 1, "ECDS update_rejected 1")
        after = sidecar.stats()
        assert after[f"{ECDS_STATS}.config_fail"] == before[f"{ECDS_STATS}.config_fail"] + 1
        assert after[f"{ECDS_STATS}.update_success"] == 2
        log = sidecar.log_text()
        assert "rejected policy configuration" in log and "/policy/default" in log

        assert denial(agent.call("get_server_status")) is None
        assert denial(agent.call("logout_instance", {"instance": "a"})) == RATE_LIMITED
        assert "(default deny)" in json.dumps(agent.call("create_invoice", {"amount_total": 1}))
        assert denial(agent.call_on_new_connection(sidecar.port, "get_server_status")) is None
        assert len(double.calls("logout_instance")) == 5
        assert double.calls("create_invoice") == []
        sidecar.wait_ready(200)
    finally:
        agent.close()
