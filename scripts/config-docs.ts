// Renders the environment variables of every service from their zod schemas into the README,
// between the config-reference markers. `pnpm config-docs` rewrites; `--check` fails when stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { envSchemas } from '@uplink/contracts';

function describe(schema: z.ZodType): { type: string; def: string; required: boolean; doc: string } {
  let s: z.ZodType = schema;
  let def = '';
  let required = true;
  const doc = schema.description ?? '';
  for (;;) {
    const d = (s as unknown as { def: { type: string; innerType?: z.ZodType; defaultValue?: unknown; in?: z.ZodType } }).def;
    if (d.type === 'default') {
      required = false;
      const v = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
      def = JSON.stringify(v);
      s = d.innerType!;
    } else if (d.type === 'optional') {
      required = false;
      s = d.innerType!;
    } else if (d.type === 'pipe') {
      s = d.in!;
    } else break;
  }
  const d = (s as unknown as { def: { type: string; entries?: Record<string, string> } }).def;
  const type = d.type === 'enum' ? Object.keys(d.entries ?? {}).join(' \\| ') : d.type;
  return { type, def, required, doc: doc || s.description || '' };
}

let out = '';
for (const [service, schema] of Object.entries(envSchemas)) {
  out += `\n**${service}**\n\n| variable | type | default | |\n|---|---|---|---|\n`;
  for (const [key, field] of Object.entries((schema as z.ZodObject).shape)) {
    const f = describe(field as z.ZodType);
    out += `| \`${key}\` | ${f.type} | ${f.required ? '**required**' : f.def ? `\`${f.def}\`` : '—'} | ${f.doc} |\n`;
  }
}
const begin = '<!-- config-reference:begin -->';
const end = '<!-- config-reference:end -->';
const readme = readFileSync('README.md', 'utf8');
const i = readme.indexOf(begin);
const j = readme.indexOf(end);
if (i < 0 || j < 0) throw new Error('README.md lacks the config-reference markers');
const next = readme.slice(0, i + begin.length) + '\n' + out + '\n' + readme.slice(j);
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README configuration reference is stale: run `pnpm config-docs`');
    process.exit(1);
  }
} else writeFileSync('README.md', next);
