// Command signing (ARCHITECTURE §6): an ed25519 nkey seed, signatures over the exact body bytes, sent
// base64url in the `Uplink-Signature` header. nkeys parses and checks the seed; node:crypto signs,
// because the pure-JS signer recomputes the key pair on every call (~10 ms per signature here), which a
// fan-out to thousands of sites cannot afford. Signatures are the same bytes either way (ed25519 is
// deterministic).
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { createAccount, fromSeed } from '@nats-io/nkeys';
import { ErrorCode, UplinkError } from '@uplink/contracts';

export interface CommandSigner {
  /** the nkey public key executors verify with (their COMMAND_SIGNING_KEY) */
  readonly publicKey: string;
  /** base64url signature of `body` */
  sign(body: Uint8Array): string;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
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

export function createCommandSigner(seed: string): CommandSigner {
  let publicKey: string;
  try {
    publicKey = fromSeed(new TextEncoder().encode(seed)).getPublicKey();
  } catch (err) {
    throw new UplinkError(ErrorCode.VALIDATION_FAILED, `COMMAND_SIGNING_SEED is not a valid nkey seed: ${(err as Error).message}`, { cause: err });
  }
  // an nkey seed is 2 prefix bytes, the 32-byte ed25519 seed and a 2-byte CRC (checked by fromSeed)
  const raw = base32Decode(seed).subarray(2, 34);
  const key: KeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  // the public key node derives must be the one nkeys reports, or signatures would not verify
  const x = createPublicKey(key).export({ format: 'jwk' }).x;
  const nkeyRaw = base32Decode(publicKey).subarray(1, 33);
  if (!x || Buffer.from(x, 'base64url').compare(Buffer.from(nkeyRaw)) !== 0) {
    throw new UplinkError(ErrorCode.INTERNAL, 'the signing key derived from COMMAND_SIGNING_SEED does not match its nkey public key');
  }
  return {
    publicKey,
    sign: (body) => sign(null, body, key).toString('base64url'),
  };
}

/** A new signing key pair (an account nkey): the seed for COMMAND_SIGNING_SEED, the public key for executors. */
export function createCommandSigningKey(): { seed: string; publicKey: string } {
  const kp = createAccount();
  return { seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}
