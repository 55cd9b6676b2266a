// A TCP link proxy between a leaf and its hub that a test can cut, restore and throttle: the WAN.
import net from 'node:net';

export interface LinkProxy extends AsyncDisposable {
  port: number;
  /** the URL to give the leaf instead of the hub's */
  leafUrl: string;
  /** drop every open connection and refuse new ones until restore() */
  cut(): void;
  restore(): void;
  /** limit each direction to bytesPerSecond (0 = unlimited) */
  throttle(bytesPerSecond: number): void;
  readonly isCut: boolean;
  /** bytes relayed hub -> leaf and leaf -> hub since start */
  readonly bytes: { down: number; up: number };
  close(): Promise<void>;
}

export async function startLinkProxy(target: { host?: string; port: number }, opts: { port?: number } = {}): Promise<LinkProxy> {
  const host = target.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  let cut = false;
  let rate = 0;
  const bytes = { down: 0, up: 0 };

  // pace a stream: pause the source while the budget of the current second is spent
  function pipe(from: net.Socket, to: net.Socket, count: (n: number) => void, transform?: (chunk: Buffer) => Buffer) {
    let windowStart = Date.now();
    let sent = 0;
    from.on('data', (data: Buffer) => {
      const chunk = transform ? transform(data) : data;
      if (chunk.length === 0) return;
      count(chunk.length);
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      if (rate > 0) {
        const now = Date.now();
        if (now - windowStart >= 1000) {
          windowStart = now;
          sent = 0;
        }
        sent += chunk.length;
        if (sent >= rate) {
          from.pause();
          setTimeout(() => from.resume(), Math.max(1, 1000 - (Date.now() - windowStart)));
        }
      }
    });
  }

  // The hub's INFO lines list its own leafnode URL, which a leaf adds to its remote's URLs and then
  // reconnects to directly, around the proxy (a second cut would not cut). Rewrite them to advertise
  // the proxy. Only the control lines before the first message are scanned; the rest passes as is.
  function advertiseProxy(): (chunk: Buffer) => Buffer {
    const CRLF = Buffer.from('\r\n');
    let pending = Buffer.alloc(0);
    let passthrough = false;
    return (data) => {
      if (passthrough) return data;
      pending = Buffer.concat([pending, data]);
      const out: Buffer[] = [];
      for (let end = pending.indexOf(CRLF); end >= 0; end = pending.indexOf(CRLF)) {
        const line = pending.subarray(0, end);
        const op = line.subarray(0, 5).toString('latin1').toUpperCase();
        if (op.startsWith('INFO ')) out.push(rewriteInfo(line), CRLF);
        else if (/^(LS[+-] |PING|PONG|\+OK|-ERR)/.test(op)) out.push(line, CRLF);
        else break; // a message with a payload: stop scanning
        pending = pending.subarray(end + 2);
      }
      if (pending.length > 0 && (pending.indexOf(CRLF) >= 0 || pending.length > 65_536)) {
        passthrough = true;
        out.push(pending);
        pending = Buffer.alloc(0);
      }
      return Buffer.concat(out);
    };
  }

  function rewriteInfo(line: Buffer): Buffer {
    try {
      const info = JSON.parse(line.subarray(5).toString('utf8')) as Record<string, unknown>;
      if (!Array.isArray(info.leafnode_urls)) return line;
      info.leafnode_urls = [`127.0.0.1:${(server.address() as net.AddressInfo).port}`];
      return Buffer.from(`INFO ${JSON.stringify(info)}`);
    } catch {
      return line;
    }
  }

  const server = net.createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host, port: target.port });
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    pipe(client, upstream, (n) => (bytes.up += n));
    pipe(upstream, client, (n) => (bytes.down += n), advertiseProxy());
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const addr = server.address() as net.AddressInfo;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port: addr.port,
    leafUrl: `nats-leaf://127.0.0.1:${addr.port}`,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      cut = false;
    },
    throttle(bps: number) {
      rate = bps;
    },
    get isCut() {
      return cut;
    },
    bytes,
    close,
    [Symbol.asyncDispose]: close,
  };
}
