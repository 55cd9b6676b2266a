// Per-site pull-only robot accounts in Harbor (API v2.0): a site registering gets a fresh robot
// `uplink-<site>` (any older one of that name is replaced, so a previous device's secret stops
// working); revoking the site deletes it. Harbor returns the secret only at creation: nothing is kept.
import { ErrorCode, UplinkError } from '@uplink/contracts';

export interface HarborRobotsOptions {
  /** Harbor base URL, e.g. https://harbor.example.com */
  url: string;
  username: string;
  password: string;
  /** projects the robots may pull from; `*` = every project @default ['*'] */
  projects?: string[];
  /** robot lifetime in days, -1 = never expires @default -1 */
  durationDays?: number;
  /** @default 10_000 */
  timeoutMs?: number;
}

export interface HarborRobots {
  /** the key under which sites find these credentials: Harbor's host */
  readonly registry: string;
  /** a new pull-only robot for the site: its Harbor username (`robot$uplink-<site>`) and secret */
  issue(satellite: string): Promise<{ username: string; password: string }>;
  /** delete the site's robot; false when there was none */
  remove(satellite: string): Promise<boolean>;
}

interface Robot {
  id: number;
  name: string;
}

export function createHarborRobots(opts: HarborRobotsOptions): HarborRobots {
  const base = `${opts.url.replace(/\/+$/, '')}/api/v2.0`;
  const auth = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  const robotName = (sat: string) => `uplink-${sat}`;

  async function call(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: auth, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new UplinkError(ErrorCode.UPSTREAM_UNAVAILABLE, `Harbor at ${opts.url} is not reachable: ${(err as Error).message}`, { cause: err });
    }
    return res;
  }

  async function fail(res: Response, what: string): Promise<never> {
    const body = (await res.json().catch(() => undefined)) as { errors?: { message?: string }[] } | undefined;
    const why = body?.errors?.map((e) => e.message).join('; ') || `HTTP ${res.status}`;
    throw new UplinkError(ErrorCode.UPSTREAM_UNAVAILABLE, `Harbor refused to ${what}: ${why}`);
  }

  async function find(sat: string): Promise<Robot[]> {
    const res = await call('GET', `/robots?q=${encodeURIComponent(`name=${robotName(sat)}`)}&page_size=100`);
    if (!res.ok) return fail(res, `list the robot of ${sat}`);
    const list = (await res.json()) as Robot[];
    return list.filter((r) => r.name === robotName(sat) || r.name.endsWith(`$${robotName(sat)}`));
  }

  async function remove(sat: string): Promise<boolean> {
    const found = await find(sat);
    for (const r of found) {
      const res = await call('DELETE', `/robots/${r.id}`);
      if (!res.ok && res.status !== 404) await fail(res, `delete the robot of ${sat}`);
    }
    return found.length > 0;
  }

  return {
    registry: new URL(opts.url).host,
    async issue(sat) {
      await remove(sat);
      const res = await call('POST', '/robots', {
        name: robotName(sat),
        description: `pull-only robot of Uplink site ${sat}`,
        level: 'system',
        disable: false,
        duration: opts.durationDays ?? -1,
        permissions: (opts.projects ?? ['*']).map((namespace) => ({ kind: 'project', namespace, access: [{ resource: 'repository', action: 'pull' }] })),
      });
      if (res.status !== 201) return fail(res, `create a robot for ${sat}`);
      const created = (await res.json()) as { name?: string; secret?: string };
      if (!created.name || !created.secret) throw new UplinkError(ErrorCode.UPSTREAM_UNAVAILABLE, `Harbor created the robot of ${sat} without a name or secret`);
      return { username: created.name, password: created.secret };
    },
    remove,
  };
}
