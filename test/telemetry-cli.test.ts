// `uplink sat status`, `uplink sat list`, `uplink telemetry show|tail` and `uplink images` against a
// running gateway and telemetry-ingest, as a user runs them.
import { execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetSatellitesPage, ImagesView, TelemetryPage, TelemetryStreamEvent } from '@uplink/contracts';
import { waitFor } from '@uplink/testkit';
import { heartbeat, startTelemetrySystem, TOKEN, type TelemetrySystem } from './telemetry-support.js';

const repoRoot = join(fileURLToPath(import.meta.url), '..', '..');
const tsx = createRequire(import.meta.url).resolve('tsx');
const cliArgs = ['--conditions=uplink-source', '--import', tsx, join(repoRoot, 'packages/cli/src/main.ts')];
let sys: TelemetrySystem;
const env = () => ({ ...process.env, UPLINK_GATEWAY: sys.gateway.url, UPLINK_TOKEN: TOKEN });

async function uplink(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [...cliArgs, ...args], { env: env(), cwd: repoRoot });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  sys = await startTelemetrySystem();
  // cli-00 (no inventory) comes first in name order: with --limit 1 the report takes two pages
  await sys.register('cli-00', 'cli-01');
  await sys.forward('heartbeat', heartbeat('cli-01', 1, { inventory: { hash: 'h', images: [{ repository: 'app/web', digest: 'sha256:' + 'c'.repeat(64), sizeBytes: 5 }] } }), 'cli:1');
  await sys.stored('cli-01', 1);
});
afterAll(async () => {
  await sys?.[Symbol.asyncDispose]();
});

// each run of the CLI compiles it with tsx: seconds on a busy machine
describe('uplink telemetry commands', { timeout: 90_000 }, () => {
  it('shows a satellite status, its stored telemetry and the image report', async () => {
    const [status, show, imagesRun, missing] = await Promise.all([
      uplink('sat', 'status', 'cli-01'),
      uplink('telemetry', 'show', 'cli-01', '--from', '10m', '--json'),
      uplink('images', '--json'),
      uplink('sat', 'status', 'nowhere'),
    ]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^cli-01: online\nlast heartbeat: .+ \(\d+s ago\)\nseq=1 cpu=3%/);
    const page = JSON.parse(show.stdout) as TelemetryPage;
    expect(page.items.map((i) => i.msgId)).toEqual(['cli:1']);

    const images = JSON.parse(imagesRun.stdout) as ImagesView;
    expect(images.images).toMatchObject([{ repository: 'app/web', sites: ['cli-01'] }]);

    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/SATELLITE_NOT_FOUND: satellite "nowhere" does not exist/);
  });

  it('shows the image report a page of sites at a time, or all pages as one', async () => {
    const [firstPage, all, badCursor, badLimit] = await Promise.all([
      uplink('images', '--limit', '1'),
      uplink('images', '--all', '--limit', '1', '--json'),
      uplink('images', '--cursor', 'bogus'),
      uplink('images', '--limit', '0'),
    ]);
    expect(firstPage.code).toBe(0);
    const next = /sites cli-00 to cli-00 only; next page: uplink images --cursor (\S+) --limit 1 \(or --all/.exec(firstPage.stdout);
    expect(next, firstPage.stdout).not.toBeNull();
    const second = await uplink('images', '--cursor', next![1]!, '--limit', '1', '--json');
    expect((JSON.parse(second.stdout) as ImagesView).sites.map((s) => s.name)).toEqual(['cli-01']);

    const merged = JSON.parse(all.stdout) as ImagesView;
    expect(merged.sites.map((s) => s.name)).toEqual(['cli-00', 'cli-01']);
    expect(merged.images).toMatchObject([{ repository: 'app/web', sites: ['cli-01'] }]);
    expect(merged.nextCursor).toBeUndefined();

    expect(badCursor.code).toBe(2);
    expect(badCursor.stderr).toMatch(/VALIDATION_FAILED: .*cursor/);
    expect(badLimit.code).toBe(1);
    expect(badLimit.stderr).toMatch(/--limit: give a number of sites from 1 to 1000/);
  });

  it('lists the satellites from the fleet list: a page at a time, every page, by liveness and name', async () => {
    const [firstPage, all, online, unknown, byName, badStatus, badCursor, groupPaged] = await Promise.all([
      uplink('sat', 'list', '--limit', '1'),
      uplink('sat', 'list', '--all', '--limit', '1', '--json'),
      uplink('sat', 'list', '--status', 'online', '--json'),
      uplink('sat', 'list', '--status', 'unknown'),
      uplink('sat', 'list', '--prefix', 'cli-0', '--limit', '1', '--json'),
      uplink('sat', 'list', '--status', 'pending'),
      uplink('sat', 'list', '--cursor', 'bogus'),
      uplink('sat', 'list', '--group', 'edge', '--limit', '5', '--status', 'online'),
    ]);
    expect(firstPage.code, firstPage.stderr).toBe(0);
    expect(firstPage.stdout).toMatch(/^NAME +LIVENESS +LIFECYCLE +HEARTBEAT +APPLIED\/DESIRED +SYNC +VERSION +GROUPS\ncli-00 +unknown +pending +never +-\/- /);
    const next = /1 shown, more follow; next page: uplink sat list --cursor (\S+) --limit 1 \(or --all/.exec(firstPage.stdout);
    expect(next, firstPage.stdout).not.toBeNull();
    const second = await uplink('sat', 'list', '--cursor', next![1]!, '--limit', '1', '--json');
    const rest = JSON.parse(second.stdout) as FleetSatellitesPage;
    expect(rest.satellites.map((s) => s.name)).toEqual(['cli-01']);
    expect(rest.nextCursor).toBeUndefined();

    const every = JSON.parse(all.stdout) as FleetSatellitesPage;
    expect(every).toEqual({ satellites: [expect.objectContaining({ name: 'cli-00', liveness: 'unknown' }), expect.objectContaining({ name: 'cli-01' })] });
    expect((JSON.parse(online.stdout) as FleetSatellitesPage).satellites).toMatchObject([{ name: 'cli-01', liveness: 'online', lifecycle: 'pending' }]);
    expect(unknown.stdout).toMatch(/^NAME.*\ncli-00 +unknown/);
    expect(unknown.stdout).not.toContain('cli-01');
    expect(JSON.parse(byName.stdout)).toMatchObject({ satellites: [{ name: 'cli-00' }], nextCursor: expect.any(String) });

    expect(badStatus.code).toBe(1);
    expect(badStatus.stderr).toMatch(/--status: give one of online, stale, offline, unknown/);
    expect(badCursor.code).toBe(2);
    expect(badCursor.stderr).toMatch(/VALIDATION_FAILED: .*cursor/);
    // one group's list comes whole from registration: paging flags are refused, not ignored
    expect(groupPaged.code).toBe(1);
    expect(groupPaged.stderr).toMatch(/--group lists a group's satellites in one piece: leave out --status, --limit$/m);
  });

  it('tails live telemetry of one satellite', async () => {
    const child = spawn(process.execPath, [...cliArgs, 'telemetry', 'tail', '--satellite', 'cli-01', '--count', '2', '--json'], { env: env(), cwd: repoRoot });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    try {
      // publish until the tail is connected and has seen two events
      let seq = 2;
      await waitFor(async () => {
        await sys.forward('heartbeat', heartbeat('cli-01', seq), `cli:${seq}`);
        seq++;
        return out.split('\n').filter(Boolean).length >= 2;
      }, { intervalMs: 200, timeoutMs: 50_000, what: 'two events tailed' }).catch((e: Error) => {
        throw new Error(`${e.message}; uplink said: ${err}`);
      });
      expect(await exited).toBe(0);
      const events = out.trim().split('\n').map((l) => JSON.parse(l) as TelemetryStreamEvent);
      expect(events).toHaveLength(2);
      expect(events.every((e) => e.satellite === 'cli-01' && e.kind === 'heartbeat')).toBe(true);
      expect(events[1]!.seq).toBeGreaterThan(events[0]!.seq);
    } finally {
      child.kill();
    }
  });
});
