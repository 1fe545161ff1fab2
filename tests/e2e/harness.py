"""Processes for end-to-end tests: the Mcp Afip double and a real Envoy with
the filter, each on free loopback ports, bounded in time, always stopped."""
import contextlib
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
# Test-only secrets, given to every Envoy the tests start (see Gateway).
SECRETS_ENV = {
    "MCP_POLICY_SESSION_KEYS": "ZTJlLXRlc3Qtc2Vzc2lvbi1rZXktMzItYnl0ZXMteHg=",
    "MCP_POLICY_COUNTER_KEY": "ZTJlLXRlc3QtY291bnRlci1rZXktMzItYnl0ZXMteHg=",
}
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
    """The Mcp Afip test double (official TypeScript SDK) on a free port.
    `catalogue`: "both" (its merged 45 tools), or "afip" / "evolution" (the
    real server's tools/list, verbatim from tests/fixtures/servers/)."""

    def __init__(self, log_path, json_response=False, catalogue="both"):
        env = dict(os.environ, AFIP_DOUBLE_HOST="127.0.0.1")
        if json_response:
            env["AFIP_DOUBLE_JSON_RESPONSE"] = "1"
        self.catalogue = catalogue
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            ["node", str(DOUBLE), "--host", "127.0.0.1", "--port", "0", "--catalogue", catalogue],
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
                self.log.close()
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


@contextlib.contextmanager
def double_behind_gateway(directory, catalogue, configuration):
    """The afip-double serving `catalogue` behind a real Envoy with the filter
    configured by `configuration`, both kept in `directory`; yields
    (double, gateway) and stops both."""
    double = AfipDouble(directory / "double.log", catalogue=catalogue)
    try:
        gateway = Gateway(directory, double.port, configuration)
    except BaseException:
        double.stop()
        raise
    try:
        yield double, gateway
    finally:
        gateway.stop()
        double.stop()


def served_catalogue(catalogue, configuration):
    """A module-scoped fixture: (double, gateway) from double_behind_gateway,
    for conftest's `upstream` and `url`. Assign it to `served` in the module."""
    import pytest

    @pytest.fixture(scope="module")
    def served(tmp_path_factory):
        with double_behind_gateway(tmp_path_factory.mktemp(catalogue), catalogue, configuration) as pair:
            yield pair
    return served


def wrapper_config(policy, grants=None, **settings):
    """The filter's wrapper configuration with the demo grants, its secrets
    read from the environment every test Envoy gets (SECRETS_ENV)."""
    config = {"policy": policy, "grants": DEMO_GRANTS if grants is None else grants}
    config.update(settings)
    return render_envoy.with_secrets(config)


class Gateway:
    """Real Envoy with the filter, rendered from envoy/demo.yaml (or `template`)."""

    def __init__(self, tmp_path, upstream_port, configuration, concurrency=1, log_level="warn", mutate=None,
                 tls=False, module=MODULE, template=None):
        self.scheme = "https" if tls else "http"
        self.dir = pathlib.Path(tmp_path)
        self.config_path = self.dir / "envoy.yaml"
        self.admin_path = self.dir / "admin-address"
        self.log_path = self.dir / "envoy.log"
        self.audit_path = self.dir / "audit.log"
        args = type("Args", (), {})()
        args.listen_port = 0
        args.admin_port = 0
        args.upstream = f"127.0.0.1:{upstream_port}"
        args.module = str(module)
        args.template = template
        args.policy = None
        if isinstance(configuration, dict) and "version" not in configuration:
            configuration = render_envoy.with_secrets(configuration)
        args.configuration_json = configuration if isinstance(configuration, str) else json.dumps(configuration)
        config = render_envoy.render(args, say=lambda message: None)
        if mutate is not None:
            mutate(config)
        import yaml
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log = open(self.log_path, "w")
        self.audit = open(self.audit_path, "w")
        self.process = subprocess.Popen(
            [str(ENVOY), "-c", str(self.config_path), "--concurrency", str(concurrency),
             "--disable-hot-restart", "--admin-address-path", str(self.admin_path),
             "--log-level", log_level, "--component-log-level", "wasm:info"],
            stdout=self.audit, stderr=self.log, env=dict(os.environ, **SECRETS_ENV),
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
                        self.url = f"{self.scheme}://127.0.0.1:{self.port}/mcp"
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

    def audit_lines(self, at_least=1, timeout=10):
        """The access log's JSON lines, waiting for at least `at_least`."""
        deadline = time.monotonic() + timeout
        while True:
            self.audit.flush()
            lines = [json.loads(line) for line in self.audit_path.read_text().splitlines() if line.strip()]
            if len(lines) >= at_least or time.monotonic() > deadline:
                return lines
            time.sleep(0.2)

    def prometheus(self):
        _, _, body = http("GET", self.admin + "/stats/prometheus")
        return body.decode()

    def stop(self):
        _stop(self.process)
        self.log.close()
        self.audit.close()


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


def mcp_session(url, token, work, timeout=120):
    """Runs `await work(session)` in a session of the official MCP Python SDK
    client (Streamable HTTP) with `Authorization: Bearer <token>`, bounded by
    `timeout` seconds; returns what `work` returns."""
    import anyio
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async def session():
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as client:
            async with streamable_http_client(url, http_client=client) as (read, write):
                async with ClientSession(read, write) as mcp:
                    await mcp.initialize()
                    return await work(mcp)

    async def bounded():
        with anyio.fail_after(timeout):
            return await session()
    return anyio.run(bounded)


def text_of(result):
    """The text of a tool result's first content block."""
    return result.content[0].text


def call_tools(url, calls, token="demo-token-alice", timeout=60):
    """Calls each (name, arguments) in one session of the official Python SDK
    client; returns each CallToolResult, or the MCPError that a JSON-RPC
    error reply raised."""
    from mcp.shared.exceptions import MCPError

    async def work(session):
        results = []
        for name, arguments in calls:
            try:
                results.append(await session.call_tool(name, arguments))
            except MCPError as error:
                results.append(error)
        return results
    return mcp_session(url, token, work, timeout)


def call_tool(url, name, arguments, token="demo-token-alice"):
    return call_tools(url, [(name, arguments)], token)[0]


def list_tools(url, token="demo-token-alice", timeout=60):
    async def work(session):
        return (await session.list_tools()).tools
    return mcp_session(url, token, work, timeout)


def real_tools(server):
    """{name: tool} of a real server's saved tools/list (tests/fixtures/servers/)."""
    path = ROOT / "tests" / "fixtures" / "servers" / f"{server}.tools-list.json"
    return {tool["name"]: tool for tool in json.loads(path.read_text(encoding="utf-8"))["result"]["tools"]}


def assert_listed_as_the_real_server_lists_them(tools, server, expected_names):
    """`tools` (from list_tools) are `expected_names`, each exactly as `server` lists it."""
    real = real_tools(server)
    assert {tool.name for tool in tools} == expected_names
    assert len(tools) == len(expected_names)
    for tool in tools:
        assert tool.model_dump(by_alias=True, exclude_none=True) == real[tool.name]


def assert_refused_after(results, most, rule):
    """The first `most` results succeeded and the next one is the per-minute
    limit's refusal, named `rule`."""
    assert [result.is_error for result in results[:most]] == [False] * most
    refused = results[most]
    assert refused.is_error
    assert text_of(refused) == f"[POLICY DENIED] Rate limit of {most} per minute reached. Try again later."
    assert refused.meta["mcp-policy/rule"] == rule


def wait_for_fresh_window(window_secs, margin=15):
    """Sleep past a window edge if fewer than `margin` seconds remain."""
    remaining = window_secs - time.time() % window_secs
    if remaining < margin:
        time.sleep(remaining + 0.5)


# --- Python SDK upstreams, the TypeScript client, raw HTTP/1.1 and HTTP/2 ------
# (appended for tests/e2e/test_transports.py and tests/e2e/test_adversarial.py)

import http.client as http_client  # noqa: E402
import queue  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402

UPSTREAMS = ROOT / "tests" / "upstream"
TS_CLIENT = UPSTREAMS / "clients" / "ts-client.mjs"
PYTHON = ROOT / ".venv" / "bin" / "python"


class PythonUpstream:
    """An upstream in tests/upstream/<name>/server.py (official Python SDK) with the
    afip-double's recording API, on a free port."""

    script = None
    banner = None

    def __init__(self, log_path, *extra_args):
        self.log = open(log_path, "w")
        python = PYTHON if PYTHON.exists() else pathlib.Path(sys.executable)
        self.process = subprocess.Popen(
            [str(python), str(self.script), "--host", "127.0.0.1", "--port", "0", *extra_args],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            match = re.search(self.banner, line)
            if match:
                self.port = int(match.group(1))
                break
            if self.process.poll() is not None:
                self.log.close()
                raise RuntimeError(f"{self.script} exited: {pathlib.Path(log_path).read_text()[-2000:]}")
        else:
            self.stop()
            raise RuntimeError(f"{self.script} did not start")
        self.base = f"http://127.0.0.1:{self.port}"

    calls = AfipDouble.calls
    methods = AfipDouble.methods
    reset = AfipDouble.reset

    def stop(self):
        _stop(self.process)
        self.log.close()


class LegacySseUpstream(PythonUpstream):
    """2024-11-05 HTTP+SSE: GET /sse, POST /messages/?session_id=<hex>."""
    script = UPSTREAMS / "legacy-sse" / "server.py"
    banner = r"legacy-sse listening on http://127\.0\.0\.1:(\d+)/sse"


class StatelessUpstream(PythonUpstream):
    """2026-07-28 stateless: POST /mcp only; send_text.number is mirrored as Mcp-Param-Number."""
    script = UPSTREAMS / "stateless" / "server.py"
    banner = r"stateless listening on http://127\.0\.0\.1:(\d+)/mcp"


def ts_client(url, protocol, steps, token="demo-token-alice", transport="streamable", timeout=90):
    """Runs tests/upstream/clients/ts-client.mjs (official TypeScript SDK) pinned to
    `protocol`; returns its JSON report."""
    args = ["node", str(TS_CLIENT), "--url", url, "--protocol", protocol, "--transport", transport,
            "--steps", json.dumps(steps), "--timeout-ms", str(int(timeout * 1000) - 5000)]
    if token is not None:
        args += ["--token", token]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"ts-client printed nothing (exit {done.returncode}): {done.stderr[-2000:]}")
    report = json.loads(lines[-1])
    report["exit_code"] = done.returncode
    report["stderr"] = done.stderr[-2000:]
    return report


def raw_request(port, method, path, body=b"", headers=(), timeout=30):
    """One HTTP/1.1 request with exactly `headers` (a list of pairs, repeats allowed;
    nothing added but Host and, for a body, Content-Length unless Transfer-Encoding is
    given). Returns (status, headers dict lowercased, body bytes)."""
    body = body.encode() if isinstance(body, str) else body
    connection = http_client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        names = {name.lower() for name, _ in headers}
        for name, value in headers:
            connection.putheader(name, value)
        if body and "content-length" not in names and "transfer-encoding" not in names:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def mcp_headers(token="demo-token-alice", content_type="application/json", **extra):
    """The usual POST headers as a list of pairs, for raw_request."""
    headers = [("Accept", "application/json, text/event-stream")]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    if token is not None:
        headers.append(("Authorization", f"Bearer {token}"))
    for name, value in extra.items():
        headers.append((name.replace("_", "-"), value))
    return headers


def chunked_post(port, path, chunks, headers, timeout=30):
    """POST with Transfer-Encoding: chunked and no Content-Length, sending `chunks` from a
    thread while the response is read, so an early answer (413) is never lost to a reset.
    Returns (status, headers, body, bytes_sent)."""
    connection = http_client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    sent = [0]
    try:
        connection.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        sock = connection.sock

        def send_all():
            try:
                for chunk in chunks:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent[0] += len(chunk)
                sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        response = connection.getresponse()
        body = response.read()
        sender.join(timeout=timeout)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body, sent[0]
    finally:
        connection.close()


def expect_continue_post(port, path, body, headers, timeout=30):
    """HTTP/1.1 POST with `Expect: 100-continue`: sends the head, waits for the interim
    100 response, then the body. Returns (interim status line, final status, body)."""
    body = body.encode() if isinstance(body, str) else body
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Expect: 100-continue",
            f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        buffered = b""
        while b"\r\n\r\n" not in buffered:
            data = sock.recv(65536)
            if not data:
                break
            buffered += data
        interim, _, rest = buffered.partition(b"\r\n\r\n")
        interim_line = interim.split(b"\r\n", 1)[0].decode(errors="replace")
        if not interim_line.startswith("HTTP/1.1 100"):
            final = buffered
        else:
            sock.sendall(body)
            final = rest
        while True:
            data = sock.recv(65536)
            if not data:
                break
            final += data
    response_head, _, response_body = final.partition(b"\r\n\r\n")
    status = int(response_head.split(b" ", 2)[1]) if response_head.startswith(b"HTTP/") else 0
    header_lines = response_head.decode(errors="replace").split("\r\n")[1:]
    response_headers = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip()
                        for line in header_lines if ":" in line}
    if response_headers.get("transfer-encoding", "").lower() == "chunked":
        response_body = _dechunk(response_body)
    return interim_line, status, response_body


def _dechunk(data):
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def h2_request(port, method, path, headers, body=b"", trailers=None, timeout=30):
    """One request over cleartext HTTP/2 with prior knowledge (the `h2` package). With
    `trailers`, the body's DATA frames do not end the stream; a trailing HEADERS frame does.
    Returns (status, headers dict, body bytes)."""
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions

    body = body.encode() if isinstance(body, str) else body
    connection = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        connection.initiate_connection()
        sock.sendall(connection.data_to_send())
        stream = connection.get_next_available_stream_id()
        request_headers = [(":method", method), (":path", path), (":scheme", "http"),
                           (":authority", f"127.0.0.1:{port}")]
        request_headers += [(name.lower(), value) for name, value in headers]
        connection.send_headers(stream, request_headers, end_stream=not body and not trailers)
        pending = body
        trailed = trailers is None
        status, response_headers, response_body, ended = 0, {}, b"", False

        def flush_body():
            nonlocal pending, trailed
            while pending:
                window = min(connection.local_flow_control_window(stream), connection.max_outbound_frame_size)
                if window <= 0:
                    return
                piece, pending = pending[:window], pending[window:]
                connection.send_data(stream, piece, end_stream=not pending and trailers is None)
            if not trailed:
                connection.send_headers(stream, [(name.lower(), value) for name, value in trailers], end_stream=True)
                trailed = True

        if body or trailers:
            flush_body()
        sock.sendall(connection.data_to_send())
        deadline = time.monotonic() + timeout
        while not ended and time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                    response_headers = {k.decode() if isinstance(k, bytes) else k:
                                        v.decode() if isinstance(v, bytes) else v for k, v in event.headers}
                    status = int(response_headers.get(":status", 0))
                elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream:
                    response_body += event.data
                    connection.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)) and event.stream_id == stream:
                    ended = True
                elif isinstance(event, h2.events.WindowUpdated) and (pending or not trailed):
                    try:
                        flush_body()
                    except h2.exceptions.StreamClosedError:
                        pending, trailed = b"", True
            sock.sendall(connection.data_to_send())
        return status, response_headers, response_body


class SseReader:
    """A GET event stream read in a background thread (HTTP/1.1). `events` yields
    (event name, data) pairs; `status` and `headers` are set once the head arrives."""

    def __init__(self, port, path, headers, timeout=60):
        self.events = queue.Queue()
        self.status = None
        self.headers = {}
        self.connection = http_client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.connection.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in headers:
            self.connection.putheader(name, value)
        self.connection.endheaders()
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.headers = {k.lower(): v for k, v in self.response.getheaders()}
        self.thread = threading.Thread(target=self._read, daemon=True)
        if self.status == 200:
            self.thread.start()

    def _read(self):
        name, data = "message", []
        try:
            while True:
                line = self.response.fp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\r\n")
                if line == "":
                    if data:
                        self.events.put((name, "\n".join(data)))
                    name, data = "message", []
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
        except (OSError, ValueError, AttributeError):
            pass
        self.events.put(None)

    def next(self, timeout=15):
        """The next (event, data), or None when the stream ended or nothing came in time."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def message_with_id(self, request_id, timeout=15):
        """The JSON-RPC message on the stream that answers `request_id` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.next(timeout=max(0.1, deadline - time.monotonic()))
            if item is None:
                return None
            name, data = item
            if name != "message":
                continue
            message = json.loads(data)
            if message.get("id") == request_id and ("result" in message or "error" in message):
                return message
        return None

    def close(self):
        try:
            self.connection.sock and self.connection.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()
