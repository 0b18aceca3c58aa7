// The terminal's only way to the gateway: the public JSON API, with the operator's bearer token.
// The token lives in memory only, so closing or reloading the page ends the session locally.

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
}

export class Api {
  constructor() {
    this.token = null;
    this.operator = null;
    // Told when the session ends without a logout (it expired, or the server revoked it):
    // the page forgets what the operator left behind, as `logout` does.
    this.onSessionEnd = () => undefined;
    this.expiry = null;
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
    this.forget();
    this.onSessionEnd();
  }

  // Sign in. A session this page already holds is revoked once the new one is granted, so
  // signing in again (as someone else, say) leaves no live token behind; if the new sign-in
  // fails, the old session stays as it was.
  async signIn(username, password) {
    const previous = this.token;
    this.token = null;
    let result;
    try {
      result = await this.post("/api/v1/auth/login", { username, password });
    } catch (error) {
      this.token = previous;
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
    // request: an unattended terminal shows nothing of it to whoever comes next. By this
    // machine's clock; one so far ahead that the session looks over already leaves it to the
    // server's 401.
    const left = Date.parse(result.expires_at) - Date.now();
    if (left > 0) this.expiry = setTimeout(() => this.end(), left);
    return result;
  }

  async request(method, path, { body, headers } = {}) {
    const sent = { Accept: "application/json", ...headers };
    // The token this request carries: a 401 ends that session, not one signed in meanwhile.
    const token = this.token;
    if (token) sent.Authorization = `Bearer ${token}`;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("application/json") ? await response.json() : await response.text();
    if (!response.ok) {
      if (response.status === 401 && token && token === this.token) this.end();
      throw new ApiError(response.status, data, response.headers.get("X-Request-Id"));
    }
    return data;
  }

  get(path, query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
    }
    const suffix = params.toString();
    return this.request("GET", suffix ? `${path}?${suffix}` : path);
  }

  post(path, body, headers) {
    return this.request("POST", path, { body: body === undefined ? {} : body, headers });
  }
}
