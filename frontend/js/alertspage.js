// The Alerts page: what fires now, grouped by rule; the silences (an operator makes and ends
// them); and the history, filtered by rule, host and range. The filters live in the URL, so a
// link shows the same page.
import { account, signedIn } from "./account.js";
import { activeAlerts, alertGroups } from "./alerts.js";
import { getJson, sendJson } from "./api.js";
import { el, pageTimers, stateMessage } from "./dom.js";
import { age } from "./format.js";
import { SortableTable } from "./table.js";

const REFRESH_MS = 10000;
export const HISTORY_RANGES = [
  { id: "1h", label: "1 h" }, { id: "24h", label: "24 h" }, { id: "7d", label: "7 d" },
  { id: "30d", label: "30 d" },
];
const DURATIONS = ["30m", "1h", "2h", "4h", "8h", "1d", "7d"];
const MATCHER = /^([A-Za-z_][A-Za-z0-9_]*)(=~|!~|!=|=)(.*)$/;

const when = (ms) => (ms ? new Date(ms).toLocaleString() : "–");
const matcherText = (m) => `${m.name}${m.op}${m.value}`;

// "host=web-1 alertname=~Host.*": a silence's matchers, one a word.
export function parseMatchers(text) {
  return text.trim().split(/\s+/).filter(Boolean).map((word) => {
    const found = MATCHER.exec(word);
    if (!found) throw new Error(`“${word}” is not label=value (or !=, =~, !~)`);
    return { name: found[1], op: found[2], value: found[3] };
  });
}

function mayOperate() {
  return signedIn() && (account.role === "operator" || account.role === "admin");
}

export function alertsView(app) {
  const params = new URLSearchParams(location.search);
  const openGroups = new Set();
  const active = el("div", {}, stateMessage("Loading alerts…", "loading"));
  const silenceList = el("div", {}, stateMessage("Loading silences…", "loading"));
  const historyBody = el("div", {}, stateMessage("Loading history…", "loading"));
  const timers = pageTimers();

  // -- the filters of the history, in the URL ---------------------------------------------
  const ruleFilter = el("input", { type: "search", id: "history-rule", placeholder: "Rule",
    "aria-label": "History of this rule", value: params.get("rule") ?? "" });
  const hostFilter = el("input", { type: "search", id: "history-host", placeholder: "Host",
    "aria-label": "History of this host", value: params.get("on") ?? "" });
  const chosenRange = HISTORY_RANGES.some((r) => r.id === params.get("range"))
    ? params.get("range") : "24h";
  const rangePicker = el("select", { id: "history-range", "aria-label": "History range" },
    HISTORY_RANGES.map((r) => el("option", { value: r.id, selected: r.id === chosenRange },
      r.label)));
  const onFilter = () => {
    app.replaceParams({ rule: ruleFilter.value.trim() || null,
      on: hostFilter.value.trim().toLowerCase() || null, range: rangePicker.value });
    loadHistory();
  };
  ruleFilter.addEventListener("change", onFilter);
  hostFilter.addEventListener("change", onFilter);
  rangePicker.addEventListener("change", onFilter);

  const historyTable = new SortableTable([
    { key: "ts_ms", label: "When", num: true, render: (e) => when(e.ts_ms) },
    { key: "state", label: "State", render: (e) => el("span", { class: `event ${e.state}` },
      e.state) },
    { key: "rule", label: "Rule", render: (e) => el("a", {
      href: `?${new URLSearchParams({ page: "alerts", rule: e.rule, range: rangePicker.value })}`,
    }, e.rule) },
    { key: "host", label: "Host", render: (e) => (e.host
      ? el("a", { href: app.hostHref(e.host) }, e.host)
      : el("span", { class: "fleet" }, "fleet-wide")) },
    { key: "value", label: "Value", num: true,
      render: (e) => (e.value === null ? "–" : String(Math.round(e.value * 100) / 100)) },
    { key: "summary", label: "Summary", className: "wrap" },
  ], { sortKey: "ts_ms", descending: true, label: "Alert history",
       rowKey: (e) => `${e.ts_ms}-${e.rule}-${e.host}-${e.fingerprint ?? ""}-${e.state}` });

  // -- silences ----------------------------------------------------------------------------
  const silenceTable = new SortableTable([
    { key: "state", label: "State", render: (s) => el("span", { class: `event ${s.state}` },
      s.state) },
    { key: "matchers", label: "Matches", className: "wrap matchers",
      value: (s) => s.matchers.map(matcherText).join(" "),
      render: (s) => el("code", {}, s.matchers.map(matcherText).join(" ")) },
    { key: "comment", label: "Why", className: "wrap" },
    { key: "created_by", label: "By" },
    { key: "starts_ms", label: "From", num: true, render: (s) => when(s.starts_ms) },
    { key: "ends_ms", label: "Until", num: true,
      render: (s) => when(s.state === "expired" ? s.expired_ms : s.ends_ms) },
    { key: "end", label: "", render: (s) => (s.state !== "expired" && mayOperate()
      ? el("button", { type: "button", class: "link", dataset: { silence: String(s.id) },
        onclick: () => endSilence(s.id) }, "end now")
      : (s.expired_by ? `ended: ${s.expired_by}` : "")) },
  ], { sortKey: "ends_ms", descending: true, label: "Silences", rowKey: (s) => String(s.id) });

  const matchersInput = el("input", { id: "silence-matchers", required: true,
    placeholder: "host=web-1 alertname=~Host.*", "aria-label": "Silence what matches" });
  const durationPicker = el("select", { id: "silence-duration", "aria-label": "For" },
    DURATIONS.map((d) => el("option", { value: d, selected: d === "2h" }, d)));
  const commentInput = el("input", { id: "silence-comment", required: true,
    placeholder: "Why (kernel update…)", "aria-label": "Why" });
  const formError = el("p", { class: "form-error", id: "silence-error", role: "alert" });
  const form = el("form", { class: "silence-form", id: "silence-form", onsubmit: (event) => {
    event.preventDefault();
    addSilence();
  } }, matchersInput, durationPicker, commentInput,
  el("button", { type: "submit", class: "primary" }, "Silence"), formError);

  async function addSilence() {
    formError.textContent = "";
    try {
      const matchers = parseMatchers(matchersInput.value);
      await sendJson("POST", "api/v1/silences", { matchers, duration: durationPicker.value,
        comment: commentInput.value.trim() }, account.csrf);
      matchersInput.value = "";
      commentInput.value = "";
      await Promise.all([loadSilences(), loadActive()]);
    } catch (error) {
      formError.textContent = error.detail ?? error.message;
    }
  }

  async function endSilence(id) {
    try {
      await sendJson("DELETE", `api/v1/silences/${id}`, undefined, account.csrf);
      await Promise.all([loadSilences(), loadActive()]);
    } catch (error) {
      formError.textContent = error.detail ?? error.message;
    }
  }

  // A host's line in a group offers its silence: the form filled in with its rule and host.
  function silenceOffer(rule, host) {
    matchersInput.value = `alertname=${rule} host=${host}`;
    commentInput.focus();
  }

  async function loadActive() {
    const alerts = await activeAlerts();
    const groups = alertGroups(alerts, app.hostHref, openGroups,
      mayOperate() ? silenceOffer : null);
    active.replaceChildren(groups ?? stateMessage("Nothing fires, nothing is pending.", "empty"));
  }

  async function loadSilences() {
    const { silences } = await getJson("api/v1/silences", { days: 7 });
    if (!silences.length) {
      silenceList.replaceChildren(stateMessage("No silences this week.", "empty"));
      return;
    }
    silenceTable.update(silences);
    if (silenceList.firstChild !== silenceTable.element) {
      silenceList.replaceChildren(silenceTable.element);
    }
  }

  async function loadHistory() {
    try {
      const { events } = await getJson("api/v1/alerts/history", {
        from: `-${rangePicker.value}`, rule: ruleFilter.value.trim() || undefined,
        host: hostFilter.value.trim().toLowerCase() || undefined, limit: 1000 });
      if (!events.length) {
        historyBody.replaceChildren(stateMessage("No alert in this range.", "empty"));
        return;
      }
      historyTable.update(events);
      if (historyBody.firstChild !== historyTable.element) {
        historyBody.replaceChildren(historyTable.element);
      }
    } catch (error) {
      historyBody.replaceChildren(stateMessage(error.detail ?? error.message, "error"));
    }
  }

  async function refresh() {
    try {
      await Promise.all([loadActive(), loadSilences()]);
      app.backendUp();
    } catch (error) {
      app.backendError(error);
    }
    timers.later(refresh, REFRESH_MS);
  }

  const operate = mayOperate() ? form
    : el("p", { class: "notice", id: "silence-sign-in" },
      "Sign in as an operator to make or end a silence.");
  const root = el("div", { class: "alerts-page" },
    el("div", { class: "toolbar" }, el("h1", {}, "Alerts")),
    el("section", { class: "panel", id: "active-alerts" }, el("h2", {}, "Active"), active),
    el("section", { class: "panel", id: "silences" }, el("h2", {}, "Silences"), operate,
      silenceList),
    el("section", { class: "panel", id: "alert-history" }, el("h2", {}, "History"),
      el("div", { class: "toolbar" }, ruleFilter, hostFilter, rangePicker), historyBody));

  return {
    element: root,
    title: "Alerts",
    start() {
      refresh();
      loadHistory();
    },
    stop() {
      timers.stop();
    },
  };
}
