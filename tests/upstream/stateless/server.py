#!/usr/bin/env python3
"""Mcp Afip upstream speaking MCP 2026-07-28, stateless (official MCP Python SDK).

    POST /mcp        one JSON-RPC request or notification per body; `server/discover`,
                     `tools/list`, `tools/call`. The SDK checks `MCP-Protocol-Version`,
                     `Mcp-Method`, `Mcp-Name` and `Mcp-Param-*` against the body (-32020).
                     No sessions: `Mcp-Session-Id` is never issued. Requests without a
                     2026-07-28 version header are served by the SDK's stateless
                     handshake-era path (so `mode="auto"` clients still negotiate).
    GET|DELETE /mcp  405 (Allow: POST)
    GET  /__calls, DELETE /__calls, GET /health   the afip-double's recording API

Same 45 tools and schemas as the afip-double, except that `send_text.number` carries
`"x-mcp-header": "Number"`: 2026-07-28 clients mirror it as `Mcp-Param-Number`.

    .venv/bin/python tests/upstream/stateless/server.py --port 0 [--json-response]
    # prints: stateless listening on http://127.0.0.1:PORT/mcp
"""
from __future__ import annotations

import copy
import pathlib
import sys
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "legacy-sse"))
from afip_common import load_tools, make_server, parse_args, RecordingMiddleware, serve  # noqa: E402

from mcp.server.transport_security import TransportSecuritySettings  # noqa: E402
from starlette.responses import Response  # noqa: E402

# Tool arguments mirrored into headers (x-mcp-header): tool -> {property: token}.
MIRRORED = {"send_text": {"number": "Number"}}


def catalogue() -> list[dict[str, Any]]:
    tools = copy.deepcopy(load_tools())
    for tool in tools:
        for prop, token in MIRRORED.get(tool["name"], {}).items():
            tool["inputSchema"]["properties"][prop]["x-mcp-header"] = token
    return tools


def build_app(json_response: bool = False) -> RecordingMiddleware:
    server = make_server(catalogue())
    starlette_app = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=json_response,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )

    async def post_only(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/mcp" and scope["method"] != "POST":
            await Response(status_code=405, headers={"Allow": "POST"})(scope, receive, send)
            return
        await starlette_app(scope, receive, send)

    return RecordingMiddleware(post_only, lambda _scope, headers: headers.get("mcp-session-id"))


def main() -> None:
    args = parse_args(__doc__)
    host = f"[{args.host}]" if ":" in args.host else args.host
    serve(build_app(args.json_response), args.host, args.port,
          lambda port: f"stateless listening on http://{host}:{port}/mcp")


if __name__ == "__main__":
    main()
