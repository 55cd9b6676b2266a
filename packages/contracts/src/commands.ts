// Remote commands (ARCHITECTURE §3, §6, §7): what an operator asks for (REST), what the command service
// signs and publishes on `uplink.cmd.<sat>` (`command/1`), what an executor reports back through its
// OUTBOX to `uplink.result.<sat>` (`command-result/1`), and the audit events on `uplink.events.command.*`.
import { z } from 'zod';
import { GroupName, Labels, NAME_PATTERN, SatelliteName } from './names.js';
import { subjects } from './subjects.js';

const LogLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

/**
 * The allow-list: every action an executor runs, with the schema of its arguments. Anything else is
 * refused by the gateway (400) and, should it reach a site, rejected by the executor. No shell.
 */
export const commandActions = {
  /** no-op round trip; `delayMs` holds the command open (timeouts, benchmarks) */
  ping: z.strictObject({ delayMs: z.number().int().min(0).max(3_600_000).optional() }),
  /** reconcile the current desired state now */
  'sync-now': z.strictObject({}),
  /** remove images that are no longer in the desired state */
  prune: z.strictObject({ dryRun: z.boolean().optional() }),
  /** delete unreferenced blobs from the content store */
  gc: z.strictObject({ graceSeconds: z.number().int().min(0).max(30 * 86_400).optional() }),
  /** re-hash every stored blob and report the corrupt ones; `remove` deletes them */
  'verify-store': z.strictObject({ remove: z.boolean().optional() }),
  'list-images': z.strictObject({}),
  /** a bounded bundle of status, recent logs and config, secrets redacted */
  diagnostics: z.strictObject({ logLines: z.number().int().min(0).max(1_000).optional() }),
  'set-log-level': z.strictObject({ level: LogLevel }),
  /** renew the site's credentials now */
  'rotate-credentials': z.strictObject({}),
  /** write the container runtime mirror configuration again from the applied state */
  'apply-runtime-config': z.strictObject({}),
} as const satisfies Record<string, z.ZodType>;

export type CommandActionName = keyof typeof commandActions;
export const CommandAction = z.enum(Object.keys(commandActions) as [CommandActionName, ...CommandActionName[]]);
export type CommandArgs<A extends CommandActionName> = z.infer<(typeof commandActions)[A]>;

export function isCommandAction(action: string): action is CommandActionName {
  return Object.hasOwn(commandActions, action);
}

/** Check `args` against the action's schema; the issues name the argument. */
export function parseCommandArgs(
  action: string,
  args: unknown,
): { ok: true; args: Record<string, unknown> } | { ok: false; issues: { path: PropertyKey[]; message: string }[] } {
  if (!isCommandAction(action)) {
    return { ok: false, issues: [{ path: [], message: `unknown action "${action}"; allowed: ${CommandAction.options.join(', ')}` }] };
  }
  const r = commandActions[action].safeParse(args ?? {});
  return r.success ? { ok: true, args: r.data as Record<string, unknown> } : { ok: false, issues: r.error.issues };
}

/** Per-site lifecycle: queued -> delivered -> running -> one of the terminal statuses. */
export const TargetStatus = z.enum(['queued', 'delivered', 'running', 'succeeded', 'failed', 'timed_out', 'expired', 'rejected', 'cancelled']);
export type TargetStatus = z.infer<typeof TargetStatus>;
export const TERMINAL_TARGET_STATUSES: readonly TargetStatus[] = ['succeeded', 'failed', 'timed_out', 'expired', 'rejected', 'cancelled'];

/** What an executor reports (everything but queued and cancelled, which only the cloud decides). */
export const ReportedStatus = z.enum(['delivered', 'running', 'succeeded', 'failed', 'timed_out', 'expired', 'rejected']);
export type ReportedStatus = z.infer<typeof ReportedStatus>;

/** in_progress until every target is terminal; then succeeded (all succeeded) or failed. */
export const CommandStatus = z.enum(['in_progress', 'succeeded', 'failed', 'aborted', 'cancelled']);
export type CommandStatus = z.infer<typeof CommandStatus>;

/** Longest output a result carries; executors bound theirs to their own (smaller) limit. */
export const COMMAND_OUTPUT_MAX_CHARS = 65_536;
/** A command may wait for its site at most this long (COMMANDS and CMD_LOCAL keep messages 7 days). */
export const COMMAND_MAX_DEADLINE_MS = 7 * 86_400_000;
/** Deadline when the operator gives none. */
export const COMMAND_DEFAULT_DEADLINE_MS = 86_400_000;

// ── wire messages ───────────────────────────────────────────────────────────────────────────────

/**
 * `command/1` on `uplink.cmd.<sat>`: one command for one satellite. The `Uplink-Signature` header holds
 * the base64url ed25519 signature (nkey of the command service) over the exact body bytes.
 */
export const Command = z.strictObject({
  /** execution id: this command on this satellite; an executor runs it at most once */
  id: z.uuid(),
  commandId: z.uuid(),
  satellite: SatelliteName,
  /** checked against the allow-list by the executor (an unknown action is rejected, not dead-lettered) */
  action: z.string().min(1).max(64),
  args: z.record(z.string(), z.unknown()),
  timeoutSeconds: z.number().int().min(1).max(86_400),
  /** not run after this; reported `expired` */
  deadline: z.iso.datetime(),
  issuedAt: z.iso.datetime(),
});
export type Command = z.infer<typeof Command>;

/** `command-result/1`, OUTBOX kind `result`, on the hub `uplink.result.<sat>`. */
export const CommandResult = z.strictObject({
  /** execution id */
  id: z.uuid(),
  commandId: z.uuid(),
  /** the reporting satellite */
  satellite: SatelliteName,
  status: ReportedStatus,
  at: z.iso.datetime(),
  exitCode: z.number().int().optional(),
  /** bounded: an executor truncates longer output and says so */
  output: z.string().max(COMMAND_OUTPUT_MAX_CHARS).optional(),
  /** why it was rejected, expired, failed or timed out */
  error: z.string().max(4_000).optional(),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
  durationMs: z.number().min(0).optional(),
});
export type CommandResult = z.infer<typeof CommandResult>;

export const CommandEventName = z.enum([
  'created',
  'delivered',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'expired',
  'rejected',
  'cancelled',
  'aborted',
  'completed',
]);
export type CommandEventName = z.infer<typeof CommandEventName>;

/** `command-event/1` on `uplink.events.command.<event>`: every transition, per site and per command. */
export const CommandEvent = z.strictObject({
  event: CommandEventName,
  commandId: z.uuid(),
  /** per-site transitions name the satellite and the execution */
  satellite: SatelliteName.optional(),
  executionId: z.uuid().optional(),
  /** the command's status after a command-level event */
  status: z.union([TargetStatus, CommandStatus]).optional(),
  at: z.iso.datetime(),
  detail: z.string().max(4_000).optional(),
});
export type CommandEvent = z.infer<typeof CommandEvent>;

/**
 * Catch-up of a site's pending commands, answered by the command service (core request/reply through
 * the leaf; a site account imports only its own subject). Reply: RpcReply<PendingCommands>.
 */
export function pendingCommandsSubject(sat: string): string {
  if (!NAME_PATTERN.test(sat)) throw new TypeError(`invalid satellite name for a subject: ${JSON.stringify(sat)}`);
  return subjects.rpc('command', `pending.${sat}`);
}
export const PENDING_COMMANDS_ALL = subjects.rpc('command', 'pending.*');

export const PendingCommandsRequest = z.strictObject({
  /** continue after this cursor (the `next` of the previous page) */
  after: z.number().int().min(0).optional(),
  limit: z.number().int().min(1).max(500).optional(),
});
export type PendingCommandsRequest = z.infer<typeof PendingCommandsRequest>;

export const PendingCommands = z.strictObject({
  /** each as published: the exact body text and its signature header */
  commands: z.array(z.strictObject({ body: z.string(), signature: z.string() })),
  /** cursor of the next page, absent on the last one */
  next: z.number().int().optional(),
});
export type PendingCommands = z.infer<typeof PendingCommands>;

// ── REST (gateway) ─────────────────────────────────────────────────────────────────────────────

export const CommandTarget = z.union([
  z.strictObject({ satellite: SatelliteName }),
  z.strictObject({ group: GroupName }),
  /** every (not revoked) satellite whose labels contain these; `{}` is the whole fleet */
  z.strictObject({ selector: Labels }),
]);
export type CommandTarget = z.infer<typeof CommandTarget>;

/** Staged rollout (AWS IoT Jobs semantics): batches or a rate, abort on a failure rate. */
export const RolloutPolicy = z
  .strictObject({
    /** release the next batch once every released target has finished */
    batchSize: z.number().int().min(1).max(100_000).optional(),
    /** release at most this many targets in any minute */
    maxPerMinute: z.number().int().min(1).max(1_000_000).optional(),
    /** abort when failed/executed, in percent, exceeds this @default 100 (never) */
    abortFailurePercent: z.number().min(0).max(100).default(100),
    /** ... once at least this many targets have executed @default 1 */
    minExecuted: z.number().int().min(1).default(1),
  })
  .refine((r) => (r.batchSize === undefined) !== (r.maxPerMinute === undefined), {
    message: 'a rollout needs exactly one of "batchSize" or "maxPerMinute"',
  });
export type RolloutPolicy = z.infer<typeof RolloutPolicy>;

export const CreateCommandBody = z
  .strictObject({
    target: CommandTarget,
    action: CommandAction,
    args: z.record(z.string(), z.unknown()).default({}),
    /** how long the site lets the action run before it is `timed_out` @default 300 */
    timeoutSeconds: z.number().int().min(1).max(86_400).default(300),
    /** not run after this (ISO time); default one day from now, at most seven */
    deadline: z.iso.datetime({ offset: true }).optional(),
    rollout: RolloutPolicy.optional(),
  })
  .superRefine((body, ctx) => {
    const r = parseCommandArgs(body.action, body.args);
    if (!r.ok) for (const issue of r.issues) ctx.addIssue({ code: 'custom', path: ['args', ...issue.path], message: issue.message });
    if (body.deadline !== undefined) {
      const at = Date.parse(body.deadline);
      if (at <= Date.now()) ctx.addIssue({ code: 'custom', path: ['deadline'], message: 'must be in the future' });
      else if (at > Date.now() + COMMAND_MAX_DEADLINE_MS) ctx.addIssue({ code: 'custom', path: ['deadline'], message: 'must be at most 7 days ahead' });
    }
  });
export type CreateCommandBody = z.infer<typeof CreateCommandBody>;

export const CreatedCommand = z.strictObject({ id: z.uuid(), targets: z.number().int().min(1) });
export type CreatedCommand = z.infer<typeof CreatedCommand>;

export const CommandTargetView = z.strictObject({
  satellite: SatelliteName,
  status: TargetStatus,
  exitCode: z.number().int().optional(),
  output: z.string().optional(),
  error: z.string().optional(),
  deliveredAt: z.iso.datetime().optional(),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
});
export type CommandTargetView = z.infer<typeof CommandTargetView>;

const StatusCounts = z.record(TargetStatus, z.number().int().min(0));

export const CommandSummary = z.strictObject({
  id: z.uuid(),
  action: CommandAction,
  status: CommandStatus,
  target: CommandTarget,
  createdAt: z.iso.datetime(),
  deadline: z.iso.datetime(),
  finishedAt: z.iso.datetime().optional(),
  /** targets by status */
  counts: StatusCounts,
});
export type CommandSummary = z.infer<typeof CommandSummary>;

/** `GET /v1/commands/{id}` */
export const CommandView = CommandSummary.extend({
  args: z.record(z.string(), z.unknown()),
  timeoutSeconds: z.number().int(),
  rollout: RolloutPolicy.optional(),
  abortReason: z.string().optional(),
  targets: z.array(CommandTargetView),
});
export type CommandView = z.infer<typeof CommandView>;

/** `GET /v1/commands?status&target&limit` (strings, as they come from a URL) */
export const ListCommandsQuery = z.strictObject({
  status: CommandStatus.optional(),
  /** a satellite name, `sat:<name>` or `group:<name>` */
  target: z
    .string()
    .regex(/^((sat|group):)?[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a satellite name, "sat:<name>" or "group:<name>"')
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});
export type ListCommandsQuery = z.infer<typeof ListCommandsQuery>;

export const CommandList = z.strictObject({ commands: z.array(CommandSummary) });
export type CommandList = z.infer<typeof CommandList>;
