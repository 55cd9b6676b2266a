// Who may call what: the least role of each route, by method and route template. viewer reads
// everything but users, tokens and the audit trail; operator also manages groups, assignments,
// satellite configs and commands; admin also users, tokens, the audit trail, and creates and deletes
// satellites (and their join tokens). A controller can override this with @Roles().
import type { Role } from '@uplink/contracts';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

interface Rule {
  /** methods the rule applies to; all when absent */
  methods?: 'reads' | 'writes';
  route: RegExp;
  role: Role;
}

/** First match wins. */
export const accessRules: readonly Rule[] = [
  { route: /^\/v1\/(users|tokens|audit)(\/|$)/, role: 'admin' },
  { methods: 'writes', route: /^\/v1\/satellites\/:[^/]+\/config$/, role: 'operator' },
  { methods: 'writes', route: /^\/v1\/satellites(\/|$)/, role: 'admin' },
  { methods: 'reads', route: /./, role: 'viewer' },
  { methods: 'writes', route: /./, role: 'operator' },
];

/** The least role a request needs, from its method and route template (e.g. "/v1/groups/:group"). */
export function minimumRole(method: string, route: string): Role {
  const kind = READS.has(method.toUpperCase()) ? 'reads' : 'writes';
  for (const rule of accessRules) {
    if ((rule.methods === undefined || rule.methods === kind) && rule.route.test(route)) return rule.role;
  }
  return 'admin';
}
