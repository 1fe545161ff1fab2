#!/usr/bin/env node
// Self-test of a running afip-double (starts nothing itself).
// Usage: node selftest.mjs http://127.0.0.1:PORT/mcp [--catalogue both|afip|evolution]
// --catalogue names the mode the double was started in (default both).
// Exits 0 when every check passes, 1 otherwise.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TOOL_NAMES } from './tools.mjs';

// The 45 tool names of the reference (/work/shared/reference/mcp-afip-tools.md).
const REFERENCE_NAMES = [
  'create_invoice', 'get_invoice', 'get_last_invoice_number', 'get_cae_status', 'create_invoice_batch',
  'create_credit_note', 'create_debit_note', 'cancel_invoice', 'get_currency_rate', 'lookup_taxpayer',
  'get_registration_certificate', 'list_invoice_types', 'list_tax_types', 'get_server_status',
  'get_authorized_points_of_sale', 'get_invoice_total_x_request', 'list_concept_types', 'list_doc_types',
  'list_iva_types', 'list_currency_types',
  'send_text', 'send_image', 'send_document', 'get_instances', 'create_instance', 'get_qrcode', 'get_contacts',
  'logout_instance', 'restart_instance', 'delete_instance', 'connection_state', 'send_poll', 'get_messages',
  'check_number', 'create_group', 'get_group_info', 'leave_group', 'fetch_group_invite_code', 'update_profile',
  'set_presence', 'get_chat_history', 'update_group_participants', 'mark_message_as_read', 'archive_chat',
  'delete_message',
];

const realTools = (file) =>
  JSON.parse(readFileSync(new URL(`../../fixtures/servers/${file}`, import.meta.url), 'utf8')).result.tools;
const AFIP = realTools('mcp-afip.tools-list.json');
const EVOLUTION = realTools('evolution-api.tools-list.json');

// Per mode: the server name, the exact tools (null: the double's own), one call
// that must succeed, and a tool of the other server that must be unknown.
const MODES = {
  both: { server: 'mcp-afip', tools: null, call: ['logout_instance', { instance: 'x' }], foreign: null },
  afip: {
    server: 'mcp-afip',
    tools: AFIP,
    call: ['create_invoice_batch', { point_of_sale: 1, invoice_type: 6, invoices: [{ invoice_number: 7, amount_total: 10 }] }],
    foreign: 'logout_instance',
  },
  evolution: {
    server: 'mcp-evolution-api',
    tools: EVOLUTION,
    call: ['update_group_participants', { instance: 'x', groupJid: 'g@g.us', action: 'remove', participants: ['5491100000001'] }],
    foreign: 'get_server_status',
  },
};

function parseArgs(argv) {
  const [url, flag, value] = argv;
  if (!url || (flag !== undefined && (flag !== '--catalogue' || !(value in MODES)))) {
    console.error('usage: node selftest.mjs http://127.0.0.1:PORT/mcp [--catalogue both|afip|evolution]');
    process.exit(2);
  }
  return { url, mode: value ?? 'both' };
}

const { url, mode } = parseArgs(process.argv.slice(2));
const expected = MODES[mode];
const base = new URL(url);
const callsUrl = new URL('/__calls', base);

let step = 'start';
const check = (name) => {
  step = name;
  console.log(`- ${name}`);
};

const resultOf = (out) => JSON.parse(out.content[0].text);

function checkBothCatalogue(tools) {
  assert.equal(REFERENCE_NAMES.length, 45);
  assert.equal(tools.length, 45);
  const names = new Set(tools.map((t) => t.name));
  for (const name of REFERENCE_NAMES) assert.ok(names.has(name), `missing tool ${name}`);
  assert.deepEqual([...names].sort(), [...TOOL_NAMES].sort());
  for (const t of tools) {
    assert.equal(t.inputSchema.type, 'object', `${t.name} inputSchema.type`);
    assert.equal(t.annotations, undefined, `${t.name} has no annotations`);
    assert.equal(t.outputSchema, undefined, `${t.name} has no outputSchema`);
  }
  const logout = tools.find((t) => t.name === 'logout_instance');
  assert.deepEqual(logout.inputSchema.required, ['instance']);
}

async function main() {
  check('DELETE /__calls');
  assert.equal((await fetch(callsUrl, { method: 'DELETE' })).status, 204);

  check(`initialize (catalogue ${mode})`);
  const client = new Client({ name: 'afip-double-selftest', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(base);
  await client.connect(transport);
  assert.equal(client.getServerVersion()?.name, expected.server);
  assert.ok(transport.sessionId, 'server issued an mcp-session-id');

  const { tools } = await client.listTools();
  if (expected.tools === null) {
    check('tools/list: 45 tools, every reference name present');
    checkBothCatalogue(tools);
  } else {
    check(`tools/list: exactly the real server's ${expected.tools.length} tools (names, descriptions, schemas, order)`);
    assert.deepEqual(tools, expected.tools);
  }

  check('GET /__calls logs the handshake');
  const handshake = (await (await fetch(callsUrl)).json()).methods.map((m) => m.method);
  assert.deepEqual(handshake, ['initialize', 'notifications/initialized', 'tools/list']);

  check('every tool answers with fields of its own');
  for (const tool of tools) {
    const out = await client.callTool({ name: tool.name, arguments: {} });
    assert.ok(!out.isError, `${tool.name} failed`);
    const resp = resultOf(out);
    assert.equal(resp.tool, tool.name);
    const own = Object.keys(resp).filter((k) => !['tool', 'ok', 'echo'].includes(k));
    assert.ok(own.length > 0, `${tool.name} answers only the generic echo`);
  }
  assert.equal((await fetch(callsUrl, { method: 'DELETE' })).status, 204);

  check('tools/call get_server_status or connection_state');
  const [readName, readArgs] = mode === 'evolution' ? ['connection_state', { instance: 'x' }] : ['get_server_status', {}];
  const status = await client.callTool({ name: readName, arguments: readArgs });
  assert.ok(!status.isError);
  assert.equal(resultOf(status).tool, readName);

  const [name, args] = expected.call;
  check(`tools/call ${name}`);
  const out = await client.callTool({ name, arguments: args });
  assert.ok(!out.isError);
  const resp = resultOf(out);
  assert.equal(resp.tool, name);
  assert.deepEqual(resp.echo, args);

  check('hooks: __fail error, __sleep_ms');
  const failed = await client.callTool({ name: readName, arguments: { ...readArgs, __fail: 'error' } });
  assert.equal(failed.isError, true);
  assert.equal(failed.content[0].text, 'Error: AFIP API 500: simulated');
  const started = Date.now();
  await client.callTool({ name: readName, arguments: { ...readArgs, __sleep_ms: 200 } });
  assert.ok(Date.now() - started >= 190, '__sleep_ms waited');

  if (expected.foreign) {
    check(`tools/call ${expected.foreign} (the other server's tool): Unknown tool`);
    const foreign = await client.callTool({ name: expected.foreign, arguments: {} });
    assert.equal(foreign.isError, true);
    assert.equal(foreign.content[0].text, `Unknown tool: ${expected.foreign}`);
  }

  check('GET /__calls shows the calls');
  const log = await (await fetch(callsUrl)).json();
  const names = [readName, name, readName, readName, ...(expected.foreign ? [expected.foreign] : [])];
  assert.deepEqual(log.calls.map((c) => c.name), names);
  assert.deepEqual(log.calls[1].arguments, args);
  for (const c of log.calls) {
    assert.equal(c.session_id, transport.sessionId);
    assert.equal(c.headers['mcp-session-id'], transport.sessionId);
  }
  assert.ok(log.methods.every((m) => m.method === 'tools/call'), 'methods log has the calls only');

  check(`GET /__calls?name=${name}`);
  const filtered = await (await fetch(`${callsUrl}?name=${name}`)).json();
  assert.deepEqual(filtered.calls.map((c) => c.name), [name]);

  check('DELETE /mcp ends the session');
  await transport.terminateSession();
  await client.close();
}

main().then(
  () => {
    console.log('selftest: OK');
    process.exit(0);
  },
  (err) => {
    console.error(`selftest: FAILED at "${step}": ${err?.stack ?? err}`);
    process.exit(1);
  },
);
