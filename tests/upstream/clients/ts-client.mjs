#!/usr/bin/env node
// A real MCP client (official TypeScript SDK 1.32.2, from ../afip-double/node_modules)
// pinned to one protocol version, for end-to-end tests of the gateway.
//
//   node ts-client.mjs --url URL [--token TOKEN] --protocol VERSION [--transport streamable|sse]
//                      [--steps JSON] [--timeout-ms N]
//
// VERSION: 2024-11-05 (use --transport sse), 2025-03-26, 2025-06-18 or 2025-11-25.
// The SDK's Client always offers its LATEST_PROTOCOL_VERSION (2025-11-25) and has no
// option for another, so the transport is wrapped: the outgoing `initialize` carries
// VERSION instead, and the server's answer decides the session's version as usual.
// Like real clients of those versions, `MCP-Protocol-Version` is only sent from
// 2025-06-18 on (2024-11-05 and 2025-03-26 had no such header).
//
// Steps (JSON array), run in order after connecting:
//   {"op":"list_tools"}                          -> {"names":[...]}
//   {"op":"call_tool","name":N,"arguments":{}}  -> the CallToolResult
//   {"op":"ping"}                                -> {}
//   {"op":"request","method":M,"params":{}}     -> the raw result
// Each step reports {"op", "ok":true, "result"} or {"op", "ok":false, "error":{code,message}}.
//
// Prints one JSON document on stdout:
//   {"protocol_requested", "protocol_negotiated", "server_info", "session_id",
//    "initialize_sent":{...params}, "steps":[...], "wire":[{method,path,status,headers}]}
// `wire` lists every HTTP request the transport made, with the MCP headers it sent.
// Exits 0 when it ran every step (a step may still report an error), 1 on a connect
// failure (printed as {"error": ...}), 2 on timeout.

import { Client } from '../afip-double/node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js';
import { StreamableHTTPClientTransport } from '../afip-double/node_modules/@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.js';
import { SSEClientTransport } from '../afip-double/node_modules/@modelcontextprotocol/sdk/dist/esm/client/sse.js';
import { EmptyResultSchema } from '../afip-double/node_modules/@modelcontextprotocol/sdk/dist/esm/types.js';

const HEADERLESS_VERSIONS = new Set(['2024-11-05', '2025-03-26']);

function parseArgs(argv) {
  const args = { transport: 'streamable', steps: '[]', timeoutMs: 60000, token: undefined };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${key} needs a value`);
    if (key === '--url') args.url = value;
    else if (key === '--token') args.token = value;
    else if (key === '--protocol') args.protocol = value;
    else if (key === '--transport') args.transport = value;
    else if (key === '--steps') args.steps = value;
    else if (key === '--timeout-ms') args.timeoutMs = Number(value);
    else throw new Error(`unknown argument ${key}`);
  }
  if (!args.url || !args.protocol) throw new Error('--url and --protocol are required');
  if (!['streamable', 'sse'].includes(args.transport)) throw new Error(`unknown transport ${args.transport}`);
  return args;
}

/** Adds the version pin to a transport class. */
function pinned(Base) {
  return class extends Base {
    constructor(url, options, version, report) {
      super(url, options);
      this.pinnedVersion = version;
      this.report = report;
    }

    async send(message, options) {
      if (message && message.method === 'initialize') {
        message = { ...message, params: { ...message.params, protocolVersion: this.pinnedVersion } };
        this.report.initialize_sent = message.params;
      }
      return super.send(message, options);
    }

    setProtocolVersion(version) {
      this.report.protocol_negotiated = version;
      if (!HEADERLESS_VERSIONS.has(version)) super.setProtocolVersion(version);
    }
  };
}

const PinnedStreamable = pinned(StreamableHTTPClientTransport);
const PinnedSse = pinned(SSEClientTransport);

/** In-flight POSTs: a reply can arrive (on a stream) before its POST's own response. */
const inFlight = new Set();

function recordingFetch(wire) {
  return (url, init = {}) => {
    const request = record(wire, url, init);
    if ((init.method ?? 'GET') !== 'GET') {
      inFlight.add(request);
      request.then(() => inFlight.delete(request), () => inFlight.delete(request));
    }
    return request;
  };
}

async function settle(ms = 5000) {
  await Promise.race([Promise.allSettled([...inFlight]), new Promise((resolve) => setTimeout(resolve, ms))]);
}

async function record(wire, url, init) {
  const headers = new Headers(init.headers ?? {});
  const target = new URL(String(url));
  const entry = {
    method: init.method ?? 'GET',
    path: target.pathname + target.search,
    headers: Object.fromEntries(
      [...headers.entries()].filter(([name]) => name.startsWith('mcp-') || name === 'accept' || name === 'content-type'),
    ),
  };
  wire.push(entry);
  const response = await fetch(url, init);
  entry.status = response.status;
  return response;
}

function errorOf(error) {
  return { code: error?.code ?? null, message: String(error?.message ?? error) };
}

async function runStep(client, step) {
  switch (step.op) {
    case 'list_tools': {
      const result = await client.listTools();
      return { names: result.tools.map((tool) => tool.name) };
    }
    case 'call_tool':
      return client.callTool({ name: step.name, arguments: step.arguments ?? {} });
    case 'ping':
      return client.ping();
    case 'request':
      return client.request({ method: step.method, params: step.params ?? {} }, EmptyResultSchema.passthrough());
    default:
      throw new Error(`unknown step ${JSON.stringify(step)}`);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const steps = JSON.parse(args.steps);
  const report = { protocol_requested: args.protocol, protocol_negotiated: null, steps: [], wire: [] };
  const requestInit = args.token ? { headers: { Authorization: `Bearer ${args.token}` } } : {};
  const options = { requestInit, fetch: recordingFetch(report.wire) };
  const Transport = args.transport === 'sse' ? PinnedSse : PinnedStreamable;
  const transport = new Transport(new URL(args.url), options, args.protocol, report);
  const client = new Client({ name: 'e2e-ts-client', version: '1.0.0' }, { capabilities: {} });

  const timer = setTimeout(() => {
    process.stdout.write(`${JSON.stringify({ ...report, error: 'timeout' })}\n`);
    process.exit(2);
  }, args.timeoutMs);

  try {
    await client.connect(transport);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ...report, error: errorOf(error) })}\n`);
    clearTimeout(timer);
    process.exit(1);
  }
  report.server_info = client.getServerVersion() ?? null;
  report.session_id = transport.sessionId ?? null;
  for (const step of steps) {
    try {
      report.steps.push({ op: step.op, ok: true, result: await runStep(client, step) });
    } catch (error) {
      report.steps.push({ op: step.op, ok: false, error: errorOf(error) });
    }
  }
  await settle();
  clearTimeout(timer);
  try {
    if (transport.terminateSession && args.transport === 'streamable') await transport.terminateSession();
  } catch {
    // best effort
  }
  await client.close().catch(() => {});
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}

main().catch((error) => {
  process.stdout.write(`${JSON.stringify({ error: errorOf(error) })}\n`);
  process.exit(1);
});
