// Charts drawn in the page: a vertical bar chart in SVG (usage) and
// horizontal bar lists (consent statistics). No library.

import { h, s, fmtNumber } from './dom.js';

/** niceCeil rounds max up to 1, 2, 2.5 or 5 times a power of ten. */
export function niceCeil(max) {
  if (!(max > 0)) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(max)));
  const f = max / exp;
  const nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return nf * exp;
}

/**
 * barChart draws bars for data [{label, value, tip}] into an SVG whose
 * viewBox is width × height; CSS scales it to its container's width.
 * opts: width, height, xLabel(label, i) → short text, yFormat(v), title.
 */
export function barChart(data, opts = {}) {
  const width = Math.max(280, Math.round(opts.width || 720));
  const height = Math.round(opts.height || 240);
  const yFormat = opts.yFormat || ((v) => fmtNumber(v, 1));
  const xLabel = opts.xLabel || ((l) => l);
  const m = { top: 12, right: 12, bottom: 28, left: 52 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const max = niceCeil(Math.max(0, ...data.map((d) => Number(d.value) || 0)));
  const ticks = 4;

  const svg = s('svg', {
    class: 'chart-svg bar-chart', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': opts.title || 'Bar chart', preserveAspectRatio: 'xMidYMid meet',
  });
  if (opts.title) svg.append(s('title', null, opts.title));

  const grid = s('g', { class: 'chart-grid' });
  for (let i = 0; i <= ticks; i++) {
    const v = (max / ticks) * i;
    const y = m.top + ph - (v / max) * ph;
    grid.append(s('line', { x1: m.left, x2: width - m.right, y1: y.toFixed(1), y2: y.toFixed(1), class: i === 0 ? 'chart-axis' : 'chart-gridline' }));
    grid.append(s('text', { x: m.left - 8, y: (y + 4).toFixed(1), 'text-anchor': 'end', class: 'chart-tick' }, yFormat(v)));
  }
  svg.append(grid);

  const n = Math.max(1, data.length);
  const band = pw / n;
  const barW = Math.max(1, Math.min(48, band * 0.72));
  const labelEvery = Math.max(1, Math.ceil(64 / band));
  const bars = s('g', { class: 'chart-bars' });
  const labels = s('g', { class: 'chart-xlabels' });
  data.forEach((d, i) => {
    const v = Math.max(0, Number(d.value) || 0);
    const bh = (v / max) * ph;
    const x = m.left + band * i + (band - barW) / 2;
    const y = m.top + ph - bh;
    const rect = s('rect', {
      x: x.toFixed(1), y: y.toFixed(1), width: barW.toFixed(1), height: Math.max(v > 0 ? 1 : 0, bh).toFixed(1),
      rx: Math.min(3, barW / 4).toFixed(1), class: 'chart-bar',
    }, s('title', null, d.tip || `${d.label}: ${yFormat(v)}`));
    bars.append(rect);
    if (i % labelEvery === 0) {
      labels.append(s('text', { x: (m.left + band * i + band / 2).toFixed(1), y: height - 8, 'text-anchor': 'middle', class: 'chart-tick' }, xLabel(d.label, i)));
    }
  });
  svg.append(bars, labels);
  return svg;
}

/**
 * hbars shows rows [{label, values: [{value, tone, name}]}] as horizontal
 * bars scaled to the largest value (HTML; widths through the CSSOM).
 */
export function hbars(rows, opts = {}) {
  const max = Math.max(0, ...rows.flatMap((r) => r.values.map((v) => Number(v.value) || 0)));
  const list = h('div', { class: 'hbars', role: 'list', 'aria-label': opts.title || 'Bar chart' });
  for (const r of rows) {
    const tracks = h('div', { class: 'hbar-tracks' });
    for (const v of r.values) {
      const n = Number(v.value) || 0;
      const fill = h('span', { class: `hbar-fill hbar-${v.tone || 'accent'}` });
      fill.style.width = max > 0 ? `${Math.max(n > 0 ? 1.5 : 0, (n / max) * 100)}%` : '0%';
      tracks.append(h('div', { class: 'hbar-track', title: `${v.name ? v.name + ': ' : ''}${fmtNumber(n, 0)}` },
        h('span', { class: 'hbar-bar' }, fill), h('span', { class: 'hbar-value', text: (v.name ? v.name + ' ' : '') + fmtNumber(n, 0) })));
    }
    list.append(h('div', { class: 'hbar-row', role: 'listitem' }, h('div', { class: 'hbar-label', title: r.label, text: r.label }), tracks));
  }
  return list;
}
