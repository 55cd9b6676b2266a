// A hostile site: a raw leafnode-protocol client holding one site's valid credentials, ignoring every
// permission a leaf server would apply. The hub's account boundaries (one account per site) must keep
// it out of other sites' subjects, the application account's JetStream API (also through reply
// subjects) and other sites' state and commands.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { hubStreams, subjects } from '@uplink/contracts';
import { provisionStreams } from '@uplink/bus';
import { leafConnected, startLeaf, waitFor, type NatsServer } from '@uplink/testkit';
import { startJwtSystem, type JoinedSite, type JwtSystem } from './support/jwt-system.js';
import { RawLeafClient } from './support/raw-leaf.js';

let sys: JwtSystem;
let jsm: JetStreamManager;
let hostileSite: JoinedSite;
let victim: JoinedSite;
let victimLeaf: NatsServer;
let victimNc: NatsConnection;
let hostile: RawLeafClient;
const atVictim: { subject: string; data: string }[] = [];
const atApp: { subject: string; data: string }[] = [];

const HOSTILE = 'HOSTILE-PAYLOAD';

beforeAll(async () => {
  sys = await startJwtSystem({ withCommands: true });
  jsm = await jetstreamManager(sys.app);
  await provisionStreams(jsm, hubStreams);
  [hostileSite, victim] = [await sys.join('edge-a'), await sys.join('edge-b')];

  const credsFile = join(sys.dir.path, 'edge-b.creds');
  await writeFile(credsFile, victim.creds, { mode: 0o600 });
  victimLeaf = await startLeaf({ name: 'edge-b', hubLeafUrl: sys.hub.leafUrl, credentials: credsFile });
  await waitFor(() => leafConnected(victimLeaf.monitorUrl), { what: 'victim leaf linked' });
  victimNc = await connect({ servers: victimLeaf.url });
  victimNc.subscribe('>', { callback: (_e, m) => void atVictim.push({ subject: m.subject, data: m.string() }) });
  await victimNc.flush();
  sys.app.subscribe('uplink.>', { callback: (_e, m) => void atApp.push({ subject: m.subject, data: m.string() }) });
  await sys.app.flush();

  hostile = await RawLeafClient.connect(sys.hub.leafPort, hostileSite.creds);
}, 60_000);

afterAll(async () => {
  hostile?.close();
  await victimNc?.close();
  await victimLeaf?.[Symbol.asyncDispose]();
  await sys?.[Symbol.asyncDispose]();
});

async function subjectCount(stream: string, filter: string): Promise<number> {
  const info = await jsm.streams.info(stream, { subjects_filter: filter });
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
}

async function consumerCount(): Promise<number> {
  let n = 0;
  for (const s of ['STATE', 'COMMANDS', 'TELEMETRY', 'RESULTS', 'EVENTS']) n += (await jsm.streams.info(s)).state.consumer_count;
  return n;
}

describe('a hostile site with valid credentials', () => {
  it('still has its own flows (the harness reaches the hub)', async () => {
    hostile.sub(subjects.state('edge-a'));
    hostile.sub('_INBOX.hostile.>');
    await hostile.flush();
    await jetstream(sys.app).publish(subjects.state('edge-a'), '{"own":true}');
    hostile.pub(subjects.telemetry('edge-a', 'heartbeat'), '{}', '_INBOX.hostile.ack');
    await waitFor(
      () =>
        hostile.messages.some((m) => m.subject === subjects.state('edge-a')) &&
        hostile.messages.some((m) => m.subject === '_INBOX.hostile.ack' && m.data.includes('"TELEMETRY"')),
      { what: 'own state and a PubAck for own telemetry' },
    );
  });

  it('cannot get a message into another site\'s subjects or the JetStream API, also not through reply subjects', async () => {
    const before = {
      telemetryB: await subjectCount('TELEMETRY', 'uplink.telemetry.edge-b.>'),
      results: await subjectCount('RESULTS', '>'),
      commands: await subjectCount('COMMANDS', '>'),
      state: await subjectCount('STATE', '>'),
      telemetry: (await jsm.streams.info('TELEMETRY')).state.messages,
      consumers: await consumerCount(),
    };
    const forged = [
      subjects.telemetry('edge-b', 'heartbeat'),
      subjects.result('edge-b'),
      subjects.state('edge-b'),
      subjects.cmd('edge-b'),
      subjects.localState('edge-b'),
      'uplink.rpc.command.pending.edge-b',
      'uplink.rpc.registration.deleteSatellite',
      'uplink.events.satellite.deleted',
      '$SYS.REQ.CLAIMS.UPDATE',
    ];
    for (const s of forged) {
      hostile.pub(s, `{"${HOSTILE}":1}`);
      hostile.hpub(s, 'Nats-Msg-Id: forged', `{"${HOSTILE}":2}`, '_INBOX.hostile.forged');
    }
    // the JetStream API of the application account, directly and under the hub's domain prefix
    for (const api of ['$JS.API', '$JS.hub.API']) {
      for (const stream of ['STATE', 'COMMANDS', 'TELEMETRY', 'RESULTS', 'EVENTS']) {
        hostile.pub(`${api}.STREAM.PURGE.${stream}`, '{}', '_INBOX.hostile.api');
        hostile.pub(`${api}.STREAM.DELETE.${stream}`, '', '_INBOX.hostile.api');
        hostile.pub(`${api}.CONSUMER.CREATE.${stream}`, '{"stream_name":"' + stream + '","config":{"ack_policy":"none"}}', '_INBOX.hostile.api');
      }
      hostile.pub(`${api}.INFO`, '', '_INBOX.hostile.api');
    }
    // reply-subject injection: legitimate requests whose answer would be a JetStream API call
    hostile.pub(subjects.telemetry('edge-a', 'heartbeat'), '{}', '$JS.API.STREAM.PURGE.TELEMETRY');
    hostile.pub(subjects.telemetry('edge-a', 'heartbeat'), '{}', '$JS.API.STREAM.DELETE.TELEMETRY');
    hostile.pub(subjects.result('edge-a'), '{}', '$JS.API.STREAM.DELETE.RESULTS');
    hostile.pub(`$JS.hub.API.DIRECT.GET.STATE.${subjects.state('edge-a')}`, '', '$JS.API.STREAM.DELETE.STATE');
    hostile.pub('uplink.rpc.command.pending.edge-a', '{}', '$JS.API.STREAM.DELETE.COMMANDS');
    await hostile.flush();
    // give the hub a moment to route anything that would get through: wait on our own PubAck
    hostile.pub(subjects.telemetry('edge-a', 'heartbeat'), '{}', '_INBOX.hostile.last');
    await waitFor(() => hostile.messages.some((m) => m.subject === '_INBOX.hostile.last'), { what: 'the last PubAck' });

    const names: string[] = [];
    for await (const n of jsm.streams.names()) names.push(n);
    expect(names).toEqual(expect.arrayContaining(['STATE', 'COMMANDS', 'TELEMETRY', 'RESULTS', 'EVENTS']));
    expect(await subjectCount('TELEMETRY', 'uplink.telemetry.edge-b.>')).toBe(before.telemetryB);
    expect(await subjectCount('RESULTS', '>')).toBe(before.results + 1); // its own result only
    expect(await subjectCount('COMMANDS', '>')).toBe(before.commands);
    expect(await subjectCount('STATE', '>')).toBe(before.state);
    // its own heartbeats were stored: nothing was purged
    expect((await jsm.streams.info('TELEMETRY')).state.messages).toBe(before.telemetry + 3);
    expect(await consumerCount()).toBe(before.consumers);
    // nothing forged reached the application account or the other site
    expect(atApp.filter((m) => m.data.includes(HOSTILE))).toEqual([]);
    expect(atVictim.filter((m) => m.data.includes(HOSTILE))).toEqual([]);
    // the JetStream API never answered it
    expect(hostile.messages.filter((m) => m.subject.startsWith('_INBOX.hostile.api'))).toEqual([]);
  });

  it('cannot register unbounded interest on the hub', async () => {
    const flood = await RawLeafClient.connect(sys.hub.leafPort, hostileSite.creds, 'flood');
    try {
      for (let i = 0; i < 10_100; i++) flood.sub(`flood.${i}`);
      await flood.flush().catch(() => undefined);
      const leafz = (await (await fetch(`${sys.hub.monitorUrl}/leafz`)).json()) as { leafs?: { name?: string; account: string; subscriptions: number }[] };
      const counts = (leafz.leafs ?? []).filter((l) => l.account === hostileSite.credentials.account).map((l) => l.subscriptions);
      // the flooding link stops at the site account's limit
      expect(Math.max(...counts)).toBe(10_000);
    } finally {
      flood.close();
    }
  });

  it('cannot see another site\'s state or commands', async () => {
    for (const s of ['>', 'uplink.>', subjects.state('edge-b'), subjects.cmd('edge-b'), 'uplink.state.*', 'uplink.cmd.*', 'uplink.telemetry.>']) hostile.sub(s);
    hostile.sub('_INBOX.hostile.read.>');
    await hostile.flush();
    const js = jetstream(sys.app);
    await js.publish(subjects.state('edge-b'), '{"secret":"state-of-b"}');
    await js.publish(subjects.cmd('edge-b'), '{"secret":"command-for-b"}');
    await js.publish(subjects.state('edge-a'), '{"own":2}');
    // the other site's catch-up paths, asked by the hostile one
    hostile.pub(`$JS.hub.API.DIRECT.GET.STATE.${subjects.state('edge-b')}`, '', '_INBOX.hostile.read.1');
    hostile.pub('$JS.hub.API.DIRECT.GET.STATE', `{"last_by_subj":"${subjects.state('edge-b')}"}`, '_INBOX.hostile.read.2');
    hostile.pub(`$JS.API.DIRECT.GET.STATE.${subjects.state('edge-b')}`, '', '_INBOX.hostile.read.3');
    hostile.pub('uplink.rpc.command.pending.edge-b', '{}', '_INBOX.hostile.read.4');
    // its own direct get, with a body asking for the other site's subject
    hostile.pub(`$JS.hub.API.DIRECT.GET.STATE.${subjects.state('edge-a')}`, `{"last_by_subj":"${subjects.state('edge-b')}"}`, '_INBOX.hostile.read.5');
    // and the same path as it should be used: answered with its own state
    hostile.pub(`$JS.hub.API.DIRECT.GET.STATE.${subjects.state('edge-a')}`, '', '_INBOX.hostile.read.own');
    await waitFor(() => hostile.messages.some((m) => m.subject === '_INBOX.hostile.read.own' && m.data.includes('"own":2')), {
      what: 'the hostile site\'s own catch-up answered',
    });

    // the victim gets its own; the hostile site gets its own state, and nothing of the other's
    await waitFor(() => atVictim.some((m) => m.data.includes('state-of-b')) && atVictim.some((m) => m.data.includes('command-for-b')), {
      what: 'the victim receives its state and command',
    });
    await waitFor(() => hostile.messages.some((m) => m.data.includes('"own":2')), { what: 'the hostile site receives its own state' });
    await hostile.flush();
    expect(hostile.messages.filter((m) => m.subject.includes('edge-b') || m.data.includes('of-b') || m.data.includes('for-b'))).toEqual([]);
    expect(hostile.messages.filter((m) => m.subject.startsWith('_INBOX.hostile.read.') && m.data.includes('edge-b'))).toEqual([]);
  });
});
