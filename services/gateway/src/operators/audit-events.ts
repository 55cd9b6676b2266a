// Pure parts of the audit trail: which action a request is, which entity it changes, and the request
// body with its secrets redacted.
import type { AuditOutcome } from '@uplink/contracts';

/** Known routes -> [entity, verb]; other routes get a generic name from their path and method. */
const actions: Record<string, [string, string]> = {
  'POST /v1/login': ['user', 'login'],
  'POST /v1/users': ['user', 'create'],
  'PATCH /v1/users/:name': ['user', 'update'],
  'POST /v1/tokens': ['token', 'create'],
  'DELETE /v1/tokens/:id': ['token', 'revoke'],
  'PUT /v1/groups/:group': ['group', 'put'],
  'DELETE /v1/groups/:group': ['group', 'delete'],
  'PUT /v1/groups/:group/satellites/:name': ['group', 'assign'],
  'DELETE /v1/groups/:group/satellites/:name': ['group', 'unassign'],
  'POST /v1/satellites': ['satellite', 'create'],
  'DELETE /v1/satellites/:name': ['satellite', 'delete'],
  'PUT /v1/satellites/:name/config': ['satellite', 'config'],
  'POST /v1/satellites/:name/token': ['satellite', 'join-token'],
  'POST /v1/ztr': ['satellite', 'register'],
  'POST /v1/ztr/renew': ['satellite', 'renew'],
  'POST /v1/commands': ['command', 'create'],
  'POST /v1/commands/:id/cancel': ['command', 'cancel'],
};

const verbs: Record<string, string> = { POST: 'create', PUT: 'put', PATCH: 'update', DELETE: 'delete' };
const token = (s: string) => s.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'unknown';

export interface RequestFacts {
  method: string;
  /** route template, e.g. "/v1/groups/:group" */
  route: string;
  params: Record<string, string>;
  body: unknown;
  /** the handler's answer, when it succeeded */
  result?: unknown;
}

export interface Change {
  entity: string;
  verb: string;
  entityId: string | null;
}

function field(v: unknown, keys: string[]): string | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  for (const k of keys) {
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'string' && x.length > 0) return x.slice(0, 200);
  }
  return null;
}

/** What a request changes: entity and verb of its action, and the entity's id when known. */
export function describeChange(r: RequestFacts): Change {
  const known = actions[`${r.method} ${r.route}`];
  const segments = r.route.replace(/^\/v1\//, '').split('/').filter(Boolean);
  const entity = known?.[0] ?? token((segments[0] ?? 'unknown').replace(/s$/, ''));
  let verb = known?.[1];
  if (!verb) {
    const literal = segments.slice(1).filter((s) => !s.startsWith(':')).at(-1);
    verb = token(literal ? `${literal}-${verbs[r.method] ?? r.method}` : (verbs[r.method] ?? r.method));
  }
  const firstParam = segments.find((s) => s.startsWith(':'))?.slice(1);
  const entityId =
    (firstParam ? (r.params[firstParam] ?? null) : null) ??
    field(r.body, ['name', 'username', 'satellite']) ??
    field(r.result, ['id', 'name', 'satellite']);
  return { entity, verb, entityId };
}

/** Outcome of a failed request: denied when the role was too low, else failed. */
export function failureOutcome(code: string): AuditOutcome {
  return code === 'FORBIDDEN' ? 'denied' : 'failed';
}

const SECRET_KEY = /pass(word|wd|phrase)?$|secret|token|credential|authorization|cookie|seed|private|api[-_]?key/i;
export const REDACTED = '[redacted]';
/** bodies larger than this are not stored, only their size */
export const AUDIT_BODY_MAX_BYTES = 16_384;

/** A copy of a JSON value with the value of every secret-looking key replaced by "[redacted]". */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 20) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v, depth + 1);
    return out;
  }
  return value;
}

/** The body as the audit trail keeps it: redacted, or only its size when large; undefined when absent. */
export function auditBody(body: unknown): unknown {
  if (body === undefined || body === null || body === '') return undefined;
  const redacted = redact(body);
  const bytes = Buffer.byteLength(JSON.stringify(redacted) ?? '');
  return bytes > AUDIT_BODY_MAX_BYTES ? { truncated: true, bytes } : redacted;
}
