// Compliance views: the audit log's latest signed checkpoint (with declared
// incidents) and the retention status of every store.

import { api, isAbort } from '../api.js';
import {
  h, replace, card, pageHeader, table, badge, timeEl, loading, emptyState, errorBox, alertBox, dl, copyField,
  fmtNumber, fmtRelative, humanize, button, busy,
} from '../dom.js';

// ---------- audit ----------

export async function auditView(ctx) {
  const { root } = ctx;
  const cpSlot = h('div', { id: 'audit-checkpoint', class: 'stack' }, loading('Loading the checkpoint…'));
  const refresh = button('Refresh', { size: 'sm', id: 'audit-refresh' });
  root.append(
    pageHeader('Audit log', 'An append-only Merkle log of every sensitive action and every read of personal data. Its signed checkpoints let anyone check that no record was changed or removed.', refresh),
    card({ title: 'Latest checkpoint', id: 'audit-checkpoint-card' }, cpSlot));
  const incSlot = h('div', { id: 'incidents' });
  if (ctx.can('incidents.read')) {
    root.append(card({ title: 'Incidents', subtitle: 'Declared security incidents and each app’s notification state.', id: 'incidents-card' }, incSlot));
  }

  async function loadCheckpoint() {
    try {
      const cp = await api('/v1/console/audit/checkpoint', { signal: ctx.signal });
      if (!ctx.alive()) return;
      replace(cpSlot,
        h('div', { class: 'stat-grid stat-grid-2' },
          h('div', { class: 'stat' }, h('p', { class: 'stat-label', text: 'Records (tree size)' }), h('p', { class: 'stat-value', id: 'audit-size', text: fmtNumber(cp && cp.size, 0) })),
          h('div', { class: 'stat' }, h('p', { class: 'stat-label', text: 'Signed' }), h('p', { class: 'stat-value stat-value-sm' }, timeEl(cp && cp.at, true)),
            h('p', { class: 'stat-sub', text: fmtRelative(cp && cp.at) }))),
        h('div', { class: 'field' }, h('span', { class: 'field-label', text: 'Tree hash (SHA-256, base64)' }), copyField((cp && cp.hash) || '', { label: 'Tree hash', id: 'audit-hash' })),
        h('div', { class: 'field' }, h('span', { class: 'field-label', text: 'Signed note' }),
          h('pre', { class: 'code-block', id: 'audit-note', tabindex: '0', text: (cp && cp.note) || '' })));
    } catch (err) {
      if (isAbort(err) || !ctx.alive()) return;
      if (err && err.code === 'empty_log') replace(cpSlot, emptyState('No records yet', 'The first checkpoint is signed after the first audited action.'));
      else replace(cpSlot, errorBox(err, 'Could not load the checkpoint'));
    }
  }

  async function loadIncidents() {
    if (!ctx.can('incidents.read')) return;
    replace(incSlot, loading('Loading incidents…'));
    try {
      const res = await api('/v1/console/incidents', { signal: ctx.signal });
      if (!ctx.alive()) return;
      const list = Array.isArray(res && res.incidents) ? res.incidents : [];
      if (!list.length) {
        replace(incSlot, emptyState('No incidents declared', null));
        return;
      }
      replace(incSlot, h('div', { class: 'stack' }, list.map(incidentItem)));
    } catch (err) {
      if (isAbort(err) || !ctx.alive()) return;
      replace(incSlot, errorBox(err, 'Could not load incidents'));
    }
  }

  refresh.addEventListener('click', () => {
    busy(refresh, () => Promise.all([loadCheckpoint(), loadIncidents()])).catch(() => {});
  });
  await Promise.all([loadCheckpoint(), loadIncidents()]);
}

const DELIVERY_TONES = { delivered: 'ok', pending: 'accent', failed: 'danger', not_sent: 'warn', expired: 'neutral', not_notified_no_callback: 'neutral' };

function incidentItem(inc) {
  const apps = Array.isArray(inc.apps) ? inc.apps : [];
  const cats = Array.isArray(inc.categories) ? inc.categories : [];
  return h('details', { class: 'incident' },
    h('summary', { class: 'incident-summary' },
      h('span', { class: 'mono strong', text: `#${inc.id}` }),
      h('span', { class: 'incident-what', text: inc.what_happened || '' }),
      h('span', { class: 'muted' }, timeEl(inc.declared_at))),
    dl([
      ['Impact', inc.impact || '—'],
      ['Measures taken', inc.measures_taken || '—'],
      ['Advice', inc.advice || '—'],
      ['Remedies', inc.remedies || '—'],
      ['Contact', inc.contact || '—'],
      ['Categories', cats.length ? h('span', { class: 'chip-row' }, cats.map((c) => badge(c.label || c.id, 'neutral'))) : '—'],
    ]),
    apps.length ? table([
      { label: 'App', render: (a) => h('span', { class: 'mono', text: String(a.sdkappid) }) },
      { label: 'Affected users', numeric: true, render: (a) => fmtNumber(a.affected_users, 0) },
      { label: 'Notification', render: (a) => badge(humanize((a.delivery && a.delivery.state) || 'unknown'), DELIVERY_TONES[a.delivery && a.delivery.state] || 'neutral') },
      { label: 'Detail', className: 'cell-wrap', render: (a) => (a.delivery && a.delivery.summary) || null },
    ], apps, { caption: `Apps affected by incident ${inc.id}` }) : null);
}

// ---------- retention ----------

export async function retentionView(ctx) {
  const { root } = ctx;
  const summary = h('div');
  const slot = h('div', { id: 'retention-list' }, loading('Loading the retention status…'));
  root.append(
    pageHeader('Retention', 'Each store’s oldest record against its retention limit. The retention engine deletes records past their limit; an overdue store means it is behind or not running.'),
    summary,
    card({ title: 'Stores', id: 'retention-card' }, slot));
  let res;
  try {
    res = await api('/v1/console/retention', { signal: ctx.signal });
  } catch (err) {
    if (isAbort(err)) throw err;
    replace(slot, errorBox(err, 'Could not load the retention status'));
    return;
  }
  if (!ctx.alive()) return;
  const stores = Array.isArray(res && res.stores) ? res.stores : [];
  if (!stores.length) {
    replace(slot, emptyState('No stores reported', null));
    return;
  }
  const overdue = (st) => !st.empty && !st.error && st.within_limit === false;
  const bad = stores.filter(overdue);
  const errors = stores.filter((st) => st.error);
  replace(summary,
    bad.length
      ? alertBox('error', `${bad.length} store${bad.length === 1 ? ' is' : 's are'} past the retention limit`, bad.map((st) => st.store).join(', '))
      : alertBox('ok', 'Every store is within its retention limit', null),
    errors.length ? alertBox('warn', 'Some stores could not be checked', errors.map((st) => `${st.store}: ${st.error}`).join('; ')) : null);

  replace(slot, table([
    { label: 'Store', render: (st) => h('span', { class: 'mono strong', text: st.store }) },
    { label: 'What it holds', className: 'cell-wrap', render: (st) => st.what || null },
    { label: 'Limit', numeric: true, render: (st) => fmtAge(st.limit_days) },
    { label: 'Oldest record', numeric: true, render: (st) => (st.empty ? h('span', { class: 'muted', text: 'empty' }) : fmtAge(st.oldest_age_days)) },
    { label: 'Of the limit', className: 'cell-meter', render: (st) => meter(st) },
    {
      label: 'Status',
      render: (st) => (st.error ? badge('Unknown', 'warn') : st.empty ? badge('Empty', 'neutral') : overdue(st) ? badge('Overdue', 'danger') : badge('Within limit', 'ok')),
    },
  ], stores, { caption: 'Retention by store', className: 'retention-table', rowClass: (st) => (overdue(st) ? 'row-overdue' : null) }));
}

/** fmtAge shows a number of days as minutes, hours or days. */
function fmtAge(days) {
  const d = Number(days);
  if (!Number.isFinite(d)) return '—';
  if (d < 1 / 24) return `${fmtNumber(Math.max(0, d * 1440), 0)} min`;
  if (d < 1) return `${fmtNumber(d * 24, 1)} h`;
  return `${fmtNumber(d, 1)} d`;
}

function meter(st) {
  if (st.empty || st.error || !(st.limit_days > 0)) return null;
  const ratio = (Number(st.oldest_age_days) || 0) / st.limit_days;
  const fill = h('span', { class: ['meter-fill', ratio > 1 ? 'meter-over' : ratio > 0.85 ? 'meter-near' : null] });
  fill.style.width = `${Math.min(100, Math.max(0, ratio * 100)).toFixed(1)}%`;
  return h('span', { class: 'meter', title: `${fmtNumber(ratio * 100, 0)}% of the limit` },
    h('span', { class: 'meter-track' }, fill), h('span', { class: 'meter-text', text: `${fmtNumber(ratio * 100, 0)}%` }));
}
