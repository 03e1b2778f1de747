// Workload 1: a sequential chain of no-op tasks in a flow, one `yield* wait`
// per step. Reports µs per step, the slope of the per-step cost against the
// step index, and the floor: a plain loop of awaits.

import { flow, run, task, wait } from "../../mod.ts";
import { MemoryStore } from "../../store.ts";
import {
  alternate,
  costRow,
  median,
  noopAsync,
  type Row,
  slopeOf,
  type Workload,
} from "../_harness.ts";

/** A task that does nothing. */
export const noop = task(function noop(x: number) {
  return x;
});

/** Timestamps taken every `every` steps by the last chain run, for the slope. */
let marks: number[] = [];

/** A flow of `n` sequential no-op tasks; with `every > 0` it notes the time every `every` steps. */
export const chain = flow(async function* chain(n: number, every: number) {
  let x = 0;
  for (let i = 0; i < n; i++) {
    if (every > 0 && i % every === 0) marks.push(performance.now());
    x = yield* wait(noop(x + 1));
  }
  if (every > 0) marks.push(performance.now());
  return x;
});

/** An empty flow: the fixed cost of a run. */
export const empty = flow(async function* empty() {
  return 0;
});

/** The floor: a loop of awaits on async calls. */
export async function chainFloor(n: number, every = 0): Promise<number> {
  let x = 0;
  for (let i = 0; i < n; i++) {
    if (every > 0 && i % every === 0) marks.push(performance.now());
    x = await noopAsync(x + 1);
  }
  if (every > 0) marks.push(performance.now());
  return x;
}

/**
 * An async generator driven step by step, as the engine drives a flow but
 * with nothing else: the inherent cost of resuming an async generator.
 */
export async function generatorFloor(n: number): Promise<number> {
  async function* body(n: number): AsyncGenerator<{ v: number }, number, number> {
    let x = 0;
    for (let i = 0; i < n; i++) x = yield { v: x + 1 };
    return x;
  }
  const gen = body(n);
  let r = await gen.next(0);
  while (!r.done) r = await gen.next(r.value.v);
  return r.value;
}

/** Runs the chain flow on a fresh memory store and checks its value. */
export async function runChain(n: number, every = 0): Promise<void> {
  const r = await run(chain, { n, every }, { store: new MemoryStore() });
  if (r.status !== "succeeded" || r.outputs !== n) {
    throw new Error(`chain(${n}) ended ${r.status}: ${r.errors[0]?.message}`);
  }
}

/** Per-step cost in buckets of `every` steps (µs), from `marks`. */
function buckets(every: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < marks.length; i++) out.push((marks[i]! - marks[i - 1]!) * 1000 / every);
  return out;
}

/**
 * The slope of the per-step cost against the step index, in µs per step per
 * 10,000 steps: the median bucket costs over `repeats` runs, fitted by least
 * squares.
 */
async function slope(
  n: number,
  repeats: number,
  runOnce: (n: number, every: number) => Promise<unknown>,
): Promise<number> {
  const nBuckets = 40;
  const every = Math.max(1, Math.floor(n / nBuckets));
  const runs: number[][] = [];
  for (let r = 0; r < repeats; r++) {
    marks = [];
    await runOnce(n, every);
    runs.push(buckets(every));
  }
  marks = [];
  const count = Math.min(...runs.map((b) => b.length));
  const xs: number[] = [], ys: number[] = [];
  for (let b = 0; b < count; b++) {
    xs.push((b + 0.5) * every);
    ys.push(median(runs.map((r) => r[b]!)));
  }
  return slopeOf(xs, ys) * 10_000;
}

export const chainWorkload: Workload = {
  name: "chain",
  description: "sequential no-op chain in a flow (floor: a loop of awaits)",
  async run(ctx) {
    const sizes = ctx.smoke ? [10, 100, 1000] : [10, 100, 1000, 20_000];
    const rows: Row[] = [];
    // The fixed cost of a run, which small chains amortise over few steps.
    {
      const s = await alternate(ctx.repeats * 4, async () => {
        const r = await run(empty, {}, { store: new MemoryStore() });
        if (r.status !== "succeeded") throw new Error("empty flow failed");
      }, () => noopAsync(0));
      rows.push(costRow(ctx, {
        workload: "chain",
        variant: "empty flow",
        n: 0,
        metric: "µs/run",
        samples: s.work.map((ms) => ms * 1000),
        floor: s.floor.map((ms) => ms * 1000),
        floorName: "one async call",
        target: 200,
        notes: "fixed cost of run(): ids, input digest, store session, result",
      }));
    }
    for (const n of sizes) {
      ctx.log(`chain n=${n}`);
      const repeats = n <= 100 ? ctx.repeats * 4 : ctx.repeats;
      // Small chains are timed in batches so that timer resolution does not matter.
      const batch = Math.max(1, Math.floor(2000 / n));
      const s = await alternate(repeats, async () => {
        for (let b = 0; b < batch; b++) await runChain(n);
      }, async () => {
        for (let b = 0; b < batch; b++) await chainFloor(n);
      });
      const row = costRow(ctx, {
        workload: "chain",
        variant: "flow",
        n,
        metric: "µs/step",
        samples: s.work.map((ms) => ms * 1000 / (n * batch)),
        floor: s.floor.map((ms) => ms * 1000 / (n * batch)),
        floorName: "loop of awaits",
        // The target is for the marginal step; small chains also pay the run's fixed cost.
        ...(n >= 1000 ? { target: 5 } : {}),
        ...(n < 1000 ? { notes: "includes the fixed cost of a run, spread over n steps" } : {}),
      });
      if (n >= 1000) {
        row.slope = await slope(n, ctx.repeats, (n, every) => runChain(n, every));
        const floorSlope = await slope(n, ctx.repeats, (n, every) => chainFloor(n, every));
        const drift = row.slope * n / 10_000 / row.value;
        row.notes = `cost drift over the run ${(drift * 100).toFixed(0)}% (floor slope ${
          floorSlope.toFixed(3)
        })`;
        // Flat: the fitted cost grows by less than half over the whole run.
        if (!ctx.smoke && drift > 0.5) row.ok = false;
      }
      rows.push(row);
    }
    // The inherent cost of driving an async generator, for comparison.
    {
      const n = ctx.smoke ? 1000 : 20_000;
      const s = await alternate(ctx.repeats, () => generatorFloor(n), () => chainFloor(n));
      rows.push(costRow(ctx, {
        workload: "chain",
        variant: "bare async generator",
        n,
        metric: "µs/step",
        samples: s.work.map((ms) => ms * 1000 / n),
        floor: s.floor.map((ms) => ms * 1000 / n),
        floorName: "loop of awaits",
        notes: "inherent: resuming an async generator once per step, no engine",
      }));
    }
    return rows;
  },
};
