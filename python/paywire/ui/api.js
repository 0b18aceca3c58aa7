// The terminal's only way to the gateway: the public JSON API, with the operator's bearer token.
// The token lives in memory only, so closing or reloading the page ends the session locally.

// How long a request may take, its answer read to the end, before the page gives up on it.
const TIMEOUT_S = 30;

// A request that got no answer: the network failed, it timed out, or the operator aborted it.
// Whatever it asked for may or may not have been done.
export class Unanswered extends Error {}

// A request the operator aborted (Esc) before its answer came.
export class Aborted extends Unanswered {}

export class ApiError extends Error {
  constructor(status, body, requestId) {
    const error = body && typeof body === "object" && body.error ? body.error : null;
    super(error ? error.message : `HTTP ${status}`);
    this.status = status;
    this.code = error ? error.code : `HTTP_${status}`;
    this.details = error && Array.isArray(error.details) ? error.details : [];
    this.requestId = requestId;
  }

  // The error as terminal lines: status and code, each field problem, the request id to quote.
  lines() {
    const out = [`error ${this.status} ${this.code}: ${this.message}`];
    for (const d of this.details) {
      out.push(d && typeof d === "object" ? `  ${d.field ?? "?"}: ${d.message ?? ""}` : `  ${d}`);
    }
    if (this.requestId) out.push(`  (request id ${this.requestId})`);
    return out;
  }

  // An answer that is not JSON where JSON is due, or was cut off: its status and request id
  // are all there is to show and quote.
  static unreadable(status, requestId) {
    const message = "the gateway's answer could not be read (not JSON, or cut off)";
    const error = { code: "UNREADABLE_ANSWER", message };
    return new ApiError(status, { error }, requestId);
  }
}

// One request's end before its answer: the operator's abort (the running command's signal) or
// the timeout, whichever comes first; `signal.reason` is the error that tells which.
function deadline(command) {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Unanswered(`no answer from the gateway within ${TIMEOUT_S} s`)),
    TIMEOUT_S * 1000,
  );
  const abort = () => controller.abort(new Aborted("aborted"));
  if (command && command.aborted) abort();
  else if (command) command.addEventListener("abort", abort, { once: true });
  const done = () => {
    clearTimeout(timer);
    if (command) command.removeEventListener("abort", abort);
  };
  return { signal: controller.signal, done };
}

// The answer's body: the JSON the API sends, null for none (204), or the text of an error page
// from something in between (a proxy's 502). One that cannot be read is an ApiError that keeps
// the status and the request id, not a bare SyntaxError that loses both.
async function readBody(response, signal) {
  if (response.status === 204) return null;
  const unreadable = () => ApiError.unreadable(response.status, response.headers.get("X-Request-Id"));
  let text;
  try {
    text = await response.text();
  } catch {
    throw signal.aborted ? signal.reason : unreadable();
  }
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("application/json") && !response.ok) return text;
  try {
    return JSON.parse(text);
  } catch {
    throw unreadable();
  }
}

export class Api {
  constructor() {
    this.token = null;
    this.operator = null;
    // Told when the session ends without a logout (it expired, or the server revoked it):
    // the page forgets what the operator left behind, as `logout` does.
    this.onSessionEnd = () => undefined;
    this.expiry = null;
    // How many sessions have ended without a logout (`end`).
    this.ends = 0;
    // The running command's AbortSignal: its requests end with it (Esc). The watcher's polls
    // pass a signal of their own.
    this.signal = null;
  }

  get signedIn() {
    return this.token !== null;
  }

  forget() {
    this.token = null;
    this.operator = null;
    clearTimeout(this.expiry);
    this.expiry = null;
  }

  // The session is over: forgotten here, and the page told.
  end() {
    this.ends += 1;
    this.forget();
    this.onSessionEnd();
  }

  // Sign in. A session this page already holds is revoked once the new one is granted, so
  // signing in again (as someone else, say) leaves no live token behind; if the new sign-in
  // fails, the old session stays as it was.
  async signIn(username, password) {
    const previous = this.token;
    const ends = this.ends;
    this.token = null;
    let result;
    let answered;
    try {
      const body = { username, password };
      const login = await this.exchange("POST", "/api/v1/auth/login", { body });
      result = login.data;
      answered = Date.parse(login.headers.get("Date"));
    } catch (error) {
      if (this.ends === ends) this.token = previous; // unless it ended meanwhile (expired)
      throw error;
    }
    if (previous) {
      const revoke = { Authorization: `Bearer ${previous}` };
      await this.post("/api/v1/auth/logout", undefined, revoke).catch(() => undefined);
    }
    this.forget();
    this.token = result.token;
    this.operator = result.operator;
    // A session that expires while nobody types ends on the page too, not at the next
    // request: an unattended terminal shows nothing of it to whoever comes next. Its time left
    // is the gateway's (its expiry less the answer's Date): a workstation clock an hour ahead
    // would end every session early, one behind show it live after it has ended. Without a
    // Date (a proxy that drops it), by this machine's clock.
    const now = Number.isNaN(answered) ? Date.now() : answered;
    const left = Date.parse(result.expires_at) - now;
    if (left > 0) this.expiry = setTimeout(() => this.end(), left);
    return result;
  }

  async request(method, path, options) {
    return (await this.exchange(method, path, options)).data;
  }

  // The answer's body and its headers, for the callers that read a header too (a replayed
  // payment entry says so in one).
  async exchange(method, path, { body, headers, signal = this.signal } = {}) {
    const sent = { Accept: "application/json", ...headers };
    // The token this request carries: a 401 ends that session, not one signed in meanwhile.
    const token = this.token;
    if (token) sent.Authorization = `Bearer ${token}`;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    const limit = deadline(signal);
    try {
      const response = await fetch(path, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        signal: limit.signal,
      }).catch((error) => {
        if (limit.signal.aborted) throw limit.signal.reason;
        throw new Unanswered(`no answer from the gateway (${error.message})`);
      });
      let data;
      try {
        data = await readBody(response, limit.signal);
      } finally {
        // Once its answer is read: the session's end aborts the command this request is part of.
        if (response.status === 401 && token && token === this.token) this.end();
      }
      if (!response.ok) throw new ApiError(response.status, data, response.headers.get("X-Request-Id"));
      return { data, headers: response.headers };
    } finally {
      limit.done();
    }
  }

  get(path, query, signal) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
    }
    const suffix = params.toString();
    return this.request("GET", suffix ? `${path}?${suffix}` : path, { signal });
  }

  post(path, body, headers) {
    return this.request("POST", path, { body: body === undefined ? {} : body, headers });
  }
}
