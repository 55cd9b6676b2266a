// The REST API over https when TLS_CERT_FILE/TLS_KEY_FILE are set, with a self-signed certificate.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayEnv, loadEnv } from '@uplink/contracts';
import { tempDir, type TempDir } from '@uplink/testkit';
import { createGatewayApp } from './app.js';
import { startFixture, TOKEN, type Fixture } from './testing/fixtures.js';

let dir: TempDir;
let f: Fixture;
let cert: Buffer;

beforeAll(async () => {
  dir = await tempDir('uplink-tls-');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=uplink-test', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir.path, 'key.pem'), '-out', join(dir.path, 'cert.pem'),
  ], { stdio: 'ignore' });
  cert = readFileSync(join(dir.path, 'cert.pem'));
  f = await startFixture({ TLS_CERT_FILE: join(dir.path, 'cert.pem'), TLS_KEY_FILE: join(dir.path, 'key.pem') });
});

afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
  await dir?.[Symbol.asyncDispose]();
});

function get(url: string, opts: { ca?: Buffer; token?: string } = {}): Promise<{ status: number; body: string; peerCert: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...(opts.ca ? { ca: opts.ca } : {}), headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} }, (res) => {
      const peerCert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peerCert }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('gateway TLS', () => {
  it('answers over https with the configured certificate', async () => {
    expect(f.gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await get(`${f.gateway.url}/healthz`, { ca: cert });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ok' });
    const { X509Certificate } = await import('node:crypto');
    expect(res.peerCert).toBe(new X509Certificate(cert).fingerprint256);
    expect((await get(`${f.gateway.url}/v1/groups`, { ca: cert, token: TOKEN })).status).toBe(200);
  });

  it('is not reachable over plain http, and a client without the CA refuses it', async () => {
    await expect(fetch(f.gateway.url.replace('https:', 'http:') + '/healthz')).rejects.toThrow();
    await expect(get(`${f.gateway.url}/healthz`)).rejects.toThrow(/self-signed|certificate/i);
  });

  it('refuses to start with only one of the two files, naming the missing one', async () => {
    const env = loadEnv(GatewayEnv, { HTTP_PORT: '0', ADMIN_TOKEN: TOKEN, TLS_CERT_FILE: join(dir.path, 'cert.pem'), LOG_LEVEL: 'silent' });
    await expect(createGatewayApp(env)).rejects.toThrow(/TLS_KEY_FILE/);
    const missing = loadEnv(GatewayEnv, { HTTP_PORT: '0', ADMIN_TOKEN: TOKEN, TLS_CERT_FILE: join(dir.path, 'nope.pem'), TLS_KEY_FILE: join(dir.path, 'key.pem'), LOG_LEVEL: 'silent' });
    await expect(createGatewayApp(missing)).rejects.toThrow(/cannot read TLS_CERT_FILE .*nope\.pem/);
  });
});
