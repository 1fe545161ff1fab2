"""The real Mcp Afip behind the gateway with its recommended policy
(policies/mcp-afip.json): the afip-double in its `afip` mode serves the 20
invoicing tools exactly as the real server lists them, real Envoy runs the
filter, and the official MCP Python SDK client drives each session."""
import json


from harness import (ROOT, assert_listed_as_the_real_server_lists_them, assert_refused_after, call_tool,
                     call_tools, list_tools, real_tools, served_catalogue, text_of, wait_for_fresh_window,
                     wrapper_config)

POLICY = json.loads((ROOT / "policies" / "mcp-afip.json").read_text(encoding="utf-8"))
# Tools that need a person's approval: with hide_denied_tools, no grant sees them.
NEEDS_APPROVAL = {"create_credit_note", "create_debit_note", "cancel_invoice"}


def invoice(amount_total, number=1):
    return {"concept": 1, "doc_type": 80, "doc_number": 20111111112, "invoice_number": number,
            "amount_total": amount_total, "currency": "PES"}


def batch(*amounts):
    return {"point_of_sale": 1, "invoice_type": 6,
            "invoices": [invoice(amount, n) for n, amount in enumerate(amounts, start=1)]}


served = served_catalogue("afip", wrapper_config(POLICY, hide_denied_tools=True))


def test_tools_list_is_the_real_catalogue_without_the_tools_needing_approval(url):
    expected = set(real_tools("mcp-afip")) - NEEDS_APPROVAL
    assert len(expected) == 17
    assert_listed_as_the_real_server_lists_them(list_tools(url), "mcp-afip", expected)


def test_an_invoice_within_the_cap_reaches_the_server(url, upstream):
    arguments = {"point_of_sale": 1, "invoice_type": 6, **invoice(5000)}
    result = call_tool(url, "create_invoice", arguments)
    assert not result.is_error, text_of(result)
    assert json.loads(text_of(result))["result"] == "A"
    assert [c["arguments"] for c in upstream.calls("create_invoice")] == [arguments]


def test_an_invoice_over_the_cap_never_reaches_the_server(url, upstream):
    result = call_tool(url, "create_invoice", {"point_of_sale": 1, "invoice_type": 6, **invoice(250000)})
    assert result.is_error
    assert text_of(result) == \
        "[POLICY DENIED] Invoices over 100,000 need a person: issue them in the AFIP portal."
    assert result.meta["mcp-policy/rule"] == "/tools/create_invoice/deny_if/0"
    assert upstream.calls("create_invoice") == []


def test_a_credit_note_needs_approval_and_never_reaches_the_server(url, upstream):
    result = call_tool(url, "create_credit_note", {"point_of_sale": 1, "note_type": 8, "amount_total": 10})
    assert result.is_error
    assert text_of(result) == "[POLICY DENIED] Credit notes need a person's approval."
    assert upstream.calls("create_credit_note") == []


def test_taxpayer_lookups_stop_after_ten_a_minute(url, upstream):
    wait_for_fresh_window(60, margin=10)
    calls = [call for n in range(5) for call in [("lookup_taxpayer", {"cuit": f"2011111111{n}"}),
                                                 ("get_registration_certificate", {"cuit": f"2722222222{n}"})]]
    results = call_tools(url, calls + [("lookup_taxpayer", {"cuit": "20333333339"})], token="demo-token-bob")
    assert_refused_after(results, 10, "/tools/lookup_taxpayer/limits/taxpayer_lookups")
    forwarded = upstream.calls("lookup_taxpayer") + upstream.calls("get_registration_certificate")
    assert sorted(c["arguments"]["cuit"] for c in forwarded) == sorted(args["cuit"] for _, args in calls)


def test_a_batch_with_one_invoice_over_the_cap_is_denied_and_never_forwarded(url, upstream):
    result = call_tool(url, "create_invoice_batch", batch(5000, 250000, 7000))
    assert result.is_error
    assert text_of(result) == ("[POLICY DENIED] Invoices over 100,000 need a person, in a batch too: "
                               "issue them in the AFIP portal. (args.invoices.1.amount_total is 250000)")
    assert result.meta["mcp-policy/rule"] == "/tools/create_invoice_batch/deny_if/0"
    assert upstream.calls("create_invoice_batch") == []


def test_a_batch_within_the_cap_reaches_the_server(url, upstream):
    arguments = batch(5000, 100000)
    result = call_tool(url, "create_invoice_batch", arguments)
    assert not result.is_error, text_of(result)
    assert len(json.loads(text_of(result))["invoices"]) == 2
    assert [c["arguments"] for c in upstream.calls("create_invoice_batch")] == [arguments]
