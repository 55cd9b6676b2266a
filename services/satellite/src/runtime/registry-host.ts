// Registry host names as runtimes spell them: `docker.io` for Docker Hub (whatever URL reaches it),
// lower-case host[:port] otherwise. containerd sends this name as `?ns=` and looks up certs.d by it.
import type { DesiredState } from '@uplink/contracts';

export const DOCKER_HUB = 'docker.io';
/** where Docker Hub's registry API really is (containerd's default for docker.io) */
export const DOCKER_HUB_SERVER = 'https://registry-1.docker.io';

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
const HOST_PATTERN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::\d{1,5})?$|^\[[0-9a-f:]+\](?::\d{1,5})?$/;

/** `Registry-1.Docker.io` -> `docker.io`; `Harbor.example.com:443` stays with its port. */
export function normalizeRegistryHost(host: string): string {
  const h = host.trim().toLowerCase();
  return DOCKER_HUB_ALIASES.has(h) ? DOCKER_HUB : h;
}

export function isRegistryHost(host: string): boolean {
  return host.length <= 255 && HOST_PATTERN.test(host);
}

/** the registry host of a URL (`https://harbor.example.com/` -> `harbor.example.com`) */
export function registryHostOf(url: string): string {
  return normalizeRegistryHost(new URL(url).host);
}

/** the upstream server containerd falls back to for `host` */
export function defaultServerOf(host: string, scheme: 'http' | 'https' = 'https'): string {
  return normalizeRegistryHost(host) === DOCKER_HUB ? DOCKER_HUB_SERVER : `${scheme}://${host}`;
}

export interface RegistryEndpoint {
  /** normalized host, e.g. `docker.io`, `harbor.example.com`, `127.0.0.1:5000` */
  host: string;
  /** the upstream base URL, e.g. `https://registry-1.docker.io` */
  server: string;
}

/** The registries a desired state pulls from, by host, with the URL the state gives for each. */
export function registriesOf(state: Pick<DesiredState, 'registries'> | null | undefined): RegistryEndpoint[] {
  if (!state) return [];
  const out = new Map<string, RegistryEndpoint>();
  for (const r of state.registries) {
    const host = registryHostOf(r.url);
    const origin = new URL(r.url).origin;
    out.set(host, { host, server: host === DOCKER_HUB ? DOCKER_HUB_SERVER : origin });
  }
  return [...out.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}
