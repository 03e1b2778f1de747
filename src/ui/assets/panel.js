// The side panel: one node of a run (inputs, outputs, attempts, errors,
// logs, permissions), the members of a summary box, or the details of a
// box of the static view.

import { appLink, badge, el, formatMs, formatTime, getJson, visible } from "/assets/dom.js";

function section(heading, ...content) {
  return el("section", {}, el("h3", {}, heading), ...content);
}

function rows(pairs) {
  return el(
    "dl",
    {},
    pairs.filter(Boolean).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
  );
}

/** Shows the panel's hint. */
export function hint(panel, text) {
  panel.removeAttribute("data-panel");
  panel.replaceChildren(el("p", { class: "hint" }, text));
}

function valueBlock(runId, nodeId, v, onLineage, what) {
  const pre = el("pre", { class: "value" }, v.value === null ? "(not stored)" : v.value.text);
  const more = [];
  if (v.value?.truncated) {
    more.push(el("button", {
      class: "link",
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          const full = await getJson(`/api/values/${v.hash}`);
          pre.textContent = visible(full.text);
          e.target.remove();
        } catch (err) {
          e.target.textContent = `cannot load: ${err.message}`;
        }
      },
    }, "show all"));
  }
  more.push(el("button", {
    class: "link",
    title: "the executions that made this value and those that used it",
    onclick: () => onLineage({ runId, hash: v.hash, label: `${what} ${v.name} of ${nodeId}` }),
  }, "lineage"));
  const from = v.sources?.length
    ? el(
      "span",
      { class: "from" },
      ` ← ${v.sources.map((s) => s.output ? `${s.node}.${s.output}` : s.node).join(", ")}`,
    )
    : null;
  return el(
    "div",
    { class: "io", "data-io": `${what}:${v.name}` },
    el(
      "div",
      { class: "io-head" },
      el("span", { class: "name" }, v.name),
      from,
      el("span", { class: "hash", title: v.hash }, v.hash.slice(0, 12)),
      ...more,
    ),
    pre,
  );
}

function errorBlock(error) {
  const parts = [el("p", { class: "error-message" }, error.message)];
  if (error.cause) {
    parts.push(el("p", { class: "cause" }, `cause: ${error.cause.name}: ${error.cause.message}`));
  }
  if (error.stack) {
    parts.push(
      el("details", {}, el("summary", {}, "stack"), el("pre", { class: "stack" }, error.stack)),
    );
  }
  if (error.cause?.stack) {
    parts.push(
      el(
        "details",
        {},
        el("summary", {}, "stack of the cause"),
        el("pre", { class: "stack" }, error.cause.stack),
      ),
    );
  }
  return el("div", { class: "error-block" }, ...parts);
}

/** Shows one node of a run; returns the promise of its view. */
export async function nodePanel(panel, runId, nodeId, { onLineage, onNode, onSignal }) {
  panel.setAttribute("data-panel", "node");
  panel.setAttribute("data-node", nodeId);
  let n;
  try {
    n = await getJson(
      `/api/runs/${encodeURIComponent(runId)}/node?id=${encodeURIComponent(nodeId)}`,
    );
  } catch (e) {
    if (panel.getAttribute("data-node") !== nodeId) return;
    panel.replaceChildren(el("h2", {}, nodeId), el("p", { class: "error" }, e.message));
    return;
  }
  if (panel.getAttribute("data-node") !== nodeId) return;
  const took = n.startedAt !== null ? (n.finishedAt ?? Date.now()) - n.startedAt : null;
  const out = [
    el("h2", {}, n.id),
    el(
      "p",
      { class: "sub" },
      `${n.kind} ${n.entity} `,
      badge(n.state),
      n.replayed ? el("span", { class: "tag" }, "replayed") : null,
    ),
    section(
      "Execution",
      rows([
        ["started", formatTime(n.startedAt)],
        ["finished", formatTime(n.finishedAt)],
        [
          "took",
          took === null ? "-" : `${formatMs(took)}${n.finishedAt === null ? " so far" : ""}`,
        ],
        ["attempts", String(n.attempts)],
        n.parentId ? ["called by", n.parentId] : null,
        n.version ? ["version", n.version] : null,
        ["call", n.call],
      ]),
    ),
  ];
  const waitsFor = n.kind === "signal" && n.state === "running"
    ? n.inputs.find((v) => v.name === "name")?.value?.text
    : undefined;
  if (waitsFor !== undefined && onSignal) {
    out.push(el(
      "p",
      {},
      el("button", {
        class: "primary",
        "data-action": "signal",
        onclick: () => onSignal(waitsFor),
      }, `Send signal ${waitsFor}…`),
    ));
  }
  if (n.cachedFrom) {
    const [fromRun, ...rest] = n.cachedFrom.split("/");
    out.push(section(
      "Cache",
      el(
        "p",
        {},
        "result reused from ",
        appLink(
          `/runs/${encodeURIComponent(fromRun)}?node=${encodeURIComponent(rest.join("/"))}`,
          n.cachedFrom,
        ),
      ),
    ));
  }
  if (n.error) out.push(section("Error", errorBlock(n.error)));
  if (n.retries.length > 0) {
    out.push(section(
      "Earlier attempts",
      ...n.retries.map((r) =>
        el(
          "div",
          { class: "attempt" },
          el("p", { class: "attempt-head" }, `attempt ${r.attempt} · ${formatTime(r.time)}`),
          errorBlock(r.error),
        )
      ),
    ));
  }
  out.push(section(
    "Inputs",
    n.inputs.length === 0
      ? el("p", { class: "muted" }, n.status === "pending" ? "not known yet" : "none")
      : null,
    ...n.inputs.map((v) => valueBlock(runId, n.id, v, onLineage, "input")),
  ));
  out.push(section(
    "Outputs",
    n.outputs.length === 0
      ? el(
        "p",
        { class: "muted" },
        ["pending", "ready", "running"].includes(n.status) ? "none yet" : "none",
      )
      : null,
    ...n.outputs.map((v) => valueBlock(runId, n.id, v, onLineage, "output")),
  ));
  out.push(section(
    `Logs${n.logs.length ? ` (${n.logs.length})` : ""}`,
    n.logs.length === 0 ? el("p", { class: "muted" }, "no ctx.log lines") : el(
      "ol",
      { class: "logs" },
      ...n.logs.map((l) =>
        el(
          "li",
          { "data-log": "" },
          el(
            "span",
            { class: "time", title: formatTime(l.time) },
            n.startedAt !== null ? `+${formatMs(l.time - n.startedAt)}` : formatTime(l.time),
          ),
          l.attempt > 1 ? el("span", { class: "tag" }, `#${l.attempt}`) : null,
          el("span", { class: "message" }, l.message),
        )
      ),
    ),
  ));
  out.push(section(
    "Permissions",
    n.permissions === null
      ? el("p", { class: "muted" }, n.permissionsNote ?? "unknown")
      : Object.keys(n.permissions).length === 0
      ? el("p", {}, "none declared")
      : rows(Object.entries(n.permissions).map(([k, v]) => [k, v === true ? "all" : v.join(", ")])),
  ));
  if (n.options.length > 0) out.push(section("Declared options", rows(n.options)));
  if (n.parentId) {
    out.push(
      el(
        "p",
        {},
        el(
          "button",
          { class: "link", onclick: () => onNode(n.parentId) },
          `open the caller, ${n.parentId}`,
        ),
      ),
    );
  }
  panel.replaceChildren(...out);
  return n;
}

/** Shows the members of a summary box. */
export async function groupPanel(panel, runId, unit, { onNode }) {
  panel.setAttribute("data-panel", "group");
  panel.setAttribute("data-node", unit.key);
  const list = el("ol", { class: "members" });
  const head = [
    el("h2", {}, `${unit.group.entity} × ${unit.group.size.toLocaleString("en-US")}`),
    el(
      "p",
      { class: "sub" },
      `repeated calls of ${unit.kind} ${unit.group.entity}${
        unit.group.parentId ? ` by ${unit.group.parentId}` : ""
      }`,
    ),
    rows(Object.entries(unit.group.counts).map(([s, c]) => [s, c.toLocaleString("en-US")])),
    el("h3", {}, "Calls"),
    list,
  ];
  panel.replaceChildren(...head);
  let offset = 0;
  const more = el("button", { class: "link" }, "more");
  const load = async () => {
    const page = await getJson(
      `/api/runs/${encodeURIComponent(runId)}/group?key=${
        encodeURIComponent(unit.key)
      }&offset=${offset}&limit=200`,
    );
    for (const m of page.nodes) {
      list.append(el(
        "li",
        {},
        el(
          "button",
          { class: "member", "data-member-id": m.id, onclick: () => onNode(m.id) },
          badge(m.state),
          ` ${m.id}`,
          m.startedAt !== null && m.finishedAt !== null
            ? el("span", { class: "muted" }, ` ${formatMs(m.finishedAt - m.startedAt)}`)
            : null,
        ),
      ));
    }
    offset += page.nodes.length;
    if (offset < page.size) panel.append(more);
    else more.remove();
  };
  more.addEventListener("click", load);
  await load();
}

/** Shows the export's details of a static box. */
export function detailsPanel(panel, details, box) {
  panel.setAttribute("data-panel", box.nodeId !== undefined ? "node" : "box");
  panel.setAttribute("data-node", box.key);
  if (!details) {
    panel.replaceChildren(el("h2", {}, box.lines[0] ?? box.key));
    return;
  }
  panel.replaceChildren(
    el("h2", {}, details.title),
    el("p", { class: "sub" }, details.subtitle),
    ...details.sections.map((s) => section(s.heading, rows(s.rows))),
  );
}
