"""Human approval, part 2: a named approver decides on the page the filter
serves, under 2025-06-18 (the official TypeScript client) and 2026-07-28
(the official Python client, which is sent to the page by URL elicitation),
and the page itself in a real browser (Debian's chromium through Selenium).

Every refusal is checked against the upstream's record: a refused call never
reached it.

Run: .venv/bin/python -m pytest tests/e2e/test_approver.py -q
"""
import hashlib
import json
import time

import anyio
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import ElicitResult

from harness import DEMO_GRANTS, AfipDouble, Gateway, StatelessUpstream, http, ts_client, wrapper_config

ALICE = "demo-token-alice"
BOB = "demo-token-bob"
CAROL = "demo-token-carol"
# A memo an attacker would like to see run in the approver's browser.
MEMO = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
NOTE = {"point_of_sale": 1, "invoice_type": 3, "amount_total": 1500, "memo": MEMO}
POLICY = {
    "version": "1",
    "default": "deny",
    "tools": {
        "get_server_status": {},
        "create_credit_note": {
            "action": "require_approval",
            "approval": {"by": "approver", "approvers": ["carol", "alice"]},
            "limits": [{"counter": "notes", "window": "hour", "max": 100}],
        },
    },
}
GRANTS = DEMO_GRANTS + [{"name": "carol", "token_sha256": [hashlib.sha256(CAROL.encode()).hexdigest()]}]


def configuration():
    return wrapper_config(POLICY, grants=GRANTS, approvals={"enabled": True})


@pytest.fixture(scope="module")
def legacy(tmp_path_factory):
    """The afip-double (official TypeScript SDK server) behind a gateway."""
    directory = tmp_path_factory.mktemp("approver")
    double = AfipDouble(directory / "double.log")
    gateway = Gateway(directory, double.port, configuration())
    yield double, gateway
    gateway.stop()
    double.stop()


@pytest.fixture(scope="module")
def modern_served(tmp_path_factory):
    """The 2026-07-28 stateless upstream (official Python SDK server) behind a gateway."""
    directory = tmp_path_factory.mktemp("approver-modern")
    upstream = StatelessUpstream(directory / "upstream.log")
    gateway = Gateway(directory, upstream.port, configuration())
    yield upstream, gateway
    gateway.stop()
    upstream.stop()


def api(gateway, token, method="GET", path="/mcp-policy/approvals", body=None):
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    status, _, text = http(method, gateway.url.removesuffix("/mcp") + path, body, headers)
    return status, json.loads(text or b"{}")


def decide(gateway, token, approval_id, decision):
    return api(gateway, token, "POST", f"/mcp-policy/approvals/{approval_id}", {"decision": decision})


def call_2025(gateway, token=ALICE, arguments=NOTE):
    """One create_credit_note call of the official TypeScript client at 2025-06-18."""
    report = ts_client(gateway.url, "2025-06-18", [{"op": "call_tool", "name": "create_credit_note",
                                                     "arguments": arguments}], token=token)
    assert report.get("error") is None, report
    assert report["protocol_negotiated"] == "2025-06-18"
    step = report["steps"][0]
    assert step["ok"], step
    return step["result"]


def pending(result):
    """The approval a pending result names, after checking its form."""
    assert result["isError"] is True, result
    approval = result["_meta"]["mcp-policy/approval"]
    assert approval["status"] == "pending"
    text = result["content"][0]["text"]
    assert text == (f"[POLICY DENIED] Approval required: request {approval['id']} is waiting for an approver "
                    f"at {approval['url']}. Retry the same call once it is approved.")
    assert approval["url"].endswith(f"/mcp-policy/approvals?id={approval['id']}")
    return approval


def last_decisions(gateway, expected):
    """The audit log's last (decision, approver) pairs on create_credit_note,
    as many as `expected` has, once they equal it or after 10 s (Envoy
    flushes its access log on its own schedule)."""
    deadline = time.monotonic() + 10
    while True:
        found = [(line["decision"], line.get("approver")) for line in gateway.audit_lines()
                 if line.get("tool") == "create_credit_note"][-len(expected):]
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_approved_at_2025_06_18_the_retry_passes_once(legacy):
    double, gateway = legacy
    double.reset()
    arguments = {**NOTE, "amount_total": 1501}
    approval = pending(call_2025(gateway, arguments=arguments))
    assert pending(call_2025(gateway, arguments=arguments))["id"] == approval["id"], "still the same request"
    assert double.calls("create_credit_note") == []

    status, listed = api(gateway, CAROL)
    assert status == 200
    waiting = [entry for entry in listed["approvals"] if entry["id"] == approval["id"]]
    assert waiting and waiting[0]["grant"] == "alice" and waiting[0]["arguments"] == arguments
    # Bob is no approver; Alice is one, but not of her own request; no token is no one.
    assert decide(gateway, BOB, approval["id"], "approve")[0] == 403
    assert decide(gateway, ALICE, approval["id"], "approve") == (403, {"error": "an approver cannot decide their own request"})
    assert decide(gateway, None, approval["id"], "approve")[0] == 401
    assert decide(gateway, CAROL, approval["id"], "approve") == (200, {"id": approval["id"], "status": "approved", "decidedBy": "carol"})

    assert call_2025(gateway, arguments=arguments).get("isError") is not True
    assert [call["arguments"] for call in double.calls("create_credit_note")] == [arguments]
    again = pending(call_2025(gateway, arguments=arguments))
    assert again["id"] != approval["id"], "an approval lets one call through"
    assert len(double.calls("create_credit_note")) == 1
    expected = [("approval_given", "carol"), ("approved", "carol"), ("approval_required", None)]
    assert last_decisions(gateway, expected) == expected


def test_denied_at_2025_06_18_the_retry_is_refused(legacy):
    double, gateway = legacy
    double.reset()
    arguments = {**NOTE, "amount_total": 1502}
    approval = pending(call_2025(gateway, arguments=arguments))
    assert decide(gateway, CAROL, approval["id"], "deny")[0] == 200
    refused = call_2025(gateway, arguments=arguments)
    assert refused["isError"] is True
    assert refused["content"][0]["text"] == f"[POLICY DENIED] Approval request {approval['id']} was denied by carol."
    assert double.calls("create_credit_note") == []
    expected = [("approval_refused", "carol"), ("approval_denied", "carol")]
    assert last_decisions(gateway, expected) == expected


def test_at_2026_07_28_the_client_is_sent_to_the_page(modern_served):
    upstream, gateway = modern_served
    upstream.reset()
    opened = []

    async def open_page(_context, params):
        opened.append(params)
        return ElicitResult(action="accept")

    async def call(client):
        return await client.call_tool("create_credit_note", {**NOTE, "amount_total": 1503})

    async def session(work):
        with anyio.fail_after(60):
            async with create_mcp_http_client(headers={"Authorization": f"Bearer {ALICE}"}) as http_client:
                transport = streamable_http_client(gateway.url, http_client=http_client)
                async with Client(transport, mode="2026-07-28", elicitation_callback=open_page) as client:
                    return await work(client)

    first = anyio.run(session, call)
    assert first.is_error
    approval = first.meta["mcp-policy/approval"]
    # The client was sent to the page once, then got the terminal pending result.
    assert [(params.mode, params.url) for params in opened] == [("url", approval["url"])]
    assert upstream.calls("create_credit_note") == []
    assert decide(gateway, CAROL, approval["id"], "approve")[0] == 200
    passed = anyio.run(session, call)
    assert not passed.is_error, passed
    calls = upstream.calls("create_credit_note")
    assert len(calls) == 1 and calls[0]["request_state"] is None and calls[0]["input_responses"] is None


def test_the_page_in_a_browser(legacy):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    double, gateway = legacy
    double.reset()
    arguments = {**NOTE, "amount_total": 1504}
    approval = pending(call_2025(gateway, arguments=arguments))
    status, headers, _ = http("GET", approval["url"], headers={"Accept": "text/html"})
    assert status == 200 and headers["content-security-policy"].startswith("default-src 'none'; script-src 'sha256-")

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))
    try:
        driver.set_page_load_timeout(30)
        driver.get(approval["url"])
        driver.find_element(By.ID, "token").send_keys(CAROL)
        driver.find_element(By.ID, "load").click()
        wait = WebDriverWait(driver, 20)
        row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-id="{approval["id"]}"]'))
        assert "wanted" in row.get_attribute("class")
        cells = row.find_elements(By.TAG_NAME, "td")
        assert [cell.text for cell in cells[:3]] == [approval["id"], "alice", "create_credit_note"]
        # The arguments are text on the page: the markup in them never ran.
        assert json.dumps(MEMO) in cells[3].text
        assert row.find_elements(By.TAG_NAME, "script") == [] and row.find_elements(By.TAG_NAME, "img") == []
        assert driver.execute_script("return window.__pwned === undefined")
        row.find_element(By.CSS_SELECTOR, 'button[data-decision="approve"]').click()
        wait.until(lambda d: "approved" in d.find_element(By.ID, "status").text)
        assert driver.get_cookies() == [], "the token is never kept in a cookie"
    finally:
        driver.quit()
    assert call_2025(gateway, arguments=arguments).get("isError") is not True
    assert [call["arguments"] for call in double.calls("create_credit_note")] == [arguments]
