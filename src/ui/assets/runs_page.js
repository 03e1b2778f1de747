// Every run of the store, newest first: filters by status and entity,
// search by run id, pages, and rows that update when the store changes.

import { appLink, badge, el, formatMs, formatTime, getJson, listen } from "/assets/dom.js";

const STATES = ["succeeded", "cached", "running", "pending", "failed", "cancelled", "skipped"];

export function runsPage(main) {
  const params = new URLSearchParams(location.search);
  const status = el(
    "select",
    { "data-filter": "status", title: "status" },
    el("option", { value: "" }, "any status"),
    ...["running", "sleeping", "succeeded", "failed", "cancelled"].map((s) =>
      el("option", { value: s }, s)
    ),
  );
  status.value = params.get("status") ?? "";
  const entity = el(
    "select",
    { "data-filter": "entity", title: "entity" },
    el("option", { value: "" }, "any entity"),
  );
  const search = el("input", {
    type: "search",
    placeholder: "search run ids",
    "data-filter": "search",
    value: params.get("q") ?? "",
  });
  const body = el("tbody");
  const older = el("button", { "data-page": "older" }, "older →");
  const newer = el("button", { "data-page": "newer" }, "← newer");
  const note = el("span", { class: "muted" });
  main.append(
    el("div", { class: "filters" }, el("h1", {}, "Runs"), status, entity, search, note),
    el(
      "table",
      { class: "runs" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ...["run", "status", "entity", "script", "started", "duration", "tasks"].map((h) =>
            el("th", {}, h)
          ),
        ),
      ),
      body,
    ),
    el("div", { class: "pager" }, newer, older),
  );

  // Pages are reached by cursors: the stack holds where each earlier page began.
  const cursors = [];
  let cursor = null;
  let next = null;
  let loading = false;
  let again = false;

  async function loadEntities() {
    try {
      const names = await getJson("/api/entities");
      const keep = entity.value || params.get("entity") || "";
      entity.replaceChildren(
        el("option", { value: "" }, "any entity"),
        ...names.map((n) => el("option", { value: n }, n)),
      );
      entity.value = names.includes(keep) ? keep : "";
    } catch {
      // the list stays as it is
    }
  }

  async function load() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      const q = new URLSearchParams({ limit: "50" });
      if (status.value) q.set("status", status.value);
      if (entity.value) q.set("entity", entity.value);
      if (search.value.trim()) q.set("q", search.value.trim());
      if (cursor !== null) q.set("before", `${cursor.startedAt}:${cursor.id}`);
      const page = await getJson(`/api/runs?${q}`);
      next = page.next;
      body.replaceChildren(...page.runs.map(row));
      if (page.runs.length === 0) {
        body.append(
          el(
            "tr",
            {},
            el(
              "td",
              { colspan: 7, class: "muted" },
              cursor === null ? "No runs match." : "No more runs.",
            ),
          ),
        );
      }
      older.disabled = next === null;
      newer.disabled = cursors.length === 0;
      note.textContent = cursors.length === 0 ? "" : `page ${cursors.length + 1}`;
    } finally {
      loading = false;
      if (again) {
        again = false;
        load();
      }
    }
  }

  function row(r) {
    const end = r.finishedAt ?? (r.status === "running" ? Date.now() : null);
    const tasks = STATES.filter((s) => r.counts[s]).map((s) =>
      el("span", { class: `count ${s}`, title: s }, `${r.counts[s]} ${s}`)
    );
    const script = r.script ? r.script.replace(/^file:\/\/.*\//, "") : "";
    return el(
      "tr",
      { "data-run-id": r.id, "data-status": r.status },
      el("td", {}, appLink(`/runs/${encodeURIComponent(r.id)}`, r.id)),
      el(
        "td",
        {},
        badge(r.status),
        r.attempts > 1 ? el("span", { class: "muted" }, ` ×${r.attempts}`) : null,
        r.status === "sleeping"
          ? el(
            "span",
            { class: "muted wake", "data-wake": r.wakeAt ?? "" },
            r.wakeAt === undefined
              ? " until a signal"
              : r.wakeAt <= Date.now()
              ? " due"
              : ` until ${formatTime(r.wakeAt)}`,
          )
          : null,
      ),
      el("td", {}, r.entity),
      el("td", { class: "script", title: r.script ?? "" }, script),
      el("td", {}, formatTime(r.startedAt)),
      el("td", {}, end === null ? "-" : formatMs(end - r.startedAt)),
      el("td", { class: "tasks" }, ...tasks),
    );
  }

  const restart = () => {
    cursors.length = 0;
    cursor = null;
    const q = new URLSearchParams();
    if (status.value) q.set("status", status.value);
    if (entity.value) q.set("entity", entity.value);
    if (search.value.trim()) q.set("q", search.value.trim());
    const t = new URLSearchParams(location.search).get("token");
    if (t) q.set("token", t);
    history.replaceState(null, "", `/${q.size ? `?${q}` : ""}`);
    load();
  };
  status.addEventListener("change", restart);
  entity.addEventListener("change", restart);
  let typing = null;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(restart, 250);
  });
  older.addEventListener("click", () => {
    if (next === null) return;
    cursors.push(cursor);
    cursor = next;
    load();
  });
  newer.addEventListener("click", () => {
    if (cursors.length === 0) return;
    cursor = cursors.pop();
    load();
  });

  loadEntities().then(load);
  // The store changed (a run started, moved on or ended, here or in another process).
  let lastChange = 0;
  let pending = null;
  const stop = listen("/api/events", {
    changed() {
      if (pending !== null) return;
      pending = setTimeout(() => {
        pending = null;
        lastChange = Date.now();
        load();
        loadEntities();
      }, Math.max(0, lastChange + 1000 - Date.now()));
    },
  });
  return () => {
    stop();
    clearTimeout(pending);
    clearTimeout(typing);
  };
}
