// Tool catalogue of the "Mcp Afip" test double: 20 AFIP tools + 25 Evolution API
// (WhatsApp) tools, as plain JSON Schema objects. No annotations, no outputSchema,
// like the real server. Facts: /work/shared/reference/mcp-afip-tools.md

const num = (description) => ({ type: 'number', description });
const str = (description) => ({ type: 'string', description });
const bool = (description) => ({ type: 'boolean', description });
const strArray = (description, extra = {}) => ({ type: 'array', description, items: { type: 'string' }, ...extra });

/** Builds `{type:"object", properties, required?}`; `required` is omitted when empty. */
function object(properties = {}, required = []) {
  const schema = { type: 'object', properties };
  if (required.length > 0) schema.required = required;
  return schema;
}

const tool = (name, description, inputSchema = object()) => ({ name, description, inputSchema });

// ---------------------------------------------------------------- AFIP (20)

const POS = num('Point of sale (punto de venta) number');
const INVOICE_TYPE = num('Invoice type code (1=A, 6=B, 11=C)');
const INVOICE_NUMBER = num('Invoice number');
const CONCEPT = num('Concept (1=Products, 2=Services, 3=Products and services)');
const DOC_TYPE = num('Customer document type (80=CUIT, 86=CUIL, 96=DNI, 99=Final consumer)');
const DOC_NUMBER = num('Customer document number');
const AMOUNT_TOTAL = num('Total amount');
const AMOUNT_NET = num('Net taxable amount');
const AMOUNT_IVA = num('IVA amount');
const CURRENCY = str('Currency code (PES=ARS, DOL=USD)');

const relatedInvoice = {
  ...object(
    {
      invoice_type: num('Type of the original invoice'),
      point_of_sale: num('Point of sale of the original invoice'),
      invoice_number: num('Number of the original invoice'),
    },
    ['invoice_type', 'point_of_sale', 'invoice_number'],
  ),
  description: 'Original invoice this note refers to',
};

const note = (noteTypeDescription) =>
  object(
    {
      point_of_sale: POS,
      note_type: num(noteTypeDescription),
      concept: CONCEPT,
      doc_type: DOC_TYPE,
      doc_number: DOC_NUMBER,
      amount_total: AMOUNT_TOTAL,
      amount_net: AMOUNT_NET,
      amount_iva: AMOUNT_IVA,
      currency: CURRENCY,
      related_invoice: relatedInvoice,
    },
    ['point_of_sale', 'note_type', 'concept', 'doc_type', 'doc_number', 'amount_total', 'related_invoice'],
  );

const invoiceRef = object(
  { point_of_sale: POS, invoice_type: INVOICE_TYPE, invoice_number: INVOICE_NUMBER },
  ['point_of_sale', 'invoice_type', 'invoice_number'],
);

export const AFIP_TOOLS = [
  tool(
    'create_invoice',
    'Create an electronic invoice (Factura Electronica) and obtain its CAE',
    object(
      {
        point_of_sale: POS,
        invoice_type: INVOICE_TYPE,
        concept: CONCEPT,
        doc_type: DOC_TYPE,
        doc_number: DOC_NUMBER,
        amount_total: AMOUNT_TOTAL,
        amount_net: AMOUNT_NET,
        amount_iva: AMOUNT_IVA,
        currency: CURRENCY,
        items: {
          type: 'array',
          description: 'Invoice line items',
          items: object(
            {
              description: str('Item description'),
              quantity: num('Quantity'),
              unit_price: num('Unit price'),
              iva_rate: num('IVA rate (21, 10.5, 27, 0)'),
            },
            ['description', 'quantity', 'unit_price'],
          ),
        },
      },
      ['point_of_sale', 'invoice_type', 'concept', 'doc_type', 'doc_number', 'amount_total'],
    ),
  ),
  tool('get_invoice', 'Get the details of an invoice', invoiceRef),
  tool(
    'get_last_invoice_number',
    'Get the last authorized invoice number for a point of sale and invoice type',
    object({ point_of_sale: POS, invoice_type: INVOICE_TYPE }, ['point_of_sale', 'invoice_type']),
  ),
  tool('get_cae_status', 'Check the CAE authorization status of an invoice', invoiceRef),
  tool(
    'create_invoice_batch',
    'Create up to 250 invoices in a single CAE request',
    object(
      {
        point_of_sale: POS,
        invoice_type: INVOICE_TYPE,
        invoices: {
          type: 'array',
          description: 'Invoices to authorize (max 250)',
          maxItems: 250,
          items: object(
            {
              concept: CONCEPT,
              doc_type: DOC_TYPE,
              doc_number: DOC_NUMBER,
              invoice_number: INVOICE_NUMBER,
              amount_total: AMOUNT_TOTAL,
              amount_net: AMOUNT_NET,
              amount_iva: AMOUNT_IVA,
              currency: CURRENCY,
            },
            ['concept', 'doc_type', 'doc_number', 'invoice_number', 'amount_total'],
          ),
        },
      },
      ['point_of_sale', 'invoice_type', 'invoices'],
    ),
  ),
  tool('create_credit_note', 'Issue a credit note (A/B/C) referencing an invoice', note('Credit note type (3=A, 8=B, 13=C)')),
  tool('create_debit_note', 'Issue a debit note (A/B/C) referencing an invoice', note('Debit note type (2=A, 7=B, 12=C)')),
  tool(
    'cancel_invoice',
    'Cancel (void) an authorized invoice',
    object({ ...invoiceRef.properties, reason: str('Cancellation reason') }, invoiceRef.required),
  ),
  tool(
    'get_currency_rate',
    'Get the exchange rate of a currency against ARS',
    object({ currency: str('Currency code (e.g. DOL)'), date: str('Date as YYYYMMDD (default: last business day)') }, [
      'currency',
    ]),
  ),
  tool(
    'lookup_taxpayer',
    'Look up a taxpayer in the AFIP registry (padron) by CUIT',
    object({ cuit: str('CUIT/CUIL (11 digits)'), scope: str('Registry scope: A4, A5 or A13 (default A5)') }, ['cuit']),
  ),
  tool(
    'get_registration_certificate',
    'Get the registration certificate (constancia de inscripcion) of a CUIT',
    object({ cuit: str('CUIT/CUIL (11 digits)') }, ['cuit']),
  ),
  tool('list_invoice_types', 'List invoice types (Factura A, B, C, ...)'),
  tool('list_tax_types', 'List tax types'),
  tool('get_server_status', 'Check AFIP web service availability'),
  tool('get_authorized_points_of_sale', 'List the authorized points of sale of the CUIT'),
  tool('get_invoice_total_x_request', 'Get the maximum number of records per CAE request'),
  tool('list_concept_types', 'List concept types (1=Products, 2=Services, 3=Both)'),
  tool('list_doc_types', 'List document types (80=CUIT, 86=CUIL, 96=DNI, 99=Final consumer)'),
  tool('list_iva_types', 'List IVA aliquots'),
  tool('list_currency_types', 'List supported currencies'),
];

// ------------------------------------------------------ Evolution API (25)

const INSTANCE = str('Instance name');
const NUMBER = str('Phone number with country code (e.g. 5511999999999)');
const REMOTE_JID = str('Chat JID (e.g. 5511999999999@s.whatsapp.net)');
const GROUP_JID = str('Group JID (e.g. 120363000000000000@g.us)');

/** Evolution tools take `instance*` plus their own fields. */
const withInstance = (properties = {}, required = []) =>
  object({ instance: INSTANCE, ...properties }, ['instance', ...required]);

export const EVOLUTION_TOOLS = [
  tool('send_text', 'Send a WhatsApp text message', withInstance({ number: NUMBER, text: str('Message text') }, ['number', 'text'])),
  tool(
    'send_image',
    'Send a WhatsApp image message',
    withInstance({ number: NUMBER, mediaUrl: str('Image URL'), caption: str('Caption') }, ['number', 'mediaUrl']),
  ),
  tool(
    'send_document',
    'Send a WhatsApp document',
    withInstance({ number: NUMBER, mediaUrl: str('Document URL'), fileName: str('File name'), caption: str('Caption') }, [
      'number',
      'mediaUrl',
    ]),
  ),
  tool('get_instances', 'List all WhatsApp instances'),
  tool(
    'create_instance',
    'Create a WhatsApp instance',
    object({ instanceName: str('Name of the new instance'), qrcode: bool('Generate a QR code on creation') }, ['instanceName']),
  ),
  tool('get_qrcode', 'Get the pairing QR code of an instance', withInstance()),
  tool('get_contacts', 'Get the contacts of an instance', withInstance()),
  tool('logout_instance', 'Logout an instance (disconnects the WhatsApp session without deleting the instance)', withInstance()),
  tool('restart_instance', 'Restart an instance', withInstance()),
  tool('delete_instance', 'Delete an instance permanently', withInstance()),
  tool('connection_state', 'Get the connection state of an instance', withInstance()),
  tool(
    'send_poll',
    'Send a WhatsApp poll',
    withInstance(
      {
        number: NUMBER,
        name: str('Poll question'),
        options: strArray('Poll options (max 12)', { maxItems: 12 }),
        selectableCount: num('How many options can be selected (0 = any)'),
      },
      ['number', 'name', 'options'],
    ),
  ),
  tool('get_messages', 'Get the messages of a chat', withInstance({ remoteJid: REMOTE_JID, limit: num('Number of messages') }, ['remoteJid'])),
  tool('check_number', 'Check whether phone numbers are on WhatsApp', withInstance({ numbers: strArray('Phone numbers to check') }, ['numbers'])),
  tool(
    'create_group',
    'Create a WhatsApp group',
    withInstance(
      { subject: str('Group subject'), participants: strArray('Phone numbers to add'), description: str('Group description') },
      ['subject', 'participants'],
    ),
  ),
  tool('get_group_info', 'Get the metadata and participants of a group', withInstance({ groupJid: GROUP_JID }, ['groupJid'])),
  tool('leave_group', 'Leave a WhatsApp group', withInstance({ groupJid: GROUP_JID }, ['groupJid'])),
  tool('fetch_group_invite_code', 'Fetch the invite code of a group', withInstance({ groupJid: GROUP_JID }, ['groupJid'])),
  tool(
    'update_profile',
    'Update the profile (name, status text, picture) of an instance',
    withInstance({ name: str('Profile name'), status: str('Status text'), picture: str('Profile picture URL') }),
  ),
  tool(
    'set_presence',
    'Set the presence of an instance',
    withInstance(
      {
        presence: { type: 'string', enum: ['available', 'unavailable', 'composing', 'recording', 'paused'], description: 'Presence state' },
        number: str('Target number (for composing/recording)'),
      },
      ['presence'],
    ),
  ),
  tool(
    'get_chat_history',
    'Get the chat history with pagination',
    withInstance(
      { remoteJid: REMOTE_JID, limit: num('Number of messages'), offset: num('Pagination offset'), fromMe: bool('Only messages sent by the instance') },
      ['remoteJid'],
    ),
  ),
  tool(
    'update_group_participants',
    'Add, remove, promote or demote group participants',
    withInstance(
      {
        groupJid: GROUP_JID,
        action: { type: 'string', enum: ['add', 'remove', 'promote', 'demote'], description: 'Action on the participants' },
        participants: strArray('Phone numbers of the participants'),
      },
      ['groupJid', 'action', 'participants'],
    ),
  ),
  tool(
    'mark_message_as_read',
    'Mark messages as read',
    withInstance(
      {
        readMessages: {
          type: 'array',
          description: 'Messages to mark as read',
          items: object(
            { remoteJid: str('Chat JID'), fromMe: bool('Whether the instance sent the message'), id: str('Message ID') },
            ['remoteJid', 'fromMe', 'id'],
          ),
        },
      },
      ['readMessages'],
    ),
  ),
  tool(
    'archive_chat',
    'Archive or unarchive a chat',
    withInstance(
      {
        remoteJid: REMOTE_JID,
        archive: bool('true to archive, false to unarchive'),
        lastMessage: { type: 'object', description: 'Key of the last message (optional)' },
      },
      ['remoteJid', 'archive'],
    ),
  ),
  tool(
    'delete_message',
    'Delete a message (for me or for everyone)',
    withInstance(
      {
        remoteJid: REMOTE_JID,
        id: str('Message ID'),
        fromMe: bool('Whether the instance sent the message'),
        participant: str('Participant JID (group messages)'),
      },
      ['remoteJid', 'id', 'fromMe'],
    ),
  ),
];

/** All 45 tools, AFIP first, in the order of the reference table. */
export const TOOLS = [...AFIP_TOOLS, ...EVOLUTION_TOOLS];

export const TOOL_NAMES = TOOLS.map((t) => t.name);

export const findTool = (name) => TOOLS.find((t) => t.name === name);
