// DOM helpers and small UI components. Everything is built with
// createElement / textContent: data never goes through innerHTML. The page's
// CSP forbids style attributes, so sizes are set through the CSSOM only.

import { isAbort } from './api.js';

export const SVG_NS = 'http://www.w3.org/2000/svg';

// Properties set as DOM properties (so false clears them) rather than
// attributes.
const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'required', 'readOnly', 'multiple', 'indeterminate']);

function applyProps(el, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') {
      const cls = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      if (cls) el.setAttribute('class', cls);
    } else if (k === 'text') {
      if (v !== undefined && v !== null) el.textContent = String(v);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v || {})) if (dv !== undefined && dv !== null) el.dataset[dk] = String(dv);
    } else if (k === 'style') {
      // CSSOM assignments are allowed by the CSP; style attributes are not.
      if (v) Object.assign(el.style, v);
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (PROPS.has(k)) {
      if (v !== undefined && v !== null) el[k] = v;
    } else if (v === false || v === null || v === undefined) {
      continue;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function appendChildren(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) appendChildren(el, c);
    else if (c instanceof Node) el.append(c);
    else el.append(document.createTextNode(String(c)));
  }
}

/** h('div', {class: 'x', onClick}, child, 'text', [more]) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  appendChildren(el, children);
  return el;
}

/** s('rect', {x: 1}) builds an SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    el.setAttribute(k, String(v));
  }
  appendChildren(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  appendChildren(el, children);
  return el;
}

let uid = 0;
export function nextId(prefix = 'el') {
  uid += 1;
  return `${prefix}-${uid}`;
}

// ---------- formatting ----------

function toDate(v) {
  if (v === null || v === undefined || v === '') return null;
  const d = typeof v === 'number' ? new Date(v) : new Date(String(v));
  return Number.isNaN(d.getTime()) || d.getUTCFullYear() <= 1 ? null : d;
}

const dtFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});
const dtSecFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function fmtDateTime(v, withSeconds = false) {
  const d = toDate(v);
  if (!d) return '—';
  return (withSeconds ? dtSecFormat : dtFormat).format(d);
}

export function fmtTime(v) {
  const d = toDate(v);
  return d ? timeFormat.format(d) : '—';
}

/** A <time> element showing local time, with the UTC instant as tooltip. */
export function timeEl(v, withSeconds = false) {
  const d = toDate(v);
  if (!d) return h('span', { class: 'muted', text: '—' });
  return h('time', { datetime: d.toISOString(), title: d.toISOString().replace('.000Z', 'Z') }, fmtDateTime(d, withSeconds));
}

/** "3 min ago", "in 2 days". */
export function fmtRelative(v, now = Date.now()) {
  const d = toDate(v);
  if (!d) return '—';
  const diff = d.getTime() - now;
  const abs = Math.abs(diff);
  const units = [['day', 86400e3], ['hour', 3600e3], ['minute', 60e3]];
  let out = 'just now';
  for (const [unit, ms] of units) {
    if (abs >= ms) {
      const n = Math.floor(abs / ms);
      const word = `${n} ${unit}${n === 1 ? '' : 's'}`;
      out = diff < 0 ? `${word} ago` : `in ${word}`;
      break;
    }
  }
  return out;
}

const numFormats = new Map();
export function fmtNumber(n, maxFrac = 1) {
  if (n === null || n === undefined || n === '' || Number.isNaN(Number(n))) return '—';
  if (!numFormats.has(maxFrac)) numFormats.set(maxFrac, new Intl.NumberFormat(undefined, { maximumFractionDigits: maxFrac }));
  return numFormats.get(maxFrac).format(Number(n));
}

export function humanize(code) {
  const s = String(code ?? '').replace(/[_-]+/g, ' ').trim();
  return s ? s[0].toUpperCase() + s.slice(1) : '—';
}

/** A safe external link: only http(s) URLs become links. */
export function safeLink(url, text) {
  const str = String(url ?? '');
  let ok = false;
  try {
    const u = new URL(str, location.href);
    ok = u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    ok = false;
  }
  if (!str) return h('span', { class: 'muted', text: '—' });
  if (!ok) return h('span', { class: 'mono', text: str });
  return h('a', { href: str, target: '_blank', rel: 'noopener noreferrer', class: 'link-break' }, text || str);
}

// ---------- components ----------

export function badge(text, tone = 'neutral') {
  return h('span', { class: `badge badge-${tone}`, text });
}

export function yesNo(v, yes = 'On', no = 'Off') {
  return v ? badge(yes, 'ok') : badge(no, 'neutral');
}

export function spinner() {
  return h('span', { class: 'spinner', 'aria-hidden': 'true' });
}

export function loading(text = 'Loading…') {
  return h('div', { class: 'loading', role: 'status', 'aria-live': 'polite' }, spinner(), h('span', { text }));
}

export function emptyState(title, text, action) {
  return h('div', { class: 'empty' },
    h('div', { class: 'empty-icon', 'aria-hidden': 'true' }),
    h('p', { class: 'empty-title', text: title }),
    text ? h('p', { class: 'empty-text', text }) : null,
    action || null);
}

/** An alert box: tone info | warn | error | ok. */
export function alertBox(tone, title, text, ...extra) {
  return h('div', { class: `alert alert-${tone}`, role: tone === 'error' ? 'alert' : 'note' },
    title ? h('p', { class: 'alert-title', text: title }) : null,
    text ? h('p', { class: 'alert-text', text }) : null,
    extra);
}

export function errorBox(err, title = 'Something went wrong') {
  const msg = err && err.message ? err.message : String(err);
  const box = alertBox('error', title, msg);
  if (err && err.code && !/^http_\d+$/.test(err.code)) box.append(h('p', { class: 'alert-code mono', text: err.code }));
  return box;
}

/** The audited-read notice, shown wherever personal data is read. */
export function auditedNote(text = 'This read is recorded in the audit log.') {
  return h('p', { class: 'audited-note' }, h('span', { class: 'icon-lock', 'aria-hidden': 'true' }), h('span', { text }));
}

export function card(opts, ...body) {
  const { title, subtitle, actions, className, id, dataset, headingLevel = 2 } = opts || {};
  const head = title || actions
    ? h('div', { class: 'card-head' },
      h('div', { class: 'card-titles' },
        title ? h(`h${headingLevel}`, { class: 'card-title', text: title }) : null,
        subtitle ? h('p', { class: 'card-subtitle', text: subtitle }) : null),
      actions ? h('div', { class: 'card-actions' }, actions) : null)
    : null;
  return h('section', { class: ['card', className], id, dataset }, head, h('div', { class: 'card-body' }, body));
}

export function pageHeader(title, description, actions) {
  return h('header', { class: 'page-head' },
    h('div', { class: 'page-titles' },
      h('h1', { class: 'page-title', text: title, tabindex: '-1' }),
      description ? h('p', { class: 'page-desc', text: description }) : null),
    actions ? h('div', { class: 'page-actions' }, actions) : null);
}

export function button(label, props = {}) {
  const { variant = 'secondary', size, class: extra, ...rest } = props;
  return h('button', { type: 'button', ...rest, class: ['btn', `btn-${variant}`, size ? `btn-${size}` : null, extra], text: label });
}

/** Disables a button while fn runs, showing a spinner. */
export async function busy(btn, fn) {
  const label = btn.textContent;
  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  replace(btn, spinner(), h('span', { text: label }));
  try {
    return await fn();
  } finally {
    btn.disabled = false;
    btn.removeAttribute('aria-busy');
    btn.textContent = label;
  }
}

/**
 * table(columns, rows, opts): columns are {label, render(row) → node|string,
 * numeric, className}; opts.onRowClick(row) makes rows activatable;
 * opts.rowClass(row) adds classes. Wrapped so it scrolls horizontally.
 */
export function table(columns, rows, opts = {}) {
  const thead = h('thead', null, h('tr', null, columns.map((c) =>
    h('th', { scope: 'col', class: [c.numeric ? 'num' : null, c.className] }, c.label))));
  const tbody = h('tbody');
  fillBody(tbody, columns, rows, opts);
  const t = h('table', { class: ['table', opts.onRowClick ? 'table-clickable' : null, opts.className] },
    opts.caption ? h('caption', { class: 'sr-only', text: opts.caption }) : null, thead, tbody);
  const wrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': opts.caption || 'Table' }, t);
  wrap.update = (newRows) => fillBody(clear(tbody), columns, newRows, opts);
  return wrap;
}

function fillBody(tbody, columns, rows, opts) {
  for (const row of rows) {
    const tr = h('tr', { class: opts.rowClass ? opts.rowClass(row) : null });
    for (const c of columns) {
      let v = c.render ? c.render(row) : row[c.key];
      if (v === undefined || v === null || v === '') v = h('span', { class: 'muted', text: '—' });
      tr.append(h('td', { class: [c.numeric ? 'num' : null, c.className] }, v));
    }
    if (opts.onRowClick) {
      tr.tabIndex = 0;
      tr.addEventListener('click', (e) => {
        if (e.target.closest('a, button, input, select, textarea')) return;
        opts.onRowClick(row, tr);
      });
      tr.addEventListener('keydown', (e) => {
        if (e.target !== tr) return;
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          opts.onRowClick(row, tr);
        }
      });
    }
    tbody.append(tr);
  }
}

/** A definition list from [label, value] pairs. */
export function dl(pairs) {
  return h('dl', { class: 'dl' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', { text: k }), h('dd', null, v ?? '—')]));
}

export function field(label, control, hint, opts = {}) {
  if (!control.id) control.id = nextId('f');
  const hintEl = hint ? h('p', { class: 'field-hint', id: control.id + '-hint', text: hint }) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: ['field', opts.className] }, h('label', { for: control.id, class: 'field-label', text: label }), control, hintEl);
}

/** A checkbox styled as a switch, with a label and a description. */
export function toggle(label, props, description) {
  const input = h('input', { type: 'checkbox', class: 'switch-input', role: 'switch', ...props });
  if (!input.id) input.id = nextId('t');
  return h('div', { class: 'toggle-row' },
    h('div', { class: 'toggle-text' },
      h('label', { for: input.id, class: 'toggle-label', text: label }),
      description ? h('p', { class: 'field-hint', text: description }) : null),
    input);
}

export function select(options, props = {}) {
  const el = h('select', { class: 'input', ...props });
  for (const o of options) {
    const [value, text] = Array.isArray(o) ? o : [o, o];
    el.append(h('option', { value: String(value), text }));
  }
  if (props.value !== undefined) el.value = String(props.value);
  return el;
}

/** Scrolls el into view if the browser can (smoothly unless reduced motion). */
export function reveal(el) {
  if (!el || typeof el.scrollIntoView !== 'function') return;
  const reduce = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  el.scrollIntoView({ behavior: reduce ? 'auto' : 'smooth', block: 'nearest' });
}

// ---------- clipboard, toasts, dialogs ----------

export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // permission refused: fall back to a selection copy
  }
  const ta = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

export function copyButton(getText, label = 'Copy', props = {}) {
  const btn = button(label, { variant: 'secondary', size: 'sm', ...props });
  btn.addEventListener('click', () => {
    const text = typeof getText === 'function' ? getText() : getText;
    copyText(text).then((ok) => {
      btn.textContent = ok ? 'Copied' : 'Select and copy';
      btn.classList.toggle('btn-copied', ok);
      setTimeout(() => {
        btn.textContent = label;
        btn.classList.remove('btn-copied');
      }, 1600);
    }, () => {});
  });
  return btn;
}

/** A read-only value with a copy button (secrets, UserSigs, hashes). */
export function copyField(value, opts = {}) {
  const { label = 'Value', id, multiline = false } = opts;
  const input = multiline
    ? h('textarea', { class: 'input mono copy-value', readonly: true, rows: '4', id, spellcheck: 'false', 'aria-label': label })
    : h('input', { class: 'input mono copy-value', readonly: true, id, spellcheck: 'false', 'aria-label': label });
  input.value = value;
  input.addEventListener('focus', () => input.select());
  return h('div', { class: 'copy-field' }, input, copyButton(() => input.value, 'Copy', { 'aria-label': `Copy ${label}` }));
}

/** The secret-shown-once block. */
export function secretReveal(secret, { title = 'Secret key', id } = {}) {
  return h('div', { class: 'secret-reveal' },
    alertBox('warn', 'Copy the secret key now',
      'This is the only time it is shown: Parley stores it sealed and never displays it again. Keep it on your server (it signs UserSigs) and never ship it in a client app.'),
    field(title, copyField(secret, { label: title, id })));
}

export function toast(message, tone = 'ok') {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { id: 'toasts', class: 'toasts', 'aria-live': 'polite', role: 'status' });
    document.body.append(region);
  }
  const t = h('div', { class: `toast toast-${tone}`, text: message });
  region.append(t);
  setTimeout(() => t.classList.add('toast-out'), 3600);
  setTimeout(() => t.remove(), 4000);
}

/**
 * confirmDialog resolves true when the operator confirms. Built on <dialog>
 * (focus trapped, Escape cancels).
 */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = false, details }) {
  return new Promise((resolve) => {
    const titleId = nextId('dlg');
    const ok = button(confirmLabel, { variant: danger ? 'danger' : 'primary', id: 'confirm-ok' });
    const cancel = button('Cancel', { variant: 'secondary', id: 'confirm-cancel' });
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { class: 'dialog-title', id: titleId, text: title }),
      h('p', { class: 'dialog-text', text: message }),
      details || null,
      h('div', { class: 'dialog-actions' }, cancel, ok));
    let result = false;
    ok.addEventListener('click', () => {
      result = true;
      dialog.close();
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    document.body.append(dialog);
    if (typeof dialog.showModal === 'function') {
      dialog.showModal();
      cancel.focus();
    } else {
      resolve(window.confirm(message));
      dialog.remove();
    }
  });
}

/**
 * guard runs an async UI action and shows its error in `into` (or a toast);
 * aborted requests are ignored. It never rejects.
 */
export async function guard(fn, into) {
  try {
    return await fn();
  } catch (err) {
    if (isAbort(err)) return undefined;
    if (into) replace(into, errorBox(err));
    else toast(err && err.message ? err.message : String(err), 'error');
    return undefined;
  }
}
