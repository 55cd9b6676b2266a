import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@uplink/observability';
import { createAccount } from '@nats-io/nkeys';
import type { Command } from '@uplink/contracts';
import { checkCommand, runAction } from './execute.js';
import { notAvailable } from './errors.js';
import { createStandaloneHost, type ExecutorHost } from './host.js';
import { boundOutput, redact } from './output.js';
import { createCommandVerifier } from './verify.js';

const log = createLogger({ service: 'test', level: 'silent' });
const command = (over: Partial<Command> = {}): Command => ({
  id: randomUUID(),
  commandId: randomUUID(),
  satellite: 'edge-01',
  action: 'ping',
  args: {},
  timeoutSeconds: 5,
  deadline: new Date(Date.now() + 60_000).toISOString(),
  issuedAt: new Date().toISOString(),
  ...over,
});
const standalone = (): ExecutorHost => createStandaloneHost({ statusUrl: 'http://127.0.0.1:1', logger: log, config: {}, recent: () => [] });

describe('signatures', () => {
  it('verifies an nkey signature over the exact body, and nothing else', () => {
    const kp = createAccount();
    const verifier = createCommandVerifier(kp.getPublicKey());
    const body = Buffer.from(JSON.stringify(command()));
    const sig = Buffer.from(kp.sign(body)).toString('base64url');
    expect(verifier.verify(body, sig)).toBe(true);
    const tampered = Buffer.from(body.toString().replace('ping', 'gc__'));
    expect(verifier.verify(tampered, sig)).toBe(false);
    expect(verifier.verify(body, undefined)).toBe(false);
    expect(verifier.verify(body, 'not a signature')).toBe(false);
    expect(createCommandVerifier(createAccount().getPublicKey()).verify(body, sig)).toBe(false);
  });

  it('refuses a malformed signing key with a clear error', () => {
    expect(() => createCommandVerifier('AXXXX')).toThrow(/COMMAND_SIGNING_KEY/);
  });
});

describe('checkCommand', () => {
  const ok = { satellite: 'edge-01', signatureValid: true, now: Date.now() };
  it('runs a signed, addressed, timely, allow-listed command', () => {
    expect(checkCommand(command({ action: 'set-log-level', args: { level: 'debug' } }), ok)).toEqual({ run: true, action: 'set-log-level', args: { level: 'debug' } });
  });
  it('rejects a bad signature before looking at anything else', () => {
    expect(checkCommand(command({ satellite: 'other', action: 'rm' }), { ...ok, signatureValid: false })).toMatchObject({ run: false, status: 'rejected', reason: expect.stringMatching(/signature/) });
  });
  it('rejects a command for another site', () => {
    expect(checkCommand(command({ satellite: 'edge-02' }), ok)).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/edge-02/) });
  });
  it('expires a command past its deadline', () => {
    expect(checkCommand(command({ deadline: new Date(Date.now() - 1).toISOString() }), { ...ok, now: Date.now() })).toMatchObject({ status: 'expired' });
  });
  it('rejects actions off the allow-list and invalid arguments', () => {
    expect(checkCommand(command({ action: 'shell', args: { cmd: 'rm -rf /' } }), ok)).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/allow-list.*shell/) });
    expect(checkCommand(command({ action: 'set-log-level', args: { level: 'loud' } }), ok)).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/level/) });
  });
});

describe('runAction', () => {
  const opts = { host: standalone(), log, timeoutMs: 5_000, outputLimitBytes: 1_024 };
  it('runs ping', async () => {
    expect(await runAction('ping', {}, opts)).toEqual({ status: 'succeeded', exitCode: 0, output: 'pong' });
  });
  it('times out and stops the action', async () => {
    const r = await runAction('ping', { delayMs: 10_000 }, { ...opts, timeoutMs: 100 });
    expect(r).toMatchObject({ status: 'timed_out', error: expect.stringMatching(/did not finish/) });
  });
  it('fails, without pretending, what this process cannot do', async () => {
    const r = await runAction('gc', {}, opts);
    expect(r).toMatchObject({ status: 'failed', exitCode: 1, error: expect.stringMatching(/not available in this process/) });
  });
  it('reports corrupt blobs as a failure unless they were removed', async () => {
    const host: ExecutorHost = { ...standalone(), verifyStore: async () => ({ checked: 3, corrupt: ['sha256:' + 'a'.repeat(64)] }) };
    expect(await runAction('verify-store', {}, { ...opts, host })).toMatchObject({ status: 'failed', exitCode: 1 });
    expect(await runAction('verify-store', { remove: true }, { ...opts, host })).toMatchObject({ status: 'succeeded', exitCode: 0 });
  });
  it('redacts secrets from diagnostics and bounds the output', async () => {
    const host: ExecutorHost = {
      ...standalone(),
      diagnostics: async () => ({ config: { NATS_URL: 'nats://user:hunter2@hub:4222', UPSTREAM_PASSWORD: 'hunter2', seedFile: 'SAAEQMZBXNDRN4ZVMMCN47FHKPZ6C4THOCIBU5R54NN27OFNFTWMNATISE' }, logs: ['x'.repeat(5_000)] }),
    };
    const r = await runAction('diagnostics', {}, { ...opts, host });
    expect(r.status).toBe('succeeded');
    expect(r.output).not.toContain('hunter2');
    expect(r.output).not.toContain('SAAEQMZ');
    expect(Buffer.byteLength(r.output!)).toBeLessThanOrEqual(1_024);
    expect(r.output).toMatch(/truncated/);
  });
  it('sets the standalone executor log level and says the satellite is unchanged', async () => {
    const own = createLogger({ service: 'test', level: 'info' });
    const host = createStandaloneHost({ statusUrl: 'http://127.0.0.1:1', logger: own, config: {}, recent: () => [] });
    const r = await runAction('set-log-level', { level: 'debug' }, { ...opts, host });
    expect(r.status).toBe('succeeded');
    expect(own.level).toBe('debug');
    expect(r.output).toMatch(/unchanged/);
  });
});

describe('output', () => {
  it('cuts on a character boundary and says so', () => {
    const out = boundOutput('é'.repeat(1_000), 300);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(300);
    expect(out).not.toContain('\uFFFD');
    expect(out).toMatch(/truncated: 2000 bytes/);
  });
  it('redacts nested secret fields and URL passwords', () => {
    expect(redact({ a: { token: 't', list: [{ password: 'p' }], url: 'https://u:pw@h/x' } })).toEqual({ a: { token: '[redacted]', list: [{ password: '[redacted]' }], url: 'https://u:[redacted]@h/x' } });
  });
  it('names the action it cannot run', () => {
    expect(notAvailable('prune', 'why').message).toBe('prune is not available in this process: why');
  });
});
