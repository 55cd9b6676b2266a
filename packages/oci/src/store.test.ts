import { randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { tempDir } from '@uplink/testkit';
import { openContentStore, type ContentStore } from './store.js';
import { sha256Digest } from './digest.js';
import { MediaType } from './manifest.js';
import { storedTree } from './tree.js';

async function blob(store: ContentStore, bytes: Buffer = randomBytes(512)) {
  const digest = sha256Digest(bytes);
  await store.putBlob([bytes], digest);
  return { digest, size: bytes.length, bytes };
}

/** an image manifest over fresh random blobs; `subject` makes it a referrer */
async function image(store: ContentStore, o: { subject?: { digest: string; size: number }; artifactType?: string; layers?: number } = {}) {
  const config = await blob(store, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rnd: randomBytes(8).toString('hex') })));
  const layers = [];
  for (let i = 0; i < (o.layers ?? 1); i++) layers.push(await blob(store));
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    ...(o.artifactType ? { artifactType: o.artifactType } : {}),
    config: { mediaType: MediaType.OCI_CONFIG, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
    ...(o.subject ? { subject: { mediaType: MediaType.OCI_MANIFEST, ...o.subject } } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { bytes, digest: sha256Digest(bytes), size: bytes.length, blobs: [config.digest, ...layers.map((l) => l.digest)] };
}

describe('content store', () => {
  it('never shows a blob before it is complete and verified', async () => {
    await using dir = await tempDir();
    const store = await openContentStore({ root: dir.path });
    const data = randomBytes(64 * 1024);
    const digest = sha256Digest(data);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let halfWritten!: () => void;
    const half = new Promise<void>((r) => (halfWritten = r));
    async function* source() {
      yield data.subarray(0, 32 * 1024);
      halfWritten();
      await gate;
      yield data.subarray(32 * 1024);
    }
    const put = store.putBlob(source(), digest);
    await half;
    expect(await store.hasBlob(digest)).toBe(false);
    expect(await readdir(join(dir.path, 'blobs', 'sha256'))).toEqual([]);
    expect((await readdir(join(dir.path, 'tmp'))).length).toBe(1);
    release();
    await expect(put).resolves.toEqual({ digest, size: data.length });
    expect(await store.hasBlob(digest)).toBe(true);
    expect(await readdir(join(dir.path, 'tmp'))).toEqual([]);

    // wrong content: rejected, nothing visible, nothing left in tmp
    const other = sha256Digest('something else');
    await expect(store.putBlob([Buffer.from('not it')], other)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(await store.hasBlob(other)).toBe(false);
    expect(await readdir(join(dir.path, 'tmp'))).toEqual([]);

    // a partial download is committed only once it verifies
    const p = randomBytes(1000);
    const pd = sha256Digest(p);
    await writeFile(store.partialPath(pd), p.subarray(0, 10));
    await expect(store.commitPartial(pd)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(await store.hasBlob(pd)).toBe(false);
    await writeFile(store.partialPath(pd), p);
    await store.commitPartial(pd);
    expect(await store.blobSize(pd)).toBe(1000);

    const r = await store.openBlob(pd, { start: 10, end: 19 });
    expect(r).toMatchObject({ size: 1000, start: 10, end: 19 });
    expect((await buffer(r.stream)).equals(p.subarray(10, 20))).toBe(true);
    const empty = await blob(store, Buffer.alloc(0));
    const e = await store.openBlob(empty.digest);
    expect(e.size).toBe(0);
    expect((await buffer(e.stream)).length).toBe(0);
  });

  it('keeps repositories and tags in an OCI layout index.json, persisted atomically', async () => {
    await using dir = await tempDir();
    const store = await openContentStore({ root: dir.path });
    const a = await image(store);
    const b = await image(store);
    await store.putManifest('team/app', a.bytes, MediaType.OCI_MANIFEST, ['v1', 'latest']);
    await store.putManifest('team/app', b.bytes, MediaType.OCI_MANIFEST, ['v2']);
    await store.putManifest('other', b.bytes, MediaType.OCI_MANIFEST, []);
    expect(await store.listRepositories()).toEqual(['other', 'team/app']);
    expect(await store.listTags('team/app')).toEqual(['latest', 'v1', 'v2']);
    expect(await store.listTags('other')).toEqual([]);
    expect((await store.getManifest('team/app', 'v1')).digest).toBe(a.digest);
    expect((await store.getManifest('team/app', b.digest)).bytes.equals(b.bytes)).toBe(true);

    // moving a tag
    await store.putManifest('team/app', b.bytes, MediaType.OCI_MANIFEST, ['latest']);
    expect((await store.getManifest('team/app', 'latest')).digest).toBe(b.digest);
    expect(await store.untag('team/app', 'v1')).toBe(true);
    expect(await store.untag('team/app', 'v1')).toBe(false);
    await expect(store.getManifest('team/app', 'v1')).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    await expect(store.getManifest('nope', 'v1')).rejects.toMatchObject({ code: 'NAME_UNKNOWN' });
    await expect(store.listTags('nope')).rejects.toMatchObject({ code: 'NAME_UNKNOWN' });
    await expect(store.putManifest('team/app', Buffer.from('{}'), MediaType.OCI_MANIFEST, [])).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });

    const index = JSON.parse(await readFile(join(dir.path, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
    const refs = index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']).filter(Boolean).sort();
    expect(refs).toEqual(['team/app:latest', 'team/app:v2']);
    expect(JSON.parse(await readFile(join(dir.path, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(await readdir(join(dir.path, 'tmp'))).toEqual([]);

    const reopened = await openContentStore({ root: dir.path });
    expect(await reopened.listTags('team/app')).toEqual(['latest', 'v2']);
    expect((await reopened.getManifest('team/app', 'latest')).digest).toBe(b.digest);
  });

  it('gc keeps tagged, pinned, referring and open blobs, and deletes the rest after the grace period', async () => {
    await using dir = await tempDir();
    const store = await openContentStore({ root: dir.path });
    const tagged = await image(store, { layers: 2 });
    const pinned = await image(store);
    const loose = await image(store);
    const signature = await image(store, { subject: { digest: tagged.digest, size: tagged.size }, artifactType: 'application/vnd.example.sig' });
    await store.putManifest('app', tagged.bytes, MediaType.OCI_MANIFEST, ['v1']);
    await store.putManifest('app', pinned.bytes, MediaType.OCI_MANIFEST, [], { pin: true });
    await store.putManifest('app', loose.bytes, MediaType.OCI_MANIFEST, []);
    await store.putManifest('app', signature.bytes, MediaType.OCI_MANIFEST, []);
    const orphanOpen = await blob(store);
    const orphan = await blob(store);
    const reader = await store.openBlob(orphanOpen.digest);
    expect(store.openReaders(orphanOpen.digest)).toBe(1);

    // everything is young: a long grace period protects it all
    const young = await store.gc({ graceMs: 60_000 });
    expect(young.deleted).toEqual([]);
    expect(young.skippedYoung).toBe(loose.blobs.length + 1 + 1);

    const r = await store.gc({ graceMs: 0 });
    expect(r.deleted.sort()).toEqual([...loose.blobs, loose.digest, orphan.digest].sort());
    expect(r.skippedOpen).toBe(1);
    for (const d of [...tagged.blobs, tagged.digest, ...pinned.blobs, pinned.digest, ...signature.blobs, signature.digest, orphanOpen.digest]) {
      expect(await store.hasBlob(d)).toBe(true);
    }
    await expect(store.getManifest('app', loose.digest)).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    expect(await store.referrers('app', tagged.digest)).toEqual([
      { mediaType: MediaType.OCI_MANIFEST, digest: signature.digest, size: signature.size, artifactType: 'application/vnd.example.sig' },
    ]);

    // stale temporary files go, fresh ones (a download in progress) stay
    await writeFile(store.partialPath(orphan.digest), 'part');
    expect((await store.gc({ graceMs: 0 })).tmpRemoved).toBe(0);
    expect((await store.gc({ graceMs: 0, tmpMaxAgeMs: 0 })).tmpRemoved).toBe(1);

    // once the reader closes, the orphan goes too
    reader.stream.destroy();
    await new Promise((res) => reader.stream.once('close', res));
    expect(store.openReaders(orphanOpen.digest)).toBe(0);
    expect((await store.gc({ graceMs: 0 })).deleted).toEqual([orphanOpen.digest]);

    // untagging the image releases it and its signature; unpinning releases the other
    await store.untag('app', 'v1');
    await store.unpin('app', pinned.digest);
    const last = await store.gc({ graceMs: 0 });
    expect(last.deleted.length).toBe(tagged.blobs.length + 1 + signature.blobs.length + 1 + pinned.blobs.length + 1);
    expect(await store.usage()).toEqual({ bytes: 0, blobs: 0 });
    expect(await store.listRepositories()).toEqual([]);
  });

  it('verify finds corrupt blobs; usage counts bytes and blobs', async () => {
    await using dir = await tempDir();
    const store = await openContentStore({ root: dir.path });
    const a = await blob(store, randomBytes(100));
    const b = await blob(store, randomBytes(200));
    expect(await store.usage()).toEqual({ bytes: 300, blobs: 2 });
    await writeFile(join(dir.path, 'blobs', 'sha256', b.digest.slice(7)), randomBytes(200));
    expect(await store.verify()).toEqual({ checked: 2, corrupt: [b.digest] });
    await store.verify({ remove: true });
    expect(await store.hasBlob(b.digest)).toBe(false);
    expect(await store.hasBlob(a.digest)).toBe(true);
  });

  it('walks what a stored index reaches: child manifests, configs and layers, each once', async () => {
    await using dir = await tempDir();
    const store = await openContentStore({ root: dir.path });
    const a = await image(store, { layers: 2 });
    const b = await image(store);
    await store.putManifest('team/app', a.bytes, MediaType.OCI_MANIFEST, []);
    await store.putManifest('team/app', b.bytes, MediaType.OCI_MANIFEST, []);
    const missing = 'sha256:' + '0'.repeat(64);
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OCI_INDEX,
      manifests: [a, b, { digest: missing, size: 1 }].map((m) => ({ mediaType: MediaType.OCI_MANIFEST, digest: m.digest, size: m.size })),
    }));
    const indexDigest = sha256Digest(index);
    await store.putManifest('team/app', index, MediaType.OCI_INDEX, ['v1']);
    const all = await storedTree(store, 'team/app', indexDigest);
    expect(all).toEqual([indexDigest, a.digest, ...a.blobs, b.digest, ...b.blobs, missing]);
    // a shared seen set spans roots: a second walk from a child adds nothing
    const seen = new Set<string>();
    await storedTree(store, 'team/app', indexDigest, seen);
    expect(await storedTree(store, 'team/app', a.digest, seen)).toEqual([]);
    expect(seen.size).toBe(all.length);
  });
});
