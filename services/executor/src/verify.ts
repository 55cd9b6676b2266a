// Checking a command's signature: the `Uplink-Signature` header is the base64url ed25519 signature
// (by the command service's nkey) over the exact body bytes. nkeys checks the public key; node:crypto
// verifies (the pure-JS verifier takes ~10 ms a call here, node's well under 1 ms).
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { fromPublic } from '@nats-io/nkeys';
import { ExecutorError, ExecutorErrorCode } from './errors.js';

export interface CommandVerifier {
  readonly publicKey: string;
  /** whether `signature` (base64url, possibly undefined when the header was missing) signs `body` */
  verify(body: Uint8Array, signature: string | undefined): boolean;
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

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

export function createCommandVerifier(publicKey: string): CommandVerifier {
  try {
    fromPublic(publicKey);
  } catch (err) {
    throw new ExecutorError(ExecutorErrorCode.INVALID_CONFIG, `COMMAND_SIGNING_KEY is not a valid nkey public key: ${(err as Error).message}`, { cause: err });
  }
  // an nkey public key is a prefix byte, the 32-byte ed25519 key and a 2-byte CRC (checked by fromPublic)
  const raw = base32Decode(publicKey).subarray(1, 33);
  const key: KeyObject = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
  return {
    publicKey,
    verify(body, signature) {
      if (!signature || !/^[A-Za-z0-9_-]{86}$/.test(signature)) return false;
      try {
        return verify(null, body, key, Buffer.from(signature, 'base64url'));
      } catch {
        return false;
      }
    },
  };
}
