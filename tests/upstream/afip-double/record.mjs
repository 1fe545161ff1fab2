// In-memory log of what the double received, for tests to inspect via /__calls.
//   calls:   every tools/call received on POST /mcp, recorded before it is run
//   methods: every JSON-RPC method (requests and notifications) received on POST /mcp

let calls = [];
let methods = [];
let callSeq = 0;
let methodSeq = 0;

/** Copies the request headers (Node already lowercases the names). */
const copyHeaders = (headers) => Object.fromEntries(Object.entries(headers ?? {}));

/** The JSON-RPC messages in a POST body: one message, or the elements of a batch. */
export const messagesOf = (body) => (Array.isArray(body) ? body : body && typeof body === 'object' ? [body] : []);

/**
 * Records each message of a POST body that carries a `method`, and each `tools/call`.
 * `sessionId` is the request's mcp-session-id header (null if absent).
 */
export function recordPost(body, sessionId, headers) {
  const time_ms = Date.now();
  const session_id = sessionId ?? null;
  for (const msg of messagesOf(body)) {
    if (!msg || typeof msg !== 'object' || typeof msg.method !== 'string') continue;
    methods.push({ seq: ++methodSeq, time_ms, session_id, method: msg.method, id: msg.id ?? null });
    if (msg.method === 'tools/call') {
      calls.push({
        seq: ++callSeq,
        time_ms,
        session_id,
        name: msg.params?.name ?? null,
        arguments: msg.params?.arguments ?? {},
        headers: copyHeaders(headers),
      });
    }
  }
}

/** `{calls, methods}`; `name` filters calls by tool name, `method` filters methods. */
export function snapshot({ name, method } = {}) {
  return {
    calls: name === undefined ? calls : calls.filter((c) => c.name === name),
    methods: method === undefined ? methods : methods.filter((m) => m.method === method),
  };
}

/** Empties both logs and restarts their sequence numbers at 1. */
export function clearRecords() {
  calls = [];
  methods = [];
  callSeq = 0;
  methodSeq = 0;
}
