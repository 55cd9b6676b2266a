// Registration's leaf link settings are checked at start: one leafnode URL (tls:// for a TLS hub) and a
// CA bundle that really holds PEM certificates, each refused with a message naming the variable.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistrationEnv, loadEnv } from '@uplink/contracts';
import type { Pool } from '@uplink/db';
import { createLogger } from '@uplink/observability';
import { tempDir, type TempDir } from '@uplink/testkit';
import { createRegistrationMetrics } from '../metrics.js';
import { startZtr } from './start-ztr.js';

const logger = createLogger({ service: 'start-ztr-test', level: 'silent' });
let dir: TempDir;

beforeAll(async () => {
  dir = await tempDir('uplink-start-ztr-');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=ca', '-keyout', join(dir.path, 'ca.key'), '-out', join(dir.path, 'ca.pem')], {
    stdio: 'ignore',
  });
  await writeFile(join(dir.path, 'not-pem.txt'), 'hello\n');
  await writeFile(join(dir.path, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
});

afterAll(async () => {
  await dir?.[Symbol.asyncDispose]();
});

const env = (vars: Record<string, string>) => loadEnv(RegistrationEnv, { LOG_LEVEL: 'silent', ...vars });
const start = (vars: Record<string, string>) => startZtr(env(vars), { pool: {} as Pool, logger, metrics: createRegistrationMetrics({ defaults: false }) });

describe('leaf link settings', () => {
  it('takes nats-leaf:// and tls:// leaf URLs, and refuses anything else with the variable named', () => {
    expect(env({ HUB_LEAF_URL: 'tls://hub.example.com:7422' }).HUB_LEAF_URL).toBe('tls://hub.example.com:7422');
    expect(env({}).HUB_LEAF_URL).toBe('nats-leaf://127.0.0.1:7422');
    for (const bad of ['http://hub:7422', 'hub.example.com:7422', 'tls://', 'nats-leaf://a:7422,nats-leaf://b:7422']) {
      expect(() => env({ HUB_LEAF_URL: bad }), bad).toThrow(/HUB_LEAF_URL: must be one leafnode URL/);
    }
  });

  it('accepts a PEM CA bundle in LEAF_CA_FILE', async () => {
    const ztr = await start({ HUB_LEAF_URL: 'tls://127.0.0.1:7422', LEAF_CA_FILE: join(dir.path, 'ca.pem') });
    await ztr.close();
  });

  it('refuses a LEAF_CA_FILE that is missing or holds no readable certificate', async () => {
    await expect(start({ LEAF_CA_FILE: join(dir.path, 'missing.pem') })).rejects.toMatchObject({ name: 'ConfigError', message: expect.stringMatching(/LEAF_CA_FILE: cannot read .*missing\.pem \(ENOENT\)/) });
    await expect(start({ LEAF_CA_FILE: join(dir.path, 'not-pem.txt') })).rejects.toThrow(/LEAF_CA_FILE: .*not-pem\.txt holds no PEM certificate/);
    await expect(start({ LEAF_CA_FILE: join(dir.path, 'broken.pem') })).rejects.toThrow(/LEAF_CA_FILE: .*broken\.pem has an unreadable certificate \(number 1\)/);
  });
});
