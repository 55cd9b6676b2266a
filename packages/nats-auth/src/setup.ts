// The operator, system account and application account of an installation, generated once (by
// `uplink dev`, or `uplink nats-setup` style scripts in production) and the hub configuration that
// trusts them.
import { renderCreds } from './creds.js';
import { encodeAppAccount, encodeOperatorJwt, encodeSystemAccount, mintUser } from './claims.js';
import { createNKey, type NKey } from './keys.js';

export interface OperatorSetup {
  operator: NKey & { jwt: string; signing: NKey };
  system: NKey & { jwt: string; /** creds of a system account user: pushes account JWTs */ userCreds: string };
  app: NKey & {
    jwt: string;
    /** signs the application account's users and the sites' activation tokens */
    signing: NKey;
    /** creds of the cloud services' user in the application account */
    servicesCreds: string;
  };
  /** issues every site account's device users (a signing key of each site account) */
  siteSigning: NKey;
}

/** Fresh keys and JWTs for an installation. */
export async function createOperatorSetup(opts: { operatorName?: string } = {}): Promise<OperatorSetup> {
  const operator = createNKey('operator');
  const operatorSigning = createNKey('operator');
  const system = createNKey('account');
  const app = createNKey('account');
  const appSigning = createNKey('account');
  const siteSigning = createNKey('account');
  const operatorJwt = await encodeOperatorJwt({
    ...(opts.operatorName ? { name: opts.operatorName } : {}),
    operatorSeed: operator.seed,
    systemAccount: system.publicKey,
    signingKeys: [operatorSigning.publicKey],
  });
  const systemJwt = await encodeSystemAccount({ accountPublicKey: system.publicKey, operatorSigner: operatorSigning.seed });
  const appJwt = await encodeAppAccount({ accountPublicKey: app.publicKey, signingKeys: [appSigning.publicKey], operatorSigner: operatorSigning.seed });
  const sysUser = createNKey('user');
  const sysUserJwt = (await mintUser({ name: 'sys', userPublicKey: sysUser.publicKey, account: system.publicKey, signer: system.seed })).jwt;
  const svcUser = createNKey('user');
  const svcUserJwt = (await mintUser({ name: 'services', userPublicKey: svcUser.publicKey, account: app.publicKey, signer: appSigning.seed })).jwt;
  return {
    operator: { ...operator, jwt: operatorJwt, signing: operatorSigning },
    system: { ...system, jwt: systemJwt, userCreds: renderCreds(sysUserJwt, sysUser.seed) },
    app: { ...app, jwt: appJwt, signing: appSigning, servicesCreds: renderCreds(svcUserJwt, svcUser.seed) },
    siteSigning,
  };
}

/**
 * Registration's environment for minting site accounts from a setup: its signing seeds, the
 * application account, the system user's creds file (written from `system.userCreds`), the leaf URL
 * sites are told and, when given, the command service's public key.
 */
export function registrationNatsEnv(
  setup: OperatorSetup,
  opts: { systemCredsFile: string; hubLeafUrl: string; commandSigningKey?: string },
): Record<string, string> {
  return {
    NATS_OPERATOR_SIGNING_SEED: setup.operator.signing.seed,
    NATS_APP_ACCOUNT: setup.app.publicKey,
    NATS_APP_SIGNING_SEED: setup.app.signing.seed,
    NATS_SITE_SIGNING_SEED: setup.siteSigning.seed,
    NATS_SYSTEM_CREDS: opts.systemCredsFile,
    HUB_LEAF_URL: opts.hubLeafUrl,
    ...(opts.commandSigningKey ? { COMMAND_SIGNING_KEY: opts.commandSigningKey } : {}),
  };
}
