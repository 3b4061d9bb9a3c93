// Active alerts as a list of banners (fleet and host pages) and their history as chart markers.
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
  hostHref ? el("a", { href: hostHref(a.host) }, a.host) : el("span", {}, a.host),
  el("span", {}, a.annotations?.summary ?? ""),
  el("span", { class: "when" }, `since ${age(a.active_since_ms)}`)));
  return el("div", { class: "alerts", id: "alerts", "aria-label": "Active alerts" }, items);
}
