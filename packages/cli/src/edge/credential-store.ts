// The edge's credentials at rest: AES-256-GCM under a key derived with scrypt (memory-hard) from the
// machine identity and a random salt, in a file of mode 0600 written atomically. Another machine
// derives another key, and the authentication tag then refuses to decrypt.
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { SiteCredentials } from '@uplink/contracts';
import { CliError } from '../errors.js';
import type { IdentityProvider, MachineIdentity } from './identity.js';

/** What the edge keeps: the site's credentials, its own seed and where ground control is. */
export const StoredCredentials = SiteCredentials.extend({
  /** the device's nkey seed: never leaves the device */
  seed: z.string(),
  groundControl: z.string(),
});
export type StoredCredentials = z.infer<typeof StoredCredentials>;

const Envelope = z.strictObject({
  v: z.literal(1),
  kdf: z.strictObject({ name: z.literal('scrypt'), N: z.number().int(), r: z.number().int(), p: z.number().int(), salt: z.string() }),
  iv: z.string(),
  tag: z.string(),
  data: z.string(),
});

/** scrypt cost: 64 MiB of memory per derivation. */
const KDF = { N: 2 ** 16, r: 8, p: 1 } as const;

function deriveKey(identity: MachineIdentity, salt: Buffer, kdf: { N: number; r: number; p: number }): Promise<Buffer> {
  const secret = `uplink-edge-credentials\0${identity.machineId}\0${identity.mac}\0${identity.disk}`;
  const opts: ScryptOptions = { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r };
  return new Promise((resolve, reject) => scryptCb(secret, salt, 32, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

export interface CredentialStore {
  readonly file: string;
  /** undefined when there is no file yet */
  load(): Promise<StoredCredentials | undefined>;
  save(creds: StoredCredentials): Promise<void>;
}

export function openCredentialStore(file: string, identity: IdentityProvider): CredentialStore {
  return {
    file,
    async load() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new CliError(`cannot read the credentials file ${file}: ${(err as Error).message}`, { code: 'CREDENTIALS_UNREADABLE' });
      }
      const env = Envelope.safeParse(safeJson(text));
      if (!env.success) throw foreign(file, 'it is not an Uplink credentials file');
      const e = env.data;
      const key = await deriveKey(await identity(), Buffer.from(e.kdf.salt, 'base64'), e.kdf);
      let plain: Buffer;
      try {
        const d = createDecipheriv('aes-256-gcm', key, Buffer.from(e.iv, 'base64'));
        d.setAuthTag(Buffer.from(e.tag, 'base64'));
        plain = Buffer.concat([d.update(Buffer.from(e.data, 'base64')), d.final()]);
      } catch {
        throw foreign(file, 'it was encrypted on another machine (or this machine\'s identity changed)');
      }
      const creds = StoredCredentials.safeParse(safeJson(plain.toString('utf8')));
      if (!creds.success) throw foreign(file, 'its content is damaged');
      return creds.data;
    },
    async save(creds) {
      const salt = randomBytes(16);
      const iv = randomBytes(12);
      const key = await deriveKey(await identity(), salt, KDF);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const data = Buffer.concat([c.update(JSON.stringify(creds), 'utf8'), c.final()]);
      const envelope = {
        v: 1,
        kdf: { name: 'scrypt', ...KDF, salt: salt.toString('base64') },
        iv: iv.toString('base64'),
        tag: c.getAuthTag().toString('base64'),
        data: data.toString('base64'),
      };
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(envelope) + '\n', { mode: 0o600 });
      await chmod(tmp, 0o600);
      await rename(tmp, file);
    },
  };
}

function foreign(file: string, why: string): CliError {
  return new CliError(
    `cannot decrypt the credentials in ${file}: ${why}. Register this machine again: ask an operator for a new join token (POST /v1/satellites/<name>/token) and run uplink edge --token <token>`,
    { code: 'CREDENTIALS_FOREIGN', exitCode: 3 },
  );
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
