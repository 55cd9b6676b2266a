// Satellite and group names are NATS subject tokens and path segments: no dots, no upper case.
import { z } from 'zod';

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const Name = z
  .string()
  .regex(NAME_PATTERN, 'must match ^[a-z0-9][a-z0-9_-]{0,62}$ (lower case letters, digits, "-" and "_"; no dots)');

export const SatelliteName = Name.describe('satellite name');
export const GroupName = Name.describe('group name');

export const Digest = z
  .string()
  .regex(/^sha256:[a-f0-9]{64}$/, 'must be a sha256 digest: "sha256:" followed by 64 lower-case hex characters');

/** OCI repository path: lower-case components separated by "/", as the distribution spec allows. */
export const Repository = z
  .string()
  .max(255)
  .regex(
    /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/,
    'must be an OCI repository name such as "library/nginx"',
  );

export const Tag = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/, 'must be an OCI tag');

export const Labels = z.record(
  z.string().regex(/^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/, 'label keys are lower case, up to 63 characters'),
  z.string().max(63),
);
