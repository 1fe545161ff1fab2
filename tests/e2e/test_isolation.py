"""No grant can hurt another, through real Envoy: sealed sessions survive
floods of made-up ids and restarts, and hold across two Envoys; counters one
grant fills never crowd out another grant's limits; unauthenticated bodies are
answered before they end; a call that outlives the route timeout keeps its
quota; and Envoy itself cuts off a slow body."""
import json
import socket
import time

import pytest

from harness import AfipDouble, Gateway, http, initialize_params, rpc, wrapper_config

ALICE, BOB = "demo-token-alice", "demo-token-bob"
POLICY = {
    "version": "1",
    "default": "deny",
    "tools": {
        "get_server_status": {},
        "send_text": {"limits": [
            {"counter": "per_user", "window": "hour", "max": 1000, "scope": "header:x-user"},
            {"counter": "per_grant", "window": "hour", "max": 3, "scope": "grant"},
            {"counter": "everyone", "window": "hour", "max": 5, "scope": "global"},
        ]},
        "check_number": {"limits": [{"counter": "checks", "window": "day", "max": 3}]},
    },
}


@pytest.fixture(scope="module")
def double(tmp_path_factory):
    upstream = AfipDouble(tmp_path_factory.mktemp("double") / "double.log")
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def json_double(tmp_path_factory):
    """The double answering with JSON: nothing is sent before the tool ends."""
    upstream = AfipDouble(tmp_path_factory.mktemp("json-double") / "double.log", json_response=True)
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def gateways(tmp_path_factory, double):
    """Starts gateways (in front of the module's double, or `upstream`);
    stops them all."""
    started = []

    def start(configuration=None, mutate=None, upstream=None):
        directory = tmp_path_factory.mktemp("gw")
        gateway = Gateway(directory, (upstream or double).port,
                          configuration or wrapper_config(POLICY, counter_slots=16), mutate=mutate)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture(scope="module")
def gateway(gateways):
    return gateways()


def headers(token, session=None, **extra):
    all_headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2025-06-18"}
    if session:
        all_headers["Mcp-Session-Id"] = session
    all_headers.update(extra)
    return all_headers


def initialize(gateway, token):
    status, response_headers, body = http("POST", gateway.url, json.dumps(rpc("initialize", initialize_params(), id=0)),
                                          headers(token))
    assert status == 200, body
    session = response_headers["mcp-session-id"]
    http("POST", gateway.url, json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
         headers(token, session))
    return session


def call(gateway, token, session, tool="get_server_status", id=1, arguments=None, **extra):
    message = rpc("tools/call", {"name": tool, "arguments": arguments or {}}, id=id)
    return http("POST", gateway.url, json.dumps(message), headers(token, session, **extra))


def keep_alive_flood(gateway, count, make_request):
    """`count` requests on one keep-alive connection; returns the statuses."""
    import http.client as http_client
    connection = http_client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    statuses = []
    try:
        for index in range(count):
            body, request_headers = make_request(index)
            connection.request("POST", "/mcp", body=body, headers=request_headers)
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        connection.close()
    return statuses


def test_a_flood_of_made_up_sessions_leaves_other_grants_untouched(gateway, double):
    denied = json.dumps(rpc("tools/call", {"name": "wire_money", "arguments": {}}, id=9))
    statuses = keep_alive_flood(gateway, 3000, lambda i: (denied, headers(ALICE, f"made-up-{i}")))
    assert set(statuses) == {404}
    double.reset()
    session = initialize(gateway, BOB)
    assert session.count(".") >= 1
    results = [call(gateway, BOB, session, id=i)[0] for i in range(50)]
    assert results == [200] * 50
    assert len(double.calls("get_server_status")) == 50
    # No session was remembered: the filter holds no table to fill.
    stats = http("GET", gateway.admin + "/stats?filter=wasm")[2].decode()
    assert "session" not in stats


def test_sealed_sessions_survive_a_restart_and_hold_across_envoys(gateways, double):
    first = gateways()
    session = initialize(first, ALICE)
    upstream_id = session.rsplit(".", 1)[0]
    assert call(first, ALICE, session)[0] == 200
    first.stop()

    # A new Envoy with the same keys: alice's session still works, and bob
    # presenting it is an unknown session, never forwarded.
    second, third = gateways(), gateways()
    double.reset()
    assert call(second, ALICE, session, id=2)[0] == 200
    status, _, body = call(second, BOB, session, id=3)
    assert status == 404 and json.loads(body)["error"]["code"] == -32001
    assert call(second, ALICE, upstream_id, id=4)[0] == 404, "the upstream's bare id is not a session"
    # Two Envoys sharing the keys accept each other's sealed sessions.
    assert call(third, ALICE, session, id=5)[0] == 200
    other = initialize(third, BOB)
    assert call(second, BOB, other, id=6)[0] == 200
    assert [c["name"] for c in double.calls()] == ["get_server_status"] * 3


def test_a_grant_filling_its_counter_share_leaves_others_their_max(gateway, double):
    time.sleep(0)
    bob = initialize(gateway, BOB)
    alice = initialize(gateway, ALICE)
    double.reset()
    text = {"instance": "i", "number": "1", "text": "hi"}
    # bob spends his grant budget (3) on 3 users, then tries 200 more users:
    # his share of 16 slots fills, and every one is refused.
    for user in range(203):
        call(gateway, BOB, bob, tool="send_text", id=user, arguments=text, **{"x-user": f"u{user}"})
    assert len(double.calls("send_text")) == 3
    # alice's grant-scoped limit admits exactly its max of 3 (the global 5,
    # minus bob's 3, leaves 2): exactly 2 reach the upstream.
    for user in range(10):
        call(gateway, ALICE, alice, tool="send_text", id=1000 + user, arguments=text, **{"x-user": f"a{user}"})
    assert len(double.calls("send_text")) == 5


def test_unauthenticated_bodies_are_answered_before_they_end(gateway, double):
    double.reset()
    sockets = []
    try:
        for _ in range(20):
            connection = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
            connection.sendall(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 1040000\r\n\r\n" + b"{" + b" " * 1000)
            sockets.append(connection)
        for connection in sockets:
            head = connection.recv(4096)
            assert head.startswith(b"HTTP/1.1 401"), head[:80]
            assert b"www-authenticate: Bearer" in head.lower().replace(b"www-authenticate: bearer", b"www-authenticate: Bearer")
    finally:
        for connection in sockets:
            connection.close()
    assert double.methods() == []


def test_a_call_that_outlives_the_route_timeout_keeps_its_quota(gateways, json_double):
    def short_timeout(config):
        listener = config["static_resources"]["listeners"][0]
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        hcm["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["timeout"] = "1s"

    double = json_double
    gateway = gateways(mutate=short_timeout, upstream=double)
    session = initialize(gateway, ALICE)
    double.reset()
    statuses = [call(gateway, ALICE, session, tool="check_number", id=i,
                     arguments={"instance": "i", "number": "1", "__sleep_ms": 2500})[0] for i in range(6)]
    assert statuses[:3] == [504] * 3, statuses
    # The three that timed out ran upstream and kept their quota: the rest
    # are refused, and the upstream never received more than the max.
    assert statuses[3:] == [200] * 3
    time.sleep(2)
    assert len(double.calls("check_number")) == 3


def test_envoy_cuts_off_a_slow_authenticated_body(gateways, double):
    def short_request_timeout(config):
        listener = config["static_resources"]["listeners"][0]
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        hcm["request_timeout"] = "2s"

    gateway = gateways(mutate=short_request_timeout)
    double.reset()
    connection = socket.create_connection(("127.0.0.1", gateway.port), timeout=15)
    try:
        connection.sendall(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Authorization: Bearer " + ALICE.encode() + b"\r\nContent-Length: 5000\r\n\r\n{")
        started = time.monotonic()
        head = b""
        while b"\r\n" not in head and time.monotonic() - started < 12:
            connection.sendall(b" ")
            time.sleep(0.2)
            connection.setblocking(False)
            try:
                head += connection.recv(4096)
            except BlockingIOError:
                pass
            finally:
                connection.setblocking(True)
        assert head.startswith(b"HTTP/1.1 408"), head[:80]
    finally:
        connection.close()
    assert double.methods() == []
