// A stubbed proxy-wasm host for the built module (dist/mcp_policy_filter.wasm):
// it implements every `env.proxy_*` import the filter uses (and WASI's
// environment calls), in memory, with Envoy's semantics where the filter
// depends on them, and records what the module did (local replies, logs,
// metrics, properties, closed streams). Tests set the configuration, headers
// and bodies, override a call's status, and drive the module's exports as
// Envoy would. See contexts.test.cjs.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const MODULE = process.env.MCP_POLICY_MODULE
  || path.join(__dirname, '..', '..', 'dist', 'mcp_policy_filter.wasm');

const Status = { Ok: 0, NotFound: 1, BadArgument: 2, InvalidMemoryAccess: 6, CasMismatch: 8 };
const MapType = { RequestHeaders: 0, ResponseHeaders: 2 };
const BufferType = { RequestBody: 0, ResponseBody: 1, GrpcReceive: 5, PluginConfiguration: 7 };
const Action = { Continue: 0, Pause: 1 };

let compiled;
function compiledModule() {
  compiled = compiled || new WebAssembly.Module(fs.readFileSync(MODULE));
  return compiled;
}

/** The proxy-wasm map wire format, from [name, value] pairs of strings or bytes. */
function encodeMap(pairs) {
  const parts = pairs.map(([name, value]) => [Buffer.from(name), Buffer.from(value)]);
  let size = 4 + parts.length * 8;
  for (const [name, value] of parts) size += name.length + value.length + 2;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(parts.length, 0);
  let at = 4;
  for (const [name, value] of parts) {
    out.writeUInt32LE(name.length, at);
    out.writeUInt32LE(value.length, at + 4);
    at += 8;
  }
  for (const [name, value] of parts) {
    name.copy(out, at);
    at += name.length + 1;
    value.copy(out, at);
    at += value.length + 1;
  }
  return out;
}

function decodeMap(bytes) {
  const count = bytes.readUInt32LE(0);
  const pairs = [];
  let at = 4 + count * 8;
  for (let index = 0; index < count; index++) {
    const nameLength = bytes.readUInt32LE(4 + index * 8);
    const valueLength = bytes.readUInt32LE(8 + index * 8);
    const name = bytes.subarray(at, at + nameLength).toString();
    at += nameLength + 1;
    const value = bytes.subarray(at, at + valueLength).toString();
    at += valueLength + 1;
    pairs.push([name, value]);
  }
  return pairs;
}

class Host {
  constructor() {
    this.config = Buffer.alloc(0);
    this.logLevel = 1;
    /** Per map type: [name, value] pairs (strings or Buffers), or raw bytes. */
    this.maps = { [MapType.RequestHeaders]: [], [MapType.ResponseHeaders]: [] };
    this.buffers = {
      [BufferType.RequestBody]: Buffer.alloc(0),
      [BufferType.ResponseBody]: Buffer.alloc(0),
      [BufferType.GrpcReceive]: Buffer.alloc(0),
    };
    /** Per import name: the status it returns instead of doing its work. */
    this.statusOverrides = {};
    this.shared = new Map();
    this.nextCas = 1;
    this.metrics = [];
    this.properties = new Map();
    this.replies = [];
    this.closedStreams = [];
    /** gRPC calls dispatched: { token, service, serviceName, method, message, timeout }. */
    this.grpcCalls = [];
    this.nextToken = 1;
    /** The status `proxy_get_status` reports in `proxy_on_grpc_close`. */
    this.grpcStatus = { code: 0, message: '' };
    /** Contexts that exist (a stream's until proxy_on_delete), and the effective one. */
    this.contexts = new Set();
    this.effective = 0;
    /** Streams continued with proxy_continue_stream: { type, context }. */
    this.continued = [];
    this.logs = [];
    this.calls = {};
    this.instance = new WebAssembly.Instance(compiledModule(), this.imports());
    this.exports = this.instance.exports;
  }

  bytes(ptr, len) {
    return Buffer.from(this.exports.memory.buffer, ptr >>> 0, len >>> 0);
  }

  text(ptr, len) {
    return this.bytes(ptr, len).toString();
  }

  view() {
    return new DataView(this.exports.memory.buffer);
  }

  /** Hands `data` over as Envoy does: a block from the module's allocator, or none when empty. */
  give(data, ptrOut, sizeOut) {
    let ptr = 0;
    if (data.length > 0) {
      ptr = this.exports.malloc(data.length) >>> 0;
      if (ptr === 0) return Status.InvalidMemoryAccess;
      this.bytes(ptr, data.length).set(data);
    }
    this.view().setUint32(ptrOut, ptr, true);
    this.view().setUint32(sizeOut, data.length, true);
    return Status.Ok;
  }

  mapPairs(type) {
    const map = this.maps[type];
    return Buffer.isBuffer(map) ? map : encodeMap(map);
  }

  /** The imports the module has; one the harness does not implement is an error. */
  imports() {
    const calls = {
      proxy_log: (level, ptr, len) => {
        this.logs.push({ level, message: this.text(ptr, len) });
        return Status.Ok;
      },
      proxy_get_log_level: (out) => {
        this.view().setUint32(out, this.logLevel, true);
        return Status.Ok;
      },
      proxy_get_current_time_nanoseconds: (out) => {
        this.view().setBigUint64(out, BigInt(Date.now()) * 1000000n, true);
        return Status.Ok;
      },
      proxy_get_buffer_bytes: (type, start, max, ptrOut, sizeOut) => {
        const buffer = type === BufferType.PluginConfiguration ? this.config : this.buffers[type];
        if (!buffer) return Status.NotFound;
        return this.give(buffer.subarray(start >>> 0, (start >>> 0) + (max >>> 0)), ptrOut, sizeOut);
      },
      proxy_set_buffer_bytes: (type, start, size, ptr, len) => {
        const buffer = this.buffers[type];
        if (!buffer) return Status.NotFound;
        const data = Buffer.from(this.bytes(ptr, len));
        this.buffers[type] = Buffer.concat([buffer.subarray(0, start), data, buffer.subarray(start + size)]);
        return Status.Ok;
      },
      proxy_get_header_map_pairs: (type, ptrOut, sizeOut) => {
        if (!(type in this.maps)) return Status.NotFound;
        return this.give(this.mapPairs(type), ptrOut, sizeOut);
      },
      proxy_replace_header_map_value: (type, namePtr, nameLen, valuePtr, valueLen) => {
        const name = this.text(namePtr, nameLen);
        const value = this.text(valuePtr, valueLen);
        const pairs = (this.maps[type] || []).filter(([n]) => String(n).toLowerCase() !== name.toLowerCase());
        this.maps[type] = [...pairs, [name, value]];
        return Status.Ok;
      },
      proxy_remove_header_map_value: (type, namePtr, nameLen) => {
        const name = this.text(namePtr, nameLen).toLowerCase();
        this.maps[type] = (this.maps[type] || []).filter(([n]) => String(n).toLowerCase() !== name);
        return Status.Ok;
      },
      proxy_get_shared_data: (keyPtr, keyLen, ptrOut, sizeOut, casOut) => {
        const entry = this.shared.get(this.text(keyPtr, keyLen));
        if (!entry) return Status.NotFound;
        this.view().setUint32(casOut, entry.cas, true);
        return this.give(entry.value, ptrOut, sizeOut);
      },
      proxy_set_shared_data: (keyPtr, keyLen, valuePtr, valueLen, cas) => {
        const key = this.text(keyPtr, keyLen);
        const entry = this.shared.get(key);
        if (cas !== 0 && entry && entry.cas !== cas >>> 0) return Status.CasMismatch;
        this.shared.set(key, { value: Buffer.from(this.bytes(valuePtr, valueLen)), cas: this.nextCas++ });
        return Status.Ok;
      },
      proxy_define_metric: (type, namePtr, nameLen, idOut) => {
        this.metrics.push({ type, name: this.text(namePtr, nameLen), value: 0n });
        this.view().setUint32(idOut, this.metrics.length - 1, true);
        return Status.Ok;
      },
      proxy_increment_metric: (id, offset) => {
        if (!this.metrics[id]) return Status.NotFound;
        this.metrics[id].value += offset;
        return Status.Ok;
      },
      proxy_set_property: (pathPtr, pathLen, valuePtr, valueLen) => {
        this.properties.set(this.text(pathPtr, pathLen), Buffer.from(this.bytes(valuePtr, valueLen)));
        return Status.Ok;
      },
      proxy_get_property: (pathPtr, pathLen, ptrOut, sizeOut) => {
        const value = this.properties.get(this.text(pathPtr, pathLen));
        return value ? this.give(value, ptrOut, sizeOut) : Status.NotFound;
      },
      proxy_call_foreign_function: (namePtr, nameLen, argPtr, argLen, ptrOut, sizeOut) => {
        return this.give(Buffer.alloc(0), ptrOut, sizeOut);
      },
      proxy_close_stream: (streamType) => {
        this.closedStreams.push(streamType);
        return Status.Ok;
      },
      proxy_send_local_response: (status, detailsPtr, detailsLen, bodyPtr, bodyLen, headersPtr, headersLen, grpc) => {
        this.replies.push({
          context: this.effective,
          status,
          details: this.text(detailsPtr, detailsLen),
          body: this.text(bodyPtr, bodyLen),
          headers: decodeMap(Buffer.from(this.bytes(headersPtr, headersLen))),
          grpc,
        });
        return Status.Ok;
      },
      proxy_grpc_call: (upPtr, upLen, namePtr, nameLen, methodPtr, methodLen, mdPtr, mdLen,
        msgPtr, msgLen, timeout, tokenOut) => {
        const token = this.nextToken++;
        this.grpcCalls.push({
          token,
          context: this.effective,
          service: Buffer.from(this.bytes(upPtr, upLen)),
          serviceName: this.text(namePtr, nameLen),
          method: this.text(methodPtr, methodLen),
          metadata: decodeMap(Buffer.from(this.bytes(mdPtr, mdLen))),
          message: Buffer.from(this.bytes(msgPtr, msgLen)),
          timeout,
        });
        this.view().setUint32(tokenOut, token, true);
        return Status.Ok;
      },
      proxy_get_status: (codeOut, ptrOut, sizeOut) => {
        this.view().setUint32(codeOut, this.grpcStatus.code, true);
        return this.give(Buffer.from(this.grpcStatus.message), ptrOut, sizeOut);
      },
      proxy_set_effective_context: (id) => {
        if (!this.contexts.has(id)) return Status.BadArgument;
        this.effective = id;
        return Status.Ok;
      },
      proxy_continue_stream: (type) => {
        this.continued.push({ type, context: this.effective });
        return Status.Ok;
      },
    };
    // WASI's environment calls, which Envoy implements for any module: an empty environment.
    const wasi = {
      environ_sizes_get: (countOut, sizeOut) => {
        this.view().setUint32(countOut, 0, true);
        this.view().setUint32(sizeOut, 0, true);
        return 0;
      },
      environ_get: () => 0,
    };
    const stubs = { env: calls, wasi_snapshot_preview1: wasi };
    const imports = {};
    for (const { module, name } of WebAssembly.Module.imports(compiledModule())) {
      const stub = stubs[module] && stubs[module][name];
      if (!stub) throw new Error(`the harness has no stub for the module's import ${module}.${name}`);
      imports[module] = imports[module] || {};
      imports[module][name] = (...args) => {
        this.calls[name] = (this.calls[name] || 0) + 1;
        return name in this.statusOverrides ? this.statusOverrides[name] : stub(...args);
      };
    }
    return imports;
  }

  /** Calls an export as Envoy does: in the context it names, with no effective context yet. */
  callIn(context, name, ...args) {
    this.effective = context;
    return this.exports[name](context, ...args);
  }

  /** Creates root context `root`, starts the VM and configures it with `config` (JSON or bytes). */
  startRoot(root, config) {
    this.contexts.add(root);
    this.exports.proxy_on_context_create(root, 0);
    if (!this.exports.proxy_on_vm_start(root, 0)) throw new Error('proxy_on_vm_start returned false');
    return config === undefined ? true : this.configure(root, config);
  }

  configure(root, config) {
    this.config = Buffer.isBuffer(config) ? config : Buffer.from(JSON.stringify(config));
    return Boolean(this.exports.proxy_on_configure(root, this.config.length));
  }

  /**
   * Runs one request on a new stream `id` of `root`, as Envoy does: headers,
   * then the whole body. Returns each callback's action and the replies sent.
   */
  request(id, root, headers, body, { keep = false } = {}) {
    const sentBefore = this.replies.length;
    this.maps[MapType.RequestHeaders] = headers;
    this.buffers[BufferType.RequestBody] = Buffer.from(body);
    this.contexts.add(id);
    this.exports.proxy_on_context_create(id, root);
    const onHeaders = this.callIn(id, 'proxy_on_request_headers', Array.isArray(headers) ? headers.length : 0, 0);
    const onBody = onHeaders === Action.Pause && this.replies.length === sentBefore
      ? this.callIn(id, 'proxy_on_request_body', this.buffers[BufferType.RequestBody].length, 1)
      : undefined;
    const replies = this.replies.slice(sentBefore);
    if (!keep) this.end(id);
    return { onHeaders, onBody, replies };
  }

  /** The stream ends: Envoy deletes its context. */
  end(id) {
    this.exports.proxy_on_delete(id);
    this.contexts.delete(id);
  }

  /** Envoy hands a gRPC call's answer to the root context it was dispatched from. */
  grpcReceive(root, token, message) {
    this.buffers[BufferType.GrpcReceive] = Buffer.from(message);
    this.callIn(root, 'proxy_on_grpc_receive', token, message.length);
  }

  grpcClose(root, token, code, message = '') {
    this.grpcStatus = { code, message };
    this.callIn(root, 'proxy_on_grpc_close', token, code);
  }
}

module.exports = { Host, MapType, BufferType, Action, Status, encodeMap, MODULE, compiledModule };
