"""Identities of the `make bench` feature scenarios (bench/run.py): a JWT
signing key with its JWKS and Envoy's jwt_authn in front of the filter
(scenario 9j), and a small PKI for the mTLS grant (scenario 9m).

wrk cannot present a client certificate (neither can h2load). So the mTLS
scenarios keep wrk and let Envoy originate the mTLS: wrk talks plain HTTP to a
"client" listener of the same Envoy, whose cluster opens mTLS connections
(keep-alive, a client certificate with a SPIFFE URI SAN) to the front
listener, which requires and verifies it. 1m is that topology without the
filter, 9m with it.

Keys and certificates are new for every run (written under .build/bench/pki);
everything else is fixed. The JWT grant and the token are made the way
tests/e2e/test_identity.py makes them.
"""
import base64
import datetime
import json
import pathlib
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import pki  # noqa: E402

ISSUER = "https://idp.bench.example"
AUDIENCE = "https://mcp.bench.example/mcp"
SCOPE = "mcp:tools"
SPIFFE_ID = "spiffe://bench.local/ns/agents/sa/bench-agent"
JWT_GRANT = {"name": "bench-jwt", "jwt": {"issuer": ISSUER, "audience": AUDIENCE, "scopes": [SCOPE]}}
MTLS_GRANT = {"name": "bench-mtls", "mtls": {"uri_san": "spiffe://bench.local/ns/agents/sa/*"}}
# The cluster of the client listener (scenarios 1m, 9m).
GATEWAY_CLUSTER = "gateway_mtls"


def b64(number_or_bytes, length=None):
    data = number_or_bytes if isinstance(number_or_bytes, bytes) else number_or_bytes.to_bytes(length, "big")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class JwtKey:
    """An RS256 signing key and its JWKS."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.key.public_key().public_numbers()
        self.jwks = {"keys": [{"kty": "RSA", "alg": "RS256", "kid": "bench", "use": "sig",
                               "n": b64(numbers.n, (numbers.n.bit_length() + 7) // 8), "e": b64(numbers.e, 3)}]}

    def token(self, scope=SCOPE, expires_in=86_400):
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "bench-user", "scope": f"openid {scope}",
                   "iat": now, "exp": now + expires_in}
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": "bench"})


def jwt_authn_filter(jwks):
    """What `mcp-policy envoy --jwt-issuer ... --jwks-file ...` emits, with the
    JWKS inline (as tests/e2e/test_identity.py): missing and failed tokens
    pass, the filter decides; no JWT cache, so every request is verified."""
    return {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"mcp": {
                "issuer": ISSUER, "audiences": [AUDIENCE],
                "local_jwks": {"inline_string": json.dumps(jwks)},
                "payload_in_metadata": "jwt_payload", "failed_status_in_metadata": "jwt_failure",
                "forward": False}},
            "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "mcp"}, {"allow_missing_or_failed": {}}]}}}],
        },
    }


class Pki(pki.Pki):
    """The shared test PKI (tests/e2e/pki.py), with a client certificate for
    the bench's SPIFFE ID and the TLS blocks of the mTLS topology."""

    def __init__(self, directory):
        super().__init__(directory, ca_name="bench mesh CA", lifetime=datetime.timedelta(days=1))
        self.client = self.issue("bench-agent", uri=SPIFFE_ID)

    def downstream_tls(self):
        """The front listener's transport socket: TLS, client certificate required."""
        cert, key = self.server_cert, self.server_key
        return {"name": "envoy.transport_sockets.tls", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "require_client_certificate": True,
            "common_tls_context": {
                "tls_certificates": [{"certificate_chain": {"filename": cert}, "private_key": {"filename": key}}],
                "validation_context": {"trusted_ca": {"filename": self.ca_path}},
            }}}

    def upstream_tls(self):
        """The client listener's cluster: mTLS with the SPIFFE client certificate."""
        cert, key = self.client
        return {"name": "envoy.transport_sockets.tls", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": "localhost",
            "common_tls_context": {
                "tls_certificates": [{"certificate_chain": {"filename": cert}, "private_key": {"filename": key}}],
                "validation_context": {"trusted_ca": {"filename": self.ca_path},
                                       "match_typed_subject_alt_names": [
                                           {"san_type": "DNS", "matcher": {"exact": "localhost"}}]},
            }}}
