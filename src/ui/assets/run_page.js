// A run: its header and actions, its graph growing live, the timeline, the
// lineage of a value, and the panel of the node chosen.

import {
  appLink,
  badge,
  BENCH,
  confirmAction,
  el,
  formatMs,
  formatTime,
  getJson,
  listen,
  navigate,
  postJson,
  toast,
} from "/assets/dom.js";
import { GraphView } from "/assets/graph.js";
import { detailsPanel, groupPanel, hint, nodePanel } from "/assets/panel.js";
import { skeletonView } from "/assets/skeleton.js";
import { lineageView, timelineView } from "/assets/timeline.js";
import { renderWaits, signalDialog, waitedSignals } from "/assets/waits.js";

const STATES = ["succeeded", "cached", "running", "pending", "failed", "cancelled", "skipped"];

export function runPage(main, runId, info) {
  const closers = [];
  const head = el(
    "section",
    { class: "run-head" },
    el("h1", {}, runId),
    el("p", { class: "muted" }, "loading…"),
  );
  const tabs = el("div", { class: "tabs", role: "tablist" });
  const view = el("div", { class: "view" });
  const panel = el("aside", { class: "panel", "aria-live": "polite" });
  main.append(head, tabs, el("div", { class: "run-body" }, view, panel));
  hint(panel, "Click a node to see its inputs, outputs, attempts, logs and permissions.");

  let header = null;
  let shown = null; // { kind: "node", id } | { kind: "group", unit }
  let refetchAt = 0;
  let refetchTimer = null;
  const graphBox = el("div", { class: "tab-graph" });
  const timeBox = el("div", { class: "tab-timeline", hidden: true });
  const lineBox = el("div", { class: "tab-lineage", hidden: true });
  const skelBox = el("div", { class: "tab-skeleton", hidden: true });
  view.append(graphBox, timeBox, lineBox, skelBox);

  // The panel of a node that waits for a signal offers to send it, while the run goes on.
  const panelOptions = () => ({
    onLineage: openLineage,
    onNode: openNode,
    onSignal: info.actions.signal && (header?.status === "running" || header?.status === "sleeping")
      ? (name) => askSignal([name])
      : null,
  });
  const openNode = (id) => {
    shown = { kind: "node", id };
    graph.select(graph.units.has(id) ? id : null);
    return nodePanel(panel, runId, id, panelOptions());
  };
  const openUnit = (u) => {
    if (u === null) return;
    if (u.group) {
      shown = { kind: "group", unit: u };
      groupPanel(panel, runId, u, { onNode: openNode });
    } else if (u.nodeId !== undefined) openNode(u.nodeId);
  };
  const graph = new GraphView(graphBox, { onSelect: openUnit, live: true });
  const timeline = timelineView(timeBox, runId, { onSelect: (id) => openNode(id) });
  const lineage = lineageView(lineBox, {
    onNode: (r, id) =>
      r === runId
        ? openNode(id)
        : navigate(`/runs/${encodeURIComponent(r)}?node=${encodeURIComponent(id)}`),
    onValue: (ref) => openLineage(ref),
  });
  closers.push(() => timeline.close());
  const skeleton = skeletonView(skelBox, runId, {
    onSelect: (details, box) => {
      shown = null;
      detailsPanel(panel, details, box);
    },
  });
  closers.push(() => skeleton.close());

  const tabButtons = {};
  const showTab = (name) => {
    graphBox.hidden = name !== "graph";
    timeBox.hidden = name !== "timeline";
    lineBox.hidden = name !== "lineage";
    skelBox.hidden = name !== "skeleton";
    if (name === "skeleton") skeleton.show();
    else skeleton.hide();
    for (const [k, b] of Object.entries(tabButtons)) {
      b.setAttribute("aria-selected", String(k === name));
    }
    if (name === "timeline") timeline.show();
    else timeline.hide();
  };
  for (
    const [name, label] of [
      ["graph", "Graph"],
      ["timeline", "Timeline"],
      ["skeleton", "Skeleton"],
      ["lineage", "Lineage"],
    ]
  ) {
    tabButtons[name] = el(
      "button",
      { role: "tab", "data-tab": name, onclick: () => showTab(name) },
      label,
    );
    tabs.append(tabButtons[name]);
  }
  showTab("graph");

  function openLineage(ref) {
    showTab("lineage");
    lineage.load(ref);
  }

  // --- the header ----------------------------------------------------------
  const counts = el("span", { class: "counts" });
  const duration = el("span", { class: "duration" });
  const actions = el("span", { class: "actions" });
  const summary = el("div", { class: "summary" });
  const waitsBox = el("div", { class: "waits", "data-waits": "", hidden: true });
  let waits = null;
  let waitsAsked = 0;
  async function loadWaits() {
    const s = header?.status;
    if (s !== "running" && s !== "sleeping") {
      waits = null;
    } else {
      const asked = ++waitsAsked;
      try {
        const w = await getJson(`/api/runs/${encodeURIComponent(runId)}/waits`);
        if (asked !== waitsAsked) return;
        waits = w;
      } catch {
        return;
      }
    }
    renderWaits(waitsBox, waits);
    renderActions();
  }

  function renderCounts() {
    const c = graph.counts;
    counts.replaceChildren(
      ...STATES.filter((s) => c[s]).map((s) =>
        el("span", { class: `count ${s}`, title: s }, `${c[s].toLocaleString("en-US")} ${s}`)
      ),
    );
  }

  function renderDuration() {
    if (header === null) return;
    const end = header.finishedAt ?? (header.status === "running" ? Date.now() : null);
    duration.textContent = end === null
      ? ""
      : `took ${formatMs(end - header.startedAt)}${
        header.finishedAt === undefined || header.finishedAt === null ? " so far" : ""
      }`;
  }
  const ticker = setInterval(() => {
    if (header?.status === "running") renderDuration();
    if (waits !== null && (waits.wakeAt !== null || waits.status === "sleeping")) {
      renderWaits(waitsBox, waits);
    }
  }, 1000);
  closers.push(() => clearInterval(ticker));

  function actionButton(name, label, title, question, verb) {
    return el("button", {
      class: name === "cancel" ? "danger" : "primary",
      "data-action": name,
      title,
      onclick: async (e) => {
        if (!(await confirmAction(`${label} run ${runId}?`, question, verb))) return;
        e.target.disabled = true;
        try {
          const r = await postJson(`/api/runs/${encodeURIComponent(runId)}/${name}`);
          toast(r.message);
          if (r.runId !== runId) navigate(`/runs/${encodeURIComponent(r.runId)}`);
        } catch (err) {
          toast(err.message, "error");
        } finally {
          e.target.disabled = false;
        }
      },
    }, label);
  }

  async function askSignal(names) {
    const sent = await signalDialog(runId, names, async (name, value) => {
      const r = await postJson(`/api/runs/${encodeURIComponent(runId)}/signal`, { name, value });
      toast(r.message);
    });
    if (sent) loadWaits();
  }

  function renderActions() {
    const a = [];
    const s = header?.status;
    if (info.actions.cancel && s === "running") {
      a.push(
        actionButton(
          "cancel",
          "Cancel",
          "stop this run: running tasks are aborted, it stays resumable",
          "Running tasks are aborted; the run is recorded as cancelled and can be resumed later.",
          "Cancel the run",
        ),
      );
    }
    const signals = waitedSignals(waits);
    if (info.actions.signal && (s === "running" || s === "sleeping") && signals.length > 0) {
      a.push(el("button", {
        class: "primary",
        "data-action": "signal",
        title: `send a signal the run waits for (${signals.join(", ")}), as weft signal does`,
        onclick: () => askSignal(signals),
      }, "Send signal…"));
    }
    if (info.actions.resume && (s === "failed" || s === "cancelled")) {
      a.push(
        actionButton(
          "resume",
          "Resume",
          "run it again from its journal (weft resume)",
          "Completed steps are replayed from the journal; failed and interrupted ones run again (as weft resume does).",
          "Resume",
        ),
      );
    }
    if (info.actions.resume && s === "sleeping") {
      a.push(
        actionButton(
          "resume",
          "Resume",
          "continue it now in a process of this server (weft resume)",
          "The run continues in a process this server starts (weft resume): a signal sent is received, a sleep not yet over is waited out there.",
          "Resume",
        ),
      );
    }
    if (info.actions.rerun && s !== undefined && s !== "running" && header.script) {
      a.push(
        actionButton(
          "rerun",
          "Re-run",
          "a new run of the same script, entity and inputs",
          "A new run starts with the same script, entity and inputs.",
          "Start a new run",
        ),
      );
    }
    actions.replaceChildren(...a);
  }

  async function loadHeader() {
    try {
      header = await getJson(`/api/runs/${encodeURIComponent(runId)}`);
    } catch (e) {
      if (e.status === 404) {
        head.replaceChildren(
          el("h1", {}, runId),
          el(
            "p",
            { class: "muted", "data-waiting": "" },
            "This run has not started yet; the page follows it as soon as it does.",
          ),
        );
        return;
      }
      throw e;
    }
    const script = header.script ? header.script.replace(/^file:\/\//, "") : null;
    summary.replaceChildren(
      el(
        "details",
        {},
        el("summary", {}, "inputs"),
        el("pre", { class: "value" }, header.inputs.text),
      ),
      ...(header.outputs
        ? [
          el(
            "details",
            { open: true },
            el("summary", {}, "outputs"),
            el("pre", { class: "value" }, header.outputs.text),
          ),
        ]
        : []),
      ...header.errors.map((e) => el("p", { class: "error-message run-error" }, e.message)),
    );
    head.replaceChildren(
      el("div", { class: "title-row" }, el("h1", {}, header.id), badge(header.status), actions),
      el(
        "p",
        { class: "meta" },
        el("span", {}, `${header.kind} `, el("b", {}, header.entity)),
        script ? el("span", { class: "script", title: header.script }, script) : null,
        el("span", {}, `started ${formatTime(header.startedAt)}`),
        duration,
        header.attempts > 1 ? el("span", {}, `${header.attempts} attempts`) : null,
        counts,
      ),
      waitsBox,
      summary,
    );
    renderDuration();
    renderActions();
    renderCounts();
    loadWaits();
  }

  function refetchPanel() {
    if (shown === null) return;
    const wait = Math.max(0, refetchAt + 1000 - Date.now());
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(() => {
      refetchAt = Date.now();
      if (shown?.kind === "node") nodePanel(panel, runId, shown.id, panelOptions());
    }, wait);
  }
  closers.push(() => clearTimeout(refetchTimer));

  let first = true;
  let pending = [];
  function drawPending() {
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    const last = batch[batch.length - 1];
    const units = new Map();
    for (const d of batch) for (const u of d.units) units.set(u.key, u);
    const d = {
      units: [...units.values()],
      edges: batch.flatMap((x) => x.edges),
      total: last.total,
      width: last.width,
      height: last.height,
      run: batch.findLast((x) => x.run !== undefined)?.run,
    };
    const t0 = performance.now();
    graph.inFrame = true;
    graph.apply(d);
    graph.inFrame = false;
    renderCounts();
    if (BENCH) (globalThis.weftApply ??= []).push([d.units.length, performance.now() - t0]);
    if (d.run !== undefined || header === null) loadHeader();
    else if (d.units.some((u) => u.kind === "sleep" || u.kind === "signal")) loadWaits();
    if (shown?.kind === "node" && units.has(shown.id)) refetchPanel();
    timeline.changed();
    skeleton.changed();
  }
  closers.push(listen(`/api/runs/${encodeURIComponent(runId)}/events`, {
    waiting() {
      loadHeader();
    },
    snapshot(s) {
      pending = [];
      graph.reset(s);
      if (first) {
        graph.fit();
        if (graph.scale < 0.6) graph.setScale(0.6);
        first = false;
        const want = new URLSearchParams(location.search).get("node");
        if (want !== null) openNode(want);
      }
      renderCounts();
      loadHeader();
      timeline.changed();
      skeleton.changed();
    },
    delta(d) {
      // Drawn once a frame, however many arrive: a busy page falls behind by
      // a frame, not by a queue of deltas.
      pending.push(d);
      if (pending.length === 1) requestAnimationFrame(drawPending);
    },
  }));
  loadHeader();
  return () => closers.forEach((c) => c());
}

export { appLink };
