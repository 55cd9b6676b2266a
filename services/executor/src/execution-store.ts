// The executor's memory of what it ran: an append-only journal, DATA_DIR/executor/executions.jsonl, one
// JSON line per change, each made durable (fdatasync) before the executor goes on. A record says
// `running` before the action starts and holds the final result once it ends, so a command is never
// run twice: not after a redelivery, not after a crash, not after a restart. A line cut short by a
// crash was never acknowledged to anyone and is dropped at the next start; the journal is rewritten
// (temp file, fsync, rename) at start without the records older than CMD_LOCAL can hold a command.
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandResult } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { ExecutorError, ExecutorErrorCode } from './errors.js';

export interface ExecutionRecord {
  id: string;
  commandId: string;
  action: string;
  state: 'running' | 'done';
  startedAt?: string;
  /** the final result, once `done` */
  result?: CommandResult;
  updatedAt: string;
}

export interface ExecutionStore {
  get(id: string): ExecutionRecord | undefined;
  /** persist before running: from here on the id is never run again */
  markRunning(rec: { id: string; commandId: string; action: string; startedAt: string }): Promise<void>;
  /** persist the final result */
  finish(rec: { id: string; commandId: string; action: string; startedAt?: string | undefined }, result: CommandResult): Promise<ExecutionRecord>;
  readonly size: number;
  close(): Promise<void>;
}

export interface OpenExecutionStoreOptions {
  /** records older than this are forgotten at open @default 8 days (CMD_LOCAL keeps commands 7) */
  maxAgeMs?: number;
}

const JOURNAL = 'executions.jsonl';

export async function openExecutionStore(dataDir: string, log: Logger, opts: OpenExecutionStoreOptions = {}): Promise<ExecutionStore> {
  const dir = join(dataDir, 'executor');
  const path = join(dir, JOURNAL);
  const maxAgeMs = opts.maxAgeMs ?? 8 * 86_400_000;
  await mkdir(dir, { recursive: true });
  const records = new Map<string, ExecutionRecord>();

  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw storeError(`cannot read ${path}`, err);
  }
  const lines = text.split('\n');
  // the last element is '' when the file ends with a newline, else a line cut short by a crash
  if (lines[lines.length - 1] !== '') log.warn({ file: path }, 'execution journal ends with a partial line (crash while writing); it is dropped');
  for (const line of lines.slice(0, -1)) {
    if (!line) continue;
    try {
      const rec = JSON.parse(line) as ExecutionRecord;
      if (rec.result) CommandResult.parse(rec.result);
      if (typeof rec.id !== 'string') throw new Error('no id');
      records.set(rec.id, rec);
    } catch (err) {
      log.warn({ file: path, err: (err as Error).message }, 'unreadable line in the execution journal skipped');
    }
  }

  // rewrite: drop partial lines, superseded lines and records too old to matter
  const cutoff = Date.now() - maxAgeMs;
  for (const [id, rec] of records) if (Date.parse(rec.updatedAt) < cutoff) records.delete(id);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile([...records.values()].map((r) => JSON.stringify(r) + '\n').join(''));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await syncDir(dir);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw storeError(`cannot rewrite ${path}`, err);
  }

  const journal: FileHandle = await open(path, 'a');
  let tail: Promise<unknown> = Promise.resolve();

  /** append one record and make it durable; appends are serialised */
  function append(rec: ExecutionRecord): Promise<void> {
    const run = tail.then(async () => {
      try {
        await journal.write(JSON.stringify(rec) + '\n');
        await journal.datasync();
      } catch (err) {
        throw storeError(`cannot record execution ${rec.id} in ${path}`, err);
      }
      records.set(rec.id, rec);
    });
    tail = run.catch(() => undefined);
    return run;
  }

  return {
    get: (id) => records.get(id),
    async markRunning(r) {
      await append({ ...r, state: 'running', updatedAt: new Date().toISOString() });
    },
    async finish(r, result) {
      const rec: ExecutionRecord = { id: r.id, commandId: r.commandId, action: r.action, state: 'done', ...(r.startedAt ? { startedAt: r.startedAt } : {}), result, updatedAt: new Date().toISOString() };
      await append(rec);
      return rec;
    },
    get size() {
      return records.size;
    },
    async close() {
      await tail;
      await journal.close();
    },
  };
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

function storeError(what: string, err: unknown): ExecutorError {
  return new ExecutorError(ExecutorErrorCode.STORE_FAILED, `${what}: ${(err as Error).message}`, { cause: err });
}
