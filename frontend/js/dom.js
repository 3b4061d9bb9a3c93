// Building DOM from data. Every string from the API becomes a text node, never markup.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function stateMessage(text, kind = "info") {
  return el("p", { class: "state", dataset: { state: kind } }, text);
}

export function usageBar(percentValue) {
  const level = percentValue >= 90 ? "crit" : percentValue >= 75 ? "warn" : "";
  const bar = el("div", { class: `bar ${level}` }, el("span"));
  bar.firstChild.style.width = `${Math.max(0, Math.min(100, percentValue ?? 0))}%`;
  return bar;
}

// The timers a page sets: all cleared when it goes, and none runs its work after that.
export function pageTimers() {
  const ids = new Set();
  let stopped = false;
  return {
    later(fn, ms) {
      const id = setTimeout(() => {
        ids.delete(id);
        if (!stopped) fn();
      }, ms);
      ids.add(id);
    },
    stop() {
      stopped = true;
      for (const id of ids) clearTimeout(id);
    },
  };
}
