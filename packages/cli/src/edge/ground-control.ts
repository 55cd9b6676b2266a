// The edge's two calls to ground control (the gateway): registration with a join token, retried
// every 5 s with jittered backoff up to a cap while ground control is unreachable or busy, and
// renewal signed with the device key. Refusals that no retry can change end the attempt at once.
import { ErrorBody, SiteCredentials, renewPayload } from '@uplink/contracts';
import { retry } from '@uplink/bus';
import { signWithSeed, type NKey } from '@uplink/nats-auth';
import type { Logger } from '@uplink/observability';
import { CliError } from '../errors.js';

/** Codes after which retrying the same request cannot succeed. */
const FINAL_CODES = new Set(['JOIN_TOKEN_INVALID', 'JOIN_TOKEN_USED', 'JOIN_TOKEN_EXPIRED', 'SATELLITE_REVOKED', 'UNAUTHORIZED', 'VALIDATION_FAILED']);

export class GroundControlError extends CliError {
  override name = 'GroundControlError';
  readonly final: boolean;
  constructor(message: string, opts: { code?: string; final: boolean; cause?: unknown }) {
    super(message, { ...(opts.code ? { code: opts.code } : {}), cause: opts.cause, exitCode: 3 });
    this.final = opts.final;
  }
}

async function post(url: string, body: unknown, timeoutMs: number): Promise<SiteCredentials> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new GroundControlError(`ground control at ${url} is not reachable: ${(err as Error).message}`, { final: false, cause: err });
  }
  const json: unknown = await res.json().catch(() => undefined);
  if (res.ok) {
    const creds = SiteCredentials.safeParse(json);
    if (creds.success) return creds.data;
    throw new GroundControlError(`ground control at ${url} sent credentials this edge does not understand`, { final: false });
  }
  const err = ErrorBody.safeParse(json);
  const code = err.success ? err.data.error.code : undefined;
  const message = err.success ? err.data.error.message : `HTTP ${res.status}`;
  throw new GroundControlError(`ground control refused: ${message}`, { ...(code ? { code } : {}), final: code !== undefined && FINAL_CODES.has(code) });
}

export interface RetryOptions {
  logger: Logger;
  signal?: AbortSignal;
  /** @default 5_000 */
  initialMs?: number;
  /** @default 300_000 */
  maxMs?: number;
  /** @default 15_000 */
  timeoutMs?: number;
}

/** Retry `fn` with backoff until it succeeds, fails for good, or `signal` aborts. */
async function withRetry<T>(what: string, fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const outcome = await retry(
    async () => {
      try {
        return { ok: true as const, value: await fn() };
      } catch (err) {
        if (err instanceof GroundControlError && err.final) return { ok: false as const, err };
        throw err;
      }
    },
    {
      initialMs: opts.initialMs ?? 5_000,
      maxMs: opts.maxMs ?? 300_000,
      jitter: 0.5,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onError: (err, attempt) => opts.logger.warn({ attempt, err: (err as Error).message }, `${what} failed, will retry`),
    },
  );
  if (!outcome.ok) throw outcome.err;
  return outcome.value;
}

/** `POST /v1/ztr` with the device's public key. */
export function registerDevice(
  groundControl: string,
  req: { token: string; device: NKey; fingerprint: string },
  opts: RetryOptions,
): Promise<SiteCredentials> {
  const url = `${groundControl.replace(/\/+$/, '')}/v1/ztr`;
  return withRetry('registration', () => post(url, { token: req.token, publicKey: req.device.publicKey, fingerprint: req.fingerprint }, opts.timeoutMs ?? 15_000), opts);
}

/** `POST /v1/ztr/renew`, signed by the device key. */
export function renewCredentials(groundControl: string, req: { satellite: string; device: NKey }, opts: RetryOptions): Promise<SiteCredentials> {
  const url = `${groundControl.replace(/\/+$/, '')}/v1/ztr/renew`;
  return withRetry(
    'renewal',
    () => {
      const timestamp = new Date().toISOString();
      const signature = signWithSeed(req.device.seed, renewPayload(req.satellite, req.device.publicKey, timestamp));
      return post(url, { satellite: req.satellite, publicKey: req.device.publicKey, timestamp, signature }, opts.timeoutMs ?? 15_000);
    },
    opts,
  );
}
