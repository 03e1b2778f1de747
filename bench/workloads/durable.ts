// Workloads 5 and 6: durable runs on SQLite. The chain and the fan-out of
// workloads 1 and 2 with every step recorded (synchronous NORMAL and FULL),
// beside the floor — one plain prepared INSERT per step, autocommitted, in the
// same process and file system — and the time to resume a run with 10,000
// journalled steps, with how many steps ran again.

import { DatabaseSync } from "node:sqlite";
import { flow, run, task, wait } from "../../mod.ts";
import { SqliteStore } from "../../src/store/sqlite/mod.ts";
import { costRow, median, type Row, timeMs, type Workload } from "../_harness.ts";
import { chain } from "./chain.ts";
import { fanOut } from "./fanout.ts";

async function tempDb(): Promise<{ path: string; dispose(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "weft_bench_" });
  return { path: `${dir}/weft.db`, dispose: () => Deno.remove(dir, { recursive: true }) };
}

/**
 * The floor: one autocommitted INSERT per step of a small row, as a durable step writes at least.
 *
 * @returns Milliseconds for `n` inserts.
 */
export async function insertFloor(n: number, synchronous: "normal" | "full"): Promise<number> {
  const db = await tempDb();
  const sqlite = new DatabaseSync(db.path);
  sqlite.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous.toUpperCase()}`);
  sqlite.exec("CREATE TABLE steps (id INTEGER PRIMARY KEY, run TEXT, node TEXT, value TEXT)");
  const insert = sqlite.prepare("INSERT INTO steps (run, node, value) VALUES (?, ?, ?)");
  const ms = await timeMs(() => {
    for (let i = 0; i < n; i++) insert.run("run", `step_${i}`, String(i));
  });
  sqlite.close();
  await db.dispose();
  return ms;
}

async function durableRun(
  entity: typeof chain | typeof fanOut,
  inputs: Record<string, unknown>,
  synchronous: "normal" | "full",
  expected: number,
): Promise<number> {
  const db = await tempDb();
  const store = SqliteStore.open(db.path, { synchronous });
  try {
    let result: Awaited<ReturnType<typeof run>> | undefined;
    const ms = await timeMs(async () => {
      result = await run(entity as never, inputs, { store });
    });
    if (result?.status !== "succeeded" || result.outputs !== expected) {
      throw new Error(`durable run ended ${result?.status}: ${result?.errors[0]?.message}`);
    }
    return ms;
  } finally {
    store.close();
    await db.dispose();
  }
}

/** Durable chain and fan-out on SQLite, with one plain insert per step as the floor. */
export const durableWorkload: Workload = {
  name: "durable",
  description: "chain and fan-out recorded in SQLite (NORMAL, FULL) vs one plain INSERT per step",
  async run(ctx) {
    const rows: Row[] = [];
    const repeats = ctx.smoke ? 1 : Math.max(3, Math.min(ctx.repeats, 5));
    const chainN = ctx.smoke ? 200 : 5_000;
    const fanN = ctx.smoke ? 1_000 : 100_000;
    // Untimed: the first durable run of the process loads node:crypto (about 25 ms) and
    // compiles the store's code, which would be charged to a short chain's steps.
    await durableRun(chain, { n: 100, every: 0 }, "normal", 100);
    await durableRun(fanOut, { n: 100 }, "normal", 100);
    await insertFloor(100, "normal");
    for (const synchronous of ["normal", "full"] as const) {
      ctx.log(`durable chain ${chainN} (${synchronous})`);
      const work: number[] = [];
      const floor: number[] = [];
      for (let i = 0; i < repeats; i++) {
        work.push(
          (await durableRun(chain, { n: chainN, every: 0 }, synchronous, chainN)) * 1000 / chainN,
        );
        floor.push((await insertFloor(chainN, synchronous)) * 1000 / chainN);
      }
      rows.push(costRow(ctx, {
        workload: "durable",
        variant: `chain, sqlite ${synchronous}`,
        n: chainN,
        metric: "µs/step",
        samples: work,
        floor,
        floorName: "one autocommit INSERT per step",
        target: median(floor) * 3,
        notes: "target: 3× the floor",
      }));
      if (synchronous === "full" && ctx.smoke) continue;
      ctx.log(`durable fan-out ${fanN} (${synchronous})`);
      const fanWork: number[] = [];
      const fanFloor: number[] = [];
      for (let i = 0; i < (synchronous === "full" ? 1 : repeats); i++) {
        fanWork.push((await durableRun(fanOut, { n: fanN }, synchronous, fanN)) * 1000 / fanN);
        fanFloor.push((await insertFloor(fanN, synchronous)) * 1000 / fanN);
      }
      rows.push(costRow(ctx, {
        workload: "durable",
        variant: `fan-out, sqlite ${synchronous}`,
        n: fanN,
        metric: "µs/task",
        samples: fanWork,
        floor: fanFloor,
        floorName: "one autocommit INSERT per task",
        target: median(fanFloor) * 3,
        notes: "target: 3× the floor",
      }));
    }
    return rows;
  },
};

let broken = true;
/** A step that fails on the last step of the first run, so that the run can be resumed. */
const step = task(function step(i: number, last: number) {
  if (broken && i === last) throw new Error("the last step fails on the first run");
  return i;
});

/** n journalled steps, the last of which fails until fixed. */
export const journalled = flow(async function* journalled(n: number) {
  let total = 0;
  for (let i = 0; i < n; i++) total += yield* wait(step(i, n - 1));
  return total;
});

/** Resuming a run with 10,000 journalled steps: its time, and how many steps ran again. */
export const resumeWorkload: Workload = {
  name: "resume",
  description: "resume a run with 10,000 journalled steps: time and steps executed again",
  async run(ctx) {
    const n = ctx.smoke ? 500 : 10_000;
    const samples: number[] = [];
    let rerun = 0;
    for (let i = 0; i < (ctx.smoke ? 1 : 3); i++) {
      const db = await tempDb();
      const store = SqliteStore.open(db.path);
      try {
        broken = true;
        const first = await run(journalled, { n }, { store, runId: "resume-bench" });
        if (first.status !== "failed") {
          throw new Error("the first run should fail at its last step");
        }
        broken = false;
        let started = 0;
        let result: Awaited<ReturnType<typeof run>> | undefined;
        const ms = await timeMs(async () => {
          result = await run(journalled, { n }, {
            store,
            runId: "resume-bench",
            onEvent: (e) => {
              if (e.type === "node started") started++;
            },
          });
        });
        if (result?.status !== "succeeded") {
          throw new Error(`the resumed run ended ${result?.status}`);
        }
        samples.push(ms);
        rerun = started;
      } finally {
        store.close();
        await db.dispose();
      }
    }
    ctx.log(`resume ${n}: ${median(samples).toFixed(0)} ms, ${rerun} step(s) ran again`);
    return [
      costRow(ctx, {
        workload: "resume",
        variant: "sqlite, last step failed",
        n,
        metric: "resume ms",
        samples,
        target: 1000,
        notes:
          `${rerun} step(s) executed again (the failed one); the rest replayed from the journal`,
      }),
    ];
  },
};
