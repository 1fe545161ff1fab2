// Runs the filter module in Node's V8 (the engine Envoy embeds) with a
// minimal in-JS proxy-wasm host, and times the module's own work per
// request, host calls included but Envoy excluded.
//
//   node bench/v8/harness.js MODULE CONFIG.json HEADERS.txt BODY REQUESTS
//
// Prints JSON: ns per request and host calls per request by name. Run it
// with `node --cpu-prof` to see where the module's time goes (the module
// must keep its name section: bench/v8/run.sh builds it that way).
'use strict';
const fs = require('fs');

const [modulePath, configPath, headersPath, bodyPath, requestsArg] = process.argv.slice(2);
const requests = Number(requestsArg || 20000);
const config = Buffer.from(fs.readFileSync(configPath));
const body = Buffer.from(fs.readFileSync(bodyPath));
const requestHeaders = [[':method', 'POST'], [':path', '/mcp'], [':authority', 'bench'], [':scheme', 'http'],
  ['content-length', String(body.length)]];
for (const line of fs.readFileSync(headersPath, 'utf8').split('\n')) {
  const at = line.indexOf(':');
  if (at > 0) requestHeaders.push([line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim()]);
}
const responseHeaders = [[':status', '200'], ['content-type', 'application/json'], ['content-length', '103']];
const responseBody = Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}],"isError":false}}');

let instance;
const calls = {};
const shared = new Map();
let cas = 1;
const count = (name) => { calls[name] = (calls[name] || 0) + 1; };
const mem = () => new Uint8Array(instance.exports.memory.buffer);
const view = () => new DataView(instance.exports.memory.buffer);
const str = (ptr, len) => Buffer.from(instance.exports.memory.buffer, ptr, len).toString('utf8');
function give(bytes, ptrOut, sizeOut) {
  const ptr = instance.exports.malloc(bytes.length);
  mem().set(bytes, ptr);
  view().setUint32(ptrOut, ptr, true);
  view().setUint32(sizeOut, bytes.length, true);
}
function encodeMap(pairs) {
  const parts = pairs.map(([n, v]) => [Buffer.from(n), Buffer.from(v)]);
  let size = 4 + parts.length * 8;
  for (const [n, v] of parts) size += n.length + v.length + 2;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(parts.length, 0);
  let at = 4;
  for (const [n, v] of parts) { out.writeUInt32LE(n.length, at); out.writeUInt32LE(v.length, at + 4); at += 8; }
  for (const [n, v] of parts) { n.copy(out, at); at += n.length + 1; v.copy(out, at); at += v.length + 1; }
  return out;
}
const encodedRequest = encodeMap(requestHeaders);
const encodedResponse = encodeMap(responseHeaders);
let replies = 0;
const env = {
  proxy_log: (level, ptr, len) => { count('log'); return 0; },
  proxy_get_log_level: (out) => { view().setUint32(out, 3, true); return 0; },
  proxy_get_current_time_nanoseconds: (out) => {
    count('time'); view().setBigUint64(out, BigInt(Date.now()) * 1000000n, true); return 0;
  },
  proxy_get_buffer_bytes: (type, start, size, ptrOut, sizeOut) => {
    count('get_buffer');
    const source = type === 7 ? config : type === 0 ? body : responseBody;
    give(source.subarray(start, start + size), ptrOut, sizeOut);
    return 0;
  },
  proxy_set_buffer_bytes: () => { count('set_buffer'); return 0; },
  proxy_get_header_map_pairs: (type, ptrOut, sizeOut) => {
    count('get_header_map'); give(type === 0 ? encodedRequest : encodedResponse, ptrOut, sizeOut); return 0;
  },
  proxy_replace_header_map_value: () => { count('replace_header'); return 0; },
  proxy_remove_header_map_value: () => { count('remove_header'); return 0; },
  proxy_get_shared_data: (kp, kl, ptrOut, sizeOut, casOut) => {
    count('get_shared');
    const entry = shared.get(str(kp, kl));
    if (!entry) return 1;
    give(entry.value, ptrOut, sizeOut); view().setUint32(casOut, entry.cas, true); return 0;
  },
  proxy_set_shared_data: (kp, kl, vp, vl, c) => {
    count('set_shared');
    const key = str(kp, kl); const entry = shared.get(key);
    if (entry && c !== 0 && c !== entry.cas) return 8;
    shared.set(key, { value: Buffer.from(mem().slice(vp, vp + vl)), cas: cas++ }); return 0;
  },
  proxy_define_metric: (type, np, nl, out) => { count('define_metric'); view().setUint32(out, 1, true); return 0; },
  proxy_increment_metric: () => { count('increment_metric'); return 0; },
  proxy_set_property: () => { count('set_property'); return 0; },
  proxy_call_foreign_function: () => { count('call_foreign_function'); return 0; },
  proxy_get_property: () => { count('get_property'); return 1; },
  proxy_send_local_response: () => { count('send_local_response'); replies++; return 0; },
};

const wasmModule = new WebAssembly.Module(fs.readFileSync(modulePath));
const imports = { env: {} };
for (const imp of WebAssembly.Module.imports(wasmModule)) {
  if (imp.kind !== 'function') continue;
  imports[imp.module] = imports[imp.module] || {};
  imports[imp.module][imp.name] = env[imp.name] || (() => { throw new Error('unexpected import ' + imp.name); });
}
instance = new WebAssembly.Instance(wasmModule, imports);
const x = instance.exports;
x.proxy_on_context_create(1, 0);
x.proxy_on_vm_start(1, 0);
if (!x.proxy_on_configure(1, config.length)) throw new Error('configuration rejected');

function one(id) {
  x.proxy_on_context_create(id, 1);
  if (x.proxy_on_request_headers(id, requestHeaders.length, 0) !== 1) throw new Error('headers not held');
  if (x.proxy_on_request_body(id, body.length, 1) !== 0) throw new Error('body not forwarded');
  x.proxy_on_response_headers(id, responseHeaders.length, 0);
  x.proxy_on_response_body(id, responseBody.length, 1);
  if (x.proxy_on_done) x.proxy_on_done(id);
  x.proxy_on_delete(id);
}
for (let i = 0; i < 20000; i++) one(2 + i);  // warm-up: TurboFan tier-up
for (const key of Object.keys(calls)) delete calls[key];
const started = process.hrtime.bigint();
for (let i = 0; i < requests; i++) one(100000 + i);
const ns = Number(process.hrtime.bigint() - started) / requests;
for (const key of Object.keys(calls)) calls[key] /= requests;
if (replies) throw new Error(`${replies} local replies: the request was refused`);
console.log(JSON.stringify({ ns_per_request: Math.round(ns), host_calls: calls }));
