// Which tools the double serves, and as which server:
//   both       the double's merged 45 tools (tools.mjs), as "mcp-afip" (the default)
//   afip       the real Mcp Afip's 20 invoicing tools, verbatim from its tools/list
//   evolution  the real Evolution API's 25 WhatsApp tools, verbatim from its tools/list
// The real responses are tests/fixtures/servers/*.tools-list.json (see the README there).

import { readFileSync } from 'node:fs';
import { TOOLS } from './tools.mjs';

const SERVERS = new URL('../../fixtures/servers/', import.meta.url);

/** The tools of a saved tools/list response, as the server sent them. */
const realTools = (file) => JSON.parse(readFileSync(new URL(file, SERVERS), 'utf8')).result.tools;

const CATALOGUES = {
  both: () => ({ serverInfo: { name: 'mcp-afip', version: '0.2.0-alpha.2' }, tools: TOOLS }),
  afip: () => ({
    serverInfo: { name: 'mcp-afip', version: '0.2.0-alpha.2' },
    tools: realTools('mcp-afip.tools-list.json'),
  }),
  evolution: () => ({
    serverInfo: { name: 'mcp-evolution-api', version: '0.2.1' },
    tools: realTools('evolution-api.tools-list.json'),
  }),
};

export const CATALOGUE_NAMES = Object.keys(CATALOGUES);

/** `{name, serverInfo, tools, has(toolName)}` for a catalogue name; throws on an unknown one. */
export function loadCatalogue(name) {
  const make = CATALOGUES[name];
  if (!make) throw new Error(`unknown catalogue ${JSON.stringify(name)}: expected ${CATALOGUE_NAMES.join(', ')}`);
  const { serverInfo, tools } = make();
  const names = new Set(tools.map((t) => t.name));
  return { name, serverInfo, tools, has: (tool) => names.has(tool) };
}
