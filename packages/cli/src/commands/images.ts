// `uplink images`: which sites hold which images, and what each site is missing; one page of sites at a
// time (--limit, --cursor), or every page merged into one report (--all).
import type { Command } from 'commander';
import { IMAGES_PAGE_MAX, type ImagesView } from '@uplink/contracts';
import { api, resolveTarget, type TargetFlags } from '../api.js';
import { CliError } from '../errors.js';
import { printJson, printTable } from '../output.js';
import { fetchAllPages } from '../pages.js';

const short = (digest: string) => digest.slice(0, 19);
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Pages of a walk, in order, as one report: the pages cover disjoint runs of sites in name order, so
 * each image's site lists are its lists of every page, one after the other.
 */
export function mergeImagePages(pages: ImagesView[]): ImagesView {
  const images = new Map<string, ImagesView['images'][number]>();
  for (const img of pages.flatMap((p) => p.images)) {
    const key = `${img.repository}@${img.digest}`;
    const seen = images.get(key);
    if (!seen) {
      images.set(key, { ...img, tags: [...img.tags], sites: [...img.sites], desiredBy: [...img.desiredBy], missingAt: [...img.missingAt] });
      continue;
    }
    seen.tags = [...new Set([...seen.tags, ...img.tags])].sort();
    seen.sites.push(...img.sites);
    seen.desiredBy.push(...img.desiredBy);
    seen.missingAt.push(...img.missingAt);
  }
  return {
    images: [...images.values()].sort((a, b) => byString(a.repository, b.repository) || byString(a.digest, b.digest)),
    sites: pages.flatMap((p) => p.sites),
    generatedAt: pages.at(-1)?.generatedAt ?? new Date().toISOString(),
  };
}

function parseLimit(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > IMAGES_PAGE_MAX) throw new CliError(`--limit: give a number of sites from 1 to ${IMAGES_PAGE_MAX}`);
  return n;
}

export function imagesCommand(program: Command, flags: () => TargetFlags): void {
  program
    .command('images')
    .description('images held by the sites, and which sites miss what their desired state names (a page of sites at a time)')
    .option('--missing', 'only images some site is missing')
    .option('--limit <n>', `sites per page (1..${IMAGES_PAGE_MAX}; the gateway's default is 100)`)
    .option('--cursor <cursor>', 'start at this page (the cursor printed after the previous one)')
    .option('--all', 'fetch every page and show one report for the whole fleet')
    .option('--json', 'print JSON')
    .action(async (o: { missing?: boolean; limit?: string; cursor?: string; all?: boolean; json?: boolean }) => {
      const target = resolveTarget(flags());
      const limit = o.limit === undefined ? undefined : parseLimit(o.limit);
      const fetchPage = (cursor: string | undefined) => {
        const q = new URLSearchParams();
        if (limit !== undefined) q.set('limit', String(limit));
        if (cursor !== undefined) q.set('cursor', cursor);
        const qs = q.toString();
        return api<ImagesView>(target, 'GET', `/v1/images${qs ? `?${qs}` : ''}`);
      };
      const view = o.all ? mergeImagePages(await fetchAllPages(fetchPage, o.cursor)) : await fetchPage(o.cursor);
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
      if (view.nextCursor !== undefined) {
        const first = view.sites[0]?.name;
        const last = view.sites.at(-1)?.name;
        process.stdout.write(
          `sites ${first} to ${last} only; next page: uplink images --cursor ${view.nextCursor}${limit === undefined ? '' : ` --limit ${limit}`} (or --all for the whole fleet)\n`,
        );
      }
    });
}
