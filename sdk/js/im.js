// Parley browser SDK: messaging (docs/protocol.md "Messaging (IM)").
//
// The messenger keeps its own signaling connection (as the Go SDK's
// Messenger), logged in with im_login, so entering and leaving rooms never
// touches it. Per conversation it keeps a cursor — the last seq delivered —
// takes a push with seq = cursor + 1, holds a push further ahead and syncs
// the gap (im_sync, repeating while `more`), and after every (re)login
// lists the conversations (im_convs) and syncs each one whose last_seq is
// beyond its cursor. So 'message' sees every message once, in order.

import { ErrorCode, ParleyError } from './errors.js';
import { Signaler } from './signal.js';

const SYNC_PAGE = 100;
const RECONNECT_INITIAL_MS = 250;
const RECONNECT_MAX_MS = 10_000;
const OWN_IDS_MAX = 4096;

/** Converts a wire IMMessage to the SDK's camelCase shape. */
export function toMessage(m) {
  const out = {
    conv: m.conv,
    seq: m.seq,
    sender: m.sender || '',
    at: m.at,
    clientMsgId: m.client_msg_id || '',
    elements: Array.isArray(m.elements) ? m.elements : [],
    cloudCustomData: m.cloud_custom_data || '',
    needReadReceipt: Boolean(m.need_read_receipt),
    recalled: Boolean(m.recalled),
    recalledBy: m.recalled_by || '',
    erased: Boolean(m.erased),
    live: Boolean(m.live),
    text: '',
  };
  out.text = textOf(out.elements);
  return out;
}

/** The concatenated text of a message body's TIMTextElem elements. */
export function textOf(elements) {
  let s = '';
  if (!Array.isArray(elements)) return s;
  for (const e of elements) {
    if (e && e.MsgType === 'TIMTextElem' && e.MsgContent && typeof e.MsgContent.Text === 'string') s += e.MsgContent.Text;
  }
  return s;
}

/** A body of one text element. */
export function textElements(text) {
  return [{ MsgType: 'TIMTextElem', MsgContent: { Text: String(text) } }];
}

/** A random client message id: "js-" and 32 hex digits. */
export function newClientMsgId() {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return `js-${[...b].map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/** @internal The messaging session of a Parley client. */
export class Messenger {
  /**
   * @param {{url: string, logger: any, login: () => any, emit: (ev: string, payload: any) => void,
   *   onRefusal: (err: ParleyError) => void, userId: string, cursors?: Record<string, number>}} opts
   */
  constructor(opts) {
    this.o = opts;
    this.log = opts.logger;
    this.sig = null;
    this.loggedIn = false; // the app wants to be logged in (until logout/close)
    this.ready = null; // promise of a live connection while reconnecting
    this.readyResolve = null;
    /** @type {Map<string, {seen: number, syncing: boolean, held: Map<number, any>}>} */
    this.convs = new Map();
    this.own = new Set();
    this.ownOrder = [];
    this.generation = 0; // bumps per connection: results of an older one are void
    for (const [conv, seq] of Object.entries(opts.cursors || {})) {
      if (Number.isInteger(seq) && seq >= 0) this.convs.set(conv, { seen: seq, syncing: false, held: new Map() });
    }
  }

  /** Connects and logs in; the catch-up runs in the background. */
  async login() {
    this.loggedIn = true;
    try {
      this.attach(await this.dial());
    } catch (err) {
      this.loggedIn = false;
      throw err;
    }
  }

  async dial() {
    const sig = new Signaler(this.o.url, {
      logger: this.log,
      onFrame: (env) => this.onFrame(sig, env),
      onClose: (info) => this.onClose(sig, info),
    });
    await sig.open();
    try {
      const env = await sig.request('im_login', this.o.login());
      if (env.type !== 'im_logged_in') {
        throw new ParleyError(ErrorCode.PROTOCOL, `im_login answered with "${env.type}"`);
      }
    } catch (err) {
      sig.close();
      if (err instanceof ParleyError) this.o.onRefusal(err);
      throw err;
    }
    return sig;
  }

  attach(sig) {
    this.sig = sig;
    this.generation++;
    for (const cs of this.convs.values()) cs.syncing = false; // a sync on the old connection is void
    if (this.readyResolve) {
      this.readyResolve();
      this.readyResolve = null;
      this.ready = null;
    }
    this.catchUp(sig);
  }

  onClose(sig, info) {
    if (sig !== this.sig) return;
    this.sig = null;
    if (info.expected || !this.loggedIn) return;
    this.o.emit('imConnectionLost', {});
    this.ready = new Promise((resolve) => { this.readyResolve = resolve; });
    this.reconnect();
  }

  async reconnect() {
    let backoff = RECONNECT_INITIAL_MS;
    while (this.loggedIn) {
      await new Promise((r) => setTimeout(r, backoff / 2 + Math.random() * (backoff / 2)));
      if (!this.loggedIn) return;
      try {
        const sig = await this.dial();
        if (!this.loggedIn) {
          sig.close();
          return;
        }
        this.attach(sig);
        this.o.emit('imConnectionRecovered', {});
        return;
      } catch (err) {
        const permanent = err instanceof ParleyError && err.code !== ErrorCode.CONNECTION_LOST &&
          err.code !== ErrorCode.TIMEOUT && err.code !== ErrorCode.INTERNAL && err.code !== ErrorCode.RATE_LIMITED;
        if (permanent) {
          this.loggedIn = false;
          this.o.emit('error', err);
          if (this.readyResolve) this.readyResolve();
          return;
        }
        backoff = Math.min(backoff * 2, RECONNECT_MAX_MS);
      }
    }
  }

  /** The live connection, waiting through a reconnect. */
  async current() {
    for (;;) {
      if (!this.loggedIn) throw new ParleyError(ErrorCode.IM_NOT_LOGGED_IN, 'not logged in to messaging: call loginIM() first');
      if (this.sig && !this.sig.closed) return this.sig;
      if (!this.ready) this.ready = new Promise((resolve) => { this.readyResolve = resolve; });
      await this.ready;
    }
  }

  /**
   * An IM request on the current connection. With retry it is resent after
   * a lost connection (the request must be idempotent: sends are, by
   * client_msg_id).
   */
  async request(type, data, retry) {
    for (;;) {
      const sig = await this.current();
      try {
        const env = await sig.request(type, data);
        return env.data;
      } catch (err) {
        if (retry && err instanceof ParleyError && err.code === ErrorCode.CONNECTION_LOST && this.loggedIn) continue;
        throw err;
      }
    }
  }

  onFrame(sig, env) {
    if (sig !== this.sig) return;
    const d = env.data || {};
    switch (env.type) {
      case 'im_message':
        for (const m of Array.isArray(d.messages) ? d.messages : []) this.pushed(sig, m);
        break;
      case 'im_recalled':
        this.o.emit('recalled', toMessage(d));
        break;
      case 'im_receipt':
        if (d.user !== this.o.userId) this.o.emit('receipt', { conv: d.conv, user: d.user, readSeq: d.read_seq });
        break;
      case 'im_group_event':
        this.o.emit('groupEvent', { groupId: d.group_id, event: d.event, users: d.users || [] });
        break;
      case 'im_signal':
        this.o.emit('signal', { from: d.from, seq: d.seq, data: fromBase64(d.data || '') });
        break;
      case 'error': {
        const err = new ParleyError(Number.isInteger(d.code) ? d.code : ErrorCode.PROTOCOL, `messaging: ${d.message || 'server error'}`);
        if (err.code === ErrorCode.CONSENT_REQUIRED || err.code === ErrorCode.GUARDIAN_REQUIRED) {
          // The server ended this login (the account was cancelled or
          // its data deleted) and closes the socket: no reconnect, and
          // the consent gate closes.
          this.loggedIn = false;
          this.o.onRefusal(err);
        }
        this.o.emit('error', err);
        break;
      }
      default:
    }
  }

  conv(id) {
    let cs = this.convs.get(id);
    if (!cs) {
      cs = { seen: 0, syncing: false, held: new Map() };
      this.convs.set(id, cs);
    }
    return cs;
  }

  pushed(sig, m) {
    if (!m || typeof m.conv !== 'string' || !Number.isInteger(m.seq)) return;
    if (m.live) {
      this.deliver(m); // AVChatRoom: no history to sync against
      return;
    }
    const cs = this.conv(m.conv);
    if (m.seq <= cs.seen) return;
    if (m.seq === cs.seen + 1 && !cs.syncing) {
      this.advance(cs, m);
      this.drain(cs);
      return;
    }
    cs.held.set(m.seq, m);
    this.startSync(sig, m.conv, cs);
  }

  advance(cs, m) {
    cs.seen = m.seq;
    if (m.sender === this.o.userId && m.client_msg_id && this.own.has(m.client_msg_id)) return; // our own send
    this.deliver(m);
  }

  deliver(m) {
    this.o.emit('message', toMessage(m));
  }

  drain(cs) {
    for (;;) {
      const m = cs.held.get(cs.seen + 1);
      if (!m) break;
      cs.held.delete(m.seq);
      this.advance(cs, m);
    }
    for (const seq of [...cs.held.keys()]) if (seq <= cs.seen) cs.held.delete(seq);
  }

  startSync(sig, conv, cs) {
    if (cs.syncing) return;
    cs.syncing = true;
    const gen = this.generation;
    const after = cs.seen;
    sig.request('im_sync', { conv, after_seq: after, limit: SYNC_PAGE }).then(
      (env) => this.synced(sig, gen, conv, env.data || {}, null),
      (err) => this.synced(sig, gen, conv, null, err),
    );
  }

  synced(sig, gen, conv, page, err) {
    if (gen !== this.generation) return; // a newer connection restarted the catch-up
    const cs = this.conv(conv);
    cs.syncing = false;
    if (err) {
      if (err.code !== ErrorCode.CONNECTION_LOST) {
        this.o.emit('error', new ParleyError(err.code, `messaging sync failed: ${err.message}`, { cause: err }));
      }
      return; // the next push or reconnect retries
    }
    const msgs = Array.isArray(page.messages) ? page.messages : [];
    for (const m of msgs) {
      // seqs have no gaps; a jump means retention dropped what was before
      if (Number.isInteger(m.seq) && m.seq > cs.seen) this.advance(cs, m);
    }
    this.drain(cs);
    if (page.more || (cs.held.size > 0 && msgs.length > 0)) {
      this.startSync(sig, conv, cs);
      return;
    }
    if (cs.held.size > 0) {
      // nothing stored between the cursor and what is held: take it in order
      for (const seq of [...cs.held.keys()].sort((a, b) => a - b)) {
        this.advance(cs, cs.held.get(seq));
        cs.held.delete(seq);
      }
    }
  }

  catchUp(sig) {
    const gen = this.generation;
    sig.request('im_convs').then((env) => {
      if (gen !== this.generation) return;
      const list = env.data && Array.isArray(env.data.conversations) ? env.data.conversations : [];
      for (const c of list) {
        let cs = this.convs.get(c.conv);
        if (!cs) {
          // a conversation never seen here starts after the read cursor
          cs = { seen: c.read_seq || 0, syncing: false, held: new Map() };
          this.convs.set(c.conv, cs);
        }
        if (c.last_seq > cs.seen) this.startSync(sig, c.conv, cs);
      }
    }, (err) => {
      if (gen !== this.generation || !this.loggedIn) return;
      if (err.code !== ErrorCode.CONNECTION_LOST && err.code !== ErrorCode.IM_NOT_LOGGED_IN) {
        this.o.emit('error', new ParleyError(err.code, `messaging conversation list failed: ${err.message}`, { cause: err }));
      }
    });
  }

  /**
   * Marks messages up to seq as shown by the app (the newest history page):
   * 'message' continues after them, so history and live events never
   * overlap.
   */
  markShown(conv, seq) {
    const cs = this.conv(conv);
    if (seq > cs.seen) {
      cs.seen = seq;
      this.drain(cs);
    }
  }

  rememberOwn(id) {
    if (this.own.has(id)) return;
    this.own.add(id);
    this.ownOrder.push(id);
    if (this.ownOrder.length > OWN_IDS_MAX) this.own.delete(this.ownOrder.shift());
  }

  /** Last seq delivered per conversation (pass back as loginIM's cursors). */
  cursors() {
    const out = {};
    for (const [conv, cs] of this.convs) out[conv] = cs.seen;
    return out;
  }

  /** The live connection if any (for withdraw_consent). */
  liveSignaler() {
    return this.sig && !this.sig.closed ? this.sig : null;
  }

  async logout() {
    const sig = this.liveSignaler();
    this.loggedIn = false;
    let err = null;
    if (sig) {
      try {
        await sig.request('im_logout');
      } catch (e) {
        err = e;
      }
    }
    this.close();
    if (err && err.code !== ErrorCode.CONNECTION_LOST) throw err;
  }

  /** Drops the connection without logging out (the device keeps its push token). */
  close() {
    this.loggedIn = false;
    const sig = this.sig;
    this.sig = null;
    if (sig) sig.close();
    if (this.readyResolve) {
      this.readyResolve();
      this.readyResolve = null;
    }
  }
}

export function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

export function fromBase64(b64) {
  try {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  } catch {
    return new Uint8Array(0);
  }
}
