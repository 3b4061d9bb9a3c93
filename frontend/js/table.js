// A sortable table: click a header to sort by it, again to reverse. Used by the fleet, the
// process list, the alert history and the pipeline. Cells are rendered from data with text
// nodes only.
//
// An update touches only what changed: each row keeps its element and the stamps of its cells
// (what a cell's drawing depends on: see stamps()), and only cells whose stamp differs are drawn
// again. From `virtualFrom` rows
// on, only the rows in and near the window are in the document, between two spacers, so a
// fleet of thousands costs what a screenful does.
import { el } from "./dom.js";

const collator = new Intl.Collator(undefined, { numeric: true });
const OVERSCAN = 15; // rows drawn above and below the window, so a scroll shows no gap
const ROW_HEIGHT = 37; // until a drawn row is measured

function missing(value) {
  return value === null || value === undefined;
}

export class SortableTable {
  constructor(columns, { sortKey, descending = false, rowKey, onRowClick, label,
    virtualFrom = Infinity } = {}) {
    this.columns = columns;
    this.sortKey = sortKey ?? columns[0].key;
    this.descending = descending;
    this.rowKey = rowKey ?? ((row) => row);
    this.onRowClick = onRowClick;
    this.virtualFrom = virtualFrom;
    this.rows = [];
    this.sorted = [];
    this.drawn = new Map(); // row key -> { tr, cells, stamps, row }
    this.rowHeight = 0;
    this.head = el("thead");
    this.body = el("tbody");
    this.table = el("table", { "aria-label": label }, this.head, this.body);
    this.element = el("div", { class: "table-wrap" }, this.table);
    this.before = this.spacer();
    this.after = this.spacer();
    this.scheduled = false;
    this.onScroll = () => {
      if (this.scheduled || this.sorted.length < this.virtualFrom) return;
      this.scheduled = true;
      requestAnimationFrame(() => {
        this.scheduled = false;
        this.draw();
      });
    };
    if (virtualFrom !== Infinity) {
      addEventListener("scroll", this.onScroll, { passive: true });
      addEventListener("resize", this.onScroll, { passive: true });
    }
    this.renderHead();
  }

  // The window's listeners go with the page that showed the table.
  stop() {
    removeEventListener("scroll", this.onScroll);
    removeEventListener("resize", this.onScroll);
  }

  spacer() {
    const cell = el("td", { colspan: this.columns.length, class: "spacer" });
    return el("tr", { class: "spacer", "aria-hidden": "true" }, cell);
  }

  renderHead() {
    const cells = this.columns.map((column) => {
      const sorted = column.key === this.sortKey;
      return el("th", {
        class: [column.num ? "num" : "", column.hideNarrow ? "hide-narrow" : ""].join(" ").trim(),
        dataset: { key: column.key },
        "aria-sort": sorted ? (this.descending ? "descending" : "ascending") : "none",
        scope: "col",
        onclick: () => this.sortBy(column.key),
      }, column.label);
    });
    this.head.replaceChildren(el("tr", {}, cells));
  }

  sortBy(key) {
    performance.mark("hostpulse:table-sort:start");
    if (key === this.sortKey) {
      this.descending = !this.descending;
    } else {
      this.sortKey = key;
      this.descending = Boolean(this.columns.find((c) => c.key === key)?.num);
    }
    this.renderHead();
    this.update(this.rows);
    performance.measure("hostpulse:table-sort", "hostpulse:table-sort:start");
  }

  value(row, column) {
    return column.value ? column.value(row) : row[column.key];
  }

  update(rows) {
    this.rows = rows;
    const column = this.columns.find((c) => c.key === this.sortKey) ?? this.columns[0];
    const direction = this.descending ? -1 : 1;
    // Each row's sort value once, not once per comparison.
    const keyed = rows.map((row) => ({ row, value: this.value(row, column) }));
    keyed.sort((a, b) => {
      const x = a.value;
      const y = b.value;
      if (x === y) return 0;
      if (missing(x)) return 1; // missing values last in both directions
      if (missing(y)) return -1;
      if (typeof x === "number" && typeof y === "number") return (x - y) * direction;
      return collator.compare(String(x), String(y)) * direction;
    });
    this.sorted = keyed.map((entry) => entry.row);
    const wanted = new Set(this.sorted.map(this.rowKey));
    for (const key of this.drawn.keys()) if (!wanted.has(key)) this.drawn.delete(key);
    this.draw();
  }

  // The rows to show: all of them, or the window's share of a long table.
  window() {
    const count = this.sorted.length;
    if (count < this.virtualFrom) return [0, count];
    const height = this.rowHeight || ROW_HEIGHT;
    const top = this.body.getBoundingClientRect().top; // the window's top is 0
    const first = Math.floor(-top / height) - OVERSCAN;
    const last = Math.ceil((innerHeight - top) / height) + OVERSCAN;
    const start = Math.max(0, Math.min(first, count - 1));
    return [start, Math.max(start, Math.min(count, last))];
  }

  draw() {
    const [start, end] = this.window();
    const virtual = this.sorted.length >= this.virtualFrom;
    const height = this.rowHeight || ROW_HEIGHT;
    const wanted = [];
    if (virtual) {
      this.before.firstChild.style.height = `${start * height}px`;
      this.after.firstChild.style.height = `${(this.sorted.length - end) * height}px`;
      this.table.setAttribute("aria-rowcount", String(this.sorted.length + 1));
      wanted.push(this.before);
    } else {
      this.table.removeAttribute("aria-rowcount");
    }
    for (let index = start; index < end; index += 1) {
      const tr = this.drawRow(this.sorted[index]);
      if (virtual) tr.setAttribute("aria-rowindex", String(index + 2));
      else tr.removeAttribute("aria-rowindex");
      wanted.push(tr);
    }
    if (virtual) wanted.push(this.after);
    this.place(wanted);
    if (virtual && !this.rowHeight && end > start) {
      this.rowHeight = wanted[1].getBoundingClientRect().height || 0;
    }
  }

  // The body's children become exactly ``wanted``, moving only rows out of place.
  place(wanted) {
    let cursor = this.body.firstChild;
    for (const tr of wanted) {
      if (cursor === tr) {
        cursor = cursor.nextSibling;
      } else {
        this.body.insertBefore(tr, cursor);
      }
    }
    while (cursor) {
      const next = cursor.nextSibling;
      cursor.remove();
      cursor = next;
    }
  }

  // What a cell's drawing depends on: its column's stamp, else, for a drawn cell, the row
  // itself (drawn again whenever the row is replaced), else its value.
  stamps(row) {
    return this.columns.map((column) => {
      if (column.stamp) return column.stamp(row);
      return column.render || column.title ? row : this.value(row, column);
    });
  }

  drawRow(row) {
    const key = this.rowKey(row);
    const stamps = this.stamps(row);
    let drawn = this.drawn.get(key);
    if (!drawn) {
      const cells = this.columns.map((column) => this.renderCell(row, column));
      drawn = { tr: this.renderRow(key, cells), cells, stamps, row };
      this.drawn.set(key, drawn);
      return drawn.tr;
    }
    drawn.row = row;
    stamps.forEach((stamp, index) => {
      if (Object.is(stamp, drawn.stamps[index])) return;
      const cell = this.renderCell(row, this.columns[index]);
      drawn.cells[index].replaceWith(cell);
      drawn.cells[index] = cell;
    });
    drawn.stamps = stamps;
    return drawn.tr;
  }

  renderCell(row, column) {
    const classes = [column.num ? "num" : "", column.className ?? "",
      column.hideNarrow ? "hide-narrow" : ""].join(" ").trim();
    const content = column.render ? column.render(row) : this.value(row, column);
    const title = column.title ? column.title(row) : undefined;
    return el("td", { class: classes || undefined, title }, content ?? "–");
  }

  renderRow(key, cells) {
    // The row's data as of its last update, not as of its first drawing.
    const current = () => this.drawn.get(key)?.row;
    const attributes = this.onRowClick
      ? { dataset: { href: "1" }, onclick: () => this.onRowClick(current()), tabindex: 0,
          onkeydown: (event) => event.key === "Enter" && this.onRowClick(current()) }
      : {};
    const tr = el("tr", attributes, cells);
    if (typeof key === "string" || typeof key === "number") tr.dataset.row = key;
    return tr;
  }
}
