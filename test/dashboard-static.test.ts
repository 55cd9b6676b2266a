// The dashboard's files as the gateway serves them: without a token, under a Content-Security-Policy
// that forbids inline and foreign code, only the fixed set of files (no path reaches anything else),
// revalidated by etag and counted in the gateway's metrics; and the page's feed parser over chunks cut
// anywhere.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayEnv, loadEnv } from '@uplink/contracts';
import { createGatewayApp, type GatewayApp } from '@uplink/gateway';
import { createLogger } from '@uplink/observability';
import { startHub, type Hub } from '@uplink/testkit';

const TOKEN = 'dashboard-static-token-0123456789';
let hub: Hub;
let gw: GatewayApp;

beforeAll(async () => {
  hub = await startHub();
  gw = await createGatewayApp(loadEnv(GatewayEnv, { NATS_URL: hub.url, HTTP_PORT: '0', ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'silent' }), {
    logger: createLogger({ service: 'e2e', level: 'silent' }),
  });
});
afterAll(async () => {
  await gw?.close();
  await hub?.[Symbol.asyncDispose]();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(gw.url + path, { headers, redirect: 'manual' });

describe('dashboard files', () => {
  it('serves the page at / and /dashboard without a token, with a strict CSP and no inline code', async () => {
    for (const path of ['/', '/dashboard']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const html = await res.text();
      expect(html).toContain('<script type="module" src="/dashboard/app.js"></script>');
      // every script is a file of the same origin; no inline handlers or styles
      expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/dashboard/app.js">']);
      expect(html).not.toMatch(/\son[a-z]+=|\sstyle=|https?:\/\//);
    }
  });

  it('serves the script and stylesheet with their types, and 304 for an unchanged etag', async () => {
    const js = await get('/dashboard/app.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('content-security-policy')).toContain("default-src 'self'");
    const source = await js.text();
    expect(source).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    const css = await get('/dashboard/app.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await css.text()).length).toBeGreaterThan(100);

    const etag = js.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]{22}"$/);
    const again = await get('/dashboard/app.js', { 'if-none-match': etag! });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it('answers 404 NOT_FOUND for any other name or path, never a file from elsewhere', async () => {
    const paths = [
      '/dashboard/assets.ts',
      '/dashboard/dashboard.controller.ts',
      '/dashboard/..%2Fauth.ts',
      '/dashboard/..%2F..%2F..%2F..%2Fpackage.json',
      '/dashboard/%2e%2e%2f%2e%2e%2fmain.ts',
      '/dashboard/public/app.js',
      '/dashboard/app.js/',
      '/dashboard/..%5C..%5Cpackage.json',
      '/dashboard/%2Fetc%2Fpasswd',
      '/dashboard/constructor',
      '/dashboard/__proto__',
    ];
    for (const path of paths) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code, path).toBe('NOT_FOUND');
    }
    // a raw request line with dot segments is not normalised into another file either
    const { request } = await import('node:http');
    const url = new URL(gw.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: '/dashboard/../../package.json' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(404);
  });

  it('keeps the API behind the token and counts the dashboard routes in the metrics', async () => {
    expect((await get('/v1/satellites')).status).toBe(401);
    const metrics = await (await get('/metrics')).text();
    expect(metrics).toMatch(/uplink_gateway_http_requests_total\{method="GET",route="\/",status="200"\} \d+/);
    expect(metrics).toMatch(/uplink_gateway_http_requests_total\{method="GET",route="\/dashboard\/:file",status="200"\} \d+/);
    expect(metrics).toMatch(/uplink_gateway_http_requests_total\{method="GET",route="\/dashboard\/:file",status="404"\} \d+/);
  });
});

describe('the page feed parser', () => {
  it('parses server-sent events cut at any point, with CRLF, comments, retry and a persisting id', async () => {
    const file = pathToFileURL(join(import.meta.dirname, '../services/gateway/src/dashboard/public/app.js')).href;
    const { SseParser } = (await import(file)) as {
      SseParser: new () => { push(text: string): { id: string; event: string; data: string }[]; retry: number | undefined };
    };
    const stream = 'retry: 2000\r\n: telemetry uplink.telemetry.*.*\r\n\r\nid: 7\r\nevent: heartbeat\r\ndata: {"seq":7}\r\n\r\ndata: a\ndata: b\n\n: keepalive\n\nid: 9\ndata:x\r\r\n';
    const whole = new SseParser();
    const expected = whole.push(stream);
    expect(expected).toEqual([
      { id: '7', event: 'heartbeat', data: '{"seq":7}' },
      { id: '7', event: 'message', data: 'a\nb' },
      { id: '9', event: 'message', data: 'x' },
    ]);
    expect(whole.retry).toBe(2000);
    for (let cut = 1; cut < stream.length; cut++) {
      const p = new SseParser();
      expect([...p.push(stream.slice(0, cut)), ...p.push(stream.slice(cut))], `cut at ${cut}`).toEqual(expected);
    }
  });
});
