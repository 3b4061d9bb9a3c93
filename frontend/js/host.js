// One host in depth: charts for the chosen range (live from the hot tier, history from the
// tier the API picks), disks, and the top processes.
import { settings } from "./account.js";
import { alertList, alertMarkers, activeAlerts } from "./alerts.js";
import { ApiError, getJson } from "./api.js";
import { LiveFrame, TimeChart, frameFromSeries } from "./charts.js";
import { el, pageTimers, stateMessage, usageBar } from "./dom.js";
import { age, bytes, duration, number, percent, rate } from "./format.js";
import { LiveFeed } from "./live.js";
import { SortableTable } from "./table.js";

export const RANGES = [
  { id: "live", label: "Live 5 min", seconds: 300 },
  { id: "1h", label: "1 h", seconds: 3600, refreshMs: 15000 },
  { id: "24h", label: "24 h", seconds: 86400, refreshMs: 60000 },
  { id: "7d", label: "7 d", seconds: 7 * 86400 },
  { id: "90d", label: "90 d", seconds: 90 * 86400 },
  { id: "custom", label: "Custom" },
];
const LIVE_SECONDS = 300;
const MAX_POINTS = 400; // about a chart's width in pixels: more points draw nothing more
const PROCESS_REFRESH_MS = 5000;

const suffix = (name) => name.split(":").slice(1).join(":");
export const CHARTS = [
  { id: "cpu", title: "CPU", format: (v) => `${v.toFixed(0)} %`, min: 0, max: 100,
    patterns: ["cpu.percent", "cpu.user", "cpu.system", "cpu.iowait", "cpu.steal"],
    label: (n) => (n === "cpu.percent" ? "total" : n.slice(4)) },
  { id: "cores", title: "CPU per core", format: (v) => `${v.toFixed(0)} %`, min: 0, max: 100,
    patterns: ["cpu.core:*"], label: (n) => `core ${suffix(n)}` },
  { id: "memory", title: "Memory and swap", format: (v) => `${v.toFixed(0)} %`, min: 0, max: 100,
    patterns: ["mem.percent", "swap.percent"], label: (n) => (n === "mem.percent" ? "memory" : "swap") },
  { id: "load", title: "Load average", format: (v) => number(v), min: 0,
    patterns: ["load.1", "load.5", "load.15"], label: (n) => `${n.slice(5)} min` },
  { id: "diskio", title: "Disk I/O", format: (v) => rate(v), min: 0,
    patterns: ["diskio.read_bytes_per_s:*", "diskio.write_bytes_per_s:*"],
    label: (n) => `${suffix(n)} ${n.includes("read") ? "read" : "write"}` },
  { id: "net", title: "Network", format: (v) => rate(v), min: 0,
    patterns: ["net.rx_bytes_per_s:*", "net.tx_bytes_per_s:*"],
    label: (n) => `${suffix(n)} ${n.includes(".rx_") ? "in" : "out"}` },
];

function processTable() {
  return new SortableTable([
    { key: "name", label: "Name", className: "name", title: (p) => p.cmdline || p.name },
    { key: "pid", label: "PID", num: true },
    { key: "user", label: "User", hideNarrow: true },
    { key: "cpu_percent", label: "CPU", num: true, render: (p) => percent(p.cpu_percent) },
    { key: "rss_bytes", label: "Memory", num: true, render: (p) => bytes(p.rss_bytes) },
    { key: "threads", label: "Threads", num: true },
    { key: "read_bytes_per_s", label: "Read", num: true, hideNarrow: true,
      render: (p) => rate(p.read_bytes_per_s) },
    { key: "write_bytes_per_s", label: "Write", num: true, hideNarrow: true,
      render: (p) => rate(p.write_bytes_per_s) },
    { key: "open_files", label: "Open files", num: true, hideNarrow: true },
    { key: "status", label: "Status", hideNarrow: true },
    { key: "cmdline", label: "Command", className: "cmd", hideNarrow: true,
      title: (p) => p.cmdline },
  ], { sortKey: "cpu_percent", descending: true, rowKey: (p) => String(p.pid),
       label: "Top processes" });
}

function toLocalInput(ms) {
  const date = new Date(ms - new Date().getTimezoneOffset() * 60000);
  return date.toISOString().slice(0, 16);
}

export function hostView(app, host) {
  const params = new URLSearchParams(location.search);
  // The range in the link, else the one the user chose to open with.
  const asked = params.get("range") ?? settings().default_range;
  const rangeId = RANGES.some((r) => r.id === asked) ? asked : "live";
  const range = RANGES.find((r) => r.id === rangeId);
  const shown = settings().charts.map((id) => CHARTS.find((c) => c.id === id)).filter(Boolean);
  const charts = shown.map((definition) => new TimeChart(definition));
  const processes = processTable();
  const tierLabel = el("span", { class: "summary", id: "tier", "aria-live": "polite" });
  const facts = el("div", { class: "facts", id: "facts" });
  const disks = el("div", { class: "disks", id: "disks" });
  const processBody = el("div", { id: "processes" }, stateMessage("Loading processes…"));
  const chartState = el("div", { id: "chart-state" });
  const alertBox = el("div", { id: "host-alerts" });

  const now = Date.now();
  const fromInput = el("input", { type: "datetime-local", "aria-label": "From",
    value: toLocalInput(Number(params.get("from")) || now - 3600000) });
  const toInput = el("input", { type: "datetime-local", "aria-label": "To",
    value: toLocalInput(Number(params.get("to")) || now) });
  const custom = el("div", { class: `custom ${rangeId === "custom" ? "open" : ""}` },
    fromInput, "–", toInput,
    el("button", { type: "button", onclick: () => app.go({
      host, range: "custom",
      from: String(new Date(fromInput.value).getTime()),
      to: String(new Date(toInput.value).getTime()),
    }) }, "Apply"));
  const buttons = RANGES.map((r) => el("button", {
    type: "button", "aria-pressed": String(r.id === rangeId), dataset: { range: r.id },
    onclick: () => (r.id === "custom"
      ? custom.classList.add("open")
      : app.go({ host, range: r.id })),
  }, r.label));

  const root = el("div", {},
    el("div", { class: "toolbar" }, el("h1", {}, host),
      el("div", { class: "ranges", role: "group", "aria-label": "Time range" }, buttons),
      custom, tierLabel),
    facts, alertBox, chartState,
    el("div", { class: "grid" }, charts.map((c) => c.element)),
    el("div", { class: "grid", style: "margin-top:12px" },
      el("section", { class: "panel", "aria-label": "Disks" }, el("h2", {}, "Disk usage"), disks)),
    el("section", { class: "panel", style: "margin-top:12px", "aria-label": "Top processes" },
      el("h2", {}, "Top processes"), processBody));

  const live = new LiveFrame();
  let feed = null;
  const timers = pageTimers();
  const later = timers.later;
  let drawPending = false;
  let liveEmpty = null; // what the chart state says now: touched only when it changes

  function drawLive() {
    drawPending = false;
    performance.mark("hostpulse:live-update:start");
    const cutoff = Date.now() - LIVE_SECONDS * 1000;
    live.dropBefore(cutoff);
    const window = [cutoff / 1000, Date.now() / 1000];
    for (const chart of charts) chart.update(live, window);
    if (liveEmpty !== !live.length) {
      liveEmpty = !live.length;
      chartState.replaceChildren(liveEmpty ? stateMessage(
        "No samples in the last 5 minutes: is the agent running?", "empty") : "");
    }
    // After uPlot's own deferred redraw (a microtask queued by the updates above).
    queueMicrotask(() => performance.measure("hostpulse:live-update", "hostpulse:live-update:start"));
  }

  function addSamples(fresh) {
    if (!live.append(fresh)) return;
    if (!drawPending) {
      drawPending = true;
      requestAnimationFrame(drawLive);
    }
  }

  // The host as the fleet lists it; null when it has sent nothing yet.
  async function hostEntry() {
    try {
      return await getJson(`api/v1/hosts/${encodeURIComponent(host)}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  async function loadFacts() {
    try {
      const entry = await hostEntry();
      app.backendUp();
      if (!entry) {
        facts.replaceChildren(el("span", {}, "This host has not sent anything yet."));
        return;
      }
      const f = entry.facts ?? {};
      const item = (label, value) => el("span", {}, `${label} `, el("b", {}, value ?? "–"));
      facts.replaceChildren(
        el("span", {}, el("span", { class: `dot ${entry.status}` }), el("b", {}, entry.status)),
        item("last seen", age(entry.last_seen_ms)),
        item("OS", [f.os, f.platform].filter(Boolean).join(" ") || "–"),
        item("cores", f.cpu_count),
        item("agent", f.agent_version),
        item("complete", entry.completeness?.percent == null ? "–"
          : percent(entry.completeness.percent)),
      );
    } catch (error) {
      app.backendError(error);
    }
    if (rangeId === "live") later(loadFacts, PROCESS_REFRESH_MS);
  }

  // The range now, in ms: a custom one as linked, the others ending now.
  function bounds() {
    const to = rangeId === "custom" ? Number(params.get("to")) || Date.now() : Date.now();
    const from = rangeId === "custom"
      ? Number(params.get("from")) || to - 3600000
      : to - range.seconds * 1000;
    return [from, to];
  }

  async function loadAlerts() {
    const [from, to] = bounds();
    try {
      const [active, markers] = await Promise.all([activeAlerts(), alertMarkers(host, from, to)]);
      alertBox.replaceChildren(alertList(active.filter((a) => a.host === host)) ?? "");
      for (const chart of charts) chart.setMarkers(markers);
    } catch (error) {
      app.backendError(error);
    }
    if (rangeId === "live" || range.refreshMs) later(loadAlerts, range.refreshMs ?? PROCESS_REFRESH_MS);
  }

  async function loadLatest() {
    try {
      const { sample } = await getJson(`api/v1/hosts/${encodeURIComponent(host)}/latest`);
      app.backendUp();
      const list = sample.processes ?? [];
      if (list.length) {
        processes.update(list);
        if (processBody.firstChild !== processes.element) processBody.replaceChildren(processes.element);
      } else {
        processBody.replaceChildren(stateMessage("No process data in the newest sample."));
      }
      const diskRows = (sample.disks ?? []).map((d) => el("div", { class: "row" },
        el("span", { class: "name", title: `${d.device} (${d.fstype})` }, d.mount),
        usageBar(d.percent), el("span", { class: "num" }, percent(d.percent))));
      disks.replaceChildren(...(diskRows.length ? diskRows : [el("span", { class: "summary" },
        sample.disks ? "No disks reported." : "Disk usage is shown while the host is live.")]));
    } catch (error) {
      if (error.status === 404) {
        processBody.replaceChildren(stateMessage("No recent snapshot of this host."));
        disks.replaceChildren(el("span", { class: "summary" }, "No recent snapshot."));
      } else {
        app.backendError(error);
      }
    }
    if (rangeId === "live") later(loadLatest, PROCESS_REFRESH_MS);
  }

  async function startLive() {
    tierLabel.textContent = "hot tier · as sent";
    tierLabel.dataset.tier = "hot";
    const path = `api/v1/hosts/${encodeURIComponent(host)}/recent`;
    try {
      addSamples((await getJson(path, { seconds: LIVE_SECONDS })).samples);
      app.backendUp();
      drawLive();
    } catch (error) {
      if (error.status === 404) {
        chartState.replaceChildren(stateMessage(`Unknown host “${host}”.`, "empty"));
        return;
      }
      app.backendError(error);
      later(startLive, 3000);
      return;
    }
    feed = new LiveFeed({
      hosts: [host],
      onState: (state) => app.connection(state),
      onSamples: (_, fresh) => addSamples(fresh),
      poll: async () => {
        const seconds = Math.min(LIVE_SECONDS, Math.ceil((Date.now() - live.lastTs) / 1000) + 5);
        const answer = await getJson(path, { seconds });
        app.backendUp();
        return [{ host, samples: answer.samples }];
      },
    }).start();
  }

  async function loadHistory() {
    if (!shown.length) {
      chartState.replaceChildren(stateMessage("No charts chosen: pick some in Settings.", "empty"));
      return;
    }
    const [from, to] = bounds();
    const metric = shown.flatMap((c) => c.patterns);
    try {
      const answer = await getJson("api/v1/series",
        { host, metric, from: String(from), to: String(to), max_points: MAX_POINTS }, 30000);
      app.backendUp();
      tierLabel.textContent = `${answer.tier} tier · step ${duration(answer.step_s)}`;
      tierLabel.dataset.tier = answer.tier;
      const frame = frameFromSeries(answer.series);
      for (const chart of charts) chart.update(frame, [from / 1000, to / 1000]);
      chartState.replaceChildren(frame.xs.length ? "" : stateMessage(
        "No data in this range.", "empty"));
    } catch (error) {
      if (error.status === 404 || error.status === 400) {
        chartState.replaceChildren(stateMessage(error.message, "empty"));
      } else {
        app.backendError(error);
        later(loadHistory, 3000);
        return;
      }
    }
    if (range.refreshMs) later(loadHistory, range.refreshMs);
  }

  return {
    element: root,
    title: host,
    start() {
      app.connection(rangeId === "live" ? "" : "history");
      loadFacts();
      loadLatest();
      loadAlerts();
      if (rangeId === "live") startLive();
      else loadHistory();
    },
    stop() {
      timers.stop();
      feed?.stop();
      for (const chart of charts) chart.dispose();
    },
  };
}
