// Quality dashboard: one server-rendered SVG chart per metric for a room
// (pseudonymous participants) or one user (an audited read), plus the
// participant legend and the event list from the JSON endpoint.

import { api, isAbort } from '../api.js';
import {
  h, replace, card, pageHeader, table, badge, timeEl, loading, emptyState, errorBox, alertBox, field, select,
  auditedNote, humanize, fmtDateTime, nextId,
} from '../dom.js';
import { roomRef, roomLabel } from './rooms.js';

export const METRICS = [
  { id: 'rtt', title: 'Round-trip time', unit: 'ms' },
  { id: 'loss', title: 'Packet loss', unit: '%' },
  { id: 'bitrate', title: 'Bitrate', unit: 'kbps' },
  { id: 'fps', title: 'Frame rate', unit: 'fps' },
  { id: 'resolution', title: 'Resolution', unit: 'px (height)' },
  { id: 'cpu', title: 'CPU', unit: '%' },
];

const RANGES = [
  ['1h', 'Last hour', 3600e3],
  ['24h', 'Last 24 hours', 86400e3],
  ['7d', 'Last 7 days', 7 * 86400e3],
  ['14d', 'Last 14 days', 14 * 86400e3],
  ['custom', 'Custom…', 0],
];
const MAX_BACK_MS = 14 * 86400e3;
const EVENTS_SHOWN = 200;

// What the server accepts (protocol/ids.go), checked here first so a typo
// gets a message without a refused request.
const STR_ROOM_RE = /^[A-Za-z0-9 !#$%&()+\-:;<=.>?@[\]^_{}|~,]{1,64}$/;
const USER_RE = /^[A-Za-z0-9_-]{1,32}$/;

/** roomProblem returns why room is not a room reference, or ''. */
export function roomProblem(room) {
  if (room.startsWith('s:')) {
    return STR_ROOM_RE.test(room.slice(2)) ? '' : 'A string room id (after s:) is 1–64 letters, digits, spaces or !#$%&()+-:;<=.>?@[]^_{}|~, characters.';
  }
  if (!/^\d+$/.test(room) || Number(room) < 1 || Number(room) > 4294967295) {
    return 'A room is a numeric id (1–4294967295), or s: followed by a string room id.';
  }
  return '';
}

export function userProblem(user) {
  return USER_RE.test(user) ? '' : 'A user ID is 1–32 letters, digits, _ or -.';
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** parseInstant reads RFC 3339 or Unix seconds. */
function parseInstant(v) {
  if (v === null || v === undefined || v === '') return null;
  const str = String(v);
  const d = /^\d+$/.test(str) ? new Date(Number(str) * 1000) : new Date(str);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** toLocalInput formats a Date for <input type="datetime-local">. */
function toLocalInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** resolveRange → {from, to, label} or {error}. */
export function resolveRange(params, now = Date.now()) {
  const key = params.get('range') || (params.get('from') ? 'custom' : '1h');
  const preset = RANGES.find(([k]) => k === key && k !== 'custom');
  if (preset) {
    // A minute's margin so "14 days" stays within the server's 14-day bound.
    const span = key === '14d' ? preset[2] - 60e3 : preset[2];
    return { key, from: new Date(now - span), to: new Date(now), label: preset[1].toLowerCase() };
  }
  const from = parseInstant(params.get('from'));
  const to = parseInstant(params.get('to')) || new Date(now);
  if (!from) return { key: 'custom', error: 'Choose the start of the custom range.' };
  if (from >= to) return { key: 'custom', error: 'The range must start before it ends.' };
  if (from.getTime() < now - MAX_BACK_MS - 60e3) return { key: 'custom', error: 'Quality data is kept 14 days: choose a start within the last 14 days.' };
  return { key: 'custom', from, to, label: `${fmtDateTime(from)} – ${fmtDateTime(to)}` };
}

// ---------- SVG import ----------

const styleSheets = new Map();

function adoptScopedStyle(cssText) {
  const text = cssText.trim();
  if (!text || styleSheets.has(text)) return;
  try {
    const sheet = new CSSStyleSheet();
    // Nested under the chart class, so the chart's rules stay in the chart.
    sheet.replaceSync(`.chart-svg-server{${text.replace(/@(font-face|import|charset|namespace)[^{;]*(\{[^}]*\}|;)/gi, '')}}`);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    styleSheets.set(text, sheet);
  } catch {
    styleSheets.set(text, null); // unsupported: the chart keeps its attributes
  }
}

/**
 * importSVG parses the server's chart as image/svg+xml and imports its root
 * into this document. Scripts, foreign objects, event handlers and external
 * references are dropped; style attributes and <style> blocks (which the
 * page's CSP would refuse, logging an error) are carried over through the
 * CSSOM instead.
 */
export function importSVG(text) {
  const renamed = String(text)
    .replace(/(\s)style(\s*=\s*["'])/gi, '$1data-svg-style$2')
    .replace(/<(\/?)style(?=[\s>/])/gi, '<$1svg-inline-style');
  const doc = new DOMParser().parseFromString(renamed, 'image/svg+xml');
  const src = doc.documentElement;
  if (!src || src.localName !== 'svg' || doc.getElementsByTagName('parsererror').length) {
    throw new Error('The server sent a chart that is not valid SVG.');
  }
  for (const el of [...src.querySelectorAll('script, foreignObject, iframe, object, embed, audio, video')]) el.remove();
  for (const el of [...src.getElementsByTagName('svg-inline-style')]) {
    adoptScopedStyle(el.textContent || '');
    el.remove();
  }
  const styled = [];
  for (const el of [src, ...src.querySelectorAll('*')]) {
    for (const attr of [...el.attributes]) {
      const name = attr.name.toLowerCase();
      const value = attr.value.trim();
      if (name.startsWith('on')) el.removeAttribute(attr.name);
      else if ((name === 'href' || name === 'xlink:href' || name === 'src') && !value.startsWith('#')) el.removeAttributeNode(attr);
      else if (name === 'data-svg-style') styled.push([el, value]);
    }
  }
  // Mark styled elements so they can be found after the import.
  styled.forEach(([el], i) => el.setAttribute('data-svg-style-i', String(i)));
  const node = document.importNode(src, true);
  for (const el of [node, ...node.querySelectorAll('[data-svg-style-i]')]) {
    const i = el.getAttribute('data-svg-style-i');
    if (i === null) continue;
    el.removeAttribute('data-svg-style-i');
    el.removeAttribute('data-svg-style');
    el.style.cssText = styled[Number(i)][1];
  }
  // Scale to the card: a viewBox from the drawn size, width from CSS.
  if (!node.getAttribute('viewBox')) {
    const w = parseFloat(node.getAttribute('width'));
    const ht = parseFloat(node.getAttribute('height'));
    if (w > 0 && ht > 0) node.setAttribute('viewBox', `0 0 ${w} ${ht}`);
  }
  node.classList.add('chart-svg', 'chart-svg-server');
  if (!node.getAttribute('role')) node.setAttribute('role', 'img');
  return node;
}

// ---------- the view ----------

export async function qualityView(ctx) {
  const { root, app, params } = ctx;
  const canPD = ctx.can('personal_data.read');
  const byUser = params.has('user') && !params.has('room');
  const section = h('section', { id: 'quality', class: 'quality', 'aria-label': 'Quality dashboard' });
  root.append(section);

  // ---- form ----
  const modeRoom = h('input', { type: 'radio', name: 'quality-by', value: 'room', id: 'quality-by-room', checked: !byUser });
  const modeUser = h('input', { type: 'radio', name: 'quality-by', value: 'user', id: 'quality-by-user', checked: byUser, disabled: !canPD });
  const segmented = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': 'Query by' },
    modeRoom, h('label', { for: 'quality-by-room', text: 'Room' }),
    modeUser, h('label', { for: 'quality-by-user', text: 'User ID', title: canPD ? 'Audited read' : 'Your role lacks personal_data.read' }));

  const roomsListId = nextId('rooms');
  const roomsList = h('datalist', { id: roomsListId });
  const roomInput = h('input', {
    class: 'input mono', id: 'quality-room', list: roomsListId, autocomplete: 'off', spellcheck: 'false',
    placeholder: '1234 or s:my-room', value: params.get('room') || '',
  });
  const userInput = h('input', {
    class: 'input mono', id: 'quality-user', autocomplete: 'off', spellcheck: 'false', placeholder: 'user id',
    value: params.get('user') || '', disabled: !canPD,
  });
  const roomField = field('Room', roomInput, null, { className: 'field-grow' });
  const userField = field('User ID', userInput, null, { className: 'field-grow' });
  const roomHint = h('p', { class: 'field-hint form-row-hint', text: 'A numeric room id, or s: followed by a string room id (s:demo). Live rooms are suggested as you type.' });
  const userHint = h('p', { class: 'field-hint form-row-hint', text: 'A query by user ID reads one person’s data: it is recorded in the audit log.' });

  const range = resolveRange(params);
  const rangeSel = select(RANGES.map(([k, l]) => [k, l]), { id: 'quality-range', value: range.key });
  const fromInput = h('input', { class: 'input', type: 'datetime-local', id: 'quality-from' });
  const toInput = h('input', { class: 'input', type: 'datetime-local', id: 'quality-to' });
  const now = new Date();
  fromInput.min = toLocalInput(new Date(now.getTime() - MAX_BACK_MS));
  fromInput.max = toInput.max = toLocalInput(now);
  const pFrom = parseInstant(params.get('from'));
  const pTo = parseInstant(params.get('to'));
  fromInput.value = toLocalInput(pFrom || new Date(now.getTime() - 3600e3));
  toInput.value = toLocalInput(pTo || now);
  const customFields = h('div', { class: 'form-row custom-range' }, field('From', fromInput), field('To', toInput));

  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'quality-show', text: 'Show quality' });
  const formMsg = h('div', { class: 'form-msg', 'aria-live': 'polite' });
  const form = h('form', { class: 'form', id: 'quality-form', novalidate: true },
    h('div', { class: 'form-row form-row-end' },
      h('div', { class: 'field' }, h('span', { class: 'field-label', text: 'Query by' }), segmented),
      roomField, userField,
      field('Range', rangeSel),
      h('div', { class: 'field field-submit' }, submit)),
    roomHint, userHint, customFields, roomsList, formMsg);

  function syncForm() {
    const u = modeUser.checked;
    roomField.hidden = u;
    roomHint.hidden = u;
    userField.hidden = !u;
    userHint.hidden = !u;
    customFields.hidden = rangeSel.value !== 'custom';
  }
  syncForm();
  form.addEventListener('change', syncForm);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = { app };
    if (modeUser.checked) {
      const u = userInput.value.trim();
      if (!u) {
        replace(formMsg, alertBox('error', null, 'Enter a user ID.'));
        userInput.focus();
        return;
      }
      if (userProblem(u)) {
        replace(formMsg, alertBox('error', null, userProblem(u)));
        userInput.focus();
        return;
      }
      next.user = u;
    } else {
      const r = roomInput.value.trim();
      if (!r) {
        replace(formMsg, alertBox('error', null, 'Enter a room: a numeric id, or s: and a string id.'));
        roomInput.focus();
        return;
      }
      if (roomProblem(r)) {
        replace(formMsg, alertBox('error', null, roomProblem(r)));
        roomInput.focus();
        return;
      }
      next.room = r;
    }
    next.range = rangeSel.value;
    if (rangeSel.value === 'custom') {
      const f = fromInput.value ? new Date(fromInput.value) : null;
      const t = toInput.value ? new Date(toInput.value) : new Date();
      if (!f || Number.isNaN(f.getTime()) || Number.isNaN(t.getTime())) {
        replace(formMsg, alertBox('error', null, 'Choose the start and end of the custom range.'));
        return;
      }
      next.from = f.toISOString().replace('.000Z', 'Z');
      next.to = t.toISOString().replace('.000Z', 'Z');
    }
    replace(formMsg);
    ctx.navigate('/quality', next);
  });

  section.append(
    pageHeader('Quality', 'Network and device metrics from SDK telemetry, per participant. Room queries show pseudonymous labels (P1, P2, …); a query by user ID reads one person’s data and is audited.'),
    card({ className: 'card-form' }, form),
  );

  // Suggest live rooms (best effort: the form works without them).
  api(`/v1/console/apps/${app}/rooms`, { signal: ctx.signal }).then((res) => {
    const rooms = Array.isArray(res && res.rooms) ? res.rooms : [];
    for (const r of rooms) {
      roomsList.append(h('option', { value: roomRef(r), text: `${roomLabel(r)} · ${r.participants ?? 0} in room` }));
    }
  }, () => {});

  const target = byUser ? { user: params.get('user') } : params.get('room') ? { room: params.get('room') } : null;
  const results = h('div', { id: 'quality-results', class: 'stack' });
  section.append(results);
  if (!target) {
    results.append(emptyState('Choose a room or a user', 'Pick a live room, type a room id (s: for string ids) or a user ID, then a range.'));
    return;
  }
  if (range.error) {
    results.append(alertBox('error', 'Invalid range', range.error));
    return;
  }
  const problem = target.user !== undefined ? userProblem(target.user) : roomProblem(target.room);
  if (problem) {
    results.append(alertBox('error', target.user !== undefined ? 'Invalid user ID' : 'Invalid room', problem));
    return;
  }
  if (byUser && !canPD) {
    results.append(alertBox('warn', 'Not available for your role', `Your role (${ctx.role}) lacks personal_data.read, which a query by user needs.`));
    return;
  }
  await renderResults(ctx, results, target, range);
}

async function renderResults(ctx, results, target, range) {
  const { app } = ctx;
  const query = {
    ...target,
    from: Math.floor(range.from.getTime() / 1000),
    to: Math.floor(range.to.getTime() / 1000),
  };
  const what = target.user !== undefined ? `User ${target.user}` : `Room ${target.room}`;
  results.append(h('div', { class: 'result-summary' },
    h('span', { class: 'result-what', text: what }),
    badge(range.label, 'neutral'),
    h('span', { class: 'muted' }, timeEl(range.from), ' – ', timeEl(range.to))));
  if (target.user !== undefined) {
    results.append(auditedNote('This query reads one person’s data: each request (the series and every chart) is recorded in the audit log.'));
  }

  const grid = h('div', { class: 'charts-grid', id: 'quality-charts' });
  const cards = new Map();
  for (const m of METRICS) {
    const body = h('div', { class: 'chart-body' }, h('div', { class: 'chart-skeleton', role: 'status', 'aria-label': `Loading the ${m.title} chart` }));
    const unit = h('span', { class: 'chart-unit', text: m.unit });
    const note = h('p', { class: 'chart-note', hidden: true });
    const c = h('section', { class: 'card chart-card', dataset: { metric: m.id }, 'aria-label': m.title, 'aria-busy': 'true' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', text: m.title }), unit),
      body, note);
    cards.set(m.id, { card: c, body, unit, note });
    grid.append(c);
  }
  const legendSlot = h('div', null, loading('Loading participants…'));
  const eventsSlot = h('div', null, loading('Loading events…'));
  results.append(grid, h('div', { class: 'grid-2 grid-2-wide' },
    card({ title: 'Participants', subtitle: target.user !== undefined ? null : 'Pseudonymous labels; ref is the telemetry pseudonym, never the user id.', id: 'quality-participants' }, legendSlot),
    card({ title: 'Events', subtitle: 'Enter and exit, mute and unmute, audio and video switches.', id: 'quality-events' }, eventsSlot)));

  const base = `/v1/console/apps/${app}`;

  // The series first: it says whether the query is valid (one message, not
  // seven) and which metrics have samples; then every chart at once.
  let data;
  try {
    data = await api(`${base}/quality`, { query, signal: ctx.signal });
  } catch (err) {
    if (isAbort(err) || !ctx.alive()) throw err;
    grid.before(errorBox(err, 'Could not load the quality data'));
    replace(legendSlot, h('p', { class: 'muted', text: 'Unavailable.' }));
    replace(eventsSlot, h('p', { class: 'muted', text: 'Unavailable.' }));
    for (const c of cards.values()) {
      replace(c.body, h('p', { class: 'chart-unavailable', text: 'Not drawn: the query failed.' }));
      c.card.removeAttribute('aria-busy');
    }
    return;
  }
  if (!ctx.alive()) return;
  if (data && data.truncated) {
    grid.before(alertBox('warn', 'Partial data',
      `This range holds more telemetry than one answer carries: data is shown up to ${fmtDateTime(data.complete_to, true)}. Narrow the range or start from there.`));
  }
  renderLegend(legendSlot, data);
  renderEvents(eventsSlot, data);
  const metrics = (data && data.metrics) || {};
  for (const m of METRICS) {
    const c = cards.get(m.id);
    const md = metrics[m.id];
    if (md && md.unit) c.unit.textContent = md.unit;
    const list = md && Array.isArray(md.series) ? md.series : [];
    const points = list.reduce((n, s) => n + (Array.isArray(s.points) ? s.points.length : 0), 0);
    c.note.hidden = false;
    c.note.textContent = points === 0 ? 'No samples in this range.' : `${list.length} series · ${plural(points, 'sample')}`;
    c.note.classList.toggle('chart-note-empty', points === 0);
  }

  const charts = METRICS.map((m) => {
    const c = cards.get(m.id);
    const w = Math.round(Math.min(1600, Math.max(280, c.body.clientWidth || 560)));
    const ht = Math.round(Math.min(300, Math.max(200, w * 0.42)));
    return api(`${base}/quality.svg`, { query: { ...query, metric: m.id, width: w, height: ht }, as: 'text', signal: ctx.signal })
      .then((text) => {
        if (!ctx.alive()) return;
        const svg = importSVG(text);
        if (!svg.getAttribute('aria-label')) svg.setAttribute('aria-label', `${m.title} chart`);
        replace(c.body, svg);
        // The drawn chart carries its own title and unit.
        c.card.classList.add('chart-card-drawn');
      })
      .catch((err) => {
        if (isAbort(err) || !ctx.alive()) return;
        replace(c.body, errorBox(err, `Could not draw the ${m.title} chart`));
      })
      .finally(() => c.card.removeAttribute('aria-busy'));
  });
  await Promise.allSettled(charts);
}

function renderLegend(slot, data) {
  const ps = Array.isArray(data && data.participants) ? data.participants : [];
  if (!ps.length) {
    replace(slot, emptyState('No participants', 'No telemetry in this range.'));
    return;
  }
  replace(slot, h('ul', { class: 'legend' }, ps.map((p, i) =>
    h('li', { class: 'legend-item' },
      h('span', { class: `legend-swatch swatch-${i % 8}`, 'aria-hidden': 'true' }),
      h('span', { class: 'legend-label', text: p.label || `P${i + 1}` }),
      p.ref ? h('code', { class: 'legend-ref mono', title: p.ref, text: p.ref }) : null))));
}

function renderEvents(slot, data) {
  const evs = Array.isArray(data && data.events) ? data.events : [];
  if (!evs.length) {
    replace(slot, emptyState('No events', 'No room or device events in this range.'));
    return;
  }
  const sorted = [...evs].sort((a, b) => (Number(b.at) || 0) - (Number(a.at) || 0));
  const shown = sorted.slice(0, EVENTS_SHOWN);
  replace(slot,
    table([
      { label: 'Time', render: (e) => timeEl(e.at, true) },
      { label: 'Participant', render: (e) => h('span', { class: 'mono', text: e.participant || '—' }) },
      { label: 'Event', render: (e) => eventBadge(e.type) },
    ], shown, { caption: 'Events', className: 'events-table' }),
    sorted.length > shown.length ? h('p', { class: 'field-hint', text: `Showing the latest ${shown.length} of ${sorted.length} events.` }) : null);
}

function eventBadge(type) {
  const t = String(type || '');
  const tone = /enter|unmute|enable/.test(t) ? 'ok' : /exit|leave|disable|mute/.test(t) ? 'neutral' : 'accent';
  return badge(humanize(t), tone);
}
