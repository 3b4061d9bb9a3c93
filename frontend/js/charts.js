// Time-series charts on uPlot: one chart per card, series matched from metric names, sized to
// their container, coloured from the page's theme.
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { el } from "./dom.js";

const PALETTE = [
  "#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
  "#ea580c", "#4f46e5", "#059669", "#ca8a04", "#9333ea", "#0284c7", "#e11d48", "#57534e",
];

export function matches(pattern, name) {
  if (!pattern.includes("*")) return pattern === name;
  const [prefix, suffix] = pattern.split("*");
  return name.startsWith(prefix) && name.endsWith(suffix);
}

function themeColor(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

// A frame: one time axis (seconds), a column of values per metric (null where missing), and
// how many values each column holds, counted once as the frame is built (charts read it on
// every update). columnsFrame counts the columns built elsewhere.
export function columnsFrame(xs, columns) {
  const filled = new Map();
  for (const [name, column] of columns) filled.set(name, column.filter((v) => v !== null).length);
  return { xs, columns, filled };
}

export function frameFromSeries(series) {
  const times = new Set();
  for (const { points } of series) for (const point of points) times.add(point[0]);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const columns = new Map();
  const filled = new Map();
  for (const { metric, points } of series) {
    const column = new Array(xs.length).fill(null);
    for (const point of points) column[index.get(point[0])] = point[1];
    columns.set(metric, column);
    filled.set(metric, points.length);
  }
  return { xs: xs.map((t) => t / 1000), columns, filled };
}

// The live window's frame, kept sample by sample: appending a sample or dropping the oldest
// costs a step per metric, where rebuilding the frame for every sample cost the whole window.
export class LiveFrame {
  constructor() {
    this.xs = [];
    this.columns = new Map();
    this.filled = new Map(); // values (not nulls) per column: a metric gone from the window goes
    this.lastTs = 0;
    this.names = 0; // moves when a column comes or goes: charts pick their series again
  }

  get length() {
    return this.xs.length;
  }

  // Samples newer than the newest held, oldest first; how many were taken.
  append(samples) {
    let taken = 0;
    for (const sample of samples) {
      if (sample.ts <= this.lastTs) continue;
      const i = this.xs.length;
      this.xs.push(sample.ts / 1000);
      for (const [metric, value] of Object.entries(sample.m)) {
        let column = this.columns.get(metric);
        if (!column) {
          column = new Array(i).fill(null);
          this.columns.set(metric, column);
          this.filled.set(metric, 0);
          this.names += 1;
        }
        column.push(value);
        if (value !== null) this.filled.set(metric, this.filled.get(metric) + 1);
      }
      for (const column of this.columns.values()) if (column.length === i) column.push(null);
      this.lastTs = sample.ts;
      taken += 1;
    }
    return taken;
  }

  dropBefore(cutoffMs) {
    let n = 0;
    while (n < this.xs.length && this.xs[n] * 1000 < cutoffMs) n += 1;
    if (!n) return;
    this.xs.splice(0, n);
    for (const [metric, column] of this.columns) {
      // Counted in place: an update allocates nothing per column (the garbage collector's
      // pauses were a share of the slowest updates).
      let left = this.filled.get(metric);
      for (let k = 0; k < n; k++) if (column[k] !== null) left -= 1;
      column.splice(0, n);
      if (left) {
        this.filled.set(metric, left);
      } else {
        this.columns.delete(metric);
        this.filled.delete(metric);
        this.names += 1;
      }
    }
  }
}

// A value with no neighbour (a gap on each side) draws no line: mark it as a point instead, or
// a minute recorded between unrecorded ones would not show at all.
function isolatedPoints(u, seriesIndex, show) {
  if (show) return null;
  const ys = u.data[seriesIndex];
  const idxs = [];
  for (let i = 0; i < ys.length; i++) {
    if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) idxs.push(i);
  }
  return idxs.length ? idxs : null;
}

function naturalCompare(a, b) {
  return a.localeCompare(b, undefined, { numeric: true });
}

export class TimeChart {
  constructor({ id, title, patterns, label, format, min, max }) {
    this.id = id;
    this.patterns = patterns;
    this.label = label;
    this.format = format;
    this.range = { min, max };
    this.plot = null;
    this.names = [];
    this.picked = { frame: null, names: -1, found: [] }; // the last pick, kept while it holds
    this.markers = [];
    this.body = el("div", { class: "chart", dataset: { chart: id, points: "0" } });
    this.element = el("section", { class: "panel", "aria-label": title }, el("h2", {}, title),
      this.body);
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(this.body);
    // A chart off screen keeps its newest frame and draws it when it scrolls into view: a live
    // update redraws only what can be seen.
    this.visible = true;
    this.pending = null;
    this.seen = new IntersectionObserver((entries) => {
      this.visible = entries[entries.length - 1].isIntersecting;
      if (this.visible && this.pending) {
        const { frame, window } = this.pending;
        this.pending = null;
        this.draw(frame, window);
      }
    });
    this.seen.observe(this.element);
  }

  // The frame's series this chart draws. A live frame keeps its columns from one sample to the
  // next: they are matched again only when one comes or goes.
  pick(frame) {
    const { picked } = this;
    if (picked.frame === frame && picked.names === frame.names) return picked.found;
    const names = [];
    for (const pattern of this.patterns) {
      const found = [...frame.columns.keys()].filter((name) => matches(pattern, name));
      names.push(...found.sort(naturalCompare).filter((name) => !names.includes(name)));
    }
    this.picked = { frame, names: frame.names, found: names };
    return names;
  }

  update(frame, window) {
    // The newest time the chart holds (ms): what tests and the benchmark wait for.
    this.body.dataset.lastTs = frame.xs.length ? String(Math.round(frame.xs.at(-1) * 1000)) : "";
    if (!this.visible && this.plot) {
      this.pending = { frame, window };
      return;
    }
    this.draw(frame, window);
  }

  draw(frame, window) {
    const names = this.pick(frame);
    const data = [frame.xs, ...names.map((name) => frame.columns.get(name))];
    // Counted as the frame was built: a live update allocates nothing per value held.
    const points = String(names.reduce((sum, name) => sum + frame.filled.get(name), 0));
    if (this.body.dataset.points !== points) this.body.dataset.points = points;
    if (!names.length || !frame.xs.length) {
      this.destroy();
      this.body.replaceChildren(el("div", { class: "empty" }, "No data in this range"));
      return;
    }
    if (!this.plot || names.join("\n") !== this.names.join("\n")) {
      this.destroy();
      this.names = names;
      this.body.replaceChildren();
      this.plot = new uPlot(this.options(names), data, this.body);
    } else {
      this.plot.setData(data, false);
    }
    const [from, to] = window ?? [frame.xs[0], frame.xs[frame.xs.length - 1]];
    this.plot.setScale("x", { min: from, max: to });
  }

  options(names) {
    const text = themeColor("--muted");
    const grid = { stroke: themeColor("--grid"), width: 1 };
    const axis = { stroke: text, grid, ticks: grid };
    const yRange = (u, lo, hi) => [
      this.range.min ?? Math.min(0, lo ?? 0),
      this.range.max !== undefined ? Math.max(this.range.max, hi ?? 0) : Math.max(hi ?? 1, 1e-9),
    ];
    return {
      width: Math.max(200, this.body.clientWidth),
      height: 200,
      cursor: { points: { size: 6 } },
      legend: { live: true },
      scales: { x: { time: true }, y: { range: yRange } },
      hooks: { draw: [(u) => this.drawMarkers(u)] },
      axes: [axis, { ...axis, size: 84, values: (u, ticks) => ticks.map((v) => this.format(v)) }],
      series: [
        {},
        ...names.map((name, i) => ({
          label: this.label(name),
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: false,
          points: { filter: isolatedPoints },
          value: (u, v) => (v === null || v === undefined ? "–" : this.format(v)),
        })),
      ],
    };
  }

  // Alert transitions as vertical lines: firing in the alert colour, resolved in green.
  setMarkers(markers) {
    this.markers = markers;
    this.body.dataset.markers = String(markers.length);
    if (this.plot) this.plot.redraw(false);
  }

  drawMarkers(u) {
    if (!this.markers.length) return;
    const { ctx } = u;
    const { top, height } = u.bbox;
    ctx.save();
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
    for (const marker of this.markers) {
      const x = Math.round(u.valToPos(marker.ts_ms / 1000, "x", true));
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.strokeStyle = themeColor(marker.state === "resolved" ? "--live" : "--down");
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
    }
    ctx.restore();
  }

  fit() {
    if (this.plot && this.body.clientWidth) {
      this.plot.setSize({ width: this.body.clientWidth, height: 200 });
    }
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.names = [];
  }

  dispose() {
    this.resize.disconnect();
    this.seen.disconnect();
    this.destroy();
  }
}
