// `uplink dev` in decentralized JWT mode: the operator, system and application accounts (and the
// site signing key) generated once into the data dir and reused, so a restart on the same data dir
// keeps the hub's resolver, the services' creds and every site's credentials valid.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createOperatorSetup, registrationNatsEnv, type OperatorSetup } from '@uplink/nats-auth';

export interface DevNats {
  setup: OperatorSetup;
  /** creds of the cloud services' user in the application account */
  servicesCreds: string;
  /** creds of a system account user (registration pushes site accounts with it) */
  sysCreds: string;
}

export async function loadDevNats(dir: string): Promise<DevNats> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'operator.json');
  let setup: OperatorSetup;
  if (existsSync(file)) {
    setup = JSON.parse(await readFile(file, 'utf8')) as OperatorSetup;
  } else {
    setup = await createOperatorSetup({ operatorName: 'UPLINK_DEV' });
    await writeFile(`${file}.tmp`, JSON.stringify(setup, null, 2) + '\n', { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }
  const servicesCreds = join(dir, 'services.creds');
  const sysCreds = join(dir, 'sys.creds');
  await writeFile(servicesCreds, setup.app.servicesCreds, { mode: 0o600 });
  await writeFile(sysCreds, setup.system.userCreds, { mode: 0o600 });
  return { setup, servicesCreds, sysCreds };
}

/** Registration's environment for minting site credentials. */
export function registrationZtrEnv(n: DevNats, opts: { hubLeafUrl: string; commandSigningKey: string }): Record<string, string> {
  return registrationNatsEnv(n.setup, { systemCredsFile: n.sysCreds, ...opts });
}
