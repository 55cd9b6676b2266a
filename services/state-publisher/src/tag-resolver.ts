// Tag -> digest against an upstream registry (HEAD /v2/<repo>/manifests/<tag> with the OCI and Docker
// manifest Accept types, reading Docker-Content-Digest), through the @uplink/oci client.
import { createRegistryClient, isOciError, type RegistryClient } from '@uplink/oci';
import type { Logger } from '@uplink/observability';
import { normalizeRegistryUrl } from './desired-state.js';

export interface TagResolver {
  /** the digest the tag points at now; rejects when the upstream cannot say */
  resolve(registry: string, repository: string, tag: string, opts?: { signal?: AbortSignal }): Promise<string>;
  close(): Promise<void>;
}

export interface TagResolverOptions {
  /** one request's timeout @default 5_000 */
  timeoutMs?: number;
  credentials?: { username: string; password: string };
  /** accept any TLS certificate @default false */
  insecure?: boolean;
  logger?: Logger;
}

export function createTagResolver(opts: TagResolverOptions = {}): TagResolver {
  const clients = new Map<string, RegistryClient>();
  const clientFor = (registry: string) => {
    const url = normalizeRegistryUrl(registry);
    let c = clients.get(url);
    if (!c) {
      c = createRegistryClient({
        url,
        timeoutMs: opts.timeoutMs ?? 5_000,
        // the background loop is the retry: one attempt, so an unreachable upstream costs one timeout
        retry: { retries: 0 },
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
        ...(opts.insecure ? { tls: { insecure: true } } : {}),
        ...(opts.logger ? { logger: opts.logger } : {}),
        userAgent: 'uplink-state-publisher',
      });
      clients.set(url, c);
    }
    return c;
  };
  return {
    async resolve(registry, repository, tag, o = {}) {
      try {
        return (await clientFor(registry).resolve(repository, tag, o.signal ? { signal: o.signal } : {})).digest;
      } catch (err) {
        const reason = isOciError(err) ? `${err.code}: ${err.message}` : (err as Error).message;
        throw new Error(reason, { cause: err });
      }
    },
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close().catch(() => undefined)));
      clients.clear();
    },
  };
}
