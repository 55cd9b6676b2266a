// The web dashboard in a real browser against the whole system: a site (leaf, satellite, forwarder,
// executor) heartbeating through OUTBOX into telemetry-ingest, the command service, and the gateway
// serving the page. An operator opens it, signs in with a token, sees the site, its group and its live
// heartbeats (resumed after a drop without a gap), runs a command from the form and sees it succeed;
// a wrong or revoked token brings the prompt back, a viewer is told its role is insufficient. The
// satellites come from the fleet list a page at a time (load more, liveness filter, name search), with
// no request per satellite but for the one whose detail is open.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandEnv, ExecutorEnv, ForwarderEnv, loadEnv, TelemetryIngestEnv, type SatelliteStatusView } from '@uplink/contracts';
import { createCommandSigningKey, startCommandService } from '@uplink/command';
import { startExecutor } from '@uplink/executor';
import { startForwarder } from '@uplink/forwarder';
import { createLogger } from '@uplink/observability';
import { startTelemetryIngest } from '@uplink/telemetry-ingest';
import { browserUnavailable, launchBrowser, startLinkProxy, waitFor, type BrowserPage as Page, type LaunchedBrowser } from '@uplink/testkit';
import { ADMIN_TOKEN, startSystem, type System } from './support/system.js';

const SITE = 'edge-01';
const logger = createLogger({ service: 'e2e', level: 'silent' });
const noBrowser = browserUnavailable();

let sys: System;
let browser: LaunchedBrowser;
const cleanups: (() => PromiseLike<unknown>)[] = [];

beforeAll(async () => {
  if (noBrowser) return;
  sys = await startSystem();
  cleanups.push(() => sys[Symbol.asyncDispose]());
  const common = { NATS_URL: sys.hub.url, DATABASE_URL: sys.pg.url, LOG_LEVEL: 'silent' };
  // the rest of the cloud the page reads: fleet health and remote commands
  const prefix = `dash${randomBytes(4).toString('hex')}:`;
  const ingest = await startTelemetryIngest(loadEnv(TelemetryIngestEnv, { ...common, REDIS_KEY_PREFIX: prefix, INGEST_BATCH_WAIT_MS: '5' }), { logger });
  cleanups.push(async () => {
    await ingest.close();
    const redis = new Redis();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  const signing = createCommandSigningKey();
  const command = await startCommandService(loadEnv(CommandEnv, { ...common, COMMAND_SIGNING_SEED: signing.seed, SWEEP_INTERVAL_MS: '200' }), { logger });
  cleanups.push(() => command.close());

  // the operator's setup: a group, the site in it, heartbeats every second
  expect((await sys.api('PUT', '/v1/groups/line-1', { registry: 'http://127.0.0.1:1', artifacts: [] })).status).toBe(200);
  expect((await sys.api('POST', '/v1/satellites', { name: SITE, groups: ['line-1'] })).status).toBe(201);
  expect((await sys.api('PUT', `/v1/satellites/${SITE}/config`, { heartbeatSeconds: 1 })).status).toBe(200);

  const site = await sys.addSite(SITE);
  const satellite = await site.start();
  const siteEnv = { SATELLITE_NAME: SITE, NATS_URL: site.leaf.url, LEAF_MONITOR_URL: site.leaf.monitorUrl, LOG_LEVEL: 'silent' };
  const forwarder = await startForwarder(loadEnv(ForwarderEnv, { ...siteEnv, STATUS_PORT: '0' }), { logger });
  cleanups.push(() => forwarder.close());
  await forwarder.ready;
  const executor = await startExecutor(
    loadEnv(ExecutorEnv, {
      ...siteEnv,
      DATA_DIR: join(site.dataDir, '..', 'executor'),
      COMMAND_SIGNING_KEY: signing.publicKey,
      SATELLITE_STATUS_URL: satellite.statusUrl,
    }),
    { logger },
  );
  cleanups.push(() => executor.close());
  await executor.ready;
  await waitFor(() => executor.catchUps > 0, { what: 'executor caught up' });

  // the site is online and heartbeating at the new interval before the page looks
  await waitFor(
    async () => {
      const s = (await sys.api<SatelliteStatusView>('GET', `/v1/satellites/${SITE}/status`)).body;
      return s.status === 'online' && s.heartbeat?.intervalSeconds === 1;
    },
    { what: `${SITE} online with 1 s heartbeats`, timeoutMs: 25_000 },
  );
  browser = await launchBrowser();
  cleanups.push(() => browser.close());
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
});

/** Wait on what the page shows, as long as a locator would (expect.poll alone gives up after 1 s). */
const poll = <T>(fn: () => Promise<T>, timeout = 10_000) => expect.poll(fn, { timeout, interval: 100 });

/** A new page on the dashboard, signed in with `token` through the prompt. */
async function signIn(token: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(sys.gateway + '/');
  await page.locator('#token-input').fill(token);
  await page.locator('#token-submit').click();
  return page;
}

/** Every API request the page makes, as it makes them. */
function apiRequests(page: Page): URL[] {
  const seen: URL[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/v1/')) seen.push(u);
  });
  return seen;
}

/** The satellites the list shows, in its order. */
function listed(page: Page): Promise<(string | null)[]> {
  return page.locator('#satellites tbody tr[data-satellite]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-satellite')));
}

/** The TELEMETRY sequences shown in the live feed, oldest first. */
async function feedSeqs(page: Page): Promise<number[]> {
  const seqs = await page.locator('#telemetry-feed li').evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-seq'))));
  return seqs.reverse();
}

describe.skipIf(noBrowser)(`dashboard in a browser${noBrowser ? ` (skipped: ${noBrowser})` : ''}`, () => {
  it('serves the page under a CSP and shows the fleet, the satellite, its group and live heartbeats', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
    });
    const requests = apiRequests(page);
    const res = await page.goto(sys.gateway + '/');
    expect(res?.status()).toBe(200);
    expect((await res?.allHeaders())?.['content-security-policy']).toContain("default-src 'self'");
    await poll(() => page.locator('#login').isVisible()).toBe(true);

    await page.locator('#token-input').fill(ADMIN_TOKEN);
    await page.locator('#token-submit').click();
    const row = page.locator(`#satellites tr[data-satellite="${SITE}"]`);
    await row.locator('.status [data-status="online"]').waitFor();
    await poll(() => row.locator('.heartbeat').textContent()).toMatch(/just now|\d+ s ago/);
    await poll(() => row.locator('.groups').textContent()).toBe('line-1');
    await poll(() => row.locator('.revision').textContent()).toMatch(/^r\d+ \/ r\d+$/);
    await poll(() => row.locator('.sync').textContent()).toMatch(/^(idle|syncing|synced)$/);
    // created and heartbeating, but never registered through ZTR: registration still calls it pending
    expect(await row.locator('.lifecycle [data-status]').getAttribute('data-status')).toBe('pending');
    await poll(() => row.locator('.version').textContent()).toMatch(/^node v\d+/);
    await poll(() => page.locator('[data-count="online"] .n').textContent()).toBe('1');
    await poll(() => page.locator('[data-count="total"] .n').textContent()).toBe('1');
    const group = page.locator('#groups tr[data-group="line-1"]');
    await poll(() => group.locator('.members').textContent()).toBe(SITE);

    // heartbeats arrive live, after the page opened its feed
    await poll(() => page.locator('#feed-state').getAttribute('data-state')).toBe('live');
    await page.locator(`#telemetry-feed li[data-satellite="${SITE}"][data-kind="heartbeat"]`).first().waitFor();
    await poll(async () => (await feedSeqs(page)).length).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual([]);
    // the list came from the fleet list, a page of 100, and nothing was asked per satellite
    expect(requests.find((u) => u.pathname === '/v1/fleet/satellites' && u.searchParams.get('limit') === '100')).toBeDefined();
    expect(requests.filter((u) => u.pathname.startsWith('/v1/satellites')).map((u) => u.pathname)).toEqual([]);
    await page.close();
  });

  it('resumes the live feed after a network drop from the last event id, without a gap', async () => {
    // the page reaches the gateway through a link the test can cut
    await using link = await startLinkProxy({ port: Number(new URL(sys.gateway).port) });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${link.port}/#token=${ADMIN_TOKEN}`);
    const feedRequests: { lastEventId: string | undefined }[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/stream/telemetry')) feedRequests.push({ lastEventId: r.headers()['last-event-id'] });
    });
    await page.locator(`#telemetry-feed li[data-kind="heartbeat"]`).first().waitFor();
    link.cut();
    await poll(() => page.locator('#feed-state').getAttribute('data-state')).toBe('reconnecting');
    const lastBefore = (await feedSeqs(page)).at(-1)!;
    link.restore();
    // heartbeats sent meanwhile come first, then live ones
    await poll(async () => (await feedSeqs(page)).at(-1)!, 15_000).toBeGreaterThan(lastBefore + 2);
    const resumed = feedRequests.find((r) => r.lastEventId !== undefined);
    expect(resumed?.lastEventId).toBe(String(lastBefore));
    const seqs = await feedSeqs(page);
    // this site is the only one publishing: the stream's sequences follow each other, none twice
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    await page.close();
  });

  it('runs a command from the form and shows it succeed, with its output, in the page', async () => {
    const page = await signIn(ADMIN_TOKEN);
    await page.locator(`#command-satellite option[value="${SITE}"]`).waitFor({ state: 'attached' });
    await page.locator('#command-satellite').selectOption(SITE);
    await page.locator('#command-action').selectOption('ping');
    await page.locator('#command-submit').click();
    await page.locator('#command-result[data-status="succeeded"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#command-status').textContent()).toBe(`ping on ${SITE}: succeeded exit 0`);
    expect(await page.locator('#command-output').textContent()).toContain('pong');
    const id = await page.locator('#command-result').getAttribute('data-command');
    await page.locator(`#commands tr[data-command="${id}"] [data-status="succeeded"]`).waitFor({ timeout: 10_000 });

    // a second command replaces the first in the result; list-images asks the satellite
    await page.locator('#command-action').selectOption('list-images');
    await page.locator('#command-submit').click();
    await page.locator(`#command-result[data-status="succeeded"]:not([data-command="${id}"])`).waitFor({ timeout: 15_000 });
    expect(await page.locator('#command-status').textContent()).toBe(`list-images on ${SITE}: succeeded exit 0`);
    expect(await page.locator('#command-output').isVisible()).toBe(true);

    // bad arguments never leave the page; the API's refusal is shown with its code
    await page.locator('#command-args').fill('{"delayMs": -1}');
    await page.locator('#command-submit').click();
    await poll(() => page.locator('#command-error').textContent()).toMatch(/^VALIDATION_FAILED: /);
    await page.locator('#command-args').fill('{oops');
    await page.locator('#command-submit').click();
    await poll(() => page.locator('#command-error').textContent()).toMatch(/not valid JSON/);
    await page.close();
  });

  it('shows the prompt again for a wrong token, and for a token revoked while the page is open', async () => {
    const page = await signIn('not-a-valid-token');
    await poll(() => page.locator('#login-message').textContent()).toMatch(/The token was refused: /);
    expect(await page.locator('#login').isVisible()).toBe(true);
    expect(await page.locator('#app').isVisible()).toBe(false);
    expect(await page.evaluate("sessionStorage.getItem('uplink.token')")).toBeNull();

    // a viewer's token from the URL fragment: reads work, the command is refused as insufficient role
    expect((await sys.api('POST', '/v1/users', { name: 'vera', role: 'viewer', password: 'vera-password-0123' })).status).toBe(201);
    const created = await sys.api<{ id: string; token: string }>('POST', '/v1/tokens', { name: 'wall screen', user: 'vera' });
    expect(created.status).toBe(201);
    const viewer = await browser.newPage();
    await viewer.goto(`${sys.gateway}/#token=${encodeURIComponent(created.body.token)}`);
    await viewer.locator(`#satellites tr[data-satellite="${SITE}"]`).waitFor();
    expect(new URL(viewer.url()).hash).toBe('');
    await viewer.locator(`#command-satellite option[value="${SITE}"]`).waitFor({ state: 'attached' });
    await viewer.locator('#command-submit').click();
    await poll(() => viewer.locator('#command-error').textContent()).toMatch(/^Your role is not sufficient for this: .*needs the operator role/);

    // revoked: the next refresh is refused and the page goes back to the prompt
    expect((await sys.api('DELETE', `/v1/tokens/${created.body.id}`)).status).toBe(204);
    await viewer.locator('#login').waitFor({ state: 'visible', timeout: 15_000 });
    expect(await viewer.locator('#login-message').textContent()).toMatch(/The token was refused: /);
    expect(await viewer.locator('#feed-state').getAttribute('data-state')).toBe('off');
    await page.close();
    await viewer.close();
  });

  it('lists the fleet a page at a time, filters it by liveness and name, and reads one satellite only when it is opened', async () => {
    // four more sites that never send a heartbeat: liveness unknown
    for (const name of ['edge-02', 'edge-03', 'edge-04', 'west-01']) expect((await sys.api('POST', '/v1/satellites', { name })).status).toBe(201);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
    });
    const requests = apiRequests(page);
    const fleetList = () => requests.filter((u) => u.pathname === '/v1/fleet/satellites');
    const perSatellite = () => requests.filter((u) => u.pathname.startsWith('/v1/satellites')).map((u) => u.pathname);
    // two satellites a page, set in the page's address
    await page.goto(`${sys.gateway}/?pageSize=2#token=${ADMIN_TOKEN}`);
    await poll(() => listed(page)).toEqual([SITE, 'edge-02']);
    const more = page.locator('#satellites-more');
    expect(await more.isVisible()).toBe(true);
    expect(fleetList().find((u) => u.searchParams.get('limit') === '2')?.searchParams.has('cursor')).toBe(false);

    // each "Load more" is one request for the next page, after the cursor of the last
    const before = fleetList().length;
    await more.click();
    await poll(() => listed(page)).toEqual([SITE, 'edge-02', 'edge-03', 'edge-04']);
    const next = fleetList().slice(before).find((u) => u.searchParams.has('cursor'));
    expect(next?.searchParams.get('limit')).toBe('2');
    await more.click();
    await poll(() => listed(page)).toEqual([SITE, 'edge-02', 'edge-03', 'edge-04', 'west-01']);
    await poll(() => more.isVisible()).toBe(false);
    expect(await page.locator('#satellites-note').textContent()).toBe('5 satellites.');

    // the liveness filter and the name search ask the API, a page at a time
    await page.locator('#satellites-status').selectOption('online');
    await poll(() => listed(page)).toEqual([SITE]);
    expect(await more.isVisible()).toBe(false);
    await page.locator('#satellites-status').selectOption('unknown');
    await poll(() => listed(page)).toEqual(['edge-02', 'edge-03']);
    await poll(() => more.isVisible()).toBe(true);
    await page.locator('#satellites-status').selectOption('');
    await page.locator('#satellites-q').fill('west');
    await poll(() => listed(page)).toEqual(['west-01']);
    await page.locator('#satellites-q').fill('EDGE-0');
    await poll(() => listed(page)).toEqual([SITE, 'edge-02']);
    await page.locator('#satellites-status').selectOption('online');
    await poll(() => listed(page)).toEqual([SITE]);
    expect(fleetList().some((u) => u.searchParams.get('status') === 'online' && u.searchParams.get('q') === 'edge-0')).toBe(true);
    await page.locator('#satellites-q').fill('nothing-here');
    await poll(() => page.locator('#satellites tbody').textContent()).toBe('No satellite matches.');
    // a search no name can start with is refused in the page, never sent
    const sent = fleetList().length;
    await page.locator('#satellites-q').fill('edge.01');
    await poll(() => page.locator('#satellites .section-error').textContent()).toMatch(/^Search: /);
    expect(fleetList().filter((u) => u.searchParams.get('q') === 'edge.01')).toEqual([]);
    await page.locator('#satellites-q').fill('');
    await page.locator('#satellites-status').selectOption('');
    await poll(() => listed(page)).toEqual([SITE, 'edge-02']);
    expect(await page.locator('#satellites .section-error').textContent()).toBe('');
    expect(fleetList().length).toBeGreaterThan(sent);

    // so far not one request per satellite; opening one reads its status and state, and only its
    expect(perSatellite()).toEqual([]);
    await page.locator(`#satellites button[data-select="${SITE}"]`).click();
    const detail = page.locator('#satellite-detail');
    await detail.waitFor({ state: 'visible' });
    expect(await detail.locator('#detail-name').textContent()).toBe(SITE);
    await poll(() => detail.locator('[data-fact="status"] [data-status]').getAttribute('data-status')).toBe('online');
    await poll(() => detail.locator('[data-fact="sync"]').textContent()).toMatch(/^(idle|syncing|synced) \d+\/\d+/);
    await poll(() => detail.locator('[data-fact="applied"]').textContent()).toMatch(/^r\d+ sha256:[0-9a-f]{12}$/);
    expect(await page.locator(`#satellites tr[data-satellite="${SITE}"]`).getAttribute('aria-selected')).toBe('true');
    expect(await page.locator('#command-satellite').inputValue()).toBe(SITE);
    expect([...new Set(perSatellite())].sort()).toEqual([`/v1/satellites/${SITE}/state`, `/v1/satellites/${SITE}/status`]);
    await page.locator('#detail-close').click();
    await poll(() => detail.isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });
});
