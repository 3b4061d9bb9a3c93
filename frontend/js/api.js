// The API client: where the API is (same origin, config.json or ?api=), its token, and errors
// that say whether the backend is down (retry) or the request was wrong (do not).

const params = new URLSearchParams(location.search);

export const config = { apiBase: "", token: "", ownApi: true };

export async function loadConfig() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (response.ok) Object.assign(config, await response.json());
  } catch {
    // No config file: the API is on the same origin.
  }
  // A token belongs to one API: the one config.json names, or the one a link's ?token= came
  // with. A link whose ?api= points elsewhere gets no token it did not bring itself.
  const configured = { apiBase: config.apiBase, token: config.token };
  if (params.get("api")) config.apiBase = params.get("api");
  config.apiBase = (config.apiBase || "").replace(/\/+$/, "");
  const key = `hostpulse-token:${originOf(config.apiBase)}`;
  if (params.get("token")) sessionStorage.setItem(key, params.get("token"));
  const sameApi = originOf(config.apiBase) === originOf(configured.apiBase);
  config.token = sessionStorage.getItem(key) || (sameApi ? configured.token : "") || "";
  // Nor does it get a password: a sign-in form that posted to any ?api= would hand the user's
  // password to whoever made the link.
  config.ownApi = sameApi;
}

function originOf(base) {
  try {
    return new URL(base || location.href, location.href).origin;
  } catch {
    return "invalid";
  }
}

export class ApiError extends Error {
  constructor(message, status, detail = message) {
    super(message);
    this.status = status; // 0 when nothing answered
    this.detail = detail; // the API's own words
  }
  get backendDown() {
    return this.status === 0 || this.status >= 500;
  }
}

export function apiUrl(path, query = {}) {
  const base = config.apiBase || location.origin + location.pathname.replace(/[^/]*$/, "");
  const url = new URL(path.replace(/^\//, ""), base.endsWith("/") ? base : base + "/");
  for (const [key, value] of Object.entries(query)) {
    for (const item of [].concat(value)) {
      if (item !== undefined && item !== null && item !== "") url.searchParams.append(key, item);
    }
  }
  return url;
}

export function getJson(path, query = {}, timeoutMs = 10000) {
  return request("GET", path, { query, timeoutMs });
}

// A write: JSON in, JSON (or nothing, for a 204) out. A signed-in user's writes carry the
// session's CSRF token; the cookie alone never authorises one.
export function sendJson(method, path, body, csrf = "") {
  const headers = csrf ? { "X-CSRF-Token": csrf } : {};
  return request(method, path, { body, headers });
}

async function request(method, path, { query = {}, body, headers = {}, timeoutMs = 10000 }) {
  const sent = { ...headers };
  if (config.token) sent.Authorization = `Bearer ${config.token}`;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiUrl(path, query), {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      cache: "no-store",
      // A dashboard on another origin signs in with a cookie of the API's (docs/security.md).
      credentials: config.token ? "same-origin" : "include",
    });
  } catch (error) {
    throw new ApiError(`the API did not answer (${error.name})`, 0);
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const answer = await response.json();
      detail = typeof answer.detail === "string"
        ? answer.detail
        : JSON.stringify(answer.detail ?? answer);
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(`${response.status}: ${detail}`, response.status, detail);
  }
  return response.status === 204 ? null : response.json();
}

export function liveSocketUrl(hosts) {
  const url = apiUrl("api/v1/live", { host: hosts, token: config.token || undefined });
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url;
}
