// A signed-in user's dashboard settings: the range host pages open with, the host page's
// charts and their order, and the hosts the fleet page leaves out.
import { saveSettings, settings, signedIn, signInPossible } from "./account.js";
import { getJson } from "./api.js";
import { el, stateMessage } from "./dom.js";
import { CHARTS, RANGES } from "./host.js";

function rangePicker(chosen) {
  return el("select", { id: "setting-range", "aria-label": "Host pages open with" },
    RANGES.filter((r) => r.id !== "custom").map((r) => el("option",
      { value: r.id, selected: r.id === chosen }, r.label)));
}

// The charts as a list to tick and reorder: the shown ones in their order, then the others.
function chartList(shown) {
  const order = [...shown, ...CHARTS.map((c) => c.id).filter((id) => !shown.includes(id))];
  const list = el("ol", { class: "chart-order", id: "setting-charts" });
  const move = (item, step) => {
    const sibling = step < 0 ? item.previousElementSibling : item.nextElementSibling;
    if (sibling) (step < 0 ? sibling.before(item) : sibling.after(item));
  };
  for (const id of order) {
    const title = CHARTS.find((c) => c.id === id).title;
    const item = el("li", { dataset: { chart: id } },
      el("label", {}, el("input", { type: "checkbox", checked: shown.includes(id) }), ` ${title}`),
      el("span", { class: "spacer" }),
      el("button", { type: "button", class: "icon", title: `Move ${title} up`,
        "aria-label": `Move ${title} up`, onclick: () => move(item, -1) }, "↑"),
      el("button", { type: "button", class: "icon", title: `Move ${title} down`,
        "aria-label": `Move ${title} down`, onclick: () => move(item, 1) }, "↓"));
    list.append(item);
  }
  return list;
}

function hostList(known, hidden) {
  const names = [...new Set([...known, ...hidden])].sort();
  if (!names.length) return stateMessage("No hosts yet.", "empty");
  return el("div", { class: "host-choices", id: "setting-hidden" }, names.map((name) =>
    el("label", {}, el("input", { type: "checkbox", value: name, checked: hidden.includes(name) }),
      ` ${name}`)));
}

export function settingsView(app) {
  const body = el("div", {}, stateMessage("Loading…", "loading"));
  const root = el("div", {}, el("div", { class: "toolbar" }, el("h1", {}, "Dashboard settings")),
    body);

  async function show() {
    if (!signedIn() && signInPossible()) {
      app.needSignIn("");
      return;
    }
    if (!signedIn()) {
      body.replaceChildren(stateMessage(
        "Settings belong to a signed-in user; this dashboard reads with a token.", "empty"));
      return;
    }
    let known = [];
    try {
      known = (await getJson("api/v1/hosts")).hosts.map((h) => h.host);
      app.backendUp();
    } catch (error) {
      app.backendError(error);
      return;
    }
    const current = settings();
    const range = rangePicker(current.default_range);
    const charts = chartList(current.charts);
    const hosts = hostList(known, current.hidden_hosts);
    const status = el("p", { class: "form-status", id: "settings-status", role: "status" });
    const form = el("form", { class: "settings", onsubmit: async (event) => {
      event.preventDefault();
      status.textContent = "Saving…";
      try {
        await saveSettings({
          default_range: range.value,
          charts: [...charts.querySelectorAll("li")]
            .filter((item) => item.querySelector("input").checked)
            .map((item) => item.dataset.chart),
          hidden_hosts: [...root.querySelectorAll("#setting-hidden input:checked")]
            .map((input) => input.value),
        });
        status.textContent = "Saved.";
      } catch (error) {
        status.textContent = `Not saved: ${error.detail}`;
        if (error.status === 401) app.backendError(error);
      }
    } },
    el("section", { class: "panel" }, el("h2", {}, "Host pages open with"), range),
    el("section", { class: "panel" }, el("h2", {}, "Charts on a host page, in this order"),
      charts),
    el("section", { class: "panel" }, el("h2", {}, "Hosts the fleet page leaves out"), hosts),
    el("div", { class: "toolbar" }, el("button", { type: "submit", class: "primary" }, "Save"),
      status));
    body.replaceChildren(form);
  }

  return {
    element: root,
    title: "Settings",
    start() {
      show();
    },
    stop() {},
  };
}
