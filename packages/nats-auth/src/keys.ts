// nkey pairs as plain strings (public key + seed), and signatures a device makes with its own key.
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
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

// Fast signing and checking with node:crypto over the same ed25519 keys: the pure-JS nkeys signer
// recomputes the key pair on every call (~10 ms a signature on a small machine), which a command
// fan-out to thousands of sites cannot afford. Signatures are the same bytes (ed25519 is deterministic).
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding, as nkeys encode. */
function base32Decode(text: string): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new TypeError('not base32');
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

export interface NKeySigner {
  readonly publicKey: string;
  /** base64url ed25519 signature of `data` */
  sign(data: Uint8Array): string;
}

export interface NKeyVerifier {
  readonly publicKey: string;
  /** whether `signature` (base64url; undefined when missing) signs `data`; never throws */
  verify(data: Uint8Array, signature: string | undefined): boolean;
}

/** A signer for a seed (checked by nkeys: prefix and CRC). */
export function nkeySigner(seed: string): NKeySigner {
  const publicKey = keyPairFromSeed(seed).getPublicKey();
  // an nkey seed is 2 prefix bytes, the 32-byte ed25519 seed and a 2-byte CRC
  const raw = base32Decode(seed.trim()).subarray(2, 34);
  const key: KeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  const x = createPublicKey(key).export({ format: 'jwk' }).x;
  if (!x || Buffer.from(x, 'base64url').compare(Buffer.from(base32Decode(publicKey).subarray(1, 33))) !== 0) {
    throw new NatsAuthError(NatsAuthErrorCode.KEY_INVALID, 'the ed25519 key of this seed does not match its nkey public key');
  }
  return { publicKey, sign: (data) => cryptoSign(null, data, key).toString('base64url') };
}

/** A verifier for a public nkey (checked by nkeys: prefix and CRC). */
export function nkeyVerifier(publicKey: string): NKeyVerifier {
  try {
    fromPublic(publicKey);
  } catch (err) {
    throw new NatsAuthError(NatsAuthErrorCode.KEY_INVALID, `not an nkey public key: ${(err as Error).message}`, { cause: err });
  }
  // an nkey public key is a prefix byte, the 32-byte ed25519 key and a 2-byte CRC
  const raw = base32Decode(publicKey).subarray(1, 33);
  const key: KeyObject = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
  return {
    publicKey,
    verify(data, signature) {
      if (!signature || !/^[A-Za-z0-9_-]{86}$/.test(signature)) return false;
      try {
        return cryptoVerify(null, data, key, Buffer.from(signature, 'base64url'));
      } catch {
        return false;
      }
    },
  };
}
