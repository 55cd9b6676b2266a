// `uplink edge` as a library: register (or load the stored credentials), hand the leaf nats-server
// its credentials through a runtime file off persistent storage, supervise the leaf, run the site's
// processes (satellite, forwarder, executor) in this process, and renew the credentials after two
// thirds of their lifetime. The hub drops the leaf when the old JWT expires; the leaf then reconnects
// within a second with the renewed file (re-read at every reconnect).
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExecutorEnv, ForwarderEnv, SatelliteEnv, loadEnv } from '@uplink/contracts';
import { backoffDelay, sleep } from '@uplink/bus';
import { createNKey, describeJwt, renderCreds } from '@uplink/nats-auth';
import type { Logger } from '@uplink/observability';
import { startSatellite, type SatelliteHandle } from '@uplink/satellite';
import { startForwarder, type ForwarderHandle } from '@uplink/forwarder';
import { createStandaloneHost, startExecutor, type ExecutorHandle } from '@uplink/executor';
import { createSiteHost } from './host.js';
import { startLeaf, type NatsServer } from '@uplink/testkit';
import { CliError } from '../errors.js';
import { openCredentialStore, type StoredCredentials } from './credential-store.js';
import { renewCredentials, registerDevice, type RetryOptions } from './ground-control.js';
import { systemIdentity, type IdentityProvider } from './identity.js';

export interface EdgePorts {
  /** client port of the leaf nats-server @default 4222 */
  leaf?: number;
  /** monitoring port of the leaf @default 8222 */
  leafMonitor?: number;
  /** local OCI registry @default 5050 */
  registry?: number;
  /** satellite status API @default 5051 */
  status?: number;
  /** forwarder status API @default 5052 */
  forwarder?: number;
}

export interface EdgeOptions {
  logger: Logger;
  /** where state, store and the encrypted credentials live @default /var/lib/uplink */
  dataDir: string;
  /** ground control (gateway) base URL; required to register, stored for renewals */
  groundControl?: string;
  /** one-time join token; used only when there are no usable credentials yet */
  token?: string;
  /** where the decrypted creds file lives (tmpfs) @default $XDG_RUNTIME_DIR/uplink, /run/uplink or /dev/shm/uplink-<uid> */
  runtimeDir?: string;
  /** @default the machine's machine-id, MAC and disk */
  identity?: IdentityProvider;
  ports?: EdgePorts;
  /** root of the runtime mirror config @default / */
  runtimeRoot?: string;
  /** runtimes whose mirror config the satellite writes */
  mirrors?: string;
  /** @default info */
  logLevel?: string;
  /** renew after this fraction of the JWT lifetime @default 2/3 */
  renewFraction?: number;
  /** backoff of registration and renewal @default { initialMs: 5_000, maxMs: 300_000 } */
  retry?: { initialMs?: number; maxMs?: number };
  /** run only the leaf, not the site processes (tests) @default true */
  services?: boolean;
  /** satellite catch-up interval (s) @default 30 */
  catchupIntervalS?: number;
}

export interface EdgeHandle extends AsyncDisposable {
  readonly satellite: string;
  readonly leaf: NatsServer;
  readonly runtimeCredsFile: string;
  readonly satelliteHandle: SatelliteHandle | undefined;
  credentials(): StoredCredentials;
  /** renew now (also what the timer does) */
  renewNow(): Promise<void>;
  close(): Promise<void>;
}

/** Whether `dir` is on a memory filesystem (tmpfs, ramfs), from /proc/self/mounts; false when unknown. */
async function onTmpfs(dir: string): Promise<boolean> {
  try {
    const mounts = (await readFile('/proc/self/mounts', 'utf8'))
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 2)
      .map((f) => ({ at: f[1]!.replace(/\\040/g, ' '), type: f[2]! }));
    const best = mounts.filter((m) => dir === m.at || dir.startsWith(m.at.endsWith('/') ? m.at : `${m.at}/`)).sort((a, b) => b.at.length - a.at.length)[0];
    return best?.type === 'tmpfs' || best?.type === 'ramfs';
  } catch {
    return false;
  }
}

export function defaultRuntimeDir(): string {
  if (process.env.XDG_RUNTIME_DIR) return join(process.env.XDG_RUNTIME_DIR, 'uplink');
  if (process.getuid?.() === 0) return '/run/uplink';
  return `/dev/shm/uplink-${process.getuid?.() ?? 'user'}`;
}

export async function startEdge(opts: EdgeOptions): Promise<EdgeHandle> {
  const log = opts.logger;
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const identity = opts.identity ?? systemIdentity(opts.dataDir);
  const store = openCredentialStore(join(opts.dataDir, 'credentials.enc'), identity);
  const abort = new AbortController();
  const retryOpts: RetryOptions = { logger: log, signal: abort.signal, ...opts.retry };

  let creds: StoredCredentials | undefined;
  try {
    creds = await store.load();
  } catch (err) {
    // unreadable here: a fresh token may register this machine anew
    if (!opts.token) throw err;
    log.warn({ err: (err as Error).message }, 'stored credentials unusable; registering again with the given token');
  }
  if (creds && opts.token) log.info({ satellite: creds.satellite }, 'already registered: the join token is not used');
  if (!creds) {
    if (!opts.token || !opts.groundControl) {
      throw new CliError(`no credentials in ${store.file}: register with --token <join token> --ground-control <url>`, { code: 'NOT_REGISTERED', exitCode: 2 });
    }
    const device = createNKey('user');
    log.info({ groundControl: opts.groundControl, publicKey: device.publicKey }, 'registering');
    // what the operator sees of the hardware: the host name and a digest of the machine identity
    const id = await identity();
    const fingerprint = `${hostname()} ${createHash('sha256').update(`${id.machineId}\0${id.mac}\0${id.disk}`).digest('hex').slice(0, 16)}`;
    const got = await registerDevice(opts.groundControl, { token: opts.token, device, fingerprint }, retryOpts);
    creds = { ...got, seed: device.seed, groundControl: opts.groundControl };
    await store.save(creds);
    log.info({ satellite: creds.satellite, expiresAt: creds.expiresAt }, 'registered');
  }
  let current: StoredCredentials = creds;
  const sat = current.satellite;
  const slog = log.child({ satellite: sat });

  // the decrypted creds only on a tmpfs, readable by this user alone
  const runtimeDir = join(opts.runtimeDir ?? defaultRuntimeDir(), sat);
  await mkdir(runtimeDir, { recursive: true, mode: 0o700 });
  const runtimeCredsFile = join(runtimeDir, 'leaf.creds');
  const writeRuntime = async (c: StoredCredentials) => {
    await writeFile(`${runtimeCredsFile}.tmp`, renderCreds(c.jwt, c.seed), { mode: 0o600 });
    await rename(`${runtimeCredsFile}.tmp`, runtimeCredsFile);
    if (c.caBundle) await writeFile(join(runtimeDir, 'hub-ca.pem'), c.caBundle, { mode: 0o600 });
  };
  await writeRuntime(current);
  if (!(await onTmpfs(runtimeDir))) slog.warn({ runtimeDir }, 'the runtime dir is not on a tmpfs: decrypted leaf credentials may reach persistent storage (set --runtime-dir)');

  const ports = opts.ports ?? {};
  const leafOpts = {
    name: sat,
    hubLeafUrl: current.hub.leafUrl,
    dir: join(opts.dataDir, 'leaf'),
    port: ports.leaf ?? 4222,
    monitorPort: ports.leafMonitor ?? 8222,
    credentials: runtimeCredsFile,
    ...(current.caBundle ? { remoteExtra: `    tls { ca_file: ${JSON.stringify(join(runtimeDir, 'hub-ca.pem'))} }\n` } : {}),
  };
  const leaf = await startLeaf(leafOpts);
  slog.info({ leaf: leaf.url, hub: current.hub.leafUrl }, 'leaf nats-server started');

  // supervise the leaf: restart it with backoff whenever it exits on its own
  const supervisor = (async () => {
    let restarts = 0;
    while (!abort.signal.aborted) {
      const code = await Promise.race([leaf.proc.exited, new Promise<'stop'>((r) => abort.signal.addEventListener('abort', () => r('stop'), { once: true }))]);
      if (code === 'stop' || abort.signal.aborted) return;
      restarts++;
      slog.error({ code, restarts }, 'leaf nats-server exited; restarting');
      await sleep(backoffDelay(restarts, { initialMs: 1_000, maxMs: 30_000 }), abort.signal);
      if (abort.signal.aborted) return;
      try {
        await leaf.restart();
      } catch (err) {
        slog.error({ err: (err as Error).message }, 'leaf nats-server failed to restart');
      }
    }
  })();

  let satellite: SatelliteHandle | undefined;
  let forwarder: ForwarderHandle | undefined;
  let executor: ExecutorHandle | undefined;
  const closeServices = async () => {
    await Promise.allSettled([executor?.close(), forwarder?.close()]);
    await satellite?.close();
  };
  if (opts.services !== false) {
    const common = { SATELLITE_NAME: sat, NATS_URL: leaf.url, LEAF_MONITOR_URL: leaf.monitorUrl, LOG_LEVEL: opts.logLevel ?? 'info' };
    try {
      forwarder = await startForwarder(loadEnv(ForwarderEnv, { ...common, HUB_DOMAIN: current.hub.domain, STATUS_PORT: String(ports.forwarder ?? 5052) }), {
        logger: slog.child({ service: 'forwarder' }),
      });
      satellite = await startSatellite(
        loadEnv(SatelliteEnv, {
          ...common,
          HUB_DOMAIN: current.hub.domain,
          DATA_DIR: join(opts.dataDir, 'satellite'),
          STATUS_PORT: String(ports.status ?? 5051),
          REGISTRY_PORT: String(ports.registry ?? 5050),
          RUNTIME_ROOT: opts.runtimeRoot ?? '/',
          CATCHUP_INTERVAL_S: String(opts.catchupIntervalS ?? 30),
          REGISTRY_CREDENTIALS: JSON.stringify(current.registryCredentials),
          // OUTBOX depth and drops in the heartbeat
          FORWARDER_STATUS_URL: forwarder.statusUrl,
          ...(opts.mirrors ? { MIRRORS: opts.mirrors } : {}),
        }),
        { logger: slog.child({ service: 'satellite' }) },
      );
      if (current.commandSigningKey) {
        const executorLog = slog.child({ service: 'executor' });
        executor = await startExecutor(
          loadEnv(ExecutorEnv, {
            ...common,
            COMMAND_SIGNING_KEY: current.commandSigningKey,
            DATA_DIR: join(opts.dataDir, 'executor'),
            SATELLITE_STATUS_URL: satellite.statusUrl,
          }),
          {
            logger: executorLog,
            host: createSiteHost({
              satellite,
              fallback: createStandaloneHost({ statusUrl: satellite.statusUrl, logger: executorLog, config: { satellite: sat, dataDir: opts.dataDir }, recent: () => [] }),
              // bound late: renewal is set up once the services run
              rotateCredentials: () => renewNow(),
            }),
          },
        );
      } else {
        slog.warn('ground control sent no command-signing key: commands are not run on this site');
      }
    } catch (err) {
      abort.abort();
      await closeServices();
      await leaf.stop();
      await rm(runtimeDir, { recursive: true, force: true });
      throw err;
    }
  }

  // renewal after two thirds of the lifetime (at once when already past it)
  let renewing: Promise<void> | undefined;
  const renewNow = () =>
    (renewing ??= (async () => {
      try {
        const got = await renewCredentials(current.groundControl, { satellite: sat, device: { publicKey: describeJwt(current.jwt).subject, seed: current.seed } }, retryOpts);
        // a Harbor robot's secret comes only with the registration: keep what renewal does not repeat
        current = { ...got, registryCredentials: { ...current.registryCredentials, ...got.registryCredentials }, seed: current.seed, groundControl: current.groundControl };
        await store.save(current);
        await writeRuntime(current);
        slog.info({ expiresAt: current.expiresAt }, 'credentials renewed');
      } finally {
        renewing = undefined;
      }
    })());
  const renewal = (async () => {
    while (!abort.signal.aborted) {
      const j = describeJwt(current.jwt);
      const lifetime = ((j.expiresAt ?? j.issuedAt) - j.issuedAt) * 1000;
      const due = j.issuedAt * 1000 + lifetime * (opts.renewFraction ?? 2 / 3);
      await sleep(Math.max(0, due - Date.now()), abort.signal);
      if (abort.signal.aborted) return;
      try {
        await renewNow();
      } catch (err) {
        if (abort.signal.aborted) return;
        // revoked, or this key is no longer the site's: nothing more to do but keep serving locally
        slog.error({ code: (err as CliError).code, err: (err as Error).message }, 'credentials cannot be renewed; the site stays offline from the hub once they expire');
        return;
      }
    }
  })();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      abort.abort();
      await closeServices();
      await Promise.allSettled([supervisor, renewal]);
      await leaf.stop();
      await rm(runtimeDir, { recursive: true, force: true });
      slog.info('edge stopped');
    })());
  return {
    satellite: sat,
    get leaf() {
      return leaf;
    },
    runtimeCredsFile,
    get satelliteHandle() {
      return satellite;
    },
    credentials: () => current,
    renewNow,
    close,
    [Symbol.asyncDispose]: close,
  };
}
