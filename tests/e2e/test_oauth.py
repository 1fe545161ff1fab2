"""MCP's OAuth end to end through the gateway: the official Python SDK's OAuth client
discovers the gateway's protected-resource metadata, registers, gets a JWT from an
authorization server built on the SDK's auth components, and calls tools; Envoy's own
jwt_authn verifies the token, the grant's policy applies, and an upstream that is itself the
resource server validates the token the gateway forwards.

Every gateway is configured by `mcp-policy envoy` (jwt_authn with a remote or a local JWKS,
and the filter with its "oauth" settings), so real Envoy runs what the CLI prints:
- A: the filter answers the metadata, a separate authorization server, forwarding on, an
  upstream that validates tokens (tests/upstream/oauth/resource_server.py);
- B: the upstream answers the metadata and hosts the authorization server, whose paths are
  the configuration's public paths, forwarding on;
- C: the filter answers the metadata, forwarding off, in front of the afip-double.
"""
import json
import socket
import subprocess
import time
from urllib.parse import parse_qs, urlparse

import anyio
import httpx2
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

from harness import (MODULE, ROOT, AfipDouble, Gateway, PythonUpstream, http, initialize_params, raw_request,
                     rpc, wrapper_config)

CLI = ROOT / "target" / "debug" / "mcp-policy"
OAUTH = ROOT / "tests" / "upstream" / "oauth"
SCOPE = "mcp:tools"
TOOLS = {"version": "1", "default": "deny", "tools": {"get_server_status": {}}}
ALICE = "demo-token-alice"


class AuthorizationServer(PythonUpstream):
    script = OAUTH / "authorization_server.py"
    banner = r"oauth-as listening on http://127\.0\.0\.1:(\d+)"


class ResourceServer(PythonUpstream):
    script = OAUTH / "resource_server.py"
    banner = r"oauth-rs listening on http://127\.0\.0\.1:(\d+)/mcp"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def origin(port):
    return f"http://127.0.0.1:{port}"


def grants(issuer, resource):
    """An OAuth user's grant (its policy: get_server_status only), and alice's static token."""
    return [
        {"name": "oauth-users", "jwt": {"issuer": issuer, "audience": resource, "scopes": [SCOPE],
                                        "name_from_claim": "sub"}},
        {"name": "alice", "token_sha256": ["1159bf80f41ccf3d5efafda50135b734fe094f032809efd1a5d85455c5359b40"]},
    ]


@pytest.fixture(scope="module")
def cli():
    """The mcp-policy binary `make test-unit` built (built here if it is not)."""
    subprocess.run(["cargo", "build", "--quiet", "--no-default-features", "--features", "cli,fake-host",
                    "--bin", "mcp-policy"], cwd=ROOT, check=True, timeout=900)
    return CLI


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    """The authorization server's signing key, which the tests also sign their own tokens with."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("oauth-key") / "key.pem"
    path.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return private, path


def mint(key, issuer, audience, scope, expires_in=600):
    now = int(time.time())
    claims = {"iss": issuer, "sub": "user-9", "aud": audience, "scope": scope, "iat": now, "exp": now + expires_in}
    return jwt.encode(claims, key[0], algorithm="RS256", headers={"kid": "oauth-test"})


def oauth_gateway(tmp, cli, port, upstream_port, wrapper, args, cluster=None):
    """Real Envoy on `port` with the http_filters `mcp-policy envoy` prints for `wrapper` and
    `args`, and a cluster (name, port) for jwt_authn's remote JWKS."""
    wrapper_path = tmp / "wrapper.json"
    wrapper_path.write_text(json.dumps(wrapper))
    printed = subprocess.run([str(cli), "envoy", "--policy", str(wrapper_path), "--module", str(MODULE), *args],
                             capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert printed.returncode == 0, printed.stderr
    filters = yaml.safe_load(printed.stdout)
    assert [entry["name"] for entry in filters] == ["envoy.filters.http.jwt_authn", "mcp_policy"]

    def install(config):
        listener = config["static_resources"]["listeners"][0]
        listener["address"]["socket_address"]["port_value"] = port
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        at = [entry["name"] for entry in hcm["http_filters"]].index("mcp_policy")
        hcm["http_filters"][at:at + 1] = filters
        if cluster:
            name, cluster_port = cluster
            template = json.loads(json.dumps(config["static_resources"]["clusters"][0]))
            template["name"] = template["load_assignment"]["cluster_name"] = name
            endpoint = template["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
            endpoint["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": cluster_port}
            config["static_resources"]["clusters"].append(template)

    return Gateway(tmp, upstream_port, wrapper, mutate=install)


# --- the servers, shared by the module -------------------------------------------------

@pytest.fixture(scope="module")
def authorization_server(tmp_path_factory, key):
    server = AuthorizationServer(tmp_path_factory.mktemp("as") / "as.log", "--key", str(key[1]))
    server.issuer = server.base
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway_a(tmp_path_factory, cli, authorization_server):
    """The filter answers the metadata; the upstream validates the tokens it forwards."""
    port = free_port()
    resource, issuer = f"{origin(port)}/mcp", authorization_server.issuer
    tmp = tmp_path_factory.mktemp("gateway-a")
    upstream = ResourceServer(tmp / "rs.log", "--resource", resource, "--issuer", issuer,
                              "--jwks", f"{issuer}/jwks.json")
    wrapper = wrapper_config(TOOLS, grants=grants(issuer, resource))
    gateway = oauth_gateway(tmp, cli, port, upstream.port, wrapper, [
        "--jwt-issuer", issuer, "--jwks-uri", f"{issuer}/jwks.json", "--jwks-cluster", "oauth_as",
        "--oauth-resource", resource, "--oauth-scope", SCOPE, "--jwt-forward",
    ], cluster=("oauth_as", authorization_server.port))
    yield gateway, upstream
    gateway.stop()
    upstream.stop()


AS_PATHS = ["/.well-known/oauth-authorization-server", "/register", "/authorize", "/token"]


@pytest.fixture(scope="module")
def gateway_b(tmp_path_factory, cli, key):
    """The upstream answers the metadata and is the authorization server too: its endpoints
    are the gateway's public paths, and its issuer is the gateway's origin."""
    port = free_port()
    resource, issuer = f"{origin(port)}/mcp", origin(port)
    tmp = tmp_path_factory.mktemp("gateway-b")
    upstream = ResourceServer(tmp / "rs.log", "--resource", resource, "--issuer", issuer,
                              "--embedded-as", str(key[1]))
    wrapper = wrapper_config(TOOLS, grants=grants(issuer, resource))
    public = [argument for path in AS_PATHS for argument in ("--oauth-public-path", path)]
    gateway = oauth_gateway(tmp, cli, port, upstream.port, wrapper, [
        "--jwt-issuer", issuer, "--jwks-uri", f"{upstream.base}/jwks.json", "--jwks-cluster", "mcp_upstream",
        "--oauth-resource", resource, "--oauth-metadata", "upstream", *public, "--jwt-forward",
    ])
    yield gateway, upstream
    gateway.stop()
    upstream.stop()


@pytest.fixture(scope="module")
def gateway_c(tmp_path_factory, cli, key, authorization_server):
    """The filter answers the metadata, forwarding is off, a local JWKS; the afip-double
    (which checks no token) records what reaches it."""
    port = free_port()
    resource, issuer = f"{origin(port)}/mcp", authorization_server.issuer
    tmp = tmp_path_factory.mktemp("gateway-c")
    jwks = tmp / "jwks.json"
    _, _, body = http("GET", f"{issuer}/jwks.json")
    jwks.write_bytes(body)
    double = AfipDouble(tmp / "double.log")
    wrapper = wrapper_config(TOOLS, grants=grants(issuer, resource))
    gateway = oauth_gateway(tmp, cli, port, double.port, wrapper, [
        "--jwt-issuer", issuer, "--jwks-file", str(jwks),
        "--oauth-resource", resource, "--oauth-authorization-server", issuer, "--oauth-scope", SCOPE,
    ])
    yield gateway, double, resource
    gateway.stop()
    double.stop()


# --- the official client -----------------------------------------------------------------

class MemoryStorage:
    """The SDK's TokenStorage, in memory."""

    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


def oauth_session(server_url, work):
    """Runs `work(session)` in a session of the SDK's client with its OAuth provider. The
    redirect handler follows the authorization URL itself (no browser) and hands the code to
    the callback handler. Returns (work's result, the tokens, every HTTP exchange the client
    made: (method, URL, status))."""
    exchanges = []
    storage = MemoryStorage()
    redirected = {}

    async def record(response):
        try:
            message = json.loads(response.request.content).get("method", "")
        except ValueError:
            message = ""
        exchanges.append((response.request.method, str(response.request.url), response.status_code, message))

    async def redirect_handler(authorization_url):
        async with httpx2.AsyncClient(event_hooks={"response": [record]}, timeout=30) as http:
            response = await http.get(authorization_url)
        query = parse_qs(urlparse(response.headers["location"]).query)
        redirected["result"] = AuthorizationCodeResult(code=query["code"][0], state=query["state"][0])

    async def callback_handler():
        return redirected.pop("result")

    provider = OAuthClientProvider(
        server_url,
        OAuthClientMetadata(client_name="e2e", redirect_uris=["http://127.0.0.1:9/callback"]),
        storage, redirect_handler=redirect_handler, callback_handler=callback_handler)

    async def session():
        with anyio.fail_after(60):
            async with httpx2.AsyncClient(auth=provider, event_hooks={"response": [record]},
                                          timeout=httpx2.Timeout(30, read=60)) as http:
                async with streamable_http_client(server_url, http_client=http) as (read, write):
                    async with ClientSession(read, write) as client:
                        await client.initialize()
                        return await work(client)

    return anyio.run(session), storage.tokens, exchanges


async def allowed_and_denied(client):
    allowed = await client.call_tool("get_server_status", {})
    denied = await client.call_tool("create_invoice", {"point_of_sale": 1, "amount_total": 10})
    return allowed, denied


def observed_flow(gateway, title):
    """The official client's session through `gateway` (an allowed and a denied call), and
    its HTTP exchanges as (method, path, status), printed under `title`: the gateway's by
    their path, the others by their URL without the query."""
    (allowed, denied), tokens, exchanges = oauth_session(gateway.url, allowed_and_denied)
    flow = []
    print(f"\n{title}:")
    for method, url, status, message in exchanges:
        parsed = urlparse(url)
        where = parsed.path if parsed.netloc == f"127.0.0.1:{gateway.port}" else url.split("?")[0]
        flow.append((method, where, status))
        print(f"  {method} {where} {message} -> {status}".replace("  ->", " ->"))
    return allowed, denied, tokens, flow


def test_the_official_client_discovers_registers_and_calls_through_the_gateway(gateway_a, authorization_server):
    gateway, upstream = gateway_a
    upstream.reset()
    allowed, denied, tokens, flow = observed_flow(gateway, "the client's exchanges (gateway paths; authorization server URLs)")
    issuer = authorization_server.issuer
    assert flow[:7] == [
        ("POST", "/mcp", 401),
        ("GET", "/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", f"{issuer}/.well-known/oauth-authorization-server", 200),
        ("POST", f"{issuer}/register", 201),
        ("GET", f"{issuer}/authorize", 302),
        ("POST", f"{issuer}/token", 200),
        ("POST", "/mcp", 200),
    ], flow
    assert all(status < 400 for _, _, status in flow[1:]), flow
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert claims["aud"] == gateway.url and claims["scope"] == SCOPE
    # The allowed call ran upstream, which saw (and checked) the token the gateway forwarded.
    assert not allowed.is_error, allowed
    [call] = upstream.calls("get_server_status")
    assert call["headers"]["authorization"] == f"Bearer {tokens.access_token}"
    assert "cookie" not in call["headers"]
    # The denied call was answered by the filter and never reached the upstream.
    assert denied.is_error and denied.content[0].text.startswith("[POLICY DENIED] ")
    assert upstream.calls("create_invoice") == []
    lines = gateway.audit_lines(at_least=3)
    assert {(line["grant"], line["identity"]) for line in lines if line.get("tool")} == {("oauth-users/user-1", "jwt")}


def test_an_upstream_authorization_server_is_reached_through_its_public_paths(gateway_b):
    gateway, upstream = gateway_b
    upstream.reset()
    allowed, denied, tokens, flow = observed_flow(gateway, "the client's exchanges, all through the gateway")
    assert flow[:7] == [
        ("POST", "/mcp", 401),
        ("GET", "/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", "/.well-known/oauth-authorization-server", 200),
        ("POST", "/register", 201),
        ("GET", "/authorize", 302),
        ("POST", "/token", 200),
        ("POST", "/mcp", 200),
    ], flow
    assert not allowed.is_error and denied.is_error
    [call] = upstream.calls("get_server_status")
    assert call["headers"]["authorization"] == f"Bearer {tokens.access_token}"
    assert upstream.calls("create_invoice") == []


@pytest.mark.parametrize("path", ["/register/", "/Register", "/registers", "/register;x", "/register%2F..%2Fmcp",
                                  "/register/../mcp", "/.well-known/oauth-authorization-server/x", "/jwks.json"])
def test_only_the_listed_paths_pass_without_a_credential(gateway_b, path):
    gateway, upstream = gateway_b
    status, headers, body = raw_request(gateway.port, "POST", path, b"{}", [("Content-Type", "application/json")])
    assert status == 401, (path, status, body)
    assert json.loads(body)["error"]["code"] == -32011
    assert f'resource_metadata="{origin(gateway.port)}/.well-known/oauth-protected-resource/mcp"' \
        in headers["www-authenticate"]


def test_a_listed_path_passes_with_its_query_and_an_mcp_session_does_not(gateway_b):
    gateway, _ = gateway_b
    # The registration endpoint itself answers (RFC 7591's 400), not the filter.
    status, _, body = raw_request(gateway.port, "POST", "/register?x=1", b"{}", [("Content-Type", "application/json")])
    assert status == 400 and "invalid_client_metadata" in body.decode(), body
    status, _, _ = raw_request(gateway.port, "POST", "/register", b"{}",
                               [("Content-Type", "application/json"), ("Mcp-Session-Id", "s1")])
    assert status == 401


def test_a_static_grants_token_never_reaches_the_upstream_even_when_forwarding(gateway_a):
    gateway, upstream = gateway_a
    upstream.reset()
    gateway.post(rpc("tools/call", {"name": "get_server_status", "arguments": {}}), token=ALICE,
                 headers={"MCP-Protocol-Version": "2025-06-18"})
    [call] = upstream.calls("get_server_status")
    assert "authorization" not in call["headers"]


def test_a_token_for_another_audience_is_401_with_the_metadata(gateway_c, key, authorization_server):
    gateway, double, resource = gateway_c
    double.reset()
    token = mint(key, authorization_server.issuer, "https://other.example/mcp", SCOPE)
    status, headers, body = gateway.post(rpc("tools/list", id=2), token=token)
    assert status == 401
    assert headers["www-authenticate"] == (
        f'Bearer realm="mcp", error="invalid_token", '
        f'resource_metadata="{origin(gateway.port)}/.well-known/oauth-protected-resource/mcp"')
    assert json.loads(body)["error"]["code"] == -32011
    assert double.methods() == []


def test_a_valid_token_without_the_scope_is_403_insufficient_scope(gateway_c, key, authorization_server):
    gateway, double, resource = gateway_c
    double.reset()
    status, headers, body = gateway.post(rpc("tools/list", id=3),
                                         token=mint(key, authorization_server.issuer, resource, "openid"))
    assert status == 403
    assert headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{SCOPE}", '
        f'resource_metadata="{origin(gateway.port)}/.well-known/oauth-protected-resource/mcp"')
    assert json.loads(body)["error"]["code"] == -32012
    assert double.methods() == []


def test_the_filter_answers_the_metadata(gateway_c, authorization_server):
    gateway, _, resource = gateway_c
    for path in ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]:
        status, headers, body = raw_request(gateway.port, "GET", path)
        assert status == 200 and headers["content-type"] == "application/json"
        assert json.loads(body) == {"resource": resource, "authorization_servers": [authorization_server.issuer],
                                    "scopes_supported": [SCOPE], "bearer_methods_supported": ["header"]}


def test_without_forwarding_no_token_reaches_the_upstream(gateway_c, key, authorization_server):
    gateway, double, resource = gateway_c
    double.reset()
    token = mint(key, authorization_server.issuer, resource, SCOPE)
    for credential in (token, ALICE):
        status, headers, _ = gateway.post(rpc("initialize", initialize_params(), id=0), token=credential,
                                          headers={"Cookie": "sid=1"})
        assert status == 200
        gateway.post(rpc("tools/call", {"name": "get_server_status", "arguments": {}}), token=credential,
                     headers={"Mcp-Session-Id": headers["mcp-session-id"], "MCP-Protocol-Version": "2025-06-18",
                              "Cookie": "sid=1"})
    calls = double.calls("get_server_status")
    assert len(calls) == 2
    for call in calls:
        assert "authorization" not in call["headers"] and "cookie" not in call["headers"]
