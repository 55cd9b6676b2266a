#!/usr/bin/env node
// Runs the CLI from its TypeScript sources (the workspace's `uplink-source` export condition).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const tsx = require.resolve('tsx');
const child = spawn(
  process.execPath,
  ['--conditions=uplink-source', '--import', tsx, join(here, '..', 'src', 'main.ts'), ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
