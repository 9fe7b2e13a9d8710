// Parley browser SDK: statistics (TRTC onStatistics field names), network
// quality (the Go SDK's thresholds) and APM telemetry (docs/inventory.md).
//
// Statistics are read from RTCPeerConnection.getStats() every 2 s while in
// a room; rates are deltas against the previous round. Telemetry reuses
// the same round: only elements the inventory declares for platform "web",
// whose switch is on and whose purpose the user consented to, are sent.

/** TRTC network quality levels (onNetworkQuality). */
export const Quality = Object.freeze({
  UNKNOWN: 0, EXCELLENT: 1, GOOD: 2, POOR: 3, BAD: 4, VERY_BAD: 5, DOWN: 6,
});

// A link is at a level when both rtt and loss are strictly below its
// bounds (sdk/go/quality.go).
const QUALITY_STEPS = [
  { q: Quality.EXCELLENT, rttMs: 50, lossPct: 1 },
  { q: Quality.GOOD, rttMs: 100, lossPct: 3 },
  { q: Quality.POOR, rttMs: 200, lossPct: 8 },
  { q: Quality.BAD, rttMs: 400, lossPct: 15 },
];

/**
 * Maps a link's round-trip time and loss to a TRTC quality level, exactly as
 * the Go SDK's QualityFor. rttMs < 0 or lossPct < 0 means "not measured".
 * @param {boolean} connected
 * @param {number} rttMs
 * @param {number} lossPct
 * @returns {number} 0–6
 */
export function qualityFor(connected, rttMs, lossPct) {
  if (!connected) return Quality.DOWN;
  if (rttMs < 0 && lossPct < 0) return Quality.UNKNOWN;
  for (const s of QUALITY_STEPS) {
    if ((rttMs < 0 || rttMs < s.rttMs) && (lossPct < 0 || lossPct < s.lossPct)) return s.q;
  }
  return Quality.VERY_BAD;
}

const kbps = (bytes, secs) => Math.max(0, Math.round((bytes * 8) / 1000 / secs));
const int = (v) => (Number.isFinite(v) ? Math.round(v) : 0);
export const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, int(v)));

/**
 * One statistics round over both PeerConnections. `prev` holds the counters
 * of the previous round (per stats id) and is replaced by this round's.
 *
 * @param {{pub: RTCPeerConnection|null, sub: RTCPeerConnection|null,
 *   localByMid: Map<string, {kind: string, streamType: string, rids: string[]|null}>,
 *   remoteByMid: Map<string, {userId: string, kind: string, streamType: string}>,
 *   connected: boolean}} src
 * @param {{at: number, counters: Map<string, any>}} prev
 * @param {number} now ms
 */
export async function collectStats(src, prev, now) {
  const reports = [];
  for (const pc of [src.pub, src.sub]) {
    if (!pc) continue;
    try {
      reports.push({ pc, report: await pc.getStats() });
    } catch {
      // a closed PeerConnection has no stats
    }
  }
  let secs = (now - prev.at) / 1000;
  if (!prev.at || !(secs > 0)) secs = 2;
  const counters = new Map();
  const before = (id) => prev.counters.get(id) || null;

  const st = {
    appCpu: 0, systemCpu: 0, // not measurable in a browser
    upLoss: 0, downLoss: 0, rtt: 0, sentBytes: 0, receivedBytes: 0,
    localStatistics: [], remoteStatistics: [],
  };
  let rtt = -1;
  let upLoss = -1;
  let jitterMs = 0;
  let lost = 0;
  let expected = 0;
  const local = new Map(); // TRTC stream type → entry
  const remote = new Map(); // userId/streamType → entry
  const volumes = []; // {direction, kind, streamType, userId?, volume}
  const localLoss = new Map(); // stream type → loss %
  const inbound = []; // per received track: frames and packets this round
  const midByTrack = new Map();
  for (const [mid, info] of src.remoteByMid) if (info.track) midByTrack.set(info.track.id, mid);

  for (const { report } of reports) {
    const byId = new Map();
    report.forEach((r) => byId.set(r.id, r));
    // Transport bytes and the selected pair's round trip.
    let sawTransport = false;
    let pairId = null;
    for (const r of byId.values()) {
      if (r.type === 'transport') {
        sawTransport = true;
        st.sentBytes += r.bytesSent || 0;
        st.receivedBytes += r.bytesReceived || 0;
        if (r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
      }
    }
    let pair = pairId ? byId.get(pairId) : null;
    if (!pair) {
      for (const r of byId.values()) {
        if (r.type === 'candidate-pair' && (r.selected || (r.nominated && r.state === 'succeeded'))) {
          pair = r;
          break;
        }
      }
    }
    if (pair) {
      if (pair.currentRoundTripTime > 0) rtt = Math.max(rtt, pair.currentRoundTripTime * 1000);
      if (!sawTransport) {
        st.sentBytes += pair.bytesSent || 0;
        st.receivedBytes += pair.bytesReceived || 0;
      }
    }
    for (const r of byId.values()) {
      switch (r.type) {
        case 'remote-inbound-rtp': {
          if (Number.isFinite(r.fractionLost)) {
            const pct = Math.max(0, r.fractionLost) * 100;
            upLoss = Math.max(upLoss, pct);
            const out = r.localId ? byId.get(r.localId) : null;
            const pubInfo = out && out.mid != null ? src.localByMid.get(String(out.mid)) : null;
            if (pubInfo) {
              const t = trtcLocalType(pubInfo, out.rid);
              localLoss.set(t, Math.max(localLoss.get(t) || 0, pct));
            }
          }
          if (rtt < 0 && r.roundTripTime > 0) rtt = r.roundTripTime * 1000;
          break;
        }
        case 'outbound-rtp': {
          const info = r.mid != null ? src.localByMid.get(String(r.mid)) : null;
          const kind = r.kind || r.mediaType || (info && info.kind);
          const old = before(r.id);
          counters.set(r.id, { bytes: r.bytesSent || 0, frames: r.framesEncoded || 0 });
          const db = Math.max(0, (r.bytesSent || 0) - (old ? old.bytes : 0));
          if (kind === 'audio') {
            const e = localEntry(local, 'big');
            e.audioSampleRate = codecClock(byId, r.codecId) || 48000;
            e.audioBitrate += kbps(db, secs);
            const ms = r.mediaSourceId ? byId.get(r.mediaSourceId) : null;
            if (ms && Number.isFinite(ms.audioLevel)) {
              volumes.push({ direction: 'send', kind: 'audio', streamType: 'main', volume: ms.audioLevel * 100 });
            }
            break;
          }
          const t = trtcLocalType(info, r.rid);
          const e = localEntry(local, t);
          const w = r.frameWidth || 0;
          if (w >= e.width) {
            e.width = w;
            e.height = r.frameHeight || 0;
            const df = Math.max(0, (r.framesEncoded || 0) - (old ? old.frames : 0));
            e.frameRate = Number.isFinite(r.framesPerSecond) ? Math.round(r.framesPerSecond) : Math.round(df / secs);
          }
          e.videoBitrate += kbps(db, secs);
          break;
        }
        case 'inbound-rtp': {
          let mid = r.mid != null ? String(r.mid) : null;
          if (mid === null && r.trackIdentifier) mid = midByTrack.get(r.trackIdentifier) ?? null; // browsers without inbound mid
          const info = mid !== null ? src.remoteByMid.get(mid) : null;
          if (!info) break; // a transceiver no longer owned by anyone
          const kind = r.kind || r.mediaType || info.kind;
          const old = before(r.id);
          const cur = {
            bytes: r.bytesReceived || 0, frames: r.framesDecoded || 0,
            received: r.packetsReceived || 0, lost: Math.max(0, r.packetsLost || 0),
            jbDelay: r.jitterBufferDelay || 0, jbCount: r.jitterBufferEmittedCount || 0,
          };
          counters.set(r.id, cur);
          const dRecv = Math.max(0, cur.received - (old ? old.received : 0));
          const dLost = Math.max(0, cur.lost - (old ? old.lost : 0));
          lost += dLost;
          expected += dRecv + dLost;
          const pct = dRecv + dLost > 0 ? Math.round((dLost * 100) / (dRecv + dLost)) : 0;
          const dJb = cur.jbDelay - (old ? old.jbDelay : 0);
          const dJc = cur.jbCount - (old ? old.jbCount : 0);
          const jbMs = dJc > 0 ? Math.round((dJb / dJc) * 1000) : Math.round((r.jitter || 0) * 1000);
          if (Number.isFinite(r.jitter)) jitterMs = Math.max(jitterMs, r.jitter * 1000);
          inbound.push({ mid, kind, frames: Math.max(0, cur.frames - (old ? old.frames : 0)), packets: dRecv, fresh: !old });
          const type = info.streamType === 'sub' ? 'sub' : 'big';
          const key = `${info.userId}\u0000${type}`;
          let e = remote.get(key);
          if (!e) {
            e = {
              userId: info.userId, streamType: type, audioPacketLoss: 0, videoPacketLoss: 0,
              width: 0, height: 0, frameRate: 0, videoBitrate: 0, audioBitrate: 0,
              jitterBufferDelay: 0, point2PointDelay: 0, framesDecoded: 0,
            };
            remote.set(key, e);
          }
          e.jitterBufferDelay = Math.max(e.jitterBufferDelay, jbMs);
          const rate = kbps(Math.max(0, cur.bytes - (old ? old.bytes : 0)), secs);
          if (kind === 'audio') {
            e.audioPacketLoss = pct;
            e.audioBitrate = rate;
            if (Number.isFinite(r.audioLevel)) {
              volumes.push({ direction: 'recv', kind: 'audio', streamType: 'main', userId: info.userId, volume: r.audioLevel * 100 });
            }
          } else {
            e.videoPacketLoss = pct;
            e.videoBitrate = rate;
            e.width = r.frameWidth || 0;
            e.height = r.frameHeight || 0;
            const df = Math.max(0, cur.frames - (old ? old.frames : 0));
            e.frameRate = Number.isFinite(r.framesPerSecond) ? Math.round(r.framesPerSecond) : Math.round(df / secs);
            e.framesDecoded = cur.frames;
          }
          break;
        }
        default:
      }
    }
  }
  if (rtt >= 0) st.rtt = Math.round(rtt);
  if (upLoss >= 0) st.upLoss = Math.round(upLoss);
  const downLoss = expected > 0 ? (lost * 100) / expected : -1;
  st.downLoss = Math.round(Math.max(0, downLoss));
  st.localStatistics = [...local.values()].sort((a, b) => (a.streamType < b.streamType ? -1 : 1));
  st.remoteStatistics = [...remote.values()].sort((a, b) =>
    a.userId === b.userId ? (a.streamType < b.streamType ? -1 : 1) : (a.userId < b.userId ? -1 : 1));
  for (const r of st.remoteStatistics) {
    // End-to-end delay as this client can see it: its own round trip to
    // the server (≈ both one-way legs when the links are alike) plus the
    // playout buffer.
    r.point2PointDelay = st.rtt + r.jitterBufferDelay;
  }

  const connected = src.connected && ![src.pub, src.sub].some((pc) => pc && pc.connectionState === 'failed');
  const localQ = qualityFor(connected, rtt, upLoss);
  const remoteQ = st.remoteStatistics.map((r) => ({
    userId: r.userId,
    quality: qualityFor(connected, rtt, Math.max(r.audioPacketLoss, r.videoPacketLoss)),
  }));
  // One entry per user: the worse of its streams.
  const perUser = new Map();
  for (const q of remoteQ) perUser.set(q.userId, Math.max(perUser.get(q.userId) || 0, q.quality));
  return {
    statistics: st,
    quality: { local: localQ, remote: [...perUser].map(([userId, quality]) => ({ userId, quality })) },
    extra: { jitterMs, volumes, localLoss, inbound },
    next: { at: now, counters },
  };
}

function localEntry(map, type) {
  let e = map.get(type);
  if (!e) {
    e = { width: 0, height: 0, frameRate: 0, videoBitrate: 0, audioSampleRate: 0, audioBitrate: 0, streamType: type };
    map.set(type, e);
  }
  return e;
}

// TRTC stream type of a local video encoding: the sub-stream is "sub", the
// top simulcast layer (or the only one) "big", every lower layer "small".
function trtcLocalType(info, rid) {
  if (info && info.streamType === 'sub') return 'sub';
  if (info && info.rids && rid && rid !== info.rids[info.rids.length - 1]) return 'small';
  return 'big';
}

function codecClock(byId, codecId) {
  const c = codecId ? byId.get(codecId) : null;
  return c && c.clockRate ? c.clockRate : 0;
}

// ---------------------------------------------------------------------------
// Telemetry (docs/inventory.md): the elements declared for platform "web".
// Elements the inventory declares only for other platforms (CPU and memory
// load, device.cpu, device.memory_mb, device.battery_pct,
// device.thread_count, network.wifi_state) and network.ip_address (a
// browser cannot see its own address) are never collected here.

/**
 * @typedef {{id: string, section: string, sw: string, purpose: string}} Element
 */

/** @type {Element[]} */
export const WEB_ELEMENTS = [
  ...['sdk.version', 'device.os', 'device.os_version'].map((id) => ({ id, section: 'device', sw: '', purpose: 'rtc' })),
  ...['quality.rtt_ms', 'quality.up_loss_pct', 'quality.down_loss_pct', 'quality.jitter_ms', 'quality.network_quality']
    .map((id) => ({ id, section: 'quality', sw: '', purpose: 'quality' })),
  ...['stream.direction', 'stream.kind', 'stream.type', 'stream.width', 'stream.height', 'stream.fps',
    'stream.bitrate_kbps', 'stream.loss_pct', 'stream.volume'].map((id) => ({ id, section: 'streams', sw: '', purpose: 'quality' })),
  ...['event.type', 'event.at'].map((id) => ({ id, section: 'events', sw: '', purpose: 'quality' })),
  ...['device.brand', 'device.model', 'device.screen_resolution', 'network.type']
    .map((id) => ({ id, section: 'device', sw: `field.${id}`, purpose: 'quality' })),
];

/** Event types of inventory event.type. */
export const EVENT_TYPES = new Set(['enter_room', 'exit_room', 'enable_audio', 'disable_audio', 'enable_video',
  'disable_video', 'mute_audio', 'unmute_audio', 'mute_video', 'unmute_video']);

export const MAX_TELEMETRY_STREAMS = 16;
export const MAX_TELEMETRY_EVENTS = 32;

/** quality.* of one round. */
export function qualitySection(round) {
  const st = round.statistics;
  return {
    'quality.rtt_ms': clamp(st.rtt, 0, 60000),
    'quality.up_loss_pct': clamp(st.upLoss, 0, 100),
    'quality.down_loss_pct': clamp(st.downLoss, 0, 100),
    'quality.jitter_ms': clamp(round.extra.jitterMs, 0, 60000),
    'quality.network_quality': clamp(round.quality.local, 0, 6),
  };
}

/** streams[] of one round: per direction, kind and type, never a user id. */
export function streamsSection(round) {
  const st = round.statistics;
  const out = [];
  const typ = (t) => (t === 'small' ? 'small' : t === 'sub' ? 'sub' : 'main');
  const sendVol = round.extra.volumes.filter((v) => v.direction === 'send');
  const video = (dir, t, w, h, fps, rate, loss) => ({
    'stream.direction': dir, 'stream.kind': 'video', 'stream.type': typ(t),
    'stream.width': clamp(w, 0, 16384), 'stream.height': clamp(h, 0, 16384), 'stream.fps': clamp(fps, 0, 240),
    'stream.bitrate_kbps': clamp(rate, 0, 1000000), 'stream.loss_pct': clamp(loss, 0, 100),
  });
  const audio = (dir, rate, loss, vol) => {
    const e = {
      'stream.direction': dir, 'stream.kind': 'audio', 'stream.type': 'main',
      'stream.bitrate_kbps': clamp(rate, 0, 1000000), 'stream.loss_pct': clamp(loss, 0, 100),
    };
    if (vol !== undefined) e['stream.volume'] = clamp(vol, 0, 100);
    return e;
  };
  for (const l of st.localStatistics) {
    const loss = round.extra.localLoss.get(l.streamType) ?? st.upLoss;
    if (l.audioSampleRate > 0) out.push(audio('send', l.audioBitrate, loss, sendVol.length ? sendVol[0].volume : undefined));
    if (l.width > 0 || l.videoBitrate > 0 || l.frameRate > 0) {
      out.push(video('send', l.streamType, l.width, l.height, l.frameRate, l.videoBitrate, loss));
    }
  }
  for (const r of st.remoteStatistics) {
    if (r.audioBitrate > 0) {
      const v = round.extra.volumes.find((x) => x.direction === 'recv' && x.userId === r.userId);
      out.push(audio('recv', r.audioBitrate, r.audioPacketLoss, v ? v.volume : undefined));
    }
    if (r.width > 0 || r.videoBitrate > 0 || r.frameRate > 0) {
      out.push(video('recv', r.streamType, r.width, r.height, r.frameRate, r.videoBitrate, r.videoPacketLoss));
    }
  }
  return out.slice(0, MAX_TELEMETRY_STREAMS);
}

/**
 * Keeps only the keys of `rep` that are web elements of their section,
 * switched on, consented and not refused earlier; reports whether anything
 * is left.
 * @param {any} rep
 * @param {(sw: string) => boolean} switchOn
 * @param {Set<string>} purposes
 * @param {Set<string>} rejected
 */
export function filterReport(rep, switchOn, purposes, rejected) {
  if (!switchOn('ext.apm')) return false;
  const allowed = new Set();
  for (const e of WEB_ELEMENTS) {
    if ((e.sw === '' || switchOn(e.sw)) && purposes.has(e.purpose) && !rejected.has(e.id)) allowed.add(`${e.section}/${e.id}`);
  }
  const keep = (section, obj) => {
    if (!obj) return null;
    const out = {};
    let n = 0;
    for (const [k, v] of Object.entries(obj)) {
      if (allowed.has(`${section}/${k}`) && v !== undefined && v !== null) {
        out[k] = v;
        n++;
      }
    }
    return n ? out : null;
  };
  const keepAll = (section, list) => {
    if (!list) return null;
    const out = list.map((o) => keep(section, o)).filter(Boolean);
    return out.length ? out : null;
  };
  for (const [section, key] of [['quality', 'quality'], ['device', 'device']]) {
    const v = keep(section, rep[key]);
    if (v) rep[key] = v; else delete rep[key];
  }
  for (const [section, key] of [['streams', 'streams'], ['events', 'events']]) {
    const v = keepAll(section, rep[key]);
    if (v) rep[key] = v; else delete rep[key];
  }
  return Boolean(rep.quality || rep.device || rep.streams || rep.events);
}

/**
 * The field a -4009 refusal names: a JSON FieldRejection, or the first
 * element id in the text ("<field> in <section>: <reason>: <detail>").
 * @param {string} msg
 */
export function rejectedField(msg) {
  try {
    const fr = JSON.parse(msg);
    if (fr && typeof fr.field === 'string' && fr.field) return fr.field;
  } catch { /* plain text */ }
  let best = '';
  let at = Infinity;
  for (const e of WEB_ELEMENTS) {
    const i = msg.indexOf(e.id);
    if (i >= 0 && (i < at || (i === at && e.id.length > best.length))) {
      best = e.id;
      at = i;
    }
  }
  return best;
}

const trunc = (s, n) => {
  const str = String(s);
  // inventory lengths are bytes; keep to ASCII-safe slicing by encoding
  const enc = new TextEncoder();
  if (enc.encode(str).length <= n) return str;
  let out = '';
  for (const ch of str) {
    if (enc.encode(out + ch).length > n) break;
    out += ch;
  }
  return out;
};

/**
 * The device section, sent once per room session. Each optional fact is
 * read only when its switch is on and the user consented to "quality";
 * the required facts (SDK version, OS, OS version) need "rtc".
 * @param {{sdkVersion: string, switchOn: (sw: string) => boolean, purposes: Set<string>}} ctx
 */
export async function deviceSection(ctx) {
  const nav = globalThis.navigator || {};
  const m = {};
  const uad = nav.userAgentData;
  const wantModel = ctx.purposes.has('quality') && ctx.switchOn('field.device.model');
  let hi = null;
  if (uad && typeof uad.getHighEntropyValues === 'function' && (ctx.purposes.has('rtc') || wantModel)) {
    const hints = [];
    if (ctx.purposes.has('rtc')) hints.push('platformVersion');
    if (wantModel) hints.push('model');
    try {
      hi = await uad.getHighEntropyValues(hints);
    } catch {
      hi = null;
    }
  }
  const ua = typeof nav.userAgent === 'string' ? nav.userAgent : '';
  if (ctx.purposes.has('rtc')) {
    m['sdk.version'] = trunc(ctx.sdkVersion, 64);
    m['device.os'] = 'web';
    const v = osVersion(uad, hi, ua);
    if (v) m['device.os_version'] = trunc(v, 64);
  }
  if (!ctx.purposes.has('quality')) return m;
  if (ctx.switchOn('field.device.brand')) {
    const b = brandOf(uad, ua);
    if (b) m['device.brand'] = trunc(b, 64);
  }
  if (wantModel && hi && typeof hi.model === 'string' && hi.model.trim()) {
    m['device.model'] = trunc(hi.model.trim(), 64);
  }
  if (ctx.switchOn('field.device.screen_resolution')) {
    const s = globalThis.screen;
    if (s && s.width > 0 && s.height > 0) {
      const dpr = globalThis.devicePixelRatio > 0 ? globalThis.devicePixelRatio : 1;
      m['device.screen_resolution'] = trunc(`${Math.round(s.width * dpr)}x${Math.round(s.height * dpr)}`, 16);
    }
  }
  if (ctx.switchOn('field.network.type')) {
    const t = nav.connection && nav.connection.type;
    m['network.type'] = t === 'wifi' || t === 'cellular' || t === 'ethernet' ? t : 'unknown';
  }
  return m;
}

// "<OS> <version>" from client hints, else from the user agent string.
function osVersion(uad, hi, ua) {
  if (uad && uad.platform) {
    const v = hi && hi.platformVersion ? ` ${hi.platformVersion}` : '';
    return `${uad.platform}${v}`;
  }
  const rules = [
    [/Windows NT ([\d.]+)/, 'Windows'],
    [/Android ([\d.]+)/, 'Android'],
    [/(?:iPhone|CPU) OS ([\d_]+)/, 'iOS'],
    [/Mac OS X ([\d_.]+)/, 'macOS'],
    [/CrOS \S+ ([\d.]+)/, 'ChromeOS'],
  ];
  for (const [re, name] of rules) {
    const m = ua.match(re);
    if (m) return `${name} ${m[1].replace(/_/g, '.')}`;
  }
  if (/Linux/.test(ua)) return 'Linux';
  return '';
}

// A device brand is knowable in a browser only for Apple platforms.
function brandOf(uad, ua) {
  const p = uad && uad.platform ? uad.platform : '';
  if (p === 'macOS' || p === 'iOS' || /iPhone|iPad|Macintosh/.test(ua)) return 'Apple';
  return '';
}
