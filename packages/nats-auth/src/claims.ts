// The account layout the hub enforces (NATS-NOTES "design B"): the application account UPLINK
// exports, with an activation token each, the subjects a site may reach; every site has its own
// account SITE_<sat> importing exactly its own subjects; a site's device is the one user of that
// account. User publish permissions are not relied on: on nats-server 2.9 the hub leaves them to the
// leaf server, which a hostile device controls; the account boundary is what the hub enforces.
import { encodeAccount, encodeActivation, encodeOperator, encodeUser, type Export, type Import, type OperatorLimits } from '@nats-io/jwt';
import { NAME_PATTERN, PENDING_COMMANDS_ALL, pendingCommandsSubject, subjects } from '@uplink/contracts';
import { keyPairFromSeed } from './keys.js';

/** Every limit unlimited, JetStream included: the application account runs the hub's streams. */
export const APP_ACCOUNT_LIMITS: OperatorLimits = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
  max_ack_pending: -1,
  mem_max_stream_bytes: -1,
  disk_max_stream_bytes: -1,
};

/**
 * A site account: no JetStream on the hub, no plain client connections (only its leaf link), at most
 * two leaf links (a reconnect may overlap the old link for a moment), nothing exported, and a bound on
 * the interest a (hostile) leaf may register on the hub (a site's leaf registers a few dozen).
 */
export const SITE_ACCOUNT_LIMITS: OperatorLimits = {
  subs: 10_000,
  data: -1,
  payload: -1,
  imports: -1,
  exports: 0,
  wildcards: true,
  conn: 0,
  leaf: 2,
};

/** A revoked site's account: no imports, no connections of any kind. */
const REVOKED_ACCOUNT_LIMITS: OperatorLimits = { ...SITE_ACCOUNT_LIMITS, subs: 0, imports: 0, leaf: 0 };

/** The hub's STATE stream direct-get subject of one site, as imported (the hub maps `$JS.<domain>.API`). */
export const directGetStateSubject = (sat: string) => `$JS.API.DIRECT.GET.STATE.${subjects.state(sat)}`;

function siteToken(sat: string): string {
  if (!NAME_PATTERN.test(sat)) throw new TypeError(`invalid satellite name for a subject: ${JSON.stringify(sat)}`);
  return sat;
}

interface SiteSubject {
  name: string;
  kind: 'stream' | 'service';
  /** the export's wildcard subject in the application account */
  exported: string;
  /** the one site's subject */
  subject: (sat: string) => string;
}

/** What a site reaches in the application account, and how. */
export const SITE_SUBJECTS: readonly SiteSubject[] = [
  { name: 'state', kind: 'stream', exported: subjects.stateAll, subject: subjects.state },
  { name: 'commands', kind: 'stream', exported: 'uplink.cmd.*', subject: subjects.cmd },
  { name: 'state-catch-up', kind: 'service', exported: `$JS.API.DIRECT.GET.STATE.${subjects.stateAll}`, subject: directGetStateSubject },
  { name: 'telemetry', kind: 'service', exported: 'uplink.telemetry.*.>', subject: (sat) => `uplink.telemetry.${siteToken(sat)}.>` },
  { name: 'results', kind: 'service', exported: 'uplink.result.*', subject: subjects.result },
  { name: 'command-catch-up', kind: 'service', exported: PENDING_COMMANDS_ALL, subject: pendingCommandsSubject },
];

/** The application account's exports: every one needs an activation token. */
export function appAccountExports(): Export[] {
  return SITE_SUBJECTS.map((s) => ({
    name: s.name,
    subject: s.exported,
    type: s.kind,
    token_req: true,
    ...(s.kind === 'service' ? { response_type: 'Singleton' as const } : {}),
  }));
}

export interface EncodeAppAccountOptions {
  /** the application account's key (public key + seed; the seed only proves the subject here) */
  accountPublicKey: string;
  /** signing keys of the application account (public), used to sign activations and its users */
  signingKeys: string[];
  /** operator seed or operator signing seed */
  operatorSigner: string;
  /** @default 'UPLINK' */
  name?: string;
}

/** The application account JWT: unlimited, JetStream enabled, the site exports, no imports. */
export function encodeAppAccount(opts: EncodeAppAccountOptions): Promise<string> {
  return encodeAccount(
    opts.name ?? 'UPLINK',
    opts.accountPublicKey,
    { limits: APP_ACCOUNT_LIMITS, signing_keys: opts.signingKeys, exports: appAccountExports() },
    { signer: keyPairFromSeed(opts.operatorSigner, 'operator') },
  );
}

export const siteAccountName = (sat: string) => `SITE_${sat}`;

export interface EncodeSiteAccountOptions {
  satellite: string;
  /** public key of the site's account */
  accountPublicKey: string;
  /** public key of the application account */
  appAccount: string;
  /** seed of an application account signing key: signs the activation tokens */
  appSigner: string;
  /** seed of the operator (or an operator signing key): signs the account */
  operatorSigner: string;
  /** public keys of the keys allowed to issue this account's users */
  signingKeys: string[];
  /** user public key -> revoked at (seconds): JWTs of that key issued up to then are refused */
  revocations?: Record<string, number>;
  /** a revoked site keeps its account (so the revocations hold) but reaches nothing */
  revoked?: boolean;
}

/** The site account JWT: imports of its own subjects only, each with an activation token. */
export async function encodeSiteAccount(opts: EncodeSiteAccountOptions): Promise<string> {
  const appSigner = keyPairFromSeed(opts.appSigner, 'account');
  const imports: Import[] = [];
  if (!opts.revoked) {
    for (const s of SITE_SUBJECTS) {
      const subject = s.subject(opts.satellite);
      const token = await encodeActivation(s.name, opts.accountPublicKey, opts.appAccount, s.kind, { subject }, { signer: appSigner });
      imports.push({ name: s.name, subject, account: opts.appAccount, token, type: s.kind });
    }
  }
  return encodeAccount(
    siteAccountName(opts.satellite),
    opts.accountPublicKey,
    {
      limits: opts.revoked ? REVOKED_ACCOUNT_LIMITS : SITE_ACCOUNT_LIMITS,
      signing_keys: opts.signingKeys,
      imports,
      ...(opts.revocations && Object.keys(opts.revocations).length > 0 ? { revocations: opts.revocations } : {}),
    },
    { signer: keyPairFromSeed(opts.operatorSigner, 'operator') },
  );
}

export interface MintUserOptions {
  /** user name in the JWT */
  name: string;
  /** public key of the user (the device's own key; its seed never leaves the device) */
  userPublicKey: string;
  /** public key of the account the user belongs to */
  account: string;
  /** seed of a signing key of that account (or the account's own seed) */
  signer: string;
  /** lifetime in seconds; unset = no expiry */
  ttlSeconds?: number;
  /** @default any connection type */
  connectionTypes?: ('STANDARD' | 'LEAFNODE')[];
}

/** A user JWT, and when it expires (ms since epoch; undefined = never). */
export async function mintUser(opts: MintUserOptions): Promise<{ jwt: string; expiresAt: number | undefined }> {
  const signer = keyPairFromSeed(opts.signer, 'account');
  const exp = opts.ttlSeconds === undefined ? undefined : Math.floor(Date.now() / 1000) + opts.ttlSeconds;
  const own = signer.getPublicKey() === opts.account;
  const jwt = await encodeUser(
    opts.name,
    opts.userPublicKey,
    own ? signer : opts.account,
    opts.connectionTypes ? { allowed_connection_types: opts.connectionTypes } : {},
    { ...(own ? {} : { signer }), ...(exp === undefined ? {} : { exp }) },
  );
  return { jwt, expiresAt: exp === undefined ? undefined : exp * 1000 };
}

/** The site device's user JWT: leaf connections only, short-lived. */
export function mintSiteUser(opts: {
  satellite: string;
  devicePublicKey: string;
  account: string;
  signer: string;
  ttlSeconds: number;
}): Promise<{ jwt: string; expiresAt: number | undefined }> {
  return mintUser({
    name: opts.satellite,
    userPublicKey: opts.devicePublicKey,
    account: opts.account,
    signer: opts.signer,
    ttlSeconds: opts.ttlSeconds,
    connectionTypes: ['LEAFNODE'],
  });
}

/** The operator JWT naming its system account and signing keys. */
export function encodeOperatorJwt(opts: { name?: string; operatorSeed: string; systemAccount: string; signingKeys: string[] }): Promise<string> {
  const kp = keyPairFromSeed(opts.operatorSeed, 'operator');
  return encodeOperator(opts.name ?? 'UPLINK_OPERATOR', kp, { system_account: opts.systemAccount, signing_keys: opts.signingKeys });
}

/** The system account JWT (no JetStream, its default exports are added by the server). */
export function encodeSystemAccount(opts: { accountPublicKey: string; operatorSigner: string; signingKeys?: string[] }): Promise<string> {
  return encodeAccount(
    'SYS',
    opts.accountPublicKey,
    { limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 }, ...(opts.signingKeys ? { signing_keys: opts.signingKeys } : {}) },
    { signer: keyPairFromSeed(opts.operatorSigner, 'operator') },
  );
}
