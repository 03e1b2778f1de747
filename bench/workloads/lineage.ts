// Lineage of a long run: the value at the end of a chain of 10,000 recorded
// steps, walked back to the start (every step), in-process on the memory and
// SQLite stores and as `weft lineage` in a process of its own. The floor is
// reading the run's node rows once (one range scan, their JSON parsed): what
// any walk of the whole run must do at least. The target (issue 13): an
// answer in under a second.

import { DatabaseSync } from "node:sqlite";
import { flow, run, task, wait } from "../../mod.ts";
import { MemoryStore } from "../../store.ts";
import { SqliteStore } from "../../src/store/sqlite/mod.ts";
import { costRow, median, type Row, timeMs, type Workload } from "../_harness.ts";

const inc = task(function inc(x: number) {
  return x + 1;
});

/** n steps, each taking the previous one's handle: every edge is recorded. */
const chained = flow(async function* chained(n: number) {
  let v = inc(0);
  for (let i = 1; i < n; i++) v = inc(v);
  return yield* wait(v);
});

function lastNode(n: number): string {
  return n === 1 ? "inc" : `inc_${n}`;
}

async function walk(store: MemoryStore | SqliteStore, n: number): Promise<void> {
  const l = await store.lineage(`lin/${lastNode(n)}/o0`, { depth: n + 1, limit: n + 1 });
  const expanded = Object.values(l.steps).filter((s) => s.expanded).length;
  if (expanded !== n || l.truncated) throw new Error(`lineage expanded ${expanded} of ${n} steps`);
}

/** `weft lineage` of a 10,000-step run, in-process and as a command. */
export const lineageWorkload: Workload = {
  name: "lineage",
  description: "lineage of the last value of a 10,000-step chain, walked to its start",
  async run(ctx) {
    const n = ctx.smoke ? 500 : 10_000;
    const times = ctx.smoke ? 2 : 5;
    const rows: Row[] = [];
    const dir = await Deno.makeTempDir({ prefix: "weft_bench_lineage_" });
    const path = `${dir}/weft.db`;
    try {
      const memory = new MemoryStore();
      const sqlite = SqliteStore.open(path);
      for (const store of [memory, sqlite]) {
        const r = await run(chained, { n }, { store, runId: "lin" });
        if (r.outputs !== n) throw new Error(`the chain ended ${r.status}`);
      }
      // The floor: the run's node rows in one scan, their JSON parsed.
      const db = new DatabaseSync(path, { readOnly: true });
      const scan = db.prepare(
        "SELECT inputs, outputs FROM nodes WHERE key BETWEEN (SELECT key FROM runs WHERE id = ?1) << 32 AND ((SELECT key FROM runs WHERE id = ?1) << 32) + 4294967295",
      );
      const floor = () => {
        for (const row of scan.all("lin")) {
          JSON.parse(row.inputs as string);
          JSON.parse(row.outputs as string);
        }
      };
      for (const [name, store] of [["memory", memory], ["sqlite", sqlite]] as const) {
        ctx.log(`lineage of ${n} steps (${name})`);
        await walk(store, n);
        const work: number[] = [];
        const floors: number[] = [];
        for (let i = 0; i < times; i++) {
          work.push(await timeMs(() => walk(store, n)));
          floors.push(await timeMs(floor));
        }
        rows.push(costRow(ctx, {
          workload: "lineage",
          variant: `${name} store, every step`,
          n,
          metric: "ms",
          samples: work,
          floor: floors,
          floorName: "one scan of the run's node rows",
          target: 1000,
          notes: "target: under a second",
        }));
      }
      db.close();
      sqlite.close();
      // As a command: start-up, opening the store, the walk, and 4 lines per step on stdout.
      ctx.log(`weft lineage of ${n} steps`);
      const args = [
        "run",
        "-A",
        "cli.ts",
        "lineage",
        `lin/${lastNode(n)}/o0`,
        "--depth",
        String(n + 1),
        "--limit",
        String(n + 1),
        "--store",
        `sqlite:${path}`,
      ];
      const command = async () => {
        const out = await new Deno.Command(Deno.execPath(), { args, stdout: "piped" }).output();
        if (!out.success) throw new Error("weft lineage failed");
        return new TextDecoder().decode(out.stdout).split("\n").length;
      };
      const lines = await command();
      const cli: number[] = [];
      for (let i = 0; i < times; i++) cli.push(await timeMs(command));
      rows.push(costRow(ctx, {
        workload: "lineage",
        variant: "weft lineage, every step",
        n,
        metric: "ms",
        samples: cli,
        target: 1000,
        notes: `the whole command, ${lines} lines of output; target: under a second`,
      }));
      ctx.log(`lineage: ${rows.map((r) => `${r.variant} ${median(r.samples).toFixed(0)} ms`)}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    return rows;
  },
};
