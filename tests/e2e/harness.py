"""Processes for end-to-end tests: the Mcp Afip double and a real Envoy with
the filter, each on free loopback ports, bounded in time, always stopped."""
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import render_envoy  # noqa: E402

ENVOY = ROOT / ".venv" / "bin" / "envoy"
MODULE = ROOT / "dist" / "mcp_policy_filter.wasm"
DOUBLE = ROOT / "tests" / "upstream" / "afip-double" / "server.mjs"
DEMO_GRANTS = json.loads((ROOT / "policies" / "demo-grants.json").read_text())
TOKENS = {"alice": "demo-token-alice", "bob": "demo-token-bob"}
START_TIMEOUT = 30


def http(method, url, body=None, headers=None, timeout=30):
    """One HTTP request; returns (status, headers dict lowercased, body bytes)."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class AfipDouble:
    """The Mcp Afip test double (official TypeScript SDK) on a free port."""

    def __init__(self, log_path, json_response=False):
        env = dict(os.environ, AFIP_DOUBLE_HOST="127.0.0.1")
        if json_response:
            env["AFIP_DOUBLE_JSON_RESPONSE"] = "1"
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            ["node", str(DOUBLE), "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env,
        )
        deadline = time.monotonic() + START_TIMEOUT
        line = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)/mcp", line)
            if match:
                self.port = int(match.group(1))
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"afip-double exited: {line}")
        else:
            self.stop()
            raise RuntimeError("afip-double did not start")
        self.base = f"http://127.0.0.1:{self.port}"

    def calls(self, name=None):
        url = f"{self.base}/__calls" + (f"?name={name}" if name else "")
        _, _, body = http("GET", url)
        return json.loads(body)["calls"]

    def methods(self):
        _, _, body = http("GET", f"{self.base}/__calls")
        return json.loads(body)["methods"]

    def reset(self):
        http("DELETE", f"{self.base}/__calls")

    def stop(self):
        _stop(self.process)
        self.log.close()


def wrapper_config(policy, grants=None, **settings):
    """The filter's wrapper configuration with the demo grants."""
    config = {"policy": policy, "grants": DEMO_GRANTS if grants is None else grants}
    config.update(settings)
    return config


class Gateway:
    """Real Envoy with the filter, rendered from envoy/demo.yaml."""

    def __init__(self, tmp_path, upstream_port, configuration, concurrency=1):
        self.dir = pathlib.Path(tmp_path)
        self.config_path = self.dir / "envoy.yaml"
        self.admin_path = self.dir / "admin-address"
        self.log_path = self.dir / "envoy.log"
        args = type("Args", (), {})()
        args.listen_port = 0
        args.admin_port = 0
        args.upstream = f"127.0.0.1:{upstream_port}"
        args.module = str(MODULE)
        args.policy = None
        args.configuration_json = configuration if isinstance(configuration, str) else json.dumps(configuration)
        config = render_envoy.render(args, say=lambda message: None)
        import yaml
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(ENVOY), "-c", str(self.config_path), "--concurrency", str(concurrency),
             "--disable-hot-restart", "--admin-address-path", str(self.admin_path),
             "--log-level", "warn", "--component-log-level", "wasm:info"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except Exception:
            self.stop()
            raise

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("envoy exited:\n" + self.log_text()[-3000:])
            if self.admin_path.exists() and self.admin_path.read_text().strip():
                self.admin = "http://" + self.admin_path.read_text().strip()
                try:
                    status, _, _ = http("GET", self.admin + "/ready", timeout=2)
                    if status == 200:
                        _, _, body = http("GET", self.admin + "/listeners?format=json")
                        listener = json.loads(body)["listener_statuses"][0]
                        self.port = listener["local_address"]["socket_address"]["port_value"]
                        self.url = f"http://127.0.0.1:{self.port}/mcp"
                        return
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.1)
        raise RuntimeError("envoy did not become ready:\n" + self.log_text()[-3000:])

    def log_text(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def post(self, message, token="demo-token-alice", headers=None, raw=None, path="/mcp"):
        all_headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        body = raw if raw is not None else json.dumps(message)
        return http("POST", f"http://127.0.0.1:{self.port}{path}", body, all_headers)

    def stop(self):
        _stop(self.process)
        self.log.close()


def rpc(method, params=None, id=1):
    message = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def initialize_params():
    return {"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "1"}}


def sse_messages(body):
    """JSON-RPC messages carried by an event-stream body."""
    messages = []
    for event in re.split(r"\r?\n\r?\n", body.decode()):
        data = [line[5:].lstrip() if line.startswith("data:") else None for line in event.splitlines()]
        data = [d for d in data if d is not None]
        if data:
            messages.append(json.loads("\n".join(data)))
    return messages


def response_messages(status_headers_body):
    """JSON-RPC messages of a response, whether JSON or an event stream."""
    _, headers, body = status_headers_body
    if headers.get("content-type", "").startswith("text/event-stream"):
        return sse_messages(body)
    parsed = json.loads(body)
    return parsed if isinstance(parsed, list) else [parsed]


def wait_for_fresh_window(window_secs, margin=15):
    """Sleep past a window edge if fewer than `margin` seconds remain."""
    remaining = window_secs - time.time() % window_secs
    if remaining < margin:
        time.sleep(remaining + 0.5)
