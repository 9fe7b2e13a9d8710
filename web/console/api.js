// The one helper every request of the console goes through: JSON in and
// out, the session cookie (path /v1/console) sent same-origin, and the
// server's {"error": {"code", "message"}} turned into a thrown ApiError.

/** An error answered by the console API (or a network failure: status 0). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const unauthorizedListeners = new Set();

/** Calls fn(err) whenever a request (other than login) answers 401. */
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
}

/** True for the error fetch throws when its AbortSignal fires. */
export function isAbort(err) {
  return !!err && err.name === 'AbortError';
}

/**
 * encodeQuery builds a query string from an object, skipping empty values.
 * ':' is left readable (it is legal in queries and fragments), so string
 * room ids look like "s:demo".
 */
export function encodeQuery(query) {
  const parts = [];
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === '') continue;
    parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(String(v)).replace(/%3A/gi, ':'));
  }
  return parts.join('&');
}

/** Builds a URL for path plus query (also used for plain download links). */
export function apiURL(path, query) {
  const qs = encodeQuery(query);
  if (!qs) return path;
  return path + (path.includes('?') ? '&' : '?') + qs;
}

const fallbackMessages = {
  400: 'The server refused the request as invalid',
  401: 'Your session has ended; log in again',
  403: 'Your role does not allow this',
  404: 'Not found: this endpoint may not be available on this server yet',
  405: 'This server does not support this request yet',
  429: 'Too many requests; wait a moment and retry',
  500: 'The server failed to answer; retry',
  501: 'Not implemented on this server yet',
  502: 'The server is unreachable behind its proxy',
  503: 'The service is unavailable right now; retry later',
};

async function errorFrom(res) {
  let text = '';
  try {
    text = await res.text();
  } catch (e) {
    if (isAbort(e)) throw e;
  }
  let code = 'http_' + res.status;
  let message = '';
  if (text) {
    try {
      const body = JSON.parse(text);
      if (body && body.error && typeof body.error === 'object') {
        code = String(body.error.code || code);
        message = String(body.error.message || '');
      }
    } catch {
      // not JSON: a proxy page or Go's plain "404 page not found"
    }
  }
  if (!message) {
    message = (fallbackMessages[res.status] || 'The request failed') + ` (HTTP ${res.status}).`;
  }
  if (res.status === 429) {
    const after = res.headers.get('Retry-After');
    if (after && !/retry in/i.test(message)) message += ` Retry in ${after}s.`;
  }
  return new ApiError(res.status, code, message);
}

/**
 * api sends one request to the console API.
 *
 * options: method (GET), body (sent as JSON), query (object), signal,
 * as: 'json' (default: the parsed body, null when empty) | 'text' (the body
 * as a string) | 'response' (the Response, status checked).
 *
 * Throws ApiError for an HTTP error or a network failure, and rethrows the
 * AbortError of an aborted request (callers ignore it with isAbort).
 */
export async function api(path, options = {}) {
  const { method = 'GET', body, query, signal, as = 'json' } = options;
  const url = apiURL(path, query);
  const headers = { Accept: as === 'json' ? 'application/json' : '*/*' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, 'network', 'Could not reach the Parley server. Check that it is running, then retry.');
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && !path.endsWith('/login')) {
      for (const fn of unauthorizedListeners) {
        try {
          fn(err);
        } catch {
          // a listener's failure must not hide the request's error
        }
      }
    }
    throw err;
  }
  if (as === 'response') return res;
  const text = await res.text();
  if (as === 'text') return text;
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(res.status, 'bad_response', `The server answered ${path} with something that is not JSON.`);
  }
}
