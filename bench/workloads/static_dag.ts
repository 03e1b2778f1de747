// Workload 3: a large static DAG built with the `Workflow` builder, as a
// layered graph (width 100, each node taking two nodes of the layer before)
// and as a binary tree (each node taking its parent). Reports the time to
// build, to compile to IR JSON, to run, and the peak live heap per node;
// the floors do the same with plain objects and one promise per node.

import { run, type RunResult, task, Workflow } from "../../mod.ts";
import { MemoryStore } from "../../store.ts";
import {
  canCollect,
  costRow,
  liveHeap,
  median,
  noopAsync,
  type Row,
  timeMs,
  type Workload,
  type WorkloadContext,
} from "../_harness.ts";
import { noop } from "./chain.ts";

/** A task of two inputs that returns the first. */
export const pick = task(function pick(x: number, y: number) {
  return x >= y ? x : y;
});

/** The shapes: for node i, the nodes it takes values from (all before i). */
export type Shape = "layered" | "tree";

const WIDTH = 100;

function inputsOf(shape: Shape, i: number): number[] {
  if (shape === "tree") return i === 0 ? [] : [(i - 1) >> 1];
  if (i < WIDTH) return [];
  const layer = Math.floor(i / WIDTH) - 1;
  const j = i % WIDTH;
  return [layer * WIDTH + j, layer * WIDTH + (j + 1) % WIDTH];
}

/** The live heap when the last `probe` task ran. */
let probed = 0;

/**
 * A no-op task that notes the live heap. As the first node of a graph it runs
 * once every node has been added and none has run: the run's peak of pending
 * structures (dependents, inputs not yet resolved).
 */
export const probe = task(function probe(x: number) {
  probed = liveHeap();
  return x;
});

/**
 * Builds the DAG of `n` nodes as a workflow; its output is the last node.
 *
 * @param first The task of node 0 (the first to run): `noop`, or `probe` to measure the heap.
 */
export function buildDag(shape: Shape, n: number, first: typeof noop = noop): Workflow {
  const wf = new Workflow(`${shape}_${n}`);
  const hs = new Array(n);
  for (let i = 0; i < n; i++) {
    const ins = inputsOf(shape, i);
    const one = i === 0 ? first : noop;
    if (shape === "tree") hs[i] = wf.addEntity(one, { x: ins.length === 0 ? 0 : hs[ins[0]!] });
    else if (ins.length === 0) hs[i] = wf.addEntity(one, { x: i });
    else hs[i] = wf.addEntity(pick, { x: hs[ins[0]!], y: hs[ins[1]!] });
  }
  wf.addOutput("last", hs[n - 1]);
  return wf;
}

/** The IR of a workflow as JSON text. */
export function compileDag(wf: Workflow): string {
  return JSON.stringify(wf.graph);
}

/** Runs a built DAG on the given store and checks that it succeeded. */
export async function runDag(wf: Workflow, store: MemoryStore): Promise<RunResult> {
  const r = await run(wf, {}, { store });
  if (r.status !== "succeeded") throw new Error(`${wf.name} ended ${r.status}`);
  return r;
}

interface PlainNode {
  id: string;
  entity: string;
  inputs: Record<string, { node: string } | { value: number }>;
}

/** Floor of building: the same nodes as plain objects in an array and a map. */
function buildFloor(
  shape: Shape,
  n: number,
): { nodes: PlainNode[]; index: Map<string, PlainNode> } {
  const nodes: PlainNode[] = [];
  const index = new Map<string, PlainNode>();
  const counters = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const ins = inputsOf(shape, i);
    const entity = ins.length === 2 ? "pick" : "noop";
    const c = (counters.get(entity) ?? 0) + 1;
    counters.set(entity, c);
    const inputs: PlainNode["inputs"] = {};
    if (ins.length === 0) inputs.x = { value: i };
    else {
      inputs.x = { node: nodes[ins[0]!]!.id };
      if (ins.length === 2) inputs.y = { node: nodes[ins[1]!]!.id };
    }
    const node = { id: c === 1 ? entity : `${entity}_${c}`, entity, inputs };
    nodes.push(node);
    index.set(node.id, node);
  }
  return { nodes, index };
}

/** Floor of running: one promise per node, each waiting for its inputs. */
async function runFloor(shape: Shape, n: number): Promise<number> {
  const ps: Promise<number>[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const ins = inputsOf(shape, i);
    if (ins.length === 0) ps[i] = noopAsync(i);
    else if (ins.length === 1) ps[i] = ps[ins[0]!]!.then(noopAsync);
    else {
      ps[i] = Promise.all([ps[ins[0]!]!, ps[ins[1]!]!]).then(([a, b]) => noopAsync(a >= b ? a : b));
    }
  }
  return await ps[n - 1]!;
}

interface Cycle {
  build: number;
  compile: number;
  run: number;
  /** Reading `result.graph` afterwards (built on first read). */
  graph: number;
  /** Peak live heap over the phases, in bytes (0 when not measured). */
  heap: number;
}

/** Builds, compiles and runs once, timing each phase (no forced GC: see `alternate`). */
async function cycle(shape: Shape, n: number): Promise<Cycle> {
  let wf!: Workflow;
  const build = await timeMs(() => (wf = buildDag(shape, n)));
  let json = "";
  const compile = await timeMs(() => (json = compileDag(wf)));
  if (json.length === 0) throw new Error("empty IR");
  json = "";
  const store = new MemoryStore();
  let result: RunResult | undefined;
  const runMs = await timeMs(async () => (result = await runDag(wf, store)));
  if (result === undefined || store.runs.size !== 1) throw new Error("no run recorded");
  const graph = await timeMs(() => {
    if (result!.graph.nodes.length !== n) throw new Error("the run graph lacks nodes");
  });
  return { build, compile, run: runMs, graph, heap: 0 };
}

/**
 * The peak live heap of a cycle, after a full GC at each point where it may
 * peak: the built graph; the graph with its IR document and JSON text; the
 * run once every node is added and none has run (the `probe` task); the run
 * ended, with its store and result. Not timed: the GCs would count.
 */
async function heapCycle(shape: Shape, n: number): Promise<number> {
  const base = liveHeap();
  const wf = buildDag(shape, n, probe);
  let heap = liveHeap() - base;
  let doc: unknown = wf.graph;
  let json = JSON.stringify(doc);
  heap = Math.max(heap, liveHeap() - base);
  if (json.length === 0) throw new Error("empty IR");
  doc = json = undefined!;
  const store = new MemoryStore();
  probed = 0;
  const result = await runDag(wf, store);
  if (probed === 0) throw new Error("the probe did not run");
  // The run's graph is built on first read; a caller that reads it holds it too.
  if (result.graph.nodes.length !== n) throw new Error("the run graph lacks nodes");
  heap = Math.max(heap, probed - base, liveHeap() - base);
  if (result === undefined || store.runs.size !== 1) throw new Error("no run recorded");
  return heap;
}

async function floorCycle(shape: Shape, n: number): Promise<Cycle> {
  let plain!: ReturnType<typeof buildFloor>;
  const build = await timeMs(() => (plain = buildFloor(shape, n)));
  let json = "";
  const compile = await timeMs(() => (json = JSON.stringify(plain.nodes)));
  if (json.length === 0 || plain.index.size !== n) throw new Error("empty floor");
  const runMs = await timeMs(() => runFloor(shape, n));
  return { build, compile, run: runMs, graph: 0, heap: 0 };
}

/** The live heap of the floor's plain objects, in bytes. */
function floorHeap(shape: Shape, n: number): number {
  const base = liveHeap();
  const plain = buildFloor(shape, n);
  const heap = liveHeap() - base;
  if (plain.index.size !== n) throw new Error("empty floor");
  return heap;
}

function rowsFor(
  ctx: WorkloadContext,
  shape: Shape,
  n: number,
  work: Cycle[],
  floor: Cycle[],
  heaps: number[],
  floorHeaps: number[],
): Row[] {
  // The targets are for 100,000 nodes (1 s each, 1 KiB a node); smaller graphs scale them.
  const msTarget = 1000 * n / 100_000;
  const variant = shape === "layered" ? `layered, width ${WIDTH}` : "binary tree";
  const base = { workload: "static DAG", variant, n };
  const phase = (key: "build" | "compile" | "run", what: string, floorName: string) =>
    costRow(ctx, {
      ...base,
      metric: `${key} ms`,
      samples: work.map((c) => c[key]),
      floor: floor.map((c) => c[key]),
      floorName,
      target: msTarget,
      notes: `${what}; ${(median(work.map((c) => c[key])) * 1000 / n).toFixed(2)} µs/node`,
    });
  const rows = [
    phase("build", "Workflow.addEntity per node", "plain objects + Map"),
    phase("compile", "toDag + JSON.stringify", "JSON.stringify of plain objects"),
    phase(
      "run",
      `run() on a fresh memory store; reading result.graph (built on first read) then takes ${
        median(work.map((c) => c.graph)).toFixed(0)
      } ms more`,
      "one promise per node",
    ),
  ];
  if (canCollect) {
    rows.push(costRow(ctx, {
      ...base,
      metric: "heap B/node",
      samples: heaps.map((h) => h / n),
      floor: floorHeaps.map((h) => h / n),
      floorName: "plain objects + Map",
      target: 1024,
      notes:
        "peak live heap (after GC) over build, compile (graph + IR + JSON), run start (every node pending) and run end (store + result)",
    }));
  }
  return rows;
}

export const staticDagWorkload: Workload = {
  name: "dag",
  description: "a large static DAG: build, compile to IR JSON, run, heap per node",
  async run(ctx) {
    const n = ctx.smoke ? 5000 : 100_000;
    const rows: Row[] = [];
    for (const shape of ["layered", "tree"] as const) {
      ctx.log(`static DAG ${shape} n=${n}`);
      // Warm up with a smaller graph of the same shape.
      await cycle(shape, Math.min(n, 5000));
      await floorCycle(shape, Math.min(n, 5000));
      const work: Cycle[] = [], floor: Cycle[] = [], heaps: number[] = [];
      const floorHeaps: number[] = [];
      for (let r = 0; r < ctx.repeats; r++) {
        work.push(await cycle(shape, n));
        floor.push(await floorCycle(shape, n));
      }
      // Heap figures come after the timed cycles (they force GCs); they vary
      // little from one run to the next, so two samples do.
      if (canCollect) {
        for (let r = 0; r < Math.min(2, ctx.repeats); r++) {
          heaps.push(await heapCycle(shape, n));
          floorHeaps.push(floorHeap(shape, n));
        }
      }
      rows.push(...rowsFor(ctx, shape, n, work, floor, heaps, floorHeaps));
    }
    if (!canCollect) ctx.log("no heap figures: run with --v8-flags=--expose-gc");
    return rows;
  },
};
