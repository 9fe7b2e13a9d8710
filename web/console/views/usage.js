// Usage for billing: participant-minutes per UTC day, as a bar chart drawn
// here in SVG, a table and a total.

import { api } from '../api.js';
import { h, replace, card, pageHeader, table, loading, emptyState, errorBox, select, fmtNumber, field } from '../dom.js';
import { barChart } from '../charts.js';

const RANGES = [
  ['7', 'Last 7 days'],
  ['30', 'Last 30 days'],
  ['90', 'Last 90 days'],
];

const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

function dayKey(d) {
  return d.toISOString().slice(0, 10);
}

function shortDay(key) {
  const d = new Date(key + 'T00:00:00Z');
  return Number.isNaN(d.getTime()) ? key : dayFmt.format(d);
}

export async function usageView(ctx) {
  const { root, app, params } = ctx;
  const days = RANGES.some(([k]) => k === params.get('days')) ? params.get('days') : '30';
  const rangeSel = select(RANGES, { id: 'usage-range', value: days, class: 'input input-sm' });
  rangeSel.addEventListener('change', () => ctx.navigate('/usage', { app, days: rangeSel.value }));

  const stats = h('div', { class: 'stat-grid', id: 'usage-stats' });
  const chartSlot = h('div', { class: 'usage-chart', id: 'usage-chart' }, loading('Loading usage…'));
  const tableSlot = h('div');
  root.append(
    pageHeader('Usage', 'Participant-minutes per UTC day, counted from room enter to leave for each participant (what billing by the minute meters). Sessions still open count up to now.',
      h('div', { class: 'toolbar' }, field('Range', rangeSel, null, { className: 'field-inline' }))),
    stats,
    card({ title: 'Participant-minutes per day', id: 'usage-chart-card' }, chartSlot),
    card({ title: 'Daily usage', id: 'usage-table-card' }, tableSlot),
  );

  const n = Number(days);
  const today = new Date();
  const start = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - (n - 1)));
  const query = n === 30 ? undefined : { from: start.toISOString().replace('.000Z', 'Z'), to: today.toISOString().replace(/\.\d{3}Z$/, 'Z') };

  let res;
  try {
    res = await api(`/v1/console/apps/${app}/usage`, { query, signal: ctx.signal });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    replace(chartSlot, errorBox(err, 'Could not load usage'));
    replace(tableSlot, h('p', { class: 'muted', text: 'No data.' }));
    return;
  }
  if (!ctx.alive()) return;
  const rows = (Array.isArray(res && res.days) ? res.days : []).filter((d) => d && d.day);

  // Every day of the range, with zero where nothing was used.
  const byDay = new Map(rows.map((d) => [String(d.day).slice(0, 10), d]));
  const keys = [];
  for (let i = 0; i < n; i++) keys.push(dayKey(new Date(start.getTime() + i * 86400e3)));
  for (const k of byDay.keys()) if (!keys.includes(k)) keys.push(k);
  keys.sort();
  const series = keys.map((k) => ({ day: k, minutes: Number(byDay.get(k)?.participant_minutes) || 0, peak: byDay.get(k)?.peak_rooms }));

  const total = Number.isFinite(Number(res && res.total_participant_minutes)) && res.total_participant_minutes !== undefined
    ? Number(res.total_participant_minutes)
    : series.reduce((s, d) => s + d.minutes, 0);
  const busiest = series.reduce((b, d) => (d.minutes > (b ? b.minutes : -1) ? d : b), null);
  const peakRooms = rows.reduce((m, d) => Math.max(m, Number(d.peak_rooms) || 0), 0);
  const stat = (label, value, sub, id) => h('div', { class: 'stat', id }, h('p', { class: 'stat-label', text: label }), h('p', { class: 'stat-value', text: value }), sub ? h('p', { class: 'stat-sub', text: sub }) : null);
  replace(stats,
    stat('Total participant-minutes', fmtNumber(total, 1), `${RANGES.find(([k]) => k === days)[1].toLowerCase()}`, 'usage-total'),
    stat('Daily average', fmtNumber(total / Math.max(1, series.length), 1), 'participant-minutes per day'),
    stat('Busiest day', busiest && busiest.minutes > 0 ? shortDay(busiest.day) : '—', busiest && busiest.minutes > 0 ? `${fmtNumber(busiest.minutes, 1)} minutes` : 'no usage yet'),
    stat('Peak concurrent rooms', fmtNumber(peakRooms, 0), 'highest in the range'));

  if (total === 0) {
    replace(chartSlot, emptyState('No usage in this range', 'Participant-minutes appear once people join rooms of this app.'));
  } else {
    const width = Math.max(320, chartSlot.clientWidth || 720);
    replace(chartSlot, barChart(series.map((d) => ({
      label: d.day, value: d.minutes,
      tip: `${d.day}: ${fmtNumber(d.minutes, 1)} participant-minutes${d.peak !== undefined ? `, peak ${d.peak} rooms` : ''}`,
    })), { width, height: width < 500 ? 200 : 260, xLabel: shortDay, title: 'Participant-minutes per day' }));
  }

  if (!rows.length) {
    replace(tableSlot, emptyState('No days with usage', null));
    return;
  }
  const sorted = [...rows].sort((a, b) => String(b.day).localeCompare(String(a.day)));
  replace(tableSlot,
    table([
      { label: 'Day (UTC)', render: (d) => h('span', { class: 'mono', text: String(d.day).slice(0, 10) }) },
      { label: 'Participant-minutes', numeric: true, render: (d) => fmtNumber(d.participant_minutes, 1) },
      { label: 'Peak rooms', numeric: true, render: (d) => (d.peak_rooms === undefined ? null : fmtNumber(d.peak_rooms, 0)) },
    ], sorted, { caption: 'Daily usage', className: 'usage-table' }),
    h('div', { class: 'table-foot' },
      h('span', { class: 'strong', text: 'Total' }),
      h('span', { class: 'strong num', text: `${fmtNumber(total, 1)} participant-minutes` })));
}
