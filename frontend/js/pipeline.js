// The pipeline itself: whether it is healthy now (queues, dead letters, lag, the problems with
// their fix) and minute by minute over a range (ingest rate, latency and errors, aggregation,
// queue depths, dead letters, lag).
import { getJson } from "./api.js";
import { TimeChart, columnsFrame } from "./charts.js";
import { el, pageTimers, stateMessage } from "./dom.js";
import { SortableTable } from "./table.js";

export const PIPELINE_RANGES = [
  { id: "1h", label: "1 h", seconds: 3600, refreshMs: 30000 },
  { id: "6h", label: "6 h", seconds: 6 * 3600, refreshMs: 60000 },
  { id: "24h", label: "24 h", seconds: 86400, refreshMs: 60000 },
  { id: "7d", label: "7 d", seconds: 7 * 86400, refreshMs: 300000 },
];
const STATUS_REFRESH_MS = 10000;

const short = (v) => (Number.isInteger(v) || Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1));
// Counts are whole: a fractional axis tick (0.25 of a batch) gets no label.
const count = (v) => (Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(1)} k`
  : Number.isInteger(v) ? String(v) : "");
const millis = (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${short(v)} ms`);
const seconds = (v) => (v >= 120 ? `${(v / 60).toFixed(1)} min` : `${short(v)} s`);
const after = (name) => name.split(":")[1];

const CHARTS = [
  { id: "ingest", title: "Ingest: batches per minute", format: count, min: 0, max: 1,
    patterns: ["ingest_batches", "ingest_refused", "ingest_failed"],
    label: (n) => ({ ingest_batches: "accepted (2xx)", ingest_refused: "refused (4xx)",
      ingest_failed: "failed (5xx)" })[n] },
  { id: "samples", title: "Ingest: samples per minute", format: count, min: 0, max: 1,
    patterns: ["ingest_samples", "series_over_budget"],
    label: (n) => (n === "ingest_samples" ? "samples"
      : "values left out: series past the host's budget") },
  { id: "latency", title: "Ingest latency", format: millis, min: 0, max: 1,
    patterns: ["latency_p95_ms", "latency_avg_ms"],
    label: (n) => (n === "latency_p95_ms" ? "p95" : "average") },
  { id: "aggregate", title: "Aggregation: batches per minute", format: count, min: 0, max: 1,
    patterns: ["aggregate_stored", "aggregate_failed"],
    label: (n) => (n === "aggregate_stored" ? "stored" : "failed (retried)") },
  { id: "queues", title: "Queue depth", format: count, min: 0, max: 1,
    patterns: ["waiting:*", "in_flight:*"],
    label: (n) => `${after(n)} ${n.startsWith("waiting") ? "waiting" : "in flight"}` },
  { id: "dead", title: "Dead letters", format: count, min: 0, max: 1,
    patterns: ["dead_letters:*"], label: (n) => after(n) },
  { id: "lag", title: "Aggregate lag", format: seconds, min: 0, max: 1,
    patterns: ["lag_s"], label: () => "tiers behind ingest" },
];

// The API's columns as a chart frame: one time axis (s) and a column per name.
export function frameFromHistory(history) {
  const columns = new Map();
  for (const chart of CHARTS) {
    for (const name of chart.patterns) {
      if (!name.includes("*") && history[name]) columns.set(name, history[name]);
    }
  }
  for (const [queue, figures] of Object.entries(history.queues)) {
    for (const [figure, column] of Object.entries(figures)) {
      columns.set(`${figure}:${queue}`, column);
    }
  }
  return columnsFrame(history.minutes_ms.map((ms) => ms / 1000), columns);
}

function queueTable() {
  return new SortableTable([
    { key: "name", label: "Queue", className: "name" },
    { key: "waiting", label: "Waiting", num: true },
    { key: "in_flight", label: "In flight", num: true },
    { key: "delayed", label: "Delayed", num: true, hideNarrow: true },
    { key: "dead_letters", label: "Dead letters", num: true,
      render: (q) => (q.dead_letters ? el("span", { class: "count" }, q.dead_letters) : "0") },
    { key: "oldest_dead_letter_age_s", label: "Oldest dead letter", num: true,
      render: (q) => (q.oldest_dead_letter_age_s == null ? "–"
        : seconds(q.oldest_dead_letter_age_s)) },
  ], { sortKey: "name", rowKey: (q) => q.name, label: "Queues" });
}

export function pipelineView(app) {
  const params = new URLSearchParams(location.search);
  const rangeId = PIPELINE_RANGES.some((r) => r.id === params.get("range"))
    ? params.get("range") : "1h";
  const range = PIPELINE_RANGES.find((r) => r.id === rangeId);
  const charts = CHARTS.map((definition) => new TimeChart(definition));
  const queues = queueTable();
  const status = el("div", { class: "pipeline-status", id: "pipeline-status",
    "aria-live": "polite" }, stateMessage("Loading the pipeline…", "loading"));
  const queueBox = el("div", { id: "queues" });
  const chartState = el("div", { id: "chart-state" });
  const buttons = PIPELINE_RANGES.map((r) => el("button", {
    type: "button", "aria-pressed": String(r.id === rangeId), dataset: { range: r.id },
    onclick: () => app.go({ page: "pipeline", range: r.id }),
  }, r.label));
  const root = el("div", {},
    el("div", { class: "toolbar" }, el("h1", {}, "Pipeline"),
      el("div", { class: "ranges", role: "group", "aria-label": "Time range" }, buttons)),
    status,
    el("section", { class: "panel", "aria-label": "Queues" }, el("h2", {}, "Queues now"),
      queueBox),
    chartState,
    el("div", { class: "grid", style: "margin-top:12px" }, charts.map((c) => c.element)));

  const timers = pageTimers();
  const later = timers.later;

  function showStatus(answer) {
    const healthy = answer.status === "ok";
    const lag = answer.aggregate_lag_s == null ? "no lag measured (nothing ingested lately)"
      : `tiers ${seconds(answer.aggregate_lag_s)} behind ingest (bound `
        + `${seconds(answer.lag_bound_s)})`;
    status.dataset.status = answer.status;
    status.replaceChildren(
      el("p", { class: "verdict" }, el("span", { class: `dot ${healthy ? "live" : "down"}` }),
        el("b", {}, healthy ? "Healthy" : "Degraded"), ` · ${lag}`),
      ...(answer.problems.length
        ? [el("ul", { class: "problems" }, answer.problems.map((p) => el("li", {}, p)))]
        : []));
    const rows = Object.entries(answer.queues).map(([name, q]) => ({ name, ...q }));
    if (!rows.length) {
      queueBox.replaceChildren(stateMessage("This API watches no queues.", "empty"));
    } else {
      queues.update(rows);
      if (!queueBox.contains(queues.element)) queueBox.replaceChildren(queues.element);
    }
  }

  async function loadStatus() {
    try {
      showStatus(await getJson("api/v1/pipeline"));
      app.backendUp();
    } catch (error) {
      app.backendError(error);
    }
    later(loadStatus, STATUS_REFRESH_MS);
  }

  async function loadHistory() {
    const to = Date.now();
    const from = to - range.seconds * 1000;
    try {
      const answer = await getJson("api/v1/pipeline/history",
        { from: String(from), to: String(to) }, 30000);
      app.backendUp();
      const frame = frameFromHistory(answer);
      for (const chart of charts) chart.update(frame, [from / 1000, to / 1000]);
      const recorded = answer.ingest_batches.filter((v) => v !== null).length;
      chartState.replaceChildren(recorded ? "" : stateMessage(
        "No minute recorded in this range yet: the alerts schedule records one a minute.",
        "empty"));
    } catch (error) {
      app.backendError(error);
      later(loadHistory, 5000);
      return;
    }
    later(loadHistory, range.refreshMs);
  }

  return {
    element: root,
    title: "Pipeline",
    start() {
      app.connection("");
      loadStatus();
      loadHistory();
    },
    stop() {
      timers.stop();
      for (const chart of charts) chart.dispose();
    },
  };
}
