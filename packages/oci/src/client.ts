// Pull-side OCI distribution client on undici: auth challenges, every common manifest kind,
// verified and resumable blob downloads, retries, timeouts, TLS options and one shared bandwidth budget.
import { createHash } from 'node:crypto';
import { mkdir, open, stat, truncate, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { createBandwidthLimiter, type BandwidthLimiter } from './bandwidth.js';
import { withRetry, type RetryOptions } from './backoff.js';
import { assertDigest, assertRepository, digestOfHash, hashFile, isDigest, isTag, sha256Digest } from './digest.js';
import { OciError, type OciErrorCode } from './errors.js';
import { MANIFEST_ACCEPT, baseMediaType, parseManifest } from './manifest.js';
import type { OciLogger } from './logger.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryTlsOptions {
  /** extra CA certificates (PEM) trusted for this registry */
  ca?: string | Buffer | Array<string | Buffer>;
  /** accept any certificate; for lab setups only @default false */
  insecure?: boolean;
}

export interface RegistryClientOptions {
  /** base URL of the registry, e.g. `https://registry.example.com` */
  url: string;
  /** basic credentials, sent to the registry (Basic challenge) or to its token service (Bearer challenge) */
  credentials?: RegistryCredentials;
  /** bytes per second shared by all blob transfers of this client, 0 = unlimited @default 0 */
  bandwidthLimit?: number;
  /** a limiter to share with other clients; wins over `bandwidthLimit` */
  limiter?: BandwidthLimiter;
  /** time to wait for response headers, and the longest silence inside a body, in ms @default 30_000 */
  timeoutMs?: number;
  /** retry policy on 5xx, 429, network errors and timeouts @default { retries: 4, baseMs: 200, maxMs: 10_000 } */
  retry?: Omit<RetryOptions, 'isRetryable' | 'signal'>;
  tls?: RegistryTlsOptions;
  /** @default 'uplink-oci' */
  userAgent?: string;
  logger?: OciLogger;
}

export interface ResolvedManifest {
  digest: string;
  mediaType: string;
  size: number;
}

export interface FetchedManifest extends ResolvedManifest {
  bytes: Buffer;
}

export interface FetchBlobOptions {
  /** size from the descriptor; lets a complete partial file be accepted without a request */
  expectedSize?: number;
  signal?: AbortSignal;
}

export interface FetchBlobResult {
  digest: string;
  size: number;
  /** body bytes received over the network, over all attempts */
  bytesFetched: number;
  /** length of the partial file the first attempt resumed from */
  resumedFrom: number;
}

export interface RegistryClientStats {
  requests: number;
  /** blob body bytes received */
  bytesFetched: number;
  tokenFetches: number;
  retries: number;
}

export interface RegistryClient extends AsyncDisposable {
  readonly url: string;
  readonly limiter: BandwidthLimiter;
  /** GET /v2/ (authenticating if asked) */
  ping(): Promise<void>;
  /** tag -> digest by HEAD, falling back to GET (whose bytes are then hashed) */
  resolve(repository: string, tag: string, opts?: { signal?: AbortSignal }): Promise<ResolvedManifest>;
  /** manifest bytes; the digest is always the sha256 of the bytes, and must equal `reference` when that is a digest */
  getManifest(repository: string, reference: string, opts?: { signal?: AbortSignal }): Promise<FetchedManifest>;
  /** stream a blob into `destPath`, resuming from what is already there, verifying its sha256 */
  fetchBlob(repository: string, digest: string, destPath: string, opts?: FetchBlobOptions): Promise<FetchBlobResult>;
  /**
   * The blob's bytes as a stream, NOT verified: for a caller that verifies while it forwards them
   * (pull-through). No retries once the body flows; `size` from Content-Length when the upstream sent it.
   */
  openBlob(repository: string, digest: string, opts?: { signal?: AbortSignal }): Promise<{ stream: Readable; size: number | undefined }>;
  /** every tag of a repository, following pagination */
  listTags(repository: string, opts?: { signal?: AbortSignal }): Promise<string[]>;
  stats(): RegistryClientStats;
  close(): Promise<void>;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;

type Challenge =
  | { scheme: 'basic' }
  | { scheme: 'bearer'; realm: string; service: string | undefined; scope: string | undefined };

interface CachedToken {
  token: string;
  expiresAt: number;
}

interface Sent {
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: Dispatcher.ResponseData['body'];
}

export function createRegistryClient(opts: RegistryClientOptions): RegistryClient {
  const base = new URL(opts.url);
  const baseUrl = base.origin + base.pathname.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const agent = new Agent({
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: Math.min(timeoutMs, 10_000),
    connect: {
      ...(opts.tls?.ca === undefined ? {} : { ca: opts.tls.ca }),
      rejectUnauthorized: !opts.tls?.insecure,
    },
  });
  const limiter = opts.limiter ?? createBandwidthLimiter({ bytesPerSecond: opts.bandwidthLimit ?? 0 });
  const userAgent = opts.userAgent ?? 'uplink-oci';
  const log = opts.logger;
  const stats: RegistryClientStats = { requests: 0, bytesFetched: 0, tokenFetches: 0, retries: 0 };

  // The last challenge seen per repository ('' for /v2/), so later requests authenticate up front.
  const challenges = new Map<string, Challenge>();
  const tokens = new Map<string, CachedToken>();
  const tokenFetches = new Map<string, Promise<CachedToken>>();

  const retryOpts = (signal: AbortSignal | undefined): RetryOptions => ({
    ...opts.retry,
    ...(signal ? { signal } : {}),
    onRetry: (err, attempt, delayMs) => {
      stats.retries++;
      log?.debug({ err: (err as Error).message, attempt, delayMs, registry: baseUrl }, 'registry request retry');
      opts.retry?.onRetry?.(err, attempt, delayMs);
    },
  });

  function basicHeader(): string | undefined {
    if (!opts.credentials) return undefined;
    return `Basic ${Buffer.from(`${opts.credentials.username}:${opts.credentials.password}`).toString('base64')}`;
  }

  function tokenKey(ch: Extract<Challenge, { scheme: 'bearer' }>, repo: string): string {
    return `${ch.realm}|${ch.service ?? ''}|${scopeFor(ch, repo)}`;
  }

  function scopeFor(ch: Extract<Challenge, { scheme: 'bearer' }>, repo: string): string {
    return ch.scope ?? (repo ? `repository:${repo}:pull` : '');
  }

  async function fetchToken(ch: Extract<Challenge, { scheme: 'bearer' }>, repo: string, signal?: AbortSignal): Promise<CachedToken> {
    const key = tokenKey(ch, repo);
    const inflight = tokenFetches.get(key);
    if (inflight) return inflight;
    const p = (async () => {
      const url = new URL(ch.realm);
      if (ch.service) url.searchParams.set('service', ch.service);
      const scope = scopeFor(ch, repo);
      if (scope) url.searchParams.set('scope', scope);
      const headers: Record<string, string> = { 'user-agent': userAgent };
      const basic = basicHeader();
      if (basic) headers.authorization = basic;
      stats.tokenFetches++;
      const res = await rawRequest(url.toString(), { method: 'GET', headers, ...(signal ? { signal } : {}) });
      const text = await res.body.text();
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw new OciError('UNAUTHORIZED', `token service ${url.origin} refused the credentials (${res.statusCode})`, { status: res.statusCode, repository: repo });
      }
      if (res.statusCode >= 500) throw new OciError('UPSTREAM_UNAVAILABLE', `token service answered ${res.statusCode}`, { status: res.statusCode });
      if (res.statusCode !== 200) throw new OciError('PROTOCOL_ERROR', `token service answered ${res.statusCode}`, { status: res.statusCode });
      let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
      try {
        body = JSON.parse(text) as typeof body;
      } catch (err) {
        throw new OciError('PROTOCOL_ERROR', 'token service answered something other than JSON', { cause: err });
      }
      const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
      if (!token) throw new OciError('PROTOCOL_ERROR', 'token service answered without a token');
      // the spec's default lifetime is 60 s; renew a little early
      const ttl = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
      const entry = { token, expiresAt: Date.now() + ttl * 1000 * 0.9 };
      tokens.set(key, entry);
      return entry;
    })();
    tokenFetches.set(key, p);
    try {
      return await p;
    } finally {
      tokenFetches.delete(key);
    }
  }

  async function authorization(repo: string, signal?: AbortSignal): Promise<string | undefined> {
    const ch = challenges.get(repo) ?? challenges.get('');
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return basicHeader();
    const cached = tokens.get(tokenKey(ch, repo));
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    // a challenge from another repository carries its scope; ask this repository's own
    if (!challenges.has(repo) && ch.scope !== undefined) return undefined;
    return `Bearer ${(await fetchToken(ch, repo, signal)).token}`;
  }

  async function rawRequest(url: string, o: { method: Dispatcher.HttpMethod; headers: Record<string, string>; signal?: AbortSignal }): Promise<Sent> {
    stats.requests++;
    try {
      return await request(url, { method: o.method, headers: o.headers, dispatcher: agent, ...(o.signal ? { signal: o.signal } : {}) });
    } catch (err) {
      throw networkError(err, url);
    }
  }

  /** One HTTP exchange with redirects and the auth dance; never throws on a status code. */
  async function send(repo: string, path: string, o: { method: 'GET' | 'HEAD'; headers?: Record<string, string>; signal?: AbortSignal }): Promise<Sent> {
    for (let authTry = 0; ; authTry++) {
      const headers: Record<string, string> = { 'user-agent': userAgent, ...o.headers };
      const auth = await authorization(repo, o.signal);
      if (auth) headers.authorization = auth;
      let url = baseUrl + path;
      let res: Sent | undefined;
      for (let hop = 0; ; hop++) {
        res = await rawRequest(url, { method: o.method, headers, ...(o.signal ? { signal: o.signal } : {}) });
        const location = res.headers.location;
        if (![301, 302, 303, 307, 308].includes(res.statusCode) || typeof location !== 'string') break;
        await res.body.dump();
        if (hop >= MAX_REDIRECTS) throw new OciError('PROTOCOL_ERROR', `more than ${MAX_REDIRECTS} redirects for ${path}`);
        const next = new URL(location, url);
        // credentials are for the registry, never for the storage it redirects to
        if (next.origin !== new URL(url).origin) delete headers.authorization;
        url = next.toString();
      }
      if (res.statusCode !== 401 || authTry > 0) return res;
      const ch = parseChallenge(headerValue(res.headers['www-authenticate']));
      if (!ch) return res;
      await res.body.dump();
      challenges.set(repo, ch);
      if (ch.scheme === 'basic' && !opts.credentials) throw new OciError('UNAUTHORIZED', `${baseUrl} asks for credentials and none are configured`, { status: 401, repository: repo });
      if (ch.scheme === 'bearer') await fetchToken(ch, repo, o.signal);
    }
  }

  async function expectOk(res: Sent, ctx: { repo: string; kind: 'manifest' | 'blob' | 'tags' | 'ping'; ref: string }): Promise<void> {
    if (res.statusCode >= 200 && res.statusCode < 300) return;
    const text = res.body ? await res.body.text().catch(() => '') : '';
    throw statusError(res.statusCode, text, ctx);
  }

  async function getManifest(repository: string, reference: string, o: { signal?: AbortSignal } = {}): Promise<FetchedManifest> {
    assertRepository(repository);
    const byDigest = isDigest(reference);
    if (!byDigest && !isTag(reference)) throw new OciError('TAG_INVALID', `"${reference}" is neither a tag nor a sha256 digest`, { reference });
    return withRetry(async () => {
      const res = await send(repository, `/v2/${repository}/manifests/${reference}`, { method: 'GET', headers: { accept: MANIFEST_ACCEPT }, ...o });
      await expectOk(res, { repo: repository, kind: 'manifest', ref: reference });
      const declared = Number(headerValue(res.headers['content-length']) ?? NaN);
      if (declared > MAX_MANIFEST_BYTES) {
        await res.body.dump();
        throw new OciError('MANIFEST_INVALID', `manifest of ${declared} bytes is larger than ${MAX_MANIFEST_BYTES}`, { repository, reference });
      }
      const bytes = Buffer.from(await res.body.arrayBuffer());
      const digest = sha256Digest(bytes);
      if (byDigest && digest !== reference) {
        throw new OciError('DIGEST_MISMATCH', `manifest ${repository}@${reference} has digest ${digest}`, { repository, digest: reference });
      }
      const headerDigest = headerValue(res.headers['docker-content-digest']);
      if (!byDigest && headerDigest?.startsWith('sha256:') && headerDigest !== digest) {
        throw new OciError('DIGEST_MISMATCH', `manifest ${repository}:${reference} announced ${headerDigest} but hashes to ${digest}`, { repository, digest: headerDigest });
      }
      const parsed = parseManifest(bytes, headerValue(res.headers['content-type']));
      return { bytes, digest, mediaType: parsed.mediaType, size: bytes.length };
    }, retryOpts(o.signal));
  }

  async function resolve(repository: string, tag: string, o: { signal?: AbortSignal } = {}): Promise<ResolvedManifest> {
    assertRepository(repository);
    if (!isTag(tag) && !isDigest(tag)) throw new OciError('TAG_INVALID', `"${tag}" is not a valid tag`, { reference: tag });
    const head = await withRetry(async () => {
      const res = await send(repository, `/v2/${repository}/manifests/${tag}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT }, ...o });
      await res.body.dump();
      if (res.statusCode === 404) throw statusError(404, '', { repo: repository, kind: 'manifest', ref: tag });
      if (res.statusCode >= 500 || res.statusCode === 429) throw statusError(res.statusCode, '', { repo: repository, kind: 'manifest', ref: tag });
      if (res.statusCode === 401 || res.statusCode === 403) throw statusError(res.statusCode, '', { repo: repository, kind: 'manifest', ref: tag });
      const digest = headerValue(res.headers['docker-content-digest']);
      const type = headerValue(res.headers['content-type']);
      const size = Number(headerValue(res.headers['content-length']) ?? NaN);
      if (res.statusCode !== 200 || !digest || !isDigest(digest) || !type) return undefined;
      return { digest, mediaType: baseMediaType(type), size };
    }, retryOpts(o.signal));
    if (head) return head;
    // HEAD unsupported or without a digest header: fetch and hash
    const m = await getManifest(repository, tag, o);
    return { digest: m.digest, mediaType: m.mediaType, size: m.size };
  }

  async function fetchBlob(repository: string, digest: string, destPath: string, o: FetchBlobOptions = {}): Promise<FetchBlobResult> {
    assertRepository(repository);
    assertDigest(digest);
    await mkdir(dirname(destPath), { recursive: true });
    let bytesFetched = 0;
    let resumedFrom: number | undefined;
    const size = await withRetry(async () => {
      let offset = await fileSize(destPath);
      if (o.expectedSize !== undefined && offset > o.expectedSize) {
        await truncate(destPath, 0);
        offset = 0;
      }
      let hash = createHash('sha256');
      // re-hash what an earlier attempt left, so the final digest covers the whole file
      if (offset > 0) await hashFile(destPath, hash, offset);
      resumedFrom ??= offset;
      if (o.expectedSize !== undefined && offset === o.expectedSize) {
        if (digestOfHash(hash) === digest) return offset;
        await truncate(destPath, 0);
        offset = 0;
        hash = createHash('sha256');
      }
      const path = `/v2/${repository}/blobs/${digest}`;
      let res = await send(repository, path, { method: 'GET', headers: offset > 0 ? { range: `bytes=${offset}-` } : {}, ...(o.signal ? { signal: o.signal } : {}) });
      const restart = async () => {
        await res.body.dump();
        await truncate(destPath, 0);
        offset = 0;
        hash = createHash('sha256');
        res = await send(repository, path, { method: 'GET', ...(o.signal ? { signal: o.signal } : {}) });
      };
      if (offset > 0) {
        const start = /^bytes (\d+)-/.exec(headerValue(res.headers['content-range']) ?? '')?.[1];
        // 200: the server ignored the range; 416: the partial file is longer than the blob
        if (res.statusCode === 200 || res.statusCode === 416 || (res.statusCode === 206 && Number(start) !== offset)) await restart();
      }
      await expectOk(res, { repo: repository, kind: 'blob', ref: digest });
      const fh = await open(destPath, offset > 0 ? 'r+' : 'w');
      let pos = offset;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          await limiter.take(chunk.length, o.signal);
          hash.update(chunk);
          await fh.write(chunk, 0, chunk.length, pos);
          pos += chunk.length;
          bytesFetched += chunk.length;
          stats.bytesFetched += chunk.length;
        }
        await fh.sync();
      } catch (err) {
        throw networkError(err, baseUrl + path);
      } finally {
        await fh.close();
      }
      if (o.expectedSize !== undefined && pos < o.expectedSize) {
        throw new OciError('SIZE_MISMATCH', `blob ${digest} ended after ${pos} of ${o.expectedSize} bytes`, { repository, digest });
      }
      const got = digestOfHash(hash);
      if (got !== digest) {
        await unlink(destPath).catch(() => undefined);
        throw new OciError('DIGEST_MISMATCH', `blob ${repository}@${digest} hashes to ${got}`, { repository, digest });
      }
      return pos;
    }, retryOpts(o.signal));
    log?.debug({ repository, digest, size, bytesFetched, resumedFrom }, 'blob fetched');
    return { digest, size, bytesFetched, resumedFrom: resumedFrom ?? 0 };
  }

  async function openBlob(repository: string, digest: string, o: { signal?: AbortSignal } = {}): Promise<{ stream: Readable; size: number | undefined }> {
    assertRepository(repository);
    assertDigest(digest);
    const path = `/v2/${repository}/blobs/${digest}`;
    const res = await withRetry(async () => {
      const r = await send(repository, path, { method: 'GET', ...o });
      await expectOk(r, { repo: repository, kind: 'blob', ref: digest });
      return r;
    }, retryOpts(o.signal));
    const length = Number(headerValue(res.headers['content-length']) ?? NaN);
    // not counted in stats().bytesFetched: a listener here would start the flow before the caller reads
    return { stream: res.body as unknown as Readable, size: Number.isFinite(length) ? length : undefined };
  }

  async function listTags(repository: string, o: { signal?: AbortSignal } = {}): Promise<string[]> {
    assertRepository(repository);
    const out: string[] = [];
    let path: string | undefined = `/v2/${repository}/tags/list`;
    while (path) {
      const current: string = path;
      const page = await withRetry(async () => {
        const res = await send(repository, current, { method: 'GET', ...o });
        await expectOk(res, { repo: repository, kind: 'tags', ref: '' });
        const body = (await res.body.json()) as { tags?: string[] | null };
        return { tags: body.tags ?? [], link: headerValue(res.headers.link) };
      }, retryOpts(o.signal));
      out.push(...page.tags);
      const next = page.link ? /<([^>]+)>;\s*rel="?next"?/.exec(page.link)?.[1] : undefined;
      path = next ? new URL(next, baseUrl).pathname + new URL(next, baseUrl).search : undefined;
    }
    return out;
  }

  async function close() {
    await agent.close();
  }

  return {
    url: baseUrl,
    limiter,
    async ping() {
      await withRetry(async () => {
        const res = await send('', '/v2/', { method: 'GET' });
        await expectOk(res, { repo: '', kind: 'ping', ref: '' });
        await res.body.dump();
      }, retryOpts(undefined));
    },
    resolve,
    getManifest,
    fetchBlob,
    openBlob,
    listTags,
    stats: () => ({ ...stats }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"` */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  if (scheme === 'basic') return { scheme: 'basic' };
  if (scheme === 'bearer' && params.realm) return { scheme: 'bearer', realm: params.realm, service: params.service, scope: params.scope };
  return undefined;
}

function statusError(status: number, body: string, ctx: { repo: string; kind: 'manifest' | 'blob' | 'tags' | 'ping'; ref: string }): OciError {
  let remote: string | undefined;
  let remoteMessage = '';
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ code?: string; message?: string }> };
    remote = parsed.errors?.[0]?.code;
    remoteMessage = parsed.errors?.[0]?.message ?? '';
  } catch {
    // not a spec error body
  }
  const what = ctx.kind === 'ping' ? 'registry' : `${ctx.kind} ${ctx.repo}${ctx.ref ? (isDigest(ctx.ref) ? '@' : ':') + ctx.ref : ''}`;
  const o = { status, repository: ctx.repo || undefined, reference: ctx.ref || undefined } as const;
  const detail = remoteMessage ? `: ${remoteMessage}` : '';
  if (status === 401) return new OciError('UNAUTHORIZED', `${what}: unauthorized${detail}`, o);
  if (status === 403) return new OciError('DENIED', `${what}: access denied${detail}`, o);
  if (status === 404) {
    const known: Record<string, OciErrorCode> = { MANIFEST_UNKNOWN: 'MANIFEST_UNKNOWN', BLOB_UNKNOWN: 'BLOB_UNKNOWN', NAME_UNKNOWN: 'NAME_UNKNOWN' };
    const code = (remote ? known[remote] : undefined) ?? (ctx.kind === 'blob' ? 'BLOB_UNKNOWN' : ctx.kind === 'manifest' ? 'MANIFEST_UNKNOWN' : 'NAME_UNKNOWN');
    return new OciError(code, `${what}: not found${detail}`, o);
  }
  if (status === 429) return new OciError('TOO_MANY_REQUESTS', `${what}: rate limited by the registry`, o);
  if (status >= 500) return new OciError('UPSTREAM_UNAVAILABLE', `${what}: registry answered ${status}${detail}`, o);
  if (status === 406 || status === 415) return new OciError('UNSUPPORTED_MEDIA_TYPE', `${what}: registry cannot serve an accepted media type (${status})`, o);
  return new OciError('PROTOCOL_ERROR', `${what}: unexpected HTTP ${status}${detail}`, o);
}

function networkError(err: unknown, url: string): OciError {
  if (err instanceof OciError) return err;
  const e = err as { code?: string; name?: string; message?: string };
  const where = new URL(url).host;
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR') return new OciError('ABORTED', `request to ${where} aborted`, { cause: err });
  if (e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new OciError('TIMEOUT', `request to ${where} timed out (${e.code})`, { cause: err });
  }
  const code = e?.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) {
    return new OciError('UPSTREAM_UNAVAILABLE', `TLS to ${where} failed (${code}); configure its CA or, for tests, insecure TLS`, { cause: err, retryable: false });
  }
  return new OciError('UPSTREAM_UNAVAILABLE', `cannot reach ${where}: ${e?.message ?? String(err)}`, { cause: err });
}
