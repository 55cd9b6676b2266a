// Asking the user: a line from the terminal, a password without echo, or a secret from stdin.
import { createInterface } from 'node:readline';
import { CliError } from './errors.js';

export function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

/** One line typed on the terminal (prompt on stderr, so stdout stays clean). */
export async function askLine(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
  }
}

/** A password typed on the terminal, not echoed. */
export async function askPassword(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            resolve(value);
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            reject(new CliError('cancelled', { exitCode: 130 }));
            return;
          }
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/** All of stdin without the trailing newline (for --password-stdin). */
export async function readStdinSecret(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** The password from stdin when asked to, else from the terminal; a clear error when neither is possible. */
export async function readPassword(opts: { fromStdin?: boolean; question?: string; confirm?: boolean }): Promise<string> {
  if (opts.fromStdin) {
    const pw = await readStdinSecret();
    if (!pw) throw new CliError('--password-stdin: stdin was empty');
    return pw;
  }
  if (!isInteractive()) throw new CliError('no terminal to ask the password on: pipe it in with --password-stdin');
  const pw = await askPassword(opts.question ?? 'password: ');
  if (opts.confirm && (await askPassword('again: ')) !== pw) throw new CliError('the two passwords differ');
  return pw;
}
