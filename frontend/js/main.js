// The dashboard's shell: configuration, theme, the page in the URL, and the states that every
// page shares (backend down, live connection).
import {
  account, loadAccount, sessionEnded, signedIn, signInPossible, signOut,
} from "./account.js";
import { alertsView } from "./alertspage.js";
import { config, loadConfig } from "./api.js";
import { el } from "./dom.js";
import { fleetView } from "./fleet.js";
import { hostView } from "./host.js";
import { pipelineView } from "./pipeline.js";
import { settingsView } from "./settings.js";
import { signInView } from "./signin.js";

const view = document.getElementById("view");
const banner = document.getElementById("banner");
const badge = document.getElementById("connection");
const crumbs = document.getElementById("crumbs");
const pipelineLink = document.getElementById("pipeline-link");
const alertsLink = document.getElementById("alerts-link");
const accountBox = document.getElementById("account");
let current = null;
let signInNotice = "";

const BADGE_TEXT = {
  live: "live",
  reconnecting: "reconnecting…",
  polling: "polling every 2 s",
  down: "backend down",
  history: "history",
};

const app = {
  hostHref(host) {
    return `?${new URLSearchParams({ ...keptParams(), host })}`;
  },
  go(params) {
    history.pushState(null, "", `?${new URLSearchParams({ ...keptParams(), ...params })}`);
    route();
  },
  replaceParams(changes) {
    const params = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) params.delete(key);
      else params.set(key, value);
    }
    history.replaceState(null, "", `?${params}`);
  },
  backendUp() {
    if (account.unknown) {
      // Down when the page opened: who is signed in is known only now.
      account.unknown = false;
      loadAccount().then(() => {
        renderAccount();
        if (signedIn()) route(); // with the user's settings
      });
    }
    if (!banner.hidden) {
      banner.hidden = true;
      banner.textContent = "";
      document.body.dataset.backend = "up";
      if (badge.dataset.state === "down") app.connection("");
    }
  },
  backendError(error) {
    banner.hidden = false;
    document.body.dataset.backend = error.backendDown ? "down" : "error";
    if (error.backendDown) {
      const where = config.apiBase || location.origin;
      banner.textContent = `The hostpulse API at ${where} is not answering (${error.message}). `
        + "Retrying every few seconds; this page recovers by itself.";
      app.connection("down");
    } else if (error.status === 401 && signInPossible()) {
      banner.hidden = true;
      app.needSignIn(signedIn() ? "Your sign-in has ended: sign in again." : "");
    } else if (error.status === 401) {
      banner.textContent = config.token
        ? "The API refused this dashboard's read token: check ?token=… or config.json."
        : "This API needs a read token: open the dashboard with ?token=… or put it in "
          + "config.json.";
    } else {
      banner.textContent = `The API refused a request: ${error.message}`;
    }
  },
  connection(state) {
    badge.dataset.state = state;
    badge.textContent = BADGE_TEXT[state] ?? "";
  },
  // A page the API will not show without a sign-in: the sign-in page takes its place, after
  // the page's own request handling is done, and the address stays for once signed in.
  needSignIn(notice) {
    if (signedIn()) sessionEnded();
    renderAccount();
    setTimeout(() => {
      if (current?.title !== "Sign in") show(signInView(app, notice), "Sign in");
    }, 0);
  },
  signedIn() {
    renderAccount();
    if (new URLSearchParams(location.search).get("page") === "sign-in") app.go({});
    else route();
  },
};

function navLink(id, page, text) {
  return el("a", { class: "navlink", id, href: `?${new URLSearchParams({ ...keptParams(), page })}`,
    onclick: (event) => {
      event.preventDefault();
      app.go({ page });
    } }, text);
}

function renderAccount() {
  if (signedIn()) {
    accountBox.replaceChildren(
      navLink("settings-link", "settings", "Settings"),
      el("span", { class: "who", id: "who", title: `Signed in as ${account.user} (${account.role})` },
        account.user),
      el("button", { type: "button", id: "sign-out", onclick: async () => {
        try {
          await signOut();
        } catch {
          // ended here all the same; the server's copy expires on its own
        }
        renderAccount();
        signInNotice = "Signed out.";
        app.go({ page: "sign-in" });
      } }, "Sign out"));
  } else {
    accountBox.replaceChildren(signInPossible() ? navLink("sign-in-link", "sign-in", "Sign in") : "");
  }
}

// What a link keeps when it moves between pages: where the API is.
function keptParams() {
  const params = new URLSearchParams(location.search);
  return params.get("api") ? { api: params.get("api") } : {};
}

const PAGES = {
  alerts: { view: alertsView, where: "Alerts" },
  pipeline: { view: pipelineView, where: "Pipeline" },
  settings: { view: settingsView, where: "Settings" },
  "sign-in": { view: (app) => signInView(app, signInNotice), where: "Sign in" },
};

function route() {
  const params = new URLSearchParams(location.search);
  // A host has one spelling, lower case, as the API keeps it: a link naming WEB-1 is web-1's page.
  const host = params.get("host")?.toLowerCase();
  const page = PAGES[params.get("page")];
  if (host) show(hostView(app, host), host);
  else if (page) show(page.view(app), page.where);
  else show(fleetView(app), null);
  signInNotice = "";
  pipelineLink.setAttribute("aria-current", params.get("page") === "pipeline" && !host
    ? "page" : "false");
  alertsLink.setAttribute("aria-current", params.get("page") === "alerts" && !host
    ? "page" : "false");
}

function show(next, where) {
  current?.stop();
  current = next;
  crumbs.replaceChildren(...(where
    ? [el("a", { href: `?${new URLSearchParams(keptParams())}`, onclick: (event) => {
        event.preventDefault();
        app.go({});
      } }, "Fleet"), " / ", where]
    : []));
  document.title = `${current.title} · hostpulse`;
  view.replaceChildren(current.element);
  view.setAttribute("aria-busy", "false");
  current.start();
}

const THEMES = ["auto", "light", "dark"];
function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const button = document.getElementById("theme");
  button.title = `Theme: ${theme === "auto" ? "follow the system" : theme}`;
  button.textContent = { auto: "◐", light: "☀", dark: "☾" }[theme];
}

document.getElementById("theme").addEventListener("click", () => {
  const theme = document.documentElement.dataset.theme;
  const next = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  localStorage.setItem("hostpulse-theme", next);
  applyTheme(next);
  route(); // charts take their colours when drawn
});

document.querySelector("[data-nav]").addEventListener("click", (event) => {
  event.preventDefault();
  app.go({});
});
pipelineLink.addEventListener("click", (event) => {
  event.preventDefault();
  app.go({ page: "pipeline" });
});
alertsLink.addEventListener("click", (event) => {
  event.preventDefault();
  app.go({ page: "alerts" });
});
window.addEventListener("popstate", route);

applyTheme(localStorage.getItem("hostpulse-theme") ?? "auto");
await loadConfig();
await loadAccount();
renderAccount();
route();
