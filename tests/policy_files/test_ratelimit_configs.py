"""The rate-limit service configurations `mcp-policy ratelimit-config`
writes (tests/fixtures/ratelimit/, kept current by tests/cli_ratelimit_config.rs)
are in each project's documented format, and carry the policy's limits.

Each format is checked by a validator written from the project's
documentation: envoyproxy/ratelimit's README (its configuration keys, units
and nesting) and Limitador's limits file. The validators are first shown to
accept examples of the documented format and to reject broken ones.
"""
import json
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "ratelimit"

ENVOYPROXY_DESCRIPTOR_KEYS = {"key", "value", "rate_limit", "descriptors", "shadow_mode", "detailed_metric"}
ENVOYPROXY_RATE_LIMIT_KEYS = {"unit", "requests_per_unit", "unlimited", "name", "replaces"}
ENVOYPROXY_UNITS = {"second", "minute", "hour", "day", "month", "year"}
LIMITADOR_KEYS = {"namespace", "max_value", "seconds", "conditions", "variables", "name", "id"}
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def envoyproxy_problems(document):
    problems = []
    if not isinstance(document, dict) or set(document) - {"domain", "descriptors"}:
        return ["the root is a mapping of domain and descriptors"]
    if not isinstance(document.get("domain"), str) or not document["domain"]:
        problems.append("domain must be a non-empty string")

    def descriptors(items, at):
        if not isinstance(items, list):
            problems.append(f"{at}: descriptors must be a list")
            return
        seen = set()
        for index, item in enumerate(items):
            here = f"{at}[{index}]"
            if not isinstance(item, dict) or set(item) - ENVOYPROXY_DESCRIPTOR_KEYS:
                problems.append(f"{here}: unknown keys {sorted(set(item) - ENVOYPROXY_DESCRIPTOR_KEYS)}")
                continue
            if not isinstance(item.get("key"), str) or not item["key"]:
                problems.append(f"{here}: a descriptor needs a key")
            composite = (item.get("key"), item.get("value"))
            if composite in seen:
                problems.append(f"{here}: duplicate descriptor {composite}")
            seen.add(composite)
            if "value" in item and not isinstance(item["value"], str):
                problems.append(f"{here}: value must be a string")
            for flag in ("shadow_mode", "detailed_metric"):
                if flag in item and not isinstance(item[flag], bool):
                    problems.append(f"{here}: {flag} must be a boolean")
            limit = item.get("rate_limit")
            if limit is not None:
                if not isinstance(limit, dict) or set(limit) - ENVOYPROXY_RATE_LIMIT_KEYS:
                    problems.append(f"{here}: bad rate_limit {limit}")
                elif limit.get("unlimited"):
                    if "unit" in limit:
                        problems.append(f"{here}: no unit when unlimited")
                else:
                    if str(limit.get("unit", "")).lower() not in ENVOYPROXY_UNITS:
                        problems.append(f"{here}: unit must be one of {sorted(ENVOYPROXY_UNITS)}")
                    count = limit.get("requests_per_unit")
                    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < 2 ** 32:
                        problems.append(f"{here}: requests_per_unit must be a uint32")
            if "descriptors" in item:
                descriptors(item["descriptors"], here + ".descriptors")

    descriptors(document.get("descriptors", []), "descriptors")
    return problems


def limitador_problems(document):
    problems = []
    if not isinstance(document, list):
        return ["a limits file is a list of limits"]
    for index, limit in enumerate(document):
        if not isinstance(limit, dict) or set(limit) - LIMITADOR_KEYS:
            problems.append(f"[{index}]: unknown keys")
            continue
        if not isinstance(limit.get("namespace"), str) or not limit["namespace"]:
            problems.append(f"[{index}]: namespace must be a non-empty string")
        for field, least in (("max_value", 0), ("seconds", 1)):
            value = limit.get(field)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                problems.append(f"[{index}]: {field} must be a whole number of at least {least}")
        for field in ("conditions", "variables"):
            if not isinstance(limit.get(field, []), list) or not all(isinstance(e, str) and e for e in limit.get(field, [])):
                problems.append(f"[{index}]: {field} must be a list of CEL expressions")
    return problems


def load(name):
    return yaml.safe_load((FIXTURES / name).read_text())


def test_the_validators_accept_the_documented_formats():
    assert envoyproxy_problems(load("envoyproxy-documented.yaml")) == []
    assert limitador_problems(load("limitador-documented.yaml")) == []


@pytest.mark.parametrize("broken", [
    {"domain": "", "descriptors": []},
    {"domain": "d", "descriptors": [{"value": "v"}]},
    {"domain": "d", "descriptors": [{"key": "k", "rate_limit": {"unit": "week", "requests_per_unit": 1}}]},
    {"domain": "d", "descriptors": [{"key": "k", "rate_limit": {"unit": "minute", "requests_per_unit": -1}}]},
    {"domain": "d", "descriptors": [{"key": "k", "limit": 3}]},
    {"domain": "d", "descriptors": [{"key": "k"}, {"key": "k"}]},
])
def test_the_envoyproxy_validator_rejects_what_the_service_rejects(broken):
    assert envoyproxy_problems(broken) != []


@pytest.mark.parametrize("broken", [
    {"namespace": "n", "max_value": 1, "seconds": 60},
    [{"namespace": "n", "max_value": 1, "seconds": 0}],
    [{"namespace": "", "max_value": 1, "seconds": 60}],
    [{"namespace": "n", "max_value": 1, "seconds": 60, "conditions": "a == 'b'"}],
    [{"namespace": "n", "max_value": 1, "seconds": 60, "limit": 3}],
])
def test_the_limitador_validator_rejects_what_the_service_rejects(broken):
    assert limitador_problems(broken) != []


def service_limits():
    """(counter, scope, unit, max) of every limit wrapper.json has the service count."""
    wrapper = json.loads((FIXTURES / "wrapper.json").read_text())
    policies = [wrapper["policy"], *wrapper.get("policies", {}).values()]
    found = set()
    for policy in policies:
        default = policy.get("counted_by", "envoy")
        limits = list(policy.get("all_tools", {}).get("limits", []))
        for entry in policy.get("tools", {}).values():
            limits += entry.get("limits", [])
        for limit in limits:
            if limit.get("counted_by", default) != "rate_limit_service" or limit.get("mode") == "dry_run":
                continue
            window = limit["window"]
            unit = window if isinstance(window, str) else {v: k for k, v in UNIT_SECONDS.items()}[window]
            found.add((limit["counter"], limit.get("scope", "grant"), unit, limit["max"]))
    return found


def test_the_envoyproxy_configuration_is_valid_and_carries_the_policys_limits():
    document = load("envoyproxy.yaml")
    assert envoyproxy_problems(document) == []
    assert document["domain"] == "mcp_policy"
    found = set()
    for counter in document["descriptors"]:
        assert counter["key"] == "counter"
        for scope in counter["descriptors"]:
            assert scope["key"] == "scope"
            [value] = scope["descriptors"]
            assert value["key"] == "value" and "value" not in value, "counted per value"
            limit = value["rate_limit"]
            found.add((counter["value"], scope["value"], limit["unit"], limit["requests_per_unit"]))
    assert found == service_limits()


def test_the_limitador_configuration_is_valid_and_carries_the_policys_limits():
    document = load("limitador.yaml")
    assert limitador_problems(document) == []
    found = set()
    for limit in document:
        assert limit["namespace"] == "mcp_policy"
        counter, scope = limit["name"].removesuffix(")").split(" (")
        [condition] = limit["conditions"]
        [variable] = limit["variables"]
        # Every position a descriptor can have, guarded by the list's size.
        for index in range(len(document)):
            at = (f"size(descriptors) > {index} && descriptors[{index}].counter == '{counter}'"
                  f" && descriptors[{index}].scope == '{scope}'")
            assert f"({at})" in condition
            assert f"({at}) ? descriptors[{index}].value" in variable
        unit = {v: k for k, v in UNIT_SECONDS.items()}[limit["seconds"]]
        found.add((counter, scope, unit, limit["max_value"]))
    assert found == service_limits()
