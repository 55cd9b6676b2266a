// `uplink nats-init --out DIR`: the decentralized-JWT setup of an installation: a fresh operator with
// its system and application accounts, the hub's auth configuration (operator mode, full resolver),
// the services' and the system user's creds, registration's environment for minting site accounts, and
// the command service's signing key (its public half in registration's environment, told to sites).
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZtrEnv } from '@uplink/contracts';
import { createCommandSigningKey } from '@uplink/command';
import { createOperatorSetup, registrationNatsEnv } from '@uplink/nats-auth';
import { CliError } from '../errors.js';

export function natsInitCommand(program: Command): void {
  program
    .command('nats-init')
    .description('generate the NATS operator, system and application accounts, the hub auth config and the services\' creds')
    .requiredOption('--out <dir>', 'directory to write into (must not hold a setup already)')
    .option('--resolver-dir <dir>', 'where the hub keeps pushed account JWTs', '/data/jwt')
    .option('--hub-leaf-url <url>', 'leafnode URL sites connect to (tls://host:7422 when the hub serves leafnodes over TLS)', 'nats-leaf://hub.example.com:7422')
    .action(async (o: { out: string; resolverDir: string; hubLeafUrl: string }) => {
      const leafUrl = ZtrEnv.shape.HUB_LEAF_URL.safeParse(o.hubLeafUrl);
      if (!leafUrl.success) throw new CliError(`--hub-leaf-url ${o.hubLeafUrl}: ${leafUrl.error.issues[0]?.message ?? 'not a leafnode URL'}`);
      const out = resolve(o.out);
      if (existsSync(join(out, 'operator.json'))) throw new CliError(`${out} already holds a setup: keep it (its keys sign every site) or choose another --out`);
      await mkdir(out, { recursive: true, mode: 0o700 });
      const s = await createOperatorSetup();
      const signing = createCommandSigningKey();
      const secret = { mode: 0o600 } as const;
      await writeFile(join(out, 'operator.json'), JSON.stringify(s, null, 2) + '\n', secret);
      await writeFile(
        join(out, 'hub-auth.conf'),
        `# include from the hub's config: operator mode, a full resolver (pushed site accounts persist)\n` +
          `operator: ${JSON.stringify(s.operator.jwt)}\nsystem_account: ${s.system.publicKey}\n` +
          `resolver: { type: full, dir: ${JSON.stringify(o.resolverDir)}, allow_delete: false, interval: "2m" }\n` +
          `resolver_preload: {\n  ${s.system.publicKey}: ${JSON.stringify(s.system.jwt)}\n  ${s.app.publicKey}: ${JSON.stringify(s.app.jwt)}\n}\n`,
      );
      await writeFile(join(out, 'services.creds'), s.app.servicesCreds, secret);
      await writeFile(join(out, 'sys.creds'), s.system.userCreds, secret);
      await writeFile(
        join(out, 'registration.env'),
        [
          `NATS_CREDS=${join(out, 'services.creds')}`,
          ...Object.entries(
            registrationNatsEnv(s, { systemCredsFile: join(out, 'sys.creds'), hubLeafUrl: o.hubLeafUrl, commandSigningKey: signing.publicKey }),
          ).map(([k, v]) => `${k}=${v}`),
          '',
        ].join('\n'),
        secret,
      );
      await writeFile(join(out, 'command.env'), [`NATS_CREDS=${join(out, 'services.creds')}`, `COMMAND_SIGNING_SEED=${signing.seed}`, ''].join('\n'), secret);
      process.stdout.write(
        `wrote ${out}: hub-auth.conf (include it in the hub config), services.creds (NATS_CREDS of every cloud service), registration.env, command.env, sys.creds, operator.json (keep offline: it holds the operator key)\n`,
      );
    });
}
