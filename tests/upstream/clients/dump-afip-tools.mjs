#!/usr/bin/env node
// Regenerates tests/upstream/afip-tools.json from the afip-double's catalogue
// (tests/upstream/afip-double/tools.mjs), so the Python upstreams serve the
// same 45 tools with the same schemas. Run from anywhere:
//   node tests/upstream/clients/dump-afip-tools.mjs
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOOLS } from '../afip-double/tools.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'afip-tools.json');
writeFileSync(out, `${JSON.stringify(TOOLS, null, 2)}\n`);
process.stdout.write(`wrote ${TOOLS.length} tools to ${out}\n`);
