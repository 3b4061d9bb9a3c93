// The dashboard's shell: configuration, theme, the page in the URL, and the states that every
// page shares (backend down, live connection).
import { config, loadConfig } from "./api.js";
import { el } from "./dom.js";
import { fleetView } from "./fleet.js";
import { hostView } from "./host.js";
import { pipelineView } from "./pipeline.js";

const view = document.getElementById("view");
const banner = document.getElementById("banner");
const badge = document.getElementById("connection");
const crumbs = document.getElementById("crumbs");
const pipelineLink = document.getElementById("pipeline-link");
let current = null;

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
    } else if (error.status === 401) {
      banner.textContent = "This API needs a read token: open the dashboard with ?token=… "
        + "or put it in config.json.";
    } else {
      banner.textContent = `The API refused a request: ${error.message}`;
    }
  },
  connection(state) {
    badge.dataset.state = state;
    badge.textContent = BADGE_TEXT[state] ?? "";
  },
};

// What a link keeps when it moves between pages: where the API is.
function keptParams() {
  const params = new URLSearchParams(location.search);
  return params.get("api") ? { api: params.get("api") } : {};
}

function route() {
  current?.stop();
  const params = new URLSearchParams(location.search);
  const host = params.get("host");
  const page = params.get("page");
  if (host) current = hostView(app, host);
  else if (page === "pipeline") current = pipelineView(app);
  else current = fleetView(app);
  const where = host ?? (page === "pipeline" ? "Pipeline" : null);
  crumbs.replaceChildren(...(where
    ? [el("a", { href: `?${new URLSearchParams(keptParams())}`, onclick: (event) => {
        event.preventDefault();
        app.go({});
      } }, "Fleet"), " / ", where]
    : []));
  pipelineLink.setAttribute("aria-current", page === "pipeline" && !host ? "page" : "false");
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
window.addEventListener("popstate", route);

applyTheme(localStorage.getItem("hostpulse-theme") ?? "auto");
await loadConfig();
route();
