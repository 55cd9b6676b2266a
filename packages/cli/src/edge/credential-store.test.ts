// Credentials at rest: they decrypt on the machine that wrote them and nowhere else.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from '@uplink/testkit';
import { openCredentialStore, type StoredCredentials } from './credential-store.js';
import type { MachineIdentity } from './identity.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir('uplink-creds-');
});
afterAll(async () => {
  await dir?.[Symbol.asyncDispose]();
});

const creds: StoredCredentials = {
  satellite: 'shop-17',
  account: 'A'.repeat(56),
  jwt: 'eyJ.header.sig',
  expiresAt: new Date().toISOString(),
  hub: { leafUrl: 'nats-leaf://hub:7422', domain: 'hub' },
  registryCredentials: { 'registry.example.com': { username: 'robot', password: 'secret-pw' } },
  seed: 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4',
  groundControl: 'https://uplink.example.com',
};
const machine = (m: Partial<MachineIdentity> = {}) => async () => ({ machineId: 'm-1', mac: '02:00:00:00:00:01', disk: 'uuid:d-1', ...m });

describe('credential store', () => {
  it('round-trips on the same machine, owner-only, with no secret in clear', async () => {
    const file = join(dir.path, 'a', 'credentials.enc');
    await openCredentialStore(file, machine()).save(creds);
    expect(await openCredentialStore(file, machine()).load()).toEqual(creds);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    for (const secret of [creds.seed, creds.jwt, 'secret-pw']) expect(text).not.toContain(secret);
  });

  it('refuses another machine id, MAC or disk, and a tampered file, saying to register again', async () => {
    const file = join(dir.path, 'b', 'credentials.enc');
    await openCredentialStore(file, machine()).save(creds);
    for (const other of [{ machineId: 'm-2' }, { mac: '02:00:00:00:00:02' }, { disk: 'uuid:d-2' }]) {
      await expect(openCredentialStore(file, machine(other)).load()).rejects.toMatchObject({
        code: 'CREDENTIALS_FOREIGN',
        message: expect.stringContaining('Register this machine again'),
      });
    }
    const envelope = JSON.parse(await readFile(file, 'utf8')) as { data: string };
    const data = Buffer.from(envelope.data, 'base64');
    data[0] = data[0]! ^ 1;
    await writeFile(file, JSON.stringify({ ...envelope, data: data.toString('base64') }));
    await expect(openCredentialStore(file, machine()).load()).rejects.toMatchObject({ code: 'CREDENTIALS_FOREIGN' });
    expect(await openCredentialStore(join(dir.path, 'none.enc'), machine()).load()).toBeUndefined();
  });
});
