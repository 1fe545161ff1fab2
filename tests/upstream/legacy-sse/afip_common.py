"""What the Python Mcp Afip upstreams share (legacy-sse/server.py and
stateless/server.py, both built on the official MCP Python SDK):

- the 45-tool catalogue of the afip-double, read from tests/upstream/afip-tools.json
  (regenerate it with `node tests/upstream/clients/dump-afip-tools.mjs`);
- deterministic fake results, with the afip-double's `__fail` / `__sleep_ms` hooks;
- the afip-double's recording API as ASGI middleware: `GET /__calls[?name=][&method=]`,
  `DELETE /__calls` (204), `GET /health`. Every POST whose body is JSON is recorded when it
  arrives, before the SDK sees it (so a message the SDK then rejects is still logged);
- a uvicorn runner that prints the listening URL once the socket accepts connections.
"""
from __future__ import annotations

import asyncio
import json
import pathlib
import socket
import sys
import time
from typing import Any, Callable
from urllib.parse import parse_qs

import mcp_types as types
from mcp.server import Server
from mcp.shared.exceptions import MCPError

TOOLS_JSON = pathlib.Path(__file__).resolve().parents[1] / "afip-tools.json"
SERVER_NAME = "mcp-afip"
SERVER_VERSION = "0.2.0-alpha.2"
MAX_SLEEP_MS = 600_000


def load_tools() -> list[dict[str, Any]]:
    return json.loads(TOOLS_JSON.read_text())


# ----------------------------------------------------------------- results

def _fake_response(name: str, args: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if name == "get_server_status":
        extra = {"AppServer": "OK", "DbServer": "OK", "AuthServer": "OK"}
    elif name == "send_text":
        extra = {"key": {"remoteJid": f"{args.get('number', '')}@s.whatsapp.net", "fromMe": True}, "status": "PENDING"}
    return {"tool": name, "ok": True, "echo": args, **extra}


async def call_tool(known: set[str], name: str, args: dict[str, Any]) -> types.CallToolResult:
    sleep_ms = args.get("__sleep_ms")
    if isinstance(sleep_ms, (int, float)) and sleep_ms > 0:
        await asyncio.sleep(min(sleep_ms, MAX_SLEEP_MS) / 1000)
    fail = args.get("__fail")
    if fail == "error":
        return types.CallToolResult(content=[types.TextContent(type="text", text="Error: AFIP API 500: simulated")],
                                    is_error=True)
    if fail == "jsonrpc":
        raise MCPError(code=types.INTERNAL_ERROR, message="AFIP API 500: simulated")
    if name not in known:
        return types.CallToolResult(content=[types.TextContent(type="text", text=f"Unknown tool: {name}")],
                                    is_error=True)
    text = json.dumps(_fake_response(name, args), indent=2)
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


# The state a 2026-07-28 upstream hands out when it asks for input itself
# (a tool call with "__ask": "point_of_sale").
UPSTREAM_REQUEST_STATE = "upstream-round-1"


def make_server(tools: list[dict[str, Any]]) -> Server[Any]:
    """A low-level SDK `Server` serving `tools` with deterministic results."""
    known = {tool["name"] for tool in tools}
    schemas = {tool["name"]: tool["inputSchema"] for tool in tools}
    listed = [types.Tool(name=t["name"], description=t.get("description"), input_schema=t["inputSchema"]) for t in tools]

    async def on_list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def on_call_tool(
        _ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        arguments = dict(params.arguments or {})
        if arguments.get("__ask") == "point_of_sale":
            # 2026-07-28 multi-round-trip: the server asks for input itself.
            answer = (params.input_responses or {}).get("point_of_sale")
            if answer is None or params.request_state != UPSTREAM_REQUEST_STATE:
                return types.InputRequiredResult(
                    input_requests={"point_of_sale": types.ElicitRequest(params=types.ElicitRequestFormParams(
                        mode="form", message="Which point of sale?",
                        requested_schema={"type": "object", "properties": {"pos": {"type": "integer"}},
                                          "required": ["pos"]}))},
                    request_state=UPSTREAM_REQUEST_STATE)
            arguments["point_of_sale"] = (getattr(answer, "content", None) or {}).get("pos")
        return await call_tool(known, params.name, arguments)

    return Server(SERVER_NAME, version=SERVER_VERSION, on_list_tools=on_list_tools, on_call_tool=on_call_tool,
                  get_tool_input_schema=schemas.get)


# --------------------------------------------------------------- recording

class Recorder:
    """The afip-double's record.mjs: `calls` (tools/call) and `methods` (every message with a method)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.methods: list[dict[str, Any]] = []

    def record(self, body: Any, session_id: str | None, headers: dict[str, str]) -> None:
        time_ms = int(time.time() * 1000)
        messages = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
        for message in messages:
            if not isinstance(message, dict) or not isinstance(message.get("method"), str):
                continue
            self.methods.append({"seq": len(self.methods) + 1, "time_ms": time_ms, "session_id": session_id,
                                 "method": message["method"], "id": message.get("id")})
            if message["method"] == "tools/call":
                params = message.get("params") if isinstance(message.get("params"), dict) else {}
                self.calls.append({"seq": len(self.calls) + 1, "time_ms": time_ms, "session_id": session_id,
                                   "name": params.get("name"), "arguments": params.get("arguments") or {},
                                   "request_state": params.get("requestState"),
                                   "input_responses": params.get("inputResponses"),
                                   "headers": dict(headers)})

    def snapshot(self, name: str | None = None, method: str | None = None) -> dict[str, Any]:
        return {"calls": [c for c in self.calls if name is None or c["name"] == name],
                "methods": [m for m in self.methods if method is None or m["method"] == method]}


def _headers_of(scope: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def query_of(scope: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"))


async def _send_json(send: Callable[..., Any], status: int, document: Any) -> None:
    body = json.dumps(document).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RecordingMiddleware:
    """ASGI middleware: serves /__calls and /health, and records each JSON POST before the app runs."""

    def __init__(self, app: Any, session_of: Callable[[dict[str, Any], dict[str, str]], str | None]):
        self.app = app
        self.session_of = session_of
        self.recorder = Recorder()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path == "/__calls":
            if method == "DELETE":
                self.recorder.clear()
                await send({"type": "http.response.start", "status": 204, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            query = query_of(scope)
            pick = lambda key: query[key][0] if key in query else None  # noqa: E731
            await _send_json(send, 200, self.recorder.snapshot(name=pick("name"), method=pick("method")))
            return
        if path == "/health" and method == "GET":
            await _send_json(send, 200, {"status": "ok"})
            return
        if method != "POST":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        headers = _headers_of(scope)
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        self.recorder.record(parsed, self.session_of(scope, headers), headers)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# ------------------------------------------------------------------ runner

def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (0 = a free port), for `serve`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def serve(app: Any, host: str, port: int, banner: Callable[[int], str], sock: socket.socket | None = None) -> None:
    """Runs `app` with uvicorn on host:port (0 = a free port), or on `sock` already bound (for an app
    that must know its own port); prints `banner(port)` once accepting."""
    import uvicorn

    sock = sock or bind(host, port)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="auto", timeout_graceful_shutdown=2,
                            access_log=False)
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        sys.stdout.write(banner(bound) + "\n")
        sys.stdout.flush()

    async def main() -> None:
        await asyncio.gather(server.serve(sockets=[sock]), announce())

    asyncio.run(main())


def parse_args(description: str, argv: list[str] | None = None):
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001, help="0 picks a free port")
    parser.add_argument("--json-response", action="store_true",
                        help="(stateless) answer POSTs as application/json instead of SSE")
    return parser.parse_args(argv)
