// Pull side of the OCI distribution spec v1.1 over a ContentStore, as a node:http request handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Counter, type Registry } from '@uplink/observability';
import { isDigest, isRepository, isTag, sha256Digest } from './digest.js';
import { isOciError } from './errors.js';
import { MediaType, blobsOf, parseManifest, type ParsedManifest } from './manifest.js';
import type { ContentStore, StoredManifest } from './store.js';
import type { PullThrough } from './pull-through.js';
import type { OciLogger } from './logger.js';

export interface RegistryHandlerOptions {
  store: ContentStore;
  /** accept blob uploads, manifest pushes and manifest/tag deletes; otherwise they answer 405 UNSUPPORTED @default false */
  allowPush?: boolean;
  logger?: OciLogger;
  /** registers `<prefix>requests_total{method,route,status}` and `<prefix>bytes_served_total` */
  metrics?: Registry;
  /** @default 'uplink_registry_' */
  metricsPrefix?: string;
  /**
   * Map the repository a client asked for, and the registry it named with `?ns=<host>` (containerd
   * mirrors send it), to the repository in the store. @default the name as sent, `ns` ignored
   */
  resolveRepository?: (name: string, ns: string | undefined) => string;
  /** fetch manifests and blobs the store lacks from an upstream (see createPullThrough) @default none */
  pullThrough?: PullThrough;
}

export interface RegistryCounters {
  requests: number;
  /** body bytes sent (manifests, blobs, listings) */
  bytesServed: number;
  /** requests per route: ping, manifest, blob, tags, catalog, referrers, other */
  byRoute: Record<string, number>;
  /** responses per status code */
  byStatus: Record<string, number>;
}

export interface RegistryHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  counters(): RegistryCounters;
}

/** The spec's error codes, and the statuses they go with. */
const SPEC_ERRORS = {
  NAME_UNKNOWN: 404,
  NAME_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  BLOB_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  TAG_INVALID: 400,
  UNSUPPORTED: 405,
  RANGE_INVALID: 416,
  MANIFEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  SIZE_INVALID: 400,
  PAGINATION_NUMBER_INVALID: 400,
  NOT_FOUND: 404,
  UNKNOWN: 500,
} as const;
type SpecError = keyof typeof SPEC_ERRORS;

const ROUTE = /^\/v2\/(.+)\/(manifests|blobs|tags|referrers)\/([^/]*)$/;
const UPLOAD_ROUTE = /^\/v2\/(.+)\/blobs\/uploads\/([a-f0-9]*)$/;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_PAGE = 10_000;

export function createRegistryHandler(opts: RegistryHandlerOptions): RegistryHandler {
  const { store, logger } = opts;
  const counters: RegistryCounters = { requests: 0, bytesServed: 0, byRoute: {}, byStatus: {} };
  const prefix = opts.metricsPrefix ?? 'uplink_registry_';
  // a second handler on the same registry (a restart in-process) shares the counters
  const counter = (name: string, help: string, labelNames: string[]) =>
    opts.metrics
      ? ((opts.metrics.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [opts.metrics] }))
      : undefined;
  const requestsMetric = counter(`${prefix}requests_total`, 'registry requests', ['method', 'route', 'status']);
  const bytesMetric = counter(`${prefix}bytes_served_total`, 'registry body bytes sent', []);

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const method = req.method ?? 'GET';
    let route = 'other';
    let served = 0;
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const origWrite = res.write.bind(res);
    const countChunk = (chunk: unknown) => {
      if (typeof chunk === 'string') served += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) served += chunk.length;
    };
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      countChunk(chunk);
      return (origWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof res.write;
    const origEnd = res.end.bind(res);
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (chunk && typeof chunk !== 'function') countChunk(chunk);
      return (origEnd as (...a: unknown[]) => ServerResponse)(chunk, ...rest);
    }) as typeof res.end;
    res.once('close', () => {
      counters.requests++;
      counters.bytesServed += served;
      counters.byRoute[route] = (counters.byRoute[route] ?? 0) + 1;
      counters.byStatus[res.statusCode] = (counters.byStatus[res.statusCode] ?? 0) + 1;
      requestsMetric?.inc({ method, route, status: String(res.statusCode) });
      bytesMetric?.inc(served);
      logger?.debug({ method, url: req.url, route, status: res.statusCode, bytes: served, ms: Math.round(performance.now() - started), userAgent: req.headers['user-agent'] }, 'registry request');
    });

    void (async () => {
      const rawUrl = req.url ?? '/';
      const q = rawUrl.indexOf('?');
      const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
      const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
      const isHead = method === 'HEAD';
      const fail = (code: SpecError, message: string, detail?: unknown, headers: Record<string, string> = {}) =>
        sendError(res, code, message, detail, headers, isHead);

      // no percent-encoding, dot segments, backslashes or empty segments reach the store
      if (/%|\\|\/\.{1,2}(\/|$)|\/\//.test(rawPath)) {
        route = 'invalid';
        return fail('NAME_INVALID', 'invalid path', { path: rawPath });
      }
      const upload = UPLOAD_ROUTE.exec(rawPath);
      if (upload) {
        route = 'upload';
        if (!opts.allowPush) return unsupported();
        if (!isRepository(upload[1]!)) return fail('NAME_INVALID', 'invalid repository name', { name: upload[1] });
        return serveUpload(upload[1]!, upload[2]!);
      }
      if (method === 'PUT' || method === 'DELETE') {
        const m = ROUTE.exec(rawPath);
        if (opts.allowPush && m && m[2] === 'manifests') {
          route = 'manifest';
          if (!isRepository(m[1]!)) return fail('NAME_INVALID', 'invalid repository name', { name: m[1] });
          return method === 'PUT' ? putManifest(m[1]!, m[3]!) : deleteManifest(m[1]!, m[3]!);
        }
      }
      // read-only otherwise: every upload, mount and delete endpoint answers the same
      if (method !== 'GET' && method !== 'HEAD') {
        route = 'push';
        return unsupported();
      }
      if (rawPath === '/v2' || rawPath === '/v2/') {
        route = 'ping';
        return sendJson(res, 200, {}, isHead);
      }
      if (rawPath === '/v2/_catalog') {
        route = 'catalog';
        const page = paginate(await store.listRepositories(), query);
        if (!page) return fail('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer');
        if (page.next) res.setHeader('Link', `</v2/_catalog?n=${page.n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
        return sendJson(res, 200, { repositories: page.items }, isHead);
      }
      const m = ROUTE.exec(rawPath);
      if (!m) {
        route = 'other';
        return fail('NOT_FOUND', 'no such endpoint', { path: rawPath });
      }
      const [, name, kind, ref] = m as unknown as [string, string, string, string];
      route = kind === 'manifests' ? 'manifest' : kind === 'blobs' ? 'blob' : kind;
      if (!isRepository(name)) return fail('NAME_INVALID', 'invalid repository name', { name });
      const ns = query.get('ns') || undefined;
      // the store's name for what the client asked; `name` stays what the client sees in answers
      const repo = opts.resolveRepository ? opts.resolveRepository(name, ns) : name;
      if (!isRepository(repo)) return fail('NAME_INVALID', 'invalid repository name', { name });
      const pull = opts.pullThrough?.allows(name, ns) ? { pt: opts.pullThrough, req: { repository: repo, name, ns } } : undefined;

      switch (kind) {
        case 'manifests': {
          if (!isDigest(ref) && !isTag(ref)) {
            return ref.includes(':') ? fail('DIGEST_INVALID', 'only sha256 digests are supported', { digest: ref }) : fail('TAG_INVALID', 'invalid tag', { tag: ref });
          }
          let man: StoredManifest;
          try {
            man = await store.getManifest(repo, ref);
            // a tag pull-through brought in follows its upstream (after a TTL, never failing the request)
            if (pull && isTag(ref)) man = await pull.pt.revalidate(pull.req, ref, man);
            opts.pullThrough?.touch(repo, man.digest);
          } catch (err) {
            if (!pull || !(isOciError(err, 'NAME_UNKNOWN') || isOciError(err, 'MANIFEST_UNKNOWN'))) throw err;
            man = await pull.pt.manifest(pull.req, ref);
          }
          res.writeHead(200, {
            'Content-Type': man.mediaType,
            'Content-Length': String(man.size),
            'Docker-Content-Digest': man.digest,
            ETag: `"${man.digest}"`,
          });
          res.end(isHead ? undefined : man.bytes);
          return;
        }
        case 'blobs': {
          if (!isDigest(ref)) return fail('DIGEST_INVALID', 'invalid digest', { digest: ref });
          if (!pull && !(await store.hasRepository(repo))) return fail('NAME_UNKNOWN', 'repository name not known to registry', { name });
          let size = await store.blobSize(ref);
          const rangeHeader = req.headers.range;
          if (size === undefined && pull) {
            if (!isHead && rangeHeader === undefined) return pull.pt.serveBlob(pull.req, ref, res);
            await pull.pt.fetchBlob(pull.req, ref);
            size = await store.blobSize(ref);
          }
          if (size === undefined) return fail('BLOB_UNKNOWN', 'blob unknown to registry', { digest: ref });
          let start = 0;
          let end = size - 1;
          let partial = false;
          if (rangeHeader !== undefined) {
            const r = parseRange(rangeHeader, size);
            if (!r) return fail('RANGE_INVALID', `invalid range ${rangeHeader} for ${size} bytes`, { range: rangeHeader }, { 'Content-Range': `bytes */${size}` });
            ({ start, end } = r);
            partial = true;
          }
          const headers: Record<string, string> = {
            'Content-Type': 'application/octet-stream',
            'Content-Length': String(end - start + 1),
            'Docker-Content-Digest': ref,
            ETag: `"${ref}"`,
            'Accept-Ranges': 'bytes',
          };
          if (partial) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
          if (isHead || size === 0) {
            res.writeHead(partial ? 206 : 200, headers);
            res.end();
            return;
          }
          const reader = await store.openBlob(ref, { start, end });
          res.writeHead(partial ? 206 : 200, headers);
          await pipeline(reader.stream, res).catch(() => reader.stream.destroy());
          return;
        }
        case 'tags': {
          if (ref !== 'list') return fail('NOT_FOUND', 'no such endpoint', { path: rawPath });
          const tags = await store.listTags(repo);
          const page = paginate(tags, query);
          if (!page) return fail('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer');
          if (page.next) res.setHeader('Link', `</v2/${name}/tags/list?n=${page.n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
          return sendJson(res, 200, { name, tags: page.items }, isHead);
        }
        case 'referrers': {
          if (!isDigest(ref)) return fail('DIGEST_INVALID', 'invalid digest', { digest: ref });
          if (!(await store.hasRepository(repo))) return fail('NAME_UNKNOWN', 'repository name not known to registry', { name });
          const artifactType = query.get('artifactType') ?? undefined;
          const manifests = await store.referrers(repo, ref, artifactType);
          if (artifactType !== undefined) res.setHeader('OCI-Filters-Applied', 'artifactType');
          const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests }));
          res.writeHead(200, { 'Content-Type': MediaType.OCI_INDEX, 'Content-Length': String(body.length) });
          res.end(body);
          return;
        }
        default:
          return fail('NOT_FOUND', 'no such endpoint', { path: rawPath });
      }

      async function serveUpload(name: string, id: string) {
        const location = (uid: string) => `/v2/${name}/blobs/uploads/${uid}`;
        const accepted = (uid: string, size: number) => {
          res.writeHead(202, { Location: location(uid), Range: `0-${Math.max(0, size - 1)}`, 'Docker-Upload-UUID': uid, 'Content-Length': '0' });
          res.end();
        };
        const created = (digest: string) => {
          res.writeHead(201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': '0' });
          res.end();
        };
        const commit = async (uid: string, digest: string | null) => {
          if (!digest || !isDigest(digest)) {
            await store.cancelUpload(uid);
            return fail('DIGEST_INVALID', 'a sha256 digest is required to finish an upload', { digest });
          }
          try {
            await store.commitUpload(uid, digest);
          } catch (err) {
            if (isOciError(err, 'DIGEST_MISMATCH')) return fail('DIGEST_INVALID', 'uploaded content does not match the digest', { digest });
            throw err;
          }
          return created(digest);
        };
        if (method === 'POST' && id === '') {
          const mount = query.get('mount');
          if (mount && isDigest(mount) && (await store.hasBlob(mount))) return created(mount);
          const uid = await store.beginUpload();
          const digest = query.get('digest');
          if (digest !== null) {
            await store.appendUpload(uid, req);
            return commit(uid, digest);
          }
          return accepted(uid, 0);
        }
        if (id === '') return fail('BLOB_UPLOAD_UNKNOWN', 'upload id required');
        const size = await store.uploadSize(id);
        if (size === undefined) return fail('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { id });
        switch (method) {
          case 'GET':
          case 'HEAD':
            res.writeHead(204, { Location: location(id), Range: `0-${Math.max(0, size - 1)}`, 'Docker-Upload-UUID': id });
            res.end();
            return;
          case 'PATCH': {
            const cr = req.headers['content-range'];
            const start = cr ? /^(?:bytes[ =])?(\d+)-\d+$/.exec(cr)?.[1] : undefined;
            if (cr && Number(start) !== size) return fail('RANGE_INVALID', `upload is at ${size} bytes`, { range: cr }, { Range: `0-${Math.max(0, size - 1)}` });
            return accepted(id, await store.appendUpload(id, req));
          }
          case 'PUT':
            await store.appendUpload(id, req);
            return commit(id, query.get('digest'));
          case 'DELETE':
            await store.cancelUpload(id);
            res.writeHead(204);
            res.end();
            return;
          default:
            return unsupported();
        }
      }

      async function putManifest(name: string, ref: string) {
        if (!isDigest(ref) && !isTag(ref)) return ref.includes(':') ? fail('DIGEST_INVALID', 'invalid digest', { digest: ref }) : fail('TAG_INVALID', 'invalid tag', { tag: ref });
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const c of req as AsyncIterable<Buffer>) {
          size += c.length;
          if (size > MAX_MANIFEST_BYTES) return fail('SIZE_INVALID', `manifests are limited to ${MAX_MANIFEST_BYTES} bytes`);
          chunks.push(c);
        }
        const bytes = Buffer.concat(chunks);
        const digest = sha256Digest(bytes);
        if (isDigest(ref) && ref !== digest) return fail('DIGEST_INVALID', 'manifest does not match the digest in the URL', { digest: ref });
        let parsed: ParsedManifest;
        try {
          parsed = parseManifest(bytes, req.headers['content-type']);
        } catch (err) {
          return fail('MANIFEST_INVALID', (err as Error).message);
        }
        for (const child of parsed.manifests) {
          if (!(await store.hasManifest(name, child.digest))) return fail('MANIFEST_BLOB_UNKNOWN', 'a referenced manifest is not in the repository', { digest: child.digest });
        }
        for (const b of blobsOf(parsed)) {
          if (!(await store.hasBlob(b.digest))) return fail('MANIFEST_BLOB_UNKNOWN', 'a referenced blob is not in the registry', { digest: b.digest });
        }
        await store.putManifest(name, bytes, parsed.mediaType, isTag(ref) ? [ref] : []);
        const headers: Record<string, string> = { Location: `/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': '0' };
        if (parsed.subject) headers['OCI-Subject'] = parsed.subject.digest;
        res.writeHead(201, headers);
        res.end();
      }

      async function deleteManifest(name: string, ref: string) {
        const done = isDigest(ref) ? await store.deleteManifest(name, ref) : isTag(ref) ? await store.untag(name, ref) : undefined;
        if (done === undefined) return fail('DIGEST_INVALID', 'invalid reference', { reference: ref });
        if (!done) return fail('MANIFEST_UNKNOWN', 'manifest unknown to registry', { reference: ref });
        res.writeHead(202, { 'Content-Length': '0' });
        res.end();
      }

      function unsupported() {
        return fail('UNSUPPORTED', 'this registry is read-only: push and delete are not supported', { method }, { Allow: 'GET, HEAD' });
      }
    })().catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (isOciError(err)) {
        const code = err.code === 'NAME_UNKNOWN' || err.code === 'MANIFEST_UNKNOWN' || err.code === 'BLOB_UNKNOWN' || err.code === 'NAME_INVALID' || err.code === 'DIGEST_INVALID' || err.code === 'TAG_INVALID' ? err.code : 'UNKNOWN';
        sendError(res, code, err.message, undefined, {}, method === 'HEAD');
        return;
      }
      logger?.warn({ err: (err as Error).message, url: req.url }, 'registry request failed');
      sendError(res, 'UNKNOWN', 'internal error', undefined, {}, method === 'HEAD');
    });
  }) as RegistryHandler;
  handler.counters = () => ({ ...counters, byRoute: { ...counters.byRoute }, byStatus: { ...counters.byStatus } });
  return handler;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headOnly: boolean) {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(bytes.length) });
  res.end(headOnly ? undefined : bytes);
}

function sendError(res: ServerResponse, code: SpecError, message: string, detail: unknown, headers: Record<string, string>, headOnly: boolean) {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  sendJson(res, SPEC_ERRORS[code], { errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }] }, headOnly);
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n`; one range only. undefined when unsatisfiable or malformed. */
export function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m as unknown as [string, string, string];
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return undefined;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return undefined;
  return { start, end };
}

function paginate(all: string[], query: URLSearchParams): { items: string[]; n: number; next: string | undefined } | undefined {
  const nRaw = query.get('n');
  let n = MAX_PAGE;
  if (nRaw !== null) {
    if (!/^\d+$/.test(nRaw)) return undefined;
    n = Math.min(Number(nRaw), MAX_PAGE);
  }
  const last = query.get('last');
  const rest = last === null ? all : all.filter((x) => x > last);
  const items = rest.slice(0, n);
  const next = rest.length > items.length && items.length > 0 ? items[items.length - 1] : undefined;
  return { items, n, next };
}
