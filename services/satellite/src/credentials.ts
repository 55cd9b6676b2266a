// Upstream registry credentials. Today they come from REGISTRY_CREDENTIALS; registration will hand
// them over later through the same `credentialsFor(registryUrl)` seam.
import { z } from 'zod';
import type { RegistryCredentials } from '@uplink/oci';
import { SatelliteError, SatelliteErrorCode } from './errors.js';

/** The credentials to use for an upstream registry base URL, or undefined for anonymous pulls. */
export type CredentialsFor = (registryUrl: string) => RegistryCredentials | undefined;

const CredentialsMap = z.record(z.string().min(1), z.strictObject({ username: z.string().min(1), password: z.string() }));

/**
 * Parse `{"<url or host>": {"username", "password"}}`. A lookup tries the URL's origin, then its
 * host (`harbor.example.com:8443`), then its hostname.
 */
export function credentialsFromJson(json: string | undefined): CredentialsFor {
  if (json === undefined || json.trim() === '') return () => undefined;
  let parsed: z.infer<typeof CredentialsMap>;
  try {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      // the parser's message quotes the input, which holds passwords
      throw new Error('not JSON');
    }
    const r = CredentialsMap.safeParse(value);
    if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    parsed = r.data;
  } catch (err) {
    throw new SatelliteError(
      SatelliteErrorCode.CREDENTIALS_INVALID,
      `REGISTRY_CREDENTIALS must be JSON {"<registry url or host>": {"username": "...", "password": "..."}}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const byKey = new Map<string, RegistryCredentials>();
  for (const [k, v] of Object.entries(parsed)) byKey.set(normalizeKey(k), v);
  return (registryUrl) => {
    let u: URL;
    try {
      u = new URL(registryUrl);
    } catch {
      return byKey.get(normalizeKey(registryUrl));
    }
    return byKey.get(u.origin.toLowerCase()) ?? byKey.get(u.host.toLowerCase()) ?? byKey.get(u.hostname.toLowerCase());
  };
}

function normalizeKey(k: string): string {
  const t = k.trim().toLowerCase().replace(/\/+$/, '');
  return /^https?:\/\//.test(t) ? new URL(t).origin : t;
}
