// Helpers for tests that run `weft worker` and `weft run` processes against a
// PostgreSQL store: each process in a process group of its own (so that a
// SIGKILL takes its run child too), its output collected.

import assert from "node:assert/strict";
import type { RunDetails } from "../src/store/mod.ts";
import { PostgresStore } from "../src/store/postgres/mod.ts";
import { DENO, ROOT, tempDir } from "./_helpers.ts";
import { type Cluster, sharedCluster } from "./_postgres.ts";

/** A weft process the test started. */
export interface Proc {
  /** Its pid, also its process group id. */
  readonly pid: number;
  /** Resolves with its exit status. */
  readonly status: Promise<Deno.CommandStatus>;
  /** What it printed so far. */
  stdout(): string;
  stderr(): string;
  /** Sends a signal to its whole process group. */
  signal(sig: Deno.Signal): void;
}

/**
 * Starts `weft ARGS` in a process group of its own.
 *
 * @param args The weft arguments.
 * @param options Working directory, environment, a network namespace to run in.
 * @returns The process.
 */
export function startWeft(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; netns?: string } = {},
): Proc {
  const weft = [DENO, "run", "-A", `${ROOT}/cli.ts`, ...args];
  const argv = options.netns === undefined
    ? ["setsid", ...weft]
    : ["ip", "netns", "exec", options.netns, "setsid", ...weft];
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const decoder = () => new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    const d = decoder();
    for await (const chunk of stream) add(d.decode(chunk, { stream: true }));
  };
  const done = Promise.all([
    pump(child.stdout, (s) => out += s),
    pump(child.stderr, (s) => err += s),
  ]);
  const status = (async () => {
    const s = await child.status;
    await done;
    await child.stdin.close().catch(() => {});
    return s;
  })();
  // With `ip netns exec`, setsid is the grandchild: its group is found by the
  // command line instead (see pgidOf); without, setsid execs in the child itself.
  let pgid = child.pid;
  return {
    get pid() {
      if (options.netns !== undefined) pgid = groupOf(child.pid) ?? pgid;
      return pgid;
    },
    status,
    stdout: () => out,
    stderr: () => err,
    signal(sig) {
      if (options.netns !== undefined) pgid = groupOf(child.pid) ?? pgid;
      try {
        Deno.kill(-pgid, sig);
      } catch {
        // already gone
      }
    },
  };
}

/** The process group of the first descendant of `pid` that leads one (`ip netns exec` forks setsid). */
function groupOf(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pgrp = Number(fields[2]);
    if (pgrp === pid) return pid;
  } catch {
    return undefined;
  }
  try {
    const children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/)
      .filter(Boolean).map(Number);
    for (const c of children) {
      const g = groupOf(c);
      if (g !== undefined) return g;
    }
  } catch {
    // gone
  }
  return undefined;
}

/**
 * Waits until `check` holds, polling.
 *
 * @param what What is awaited, for the failure message.
 * @param check The condition.
 * @param timeoutMs How long at most.
 */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A temporary directory with the worker script (`jobs.ts`) and a fresh
 * database of the shared cluster (or of the one given).
 *
 * @param prefix The database's name prefix.
 * @param cluster Another cluster to make it in.
 * @returns The directory (disposable), the script and the database URL.
 */
export async function workerSetup(prefix: string, cluster?: Cluster): Promise<{
  tmp: { dir: string; [Symbol.asyncDispose](): Promise<void> };
  dir: string;
  script: string;
  url: string;
}> {
  const tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/jobs.ts`, workerScript(`${ROOT}/mod.ts`));
  const url = await (cluster ?? await sharedCluster()).createDatabase(prefix);
  return { tmp, dir: tmp.dir, script: `${tmp.dir}/jobs.ts`, url };
}

/**
 * Starts a run with `weft run --detach` and returns its id.
 *
 * @param script The script.
 * @param url The store.
 * @param entity The entity to run.
 * @param inputs Its inputs, as `--input` values.
 * @returns The run id it printed.
 */
export async function detach(
  script: string,
  url: string,
  entity: string,
  inputs: string[] = [],
): Promise<string> {
  const p = startWeft([
    "run",
    script,
    entity,
    ...inputs.flatMap((i) => ["--input", i]),
    "--store",
    url,
    "--detach",
  ]);
  const status = await p.status;
  assert.equal(status.code, 0, p.stderr());
  const runId = p.stdout().trim().split(/\s+/).at(-1)!;
  assert.match(runId, /^[\w.:-]+$/);
  return runId;
}

/**
 * Waits until a run is no longer running.
 *
 * @param url The store.
 * @param runId The run.
 * @param timeoutMs How long to wait at most.
 * @returns The run as recorded then.
 */
export async function finished(
  url: string,
  runId: string,
  timeoutMs = 90_000,
): Promise<RunDetails> {
  const store = await PostgresStore.open(url);
  try {
    let details: RunDetails | undefined;
    await until(`run ${runId} to finish`, async () => {
      details = await store.getRun(runId).catch(() => undefined);
      return details !== undefined && details.status !== "running";
    }, timeoutMs);
    return details!;
  } finally {
    await store.close();
  }
}

/**
 * Waits until `n` workers are registered.
 *
 * @param url The store.
 * @param n How many.
 */
export async function workersUp(url: string, n: number): Promise<void> {
  const store = await PostgresStore.open(url);
  try {
    await until(`${n} workers`, async () => (await store.workers.workers()).length >= n);
  } finally {
    await store.close();
  }
}

/** SIGKILLs processes and waits for them to end. */
export async function stopAll(procs: Proc[]): Promise<void> {
  for (const p of procs) p.signal("SIGKILL");
  await Promise.all(procs.map((p) => p.status));
}

/**
 * The test script: tasks that log where and when they ran, and flows over them.
 *
 * @param mod The URL of weft's mod.ts.
 * @returns Its source.
 */
export function workerScript(mod: string): string {
  return `import { all, flow, task, wait } from "${mod}";
import { appendFileSync } from "node:fs";

const log = (line: string) => appendFileSync("./tasks.log", line + "\\n");
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const work = task(
  { name: "work", permissions: { write: ["./tasks.log"] } },
  async (i: number, ms: number, ctx) => {
    log(\`start \${ctx.nodeId} \${Deno.ppid} \${Date.now()}\`);
    await pause(ms);
    log(\`end \${ctx.nodeId} \${Deno.ppid} \${Date.now()}\`);
    return i * 2;
  },
);

export const gpu = task(
  { name: "gpu", queue: "gpu", permissions: { write: ["./tasks.log"] } },
  async (i: number, ctx) => {
    log(\`start \${ctx.nodeId} \${Deno.ppid} \${Date.now()}\`);
    await pause(150);
    log(\`end \${ctx.nodeId} \${Deno.ppid} \${Date.now()}\`);
    return i;
  },
);

export const solo = task(
  { name: "solo", queue: "gpu", concurrency: 1, permissions: { write: ["./tasks.log"] } },
  async (i: number, ctx) => {
    log(\`start \${ctx.nodeId} \${Deno.ppid} \${Date.now()}\`);
    await pause(100);
    log(\`end \${ctx.nodeId} \${Deno.ppid} \${Date.now()}\`);
    return i;
  },
);

export const fanout = flow(async function* fanout(n: number, ms: number) {
  const calls = [];
  for (let i = 0; i < n; i++) calls.push(work(i, ms));
  const values = yield* all(calls);
  return values.reduce((a, b) => a + b, 0);
});

export const chain = flow(async function* chain(n: number, ms: number) {
  let total = 0;
  for (let i = 0; i < n; i++) {
    // Every fifth step fans out to three: the journal holds both shapes.
    if (i % 5 === 4) total += (yield* all([work(i, ms), work(i + 100, ms), work(i + 200, ms)])).reduce((a, b) => a + b, 0);
    else total += yield* wait(work(i, ms));
  }
  return total;
});

export const limited = flow(async function* limited(n: number) {
  const calls = [];
  for (let i = 0; i < n; i++) calls.push(gpu(i));
  for (let i = 0; i < n / 2; i++) calls.push(solo(i));
  return (yield* all(calls)).length;
});
`;
}

/** One line of the task log. */
export interface LogLine {
  what: "start" | "end";
  node: string;
  pid: number;
  time: number;
}

/**
 * Reads the task log.
 *
 * @param dir The script's directory.
 * @returns Its lines.
 */
export async function readLog(dir: string): Promise<LogLine[]> {
  const text = await Deno.readTextFile(`${dir}/tasks.log`).catch(() => "");
  return text.trim().split("\n").filter(Boolean).map((l) => {
    const [what, node, pid, time] = l.split(" ");
    return { what: what as "start" | "end", node: node!, pid: Number(pid), time: Number(time) };
  });
}

/**
 * The most intervals open at once.
 *
 * @param lines Start and end lines.
 * @param filter Which nodes count.
 * @returns The peak.
 */
export function peakOverlap(lines: LogLine[], filter: (node: string) => boolean): number {
  const events = lines.filter((l) => filter(l.node)).map((
    l,
  ) => [l.time, l.what === "start" ? 1 : -1]);
  // Ends before starts at the same millisecond: a slot freed and taken.
  events.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let open = 0;
  let peak = 0;
  for (const [, d] of events) peak = Math.max(peak, open += d!);
  return peak;
}
