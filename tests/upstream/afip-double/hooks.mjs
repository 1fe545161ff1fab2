// Test hooks carried in tools/call arguments (for gateway refund/timeout tests):
//   "__fail": "error"   -> isError result "Error: AFIP API 500: simulated"
//   "__fail": "http500" -> HTTP 500 with a JSON-RPC error body; the tool is not run
//   "__fail": "jsonrpc" -> JSON-RPC error response (McpError)
//   "__sleep_ms": N     -> wait N ms before answering (capped at MAX_SLEEP_MS)

export const MAX_SLEEP_MS = 600_000;

/** The arguments object of a tools/call message ({} if absent). */
export const argsOf = (msg) => (msg?.params?.arguments && typeof msg.params.arguments === 'object' ? msg.params.arguments : {});

/** The `__fail` mode of a tools/call's arguments, or undefined. */
export const failModeOf = (args) => (typeof args?.__fail === 'string' ? args.__fail : undefined);

/** The `__sleep_ms` delay of a tools/call's arguments (0 when absent or invalid). */
export function sleepMsOf(args) {
  const ms = Number(args?.__sleep_ms);
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_SLEEP_MS) : 0;
}

/** Resolves after `ms`, or early when `signal` aborts (request cancelled or session closed). */
export function sleep(ms, signal) {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The first tools/call message of a POST body whose arguments ask for an HTTP 500. */
export function http500Request(messages) {
  return messages.find((m) => m?.method === 'tools/call' && failModeOf(argsOf(m)) === 'http500');
}
