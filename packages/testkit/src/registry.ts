// A real upstream registry for tests: the Debian `docker-registry` (distribution 2.8) on a free port,
// anonymous, with htpasswd basic auth, or with bearer tokens from a token service started here.
import { createHash, randomBytes, sign, X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startProcess, tempDir, type Proc, type TempDir } from './process.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);
const REGISTRY_BIN = process.env.UPLINK_DOCKER_REGISTRY ?? '/usr/bin/docker-registry';

export type RegistryAuth = 'none' | 'basic' | 'token';

export interface UpstreamRegistryOptions {
  /** @default 'none' */
  auth?: RegistryAuth;
  /** storage directory, kept after the registry stops @default a temp dir removed on dispose */
  dir?: string;
  /** @default 'uplink' */
  username?: string;
  /** @default 'uplink-secret' */
  password?: string;
  /** lifetime of issued tokens (auth 'token') @default 300 */
  tokenTtlSeconds?: number;
  /** port to listen on @default a free port */
  port?: number;
}

export interface TokenService {
  url: string;
  /** tokens issued so far */
  issued(): number;
  /** scopes asked for, in order */
  scopes(): string[];
}

export interface UpstreamRegistry extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>`, for docker:// references */
  host: string;
  port: number;
  /** storage root (`rootdirectory` of the registry config) */
  dir: string;
  auth: RegistryAuth;
  /** set for auth 'basic' and 'token' */
  credentials: { username: string; password: string } | undefined;
  tokenService: TokenService | undefined;
  /** the file holding a blob's bytes in the registry's storage, e.g. to corrupt it */
  blobDataPath(digest: string): string;
  stop(): Promise<void>;
  /** start again on the same port with the same data */
  restart(): Promise<void>;
}

export async function startUpstreamRegistry(opts: UpstreamRegistryOptions = {}): Promise<UpstreamRegistry> {
  const auth = opts.auth ?? 'none';
  const username = opts.username ?? 'uplink';
  const password = opts.password ?? 'uplink-secret';
  const work: TempDir = await tempDir('uplink-registry-');
  const dir = opts.dir ?? join(work.path, 'storage');
  await mkdir(dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;

  let authYaml = '';
  let tokenServer: { service: TokenService; close(): Promise<void> } | undefined;
  if (auth === 'basic') {
    const htpasswd = join(work.path, 'htpasswd');
    await writeFile(htpasswd, `${username}:${await bcryptHash(password)}\n`);
    authYaml = `auth:\n  htpasswd:\n    realm: uplink-test\n    path: ${htpasswd}\n`;
  } else if (auth === 'token') {
    tokenServer = await startTokenService({ dir: work.path, username, password, ttlSeconds: opts.tokenTtlSeconds ?? 300 });
    authYaml =
      `auth:\n  token:\n    realm: ${tokenServer.service.url}\n    service: uplink-test-registry\n` +
      `    issuer: uplink-testkit\n    rootcertbundle: ${join(work.path, 'token-cert.pem')}\n`;
  }
  const config = join(work.path, 'config.yml');
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}\n  delete:\n    enabled: true\n` +
      `http:\n  addr: ${host}\n  secret: uplink-testkit-secret\n${authYaml}`,
  );

  let proc: Proc | undefined;
  const start = async () => {
    const p = startProcess(REGISTRY_BIN, ['serve', config]);
    proc = p;
    await waitFor(
      async () => {
        if (p.child.exitCode !== null) throw new Error(`docker-registry exited: ${p.output()}`);
        const status = await httpStatus(`${url}/v2/`);
        return status === 200 || status === 401;
      },
      { what: `docker-registry on ${host}`, timeoutMs: 15_000, intervalMs: 25 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${p.output()}`, { cause: err });
    });
  };
  const stop = async () => {
    await proc?.stop();
    proc = undefined;
  };
  await start();

  return {
    url,
    host,
    port,
    dir,
    auth,
    credentials: auth === 'none' ? undefined : { username, password },
    tokenService: tokenServer?.service,
    blobDataPath: (digest) => {
      const hex = digest.replace(/^sha256:/, '');
      return join(dir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    },
    stop,
    async restart() {
      await stop();
      await start();
    },
    async [Symbol.asyncDispose]() {
      await stop();
      await tokenServer?.close();
      await work[Symbol.asyncDispose]();
    },
  };
}

function httpStatus(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(1_000, () => req.destroy());
  });
}

/** bcrypt through the system's crypt(3) (libxcrypt), reached from python3's crypt module. */
async function bcryptHash(password: string): Promise<string> {
  const script = 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))';
  const { stdout } = await run('python3', ['-W', 'ignore', '-c', script, password]).catch((err: unknown) => {
    throw new Error(`basic auth needs a bcrypt hash and python3's crypt module could not make one: ${(err as Error).message}`, { cause: err });
  });
  const hash = stdout.trim();
  if (!/^\$2[aby]\$/.test(hash)) throw new Error(`crypt(3) did not produce a bcrypt hash: ${hash}`);
  return hash;
}

/**
 * The Docker token protocol: GET ?service=&scope= with basic credentials -> a JWT (ES256) whose `x5c`
 * header carries the certificate the registry trusts through `rootcertbundle`.
 */
async function startTokenService(o: { dir: string; username: string; password: string; ttlSeconds: number }) {
  const keyPath = join(o.dir, 'token-key.pem');
  const certPath = join(o.dir, 'token-cert.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=uplink-testkit-token',
  ]);
  const key = await readFile(keyPath, 'utf8');
  const cert = new X509Certificate(await readFile(certPath));
  const x5c = cert.raw.toString('base64');
  let issued = 0;
  const scopes: string[] = [];
  const expected = `Basic ${Buffer.from(`${o.username}:${o.password}`).toString('base64')}`;
  const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="uplink-token"', 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
      return;
    }
    const scope = u.searchParams.getAll('scope').join(' ');
    scopes.push(scope);
    const access = scope
      .split(' ')
      .filter(Boolean)
      .map((s) => {
        const parts = s.split(':');
        const actions = parts.pop() ?? '';
        const type = parts.shift() ?? '';
        return { type, name: parts.join(':'), actions: actions.split(',').filter(Boolean) };
      });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'JWT', x5c: [x5c] };
    const claims = {
      iss: 'uplink-testkit',
      sub: o.username,
      aud: u.searchParams.get('service') ?? '',
      exp: now + o.ttlSeconds,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${signingInput}.${b64url(signature)}`;
    issued++;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: o.ttlSeconds, issued_at: new Date(now * 1000).toISOString() }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    service: { url: `http://127.0.0.1:${port}/token`, issued: () => issued, scopes: () => [...scopes] } satisfies TokenService,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** sha256 of bytes as an OCI digest (used by the image builder too) */
export function digestOf(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
