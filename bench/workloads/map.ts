// Workload: mapTask over N elements against a flow fan-out of the same size.
// The map's node expands at run time into one execution per element; the
// issue's target is that it costs at most twice what a flow calling the task
// N times costs, per task. Both variants make a list (or a source), run N
// no-op tasks and sum their values.

import { flow, mapTask, run, task, wait } from "../../mod.ts";
import { MemoryStore } from "../../store.ts";
import { alternate, costRow, type Row, type Workload } from "../_harness.ts";
import { noop } from "./chain.ts";
import { runFanOut, sum } from "./fanout.ts";

/** The list to map over: n ones, made by a task as the fan-out's source is. */
export const ones = task(function ones(n: number) {
  return new Array<number>(n).fill(1);
});

/** 1 → map of n → 1: the list, one no-op per element, then the sum. */
export const mapped = flow(async function* mapped(n: number) {
  const values = mapTask(noop)(ones(n));
  return yield* wait(sum(values));
});

/** Runs the map flow on a fresh memory store and checks its value. */
export async function runMapped(n: number): Promise<void> {
  const r = await run(mapped, { n }, { store: new MemoryStore() });
  if (r.status !== "succeeded" || r.outputs !== n) {
    throw new Error(`mapped(${n}) ended ${r.status}: ${r.errors[0]?.message}`);
  }
}

export const mapWorkload: Workload = {
  name: "map",
  description: "mapTask over N elements, against a flow fan-out of the same size",
  async run(ctx) {
    const sizes = ctx.smoke ? [2000] : [10_000, 100_000];
    const rows: Row[] = [];
    for (const n of sizes) {
      ctx.log(`map n=${n}`);
      const batch = Math.max(1, Math.floor(50_000 / n));
      const m = await alternate(ctx.repeats, async () => {
        for (let b = 0; b < batch; b++) await runMapped(n);
      }, async () => {
        for (let b = 0; b < batch; b++) await runFanOut(n);
      });
      const row = costRow(ctx, {
        workload: "map",
        variant: "mapTask in a flow",
        n,
        metric: "µs/task",
        samples: m.work.map((ms) => ms * 1000 / (n * batch)),
        floor: m.floor.map((ms) => ms * 1000 / (n * batch)),
        floorName: "flow fan-out, same n",
        notes: "target: at most 2× the flow fan-out of the same size",
      });
      // The target is relative: twice the fan-out measured alongside.
      row.target = 2 * row.floor!;
      row.ok = row.value <= row.target * (ctx.smoke ? 10 : 1);
      rows.push(row);
    }
    return rows;
  },
};
