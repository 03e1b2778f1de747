// `weft run` with per-task grants (the default: the engine in a Worker with
// no permission, the store in the parent, each task that declares a grant
// in a Worker of its own) against `--no-isolate` (one process with the
// union, the store still in the parent): the cold start, a chain of steps
// that run in the driver, a chain whose every step is a Worker round trip, a
// fan-out, and durable chains on SQLite: of tasks that declare nothing, which
// the driver runs ahead of their commit, and of a task that declares a grant,
// whose every step waits for the parent to commit (the IPC cost of a flush:
// the CLI's durable step against the same chain run in-process).

import { flow, run, task, wait } from "../../mod.ts";
import { SqliteStore } from "../../src/store/sqlite/mod.ts";
import { median, type Row, timeMs, type Workload } from "../_harness.ts";
import { insertFloor } from "./durable.ts";
import { type PipeChannel, pipeFloor } from "./pipe.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");
const FIXTURE = "bench/fixtures/grants.ts";

async function weft(args: string[], env: Record<string, string>): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", "run", FIXTURE, ...args, "--quiet"],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`weft run ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Alternating samples of the same command in both modes. */
async function modes(
  times: number,
  args: string[],
  env: Record<string, string>,
): Promise<{ tasks: number[]; shared: number[] }> {
  await weft(args, env);
  await weft([...args, "--no-isolate"], env);
  const out = { tasks: [] as number[], shared: [] as number[] };
  for (let i = 0; i < times; i++) {
    out.tasks.push(await timeMs(() => weft(args, env)));
    out.shared.push(await timeMs(() => weft([...args, "--no-isolate"], env)));
  }
  return out;
}

const step = task(function free(i: number) {
  return i + 1;
});
const inProcess = flow(async function* chain(n: number) {
  let x = 0;
  for (let i = 0; i < n; i++) x = yield* wait(step(x));
  return x;
});

/** Per-task grants against --no-isolate, through `weft run`. */
export const grantsWorkload: Workload = {
  name: "grants",
  description:
    "weft run with per-task grants (default) vs --no-isolate: cold start, chains, fan-out, durable chain (IPC per flush)",
  async run(ctx) {
    const dir = await Deno.makeTempDir({ prefix: "weft_bench_grants_" });
    const env = { WEFT_CACHE_DIR: `${dir}/cache` };
    const rows: Row[] = [];
    const times = ctx.smoke ? 1 : Math.max(3, Math.min(ctx.repeats, 5));
    const memory = ["--store", "memory"];
    try {
      const one = await modes(times, ["chain", "--input", "n=1", ...memory], env);
      rows.push({
        workload: "grants",
        variant: "weft run, one task: per-task (default)",
        n: 1,
        metric: "ms",
        value: median(one.tasks),
        samples: one.tasks,
        floor: median(one.shared),
        floorName: "--no-isolate",
        ratio: median(one.tasks) / median(one.shared),
        notes: "the driver Worker loads the engine and the script",
      });
      const perStep = (
        variant: string,
        entity: string,
        n: number,
        notes: string,
        store = memory,
        steps = n,
      ) =>
      async () => {
        ctx.log(`grants: ${variant}`);
        const s = await modes(times, [entity, "--input", `n=${n}`, ...store], env);
        const base = (xs: number[]) => xs.map((x) => ((x - median(one.tasks)) * 1000) / steps);
        const baseShared = (xs: number[]) =>
          xs.map((x) => ((x - median(one.shared)) * 1000) / steps);
        const t = base(s.tasks);
        const sh = baseShared(s.shared);
        rows.push({
          workload: "grants",
          variant,
          n,
          metric: "µs/step",
          value: median(t),
          samples: t,
          floor: median(sh),
          floorName: "--no-isolate",
          ratio: median(t) / median(sh),
          notes,
        });
        return { tasks: median(t), shared: median(sh) };
      };
      const n = ctx.smoke ? 200 : 5_000;
      await perStep("chain, tasks that declare nothing", "chain", n, "they run in the driver")();
      await perStep(
        "chain, a task that declares a grant",
        "grantedChain",
        ctx.smoke ? 100 : 2_000,
        "per-task: a Worker round trip per step; --no-isolate: in the process",
      )();
      await perStep(
        "fan-out, tasks that declare nothing",
        "fan",
        ctx.smoke ? 500 : 20_000,
        "per task",
      )();
      // The durable chain. Per-task, its steps declare nothing, so the driver
      // acts on each result while the parent commits it (committed before
      // anything can act outside); with --no-isolate each step waits for the
      // parent to commit its input.
      const durableN = ctx.smoke ? 100 : 5_000;
      const cli = await perStep(
        "durable chain, sqlite normal",
        "chain",
        durableN,
        "per-task: committed behind the driver; --no-isolate: the child asks, the parent commits and answers, each step",
        ["--store", `sqlite:${dir}/cli.db`],
      )();
      // The same of a task that declares a grant: each step may act outside, so it waits for the commit.
      await perStep(
        "durable chain, a task that declares a grant, sqlite normal",
        "grantedChain",
        ctx.smoke ? 100 : 2_000,
        "per-task: a commit and a Worker round trip per step; --no-isolate: a commit per step",
        ["--store", `sqlite:${dir}/granted.db`],
      )();
      // Many branches at once, each a durable 3-step chain: their flushes travel and commit together.
      const branches = ctx.smoke ? 100 : 10_000;
      await perStep(
        "durable branches at once (3 steps each), sqlite normal",
        "wide",
        branches,
        "the flushes of one turn: one request, one commit",
        ["--store", `sqlite:${dir}/wide.db`],
        3 * branches,
      )();
      const local: number[] = [];
      for (let i = 0; i < times + 1; i++) {
        const store = SqliteStore.open(`${dir}/local-${i}.db`);
        try {
          const ms = await timeMs(() => run(inProcess, { n: durableN }, { store }));
          if (i > 0) local.push((ms * 1000) / durableN);
        } finally {
          store.close();
        }
      }
      // The floor of that IPC: a bare round trip between two Deno processes, framed as weft frames it.
      const pipe: Record<PipeChannel, number[]> = { async: [], sync: [], socket: [] };
      const trips = ctx.smoke ? 200 : 5_000;
      for (let i = 0; i < times; i++) {
        for (const how of ["async", "sync", "socket"] as const) {
          pipe[how].push(await pipeFloor(trips, how));
        }
      }
      const pipeNotes: Record<PipeChannel, string> = {
        async:
          "weft's channel: a marked line on stdout, a JSON line back on stdin (Deno.stdin.read)",
        sync: "the child reads stdin with readSync (blocks its thread: not usable by weft)",
        socket: "answers on a Unix socket (epoll in the child's thread; needs a net grant)",
      };
      for (const how of ["async", "sync", "socket"] as const) {
        rows.push({
          workload: "grants",
          variant: `pipe round trip floor (${how})`,
          n: trips,
          metric: "µs/round trip",
          value: median(pipe[how]),
          samples: pipe[how],
          notes: pipeNotes[how],
        });
      }
      rows.push({
        workload: "grants",
        variant: "IPC per flush (CLI durable step with --no-isolate - in-process durable step)",
        n: durableN,
        metric: "µs/flush",
        value: cli.shared - median(local),
        samples: [cli.shared - median(local), cli.tasks - median(local)],
        floor: median(local),
        floorName: "an in-process durable step on SQLite",
        notes: `per-task (committed behind the driver): ${
          (cli.tasks - median(local)).toFixed(0)
        } µs/step over in-process; pipe floor ${median(pipe.async).toFixed(0)} µs`,
      });
      // The bound for durable runs, through weft run: 3× one plain insert per step.
      const inserts: number[] = [];
      for (let i = 0; i < times; i++) {
        inserts.push((await insertFloor(durableN, "normal")) * 1000 / durableN);
      }
      rows.push({
        workload: "grants",
        variant: "durable chain through weft run vs one autocommit INSERT per step",
        n: durableN,
        metric: "µs/step",
        value: cli.tasks,
        samples: [cli.tasks, cli.shared],
        floor: median(inserts),
        floorName: "one autocommit INSERT per step, sqlite normal",
        ratio: cli.tasks / median(inserts),
        notes: `--no-isolate: ${
          (cli.shared / median(inserts)).toFixed(1)
        }× the floor; in-process run(): ${(median(local) / median(inserts)).toFixed(1)}×`,
      });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    return rows;
  },
};
