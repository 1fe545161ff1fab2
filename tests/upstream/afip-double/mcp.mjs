// One low-level MCP `Server` (not McpServer) per session, serving the tool catalogue
// with deterministic fake results, like the real "Mcp Afip" server.

import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { TOOLS } from './tools.mjs';
import { errorResult, fakeResponse, textResult } from './results.mjs';
import { failModeOf, sleep, sleepMsOf } from './hooks.mjs';

export const SERVER_INFO = { name: 'mcp-afip', version: '0.2.0-alpha.2' };

/** Answers one tools/call (after the optional __sleep_ms / __fail hooks). */
export async function callTool(name, args, signal) {
  await sleep(sleepMsOf(args), signal);
  switch (failModeOf(args)) {
    case 'error':
      return errorResult('Error: AFIP API 500: simulated');
    case 'jsonrpc':
      throw new McpError(ErrorCode.InternalError, 'AFIP API 500: simulated');
    default:
      break;
  }
  const resp = fakeResponse(name, args);
  return resp === undefined ? errorResult(`Unknown tool: ${name}`) : textResult(resp);
}

export function createMcpServer() {
  const server = new Server(SERVER_INFO, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) =>
    callTool(request.params.name, request.params.arguments ?? {}, extra?.signal),
  );
  return server;
}
