// The command service's domain: commands in (REST through the gateway), signed per-site commands out
// to the hub's COMMANDS stream, results back from RESULTS, every transition persisted and published as
// an event. Plain class over a pg pool and a NATS connection; Nest only routes requests to it.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  COMMAND_DEFAULT_DEADLINE_MS,
  ErrorCode,
  SIGNATURE_HEADER,
  UplinkError,
  satelliteOf,
  subjects,
  type Command,
  type CommandEvent,
  type CommandEventName,
  type CommandList,
  type CommandResult,
  type CommandStatus,
  type CommandSummary,
  type CommandTargetView,
  type CommandView,
  type CreateCommandBody,
  type CreatedCommand,
  type ListCommandsQuery,
  type PendingCommands,
  type PendingCommandsRequest,
  type TargetStatus,
} from '@uplink/contracts';
import { jsFor, messageHeaders, publishMessage, sleep } from '@uplink/bus';
import { withTransaction, type Pool, type Queryable } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import { commandStatusOf, countStatuses, isTerminal, nextTargetStatus } from './lifecycle.js';
import { planRollout } from './rollout.js';
import type { CommandSigner } from './signing.js';
import * as store from './store.js';

export interface CommandServiceOptions {
  pool: Pool;
  nc: NatsConnection;
  signer: CommandSigner;
  logger: Logger;
  /** commands published to the hub at once @default 256 */
  publishConcurrency?: number;
  /** PubAck timeout @default 5_000 */
  publishTimeoutMs?: number;
}

/** A result as it came off RESULTS: the subject names the reporting site. */
export interface ReceivedResult {
  result: CommandResult;
  subject: string;
}

/** How much output one `get` carries over all targets (NATS messages are bounded). */
const VIEW_OUTPUT_BUDGET = 256 * 1024;
const PENDING_PAGE = 100;

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : undefined);

export class CommandService {
  private readonly pool: Pool;
  private readonly nc: NatsConnection;
  private readonly signer: CommandSigner;
  private readonly log: Logger;
  private readonly publishConcurrency: number;
  private readonly publishTimeoutMs: number;
  private draining: Promise<void> | undefined;
  private drainAgain = false;

  constructor(opts: CommandServiceOptions) {
    this.pool = opts.pool;
    this.nc = opts.nc;
    this.signer = opts.signer;
    this.log = opts.logger;
    this.publishConcurrency = opts.publishConcurrency ?? 256;
    this.publishTimeoutMs = opts.publishTimeoutMs ?? 5_000;
  }

  /** The public nkey executors must be configured with. */
  get signingKey(): string {
    return this.signer.publicKey;
  }

  // ── operator side ──────────────────────────────────────────────────────────────────────────────

  async create(body: CreateCommandBody): Promise<CreatedCommand> {
    const id = randomUUID();
    const now = Date.now();
    const deadline = new Date(body.deadline ? Date.parse(body.deadline) : now + COMMAND_DEFAULT_DEADLINE_MS);
    const rollout = body.rollout ?? null;
    const { released, total } = await withTransaction(this.pool, async (client) => {
      const satellites = await store.resolveTarget(client, body.target);
      const targets = satellites.map((satellite) => ({ executionId: randomUUID(), satellite, signed: undefined as store.SignedCommand | undefined }));
      const plan = planRollout(rollout, satellites.map((satellite) => ({ satellite, status: 'queued' as const, releasedAt: null })), now);
      const release = new Set(plan.release);
      const issuedAt = new Date(now).toISOString();
      for (const t of targets) {
        if (release.has(t.satellite)) {
          t.signed = this.sign({ id: t.executionId, commandId: id, satellite: t.satellite, action: body.action, args: body.args, timeoutSeconds: body.timeoutSeconds, deadline: deadline.toISOString(), issuedAt });
        }
      }
      await store.insertCommand(client, { id, action: body.action, args: body.args, target: body.target, timeoutSeconds: body.timeoutSeconds, deadline, rollout }, targets);
      await store.insertEvents(client, [
        this.event('created', id, { status: 'in_progress', detail: `${body.action} for ${satellites.length} satellite(s)${rollout ? ', rolled out in stages' : ''}` }),
      ]);
      return { released: targets.flatMap((t) => (t.signed ? [t.signed] : [])), total: targets.length };
    });
    this.log.info({ commandId: id, action: body.action, targets: total, released: released.length }, 'command created');
    await this.publishCommands(released);
    this.kickEvents();
    return { id, targets: total };
  }

  async get(req: { id: string }): Promise<CommandView> {
    const cmd = await store.getCommand(this.pool, req.id);
    if (!cmd) throw new UplinkError(ErrorCode.NOT_FOUND, `command ${req.id} does not exist`);
    const targets = await store.targetsOf(this.pool, req.id);
    let budget = VIEW_OUTPUT_BUDGET;
    const views = targets.map((t): CommandTargetView => {
      let output = t.output ?? undefined;
      if (output !== undefined) {
        if (output.length > budget) output = budget > 0 ? `${output.slice(0, budget)}\n… (cut: this reply carries at most ${VIEW_OUTPUT_BUDGET} characters of output)` : '… (left out of this reply: too much output)';
        budget = Math.max(0, budget - output.length);
      }
      return {
        satellite: t.satellite,
        status: t.status,
        ...(t.exitCode !== null ? { exitCode: t.exitCode } : {}),
        ...(output !== undefined ? { output } : {}),
        ...(t.error !== null ? { error: t.error } : {}),
        ...(t.deliveredAt ? { deliveredAt: t.deliveredAt.toISOString() } : {}),
        ...(t.startedAt ? { startedAt: t.startedAt.toISOString() } : {}),
        ...(t.finishedAt ? { finishedAt: t.finishedAt.toISOString() } : {}),
      };
    });
    return {
      ...this.summary(cmd, countStatuses(targets.map((t) => t.status))),
      args: cmd.args,
      timeoutSeconds: cmd.timeoutSeconds,
      ...(cmd.rollout ? { rollout: cmd.rollout } : {}),
      ...(cmd.abortReason ? { abortReason: cmd.abortReason } : {}),
      targets: views,
    };
  }

  async list(q: ListCommandsQuery): Promise<CommandList> {
    const target = q.target;
    const [kind, name] = target === undefined ? [undefined, undefined] : target.includes(':') ? (target.split(':', 2) as [string, string]) : ['sat', target];
    const rows = await store.listCommands(this.pool, {
      status: q.status,
      satellite: kind === 'sat' ? name : undefined,
      group: kind === 'group' ? name : undefined,
      limit: q.limit ?? 50,
    });
    const counts = await store.countsOf(this.pool, rows.map((r) => r.id));
    return {
      commands: rows.map((r) => {
        const c = countStatuses([]);
        for (const [s, n] of counts.get(r.id) ?? []) c[s] = n;
        return this.summary(r, c);
      }),
    };
  }

  async cancel(req: { id: string }): Promise<CommandView> {
    await withTransaction(this.pool, async (client) => {
      const cmd = await store.lockCommand(client, req.id);
      if (!cmd) throw new UplinkError(ErrorCode.NOT_FOUND, `command ${req.id} does not exist`);
      if (cmd.status !== 'in_progress') throw new UplinkError(ErrorCode.CONFLICT, `command ${req.id} is already ${cmd.status}; only a command in progress can be cancelled`);
      const cancelled = await store.cancelQueued(client, req.id, 'cancelled by an operator');
      await store.stopCommand(client, req.id, 'cancelled', null);
      await store.insertEvents(client, [
        ...cancelled.map((t) => this.event('cancelled', req.id, { satellite: t.satellite, executionId: t.executionId, status: 'cancelled', detail: 'cancelled by an operator' })),
        this.event('cancelled', req.id, { status: 'cancelled', detail: `${cancelled.length} queued target(s) cancelled; targets already at their site still report` }),
      ]);
      this.log.info({ commandId: req.id, cancelled: cancelled.length }, 'command cancelled');
    });
    this.kickEvents();
    return this.get(req);
  }

  // ── site side ──────────────────────────────────────────────────────────────────────────────────

  /** The catch-up of a site coming back: its released, unfinished commands, exactly as signed. */
  async pending(satellite: string, req: PendingCommandsRequest): Promise<PendingCommands> {
    const limit = req.limit ?? PENDING_PAGE;
    const rows = await store.pendingFor(this.pool, satellite, req.after ?? 0, limit + 1);
    const page = rows.slice(0, limit);
    const more = rows.length > limit;
    return { commands: page.map((r) => ({ body: r.body, signature: r.signature })), ...(more ? { next: page[page.length - 1]!.seq } : {}) };
  }

  /**
   * Record results (one batch, one transaction): each moves its target forward or changes nothing.
   * A result is trusted only for the site whose subject it came on (the hub enforces that a site
   * publishes only its own `uplink.result.<sat>`), and only for an execution of that site.
   */
  async recordResults(items: readonly ReceivedResult[]): Promise<void> {
    if (items.length === 0) return;
    const touched = new Set<string>();
    const staged = new Set<string>();
    const ids = [...new Set(items.map((i) => i.result.id))];
    await withTransaction(this.pool, async (client) => {
      const targets = await store.lockTargets(client, ids);
      const updates = new Map<string, store.TargetUpdate>();
      const events: CommandEvent[] = [];
      for (const { result, subject } of items) {
        const target = targets.get(result.id);
        const reporter = satelliteOf(subject);
        if (!target) {
          this.log.warn({ executionId: result.id, subject }, 'result for an unknown command execution ignored');
          continue;
        }
        if (target.satellite !== reporter || result.satellite !== reporter || target.commandId !== result.commandId) {
          this.log.warn(
            { executionId: result.id, subject, satellite: target.satellite, reported: result.satellite, status: result.status },
            'result from a site that is not the target of this execution ignored',
          );
          continue;
        }
        const previous = target.status;
        const next = nextTargetStatus(previous, result.status);
        if (!next) continue;
        target.status = next;
        const u = updates.get(result.id) ?? {
          executionId: result.id,
          status: next,
          deliveredAt: null,
          startedAt: null,
          finishedAt: null,
          exitCode: null,
          output: null,
          error: null,
          reopen: false,
        };
        u.status = next;
        if (next === 'delivered') u.deliveredAt = result.at;
        if (result.startedAt) u.startedAt = result.startedAt;
        else if (next === 'running') u.startedAt = result.at;
        if (isTerminal(next)) u.finishedAt = result.finishedAt ?? result.at;
        if (isTerminal(previous)) {
          // expired/cancelled in the cloud, but the site ran it: its report replaces the cloud's verdict
          u.reopen = true;
          if (!isTerminal(next)) u.finishedAt = null;
          u.error = null;
        }
        if (result.exitCode !== undefined) u.exitCode = result.exitCode;
        if (result.output !== undefined) u.output = result.output;
        if (result.error !== undefined) u.error = result.error;
        updates.set(result.id, u);
        events.push(
          this.event(next as CommandEventName, target.commandId, {
            satellite: target.satellite,
            executionId: result.id,
            status: next,
            ...(result.error ? { detail: result.error } : {}),
          }),
        );
        touched.add(target.commandId);
        if (target.staged) staged.add(target.commandId);
      }
      await store.updateTargets(client, [...updates.values()]);
      await store.insertEvents(client, events);
      await this.finishSettled(client, [...touched]);
    });
    this.kickEvents();
    // a finished target may let a staged rollout release its next batch, or abort it
    for (const id of staged) await this.advanceRollout(id);
  }

  // ── background work ────────────────────────────────────────────────────────────────────────────

  /**
   * One pass of the periodic work: expire overdue targets, publish commands the hub never
   * acknowledged, advance rollouts, settle finished commands, publish pending events.
   */
  async sweep(): Promise<void> {
    const expired = await withTransaction(this.pool, async (client) => {
      const rows = await store.expireOverdue(client);
      await store.insertEvents(
        client,
        rows.map((r) => this.event('expired', r.commandId, { satellite: r.satellite, executionId: r.executionId, status: 'expired', detail: 'the deadline passed before the site ran the command' })),
      );
      await this.finishSettled(client, 'all');
      return rows;
    });
    if (expired.length > 0) this.log.info({ expired: expired.length }, 'command targets expired');
    const stale = await store.unpublished(this.pool, 2_000, 10_000);
    if (stale.length > 0) await this.publishCommands(stale);
    for (const id of await store.rolloutCommands(this.pool)) await this.advanceRollout(id);
    await this.drainEvents();
  }

  /** Run `sweep` every `intervalMs` until `signal` aborts; a failed pass is logged and retried next time. */
  async loop(intervalMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.sweep();
      } catch (err) {
        if (!signal.aborted) this.log.warn({ err: (err as Error).message }, 'command sweep failed, will retry');
      }
      await sleep(intervalMs, signal);
    }
  }

  /** Release what a staged rollout allows now, or abort it; then publish what was released. */
  async advanceRollout(id: string): Promise<void> {
    const released = await withTransaction(this.pool, async (client) => {
      const cmd = await store.lockCommand(client, id);
      if (!cmd || cmd.status !== 'in_progress' || !cmd.rollout) return [];
      const targets = await store.targetsOf(client, id);
      const plan = planRollout(cmd.rollout, targets.map((t) => ({ satellite: t.satellite, status: t.status, releasedAt: t.releasedAt?.getTime() ?? null })), Date.now());
      if (plan.abort) {
        const reason = `rollout aborted: ${plan.abort.reason}`;
        const cancelled = await store.cancelQueued(client, id, reason, plan.abort.cancel);
        await store.stopCommand(client, id, 'aborted', plan.abort.reason);
        await store.insertEvents(client, [
          ...cancelled.map((t) => this.event('cancelled', id, { satellite: t.satellite, executionId: t.executionId, status: 'cancelled', detail: reason })),
          this.event('aborted', id, { status: 'aborted', detail: reason }),
        ]);
        this.log.warn({ commandId: id, cancelled: cancelled.length, reason: plan.abort.reason }, 'rollout aborted');
        return [];
      }
      if (plan.release.length === 0) return [];
      const bySatellite = new Map(targets.map((t) => [t.satellite, t]));
      const issuedAt = new Date().toISOString();
      const signed = plan.release.map((satellite) =>
        this.sign({
          id: bySatellite.get(satellite)!.executionId,
          commandId: id,
          satellite,
          action: cmd.action,
          args: cmd.args,
          timeoutSeconds: cmd.timeoutSeconds,
          deadline: cmd.deadline.toISOString(),
          issuedAt,
        }),
      );
      await store.markReleased(client, signed);
      this.log.info({ commandId: id, released: signed.length }, 'rollout released targets');
      return signed;
    });
    this.kickEvents();
    await this.publishCommands(released);
  }

  /** Publish command events not yet on EVENTS; one drain at a time, re-run when asked meanwhile. */
  drainEvents(): Promise<void> {
    if (this.draining) {
      this.drainAgain = true;
      return this.draining;
    }
    this.draining = (async () => {
      do {
        this.drainAgain = false;
        await this.drainOnce();
      } while (this.drainAgain);
    })().finally(() => (this.draining = undefined));
    return this.draining;
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────────

  private kickEvents(): void {
    this.drainEvents().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'command events not published, will retry'));
  }

  private async drainOnce(): Promise<void> {
    for (;;) {
      const batch = await store.unpublishedEvents(this.pool, 500);
      if (batch.length === 0) return;
      const done: number[] = [];
      let failed = false;
      await forEachLimit(batch, 64, async ({ id, event }) => {
        if (failed) return;
        try {
          await publishMessage(this.nc, subjects.events('command', event.event), 'command-event', event, { msgId: `command-event:${id}`, timeoutMs: this.publishTimeoutMs });
          done.push(id);
        } catch (err) {
          failed = true;
          this.log.warn({ err: (err as Error).message }, 'command event not published, will retry');
        }
      });
      await store.markEventsPublished(this.pool, done);
      if (failed || batch.length < 500) return;
    }
  }

  private sign(command: Command): store.SignedCommand {
    const body = JSON.stringify(command);
    return { executionId: command.id, satellite: command.satellite, body, signature: this.signer.sign(Buffer.from(body)) };
  }

  /**
   * Publish signed commands on `uplink.cmd.<sat>` (the COMMANDS stream; sites receive them over core
   * interest through their leaf). Failures stay unpublished for the sweep.
   */
  private async publishCommands(commands: store.SignedCommand[]): Promise<void> {
    if (commands.length === 0) return;
    const js = jsFor(this.nc);
    const ok: string[] = [];
    let failures = 0;
    await forEachLimit(commands, this.publishConcurrency, async (c) => {
      try {
        await js.publish(subjects.cmd(c.satellite), Buffer.from(c.body), {
          msgID: c.executionId,
          headers: messageHeaders('command', { [SIGNATURE_HEADER]: c.signature }),
          timeout: this.publishTimeoutMs,
        });
        ok.push(c.executionId);
      } catch (err) {
        if (failures++ === 0) this.log.warn({ err: (err as Error).message, satellite: c.satellite }, 'command not published, will retry');
      }
    });
    await store.markPublished(this.pool, ok);
    if (failures > 0) this.log.warn({ failures, published: ok.length }, 'some commands were not published; the sweep retries them');
  }

  /** Mark in-progress commands whose targets have all settled as succeeded or failed. */
  private async finishSettled(client: Queryable, ids: string[] | 'all'): Promise<void> {
    if (ids !== 'all' && ids.length === 0) return;
    const settled = await store.settledCommands(client, ids);
    const events: CommandEvent[] = [];
    for (const { id, statuses } of settled) {
      const all: TargetStatus[] = [...statuses].flatMap(([s, n]) => Array<TargetStatus>(n).fill(s));
      const status = commandStatusOf('in_progress', all);
      if (status === 'in_progress') continue;
      if (await store.finishCommand(client, id, status)) {
        events.push(this.event('completed', id, { status, detail: [...statuses].map(([s, n]) => `${n} ${s}`).join(', ') }));
        this.log.info({ commandId: id, status }, 'command finished');
      }
    }
    await store.insertEvents(client, events);
  }

  private summary(cmd: store.CommandRow, counts: Record<TargetStatus, number>): CommandSummary {
    return {
      id: cmd.id,
      action: cmd.action as CommandSummary['action'],
      status: cmd.status,
      target: cmd.target,
      createdAt: cmd.createdAt.toISOString(),
      deadline: cmd.deadline.toISOString(),
      ...(cmd.finishedAt ? { finishedAt: iso(cmd.finishedAt)! } : {}),
      counts,
    };
  }

  private event(
    event: CommandEventName,
    commandId: string,
    fields: { satellite?: string; executionId?: string; status?: TargetStatus | CommandStatus; detail?: string } = {},
  ): CommandEvent {
    return { event, commandId, ...fields, ...(fields.detail ? { detail: fields.detail.slice(0, 4_000) } : {}), at: new Date().toISOString() };
  }
}
