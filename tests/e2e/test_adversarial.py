"""Known MCP-gateway bypass classes, each tried through real Envoy and the filter.

Every refusal is checked on the wire (HTTP status, JSON-RPC code, the request id kept
where the body lets it be read) and at the upstream: its /__calls record must not change,
so nothing refused was forwarded. Where the answer is "allowed", the upstream must have
run exactly what the policy decided on.

Upstreams: the afip-double (Streamable HTTP, TypeScript SDK) unless a class belongs to
another transport: legacy `/messages` POSTs (legacy-sse, Python SDK) and 2026-07-28
mirrored headers (the afip-double and the stateless Python SDK server, which itself
checks the headers).
"""
import gzip
import json
import shutil
import subprocess
import zlib

import pytest

from harness import (chunked_post, expect_continue_post, h2_request, mcp_headers, raw_request, SseReader,
                     wrapper_config)

POLICY = {
    "version": "1",
    "default": "deny",
    "hide": ["delete_instance"],
    "tools": {"get_server_status": {}, "send_text": {}},
}
ALICE = "demo-token-alice"
BOB = "demo-token-bob"
MODERN = "2026-07-28"
MIB = 1024 * 1024
ABSENT = object()


@pytest.fixture
def gateway(double, gateway_factory):
    return gateway_factory(double, wrapper_config(POLICY))


def post(gateway, body, session=None, version=None, token=ALICE, content_type="application/json",
         extra=(), path="/mcp"):
    headers = mcp_headers(token=token, content_type=content_type)
    if session is not None:
        headers.append(("Mcp-Session-Id", session))
    if version is not None:
        headers.append(("MCP-Protocol-Version", version))
    headers += list(extra)
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return raw_request(gateway.port, "POST", path, raw, headers)


def open_session(gateway, version="2025-06-18", token=ALICE):
    status, headers, body = post(gateway, {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                                           "params": {"protocolVersion": version, "capabilities": {},
                                                      "clientInfo": {"name": "adversary", "version": "1"}}},
                                 token=token)
    assert status == 200, body
    session = headers["mcp-session-id"]
    header_version = None if version == "2025-03-26" else version
    status, _, body = post(gateway, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                           session=session, version=header_version, token=token)
    assert status == 202, body
    return session


def call(name, id=1, arguments=None):
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": arguments or {}}}


def json_body(response):
    status, headers, body = response
    try:
        return json.loads(body)
    except ValueError:
        raise AssertionError(f"HTTP {status}, not JSON: {body[:300]!r}") from None


def expect_error(response, status, code, id=ABSENT):
    """A JSON-RPC error reply with this HTTP status and code (and id, when given)."""
    reply = json_body(response)
    assert (response[0], reply.get("error", {}).get("code")) == (status, code), (response[0], reply)
    if id is not ABSENT:
        assert reply.get("id") == id, reply
    return reply


def expect_denial(response, id):
    reply = json_body(response)
    assert response[0] == 200, (response[0], reply)
    assert reply.get("id") == id, reply
    result = reply.get("result", {})
    assert result.get("isError") is True, reply
    assert result["content"][0]["text"].startswith("[POLICY DENIED] "), reply
    return reply


def expect_unknown_tool(response, id, name):
    reply = json_body(response)
    assert response[0] == 200, (response[0], reply)
    assert reply == {"jsonrpc": "2.0", "id": id, "error": {"code": -32602, "message": f"Unknown tool: {name}"}}


def nothing_forwarded(upstream):
    assert upstream.methods() == [], upstream.methods()


# ------------------------------------------------------------------ batches

@pytest.fixture
def batch_session(gateway, double):
    session = open_session(gateway, version="2025-03-26")
    double.reset()
    return session


def test_batch_with_a_denied_element_forwards_nothing(gateway, double, batch_session):
    batch = [call("get_server_status", id=1), {"jsonrpc": "2.0", "method": "notifications/progress",
                                                "params": {"progressToken": 1, "progress": 1}},
             call("create_invoice", id=2, arguments={"amount_total": 1}), call("delete_instance", id="h")]
    response = post(gateway, batch, session=batch_session)
    assert response[0] == 200, response
    replies = json_body(response)
    assert isinstance(replies, list) and len(replies) == 3, replies
    by_id = {reply["id"]: reply for reply in replies}
    assert by_id[1]["error"]["code"] == -32600
    assert by_id[1]["error"]["message"].startswith("Batch not forwarded")
    assert by_id[2]["result"]["isError"] is True
    assert by_id[2]["result"]["content"][0]["text"].startswith("[POLICY DENIED] ")
    assert by_id["h"]["error"] == {"code": -32602, "message": "Unknown tool: delete_instance"}
    nothing_forwarded(double)


def test_batch_of_allowed_elements_is_forwarded(gateway, double, batch_session):
    response = post(gateway, [call("get_server_status", id=1), {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}],
                    session=batch_session)
    assert response[0] == 200, response
    assert [c["name"] for c in double.calls()] == ["get_server_status"]
    assert sorted(m["method"] for m in double.methods()) == ["tools/call", "tools/list"]


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", MODERN])
def test_batch_under_2025_06_18_and_later_is_invalid(gateway, double, version):
    session = open_session(gateway, version="2025-11-25" if version == MODERN else version)
    double.reset()
    response = post(gateway, [call("get_server_status", id=1)], session=session, version=version)
    expect_error(response, 400, -32600, id=None)
    nothing_forwarded(double)


@pytest.mark.parametrize("body", [
    "[]",
    json.dumps([[call("create_invoice", id=1)]]),
    json.dumps([call("get_server_status", id=1), [call("create_invoice", id=2)]]),
], ids=["empty", "nested", "nested-after-allowed"])
def test_malformed_batches_are_invalid(gateway, double, batch_session, body):
    expect_error(post(gateway, body, session=batch_session), 400, -32600, id=None)
    nothing_forwarded(double)


@pytest.mark.parametrize("second_id", ["1", '"1"', "1.0"], ids=["same", "string-vs-number", "float"])
def test_duplicate_ids_in_a_batch_are_invalid(gateway, double, batch_session, second_id):
    body = (f'[{json.dumps(call("get_server_status", id=1))},'
            f'{{"jsonrpc":"2.0","id":{second_id},"method":"tools/call","params":{{"name":"create_invoice"}}}}]')
    expect_error(post(gateway, body, session=batch_session), 400, -32600, id=None)
    nothing_forwarded(double)


# ----------------------------------------------------------- duplicate keys

@pytest.fixture
def session(gateway, double):
    session = open_session(gateway)
    double.reset()
    return session


def send(gateway, body, session, **kwargs):
    return post(gateway, body, session=session, version="2025-06-18", **kwargs)


@pytest.mark.parametrize("body", [
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_server_status","name":"create_invoice"}}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_server_status","na\\u006de":"create_invoice"}}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_text","arguments":'
    '{"instance":"a","number":"1","text":"x","opts":{"deep":[{"k":1,"k":2}]}}}}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_text","arguments":{"number":"1","number":"2"}}}',
    '{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"create_invoice"}}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_server_status"},"params":{"name":"create_invoice"}}',
], ids=["name", "escaped-name", "deep-arguments", "argument", "method", "params"])
def test_duplicate_keys_are_parse_errors(gateway, double, session, body):
    expect_error(send(gateway, body, session), 400, -32700, id=1)
    nothing_forwarded(double)


def test_duplicate_id_key_is_a_parse_error_without_id(gateway, double, session):
    body = '{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/call","params":{"name":"create_invoice"}}'
    expect_error(send(gateway, body, session), 400, -32700, id=None)
    nothing_forwarded(double)


# -------------------------------------------------- Go-style member spelling

def test_go_style_name_variant_cannot_change_the_tool(gateway, double, session):
    # Members match exactly, as the TypeScript and Python SDKs read them: "name" decides.
    body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_server_status","Name":"create_invoice"}}'
    response = send(gateway, body, session)
    assert response[0] == 200, response
    assert [c["name"] for c in double.calls()] == ["get_server_status"]

    double.reset()
    body = '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_invoice","Name":"get_server_status"}}'
    expect_denial(send(gateway, body, session), id=2)
    nothing_forwarded(double)

    body = '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"Name":"get_server_status"}}'
    expect_error(send(gateway, body, session), 400, -32602, id=3)
    nothing_forwarded(double)


# ------------------------------------------------------ escapes and variants

def test_unicode_escaped_hidden_name_is_the_hidden_tool(gateway, double, session):
    body = '{"jsonrpc":"2.0","id":"e1","method":"tools/call","params":{"name":"delete\\u005finstance","arguments":{}}}'
    expect_unknown_tool(send(gateway, body, session), "e1", "delete_instance")
    body = '{"jsonrpc":"2.0","id":"e2","method":"tools/call","params":{"name":"\\u0063reate_invoice","arguments":{}}}'
    expect_denial(send(gateway, body, session), id="e2")
    nothing_forwarded(double)


def test_unicode_escaped_allowed_name_is_allowed(gateway, double, session):
    body = '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get\\u005fserver\\u005fstatus"}}'
    response = send(gateway, body, session)
    assert response[0] == 200, response
    assert [c["name"] for c in double.calls()] == ["get_server_status"]


@pytest.mark.parametrize("name", ["get_server_status ", " get_server_status", "GET_SERVER_STATUS",
                                  "Get_Server_Status", "get_server_status\u200b", "get_server_status\n",
                                  "Delete_Instance"])
def test_name_variants_fall_to_the_default(gateway, double, session, name):
    reply = expect_denial(send(gateway, call(name, id=8), session), id=8)
    assert reply["result"]["_meta"]["mcp-policy/rule"] == "(default deny)"
    nothing_forwarded(double)


# ------------------------------------------------------ encodings and types

@pytest.mark.parametrize("encoding,compress", [("gzip", gzip.compress), ("deflate", zlib.compress),
                                               ("GZIP", gzip.compress), ("gzip, identity", gzip.compress),
                                               ("br", lambda data: data)])
def test_content_encoding_is_refused(gateway, double, session, encoding, compress):
    body = compress(json.dumps(call("create_invoice", id=3)).encode())
    response = send(gateway, body, session, extra=[("Content-Encoding", encoding)])
    expect_error(response, 415, -32600)
    nothing_forwarded(double)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "APPLICATION/JSON",
                                          "Application/Json ; Charset=UTF-8"])
def test_json_content_type_variants_are_inspected(gateway, double, session, content_type):
    expect_denial(send(gateway, call("create_invoice", id=5), session, content_type=content_type), id=5)
    nothing_forwarded(double)
    response = send(gateway, call("get_server_status", id=6), session, content_type=content_type)
    assert response[0] == 200, response
    assert [c["name"] for c in double.calls()] == ["get_server_status"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/jsonx", "application/json-seq",
                                          "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
                                          None], ids=lambda v: str(v))
def test_other_content_types_are_refused(gateway, double, session, content_type):
    expect_error(send(gateway, call("create_invoice", id=3), session, content_type=content_type), 415, -32600)
    nothing_forwarded(double)


@pytest.mark.parametrize("first,second", [("text/plain", "application/json"), ("application/json", "text/plain"),
                                           ("application/json", "application/json")])
def test_repeated_content_type_is_refused(gateway, double, session, first, second):
    headers = mcp_headers(content_type=first) + [("Content-Type", second), ("Mcp-Session-Id", session),
                                                 ("MCP-Protocol-Version", "2025-06-18")]
    response = raw_request(gateway.port, "POST", "/mcp", json.dumps(call("create_invoice", id=3)), headers)
    expect_error(response, 415, -32600)
    nothing_forwarded(double)


def oversized_call(size=MIB + 10):
    return json.dumps(call("send_text", id=12, arguments={"instance": "a", "number": "1", "text": "x" * size}))


def test_oversized_body_is_413(gateway, double, session):
    expect_error(send(gateway, oversized_call(), session), 413, -32600)
    nothing_forwarded(double)


def test_oversized_chunked_body_without_length_is_413(gateway, double, session):
    body = oversized_call().encode()
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    headers = mcp_headers() + [("Mcp-Session-Id", session), ("MCP-Protocol-Version", "2025-06-18")]
    status, _, reply, _ = chunked_post(gateway.port, "/mcp", chunks, headers)
    expect_error((status, {}, reply), 413, -32600)
    nothing_forwarded(double)


def test_small_chunked_body_is_inspected(gateway, double, session):
    body = json.dumps(call("create_invoice", id=13)).encode()
    headers = mcp_headers() + [("Mcp-Session-Id", session), ("MCP-Protocol-Version", "2025-06-18")]
    status, _, reply, _ = chunked_post(gateway.port, "/mcp", [body[:20], body[20:]], headers)
    expect_denial((status, {}, reply), id=13)
    nothing_forwarded(double)


# ------------------------------------------------------------ malformed JSON

@pytest.mark.parametrize("body", [
    b"\xef\xbb\xbf" + json.dumps(call("create_invoice", id=21)).encode(),
    json.dumps(call("create_invoice", id=21)).encode() + b" x",
    json.dumps(call("create_invoice", id=21)).encode() + json.dumps(call("get_server_status", id=22)).encode(),
    json.dumps(call("create_invoice", id=21)).encode() + b"\x00",
    json.dumps(call("create_invoice", id=21)).encode()[:-1] + b",}",
], ids=["bom", "trailing-garbage", "two-objects", "trailing-nul", "trailing-comma"])
def test_malformed_json_is_a_parse_error(gateway, double, session, body):
    expect_error(send(gateway, body, session), 400, -32700, id=21)
    nothing_forwarded(double)


@pytest.mark.parametrize("depth", [65, 200, 100_000])
def test_deep_nesting_is_refused(gateway, double, session, depth):
    nested = "[" * depth + "]" * depth
    body = '{"jsonrpc":"2.0","id":31,"method":"tools/call","params":{"name":"send_text","arguments":{"a":%s}}}' % nested
    expect_error(send(gateway, body, session), 400, -32700, id=31)
    nothing_forwarded(double)


def test_nesting_at_the_limit_is_accepted(gateway, double, session):
    nested = "[" * 61 + "]" * 61  # root, params, arguments + 61 arrays = 64 levels
    body = '{"jsonrpc":"2.0","id":32,"method":"tools/call","params":{"name":"get_server_status","arguments":{"a":%s}}}' % nested
    response = send(gateway, body, session)
    assert response[0] == 200, response
    assert [c["name"] for c in double.calls()] == ["get_server_status"]


@pytest.mark.parametrize("body,code", [
    ('{"jsonrpc":"1.0","id":41,"method":"tools/call","params":{"name":"create_invoice"}}', -32600),
    ('{"id":41,"method":"tools/call","params":{"name":"create_invoice"}}', -32600),
    ('{"jsonrpc":"2.0","id":41,"method":7,"params":{"name":"create_invoice"}}', -32600),
    ('{"jsonrpc":"2.0","id":41,"method":["tools/call"],"params":{"name":"create_invoice"}}', -32600),
    ('{"jsonrpc":"2.0","id":41,"method":"tools/call","params":["create_invoice"]}', -32602),
    ('{"jsonrpc":"2.0","id":41,"method":"tools/call","params":"create_invoice"}', -32600),
    ('{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":["create_invoice"]}}', -32602),
    ('{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"get_server_status","arguments":[1]}}', -32602),
], ids=["jsonrpc-1.0", "no-jsonrpc", "method-number", "method-array", "params-array", "params-string",
        "name-array", "arguments-array"])
def test_invalid_json_rpc_is_400(gateway, double, session, body, code):
    expect_error(send(gateway, body, session), 400, code, id=41)
    nothing_forwarded(double)


# ------------------------------------------------- legacy /messages endpoints

def test_legacy_messages_path_is_inspected_on_the_streamable_upstream(gateway, double):
    # The afip-double has no /messages route; what matters is that the call is read and refused.
    for path in ["/messages?sessionId=0123abcd", "/messages/?session_id=0123abcd", "/mcp?sessionId=0123abcd"]:
        double.reset()
        post(gateway, call("create_invoice", id=51), path=path)
        post(gateway, call("delete_instance", id=52), path=path)
        assert double.calls() == [], path
        assert all(m["method"] != "tools/call" for m in double.methods()), (path, double.methods())


def test_legacy_messages_path_typescript_spelling(legacy_sse, gateway_factory):
    gateway = gateway_factory(legacy_sse, wrapper_config(POLICY))
    stream = SseReader(gateway.port, "/sse", [("Accept", "text/event-stream"), ("Authorization", f"Bearer {ALICE}")])
    try:
        assert stream.status == 200
        event = stream.next()
        assert event is not None and event[0] == "endpoint", event
        session = event[1].split("session_id=", 1)[1]
        path = f"/messages?sessionId={session}"  # the TypeScript SDK's spelling of the same endpoint
        initialize = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                      "params": {"protocolVersion": "2024-11-05", "capabilities": {},
                                 "clientInfo": {"name": "adversary", "version": "1"}}}
        assert post(gateway, initialize, path=path)[0] == 202
        assert stream.message_with_id(0) is not None
        assert post(gateway, {"jsonrpc": "2.0", "method": "notifications/initialized"}, path=path)[0] == 202
        legacy_sse.reset()
        status, _, body = post(gateway, call("create_invoice", id=53), path=path)
        assert status == 202, (status, body)
        reply = stream.message_with_id(53)
        assert reply is not None and reply["result"]["isError"] is True
        assert reply["result"]["content"][0]["text"].startswith("[POLICY DENIED] ")
        assert legacy_sse.calls() == []
        assert all(m["method"] != "tools/call" for m in legacy_sse.methods()), legacy_sse.methods()
        # Another grant cannot use the session.
        status, _, _ = post(gateway, call("get_server_status", id=54), path=path, token=BOB)
        assert status == 404
        assert legacy_sse.calls() == []
    finally:
        stream.close()


# ------------------------------------------ 2026-07-28 mirrored header checks

def modern_call(name, id=61, arguments=None):
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": name, "arguments": arguments or {},
                       "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                                 "io.modelcontextprotocol/clientCapabilities": {}}}}


def modern_post(gateway, message, headers):
    all_headers = mcp_headers() + [("MCP-Protocol-Version", MODERN)] + list(headers)
    return raw_request(gateway.port, "POST", "/mcp", json.dumps(message), all_headers)


MISMATCHES = {
    "method-says-list": (modern_call("get_server_status"), [("Mcp-Method", "tools/list"), ("Mcp-Name", "get_server_status")]),
    "method-missing": (modern_call("get_server_status"), [("Mcp-Name", "get_server_status")]),
    "name-missing": (modern_call("get_server_status"), [("Mcp-Method", "tools/call")]),
    "name-mismatch-allowed-body": (modern_call("get_server_status"), [("Mcp-Method", "tools/call"), ("Mcp-Name", "create_invoice")]),
    "name-mismatch-denied-body": (modern_call("create_invoice"), [("Mcp-Method", "tools/call"), ("Mcp-Name", "get_server_status")]),
    "name-duplicated": (modern_call("get_server_status"), [("Mcp-Method", "tools/call"), ("Mcp-Name", "get_server_status"),
                                                           ("Mcp-Name", "get_server_status")]),
    "name-bad-base64": (modern_call("get_server_status"), [("Mcp-Method", "tools/call"), ("Mcp-Name", "=?base64?!!!?=")]),
    "name-case": (modern_call("get_server_status"), [("Mcp-Method", "tools/call"), ("Mcp-Name", "GET_SERVER_STATUS")]),
    "method-case": (modern_call("get_server_status"), [("Mcp-Method", "Tools/Call"), ("Mcp-Name", "get_server_status")]),
    "name-base64-of-other": (modern_call("create_invoice"), [("Mcp-Method", "tools/call"),
                                                             ("Mcp-Name", "=?base64?Z2V0X3NlcnZlcl9zdGF0dXM=?=")]),
}


@pytest.mark.parametrize("upstream_name", ["double", "stateless"])
@pytest.mark.parametrize("case", list(MISMATCHES))
def test_modern_headers_disagreeing_with_the_body(request, gateway_factory, upstream_name, case):
    upstream = request.getfixturevalue(upstream_name)
    gateway = gateway_factory(upstream, wrapper_config(POLICY))
    message, headers = MISMATCHES[case]
    expect_error(modern_post(gateway, message, headers), 400, -32020, id=61)
    nothing_forwarded(upstream)


@pytest.mark.parametrize("upstream_name", ["double", "stateless"])
def test_modern_base64_name_that_matches_is_allowed(request, gateway_factory, upstream_name):
    upstream = request.getfixturevalue(upstream_name)
    gateway = gateway_factory(upstream, wrapper_config(POLICY))
    response = modern_post(gateway, modern_call("get_server_status"),
                           [("Mcp-Method", "tools/call"), ("Mcp-Name", "=?base64?Z2V0X3NlcnZlcl9zdGF0dXM=?=")])
    assert [c["name"] for c in upstream.calls()] == ["get_server_status"], response
    if upstream_name == "stateless":
        assert response[0] == 200 and json_body(response)["result"].get("isError") is not True, response


@pytest.mark.parametrize("upstream_name", ["double", "stateless"])
def test_modern_escaped_body_name_matches_the_plain_header(request, gateway_factory, upstream_name):
    upstream = request.getfixturevalue(upstream_name)
    gateway = gateway_factory(upstream, wrapper_config(POLICY))
    body = json.dumps(modern_call("get_server_status")).replace("get_server_status", "get\\u005fserver_status")
    headers = mcp_headers() + [("MCP-Protocol-Version", MODERN), ("Mcp-Method", "tools/call"),
                               ("Mcp-Name", "get_server_status")]
    response = raw_request(gateway.port, "POST", "/mcp", body, headers)
    assert [c["name"] for c in upstream.calls()] == ["get_server_status"], response


def test_modern_body_without_version_header_is_still_checked(double, gateway_factory):
    # The body's _meta says 2026-07-28: the mirrored headers apply even without MCP-Protocol-Version.
    gateway = gateway_factory(double, wrapper_config(POLICY))
    headers = mcp_headers() + [("Mcp-Method", "tools/call"), ("Mcp-Name", "create_invoice")]
    response = raw_request(gateway.port, "POST", "/mcp", json.dumps(modern_call("get_server_status")), headers)
    expect_error(response, 400, -32020, id=61)
    nothing_forwarded(double)


def test_modern_param_header_must_match_the_argument(stateless, gateway_factory):
    gateway = gateway_factory(stateless, wrapper_config(POLICY))
    # The gateway learns send_text's x-mcp-header from a tools/list it relays.
    listed = modern_post(gateway, {"jsonrpc": "2.0", "id": 60, "method": "tools/list",
                                   "params": {"_meta": modern_call("x")["params"]["_meta"]}},
                         [("Mcp-Method", "tools/list")])
    assert listed[0] == 200
    stateless.reset()
    arguments = {"instance": "a", "number": "5511", "text": "hi"}
    base = [("Mcp-Method", "tools/call"), ("Mcp-Name", "send_text")]
    for headers in ([*base, ("Mcp-Param-Number", "9999")], base):
        expect_error(modern_post(gateway, modern_call("send_text", arguments=arguments), headers), 400, -32020, id=61)
    no_number = {"instance": "a", "text": "hi"}
    expect_error(modern_post(gateway, modern_call("send_text", arguments=no_number), [*base, ("Mcp-Param-Number", "1")]),
                 400, -32020, id=61)
    nothing_forwarded(stateless)
    response = modern_post(gateway, modern_call("send_text", arguments=arguments), [*base, ("Mcp-Param-Number", "5511")])
    assert response[0] == 200, response
    assert [c["name"] for c in stateless.calls()] == ["send_text"]


# ------------------------------------------------- other spellings of /mcp

PATHS = ["/MCP", "/mcp/", "/Mcp?x=1", "/mcp#frag", "/./mcp", "/x/../mcp", "/%6dcp"]


@pytest.mark.parametrize("path", PATHS)
def test_other_spellings_of_the_endpoint_are_inspected(gateway, double, session, path):
    # Express routes case-insensitively and without strict slashes: these reach the session.
    response = post(gateway, call("create_invoice", id=75), session=session, version="2025-06-18", path=path)
    if response[0] == 200:
        expect_denial(response, id=75)
    else:
        assert response[0] in (400, 404), response
    assert double.calls() == []
    response = post(gateway, call("delete_instance", id=76), session=session, version="2025-06-18", path=path)
    assert double.calls() == [], response


@pytest.mark.parametrize("path", PATHS)
def test_session_replayed_on_another_spelling_is_404(gateway, double, path):
    alice = open_session(gateway, token=ALICE)
    double.reset()
    response = post(gateway, call("get_server_status", id=77), session=alice, version="2025-06-18", token=BOB,
                    path=path)
    assert response[0] in (400, 404), response
    nothing_forwarded(double)


# ------------------------------------------------------------------ sessions

def test_session_of_another_grant_is_404(gateway, double):
    alice = open_session(gateway, token=ALICE)
    double.reset()
    response = post(gateway, {"jsonrpc": "2.0", "id": 71, "method": "tools/list"}, session=alice,
                    version="2025-06-18", token=BOB)
    # Decided at the headers, as the official servers decide it: id null.
    expect_error(response, 404, -32001, id=None)
    response = post(gateway, call("get_server_status", id=72), session=alice, version="2025-06-18", token=BOB)
    expect_error(response, 404, -32001, id=None)
    for method in ["GET", "DELETE"]:
        status, _, _ = raw_request(gateway.port, method, "/mcp", headers=[
            ("Authorization", f"Bearer {BOB}"), ("Accept", "text/event-stream"), ("Mcp-Session-Id", alice),
            ("MCP-Protocol-Version", "2025-06-18")])
        assert status == 404, method
    nothing_forwarded(double)
    # Alice's session still works.
    response = post(gateway, call("get_server_status", id=73), session=alice, version="2025-06-18")
    assert response[0] == 200
    assert [c["name"] for c in double.calls()] == ["get_server_status"]


# ----------------------------------------------------- HTTP/2, Expect, trailers

def curl_h2(gateway, body, headers):
    args = ["curl", "-sS", "--http2-prior-knowledge", "--max-time", "30", "-X", "POST",
            "-o", "-", "-w", "\n%{http_code} %{http_version}", f"http://127.0.0.1:{gateway.port}/mcp",
            "--data-binary", "@-"]
    for name, value in headers:
        args += ["-H", f"{name}: {value}"]
    done = subprocess.run(args, input=body.encode(), capture_output=True, timeout=60)
    out, _, tail = done.stdout.rpartition(b"\n")
    status, version = tail.decode().split()
    return int(status), version, out


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_http2_prior_knowledge(gateway, double, session):
    headers = mcp_headers() + [("Mcp-Session-Id", session), ("MCP-Protocol-Version", "2025-06-18")]
    status, version, body = curl_h2(gateway, json.dumps(call("create_invoice", id=81)), headers)
    assert version == "2"
    expect_denial((status, {}, body), id=81)
    status, version, body = curl_h2(gateway, json.dumps(call("delete_instance", id=82)), headers)
    expect_unknown_tool((status, {}, body), 82, "delete_instance")
    nothing_forwarded(double)
    status, version, body = curl_h2(gateway, json.dumps(call("get_server_status", id=83)), headers)
    assert status == 200 and version == "2", body
    assert [c["name"] for c in double.calls()] == ["get_server_status"]


def test_http2_without_curl(gateway, double, session):
    headers = mcp_headers() + [("Mcp-Session-Id", session), ("MCP-Protocol-Version", "2025-06-18")]
    expect_denial(h2_request(gateway.port, "POST", "/mcp", headers, json.dumps(call("create_invoice", id=84))), id=84)
    nothing_forwarded(double)
    status, _, body = h2_request(gateway.port, "POST", "/mcp", headers, json.dumps(call("get_server_status", id=85)))
    assert status == 200, body
    assert [c["name"] for c in double.calls()] == ["get_server_status"]


def test_http2_oversized_body_without_length_is_413(gateway, double, session):
    headers = mcp_headers() + [("Mcp-Session-Id", session), ("MCP-Protocol-Version", "2025-06-18")]
    expect_error(h2_request(gateway.port, "POST", "/mcp", headers, oversized_call()), 413, -32600)
    nothing_forwarded(double)


def test_http2_request_trailers(gateway, double, session):
    headers = mcp_headers() + [("Mcp-Session-Id", session), ("MCP-Protocol-Version", "2025-06-18")]
    trailers = [("x-checksum", "abc")]
    response = h2_request(gateway.port, "POST", "/mcp", headers, json.dumps(call("create_invoice", id=91)), trailers)
    expect_denial(response, id=91)
    response = h2_request(gateway.port, "POST", "/mcp", headers, json.dumps(call("delete_instance", id=92)), trailers)
    expect_unknown_tool(response, 92, "delete_instance")
    nothing_forwarded(double)
    status, _, body = h2_request(gateway.port, "POST", "/mcp", headers, json.dumps(call("get_server_status", id=93)),
                                 trailers)
    assert status == 200, body
    assert [c["name"] for c in double.calls()] == ["get_server_status"]
    # A body that arrives whole only with the trailers is still read whole.
    big = json.dumps(call("create_invoice", id=94, arguments={"pad": "y" * 200_000}))
    expect_denial(h2_request(gateway.port, "POST", "/mcp", headers, big, trailers), id=94)
    assert [c["name"] for c in double.calls()] == ["get_server_status"]


def test_expect_100_continue(gateway, double, session):
    headers = mcp_headers() + [("Mcp-Session-Id", session), ("MCP-Protocol-Version", "2025-06-18")]
    interim, status, body = expect_continue_post(gateway.port, "/mcp", json.dumps(call("create_invoice", id=95)), headers)
    assert interim.startswith("HTTP/1.1 100"), interim
    expect_denial((status, {}, body), id=95)
    nothing_forwarded(double)
    interim, status, body = expect_continue_post(gateway.port, "/mcp", json.dumps(call("get_server_status", id=96)),
                                                 headers)
    assert interim.startswith("HTTP/1.1 100") and status == 200, (interim, status, body)
    assert [c["name"] for c in double.calls()] == ["get_server_status"]
