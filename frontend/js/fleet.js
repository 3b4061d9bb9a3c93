// The fleet: every host at a glance, sortable, filtered by name, live to the second.
import { settings } from "./account.js";
import { alertGroups, activeAlerts } from "./alerts.js";
import { getJson } from "./api.js";
import { el, pageTimers, stateMessage, usageBar } from "./dom.js";
import { age, percent, number } from "./format.js";
import { LiveFeed } from "./live.js";
import { SortableTable } from "./table.js";

const REFRESH_MS = 5000;
const STATUS_ORDER = { down: 0, stale: 1, live: 2, retired: 3 };
const STATUSES = ["live", "stale", "down", "retired"];
// Past this many rows only the window's share of the fleet is in the document.
const VIRTUAL_FROM = 200;

function percentCell(value) {
  if (value === null || value === undefined) return "–";
  return el("div", { class: "cell-bar" }, el("span", {}, percent(value)), usageBar(value));
}

function glance(sample) {
  const disks = Object.entries(sample.m).filter(([name]) => name.startsWith("disk.percent:"));
  return {
    ts_ms: sample.ts,
    cpu_percent: sample.m["cpu.percent"] ?? null,
    mem_percent: sample.m["mem.percent"] ?? null,
    disk_percent: disks.length ? Math.max(...disks.map(([, v]) => v)) : null,
    load1: sample.m["load.1"] ?? null,
  };
}

export function fleetView(app) {
  const params = new URLSearchParams(location.search);
  const filter = el("input", {
    type: "search", placeholder: "Filter by name", value: params.get("q") ?? "",
    "aria-label": "Filter hosts by name", id: "filter",
  });
  const summary = el("span", { class: "summary", id: "fleet-summary" });
  // One status at a time, from a link of the summary (in the URL: ?status=down).
  let status = STATUSES.includes(params.get("status")) ? params.get("status") : null;
  // Hosts the user's settings leave out: counted, and one click away.
  const hidden = new Set(settings().hidden_hosts);
  let showHidden = false;
  const hiddenToggle = el("button", { type: "button", class: "link", id: "show-hidden",
    hidden: true, onclick: () => {
      showHidden = !showHidden;
      render();
    } });
  // Each column's stamp is what its cell shows: a live sample redraws only the cells it changed.
  const table = new SortableTable([
    { key: "status", label: "Status", value: (h) => STATUS_ORDER[h.status], stamp: (h) => h.status,
      render: (h) => [el("span", { class: `dot ${h.status}` }), h.status] },
    { key: "host", label: "Host", className: "name", title: (h) => h.host, stamp: (h) => h.host,
      render: (h) => el("a", { href: app.hostHref(h.host), onclick: (e) => e.preventDefault() },
        h.host) },
    { key: "alerts", label: "Alerts", num: true, value: (h) => firingOn(h.host),
      stamp: (h) => firingOn(h.host),
      render: (h) => (firingOn(h.host) ? el("span", { class: "count" }, firingOn(h.host)) : "") },
    { key: "cpu", label: "CPU", num: true, value: (h) => h.now?.cpu_percent,
      stamp: (h) => h.now?.cpu_percent, render: (h) => percentCell(h.now?.cpu_percent) },
    { key: "mem", label: "Memory", num: true, value: (h) => h.now?.mem_percent,
      stamp: (h) => h.now?.mem_percent, render: (h) => percentCell(h.now?.mem_percent) },
    { key: "disk", label: "Fullest disk", num: true, value: (h) => h.now?.disk_percent,
      stamp: (h) => h.now?.disk_percent, render: (h) => percentCell(h.now?.disk_percent) },
    { key: "load", label: "Load", num: true, hideNarrow: true, value: (h) => h.now?.load1,
      stamp: (h) => h.now?.load1, render: (h) => number(h.now?.load1) },
    { key: "seen", label: "Last seen", num: true, value: (h) => h.last_seen_ms,
      stamp: (h) => age(h.last_seen_ms), render: (h) => age(h.last_seen_ms) },
    { key: "complete", label: "Complete", num: true, hideNarrow: true,
      value: (h) => h.completeness?.percent, stamp: (h) => h.completeness?.percent,
      render: (h) => (h.completeness?.percent == null ? "–" : percent(h.completeness.percent)) },
    { key: "os", label: "OS", hideNarrow: true, value: (h) => h.facts?.os ?? "" },
    // The central agent configuration the host's agent runs (hostpulse agents config).
    { key: "config", label: "Config", num: true, hideNarrow: true,
      value: (h) => h.facts?.config_version ?? -1,
      render: (h) => (h.facts?.config_version == null ? "–" : `v${h.facts.config_version}`) },
  ], { sortKey: "host", rowKey: (h) => h.host, label: "Hosts", virtualFrom: VIRTUAL_FROM,
       onRowClick: (h) => app.go({ host: h.host }) });
  const body = el("div", {}, stateMessage("Loading hosts…", "loading"));
  const banner = el("div", { id: "alert-banner" });
  const root = el("div", {},
    el("div", { class: "toolbar" }, el("h1", {}, "Fleet"), filter, summary, hiddenToggle), banner, body);

  let hosts = [];
  let byName = new Map();
  let retiredHosts = [];
  let retiredCount = 0;
  let alerts = [];
  const openGroups = new Set();
  // Firing alerts per host, counted once per set of alerts, not once per row and column.
  let firing = new Map();
  const firingOn = (host) => firing.get(host) ?? 0;
  function countFiring() {
    firing = new Map();
    for (const a of alerts) if (a.state === "firing") firing.set(a.host, firingOn(a.host) + 1);
  }
  const timers = pageTimers();
  let feed = null;
  let dirty = false;

  function render() {
    dirty = false;
    performance.mark("hostpulse:fleet-update:start");
    const needle = filter.value.trim().toLowerCase();
    const hiddenCount = hosts.filter((h) => hidden.has(h.host)).length;
    const ofStatus = status === "retired" ? retiredHosts
      : status ? hosts.filter((h) => h.status === status) : hosts;
    const listed = showHidden ? ofStatus : ofStatus.filter((h) => !hidden.has(h.host));
    const shown = listed.filter((h) => h.host.toLowerCase().includes(needle));
    summary.replaceChildren(...statusSummary());
    hiddenToggle.hidden = hiddenCount === 0;
    hiddenToggle.textContent = showHidden
      ? `leave out the ${hiddenCount} hidden`
      : `${hiddenCount} hidden by your settings · show`;
    if (!hosts.length) {
      body.replaceChildren(stateMessage(
        "No hosts yet. Start an agent on a host (hostpulse-agent run) and it appears here.",
        "empty"));
      return;
    }
    if (!listed.length) {
      body.replaceChildren(stateMessage("Your settings hide every host.", "empty"));
      return;
    }
    if (!ofStatus.length) {
      body.replaceChildren(stateMessage(`No host is ${status}.`, "empty"));
      return;
    }
    if (!shown.length) {
      body.replaceChildren(stateMessage(`No host matches “${filter.value}”.`, "empty"));
      return;
    }
    table.update(shown);
    if (body.firstChild !== table.element) body.replaceChildren(table.element);
    performance.measure("hostpulse:fleet-update", "hostpulse:fleet-update:start");
  }

  // "N hosts · 3 live · 1 stale · 0 down · 2 retired", each status a link that shows only it
  // (and again, all of them).
  function statusSummary() {
    const counts = { live: 0, stale: 0, down: 0, retired: retiredCount };
    for (const h of hosts) counts[h.status] += 1;
    const links = STATUSES.filter((name) => name !== "retired" || counts.retired)
      .flatMap((name) => [" · ", el("a", {
        href: `?status=${name}`, class: `status-link${status === name ? " on" : ""}`,
        dataset: { status: name }, "aria-pressed": String(status === name),
        onclick: async (event) => {
          event.preventDefault();
          status = status === name ? null : name;
          app.replaceParams({ status });
          try {
            retiredHosts = status === "retired" ? await retiredList() : [];
          } catch (error) {
            app.backendError(error);
          }
          render();
        },
      }, `${counts[name]} ${name}`)]);
    return [`${hosts.length} hosts`, ...links];
  }

  async function retiredList() {
    return (await getJson("api/v1/hosts", { retired: "true" })).hosts;
  }

  async function refresh() {
    try {
      let fleet;
      [fleet, alerts, retiredHosts] = await Promise.all([
        getJson("api/v1/hosts"),
        activeAlerts(),
        status === "retired" ? retiredList() : [],
      ]);
      hosts = fleet.hosts;
      byName = new Map(hosts.map((h) => [h.host, h]));
      retiredCount = fleet.retired ?? 0;
      countFiring();
      app.backendUp();
      banner.replaceChildren(alertGroups(alerts, app.hostHref, openGroups) ?? "");
      render();
    } catch (error) {
      app.backendError(error);
    }
    timers.later(refresh, REFRESH_MS);
  }

  filter.addEventListener("input", () => {
    app.replaceParams({ q: filter.value || null });
    render();
  });

  return {
    element: root,
    title: "Fleet",
    start() {
      refresh();
      feed = new LiveFeed({
        onState: (state) => app.connection(state),
        onSamples: (host, samples) => {
          const entry = byName.get(host);
          if (!entry || !samples.length) return;
          const newest = samples[samples.length - 1];
          entry.now = glance(newest);
          entry.last_seen_ms = Math.max(entry.last_seen_ms ?? 0, newest.ts);
          entry.status = "live";
          if (!dirty) {
            dirty = true;
            requestAnimationFrame(render);
          }
        },
        poll: null, // the fleet already refreshes every few seconds
      }).start();
    },
    stop() {
      timers.stop();
      feed?.stop();
      table.stop();
    },
  };
}
