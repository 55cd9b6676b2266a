// One-time join tokens `ujt_<id>_<secret>`: the id finds the row, the 192-bit secret is kept only as
// its sha256 and compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { JOIN_TOKEN_PATTERN } from '@uplink/contracts';

export interface NewJoinToken {
  /** the token as the operator sees it, once */
  token: string;
  id: string;
  secretHash: Buffer;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export function newJoinToken(): NewJoinToken {
  const id = randomBytes(9).toString('base64url');
  const secret = randomBytes(24).toString('base64url');
  return { token: `ujt_${id}_${secret}`, id, secretHash: sha256(secret) };
}

/** The id and secret of a well-formed token, else undefined. */
export function parseJoinToken(token: string): { id: string; secret: string } | undefined {
  const m = JOIN_TOKEN_PATTERN.exec(token.trim());
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Whether `secret` hashes to `hash`, in time independent of where they differ. */
export function secretMatches(secret: string, hash: Buffer): boolean {
  const given = sha256(secret);
  return hash.length === given.length && timingSafeEqual(given, hash);
}
