// Tiny DOM helpers. Text always goes in as text nodes (never innerHTML), so whatever users
// write is shown, never run.

/** h("a", {href: "#/", class: "x", onclick: fn}, "text", child, ...) -> an element */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((c) => c != null && c !== false));
  return element;
}

/** "3m", "2h", "5d" or a date, for createdAt timestamps. */
export function ago(iso) {
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 60) return "now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  if (seconds < 7 * 86400) return `${Math.floor(seconds / 86400)}d`;
  return new Date(iso).toLocaleDateString();
}

/** "1 comment", "3 comments" */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A message line that shows an error (or nothing). */
export function errorLine() {
  const line = h("p", { class: "error", role: "alert", hidden: true });
  line.show = (error) => {
    line.textContent = error ? String(error.message || error) : "";
    line.hidden = !error;
  };
  return line;
}

/**
 * Calls load() whenever `sentinel` scrolls into view, one call at a time, until load()
 * answers false (no more pages). The infinite scroll of every list.
 */
export function whenVisible(sentinel, load, cleanup) {
  let busy = false;
  let done = false;
  const observer = new IntersectionObserver(async (entries) => {
    if (busy || done || !entries.some((e) => e.isIntersecting)) return;
    busy = true;
    try {
      done = !(await load());
    } finally {
      busy = false;
    }
    if (done) observer.disconnect();
    else {
      // still in view after a short page: ask again
      observer.unobserve(sentinel);
      observer.observe(sentinel);
    }
  }, { rootMargin: "200px" });
  observer.observe(sentinel);
  cleanup.push(() => observer.disconnect());
}

/**
 * What a page must undo when the user leaves it (subscriptions, timers, observers):
 * cleanup.push(fn) while it is shown; main.js runs them all on navigation. A push after
 * that (a slow request finishing late) runs at once.
 */
export class Cleanup {
  #jobs = [];
  #done = false;

  push(job) {
    if (this.#done) job();
    else this.#jobs.push(job);
  }

  run() {
    this.#done = true;
    for (const job of this.#jobs.splice(0)) job();
  }

  get done() {
    return this.#done;
  }
}

/**
 * A list that loads page after page as the user scrolls: the shape of every connection
 * in the API. fetchPage(after) resolves to {edges: [{node}], pageInfo: {hasNextPage,
 * endCursor}}; render(node) makes a node's element. list.prepend(node) adds one on top
 * (something the user just made), which a later page will not repeat.
 */
export function pagedList(fetchPage, render, cleanup, { empty = "Nothing here yet.", end = "That is all." } = {}) {
  const items = h("div", { class: "items" });
  const status = h("p", { class: "muted sentinel" }, "Loading…");
  const seen = new Set();
  let after = null;
  let finished = false;
  const add = (node, first) => {
    if (!node || seen.has(node.id)) return; // a node that failed alone comes back null
    seen.add(node.id);
    if (first) items.prepend(render(node));
    else items.append(render(node));
  };
  whenVisible(
    status,
    async () => {
      try {
        const page = await fetchPage(after);
        for (const { node } of page.edges) add(node, false);
        after = page.pageInfo.endCursor;
        if (page.pageInfo.hasNextPage) return true;
        finished = true;
        status.textContent = seen.size ? end : empty;
        return false;
      } catch (error) {
        status.textContent = `Could not load this list: ${error.message}`;
        status.className = "error";
        return false;
      }
    },
    cleanup,
  );
  const list = h("section", { class: "paged" }, items, status);
  list.prepend = (node) => {
    add(node, true);
    if (finished) status.textContent = end;
  };
  return list;
}
