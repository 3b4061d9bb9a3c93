// Active alerts grouped by rule (fleet page) or as a list (a host's page), and their history as
// chart markers.
import { getJson } from "./api.js";
import { el } from "./dom.js";
import { age } from "./format.js";

export async function activeAlerts() {
  return (await getJson("api/v1/alerts")).alerts;
}

export async function alertMarkers(host, fromMs, toMs) {
  const { events } = await getJson("api/v1/alerts/history",
    { host, from: String(fromMs), to: String(toMs + 1), limit: 500 });
  return events.filter((e) => e.state !== "pending");
}

export function alertList(alerts, hostHref) {
  if (!alerts.length) return null;
  const items = alerts.map((a) => el("div", {
    class: "alert", role: "status", dataset: { state: a.state, rule: a.rule, host: a.host },
  },
  el("b", {}, a.state === "firing" ? "FIRING" : "pending"),
  el("b", {}, a.rule),
  hostLink(a, hostHref), labelsApart(a),
  el("span", {}, a.annotations?.summary ?? ""),
  el("span", { class: "when" }, `since ${age(a.active_since_ms)}`)));
  return el("div", { class: "alerts", id: "alerts", "aria-label": "Active alerts" }, items);
}

const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };

// Active alerts grouped by rule, one line each (its severity, how many hosts, since when),
// opening onto its hosts: thirty silent hosts are one line, not thirty banners. ``open``: the
// rules whose group the user opened, kept across refreshes; ``offer(rule, host)``, when given,
// a host's "silence" button.
export function alertGroups(alerts, hostHref, open, offer = null) {
  if (!alerts.length) return null;
  const byRule = new Map();
  for (const a of alerts) {
    const group = byRule.get(a.rule) ?? { rule: a.rule, severity: a.severity, alerts: [] };
    group.severity ??= a.severity;
    group.alerts.push(a);
    byRule.set(a.rule, group);
  }
  const groups = [...byRule.values()].map((g) => ({
    ...g,
    firing: g.alerts.filter((a) => a.state === "firing"),
    since: Math.min(...g.alerts.map((a) => a.active_since_ms)),
  }));
  groups.sort((a, b) => (b.firing.length > 0) - (a.firing.length > 0)
    || (SEVERITY_RANK[a.severity] ?? 3) - (SEVERITY_RANK[b.severity] ?? 3)
    || b.alerts.length - a.alerts.length || a.rule.localeCompare(b.rule));
  return el("div", { class: "alerts", id: "alerts", "aria-label": "Active alerts" },
    groups.map((g) => alertGroup(g, hostHref, open, offer)));
}

function alertGroup(group, hostHref, open, offer) {
  const silenced = group.firing.filter((a) => a.silenced_by?.length).length;
  const pending = group.alerts.length - group.firing.length;
  const hosts = new Set(group.alerts.filter((a) => a.host).map((a) => a.host)).size;
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const where = hosts ? plural(hosts, "host") : "fleet-wide";
  const count = group.alerts.length === hosts
    ? where : `${plural(group.alerts.length, "alert")}, ${where}`;
  const parts = [
    el("b", {}, group.firing.length ? "FIRING" : "pending"),
    el("b", { class: "rule" }, group.rule),
    group.severity ? el("span", { class: `severity ${group.severity}` }, group.severity) : "",
    el("span", { class: "hosts" }, count),
    group.firing.length && pending ? el("span", { class: "when" }, `${pending} pending`) : "",
    silenced ? el("span", { class: "silenced" }, `${silenced} silenced`) : "",
    el("span", { class: "when" }, `since ${age(group.since)}`),
  ];
  const details = el("details", {
    class: "alert alert-group",
    dataset: { rule: group.rule, state: group.firing.length ? "firing" : "pending",
      hosts: String(hosts) },
    ontoggle: () => (details.open ? open.add(group.rule) : open.delete(group.rule)),
  }, el("summary", {}, parts), el("ul", { class: "alert-hosts" },
    [...group.alerts].sort(byUrgency).map((a) => alertHost(a, hostHref, offer))));
  details.open = open.has(group.rule);
  return details;
}

function hostLink(a, hostHref) {
  if (!a.host) return el("span", { class: "fleet" }, "fleet-wide");
  return hostHref ? el("a", { href: hostHref(a.host) }, a.host) : el("span", {}, a.host);
}

// A Prometheus rule's alert is a label set: what tells it apart from its rule's other alerts
// on the same host (a mount, a job), shown beside the host.
function labelsApart(a) {
  if (!a.rule_group) return "";
  const shown = Object.entries(a.labels ?? {})
    .filter(([name]) => !["alertname", "host", "severity"].includes(name))
    .map(([name, value]) => `${name}="${value}"`);
  return shown.length ? el("code", { class: "labels" }, `{${shown.join(", ")}}`) : "";
}

// Firing first, then pending, then silenced; by host within each.
function byUrgency(a, b) {
  const rank = (x) => (x.silenced_by?.length ? 2 : x.state === "firing" ? 0 : 1);
  return rank(a) - rank(b) || a.host.localeCompare(b.host, undefined, { numeric: true });
}

function alertHost(a, hostHref, offer) {
  const silenced = a.silenced_by?.length;
  const silence = offer && !silenced
    ? el("button", { type: "button", class: "link", onclick: () => offer(a.rule, a.host) },
      "silence…")
    : "";
  return el("li", { dataset: { host: a.host, state: silenced ? "silenced" : a.state } },
    hostLink(a, hostHref), labelsApart(a),
    el("span", {}, a.state === "firing" ? "" : "pending"),
    el("span", {}, a.annotations?.summary ?? ""),
    silenced ? el("span", { class: "silenced" }, `silenced (#${a.silenced_by.join(", #")})`) : "",
    el("span", { class: "when" }, `since ${age(a.active_since_ms)}`), silence);
}
