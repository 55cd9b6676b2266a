// The identity of the machine the edge runs on: machine-id, primary MAC address and the identity of
// the disk holding the data directory. Credentials at rest are encrypted with a key derived from it,
// so a copied disk image or credentials file is useless on any other machine.
import { readFile, readlink, readdir, stat } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';

export interface MachineIdentity {
  machineId: string;
  mac: string;
  disk: string;
}

/** Where the identity comes from; tests inject one to play "another machine". */
export type IdentityProvider = () => Promise<MachineIdentity>;

async function firstReadable(paths: string[]): Promise<string> {
  for (const p of paths) {
    try {
      const v = (await readFile(p, 'utf8')).trim();
      if (v) return v;
    } catch {
      // next
    }
  }
  return '';
}

/** The MAC of the first physical (non-internal, non-zero) interface in name order. */
export function primaryMac(): string {
  const ifaces = networkInterfaces();
  for (const name of Object.keys(ifaces).sort()) {
    for (const a of ifaces[name] ?? []) {
      if (!a.internal && a.mac && a.mac !== '00:00:00:00:00:00') return a.mac.toLowerCase();
    }
  }
  return '';
}

/**
 * The UUID of the filesystem holding `path` when /dev/disk/by-uuid knows it, else its block device
 * number. Anonymous devices (overlay, tmpfs: major 0) get new numbers at each mount, so they count
 * as no disk identity rather than one that changes at the next boot.
 */
async function diskIdentity(path: string): Promise<string> {
  const st = await stat(path);
  const major = Math.floor(st.dev / 256) & 0xfff;
  const minor = (st.dev & 0xff) | ((st.dev >> 12) & 0xfff00);
  const byUuid = '/dev/disk/by-uuid';
  for (const uuid of await readdir(byUuid).catch(() => [] as string[])) {
    const target = await readlink(join(byUuid, uuid)).catch(() => undefined);
    if (!target) continue;
    const dev = await stat(resolve(byUuid, target)).catch(() => undefined);
    if (dev && dev.rdev === st.dev) return `uuid:${uuid}`;
  }
  return major === 0 ? 'anonymous' : `dev:${major}:${minor}`;
}

/** The real machine's identity, as seen from the data directory. */
export function systemIdentity(dataDir: string): IdentityProvider {
  return async () => ({
    machineId: await firstReadable(['/etc/machine-id', '/var/lib/dbus/machine-id']),
    mac: primaryMac(),
    disk: await diskIdentity(dataDir),
  });
}
