// Apps: the list, creation (secret shown once), and one app's page:
// settings, secret rotation and the UserSig generator.

import { api, ApiError } from '../api.js';
import {
  h, replace, card, pageHeader, table, button, busy, badge, yesNo, timeEl, loading, emptyState,
  errorBox, alertBox, field, toggle, select, copyField, secretReveal, confirmDialog, toast, dl,
  auditedNote, guard, safeLink,
} from '../dom.js';

export const BILLING_MODES = [
  ['participant_minutes', 'Participant-minutes'],
  ['bandwidth', 'Bandwidth'],
];

function billingLabel(mode) {
  const m = BILLING_MODES.find(([v]) => v === mode);
  return m ? m[1] : mode || '—';
}

function appLink(a) {
  return h('a', { href: `#/apps/${encodeURIComponent(a.sdkappid)}`, class: 'link-strong', text: a.name || 'Unnamed app' });
}

// ---------- list ----------

export async function appsList(ctx) {
  const { root } = ctx;
  const canWrite = ctx.can('apps.write');
  const createSlot = h('div', { class: 'stack' });
  const listSlot = h('div', null, loading('Loading apps…'));

  const newBtn = button('New app', { variant: 'primary', id: 'app-new', disabled: !canWrite, title: canWrite ? null : 'Your role lacks apps.write' });
  newBtn.addEventListener('click', () => {
    replace(createSlot, createForm(ctx, async (created) => {
      await ctx.refreshApps();
      renderList();
      return created;
    }, () => clearCreate()));
    const input = createSlot.querySelector('#app-create-name');
    if (input) input.focus();
  });
  function clearCreate() {
    replace(createSlot);
  }

  root.append(
    pageHeader('Apps', 'Each app has an SDKAppID and a secret key that signs its UserSigs. Secret keys are never shown again after creation or rotation.', newBtn),
    createSlot,
    card({ title: 'All apps', subtitle: 'Open an app for its settings, secret rotation and the UserSig generator.' }, listSlot),
  );

  function renderList() {
    const apps = ctx.apps;
    if (!apps.length) {
      replace(listSlot, emptyState('No apps yet', canWrite ? 'Create the first app to get an SDKAppID and secret key.' : 'An operator with apps.write can create one.'));
      return;
    }
    replace(listSlot, table([
      { label: 'SDKAppID', render: (a) => h('span', { class: 'mono', text: String(a.sdkappid) }) },
      { label: 'Name', render: appLink },
      { label: 'Created', render: (a) => timeEl(a.created_at) },
      { label: 'Recording', render: (a) => yesNo(a.settings && a.settings.recording) },
      { label: 'Relay', render: (a) => yesNo(a.settings && a.settings.relay) },
      { label: 'Billing', render: (a) => billingLabel(a.settings && a.settings.billing_mode) },
      { label: 'PrivateMapKey', render: (a) => (a.settings && a.settings.enforce_private_map_key ? badge('Required', 'accent') : badge('Optional', 'neutral')) },
    ], apps, { caption: 'Apps', onRowClick: (a) => ctx.navigate(`/apps/${a.sdkappid}`), className: 'apps-table' }));
  }

  await ctx.refreshApps();
  renderList();
}

function createForm(ctx, onCreated, onCancel) {
  const name = h('input', { class: 'input', id: 'app-create-name', maxlength: '64', autocomplete: 'off', required: true, placeholder: 'e.g. Telehealth production' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'app-create-submit', text: 'Create app' });
  const cancel = button('Cancel', { variant: 'ghost' });
  const msg = h('div', { class: 'form-msg' });
  const form = h('form', { class: 'form form-inline', id: 'app-create-form', novalidate: true },
    field('App name', name, 'Shown in the console and in privacy disclosures.'),
    h('div', { class: 'form-actions' }, submit, cancel));
  const body = h('div', { class: 'stack' }, form, msg);
  const c = card({ title: 'Create an app', className: 'card-accent' }, body);
  cancel.addEventListener('click', onCancel);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = name.value.trim();
    if (!v) {
      replace(msg, alertBox('error', null, 'Enter a name for the app.'));
      name.focus();
      return;
    }
    guard(() => busy(submit, async () => {
      const res = await api('/v1/console/apps', { method: 'POST', body: { name: v } });
      const app = (res && res.app) || {};
      const secret = res && res.secret_key;
      form.hidden = true;
      replace(msg,
        alertBox('ok', `Created ${app.name || v}`, `SDKAppID ${app.sdkappid ?? '?'}`),
        field('SDKAppID', copyField(String(app.sdkappid ?? ''), { label: 'SDKAppID', id: 'app-created-id' })),
        secret ? secretReveal(secret, { title: 'Secret key', id: 'app-created-secret' }) : alertBox('warn', null, 'The server returned no secret key.'),
        h('div', { class: 'form-actions' },
          app.sdkappid ? h('a', { class: 'btn btn-primary', href: `#/apps/${app.sdkappid}`, text: 'Open app settings' }) : null,
          button('Done', { variant: 'secondary', onClick: onCancel })));
      toast(`App ${app.name || v} created`);
      await onCreated(app);
    }), msg);
  });
  return c;
}

// ---------- one app ----------

function settingsOf(app) {
  const st = { ...(app.settings || {}) };
  for (const k of ['minor_audience', 'message_retention_days']) {
    if (app[k] !== undefined && st[k] === undefined) st[k] = app[k];
  }
  return st;
}

export async function appDetail(ctx) {
  const { root, args } = ctx;
  const id = Number(args.id);
  if (!Number.isInteger(id) || id <= 0) {
    root.append(pageHeader('App'), alertBox('error', 'Not an SDKAppID', `“${args.id}” is not a valid SDKAppID.`));
    return;
  }
  const head = h('div');
  const body = h('div', { class: 'stack' }, loading('Loading the app…'));
  root.append(h('p', { class: 'crumbs' }, h('a', { href: '#/apps', text: 'Apps' }), h('span', { 'aria-hidden': 'true', text: ' / ' }), h('span', { text: String(id) })), head, body);

  let app = null;
  let fetchErr = null;
  try {
    const res = await api(`/v1/console/apps/${id}`, { signal: ctx.signal });
    app = res && res.app;
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    fetchErr = err;
    // The detail endpoint may be missing on an older server: fall back to
    // the list entry so settings are still visible.
    if (!(err instanceof ApiError) || err.code !== 'app_not_found') app = ctx.apps.find((a) => Number(a.sdkappid) === id) || null;
  }
  if (!ctx.alive()) return;
  if (!app) {
    replace(head, pageHeader(`App ${id}`));
    replace(body, fetchErr ? errorBox(fetchErr, 'Could not load the app') : emptyState('No such app', `No app with SDKAppID ${id}.`));
    return;
  }

  replace(head, pageHeader(app.name || `App ${id}`, null,
    h('div', { class: 'page-meta' },
      h('span', { class: 'meta-item' }, 'SDKAppID ', h('code', { class: 'mono', id: 'app-sdkappid', text: String(app.sdkappid ?? id) })),
      h('span', { class: 'meta-item' }, 'Created ', timeEl(app.created_at)))));

  replace(body,
    fetchErr ? errorBox(fetchErr, 'Showing the settings from the app list') : null,
    h('div', { class: 'grid-2' },
      settingsCard(ctx, app, id),
      h('div', { class: 'stack' }, usersigCard(ctx, id), callbackCard(app), quickLinks(ctx, id))),
    rotateCard(ctx, app, id));
}

function quickLinks(ctx, id) {
  const link = (path, text) => h('a', { class: 'quick-link', href: ctx.hashFor(path, { app: id }), text });
  return card({ title: 'This app in the console' },
    h('div', { class: 'quick-links' }, link('/rooms', 'Live rooms'), link('/quality', 'Quality'), link('/usage', 'Usage'),
      link('/policies', 'Policies'), link('/disclosure', 'Disclosure'), link('/consent', 'Consent')));
}

function callbackCard(app) {
  const cb = app.callback;
  if (!cb) return null;
  return card({ title: 'Event callback', subtitle: 'Webhooks for room events and incident notices (set with parley app callback).' },
    dl([
      ['Status', cb.configured ? badge('Configured', 'ok') : badge('Not configured', 'neutral')],
      ['URL', cb.url ? safeLink(cb.url) : h('span', { class: 'muted', text: 'none' })],
    ]));
}

function settingsCard(ctx, app, id) {
  const canWrite = ctx.can('apps.write');
  let current = settingsOf(app);
  const rec = toggle('Cloud recording', { id: 'setting-recording', checked: !!current.recording, disabled: !canWrite },
    'Record rooms’ audio and video on the server.');
  const relay = toggle('Relay (bypass streaming)', { id: 'setting-relay', checked: !!current.relay, disabled: !canWrite },
    'Relay rooms’ streams to a CDN for large audiences.');
  const pmk = toggle('Require PrivateMapKey', { id: 'setting-pmk', checked: !!current.enforce_private_map_key, disabled: !canWrite },
    'Entering a room needs a PrivateMapKey besides the UserSig.');
  const minors = toggle('Minor audience', { id: 'setting-minors', checked: !!current.minor_audience, disabled: !canWrite },
    'The app’s users are under 14: guardian consent for everyone, optional switches off.');
  const billing = select(BILLING_MODES, { id: 'setting-billing', disabled: !canWrite, value: current.billing_mode || 'participant_minutes' });
  const retention = h('input', {
    class: 'input', id: 'setting-retention', type: 'number', min: '0', max: '3650', step: '1', inputmode: 'numeric', disabled: !canWrite,
    placeholder: current.message_retention_days === undefined ? 'server default' : '',
  });
  if (current.message_retention_days !== undefined && current.message_retention_days !== null) retention.value = String(current.message_retention_days);

  const save = h('button', { class: 'btn btn-primary', type: 'submit', id: 'settings-save', text: 'Save changes', disabled: true });
  const reset = button('Discard', { variant: 'ghost', disabled: true });
  const msg = h('div', { class: 'form-msg', 'aria-live': 'polite' });

  const inputs = {
    recording: () => rec.querySelector('input').checked,
    relay: () => relay.querySelector('input').checked,
    enforce_private_map_key: () => pmk.querySelector('input').checked,
    minor_audience: () => minors.querySelector('input').checked,
    billing_mode: () => billing.value,
    message_retention_days: () => (retention.value === '' ? undefined : Number(retention.value)),
  };
  function changes() {
    const out = {};
    for (const [k, get] of Object.entries(inputs)) {
      const v = get();
      if (v === undefined) continue;
      const was = k === 'billing_mode' ? current[k] || 'participant_minutes' : current[k];
      if (typeof v === 'boolean' ? v !== !!was : v !== was) out[k] = v;
    }
    return out;
  }
  function refresh() {
    const n = Object.keys(changes()).length;
    save.disabled = !canWrite || n === 0;
    reset.disabled = n === 0;
  }
  function load(st) {
    current = st;
    rec.querySelector('input').checked = !!st.recording;
    relay.querySelector('input').checked = !!st.relay;
    pmk.querySelector('input').checked = !!st.enforce_private_map_key;
    minors.querySelector('input').checked = !!st.minor_audience;
    billing.value = st.billing_mode || 'participant_minutes';
    retention.value = st.message_retention_days === undefined || st.message_retention_days === null ? '' : String(st.message_retention_days);
    refresh();
  }

  const form = h('form', { class: 'form', id: 'settings-form', novalidate: true },
    h('div', { class: 'toggles' }, rec, relay, pmk, minors),
    h('div', { class: 'form-row' },
      field('Billing mode', billing, 'What usage is metered on.'),
      field('Message retention (days)', retention, 'How long instant messages are kept; 0 uses the server’s default.')),
    msg,
    h('div', { class: 'form-actions' }, save, reset));
  form.addEventListener('input', refresh);
  form.addEventListener('change', refresh);
  reset.addEventListener('click', () => {
    load(current);
    replace(msg);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = changes();
    if (!Object.keys(body).length) return;
    if (body.message_retention_days !== undefined && (!Number.isInteger(body.message_retention_days) || body.message_retention_days < 0)) {
      replace(msg, alertBox('error', null, 'Message retention must be a whole number of days.'));
      retention.focus();
      return;
    }
    replace(msg);
    guard(() => busy(save, async () => {
      const res = await api(`/v1/console/apps/${id}/settings`, { method: 'PATCH', body });
      const updated = res && res.app ? settingsOf(res.app) : { ...current, ...body };
      load(updated);
      replace(msg, alertBox('ok', 'Settings saved', 'The change is recorded in the audit log as app.settings.'));
      toast('Settings saved');
      ctx.refreshApps().catch(() => {});
    }).finally(refresh), msg);
  });

  return card({ title: 'Settings', subtitle: canWrite ? null : 'Read-only: your role lacks apps.write.', id: 'app-settings' }, form);
}

const EXPIRIES = [
  [3600, '1 hour'],
  [86400, '24 hours'],
  [7 * 86400, '7 days'],
  [30 * 86400, '30 days'],
  [180 * 86400, '180 days (maximum)'],
];

function usersigCard(ctx, id) {
  const canWrite = ctx.can('apps.write');
  const user = h('input', { class: 'input', id: 'usersig-user', autocomplete: 'off', spellcheck: 'false', maxlength: '128', placeholder: 'e.g. alice', required: true, disabled: !canWrite });
  const expiry = select(EXPIRIES, { id: 'usersig-expiry', value: 86400, disabled: !canWrite });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'usersig-generate', text: 'Generate UserSig', disabled: !canWrite });
  const out = h('div', { class: 'stack', id: 'usersig-output', 'aria-live': 'polite' });
  const form = h('form', { class: 'form', id: 'usersig-form', novalidate: true },
    h('div', { class: 'form-row' }, field('User ID', user), field('Expires after', expiry)),
    h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const userId = user.value.trim();
    if (!userId) {
      replace(out, alertBox('error', null, 'Enter the user ID to sign for.'));
      user.focus();
      return;
    }
    replace(out);
    guard(() => busy(submit, async () => {
      const res = await api(`/v1/console/apps/${id}/usersig`, { method: 'POST', body: { user_id: userId, expire_seconds: Number(expiry.value) } });
      replace(out,
        field(`UserSig for ${userId}`, copyField((res && res.user_sig) || '', { label: 'UserSig', id: 'usersig-result', multiline: true })),
        h('p', { class: 'field-hint' }, 'Expires ', timeEl(res && res.expire_at), '.'));
    }), out);
  });
  return card({ title: 'UserSig generator', subtitle: 'For testing: sign a UserSig with this app’s secret key. In production, sign on your own server.', id: 'usersig' },
    form,
    auditedNote('Generating is recorded in the audit log (operator and app, not the user ID).'),
    canWrite ? null : alertBox('info', null, 'Your role lacks apps.write, which generating needs.'),
    out);
}

function rotateCard(ctx, app, id) {
  const canWrite = ctx.can('apps.write');
  const btn = button('Rotate secret key…', { variant: 'danger', id: 'rotate-secret', disabled: !canWrite });
  const out = h('div', { class: 'stack', 'aria-live': 'polite' });
  btn.addEventListener('click', () => {
    guard(async () => {
      const ok = await confirmDialog({
        title: 'Rotate the secret key?',
        message: `A new secret key is generated for ${app.name || id} (${id}) and shown once. UserSigs must then be signed with the new key: update every server that signs them. The rotation is recorded in the audit log.`,
        confirmLabel: 'Rotate key',
        danger: true,
      });
      if (!ok || !ctx.alive()) return;
      replace(out);
      await busy(btn, async () => {
        const res = await api(`/v1/console/apps/${id}/rotate-secret`, { method: 'POST' });
        replace(out, secretReveal((res && res.secret_key) || '', { title: 'New secret key', id: 'rotated-secret' }));
        toast('Secret key rotated');
      });
    }, out);
  });
  return card({ title: 'Danger zone', className: 'card-danger', id: 'danger-zone' },
    h('div', { class: 'danger-row' },
      h('div', null, h('p', { class: 'strong', text: 'Rotate secret key' }),
        h('p', { class: 'field-hint', text: 'Replace the key that signs this app’s UserSigs. The new key is shown once.' })),
      btn),
    out);
}
