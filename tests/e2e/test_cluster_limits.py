"""Limits that hold across replicas: two real Envoys (each --concurrency 2)
whose filters count limits with the project's rate-limit service
(mcp-policy-rls) over a real Redis. Exact across both Envoys; the service or
Redis down, or Redis full, refuses calls (fail closed) and admits none
uncounted; windows roll over; session, header and claim scopes count as one
budget on both Envoys. One Redis, one service, one upstream and two Envoys
serve the whole module; each test uses counters of its own."""
import http.client
import json
import subprocess
import threading
import time

import pytest

from cluster_harness import Redis, RateLimitService, cluster_gateway, counted_by_service
from harness import AfipDouble, initialize_params, rpc, wait_for_fresh_window
from test_identity import AUDIENCE, ISSUER, Keys

MAX = 30
HOUR = 3600
RATE_LIMITED = "[POLICY DENIED] Rate limit of"
UNAVAILABLE = "mcp_policy_rate_limit_unavailable"

POLICY = {"version": "1", "default": "deny", "tools": {
    "logout_instance": {"limits": [{"counter": "logouts", "window": "hour", "max": MAX}]},
    "restart_instance": {"limits": [{"counter": "restarts", "window": "hour", "max": 10_000}]},
    "get_server_status": {"limits": [{"counter": "status", "window": 1, "max": 1}]},
    "send_text": {"limits": [{"counter": "texts", "window": "hour", "max": 3, "scope": "session"}]},
    "check_number": {"limits": [{"counter": "checks", "window": "hour", "max": 3, "scope": "header:x-team"}]},
}}
TENANTS = {"version": "1", "default": "deny", "tools": {
    "get_contacts": {"limits": [{"counter": "contacts", "window": "hour", "max": 3, "scope": "claim:tenant"}]},
}}


@pytest.fixture(scope="module")
def keys():
    return Keys()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, keys):
    """(redis, rls, double, [gateway 1, gateway 2])."""
    directory = tmp_path_factory.mktemp("cluster")
    started = []
    try:
        redis = Redis(directory, maxmemory="8mb")
        started.append(redis)
        rls = RateLimitService(directory, redis)
        started.append(rls)
        double = AfipDouble(directory / "double.log")
        started.append(double)
        configuration = counted_by_service(POLICY, grants=[
            {"name": "alice", "token_sha256": ["1159bf80f41ccf3d5efafda50135b734fe094f032809efd1a5d85455c5359b40"]},
            {"name": "bob", "token_sha256": ["dafd3cb82dc96934e400d5d835cd9b3ddb0233dc7aa4850ad64390e16ce31a74"]},
            {"name": "tenants", "jwt": {"issuer": ISSUER, "audience": AUDIENCE}, "policy": "tenants"},
        ], policies={"tenants": TENANTS}, service={"timeout_ms": 3000})
        gateways = []
        for index in (1, 2):
            gateway = cluster_gateway(directory / f"envoy{index}", double.port, configuration, rls,
                                      mutate=lambda config: with_jwt_authn(config, keys))
            started.append(gateway)
            gateways.append(gateway)
        yield redis, rls, double, gateways
    finally:
        for process in reversed(started):
            process.stop()


def with_jwt_authn(config, keys):
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["http_filters"].insert(0, {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"mcp": {
                "issuer": ISSUER, "audiences": [AUDIENCE],
                "local_jwks": {"inline_string": json.dumps(keys.jwks)},
                "payload_in_metadata": "jwt_payload", "forward": False}},
            "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "mcp"}, {"allow_missing_or_failed": {}}]}}}],
        },
    })


def open_session(gateway, token="demo-token-alice"):
    status, headers, _ = gateway.post(rpc("initialize", initialize_params(), id=0), token=token)
    assert status == 200
    return headers["mcp-session-id"]


def call(gateway, tool, session, token="demo-token-alice", headers=None, id=1):
    extra = {"MCP-Protocol-Version": "2025-06-18", "Mcp-Session-Id": session, **(headers or {})}
    status, reply_headers, body = gateway.post(
        rpc("tools/call", {"name": tool, "arguments": {"instance": "x", "number": "1"}}, id=id),
        token=token, headers=extra)
    return status, reply_headers, body.decode()


def admitted(response):
    status, _, body = response
    return status == 200 and "[POLICY DENIED]" not in body and '"error"' not in body


def unavailable(response):
    """Refused because the rate-limit service could not count the call."""
    status, _, body = response
    return status == 500 and json.loads(body)["error"]["code"] == -32603


def fire(gateways, session, tool, calls, connections):
    """`calls` tools/call requests over `connections` keep-alive connections,
    spread evenly over the gateways; returns (status, rate-limited) of each."""
    results = []
    lock = threading.Lock()

    def worker(gateway, count, start):
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
        try:
            for request_id in range(start, start + count):
                body = json.dumps(rpc("tools/call", {"name": tool, "arguments": {"instance": "x"}}, id=request_id))
                connection.request("POST", "/mcp", body, {
                    "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                    "Authorization": "Bearer demo-token-alice", "Mcp-Session-Id": session,
                    "MCP-Protocol-Version": "2025-06-18"})
                response = connection.getresponse()
                text = response.read().decode()
                with lock:
                    results.append((response.status, RATE_LIMITED in text))
        finally:
            connection.close()

    per_connection = [calls // connections + (1 if index < calls % connections else 0) for index in range(connections)]
    threads = []
    start = 1
    for index, count in enumerate(per_connection):
        threads.append(threading.Thread(target=worker, args=(gateways[index % len(gateways)], count, start)))
        start += count
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return results


def admitted_again(gateway, session, timeout=20):
    """A call admitted once the service (and its connections) are back; the
    calls refused meanwhile are never forwarded."""
    deadline = time.monotonic() + timeout
    while True:
        response = call(gateway, "restart_instance", session)
        if admitted(response) or time.monotonic() > deadline:
            return admitted(response)
        assert unavailable(response), response
        time.sleep(0.2)


def audit_until(gateway, keep, timeout=15):
    """The gateway's audit lines that `keep` selects, once there are some
    (Envoy writes its access log out every second or so)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in gateway.audit_lines() if keep(line)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def counted_in_redis(redis, counter):
    """The units Redis holds for `counter` in the current windows."""
    keys = [key for key in redis.cli("--scan", "--pattern", f"mcp_policy_counter_{counter}_*").splitlines() if key]
    return sum(int(redis.cli("GET", key) or 0) for key in keys)


def test_exactly_max_admitted_across_two_envoys_and_other_grants_unaffected(cluster):
    redis, _, double, gateways = cluster
    wait_for_fresh_window(HOUR, margin=120)
    session = open_session(gateways[0])
    results = fire(gateways, session, "logout_instance", 10 * MAX, connections=64)
    assert len(results) == 10 * MAX
    assert all(status == 200 for status, _ in results)
    assert sum(1 for _, limited in results if not limited) == MAX
    assert sum(1 for _, limited in results if limited) == 9 * MAX
    assert len(double.calls("logout_instance")) == MAX
    # Both Envoys asked the service; the service counted every call.
    for gateway in gateways:
        metrics = gateway.prometheus()
        assert 'mcp_policy_rls_calls{mcp_rls_result="over_limit"}' in metrics
    assert counted_in_redis(redis, "logouts") == 10 * MAX

    bob = open_session(gateways[1], "demo-token-bob")
    for gateway in gateways:
        assert admitted(call(gateway, "logout_instance", bob, token="demo-token-bob"))
    assert len(double.calls("logout_instance")) == MAX + 2


def test_a_stopped_service_refuses_calls_and_admits_none_uncounted_until_it_returns(cluster):
    redis, rls, double, gateways = cluster
    wait_for_fresh_window(HOUR, margin=60)
    session = open_session(gateways[0])
    before = len(double.calls("restart_instance"))
    outcomes = []
    stop = threading.Event()

    def keep_calling(gateway):
        while not stop.is_set():
            outcomes.append(call(gateway, "restart_instance", session))

    callers = [threading.Thread(target=keep_calling, args=(gateway,)) for gateway in gateways]
    for thread in callers:
        thread.start()
    time.sleep(0.5)
    rls.stop()
    try:
        time.sleep(0.5)
        refused_while_down = [call(gateway, "restart_instance", session) for gateway in gateways for _ in range(3)]
        stop.set()
        for thread in callers:
            thread.join(timeout=60)

        assert all(unavailable(response) for response in refused_while_down)
        assert all(admitted(response) or unavailable(response) for response in outcomes)
        forwarded = len(double.calls("restart_instance")) - before
        assert forwarded == sum(1 for response in outcomes if admitted(response))
        assert forwarded <= counted_in_redis(redis, "restarts"), "every admitted call was counted"
        for gateway in gateways:
            metrics = gateway.prometheus()
            assert 'mcp_policy_rls_calls{mcp_rls_result="unavailable"}' in metrics
            assert 'mcp_policy_decisions{mcp_outcome="rate_limit_unavailable"}' in metrics
            lines = audit_until(gateway, lambda line: line["status_source"] == UNAVAILABLE)
            assert lines and all(line["decision"] == "rate_limit_unavailable" for line in lines)
    finally:
        stop.set()
        rls.start()
    for gateway in gateways:
        assert admitted_again(gateway, session)


def test_without_redis_calls_are_refused_until_it_returns(cluster):
    redis, rls, double, gateways = cluster
    wait_for_fresh_window(HOUR, margin=60)
    session = open_session(gateways[1])
    before = len(double.calls("restart_instance"))
    redis.kill()
    try:
        for gateway in gateways:
            for _ in range(2):
                assert unavailable(call(gateway, "restart_instance", session))
        assert len(double.calls("restart_instance")) == before
    finally:
        redis.start()
    for gateway in gateways:
        assert admitted_again(gateway, session)
    assert len(double.calls("restart_instance")) == before + 2


def test_windows_roll_over(cluster):
    """A one-second window (the service's SECOND unit), max 1: in each pair of
    calls that began and ended within one second, the first is admitted and
    the second refused, on either Envoy; the next second admits again."""
    _, _, double, gateways = cluster
    session = open_session(gateways[0])
    pairs = 0
    deadline = time.monotonic() + 20
    while pairs < 3 and time.monotonic() < deadline:
        second = int(time.time())
        if time.time() - second > 0.3:
            time.sleep(second + 1 - time.time())
            continue
        first = call(gateways[pairs % 2], "get_server_status", session)
        after = call(gateways[(pairs + 1) % 2], "get_server_status", session)
        if int(time.time()) != second:
            continue  # the pair straddled a window edge: it proves nothing
        assert admitted(first), first
        assert after[0] == 200 and "Rate limit of 1 per 1 second reached" in after[2]
        assert json.loads(after[2])["result"]["_meta"]["mcp-policy/retryAfterSeconds"] == 1
        pairs += 1
        time.sleep(second + 1 - time.time())
    assert pairs == 3, "three windows, each admitting one call"


def test_session_header_and_claim_scopes_count_once_across_both_envoys(cluster, keys):
    redis, _, double, gateways = cluster
    wait_for_fresh_window(HOUR, margin=60)

    session = open_session(gateways[0])
    texts = [call(gateways[i % 2], "send_text", session) for i in range(6)]
    assert [admitted(response) for response in texts] == [True] * 3 + [False] * 3
    assert admitted(call(gateways[1], "send_text", open_session(gateways[1])))

    other = open_session(gateways[1])
    finance = [call(gateways[i % 2], "check_number", (session, other)[i % 2], headers={"x-team": "finance"})
               for i in range(6)]
    assert [admitted(response) for response in finance] == [True] * 3 + [False] * 3
    assert admitted(call(gateways[0], "check_number", session, headers={"x-team": "legal"}))

    acme = [keys.token({"sub": f"user-{i}", "tenant": "acme"}) for i in range(6)]
    tenant_session = open_session(gateways[0], token=acme[0])
    contacts = [call(gateways[i % 2], "get_contacts", tenant_session, token=acme[i]) for i in range(6)]
    assert [admitted(response) for response in contacts] == [True] * 3 + [False] * 3
    globex = keys.token({"sub": "x", "tenant": "globex"})
    assert admitted(call(gateways[1], "get_contacts", tenant_session, token=globex))
    assert len(double.calls("get_contacts")) == 4

    # The service saw whose budget only as keyed hashes.
    stored = redis.cli("--scan", "--pattern", "*").splitlines()
    assert any(key.startswith("mcp_policy_counter_texts_scope_session_value_") for key in stored)
    upstream_session = session.split(".")[0]
    for secret in (upstream_session, "finance", "legal", "acme", "globex", "user-", "alice"):
        assert not any(secret in key for key in stored), secret


def test_a_full_redis_refuses_and_the_filter_fails_closed(cluster):
    redis, rls, double, gateways = cluster
    session = open_session(gateways[0])
    before = len(double.calls("restart_instance"))
    fillers = fill(redis)
    # Filled, Redis sits at its cap, a client's buffers either side of it;
    # the cap goes just under what is now used, so that no write slips in.
    used = int(dict(line.split(":", 1) for line in redis.cli("INFO", "memory").splitlines()
                    if ":" in line)["used_memory"])
    redis.cli("CONFIG", "SET", "maxmemory", str(used - (256 << 10)))
    try:
        assert "OOM" in redis.cli("SET", "probe", "1"), "Redis is full"
        for gateway in gateways:
            assert unavailable(call(gateway, "restart_instance", session))
        assert len(double.calls("restart_instance")) == before
        assert 'mcp_policy_rls_errors_total{kind="redis_full"}' in rls.metrics()
    finally:
        for key in fillers:
            redis.cli("DEL", key)
        redis.cli("CONFIG", "SET", "maxmemory", redis.maxmemory)
    for gateway in gateways:
        assert admitted(call(gateway, "restart_instance", session))


def fill(redis):
    """Fills Redis with 1 MiB values until it refuses one (OOM, noeviction);
    returns their keys."""
    keys = []
    while len(keys) < 64:
        key = f"filler:{len(keys)}"
        done = subprocess.run(["redis-cli", "-p", str(redis.port), "-x", "SET", key], input="x" * (1 << 20),
                              capture_output=True, text=True, timeout=10)
        if "OOM" in done.stdout + done.stderr:
            return keys
        keys.append(key)
    raise AssertionError("Redis never refused a write: no maxmemory?")
