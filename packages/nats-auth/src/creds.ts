// NATS credentials files: a user JWT plus the seed of the key it was issued for.
import { decode } from '@nats-io/jwt';
import { NatsAuthError, NatsAuthErrorCode } from './errors.js';

/** The text of a `.creds` file as nats-server and nats.js read it. */
export function renderCreds(jwt: string, seed: string): string {
  return (
    `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
    `************************* IMPORTANT *************************\n` +
    `NKEY Seed printed below can be used to sign and prove identity.\n` +
    `NKEYs are sensitive and should be treated as secrets.\n\n` +
    `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n\n` +
    `*************************************************************\n`
  );
}

/** The JWT and seed of a `.creds` file. */
export function parseCreds(text: string): { jwt: string; seed: string } {
  const blocks = [...text.matchAll(/-{3,}BEGIN [A-Z ]+-{3,}\r?\n\s*(\S+)\s*\r?\n\s*-{3,}END [A-Z ]+-{3,}/g)].map((m) => m[1]!);
  const jwt = blocks[0];
  const seed = blocks[1];
  if (!jwt || !seed) throw new NatsAuthError(NatsAuthErrorCode.CREDS_INVALID, 'not a NATS credentials file: a JWT block and a seed block are expected');
  return { jwt, seed };
}

/** What a JWT says about itself: the subject key, issuer, name and expiry (seconds since epoch). */
export interface JwtSummary {
  subject: string;
  issuer: string;
  issuerAccount: string | undefined;
  name: string;
  issuedAt: number;
  expiresAt: number | undefined;
}

/** Decode (without verifying) the standard claims of a JWT. */
export function describeJwt(jwt: string): JwtSummary {
  try {
    const c = decode<{ issuer_account?: string }>(jwt);
    return {
      subject: c.sub,
      issuer: c.iss,
      issuerAccount: c.nats?.issuer_account,
      name: c.name,
      issuedAt: c.iat,
      expiresAt: c.exp,
    };
  } catch (err) {
    throw new NatsAuthError(NatsAuthErrorCode.CREDS_INVALID, `not a NATS JWT: ${(err as Error).message}`, { cause: err });
  }
}
