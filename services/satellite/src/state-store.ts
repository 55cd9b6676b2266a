// The applied state on disk (DATA_DIR/state): `applied.json`, replaced atomically on every apply, and
// `history.jsonl`, one line per applied revision. The satellite starts from them with the WAN down.
import { open, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { AppliedState, DesiredState, SatelliteName } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { SatelliteError, SatelliteErrorCode } from './errors.js';

/** how many applied revisions the store keeps in memory for /status */
export const HISTORY_LIMIT = 50;
/** how much of the end of history.jsonl is read at start */
const HISTORY_TAIL_BYTES = 64 * 1024;

const PersistedState = z.object({ satellite: SatelliteName, applied: AppliedState, document: DesiredState });
type PersistedState = z.infer<typeof PersistedState>;

export interface StateStore {
  /** the applied revision, null before the first apply */
  readonly applied: AppliedState | null;
  /** the applied document */
  readonly document: DesiredState | null;
  /** the latest applied revisions, oldest first, at most HISTORY_LIMIT */
  history(): AppliedState[];
  /** persist `doc` as applied (durably, before resolving) and append it to the history */
  commit(doc: DesiredState, at?: Date): Promise<AppliedState>;
}

export async function openStateStore(dataDir: string, satellite: string, log: Logger): Promise<StateStore> {
  const dir = join(dataDir, 'state');
  const appliedFile = join(dir, 'applied.json');
  const historyFile = join(dir, 'history.jsonl');
  await mkdir(dir, { recursive: true });

  let current = await readApplied(appliedFile, satellite);
  const recent = await readHistoryTail(historyFile, log);
  if (current && !recent.some((h) => h.revision === current!.applied.revision)) {
    // crashed between the two writes: the applied file is the truth
    recent.push(current.applied);
  }
  await terminateTornLine(historyFile);

  return {
    get applied() {
      return current?.applied ?? null;
    },
    get document() {
      return current?.document ?? null;
    },
    history: () => recent.slice(-HISTORY_LIMIT),
    async commit(doc, at = new Date()) {
      const applied: AppliedState = { revision: doc.revision, digest: doc.digest, at: at.toISOString() };
      const next: PersistedState = { satellite, applied, document: doc };
      // applied.json first: a crash before the history line can never lead to applying twice
      await writeFileAtomic(appliedFile, JSON.stringify(next, null, 2) + '\n');
      try {
        await appendLine(historyFile, JSON.stringify(applied));
      } catch (err) {
        // the applied file is the truth; the history only records it
        log.error({ err, file: historyFile, revision: applied.revision }, 'could not append to the applied history');
      }
      // both at once, so a reader never sees the new applied state without its history entry
      current = next;
      recent.push(applied);
      if (recent.length > HISTORY_LIMIT * 2) recent.splice(0, recent.length - HISTORY_LIMIT);
      return applied;
    },
  };
}

async function readApplied(file: string, satellite: string): Promise<PersistedState | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SatelliteError(SatelliteErrorCode.STATE_UNREADABLE, `cannot read ${file}: ${(err as Error).message}`, { cause: err, satellite });
  }
  let parsed: z.ZodSafeParseResult<PersistedState>;
  try {
    parsed = PersistedState.safeParse(JSON.parse(text));
  } catch (err) {
    throw new SatelliteError(SatelliteErrorCode.STATE_UNREADABLE, `${file} is not JSON; move it away to start without an applied state`, {
      cause: err,
      satellite,
    });
  }
  if (!parsed.success) {
    throw new SatelliteError(
      SatelliteErrorCode.STATE_UNREADABLE,
      `${file} is not a valid applied state (${z.prettifyError(parsed.error).replace(/\n/g, '; ')}); move it away to start without an applied state`,
      { satellite },
    );
  }
  if (parsed.data.satellite !== satellite) {
    throw new SatelliteError(
      SatelliteErrorCode.DATA_DIR_FOREIGN,
      `${file} holds the applied state of satellite ${parsed.data.satellite}, not ${satellite}: check SATELLITE_NAME and DATA_DIR`,
      { satellite },
    );
  }
  return parsed.data;
}

async function readHistoryTail(file: string, log: Logger): Promise<AppliedState[]> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - HISTORY_TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    if (start > 0) lines.shift(); // partial first line
    const out: AppliedState[] = [];
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        const r = AppliedState.safeParse(JSON.parse(line));
        if (r.success) out.push(r.data);
        else log.warn({ file }, 'skipping an invalid history line');
      } catch {
        log.warn({ file }, 'skipping a torn history line');
      }
    }
    return out.slice(-HISTORY_LIMIT);
  } finally {
    await fh.close();
  }
}

/** After a crash mid-append the file may end without a newline: end that line so the next one parses. */
async function terminateTornLine(file: string): Promise<void> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return;
  }
  if (size === 0) return;
  const fh = await open(file, 'r+');
  try {
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, size - 1);
    if (last[0] !== 0x0a) await fh.write('\n', size);
  } finally {
    await fh.close();
  }
}

async function appendLine(file: string, line: string): Promise<void> {
  const fh = await open(file, 'a');
  try {
    await fh.write(line + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Write to a temp file, fsync, rename over the target, fsync the directory. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
