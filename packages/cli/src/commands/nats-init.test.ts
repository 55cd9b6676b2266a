// `uplink nats-init`: what it writes is a working installation: a hub started with hub-auth.conf runs
// in operator mode and lets the services' creds in (and nobody without), registration's environment
// holds the public half of the command service's signing key, and a second run refuses to overwrite.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { keyPairFromSeed } from '@uplink/nats-auth';
import { freePort, startProcess, tempDir, waitForPort } from '@uplink/testkit';
import { natsInitCommand } from './nats-init.js';

const parseEnv = (text: string) => Object.fromEntries(text.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

async function run(args: string[]) {
  const program = new Command().exitOverride();
  natsInitCommand(program);
  await program.parseAsync(['node', 'uplink', 'nats-init', ...args]);
}

describe('uplink nats-init', () => {
  it('writes a hub config that runs in operator mode, creds that get in, and the command signing key', async () => {
    await using dir = await tempDir('uplink-nats-init-');
    const out = join(dir.path, 'auth');
    await run(['--out', out, '--resolver-dir', join(dir.path, 'jwt'), '--hub-leaf-url', 'tls://hub.example.com:7422']);

    const registration = parseEnv(await readFile(join(out, 'registration.env'), 'utf8'));
    const command = parseEnv(await readFile(join(out, 'command.env'), 'utf8'));
    expect(registration.HUB_LEAF_URL).toBe('tls://hub.example.com:7422');
    expect(registration.COMMAND_SIGNING_KEY).toBe(keyPairFromSeed(command.COMMAND_SIGNING_SEED!).getPublicKey());
    for (const f of ['operator.json', 'registration.env', 'command.env', 'services.creds', 'sys.creds']) {
      expect((await stat(join(out, f))).mode & 0o777, f).toBe(0o600);
    }

    const port = await freePort();
    const conf = join(dir.path, 'hub.conf');
    // include paths are relative to the file that includes
    await writeFile(conf, `listen: 127.0.0.1:${port}\njetstream { store_dir: ${JSON.stringify(join(dir.path, 'js'))}, domain: hub }\ninclude "auth/hub-auth.conf"\n`);
    const hub = startProcess('nats-server', ['-c', conf]);
    try {
      await waitForPort(port);
      const nc = await connect({ servers: `127.0.0.1:${port}`, authenticator: credsAuthenticator(new Uint8Array(await readFile(join(out, 'services.creds')))) });
      await nc.flush();
      await nc.close();
      await expect(connect({ servers: `127.0.0.1:${port}`, reconnect: false })).rejects.toThrow(/authorization/i);
    } finally {
      await hub.stop();
    }

    await expect(run(['--out', out])).rejects.toThrow(/already holds a setup/);
    await expect(run(['--out', join(dir.path, 'other'), '--hub-leaf-url', 'http://x'])).rejects.toThrow(/--hub-leaf-url http:\/\/x/);
  });
});
