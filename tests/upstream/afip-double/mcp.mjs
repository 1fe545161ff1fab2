// One low-level MCP `Server` (not McpServer) per session, serving a catalogue
// (catalogue.mjs) with deterministic fake results, like the real servers.

import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { errorResult, fakeResponse, textResult } from './results.mjs';
import { failModeOf, sleep, sleepMsOf } from './hooks.mjs';

/** Answers one tools/call of `catalogue` (after the optional __sleep_ms / __fail hooks). */
export async function callTool(catalogue, name, args, signal) {
  await sleep(sleepMsOf(args), signal);
  switch (failModeOf(args)) {
    case 'error':
      return errorResult('Error: AFIP API 500: simulated');
    case 'jsonrpc':
      throw new McpError(ErrorCode.InternalError, 'AFIP API 500: simulated');
    default:
      break;
  }
  return catalogue.has(name) ? textResult(fakeResponse(name, args)) : errorResult(`Unknown tool: ${name}`);
}

export function createMcpServer(catalogue) {
  const server = new Server(catalogue.serverInfo, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: catalogue.tools }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) =>
    callTool(catalogue, request.params.name, request.params.arguments ?? {}, extra?.signal),
  );
  return server;
}
