// Real nats-server hub and leaf nodes, each with its own JetStream domain, on free ports with temp
// stores. Used by tests, benchmarks and `uplink dev`.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startProcess, tempDir, waitForPort, type Proc } from './process.js';

export interface NatsServer extends AsyncDisposable {
  name: string;
  domain: string;
  port: number;
  url: string;
  monitorPort: number;
  monitorUrl: string;
  storeDir: string;
  configFile: string;
  proc: Proc;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** start again on the same ports and store (after stop) */
  restart(): Promise<void>;
}

export interface HubOptions {
  /** @default 'hub' */
  domain?: string;
  /** directory for config and store; a temp dir removed on dispose when unset */
  dir?: string;
  port?: number;
  leafPort?: number;
  monitorPort?: number;
  /** @default 'nats-server' */
  binary?: string;
  /**
   * Operator (decentralized JWT) mode: the operator JWT, its system account and the account JWTs
   * preloaded; a `full` resolver in `<dir>/jwt` keeps JWTs pushed at runtime. @default no auth
   */
  operator?: HubOperatorMode;
  /**
   * Serve the leafnode listener over TLS only; the hub's `leafUrl` is then `tls://…`. Leaves need the
   * CA in their remote's `tls { ca_file }`. @default plain TCP
   */
  leafTls?: HubLeafTls;
}

export interface HubLeafTls {
  /** PEM server certificate (chain) of the leafnode listener; its SAN must name the host leaves dial */
  certFile: string;
  /** PEM private key of `certFile` */
  keyFile: string;
}

export interface HubOperatorMode {
  jwt: string;
  /** public key of the system account */
  systemAccount: string;
  /** account public key -> account JWT */
  preload: Record<string, string>;
}

export interface Hub extends NatsServer {
  leafPort: number;
  leafUrl: string;
  /** operator mode: where the `full` resolver keeps account JWTs (`<ACCOUNT>.jwt` files) */
  resolverDir: string | undefined;
}

export interface LeafOptions {
  /** site name; also its JetStream domain */
  name: string;
  /** leafnode URL of the hub (or of a link proxy in front of it), e.g. nats-leaf://127.0.0.1:7422 */
  hubLeafUrl: string;
  dir?: string;
  port?: number;
  monitorPort?: number;
  binary?: string;
  /** path of the credentials file the remote authenticates with (re-read at every reconnect) */
  credentials?: string;
  /** extra text appended inside the remote block (tls) */
  remoteExtra?: string;
}

async function launch(
  name: string,
  domain: string,
  config: (storeDir: string) => string,
  opts: { dir?: string; port?: number; monitorPort?: number; binary?: string },
): Promise<NatsServer & { ports: { port: number; monitorPort: number } }> {
  const tmp = opts.dir ? undefined : await tempDir(`uplink-nats-${name}-`);
  const dir = opts.dir ?? tmp!.path;
  await mkdir(dir, { recursive: true });
  const storeDir = join(dir, 'jetstream');
  const port = opts.port ?? (await freePort());
  const monitorPort = opts.monitorPort ?? (await freePort());
  const configFile = join(dir, `${name}.conf`);
  await writeFile(
    configFile,
    `server_name: ${JSON.stringify(name)}\nlisten: "127.0.0.1:${port}"\nhttp: "127.0.0.1:${monitorPort}"\nmax_payload: 8MB\n${config(storeDir)}\n`,
  );
  let proc: Proc;
  const start = async () => {
    proc = startProcess(opts.binary ?? 'nats-server', ['-c', configFile]);
    try {
      await Promise.race([
        waitForPort(port),
        proc.exited.then((code) => {
          throw new Error(`nats-server ${name} exited with ${code}: ${proc.output()}`);
        }),
      ]);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
    await waitForPort(monitorPort);
  };
  await start();
  const server = {
    name,
    domain,
    port,
    url: `nats://127.0.0.1:${port}`,
    monitorPort,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    storeDir,
    configFile,
    ports: { port, monitorPort },
    get proc() {
      return proc;
    },
    stop: (signal?: NodeJS.Signals) => proc.stop(signal),
    restart: async () => {
      await proc.stop();
      await start();
    },
    async [Symbol.asyncDispose]() {
      await proc.stop();
      await tmp?.[Symbol.asyncDispose]();
    },
  };
  return server;
}

/** A hub: JetStream domain "hub", a leafnode listener for the sites. */
export async function startHub(opts: HubOptions = {}): Promise<Hub> {
  const domain = opts.domain ?? 'hub';
  const leafPort = opts.leafPort ?? (await freePort());
  const tls = opts.leafTls
    ? // a handshake timeout above the 2 s default: a loaded machine (or a long link) must not fail the link
      `\n  tls { cert_file: ${JSON.stringify(opts.leafTls.certFile)}, key_file: ${JSON.stringify(opts.leafTls.keyFile)}, timeout: 5 }\n`
    : ' ';
  const server = await launch(
    'hub',
    domain,
    (store) =>
      `jetstream { store_dir: ${JSON.stringify(store)}, domain: ${domain} }\nleafnodes { listen: "127.0.0.1:${leafPort}"${tls}}` +
      (opts.operator ? `\n${operatorConfig(opts.operator, join(store, '..', 'jwt'))}` : ''),
    opts,
  );
  return Object.assign(server, {
    leafPort,
    leafUrl: `${opts.leafTls ? 'tls' : 'nats-leaf'}://127.0.0.1:${leafPort}`,
    resolverDir: opts.operator ? join(server.storeDir, '..', 'jwt') : undefined,
  });
}

function operatorConfig(op: HubOperatorMode, resolverDir: string): string {
  const preload = Object.entries(op.preload)
    .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
    .join('\n');
  return (
    `operator: ${JSON.stringify(op.jwt)}\nsystem_account: ${op.systemAccount}\n` +
    // full: JWTs pushed at runtime persist; never deleted through the API
    `resolver: { type: full, dir: ${JSON.stringify(resolverDir)}, allow_delete: false, interval: "2m" }\n` +
    `resolver_preload: {\n${preload}\n}`
  );
}

/** A site's leaf server: its own JetStream domain (the site name), one remote to the hub. */
export async function startLeaf(opts: LeafOptions): Promise<NatsServer> {
  return launch(
    opts.name,
    opts.name,
    (store) =>
      `jetstream { store_dir: ${JSON.stringify(store)}, domain: ${JSON.stringify(opts.name)} }\n` +
      `leafnodes {\n  reconnect: 1\n  remotes: [ {\n    url: ${JSON.stringify(opts.hubLeafUrl)}\n` +
      // local-only subjects and each side's dead letters never cross the WAN (a leaf publish goes to the hub too)
      `    deny_exports: ["uplink.local.>", "uplink.dead.>"]\n    deny_imports: ["uplink.local.>", "uplink.dead.>"]\n` +
      (opts.credentials ? `    credentials: ${JSON.stringify(opts.credentials)}\n` : '') +
      `${opts.remoteExtra ?? ''}  } ]\n}`,
    opts,
  );
}

/** Whether the leaf currently has its link to the hub (from its /leafz monitor endpoint). */
export async function leafConnected(monitorUrl: string): Promise<boolean> {
  const res = await fetch(`${monitorUrl}/leafz`);
  const body = (await res.json()) as { leafnodes?: number };
  return (body.leafnodes ?? 0) > 0;
}
