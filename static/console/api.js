// Calls to the staff API (/staff/v1), and what a failed call says. The staff token is never seen here: the server
// keeps it in an HttpOnly cookie, and every call goes with `credentials: 'same-origin'`. Nothing is written to web
// storage or to cookies from here.

export const API = '/staff/v1';

// What to do when the server no longer knows the session (set once at start: the session module's `sessionEnded`).
let onSessionEnded = () => {};

export function whenSessionEnds(handler) {
  onSessionEnded = handler;
}

export class CallError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
    // True when the console already did what the error asks (the login page for a 401).
    this.handled = false;
  }
}

// One call to the staff API. The cookie goes along; the token is never in reach of this script. Answers the parsed
// body of a 2xx, or throws CallError with the server's message. A 401 (outside logging in) ends the session here.
export async function api(method, path, body, { authenticating = false } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (error) {
    throw new CallError(0, 'NETWORK', `网络错误 network error: ${error.message || error}`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = null; }
  }
  if (response.ok) return data;
  const code = data && typeof data.code === 'string' ? data.code : `HTTP_${response.status}`;
  let message = data && typeof data.message === 'string' ? data.message : `服务器返回 ${response.status}`;
  if (response.status === 403) message = `无权限 no permission: ${message}`;
  const error = new CallError(response.status, code, message);
  if (response.status === 401 && !authenticating) {
    onSessionEnded(message);
    error.handled = true;
  }
  throw error;
}
