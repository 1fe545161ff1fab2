"""The policy language through real Envoy: argument conditions, per-grant
policies, approvals, and claim scopes fed by Envoy's jwt_authn filter."""
import base64
import json

import jwt

from harness import initialize_params, rpc, wrapper_config, DEMO_GRANTS

INVOICE = {"point_of_sale": 1, "invoice_type": 6, "concept": 1, "doc_type": 99, "doc_number": 0}


def session(gateway, token="demo-token-alice", extra=None):
    status, headers, _ = gateway.post(rpc("initialize", initialize_params(), id=0), token=token, headers=extra)
    assert status == 200
    return {"Mcp-Session-Id": headers["mcp-session-id"], "MCP-Protocol-Version": "2025-06-18", **(extra or {})}


def call(gateway, headers, tool, arguments, id, token="demo-token-alice"):
    status, _, body = gateway.post(rpc("tools/call", {"name": tool, "arguments": arguments}, id=id),
                                   token=token, headers=headers)
    text = body.decode()
    return status, ("[POLICY DENIED]" in text), text


def test_deny_if_on_invoice_amount(double, gateway_factory):
    policy = {"version": "1", "default": "deny", "tools": {"create_invoice": {"deny_if": [
        {"conditions": [{"path": "args.amount_total", "op": "gt", "value": 100000}],
         "on_deny": "Invoices over 100,000 need a human."}]}}}
    gateway = gateway_factory(double, wrapper_config(policy))
    headers = session(gateway)
    status, denied, text = call(gateway, headers, "create_invoice", dict(INVOICE, amount_total=250000), 1)
    assert status == 200 and denied
    reply = json.loads(text)
    assert reply["result"]["content"][0]["text"] == "[POLICY DENIED] Invoices over 100,000 need a human."
    assert reply["result"]["_meta"]["mcp-policy/rule"] == "/tools/create_invoice/deny_if/0"
    assert double.calls("create_invoice") == []
    status, denied, _ = call(gateway, headers, "create_invoice", dict(INVOICE, amount_total=1500), 2)
    assert status == 200 and not denied
    [seen] = double.calls("create_invoice")
    assert seen["arguments"]["amount_total"] == 1500
    # no coercion: a string amount is a type mismatch, which fails closed
    status, denied, text = call(gateway, headers, "create_invoice", dict(INVOICE, amount_total="250000"), 3)
    assert denied and "/tools/create_invoice/deny_if/0/conditions/0" in text
    assert len(double.calls("create_invoice")) == 1


def test_each_grant_gets_its_own_policy_and_approval_denies(double, gateway_factory):
    alice, bob = DEMO_GRANTS
    config = {
        "policy": {"version": "1", "default": "deny", "tools": {"get_*": {}}},
        "policies": {"billing": {"version": "1", "default": "deny", "tools": {
            "get_*": {}, "cancel_invoice": {"action": "require_approval", "message": "A human must approve cancellations."}}}},
        "grants": [alice, dict(bob, policy="billing")],
    }
    gateway = gateway_factory(double, config)
    alice_headers = session(gateway)
    bob_headers = session(gateway, "demo-token-bob")
    assert not call(gateway, alice_headers, "get_invoice", {"point_of_sale": 1, "invoice_type": 6, "invoice_number": 1}, 1)[1]
    _, denied, text = call(gateway, bob_headers, "cancel_invoice", {"point_of_sale": 1, "invoice_type": 6, "invoice_number": 1},
                           2, token="demo-token-bob")
    assert denied and "A human must approve cancellations." in text and "/tools/cancel_invoice/action" in text
    _, denied, text = call(gateway, alice_headers, "cancel_invoice", {"point_of_sale": 1, "invoice_type": 6, "invoice_number": 1}, 3)
    assert denied and "(default deny)" in text
    assert double.calls("cancel_invoice") == []


SECRET = b"test-only-hmac-secret-for-jwt-authn-0123456789"


def with_jwt_authn(config):
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    jwks = {"keys": [{"kty": "oct", "alg": "HS256", "kid": "test",
                      "k": base64.urlsafe_b64encode(SECRET).decode().rstrip("=")}]}
    hcm["http_filters"].insert(0, {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"users": {
                "issuer": "https://idp.example",
                "local_jwks": {"inline_string": json.dumps(jwks)},
                "from_headers": [{"name": "x-user-jwt"}],
                "payload_in_metadata": "jwt_payload",
                "forward": False,
            }},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "users"}}],
        },
    })


def user_jwt(sub):
    return jwt.encode({"iss": "https://idp.example", "sub": sub}, SECRET, algorithm="HS256", headers={"kid": "test"})


def test_claim_scope_counts_per_jwt_subject(double, gateway_factory):
    policy = {"version": "1", "default": "deny", "tools": {"send_text": {"limits": [
        {"counter": "texts-per-user", "window": 3600, "max": 1, "scope": "claim:sub"}]}}}
    gateway = gateway_factory(double, wrapper_config(policy), mutate=with_jwt_authn)
    user1 = session(gateway, extra={"x-user-jwt": user_jwt("user-1")})
    user2 = dict(user1, **{"x-user-jwt": user_jwt("user-2")})
    args = {"instance": "a", "number": "1", "text": "hola"}
    assert not call(gateway, user1, "send_text", args, 1)[1]
    assert call(gateway, user1, "send_text", args, 2)[1], "user-1's budget is spent"
    assert not call(gateway, user2, "send_text", args, 3)[1], "user-2 has its own budget"
    assert len(double.calls("send_text")) == 2
