// Parley developer console: login, the shell (navigation, app selector,
// operator), and a hash router that mounts one view at a time.
// Views live in views/*.js; every request goes through api() (api.js).

import { api, isAbort, onUnauthorized, encodeQuery } from './api.js';
import { h, clear, replace, errorBox, emptyState, alertBox, toast } from './dom.js';
import { appsList, appDetail } from './views/apps.js';
import { roomsView } from './views/rooms.js';
import { qualityView } from './views/quality.js';
import { usageView } from './views/usage.js';
import { policiesView, disclosureView, consentView, dsrView } from './views/privacy.js';
import { auditView, retentionView } from './views/compliance.js';
import { operatorsView } from './views/operators.js';

// ---------- state exposed to tests ----------

const pc = { ready: false, route: null, state: 'loading', operator: null };
window.parleyConsole = pc;

// ---------- routes ----------

// scoped: the view works on the app chosen in the selector (?app=ID).
const ROUTES = [
  { path: '/apps', title: 'Apps', group: 'Build', perm: 'apps.read', icon: 'apps', view: appsList },
  { path: '/rooms', title: 'Live rooms', group: 'Build', perm: 'apps.read', icon: 'rooms', scoped: true, view: roomsView },
  { path: '/quality', title: 'Quality', group: 'Build', perm: 'apps.read', icon: 'quality', scoped: true, view: qualityView },
  { path: '/usage', title: 'Usage', group: 'Build', perm: 'apps.read', icon: 'usage', scoped: true, view: usageView },
  { path: '/policies', title: 'Policies', group: 'Privacy', perm: 'apps.read', icon: 'policies', scoped: true, view: policiesView },
  { path: '/disclosure', title: 'Disclosure', group: 'Privacy', perm: 'apps.read', icon: 'disclosure', scoped: true, view: disclosureView },
  { path: '/consent', title: 'Consent', group: 'Privacy', perm: 'apps.read', icon: 'consent', scoped: true, view: consentView },
  { path: '/dsr', title: 'Data requests', group: 'Privacy', perm: 'personal_data.read', icon: 'dsr', scoped: true, view: dsrView },
  { path: '/audit', title: 'Audit log', group: 'Compliance', perm: 'audit.read', icon: 'audit', view: auditView },
  { path: '/retention', title: 'Retention', group: 'Compliance', perm: 'retention.read', icon: 'retention', view: retentionView },
  { path: '/operators', title: 'Operators', group: 'Compliance', perm: 'operators.manage', icon: 'operators', view: operatorsView },
];
const DETAIL = { path: '/apps/:id', title: 'App', perm: 'apps.read', navPath: '/apps', view: appDetail, detail: true };
const DEFAULT_PATH = '/apps';

const $ = (id) => document.getElementById(id);

const state = {
  me: null, // {operator, permissions}
  perms: new Set(),
  apps: null, // [{sdkappid, name, ...}] or null when unavailable
  appsError: null,
  lastApp: null,
  view: null, // {controller, timers, route}
  started: false,
};

const LAST_APP_KEY = 'parley.console.app';
const SESSION_HINT_KEY = 'parley.console.session';

function storageGet(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}
function storageSet(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    // storage disabled: the console still works, it just forgets
  }
}

// A session hint (the cookie itself is HttpOnly): the page asks /me at
// start only when it logged in before in this browser, so a first visit
// makes no request that answers 401 (which the browser would log).
function hasSessionHint() {
  const raw = storageGet(SESSION_HINT_KEY);
  if (!raw) return false;
  const t = Date.parse(raw);
  return Number.isNaN(t) || t > Date.now();
}

// ---------- hash parsing ----------

function parseHash() {
  let raw = location.hash.replace(/^#/, '');
  if (!raw.startsWith('/')) raw = '/' + raw;
  const q = raw.indexOf('?');
  const path = (q >= 0 ? raw.slice(0, q) : raw).replace(/\/+$/, '') || DEFAULT_PATH;
  const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  return { path, params };
}

function hashFor(path, params) {
  const obj = params instanceof URLSearchParams ? Object.fromEntries(params) : params || {};
  const qs = encodeQuery(obj);
  return '#' + path + (qs ? '?' + qs : '');
}

function matchRoute(path) {
  const r = ROUTES.find((x) => x.path === path);
  if (r) return { route: r, args: {} };
  const m = /^\/apps\/([^/]+)$/.exec(path);
  if (m) return { route: DETAIL, args: { id: decodeURIComponent(m[1]) } };
  return null;
}

/** navigate changes the route; a route equal to the current one re-renders. */
function navigate(path, params, { replace: rep = false } = {}) {
  const target = hashFor(path, params);
  if (target === location.hash) {
    renderRoute();
    return;
  }
  if (rep) {
    history.replaceState(null, '', target);
    renderRoute();
  } else {
    location.hash = target;
  }
}

// ---------- app selector ----------

function appsById() {
  return new Map((state.apps || []).map((a) => [Number(a.sdkappid), a]));
}

function defaultApp() {
  const apps = state.apps || [];
  if (!apps.length) return null;
  const ids = apps.map((a) => Number(a.sdkappid));
  const last = Number(state.lastApp || storageGet(LAST_APP_KEY));
  return ids.includes(last) ? last : ids[0];
}

function fillAppSelect(selected) {
  const sel = $('app-select');
  clear(sel);
  const apps = state.apps || [];
  if (!apps.length) {
    sel.append(h('option', { value: '', text: state.appsError ? 'Apps unavailable' : 'No apps yet' }));
    sel.disabled = true;
    return;
  }
  sel.disabled = false;
  const known = appsById();
  if (selected && !known.has(Number(selected))) {
    sel.append(h('option', { value: String(selected), text: `${selected} (unknown)` }));
  }
  for (const a of apps) {
    sel.append(h('option', { value: String(a.sdkappid), text: `${a.name || 'Unnamed'} · ${a.sdkappid}` }));
  }
  if (selected) sel.value = String(selected);
}

async function loadApps() {
  if (!state.perms.has('apps.read')) {
    state.apps = [];
    state.appsError = null;
    return;
  }
  try {
    const res = await api('/v1/console/apps');
    state.apps = Array.isArray(res && res.apps) ? res.apps : [];
    state.appsError = null;
  } catch (err) {
    if (isAbort(err)) return;
    state.apps = state.apps || [];
    state.appsError = err;
  }
}

function rememberApp(id) {
  if (!id) return;
  state.lastApp = id;
  storageSet(LAST_APP_KEY, String(id));
}

// ---------- navigation ----------

const ICONS = {
  apps: 'M4 4h6v6H4zM14 4h6v6h-6zM4 14h6v6H4zM14 14h6v6h-6z',
  rooms: 'M3 7h13v10H3zM16 10l5-3v10l-5-3',
  quality: 'M3 17l5-6 4 4 8-9',
  usage: 'M5 20V11M10 20V5M15 20v-7M20 20V8',
  policies: 'M6 3h9l4 4v14H6zM14 3v5h5M9 13h7M9 17h7',
  disclosure: 'M12 3l8 4v5c0 5-3.5 8-8 9-4.5-1-8-4-8-9V7z',
  consent: 'M5 12l4 4 10-10',
  dsr: 'M4 5h16v11H8l-4 4zM8 9h8M8 12h5',
  audit: 'M12 3v18M5 8h14M7 8l-3 7h6zM17 8l-3 7h6z',
  retention: 'M12 7v5l3 3M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z',
  operators: 'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21c0-4 3-6 7-6s7 2 7 6M17 11a3 3 0 1 0 0-6M22 21c0-3-2-5-5-5.5',
};

function navIcon(name) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'nav-icon');
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(NS, 'path');
  p.setAttribute('d', ICONS[name] || ICONS.apps);
  svg.append(p);
  return svg;
}

function buildNav() {
  const nav = clear($('nav'));
  let group = null;
  let list = null;
  for (const r of ROUTES) {
    if (r.group !== group) {
      group = r.group;
      const gid = 'nav-group-' + group.toLowerCase();
      list = h('ul', { class: 'nav-list', 'aria-labelledby': gid });
      nav.append(h('p', { class: 'nav-group', id: gid, text: group }), list);
    }
    const allowed = state.perms.has(r.perm);
    const a = h('a', {
      class: ['nav-link', allowed ? null : 'nav-link-locked'],
      href: '#' + r.path,
      dataset: { route: r.path },
      id: 'nav-' + r.path.slice(1),
      title: allowed ? null : `Your role lacks ${r.perm}`,
    }, navIcon(r.icon), h('span', { class: 'nav-text', text: r.title }),
    allowed ? null : h('span', { class: 'nav-lock', text: 'locked' }));
    list.append(h('li', null, a));
  }
}

function updateNav(activePath, app) {
  for (const a of document.querySelectorAll('#nav .nav-link')) {
    const r = ROUTES.find((x) => x.path === a.dataset.route);
    a.href = hashFor(r.path, r.scoped && app ? { app } : null);
    if (r.path === activePath) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function setNavOpen(open) {
  const shell = $('shell');
  shell.classList.toggle('nav-open', open);
  $('nav-toggle').setAttribute('aria-expanded', String(open));
  $('nav-toggle').setAttribute('aria-label', open ? 'Close navigation' : 'Open navigation');
  $('nav-backdrop').hidden = !open;
}

// ---------- views ----------

function teardownView() {
  const v = state.view;
  if (!v) return;
  state.view = null;
  v.controller.abort();
  for (const t of v.timers) clearInterval(t);
  for (const fn of v.cleanups) {
    try {
      fn();
    } catch {
      // a view's cleanup must not break navigation
    }
  }
}

let renderSeq = 0;

async function renderRoute() {
  if (!state.me) return;
  const seq = ++renderSeq;
  teardownView();
  setNavOpen(false);
  const { path, params } = parseHash();
  const matched = matchRoute(path);
  if (!matched) {
    history.replaceState(null, '', hashFor(DEFAULT_PATH));
    renderRoute();
    return;
  }
  const { route, args } = matched;

  // The app the view works on: ?app=, else the last one used, else the first.
  let app = null;
  if (route.scoped) {
    const fromUrl = Number(params.get('app'));
    app = Number.isInteger(fromUrl) && fromUrl > 0 ? fromUrl : defaultApp();
    if (app && String(app) !== params.get('app')) {
      params.set('app', String(app));
      history.replaceState(null, '', hashFor(path, params));
    }
    if (app && !appsById().has(app) && state.perms.has('apps.read')) {
      await loadApps(); // created elsewhere since the page loaded?
      if (seq !== renderSeq) return;
    }
  } else if (route.detail) {
    const id = Number(args.id);
    app = Number.isInteger(id) && id > 0 ? id : null;
  }
  if (app) rememberApp(app);

  pc.ready = false;
  pc.route = route.detail ? path : route.path;
  const controller = new AbortController();
  const view = { controller, timers: [], cleanups: [], route };
  state.view = view;

  updateNav(route.navPath || route.path, app || state.lastApp);
  $('app-picker').hidden = !(route.scoped || route.detail) || !state.perms.has('apps.read');
  fillAppSelect(app);
  document.title = `${route.title} · Parley Console`;

  const outlet = $('view');
  const root = h('div', { class: 'view-inner', dataset: { view: (route.navPath || route.path).slice(1) } });
  replace(outlet, root);

  const ctx = {
    root,
    path,
    params,
    args,
    app,
    get apps() {
      return state.apps || [];
    },
    appInfo: app ? appsById().get(app) || null : null,
    me: state.me,
    can: (perm) => state.perms.has(perm),
    role: state.me && state.me.operator ? state.me.operator.role : '',
    signal: controller.signal,
    navigate,
    hashFor,
    alive: () => state.view === view,
    every(ms, fn) {
      const t = setInterval(() => {
        if (state.view !== view || document.hidden) return;
        Promise.resolve().then(fn).catch(() => {});
      }, ms);
      view.timers.push(t);
    },
    onLeave(fn) {
      view.cleanups.push(fn);
    },
    refreshApps: async () => {
      await loadApps();
      if (state.view === view) fillAppSelect(app);
      return state.apps || [];
    },
  };

  try {
    if (!state.perms.has(route.perm)) {
      root.append(h('div', { class: 'page-head' }, h('h1', { class: 'page-title', text: route.title, tabindex: '-1' })),
        alertBox('warn', 'Not available for your role',
          `Your role (${ctx.role || 'unknown'}) lacks the permission ${route.perm}. See docs/operators.md for what each role may do.`));
    } else if (route.scoped && !app) {
      root.append(h('div', { class: 'page-head' }, h('h1', { class: 'page-title', text: route.title, tabindex: '-1' })));
      if (state.appsError) root.append(errorBox(state.appsError, 'Could not load the apps'));
      else {
        root.append(emptyState('No app yet', 'Create an app first: this view works on one app at a time.',
          h('a', { class: 'btn btn-primary', href: '#/apps', text: 'Go to Apps' })));
      }
    } else {
      await route.view(ctx);
    }
  } catch (err) {
    if (!isAbort(err) && state.view === view) root.append(errorBox(err));
  }
  if (state.view === view) {
    pc.ready = true;
    if (state.started && document.activeElement === document.body) {
      const h1 = root.querySelector('h1');
      if (h1) h1.focus({ preventScroll: true });
    }
    state.started = true;
  }
}

// ---------- login / shell ----------

function showOnly(which) {
  $('boot').hidden = which !== 'boot';
  $('login').hidden = which !== 'login';
  $('shell').hidden = which !== 'shell';
  pc.state = which;
}

function showLogin(message) {
  teardownView();
  state.me = null;
  state.perms = new Set();
  pc.operator = null;
  pc.route = null;
  showOnly('login');
  const err = $('login-error');
  err.textContent = message || '';
  err.hidden = !message;
  $('login-password').value = '';
  $('login-submit').disabled = false;
  $('login-submit').textContent = 'Sign in';
  const name = $('login-name');
  (name.value ? $('login-password') : name).focus();
  pc.ready = true;
}

async function enterShell(me) {
  state.me = me;
  state.perms = new Set(Array.isArray(me.permissions) ? me.permissions : []);
  const op = me.operator || {};
  pc.operator = { name: op.name, role: op.role };
  $('operator-name').textContent = op.name || 'operator';
  $('operator-role').textContent = op.role || '';
  $('operator-avatar').textContent = (op.name || '?').slice(0, 1).toUpperCase();
  buildNav();
  await loadApps();
  if (!state.me) return;
  showOnly('shell');
  if (!location.hash || location.hash === '#' || location.hash === '#/') {
    history.replaceState(null, '', hashFor(DEFAULT_PATH));
  }
  await renderRoute();
}

async function onLoginSubmit(e) {
  e.preventDefault();
  const nameEl = $('login-name');
  const pwEl = $('login-password');
  const err = $('login-error');
  const btn = $('login-submit');
  const name = nameEl.value.trim();
  const password = pwEl.value;
  err.hidden = true;
  if (!name || !password) {
    err.textContent = !name ? 'Enter your operator name.' : 'Enter your password.';
    err.hidden = false;
    (!name ? nameEl : pwEl).focus();
    return;
  }
  btn.disabled = true;
  btn.textContent = 'Signing in…';
  pc.ready = false;
  try {
    const res = await api('/v1/console/login', { method: 'POST', body: { name, password } });
    storageSet(SESSION_HINT_KEY, (res && res.expires_at) || new Date(Date.now() + 12 * 3600e3).toISOString());
    let me;
    try {
      me = await api('/v1/console/me');
    } catch (e2) {
      if (e2 && e2.status === 401) throw e2;
      me = { operator: res.operator, permissions: [] };
    }
    pwEl.value = '';
    await enterShell(me);
  } catch (e3) {
    err.textContent = e3 && e3.status === 401 && e3.code !== 'session_expired'
      ? 'Wrong operator name or password.'
      : (e3 && e3.message) || 'Sign-in failed.';
    if (e3 && e3.code === 'rate_limited') err.textContent = e3.message;
    err.hidden = false;
    btn.disabled = false;
    btn.textContent = 'Sign in';
    pc.ready = true;
    pwEl.focus();
    pwEl.select();
  }
}

async function logout() {
  const btn = $('logout');
  btn.disabled = true;
  try {
    await api('/v1/console/logout', { method: 'POST' });
  } catch (err) {
    if (err && err.status !== 401) toast(`Log out: ${err.message}`, 'error');
  } finally {
    btn.disabled = false;
  }
  storageSet(SESSION_HINT_KEY, null);
  showLogin('');
}

function wire() {
  $('login-form').addEventListener('submit', (e) => {
    onLoginSubmit(e).catch(() => {});
  });
  $('logout').addEventListener('click', () => {
    logout().catch(() => {});
  });
  $('nav-toggle').addEventListener('click', () => setNavOpen(!$('shell').classList.contains('nav-open')));
  $('nav-backdrop').addEventListener('click', () => setNavOpen(false));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && $('shell').classList.contains('nav-open')) {
      setNavOpen(false);
      $('nav-toggle').focus();
    }
  });
  $('nav').addEventListener('click', (e) => {
    if (e.target.closest('a')) setNavOpen(false);
  });
  $('app-select').addEventListener('change', (e) => {
    const id = e.target.value;
    if (!id) return;
    rememberApp(Number(id));
    const { path } = parseHash();
    const matched = matchRoute(path);
    if (matched && matched.route.detail) navigate('/apps/' + id);
    else navigate(matched ? matched.route.path : DEFAULT_PATH, { app: id });
  });
  window.addEventListener('hashchange', () => {
    if (state.me) renderRoute().catch(() => {});
  });
  onUnauthorized(() => {
    storageSet(SESSION_HINT_KEY, null);
    if (state.me) showLogin('Your session has ended. Sign in again to continue.');
  });
  // Safety net: a stray rejection becomes a toast, not a console error.
  window.addEventListener('unhandledrejection', (e) => {
    e.preventDefault();
    if (!isAbort(e.reason)) toast((e.reason && e.reason.message) || 'Unexpected error', 'error');
  });
}

async function boot() {
  wire();
  if (!hasSessionHint()) {
    showLogin('');
    return;
  }
  showOnly('boot');
  try {
    const me = await api('/v1/console/me');
    await enterShell(me);
  } catch (err) {
    storageSet(SESSION_HINT_KEY, null);
    showLogin(err && err.status === 401 ? '' : (err && err.message) || '');
  }
}

boot().catch((err) => {
  showLogin((err && err.message) || 'The console failed to start.');
});
