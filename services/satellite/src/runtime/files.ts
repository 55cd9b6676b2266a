// Writing a set of files as one change: each file replaced atomically (temp file in the same
// directory, fsync, rename, fsync of the directory), the previous version kept as `<file>.uplink-bak`,
// and every file of the set restored (or removed, if it did not exist) when any write fails.
// A file whose content is already right is not touched, so its mtime does not move.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RuntimeError } from './errors.js';

export const BACKUP_SUFFIX = '.uplink-bak';

export interface FileChange {
  path: string;
  content: string | Buffer;
}

export interface FileChangeResult {
  written: string[];
  unchanged: string[];
  backups: string[];
}

interface JournalEntry {
  path: string;
  /** content before this apply; undefined = the file did not exist */
  previous: Buffer | undefined;
  mode: number | undefined;
}

async function current(path: string): Promise<{ bytes: Buffer | undefined; mode: number | undefined; readable: boolean }> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return { bytes: undefined, mode: undefined, readable: false };
    return { bytes: await readFile(path), mode: st.mode & 0o7777, readable: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { bytes: undefined, mode: undefined, readable: true };
    return { bytes: undefined, mode: undefined, readable: false };
  }
}

/** temp file beside the target, fsync, rename over it, fsync the directory */
export async function writeFileAtomic(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.uplink-tmp-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(path));
}

export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // some filesystems refuse fsync on a directory; the rename is atomic all the same
  }
}

/** mkdir -p, returning the directories it created (deepest last) so a rollback can remove them */
async function ensureDir(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      await stat(d);
      break;
    } catch {
      missing.unshift(d);
      if (dirname(d) === d) break;
    }
  }
  await mkdir(dir, { recursive: true });
  return missing;
}

/**
 * Apply `changes` all or nothing. Throws RUNTIME_CONFIG_WRITE_FAILED naming the file that failed,
 * after restoring every file (and backup) written before it.
 */
export async function applyFileChanges(changes: FileChange[]): Promise<FileChangeResult> {
  const result: FileChangeResult = { written: [], unchanged: [], backups: [] };
  const journal: JournalEntry[] = [];
  const createdDirs: string[] = [];
  const record = async (path: string) => {
    const c = await current(path);
    journal.push({ path, previous: c.bytes, mode: c.mode });
    return c;
  };
  let failed: { path: string; err: unknown } | undefined;
  for (const change of changes) {
    const content = typeof change.content === 'string' ? Buffer.from(change.content) : change.content;
    const before = await current(change.path);
    if (before.bytes !== undefined && before.bytes.equals(content)) {
      result.unchanged.push(change.path);
      continue;
    }
    try {
      createdDirs.push(...(await ensureDir(dirname(change.path))));
      if (!before.readable) throw new Error(`${change.path} exists and is not a readable file`);
      if (before.bytes !== undefined) {
        const backup = change.path + BACKUP_SUFFIX;
        const prev = await record(backup);
        await writeFileAtomic(backup, before.bytes, prev.mode ?? before.mode);
        result.backups.push(backup);
      }
      await record(change.path);
      await writeFileAtomic(change.path, content, before.mode);
      result.written.push(change.path);
    } catch (err) {
      failed = { path: change.path, err };
      break;
    }
  }
  if (!failed) return result;

  const restoreErrors: string[] = [];
  for (const entry of journal.reverse()) {
    try {
      if (entry.previous === undefined) await unlink(entry.path).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
      else await writeFileAtomic(entry.path, entry.previous, entry.mode);
    } catch (err) {
      restoreErrors.push(`${entry.path}: ${(err as Error).message}`);
    }
  }
  for (const dir of createdDirs.reverse()) await rmdir(dir).catch(() => undefined);
  const why = (failed.err as Error).message;
  throw new RuntimeError(
    'RUNTIME_CONFIG_WRITE_FAILED',
    `cannot write ${failed.path} (${why}); the ${journal.length} file(s) written before it were restored` +
      (restoreErrors.length > 0 ? `, except: ${restoreErrors.join('; ')}` : ''),
    { cause: failed.err, path: failed.path },
  );
}
