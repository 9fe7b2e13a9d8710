// Parley browser SDK (ES module, no build step, no dependencies).
//
//   import { Parley, ParleyError } from '/sdk/parley.js';
//
// The same concepts as the Go SDK (sdk/go): nothing leaves the browser
// before the user's consent (grantConsent → init → enterRoom/loginIM: the
// first WebSocket is enterRoom's or loginIM's), one signaling WebSocket
// per room session with two RTCPeerConnections (publisher: the client
// offers after `publish`; subscriber: the server offers), statistics with
// TRTC's field names every 2 s, APM telemetry only with "ext.apm" and
// consent to "quality", messaging on a connection of its own, and stop()
// withdrawing consent. docs/protocol.md is the wire contract.

import { ErrorCode, ParleyError } from './errors.js';
import { Signaler } from './signal.js';
import {
  Quality, qualityFor, collectStats, qualitySection, streamsSection, filterReport, rejectedField,
  deviceSection, EVENT_TYPES, MAX_TELEMETRY_EVENTS,
} from './stats.js';
import { Messenger, toMessage, textElements, textOf, newClientMsgId, toBase64, fromBase64 } from './im.js';

export { ErrorCode, ParleyError, Quality, qualityFor, textElements, textOf };

/** Sent as join.sdk_version and telemetry sdk.version. */
export const SDK_VERSION = 'parley-js/0.1.0';

const CONSENT_KEY = 'parley.consent';
const DEVICE_KEY = 'parley.deviceId';
const PURPOSES = ['rtc', 'quality', 'signaling', 'im', 'feedback'];
const METHODS = ['sdk', 'popup', 'device_config'];
// Optional inventory elements: each has the switch "field.<id>".
const OPTIONAL_ELEMENTS = ['device.brand', 'device.model', 'device.cpu', 'device.memory_mb', 'device.battery_pct',
  'device.screen_resolution', 'device.thread_count', 'network.type', 'network.wifi_state', 'sensor.accelerometer',
  'feedback.text', 'debug.audio_dump', 'im.device_model', 'im.push_token'];
const EXTENSIONS = ['ext.apm', 'ext.rts', 'ext.whiteboard'];
const KNOWN_SWITCHES = new Set(['audio_enable', 'streams_config', ...EXTENSIONS, ...OPTIONAL_ELEMENTS.map((id) => `field.${id}`)]);
const SCENES = { videocall: 0, live: 1, audiocall: 2, voicechatroom: 3 };
const ROLES = { anchor: 20, audience: 21 };
const ANCHOR = 20;
const EVENTS = new Set(['enterRoom', 'exitRoom', 'userEnter', 'userLeave', 'availability', 'remoteStream',
  'remoteStreamRemoved', 'roleChanged', 'statistics', 'networkQuality', 'customCmd', 'roomChat', 'message',
  'receipt', 'recalled', 'groupEvent', 'signal', 'error', 'consentRequired', 'imConnectionLost',
  'imConnectionRecovered']);
// Simulcast encodings, lowest layer first as the Go SDK (RIDs q, h, f).
const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', maxBitrate: 1_500_000 },
];
const STATS_INTERVAL_MS = 2000;
const JOIN_TIMEOUT_MS = 15_000;
const LEAVE_TIMEOUT_MS = 2000;
const WITHDRAW_TIMEOUT_MS = 500;
const TELEMETRY_TIMEOUT_MS = 5000;
const FINAL_TELEMETRY_TIMEOUT_MS = 300;
const USER_ID_RE = /^[A-Za-z0-9_-]{1,32}$/;
const STR_ROOM_RE = /^[A-Za-z0-9 !#$%&()+\-:;<=.>?@[\]^_{}|~,]{1,64}$/;
const DEVICE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

const noop = () => {};
const silentLogger = { debug: noop, info: noop, warn: noop, error: noop };

function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => { m.set(k, String(v)); },
    removeItem: (k) => { m.delete(k); },
  };
}

function defaultStorage() {
  try {
    const s = globalThis.localStorage;
    if (s) return s;
  } catch { /* storage disabled */ }
  return memoryStorage();
}

function bytesOf(s) {
  return new TextEncoder().encode(s).length;
}

function sortedUnique(list) {
  return [...new Set(list)].sort();
}

function hex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function bad(message) {
  return new ParleyError(ErrorCode.BAD_REQUEST, message);
}

/**
 * Validates a consent grant; returns the normalised record or throws.
 * @returns {{version: string, purposes: string[], method: string, grantedAt: number, ageBand?: string, guardianRef?: string}}
 */
function normaliseGrant(version, opt) {
  if (typeof version !== 'string' || version === '' || bytesOf(version) > 64) {
    throw bad('grantConsent: policyVersion must be a string of 1-64 bytes');
  }
  const purposes = Array.isArray(opt.purposes) ? sortedUnique(opt.purposes) : [];
  if (purposes.length === 0) throw bad(`grantConsent: purposes must list at least one of ${PURPOSES.join(', ')}`);
  for (const p of purposes) {
    if (!PURPOSES.includes(p)) throw bad(`grantConsent: purpose "${String(p).slice(0, 32)}" is not one of ${PURPOSES.join(', ')}`);
  }
  const method = opt.method === undefined ? 'sdk' : opt.method;
  if (!METHODS.includes(method)) throw bad(`grantConsent: method must be one of ${METHODS.join(', ')}`);
  const out = { version, purposes, method, grantedAt: Number.isInteger(opt.grantedAt) ? opt.grantedAt : Date.now() };
  if (opt.ageBand !== undefined && opt.ageBand !== '') {
    if (opt.ageBand !== 'adult' && opt.ageBand !== 'minor') throw bad('grantConsent: ageBand must be "adult" or "minor"');
    out.ageBand = opt.ageBand;
  }
  if (opt.guardianRef !== undefined && opt.guardianRef !== '') {
    if (typeof opt.guardianRef !== 'string' || bytesOf(opt.guardianRef) > 128) throw bad('grantConsent: guardianRef must be a string of at most 128 bytes');
    out.guardianRef = opt.guardianRef;
  }
  return out;
}

function readGrant(storage) {
  let raw = null;
  try {
    raw = storage.getItem(CONSENT_KEY);
  } catch {
    return null;
  }
  if (!raw) return null;
  try {
    const g = JSON.parse(raw);
    return normaliseGrant(g.version, g);
  } catch {
    return null;
  }
}

// --- SDP helpers -----------------------------------------------------------

/**
 * mid → {streamId, trackId, active} of every m-section. active means the
 * offerer sends on it (sendonly/sendrecv, port not 0).
 */
function parseSections(sdp) {
  const out = new Map();
  let cur = null;
  const flush = () => {
    if (cur && cur.mid !== null) out.set(cur.mid, cur);
  };
  for (const line of String(sdp).split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      flush();
      const parts = line.split(' ');
      cur = { mid: null, streamId: '', trackId: '', dir: 'sendrecv', port: parts[1] || '0', kind: line.slice(2).split(' ')[0] };
    } else if (cur) {
      if (line.startsWith('a=mid:')) cur.mid = line.slice(6).trim();
      else if (line.startsWith('a=msid:')) {
        const [s, t] = line.slice(7).trim().split(/\s+/);
        cur.streamId = s || '';
        cur.trackId = t || '';
      } else if (!cur.trackId && /^a=ssrc:\d+ msid:/.test(line)) {
        const [s, t] = line.replace(/^a=ssrc:\d+ msid:/, '').trim().split(/\s+/);
        cur.streamId = s || '';
        cur.trackId = t || '';
      } else if (/^a=(sendonly|recvonly|sendrecv|inactive)\s*$/.test(line)) cur.dir = line.slice(2).trim();
    }
  }
  flush();
  for (const s of out.values()) s.active = s.port !== '0' && (s.dir === 'sendonly' || s.dir === 'sendrecv');
  return out;
}

// --- media helpers -----------------------------------------------------------

async function capture(kind, constraints, screen) {
  const md = globalThis.navigator && globalThis.navigator.mediaDevices;
  const camera = kind === 'video';
  const failCode = camera ? ErrorCode.CAMERA_START_FAILED : ErrorCode.MIC_START_FAILED;
  const deniedCode = camera ? ErrorCode.CAMERA_NOT_AUTHORIZED : ErrorCode.MIC_NOT_AUTHORIZED;
  const what = screen ? 'screen capture' : camera ? 'camera' : 'microphone';
  const fn = screen ? md && md.getDisplayMedia : md && md.getUserMedia;
  if (typeof fn !== 'function') {
    throw new ParleyError(ErrorCode.UNSUPPORTED, `${what}: this browser has no ${screen ? 'getDisplayMedia' : 'getUserMedia'} (a secure context, https or localhost, is required)`);
  }
  let stream;
  try {
    stream = await fn.call(md, screen ? { video: constraints || true, audio: false } : { [kind]: constraints || true });
  } catch (err) {
    const name = err && err.name;
    const code = name === 'NotAllowedError' || name === 'SecurityError' ? deniedCode : failCode;
    throw new ParleyError(code, `${what}: ${name || 'error'}: ${(err && err.message) || 'could not start'}`, { cause: err });
  }
  const track = stream.getTracks().find((t) => t.kind === (screen ? 'video' : kind));
  if (!track) {
    for (const t of stream.getTracks()) t.stop();
    throw new ParleyError(failCode, `${what}: the browser returned no ${kind} track`);
  }
  return track;
}

// ---------------------------------------------------------------------------

/**
 * @typedef {Object} ParleyOptions
 * @property {number} [sdkAppId] the application id (required before init())
 * @property {string} [userId] 1-32 bytes of [A-Za-z0-9_-] (required before init())
 * @property {string} [userSig] the UserSig your backend signed for userId (required before init())
 * @property {string} [url] signaling URL; default ws(s)://<location.host>/v1/signal
 * @property {Record<string, boolean|string[]>} [switches] init-config switches; absent = off
 * @property {Storage} [storage] where consent and the install id are kept; default localStorage
 * @property {boolean} [telemetry] false turns APM telemetry off even with "ext.apm" (default true)
 * @property {RTCIceServer[]} [iceServers] ICE servers (default none: only the Parley server is contacted)
 * @property {{debug?: Function, info?: Function, warn?: Function, error?: Function}} [logger] receives SDK logs (never user ids or message text)
 */

/**
 * A Parley client: one user, one room at a time, plus messaging.
 */
export class Parley {
  /** The SDK version string. */
  static version = SDK_VERSION;

  #o;
  #log;
  #storage;
  #switches; // normalised: id → boolean, streams → list
  #streams; // the streams_config list ('main' | 'sub')
  #listeners = new Map();
  #closed = false;
  #inited = false;
  #consent = null;
  #guardianRequired = false;
  #deviceId = '';
  #room = null;
  #im = null;
  #imCursors = {}; // the cursors at the last logout
  #muted = { audio: false, video: false };
  /** @type {Map<string, any>} local captures by "<kind>-<streamType>" */
  #local = new Map();
  #localStream = null;

  /** @param {ParleyOptions} [options] */
  constructor(options = {}) {
    if (!options || typeof options !== 'object') throw bad('new Parley: options must be an object');
    const o = { telemetry: true, ...options };
    if (o.sdkAppId !== undefined) checkAppId(o.sdkAppId);
    if (o.userId !== undefined && !USER_ID_RE.test(String(o.userId))) {
      throw new ParleyError(ErrorCode.USER_ID_INVALID, 'userId must be 1-32 bytes of letters, digits, "_" or "-"');
    }
    if (o.url !== undefined && !/^wss?:\/\//.test(String(o.url))) throw bad('url must start with ws:// or wss://');
    this.#o = o;
    const lg = o.logger || {};
    this.#log = {
      debug: typeof lg.debug === 'function' ? lg.debug.bind(lg) : noop,
      info: typeof lg.info === 'function' ? lg.info.bind(lg) : noop,
      warn: typeof lg.warn === 'function' ? lg.warn.bind(lg) : noop,
      error: typeof lg.error === 'function' ? lg.error.bind(lg) : noop,
    };
    this.#storage = o.storage || defaultStorage();
    const sw = {};
    let streams = [];
    for (const [k, v] of Object.entries(o.switches || {})) {
      if (!KNOWN_SWITCHES.has(k)) {
        throw bad(`switches: "${k.slice(0, 64)}" is not a known switch (audio_enable, streams_config, ext.apm, ext.rts, ext.whiteboard, field.<element id>)`);
      }
      if (k === 'streams_config') {
        streams = parseStreams(v);
        sw[k] = streams.length > 0;
      } else {
        sw[k] = v === true || v === 1;
      }
    }
    this.#switches = sw;
    this.#streams = streams;
  }

  /**
   * The consent grant kept in storage, or null.
   * @param {Storage} [storage] default localStorage
   */
  static storedConsent(storage) {
    return readGrant(storage || defaultStorage());
  }

  /** The configured user id. */
  get userId() { return this.#o.userId; }

  /** The random install id (empty before init()). */
  get deviceId() { return this.#deviceId; }

  /** Whether the client is in a room. */
  get inRoom() { return Boolean(this.#room && this.#room.joined && !this.#room.ended); }

  /** The publisher RTCPeerConnection of the current room (null before the first publish). */
  get publisherPC() { return this.#room ? this.#room.pub : null; }

  /** The subscriber RTCPeerConnection of the current room (null before the server's first offer). */
  get subscriberPC() { return this.#room ? this.#room.sub : null; }

  /** Whether messaging is logged in. */
  get imLoggedIn() { return Boolean(this.#im && this.#im.loggedIn); }

  /** The consent in force for this instance (null before grantConsent/init). */
  get consent() { return this.#consent ? { ...this.#consent, purposes: [...this.#consent.purposes] } : null; }

  // --- events ---------------------------------------------------------------

  /**
   * Adds a listener.
   * @param {string} event
   * @param {(payload: any) => void} fn
   */
  on(event, fn) {
    this.#alive();
    if (!EVENTS.has(event)) throw bad(`on: unknown event "${String(event).slice(0, 32)}"`);
    if (typeof fn !== 'function') throw bad('on: listener must be a function');
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
    this.#listeners.get(event).add(fn);
    return this;
  }

  /** Removes a listener (or every listener of the event). */
  off(event, fn) {
    const set = this.#listeners.get(event);
    if (!set) return this;
    if (fn) set.delete(fn); else set.clear();
    return this;
  }

  #emit(event, payload) {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) {
      if (event === 'error') this.#log.warn(`parley: unhandled error event (${payload && payload.code}): ${payload && payload.message}`);
      return;
    }
    for (const fn of [...set]) {
      try {
        fn(payload);
      } catch (err) {
        // as an EventTarget listener: reported, without breaking the SDK
        queueMicrotask(() => { throw err; });
      }
    }
  }

  #error(err) {
    this.#emit('error', err instanceof ParleyError ? err : new ParleyError(ErrorCode.INTERNAL, String(err && err.message), { cause: err }));
  }

  #alive() {
    if (this.#closed) throw new ParleyError(ErrorCode.CLOSED, 'this Parley instance was stopped; create a new one after fresh consent');
  }

  // --- consent --------------------------------------------------------------

  /**
   * Records the end user's consent locally (storage); sends nothing.
   * @param {string} policyVersion the version of the policy the user agreed to
   * @param {{purposes: string[], method?: 'sdk'|'popup'|'device_config', ageBand?: 'adult'|'minor', guardianRef?: string}} opt
   * @returns {{version: string, purposes: string[], method: string, grantedAt: number, ageBand?: string, guardianRef?: string}}
   */
  grantConsent(policyVersion, opt = {}) {
    this.#alive();
    const g = normaliseGrant(policyVersion, { ...opt, grantedAt: undefined });
    this.#consent = g;
    this.#guardianRequired = false;
    try {
      this.#storage.setItem(CONSENT_KEY, JSON.stringify(g));
    } catch (err) {
      this.#log.warn('parley: consent could not be stored; it holds for this page only', err);
    }
    return { ...g, purposes: [...g.purposes] };
  }

  /**
   * Initialises the SDK once consent is recorded. Performs no network I/O;
   * creates the random install id (stored) on first use.
   */
  async init() {
    this.#alive();
    if (!this.#consent) this.#consent = readGrant(this.#storage);
    const c = this.#consent;
    if (!c) {
      throw new ParleyError(ErrorCode.CONSENT_REQUIRED, 'consent required: call grantConsent(policyVersion, {purposes}) after the user agreed to the privacy policy, then init()');
    }
    if ((c.ageBand === 'minor' && !c.guardianRef) || this.#guardianRequired) {
      throw new ParleyError(ErrorCode.GUARDIAN_REQUIRED, 'guardian consent required: a minor needs grantConsent(version, {ageBand: "minor", guardianRef})');
    }
    checkAppId(this.#o.sdkAppId);
    if (!USER_ID_RE.test(String(this.#o.userId || ''))) {
      throw new ParleyError(ErrorCode.USER_ID_INVALID, 'userId must be 1-32 bytes of letters, digits, "_" or "-"');
    }
    if (typeof this.#o.userSig !== 'string' || this.#o.userSig === '') {
      throw new ParleyError(ErrorCode.USER_SIG_INVALID, 'userSig is required (signed by your backend for this userId)');
    }
    if (!this.#deviceId) this.#deviceId = this.#loadDeviceId();
    this.#inited = true;
  }

  #loadDeviceId() {
    try {
      const id = this.#storage.getItem(DEVICE_KEY);
      if (id && DEVICE_ID_RE.test(id)) return id;
    } catch { /* fall through: a fresh id */ }
    const b = new Uint8Array(16);
    globalThis.crypto.getRandomValues(b);
    const id = `web-${hex(b)}`;
    try {
      this.#storage.setItem(DEVICE_KEY, id);
    } catch (err) {
      this.#log.warn('parley: install id could not be stored; a new one is made per page', err);
    }
    return id;
  }

  #ready(what) {
    this.#alive();
    if (!this.#inited || !this.#consent) {
      throw new ParleyError(ErrorCode.CONSENT_REQUIRED, `${what}: consent required: call grantConsent() and init() first`);
    }
  }

  #purposes() {
    return new Set(this.#consent ? this.#consent.purposes : []);
  }

  #needPurpose(what, purpose) {
    if (!this.#purposes().has(purpose)) {
      throw new ParleyError(ErrorCode.CONSENT_REQUIRED, `${what}: the user's consent does not include purpose "${purpose}"`);
    }
  }

  /** Whether a switch is on (minors: every field.* switch is off). */
  #switchOn(id) {
    if (id.startsWith('field.') && this.#consent && this.#consent.ageBand === 'minor') return false;
    return this.#switches[id] === true;
  }

  #wireSwitches() {
    const out = {};
    for (const id of KNOWN_SWITCHES) out[id] = this.#switchOn(id);
    return out;
  }

  #claim() {
    const c = this.#consent;
    const claim = { policy_version: c.version, purposes: [...c.purposes], method: c.method, granted_at: c.grantedAt };
    if (c.ageBand) claim.age_band = c.ageBand;
    if (c.guardianRef) claim.guardian_ref = c.guardianRef;
    return claim;
  }

  #url() {
    if (this.#o.url) return this.#o.url;
    const loc = globalThis.location;
    if (!loc || !loc.host) throw bad('url is required outside a web page');
    return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/v1/signal`;
  }

  // A -4008 or -4010 refusal: the gate closes (init() fails until fresh
  // consent) and the app hears it.
  #refused(err) {
    if (!(err instanceof ParleyError)) return;
    if (err.code === ErrorCode.CONSENT_REQUIRED) {
      this.#consent = null;
      this.#inited = false;
      try { this.#storage.removeItem(CONSENT_KEY); } catch { /* nothing stored */ }
    } else if (err.code === ErrorCode.GUARDIAN_REQUIRED) {
      this.#guardianRequired = true;
      this.#inited = false;
    } else {
      return;
    }
    this.#emit('consentRequired', { code: err.code, message: err.serverMessage || err.message });
  }

  // --- rooms ----------------------------------------------------------------

  /**
   * Enters a room. Resolves with the join time in ms (TRTC onEnterRoom).
   * @param {{roomId?: number, strRoomId?: string, scene?: string|number, role?: string|number, privateMapKey?: string}} p
   * @returns {Promise<number>}
   */
  async enterRoom(p = {}) {
    this.#ready('enterRoom');
    this.#needPurpose('enterRoom', 'rtc');
    if (this.#room) throw new ParleyError(ErrorCode.ALREADY_IN_ROOM, 'enterRoom: already in a room; exitRoom() first');
    const req = this.#joinRequest(p);
    const url = this.#url();
    const room = newRoom(req);
    this.#room = room;
    room.sig = new Signaler(url, {
      logger: this.#log,
      onFrame: (env) => this.#onRoomFrame(room, env),
      onClose: (info) => this.#onRoomClose(room, info),
    });
    let res;
    try {
      await room.sig.open();
      const env = await room.sig.request('join', req, { timeout: JOIN_TIMEOUT_MS });
      if (env.type !== 'joined' || !env.data) throw new ParleyError(ErrorCode.PROTOCOL, `join answered with "${env.type}"`);
      res = env.data;
    } catch (err) {
      room.ended = true;
      room.sig.close();
      if (this.#room === room) this.#room = null;
      this.#refused(err);
      throw err;
    }
    if (room.ended || room.sig.closed) {
      room.ended = true;
      if (this.#room === room) this.#room = null;
      throw new ParleyError(ErrorCode.CONNECTION_LOST, 'enterRoom: the connection closed right after joining');
    }
    room.joined = true;
    room.role = res.role || req.role;
    const me = this.#o.userId;
    for (const part of Array.isArray(res.participants) ? res.participants : []) {
      if (!part || part.user_id === me) continue;
      const u = userOf(room, part.user_id);
      for (const t of part.tracks || []) u.tracks.set(t.track_id, t);
      this.#emit('userEnter', { userId: part.user_id });
      for (const t of part.tracks || []) {
        room.avail.set(availKey(part.user_id, t.kind, t.stream_type), !t.muted);
        this.#emit('availability', { userId: t.user_id || part.user_id, kind: t.kind, streamType: t.stream_type, available: !t.muted });
      }
    }
    if (this.#o.telemetry !== false && this.#switchOn('ext.apm') && this.#purposes().has('quality')) {
      room.tel = { seq: 0, events: [], rejected: new Set(), deviceSent: false, disabled: false };
    }
    this.#event('enter_room');
    this.#startStats(room);
    this.#emit('enterRoom', { result: res.result });
    if (room.role === ANCHOR) {
      for (const entry of this.#local.values()) {
        this.#publish(entry).catch((err) => this.#error(err));
      }
    }
    return res.result;
  }

  #joinRequest(p) {
    const req = { sdkappid: this.#o.sdkAppId, user_id: this.#o.userId, user_sig: this.#o.userSig };
    if (p.roomId !== undefined && p.roomId !== null && p.roomId !== 0) {
      if (!Number.isInteger(p.roomId) || p.roomId < 1 || p.roomId > 4294967295) {
        throw new ParleyError(ErrorCode.ROOM_ID_INVALID, 'roomId must be an integer 1-4294967295');
      }
      req.room_id = p.roomId;
    } else if (p.strRoomId !== undefined && p.strRoomId !== '') {
      if (typeof p.strRoomId !== 'string' || !STR_ROOM_RE.test(p.strRoomId)) {
        throw new ParleyError(ErrorCode.ROOM_ID_INVALID, 'strRoomId must be 1-64 of the characters TRTC allows (letters, digits, space and !#$%&()+-:;<=.>?@[]^_{}|~,)');
      }
      req.str_room_id = p.strRoomId;
    } else {
      throw new ParleyError(ErrorCode.ROOM_ID_INVALID, 'enterRoom needs roomId (1-4294967295) or strRoomId');
    }
    const scene = p.scene === undefined ? 0 : typeof p.scene === 'string' ? SCENES[p.scene] : p.scene;
    if (!Number.isInteger(scene) || scene < 0 || scene > 3) throw bad('scene must be videocall, live, audiocall or voicechatroom (0-3)');
    req.scene = scene;
    const live = scene === 1 || scene === 3;
    let role = p.role === undefined ? undefined : typeof p.role === 'string' ? ROLES[p.role] : p.role;
    if (role === undefined) {
      if (live) throw bad('role is required in live scenes: "anchor" or "audience"');
      role = ANCHOR;
    }
    if (role !== 20 && role !== 21) throw bad('role must be "anchor" (20) or "audience" (21)');
    req.role = role;
    if (p.privateMapKey) req.private_map_key = String(p.privateMapKey);
    req.sdk_version = SDK_VERSION;
    req.device_id = this.#deviceId;
    req.platform = 'web';
    req.consent = this.#claim();
    req.switches = this.#wireSwitches();
    return req;
  }

  #onRoomFrame(room, env) {
    if (room.ended) return;
    const d = env.data || {};
    switch (env.type) {
      case 'offer':
        room.subQueue = room.subQueue.then(() => this.#answerOffer(room, d.sdp)).catch((err) => {
          if (!room.ended) this.#error(new ParleyError(ErrorCode.NEGOTIATION_FAILED, `subscriber negotiation failed: ${err.message}`, { cause: err }));
        });
        break;
      case 'candidate':
        this.#remoteCandidate(room, d);
        break;
      case 'user_enter': {
        if (d.user_id === this.#o.userId) break;
        const u = userOf(room, d.user_id);
        for (const t of d.tracks || []) u.tracks.set(t.track_id, t);
        this.#emit('userEnter', { userId: d.user_id });
        break;
      }
      case 'user_leave':
        room.users.delete(d.user_id);
        for (const [mid, r] of [...room.remoteByMid]) if (r.userId === d.user_id) this.#removeRemote(room, mid);
        for (const k of [...room.avail.keys()]) if (k.startsWith(`${d.user_id}\u0000`)) room.avail.delete(k);
        this.#emit('userLeave', { userId: d.user_id, reason: d.reason || 0 });
        break;
      case 'track_published':
        userOf(room, d.user_id).tracks.set(d.track_id, d);
        // an offer that came first left the track unmapped: map it now
        if (room.sub && room.lastSections) this.#syncRemote(room, room.sub, room.lastSections);
        break;
      case 'track_unpublished': {
        const u = room.users.get(d.user_id);
        if (u) u.tracks.delete(d.track_id);
        for (const [mid, r] of [...room.remoteByMid]) if (r.userId === d.user_id && r.trackId === d.track_id) this.#removeRemote(room, mid);
        break;
      }
      case 'availability':
        room.avail.set(availKey(d.user_id, d.kind, d.stream_type), Boolean(d.available));
        this.#emit('availability', { userId: d.user_id, kind: d.kind, streamType: d.stream_type, available: Boolean(d.available) });
        break;
      case 'role_changed':
        if (!d.user_id || d.user_id === this.#o.userId) room.role = d.role;
        this.#emit('roleChanged', { userId: d.user_id || this.#o.userId, role: d.role });
        break;
      case 'custom_cmd':
        this.#emit('customCmd', { userId: d.user_id, cmdId: d.cmd_id, seq: d.seq, data: fromBase64(d.data || '') });
        break;
      case 'room_chat': {
        const elements = Array.isArray(d.elements) ? d.elements : [];
        this.#emit('roomChat', { userId: d.user_id, seq: d.seq, at: d.at, elements, text: textOf(elements), cloudCustomData: d.cloud_custom_data || '' });
        break;
      }
      case 'exit_room':
        if (!room.leaving) this.#endRoom(room, Number.isInteger(d.reason) ? d.reason : 0, d.detail || '');
        break;
      case 'error': {
        const err = new ParleyError(Number.isInteger(d.code) ? d.code : ErrorCode.PROTOCOL, d.message || 'server error');
        err.serverMessage = d.message;
        if (err.code === ErrorCode.CONSENT_REQUIRED || err.code === ErrorCode.GUARDIAN_REQUIRED) {
          this.#refused(err);
          this.#leaveAfterRefusal(room, err);
        }
        this.#error(err);
        break;
      }
      default: // pong, ok, joined, answer without a waiting request
    }
  }

  #onRoomClose(room, info) {
    if (room.ended || room.leaving) return;
    if (!room.joined) return; // enterRoom reports it
    this.#error(new ParleyError(ErrorCode.CONNECTION_LOST, `the room's signaling connection closed (code ${info.code})`));
    this.#endRoom(room, -1, 'connection lost');
  }

  #leaveAfterRefusal(room, err) {
    if (room.ended || room.leaving) return;
    room.leaving = true;
    room.sig.request('leave', undefined, { timeout: LEAVE_TIMEOUT_MS }).catch(noop)
      .finally(() => this.#endRoom(room, 1, `consent required: ${err.serverMessage || err.message}`));
  }

  /**
   * Leaves the room: the exit_room telemetry event goes out, the server
   * confirms, local capture stops and both PeerConnections close. Resolves
   * at once when not in a room.
   */
  async exitRoom() {
    this.#alive();
    const room = this.#room;
    if (!room || room.ended) return;
    room.leaving = true;
    this.#event('exit_room');
    this.#stopLoops(room);
    if (room.tel && room.tel.events.length) {
      const rep = { seq: 0, at: Date.now(), events: room.tel.events.splice(0) };
      if (filterReport(rep, (s) => this.#switchOn(s), this.#purposes(), room.tel.rejected)) {
        rep.seq = ++room.tel.seq;
        await this.#report(room, rep, FINAL_TELEMETRY_TIMEOUT_MS);
      }
    }
    try {
      await room.sig.request('leave', undefined, { timeout: LEAVE_TIMEOUT_MS });
    } catch (err) {
      this.#log.debug('parley: leave not confirmed', err);
    }
    this.#endRoom(room, 0, '');
  }

  #stopLoops(room) {
    clearTimeout(room.statsTimer);
    room.statsTimer = null;
    room.statsStopped = true;
  }

  // Tears the room down: sockets, PeerConnections, local capture.
  #endRoom(room, reason, detail) {
    if (room.ended) return;
    room.ended = true;
    this.#stopLoops(room);
    if (this.#room === room) this.#room = null;
    room.sig.close();
    for (const mid of [...room.remoteByMid.keys()]) this.#removeRemote(room, mid);
    for (const pc of [room.pub, room.sub]) {
      if (pc) try { pc.close(); } catch { /* closed */ }
    }
    for (const entry of [...this.#local.values()]) this.#dropLocal(entry);
    this.#emit('exitRoom', { reason, detail });
  }

  /**
   * Changes the role in a live scene. Audience → anchor publishes the
   * local captures; anchor → audience stops sending them.
   * @param {'anchor'|'audience'|20|21} role
   */
  async switchRole(role) {
    this.#alive();
    const room = this.#requireRoom('switchRole');
    const r = typeof role === 'string' ? ROLES[role] : role;
    if (r !== 20 && r !== 21) throw bad('switchRole: role must be "anchor" (20) or "audience" (21)');
    await room.sig.request('switch_role', { role: r });
    room.role = r;
    if (r === ANCHOR) {
      for (const entry of this.#local.values()) await this.#publish(entry);
    } else {
      for (const entry of this.#local.values()) this.#detach(room, entry);
    }
  }

  #requireRoom(what) {
    const room = this.#room;
    if (!room || !room.joined || room.ended) throw new ParleyError(ErrorCode.NOT_IN_ROOM, `${what}: not in a room; enterRoom() first`);
    return room;
  }

  // --- PeerConnections ---------------------------------------------------------

  #newPC(room, target) {
    const PC = globalThis.RTCPeerConnection;
    if (typeof PC !== 'function') throw new ParleyError(ErrorCode.UNSUPPORTED, 'this browser has no RTCPeerConnection');
    // No ICE servers by default: the Parley server is reached directly on
    // its UDP port; STUN to a third party would leak traffic past consent.
    const pc = new PC({ iceServers: this.#o.iceServers || [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    const side = room.peers[target];
    pc.onicecandidate = (ev) => {
      if (!ev.candidate || !ev.candidate.candidate || room.ended) return;
      const c = { target, candidate: ev.candidate.candidate };
      if (ev.candidate.sdpMid !== null && ev.candidate.sdpMid !== undefined) c.sdpMid = ev.candidate.sdpMid;
      if (ev.candidate.sdpMLineIndex !== null && ev.candidate.sdpMLineIndex !== undefined) c.sdpMLineIndex = ev.candidate.sdpMLineIndex;
      // held back until our description reached the server
      if (side.localOpen) this.#sendCandidate(room, c); else side.localQueue.push(c);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' && !room.ended) {
        this.#error(new ParleyError(ErrorCode.NEGOTIATION_FAILED, `the ${target} media connection failed (ICE/DTLS)`));
      }
    };
    return pc;
  }

  #sendCandidate(room, c) {
    try {
      room.sig.send('candidate', c);
    } catch (err) {
      this.#log.debug('parley: candidate not sent', err);
    }
  }

  #openCandidates(room, target) {
    const side = room.peers[target];
    if (side.localOpen) return;
    side.localOpen = true;
    for (const c of side.localQueue.splice(0)) this.#sendCandidate(room, c);
  }

  #remoteCandidate(room, d) {
    const target = d.target === 'publisher' ? 'publisher' : 'subscriber';
    const side = room.peers[target];
    const pc = target === 'publisher' ? room.pub : room.sub;
    const init = { candidate: d.candidate, sdpMid: d.sdpMid, sdpMLineIndex: d.sdpMLineIndex };
    if (init.sdpMid === undefined && init.sdpMLineIndex === undefined) init.sdpMLineIndex = 0; // bundled: the first m-line
    if (!pc || !side.remoteSet) {
      side.remoteQueue.push(init);
      return;
    }
    pc.addIceCandidate(init).catch((err) => this.#log.debug('parley: remote candidate refused', err));
  }

  async #flushRemoteCandidates(room, target, pc) {
    const side = room.peers[target];
    side.remoteSet = true;
    for (const c of side.remoteQueue.splice(0)) {
      try {
        await pc.addIceCandidate(c);
      } catch (err) {
        this.#log.debug('parley: remote candidate refused', err);
      }
    }
  }

  // A server offer on the subscriber PeerConnection: answer it, then map
  // the transceivers the server sends on to users (msid stream id = user).
  async #answerOffer(room, sdp) {
    if (room.ended) return;
    if (typeof sdp !== 'string') throw new ParleyError(ErrorCode.PROTOCOL, 'offer without sdp');
    if (!room.sub) room.sub = this.#newPC(room, 'subscriber');
    const pc = room.sub;
    const sections = parseSections(sdp);
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await this.#flushRemoteCandidates(room, 'subscriber', pc);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (room.ended) return;
    room.sig.send('answer', { type: 'answer', sdp: pc.localDescription.sdp });
    this.#openCandidates(room, 'subscriber');
    room.lastSections = sections;
    this.#syncRemote(room, pc, sections);
  }

  #syncRemote(room, pc, sections) {
    const active = new Set();
    for (const tr of pc.getTransceivers()) {
      const mid = tr.mid;
      if (mid === null || mid === undefined) continue;
      const s = sections.get(mid);
      if (!s || !s.active || !s.streamId || s.streamId === '-') continue;
      // only tracks the room announced (a stale offer may still carry a
      // track that was unpublished, or a user who left, meanwhile)
      const u = room.users.get(s.streamId);
      const info = u && u.tracks.get(s.trackId);
      if (!info) continue;
      active.add(mid);
      const track = tr.receiver.track;
      const cur = room.remoteByMid.get(mid);
      if (cur && cur.userId === s.streamId && cur.trackId === s.trackId && cur.track === track) continue;
      if (cur) this.#removeRemote(room, mid);
      const streamType = info && info.stream_type === 'sub' ? 'sub' : 'main';
      const key = `${s.streamId}\u0000${streamType}`;
      let stream = room.remoteStreams.get(key);
      if (!stream) {
        stream = new MediaStream();
        room.remoteStreams.set(key, stream);
      }
      stream.addTrack(track);
      const layers = Array.isArray(info.layers) ? info.layers : [];
      const r = {
        userId: s.streamId, trackId: s.trackId, kind: track.kind, streamType, track, stream, key,
        // simulcast: the layer asked for (the server starts at the top),
        // the one the app wants, and the stall watch's counters
        layers, layer: layers.length - 1, want: layers.length - 1, stalled: 0, healthy: 0,
      };
      room.remoteByMid.set(mid, r);
      this.#emit('remoteStream', { userId: r.userId, streamType, kind: r.kind, trackId: r.trackId, stream, track });
    }
    for (const mid of [...room.remoteByMid.keys()]) if (!active.has(mid)) this.#removeRemote(room, mid);
  }

  #removeRemote(room, mid) {
    const r = room.remoteByMid.get(mid);
    if (!r) return;
    room.remoteByMid.delete(mid);
    try { r.stream.removeTrack(r.track); } catch { /* gone */ }
    if (r.stream.getTracks().length === 0) room.remoteStreams.delete(r.key);
    this.#emit('remoteStreamRemoved', { userId: r.userId, streamType: r.streamType, kind: r.kind, trackId: r.trackId, stream: r.stream, track: r.track });
  }

  /**
   * Picks the simulcast layer received for a remote track.
   * @param {string} userId
   * @param {string} trackId the publisher's track id (remoteStream's trackId)
   * @param {'q'|'h'|'f'} layer
   */
  async setRemoteLayer(userId, trackId, layer) {
    this.#alive();
    const room = this.#requireRoom('setRemoteLayer');
    if (typeof layer !== 'string' || layer === '' || layer.length > 16) throw bad('setRemoteLayer: layer must be a RID such as "q", "h" or "f"');
    await room.sig.request('set_layer', { user_id: String(userId), track_id: String(trackId), layer });
    for (const r of room.remoteByMid.values()) {
      const i = r.userId === String(userId) && r.trackId === String(trackId) ? r.layers.indexOf(layer) : -1;
      if (i >= 0) {
        r.layer = i;
        r.want = i;
        r.stalled = 0;
        r.healthy = 0;
      }
    }
  }

  // Simulcast stall watch, once per statistics round. A publisher's
  // browser pauses upper layers while its bandwidth estimate is low, and
  // the server keeps forwarding the layer it is on: a received video that
  // decodes no frame in a round while available drops to the lowest layer
  // (which the sender never pauses). Stepping up is always safe (the
  // server switches only at a keyframe of the new layer and forwards the
  // current one until then), so after 10 s of good video it tries one
  // layer up, never above the layer the app asked for (setRemoteLayer).
  #watchLayers(room, round) {
    for (const x of round.extra.inbound) {
      const r = room.remoteByMid.get(x.mid);
      if (!r || r.kind !== 'video' || r.layers.length < 2 || x.fresh) continue;
      if (room.avail.get(availKey(r.userId, 'video', r.streamType)) === false) {
        r.stalled = 0;
        continue;
      }
      let next = -1;
      if (x.frames === 0) {
        r.healthy = 0;
        if (++r.stalled >= 1 && r.layer > 0) next = 0;
      } else {
        r.stalled = 0;
        if (++r.healthy >= 5 && r.layer < r.want) next = r.layer + 1;
      }
      if (next < 0) continue;
      r.layer = next;
      r.stalled = 0;
      r.healthy = 0;
      room.sig.request('set_layer', { user_id: r.userId, track_id: r.trackId, layer: r.layers[next] })
        .catch((err) => this.#log.debug('parley: automatic layer change refused', err));
    }
  }

  // --- local media ---------------------------------------------------------------

  /**
   * Captures the microphone and publishes it when in a room (as anchor).
   * Needs the "audio_enable" switch.
   * @param {{constraints?: MediaTrackConstraints}} [opt]
   * @returns {Promise<MediaStream>} the local preview stream
   */
  async startLocalAudio(opt = {}) {
    this.#ready('startLocalAudio');
    this.#needPurpose('startLocalAudio', 'rtc');
    if (!this.#switchOn('audio_enable')) {
      throw new ParleyError(ErrorCode.FIELD_REJECTED, 'startLocalAudio: media.audio is switched off ("audio_enable" is not on)', { field: 'media.audio' });
    }
    return this.#startLocal('audio', 'main', opt, false);
  }

  /**
   * Captures the camera and publishes it when in a room (as anchor). Needs
   * "streams_config" to list "main".
   * @param {{simulcast?: boolean, constraints?: MediaTrackConstraints}} [opt]
   * @returns {Promise<MediaStream>} the local preview stream
   */
  async startLocalVideo(opt = {}) {
    this.#ready('startLocalVideo');
    this.#needPurpose('startLocalVideo', 'rtc');
    this.#needStream('startLocalVideo', 'main');
    // simulcast needs a large enough picture for three layers (¼, ½, full)
    const constraints = opt.constraints || (opt.simulcast ? { width: { ideal: 1280 }, height: { ideal: 720 } } : undefined);
    return this.#startLocal('video', 'main', { ...opt, constraints }, false);
  }

  /**
   * Captures the screen as the sub-stream. Needs "streams_config" to list "sub".
   * @param {{simulcast?: boolean, constraints?: MediaTrackConstraints}} [opt]
   */
  async startScreenShare(opt = {}) {
    this.#ready('startScreenShare');
    this.#needPurpose('startScreenShare', 'rtc');
    this.#needStream('startScreenShare', 'sub');
    return this.#startLocal('video', 'sub', opt, true);
  }

  #needStream(what, st) {
    if (!this.#streams.includes(st)) {
      throw new ParleyError(ErrorCode.FIELD_REJECTED, `${what}: media.video is switched off ("streams_config" does not list "${st}")`, { field: 'media.video' });
    }
  }

  async #startLocal(kind, streamType, opt, screen) {
    const key = `${kind}-${streamType}`;
    const have = this.#local.get(key);
    if (have) return have.preview;
    const track = await capture(kind, opt.constraints, screen);
    if (this.#closed) {
      track.stop();
      throw new ParleyError(ErrorCode.CLOSED, 'the instance was stopped during capture');
    }
    if (this.#local.has(key)) { // a concurrent call won
      track.stop();
      return this.#local.get(key).preview;
    }
    let preview;
    if (streamType === 'main') {
      if (!this.#localStream) this.#localStream = new MediaStream();
      this.#localStream.addTrack(track);
      preview = this.#localStream;
    } else {
      preview = new MediaStream([track]);
    }
    if (kind === 'audio') track.enabled = !this.#muted.audio;
    else if (streamType === 'main') track.enabled = !this.#muted.video;
    const entry = {
      key, kind, streamType, track, preview,
      rids: kind === 'video' && opt.simulcast ? SIMULCAST.map((e) => e.rid) : null,
      transceiver: null, trackId: '', mid: null, published: false,
    };
    this.#local.set(key, entry);
    if (screen) track.addEventListener('ended', () => { this.stopScreenShare().catch((err) => this.#error(err)); });
    this.#event(kind === 'audio' ? 'enable_audio' : 'enable_video');
    const room = this.#room;
    if (room && room.joined && room.role === ANCHOR) {
      try {
        await this.#publish(entry);
      } catch (err) {
        this.#dropLocal(entry);
        throw err;
      }
    }
    return preview;
  }

  /** Stops the microphone and unpublishes it. */
  async stopLocalAudio() { return this.#stopLocal('audio-main', 'disable_audio'); }

  /** Stops the camera and unpublishes it. */
  async stopLocalVideo() { return this.#stopLocal('video-main', 'disable_video'); }

  /** Stops the screen share. */
  async stopScreenShare() { return this.#stopLocal('video-sub', 'disable_video'); }

  async #stopLocal(key, event) {
    this.#alive();
    const entry = this.#local.get(key);
    if (!entry) return;
    const room = this.#room;
    const wasPublished = entry.published;
    this.#local.delete(key);
    entry.track.stop();
    if (entry.streamType === 'main' && this.#localStream) this.#localStream.removeTrack(entry.track);
    this.#event(event);
    if (room && !room.ended && (wasPublished || entry.transceiver)) {
      await this.#unpublish(room, entry);
    }
  }

  #dropLocal(entry) {
    if (this.#local.get(entry.key) === entry) this.#local.delete(entry.key);
    entry.track.stop();
    if (entry.streamType === 'main' && this.#localStream) {
      try { this.#localStream.removeTrack(entry.track); } catch { /* gone */ }
    }
    entry.published = false;
    entry.transceiver = null;
  }

  /**
   * Mutes or unmutes the microphone (silence is sent) and tells the room
   * (availability). Never rejects: failures go to the 'error' event.
   * @param {boolean} muted
   */
  muteLocalAudio(muted) { return this.#mute('audio', Boolean(muted)); }

  /**
   * Mutes or unmutes the camera (black frames are sent) and tells the room.
   * @param {boolean} muted
   */
  muteLocalVideo(muted) { return this.#mute('video', Boolean(muted)); }

  async #mute(kind, muted) {
    if (this.#closed) return;
    const changed = this.#muted[kind] !== muted;
    this.#muted[kind] = muted;
    const entry = this.#local.get(`${kind}-main`);
    if (entry) entry.track.enabled = !muted;
    if (changed) this.#event(`${muted ? 'mute' : 'unmute'}_${kind}`);
    const room = this.#room;
    if (!room || !room.joined || room.ended || !entry || !entry.published) return;
    try {
      await room.sig.request('mute', { kind, stream_type: 'main', muted });
    } catch (err) {
      if (!room.ended) this.#error(err);
    }
  }

  /** Whether the microphone / camera is muted. */
  get audioMuted() { return this.#muted.audio; }

  get videoMuted() { return this.#muted.video; }

  // Publishes a local capture: add the transceiver, create the offer, send
  // `publish` (track_id = the msid track id of the offer), then `offer`.
  // Serialised with every other publisher negotiation.
  #publish(entry) {
    const room = this.#room;
    if (!room) return Promise.resolve();
    const run = async () => {
      if (room.ended || room.role !== ANCHOR || entry.published || this.#local.get(entry.key) !== entry) return;
      if (!room.pub) room.pub = this.#newPC(room, 'publisher');
      const pc = room.pub;
      const init = { direction: 'sendonly', streams: [entry.preview] };
      if (entry.rids) init.sendEncodings = SIMULCAST.map((e) => ({ ...e }));
      const tr = pc.addTransceiver(entry.track, init);
      let trackId;
      try {
        await pc.setLocalDescription(await pc.createOffer());
        const s = tr.mid !== null ? parseSections(pc.localDescription.sdp).get(tr.mid) : null;
        trackId = (s && s.trackId) || entry.track.id;
        const req = { track_id: trackId, kind: entry.kind, stream_type: entry.streamType };
        if (entry.rids) req.layers = [...entry.rids];
        await room.sig.request('publish', req);
      } catch (err) {
        if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' }).catch(noop);
        try { pc.removeTrack(tr.sender); } catch { /* closed */ }
        try { if (tr.stop) tr.stop(); } catch { /* closed */ }
        throw err;
      }
      entry.transceiver = tr;
      entry.trackId = trackId;
      entry.mid = tr.mid;
      room.localByMid.set(String(tr.mid), { kind: entry.kind, streamType: entry.streamType, rids: entry.rids });
      await this.#sendOffer(room, pc, true);
      entry.published = true;
      const muted = entry.kind === 'audio' ? this.#muted.audio : entry.streamType === 'main' && this.#muted.video;
      if (muted) await room.sig.request('mute', { kind: entry.kind, stream_type: entry.streamType, muted: true }).catch((err) => this.#error(err));
    };
    const p = room.pubQueue.then(run);
    room.pubQueue = p.catch(noop);
    return p;
  }

  async #sendOffer(room, pc, haveLocal) {
    if (!haveLocal) await pc.setLocalDescription(await pc.createOffer());
    const env = await room.sig.request('offer', { type: 'offer', sdp: pc.localDescription.sdp });
    if (!env.data || typeof env.data.sdp !== 'string') throw new ParleyError(ErrorCode.PROTOCOL, 'the publisher answer has no sdp');
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: env.data.sdp });
    } catch (err) {
      throw new ParleyError(ErrorCode.NEGOTIATION_FAILED, `publisher answer refused: ${err.message}`, { cause: err });
    }
    await this.#flushRemoteCandidates(room, 'publisher', pc);
    this.#openCandidates(room, 'publisher');
  }

  #unpublish(room, entry) {
    const run = async () => {
      if (room.ended) return;
      const tid = entry.trackId;
      this.#detach(room, entry);
      if (!tid) return;
      await room.sig.request('unpublish', { track_id: tid });
      if (room.pub && room.role === ANCHOR) await this.#sendOffer(room, room.pub, false);
    };
    const p = room.pubQueue.then(run);
    room.pubQueue = p.catch(noop);
    return p;
  }

  // Stops sending a capture on the publisher PeerConnection (no frames).
  #detach(room, entry) {
    if (entry.transceiver && room.pub) {
      try { room.pub.removeTrack(entry.transceiver.sender); } catch { /* closed */ }
    }
    if (entry.mid !== null) room.localByMid.delete(String(entry.mid));
    entry.transceiver = null;
    entry.mid = null;
    entry.published = false;
  }

  // --- statistics and telemetry ------------------------------------------------

  #startStats(room) {
    const tick = async () => {
      room.statsTimer = null;
      if (room.ended || room.statsStopped) return;
      try {
        const round = await collectStats({
          pub: room.pub, sub: room.sub, localByMid: room.localByMid, remoteByMid: room.remoteByMid,
          connected: !room.sig.closed,
        }, room.statsPrev, Date.now());
        if (room.ended || room.statsStopped) return;
        room.statsPrev = round.next;
        this.#emit('statistics', round.statistics);
        this.#emit('networkQuality', round.quality);
        this.#watchLayers(room, round);
        if (room.tel && !room.tel.disabled) await this.#telemetry(room, round);
      } catch (err) {
        this.#log.debug('parley: statistics round failed', err);
      }
      if (!room.ended && !room.statsStopped) room.statsTimer = setTimeout(tick, STATS_INTERVAL_MS);
    };
    room.statsTimer = setTimeout(tick, STATS_INTERVAL_MS);
  }

  #event(type) {
    const room = this.#room;
    if (!room || !room.tel || !EVENT_TYPES.has(type)) return;
    const ev = room.tel.events;
    if (ev.length >= MAX_TELEMETRY_EVENTS) ev.shift(); // keep the newest
    ev.push({ 'event.type': type, 'event.at': Date.now() });
  }

  async #telemetry(room, round) {
    const tel = room.tel;
    const purposes = this.#purposes();
    const rep = { seq: 0, at: Date.now() };
    if (purposes.has('quality')) {
      rep.quality = qualitySection(round);
      rep.streams = streamsSection(round);
      if (tel.events.length) rep.events = tel.events.splice(0);
    }
    if (!tel.deviceSent) {
      tel.deviceSent = true;
      rep.device = await deviceSection({ sdkVersion: SDK_VERSION, switchOn: (s) => this.#switchOn(s), purposes });
    }
    if (room.ended || room.statsStopped) return;
    if (!filterReport(rep, (s) => this.#switchOn(s), purposes, tel.rejected)) return;
    rep.seq = ++tel.seq;
    await this.#report(room, rep, TELEMETRY_TIMEOUT_MS);
  }

  // Sends one report. A -4009 names the refused field: it is not sent again
  // this room session, and the app hears it; nothing is retried.
  async #report(room, rep, timeout) {
    try {
      await room.sig.request('telemetry', rep, { timeout });
    } catch (err) {
      if (!(err instanceof ParleyError) || room.ended) return;
      if (err.code === ErrorCode.FIELD_REJECTED) {
        const field = rejectedField(err.serverMessage || err.message);
        if (field) room.tel.rejected.add(field); else room.tel.disabled = true;
        this.#error(new ParleyError(ErrorCode.FIELD_REJECTED, `telemetry refused by the server: ${err.serverMessage || err.message}`, { field, requestType: 'telemetry' }));
      } else if (err.code === ErrorCode.CONSENT_REQUIRED || err.code === ErrorCode.GUARDIAN_REQUIRED) {
        room.tel.disabled = true;
        this.#refused(err);
        this.#leaveAfterRefusal(room, err);
      } else {
        this.#log.debug('parley: telemetry report not accepted', err);
      }
    }
  }

  // --- custom signaling and room chat --------------------------------------------

  /**
   * Sends a custom message to everyone else in the room (TRTC
   * sendCustomCmdMsg). Needs "ext.rts" and consent to "signaling".
   * @param {number} cmdId 1-10
   * @param {Uint8Array|string} data 1-1024 bytes (a string is sent as UTF-8)
   * @param {{reliable?: boolean, ordered?: boolean}} [opt]
   */
  async sendCustomCmd(cmdId, data, opt = {}) {
    this.#ready('sendCustomCmd');
    if (!this.#switchOn('ext.rts')) throw new ParleyError(ErrorCode.FIELD_REJECTED, 'sendCustomCmd: rts.message is switched off ("ext.rts" is not on)', { field: 'rts.message' });
    this.#needPurpose('sendCustomCmd', 'signaling');
    if (!Number.isInteger(cmdId) || cmdId < 1 || cmdId > 10) throw bad('sendCustomCmd: cmdId must be an integer 1-10');
    const bytes = toBytes(data);
    if (bytes.length < 1 || bytes.length > 1024) throw bad(`sendCustomCmd: data is ${bytes.length} bytes, want 1-1024`);
    const room = this.#requireRoom('sendCustomCmd');
    const req = { cmd_id: cmdId, data: toBase64(bytes) };
    if (opt.reliable) req.reliable = true;
    if (opt.ordered) req.ordered = true;
    await room.sig.request('custom_cmd', req);
  }

  /**
   * Sends a chat message to the room (relayed, never stored). Needs consent
   * to "im".
   * @param {string|Array<{MsgType: string, MsgContent: any}>} textOrElements
   * @param {{cloudCustomData?: string}} [opt]
   * @returns {Promise<{conv: string, seq: number, at: number}>}
   */
  async sendRoomChat(textOrElements, opt = {}) {
    this.#ready('sendRoomChat');
    this.#needPurpose('sendRoomChat', 'im');
    const room = this.#requireRoom('sendRoomChat');
    const req = { elements: typeof textOrElements === 'string' ? textElements(textOrElements) : textOrElements };
    if (!Array.isArray(req.elements) || req.elements.length === 0) throw bad('sendRoomChat: give a text or 1-32 elements');
    if (opt.cloudCustomData) req.cloud_custom_data = String(opt.cloudCustomData);
    const env = await room.sig.request('room_chat', req);
    const d = env.data || {};
    return { conv: d.conv, seq: d.seq, at: d.at };
  }

  // --- messaging -----------------------------------------------------------------

  /**
   * Logs in to messaging on a connection of its own. Needs consent to "im".
   * @param {{cursors?: Record<string, number>}} [opt] last seq already shown per conversation (from imCursors())
   */
  async loginIM(opt = {}) {
    this.#ready('loginIM');
    this.#needPurpose('loginIM', 'im');
    if (this.#im && this.#im.loggedIn) return;
    const url = this.#url();
    const m = new Messenger({
      url,
      logger: this.#log,
      userId: this.#o.userId,
      cursors: opt.cursors,
      login: () => ({
        sdkappid: this.#o.sdkAppId, user_id: this.#o.userId, user_sig: this.#o.userSig, sdk_version: SDK_VERSION,
        device_id: this.#deviceId, platform: 'web', consent: this.#claim(), switches: this.#wireSwitches(),
      }),
      emit: (ev, payload) => { if (this.#im === m) this.#emit(ev, payload); },
      onRefusal: (err) => this.#refused(err),
    });
    this.#im = m;
    try {
      await m.login();
    } catch (err) {
      if (this.#im === m) this.#im = null;
      throw err;
    }
  }

  /** Logs out of messaging: no more messages or offline pushes to this device. */
  async logoutIM() {
    this.#alive();
    const m = this.#im;
    this.#im = null;
    if (m) {
      this.#imCursors = m.cursors();
      await m.logout();
    }
  }

  #messenger(what) {
    this.#alive();
    if (!this.#im || !this.#im.loggedIn) throw new ParleyError(ErrorCode.IM_NOT_LOGGED_IN, `${what}: not logged in to messaging; loginIM() first`);
    return this.#im;
  }

  /**
   * Sends a message to a user (C2C) or a group; resolves once stored. A
   * lost connection does not lose or duplicate it (resent with the same
   * clientMsgId after the reconnect).
   * @param {{toUser?: string, groupId?: string, text?: string, elements?: any[], clientMsgId?: string, cloudCustomData?: string, needReadReceipt?: boolean}} msg
   * @returns {Promise<{conv: string, seq: number, at: number, duplicate: boolean, clientMsgId: string}>}
   */
  async sendMessage(msg = {}) {
    const m = this.#messenger('sendMessage');
    if (Boolean(msg.toUser) === Boolean(msg.groupId)) throw bad('sendMessage: give exactly one of toUser and groupId');
    let elements = msg.elements;
    if (elements === undefined) {
      if (typeof msg.text !== 'string' || msg.text === '') throw bad('sendMessage: give text or elements');
      elements = textElements(msg.text);
    }
    if (!Array.isArray(elements) || elements.length < 1 || elements.length > 32) throw bad('sendMessage: elements must be 1-32 MsgBody elements');
    const id = msg.clientMsgId === undefined ? newClientMsgId() : msg.clientMsgId;
    if (typeof id !== 'string' || id === '' || id.length > 128 || !/^[\x20-\x7e]+$/.test(id)) {
      throw bad('sendMessage: clientMsgId must be 1-128 printable ASCII characters');
    }
    const req = { client_msg_id: id, elements };
    if (msg.toUser) req.to_user = String(msg.toUser); else req.group_id = String(msg.groupId);
    if (msg.cloudCustomData) req.cloud_custom_data = String(msg.cloudCustomData);
    if (msg.needReadReceipt) req.need_read_receipt = true;
    m.rememberOwn(id);
    const d = (await m.request('im_send', req, true)) || {};
    return { conv: d.conv, seq: d.seq, at: d.at, duplicate: Boolean(d.duplicate), clientMsgId: id };
  }

  /**
   * Pages a conversation's history backwards, newest first. The newest page
   * (beforeSeq 0) also marks those messages as shown: 'message' continues
   * after them, so history and live messages never overlap.
   * @param {string} conv "c2c:<a>|<b>" or "group:<id>"
   * @param {{beforeSeq?: number, limit?: number}} [opt] limit 1-100, default 20
   */
  async getHistory(conv, opt = {}) {
    const m = this.#messenger('getHistory');
    const req = { conv: String(conv) };
    if (opt.beforeSeq) req.before_seq = opt.beforeSeq;
    if (opt.limit) req.limit = opt.limit;
    const d = (await m.request('im_history', req, true)) || {};
    const msgs = (Array.isArray(d.messages) ? d.messages : []).map(toMessage);
    if (!opt.beforeSeq && msgs.length) m.markShown(req.conv, Math.max(...msgs.map((x) => x.seq)));
    return msgs;
  }

  /** The user's conversations. @returns {Promise<Array<{conv: string, lastSeq: number, readSeq: number, unread: number}>>} */
  async conversations() {
    const m = this.#messenger('conversations');
    const d = (await m.request('im_convs', undefined, true)) || {};
    return (d.conversations || []).map((c) => ({ conv: c.conv, lastSeq: c.last_seq, readSeq: c.read_seq, unread: c.unread }));
  }

  /** Moves the read cursor (never back); resolves with it. */
  async markRead(conv, seq) {
    const m = this.#messenger('markRead');
    if (!Number.isInteger(seq) || seq < 1) throw bad('markRead: seq must be an integer ≥ 1');
    const d = (await m.request('im_read', { conv: String(conv), seq }, true)) || {};
    return d.read_seq;
  }

  /** Who other than the sender read a message. */
  async readBy(conv, seq) {
    const m = this.#messenger('readBy');
    const d = (await m.request('im_read_by', { conv: String(conv), seq }, true)) || {};
    return d.users || [];
  }

  /** Recalls a message; resolves with the tombstone. */
  async recallMessage(conv, seq) {
    const m = this.#messenger('recallMessage');
    return toMessage((await m.request('im_recall', { conv: String(conv), seq }, false)) || {});
  }

  /**
   * Creates a group; the creator is its owner.
   * @param {{type?: 'Work'|'Public'|'Meeting'|'AVChatRoom'|'Community', name?: string, groupId?: string}} g
   */
  async createGroup(g = {}) {
    const r = await this.groupOp('create', { type: g.type || 'Meeting', name: g.name, groupId: g.groupId });
    return r.group;
  }

  /** Joins a group; resolves with {pending} (Public groups await approval). */
  async joinGroup(groupId) {
    const r = await this.groupOp('join', { groupId });
    return { pending: r.pending };
  }

  /** Leaves a group (the owner dismisses instead). */
  async leaveGroup(groupId) {
    await this.groupOp('leave', { groupId });
  }

  /**
   * Any im_group operation: create, join, leave, dismiss, invite, kick,
   * approve, reject, mute, set_role, members, info, requests.
   * @param {string} op
   * @param {{groupId?: string, type?: string, name?: string, userId?: string, role?: string, muteSeconds?: number}} [f]
   */
  async groupOp(op, f = {}) {
    const m = this.#messenger('groupOp');
    const req = { op: String(op) };
    if (f.groupId !== undefined) req.group_id = String(f.groupId);
    if (f.type !== undefined) req.type = String(f.type);
    if (f.name !== undefined && f.name !== '') req.name = String(f.name);
    if (f.userId !== undefined) req.user_id = String(f.userId);
    if (f.role !== undefined) req.role = String(f.role);
    if (f.muteSeconds !== undefined) req.mute_seconds = f.muteSeconds;
    const d = (await m.request('im_group', req, false)) || {};
    const g = d.group;
    return {
      group: g ? { groupId: g.group_id, type: g.type, name: g.name || '', owner: g.owner, createdAt: g.created_at } : null,
      members: (d.members || []).map((x) => ({ userId: x.user_id, role: x.role, mutedUntil: x.muted_until || 0 })),
      requests: d.requests || [],
      pending: Boolean(d.pending),
    };
  }

  /**
   * Sends a peer-to-peer signal to every messaging connection of a user
   * (never stored). Needs "ext.rts" and consent to "signaling".
   * @param {string} toUser
   * @param {Uint8Array|string} data 1-1024 bytes
   * @param {{reliable?: boolean}} [opt] reliable: fail with -4013 when the peer is offline
   */
  async sendSignal(toUser, data, opt = {}) {
    const m = this.#messenger('sendSignal');
    if (!this.#switchOn('ext.rts')) throw new ParleyError(ErrorCode.FIELD_REJECTED, 'sendSignal: rts.message is switched off ("ext.rts" is not on)', { field: 'rts.message' });
    this.#needPurpose('sendSignal', 'signaling');
    const bytes = toBytes(data);
    if (bytes.length < 1 || bytes.length > 1024) throw bad(`sendSignal: data is ${bytes.length} bytes, want 1-1024`);
    const req = { to_user: String(toUser), data: toBase64(bytes) };
    if (opt.reliable) req.reliable = true;
    await m.request('im_signal', req, false);
  }

  /** Last seq delivered per conversation; pass back to loginIM({cursors}). */
  imCursors() {
    return this.#im ? this.#im.cursors() : { ...this.#imCursors };
  }

  // --- withdrawal -------------------------------------------------------------------

  /**
   * Withdraws the user's consent: sends withdraw_consent on an open
   * connection (waiting at most 500 ms), leaves the room, logs out of
   * messaging, stops local capture, closes everything and forgets the stored
   * grant and install id. The instance refuses every call afterwards.
   */
  async stop() {
    if (this.#closed) return;
    this.#closed = true;
    const room = this.#room;
    const im = this.#im;
    this.#im = null;
    const withdraw = async (sig) => {
      try {
        await sig.request('withdraw_consent', { reason: 'the user withdrew consent' }, { timeout: WITHDRAW_TIMEOUT_MS });
        return true;
      } catch (err) {
        this.#log.info('parley: withdraw_consent not confirmed by the server', err);
        return false;
      }
    };
    let withdrawn = false;
    if (room && !room.ended) {
      room.leaving = true;
      this.#stopLoops(room);
      if (room.joined && !room.sig.closed) withdrawn = await withdraw(room.sig);
    }
    if (im) {
      const s = im.liveSignaler();
      if (s && !withdrawn) await withdraw(s);
      im.close();
    }
    if (room) this.#endRoom(room, 0, 'consent withdrawn');
    for (const entry of [...this.#local.values()]) this.#dropLocal(entry);
    this.#localStream = null;
    for (const k of [CONSENT_KEY, DEVICE_KEY]) {
      try { this.#storage.removeItem(k); } catch { /* nothing stored */ }
    }
    this.#consent = null;
    this.#inited = false;
    this.#deviceId = '';
    this.#imCursors = {};
    this.#listeners.clear();
  }
}

function checkAppId(id) {
  if (!Number.isInteger(id) || id < 1 || id > 4294967295) {
    throw new ParleyError(ErrorCode.SDKAPPID_INVALID, 'sdkAppId must be an integer 1-4294967295');
  }
}

function parseStreams(v) {
  if (v === true || v === 1) return ['main'];
  if (!v) return [];
  if (!Array.isArray(v)) throw bad('switches.streams_config must be a list of stream types ("main", "sub")');
  const out = [];
  for (const s of v) {
    const t = typeof s === 'string' ? s : s && typeof s === 'object' ? s.stream_type || s.streamType || 'main' : '';
    if (t !== 'main' && t !== 'sub') throw bad(`switches.streams_config: "${String(t).slice(0, 16)}" is not "main" or "sub"`);
    if (!out.includes(t)) out.push(t);
  }
  return out;
}

function toBytes(data) {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw bad('data must be a Uint8Array, ArrayBuffer or string');
}

function newRoom(req) {
  const side = () => ({ localOpen: false, localQueue: [], remoteSet: false, remoteQueue: [] });
  return {
    req, sig: null, joined: false, ended: false, leaving: false, role: req.role,
    pub: null, sub: null,
    peers: { publisher: side(), subscriber: side() },
    pubQueue: Promise.resolve(), subQueue: Promise.resolve(),
    users: new Map(), remoteByMid: new Map(), remoteStreams: new Map(), localByMid: new Map(), avail: new Map(),
    lastSections: null,
    statsTimer: null, statsStopped: false, statsPrev: { at: 0, counters: new Map() },
    tel: null,
  };
}

function availKey(userId, kind, streamType) {
  return `${userId}\u0000${kind}\u0000${streamType || 'main'}`;
}

function userOf(room, userId) {
  let u = room.users.get(userId);
  if (!u) {
    u = { tracks: new Map() };
    room.users.set(userId, u);
  }
  return u;
}

export default Parley;
