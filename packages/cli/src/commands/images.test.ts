import { describe, expect, it } from 'vitest';
import type { ImagesView } from '@uplink/contracts';
import { fetchAllPages } from '../pages.js';
import { mergeImagePages } from './images.js';

const d = (c: string) => 'sha256:' + c.repeat(64);
const page = (images: ImagesView['images'], sites: string[], nextCursor?: string): ImagesView => ({
  images,
  sites: sites.map((name) => ({ name, inventoryKnown: true, images: 0, missing: [] })),
  generatedAt: '2026-01-01T00:00:00.000Z',
  ...(nextCursor ? { nextCursor } : {}),
});

describe('uplink images', () => {
  it('merges the pages of a walk into one report', () => {
    const merged = mergeImagePages([
      page([{ repository: 'app/web', digest: d('a'), tags: ['1.0'], sites: ['a'], desiredBy: ['a'], missingAt: [] }], ['a'], 'c1'),
      page(
        [
          { repository: 'app/db', digest: d('b'), tags: [], sites: [], desiredBy: ['b'], missingAt: ['b'] },
          { repository: 'app/web', digest: d('a'), tags: ['0.9', '1.0'], sites: ['c'], desiredBy: ['b'], missingAt: ['b'] },
        ],
        ['b', 'c'],
      ),
    ]);
    expect(merged).toEqual({
      images: [
        { repository: 'app/db', digest: d('b'), tags: [], sites: [], desiredBy: ['b'], missingAt: ['b'] },
        { repository: 'app/web', digest: d('a'), tags: ['0.9', '1.0'], sites: ['a', 'c'], desiredBy: ['a', 'b'], missingAt: ['b'] },
      ],
      sites: ['a', 'b', 'c'].map((name) => ({ name, inventoryKnown: true, images: 0, missing: [] })),
      generatedAt: '2026-01-01T00:00:00.000Z',
    });
  });

  it('fetches page after page until one has no nextCursor, and stops on a gateway that goes nowhere', async () => {
    const asked: (string | undefined)[] = [];
    const pages = await fetchAllPages(async (cursor) => {
      asked.push(cursor);
      return cursor === undefined ? page([], ['a'], 'c1') : cursor === 'c1' ? page([], ['b'], 'c2') : page([], ['c']);
    });
    expect(asked).toEqual([undefined, 'c1', 'c2']);
    expect(pages.flatMap((p) => p.sites.map((s) => s.name))).toEqual(['a', 'b', 'c']);
    await expect(fetchAllPages(async () => page([], ['a'], 'same'), 'same')).rejects.toThrow(/same cursor twice/);
  });
});
