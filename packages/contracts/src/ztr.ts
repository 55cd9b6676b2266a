// Zero-touch registration (ARCHITECTURE §6): join tokens, the device's registration and renewal, and
// what it gets back. The device sends only its public NATS key; its seed never leaves it.
import { z } from 'zod';
import { SatelliteName } from './names.js';

/** `ujt_<id>_<secret>`: a 12-character lookup id and 192 random bits of secret, both base64url. */
export const JOIN_TOKEN_PATTERN = /^ujt_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{32})$/;

const nkeyUser = z.string().regex(/^U[A-Z2-7]{55}$/, 'must be a NATS user public key: "U" and 55 base32 characters');

/** `POST /v1/ztr` */
export const ZtrBody = z.strictObject({
  token: z.string().min(1).max(200),
  /** the device's NATS user public key */
  publicKey: nkeyUser,
  /** what the device says about itself (hardware fingerprint), recorded for the operator */
  fingerprint: z.string().min(1).max(512),
});
export type ZtrBody = z.infer<typeof ZtrBody>;

/** `POST /v1/ztr/renew`: proof of possession of the registered device key */
export const RenewBody = z.strictObject({
  satellite: SatelliteName,
  publicKey: nkeyUser,
  /** ISO time the device signed at; more than five minutes off is refused */
  timestamp: z.iso.datetime({ offset: true }),
  /** base64url ed25519 signature of renewPayload(satellite, publicKey, timestamp) by the device key */
  signature: z.string().min(1).max(200),
});
export type RenewBody = z.infer<typeof RenewBody>;

/** The bytes a device signs to renew its credentials. */
export function renewPayload(satellite: string, publicKey: string, timestamp: string): string {
  return `uplink-renew\n${satellite}\n${publicKey}\n${timestamp}`;
}

export const RegistryCredential = z.strictObject({ username: z.string().min(1), password: z.string() });

/** What registration and renewal hand a site. */
export const SiteCredentials = z.strictObject({
  satellite: SatelliteName,
  /** public key of the site's NATS account */
  account: z.string(),
  /** the device's user JWT in that account; the device adds its own seed to make a creds file */
  jwt: z.string(),
  expiresAt: z.iso.datetime(),
  hub: z.strictObject({ leafUrl: z.string(), domain: z.string() }),
  /** public nkey of the command service: only commands it signed run */
  commandSigningKey: z.string().optional(),
  /** PEM CA bundle of the hub's leafnode TLS, when TLS is on */
  caBundle: z.string().optional(),
  /** upstream registry (URL or host) -> read-only credentials */
  registryCredentials: z.record(z.string(), RegistryCredential),
});
export type SiteCredentials = z.infer<typeof SiteCredentials>;

/** A join token, shown once. */
export const IssuedJoinToken = z.strictObject({ satellite: SatelliteName, joinToken: z.string(), joinTokenExpiresAt: z.iso.datetime() });
export type IssuedJoinToken = z.infer<typeof IssuedJoinToken>;

const ip = z.string().max(100).default('unknown');

/** `uplink.rpc.ztr.<method>`, served by registration. */
export const ztrRpcMethods = {
  register: ZtrBody.extend({ ip }),
  renew: RenewBody.extend({ ip }),
  issueJoinToken: z.strictObject({ name: SatelliteName }),
} as const;

const nkeySeedOf = (role: string, letter: string) =>
  z.string().regex(new RegExp(`^S${letter}[A-Z2-7]{56}$`), `must be the nkey seed of an ${role} key ("S${letter}" and 56 base32 characters)`);
const seconds = (def: number) => z.coerce.number().int().positive().default(def);

/** Registration's zero-touch registration settings (part of RegistrationEnv). Unset NATS keys = ZTR off. */
export const ZtrEnv = z.object({
  REDIS_URL: z.string().default('redis://127.0.0.1:6379').describe('Redis holding the login and ZTR rate limits'),
  REDIS_KEY_PREFIX: z.string().default('uplink:').describe('prefix of every Redis key registration writes'),
  JOIN_TOKEN_TTL_S: seconds(86_400).describe('lifetime of a join token'),
  SITE_JWT_TTL_S: seconds(86_400).describe('lifetime of a site device user JWT (sites renew after two thirds of it)'),
  NATS_OPERATOR_SIGNING_SEED: nkeySeedOf('operator', 'O').optional().describe('seed of the operator signing key that signs site accounts; unset = ZTR off'),
  NATS_APP_ACCOUNT: z.string().regex(/^A[A-Z2-7]{55}$/, 'must be an account public key').optional().describe('public key of the application account whose subjects the sites import'),
  NATS_APP_SIGNING_SEED: nkeySeedOf('account', 'A').optional().describe('seed of a signing key of the application account: signs the sites\' activation tokens'),
  NATS_SITE_SIGNING_SEED: nkeySeedOf('account', 'A').optional().describe('seed of the key that issues site device users (a signing key of every site account)'),
  NATS_SYSTEM_CREDS: z.string().optional().describe('creds file of a system account user: pushes site account JWTs to the hub'),
  ACCOUNT_PUSH_INTERVAL_S: z.coerce.number().int().min(0).default(3_600).describe('how often every site account is pushed to the hub again (also at start; on reconnecting to the hub, those it does not list), so a hub that lost its resolver directory lets its sites back in; 0 = no periodic push'),
  HUB_LEAF_URL: z
    .url({
      protocol: /^(nats-leaf|nats|tls|wss?)$/,
      hostname: z.regexes.hostname,
      error: 'must be one leafnode URL: nats-leaf://host:7422, or tls://host:7422 when the hub serves leafnodes over TLS',
    })
    .default('nats-leaf://127.0.0.1:7422')
    .describe('leafnode URL sites connect to; `tls://host:7422` when the hub\'s leafnode listener has TLS'),
  HUB_DOMAIN: z.string().default('hub').describe('JetStream domain of the hub, told to sites'),
  COMMAND_SIGNING_KEY: z.string().regex(/^[A-Z][A-Z2-7]{55}$/, 'must be an nkey public key').optional().describe('public nkey of the command service, told to sites'),
  LEAF_CA_FILE: z.string().min(1).optional().describe('PEM CA bundle that signed the hub\'s leafnode TLS certificate, handed to sites (their leaf trusts only it); unset with a `tls://` HUB_LEAF_URL = the sites\' system CAs'),
  SITE_REGISTRY_CREDENTIALS: z.string().optional().describe('read-only upstream registry credentials handed to sites, JSON `{"<registry url or host>": {"username": "…", "password": "…"}}`'),
  HARBOR_URL: z.url({ protocol: /^https?$/ }).optional().describe('Harbor whose per-site pull-only robot accounts (API v2.0) registration creates for each registering site; unset = none'),
  HARBOR_USERNAME: z.string().optional().describe('Harbor user allowed to manage robot accounts'),
  HARBOR_PASSWORD: z.string().optional().describe('password of HARBOR_USERNAME'),
  HARBOR_PROJECTS: z.string().default('*').describe('comma-separated Harbor projects the site robots may pull from (`*` = all)'),
  HARBOR_ROBOT_DURATION_DAYS: z.coerce.number().int().min(-1).refine((n) => n !== 0, 'must be -1 (never expires) or a number of days').default(-1).describe('lifetime of a site robot in days (-1 = never expires)'),
  ZTR_IP_LIMIT: z.coerce.number().int().positive().default(20).describe('registrations and renewals one client address may attempt per ZTR_WINDOW_S'),
  ZTR_SATELLITE_LIMIT: z.coerce.number().int().positive().default(10).describe('registrations and renewals of one satellite per ZTR_WINDOW_S'),
  ZTR_WINDOW_S: seconds(60).describe('window of the ZTR rate limits'),
});
