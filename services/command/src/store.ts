// SQL of the command service (tables in infra/migrations/005_commands.sql). Bulk statements take
// arrays (unnest), so a fan-out to thousands of sites is a handful of round trips.
import { ErrorCode, UplinkError, type CommandEvent, type CommandStatus, type CommandTarget, type RolloutPolicy, type TargetStatus } from '@uplink/contracts';
import type { Queryable } from '@uplink/db';

export interface CommandRow {
  id: string;
  action: string;
  args: Record<string, unknown>;
  target: CommandTarget;
  timeoutSeconds: number;
  deadline: Date;
  rollout: RolloutPolicy | null;
  status: CommandStatus;
  abortReason: string | null;
  createdAt: Date;
  finishedAt: Date | null;
}

export interface TargetRow {
  executionId: string;
  commandId: string;
  satellite: string;
  position: number;
  status: TargetStatus;
  releasedAt: Date | null;
  deliveredAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  exitCode: number | null;
  output: string | null;
  error: string | null;
}

export interface SignedCommand {
  executionId: string;
  satellite: string;
  body: string;
  signature: string;
}

export interface TargetUpdate {
  executionId: string;
  status: TargetStatus;
  deliveredAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  output: string | null;
  error: string | null;
  /** a cloud-decided terminal status replaced by a report that the site ran it: clear its end */
  reopen: boolean;
}

const COMMAND_COLUMNS = `id, action, args, target, timeout_seconds, deadline, rollout, status, abort_reason, created_at, finished_at`;

function toCommand(r: Record<string, unknown>): CommandRow {
  return {
    id: r.id as string,
    action: r.action as string,
    args: r.args as Record<string, unknown>,
    target: r.target as CommandTarget,
    timeoutSeconds: r.timeout_seconds as number,
    deadline: r.deadline as Date,
    rollout: (r.rollout as RolloutPolicy | null) ?? null,
    status: r.status as CommandStatus,
    abortReason: (r.abort_reason as string | null) ?? null,
    createdAt: r.created_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
  };
}

const TARGET_COLUMNS = `execution_id, command_id, satellite, position, status, released_at, delivered_at, started_at, finished_at, exit_code, output, error`;

function toTarget(r: Record<string, unknown>): TargetRow {
  return {
    executionId: r.execution_id as string,
    commandId: r.command_id as string,
    satellite: r.satellite as string,
    position: r.position as number,
    status: r.status as TargetStatus,
    releasedAt: (r.released_at as Date | null) ?? null,
    deliveredAt: (r.delivered_at as Date | null) ?? null,
    startedAt: (r.started_at as Date | null) ?? null,
    finishedAt: (r.finished_at as Date | null) ?? null,
    exitCode: (r.exit_code as number | null) ?? null,
    output: (r.output as string | null) ?? null,
    error: (r.error as string | null) ?? null,
  };
}

/** The satellites a target names, sorted by name (the rollout order); revoked satellites are left out of groups and selectors. */
export async function resolveTarget(db: Queryable, target: CommandTarget): Promise<string[]> {
  if ('satellite' in target) {
    const { rows } = await db.query<{ name: string; revoked: boolean }>('SELECT name, revoked_at IS NOT NULL AS revoked FROM satellites WHERE name = $1', [target.satellite]);
    const row = rows[0];
    if (!row) throw new UplinkError(ErrorCode.SATELLITE_NOT_FOUND, `satellite "${target.satellite}" does not exist`);
    if (row.revoked) throw new UplinkError(ErrorCode.CONFLICT, `satellite "${target.satellite}" is revoked and takes no commands`);
    return [row.name];
  }
  if ('group' in target) {
    const { rowCount } = await db.query('SELECT 1 FROM groups WHERE name = $1', [target.group]);
    if (!rowCount) throw new UplinkError(ErrorCode.GROUP_NOT_FOUND, `group "${target.group}" does not exist`);
    const { rows } = await db.query<{ name: string }>(
      `SELECT s.name FROM group_satellites gs JOIN satellites s ON s.name = gs.satellite
        WHERE gs.group_name = $1 AND s.revoked_at IS NULL ORDER BY s.name`,
      [target.group],
    );
    if (rows.length === 0) throw new UplinkError(ErrorCode.VALIDATION_FAILED, `group "${target.group}" has no satellites to run the command`, { details: [{ path: 'target.group', message: 'selects no satellite' }] });
    return rows.map((r) => r.name);
  }
  const { rows } = await db.query<{ name: string }>('SELECT name FROM satellites WHERE labels @> $1::jsonb AND revoked_at IS NULL ORDER BY name', [
    JSON.stringify(target.selector),
  ]);
  if (rows.length === 0) {
    throw new UplinkError(ErrorCode.VALIDATION_FAILED, `no satellite has the labels ${JSON.stringify(target.selector)}`, {
      details: [{ path: 'target.selector', message: 'selects no satellite' }],
    });
  }
  return rows.map((r) => r.name);
}

export async function insertCommand(
  db: Queryable,
  c: { id: string; action: string; args: Record<string, unknown>; target: CommandTarget; timeoutSeconds: number; deadline: Date; rollout: RolloutPolicy | null },
  targets: { executionId: string; satellite: string; signed: SignedCommand | undefined }[],
): Promise<void> {
  await db.query(
    `INSERT INTO commands (id, action, args, target, timeout_seconds, deadline, rollout) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [c.id, c.action, JSON.stringify(c.args), JSON.stringify(c.target), c.timeoutSeconds, c.deadline, c.rollout === null ? null : JSON.stringify(c.rollout)],
  );
  await db.query(
    `INSERT INTO command_targets (execution_id, command_id, satellite, position, released_at, body, signature)
     SELECT u.execution_id, $1, u.satellite, u.position, CASE WHEN u.body IS NULL THEN NULL ELSE now() END, u.body, u.signature
       FROM unnest($2::uuid[], $3::text[], $4::int[], $5::text[], $6::text[]) AS u(execution_id, satellite, position, body, signature)`,
    [
      c.id,
      targets.map((t) => t.executionId),
      targets.map((t) => t.satellite),
      targets.map((_, i) => i),
      targets.map((t) => t.signed?.body ?? null),
      targets.map((t) => t.signed?.signature ?? null),
    ],
  );
}

export async function insertEvents(db: Queryable, events: CommandEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db.query(
    `INSERT INTO command_events (command_id, event, body)
     SELECT u.command_id, u.event, u.body::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS u(command_id, event, body, n) ORDER BY u.n`,
    [events.map((e) => e.commandId), events.map((e) => e.event), events.map((e) => JSON.stringify(e))],
  );
}

export async function lockCommand(db: Queryable, id: string): Promise<CommandRow | undefined> {
  const { rows } = await db.query(`SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] ? toCommand(rows[0]) : undefined;
}

export async function getCommand(db: Queryable, id: string): Promise<CommandRow | undefined> {
  const { rows } = await db.query(`SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = $1`, [id]);
  return rows[0] ? toCommand(rows[0]) : undefined;
}

export async function targetsOf(db: Queryable, commandId: string): Promise<TargetRow[]> {
  const { rows } = await db.query(`SELECT ${TARGET_COLUMNS} FROM command_targets WHERE command_id = $1 ORDER BY position`, [commandId]);
  return rows.map(toTarget);
}

/** Lock the targets of these executions, in a fixed order (no deadlock between batches); `staged`: its command has a rollout. */
export async function lockTargets(db: Queryable, executionIds: string[]): Promise<Map<string, TargetRow & { staged: boolean }>> {
  const { rows } = await db.query(
    `SELECT ${TARGET_COLUMNS.split(', ').map((c) => `t.${c}`).join(', ')}, c.rollout IS NOT NULL AS staged
       FROM command_targets t JOIN commands c ON c.id = t.command_id
      WHERE t.execution_id = ANY($1::uuid[]) ORDER BY t.execution_id FOR UPDATE OF t`,
    [executionIds],
  );
  return new Map(rows.map((r) => [r.execution_id as string, { ...toTarget(r), staged: r.staged as boolean }]));
}

export async function markReleased(db: Queryable, signed: SignedCommand[]): Promise<void> {
  if (signed.length === 0) return;
  await db.query(
    `UPDATE command_targets t SET released_at = now(), body = u.body, signature = u.signature, updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(execution_id, body, signature)
      WHERE t.execution_id = u.execution_id`,
    [signed.map((s) => s.executionId), signed.map((s) => s.body), signed.map((s) => s.signature)],
  );
}

export async function markPublished(db: Queryable, executionIds: string[]): Promise<void> {
  if (executionIds.length === 0) return;
  await db.query('UPDATE command_targets SET published_at = now() WHERE execution_id = ANY($1::uuid[]) AND published_at IS NULL', [executionIds]);
}

/** Released but never acknowledged by the hub, and still worth sending. */
export async function unpublished(db: Queryable, olderThanMs: number, limit: number): Promise<SignedCommand[]> {
  const { rows } = await db.query<{ execution_id: string; satellite: string; body: string; signature: string }>(
    `SELECT t.execution_id, t.satellite, t.body, t.signature FROM command_targets t JOIN commands c ON c.id = t.command_id
      WHERE t.released_at IS NOT NULL AND t.published_at IS NULL AND t.status = 'queued'
        AND t.released_at < now() - make_interval(secs => $1::float8 / 1000) AND c.deadline > now()
      ORDER BY t.released_at LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows.map((r) => ({ executionId: r.execution_id, satellite: r.satellite, body: r.body, signature: r.signature }));
}

export async function updateTargets(db: Queryable, updates: TargetUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  await db.query(
    `UPDATE command_targets t SET
        status = u.status,
        delivered_at = COALESCE(u.delivered_at, t.delivered_at),
        started_at = COALESCE(u.started_at, t.started_at),
        finished_at = CASE WHEN u.reopen THEN u.finished_at ELSE COALESCE(u.finished_at, t.finished_at) END,
        exit_code = COALESCE(u.exit_code, t.exit_code),
        output = COALESCE(u.output, t.output),
        error = CASE WHEN u.reopen THEN u.error ELSE COALESCE(u.error, t.error) END,
        updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::int[], $7::text[], $8::text[], $9::bool[])
         AS u(execution_id, status, delivered_at, started_at, finished_at, exit_code, output, error, reopen)
      WHERE t.execution_id = u.execution_id`,
    [
      updates.map((u) => u.executionId),
      updates.map((u) => u.status),
      updates.map((u) => u.deliveredAt),
      updates.map((u) => u.startedAt),
      updates.map((u) => u.finishedAt),
      updates.map((u) => u.exitCode),
      updates.map((u) => u.output),
      updates.map((u) => u.error),
      updates.map((u) => u.reopen),
    ],
  );
}

/** Of these in-progress commands, those without a target still open. */
export async function settledCommands(db: Queryable, commandIds: string[] | 'all'): Promise<{ id: string; statuses: Map<TargetStatus, number> }[]> {
  const { rows } = await db.query<{ id: string; status: TargetStatus; n: string }>(
    `SELECT c.id, t.status, count(*) AS n FROM commands c JOIN command_targets t ON t.command_id = c.id
      WHERE c.status = 'in_progress' ${commandIds === 'all' ? '' : 'AND c.id = ANY($1::uuid[])'}
        AND NOT EXISTS (SELECT 1 FROM command_targets o WHERE o.command_id = c.id AND o.status IN ('queued', 'delivered', 'running'))
      GROUP BY c.id, t.status`,
    commandIds === 'all' ? [] : [commandIds],
  );
  const out = new Map<string, Map<TargetStatus, number>>();
  for (const r of rows) {
    let m = out.get(r.id);
    if (!m) out.set(r.id, (m = new Map()));
    m.set(r.status, Number(r.n));
  }
  return [...out].map(([id, statuses]) => ({ id, statuses }));
}

export async function finishCommand(db: Queryable, id: string, status: CommandStatus): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE commands SET status = $2, finished_at = now(), updated_at = now() WHERE id = $1 AND status = 'in_progress'`,
    [id, status],
  );
  return (rowCount ?? 0) > 0;
}

export async function stopCommand(db: Queryable, id: string, status: 'aborted' | 'cancelled', reason: string | null): Promise<void> {
  await db.query(`UPDATE commands SET status = $2, abort_reason = $3, finished_at = now(), updated_at = now() WHERE id = $1`, [id, status, reason]);
}

/** Cancel these still-queued targets of a command (all of them when `satellites` is undefined). */
export async function cancelQueued(db: Queryable, commandId: string, reason: string, satellites?: string[]): Promise<{ satellite: string; executionId: string }[]> {
  const { rows } = await db.query<{ satellite: string; execution_id: string }>(
    `UPDATE command_targets SET status = 'cancelled', finished_at = now(), error = $2, updated_at = now()
      WHERE command_id = $1 AND status = 'queued' ${satellites ? 'AND satellite = ANY($3::text[])' : ''}
      RETURNING satellite, execution_id`,
    satellites ? [commandId, reason, satellites] : [commandId, reason],
  );
  return rows.map((r) => ({ satellite: r.satellite, executionId: r.execution_id }));
}

/** Expire every queued or delivered target whose command's deadline has passed. */
export async function expireOverdue(db: Queryable): Promise<{ commandId: string; satellite: string; executionId: string }[]> {
  const { rows } = await db.query<{ command_id: string; satellite: string; execution_id: string }>(
    `UPDATE command_targets t SET status = 'expired', finished_at = now(), updated_at = now(),
            error = 'the deadline passed before the site ran the command'
       FROM commands c
      WHERE c.id = t.command_id AND c.deadline <= now() AND t.status IN ('queued', 'delivered')
      RETURNING t.command_id, t.satellite, t.execution_id`,
  );
  return rows.map((r) => ({ commandId: r.command_id, satellite: r.satellite, executionId: r.execution_id }));
}

export async function rolloutCommands(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT c.id FROM commands c WHERE c.status = 'in_progress' AND c.rollout IS NOT NULL
        AND EXISTS (SELECT 1 FROM command_targets t WHERE t.command_id = c.id AND t.status = 'queued')`,
  );
  return rows.map((r) => r.id);
}

/** A site's commands still to run: released, not finished, before their deadline; oldest first. */
export async function pendingFor(db: Queryable, satellite: string, after: number, limit: number): Promise<{ seq: number; body: string; signature: string }[]> {
  const { rows } = await db.query<{ seq: string; body: string; signature: string }>(
    `SELECT t.seq, t.body, t.signature FROM command_targets t JOIN commands c ON c.id = t.command_id
      WHERE t.satellite = $1 AND t.status IN ('queued', 'delivered') AND t.released_at IS NOT NULL
        AND t.seq > $2 AND c.deadline > now()
      ORDER BY t.seq LIMIT $3`,
    [satellite, after, limit],
  );
  return rows.map((r) => ({ seq: Number(r.seq), body: r.body, signature: r.signature }));
}

export async function countsOf(db: Queryable, commandIds: string[]): Promise<Map<string, Map<TargetStatus, number>>> {
  const out = new Map<string, Map<TargetStatus, number>>();
  if (commandIds.length === 0) return out;
  const { rows } = await db.query<{ command_id: string; status: TargetStatus; n: string }>(
    'SELECT command_id, status, count(*) AS n FROM command_targets WHERE command_id = ANY($1::uuid[]) GROUP BY command_id, status',
    [commandIds],
  );
  for (const r of rows) {
    let m = out.get(r.command_id);
    if (!m) out.set(r.command_id, (m = new Map()));
    m.set(r.status, Number(r.n));
  }
  return out;
}

export async function listCommands(
  db: Queryable,
  q: { status?: CommandStatus | undefined; satellite?: string | undefined; group?: string | undefined; limit: number },
): Promise<CommandRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.status) where.push(`c.status = $${params.push(q.status)}`);
  if (q.satellite) where.push(`EXISTS (SELECT 1 FROM command_targets t WHERE t.command_id = c.id AND t.satellite = $${params.push(q.satellite)})`);
  if (q.group) where.push(`c.target->>'group' = $${params.push(q.group)}`);
  const { rows } = await db.query(
    `SELECT ${COMMAND_COLUMNS.split(', ').map((c) => `c.${c}`).join(', ')} FROM commands c
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY c.created_at DESC, c.id LIMIT $${params.push(q.limit)}`,
    params,
  );
  return rows.map(toCommand);
}

export async function unpublishedEvents(db: Queryable, limit: number): Promise<{ id: number; event: CommandEvent }[]> {
  const { rows } = await db.query<{ id: string; body: CommandEvent }>(
    'SELECT id, body FROM command_events WHERE published_at IS NULL ORDER BY id LIMIT $1',
    [limit],
  );
  return rows.map((r) => ({ id: Number(r.id), event: r.body }));
}

export async function markEventsPublished(db: Queryable, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query('UPDATE command_events SET published_at = now() WHERE id = ANY($1::bigint[])', [ids]);
}
