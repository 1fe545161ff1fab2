"""Human approval, part 1: the caller's user confirms a call through MCP
2026-07-28's multi-round-trip requests, with real Envoy, the official Python
SDK client (its elicitation_callback) and the official Python SDK server
(tests/upstream/stateless).

Every refusal is checked against the upstream's record: a refused call never
reached it.

Run: .venv/bin/python -m pytest tests/e2e/test_approval.py -q
"""
import time

import anyio
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import ElicitResult, InputRequiredResult

from harness import Gateway, StatelessUpstream, mcp_session, wrapper_config

MODERN = "2026-07-28"
ALICE = "demo-token-alice"
KEY = "mcp-policy/approval"
INVOICE = {"point_of_sale": 1, "amount_total": 5000}
POLICY = {
    "version": "1",
    "default": "deny",
    "tools": {
        "get_server_status": {},
        "create_invoice": {
            "action": "require_approval",
            "deny_if": [{"conditions": [{"path": "args.amount_total", "op": "gt", "value": 100000}],
                         "on_deny": "Invoices over 100,000 are not issued here."}],
        },
        "cancel_invoice": {"action": "require_approval", "approval": {"ttl_seconds": 1}},
    },
}


def start(tmp_path_factory, json_response):
    directory = tmp_path_factory.mktemp("approval-json" if json_response else "approval")
    upstream = StatelessUpstream(directory / "upstream.log", *(["--json-response"] if json_response else []))
    gateway = Gateway(directory, upstream.port, wrapper_config(POLICY, approvals={"enabled": True}))
    return upstream, gateway


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    upstream, gateway = start(tmp_path_factory, json_response=False)
    yield upstream, gateway
    gateway.stop()
    upstream.stop()


@pytest.fixture(scope="module")
def served_json(tmp_path_factory):
    upstream, gateway = start(tmp_path_factory, json_response=True)
    yield upstream, gateway
    gateway.stop()
    upstream.stop()


@pytest.fixture
def upstream(served):
    served[0].reset()
    return served[0]


@pytest.fixture
def gateway(served):
    return served[1]


def modern(gateway, work, answers=(), limit=60):
    """Runs `await work(client)` with a 2026-07-28 official Python client whose
    elicitation callback answers each question with the next of `answers`
    ("accept", "decline", "cancel" or a content dict to accept with);
    returns (what work returned, the questions asked)."""
    asked = []
    pending = list(answers)

    async def elicit(_context, params):
        asked.append(params)
        answer = pending.pop(0)
        if isinstance(answer, dict):
            return ElicitResult(action="accept", content=answer)
        return ElicitResult(action=answer, content={} if answer == "accept" else None)

    async def run():
        with anyio.fail_after(limit):
            async with create_mcp_http_client(headers={"Authorization": f"Bearer {ALICE}"}) as http:
                transport = streamable_http_client(gateway.url, http_client=http)
                async with Client(transport, mode=MODERN, elicitation_callback=elicit) as client:
                    assert client.protocol_version == MODERN
                    return await work(client)

    return anyio.run(run), asked


def first_round(client, name, arguments):
    """The filter's question: the call's InputRequiredResult, driven by hand."""
    return client.session.call_tool(name, arguments, allow_input_required=True)


def retry(client, name, arguments, state, action="accept"):
    responses = {KEY: ElicitResult(action=action, content={} if action == "accept" else None)}
    return client.session.call_tool(name, arguments, input_responses=responses, request_state=state,
                                    allow_input_required=True)


def decisions(gateway, tool, count):
    """The audit log's last `count` decisions on calls of `tool`, waiting for
    Envoy to flush them (at most 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        found = [line["decision"] for line in gateway.audit_lines() if line.get("tool") == tool]
        if len(found) >= count or time.monotonic() > deadline:
            return found[-count:]
        time.sleep(0.2)


def denial_text(result):
    assert result.is_error, result
    return result.content[0].text


def test_an_accepted_call_runs_once(gateway, upstream):
    result, asked = modern(gateway, lambda client: client.call_tool("create_invoice", INVOICE), ["accept"])
    assert not result.is_error, result
    assert len(asked) == 1
    assert "create_invoice" in asked[0].message and '"amount_total": 5000' in asked[0].message
    calls = upstream.calls("create_invoice")
    assert len(calls) == 1
    assert calls[0]["arguments"] == INVOICE
    # The upstream sees the call as if the filter had never asked.
    assert calls[0]["request_state"] is None and calls[0]["input_responses"] is None
    assert decisions(gateway, "create_invoice", 2) == ["approval_required", "approved"]
    metrics = gateway.prometheus()
    assert 'mcp_outcome="approval_required"' in metrics and 'mcp_outcome="approved"' in metrics


def test_a_declined_call_never_reaches_the_upstream(gateway, upstream):
    result, asked = modern(gateway, lambda client: client.call_tool("create_invoice", INVOICE), ["decline"])
    assert len(asked) == 1
    assert denial_text(result) == "[POLICY DENIED] The user declined this call."
    assert result.meta["mcp-policy/rule"] == "/tools/create_invoice/action"
    cancelled, _ = modern(gateway, lambda client: client.call_tool("create_invoice", INVOICE), ["cancel"])
    assert denial_text(cancelled) == "[POLICY DENIED] The user cancelled this call."
    assert upstream.calls("create_invoice") == []
    assert decisions(gateway, "create_invoice", 4) == ["approval_required", "approval_denied"] * 2


def test_replayed_tampered_and_changed_approvals_are_refused(gateway, upstream):
    async def work(client):
        question = await first_round(client, "create_invoice", INVOICE)
        assert isinstance(question, InputRequiredResult)
        assert list(question.input_requests) == [KEY]
        state = question.request_state
        tampered = state[:-3] + ("AAA" if not state.endswith("AAA") else "BBB")
        changed = await retry(client, "create_invoice", {**INVOICE, "amount_total": 6000}, state)
        forged = await retry(client, "create_invoice", INVOICE, tampered)
        accepted = await retry(client, "create_invoice", INVOICE, state)
        replayed = await retry(client, "create_invoice", INVOICE, state)
        return changed, forged, accepted, replayed

    (changed, forged, accepted, replayed), _ = modern(gateway, work)
    assert "another call: the tool or its arguments changed" in denial_text(changed)
    assert "not valid" in denial_text(forged)
    assert not accepted.is_error, accepted
    assert "already used" in denial_text(replayed)
    # Only the accepted retry ran, with the approved arguments.
    assert [call["arguments"] for call in upstream.calls("create_invoice")] == [INVOICE]


def test_an_expired_approval_is_refused(gateway, upstream):
    async def work(client):
        question = await first_round(client, "cancel_invoice", {"cae": "1"})
        await anyio.sleep(2.1)
        return await retry(client, "cancel_invoice", {"cae": "1"}, question.request_state)

    expired, _ = modern(gateway, work)
    assert "expired" in denial_text(expired)
    assert upstream.calls("cancel_invoice") == []
    assert decisions(gateway, "cancel_invoice", 2) == ["approval_required", "approval_expired"]


def test_the_policy_decides_before_anyone_is_asked(gateway, upstream):
    result, asked = modern(gateway, lambda client: client.call_tool("create_invoice", {**INVOICE, "amount_total": 200000}))
    assert asked == []
    assert denial_text(result) == "[POLICY DENIED] Invoices over 100,000 are not issued here."
    assert upstream.calls("create_invoice") == []


def test_an_older_client_gets_the_cannot_ask_denial(gateway, upstream):
    async def work(session):
        return await session.call_tool("create_invoice", INVOICE)

    result = mcp_session(gateway.url, ALICE, work)
    assert "this client cannot ask its user to confirm" in denial_text(result)
    assert upstream.calls("create_invoice") == []


@pytest.mark.parametrize("json_response", [False, True], ids=["event-stream", "json"])
def test_the_upstreams_own_questions_are_not_approved_again(json_response, request):
    upstream, gateway = request.getfixturevalue("served_json" if json_response else "served")
    upstream.reset()
    arguments = {**INVOICE, "__ask": "point_of_sale"}
    result, asked = modern(gateway, lambda client: client.call_tool("create_invoice", arguments),
                           ["accept", {"pos": 7}])
    assert not result.is_error, result
    # The filter asked once, then the upstream asked its own question.
    assert [question.message.startswith("The MCP gateway's policy") for question in asked] == [True, False]
    assert asked[1].message == "Which point of sale?"
    calls = upstream.calls("create_invoice")
    assert len(calls) == 2
    # The upstream got its own state back, never the filter's.
    assert calls[0]["request_state"] is None
    assert calls[1]["request_state"] == "upstream-round-1"
    assert calls[1]["input_responses"] == {"point_of_sale": {"action": "accept", "content": {"pos": 7}}}
    assert '"point_of_sale": 7' in result.content[0].text
