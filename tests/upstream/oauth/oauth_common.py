"""What the OAuth test servers share (authorization_server.py, resource_server.py), built
from the official MCP Python SDK's auth components (`mcp.server.auth`), PyJWT and
cryptography:

- `SigningKey`: an RSA key (PEM file) that signs RS256 JWT access tokens, and its JWKS;
- `AutoApproveProvider`: an `OAuthAuthorizationServerProvider` that registers any client
  (dynamic client registration), approves every authorization request at once (no login
  page: the redirect carries the code), and exchanges codes for RS256 JWTs whose `aud` is
  the RFC 8707 `resource` the client asked for;
- `authorization_routes`: the SDK's routes (`/.well-known/oauth-authorization-server`,
  `/authorize`, `/token`, `/register`) and `/jwks.json`;
- `JwtVerifier`: the SDK's `TokenVerifier`, checking a token's signature against a JWKS
  URL, its issuer and its audience.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

import httpx2
import jwt
from jwt.algorithms import RSAAlgorithm
from cryptography.hazmat.primitives import serialization
from mcp.server.auth.provider import (AccessToken, AuthorizationCode, AuthorizationParams, RefreshToken,
                                      TokenError, construct_redirect_uri)
from mcp.server.auth.routes import create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl, ConfigDict, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SCOPES = ["mcp:tools", "mcp:admin"]
TOKEN_LIFETIME = 3600
# The resource owner every authorization is granted for (there is no login).
SUBJECT = "user-1"
# URLs as the SDK's own settings read them: a root issuer keeps no trailing slash, so that its
# metadata's `issuer` is exactly the `iss` of its tokens and the server the client was sent to.
URL = TypeAdapter(AnyHttpUrl, config=ConfigDict(url_preserve_empty_path=True))


class SigningKey:
    """An RSA private key in a PEM file: signs access tokens, and publishes its public half."""

    def __init__(self, pem_path: str, kid: str = "oauth-test"):
        with open(pem_path, "rb") as pem:
            self.private = serialization.load_pem_private_key(pem.read(), password=None)
        self.kid = kid
        public = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwks = {"keys": [dict(public, kid=kid, alg="RS256", use="sig")]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid})


class AutoApproveProvider:
    """An in-memory authorization server that approves every request."""

    def __init__(self, key: SigningKey, issuer: str):
        self.key = key
        self.issuer = issuer
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        code = secrets.token_urlsafe(32)
        self.codes[code] = AuthorizationCode(
            code=code, scopes=params.scopes or [], expires_at=time.time() + 300, client_id=client.client_id,
            code_challenge=params.code_challenge, redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource, subject=SUBJECT)
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: OAuthClientInformationFull, code: str) -> AuthorizationCode | None:
        found = self.codes.get(code)
        return found if found is not None and found.client_id == client.client_id else None

    async def exchange_authorization_code(self, client: OAuthClientInformationFull,
                                          code: AuthorizationCode) -> OAuthToken:
        self.codes.pop(code.code, None)
        if code.resource is None:
            raise TokenError(error="invalid_target", error_description="name the resource (RFC 8707)")
        now = int(time.time())
        scope = " ".join(code.scopes)
        access = self.key.sign({"iss": self.issuer, "sub": code.subject, "aud": code.resource, "scope": scope,
                                "client_id": client.client_id, "iat": now, "exp": now + TOKEN_LIFETIME})
        return OAuthToken(access_token=access, expires_in=TOKEN_LIFETIME, scope=scope)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return None

    async def exchange_refresh_token(self, client: OAuthClientInformationFull, refresh_token: RefreshToken,
                                     scopes: list[str]) -> OAuthToken:
        raise TokenError(error="invalid_grant", error_description="no refresh tokens here")

    async def load_access_token(self, token: str) -> AccessToken | None:
        return None

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        return None


def registration_options() -> ClientRegistrationOptions:
    return ClientRegistrationOptions(enabled=True, valid_scopes=SCOPES, default_scopes=["mcp:tools"])


def jwks_route(key: SigningKey) -> Route:
    async def jwks(_request: Request) -> JSONResponse:
        return JSONResponse(key.jwks)
    return Route("/jwks.json", jwks, methods=["GET"])


def authorization_routes(key: SigningKey, issuer: str) -> list[Route]:
    provider = AutoApproveProvider(key, issuer)
    routes = create_auth_routes(provider, URL.validate_python(issuer), client_registration_options=registration_options())
    return routes + [jwks_route(key)]


class JwtVerifier:
    """Verifies RS256 access tokens against a JWKS URL (fetched once), an issuer and an audience."""

    def __init__(self, jwks_url: str, issuer: str, audience: str):
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.keys: dict[str, Any] | None = None

    async def _keys(self) -> dict[str, Any]:
        if self.keys is None:
            async with httpx2.AsyncClient(timeout=10) as client:
                response = await client.get(self.jwks_url)
                response.raise_for_status()
            self.keys = {key.key_id: key.key for key in jwt.PyJWKSet.from_dict(response.json()).keys}
        return self.keys

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            key = (await self._keys())[jwt.get_unverified_header(token).get("kid")]
            claims = jwt.decode(token, key, algorithms=["RS256"], audience=self.audience, issuer=self.issuer)
        except (KeyError, jwt.PyJWTError):
            return None
        return AccessToken(token=token, client_id=str(claims.get("client_id", "")),
                           scopes=str(claims.get("scope", "")).split(), expires_at=claims.get("exp"),
                           resource=self.audience, subject=claims.get("sub"), claims={"iss": claims["iss"]})
