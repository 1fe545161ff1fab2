#!/usr/bin/env node
// Self-test of a running afip-double (starts nothing itself).
// Usage: node selftest.mjs http://127.0.0.1:PORT/mcp
// Exits 0 when every check passes, 1 otherwise.

import assert from 'node:assert/strict';
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

const url = process.argv[2];
if (!url) {
  console.error('usage: node selftest.mjs http://127.0.0.1:PORT/mcp');
  process.exit(2);
}
const base = new URL(url);
const callsUrl = new URL('/__calls', base);

let step = 'start';
const check = (name) => {
  step = name;
  console.log(`- ${name}`);
};

async function main() {
  check('DELETE /__calls');
  assert.equal((await fetch(callsUrl, { method: 'DELETE' })).status, 204);

  check('initialize');
  const client = new Client({ name: 'afip-double-selftest', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(base);
  await client.connect(transport);
  assert.equal(client.getServerVersion()?.name, 'mcp-afip');
  assert.ok(transport.sessionId, 'server issued an mcp-session-id');

  check('tools/list: 45 tools, every reference name present');
  const { tools } = await client.listTools();
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

  check('tools/call get_server_status');
  const status = await client.callTool({ name: 'get_server_status', arguments: {} });
  assert.ok(!status.isError);
  assert.equal(JSON.parse(status.content[0].text).tool, 'get_server_status');

  check('tools/call logout_instance {instance:"x"}');
  const out = await client.callTool({ name: 'logout_instance', arguments: { instance: 'x' } });
  assert.ok(!out.isError);
  const resp = JSON.parse(out.content[0].text);
  assert.equal(resp.tool, 'logout_instance');
  assert.deepEqual(resp.echo, { instance: 'x' });

  check('GET /__calls shows both calls');
  const log = await (await fetch(callsUrl)).json();
  assert.deepEqual(log.calls.map((c) => c.name), ['get_server_status', 'logout_instance']);
  assert.deepEqual(log.calls[1].arguments, { instance: 'x' });
  for (const c of log.calls) {
    assert.equal(c.session_id, transport.sessionId);
    assert.equal(c.headers['mcp-session-id'], transport.sessionId);
  }
  const methods = log.methods.map((m) => m.method);
  for (const m of ['initialize', 'notifications/initialized', 'tools/list', 'tools/call']) {
    assert.ok(methods.includes(m), `methods log has ${m}`);
  }

  check('GET /__calls?name=logout_instance');
  const filtered = await (await fetch(`${callsUrl}?name=logout_instance`)).json();
  assert.deepEqual(filtered.calls.map((c) => c.name), ['logout_instance']);

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
