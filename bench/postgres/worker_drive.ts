// What `weft worker`'s trust boundary costs: one worker (16 calls at once)
// on a private cluster (fsync on), this checkout against another (the
// "before"), rounds alternating so that the load of this shared machine
// falls on both alike. Median of 3 after a warm-up.
//
//   deno run -A bench/postgres/worker_drive.ts --before DIR [--rounds 3]
//
// - queue:  2,000 no-op calls of a run driven by this process (the "through
//           the queue" row of bench:pg with one worker): calls/s.
// - fan:    a run of 1,000 no-op calls, enqueued as `weft run --detach` does
//           and driven by the worker: calls/s.
// - chain:  a run of 200 sequential no-op calls driven by the worker: ms/call.

import { parseArgs } from "node:util";
import { encodeValue, sha256 } from "../../src/core/values.ts";
import { QueueExecutor } from "../../src/engine/executors/queue.ts";
import { runWith } from "../../src/engine/mod.ts";
import { PostgresStore } from "../../src/store/postgres/mod.ts";
import { type Cluster, startCluster } from "../../tests/_postgres.ts";
import { until } from "../../tests/_workers.ts";

const args = parseArgs({
  args: Deno.args,
  options: { before: { type: "string" }, rounds: { type: "string" } },
});
const AFTER = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const BEFORE = args.values.before?.replace(/\/$/, "");
const ROUNDS = Number(args.values.rounds ?? 3);

function script(root: string): string {
  return `import { all, flow, task, wait } from "${root}/mod.ts";
export const noop = task(function noop(i: number) { return i; });
export const fan = flow(async function* fan(n: number) {
  const calls = [];
  for (let i = 0; i < n; i++) calls.push(noop(i));
  return (yield* all(calls)).length;
});
export const chain = flow(async function* chain(n: number) {
  let t = 0;
  for (let i = 0; i < n; i++) t += yield* wait(noop(i));
  return t;
});
`;
}

interface Side {
  name: string;
  root: string;
  dir: string;
}

async function side(name: string, root: string): Promise<Side> {
  const dir = await Deno.makeTempDir({ prefix: `weft-wdrive-${name}-` });
  await Deno.writeTextFile(`${dir}/jobs.ts`, script(root));
  return { name, root, dir };
}

function startWorker(s: Side, url: string): Deno.ChildProcess {
  return new Deno.Command("setsid", {
    args: [
      Deno.execPath(),
      "run",
      "-A",
      `${s.root}/cli.ts`,
      "worker",
      `${s.dir}/jobs.ts`,
      "--store",
      url,
      "--concurrency",
      "16",
      "--lease",
      "10s",
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function detached(
  store: PostgresStore,
  s: Side,
  entity: string,
  inputs: Record<string, unknown>,
): Promise<number> {
  const runId = `r-${crypto.randomUUID()}`;
  const t0 = performance.now();
  await store.workers.enqueue({
    runId,
    entity,
    kind: "flow",
    inputsHash: sha256(encodeValue(inputs, true)),
    inputsBody: encodeValue(inputs),
    inputsDigest: "",
    script: `${s.dir}/jobs.ts`,
    weftVersion: "0.1.0",
  });
  let status = "running";
  await until(`run ${runId}`, async () => {
    status = (await store.getRun(runId, { nodes: false }))?.status ?? "running";
    return status !== "running";
  }, 300_000);
  if (status !== "succeeded") throw new Error(`${entity} ${status}`);
  return performance.now() - t0;
}

async function round(cluster: Cluster, s: Side, r: number) {
  const url = await cluster.createDatabase(`wd_${s.name}_${r}`);
  const proc = startWorker(s, url);
  const store = await PostgresStore.open(url);
  const executor = new QueueExecutor(store);
  try {
    await until("the worker", async () => (await store.workers.workers()).length === 1, 60_000);
    const t0 = performance.now();
    // (Driven here by this checkout's engine for both sides: only the worker differs.)
    const q = await runWith(driven.fan, { n: 2000 }, { store, executor, concurrency: 100_000 });
    if (q.status !== "succeeded") throw new Error(`queue ${q.status}`);
    const queue = performance.now() - t0;
    const fan = await detached(store, s, "fan", { n: 1000 });
    const chain = await detached(store, s, "chain", { n: 200 });
    return { queue, fan, chain };
  } finally {
    await executor.close();
    await store.close();
    try {
      Deno.kill(-proc.pid, "SIGKILL");
    } catch {
      // gone
    }
    await proc.status;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const sides = [await side("after", AFTER)];
const driven = await import(`file://${sides[0]!.dir}/jobs.ts`);
if (BEFORE !== undefined) sides.unshift(await side("before", BEFORE));
const cluster = await startCluster({ fsync: true });
const results = new Map<string, { queue: number; fan: number; chain: number }[]>();
try {
  const load0 = Deno.loadavg();
  for (let r = 0; r <= ROUNDS; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) {
      const got = await round(cluster, s, r);
      console.error(`round ${r} ${s.name}: ${JSON.stringify(got)}`);
      if (r > 0) results.set(s.name, [...(results.get(s.name) ?? []), got]);
    }
  }
  const load1 = Deno.loadavg();
  console.log(
    `load average ${load0.map((x) => x.toFixed(1)).join(" ")} → ${
      load1.map((x) => x.toFixed(1)).join(" ")
    } (${navigator.hardwareConcurrency} cores)`,
  );
  console.log(
    "| side | queue: 2,000 calls/s | worker-driven fan 1,000 calls/s | worker-driven chain ms/call |",
  );
  console.log("| ---- | ---: | ---: | ---: |");
  for (const s of sides) {
    const rs = results.get(s.name)!;
    const q = median(rs.map((x) => x.queue));
    const f = median(rs.map((x) => x.fan));
    const c = median(rs.map((x) => x.chain));
    console.log(
      `| ${s.name} | ${(2000 / (q / 1000)).toFixed(0)} | ${(1000 / (f / 1000)).toFixed(0)} | ${
        (c / 200).toFixed(2)
      } |`,
    );
  }
} finally {
  await cluster.stop();
  for (const s of sides) await Deno.remove(s.dir, { recursive: true });
}
