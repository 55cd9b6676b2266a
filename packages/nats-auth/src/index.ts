export { NatsAuthError, NatsAuthErrorCode } from './errors.js';
export { createNKey, keyPairFromSeed, isPublicKey, signWithSeed, verifySignature, nkeySigner, nkeyVerifier } from './keys.js';
export { renderCreds, parseCreds, describeJwt } from './creds.js';
export {
  APP_ACCOUNT_LIMITS,
  SITE_ACCOUNT_LIMITS,
  SITE_SUBJECTS,
  directGetStateSubject,
  appAccountExports,
  encodeAppAccount,
  siteAccountName,
  encodeSiteAccount,
  mintUser,
  mintSiteUser,
  encodeOperatorJwt,
  encodeSystemAccount,
} from './claims.js';
export { CLAIMS_LIST_SUBJECT, CLAIMS_UPDATE_SUBJECT, listResolverAccounts, pushAccountJwt } from './push.js';
export { createOperatorSetup, registrationNatsEnv } from './setup.js';

export type { NKey, NKeyRole, NKeySigner, NKeyVerifier } from './keys.js';
export type { JwtSummary } from './creds.js';
export type { EncodeAppAccountOptions, EncodeSiteAccountOptions, MintUserOptions } from './claims.js';
export type { OperatorSetup } from './setup.js';
