"""The real Evolution API behind the gateway with its recommended policy
(policies/evolution-api.json): the afip-double in its `evolution` mode serves
the 25 WhatsApp tools exactly as the real server lists them, real Envoy runs
the filter, and the official MCP Python SDK client drives each session."""
import json

from mcp.shared.exceptions import MCPError

from harness import (ROOT, assert_listed_as_the_real_server_lists_them, assert_refused_after, call_tool,
                     call_tools, list_tools, real_tools, served_catalogue, text_of, wait_for_fresh_window,
                     wrapper_config)

POLICY = json.loads((ROOT / "policies" / "evolution-api.json").read_text(encoding="utf-8"))
HIDDEN = {"delete_instance", "delete_message", "leave_group"}
GROUP = {"instance": "shop", "groupJid": "120363000000000001@g.us", "participants": ["5491100000001"]}


served = served_catalogue("evolution", wrapper_config(POLICY))


def test_tools_list_is_the_real_catalogue_without_the_hidden_tools(url):
    expected = set(real_tools("evolution-api")) - HIDDEN
    assert len(expected) == 22
    assert_listed_as_the_real_server_lists_them(list_tools(url), "evolution-api", expected)


def test_allowed_calls_reach_the_server(url, upstream):
    text = {"instance": "shop", "number": "5491100000001", "text": "Your invoice is ready"}
    sent, added = call_tools(url, [("send_text", text),
                                   ("update_group_participants", {**GROUP, "action": "add"})])
    assert not sent.is_error, text_of(sent)
    assert json.loads(text_of(sent))["key"]["remoteJid"] == "5491100000001@s.whatsapp.net"
    assert not added.is_error, text_of(added)
    assert [c["arguments"] for c in upstream.calls("send_text")] == [text]
    assert [c["arguments"]["action"] for c in upstream.calls("update_group_participants")] == ["add"]


def test_removing_a_group_member_never_reaches_the_server(url, upstream):
    for action in ["remove", "demote"]:
        result = call_tool(url, "update_group_participants", {**GROUP, "action": action})
        assert result.is_error
        assert text_of(result) == \
            "[POLICY DENIED] Removing or demoting group participants requires human approval."
        assert result.meta["mcp-policy/rule"] == "/tools/update_group_participants/deny_if/0"
    assert upstream.calls("update_group_participants") == []


def test_the_pairing_qr_code_needs_approval_and_hidden_tools_are_unknown(url, upstream):
    qr, hidden = call_tools(url, [("get_qrcode", {"instance": "shop"}), ("delete_instance", {"instance": "shop"})])
    assert qr.is_error
    assert text_of(qr).startswith("[POLICY DENIED] Pairing a phone needs a person")
    assert isinstance(hidden, MCPError)
    assert (hidden.code, hidden.message) == (-32602, "Unknown tool: delete_instance")
    assert upstream.calls("get_qrcode") == []
    assert upstream.calls("delete_instance") == []


def test_messages_stop_after_ten_a_minute(url, upstream):
    wait_for_fresh_window(60, margin=10)
    calls = []
    for n in range(5):
        message = {"instance": "shop", "number": f"549110000000{n}"}
        calls += [("send_text", {**message, "text": "hello"}),
                  ("send_image", {**message, "mediaUrl": "https://example.invalid/a.png"})]
    refused = ("send_text", {"instance": "shop", "number": "5491199999999", "text": "x"})
    results = call_tools(url, calls + [refused], token="demo-token-bob")
    assert_refused_after(results, 10, "/tools/send_text/limits/messages_sent")
    forwarded = upstream.calls("send_text") + upstream.calls("send_image")
    assert len(forwarded) == 10
    assert "5491199999999" not in [c["arguments"]["number"] for c in forwarded]
