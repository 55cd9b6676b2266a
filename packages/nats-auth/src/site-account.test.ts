// Design B against a real hub in operator mode: a site account pushed at runtime, a leaf bound to it
// with a device user JWT, and the legitimate flows of a site working through its imports.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { hubStreams, pendingCommandsSubject, subjects } from '@uplink/contracts';
import { provisionStreams } from '@uplink/bus';
import { leafConnected, startHub, startLeaf, tempDir, waitFor, type Hub, type NatsServer, type TempDir } from '@uplink/testkit';
import {
  createNKey,
  createOperatorSetup,
  describeJwt,
  encodeSiteAccount,
  mintSiteUser,
  parseCreds,
  pushAccountJwt,
  renderCreds,
  type OperatorSetup,
} from './index.js';

let setup: OperatorSetup;
let hub: Hub;
let dir: TempDir;
let app: NatsConnection;
let sys: NatsConnection;
let jsm: JetStreamManager;
const leaves: NatsServer[] = [];
const conns: NatsConnection[] = [];

const creds = (text: string) => credsAuthenticator(new TextEncoder().encode(text));

beforeAll(async () => {
  setup = await createOperatorSetup();
  dir = await tempDir('nats-auth-');
  hub = await startHub({
    operator: {
      jwt: setup.operator.jwt,
      systemAccount: setup.system.publicKey,
      preload: { [setup.system.publicKey]: setup.system.jwt, [setup.app.publicKey]: setup.app.jwt },
    },
  });
  app = await connect({ servers: hub.url, authenticator: creds(setup.app.servicesCreds) });
  sys = await connect({ servers: hub.url, authenticator: creds(setup.system.userCreds) });
  jsm = await jetstreamManager(app);
  await provisionStreams(jsm, hubStreams);
});

afterAll(async () => {
  for (const c of conns) await c.close();
  await app?.close();
  await sys?.close();
  for (const l of leaves) await l[Symbol.asyncDispose]();
  await hub?.[Symbol.asyncDispose]();
  await dir?.[Symbol.asyncDispose]();
});

async function site(name: string, ttlSeconds = 3_600) {
  const account = createNKey('account');
  const accountJwt = await encodeSiteAccount({
    satellite: name,
    accountPublicKey: account.publicKey,
    appAccount: setup.app.publicKey,
    appSigner: setup.app.signing.seed,
    operatorSigner: setup.operator.signing.seed,
    signingKeys: [setup.siteSigning.publicKey],
  });
  await pushAccountJwt(sys, accountJwt);
  const device = createNKey('user');
  const user = await mintSiteUser({ satellite: name, devicePublicKey: device.publicKey, account: account.publicKey, signer: setup.siteSigning.seed, ttlSeconds });
  const credsFile = join(dir.path, `${name}.creds`);
  await writeFile(credsFile, renderCreds(user.jwt, device.seed), { mode: 0o600 });
  const leaf = await startLeaf({ name, hubLeafUrl: hub.leafUrl, credentials: credsFile });
  leaves.push(leaf);
  await waitFor(() => leafConnected(leaf.monitorUrl), { what: `${name} leaf linked` });
  const nc = await connect({ servers: leaf.url });
  conns.push(nc);
  return { account, device, user, leaf, nc };
}

describe('site accounts (design B)', () => {
  it('renders creds that parse back, and a user JWT for the device key in the site account', async () => {
    const device = createNKey('user');
    const account = createNKey('account');
    const u = await mintSiteUser({ satellite: 'x', devicePublicKey: device.publicKey, account: account.publicKey, signer: setup.siteSigning.seed, ttlSeconds: 60 });
    expect(parseCreds(renderCreds(u.jwt, device.seed))).toEqual({ jwt: u.jwt, seed: device.seed });
    const d = describeJwt(u.jwt);
    expect(d).toMatchObject({ subject: device.publicKey, issuer: setup.siteSigning.publicKey, issuerAccount: account.publicKey, name: 'x' });
    // exp is counted from when minting began, iat is stamped by the JWT library a moment later: the two
    // may straddle a second boundary
    expect(d.expiresAt! - d.issuedAt).toBeGreaterThanOrEqual(59);
    expect(d.expiresAt! - d.issuedAt).toBeLessThanOrEqual(60);
  });

  it('carries state, commands, telemetry with its PubAck, direct-get catch-up and command catch-up', async () => {
    const s = await site('edge-01');
    const js = jetstream(app);
    // state and commands published in the application account reach the leaf
    const got: string[] = [];
    const sub1 = s.nc.subscribe(subjects.state('edge-01'), { callback: (_e, m) => void got.push(m.subject) });
    const sub2 = s.nc.subscribe(subjects.cmd('edge-01'), { callback: (_e, m) => void got.push(m.subject) });
    await s.nc.flush();
    await waitFor(async () => {
      await js.publish(subjects.state('edge-01'), '{"revision":1}');
      await js.publish(subjects.cmd('edge-01'), '{}');
      return got.includes(subjects.state('edge-01')) && got.includes(subjects.cmd('edge-01'));
    }, { what: 'state and command at the leaf' });
    sub1.unsubscribe();
    sub2.unsubscribe();

    // catch-up: the empty-body direct get across domains
    const leafJsm = await jetstreamManager(s.nc, { domain: 'hub', checkAPI: false });
    const m = await leafJsm.direct.getMessage('STATE', { last_by_subj: subjects.state('edge-01') });
    expect(m?.json()).toEqual({ revision: 1 });

    // telemetry stored in the hub stream, its PubAck back at the leaf
    const ack = await jetstream(s.nc).publish(subjects.telemetry('edge-01', 'heartbeat'), '{}');
    expect(ack).toMatchObject({ stream: 'TELEMETRY', domain: 'hub' });
    const rack = await jetstream(s.nc).publish(subjects.result('edge-01'), '{}');
    expect(rack.stream).toBe('RESULTS');

    // command catch-up: a service in the application account
    const responder = app.subscribe(pendingCommandsSubject('edge-01'), { callback: (_e, msg) => void msg.respond('{"commands":[]}') });
    await app.flush();
    const r = await s.nc.request(pendingCommandsSubject('edge-01'), '{}', { timeout: 5_000 });
    expect(r.json()).toEqual({ commands: [] });
    responder.unsubscribe();
  });
});
