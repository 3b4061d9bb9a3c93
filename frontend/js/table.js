// A sortable table: click a header to sort by it, again to reverse. Used by the fleet and the
// process list. Cells are rendered from data with text nodes only.
import { el } from "./dom.js";

export class SortableTable {
  constructor(columns, { sortKey, descending = false, rowKey, onRowClick, label } = {}) {
    this.columns = columns;
    this.sortKey = sortKey ?? columns[0].key;
    this.descending = descending;
    this.rowKey = rowKey;
    this.onRowClick = onRowClick;
    this.rows = [];
    this.head = el("thead");
    this.body = el("tbody");
    this.element = el("div", { class: "table-wrap" },
      el("table", { "aria-label": label }, this.head, this.body));
    this.renderHead();
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
    if (key === this.sortKey) {
      this.descending = !this.descending;
    } else {
      this.sortKey = key;
      this.descending = Boolean(this.columns.find((c) => c.key === key)?.num);
    }
    this.renderHead();
    this.update(this.rows);
  }

  value(row, column) {
    return column.value ? column.value(row) : row[column.key];
  }

  update(rows) {
    this.rows = rows;
    const column = this.columns.find((c) => c.key === this.sortKey) ?? this.columns[0];
    const direction = this.descending ? -1 : 1;
    const sorted = [...rows].sort((a, b) => {
      const x = this.value(a, column);
      const y = this.value(b, column);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1; // missing values last in both directions
      if (y === null || y === undefined) return -1;
      if (typeof x === "number" && typeof y === "number") return (x - y) * direction;
      return String(x).localeCompare(String(y), undefined, { numeric: true }) * direction;
    });
    this.body.replaceChildren(...sorted.map((row) => this.renderRow(row)));
  }

  renderRow(row) {
    const cells = this.columns.map((column) => {
      const classes = [column.num ? "num" : "", column.className ?? "",
        column.hideNarrow ? "hide-narrow" : ""].join(" ").trim();
      const content = column.render ? column.render(row) : this.value(row, column);
      const title = column.title ? column.title(row) : undefined;
      return el("td", { class: classes || undefined, title }, content ?? "–");
    });
    const attributes = this.onRowClick
      ? { dataset: { href: "1" }, onclick: () => this.onRowClick(row), tabindex: 0,
          onkeydown: (event) => event.key === "Enter" && this.onRowClick(row) }
      : {};
    const tr = el("tr", attributes, cells);
    if (this.rowKey) tr.dataset.row = this.rowKey(row);
    return tr;
  }
}
