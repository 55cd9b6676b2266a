// The leaf link over TLS, end to end in JWT mode: the hub serves leafnodes over TLS only with a
// certificate from a private CA; registration hands sites that CA (LEAF_CA_FILE) and a tls:// leaf
// URL; `uplink edge` joins through ZTR, its leaf links over TLS and the site applies its desired
// state. A leaf that does not trust the CA (none given, or another CA) never links.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { startEdge, type EdgeHandle } from '@uplink/cli';
import { freePort, leafConnected, startLeaf, tempDir, waitFor, type NatsServer, type TempDir } from '@uplink/testkit';
import { logger, startJwtSystem, type JwtSystem } from './support/jwt-system.js';

let sys: JwtSystem;
let dir: TempDir;
let edge: EdgeHandle | undefined;
const leaves: NatsServer[] = [];

/** A throwaway CA (key + self-signed cert) in `dir`, and optionally a server certificate it signs for 127.0.0.1. */
function makeCa(at: string, name: string, server?: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-days', '1', '-subj', `/CN=${name}`, '-keyout', join(at, `${name}.key`), '-out', join(at, `${name}.pem`)], { stdio: 'ignore' });
  if (!server) return;
  execFileSync('openssl', ['req', ...ec, '-subj', `/CN=${server}`, '-keyout', join(at, `${server}.key`), '-out', join(at, `${server}.csr`)], { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-req', '-in', join(at, `${server}.csr`), '-CA', join(at, `${name}.pem`), '-CAkey', join(at, `${name}.key`), '-CAcreateserial', '-days', '1', '-extfile', join(at, 'san.ext'), '-out', join(at, `${server}.pem`)], { stdio: 'ignore' });
}

beforeAll(async () => {
  dir = await tempDir('uplink-leaf-tls-');
  await writeFile(join(dir.path, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  makeCa(dir.path, 'uplink-ca', 'hub');
  makeCa(dir.path, 'other-ca');
  sys = await startJwtSystem({
    leafTls: { certFile: join(dir.path, 'hub.pem'), keyFile: join(dir.path, 'hub.key'), caFile: join(dir.path, 'uplink-ca.pem') },
  });
}, 60_000);

afterAll(async () => {
  await edge?.close().catch(() => undefined);
  for (const l of leaves) await Promise.resolve(l[Symbol.asyncDispose]()).catch(() => undefined);
  await sys?.[Symbol.asyncDispose]();
  await dir?.[Symbol.asyncDispose]();
});

/** A leaf for a freshly joined site with the given remote `tls` block text (none when undefined). */
async function siteLeaf(name: string, tls: string | undefined): Promise<NatsServer> {
  const site = await sys.join(name);
  const credentials = join(dir.path, `${name}.creds`);
  await writeFile(credentials, site.creds, { mode: 0o600 });
  const leaf = await startLeaf({ name, hubLeafUrl: site.credentials.hub.leafUrl, credentials, ...(tls ? { remoteExtra: `    ${tls}\n` } : {}) });
  leaves.push(leaf);
  return leaf;
}

describe('leaf link over TLS', () => {
  it('hands out a tls:// leaf URL and the CA; the edge links over TLS and applies its desired state', async () => {
    expect(sys.hub.leafUrl).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
    const created = await sys.api('POST', '/v1/satellites', { name: 'tls-site' });
    expect(created.status).toBe(201);
    edge = await startEdge({
      logger: logger.child({ satellite: 'tls-site' }),
      dataDir: join(dir.path, 'tls-site'),
      runtimeDir: join(dir.path, 'run'),
      groundControl: sys.gateway,
      token: created.body.joinToken,
      identity: async () => ({ machineId: 'tls-machine', mac: '02:00:00:00:00:02', disk: 'uuid:tls-disk' }),
      ports: { leaf: await freePort(), leafMonitor: await freePort(), registry: 0, status: 0, forwarder: 0 },
      runtimeRoot: join(dir.path, 'tls-site', 'root'),
      retry: { initialMs: 100, maxMs: 500 },
      logLevel: 'silent',
      catchupIntervalS: 1,
    });
    expect(edge.credentials()).toMatchObject({ hub: { leafUrl: sys.hub.leafUrl }, caBundle: await readFile(join(dir.path, 'uplink-ca.pem'), 'utf8') });
    await waitFor(() => leafConnected(edge!.leaf.monitorUrl), { what: 'the site leaf linked over TLS' });
    // the hub's view of the link: TLS, bound to the site's own account
    const leafz = (await (await fetch(`${sys.hub.monitorUrl}/leafz`)).json()) as { leafs?: { account: string }[] };
    expect(leafz.leafs?.map((l) => l.account)).toContain(edge.credentials().account);
    const varz = (await (await fetch(`${sys.hub.monitorUrl}/varz`)).json()) as { leaf?: { tls_required?: boolean } };
    expect(varz.leaf?.tls_required).toBe(true);
    await waitFor(
      async () => {
        const s = await sys.api('GET', '/v1/satellites/tls-site/state');
        return s.body?.applied?.revision === s.body?.desired?.revision && s.body?.applied?.revision >= 1;
      },
      { what: 'the site applied its desired state over the TLS link', timeoutMs: 30_000 },
    );
  });

  it('carries a message from the hub to a leaf that trusts the CA', async () => {
    const leaf = await siteLeaf('tls-plain-leaf', `tls { ca_file: ${JSON.stringify(join(dir.path, 'uplink-ca.pem'))} }`);
    await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'the leaf linked over TLS' });
    const nc = await connect({ servers: leaf.url });
    try {
      let received: string | undefined;
      nc.subscribe('uplink.state.tls-plain-leaf', { callback: (_e, m) => void (received = m.string()) });
      await nc.flush();
      // the leaf's interest reaches the hub asynchronously: publish until one arrives
      await waitFor(
        async () => {
          sys.app.publish('uplink.state.tls-plain-leaf', 'over-tls');
          await sys.app.flush();
          return received === 'over-tls';
        },
        { what: 'a message across the TLS leaf link', intervalMs: 200 },
      );
    } finally {
      await nc.close();
    }
  });

  it('a leaf without the CA, or trusting another CA, never links', async () => {
    const noCa = await siteLeaf('tls-no-ca', undefined);
    const otherCa = await siteLeaf('tls-other-ca', `tls { ca_file: ${JSON.stringify(join(dir.path, 'other-ca.pem'))} }`);
    for (const leaf of [noCa, otherCa]) {
      await waitFor(() => /TLS leafnode handshake error: .*(unknown authority|certificate)/.test(leaf.proc.output()), {
        what: `${leaf.name}: a refused TLS handshake`,
      });
      expect(await leafConnected(leaf.monitorUrl)).toBe(false);
    }
  });
});
