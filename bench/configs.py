"""Policies, request bodies, upstream responses and Envoy bootstraps for the
`make bench` scenarios (see bench/run.py and docs/benchmarks.md).

Everything here is deterministic: the same inputs give the same files, so a
run can be reproduced from its description.
"""
import copy
import hashlib
import json
import pathlib

import identity

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SEED_POLICY = ROOT / "policies" / "seed-policy.json"
DEMO_GRANTS = ROOT / "policies" / "demo-grants.json"
AFIP_TOOLS_LIST = ROOT / "tests" / "fixtures" / "afip-tools-list.json"

TOKEN = "demo-token-alice"
PROBE_TOKEN = "bench-token-probe"
RATE_GRANTS = 10_000

# Every request carries this header; the fast upstream picks its fixed reply by it.
RESPONSE_HEADER = "x-bench-response"
# The fast upstream's result for a tools/call: a marker the wrk script looks for.
UPSTREAM_MARKER = "bench-upstream-ok"
CALL_RESULT = {"jsonrpc": "2.0", "id": 1,
               "result": {"content": [{"type": "text", "text": UPSTREAM_MARKER}], "isError": False}}


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def rate_token(index):
    return f"bench-token-{index:05d}"


def compact(value):
    return json.dumps(value, separators=(",", ":"))


# --- request bodies --------------------------------------------------------------

def call(name, arguments):
    return compact({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": name, "arguments": arguments}})


# The 120-byte tools/call of the issue: an allowed tool of the seed policy.
ALLOWED_CALL = call("get_server_status", {"include": "afip,evolution"})
# Denied by the seed policy's default deny.
DENIED_CALL = call("create_invoice", {"include": "afip,evolution"})
# The 1,300-tool policy's hot tool: require + deny_if conditions that all pass.
HOT_TOOL = "stripe_create_invoice"
HOT_CALL = call(HOT_TOOL, {"point_of_sale": 3, "invoice_type": 6, "doc_type": 96, "currency": "PES",
                           "amount_total": 1500, "items": [{"description": "Abono mensual", "unit_price": 1500}]})
TOOLS_LIST = compact({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
# Scenario 9s: the initialize that opens a session (the upstream answers it
# with UPSTREAM_SESSION, the client gets it sealed).
INITIALIZE = compact({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                      "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "bench", "version": "1"}}})
INITIALIZE_RESULT = {"jsonrpc": "2.0", "id": 0,
                     "result": {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                                "serverInfo": {"name": "bench-upstream", "version": "1"}}}
UPSTREAM_SESSION = "bench-upstream-session-0001"
# Scenario 9a: a 2026-07-28 tools/call of a require_approval tool, from a
# client that declares form elicitation; the filter answers input_required.
MODERN = "2026-07-28"
APPROVAL_TOOL = "create_invoice"
APPROVAL_CALL = compact({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
    "name": APPROVAL_TOOL, "arguments": {"point_of_sale": 3, "amount_total": 1500},
    "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
              "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}}}}})
APPROVAL_HEADERS = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": APPROVAL_TOOL}


# --- policies ----------------------------------------------------------------

def seed_policy():
    """The Mcp Afip seed policy plus `get_server_status: {}`: the seed allows
    only logout_instance (30/min per grant), so the allowed call needs a tool
    allowed without limits."""
    policy = json.loads(SEED_POLICY.read_text())
    policy = copy.deepcopy(policy)
    policy["tools"]["get_server_status"] = {}
    return policy


def demo_grants():
    return json.loads(DEMO_GRANTS.read_text())


def afip_config():
    """Scenarios 2 and 5."""
    return {"policy": seed_policy(), "grants": demo_grants()}


def afip_lean_config():
    """Scenario 2n: as 2, publishing no filter state (no access log reads it)."""
    return {**afip_config(), "filter_state": "none"}


def afip_hide_config():
    """Scenario 6 (45 tools): the seed policy plus hidden destructive tools."""
    policy = seed_policy()
    policy["hide"] = ["delete_*", "leave_group", "restart_instance"]
    return {"policy": policy, "grants": demo_grants()}


def rate_config():
    """Scenario 4: the seed policy with a per-grant limit on the called tool
    that never refuses during a run, and 10,000 grants (the first is alice)."""
    policy = seed_policy()
    policy["tools"]["get_server_status"] = {"limits": [
        {"counter": "bench_rate", "window": "minute", "max": 1_000_000_000, "scope": "grant"}]}
    grants = [{"name": "alice", "token_sha256": [sha256(TOKEN)]}]
    grants += [{"name": f"g{index:05d}", "token_sha256": [sha256(rate_token(index))]}
               for index in range(1, RATE_GRANTS)]
    return {"policy": policy, "grants": grants}


def jwt_config():
    """Scenario 9j: scenario 2's policy for a grant by JWT (a scope), ahead of
    the demo grants; jwt_authn (bench/identity.py) verifies the token."""
    config = afip_config()
    return {**config, "grants": [identity.JWT_GRANT] + config["grants"]}


def mtls_config():
    """Scenario 9m: scenario 2's policy for a grant by the peer certificate's
    SPIFFE URI SAN, ahead of the demo grants."""
    config = afip_config()
    return {**config, "grants": [identity.MTLS_GRANT] + config["grants"]}


def approval_config():
    """Scenario 9a: the seed policy with approvals enabled and create_invoice
    to be approved by the caller's user (MCP 2026-07-28 input_required)."""
    policy = seed_policy()
    policy["tools"][APPROVAL_TOOL] = {"action": "require_approval"}
    return {"policy": policy, "grants": demo_grants(), "approvals": {"enabled": True}}


# The cluster the filter reaches the rate-limit service by (scenario 8b).
RLS_CLUSTER = "rls"


def one_limit_config(counted_by):
    """Scenarios 8a and 8b: the seed policy with one limit on the called tool
    that never refuses during a run, counted in shared data ("envoy") or by
    the rate-limit service ("rate_limit_service")."""
    policy = seed_policy()
    policy["tools"]["get_server_status"] = {"limits": [
        {"counter": "bench_one", "window": "minute", "max": 1_000_000_000, "counted_by": counted_by}]}
    configuration = {"policy": policy, "grants": demo_grants()}
    if counted_by == "rate_limit_service":
        configuration["rate_limit_service"] = {"cluster": RLS_CLUSTER, "timeout_ms": 1000}
    return configuration


# The 1,300-tool policy: service × verb × object exact entries, patterns,
# hidden patterns, conditions of every operator and limits.
SERVICES = ["afip", "evolution", "stripe", "github", "slack", "jira", "notion", "hubspot",
            "shopify", "twilio", "sendgrid", "gdrive", "postgres"]
VERBS = ["create", "update", "remove", "search", "read", "send", "approve", "assign", "import", "upload"]
OBJECTS = ["invoice", "contact", "order", "ticket", "message", "file", "user", "payment", "report", "channel"]
PATTERNS = ["get_*", "put_*", "set_*", "list_*", "sync_*", "fetch_*", "export_*", "archive_*",
            "*_instance", "*_snapshot", "*_attachments", "*_configuration", "tenant_*_read",
            "tenant_*_write", "billing_*_v2", "crm_*_bulk", "report_*_monthly", "audit_*_log",
            "webhook_*_retry", "ml_*"]
HIDE = ["drop_*", "*_purge", "admin_*_delete", "truncate_table", "shell_exec", "rotate_root_key",
        "wipe_*", "*_impersonate"]
HOT_COUNTER = "bench_hot"
# The probe grant's policy shares the hot tool's global counter with a small
# max: once a measured run has charged it, the probe's call is refused.
PROBE_MAX = 100


def generated_tools():
    return [f"{service}_{verb}_{obj}" for service in SERVICES for verb in VERBS for obj in OBJECTS]


def generated_entry(index, service, verb, obj):
    rules = index % 7
    entry = {}
    if rules == 0:
        entry["require"] = [{"path": "args.id", "op": "exists", "value": True}]
    elif rules == 1:
        entry["require"] = [{"path": "args.currency", "op": "in", "value": ["ARS", "USD", "EUR", "BRL"]}]
    elif rules == 2:
        entry["deny_if"] = [{"conditions": [{"path": "args.amount", "op": "gt", "value": 10_000 + index * 100}],
                             "on_deny": f"{service}: {verb} {obj} over the limit"}]
    elif rules == 3:
        entry["deny_if"] = [{"conditions": [{"path": "args.email", "op": "regex",
                                             "value": f"(?i)@({service}|example)\\.(com|org)$"}]}]
    elif rules == 4:
        entry["deny_if"] = [{"conditions": [{"path": "args.items.0.unit_price", "op": "gte", "value": 1_000_000},
                                            {"path": "args.items.0.currency", "op": "neq", "value": "ARS"}]}]
    elif rules == 5:
        entry["deny_if"] = [{"conditions": [{"path": "args.tags", "op": "contains", "value": "restricted"}],
                             "on_deny": "Restricted records are read by people."}]
    else:
        entry["require"] = [{"path": "args.tenant", "op": "eq", "value": "acme"}]
    if verb in ("create", "update", "remove", "send", "upload"):
        entry["limits"] = [{"counter": f"{service}_writes", "window": "minute", "max": 120}]
    if verb == "approve":
        entry["action"] = "require_approval"
        entry["message"] = "Approvals are given by people."
    return entry


def big_policy():
    tools = {}
    for index, name in enumerate(generated_tools()):
        service, verb, obj = name.split("_")
        tools[name] = generated_entry(index, service, verb, obj)
    for pattern in PATTERNS:
        tools[pattern] = {"limits": [{"counter": "pattern_reads", "window": "hour", "max": 5000}]} \
            if pattern.endswith("*") else {}
    # The hot tool: the conditions of the Afip invoice guard and a global
    # limit that no run reaches, but that every call charges.
    tools[HOT_TOOL] = {
        "require": [
            {"path": "args.point_of_sale", "op": "gte", "value": 1},
            {"path": "args.invoice_type", "op": "in", "value": [1, 6, 11]},
            {"path": "args.doc_type", "op": "in", "value": [80, 86, 96, 99]},
        ],
        "deny_if": [
            {"conditions": [{"path": "args.amount_total", "op": "gt", "value": 5_000_000}],
             "on_deny": "Invoices over ARS 5,000,000 are issued by a person."},
            {"conditions": [{"path": "args.currency", "op": "eq", "value": "DOL"},
                            {"path": "args.amount_total", "op": "gt", "value": 10_000}],
             "on_deny": "USD invoices over 10,000 need approval."},
            {"conditions": [{"path": "args.items.0.unit_price", "op": "lte", "value": 0}],
             "on_deny": "Unit prices must be positive."},
            {"conditions": [{"path": "args.items.0.description", "op": "regex",
                             "value": "(?i)anticipo|seña|prueba|\\btest\\b"}],
             "on_deny": "Test invoices are not issued by agents."},
        ],
        "limits": [{"counter": HOT_COUNTER, "window": "day", "max": 1_000_000_000_000, "scope": "global"}],
    }
    return {"version": "1", "default": "deny", "hide": HIDE, "tools": tools,
            "methods": {"resources/read": {"default": "deny", "rules": {"file:///public/*": "allow"}},
                        "prompts/get": "deny"}}


def big_config():
    """Scenarios 3 and 6 (1,300 tools)."""
    probe = {"version": "1", "default": "deny", "tools": {HOT_TOOL: {"limits": [
        {"counter": HOT_COUNTER, "window": "day", "max": PROBE_MAX, "scope": "global"}]}}}
    grants = demo_grants() + [{"name": "probe", "token_sha256": [sha256(PROBE_TOKEN)], "policy": "probe"}]
    return {"policy": big_policy(), "policies": {"probe": probe}, "grants": grants}


# --- the fast upstream's tools/list results --------------------------------------------

def afip_tools_list():
    body = json.loads(AFIP_TOOLS_LIST.read_text())
    body["id"] = 1
    return body


def big_tools_list():
    """1,300 exact tools of the big policy, 40 hidden ones and 20 pattern
    matches, each about the size of an Mcp Afip tool (~430 bytes)."""
    names = generated_tools()
    names += [f"drop_table_{n}" for n in range(10)] + [f"cache_{n}_purge" for n in range(10)]
    names += [f"wipe_device_{n}" for n in range(10)] + [f"user_{n}_impersonate" for n in range(10)]
    names += [f"get_record_{n}" for n in range(10)] + [f"list_items_{n}" for n in range(10)]
    return {"jsonrpc": "2.0", "id": 1, "result": {"tools": [generated_tool(name) for name in names]}}


def generated_tool(name):
    """One tool of the generated lists, about the size of an Mcp Afip tool."""
    return {
        "name": name,
        "description": f"{name.replace('_', ' ').capitalize()}: performs the operation on the remote "
                       "service and returns the resulting record as JSON.",
        "inputSchema": {"type": "object", "properties": {
            "id": {"type": "string", "description": "Identifier of the record"},
            "tenant": {"type": "string", "description": "Tenant the record belongs to"},
            "amount": {"type": "number", "description": "Amount in the record's currency"},
            "currency": {"type": "string", "description": "ISO 4217 currency code"},
        }, "required": ["id"]},
    }


# --- Envoy bootstraps ---------------------------------------------------------------

HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = {"name": "envoy.filters.http.router",
          "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
BUFFER = {"name": "envoy.filters.http.buffer",
          "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
                           "max_request_bytes": 1048576}}
BIG = 8 * 1024 * 1024


# Bench-only secrets, inline (a deployment reads them from the environment).
BENCH_SECRETS = {"session_keys": ["YmVuY2gtb25seS1zZXNzaW9uLWtleS0zMi1ieXRlcyE="],
                 "counter_key": "YmVuY2gtb25seS1jb3VudGVyLWtleS0zMi1ieXRlcyE="}


def wasm_filter(module, configuration, vm_id, secrets=True):
    """The filter with `configuration`; a wrapper gets BENCH_SECRETS unless
    `secrets` is false (a module from before session_keys, git 03d4a5d)."""
    if secrets and "version" not in configuration:
        configuration = {**BENCH_SECRETS, **configuration}
    return {"name": "mcp_policy", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {
            "name": "mcp_policy", "root_id": "mcp_policy",
            "vm_config": {"vm_id": vm_id, "runtime": "envoy.wasm.runtime.v8",
                          "code": {"local": {"filename": str(module)}}},
            "allow_on_headers_stop_iteration": True,
            "failure_policy": "FAIL_CLOSED",
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                              "value": json.dumps(configuration)},
        }}}


def mcp_rbac_filters(allowed_tools):
    """Envoy's own MCP filter (REJECT_NO_MCP) and an RBAC allow-list on the
    tool name it parsed (dynamic metadata `envoy.filters.http.mcp`,
    `params.name`), plus the bearer token as the principal: the same
    allow/deny as the seed policy for alice."""
    def md(path, matcher):
        return {"sourced_metadata": {"metadata_matcher": {
            "filter": "envoy.filters.http.mcp", "path": [{"key": key} for key in path], "value": matcher}}}

    plumbing = ["initialize", "notifications/initialized", "ping", "tools/list"]
    return [
        {"name": "envoy.filters.http.mcp", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.mcp.v3.Mcp",
            "traffic_mode": "REJECT_NO_MCP"}},
        {"name": "envoy.filters.http.rbac", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {"action": "ALLOW", "policies": {
                "allowed-tools": {
                    "permissions": [{"and_rules": {"rules": [
                        md(["method"], {"string_match": {"exact": "tools/call"}}),
                        md(["params", "name"], {"or_match": {"value_matchers": [
                            {"string_match": {"exact": tool}} for tool in allowed_tools]}}),
                    ]}}],
                    "principals": [{"header": {"name": "authorization",
                                               "string_match": {"exact": f"Bearer {TOKEN}"}}}],
                },
                "protocol": {
                    "permissions": [md(["method"], {"or_match": {"value_matchers": [
                        {"string_match": {"exact": method}} for method in plumbing]}})],
                    "principals": [{"header": {"name": "authorization",
                                               "string_match": {"exact": f"Bearer {TOKEN}"}}}],
                },
            }}}},
    ]


def bootstrap(name, front_filters, listen_port, upstream_port, admin_port, responses, direct_route=False,
              rls_port=None, pki=None, client_port=None):
    """One Envoy: the front listener under test (its filters, then the
    router to the upstream cluster) and the fast upstream listener (buffer
    filter, then a fixed direct_response chosen by RESPONSE_HEADER). With
    direct_route, requests with `RESPONSE_HEADER: direct` are answered by the
    front listener itself (no upstream hop). With rls_port, the cluster
    RLS_CLUSTER (HTTP/2) reaches the rate-limit service there. With pki
    (bench/identity.py), the front listener requires a client certificate
    and a plain "client" listener on client_port reaches it over mTLS.

    `responses`: key -> the upstream's body, or a dict with "body" and
    optionally "headers" (added to the response), "require" (request headers
    the route also matches on) and "otherwise" (the status of any other
    request with this key)."""
    def listener(listener_name, port, filters, routes, stat_prefix, transport_socket=None):
        chain = {"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": HCM_TYPE, "stat_prefix": stat_prefix, "codec_type": "HTTP1",
                "route_config": {"name": listener_name, "max_direct_response_body_size_bytes": BIG,
                                 "virtual_hosts": [{"name": listener_name, "domains": ["*"], "routes": routes}]},
                "http_filters": filters + [ROUTER],
            }}]}
        if transport_socket:
            chain["transport_socket"] = transport_socket
        return {
            "name": listener_name,
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "per_connection_buffer_limit_bytes": BIG,
            "filter_chains": [chain],
        }

    def header_matchers(headers):
        return [{"name": header, "string_match": {"exact": value}} for header, value in headers.items()]

    upstream_routes = []
    for key, spec in responses.items():
        spec = spec if isinstance(spec, dict) else {"body": spec}
        headers = {"content-type": "application/json", **spec.get("headers", {})}
        route = {"match": {"prefix": "/"},
                 "direct_response": {"status": 200, "body": {"inline_string": spec["body"]}},
                 "response_headers_to_add": [{"header": {"key": header, "value": value},
                                              "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
                                             for header, value in headers.items()]}
        if key != "call":
            route["match"]["headers"] = header_matchers({RESPONSE_HEADER: key, **spec.get("require", {})})
        upstream_routes.append(route)
        if "otherwise" in spec:
            upstream_routes.append({"match": {"prefix": "/", "headers": header_matchers({RESPONSE_HEADER: key})},
                                    "direct_response": {"status": spec["otherwise"],
                                                        "body": {"inline_string": f"bench upstream: {key}: "
                                                                                  "request headers not as expected"}}})
    # The default (tools/call result) route goes last.
    upstream_routes.sort(key=lambda route: "headers" not in route["match"])
    front_routes = [{"match": {"prefix": "/"}, "route": {"cluster": "upstream", "timeout": "0s"}}]
    if direct_route:
        front_routes.insert(0, {
            "match": {"prefix": "/", "headers": [{"name": RESPONSE_HEADER, "string_match": {"exact": "direct"}}]},
            "direct_response": {"status": 200, "body": {"inline_string": responses["call"]}},
            "response_headers_to_add": [{"header": {"key": "content-type", "value": "application/json"},
                                         "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}]})
    clusters = [{
        "name": "upstream", "type": "STATIC", "connect_timeout": "5s",
        "per_connection_buffer_limit_bytes": BIG,
        "load_assignment": {"cluster_name": "upstream", "endpoints": [{"lb_endpoints": [{"endpoint": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": upstream_port}}}}]}]},
    }]
    if rls_port is not None:
        clusters.append({
            "name": RLS_CLUSTER, "type": "STATIC", "connect_timeout": "1s",
            "typed_extension_protocol_options": {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}}}},
            "load_assignment": {"cluster_name": RLS_CLUSTER, "endpoints": [{"lb_endpoints": [{"endpoint": {
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": rls_port}}}}]}]},
        })
    listeners = [
        listener("front", listen_port, front_filters, front_routes, "front",
                 pki.downstream_tls() if pki else None),
        listener("upstream", upstream_port, [BUFFER], upstream_routes, "upstream"),
    ]
    if pki is not None:
        listeners.append(listener("client", client_port, [], [
            {"match": {"prefix": "/"}, "route": {"cluster": identity.GATEWAY_CLUSTER, "timeout": "0s"}}], "client"))
        clusters.append({
            "name": identity.GATEWAY_CLUSTER, "type": "STATIC", "connect_timeout": "5s",
            "per_connection_buffer_limit_bytes": BIG, "transport_socket": pki.upstream_tls(),
            "load_assignment": {"cluster_name": identity.GATEWAY_CLUSTER, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": listen_port}}}}]}]},
        })
    return {
        "node": {"id": f"bench-{name}", "cluster": "bench"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


# --- inputs of the native profiling harness (bench/native) ----------------------------------

def native_cases():
    """name -> (configuration, request body, response kind, tokens)."""
    return {
        "s2-allowed": (afip_config(), ALLOWED_CALL, "call", [TOKEN]),
        "s3-big-hot": (big_config(), HOT_CALL, "call", [TOKEN]),
        "s4a-rate-1": (rate_config(), ALLOWED_CALL, "call", [TOKEN]),
        "s4b-rate-10k": (rate_config(), ALLOWED_CALL, "call", [TOKEN] + [rate_token(i) for i in range(1, RATE_GRANTS)]),
        "s5-denied": (afip_config(), DENIED_CALL, "call", [TOKEN]),
        "s6a-list45": (afip_hide_config(), TOOLS_LIST, "list45", [TOKEN]),
        "s6b-list1300": (big_config(), TOOLS_LIST, "list1300", [TOKEN]),
    }


def write_native_inputs(directory):
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    responses = {"call": compact(CALL_RESULT), "list45": compact(afip_tools_list()),
                 "list1300": compact(big_tools_list())}
    for name, (configuration, body, response, tokens) in native_cases().items():
        case = directory / name
        case.mkdir(exist_ok=True)
        (case / "config.json").write_text(json.dumps(configuration))
        (case / "request.json").write_text(body)
        (case / "response.json").write_text(responses[response])
        (case / "tokens.txt").write_text("".join(f"{token}\n" for token in tokens))
    return sorted(native_cases())


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "native":
        print("\n".join(write_native_inputs(sys.argv[2])))
    else:
        raise SystemExit("usage: bench/configs.py native DIR")
