// The built module's contexts (src/envoy/contexts.rs) at the ABI level: each
// test instantiates dist/mcp_policy_filter.wasm under the stubbed host of
// host.cjs and calls its exports as Envoy would. A trap (a panic in the
// module) fails the test that caused it. Run by `make test-abi`.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { Host, MapType, Action, compiledModule } = require('./host.cjs');

const ROOT = 1;
const TOKEN = 'abi-test-token';
const CONFIG = {
  policy: { version: '1', default: 'deny', tools: { get_invoice: {} } },
  grants: [{ name: 'alice', token_sha256: [crypto.createHash('sha256').update(TOKEN).digest('hex')] }],
  session_keys: [crypto.randomBytes(32).toString('base64')],
};

function headers(extra = []) {
  return [
    [':method', 'POST'], [':path', '/mcp'], [':authority', 'abi-test'], [':scheme', 'http'],
    ['content-type', 'application/json'], ['accept', 'application/json, text/event-stream'],
    ['authorization', `Bearer ${TOKEN}`], ...extra,
  ];
}

function call(tool) {
  return JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: tool, arguments: {} } });
}

function configured() {
  const host = new Host();
  assert.equal(host.startRoot(ROOT, CONFIG), true, 'the valid configuration is accepted');
  return host;
}

function assertContinues(outcome) {
  assert.equal(outcome.onHeaders, Action.Pause, 'headers are held until the body is decided');
  assert.equal(outcome.onBody, Action.Continue);
  assert.deepEqual(outcome.replies, []);
}

function assertDenied(outcome) {
  assert.equal(outcome.onBody, Action.Pause);
  assert.equal(outcome.replies.length, 1);
  const [reply] = outcome.replies;
  assert.equal(reply.status, 200, 'policy denials are a JSON-RPC result');
  assert.match(reply.body, /\[POLICY DENIED\]/);
  assert.equal(reply.details, 'mcp_policy_denied');
}

test('the module exports the ABI it implements and no SDK dispatcher', () => {
  const exports = WebAssembly.Module.exports(compiledModule()).map((e) => e.name).sort();
  assert.deepEqual(exports.filter((name) => name.startsWith('proxy_')), [
    'proxy_abi_version_0_2_1', 'proxy_on_configure', 'proxy_on_context_create', 'proxy_on_delete',
    'proxy_on_grpc_close', 'proxy_on_grpc_receive',
    'proxy_on_request_body', 'proxy_on_request_headers', 'proxy_on_request_trailers',
    'proxy_on_response_body', 'proxy_on_response_headers', 'proxy_on_vm_start',
  ]);
  assert.ok(exports.includes('malloc'), 'proxy_on_memory_allocate is exported as malloc');
});

test('an allowed tools/call with a valid token continues', () => {
  const host = configured();
  assertContinues(host.request(2, ROOT, headers(), call('get_invoice')));
  assert.equal(host.calls.proxy_define_metric > 0, true, 'decisions are counted');
});

test('a denied tools/call gets a local reply', () => {
  const host = configured();
  assertDenied(host.request(2, ROOT, headers(), call('delete_everything')));
});

test('a missing token gets a 401 local reply with response code details', () => {
  const host = configured();
  const outcome = host.request(2, ROOT, headers().filter(([name]) => name !== 'authorization'), call('get_invoice'));
  assert.equal(outcome.replies.length, 1);
  assert.equal(outcome.replies[0].status, 401);
  assert.equal(outcome.replies[0].details, 'mcp_policy_unauthenticated');
  assert.ok(outcome.replies[0].headers.some(([name]) => name.toLowerCase() === 'www-authenticate'));
});

test('a rejected configuration keeps the previous one', () => {
  const host = configured();
  assert.equal(host.configure(ROOT, Buffer.from('{"policy": {"version": "1", "default": "allow"')), false);
  assert.equal(host.configure(ROOT, { ...CONFIG, unknown_field: true }), false);
  assert.ok(host.logs.some(({ message }) => message.includes('previous configuration stays in force')));
  assertContinues(host.request(2, ROOT, headers(), call('get_invoice')));
  assertDenied(host.request(3, ROOT, headers(), call('delete_everything')));
});

test('a stream created before any configuration is refused with 503', () => {
  const host = new Host();
  host.startRoot(ROOT);
  const outcome = host.request(2, ROOT, headers(), call('get_invoice'));
  assert.equal(outcome.onHeaders, Action.Pause);
  assert.equal(outcome.replies.length, 1);
  assert.equal(outcome.replies[0].status, 503);
});

test('a stream of a root whose only configuration was rejected is refused with 503', () => {
  const host = new Host();
  assert.equal(host.startRoot(ROOT, Buffer.from('not json')), false);
  const outcome = host.request(2, ROOT, headers(), call('get_invoice'));
  assert.notEqual(outcome.onHeaders, Action.Continue);
  assert.equal(outcome.replies[0].status, 503);
});

test('callbacks for unknown contexts neither trap nor forward a request', () => {
  const host = configured();
  assert.equal(host.exports.proxy_on_request_headers(99, 0, 0), Action.Pause);
  assert.equal(host.replies.at(-1).status, 503);
  assert.equal(host.exports.proxy_on_request_body(98, 10, 1), Action.Pause);
  assert.equal(host.exports.proxy_on_request_trailers(97, 0), Action.Pause);
  assert.equal(host.exports.proxy_on_response_headers(99, 0, 0), Action.Continue);
  assert.equal(host.exports.proxy_on_response_body(99, 0, 1), Action.Continue);
  host.exports.proxy_on_delete(99);
  host.exports.proxy_on_context_create(5, 42);
  assert.equal(host.exports.proxy_on_request_headers(5, 0, 0), Action.Pause);
});

test('header names and values that are not UTF-8 do not trap', () => {
  const host = configured();
  const odd = [['x-bin', Buffer.from([0xff, 0xfe, 0x80])], [Buffer.from([0x78, 0xc3, 0x28]), 'v']];
  assertContinues(host.request(2, ROOT, headers(odd), call('get_invoice')));
  const token = [['authorization', Buffer.concat([Buffer.from('Bearer '), Buffer.from([0xff])])]];
  const refused = host.request(3, ROOT, headers().filter(([n]) => n !== 'authorization').concat(token), call('get_invoice'));
  assert.equal(refused.replies[0].status, 401);
});

test('a malformed header map fails closed with 500', () => {
  const host = configured();
  host.request(2, ROOT, headers(), call('get_invoice'));
  const truncated = host.mapPairs(MapType.RequestHeaders).subarray(0, 30);
  host.exports.proxy_on_context_create(3, ROOT);
  host.maps[MapType.RequestHeaders] = truncated;
  assert.equal(host.exports.proxy_on_request_headers(3, 7, 0), Action.Pause);
  assert.equal(host.replies.at(-1).status, 500);
});

test('host statuses outside the ABI, or unexpected, fail closed without trapping', () => {
  for (const status of [2, 12, 13, 0xffffffff | 0]) {
    const host = configured();
    host.statusOverrides.proxy_get_header_map_pairs = status;
    host.exports.proxy_on_context_create(2, ROOT);
    assert.equal(host.exports.proxy_on_request_headers(2, 7, 0), Action.Pause, `status ${status}`);
    assert.equal(host.replies.at(-1).status, 500, `status ${status}`);
  }
  const host = configured();
  host.statusOverrides.proxy_get_log_level = 99;
  host.statusOverrides.proxy_log = 99;
  host.statusOverrides.proxy_define_metric = 99;
  host.statusOverrides.proxy_set_property = 99;
  assert.equal(host.configure(ROOT, CONFIG), true);
  assertContinues(host.request(2, ROOT, headers(), call('get_invoice')));
  // Without a clock nothing can be decided (windows, expiries): refused.
  const clockless = configured();
  clockless.statusOverrides.proxy_get_current_time_nanoseconds = 99;
  const outcome = clockless.request(2, ROOT, headers(), call('get_invoice'));
  assert.equal(outcome.replies.length, 1);
  assert.equal(outcome.replies[0].status, 500);
  assert.equal(outcome.replies[0].details, 'mcp_policy_fail_closed');
});

test('a plugin configuration the host cannot hand over is rejected', () => {
  const host = new Host();
  host.startRoot(ROOT);
  host.statusOverrides.proxy_get_buffer_bytes = 10;
  assert.equal(host.configure(ROOT, CONFIG), false);
});

test('log levels outside the ABI (Envoy\'s "off") silence the module', () => {
  const host = new Host();
  host.logLevel = 6;
  host.startRoot(ROOT, CONFIG);
  assert.deepEqual(host.logs, []);
  host.logLevel = 0;
  host.configure(ROOT, CONFIG);
  assert.ok(host.logs.some(({ level }) => level === 2), 'info lines once the level allows them');
});

test('the allocator returns null rather than trapping when memory cannot be had', () => {
  const host = new Host();
  assert.notEqual(host.exports.malloc(0) >>> 0, 0);
  assert.notEqual(host.exports.malloc(64) >>> 0, 0);
  assert.equal(host.exports.malloc(0xffffff00 | 0) >>> 0, 0);
});

// --- Limits counted by the rate-limit service: the held request and its answer --------

const SERVICE_CONFIG = {
  ...CONFIG,
  policy: {
    version: '1', default: 'deny', tools: {
      get_invoice: {},
      send_text: { limits: [{ counter: 'texts', window: 'minute', max: 2, counted_by: 'rate_limit_service' }] },
    },
  },
  counter_key: crypto.randomBytes(32).toString('base64'),
  rate_limit_service: { cluster: 'rls', timeout_ms: 150 },
};

function varint(value) {
  const bytes = [];
  let n = BigInt(value);
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0n);
  return Buffer.from(bytes);
}

function field(number, payload) {
  if (Buffer.isBuffer(payload)) return Buffer.concat([varint((number << 3) | 2), varint(payload.length), payload]);
  return Buffer.concat([varint(number << 3), varint(payload)]);
}

/** A RateLimitResponse: overall code, and [code, limit_remaining, seconds until reset] per descriptor. */
function rlsResponse(code, statuses = []) {
  return Buffer.concat([
    field(1, code),
    ...statuses.map(([status, remaining, seconds]) =>
      field(2, Buffer.concat([field(1, status), field(3, remaining), field(4, field(1, seconds))]))),
  ]);
}

function held() {
  const host = new Host();
  assert.equal(host.startRoot(ROOT, SERVICE_CONFIG), true);
  const outcome = host.request(2, ROOT, headers(), call('send_text'), { keep: true });
  assert.equal(outcome.onBody, Action.Pause, 'held for the rate-limit service');
  assert.deepEqual(outcome.replies, []);
  assert.equal(host.grpcCalls.length, 1);
  return { host, call: host.grpcCalls[0] };
}

test('a call the rate-limit service counts is held, then resumed once it is admitted', () => {
  const { host, call: dispatched } = held();
  assert.equal(dispatched.serviceName, 'envoy.service.ratelimit.v3.RateLimitService');
  assert.equal(dispatched.method, 'ShouldRateLimit');
  assert.equal(dispatched.timeout, 150);
  assert.deepEqual(dispatched.service, field(1, field(1, Buffer.from('rls'))), 'GrpcService{envoy_grpc{cluster_name}}');
  assert.ok(dispatched.message.includes(Buffer.from('texts')));
  host.grpcReceive(ROOT, dispatched.token, rlsResponse(1, [[1, 1, 40]]));
  assert.deepEqual(host.continued, [{ type: 0, context: 2 }], 'the request stream continues');
  assert.deepEqual(host.replies, []);
});

test('OVER_LIMIT refuses the held request with the rate-limit denial', () => {
  const { host, call: dispatched } = held();
  host.grpcReceive(ROOT, dispatched.token, rlsResponse(2, [[2, 0, 40]]));
  assert.deepEqual(host.continued, []);
  assert.equal(host.replies.length, 1);
  const [reply] = host.replies;
  assert.equal(reply.context, 2, 'sent on the held stream');
  assert.equal(reply.status, 200);
  assert.equal(reply.details, 'mcp_policy_rate_limited');
  assert.ok(reply.headers.some(([name, value]) => name === 'retry-after' && value === '40'));
  assert.match(reply.body, /Rate limit of 2 per minute reached/);
});

test('an unavailable or timed-out rate-limit service fails closed', () => {
  for (const code of [14, 4, 13]) {
    const { host, call: dispatched } = held();
    host.grpcClose(ROOT, dispatched.token, code, 'redis full');
    assert.deepEqual(host.continued, [], `status ${code}`);
    assert.equal(host.replies.length, 1);
    assert.equal(host.replies[0].context, 2);
    assert.equal(host.replies[0].status, 500);
    assert.equal(host.replies[0].details, 'mcp_policy_rate_limit_unavailable');
  }
});

test('answers for a stream that ended, or for no call at all, go nowhere', () => {
  const ended = held();
  ended.host.end(2);
  ended.host.grpcReceive(ROOT, ended.call.token, rlsResponse(1, [[1, 1, 40]]));
  assert.deepEqual(ended.host.continued, []);
  assert.deepEqual(ended.host.replies, []);
  assert.equal(ended.host.calls.proxy_set_effective_context, undefined, 'the stream is never named');
  ended.host.grpcClose(ROOT, 999, 14);
  ended.host.grpcReceive(ROOT, 998, Buffer.from([0xff]));
  assert.deepEqual(ended.host.replies, []);

  const refused = held();
  refused.host.statusOverrides.proxy_set_effective_context = 2;
  refused.host.grpcReceive(ROOT, refused.call.token, rlsResponse(1, [[1, 1, 40]]));
  assert.deepEqual(refused.host.continued, [], 'a stream the host no longer has is not continued');
  assert.deepEqual(refused.host.replies, []);
});

test('a gRPC call the host will not dispatch fails closed at once', () => {
  const host = new Host();
  host.startRoot(ROOT, SERVICE_CONFIG);
  host.statusOverrides.proxy_grpc_call = 4;
  const outcome = host.request(2, ROOT, headers(), call('send_text'));
  assert.equal(outcome.replies.length, 1);
  assert.equal(outcome.replies[0].status, 500);
  assert.equal(outcome.replies[0].details, 'mcp_policy_rate_limit_unavailable');
});
