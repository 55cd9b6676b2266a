// nkey pairs as plain strings (public key + seed), and signatures a device makes with its own key.
import { createAccount, createOperator, createUser, fromPublic, fromSeed, type KeyPair } from '@nats-io/nkeys';
import { NatsAuthError, NatsAuthErrorCode } from './errors.js';

/** An nkey pair in its text forms. The seed is the secret. */
export interface NKey {
  publicKey: string;
  seed: string;
}

export type NKeyRole = 'operator' | 'account' | 'user';

const PREFIX: Record<NKeyRole, string> = { operator: 'O', account: 'A', user: 'U' };
const PUBLIC_PATTERN = /^[A-Z][A-Z2-7]{55}$/;

function toNKey(kp: KeyPair): NKey {
  return { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

/** A fresh ed25519 nkey pair of a role. */
export function createNKey(role: NKeyRole): NKey {
  return toNKey(role === 'operator' ? createOperator() : role === 'account' ? createAccount() : createUser());
}

/** The key pair of a seed, checking its role when given. */
export function keyPairFromSeed(seed: string, role?: NKeyRole): KeyPair {
  let kp: KeyPair;
  try {
    kp = fromSeed(new TextEncoder().encode(seed.trim()));
  } catch (err) {
    throw new NatsAuthError(NatsAuthErrorCode.KEY_INVALID, `not an nkey seed: ${(err as Error).message}`, { cause: err });
  }
  if (role && !kp.getPublicKey().startsWith(PREFIX[role])) {
    throw new NatsAuthError(NatsAuthErrorCode.KEY_INVALID, `expected the seed of an ${role} key (public key starting with "${PREFIX[role]}")`);
  }
  return kp;
}

/** Whether `key` is a well-formed public nkey of `role`. */
export function isPublicKey(key: string, role: NKeyRole): boolean {
  if (!PUBLIC_PATTERN.test(key) || !key.startsWith(PREFIX[role])) return false;
  try {
    fromPublic(key);
    return true;
  } catch {
    return false;
  }
}

/** Sign `data` with a seed; base64url without padding (as NATS nonces are signed). */
export function signWithSeed(seed: string, data: string | Uint8Array): string {
  const kp = keyPairFromSeed(seed);
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return Buffer.from(kp.sign(bytes)).toString('base64url');
}

/** Whether `signature` (base64url or base64) is the signature of `data` by `publicKey`. Never throws. */
export function verifySignature(publicKey: string, data: string | Uint8Array, signature: string): boolean {
  try {
    const kp = fromPublic(publicKey);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const sig = Buffer.from(signature, /[+/=]/.test(signature) ? 'base64' : 'base64url');
    if (sig.length !== 64) return false;
    return kp.verify(bytes, new Uint8Array(sig));
  } catch {
    return false;
  }
}
