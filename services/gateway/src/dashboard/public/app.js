// Uplink dashboard: one ES module, no dependencies, no build step. It keeps the operator's token in
// sessionStorage, calls the gateway's REST API with it, and reads the live telemetry feed with fetch()
// (EventSource cannot send an Authorization header), resuming with Last-Event-ID after a drop.
// Every piece of data reaches the page through textContent, never as markup.

const TOKEN_KEY = 'uplink.token';
/** how often the fleet, satellites, groups and commands are read again */
const REFRESH_MS = 5_000;
/** the most satellites one request of the fleet list may ask for (the API's limit) */
const PAGE_MAX = 1_000;
const PAGE_DEFAULT = 100;
const FEED_MAX = 50;
const COMMAND_POLL_MS = 500;
const COMMAND_POLL_LIMIT_MS = 10 * 60_000;
const STATUSES = ['online', 'stale', 'offline', 'unknown', 'pending', 'revoked', 'active'];
/** what a name search may hold: the start of a satellite name */
const NAME_PREFIX = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** a search waits this long after the last key before it asks */
const SEARCH_DEBOUNCE_MS = 250;
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

/** Satellites per page of the list: `?pageSize=N` in the page's address (1..1000), else 100. */
export function pageSizeOf(search) {
  const raw = new URLSearchParams(search).get('pageSize');
  const n = Number(raw);
  return raw !== null && Number.isInteger(n) && n >= 1 && n <= PAGE_MAX ? n : PAGE_DEFAULT;
}

/** The request of one page of the fleet list. */
export function fleetListPath({ limit, cursor, status, q }) {
  const params = new URLSearchParams({ limit: String(limit) });
  if (cursor) params.set('cursor', cursor);
  if (status) params.set('status', status);
  if (q) params.set('q', q);
  return `/v1/fleet/satellites?${params}`;
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

// The satellites: pages of GET /v1/fleet/satellites (one request per page, never one per satellite),
// "Load more" for the next page, a liveness filter and a name search. A refresh reads again as many
// satellites as are shown, in as few requests as the API allows. One satellite may be selected: its
// detail (status and state) is the only per-satellite read.
const list = {
  pageSize: PAGE_DEFAULT,
  /** @type {object[]} the satellites shown, in name order */
  rows: [],
  /** @type {string | undefined} where the next page starts; none on the last page */
  nextCursor: undefined,
  status: '',
  q: '',
  /** bumped when the filter or the session changes: answers for an older one are dropped */
  version: 0,
  /** the list is read by one task at a time (refresh, load more, a new filter) */
  queue: Promise.resolve(),
  searchTimer: 0,
  /** the satellite whose detail is open */
  selected: '',
};

/** Run `fn` after the list's earlier tasks. */
function listTask(fn) {
  const run = list.queue.then(fn);
  list.queue = run.catch(() => undefined);
  return run;
}

function filtered() {
  return Boolean(list.status || list.q);
}

function satelliteRow(s) {
  const rev = (r) => (r === undefined || r === null ? '–' : `r${r}`);
  const behind = s.desiredRevision !== null && s.desiredRevision !== undefined && s.appliedRevision !== s.desiredRevision;
  const selected = s.name === list.selected;
  return el(
    'tr',
    { 'data-satellite': s.name, ...(selected ? { class: 'selected', 'aria-selected': 'true' } : {}) },
    el('td', { class: 'name' }, el('button', { type: 'button', class: 'link', 'data-select': s.name, title: 'show its status and state' }, s.name)),
    el('td', { class: 'status' }, statusPill(s.liveness)),
    el('td', { class: 'lifecycle' }, statusPill(s.lifecycle)),
    el('td', { class: 'heartbeat', title: s.lastHeartbeatAt ?? undefined }, ago(s.lastHeartbeatAt)),
    el('td', { class: `revision${behind ? ' behind' : ''}` }, `${rev(s.appliedRevision)} / ${rev(s.desiredRevision)}`),
    el('td', { class: 'sync' }, s.syncStatus ?? '–'),
    el('td', { class: 'version' }, s.version ?? '–'),
    el('td', { class: 'groups' }, (s.groups ?? []).join(', ')),
  );
}

function renderSatellites() {
  const rows = list.rows.map(satelliteRow);
  const empty = filtered() ? 'No satellite matches.' : 'No satellites yet: create one with `uplink sat create <name>`.';
  document.querySelector('#satellites tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 8, class: 'muted' }, empty))]));
  const n = list.rows.length;
  $('satellites-note').textContent = n === 0 ? '' : `${n} ${n === 1 ? 'satellite' : 'satellites'}${filtered() ? ' matching' : ''}${list.nextCursor ? ', more follow' : ''}.`;
  $('satellites-more').hidden = !list.nextCursor;
  fillSatelliteSelect(list.rows.filter((s) => s.lifecycle !== 'revoked').map((s) => s.name));
}

/** Read again the satellites shown (at least one page) from the start, for the filter of now. */
function loadSatellites() {
  return listTask(async () => {
    const version = list.version;
    const want = Math.max(list.pageSize, list.rows.length);
    const filter = { status: list.status, q: list.q };
    try {
      const rows = [];
      let cursor;
      do {
        const page = await api('GET', fleetListPath({ limit: Math.min(PAGE_MAX, want - rows.length), cursor, ...filter }));
        rows.push(...page.satellites);
        if (page.nextCursor !== undefined && page.nextCursor === cursor) throw new Error('the gateway answered the same page twice');
        cursor = page.nextCursor;
      } while (cursor && rows.length < want && version === list.version);
      if (version !== list.version) return;
      list.rows = rows;
      list.nextCursor = cursor;
      renderSatellites();
      sectionError('satellites');
    } catch (err) {
      if (version === list.version) sectionError('satellites', err);
    }
  });
}

/** Add the next page to the satellites shown. */
function loadMore() {
  return listTask(async () => {
    const version = list.version;
    if (!list.nextCursor) return;
    const button = $('satellites-more');
    button.disabled = true;
    try {
      const page = await api('GET', fleetListPath({ limit: list.pageSize, cursor: list.nextCursor, status: list.status, q: list.q }));
      if (version !== list.version) return;
      list.rows.push(...page.satellites);
      list.nextCursor = page.nextCursor;
      renderSatellites();
      sectionError('satellites');
    } catch (err) {
      if (version === list.version) sectionError('satellites', err);
    } finally {
      button.disabled = false;
    }
  });
}

/** The list for the filter in the form: its first page. */
function applyFilter() {
  clearTimeout(list.searchTimer);
  const q = $('satellites-q').value.trim().toLowerCase();
  if (q && !NAME_PREFIX.test(q)) {
    $('satellites-q').setAttribute('aria-invalid', 'true');
    sectionError('satellites', new Error('Search: a satellite name starts with a lower-case letter or digit, followed by letters, digits, "-" or "_".'));
    return;
  }
  if ($('satellites-q').hasAttribute('aria-invalid')) {
    $('satellites-q').removeAttribute('aria-invalid');
    sectionError('satellites');
  }
  const status = $('satellites-status').value;
  if (q === list.q && status === list.status) return;
  list.q = q;
  list.status = status;
  list.version++;
  list.rows = [];
  list.nextCursor = undefined;
  void loadSatellites();
}

function resetList() {
  list.version++;
  list.rows = [];
  list.nextCursor = undefined;
  list.selected = '';
  $('satellite-detail').hidden = true;
}

// ── one satellite ────────────────────────────────────────────────────────────────────────────────────

function selectSatellite(name) {
  list.selected = name;
  for (const tr of document.querySelectorAll('#satellites tbody tr[data-satellite]')) {
    const on = tr.getAttribute('data-satellite') === name;
    tr.classList.toggle('selected', on);
    if (on) tr.setAttribute('aria-selected', 'true');
    else tr.removeAttribute('aria-selected');
  }
  const select = $('command-satellite');
  if ([...select.options].some((o) => o.value === name)) select.value = name;
  $('detail-name').textContent = name;
  $('detail-facts').replaceChildren();
  document.querySelector('#satellite-detail tbody').replaceChildren();
  $('satellite-detail').hidden = false;
  void loadDetail();
}

function closeDetail() {
  list.selected = '';
  $('satellite-detail').hidden = true;
  for (const tr of document.querySelectorAll('#satellites tbody tr.selected')) {
    tr.classList.remove('selected');
    tr.removeAttribute('aria-selected');
  }
}

function fact(name, value) {
  return [el('dt', {}, name), el('dd', { 'data-fact': name.toLowerCase().replace(/\W+/g, '-') }, value)];
}

/** The selected satellite's status and state: its two requests, nothing for the others. */
async function loadDetail() {
  const name = list.selected;
  if (!name) return;
  const path = `/v1/satellites/${encodeURIComponent(name)}`;
  const [status, state] = await Promise.allSettled([api('GET', `${path}/status`), api('GET', `${path}/state`)]);
  if (name !== list.selected) return;
  const view = status.status === 'fulfilled' ? status.value : undefined;
  const st = state.status === 'fulfilled' ? state.value : undefined;
  const hb = view?.heartbeat ?? undefined;
  const rev = (r) => (r ? `r${r.revision} ${String(r.digest ?? '').slice(0, 19)}` : 'none');
  const sync = hb?.sync ? `${hb.sync.status} ${hb.sync.ready}/${hb.sync.total}${hb.sync.failed ? `, ${hb.sync.failed} failed` : ''}` : '–';
  const versions = Object.entries(hb?.versions ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
  const facts = [
    ...fact('Status', view ? statusPill(view.status) : '–'),
    ...fact('Last heartbeat', view?.lastHeartbeatAt ? `${ago(view.lastHeartbeatAt)} (${view.lastHeartbeatAt})` : 'never'),
    ...fact('Sync', sync),
    ...fact('Applied', st ? rev(st.applied) : hb?.applied ? rev(hb.applied) : '–'),
    ...fact('Desired', st ? rev(st.desired) : '–'),
    ...fact('Versions', versions || '–'),
  ];
  if (hb?.link) facts.push(...fact('Link', hb.link.connected ? 'up' : 'down'));
  $('detail-facts').replaceChildren(...facts);
  const artifacts = (st?.artifacts ?? []).map((a) =>
    el(
      'tr',
      { 'data-repository': a.repository },
      el('td', {}, a.repository),
      el('td', { title: a.digest }, a.digest.slice(0, 19)),
      el('td', { class: 'status' }, statusPill(a.status)),
      el('td', {}, a.error ?? ''),
    ),
  );
  document.querySelector('#satellite-detail tbody').replaceChildren(
    ...(artifacts.length ? artifacts : [el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'No artifacts in its desired state.'))]),
  );
  const problems = [status, state].filter((r) => r.status === 'rejected').map((r) => errorText(r.reason));
  sectionError('satellite-detail', problems.length ? new Error(problems.join('; ')) : undefined);
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
    await Promise.all([loadFleet(), loadSatellites(), loadDetail(), loadGroups(), loadCommands()]);
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
  resetList();
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
    await api('GET', fleetListPath({ limit: 1 }));
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
  list.pageSize = pageSizeOf(location.search);
  $('satellites-more').addEventListener('click', () => void loadMore());
  $('satellites-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    applyFilter();
  });
  $('satellites-status').addEventListener('change', () => applyFilter());
  $('satellites-q').addEventListener('input', () => {
    clearTimeout(list.searchTimer);
    list.searchTimer = setTimeout(applyFilter, SEARCH_DEBOUNCE_MS);
  });
  document.querySelector('#satellites tbody').addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('[data-select]') : null;
    if (button) selectSatellite(button.getAttribute('data-select'));
  });
  $('detail-close').addEventListener('click', () => closeDetail());
  const token = tokenFromFragment() ?? sessionStorage.getItem(TOKEN_KEY) ?? '';
  if (token) void signIn(token);
  else showLogin();
}

// the parser and helpers above can be imported without a page (tests); only a page starts the app
if (typeof document !== 'undefined') start();
