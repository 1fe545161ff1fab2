"""policies/policy.schema.json: valid itself, accepts every example policy in
policies/ (and every policy embedded in a wrapper example), and rejects
documents the filter's validator rejects.

Run: .venv/bin/python -m pytest tests/policy_files -q
"""
import copy
import json
import pathlib

import pytest
from jsonschema import Draft202012Validator

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
POLICIES = ROOT / "policies"
SCHEMA_PATH = POLICIES / "policy.schema.json"


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator():
    return Draft202012Validator(load(SCHEMA_PATH))


def example_policies():
    """(label, policy) for every policy in policies/: bare policies, and the
    policy and named policies of every wrapper. Grants lists hold none."""
    found = []
    for path in sorted(POLICIES.glob("*.json")):
        if path == SCHEMA_PATH:
            continue
        document = load(path)
        if isinstance(document, list):
            continue  # a grants list (demo-grants.json)
        if "version" in document:
            found.append((path.name, document))
            continue
        if "policy" in document:
            found.append((f"{path.name}#/policy", document["policy"]))
        for name, policy in document.get("policies", {}).items():
            found.append((f"{path.name}#/policies/{name}", policy))
    return found


EXAMPLES = example_policies()


def errors(validator, document):
    return sorted(validator.iter_errors(document), key=lambda e: list(e.path))


def test_schema_is_valid():
    schema = load(SCHEMA_PATH)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_examples_were_found():
    labels = [label for label, _ in EXAMPLES]
    for name in ["seed-policy.json", "mcp-afip.json", "evolution-api.json", "mcp-afip-recommended.json"]:
        assert name in labels
    assert any(label.startswith("wrapper-example.json#/policies/") for label in labels)
    assert len(labels) >= 6


@pytest.mark.parametrize("label,policy", EXAMPLES, ids=[label for label, _ in EXAMPLES])
def test_example_policy_validates(validator, label, policy):
    problems = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors(validator, policy)]
    assert problems == [], label


def test_examples_carry_no_schema_reference():
    # The filter's validator rejects unknown top-level fields, "$schema" included.
    for label, policy in EXAMPLES:
        assert "$schema" not in policy, label


MINIMAL = {"version": "1", "default": "deny"}


def with_tool(entry, name="create_invoice"):
    return {**MINIMAL, "tools": {name: entry}}


def limit(**overrides):
    base = {"counter": "c", "window": "minute", "max": 10}
    base.update(overrides)
    return {"limits": [base]}


VALID = {
    "minimal": MINIMAL,
    "every top-level field": {
        "version": "1",
        "default": "allow",
        "mode": "dry_run",
        "hide": ["delete_*", "drop_database"],
        "all_tools": {"limits": [{"counter": "all", "window": 3600, "max": 0, "scope": "global", "mode": "enforce"}]},
        "tools": {"get_*": {}},
        "methods": {
            "resources/read": {"default": "deny", "rules": {"file:///docs/*": "allow"}},
            "prompts/get": "allow",
            "logging/setLevel": "deny",
        },
    },
    "conditions of every op": with_tool({
        "require": [
            {"path": "args.currency", "op": "in", "value": ["PES", "DOL"]},
            {"path": "args.items.0.quantity", "op": "lte", "value": 10.5},
            {"path": "request.grant", "op": "regex", "value": "^ci-"},
            {"path": "args", "op": "exists", "value": True},
            {"path": "request.session", "op": "neq", "value": None},
        ],
        "deny_if": [
            {"conditions": [{"path": "args.tags", "op": "contains", "value": "x"}], "on_deny": "no", "mode": "dry_run"},
            {},
        ],
    }),
    "array paths and requirement messages": with_tool({
        "require": [
            {"path": "args.invoices.*.currency", "op": "in", "value": ["PES", "DOL"], "on_deny": "Pesos or dollars."},
            {"path": "args.orders.*.items.*.price", "op": "lte", "value": 100},
            {"path": "args.tags.*", "op": "regex", "value": "^[a-z]+$"},
            {"path": "args.a" + ".*" * 8, "op": "exists", "value": True},
        ],
        "deny_if": [
            {"conditions": [
                {"path": "args.invoices.*.currency", "op": "eq", "value": "DOL"},
                {"path": "args.invoices.*.amount_total", "op": "gt", "value": 1000},
            ], "on_deny": "Dollar invoices over 1,000 need a human."},
        ],
    }, name="create_invoice_batch"),
    "approval with message": with_tool({"action": "require_approval", "message": "Requires human approval."}),
    "deny without message": with_tool({"action": "deny"}),
    "header scope": with_tool(limit(scope="header:X-Team-Id")),
    "claim scope": with_tool(limit(scope="claim:sub")),
    "session scope, numeric window": with_tool(limit(scope="session", window=1)),
    "approval by the caller": with_tool({"action": "require_approval", "approval": {"by": "caller", "ttl_seconds": 60}}),
    "approval with defaults": with_tool({"action": "require_approval", "approval": {}}),
    "counted by the rate-limit service": {**with_tool(limit(counted_by="envoy", window=90)),
                                          "counted_by": "rate_limit_service"},
    "a limit counted by the rate-limit service": with_tool(limit(counted_by="rate_limit_service")),
}


@pytest.mark.parametrize("document", VALID.values(), ids=VALID.keys())
def test_schema_accepts(validator, document):
    assert errors(validator, document) == []


INVALID = {
    "missing version": {"default": "deny"},
    "version as a number": {"version": 1, "default": "deny"},
    "missing default": {"version": "1"},
    "default maybe": {"version": "1", "default": "maybe"},
    "unknown top-level field": {**MINIMAL, "$schema": "policy.schema.json"},
    "unknown tool field": with_tool({"colour": "red"}),
    "bad mode": {**MINIMAL, "mode": "shadow"},
    "empty hide entry": {**MINIMAL, "hide": [""]},
    "empty tool name": with_tool({}, name=""),
    "long pattern": with_tool({}, name="a" * 256 + "*"),
    "bad action": with_tool({"action": "ask"}),
    "message without action": with_tool({"message": "hi"}),
    "message with allow": with_tool({"action": "allow", "message": "hi"}),
    "approval with deny": with_tool({"action": "deny", "approval": {}}),
    "approval without action": with_tool({"approval": {}}),
    "approval by someone else": with_tool({"action": "require_approval", "approval": {"by": "boss"}}),
    "approver without approvers": with_tool({"action": "require_approval", "approval": {"by": "approver"}}),
    "approvers for the caller": with_tool({"action": "require_approval", "approval": {"approvers": ["carol"]}}),
    "approval ttl zero": with_tool({"action": "require_approval", "approval": {"ttl_seconds": 0}}),
    "approval ttl over a day": with_tool({"action": "require_approval", "approval": {"ttl_seconds": 86401}}),
    "unknown approval field": with_tool({"action": "require_approval", "approval": {"quorum": 2}}),
    "condition without value": with_tool({"require": [{"path": "args.a", "op": "eq"}]}),
    "unknown condition field": with_tool({"require": [{"path": "args.a", "op": "eq", "value": 1, "note": "x"}]}),
    "bad path": with_tool({"require": [{"path": "state.a", "op": "eq", "value": 1}]}),
    "empty path segment": with_tool({"require": [{"path": "args..a", "op": "eq", "value": 1}]}),
    "* right after args": with_tool({"require": [{"path": "args.*.a", "op": "eq", "value": 1}]}),
    "** segment": with_tool({"require": [{"path": "args.a.**", "op": "eq", "value": 1}]}),
    "* inside a segment": with_tool({"require": [{"path": "args.a.b*", "op": "eq", "value": 1}]}),
    "* on a request path": with_tool({"require": [{"path": "request.*", "op": "eq", "value": 1}]}),
    "empty segment after *": with_tool({"require": [{"path": "args.a.*.", "op": "eq", "value": 1}]}),
    "nine * segments": with_tool({"require": [{"path": "args.a" + ".*" * 9, "op": "eq", "value": 1}]}),
    "empty requirement on_deny": with_tool({"require": [{"path": "args.a", "op": "eq", "value": 1, "on_deny": ""}]}),
    "requirement message": with_tool({"require": [{"path": "args.a", "op": "eq", "value": 1, "message": "x"}]}),
    "on_deny on a deny_if condition": with_tool({"deny_if": [{"conditions": [{"path": "args.a", "op": "eq", "value": 1, "on_deny": "x"}]}]}),
    "bad op": with_tool({"require": [{"path": "args.a", "op": "like", "value": 1}]}),
    "gt on a string": with_tool({"require": [{"path": "args.a", "op": "gt", "value": "100"}]}),
    "in without an array": with_tool({"require": [{"path": "args.a", "op": "in", "value": "PES"}]}),
    "exists with a string": with_tool({"require": [{"path": "args.a", "op": "exists", "value": "yes"}]}),
    "regex with a number": with_tool({"deny_if": [{"conditions": [{"path": "args.a", "op": "regex", "value": 1}]}]}),
    "unknown deny_if field": with_tool({"deny_if": [{"conditions": [], "message": "x"}]}),
    "empty on_deny": with_tool({"deny_if": [{"on_deny": ""}]}),
    "window week": with_tool(limit(window="week")),
    "window zero": with_tool(limit(window=0)),
    "window over a year": with_tool(limit(window=31622401)),
    "negative max": with_tool(limit(max=-1)),
    "fractional max": with_tool(limit(max=1.5)),
    "empty counter": with_tool(limit(counter="")),
    "missing counter": with_tool({"limits": [{"window": "minute", "max": 1}]}),
    "bad scope": with_tool(limit(scope="user")),
    "empty header scope": with_tool(limit(scope="header:")),
    "header scope with a space": with_tool(limit(scope="header:x team")),
    "unknown limit field": with_tool(limit(burst=2)),
    "bad counted_by": {**MINIMAL, "counted_by": "redis"},
    "bad limit counted_by": with_tool(limit(counted_by="cluster")),
    "unknown all_tools field": {**MINIMAL, "all_tools": {"tools": []}},
    "tools/call method rule": {**MINIMAL, "methods": {"tools/call": "allow"}},
    "object rule for another method": {**MINIMAL, "methods": {"ping": {"default": "deny"}}},
    "bad method verdict": {**MINIMAL, "methods": {"ping": "block"}},
    "unknown target rule field": {**MINIMAL, "methods": {"prompts/get": {"otherwise": "deny"}}},
}


@pytest.mark.parametrize("document", INVALID.values(), ids=INVALID.keys())
def test_schema_rejects(validator, document):
    assert errors(validator, document) != []


def test_recommended_policy_mutations_are_rejected(validator):
    recommended = load(POLICIES / "mcp-afip-recommended.json")
    broken = copy.deepcopy(recommended)
    broken["tools"]["send_text"]["limits"][0]["window"] = "fortnight"
    assert [list(e.path) for e in errors(validator, broken)] == [["tools", "send_text", "limits", 0, "window"]]
