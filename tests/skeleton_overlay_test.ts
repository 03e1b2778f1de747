// A run laid over its flow's skeleton (src/render/skeleton_overlay.ts), on
// skeletons compiled from real scripts and runs written out by hand: how many
// times each loop went round (none too), the arm taken in any round, a run
// that failed midway, nested flows with their own calls, what the calls do
// not decide, a script that changed since the run.

import assert from "node:assert/strict";
import type { DagDocument } from "../mod.ts";
import { run } from "../mod.ts";
import { loadScript } from "../src/cli/load.ts";
import { MemoryStore } from "../src/store/memory.ts";
import {
  type BoxMark,
  type OverlayNode,
  runMarks,
  type RunOverlay,
  runOverlay,
  type ZoneMark,
} from "../src/render/skeleton_overlay.ts";
import { skeletonGraph } from "../src/render/skeleton_view.ts";
import { mappedInline, outer, waits } from "./fixtures/skeleton/flows.ts";
import { ROOT } from "./_helpers.ts";

const documents = new Map<string, DagDocument>();
async function compiled(script: string): Promise<DagDocument> {
  let dag = documents.get(script);
  if (dag === undefined) {
    dag = (await loadScript(new URL(`file://${ROOT}/${script}`))).dag;
    documents.set(script, dag);
  }
  return dag;
}

const AIIDA = "examples/aiida_flows.ts";
const FLOWS = "tests/fixtures/skeleton/flows.ts";
const OVERLAY = "tests/fixtures/skeleton/overlay.ts";

/** A run's nodes written out: `[id, entity, status]`, in the order the flow (or `parent`) called them. */
function nodes(
  specs: [id: string, entity: string, status?: string][],
  parent?: string,
): OverlayNode[] {
  return specs.map(([id, entity, status], seq) => ({
    id,
    entity,
    seq,
    status: status ?? "succeeded",
    parentId: parent,
  }));
}

async function overlay(
  script: string,
  flow: string,
  list: OverlayNode[],
  status = "succeeded",
): Promise<RunOverlay> {
  const found = runOverlay(await compiled(script), {
    entity: flow,
    kind: "flow",
    status,
    nodes: list,
  });
  assert.ok(found !== undefined && !("missing" in found), JSON.stringify(found));
  return found;
}

/** The mark of the `nth` group of a kind (of a flow). */
function zone(o: RunOverlay, kind: string, flow = o.flow, nth = 0): ZoneMark {
  const g = o.graph.groups.filter((g) => g.kind === kind && g.flow === flow)[nth];
  assert.ok(g !== undefined, `a ${kind} zone in ${flow}`);
  return o.marks.groups[g.key]!;
}

/** The mark of the `nth` box with a label (of a flow). */
function box(o: RunOverlay, label: string, flow = o.flow, nth = 0): BoxMark {
  const b = o.graph.boxes.filter((b) => b.label === label && b.flow === flow)[nth];
  assert.ok(b !== undefined, `a box ${label} in ${flow}`);
  return o.marks.boxes[b.key]!;
}

Deno.test("keepDoubling: the loop's iterations are its rounds, and each call box names its nodes", async () => {
  const o = await overlay(
    AIIDA,
    "keepDoubling",
    nodes([
      ["add", "add"],
      ["add_2", "add"],
      ["multiply", "multiply"],
      ["add_3", "add"],
      ["multiply_2", "multiply"],
      ["add_4", "add"],
      ["multiply_3", "multiply"],
    ]),
  );
  assert.deepEqual(zone(o, "loop"), { state: "ran", note: "3 iterations", iterations: 3 });
  assert.deepEqual(box(o, "add", "keepDoubling", 1).nodes, ["add_2", "add_3", "add_4"]);
  assert.equal(box(o, "multiply").count, 3);
  assert.equal(box(o, "multiply").state, "succeeded");
  assert.deepEqual(box(o, "add").nodes, ["add"]);
  assert.equal(box(o, "return").state, "reached");
  assert.equal(box(o, "wait(add, multiply)").state, "reached");
  assert.equal(o.fits, true);
  assert.deepEqual(o.notes, []);
  // A cache hit is drawn as cached.
  const cached = await overlay(AIIDA, "keepDoubling", [
    { id: "add", entity: "add", seq: 0, status: "succeeded", cachedFrom: "earlier/add" },
  ]);
  assert.equal(box(cached, "add").state, "cached");
});

Deno.test("a loop that went round no time ran with 0 iterations, and its body is skipped", async () => {
  const o = await overlay(AIIDA, "keepDoubling", nodes([["add", "add"]]));
  assert.deepEqual(zone(o, "loop"), { state: "ran", note: "0 iterations", iterations: 0 });
  assert.equal(box(o, "add", "keepDoubling", 1).state, "skipped");
  assert.equal(box(o, "multiply").state, "skipped");
  assert.equal(box(o, "while (wait(out) < 10)").state, "reached", "its condition was tested");
  assert.equal(box(o, "return").state, "reached");
});

Deno.test("a run that failed midway: its failed call is failed, what comes after is not reached", async () => {
  const failed = await overlay(
    AIIDA,
    "keepDoubling",
    nodes([["add", "add"], ["add_2", "add"], ["multiply", "multiply", "failed"]]),
    "failed",
  );
  assert.equal(zone(failed, "loop").iterations, 1);
  assert.equal(box(failed, "multiply").state, "failed");
  assert.equal(box(failed, "return").state, "not-reached");

  // At its first call: the loop itself is not reached.
  const early = await overlay(AIIDA, "keepDoubling", nodes([["add", "add", "failed"]]), "failed");
  assert.equal(zone(early, "loop").state, "not-reached");
  assert.equal(zone(early, "loop").iterations, undefined);
  assert.equal(box(early, "multiply").state, "not-reached");
  assert.equal(box(early, "return").state, "not-reached");

  // addMultiply: the wait on add went through, the one on multiply threw.
  const waits = await overlay(
    AIIDA,
    "addMultiply",
    nodes([["add", "add"], ["multiply", "multiply", "failed"]]),
    "failed",
  );
  assert.equal(box(waits, "wait(add)").state, "reached");
  assert.equal(box(waits, "wait(multiply)").state, "failed");
  assert.equal(box(waits, "return").state, "not-reached");

  // Still running: it waits on multiply.
  const running = await overlay(
    AIIDA,
    "addMultiply",
    nodes([["add", "add"], ["multiply", "multiply", "running"]]),
    "running",
  );
  assert.equal(box(running, "multiply").state, "running");
  assert.equal(box(running, "wait(multiply)").state, "reached");
  assert.equal(box(running, "return").state, "not-reached");
});

Deno.test("addMultiplyIf: the arm taken ran, the other is skipped with its calls, both ways", async () => {
  const pos = await overlay(
    AIIDA,
    "addMultiplyIf",
    nodes([["add", "add"], ["multiply", "multiply"]]),
  );
  assert.deepEqual(zone(pos, "then"), { state: "ran", note: "taken" });
  assert.deepEqual(zone(pos, "else"), { state: "skipped", note: "not taken" });
  assert.equal(box(pos, "add", "addMultiplyIf", 1).state, "skipped");
  assert.equal(box(pos, "return", "addMultiplyIf", 1).state, "skipped");
  assert.equal(box(pos, "return").state, "reached");

  const neg = await overlay(AIIDA, "addMultiplyIf", nodes([["add", "add"], ["add_2", "add"]]));
  assert.equal(zone(neg, "then").state, "skipped");
  assert.equal(zone(neg, "else").state, "ran");
  assert.equal(box(neg, "multiply").state, "skipped");
  assert.deepEqual(box(neg, "add", "addMultiplyIf", 1).nodes, ["add_2"]);
});

Deno.test("a branch in a loop: an arm taken in any round is taken, each counted", async () => {
  const both = await overlay(
    OVERLAY,
    "alternate",
    nodes([["inc", "inc"], ["triple", "triple"], ["inc_2", "inc"], ["triple_2", "triple"]]),
  );
  assert.equal(zone(both, "loop").iterations, 3);
  assert.deepEqual(zone(both, "then"), { state: "ran", note: "taken" });
  assert.deepEqual(zone(both, "else"), { state: "ran", note: "taken 2 times" });
  const one = await overlay(
    OVERLAY,
    "alternate",
    nodes([["inc", "inc"], ["inc_2", "inc"], ["inc_3", "inc"]]),
  );
  assert.deepEqual(zone(one, "then"), { state: "ran", note: "taken 2 times" });
  assert.equal(zone(one, "else").state, "skipped");
  assert.equal(box(one, "triple").state, "skipped");
});

Deno.test("nested flows: each gets the calls under its node id, laid over its own skeleton", async () => {
  const list = [
    ...nodes([["grid", "grid"], ["early", "early"]]),
    ...nodes([
      ["grid/increment", "increment"],
      ["grid/multiply", "multiply"],
      ["grid/add", "add"],
      ["grid/multiply_2", "multiply"],
      ["grid/add_2", "add"],
    ], "grid"),
    ...nodes([["early/check", "check"], ["early/multiply", "multiply"]], "early"),
  ];
  const o = await overlay(FLOWS, "outer", list);
  assert.deepEqual(zone(o, "flow", "grid"), { state: "ran", note: "ran as grid" });
  assert.deepEqual(box(o, "multiply", "grid").nodes, ["grid/multiply", "grid/multiply_2"]);
  assert.deepEqual(box(o, "increment", "grid").nodes, ["grid/increment"]);
  // early did not return 0 at once: its first return is skipped, its multiply ran.
  assert.equal(zone(o, "then", "early").state, "skipped");
  assert.deepEqual(box(o, "multiply", "early").nodes, ["early/multiply"]);
  assert.equal(box(o, "return", "early", 1).state, "reached");

  // outer failed in grid: early was never called.
  const failed = await overlay(FLOWS, "outer", [
    ...nodes([["grid", "grid", "failed"]]),
    ...nodes([["grid/increment", "increment", "failed"]], "grid"),
  ], "failed");
  assert.equal(box(failed, "grid").state, "failed");
  assert.equal(zone(failed, "flow", "grid").state, "ran");
  assert.equal(zone(failed, "loop", "grid").state, "not-reached");
  assert.equal(box(failed, "early").state, "not-reached");
  assert.deepEqual(zone(failed, "flow", "early"), { state: "not-reached", note: "not reached" });
  assert.equal(box(failed, "check", "early").state, "not-reached");
});

Deno.test("a flow called in a loop: its drawing sums the rounds of every call of it", async () => {
  const o = await overlay(OVERLAY, "repeat", [
    ...nodes([["inc", "inc"], ["alternate", "alternate"], ["alternate_2", "alternate"]]),
    ...nodes(
      [["alternate/inc", "inc"], ["alternate/inc_2", "inc"], ["alternate/triple", "triple"]],
      "alternate",
    ),
    ...nodes([["alternate_2/inc", "inc"], ["alternate_2/triple", "triple"], [
      "alternate_2/triple_2",
      "triple",
    ]], "alternate_2"),
  ]);
  assert.deepEqual(zone(o, "loop"), { state: "ran", note: "2 iterations", iterations: 2 });
  assert.deepEqual(zone(o, "flow", "alternate"), {
    state: "ran",
    note: "ran as alternate, alternate_2",
  });
  assert.deepEqual(zone(o, "loop", "alternate"), {
    state: "ran",
    note: "4 iterations in all",
    iterations: 4,
  });
  assert.deepEqual(zone(o, "then", "alternate"), { state: "ran", note: "taken" });
  assert.deepEqual(zone(o, "else", "alternate"), { state: "ran", note: "taken 3 times" });
});

Deno.test("a wait on a call that failed throws into the catch", async () => {
  const o = await overlay(OVERLAY, "guarded", nodes([["fail", "fail", "failed"], ["inc", "inc"]]));
  assert.deepEqual(zone(o, "catch"), { state: "ran", note: "taken" });
  assert.equal(box(o, "fail").state, "failed");
  assert.equal(box(o, "wait(fail)").state, "failed");
  assert.equal(box(o, "inc").state, "succeeded");
});

Deno.test("what the calls do not decide is shown as such, never guessed", async () => {
  // grid's rounds without a call (j === 2: continue) leave no trace, and its loops may end by
  // their condition or by `break rows`: the calls fit several readings.
  const o = await overlay(FLOWS, "grid", [
    ...nodes([
      ["increment", "increment"],
      ["multiply", "multiply"],
      ["add", "add"],
      ["multiply_2", "multiply"],
      ["add_2", "add"],
    ]),
  ]);
  for (const nth of [0, 1]) {
    const loop = zone(o, "loop", "grid", nth);
    assert.equal(loop.iterations, undefined);
    assert.match(loop.note, /^its calls do not tell how many iterations/);
  }
  assert.equal(zone(o, "then", "grid", 0).state, "undecided");
  assert.equal(box(o, "continue").state, "undecided");
  assert.equal(box(o, "break rows").state, "undecided");
  // What they do decide stays certain.
  assert.deepEqual(box(o, "multiply").nodes, ["multiply", "multiply_2"]);
  assert.equal(box(o, "return").state, "reached");
});

Deno.test("calls that fit no path (the script changed) are matched by name, and a note says so", async () => {
  const o = await overlay(
    AIIDA,
    "keepDoubling",
    nodes([["add", "add"], ["subtract", "subtract"], ["multiply", "multiply"]]),
  );
  assert.equal(o.fits, false);
  assert.match(o.notes[0]!, /calls of flow keepDoubling do not fit its skeleton/);
  assert.match(box(o, "multiply").note, /matched by name/);
  assert.deepEqual(box(o, "multiply").nodes, ["multiply"]);
  assert.equal(zone(o, "loop"), undefined, "nothing is said about the zones");
});

Deno.test("runOverlay says why there is nothing to lay over, and passes over what is not a flow", async () => {
  const dag = await compiled(AIIDA);
  const run = { kind: "flow", status: "succeeded", nodes: [] };
  assert.deepEqual(runOverlay(dag, { ...run, entity: "gone" }), {
    missing: "has no flow named 'gone' any more",
  });
  assert.equal(runOverlay(dag, { ...run, entity: "add", kind: "task" }), undefined);
  const regression = await compiled("examples/regression.ts");
  assert.equal(
    runOverlay(regression, { ...run, entity: "regression", kind: "workflow" }),
    undefined,
  );
  assert.deepEqual(runOverlay(regression, { ...run, entity: "regression" }), {
    missing: "has 'regression' as a static workflow now, not a flow",
  });
});

Deno.test("runMarks on a run from the engine: the root flow's calls have no parent, a nested flow's have its node id", async () => {
  const store = new MemoryStore();
  await run(outer, { x: 2 }, { store, runId: "outer-1" });
  const details = (await store.getRun("outer-1"))!;
  assert.ok(details.nodes.some((n) => n.id === "grid" && n.parentId === undefined));
  const graph = skeletonGraph(await compiled(FLOWS), "outer")!;
  const { marks, fits } = runMarks(graph, details);
  assert.equal(fits, true);
  const o = { flow: "outer", graph, marks, fits, notes: [] };
  assert.equal(box(o, "multiply", "grid").count, 4, "i = 0, 1 times j = 1, 3");
  assert.equal(box(o, "add", "grid").state, "succeeded");
  assert.deepEqual(box(o, "multiply", "early").nodes, ["early/multiply"]);
  assert.equal(box(o, "return").state, "reached");
});

Deno.test("runMarks: a map node fits the call zone of the entity it maps", async () => {
  const store = new MemoryStore();
  await run(mappedInline, { xs: [2, 3] }, { store, runId: "mapped-1" });
  const details = (await store.getRun("mapped-1"))!;
  assert.ok(details.nodes.some((n) => n.id === "map_multiply" && n.kind === "map"));
  const graph = skeletonGraph(await compiled(FLOWS), "mappedInline")!;
  const { marks, fits, notes } = runMarks(graph, details);
  assert.equal(fits, true, notes.join("; "));
  const o = { flow: "mappedInline", graph, marks, fits, notes };
  assert.deepEqual(box(o, "multiply").nodes, ["map_multiply"]);
  assert.equal(box(o, "multiply").state, "succeeded");
  assert.deepEqual(box(o, "increment").nodes, ["increment"]);
  // An empty list makes no elements: the map's name says what it maps.
  await run(mappedInline, { xs: [] }, { store, runId: "mapped-2" });
  assert.equal(runMarks(graph, (await store.getRun("mapped-2"))!).fits, true);
});

Deno.test("a run's sleep and signal nodes are its skeleton's wait zones: the calls still fit", async () => {
  const store = new MemoryStore();
  const result = await run(waits, { x: 1 }, { store, runId: "waits-1" });
  assert.equal(result.status, "succeeded");
  const details = (await store.getRun("waits-1"))!;
  assert.deepEqual(details.nodes.map((n) => n.kind).sort(), ["signal", "sleep", "task"]);
  const graph = skeletonGraph(await compiled(FLOWS), "waits")!;
  const { marks, fits, notes } = runMarks(graph, details);
  assert.equal(fits, true, notes.join("\n"));
  const o = { flow: "waits", graph, marks, fits, notes };
  assert.equal(box(o, "add").state, "succeeded");
});
