// Which sites hold which images and which are missing what their desired state names. Pure.
import type { ImagesView } from '@uplink/contracts';

export interface SiteImages {
  name: string;
  /** the site's newest full inventory; null until a heartbeat carried one */
  inventory: { repository: string; digest: string; tag?: string | undefined }[] | null;
  /** artifacts of its desired state (empty without one) */
  desired: { repository: string; digest: string; tag?: string | undefined }[];
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function imagesReport(sites: SiteImages[], nowMs: number): ImagesView {
  interface Entry { repository: string; digest: string; tags: Set<string>; sites: string[]; desiredBy: string[]; missingAt: string[] }
  const images = new Map<string, Entry>();
  const entry = (repository: string, digest: string) => {
    const key = `${repository}@${digest}`;
    let e = images.get(key);
    if (!e) images.set(key, (e = { repository, digest, tags: new Set(), sites: [], desiredBy: [], missingAt: [] }));
    return e;
  };
  const out: ImagesView['sites'] = [];
  for (const site of [...sites].sort((a, b) => byString(a.name, b.name))) {
    const held = new Set<string>();
    for (const img of site.inventory ?? []) {
      const key = `${img.repository}@${img.digest}`;
      const e = entry(img.repository, img.digest);
      if (img.tag) e.tags.add(img.tag);
      if (!held.has(key)) e.sites.push(site.name);
      held.add(key);
    }
    const missing: ImagesView['sites'][number]['missing'] = [];
    const wanted = new Set<string>();
    for (const a of site.desired) {
      const key = `${a.repository}@${a.digest}`;
      if (wanted.has(key)) continue;
      wanted.add(key);
      const e = entry(a.repository, a.digest);
      if (a.tag) e.tags.add(a.tag);
      e.desiredBy.push(site.name);
      if (!held.has(key)) {
        e.missingAt.push(site.name);
        missing.push({ repository: a.repository, digest: a.digest, ...(a.tag ? { tag: a.tag } : {}) });
      }
    }
    out.push({ name: site.name, inventoryKnown: site.inventory !== null, images: held.size, missing });
  }
  return {
    images: [...images.values()]
      .sort((a, b) => byString(a.repository, b.repository) || byString(a.digest, b.digest))
      .map((e) => ({ repository: e.repository, digest: e.digest, tags: [...e.tags].sort(), sites: e.sites, desiredBy: e.desiredBy, missingAt: e.missingAt })),
    sites: out,
    generatedAt: new Date(nowMs).toISOString(),
  };
}
