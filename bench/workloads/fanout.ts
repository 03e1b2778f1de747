// Workload 2: fan-out then fan-in, 1 → N → 1, in a flow (gathered with
// `all`) and as a static workflow (the sink bound to every node). Reports µs
// per fanned-out task; the floor is `Promise.all` over N async calls.

import { all, flow, run, task, wait, Workflow } from "../../mod.ts";
import { MemoryStore } from "../../store.ts";
import { alternate, costRow, noopAsync, type Row, type Workload } from "../_harness.ts";
import { noop } from "./chain.ts";

/** The source of the fan-out. */
export const source = task(function source() {
  return 1;
});

/** The fan-in: adds the values. */
export const sum = task(function sum(xs: number[]) {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s;
});

/** 1 → n → 1 in a flow: n tasks on the source's handle, gathered with `all`, then summed. */
export const fanOut = flow(async function* fanOut(n: number) {
  const s = source();
  const hs = new Array(n);
  for (let i = 0; i < n; i++) hs[i] = noop(s);
  const values = yield* all(hs as ReturnType<typeof noop>[]);
  return yield* wait(sum(values));
});

/** 1 → n → 1 as a static workflow: the sink's input is bound to every node. */
export function fanOutWorkflow(n: number): Workflow {
  const wf = new Workflow(`fan_out_${n}`);
  const s = wf.addEntity(source);
  const hs = new Array(n);
  for (let i = 0; i < n; i++) hs[i] = wf.addEntity(noop, { x: s });
  wf.addOutput("total", wf.addEntity(sum, { xs: hs }));
  return wf;
}

/** The floor: `Promise.all` over n async calls, then the sum. */
export async function fanOutFloor(n: number): Promise<number> {
  const s = await noopAsync(1);
  const ps = new Array(n);
  for (let i = 0; i < n; i++) ps[i] = noopAsync(s);
  const values: number[] = await Promise.all(ps);
  let t = 0;
  for (let i = 0; i < values.length; i++) t += values[i]!;
  return t;
}

/** Runs the flow on a fresh memory store and checks its value. */
export async function runFanOut(n: number): Promise<void> {
  const r = await run(fanOut, { n }, { store: new MemoryStore() });
  if (r.status !== "succeeded" || r.outputs !== n) {
    throw new Error(`fanOut(${n}) ended ${r.status}: ${r.errors[0]?.message}`);
  }
}

/** Runs a built fan-out workflow on a fresh memory store and checks its value. */
export async function runFanOutWorkflow(wf: Workflow, n: number): Promise<void> {
  const r = await run(wf, {}, { store: new MemoryStore() });
  if (r.status !== "succeeded" || r.outputs !== n) {
    throw new Error(`fan_out_${n} ended ${r.status}: ${r.errors[0]?.message}`);
  }
}

export const fanOutWorkload: Workload = {
  name: "fanout",
  description: "fan-out then fan-in, 1 → N → 1, in a flow and as a static workflow",
  async run(ctx) {
    const sizes = ctx.smoke ? [100, 2000] : [100, 10_000, 100_000];
    const rows: Row[] = [];
    for (const n of sizes) {
      ctx.log(`fan-out n=${n}`);
      const repeats = n <= 100 ? ctx.repeats * 4 : ctx.repeats;
      // Each sample covers at least 50,000 tasks: a run of 10,000 takes about 15 ms, and a
      // scavenge of 25-80 ms landing in one sample or not would decide the median; over
      // several runs the collector's cost is averaged, as it is in a long-lived process.
      const batch = Math.max(1, Math.floor(50_000 / n));
      const note = n < 1000 ? "includes the fixed cost of a run, spread over n tasks" : undefined;
      const f = await alternate(repeats, async () => {
        for (let b = 0; b < batch; b++) await runFanOut(n);
      }, async () => {
        for (let b = 0; b < batch; b++) await fanOutFloor(n);
      });
      rows.push(costRow(ctx, {
        workload: "fan-out",
        variant: "flow + all",
        n,
        metric: "µs/task",
        samples: f.work.map((ms) => ms * 1000 / (n * batch)),
        floor: f.floor.map((ms) => ms * 1000 / (n * batch)),
        floorName: "Promise.all",
        ...(n >= 1000 ? { target: 2 } : {}),
        ...(note === undefined ? {} : { notes: note }),
      }));
      // The workflow is built once; building is measured by the static DAG workload.
      const wf = fanOutWorkflow(n);
      const s = await alternate(repeats, async () => {
        for (let b = 0; b < batch; b++) await runFanOutWorkflow(wf, n);
      }, async () => {
        for (let b = 0; b < batch; b++) await fanOutFloor(n);
      });
      rows.push(costRow(ctx, {
        workload: "fan-out",
        variant: "static workflow",
        n,
        metric: "µs/task",
        samples: s.work.map((ms) => ms * 1000 / (n * batch)),
        floor: s.floor.map((ms) => ms * 1000 / (n * batch)),
        floorName: "Promise.all",
        ...(n >= 1000 ? { target: 2 } : {}),
        notes: `run only (built once)${note === undefined ? "" : `; ${note}`}`,
      }));
    }
    return rows;
  },
};
