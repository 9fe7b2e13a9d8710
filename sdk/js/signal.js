// Parley browser SDK: one signaling WebSocket (docs/protocol.md "Frames").
//
// A Signaler sends frames {"type","id","data"}, matches replies to requests
// by id (ok, error, joined, answer, im_result, im_logged_in, pong,
// exit_room) and hands every other frame to onFrame, in order. It pings
// every 10 s (the server closes a connection idle for 30 s) and drops a
// connection whose ping goes unanswered for 10 s.

import { ErrorCode, ParleyError } from './errors.js';

export const PING_INTERVAL_MS = 10_000;
export const PING_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 10_000;
const MAX_FRAME_BYTES = 64 << 10;

const noop = () => {};

/** @internal */
export class Signaler {
  /**
   * @param {string} url ws:// or wss:// URL of /v1/signal
   * @param {{logger: any, onFrame?: (env: any) => void, onClose?: (info: {code: number, reason: string, expected: boolean}) => void}} opts
   */
  constructor(url, opts) {
    this.url = url;
    this.log = opts.logger;
    this.onFrame = opts.onFrame || noop;
    this.onClose = opts.onClose || noop;
    this.nextId = 0;
    /** @type {Map<number, {resolve: Function, reject: Function, timer: any, type: string}>} */
    this.pending = new Map();
    this.ws = null;
    this.closed = false;
    this.expectedClose = false;
    this.pingTimer = null;
  }

  /** Opens the socket; resolves once it is open. */
  open(timeoutMs = REQUEST_TIMEOUT_MS) {
    const WS = globalThis.WebSocket;
    if (typeof WS !== 'function') {
      return Promise.reject(new ParleyError(ErrorCode.UNSUPPORTED, 'this environment has no WebSocket'));
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      let ws;
      try {
        ws = new WS(this.url);
      } catch (err) {
        reject(new ParleyError(ErrorCode.BAD_REQUEST, `signaling URL refused: ${err && err.message}`, { cause: err }));
        return;
      }
      this.ws = ws;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.closed = true;
        try { ws.close(); } catch { /* already closing */ }
        reject(new ParleyError(ErrorCode.TIMEOUT, `signaling connection not open after ${timeoutMs} ms`));
      }, timeoutMs);
      ws.onopen = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
        resolve();
      };
      ws.onmessage = (ev) => this.receive(ev.data);
      ws.onerror = () => { /* a close event follows and says what happened */ };
      ws.onclose = (ev) => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          this.closed = true;
          reject(new ParleyError(ErrorCode.CONNECTION_LOST, `signaling connection failed (close code ${ev.code})`));
          return;
        }
        this.finish(ev.code, ev.reason || '');
      };
    });
  }

  receive(data) {
    if (typeof data !== 'string') {
      this.log.warn('parley: dropping a binary signaling frame');
      return;
    }
    let env;
    try {
      env = JSON.parse(data);
    } catch {
      this.log.warn('parley: dropping a signaling frame that is not JSON');
      return;
    }
    if (!env || typeof env.type !== 'string') {
      this.log.warn('parley: dropping a signaling frame without a type');
      return;
    }
    const id = env.id || 0;
    if (id && this.pending.has(id)) {
      const p = this.pending.get(id);
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (env.type === 'error') {
        p.reject(serverError(env.data, p.type));
      } else {
        p.resolve(env);
      }
      if (env.type !== 'exit_room') return;
    }
    try {
      this.onFrame(env);
    } catch (err) {
      this.log.error('parley: frame handler failed', err);
    }
  }

  /**
   * Sends a frame that expects no reply.
   * @param {string} type
   * @param {any} [data]
   */
  send(type, data) {
    this.write(type, 0, data);
  }

  /**
   * Sends a request and resolves with the reply envelope. An error reply
   * rejects with ParleyError(code, message).
   * @param {string} type
   * @param {any} [data]
   * @param {{timeout?: number}} [opt]
   */
  request(type, data, opt = {}) {
    const timeout = opt.timeout || REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const id = ++this.nextId;
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) {
          reject(new ParleyError(ErrorCode.TIMEOUT, `${type}: no reply within ${timeout} ms`, { requestType: type }));
        }
      }, timeout);
      this.pending.set(id, { resolve, reject, timer, type });
      try {
        this.write(type, id, data);
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(err);
      }
    });
  }

  write(type, id, data) {
    if (this.closed || !this.ws || this.ws.readyState !== 1) {
      throw new ParleyError(ErrorCode.CONNECTION_LOST, `${type}: the signaling connection is closed`, { requestType: type });
    }
    const env = { type };
    if (id) env.id = id;
    if (data !== undefined && data !== null) env.data = data;
    const text = JSON.stringify(env);
    if (text.length > MAX_FRAME_BYTES) {
      throw new ParleyError(ErrorCode.BAD_REQUEST, `${type}: frame is ${text.length} bytes, at most ${MAX_FRAME_BYTES}`, { requestType: type });
    }
    this.ws.send(text);
  }

  ping() {
    if (this.closed) return;
    this.request('ping', undefined, { timeout: PING_TIMEOUT_MS }).catch((err) => {
      if (err.code === ErrorCode.TIMEOUT && !this.closed) {
        this.log.warn('parley: signaling ping unanswered, dropping the connection');
        this.close(4000, 'ping timeout', false);
      }
    });
  }

  /**
   * Closes the socket. expected=true marks a close the SDK wanted (leave,
   * stop), so onClose does not report a lost connection.
   */
  close(code = 1000, reason = 'client closed', expected = true) {
    if (expected) this.expectedClose = true;
    if (this.closed) return;
    const ws = this.ws;
    try {
      if (ws && ws.readyState < 2) ws.close(code === 1000 || (code >= 3000 && code < 5000) ? code : 1000, reason);
    } catch { /* closing anyway */ }
    this.finish(code, reason);
  }

  finish(code, reason) {
    if (this.closed && this.pending.size === 0 && !this.pingTimer) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.ws) {
      this.ws.onmessage = null;
      this.ws.onclose = null;
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new ParleyError(ErrorCode.CONNECTION_LOST, `${p.type}: the signaling connection closed before the reply`, { requestType: p.type }));
    }
    try {
      this.onClose({ code, reason, expected: this.expectedClose });
    } catch (err) {
      this.log.error('parley: close handler failed', err);
    }
  }
}

/** Turns an error frame's data into a ParleyError. */
export function serverError(data, requestType) {
  const code = data && Number.isInteger(data.code) ? data.code : ErrorCode.PROTOCOL;
  const message = data && typeof data.message === 'string' ? data.message : 'the server refused the request';
  const err = new ParleyError(code, requestType ? `${requestType}: ${message}` : message, { requestType });
  err.serverMessage = message;
  return err;
}
