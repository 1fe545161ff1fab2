// Deterministic fake results for the tools of the double. The same tool name and
// arguments always give the same result (no clocks, no counters, no randomness).
// Every tool of both real catalogues has its own fields (EXTRAS).

/** JSON with object keys sorted, so argument order does not change the hash. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** 32-bit FNV-1a of a string. */
function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Stable number in [0, 10^13) derived from the tool name and its arguments. */
export const fingerprint = (name, args) => fnv1a(`${name}\n${canonical(args ?? {})}`) * 1000 + (fnv1a(canonical(args ?? {})) % 1000);

/** Fake CAE: "7" followed by 13 zero-padded digits (14 digits, like a real CAE). */
export const fakeCae = (name, args) => `7${String(fingerprint(name, args) % 1e13).padStart(13, '0')}`;

const messageId = (name, args) => `3EB0${fingerprint(name, args).toString(16).toUpperCase().padStart(12, '0')}`;

const jid = (number) => `${number ?? ''}@s.whatsapp.net`;

const list = (value) => (Array.isArray(value) ? value : []);

const sent = (a, n) => ({ key: { remoteJid: jid(a.number), fromMe: true, id: messageId(n, a) }, status: 'PENDING' });

const CAE_EXPIRATION = '20991231';

/** Extra fields per tool, merged into `{tool, ok, echo}`. */
const EXTRAS = {
  create_invoice: (a, n) => ({ result: 'A', cae: fakeCae(n, a), cae_expiration: CAE_EXPIRATION, invoice_number: 1 + (fingerprint(n, a) % 9999) }),
  create_invoice_batch: (a, n) => ({
    result: 'A',
    invoices: list(a.invoices).map((inv) => ({
      invoice_number: inv?.invoice_number ?? null,
      result: 'A',
      cae: fakeCae(n, inv),
      cae_expiration: CAE_EXPIRATION,
    })),
  }),
  create_credit_note: (a, n) => ({ result: 'A', cae: fakeCae(n, a), cae_expiration: CAE_EXPIRATION }),
  create_debit_note: (a, n) => ({ result: 'A', cae: fakeCae(n, a), cae_expiration: CAE_EXPIRATION }),
  get_invoice: (a) => ({ invoice: { ...a, result: 'A', cae: fakeCae('create_invoice', a) } }),
  get_cae_status: (a) => ({ status: 'A', cae: fakeCae('create_invoice', a) }),
  get_last_invoice_number: (a, n) => ({ last_invoice_number: fingerprint(n, a) % 1000 }),
  cancel_invoice: () => ({ result: 'A', cancelled: true }),
  get_currency_rate: (a) => ({ currency: a.currency ?? null, date: a.date ?? '20240102', rate: a.currency === 'PES' ? 1 : 850.5 }),
  lookup_taxpayer: (a) => ({ cuit: a.cuit ?? null, scope: a.scope ?? 'A5', name: `TAXPAYER ${a.cuit ?? ''}`.trim(), status: 'ACTIVO' }),
  get_registration_certificate: (a) => ({ cuit: a.cuit ?? null, certificate: `CONSTANCIA-${a.cuit ?? ''}` }),
  get_server_status: () => ({ AppServer: 'OK', DbServer: 'OK', AuthServer: 'OK' }),
  get_authorized_points_of_sale: () => ({ points_of_sale: [{ number: 1, blocked: 'N' }, { number: 2, blocked: 'N' }] }),
  get_invoice_total_x_request: () => ({ max_records: 250 }),
  list_invoice_types: () => ({ types: [{ id: 1, name: 'Factura A' }, { id: 6, name: 'Factura B' }, { id: 11, name: 'Factura C' }] }),
  list_tax_types: () => ({ types: [{ id: 1, name: 'Impuestos nacionales' }, { id: 2, name: 'Impuestos provinciales' }] }),
  list_concept_types: () => ({ types: [{ id: 1, name: 'Productos' }, { id: 2, name: 'Servicios' }, { id: 3, name: 'Productos y Servicios' }] }),
  list_doc_types: () => ({ types: [{ id: 80, name: 'CUIT' }, { id: 86, name: 'CUIL' }, { id: 96, name: 'DNI' }, { id: 99, name: 'Consumidor Final' }] }),
  list_iva_types: () => ({ types: [{ id: 3, rate: 0 }, { id: 4, rate: 10.5 }, { id: 5, rate: 21 }, { id: 6, rate: 27 }] }),
  list_currency_types: () => ({ types: [{ id: 'PES', name: 'Pesos Argentinos' }, { id: 'DOL', name: 'Dolar Estadounidense' }] }),

  send_text: sent,
  send_image: sent,
  send_document: sent,
  send_poll: sent,
  get_instances: () => ({ instances: [{ name: 'default', connectionStatus: 'open' }] }),
  create_instance: (a) => ({ instance: { instanceName: a.instanceName ?? null, status: 'created' }, qrcode: a.qrcode === false ? null : 'data:image/png;base64,AAAA' }),
  logout_instance: () => ({ status: 'SUCCESS', error: false, response: { message: 'Instance logged out' } }),
  restart_instance: (a) => ({ instance: { instanceName: a.instance ?? null, state: 'connecting' } }),
  delete_instance: () => ({ status: 'SUCCESS', error: false, response: { message: 'Instance deleted' } }),
  connection_state: (a) => ({ instance: { instanceName: a.instance ?? null, state: 'open' } }),
  check_number: (a) => ({ results: list(a.numbers).map((x) => ({ number: x, exists: true, jid: jid(x) })) }),
  create_group: (a, n) => ({ groupJid: `1203630${String(fingerprint(n, a)).padStart(13, '0')}@g.us`, subject: a.subject ?? null }),
  fetch_group_invite_code: (a, n) => ({ inviteCode: `INV${fingerprint(n, a).toString(36).toUpperCase()}` }),
  get_qrcode: (a, n) => ({ pairingCode: messageId(n, a).slice(-8), code: 'data:image/png;base64,AAAA', count: 1 }),
  get_contacts: (a) => ({ contacts: [{ id: jid('5491100000001'), pushName: `Contact of ${a.instance ?? ''}`.trim() }] }),
  get_messages: (a) => ({ messages: { total: 0, records: [], remoteJid: a.remoteJid ?? null, limit: a.limit ?? 20 } }),
  get_chat_history: (a) => ({ messages: { total: 0, records: [], remoteJid: a.remoteJid ?? null, offset: a.offset ?? 0 } }),
  get_group_info: (a) => ({ id: a.groupJid ?? null, subject: 'Group', size: 2, participants: [{ id: jid('5491100000001'), admin: 'superadmin' }] }),
  leave_group: (a) => ({ groupJid: a.groupJid ?? null, leave: true }),
  update_group_participants: (a) => ({
    updateParticipants: list(a.participants).map((p) => ({ jid: jid(p), action: a.action ?? null, status: '200' })),
  }),
  update_profile: (a) => ({ updated: ['name', 'status', 'picture'].filter((field) => a[field] !== undefined) }),
  set_presence: (a) => ({ presence: a.presence ?? null, number: a.number ?? null }),
  mark_message_as_read: (a) => ({ message: 'Read messages', read: 'success', count: list(a.readMessages).length }),
  archive_chat: (a) => ({ chatId: a.remoteJid ?? null, archived: a.archive === true }),
  delete_message: (a) => ({ deleted: true, id: a.id ?? null, remoteJid: a.remoteJid ?? null }),
};

/**
 * The fake response object for a tool of the catalogue:
 * `{tool, ok: true, echo: <arguments>, ...tool-specific fields}`.
 */
export function fakeResponse(name, args) {
  const echo = args ?? {};
  const extra = EXTRAS[name]?.(echo, name) ?? {};
  return { tool: name, ok: true, echo, ...extra };
}

/** A successful CallToolResult, shaped like the real server's: pretty-printed JSON text. */
export const textResult = (resp) => ({ content: [{ type: 'text', text: JSON.stringify(resp, null, 2) }] });

/** A failed CallToolResult (`isError: true`), like the real server's error path. */
export const errorResult = (text) => ({ content: [{ type: 'text', text }], isError: true });
