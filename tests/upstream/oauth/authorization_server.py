#!/usr/bin/env python3
"""An OAuth 2.1 authorization server for tests, on the official MCP Python SDK's auth routes:
dynamic client registration, authorization code with PKCE (approved at once: the redirect
carries the code), RS256 JWT access tokens whose `aud` is the RFC 8707 resource, and a JWKS.

    GET  /.well-known/oauth-authorization-server   RFC 8414 metadata (issuer: this server's URL)
    POST /register                                 RFC 7591 registration
    GET  /authorize                                302 to the redirect URI with code and state
    POST /token                                    the JWT
    GET  /jwks.json                                the signing key's public half

    .venv/bin/python tests/upstream/oauth/authorization_server.py --key KEY.pem --port 0
    # prints: oauth-as listening on http://127.0.0.1:PORT
"""
from __future__ import annotations

import argparse
import pathlib
import sys

from starlette.applications import Starlette

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "legacy-sse"))
from afip_common import bind, serve  # noqa: E402
from oauth_common import SigningKey, authorization_routes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--key", required=True, help="the RSA private key (PEM) that signs tokens")
    args = parser.parse_args()
    sock = bind(args.host, args.port)
    issuer = f"http://{args.host}:{sock.getsockname()[1]}"
    app = Starlette(routes=authorization_routes(SigningKey(args.key), issuer))
    serve(app, args.host, args.port, lambda port: f"oauth-as listening on {issuer}", sock=sock)


if __name__ == "__main__":
    main()
