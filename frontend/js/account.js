// The signed-in user: who, in what role, the session's CSRF token, and their dashboard
// settings (kept by the API, so they follow the user to any browser). The session itself is
// an HttpOnly cookie this code never sees.
import { config, getJson, sendJson } from "./api.js";

const DEFAULTS = Object.freeze({
  default_range: "live",
  charts: ["cpu", "cores", "memory", "load", "diskio", "net"],
  hidden_hosts: [],
});

// unknown: the API did not answer when asked who is signed in; asked again once it does.
export const account = { user: null, role: null, csrf: "", settings: DEFAULTS, unknown: false };

export function signedIn() {
  return account.user !== null;
}

// Signing in is for a dashboard without a token (a token already says what it may read), and
// only against its own API: the one config.json names, or its own origin's.
export function signInPossible() {
  return !config.token && config.ownApi;
}

export function settings() {
  return account.settings;
}

// Who the browser's cookie belongs to, if anyone. Never throws: a backend that is down is
// the pages' to report, and until it answers nobody is signed in.
export async function loadAccount() {
  if (!signInPossible()) return;
  try {
    remember(await getJson("api/v1/session"));
    account.settings = await getJson("api/v1/session/settings");
    account.unknown = false;
  } catch (error) {
    forget();
    account.unknown = error.backendDown;
  }
}

export async function signIn(user, password) {
  remember(await sendJson("POST", "api/v1/session", { user, password }));
  try {
    account.settings = await getJson("api/v1/session/settings");
  } catch {
    account.settings = DEFAULTS; // signed in all the same; the pages use the defaults
  }
}

export async function signOut() {
  try {
    await sendJson("DELETE", "api/v1/session", undefined, account.csrf);
  } finally {
    forget(); // an ended or unreachable session is signed out here all the same
  }
}

export async function saveSettings(changed) {
  account.settings = await sendJson("PUT", "api/v1/session/settings", changed, account.csrf);
}

// The session ended on the server (expired, or the user changed or removed).
export function sessionEnded() {
  forget();
}

function remember(session) {
  account.user = session.user;
  account.role = session.role;
  account.csrf = session.csrf;
}

function forget() {
  Object.assign(account, { user: null, role: null, csrf: "", settings: DEFAULTS });
}
