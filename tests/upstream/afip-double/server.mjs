#!/usr/bin/env node
// "Mcp Afip" test double: HTTP and session wiring.
//
// Like the real servers (Express + @modelcontextprotocol/sdk low-level Server):
//   POST|GET|DELETE /mcp  Streamable HTTP, one Server + transport per mcp-session-id
//   GET /health           {"status":"ok"}
// Test-only inspection endpoints:
//   GET /__calls[?name=<tool>][&method=<method>]   {"calls":[...],"methods":[...]}
//   DELETE /__calls                                 clears both logs, 204
//
// Env: AFIP_DOUBLE_HOST (127.0.0.1), AFIP_DOUBLE_PORT (3000; 0 = any free port),
//      AFIP_DOUBLE_JSON_RESPONSE=1 (answer POSTs as application/json instead of SSE),
//      AFIP_DOUBLE_CATALOGUE (both; or afip, evolution: see catalogue.mjs).
// Args: --host H, --port N, --catalogue C (override the env).

import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { loadCatalogue } from './catalogue.mjs';
import { createMcpServer } from './mcp.mjs';
import { clearRecords, messagesOf, recordPost, snapshot } from './record.mjs';
import { argsOf, http500Request, sleep, sleepMsOf } from './hooks.mjs';

const BAD_REQUEST = { jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request' }, id: null };

function parseConfig(argv, env) {
  const config = {
    host: env.AFIP_DOUBLE_HOST || '127.0.0.1',
    port: env.AFIP_DOUBLE_PORT ?? '3000',
    catalogue: env.AFIP_DOUBLE_CATALOGUE || 'both',
    jsonResponse: ['1', 'true', 'yes'].includes(String(env.AFIP_DOUBLE_JSON_RESPONSE ?? '').toLowerCase()),
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (!['--port', '--host', '--catalogue'].includes(flag)) continue;
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    config[flag.slice(2)] = value;
  }
  const port = Number(config.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${config.port}`);
  return { ...config, port };
}

const config = parseConfig(process.argv.slice(2), process.env);
const catalogue = loadCatalogue(config.catalogue);

/** Live sessions: mcp-session-id -> StreamableHTTPServerTransport. */
const transports = new Map();

const sessionIdOf = (req) => req.headers['mcp-session-id'];

/** New session: a fresh Server connected to a fresh transport, registered once initialized. */
async function openSession() {
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    enableJsonResponse: config.jsonResponse,
    onsessioninitialized: (id) => transports.set(id, transport),
  });
  transport.onclose = () => {
    if (transport.sessionId) transports.delete(transport.sessionId);
  };
  await createMcpServer(catalogue).connect(transport);
  return transport;
}

/** "__fail":"http500" hook: answer 500 without running the tool. True if it answered. */
async function answerHttp500(req, res) {
  const messages = messagesOf(req.body);
  const failing = http500Request(messages);
  if (!failing) return false;
  await sleep(sleepMsOf(argsOf(failing)));
  res.status(500).json({
    jsonrpc: '2.0',
    error: { code: -32603, message: 'Internal Server Error: AFIP API 500: simulated' },
    id: Array.isArray(req.body) ? null : (failing.id ?? null),
  });
  return true;
}

function internalError(res, err) {
  console.error('afip-double: request failed:', err);
  if (!res.headersSent) res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
  else res.end();
}

const app = express();
app.use(express.json());

app.get('/health', (_req, res) => res.json({ status: 'ok' }));

app.post('/mcp', async (req, res) => {
  const sid = sessionIdOf(req);
  recordPost(req.body, sid, req.headers);
  try {
    if (sid && transports.has(sid)) {
      if (await answerHttp500(req, res)) return;
      await transports.get(sid).handleRequest(req, res, req.body);
      return;
    }
    if (!sid && isInitializeRequest(req.body)) {
      const transport = await openSession();
      await transport.handleRequest(req, res, req.body);
      return;
    }
    res.status(400).json(BAD_REQUEST);
  } catch (err) {
    internalError(res, err);
  }
});

/** GET (standalone SSE stream) and DELETE (end session) go to the session's transport. */
async function sessionRequest(req, res) {
  const sid = sessionIdOf(req);
  if (!sid || !transports.has(sid)) {
    res.status(400).send('Invalid session');
    return;
  }
  try {
    await transports.get(sid).handleRequest(req, res);
  } catch (err) {
    internalError(res, err);
  }
}
app.get('/mcp', sessionRequest);
app.delete('/mcp', sessionRequest);

app.get('/__calls', (req, res) => {
  const pick = (v) => (typeof v === 'string' ? v : undefined);
  res.json(snapshot({ name: pick(req.query.name), method: pick(req.query.method) }));
});
app.delete('/__calls', (_req, res) => {
  clearRecords();
  res.status(204).end();
});

const httpServer = createServer(app);

httpServer.on('error', (err) => {
  console.error(`afip-double: cannot listen on ${config.host}:${config.port}: ${err.message}`);
  process.exit(1);
});

httpServer.listen(config.port, config.host, () => {
  const { port } = httpServer.address();
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  console.error(`afip-double: catalogue ${catalogue.name}: ${catalogue.tools.length} tools as ${catalogue.serverInfo.name}`);
  process.stdout.write(`afip-double listening on http://${host}:${port}/mcp\n`);
});

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`afip-double: ${signal}, shutting down`);
  setTimeout(() => process.exit(0), 3000).unref();
  await Promise.allSettled([...transports.values()].map((t) => t.close()));
  httpServer.close(() => process.exit(0));
  httpServer.closeAllConnections();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
