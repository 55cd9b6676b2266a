// Checking a command's signature: the `Uplink-Signature` header is the base64url ed25519 signature
// (by the command service's nkey) over the exact body bytes (nats-auth's node:crypto verifier).
import { nkeyVerifier } from '@uplink/nats-auth';
import { ExecutorError, ExecutorErrorCode } from './errors.js';

export interface CommandVerifier {
  readonly publicKey: string;
  /** whether `signature` (base64url, possibly undefined when the header was missing) signs `body` */
  verify(body: Uint8Array, signature: string | undefined): boolean;
}

export function createCommandVerifier(publicKey: string): CommandVerifier {
  try {
    return nkeyVerifier(publicKey);
  } catch (err) {
    throw new ExecutorError(ExecutorErrorCode.INVALID_CONFIG, `COMMAND_SIGNING_KEY is not a valid nkey public key: ${(err as Error).message}`, { cause: err });
  }
}
