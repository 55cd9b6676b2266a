#!/usr/bin/env node
// `pnpm bench <name> [args]`: runs bench/<name>.ts, which prints one JSON line and writes
// bench/results/<name>.json.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [name, ...args] = process.argv.slice(2);
const benches = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
if (!name || !existsSync(join(root, 'bench', `${name}.ts`))) {
  console.error(`usage: pnpm bench <name> [args]; benches: ${benches.join(', ')}`);
  process.exit(2);
}
const tsx = createRequire(import.meta.url).resolve('tsx');
const r = spawnSync(process.execPath, ['--conditions=uplink-source', '--import', tsx, join(root, 'bench', `${name}.ts`), ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
