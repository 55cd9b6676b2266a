// Names and digests as the distribution spec defines them, and sha256 helpers.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { OciError } from './errors.js';

export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
/** the distribution spec's repository name grammar */
export const REPOSITORY_PATTERN = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export function isDigest(s: string): boolean {
  return DIGEST_PATTERN.test(s);
}

export function isRepository(s: string): boolean {
  return s.length <= 255 && REPOSITORY_PATTERN.test(s);
}

export function isTag(s: string): boolean {
  return TAG_PATTERN.test(s);
}

export function assertDigest(digest: string): void {
  if (!isDigest(digest)) throw new OciError('DIGEST_INVALID', `"${digest}" is not a sha256 digest (sha256: and 64 lower-case hex)`, { digest });
}

export function assertRepository(repository: string): void {
  if (!isRepository(repository)) throw new OciError('NAME_INVALID', `"${repository}" is not a valid repository name`, { repository });
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

export function digestOfHash(hash: Hash): string {
  return `sha256:${hash.digest('hex')}`;
}

/** Feed a file (or its first `length` bytes) into a hash; resolves to the bytes read. */
export async function hashFile(path: string, hash: Hash, length?: number): Promise<number> {
  if (length === 0) return 0;
  let n = 0;
  const stream = createReadStream(path, length === undefined ? {} : { start: 0, end: length - 1 });
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    n += (chunk as Buffer).length;
  }
  return n;
}

export async function fileDigest(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  const size = await hashFile(path, hash);
  return { digest: digestOfHash(hash), size };
}
