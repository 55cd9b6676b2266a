// A hostile site: a plain TCP client speaking the leafnode protocol with a site's valid credentials
// (CONNECT with its JWT and a signature of the server nonce), then sending whatever it likes (LS+,
// LMSG, HMSG), ignoring every permission a well-behaved leaf server would apply.
import net from 'node:net';
import { parseCreds, signWithSeed } from '@uplink/nats-auth';

export interface LeafMessage {
  subject: string;
  reply: string | undefined;
  data: string;
}

export class RawLeafClient {
  readonly messages: LeafMessage[] = [];
  readonly errors: string[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private pongs = 0;
  private infoSeen: ((info: { nonce?: string }) => void) | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', (e) => this.errors.push(e.message));
  }

  /** Connect to a hub leafnode port as the user of `credsText`; resolves once the hub answered a PING. */
  static async connect(port: number, credsText: string, name = 'hostile'): Promise<RawLeafClient> {
    const socket = net.connect(port, '127.0.0.1');
    const c = new RawLeafClient(socket);
    const info = await new Promise<{ nonce?: string }>((resolve, reject) => {
      c.infoSeen = resolve;
      socket.once('error', reject);
      setTimeout(() => reject(new Error('no INFO from the hub')), 5_000);
    });
    const { jwt, seed } = parseCreds(credsText);
    const sig = signWithSeed(seed, info.nonce ?? '');
    c.write(`CONNECT ${JSON.stringify({ jwt, sig, tls_required: false, name, headers: true })}\r\nPING\r\n`);
    await c.until(() => c.pongs > 0 || c.closed || c.errors.length > 0, 5_000, 'PONG after CONNECT');
    if (c.closed || c.errors.some((e) => e.startsWith('-ERR'))) throw new Error(`the hub refused the leaf connection: ${c.errors.join('; ')}`);
    return c;
  }

  sub(subject: string, queue?: string): void {
    this.write(`LS+ ${subject}${queue ? ` ${queue} 1` : ''}\r\n`);
  }

  pub(subject: string, data: string, reply?: string): void {
    const body = Buffer.from(data);
    this.write(`LMSG ${subject}${reply ? ` ${reply}` : ''} ${body.length}\r\n${data}\r\n`);
  }

  /** a message with NATS headers (HMSG on a leaf connection) */
  hpub(subject: string, headers: string, data: string, reply?: string): void {
    const hdr = `NATS/1.0\r\n${headers}\r\n`;
    const total = Buffer.byteLength(hdr) + Buffer.byteLength(data);
    this.write(`HMSG ${subject}${reply ? ` ${reply}` : ''} ${Buffer.byteLength(hdr)} ${total}\r\n${hdr}${data}\r\n`);
  }

  /** round trip to the hub: everything sent before has been processed */
  async flush(): Promise<void> {
    const before = this.pongs;
    this.write('PING\r\n');
    await this.until(() => this.pongs > before || this.closed, 5_000, 'PONG');
  }

  close(): void {
    this.socket.destroy();
  }

  private write(s: string): void {
    if (!this.closed) this.socket.write(s);
  }

  private async until(cond: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private parse(): void {
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return;
      const line = this.buf.subarray(0, eol).toString();
      const [op, ...args] = line.split(' ').filter((s) => s.length > 0);
      const upper = (op ?? '').toUpperCase();
      if (upper === 'LMSG' || upper === 'HMSG') {
        // LMSG <subject> [reply | + reply queues… | | queues…] <size>; HMSG … <hdr size> <size>
        const size = Number(args[args.length - 1]);
        if (this.buf.length < eol + 2 + size + 2) return;
        const payload = this.buf.subarray(eol + 2, eol + 2 + size);
        this.buf = this.buf.subarray(eol + 2 + size + 2);
        const nums = upper === 'HMSG' ? 2 : 1;
        const middle = args.slice(1, args.length - nums);
        const reply = middle[0] === '+' ? middle[1] : middle[0] === '|' ? undefined : middle[0];
        const hdrSize = upper === 'HMSG' ? Number(args[args.length - 2]) : 0;
        this.messages.push({ subject: args[0]!, reply, data: payload.subarray(hdrSize).toString() });
        continue;
      }
      this.buf = this.buf.subarray(eol + 2);
      if (upper === 'INFO') {
        const info = JSON.parse(args.join(' ')) as { nonce?: string };
        this.infoSeen?.(info);
        this.infoSeen = undefined;
      } else if (upper === 'PING') this.write('PONG\r\n');
      else if (upper === 'PONG') this.pongs++;
      else if (upper === '-ERR') this.errors.push(line);
    }
  }
}
