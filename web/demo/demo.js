// Parley demo app: consent popup, a video room with stats overlays, and a
// chat that lives in an IM Meeting group ("demo-<room>") so it survives
// reloads. Loaded as a module under a strict CSP (no inline script/style).
//
// Until the visitor agrees, this page sends nothing to the server and
// stores no identifier: the SDK is imported, but no Parley instance talks
// to the network before grantConsent() + init().

import { Parley, ParleyError } from '/sdk/parley.js';

const PURPOSES = ['rtc', 'quality', 'im', 'signaling'];
const SWITCHES = { audio_enable: true, streams_config: ['main'], 'ext.apm': true, 'ext.rts': true };
// A refusal is remembered for this tab's session only (sessionStorage, a
// timestamp, no identifier): a reload does not ask again, and nothing
// persists in the browser after a refusal.
const REFUSED_KEY = 'parley.demo.refusedAt';
const REFUSAL_QUIET_MS = 48 * 3600 * 1000;
const HISTORY_LIMIT = 50;
const MAX_CHAT_LINES = 300;
const QUALITY_NAMES = ['unknown', 'excellent', 'good', 'poor', 'bad', 'very bad', 'down'];

const body = document.body;
const SDK_APP_ID = Number(body.dataset.sdkappid);
const POLICY_VERSION = body.dataset.policyVersion || '';

const $ = (id) => document.getElementById(id);
const el = {
  consent: $('consent'),
  agree: $('consent-agree'),
  refuse: $('consent-refuse'),
  consentOpen: $('consent-open'),
  withdraw: $('withdraw'),
  intro: $('intro'),
  refusedNote: $('refused-note'),
  joinPanel: $('join-panel'),
  joinForm: $('join-form'),
  userId: $('user-id'),
  roomName: $('room-name'),
  join: $('join'),
  joinStatus: $('join-status'),
  call: $('call'),
  roomLabel: $('room-label'),
  netQuality: $('net-quality'),
  muteAudio: $('mute-audio'),
  muteVideo: $('mute-video'),
  leave: $('leave'),
  tiles: $('tiles'),
  callStatus: $('call-status'),
  chatLog: $('chat-log'),
  chatForm: $('chat-form'),
  chatInput: $('chat-input'),
  chatSend: $('chat-send'),
  tileTemplate: $('tile-template'),
};

/** Exposed for tests: the client in use, the page state and the last statistics. */
const demo = { client: null, state: 'consent', lastStats: null };
window.parleyDemo = demo;

// --- state -------------------------------------------------------------------

function setState(s) {
  demo.state = s;
  body.dataset.state = s;
  el.intro.hidden = s === 'in-room';
  el.refusedNote.hidden = s !== 'refused';
  el.joinPanel.hidden = s !== 'ready';
  el.call.hidden = s !== 'in-room';
  el.consentOpen.hidden = s !== 'refused';
  el.withdraw.hidden = s !== 'ready' && s !== 'in-room';
  if (s === 'consent') openConsent(); else closeConsent();
  if (s === 'ready') {
    if (!el.userId.value) el.userId.value = randomName();
    el.join.disabled = false;
  }
}

function openConsent() {
  if (el.consent.open) return;
  if (typeof el.consent.showModal === 'function') el.consent.showModal(); else el.consent.setAttribute('open', '');
}

function closeConsent() {
  if (!el.consent.open) return;
  if (typeof el.consent.close === 'function') el.consent.close(); else el.consent.removeAttribute('open');
}

function randomName() {
  const b = new Uint8Array(3);
  crypto.getRandomValues(b);
  return `guest-${[...b].map((x) => x.toString(36).padStart(2, '0')).join('').slice(0, 5)}`;
}

function storedGrantUsable() {
  const g = Parley.storedConsent();
  return Boolean(g && g.version === POLICY_VERSION && PURPOSES.every((p) => g.purposes.includes(p)));
}

function recentlyRefused() {
  try {
    const at = Number(sessionStorage.getItem(REFUSED_KEY));
    return at > 0 && Date.now() - at < REFUSAL_QUIET_MS;
  } catch {
    return false;
  }
}

// --- consent -----------------------------------------------------------------

el.agree.addEventListener('click', () => {
  try {
    const c = new Parley({ sdkAppId: SDK_APP_ID, switches: SWITCHES });
    c.grantConsent(POLICY_VERSION, { method: 'popup', purposes: PURPOSES });
    demo.client = c;
    try { sessionStorage.removeItem(REFUSED_KEY); } catch { /* storage off */ }
    setState('ready');
  } catch (err) {
    closeConsent();
    setState('refused');
    showStatus(el.joinStatus, `Consent could not be recorded: ${describe(err)}`, true);
  }
});

el.refuse.addEventListener('click', () => refuse());

// Escape closes the dialog: that is a refusal, never an implied consent.
el.consent.addEventListener('cancel', (ev) => {
  ev.preventDefault();
  refuse();
});

function refuse() {
  try { sessionStorage.setItem(REFUSED_KEY, String(Date.now())); } catch { /* storage off */ }
  setState('refused');
}

el.consentOpen.addEventListener('click', () => setState('consent'));

el.withdraw.addEventListener('click', async () => {
  el.withdraw.disabled = true;
  const c = demo.client || new Parley({ sdkAppId: SDK_APP_ID }); // a fresh instance only forgets what is stored
  call.leaving = true;
  try {
    await c.stop();
  } catch {
    // stop() does not fail; nothing to tell the user beyond the new state
  }
  teardownCall();
  demo.client = null;
  el.withdraw.disabled = false;
  showStatus(el.joinStatus, '');
  setState('consent');
});

// --- joining -----------------------------------------------------------------

const call = {
  client: null,
  me: '',
  room: '',
  conv: '',
  groupId: '',
  leaving: false,
  tiles: new Map(), // userId → {wrap, video, stats, sub}
  chatLoaded: false,
  chatBuffer: [],
  shown: new Set(),
  readTimer: null,
  lastRead: 0,
};

el.joinForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  join().catch((err) => showStatus(el.joinStatus, describe(err), true));
});

async function join() {
  const userId = el.userId.value.trim();
  const room = el.roomName.value.trim();
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(userId)) {
    showStatus(el.joinStatus, 'Your name: 1-32 letters, digits, "_" or "-".', true);
    el.userId.focus();
    return;
  }
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(room)) {
    showStatus(el.joinStatus, 'Room: 1-40 letters, digits, "_" or "-".', true);
    el.roomName.focus();
    return;
  }
  if (!storedGrantUsable() && !(demo.client && demo.client.consent)) {
    setState('consent');
    return;
  }
  el.join.disabled = true;
  showStatus(el.joinStatus, 'Getting credentials…');
  let client = null;
  try {
    const res = await fetch('/demo/usersig', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user_id: userId }),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data.error && data.error.message) || `UserSig request failed (HTTP ${res.status})`);
    const agreedHere = Boolean(demo.client && demo.client.consent);
    client = new Parley({ sdkAppId: data.sdkappid, userId, userSig: data.user_sig, switches: SWITCHES });
    // the grant is normally read from storage; without storage, carry over
    // the consent given in this page's popup
    if (!Parley.storedConsent() && agreedHere) client.grantConsent(POLICY_VERSION, { method: 'popup', purposes: PURPOSES });
    demo.client = client;
    Object.assign(call, { client, me: userId, room, groupId: `demo-${room}`, conv: `group:demo-${room}`, leaving: false });
    wire(client);
    await client.init();
    showStatus(el.joinStatus, 'Entering the room…');
    await client.enterRoom({ strRoomId: room, scene: 'videocall', role: 'anchor' });
  } catch (err) {
    el.join.disabled = false;
    if (client && err instanceof ParleyError && (err.code === -4008 || err.code === -4010)) {
      showStatus(el.joinStatus, '');
      setState('consent');
      return;
    }
    throw err;
  }
  showStatus(el.joinStatus, '');
  el.roomLabel.textContent = `Room ${room}`;
  const local = ensureTile(userId, true);
  const notes = [];
  try {
    attach(local.video, await client.startLocalAudio());
  } catch (err) {
    notes.push(`microphone: ${describe(err)}`);
  }
  try {
    attach(local.video, await client.startLocalVideo({ simulcast: true }));
  } catch (err) {
    notes.push(`camera: ${describe(err)}`);
  }
  updateMuteButtons();
  showStatus(el.callStatus, notes.length ? `Joined without ${notes.join('; ')}` : '', notes.length > 0);
  setState('in-room');
  startChat(client).catch((err) => systemLine(`Chat unavailable: ${describe(err)}`));
}

function wire(client) {
  client.on('userEnter', ({ userId }) => ensureTile(userId, false));
  client.on('userLeave', ({ userId }) => removeTile(userId));
  client.on('remoteStream', ({ userId, streamType, stream }) => {
    const t = ensureTile(userId, false);
    if (streamType === 'sub') attachSub(t, stream); else attach(t.video, stream);
  });
  client.on('remoteStreamRemoved', ({ userId, streamType, stream }) => {
    const t = call.tiles.get(userId);
    if (t && streamType === 'sub' && stream.getTracks().length === 0 && t.sub) {
      t.sub.remove();
      t.sub = null;
    }
  });
  client.on('availability', ({ userId, kind, streamType, available }) => {
    const t = call.tiles.get(userId);
    if (!t || streamType !== 'main') return;
    t.wrap.querySelector(kind === 'audio' ? '.mic-off' : '.cam-off').hidden = available;
  });
  client.on('statistics', (st) => {
    if (client !== call.client) return;
    demo.lastStats = st;
    updateStats(st);
  });
  client.on('networkQuality', ({ local }) => {
    el.netQuality.dataset.quality = String(local);
    el.netQuality.textContent = `network: ${QUALITY_NAMES[local] || 'unknown'}`;
  });
  client.on('message', (m) => {
    if (m.conv !== call.conv || client !== call.client) return;
    if (!call.chatLoaded) call.chatBuffer.push(m); else chatLine(m);
  });
  client.on('exitRoom', ({ reason, detail }) => {
    if (call.leaving || client !== call.client) return;
    const why = { 1: 'you were removed from the room', 2: 'the room was closed', 3: 'you joined from another tab or device', 4: 'the server is shutting down', '-1': 'the connection was lost' }[reason];
    teardownCall();
    client.logoutIM().catch(() => { /* already gone */ });
    setState('ready');
    showStatus(el.joinStatus, `You left the room: ${why || detail || 'ended'}.`, reason !== 0);
  });
  client.on('consentRequired', () => {
    if (client !== call.client) return;
    call.leaving = true;
    client.exitRoom().catch(() => { /* already out */ });
    client.logoutIM().catch(() => { /* already gone */ });
    teardownCall();
    demo.client = null;
    setState('consent');
  });
  client.on('error', (err) => {
    if (client !== call.client) return;
    showStatus(el.callStatus, describe(err), true);
  });
}

// --- tiles -----------------------------------------------------------------------

function ensureTile(userId, local) {
  let t = call.tiles.get(userId);
  if (t) return t;
  const wrap = el.tileTemplate.content.firstElementChild.cloneNode(true);
  const video = wrap.querySelector('video');
  video.classList.add(local ? 'local' : 'remote');
  video.dataset.userId = userId;
  wrap.dataset.userId = userId;
  wrap.classList.add(local ? 'is-local' : 'is-remote');
  if (local) video.muted = true; // no echo of one's own microphone
  wrap.querySelector('.tile-name').textContent = local ? `${userId} (you)` : userId;
  const stats = wrap.querySelector('.stats');
  const unmute = wrap.querySelector('.unmute-playback');
  unmute.addEventListener('click', () => {
    video.muted = false;
    video.play().then(() => { unmute.hidden = true; }).catch(() => { /* still blocked: keep the button */ });
  });
  t = { wrap, video, stats, unmute, sub: null, local };
  call.tiles.set(userId, t);
  if (local) el.tiles.prepend(wrap); else el.tiles.append(wrap);
  el.tiles.dataset.count = String(call.tiles.size);
  return t;
}

function removeTile(userId) {
  const t = call.tiles.get(userId);
  if (!t || t.local) return;
  t.video.srcObject = null;
  t.wrap.remove();
  call.tiles.delete(userId);
  el.tiles.dataset.count = String(call.tiles.size);
}

function attach(video, stream) {
  if (video.srcObject !== stream) video.srcObject = stream;
  play(video);
}

function attachSub(t, stream) {
  if (!t.sub) {
    t.sub = document.createElement('video');
    t.sub.className = 'sub-stream';
    t.sub.autoplay = true;
    t.sub.playsInline = true;
    t.sub.muted = true;
    t.wrap.append(t.sub);
  }
  attach(t.sub, stream);
}

// Autoplay with sound may be refused until the user interacts: play muted
// and offer a button.
function play(video) {
  const p = video.play();
  if (!p || typeof p.catch !== 'function') return;
  p.catch((err) => {
    if (!err || err.name !== 'NotAllowedError' || video.muted) return;
    video.muted = true;
    video.play().catch(() => { /* shown when data arrives */ });
    const t = [...call.tiles.values()].find((x) => x.video === video);
    if (t) t.unmute.hidden = false;
  });
}

function updateStats(st) {
  const me = call.tiles.get(call.me);
  if (me) {
    const big = st.localStatistics.find((l) => l.streamType === 'big') || {};
    const small = st.localStatistics.find((l) => l.streamType === 'small') || {};
    const kbps = st.localStatistics.reduce((s, l) => s + l.videoBitrate + l.audioBitrate, 0);
    const w = big.width || small.width || 0;
    const h = big.width ? big.height : small.height || 0;
    const fps = big.frameRate || small.frameRate || 0;
    setStats(me.stats, { rtt: st.rtt, loss: st.upLoss, kbps, fps, w, h, frames: null });
  }
  for (const [userId, t] of call.tiles) {
    if (t.local) continue;
    const r = st.remoteStatistics.find((x) => x.userId === userId && x.streamType === 'big');
    if (!r) {
      setStats(t.stats, { rtt: st.rtt, loss: 0, kbps: 0, fps: 0, w: 0, h: 0, frames: 0 });
      continue;
    }
    setStats(t.stats, {
      rtt: st.rtt, loss: Math.max(r.audioPacketLoss, r.videoPacketLoss), kbps: r.videoBitrate + r.audioBitrate,
      fps: r.frameRate, w: r.width, h: r.height, frames: r.framesDecoded,
    });
  }
}

function setStats(node, s) {
  const d = node.dataset;
  d.rtt = String(s.rtt);
  d.loss = String(s.loss);
  d.bitrate = String(s.kbps);
  d.fps = String(s.fps);
  d.width = String(s.w);
  d.height = String(s.h);
  if (s.frames !== null) d.framesDecoded = String(s.frames);
  const res = s.w && s.h ? `${s.w}×${s.h}` : 'no video';
  node.textContent = `rtt ${s.rtt} ms · loss ${s.loss}% · ${s.kbps} kbps · ${s.fps} fps · ${res}`;
}

// --- controls --------------------------------------------------------------------

el.muteAudio.addEventListener('click', () => {
  const c = call.client;
  if (!c) return;
  c.muteLocalAudio(!c.audioMuted);
  updateMuteButtons();
});

el.muteVideo.addEventListener('click', () => {
  const c = call.client;
  if (!c) return;
  c.muteLocalVideo(!c.videoMuted);
  updateMuteButtons();
});

function updateMuteButtons() {
  const c = call.client;
  const a = Boolean(c && c.audioMuted);
  const v = Boolean(c && c.videoMuted);
  el.muteAudio.textContent = a ? 'Unmute mic' : 'Mute mic';
  el.muteAudio.setAttribute('aria-pressed', String(a));
  el.muteVideo.textContent = v ? 'Start camera' : 'Stop camera';
  el.muteVideo.setAttribute('aria-pressed', String(v));
  const me = call.tiles.get(call.me);
  if (me) {
    me.wrap.querySelector('.mic-off').hidden = !a;
    me.wrap.querySelector('.cam-off').hidden = !v;
  }
}

el.leave.addEventListener('click', async () => {
  const c = call.client;
  if (!c) return;
  el.leave.disabled = true;
  call.leaving = true;
  try {
    await c.exitRoom();
    await c.logoutIM();
  } catch (err) {
    showStatus(el.joinStatus, describe(err), true);
  }
  teardownCall();
  el.leave.disabled = false;
  setState('ready');
});

function teardownCall() {
  for (const t of call.tiles.values()) {
    t.video.srcObject = null;
    if (t.sub) t.sub.srcObject = null;
  }
  call.tiles.clear();
  el.tiles.replaceChildren();
  el.chatLog.replaceChildren();
  clearTimeout(call.readTimer);
  Object.assign(call, {
    client: null, conv: '', groupId: '', chatLoaded: false, chatBuffer: [], shown: new Set(), readTimer: null, lastRead: 0,
  });
  el.chatInput.disabled = true;
  el.chatSend.disabled = true;
  el.netQuality.dataset.quality = '0';
  el.netQuality.textContent = 'network: —';
  showStatus(el.callStatus, '');
}

// --- chat ------------------------------------------------------------------------

async function startChat(client) {
  const { groupId, conv } = call;
  await client.loginIM();
  try {
    await client.createGroup({ type: 'Meeting', name: groupId, groupId });
  } catch (err) {
    if (!(err instanceof ParleyError) || err.code !== 10021) throw err;
    try {
      await client.joinGroup(groupId);
    } catch (err2) {
      if (!(err2 instanceof ParleyError) || err2.code !== 10013) throw err2; // 10013: already a member
    }
  }
  if (client !== call.client) return;
  const history = await client.getHistory(conv, { limit: HISTORY_LIMIT });
  if (client !== call.client) return;
  for (const m of history.slice().reverse()) chatLine(m); // oldest first
  call.chatLoaded = true;
  for (const m of call.chatBuffer.splice(0)) chatLine(m);
  el.chatInput.disabled = false;
  el.chatSend.disabled = false;
}

el.chatForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const c = call.client;
  const text = el.chatInput.value.trim();
  if (!c || !text || !call.chatLoaded) return;
  el.chatInput.value = '';
  c.sendMessage({ groupId: call.groupId, text }).then((res) => {
    if (c !== call.client) return;
    chatLine({ conv: res.conv, seq: res.seq, sender: call.me, at: res.at, text, recalled: false, erased: false });
  }, (err) => {
    if (c !== call.client) return;
    if (!el.chatInput.value) el.chatInput.value = text;
    systemLine(`Not sent: ${describe(err)}`);
  });
});

function chatLine(m) {
  if (!Number.isInteger(m.seq) || call.shown.has(m.seq)) return;
  call.shown.add(m.seq);
  const li = document.createElement('li');
  li.className = 'chat-line';
  if (m.sender === call.me) li.classList.add('mine');
  li.dataset.seq = String(m.seq);
  const who = document.createElement('span');
  who.className = 'chat-sender';
  who.textContent = m.sender || '(deleted user)';
  const text = document.createElement('span');
  text.className = 'chat-text';
  text.textContent = m.recalled || m.erased ? '(message withdrawn)' : (m.text || '(attachment)');
  const time = document.createElement('time');
  time.className = 'chat-time';
  const at = new Date(m.at || Date.now());
  time.dateTime = at.toISOString();
  time.textContent = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  li.append(who, text, time);
  // keep seq order whatever the arrival order
  let before = null;
  for (const n of el.chatLog.children) {
    if (n.dataset.seq && Number(n.dataset.seq) > m.seq) {
      before = n;
      break;
    }
  }
  const atBottom = el.chatLog.scrollTop + el.chatLog.clientHeight >= el.chatLog.scrollHeight - 24;
  el.chatLog.insertBefore(li, before);
  while (el.chatLog.children.length > MAX_CHAT_LINES) el.chatLog.firstElementChild.remove();
  if (atBottom || m.sender === call.me) el.chatLog.scrollTop = el.chatLog.scrollHeight;
  scheduleRead(m.seq);
}

function systemLine(text) {
  const li = document.createElement('li');
  li.className = 'chat-system';
  li.textContent = text;
  el.chatLog.append(li);
  el.chatLog.scrollTop = el.chatLog.scrollHeight;
}

// Marks what was shown as read (debounced), so the next login's catch-up
// starts after it.
function scheduleRead(seq) {
  if (seq <= call.lastRead) return;
  call.lastRead = seq;
  clearTimeout(call.readTimer);
  const c = call.client;
  const conv = call.conv;
  call.readTimer = setTimeout(() => {
    if (c && c === call.client && c.imLoggedIn) c.markRead(conv, seq).catch(() => { /* best effort */ });
  }, 1000);
}

// --- helpers ---------------------------------------------------------------------

function showStatus(node, text, isError = false) {
  node.textContent = text;
  node.classList.toggle('error', Boolean(text) && isError);
}

function describe(err) {
  if (err instanceof ParleyError) return `${err.message} (${err.code})`;
  return (err && err.message) || String(err);
}

// --- start -----------------------------------------------------------------------

if (storedGrantUsable()) setState('ready');
else if (recentlyRefused()) setState('refused');
else setState('consent');
