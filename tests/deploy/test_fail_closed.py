"""The sidecar fails closed: no policy, no traffic; and its probes say so
without a grant token and without reaching the MCP server."""
import json
import socket
import subprocess
import time

import pytest
import yaml

from harness import ENVOY, http, rpc, wrapper_config
from sidecar import RESOURCE_FILE, SIDECAR, render, resource_text

POLICY = {"version": "1", "default": "deny", "tools": {"get_server_status": {}}}
BROKEN = dict(POLICY, default="maybe")
TOKEN = "demo-token-alice"
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "Authorization": f"Bearer {TOKEN}"}


def post(sidecar, message, timeout=10):
    return http("POST", sidecar.url, json.dumps(message), HEADERS, timeout=timeout)


def stays(sidecar, path, status, seconds):
    """The health listener answers `status` on `path` throughout `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got, _, _ = http("GET", sidecar.health + path, timeout=2)
        assert got == status, f"{path} answered {got}"
        time.sleep(0.25)


def test_rejected_policy_at_start_serves_nothing_and_is_not_ready(double, sidecar_factory):
    sidecar = sidecar_factory(double, resource_text(wrapper_config(BROKEN)), wait_ready=False)
    # Health checks run every second while failing: 3 s is several rounds.
    stays(sidecar, "/ready", 503, 3)
    status, _, _ = post(sidecar, rpc("initialize", {}, id=1))
    assert status == 500
    assert double.methods() == []
    assert "rejected policy configuration" in sidecar.log_text()
    # Liveness does not depend on the policy: restarting would not fix it.
    assert http("GET", sidecar.health + "/live")[0] == 200

    # A good version arrives (the Secret is fixed): ready and enforcing.
    sidecar.volume.publish({RESOURCE_FILE: resource_text(wrapper_config(POLICY))})
    sidecar.wait_ready(200, timeout=15)
    status, _, _ = post(sidecar, rpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                                    "clientInfo": {"name": "t", "version": "1"}}, id=1))
    assert status == 200
    status, headers, _ = http("POST", sidecar.url, json.dumps(rpc("tools/list", id=2)),
                              {"Content-Type": "application/json"})
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")


def test_missing_policy_file_stops_envoy_from_starting(tmp_path, double):
    config, source = render(yaml.safe_load(SIDECAR.read_text()), tmp_path / "rendered", double.port, 0)
    source["path"] = str(tmp_path / "policy" / RESOURCE_FILE)
    source["watched_directory"]["path"] = str(tmp_path / "policy")
    (tmp_path / "policy").mkdir()
    (tmp_path / "envoy.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([str(ENVOY), "-c", str(tmp_path / "envoy.yaml"), "--disable-hot-restart",
                             "--log-level", "error"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "does not exist" in result.stdout + result.stderr
    assert double.methods() == []


def test_probes_need_no_token_and_never_reach_the_mcp_server(double, sidecar_factory):
    sidecar = sidecar_factory(double, resource_text(wrapper_config(POLICY)))
    double.reset()
    for path in ("/ready", "/live"):
        status, _, _ = http("GET", sidecar.health + path)
        assert status == 200, path
    for method, path in (("GET", "/mcp"), ("POST", "/mcp"), ("GET", "/health"), ("GET", "/")):
        status, _, _ = http(method, sidecar.health + path, body=b"{}" if method == "POST" else None,
                            headers={"Content-Type": "application/json"})
        assert status == 404, (method, path)
    assert double.methods() == [] and double.calls() == []
    # The MCP listener itself wants a token, on every path.
    status, _, _ = http("GET", f"http://127.0.0.1:{sidecar.port}/health")
    assert status == 401


def test_readiness_follows_the_mcp_server(double, sidecar_factory):
    sidecar = sidecar_factory(double, resource_text(wrapper_config(POLICY)))
    double.stop()
    sidecar.wait_ready(503, timeout=15)
    assert http("GET", sidecar.health + "/live")[0] == 200


def test_without_allow_on_headers_stop_iteration_requests_stall(double, sidecar_factory):
    """What Istio's WasmPlugin produces (it cannot set the field): every
    authenticated request hangs until the client gives up, and nothing is
    forwarded."""
    sidecar = sidecar_factory(double, resource_text(wrapper_config(POLICY), allow_on_headers_stop_iteration=False))
    # Readiness does not see it: the probe's GET has no token, so the filter
    # answers it (401) from the headers alone, as it answers any request
    # without a token. POSTs with a token wait for their body, and stall:
    status, _, _ = http("POST", sidecar.url, json.dumps(rpc("tools/list", id=1)),
                        {"Content-Type": "application/json"}, timeout=5)
    assert status == 401
    for _ in range(2):
        with pytest.raises((TimeoutError, socket.timeout, OSError)):
            http("POST", sidecar.url, json.dumps(rpc("tools/list", id=1)), HEADERS, timeout=2)
    assert double.methods() == []
    # The telltale stat: connections the clients closed with a request
    # still in flight (no response ever came).
    stat = "http.mcp.downstream_cx_destroy_remote_active_rq"
    deadline = time.monotonic() + 5
    while True:
        _, _, body = http("GET", f"{sidecar.admin}/stats?filter=^{stat.replace('.', '[.]')}$")
        if body.decode().strip() == f"{stat}: 2" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert body.decode().strip() == f"{stat}: 2"
