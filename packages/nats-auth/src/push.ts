// Account JWTs reach the hub's resolver at runtime through the system account: a request to
// `$SYS.REQ.CLAIMS.UPDATE` with the JWT as body. With a `full` resolver the hub keeps it on disk; the
// newest `iat` wins, so an older JWT pushed later is refused.
import type { NatsConnection } from '@nats-io/transport-node';
import { describeJwt } from './creds.js';
import { NatsAuthError, NatsAuthErrorCode } from './errors.js';

export const CLAIMS_UPDATE_SUBJECT = '$SYS.REQ.CLAIMS.UPDATE';
export const CLAIMS_LIST_SUBJECT = '$SYS.REQ.CLAIMS.LIST';

interface ClaimsReply {
  data?: { account?: string; code?: number; message?: string };
  error?: { account?: string; code?: number; description?: string };
}

/**
 * Push an account JWT to the hub; resolves once a server stored it. `nc` is a connection of a user of
 * the system account.
 */
export async function pushAccountJwt(nc: NatsConnection, jwt: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const account = describeJwt(jwt).subject;
  let reply: ClaimsReply;
  try {
    const m = await nc.request(CLAIMS_UPDATE_SUBJECT, jwt, { timeout: opts.timeoutMs ?? 5_000 });
    reply = m.json<ClaimsReply>();
  } catch (err) {
    throw new NatsAuthError(
      NatsAuthErrorCode.PUSH_FAILED,
      `the hub did not take the account JWT of ${account}: ${(err as Error).message} (is the hub in operator mode with a full resolver, and the connection a system account user?)`,
      { cause: err, account },
    );
  }
  if (reply.error || (reply.data?.code !== undefined && reply.data.code >= 300)) {
    const why = reply.error?.description ?? reply.data?.message ?? 'refused';
    throw new NatsAuthError(NatsAuthErrorCode.PUSH_FAILED, `the hub refused the account JWT of ${account}: ${why}`, { account });
  }
}

/**
 * The public keys of the accounts the hub's `full` resolver holds (one server answers; a cluster's
 * full resolvers share their JWTs). `nc` is a connection of a user of the system account.
 */
export async function listResolverAccounts(nc: NatsConnection, opts: { timeoutMs?: number } = {}): Promise<string[]> {
  let reply: { data?: unknown; error?: { description?: string } };
  try {
    reply = (await nc.request(CLAIMS_LIST_SUBJECT, '', { timeout: opts.timeoutMs ?? 5_000 })).json();
  } catch (err) {
    throw new NatsAuthError(NatsAuthErrorCode.LIST_FAILED, `the hub did not list its accounts: ${(err as Error).message} (is the hub in operator mode with a full resolver?)`, { cause: err });
  }
  if (!Array.isArray(reply.data) || !reply.data.every((a) => typeof a === 'string')) {
    throw new NatsAuthError(NatsAuthErrorCode.LIST_FAILED, `the hub did not list its accounts: ${reply.error?.description ?? 'unexpected reply'}`);
  }
  return reply.data as string[];
}
