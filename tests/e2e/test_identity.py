"""Grants from the platform's identities, through real Envoy: JWTs that
Envoy's own jwt_authn verified (RS256 and ES256, local JWKS), and mesh mTLS
peers (client certificates with SPIFFE URI SANs, made here)."""
import base64
import hashlib
import http.client as http_client
import json
import ssl
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness import AfipDouble, Gateway, initialize_params, rpc, wrapper_config
from pki import Pki

ISSUER = "https://idp.example"
AUDIENCE = "https://mcp.example/mcp"
OPEN = {"version": "1", "default": "deny", "tools": {"get_server_status": {}, "create_invoice": {}}}
READ = {"version": "1", "default": "deny", "tools": {"get_server_status": {}}}
TEXTS = {"version": "1", "default": "deny", "tools": {
    "get_server_status": {},
    "send_text": {"limits": [{"counter": "texts", "window": "hour", "max": 1, "scope": "grant"}]}}}


def b64(number_or_bytes, length=None):
    data = number_or_bytes if isinstance(number_or_bytes, bytes) else number_or_bytes.to_bytes(length, "big")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Keys:
    """An RS256 and an ES256 signing key, and their JWKS."""

    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        rsa_numbers = self.rsa.public_key().public_numbers()
        ec_numbers = self.ec.public_key().public_numbers()
        self.jwks = {"keys": [
            {"kty": "RSA", "alg": "RS256", "kid": "rsa", "use": "sig",
             "n": b64(rsa_numbers.n, (rsa_numbers.n.bit_length() + 7) // 8), "e": b64(rsa_numbers.e, 3)},
            {"kty": "EC", "alg": "ES256", "kid": "ec", "use": "sig", "crv": "P-256",
             "x": b64(ec_numbers.x, 32), "y": b64(ec_numbers.y, 32)},
        ]}

    def token(self, claims, algorithm="RS256", audience=AUDIENCE, expires_in=3600):
        payload = {"iss": ISSUER, "aud": audience, "iat": int(time.time()), "exp": int(time.time()) + expires_in}
        payload.update(claims)
        key, kid = (self.rsa, "rsa") if algorithm == "RS256" else (self.ec, "ec")
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture(scope="module")
def keys():
    return Keys()


@pytest.fixture(scope="module")
def double(tmp_path_factory):
    upstream = AfipDouble(tmp_path_factory.mktemp("double") / "double.log")
    yield upstream
    upstream.stop()


def hcm(config):
    return config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]


@pytest.fixture(scope="module")
def jwt_gateway(tmp_path_factory, double, keys):
    def with_jwt_authn(config):
        # What `mcp-policy envoy --jwt-issuer ... --jwks-file ...` emits, with
        # the JWKS inline: missing and failed tokens pass, the filter decides.
        hcm(config)["http_filters"].insert(0, {
            "name": "envoy.filters.http.jwt_authn",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
                "providers": {"mcp": {
                    "issuer": ISSUER, "audiences": [AUDIENCE],
                    "local_jwks": {"inline_string": json.dumps(keys.jwks)},
                    "payload_in_metadata": "jwt_payload", "failed_status_in_metadata": "jwt_failure",
                    "forward": False}},
                "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
                    {"provider_name": "mcp"}, {"allow_missing_or_failed": {}}]}}}],
            },
        })

    configuration = wrapper_config(OPEN, grants=[
        {"name": "invoicing", "jwt": {"issuer": ISSUER, "audience": AUDIENCE, "scopes": ["mcp:invoices"]}},
        {"name": "acme-readers", "jwt": {"issuer": ISSUER, "claims": {"tenant": ["acme", "globex"]}},
         "policy": "read"},
        {"name": "users", "jwt": {"issuer": ISSUER, "name_from_claim": "sub", "scopes": ["mcp:texts"]},
         "policy": "texts"},
        {"name": "alice", "token_sha256": [hashlib.sha256(b"demo-token-alice").hexdigest()], "policy": "read"},
    ], policies={"read": READ, "texts": TEXTS})
    gateway = Gateway(tmp_path_factory.mktemp("jwt-gw"), double.port, configuration, mutate=with_jwt_authn)
    yield gateway
    gateway.stop()


def post(gateway, token, message, session=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if session:
        headers["Mcp-Session-Id"] = session
    return gateway.post(message, token=None, headers=headers)


def call_tool(gateway, token, tool, id=1, arguments=None):
    status, headers, body = post(gateway, token, rpc("initialize", initialize_params(), id=0))
    if status != 200:
        return status, headers, body
    return post(gateway, token, rpc("tools/call", {"name": tool, "arguments": arguments or {}}, id=id),
                session=headers.get("mcp-session-id"))


def audited(gateway, keep, want, timeout=10):
    """The audit lines `keep` selects, once they include everything in `want`."""
    deadline = time.monotonic() + timeout
    while True:
        found = {keep(line) for line in gateway.audit_lines() if keep(line)}
        if want <= found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def denied(response):
    status, _, body = response
    return status == 200 and "[POLICY DENIED]" in body.decode()


def test_a_grant_by_scope_and_one_by_claim(jwt_gateway, double, keys):
    double.reset()
    invoicing = keys.token({"sub": "u1", "scope": "openid mcp:invoices"})
    assert not denied(call_tool(jwt_gateway, invoicing, "create_invoice", arguments={"amount_total": 1}))
    reader = keys.token({"sub": "u2", "tenant": "globex"}, algorithm="ES256")
    assert not denied(call_tool(jwt_gateway, reader, "get_server_status"))
    assert denied(call_tool(jwt_gateway, reader, "create_invoice", arguments={"amount_total": 1}))
    assert [c["name"] for c in double.calls()] == ["create_invoice", "get_server_status"]
    # How each grant matched goes in the audit log.
    want = {("invoicing", "jwt"), ("acme-readers", "jwt")}
    assert audited(jwt_gateway, lambda line: line.get("tool") and (line["grant"], line["identity"]), want) >= want


def test_a_grant_named_from_sub_counts_each_user_apart(jwt_gateway, double, keys):
    double.reset()
    first, second = (keys.token({"sub": user, "scp": ["mcp:texts"]}) for user in ("user-1", "user-2"))
    text = {"instance": "i", "number": "1", "text": "hi"}
    assert not denied(call_tool(jwt_gateway, first, "send_text", arguments=text))
    assert denied(call_tool(jwt_gateway, first, "send_text", arguments=text))
    assert not denied(call_tool(jwt_gateway, second, "send_text", arguments=text))
    assert len(double.calls("send_text")) == 2
    want = {"users/user-1", "users/user-2"}
    assert audited(jwt_gateway, lambda line: line.get("tool") == "send_text" and line["grant"], want) == want


@pytest.mark.parametrize("case", ["expired", "wrong audience", "forged", "none"])
def test_an_invalid_or_missing_token_is_401(jwt_gateway, double, keys, case):
    double.reset()
    token = {
        "expired": keys.token({"scope": "mcp:invoices"}, expires_in=-600),
        "wrong audience": keys.token({"scope": "mcp:invoices"}, audience="https://other.example/mcp"),
        "forged": keys.token({"scope": "mcp:invoices"})[:-4] + "AAAA",
        "none": None,
    }[case]
    status, headers, body = post(jwt_gateway, token, rpc("tools/list", id=3))
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert json.loads(body)["error"]["code"] == -32011
    assert double.methods() == []


def test_a_valid_token_no_grant_matches_is_403_insufficient_scope(jwt_gateway, double, keys):
    double.reset()
    status, headers, body = post(jwt_gateway, keys.token({"scope": "openid"}), rpc("tools/list", id=4))
    assert status == 403
    challenge = headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    # The grant this token comes closest to (issuer and audience hold) asks
    # for mcp:invoices: the client can step up to it.
    assert challenge == 'Bearer error="insufficient_scope", scope="mcp:invoices"'
    assert json.loads(body)["error"]["code"] == -32012
    assert double.methods() == []


def test_static_tokens_still_work_beside_jwt_grants(jwt_gateway, double):
    double.reset()
    assert not denied(call_tool(jwt_gateway, "demo-token-alice", "get_server_status"))
    assert denied(call_tool(jwt_gateway, "demo-token-alice", "create_invoice", arguments={"amount_total": 1}))
    assert [c["name"] for c in double.calls()] == ["get_server_status"]


# --- mTLS ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mtls(tmp_path_factory, double):
    pki = Pki(tmp_path_factory.mktemp("pki"))

    def require_client_certificates(config):
        listener = config["static_resources"]["listeners"][0]
        listener["filter_chains"][0]["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                "require_client_certificate": True,
                "common_tls_context": {
                    "tls_certificates": [{"certificate_chain": {"filename": pki.server_cert},
                                          "private_key": {"filename": pki.server_key}}],
                    "validation_context": {"trusted_ca": {"filename": pki.ca_path}},
                },
            },
        }

    configuration = wrapper_config(OPEN, grants=[
        {"name": "invoice-bot", "mtls": {"uri_san": "spiffe://cluster.local/ns/agents/sa/invoice-bot"}},
        {"name": "agents", "mtls": {"uri_san": "spiffe://cluster.local/ns/agents/sa/*"}, "policy": "read"},
    ], policies={"read": READ})
    gateway = Gateway(tmp_path_factory.mktemp("mtls-gw"), double.port, configuration,
                      mutate=require_client_certificates, tls=True)
    yield pki, gateway
    gateway.stop()


def mtls_call(pki, gateway, client, tool):
    context = ssl.create_default_context(cafile=pki.ca_path)
    context.check_hostname = False
    if client:
        context.load_cert_chain(*client)
    results = []
    for message in (rpc("initialize", initialize_params(), id=0),
                    rpc("tools/call", {"name": tool, "arguments": {"amount_total": 1}}, id=1)):
        connection = http_client.HTTPSConnection("127.0.0.1", gateway.port, context=context, timeout=30)
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": "2025-06-18"}
        if results and results[-1][1].get("mcp-session-id"):
            headers["Mcp-Session-Id"] = results[-1][1]["mcp-session-id"]
        connection.request("POST", "/mcp", json.dumps(message), headers)
        response = connection.getresponse()
        results.append((response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()))
        connection.close()
        if response.status != 200:
            break
    return results[-1]


def test_each_workload_gets_its_own_policy_and_an_unknown_one_is_403(mtls, double):
    pki, gateway = mtls
    double.reset()
    bot = pki.issue("bot", uri="spiffe://cluster.local/ns/agents/sa/invoice-bot")
    other = pki.issue("other-agent", uri="spiffe://cluster.local/ns/agents/sa/support")
    stranger = pki.issue("stranger", uri="spiffe://cluster.local/ns/web/sa/frontend", dns="frontend.web.svc")
    assert not denied(mtls_call(pki, gateway, bot, "create_invoice"))
    assert denied(mtls_call(pki, gateway, other, "create_invoice"))
    assert not denied(mtls_call(pki, gateway, other, "get_server_status"))
    status, headers, _ = mtls_call(pki, gateway, stranger, "get_server_status")
    assert status == 403 and 'error="insufficient_scope"' in headers["www-authenticate"]
    assert [c["name"] for c in double.calls()] == ["create_invoice", "get_server_status"]
    want = {("invoice-bot", "mtls"), ("agents", "mtls")}
    assert audited(gateway, lambda line: line.get("tool") and (line["grant"], line["identity"]), want) >= want
