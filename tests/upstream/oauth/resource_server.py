#!/usr/bin/env python3
"""Mcp Afip as an OAuth protected resource that validates its tokens itself (official MCP
Python SDK): the afip-double's 45 tools behind the SDK's bearer-auth middleware, whose
`TokenVerifier` checks each token's signature against the authorization server's JWKS, its
issuer and its audience (the gateway's public URL, `--resource`), and requires `mcp:tools`.

    POST|GET|DELETE /mcp                        Streamable HTTP (stateful), bearer token required
    GET /.well-known/oauth-protected-resource/mcp  the SDK's RFC 9728 metadata: resource --resource,
                                                authorization server --issuer
    GET /__calls, DELETE /__calls, GET /health  the afip-double's recording API; a tools/call is
                                                recorded with its headers before the token is checked

With `--embedded-as KEY.pem` it also is the authorization server (authorization_server.py's
routes: /.well-known/oauth-authorization-server, /register, /authorize, /token, /jwks.json),
whose issuer is --issuer (the gateway's origin, when clients reach it through the gateway).

    .venv/bin/python tests/upstream/oauth/resource_server.py --resource URL --issuer URL \\
        (--jwks URL | --embedded-as KEY.pem) --port 0
    # prints: oauth-rs listening on http://127.0.0.1:PORT/mcp
"""
from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "legacy-sse"))
from afip_common import RecordingMiddleware, bind, load_tools, make_server, serve  # noqa: E402
from oauth_common import (AutoApproveProvider, JwtVerifier, SigningKey, jwks_route,  # noqa: E402
                          registration_options)

from mcp.server.auth.settings import AuthSettings  # noqa: E402
from mcp.server.transport_security import TransportSecuritySettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--resource", required=True, help="the gateway's public MCP URL: the tokens' audience")
    parser.add_argument("--issuer", required=True, help="the authorization server's issuer")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--jwks", help="the authorization server's JWKS URL")
    source.add_argument("--embedded-as", metavar="KEY.pem", help="also be the authorization server")
    args = parser.parse_args()
    sock = bind(args.host, args.port)
    own = f"http://{args.host}:{sock.getsockname()[1]}"
    provider, routes = None, []
    if args.embedded_as:
        key = SigningKey(args.embedded_as)
        provider, routes = AutoApproveProvider(key, args.issuer), [jwks_route(key)]
    auth = AuthSettings(issuer_url=args.issuer, resource_server_url=args.resource, required_scopes=["mcp:tools"],
                        validate_token_resource=False, client_registration_options=registration_options())
    app = make_server(load_tools()).streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        auth=auth,
        token_verifier=JwtVerifier(args.jwks or f"{own}/jwks.json", args.issuer, args.resource),
        auth_server_provider=provider,
        custom_starlette_routes=routes,
    )
    recording = RecordingMiddleware(app, lambda _scope, headers: headers.get("mcp-session-id"))
    serve(recording, args.host, args.port, lambda port: f"oauth-rs listening on {own}/mcp", sock=sock)


if __name__ == "__main__":
    main()
