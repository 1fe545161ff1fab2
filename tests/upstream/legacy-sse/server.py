#!/usr/bin/env python3
"""Mcp Afip upstream over the 2024-11-05 HTTP+SSE transport (official MCP Python SDK).

    GET  /sse                         event stream; first `event: endpoint` with
                                      `/messages/?session_id=<hex>`, then `event: message`
    POST /messages/?session_id=<hex>  one JSON-RPC message -> 202; the reply goes on the stream
    POST /messages?sessionId=<hex>    the TypeScript SDK's spelling, served the same way
    GET  /__calls, DELETE /__calls, GET /health   the afip-double's recording API

Same 45 tools and schemas as the afip-double (tests/upstream/afip-tools.json).

    .venv/bin/python tests/upstream/legacy-sse/server.py --port 0
    # prints: legacy-sse listening on http://127.0.0.1:PORT/sse
"""
from __future__ import annotations

import pathlib
import sys
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from afip_common import load_tools, make_server, parse_args, query_of, RecordingMiddleware, serve  # noqa: E402

from mcp.server.sse import SseServerTransport  # noqa: E402
from starlette.responses import Response  # noqa: E402


def build_app() -> RecordingMiddleware:
    server = make_server(load_tools())
    transport = SseServerTransport("/messages/")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/sse":
            if method != "GET":
                await Response(status_code=405, headers={"Allow": "GET"})(scope, receive, send)
                return
            async with transport.connect_sse(scope, receive, send) as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
            return
        if path in ("/messages", "/messages/"):
            query = query_of(scope)
            if "session_id" not in query and "sessionId" in query:
                # TypeScript SDK spelling: same session, the SDK's own parameter name.
                scope = dict(scope, query_string=f"session_id={query['sessionId'][0]}".encode())
            await transport.handle_post_message(scope, receive, send)
            return
        await Response("Not Found", status_code=404)(scope, receive, send)

    def session_of(scope: dict[str, Any], _headers: dict[str, str]) -> str | None:
        query = query_of(scope)
        for key in ("session_id", "sessionId"):
            if key in query:
                return query[key][0]
        return None

    return RecordingMiddleware(app, session_of)


def main() -> None:
    args = parse_args(__doc__)
    host = f"[{args.host}]" if ":" in args.host else args.host
    serve(build_app(), args.host, args.port, lambda port: f"legacy-sse listening on http://{host}:{port}/sse")


if __name__ == "__main__":
    main()
