// `uplink group …`: which images a group of sites should hold, and which sites are in it.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { PutGroupBody, type Group } from '@uplink/contracts';
import { api, resolveTarget, type TargetFlags } from '../api.js';
import { CliError } from '../errors.js';
import { printJson, printTable } from '../output.js';

type Artifact = { repository: string; tags?: string[]; digest?: string };

/** "repo:tag", "repo@sha256:…" or "repo:tag@sha256:…" -> artifact entries, tags of one repository merged. */
export function parseImageRefs(refs: string[]): Artifact[] {
  const byRepo = new Map<string, Artifact>();
  const out: Artifact[] = [];
  for (const ref of refs) {
    const m = /^([^:@]+(?:\/[^:@]+)*)(?::([^@]+))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(ref);
    if (!m || (!m[2] && !m[3])) throw new CliError(`--image ${JSON.stringify(ref)}: write it as repository:tag or repository@sha256:<digest>`);
    const [, repository, tag, digest] = m as unknown as [string, string, string | undefined, string | undefined];
    if (digest) {
      out.push({ repository, digest, ...(tag ? { tags: [tag] } : {}) });
      continue;
    }
    const existing = byRepo.get(repository);
    if (existing) existing.tags!.push(tag!);
    else {
      const a = { repository, tags: [tag!] };
      byRepo.set(repository, a);
      out.push(a);
    }
  }
  return out;
}

function groupRow(g: Group) {
  return {
    name: g.name,
    registry: g.registry,
    artifacts: g.artifacts.map((a) => a.repository + (a.tags ? ':' + a.tags.join(',') : '') + (a.digest ? '@' + a.digest.slice(0, 19) : '')),
    satellites: g.satellites,
  };
}

export function groupCommand(program: Command, flags: () => TargetFlags): void {
  const group = program.command('group').description('groups of images and the sites that hold them');

  group
    .command('put <name>')
    .description('create or replace a group')
    .option('--registry <url>', 'upstream registry, e.g. http://127.0.0.1:5000')
    .option('--image <ref...>', 'image as repository:tag or repository@sha256:<digest> (repeatable)')
    .option('--file <path>', 'JSON body {registry, artifacts:[{repository, tags?, digest?}]} instead of flags')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { registry?: string; image?: string[]; file?: string; json?: boolean }) => {
      let body: unknown;
      if (o.file) {
        try {
          body = JSON.parse(readFileSync(o.file, 'utf8'));
        } catch (err) {
          throw new CliError(`--file ${o.file}: ${(err as Error).message}`);
        }
      } else {
        if (!o.registry) throw new CliError('give --registry <url> (or --file)');
        body = { registry: o.registry, artifacts: parseImageRefs(o.image ?? []) };
      }
      const parsed = PutGroupBody.safeParse(body);
      if (!parsed.success) throw new CliError(`group ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const g = await api<Group & { affectedSatellites?: number }>(resolveTarget(flags()), 'PUT', `/v1/groups/${encodeURIComponent(name)}`, parsed.data);
      if (o.json) printJson(g);
      else process.stdout.write(`group ${g.name} saved: ${g.artifacts.length} artifact(s), ${g.satellites.length} satellite(s)\n`);
    });

  group
    .command('get <name>')
    .description('show a group')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const g = await api<Group>(resolveTarget(flags()), 'GET', `/v1/groups/${encodeURIComponent(name)}`);
      if (o.json) return printJson(g);
      printTable([groupRow(g)], ['name', 'registry', 'artifacts', 'satellites']);
      if (g.resolved.length) printTable(g.resolved.map((a) => ({ repository: a.repository, tag: a.tag, digest: a.digest })), ['repository', 'tag', 'digest']);
    });

  group
    .command('list')
    .description('list groups')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const gs = await api<Group[]>(resolveTarget(flags()), 'GET', '/v1/groups');
      if (o.json) printJson(gs);
      else printTable(gs.map(groupRow), ['name', 'registry', 'artifacts', 'satellites']);
    });

  group
    .command('delete <name>')
    .description('delete a group; its sites stop holding its images')
    .action(async (name: string) => {
      await api(resolveTarget(flags()), 'DELETE', `/v1/groups/${encodeURIComponent(name)}`);
      process.stdout.write(`group ${name} deleted\n`);
    });

  group
    .command('assign <group> <satellite>')
    .description('make a satellite hold the group\'s images')
    .action(async (g: string, sat: string) => {
      await api(resolveTarget(flags()), 'PUT', `/v1/groups/${encodeURIComponent(g)}/satellites/${encodeURIComponent(sat)}`);
      process.stdout.write(`satellite ${sat} assigned to group ${g}\n`);
    });

  group
    .command('unassign <group> <satellite>')
    .description('remove a satellite from a group')
    .action(async (g: string, sat: string) => {
      await api(resolveTarget(flags()), 'DELETE', `/v1/groups/${encodeURIComponent(g)}/satellites/${encodeURIComponent(sat)}`);
      process.stdout.write(`satellite ${sat} removed from group ${g}\n`);
    });
}
