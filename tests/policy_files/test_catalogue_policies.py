"""The shipped policies against the real servers' catalogues
(tests/fixtures/servers/): the seed policy is the seed, verbatim, and `make
run`'s default; each server's recommended policy decides every tool of that
server and names no tool of another.

Run: .venv/bin/python -m pytest tests/policy_files -q
"""
import json
import pathlib
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
POLICIES = ROOT / "policies"
SERVERS = ROOT / "tests" / "fixtures" / "servers"
sys.path.insert(0, str(ROOT / "scripts"))
import render_envoy  # noqa: E402

SEED_TEXT = ('{"version":"1","default":"deny","tools":{"logout_instance":{"limits":'
             '[{"counter":"logout_instance_rate","window":"minute","max":30,"scope":"grant"}]}}}\n')
# policy file -> the server whose tools it decides
RECOMMENDED = {"mcp-afip.json": "mcp-afip", "evolution-api.json": "evolution-api"}


def policy(name):
    return json.loads((POLICIES / name).read_text(encoding="utf-8"))


def tool_names(server):
    response = json.loads((SERVERS / f"{server}.tools-list.json").read_text(encoding="utf-8"))
    return {tool["name"] for tool in response["result"]["tools"]}


def test_the_seed_policy_is_the_seed_verbatim():
    assert (POLICIES / "seed-policy.json").read_text(encoding="utf-8") == SEED_TEXT


def test_make_run_defaults_to_the_seed_policy():
    demo = yaml.safe_load((ROOT / "envoy" / "demo.yaml").read_text(encoding="utf-8"))
    configuration = json.loads(render_envoy.plugin_config(demo)["configuration"]["value"])
    assert configuration["policy"] == json.loads(SEED_TEXT)


def test_the_seed_tool_belongs_to_evolution_api():
    assert "logout_instance" in tool_names("evolution-api")
    assert "logout_instance" not in tool_names("mcp-afip")


@pytest.mark.parametrize("file,server", RECOMMENDED.items())
def test_a_recommended_policy_decides_every_tool_of_its_server_and_no_other(file, server):
    recommended = policy(file)
    listed, hidden = set(recommended["tools"]), set(recommended.get("hide", []))
    assert recommended["default"] == "deny"
    assert not any("*" in name for name in listed | hidden), "exact names only"
    assert listed.isdisjoint(hidden)
    assert listed | hidden == tool_names(server)


def test_the_evolution_policy_keeps_the_seed_rule_verbatim():
    seed = json.loads(SEED_TEXT)
    assert policy("evolution-api.json")["tools"]["logout_instance"] == seed["tools"]["logout_instance"]


def test_each_invoice_of_a_batch_is_capped_like_create_invoice():
    afip = policy("mcp-afip.json")["tools"]
    single = afip["create_invoice"]["deny_if"][0]["conditions"]
    batch = afip["create_invoice_batch"]["deny_if"][0]["conditions"]
    assert single == [{"path": "args.amount_total", "op": "gt", "value": 100000}]
    assert batch == [dict(single[0], path="args.invoices.*.amount_total")]


def test_reads_of_third_parties_personal_data_are_limited():
    afip = policy("mcp-afip.json")["tools"]
    evolution = policy("evolution-api.json")["tools"]
    for entry in [afip["lookup_taxpayer"], afip["get_registration_certificate"], evolution["get_contacts"]]:
        assert any(limit["window"] == "minute" and limit["max"] <= 10 for limit in entry["limits"])
