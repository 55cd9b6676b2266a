// Command signing (ARCHITECTURE §6): an ed25519 nkey seed, signatures over the exact body bytes, sent
// base64url in the `Uplink-Signature` header (nats-auth's node:crypto signer: fast enough for a
// fan-out to thousands of sites).
import { createNKey, nkeySigner } from '@uplink/nats-auth';
import { ErrorCode, UplinkError } from '@uplink/contracts';

export interface CommandSigner {
  /** the nkey public key executors verify with (their COMMAND_SIGNING_KEY) */
  readonly publicKey: string;
  /** base64url signature of `body` */
  sign(body: Uint8Array): string;
}

export function createCommandSigner(seed: string): CommandSigner {
  try {
    return nkeySigner(seed);
  } catch (err) {
    throw new UplinkError(ErrorCode.VALIDATION_FAILED, `COMMAND_SIGNING_SEED is not a valid nkey seed: ${(err as Error).message}`, { cause: err });
  }
}

/** A new signing key pair (an account nkey): the seed for COMMAND_SIGNING_SEED, the public key for executors. */
export function createCommandSigningKey(): { seed: string; publicKey: string } {
  return createNKey('account');
}
