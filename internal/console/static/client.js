// The console's calls to its own server: the control-plane operations at
// POST /console/api/<Operation> (same bodies and answers as the API), guarded by the session
// cookie and the CSRF token of /console/session.

let session = null;

/** An operation failed: code is the API's error type, status the HTTP status. */
export class OperationError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function failure(res) {
  let message = '';
  try {
    message = (await res.json()).message;
  } catch {
    // not JSON
  }
  return new OperationError(res.status, res.headers.get('x-amzn-ErrorType') || '', message);
}

export async function getConfig() {
  const res = await fetch('/console/config');
  if (!res.ok) throw await failure(res);
  return res.json();
}

/** The current session, or null when the console asks for a sign-in. */
export async function getSession(refresh = false) {
  if (session && !refresh) return session;
  const res = await fetch('/console/session');
  if (res.status === 401) return (session = null);
  if (!res.ok) throw await failure(res);
  return (session = await res.json());
}

export async function signIn(accessKeyId, secretAccessKey) {
  const res = await fetch('/console/sign-in', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ accessKeyId, secretAccessKey }),
  });
  if (!res.ok) throw await failure(res);
  return (session = await res.json());
}

export async function signOut() {
  const s = await getSession();
  await fetch('/console/sign-out', { method: 'POST', headers: { 'X-Csrf-Token': s ? s.csrfToken : '' } });
  session = null;
}

/** Runs a control-plane operation; resolves with its answer ({} for 204). */
export async function api(operation, body = {}) {
  const s = await getSession();
  if (!s) throw new OperationError(401, 'NotSignedIn', 'sign in first');
  const res = await fetch(`/console/api/${operation}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Csrf-Token': s.csrfToken },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  return res.status === 204 ? {} : res.json();
}
