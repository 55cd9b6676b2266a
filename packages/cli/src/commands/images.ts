// `uplink images`: which sites hold which images, and what each site is missing.
import type { Command } from 'commander';
import type { ImagesView } from '@uplink/contracts';
import { api, resolveTarget, type TargetFlags } from '../api.js';
import { printJson, printTable } from '../output.js';

const short = (digest: string) => digest.slice(0, 19);

export function imagesCommand(program: Command, flags: () => TargetFlags): void {
  program
    .command('images')
    .description('images held by the sites, and which sites miss what their desired state names')
    .option('--missing', 'only images some site is missing')
    .option('--json', 'print JSON')
    .action(async (o: { missing?: boolean; json?: boolean }) => {
      const view = await api<ImagesView>(resolveTarget(flags()), 'GET', '/v1/images');
      if (o.json) return printJson(view);
      const images = o.missing ? view.images.filter((i) => i.missingAt.length > 0) : view.images;
      printTable(
        images.map((i) => ({
          repository: i.repository,
          digest: short(i.digest),
          tags: i.tags,
          held: `${i.sites.length}`,
          desired: `${i.desiredBy.length}`,
          missing: i.missingAt.length > 5 ? `${i.missingAt.slice(0, 5).join(',')},… (${i.missingAt.length})` : i.missingAt,
        })),
        ['repository', 'digest', 'tags', 'held', 'desired', 'missing'],
      );
      const unknown = view.sites.filter((s) => !s.inventoryKnown).map((s) => s.name);
      if (unknown.length > 0) process.stdout.write(`inventory not reported yet: ${unknown.join(', ')}\n`);
    });
}
