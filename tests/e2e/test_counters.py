"""Rate-limit counters through real Envoy with several workers: exact under
concurrency, shared counters, and refunds only when the call did not run."""
import http.client
import json
import threading

from harness import initialize_params, rpc, wait_for_fresh_window, wrapper_config

WINDOW = 3600
MAX = 30


def open_session(gateway, token="demo-token-alice"):
    status, headers, _ = gateway.post(rpc("initialize", initialize_params(), id=0), token=token)
    assert status == 200
    return headers["mcp-session-id"]


def fire(port, session, token, calls, connections):
    """`calls` tools/call requests over `connections` keep-alive connections."""
    results = []
    lock = threading.Lock()
    per_connection = [calls[i::connections] for i in range(connections)]

    def worker(batch):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for request_id, (tool, arguments) in batch:
                body = json.dumps(rpc("tools/call", {"name": tool, "arguments": arguments}, id=request_id))
                connection.request("POST", "/mcp", body, {
                    "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                    "Authorization": f"Bearer {token}", "Mcp-Session-Id": session,
                    "MCP-Protocol-Version": "2025-06-18"})
                response = connection.getresponse()
                text = response.read().decode()
                with lock:
                    results.append((response.status, "[POLICY DENIED] Rate limit" in text))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in per_connection]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_exactly_max_admitted_under_concurrency(double, gateway_factory):
    policy = {"version": "1", "default": "deny", "tools": {"logout_instance": {"limits": [
        {"counter": "logout_instance_rate", "window": WINDOW, "max": MAX, "scope": "grant"}]}}}
    gateway = gateway_factory(double, wrapper_config(policy), concurrency=4)
    wait_for_fresh_window(WINDOW, margin=60)
    alice = open_session(gateway)
    calls = [(i, ("logout_instance", {"instance": "alice-phone"})) for i in range(10 * MAX + 20)]
    results = fire(gateway.port, alice, "demo-token-alice", calls, connections=64)
    assert len(results) == len(calls)
    assert all(status == 200 for status, _ in results)
    assert sum(1 for _, limited in results if limited) == len(calls) - MAX
    assert len(double.calls("logout_instance")) == MAX

    bob = open_session(gateway, "demo-token-bob")
    results = fire(gateway.port, bob, "demo-token-bob", [(1, ("logout_instance", {"instance": "bob"}))], 1)
    assert results == [(200, False)]
    assert len(double.calls("logout_instance")) == MAX + 1


def test_a_shared_counter_admits_max_across_tools(double, gateway_factory):
    shared = {"counter": "instance-ops", "window": WINDOW, "max": 10}
    policy = {"version": "1", "default": "deny", "tools": {
        "restart_instance": {"limits": [shared]}, "logout_instance": {"limits": [shared]}}}
    gateway = gateway_factory(double, wrapper_config(policy), concurrency=2)
    wait_for_fresh_window(WINDOW, margin=60)
    session = open_session(gateway)
    calls = [(i, ("restart_instance" if i % 2 else "logout_instance", {"instance": "x"})) for i in range(60)]
    results = fire(gateway.port, session, "demo-token-alice", calls, connections=16)
    assert sum(1 for _, limited in results if not limited) == 10
    assert len(double.calls("restart_instance")) + len(double.calls("logout_instance")) == 10


def test_refund_when_the_call_did_not_run_but_not_on_disconnect(double, gateway_factory):
    policy = {"version": "1", "default": "deny", "tools": {"send_text": {"limits": [
        {"counter": "texts", "window": WINDOW, "max": 1}]}}}
    gateway = gateway_factory(double, wrapper_config(policy))
    wait_for_fresh_window(WINDOW, margin=60)
    session = open_session(gateway)
    headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"}

    def send(arguments, id):
        return gateway.post(rpc("tools/call", {"name": "send_text", "arguments": arguments}, id=id), headers=headers)

    status, _, _ = send({"instance": "a", "__fail": "http500"}, 1)
    assert status == 500
    status, _, body = send({"instance": "a", "__fail": "jsonrpc"}, 2)
    assert status == 200 and b'"error"' in body
    status, _, body = send({"instance": "a", "__fail": "error"}, 3)  # the tool ran and failed
    assert status == 200 and b"isError" in body and b"POLICY DENIED" not in body
    status, _, body = send({"instance": "a"}, 4)
    assert b"[POLICY DENIED] Rate limit of 1 per 3600 seconds" in body
    assert len(double.calls("send_text")) == 3


def test_a_client_that_disconnects_does_not_get_its_quota_back(double, gateway_factory):
    policy = {"version": "1", "default": "deny", "tools": {"send_text": {"limits": [
        {"counter": "texts", "window": WINDOW, "max": 1}]}}}
    gateway = gateway_factory(double, wrapper_config(policy))
    wait_for_fresh_window(WINDOW, margin=60)
    session = open_session(gateway)
    headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"}
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=0.5)
    body = json.dumps(rpc("tools/call", {"name": "send_text", "arguments": {"instance": "a", "__sleep_ms": 1500}}, id=1))
    connection.request("POST", "/mcp", body, {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                                              "Authorization": "Bearer demo-token-alice", **headers})
    try:
        connection.getresponse().read()
        raise AssertionError("the slow call answered before the client gave up")
    except TimeoutError:
        pass
    finally:
        connection.close()
    import time
    time.sleep(2)
    status, _, body = gateway.post(rpc("tools/call", {"name": "send_text", "arguments": {"instance": "a"}}, id=2), headers=headers)
    assert b"[POLICY DENIED] Rate limit" in body
