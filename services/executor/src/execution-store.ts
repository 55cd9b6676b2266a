// The executor's memory of what it ran: one file per execution id under DATA_DIR/executor/executions,
// written atomically (temp file, fsync, rename, fsync of the directory). A record says `running`
// before the action starts and holds the final result once it ends, so a command is never run twice:
// not after a redelivery, not after a crash, not after a restart.
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
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
  /** forget records older than `maxAgeMs` (commands live at most 7 days in CMD_LOCAL) */
  prune(maxAgeMs: number): Promise<number>;
  readonly size: number;
}

const ID = /^[0-9a-f-]{36}$/;

export async function openExecutionStore(dataDir: string, log: Logger): Promise<ExecutionStore> {
  const dir = join(dataDir, 'executor', 'executions');
  await mkdir(dir, { recursive: true });
  const records = new Map<string, ExecutionRecord>();
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (name.endsWith('.tmp')) {
      await rm(path, { force: true });
      continue;
    }
    const id = name.replace(/\.json$/, '');
    if (!ID.test(id)) continue;
    try {
      const rec = JSON.parse(await readFile(path, 'utf8')) as ExecutionRecord;
      if (rec.result) CommandResult.parse(rec.result);
      records.set(id, rec);
    } catch (err) {
      // a record that cannot be read still proves the id was seen: keep it as interrupted
      log.warn({ file: path, err: (err as Error).message }, 'unreadable execution record; treating the command as interrupted');
      records.set(id, { id, commandId: '', action: '', state: 'running', updatedAt: new Date().toISOString() });
    }
  }

  async function write(rec: ExecutionRecord): Promise<void> {
    const path = join(dir, `${rec.id}.json`);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(JSON.stringify(rec));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      const d = await open(dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new ExecutorError(ExecutorErrorCode.STORE_FAILED, `cannot record execution ${rec.id} in ${dir}: ${(err as Error).message}`, { cause: err });
    }
    records.set(rec.id, rec);
  }

  return {
    get: (id) => records.get(id),
    async markRunning(r) {
      await write({ ...r, state: 'running', updatedAt: new Date().toISOString() });
    },
    async finish(r, result) {
      const rec: ExecutionRecord = { id: r.id, commandId: r.commandId, action: r.action, state: 'done', ...(r.startedAt ? { startedAt: r.startedAt } : {}), result, updatedAt: new Date().toISOString() };
      await write(rec);
      return rec;
    },
    async prune(maxAgeMs) {
      const cutoff = Date.now() - maxAgeMs;
      let removed = 0;
      for (const [id, rec] of records) {
        if (Date.parse(rec.updatedAt) >= cutoff) continue;
        await rm(join(dir, `${id}.json`), { force: true });
        records.delete(id);
        removed++;
      }
      return removed;
    },
    get size() {
      return records.size;
    },
  };
}
