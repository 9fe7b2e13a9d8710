// Privacy views: policies, disclosure documents, consent statistics and the
// data-subject request queue.

import { api, apiURL, isAbort } from '../api.js';
import {
  h, replace, card, pageHeader, table, button, busy, badge, timeEl, fmtRelative, loading, emptyState, errorBox,
  alertBox, field, toggle, select, toast, dl, auditedNote, guard, safeLink, humanize, fmtNumber, copyButton, reveal,
} from '../dom.js';
import { hbars } from '../charts.js';

// ---------- policies ----------

export async function policiesView(ctx) {
  const { root, app } = ctx;
  const canWrite = ctx.can('apps.write');
  const listSlot = h('div', { id: 'policies-list' }, loading('Loading policies…'));
  root.append(
    pageHeader('Policies', 'The privacy policy versions users consent to. A material version needs fresh consent from its effective date (consent to earlier versions stops counting).'),
    card({ title: 'Versions', id: 'policies-card' }, listSlot),
    publishCard(ctx, app, canWrite, () => load()),
  );

  async function load() {
    try {
      const res = await api(`/v1/console/apps/${app}/policies`, { signal: ctx.signal });
      if (!ctx.alive()) return;
      const ps = Array.isArray(res && res.policies) ? res.policies : [];
      if (!ps.length) {
        replace(listSlot, emptyState('No policy published', 'Publish the first version below; the consent popup shows the version in force.'));
        return;
      }
      const sorted = [...ps].sort((a, b) => String(b.effective_at || '').localeCompare(String(a.effective_at || '')));
      replace(listSlot, table([
        { label: 'Version', render: (p) => h('span', { class: 'mono strong', text: p.version }) },
        { label: 'Status', render: (p) => (p.in_force ? badge('In force', 'ok') : new Date(p.effective_at) > new Date() ? badge('Scheduled', 'accent') : badge('Superseded', 'neutral')) },
        { label: 'Material', render: (p) => (p.material ? badge('Material', 'warn') : badge('Non-material', 'neutral')) },
        { label: 'Effective', render: (p) => timeEl(p.effective_at) },
        { label: 'Published', render: (p) => timeEl(p.published_at) },
        { label: 'Summary', className: 'cell-wrap', render: (p) => p.summary || null },
        { label: 'URL', className: 'cell-wrap', render: (p) => (p.url ? safeLink(p.url) : null) },
      ], sorted, { caption: 'Policy versions', rowClass: (p) => (p.in_force ? 'row-highlight' : null) }));
    } catch (err) {
      if (isAbort(err) || !ctx.alive()) return;
      replace(listSlot, errorBox(err, 'Could not load the policies'));
    }
  }
  await load();
}

function publishCard(ctx, app, canWrite, reload) {
  const version = h('input', { class: 'input mono', id: 'policy-version', maxlength: '64', placeholder: 'e.g. 2026-12', required: true, disabled: !canWrite });
  const effective = h('input', { class: 'input', id: 'policy-effective', type: 'datetime-local', disabled: !canWrite });
  const summary = h('textarea', { class: 'input', id: 'policy-summary', rows: '3', maxlength: '4096', placeholder: 'What changed, in a sentence or two', disabled: !canWrite });
  const url = h('input', { class: 'input', id: 'policy-url', type: 'url', placeholder: 'https://example.com/privacy', disabled: !canWrite });
  const material = toggle('Material change', { id: 'policy-material', disabled: !canWrite },
    'Users must consent again from the effective date: consent to earlier versions stops counting.');
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'policy-publish', text: 'Publish version', disabled: !canWrite });
  const msg = h('div', { class: 'form-msg', 'aria-live': 'polite' });
  const form = h('form', { class: 'form', id: 'policy-form', novalidate: true },
    h('div', { class: 'form-row' },
      field('Version', version),
      field('Effective from', effective, 'Local time, not in the past; empty means now.')),
    field('Summary', summary),
    field('Policy URL', url, 'The full policy the consent popup links to.'),
    h('div', { class: 'toggles' }, material),
    msg,
    h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = version.value.trim();
    if (!v) {
      replace(msg, alertBox('error', null, 'Enter a version.'));
      version.focus();
      return;
    }
    const body = { version: v, material: material.querySelector('input').checked, summary: summary.value.trim(), url: url.value.trim() };
    if (effective.value) {
      const d = new Date(effective.value);
      if (Number.isNaN(d.getTime())) {
        replace(msg, alertBox('error', null, 'The effective date is not valid.'));
        return;
      }
      body.effective_at = d.toISOString().replace('.000Z', 'Z');
    }
    replace(msg);
    guard(() => busy(submit, async () => {
      const res = await api(`/v1/console/apps/${app}/policies`, { method: 'POST', body });
      const p = (res && res.policy) || body;
      form.reset();
      replace(msg, alertBox('ok', `Published version ${p.version}`, p.material ? 'Material: users will be asked to consent again from its effective date.' : null),
        res && res.warning ? alertBox('warn', null, res.warning) : null);
      toast(`Policy ${p.version} published`);
      await reload();
    }), msg);
  });
  return card({
    title: 'Publish a version', id: 'policy-publish-card',
    subtitle: canWrite ? 'Publishing is recorded in the audit log.' : 'Read-only: your role lacks apps.write.',
  }, form);
}

// ---------- disclosure ----------

const DEFAULT_FORMATS = {
  formats: ['text', 'markdown', 'json', 'xcprivacy', 'play-csv', 'fideslang'],
  platforms: ['android', 'ios', 'harmony', 'web', 'pc', 'go'],
  langs: ['en', 'zh'],
};
const PLATFORM_LABELS = { android: 'Android', ios: 'iOS', harmony: 'HarmonyOS', web: 'Web', pc: 'PC (Windows/macOS)', go: 'Go (server)' };
const LANG_LABELS = { en: 'English', zh: '中文 (Chinese)' };
const FORMAT_LABELS = {
  text: 'Plain text', markdown: 'Markdown', json: 'JSON', xcprivacy: 'Apple privacy manifest (xcprivacy)',
  'play-csv': 'Google Play data safety (CSV)', fideslang: 'Fideslang (YAML)',
};

export async function disclosureView(ctx) {
  const { root, app, params } = ctx;
  root.append(pageHeader('Disclosure', 'The SDK’s personal-information disclosure for this app’s configuration: what each platform’s SDK collects, why, and how long it is kept. Paste it into your privacy policy or store listing.'));
  const controls = h('div', null, loading('Loading formats…'));
  const preview = h('div', { class: 'stack', id: 'disclosure-output' });
  root.append(card({ className: 'card-form' }, controls), preview);

  let opts = DEFAULT_FORMATS;
  let note = null;
  try {
    const res = await api('/v1/console/disclosure/formats', { signal: ctx.signal });
    opts = {
      formats: Array.isArray(res && res.formats) && res.formats.length ? res.formats : DEFAULT_FORMATS.formats,
      platforms: Array.isArray(res && res.platforms) && res.platforms.length ? res.platforms : DEFAULT_FORMATS.platforms,
      langs: Array.isArray(res && res.langs) && res.langs.length ? res.langs : DEFAULT_FORMATS.langs,
      switches: Array.isArray(res && res.switches) ? res.switches.filter((sw) => sw && sw.id) : [],
    };
  } catch (err) {
    if (isAbort(err)) throw err;
    note = alertBox('warn', 'Using the built-in list of formats', err.message);
  }
  if (!ctx.alive()) return;

  const pick = (list, want, fallback) => (list.includes(want) ? want : list.includes(fallback) ? fallback : list[0]);
  const platform = select(opts.platforms.map((p) => [p, PLATFORM_LABELS[p] || p]), { id: 'disclosure-platform', value: pick(opts.platforms, params.get('platform'), 'android') });
  const lang = select(opts.langs.map((l) => [l, LANG_LABELS[l] || l]), { id: 'disclosure-lang', value: pick(opts.langs, params.get('lang'), 'en') });
  const format = select(opts.formats.map((f) => [f, FORMAT_LABELS[f] || f]), { id: 'disclosure-format', value: pick(opts.formats, params.get('format'), 'text') });
  const show = h('button', { class: 'btn btn-primary', type: 'submit', id: 'disclosure-preview-btn', text: 'Preview' });
  const download = h('a', { class: 'btn btn-secondary', id: 'disclosure-download', download: '', text: 'Download' });
  const form = h('form', { class: 'form', id: 'disclosure-form', novalidate: true },
    h('div', { class: 'form-row form-row-end' },
      field('Platform', platform), field('Language', lang), field('Format', format),
      h('div', { class: 'field field-submit' }, h('div', { class: 'btn-row' }, show, download))));

  // Optional SDK switches: not stored per app, so the operator says which
  // ones the app turns on.
  const wanted = new Set((params.get('switches') || '').split(',').filter(Boolean));
  const boxes = (opts.switches || []).map((sw) => {
    const label = (sw.label && (sw.label[lang.value] || sw.label.en || sw.label.zh)) || sw.id;
    const input = h('input', { type: 'checkbox', value: sw.id, checked: wanted.has(sw.id), class: 'check-input' });
    return h('label', { class: 'check-row', title: sw.id }, input,
      h('span', { class: 'check-text' }, h('span', { text: label }), h('code', { class: 'mono muted check-id', text: sw.id })));
  });
  const countEl = h('span', { class: 'badge badge-neutral' });
  const switchesEl = boxes.length
    ? h('details', { class: 'switches', id: 'disclosure-switches', open: wanted.size > 0 },
      h('summary', { class: 'switches-summary' }, h('span', { text: 'Optional switches the app turns on' }), countEl),
      h('p', { class: 'field-hint', text: 'Everything optional is off unless the app turns it on; tick what your app enables so the disclosure lists it.' }),
      h('div', { class: 'check-grid' }, boxes))
    : null;
  const selectedSwitches = () => boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
  const syncCount = () => {
    countEl.textContent = `${selectedSwitches().length} on`;
  };
  syncCount();
  if (switchesEl) form.append(switchesEl);
  replace(controls, note, form);

  const query = () => {
    const sw = selectedSwitches();
    return { platform: platform.value, lang: lang.value, format: format.value, switches: sw.length ? sw.join(',') : undefined };
  };
  const syncLink = () => {
    download.href = apiURL(`/v1/console/apps/${app}/disclosure`, { ...query(), download: 1 });
  };
  syncLink();
  form.addEventListener('change', () => {
    syncLink();
    syncCount();
  });

  async function render() {
    const q = query();
    replace(preview, loading('Generating the disclosure…'));
    try {
      let text = await api(`/v1/console/apps/${app}/disclosure`, { query: q, as: 'text', signal: ctx.signal });
      if (!ctx.alive()) return;
      if (q.format === 'json') {
        try {
          text = JSON.stringify(JSON.parse(text), null, 2);
        } catch {
          // shown as sent
        }
      }
      const pre = h('pre', { class: 'code-block', id: 'disclosure-preview', tabindex: '0', text });
      replace(preview, card({
        title: `${PLATFORM_LABELS[q.platform] || q.platform} · ${LANG_LABELS[q.lang] || q.lang} · ${FORMAT_LABELS[q.format] || q.format}`,
        actions: copyButton(() => text, 'Copy'),
        id: 'disclosure-preview-card',
      }, text ? pre : emptyState('Empty document', null)));
    } catch (err) {
      if (isAbort(err) || !ctx.alive()) return;
      replace(preview, errorBox(err, 'Could not generate the disclosure'));
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    history.replaceState(null, '', ctx.hashFor('/disclosure', { app, ...query() }));
    render().catch(() => {});
  });
  await render();
}

// ---------- consent ----------

export async function consentView(ctx) {
  const { root, app } = ctx;
  root.append(pageHeader('Consent', 'How users answered the consent popup for this app: counts only, no personal data.'));
  const body = h('div', { class: 'stack', id: 'consent-stats' }, loading('Loading consent statistics…'));
  root.append(body);
  if (ctx.can('personal_data.read')) root.append(ledgerCard(ctx, app));
  let st;
  try {
    st = await api(`/v1/console/apps/${app}/consent/stats`, { signal: ctx.signal });
  } catch (err) {
    if (isAbort(err)) throw err;
    replace(body, errorBox(err, 'Could not load consent statistics'));
    return;
  }
  if (!ctx.alive()) return;
  st = st || {};
  const granted = Number(st.granted) || 0;
  const withdrawn = Number(st.withdrawn) || 0;
  const byVersion = Array.isArray(st.by_version) ? st.by_version : [];
  const byPurpose = Array.isArray(st.by_purpose) ? st.by_purpose : [];
  const byMethod = Array.isArray(st.by_method) ? st.by_method : [];
  const stat = (label, value, sub, tone) => h('div', { class: ['stat', tone ? `stat-${tone}` : null] },
    h('p', { class: 'stat-label', text: label }), h('p', { class: 'stat-value', text: value }), sub ? h('p', { class: 'stat-sub', text: sub }) : null);
  const rate = granted + withdrawn > 0 ? (withdrawn / (granted + withdrawn)) * 100 : null;
  const stats = h('div', { class: 'stat-grid' },
    stat('Consents granted', fmtNumber(granted, 0), 'grant records', 'ok'),
    stat('Consents withdrawn', fmtNumber(withdrawn, 0), 'withdrawal records'),
    stat('Withdrawal share', rate === null ? '—' : `${fmtNumber(rate, 1)}%`, 'of all consent records'),
    stat('Policy versions', fmtNumber(byVersion.length, 0), 'with consent records'));
  if (granted + withdrawn === 0 && !byVersion.length) {
    replace(body, stats, emptyState('No consent records yet', 'They appear when users answer the consent popup in your app.'));
    return;
  }
  const chartCard = (title, id, rows, legend) => card({ title, id, actions: legend || null },
    rows.length ? hbars(rows, { title }) : h('p', { class: 'muted', text: 'None.' }));
  const legend = h('div', { class: 'mini-legend' },
    h('span', { class: 'mini-legend-item' }, h('span', { class: 'legend-swatch hbar-accent', 'aria-hidden': 'true' }), 'grants'),
    h('span', { class: 'mini-legend-item' }, h('span', { class: 'legend-swatch hbar-muted', 'aria-hidden': 'true' }), 'withdrawals'));
  replace(body, stats, h('div', { class: 'grid-3' },
    chartCard('By policy version', 'consent-by-version', byVersion.map((v) => ({
      label: v.version || '—',
      values: [{ value: v.grants, tone: 'accent', name: 'grants' }, { value: v.withdrawals, tone: 'muted', name: 'withdrawals' }],
    })), legend),
    chartCard('By purpose', 'consent-by-purpose', byPurpose.map((p) => ({ label: humanize(p.purpose), values: [{ value: p.grants, tone: 'accent' }] }))),
    chartCard('By method', 'consent-by-method', byMethod.map((m) => ({ label: humanize(m.method), values: [{ value: m.grants, tone: 'accent' }] })))));
}

// ledgerCard looks up one user's consent history: an audited read of
// personal data (user and device ids), so it asks for a user id first.
function ledgerCard(ctx, app) {
  const user = h('input', { class: 'input', id: 'ledger-user', autocomplete: 'off', spellcheck: 'false', maxlength: '128', placeholder: 'e.g. alice', required: true });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'ledger-submit', text: 'Show history' });
  const out = h('div', { class: 'stack', id: 'ledger-output', 'aria-live': 'polite' });
  const form = h('form', { class: 'form form-inline', id: 'ledger-form', novalidate: true },
    field('User ID', user), h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const userId = user.value.trim();
    if (!userId) {
      replace(out, alertBox('error', null, 'Enter the user ID to look up.'));
      user.focus();
      return;
    }
    replace(out);
    guard(() => busy(submit, async () => {
      const res = await api(`/v1/console/apps/${app}/consent-ledger`, { query: { user: userId, limit: 200 }, signal: ctx.signal });
      if (!ctx.alive()) return;
      const entries = Array.isArray(res && res.entries) ? res.entries : [];
      if (!entries.length) {
        replace(out, emptyState('No consent records', `Nothing in the ledger for ${userId} (never asked, or erased).`));
        return;
      }
      replace(out, table([
        { label: 'Recorded', render: (x) => timeEl(x.recorded_at, true) },
        { label: 'Action', render: (x) => badge(humanize(x.action), x.action === 'grant' ? 'ok' : 'warn') },
        { label: 'Policy', render: (x) => h('span', { class: 'mono', text: x.policy_version || '—' }) },
        { label: 'Purposes', className: 'cell-wrap', render: (x) => (x.purposes || []).map(humanize).join(', ') || null },
        { label: 'Method', render: (x) => humanize(x.method) },
        { label: 'Device', render: (x) => h('span', { class: 'mono', text: x.device_id || '—' }) },
        { label: 'Age', render: (x) => humanize(x.age_band) },
      ], entries, { caption: `Consent history of ${userId}` }));
    }), out);
  });
  return card({ title: 'Consent history of one user', subtitle: 'Every grant and withdrawal the ledger holds for a user, newest first.', id: 'ledger' },
    form, auditedNote('Each lookup is recorded in the audit log (operator and app, not the user ID).'), out);
}

// ---------- data-subject requests ----------

const STATE_TONES = { received: 'accent', verified: 'accent', processing: 'warn', completed: 'ok', refused: 'danger' };
const OPEN_STATES = new Set(['received', 'verified', 'processing']);

const SOURCE_LABELS = { rest: 'REST API', cli: 'CLI', sdk: 'SDK', system: 'System' };
function sourceLabel(s) {
  return SOURCE_LABELS[s] || humanize(s);
}

function shortId(id) {
  const s = String(id ?? '');
  return s.length > 14 ? s.slice(0, 12) + '…' : s;
}

function prettyJSON(v) {
  if (v === null || v === undefined || v === '') return '';
  if (typeof v === 'string') {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  return JSON.stringify(v, null, 2);
}

export async function dsrView(ctx) {
  const { root, app } = ctx;
  const listSlot = h('div', { id: 'dsr-list' }, loading('Loading requests…'));
  const detailSlot = h('div', { id: 'dsr-detail' });
  const reload = button('Refresh', { size: 'sm', id: 'dsr-refresh' });
  root.append(
    pageHeader('Data requests', 'Requests from users to access, export, correct or delete their personal information, with their statutory deadlines.', reload),
    auditedNote('This queue holds personal information: each read of it, and of a request, is recorded in the audit log.'),
    card({ title: 'Queue', id: 'dsr-queue' }, listSlot),
    detailSlot);

  let selected = null;
  let tableEl = null;
  let requests = [];

  async function load() {
    try {
      const res = await api(`/v1/console/apps/${app}/dsr`, { query: { limit: 200 }, signal: ctx.signal });
      if (!ctx.alive()) return;
      requests = Array.isArray(res && res.requests) ? res.requests : [];
      if (!requests.length) {
        tableEl = null;
        replace(listSlot, emptyState('No requests', 'Requests made through the SDK or the REST API appear here.'));
        return;
      }
      const now = Date.now();
      const overdue = (r) => (r.overdue !== undefined ? !!r.overdue && OPEN_STATES.has(r.state) : OPEN_STATES.has(r.state) && r.deadline && Date.parse(r.deadline) < now);
      tableEl = table([
        { label: 'Request', render: (r) => h('span', { class: 'mono', title: String(r.id), text: shortId(r.id) }) },
        { label: 'Type', render: (r) => humanize(r.type) },
        { label: 'State', render: (r) => badge(humanize(r.state), STATE_TONES[r.state] || 'neutral') },
        { label: 'Source', render: (r) => (r.source ? sourceLabel(r.source) : null) },
        { label: 'Received', render: (r) => timeEl(r.received_at) },
        {
          label: 'Deadline',
          render: (r) => {
            if (!r.deadline) return null;
            const open = OPEN_STATES.has(r.state);
            return h('span', { class: overdue(r) ? 'text-danger strong' : null },
              timeEl(r.deadline), open ? h('span', { class: 'cell-sub', text: overdue(r) ? `overdue, due ${fmtRelative(r.deadline)}` : `due ${fmtRelative(r.deadline)}` })
                : r.overdue ? h('span', { class: 'cell-sub', text: 'answered late' }) : null);
          },
        },
        { label: 'Completed', render: (r) => (r.completed_at ? timeEl(r.completed_at) : null) },
      ], requests, {
        caption: 'Data-subject requests',
        className: 'dsr-table',
        rowClass: (r) => [overdue(r) ? 'row-overdue' : null, selected === r.id ? 'row-selected' : null].filter(Boolean).join(' ') || null,
        onRowClick: (r) => {
          showDetail(r.id).catch(() => {});
        },
      });
      replace(listSlot, tableEl);
    } catch (err) {
      if (isAbort(err) || !ctx.alive()) return;
      replace(listSlot, errorBox(err, 'Could not load the requests'));
    }
  }

  async function showDetail(id) {
    selected = id;
    if (tableEl) tableEl.update(requests);
    const body = h('div', { class: 'stack' }, loading('Loading the request…'));
    const close = button('Close', { size: 'sm', variant: 'ghost' });
    close.addEventListener('click', () => {
      selected = null;
      if (tableEl) tableEl.update(requests);
      replace(detailSlot);
    });
    replace(detailSlot, card({ title: `Request ${shortId(id)}`, subtitle: String(id), actions: close, id: 'dsr-detail-card' }, body));
    reveal(detailSlot);
    await guard(async () => {
      const res = await api(`/v1/console/dsr/${encodeURIComponent(id)}`, { signal: ctx.signal });
      if (!ctx.alive() || selected !== id) return;
      const r = (res && res.request) || {};
      const refusal = r.refusal && typeof r.refusal === 'object'
        ? `${humanize(r.refusal.ground)}${r.refusal.message ? ': ' + r.refusal.message : ''}`
        : r.refusal;
      const parts = [dl([
        ['Type', humanize(r.type)],
        ['State', h('span', { class: 'chip-row' }, badge(humanize(r.state), STATE_TONES[r.state] || 'neutral'), r.overdue ? badge('Overdue', 'danger') : null)],
        ['Source', r.source ? sourceLabel(r.source) : '—'],
        r.subject ? ['Subject', h('code', { class: 'mono break', title: 'Commitment to the user id (the user is never named)', text: r.subject })] : null,
        ['Received', timeEl(r.received_at)],
        r.verified_at ? ['Verified', timeEl(r.verified_at)] : null,
        r.processing_at ? ['Processing since', timeEl(r.processing_at)] : null,
        ['Deadline', timeEl(r.deadline)],
        ['Answered', r.completed_at ? timeEl(r.completed_at) : 'open'],
        refusal ? ['Refusal', h('span', { class: 'text-danger', text: refusal })] : null,
      ])];
      const receipt = res && res.receipt;
      if (receipt) {
        let outer = null;
        try {
          outer = typeof receipt === 'string' ? JSON.parse(receipt) : receipt;
        } catch {
          outer = null;
        }
        const signedBody = outer && typeof outer.receipt === 'string' ? outer.receipt : null;
        parts.push(h('h3', { class: 'section-title', text: 'Signed receipt' }),
          h('p', { class: 'field-hint', text: 'The erasure receipt, signed with ed25519. Verify the signature over the exact receipt text (Copy gives it as stored), not over this pretty-printed copy.' }));
        if (signedBody) {
          parts.push(h('pre', { class: 'code-block', id: 'dsr-receipt', tabindex: '0', text: prettyJSON(signedBody) }),
            dl([
              ['Signature', h('code', { class: 'mono break', text: outer.signature || '—' })],
              ['Public key (in the receipt)', h('code', { class: 'mono break', text: outer.public_key || '—' })],
              res.receipt_key ? ['Server receipt key', h('span', { class: 'chip-row' }, h('code', { class: 'mono break', text: res.receipt_key }),
                outer.public_key ? (outer.public_key === res.receipt_key ? badge('Matches', 'ok') : badge('Differs', 'danger')) : null)] : null,
            ]));
        } else {
          parts.push(h('pre', { class: 'code-block', id: 'dsr-receipt', tabindex: '0', text: prettyJSON(receipt) }));
        }
        parts.push(h('div', { class: 'btn-row' }, copyButton(() => (typeof receipt === 'string' ? receipt : JSON.stringify(receipt)), 'Copy signed receipt')));
      } else {
        parts.push(h('p', { class: 'muted', text: 'No receipt: receipts are issued when an erasure completes.' }));
      }
      const proof = res && res.proof;
      if (proof && typeof proof === 'object' && Object.keys(proof).length) {
        parts.push(h('h3', { class: 'section-title', text: 'Audit-log inclusion proof' }),
          h('p', { class: 'field-hint', text: 'Proves that the receipt’s audit record is in the audit log’s Merkle tree under the signed checkpoint.' }));
        if (typeof proof.record === 'string' || Array.isArray(proof.hashes)) {
          parts.push(dl([
            ['Record number', h('span', { class: 'mono', text: String(proof.seq ?? '—') })],
            ['Audit key', proof.audit_key ? h('code', { class: 'mono break', text: proof.audit_key }) : '—'],
            ['Hashes', Array.isArray(proof.hashes) && proof.hashes.length
              ? h('ol', { class: 'hash-list' }, proof.hashes.map((x) => h('li', null, h('code', { class: 'mono break', text: x }))))
              : h('span', { class: 'muted', text: 'none (a one-record tree)' })],
          ]),
          proof.record ? h('div', { class: 'field' }, h('span', { class: 'field-label', text: 'Record' }),
            h('pre', { class: 'code-block', id: 'dsr-proof-record', tabindex: '0', text: prettyJSON(proof.record) })) : null,
          proof.checkpoint ? h('div', { class: 'field' }, h('span', { class: 'field-label', text: 'Checkpoint (signed note)' }),
            h('pre', { class: 'code-block', id: 'dsr-proof-checkpoint', tabindex: '0', text: String(proof.checkpoint) })) : null);
        }
        parts.push(h('details', { class: 'raw' }, h('summary', { text: 'Proof as JSON' }),
          h('pre', { class: 'code-block', id: 'dsr-proof', tabindex: '0', text: prettyJSON(proof) })),
          h('div', { class: 'btn-row' }, copyButton(() => JSON.stringify(proof), 'Copy proof')));
      }
      replace(body, parts);
    }, body);
  }

  reload.addEventListener('click', () => {
    busy(reload, load).catch(() => {});
  });
  await load();
}
