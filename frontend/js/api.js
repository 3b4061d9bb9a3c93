// The API client: where the API is (same origin, config.json or ?api=), its token, and errors
// that say whether the backend is down (retry) or the request was wrong (do not).

const params = new URLSearchParams(location.search);

export const config = { apiBase: "", token: "" };

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
}

function originOf(base) {
  try {
    return new URL(base || location.href, location.href).origin;
  } catch {
    return "invalid";
  }
}

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status; // 0 when nothing answered
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

export async function getJson(path, query = {}, timeoutMs = 10000) {
  const headers = config.token ? { Authorization: `Bearer ${config.token}` } : {};
  let response;
  try {
    response = await fetch(apiUrl(path, query), {
      headers,
      signal: AbortSignal.timeout(timeoutMs),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(`the API did not answer (${error.name})`, 0);
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body);
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(`${response.status}: ${detail}`, response.status);
  }
  return response.json();
}

export function liveSocketUrl(hosts) {
  const url = apiUrl("api/v1/live", { host: hosts, token: config.token || undefined });
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url;
}
