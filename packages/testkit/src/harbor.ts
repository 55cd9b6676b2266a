// A fake of Harbor's robot-account API v2.0 (the one thing of Harbor tests cannot run here):
// POST/GET /api/v2.0/robots, DELETE and PATCH /api/v2.0/robots/{id}, with basic auth, the documented
// bodies (RobotCreate -> 201 RobotCreated with a Location header, 409 on a taken name) and Harbor's
// error shape `{ errors: [{ code, message }] }`.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeHarborRobot {
  id: number;
  /** as Harbor returns it: `robot$<name>` */
  name: string;
  description: string;
  secret: string;
  level: string;
  duration: number;
  disable: boolean;
  permissions: { kind: string; namespace: string; access: { resource: string; action: string }[] }[];
  creation_time: string;
}

export interface FakeHarbor extends AsyncDisposable {
  url: string;
  username: string;
  password: string;
  robots(): FakeHarborRobot[];
  /** requests seen, as "METHOD path" */
  requests(): string[];
  close(): Promise<void>;
}

export async function startFakeHarbor(opts: { username?: string; password?: string } = {}): Promise<FakeHarbor> {
  const username = opts.username ?? 'admin';
  const password = opts.password ?? 'Harbor12345';
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const robots = new Map<number, FakeHarborRobot>();
  const seen: string[] = [];
  let nextId = 1;

  const send = (res: http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const error = (res: http.ServerResponse, status: number, code: string, message: string) => send(res, status, { errors: [{ code, message }] });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://harbor');
      seen.push(`${req.method} ${url.pathname}`);
      if (req.headers.authorization !== expected) return error(res, 401, 'UNAUTHORIZED', 'unauthorized');
      const m = /^\/api\/v2\.0\/robots(?:\/(\d+))?$/.exec(url.pathname);
      if (!m) return error(res, 404, 'NOT_FOUND', 'not found');
      const id = m[1] ? Number(m[1]) : undefined;
      let body: Record<string, unknown>;
      try {
        body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : {};
      } catch {
        return error(res, 400, 'BAD_REQUEST', 'invalid JSON');
      }
      if (req.method === 'POST' && id === undefined) {
        const name = body.name;
        const permissions = body.permissions as FakeHarborRobot['permissions'] | undefined;
        if (typeof name !== 'string' || !/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(name)) return error(res, 400, 'BAD_REQUEST', 'invalid robot name');
        if (body.level !== 'system' && body.level !== 'project') return error(res, 400, 'BAD_REQUEST', 'level must be system or project');
        if (typeof body.duration !== 'number' || (body.duration !== -1 && body.duration <= 0)) return error(res, 400, 'BAD_REQUEST', 'duration must be -1 or positive');
        if (!Array.isArray(permissions) || permissions.length === 0) return error(res, 400, 'BAD_REQUEST', 'permissions required');
        if ([...robots.values()].some((r) => r.name === `robot$${name}`)) return error(res, 409, 'CONFLICT', `robot account ${name} already exists`);
        const robot: FakeHarborRobot = {
          id: nextId++,
          name: `robot$${name}`,
          description: typeof body.description === 'string' ? body.description : '',
          secret: typeof body.secret === 'string' && body.secret ? body.secret : randomBytes(16).toString('hex'),
          level: body.level,
          duration: body.duration,
          disable: body.disable === true,
          permissions,
          creation_time: new Date().toISOString(),
        };
        robots.set(robot.id, robot);
        return send(res, 201, { id: robot.id, name: robot.name, secret: robot.secret, creation_time: robot.creation_time, expires_at: -1 }, {
          location: `/api/v2.0/robots/${robot.id}`,
        });
      }
      if (req.method === 'GET' && id === undefined) {
        // q=name=<exact> or q=name=~<fuzzy>, matched against the name without the prefix too
        const q = url.searchParams.get('q') ?? '';
        const qm = /^name=(~?)(.*)$/.exec(q);
        const list = [...robots.values()].filter((r) => {
          if (!qm) return true;
          const bare = r.name.replace(/^robot\$/, '');
          return qm[1] ? r.name.includes(qm[2]!) : r.name === qm[2] || bare === qm[2];
        });
        return send(res, 200, list.map(({ secret: _s, ...r }) => r), { 'x-total-count': String(list.length) });
      }
      const robot = id === undefined ? undefined : robots.get(id);
      if (!robot) return error(res, 404, 'NOT_FOUND', `robot ${id} not found`);
      if (req.method === 'DELETE') {
        robots.delete(robot.id);
        return send(res, 200);
      }
      if (req.method === 'PATCH') {
        robot.secret = typeof body.secret === 'string' && body.secret ? body.secret : randomBytes(16).toString('hex');
        return send(res, 200, { secret: robot.secret });
      }
      return error(res, 405, 'METHOD_NOT_ALLOWED', 'method not allowed');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    url,
    username,
    password,
    robots: () => [...robots.values()],
    requests: () => [...seen],
    close,
    [Symbol.asyncDispose]: close,
  };
}
