// What a stored manifest reaches: itself, the manifests of an index, and their configs and layers.
import { blobsOf, parseManifest, type ParsedManifest } from './manifest.js';
import type { ContentStore } from './store.js';

/**
 * Digests reachable from a stored manifest, the manifest first. Digests already in `seen` are skipped
 * (and the new ones added to it), so one set can span several roots. A manifest missing from the store
 * or unparseable ends its branch.
 */
export async function storedTree(store: Pick<ContentStore, 'getManifest'>, repository: string, digest: string, seen = new Set<string>()): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    if (seen.has(d)) return;
    seen.add(d);
    out.push(d);
    let p: ParsedManifest;
    try {
      const m = await store.getManifest(repository, d);
      p = parseManifest(m.bytes, m.mediaType);
    } catch {
      return;
    }
    for (const c of p.manifests) await walk(c.digest);
    for (const b of blobsOf(p)) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      out.push(b.digest);
    }
  };
  await walk(digest);
  return out;
}
