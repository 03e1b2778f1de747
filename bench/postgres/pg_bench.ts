// The PostgreSQL benchmark: weft and DBOS Transact side by side on one
// private cluster (fsync on), in one run.
//
//   deno task bench:pg            writes bench/postgres/results.md and .json
//   deno task bench:pg --no-dbos  weft only (no npm install)
//
// - W1 (1,000 sequential steps), W2 (1,000 fanned-out steps), W3 (200
//   concurrent 3-step workflows): weft's library run() on a PostgresStore
//   (steps in the process, every result durable in PostgreSQL before the
//   next step acts on it), and DBOS Transact 5.3 under Node, installed by
//   this script with npm into a temporary directory, on another database of
//   the same cluster. Median of 3 after a warm-up.
// - Per task, from PostgreSQL's own counters: transactions (round trips that
//   reach the server), WAL flushes (durable commits), and server CPU (utime +
//   stime of the postmaster and its backends).
// - Scale-out: 1, 2 and 4 `weft worker` processes on fan-outs of sleeping
//   tasks (speed-up) and of no-op tasks (tasks per second), the run driven by
//   this process through the queue.

import { parseArgs } from "node:util";
import { all, flow, run, task, wait } from "../../mod.ts";
import { QueueExecutor } from "../../src/engine/executors/queue.ts";
import { runWith } from "../../src/engine/mod.ts";
import { PostgresStore } from "../../src/store/postgres/mod.ts";
import { type Cluster, startCluster } from "../../tests/_postgres.ts";
import { type Proc, startWeft, until } from "../../tests/_workers.ts";
import { fanNap, fanNoop } from "./jobs.ts";

const args = parseArgs({
  args: Deno.args,
  options: { "no-dbos": { type: "boolean" }, "no-write": { type: "boolean" } },
});
const HERE = new URL(".", import.meta.url).pathname;

// --- counters ---------------------------------------------------------------

interface Counters {
  xact: number;
  walSync: number;
  cpuMs: number;
}

function cpuOf(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime, stime, cutime, cstime (fields 14-17), in clock ticks of 10 ms
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
  } catch {
    return 0;
  }
}

function serverCpuMs(cluster: Cluster): number {
  const postmaster = Number(
    Deno.readTextFileSync(`${cluster.dir}/data/postmaster.pid`).split("\n")[0],
  );
  let total = cpuOf(postmaster);
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === postmaster) total += cpuOf(Number(entry.name));
    } catch {
      // gone
    }
  }
  return total;
}

async function counters(cluster: Cluster, db: string): Promise<Counters> {
  const [xact, wal] = (await cluster.psql(
    `SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '${db}'),
            (SELECT wal_sync FROM pg_stat_wal)`,
  )).trim().split("|").map(Number);
  return { xact: xact!, walSync: wal!, cpuMs: serverCpuMs(cluster) };
}

function perTask(a: Counters, b: Counters, tasks: number) {
  return {
    xact: (b.xact - a.xact) / tasks,
    walSync: (b.walSync - a.walSync) / tasks,
    cpuMs: (b.cpuMs - a.cpuMs) / tasks,
  };
}

async function median(fn: () => Promise<number>): Promise<number> {
  await fn();
  const xs = [await fn(), await fn(), await fn()];
  xs.sort((a, b) => a - b);
  return xs[1]!;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

// --- weft on the peers' workloads --------------------------------------------

const noop = task(function noop(i: number) {
  return i;
});
const sequential = flow(async function* sequential(n: number) {
  let total = 0;
  for (let i = 0; i < n; i++) total += yield* wait(noop(i));
  return total;
});
const fanned = flow(async function* fanned(n: number) {
  const calls = [];
  for (let i = 0; i < n; i++) calls.push(noop(i));
  return (yield* all(calls)).reduce((a, b) => a + b, 0);
});
const three = flow(async function* three() {
  let total = 0;
  for (let i = 0; i < 3; i++) total += yield* wait(noop(i));
  return total;
});

async function weftWorkloads(cluster: Cluster) {
  const url = await cluster.createDatabase("weft_w");
  const db = new URL(url).pathname.slice(1);
  const store = await PostgresStore.open(url);
  const check = (r: { status: string; errors: { message: string }[] }) => {
    if (r.status !== "succeeded") throw new Error(`a run ${r.status}: ${r.errors[0]?.message}`);
  };
  const measure = async (name: string, tasks: number, fn: () => Promise<unknown>) => {
    const ms = await median(() => timed(fn));
    // One more, counted (stores are closed to flush the server's counters).
    const before = await counters(cluster, db);
    const commits = store.writer.commits;
    await fn();
    await new Promise((r) => setTimeout(r, 1200));
    const after = await counters(cluster, db);
    return {
      name,
      ms,
      ...perTask(before, after, tasks),
      groupCommits: (store.writer.commits - commits) / tasks,
    };
  };
  try {
    const w1 = await measure(
      "W1",
      1000,
      async () => check(await run(sequential, { n: 1000 }, { store })),
    );
    const w2 = await measure(
      "W2",
      1000,
      async () => check(await run(fanned, { n: 1000 }, { store })),
    );
    const w3 = await measure("W3", 600, async () => {
      const results = await Promise.all(
        Array.from({ length: 200 }, () => run(three, {}, { store })),
      );
      for (const r of results) check(r);
    });
    return { w1: w1.ms / 1000, w2: w2.ms / 1000, w3: 200 / (w3.ms / 1000), detail: [w1, w2, w3] };
  } finally {
    await store.close();
  }
}

// --- DBOS on the same cluster -------------------------------------------------

/** The Node script DBOS runs (written next to its npm install, never committed as a package). */
const DBOS_SCRIPT =
  `// DBOS Transact on the peers' three workloads, run by bench/postgres/pg_bench.ts
// under Node with @dbos-inc/dbos-sdk installed in a temporary directory (never
// committed). Prints one JSON line: W1 and W2 in ms per step, W3 in workflows
// per second, each the median of 3 after a warm-up.
//
//   node dbos_workloads.mjs postgres://USER@HOST:PORT/DATABASE

import { DBOS } from "@dbos-inc/dbos-sdk";

const url = process.argv[2];
DBOS.setConfig({ name: "weft-bench", systemDatabaseUrl: url, logLevel: "error" });

const noop = DBOS.registerStep(async (i) => i, { name: "noop" });
const sequential = DBOS.registerWorkflow(async (n) => {
  let total = 0;
  for (let i = 0; i < n; i++) total += await noop(i);
  return total;
}, { name: "sequential" });
const fanned = DBOS.registerWorkflow(async (n) => {
  const calls = [];
  for (let i = 0; i < n; i++) calls.push(noop(i));
  return (await Promise.all(calls)).reduce((a, b) => a + b, 0);
}, { name: "fanned" });
const three = DBOS.registerWorkflow(async () => {
  let total = 0;
  for (let i = 0; i < 3; i++) total += await noop(i);
  return total;
}, { name: "three" });

await DBOS.launch();

async function median(fn) {
  await fn();
  const xs = [];
  for (let i = 0; i < 3; i++) xs.push(await fn());
  xs.sort((a, b) => a - b);
  return xs[1];
}

const timed = async (fn) => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

const w1 = await median(() => timed(() => sequential(1000))) / 1000;
const w2 = await median(() => timed(() => fanned(1000))) / 1000;
const w3ms = await median(() =>
  timed(() => Promise.all(Array.from({ length: 200 }, () => three())))
);
await DBOS.shutdown();
console.log(JSON.stringify({ w1, w2, w3: 200 / (w3ms / 1000) }));
process.exit(0);
`;

async function dbosWorkloads(cluster: Cluster) {
  const dir = await Deno.makeTempDir({ prefix: "weft_dbos_" });
  try {
    const npm = async (a: string[]) => {
      const out = await new Deno.Command("npm", {
        args: a,
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      if (!out.success) {
        throw new Error(`npm ${a.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
      }
    };
    await npm(["init", "-y"]);
    await npm([
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      "@dbos-inc/dbos-sdk@5.3.0",
    ]);
    await Deno.writeTextFile(`${dir}/dbos_workloads.mjs`, DBOS_SCRIPT);
    const url = await cluster.createDatabase("dbos_w");
    const out = await new Deno.Command("node", {
      args: ["dbos_workloads.mjs", url],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    if (!out.success || !text.startsWith("{")) {
      throw new Error(`DBOS failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
    }
    const version = JSON.parse(
      await Deno.readTextFile(`${dir}/node_modules/@dbos-inc/dbos-sdk/package.json`),
    ).version as string;
    return { ...JSON.parse(text) as { w1: number; w2: number; w3: number }, version };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

// --- scale-out through the queue ----------------------------------------------

async function scaleOut(cluster: Cluster) {
  const rows: {
    workers: number;
    napMs: number;
    speedup: number;
    noopPerS: number;
    xact: number;
    walSync: number;
    cpuMs: number;
  }[] = [];
  let napOne = 0;
  for (const n of [1, 2, 4]) {
    const url = await cluster.createDatabase(`scale${n}`);
    const db = new URL(url).pathname.slice(1);
    const procs: Proc[] = [];
    for (let i = 0; i < n; i++) {
      procs.push(startWeft([
        "worker",
        `${HERE}jobs.ts`,
        "--store",
        url,
        "--concurrency",
        "16",
        "--lease",
        "10s",
      ]));
    }
    const store = await PostgresStore.open(url);
    const executor = new QueueExecutor(store);
    try {
      await until(`${n} workers`, async () => (await store.workers.workers()).length === n, 60_000);
      const drive = async (entity: unknown, inputs: Record<string, unknown>) => {
        const r = await runWith(entity, inputs, { store, executor, concurrency: 100_000 });
        if (r.status !== "succeeded") throw new Error(`scale-out run ${r.status}`);
      };
      // 400 calls of 100 ms, 16 at once per worker: 2.5 s of work for one worker.
      const napMs = await median(() => timed(() => drive(fanNap, { n: 400, ms: 100 })));
      if (n === 1) napOne = napMs;
      const noopMs = await median(() => timed(() => drive(fanNoop, { n: 2000 })));
      await new Promise((r) => setTimeout(r, 1200));
      const before = await counters(cluster, db);
      await drive(fanNoop, { n: 2000 });
      await new Promise((r) => setTimeout(r, 1200));
      const after = await counters(cluster, db);
      rows.push({
        workers: n,
        napMs,
        speedup: napOne / napMs,
        noopPerS: 2000 / (noopMs / 1000),
        ...perTask(before, after, 2000),
      });
    } finally {
      await executor.close();
      await store.close();
      for (const p of procs) p.signal("SIGTERM");
      await Promise.all(procs.map((p) => p.status));
    }
  }
  return rows;
}

// --- the run --------------------------------------------------------------------

const cluster = await startCluster({ fsync: true });
try {
  console.error("weft on W1, W2, W3…");
  const weft = await weftWorkloads(cluster);
  let dbos: Awaited<ReturnType<typeof dbosWorkloads>> | undefined;
  if (args.values["no-dbos"] !== true) {
    console.error("DBOS Transact on W1, W2, W3 (npm install into a temporary directory)…");
    dbos = await dbosWorkloads(cluster);
  }
  console.error("scale-out with 1, 2, 4 workers…");
  const scale = await scaleOut(cluster);
  const f = (x: number, d = 3) => x.toFixed(d);
  const lines = [
    `PostgreSQL ${
      (await cluster.psql("SHOW server_version")).trim()
    } (fsync on, private cluster), Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${
      new Date().toISOString().slice(0, 10)
    }`,
    "",
    `| workload | weft | DBOS ${dbos?.version ?? "(not run)"} | weft vs DBOS |`,
    "| --- | --: | --: | --: |",
    `| W1: 1,000 sequential steps, ms/step | ${f(weft.w1)} | ${dbos ? f(dbos.w1) : ""} | ${
      dbos ? `${f(dbos.w1 / weft.w1, 1)}×` : ""
    } |`,
    `| W2: 1,000 fanned-out steps, ms/step | ${f(weft.w2)} | ${dbos ? f(dbos.w2) : ""} | ${
      dbos ? `${f(dbos.w2 / weft.w2, 1)}×` : ""
    } |`,
    `| W3: 200 concurrent 3-step workflows, workflows/s | ${f(weft.w3, 0)} | ${
      dbos ? f(dbos.w3, 0) : ""
    } | ${dbos ? `${f(weft.w3 / dbos.w3, 1)}×` : ""} |`,
    "",
    "Per step of weft, from PostgreSQL's counters (transactions: statements that reached the server; WAL flushes: durable commits; server CPU):",
    "",
    "| workload | transactions/step | WAL flushes/step | group commits/step | server CPU ms/step |",
    "| --- | --: | --: | --: | --: |",
    ...weft.detail.map((d) =>
      `| ${d.name} | ${f(d.xact, 2)} | ${f(d.walSync, 2)} | ${f(d.groupCommits, 2)} | ${
        f(d.cpuMs, 3)
      } |`
    ),
    "",
    "Through the queue: `weft worker` processes (16 calls at once each) on 400 calls of 100 ms (speed-up) and 2,000 no-op calls (calls/s, and per call: transactions, WAL flushes, server CPU), the run driven by the benchmark process:",
    "",
    "| workers | 400 × 100 ms, s | speed-up | no-op calls/s | transactions/call | WAL flushes/call | server CPU ms/call |",
    "| --: | --: | --: | --: | --: | --: | --: |",
    ...scale.map((r) =>
      `| ${r.workers} | ${f(r.napMs / 1000, 2)} | ${f(r.speedup, 2)}× | ${f(r.noopPerS, 0)} | ${
        f(r.xact, 2)
      } | ${f(r.walSync, 2)} | ${f(r.cpuMs, 3)} |`
    ),
  ];
  const md = lines.join("\n") + "\n";
  console.log(md);
  if (args.values["no-write"] !== true) {
    await Deno.writeTextFile(`${HERE}results.md`, md);
    await Deno.writeTextFile(
      `${HERE}results.json`,
      JSON.stringify({ weft, dbos, scale }, null, 2) + "\n",
    );
  }
} finally {
  await cluster.stop("immediate").catch(() => {});
  await Deno.remove(cluster.dir, { recursive: true }).catch(() => {});
}
Deno.exit(0);
