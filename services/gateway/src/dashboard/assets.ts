// The web dashboard's files: a fixed set read once from one directory, served by name only (a request
// can name a file of the set, never a path), with the headers every dashboard response carries.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every file the dashboard has, and its media type. Anything else is 404. */
export const DASHBOARD_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/**
 * Only the gateway's own origin, no inline script or style, no plugins, no framing, and the token never
 * leaves for another origin (connect-src).
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  // small files: always revalidate (the etag makes that a 304), so a new gateway serves new files at once
  'cache-control': 'no-cache',
};

export interface DashboardAsset {
  name: string;
  contentType: string;
  body: Buffer;
  etag: string;
}

/** The directory of the files: beside this module under src/, or src/dashboard/public from a dist/ build. */
export function dashboardDir(): string {
  const here = fileURLToPath(new URL('./public/', import.meta.url));
  const fromDist = fileURLToPath(new URL('../../src/dashboard/public/', import.meta.url));
  return existsSync(join(here, 'index.html')) || !existsSync(join(fromDist, 'index.html')) ? here : fromDist;
}

/** Read every file of DASHBOARD_FILES from `dir`; throws naming the first one missing. */
export function loadDashboardAssets(dir: string): Map<string, DashboardAsset> {
  const assets = new Map<string, DashboardAsset>();
  for (const [name, contentType] of Object.entries(DASHBOARD_FILES)) {
    const path = join(dir, name);
    let body: Buffer;
    try {
      body = readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read the dashboard file ${path}: ${(err as Error).message}`, { cause: err });
    }
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(name, { name, contentType, body, etag });
  }
  return assets;
}

/** Whether an If-None-Match header names this etag (so a 304 answers). */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
