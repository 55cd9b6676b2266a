// Pure renderers of runtime mirror config: existing file text in, new file text out (the same text
// when nothing needs to change, which is what makes applying idempotent). Unrelated settings stay:
// TOML files are edited textually where possible (so comments survive) and the edit is verified by
// parsing the result; YAML goes through the `yaml` Document API, which keeps comments and order.
import { isDeepStrictEqual } from 'node:util';
import { parse as parseToml, stringify as stringifyToml, type TomlTable } from 'smol-toml';
import { parseDocument, isSeq, Document } from 'yaml';
import { RuntimeError } from './errors.js';
import { DOCKER_HUB, type RegistryEndpoint } from './registry-host.js';

export const MANAGED_HEADER = '# Managed by uplink: the satellite registry is tried first; the server below is the fallback.';

type Render = { content: string; changed: boolean };

function readToml(text: string, path: string): TomlTable {
  try {
    return parseToml(text);
  } catch (err) {
    throw new RuntimeError('RUNTIME_CONFIG_INVALID', `${path} is not valid TOML (${(err as Error).message.split('\n')[0]}); it is left unchanged`, { cause: err, path });
  }
}

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function getIn(obj: unknown, keys: readonly string[]): unknown {
  let cur = obj;
  for (const k of keys) {
    if (!isTable(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function setIn(obj: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (!isTable(next)) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

const quoteKey = (k: string) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));
const tomlString = (s: string) => JSON.stringify(s);

/** `plugins."io.containerd.grpc.v1.cri".registry` -> its keys; undefined when not a plain dotted key */
function splitDottedKey(key: string): string[] | undefined {
  const out: string[] = [];
  const re = /\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(\.|$)/y;
  let pos = 0;
  while (pos < key.length) {
    re.lastIndex = pos;
    const m = re.exec(key);
    if (!m) return undefined;
    out.push(m[1] ?? (m[2] !== undefined ? (JSON.parse(`"${m[2]}"`) as string) : m[3]!));
    pos = re.lastIndex;
    if (m[4] === '') break;
  }
  return out;
}

/** Index of the line holding the table header `[keys]`, or -1. */
function findTableHeader(lines: string[], keys: readonly string[]): number {
  return lines.findIndex((line) => {
    const m = /^\s*\[(?!\[)\s*(.+?)\s*\]\s*(?:#.*)?$/.exec(line);
    const k = m ? splitDottedKey(m[1]!) : undefined;
    return k !== undefined && isDeepStrictEqual(k, keys);
  });
}

// ---------------------------------------------------------------------------------------------
// containerd

/** The CRI registry table of a containerd config, by config version (1.x default 1, 2 in 1.5+, 3 in 2.x). */
export function containerdRegistryTable(config: TomlTable): string[] {
  const version = typeof config.version === 'number' || typeof config.version === 'bigint' ? Number(config.version) : 1;
  if (version >= 3) return ['plugins', 'io.containerd.cri.v1.images', 'registry'];
  if (version === 2) return ['plugins', 'io.containerd.grpc.v1.cri', 'registry'];
  return ['plugins', 'cri', 'registry'];
}

export interface ContainerdConfigRender extends Render {
  /** the certs.d directory containerd reads (the existing config_path, or `defaultCertsDir` once written) */
  certsDir: string;
}

/**
 * Set the CRI registry `config_path` when it is missing; an existing config_path is kept (hosts.toml
 * files then go there). Every other setting and comment stays. A new file is a version 2 config.
 */
export function renderContainerdConfig(existing: string | undefined, defaultCertsDir: string, path = 'config.toml'): ContainerdConfigRender {
  if (existing === undefined || existing.trim() === '') {
    const content = `version = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = ${tomlString(defaultCertsDir)}\n`;
    return { content, changed: true, certsDir: defaultCertsDir };
  }
  const config = readToml(existing, path);
  const table = containerdRegistryTable(config);
  const registry = getIn(config, table);
  const current = isTable(registry) ? registry.config_path : undefined;
  if (typeof current === 'string' && current.trim() !== '') {
    // several directories may be listed (`:`-separated); the first is where containerd looks first
    return { content: existing, changed: false, certsDir: current.split(':')[0]! };
  }
  if (isTable(registry) && (isTable(registry.mirrors) && Object.keys(registry.mirrors).length > 0)) {
    throw new RuntimeError(
      'RUNTIME_CONFIG_CONFLICT',
      `${path} configures registry mirrors in [${table.map(quoteKey).join('.')}.mirrors]; containerd refuses config_path beside them, so it is left unchanged (move those mirrors to hosts.toml files)`,
      { path },
    );
  }
  const expected = structuredClone(config) as Record<string, unknown>;
  setIn(expected, [...table, 'config_path'], defaultCertsDir);

  const lines = existing.split('\n');
  const header = findTableHeader(lines, table);
  let text: string;
  if (header >= 0) {
    const indent = /^\s*/.exec(lines[header]!)![0];
    // an empty config_path = "" line would make the key appear twice: replace it in place
    const emptyAt = lines.findIndex((l, i) => i > header && /^\s*config_path\s*=\s*(""|'')\s*(#.*)?$/.test(l) && !lines.slice(header + 1, i).some((x) => /^\s*\[/.test(x)));
    if (emptyAt >= 0) lines[emptyAt] = `${/^\s*/.exec(lines[emptyAt]!)![0]}config_path = ${tomlString(defaultCertsDir)}`;
    else lines.splice(header + 1, 0, `${indent}  config_path = ${tomlString(defaultCertsDir)}`);
    text = lines.join('\n');
  } else {
    text = `${existing.replace(/\n*$/, '')}\n\n[${table.map(quoteKey).join('.')}]\n  config_path = ${tomlString(defaultCertsDir)}\n`;
  }
  if (!verifiesAs(text, expected)) text = stringifyToml(expected) + '\n';
  return { content: text, changed: true, certsDir: defaultCertsDir };
}

function verifiesAs(text: string, expected: unknown): boolean {
  try {
    return sameData(parseToml(text), expected);
  } catch {
    return false;
  }
}

/** deep equality of parsed config data, ignoring key order and prototypes (smol-toml's tables have none) */
export function sameData(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) return String(a) === String(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameData(x, b[i]));
  }
  if (isTable(a) && isTable(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && sameData(a[k], b[k]));
  }
  return a === b;
}

/**
 * `certs.d/<host>/hosts.toml`: the upstream as `server` (fallback), the satellite first among the
 * hosts with pull+resolve. Other hosts and keys an operator put there are kept, after ours.
 */
export function renderContainerdHosts(existing: string | undefined, registry: RegistryEndpoint, mirrorUrl: string, path = 'hosts.toml'): Render {
  const current = existing === undefined || existing.trim() === '' ? {} : readToml(existing, path);
  const ours = { capabilities: ['pull', 'resolve'] };
  const hosts = isTable(current.host) ? current.host : {};
  const server = typeof current.server === 'string' ? current.server : registry.server;
  const firstHost = Object.keys(hosts)[0];
  if (current.server === server && firstHost === mirrorUrl && sameData(hosts[mirrorUrl], ours)) return { content: existing!, changed: false };

  const rest = Object.fromEntries(Object.entries(current).filter(([k]) => k !== 'server' && k !== 'host'));
  const otherHosts = Object.fromEntries(Object.entries(hosts).filter(([k]) => k !== mirrorUrl));
  const lines = [MANAGED_HEADER, `server = ${tomlString(server)}`];
  const restText = stringifyToml(rest).trim();
  if (restText) lines.push(restText);
  lines.push('', `[host.${tomlString(mirrorUrl)}]`, `  capabilities = ["pull", "resolve"]`);
  const otherText = stringifyToml({ host: otherHosts }).trim();
  if (Object.keys(otherHosts).length > 0) lines.push('', otherText);
  return { content: lines.join('\n') + '\n', changed: true };
}

// ---------------------------------------------------------------------------------------------
// K3s / RKE2

/** `registries.yaml` `mirrors.<host>.endpoint`: the satellite first, other endpoints kept after it. */
export function renderRegistriesYaml(existing: string | undefined, hosts: string[], mirrorUrl: string, path = 'registries.yaml'): Render {
  const doc = existing === undefined || existing.trim() === '' ? new Document({}) : parseDocument(existing);
  if (doc.errors.length > 0) {
    throw new RuntimeError('RUNTIME_CONFIG_INVALID', `${path} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); it is left unchanged`, { path });
  }
  if (doc.contents !== null && !isTable(doc.toJS())) {
    throw new RuntimeError('RUNTIME_CONFIG_INVALID', `${path} is not a YAML mapping; it is left unchanged`, { path });
  }
  let changed = false;
  for (const host of hosts) {
    const node = doc.getIn(['mirrors', host, 'endpoint']);
    const endpoints = isSeq(node) ? (node.toJSON() as unknown[]).map(String) : [];
    if (endpoints[0] === mirrorUrl) continue;
    doc.setIn(['mirrors', host, 'endpoint'], doc.createNode([mirrorUrl, ...endpoints.filter((e) => e !== mirrorUrl)]));
    changed = true;
  }
  return changed ? { content: doc.toString({ lineWidth: 0 }), changed: true } : { content: existing ?? '', changed: false };
}

// ---------------------------------------------------------------------------------------------
// CRI-O / Podman (containers-registries.conf v2)

/**
 * A `[[registry]]` per host with the satellite as its first `[[registry.mirror]]`. A new entry is
 * appended as text (comments stay); changing an existing entry re-renders the file.
 */
export function renderRegistriesConf(existing: string | undefined, registries: RegistryEndpoint[], mirrorLocation: string, path = 'registries.conf'): Render {
  const conf = existing === undefined || existing.trim() === '' ? {} : readToml(existing, path);
  if (isTable(conf.registries)) {
    throw new RuntimeError('RUNTIME_CONFIG_CONFLICT', `${path} uses the v1 format ([registries.*]), which cannot be mixed with [[registry]] mirrors; it is left unchanged`, { path });
  }
  const list = Array.isArray(conf.registry) ? (conf.registry as Record<string, unknown>[]) : [];
  const ours = { location: mirrorLocation, insecure: true };
  const expected = structuredClone(conf) as Record<string, unknown>;
  const expectedList = Array.isArray(expected.registry) ? (expected.registry as Record<string, unknown>[]) : [];
  const appended: string[] = [];
  const ourMirror = ['[[registry.mirror]]', `location = ${tomlString(mirrorLocation)}`, 'insecure = true'];
  // insertions into existing entries: [[registry]] ordinal -> lines to put before its first sub-table
  const inserts = new Map<number, string[]>();
  let edited = false;
  for (const r of registries) {
    const i = list.findIndex((e) => (e.prefix ?? e.location) === r.host);
    const mirrors = i >= 0 && Array.isArray(list[i]!.mirror) ? (list[i]!.mirror as Record<string, unknown>[]) : [];
    if (i >= 0 && sameData(mirrors[0], ours)) continue;
    if (i >= 0) {
      expectedList[i] = { ...expectedList[i], mirror: [ours, ...mirrors.filter((m) => m.location !== mirrorLocation)] };
      if (mirrors.some((m) => m.location === mirrorLocation)) edited = true;
      else inserts.set(i, ['', `# uplink: pulls of ${r.host} try the satellite registry first`, ...ourMirror, '']);
      continue;
    }
    const location = r.host === DOCKER_HUB ? DOCKER_HUB : r.host;
    const entry: Record<string, unknown> = { prefix: r.host, location, ...(r.server.startsWith('http://') ? { insecure: true } : {}), mirror: [ours] };
    expectedList.push(entry);
    appended.push(
      [
        '',
        `# uplink: pulls of ${r.host} try the satellite registry first`,
        '[[registry]]',
        `prefix = ${tomlString(r.host)}`,
        `location = ${tomlString(location)}`,
        ...(entry.insecure ? ['insecure = true'] : []),
        '',
        ...ourMirror,
      ].join('\n'),
    );
  }
  if (!edited && appended.length === 0 && inserts.size === 0) return { content: existing ?? '', changed: false };
  if (expectedList.length > 0) expected.registry = expectedList;
  if (!edited) {
    let lines = (existing ?? '').split('\n');
    if (inserts.size > 0) {
      const headers = lines.flatMap((l, n) => (/^\s*\[\[\s*registry\s*\]\]\s*(#.*)?$/.test(l) ? [n] : []));
      // from the last entry up, so earlier line numbers stay valid
      for (const [ordinal, block] of [...inserts].sort((a, b) => b[0] - a[0])) {
        const at = headers[ordinal];
        if (at === undefined) continue;
        let end = at + 1;
        while (end < lines.length && !/^\s*\[/.test(lines[end]!)) end++;
        // keep trailing blank and comment lines with what follows them
        while (end > at + 1 && /^\s*(#.*)?$/.test(lines[end - 1]!)) end--;
        lines = [...lines.slice(0, end), ...block, ...lines.slice(end)];
      }
      lines = lines.filter((l, n, all) => !(l === '' && all[n - 1] === ''));
    }
    const body = lines.join('\n');
    const text = `${body.replace(/\n*$/, '')}${body.trim() ? '\n' : ''}${appended.join('\n')}\n`.replace(/^\n+/, '');
    if (verifiesAs(text, expected)) return { content: text, changed: true };
  }
  return { content: `${MANAGED_HEADER.replace('; the server below is the fallback', '')}\n${stringifyToml(expected)}\n`, changed: true };
}

// ---------------------------------------------------------------------------------------------
// Docker

/** `daemon.json` `registry-mirrors`: the satellite first. Docker mirrors only Docker Hub (docker.io), nothing else. */
export function renderDaemonJson(existing: string | undefined, mirrorUrl: string, path = 'daemon.json'): Render {
  let config: Record<string, unknown> = {};
  if (existing !== undefined && existing.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(existing);
    } catch (err) {
      throw new RuntimeError('RUNTIME_CONFIG_INVALID', `${path} is not valid JSON (${(err as Error).message}); it is left unchanged`, { cause: err, path });
    }
    if (!isTable(parsed)) throw new RuntimeError('RUNTIME_CONFIG_INVALID', `${path} is not a JSON object; it is left unchanged`, { path });
    config = parsed;
  }
  const mirrors = Array.isArray(config['registry-mirrors']) ? (config['registry-mirrors'] as unknown[]).map(String) : [];
  if (mirrors[0] === mirrorUrl) return { content: existing!, changed: false };
  config['registry-mirrors'] = [mirrorUrl, ...mirrors.filter((m) => m !== mirrorUrl)];
  return { content: JSON.stringify(config, null, 2) + '\n', changed: true };
}
