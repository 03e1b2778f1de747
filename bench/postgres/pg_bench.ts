// The PostgreSQL benchmark: weft and DBOS Transact side by side on one
// private cluster (fsync on, synchronous_commit on), in one run.
//
//   deno task bench:pg                    writes bench/postgres/results.md and .json
//   deno task bench:pg --no-dbos          weft only (no npm install)
//   deno task bench:pg --before DIR       also weft from another checkout (the "before" of a change)
//   deno task bench:pg --no-scale         without the scale-out through the queue
//
// - W1 (1,000 sequential steps), W2 (1,000 fanned-out steps), W3 (200
//   concurrent 3-step workflows): weft's library run() on a PostgresStore
//   (steps in the process, every result durable in PostgreSQL before the
//   next step acts on it), and DBOS Transact 5.3 under Node, installed by
//   this script with npm into a temporary directory, each on a database of
//   its own in the same cluster.
// - The floor of a sequential durable step: 1,000 autocommitted single-row
//   INSERTs, one after the other, through postgres.js (one durable commit
//   each, fsync-bound), and pgbench running the same INSERT on one connection.
// - Every contender is a process of its own that runs one workload when told
//   (contender.ts; DBOS's script below), so that samples alternate —
//   floor, weft, weft before, DBOS, the order rotating each round — and the
//   load of this shared machine falls on all alike. Median of 5 after a
//   warm-up; then one more run of each, counted.
// - Per step, from PostgreSQL's own counters: transactions (commits and
//   rollbacks of the contender's database), WAL flushes (pg_stat_wal's
//   wal_sync: durable commits), and server CPU (utime + stime of the
//   postmaster and its backends).
// - Scale-out: 1, 2 and 4 `weft worker` processes on fan-outs of sleeping
//   tasks (speed-up) and of no-op tasks (tasks per second), the run driven by
//   this process through the queue.

import { parseArgs } from "node:util";
import { QueueExecutor } from "../../src/engine/executors/queue.ts";
import { runWith } from "../../src/engine/mod.ts";
import { PostgresStore } from "../../src/store/postgres/mod.ts";
import { type Cluster, postgresBin, startCluster } from "../../tests/_postgres.ts";
import { type Proc, startWeft, until } from "../../tests/_workers.ts";
import { fanNap, fanNoop } from "./jobs.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    "no-dbos": { type: "boolean" },
    "no-write": { type: "boolean" },
    "no-scale": { type: "boolean" },
    before: { type: "string" },
    rounds: { type: "string" },
  },
});
const HERE = new URL(".", import.meta.url).pathname;
const ROUNDS = Number(args.values.rounds ?? 5);

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

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function loadavg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

/** The median of 3 after a warm-up. */
async function medianOf(fn: () => Promise<number>): Promise<number> {
  await fn();
  return median([await fn(), await fn(), await fn()]);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long until every backend has published its statistics (PGSTAT_IDLE_INTERVAL is 10 s). */
const STATS_SETTLE_MS = 11_000;

// --- contenders: processes that run a workload when told -----------------------

interface Sample {
  ms: number;
  commits?: number;
}

/** A process that reads a command a line and answers with one JSON line. */
class Contender {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;
  readonly #stderr: string[] = [];

  constructor(
    readonly name: string,
    readonly db: string,
    cmd: string,
    argv: string[],
    cwd: string,
  ) {
    this.#child = new Deno.Command(cmd, {
      args: argv,
      cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const child = this.#child;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines(child.stdout)[Symbol.asyncIterator]();
    (async () => {
      for await (const line of lines(child.stderr)) {
        this.#stderr.push(line);
        if (this.#stderr.length > 50) this.#stderr.shift();
      }
    })();
  }

  /** Waits for the process to say it is ready. */
  async ready(): Promise<void> {
    await this.#answer();
  }

  /** Runs a workload once. */
  async run(command: string): Promise<Sample> {
    await this.#writer.write(new TextEncoder().encode(`${command}\n`));
    const answer = await this.#answer() as Sample & { error?: string };
    if (answer.error !== undefined) throw new Error(`${this.name} ${command}: ${answer.error}`);
    return answer;
  }

  async #answer(): Promise<unknown> {
    for (;;) {
      const next = await this.#lines.next();
      if (next.done) {
        throw new Error(`${this.name} ended: ${this.#stderr.join("\n").slice(-3000)}`);
      }
      if (next.value.startsWith("{")) return JSON.parse(next.value);
    }
  }

  async stop(): Promise<void> {
    try {
      await this.#writer.write(new TextEncoder().encode("quit\n"));
      await this.#writer.close();
    } catch {
      // gone
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 10_000);
    await this.#child.status;
    clearTimeout(timer);
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let i;
    while ((i = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
    }
  }
  if (buffer !== "") yield buffer;
}

function weftContender(name: string, url: string, dir?: string): Contender {
  const argv = ["run", "-A", `${HERE}contender.ts`, "--url", url];
  if (dir !== undefined) argv.push("--weft", dir);
  return new Contender(name, new URL(url).pathname.slice(1), Deno.execPath(), argv, HERE);
}

// --- DBOS on the same cluster -------------------------------------------------

/** The Node script DBOS runs (written next to its npm install, never committed as a package). */
const DBOS_SCRIPT =
  `// DBOS Transact on the peers' three workloads, run by bench/postgres/pg_bench.ts
// under Node with @dbos-inc/dbos-sdk installed in a temporary directory (never
// committed). Reads W1, W2, W3 or quit a line on stdin, runs it once and prints
// one JSON line { ms }.
//
//   node dbos_workloads.mjs postgres://USER@HOST:PORT/DATABASE

import { DBOS } from "@dbos-inc/dbos-sdk";
import { createInterface } from "node:readline";

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

const workloads = {
  W1: () => sequential(1000),
  W2: () => fanned(1000),
  W3: () => Promise.all(Array.from({ length: 200 }, () => three())),
};

console.log(JSON.stringify({ ready: true }));
for await (const line of createInterface({ input: process.stdin })) {
  const command = line.trim();
  if (command === "quit") break;
  const fn = workloads[command];
  if (fn === undefined) {
    console.log(JSON.stringify({ error: "unknown command " + command }));
    continue;
  }
  const t0 = performance.now();
  try {
    await fn();
    console.log(JSON.stringify({ ms: performance.now() - t0 }));
  } catch (e) {
    console.log(JSON.stringify({ error: String(e?.stack ?? e) }));
  }
}
await DBOS.shutdown();
process.exit(0);
`;

/** Installs DBOS into a temporary directory; returns it and the version installed. */
async function installDbos(): Promise<{ dir: string; version: string }> {
  const dir = await Deno.makeTempDir({ prefix: "weft_dbos_" });
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
  await npm(["install", "--no-audit", "--no-fund", "--loglevel=error", "@dbos-inc/dbos-sdk@5.3.0"]);
  await Deno.writeTextFile(`${dir}/dbos_workloads.mjs`, DBOS_SCRIPT);
  const version = JSON.parse(
    await Deno.readTextFile(`${dir}/node_modules/@dbos-inc/dbos-sdk/package.json`),
  ).version as string;
  return { dir, version };
}

// --- the floor by pgbench -----------------------------------------------------------

/** pgbench on one connection, autocommitted single-row INSERTs for 5 s: ms per commit. */
async function pgbenchFloor(cluster: Cluster): Promise<{ ms: number; tps: number } | undefined> {
  const bin = postgresBin();
  if (bin === undefined) return undefined;
  const url = await cluster.createDatabase("pgbench");
  const db = new URL(url).pathname.slice(1);
  await cluster.psql(
    `CREATE TABLE floor (id bigserial PRIMARY KEY, run text NOT NULL, step integer NOT NULL, body text)`,
    db,
  );
  const script = await Deno.makeTempFile({ suffix: ".sql" });
  try {
    await Deno.writeTextFile(
      script,
      `\\set step random(0, 999)\nINSERT INTO floor (run, step, body) VALUES ('pgbench', :step, 'x');\n`,
    );
    const out = await new Deno.Command(`${bin}/pgbench`, {
      args: [
        "-n",
        "-c",
        "1",
        "-T",
        "5",
        "-M",
        "prepared",
        "-f",
        script,
        "-h",
        "127.0.0.1",
        "-p",
        String(cluster.port),
        "-U",
        "weft",
        db,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const latency = /latency average = ([\d.]+) ms/.exec(text);
    const tps = /tps = ([\d.]+)/.exec(text);
    if (!out.success || latency === null || tps === null) return undefined;
    return { ms: Number(latency[1]), tps: Number(tps[1]) };
  } finally {
    await Deno.remove(script).catch(() => {});
  }
}

// --- the peers' workloads, samples alternating -------------------------------------

/** The workloads: the command, how many steps, and the contenders that run it. */
const WORKLOADS = [
  { name: "W1", steps: 1000, floor: true },
  { name: "W2", steps: 1000, floor: false },
  { name: "W3", steps: 600, floor: false },
] as const;

interface Measured {
  /** Median ms of a run of the workload. */
  ms: number;
  samples: number[];
  xact: number;
  walSync: number;
  cpuMs: number;
  /** weft's group commits per step. */
  commits?: number;
}

async function peers(cluster: Cluster, dbosDir: string | undefined) {
  const weftUrl = await cluster.createDatabase("weft_w");
  const contenders: { key: string; c: Contender }[] = [];
  contenders.push({ key: "weft", c: weftContender("weft", weftUrl) });
  if (args.values.before !== undefined) {
    const beforeUrl = await cluster.createDatabase("before_w");
    contenders.push({
      key: "before",
      c: weftContender("weft before", beforeUrl, args.values.before),
    });
  }
  if (dbosDir !== undefined) {
    const dbosUrl = await cluster.createDatabase("dbos_w");
    contenders.push({
      key: "dbos",
      c: new Contender(
        "DBOS",
        new URL(dbosUrl).pathname.slice(1),
        "node",
        ["dbos_workloads.mjs", dbosUrl],
        dbosDir,
      ),
    });
  }
  const weft = contenders[0]!.c;
  const results: Record<string, Record<string, Measured>> = {};
  try {
    await Promise.all(contenders.map(({ c }) => c.ready()));
    for (const w of WORKLOADS) {
      // The floor runs in weft's contender process, on its database.
      const runners = [
        ...(w.floor ? [{ key: "floor", c: weft, command: "floor" }] : []),
        ...contenders.map(({ key, c }) => ({ key, c, command: w.name })),
      ];
      console.error(`${w.name}: warm-up…`);
      for (const r of runners) await r.c.run(r.command);
      const samples = new Map<string, number[]>(runners.map((r) => [r.key, []]));
      for (let round = 0; round < ROUNDS; round++) {
        // The order rotates, so that no contender always follows the same one.
        for (let k = 0; k < runners.length; k++) {
          const r = runners[(k + round) % runners.length]!;
          samples.get(r.key)!.push((await r.c.run(r.command)).ms);
        }
        console.error(
          `${w.name} round ${round + 1}: ${
            runners.map((r) => `${r.key} ${samples.get(r.key)!.at(-1)!.toFixed(0)} ms`).join(", ")
          } (load ${loadavg()})`,
        );
      }
      results[w.name] = {};
      for (const r of runners) {
        // One more, counted. A backend publishes its counters at most once a
        // second while busy, and 10 s after it goes idle (PostgreSQL 15's
        // PGSTAT_IDLE_INTERVAL): wait that out on both sides.
        await sleep(STATS_SETTLE_MS);
        const before = await counters(cluster, r.c.db);
        const got = await r.c.run(r.command);
        await sleep(STATS_SETTLE_MS);
        const after = await counters(cluster, r.c.db);
        const xs = samples.get(r.key)!;
        results[w.name]![r.key] = {
          ms: median(xs),
          samples: xs,
          ...perTask(before, after, w.steps),
          ...(got.commits === undefined || r.key === "floor"
            ? {}
            : { commits: got.commits / w.steps }),
        };
      }
    }
  } finally {
    await Promise.all(contenders.map(({ c }) => c.stop()));
  }
  return results;
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
      const napMs = await medianOf(() => timed(() => drive(fanNap, { n: 400, ms: 100 })));
      if (n === 1) napOne = napMs;
      const noopMs = await medianOf(() => timed(() => drive(fanNoop, { n: 2000 })));
      await sleep(STATS_SETTLE_MS);
      const before = await counters(cluster, db);
      await drive(fanNoop, { n: 2000 });
      await sleep(STATS_SETTLE_MS);
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
let dbos: { dir: string; version: string } | undefined;
try {
  const loadBefore = loadavg();
  if (args.values["no-dbos"] !== true) {
    console.error("installing DBOS Transact (npm, into a temporary directory)…");
    dbos = await installDbos();
  }
  console.error("the floor by pgbench…");
  const pgbench = await pgbenchFloor(cluster);
  console.error("W1, W2, W3: floor, weft, DBOS, samples alternating…");
  const peer = await peers(cluster, dbos?.dir);
  let scale: Awaited<ReturnType<typeof scaleOut>> = [];
  if (args.values["no-scale"] !== true) {
    console.error("scale-out with 1, 2, 4 workers…");
    scale = await scaleOut(cluster);
  }
  const loadAfter = loadavg();
  const f = (x: number, d = 3) => x.toFixed(d);
  const hasBefore = args.values.before !== undefined;
  // W1 and W2 in ms per step, W3 in workflows per second.
  const figure = (w: string, m: Measured | undefined) =>
    m === undefined ? "" : w === "W3" ? f(200 / (m.ms / 1000), 0) : f(m.ms / 1000);
  const better = (a: Measured | undefined, b: Measured | undefined) =>
    a === undefined || b === undefined ? "" : `${f(b.ms / a.ms, 1)}×`;
  const titles: Record<string, string> = {
    W1: "W1: 1,000 sequential steps, ms/step",
    W2: "W2: 1,000 fanned-out steps, ms/step",
    W3: "W3: 200 concurrent 3-step workflows, workflows/s",
  };
  const lines = [
    `PostgreSQL ${
      (await cluster.psql("SHOW server_version")).trim()
    } (private cluster, fsync on, synchronous_commit on), Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${
      new Date().toISOString().slice(0, 10)
    }; load average ${loadBefore} at the start, ${loadAfter} at the end (a machine shared with other work); median of ${ROUNDS} samples, contenders alternating`,
    "",
    `| workload | floor | ${hasBefore ? "weft before | " : ""}weft | DBOS ${
      dbos?.version ?? "(not run)"
    } | weft vs DBOS |${hasBefore ? " before vs DBOS |" : ""}`,
    `| --- | --: | ${hasBefore ? "--: | " : ""}--: | --: | --: |${hasBefore ? " --: |" : ""}`,
    ...WORKLOADS.map((w) => {
      const r = peer[w.name]!;
      return `| ${titles[w.name]} | ${figure(w.name, r.floor)} | ${
        hasBefore ? `${figure(w.name, r.before)} | ` : ""
      }${figure(w.name, r.weft)} | ${figure(w.name, r.dbos)} | ${better(r.weft, r.dbos)} |${
        hasBefore ? ` ${better(r.before, r.dbos)} |` : ""
      }`;
    }),
    "",
    `The floor: one autocommitted single-row INSERT per step through postgres.js (a durable commit each, one after the other)${
      pgbench === undefined
        ? ""
        : `; pgbench on one connection, the same INSERT prepared, for 5 s: ${
          f(pgbench.ms)
        } ms per commit (${f(pgbench.tps, 0)} commits/s)`
    }.`,
    "",
    "Per step, from PostgreSQL's counters in the counted run of each (transactions: commits of the contender's database; WAL flushes: durable commits, pg_stat_wal; server CPU: the postmaster and its backends; group commits: weft's own count):",
    "",
    "| workload | contender | transactions/step | WAL flushes/step | server CPU ms/step | group commits/step |",
    "| --- | --- | --: | --: | --: | --: |",
    ...WORKLOADS.flatMap((w) =>
      (["floor", "before", "weft", "dbos"] as const).flatMap((key) => {
        const m = peer[w.name]![key];
        if (m === undefined) return [];
        const name = key === "before" ? "weft before" : key === "dbos" ? "DBOS" : key;
        return [
          `| ${w.name} | ${name} | ${f(m.xact, 2)} | ${f(m.walSync, 2)} | ${f(m.cpuMs, 3)} | ${
            m.commits === undefined ? "" : f(m.commits, 3)
          } |`,
        ];
      })
    ),
    ...(scale.length === 0 ? [] : [
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
    ]),
  ];
  const md = lines.join("\n") + "\n";
  console.log(md);
  if (args.values["no-write"] !== true) {
    await Deno.writeTextFile(`${HERE}results.md`, md);
    await Deno.writeTextFile(
      `${HERE}results.json`,
      JSON.stringify(
        { load: [loadBefore, loadAfter], pgbench, peers: peer, dbos: dbos?.version, scale },
        null,
        2,
      ) + "\n",
    );
  }
} finally {
  await cluster.stop("immediate").catch(() => {});
  await Deno.remove(cluster.dir, { recursive: true }).catch(() => {});
  if (dbos !== undefined) await Deno.remove(dbos.dir, { recursive: true }).catch(() => {});
}
Deno.exit(0);
