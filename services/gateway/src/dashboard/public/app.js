// Uplink dashboard: one ES module, no dependencies, no build step. It keeps the operator's token in
// sessionStorage, calls the gateway's REST API with it, and reads the live telemetry feed with fetch()
// (EventSource cannot send an Authorization header), resuming with Last-Event-ID after a drop.
// Every piece of data reaches the page through textContent, never as markup.

const TOKEN_KEY = 'uplink.token';
/** how often the fleet, satellites, groups and commands are read again */
const REFRESH_MS = 5_000;
/** per-satellite status and state requests in flight at once */
const ROW_CONCURRENCY = 4;
/** satellites shown (each costs two requests per refresh) */
const MAX_ROWS = 200;
const FEED_MAX = 50;
const COMMAND_POLL_MS = 500;
const COMMAND_POLL_LIMIT_MS = 10 * 60_000;
const STATUSES = ['online', 'stale', 'offline', 'pending', 'revoked', 'active'];
const TERMINAL_TARGET = ['succeeded', 'failed', 'timed_out', 'expired', 'rejected', 'cancelled'];

// ── server-sent events ─────────────────────────────────────────────────────────────────────────────

/**
 * An incremental parser of a text/event-stream body (the WHATWG rules): feed it decoded text as it
 * arrives, in chunks cut anywhere; it returns the events completed so far. `lastEventId` carries over
 * between events as the spec says, and `retry` holds the server's reconnection delay.
 */
export class SseParser {
  constructor() {
    this.buffer = '';
    this.data = [];
    this.event = '';
    this.lastEventId = '';
    /** @type {number | undefined} */
    this.retry = undefined;
  }

  /** @param {string} text @returns {{ id: string, event: string, data: string }[]} */
  push(text) {
    this.buffer += text;
    const out = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // a lone \r at the end of a chunk may be the first half of \r\n: wait for the next chunk
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  line(line) {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return undefined;
      }
      const ev = { id: this.lastEventId, event: this.event || 'message', data: this.data.join('\n') };
      this.data = [];
      this.event = '';
      return ev;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }
}

// ── API ─────────────────────────────────────────────────────────────────────────────────────────────

/** A failed API call: the HTTP status and the API's `{error: {code, message}}`. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The error of a non-2xx response, from its `{error: {code, message}}` body when it has one. */
async function apiErrorOf(res) {
  const text = await res.text().catch(() => '');
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const e = body && typeof body === 'object' ? body.error : undefined;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') return new ApiError(res.status, e.code, e.message, e.details);
  return new ApiError(res.status, `HTTP_${res.status}`, text.slice(0, 300) || res.statusText || 'request failed');
}

/** What a user reads for an error. */
export function errorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 403) return `Your role is not sufficient for this: ${err.message}`;
    return `${err.code}: ${err.message}`;
  }
  if (err instanceof TypeError) return `The gateway cannot be reached (${err.message})`;
  return err instanceof Error ? err.message : String(err);
}

const session = {
  token: '',
  /** bumped on every sign-in and sign-out: work of an older session stops */
  generation: 0,
  refreshTimer: 0,
  refreshing: false,
  /** @type {AbortController | undefined} */
  feed: undefined,
  lastEventId: '',
  commandRun: 0,
};

async function api(method, path, body) {
  const generation = session.generation;
  const headers = { authorization: `Bearer ${session.token}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, cache: 'no-store', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (!res.ok) {
    const err = await apiErrorOf(res);
    // a refused token ends the session, whichever call noticed it first
    if (err.status === 401 && generation === session.generation) signOut(`The token was refused: ${err.message}`);
    throw err;
  }
  if (res.status === 204) return undefined;
  return res.json();
}

/** Run `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ── DOM helpers ─────────────────────────────────────────────────────────────────────────────────────

const $ = (id) => document.getElementById(id);

/** An element with attributes and children; strings become text nodes, so data is never markup. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    node.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return node;
}

function statusPill(status) {
  const known = STATUSES.includes(status) || TERMINAL_TARGET.includes(status) || ['in_progress', 'queued', 'delivered', 'running', 'aborted'].includes(status);
  return el('span', { class: `pill ${known ? `s-${status}` : ''}`, 'data-status': status }, status);
}

function ago(iso) {
  if (!iso) return 'never';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return String(iso);
  if (s < 2) return 'just now';
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

function timeCell(iso) {
  return el('td', { title: iso ?? undefined }, iso ? ago(iso) : 'never');
}

function sectionError(sectionId, err) {
  const p = document.querySelector(`#${sectionId} .section-error`);
  if (p) p.textContent = err ? errorText(err) : '';
}

function banner(text) {
  const b = $('banner');
  b.textContent = text ?? '';
  b.hidden = !text;
}

function targetText(t) {
  if (!t || typeof t !== 'object') return '';
  if (t.satellite) return t.satellite;
  if (t.group) return `group ${t.group}`;
  if (t.selector) {
    const pairs = Object.entries(t.selector).map(([k, v]) => `${k}=${v}`);
    return pairs.length ? `labels ${pairs.join(',')}` : 'whole fleet';
  }
  return '';
}

function countsText(counts) {
  return Object.entries(counts ?? {})
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
}

// ── sections ────────────────────────────────────────────────────────────────────────────────────────

async function loadFleet() {
  try {
    const f = await api('GET', '/v1/fleet');
    const counts = [['total', f.total], ...['online', 'stale', 'offline', 'pending', 'revoked'].map((s) => [s, f.byStatus?.[s] ?? 0])];
    $('fleet-counts').replaceChildren(
      ...counts.map(([name, n]) => el('div', { class: `count s-${name}`, 'data-count': name }, el('span', { class: 'n' }, n), el('span', { class: 'label' }, name))),
    );
    const sync = countsText(f.sync?.byStatus);
    $('fleet-sync').textContent = `${f.sync?.converged ?? 0} converged, ${f.sync?.behind ?? 0} behind${sync ? ` · sync: ${sync}` : ''}`;
    sectionError('fleet');
  } catch (err) {
    sectionError('fleet', err);
  }
}

async function satelliteRow(s) {
  const [status, state] = await Promise.allSettled([api('GET', `/v1/satellites/${encodeURIComponent(s.name)}/status`), api('GET', `/v1/satellites/${encodeURIComponent(s.name)}/state`)]);
  const view = status.status === 'fulfilled' ? status.value : undefined;
  const hb = view?.heartbeat ?? undefined;
  const desired = state.status === 'fulfilled' ? state.value?.desired?.revision : undefined;
  const applied = hb?.applied?.revision ?? (state.status === 'fulfilled' ? state.value?.applied?.revision : undefined);
  const problems = [status, state].filter((r) => r.status === 'rejected').map((r) => errorText(r.reason));
  const statusCell = el('td', { class: 'status', ...(problems.length ? { title: problems.join('; ') } : {}) }, statusPill(view?.status ?? s.status));
  const rev = (r) => (r === undefined || r === null ? '–' : `r${r}`);
  const behind = desired !== undefined && applied !== desired;
  const sync = hb?.sync ? `${hb.sync.status} ${hb.sync.ready}/${hb.sync.total}${hb.sync.failed ? `, ${hb.sync.failed} failed` : ''}` : '–';
  return el(
    'tr',
    { 'data-satellite': s.name },
    el('td', { class: 'name' }, s.name),
    statusCell,
    el('td', { class: 'heartbeat', title: view?.lastHeartbeatAt ?? undefined }, ago(view?.lastHeartbeatAt)),
    el('td', { class: `revision${behind ? ' behind' : ''}` }, `${rev(applied)} / ${rev(desired)}`),
    el('td', { class: 'sync' }, sync),
    el('td', { class: 'groups' }, (s.groups ?? []).join(', ')),
  );
}

async function loadSatellites() {
  try {
    const list = await api('GET', '/v1/satellites');
    const sorted = [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const shown = sorted.slice(0, MAX_ROWS);
    const rows = await mapLimit(shown, ROW_CONCURRENCY, satelliteRow);
    document.querySelector('#satellites tbody').replaceChildren(
      ...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No satellites yet: create one with `uplink sat create <name>`.'))]),
    );
    $('satellites-note').textContent = sorted.length > shown.length ? `Showing ${shown.length} of ${sorted.length} satellites.` : '';
    fillSatelliteSelect(sorted.filter((s) => s.status !== 'revoked').map((s) => s.name));
    sectionError('satellites');
  } catch (err) {
    sectionError('satellites', err);
  }
}

function fillSatelliteSelect(names) {
  const select = $('command-satellite');
  const current = select.value;
  const existing = [...select.options].map((o) => o.value);
  if (existing.length === names.length && existing.every((n, i) => n === names[i])) return;
  select.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
  if (names.includes(current)) select.value = current;
}

async function loadGroups() {
  try {
    const groups = await api('GET', '/v1/groups');
    const rows = groups.map((g) =>
      el(
        'tr',
        { 'data-group': g.name },
        el('td', { class: 'name' }, g.name),
        el('td', { class: 'registry' }, g.registry),
        el('td', {}, String(g.artifacts?.length ?? 0)),
        el('td', { class: 'members' }, (g.satellites ?? []).join(', ') || '–'),
        timeCell(g.updatedAt),
      ),
    );
    document.querySelector('#groups tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'No groups yet.'))]));
    sectionError('groups');
  } catch (err) {
    sectionError('groups', err);
  }
}

async function loadCommands() {
  try {
    const { commands } = await api('GET', '/v1/commands?limit=20');
    const rows = commands.map((c) =>
      el(
        'tr',
        { 'data-command': c.id },
        timeCell(c.createdAt),
        el('td', {}, c.action),
        el('td', {}, targetText(c.target)),
        el('td', { class: 'status' }, statusPill(c.status)),
        el('td', {}, countsText(c.counts)),
      ),
    );
    document.querySelector('#commands tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'No commands yet.'))]));
    sectionError('commands');
  } catch (err) {
    sectionError('commands', err);
  }
}

async function refresh() {
  if (session.refreshing || !session.token) return;
  session.refreshing = true;
  const generation = session.generation;
  try {
    await Promise.all([loadFleet(), loadSatellites(), loadGroups(), loadCommands()]);
    if (generation === session.generation) $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } finally {
    session.refreshing = false;
  }
}

// ── commands ────────────────────────────────────────────────────────────────────────────────────────

function showCommand(view, note) {
  const result = $('command-result');
  const target = view.targets?.[0];
  const status = view.targets?.length === 1 && target ? target.status : view.status;
  result.dataset.status = status;
  result.dataset.command = view.id;
  const parts = [`${view.action} on ${targetText(view.target)}: `];
  $('command-status').replaceChildren(
    ...parts,
    statusPill(status),
    target?.exitCode !== undefined ? ` exit ${target.exitCode}` : '',
    note ? ` ${note}` : '',
  );
  $('command-error').textContent = target?.error ?? view.abortReason ?? '';
  const output = $('command-output');
  const text = (view.targets ?? [])
    .filter((t) => t.output)
    .map((t) => (view.targets.length > 1 ? `# ${t.satellite}\n${t.output}` : t.output))
    .join('\n');
  output.textContent = text;
  output.hidden = !text;
}

async function runCommand(event) {
  event.preventDefault();
  const run = ++session.commandRun;
  const satellite = $('command-satellite').value;
  const action = $('command-action').value;
  const rawArgs = $('command-args').value.trim();
  const result = $('command-result');
  $('command-error').textContent = '';
  $('command-output').hidden = true;
  let args = {};
  if (rawArgs) {
    try {
      args = JSON.parse(rawArgs);
    } catch (err) {
      result.dataset.status = 'invalid';
      $('command-status').textContent = '';
      $('command-error').textContent = `The arguments are not valid JSON: ${err.message}`;
      return;
    }
  }
  if (!satellite) {
    $('command-error').textContent = 'Choose a satellite first.';
    return;
  }
  const submit = $('command-submit');
  submit.disabled = true;
  result.dataset.status = 'sending';
  $('command-status').textContent = `Sending ${action} to ${satellite}…`;
  let id;
  try {
    ({ id } = await api('POST', '/v1/commands', { target: { satellite }, action, args }));
  } catch (err) {
    result.dataset.status = 'error';
    $('command-status').textContent = '';
    $('command-error').textContent = errorText(err);
    return;
  } finally {
    submit.disabled = false;
  }
  void loadCommands();
  const until = Date.now() + COMMAND_POLL_LIMIT_MS;
  const generation = session.generation;
  while (run === session.commandRun && generation === session.generation) {
    let view;
    try {
      view = await api('GET', `/v1/commands/${encodeURIComponent(id)}`);
    } catch (err) {
      $('command-error').textContent = errorText(err);
      if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) return;
      await sleep(COMMAND_POLL_MS * 4);
      continue;
    }
    if (run !== session.commandRun) return;
    const done = view.status !== 'in_progress' || (view.targets ?? []).every((t) => TERMINAL_TARGET.includes(t.status));
    if (done || Date.now() > until) {
      showCommand(view, done ? '' : '(still running; see Recent commands)');
      void loadCommands();
      return;
    }
    showCommand(view);
    await sleep(COMMAND_POLL_MS);
  }
}

// ── live telemetry ──────────────────────────────────────────────────────────────────────────────────

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve(undefined);
    });
  });
}

function feedState(state, detail) {
  const s = $('feed-state');
  s.textContent = detail ? `${state}: ${detail}` : state;
  s.dataset.state = state;
}

function summary(kind, body) {
  if (!body || typeof body !== 'object') return '';
  if (kind === 'heartbeat') {
    const parts = [`#${body.seq}`];
    if (body.sync) parts.push(`sync ${body.sync.status} ${body.sync.ready}/${body.sync.total}`);
    parts.push(body.applied ? `applied r${body.applied.revision}` : 'nothing applied');
    if (body.link) parts.push(body.link.connected ? 'link up' : 'link down');
    return parts.join(' · ');
  }
  if (kind === 'sync') {
    const what = body.artifact ? ` ${body.artifact.repository}` : '';
    return `${body.event} r${body.revision}${what}${body.error ? `: ${body.error}` : ''}`;
  }
  const text = JSON.stringify(body);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function showTelemetry(frame) {
  let e;
  try {
    e = JSON.parse(frame.data);
  } catch {
    return;
  }
  if (!e || typeof e !== 'object') return;
  const at = e.body && typeof e.body === 'object' && typeof e.body.at === 'string' ? e.body.at : undefined;
  const item = el(
    'li',
    { 'data-satellite': e.satellite, 'data-kind': e.kind, 'data-seq': e.seq },
    el('time', { datetime: at }, at ? new Date(at).toLocaleTimeString() : ''),
    el('span', { class: 'sat' }, e.satellite),
    el('span', { class: 'kind' }, e.kind),
    el('span', { class: 'what' }, summary(e.kind, e.body)),
  );
  const feed = $('telemetry-feed');
  feed.prepend(item);
  while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
}

async function runFeed(signal) {
  let failures = 0;
  let retryMs = 2_000;
  while (!signal.aborted) {
    feedState(failures ? 'reconnecting' : 'connecting');
    try {
      const headers = { authorization: `Bearer ${session.token}`, accept: 'text/event-stream' };
      if (session.lastEventId) headers['last-event-id'] = session.lastEventId;
      const res = await fetch('/v1/stream/telemetry', { headers, signal, cache: 'no-store' });
      if (!res.ok || !res.body) throw await apiErrorOf(res);
      feedState('live');
      sectionError('telemetry');
      failures = 0;
      const parser = new SseParser();
      parser.lastEventId = session.lastEventId;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const frame of parser.push(value)) {
          session.lastEventId = frame.id;
          showTelemetry(frame);
        }
        if (parser.retry !== undefined) retryMs = parser.retry;
      }
      // the gateway ended the feed (restart, shutdown): reconnect after its retry delay
      feedState('reconnecting');
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) {
        signOut(`The token was refused: ${err.message}`);
        return;
      }
      sectionError('telemetry', err);
      if (err instanceof ApiError && err.status === 403) {
        feedState('off');
        return;
      }
      failures++;
      feedState('reconnecting', errorText(err));
    }
    const backoff = Math.min(retryMs * 2 ** Math.max(0, failures - 1), 30_000);
    await sleep(backoff * (0.75 + Math.random() * 0.5), signal);
  }
}

// ── session ─────────────────────────────────────────────────────────────────────────────────────────

function showLogin(message) {
  $('app').hidden = true;
  $('sign-out').hidden = true;
  $('updated').textContent = '';
  $('login').hidden = false;
  $('login-message').textContent = message ?? '';
  const input = $('token-input');
  input.value = '';
  input.focus();
}

function stopSession() {
  session.generation++;
  session.commandRun++;
  clearInterval(session.refreshTimer);
  session.refreshTimer = 0;
  session.feed?.abort();
  session.feed = undefined;
  session.lastEventId = '';
  feedState('off');
}

function signOut(message) {
  stopSession();
  session.token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  banner('');
  showLogin(message);
}

async function signIn(token) {
  stopSession();
  session.token = token;
  const generation = session.generation;
  $('token-submit').disabled = true;
  try {
    // a cheap read any role may do tells a wrong token (401) from a gateway problem
    await api('GET', '/v1/satellites');
  } catch (err) {
    if (generation !== session.generation) return;
    if (!(err instanceof ApiError) || err.status !== 401) {
      // the token may be fine: open the dashboard and let each section say what is wrong
      banner(errorText(err));
    } else return;
  } finally {
    $('token-submit').disabled = false;
  }
  if (generation !== session.generation) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('login').hidden = true;
  $('app').hidden = false;
  $('sign-out').hidden = false;
  session.feed = new AbortController();
  void runFeed(session.feed.signal);
  session.refreshTimer = setInterval(() => void refresh(), REFRESH_MS);
  await refresh();
}

/** A token given in the URL fragment (#token=…): taken once, then removed from the address bar. */
function tokenFromFragment() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return undefined;
  history.replaceState(null, '', location.pathname + location.search);
  try {
    return decodeURIComponent(m[1]) || undefined;
  } catch {
    return undefined;
  }
}

function start() {
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token-input').value.trim();
    if (token) void signIn(token);
  });
  $('sign-out').addEventListener('click', () => signOut());
  $('command-form').addEventListener('submit', (event) => void runCommand(event));
  const token = tokenFromFragment() ?? sessionStorage.getItem(TOKEN_KEY) ?? '';
  if (token) void signIn(token);
  else showLogin();
}

// the parser and helpers above can be imported without a page (tests); only a page starts the app
if (typeof document !== 'undefined') start();
